"""Runs are named by their method's title wherever a person reads them ("DEC on Digits", not
"dec on Digits"): pickers, Home's list, Compare's labels and table, the DCRL lens's captions."""
from __future__ import annotations

import time

from pagekit import open_page

from dcviz import compare as K
from dcviz.runs import labels as L


def test_run_labels_and_tables_use_the_method_title():
    row = {"run_id": "r-7857", "method": "dec", "data": "digits", "state": "done",
           "created": time.time(), "metrics": {"nmi": 0.8}, "name": ""}
    assert L.run_label(row).startswith("✓ DEC on Digits (8x8) ·")
    assert L.run_label({**row, "method": "ae-kmeans"}).startswith("✓ AE + k-means on")
    assert L.run_table([row])[0]["method"] == "DEC"
    # an id no method here has (a run imported from elsewhere): as it is
    assert L.method_title("someone-elses") == "someone-elses"
    assert L.run_label({**row, "method": "someone-elses"}).startswith("✓ someone-elses on")


def test_compare_names_runs_by_method_title(make_run):
    cfg = {"pretrain_epochs": 1, "subsample": 150}
    data = {"name": "digits", "n": 200}
    a = make_run("ae-kmeans", data, cfg)
    b = make_run("ae-kmeans", data, {**cfg, "seed": 1})
    at = open_page("compare", compare_runs=[a.run_id, b.run_id], compare_mode="last")
    assert not at.exception
    table = at.dataframe[0].value
    heads = [c for c in table.columns if c]
    assert heads and all(h.startswith("AE + k-means (seed ") for h in heads), heads
    assert "ae-kmeans" not in " ".join(heads)
    assert set(table.set_index("").loc["method"]) == {"AE + k-means"}
    picker = at.multiselect(key="compare_runs")
    assert all("AE + k-means on" in picker.format_func(o) for o in picker.value)
    # the refusal to compare runs on different data names methods by title too
    try:
        K.check_comparable([{"method": "dec", "data": {"name": "digits"}},
                            {"method": "dekm", "data": {"name": "blobs8"}}])
    except K.CompareError as e:
        assert "DEC on" in str(e) and "DEKM on" in str(e)
    else:
        raise AssertionError("runs on different data were found comparable")


def test_a_run_name_with_a_seed_that_is_not_a_number_still_reads():
    from dcviz.runs.labels import run_name
    # a hand-edited config.json: the name check took int(seed) and raised ValueError
    assert run_name({"name": "x", "method": "dec", "seed": "zz"}, "abcd1234") == "x · DEC (seed zz)"
    assert run_name({"name": "dec on digits seed 1", "method": "dec", "seed": 1}, "ab") \
        == "dec on digits seed 1"
