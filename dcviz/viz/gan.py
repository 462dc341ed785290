"""The GAN lens (Gan et al., "Learning the Precise Feature for Cluster Assignment").

What the paper shows to explain itself: the generated samples arranged by cluster id (Fig. 3d/h),
the learning curves (Fig. 3a-c: the classifier's cross-entropy and fake accuracy, the critic's EMD
with the eta staircase, ACC/NMI/ARI), and for the eight blobs the generated points over the real
ones with the classifier's regions and the critic's contours (supplement, Fig. 2). Added here: the
confusion matrix of C's clusters against the true labels, the cluster sizes against the uniform
prior, and a walk through the noise inside one cluster id.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.optimize import linear_sum_assignment

from dcviz.methods.gan import GANExtras
from dcviz.viz.base import Lens, Option, Panel, image_grid
from dcviz.viz.common import color_of, vline_shapes
from dcviz.viz.style import INK, finish

GRID_TEXT = """**What you are seeing** (the paper's Fig. 3d/h). Each row is one cluster id fed to the
generator G; each column is one noise vector z, drawn once when the run started and kept for the
whole run, so the same cell shows the same (id, z) at every snapshot. Press play: at first every
row is noise; then each row turns into one kind of sample, because the classifier C must tell the
rows apart and the critic D keeps every sample realistic. The label on a row is the true class
that C's cluster of that id holds most of (over all real data) and its share."""

CURVES_TEXT = """**The paper's Fig. 3.** Top (a): the classifier's cross-entropy on generated samples
(Eq. 6, the upper bound of the assignment entropy that G lowers) falls fast, and its accuracy on
the fake labels goes to 1. Middle (b): the critic's Earth Mover estimate and the weight eta, raised in a
staircase (Eq. 8). Bottom (c): ACC, NMI and ARI of C on the real data. As the EMD settles, ACC keeps
rising. If EMD and ACC drift apart late in training, the generator has too many noise inputs (the
paper's synthetic experiment): lower `n_noise`. The grey line is the snapshot the slider shows."""

CONFUSION_TEXT = """C's clusters (rows: the id C assigns to real data) against the true classes
(columns), over all the real data. Rows are ordered by the Hungarian match, so a good clustering
is a bright diagonal. The ids are learned without labels: which id ends up with which class is
arbitrary."""

SIZES_TEXT = """How many real points C puts in each cluster. The method assumes a uniform prior over
the ids (the dashed line, N/k), which keeps every cluster non-empty; the paper warns that this
hurts on data whose classes are unbalanced (its USPS experiment)."""

INTERP_TEXT = """G decodes a straight line between two noise vectors with the cluster id held fixed.
Within a well-learned id the class stays and only the style changes (slant, thickness, position):
the noise has learned the features that do not decide the cluster. The ids C assigns to the
decoded samples are written under them. This uses the run's checkpoint (its latest saved state),
not the snapshot the slider shows."""

BLOBS_TEXT = """The real points (grey) with the generated points of each id on top (+, in the id's
colour), drawn with the run's fixed noise. The background colours are C's decision regions and the
thin lines are contours of the critic D (the supplement's Fig. 2). Training succeeds when each id
sits on one blob of its own: then C's regions separate the blobs and ACC reaches 1."""

PROJECTED_TEXT = """The real points (grey) and the generated points of each id (+, in the id's colour)
in the first two principal components of the real data. Each id should cover one group of real
points."""


ROWDIFF_TEXT = """**What the rows differ in** (the paper's section IV-D). For each cluster id,
the mean of 256 samples that G draws from it minus the mean over all ids; every id is fed the same
256 noise vectors, so what is left is only what the id changes. Red: brighter than the average
sample, blue: darker, white: no difference; the scale is shared by all tiles and centred at 0.
On the digits each tile looks like a faint digit: the ids differ in the shape of the digit. On
`artifact-digits` with k = 3, a GAN that found the paper's "precise feature" shows one strong dot
in the top-left corner of every tile, red in one, blue in another, near white in the third, and
little else: its clusters are cut by one pixel that no other method sees."""


# --------------------------------------------------------------------------- helpers

def sample_grid(samples: np.ndarray, image_shape, pad: int = 1) -> np.ndarray:
    """The (k, m, D) generated samples of a snapshot as one image: row i is id i.

    Grey images give (H', W'); colour images (H', W', 3). Values in [0, 1].
    """
    samples = np.asarray(samples, dtype=np.float32)
    k, m = samples.shape[:2]
    c, h, w = (int(s) for s in image_shape)
    imgs = samples.reshape(k * m, c, h, w)
    imgs = imgs[:, 0] if c == 1 else imgs.transpose(0, 2, 3, 1)
    return image_grid(imgs, ncols=m, pad=pad)


def row_labels(confusion: np.ndarray | None, k: int, class_names=None) -> list[str]:
    """'id i · <majority class> (share)' per id, from the confusion matrix of C on real data."""
    out = []
    for i in range(k):
        if confusion is None or i >= len(confusion) or confusion[i].sum() == 0:
            out.append(f"id {i}" + (" · empty" if confusion is not None else ""))
            continue
        j = int(np.argmax(confusion[i]))
        name = class_names[j] if class_names is not None and j < len(class_names) else str(j)
        out.append(f"id {i} · {name} ({confusion[i, j] / confusion[i].sum():.0%})")
    return out


def grid_figure(grid: np.ndarray, k: int, m: int, tile: tuple[int, int], labels: list[str],
                pad: int = 1, title: str = "") -> go.Figure:
    """The sample grid as a crisp image with one labelled tick per row (cluster id)."""
    th, tw = tile
    if grid.ndim == 2:
        fig = go.Figure(go.Heatmap(z=grid, colorscale="gray", zmin=0, zmax=1, showscale=False,
                                   hoverinfo="skip"))
        fig.update_yaxes(autorange="reversed")
    else:
        fig = go.Figure(go.Image(z=(np.clip(grid, 0, 1) * 255).astype(np.uint8), hoverinfo="skip"))
    centres = [pad + i * (th + pad) + (th - 1) / 2 for i in range(k)]
    fig.update_yaxes(tickmode="array", tickvals=centres, ticktext=labels, showgrid=False,
                     zeroline=False, scaleanchor="x", constrain="domain")
    fig.update_xaxes(tickmode="array", tickvals=[pad + j * (tw + pad) + (tw - 1) / 2 for j in range(m)],
                     ticktext=[f"z{j}" for j in range(m)], showgrid=False, zeroline=False,
                     side="top", constrain="domain")
    fig.update_layout(height=min(900, max(320, 34 * k + 80)), margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text=title) if title else None, plot_bgcolor="white")
    return fig


