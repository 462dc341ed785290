"""The run's record of its training data's magnitudes (config.json's ``data_scale``).

The Checkpoints page warns when new data is on another scale than the training data
(dcviz.inference.scale_warning). Where the data set itself is not on this machine (an imported
run trained on a file, or on a download not cached here), the warning compares against this
record; a missing or malformed record (an old or hand-edited run) means no warning, never a crash.

The runs are copies of the session's tiny ae-kmeans run on digits (tests/conftest.py).
"""
from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest

from dcviz import data as D
from dcviz import inference as I
from dcviz.runs import RunStore
from dcviz.runs.archive import export_zip, import_archive, import_run_folder
from dcviz.runs.store import DATA_SCALE, data_scale, read_data_scale

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _copy_run(tiny_run, root, **fields):
    """A copy of the tiny run in the store at ``root`` with config.json fields set (a field set
    to ... is removed)."""
    root.mkdir(parents=True, exist_ok=True)
    dest = root / tiny_run.run_id
    shutil.copytree(tiny_run.rd.path, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg.update({k: v for k, v in fields.items() if v is not ...})
    for k in [k for k, v in fields.items() if v is ...]:
        cfg.pop(k, None)
    (dest / "config.json").write_text(json.dumps(cfg))
    return RunStore(root).open(tiny_run.run_id)


def _raw_digits(factor: float, name: str = "mine.npz"):
    raw = D.load("digits")
    return D.Dataset(x=(raw.x * factor).astype(np.float32), y=raw.y, image_shape=raw.image_shape,
                     name=name)


# =========================================================================== the record

def test_data_scale_is_what_scale_warning_measures():
    x = np.random.default_rng(0).normal(0, 3, (301, 7)).astype(np.float32)
    rec = data_scale(x)
    lo, hi, big, mean = I._magnitudes(x)
    assert rec["features"] == 7
    np.testing.assert_allclose([rec["min"], rec["max"], rec["abs_max"], rec["abs_mean"]],
                               [lo, hi, big, mean], rtol=1e-9)
    # read in small row blocks: the same record
    small = data_scale(x, chunk=10)
    assert small["features"] == 7
    np.testing.assert_allclose([small[k] for k in ("min", "max", "abs_max", "abs_mean")],
                               [rec[k] for k in ("min", "max", "abs_max", "abs_mean")], rtol=1e-9)
    assert read_data_scale(json.loads(json.dumps(rec))) == rec
    # nothing to record for data that is not a table of finite numbers
    assert data_scale(np.zeros((0, 3))) is None and data_scale(np.zeros(5)) is None
    assert data_scale(np.array([[1.0, np.nan]])) is None


GOOD = {"min": 0.0, "max": 1.0, "abs_max": 1.0, "abs_mean": 0.3, "features": 64}


@pytest.mark.parametrize("record", [
    None, [], "0-1", 7, {},
    {**GOOD, "features": None}, {**GOOD, "features": True}, {**GOOD, "features": 0},
    {**GOOD, "features": 64.0}, {**GOOD, "abs_max": "1"}, {**GOOD, "abs_max": True},
    {**GOOD, "abs_mean": float("nan")}, {**GOOD, "max": float("inf")}, {**GOOD, "min": 10 ** 400},
    {**GOOD, "min": 2.0},                       # min above max
    {**GOOD, "abs_mean": 2.0},                  # mean |x| above the largest |x|
    {**GOOD, "abs_max": 16.0},                  # largest |x| not max(|min|, |max|)
    {k: v for k, v in GOOD.items() if k != "abs_mean"},
])
def test_a_malformed_record_is_no_record(record):
    assert read_data_scale(record) is None
    x = _raw_digits(16.0).x
    assert I.scale_warning(x, None, train_scale=record) is None


def test_a_record_for_other_features_gives_no_warning():
    x = _raw_digits(16.0).x
    assert I.scale_warning(x, None, train_scale=GOOD)
    assert I.scale_warning(x, None, train_scale={**GOOD, "features": 10}) is None


def test_a_new_run_records_its_data_scale(tmp_path):
    from dcviz.runs.engine import create_run, prepare
    raw = D.load("digits")
    cls, cfg = prepare("ae-kmeans", raw, {"pretrain_epochs": 1})
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, raw, "quick")
    rec = rd.read_config()[DATA_SCALE]
    assert rec == data_scale(raw.x) == read_data_scale(rec)
    assert rec["features"] == 64 and rec["min"] == 0 and rec["max"] == 1


# =========================================================================== the warning

