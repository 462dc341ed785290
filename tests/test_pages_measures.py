"""Explore's Metrics tab on a DEKM run: each quantity once, no internal extras, the snapshot
named by its re-clustering and its epoch."""
from __future__ import annotations

from pagekit import open_page, page_text

from dcviz import measures as MS

TINY_DEKM = {"pretrain_epochs": 2, "max_iter": 3, "batches_per_iter": 2, "batch_size": 64,
             "snapshot_every": 1, "subsample": 120, "tol": 0.0}


def test_explore_metrics_tab_on_a_dekm_run(make_run):
    run = make_run("dekm", {"name": "digits", "n": 200}, TINY_DEKM)
    last = run.view.count - 1
    at = open_page("explore", run=run.run_id, tab="Metrics", explore_index=last)
    assert not at.exception
    text = page_text(at)
    # the snapshot is named by the re-clustering the lens counts, and the epoch of training
    assert "re-clustering 2 (epoch 4 of training)" in text
    table = at.dataframe[0].value
    names = list(table["name"])
    assert len(names) == len(set(names)), names
    assert "axes_names" not in names and "iteration" not in names
    assert MS.title("changed") in names
    metrics = at.get("plotly_chart")[1].proto.spec
    assert '"name":"iteration"' not in metrics and MS.PERCENT["changed"] in metrics