def row_differences(row_means: np.ndarray) -> np.ndarray:
    """Each id's mean sample minus the mean of all ids' (k, D). With the uniform prior over ids
    every id draws equally often, so the plain mean of the rows is the mean of all samples."""
    row_means = np.asarray(row_means, dtype=np.float64)
    return row_means - row_means.mean(0, keepdims=True)


def _largest(diff: np.ndarray, image_shape) -> str:
    c, h, w = (int(s) for s in image_shape)
    j = int(np.argmax(np.abs(diff)))
    ch, rest = divmod(j, h * w)
    r, col = divmod(rest, w)
    where = f"row {r}, col {col}" + (f", channel {ch}" if c > 1 else "")
    return f"{diff[j]:+.2f} at ({where})"


def row_difference_figure(row_means: np.ndarray, image_shape, labels: list[str] | None = None,
                          ncols: int = 5) -> go.Figure:
    """One tile per cluster id: its mean generated sample minus the mean of all ids, on a
    diverging scale centred at 0 and symmetric (white = no difference). Colour images show the
    mean over channels. Gaps between tiles are empty, so the page's own background (light or
    dark) shows there, and each tile is titled with its id."""
    diff = row_differences(row_means)
    k = len(diff)
    c, h, w = (int(s) for s in image_shape)
    tiles = diff.reshape(k, c, h, w).mean(1)
    ncols = max(1, min(int(ncols), k))
    nrows = -(-k // ncols)
    hpad, vpad = max(1, w // 6), max(2, h // 3)  # room above each tile for its title
    canvas = np.full((nrows * (h + vpad) - vpad, ncols * (w + hpad) - hpad), np.nan)
    ids = np.full(canvas.shape, -1)
    for i in range(k):
        r, q = divmod(i, ncols)
        top, left = r * (h + vpad), q * (w + hpad)
        canvas[top:top + h, left:left + w] = tiles[i]
        ids[top:top + h, left:left + w] = i
    bound = float(np.nanmax(np.abs(tiles))) if k else 0.0
    bound = bound if bound > 0 else 1e-6
    fig = go.Figure(go.Heatmap(
        z=canvas, customdata=ids, colorscale="RdBu", reversescale=True, zmid=0.0,
        zmin=-bound, zmax=bound, hoverongaps=False,
        colorbar=dict(title=dict(text="row − mean"), thickness=12),
        hovertemplate="id %{customdata}: %{z:+.3f}<extra></extra>"))
    labels = labels or [f"id {i}" for i in range(k)]
    for i in range(k):
        r, q = divmod(i, ncols)
        fig.add_annotation(x=q * (w + hpad) + (w - 1) / 2, y=r * (h + vpad) - 0.6, text=labels[i],
                           showarrow=False, yanchor="bottom", font=dict(size=11))
    fig.update_yaxes(autorange="reversed", visible=False, scaleanchor="x", constrain="domain")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_layout(height=min(900, max(220, 150 * nrows + 40)),
                      margin=dict(l=10, r=10, t=30, b=10))
    return fig


def row_difference_panel(ex: GANExtras, image_shape, labels: list[str]) -> Panel:
    title = "What the rows differ in"
    if ex.row_means is None:
        return Panel(title=title, table=[{"note": "This snapshot has no row means (the run was "
                                                  "made before they were recorded)."}],
                     text=ROWDIFF_TEXT)
    diff = row_differences(ex.row_means)
    caption = "Largest difference per id: " + "; ".join(
        f"id {i} {_largest(d, image_shape)}" for i, d in enumerate(diff))
    # a whole row: at half width the tiles of ten ids are too narrow for their titles
    return Panel(title=title, figure=row_difference_figure(ex.row_means, image_shape, labels),
                 caption=caption, text=ROWDIFF_TEXT, wide=True)


def _series(rows, field, key):
    return np.array([float((r.get(field) or {}).get(key, np.nan)) for r in rows], dtype=float)


def curves_figure(rows: list[dict], current_step: int | None = None) -> go.Figure:
    """Fig. 3: (a) CE, entropy and fake accuracy; (b) EMD and eta; (c) ACC, NMI, ARI; x = G steps.

    The three panels are stacked, one above the other, on one shared x axis: side by side, the
    right-hand axis title of one panel and the left-hand title of the next met in the gap
    between them, and read as the other panel's (the EMD title beside the classifier's plot).
    Each right-hand axis title takes its line's colour."""
    steps = np.array([r.get("step", i) for i, r in enumerate(rows)], dtype=float)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.09,
                        specs=[[{"secondary_y": True}], [{"secondary_y": True}], [{}]],
                        subplot_titles=["(a) the classifier on generated data",
                                        "(b) the critic's EMD and the weight eta",
                                        "(c) clustering of the real data"])
    line = dict(width=2)
    acc_color, eta_color = "#1f77b4", "#1f77b4"

    def add(y, name, row, color, secondary=False, dash=None):
        if np.all(np.isnan(y)):
            return
        fig.add_trace(go.Scatter(x=steps, y=y, name=name, mode="lines",
                                 line=dict(**line, color=color, dash=dash),
                                 hovertemplate=f"{name}: %{{y:.4g}}<br>step %{{x}}<extra></extra>"),
                      row=row, col=1, secondary_y=secondary if row < 3 else None)

    h = GANExtras.history(rows)
    add(h.ce, "cross-entropy L_C", 1, "#d95f02")
    add(h.entropy, "entropy E[H(q)]", 1, "#a6761d", dash="dot")
    add(h.fake_acc, "fake accuracy", 1, acc_color, secondary=True)
    add(h.emd, "EMD estimate", 2, "#d95f02")
    add(h.eta, "eta", 2, eta_color, secondary=True)
    for key, color in (("acc", "#2ca02c"), ("nmi", "#9467bd"), ("ari", "#8c564b")):
        add(_series(rows, "metrics", key), key.upper(), 3, color)
    fig.update_yaxes(title_text="CE (nats)", row=1, col=1, secondary_y=False)
    fig.update_yaxes(title_text="fake accuracy", title_font_color=acc_color, range=[-0.02, 1.02],
                     tickmode="linear", tick0=0, dtick=0.25, showgrid=False, row=1, col=1,
                     secondary_y=True)
    fig.update_yaxes(title_text="EMD", row=2, col=1, secondary_y=False)
    # the right-hand axes draw no grid of their own: two grids in one panel read as one muddle
    fig.update_yaxes(title_text="eta", title_font_color=eta_color, type="log", showgrid=False,
                     row=2, col=1, secondary_y=True)
    fig.update_yaxes(title_text="score", range=[-0.02, 1.02], row=3, col=1)
    fig.update_xaxes(title_text="generator step", row=3, col=1)
    if current_step is not None:
        fig.update_layout(shapes=[
            s for row in (1, 2, 3)
            for s in vline_shapes(fig, [(current_step, dict(color=INK, width=1.5))], row, 1)])
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.1), hovermode="closest")
    return finish(fig)


