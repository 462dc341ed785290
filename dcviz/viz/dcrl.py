"""The DCRL lens: the three training stages, the weights that drive them, the centres, and the
geometry the paper measures (Fig. 3, Fig. A5, Tab. A2). It also opens DEC and IDEC runs, which
carry the same geometry extras, so that their histograms and rank grids can be compared: for
them it is a lens of its own (:data:`DEC_LENS`, :data:`IDEC_LENS`, the same panels), whose
title, intro, texts and overlay help speak of that method, which has no stages, and offer DCRL
as the run to overlay.

Pure functions: rows of metrics.jsonl and snapshot extras in, plotly figures out.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import plotly.graph_objects as go

from dcviz.methods.dcrl import DCRLExtras
from dcviz.methods.dec import DECExtras, StudentTExtras
from dcviz.runs.labels import method_title
from dcviz.viz.base import Lens, Option, Panel, register_lens
from plotly.subplots import make_subplots

from dcviz.viz.common import (color_of, keyed_title, series, stage_annotations, stage_boundaries,
                               stage_x_range)
from dcviz.viz.style import INK, MUTED, PALETTE

#: the methods this lens draws: DCRL, and the baselines it argues against
METHODS = ("dcrl", "dec", "idec")

STAGES = ("stage 1: clustering", "stage 2: separation", "stage 3: structure recovery")
#: the stages of the autoencoder's pretraining (AEMethod.pretrain), before the centres exist
PRETRAIN = ("random init", "pretrain")
STAGE_COLORS = {"random init": "rgba(150,150,150,0.12)", "pretrain": "rgba(150,150,150,0.12)",
                STAGES[0]: "rgba(31,119,180,0.12)",
                STAGES[1]: "rgba(255,127,14,0.14)", STAGES[2]: "rgba(44,160,44,0.12)",
                "clustering": "rgba(214,39,40,0.08)"}
TERM_NAMES = {"cluster": "α·L_cluster", "rank": "L_rank (on the manifolds)", "lis": "β·L_LIS"}
GEOMETRY = ("trust", "cont", "rre", "lgd", "drmse", "cra")
GEOMETRY_HELP = {"trust": "Trust ↑", "cont": "Cont ↑", "rre": "RRE ↓", "lgd": "LGD ↓",
                 "drmse": "d-RMSE ↓", "cra": "CRA ↑"}

STAGE_TEXT = {
    "pretrain": (
        "The denoising autoencoder is still learning to reconstruct its input from a noisy copy. "
        "Its latent space keeps the input's geometry well (Trust and Cont near 1) but has no "
        "cluster structure yet; the colours are k-means on the current codes. The three stages "
        "start when the centres μ are placed."),
    STAGES[0]: (
        "Stage 1, clustering: α·L_cluster pushes hardest. Each point is pulled towards the centre "
        "μ_j that claims it most (the sharpened target P), so every manifold contracts into a "
        "ball. Watch the latent view: the clusters become round and tight, and Trust/LGD get "
        "worse, because pulling points together destroys their local structure."),
    STAGES[1]: (
        "Stage 2, separation: the ranking loss now pushes hardest. L_rank places the centres μ so "
        "that their distances are κ times the distances of the manifolds' means in the input "
        "space, and the points follow their centres: the balls move apart, and in the order the "
        "input space dictates, so the cells of the rank grid turn blue (CRA rises)."),
    STAGES[2]: (
        "Stage 3, structure recovery: β·L_LIS pushes hardest. Inside each predicted manifold, "
        "neighbours are asked to keep their input-space distances (up to the 1/√dim scaling), so "
        "the balls unfold back into the manifolds' own shapes while staying apart. Trust and "
        "Cont climb back, LGD falls, and the d_Z − d_X histogram narrows around 0."),
    "clustering": (
        "DEC/IDEC have no stages: KL(P‖Q) alone (plus reconstruction for IDEC) pulls every "
        "point towards its centre for the whole run. This is the baseline DCRL argues against: "
        "compare its geometry curves, rank grid and d_Z − d_X histogram with a DCRL run."),
}
STAGE_TEXT["random init"] = STAGE_TEXT["pretrain"]

#: DEC and IDEC: what the live panel says (they have no stages; {method} is the run's method)
BASELINE_TEXT = {
    "pretrain": (
        "The autoencoder is still learning to reconstruct its input. Its latent space keeps the "
        "input's geometry well (Trust and Cont near 1) but has no cluster structure yet; the "
        "colours are k-means on the current codes. When pretraining ends, {method} places its "
        "centres μ, and from then on its clustering loss pulls every point towards its centre: "
        "watch the geometry curves, the rank grid and the d_Z − d_X histogram for what that "
        "costs."),
    "clustering": (
        "{method} has no stages: KL(P‖Q) alone{recon} pulls every point towards its centre for "
        "the whole run. This is the baseline DCRL argues against: compare its geometry curves, "
        "rank grid and d_Z − d_X histogram with a DCRL run on the same data."),
}
BASELINE_TEXT["random init"] = BASELINE_TEXT["pretrain"]

PRESSURE_TEXT = (
    "The stage is named after the loss term that pushed hardest over the epoch, read from what "
    "each term did: the share of its own size (when all the terms start training) that its "
    "objective lost between the epoch's start and end, times its schedule weight relative to "
    "its full weight; below 0, the term lost ground. L_rank acts on the centres μ and moves "
    "the manifolds only through them, so its part is measured as Eq. 6 at the manifolds' "
    "latent means. In the warm-up only the clustering term trains: stage 1. Stages only move "
    "forward; the shaded bands show where each stage began.")
SCHEDULE_TEXT = (
    "Weight continuation (section 3.3.2): α, the weight of the clustering loss, falls linearly "
    "to 0 and β, the weight of the isometry loss, rises linearly to its final value; both reach "
    "their end at the middle of fine-tuning (epoch 150 of 300 in the paper). Lines: the plan "
    "from the run's config; dots: the values the run used.")
BANDS = ("Bands: grey pretraining, blue stage 1, orange stage 2, green stage 3 (red: DEC/IDEC "
         "clustering); dashed lines mark where a stage begins, the solid grey line is this snapshot.")
LOSS_TEXT = (
    "Every loss term, each on its own axis (they differ by orders of magnitude). L_AE, L_cluster "
    "and L_rank are averaged over the epoch's mini-batches; L_LIS and L_align are the values of "
    "the once-per-epoch step over all the data. " + BANDS)
GEOMETRY_TEXT = (
    "The representation metrics of the paper's appendix A.4, on the run's fixed subsample: Trust "
    "(are latent neighbours real neighbours?), Cont (are real neighbours still neighbours?), "
    "RRE (rank changes of neighbours), LGD and d-RMSE (distance errors, with both spaces "
    "scaled by 1/√dim like L_LIS) and CRA (share of the C×C pairs of cluster centres whose "
    "rank is kept, the C pairs of a centre with itself included, as in the paper: at least "
    "1/C while every cluster holds points; an empty cluster's pairs count as not kept). "
    "Arrows say which way is better. " + BANDS)
CENTRES_TEXT = (
    "The learnable centres μ_j, projected to 2-D with one PCA fitted to all their positions over "
    "the run, so the picture does not flip from epoch to epoch. Each line is one centre's path "
    "up to the current epoch; the large dot is where it is now. In stage 2 the centres spread "
    "out until their distances match κ times the input-space distances of the manifold means.")
GRID_TEXT = (
    "Fig. A5 (a)-(f): for the cluster in row i, is the rank of cluster j's centre (1 = nearest "
    "other centre) the same in the input space and in the latent space? Blue ✓: preserved; "
    "yellow ✗: not. Centres are the means of the predicted clusters in each space. The "
    "diagonal (grey ✓) pairs each centre with itself, rank 0 in both spaces: always the same. "
    "CRA, as the paper defines it (appendix A.4), is the share of all C² cells that are ticked, "
    "the C diagonal cells included, so it is never below 1/C while every cluster holds points "
    "(the cells of an empty cluster, which has no centre, count as not kept); the title also "
    "counts the other cells alone, the pairs of two different centres. Hover a cell for both "
    "ranks.")
HIST_TEXT = (
    "Fig. A5 (g): for every point and each of its nearest input-space neighbours, the latent "
    "distance minus the input distance (both divided by √dim, as in L_LIS). A good local "
    "isometry is a tall, narrow peak at 0. Clustering losses pull neighbours together (mass "
    "left of 0) or tear them apart (a long right tail). Choose another run, for example {other} "
    "run on the same data, to overlay its histogram at the same point of training.")


# --------------------------------------------------------------------------- helpers

def _overlay_suggestion(method_id: str) -> str:
    """The run to overlay on one of ``method_id``: a baseline on DCRL, DCRL on a baseline."""
    return "a DEC" if method_id == "dcrl" else "a DCRL"


def _clustering_indices(rows) -> list[int]:
    return [i for i, r in enumerate(rows) if r.get("stage") not in PRETRAIN]


def _axis_suffix(k: int) -> str:
    return "" if k == 0 else str(k + 1)


def _stage_shapes(rows, current: int | None, n_axes: int = 1) -> list[dict]:
    """Stage bands (shaded), stage boundaries (dashed) and the current snapshot (solid) for
    each of ``n_axes`` subplots, as plain shape dicts: one ``update_layout`` call instead of
    plotly's slow ``add_vrect``/``add_vline`` per subplot."""
    bounds = stage_boundaries(rows)
    shapes = []
    for k in range(n_axes):
        xref, yref = f"x{_axis_suffix(k)}", f"y{_axis_suffix(k)} domain"
        for b, (start, name) in enumerate(bounds):
            end = bounds[b + 1][0] if b + 1 < len(bounds) else len(rows)
            shapes.append(dict(type="rect", xref=xref, yref=yref, x0=start - 0.5, x1=end - 0.5,
                               y0=0, y1=1, line=dict(width=0), layer="below",
                               fillcolor=STAGE_COLORS.get(name, "rgba(0,0,0,0.05)")))
            if start > 0:
                shapes.append(dict(type="line", xref=xref, yref=yref, x0=start - 0.5, x1=start - 0.5,
                                   y0=0, y1=1, line=dict(color=MUTED, dash="dash", width=1)))
        if current is not None:
            shapes.append(dict(type="line", xref=xref, yref=yref, x0=current, x1=current, y0=0,
                               y1=1, line=dict(color=INK, width=1.5)))
    return shapes


