"""DCN and ACe/DeC: the loss terms, the centroid updates, the initialisation, end-to-end runs,
checkpoints, and the ACe/DeC lens (directly and through the Explore page)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dcviz.methods import acedec as A
from dcviz.methods import dcn as D
from dcviz.methods.base import ConfigError

torch.set_num_threads(1)

# tiny configs: a linear AE keeps the runs to seconds on one core
TINY_IMAGES = {"arch": "linear", "latent_dim": 6, "pretrain_epochs": 3, "cluster_epochs": 3,
               "warmup_epochs": 3, "init_rounds": 2, "subsample": 300, "batch_size": 128}
SYNTH = {"name": "synth25", "n_samples": 600}
TINY_SYNTH = {"n_clusters": 4, "pretrain_epochs": 10, "cluster_epochs": 5, "init_rounds": 1,
              "warmup_epochs": 8, "subsample": 300, "batch_size": 64, "lr": 3e-3,
              "cluster_lr": 1e-3}


# =========================================================================== loss terms

def test_weighted_distance_is_eq2():
    g = torch.Generator().manual_seed(0)
    h, c = torch.randn(5, 4, generator=g), torch.randn(3, 4, generator=g)
    beta = torch.tensor([1.0, 0.5, 0.0, 0.25])
    d = A.weighted_distance(h[:, None], c[None], beta)
    assert d.shape == (5, 3)
    manual = np.array([[sum(float(beta[i]) ** 2 * float(h[n, i] - c[k, i]) ** 2 for i in range(4))
                        for k in range(3)] for n in range(5)])
    np.testing.assert_allclose(d.numpy(), manual, rtol=1e-5)
    # a dimension with weight 0 is ignored; with weight 1 everything is plain squared Euclidean
    h2 = h.clone()
    h2[:, 2] += 100.0
    np.testing.assert_allclose(A.weighted_distance(h2[:, None], c[None], beta).numpy(), d.numpy(), rtol=1e-5)
    ones = torch.ones(4)
    np.testing.assert_allclose(A.weighted_distance(h[:, None], c[None], ones).numpy(),
                               torch.cdist(h, c).pow(2).numpy(), rtol=1e-4)


def test_cluster_and_shared_losses_and_assignment():
    zr = torch.tensor([[0.0, 1.0], [2.0, 3.0], [10.0, -1.0]])
    cents = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    beta_cs, beta_ss = A.space_weights(torch.tensor([10.0, -10.0]))  # dim 0 clustered, dim 1 shared
    labels = A.assign_clusters(zr, cents, beta_cs)
    assert labels.tolist() == [0, 0, 1]
    lc = A.cluster_loss(zr, cents, labels, beta_cs)
    expect = (float(beta_cs[0]) ** 2 * (0 + 4 + 0) + float(beta_cs[1]) ** 2 * (1 + 9 + 1)) / 3
    assert lc.item() == pytest.approx(expect, rel=1e-5)
    mu = zr.mean(0)
    ls = A.shared_loss(zr, mu, beta_ss)
    dev = (zr - mu).pow(2)
    assert ls.item() == pytest.approx(float((dev * beta_ss.pow(2)).sum(1).mean()), rel=1e-5)
    assert float(beta_cs[0] + beta_ss[0]) == pytest.approx(1.0)


def test_reconstruction_goes_through_V_VT():
    dec = torch.nn.Linear(3, 5)
    with torch.no_grad():  # seeded weights: the global generator's state depends on test order
        g = torch.Generator().manual_seed(4)
        dec.weight.copy_(torch.randn(5, 3, generator=g))
        dec.bias.copy_(torch.randn(5, generator=g))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(2))
    Q = A.random_orthogonal(3, torch.Generator().manual_seed(3))
    with torch.no_grad():
        # with an orthogonal V, V V^T = I: the same as decoding z itself
        assert A.reconstruction_loss(x, dec, z @ Q, Q).item() == pytest.approx(
            (dec(z) - x).pow(2).sum(1).mean().item(), rel=1e-4)
        # a V that drops a direction changes the reconstruction
        P = Q.clone()
        P[:, 0] = 0
        assert A.reconstruction_loss(x, dec, z @ P, P).item() != pytest.approx(
            (dec(z) - x).pow(2).sum(1).mean().item(), rel=1e-3)
    assert A.latent_reconstruction_loss(z, Q).item() == pytest.approx(0.0, abs=1e-8)
    assert A.latent_reconstruction_loss(z, 0.5 * Q).item() > 0.1


def test_random_orthogonal_and_split():
    g = torch.Generator().manual_seed(0)
    for d in (2, 5, 10):
        Q = A.random_orthogonal(d, g)
        np.testing.assert_allclose((Q.T @ Q).numpy(), np.eye(d), atol=1e-5)
        b = A.random_split(d, g, high=0.9)
        beta = torch.sigmoid(b)
        assert torch.allclose(beta[beta > 0.5], torch.tensor(0.9)) and torch.allclose(
            beta[beta < 0.5], torch.tensor(0.1))
        assert 0 < int((beta > 0.5).sum()) < d
    # the seed decides V
    assert torch.equal(A.random_orthogonal(4, torch.Generator().manual_seed(7)),
                       A.random_orthogonal(4, torch.Generator().manual_seed(7)))


def test_one_dimensional_embedding_goes_to_the_cluster_space(tmp_path):
    # a 1-d embedding cannot be split; its dimension went to the shared space half the time
    # and the k-means of the initialisation then ran on 0 columns
    for seed in range(20):
        b = A.random_split(1, torch.Generator().manual_seed(seed))
        assert torch.sigmoid(b).item() > 0.5
    # a 1-feature data set with the defaults: the linear AE, so d = D = 1
    from dcviz import data
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, 25), rng.normal(3, 0.1, 25)])[:, None]
    path = tmp_path / "one.npz"
    np.savez(path, x=x, y=np.repeat([0, 1], 25))
    ds, rd, status = _run(tmp_path, "acedec", str(path),
                          {"n_clusters": 2, "pretrain_epochs": 1, "cluster_epochs": 1,
                           "warmup_epochs": 1, "init_rounds": 3})
    from dcviz.runs.view import RunView
    rv = RunView(rd)
    assert rv.snapshot(-1).extras["V"].shape == (1, 1)  # d = 1 indeed
    assert np.isfinite(status["metrics"]["nmi"])
    from dcviz.viz import get_lens
    assert get_lens("acedec").panels(rv, rv.count - 1)  # the lens draws an empty shared space


def test_closed_form_b_finds_the_clustered_dimension():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    z = rng.normal(0, 1, (n, 4))
    z[:, 2] = np.where(y == 1, 3.0, -3.0) + rng.normal(0, 0.3, n)  # dimension 2 holds the clusters
    zr = torch.tensor(z, dtype=torch.float32)
    labels = torch.tensor(y)
    cents = torch.stack([zr[labels == k].mean(0) for k in range(2)])
    mu = zr.mean(0)
    b = A.init_b_closed_form(zr, cents, labels, mu)
    beta = torch.sigmoid(b)
    assert int(beta.argmax()) == 2
    assert beta[2] > 0.95
    # dimensions without cluster structure: k centroids explain them as well as one centre
    others = beta[[0, 1, 3]]
    assert torch.all((others - 0.5).abs() < 0.02), others
    cfg_mask = A.cluster_mask(beta)  # the 0.55 read-out puts only dimension 2 in the cluster space
    assert cfg_mask.tolist() == [False, False, True, False]
    # and it is the minimiser of Eq. 5 in beta, per dimension
    l_c, l_s = A.per_dimension_losses(zr, cents, labels, mu)
    for i in range(4):
        f = lambda t: t ** 2 * l_c[i] + (1 - t) ** 2 * l_s[i]  # noqa: E731
        bi = float(beta[i])
        assert f(bi) <= f(min(bi + 0.02, 1.0)) + 1e-7 and f(bi) <= f(max(bi - 0.02, 0.0)) + 1e-7


# =========================================================================== DCN centroids

def test_minibatch_kmeans_update_equals_dcn_point_by_point():
    g = torch.Generator().manual_seed(0)
    cents = torch.randn(3, 2, generator=g)
    counts = torch.tensor([100.0, 5.0, 1.0])
    z = torch.randn(20, 2, generator=g)
    labels = torch.cdist(z, cents).argmin(1)
    new, new_counts = D.minibatch_kmeans_update(cents, counts, z, labels)
    # DCN's Eq. 8, one point at a time
    c, cnt = cents.clone(), counts.clone()
    for i in range(len(z)):
        k = int(labels[i])
        cnt[k] += 1
        c[k] = c[k] - (c[k] - z[i]) / cnt[k]
    np.testing.assert_allclose(new.numpy(), c.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_counts.numpy(), cnt.numpy())
    # inputs untouched; a centre with no points in the batch does not move
    assert torch.equal(counts, torch.tensor([100.0, 5.0, 1.0]))
    only0 = torch.zeros(20, dtype=torch.long)
    moved, _ = D.minibatch_kmeans_update(cents, counts, z, only0)
    assert torch.equal(moved[1:], cents[1:]) and not torch.equal(moved[0], cents[0])
    # a decay < 1 forgets: the centre moves further towards the new points
    far, _ = D.minibatch_kmeans_update(cents, counts, z, only0, decay=0.1)
    target = z.mean(0)
    assert (far[0] - target).norm() < (moved[0] - target).norm()


def test_dcn_reconstruction_summed_or_averaged_over_the_features():
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    summed = D.reconstruction_loss(x, x_hat)
    assert torch.isclose(summed, ((x_hat - x) ** 2).sum(1).mean())
    # the authors' code (MSELoss): the same term divided by the D features
    assert torch.isclose(D.reconstruction_loss(x, x_hat, "mean"), summed / 7)
    assert torch.isclose(D.reconstruction_loss(x, x_hat, "mean"), torch.nn.functional.mse_loss(x_hat, x))
    with pytest.raises(ValueError):
        D.reconstruction_loss(x, x_hat, "max")
    with pytest.raises(ConfigError):
        D.DCNConfig.from_dict({"recon_reduction": "max"})
    assert D.DCNConfig.from_preset("paper").recon_reduction == "mean"
    assert D.DCNConfig.from_preset("quick").recon_reduction == "sum"


def test_empty_clusters_are_reseeded():
    z = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [5.0, 5.0], [5.1, 5.0], [9.0, 0.0]])
    cents = torch.tensor([[0.0, 0.0], [5.0, 5.0], [100.0, 100.0]])  # centre 2 gets no points
    counts = torch.tensor([50.0, 50.0, 50.0])
    labels = D.nearest_centroid(z, cents)
    assert 2 not in labels.tolist()
    new, new_counts, new_labels, ids = D.reseed_empty_clusters(cents, counts, z, labels, 7.0)
    assert ids == [2]
    # the point its centre explains worst, (9, 0), becomes the new centre
    assert new[2].tolist() == [9.0, 0.0]
    assert new_counts[2] == 7.0 and new_labels[5] == 2
    assert sorted(set(new_labels.tolist())) == [0, 1, 2]
    assert torch.equal(new[:2], cents[:2])
    # nothing to do when every cluster has points
    same = D.reseed_empty_clusters(new, new_counts, z, new_labels, 7.0)
    assert same[3] == [] and torch.equal(same[0], new)


def test_resolve_arch_and_latent_size():
    from dcviz.nets import resolve_arch
    assert resolve_arch("auto", 27, None, offers_linear=True) == "linear"
    assert resolve_arch("auto", 27, None) == "mlp"  # where no linear AE is offered
    assert resolve_arch("auto", 64, (1, 8, 8), offers_linear=True) == "mlp"
    assert resolve_arch("auto", 1024, (1, 32, 32), offers_linear=True) == "conv"
    cfg = A.AceDecConfig()
    assert cfg.latent_size(27, None) == 27  # the paper's linear AE: d = D
    assert cfg.latent_size(64, (1, 8, 8)) == 10
    assert A.AceDecConfig(latent_dim=4).latent_size(27, None) == 4


# =========================================================================== end to end

def _run(tmp_path, method, spec, config):
    from dcviz import data
    from dcviz.runs import RunStore, create_run, execute, prepare
    ds = data.load(spec)
    cls, cfg = prepare(method, ds, config, "quick")
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "done", status.get("traceback")
    return ds, rd, status


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("acedec-synth"), "acedec", SYNTH, TINY_SYNTH)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("acedec-digits"), "acedec", "digits", TINY_IMAGES)


def test_acedec_on_synth25_finds_the_two_cluster_dimensions(synth_run):
    from dcviz.runs.view import RunView
    ds, rd, status = synth_run
    rv = RunView(rd)
    last = rv.snapshot(-1)
    assert status["metrics"]["nmi"] > 0.9
    assert "cluster_dims" in status["metrics"]
    beta = last.extras["beta_cs"]
    assert beta.shape == (27,)  # linear AE with d = D, as the paper on SYNTH-25
    assert status["metrics"]["cluster_dims"] == float((beta > 0.55).sum())
    assert 2 <= status["metrics"]["cluster_dims"] <= 4
    # the two most clustered rotated dimensions carry the clusters: k-means on them alone works
    from sklearn.cluster import KMeans
    from dcviz.metrics import nmi
    cs = last.extras["cluster_space"][:, :2]
    assert nmi(ds.y[rv.subsample], KMeans(4, n_init=5, random_state=0).fit_predict(cs)) > 0.9
    # every stage is there, the split extras have the shapes the lens reads
    stages = [r["stage"] for r in rv.rows()]
    assert stages[:2] == ["random init", "pretrain"] and stages[-2] == "clustering"
    assert stages[-1] == "final re-clustering in the cluster space"
    assert any(s.startswith("init: warm-up") for s in stages)
    assert "init: re-clustered, b in closed form" in stages
    n_cs = int(last.extras["cluster_dims"])
    assert last.extras["cluster_space"].shape == (len(rv.subsample), n_cs)
    assert last.extras["shared_space"].shape == (len(rv.subsample), 27 - n_cs)
    assert last.extras["V"].shape == (27, 27) and last.extras["centroids"].shape == (4, 27)
    assert last.extras["axes"].shape == (len(rv.subsample), 2)


def test_final_reclustering_renews_stale_centroids_and_keeps_the_split(synth_run):
    """The last step re-clusters in the learned cluster space: centroids left behind by a moving
    embedding are replaced, while V and b (the split training found) stay as they were."""
    from dcviz.methods.base import Context
    from dcviz.metrics import nmi
    from dcviz.runs.view import RunView
    ds, rd, _ = synth_run
    rv = RunView(rd)
    m = rv.method
    good = nmi(ds.y, m.predict(ds.x))
    V, b = m.V.clone(), m.b.clone()
    # stale centroids: all but one collapsed onto the data mean, as if they had lost the data
    m.centroids = m.mu.expand_as(m.centroids).clone()
    m.centroids[0] += 5.0
    assert nmi(ds.y, m.predict(ds.x)) < good - 0.3
    ctx = Context(seed=0, subsample=rv.subsample)
    snap = list(m._final_recluster(ds, ctx, m.tensor(ds.x)))
    assert len(snap) == 1
    assert nmi(ds.y, m.predict(ds.x)) > 0.9 and nmi(ds.y, m.predict(ds.x)) >= good - 0.02
    assert torch.equal(m.V, V) and torch.equal(m.b, b)
    # the points are assigned in the space k-means ran in: the hard mask of the cluster space,
    # so the labels are that partition (snapshot and predict agree)
    from dcviz.methods.acedec import cluster_mask
    mask = cluster_mask(m.beta_cs, m.config.cluster_threshold)
    assert mask.any() and torch.equal(m.readout, mask.float())
    assert np.array_equal(snap[0].assign, m.predict(ds.x)[rv.subsample])


def test_V_stays_near_orthogonal(synth_run):
    from dcviz.runs.view import RunView
    rv = RunView(synth_run[1])
    # the warm-up holds V a rotation exactly, so the decoder, pretrained on z, still decodes
    # V V^T z = z when the clustering starts
    warm = [rv.snapshot(i).extras["v_orthogonality_error"] for i in range(rv.count)
            if rv.rows()[i]["stage"].startswith("init")]
    assert warm and max(warm) < 1e-4, warm
    errs = [rv.snapshot(i).extras["v_orthogonality_error"] for i in range(rv.count)
            if "V" in rv.snapshot(i).extras]
    assert errs and max(errs) < 0.3, errs
    V = rv.snapshot(-1).extras["V"]
    # a rotation keeps lengths: the singular values of V stay near 1
    s = np.linalg.svd(V, compute_uv=False)
    assert s.min() > 0.6 and s.max() < 1.4, s


def test_checkpoint_reload_gives_the_same_predictions(synth_run, digits_run):
    from dcviz.runs.view import RunView
    for ds, rd, _ in (synth_run, digits_run):
        rv = RunView(rd)
        m = rv.method  # torch.load(weights_only=True)
        pred = m.predict(ds.x)
        np.testing.assert_array_equal(pred[rv.subsample], rv.snapshot(-1).assign)
        np.testing.assert_allclose(m.embed(ds.x[rv.subsample]), rv.snapshot(-1).latent, atol=1e-4)
        assert m.epoch_done == rv.snapshot(-1).epoch


def test_dcn_end_to_end_and_reload(tmp_path):
    from dcviz.runs.view import RunView
    conf = {"arch": "linear", "latent_dim": 6, "pretrain_epochs": 3, "cluster_epochs": 3,
            "subsample": 300, "cluster_lr": 1e-3}
    ds, rd, status = _run(tmp_path / "a", "dcn", "digits", {**conf, "lam": 10.0})
    rv = RunView(rd)
    stages = [r["stage"] for r in rv.rows()]
    assert "k-means init" in stages and stages[-1] == "clustering"
    assert 0.0 < status["metrics"]["nmi"] <= 1.0
    m = rv.method
    np.testing.assert_array_equal(m.predict(ds.x)[rv.subsample], rv.snapshot(-1).assign)
    assert rv.snapshot(-1).extras["centroids"].shape == (10, 6)
    # lambda weighs the k-means loss of Eq. 4: the same run without it ends with a larger one
    _, rd0, _ = _run(tmp_path / "b", "dcn", "digits", {**conf, "lam": 0.0})
    km = lambda r: RunView(r).rows()[-1]["losses"]["kmeans"]  # noqa: E731
    assert km(rd) < 0.8 * km(rd0)
    # the reconstruction averaged over the 64 features (the authors' code) lets the same lambda
    # pull the points closer to their centroids
    _, rd_sum1, _ = _run(tmp_path / "c", "dcn", "digits", {**conf, "lam": 1.0})
    _, rd_mean1, _ = _run(tmp_path / "d", "dcn", "digits",
                          {**conf, "lam": 1.0, "recon_reduction": "mean"})
    assert km(rd_mean1) < 0.75 * km(rd_sum1)


def test_bad_configs_are_refused(tmp_path):
    from dcviz import data
    with pytest.raises(ConfigError):
        A.AceDecConfig.from_dict({"b_lr_factor": -1})
    with pytest.raises(ConfigError):
        D.DCNConfig.from_dict({"lam": -0.5})
    ds = data.load(SYNTH)
    m = A.AceDec(A.AceDecConfig.from_preset("quick", n_clusters=4, augment=True))
    # the build says it, so that the run engine refuses it before a run folder exists
    with pytest.raises(ConfigError, match="image"):
        m.build(ds.dim, ds.image_shape)


def test_augmentation_mode_runs_on_images(tmp_path):
    ds, rd, status = _run(tmp_path, "acedec", "digits", {**TINY_IMAGES, "augment": True,
                                                         "aug_gamma": 2.0,
                                                         "pretrain_epochs": 1, "cluster_epochs": 1,
                                                         "init_rounds": 1, "warmup_epochs": 1})
    assert np.isfinite(status["metrics"]["nmi"])
    x = torch.tensor(ds.x[:8])
    aug = A.augment_view(x, ds.image_shape, torch.Generator().manual_seed(0), 15.0, 0.1)
    assert aug.shape == x.shape and not torch.allclose(aug, x)
    lit = A.augment_view(x, ds.image_shape, torch.Generator().manual_seed(0), 15.0, 0.1, 2.0)
    assert lit.shape == x.shape and not torch.allclose(lit, aug)


def test_gamma_jitter_changes_the_shading_not_the_outline():
    """The lighting augmentation keeps a dark background dark, full white white and the order of
    the pixels within an image (so the outline is where it was); it changes the mid-tones."""
    from dcviz.nets.augment import gamma_jitter
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 50) * 0.8 + 0.1
    x[:, :5] = 0.0
    x[:, 5] = 1.0
    out = gamma_jitter(x, gen, 3.0)
    assert torch.equal(out[:, :5], x[:, :5]) and torch.allclose(out[:, 5], x[:, 5])
    assert torch.equal(out.argsort(1)[:, 6:], x.argsort(1)[:, 6:])
    g = torch.log(out[:, 6:]) / torch.log(x[:, 6:])  # one exponent per image
    assert torch.allclose(g, g[:, :1].expand_as(g), rtol=1e-3)
    assert float(g.min()) >= 1 / 3 - 1e-4 and float(g.max()) <= 3 + 1e-3
    assert float(g.min()) < 0.8 and float(g.max()) > 1.25  # both ways
    assert torch.equal(gamma_jitter(x, gen, 1.0), x)
    with pytest.raises(ValueError):
        gamma_jitter(x, gen, 0.5)


def test_objects_preset_augments_the_clustering_on_the_shared_plain_ae():
    """The objects preset's augmentation works in the clustering only: its pretraining is the
    plain recipe, so its AE is the one DCN with the same pretrain_epochs gets (a fair
    comparison); the authors' augmented pretraining (aug_pretrain) is a recipe of its own."""
    from dcviz import data
    from dcviz.methods import get_method
    from dcviz.runs.pretraining import plan_pretraining
    ds = data.load("objects")

    def key(method, preset="quick", **config):
        cls = get_method(method)
        return plan_pretraining(cls, cls.Config.from_preset(preset, **config), ds).key

    cfg = A.AceDecConfig.from_preset("objects")
    assert cfg.augment and not cfg.aug_pretrain and cfg.aug_gamma > 1 and cfg.aug_rotation == 180
    shared = key("acedec", "objects")
    assert shared.id == key("dcn", pretrain_epochs=cfg.pretrain_epochs).id
    assert shared.recipe["augment"] == "none"
    own = key("acedec", "objects", aug_pretrain=True)
    assert own.id != shared.id and "gamma 3.0" in own.recipe["augment"]


