"""Projection, the shared views and the page logic, tested without a browser."""
from __future__ import annotations

import threading
import time

import numpy as np
import plotly.graph_objects as go
import pytest

from dcviz import projection as P
from dcviz.viz import common as V


def rot(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def blobs(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (3, d))
    labels = rng.integers(0, 3, n)
    # Anisotropic, so that the principal axes are well defined.
    return centers[labels] + rng.normal(0, 1, (n, d)) * np.linspace(2, 0.5, d), labels


# =========================================================================== projection

def test_pca_2d_shapes_and_centering():
    x, _ = blobs()
    p = P.pca_2d(x)
    assert p.shape == (len(x), 2)
    assert np.allclose(p.mean(0), 0, atol=1e-9)
    assert p[:, 0].var() >= p[:, 1].var()  # first component has the most variance
    assert P.pca_2d(x[:, :1]).shape == (len(x), 2)  # 1-D latent: padded
    with pytest.raises(ValueError):
        P.pca_2d(np.zeros((0, 3)))


@pytest.mark.parametrize("theta", [0.3, 1.7, -2.5])
@pytest.mark.parametrize("flip", [False, True])
def test_alignment_removes_rotation_and_flip(theta, flip):
    ref, _ = blobs(d=2)
    ref = ref - ref.mean(0)
    moved = ref @ rot(theta)
    if flip:
        moved = moved * np.array([1.0, -1.0])
    moved = moved + np.array([5.0, -3.0])  # and a shift
    assert not np.allclose(moved - moved.mean(0), ref, atol=1e-3)
    aligned = P.align_to(moved, ref)
    assert np.allclose(aligned, ref, atol=1e-8)
    R = P.procrustes_rotation(moved - moved.mean(0), ref)
    assert np.allclose(R @ R.T, np.eye(2), atol=1e-10)  # orthogonal: no stretch


def test_aligned_pca_is_stable_when_the_latent_only_rotates():
    """Snapshots whose latents differ by an orthogonal map (PCA would flip/rotate freely) give
    the same aligned picture."""
    x, _ = blobs(d=5)
    rng = np.random.default_rng(1)
    latents = [x]
    for _ in range(4):
        q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        latents.append(latents[-1] @ q)
    pics = P.aligned_pca_sequence(latents)
    for p in pics[1:]:
        assert np.allclose(p, pics[0], atol=1e-6)
    # Without alignment, at least one picture differs (signs of axes are arbitrary).
    raw = [P.pca_2d(z) for z in latents]
    assert any(not np.allclose(r, raw[0], atol=1e-6) for r in raw[1:])


def test_projection_cache_matches_sequence_and_loads_each_snapshot_once():
    x, _ = blobs(d=4)
    rng = np.random.default_rng(2)
    latents = [x + 0.05 * i * rng.normal(size=x.shape) for i in range(6)]
    loads = []

    def load(i):
        loads.append(i)
        return latents[i]

    cache = P.ProjectionCache()
    c2 = cache.aligned_pca("run", 2, load)
    c5 = cache.aligned_pca("run", 5, load)
    again = cache.aligned_pca("run", 3, load)
    expected = P.aligned_pca_sequence(latents)
    assert np.allclose(c2, expected[2]) and np.allclose(c5, expected[5]) and np.allclose(again, expected[3])
    assert sorted(loads) == list(range(6))  # incremental: nothing loaded twice
    other = cache.aligned_pca("other run", 0, lambda i: latents[5])
    assert np.allclose(other, P.pca_2d(latents[5]))


def test_method_axes_conventions_and_sign_alignment():
    rng = np.random.default_rng(3)
    axes = rng.normal(size=(50, 2))
    found = P.method_axes({"axes": axes, "axes_names": "cluster dim|shared PC1"})
    assert found is not None and np.allclose(found[0], axes)
    assert found[1] == ("cluster dim", "shared PC1")
    assert P.method_axes({"axes": axes})[1] == ("method axis 1", "method axis 2")
    assert P.method_axes({"eigenvalues": np.ones(4)}) is None

    # DEKM's eigenvectors come with arbitrary signs: the cache flips axes to match.
    y = rng.normal(size=(50, 2))
    extras = [{"axes": y}, {"axes": y * np.array([-1, 1])}, {}]
    cache = P.ProjectionCache()
    first = cache.method_axes("r", 0, lambda i: extras[i])[0]
    second = cache.method_axes("r", 1, lambda i: extras[i])[0]
    assert np.allclose(first, second)
    assert cache.method_axes("r", 2, lambda i: extras[i]) is None


def test_nearest_neighbors():
    z = np.array([[0.0, 0], [1, 0], [0, 2], [5, 5], [0.5, 0]])
    idx, dist = P.nearest_neighbors(z, 0, k=3)
    assert list(idx) == [4, 1, 2]
    assert np.allclose(dist, [0.5, 1.0, 2.0])
    assert 0 not in P.nearest_neighbors(z, 0, k=10)[0]  # never itself; k clamps to n - 1
    assert len(P.nearest_neighbors(z, 0, k=10)[0]) == 4
    with pytest.raises(IndexError):
        P.nearest_neighbors(z, 7)


def test_umap_worker_single_thread_cache_and_errors():
    active, peak, calls = [0], [0], []
    lock = threading.Lock()

    def fake(latent, seed=0, init=None):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        calls.append(len(latent))
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        if len(latent) == 3:
            raise ValueError("too few points")
        return latent[:, :2] * 2

    w = P.UmapWorker(compute=fake)
    x = np.arange(20, dtype=float).reshape(10, 2)
    keys = [("root", "run", i) for i in range(4)]
    for k in keys:
        assert w.request(k, x) in ("queued", "running", "done")  # returns at once
    for k in keys:
        assert w.wait(k, timeout=10) == "done"
        assert np.allclose(w.result(k), x * 2)
    assert peak[0] == 1  # never two layouts at once (numba aborts otherwise)
    n_calls = len(calls)
    assert w.request(keys[0], x) == "done" and len(calls) == n_calls  # cached, not recomputed
    assert w.nearest_done(("root", "run"), 10) is not None
    assert w.nearest_done(("root", "other"), 1) is None
    bad = ("root", "run", 99)
    w.request(bad, np.ones((3, 2)))
    assert w.wait(bad, timeout=10) == "failed"
    assert "too few points" in w.error(bad)


@pytest.mark.slow
def test_real_umap_layout_separates_blobs():
    """The real UMAP (numba; a cold first call compiles for a minute or more)."""
    x, labels = blobs(n=200, d=8)
    w = P.UmapWorker()
    assert w.wait(("k", 0), timeout=1) is None
    w.request(("k", 0), x)
    assert w.wait(("k", 0), timeout=900) == "done"
    emb = w.result(("k", 0))
    assert emb.shape == (200, 2) and np.isfinite(emb).all()
    # Points stay nearest to points of their own blob.
    same = [labels[P.nearest_neighbors(emb, i, 1)[0][0]] == labels[i] for i in range(200)]
    assert np.mean(same) > 0.9


# =========================================================================== views

def test_latent_figure_traces_customdata_and_webgl_switch():
    x, labels = blobs(n=300)
    coords = P.pca_2d(x)
    index = np.arange(1000, 1300)
    names = np.array(["zero", "one", "two"])[labels]
    fig = V.latent_figure(coords, index=index, color=labels,
                          extra_hover={"label": labels, "class": names})
    assert np.asarray(fig.data[0].customdata).dtype.kind in "iuf"  # clicks hand back numbers
    assert fig.data[0].text[0].startswith("class: ")
    assert isinstance(fig, go.Figure) and len(fig.data) == 3
    assert all(isinstance(t, go.Scatter) for t in fig.data)  # SVG below the WebGL threshold
    got = np.concatenate([np.asarray(t.customdata)[:, 0] for t in fig.data]).astype(int)
    assert sorted(got) == list(index)  # every point carries its sample index
    for t, v in zip(fig.data, np.unique(labels)):
        assert set(np.asarray(t.customdata)[:, 1].astype(int)) == {v}

    big = np.random.default_rng(0).normal(size=(1500, 2))
    fig = V.latent_figure(big, index=np.arange(1500), color=np.zeros(1500, int))
    assert isinstance(fig.data[0], go.Scattergl) and len(fig.data) == 1

    sel = V.latent_figure(coords, index=index, color=labels, highlight=5, neighbors=[1, 2, 3])
    assert len(sel.data) == 5  # 3 clusters + neighbours + selected
    assert list(np.asarray(sel.data[-1].customdata)[:, 0]) == [1005]
    with pytest.raises(ValueError):
        V.latent_figure(coords[:, :1], index=index)
    with pytest.raises(ValueError):
        V.latent_figure(coords, index=index[:10])


ROWS = [
    {"epoch": 0, "stage": "pretrain", "losses": {"rec": 1.0}, "metrics": {"acc": 0.3, "nmi": 0.2}, "scalars": {}},
    {"epoch": 1, "stage": "pretrain", "losses": {"rec": 0.5}, "metrics": {"acc": 0.4, "nmi": 0.3}, "scalars": {}},
    {"epoch": 2, "stage": "clustering", "losses": {"rec": 0.4, "kl": 0.1},
     "metrics": {"acc": 0.7, "nmi": 0.6, "trust": 0.9}, "scalars": {"alpha": 0.5, "note": "x"}},
]


def test_series_and_stage_boundaries():
    s = V.series(ROWS, "losses")
    assert list(s) == ["rec", "kl"]
    assert np.allclose(s["rec"], [1.0, 0.5, 0.4])
    assert np.isnan(s["kl"][:2]).all() and s["kl"][2] == 0.1
    assert list(V.series(ROWS, "scalars")) == ["alpha"]  # strings are not curves
    assert V.stage_boundaries(ROWS) == [(0, "pretrain"), (2, "clustering")]


def test_loss_and_metric_figures():
    fig = V.loss_figure(ROWS, current=1)
    names = [t.name for t in fig.data]
    assert names == ["rec", "kl"]
    vlines = [s for s in fig.layout.shapes if s.type == "line"]
    assert any(s.x0 == 1 for s in vlines)       # the slider's position
    assert any(s.x0 == 1.5 for s in vlines)     # the stage boundary
    assert any(a.text == "clustering" for a in fig.layout.annotations)

    fig = V.metric_figure(ROWS, current=2)
    names = [t.name for t in fig.data]
    assert {"ACC", "NMI", "trust", "alpha"} <= set(names)
    titles = [a.text for a in fig.layout.annotations]
    assert "clustering scores (vs. true labels)" in titles

    empty = V.loss_figure([])
    assert len(empty.data) == 0 and "nothing recorded" in empty.layout.annotations[0].text


def test_progress_text_and_numbers():
    t = V.progress_text("running", ROWS[-1], 3, 0.45)
    assert "running" in t and "clustering" in t and "epoch 2" in t and "3 snapshots" in t
    assert "45%" in t and "ACC 0.700" in t
    assert "%" not in V.progress_text("done", ROWS[0], 1, 1.0)
    assert V.format_number(None) == "–" and V.format_number(float("nan")) == "–"
    assert V.format_number(1e-5) == "1.000e-05" and V.format_number(0.5) == "0.5"


def test_views_on_a_real_run(tiny_run):
    """The pipeline the pages use, end to end on a real run."""
    view = tiny_run.view
    cache = P.ProjectionCache()
    pics = [cache.aligned_pca(view.run_id, i, lambda i: view.snapshot(i).latent) for i in range(view.count)]
    assert all(p.shape == (len(view.subsample), 2) for p in pics)
    snap = view.snapshot(-1)
    fig = V.latent_figure(pics[-1], index=view.subsample, color=snap.assign)
    assert len(fig.data) == len(np.unique(snap.assign))
    assert len(V.loss_figure(view.rows()).data) >= 1
    assert "ACC" in {t.name for t in V.metric_figure(view.rows()).data}
