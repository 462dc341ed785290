"""The Train sidebar's data choice (browser audit): every method that names data sets it suits
comes with one of them, baselines included, and says so when the data is one it was not made
for; and Launch after a refused upload says the file was refused, not that no data was chosen."""
from __future__ import annotations

import io

import numpy as np
import pytest

from dcviz import data as D
from dcviz.methods import REGISTRY
from pagekit import open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TITLES = {d["id"]: d["title"] for d in D.list_datasets()}
BASELINES = [m for m in ("dec", "idec", "dcn", "ae-kmeans") if m in REGISTRY]


def method_box(at):
    return at.sidebar.selectbox(key="train_method")


def data_box(at):
    return at.sidebar.selectbox(key="train_data_Built in")


def preselected(data: str) -> str:
    return f"Data: {TITLES[data]}, preselected: the built-in data set closest to its paper's."


@pytest.mark.skipif("acedec" not in REGISTRY, reason="ACe/DeC is not installed")
@pytest.mark.parametrize("method", BASELINES)
def test_a_baseline_brings_a_data_set_it_suits(runs_dir, method):
    """ACe/DeC brings its objects (k 3); a baseline chosen after it must not keep them."""
    at = open_page("train")
    method_box(at).set_value("acedec").run()
    assert data_box(at).value == "objects"
    method_box(at).set_value(method).run()
    assert not at.exception
    cls = REGISTRY[method]
    assert data_box(at).value in cls.suits and data_box(at).value == "digits", method
    assert preselected("digits") in [c.value for c in at.sidebar.caption]
    assert not at.sidebar.warning, [w.value for w in at.sidebar.warning]


@pytest.mark.parametrize("method", BASELINES)
def test_a_baseline_on_data_it_does_not_suit_says_so(runs_dir, method):
    at = open_page("train")
    method_box(at).set_value(method).run()
    data_box(at).set_value("objects").run()  # chosen after the method: kept
    assert not at.exception
    assert data_box(at).value == "objects" and method_box(at).value == method
    warnings = [w.value for w in at.sidebar.warning]
    assert any(f"{REGISTRY[method].title} was not made for {TITLES['objects']}" in w
               and TITLES["digits"] in w for w in warnings), warnings


def test_the_first_built_in_data_set_a_method_suits_is_chosen(runs_dir, monkeypatch):
    """No try_it: the first of its suits that is built in (a download is skipped), on a
    first visit too."""
    monkeypatch.setattr(REGISTRY["dec"], "suits", ("mnist", "blobs8", "digits"))
    at = open_page("train", train_method="dec")
    assert not at.exception
    assert data_box(at).value == "blobs8"
    assert at.sidebar.button_group(key="train_source").value == "Built in"
    method_box(at).set_value("dekm").run()
    assert data_box(at).value == "digits"
    method_box(at).set_value("dec").run()
    assert data_box(at).value == "blobs8"


def test_a_baseline_never_replaces_the_users_file(runs_dir):
    at = open_page("train")
    at.sidebar.button_group(key="train_source").set_value("Upload").run()
    method_box(at).set_value("dec").run()
    assert not at.exception
    assert at.sidebar.button_group(key="train_source").value == "Upload"


def _nan_npz() -> bytes:
    x = np.random.default_rng(0).random((50, 4))
    x[3, 2] = np.nan
    buf = io.BytesIO()
    np.savez(buf, x=x)
    return buf.getvalue()


def test_launch_after_a_refused_upload_says_the_file_was_refused(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page("train")
    at.sidebar.button_group(key="train_source").set_value("Upload").run()
    at.sidebar.file_uploader[0].set_value(("nan.npz", _nan_npz(), "application/octet-stream")).run()
    assert not at.exception
    assert any("NaN" in e.value for e in at.sidebar.error)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert not any("Choose a data set first" in e for e in errors), errors
    assert any("nan.npz was refused" in e and "says why" in e for e in errors), errors
    from ui.shared import manager
    assert manager().store.ids() == []


def test_launch_with_no_file_yet_asks_for_one(runs_dir):
    at = open_page("train")
    at.sidebar.button_group(key="train_source").set_value("Upload").run()
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.exception
    assert any("Choose a data set first" in e.value for e in at.sidebar.error)
