"""Run archives: export a run folder as a zip, and import one made elsewhere, safely.

An archive holds one run folder (see :mod:`dcviz.runs.store`)::

    <run_id>/config.json  status.json  subsample.npy  metrics.jsonl  checkpoint.pt
    <run_id>/snapshots/000000.npz ...
    <run_id>/umap.npy     (when Explore has laid the snapshots out with UMAP)

(files at the top level, without the folder, are accepted too). It is how a run trained with the
CLI on a GPU server gets into the app on a laptop. ``umap.npy`` is a cache: it travels so that a
run prepared on one machine shows its UMAP frames on another without the minutes of UMAP there.

An archive is a file from a stranger, so :func:`import_archive` trusts nothing in it:

- names: no absolute paths, no drive letters, no ``..``, no backslashes, no NUL; no symbolic
  links (``external_attr`` holds the Unix mode), no encrypted entries; only the file names above
  (junk such as ``__MACOSX/`` and ``.DS_Store`` is skipped); no name twice;
- sizes: at most :data:`MAX_FILES` entries, :data:`MAX_FILE_BYTES` per file and
  :data:`MAX_TOTAL_BYTES` in all, checked against the headers first and then counted on the bytes
  actually decompressed (a header may lie);
- content: config.json parses and names a registered method whose config it accepts;
  status.json parses; subsample.npy and every snapshot load with ``allow_pickle=False`` and have
  matching shapes, the dtypes and meta the store reads (:func:`check_snapshot_file`) and cluster
  ids 0..n-1 for n followed points; snapshots are numbered 0..n-1; checkpoint.pt loads with
  ``torch.load(weights_only=True)`` (a pickled object in it is refused) and rebuilds the method;
  umap.npy is kept only when it is a plain float32 array of one layout per snapshot and point
  (:func:`dcviz.projection.read_layouts`), else it is dropped and Explore lays the run out again.

The run gets a fresh id from the app, never a name from the archive. It is unpacked into a hidden
temporary folder inside the store and renamed into place in one step; on any failure that folder
is removed, so nothing is left behind. Every failure is an :class:`ArchiveError` whose message says
what is wrong and what to do.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import shutil
import stat
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from dcviz.projection import UMAP_FILE, read_layouts
from dcviz.runs.manage import ManageError, data_withheld, parse_tags
from dcviz.runs.store import (ACTIVE_STATES, DATA_SCALE, RunDir, RunStore, RunStoreError,
                              atomic_write_json, new_run_id, read_data_scale)
from dcviz.safeio import finite_number, no_room

if TYPE_CHECKING:
    from dcviz.runs.view import RunView

MAX_TOTAL_BYTES = 1 << 30          # 1 GiB unpacked
MAX_FILE_BYTES = 512 << 20         # 512 MiB for any one file
MAX_FILES = 20_000

TOP_FILES = ("config.json", "status.json", "subsample.npy", "metrics.jsonl", "checkpoint.pt")
SNAPSHOT_RE = re.compile(r"^snapshots/(\d{6})\.npz$")
JUNK = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


class ArchiveError(ValueError):
    """A run archive that cannot be imported; the message says why and what to do."""


# =========================================================================== export

def archive_members(run_dir: str | Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for every file of a run folder that belongs in its archive."""
    path = Path(run_dir)
    if not (path / "config.json").is_file():
        raise ArchiveError(f"{path} is not a run folder (it has no config.json)")
    out = [(name, path / name) for name in TOP_FILES if (path / name).is_file()]
    snaps = path / "snapshots"
    if snaps.is_dir():
        for p in sorted(snaps.iterdir()):
            if p.is_file() and not p.name.startswith(".") and SNAPSHOT_RE.match(f"snapshots/{p.name}"):
                out.append((f"snapshots/{p.name}", p))
    return out