def test_a_run_whose_data_is_not_here_warns_from_its_record(tiny_run, tmp_path):
    """A run trained on a file of another machine: its data set does not load here, but its
    record says the training data ran from 0 to 1, so raw 0-16 digits are warned about."""
    raw = D.load("digits")
    rd = _copy_run(tiny_run, tmp_path / "runs", data={"withheld": "train.npz"},
                   **{DATA_SCALE: data_scale(raw.x)})
    from dcviz.runs.view import RunView
    view = RunView(rd)
    assert view.dataset is None                         # the data is not on this machine
    model = I.open_model(rd)
    res = I.infer(model, _raw_digits(16.0), train_x=I.training_x(model, view.dataset),
                  train_data=None)
    assert res.scale_warning and "mine.npz is on another scale" in res.scale_warning
    assert "larger" in res.scale_warning and "from 0 to 1 " in res.scale_warning
    assert res.assign.shape == (raw.n,)                 # still assigned
    small = I.infer(model, _raw_digits(16.0 / 255.0))
    assert small.scale_warning and "smaller" in small.scale_warning
    # the same scale: no warning
    assert I.infer(model, _raw_digits(1.0)).scale_warning is None


@pytest.mark.parametrize("record", [..., None, "big", {"min": "0", "max": 1},
                                    {**GOOD, "abs_mean": -1.0}, {**GOOD, "features": 8}])
def test_an_old_or_hand_edited_record_gives_no_warning_and_no_crash(record, tiny_run, tmp_path):
    rd = _copy_run(tiny_run, tmp_path / "runs", data={"withheld": "train.npz"},
                   **{DATA_SCALE: record})
    model = I.open_model(rd)
    res = I.infer(model, _raw_digits(16.0))
    assert res.scale_warning is None and res.assign.shape == (1797,)


def test_the_data_itself_wins_over_the_record(tiny_run, tmp_path):
    """Where the training data is here, it is what the new data is compared with."""
    raw = D.load("digits")
    rd = _copy_run(tiny_run, tmp_path / "runs", **{DATA_SCALE: data_scale(raw.x * 16.0)})
    model = I.open_model(rd)
    res = I.infer(model, _raw_digits(16.0), train_data=raw.x)
    assert res.scale_warning and "larger" in res.scale_warning


# =========================================================================== archives

def test_the_record_travels_in_a_run_archive(tiny_run, tmp_path):
    raw = D.load("digits")
    rec = data_scale(raw.x)
    rd = _copy_run(tiny_run, tmp_path / "a", data={"path": str(tmp_path / "nowhere" / "train.npz")},
                   **{DATA_SCALE: rec})
    store = RunStore(tmp_path / "b")
    store.root.mkdir(exist_ok=True)
    run_id = import_archive(store, export_zip(rd.path), label="run.zip")
    cfg = store.open(run_id).read_config()
    assert cfg["data"] == {"withheld": "train.npz"}       # the data is not read here
    assert cfg[DATA_SCALE] == rec
    # the imported run warns about raw 0-16 digits, its data set being elsewhere
    model = I.open_model(store.open(run_id))
    assert "larger" in I.infer(model, _raw_digits(16.0)).scale_warning


def test_a_malformed_record_in_an_archive_is_dropped_on_import(tiny_run, tmp_path):
    rd = _copy_run(tiny_run, tmp_path / "a",
                   **{DATA_SCALE: {**GOOD, "abs_max": "huge", "extra": "<b>x</b>"}})
    store = RunStore(tmp_path / "b")
    store.root.mkdir(exist_ok=True)
    run_id = import_archive(store, export_zip(rd.path))
    assert DATA_SCALE not in store.open(run_id).read_config()
    # extra keys of a good record are not carried
    rd2 = _copy_run(tiny_run, tmp_path / "a2", **{DATA_SCALE: {**GOOD, "extra": "<b>x</b>"}})
    run_id = import_archive(store, export_zip(rd2.path))
    assert store.open(run_id).read_config()[DATA_SCALE] == GOOD


def test_checkpoints_page_warns_for_an_imported_run_without_its_data(tiny_run, runs_dir, tmp_path):
    """End to end: an imported run trained on a file (path withheld) and an upload of raw 0-16
    digit images (which the upload divides by 255): the page warns from the run's record."""
    from pagekit import open_page
    from test_pages import assert_clean
    raw = D.load("digits")
    rd = _copy_run(tiny_run, tmp_path / "elsewhere",
                   data={"path": str(tmp_path / "nowhere" / "train.npz")},
                   **{DATA_SCALE: data_scale(raw.x)})
    run_id = import_run_folder(RunStore(runs_dir), rd.path)
    buf = io.BytesIO()
    np.savez(buf, x=(raw.x[:200] * 16).reshape(-1, 8, 8), y=raw.y[:200])
    at = open_page("checkpoints", checkpoints_run=run_id, checkpoints_source="Upload a file")
    at.file_uploader(key="checkpoints_upload").set_value(("raw.npz", buf.getvalue(),
                                                          "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert not at.error
    assert at.warning and any("on another scale than the data the model was trained on" in w.value
                              for w in at.warning)
