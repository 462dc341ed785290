"""The presenter view (pages/present.py): opened by link, playing from the start, no sidebar."""
from __future__ import annotations

from pagekit import page_text


def _html(at) -> str:
    """The page's markdown and its HTML (the style sheet is an st.html, in no element's place)."""
    return "\n".join([str(m.value) for m in at.markdown]
                     + [str(h.proto.body) for h in at.get("html")])


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
    """A link with no size (the Train and Explore pages' "Present") opens at S, which fits a
    720p projector; the size chosen is kept in the address."""
    at = app("present", run=tiny_run.run_id)
    assert at.session_state["present_size"] == "S" and _latent_height(at) == 440
    assert at.query_params["size"] == "S"
    at.session_state["present_size"] = "M"
    at.run()
    assert _latent_height(at) == 800 and at.query_params["size"] == "M"
    # a bookmarked link with its size (any case), and one with a size that is not offered
    from streamlit.testing.v1 import AppTest
    from pagekit import APP
    for asked, want in (("l", 1160), ("XXL", 440)):
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


# ----------------------------------------------------------------- what one redraw shows
def _watch_lens(monkeypatch, seen: list):
    """A lens for the tiny run's method whose live panel says how much of the run it was given;
    each build is noted in ``seen``."""
    from dcviz.viz import LENSES, Lens, Panel

    def build(run, index, options):
        seen.append("build")
        try:  # the snapshot after the one shown
            later = run.snapshot(index + 1) is not None
        except Exception:  # noqa: BLE001 - IndexError past a run so far (RunStoreError past a run)
            later = False
        return [Panel("Seen", text=f"saw {run.count} snapshots and {len(run.rows())} rows"
                                    + (", and later ones" if later else ""))]

    monkeypatch.setitem(LENSES, "ae-kmeans", Lens(method_ids=("ae-kmeans",), title="Watch",
                                                  live_panel="Seen", build=build))


def test_present_builds_a_snapshot_before_it_draws_any_of_it(tiny_store, tiny_run, app,
                                                            monkeypatch):
    """While playing, the slider and the heading showed the next snapshot for the time the
    method's panel, built after them, still showed the one before. Now the panel is built
    first, and the scatter (slow for a browser to draw) comes after the heading and the panel."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator
    seen: list = []
    _watch_lens(monkeypatch, seen)
    slider, markdown, caption = st.slider, st.markdown, st.caption
    chart = DeltaGenerator.plotly_chart

    def note_slider(*a, **k):
        seen.append("slider")
        return slider(*a, **k)

    def note_markdown(body, *a, **k):
        if "dcviz-present-stage" in str(body):
            seen.append("heading")
        return markdown(body, *a, **k)

    def note_chart(self, *a, **k):
        seen.append(k.get("key"))
        return chart(self, *a, **k)

    def note_caption(body, *a, **k):
        if "saw " in str(body):
            seen.append("panel")
        return caption(body, *a, **k)

    monkeypatch.setattr(st, "slider", note_slider)
    monkeypatch.setattr(st, "markdown", note_markdown)
    monkeypatch.setattr(st, "caption", note_caption)
    monkeypatch.setattr(DeltaGenerator, "plotly_chart", note_chart)
    at = app("present", run=tiny_run.run_id)
    assert at.session_state["present_playing"] is True
    seen.clear()
    at.run()  # the timer's tick: the next snapshot, not built before
    assert not at.exception
    assert at.session_state["present_index"] == 1
    frame = seen[:seen.index("present_latent") + 1]
    assert frame == ["build", "slider", "heading", "panel", "present_latent"], seen


def test_present_panel_shows_what_was_known_at_the_snapshot(tiny_store, tiny_run, app,
                                                           monkeypatch):
    """The method's panel is drawn from the run up to the snapshot shown, as the Train page
    drew it live: DEKM's spectrum showed the whole run's iterations during pretraining."""
    _watch_lens(monkeypatch, [])
    at = app("present", run=tiny_run.run_id)
    assert "saw 1 snapshots and 1 rows" in page_text(at) and "later" not in page_text(at)
    at.session_state["present_playing"] = False
    at.session_state["present_index"] = 2
    at.run()
    assert not at.exception
    assert "saw 3 snapshots and 3 rows" in page_text(at) and "later" not in page_text(at)


def test_a_run_so_far_ends_at_its_snapshot(tiny_run):
    from dcviz.runs.view import RunSoFar
    view = tiny_run.view
    so_far = RunSoFar(view, 1)
    assert so_far.count == 2 and so_far.rows() == view.rows()[:2]
    assert so_far.snapshot(-1).epoch == view.snapshot(1).epoch
    assert so_far.method_id == view.method_id and so_far.config == view.config
    import pytest
    with pytest.raises(IndexError):
        so_far.snapshot(2)
    assert RunSoFar(view, 99).count == view.count  # not past the run


def test_dekm_spectrum_of_one_iteration_is_drawn():
    """At the first k-means iteration (live, or replayed up to it) the spectrum has one point
    per eigenvalue: as lines of one point, the chart was empty."""
    import numpy as np
    from dcviz.viz.dekm import spectrum_figure
    one = spectrum_figure(np.array([[0.5, 2.0, 9.0]]), 0)
    assert len(one.data) == 3 and all("markers" in t.mode for t in one.data)
    assert all(t.mode == "lines" for t in spectrum_figure(np.ones((2, 3)), 1).data)


def test_present_redraws_a_snapshot_without_building_it_again(tiny_store, tiny_run, app,
                                                              monkeypatch):
    """After Back or Next the page is drawn a second time, whole, to stop the timer: that
    redraw shows what was just built, at once."""
    import dcviz.viz.common as common
    built = []
    figure = common.latent_figure
    monkeypatch.setattr(common, "latent_figure", lambda *a, **k: built.append(1) or figure(*a, **k))
    at = app("present", run=tiny_run.run_id)
    at.button(key="present_next").click().run()
    assert at.session_state["present_playing"] is False
    built.clear()
    at.run()
    assert not at.exception and not built


# ----------------------------------------------------------------- the browser's late word
def _number(at) -> int:
    return at.slider(key="present_index_number").value


def test_present_a_late_slider_value_is_not_a_move(tiny_store, tiny_run, app):
    """The browser sends the slider's value back with each redraw it asks for; while the player
    moves by itself, that can be a position it has not caught up from. Taken as the user's
    move, playing showed snapshots twice, and a tick after Next went back a snapshot."""
    at = app("present", run=tiny_run.run_id)
    assert at.session_state["present_index"] == 0 and at.session_state["present_playing"]
    at.run()                                   # a tick: snapshot 1 (the slider says 2)
    assert at.session_state["present_index"] == 1 and _number(at) == 2
    at.slider(key="present_index_number").set_value(1).run()  # the next tick, the browser late
    assert at.session_state["present_index"] == 2              # on, not snapshot 1 again
    # Next, with the browser one snapshot late: one on from the snapshot drawn last
    at.slider(key="present_index_number").set_value(2)
    at.button(key="present_next").click().run()
    assert at.session_state["present_playing"] is False
    assert at.session_state["present_index"] == 3
    # a tick still on its way after Next, the browser still late: not a step back
    at.slider(key="present_index_number").set_value(3).run()
    assert at.session_state["present_index"] == 3 and _number(at) == 4
    # the user's own moves are moves, there and back
    at.slider(key="present_index_number").set_value(1).run()
    assert at.session_state["present_index"] == 0
    at.slider(key="present_index_number").set_value(4).run()
    assert at.session_state["present_index"] == 3
