"""Present: one run for a lecture hall, opened by a link a lecturer can bookmark.

``/present?run=<run_id>`` (or any page with ``?run=<run_id>&present=1``, see app.py). No
sidebar, no navigation, no form: the stage in large type, the latent scatter and the method's
live panel side by side, and the player, which starts playing from the first snapshot as the
page opens. Speed is a control beside it. Without ``?run=``, the newest finished run is shown.
"""
from __future__ import annotations

from html import escape

import streamlit as st

from dcviz.plaintext import md
from dcviz.runs.labels import data_title
from dcviz.runs.store import ACTIVE_STATES
from dcviz.runs.view import RunSoFar
from dcviz.viz import get_lens
from dcviz.viz.common import latent_figure
from ui import nav
from ui.panels import live_panel, render_panel
from ui.pickers import colours
from ui.player import advance, player, rewind, step_buttons, timer
from ui.shared import aligned_pca, manager, rerun_if_gone, run_view

nav.require_app("present")
state = st.session_state

#: Seconds between frames at 1x; the timer never goes faster than twice a redraw takes.
FRAME_S = 0.8
SPEEDS = {"0.5×": 2.0, "1×": 1.0, "2×": 0.5, "4×": 0.25}
#: Heights of the pictures (the scatter, and beside it the method's panel), for the whole page
#: to fit a 1280 x 720 (S), 1920 x 1080 (M) or 2560 x 1440 (L) window with nothing below the
#: fold (tests/test_browser_tour.py measures S and M in a browser)
SIZES = {"S": 440, "M": 800, "L": 1160}
#: A link with no size= opens at S: it fits every common projector, M and L are a click away
DEFAULT_SIZE = "S"
#: What a panel's title and a two- or three-line caption take of its height, below its figure
PANEL_TEXT_PX = 140

# The room sees the run, not the app: no sidebar (and with it the page list), no header bar.
# Style only, so in no element's place (st.html); the app's own style sheet (a markdown
# element) takes no place either: each empty element took a row gap from the pictures.
st.html("""<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stSidebarNav"],
[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }
div[data-testid="stElementContainer"]:has([data-testid="stMarkdownContainer"] > style) {
    display: none; }
.block-container { padding-top: 0.8rem; padding-bottom: 0.5rem; max-width: 100%; }
/* the heading takes the row, "Open in Explore" beside it as wide as its words */
div[data-testid="stColumn"]:has(.dcviz-present-title) {
    flex: 1 1 0 !important; min-width: 0 !important; }
div[data-testid="stColumn"]:has(.st-key-present_explore) {
    flex: 0 0 auto !important; width: auto !important; min-width: max-content !important; }
div.dcviz-present-title { font-size: 1.6rem !important; font-weight: 600; margin: 0; }
div.dcviz-present-stage { font-size: 2.6rem !important; font-weight: 700; line-height: 1.2;
                          margin: 0.1rem 0 0.4rem 0; }
span.dcviz-present-epoch { font-size: 1.4rem !important; font-weight: 400; opacity: 0.65; }
/* Back over Next, then Speed and Size as wide as their buttons, the slider takes what is
   left: with fixed shares, a 1024-pixel projector cut "Next", "4×" and "L" */
div[data-testid="stColumn"]:has(.st-key-present_next) {
    flex: 0 0 9.5rem !important; width: 9.5rem !important; min-width: 9.5rem !important; }
div[data-testid="stColumn"]:has(.st-key-present_speed),
div[data-testid="stColumn"]:has(.st-key-present_size) {
    flex: 0 0 auto !important; width: auto !important; min-width: max-content !important; }
div[data-testid="stColumn"]:has(.st-key-present_play):has(div[data-testid="stColumn"]) {
    flex: 1 1 0 !important; min-width: 0 !important; }
/* a mouse click on Back or Next leaves the pointer there, and its tooltip then lay over the
   other button (Next's over Back) until the pointer moved: once clicked, a step button's
   tooltip stays away while the pointer is on it (hovering it before any click still shows it) */
body:has(.st-key-present_back button:focus:hover, .st-key-present_next button:focus:hover)
    div:has(> div[data-testid="stTooltipContent"]) { visibility: hidden !important; }
</style>""")


