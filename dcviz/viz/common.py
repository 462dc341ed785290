"""Views every run shares: the latent scatter, loss and metric curves, and the progress line.

Pure functions (no streamlit): rows of metrics.jsonl or arrays in, plotly figures or strings out.
The x axis of every curve is the snapshot index, the same number the Explore page's slider
moves, so a vertical marker shows where the slider is; hover tells the epoch and stage.

WebGL: a browser gives a page about 8 WebGL contexts. The latent scatter uses ``go.Scattergl``
only above :data:`WEBGL_ABOVE` points, and the pages draw it under a fixed key so that one chart
element (one context) is reused from snapshot to snapshot. Curves are always SVG.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dcviz import measures as MS
from dcviz.viz.style import INK, MUTED, PALETTE, finish

WEBGL_ABOVE = 1000

# PALETTE (dcviz.viz.style): D3's 10 colours first, then more for larger k, all readable in
# both themes.

SCORE_KEYS = MS.SCORE_KEYS
SCORES_TITLE = MS.SCORES_TITLE


def color_of(value: int) -> str:
    return PALETTE[int(value) % len(PALETTE)]


# --------------------------------------------------------------------------- latent scatter

def latent_figure(coords: np.ndarray, *, index: np.ndarray, color: np.ndarray | None = None,
                  color_title: str = "cluster", color_names: Sequence[str] | None = None,
                  extra_hover: dict[str, np.ndarray] | None = None,
                  axis_names: tuple[str, str] = ("PC 1", "PC 2"), title: str = "",
                  highlight: int | None = None, neighbors: Iterable[int] = (),
                  uirevision: str | None = None, height: int = 520,
                  equal_axes: bool = True, webgl: bool | None = None) -> go.Figure:
    """A 2-D scatter of a snapshot's points, one trace per colour value (so the legend toggles).

    coords      (n, 2) positions
    index       (n,) the sample index of each point (its row in the data set); it is the
                ``customdata`` of every point, so a click hands the page the sample index
    color       (n,) int values (cluster ids or true labels), or None for one colour
    color_names names of colour values (class names); values outside are shown as numbers
    highlight   position (row of coords) of a selected point, drawn as a thick grey ring
    neighbors   positions of its neighbours, drawn as thinner grey rings
    uirevision  keep the user's zoom and legend clicks while this string stays the same
    """
    coords = np.asarray(coords, dtype=np.float64)
    n = len(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be (n, 2), got {coords.shape}")
    index = np.asarray(index)
    if index.shape != (n,):
        raise ValueError(f"index must have shape ({n},), got {index.shape}")
    use_gl = n > WEBGL_ABOVE if webgl is None else webgl
    Trace = go.Scattergl if use_gl else go.Scatter
    size = 5 if n > 2000 else 6 if n > 500 else 8
    fig = go.Figure()

    groups: list[tuple[str, np.ndarray, str | None]] = []
    if color is None:
        groups.append(("points", np.arange(n), None))
    else:
        color = np.asarray(color)
        if color.shape != (n,):
            raise ValueError(f"color must have shape ({n},), got {color.shape}")
        for value in np.unique(color):
            v = int(value)
            name = (color_names[v] if color_names is not None and 0 <= v < len(color_names)
                    else str(v))
            groups.append((name, np.flatnonzero(color == value), color_of(v)))

    extra_hover = extra_hover or {}
    for name, rows, col in groups:
        # customdata stays numeric (column 0 is the sample index a click hands back); text
        # values (class names) go to the hover text instead.
        hover_lines = ["sample %{customdata[0]}"]
        custom = [index[rows]]
        texts = []
        if color is not None:
            hover_lines.append(f"{color_title}: {name}")
        for label, values in extra_hover.items():
            v = np.asarray(values)[rows]
            if v.dtype.kind in "iufb":
                custom.append(v)
                hover_lines.append(f"{label}: %{{customdata[{len(custom) - 1}]}}")
            else:
                texts.append([f"{label}: {t}" for t in v])
        text = ["<br>".join(parts) for parts in zip(*texts)] if texts else None
        if text is not None:
            hover_lines.append("%{text}")
        fig.add_trace(Trace(
            x=coords[rows, 0], y=coords[rows, 1], mode="markers", name=name,
            # Plain lists: plotly would send a numpy array as a typed binary array, which
            # comes back from a click in a form the page cannot read.
            customdata=np.column_stack(custom).tolist(), text=text,
            marker=dict(size=size, color=col, opacity=0.8, line=dict(width=0)),
            hovertemplate="<br>".join(hover_lines) + "<extra></extra>"))

    if highlight is not None and 0 <= int(highlight) < n:
        nb = [int(i) for i in neighbors if 0 <= int(i) < n]
        if nb:
            fig.add_trace(go.Scatter(
                x=coords[nb, 0], y=coords[nb, 1], mode="markers", name="neighbours",
                customdata=index[nb][:, None].tolist(), hovertemplate="neighbour of the selected point<br>"
                "sample %{customdata[0]}<extra></extra>",
                marker=dict(size=size + 8, color="rgba(0,0,0,0)", line=dict(width=1.5, color=INK))))
        h = int(highlight)
        fig.add_trace(go.Scatter(
            x=[coords[h, 0]], y=[coords[h, 1]], mode="markers", name="selected",
            customdata=[[int(index[h])]], hovertemplate="selected: sample %{customdata[0]}<extra></extra>",
            marker=dict(size=size + 12, color="rgba(0,0,0,0)", line=dict(width=3, color=INK))))

    fig.update_layout(
        title=dict(text=title) if title else None, height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        legend=dict(title=dict(text=color_title if color is not None else ""), itemsizing="constant"),
        xaxis=dict(title=dict(text=axis_names[0]), zeroline=False),
        yaxis=dict(title=dict(text=axis_names[1]), zeroline=False),
        uirevision=uirevision, clickmode="event+select", dragmode="zoom",
    )
    if equal_axes:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return finish(fig)


def empty_figure(text: str, height: int = 460) -> go.Figure:
    """Blank axes with a message: a placeholder that keeps the page's layout (and loads the
    plotting code in the browser) until the first snapshot arrives."""
    fig = go.Figure()
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text=text, showarrow=False, xref="paper", yref="paper",
                                        x=0.5, y=0.5, font=dict(size=14, color="#888"))])
    return fig


# --------------------------------------------------------------------------- curves

def series(rows: Sequence[dict], field: str) -> dict[str, np.ndarray]:
    """{name: values over snapshots} of ``field`` ("losses", "metrics" or "scalars"); NaN where a
    snapshot lacks the name (losses of one stage only, for example)."""
    names: list[str] = []
    for r in rows:
        for k, v in (r.get(field) or {}).items():
            if k not in names and isinstance(v, (int, float)) and not isinstance(v, bool):
                names.append(k)
    out = {}
    for k in names:
        vals = []
        for r in rows:
            v = (r.get(field) or {}).get(k)
            vals.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan)
        out[k] = np.asarray(vals, dtype=np.float64)
    return out


def stage_boundaries(rows: Sequence[dict]) -> list[tuple[int, str]]:
    """(snapshot index, stage) where each stage begins, the first included."""
    out: list[tuple[int, str]] = []
    for i, r in enumerate(rows):
        stage = str(r.get("stage", ""))
        if not out or out[-1][1] != stage:
            out.append((i, stage))
    return out


_NUMBER = re.compile(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?")
STAGE_FONT_PX = 10
#: a label's width per character at STAGE_FONT_PX (the sans-serif of plotly and Streamlit
#: averages about 0.55 em; a little more, so that estimates err on the wide side)
CHAR_PX = 6.2
STAGE_ROW_PX = 15  # a second row of names sits clear of the first


def stage_spans(rows: Sequence[dict]) -> list[tuple[int, int, str]]:
    """(first snapshot, one past the last, label) of each stage, where consecutive stages that
    differ only in their numbers form one span: ACe/DeC's warm-up rounds ("round 1", "round
    2", ...) or the GAN's eta stairs would otherwise be a label per snapshot. The label of such
    a span gives the numbers' range: "init: warm-up of V and b, round 1–10"."""
    bounds = stage_boundaries(rows)
    spans: list[list] = []  # [start, end, family, first name, last name]
    for b, (start, name) in enumerate(bounds):
        end = bounds[b + 1][0] if b + 1 < len(bounds) else len(rows)
        family = _NUMBER.sub("#", name)
        if spans and spans[-1][2] == family and _NUMBER.search(name):
            spans[-1][1], spans[-1][4] = end, name
        else:
            spans.append([start, end, family, name, name])
    out = []
    for start, end, _, first, last in spans:
        if first == last:
            out.append((start, end, first))
            continue
        a, b = _NUMBER.findall(first), _NUMBER.findall(last)
        parts = iter([x if x == y else f"{x}–{y}" for x, y in zip(a, b)])
        out.append((start, end, _NUMBER.sub(lambda _: next(parts), first)))
    return out


