"""Figures of the Compare page: metric curves of several runs overlaid, the d_Z - d_X
histograms overlaid, and the contingency table between two runs' clusterings.

Pure functions (no streamlit). Each run keeps one colour in every figure (:func:`run_color`);
cluster colours stay those of :mod:`dcviz.viz.common`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dcviz import measures as MS
from dcviz.compare import metric_columns
from dcviz.viz.style import INK, MUTED, finish

RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
RUN_DASHES = ["solid", "dash", "dot", "dashdot"]


def run_color(i: int) -> str:
    return RUN_COLORS[i % len(RUN_COLORS)]


def _x(rows: Sequence[dict], x: str) -> np.ndarray:
    if x == "progress":
        return np.array([100 * float(r.get("progress") or 0.0) for r in rows])
    return np.array([float(r.get("epoch", i)) for i, r in enumerate(rows)])


def overlay_curves(runs: Sequence[tuple[str, Sequence[dict]]], *, x: str = "epoch",
                   current: Sequence[int | None] | None = None, keys: Sequence[str] | None = None,
                   ncols: int = 3, height_per_row: int = 230) -> go.Figure:
    """One subplot per metric (ACC, NMI, ARI, then geometry metrics), one line per run.

    runs     (label, metrics.jsonl rows) per run
    x        "epoch" or "progress" (percent of each run)
    current  per run, the snapshot shown by the shared control (drawn as a ring)

    Each metric is named and scaled as :mod:`dcviz.measures` says (a share in percent), as on
    Explore; a run's first share of changed points, a placeholder 1.0 in runs recorded before
    the fix, is not drawn.
    """
    runs = [(label, MS.without_placeholders(rows)) for label, rows in runs]
    keys = list(keys) if keys is not None else metric_columns([rows for _, rows in runs])
    if not keys or not any(rows for _, rows in runs):
        fig = go.Figure()
        fig.update_layout(height=120, margin=dict(l=10, r=10, t=30, b=10),
                          annotations=[dict(text="no metrics recorded yet", showarrow=False,
                                            xref="paper", yref="paper", x=0.5, y=0.5)])
        return fig
    ncols = max(1, min(ncols, len(keys)))
    nrows = math.ceil(len(keys) / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[MS.title(k) for k in keys],
                        vertical_spacing=min(0.14, 0.4 / max(nrows - 1, 1)), horizontal_spacing=0.07)
    for ri, (label, rows) in enumerate(runs):
        xs = _x(rows, x)
        hover = [f"{label}<br>snapshot {i} · epoch {r.get('epoch', '?')} · {r.get('stage', '')}"
                 for i, r in enumerate(rows)]
        for ki, key in enumerate(keys):
            ys = MS.factor(key) * np.array([float((r.get("metrics") or {}).get(key, math.nan))
                                            for r in rows])
            if np.all(np.isnan(ys)):
                continue
            rr, cc = ki // ncols + 1, ki % ncols + 1
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers" if len(rows) < 60 else "lines", name=label,
                legendgroup=label, showlegend=ki == 0 or key == keys[0], text=hover,
                line=dict(color=run_color(ri), width=2, dash=RUN_DASHES[ri % len(RUN_DASHES)]),
                marker=dict(size=4),
                hovertemplate=f"{MS.title(key)} %{{y:.4g}}<br>%{{text}}<extra></extra>"),
                row=rr, col=cc)
            idx = current[ri] if current is not None and ri < len(current) else None
            if idx is not None and 0 <= idx < len(rows) and not math.isnan(ys[idx]):
                fig.add_trace(go.Scatter(
                    x=[xs[idx]], y=[ys[idx]], mode="markers", showlegend=False, legendgroup=label,
                    hoverinfo="skip", marker=dict(size=11, color="rgba(0,0,0,0)",
                                                  line=dict(width=2, color=run_color(ri)))),
                    row=rr, col=cc)
            if key in ("acc", "nmi", "ari", "trust", "cont", "cra"):
                fig.update_yaxes(range=[-0.03, 1.03], row=rr, col=cc)
            elif key in MS.PERCENT:
                fig.update_yaxes(rangemode="tozero", row=rr, col=cc)
    fig.update_xaxes(title_text="progress (%)" if x == "progress" else "epoch", row=nrows)
    fig.update_layout(height=max(280, height_per_row * nrows + 100),
                      margin=dict(l=10, r=10, t=70, b=10), hovermode="closest",
                      legend=dict(orientation="h", x=0, y=1.0, yref="container", yanchor="top"))
    return finish(fig)


def dz_dx_overlay(runs: Sequence[tuple[str, np.ndarray]], *, bins: int = 60) -> go.Figure:
    """Histograms of d_Z - d_X over neighbour pairs, one per run, on shared bins.

    The DCRL lens's :func:`dcviz.viz.dcrl.histogram_figure` draws them (densities on common,
    symmetric bins); here each run gets its Compare colour. d_Z and d_X are the distances of a
    point to its input-space neighbours in the latent and the input space (both divided by
    sqrt(dimension), DCRL's L_LIS scaling): narrow around 0 means local distances are kept."""
    from dcviz.viz.dcrl import histogram_figure
    values: dict[str, np.ndarray] = {}
    for label, v in runs:
        if v is None or not len(v):
            continue
        key, n = label, 2
        while key in values:  # two runs with the same label stay two lines
            key, n = f"{label} ({n})", n + 1
        values[key] = np.asarray(v, dtype=np.float64)
    if not values:
        fig = go.Figure()
        fig.update_layout(height=120, annotations=[dict(text="no run has d_Z - d_X data",
                                                        showarrow=False, xref="paper",
                                                        yref="paper", x=0.5, y=0.5)])
        return fig
    fig = histogram_figure(values, bins=bins)
    for i, trace in enumerate(fig.data):
        trace.line.color = run_color(i)
        trace.line.dash = RUN_DASHES[i % len(RUN_DASHES)]
    return finish(fig)


def contingency_figure(table: np.ndarray, rows: Sequence[int], cols: Sequence[int], *,
                       name_a: str = "run A", name_b: str = "run B") -> go.Figure:
    """Heatmap of the contingency table; rows are A's clusters, columns B's (matched order)."""
    t = np.asarray(table)
    share = t / np.maximum(t.sum(axis=1, keepdims=True), 1)
    fig = go.Figure(go.Heatmap(
        z=share, x=[f"B{c}" for c in cols], y=[f"A{r}" for r in rows], text=t,
        texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1,
        colorbar=dict(title=dict(text="share of<br>A's cluster")),
        hovertemplate=f"{name_a} cluster %{{y}} · {name_b} cluster %{{x}}<br>%{{text}} points "
                      "(%{z:.0%} of the row)<extra></extra>"))
    fig.update_layout(height=max(260, 28 * len(rows) + 110), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text=f"{name_b}: clusters (matched order)"), side="bottom",
                                 type="category"),
                      yaxis=dict(title=dict(text=f"{name_a}: clusters"), autorange="reversed",
                                 type="category"))
    return finish(fig)


