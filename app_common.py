"""Streamlit helpers shared by the pages: the per-process run manager and caches, launching,
switching pages, remembering form values, and drawing a lens's panels and options.

The engine (dcviz/) never imports streamlit; this module is the thin layer between the two.
Everything that can be decided without a browser lives in :mod:`dcviz.appstate`.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from dcviz import appstate as A
from dcviz.projection import ProjectionCache, UmapWorker
from dcviz.runs import RunManager, RunStoreError
from dcviz.runs.view import RunView

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "assets"
LOG = logging.getLogger("dcviz.app")

#: Page files, relative to app.py. Optional pages are registered only when their file exists.
PAGES = {"home": "pages/home.py", "train": "pages/train.py", "explore": "pages/explore.py",
         "compare": "pages/compare.py", "checkpoints": "pages/checkpoints.py"}


# --------------------------------------------------------------------------- entering through app.py

_local = threading.local()


class through_app:
    """app.py runs the chosen page inside this, so a page knows it was reached through app.py."""

    def __enter__(self):
        _local.via_app = True

    def __exit__(self, *exc):
        _local.via_app = False


def require_app(page: str) -> None:
    """Every page calls this first.

    Until some session has run app.py (and its st.navigation), a server started next to a
    pages/ folder runs a page file on its own when a link points straight at it (Streamlit's
    old multipage mode): no page config, a raw file list as navigation. Go through app.py
    instead; it sends the browser on to the same page with the same query."""
    if getattr(_local, "via_app", False):
        return
    from streamlit import config
    if config.get_option("global.appTest"):
        # AppTest re-enters that old mode on every run; its pages work as they are.
        return
    st.session_state["_deep_link"] = (PAGES[page], {k: st.query_params[k] for k in st.query_params})
    st.switch_page("app.py")


def follow_deep_link() -> None:
    """Called by app.py once its pages are registered (see :func:`require_app`)."""
    link = st.session_state.pop("_deep_link", None)
    if link:
        st.switch_page(link[0], query_params=link[1] or None)


# --------------------------------------------------------------------------- per-process state

def runs_root() -> str:
    """The run store: DCVIZ_RUNS_DIR, else ./runs (absolute, so the cache key is stable)."""
    return str(Path(os.environ.get("DCVIZ_RUNS_DIR") or "runs").expanduser().resolve())


#: Every RunManager this process made (tests stop their runs at teardown).
MANAGERS: list[RunManager] = []


@st.cache_resource(show_spinner=False)
def _manager(root: str) -> RunManager:
    m = RunManager(root)
    MANAGERS.append(m)
    return m


def manager() -> RunManager:
    """The RunManager of this process for the current run store (one per root)."""
    return _manager(runs_root())


@st.cache_data(show_spinner=False)
def data_preview_figure(name: str):
    """The raw data of a built-in set, PCA to 2-D and coloured by class: what a run starts from."""
    from dcviz import data as D
    from dcviz.projection import pca_2d
    from dcviz.viz.common import latent_figure

    ds = D.load(name)
    fig = latent_figure(pca_2d(ds.x), index=np.arange(ds.n), color=ds.y,
                        color_names=ds.class_names, color_title="digit",
                        axis_names=("PC 1 of the pixels", "PC 2 of the pixels"), height=330)
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
    return fig


@st.cache_resource(show_spinner=False)
def projections() -> ProjectionCache:
    return ProjectionCache()


@st.cache_resource(show_spinner=False)
def umap_worker() -> UmapWorker:
    return UmapWorker()


class _Views:
    def __init__(self):
        self.lock = threading.Lock()
        self.views: dict[str, RunView] = {}


@st.cache_resource(show_spinner=False)
def _views(root: str) -> _Views:
    return _Views()


def run_view(run_id: str) -> RunView | None:
    """A cached RunView of a run of the current store, or None when it cannot be opened."""
    cache = _views(runs_root())
    with cache.lock:
        v = cache.views.get(run_id)
        if v is None:
            try:
                v = RunView(manager().open(run_id))
            except (RunStoreError, OSError, KeyError, ValueError):
                return None
            cache.views[run_id] = v
        return v


def forget_view(run_id: str) -> None:
    cache = _views(runs_root())
    with cache.lock:
        cache.views.pop(run_id, None)


def registered_methods() -> list[dict]:
    from dcviz.methods import list_methods
    return list_methods()


# --------------------------------------------------------------------------- launching

def launch(method: str, data, config: dict | None = None, preset: str = "quick",
           where=None) -> str | None:
    """Validate and start a run; on bad input show st.error (in ``where``) and return None."""
    from dcviz.data import DataError
    from dcviz.methods import ConfigError
    try:
        return manager().launch(method, data, config or {}, preset)
    except (DataError, ConfigError, RunStoreError, ValueError, KeyError) as e:
        (where or st).error(f"Could not launch: {error_text(e)}")
    except Exception as e:  # noqa: BLE001 - the page must keep working
        LOG.exception("launch failed")
        (where or st).error(f"Could not launch {method} on {data}: {error_text(e)}")
    return None


def launch_suited(method: str, data: str, preset: str = "quick", where=None) -> str | None:
    """Launch ``method`` on a built-in data set with k set to the data's number of classes."""
    from dcviz import data as D
    config = {}
    try:
        k = A.guess_k(D.load(data))
    except Exception as e:  # noqa: BLE001 - reported the same way as a failed launch
        (where or st).error(f"Could not load {data}: {error_text(e)}")
        return None
    if k:
        config["n_clusters"] = k
    return launch(method, data, config, preset, where=where)


def error_text(e: BaseException) -> str:
    """A one-line message for people: the error's own text (KeyError's quotes removed)."""
    msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
    return msg or type(e).__name__