def chosen_run(runs: list[dict]) -> str | None:
    """The run of the link, else the newest finished (or stopped) one, else the newest.

    A link to a run that is not there says so for as long as the run shown instead stays:
    the address bar then holds that run's id, and the player's first step reruns the page."""
    asked = st.query_params.get("run")
    ids = {r["run_id"] for r in runs}
    missing = state.get("_present_missing")  # (the id asked for, the run shown instead)
    if asked in ids:
        if missing and missing[1] != asked:
            state.pop("_present_missing", None)
            missing = None
        chosen = asked
    else:
        ended = [r["run_id"] for r in runs if r["state"] in ("done", "stopped")]
        readable = [r["run_id"] for r in runs if r["state"] != "damaged"]
        chosen = (ended or readable or [None])[0]
        missing = (asked, chosen) if asked else None
        state["_present_missing"] = missing
    if missing:
        st.warning(f"There is no run {md(missing[0])} in this run store; showing the newest "
                   "run.")
    return chosen


def live_now() -> bool:
    return run_id in manager().live and manager().state(run_id) in ACTIVE_STATES


def speed() -> float:
    return SPEEDS.get(state.get("present_speed", "1×"), 1.0)


def stage_heading(snap, cfg) -> None:
    title = f"{cfg.get('method_title') or cfg['method']} on {data_title(cfg.get('data_name', '?'))}"
    scores = " · ".join(f"{k.upper()} {snap.metrics[k]:.2f}" for k in ("acc", "nmi", "ari")
                        if k in snap.metrics)
    # HTML, so the text is escaped as HTML (a run's name or stage is plain text)
    st.markdown(f"<div class='dcviz-present-title'>{escape(title)}</div>"
                f"<div class='dcviz-present-stage'>{escape(snap.stage)} "
                f"<span class='dcviz-present-epoch'>epoch {snap.epoch}"
                f"{' · ' + scores if scores else ''}</span></div>", unsafe_allow_html=True)


def lens_panel(index: int):
    """The method's live panel at ``index``, as it was at that snapshot: built from the run up
    to it, as the Train page drew it live, not from the whole run (DEKM's spectrum showed every
    later iteration during pretraining). Cached per snapshot: playing revisits them."""
    lens = get_lens(view.method_id)
    if lens is None:
        return None
    cache = state.setdefault("_present_panels", {})
    key = (run_id, index)
    if key not in cache:
        if len(cache) > 64:
            cache.clear()
        cache[key] = live_panel(lens, RunSoFar(view, index), index)
    return cache[key]


def frame(index: int, size: str):
    """The snapshot, the scatter and the panel at ``index``. The last frame is kept: after
    Back, Next or Pause the whole page is drawn again (that stops the timer), and Streamlit may
    leave the player's part of the page empty until its elements come again; built anew, the
    method's panel came last and its chart was missing for a moment after Page Down."""
    key = (run_id, index, size)
    kept = state.get("_present_frame")
    if kept and kept[0] == key:
        return kept[1]
    snap = view.snapshot(index)
    color, names, ctitle = colours("Cluster", view, snap)
    fig = latent_figure(aligned_pca(view, index), index=view.subsample, color=color,
                        color_names=names, color_title=ctitle, height=SIZES[size],
                        axis_names=("PC 1 (aligned)", "PC 2 (aligned)"),
                        uirevision=f"present:{run_id}")
    state["_present_frame"] = (key, (snap, fig, lens_panel(index)))
    return state["_present_frame"][1]


def shown_size() -> str:
    """The size asked for with the Size control, else by the link (size=), else the default.
    Set before the control is drawn (a control that came back empty would leave no height)."""
    if state.get("present_size") not in SIZES:
        asked = str(st.query_params.get("size", "")).upper()
        state["present_size"] = asked if asked in SIZES else DEFAULT_SIZE
    return state["present_size"]