def placement_figure(train_coords: np.ndarray, coords: np.ndarray, assign: np.ndarray, *,
                     train_assign: np.ndarray | None = None, index: np.ndarray | None = None,
                     confidence: np.ndarray | None = None, axis_names=("PC 1", "PC 2"),
                     height: int = 520) -> go.Figure:
    """New points (coloured by their cluster) placed among the training points (light grey,
    or faintly in their cluster colours) of a run's latent view, on one 2-D basis."""
    from dcviz.viz.common import color_of
    train_coords = np.asarray(train_coords)
    coords = np.asarray(coords)
    big = len(train_coords) + len(coords) > 3000
    Trace = go.Scattergl if big else go.Scatter
    fig = go.Figure()
    tcol = ([color_of(int(a)) for a in train_assign] if train_assign is not None else MUTED)
    # faint enough to stay behind the new points, not so faint that the dark theme loses them
    # (at 0.18 they were about 1.2:1 against its background)
    fig.add_trace(Trace(x=train_coords[:, 0], y=train_coords[:, 1], mode="markers",
                        name="training points", hoverinfo="skip", legendgroup="train",
                        showlegend=train_assign is None,
                        marker=dict(size=5, color=tcol, opacity=0.35, line=dict(width=0))))
    if train_assign is not None:  # the legend's swatch in grey, not the first point's cluster colour
        fig.add_trace(Trace(x=[None], y=[None], mode="markers", legendgroup="train",
                            name="training points (their clusters' colours)", hoverinfo="skip",
                            marker=dict(size=5, color=MUTED, opacity=0.6)))
    idx = np.arange(len(coords)) if index is None else np.asarray(index)
    for c in np.unique(assign):
        m = np.asarray(assign) == c
        conf = confidence[m] if confidence is not None else None
        custom = np.column_stack([idx[m]] + ([conf] if conf is not None else []))
        fig.add_trace(Trace(
            x=coords[m, 0], y=coords[m, 1], mode="markers", name=f"new · cluster {int(c)}",
            customdata=custom,
            marker=dict(size=7, color=color_of(int(c)), opacity=0.9,
                        line=dict(width=0.6, color="black")),
            hovertemplate="new point %{customdata[0]}<br>cluster " + str(int(c))
                          + ("<br>confidence %{customdata[1]:.3f}" if conf is not None else "")
                          + "<extra></extra>"))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text=axis_names[0]), zeroline=False),
                      yaxis=dict(title=dict(text=axis_names[1]), zeroline=False, scaleanchor="x",
                                 scaleratio=1),
                      legend=dict(itemsizing="constant"))
    return finish(fig)


