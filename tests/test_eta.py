"""Time left from a run's measured speed, and the expected duration before Launch (dcviz/runs/eta.py)."""
from __future__ import annotations

import math

import pytest

from dcviz.runs.eta import (Estimate, expected_duration, format_left, progress_points,
                            run_time_left, time_left)


def steady(total_s: float, n: int, t0: float = 1000.0):
    """A run that makes even progress: n snapshots over total_s seconds."""
    return [(t0, 0.0)] + [(t0 + total_s * k / n, k / n) for k in range(1, n + 1)]


def test_steady_run_is_estimated_exactly_at_each_snapshot():
    pts = steady(600, 30)
    for k in (5, 15, 25):
        est = time_left(pts[:k + 1], now=pts[k][0])
        assert est.seconds_left == pytest.approx(600 - pts[k][0] + 1000, rel=1e-9)


def test_too_early_to_tell_and_finished():
    pts = steady(600, 100)
    assert time_left(pts[:1], now=1000.5) is None            # the start only
    assert time_left(pts[:2], now=pts[1][0]) is None         # 1 % done: not yet measured
    assert time_left(pts, now=1600).seconds_left == 0.0


def test_a_stall_makes_the_estimate_grow_rather_than_freeze():
    pts = steady(600, 30)[:16]  # half done at t=1300; a snapshot was due every 20 s
    at_once = time_left(pts, now=1300).seconds_left
    later = time_left(pts, now=1500).seconds_left   # 200 s with no new snapshot
    assert later > at_once * 1.3
    # the longer the stall, the higher the estimate, once the next snapshot is overdue
    stalled = [time_left(pts, now=1320 + 10 * k).seconds_left for k in range(1, 20)]
    assert stalled == sorted(stalled) and len(set(stalled)) == len(stalled)


def test_a_steady_run_counts_down_between_snapshots():
    """Seen every second, as the Train page's card is, a steady run's estimate falls with the
    clock: it does not rise while waiting for the next snapshot and drop when it comes (the
    sawtooth "5 min, 6, 7, 3, 4 min left")."""
    pts = steady(600, 30)   # a snapshot every 20 s
    seen = []
    for now in range(1100, 1590):
        est = time_left([p for p in pts if p[0] <= now], now=float(now))
        seen.append((now, est.seconds_left))
    for now, left in seen:
        assert left == pytest.approx(1600 - now, abs=1e-6)
    # snapshots 15 or 25 s apart (an 800 s run): the estimate stays near the truth and rises
    # little in all (counting each wait as no progress: off by 135 s, rising 1,000 s in all)
    irregular, t = [(0.0, 0.0)], 0.0
    for k in range(1, 41):
        t += 15.0 if k % 2 else 25.0
        irregular.append((t, k / 40))
    lefts = [time_left([p for p in irregular if p[0] <= now], now=float(now)).seconds_left
             for now in range(200, 790)]
    assert max(abs(left - (800 - now)) for now, left in zip(range(200, 790), lefts)) < 60
    assert sum(b - a for a, b in zip(lefts, lefts[1:]) if b > a) < 200


def test_the_speed_follows_the_current_stage():
    # a fast first stage (half the progress in 100 s), then a slow one (0.1 per 100 s)
    pts = [(0.0, 0.0)] + [(10.0 * k, 0.05 * k) for k in range(1, 11)]
    pts += [(100.0 + 100.0 * k, 0.5 + 0.1 * k) for k in range(1, 3)]      # now at 0.7, t=300
    est = time_left(pts, now=300.0)
    truth = 300.0  # 0.3 left at 0.1 per 100 s
    overall = (1 - 0.7) / (0.7 / 300.0)  # what the average since the start would say: 129 s
    assert abs(est.seconds_left - truth) < abs(overall - truth)
    assert abs(est.seconds_left - truth) / truth < 0.3


