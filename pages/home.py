"""Home: what dcviz shows, the default run, one card per method, and the recent runs."""
import streamlit as st

import app_common as C
from dcviz import appstate as A

C.require_app("home")

st.title("dcviz")
st.markdown(
    '<p class="dcviz-lead">dcviz trains deep clustering methods in the background and shows '
    "their latent space changing epoch by epoch, with each paper's own views of what the "
    "method is doing.</p>", unsafe_allow_html=True)

left, right = st.columns([3, 2], vertical_alignment="center")
with left:
    C.default_run_button("home_default")
    st.markdown(
        "The button trains **DEKM** on 1,797 handwritten digits (8×8 pixels) for about a minute. "
        "On the right are those digits as they start: their raw pixels projected to 2-D, one "
        "colour per digit. k-means on these pixels finds the digits only in part (NMI 0.74). "
        "Watch the method pull each digit into a cluster of its own.")
with right:
    # The same kind of scatter as the Train page's, so its plotting code is already loaded when
    # the first snapshot arrives.
    st.plotly_chart(C.data_preview_figure("digits"), key="home_preview",
                    config={"displaylogo": False, "displayModeBar": False})

registered = {m["id"]: m for m in C.registered_methods()}

st.subheader("Five methods, each with the views its paper explains itself with")
cols = st.columns(len(A.CARDS))
for col, card in zip(cols, A.CARDS):
    with col, st.container(border=True):
        pic = C.picture(card.picture)
        if pic:
            st.image(pic, width="stretch")
        info = registered.get(card.id, {})
        st.markdown(f'<p class="dcviz-card-title">{info.get("title") or card.name}</p>',
                    unsafe_allow_html=True)
        data = A.TRY_IT[card.id]
        # The button sits right under the name, so the five line up whatever the text's length.
        if card.id in registered:
            if st.button(f"Try it on {data}", key=f"home_try_{card.id}", width="stretch",
                         help=f"Launch {registered[card.id]['title']} on the {data} data set "
                              "(quick preset) and watch it train."):
                run_id = C.launch_suited(card.id, data, "quick")
                if run_id:
                    C.watch_in_train(run_id)
        else:
            st.caption("Not installed in this version yet.")
        st.write(card.see)
        st.caption(info.get("paper") or card.paper)

others = [m for mid, m in registered.items() if mid not in A.TRY_IT]
if others:
    st.caption("Baselines for comparison: " + ", ".join(f"{m['title']} (`{m['id']}`)" for m in others)
               + ". Launch them from the Train page.")

st.subheader("Recent runs")
runs = C.manager().runs()
if not runs:
    st.info("No runs yet. Press **Watch DEKM cluster handwritten digits** above to start one, or "
            "open **Train** to choose the data and the method yourself. Runs you start are saved "
            "and show up here.")
else:
    for row in runs[:8]:
        st.page_link(C.PAGES["explore"], label=A.run_label(row), query_params={"run": row["run_id"]},
                     help="Open this run on the Explore page: scrub its epochs, click points, see "
                          "the method's own views.")
    if len(runs) > 8:
        st.caption(f"… and {len(runs) - 8} older runs: pick them on the Explore page.")
    st.caption(f"Runs are saved in `{C.runs_root()}`.")
