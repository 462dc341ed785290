"""dcviz: watch deep clustering methods learn. Start with `streamlit run app.py`.

The entry script: page set-up, navigation, and one run manager per process (app_common). The
pages live in pages/; the engine in dcviz/ never imports streamlit.
"""
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="dcviz: watch deep clustering learn", page_icon="🔬", layout="wide")

import app_common as C  # noqa: E402  (after set_page_config, which must come first)

C.inject_css()

_here = Path(__file__).resolve().parent
pages = [
    st.Page(C.PAGES["home"], title="Home", icon=":material/home:", default=True),
    st.Page(C.PAGES["train"], title="Train", icon=":material/model_training:"),
    st.Page(C.PAGES["explore"], title="Explore", icon=":material/travel_explore:"),
]
# Pages that later work adds; registered only once their file exists.
for name, title, icon in [("compare", "Compare", ":material/compare:"),
                          ("checkpoints", "Checkpoints", ":material/inventory_2:")]:
    if (_here / C.PAGES[name]).exists():
        pages.append(st.Page(C.PAGES[name], title=title, icon=icon))

nav = st.navigation(pages)
C.follow_deep_link()  # a link that reached a page before app.py ever ran (see C.require_app)
C.manager()  # the run manager of this process, created once
with C.through_app():
    nav.run()