def test_rows_and_status():
    rows = [{"time": 1010.0, "progress": 0.1}, {"time": 1020.0, "progress": 0.2},
            {"time": "bad", "progress": 0.3}, {"time": 1030.0}]
    assert progress_points(rows, started=1000.0) == [(1000.0, 0.0), (1010.0, 0.1), (1020.0, 0.2)]
    status = {"state": "running", "started": 1000.0}
    assert run_time_left(rows, status, now=1020.0).seconds_left == pytest.approx(80.0)
    assert run_time_left(rows, {**status, "state": "paused"}, now=1020.0) is None


def test_before_its_own_speed_is_known_the_card_says_something():
    """Right after Launch (the first snapshots come after several epochs), the card gives the
    earlier runs' estimate where there are some, else says the speed is being measured; once
    the run's own speed is known, that wins. Nothing unless the run is running."""
    from dcviz.runs.eta import MEASURING, Expected, live_left
    status = {"state": "running", "started": 1000.0}
    first = [{"time": 1003.0, "progress": 0.0}]               # the random-init snapshot
    assert live_left(first, status, now=1010.0) == MEASURING
    assert live_left(first, status, now=1010.0, expected=Expected(250.0, 3)) == \
        "about 4 min left, going by earlier runs"
    # slower than the earlier runs: past their duration, no negative time left
    assert live_left(first, status, now=1300.0, expected=Expected(250.0, 3)) == MEASURING
    rows = first + [{"time": 1020.0, "progress": 0.1}, {"time": 1040.0, "progress": 0.2}]
    assert live_left(rows, status, now=1040.0, expected=Expected(30.0, 1)) == "about 3 min left"
    assert live_left(rows, {**status, "state": "paused"}, now=1040.0) == ""


def test_format_left():
    assert format_left(None) == ""
    assert format_left(Estimate(42, 0.01, 10)) == "about 40 s left"
    assert format_left(Estimate(610, 0.01, 10)) == "about 10 min left"
    assert format_left(Estimate(7200, 0.01, 10)) == "about 2.0 h left"
    assert format_left(Estimate(math.inf, 0.0, 10)) == ""


def test_expected_duration_is_the_median_of_earlier_finished_runs():
    rows = [{"method": "dcrl", "data": "manifolds", "state": "done", "seconds": s, "preset": "quick"}
            for s in (300.0, 100.0, 200.0)]
    rows += [{"method": "dcrl", "data": "manifolds", "state": "failed", "seconds": 5.0},
             {"method": "dcrl", "data": "digits", "state": "done", "seconds": 9000.0},
             {"method": "dcrl", "data": "manifolds", "state": "done", "seconds": 5000.0,
              "preset": "paper"}]
    got = expected_duration(rows, "dcrl", "manifolds", "quick")
    assert (got.seconds, got.runs) == (200.0, 3)
    assert expected_duration(rows, "dekm", "manifolds") is None


def test_duration_note_warns_only_for_a_long_run():
    from dcviz.runs.eta import Expected, duration_note
    text, warn = duration_note(None, "DCRL on manifolds")
    assert not warn and "No earlier run of DCRL on manifolds" in text
    text, warn = duration_note(Expected(50.0, 1), "DEKM on digits")
    assert not warn and "about 50 s" in text and "the one earlier run" in text
    text, warn = duration_note(Expected(21 * 60, 3), "DCRL on manifolds")
    assert warn and "about 21 min" in text and "median of 3" in text
    assert "the quick preset" in text
    text, warn = duration_note(Expected(21 * 60, 3), "DCRL on manifolds", "quick")
    assert warn and "the quick preset" not in text and "fewer epochs" in text


def test_last_ended_is_the_run_that_ended_last():
    from dcviz.runs.labels import last_ended
    rows = [{"run_id": "a", "state": "done", "created": 100.0, "seconds": 50.0},      # ended 150
            {"run_id": "b", "state": "stopped", "created": 120.0, "seconds": 40.0},   # ended 160
            {"run_id": "c", "state": "running", "created": 200.0, "seconds": None},
            {"run_id": "d", "state": "failed", "created": 300.0, "seconds": 1.0}]
    assert last_ended(rows) == "b"
    assert last_ended(rows[2:]) is None