def short_stage(name: str) -> str:
    """A stage's label on a plot: DCRL's "stage 2: separation" is "stage 2" (the text says the
    rest)."""
    return name.split(":")[0] if re.match(r"stage \d+:", name) else name


#: shorter names for a stage whose whole name has no room (its band's line and the hover still
#: say the whole name)
STAGE_ABBREVIATIONS = {"random init": "init", "pretrain": "pretr.", "clustering": "clust.",
                       "initial nets": "init"}
#: labels are laid out as if ``SAFETY`` times as wide as estimated: a plot drawn somewhat
#: narrower than its caller assumed (Explore's two columns at 1024 px) still keeps them apart
SAFETY = 1.25


def stage_names(text: str) -> list[str]:
    """The whole label of a stage, then shorter forms of it, longest first: without its
    parenthesis ("warm-up (Eq. 5)" -> "warm-up"), before its colon ("init: warm-up of V and b,
    round 1–12" -> "init"), or a known abbreviation ("random init" -> "init")."""
    out = [text]
    bare = re.sub(r"\s*\([^)]*\)", "", text).strip()
    for short in (bare, bare.split(":")[0].strip(), STAGE_ABBREVIATIONS.get(bare, "")):
        if short and short not in out:
            out.append(short)
    return out


def label_width(text: str, font_px: int = STAGE_FONT_PX) -> float:
    """Estimated width in pixels of a one-line plot label."""
    return len(re.sub(r"<[^>]+>", "", text)) * CHAR_PX * font_px / STAGE_FONT_PX + 4


