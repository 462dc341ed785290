"""The run store: one folder per run, written so that a run killed at any moment stays readable.

    runs/<run_id>/
        config.json      method, config, data spec, seed, shapes, package versions
        status.json      state (queued/running/paused/stopped/done/failed), error text, pid
        subsample.npy    the fixed point indices that every snapshot's latent covers
        snapshots/000123.npz   latent, assign, array extras, and a JSON "meta" string
        metrics.jsonl    one line per snapshot: epoch, step, stage, losses, metrics, scalar extras
        checkpoint.pt    method state, loaded with torch.load(weights_only=True)

Every file except metrics.jsonl is written to a temporary name and renamed into place; a torn
last line of metrics.jsonl is skipped on reading.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcviz.methods.base import Snapshot

ACTIVE_STATES = ("queued", "running", "paused")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class RunStoreError(ValueError):
    """A run id, folder or file in the store that cannot be used."""


def default_root() -> Path:
    return Path(os.environ.get("DCVIZ_RUNS_DIR", "runs"))


def new_run_id(method_id: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{re.sub(r'[^A-Za-z0-9-]', '', method_id)}-{secrets.token_hex(2)}"


def package_versions() -> dict[str, str]:
    import sklearn
    import scipy
    import dcviz
    return {"python": platform.python_version(), "dcviz": dcviz.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, default=_json_default).encode())


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    """One run's folder: writing (by the engine) and reading (by pages, CLI, tests)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run_id = self.path.name

    # ---------------------------------------------------------------- writing
    def write_config(self, config: dict) -> None:
        atomic_write_json(self.path / "config.json", config)

    def write_status(self, state: str, **fields) -> dict:
        status = {**self.read_status(raw=True), **fields, "state": state, "updated": time.time(),
                  "pid": os.getpid()}
        atomic_write_json(self.path / "status.json", status)
        return status

    def write_subsample(self, idx: np.ndarray) -> None:
        buf_path = self.path / "subsample.npy"
        tmp = buf_path.with_name(".subsample.tmp.npy")
        np.save(tmp, np.asarray(idx, dtype=np.int64), allow_pickle=False)
        os.replace(tmp, buf_path)

    def append_snapshot(self, snap: Snapshot, wall: float | None = None) -> int:
        """Write snapshot number ``count()`` and its metrics line; returns its index."""
        snaps = self.path / "snapshots"
        snaps.mkdir(exist_ok=True)
        index = self.count()
        arrays, scalars = {}, {}
        for k, v in snap.extras.items():
            if isinstance(v, (int, float, np.integer, np.floating, bool)):
                scalars[k] = float(v)
            elif isinstance(v, str):
                scalars[k] = v
            else:
                a = np.asarray(v)
                if a.dtype == object:
                    raise TypeError(f"snapshot extra {k!r} is an object array; use numbers only")
                arrays[f"x_{k}"] = a
        meta = dict(index=index, epoch=snap.epoch, step=snap.step, stage=snap.stage,
                    losses=snap.losses, metrics=snap.metrics, scalars=scalars,
                    progress=snap.progress, time=wall if wall is not None else time.time())
        final = snaps / f"{index:06d}.npz"
        tmp = snaps / f".{index:06d}.tmp.npz"
        np.savez(tmp, latent=np.asarray(snap.latent, dtype=np.float32),
                 assign=np.asarray(snap.assign, dtype=np.int64),
                 meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
        os.replace(tmp, final)
        with open(self.path / "metrics.jsonl", "a") as f:
            f.write(json.dumps(meta, default=_json_default) + "\n")
        return index

    def save_checkpoint(self, method) -> None:
        """Save the method's state with what is needed to rebuild it without the data."""
        blob = {"format": 1, "method": method.id, "config": method.config.to_dict(),
                "input_dim": method.input_dim, "image_shape": list(method.image_shape or []),
                "state": method.state_dict()}
        tmp = self.path / ".checkpoint.pt.tmp"
        torch.save(blob, tmp)
        os.replace(tmp, self.path / "checkpoint.pt")

    # ---------------------------------------------------------------- reading
    def read_config(self) -> dict:
        try:
            return json.loads((self.path / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise RunStoreError(f"run {self.run_id}: config.json is missing or broken ({e})") from None

    def read_status(self, raw: bool = False) -> dict:
        try:
            status = json.loads((self.path / "status.json").read_text())
        except (OSError, json.JSONDecodeError):
            status = {"state": "unknown"}
        if raw:
            return status
        # A run that says it is active but whose process is gone was killed: "interrupted".
        if status.get("state") in ACTIVE_STATES and not _pid_alive(status.get("pid")):
            status = {**status, "state": "interrupted"}
        return status

    def read_subsample(self) -> np.ndarray:
        return np.load(self.path / "subsample.npy", allow_pickle=False)

    def count(self) -> int:
        snaps = self.path / "snapshots"
        if not snaps.is_dir():
            return 0
        return sum(1 for p in snaps.iterdir() if p.suffix == ".npz" and not p.name.startswith("."))

    def load_snapshot(self, index: int) -> Snapshot:
        n = self.count()
        if n == 0:
            raise RunStoreError(f"run {self.run_id} has no snapshots yet")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise RunStoreError(f"run {self.run_id} has snapshots 0..{n - 1}; asked for {index}")
        with np.load(self.path / "snapshots" / f"{index:06d}.npz", allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            extras: dict[str, Any] = {k[2:]: z[k] for k in z.files if k.startswith("x_")}
            latent, assign = z["latent"], z["assign"]
        extras.update(meta.get("scalars", {}))
        return Snapshot(epoch=meta["epoch"], step=meta["step"], stage=meta["stage"], latent=latent,
                        assign=assign, losses=meta["losses"], metrics=meta["metrics"],
                        extras=extras, progress=meta.get("progress", 0.0))

    def metrics_rows(self) -> list[dict]:
        """All lines of metrics.jsonl (a torn last line, from a kill, is skipped)."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def has_checkpoint(self) -> bool:
        return (self.path / "checkpoint.pt").exists()

    def load_checkpoint(self, device: str = "cpu"):
        """Rebuild the trained method from checkpoint.pt (weights_only: no pickled code runs)."""
        from dcviz.methods.base import get_method
        path = self.path / "checkpoint.pt"
        if not path.exists():
            raise RunStoreError(f"run {self.run_id} has no checkpoint yet")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
            raise RunStoreError(f"run {self.run_id}: checkpoint.pt cannot be loaded safely ({e})") from None
        return method_from_checkpoint(blob, device=device)

    def summary(self) -> dict:
        """One row for run lists: id, method, data, state, snapshots, final metrics."""
        try:
            cfg = self.read_config()
        except RunStoreError:
            cfg = {}
        status = self.read_status()
        return {"run_id": self.run_id, "name": cfg.get("name") or "", "method": cfg.get("method", "?"),
                "data": cfg.get("data_name", "?"), "state": status.get("state", "unknown"),
                "snapshots": self.count(), "created": cfg.get("created", 0.0),
                "seconds": status.get("seconds"), "metrics": status.get("metrics", {}),
                "error": status.get("error"), "tags": cfg.get("tags", [])}


def method_from_checkpoint(blob: dict, device: str = "cpu"):
    from dcviz.methods.base import get_method
    if not isinstance(blob, dict) or "method" not in blob or "state" not in blob:
        raise RunStoreError("checkpoint is not a dcviz checkpoint (no 'method'/'state')")
    cls = get_method(blob["method"])
    cfg = cls.Config.from_dict({**blob["config"], "device": device})
    m = cls(cfg)
    m.build(blob["input_dim"], tuple(blob["image_shape"]) or None)
    m.load_state_dict(blob["state"])
    return m


class RunStore:
    """All runs under one root folder (``DCVIZ_RUNS_DIR`` or ./runs)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id) or ".." in run_id:
            raise RunStoreError(f"not a valid run id: {run_id!r}")
        return self.root / run_id

    def create(self, run_id: str) -> RunDir:
        path = self.path_of(run_id)
        path.mkdir(parents=True, exist_ok=False)
        (path / "snapshots").mkdir()
        return RunDir(path)

    def open(self, run_id: str) -> RunDir:
        path = self.path_of(run_id)
        if not (path / "config.json").exists():
            raise RunStoreError(f"no run {run_id!r} in {self.root}")
        return RunDir(path)

    def ids(self) -> list[str]:
        """Run ids, newest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir()
                 if p.is_dir() and RUN_ID_RE.match(p.name) and (p / "config.json").exists()]
        return sorted(found, key=lambda i: (self.root / i / "config.json").stat().st_mtime, reverse=True)

    def list(self) -> list[dict]:
        return [RunDir(self.root / i).summary() for i in self.ids()]

    def delete(self, run_id: str) -> None:
        path = self.path_of(run_id)
        if path.is_dir():
            shutil.rmtree(path)

    def update_config(self, run_id: str, **fields) -> None:
        rd = self.open(run_id)
        rd.write_config({**rd.read_config(), **fields})