# =========================================================================== honest progress
# Synthetic runs whose snapshot times follow what was measured on digits (quick presets, CPU
# seconds): the estimate at each snapshot is compared with the time the run really had left.

def errors_at(points, end, fractions=(0.25, 0.5, 0.75)):
    """Relative error of the estimate at the snapshot nearest each fraction of the run."""
    out = {}
    for f in fractions:
        k = min(range(1, len(points)), key=lambda i: abs(points[i][0] / end - f))
        now = points[k][0]
        est = time_left(points[:k + 1], now)
        out[f] = (est.seconds_left - (end - now)) / (end - now)
    return out


def dekm_run(progress_of, stop=28, pretrain=100, max_iter=80, n=1797):
    """DEKM on digits: 0.41 s per pretraining epoch (a snapshot every 5), 0.35 s per clustering
    iteration; the share of changed points falls from 6 % by 15 % an iteration, so the stopping
    rule (tol 0.1 %) ends the run after ``stop`` of ``max_iter`` iterations."""
    pts, t, changes = [(0.0, 0.0)], 0.0, []
    for e in range(5, pretrain + 1, 5):
        t += 5 * 0.41
        pts.append((t, progress_of("pretrain", e, changes)))
    for it in range(stop):
        t += 0.35
        if it:
            changes.append(0.06 * math.exp(-0.15 * (it - 1)) * (1.3 if it % 3 == 0 else 0.8))
        pts.append((t, 1.0 if it == stop - 1 else progress_of("clustering", it, changes)))
    return pts, t


def test_dekm_progress_models_its_early_stop():
    from dcviz.methods.dekm import expected_iterations, iteration_cost
    cost = iteration_cost(1797, 256, 10, 256)

    shown = [0.0]

    def honest(stage, e, changes):  # as DEKM.fit: work over expected work, never backwards
        total = 100 + cost * expected_iterations(changes, 1797, 0.001, 5, 80)
        shown[0] = max(shown[0], e / total if stage == "pretrain" else (100 + cost * (e + 1)) / total)
        return shown[0]

    def by_epochs(stage, e, changes):  # what progress said before: epochs of max_iter
        return e / 180 if stage == "pretrain" else (100 + e + 1) / 180

    pts, end = dekm_run(honest)
    assert all(abs(err) < 0.3 for err in errors_at(pts, end).values())
    assert [p for _, p in pts] == sorted(p for _, p in pts)
    pts, end = dekm_run(by_epochs)
    assert errors_at(pts, end)[0.5] > 0.3  # the old count overestimates: it waits for max_iter


def test_expected_iterations_forecast():
    from dcviz.methods.dekm import expected_iterations
    prior = expected_iterations([], 1797, 0.001, 5, 80)
    assert prior == 30 and expected_iterations([], 1797, 0.001, 5, 20) == 20
    # a clean exponential fall from 6 % reaches 0.05 % at iteration 1 + ln(120) / 0.15 = 32.9
    clean = [0.06 * math.exp(-0.15 * j) for j in range(20)]
    assert abs(expected_iterations(clean, 1797, 0.001, 5, 80) - 33.9) < 3
    # no fall yet: the prior holds; never more than max_iter, never less than one more iteration
    assert expected_iterations([0.05] * 10, 1797, 0.001, 5, 80) == pytest.approx(prior)
    assert expected_iterations([0.05] * 40, 1797, 0.001, 5, 30) == 30
    assert expected_iterations([1e-4] * 25, 1797, 0.001, 5, 80) >= 27


