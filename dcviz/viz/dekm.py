"""The DEKM lens: its Fig. 1 (latent space, k-means regions, centroids, the last eigenvector),
the eigenvalue spectrum of S_w per iteration, the Y = V h coordinates, and the re-clustering churn.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dcviz.methods.dekm import DEKMExtras
from dcviz.viz.base import Lens, Option, Panel
from dcviz.viz.common import color_of, series
from dcviz.viz.style import INK, MUTED

FIG1_HEAD = """**What you are seeing** (the paper's Fig. 1). Points are the subsample in the embedding
space, coloured by {colour}; the grey × marks are the k-means centroids. """

FIG1_EXACT = """The background shows which centroid is nearest: the decision regions of k-means. They
are exact here, because the embedding has {d} dimension{s} (the paper set it to two "for better
inspection"), so the plane is the whole embedding. The grey line is the direction of the
**last eigenvector** of S_w: """

FIG1_APPROX = """The embedding has {d} dimensions but a screen has 2, so all of it is projected onto
a plane ({plane}). The background colours each spot by the centroid that is nearest *in this
plane*: a rough picture of the k-means regions, not the regions themselves, which live in all
{d} dimensions (the paper drew the real ones because its embedding had 2). The caption says how
many points it puts in the wrong region. The grey line is the shadow on this plane of the
**last eigenvector** of S_w, drawn as long as that shadow (the caption says how much of it lies
in the plane; the rest points out of it). The eigenvector is """

FIG1_TAIL = """the direction with the *least* cluster structure. DEKM's greedy loss
(Eq. 6) pulls points towards their centroid along that direction only, iteration after
iteration, so the clusters tighten there first, then k-means re-clusters and the direction
turns."""

PLANE_WORDS = {"pca": "its first two principal components",
               "eigen": "the first and the last eigen-directions of S_w"}

SPECTRUM_TEXT = """Eigenvalues of S_w (ascending) at every re-clustering. Small eigenvalues are directions
where clusters are already tight; DEKM works on the largest one, so watch the top line fall."""

Y_TEXT = """Y = V·h: every point in the eigen-coordinates, one column per eigen-direction (ordered
from most to least cluster structure), coloured by cluster. The last column is the one the
greedy loss moves: within a cluster its points collapse onto the centroid's value."""

CHURN_TITLE = "Points that changed cluster since the last re-clustering (%)"
CHURN_TEXT = """Share of points that changed cluster between two re-clusterings, in percent. The line
starts at iteration 1: iteration 0, the first k-means, has nothing before it to compare with. The
paper stops when fewer than 0.1 % change."""


def _clustering_indices(rows) -> list[int]:
    return [i for i, r in enumerate(rows) if r.get("stage") == "clustering"]


def _plane(latent: np.ndarray, V: np.ndarray, plane: str):
    """2-D coordinates, the projection matrix P (2, d) and the mean, for the chosen plane.

    A 1-d embedding (latent_dim=1) has one axis: the second is a zero axis (as in pca_2d)."""
    mean = latent.mean(0)
    d = latent.shape[1]
    if plane == "eigen":
        P = V[[0, -1]] if len(V) >= 2 else V[:1]
        names = ("y₁ (most cluster structure)", f"y_{len(V)} (least: the last eigenvector)")
    else:
        _, _, vt = np.linalg.svd(latent - mean, full_matrices=False)
        P = vt[:2]
        names = ("PC 1 of the embedding", "PC 2 of the embedding")
    if len(P) < 2:
        P = np.vstack([P, np.zeros((2 - len(P), d))])
        names = (names[0] if plane != "eigen" else "y₁ (the only eigen-direction)",
                 "none: the embedding has 1 dimension")
    return (latent - mean) @ P.T, P, mean, names


def fig1_facts(latent, assign, V, centroids, plane="pca") -> dict:
    """What Fig. 1 draws, measured against the real state of the snapshot.

    ``exact``: the embedding has at most 2 dimensions, so the plane is the whole embedding and
    the nearest-centroid regions in it are the k-means regions. ``drawn``: for every point, the
    centroid nearest to it in the plane (the background region it sits in); ``mismatch``: the
    share of points whose drawn region is not their real cluster (``assign``, from k-means in
    all the dimensions). ``in_plane``: ||P v_last||, the share of the last eigenvector's length
    that lies in the plane (v_last has length 1); ``direction`` is P v_last itself."""
    coords, P, mean, names = _plane(latent, V, plane)
    cents = (centroids - mean) @ P.T
    drawn = ((coords[:, None, :] - cents[None]) ** 2).sum(-1).argmin(1)
    assign = np.asarray(assign)
    direction = P @ V[-1]
    return {"coords": coords, "P": P, "mean": mean, "names": names, "cents": cents,
            "d": latent.shape[1], "exact": latent.shape[1] <= 2, "drawn": drawn,
            "mismatch": float(np.mean(drawn != assign)) if len(assign) else 0.0,
            "direction": direction, "in_plane": float(np.linalg.norm(direction))}


def fig1_figure(latent, assign, V, centroids, color, color_names=None, plane="pca",
                color_title="true label", facts: dict | None = None) -> go.Figure:
    f = facts if facts is not None else fig1_facts(latent, assign, V, centroids, plane)
    coords, cents, names = f["coords"], f["cents"], f["names"]
    span = coords.max(0) - coords.min(0)
    # an axis with no spread (the zero axis of a 1-d embedding) gets the other's, halved
    span = np.where(span > 0, span, 0.5 * span.max() if span.max() > 0 else 1.0)
    pad = 0.08 * span
    lo, hi = coords.min(0) - pad, coords.max(0) + pad
    flat = coords.max(0) - coords.min(0) <= 0
    lo, hi = np.where(flat, lo - span / 2, lo), np.where(flat, hi + span / 2, hi)
    gx, gy = np.linspace(lo[0], hi[0], 160), np.linspace(lo[1], hi[1], 160)
    grid = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2)
    # The nearest centroid in this plane: the k-means regions when the embedding is at most
    # 2-D, only an approximation of them otherwise (fig1_facts measures how far off).
    region = ((grid[:, None, :] - cents[None]) ** 2).sum(-1).argmin(1).reshape(len(gy), len(gx))
    k = len(centroids)
    scale = [[i / max(k - 1, 1), color_of(i)] for i in range(k)]
    fig = go.Figure(go.Heatmap(x=gx, y=gy, z=region, colorscale=scale, zmin=0, zmax=max(k - 1, 1),
                               opacity=0.22, showscale=False, hoverinfo="skip",
                               name="k-means regions" if f["exact"]
                               else "nearest centroid in this plane (approximate)"))
    for value in np.unique(color):
        rows = np.flatnonzero(color == value)
        name = color_names[int(value)] if color_names is not None and int(value) < len(color_names) else str(value)
        fig.add_trace(go.Scatter(x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=name,
                                 marker=dict(size=5, color=color_of(int(value)), line=dict(width=0)),
                                 hovertemplate=f"{color_title} {name}<extra></extra>"))
    fig.add_trace(go.Scatter(x=cents[:, 0], y=cents[:, 1], mode="markers", name="centroids",
                             marker=dict(symbol="x", size=13, color=INK, line=dict(width=2, color=INK)),
                             hovertemplate="centroid %{pointNumber}<extra></extra>"))
    if f["in_plane"] > 1e-9:
        # A segment of the last eigenvector as long as the plot is wide, through the mean, then
        # projected: its shadow keeps the share of the length that lies in the plane.
        half = np.abs(hi - lo).max()
        line = np.outer([-half, half], f["direction"])
        fig.add_trace(go.Scatter(x=line[:, 0], y=line[:, 1], mode="lines", name="last eigenvector",
                                 line=dict(color=INK, width=3), meta=[f["in_plane"]],
                                 hovertemplate="last eigenvector: %{meta[0]:.0%} of its length "
                                               "lies in this plane<extra></extra>"))
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=10, b=10),
                      # constrain: equal scales shrink the plot, not widen the range past
                      # the regions drawn (which would leave bare margins beside them)
                      xaxis=dict(title=dict(text=names[0]), range=[lo[0], hi[0]],
                                 constrain="domain"),
                      yaxis=dict(title=dict(text=names[1]), range=[lo[1], hi[1]], scaleanchor="x"),
                      legend=dict(itemsizing="constant"))
    return fig


