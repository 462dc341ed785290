"""Run management: rename, tag, delete (with a confirmation on the page), re-run."""
from __future__ import annotations

import json
import os

import pytest

from dcviz.runs import manage as G
from dcviz.runs.archive import import_run_folder
from dcviz.runs import RunManager, RunStore
from dcviz.runs.manager import LiveRun
from pagekit import open_page, page_text
from test_pages import assert_clean

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def two_runs(tiny_run, runs_dir):
    """Two copies of the tiny run in a fresh store (DCVIZ_RUNS_DIR): older first."""
    store = RunStore(runs_dir)
    a = import_run_folder(store, tiny_run.rd.path)
    b = import_run_folder(store, tiny_run.rd.path)
    os.utime(store.root / a / "config.json", (1, 1_000_000))  # a is clearly the older one
    return store, a, b


def test_names_and_tags_are_checked():
    assert G.clean_name("  my   run\n") == "my run"
    with pytest.raises(G.ManageError, match="at most 100"):
        G.clean_name("x" * 101)
    assert G.parse_tags("baseline, lr-sweep baseline #seed:1") == ["baseline", "lr-sweep", "seed:1"]
    assert G.parse_tags(["a", "b", "a"]) == ["a", "b"]
    assert G.parse_tags("") == []
    with pytest.raises(G.ManageError, match="letters, digits"):
        G.parse_tags("ok, <script>")
    with pytest.raises(G.ManageError, match="at most 20"):
        G.parse_tags(" ".join(f"t{i}" for i in range(21)))


def test_rename_and_tag_keep_the_run_list_order(two_runs):
    store, a, b = two_runs
    assert store.ids() == [b, a]
    G.rename(store, a, "the old one")
    G.set_tags(store, a, "x, y")
    assert store.ids() == [b, a], "editing a run must not move it to the top"
    cfg = store.open(a).read_config()
    assert cfg["name"] == "the old one" and cfg["tags"] == ["x", "y"]
    assert store.open(a).summary()["name"] == "the old one"


def test_delete_refuses_a_live_run(two_runs):
    store, a, b = two_runs
    mgr = RunManager(store.root)
    mgr.live[a] = LiveRun(a, "ae-kmeans", "digits", state="running")
    assert "stop it first" in G.can_delete(mgr, a)
    with pytest.raises(G.ManageError, match="stop it first"):
        G.delete(mgr, a)
    assert a in store.ids()
    mgr.live[a].state = "done"
    G.delete(mgr, a)
    assert store.ids() == [b] and a not in mgr.live


def test_delete_refuses_a_run_another_process_trains(two_runs):
    """The CLI, a sweep or another app trains the run (status.json: running, a live pid that is
    not this process): its folder is not pulled from under it. Once that process is gone the
    run is cut off and may go."""
    import subprocess
    import sys
    store, a, b = two_runs
    mgr = RunManager(store.root)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store.open(a).write_status("running", force=True)
        status = store.open(a).read_status(raw=True)
        (store.root / a / "status.json").write_text(json.dumps({**status, "pid": other.pid}))
        why = G.can_delete(mgr, a)
        assert why and f"another process (pid {other.pid})" in why
        with pytest.raises(G.ManageError, match="another process"):
            G.delete(mgr, a)
        assert a in store.ids()
    finally:
        other.kill()
        other.wait()
    assert G.can_delete(mgr, a) is None
    G.delete(mgr, a)
    assert store.ids() == [b]


def test_rerun_uses_the_same_config_and_seed(two_runs, monkeypatch):
    store, a, b = two_runs
    mgr = RunManager(store.root)
    launched = {}

    def fake_launch(method, data, config, preset="quick", name=""):
        launched.update(method=method, data=data, config=config, preset=preset, name=name)
        return "new-run"
    monkeypatch.setattr(mgr, "launch", fake_launch)
    assert G.rerun(mgr, a) == "new-run"
    cfg = store.open(a).read_config()
    assert launched["config"] == cfg["config"] and launched["config"]["seed"] == cfg["seed"]
    assert launched["data"] == cfg["data"] and launched["method"] == "ae-kmeans"


def test_rerun_of_a_run_whose_data_is_withheld_says_why(two_runs):
    store, a, b = two_runs
    path = store.root / a / "config.json"
    cfg = json.loads(path.read_text())
    cfg.update(data={"withheld": "mine.npz"}, data_withheld={"original": {"path": "/x/mine.npz"},
                                                            "why": "the run was trained on the file 'mine.npz'"})
    path.write_text(json.dumps(cfg))
    with pytest.raises(G.ManageError, match="mine.npz"):
        G.rerun(RunManager(store.root), a)


