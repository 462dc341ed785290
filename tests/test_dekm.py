"""DEKM: the scatter matrix, its eigen-directions, the greedy loss, a run, its lens."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans

from dcviz import data as D
from dcviz.methods.dekm import (DEKM, eigen_directions, greedy_loss, greedy_target,
                                within_class_scatter)
from dcviz.methods.base import Context
from dcviz.nets import pretrain_autoencoder
from dcviz.runs import RunStore, create_run, execute, prepare
from dcviz.runs.view import RunView
from dcviz.viz import get_lens

TINY = {"pretrain_epochs": 4, "max_iter": 6, "batches_per_iter": 3, "batch_size": 64,
        "snapshot_every": 2, "subsample": 150, "tol": 0.0}


def test_within_class_scatter_matches_definition():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(50, 3))
    labels = rng.integers(0, 4, size=50)
    mu = np.stack([h[labels == i].mean(0) for i in range(4)])
    expected = sum(np.outer(h[i] - mu[labels[i]], h[i] - mu[labels[i]]) for i in range(50))
    np.testing.assert_allclose(within_class_scatter(h, labels, mu), expected, atol=1e-10)


def test_eigen_directions_are_orthonormal_rows_in_ascending_order():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(5, 5))
    s = a @ a.T
    values, V = eigen_directions(s)
    assert np.all(np.diff(values) >= 0)
    np.testing.assert_allclose(V @ V.T, np.eye(5), atol=1e-10)
    for lam, v in zip(values, V):  # rows are eigenvectors
        np.testing.assert_allclose(s @ v, lam * v, atol=1e-8)
    # Trace(V S_w V^T) is invariant, and its last term is the largest eigenvalue (Eq. 4).
    assert np.isclose(np.trace(V @ s @ V.T), np.trace(s))


def test_greedy_target_moves_only_the_last_coordinate():
    y = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    m = torch.tensor([[0.0, 0.0, -1.0], [9.0, 9.0, 9.0]])
    t = greedy_target(y, m, torch.tensor([0, 1]))
    assert torch.equal(t[:, :2], y[:, :2]) and t[:, 2].tolist() == [-1.0, 9.0]
    assert greedy_loss(y, t).item() == pytest.approx((16 + 9) / 2)
    assert greedy_loss(t, t).item() == 0.0


def test_greedy_updates_tighten_clusters_along_the_last_eigenvector():
    """Training the encoder on Eq. 6 lowers the within-cluster spread along v_d."""
    ds = D.load({"name": "digits", "n": 400})
    torch.manual_seed(0)
    m = DEKM(n_clusters=10, pretrain_epochs=0, batch_size=400, subsample=100)
    m.build(ds.dim, ds.image_shape)
    x = m.tensor(ds.x)
    # A briefly pretrained AE: at random init the embedding is tiny and one Adam step overshoots.
    for _ in pretrain_autoencoder(m.ae, x, epochs=15, batch_size=64, lr=1e-3, ctx=Context(0)):
        pass
    h = m.encode(x).numpy()
    km = KMeans(10, n_init=3, random_state=0).fit(h)
    _, V = eigen_directions(within_class_scatter(h, km.labels_, km.cluster_centers_))
    V_t = torch.as_tensor(V, dtype=torch.float32)
    target = greedy_target(torch.as_tensor(h) @ V_t.T, torch.as_tensor(km.cluster_centers_,
                           dtype=torch.float32) @ V_t.T, torch.as_tensor(km.labels_))

    def spread():
        y = m.encode(x) @ V_t.T
        return ((y[:, -1] - target[:, -1]) ** 2).mean().item()

    before = spread()
    opt = torch.optim.Adam(m.ae.encoder_parameters(), lr=1e-3)
    for _ in range(60):
        loss = greedy_loss(m.ae.encode(x) @ V_t.T, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert spread() < 0.5 * before


@pytest.fixture(scope="module")
def dekm_run(tmp_path_factory):
    ds = D.load({"name": "digits", "n": 300})
    cls, cfg = prepare("dekm", ds, TINY)
    rd = create_run(RunStore(tmp_path_factory.mktemp("runs")), cls, cfg, ds, "quick")
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "done", status.get("traceback")
    return rd, ds


def test_dekm_run_snapshots_carry_the_extras(dekm_run):
    rd, ds = dekm_run
    rows = rd.metrics_rows()
    stages = [r["stage"] for r in rows]
    assert stages[:2] == ["random init", "pretrain"] and stages[-1] == "clustering"
    assert stages.count("clustering") == TINY["max_iter"]
    snap = rd.load_snapshot(-1)
    d, k, n = 10, 10, 150
    assert snap.latent.shape == (n, d) and snap.assign.shape == (n,)
    assert snap.extras["eigenvalues"].shape == (d,) and np.all(np.diff(snap.extras["eigenvalues"]) >= -1e-6)
    V = snap.extras["V"]
    np.testing.assert_allclose(V @ V.T, np.eye(d), atol=1e-4)
    assert snap.extras["centroids"].shape == (k, d)
    np.testing.assert_allclose(snap.extras["Y"], snap.latent @ V.T, atol=1e-4)
    assert 0.0 <= snap.metrics["changed"] <= 1.0 and 0.0 <= snap.metrics["nmi"] <= 1.0
    assert [r["progress"] for r in rows] == sorted(r["progress"] for r in rows)
    assert rows[-1]["progress"] == 1.0


def test_first_re_clustering_records_no_change_share(dekm_run):
    """The first k-means has no labels before it: its share of changed points is absent (it
    was 1.0, drawn as 100 % changed), and the share is a metric only, not a scalar too."""
    rd, _ = dekm_run
    rows = [r for r in rd.metrics_rows() if r["stage"] == "clustering"]
    assert "changed" not in rows[0]["metrics"]
    assert all(0.0 <= r["metrics"]["changed"] <= 1.0 for r in rows[1:])
    assert [r["scalars"]["iteration"] for r in rows] == list(range(len(rows)))
    assert all("changed" not in r["scalars"] for r in rows)


def test_dekm_checkpoint_reproduces_the_last_snapshot(dekm_run):
    rd, ds = dekm_run
    m = rd.load_checkpoint()
    first = m.predict(ds.x)
    assert first.shape == (ds.n,) and set(first) <= set(range(10))
    last = rd.load_snapshot(-1)  # the encoder is not updated after the last clustering
    np.testing.assert_array_equal(first[rd.read_subsample()], last.assign)
    np.testing.assert_allclose(m.embed(ds.x[rd.read_subsample()]), last.latent, atol=1e-5)
    np.testing.assert_allclose(m.transform(ds.x[rd.read_subsample()]), last.extras["Y"], atol=1e-4)
    proba = m.predict_proba(ds.x[:5])
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    assert m.transform(ds.x[:5]).shape == (5, 10)


def test_dekm_lens_panels(dekm_run):
    rd, _ = dekm_run
    lens = get_lens("dekm")
    view = RunView(rd)
    panels = lens.panels(view, -1)
    titles = [p.title for p in panels]
    assert any("Fig. 1" in t for t in titles) and any("spectrum" in t.lower() for t in titles)
    for p in panels:
        assert p.figure is not None and p.text
    fig1 = panels[0].figure
    assert any(t.name == "last eigenvector" for t in fig1.data)
    assert any(t.name == "centroids" and len(t.x) == 10 for t in fig1.data)
    eigen = lens.panels(view, -1, {"plane": "eigen", "colour": "cluster"})
    assert eigen[0].figure is not None
    # a pretraining snapshot falls back to the first clustering one, and says so
    early = lens.panels(view, 0)
    assert "pretraining" in early[0].title


def _fig1_points(fig):
    """(coords, cluster) of the points of a Fig. 1 coloured by cluster, the centroids as drawn,
    and the drawn eigenvector line's end points."""
    pts = [t for t in fig.data if t.type == "scatter" and t.name not in ("centroids",
                                                                          "last eigenvector")]
    coords = np.concatenate([np.stack([t.x, t.y], 1) for t in pts])
    cluster = np.concatenate([np.full(len(t.x), int(t.name)) for t in pts])
    cents = next(t for t in fig.data if t.name == "centroids")
    line = next(t for t in fig.data if t.name == "last eigenvector")
    return coords, cluster, np.stack([cents.x, cents.y], 1), np.stack([line.x, line.y], 1)


