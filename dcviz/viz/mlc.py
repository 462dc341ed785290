"""The MLC lens: the views the MLC paper explains itself with.

- |Z^T Z|, the cosine similarity of the features, sorted by cluster (Fig. 4): it turns
  block-diagonal as each cluster settles into its own subspace, orthogonal to the others;
- the doubly stochastic membership Pi of the same points;
- the coding rates R, R_c and Delta R over snapshots (Fig. 3a);
- the numerical ranks of all features and of each cluster over snapshots (Fig. 3b);
- principal images (Fig. 5, appendix A): per learned cluster, its top principal directions, each
  shown as a row of the real samples whose features lie closest to it;
- for 3-D features (the two manifolds on the sphere, Fig. 1): Z at random init, after the
  warm-up, and after MLC.

Everything is read from the snapshots that dcviz/methods/mlc.py writes; images come from the
run's data set (RunView.dataset), so every picture shows real samples.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dcviz.methods.mlc import MLCExtras
from dcviz.viz.base import Lens, Option, Panel, image_grid
from dcviz.viz.common import stage_annotations, stage_x_range, vline_shapes
from dcviz.viz.style import INK, MUTED, PALETTE

WARMUP, MLC_STAGE, INIT = "warm-up", "MLC", "random init"


# --------------------------------------------------------------------------- heatmaps

def sort_view(ex: MLCExtras, by: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(permutation of the stored view points, group key per point after it, label of the key).

    By learned cluster, the blocks are laid out by each cluster's most common true label among
    the view points: spectral clustering's ids are arbitrary and change from epoch to epoch, and
    this keeps the picture in place while the slider moves. Inside a block, and when sorting by
    true label, points go by label, then by sample.
    """
    assign, label = np.asarray(ex.view_assign), np.asarray(ex.view_label)
    index = np.asarray(ex.view_index)
    if by == "true label" and (label >= 0).any():
        perm = np.lexsort((index, label))
        return perm, label[perm], np.array(["true label"])
    k = int(assign.max(initial=-1)) + 1
    block_pos = np.arange(k)
    if (label >= 0).any():
        _, codes = np.unique(label, return_inverse=True)
        table = np.zeros((k, codes.max() + 1), np.int64)
        np.add.at(table, (assign, codes), 1)
        majority = np.where(table.sum(1) > 0, table.argmax(1), table.shape[1])
        block_pos = np.argsort(np.argsort(majority * k + np.arange(k), kind="stable"))
    perm = np.lexsort((index, label, block_pos[assign]))
    return perm, assign[perm], np.array(["learned cluster"])


def _block_shapes(key: np.ndarray) -> list[dict]:
    """Thin lines where the group key changes, to frame the diagonal blocks."""
    cuts = np.flatnonzero(np.diff(key)) + 0.5
    n = len(key)
    shapes = []
    for c in cuts:
        for (x0, x1, y0, y1) in ((c, c, -0.5, n - 0.5), (-0.5, n - 0.5, c, c)):
            shapes.append(dict(type="line", x0=x0, x1=x1, y0=y0, y1=y1,
                               line=dict(color="rgba(255,255,255,0.6)", width=0.6)))
    return shapes


