"""Before a run exists: the pretraining it would do, and what the store holds for it.

The Train page asks, before Launch, whether a run's pretrained autoencoder is already in the
store (then pretraining is skipped) or how long pretraining will take. A run's store key depends
on the built net (its initial weights) and on where the run's generators stand, so the method is
built here as the engine builds it; nothing is trained. This module sits above the methods and
the run engine (:mod:`dcviz.pretrained` sits below the methods, which use it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from dcviz.methods.ae_kmeans import AEMethod
from dcviz.methods.base import Context
from dcviz.nets import set_seed
from dcviz.plaintext import format_seconds
from dcviz.pretrained import PretrainedStore, PretrainKey, entry_facts
from dcviz.runs.engine import _BUILD_LOCK


#: GFLOP/s assumed for a pretraining estimate before any pretraining has been measured on this
#: machine's device kind: about what one busy CPU core gives these nets, and a modest GPU.
DEFAULT_GFLOPS = {"cpu": 20.0, "cuda": 2000.0, "mps": 200.0}
#: how many of the newest entries on the same device kind the speed is measured from
RATE_ENTRIES = 5


@dataclass
class PretrainPlan:
    """What a run of one method, config and data would do about its pretraining."""

    mode: str                # reuse | refresh | off
    key: PretrainKey | None  # None with "off"
    epochs: int
    flops: float             # of the whole pretraining
    device: str              # the device kind: cpu, cuda, mps
    net: str = ""            # the autoencoder's class (conv nets run at another speed than MLPs)


def ae_methods() -> list[type[AEMethod]]:
    """The registered methods that start from a pretrained autoencoder (subclasses of
    AEMethod), by id: what the store's entries serve."""
    from dcviz.methods import REGISTRY
    return [c for _, c in sorted(REGISTRY.items()) if issubclass(c, AEMethod)]


def plan_pretraining(cls, cfg, data, fingerprint: dict | None = None) -> PretrainPlan | None:
    """The pretraining a run of ``cls`` with ``cfg`` on ``data`` would do, worked out without
    running it: the method is built as the engine builds it (seeded, under the engine's build
    lock, with torch's global generator put back after), so its key is the run's key. None for
    a method without AE pretraining, or with 0 pretraining epochs. Costs one build and a hash
    of the data (``fingerprint`` skips the hash), no training."""
    if not (isinstance(cls, type) and issubclass(cls, AEMethod)) or cfg.pretrain_epochs <= 0:
        return None
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]):
        set_seed(cfg.seed)
        method = cls(cfg)
        method.build(data.dim, data.image_shape)
    ctx = Context(seed=cfg.seed, device=method.device)
    key = method.pretrain_key(data, ctx, fingerprint) if cfg.pretrained != "off" else None
    return PretrainPlan(mode=cfg.pretrained, key=key, epochs=int(cfg.pretrain_epochs),
                        flops=float(method.pretrain_flops(data.n)), device=method.device.type,
                        net=type(method.ae).__name__)


def measured_rate(rows: list[dict], device: str, net: str = "") -> tuple[float, int]:
    """(GFLOP/s, how many entries it comes from): the median speed of the newest
    :data:`RATE_ENTRIES` entries pretrained on ``device`` (store rows, newest first), counting
    their snapshots' k-means too, as a run pays them; those of the same ``net`` class when there
    are some (a conv net runs at another speed than an MLP); the default guess when there are
    none."""
    def speeds(same_net: bool) -> list[float]:
        return [r["flops"] / r["seconds"] / 1e9 for r in rows
                if r.get("flops") and r.get("seconds") and r["seconds"] > 0
                and isinstance(r.get("key"), dict)
                and (r["key"].get("recipe") or {}).get("device") == device
                and (not same_net or (r["key"].get("arch") or {}).get("class") == net)
                ][:RATE_ENTRIES]
    rates = (net and speeds(True)) or speeds(False)
    if not rates:
        return DEFAULT_GFLOPS.get(device, DEFAULT_GFLOPS["cpu"]), 0
    return float(np.median(rates)), len(rates)


@dataclass
class PretrainStatus:
    """The Train page's line before Launch: is the pretrained AE there, or how long it takes."""

    state: str              # found (skipped) | train | building (by another run) | refresh | off
                            # | unusable (the store's folder cannot be made or written)
    entry: dict | None      # the found entry's meta (with reuse or refresh)
    estimate_s: float       # seconds of pretraining if it runs
    measured: int           # entries the speed estimate comes from (0: a default guess)
    problem: str | None = None  # why the store is unusable

    def text(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        about = f"about {format_seconds(self.estimate_s)}"
        basis = (f"estimated from {self.measured} pretraining{'s' * (self.measured > 1)} "
                 "measured here" if self.measured else
                 "a rough guess: no pretraining has been measured on this machine yet")
        if self.state == "found":
            return f"Pretrained AE found: {entry_facts(self.entry, now)}; pretraining is skipped."
        if self.state == "building":
            return ("Another run is pretraining this AE right now: this run will wait for it "
                    f"({about} in all, {basis}) and then reuse it.")
        if self.state == "refresh":
            there = (f"A pretrained AE is there ({entry_facts(self.entry, now)}), but refresh "
                     "trains it again" if self.entry else "No pretrained AE yet; refresh trains one")
            return f"{there}: {about} ({basis}), then it replaces the entry."
        if self.state == "off":
            return (f"Pretrained-AE store off: the AE will be pretrained in this run, {about} "
                    f"({basis}), and not kept.")
        if self.state == "unusable":
            return (f"The pretrained-AE store cannot be used ({self.problem}): the AE will be "
                    f"pretrained in this run, {about} ({basis}), and not kept.")
        return (f"No pretrained AE yet for this data, net, recipe and seed: it will be "
                f"pretrained, {about} ({basis}), and kept for the next run.")


def pretrain_status(plan: PretrainPlan, store: PretrainedStore | None = None) -> PretrainStatus:
    """Look ``plan``'s key up (a read of one meta.json, nothing is loaded) and estimate the
    pretraining from the speed of earlier pretrainings in the store. With ``off`` the store is
    never touched (no lookup, no listing)."""
    store = store or PretrainedStore()
    problem = None if plan.mode == "off" else store.unusable(dry=True)
    if problem:
        rate, measured = measured_rate([], plan.device, plan.net)
        return PretrainStatus(state="unusable", entry=None, estimate_s=plan.flops / (rate * 1e9),
                              measured=measured, problem=f"{store.root}: {problem}")
    rows = [] if plan.mode == "off" else store.list()
    rate, measured = measured_rate(rows, plan.device, plan.net)
    estimate = plan.flops / (rate * 1e9)
    found = None if plan.key is None else store.lookup(plan.key)
    state = {"off": "off", "refresh": "refresh"}.get(plan.mode, "found" if found else "train")
    if state == "train" and store.building(plan.key):
        state = "building"
    return PretrainStatus(state=state, entry=found, estimate_s=estimate, measured=measured)
