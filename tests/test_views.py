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
    assert {"ACC", "NMI", "Trust", "alpha"} <= set(names)
    titles = [a.text for a in fig.layout.annotations]
    assert any(t.startswith(V.SCORES_TITLE) for t in titles)

    # one slider line and one stage line in every subplot, on that subplot's own axes
    traced = {(t.xaxis or "x", t.yaxis or "y") for t in fig.data}
    for xa, ya in traced:
        here = [s for s in fig.layout.shapes if s.xref == xa and s.yref == f"{ya} domain"]
        assert sorted(s.x0 for s in here) == [1.5, 2], (xa, ya)
    assert len(fig.layout.shapes) == 2 * len(traced)

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


# =========================================================================== figures: issue 21

import re  # noqa: E402

from dcviz.viz import style as S  # noqa: E402


def _rows(stages: list[tuple[str, int]]) -> list[dict]:
    """metrics.jsonl rows of a run with these (stage, snapshots) in order."""
    out = []
    for stage, n in stages:
        for _ in range(n):
            i = len(out)
            out.append({"epoch": i, "step": i, "stage": stage, "losses": {"rec": 1.0 / (i + 1)},
                        "metrics": {"acc": 0.5}, "scalars": {}})
    return out


# Stage sequences as the methods write them (dcviz/methods/*.py): ACe/DeC's init rounds are a
# snapshot each, the GAN climbs a staircase of eta, DCRL has a one-snapshot random init.
ACEDEC_STAGES = ([("random init", 1), ("pretrain", 6)]
                 + [(f"init: warm-up of V and b, round {r}", 1) for r in range(1, 13)]
                 + [("init: re-clustered, b in closed form", 1), ("clustering", 30),
                    ("final re-clustering in the cluster space", 1)])
GAN_STAGES = [("initial nets", 1)] + [(f"eta = {0.05 * 2 ** s:.4g} (stair {s})", 3) for s in range(8)]
DCRL_STAGES = [("random init", 1), ("pretrain", 2), ("stage 1: clustering", 2),
               ("stage 2: separation", 1), ("stage 3: structure recovery", 3)]


def _stage_labels(fig) -> list:
    return [a for a in fig.layout.annotations if a.yshift is not None and a.font.size == 10]


def _extents(labels, n: int, plot_px: float):
    """(row, x from, x to) in pixels of each label, from its text length."""
    per_px = (n - 0.5 + 0.5) / plot_px
    out = []
    for a in labels:
        w = V.label_width(a.text)
        x = (a.x + 0.5) / per_px
        lo = x if a.xanchor == "left" else x - w
        out.append((a.yshift, lo, lo + w))
    return out


@pytest.mark.parametrize("stages", [ACEDEC_STAGES, GAN_STAGES, DCRL_STAGES],
                         ids=["acedec", "gan", "dcrl"])
def test_stage_labels_never_overlap(stages):
    rows = _rows(stages)
    from dcviz.viz import dcrl, mlc
    # each at the width it is drawn for: Explore's two columns, Train's narrow one
    figures = {"loss": (V.loss_figure(rows, current=3), 340),
               "metrics": (V.metric_figure(rows, current=3), 340),
               "train loss": (V.loss_figure(rows, ncols=1, plot_px=280), 280),
               "mlc curves": (mlc.curves(rows, {"a": np.ones(len(rows))}, current=3, y_title="y"), 340),
               # DCRL's Training stage, in Present's half of a 1024-px projector
               "dcrl pressure": (dcrl.pressure_figure(rows, current=3), 320)}
    assert tuple(figures["dcrl pressure"][0].layout.xaxis.range) == V.stage_x_range(rows, 3)
    for what, (fig, px) in figures.items():
        labels = _stage_labels(fig)
        assert labels, what
        ext = _extents(labels, len(rows), px)
        for i, (row_i, lo_i, hi_i) in enumerate(ext):
            assert -1 <= lo_i and hi_i <= px + 1, (what, labels[i].text)  # inside the plot
            for row_j, lo_j, hi_j in ext[i + 1:]:
                assert row_i != row_j or hi_i <= lo_j or hi_j <= lo_i, (what, labels[i].text)
    texts = [a.text for a in _stage_labels(V.loss_figure(rows))]
    assert len(texts) == len(set(texts))
    if stages is ACEDEC_STAGES:
        # the twelve rounds are one span with one label, not twelve
        assert V.stage_spans(rows)[2][2] == "init: warm-up of V and b, round 1–12"
        assert sum("round" in t for t in texts) <= 1
    if stages is GAN_STAGES:
        assert V.stage_spans(rows)[1][2] == "eta = 0.05–6.4 (stair 0–7)"
    if stages is DCRL_STAGES:
        # DCRL's stages are short ("stage 2"); all five fit in two rows
        assert set(texts) == {"random init", "pretrain", "stage 1", "stage 2", "stage 3"}
    # every stage boundary keeps its dashed line, labelled or not
    dashed = {s.x0 for s in V.loss_figure(rows).layout.shapes if s.line.dash == "dash"}
    assert dashed == {i - 0.5 for i, _ in V.stage_boundaries(rows) if i > 0}