def _half_width(fig):
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    return max(abs(x1 - x0), abs(y1 - y0))


def test_fig1_of_a_10d_embedding_says_how_far_its_regions_and_line_are_off(dekm_run):
    """With 10 dimensions the plane is a projection: the nearest-centroid background is named
    an approximation, the caption gives the share of points it puts in another cluster's region
    (measured here against the snapshot's own k-means assignment), and the last eigenvector is
    drawn as long as its shadow ||P v_last||, not stretched back to full length."""
    rd, _ = dekm_run
    view, lens = RunView(rd), get_lens("dekm")
    snap = view.snapshot(-1)
    latent, V, cents = snap.latent, snap.extras["V"], snap.extras["centroids"]
    mean = latent.mean(0)
    _, _, vt = np.linalg.svd(latent - mean, full_matrices=False)
    for plane, P in (("pca", vt[:2]), ("eigen", V[[0, -1]])):
        panel = lens.panels(view, -1, {"plane": plane, "colour": "cluster"})[0]
        coords = (latent - mean) @ P.T
        drawn = (((coords[:, None] - ((cents - mean) @ P.T)[None]) ** 2).sum(-1)).argmin(1)
        wrong = int((drawn != snap.assign).sum())
        n = len(drawn)
        assert "approximate" in panel.title
        assert f"{100 * wrong / n:.0f} % of the points ({wrong} of {n})" in panel.caption
        in_plane = np.linalg.norm(P @ V[-1])
        assert f"{100 * in_plane:.0f} % of the last eigenvector's length" in panel.caption
        fig = panel.figure
        assert "approximate" in fig.data[0].name  # the background heatmap
        _, _, _, line = _fig1_points(fig)
        length = np.linalg.norm(line[1] - line[0])
        assert length == pytest.approx(2 * _half_width(fig) * in_plane, rel=1e-4)
        if plane == "pca":  # the PC plane holds only part of v_last: a shorter line
            assert in_plane < 0.99
    help_text = next(o.help for o in lens.options if o.name == "plane")
    assert "as in Fig. 1" not in help_text and "2 dimensions" in help_text