def fig1_words(facts: dict, colour: str, plane: str) -> tuple[str, str, str]:
    """Title, caption and text of the Fig. 1 panel: exact regions for a 1-d or 2-d embedding,
    an approximation with its measured error otherwise."""
    d, n = facts["d"], len(facts["drawn"])
    agree = int(round((1 - facts["mismatch"]) * n))
    share = f"{100 * facts['in_plane']:.0f} %"
    if facts["exact"]:
        title = "Fig. 1: embedding, k-means regions and the last eigenvector"
        caption = (f"Exact: the embedding has {d} dimension{'s' if d > 1 else ''}, so the "
                   f"regions are k-means' own; {agree} of {n} points lie in the region of "
                   "their cluster.")
        body = FIG1_EXACT.format(d=d, s="s" if d > 1 else "")
    else:
        title = "Fig. 1: embedding, approximate k-means regions and the last eigenvector"
        caption = (f"An approximation: {100 * facts['mismatch']:.0f} % of the points ({n - agree} "
                   f"of {n}) lie in a region coloured for another cluster than their own, which "
                   f"k-means chose in all {d} dimensions. {share} of the last eigenvector's "
                   "length lies in this plane; the line is drawn that long.")
        body = FIG1_APPROX.format(d=d, plane=PLANE_WORDS.get(plane, plane))
    return title, caption, FIG1_HEAD.format(colour=colour) + body + FIG1_TAIL


