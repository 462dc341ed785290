"""dcviz: watch deep clustering methods learn. Start with `streamlit run app.py`.

The entry script: page set-up and navigation. The pages live in pages/, the UI kit they share in
ui/, and the engine in dcviz/ (which never imports streamlit).
"""
import streamlit as st

st.set_page_config(page_title="dcviz: watch deep clustering learn", page_icon="🔬", layout="wide")

from ui import nav  # noqa: E402  (after set_page_config, which must come first)
from ui.look import inject_css  # noqa: E402
from ui.shared import manager, runs_root  # noqa: E402
from dcviz.plaintext import error_text, md  # noqa: E402
from dcviz.runs import RunStoreError  # noqa: E402

inject_css()
page = st.navigation([
    st.Page(nav.PAGES["home"], title="Home", icon=":material/home:", default=True),
    st.Page(nav.PAGES["train"], title="Train", icon=":material/model_training:"),
    st.Page(nav.PAGES["explore"], title="Explore", icon=":material/travel_explore:"),
    st.Page(nav.PAGES["compare"], title="Compare", icon=":material/compare:"),
    st.Page(nav.PAGES["checkpoints"], title="Checkpoints", icon=":material/inventory_2:"),
    st.Page(nav.PAGES["sweeps"], title="Sweeps", icon=":material/table_chart:"),
    st.Page(nav.PAGES["present"], title="Present", icon=":material/slideshow:"),
])
nav.follow_present_link()  # ?run=...&present=1: the presenter view of that run
nav.follow_deep_link()  # a link that reached a page before app.py ever ran (see nav.require_app)
try:
    manager()  # the run manager of this process, created once
except RunStoreError as e:  # every page needs the run store: say why there is none, and how
    st.title("dcviz")
    st.error(f"The app cannot start: {md(error_text(e))}.")
    st.markdown(f"The runs folder is `$DCVIZ_RUNS_DIR`, else `runs` in the folder the app was "
                f"started from (now {md(runs_root())}). Point `DCVIZ_RUNS_DIR` at a folder "
                "this user can write, or start the app from another folder, then reload this "
                "page.")
    st.stop()
with nav.through_app():
    page.run()
