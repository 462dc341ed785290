"""DCRL (and the DEC/IDEC baselines): each loss term on hand-checked cases, the weight
schedule, the stage rule, tiny end-to-end runs with their snapshots and checkpoints, the lens."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.methods.base import ConfigError, Context
from dcviz.methods.dcrl import (DCRL, STAGE_TERMS, STAGES, StagePressures, align_loss,
                                isometry_loss, manifold_means, manifold_neighbours, rank_loss,
                                stage_of, term_pressures, weight_schedule)
from dcviz.methods.dec import (DEC, cluster_loss, reconstruction_loss, student_t,
                               target_distribution)
from dcviz.runs.view import RunView
from dcviz.viz import get_lens

TINY = {"hidden": "64,64", "pretrain_epochs": 3, "snapshot_every": 1, "subsample": 200,
        "batch_size": 64}
DCRL_TINY = {**TINY, "epochs": 8, "warmup_epochs": 1, "init": "kmeans"}  # t-SNE: tested apart
DEC_TINY = {**TINY, "epochs": 3}
GEOMETRY = {"trust", "cont", "rre", "drmse", "lgd", "cra"}


# --------------------------------------------------------------------------- DEC's pieces

def test_student_t_matches_eq1_by_hand():
    z = torch.tensor([[0.0, 0.0]])
    mu = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    q = student_t(z, mu)
    k = np.array([1 / (1 + 1.0), 1 / (1 + 4.0)])  # (1 + ||z - mu||^2)^-1 with nu = 1
    np.testing.assert_allclose(q.numpy()[0], k / k.sum(), rtol=1e-6)
    # nu = 3: exponent -(nu + 1) / 2 = -2 on (1 + d^2 / 3)
    k3 = np.array([(1 + 1 / 3) ** -2, (1 + 4 / 3) ** -2])
    np.testing.assert_allclose(student_t(z, mu, 3.0).numpy()[0], k3 / k3.sum(), rtol=1e-6)


def test_target_distribution_sharpens_and_balances():
    q = torch.tensor([[0.6, 0.4], [0.6, 0.4], [0.3, 0.7]])
    p = target_distribution(q)
    f = q.sum(0)
    w = q ** 2 / f
    np.testing.assert_allclose(p.numpy(), (w / w.sum(1, keepdim=True)).numpy(), rtol=1e-6)
    torch.testing.assert_close(p.sum(1), torch.ones(3))
    assert p[2, 1] > q[2, 1]  # a confident row gets more confident


def test_cluster_loss_is_kl_and_zero_when_p_equals_q():
    q = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    assert cluster_loss(q, q).item() == pytest.approx(0.0, abs=1e-7)
    p = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    manual = float((p * (p / q).log()).sum(1).mean())
    assert cluster_loss(p, q).item() == pytest.approx(manual, rel=1e-6)
    assert cluster_loss(p, q).item() > 0


def test_reconstruction_loss_is_mse():
    x = torch.zeros(2, 3)
    assert reconstruction_loss(x, x + 2).item() == pytest.approx(4.0)


# --------------------------------------------------------------------------- DCRL's losses

def test_rank_loss_by_hand_and_zero_at_kappa_times_input_distances():
    mu = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    v_x = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # Eq. 6 sums over ordered pairs: 2 * |1 - 3 * 1| = 4
    assert rank_loss(mu, v_x, kappa=3.0).item() == pytest.approx(4.0)
    # Centres whose distances are exactly kappa times those of the input-space means: 0.
    rng = np.random.default_rng(0)
    v_x = torch.tensor(rng.normal(size=(5, 8)), dtype=torch.float64)
    rot = torch.tensor(np.linalg.qr(rng.normal(size=(8, 8)))[0])
    mu = 3.0 * v_x @ rot + 1.5
    assert rank_loss(mu, v_x, kappa=3.0).item() == pytest.approx(0.0, abs=1e-9)
    assert rank_loss(mu, v_x, kappa=2.0).item() > 1.0
    # Gradients reach mu and are finite (the diagonal, where the norm has none, is skipped).
    mu = mu.clone().requires_grad_(True)
    (rank_loss(mu, v_x, 2.0)).backward()
    assert torch.isfinite(mu.grad).all() and mu.grad.abs().sum() > 0


def test_rank_loss_skips_empty_clusters():
    mu = torch.tensor([[0.0], [1.0], [50.0]])
    v_x = torch.tensor([[0.0], [1.0 / 3.0], [0.0]])
    present = torch.tensor([True, True, False])
    assert rank_loss(mu, v_x, 3.0, present).item() == pytest.approx(0.0, abs=1e-6)


def test_isometry_loss_zero_for_the_scaled_isometry_and_positive_otherwise():
    rng = np.random.default_rng(1)
    u = torch.tensor(rng.normal(size=(120, 3)), dtype=torch.float32)
    a = torch.tensor(np.linalg.qr(rng.normal(size=(12, 3)))[0], dtype=torch.float32)
    x = u @ a.T                               # a 3-d manifold in R^12
    labels = torch.tensor(rng.integers(0, 3, size=120))
    z = u * math.sqrt(3 / 12)                 # d_Z / sqrt(3) = d_X / sqrt(12): L_LIS's isometry
    i, j, d_x = manifold_neighbours(x, z, labels, k=5)
    assert isometry_loss(z, i, j, d_x).item() == pytest.approx(0.0, abs=1e-6)
    assert isometry_loss(2 * z, i, j, d_x).item() > 0.05
    # a hand case: one edge, |d_X - d_Z| with both scaled by sqrt(dim)
    x1 = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    z1 = torch.tensor([[0.0], [3.0]])
    loss = isometry_loss(z1, torch.tensor([0]), torch.tensor([1]), torch.tensor([2.0 / 2.0]))
    assert loss.item() == pytest.approx(abs(1.0 - 3.0))


def test_manifold_neighbours_stay_inside_a_manifold_and_are_the_nearest():
    rng = np.random.default_rng(2)
    z = torch.tensor(rng.normal(size=(60, 2)), dtype=torch.float32)
    x = torch.tensor(rng.normal(size=(60, 5)), dtype=torch.float32)
    labels = torch.tensor(rng.integers(0, 3, size=60))
    i, j, d_x = manifold_neighbours(x, z, labels, k=4, chunk=7)
    assert (labels[i] == labels[j]).all() and (i != j).all()
    assert len(i) == 60 * 4
    torch.testing.assert_close(d_x, (x[i] - x[j]).norm(dim=1) / math.sqrt(5))
    d = torch.cdist(z, z)
    for p in range(60):
        same = torch.nonzero((labels == labels[p]) & (torch.arange(60) != p)).ravel()
        want = same[d[p, same].argsort()[:4]]
        assert set(j[i == p].tolist()) == set(want.tolist())


def test_align_loss_zero_at_the_manifold_means_and_averages_distances():
    z = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    labels = torch.tensor([0, 0, 1])
    means, present = manifold_means(z, labels, 3)
    assert present.tolist() == [True, True, False]
    mu = torch.tensor([[1.0, 0.0], [10.0, 10.0], [99.0, 99.0]])  # the empty third is ignored
    assert align_loss(mu, z, labels).item() == pytest.approx(0.0)
    mu2 = torch.tensor([[1.0, 3.0], [10.0, 6.0], [0.0, 0.0]])
    # the mean over the two non-empty manifolds, as the authors' code takes it
    assert align_loss(mu2, z, labels).item() == pytest.approx((3.0 + 4.0) / 2)


def test_rank_loss_on_the_true_manifolds_of_the_manifolds_data_asks_for_one_centre():
    """Why no centre-based method clusters `manifolds` (issue 22): its four manifolds (ring,
    line, wave, helix) are all centred on the origin. Eq. 6 at the TRUE partition therefore
    asks the centres to (nearly) coincide, and the nearest true mean is a poor label."""
    ds = D.load({"name": "manifolds", "n_samples": 800})
    x, y = torch.tensor(ds.x), torch.tensor(ds.y)
    v_x, present = manifold_means(x, y, 4)
    assert present.all()
    spread = (x - x.mean(0)).norm(dim=1).mean()     # the manifolds' own radius
    # L_rank's target distances, kappa * d_X, are far below the manifolds' size: the
    # separation stage cannot move the true manifolds apart ...
    assert 3.0 * torch.pdist(v_x).max() < 0.5 * spread
    # ... and centres that do stand apart cost more than centres that coincide
    apart = torch.eye(4, 10) * spread
    assert rank_loss(torch.zeros(4, 10), v_x, 3.0) < 0.5 * rank_loss(apart, v_x, 3.0)
    nearest = torch.cdist(x, v_x).argmin(1).numpy()
    from dcviz.metrics import nmi
    assert nmi(ds.y, nearest) < 0.3


# --------------------------------------------------------------------------- schedule and stages

def test_weight_schedule_is_linear_over_the_first_half():
    assert weight_schedule(0, 300) == (pytest.approx(0.1), pytest.approx(0.0))
    a, b = weight_schedule(75, 300)
    assert a == pytest.approx(0.05) and b == pytest.approx(0.5)
    assert weight_schedule(150, 300) == (pytest.approx(0.0), pytest.approx(1.0))
    assert weight_schedule(299, 300) == (pytest.approx(0.0), pytest.approx(1.0))
    alphas = [weight_schedule(e, 300)[0] for e in range(151)]
    assert np.allclose(np.diff(alphas), -0.1 / 150)


def test_weight_schedule_with_warmup_and_other_settings():
    for e in range(3):
        assert weight_schedule(e, 20, 1.0, 2.0, 0.5, warmup=3) == (1.0, 0.0)
    a, b = weight_schedule(6, 20, 1.0, 2.0, 0.5, warmup=3)   # halfway from epoch 3 to 9... of 10
    assert a == pytest.approx(1 - 3 / 7) and b == pytest.approx(2 * 3 / 7)
    assert weight_schedule(10, 20, 1.0, 2.0, 0.5, warmup=3) == (pytest.approx(0.0), pytest.approx(2.0))


def test_term_pressures_and_stage_rule():
    ref = {"cluster": 0.2, "rank": 100.0, "lis": 0.1}
    full = {"cluster": 1.0, "rank": 1.0, "lis": 1.0}
    # each term's pressure: the share of its reference its objective lost over the epoch, weighted
    start = {"cluster": 0.2, "rank": 100.0, "lis": 0.1}
    end = {"cluster": 0.15, "rank": 40.0, "lis": 0.11}
    p = term_pressures(start, end, {"cluster": 0.5, "rank": 1.0, "lis": 0.2}, full, ref)
    assert p["cluster"] == pytest.approx(0.125) and p["rank"] == pytest.approx(0.6)
    assert p["lis"] == pytest.approx(-0.02) and stage_of(p) == 1
    same = term_pressures(start, start, {"cluster": 1, "rank": 1, "lis": 1}, full, ref)
    assert same == {"cluster": 0.0, "rank": 0.0, "lis": 0.0} and stage_of(same) == 0  # tie: earlier
    late = {"cluster": 0.0, "rank": 0.9, "lis": 0.3}
    assert stage_of(late, previous=2) == 2            # stages never go back
    lost = {"cluster": -0.21, "rank": -0.31, "lis": -0.002}
    assert stage_of(lost, previous=1) == 1            # no term made progress: none leads
    assert term_pressures(start, end, {"cluster": 1, "rank": 1, "lis": 1}, full, {}) == \
        {"cluster": 0.0, "rank": 0.0, "lis": 0.0}


def test_stage_pressures_show_a_short_separation():
    """What the terms did over each epoch, not their size at its end: the epoch in which L_rank
    moves the manifolds to their ranks (Eq. 6 from 160 to 35, as on digits) is stage 2 although
    KL(P||Q) is still large then. The rule until now, sizes against a reference taken at that
    very epoch, tied the two there (stage 1) and read L_rank as small ever after."""
    sp = StagePressures(alpha0=1.0, beta1=1.0)
    w = {"cluster": 1.0, "rank": 0.0, "lis": 0.0}
    # warm-up: only the clustering term trains; it is measured against its own start
    p = sp({"cluster": 0.2, "rank": 400.0, "lis": 0.1}, {"cluster": 0.1, "rank": 250.0, "lis": 0.12},
           w, warm=True)
    assert p == {"cluster": pytest.approx(0.5), "rank": 0.0, "lis": 0.0} and stage_of(p) == 0
    # L_rank switched on: the manifolds move apart while KL hardly moves
    start = {"cluster": 0.24, "rank": 160.0, "lis": 0.125}
    p = sp(start, {"cluster": 0.2, "rank": 35.0, "lis": 0.125},
           {"cluster": 1.0, "rank": 1.0, "lis": 0.0}, warm=False)
    assert sp.reference == start
    assert p["rank"] == pytest.approx(125 / 160) and p["cluster"] == pytest.approx(0.04 / 0.24)
    assert stage_of(p) == 1
    # structure recovery: L_LIS falls while alpha is 0 and L_rank only jitters
    p = sp({"cluster": 0.2, "rank": 15.0, "lis": 0.1}, {"cluster": 0.2, "rank": 14.0, "lis": 0.09},
           {"cluster": 0.0, "rank": 1.0, "lis": 1.0}, warm=False)
    assert p["lis"] == pytest.approx(0.08) and stage_of(p, previous=1) == 2


def test_config_validation():
    with pytest.raises(ConfigError, match="warmup_epochs"):
        DCRL.Config.from_preset("quick", epochs=10, warmup_epochs=5)
    with pytest.raises(ConfigError, match="hidden"):
        DCRL.Config.from_preset("quick", hidden="500,abc")
    with pytest.raises(ConfigError, match="geometry_k2"):
        DEC.Config.from_preset("quick", geometry_k1=8, geometry_k2=5)
    # t-SNE to 2-D needs a code of 2 or more dimensions (sklearn's PCA start crashed on 1)
    from dcviz.methods import get_method
    for method, extra in (("dec", {"init": "tsne"}), ("idec", {"init": "tsne"}), ("dcrl", {})):
        with pytest.raises(ConfigError, match="init='tsne'.*latent_dim of at least 2"):
            get_method(method).Config.from_preset("quick", latent_dim=1, **extra)
        get_method(method).Config.from_preset("quick", latent_dim=2, **extra)
    DEC.Config.from_preset("quick", latent_dim=1, init="kmeans")  # k-means is fine on 1-d
    paper = DCRL.Config.from_preset("paper")
    assert (paper.epochs, paper.alpha0, paper.beta1, paper.kappa, paper.k) == (300, 0.1, 1.0, 3.0, 5)
    assert paper.init == "tsne" and paper.hidden_sizes() == (500, 500, 500, 2000)


# --------------------------------------------------------------------------- end to end

def _train(root, method, spec, config):
    from conftest import train_run
    rd = train_run(root, method, spec, config).rd
    status = rd.read_status()
    assert status["state"] == "done", status.get("error")
    return rd, D.load(spec)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dcrl-runs")
    spec = {"name": "digits", "n": 300}
    return {m: _train(root, m, spec, cfg) for m, cfg in
            (("dcrl", DCRL_TINY), ("dec", DEC_TINY), ("idec", DEC_TINY))}


def test_dcrl_run_stages_and_snapshot_contents(runs):
    rd, ds = runs["dcrl"]
    view = RunView(rd)
    rows = view.rows()
    assert len(rows) == 1 + 3 + 8  # the untrained AE, 3 pretraining epochs, 8 of DCRL
    stages = [r["stage"] for r in rows]
    assert stages[:4] == ["random init"] + ["pretrain"] * 3
    assert [r["epoch"] for r in rows[:4]] == [0, 1, 2, 3]  # epochs done
    order = [STAGES.index(s) for s in stages[4:]]
    assert order[0] == 0 and order == sorted(order)   # stage names in order, starting at 1
    assert stages[4] == "stage 1: clustering"
    assert all(s == "stage 1: clustering" for s in stages[4:4 + DCRL_TINY["warmup_epochs"]])
    snap = view.snapshot(-1)
    assert snap.latent.shape == (200, 10) and snap.assign.shape == (200,)
    assert GEOMETRY | {"acc", "nmi", "ari"} <= set(snap.metrics)
    assert {"reconstruction", "cluster", "rank", "lis", "align"} <= set(snap.losses)
    ex = snap.extras
    assert ex["mu"].shape == (10, 10)
    assert ex["alpha"] == pytest.approx(0.0) and ex["beta"] == pytest.approx(1.0)
    assert ex["rank_grid"].shape == (len(ex["rank_grid_ids"]),) * 2
    assert ex["dz_minus_dx"].shape == (200 * 5,)
    assert ex["kappa_dx"].shape == (10, 10)
    for t in ("cluster", "rank", "lis"):
        assert f"pressure_{t}" in ex
    # the stage named is the one whose term has the largest pressure (or a later one)
    p = [ex[f"pressure_{t}"] for t in ("cluster", "rank", "lis")]
    assert STAGES.index(snap.stage) >= int(np.argmax(p))
    # the alpha/beta each epoch used follow the schedule
    cfg = view.config["config"]
    for r in rows[4:]:
        e = r["epoch"] - cfg["pretrain_epochs"]
        a, b = weight_schedule(e, cfg["epochs"], cfg["alpha0"], cfg["beta1"], cfg["continuation"],
                               cfg["warmup_epochs"])
        assert r["scalars"]["alpha"] == pytest.approx(a) and r["scalars"]["beta"] == pytest.approx(b)


def test_dcrl_on_manifolds_goes_through_the_stages_in_order(tmp_path):
    """DCRL's own data (Fig. 3), k = 4 manifolds: the stages start at clustering, never go back,
    and end at structure recovery once alpha is 0 and beta at its full weight. (14 epochs: after
    alpha reaches 0, L_LIS first loses ground for a few epochs while Eq. 6 still falls, and
    only then recovers; 8 epochs end in stage 2.)"""
    rd, _ = _train(tmp_path, "dcrl", {"name": "manifolds", "n_samples": 400},
                   {**DCRL_TINY, "n_clusters": 4, "epochs": 14})
    rows = RunView(rd).rows()
    order = [STAGES.index(r["stage"]) for r in rows if r["stage"] in STAGES]
    assert len(order) == 14
    assert order[0] == 0 and order == sorted(order) and order[-1] == 2
    assert rows[-1]["scalars"]["alpha"] == pytest.approx(0.0)


def test_dcrl_on_digits_goes_through_all_three_stages(tmp_path):
    """Fig. 3's three stages, each for at least one epoch and in order, on a small digits run,
    read from what the terms did: stage 1 through the warm-up, stage 2 entered in an epoch in
    which L_rank removed the largest share of its objective, stage 3 once L_LIS does. (Under
    the rule until now, sizes at the epoch's end against a shared reference, this run went
    1 -> 3, as the quick preset on digits did in seeds 0-2.)"""
    rd, _ = _train(tmp_path, "dcrl", {"name": "digits", "n": 500},
                   {**DCRL_TINY, "warmup_epochs": 2, "pretrain_epochs": 10, "batch_size": 32})
    rows = [r for r in RunView(rd).rows() if r["stage"] in STAGES]
    order = [STAGES.index(r["stage"]) for r in rows]
    assert order == sorted(order) and sorted(set(order)) == [0, 1, 2]
    assert order[:2] == [0, 0]                         # the warm-up
    for stage, term in ((1, "rank"), (2, "lis")):
        p = rows[order.index(stage)]["scalars"]
        assert max(STAGE_TERMS, key=lambda t: p[f"pressure_{t}"]) == term


def test_losses_go_down(runs):
    rows = RunView(runs["dcrl"][0]).rows()
    rec = [r["losses"]["reconstruction"] for r in rows if r["stage"] == "pretrain"]
    assert rec[-1] < rec[0]
    # L_rank pulls the centres to kappa times the input distances: it falls once it is on
    ranks = [r["losses"]["rank"] for r in rows[5:]]     # after the one warm-up epoch
    assert ranks[-1] < 0.8 * ranks[0]


def test_checkpoint_reload_gives_the_same_predictions(runs):
    for method, (rd, ds) in runs.items():
        live = rd.load_checkpoint()
        again = rd.load_checkpoint()
        assert live.id == method
        np.testing.assert_array_equal(live.predict(ds.x), again.predict(ds.x))
        # and the last snapshot's assignment is the saved model's prediction
        sub = rd.read_subsample()
        np.testing.assert_array_equal(live.predict(ds.x[sub]), RunView(rd).snapshot(-1).assign)
        proba = live.predict_proba(ds.x[:5])
        assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_dec_and_idec_have_the_geometry_metrics_for_comparison(runs):
    for method in ("dec", "idec"):
        snap = RunView(runs[method][0]).snapshot(-1)
        assert GEOMETRY <= set(snap.metrics)
        assert snap.stage == "clustering" and "mu" in snap.extras
        # tiny DEC runs may collapse into one cluster: then there is no grid, and CRA counts
        # the one diagonal cell of the k^2
        if len(np.unique(snap.assign)) >= 2:
            assert "rank_grid" in snap.extras
        else:
            assert snap.metrics["cra"] == 1 / 10 ** 2
    assert "reconstruction" not in RunView(runs["dec"][0]).snapshot(-1).losses
    assert "reconstruction" in RunView(runs["idec"][0]).snapshot(-1).losses


def test_cra_counts_the_cells_of_all_k_clusters():
    """Appendix A.4's C^2 cells, C the number of clusters: a run collapsed into fewer clusters
    has the empty ones' cells not kept (ranked over 2 occupied clusters, any space scored 1.0)."""
    from dcviz.geometry import GeometryReference
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4))
    m = DEC(n_clusters=3, hidden="8", subsample=100)
    metrics, extras = m.geometry(GeometryReference(x), x, np.zeros(60, dtype=int))
    assert metrics["cra"] == pytest.approx(1 / 9) and "rank_grid" not in extras
    metrics, extras = m.geometry(GeometryReference(x), x, np.arange(60) % 3)
    assert metrics["cra"] == 1.0 and extras["rank_grid"].shape == (3, 3)
    # two occupied clusters, a random space: their 2 x 2 cells always agree, 4 of 9
    noise = rng.normal(size=(60, 4))
    metrics, extras = m.geometry(GeometryReference(x), noise, np.arange(60) % 2)
    assert metrics["cra"] == pytest.approx(4 / 9) and extras["rank_grid"].shape == (2, 2)