def test_pretraining_learns_the_augmented_views():
    """With ``augment``, each batch is replaced by its random view, as input and as target."""
    from dcviz.methods.base import Context
    from dcviz.nets import pretrain_autoencoder
    x = torch.rand(32, 4)
    seen = []

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, xb):
            seen.append(xb.clone())
            return xb * self.w

    def flip(xb):
        return -xb

    losses = [loss for _, loss in pretrain_autoencoder(Probe(), x, epochs=1, batch_size=32,
                                                       lr=1e-3, ctx=Context(0), augment=flip)]
    assert len(seen) == 1 and torch.allclose(seen[0].sort(0).values, (-x).sort(0).values)
    # the loss is against the view (-x), not the original: ||0 * (-x) - (-x)||^2 = mean(x^2)
    assert losses[0] == pytest.approx(float(x.pow(2).mean()), rel=1e-5)


# =========================================================================== the lens

def _panel_kinds(panels):
    return [("figure" if p.figure is not None else "image" if p.image is not None else "table")
            for p in panels]


def test_lens_panels_on_vector_data(synth_run):
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    rv = RunView(synth_run[1])
    lens = get_lens("acedec")
    assert lens is not None and "acedec" in lens.method_ids
    panels = lens.panels(rv, rv.count - 1)
    titles = " | ".join(p.title for p in panels)
    assert "beta_cs per latent dimension" in titles and "beta_cs over training" in titles
    assert "Fig. 3" in titles and "Fig. 1b" in titles and "Traversal" in titles
    assert all(k == "figure" for k in _panel_kinds(panels)), _panel_kinds(panels)
    for p in panels:
        assert p.text
    bar = panels[0].figure
    np.testing.assert_allclose(np.asarray(bar.data[0].y), rv.snapshot(-1).extras["beta_cs"], rtol=1e-6)
    # the traversal: one line per cluster, N_STEPS points each
    trav = next(p for p in panels if p.title.startswith("Traversal"))
    lines = [t for t in trav.figure.data if t.name.startswith("cluster")]
    assert len(lines) == 4 and all(len(t.x) == 7 for t in lines)
    # an earlier snapshot says the decoded views come from the final checkpoint
    early = lens.panels(rv, 2)
    assert any("Decoded with the final checkpoint" in p.text for p in early)
    assert all("Decoded with the final checkpoint" not in p.text for p in panels)
    # pretraining snapshots have no split yet, and say so
    first = lens.panels(rv, 0)
    assert "No split yet" in str(first[0].table)
    # another PC: PC2 of the shared space
    pc2 = lens.panels(rv, rv.count - 1, {"pc": 2, "colour": "cluster"})
    assert any("shared PC2" in p.title for p in pc2)


