"""GAN clustering (Gan et al.): the loss terms, the nets, fixed noise, the engine round trip, the lens."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.nets.gan import conv_plan, make_gan_nets
from dcviz.methods import get_method
from dcviz.methods.base import ConfigError, Context, choose_subsample
from dcviz.methods.gan import (assignment_entropy, classifier_loss, critic_loss, emd_estimate,
                               eta_schedule, generator_loss, gradient_penalty)
from dcviz.nets import set_seed

TINY = {"arch": "auto", "steps": 4, "steps_per_epoch": 2, "critic_steps": 1, "class_steps": 1, "batch_size": 8,
        "conv_width": 4, "mlp_width": 16, "n_noise": 3, "grid_cols": 3, "points_per_id": 5,
        "subsample": 300, "map_resolution": 10}


def _fit(data, seed=0, **over):
    cls = get_method("gan")
    cfg = cls.Config.from_preset("quick", **{**TINY, "n_clusters": int(data.y.max()) + 1,
                                             "seed": seed, **over})
    set_seed(seed)
    m = cls(cfg)
    m.build(data.dim, data.image_shape)
    ctx = Context(seed=seed, subsample=choose_subsample(data.n, cfg.subsample, seed))
    return m, list(m.fit(data, ctx))


@pytest.fixture(scope="module")
def digits():
    return D.load("digits")


@pytest.fixture(scope="module")
def blobs():
    return D.load("blobs8")


# --------------------------------------------------------------------------- loss terms

def test_gradient_penalty_of_a_linear_critic_is_known():
    # D(x) = w.x + b has gradient w everywhere, so GP = lambda * (||w|| - 1)^2 exactly,
    # whatever the real/fake points and the mixing weights.
    torch.manual_seed(0)
    critic = torch.nn.Linear(5, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0, 0.0, 0.0]]))  # ||w|| = 5
    real, fake, eps = torch.randn(32, 5), torch.randn(32, 5) * 7, torch.rand(32, 1)
    gp = gradient_penalty(critic, real, fake, 10.0, eps)
    assert gp.item() == pytest.approx(10.0 * (5.0 - 1.0) ** 2, rel=1e-5)
    # The penalty is differentiable in the critic's weights (create_graph): d/dw = 2 lam (|w|-1) w/|w|
    gp.backward()
    w = critic.weight.detach()
    expected = 2 * 10.0 * (5.0 - 1.0) * w / 5.0
    assert torch.allclose(critic.weight.grad, expected, rtol=1e-4)
    # A unit-norm linear critic is exactly 1-Lipschitz: no penalty.
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8, 0.0, 0.0, 0.0]]))
    assert gradient_penalty(critic, real, fake, 100.0, eps).item() == pytest.approx(0.0, abs=1e-8)


def test_critic_and_generator_losses_follow_eq5_and_eq7():
    d_real, d_fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert emd_estimate(d_real, d_fake).item() == pytest.approx(3.0)
    assert critic_loss(d_real, d_fake, torch.tensor(0.5)).item() == pytest.approx(-3.0 + 0.5)
    logits = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    ids = torch.tensor([0, 0])
    ce = classifier_loss(logits, ids).item()
    assert ce == pytest.approx(0.5 * (math.log(1 + math.exp(-5)) + math.log(1 + math.exp(5))), rel=1e-5)
    total, reality, entropy = generator_loss(d_fake, logits, ids, eta=12.0)
    assert reality.item() == pytest.approx(0.0)
    assert total.item() == pytest.approx(12.0 * ce, rel=1e-5)
    # The entropy of C's assignment is bounded by the cross-entropy (Eq. 3) and is 0 when sure.
    assert assignment_entropy(torch.tensor([[50.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)
    assert assignment_entropy(torch.zeros(1, 4)).item() == pytest.approx(math.log(4))


def test_eta_staircase():
    # Eq. 8 with the paper's values: 10, multiplied by 1.2 every 30,000 steps.
    assert eta_schedule(0, 10, 1.2, 30000) == 10
    assert eta_schedule(29999, 10, 1.2, 30000) == 10
    assert eta_schedule(30000, 10, 1.2, 30000) == pytest.approx(12.0)
    assert eta_schedule(60001, 10, 1.2, 30000) == pytest.approx(14.4)
    assert eta_schedule(899999, 10, 1.2, 30000) == pytest.approx(10 * 1.2 ** 29)
    values = [eta_schedule(t, 10, 1.2, 7) for t in range(50)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert len(set(values)) == 50 // 7 + 1


def test_a_snapshot_on_a_stairs_boundary_names_the_stair_of_its_eta(blobs):
    # tau 2 and a snapshot every 2 steps: every snapshot lands on a boundary; the stage must
    # pair the eta of the last step taken with that step's stair (it said "eta = 1 (stair 1)")
    _, snaps = _fit(blobs, steps=6, steps_per_epoch=2, tau=2, gamma=2.0, eta0=1.0)
    stages = [s.stage for s in snaps if s.step > 0]
    assert stages == ["eta = 1 (stair 0)", "eta = 2 (stair 1)", "eta = 4 (stair 2)"], stages


# --------------------------------------------------------------------------- nets

@pytest.mark.parametrize("shape,final", [((1, 8, 8), (2, 2)), ((1, 28, 28), (4, 4)),
                                         ((1, 32, 32), (4, 4)), ((1, 16, 16), (4, 4)),
                                         ((3, 32, 32), (4, 4))])
def test_conv_nets_shapes(shape, final):
    k, nz, b = 10, 7, 3
    G, Dn, C = make_gan_nets(int(np.prod(shape)), shape, k, nz, "auto", 32, 3, 4)
    x = G(torch.eye(k)[:b], torch.randn(b, nz))
    assert x.shape == (b, int(np.prod(shape)))
    assert 0.0 <= x.min().item() and x.max().item() <= 1.0  # sigmoid output, like the data
    assert Dn(x).shape == (b, 1) and C(x).shape == (b, k)
    sizes, strides = conv_plan(*shape[1:])
    assert sizes[-1] == final and len(strides) >= 3
    if shape[1] == 28:  # the paper's stack: 28 -> 14 -> 7 -> 4 (G crops 8 to 7)
        assert sizes == [(28, 28), (14, 14), (7, 7), (4, 4)] and strides == [2, 2, 2]


def test_mlp_nets_are_the_papers_x_512_512_512():
    G, Dn, C = make_gan_nets(2, None, 8, 2, "auto", 512, 3, 64)
    widths = [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [512, 512, 512, 2]
    assert G.net[0].in_features == 8 + 2  # one-hot id + noise
    assert [m.out_features for m in Dn.modules() if isinstance(m, torch.nn.Linear)] == [512, 512, 512, 1]
    assert [m.out_features for m in C.modules() if isinstance(m, torch.nn.Linear)] == [512, 512, 512, 8]


def test_bad_configs_are_refused(digits, blobs):
    cls = get_method("gan")
    m = cls(cls.Config.from_preset("quick", arch="conv"))
    with pytest.raises(ConfigError, match="needs image data"):
        m.build(blobs.dim, None)
    m = cls(cls.Config.from_preset("quick", arch="conv"))
    with pytest.raises(ConfigError, match="at least 4x4"):
        m.build(9, (1, 3, 3))
    with pytest.raises(ConfigError):
        cls.Config.from_preset("quick", n_noise=-2)
    with pytest.raises(ConfigError):
        cls.Config.from_preset("quick", gamma=0.5)
    with pytest.raises(ConfigError, match="eta0"):
        cls.Config.from_preset("quick", eta0=-0.5)
    with pytest.raises(ConfigError, match="class_noise"):
        cls.Config.from_preset("quick", class_noise=-0.5)


def test_auto_noise_and_eta_follow_the_data():
    cls = get_method("gan")

    def built(shape, dim, preset="quick", **over):
        m = cls(cls.Config.from_preset(preset, **over))
        m.build(dim, shape)
        return m
    blobs, digits, mnist = built(None, 2), built((1, 8, 8), 64), built((1, 28, 28), 784, "paper")
    assert (blobs.n_noise, blobs.eta0, blobs.arch) == (2, 10.0, "mlp")
    assert (digits.n_noise, digits.eta0) == (16, 1.0)
    assert (mnist.n_noise, mnist.eta0, mnist.arch) == (128, 10.0, "conv")  # the paper's settings
    # noise on C's input: the quick preset's auto gives it to images only; Algorithm 1 has none
    assert (blobs.class_noise, digits.class_noise, mnist.class_noise) == (0.0, 0.3, 0.0)
    assert built(None, 2, n_noise=0, eta0=3.0).n_noise == 0
    assert built(None, 2, n_noise=0, eta0=3.0).eta0 == 3.0
    paper = cls.Config.from_preset("paper")
    assert (paper.gp_weight, paper.eta0, paper.gamma, paper.tau, paper.steps, paper.lr,
            paper.critic_steps, paper.class_steps) == (100.0, 10.0, 1.2, 30000, 900000, 1e-4, 5, 4)


def test_classifier_view_adds_noise_of_the_set_std():
    cls = get_method("gan")
    fake = torch.rand(4000, 64)
    for sigma in (0.0, 0.3):
        m = cls(cls.Config.from_preset("quick", class_noise=sigma))
        m.build(64, (1, 8, 8))
        seen = m.classifier_view(fake, torch.Generator().manual_seed(0))
        assert seen.shape == fake.shape
        diff = seen - fake
        assert float(diff.mean()) == pytest.approx(0.0, abs=0.01)
        assert float(diff.std()) == pytest.approx(sigma, abs=0.01)
    assert m.classifier_view(fake, torch.Generator().manual_seed(0)) is not fake
    m0 = cls(cls.Config.from_preset("quick", class_noise=0.0))
    m0.build(64, (1, 8, 8))
    assert m0.classifier_view(fake, torch.Generator()) is fake  # Algorithm 1: C sees G's output


# --------------------------------------------------------------------------- training

def test_snapshots_of_image_data(digits):
    m, snaps = _fit(digits)
    k = 10
    assert [s.step for s in snaps] == [0, 2, 4]
    assert [s.epoch for s in snaps] == [0, 1, 2]
    last = snaps[-1]
    assert last.extras["samples"].shape == (k, 3, 64)
    assert last.latent.shape == (300, k)  # C's logits of the subsample
    assert last.assign.shape == (300,)
    assert last.extras["confusion"].shape == (k, 10) and last.extras["confusion"].sum() == digits.n
    assert last.extras["cluster_sizes"].sum() == digits.n
    for key in ("emd", "ce", "gp", "eta", "fake_acc", "entropy"):
        assert np.isfinite(last.extras[key]), key
    assert set(last.metrics) >= {"acc", "nmi", "ari"}
    assert set(last.losses) >= {"critic", "classifier", "generator"}
    # assign is C's arg-max on the subsample; predict_proba is C's softmax
    sub = choose_subsample(digits.n, 300, 0)
    assert np.array_equal(last.assign, m.predict(digits.x[sub]))
    p = m.predict_proba(digits.x[:50])
    assert p.shape == (50, k) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert np.array_equal(p.argmax(1), m.predict(digits.x[:50]))
    # the quick preset decays the learning rate linearly to 0 over the run
    assert m.config.lr_decay and m.opt_g.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    assert m.opt_d.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_snapshots_of_vector_data_have_points_and_maps(blobs):
    _, snaps = _fit(blobs)
    ex = snaps[-1].extras
    assert ex["samples"].shape == (8, 5, 2)  # k x points_per_id x D
    assert ex["class_map"].shape == (10, 10) and ex["critic_map"].shape == (10, 10)
    assert ex["class_map"].min() >= 0 and ex["class_map"].max() < 8
    assert ex["map_extent"].shape == (4,)


def test_fixed_noise_same_seed_same_grid(digits):
    _, a = _fit(digits, seed=3)
    _, b = _fit(digits, seed=3)
    _, c = _fit(digits, seed=4)
    for sa, sb in zip(a, b):
        assert np.array_equal(sa.extras["samples"], sb.extras["samples"])
    assert not np.allclose(a[-1].extras["samples"], c[-1].extras["samples"])
    # The noise is fixed inside a run: column j is the same z in every row and every snapshot,
    # so with G unchanged the grid would be unchanged; check the noise itself is drawn once.
    m, _ = _fit(digits, seed=3)
    m2, _ = _fit(digits, seed=3)
    assert torch.equal(m.grid_noise, m2.grid_noise) and m.grid_noise.shape == (3, 3)


def test_training_lowers_the_classifier_ce_and_pulls_samples_to_the_data(blobs):
    # A short run of the paper's blobs experiment with smaller nets: C learns the ids on
    # generated data (CE falls from log k), and G's points move onto the real blobs.
    m, snaps = _fit(blobs, steps=450, steps_per_epoch=150, critic_steps=5, class_steps=4,
                    batch_size=64, mlp_width=64, n_noise=2, points_per_id=50, lr=1e-3, tau=10,
                    lr_decay=False)
    first, last = snaps[1], snaps[-1]
    assert first.extras["ce"] < math.log(8)
    assert last.extras["ce"] < 0.3 and last.extras["fake_acc"] > 0.9

    def dist_to_data(samples):
        pts = samples.reshape(-1, 2)
        return np.sqrt(((pts[:, None] - blobs.x[None, ::10]) ** 2).sum(-1)).min(1).mean()

    assert dist_to_data(last.extras["samples"]) < 0.5 * dist_to_data(snaps[0].extras["samples"])


def test_interpolation_walks_between_two_noise_vectors(digits):
    m, _ = _fit(digits)
    path = m.interpolate(2, 6, seed=5)
    assert path.shape == (6, 64)
    g = torch.Generator().manual_seed(5)
    z0, z1 = torch.randn(2, m.n_noise, generator=g)
    with torch.no_grad():
        ends = m.generate(torch.tensor([2, 2]), torch.stack([z0, z1])).numpy()
    assert np.allclose(path[[0, -1]], ends, atol=1e-6)
    assert np.array_equal(path, m.interpolate(2, 6, seed=5))
    with pytest.raises(ValueError):
        m.interpolate(10, 6)


# --------------------------------------------------------------------------- engine + lens

@pytest.fixture(scope="module")
def gan_runs(tmp_path_factory):
    from dcviz.runs import RunStore, create_run, execute, prepare
    root = tmp_path_factory.mktemp("gan-runs")
    out = {}
    for name in ("digits", "blobs8"):
        ds = D.load(name)
        cls, cfg = prepare("gan", ds, {**TINY, "n_clusters": ds.n_classes}, "quick")
        rd = create_run(RunStore(root), cls, cfg, ds, "quick")
        status = execute(rd, cls, cfg, ds)
        assert status["state"] == "done", status.get("error")
        out[name] = (root, rd, ds)
    return out


def test_end_to_end_and_checkpoint_reload(gan_runs):
    from dcviz.runs.view import RunView
    for name, (_, rd, ds) in gan_runs.items():
        view = RunView(rd)
        assert view.count == 3
        method = view.method  # rebuilt from checkpoint.pt alone
        last = view.snapshot(-1)
        assert np.array_equal(method.predict(ds.x[view.subsample]), last.assign), name
        assert np.allclose(method.samples(), last.extras["samples"], atol=1e-6), name
        rows = view.rows()
        assert rows[-1]["scalars"]["eta"] > 0 and "emd" in rows[-1]["scalars"]


def test_lens_panels(gan_runs):
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    lens = get_lens("gan")
    assert lens is not None
    _, rd, ds = gan_runs["digits"]
    view = RunView(rd)
    panels = lens.panels(view, 1, {"interp_id": 3, "interp_steps": 5})
    titles = [p.title for p in panels]
    assert titles[0].startswith("Generated samples")
    grid = panels[0].figure
    assert len(grid.layout.yaxis.ticktext) == 10 and grid.layout.yaxis.ticktext[0].startswith("id 0")
    assert any("Fig. 3" in t for t in titles) and any("true classes" in t for t in titles)
    diff = panels[1]
    assert diff.title == "What the rows differ in" and diff.figure is not None
    assert diff.caption.startswith("Largest difference per id: id 0 ")
    interp = panels[-1]
    assert interp.image is not None and interp.image.shape[1] > interp.image.shape[0]
    for p in panels:
        assert (p.figure is not None) + (p.image is not None) + (p.table is not None) == 1
        assert p.text
    # A 2-D vector set: the real points with each id's generated points, C's regions, D's contours.
    _, rd, _ = gan_runs["blobs8"]
    panels = lens.panels(RunView(rd), -1, {"contours": True})
    fig = panels[0].figure
    kinds = [t.type for t in fig.data]
    assert kinds.count("heatmap") == 1 and kinds.count("contour") == 1
    assert sum(1 for t in fig.data if (t.name or "").startswith("id ")) == 8
    assert panels[-1].figure is not None  # the interpolation path over the real points
    panels = lens.panels(RunView(rd), -1, {"interp_id": 99})
    assert panels[-1].table is not None  # an id the run does not have: a note, not an error


def test_lens_in_the_explore_page(gan_runs, monkeypatch):
    from pathlib import Path
    pytest.importorskip("streamlit")
    if not (Path(__file__).resolve().parent.parent / "pages" / "explore.py").exists():
        pytest.skip("pages/explore.py does not exist yet")
    from conftest import open_page, page_text
    root, rd, _ = gan_runs["digits"]
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    at = open_page("explore", run=rd.run_id, tab="Lens")
    assert not at.exception, at.exception
    text = page_text(at)
    assert "Generated samples of each cluster id" in text
    assert "Noise interpolation inside one cluster id" in text
    assert "What the rows differ in" in text and "precise feature" in text
    assert "Largest difference per id" in text
    assert "could not be drawn" not in text


# --------------------------------------------------------------------------- what the rows differ in

def test_row_means_are_each_ids_mean_over_shared_noise(digits, tmp_path):
    m, snaps = _fit(digits, seed=2)
    last = snaps[-1].extras["row_means"]
    assert last.shape == (10, 64) and last.dtype == np.float32
    # every id is fed the same noise vectors; row i is the mean of G(i, z) over them
    with torch.no_grad():
        row3 = m.generate(torch.full((len(m.mean_noise),), 3), m.mean_noise).mean(0).numpy()
    assert np.allclose(last[3], row3, atol=1e-6)
    assert len(m.mean_noise) >= 100  # enough samples that a row's mean is not one sample's
    # training moves the rows' means (the first snapshot is the untrained G)
    assert not np.allclose(snaps[0].extras["row_means"], last)
    # the noise is saved with the nets, so a reloaded model gives the same row means
    cls = get_method("gan")
    m2 = cls(m.config)
    m2.build(digits.dim, digits.image_shape)
    m2.load_state_dict(m.state_dict())
    assert np.allclose(m2.row_means(), last, atol=1e-6)


def test_row_difference_figure_shows_a_one_pixel_cut():
    # Three ids that generate the same digit and differ only in pixel 0 (the artifact of
    # artifact-digits): 0.9, 0.5 and 0.1. Their differences from the mean are +0.4, 0 and -0.4
    # at pixel (0, 0) and nothing elsewhere.
    from dcviz.viz.gan import row_difference_figure, row_difference_panel, row_differences
    from dcviz.methods.gan import GANExtras
    shape = (1, 8, 8)
    digit = np.zeros(64, dtype=np.float32)
    digit[[10, 18, 26, 34, 42]] = 0.8
    means = np.stack([digit] * 3)
    means[:, 0] = [0.9, 0.5, 0.1]
    diff = row_differences(means)
    assert np.allclose(diff[:, 0], [0.4, 0.0, -0.4], atol=1e-6)
    assert np.allclose(diff[:, 1:], 0.0, atol=1e-6)
    fig = row_difference_figure(means, shape, ["id 0 · 0.9", "id 1 · 0.5", "id 2 · 0.1"])
    (hm,) = fig.data
    z = np.asarray(hm.z, dtype=float)
    # a diverging scale centred at 0, symmetric, whose bound is the largest difference
    assert hm.zmid == 0 and hm.zmax == pytest.approx(0.4, abs=1e-6)
    assert hm.zmin == pytest.approx(-hm.zmax)
    # three 8x8 tiles side by side; the gaps between them are empty (the page background)
    assert z.shape[0] == 8 and z.shape[1] > 3 * 8
    assert np.isnan(z[:, 8]).all()
    tiles = [z[:, c:c + 8] for c in np.flatnonzero(~np.isnan(z[0]))[::8]]
    assert len(tiles) == 3
    assert [t[0, 0] for t in tiles] == pytest.approx([0.4, 0.0, -0.4], abs=1e-6)
    assert all(np.allclose(np.delete(t.ravel(), 0), 0.0, atol=1e-6) for t in tiles)
    assert [a.text for a in fig.layout.annotations] == ["id 0 · 0.9", "id 1 · 0.5", "id 2 · 0.1"]
    # the caption names the pixel
    ex = GANExtras(samples=np.zeros((3, 1, 64)), eta=1.0, cluster_sizes=np.ones(3),
                   row_means=means)
    panel = row_difference_panel(ex, shape, ["id 0", "id 1", "id 2"])
    assert "id 0 +0.40 at (row 0, col 0)" in panel.caption
    assert "id 2 -0.40 at (row 0, col 0)" in panel.caption
    # a run made before row means were recorded gets a note, not an error
    old = row_difference_panel(GANExtras(samples=np.zeros((3, 1, 64)), eta=1.0,
                                         cluster_sizes=np.ones(3)), shape, [])
    assert old.figure is None and "no row means" in old.table[0]["note"]