def test_dcrl_progress_counts_the_tsne_stage_that_has_no_snapshot():
    from dcviz.methods.dcrl import DCRLConfig, epoch_costs
    cfg = DCRLConfig.from_preset("quick")
    pre, tsne, costs = epoch_costs(cfg, 1797, 2_610_074)
    total = pre + tsne + sum(costs)
    assert tsne > 5 and costs[-1] > 2 * costs[0] / 1.5 > 1

    def run(progress):
        """DCRL on digits: 0.57 s per pretraining epoch, then 7.1 s of t-SNE with no snapshot,
        then 1.55 s per fine-tuning epoch (1.0 s in warm-up)."""
        pts, t = [(0.0, 0.0)], 0.0
        for e in range(5, cfg.pretrain_epochs + 1, 5):
            t += 5 * 0.57
            pts.append((t, progress(e, None)))
        t += 7.1
        for e in range(cfg.epochs):
            t += 1.0 if e < cfg.warmup_epochs else 1.55
            pts.append((t, progress(None, e)))
        return pts, t

    pts, end = run(lambda pe, e: pe / total if e is None else (pre + tsne + sum(costs[:e + 1])) / total)
    errs = errors_at(pts, end)
    assert all(abs(err) < 0.15 for err in errs.values()), errs
    n = cfg.pretrain_epochs + cfg.epochs
    pts, end = run(lambda pe, e: pe / n if e is None else (cfg.pretrain_epochs + e + 1) / n)
    assert max(abs(err) for err in errors_at(pts, end).values()) > 0.3  # epochs alone: off


def test_a_pretraining_replayed_from_the_store_counts_no_work(tmp_path, monkeypatch):
    """A run whose AE comes from the pretrained store replays its pretraining in a moment: those
    snapshots add no progress, and the clustering is the whole run's work."""
    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, execute, prepare
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    ds = D.load("digits")
    runs = []
    for _ in range(2):
        cls, cfg = prepare("dekm", ds, {"pretrain_epochs": 3, "snapshot_every": 1, "max_iter": 4,
                                        "min_iter": 3, "batches_per_iter": 2, "subsample": 200})
        rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
        assert execute(rd, cls, cfg, ds)["pretrained"]["hit"] is (len(runs) == 1)
        runs.append([(r["stage"], r["progress"]) for r in rd.metrics_rows()])
    for rows in runs:
        progress = [p for _, p in rows]
        assert progress == sorted(progress) and progress[-1] == 1.0
    from dcviz.methods.dekm import iteration_cost
    c = iteration_cost(ds.n, cfg.batch_size, cfg.batches_per_iter, cfg.pretrain_batch_size)
    trained, replayed = runs   # 4 iterations planned (max_iter), each c pretraining epochs
    assert [p for s, p in trained if s == "pretrain"][-1] == pytest.approx(3 / (3 + 4 * c))
    assert all(p == 0.0 for s, p in replayed if s != "clustering")
    assert next(p for s, p in replayed if s == "clustering") == pytest.approx(1 / 4)


def test_expected_from_store_counts_only_runs_with_the_presets_settings():
    """A quick-preset run with 3 pretraining epochs instead of 20 (16 s) does not say how long
    the quick preset takes (Home and the Train sidebar said "about 16 s" for DEKM on the digits,
    from such a run); it does say how long a run with its own settings takes."""
    from dcviz import data as D
    from dcviz.runs import prepare
    from dcviz.runs.eta import expected_from_store
    ds = D.load("digits")
    configs = {"full": prepare("dekm", ds, {"n_clusters": 10, "seed": 3}, "quick")[1].to_dict(),
               "tiny": prepare("dekm", ds, {"pretrain_epochs": 3, "subsample": 300},
                               "quick")[1].to_dict()}
    seconds = {"full": 200.0, "tiny": 16.0}

    class Run:
        def __init__(self, run_id):
            self.run_id = run_id

        def read_config(self):
            return {"preset": "quick", "config": configs[self.run_id]}

    rows = [{"run_id": i, "method": "dekm", "data": "digits", "state": "done", "seconds": s}
            for i, s in seconds.items()]
    got = expected_from_store(rows, Run, "dekm", "digits", "quick")
    assert (got.seconds, got.runs) == (200.0, 1)
    got = expected_from_store(rows, Run, "dekm", "digits", "quick", settings=configs["tiny"])
    assert (got.seconds, got.runs) == (16.0, 1)
