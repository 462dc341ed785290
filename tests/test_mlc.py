"""MLC: coding rates, Sinkhorn, numerical rank, augmentations, a run end to end, its lens."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.nets.augment import augment, augment_images, jitter, views
from dcviz.methods.base import ConfigError
from dcviz.methods.mlc import (MLCConfig, coding_rate, coding_rate_c, cos_ratio, membership,
                               membership_penalty, mlc_objective, numerical_rank,
                               principal_samples, sinkhorn, spectral_clustering, warmup_objective)
from dcviz.runs import RunStore, create_run, execute, prepare
from dcviz.runs.view import RunView
from dcviz.viz import get_lens

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TINY_DIGITS = {"warmup_epochs": 2, "epochs": 2, "batch_size": 100, "feature_dim": 8, "width": 64,
               "head_hidden": 64, "subsample": 150, "view_points": 60,
               "live_spectral_points": 200, "min_steps_per_epoch": 1, "lr_ramp": 5}
TINY_SPHERE = {"n_clusters": 2, "warmup_epochs": 3, "epochs": 6, "min_steps_per_epoch": 8,
               "lr_ramp": 10, "view_points": 50}


def unit_rows(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


# =========================================================================== coding rates

def test_coding_rate_matches_the_formula():
    Z = unit_rows(20, 5)
    eps2 = 0.3
    n, d = Z.shape
    # the paper's Z is d x n: R = logdet(I + d/(n eps^2) Z Z^T)
    Zp = Z.numpy().T
    expect = np.linalg.slogdet(np.eye(d) + d / (n * eps2) * Zp @ Zp.T)[1]
    assert float(coding_rate(Z, eps2)) == pytest.approx(expect, rel=1e-5)
    # a single repeated feature has rate log(1 + d/eps^2): rank one
    one = Z[:1].repeat(n, 1)
    assert float(coding_rate(one, eps2)) == pytest.approx(np.log1p(d / eps2), rel=1e-5)


def test_coding_rate_c_matches_eq4_and_eq1():
    Z = unit_rows(12, 4, seed=1)
    eps2 = 0.2
    n, d = Z.shape
    Pi = sinkhorn((Z @ Z.T).abs(), 0.3, 50)
    Zp = Z.numpy().T
    expect = sum(np.linalg.slogdet(np.eye(d) + d / eps2 * Zp @ np.diag(Pi[:, j].numpy()) @ Zp.T)[1]
                 for j in range(n)) / n
    assert float(coding_rate_c(Z, Pi, eps2)) == pytest.approx(expect, rel=1e-4)
    # hard membership (Eq. 1): sum_j n_j/n logdet(I + d/(n_j eps^2) Z_j Z_j^T)
    labels = np.array([0] * 5 + [1] * 7)
    hard = torch.nn.functional.one_hot(torch.as_tensor(labels), 2).double()
    expect = sum((labels == j).sum() / n * np.linalg.slogdet(
        np.eye(d) + d / ((labels == j).sum() * eps2) * Zp[:, labels == j] @ Zp[:, labels == j].T)[1]
        for j in (0, 1))
    assert float(coding_rate_c(Z, hard, eps2)) == pytest.approx(expect, rel=1e-5)
    # one cluster holding everything, or the uniform Pi, compress nothing: R_c = R
    R = float(coding_rate(Z, eps2))
    assert float(coding_rate_c(Z, torch.ones(n, 1, dtype=torch.float64), eps2)) == pytest.approx(R, rel=1e-5)
    assert float(coding_rate_c(Z, torch.full((n, n), 1.0 / n, dtype=torch.float64), eps2)) == \
        pytest.approx(R, rel=1e-5)


def test_rate_reduction_prefers_orthogonal_subspaces():
    g = torch.Generator().manual_seed(0)
    # two clusters on orthogonal 2-D subspaces of R^4, against the same points mixed at random
    a = torch.nn.functional.normalize(torch.cat([torch.randn(30, 2, generator=g), torch.zeros(30, 2)], 1), dim=1)
    b = torch.nn.functional.normalize(torch.cat([torch.zeros(30, 2), torch.randn(30, 2, generator=g)], 1), dim=1)
    Z = torch.cat([a, b])
    Pi_true = torch.block_diag(torch.full((30, 30), 1 / 30), torch.full((30, 30), 1 / 30))
    t = mlc_objective(Z, Pi_true, 0.1, 0.05)
    wrong = mlc_objective(Z, torch.full((60, 60), 1 / 60), 0.1, 0.05)
    assert float(t["delta_R"]) > float(wrong["delta_R"]) + 1.0
    assert float(t["objective"]) > float(wrong["objective"])
    assert float(membership_penalty(Pi_true, 0.05)) == pytest.approx(0.025 * 2, rel=1e-5)


def test_warmup_objective_rewards_agreement():
    z = unit_rows(16, 6).float()
    same = warmup_objective(z, z, 0.2, 0.5)
    other = warmup_objective(z, unit_rows(16, 6, seed=9).float(), 0.2, 0.5)
    assert float(same["agreement"]) == pytest.approx(16.0, rel=1e-5)
    assert float(same["objective"]) > float(other["objective"])


# =========================================================================== Sinkhorn

def test_sinkhorn_marginals_and_convergence():
    C = unit_rows(40, 4)
    M = (C @ C.T).abs()
    P5 = sinkhorn(M, 0.175, 5)
    assert (P5 > 0).all()
    np.testing.assert_allclose(P5.sum(1).numpy(), 1.0, atol=1e-9)   # rows exact
    np.testing.assert_allclose(P5.sum(0).numpy(), 1.0, atol=5e-3)   # columns nearly
    exact = sinkhorn(M, 0.175, 2000)
    np.testing.assert_allclose(exact.sum(0).numpy(), 1.0, atol=1e-9)
    np.testing.assert_allclose(exact.numpy(), exact.numpy().T, atol=1e-9)  # symmetric M -> symmetric Pi
    assert (P5 - exact).abs().max() < 1e-3
    assert (sinkhorn(M, 0.175, 20) - exact).abs().max() < (sinkhorn(M, 0.175, 2) - exact).abs().max()


def test_sinkhorn_returns_a_doubly_stochastic_kernel_unchanged():
    n = 6
    perm1, perm2 = torch.eye(n)[torch.tensor([1, 2, 0, 4, 5, 3])], torch.eye(n)[torch.tensor([5, 4, 3, 2, 1, 0])]
    B = (0.7 * (0.5 * torch.eye(n) + 0.3 * perm1 + 0.2 * perm2) + 0.3 / n).double()
    eta = 0.25
    M = eta * torch.log(7.0 * B)  # exp(M / eta) = 7 B: a scaled doubly stochastic matrix
    np.testing.assert_allclose(sinkhorn(M, eta, 1).numpy(), B.numpy(), atol=1e-12)


def test_sinkhorn_solves_the_entropic_projection():
    """P_{Omega,eta}(M) minimises -<Pi, M> + eta sum Pi log Pi over doubly stochastic Pi."""
    C = unit_rows(10, 3, seed=4)
    M = (C @ C.T).abs()
    eta = 0.2
    P = sinkhorn(M, eta, 3000)

    def F(Q):
        return float(-(Q * M).sum() + eta * (Q * torch.log(Q)).sum())

    others = [torch.full((10, 10), 0.1, dtype=torch.float64),
              0.9 * torch.eye(10, dtype=torch.float64) + 0.01]
    for B in others:
        for t in (0.01, 0.1, 0.5):
            assert F(P) < F((1 - t) * P + t * B)


def test_membership_uses_the_absolute_cosine():
    C = unit_rows(8, 3)
    assert torch.allclose(membership(C, 0.175, 5), membership(torch.cat([C[:4], -C[4:]]), 0.175, 5))
    with pytest.raises(ValueError):
        sinkhorn(torch.ones(3), 0.1)
    with pytest.raises(ValueError):
        sinkhorn(torch.ones(3, 3), 0.0)


# =========================================================================== ranks, clustering

def test_numerical_rank_of_known_matrices():
    rng = np.random.default_rng(0)
    low = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 12))
    assert numerical_rank(low) == 3
    assert numerical_rank(low + 1e-4 * rng.normal(size=low.shape)) == 3
    # singular values^2 holding 60, 30, 6, 4 % of the energy: the first r with > 95 % is 3
    U, _ = np.linalg.qr(rng.normal(size=(50, 4)))
    V, _ = np.linalg.qr(rng.normal(size=(6, 4)))
    W = U @ np.diag(np.sqrt([0.6, 0.3, 0.06, 0.04])) @ V.T
    assert numerical_rank(W) == 3
    assert numerical_rank(W, energy=0.5) == 1
    assert numerical_rank(np.zeros((0, 4))) == 0
    assert numerical_rank(np.ones((5, 1))) == 1


def test_spectral_clustering_finds_blocks_of_pi():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    Z = np.stack([basis[:, 2 * l] * rng.normal() + basis[:, 2 * l + 1] * rng.normal() for l in labels])
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    Pi = membership(torch.as_tensor(Z), 0.175, 20).numpy()
    found = spectral_clustering(Pi, 3, seed=0)
    from dcviz.metrics import nmi
    assert nmi(labels, found) > 0.99
    assert cos_ratio(Z, found) > 10
    assert cos_ratio(Z, rng.permutation(found)) == pytest.approx(1.0, abs=0.3)


def test_principal_samples_pick_members_along_each_direction():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 5))
    labels = np.repeat([0, 1, 2], 20)
    labels[-1] = 3
    idx = principal_samples(Z, labels, k=5, n_components=3, n_samples=4)
    assert idx.shape == (5, 3, 4)
    for j in range(3):
        assert set(idx[j].ravel()) <= set(np.flatnonzero(labels == j))
    assert idx[3, 0, 0] == 59 and (idx[3].ravel()[1:] == -1).all()  # a one-point cluster
    assert (idx[4] == -1).all()  # an empty cluster


# =========================================================================== augmentations

def test_image_augmentations_keep_shape_range_and_are_reproducible():
    ds = D.load({"name": "digits", "n": 50})
    x = torch.as_tensor(ds.x)
    a = augment(x, ds.image_shape, torch.Generator().manual_seed(3))
    b = augment(x, ds.image_shape, torch.Generator().manual_seed(3))
    c = augment(x, ds.image_shape, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 + 1e-6
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, x)
    # small: a view stays closer to its own image than to a typical other one
    d = torch.cdist(a, x)
    others = d.masked_fill(torch.eye(len(x), dtype=torch.bool), float("nan")).nanmedian(1).values
    assert (d.diagonal() < others).float().mean() > 0.9
    assert torch.equal(augment_images(x, ds.image_shape, torch.Generator(), strength=0.0), x)
    two = views(x, ds.image_shape, torch.Generator().manual_seed(0), 2)
    assert len(two) == 2 and not torch.equal(two[0], two[1])


def test_vector_jitter_and_bad_input():
    x = torch.zeros(500, 3)
    j = augment(x, None, torch.Generator().manual_seed(0), kind="jitter", sigma=0.05)
    assert j.shape == x.shape and float(j.std()) == pytest.approx(0.05, rel=0.1)
    assert torch.equal(j, jitter(x, torch.Generator().manual_seed(0), 0.05))
    assert torch.equal(augment(x, None, torch.Generator(), kind="none"), x)
    with pytest.raises(ValueError):
        augment(x, None, torch.Generator(), kind="image")
    with pytest.raises(ValueError):
        augment(x, None, torch.Generator(), kind="flip")
    with pytest.raises(ValueError):
        augment_images(torch.zeros(2, 10), (1, 8, 8), torch.Generator())
    with pytest.raises(ValueError):
        jitter(x, torch.Generator(), -1.0)


# =========================================================================== runs

def test_config_rejects_a_batch_too_small_for_k():
    with pytest.raises(ConfigError):
        MLCConfig.from_preset("quick", batch_size=10, n_clusters=10)
    assert MLCConfig.from_preset("paper").batch_size == 1024


def _run(tmp_path_factory, spec, config):
    ds = D.load(spec)
    cls, cfg = prepare("mlc", ds, config)
    rd = create_run(RunStore(tmp_path_factory.mktemp("mlc-runs")), cls, cfg, ds, "quick")
    torch.set_num_threads(1)
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "done", status.get("traceback")
    return rd, ds


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return _run(tmp_path_factory, {"name": "digits", "n": 300}, TINY_DIGITS)


@pytest.fixture(scope="module")
def sphere_run(tmp_path_factory):
    return _run(tmp_path_factory, {"name": "sphere2", "n_samples": 120}, TINY_SPHERE)


def test_mlc_run_snapshots_carry_the_extras(digits_run):
    rd, ds = digits_run
    rows = rd.metrics_rows()
    stages = [r["stage"] for r in rows]
    assert stages[0] == "random init"
    assert stages.count("warm-up (Eq. 5)") == 2 and stages.count("MLC (Eq. 4)") == 2
    assert [r["progress"] for r in rows] == sorted(r["progress"] for r in rows) and rows[-1]["progress"] == 1.0
    snap = rd.load_snapshot(-1)
    k, m, d = 10, 60, 8
    assert snap.latent.shape == (150, d)
    np.testing.assert_allclose(np.linalg.norm(snap.latent, axis=1), 1.0, atol=1e-4)  # on the sphere
    ex = snap.extras
    for key in ("R", "R_c", "delta_R", "rank_all"):
        assert np.isfinite(ex[key])
    assert ex["delta_R"] == pytest.approx(ex["R"] - ex["R_c"], abs=1e-4)
    assert ex["rank_learned"].shape == (k,) and ex["rank_true"].shape == (10,)
    assert 1 <= ex["rank_all"] <= d and (ex["rank_true"] <= ex["rank_all"]).all()
    cos, pi = ex["cos"].astype(np.float32), ex["pi"]
    assert cos.shape == pi.shape == (m, m)
    np.testing.assert_allclose(cos, cos.T, atol=1e-3)
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=2e-3)
    assert cos.min() >= 0 and cos.max() <= 1.001
    np.testing.assert_allclose(pi.sum(1), 1.0, atol=1e-4)  # a permutation keeps row sums
    from dcviz.methods.mlc import MLCExtras
    from dcviz.viz.mlc import sort_view
    perm, key, _ = sort_view(MLCExtras.from_snapshot(snap), "learned cluster")
    assert sorted(perm) == list(range(m)) and np.array_equal(key, ex["view_assign"][perm])
    runs = key[np.r_[True, np.diff(key) != 0]]
    assert len(runs) == len(set(runs))  # the lens sorts by learned cluster: each cluster one block
    assert set(ex["view_index"]) <= set(rd.read_subsample())
    np.testing.assert_array_equal(ex["view_label"], ds.y[ex["view_index"]])
    assert ex["principal_index"].shape == (k, 8, 8)
    assert "cos_ratio" in snap.metrics and snap.metrics["cos_ratio"] > 0
    assert "acc" in snap.metrics
    # before the copy Pi comes from the feature head; after, from the cluster head
    assert "feature" in rd.load_snapshot(1).extras["pi_source"]
    assert ex["pi_source"] == "cluster head"


def test_mlc_checkpoint_reproduces_the_last_snapshot(digits_run):
    rd, ds = digits_run
    m = rd.load_checkpoint()
    first = m.predict(ds.x)
    assert first.shape == (ds.n,) and set(first) <= set(range(10))
    last, sub = rd.load_snapshot(-1), rd.read_subsample()
    np.testing.assert_allclose(m.embed(ds.x[sub]), last.latent, atol=1e-5)
    np.testing.assert_array_equal(m.fit_labels(ds.x)[sub], last.assign)  # spectral, as in fit
    proba = m.predict_proba(ds.x[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)


def test_mlc_predict_follows_the_spectral_labels_once_pi_has_blocks(sphere_run):
    """predict places a point by its own row of Pi against the clustered sample; on a trained
    model that agrees with spectral clustering (on the tiny digits run Pi is still flat)."""
    rd, ds = sphere_run
    m = rd.load_checkpoint()
    snap = rd.load_snapshot(-1)
    assert (m.predict(ds.x)[rd.read_subsample()] == snap.assign).mean() > 0.95


def test_mlc_training_moves_the_objectives_the_right_way(sphere_run):
    rd, _ = sphere_run
    rows = rd.metrics_rows()
    warm = [r for r in rows if r["stage"].startswith("warm-up")]
    mlc = [r for r in rows if r["stage"].startswith("MLC")]
    # the warm-up maximises Eq. 5 (its "total" is minus it); MLC maximises Delta R - penalty
    assert warm[-1]["losses"]["total"] < warm[0]["losses"]["total"]
    assert mlc[-1]["losses"]["total"] < mlc[0]["losses"]["total"]
    assert mlc[-1]["scalars"]["delta_R"] > rows[0]["scalars"]["delta_R"]
    # the two manifolds of Fig. 1 come apart
    assert rows[-1]["metrics"]["nmi"] > 0.9 and rows[-1]["metrics"]["cos_ratio"] > 3


def test_mlc_lens_panels(digits_run):
    rd, ds = digits_run
    lens = get_lens("mlc")
    view = RunView(rd)
    panels = lens.panels(view, -1)
    titles = [p.title for p in panels]
    for want in ("Cosine", "Membership", "Fig. 3a", "Fig. 3b", "Fig. 5"):
        assert any(want in t for t in titles), (want, titles)
    assert all(p.text for p in panels)
    cos_fig = panels[0].figure
    from dcviz.methods.mlc import MLCExtras
    from dcviz.viz.mlc import sort_view
    ex = MLCExtras.from_snapshot(view.snapshot(-1))
    stored = ex.cos.astype(np.float32)
    perm = sort_view(ex, "learned cluster")[0]  # the lens lays the stored matrix out by cluster
    np.testing.assert_allclose(np.asarray(cos_fig.data[0].z, np.float32),
                               stored[np.ix_(perm, perm)], atol=1e-3)
    # sorting by true label permutes rows and columns alike: same diagonal multiset, labels sorted
    by_true = lens.panels(view, -1, {"sort": "true label"})[0].figure
    z = np.asarray(by_true.data[0].z, np.float32)
    np.testing.assert_allclose(z, z.T, atol=1e-3)
    np.testing.assert_allclose(np.sort(z.ravel()), np.sort(stored.ravel()), atol=1e-3)
    rates = next(p for p in panels if "Fig. 3a" in p.title).figure
    assert {t.name for t in rates.data} >= {"R", "R_c"} and len(rates.data[0].y) == view.count
    ranks = next(p for p in panels if "Fig. 3b" in p.title).figure
    assert len(ranks.data) == 11  # all features + 10 classes
    img = next(p for p in panels if "Fig. 5" in p.title).image
    assert img.ndim == 2 and 0.0 <= img.min() and img.max() <= 1.0 and img.shape[0] > 8 * 8
    one = lens.panels(view, -1, {"cluster": 3})
    one_img = next(p for p in one if "Fig. 5" in p.title).image
    assert one_img.shape == (8 * 9 + 1, 8 * 9 + 1)  # 8 rows of 8 images of 8x8, 1-pixel gaps
    assert lens.panels(view, 0)  # the random-init snapshot draws too
    assert not any("sphere" in t for t in titles)  # no 3-D view for 8-D features


def test_mlc_lens_sphere_view(sphere_run):
    rd, _ = sphere_run
    lens = get_lens("mlc")
    view = RunView(rd)
    panels = lens.panels(view, -1)
    fig = next(p for p in panels if "Fig. 1" in p.title).figure
    scenes = [k for k in fig.layout.to_plotly_json() if k.startswith("scene")]
    assert len(scenes) == 3  # random init, after warm-up, MLC
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0] == "random init" and "after warm-up" in titles[1] and titles[2].startswith("MLC")
    early = next(p for p in lens.panels(view, 1) if "Fig. 1" in p.title).figure
    assert len([k for k in early.layout.to_plotly_json() if k.startswith("scene")]) == 2
    principal = next(p for p in panels if "Fig. 5" in p.title)
    assert principal.image is None and "vectors" in principal.text


def test_mlc_lens_in_the_explore_page(make_run, app):
    run = make_run("mlc", {"name": "digits", "n": 200}, {**TINY_DIGITS, "warmup_epochs": 1,
                                                         "epochs": 1, "view_points": 40})
    at = app("explore", run=run.run_id, tab="Lens")
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(str(m.value) for m in at.markdown)
    for want in ("Cosine similarity", "Membership", "Coding rates", "Numerical ranks", "Principal images"):
        assert want in text, want
    sort = at.selectbox(key="lens:mlc:sort")
    sort.set_value("true label").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("plotly_chart")
    # the controls this run has a use for: principal images (digits are images), not the 3-D
    # colouring (its features are not 3-D)
    keys = {w.key for kind in ("number_input", "selectbox", "slider") for w in at.get(kind)}
    assert "lens:mlc:cluster" in keys and "lens:mlc:color3d" not in keys, keys
