"""Runs: the on-disk run store, the engine that trains into it, and the threaded RunManager."""
from dcviz.runs.engine import create_run, execute, prepare
from dcviz.runs.manager import LiveRun, RunManager
from dcviz.runs.store import RunDir, RunStore, RunStoreError, method_from_checkpoint

__all__ = ["LiveRun", "RunDir", "RunManager", "RunStore", "RunStoreError", "create_run", "execute",
           "method_from_checkpoint", "prepare"]
