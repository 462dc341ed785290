"""The Sweeps page: a sweep opens as the papers' table with a dot per seed, and a dot opens its
run in Explore; the Train page's "Compare methods" runs a small sweep through the run manager."""
from __future__ import annotations

import pytest

from pagekit import open_page, page_text

from dcviz.runs.sweep import Plan, Sweep, run_sweep

PLAN = Plan(methods=["ae-kmeans", "dekm"], data=["blobs8:n_samples=400"], seeds=[0, 1],
            sets={"pretrain_epochs": "2", "max_iter": "2"})


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-runs")
    sweep = Sweep.create(root, PLAN)
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 4}
    return root, sweep


def _dots(at):
    charts = [c for c in at.get("plotly_chart")]
    assert charts, "no plotly chart on the page"
    import json
    spec = json.loads(charts[0].proto.spec)
    return spec


def test_sweeps_page_without_sweeps(runs_dir):
    at = open_page("sweeps")
    assert not at.exception
    assert "No sweep yet" in page_text(at)


def test_sweep_opens_as_table_with_a_dot_per_seed(sweep_store, monkeypatch):
    root, sweep = sweep_store
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    at = open_page("sweeps")
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["method"]) == ["ae-kmeans", "dekm"] and list(df["seeds"]) == [2, 2]
    assert r"settings pretrain\_epochs=2, max\_iter=2" in page_text(at)  # as typed, no dict
    assert {"ACC", "NMI", "ARI", "time (s)"} <= set(df.columns)
    spec = _dots(at)
    dots = [t for t in spec["data"] if t.get("customdata")]
    assert len(dots) == 3  # ACC, NMI, ARI panels
    run_ids = sorted(t["run_id"] for t in sweep.trials())
    for trace in dots:
        assert sorted(trace["customdata"]) == run_ids  # one dot per seed and row
    # the scores' axes end at 1 (all seeds at 1.0 drew an axis from 0 to 2)
    axes = [v for k, v in spec["layout"].items() if k.startswith("xaxis")]
    assert len(axes) == 3 and all(a["range"][1] == 1.05 and a["range"][0] <= -0.05 for a in axes)