# =========================================================================== the page

def test_delete_asks_first_then_deletes(two_runs, tmp_path, monkeypatch):
    store, a, b = two_runs
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page("checkpoints", checkpoints_run=a)
    assert_clean(at)
    at.button(key="checkpoints_manage:delete").click().run()
    assert_clean(at)
    assert a in store.ids(), "deleted without asking"
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="checkpoints_manage:delete_no").click().run()
    assert a in store.ids() and not any("cannot be undone" in w.value for w in at.warning)
    at.button(key="checkpoints_manage:delete").click().run()
    at.button(key="checkpoints_manage:delete_yes").click().run()
    assert not at.exception
    assert store.ids() == [b]
    assert at.selectbox(key="checkpoints_run").value == b


@pytest.mark.parametrize("page", ["explore", "checkpoints"])
def test_a_run_deleted_elsewhere_is_said_while_the_next_one_shows(two_runs, tmp_path, monkeypatch,
                                                                   page):
    """Another tab (or the CLI) deletes the run a page has open: the page says so, shows the
    newest run, and keeps saying it until another run is chosen."""
    import shutil
    store, a, b = two_runs
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page(page, run=a)
    assert_clean(at)
    assert at.selectbox(key=f"{page}_run").value == a
    shutil.rmtree(store.root / a)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key=f"{page}_run").value == b
    said = [w.value for w in at.warning if a in w.value]
    assert said and "no longer" in said[0] and "another tab" in said[0]
    at.run()  # a rerun (the player, a widget) keeps it said
    assert any(a in w.value for w in at.warning)
    assert not any(a in o for o in at.selectbox(key=f"{page}_run").options)


def test_compare_says_which_chosen_run_was_deleted_elsewhere(two_runs, tiny_run):
    import shutil
    store, a, b = two_runs
    c = import_run_folder(store, tiny_run.rd.path)
    at = open_page("compare", runs=f"{a},{b}")
    assert_clean(at)
    assert at.multiselect(key="compare_runs").value == [a, b]
    shutil.rmtree(store.root / a)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="compare_runs").value == [b]
    assert any(a in w.value and "another tab" in w.value for w in at.warning)
    at.multiselect(key="compare_runs").select(c).run()  # a new choice: said no more
    assert not any(a in w.value for w in at.warning)


def test_two_runs_that_read_alike_can_both_be_chosen(two_runs):
    """Two imports of one archive share a label; the picker keeps a choice by its label, so
    without the id added the second could not be opened."""
    from dcviz.runs.labels import distinct
    store, a, b = two_runs
    at = open_page("explore", run=a)
    box = at.selectbox(key="explore_run")
    assert len(set(box.options)) == len(box.options) == 2
    box.select(b).run()
    assert not at.exception
    assert at.selectbox(key="explore_run").value == b
    f = distinct(["x", "y", "z"], lambda k: "same" if k != "z" else "other")
    assert [f(k) for k in "xyz"] == ["same · x", "same · y", "other"]
    f = distinct(["a1", "b1", "c2"], lambda k: "same", tag=lambda k: k[-1], front=True)
    assert [f(k) for k in ("a1", "b1", "c2")] == ["a1 · same", "b1 · same", "2 · same"]
    assert box.options[0].startswith("#") and box.options[1].startswith("#")


def test_a_name_that_cannot_be_written_is_said_and_changes_nothing(two_runs, monkeypatch):
    import errno

    from dcviz.runs import store as S
    store, a, b = two_runs

    def full(path, obj):
        raise OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as m:
        m.setattr(S, "atomic_write_json", full)
        with pytest.raises(G.ManageError, match="could not be written: the disk holding .* is full"):
            G.rename(store, a, "new name")
    assert store.open(a).read_config().get("name") != "new name"
    at = open_page("checkpoints", checkpoints_run=a)
    monkeypatch.setattr(S, "atomic_write_json", full)
    at.text_input(key="checkpoints_manage:name").set_value("new name")
    at.button(key="FormSubmitter:checkpoints_manage:form-Save name and tags").click().run()
    assert not at.exception and at.error and "Not saved" in at.error[0].value


