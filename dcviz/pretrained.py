"""The pretrained-autoencoder store: pretrain an autoencoder once, reuse it in every run that needs it.

The papers pretrain one autoencoder well and start every compared method from it (ACe/DeC runs
DCN, DEC, IDEC and AE + k-means on the same ten AEs). Pretraining is also the costliest step of an
AE method. So an entry is keyed by everything that changes the pretrained weights, and a run whose
key is already in the store skips pretraining.

The key (:class:`PretrainKey`): the data's fingerprint (sha256 of its float32 bytes, its shape and
image shape), the architecture, the pretraining recipe (epochs, batch, optimiser and rate,
denoising noise, augmentation, device kind, precision...), the seed, and :data:`RECIPE_VERSION`,
raised whenever the pretraining code changes what it computes. An entry's folder is named by the
first 20 hex digits of the sha256 of the key's canonical JSON.

    <root>/<entry id>/
        meta.json               the key, summary, seconds, final loss, created, package versions,
                                and the size and sha256 of every other file (damage shows there)
        weights.pt              the AE's state_dict, tensors only (torch.load(weights_only=True))
        rng.json                the random generators at the end of pretraining: the torch
                                generator's state bytes (base64) and numpy's bit-generator state
        losses.npy              the loss curve, one value per epoch
        snapshots/000000.npz    the pretraining snapshots, in the run snapshot format, over ALL
                                points (a run slices its own subsample out of them)
    <root>/.locks/<id>.lock     flock'd by whoever reads or builds that entry
    <root>/.tmp-<id>-<token>/   an entry being built; renamed into place only when complete

Root: ``$DCVIZ_CACHE_DIR``, else ``$XDG_CACHE_HOME/dcviz/pretrained``, else
``~/.cache/dcviz/pretrained``.

Concurrency: reading or building an entry holds a per-entry lock, a ``threading.Lock`` for the
threads of one process and ``fcntl.flock`` on the lock file for other processes. Two runs that need
the same missing entry: the first builds it, the second waits on the lock and then finds it. An
entry is built in a temporary folder and renamed into place (atomic on one file system), so a
pretraining that is killed or stopped leaves no entry; its temporary folder is removed by the next
one to take that lock. A damaged entry (a file missing, empty, of the wrong size or hash, or
unloadable; a meta.json whose key is not the key asked for) is logged, removed and built again,
and the entry says so (:attr:`Entry.repaired`) so that the run can record it.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator, Iterator

import numpy as np
import torch

from dcviz.plaintext import format_bytes, format_seconds
from dcviz.safeio import file_sha256, finite_number, folder_problem, no_room

log = logging.getLogger("dcviz.pretrained")

# Raise when the pretraining code changes what it computes for the same key: old entries then
# stop matching, instead of handing a run weights that the current code would not produce.
RECIPE_VERSION = 1
ENTRY_FORMAT = 1
ID_RE = re.compile(r"^[0-9a-f]{20}$")
POLL_S = 0.2  # how often a waiting run looks at its stop button


class DamagedEntry(Exception):
    """An entry on disk that cannot be trusted; the message says which file and why."""


def default_root() -> Path:
    if os.environ.get("DCVIZ_CACHE_DIR"):
        return Path(os.environ["DCVIZ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dcviz" / "pretrained"


# =========================================================================== the key

def data_fingerprint(x, image_shape=None) -> dict:
    """sha256 of the data as float32 bytes (C order), with its shape and image shape."""
    a = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    return {"sha256": hashlib.sha256(a.tobytes()).hexdigest(), "shape": list(a.shape),
            "image_shape": list(image_shape) if image_shape else None}


def _plain(obj):
    """The JSON value of obj, through a round trip; NaN and non-JSON types are refused."""
    return json.loads(json.dumps(obj, sort_keys=True, allow_nan=False))


@dataclass(frozen=True)
class PretrainKey:
    """Everything that changes the pretrained weights. Build it with :meth:`make`."""

    data: dict
    arch: dict
    recipe: dict
    seed: int
    version: int = RECIPE_VERSION

    @classmethod
    def make(cls, *, data: dict, arch: dict, recipe: dict, seed: int,
             version: int = RECIPE_VERSION) -> "PretrainKey":
        return cls(data=_plain(data), arch=_plain(arch), recipe=_plain(recipe), seed=int(seed),
                   version=int(version))

    def to_dict(self) -> dict:
        return asdict(self)

    def canonical(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @property
    def id(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:20]

    def summary(self) -> str:
        return summarize(self.to_dict())


def summarize(key: dict) -> str:
    """One line a person can read: architecture, recipe, seed, data."""
    arch, recipe, data = key.get("arch", {}), key.get("recipe", {}), key.get("data", {})
    parts = [str(arch.get("summary") or arch.get("kind") or "?")]
    for name, label in (("epochs", "ep"), ("batch_size", "batch")):
        if name in recipe:
            parts.append(f"{recipe[name]} {label}")
    if "optimizer" in recipe or "lr" in recipe:
        parts.append(f"{recipe.get('optimizer', 'opt')} {recipe.get('lr', '?')}")
    for name in ("lr_schedule", "noise", "dropout", "augment", "precision"):
        value = recipe.get(name)
        if value not in (None, 0, 0.0, "", "none", "fp32", "constant", False):
            parts.append(f"{name} {value}")
    parts.append(f"seed {key.get('seed', '?')}")
    shape = "x".join(str(s) for s in data.get("shape") or [])
    parts.append(f"data {shape} {str(data.get('sha256', ''))[:8]}")
    return " · ".join(parts)


# =========================================================================== RNG state

def capture_rng(generator: torch.Generator | None = None,
                rng: np.random.Generator | None = None) -> dict:
    """The states of a torch generator and a numpy generator as plain JSON values."""
    out: dict[str, Any] = {}
    if generator is not None:
        out["torch"] = base64.b64encode(generator.get_state().numpy().tobytes()).decode()
    if rng is not None:
        out["numpy"] = rng.bit_generator.state
    return out


def restore_rng(state: dict, generator: torch.Generator | None = None,
                rng: np.random.Generator | None = None) -> None:
    """Put the generators back where :func:`capture_rng` found them."""
    if generator is not None and "torch" in state:
        raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
        generator.set_state(torch.from_numpy(raw))
    if rng is not None and "numpy" in state:
        rng.bit_generator.state = state["numpy"]


# =========================================================================== entries

@dataclass
class Trained:
    """What a pretraining function returns for the store to keep."""

    weights: dict[str, torch.Tensor]
    rng: dict
    losses: list[float]
    flops: float | None = None  # floating-point operations of the training steps, for estimates
    about: dict = field(default_factory=dict)  # for people, not the key: data name, made by


@dataclass
class Entry:
    """One pretrained autoencoder, loaded and checked."""

    id: str
    path: Path
    meta: dict
    weights: dict[str, torch.Tensor]
    rng: dict
    losses: np.ndarray
    snapshots: list = field(default_factory=list)
    repaired: str | None = None  # why a damaged entry with this key was trained again

    def record(self, hit: bool) -> dict:
        """What a run writes into its config and JSON line about the entry it started from."""
        out = {"entry": self.id, "hit": bool(hit), "summary": self.meta.get("summary", ""),
               "seconds": self.meta.get("seconds"), "final_loss": self.meta.get("final_loss"),
               "epochs": self.meta.get("epochs"), "created": self.meta.get("created")}
        if self.repaired:
            out["repaired"] = self.repaired
        return out


_number = finite_number  # a meta.json is read, never trusted


def _dir_size(path: Path) -> int:
    """Bytes under ``path``; files that go while it counts (an entry deleted or replaced by
    another process) count 0."""
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_size
    return total


def _versions() -> dict:
    from dcviz.runs.store import package_versions  # late: dcviz.runs imports the methods
    return package_versions()


_THREAD_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


class PretrainedStore:
    """The entries under one root folder. Cheap to create; all state is on disk."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def unusable(self, dry: bool = False) -> str | None:
        """Why entries cannot be kept here (the root, or its lock folder, cannot be made or
        written: a file in the way, a read-only disk), or None when they can.

        ``dry``: decide from the folders that are there, writing nothing (for a page that asks
        on every redraw); else make the folders and write a probe file, as a run will."""
        if dry:
            problem = folder_problem(self.root)
            if problem is None:
                return None
            kind, there = problem
            return (f"NotADirectoryError: {there} is not a folder" if kind == "file" else
                    f"PermissionError: {there} cannot be written")
        try:
            (self.root / ".locks").mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe-{secrets.token_hex(4)}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            return f"{type(e).__name__}: {e.strerror or e}"
        return None

    # ---------------------------------------------------------------- locking
    def _thread_lock(self, entry_id: str) -> threading.Lock:
        with _THREAD_LOCKS_GUARD:
            return _THREAD_LOCKS.setdefault((str(self.root.resolve()), entry_id), threading.Lock())

    @contextlib.contextmanager
    def _locked(self, entry_id: str, check: Callable[[], None] | None = None,
                wait: bool = True) -> Iterator[bool]:
        """Hold the entry's lock (threads and processes). While waiting, ``check()`` is called
        every :data:`POLL_S` so that a stopped run stops waiting. With ``wait=False`` it yields
        False at once when someone else holds the lock."""
        tlock = self._thread_lock(entry_id)
        if not wait and not tlock.acquire(blocking=False):
            yield False
            return
        while wait and not tlock.acquire(timeout=POLL_S):
            if check is not None:
                check()
        try:
            (self.root / ".locks").mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / ".locks" / f"{entry_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if not wait:
                            yield False
                            return
                        if check is not None:
                            check()
                        time.sleep(POLL_S)
                try:
                    yield True
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        finally:
            tlock.release()

    # ---------------------------------------------------------------- reading
    def path_of(self, entry_id: str) -> Path:
        if not isinstance(entry_id, str) or not ID_RE.match(entry_id):
            raise ValueError(f"not a pretrained-entry id: {entry_id!r}")
        return self.root / entry_id

    def lookup(self, key: PretrainKey) -> dict | None:
        """The meta of the entry for ``key`` if one is there (not verified: that happens when a
        run loads it), else None. For the Train page's found / will-train line."""
        try:
            meta = json.loads((self.path_of(key.id) / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and meta.get("key") == key.to_dict() else None

    def building(self, key: PretrainKey) -> bool:
        """Whether another run is pretraining the entry for ``key`` right now (its temporary
        folder is there and its lock is held); a run that needs it then waits and reuses it."""
        if not self.root.is_dir() or not any(self.root.glob(f".tmp-{key.id}-*")):
            return False
        with self._locked(key.id, wait=False) as got:
            return not got

    def _load(self, key: PretrainKey) -> Entry | None:
        """The entry for ``key``, fully checked; None when there is none; DamagedEntry if bad."""
        path = self.path_of(key.id)
        if not path.exists():
            return None
        try:
            meta = json.loads((path / "meta.json").read_text())
        except (OSError, ValueError, RecursionError) as e:
            raise DamagedEntry(f"meta.json is missing or unreadable ({e})") from None
        if not isinstance(meta, dict) or meta.get("key") != key.to_dict():
            raise DamagedEntry("meta.json does not hold the key of this entry")
        files = meta.get("files")
        if not isinstance(files, dict) or "weights.pt" not in files:
            raise DamagedEntry("meta.json lists no files")
        for name, info in files.items():
            if not isinstance(info, dict):
                raise DamagedEntry(f"meta.json's record of {name} is not an object")
            p = path / name
            if ".." in Path(name).parts or not p.is_file():
                raise DamagedEntry(f"{name} is missing")
            size = p.stat().st_size
            if size == 0 or size != info.get("size"):
                raise DamagedEntry(f"{name} has {size} bytes, expected {info.get('size')}")
            if file_sha256(p) != info.get("sha256"):
                raise DamagedEntry(f"{name} does not match its sha256")
        try:
            weights = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
            if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor)
                                                        for v in weights.values()):
                raise ValueError("not a dict of tensors")
            rng = json.loads((path / "rng.json").read_text())
            losses = np.load(path / "losses.npy", allow_pickle=False)
            from dcviz.runs.store import RunDir  # late: dcviz.runs imports the methods
            rd = RunDir(path)
            snapshots = [rd.load_snapshot(i) for i in range(rd.count())]
        except Exception as e:  # noqa: BLE001 - whatever fails to load makes the entry damaged
            raise DamagedEntry(f"a file does not load ({type(e).__name__}: {e})") from None
        if len(snapshots) != meta.get("snapshots"):
            raise DamagedEntry(f"{len(snapshots)} snapshots, expected {meta.get('snapshots')}")
        return Entry(id=key.id, path=path, meta=meta, weights=weights, rng=rng, losses=losses,
                     snapshots=snapshots)

    # ---------------------------------------------------------------- the one entry point
    def get_or_train(self, key: PretrainKey,
                     train_fn: Callable[[], Generator[Any, None, Trained]], *,
                     refresh: bool = False, check: Callable[[], None] | None = None
                     ) -> Generator[Any, None, tuple[Entry, bool]]:
        """The entry for ``key``, trained first if it is missing, damaged, or ``refresh``.

        A generator, used as ``entry, hit = yield from store.get_or_train(key, train_fn)``.
        ``train_fn()`` is itself a generator: it yields the pretraining snapshots (each is
        written to the entry and passed on to the caller as it comes) and returns a
        :class:`Trained`. On a hit nothing is yielded; the caller replays ``entry.snapshots``.
        ``check`` is called while waiting for another run that builds the same entry.
        """
        with self._locked(key.id, check):
            repaired = None
            if not refresh:
                try:
                    entry = self._load(key)
                except DamagedEntry as e:
                    log.warning("pretrained entry %s is damaged (%s); removing it and training "
                                "it again", key.id, e)
                    repaired = str(e)
                    shutil.rmtree(self.path_of(key.id), ignore_errors=True)
                    entry = None
                if entry is not None:
                    return entry, True
            full = yield from self._build(key, train_fn)
            if full is not None:
                return None, False
            entry = self._load(key)
            entry.repaired = repaired
            return entry, False

    def _build(self, key: PretrainKey, train_fn) -> Generator[Any, None, OSError | None]:
        """Train into a temporary folder and rename it into place. Call with the lock held.

        Returns None, or the full-disk error that kept the entry from being saved: then the
        pretraining still runs to its end (the AE is trained in the run's memory; the store only
        saves time) and nothing of the entry is left."""
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(f".tmp-{key.id}-*"):  # left by a pretraining that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.root / f".tmp-{key.id}-{secrets.token_hex(4)}"
        gen = full = trained = None
        try:
            tmp.mkdir()
            from dcviz.runs.store import RunDir, atomic_write_json
            rd = RunDir(tmp)
            start = time.time()
            gen = train_fn()
            while True:
                try:
                    snap = next(gen)
                except StopIteration as stop:
                    trained = stop.value
                    break
                if full is None:
                    try:
                        rd.append_snapshot(snap)
                    except OSError as e:
                        if (full := no_room(e, self.root)) is None:
                            raise
                        shutil.rmtree(tmp, ignore_errors=True)
                yield snap
            if full is not None:
                return self._no_room(key, full)
            seconds = time.time() - start
            if not isinstance(trained, Trained):
                raise TypeError("a pretraining function must return a Trained")
            # through memory, so that a full disk is the OSError it is (see RunDir.save_checkpoint)
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu().contiguous() for k, v in trained.weights.items()},
                       buf)
            (tmp / "weights.pt").write_bytes(buf.getbuffer())
            (tmp / "rng.json").write_text(json.dumps(trained.rng))
            losses = np.asarray(trained.losses, dtype=np.float64)
            np.save(tmp / "losses.npy", losses, allow_pickle=False)
            (tmp / "metrics.jsonl").unlink(missing_ok=True)  # the snapshots hold the same lines
            files = {p.relative_to(tmp).as_posix(): {"size": p.stat().st_size,
                                                     "sha256": file_sha256(p)}
                     for p in sorted(tmp.rglob("*")) if p.is_file()}
            atomic_write_json(tmp / "meta.json", {
                "format": ENTRY_FORMAT, "id": key.id, "key": key.to_dict(),
                "summary": key.summary(), "seconds": round(seconds, 3),
                "epochs": int(len(losses)),
                "final_loss": float(losses[-1]) if len(losses) else None,
                "flops": trained.flops, "about": _plain(trained.about),
                "created": time.time(), "snapshots": rd.count(),
                "versions": _versions(),
                "files": files})
            dest = self.path_of(key.id)
            if dest.exists():  # refresh: move the old entry aside, then swap the new one in
                old = self.root / f".tmp-{key.id}-old-{secrets.token_hex(4)}"
                os.rename(dest, old)
                os.rename(tmp, dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, dest)
            return None
        except BaseException as e:
            if gen is not None:
                gen.close()
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(trained, Trained) and (full := no_room(e, self.root)) is not None:
                return self._no_room(key, full)  # the AE is trained; only its copy is not kept
            raise

    def _no_room(self, key: PretrainKey, e: OSError) -> OSError:
        log.warning("no room to keep pretrained entry %s in %s; the run goes on without "
                    "keeping it", key.id, self.root)
        return e

    # ---------------------------------------------------------------- listing and deleting
    def list(self) -> list[dict]:
        """One row per entry, newest first: id, summary, size, created, seconds, final loss."""
        if not self.root.is_dir():
            return []
        rows = []
        for p in self.root.iterdir():
            if not p.is_dir() or not ID_RE.match(p.name):
                continue
            try:
                meta = json.loads((p / "meta.json").read_text())
                key = meta["key"]
                row = {"id": p.name, "summary": summarize(key), "key": key,
                       "created": _number(meta.get("created")),
                       "seconds": _number(meta.get("seconds")), "epochs": meta.get("epochs"),
                       "final_loss": _number(meta.get("final_loss")),
                       "flops": _number(meta.get("flops")),
                       "about": meta["about"] if isinstance(meta.get("about"), dict) else {},
                       "damaged": False}
            except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
                try:
                    created = p.stat().st_mtime
                except FileNotFoundError:  # deleted (or swapped by a refresh) while we listed
                    continue
                row = {"id": p.name, "summary": "(damaged: meta.json unreadable)", "key": None,
                       "created": created, "seconds": None, "epochs": None,
                       "final_loss": None, "flops": None, "about": {}, "damaged": True}
            row["bytes"] = _dir_size(p)
            rows.append(row)
        return sorted(rows, key=lambda r: r["created"] or 0.0, reverse=True)

    def delete(self, entry_id: str) -> bool:
        """Remove one entry; False if it is not there or is being built right now."""
        path = self.path_of(entry_id)
        with self._locked(entry_id, wait=False) as got:
            if not got or not path.exists():
                return False
            shutil.rmtree(path)
            return True

    def clear(self) -> tuple[int, int]:
        """Remove every entry that is not in use, and leftovers of killed pretrainings.
        Returns (removed, skipped because busy)."""
        removed = skipped = 0
        if not self.root.is_dir():
            return 0, 0
        for row in self.list():
            if self.delete(row["id"]):
                removed += 1
            else:
                skipped += 1
        for tmp in self.root.glob(".tmp-*"):
            entry_id = tmp.name.split("-")[1]
            if ID_RE.match(entry_id):
                with self._locked(entry_id, wait=False) as got:
                    if got:
                        shutil.rmtree(tmp, ignore_errors=True)
        return removed, skipped