def export_zip(run_dir: str | Path) -> bytes:
    """The run folder as a zip archive (bytes), its files under one folder named after the run.

    A run that is still training can be exported: the archive holds the snapshots written so far
    (the engine writes every file to a temporary name and renames it, so each one is complete).
    """
    path = Path(run_dir)
    prefix = path.name
    buf = io.BytesIO()
    # npz and checkpoint.pt are zip files already; deflating them again gains little.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name, file in archive_members(path):
            try:
                data = file.read_bytes()
            except FileNotFoundError:  # a file renamed away by a live run between list and read
                continue
            method = zipfile.ZIP_STORED if name.endswith((".npz", ".pt")) else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=time.localtime(file.stat().st_mtime)[:6])
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = method
            zf.writestr(info, data)
        layouts = _valid_layouts(path)
        if layouts is not None:  # last, so that it unpacks after the snapshots it lays out
            npy = io.BytesIO()
            np.save(npy, layouts, allow_pickle=False)
            info = zipfile.ZipInfo(f"{prefix}/{UMAP_FILE}", date_time=time.localtime()[:6])
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, npy.getvalue())
    return buf.getvalue()


def _valid_layouts(run_dir: Path) -> np.ndarray | None:
    """The UMAP layouts of a run folder that still match its snapshots (read_layouts drops
    those of snapshots rewritten after them, and any file that is not a plain array of the
    right shape), or None."""
    rd = RunDir(run_dir)
    try:
        n_points = len(rd.read_subsample())
    except RunStoreError:
        return None
    n_snaps = rd.count()
    return read_layouts(run_dir, n_points, n_snaps) if n_snaps else None


def archive_name(view_or_config) -> str:
    """A file name for a run's archive: ``dcviz-<method>-<data>-<run id>.zip``."""
    cfg = getattr(view_or_config, "config", view_or_config)
    parts = ["dcviz", str(cfg.get("method", "run")), str(cfg.get("data_name", "")),
             str(cfg.get("run_id", ""))]
    return _safe_file_name("-".join(p for p in parts if p)) + ".zip"


def _safe_file_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("._") or "run"


def embeddings_table(view: "RunView", index: int) -> dict[str, np.ndarray]:
    """One snapshot's points as columns: sample (row in the data set), cluster, label (when the
    data has labels) and the latent coordinates z0..z{d-1}."""
    snap = view.snapshot(index)
    cols: dict[str, np.ndarray] = {"sample": np.asarray(view.subsample, dtype=np.int64),
                                   "cluster": np.asarray(snap.assign, dtype=np.int64)}
    labels = view.labels_sub
    if labels is not None:
        cols["label"] = np.asarray(labels, dtype=np.int64)
    z = np.asarray(snap.latent, dtype=np.float32)
    for j in range(z.shape[1]):
        cols[f"z{j}"] = z[:, j]
    return cols


def embeddings_csv(view: "RunView", index: int) -> bytes:
    """A snapshot's embeddings and assignments as CSV (one row per followed point)."""
    cols = embeddings_table(view, index)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(list(cols))
    n = len(cols["sample"])
    for i in range(n):
        w.writerow([f"{float(v[i]):.6g}" if v.dtype.kind == "f" else int(v[i]) for v in cols.values()])
    return out.getvalue().encode()