def sizes_figure(sizes: np.ndarray, train_sizes: np.ndarray | None = None) -> go.Figure:
    """Bars of points per cluster for the new data (and the training subsample, for scale)."""
    from dcviz.viz.common import color_of
    k = len(sizes)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=[str(i) for i in range(k)], y=np.asarray(sizes) / max(np.sum(sizes), 1),
                         name="new data", marker_color=[color_of(i) for i in range(k)],
                         customdata=np.asarray(sizes),
                         hovertemplate="cluster %{x}: %{customdata} points (%{y:.1%})<extra></extra>"))
    if train_sizes is not None:
        ts = np.asarray(train_sizes)[:k] if len(train_sizes) >= k else np.pad(train_sizes, (0, k - len(train_sizes)))
        fig.add_trace(go.Scatter(x=[str(i) for i in range(k)], y=ts / max(ts.sum(), 1), mode="markers",
                                 name="training points", marker=dict(symbol="line-ew-open", size=26,
                                                                     color=INK,
                                                                     line=dict(width=2)),
                                 hovertemplate="training: %{y:.1%} in cluster %{x}<extra></extra>"))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), bargap=0.25,
                      xaxis=dict(title=dict(text="cluster"), type="category"),
                      yaxis=dict(title=dict(text="share of points"), tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.3))
    return finish(fig)


def confidence_figure(values: np.ndarray, assign: np.ndarray, kind: str) -> go.Figure:
    """Distribution of the confidence per cluster (box plots)."""
    from dcviz.viz.common import color_of
    fig = go.Figure()
    for c in np.unique(assign):
        v = np.asarray(values)[np.asarray(assign) == c]
        fig.add_trace(go.Box(y=v, name=str(int(c)), marker_color=color_of(int(c)), boxpoints=False,
                             showlegend=False))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text="cluster"), type="category"),
                      yaxis=dict(title=dict(text="probability of the chosen cluster" if kind == "probability"
                                            else "distance margin (latent units)")))
    if kind == "probability":
        fig.update_yaxes(range=[0, 1.02])
    return finish(fig)

