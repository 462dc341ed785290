"""Running one method on one data set into a run folder. Threads (RunManager) and the CLI share it."""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch

from dcviz.methods import get_method
from dcviz.methods.base import (BaseConfig, ConfigError, Context, Method, RunStopped,
                                choose_subsample, resolve_device)
from dcviz.nets import set_seed
from dcviz.runs.store import (DATA_SCALE, TEMP_RE, RunDir, RunStore, RunStoreError, _json_default,
                              _status_lock, atomic_write_bytes, check_model_size, data_scale,
                              new_run_id, package_versions)
from dcviz.safeio import DiskFull, no_room

if TYPE_CHECKING:
    from dcviz.data import Dataset

# nn.Module initialisation draws from torch's global RNG; two runs building nets at the same time
# in two threads would interleave their draws, so builds are serialised.
_BUILD_LOCK = threading.Lock()


#: seeds go to numpy's legacy RandomState (sklearn), torch and Python: 0..2**32-1 suits all
MAX_SEED = 2**32 - 1
MAX_NAME = 100


def clean_name(name) -> str:
    """A run name as stored: one line, no control characters, at most MAX_NAME characters."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+", " ", str(name or ""))
    return re.sub(r"\s+", " ", text).strip()[:MAX_NAME]


def prepare(method_id: str, data: Dataset, config: dict | None = None, preset: str = "quick"):
    """Validate a launch before anything is written: method, config, seed, device, k against
    N, and the model's size against this machine."""
    cls = get_method(method_id)
    cfg = cls.Config.from_preset(preset, **(config or {}))
    cfg.validate(n_samples=data.n)
    if data.n < 2:
        raise ConfigError("the data set has fewer than 2 points")
    if not 0 <= int(cfg.seed) <= MAX_SEED:
        raise ConfigError(f"seed must be between 0 and {MAX_SEED} (2**32 - 1), got {cfg.seed}")
    resolve_device(cfg.device)  # ConfigError for cuda/mps on a machine without them
    check_build(cls, cfg, data.dim, data.image_shape)
    check_model_size(cls, cfg, data.dim, data.image_shape, error=ConfigError)
    return cls, cfg


def check_build(cls: type[Method], cfg, input_dim: int, image_shape) -> None:
    """Build the method on PyTorch's meta device, which allocates nothing, so that a config
    that does not fit the data (arch=conv on vectors, conv nets on images under 4x4, ACe/DeC's
    augmentation on vectors) is a ConfigError here and not a failed run folder later.

    Only ConfigError and ValueError count: they are how builds say "not this data". Anything
    else (a build that needs real tensors) is left to the run itself."""
    try:
        # under the build lock, with torch's global generator put back after, as
        # plan_pretraining does: a check must not move the draws of a run building beside it
        with _BUILD_LOCK, torch.random.fork_rng(devices=[]), torch.device("meta"):
            m = cls(cfg)
            m.device = torch.device("meta")
            m.build(int(input_dim), tuple(image_shape) if image_shape else None)
    except ValueError as e:  # ConfigError is a ValueError
        kind = ("{}x{}x{} images".format(*image_shape) if image_shape
                else f"vectors of {int(input_dim)} features")
        hint = ""
        if not isinstance(e, ConfigError) and "arch" in str(e):  # the nets' words lack the fix
            hint = "; choose another arch (auto picks one that fits the data)"
        raise ConfigError(f"{cls.title} cannot be built for this data ({kind}): {e}{hint}") from None
    except Exception:  # noqa: BLE001 - not a verdict on the config; the run will say
        pass


def create_run(store: RunStore, cls: type[Method], cfg, data: Dataset, preset: str,
               name: str = "", run_id: str | None = None) -> RunDir:
    """Make the run folder: config.json, status.json (queued) and the fixed subsample."""
    run_id = run_id or new_run_id(cls.id)
    rd = store.create(run_id)
    try:
        rd.write_config({
            "run_id": run_id, "name": clean_name(name), "tags": [], "method": cls.id,
            "method_title": cls.title, "preset": preset, "config": cfg.to_dict(), "seed": cfg.seed,
            "data": data.spec, "data_name": data.name, "n_samples": data.n, "input_dim": data.dim,
            "image_shape": list(data.image_shape or []), "has_labels": data.y is not None,
            "created": time.time(), "versions": package_versions(),
            # for the Checkpoints page's scale warning where the data is not on this machine
            DATA_SCALE: data_scale(data.x)})
        rd.write_subsample(choose_subsample(data.n, cfg.subsample, cfg.seed))
        rd.write_status("queued")
    except BaseException as e:
        shutil.rmtree(rd.path, ignore_errors=True)  # half made, it would list as a run of no state
        if no_room(e, store.root) is not None:
            raise DiskFull(store.root) from e
        raise
    return rd