def hungarian_order(confusion: np.ndarray) -> np.ndarray:
    """Row order that puts each id next to the class it is matched with (matched rows first)."""
    rows, cols = linear_sum_assignment(-confusion)
    order = [int(r) for _, r in sorted(zip(cols, rows))]
    return np.array(order + [i for i in range(len(confusion)) if i not in order], dtype=int)


def confusion_figure(confusion: np.ndarray, class_names=None) -> go.Figure:
    confusion = np.asarray(confusion)
    order = hungarian_order(confusion)
    table = confusion[order]
    names = [class_names[j] if class_names is not None and j < len(class_names) else str(j)
             for j in range(table.shape[1])]
    share = table / np.maximum(table.sum(1, keepdims=True), 1)
    fig = go.Figure(go.Heatmap(
        z=share, x=[f"{n}" for n in names], y=[f"id {i}" for i in order], colorscale="Blues",
        zmin=0, zmax=1, text=table, texttemplate="%{text}", colorbar=dict(title="row share"),
        hovertemplate="cluster %{y}, class %{x}: %{text} points<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="C's cluster", type="category")
    fig.update_xaxes(title_text="true class", type="category", side="top")
    fig.update_layout(height=max(300, 28 * len(order) + 100), margin=dict(l=10, r=10, t=60, b=10))
    return fig


def sizes_figure(sizes: np.ndarray) -> go.Figure:
    sizes = np.asarray(sizes)
    k = len(sizes)
    fig = go.Figure(go.Bar(x=[f"id {i}" for i in range(k)], y=sizes,
                           marker_color=[color_of(i) for i in range(k)],
                           hovertemplate="%{x}: %{y} points<extra></extra>"))
    fig.add_hline(y=sizes.sum() / k, line=dict(color=INK, dash="dash"),
                  annotation_text="uniform prior N/k", annotation_position="top right")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=20, b=10), yaxis_title="real points",
                      showlegend=False)
    return fig


