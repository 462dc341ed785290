"""A RunView kept by the app (it lives as long as the server) while another process resumes
the run (``python -m dcviz resume``): the resume drops the snapshots after its checkpoint and
writes new ones under the same numbers; the view returns the new ones, and re-reads only the
files that changed."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from dcviz.methods.base import Snapshot
from dcviz.runs import RunStoreError
from dcviz.runs.engine import drop_snapshots_from
from dcviz.runs.store import RunDir
from dcviz.runs.view import RunView


def _rewrite(rd: RunDir, start: int, n_new: int, value: float) -> None:
    """What a resume from the checkpoint after snapshot ``start - 1`` does to the files: drop
    the snapshots from ``start`` on, then write new ones under the same numbers."""
    drop_snapshots_from(rd, start)
    n, dim = rd.load_latent(0).shape
    for k in range(n_new):
        rd.append_snapshot(Snapshot(
            epoch=100 + k, step=100 + k, stage="resumed",
            latent=np.full((n, dim), value + k, dtype=np.float32),
            assign=np.zeros(n, dtype=np.int64), losses={"loss": value + k},
            metrics={}, extras={}, progress=0.5))


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> RunDir:
    """A copy of the session's tiny run (its files keep their older times)."""
    dest = tmp_path / "runs" / tiny_run.run_id
    shutil.copytree(tiny_run.rd.path, dest)
    return RunDir(dest)


def test_a_view_sees_snapshots_rewritten_by_a_resume(run_copy, monkeypatch):
    rd = run_copy
    view = RunView(rd)
    n = view.count
    assert n >= 3
    old = [view.snapshot(i) for i in range(n)]
    assert view.snapshot(-1) is old[-1]  # kept: the same object, not read again

    calls = []
    real = rd.load_snapshot
    monkeypatch.setattr(rd, "load_snapshot", lambda i: calls.append(i) or real(i))
    for i in range(n):  # nothing changed: nothing read again
        assert view.snapshot(i) is old[i]
    assert calls == []

    # another process resumes the run from its checkpoint after snapshot 0: snapshots 1.. go,
    # and one fewer is written again
    start = 1
    _rewrite(rd, start, n - 2, value=7.0)
    assert view.count == n - 1
    for i in range(start, n - 1):
        snap = view.snapshot(i)
        assert snap.stage == "resumed" and snap.epoch == 100 + i - start
        assert np.all(snap.latent == 7.0 + i - start)
    assert view.snapshot(-1).stage == "resumed"
    assert view.snapshot(0) is old[0]  # before the checkpoint: unchanged, not read again
    assert sorted(set(calls)) == list(range(start, n - 1))
    with pytest.raises(RunStoreError):  # dropped and not written again: not shown as it was
        view.snapshot(n - 1)
    assert [r.get("stage") for r in view.rows()[start:]] == ["resumed"] * (n - 2)

    # and again, as a later resume would (a reader between two resumes is not left behind);
    # the files of the first resume are dated a minute back, as they would be by then
    for name in os.listdir(rd.path / "snapshots"):
        path = rd.path / "snapshots" / name
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns - 60 * 10**9, st.st_mtime_ns - 60 * 10**9))
    _rewrite(rd, start, n - 2, value=-3.0)
    assert np.all(view.snapshot(start).latent == -3.0)
