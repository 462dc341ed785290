"""A run cut off by a full disk while the app is open.

- The disk fills after the first snapshot, so that even status.json cannot be written: the
  manager, its listing, a second manager of the same process (a Streamlit session reloaded)
  and the Explore page all read the run as "interrupted" with a message that names the full
  disk and says what to do; none reads "running". The snapshot written before stays readable
  and the half-written one leaves no temporary file.
- Where status.json can still be written, it says "interrupted" with that message, so that any
  process (a terminal's ``dcviz list``, ``dcviz resume``) sees it too.
- Pause and Resume on a full disk neither fail nor undo the cut-off.
"""
from __future__ import annotations

import errno
import os

from dcviz.runs import RunManager, RunStore
from dcviz.runs.store import TEMP_RE, RunDir
from dcviz.runs.view import RunView

DATA = {"name": "digits", "n": 120}
TINY = {"pretrain_epochs": 3, "snapshot_every": 1, "batch_size": 64, "pretrained": "off",
        "n_clusters": 10, "seed": 0}


def _fill_disk_after_first_snapshot(monkeypatch, status_too: bool) -> None:
    """From the moment one snapshot is on disk, writing a snapshot raises ENOSPC after leaving
    half a temporary file (as np.savez does on a full disk); with ``status_too``, so do
    status.json and checkpoint writes."""
    real_append = RunDir.append_snapshot
    real_status = RunDir.write_status
    real_checkpoint = RunDir.save_checkpoint

    def full(self):
        return self.count() >= 1

    def append_snapshot(self, *a, **k):
        if full(self):
            (self.path / "snapshots" / f".{self.count():06d}.tmp.npz").write_bytes(b"PK\x03\x04")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_append(self, *a, **k)

    def write_status(self, *a, **k):
        if status_too and full(self):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_status(self, *a, **k)

    def save_checkpoint(self, *a, **k):
        if status_too and full(self):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_checkpoint(self, *a, **k)

    monkeypatch.setattr(RunDir, "append_snapshot", append_snapshot)
    monkeypatch.setattr(RunDir, "write_status", write_status)
    monkeypatch.setattr(RunDir, "save_checkpoint", save_checkpoint)


def _says_full_disk(text: str | None) -> None:
    assert text and "is full" in text and "Free some space" in text and "resume" in text, text


def test_a_full_disk_that_refuses_status_json_too_leaves_no_run_running(runs_dir, monkeypatch,
                                                                        app):
    from ui.shared import manager
    mgr = manager()
    _fill_disk_after_first_snapshot(monkeypatch, status_too=True)
    run_id = mgr.launch("ae-kmeans", DATA, TINY)
    assert mgr.wait(run_id, timeout=120) == "interrupted"
    rd = mgr.open(run_id)
    # what is on disk: status.json could not be told, and still says running under this process
    raw = rd.read_status(raw=True)
    assert raw["state"] == "running" and raw["pid"] == os.getpid()
    # ... yet nothing in this process reads it as running: the page first (what it showed
    # until the app restarted), with why and what to do, and Resume
    at = app("explore", run=run_id, tab="Run")
    assert not at.exception
    states = [m.value for m in at.markdown if m.value.startswith("**State:**")]
    assert states and all("interrupted" in s and "running" not in s for s in states), states
    warnings = [w.value for w in at.warning]
    assert any("is full" in w and "Free some space" in w for w in warnings), warnings
    assert any(b.label == "Resume" for b in at.button)
    view = RunView(rd)
    assert view.status["state"] == "interrupted"
    # the manager and its listing
    assert mgr.state(run_id) == "interrupted" and mgr.is_interrupted(run_id)
    row = next(r for r in mgr.runs() if r["run_id"] == run_id)
    assert row["state"] == "interrupted"
    _says_full_disk(row["error"])
    _says_full_disk(mgr.status(run_id).get("error"))
    # a manager made afresh in this process (a Streamlit session reloaded its modules)
    other = RunManager(runs_dir)
    assert next(r for r in other.runs() if r["run_id"] == run_id)["state"] == "interrupted"
    assert other.state(run_id) == "interrupted" and other.is_interrupted(run_id)
    # the snapshot written before the disk filled stays readable; the cut write left no temp
    assert rd.count() == 1 and rd.check(deep=True) is None
    assert view.snapshot(0).latent.shape[0] > 0
    assert not [n for n in os.listdir(rd.path / "snapshots") if TEMP_RE.match(n)]


def test_a_full_disk_that_still_takes_status_json_marks_it_interrupted(tmp_path, monkeypatch):
    """status.json is small: where it can still be written, it says "interrupted" with the
    reason, so that another process (the CLI, another app) sees the run as cut off too, and
    the app's Resume (here a second manager) accepts it; resumed, the message goes."""
    _fill_disk_after_first_snapshot(monkeypatch, status_too=False)
    mgr = RunManager(tmp_path / "runs", max_concurrent=1)
    run_id = mgr.launch("ae-kmeans", DATA, TINY)
    assert mgr.wait(run_id, timeout=120) == "interrupted"
    rd = mgr.open(run_id)
    on_disk = rd.read_status(raw=True)
    assert on_disk["state"] == "interrupted"
    _says_full_disk(on_disk["error"])
    listed = next(r for r in RunStore(tmp_path / "runs").list() if r["run_id"] == run_id)
    assert listed["state"] == "interrupted"
    _says_full_disk(listed["error"])
    other = RunManager(tmp_path / "runs")
    assert other.is_interrupted(run_id)
    monkeypatch.undo()  # room again
    other.resume_interrupted(run_id)
    assert other.wait(run_id, timeout=120) == "done"
    assert rd.read_status()["state"] == "done" and not rd.read_status().get("error")
    assert rd.check(deep=True) is None


def test_pause_and_resume_on_a_full_disk_neither_fail_nor_undo_the_cut_off(tmp_path,
                                                                          monkeypatch):
    """The page's Pause on a full disk does not raise (the run pauses; memory says so, as
    status.json cannot), and a Pause or Resume that comes after the run's thread wrote
    "interrupted" does not turn it back into an active run on disk."""
    from dcviz import data as D
    from dcviz.runs.engine import create_run, prepare
    from dcviz.runs.manager import LiveRun
    mgr = RunManager(tmp_path / "runs")
    ds = D.load(DATA)
    cls, cfg = prepare("ae-kmeans", ds, TINY, "quick")
    rd = create_run(mgr.store, cls, cfg, ds, "quick")
    rd.write_status("running")
    live = mgr.live[rd.run_id] = LiveRun(rd.run_id, cls.id, ds.name, state="running")
    real = RunDir.write_status

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(RunDir, "write_status", full)
    mgr.pause(rd.run_id)
    assert live.state == "paused" and not live.pause_event.is_set()
    monkeypatch.setattr(RunDir, "write_status", real)
    real(rd, "interrupted", error="the disk holding it is full")  # the thread, meanwhile
    mgr.resume(rd.run_id)
    assert live.state == "interrupted" and rd.read_status(raw=True)["state"] == "interrupted"