def test_log_axes_have_round_labelled_ticks():
    from dcviz.viz import dekm
    eigs = np.geomspace(1e-3, 20, 40).reshape(10, 4)
    fig = S.finish(dekm.spectrum_figure(eigs, 2))
    ax = fig.layout.yaxis
    assert ax.type == "log" and ax.tickmode == "array"
    assert ax.tickvals[0] >= 1e-3 and ax.tickvals[-1] <= 20 and 3 <= len(ax.tickvals) <= 8
    for v, t in zip(ax.tickvals, ax.ticktext):
        # every label says its whole value: no bare "2" or "5" for 2e-3 or 5e-2
        m = re.fullmatch(r"(?:([\d.]+)·)?10<sup>−?(\d+)</sup>", t)
        if m:
            sign = -1 if "−" in t else 1
            assert np.isclose(float(m.group(1) or 1) * 10.0 ** (sign * int(m.group(2))), v)
        else:
            assert np.isclose(float(t), v)
    assert S.log_ticks(0.05, 2.0) == [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    assert S.log_ticks(0.3, 0.8) == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    assert len(S.log_ticks(1e-12, 1.0)) <= 8 and S.log_ticks(0.31, 0.33) == [0.31, 0.32, 0.33]


def test_long_legend_goes_under_the_plot_and_the_toolbar_clears_a_side_legend():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(500, 2))
    labels = np.arange(500) % 25
    small = V.latent_figure(coords, index=np.arange(500), color=labels % 4)
    assert small.layout.legend.orientation in (None, "v")
    assert small.layout.margin.t >= S.TOOLBAR_PX  # the toolbar sits above the legend's title
    big = V.latent_figure(coords, index=np.arange(500), color=labels, highlight=3,
                          neighbors=[4, 5])
    assert len(S.legend_entries(big)) == 27  # 25 clusters, the neighbours, the selected point
    assert big.layout.legend.orientation == "h" and big.layout.legend.yanchor == "top"
    cols = S.ASSUMED_WIDTH_PX // big.layout.legend.entrywidth
    assert big.layout.height >= 520 + np.ceil(27 / cols) * S.LEGEND_ROW_PX


def test_palette_and_neutral_marks_read_on_both_themes():
    assert len(S.PALETTE) >= 30 and len(set(S.PALETTE)) == len(S.PALETTE)
    for c in S.PALETTE + [S.INK, S.MUTED]:
        assert S.readable(c), c
    # the colours that vanished: black crosses on the dark theme, Light24's pastels on white
    assert not S.readable("black") and not S.readable("#FED4C4") and not S.readable("white")
    assert np.isclose(S.contrast("black", "white"), 21.0)
    assert np.isclose(S.contrast("rgba(0,0,0,0.0)", "#0e1117"), 1.0)