def stage_x_range(rows: Sequence[dict], current: int | None = None) -> tuple[float, float]:
    """The x range (snapshot indices) of a curves plot with stage labels: the figure pins its
    axis to it, so that the labels, laid out for this range, are where they were planned (with
    plotly's autorange a slider position past the last row, or a padded range, squeezed them
    onto one another)."""
    hi = max(len(rows) - 0.5, 0.5)
    if current is not None and current + 0.5 > hi:
        hi = current + 0.5
    return -0.5, float(hi)


def layout_stage_labels(spans: Sequence[tuple[int, int, str]], *, x_range: tuple[float, float],
                        width_px: float, max_rows: int = 2, safety: float = SAFETY
                        ) -> list[tuple[float, float, int, str]]:
    """Where each stage's label goes: ``(x from, x to, text row, text)`` in x units, for the
    spans ``(first snapshot, one past the last, label)`` of a plot ``width_px`` wide showing
    ``x_range``.

    Longer stages are placed first, so that a long stage is never the one left unnamed. Each
    label starts inside its own span: at the span's start if that is free, else as far left as
    it clears the labels already placed, in the first of ``max_rows`` text rows where it fits;
    where the whole name fits in no row, a shorter form of it (:func:`stage_names`) is tried.
    A label that fits nowhere is left out (its dashed boundary and the hover still tell the
    stage). Widths are estimated from the characters, times ``safety``, and two labels in a
    row keep 8 px between them: no two kept labels of one row overlap in x."""
    x_lo, x_hi = x_range
    per_px = (x_hi - x_lo) / max(width_px, 1.0)
    gap = 8 * per_px
    taken: list[list[tuple[float, float]]] = [[] for _ in range(max_rows)]
    out = []

    def place(start: float, end: float, w: float, r: int) -> float | None:
        x0 = max(start - 0.5, x_lo)
        for lo, hi in sorted(taken[r]):  # slide right past the labels in the way
            if x0 < hi + gap and lo < x0 + w + gap:
                x0 = hi + gap
        if x0 + w > x_hi:  # too near the right edge: end the label at the edge instead
            x0 = x_hi - w
        if x0 > end - 0.5 or x0 < x_lo or any(x0 < hi + gap and lo < x0 + w + gap
                                               for lo, hi in taken[r]):
            return None  # it would start past its own span, or collide
        return x0

    for start, end, text in sorted(spans, key=lambda sp: (sp[0] - sp[1], sp[0])):
        for name in stage_names(text):
            w = label_width(name) * safety * per_px
            spot = next(((r, x0) for r in range(max_rows)
                         if (x0 := place(start, end, w, r)) is not None), None)
            if spot is not None:
                r, x0 = spot
                taken[r].append((x0, x0 + w))
                out.append((x0, x0 + w, r, name))
                break
    return sorted(out)


