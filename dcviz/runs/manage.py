"""Run management: rename, tag, delete and re-run runs of a run store.

Small rules kept in one place so that every page (and the tests) apply the same ones:

- a name is one line of at most :data:`MAX_NAME` characters; tags are short words, at most
  :data:`MAX_TAGS`, without duplicates;
- editing a run's name or tags does not move it in run lists (they are ordered by config.json's
  modification time, newest first, so the old time is put back);
- a run that is queued, running or paused in this process cannot be deleted: stop it first;
- a re-run uses the run's method, data spec, preset and full config, so the same seed too.
"""
from __future__ import annotations

import os
import re
import time

from dcviz.runs.store import ACTIVE_STATES, RunStore, RunStoreError, _pid_alive
from dcviz.safeio import write_failure

MAX_NAME = 100
MAX_TAGS = 20
MAX_TAG = 40


class ManageError(ValueError):
    """A run management action that cannot be done; the message says why."""


def clean_name(name: str) -> str:
    name = re.sub(r"\s+", " ", str(name or "")).strip()
    if len(name) > MAX_NAME:
        raise ManageError(f"a run name has at most {MAX_NAME} characters; this one has {len(name)}")
    return name


def parse_tags(text) -> list[str]:
    """Tags from "a, b c" style text (commas or spaces) or a list; deduplicated, in order."""
    items = text if isinstance(text, (list, tuple)) else re.split(r"[,\s]+", str(text or ""))
    out: list[str] = []
    for t in items:
        t = str(t).strip().lstrip("#")
        if not t:
            continue
        if len(t) > MAX_TAG:
            raise ManageError(f"a tag has at most {MAX_TAG} characters: {t[:MAX_TAG]}…")
        if not re.fullmatch(r"[\w.+:/-]+", t):
            raise ManageError(f"tag {t!r}: use letters, digits and - _ . + : / only")
        if t not in out:
            out.append(t)
    if len(out) > MAX_TAGS:
        raise ManageError(f"at most {MAX_TAGS} tags per run; {len(out)} were given")
    return out


def _update(store: RunStore, run_id: str, **fields) -> None:
    path = store.open(run_id).path / "config.json"
    try:
        mtime = path.stat().st_mtime
        store.update_config(run_id, **fields)
        os.utime(path, (time.time(), mtime))  # keep the run's place in "newest first" lists
    except OSError as e:  # a full disk, a read-only folder: the page says why, nothing changes
        raise ManageError(f"{path} could not be written: {write_failure(e, store.root)}") from None


def rename(store: RunStore, run_id: str, name: str) -> str:
    name = clean_name(name)
    _update(store, run_id, name=name)
    return name


def set_tags(store: RunStore, run_id: str, tags) -> list[str]:
    tags = parse_tags(tags)
    _update(store, run_id, tags=tags)
    return tags


def can_delete(manager, run_id: str) -> str | None:
    """None when the run may be deleted, else the reason it may not."""
    live = getattr(manager, "live", {}).get(run_id)
    if live is not None and live.state in ACTIVE_STATES:
        return f"the run is {live.state}; stop it first, then delete it"
    try:
        status = manager.store.open(run_id).read_status(raw=True)
    except RunStoreError:
        return None  # damaged: whatever is left may go
    pid = status.get("pid")
    if status.get("state") in ACTIVE_STATES and pid != os.getpid() and _pid_alive(pid):
        # the CLI, a sweep or another app trains it: deleting would pull the folder from
        # under a process that is still writing it
        return (f"the run is {status['state']} in another process (pid {pid}); stop it there, "
                "then delete it")
    return None


def delete(manager, run_id: str) -> None:
    """Delete a run folder (ManageError for a live run, RunStoreError for a bad id)."""
    why = can_delete(manager, run_id)
    if why:
        raise ManageError(f"Run {run_id} cannot be deleted: {why}.")
    manager.store.open(run_id)  # RunStoreError when there is no such run
    manager.store.delete(run_id)
    getattr(manager, "live", {}).pop(run_id, None)


def data_withheld(config: dict) -> str | None:
    """A sentence for people when an imported run's data cannot be loaded here, else None."""
    w = config.get("data_withheld")
    if isinstance(w, dict):
        return (f"This run was imported; {w.get('why', 'its data is not available here')}. Upload "
                "the data file on the Checkpoints page to push it through the model.")
    return None


def rerun(manager, run_id: str) -> str:
    """Launch the run again with the same method, data, preset, config and seed; returns the
    new run id. ManageError when its data is not available here (an imported file-based run)."""
    try:
        cfg = manager.store.open(run_id).read_config()
    except RunStoreError as e:
        raise ManageError(str(e)) from None
    why = data_withheld(cfg)
    if why:
        raise ManageError(f"Run {run_id} cannot be re-run here: {why}")
    return manager.relaunch(run_id)