def _stage_labels(rows, x_range: tuple[float, float], width_px: float = 320) -> list[dict]:
    """Short stage names at the top of their bands, laid out so that none overlaps another where
    the figure is narrowest: Present's half of a 1024-px projector, about 320 px of plot (laid
    out for 1100, "random init" ran into "pretrain" there)."""
    return stage_annotations(rows, width_px=width_px, x_range=x_range)


def small_multiples(rows, groups: list[tuple[str, dict[str, np.ndarray]]], current: int,
                    ncols: int = 2, height_per_row: int = 190) -> go.Figure:
    """One subplot per group ``(title, {line: values over snapshots})``, stages shaded."""
    groups = [(t, g) for t, g in groups if g]
    if not groups:
        fig = go.Figure()
        fig.update_layout(height=120, annotations=[dict(text="nothing recorded yet",
                                                        showarrow=False, x=0.5, y=0.5,
                                                        xref="paper", yref="paper")])
        return fig
    ncols = max(1, min(ncols, len(groups)))
    nrows = math.ceil(len(groups) / ncols)
    # a subplot of several lines keys them in its title (a legend went under the whole figure)
    fig = make_subplots(rows=nrows, cols=ncols,
                        subplot_titles=[keyed_title(t, list(g), PALETTE) for t, g in groups],
                        vertical_spacing=min(0.18, 0.5 / nrows), horizontal_spacing=0.07)
    x = np.arange(len(rows))
    hover = [f"snapshot {i} · epoch {r.get('epoch', '?')} · {r.get('stage', '')}"
             for i, r in enumerate(rows)]
    for g, (_, lines) in enumerate(groups):
        for li, (name, values) in enumerate(lines.items()):
            fig.add_trace(go.Scatter(
                x=x, y=values, mode="lines+markers" if len(rows) < 60 else "lines", name=name,
                legendgroup=name, showlegend=False, text=hover,
                line=dict(color=color_of(li), width=2), marker=dict(size=4),
                hovertemplate=f"{name}: %{{y:.4g}}<br>%{{text}}<extra></extra>"),
                row=g // ncols + 1, col=g % ncols + 1)
    fig.update_layout(shapes=_stage_shapes(rows, current, len(groups)),
                      height=max(220, height_per_row * nrows + 70),
                      margin=dict(l=10, r=10, t=40, b=10), hovermode="closest",
                      legend=dict(orientation="h", y=-0.12))
    fig.update_xaxes(title_text="snapshot", row=nrows)
    return fig


def _snapshot_sample(indices: list[int], limit: int = 80) -> list[int]:
    if len(indices) <= limit:
        return list(indices)
    picks = np.unique(np.linspace(0, len(indices) - 1, limit).round().astype(int))
    return [indices[i] for i in picks]


# --------------------------------------------------------------------------- figures

def pressure_figure(rows, current: int) -> go.Figure:
    """The three stage terms' pressures over the snapshots, stages shaded."""
    fig = go.Figure()
    h = DCRLExtras.history(rows)
    x = np.arange(len(rows))
    for k, (term, y) in enumerate((("cluster", h.pressure_cluster), ("rank", h.pressure_rank),
                                   ("lis", h.pressure_lis))):
        if np.all(np.isnan(y)):
            continue
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers" if len(rows) < 80 else "lines",
                                 name=TERM_NAMES[term], line=dict(color=color_of(k), width=2),
                                 marker=dict(size=4)))
    # the axis is pinned to the range the names are laid out for (see stage_x_range)
    x_range = stage_x_range(rows, current)
    fig.update_layout(shapes=_stage_shapes(rows, current), annotations=_stage_labels(rows, x_range),
                      xaxis_range=list(x_range))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="snapshot",
                      yaxis_title="pressure (share lost)",  # the text below defines it
                      legend=dict(orientation="h", y=-0.25))
    return fig