def test_lens_says_the_runs_b_lr_factor(synth_run):
    """The history's text read "ten times the rate" whatever the run's b_lr_factor was."""
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    rv = RunView(synth_run[1])
    lens = get_lens("acedec")

    def history_text():
        return next(p.text for p in lens.panels(rv, rv.count - 1)
                    if p.title == "beta_cs over training")
    assert rv.config["config"]["b_lr_factor"] == 10.0 and "ten times" in history_text()
    rv.config = {**rv.config, "config": {**rv.config["config"], "b_lr_factor": 3.0}}
    text = history_text()
    assert "3 times that of the network" in text and "ten times" not in text


def test_decoded_views_colour_by_the_checkpoints_clusters(synth_run):
    """The decoded views place the points with the checkpoint's network; coloured by cluster,
    they take that network's clusters, not those of the selected (earlier) snapshot."""
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    ds, rd, _ = synth_run
    rv = RunView(rd)
    method = rv.method
    sub = rv.subsample
    own = method.predict(ds.x[sub])
    # an earlier snapshot with a split whose clusters differ from the checkpoint's
    index = next(i for i in range(rv.count) if rv.snapshot(i).extras.get("beta_cs") is not None
                 and rv.snapshot(i).epoch != method.epoch_done
                 and (rv.snapshot(i).assign != own).mean() > 0.1)
    panels = get_lens("acedec").panels(rv, index, {"colour": "cluster"})
    fig3 = next(p for p in panels if p.title.startswith("Fig. 3"))
    drawn = np.full(len(sub), -1)
    where = {int(s): j for j, s in enumerate(sub)}
    for t in fig3.figure.data:
        if t.name != "traversal":
            drawn[[where[int(s)] for s in t.customdata]] = int(t.name)
    np.testing.assert_array_equal(drawn, own)
    assert "checkpoint's clusters" in fig3.text


