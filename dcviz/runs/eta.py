"""How long a run has left, from its own measured speed; and how long a run of a method is
likely to take here, from earlier runs of the same method and data in the store.

Every snapshot line of metrics.jsonl carries the wall-clock ``time`` it was written and the
run's ``progress``, and status.json the ``started`` time. Progress is the share of the run's
expected WORK done, not of its epochs: each method weighs its stages by what they cost (DCRL's
fine-tuning epochs cost ~2.8 pretraining epochs, and its t-SNE initialisation, which hands over
no snapshot, ~12) and forecasts a stopping rule that ends it early (DEKM). Then speed measured
in one stage holds for the next, and the estimate below needs no model of the method.

The speed is measured at the last snapshot over the most recent half of the time elapsed until
then, not since the start: the machine's load changes, a run reusing a stored pretrained AE
replays its pretraining in a moment, and a method's weights are never exact; the recent half
follows what happens now while still averaging over several snapshots.

Between snapshots the estimate counts down with the clock for as long as that speed says the
next snapshot takes (the mean interval between the snapshots it was measured over): a steady
run's estimate falls smoothly instead of rising while it waits and dropping at each snapshot.
Only the wait beyond that counts as time spent with no progress, so a run that stalls sees its
estimate grow instead of freezing.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Sequence

from dcviz.plaintext import format_seconds

#: Below this fraction done, or with fewer snapshots than this, the speed is not yet known.
MIN_PROGRESS = 0.02
MIN_POINTS = 2


@dataclass(frozen=True)
class Estimate:
    seconds_left: float
    rate: float        # progress per second over the measured window
    window_s: float    # how many seconds of the run that speed was measured over


def progress_points(rows: Sequence[dict], started: float | None = None) -> list[tuple[float, float]]:
    """(wall time, progress) of a run from its metrics rows, with its start as progress 0."""
    pts = [(float(started), 0.0)] if started else []
    for r in rows:
        t, p = r.get("time"), r.get("progress")
        if isinstance(t, (int, float)) and isinstance(p, (int, float)) and math.isfinite(t) \
                and math.isfinite(p):
            pts.append((float(t), min(max(float(p), 0.0), 1.0)))
    return sorted(pts)


def time_left(points: Sequence[tuple[float, float]], now: float) -> Estimate | None:
    """Seconds left for a run whose progress went through ``points`` ((time, progress), in
    time order), seen at wall time ``now``; None while its speed cannot be measured yet."""
    pts = [(t, p) for t, p in points if t <= now]
    if len(pts) < MIN_POINTS:
        return None
    t_last, p_last = pts[-1]
    if p_last >= 1.0:
        return Estimate(0.0, math.inf, 0.0)
    if p_last < MIN_PROGRESS:
        return None
    t0 = pts[0][0]
    cut = t_last - 0.5 * (t_last - t0)
    # the window starts at the last point at or before the cut (so it covers the recent half)
    start = max((i for i, (t, _) in enumerate(pts) if t <= cut), default=0)
    t_a, p_a = pts[start]
    while start > 0 and p_last - p_a <= 0:  # no progress in the window: reach further back
        start -= 1
        t_a, p_a = pts[start]
    span = t_last - t_a
    if p_last <= p_a or span <= 0:
        return None
    # the next snapshot is due after the mean interval of the window; the wait until then is
    # expected (the estimate counts down), only the wait beyond it is time without progress
    due = span / (len(pts) - 1 - start)
    gap = now - t_last
    late = max(0.0, gap - due)
    rate = (p_last - p_a) / (span + late)
    return Estimate(max(0.0, (1.0 - p_last) / rate - min(gap, due)), rate, span + late)


def run_time_left(rows: Sequence[dict], status: dict, now: float) -> Estimate | None:
    """:func:`time_left` of a run from its metrics rows and status; None unless it is running."""
    if status.get("state") != "running":
        return None
    return time_left(progress_points(rows, status.get("started")), now)


def format_left(est: Estimate | None) -> str:
    """ "about 3 min left", "about 40 s left", or "" while unknown."""
    if est is None or not math.isfinite(est.seconds_left):
        return ""
    return f"about {format_seconds(est.seconds_left, step=5)} left"


#: What a running run's card says while neither its own speed nor earlier runs tell its time left.
MEASURING = "measuring speed…"


def live_left(rows: Sequence[dict], status: dict, now: float,
              expected: "Expected | None" = None) -> str:
    """What a run's card says about its time left: "" unless it is running; from its own speed
    once that is measured (:func:`run_time_left`); before that, from the earlier runs of its
    method and data here (``expected``, :func:`expected_from_store`) less the time it has run;
    else :data:`MEASURING`, so that the first snapshots' wait does not read as a stuck run."""
    if status.get("state") != "running":
        return ""
    own = run_time_left(rows, status, now)
    if own is not None:
        return format_left(own)
    started = status.get("started")
    if expected is not None and isinstance(started, (int, float)):
        left = expected.seconds - (now - float(started))
        if left > 0:
            return f"about {format_seconds(left, step=5)} left, going by earlier runs"
    return MEASURING


# --------------------------------------------------------------------------- before Launch

@dataclass(frozen=True)
class Expected:
    seconds: float     # median duration of the earlier runs
    runs: int          # how many earlier runs it is based on