def test_fig1_of_a_2d_embedding_draws_the_exact_k_means_regions(tmp_path):
    """latent_dim=2, as in the paper's Fig. 1: in both planes every point lies in the region of
    its own cluster, the caption says it is exact, and v_last lies wholly in the plane."""
    ds = D.load({"name": "digits", "n": 200})
    cls, cfg = prepare("dekm", ds, {**TINY, "latent_dim": 2, "n_clusters": 5, "subsample": 100,
                                    "max_iter": 2})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick")
    assert execute(rd, cls, cfg, ds)["state"] == "done"
    view, lens = RunView(rd), get_lens("dekm")
    for plane in ("pca", "eigen"):
        panel = lens.panels(view, -1, {"plane": plane, "colour": "cluster"})[0]
        coords, cluster, cents, line = _fig1_points(panel.figure)
        nearest = ((coords[:, None] - cents[None]) ** 2).sum(-1).argmin(1)
        np.testing.assert_array_equal(nearest, cluster)
        assert "approximate" not in panel.title and "Exact" in panel.caption
        assert "100 of 100 points lie in the region of their cluster" in panel.caption
        assert np.linalg.norm(line[1] - line[0]) == pytest.approx(2 * _half_width(panel.figure),
                                                                  rel=1e-4)


def test_dekm_lens_draws_every_snapshot_of_a_1d_latent(tmp_path):
    """latent_dim=1: the default "pca" plane took a second principal axis that is not there
    (IndexError); the second axis is now a zero axis, as in pca_2d."""
    ds = D.load({"name": "digits", "n": 200})
    cls, cfg = prepare("dekm", ds, {**TINY, "latent_dim": 1, "n_clusters": 2, "subsample": 100})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick")
    assert execute(rd, cls, cfg, ds)["state"] == "done"
    view, lens = RunView(rd), get_lens("dekm")
    for index in range(view.count):
        for plane in ("pca", "eigen"):
            panels = lens.panels(view, index, {"plane": plane, "colour": "cluster"})
            fig = panels[0].figure
            assert "Fig. 1" in panels[0].title and fig is not None
            points = [t for t in fig.data if t.type == "scatter"
                      and t.name not in ("centroids", "last eigenvector")]
            assert points and all(np.allclose(t.y, 0) for t in points)
            y0, y1 = fig.layout.yaxis.range
            assert np.isfinite([y0, y1]).all() and y1 - y0 > 1e-6
            assert "1 dimension" in fig.layout.yaxis.title.text