def embeddings_npz(view: "RunView", index: int) -> bytes:
    """A snapshot's embeddings and assignments as an npz: ``latent`` (n, d), ``assign``,
    ``sample`` (the rows of the data set they cover), ``labels`` when known, and ``epoch``."""
    snap = view.snapshot(index)
    arrays = {"latent": np.asarray(snap.latent, dtype=np.float32),
              "assign": np.asarray(snap.assign, dtype=np.int64),
              "sample": np.asarray(view.subsample, dtype=np.int64),
              "epoch": np.asarray(snap.epoch, dtype=np.int64)}
    if view.labels_sub is not None:
        arrays["labels"] = np.asarray(view.labels_sub, dtype=np.int64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# =========================================================================== import

def _where(label: str | None) -> str:
    return label or "the archive"


def _is_junk(parts: tuple[str, ...]) -> bool:
    return any(p in JUNK or p.startswith("._") for p in parts)


def _check_names(zf: zipfile.ZipFile, where: str, max_files: int, max_file_bytes: int,
                 max_total_bytes: int) -> dict[str, zipfile.ZipInfo]:
    """Map each accepted run file name to its entry; ArchiveError for anything unsafe."""
    infos = zf.infolist()
    if len(infos) > max_files:
        raise ArchiveError(f"{where} holds {len(infos)} entries; at most {max_files} are accepted")
    entries: list[tuple[tuple[str, ...], zipfile.ZipInfo]] = []
    for info in infos:
        name = info.filename
        if "\x00" in name:
            raise ArchiveError(f"{where}: an entry name holds a NUL byte; the archive is not safe "
                               "to import")
        if "\\" in name:
            raise ArchiveError(f"{where}: the entry {name!r} has a backslash in its name; run "
                               "archives use '/' only. Export the run again with dcviz.")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise ArchiveError(f"{where}: the entry {name!r} has an absolute path; it would "
                               "write outside the run store, so the archive is refused")
        parts = PurePosixPath(name).parts
        if ".." in parts:
            raise ArchiveError(f"{where}: the entry {name!r} contains '..'; it would write outside "
                               "the run store, so the archive is refused")
        # ZipFile.writestr(name, data) stores permission bits without a file type (0o600):
        # an entry with no type bits is a plain file, as unzip treats it
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{where}: the entry {name!r} is a symbolic link; run archives "
                               "hold plain files only, so the archive is refused")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise ArchiveError(f"{where}: the entry {name!r} is not a plain file (a device, pipe "
                               "or socket); the archive is refused")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{where}: the entry {name!r} is encrypted; export the run "
                               "without a password")
        if not parts or _is_junk(parts) or info.is_dir():
            continue
        if info.file_size > max_file_bytes:
            raise ArchiveError(f"{where}: {name} unpacks to {_mib(info.file_size)}; at most "
                               f"{_mib(max_file_bytes)} per file are accepted")
        entries.append((parts, info))

    if not entries:
        raise ArchiveError(f"{where} is empty: it holds no run files (config.json, "
                           "snapshots/...). Export a run from the app or zip a run folder.")
    # One optional top folder (the run's own name) is allowed and dropped.
    tops = {p[0] for p, _ in entries}
    strip = len(tops) == 1 and all(len(p) > 1 for p, _ in entries) and next(iter(tops)) != "snapshots"
    accepted: dict[str, zipfile.ZipInfo] = {}
    declared = 0
    for parts, info in entries:
        rel = "/".join(parts[1:] if strip else parts)
        if rel not in TOP_FILES and rel != UMAP_FILE and not SNAPSHOT_RE.match(rel):
            raise ArchiveError(
                f"{where}: unexpected file {info.filename!r}. A run archive holds only "
                f"{', '.join(TOP_FILES)}, snapshots/NNNNNN.npz and {UMAP_FILE}, in one folder "
                "or at the top.")
        if rel in accepted:
            raise ArchiveError(f"{where}: {rel} appears twice; the archive is ambiguous")
        declared += info.file_size
        if declared > max_total_bytes:
            raise ArchiveError(f"{where}: unpacked, the archive would be larger than "
                               f"{_mib(max_total_bytes)}, the limit for imports")
        accepted[rel] = info
    if "config.json" not in accepted:
        raise ArchiveError(f"{where} has no config.json, so it is not a dcviz run archive. "
                           "Export the run with the app (Explore, Run tab) or zip its folder.")
    if "subsample.npy" not in accepted:
        raise ArchiveError(f"{where} has no subsample.npy (the points every snapshot covers); "
                           "the run folder was zipped incompletely")
    numbers = sorted(int(SNAPSHOT_RE.match(r).group(1)) for r in accepted if SNAPSHOT_RE.match(r))
    if numbers != list(range(len(numbers))):
        missing = sorted(set(range(max(numbers) + 1)) - set(numbers)) if numbers else []
        raise ArchiveError(f"{where}: snapshots must be numbered 000000, 000001, ... without gaps; "
                           f"missing {', '.join(f'{m:06d}' for m in missing[:5])}"
                           f"{' ...' if len(missing) > 5 else ''}")
    return accepted


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _extract(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], dest: Path, where: str,
             max_file_bytes: int, max_total_bytes: int) -> None:
    """Write the members under ``dest``, counting the bytes really decompressed."""
    total = 0
    (dest / "snapshots").mkdir(parents=True)
    root = dest.resolve()
    for rel, info in members.items():
        target = dest.joinpath(*rel.split("/"))
        if not target.resolve().is_relative_to(root):  # belt and braces: names were checked
            raise ArchiveError(f"{where}: the entry {info.filename!r} points outside the run")
        written = 0
        # O_EXCL + O_NOFOLLOW: never write through a link or over a file already there.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with zf.open(info) as src, os.fdopen(fd, "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                written += len(chunk)
                total += len(chunk)
                if written > max_file_bytes:
                    raise ArchiveError(f"{where}: {rel} unpacks to more than {_mib(max_file_bytes)} "
                                       "(more than its header says); the archive is refused")
                if total > max_total_bytes:
                    raise ArchiveError(f"{where}: unpacked, the archive is larger than "
                                       f"{_mib(max_total_bytes)}, the limit for imports")
                dst.write(chunk)


