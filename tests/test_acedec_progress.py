"""ACe/DeC's progress counts its warm-up rounds (issue 21: the bar sat at 69 % through them).

Progress is the share of the run's planned work (AceDec.work_plan, in floating-point operations
plus a per-step overhead): monotone, 1 at the end, and each stage moves it by its share."""
from __future__ import annotations

import numpy as np
import pytest

from dcviz import data as D
from dcviz.runs import prepare

TINY = {"arch": "linear", "latent_dim": 6, "pretrain_epochs": 3, "cluster_epochs": 3,
        "warmup_epochs": 4, "init_rounds": 3, "subsample": 300, "batch_size": 128,
        "snapshot_every": 1}


def _plan(data: str, config: dict):
    ds = D.load(data)
    cls, cfg = prepare("acedec", ds, {"n_clusters": int(ds.n_classes), **config}, "quick")
    method = cls(cfg)
    method.build(ds.x.shape[1], ds.image_shape)
    return method.work_plan(ds.n)


@pytest.mark.parametrize("replayed", [False, True], ids=["pretrained-here", "from-the-store"])
def test_progress_is_monotone_and_each_stage_moves_it_by_its_share_of_the_work(make_run, replayed,
                                                                                 tmp_path, monkeypatch):
    # A fresh store: the first run pretrains for real; a second one replays its AE, which is no
    # work, so the bar then starts at the warm-up (a test before this one may have left an entry).
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "store"))
    run = make_run("acedec", "digits", TINY)
    if replayed:
        run = make_run("acedec", "digits", TINY)
    rows = run.view.rows()
    progress = np.array([r["progress"] for r in rows])
    stages = [r["stage"] for r in rows]
    assert np.all(np.diff(progress) >= 0) and progress[-1] == pytest.approx(1.0)
    plan = _plan("digits", TINY)
    if replayed:
        plan = {**plan, "total": plan["total"] - plan["pretrain"], "pretrain": 0.0}
    share = {k: plan[k] / plan["total"] for k in ("pretrain", "warmup", "cluster")}
    end_of_pretraining = progress[max(i for i, s in enumerate(stages) if s == "pretrain")]
    warm = progress[[i for i, s in enumerate(stages) if s.startswith("init: warm-up")]]
    assert len(warm) == TINY["init_rounds"]
    assert end_of_pretraining == pytest.approx(share["pretrain"], rel=1e-4)
    # every round moves the bar by the same step, and the rounds together by their share
    steps = np.diff(np.concatenate([[end_of_pretraining], warm]))
    assert np.all(steps > 0) and np.allclose(steps, steps[0], rtol=1e-4)
    assert warm[-1] - end_of_pretraining == pytest.approx(share["warmup"], rel=1e-4)
    clustering = progress[[i for i, s in enumerate(stages) if s == "clustering"]]
    assert clustering[-1] - warm[-1] == pytest.approx(share["cluster"], rel=1e-4)


#: The pretraining recipe of the digits and objects measurements below (the quick preset's
#: before the shared pretraining recipes); SYNTH-25 was measured with today's quick preset.
MEASURED = {"pretrain_epochs": 50, "pretrain_batch_size": 256, "batch_size": 256,
            "cluster_epochs": 20}


@pytest.mark.parametrize("data, config, seconds", [
    ("digits", MEASURED, (20.9, 0.9, 11.0)),     # an MLP autoencoder: its arithmetic leads
    ("objects", MEASURED, (67.0, 1.0, 31.6)),    # a conv autoencoder
    ("synth25", {}, (1.64, 5.71, 2.06)),         # a linear one: the warm-up is most of the run
])
def test_the_work_plan_matches_the_measured_cpu_time(data, config, seconds):
    """Each stage's share of the plan against CPU seconds measured once per stage on one core
    (thread time, ACe/DeC with pretraining off; not timed here): pretraining, warm-up and
    clustering."""
    plan = _plan(data, config)
    for stage, s in zip(("pretrain", "warmup", "cluster"), seconds):
        assert plan[stage] / plan["total"] == pytest.approx(s / sum(seconds), abs=0.05), stage