def test_dekm_churn_shows_zero_iterations_and_leaves_out_the_placeholder(dekm_run):
    """A log axis hid the iterations where no point changed cluster, and iteration 0's 1.0 (no
    clustering before it) was drawn as 100 % changed."""
    from dcviz.viz.dekm import churn_figure
    fig = churn_figure(np.array([1.0, 0.2, 0.0, 0.01, 0.0]), current=2)
    tr = fig.data[0]
    assert list(tr.x) == [1, 2, 3, 4] and np.allclose(tr.y, [20.0, 0.0, 1.0, 0.0])
    assert fig.layout.yaxis.type == "linear" and fig.layout.yaxis.rangemode == "tozero"
    # on a real run's lens: one point per iteration after the first, none at 100 %
    rd, _ = dekm_run
    panels = get_lens("dekm").panels(RunView(rd), -1)
    churn = next(p for p in panels if p.title.startswith("Points that changed cluster")).figure
    ys = np.asarray(churn.data[0].y)
    assert len(ys) == TINY["max_iter"] - 1 and list(churn.data[0].x)[0] == 1
    assert churn.layout.yaxis.type != "log"


def test_dekm_recovers_easy_blobs():
    ds = D.load({"name": "blobs8", "n": 800})
    from dcviz import DEKM as Est
    from dcviz.metrics import nmi
    model = Est(n_clusters=8, latent_dim=2, pretrain_epochs=15, max_iter=10, batch_size=128,
                subsample=200).fit(ds.x)
    assert nmi(ds.y, model.labels_) > 0.9


def test_batches_per_iter_auto_follows_the_authors_two_scripts():
    """-1: 40 updates between re-clusterings with the conv AE (the authors' conv code), 10 with
    the MLP (their dense code); a set value is kept; 0 is refused."""
    from dcviz.methods import get_method
    from dcviz.methods.base import ConfigError
    cls = get_method("dekm")
    paper = cls.Config.from_preset("paper")
    assert paper.batches_per_iter == -1 and paper.ae_init == "xavier"
    for shape, arch, want in [((1, 28, 28), "conv", 40), ((1, 8, 8), "mlp", 10)]:
        m = cls(cls.Config.from_preset("paper", n_clusters=3))
        m.build(shape[1] * shape[2], shape)
        assert (m.arch, m.batches_per_iter) == (arch, want)
        assert m.latent_dim == 3  # the paper's embedding of k dimensions
    m = cls(cls.Config.from_preset("paper", batches_per_iter=7))
    m.build(784, (1, 28, 28))
    assert m.batches_per_iter == 7
    with pytest.raises(ConfigError, match="batches_per_iter"):
        cls.Config.from_preset("paper", batches_per_iter=0).validate()


def test_a_run_that_ended_in_pretraining_is_not_said_to_be_pretraining_still():
    """A DEKM run stopped during its pretraining: Train's last snapshot and Explore's lens said
    "DEKM is still pretraining its autoencoder" under a card that said it was stopped."""
    from dcviz.viz.dekm import LIVE, build

    class Run:
        def __init__(self, state):
            self.status = {"state": state}

        def rows(self):
            return [{"stage": "pretrain"}, {"stage": "pretrain"}]

    for state in ("stopped", "failed"):
        (panel,) = build(Run(state), -1, {})
        assert panel.title == LIVE
        assert "still pretraining" not in panel.text and state in panel.text, panel.text
        assert "no eigen-directions" in panel.text
    for state in ("running", "paused"):
        (panel,) = build(Run(state), -1, {})
        assert "still pretraining" in panel.text