#: a checkpoint is taken after this many snapshots or this many seconds of training since the
#: last one, whichever comes first, so that a killed run keeps a recent model
CHECKPOINT_EVERY = 10
CHECKPOINT_SECONDS = 60.0


# --------------------------------------------------------------------------- resuming

@dataclass
class Resume:
    """An interrupted run, checked, and where it goes on from (:func:`prepare_resume`)."""

    cls: type[Method]
    cfg: BaseConfig
    data: Dataset
    #: snapshots kept: the run goes on with snapshot number ``start``
    start: int
    #: snapshots written after the checkpoint: deleted, and made again by the resumed run
    dropped: int
    #: the checkpoint (weights, position, optimiser and generator states), or None when the
    #: run has no point to resume from yet and starts again from the beginning
    checkpoint: dict | None

    def record(self) -> dict:
        """What status.json keeps about this resume (its ``resumes`` list)."""
        return {"at": time.time(), "from_snapshot": self.start, "dropped": self.dropped,
                "from_checkpoint": self.checkpoint is not None}


def not_interrupted(run_id: str, status: dict) -> str:
    """Why a run in ``status`` cannot be resumed (it is not interrupted)."""
    state = status.get("state")
    if state == "done":
        return f"run {run_id} is done; there is nothing to resume"
    if state in ("stopped", "failed"):
        how = "was stopped" if state == "stopped" else "failed"
        return (f"run {run_id} {how}; only a run whose process was killed can be resumed. "
                "Re-run it to train it again")
    if state in ("queued", "running", "paused"):
        return (f"run {run_id} is still {state} (process {status.get('pid')}); only a run whose "
                "process has ended can be resumed")
    return f"run {run_id} is {state}; it cannot be resumed"


def _resume_record(blob: dict) -> dict | None:
    """The checkpoint's resume record if it is whole (RunStoreError if it is there but bad)."""
    rec = blob.get("resume")
    if rec is None:
        return None
    ok = (isinstance(rec, dict) and isinstance(rec.get("position"), dict)
          and isinstance(rec["position"].get("phase"), str)
          and isinstance(rec.get("optimizers"), dict) and isinstance(rec.get("rng"), dict)
          and isinstance(rec["rng"].get("torch"), torch.Tensor)
          and isinstance(rec["rng"].get("numpy"), dict))
    if not ok:
        raise RunStoreError("checkpoint.pt's resume record is damaged; re-run the run instead")
    return rec


def prepare_resume(rd: RunDir, interrupted: bool | None = None) -> Resume:
    """Check that the run in ``rd`` can go on here, before anything on disk changes: it is
    interrupted (active on disk, its process gone; ``interrupted`` is the caller's own finding,
    else status.json's), its method can resume, its data loads and still matches, its config
    is valid here, and its checkpoint (if any) belongs to it. ConfigError, DataError or
    RunStoreError say why not."""
    from dcviz import data as D
    from dcviz.runs.manage import data_withheld

    problem = rd.check(deep=False)
    if problem:
        raise RunStoreError(f"{problem}; it cannot be resumed")
    status = rd.read_status()
    if interrupted is None:
        interrupted = status.get("state") == "interrupted"
    if not interrupted:
        raise ConfigError(not_interrupted(rd.run_id, status))
    config = rd.read_config()
    cls = get_method(config["method"])
    if not cls.resumable:
        raise ConfigError(f"{cls.title} cannot resume: its training does not record where it "
                          "stands. Start it again (re-run it)")
    withheld = data_withheld(config)
    if withheld:
        raise ConfigError(f"run {rd.run_id} cannot be resumed here: {withheld}")
    data = D.load(config["data"])
    if (data.n, data.dim) != (config.get("n_samples"), config.get("input_dim")):
        raise ConfigError(f"run {rd.run_id} trained on {config.get('n_samples')} points x "
                          f"{config.get('input_dim')} features, but its data set now has "
                          f"{data.n} x {data.dim}; it cannot be resumed")
    cfg = cls.Config.from_dict(config.get("config") or {})
    cfg.validate(n_samples=data.n)
    resolve_device(cfg.device)
    count = rd.count()
    blob = rd.read_checkpoint() if rd.has_checkpoint() else None
    if not isinstance(blob, dict) or _resume_record(blob) is None:
        # no point to resume from (the run was killed before its first checkpoint): every
        # snapshot it has is less than one checkpoint interval of work
        return Resume(cls, cfg, data, start=0, dropped=count, checkpoint=None)
    taken = blob.get("snapshots")
    if isinstance(taken, bool) or not isinstance(taken, int) or not 1 <= taken <= count:
        raise RunStoreError(f"run {rd.run_id}: checkpoint.pt was taken after {taken!r} "
                            f"snapshots, but the run has {count}; it cannot be resumed")
    if blob.get("method") != cls.id or blob.get("config") != cfg.to_dict():
        raise RunStoreError(f"run {rd.run_id}: checkpoint.pt was saved by another method or "
                            "config than config.json holds; it cannot be resumed")
    return Resume(cls, cfg, data, start=taken, dropped=count - taken, checkpoint=blob)