def test_lens_panels_on_images(digits_run):
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    rv = RunView(digits_run[1])
    m = rv.method
    beta = m.beta_cs.numpy()
    # force a shared space on this tiny run, so every decoded panel is drawn
    if (beta <= 0.55).sum() < 2:
        m.b = torch.tensor([4.0, 3.0, 2.0, -1.0, -2.0, -3.0])
    panels = get_lens("acedec").panels(rv, rv.count - 1)
    images = [p for p in panels if p.image is not None]
    titles = [p.title for p in images]
    assert any(t.startswith("Traversal grid") for t in titles)
    assert any(t.startswith("Fig. 1b") for t in titles)
    grid = next(p.image for p in images if p.title.startswith("Traversal grid"))
    # rows = clusters (10), cols = 7 steps, 8x8 digits with 1-pixel padding
    assert grid.shape == (10 * 9 + 1, 7 * 9 + 1)
    fig1b = next(p.image for p in images if p.title.startswith("Fig. 1b"))
    assert fig1b.shape[0] == 4 * 9 + 1  # input, reconstruction, cluster only, shared only
    assert 0.0 <= fig1b.min() and fig1b.max() <= 1.0


def test_split_reconstructions_keep_and_drop_the_right_parts(digits_run):
    from dcviz.runs.view import RunView
    ds = digits_run[0]
    m = RunView(digits_run[1]).method
    m.b = torch.tensor([4.0, 4.0, 4.0, -4.0, -4.0, -4.0])
    x = ds.x[:20]
    rec = m.split_reconstructions(x)
    zr = m.rotated(x).numpy()
    mu_r = (m.mu @ m.V).numpy()
    # the cluster-only code keeps the cluster dimensions and puts the mean in the others
    code_c = np.where(np.arange(6) < 3, zr, mu_r)
    np.testing.assert_allclose(rec["cluster_only"], m.decode_rotated(code_c.astype(np.float32)), atol=1e-5)
    code_s = np.where(np.arange(6) < 3, mu_r, zr)
    np.testing.assert_allclose(rec["shared_only"], m.decode_rotated(code_s.astype(np.float32)), atol=1e-5)


def test_lens_in_the_explore_page(synth_run, monkeypatch):
    from pathlib import Path

    from pagekit import open_page, page_text
    rd = synth_run[1]
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(Path(rd.path).parent))
    at = open_page("explore", run=rd.run_id, tab="Lens")
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Traceback" not in text and "could not be drawn" not in text
    assert "beta_cs" in text
    charts = at.get("plotly_chart")
    assert len(charts) >= 4
    # the lens's option widget is there and switching the PC redraws without errors
    sel = at.selectbox(key="lens:acedec:pc")
    sel.set_value(2).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "PC2" in page_text(at) and "could not be drawn" not in page_text(at)
