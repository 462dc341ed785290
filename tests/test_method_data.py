"""Methods and their data (issue 21): the Train page preselects each method's paper data set,
and Home and Train name data sets the same way (by their titles)."""
from __future__ import annotations

import pytest

from dcviz import data as D
from dcviz.methods import REGISTRY, featured
from pagekit import open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TITLES = {d["id"]: d["title"] for d in D.list_datasets()}


def data_box(at):
    return at.sidebar.selectbox(key="train_data_Built in")


def test_choosing_a_method_preselects_its_paper_data(runs_dir):
    at = open_page("train")
    assert not at.exception
    assert at.sidebar.selectbox(key="train_method").value == "dekm"
    assert data_box(at).value == "digits"  # the first method's own data on a first visit
    for method, data in (("dcrl", "digits"), ("gan", "digits"), ("acedec", "objects"),
                         ("dcrl", "digits"), ("mlc", "sphere2")):
        at.sidebar.selectbox(key="train_method").set_value(method).run()
        assert not at.exception, method
        assert data_box(at).value == data == REGISTRY[method].try_it, method
        notes = [c.value for c in at.sidebar.caption]
        assert f"Data: {TITLES[data]}, preselected: the built-in data set closest to its " \
               "paper's." in notes, (method, notes)
    # a baseline has no card (no try_it): it brings the first built-in data set it suits
    at.sidebar.selectbox(key="train_method").set_value("dec").run()
    assert data_box(at).value == "digits"
    # data chosen after the method is kept, and a method not made for it says so
    at.sidebar.selectbox(key="train_method").set_value("gan").run()
    data_box(at).set_value("sphere2").run()
    assert data_box(at).value == "sphere2" and at.sidebar.selectbox(key="train_method").value == "gan"
    warnings = [w.value for w in at.sidebar.warning]
    assert any("was not made for Two manifolds on the sphere" in w and TITLES["digits"] in w
               for w in warnings), warnings


def test_a_users_file_is_never_replaced_by_the_paper_data(runs_dir):
    at = open_page("train")
    at.sidebar.button_group(key="train_source").set_value("Upload").run()
    at.sidebar.selectbox(key="train_method").set_value("dcrl").run()
    assert not at.exception
    assert at.sidebar.button_group(key="train_source").value == "Upload"


def test_home_and_train_name_data_sets_by_the_same_titles(runs_dir):
    at = open_page("home")
    assert not at.exception
    labels = {b.key: b.label for b in at.button}
    for cls in featured():
        assert labels[f"home_try_{cls.id}"] == f"Try it on {TITLES[cls.try_it]}", labels
    train = open_page("train")
    shown = data_box(train).options  # what the Train menu shows: the titles
    for cls in featured():
        assert TITLES[cls.try_it] in shown, (cls.id, shown)