def body() -> None:
    rerun_if_gone(view)
    count = view.count
    if count == 0:
        st.info("This run has no snapshot yet; this view starts as soon as it has one.")
        explore_link()
        return
    # All that this redraw shows is built before any of it is drawn: drawn as they were built,
    # the slider and the heading showed the next snapshot for the half second the method's
    # panel (built last) still showed the one before, most of the time while playing.
    size = shown_size()
    index = advance(range(count), "present", pos="index")
    snap, fig, panel = frame(index, size)

    # The browser applies a redraw element by element: the elements of the snapshot (slider,
    # heading, panel, scatter) come last and one after another, into places laid out first
    # (buttons drawn between the slider and the heading left them apart for a moment).
    c = st.columns([6, 2.4, 3, 2], vertical_alignment="bottom")
    step_buttons("present", "index", where=c[1])
    c[2].segmented_control("Speed", list(SPEEDS), default="1×", key="present_speed",
                           required=True, help="How fast Play steps through the snapshots.")
    c[3].segmented_control(
        "Size", list(SIZES), key="present_size", required=True,
        help="Height of the pictures, to fit the projector (in a full-screen browser): S for a "
             "720p screen, M for 1080p, L for 1440p. It is kept in the address (size=), so a "
             "bookmarked link keeps it.")
    st.query_params["size"] = size
    top = st.columns([6, 1], vertical_alignment="top")
    with top[1].container(key="present_explore"):
        explore_link()
    left, right = st.columns([1, 1])
    # as tall as the scatter, whatever the panel's text: a long one scrolls inside, and the
    # page ends with the pictures
    box = right.container(height=SIZES[size], border=False, key="present_panel")
    with c[0]:
        # no caption beside the slider: the heading below gives the epoch in large type
        player(range(count), "present", pos="index", label="Snapshot", advanced=True,
               help="Which snapshot both pictures show. Play steps through them all.")
    with top[0]:
        stage_heading(snap, view.config)
    with box:
        if panel is not None:
            if panel.figure is not None:  # its figure takes what its title and caption leave
                panel.figure.update_layout(height=SIZES[size] - PANEL_TEXT_PX)
            render_panel(panel, key="present_lens")
        else:
            st.caption("This method has no live panel of its own.")
    # The scatter last, though on the left: the browser draws a thousand points for a good part
    # of a second, and what comes after it waits for that (the panel lagged the heading)
    left.plotly_chart(fig, key="present_latent", config={"displaylogo": False})


def explore_link() -> None:
    st.page_link(nav.PAGES["explore"], label="Open in Explore", query_params={"run": run_id},
                 icon=":material/travel_explore:",
                 help="Leave the presenter view for the full app.")


runs = manager().runs()
run_id = chosen_run(runs)
view = run_view(run_id) if run_id else None
if view is None and run_id:  # a link to a run whose folder cannot be read
    row = next((r for r in runs if r["run_id"] == run_id), {})
    st.error(f"Run {md(run_id)} cannot be presented: "
             f"{md(row.get('error') or 'its folder cannot be read')}.")
    st.page_link(nav.PAGES["explore"], label="Open in Explore", query_params={"run": run_id},
                 icon=":material/travel_explore:",
                 help="Explore says what is wrong with the run, and can delete it.")
    st.stop()
if view is None:
    st.info("There is no run to present yet. Train one first; then open it here from the "
            "Train or Explore page.")
    st.page_link(nav.PAGES["train"], label="Train page", icon=":material/model_training:",
                 help="Choose data and a method there and launch a run; it can be presented "
                      "here as soon as it has snapshots.")
    st.stop()
st.query_params["run"] = run_id  # the address bar holds a link that can be bookmarked
shown_size()
if state.get("_present_run") != run_id:  # a run opened here starts playing from the start
    state["_present_run"] = run_id
    rewind("present", "index")
    state.pop("present_index", None)  # playing from no position starts at the first snapshot
    state["present_playing"] = view.count > 1
timer(body, "present", lambda: FRAME_S * speed() if state.get("present_playing") else
      (1.5 if live_now() else None))