def schedule_figure(rows, config: dict, current: int) -> go.Figure:
    """Planned alpha/beta from the config (lines) against the values the run used (dots)."""
    from dcviz.methods.dcrl import weight_schedule
    pre = int(config.get("pretrain_epochs", 0))
    epochs = int(config.get("epochs", 1))
    plan_e = np.arange(epochs)
    plan = np.array([weight_schedule(int(e), epochs, float(config.get("alpha0", 0.1)),
                                     float(config.get("beta1", 1.0)),
                                     float(config.get("continuation", 0.5)),
                                     int(config.get("warmup_epochs", 0))) for e in plan_e])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=plan_e, y=plan[:, 0], mode="lines", name="α plan",
                             line=dict(color=color_of(0), width=2)))
    fig.add_trace(go.Scatter(x=plan_e, y=plan[:, 1], mode="lines", name="β plan",
                             line=dict(color=color_of(2), width=2)))
    idx = _clustering_indices(rows)
    h = DCRLExtras.history(rows)
    if idx and not np.all(np.isnan(h.alpha)):
        ep = np.array([rows[i]["epoch"] - pre for i in idx])
        fig.add_trace(go.Scatter(x=ep, y=h.alpha[idx], mode="markers", name="α used",
                                 marker=dict(color=color_of(0), size=6)))
        fig.add_trace(go.Scatter(x=ep, y=h.beta[idx], mode="markers", name="β used",
                                 marker=dict(color=color_of(2), size=6)))
    if 0 <= current < len(rows) and rows[current].get("stage") not in PRETRAIN:
        e = rows[current]["epoch"] - pre
        fig.update_layout(shapes=[dict(type="line", xref="x", yref="y domain", x0=e, x1=e, y0=0,
                                       y1=1, line=dict(color=INK, width=1.5))])
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="fine-tuning epoch", yaxis_title="weight",
                      legend=dict(orientation="h", y=-0.3))
    return fig