def drop_snapshots_from(rd: RunDir, start: int) -> None:
    """Delete the snapshots numbered ``start`` and up, last first (so that the numbers never
    have a gap, even if this is killed half-way), their lines of metrics.jsonl, and the
    temporary files of writes that a kill cut short."""
    for i in reversed(rd.snapshot_numbers()):
        if i < start:
            break
        (rd.path / "snapshots" / f"{i:06d}.npz").unlink(missing_ok=True)
    rows = {r["index"]: r for r in rd.metrics_rows()
            if isinstance(r, dict) and isinstance(r.get("index"), int) and 0 <= r["index"] < start}
    atomic_write_bytes(rd.path / "metrics.jsonl", "".join(
        json.dumps(rows[i], default=_json_default) + "\n" for i in sorted(rows)).encode())
    for folder in (rd.path, rd.path / "snapshots"):
        if folder.is_dir():
            for f in folder.iterdir():
                if TEMP_RE.match(f.name) and f.is_file():
                    f.unlink(missing_ok=True)


# --------------------------------------------------------------------------- training

def execute(rd: RunDir, cls: type[Method], cfg, data: Dataset, *, pause_event=None, stop_event=None,
            on_snapshot: Callable | None = None, status_lock=None,
            resume: Resume | None = None) -> dict:
    """Train, writing every snapshot and the checkpoint; returns the final status dict.

    Never raises for a failure of the method: the run is marked failed with the error text.
    The final state is written with the final metrics, in one write. ``status_lock`` (the
    manager's lock of this run) is held for writes that race with pause/resume.

    ``resume`` (from :func:`prepare_resume`) continues an interrupted run in the same folder:
    the snapshots after its checkpoint are dropped, the method is rebuilt with the
    checkpoint's weights, and fit goes on from where the checkpoint was taken, so that the
    snapshot numbers go on without a gap.
    """
    lock = status_lock if status_lock is not None else threading.Lock()
    start = time.time()
    method = ctx = None
    position = None  # where fit stood at the latest snapshot (ctx.at), for resumable checkpoints
    blob = resume.checkpoint if resume is not None else None

    def save(resumable: bool = True):
        if method is None:
            return
        extra = {"elapsed": time.time() - start}  # training seconds, carried over by a resume
        if resumable and cls.resumable and position is not None:
            extra["resume"] = ctx.resume_record(position)
        rd.save_checkpoint(method, **extra)

    last_metrics: dict = {}
    try:
        if stop_event is not None and stop_event.is_set():
            raise RunStopped()
        if resume is not None:
            drop_snapshots_from(rd, resume.start)
            start -= float(blob.get("elapsed") or 0.0) if blob else 0.0
        with lock:
            paused = pause_event is not None and not pause_event.is_set()
            current = rd.read_status(raw=True)
            if resume is not None:  # this process writes the run now (status.json's pid)
                history = current.get("resumes") if isinstance(current.get("resumes"), list) else []
                # error=None: the full disk that cut it off (out_of_room) is over
                rd.write_status("paused" if paused else "running", error=None,
                                resumes=[*history, resume.record()])
            elif current.get("state") not in ("running", "paused"):
                rd.write_status("paused" if paused else "running", started=start)
        ctx = Context(seed=cfg.seed, device=cfg.device, subsample=rd.read_subsample(),
                      pause_event=pause_event, stop_event=stop_event, on_checkpoint=save,
                      resume=blob["resume"] if blob else None)
        with _BUILD_LOCK:
            set_seed(cfg.seed)
            method = cls(cfg)
            method.build(data.dim, data.image_shape)
        if blob:
            method.load_state_dict(blob["state"])
        since, last_save = 0, time.time()
        pretrained = rd.read_config().get("pretrained") if resume is not None else None
        for snap in method.fit(data, ctx):
            if pretrained is None and getattr(method, "pretrained_record", None):
                # the pretrained AE this run started from (dcviz.pretrained), once it is known
                pretrained = method.pretrained_record
                rd.update_config(pretrained=pretrained)
            position = ctx.take_position()
            index = rd.append_snapshot(snap, extras_type=cls.Extras)
            last_metrics = snap.metrics
            if on_snapshot is not None:
                on_snapshot(index, snap)
            since += 1
            due = since >= CHECKPOINT_EVERY or time.time() - last_save >= CHECKPOINT_SECONDS
            # a resumable method's last checkpoint is kept until a snapshot says where fit
            # stands (ACe/DeC's warm-up rounds do not): a checkpoint that cannot be resumed from
            # would make a run killed there start again from nothing
            if due and not (cls.resumable and position is None):
                try:
                    save()
                except Exception as e:  # noqa: BLE001 - a state not yet complete (e.g. no
                    # centroids before the first k-means): the next snapshot tries again. A
                    # full disk stops the run here, with the last checkpoint that was written
                    if no_room(e, rd.path) is not None:
                        raise
                else:
                    since, last_save = 0, time.time()
        save()
        extra = {"pretrained": pretrained} if pretrained else {}
        return rd.write_status("done", seconds=time.time() - start, metrics=last_metrics,
                               finished=time.time(), progress=1.0, **extra)
    except RunStopped:
        try:
            save(resumable=False)  # stopped mid-epoch: the weights are past the last position
        except Exception:  # noqa: BLE001 - a half-built method has nothing worth saving
            pass
        return rd.write_status("stopped", seconds=time.time() - start, metrics=last_metrics,
                               finished=time.time())
    except Exception as e:  # noqa: BLE001 - any error of a method becomes a failed run
        if (full := no_room(e, rd.path)) is not None:
            return out_of_room(rd, full, resumable=cls.resumable, lock=lock)
        return rd.write_status("failed", seconds=time.time() - start, metrics=last_metrics,
                               error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(),
                               finished=time.time())


