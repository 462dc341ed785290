"""Pages come back to what the user left: the run (or runs) and the snapshot, after a visit to
another page; unless the run left the store meanwhile, or a link asks for another run. And
Explore's "Follow training" reads off for a run that is not training.

A browser that moves to another page through the sidebar drops the query parameters (the
``?run=`` the page wrote), and Streamlit drops the values of the widgets it did not draw: Explore
came back on the newest run at its last snapshot (a browser audit). ``away_and_back`` does what
the browser does.

The tests share a module-wide store of three finished ae-kmeans runs on digits (seeds 0, 1, 2;
five snapshots each); a test that deletes a run works on a copy.
"""
from __future__ import annotations

import shutil

import pytest

from pagekit import PAGE_FILES, open_page, page_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    from conftest import train_run
    root = tmp_path_factory.mktemp("memory-runs")
    ids = [train_run(root, "ae-kmeans", "digits", {"pretrain_epochs": 3, "snapshot_every": 1,
                                                   "subsample": 300, "seed": s}).run_id
           for s in (0, 1, 2)]
    return root, ids  # oldest first


@pytest.fixture
def store(three, monkeypatch):
    root, ids = three
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    return ids


@pytest.fixture
def store_copy(three, tmp_path, monkeypatch):
    root, ids = three
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(copy))
    return copy, ids


def away_and_back(at, page: str, via: str = "compare", **link):
    """Go to ``via`` through the sidebar, then back to ``page``, as a browser does: the query
    parameters go with each move (``link`` names the ones the way back carries)."""
    for p, params in ((via, {}), (page, link)):
        for k in list(at.query_params):
            del at.query_params[k]
        for k, v in params.items():
            at.query_params[k] = v
        at.switch_page(PAGE_FILES[p]).run()
        assert not at.exception, at.exception
    return at


def explore_at(at):
    return at.selectbox(key="explore_run").value, at.session_state["explore_index"]


# --------------------------------------------------------------------------- Explore

def test_explore_comes_back_on_the_run_and_snapshot_left(store):
    at = open_page("explore")
    assert explore_at(at) == (store[-1], 4)  # the newest run, at its last snapshot
    at.selectbox(key="explore_run").set_value(store[0]).run()
    at.slider(key="explore_index_number").set_value(2).run()
    assert explore_at(at) == (store[0], 1) and not at.exception
    away_and_back(at, "explore")
    assert explore_at(at) == (store[0], 1)
    assert at.slider(key="explore_index_number").value == 2
    assert at.query_params["run"] == store[0]  # and the link says so again
    # and through Checkpoints, which has a run picker of its own
    away_and_back(at, "explore", via="checkpoints")
    assert explore_at(at) == (store[0], 1)


def test_explore_comes_back_on_the_colour_left(store):
    # the segmented controls (ui.fields.segmented) lost their value on a page switch
    at = open_page("explore")
    assert at.button_group(key="explore_color").value != "True label"
    at.button_group(key="explore_color").set_value("True label").run()
    away_and_back(at, "explore", via="present")
    assert at.button_group(key="explore_color").value == "True label"


def test_explore_comes_back_on_the_tab_left(store):
    # st.tabs has no persist_state: Explore came back on Latent
    at = open_page("explore")
    assert at.session_state["explore_tab"] == "Latent"
    at.session_state["explore_tab"] = "Metrics"   # as a click on the tab sets it
    at.run()
    away_and_back(at, "explore", via="present")
    assert at.session_state["explore_tab"] == "Metrics"


def test_explore_link_to_another_run_wins_over_the_run_left(store):
    at = open_page("explore")
    at.selectbox(key="explore_run").set_value(store[0]).run()
    away_and_back(at, "explore", run=store[1])
    assert explore_at(at) == (store[1], 4)  # another run: its last snapshot


def test_explore_run_deleted_while_away_says_so_and_shows_the_newest(store_copy):
    root, ids = store_copy
    at = open_page("explore")
    at.selectbox(key="explore_run").set_value(ids[0]).run()
    at.switch_page(PAGE_FILES["compare"]).run()
    shutil.rmtree(root / ids[0])
    away_and_back(at, "explore", via="home")
    assert explore_at(at) == (ids[-1], 4)
    text = page_text(at)
    assert "no longer" in text and ids[0] in text, text


def test_follow_training_reads_off_for_a_finished_run(store):
    at = open_page("explore")
    follow = at.toggle(key="explore_follow")
    assert follow.disabled and follow.value is False  # it showed on, greyed
    assert "not training" in follow.help and "done" in follow.help


# --------------------------------------------------------------------------- Compare

def test_compare_comes_back_on_the_runs_mode_and_position_left(store):
    at = open_page("compare")
    assert at.multiselect(key="compare_runs").value == [store[2], store[1]]  # the default
    at.multiselect(key="compare_runs").set_value([store[2], store[0]]).run()
    at.button_group(key="compare_mode").set_value("progress").run()
    values = at.select_slider(key="compare_pos_value").options
    at.select_slider(key="compare_pos_value").set_value(values[1]).run()
    assert not at.exception
    left = at.session_state["compare_pos"]
    away_and_back(at, "compare", via="explore")
    assert at.multiselect(key="compare_runs").value == [store[2], store[0]]
    assert at.button_group(key="compare_mode").value == "progress"
    assert at.session_state["compare_pos"] == left
    assert at.query_params["runs"] == f"{store[2]},{store[0]}"


# --------------------------------------------------------------------------- Checkpoints

def test_checkpoints_comes_back_on_the_run_and_data_left(store):
    at = open_page("checkpoints")
    assert at.selectbox(key="checkpoints_run").value == store[-1]
    at.selectbox(key="checkpoints_run").set_value(store[0]).run()
    box = at.selectbox(key="checkpoints_choice")
    other = box.options[1]
    box.set_value(other).run()
    at.button(key="checkpoints_go").click().run()
    assert not at.exception
    away_and_back(at, "checkpoints", via="explore")
    assert at.selectbox(key="checkpoints_run").value == store[0]
    assert at.selectbox(key="checkpoints_choice").value == other
