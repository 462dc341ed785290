"""RunView: read-only access to one run for pages and lenses, with small caches."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import cached_property

import numpy as np

from dcviz.methods.base import Snapshot
from dcviz.runs.store import RunDir, RunStoreError

#: snapshots a view keeps in memory (the most recently used)
KEPT_SNAPSHOTS = 64


class RunView:
    """A run as the views see it: config, history of metrics, snapshots, data and checkpoint.

    Snapshots are read from disk on demand and kept, each with the identity of the file it was
    read from (mtime_ns, size, inode: one stat per ask). A view lives as long as the server, and
    a run resumed meanwhile (``dcviz resume`` in another process, or this app) deletes the
    snapshots after its checkpoint and writes new ones under the same numbers: a kept snapshot
    whose file changed, or is gone, is read again, never shown as it was.
    """

    def __init__(self, rd: RunDir):
        self.rd = rd
        self.run_id = rd.run_id
        # A damaged run folder is refused here, with the reason, rather than by a view halfway
        # through drawing a page.
        problem = rd.check()
        if problem:
            raise RunStoreError(problem)
        self.config = rd.read_config()
        self.method_id: str = self.config["method"]
        self.data_problem: str | None = None  # why the run's data cannot be shown, if so
        self._kept: OrderedDict[int, tuple[tuple, Snapshot]] = OrderedDict()
        self._kept_lock = threading.Lock()  # views are shared by the app's sessions

    @property
    def count(self) -> int:
        return self.rd.count()

    @property
    def status(self) -> dict:
        """status.json as this process sees it: a run that this process trained, whose thread
        is gone, is not shown as running (see :func:`dcviz.runs.manager.seen_from_here`)."""
        from dcviz.runs.manager import seen_from_here
        return seen_from_here(self.run_id, self.rd.read_status())

    def rows(self) -> list[dict]:
        """metrics.jsonl: one dict per snapshot (epoch, step, stage, losses, metrics, scalars)."""
        return self.rd.metrics_rows()

    def snapshot(self, index: int) -> Snapshot:
        n = self.count
        if index < 0:
            index += n
        stamp = self._stamp(index)  # before the read: a file replaced during it is read again
        with self._kept_lock:
            kept = self._kept.get(index)
            if kept is not None and stamp is not None and kept[0] == stamp:
                self._kept.move_to_end(index)
                return kept[1]
        snap = self.rd.load_snapshot(index)  # RunStoreError for a file that is gone or bad
        with self._kept_lock:
            if stamp is not None:
                self._kept[index] = (stamp, snap)
                self._kept.move_to_end(index)
                while len(self._kept) > KEPT_SNAPSHOTS:
                    self._kept.popitem(last=False)
            else:
                self._kept.pop(index, None)
        return snap

    def _stamp(self, index: int) -> tuple | None:
        """Which file snapshot ``index`` is now: (mtime_ns, size, inode), or None if none."""
        try:
            st = os.stat(os.path.join(self.rd.path, "snapshots", f"{int(index):06d}.npz"))
        except (OSError, ValueError, OverflowError):
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def latent(self, index: int) -> np.ndarray:
        """Snapshot ``index``'s latent alone (not its extras): for walks over every snapshot."""
        return self.rd.load_latent(index)

    def snapshots(self, indices) -> list[Snapshot]:
        return [self.snapshot(i) for i in indices]

    @cached_property
    def subsample(self) -> np.ndarray:
        return self.rd.read_subsample()

    @cached_property
    def dataset(self):
        """The run's data set, loaded again from its spec (None if it cannot be loaded here)."""
        from dcviz import data as D
        try:
            ds = D.load(self.config["data"])
        except Exception as e:  # noqa: BLE001 - an imported run may name a file that is not here
            self.data_problem = f"the run's data cannot be loaded here ({str(e)[:300]})"
            return None
        # a file at the run's path that was replaced since (another export with the same
        # name): not the run's data, even where it has enough points for the subsample
        want = [(what, self.config.get(k), got) for what, k, got in
                (("points", "n_samples", ds.n), ("features", "input_dim", ds.dim))]
        differ = [(what, int(w), got) for what, w, got in want
                  if isinstance(w, (int, float)) and not isinstance(w, bool) and int(w) != got]
        if differ:
            self.data_problem = (
                "the run was trained on " + " x ".join(f"{w} {what}" for what, w, _ in differ)
                + ", but its data set loads here with "
                + " x ".join(f"{got} {what}" for what, _, got in differ)
                + ": it is not the run's data")
            return None
        sub = self.subsample
        if sub.size and int(sub.max()) >= ds.n:
            # the points the run followed are not in this data set: it is not the run's data
            self.data_problem = (f"the run follows point {int(sub.max())}, but its data set "
                                 f"loads here with {ds.n} points")
            return None
        return ds

    @cached_property
    def labels_sub(self) -> np.ndarray | None:
        """True labels of the subsample, or None."""
        ds = self.dataset
        if ds is None or ds.y is None:
            return None
        return np.asarray(ds.y)[self.subsample]

    @property
    def method(self):
        """The trained method from checkpoint.pt (raises RunStoreError if there is none).

        Loaded again when the file changes: a view lives as long as the server, and a run that
        was live when it was opened saves newer checkpoints (ACe/DeC's decoded views kept saying
        "the final checkpoint (epoch 51)" on a run that had ended at epoch 72)."""
        try:
            st = (self.rd.path / "checkpoint.pt").stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        cached = getattr(self, "_method", None)
        if stamp is not None and cached is not None and cached[0] == stamp:
            return cached[1]
        method = self.rd.load_checkpoint()
        self._method = (stamp, method)
        return method


class RunSoFar:
    """A run as it stood at snapshot ``index``: its first ``index + 1`` snapshots and rows, and
    the rest of it as the view it wraps. What a replay draws a lens from, so that it shows what
    was known at that snapshot, as the Train page showed it live, and not the run's future
    (DEKM's whole eigenvalue spectrum during pretraining)."""

    def __init__(self, view: RunView, index: int):
        self._view = view
        self._n = index + 1

    def __getattr__(self, name: str):
        return getattr(self._view, name)

    @property
    def count(self) -> int:
        return min(self._n, self._view.count)

    def rows(self) -> list[dict]:
        return self._view.rows()[:self.count]

    def snapshot(self, index: int) -> Snapshot:
        n = self.count
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"snapshot {index} is after this run's snapshot {n - 1}")
        return self._view.snapshot(index)

    def snapshots(self, indices) -> list[Snapshot]:
        return [self.snapshot(i) for i in indices]