def heatmap_figure(M: np.ndarray, key: np.ndarray, key_name: str, index: np.ndarray, *,
                   zmax: float | None = None, colorscale: str = "Viridis", title: str = "",
                   z_name: str = "value") -> go.Figure:
    M = np.asarray(M, dtype=np.float32)
    # one label per row/column (categories) keeps the figure small: no n x n hover strings
    names = [f"sample {i} · {key_name} {k}" for i, k in zip(index, key)]
    fig = go.Figure(go.Heatmap(z=M, x=names, y=names, zmin=0.0, zmax=zmax, colorscale=colorscale,
                               hovertemplate="%{y}<br>%{x}<br>" + z_name + " %{z:.3g}<extra></extra>",
                               colorbar=dict(thickness=12)))
    fig.update_layout(shapes=_block_shapes(key), height=460, margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text=title) if title else None, uirevision="mlc-heatmap")
    fig.update_xaxes(showticklabels=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x")
    return fig


# --------------------------------------------------------------------------- curves

def _stage_starts(rows: list[dict]) -> list[tuple[int, str]]:
    out, prev = [], None
    for i, r in enumerate(rows):
        if r.get("stage") != prev:
            out.append((i, r.get("stage", "")))
            prev = r.get("stage")
    return out


def curves(rows: list[dict], lines: dict[str, np.ndarray], *, current: int, y_title: str,
           title: str = "", dash: dict[str, str] | None = None, colors: dict[str, str] | None = None,
           height: int = 340, x: np.ndarray | None = None) -> go.Figure:
    """Lines over snapshot indices (``x``, default all), with the slider's position and the
    stage starts marked."""
    x = np.arange(len(rows)) if x is None else np.asarray(x)
    hover = [f"epoch {rows[i].get('epoch')} · {rows[i].get('stage', '')}" for i in x]
    fig = go.Figure()
    for i, (name, values) in enumerate(lines.items()):
        fig.add_trace(go.Scatter(
            x=x, y=values, mode="lines+markers" if len(rows) < 60 else "lines", name=name,
            text=hover, marker=dict(size=4),
            line=dict(width=2, dash=(dash or {}).get(name, "solid"),
                      color=(colors or {}).get(name, PALETTE[i % len(PALETTE)])),
            hovertemplate=f"{name}: %{{y:.4g}}<br>%{{text}}<extra></extra>"))
    lines = [(idx - 0.5, dict(color=MUTED, dash="dash", width=1))
             for idx, _ in _stage_starts(rows) if idx > 0]
    # a half-row panel: ~330 px wide at 1280, ~240 at 1024 (stage_annotations has a margin);
    # the x axis is pinned to the range the stage names are laid out for
    x_range = stage_x_range(rows, current)
    fig.update_layout(shapes=vline_shapes(fig, [*lines, (current, dict(color=INK, width=1.5))]),
                      annotations=stage_annotations(rows, width_px=300, x_range=x_range))
    fig.update_xaxes(range=list(x_range), autorange=False)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50 if title else 30, b=10),
                      title=dict(text=title) if title else None, xaxis_title="snapshot",
                      yaxis_title=y_title, legend=dict(orientation="h", y=-0.2),
                      hovermode="closest")
    return fig


def coding_rate_series(rows: list[dict]) -> dict[str, np.ndarray]:
    """R, R_c and Delta R of the view points per snapshot (from metrics.jsonl scalars)."""
    h = MLCExtras.history(rows)
    return {"R": h.R, "R_c": h.R_c, "ΔR = R − R_c": h.delta_R}


def rank_indices(n: int, current: int, most: int = 120) -> np.ndarray:
    """The snapshots whose per-cluster ranks are read: all of them for short runs, else ``most``
    evenly spaced ones plus the current one (each read opens a snapshot file)."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.r_[np.linspace(0, n - 1, most).round().astype(int), current])


def rank_series(run, of: str, indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Numerical rank of all features and of each (true or learned) cluster, per snapshot in
    ``indices`` (default all)."""
    n = run.count
    rows = run.rows()[:n]
    indices = np.arange(n) if indices is None else np.asarray(indices)
    out = {"all features": MLCExtras.history(rows).rank_all[indices]}
    key = "rank_true" if of == "true clusters" else "rank_learned"
    per = [getattr(MLCExtras.from_snapshot(run.snapshot(int(i))), key) for i in indices]
    width = max((len(p) for p in per if p is not None), default=0)
    names = None
    ds = run.dataset if key == "rank_true" else None
    if ds is not None and ds.class_names:
        names = list(ds.class_names)
    for j in range(width):
        label = (f"class {names[j]}" if names is not None and j < len(names) else
                 f"{'class' if key == 'rank_true' else 'cluster'} {j}")
        out[label] = np.array([p[j] if p is not None and j < len(p) else np.nan for p in per], float)
    return out


# --------------------------------------------------------------------------- principal images