def centres_figure(mus: list[np.ndarray], current: int) -> go.Figure:
    """Trajectories of the centres in one fixed 2-D PCA basis; ``current`` indexes ``mus``."""
    stack = np.concatenate(mus)
    mean = stack.mean(0)
    _, _, vt = np.linalg.svd(stack - mean, full_matrices=False)
    basis = vt[:2].T if vt.shape[0] >= 2 else np.c_[vt[:1].T, np.zeros((stack.shape[1], 1))]
    # a fixed sign per axis (largest loading positive), so the picture never mirrors
    basis = basis * np.sign(basis[np.abs(basis).argmax(0), [0, 1]] + 1e-12)
    path = np.stack([(m - mean) @ basis for m in mus[:current + 1]])  # (T, C, 2)
    fig = go.Figure()
    for j in range(path.shape[1]):
        col = color_of(j)
        fig.add_trace(go.Scatter(x=path[:, j, 0], y=path[:, j, 1], mode="lines",
                                 line=dict(color=col, width=1.5), showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=[path[-1, j, 0]], y=[path[-1, j, 1]], mode="markers+text",
                                 marker=dict(color=col, size=13, line=dict(color="white", width=1)),
                                 text=[str(j)], textposition="top center", name=f"μ{j}",
                                 hovertemplate=f"centre {j}<br>(%{{x:.3g}}, %{{y:.3g}})<extra></extra>"))
        fig.add_trace(go.Scatter(x=[path[0, j, 0]], y=[path[0, j, 1]], mode="markers",
                                 marker=dict(color=col, size=6, symbol="circle-open"),
                                 showlegend=False, hovertemplate=f"centre {j} at the start<extra></extra>"))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                      xaxis_title="centre PC 1", yaxis_title="centre PC 2")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def off_diagonal_kept(grid: np.ndarray) -> tuple[int, int]:
    """(cells kept, cells) of a rank grid off its diagonal: the pairs of two different centres,
    whose ranks can change (a centre against itself is rank 0 in both spaces)."""
    grid = np.asarray(grid)
    off = ~np.eye(len(grid), dtype=bool)
    return int((grid[off] > 0.5).sum()), int(off.sum())


