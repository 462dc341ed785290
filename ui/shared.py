"""What one server process shares between its sessions: the run manager of the run store, the
projection cache, the UMAP worker and the opened runs. Each is created once (st.cache_resource).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from dcviz.projection import ProjectionCache, UmapWorker
from dcviz.runs import RunManager, RunStoreError
from dcviz.runs.view import RunView


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


def run_configs(rows: list[dict]) -> dict[str, dict]:
    """The configs of the listed runs that are not damaged, by run id: what a picker over all
    runs needs. Opening a RunView of each would check every snapshot of every run (seconds for
    a store of hundreds of runs); the listing's light check is enough to offer a run, and the
    run chosen is opened (and checked) by :func:`run_view`."""
    out = {}
    for row in rows:
        if row.get("state") == "damaged":
            continue
        try:
            out[row["run_id"]] = manager().open(row["run_id"]).read_config()
        except (RunStoreError, OSError):
            continue
    return out


def forget_view(run_id: str) -> None:
    cache = _views(runs_root())
    with cache.lock:
        cache.views.pop(run_id, None)


def rerun_if_gone(*views) -> None:
    """In a fragment's redraw: if a run shown was deleted under the page (another tab, the CLI),
    redraw the whole page, whose run picker says so and shows another run. A fragment alone would
    draw the deleted run from the cache, as a run in an unknown state."""
    if any(v is not None and not v.rd.path.is_dir() for v in views):
        st.rerun(scope="app")


def cli_command(args: str) -> str:
    """A complete ``python -m dcviz`` command line (``args`` after ``dcviz``) that acts on what
    this app shows: run from the app's code folder with the app's Python, into the app's runs
    folder (``--runs-dir``), with the app's pretrained-AE and data folders where they are set."""
    import shlex
    import sys

    import dcviz
    code = Path(dcviz.__file__).resolve().parent.parent
    env = "".join(f"{name}={shlex.quote(os.environ[name])} "
                  for name in ("DCVIZ_CACHE_DIR", "DCVIZ_DATA_DIR") if os.environ.get(name))
    # the runs folder on a line of its own (a shell line continuation): wrapped on the page,
    # "--runs-dir" was cut after its dashes
    return (f"cd {shlex.quote(str(code))} && {env}{shlex.quote(sys.executable)} -m dcviz "
            f"{args} \\\n    --runs-dir {shlex.quote(runs_root())}")


def aligned_pca(view, index: int):
    """A run's snapshot ``index`` in its aligned PCA (turned to match the snapshot before)."""
    return projections().aligned_pca((runs_root(), view.run_id), index,
                                     view.latent)


@st.cache_data(show_spinner=False)
def data_preview_figure(name: str):
    """The raw data of a built-in set, PCA to 2-D and coloured by class: what a run starts from,
    with a legend that says which colour is which class (the Home page says "one colour per
    digit")."""
    from dcviz import data as D
    from dcviz.projection import pca_2d
    from dcviz.viz.common import latent_figure

    ds = D.load(name)
    fig = latent_figure(pca_2d(ds.x), index=np.arange(ds.n), color=ds.y,
                        color_names=ds.class_names, color_title="digit",
                        axis_names=("PC 1 of the pixels", "PC 2 of the pixels"), height=330)
    # a narrow column: the legend's ten entries stacked tight at the plot's right
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10), showlegend=True,
                      legend=dict(title=dict(text="digit" if name == "digits" else "class"),
                                  itemsizing="constant", tracegroupgap=0, font=dict(size=11),
                                  itemwidth=30))
    return fig