def expected_duration(summaries: Sequence[dict], method: str, data: str,
                      preset: str | None = None) -> Expected | None:
    """The median duration of earlier finished runs of ``method`` on ``data`` (with ``preset``,
    when given) in the run store's summaries (RunStore.list rows, plus "preset" where known);
    None when there are none. The machine is this one, so its load and its cores are in it."""
    secs = sorted(float(r["seconds"]) for r in summaries
                  if r.get("state") == "done" and r.get("method") == method
                  and r.get("data") == data and isinstance(r.get("seconds"), (int, float))
                  and r["seconds"] > 0 and (preset is None or r.get("preset") in (None, preset)))
    if not secs:
        return None
    mid = len(secs) // 2
    median = secs[mid] if len(secs) % 2 else 0.5 * (secs[mid - 1] + secs[mid])
    return Expected(median, len(secs))


#: A run expected to take longer than this gets a warning before Launch.
LONG_RUN_S = 5 * 60


#: Config fields that do not change how long a run takes much: a run that differs from the
#: preset only in these still says what the preset takes.
TIME_NEUTRAL = frozenset({"seed", "n_clusters"})


def preset_settings(method: str, preset: str | None) -> dict | None:
    """The config fields of ``method``'s ``preset`` as a run's config.json keeps them; None when
    the method or preset is unknown here."""
    from dcviz.methods import ConfigError, get_method
    if preset is None:
        return None
    try:
        # through JSON, as config.json has them (a tuple comes back a list)
        return json.loads(json.dumps(get_method(method).Config.from_preset(preset).to_dict()))
    except (ConfigError, KeyError, ValueError, TypeError):
        return None


def same_settings(config: dict, settings: dict) -> bool:
    """Whether a run's config fields match ``settings`` but for :data:`TIME_NEUTRAL` ones."""
    return all(config.get(k) == v for k, v in settings.items() if k not in TIME_NEUTRAL)


def expected_from_store(runs: Sequence[dict], open_run, method: str, data: str,
                        preset: str | None, settings: dict | None = None) -> Expected | None:
    """:func:`expected_duration` over a run listing (RunManager.runs()); each candidate's preset
    is read from its config (``open_run(run_id)`` gives its RunDir). Only runs trained with
    ``settings`` (default: the preset's own) count: a run of the quick preset with 3 epochs
    instead of 20 says nothing of how long the quick preset takes."""
    settings = settings if settings is not None else preset_settings(method, preset)
    rows = []
    for r in runs:
        if r.get("state") == "done" and r.get("method") == method and r.get("data") == data:
            try:
                cfg = open_run(r["run_id"]).read_config()
            except (OSError, ValueError, KeyError):
                continue  # removed or damaged meanwhile
            if settings is not None and not same_settings(cfg.get("config") or {}, settings):
                continue
            rows.append({**r, "preset": cfg.get("preset")})
    return expected_duration(rows, method, data, preset)


def took_here(exp: Expected) -> str:
    """ "about 4 min on this machine (the one earlier run in the run store)"."""
    took = f"{exp.seconds:.0f} s" if exp.seconds < 60 else f"{exp.seconds / 60:.0f} min"
    basis = "the one earlier run" if exp.runs == 1 else f"the median of {exp.runs} earlier runs"
    return f"about {took} on this machine ({basis} in the run store)"


def how_long(exp: Expected | None, typical: str = "") -> str:
    """How long a run takes, for a sentence: what the earlier runs of it took on this machine
    (:func:`took_here`), else ``typical``, a static figure ("" for none)."""
    return took_here(exp) if exp is not None else typical


def duration_note(exp: Expected | None, what: str,
                  preset: str | None = None) -> tuple[str, bool]:
    """(what the Train page says before Launch, whether it is a warning). A long run of the
    quick preset is not told that the quick preset is faster."""
    if exp is None:
        return (f"No earlier run of {what} has finished here, so there is no estimate of how "
                "long it takes on this machine; once it runs, its card shows the time left.", False)
    text = f"{what} took {took_here(exp)}."
    if exp.seconds > LONG_RUN_S:
        if preset == "quick":
            return text + (" That is long for a demo: fewer epochs are faster (and the machine "
                           "may have been busy then)."), True
        return text + " That is long for a demo: the quick preset, or fewer epochs, is faster.", True
    return text, False


def compare_note(methods: Sequence[str], preset: str, seeds: int = 3) -> tuple[str, bool]:
    """(what Train's Compare methods says before it launches, whether it is a warning): how
    many runs the sweep makes and, for the quick preset, what each method's took on the digits
    (Method.quick_time). The paper preset is a warning: its runs take hours each on a CPU, and
    the sweep queues ``seeds`` of them per method."""
    from dcviz.methods import REGISTRY
    known = [m for m in methods if m in REGISTRY]
    text = f"{seeds * len(known)} runs: {len(known)} methods × {seeds} seeds, {preset} preset."
    if preset == "paper":
        return text + (" The paper preset takes hours a run on a CPU; the runs queue with your "
                       "other runs."), True
    if preset == "quick":
        times = [f"{REGISTRY[m].title} {REGISTRY[m].quick_time}" for m in known
                 if REGISTRY[m].quick_time]
        if times:
            text += (" On the digits, on an idle 2-core CPU, one quick run took: "
                     + ", ".join(times) + ".")
    return text, False
