"""2-D views of a latent space that stay put from one snapshot to the next.

A run's snapshots all cover the same points (the run's fixed subsample), so consecutive pictures
can be compared point by point. Plain PCA per snapshot would still jump around: the sign of a
principal axis is arbitrary, and two axes with close variances swap or rotate. So each snapshot's
PCA picture is turned onto the previous one with an orthogonal Procrustes fit (a rotation or a
reflection, never a stretch), along the sequence 0, 1, 2, ... The result is cached per run: a new
snapshot of a live run costs one PCA and one 2x2 SVD.

UMAP is computed for all of a run's snapshots at once, when asked (:meth:`UmapWorker.request_run`):
the first layout from scratch, each next one started from the one before (``init=``), so that the
picture moves only as much as the latent space does (measured on a DEKM run on digits, 13
snapshots of 1,797 points: mean Procrustes disparity between consecutive layouts 0.07, against 0.40
for layouts computed one by one; 2.5 CPU-s a layout). umap-learn's AlignedUMAP would align them
jointly, but it took over 12 CPU-minutes where the chain took 33 s, and a live run's new snapshot
would refit them all. The layouts are kept in the run folder as one plain array (``umap.npy``),
so that the work is done once per run and survives a restart; a live run's new snapshots extend it.

UMAP runs in a single background worker thread, behind a lock: numba's default threading layer
aborts the whole process when two Python threads run UMAP at once. ``NUMBA_CACHE_DIR`` is set
(unless the user set it) so that compiled code is reused across processes: a cold first UMAP
costs a minute or more on a small CPU.

Nothing here imports streamlit; the pages keep one :class:`ProjectionCache` and one
:class:`UmapWorker` per process.
"""
from __future__ import annotations

import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable

import numpy as np


def _default_numba_cache() -> str:
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").exists() and os.access(root, os.W_OK):
        return str(root / ".numba_cache")
    return str(Path.home() / ".cache" / "dcviz" / "numba")


# Set before umap (and so numba) is imported anywhere in this process.
os.environ.setdefault("NUMBA_CACHE_DIR", _default_numba_cache())


# --------------------------------------------------------------------------- PCA + Procrustes

def pca_2d(latent: np.ndarray) -> np.ndarray:
    """The first two principal components of ``latent`` (n, d), centred; zeros pad d < 2."""
    z = np.asarray(latent, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ValueError(f"latent must be a non-empty (n, d) array, got shape {z.shape}")
    z = np.nan_to_num(z - z.mean(axis=0), nan=0.0, posinf=0.0, neginf=0.0)
    if z.shape[1] == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z))])
    # Economy SVD (also for d == 2: the picture then sits on its principal axes).
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    out = z @ vt[:2].T
    if out.shape[1] < 2:  # fewer points than 2
        out = np.column_stack([out, np.zeros(len(out))])
    return out