def _as_images(ds, idx: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, H, W, 3) images in [0, 1] of data set rows ``idx`` (-1 gives blank)."""
    c, h, w = ds.image_shape
    x = np.asarray(ds.x)
    imgs = np.ones((len(idx), h, w, c), np.float32)
    ok = idx >= 0
    if ok.any():
        imgs[ok] = x[idx[ok]].reshape(-1, c, h, w).transpose(0, 2, 3, 1)
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:  # user data not scaled to [0, 1]: scale for display only
        imgs[ok] = (imgs[ok] - lo) / max(hi - lo, 1e-12)
    if c == 1:
        return imgs[..., 0]
    return imgs[..., :3] if c >= 3 else np.repeat(imgs[..., :1], 3, axis=3)


def principal_image(ds, principal_index: np.ndarray, cluster: int) -> np.ndarray:
    """One learned cluster: rows = principal components, columns = the samples nearest each."""
    k, n_pc, n_s = principal_index.shape
    block = principal_index[cluster].reshape(-1)
    return image_grid(_as_images(ds, block), ncols=n_s, pad=1)


#: the least size in pixels of one sample in the mosaic: 8x8 digits at their own size made a
#: 380x150 picture of ten clusters that nobody could read
MIN_TILE_PX = 30


def principal_mosaic(ds, principal_index: np.ndarray, per_row: int = 5,
                     min_tile_px: int = MIN_TILE_PX) -> np.ndarray:
    """All learned clusters side by side (``per_row`` blocks a row), a blank gap between them,
    each sample enlarged by whole pixels (no blur) to at least ``min_tile_px``."""
    k = principal_index.shape[0]
    f = max(1, -(-min_tile_px // int(ds.image_shape[1])))
    blocks = [principal_image(ds, principal_index, j) for j in range(k)]
    blocks = [np.repeat(np.repeat(b, f, axis=0), f, axis=1) for b in blocks]
    h, w = blocks[0].shape[:2]
    gap = max(2, h // 16)
    rows = -(-k // per_row)
    shape = (rows * (h + gap), min(k, per_row) * (w + gap), *blocks[0].shape[2:])
    out = np.ones(shape, np.float32)
    for j, b in enumerate(blocks):
        r, c = divmod(j, per_row)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = b
    return out


# --------------------------------------------------------------------------- 3-D view (Fig. 1)

def _sphere_mesh(n: int = 24):
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, n), np.linspace(0, np.pi, n // 2))
    return np.cos(u) * np.sin(v), np.sin(u) * np.sin(v), np.cos(v)


def sphere_figure(panels: list[tuple[str, np.ndarray]], color: np.ndarray | None,
                  color_name: str, names: list[str] | None = None) -> go.Figure:
    """Up to three 3-D scatters of features on S^2, side by side (one figure, one scene each)."""
    fig = make_subplots(rows=1, cols=len(panels), specs=[[{"type": "scene"}] * len(panels)],
                        subplot_titles=[t for t, _ in panels], horizontal_spacing=0.01)
    sx, sy, sz = _sphere_mesh()
    for p, (_, Z) in enumerate(panels):
        fig.add_trace(go.Surface(x=sx, y=sy, z=sz, opacity=0.12, showscale=False, hoverinfo="skip",
                                 colorscale=[[0, "#bbb"], [1, "#bbb"]]), row=1, col=p + 1)
        groups = [(None, np.arange(len(Z)))] if color is None else \
            [(int(v), np.flatnonzero(color == v)) for v in np.unique(color)]
        for v, rows in groups:
            label = "points" if v is None else (names[v] if names and 0 <= v < len(names)
                                                  else f"{color_name} {v}")
            fig.add_trace(go.Scatter3d(
                x=Z[rows, 0], y=Z[rows, 1], z=Z[rows, 2], mode="markers", name=label,
                legendgroup=label, showlegend=p == 0,
                marker=dict(size=2.5, color=PALETTE[(v or 0) % len(PALETTE)])), row=1, col=p + 1)
    axis = dict(range=[-1.1, 1.1], showticklabels=False, title="")
    for p in range(len(panels)):
        key = "scene" if p == 0 else f"scene{p + 1}"
        fig.layout[key].update(xaxis=axis, yaxis=axis, zaxis=axis, aspectmode="cube")
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=40, b=0), uirevision="mlc-3d",
                      legend=dict(orientation="h", y=-0.05))
    return fig


def _fig1_snapshots(run, index: int) -> list[tuple[str, int]]:
    """(title, snapshot index) of: random init, end of warm-up, MLC — as far as ``index`` goes."""
    rows = run.rows()[:run.count]
    stages = [r.get("stage", "") for r in rows]
    picks = []
    init = [i for i, s in enumerate(stages) if s.startswith(INIT)]
    if init:
        picks.append(("random init", init[0]))
    warm = [i for i, s in enumerate(stages) if s.startswith(WARMUP) and i <= index]
    if warm:
        w = warm[-1]
        picks.append((f"after warm-up (epoch {rows[w]['epoch']})" if stages[index].startswith(MLC_STAGE)
                      else f"warm-up, epoch {rows[w]['epoch']}", w))
    if stages[index].startswith(MLC_STAGE):
        picks.append((f"MLC, epoch {rows[index]['epoch']}", index))
    return picks


# --------------------------------------------------------------------------- the lens

INTRO = (
    "MLC learns features on the unit sphere in which every cluster is a linear subspace, and the "
    "subspaces of different clusters are orthogonal (maximal coding rate reduction, Eq. 4). The "
    "membership Pi is a doubly stochastic n×n matrix made by a Sinkhorn projection of the cluster "
    "head's |C^T C|; spectral clustering on Pi gives the labels. Training is a self-supervised "
    "warm-up (Eq. 5), a copy of the feature head into the cluster head (the deterministic "
    "initialisation of Pi), then the MLC objective on A augmentations per batch.")


LIVE = "Cosine similarity |Z^T Z|"


def build(run, index: int, options: dict) -> list[Panel]:
    n = run.count
    if n == 0:
        return [Panel(title=LIVE, text="This run has no snapshots yet.")]
    index = index % n
    snap = run.snapshot(index)
    ex = MLCExtras.from_snapshot(snap)
    rows = run.rows()[:n]
    panels: list[Panel] = []
    pi_from = ex.pi_source
    stage = f"{snap.stage}, epoch {snap.epoch}"

    # -- cosine similarity and Pi, sorted
    if ex.cos is not None:
        by = options.get("sort", "learned cluster")
        perm, key, key_name = sort_view(ex, by)
        key_name = str(key_name[0])
        vidx = np.asarray(ex.view_index)[perm]
        cos = np.asarray(ex.cos, np.float32)[np.ix_(perm, perm)]
        ratio = snap.metrics.get("cos_ratio")
        panels.append(Panel(
            title=LIVE,
            figure=heatmap_figure(cos, key, key_name, vidx, zmax=1.0, title=stage, z_name="|cos|"),
            text=(f"Each pixel is |z_i^T z_j| for {len(cos)} fixed points, sorted by {key_name}; "
                  "white lines frame the groups. MLC wants bright blocks on the diagonal (points of "
                  "one cluster span one subspace) and dark elsewhere (subspaces of different "
                  "clusters are orthogonal), as in the paper's Fig. 4. Sort by true label to see "
                  "whether the blocks match the classes. Move the epoch slider to watch the blocks "
                  "form."),
            caption=(f"mean |cos| within learned clusters ÷ mean |cos| between them (all data, "
                     f"or a random 4,000 points of larger sets):"
                     f" {ratio:.2f}"
                     if ratio is not None and np.isfinite(ratio) else "")))
        pi = np.asarray(ex.pi, np.float32)[np.ix_(perm, perm)]
        off = pi[~np.eye(len(pi), dtype=bool)]
        zmax = float(np.quantile(off, 0.995)) if off.size else None
        panels.append(Panel(
            title="Membership Π (doubly stochastic)",
            figure=heatmap_figure(pi, key, key_name, vidx, zmax=zmax, colorscale="Magma",
                                  title=stage, z_name="Π"),
            text=("Π = Sinkhorn(|C^T C|) for the same points, as one batch: every row and column "
                  "sums to 1, so a row is how point i spreads its membership over the others. "
                  "In R_c each column of Π is one soft cluster. A block-diagonal Π is a "
                  "clustering; spectral clustering on it gives the labels. The colour scale stops "
                  "at the 99.5% quantile off the diagonal (the diagonal |c_i^T c_i| = 1 is always "
                  f"the largest entry). Here Π comes from the {pi_from}."
                  + (" Before the copy, this is the Π that the copy will start from."
                     if "feature" in pi_from else ""))))
    else:
        panels.append(Panel(title=LIVE, text="This snapshot holds no cosine matrix."))

    # -- coding rates, Fig. 3a
    panels.append(Panel(
        title="Coding rates (Fig. 3a)",
        figure=curves(rows, coding_rate_series(rows), current=index, y_title="nats",
                      dash={"R_c": "dot"}),
        text=("R is the coding rate of all features (how much volume they fill), R_c that of the "
              "features split by Π's soft clusters, ΔR = R − R_c the rate reduction MLC "
              "maximises. Measured on the fixed heatmap points with their own Π. The paper "
              "sees R stay nearly flat (features stay diverse) while R_c falls.")))

    # -- numerical ranks, Fig. 3b
    of = options.get("ranks_of", "true clusters")
    at = rank_indices(n, index)
    ranks = rank_series(run, of, at)
    rank_fig = curves(rows, ranks, current=index, y_title="rank (95% energy)", x=at,
                      dash={"all features": "solid"}, colors={"all features": INK})
    rank_fig.update_yaxes(tickformat="d", rangemode="tozero")
    panels.append(Panel(
        title="Numerical ranks (Fig. 3b)",
        figure=rank_fig,
        text=("The numerical rank of a set of features is the fewest singular values holding 95% "
              "of the energy: the dimension of the subspace they lie close to. The rank of all "
              "features should stay high (diverse), the rank of each cluster should fall "
              f"(linearised). Shown per {of[:-1]}; the paper's Fig. 3b uses the true clusters.")))

    # -- principal images, Fig. 5
    pidx = ex.principal_index
    ds = run.dataset
    if pidx is not None and ds is not None and ds.image_shape is not None:
        pidx = np.asarray(pidx)
        cl = int(options.get("cluster", -1))
        if 0 <= cl < len(pidx):
            img = principal_image(ds, pidx, cl)
            what = f"learned cluster {cl}"
        else:
            img = principal_mosaic(ds, pidx)
            what = "every learned cluster (blocks in cluster order, left to right, top to bottom)"
        panels.append(Panel(
            title="Principal images (Fig. 5)", image=img, wide=True,
            text=(f"For {what}: PCA of the cluster's features; row r shows the real samples whose "
                  "features lie closest to the r-th principal direction (largest |z^T u_r|). Rows "
                  "are uncorrelated directions inside one subspace; in the paper they look like "
                  "'concepts' (white trucks, red trucks...). Samples come from the run's data.")))
    elif pidx is not None and (ds is None or ds.image_shape is None):
        panels.append(Panel(title="Principal images (Fig. 5)",
                            text="Principal images need image data; this run's data are vectors"
                                 + (" (or could not be loaded here)." if ds is None else ".")))

    # -- Fig. 1: features on S^2
    if snap.latent.ndim == 2 and snap.latent.shape[1] == 3:
        by = options.get("color3d", "true label")
        picks = _fig1_snapshots(run, index)
        shown = [(t, np.asarray(run.snapshot(i).latent)) for t, i in picks]
        labels = run.labels_sub if by == "true label" else None
        names = list(ds.class_names) if by == "true label" and ds is not None and ds.class_names else None
        color = np.asarray(labels) if labels is not None else np.asarray(snap.assign)
        cname = "class" if labels is not None else "cluster"
        panels.append(Panel(
            title="Features on the sphere (Fig. 1)", figure=sphere_figure(shown, color, cname, names),
            wide=True,
            text=("Z on S^2 at random initialisation, after the self-supervised warm-up, and "
                  "during MLC (the current epoch). In the paper's Fig. 1 the curved manifold ends "
                  "on a great circle (a 2-D subspace cut with the sphere) and the blob on a pair "
                  "of antipodal points (a 1-D subspace); the numerical ranks above say how close "
                  "this run gets."
                  + ("" if labels is not None else
                     " All three panels are coloured by the current epoch's clusters, so the same "
                     "points can be followed from the start."))))
    return panels


LENS = Lens(
    method_ids=("mlc",),
    title="MLC: subspaces, coding rates and the membership Π",
    build=build,
    live_panel=LIVE,
    options=[
        Option("sort", "Sort heatmaps by", "select", ["learned cluster", "true label"],
               "learned cluster", help="Order of the points in |Z^T Z| and Π."),
        Option("ranks_of", "Numerical ranks of", "select", ["true clusters", "learned clusters"],
               "true clusters", help="Fig. 3b uses the ground-truth clusters."),
        Option("cluster", "Principal images of cluster", "int", default=-1,
               help="The learned cluster (an id as in the legends) whose principal images to "
                    "show, or all of them.",
               min=-1, auto=(-1, "all clusters"),
               shown=lambda run: bool(run.config.get("image_shape"))),  # images only
        Option("color3d", "Colour the 3-D view by", "select", ["true label", "learned cluster"],
               "true label", help="The 3-D view of the features on the sphere (Fig. 1).",
               shown=lambda run: run.count > 0 and run.latent(run.count - 1).shape[1] == 3),
    ],
    intro=INTRO,
)
