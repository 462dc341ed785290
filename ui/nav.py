"""The pages, and moving between them.

A page file is reached through app.py (its st.navigation), never on its own: see
:func:`require_app`.
"""
from __future__ import annotations

import threading

import streamlit as st

#: Page files, relative to app.py.
PAGES = {"home": "pages/home.py", "train": "pages/train.py", "explore": "pages/explore.py",
         "compare": "pages/compare.py", "checkpoints": "pages/checkpoints.py",
         "sweeps": "pages/sweeps.py", "present": "pages/present.py"}

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


def follow_present_link() -> None:
    """``?run=<id>&present=1`` on any page opens the presenter view of that run (a link a
    lecturer can bookmark; called by app.py)."""
    if st.query_params.get("present") == "1":
        keep = {k: st.query_params[k] for k in ("run", "size") if st.query_params.get(k)}
        st.switch_page(PAGES["present"], query_params=keep or None)


def present_link(run_id: str, where=None) -> None:
    """A link to the presenter view of a run."""
    (where or st).page_link(PAGES["present"], label="Present", query_params={"run": run_id},
                            icon=":material/slideshow:",
                            help="This run for a lecture hall: large, no sidebar, playing by "
                                 "itself. The address can be bookmarked.")


def watch_in_train(run_id: str) -> None:
    """Put a run in focus on the Train page and go there."""
    st.session_state["train_focus"] = run_id
    st.switch_page(PAGES["train"])


def explore_link(run_id: str, label: str, help: str, where=None, icon: str | None = None) -> None:
    """A link that opens a run on the Explore page (``label`` is plain text: it is escaped)."""
    from dcviz.plaintext import md
    (where or st).page_link(PAGES["explore"], label=md(label), query_params={"run": run_id},
                            help=help, icon=icon)
