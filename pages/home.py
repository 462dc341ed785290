"""Home: what dcviz shows, the default run, one card per method, and the recent runs."""
import html

import streamlit as st

from dcviz.methods import REGISTRY, default_run, featured
from dcviz.plaintext import md
from dcviz.runs.labels import run_label
from ui import nav
from ui.launch import DEFAULT_RUN_TIME, default_run_button, expected_time, try_it_button
from ui.look import picture
from ui.shared import data_preview_figure, manager, runs_root

nav.require_app("home")


def lead() -> None:
    st.title("dcviz")
    st.markdown(
        '<p class="dcviz-lead">dcviz trains deep clustering methods in the background and shows '
        "their latent space changing epoch by epoch, with each paper's own views of what the "
        "method is doing.</p>", unsafe_allow_html=True)
    run = default_run()
    left, right = st.columns([3, 2], vertical_alignment="center")
    with left:
        default_run_button("home_default")
        if run is not None:
            cls = REGISTRY[run[0]]
            st.markdown(
                f"The button trains **{cls.estimator or cls.title}** on 1,797 handwritten digits "
                f"(8×8 pixels) with its {run[2]} preset{_took(run)}. On the right are those "
                "digits as they start: their raw pixels projected to 2-D, one colour per digit "
                "(the legend says which). k-means on these pixels "
                "finds the digits only in part (NMI 0.74). Watch the method pull each digit into "
                "a cluster of its own.")
    with right:
        # The same kind of scatter as the Train page's, so its plotting code is already loaded
        # when the first snapshot arrives.
        st.plotly_chart(data_preview_figure("digits"), key="home_preview",
                        config={"displaylogo": False, "displayModeBar": False})


def _took(run) -> str:
    took = expected_time(*run, typical=DEFAULT_RUN_TIME)
    return f": {md(took)}" if took else ""


def cards() -> None:
    """One card per method that has one (its class says what), each with its Try-it button."""
    methods = featured()
    if not methods:
        return
    st.subheader(f"{_count(len(methods))}, each with the views its paper explains itself with")
    row = st.container(key="home_cards")  # its columns wrap on a narrow screen (style.css)
    for col, cls in zip(row.columns(len(methods)), methods):
        with col, st.container(border=True):
            pic = picture(cls.picture)
            if pic:
                st.image(pic, width="stretch")
            st.markdown(f'<p class="dcviz-card-title">{html.escape(cls.title)}</p>',
                        unsafe_allow_html=True)  # a plug-in's title is text, not markup
            # The button sits right under the name, so the cards line up whatever their text.
            if cls.try_it:
                try_it_button(cls, key=f"home_try_{cls.id}", width="stretch")
            st.write(cls.card)
            st.caption(cls.paper)
    others = [c for c in REGISTRY.values() if not c.card]
    if others:
        st.caption("Baselines for comparison: "
                   + ", ".join(f"{c.title} (`{c.id}`)" for c in sorted(others, key=lambda c: c.id))
                   + ". Launch them from the Train page.")


def _count(n: int) -> str:
    words = ["No", "One method", "Two methods", "Three methods", "Four methods", "Five methods",
             "Six methods", "Seven methods", "Eight methods", "Nine methods"]
    return words[n] if n < len(words) else f"{n} methods"


def recent_runs() -> None:
    st.subheader("Recent runs")
    runs = manager().runs()
    if not runs:
        st.info("No runs yet. Press the **Watch** button above to start one, or open **Train** "
                "to choose the data and the method yourself. Runs you start are saved and show "
                "up here.")
        return
    for row in runs[:8]:
        nav.explore_link(row["run_id"], run_label(row),
                         help="Open this run on the Explore page: scrub its epochs, click points, "
                              "see the method's own views.")
    if len(runs) > 8:
        st.caption(f"… and {len(runs) - 8} older runs: pick them on the Explore page.")
    st.caption(f"Runs are saved in {md(runs_root())}.")


lead()
cards()
recent_runs()