def test_links_to_a_damaged_run_say_so_on_present_and_compare(two_runs):
    """A link to a run whose folder is damaged (a snapshot file removed): Present names the run
    and the damage (it said there was no run to present yet), Compare says it is damaged (it
    said the run was not there)."""
    store, a, b = two_runs
    (store.root / a / "snapshots" / "000001.npz").unlink()
    at = open_page("present", run=a)
    assert not at.exception
    said = [e.value for e in at.error]
    assert said and a in said[0] and "snapshot 1 is missing" in said[0]
    assert not any("no run to present" in i.value for i in at.info)
    at = open_page("compare", runs=f"{a},{b}")
    assert not at.exception
    assert any(w.value.startswith("Damaged") and a in w.value for w in at.warning)


def test_metrics_lines_of_the_wrong_types_or_past_the_snapshots_do_not_break_pages(two_runs):
    """metrics.jsonl is plain text: a line whose fields have other types, and lines for
    snapshots that are not on disk. Each field is read only with its type; Compare drew the
    rows past the snapshots and failed (int('x'), then 'asked for snapshot 5')."""
    import json as _json

    from dcviz.runs.store import clean_row
    store, a, b = two_runs
    row = {"index": 9, "epoch": "x", "step": True, "progress": float("nan"), "stage": 3,
           "metrics": {"nmi": 0.5, "acc": "high"}, "scalars": {"k": 1, "name": "s", "l": [1]},
           "time": 1.0}
    assert clean_row(row) == {"index": 9, "time": 1.0, "metrics": {"nmi": 0.5},
                              "scalars": {"k": 1.0, "name": "s"}}
    with open(store.root / a / "metrics.jsonl", "a") as f:
        f.write(_json.dumps(row) + "\n[1, 2]\n" + _json.dumps({"epoch": 99}) + "\n")
    rows = store.open(a).metrics_rows()
    assert rows[-2]["index"] == 9 and rows[-1] == {"epoch": 99}
    for page in ("compare", "explore", "present"):
        at = open_page(page, run=a, runs=f"{a},{b}")
        assert not at.exception, (page, [e.value for e in at.exception])


def test_a_rename_and_the_runs_own_config_write_do_not_undo_each_other(two_runs):
    """The page renames a run while its thread records its pretrained AE in config.json: each
    is a read-modify-write of one file, so without one lock either could drop the other's
    field."""
    import threading
    store, a, b = two_runs
    rd = store.open(a)

    def names():
        for i in range(150):
            G.rename(store, a, f"name {i}")

    def records():
        for i in range(150):
            rd.update_config(pretrained={"entry": f"e{i}"})
    threads = [threading.Thread(target=names), threading.Thread(target=records)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cfg = rd.read_config()
    assert cfg["name"] == "name 149" and cfg["pretrained"] == {"entry": "e149"}


def test_rename_and_tag_on_the_page(two_runs, tmp_path, monkeypatch):
    store, a, b = two_runs
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page("checkpoints", checkpoints_run=a)
    at.text_input(key="checkpoints_manage:name").set_value("first try")
    at.text_input(key="checkpoints_manage:tags").set_value("baseline, digits")
    at.button(key="FormSubmitter:checkpoints_manage:form-Save name and tags").click().run()
    assert_clean(at)
    cfg = store.open(a).read_config()
    assert cfg["name"] == "first try" and cfg["tags"] == ["baseline", "digits"]
    assert any("first try" in o for o in at.selectbox(key="checkpoints_run").options)
    at.text_input(key="checkpoints_manage:tags").set_value("bad<tag>")
    at.button(key="FormSubmitter:checkpoints_manage:form-Save name and tags").click().run()
    assert not at.exception
    assert at.error and "Not saved" in at.error[0].value


def test_explore_run_tab_exports_and_reruns(two_runs, tmp_path, monkeypatch):
    store, a, b = two_runs
    at = open_page("explore", run=a, tab="Run")
    assert_clean(at)
    downloads = at.get("download_button")
    assert len(downloads) == 3  # run zip, embeddings CSV, embeddings NPZ
    at.button(key="explore_manage:rerun").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    ids = store.ids()
    assert len(ids) == 3
    new = next(i for i in ids if i not in (a, b))
    old_cfg, new_cfg = store.open(a).read_config(), store.open(new).read_config()
    assert new_cfg["config"] == old_cfg["config"] and new_cfg["seed"] == old_cfg["seed"]
    assert new_cfg["data"] == old_cfg["data"]
    assert at.session_state["train_focus"] == new  # it opens on the Train page