# =========================================================================== the AE base's seam

def autoencoder_arch(ae: torch.nn.Module) -> dict:
    """The architecture part of a key: class, layer shapes, a readable summary, and the sha256
    of the initial weights, which pins the initialisation (scheme and seed) exactly. Call it
    before pretraining starts."""
    digest = hashlib.sha256()
    shapes = []
    for name, t in ae.state_dict().items():
        digest.update(name.encode())
        digest.update(t.detach().cpu().float().contiguous().numpy().tobytes())
        shapes.append([name, list(t.shape)])
    linears = [m for m in ae.modules() if isinstance(m, torch.nn.Linear)]
    convs = [m for m in ae.modules() if isinstance(m, torch.nn.Conv2d)]
    if convs:
        shape = "x".join(str(s) for s in getattr(ae, "image_shape", ()))
        summary = (f"conv {shape} " + "-".join(str(c.out_channels) for c in convs)
                   + f"-{getattr(ae, 'latent_dim', '?')}")
    elif linears:
        encoder = linears[:len(linears) // 2] or linears
        kind = "linear" if type(ae).__name__.startswith("Linear") else "mlp"
        summary = f"{kind} " + "-".join(str(s) for s in [encoder[0].in_features,
                                                        *(m.out_features for m in encoder)])
    else:
        summary = type(ae).__name__
    return {"class": type(ae).__name__, "summary": summary, "params": shapes,
            "init_sha256": digest.hexdigest()}


def forward_flops(ae: torch.nn.Module, input_dim: int) -> float:
    """Floating-point operations of one sample's forward pass through ``ae``: 2 per
    multiply-add of its linear, conv and transposed-conv layers (the rest is negligible),
    counted with forward hooks on one zero sample. A training step costs about three times this
    (the backward pass twice the forward)."""
    total = [0.0]

    def count(m, inputs, output):
        if isinstance(m, torch.nn.Linear):
            total[0] += 2.0 * m.in_features * m.out_features
        elif isinstance(m, torch.nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
            total[0] += 2.0 * output.numel() * k
        elif isinstance(m, torch.nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            total[0] += 2.0 * inputs[0].numel() * k

    hooks = [m.register_forward_hook(count) for m in ae.modules()
             if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    try:
        device = next(ae.parameters()).device
        with torch.no_grad():
            ae(torch.zeros(1, int(input_dim), device=device))
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def rng_fingerprint(generator: torch.Generator | None = None,
                    rng: np.random.Generator | None = None) -> str:
    """sha256 of the generators' states where pretraining starts to draw from them."""
    return hashlib.sha256(json.dumps(capture_rng(generator, rng), sort_keys=True).encode()).hexdigest()


def keep_frames(snapshots: list, every: int) -> list:
    """The stored pretraining snapshots that a run with ``snapshot_every = every`` would have
    made: epoch 0, every ``every``-th epoch and the last (the entry may hold more, if the run
    that made it took them more often; never fewer than it took)."""
    if not snapshots:
        return []
    last = max(s.epoch for s in snapshots)
    return [s for s in snapshots if s.epoch == 0 or s.epoch % every == 0 or s.epoch == last]

PRETRAINED_MODES = ("reuse", "refresh", "off")


def map_yields(gen: Generator, fn: Callable) -> Generator:
    """Yield ``fn(item)`` for every item of ``gen``; return what ``gen`` returns."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        yield fn(item)


def pretrain_through_store(mode: str, key: PretrainKey | None,
                           train_fn: Callable[[], Generator[Any, None, Trained]],
                           restore_fn: Callable[[Entry], None], *,
                           check: Callable[[], None] | None = None,
                           store: PretrainedStore | None = None) -> Generator[Any, None, dict | None]:
    """The pretraining of an AE method, through the store according to ``mode``:

    - ``reuse``: load the entry for ``key`` if it is there (``restore_fn(entry)`` puts its weights
      and random-generator states in place; the snapshots it returns, or else all the entry's,
      are yielded again), else train and save it;
    - ``refresh``: train and save, replacing any entry for ``key``;
    - ``off``: train, and never read or write the store (``key`` may be None).

    A store whose folder cannot be made or written is not used: the run trains as with
    ``off``, logs a warning, and its record says why (``store_error``).

    Yields the pretraining snapshots (live, or replayed); returns what the run records about the
    entry (:meth:`Entry.record`), or None with ``off``.
    """
    if mode not in PRETRAINED_MODES:
        raise ValueError(f"pretrained must be one of {PRETRAINED_MODES}, got {mode!r}")
    if mode == "off":
        yield from train_fn()
        return None
    store = store or PretrainedStore()
    problem = store.unusable()
    if problem:  # the store only saves time: the run goes on without it, and says so
        log.warning("the pretrained-AE store at %s cannot be used (%s); this run pretrains "
                    "without it", store.root, problem)
        yield from train_fn()
        return {"entry": None, "hit": False, "store_error": f"{store.root}: {problem}"}
    entry, hit = yield from store.get_or_train(key, train_fn, refresh=mode == "refresh", check=check)
    if entry is None:  # trained, but the store's disk had no room to keep it
        return {"entry": None, "hit": False,
                "store_error": f"{store.root}: no room on its disk to keep the pretrained AE"}
    if hit:
        replay = restore_fn(entry)
        yield from (entry.snapshots if replay is None else replay)
    return entry.record(hit)


# =========================================================================== what a page says about entries
# (before a run: dcviz.runs.pretraining, which sits above the methods)

def ago(t, now: float) -> str:
    """ "just now", "40 s ago", "3 min ago", "2 h ago", "4 days ago"."""
    t = finite_number(t)
    if t is None:
        return "at an unknown time"
    s = max(0.0, now - t)
    if s < 5:
        return "just now"
    if s < 86400:
        return f"{format_seconds(s)} ago"
    return f"{s / 86400:.0f} days ago"


def entry_facts(meta: dict | None, now: float) -> str:
    """ "trained 3 min ago, 200 epochs, loss 0.012" from an entry's meta (or a run's record)."""
    meta = meta or {}
    parts = [f"trained {ago(meta.get('created'), now)}"]
    if isinstance(meta.get("epochs"), int):
        parts.append(f"{meta['epochs']} epochs")
    loss = _number(meta.get("final_loss"))
    if loss is not None:
        parts.append(f"loss {loss:.3g}")
    return ", ".join(parts)


def short_id(entry_id) -> str:
    """The first 8 hex digits of an entry id: enough to tell entries apart on a page."""
    return str(entry_id)[:8]


def run_provenance(config: dict, store: PretrainedStore | None = None,
                   now: float | None = None) -> str | None:
    """Which pretrained AE a run started from, in one paragraph, from its config.json (the
    record the engine writes, and the ``pretrained`` mode); None for a method without AE
    pretraining. ``store`` (when given) says whether the entry is still there."""
    now = time.time() if now is None else now
    cfg = config.get("config") if isinstance(config.get("config"), dict) else {}
    if "pretrain_epochs" not in cfg:
        return None
    record = config.get("pretrained")
    if cfg.get("pretrained") == "off":
        return ("Pretrained-AE store off: this run pretrained its own autoencoder and did not "
                "keep it.")
    if int(cfg.get("pretrain_epochs") or 0) <= 0:
        return "No pretraining: this run started from an untrained autoencoder."
    if isinstance(record, dict) and record.get("store_error"):
        return (f"The pretrained-AE store could not be used ({record['store_error']}): this "
                "run pretrained its own autoencoder and did not keep it.")
    if not isinstance(record, dict) or not isinstance(record.get("entry"), str):
        return ("No pretrained-AE record: a run from before the store, or one that has not "
                "finished its pretraining yet.")
    rid = short_id(record["entry"])
    facts = entry_facts(record, now).replace("trained ", "created ", 1)
    summary = f" ({record['summary']})" if record.get("summary") else ""
    if record.get("hit"):
        seconds = _number(record.get("seconds"))
        saved = f"; it saved {format_seconds(seconds)} of pretraining" if seconds else ""
        text = (f"Started from pretrained AE {rid}{summary}: {facts}. Pretraining was skipped"
                f"{saved}, and the pretraining epochs shown are the entry's.")
    else:
        text = (f"Trained in this run: pretrained AE {rid}{summary}, {facts}, kept in the store "
                "for later runs with the same data, net, recipe and seed.")
        if record.get("repaired"):
            text += f" (A damaged entry with this key was trained again: {record['repaired']}.)"
    if store is not None:
        try:
            there = store.path_of(record["entry"]).is_dir()
        except (ValueError, OSError):
            there = False
        text += (" The entry is still in the store." if there else
                 " The entry is no longer in the store.")
    return text


def display_row(row: dict, now: float | None = None) -> dict:
    """One entry of :meth:`PretrainedStore.list` as the app's table shows it (plain strings)."""
    now = time.time() if now is None else now
    about = row.get("about") or {}
    seconds = row.get("seconds")
    done = ", ".join(p for p in (
        f"{format_seconds(seconds)}" if seconds else "",
        f"{row['epochs']} epochs" if isinstance(row.get("epochs"), int) else "",
        f"loss {row['final_loss']:.3g}" if row.get("final_loss") is not None else "") if p)
    return {"entry": short_id(row["id"]), "autoencoder": row.get("summary", ""),
            "data": str(about.get("data", "")), "made by": str(about.get("method", "")),
            "pretraining": done or "–", "created": ago(row.get("created"), now),
            "size": format_bytes(row.get("bytes") or 0)}


def shared_ae_letters(records: dict[str, Any]) -> dict[str, str]:
    """A letter per pretrained AE among runs (run id -> its config's ``pretrained`` record):
    runs that started from the same entry get the same letter (A, B, ... in order of first
    appearance); runs with no entry get "". Same letter: a fair comparison, as the papers make
    it (one AE, several clustering methods)."""
    letters: dict[str, str] = {}
    out = {}
    for run_id, record in records.items():
        entry = record.get("entry") if isinstance(record, dict) else None
        if not isinstance(entry, str):
            out[run_id] = ""
            continue
        if entry not in letters:
            n = len(letters)
            letters[entry] = chr(ord("A") + n % 26) + (str(n // 26) if n >= 26 else "")
        out[run_id] = letters[entry]
    return out


def shared_ae_note(letters: dict[str, str], names: dict[str, str]) -> str | None:
    """One sentence on which runs started from the same pretrained AE (run id -> letter from
    :func:`shared_ae_letters`, run id -> the name the page shows); None when no run has one.
    Runs with no stored AE (one stopped while pretraining, one trained with the store off) are
    named as such: "each its own" is said only when every run has one."""
    groups: dict[str, list[str]] = {}
    for run_id, letter in letters.items():
        if letter:
            groups.setdefault(letter, []).append(names.get(run_id, run_id))
    if not groups:
        return None
    none = [names.get(i, i) for i, letter in letters.items() if not letter]
    no_ae = f"no stored AE: {', '.join(none)}" if none else ""
    shared = {k: v for k, v in groups.items() if len(v) > 1}
    if not shared:
        if not none:
            return (f"Each run started from its own pretrained autoencoder "
                    f"({', '.join('AE ' + k for k in groups)}): their differences include the "
                    "pretraining, not only the clustering.")
        has = [f"AE {k}: {v[0]}" for k, v in groups.items()]
        return ("No two runs started from the same pretrained autoencoder ("
                + "; ".join(has + [no_ae]) + "): their differences include the pretraining, "
                "not only the clustering.")
    parts = [f"AE {k}: {', '.join(v)}" for k, v in shared.items()]
    own = [f"AE {k}: {v[0]}" for k, v in groups.items() if len(v) == 1]
    return ("Started from the same pretrained autoencoder, so they differ only in how they "
            "cluster (the fair comparison the papers make): " + "; ".join(parts) + "."
            + (f" Own AE: {'; '.join(own)}." if own else "")
            + (f" No stored AE: {', '.join(none)}." if none else ""))