def test_dec_sharpens_the_clusters_it_starts_from():
    """DEC's KL(P||Q) makes the soft assignments more confident epoch after epoch."""
    torch.set_num_threads(1)
    ds = D.load({"name": "digits", "n": 300})
    torch.manual_seed(0)
    m = DEC(n_clusters=10, hidden="64,64", pretrain_epochs=5, epochs=6, batch_size=64,
            subsample=150, snapshot_every=5)
    m.build(ds.dim, ds.image_shape)
    ctx = Context(seed=0, subsample=np.arange(150))
    confidence = []
    for snap in m.fit(ds, ctx):
        if snap.stage == "clustering":
            confidence.append(float(m.predict_proba(ds.x).max(1).mean()))
    assert confidence[-1] > confidence[0]


def test_tsne_initialisation_places_centres_at_cluster_means():
    torch.set_num_threads(1)
    ds = D.load({"name": "digits", "n": 200})
    torch.manual_seed(0)
    m = DCRL(n_clusters=5, hidden="32", pretrain_epochs=0, epochs=2, warmup_epochs=0, init="tsne",
             subsample=100)
    m.build(ds.dim, ds.image_shape)
    h = m.embed(ds.x)
    labels = m.init_centres(h, Context(seed=0, subsample=np.arange(100)))
    assert len(np.unique(labels)) == 5
    expected = np.stack([h[labels == j].mean(0) for j in range(5)])
    np.testing.assert_allclose(m.mu.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n", [2, 3])
def test_two_or_three_points_train_without_the_geometry_metrics(tmp_path, n):
    # the geometry metrics need 4 points; a 2- or 3-point data set crashed every snapshot
    path = tmp_path / "few.npz"
    np.savez(path, x=np.array([[0.0, 0.0], [5.0, 5.0], [0.1, 0.0]])[:n], y=np.array([0, 1, 0])[:n])
    tiny = {"hidden": "8", "pretrain_epochs": 1, "n_clusters": 2, "batch_size": 2}
    for method, cfg in (("dec", {**tiny, "epochs": 1, "init": "tsne"}), ("idec", {**tiny, "epochs": 1}),
                        ("dcrl", {**tiny, "epochs": 2, "warmup_epochs": 0})):
        rd, _ = _train(tmp_path / method, method, str(path), cfg)
        metrics = rd.read_status()["metrics"]
        assert "acc" in metrics and not GEOMETRY & set(metrics), metrics
        view = RunView(rd)
        assert get_lens(method).panels(view, -1, {})  # the lens draws without them


# --------------------------------------------------------------------------- the lens

def test_lens_panels_for_dcrl_and_dec_runs(runs):
    lens = get_lens("dcrl")
    # DEC and IDEC open the same views, in lenses told as theirs (test_baseline_lens_...)
    assert get_lens("dec").build is lens.build and get_lens("idec").build is lens.build
    view = RunView(runs["dcrl"][0])
    panels = lens.panels(view, -1, {"overlay": runs["dec"][0].run_id})
    titles = " | ".join(p.title for p in panels)
    assert panels[0].title == lens.live_panel == "Training stage"
    assert view.snapshot(-1).stage in panels[0].caption
    for part in ("α and β", "Loss terms", "Geometry", "Centre trajectories", "Rank preservation",
                 "d_Z − d_X"):
        assert part in titles, part
    assert all(p.text for p in panels)
    hist = panels[-1]
    assert len(hist.figure.data) == 2 and "DEC run" in hist.caption
    grid = next(p for p in panels if p.title.startswith("Rank preservation"))
    marks = np.asarray(grid.figure.data[0].text).ravel().tolist()
    assert set(marks) <= {"✓", "✗"} and len(marks) == len(view.snapshot(-1).extras["rank_grid"]) ** 2
    # stage boundaries are drawn on the loss curves (a dashed line per new stage)
    losses = next(p for p in panels if p.title == "Loss terms")
    assert any(getattr(s, "line", None) and s.line.dash == "dash" for s in losses.figure.layout.shapes)
    # a pretraining snapshot has no centres yet, but still its geometry
    early = lens.panels(view, 1, {})  # snapshot 0 is the untrained AE, 1 the first epoch
    assert "pretrain" in early[0].caption and not any("Centre" in p.title for p in early)
    dec_panels = lens.panels(RunView(runs["dec"][0]), -1, {})
    assert not any("α and β" in p.title for p in dec_panels)
    assert any("Rank preservation" in p.title for p in dec_panels)


def test_baseline_lens_speaks_of_dec_not_of_dcrls_stages(runs):
    """A DEC run's lens was headed "DCRL: three stages…", said in pretraining that "the three
    stages start when the centres μ are placed", and suggested overlaying "a DEC run"."""
    for method, title in (("dec", "DEC"), ("idec", "IDEC")):
        lens = get_lens(method)
        assert lens.method_ids == (method,) and lens.title.startswith(f"{title}:")
        assert "three stages" not in lens.title and "stage" not in lens.title
        assert lens.intro.startswith(f"{title} has no stages") and "DCRL run" in lens.intro
        overlay = next(o for o in lens.options if o.name == "overlay")
        assert "DCRL" in overlay.help and "DEC" not in overlay.help
        view = RunView(runs[method][0])
        early = lens.live(lens.panels(view, 1))  # a pretraining snapshot
        assert "pretrain" in early.caption
        assert "three stages" not in early.text and title in early.text
        late = lens.panels(view, -1, {})
        assert "three stages" not in lens.live(late).text
        assert lens.live(late).text.startswith(f"{title} has no stages")
        hist = next(p for p in late if "d_Z − d_X" in p.title)
        assert "a DCRL run" in hist.text and "a DEC run" not in hist.text
        assert f"this run ({title}," in hist.caption
    dcrl = get_lens("dcrl")
    assert "three stages" in dcrl.title and "DEC" in dcrl.options[0].help


def test_dec_lens_in_the_explore_page_is_headed_by_dec(runs, monkeypatch, app):
    rd = runs["dec"][0]
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(rd.path.parent))
    at = app("explore", run=rd.run_id, tab="Lens", explore_index=2)
    assert not at.exception
    from pagekit import page_text
    text = page_text(at)
    assert "DEC: the geometry its clustering loss destroys" in text
    assert "three stages" not in text and "DCRL: " not in text


