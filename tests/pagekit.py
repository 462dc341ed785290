"""Helpers for AppTests of the pages (import with ``from pagekit import open_page, page_text``).

Kept out of conftest.py because the repository root has a conftest.py of its own, so
``import conftest`` is ambiguous.
"""
from __future__ import annotations

import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
PAGE_FILES = {"home": "pages/home.py", "train": "pages/train.py", "explore": "pages/explore.py",
              "compare": "pages/compare.py", "checkpoints": "pages/checkpoints.py",
              "sweeps": "pages/sweeps.py", "present": "pages/present.py"}


def open_page(page: str = "home", *, run: str | None = None, runs: str | None = None,
              tab: str | None = None, timeout: float = 120, **state):
    """An AppTest of app.py switched to ``page`` ("home", "train", "explore", ...), run once.

    ``run`` and ``runs`` are the link's query parameters (``?run=``: Explore and Checkpoints,
    ``?runs=``: Compare), ``tab`` picks Explore's tab; other keyword arguments are put in session
    state before the first run."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(APP, default_timeout=timeout)
    if run is not None:
        at.query_params["run"] = run
    if runs is not None:
        at.query_params["runs"] = runs
    if tab is not None:
        state["explore_tab"] = tab
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page != "home":
        at.switch_page(PAGE_FILES[page]).run()
    return at


def page_text(at) -> str:
    """All the text an AppTest's page shows (markdown, captions, alerts, progress lines)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "text"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")))
    parts += [p.text for p in at.progress]
    return "\n".join(parts)


def finished_run(root, method: str, seconds: float, data: str = "digits", preset: str = "quick"):
    """An earlier run that took ``seconds``, as the run store lists it (no training)."""
    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, prepare
    ds = D.load(data)
    cls, cfg = prepare(method, ds, {}, preset)
    rd = create_run(RunStore(root), cls, cfg, ds, preset)
    rd.write_status("done", force=True, started=time.time() - seconds, seconds=seconds)
    return rd.run_id