def _pca_basis(x: np.ndarray):
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:2] if len(vt) >= 2 else np.vstack([vt[:1], np.zeros_like(vt[:1])])
    return mean, basis


def points_figure(real: np.ndarray, samples: np.ndarray, *, maps: dict | None = None,
                  contours: bool = True, path: np.ndarray | None = None,
                  path_id: int | None = None) -> go.Figure:
    """Real points (grey) and each id's generated points (+ in its colour), in the data's own
    plane when it is 2-D, else in the PCA plane of the real data. ``maps`` (2-D only) draws C's
    regions and D's contours; ``path`` draws an interpolation path instead of the samples."""
    real = np.asarray(real, dtype=np.float64)
    two_d = real.shape[1] == 2
    if two_d:
        mean, basis, names = np.zeros(2), np.eye(2), ("x₁", "x₂")
    else:
        mean, basis = _pca_basis(real)
        names = ("PC 1 of the real data", "PC 2 of the real data")

    def proj(a):
        return (np.asarray(a, dtype=np.float64) - mean) @ basis.T

    fig = go.Figure()
    if maps is not None and two_d and "class_map" in maps:
        x0, x1, y0, y1 = (float(v) for v in maps["map_extent"])
        cm = np.asarray(maps["class_map"])
        r = cm.shape[0]
        gx, gy = np.linspace(x0, x1, r), np.linspace(y0, y1, r)
        k = int(samples.shape[0]) if samples is not None else int(cm.max()) + 1
        scale = [[i / max(k - 1, 1), color_of(i)] for i in range(k)]
        fig.add_trace(go.Heatmap(x=gx, y=gy, z=cm, colorscale=scale, zmin=0, zmax=max(k - 1, 1),
                                 opacity=0.25, showscale=False, name="C's regions",
                                 hovertemplate="C says id %{z}<extra></extra>"))
        if contours and "critic_map" in maps:
            fig.add_trace(go.Contour(x=gx, y=gy, z=np.asarray(maps["critic_map"]),
                                     contours=dict(coloring="none"), ncontours=14,
                                     line=dict(width=1, color="rgba(140,140,140,0.8)"),
                                     showscale=False, name="critic D", hoverinfo="skip"))
    pr = proj(real)
    fig.add_trace(go.Scatter(x=pr[:, 0], y=pr[:, 1], mode="markers", name="real data",
                             marker=dict(size=4, color="rgba(140,140,140,0.6)"),
                             hoverinfo="skip"))
    if path is not None:
        pp = proj(path)
        col = color_of(path_id or 0)
        fig.add_trace(go.Scatter(x=pp[:, 0], y=pp[:, 1], mode="lines+markers",
                                 name=f"id {path_id}: noise walk",
                                 marker=dict(size=9, color=col, symbol="cross"),
                                 line=dict(color=col, width=2),
                                 hovertemplate="step %{pointNumber}<extra></extra>"))
    elif samples is not None:
        for i in range(samples.shape[0]):
            ps = proj(samples[i])
            fig.add_trace(go.Scatter(x=ps[:, 0], y=ps[:, 1], mode="markers", name=f"id {i}",
                                     marker=dict(size=7, color=color_of(i), symbol="cross-thin",
                                                 line=dict(width=2, color=color_of(i))),
                                     hovertemplate=f"generated, id {i}<extra></extra>"))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text=names[0]), zeroline=False),
                      yaxis=dict(title=dict(text=names[1]), zeroline=False, scaleanchor="x"),
                      legend=dict(itemsizing="constant"))
    if maps is not None and two_d and "map_extent" in maps:
        x0, x1, y0, y1 = (float(v) for v in maps["map_extent"])
        fig.update_xaxes(range=[x0, x1])
        fig.update_yaxes(range=[y0, y1])
    return fig


