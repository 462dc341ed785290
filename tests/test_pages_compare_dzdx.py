"""Compare's d_Z − d_X histogram and medians say which chosen runs have no such values (a DEKM
run beside a DEC run was left out without a word)."""
from __future__ import annotations

from pagekit import open_page, page_text

from dcviz import compare as K


def test_missing_text_names_the_runs_and_why():
    assert K.dz_dx_missing([]) == ""
    one = K.dz_dx_missing([("DEKM (seed 0) · 7857", "dekm")])
    assert "DEKM (seed 0) · 7857 does not record d_Z − d_X" in one
    assert "DEC" in one and "IDEC" in one and "DCRL" in one  # the methods that do
    both = K.dz_dx_missing([("a", "dekm"), ("b", "gan"), ("c", "dec")])
    assert "a and b do not record" in both and "c has none at the snapshot shown" in both
    assert K.records_dz_dx("dec") and not K.records_dz_dx("dekm")


def test_compare_page_says_the_dekm_run_has_no_dz_dx(make_run):
    data = {"name": "digits", "n": 200}
    dec = make_run("dec", data, {"hidden": "32", "pretrain_epochs": 1, "epochs": 2,
                                 "subsample": 150})
    dekm = make_run("dekm", data, {"pretrain_epochs": 1, "max_iter": 2,
                                   "batches_per_iter": 1, "subsample": 150, "tol": 0.0})
    at = open_page("compare", compare_runs=[dec.run_id, dekm.run_id], compare_mode="last")
    assert not at.exception and not at.error
    text = page_text(at)
    assert "Median |d_Z − d_X|" in text
    line = next(c.value for c in at.caption if "Median |d_Z − d_X|" in c.value)
    assert "does not record d" in line and dekm.run_id[-4:] in line