def stage_annotations(rows: Sequence[dict], *, xref: str = "x", yref: str = "y domain",
                      width_px: float = 560, max_rows: int = 2, color: str = MUTED,
                      x_range: tuple[float, float] | None = None) -> list[dict]:
    """Stage names inside the top of a plot, laid out so that no two overlap
    (:func:`layout_stage_labels`). ``width_px`` is the plot's assumed width and ``x_range``
    its x axis's (default :func:`stage_x_range`), which turn text length into x units: a
    figure with these labels should pin its x axis to that range."""
    spans = [(start, end, short_stage(name)) for start, end, name in stage_spans(rows)]
    spans = [sp for sp in spans if sp[2]]
    if not spans:
        return []
    placed = layout_stage_labels(spans, x_range=x_range or stage_x_range(rows),
                                 width_px=width_px, max_rows=max_rows)
    return [dict(x=x0, y=1.0, xref=xref, yref=yref, text=text, showarrow=False,
                 xanchor="left", yanchor="top", yshift=-STAGE_ROW_PX * r,
                 font=dict(size=STAGE_FONT_PX, color=color))
            for x0, _, r, text in placed]


def _hover_text(rows: Sequence[dict]) -> list[str]:
    return [f"snapshot {i} · epoch {r.get('epoch', '?')} · {r.get('stage', '')}"
            for i, r in enumerate(rows)]


def curves_figure(rows: Sequence[dict], groups: list[tuple[str, dict[str, np.ndarray]]], *,
                  current: int | None = None, markers: Sequence[tuple[int, str]] | None = None,
                  height_per_row: int = 200, ncols: int = 2, title: str = "",
                  y_range: dict[str, tuple[float, float]] | None = None,
                  plot_px: float = 300) -> go.Figure:
    """Small multiples: one subplot per group ``(subplot title, {line name: values})``.

    current   snapshot index to mark with a solid vertical line (the slider's position)
    markers   (snapshot index, label) pairs drawn as dashed lines: the stage boundaries; with
              them, the stage names of ``rows`` (:func:`stage_annotations`) go inside the
              first subplot
    plot_px   a subplot's width in pixels, for laying out the stage names; the default lies
              between a subplot of two columns on a 1280-px screen (~330) and on a 1024-px one
              (~240), which the layout's margin (SAFETY) covers (too wide a guess lets names
              overlap, too narrow one only shortens or leaves out a short stage's name)

    Every subplot's x axis is pinned to :func:`stage_x_range`, the range the names are laid
    out for.
    """
    groups = [(t, s) for t, s in groups if s]
    if not groups:
        fig = go.Figure()
        fig.update_layout(height=120, margin=dict(l=10, r=10, t=30, b=10),
                          annotations=[dict(text="nothing recorded yet", showarrow=False,
                                            xref="paper", yref="paper", x=0.5, y=0.5)])
        return fig
    ncols = max(1, min(ncols, len(groups)))
    nrows = math.ceil(len(groups) / ncols)
    color_cycle = PALETTE
    # A subplot of several lines names them in its own title, each in its colour: a legend
    # under the figure sat beneath whichever subplot came last, not the one it keyed.
    fig = make_subplots(rows=nrows, cols=ncols,
                        subplot_titles=[keyed_title(t, list(s), color_cycle) for t, s in groups],
                        shared_xaxes=False, vertical_spacing=min(0.2, 0.5 / nrows),
                        horizontal_spacing=0.08)
    x = np.arange(len(rows))
    hover = _hover_text(rows)
    shapes: list[dict] = []
    for gi, (gtitle, lines) in enumerate(groups):
        r, c = gi // ncols + 1, gi % ncols + 1
        for li, (name, values) in enumerate(lines.items()):
            fig.add_trace(go.Scatter(
                x=x, y=values, mode="lines+markers" if len(rows) < 60 else "lines", name=name,
                legendgroup=name, showlegend=False, text=hover,
                line=dict(color=color_cycle[li % len(color_cycle)], width=2),
                marker=dict(size=4),
                hovertemplate=f"{name}: %{{y:.4g}}<br>%{{text}}<extra></extra>"), row=r, col=c)
        if y_range and gtitle in y_range:
            fig.update_yaxes(range=list(y_range[gtitle]), row=r, col=c)
        # Stage boundaries (dashed) and the snapshot shown (solid) as plain shape dicts, added
        # in one call below: plotly's add_vline per subplot costs ~60 ms each, and the tab
        # redraws on every move of the slider.
        lines_at = [(idx - 0.5, dict(color=MUTED, dash="dash", width=1))
                    for idx, _ in (markers or []) if idx > 0]
        if current is not None:
            lines_at.append((current, dict(color=INK, width=1.5)))
        shapes += vline_shapes(fig, lines_at, row=r, col=c)
    fig.update_layout(shapes=shapes)
    # Stage names once, inside the top of the first subplot, never on top of each other.
    if markers:
        fig.update_layout(annotations=[*fig.layout.annotations,
                                       *stage_annotations(rows, width_px=plot_px,
                                                          x_range=stage_x_range(rows, current))])
    fig.update_xaxes(range=list(stage_x_range(rows, current)), autorange=False)
    fig.update_xaxes(title_text="snapshot", row=nrows)
    if len(rows) <= 10:
        fig.update_xaxes(tick0=0, dtick=1)  # whole snapshots only
    fig.update_layout(height=max(220, height_per_row * nrows + 60),
                      margin=dict(l=10, r=10, t=50 if title else 30, b=10),
                      title=dict(text=title) if title else None,
                      legend=dict(orientation="h", y=-0.15 if nrows == 1 else -0.08),
                      hovermode="closest")
    return finish(fig)


