"""A lens on a page: its options as widgets, its panels as charts, pictures and tables.

One broken view never takes a page down: it becomes a warning, and the page goes on.
"""
from __future__ import annotations

import logging

import numpy as np
import streamlit as st

from dcviz.forms import lens_option_fields
from dcviz.images import upscale
from dcviz.plaintext import error_text, md
from dcviz.runs.labels import run_label
from ui.fields import field_columns

LOG = logging.getLogger("dcviz.app")


def lens_options(lens, key_prefix: str, runs: list[dict] | None = None, where=None,
                 view=None) -> dict:
    """Draw a lens's Options as widgets and return their values (``runs``: what a "run"
    option offers; ``view``: the run shown, which leaves out the options it has no use for)."""
    options = [o for o in lens.options if view is None or _shown(o, view)]
    fs = lens_option_fields(options, runs or [], run_label)
    return field_columns(fs, lambda f: f"{key_prefix}:{f.name}", where=where)


def _shown(option, view) -> bool:
    """Whether ``option`` is drawn for ``view``; when its test fails (a damaged run), it is."""
    if option.shown is None:
        return True
    try:
        return bool(option.shown(view))
    except Exception:  # noqa: BLE001 - a control too many is better than a page that fails
        LOG.exception("option %s's test failed on %s", option.name, view.run_id)
        return True


def build_panels(lens, view, index: int, options: dict | None = None, where=None):
    """lens.panels(...) with errors turned into a warning (the page keeps working)."""
    try:
        return lens.panels(view, index, options or {})
    except Exception as e:  # noqa: BLE001 - one broken view must not take the page down
        LOG.exception("lens %s failed on %s snapshot %s", lens.title, view.run_id, index)
        (where or st).warning(f"The {lens.title} view could not be drawn for this snapshot: "
                              f"{md(error_text(e))}")
        return []


def live_panel(lens, view, index: int):
    """The lens's live panel (the one it names) for snapshot ``index``, or None with a warning
    when it cannot be drawn."""
    panels = build_panels(lens, view, index)
    if not panels:
        return None
    try:
        return lens.live(panels)
    except Exception as e:  # noqa: BLE001 - a lens that lost its live panel: say so, go on
        LOG.exception("lens %s has no live panel", lens.title)
        st.warning(f"The {lens.title} live view is missing: {md(error_text(e))}")
        return None


def render_panel(panel, key: str, where=None) -> None:
    """One Panel: figure -> plotly chart, image -> picture, table -> data frame; then its text."""
    w = where or st
    try:
        _render_panel(panel, key, w)
    except Exception as e:  # noqa: BLE001 - one broken view must not take the page down
        LOG.exception("panel %r failed", getattr(panel, "title", "?"))
        w.warning(f"The view “{getattr(panel, 'title', '?')}” could not be drawn: "
                  f"{md(error_text(e))}")


def _render_panel(panel, key: str, w) -> None:
    if panel.title:
        w.markdown(f"**{panel.title}**")
    if panel.figure is not None:
        w.plotly_chart(panel.figure, key=key, config={"displaylogo": False})
    elif panel.image is not None:
        img = np.asarray(panel.image, dtype=np.float32)
        if max(img.shape[:2]) < 360:
            img = upscale(img, 360)
        w.image(np.clip(img, 0, 1), caption=panel.caption or None, clamp=True)
    elif panel.table is not None:
        w.dataframe(panel.table, hide_index=True)
    if panel.caption and panel.image is None:
        w.caption(panel.caption)
    if panel.text:
        w.caption(panel.text)


def render_panels(panels, key_prefix: str, where=None) -> None:
    """Panels two per row; a panel marked ``wide`` takes a whole row."""
    w = where or st
    row: list = []

    def flush():
        for col, (i, p) in zip(w.columns(2) if row else [], row):
            render_panel(p, f"{key_prefix}:{i}", where=col)
        row.clear()

    for i, p in enumerate(panels):
        if getattr(p, "wide", False):
            flush()
            render_panel(p, f"{key_prefix}:{i}", where=w)
        else:
            row.append((i, p))
            if len(row) == 2:
                flush()
    flush()