# --------------------------------------------------------------------------- the lens

def _real_points(run, limit: int = 2000):
    ds = run.dataset
    if ds is None:
        return None
    sub = np.asarray(run.subsample)[:limit]
    return ds.x[sub]


def interpolation_panel(run, options: dict, k: int, image_shape) -> Panel:
    title = "Noise interpolation inside one cluster id"
    cid = int(options.get("interp_id") or 0)
    steps = int(options.get("interp_steps") or 10)
    seed = int(options.get("interp_seed") or 0)
    if not 0 <= cid < k:
        return Panel(title=title, table=[{"note": f"This run has ids 0..{k - 1}; choose one of them."}],
                     text=INTERP_TEXT)
    try:
        method = run.method
    except Exception as e:  # noqa: BLE001 - no checkpoint yet (a run that just started)
        return Panel(title=title, table=[{"note": f"No checkpoint to decode from yet ({e})."}],
                     text=INTERP_TEXT)
    path = method.interpolate(cid, steps, seed)
    ids = method.predict(path)
    caption = f"id {cid}, noise pair {seed}: C assigns " + " ".join(str(int(i)) for i in ids)
    if getattr(method, "n_noise", 1) == 0:
        caption += " (this run has no noise inputs: every step is the same sample)"
    if image_shape:
        grid = sample_grid(path[None], image_shape)
        return Panel(title=title, image=grid, caption=caption, text=INTERP_TEXT)
    real = _real_points(run)
    if real is None:
        return Panel(title=title, table=[{"step": i, "C's id": int(c)} for i, c in enumerate(ids)],
                     text=INTERP_TEXT)
    return Panel(title=title, figure=points_figure(real, None, path=path, path_id=cid),
                 caption=caption, text=INTERP_TEXT)