def keyed_title(title: str, names: Sequence[str], colors: Sequence[str] = PALETTE) -> str:
    """A subplot's title that keys its lines: "title: ACC · NMI · ARI", each name in its
    line's colour (``colors[i]`` for the i-th); a subplot of one line keeps its title."""
    if len(names) < 2:
        return title
    key = " · ".join(f'<span style="color:{colors[i % len(colors)]}">{n}</span>'
                     for i, n in enumerate(names))
    return f"{title}: {key}" if title else key


def vline_shapes(fig: go.Figure, lines: Sequence[tuple[float, dict]], row: int | None = None,
                 col: int | None = None) -> list[dict]:
    """Vertical lines ``(x, line style)`` across one subplot (or a plain figure's plot), as shape
    dicts to add in one ``update_layout(shapes=...)``: plotly's ``add_vline`` validates the whole
    layout on every call, ~60 ms each in a figure of ten subplots, and views with a slider redraw
    their figures on every move."""
    xref, yref = "x", "y domain"
    if row is not None:
        sub = fig.get_subplot(row, col)
        xref = sub.xaxis.plotly_name.replace("axis", "")
        yref = sub.yaxis.plotly_name.replace("axis", "") + " domain"
    return [dict(type="line", xref=xref, yref=yref, x0=x, x1=x, y0=0, y1=1, line=line)
            for x, line in lines]


def loss_figure(rows: Sequence[dict], *, current: int | None = None, stages: bool = True,
                ncols: int = 2, plot_px: float = 300) -> go.Figure:
    """Each loss term in its own subplot (terms differ by orders of magnitude)."""
    losses = series(rows, "losses")
    groups = [(MS.loss_title(k), {MS.loss_title(k): values}) for k, values in losses.items()]
    return curves_figure(rows, groups, current=current,
                         markers=stage_boundaries(rows) if stages else None, ncols=ncols,
                         plot_px=plot_px)