def rank_grid_title(grid: np.ndarray, cra: float, n_clusters: int | None = None) -> str:
    """"Rank preservation of the cluster centres (CRA 0.30: 30 of 100 cells ✓, the 10 of the
    diagonal included; off the diagonal 20 of 90)"; with clusters left empty (the grid has
    fewer rows than ``n_clusters``), CRA counts all n_clusters^2 cells and the title says so."""
    c = len(grid)
    k = max(n_clusters or c, c)
    kept, total = off_diagonal_kept(grid)
    ticked = kept + int((np.diag(np.asarray(grid)) > 0.5).sum())
    verb = "is" if k - c == 1 else "are"
    empty = (f"; {k - c} of the {k} clusters {verb} empty, their cells count as not kept"
             if k > c else "")
    return (f"Rank preservation of the cluster centres (CRA {cra:.2f}: {ticked} of {k * k} cells "
            f"✓, the {c} of the diagonal included; off the diagonal {kept} of {total}{empty})")


def rank_grid_figure(grid: np.ndarray, ids: np.ndarray, rank_x=None, rank_z=None) -> go.Figure:
    """Fig. A5 (a)-(f): preserved cells blue with a tick, the others yellow with a cross; the
    diagonal (each centre against itself, always kept, and counted by CRA) grey with a tick."""
    grid = np.asarray(grid)
    c = len(grid)
    labels = [str(int(i)) for i in ids]
    marks = np.where(grid > 0.5, "✓", "✗")
    diag = np.eye(c, dtype=bool)
    if rank_x is not None and rank_z is not None:
        hover = np.array([[f"row {labels[i]} → col {labels[j]}<br>rank in X: {int(rank_x[i, j])}"
                           f"<br>rank in Z: {int(rank_z[i, j])}" for j in range(c)] for i in range(c)])
    else:
        hover = np.array([[f"row {labels[i]} → col {labels[j]}" for j in range(c)] for i in range(c)])
    hover = np.where(diag, np.char.add(hover.astype(str), "<br>a centre against itself: always "
                                       "kept, counted by CRA"), hover)
    # three colours: 0 not kept (yellow), 0.5 the diagonal (grey), 1 kept (blue)
    z = np.where(diag, 0.5, (grid > 0.5).astype(float))
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=0, zmax=1, showscale=False, xgap=2, ygap=2,
        colorscale=[[0, "#f2c14e"], [0.34, "#f2c14e"], [0.34, "#c9ced6"], [0.66, "#c9ced6"],
                    [0.66, "#3a6fb0"], [1, "#3a6fb0"]],
        # no text colour: plotly picks dark or light per cell, readable on yellow and on blue
        text=marks, texttemplate="%{text}", textfont=dict(size=14 if c <= 12 else 9),
        customdata=hover, hovertemplate="%{customdata}<extra></extra>"))
    side = min(460, 120 + 32 * c)
    fig.update_layout(height=side, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title="cluster j", type="category", side="top"),
                      yaxis=dict(title="cluster i", type="category", autorange="reversed"))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def histogram_figure(values: dict[str, np.ndarray], bins: int = 60) -> go.Figure:
    """Histograms of d_Z - d_X on common bins, one line per run (densities, so runs of
    different sizes compare)."""
    allv = np.concatenate([v for v in values.values() if len(v)])
    lo, hi = np.percentile(allv, [0.5, 99.5]) if len(allv) else (-1.0, 1.0)
    span = max(abs(lo), abs(hi), 1e-6)
    edges = np.linspace(-span, span, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig = go.Figure()
    for k, (name, v) in enumerate(values.items()):
        dens, _ = np.histogram(np.clip(v, edges[0], edges[-1]), bins=edges, density=True)
        fig.add_trace(go.Scatter(x=centres, y=dens, mode="lines", name=name, line_shape="hvh",
                                 fill="tozeroy" if k == 0 else None,
                                 line=dict(color=color_of(0 if k == 0 else 3), width=2)))
    fig.update_layout(shapes=[dict(type="line", xref="x", yref="y domain", x0=0, x1=0, y0=0, y1=1,
                                   line=dict(color=INK, dash="dot"))])
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis_title="d_Z − d_X (scaled by 1/√dim)", yaxis_title="density",
                      legend=dict(orientation="h", y=-0.3))
    return fig