def _check_unpacked_size(path: Path, name: str, where: str, max_bytes: int) -> None:
    """A snapshot (.npz) or checkpoint is itself a zip, whose members may be compressed: what
    it unpacks to in memory is the sum of its members' sizes, which the outer archive's limits
    do not see (a 300 KB snapshot can unpack to 300 MB). Readers stop at a member's declared
    size, so the declared sizes bound the memory a load takes."""
    try:
        with zipfile.ZipFile(path) as zf:
            size = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip (a plain .npy-style or legacy file): the load that follows judges it
    if size > max_bytes:
        raise ArchiveError(f"{where}: {name} unpacks to {_mib(size)}, more than "
                           f"{_mib(max_bytes)}, the limit for one file of an import")


def _validate(tmp: Path, where: str, max_file_bytes: int = MAX_FILE_BYTES) -> tuple[dict, dict]:
    """Check the unpacked run; returns (config, status). ArchiveError when anything is off."""
    from dcviz.methods import ConfigError, get_method

    cfg = _read_json(tmp / "config.json", "config.json", where)
    if not isinstance(cfg, dict):
        raise ArchiveError(f"{where}: config.json must hold a JSON object, not {type(cfg).__name__}")
    for key in ("method", "config", "data"):
        if key not in cfg:
            raise ArchiveError(f"{where}: config.json has no {key!r}; it was not written by dcviz")
    method_id = cfg["method"]
    if not isinstance(method_id, str):
        raise ArchiveError(f"{where}: config.json's method must be a name, got {method_id!r}")
    try:
        cls = get_method(method_id)
    except ConfigError as e:
        raise ArchiveError(f"{where}: the run's method is not installed here: {e}") from None
    if not isinstance(cfg["config"], dict):
        raise ArchiveError(f"{where}: config.json's config must be an object")
    try:
        cls.Config.from_dict(cfg["config"])
    except ConfigError as e:  # from_dict words every bad value, one past float's range too
        raise ArchiveError(f"{where}: the run's {method_id} config does not fit this version of "
                           f"dcviz: {e}") from None

    status = {"state": "done"}
    if (tmp / "status.json").exists():
        status = _read_json(tmp / "status.json", "status.json", where)
        if not isinstance(status, dict):
            raise ArchiveError(f"{where}: status.json must hold a JSON object")

    try:
        sub = np.load(tmp / "subsample.npy", allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - any failure means a bad file
        raise ArchiveError(f"{where}: subsample.npy cannot be read as a plain array ({_err(e)})") from None
    if not isinstance(sub, np.ndarray):  # np.load hands back an NpzFile for a zip
        sub.close()
        raise ArchiveError(f"{where}: subsample.npy is an .npz archive, not one array (np.save "
                           "writes it); the run folder was not written by dcviz")
    if sub.ndim != 1 or sub.dtype.kind not in "iu" or (sub.size and sub.min() < 0):
        raise ArchiveError(f"{where}: subsample.npy must be a 1-D array of point indices, got "
                           f"{sub.dtype} {sub.shape}")
    n_samples = cfg.get("n_samples")
    if isinstance(n_samples, int) and sub.size and sub.max() >= n_samples:
        raise ArchiveError(f"{where}: subsample.npy names point {int(sub.max())}, but the data set "
                           f"has {n_samples} points")
    _check_data(cfg, sub, where)

    snaps = sorted((tmp / "snapshots").glob("*.npz"))
    metas = []
    for p in snaps:
        _check_unpacked_size(p, f"snapshots/{p.name}", where, max_file_bytes)
        metas.append(_check_snapshot(p, len(sub), where))
    if metas and (tmp / "metrics.jsonl").exists():
        for i, line in enumerate((tmp / "metrics.jsonl").read_text(encoding="utf-8",
                                                                    errors="replace").splitlines()):
            try:
                json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                if i < len(metas) - 1:  # a torn last line (a kill) is skipped when read
                    raise ArchiveError(f"{where}: line {i + 1} of metrics.jsonl is not JSON") from None
            except ValueError as e:
                # an integer past 4,300 digits: the store's reader skips bad JSON, not this
                # ValueError, so the line would fail every page that reads the metrics
                raise ArchiveError(f"{where}: line {i + 1} of metrics.jsonl cannot be read "
                                   f"({_err(e)})") from None
    elif metas:
        # An archive without metrics.jsonl: every snapshot carries its own line in its meta.
        with open(tmp / "metrics.jsonl", "w", encoding="utf-8") as f:
            for meta in metas:
                f.write(json.dumps(meta) + "\n")

    if (tmp / "checkpoint.pt").exists():
        _check_unpacked_size(tmp / "checkpoint.pt", "checkpoint.pt", where, max_file_bytes)
        _check_checkpoint(tmp / "checkpoint.pt", method_id, where)
    if (tmp / UMAP_FILE).exists():
        # newer than every snapshot, whatever order the archive listed them in; then kept only
        # if it is one layout per point for the first snapshots (a cache: without it Explore
        # lays the run out again)
        os.utime(tmp / UMAP_FILE)
        if not snaps or read_layouts(tmp, len(sub), len(snaps)) is None:
            (tmp / UMAP_FILE).unlink()
    return cfg, status


#: the most values (points x features) an archive's data spec may make this machine generate
MAX_SYNTHETIC_VALUES = 16_000_000


def _check_data(cfg: dict, sub: np.ndarray, where: str) -> None:
    """An archive's data spec names data of this machine: check it against the real data.

    A synthetic set is generated here, so its declared size (points x features, the features
    counted on a small probe) is limited before anything is generated. A registered set that
    loads here must have the shape config.json declares and hold every point subsample.npy
    names. A file path is withheld anyway (see _withhold_paths); a set that is not available
    here (a download not cached) is checked when a page opens it."""
    from dcviz import data as D
    from dcviz.data.registry import REGISTRY

    try:
        norm = D.normalise_spec(cfg["data"])
    except (D.DataError, TypeError, ValueError, RecursionError) as e:
        # a file's path is withheld on import; a run imported once and exported again carries
        # the withheld record itself
        if isinstance(cfg["data"], dict) and ("path" in cfg["data"] or "withheld" in cfg["data"]):
            return
        raise ArchiveError(f"{where}: config.json's data spec is not valid here "
                           f"({_err(e)})") from None
    if not isinstance(norm, dict) or "name" not in norm:
        return
    entry = REGISTRY.get(norm["name"])
    if entry is None:
        return
    if entry.kind == "synthetic" and "n_samples" in entry.options:
        n = int(norm.get("n_samples", entry.options["n_samples"].default))
        lo = entry.options["n_samples"].min or 2
        try:
            probe = D.load({**{k: v for k, v in norm.items() if k != "n"},
                            "n_samples": int(max(lo, 16))})
        except (D.DataError, ValueError) as e:
            raise ArchiveError(f"{where}: config.json's data spec is not valid here "
                               f"({_err(e)})") from None
        if n * probe.dim > MAX_SYNTHETIC_VALUES:
            raise ArchiveError(
                f"{where}: the run's data spec asks this machine to generate {norm['name']} with "
                f"{n:,} x {probe.dim:,} values, more than the {MAX_SYNTHETIC_VALUES:,} an "
                "imported run may ask for; it cannot be opened here")
    try:
        ds = D.load(norm)
    except (D.DataError, OSError):
        return  # not available here (e.g. a download not cached); pages say so when opened
    except (ValueError, MemoryError) as e:
        raise ArchiveError(f"{where}: the run's data cannot be made here ({_err(e)})") from None
    if sub.size and int(sub.max()) >= ds.n:
        raise ArchiveError(f"{where}: subsample.npy names point {int(sub.max())}, but "
                           f"{ds.name} has {ds.n} points here; the run does not belong to "
                           "this data")
    for key, real in (("n_samples", ds.n), ("input_dim", ds.dim)):
        v = cfg.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v != real:
            raise ArchiveError(f"{where}: config.json says {key} = {v}, but {ds.name} loads "
                               f"here with {real}; the run does not belong to this data")


def _read_json(path: Path, name: str, where: str):
    """A JSON file of the archive, parsed; ArchiveError for every way that fails (a digit
    string past Python's 4,300-digit limit is a plain ValueError, not a JSONDecodeError)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"{where}: {name} is not valid JSON ({e})") from None
    except RecursionError:
        raise ArchiveError(f"{where}: {name} is nested too deeply to be a dcviz file") from None
    except ValueError as e:
        raise ArchiveError(f"{where}: {name} cannot be read ({_err(e)})") from None


def _check_snapshot(path: Path, n_sub: int, where: str) -> dict:
    name = f"snapshots/{path.name}"
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if not {"latent", "assign", "meta"} <= files:
                raise ArchiveError(f"{where}: {name} lacks latent, assign or meta")
            arrays = {k: z[k] for k in z.files}  # reading every array checks it holds no pickle
    except ArchiveError:
        raise
    except Exception as e:  # noqa: BLE001 - pickles, broken zips, bad headers
        raise ArchiveError(f"{where}: {name} cannot be read as plain arrays ({_err(e)})") from None
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray):  # NumPy hands back a member that is no .npy as bytes
            raise ArchiveError(f"{where}: {name} holds {k!r}, which is not a NumPy array")
        if a.dtype == object:
            raise ArchiveError(f"{where}: {name} holds an object array {k!r}")
    latent, assign = arrays["latent"], arrays["assign"]
    if latent.ndim != 2 or latent.shape[0] != n_sub:
        raise ArchiveError(f"{where}: {name}'s latent has shape {latent.shape}; expected "
                           f"({n_sub}, d), one row per point of subsample.npy")
    if assign.shape != (n_sub,):
        raise ArchiveError(f"{where}: {name}'s assign has shape {assign.shape}; expected ({n_sub},)")
    from dcviz.runs.store import check_snapshot_file, cluster_id_problem
    problem = check_snapshot_file(path, n_sub)
    if problem:  # the store's own test of a snapshot: what it would call damaged once imported
        raise ArchiveError(f"{where}: {problem}")
    if latent.shape[1] == 0:
        raise ArchiveError(f"{where}: {name}'s latent has no coordinates (shape {latent.shape})")
    if problem := cluster_id_problem(assign):  # what the store refuses to load
        raise ArchiveError(f"{where}: {name}'s assign: {problem}")
    try:
        meta = json.loads(str(arrays["meta"]))
        if not isinstance(meta, dict):
            raise ValueError("not an object")
        for key in ("epoch", "step", "stage"):
            meta[key]
        float(meta.get("progress", 0.0) or 0.0)  # as RunDir.load_snapshot reads it
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as e:
        raise ArchiveError(f"{where}: {name}'s meta is not a dcviz snapshot record ({_err(e)})") from None
    return meta


def _check_checkpoint(path: Path, method_id: str, where: str) -> None:
    import torch

    from dcviz.runs.store import method_from_checkpoint
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - UnpicklingError for pickled objects, or a broken file
        raise ArchiveError(
            f"{where}: checkpoint.pt cannot be loaded safely: it holds something other than "
            f"tensors and plain values (pickled objects are refused), or it is damaged "
            f"({_err(e)})") from None
    if not isinstance(blob, dict) or blob.get("method") != method_id:
        found = blob.get("method") if isinstance(blob, dict) else type(blob).__name__
        raise ArchiveError(f"{where}: checkpoint.pt is for {found!r}, but config.json says "
                           f"{method_id!r}")
    try:
        method_from_checkpoint(blob, device="cpu")
    except (RunStoreError, KeyError, TypeError, ValueError, RuntimeError, OverflowError,
            AttributeError, IndexError) as e:
        raise ArchiveError(f"{where}: checkpoint.pt does not rebuild a {method_id} model "
                           f"({_err(e)})") from None


def _err(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:300]}" if text else type(e).__name__


def import_archive(store: RunStore, data: bytes, *, label: str | None = None,
                   max_total_bytes: int | None = None, max_file_bytes: int | None = None,
                   max_files: int | None = None) -> str:
    """Unpack and validate a run archive into ``store``; returns the new run's id.

    ``label`` names the archive in messages (the uploaded file's name). Limits default to the
    module's MAX_* values, read at call time. Raises :class:`ArchiveError`; nothing is left in
    the store then.
    """
    where = _where(safe_text(os.path.basename(str(label)), 80) if label else None)
    max_total_bytes = MAX_TOTAL_BYTES if max_total_bytes is None else int(max_total_bytes)
    max_file_bytes = MAX_FILE_BYTES if max_file_bytes is None else int(max_file_bytes)
    max_files = MAX_FILES if max_files is None else int(max_files)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArchiveError(f"{where}: expected the archive's bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ArchiveError(f"{where} is empty (0 bytes)")
    if len(data) > max_total_bytes:
        raise ArchiveError(f"{where} is {_mib(len(data))}, larger than {_mib(max_total_bytes)}, "
                           "the limit for imports")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ArchiveError(f"{where} is not a zip archive, or it is truncated (the end of the "
                           "file, where a zip lists its contents, is missing). Download or "
                           "export it again.") from None
    except (OSError, ValueError, EOFError) as e:
        raise ArchiveError(f"{where} cannot be read as a zip archive ({_err(e)})") from None

    tmp = store.root / f".import-{secrets.token_hex(6)}"
    try:
        with zf:
            members = _check_names(zf, where, max_files, max_file_bytes, max_total_bytes)
            tmp.mkdir()
            try:
                _extract(zf, members, tmp, where, max_file_bytes, max_total_bytes)
            except (zipfile.BadZipFile, zlib.error, EOFError, zipfile.LargeZipFile,
                    NotImplementedError, RuntimeError, ValueError, OSError) as e:
                if isinstance(e, ArchiveError):
                    raise
                if no_room(e, store.root) is not None:
                    raise _no_room_for(where, store) from None
                raise ArchiveError(f"{where} is damaged: a file in it cannot be decompressed "
                                   f"({_err(e)}). Download or export it again.") from None
        cfg, status = _validate(tmp, where, max_file_bytes)

        run_id = new_run_id(cfg["method"])
        while (store.root / run_id).exists():
            run_id = new_run_id(cfg["method"])
        now = time.time()
        atomic_write_json(tmp / "config.json", _imported_config(cfg, run_id, now))
        atomic_write_json(tmp / "status.json", _imported_status(status, now))
        os.rename(tmp, store.path_of(run_id))  # one step: the run appears whole or not at all
        return run_id
    except ArchiveError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if no_room(e, store.root) is not None:
            raise _no_room_for(where, store) from None
        raise


def _no_room_for(where: str, store: RunStore) -> ArchiveError:
    """A full disk is not a damaged archive: say which, and that nothing was kept."""
    return ArchiveError(f"There is not enough free disk space in {store.root} to unpack {where}; "
                        "nothing was kept. Free some space, then import it again.")


# --------------------------------------------------------------------------- what pages show

STATES = ("queued", "running", "paused", "stopped", "done", "failed", "interrupted")


def safe_text(value, limit: int) -> str:
    """A string from an archive, made safe to show in Streamlit markdown: one line, no control
    characters, no markdown link or image (``](`` is broken up, so no remote picture loads),
    no HTML brackets."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value if value is not None else ""))
    s = s.replace("](", "] (").replace("<", "‹").replace(">", "›")
    s = re.sub(r"\s+", " ", s).strip()
    return s[:limit]


_number = finite_number


def _imported_config(cfg: dict, run_id: str, now: float) -> dict:
    """config.json as the app will trust it: fresh id, display fields of safe types and text,
    file paths withheld. Fields that drive training (method, config, data) were validated."""
    from dcviz.methods import get_method
    cls = get_method(cfg["method"])
    original = cfg.get("run_id")
    out = dict(cfg)
    out.update(
        run_id=run_id, imported_at=now,
        imported_from=safe_text(original, 140) if isinstance(original, str) else None,
        name=imported_name(cfg.get("name")), tags=_clean_tags(cfg.get("tags")),
        method_title=cls.title, data_name=safe_text(cfg.get("data_name") or "data", 60) or "data",
        preset=safe_text(cfg.get("preset") or "quick", 20),
        created=_number(cfg.get("created")) or now,
        seed=cfg["config"].get("seed", cfg.get("seed")),
        has_labels=bool(cfg.get("has_labels")))
    for key in ("n_samples", "input_dim"):
        v = cfg.get(key)
        out[key] = int(v) if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None
    shape = cfg.get("image_shape")
    out["image_shape"] = ([int(v) for v in shape] if isinstance(shape, list) and len(shape) == 3
                          and all(isinstance(v, int) and 0 < v < 100_000 for v in shape) else [])
    versions = cfg.get("versions")
    out["versions"] = ({safe_text(k, 40): safe_text(v, 60) for k, v in list(versions.items())[:30]}
                       if isinstance(versions, dict) else {})
    out.update(_withhold_paths(cfg["data"]))
    if "pretrained" in cfg:
        out["pretrained"] = _imported_pretrained(cfg["pretrained"])
    # the training data's magnitudes (the Checkpoints page's scale warning where the data is not
    # on this machine): kept where they are whole and consistent, dropped otherwise
    scale = read_data_scale(cfg.get(DATA_SCALE))
    if scale is None:
        out.pop(DATA_SCALE, None)
    else:
        out[DATA_SCALE] = scale
    return out


def _imported_pretrained(record) -> dict | None:
    """The record of the pretrained AE a run started from (dcviz.pretrained's ``record``), as
    the Explore and Checkpoints pages will show it: its fields, of their types, text made safe."""
    from dcviz.pretrained import ID_RE
    if not isinstance(record, dict):
        return None
    entry = record.get("entry")
    out: dict = {"entry": entry if isinstance(entry, str) and ID_RE.match(entry) else None,
                 "hit": record.get("hit") is True}
    for key in ("seconds", "final_loss", "created"):
        out[key] = _number(record.get(key))
    epochs = record.get("epochs")
    out["epochs"] = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None
    for key, limit in (("summary", 200), ("repaired", 300), ("store_error", 300)):
        if record.get(key):
            out[key] = safe_text(record[key], limit)
    return out


IMPORTED = "(imported)"


def imported_name(name) -> str:
    """An imported run's name: the original's, marked, so that a list holding both tells them
    apart (they share method, data, start time and scores). Marked once, however often the run
    travels."""
    base = safe_text(name, 100 - len(IMPORTED) - 1)
    if base.endswith(IMPORTED):
        return base
    return f"{base} {IMPORTED}" if base else IMPORTED


def _imported_status(status: dict, now: float) -> dict:
    """status.json as the app will trust it: a known state (an active one becomes
    "interrupted": the process that trained it is on another machine), numbers that are
    numbers, scores that are floats, the error text made safe to show; no pid."""
    state = status.get("state")
    if state in ACTIVE_STATES or state not in STATES:
        state = "interrupted"
    out: dict = {"state": state, "updated": now, "imported": True}
    for key in ("seconds", "started", "finished", "progress"):
        v = _number(status.get(key))
        if v is not None:
            out[key] = v
    metrics = status.get("metrics")
    if isinstance(metrics, dict):
        out["metrics"] = {safe_text(k, 40): v for k, v in metrics.items()
                          if _number(v) is not None}
    if status.get("error"):
        out["error"] = safe_text(status["error"], 2000)
    if isinstance(status.get("traceback"), str):
        out["traceback"] = status["traceback"][:20_000]
    return out


def _withhold_paths(spec) -> dict:
    """An imported run may not make the app read files of this machine.

    A run trained on a registered data set (digits, mnist, ...) keeps its spec: the app loads the
    same data here. A run trained on a file keeps the file's name for people, but its path is
    withheld: the archive's author chose that path, and following it would let an archive make
    the app read (and show) any file of this machine. Such a run opens without its images; its
    checkpoint still takes new data on the Checkpoints page.
    """
    from dcviz.data import DataError, normalise_spec
    try:
        norm = normalise_spec(spec)
    except (DataError, TypeError, ValueError):
        norm = None
    if isinstance(norm, dict) and "name" in norm:
        return {}
    original = spec.get("path", spec.get("withheld")) if isinstance(spec, dict) else spec
    name = safe_text(os.path.basename(str(original or "")), 200) or "a file"
    return {"data": {"withheld": name}, "data_withheld": {
        "original": spec, "why": f"the run was trained on the file {name!r} on another machine; "
                                 "imported runs never read paths named in their archive"}}


def _clean_tags(tags) -> list[str]:
    """Tags of an archive that follow the app's own rules (runs.manage); others are dropped."""
    if not isinstance(tags, list):
        return []
    out = []
    for t in tags[:100]:
        try:
            out += parse_tags([t]) if isinstance(t, str) else []
        except ManageError:
            continue
    return list(dict.fromkeys(out))[:20]


def import_run_folder(store: RunStore, folder: str | Path, **limits) -> str:
    """Import a run folder from disk (e.g. another run store) through the same checks."""
    rd = RunDir(Path(folder))
    return import_archive(store, export_zip(rd.path), label=Path(folder).name, **limits)