def measure_groups(rows: Sequence[dict], include_scalars: bool = True
                   ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The curves of :func:`metric_figure`, as ``(subplot title, {line: values})``: ACC, NMI
    and ARI together, then every other metric, then each scalar extra (a schedule weight, a
    count), one subplot each, titled and scaled as :mod:`dcviz.measures` says (a share in
    percent). Left out: counters (where a snapshot is, not a measure: its label says it) and a
    scalar that repeats a metric of the same name. A run's first share of changed points, where
    runs recorded before the fix wrote a placeholder 1.0, is not drawn."""
    rows = MS.without_placeholders(rows)
    metrics = series(rows, "metrics")
    scores = {MS.title(k): metrics.pop(k) for k in SCORE_KEYS if k in metrics}
    groups: list[tuple[str, dict[str, np.ndarray]]] = []
    if scores:
        groups.append((SCORES_TITLE, scores))
    named = dict(metrics)
    if include_scalars:
        named.update({k: v for k, v in series(rows, "scalars").items() if k not in metrics})
    for key, values in named.items():
        if MS.is_curve(key):
            groups.append((MS.title(key), {MS.title(key): MS.factor(key) * values}))
    return groups


def metric_figure(rows: Sequence[dict], *, current: int | None = None, stages: bool = True,
                  include_scalars: bool = True, ncols: int = 2) -> go.Figure:
    """ACC/NMI/ARI together on [0, 1]; every other metric (and scalar extra, e.g. a schedule
    weight) in its own subplot (:func:`measure_groups`)."""
    groups = measure_groups(rows, include_scalars)
    y_range = {SCORES_TITLE: (-0.05, 1.05)} if groups and groups[0][0] == SCORES_TITLE else None
    return curves_figure(rows, groups, current=current,
                         markers=stage_boundaries(rows) if stages else None, ncols=ncols,
                         y_range=y_range)


def snapshot_table(rows: Sequence[dict], index: int, assign=None) -> list[dict]:
    """The "This snapshot" table of snapshot ``index`` of a run's metrics.jsonl ``rows``: its
    losses, its metrics and its numeric scalar extras, each once, named and scaled as the curves
    are (:mod:`dcviz.measures`); internal extras (the method axes' names) and counters (which
    the snapshot's label gives) are left out, and so is a scalar that repeats a metric. With
    ``assign``: the cluster sizes of the followed points."""
    rows = MS.without_placeholders(rows)
    row = rows[index] if -len(rows) <= index < len(rows) else {}
    metrics = row.get("metrics") or {}
    table = [{"kind": "loss", "name": MS.loss_title(k), "value": format_number(v)}
             for k, v in (row.get("losses") or {}).items()]
    table += [{"kind": "metric", "name": MS.title(k), "value": format_number(MS.shown(k, v))}
              for k, v in metrics.items()]
    table += [{"kind": "extra", "name": MS.title(k), "value": format_number(MS.shown(k, v))}
              for k, v in (row.get("scalars") or {}).items()
              if MS.is_curve(k) and k not in metrics and isinstance(v, (int, float))
              and not isinstance(v, bool)]
    if assign is not None:
        sizes = np.bincount(np.asarray(assign, dtype=np.int64))
        table.append({"kind": "clusters", "name": "sizes (followed points)",
                      "value": ", ".join(str(int(s)) for s in sizes)})
    return table


# --------------------------------------------------------------------------- text

def format_number(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    v = float(v)
    if math.isnan(v):
        return "–"
    if v != 0 and (abs(v) >= 1e4 or abs(v) < 1e-3):
        return f"{v:.3e}"
    return f"{v:.4g}"


def progress_text(state: str, row: dict | None = None, count: int = 0,
                  progress: float | None = None) -> str:
    """One status line, e.g. "running · stage 2: separation · epoch 12 · 13 snapshots · 45% ·
    NMI 0.81"."""
    parts = [state]
    if row:
        if row.get("stage"):
            parts.append(str(row["stage"]))
        if row.get("epoch") is not None:
            parts.append(f"epoch {row['epoch']}")
    parts.append(f"{count} snapshot{'s' if count != 1 else ''}")
    if progress is not None and state not in ("done",):
        parts.append(f"{100 * float(progress):.0f}%")
    metrics = (row or {}).get("metrics") or {}
    for k in SCORE_KEYS:
        if k in metrics:
            parts.append(f"{k.upper()} {float(metrics[k]):.3f}")
    return " · ".join(parts)