def procrustes_rotation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The orthogonal matrix R (rotation or reflection) minimising ||source @ R - target||_F.

    Both are (n, 2) and centred. The classic solution: R = U V^T from the SVD of source^T target.
    """
    m = np.asarray(source, dtype=np.float64).T @ np.asarray(target, dtype=np.float64)
    u, _, vt = np.linalg.svd(m)
    return u @ vt


def align_to(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``coords`` turned (and possibly mirrored) to lie as close as possible to ``reference``."""
    c = np.asarray(coords, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    if c.shape != r.shape:
        raise ValueError(f"cannot align {c.shape} to {r.shape}: the snapshots must cover the same points")
    c0, r0 = c - c.mean(axis=0), r - r.mean(axis=0)
    return c0 @ procrustes_rotation(c0, r0)


def align_signs(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip each axis whose sign disagrees with ``reference``: for named axes (eigenvectors,
    a method's own coordinates), where a rotation would mix meanings but a sign is arbitrary."""
    c = np.asarray(coords, dtype=np.float64).copy()
    r = np.asarray(reference, dtype=np.float64)
    for j in range(c.shape[1]):
        a, b = c[:, j] - c[:, j].mean(), r[:, j] - r[:, j].mean()
        if float(a @ b) < 0:
            c[:, j] = -c[:, j]
    return c


def aligned_pca_sequence(latents) -> list[np.ndarray]:
    """PCA of each latent, each aligned to the picture before it (for tests and scripts)."""
    out: list[np.ndarray] = []
    for z in latents:
        p = pca_2d(z)
        out.append(align_to(p, out[-1]) if out else p)
    return out


# --------------------------------------------------------------------------- method axes

def method_axes(extras: dict) -> tuple[np.ndarray, tuple[str, str]] | None:
    """A method's own 2-D coordinates for a snapshot, from its extras, or None.

    A method that has natural axes hands them as ``extras["axes"]``, an (n_sub, 2) array, with
    their names as ``extras["axes_names"]`` = "x|y" (DEKM: the first and last eigen-coordinates;
    ACe/DeC: the most clustered dimension against the shared space's first PC).
    """
    axes = extras.get("axes")
    if not (isinstance(axes, np.ndarray) and axes.ndim == 2 and axes.shape[1] >= 2):
        return None
    names = extras.get("axes_names")
    if isinstance(names, str) and "|" in names:
        xname, yname = names.split("|", 1)
    else:
        xname, yname = "method axis 1", "method axis 2"
    return np.asarray(axes[:, :2], dtype=np.float64), (xname, yname)


# --------------------------------------------------------------------------- per-run cache

def snapshot_stamp(run_path: Path | None, index: int):
    """Which file snapshot ``index`` of a run folder is now: (mtime_ns, size, inode), or None
    when it is not there (or ``run_path`` is None). A run resumed from its checkpoint deletes the
    snapshots after it and writes new ones under the same numbers: their stamps change."""
    if run_path is None:
        return None
    try:
        st = (Path(run_path) / "snapshots" / f"{index:06d}.npz").stat()
    except (OSError, ValueError):
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _run_path_of(run_key: Hashable) -> Path | None:
    """The run folder a ``(runs root, run id)`` key names, where it is one; else None."""
    if isinstance(run_key, tuple) and len(run_key) == 2 and all(
            isinstance(k, (str, os.PathLike)) for k in run_key):
        path = Path(run_key[0]) / str(run_key[1])
        if (path / "snapshots").is_dir():
            return path
    return None


class _Sequence:
    """Aligned pictures of one run, computed in snapshot order and kept, each with the stamp
    (:func:`snapshot_stamp`) of the snapshot file it was computed from."""

    def __init__(self):
        self.coords: dict[int, np.ndarray] = {}
        self.stamps: dict[int, object] = {}
        self.lock = threading.Lock()


class ProjectionCache:
    """Aligned PCA (and sign-aligned method axes) per run, safe to share between sessions.

    ``load(i)`` is how the cache reads snapshot i of a run: for PCA it must return the latent
    (n, d); for method axes, the snapshot's extras dict.

    A picture is kept with the identity of its snapshot file (mtime, size, inode): when the run
    key is ``(runs root, run id)`` of a run folder (what the pages use), or ``run_path`` is
    given. A resumed run rewrites the snapshots after its checkpoint, and the pictures from the
    first rewritten one on are then computed again, never drawn at the old positions.
    """

    def __init__(self, max_runs: int = 32):
        self._runs: dict[Hashable, _Sequence] = {}
        self._lock = threading.Lock()
        self.max_runs = max_runs

    def _seq(self, key: Hashable) -> _Sequence:
        with self._lock:
            seq = self._runs.get(key)
            if seq is None:
                if len(self._runs) >= self.max_runs:
                    self._runs.pop(next(iter(self._runs)))
                seq = self._runs[key] = _Sequence()
            return seq

    def _walk(self, key: Hashable, index: int, step: Callable, run_path: Path | None = None):
        """Entry ``index`` of a run's sequence, where entry i is ``step(i, entry i-1)`` (each
        picture is aligned to the one before it): computed once, in order, from the last one
        kept. Entries whose snapshot file changed since are dropped, with all after them."""
        if index < 0:
            raise ValueError("index must be >= 0")
        seq = self._seq(key)
        with seq.lock:
            if index in seq.coords and seq.stamps.get(index) != snapshot_stamp(run_path, index):
                self._drop_changed(seq, run_path, index)
            if index not in seq.coords:
                # the entries this one grows from must still be the run's (one stat each, only
                # when something is computed: a hit checks its own file, as a resume rewrites
                # every snapshot from its checkpoint on)
                self._drop_changed(seq, run_path, index)
                done = [i for i in seq.coords if i < index]
                start = max(done) + 1 if done else 0
                prev = seq.coords[start - 1] if start > 0 else None
                for i in range(start, index + 1):
                    stamp = snapshot_stamp(run_path, i)  # before the read: a later write shows
                    prev = seq.coords[i] = step(i, prev)
                    seq.stamps[i] = stamp
            return seq.coords[index]

    @staticmethod
    def _drop_changed(seq: _Sequence, run_path: Path | None, upto: int) -> None:
        """Forget the entries from the first one up to ``upto`` whose snapshot file changed."""
        for i in sorted(k for k in seq.coords if k <= upto):
            if seq.stamps.get(i) != snapshot_stamp(run_path, i):
                for k in [k for k in seq.coords if k >= i]:
                    seq.coords.pop(k, None)
                    seq.stamps.pop(k, None)
                return

    def aligned_pca(self, run_key: Hashable, index: int, load: Callable[[int], np.ndarray],
                    run_path: Path | None = None) -> np.ndarray:
        """The PCA picture of snapshot ``index``, aligned along the run's sequence 0..index."""
        def step(i, prev):
            p = pca_2d(load(i))
            return align_to(p, prev) if prev is not None and prev.shape == p.shape else p
        return self._walk(("pca", run_key), index, step, run_path or _run_path_of(run_key))

    def method_axes(self, run_key: Hashable, index: int, load: Callable[[int], dict],
                    run_path: Path | None = None):
        """``(coords, (xname, yname))`` of snapshot ``index``, or None when the method gives no
        axes there. Each axis' sign is matched to the snapshot before (eigenvector signs are
        arbitrary), along the run's sequence."""
        def step(i, prev):
            found = method_axes(load(i))
            if found is not None and prev is not None and prev[0].shape == found[0].shape:
                found = (align_signs(found[0], prev[0]), found[1])
            return found
        return self._walk(("axes", run_key), index, step, run_path or _run_path_of(run_key))

    def forget(self, run_key: Hashable) -> None:
        with self._lock:
            self._runs.pop(("pca", run_key), None)
            self._runs.pop(("axes", run_key), None)


# --------------------------------------------------------------------------- UMAP

#: optimisation epochs of a layout started from its neighbour's (a layout from scratch takes
#: umap-learn's default, 500 for small data): it only has to follow what changed
FOLLOW_EPOCHS = 100


def umap_2d(latent: np.ndarray, seed: int = 0, init: np.ndarray | None = None,
            n_neighbors: int = 15) -> np.ndarray:
    """A 2-D UMAP of ``latent``, started from ``init`` (n, 2) when given. Call it from one
    thread at a time (see :class:`UmapWorker`)."""
    import umap  # imported late: heavy, and NUMBA_CACHE_DIR must be set first

    z = np.asarray(latent, dtype=np.float32)
    n = len(z)
    if n < 4:
        raise ValueError("UMAP needs at least 4 points")
    kwargs = dict(n_components=2, n_neighbors=min(n_neighbors, n - 1), random_state=seed,
                  n_jobs=1, low_memory=True)
    if init is not None and init.shape == (n, 2):
        # Start from a neighbouring snapshot's layout: the new picture stays near the old one.
        kwargs["init"] = np.asarray(init, dtype=np.float32)
        kwargs["n_epochs"] = FOLLOW_EPOCHS
    return umap.UMAP(**kwargs).fit_transform(z).astype(np.float64)


UMAP_FILE = "umap.npy"


def read_layouts(run_path: Path, n_points: int, max_count: int) -> np.ndarray | None:
    """The UMAP layouts kept in a run folder, (k, n_points, 2) for snapshots 0..k-1, or None
    when there are none or the file is not such a plain array (it is then computed again).
    The header is checked before anything is allocated."""
    from dcviz.safeio import HeaderError, declared_bytes, is_regular_file, read_npy_header

    path = Path(run_path) / UMAP_FILE
    if not is_regular_file(path):
        return None
    try:
        with open(path, "rb") as f:
            shape, dtype = read_npy_header(f)
        if (len(shape) != 3 or shape[1:] != (n_points, 2) or not 0 < shape[0] <= max_count
                or dtype != np.float32 or declared_bytes(shape, 4) > path.stat().st_size):
            return None
        layouts = np.load(path, allow_pickle=False)
        if not np.isfinite(layouts).all():
            return None
        # a snapshot written after the layouts (a run resumed from its checkpoint rewrites the
        # ones past it) has lost its layout, and so have all after it
        written = path.stat().st_mtime_ns
        for i in range(len(layouts)):
            snap = Path(run_path) / "snapshots" / f"{i:06d}.npz"
            if not snap.exists() or snap.stat().st_mtime_ns > written:
                return layouts[:i] if i else None
    except (HeaderError, OSError, ValueError):
        return None
    return layouts


def write_layouts(run_path: Path, layouts: np.ndarray) -> None:
    """Keep the layouts in the run folder: to a temporary name, then renamed into place."""
    path = Path(run_path) / UMAP_FILE
    tmp = path.with_name(f".{UMAP_FILE[:-4]}.{secrets.token_hex(4)}.tmp.npy")
    try:
        np.save(tmp, np.asarray(layouts, dtype=np.float32), allow_pickle=False)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@dataclass
class RunLayouts:
    """Where a run's UMAP stands: ``done`` of ``total`` snapshots have their layout in
    ``layouts`` ((done, n, 2), or None before the first); ``status`` is "queued", "running",
    "done" or "failed" (with ``error``)."""

    status: str
    done: int
    total: int
    layouts: np.ndarray | None = None
    error: str | None = None
    seconds: float = 0.0

    def layout(self, index: int) -> np.ndarray | None:
        return self.layouts[index] if self.layouts is not None and index < len(self.layouts) else None


class UmapWorker:
    """One background thread computing UMAP layouts, cached by key; never blocks the caller.

    ``request_run(key, run_path, count, ...)`` lays out all of a run's snapshots, each from the
    one before (what Explore uses). ``request(key, latent)`` queues one layout (once per key)
    and returns the current status: "queued", "running", "done" or "failed"; ``result(key)``
    gives the layout when done, ``error(key)`` the message when failed. ``compute`` can be
    replaced (tests).
    """

    # A process-wide lock: even two UmapWorkers must never run UMAP at the same time.
    _numba_lock = threading.Lock()

    def __init__(self, compute: Callable[..., np.ndarray] | None = None, max_items: int = 256,
                 max_runs: int = 16):
        self.compute = compute or umap_2d
        self.max_items, self.max_runs = max_items, max_runs
        self._status: dict[Hashable, str] = {}
        self._results: dict[Hashable, np.ndarray] = {}
        self._errors: dict[Hashable, str] = {}
        self._seconds: dict[Hashable, float] = {}
        self._runs: dict[Hashable, dict] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="dcviz-umap", daemon=True)
            self._thread.start()

    def request(self, key: Hashable, latent: np.ndarray, *, seed: int = 0,
                init: np.ndarray | None = None) -> str:
        with self._lock:
            status = self._status.get(key)
            if status in ("queued", "running", "done"):
                return status
            self._status[key] = "queued"
            self._errors.pop(key, None)
            self._queue.put(("one", key, np.array(latent, dtype=np.float32), seed, init))
            self._ensure_thread()
            return "queued"

    def request_run(self, key: Hashable, run_path: Path, count: int, n_points: int,
                    load: Callable[[int], np.ndarray], *, seed: int = 0) -> RunLayouts:
        """The UMAP layouts of a run's snapshots 0..count-1, computed in the background, in
        order, each started from the one before, and kept in the run folder as they come.

        Returns at once with what is there: from memory, else from the run folder, else
        nothing yet. ``load(i)`` gives snapshot i's latent (n_points, d); a live run's growing
        ``count`` extends the sequence from its last layout. After a failure, the run is tried
        again once it has more snapshots.

        Each layout is kept with the identity of its snapshot file (:func:`snapshot_stamp`): a
        run resumed from its checkpoint rewrites the snapshots after it, and their layouts are
        then computed again (the last layout's file is checked on each call: a resume rewrites
        or deletes every snapshot from its checkpoint on)."""
        with self._lock:
            job = self._runs.get(key)
            if job is None:
                idle = [k for k, j in self._runs.items() if j["status"] not in ("queued", "running")]
                if len(self._runs) >= self.max_runs and idle:
                    self._runs.pop(idle[0])  # the oldest; its layouts stay on disk
                layouts = read_layouts(run_path, n_points, count)
                job = self._runs[key] = {"layouts": layouts,
                                         "stamps": [snapshot_stamp(run_path, i) for i in
                                                    range(0 if layouts is None else len(layouts))],
                                         "status": None, "total": 0, "error": None,
                                         "seconds": 0.0, "failed_total": 0, "generation": 0}
            else:
                self._drop_changed(job, run_path)
            job["total"] = max(job["total"], int(count))
            have = 0 if job["layouts"] is None else len(job["layouts"])
            if have >= job["total"]:
                job["status"] = "done"
            elif job["status"] == "failed" and job["total"] <= job["failed_total"]:
                pass  # the same snapshot would fail again; a new one is tried
            elif job["status"] not in ("queued", "running"):
                job.update(status="queued", error=None)
                self._queue.put(("run", key, Path(run_path), n_points, load, seed))
                self._ensure_thread()
            return self._run_state(job)

    @staticmethod
    def _drop_changed(job: dict, run_path: Path) -> None:
        """Cut a job's layouts before the first one whose snapshot file changed (call with the
        lock held); a job cut short is queued again by its caller."""
        stamps = job["stamps"]
        if not stamps or stamps[-1] == snapshot_stamp(run_path, len(stamps) - 1):
            return
        first = next(i for i, st in enumerate(stamps) if st != snapshot_stamp(run_path, i))
        job["layouts"] = job["layouts"][:first] if first else None
        job["stamps"] = stamps[:first]
        job["generation"] += 1  # a layout being computed from the old ones is thrown away
        job["total"] = 0        # the caller's count, set next, is the run's now
        if job["status"] not in ("queued", "running"):
            job.update(status=None, error=None, failed_total=0)

    @staticmethod
    def _run_state(job: dict) -> RunLayouts:
        layouts = job["layouts"]
        return RunLayouts(status=job["status"], done=0 if layouts is None else len(layouts),
                          total=job["total"], layouts=layouts, error=job["error"],
                          seconds=job["seconds"])

    def run_state(self, key: Hashable) -> RunLayouts | None:
        with self._lock:
            job = self._runs.get(key)
            return None if job is None else self._run_state(job)

    def wait_run(self, key: Hashable, timeout: float = 60.0) -> RunLayouts | None:
        """Block until a run's layouts are done or failed (tests and scripts only)."""
        end = time.time() + timeout
        while time.time() < end:
            state = self.run_state(key)
            if state is None or state.status in ("done", "failed"):
                return state
            time.sleep(0.05)
        return self.run_state(key)

    def _run_job(self, key, run_path: Path, n_points: int, load, seed: int) -> None:
        """Extend a run's layouts up to its latest total, one snapshot at a time."""
        with self._lock:
            job = self._runs[key]
            job["status"] = "running"
        start = time.time()
        try:
            while True:
                with self._lock:  # the check and "done" in one hold: a request may raise total
                    layouts, total = job["layouts"], job["total"]
                    generation = job["generation"]
                    done = 0 if layouts is None else len(layouts)
                    if done >= total:
                        job["status"] = "done"
                        return
                stamp = snapshot_stamp(run_path, done)  # before the read: a later write shows
                latent = np.asarray(load(done), dtype=np.float32)
                if latent.shape[0] != n_points:
                    raise ValueError(f"snapshot {done} covers {latent.shape[0]} points, not "
                                     f"the run's {n_points}")
                with UmapWorker._numba_lock:
                    coords = self.compute(latent, seed=seed,
                                          init=None if layouts is None else layouts[-1])
                coords = np.asarray(coords, dtype=np.float32)[None]
                if coords.shape != (1, n_points, 2) or not np.isfinite(coords).all():
                    raise ValueError(f"UMAP returned shape {coords.shape[1:]} or non-finite values")
                grown = coords if layouts is None else np.concatenate([layouts, coords])
                with self._lock:
                    if job["generation"] != generation:
                        continue  # the run was resumed meanwhile: its snapshots were rewritten
                    try:
                        # in the hold: a file of layouts of replaced snapshots is never written
                        # after the new ones (read_layouts would trust it)
                        write_layouts(run_path, grown)
                    except OSError as e:  # a full disk: the layouts are shown, only not kept
                        from dcviz.safeio import no_room
                        if no_room(e, run_path) is None:
                            raise
                    job["layouts"] = grown
                    job["stamps"] = job["stamps"][:done] + [stamp]
                    job["seconds"] += time.time() - start
                    start = time.time()
        except Exception as e:  # noqa: BLE001 - a failed layout is reported, never raised
            with self._lock:
                job.update(error=f"{type(e).__name__}: {e}", status="failed",
                           failed_total=job["total"])

    def status(self, key: Hashable) -> str | None:
        with self._lock:
            return self._status.get(key)

    def result(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            return self._results.get(key)

    def error(self, key: Hashable) -> str | None:
        with self._lock:
            return self._errors.get(key)

    def seconds(self, key: Hashable) -> float | None:
        with self._lock:
            return self._seconds.get(key)

    def nearest_done(self, prefix: tuple, index: int) -> np.ndarray | None:
        """The layout of the closest snapshot of the same run already done (for ``init``).

        Keys are ``(*prefix, index)``."""
        with self._lock:
            best = None
            for key, value in self._results.items():
                if isinstance(key, tuple) and key[:-1] == prefix and isinstance(key[-1], int):
                    if best is None or abs(key[-1] - index) < abs(best[0] - index):
                        best = (key[-1], value)
            return None if best is None else best[1]

    def wait(self, key: Hashable, timeout: float = 60.0) -> str | None:
        """Block until ``key`` is done or failed (tests and scripts only)."""
        end = time.time() + timeout
        while time.time() < end:
            s = self.status(key)
            if s in ("done", "failed", None):
                return s
            time.sleep(0.05)
        return self.status(key)

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item[0] == "run":
                try:
                    self._run_job(*item[1:])
                finally:
                    self._queue.task_done()
                continue
            _, key, latent, seed, init = item
            with self._lock:
                self._status[key] = "running"
            start = time.time()
            try:
                with UmapWorker._numba_lock:
                    coords = self.compute(latent, seed=seed, init=init)
                coords = np.asarray(coords, dtype=np.float64)
                if coords.shape != (len(latent), 2):
                    raise ValueError(f"UMAP returned shape {coords.shape}")
                with self._lock:
                    if len(self._results) >= self.max_items:
                        old = next(iter(self._results))
                        self._results.pop(old)
                        self._status.pop(old, None)
                    self._results[key] = coords
                    self._seconds[key] = time.time() - start
                    self._status[key] = "done"
            except Exception as e:  # noqa: BLE001 - a failed layout is reported, never raised
                with self._lock:
                    self._errors[key] = f"{type(e).__name__}: {e}"
                    self._status[key] = "failed"
            finally:
                self._queue.task_done()


# --------------------------------------------------------------------------- neighbours

def nearest_neighbors(latent: np.ndarray, i: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of ``latent`` closest to row ``i`` (Euclidean), nearest first, without i.

    Returns (row indices, distances)."""
    z = np.asarray(latent, dtype=np.float64)
    n = len(z)
    if not 0 <= i < n:
        raise IndexError(f"point {i} is not among the {n} points")
    d = np.sqrt(np.maximum(((z - z[i]) ** 2).sum(axis=1), 0.0))
    d[i] = np.inf
    k = max(0, min(k, n - 1))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    idx = np.argpartition(d, k - 1)[:k]
    idx = idx[np.argsort(d[idx], kind="stable")]
    return idx.astype(np.int64), d[idx]