def test_lens_in_the_explore_page(runs, monkeypatch, app):
    rd = runs["dcrl"][0]
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(rd.path.parent))
    at = app("explore", run=rd.run_id, tab="Lens", explore_index=5)
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 6
    from pagekit import page_text
    text = page_text(at)
    assert "stage" in text and "Fig. A5" in text


def test_dec_paper_preset_clusters_with_decs_sgd_and_idec_keeps_adam():
    from dcviz.methods import get_method
    for method, opt_cls, lr in (("dec", torch.optim.SGD, 0.01), ("idec", torch.optim.Adam, 1e-3)):
        cls = get_method(method)
        m = cls(cls.Config.from_preset("paper", n_clusters=3))
        m.build(64, (1, 8, 8))
        m.mu = torch.nn.Parameter(torch.zeros(3, m.latent_dim))
        opt = m.make_optimizer()
        assert isinstance(opt, opt_cls) and opt.param_groups[0]["lr"] == lr
        if opt_cls is torch.optim.SGD:
            assert opt.param_groups[0]["momentum"] == 0.9
        assert opt.param_groups[1]["params"][0] is m.mu  # the centres are trained too


def test_idec_updates_p_and_stops_every_t_iterations_not_at_epoch_starts(tmp_path):
    """IDEC's Algorithm 1: P and the stopping rule every T iterations. 300 points in batches of
    64 are 5 iterations an epoch; with T = 3 and a tolerance every check passes, the run stops
    at iteration 3, inside its first clustering epoch (it ran whole epochs, checking at their
    starts only)."""
    rd, _ = _train(tmp_path, "idec", {"name": "digits", "n": 300},
                   {**DEC_TINY, "epochs": 4, "batch_size": 64, "update_interval": 3, "tol": 1.0})
    view = RunView(rd)
    clustering = [view.snapshot(i) for i in range(view.count)
                  if view.snapshot(i).stage == "clustering"]
    assert len(clustering) == 1 and clustering[0].step == 3
