"""Running one method on one data set into a run folder. Threads (RunManager) and the CLI share it."""
from __future__ import annotations

import re
import threading
import time
import traceback
from typing import TYPE_CHECKING, Callable

from dcviz.methods import get_method
from dcviz.methods.base import (ConfigError, Context, Method, RunStopped, choose_subsample,
                                resolve_device)
from dcviz.nets import set_seed
from dcviz.runs.store import RunDir, RunStore, check_model_size, new_run_id, package_versions

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
    check_model_size(cls, cfg, data.dim, data.image_shape, error=ConfigError)
    return cls, cfg


def create_run(store: RunStore, cls: type[Method], cfg, data: Dataset, preset: str,
               name: str = "", run_id: str | None = None) -> RunDir:
    """Make the run folder: config.json, status.json (queued) and the fixed subsample."""
    run_id = run_id or new_run_id(cls.id)
    rd = store.create(run_id)
    rd.write_config({
        "run_id": run_id, "name": clean_name(name), "tags": [], "method": cls.id, "method_title": cls.title,
        "preset": preset, "config": cfg.to_dict(), "seed": cfg.seed, "data": data.spec,
        "data_name": data.name, "n_samples": data.n, "input_dim": data.dim,
        "image_shape": list(data.image_shape or []), "has_labels": data.y is not None,
        "created": time.time(), "versions": package_versions()})
    rd.write_subsample(choose_subsample(data.n, cfg.subsample, cfg.seed))
    rd.write_status("queued")
    return rd


#: a checkpoint is taken after this many snapshots or this many seconds of training since the
#: last one, whichever comes first, so that a killed run keeps a recent model
CHECKPOINT_EVERY = 10
CHECKPOINT_SECONDS = 60.0


def execute(rd: RunDir, cls: type[Method], cfg, data: Dataset, *, pause_event=None, stop_event=None,
            on_snapshot: Callable | None = None, status_lock=None) -> dict:
    """Train, writing every snapshot and the checkpoint; returns the final status dict.

    Never raises for a failure of the method: the run is marked failed with the error text.
    The final state is written with the final metrics, in one write. ``status_lock`` (the
    manager's lock of this run) is held for writes that race with pause/resume.
    """
    lock = status_lock if status_lock is not None else threading.Lock()
    start = time.time()
    method = None

    def save():
        if method is not None:
            rd.save_checkpoint(method)

    last_metrics: dict = {}
    try:
        if stop_event is not None and stop_event.is_set():
            raise RunStopped()
        with lock:
            paused = pause_event is not None and not pause_event.is_set()
            if rd.read_status(raw=True).get("state") not in ("running", "paused"):
                rd.write_status("paused" if paused else "running", started=start)
        ctx = Context(seed=cfg.seed, device=cfg.device, subsample=rd.read_subsample(),
                      pause_event=pause_event, stop_event=stop_event, on_checkpoint=save)
        with _BUILD_LOCK:
            set_seed(cfg.seed)
            method = cls(cfg)
            method.build(data.dim, data.image_shape)
        since, last_save = 0, time.time()
        pretrained = None
        for snap in method.fit(data, ctx):
            if pretrained is None and getattr(method, "pretrained_record", None):
                # the pretrained AE this run started from (dcviz.pretrained), once it is known
                pretrained = method.pretrained_record
                rd.write_config({**rd.read_config(), "pretrained": pretrained})
            index = rd.append_snapshot(snap, extras_type=cls.Extras)
            last_metrics = snap.metrics
            if on_snapshot is not None:
                on_snapshot(index, snap)
            since += 1
            if since >= CHECKPOINT_EVERY or time.time() - last_save >= CHECKPOINT_SECONDS:
                try:
                    save()
                except Exception:  # noqa: BLE001 - a state not yet complete (e.g. no centroids
                    pass           # before the first k-means): the next snapshot tries again
                else:
                    since, last_save = 0, time.time()
        save()
        extra = {"pretrained": pretrained} if pretrained else {}
        return rd.write_status("done", seconds=time.time() - start, metrics=last_metrics,
                               finished=time.time(), progress=1.0, **extra)
    except RunStopped:
        try:
            save()
        except Exception:  # noqa: BLE001 - a half-built method has nothing worth saving
            pass
        return rd.write_status("stopped", seconds=time.time() - start, metrics=last_metrics,
                               finished=time.time())
    except Exception as e:  # noqa: BLE001 - any error of a method becomes a failed run
        return rd.write_status("failed", seconds=time.time() - start, metrics=last_metrics,
                               error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc(),
                               finished=time.time())