#: The live panel: one row of samples per id (images), or each id's points among the real data.
LIVE = "Generated samples of each cluster id"


def build(run, index: int, options: dict) -> list[Panel]:
    snap = run.snapshot(index)
    rows = run.rows()
    cfg = run.config
    image_shape = tuple(cfg.get("image_shape") or ()) or None
    ex = GANExtras.from_snapshot(snap)
    samples = np.asarray(ex.samples)
    k, m = samples.shape[:2]
    ds = run.dataset
    class_names = getattr(ds, "class_names", None) if ds is not None else None
    confusion = np.asarray(ex.confusion) if ex.confusion is not None else None
    panels: list[Panel] = []

    if image_shape:
        grid = sample_grid(samples, image_shape)
        fig = grid_figure(grid, k, m, image_shape[1:], row_labels(confusion, k, class_names),
                          title=f"generator step {snap.step} · {snap.stage}")
        panels.append(Panel(title=LIVE, figure=fig,
                            text=GRID_TEXT, wide=True))
        panels.append(row_difference_panel(ex, image_shape, row_labels(confusion, k, class_names)))
    else:
        real = _real_points(run)
        if real is not None:
            maps = {key: getattr(ex, key) for key in ("class_map", "critic_map", "map_extent")
                    if getattr(ex, key) is not None}
            fig = points_figure(real, samples, maps=maps or None,
                                contours=bool(options.get("contours", True)))
            panels.append(Panel(title=LIVE, figure=fig,
                                text=BLOBS_TEXT if maps else PROJECTED_TEXT, wide=True))
        else:
            panels.append(Panel(title=LIVE, table=[
                {"id": i, **{f"mean x{j}": round(float(v), 4)
                             for j, v in enumerate(samples[i].mean(0)[:6])}} for i in range(k)],
                text="The run's data set cannot be loaded here; the means of each id's points."))

    panels.append(Panel(title="Learning curves (Fig. 3)", figure=curves_figure(rows, snap.step),
                        text=CURVES_TEXT, wide=True))
    if confusion is not None:
        panels.append(Panel(title="C's clusters against the true classes",
                            figure=confusion_figure(confusion, class_names), text=CONFUSION_TEXT))
    if ex.cluster_sizes is not None:
        panels.append(Panel(title="Cluster sizes and the uniform prior",
                            figure=sizes_figure(ex.cluster_sizes), text=SIZES_TEXT))
    panels.append(interpolation_panel(run, options, k, image_shape))
    return panels


LENS = Lens(
    method_ids=("gan",),
    title="GAN clustering: samples per cluster id",
    build=build,
    live_panel=LIVE,
    options=[
        Option("interp_id", "Cluster id to walk through", "int", default=0, min=0, max=99,
               help="The id held fixed while the noise moves along a straight line."),
        Option("interp_seed", "Noise pair", "int", default=0, min=0, max=99,
               help="Which two noise vectors are the ends of the line (a seed)."),
        Option("interp_steps", "Interpolation steps", "int", default=10, min=3, max=20,
               help="Samples decoded along the line."),
        Option("contours", "Critic contours (2-D data)", "toggle", default=True,
               help="Draw contour lines of the critic D over the plane."),
    ],
    intro=("A generator draws samples from cluster ids; a critic keeps them realistic; a separate "
           "classifier learns the ids on generated samples and then clusters the real data. "
           "Slide or play through the snapshots to watch each row of samples become one class."),
)
