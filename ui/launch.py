"""Launching a run from a page, and the big default-run button of the empty pages."""
from __future__ import annotations

import logging
import os

import streamlit as st

from dcviz.plaintext import error_text, md
from dcviz.runs.labels import data_title
from ui import nav
from ui.shared import manager, runs_root

LOG = logging.getLogger("dcviz.app")


def launch(method: str, data, config: dict | None = None, preset: str = "quick",
           where=None, name: str = "") -> str | None:
    """Validate and start a run; on bad input show st.error (in ``where``) and return None."""
    from dcviz.data import DataError
    from dcviz.methods import ConfigError
    from dcviz.runs import RunStoreError
    try:
        return manager().launch(method, data, config or {}, preset, name=name)
    except (DataError, ConfigError, RunStoreError, ValueError, KeyError, OSError) as e:
        (where or st).error(f"Could not launch: {md(error_text(e))}")
    except Exception as e:  # noqa: BLE001 - the page must keep working
        LOG.exception("launch failed")
        (where or st).error(f"Could not launch {md(method)} on {md(data)}: {md(error_text(e))}")
    return None


def launch_suited(method: str, data: str, preset: str = "quick", where=None) -> str | None:
    """Launch ``method`` on a built-in data set with k set to the data's number of classes."""
    from dcviz import data as D
    from dcviz.forms import guess_k
    try:
        k = guess_k(D.load(data))
    except Exception as e:  # noqa: BLE001 - reported the same way as a failed launch
        (where or st).error(f"Could not load {md(data)}: {md(error_text(e))}")
        return None
    return launch(method, data, {"n_clusters": k} if k else {}, preset, where=where)


def try_it_button(cls, key: str, where=None, width="content") -> None:
    """A method's "Try it" button: launch it on the data set it names, and watch it train."""
    w = where or st
    title = data_title(cls.try_it)
    if w.button(f"Try it on {title}", key=key, width=width,
                help=f"Launch {cls.title} on {title}, the built-in data set closest to its "
                     f"paper's, with the quick preset{_time_in_brackets(cls.id, cls.try_it)}, "
                     "and watch it train."):
        run_id = launch_suited(cls.id, cls.try_it, "quick", where=w)
        if run_id:
            form_shows(cls.try_it, cls.id, "quick")
            nav.watch_in_train(run_id)


#: What Home says of the default run (DEKM, quick preset, on the digits; AE + k-means, the
#: fallback, is quicker) before one has finished on this machine. Measured from the command line
#: (python -m dcviz train --method dekm --data digits) with a cold pretrained-AE store on a
#: 2-core machine: 25 s niced ahead of the other load there (average 2-6), 430 s at normal
#: priority under it. The other quick presets on the digits, measured the same way, are in the
#: Train page's Preset help.
DEFAULT_RUN_TIME = "under a minute on an idle 2-core CPU, several times longer on a busy one"


def _time_in_brackets(method: str, data: str, preset: str = "quick", typical: str = "") -> str:
    took = expected_time(method, data, preset, typical)
    return f" ({took})" if took else ""


def expected_time(method: str, data: str, preset: str, typical: str = "") -> str:
    """How long a run of ``method`` on the built-in ``data`` with ``preset`` takes, for a
    sentence: what its earlier runs took on this machine (the run store's history, as the Train
    sidebar says), else ``typical`` (a static figure, or "")."""
    from dcviz.runs.eta import how_long
    root = runs_root()
    try:
        stamp = os.stat(root).st_mtime_ns  # a run added or removed: asked again at once
    except OSError:
        stamp = 0
    return how_long(_earlier(root, stamp, method, data, preset), typical)


@st.cache_data(ttl=5, show_spinner=False, max_entries=64)
def _earlier(root: str, stamp: int, method: str, data: str, preset: str):
    """eta.expected_from_store for one method, data and preset; kept a few seconds (Home asks
    for every card's and the big button's in one page run), or until the runs folder changes."""
    from dcviz.runs.eta import expected_from_store
    mgr = manager()
    try:
        return expected_from_store(mgr.runs(), mgr.open, method, data, preset)
    except Exception:  # noqa: BLE001 - a store that cannot be listed: the static figure
        LOG.debug("no run history", exc_info=True)
        return None


def default_run_button(key: str, where=None, label: str | None = None) -> None:
    """The big button: the default run (see dcviz.methods.default_run), then the Train page
    with that run in focus."""
    from dcviz.methods import default_run, get_method
    run = default_run()
    w = where or st
    if run is None:
        w.warning("No clustering method is installed, so no run can be launched.")
        return
    method, data, preset = run
    cls = get_method(method)
    what = "handwritten digits" if data == "digits" else data_title(data)
    text = label or f"▶  Watch {cls.estimator or cls.title} cluster {what}"
    if w.button(text, key=key, type="primary",
                help=f"Launches {cls.title} on {data_title(data)} with the {preset} preset"
                     + _time_in_brackets(method, data, preset, DEFAULT_RUN_TIME)
                     + " and shows it learning on the Train page."):
        run_id = launch_suited(method, data, preset, where=w)
        if run_id:
            form_shows(data, method, preset)
            nav.watch_in_train(run_id)


def form_shows(data: str, method: str | None = None, preset: str | None = None) -> None:
    """Set the Train sidebar's form to ``data`` (and ``method`` and ``preset`` where given): for a
    run launched from elsewhere (Home's buttons), so that the page shows it training beside a
    form for the same method and data, not beside the last choice made there; and for a method
    chosen there, which brings the data set of its paper."""
    from dcviz import forms as F
    state = st.session_state
    source = F.data_source(data)
    state["train_source"], state[f"train_data_{source}"] = source, data
    if method is not None:
        state["train_method"] = method
        if preset is not None:
            state[f"train_preset_{method}"] = preset


def compare_methods(methods: list[str], data, label: str, preset: str = "quick",
                    where=None) -> str | None:
    """Launch the methods on one data set over 3 seeds as a sweep through the run manager;
    returns the sweep id, or None after showing why it could not start."""
    from dcviz.runs.sweep import compare_methods as launch_sweep
    try:
        return launch_sweep(manager(), methods, data, label, preset).sweep_id
    except (ValueError, KeyError, OSError) as e:  # DataError, ConfigError, SweepError
        (where or st).error(f"Could not compare: {md(error_text(e))}")
    return None
