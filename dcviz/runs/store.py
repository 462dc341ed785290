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

import collections
import copy
import datetime as _dt
import io
import json
import os
import platform
import re
import secrets
import shutil
import threading
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dcviz.methods.base import Snapshot
from dcviz.safeio import (HeaderError, array_headers, byte_budget, declared_bytes, finite_number,
                          is_regular_file, mib, physical_memory)

ACTIVE_STATES = ("queued", "running", "paused")
TERMINAL_STATES = ("done", "failed", "stopped")
STATES = (*ACTIVE_STATES, *TERMINAL_STATES, "interrupted")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
SNAPSHOT_NAME_RE = re.compile(r"^(\d{6})\.npz$")
# what the atomic writers name their temporary files (a kill leaves them behind)
TEMP_RE = re.compile(r"^\..*\.tmp(\.npz|\.npy)?$|^\.tmp-|^\.import-")

# One lock per run folder serialises its status writes: a pause from the page thread and the
# final "done" from the run's thread must not interleave their read-modify-write.
_STATUS_LOCKS: dict[str, threading.Lock] = {}
_STATUS_LOCKS_GUARD = threading.Lock()


def _status_lock(path: Path) -> threading.Lock:
    key = os.path.abspath(path)
    with _STATUS_LOCKS_GUARD:
        lock = _STATUS_LOCKS.get(key)
        if lock is None:
            lock = _STATUS_LOCKS[key] = threading.Lock()
        return lock


