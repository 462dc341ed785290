"""Train page for the lecture hall: the last ended run stays in view, the time left, and how long
a run took before (issue 21)."""
from __future__ import annotations

from pagekit import finished_run, page_text


def test_train_keeps_the_last_finished_run_in_view_after_a_reload(tiny_store, tiny_run, app):
    at = app("train")  # a fresh session: nothing launched from it, nothing training
    assert not at.exception
    assert at.session_state["train_focus"] == tiny_run.run_id
    text = page_text(at)
    assert "Nothing is training now" in text and "Last snapshot" in text
    stage = tiny_run.view.snapshot(-1).stage  # in full, not cut short as a metric tile did
    assert any(f"<div class='dcviz-stage'>{stage}</div>" in str(m.value) for m in at.markdown)
    links = [p.proto for p in at.get("page_link")]
    assert any(p.label == "Explore" and "explore" in p.page and tiny_run.run_id in p.query_string
               for p in links), links


def test_a_stopped_run_is_kept_in_view_and_says_stopped(make_run, app):
    run = make_run("ae-kmeans", "digits", {"pretrain_epochs": 2, "snapshot_every": 1,
                                           "subsample": 300})
    run.rd.write_status("stopped", force=True, seconds=3.0)
    at = app("train")
    assert not at.exception
    assert at.session_state["train_focus"] == run.run_id
    assert "stopped" in page_text(at)


def test_before_launch_the_page_says_how_long_the_same_run_took_here(runs_dir, app):
    finished_run(runs_dir, "ae-kmeans", 30.0)  # the quick preset's own settings
    at = app("train", train_method="ae-kmeans")
    assert not at.exception
    notes = [c.value for c in at.sidebar.caption]
    assert any("took about 30 s" in n and "the one earlier run in the run store" in n
               for n in notes), notes
    at = app("train", train_method="dekm")
    notes = [c.value for c in at.sidebar.caption]
    assert any("No earlier run of DEKM" in n for n in notes), notes


def test_a_run_with_its_own_settings_says_nothing_of_the_presets_time(tiny_store, app):
    """tiny_run is the quick preset with 3 pretraining epochs (20 in the preset): its few
    seconds were shown as what the quick preset takes."""
    at = app("train", train_method="ae-kmeans")
    assert not at.exception
    notes = [c.value for c in at.sidebar.caption]
    assert any("No earlier run of AE + k-means" in n for n in notes), notes