def test_a_dot_opens_its_run_in_explore(sweep_store, monkeypatch):
    root, sweep = sweep_store
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    run_id = sweep.trials()[3]["run_id"]
    at = open_page("sweeps")
    # a selection that names no run of this sweep opens nothing
    at.session_state["sweep_dots"] = {"selection": {"points": [{"customdata": "not-a-run"}],
                                                    "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception and [t.value for t in at.title] == ["Sweeps"]
    at.session_state["sweep_dots"] = {"selection": {"points": [{"customdata": run_id}],
                                                    "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception
    assert at.query_params.get("run") in (run_id, [run_id])
    assert "Sweeps" not in [t.value for t in at.title]  # Explore drew instead


TINY_PRESETS = {"ae-kmeans": {"pretrain_epochs": 2}, "dec": {"pretrain_epochs": 2, "epochs": 1},
                "dekm": {"pretrain_epochs": 2, "max_iter": 2}}


def test_compare_methods_runs_three_methods_over_three_seeds_and_shows_the_table(runs_dir,
                                                                                monkeypatch):
    from dcviz.methods import REGISTRY
    from dcviz.runs.sweep import Sweep
    from ui.shared import MANAGERS

    for mid, tiny in TINY_PRESETS.items():  # tiny "quick" presets, for this test only
        monkeypatch.setitem(REGISTRY[mid].Config.presets, "quick", tiny)
    at = open_page("train")
    assert not at.exception
    at.multiselect(key="train_compare_methods").set_value(list(TINY_PRESETS)).run()
    at.button(key="train_compare").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Sweeps"]
    sweep_id = at.query_params.get("sweep")
    sweep_id = sweep_id[0] if isinstance(sweep_id, list) else sweep_id
    sweep = Sweep.open(runs_dir, sweep_id)
    trials = sweep.trials()
    assert sorted((t["method"], t["seed"]) for t in trials) == sorted(
        (m, s) for m in TINY_PRESETS for s in (0, 1, 2))
    assert all(t["data"]["name"] == "digits" for t in trials)
    mgr = next(m for m in MANAGERS if str(m.store.root) == str(runs_dir.resolve()))
    for t in trials:  # the run manager trains them (its threads, its limit on runs at once)
        assert t["run_id"] in mgr.live
        assert mgr.wait(t["run_id"], timeout=600) == "done"
    # the click switched to the Sweeps page with ?sweep=; AppTest's run() replays the page it
    # was last switched to by the test, so go there as the browser did
    at.switch_page("pages/sweeps.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sweeps"]
    df = at.dataframe[0].value
    assert sorted(df["method"]) == sorted(TINY_PRESETS) and list(df["seeds"]) == [3, 3, 3]
    assert Sweep.open(runs_dir, sweep_id).counts() == {"done": 9}


def test_a_damaged_manifest_is_an_error_not_a_crash(sweep_store, tmp_path, monkeypatch):
    import json
    import shutil
    root, sweep = sweep_store
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    manifest = copy / "sweeps" / sweep.sweep_id / "sweep.json"
    m = json.loads(manifest.read_text())
    del m["trials"][1]["data_label"]
    m["trials"][2]["seed"] = "zero"
    manifest.write_text(json.dumps(m))
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(copy))
    at = open_page("sweeps")
    assert not at.exception
    assert "cannot be read" in page_text(at) and "damaged" in page_text(at)


def test_a_manifest_that_cannot_be_written_still_shows_the_table(sweep_store, tmp_path,
                                                                 monkeypatch):
    """The page brings the manifest's trial states up to date from the run folders and writes
    it back; on a full disk that write fails, and the page shows the right table all the same
    (it showed Streamlit's traceback)."""
    import errno
    import json
    import shutil
    root, sweep = sweep_store
    copy = tmp_path / "runs"
    shutil.copytree(root, copy)
    mine = Sweep.open(copy, sweep.sweep_id)
    manifest = json.loads(mine.manifest_path.read_text())
    manifest["trials"][0]["state"] = "queued"  # stale: the run folder says done
    mine.manifest_path.write_text(json.dumps(manifest))

    def full(self, manifest):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(Sweep, "write", full)
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(copy))
    at = open_page("sweeps")
    assert not at.exception, [e.value for e in at.exception]
    assert list(at.dataframe[0].value["seeds"]) == [2, 2]


def test_the_sweep_picker_says_nothing_that_changes_while_the_page_is_open(sweep_store,
                                                                           monkeypatch):
    """The picker's label said "0/6 done"; the browser kept that label of the chosen sweep after
    all six trials were done (the table's caption said "6 done"), as it keeps a keyed box's
    labels. The label now says what never changes; the caption counts what is done."""
    root, sweep = sweep_store
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    at = open_page("sweeps")
    assert not at.exception
    box = at.selectbox(key="sweep_pick")
    label = box.format_func(box.value)
    assert label == f"{sweep.sweep_id}: ae-kmeans, dekm on blobs8:n_samples=400 · 4 trials", label
    assert r"4 trials\: 4 done" in page_text(at)


def test_the_tables_downloads_sit_side_by_side_not_half_a_page_apart(sweep_store, monkeypatch):
    """The two downloads were in two half-page columns: "Table as Markdown" floated in the
    middle of the page at 1280 px, under nothing."""
    root, sweep = sweep_store
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    at = open_page("sweeps")
    assert not at.exception
    assert not at.columns, len(at.columns)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Table as CSV", "Table as Markdown"], labels


def test_compare_methods_with_a_preset_one_method_lacks_names_that_method(runs_dir):
    """GAN with its demo preset, compared with DEKM: the page said "Could not compare: unknown
    preset 'demo'; choose one of ['paper', 'quick']", naming no method."""
    at = open_page("train", train_method="gan", train_preset_gan="demo")
    assert not at.exception
    at.multiselect(key="train_compare_methods").set_value(["gan", "dekm"]).run()
    at.button(key="train_compare").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("DEKM has no 'demo' preset" in e and "'paper' and 'quick'" in e
               for e in errors), errors
    assert [t.value for t in at.title] == ["Train"]  # stayed, nothing launched


def test_compare_methods_says_how_many_runs_and_warns_of_the_paper_presets_hours(runs_dir):
    """Compare methods on the paper preset launched 3 seeds x each method of hours-long runs
    without a word of their length."""
    at = open_page("train", train_method="dekm", train_preset_dekm="paper")
    at.multiselect(key="train_compare_methods").set_value(["dekm", "dec"]).run()
    assert not at.exception
    warned = [w.value for w in at.warning if "6 runs" in w.value]
    assert warned and "hours a run" in warned[0], [w.value for w in at.warning]
    at = open_page("train", train_method="dekm", train_preset_dekm="quick")
    at.multiselect(key="train_compare_methods").set_value(["dekm", "dec"]).run()
    said = [c.value for c in at.caption if "6 runs" in c.value]
    assert said and "DEKM 25 s" in said[0] and "hours" not in said[0], said
    assert not [w.value for w in at.warning if "6 runs" in w.value]


def test_compare_methods_follows_the_method_until_other_methods_are_picked(runs_dir):
    at = open_page("train", train_method="dekm")
    assert at.multiselect(key="train_compare_methods").value == ["dekm"]
    at.session_state["train_method"] = "dec"
    at.run()
    assert at.multiselect(key="train_compare_methods").value == ["dec"]  # it kept dekm
    at.multiselect(key="train_compare_methods").set_value(["dec", "idec"]).run()
    at.session_state["train_method"] = "dcn"
    at.run()
    assert at.multiselect(key="train_compare_methods").value == ["dec", "idec"]  # the user's