def read_json_object(path: Path, what: str) -> dict:
    """A JSON file that must hold an object; RunStoreError (with the reason) otherwise.

    Deeply nested JSON raises RecursionError inside the parser; it is refused like any other
    bad file, as is a folder, pipe or device under the file's name."""
    if not is_regular_file(path):
        reason = "is missing" if not os.path.lexists(path) else "is not a regular file"
        raise RunStoreError(f"{what} {reason}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError: bad UTF-8 or JSON, and
        # integers of more than 4,300 digits, which Python refuses to parse
        kind = "nested too deeply" if isinstance(e, RecursionError) else f"not valid JSON ({e})"
        raise RunStoreError(f"{what} is {kind}") from None
    if not isinstance(obj, dict):
        raise RunStoreError(f"{what} holds a JSON {type(obj).__name__}, not an object")
    return obj


class RunStoreError(ValueError):
    """A run id, folder or file in the store that cannot be used."""


def default_root() -> Path:
    return Path(os.environ.get("DCVIZ_RUNS_DIR", "runs"))


def _run_id_token() -> str:
    return secrets.token_hex(4)


def new_run_id(method_id: str, taken=()) -> str:
    """A fresh id: the time to the second, the method, and 32 random bits (a sweep hands out
    hundreds of ids in one second; 16 bits gave two trials one id in half of 300-trial sweeps).
    ``taken``: ids already handed out, which the new one avoids."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    while True:
        run_id = f"{stamp}-{re.sub(r'[^A-Za-z0-9-]', '', method_id)}-{_run_id_token()}"
        if run_id not in taken:
            return run_id


def package_versions() -> dict[str, str]:
    import sklearn
    import scipy
    import dcviz
    return {"python": platform.python_version(), "dcviz": dcviz.__version__, "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}


def write_file(path: Path, data) -> None:
    """Write ``data`` (bytes-like) to ``path``, a temporary name that the caller renames into
    place (bench/holdpoint.py holds a checkpoint write here, half written)."""
    with open(path, "wb") as f:
        f.write(data)


def _real(v) -> bool:
    return finite_number(v) is not None


def clean_row(row: dict) -> dict:
    """A metrics.jsonl line with only the fields of the types the engine writes: integer index,
    epoch and step, real progress and time, a text stage, and losses, metrics and scalars whose
    values are real numbers (scalars: or text). A field of another type is left out, so that the
    pages read it as missing, as they read a field a method does not record."""
    out: dict = {}
    for k in ("index", "epoch", "step"):
        if isinstance(row.get(k), int) and not isinstance(row.get(k), bool):
            out[k] = row[k]
    for k in ("progress", "time"):
        if _real(row.get(k)):
            out[k] = float(row[k])
    if isinstance(row.get("stage"), str):
        out["stage"] = row["stage"]
    for k in ("losses", "metrics", "scalars"):
        if isinstance(row.get(k), dict):
            out[k] = {str(n): (float(v) if _real(v) else v) for n, v in row[k].items()
                      if _real(v) or (k == "scalars" and isinstance(v, str))}
    return out


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

    def update_config(self, **fields) -> dict:
        """Set some fields of config.json, read and written under one lock: the page may rename
        a run while its thread records the pretrained AE it started from, and neither may undo
        the other."""
        with _status_lock(self.path / "config.json"):
            config = {**self.read_config(), **fields}
            self.write_config(config)
            return config

    def write_status(self, state: str, *, force: bool = False, **fields) -> dict:
        """Write status.json and return what is on disk afterwards.

        Writes to one run are serialised, and a terminal state (done, failed, stopped) is never
        overwritten (``force`` excepted): a late "paused" from the page cannot undo a "done"
        that the run's thread wrote, nor drop the final metrics written with it."""
        with _status_lock(self.path):
            try:
                current = read_json_object(self.path / "status.json", "status.json")
            except RunStoreError:
                current = {}
            if current.get("state") in TERMINAL_STATES and not force:
                return current
            status = {**current, **fields, "state": state, "updated": time.time(),
                      "pid": os.getpid()}
            atomic_write_json(self.path / "status.json", status)
            return status

    def write_subsample(self, idx: np.ndarray) -> None:
        buf_path = self.path / "subsample.npy"
        tmp = buf_path.with_name(".subsample.tmp.npy")
        np.save(tmp, np.asarray(idx, dtype=np.int64), allow_pickle=False)
        os.replace(tmp, buf_path)

    def append_snapshot(self, snap: Snapshot, wall: float | None = None,
                        extras_type=None) -> int:
        """Write snapshot number ``count()`` and its metrics line; returns its index.

        ``extras_type`` (the method's Extras class) checks the extras first (ExtrasError)."""
        if extras_type is not None:
            extras_type.check(snap.extras)
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

    def save_checkpoint(self, method, **extra) -> None:
        """Save the method's state with what is needed to rebuild it without the data, and the
        number of snapshots written when it was taken (where a resume would continue);
        ``extra``: more plain fields (the engine's resume record).

        A state that ``torch.load(weights_only=True)`` could not read back (a NumPy array, a
        fitted scikit-learn object) is refused here, with a TypeError that names its key:
        saved, it would only fail later, when Checkpoints or a resume opens it."""
        state = method.state_dict()
        bad = unloadable(state, f"{type(method).__name__}.state_dict()")
        if bad is not None:
            raise TypeError(f"{bad}: a checkpoint holds torch tensors, numbers, strings, and "
                            f"dicts, lists or tuples of them (it is read back with "
                            f"torch.load(weights_only=True)); convert it, e.g. with "
                            f"torch.as_tensor, in state_dict and back in load_state_dict")
        blob = {"format": 1, "method": method.id, "config": method.config.to_dict(),
                "input_dim": method.input_dim, "image_shape": list(method.image_shape or []),
                "state": state, "snapshots": self.count(), "saved": time.time(),
                **extra}
        # serialised in memory first: torch.save straight to a file reports a full disk as a
        # RuntimeError of its zip writer, a plain write as the OSError it is (safeio.no_room)
        buf = io.BytesIO()
        torch.save(blob, buf)
        tmp = self.path / ".checkpoint.pt.tmp"
        try:
            write_file(tmp, buf.getbuffer())
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half-written copy would hold the space a full disk lacks
            raise
        os.replace(tmp, self.path / "checkpoint.pt")

    # ---------------------------------------------------------------- reading
    def read_config(self) -> dict:
        """config.json, checked: an object with a method name, a config object and a data spec.
        Kept per file version (inode, size, times), for pickers that read every run's."""
        path = str(self.path / "config.json")
        try:
            st = os.lstat(path)
            version = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
        except OSError:
            version = None
        kept = _CONFIGS.get(path)
        if version is not None and kept is not None and kept[0] == version:
            return copy.deepcopy(kept[1])
        cfg = read_json_object(self.path / "config.json", f"run {self.run_id}: config.json")
        if not isinstance(cfg.get("method"), str):
            raise RunStoreError(f"run {self.run_id}: config.json names no method")
        if not isinstance(cfg.get("config", {}), dict):
            raise RunStoreError(f"run {self.run_id}: config.json's config is not an object")
        if version is not None:
            if len(_CONFIGS) > 10_000:
                _CONFIGS.clear()
            _CONFIGS[path] = (version, copy.deepcopy(cfg))
        return cfg

    def read_status(self, raw: bool = False) -> dict:
        """status.json. A damaged one reads as state "damaged" with the reason in "error"."""
        try:
            status = read_json_object(self.path / "status.json", "status.json")
        except RunStoreError as e:
            if not os.path.lexists(self.path / "status.json"):
                return {"state": "unknown"}
            return {"state": "damaged", "error": str(e)}
        if status.get("state") not in STATES:
            return {"state": "damaged", "error": f"status.json has an unknown state "
                                                 f"{str(status.get('state'))[:40]!r}"}
        if raw:
            return status
        # A run that says it is active but whose process is gone was killed: "interrupted".
        if status.get("state") in ACTIVE_STATES and not _pid_alive(status.get("pid")):
            status = {**status, "state": "interrupted"}
        return status

    def read_subsample(self) -> np.ndarray:
        """subsample.npy: a 1-D array of non-negative point indices (RunStoreError otherwise)."""
        path = self.path / "subsample.npy"
        where = f"run {self.run_id}: subsample.npy"
        if not is_regular_file(path):
            raise RunStoreError(f"{where} is missing")
        try:
            heads = array_headers(path)
            shape, dtype = heads[""]
        except (HeaderError, KeyError, OSError) as e:
            raise RunStoreError(f"{where} is not a .npy array ({e})") from None
        if len(shape) != 1 or dtype.kind not in "iu":
            raise RunStoreError(f"{where} must be a 1-D array of point indices, not {dtype} "
                                f"{shape}")
        if declared_bytes(shape, dtype.itemsize) > byte_budget():
            raise RunStoreError(f"{where} declares {shape[0]:,} points, more than fits in memory")
        try:
            sub = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise RunStoreError(f"{where} cannot be read ({e})") from None
        if sub.size and sub.min() < 0:
            raise RunStoreError(f"{where} holds a negative index")
        return sub.astype(np.int64, copy=False)

    def snapshot_numbers(self) -> list[int]:
        try:  # names as strings: a listing walks every snapshot of every run
            names = os.listdir(self.path / "snapshots")
        except OSError:  # no folder yet (or not a folder: check() says so through the numbers)
            return []
        return sorted(int(m.group(1)) for n in names if (m := SNAPSHOT_NAME_RE.match(n)))

    def count(self) -> int:
        return len(self.snapshot_numbers())

    def _snapshot_path(self, index: int) -> Path:
        """The file of snapshot ``index`` (negative from the end), checked (RunStoreError)."""
        n = self.count()
        if n == 0:
            raise RunStoreError(f"run {self.run_id} has no snapshots yet")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise RunStoreError(f"run {self.run_id} has snapshots 0..{n - 1}; asked for {index}")
        path = self.path / "snapshots" / f"{index:06d}.npz"
        problem = check_snapshot_file(path)
        if problem:
            raise RunStoreError(f"run {self.run_id}: {problem}")
        return path

    def load_latent(self, index: int) -> np.ndarray:
        """Only the latent of snapshot ``index``: what the aligned PCA walks through, snapshot
        by snapshot, without the extras (a tenth of the reading)."""
        path = self._snapshot_path(index)
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["latent"]
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
            raise RunStoreError(f"run {self.run_id}: snapshots/{path.name} cannot be read "
                                f"({type(e).__name__}: {str(e)[:200]})") from None

    def load_snapshot(self, index: int) -> Snapshot:
        path = self._snapshot_path(index)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                extras: dict[str, Any] = {k[2:]: z[k] for k in z.files if k.startswith("x_")}
                latent, assign = z["latent"], z["assign"]
            if problem := cluster_id_problem(assign):
                raise ValueError(problem)
            extras.update(meta.get("scalars") or {})
            return Snapshot(epoch=meta["epoch"], step=meta["step"], stage=str(meta["stage"]),
                            latent=latent, assign=assign, losses=dict(meta.get("losses") or {}),
                            metrics=dict(meta.get("metrics") or {}), extras=extras,
                            progress=float(meta.get("progress", 0.0) or 0.0))
        except (ValueError, KeyError, TypeError, AttributeError, OSError, EOFError,
                zipfile.BadZipFile, zlib.error, RecursionError) as e:
            raise RunStoreError(f"run {self.run_id}: snapshots/{path.name} cannot be read "
                                f"({type(e).__name__}: {str(e)[:200]})") from None

    def check(self, deep: bool = True) -> str | None:
        """Why this run folder cannot be shown, or None when it is sound.

        Reads config.json, status.json, subsample.npy's header and the snapshots' numbering.
        ``deep`` also reads every snapshot's array headers and meta (not their arrays; about a
        millisecond each, cached per file version); otherwise a snapshot is only checked for
        being a non-empty zip file, plus what an earlier deep check found (listings are
        light, opening a run is deep)."""
        try:
            cfg = self.read_config()
        except RunStoreError as e:
            return str(e)
        status = self.read_status(raw=True)
        if status["state"] == "damaged":
            return f"run {self.run_id}: {status['error']}"
        numbers = self.snapshot_numbers()
        if not numbers:
            return None
        try:
            sub = self.read_subsample()
        except RunStoreError as e:
            return str(e)
        n_samples = cfg.get("n_samples")
        if (isinstance(n_samples, int) and not isinstance(n_samples, bool) and sub.size
                and int(sub.max()) >= n_samples):
            return (f"run {self.run_id}: subsample.npy names point {int(sub.max())}, but the "
                    f"data set has {n_samples} points")
        if numbers != list(range(len(numbers))):
            missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
            return (f"run {self.run_id}: snapshots are not numbered 0..{len(numbers) - 1} "
                    f"(snapshot {missing[0]} is missing)")
        folder = os.path.join(self.path, "snapshots")
        for i in numbers:
            problem = check_snapshot_file(os.path.join(folder, f"{i:06d}.npz"), len(sub),
                                          deep=deep)
            if problem:
                _SUMMARIES.pop(str(self.path), None)  # a listing then says so too
                return f"run {self.run_id}: {problem}"
        return None

    def metrics_rows(self) -> list[dict]:
        """All lines of metrics.jsonl (a torn last line, from a kill, is skipped), each field
        checked for its type (:func:`clean_row`): the file is plain text anyone can edit, and
        an archive brings one from elsewhere."""
        path = self.path / "metrics.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):  # a torn line, or a 4,300-digit integer
                continue
            if isinstance(row, dict):
                rows.append(clean_row(row))
        return rows

    def has_checkpoint(self) -> bool:
        return (self.path / "checkpoint.pt").exists()

    #: What each file of a run folder holds (DESIGN.md, "Run").
    FILES = {"config.json": "method, config, data spec, seed, versions",
             "status.json": "state, timings, final metrics, error text",
             "subsample.npy": "the fixed points every snapshot covers",
             "metrics.jsonl": "one line per snapshot: losses, metrics",
             "checkpoint.pt": "trained weights (loaded with weights_only=True)",
             "snapshots/": "one npz per snapshot (no pickle)",
             "umap.npy": "UMAP layouts of the snapshots, once Explore has made them"}

    def files(self) -> list[dict]:
        """The run's files: ``name``, ``bytes``, ``count`` (files inside, for a folder) and
        ``what`` it holds. Only regular files count; links and hidden temporaries are skipped, so
        a damaged folder lists what is really there."""
        rows = []
        if not self.path.is_dir():
            return rows
        for f in sorted(self.path.iterdir()):
            if f.name.startswith(".") or f.is_symlink():
                continue
            if f.is_dir():
                inside = [g for g in f.iterdir() if not g.name.startswith(".") and is_regular_file(g)]
                rows.append({"name": f.name + "/", "bytes": sum(g.stat().st_size for g in inside),
                             "count": len(inside), "what": self.FILES.get(f.name + "/", "")})
            elif is_regular_file(f):
                rows.append({"name": f.name, "bytes": f.stat().st_size, "count": 1,
                             "what": self.FILES.get(f.name, "")})
        return rows

    def load_checkpoint(self, device: str = "cpu", blob: dict | None = None):
        """Rebuild the trained method from checkpoint.pt (weights_only: no pickled code runs),
        or from ``blob``, the file as :meth:`read_checkpoint` gave it."""
        blob = self.read_checkpoint() if blob is None else blob
        try:
            return method_from_checkpoint(blob, device=device)
        except RunStoreError as e:
            raise RunStoreError(f"run {self.run_id}: {e}") from None
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError,
                OverflowError) as e:
            raise RunStoreError(f"run {self.run_id}: checkpoint.pt does not rebuild its model "
                                f"({type(e).__name__}: {str(e)[:200]})") from None

    def read_checkpoint(self):
        """checkpoint.pt as saved (weights_only: plain tensors, dicts, numbers and strings)."""
        path = self.path / "checkpoint.pt"
        if not os.path.lexists(path):
            raise RunStoreError(f"run {self.run_id} has no checkpoint yet")
        if not is_regular_file(path):
            raise RunStoreError(f"run {self.run_id}: checkpoint.pt is not a regular file")
        size, budget = path.stat().st_size, byte_budget()
        if size > budget:
            raise RunStoreError(f"run {self.run_id}: checkpoint.pt is {mib(size)}, more than the "
                                f"{mib(budget)} this machine allows")
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
            raise RunStoreError(f"run {self.run_id}: checkpoint.pt cannot be loaded safely ({e})") from None
        return blob

    def summary(self) -> dict:
        """One row for run lists: id, method, data, state, snapshots, final metrics.

        Never raises for what is on disk: a damaged run is a row with state "damaged" and the
        reason in "error", so that it can be listed and deleted. Every field has its type.

        Pages list the store on every redraw, and a store of hundreds of runs holds tens of
        thousands of snapshots; so the row of a run that is not active is kept while its files
        are unchanged (see :meth:`_fingerprint`). An active run's row is read each time (its
        state turns to "interrupted" when its process dies, with no file changed), and so is a
        damaged run's (it may be mended in place)."""
        key = str(self.path)
        fingerprint = self._fingerprint()
        kept = _SUMMARIES.get(key)
        if kept is not None and kept[0] == fingerprint:
            return copy.deepcopy(kept[1])
        row = self._summary()
        if row["state"] not in (*ACTIVE_STATES, "damaged"):  # a damaged run may be mended
            if len(_SUMMARIES) > 10_000:
                _SUMMARIES.clear()
            _SUMMARIES[key] = (fingerprint, copy.deepcopy(row))
        return row

    def _fingerprint(self) -> tuple:
        """What a listing row depends on, as a few stats: the files the row reads (inode, size,
        times, type: a write replaces the file, an edit changes its times) and the snapshot
        folder's names (a snapshot is added by a rename into it). A snapshot damaged in place
        is seen when the run is opened (its deep check), which then drops the kept row."""
        out: list = []
        for name in ("config.json", "status.json", "subsample.npy", "snapshots"):
            try:
                st = os.lstat(os.path.join(self.path, name))
                out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode))
            except OSError:
                out.append(None)
        try:
            out.append(len(os.listdir(os.path.join(self.path, "snapshots"))))
        except OSError:
            out.append(None)
        return tuple(out)

    def _summary(self) -> dict:
        problem = self.check(deep=False)
        try:
            cfg = self.read_config()
        except RunStoreError:
            cfg = {}
        status = self.read_status()
        if problem:
            status = {"state": "damaged", "error": problem}
        tags = cfg.get("tags")
        metrics = status.get("metrics")
        return {"run_id": self.run_id, "name": _text(cfg.get("name"), 100),
                "method": _text(cfg.get("method"), 40) or "?",
                "data": _text(cfg.get("data_name"), 60) or "?",
                "state": status.get("state", "unknown"), "snapshots": self.count(),
                "created": _num(cfg.get("created")) or 0.0, "seconds": _num(status.get("seconds")),
                "metrics": ({str(k): float(v) for k, v in metrics.items() if _num(v) is not None}
                            if isinstance(metrics, dict) else {}),
                "error": _text(status.get("error"), 2000) or None,
                "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []}



#: leaves that torch.load(weights_only=True) reads back, by exact type (a NumPy float64 is a
#: float subclass that it does not read)
_LOADABLE = (bool, int, float, complex, str, bytes, type(None), torch.dtype, torch.device,
             torch.Size)


def unloadable(obj, where: str) -> str | None:
    """Where in ``obj`` (a method's state_dict) the first value that a weights-only load could
    not read back is, and its type, as "where['key'] is a numpy.ndarray"; None if there is none."""
    if isinstance(obj, torch.Tensor) or type(obj) in _LOADABLE:
        return None
    if type(obj) in (dict, collections.OrderedDict):
        for key, value in obj.items():
            if type(key) not in (str, int):
                return f"{where} has a key of type {type(key).__name__} ({key!r})"
            if (found := unloadable(value, f"{where}[{key!r}]")) is not None:
                return found
        return None
    if type(obj) in (list, tuple):
        for i, value in enumerate(obj):
            if (found := unloadable(value, f"{where}[{i}]")) is not None:
                return found
        return None
    kind = type(obj)
    return f"{where} is a {kind.__module__}.{kind.__qualname__}"


def _text(value, limit: int) -> str:
    if value is None:
        return ""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))[:limit]


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if np.isfinite(value) else None