def out_of_room(rd: RunDir, e: OSError, resumable: bool = True, lock=None) -> dict:
    """What a run that ran out of disk reports: "interrupted", with a message that names the
    full disk and says what to do. Not "failed": a failed run is ended for good, and this one
    can go on from its last checkpoint once there is room (``resumable``: its method can
    resume; otherwise it has to be re-run).

    The temporary files of the writes that the full disk cut short are removed first (they hold
    space), then status.json is told, best effort and under ``lock`` (the manager's lock of the
    run, which the page's pause / resume also hold): "interrupted" is not active, so every reader,
    in any process, sees the run as cut off, and ``dcviz resume`` and the app's Resume accept it.
    Where even that write fails, status.json still says "running" under this process; the
    returned dict is then the only record (``written`` False), and this process's readers rely on
    the run's thread being gone (:func:`dcviz.runs.manager.seen_from_here`). ``unsaved``: what
    the run did since its last checkpoint is lost."""
    kept = rd.count()
    then = ("Free some space, then resume it (Resume in the app, or python -m dcviz resume "
            f"{rd.run_id}): it goes on from its last checkpoint" if resumable else
            "Free some space, then re-run it: its method cannot resume")
    error = (f"the disk holding {rd.path} is full; the run stopped at its last snapshot "
             f"({kept} kept). {then}")
    _remove_temps(rd, rd.path / "snapshots")  # a half-written snapshot holds what the disk lacks
    try:
        with lock if lock is not None else threading.Lock():
            written = rd.write_status("interrupted", error=error).get("state") == "interrupted"
    except OSError:
        written = False
        try:
            with _status_lock(rd.path):  # no status write of this run is under way meanwhile
                _remove_temps(rd, rd.path, prefix=".status.json.")
        except OSError:
            pass
    return {"state": "interrupted", "unsaved": True, "written": written, "error": error}


def _remove_temps(rd: RunDir, folder, prefix: str = "") -> None:
    """Delete the temporary files (TEMP_RE) in ``folder`` of ``rd`` whose names start with
    ``prefix``: what writes that failed left behind."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and TEMP_RE.match(name):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
