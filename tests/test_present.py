"""The presenter view (pages/present.py): opened by link, playing from the start, no sidebar."""
from __future__ import annotations

from pagekit import page_text


def _html(at) -> str:
    return "\n".join(str(m.value) for m in at.markdown)


def test_present_opens_the_linked_run_playing_from_the_first_snapshot(tiny_store, tiny_run, app):
    at = app("present", run=tiny_run.run_id)
    assert not at.exception
    assert at.session_state["_present_run"] == tiny_run.run_id
    assert at.session_state["present_playing"] is True      # starts by itself
    assert at.session_state["present_index"] == 0            # from the first snapshot
    first = tiny_run.view.snapshot(0)
    html = _html(at)
    assert "dcviz-present-stage" in html and first.stage in html
    assert '[data-testid="stSidebar"]' in html and "display: none" in html
    keys = [c.proto.id for c in at.get("plotly_chart")]
    assert keys, "the latent scatter is drawn"
    assert at.get("segmented_control")[0].proto.label == "Speed"


def test_present_query_on_any_page_switches_to_the_presenter(tiny_store, tiny_run):
    from streamlit.testing.v1 import AppTest
    from pagekit import APP
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["run"] = tiny_run.run_id
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.session_state["_present_run"] == tiny_run.run_id


def test_present_says_when_the_linked_run_is_not_there(tiny_store, tiny_run, app):
    """A mistyped link shows another run, and says so for as long as it shows it (the player
    reruns the page as it starts playing; the warning must outlive that rerun)."""
    at = app("present", run="no-such-run")
    assert not at.exception
    assert at.session_state["_present_run"] == tiny_run.run_id  # the newest run instead
    assert any("no run no-such-run" in w.value for w in at.warning)
    at.run()  # a later redraw, the address bar now holding the shown run's id
    assert any("no run no-such-run" in w.value for w in at.warning)
    at = app("present", run=tiny_run.run_id)  # asked for by its own id: no warning
    assert not at.warning


def test_present_without_a_run_says_what_to_do(runs_dir, app):
    at = app("present")
    assert not at.exception
    assert "no run to present" in page_text(at)


def test_train_and_explore_link_to_the_presenter(tiny_store, tiny_run, app):
    at = app("explore", run=tiny_run.run_id)
    assert not at.exception
    links = [p.proto for p in at.get("page_link")]
    assert any(p.label == "Present" and "present" in p.page for p in links), links


def _latent_height(at) -> int:
    import json
    chart = next(c for c in at.get("plotly_chart") if "present_latent" in c.proto.id)
    return json.loads(chart.proto.spec)["layout"]["height"]


def test_present_size_fits_the_projector_and_stays_in_the_link(tiny_store, tiny_run, app):
    at = app("present", run=tiny_run.run_id)
    assert at.session_state["present_size"] == "M" and _latent_height(at) == 640
    assert at.query_params["size"] == "M"
    at.session_state["present_size"] = "S"
    at.run()
    assert _latent_height(at) == 400 and at.query_params["size"] == "S"
    # a bookmarked link with its size (any case), and one with a size that is not offered
    from streamlit.testing.v1 import AppTest
    from pagekit import APP
    for asked, want in (("l", 860), ("XXL", 640)):
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params.update(run=tiny_run.run_id, present="1", size=asked)
        at.run()
        assert not at.exception and _latent_height(at) == want


def test_present_back_and_next_step_one_snapshot_and_pause(tiny_store, tiny_run, app):
    at = app("present", run=tiny_run.run_id)
    assert at.session_state["present_playing"] is True
    at.session_state["present_index"] = 2
    at.button(key="present_next").click().run()
    assert not at.exception
    assert at.session_state["present_playing"] is False
    assert at.session_state["present_index"] == 3
    assert at.session_state["present_index_number"] == 4      # the slider counts from 1
    at.button(key="present_back").click().run()
    at.button(key="present_back").click().run()
    assert at.session_state["present_index"] == 1
    for _ in range(3):
        at.button(key="present_back").click().run()
    assert at.session_state["present_index"] == 0             # not past the first
    last = tiny_run.rd.count() - 1
    at.session_state["present_index"] = last
    at.button(key="present_next").click().run()
    assert at.session_state["present_index"] == last          # nor past the last
    assert at.button(key="present_next").proto.shortcut.lower() == "pagedown"