def _hist_stats(v: np.ndarray) -> str:
    return f"mean {np.mean(v):+.3g}, std {np.std(v):.3g}, median |d_Z − d_X| {np.median(np.abs(v)):.3g}"


def _other_run(run, run_id):
    """RunView of another run in the same store, or None."""
    if not run_id or run_id == run.run_id:
        return None
    from dcviz.runs.store import RunStore
    from dcviz.runs.view import RunView
    try:
        return RunView(RunStore(run.rd.path.parent).open(str(run_id)))
    except Exception:  # noqa: BLE001 - a deleted or broken run just is not overlaid
        return None


def _closest_by_progress(other, progress: float) -> int | None:
    rows = other.rows()
    if not rows:
        return None
    prog = np.array([float(r.get("progress", 0.0)) for r in rows])
    return int(np.abs(prog - progress).argmin())


# --------------------------------------------------------------------------- the lens

#: The live panel: the stage, and for DCRL which loss term pushes hardest.
LIVE = "Training stage"


def _extras_of(method_id: str) -> type[StudentTExtras]:
    """The extras class of a run this lens draws (DCRL, or DEC and IDEC)."""
    return DCRLExtras if method_id == "dcrl" else DECExtras


def build(run, index: int, options: dict) -> list[Panel]:
    rows = run.rows()
    if not rows:
        return [Panel(LIVE, text="No snapshot yet.")]
    index = index if index >= 0 else len(rows) + index
    index = min(max(index, 0), len(rows) - 1)
    snap = run.snapshot(index)
    ex = _extras_of(run.method_id).from_snapshot(snap)
    stage = rows[index].get("stage", "")
    is_dcrl = run.method_id == "dcrl"
    panels: list[Panel] = []

    # 1. the stage, and which term dominates
    headline = f"Now: {stage} (epoch {rows[index].get('epoch')})"
    if is_dcrl:
        panels.append(Panel(LIVE, figure=pressure_figure(rows, index), caption=headline,
                            text=STAGE_TEXT.get(stage, "") + "\n\n" + PRESSURE_TEXT, wide=True))
        panels.append(Panel("Weight continuation: α and β", figure=schedule_figure(rows, run.config.get("config", {}), index),
                            text=SCHEDULE_TEXT))
    else:
        title = method_title(run.method_id)
        text = BASELINE_TEXT.get(stage, BASELINE_TEXT["clustering"])
        recon = " (plus the autoencoder's reconstruction loss)" if run.method_id == "idec" else ""
        panels.append(Panel(LIVE, text=text.format(method=title, recon=recon), caption=headline))

    # 2. loss terms and geometry metrics with stage boundaries
    losses = series(rows, "losses")
    panels.append(Panel("Loss terms", figure=small_multiples(
        rows, [(name, {name: v}) for name, v in losses.items()], index, ncols=3),
        text=LOSS_TEXT, wide=True))
    metrics = series(rows, "metrics")
    groups = [(GEOMETRY_HELP[k], {k: metrics[k]}) for k in GEOMETRY if k in metrics]
    scores = {k.upper(): metrics[k] for k in ("acc", "nmi", "ari") if k in metrics}
    if scores:
        groups.append(("ACC / NMI / ARI ↑", scores))
    panels.append(Panel("Geometry of the latent space (appendix A.4)", figure=small_multiples(
        rows, groups, index, ncols=3), text=GEOMETRY_TEXT, wide=True))

    # 3. the centres over the run
    clustering = _clustering_indices(rows)
    if clustering and ex.mu is not None:
        picks = _snapshot_sample(clustering)
        if index not in picks:
            picks = sorted(set(picks) | {index})
        mus = [np.asarray(_extras_of(run.method_id).from_snapshot(run.snapshot(i)).mu,
                          dtype=np.float64) for i in picks]
        cur = max(k for k, i in enumerate(picks) if i <= index)
        panels.append(Panel("Centre trajectories μ_j", figure=centres_figure(mus, cur),
                            text=CENTRES_TEXT))

    # 4. Fig. A5: the rank grid and the d_Z - d_X histogram
    if ex.rank_grid is not None:
        grid = np.asarray(ex.rank_grid)
        ids = np.asarray(ex.rank_grid_ids if ex.rank_grid_ids is not None else np.arange(len(grid)))
        cra = snap.metrics.get("cra", float(grid.mean()))
        panels.append(Panel(rank_grid_title(grid, cra, run.config.get("config", {}).get("n_clusters")),
                            figure=rank_grid_figure(grid, ids, ex.rank_x, ex.rank_z),
                            text=GRID_TEXT))
    if ex.dz_minus_dx is not None:
        name = f"this run ({method_title(run.method_id)}, epoch {snap.epoch})"
        values = {name: np.asarray(ex.dz_minus_dx, dtype=np.float64)}
        caption = f"{name}: {_hist_stats(values[name])}"
        other = _other_run(run, options.get("overlay"))
        if other is not None:
            j = _closest_by_progress(other, snap.progress)
            if j is not None:
                osnap = other.snapshot(j)
                other_dz = (_extras_of(other.method_id).from_snapshot(osnap).dz_minus_dx
                            if other.method_id in METHODS else None)
                otitle = method_title(other.method_id)
                if other_dz is not None:
                    oname = f"{otitle} run {other.run_id} (epoch {osnap.epoch})"
                    values[oname] = np.asarray(other_dz, dtype=np.float64)
                    caption += f"\n{oname}: {_hist_stats(values[oname])}"
                else:
                    caption += f"\nRun {other.run_id} ({otitle}) has no d_Z − d_X values."
        panels.append(Panel("Local isometry: d_Z − d_X over neighbour pairs (Fig. A5 g)",
                            figure=histogram_figure(values),
                            text=HIST_TEXT.format(other=_overlay_suggestion(run.method_id)),
                            caption=caption))
    return panels