# --------------------------------------------------------------------------- the data's scale

#: config.json's field with the magnitudes of the run's training data (:func:`data_scale`)
DATA_SCALE = "data_scale"


def data_scale(x, chunk: int = 1 << 20) -> dict | None:
    """The magnitudes of training data ``x`` (N, D) that the Checkpoints page compares new data
    against (dcviz.inference.scale_warning): min, max, largest and mean absolute value, and the
    feature count. Read in row blocks of about ``chunk`` values, so that nothing as large as the
    data is allocated. None for data that is not a non-empty table of finite numbers."""
    try:
        x = np.asarray(x)
        if x.ndim != 2 or not x.size or x.dtype.kind not in "fiub":
            return None
        rows = max(1, int(chunk) // max(1, x.shape[1]))
        lo, hi, big, total = np.inf, -np.inf, 0.0, 0.0
        for start in range(0, x.shape[0], rows):
            block = np.asarray(x[start:start + rows], dtype=np.float64)
            a = np.abs(block)
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
            big, total = max(big, float(a.max())), total + float(a.sum())
        mean = total / x.size
    except (TypeError, ValueError):
        return None
    if not all(np.isfinite(v) for v in (lo, hi, big, mean)):
        return None
    return {"min": lo, "max": hi, "abs_max": big, "abs_mean": mean, "features": int(x.shape[1])}


def read_data_scale(record) -> dict | None:
    """A :func:`data_scale` record read from a run's config.json (an old run has none; an
    imported or hand-edited one may hold anything): the record with finite numbers that agree
    with each other, else None."""
    if not isinstance(record, dict):
        return None
    out = {k: finite_number(record.get(k)) for k in ("min", "max", "abs_max", "abs_mean")}
    features = record.get("features")
    if any(v is None for v in out.values()) or isinstance(features, bool) \
            or not isinstance(features, int) or features < 1:
        return None
    lo, hi, big, mean = out["min"], out["max"], out["abs_max"], out["abs_mean"]
    slack = 1e-6 * big
    if not (lo <= hi and 0 <= mean <= big + slack
            and abs(max(abs(lo), abs(hi)) - big) <= slack):
        return None
    return {**out, "features": features}


# (path, size, mtime_ns) -> (problem or None, rows of its latent): a snapshot file is checked
# once per version; (path, size, mtime_ns, "shallow") -> problem or None, for listings
_SNAPSHOT_CHECKS: dict[tuple, Any] = {}
#: listing rows of runs that are not active, with the fingerprint they were read at
_SUMMARIES: dict[str, tuple[tuple, dict]] = {}
#: config.json of each run, with the file version it was read at
_CONFIGS: dict[str, tuple[tuple, dict]] = {}


def cluster_id_problem(assign: np.ndarray) -> str | None:
    """Why a snapshot's cluster ids cannot be shown, or None. Pages count clusters with
    np.bincount, which refuses a negative id and allocates max(id) + 1 counters; a run numbers
    its clusters 0..k-1, k at most 100 (the config's bound) or its points."""
    if assign.size and (int(assign.min()) < 0 or int(assign.max()) >= max(len(assign), 100)):
        return (f"cluster ids run from {int(assign.min())} to {int(assign.max())}; a run numbers "
                f"its clusters 0..k-1")
    return None


def check_snapshot_file(path: str | Path, n_sub: int | None = None,
                        deep: bool = True) -> str | None:
    """Why a snapshot file cannot be read, or None. Headers and meta only, no array data;
    ``deep=False``: only that it is a non-empty zip (and what a deep check found before).
    Both are cached per file version (path, size, modification time), so that listing a store
    of many runs stats its snapshots but does not open them again."""
    name = f"snapshots/{os.path.basename(path)}"
    try:
        st = os.stat(path)
    except OSError:
        return f"{name} is missing"
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    if key not in _SNAPSHOT_CHECKS:
        if not deep:
            shallow = (*key, "shallow")
            if shallow not in _SNAPSHOT_CHECKS:
                _remember(shallow, _check_snapshot_magic(path, st, name))
            return _SNAPSHOT_CHECKS[shallow]
        _remember(key, _check_snapshot_file(path, st, name))
    problem, rows = _SNAPSHOT_CHECKS[key]
    if problem is None and n_sub is not None and rows != n_sub:
        return f"{name} covers {rows} points but subsample.npy has {n_sub}"
    return problem


def _remember(key: tuple, found) -> None:
    if len(_SNAPSHOT_CHECKS) > 100_000:
        _SNAPSHOT_CHECKS.clear()
    _SNAPSHOT_CHECKS[key] = found


def _not_a_snapshot_file(st, name: str) -> str | None:
    import stat as _stat
    if not _stat.S_ISREG(st.st_mode):
        return f"{name} is not a regular file"
    if st.st_size == 0:
        return f"{name} is empty (0 bytes)"
    return None


def _check_snapshot_magic(path, st, name: str) -> str | None:
    if problem := _not_a_snapshot_file(st, name):
        return problem
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        return f"{name} cannot be read ({e.strerror or e})"
    return None if magic == b"PK\x03\x04" else f"{name} is not an npz archive of arrays"


def _check_snapshot_file(path, st, name: str) -> tuple[str | None, int | None]:
    """(problem or None, the rows of its latent) of one snapshot file version."""
    if problem := _not_a_snapshot_file(st, name):
        return problem, None
    try:
        heads = array_headers(path)
    except (HeaderError, OSError) as e:
        return f"{name} is not an npz archive of arrays ({e})", None
    missing = [k for k in ("latent", "assign", "meta") if k not in heads]
    if missing:
        return f"{name} lacks {', '.join(missing)}", None
    budget = byte_budget()
    for key, (shape, dtype) in heads.items():
        if dtype.hasobject:
            return f"{name} holds an object array {key!r} (refused: it would need pickle)", None
        if (size := declared_bytes(shape, dtype.itemsize)) > budget:
            return f"{name}: array {key!r} declares {mib(size)}", None
    (ls, ld), (as_, ad) = heads["latent"], heads["assign"]
    if len(ls) != 2 or ld.kind not in "fiu":
        return f"{name}'s latent is {ld} {ls}; expected a 2-D array of numbers", None
    if len(as_) != 1 or ad.kind not in "iu" or as_[0] != ls[0]:
        return f"{name}'s assign is {ad} {as_}; expected {ls[0]} integer cluster ids", None
    ms, md = heads["meta"]
    if ms != () or md.kind not in "US" or declared_bytes(ms, md.itemsize) > (16 << 20):
        return f"{name}'s meta is not a JSON string", None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, RecursionError) as e:
        return f"{name}'s meta cannot be read ({type(e).__name__})", None
    if not isinstance(meta, dict) or not all(k in meta for k in ("epoch", "step", "stage")):
        return f"{name}'s meta is not a snapshot record (epoch, step, stage)", None
    for k in ("losses", "metrics", "scalars"):
        if not isinstance(meta.get(k, {}), dict):
            return f"{name}'s meta field {k!r} is not an object", None
    return None, int(ls[0])