def test_mlc_principal_images_are_large_enough_to_read():
    from types import SimpleNamespace

    from dcviz.viz import mlc
    ds = SimpleNamespace(image_shape=(1, 8, 8), x=np.random.default_rng(0).random((500, 64)))
    pidx = np.arange(10 * 8 * 8).reshape(10, 8, 8) % 500
    img = mlc.principal_mosaic(ds, pidx)
    # two rows of five clusters; each sample at least MIN_TILE_PX, each cluster's block at
    # least 8 of them across
    assert img.shape[1] >= 5 * 8 * mlc.MIN_TILE_PX and img.shape[0] >= 2 * 8 * mlc.MIN_TILE_PX
    assert img.shape[1] / img.shape[0] < 3
    f = -(-mlc.MIN_TILE_PX // 8)
    one = mlc.principal_image(ds, pidx, 0)
    assert np.allclose(img[:one.shape[0] * f:f, :one.shape[1] * f:f], one)  # whole-pixel enlargement


# --------------------------------------------------------------------------- both themes

@pytest.fixture(scope="module")
def every_method_run(tmp_path_factory):
    """A finished tiny run of every shipped method (the method-contract test's configs)."""
    from conftest import train_run
    from test_method_contract import TINY, TINY_DATA, shipped
    root = tmp_path_factory.mktemp("theme-runs")
    return {mid: train_run(root, mid, TINY_DATA, {**TINY.get(mid, {}), "subsample": 150})
            for mid in shipped()}


def _colours(fig):
    """(where, colour) of every mark and text a figure draws in a fixed colour over the plot's
    background: markers (their outline where the fill is transparent), lines, texts,
    annotations, line shapes, axis titles. Heatmaps, images and surfaces paint their own
    ground, so what they draw (and what is drawn on them) is left out."""
    def strs(v):
        if isinstance(v, str):
            return [v]
        if isinstance(v, (list, tuple, np.ndarray)):
            return [c for c in v if isinstance(c, str)]
        return []

    out = []
    for t in fig.data:
        kind = t.type
        if kind in ("heatmap", "image", "surface", "contour"):
            continue
        name = f"trace {t.name!r} ({kind})"
        marker = getattr(t, "marker", None)
        mode = getattr(t, "mode", None) or ""
        if marker is not None and (kind in ("bar", "box") or "markers" in mode):
            fills = strs(marker.color)
            line = getattr(marker, "line", None)
            see_through = fills and all(S.rgba(c) and S.rgba(c)[3] < 0.05 for c in fills)
            symbol = str(getattr(marker, "symbol", "") or "")
            if see_through or symbol.endswith("-open"):
                out += [(name + " marker outline", c) for c in strs(getattr(line, "color", None))]
                if symbol.endswith("-open"):
                    out += [(name + " open marker", c) for c in fills]
            else:
                out += [(name + " marker", c) for c in fills]
        if "lines" in mode and getattr(t, "line", None) is not None:
            out += [(name + " line", c) for c in strs(t.line.color)]
        if "text" in mode and getattr(t, "textfont", None) is not None:
            out += [(name + " text", c) for c in strs(t.textfont.color)]
    for a in fig.layout.annotations or ():
        out += [(f"annotation {a.text!r}", c) for c in strs(a.font.color)]
    heat = any(t.type == "heatmap" and t.xaxis in (None, "x") for t in fig.data)
    for sh in fig.layout.shapes or ():
        if sh.type == "line" and not heat:  # lines framing a heatmap's blocks lie on it
            out += [("shape line", c) for c in strs(sh.line.color)]
    for key in fig.layout.to_plotly_json():
        if re.fullmatch(r"[xy]axis\d*", key):
            out += [(f"{key} title", c) for c in strs(fig.layout[key].title.font.color)]
    return out


def _unreadable(fig) -> list[str]:
    return [f"{where}: {c} (contrast {min(S.contrast(c, b) for b in S.BACKGROUNDS.values()):.2f})"
            for where, c in _colours(fig) if S.rgba(c) is None or not S.readable(c)]


def test_every_figure_reads_in_both_themes(every_method_run):
    """Every lens's figures (two snapshots each, both colourings) and the shared views of a
    tiny run of every method: no mark or text in a colour close to the light (#ffffff) or the
    dark (#0e1117, or Streamlit 1.67's #171614) theme's background."""
    from dcviz import projection as P
    from dcviz.viz import get_lens
    checked, bad = 0, []
    assert not _unreadable(V.latent_figure(np.eye(3)[:, :2], index=np.arange(3)))
    for mid, run in every_method_run.items():
        view = run.view
        lens = get_lens(mid)
        figures = []
        for index in sorted({view.count // 2, view.count - 1}):
            snap = view.snapshot(index)
            coords = P.pca_2d(snap.latent)
            figures.append(V.latent_figure(coords, index=view.subsample, color=snap.assign,
                                           highlight=0, neighbors=[1, 2]))
            figures += [V.loss_figure(view.rows(), current=index),
                        V.metric_figure(view.rows(), current=index)]
            if lens is not None:
                for colour in ("true label", "cluster"):
                    for p in lens.panels(view, index, {"colour": colour}):
                        if p.figure is not None:
                            figures.append(p.figure)
        for fig in figures:
            checked += 1
            bad += [f"{mid}: {b}" for b in _unreadable(fig)]
            bad += [f"{mid}: hex colour scale stop {c}" for c in _hex_stops(fig)]
    assert checked >= 5 * len(every_method_run)
    assert not bad, "\n".join(bad)


def _hex_stops(fig) -> list[str]:
    """Hex stops of the figure's colour scales, which Streamlit's plotly.js can misdraw."""
    return [c for t in fig.data for _, c in (getattr(t, "colorscale", None) or ())
            if isinstance(c, str) and c.startswith("#")]


def test_magma_keeps_its_dark_end():
    """Streamlit's plotly.js draws the stop "#000004" pink: MLC's Π heatmap showed its zeros
    brighter than its middle. finish() writes every stop as rgb(), the same colours."""
    fig = S.finish(go.Figure(go.Heatmap(z=[[0.0, 1.0]], colorscale="Magma")))
    scale = fig.data[0].colorscale
    assert scale[0] == (0.0, "rgb(0,0,4)") and scale[-1] == (1.0, "rgb(252,253,191)")
    assert len(scale) == 10 and not _hex_stops(fig)


def test_gan_fig3_axis_titles_sit_on_their_own_panels(every_method_run):
    from dcviz.viz import gan
    rows = every_method_run["gan"].view.rows()
    fig = gan.curves_figure(rows, rows[-1]["step"])
    layout = fig.layout
    title_of = {t.name: layout["yaxis" + t.yaxis[1:]].title.text for t in fig.data}
    assert title_of["cross-entropy L_C"] == "CE (nats)"
    assert title_of["fake accuracy"] == "fake accuracy"
    assert title_of["EMD estimate"] == "EMD"
    assert title_of["eta"] == "eta"
    assert title_of["ACC"] == title_of["NMI"] == "score"
    # a panel's two y axes share its x axis, and no panel has a neighbour to its left or right:
    # an axis title between two panels is what read as the other panel's
    panel_x = {t.name: t.xaxis for t in fig.data}
    assert panel_x["cross-entropy L_C"] == panel_x["fake accuracy"]
    assert panel_x["EMD estimate"] == panel_x["eta"] != panel_x["fake accuracy"]
    domains = {tuple(layout[k].domain) for k in layout.to_plotly_json() if re.fullmatch(r"xaxis\d*", k)}
    assert len(domains) == 1  # one column
    secondary = {t.name: layout["yaxis" + t.yaxis[1:]] for t in fig.data}
    assert secondary["fake accuracy"].side == "right" and secondary["eta"].side == "right"
    assert secondary["eta"].type == "log" and secondary["eta"].tickmode == "array"
    # the subplot titles stack top to bottom in the paper's order (a), (b), (c)
    heads = sorted((a for a in layout.annotations if a.text.startswith("(")), key=lambda a: -a.y)
    assert [a.text[:3] for a in heads] == ["(a)", "(b)", "(c)"]


def test_a_replaced_data_file_is_not_taken_for_the_runs_data(tiny_run, tmp_path):
    """A run trained on a file reads it again from its path; a different file there now (more
    points, so the subsample still fits, or other features) is refused with the reason."""
    import shutil

    from dcviz import data as D
    from dcviz.runs import RunStore
    from dcviz.runs.view import RunView

    digits = D.load("digits")
    root = tmp_path / "runs"
    shutil.copytree(tiny_run.root / tiny_run.run_id, root / tiny_run.run_id)
    rd = RunStore(root).open(tiny_run.run_id)
    path = tmp_path / "mine.npz"
    rd.write_config({**rd.read_config(), "data": {"path": str(path)}})
    assert rd.read_config()["n_samples"] == 1797 and rd.read_config()["input_dim"] == 64

    np.savez(path, x=digits.x, y=digits.y)                     # the run's data: taken
    view = RunView(rd)
    assert view.dataset is not None and view.data_problem is None
    rng = np.random.default_rng(0)
    for x, words in [(np.concatenate([digits.x, rng.random((200, 64))]), "1797 points, but its "
                      "data set loads here with 1997 points"),
                     (rng.random((1797, 32)), "64 features, but its data set loads here with "
                      "32 features")]:
        np.savez(path, x=x.astype(np.float32))
        view = RunView(rd)
        assert view.dataset is None, words
        assert words in view.data_problem and "not the run's data" in view.data_problem
        assert view.labels_sub is None
