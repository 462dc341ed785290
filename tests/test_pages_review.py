"""AppTests of defects a review found in the pages: a sweep picker the link kept undoing, a
contingency of runs that share no point, an upload that stopped feeding the data after a switch
of run, a damaged run folder that broke Checkpoints, a run compared with itself, a failed run
"waiting" for its first snapshot, and a page link without help text."""
from __future__ import annotations

import io

import numpy as np
import pytest

from pagekit import APP, open_page, page_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _train(root, seed: int) -> str:
    import torch

    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, execute, prepare
    torch.set_num_threads(1)
    ds = D.load("digits")
    cls, cfg = prepare("ae-kmeans", ds, {"pretrain_epochs": 2, "subsample": 100, "seed": seed},
                       "quick")
    rd = create_run(RunStore(root), cls, cfg, ds, "quick")
    execute(rd, cls, cfg, ds)
    assert rd.has_checkpoint()
    return rd.run_id


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two finished runs on digits, each with a checkpoint, that follow no point in common: what
    two seeds give on a data set much larger than the subsample (the second run's subsample is
    rewritten here, to the same size, as digits is too small for that to happen by chance)."""
    from dcviz.runs import RunStore
    root = tmp_path_factory.mktemp("review-runs")
    a, b = _train(root, 0), _train(root, 1)
    store = RunStore(root)
    sub_a = store.open(a).read_subsample()
    sub_b = np.setdiff1d(np.arange(1797), sub_a)[:len(sub_a)]
    store.open(b).write_subsample(sub_b)
    return root, a, b


@pytest.fixture
def review_store(two_runs, monkeypatch):
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(two_runs[0]))
    return two_runs


# ---------------------------------------------------------------- Sweeps: the picker and ?sweep=

def test_the_sweep_picker_can_leave_the_linked_sweep(runs_dir):
    import time

    from streamlit.testing.v1 import AppTest

    from dcviz.runs.sweep import Plan, Sweep
    first = Sweep.create(runs_dir, Plan(methods=["ae-kmeans"], data=["blobs8:n_samples=400"],
                                        seeds=[0])).sweep_id
    time.sleep(1.1)  # sweeps are listed newest first, by the second
    newest = Sweep.create(runs_dir, Plan(methods=["dekm"], data=["blobs8:n_samples=400"],
                                         seeds=[0])).sweep_id
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["sweep"] = first
    at.run()
    at.switch_page("pages/sweeps.py").run()
    assert not at.exception
    assert at.selectbox(key="sweep_pick").value == first  # the link is followed
    at.selectbox(key="sweep_pick").select(newest).run()
    assert not at.exception
    assert at.selectbox(key="sweep_pick").value == newest  # and then the user's choice
    assert at.query_params["sweep"] in (newest, [newest])
    at.run()
    assert at.selectbox(key="sweep_pick").value == newest
    # a link to a sweep that is not there is said, not silently swapped for another
    at.query_params["sweep"] = "sweep-0000000000"
    at.run()
    assert not at.exception
    assert any("No such sweep" in w.value and "sweep-0000000000" in w.value for w in at.warning)
    assert at.selectbox(key="sweep_pick").value == newest


# ---------------------------------------------------------------- Compare

def test_compare_runs_with_no_point_in_common(review_store):
    _, a, b = review_store
    at = open_page("compare", runs=f"{a},{b}")
    assert not at.exception, [e.value for e in at.exception]
    assert any("no point is in both" in i.value for i in at.info)
    assert at.get("plotly_chart"), "the latent views and curves are still drawn"


def test_a_link_naming_one_run_twice_compares_nothing_with_itself(review_store):
    _, a, _ = review_store
    at = open_page("compare", runs=f"{a},{a}")
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == [a]
    assert any("more than once" in w.value for w in at.warning)


# ---------------------------------------------------------------- Checkpoints

def _npz(n: int) -> bytes:
    from dcviz import data as D
    ds = D.load("digits")
    buf = io.BytesIO()
    np.savez(buf, x=ds.x[:n].reshape(-1, 8, 8), y=ds.y[:n])
    return buf.getvalue()


def test_an_upload_feeds_whichever_run_is_open(review_store, tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))  # the upload stays in the test
    _, a, b = review_store
    upload = ("new.npz", _npz(120), "application/octet-stream")
    at = open_page("checkpoints", run=a, checkpoints_source="Upload a file")
    at.file_uploader(key="checkpoints_upload").set_value(upload).run()
    assert not at.exception
    assert "120 points" in page_text(at)
    at.selectbox(key="checkpoints_run").select(b).run()  # the file stays in its box
    assert not at.exception
    assert at.selectbox(key="checkpoints_run").value == b
    assert "120 points" in page_text(at), "the upload was ignored for the second run"
    # Built-in data pushed, then the same file again: the file is what is pushed
    at.button_group(key="checkpoints_source").set_value("Built-in data").run()
    at.button(key="checkpoints_go").click().run()
    assert not at.exception and "120 points" not in page_text(at)
    at.button_group(key="checkpoints_source").set_value("Upload a file").run()
    at.file_uploader(key="checkpoints_upload").set_value(upload).run()
    assert not at.exception
    assert "120 points" in page_text(at)


def test_a_damaged_run_folder_does_not_break_checkpoints(runs_dir):
    folder = runs_dir / "20261201-000000-dec-abcd"
    folder.mkdir()
    (folder / "config.json").symlink_to(runs_dir / "nowhere" / "config.json")
    at = open_page("checkpoints")
    assert not at.exception, [e.value for e in at.exception]
    assert "No run has a checkpoint yet" in page_text(at)


# ---------------------------------------------------------------- Train and Present

def test_a_run_that_failed_before_its_first_snapshot_is_not_awaited(runs_dir):
    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, prepare
    ds = D.load("digits")
    cls, cfg = prepare("ae-kmeans", ds, {}, "quick")
    rd = create_run(RunStore(runs_dir), cls, cfg, ds, "quick")
    rd.write_status("failed", force=True, error="CUDA out of memory")
    at = open_page("train", train_focus=rd.run_id)
    assert not at.exception
    text = page_text(at)
    assert "ended before its first snapshot" in text
    assert "Waiting for the first snapshot" not in text


def test_present_with_no_runs_links_to_train_with_help(runs_dir):
    at = open_page("present")
    assert not at.exception
    links = [p.proto for p in at.get("page_link")]
    train = [p for p in links if p.label == "Train page"]
    assert train and all(p.help.strip() for p in train)