def spectrum_figure(eigs: np.ndarray, current: int | None) -> go.Figure:
    """eigs: (iterations, d) eigenvalues per re-clustering."""
    fig = go.Figure()
    d = eigs.shape[1]
    for j in range(d):
        # one iteration so far (the first k-means, live or in a replay): a line of one point
        # draws nothing, a marker does
        fig.add_trace(go.Scatter(x=np.arange(len(eigs)), y=eigs[:, j],
                                 mode="lines" if len(eigs) > 1 else "markers",
                                 name=f"λ{j + 1}" + (" (last)" if j == d - 1 else ""),
                                 line=dict(width=3 if j == d - 1 else 1.2,
                                           color=INK if j == d - 1 else None)))
    if current is not None:
        fig.add_vline(x=current, line=dict(color=MUTED, dash="dot"))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=10, b=10), yaxis_type="log",
                      xaxis_title="re-clustering iteration", yaxis_title="eigenvalue of S_w")
    return fig


def y_coordinates_figure(Y: np.ndarray, assign: np.ndarray, seed: int = 0) -> go.Figure:
    rng = np.random.default_rng(seed)
    n, d = Y.shape
    fig = go.Figure()
    jitter = rng.uniform(-0.3, 0.3, size=n)
    for c in np.unique(assign):
        rows = np.flatnonzero(assign == c)
        xs = (np.arange(d)[None, :] + jitter[rows, None]).ravel()
        fig.add_trace(go.Scatter(x=xs, y=Y[rows].ravel(), mode="markers", name=f"cluster {c}",
                                 marker=dict(size=3, color=color_of(int(c)), opacity=0.6),
                                 hoverinfo="skip"))
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text="coordinate of Y = V·h (ascending eigenvalue)"),
                                 tickvals=list(range(d)), ticktext=[f"y{j + 1}" for j in range(d)]),
                      yaxis_title="value", legend=dict(itemsizing="constant"))
    return fig


LIVE = "Eigenvalue spectrum of S_w per iteration"

#: States in which a run's pretraining may still go on to k-means.
_GOING = ("queued", "running", "paused", "interrupted")


def _no_clustering_text(run) -> str:
    """Why there is no spectrum: a run still pretraining will show one; a run that ended in its
    pretraining (stopped, failed) never will, and must not be said to be pretraining still."""
    state = (getattr(run, "status", None) or {}).get("state")
    if state is None or state in _GOING:
        return ("DEKM is still pretraining its autoencoder. The eigen-directions of S_w appear "
                "with the first k-means iteration.")
    return (f"This run ended ({state}) while DEKM was pretraining its autoencoder, before its "
            "first k-means iteration: it has no eigen-directions of S_w to show.")


