"""A sweep's spread: a dot per seed beside each row of the papers' table.

One panel per score (ACC, NMI, ARI, ...), the table's rows as its rows, a dot per seed and a
bar at the median, so that "0.81 [0.62, 0.84]" shows whether one bad seed or a wide spread
makes the range. Each dot carries its run id as ``customdata``: a click on it (Streamlit's
``on_select``) names the run to open.
"""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dcviz.plaintext import for_plotly
from dcviz.runs.table import NAMES, Row
from dcviz.viz.style import finish

#: scores that end at 1 (ARI may go below 0): their axes stop at 1, where plotly's own range
#: for one value (seeds that all scored 1.0) ran from 0 to 2
UNIT_SCORES = ("acc", "nmi", "ari", "trust", "cont", "cra")


def seed_dots_figure(rows: Sequence[Row], columns: Sequence[str]) -> go.Figure:
    """Dots per seed for each row (y) and column (a panel each); customdata = run id."""
    columns = list(columns)
    fig = make_subplots(rows=1, cols=max(1, len(columns)), shared_yaxes=True,
                        horizontal_spacing=0.03,
                        subplot_titles=[NAMES.get(c, c) for c in columns] or [""])
    labels = [for_plotly(f"{r.label} · {r.data}") for r in rows]
    for col, column in enumerate(columns, start=1):
        xs, ys, ids, hover = [], [], [], []
        for r, label in zip(rows, labels):
            for seed, run_id, v in zip(r.seeds, r.run_ids, r.values.get(column, [])):
                if v is None:
                    continue
                xs.append(v)
                ys.append(label)
                ids.append(run_id)
                hover.append(f"{label}<br>seed {seed}: {NAMES.get(column, column)} {v:.3f}"
                             f"<br>run {for_plotly(run_id)}<br>click to open it in Explore")
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", customdata=ids, hovertext=hover,
                                 hoverinfo="text", name=NAMES.get(column, column), showlegend=False,
                                 marker=dict(size=11, opacity=0.75, color="#1f77b4",
                                             line=dict(width=1, color="white"))), row=1, col=col)
        med_x, med_y = [], []
        for r, label in zip(rows, labels):
            stat = r.stat(column)
            if stat is not None:
                med_x.append(stat[0])
                med_y.append(label)
        fig.add_trace(go.Scatter(x=med_x, y=med_y, mode="markers", hoverinfo="skip",
                                 showlegend=False, name="median",
                                 marker=dict(symbol="line-ns-open", size=22, color="#d62728",
                                             line=dict(width=3))), row=1, col=col)
        if column in UNIT_SCORES and xs:
            fig.update_xaxes(range=[min(0.0, min(xs)) - 0.05, 1.05], row=1, col=col)
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], type="category")
    fig.update_layout(height=max(220, 70 + 48 * len(rows)), margin=dict(l=10, r=10, t=40, b=30),
                      clickmode="event+select", dragmode=False)
    return finish(fig)


def run_from_selection(selection) -> str | None:
    """The run id of the dot a click selected (Streamlit's plotly selection), else None."""
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    for p in points or []:
        run_id = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(run_id, list):
            run_id = run_id[0] if run_id else None
        if isinstance(run_id, str) and run_id:
            return run_id
    return None