def watch_in_train(run_id: str) -> None:
    """Put a run in focus on the Train page and go there."""
    st.session_state["train_focus"] = run_id
    st.switch_page(PAGES["train"])


def open_in_explore(run_id: str) -> None:
    st.session_state["explore_run"] = run_id
    st.switch_page(PAGES["explore"], query_params={"run": run_id})


def default_run_button(key: str, where=None, label: str | None = None) -> None:
    """The big button: DEKM on digits (quick), then the Train page with that run in focus."""
    ids = [m["id"] for m in registered_methods()]
    run = A.default_run(ids)
    w = where or st
    if run is None:
        w.warning("No clustering method is installed, so no run can be launched.")
        return
    method, data, preset = run
    title = {"dekm": "DEKM", "ae-kmeans": "AE + k-means"}.get(method, method)
    text = label or f"▶  Watch {title} cluster handwritten digits"
    if w.button(text, key=key, type="primary",
                help=f"Launches {method} on the {data} data set with the {preset} preset "
                     "(about a minute on a laptop) and shows it learning on the Train page."):
        run_id = launch_suited(method, data, preset, where=w)
        if run_id:
            watch_in_train(run_id)


# --------------------------------------------------------------------------- remembering widgets

def restore(key: str) -> None:
    """Give a widget back the value it had when the user last left the page.

    Streamlit drops a widget's state when a run does not draw it (another page); the value is
    kept under ``_kept`` and put back before the widget is created again."""
    kept = st.session_state.setdefault("_kept", {})
    if key not in st.session_state and key in kept:
        st.session_state[key] = kept[key]


def remember(key: str, value) -> None:
    st.session_state.setdefault("_kept", {})[key] = value


# --------------------------------------------------------------------------- lenses

def render_lens_options(lens, key_prefix: str, runs: list[dict] | None = None,
                        where=None) -> dict:
    """Draw a lens's Options as widgets and return their values."""
    w = where or st
    values = {}
    opts = list(lens.options)
    cols = w.columns(min(3, len(opts))) if opts else []
    for i, o in enumerate(opts):
        w = cols[i % len(cols)]
        key = f"{key_prefix}:{o.name}"
        help_text = o.help or o.label
        restore(key)
        if o.kind == "toggle":
            v = w.toggle(o.label, value=bool(o.default), key=key, help=help_text)
        elif o.kind == "int":
            lo = o.min if o.min is not None else None
            hi = o.max if o.max is not None else None
            default = int(o.default if o.default is not None else (lo or 0))
            if lo is not None and hi is not None and lo < hi:
                v = w.slider(o.label, int(lo), int(hi), value=min(max(default, lo), hi), key=key,
                             help=help_text)
            else:
                v = w.number_input(o.label, value=default, step=1, key=key, help=help_text)
        elif o.kind == "run":
            choices = [None] + [r["run_id"] for r in (runs or [])]
            labels = {r["run_id"]: A.run_label(r) for r in (runs or [])}
            v = w.selectbox(o.label, choices, key=key, help=help_text,
                            format_func=lambda i: "(none)" if i is None else labels.get(i, i))
        else:
            choices = list(o.choices or [])
            if not choices:
                continue
            index = choices.index(o.default) if o.default in choices else 0
            v = w.selectbox(o.label, choices, index=index, key=key, help=help_text)
        remember(key, v)
        values[o.name] = v
    return values


def build_panels(lens, view, index: int, options: dict | None = None, where=None):
    """lens.panels(...) with errors turned into a warning (the page keeps working)."""
    try:
        return lens.panels(view, index, options or {})
    except Exception as e:  # noqa: BLE001 - one broken view must not take the page down
        LOG.exception("lens %s failed on %s snapshot %s", lens.title, view.run_id, index)
        (where or st).warning(f"The {lens.title} view could not be drawn for this snapshot: "
                              f"{error_text(e)}")
        return []


def render_panel(panel, key: str, where=None) -> None:
    """One Panel: figure -> plotly chart, image -> picture, table -> data frame; then its text.
    A panel that cannot be drawn becomes a warning; the page goes on."""
    w = where or st
    try:
        _render_panel(panel, key, w)
    except Exception as e:  # noqa: BLE001 - one broken view must not take the page down
        LOG.exception("panel %r failed", getattr(panel, "title", "?"))
        w.warning(f"The view “{getattr(panel, 'title', '?')}” could not be drawn: {error_text(e)}")


def _render_panel(panel, key: str, w) -> None:
    if panel.title:
        w.markdown(f"**{panel.title}**")
    if panel.figure is not None:
        w.plotly_chart(panel.figure, key=key, config={"displaylogo": False})
    elif panel.image is not None:
        img = np.asarray(panel.image, dtype=np.float32)
        if max(img.shape[:2]) < 360:
            img = A.upscale(img, 360)
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
    pending = []

    def flush():
        if not pending:
            return
        cols = w.columns(2)
        for col, (i, p) in zip(cols, pending):
            with col:
                render_panel(p, f"{key_prefix}:{i}")
        pending.clear()

    for i, p in enumerate(panels):
        if getattr(p, "wide", False):
            flush()
            render_panel(p, f"{key_prefix}:{i}", where=w)
        else:
            pending.append((i, p))
            if len(pending) == 2:
                flush()
    flush()


# --------------------------------------------------------------------------- look

def inject_css() -> None:
    css = ASSETS / "style.css"
    if css.exists():
        st.markdown(f"<style>{css.read_text()}</style>", unsafe_allow_html=True)


def picture(name: str) -> str | None:
    p = ASSETS / name
    return str(p) if p.exists() else None