def build(run, index: int, options: dict) -> list[Panel]:
    rows = run.rows()
    clustering = _clustering_indices(rows)
    if not clustering:
        return [Panel(LIVE, text=_no_clustering_text(run))]
    index = index if index >= 0 else len(rows) + index
    panels = []
    shown = index if index in clustering else (clustering[0] if index < clustering[0] else clustering[-1])
    note = "" if shown == index else f" (showing snapshot {shown}: this one is from pretraining)"
    snap = run.snapshot(shown)
    ex = DEKMExtras.from_snapshot(snap)
    labels = run.labels_sub
    by_truth = options.get("colour") == "true label" and labels is not None
    colour = labels if by_truth else snap.assign
    names = run.dataset.class_names if by_truth and run.dataset is not None else None
    plane = options.get("plane", "pca")
    facts = fig1_facts(snap.latent, snap.assign, ex.V, ex.centroids, plane)
    title, caption, text = fig1_words(facts, "true label" if by_truth else "cluster", plane)
    panels.append(Panel(
        title + note,
        figure=fig1_figure(snap.latent, snap.assign, ex.V, ex.centroids, colour, names,
                           plane=plane, color_title="true label" if by_truth else "cluster",
                           facts=facts),
        caption=caption, text=text, wide=True))
    eig_rows = [DEKMExtras.from_snapshot(run.snapshot(i)).eigenvalues for i in clustering]
    it = clustering.index(shown)
    panels.append(Panel(LIVE,
                        figure=spectrum_figure(np.stack(eig_rows), it), text=SPECTRUM_TEXT))
    panels.append(Panel("Y = V·h coordinates", figure=y_coordinates_figure(ex.Y, snap.assign),
                        text=Y_TEXT))
    churn = series([rows[i] for i in clustering], "metrics").get("changed")
    if churn is not None:
        panels.append(Panel(CHURN_TITLE, figure=churn_figure(churn, it),
                            text=CHURN_TEXT))
    return panels


def churn_figure(churn: np.ndarray, current: int | None = None) -> go.Figure:
    """% of points that changed cluster per re-clustering iteration, on a linear axis from 0 (a
    log axis hid the iterations where none changed). Iteration 0, the first k-means, has nothing
    to compare with: its value (none, or in runs recorded before the fix a placeholder 1.0) is
    left out."""
    churn = np.asarray(churn, dtype=np.float64)
    x = np.arange(1, len(churn))
    y = 100 * churn[1:]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers", name="changed",
                               hovertemplate="iteration %{x}: %{y:.3g} % changed<extra></extra>"))
    if current is not None:
        fig.add_vline(x=current, line=dict(color=MUTED, dash="dot"))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text="re-clustering iteration"),  # CHURN_TEXT says why 0 is empty
                                 range=[-0.5, max(len(churn) - 0.5, 1.5)]),
                      yaxis=dict(title=dict(text="% of points changed"), type="linear",
                                 rangemode="tozero"))
    return fig


LENS = Lens(
    method_ids=("dekm",), title="DEKM: eigen-directions of the within-class scatter", build=build,
    live_panel=LIVE,
    options=[
        Option("plane", "Plane", "select", ["pca", "eigen"], "pca",
               help="pca: the embedding's first two principal components; eigen: the first and last "
                    "eigen-coordinates y₁ and y_d (the last eigenvector lies wholly in this "
                    "plane). The paper's Fig. 1 needed neither: its embedding had 2 dimensions. "
                    "With more, both planes are projections and the regions drawn only "
                    "approximate."),
        Option("colour", "Colour points by", "select", ["true label", "cluster"], "true label",
               help="Fig. 1 colours points by their true label and the background by cluster."),
    ],
    intro="DEKM alternates k-means in the embedding with a greedy update along the eigen-direction "
          "of S_w that holds the least cluster structure.")