def _overlay_option(suggestion: str) -> Option:
    return Option("overlay", "Overlay another run's histogram", "run", None, None,
                  help=f"Pick a run (for example {suggestion} on the same data) to draw its "
                       "d_Z − d_X histogram, at the same point of training, over this run's.")


LENS = Lens(
    method_ids=("dcrl",),
    title="DCRL: three stages, and the geometry the clustering loss would destroy",
    build=build,
    live_panel=LIVE,
    options=[_overlay_option("DEC")],
    intro=("DCRL trains in three stages: the clustering loss makes each manifold a ball, the "
           "ranking loss moves the balls apart in the order of the input space, and the isometry "
           "loss lets each manifold recover its shape. DEC and IDEC runs open in a lens of the "
           "same views, for comparison: same geometry metrics, no stages."),
)


def _baseline_lens(method_id: str, intro: str) -> Lens:
    """The same views for a DEC or IDEC run, told as that method's: no stages, the geometry
    its clustering loss destroys, DCRL as the run to overlay."""
    title = method_title(method_id)
    return register_lens(dataclasses.replace(
        LENS, method_ids=(method_id,),
        title=f"{title}: the geometry its clustering loss destroys",
        options=[_overlay_option("DCRL")], intro=intro.format(method=title)))


BASELINE_INTRO = (
    "{method} has no stages: once its autoencoder is pretrained and its centres μ are placed, "
    "its clustering loss KL(P‖Q){recon} pulls every point towards its centre for the rest of the "
    "run. These views, from the DCRL paper, show what that does to the latent space: the "
    "geometry metrics (Trust, Cont, RRE, LGD, d-RMSE, CRA), the centres' paths, the rank grid "
    "of the centres and the d_Z − d_X histogram. Overlay a DCRL run on the same data to see "
    "the geometry that DCRL's ranking and isometry losses keep.")
DEC_LENS = _baseline_lens("dec", BASELINE_INTRO.replace("{recon}", ""))
IDEC_LENS = _baseline_lens("idec", BASELINE_INTRO.replace(
    "{recon}", " (with the autoencoder's reconstruction loss beside it, meant to keep local "
               "structure)"))