#: the most parameters a model may have (``DCVIZ_MAX_MODEL_PARAMS`` overrides); training with
#: Adam holds about four copies of them, and each float32 copy of 50M takes 200 MB
DEFAULT_MAX_PARAMS = 50_000_000


def max_model_params() -> int:
    env = os.environ.get("DCVIZ_MAX_MODEL_PARAMS", "").strip()
    limit = int(float(env)) if env else DEFAULT_MAX_PARAMS
    mem = physical_memory()
    return min(limit, mem // 32) if mem else limit  # 4 float32 copies in at most half the memory


def count_model_params(cls, cfg, input_dim: int, image_shape) -> int | None:
    """The number of parameters (and buffers) ``cls(cfg).build(input_dim, image_shape)`` makes,
    counted on PyTorch's meta device, which allocates nothing. None if the method cannot be
    built there (then no size check is made)."""
    try:
        m = cls(cfg)
        m.device = torch.device("meta")
        with torch.device("meta"):
            m.build(int(input_dim), tuple(image_shape) if image_shape else None)
    except Exception:  # noqa: BLE001 - a method that needs real tensors in build: not countable
        return None
    seen: set[int] = set()
    total = 0

    def walk(o, depth=0):
        nonlocal total
        if depth > 3:
            return
        if isinstance(o, torch.nn.Module):
            for t in (*o.parameters(), *o.buffers()):
                if id(t) not in seen:
                    seen.add(id(t))
                    total += t.numel()
        elif isinstance(o, torch.Tensor):
            if id(o) not in seen:
                seen.add(id(o))
                total += o.numel()
        elif isinstance(o, (list, tuple)):
            for x in o:
                walk(x, depth + 1)
        elif isinstance(o, dict):
            for x in o.values():
                walk(x, depth + 1)

    for v in vars(m).values():
        walk(v)
    return total


def check_model_size(cls, cfg, input_dim: int, image_shape, *, error=ValueError) -> None:
    """Refuse a model too large for this machine before it is built, saying what to change."""
    n = count_model_params(cls, cfg, input_dim, image_shape)
    limit = max_model_params()
    if n is not None and n > limit:
        raise error(f"a {cls.id} model for {int(input_dim):,} input features would have "
                    f"{n / 1e6:,.1f}M parameters, more than the {limit / 1e6:,.0f}M this machine "
                    "allows; use fewer features (resize the images, or keep fewer columns), "
                    "or smaller hidden layers in the config")


def method_from_checkpoint(blob: dict, device: str = "cpu"):
    from dcviz.methods import ConfigError, get_method
    if not isinstance(blob, dict) or "method" not in blob or "state" not in blob:
        raise RunStoreError("checkpoint is not a dcviz checkpoint (no 'method'/'state')")
    if not isinstance(blob["method"], str) or not isinstance(blob.get("config"), dict):
        raise RunStoreError("checkpoint's method or config has the wrong type")
    dim, shape = blob.get("input_dim"), blob.get("image_shape") or []
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise RunStoreError(f"checkpoint's input_dim must be a positive integer, got {dim!r}")
    if not isinstance(shape, (list, tuple)) or (shape and (
            len(shape) != 3 or not all(isinstance(v, int) and v > 0 for v in shape)
            or declared_bytes(shape, 1) != dim)):
        raise RunStoreError(f"checkpoint's image_shape {str(shape)[:60]} does not fit "
                            f"input_dim {dim}")
    try:
        cls = get_method(blob["method"])
        cfg = cls.Config.from_dict({**blob["config"], "device": device})
    except ConfigError as e:
        raise RunStoreError(f"checkpoint's config: {e}") from None
    # the sizes come from the file: check them before anything is allocated
    check_model_size(cls, cfg, dim, shape, error=RunStoreError)
    m = cls(cfg)
    m.build(blob["input_dim"], tuple(blob["image_shape"]) or None)
    m.load_state_dict(blob["state"])
    return m


class RunStore:
    """All runs under one root folder (``DCVIZ_RUNS_DIR`` or ./runs)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise RunStoreError(f"the runs folder {self.root} is a file, not a folder; choose "
                                "another folder")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunStoreError(f"the runs folder {self.root} cannot be created "
                                f"({e.strerror or e}); choose another folder") from None

    def check_writable(self) -> None:
        """RunStoreError unless a run folder can be written here (tried, not guessed: the
        permission bits do not tell for root, read-only mounts or full disks)."""
        import tempfile
        try:
            fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise RunStoreError(f"the runs folder {self.root} cannot be written "
                                f"({e.strerror or e}); choose another folder") from None

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
        found = {}
        for p in self.root.iterdir():
            if not RUN_ID_RE.match(p.name) or p.is_symlink() or not p.is_dir():
                continue
            try:  # lstat: a config.json that is a link or a folder still lists (as damaged)
                found[p.name] = (p / "config.json").lstat().st_mtime
            except OSError:
                continue
        return sorted(found, key=found.get, reverse=True)

    def list(self) -> list[dict]:
        return [RunDir(self.root / i).summary() for i in self.ids()]

    def remove_stale_temps(self, min_age: float = 60.0) -> list[Path]:
        """Remove temporary files that killed writes left behind; returns what was removed.

        Only in runs whose writer is gone (not active with a live pid), and only files older
        than ``min_age`` seconds, so that another process still writing is never disturbed."""
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        now = time.time()

        def old(p: Path) -> bool:
            try:
                return now - p.lstat().st_mtime >= min_age
            except OSError:
                return False

        def rm(p: Path) -> None:
            try:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
            except OSError:
                pass

        for p in self.root.iterdir():
            if p.name.startswith((".import-", ".tmp-")) and old(p):
                rm(p)
            elif RUN_ID_RE.match(p.name) and p.is_dir() and not p.is_symlink():
                rd = RunDir(p)
                st = rd.read_status(raw=True)
                if st.get("state") in ACTIVE_STATES and _pid_alive(st.get("pid")):
                    continue
                for folder in (p, p / "snapshots"):
                    if not folder.is_dir():
                        continue
                    for q in folder.iterdir():
                        if TEMP_RE.match(q.name) and old(q):
                            rm(q)
        return removed

    def delete(self, run_id: str) -> None:
        path = self.path_of(run_id)
        if path.is_symlink():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)

    def update_config(self, run_id: str, **fields) -> None:
        self.open(run_id).update_config(**fields)
