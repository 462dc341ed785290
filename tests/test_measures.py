"""One name, one chart and one unit per recorded quantity (dcviz.measures), on Explore's Metrics
tab, its snapshot table, Compare's curves and table; the first share of changed points is
absent, not 1.0; counters are in the snapshot's label, not on a curve."""
from __future__ import annotations

import math

import numpy as np
import torch

from dcviz import compare as K
from dcviz import data as D
from dcviz import measures as MS
from dcviz.methods.base import Context
from dcviz.methods.dec import DEC
from dcviz.runs import labels as L
from dcviz.viz import common as V
from dcviz.viz import compare as VC

AXES = "Y₁: most cluster structure|Y_d: least"


def dekm_rows(placeholder: bool = True) -> list[dict]:
    """metrics.jsonl rows as DEKM wrote them before the fix (placeholder=True): the first
    re-clustering's "changed" 1.0, "changed" again as a scalar, the iteration and the axes'
    names as scalars."""
    rows = [{"epoch": e, "stage": "pretrain", "losses": {"reconstruction": 0.2 / (e + 1)},
             "metrics": {"acc": 0.5, "nmi": 0.4, "ari": 0.3}, "scalars": {}} for e in range(3)]
    for it, ch in enumerate([1.0, 0.08, 0.02, 0.0005]):
        if it == 0 and not placeholder:
            metrics, scalars = {}, {"iteration": 0.0, "axes_names": AXES}
        else:
            metrics = {"changed": ch}
            scalars = {"iteration": float(it), "axes_names": AXES}
            if placeholder:
                scalars["changed"] = ch
        rows.append({"epoch": 2 + it, "stage": "clustering",
                     "losses": {"greedy (Eq. 6)": 0.1, "k-means (Eq. 2)": 1.0},
                     "metrics": {"acc": 0.7, "nmi": 0.7, "ari": 0.6, **metrics},
                     "scalars": scalars})
    return rows


def _titles(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations if a.yref == "paper"]


def test_metrics_tab_draws_each_quantity_once_in_its_unit():
    for placeholder in (True, False):
        rows = dekm_rows(placeholder)
        fig = V.metric_figure(rows, current=len(rows) - 1)
        titles = _titles(fig)
        changed = MS.title("changed")
        assert "(%)" in changed
        # one chart for "changed" (it was two: the metric and the scalar), none for the counter
        assert titles.count(changed) == 1 and "changed" not in titles
        assert not any("iteration" in t for t in titles)
        assert not any(t.name == "iteration" for t in fig.data)
        line = next(t for t in fig.data if t.name == changed)
        y = np.asarray(line.y, dtype=float)
        # in percent, and nothing at the first re-clustering (it has nothing before it)
        assert math.isnan(y[3]) and np.allclose(y[4:], [8.0, 2.0, 0.05])
        assert np.nanmax(y) < 100


def test_scores_are_keyed_in_their_own_title_not_a_legend_under_another_chart():
    fig = V.metric_figure(dekm_rows(), current=2)
    scores = next(t for t in _titles(fig) if t.startswith(V.SCORES_TITLE))
    for name in ("ACC", "NMI", "ARI"):
        assert name in scores
    assert "0–1" in scores
    assert not any(t.showlegend for t in fig.data)


def test_snapshot_table_has_each_quantity_once_and_no_internal_extras():
    rows = dekm_rows()
    table = V.snapshot_table(rows, len(rows) - 1, np.array([0, 0, 1]))
    names = [r["name"] for r in table]
    assert len(names) == len(set(names)), names
    assert MS.title("changed") in names and "changed" not in names
    assert "axes_names" not in names and "iteration" not in names
    row = next(r for r in table if r["name"] == MS.title("changed"))
    assert row["value"] == "0.05"  # percent, as on the curve and the lens
    assert table[-1]["value"] == "2, 1"
    # the first re-clustering of a run recorded before the fix: no "changed" at all
    first = [r["name"] for r in V.snapshot_table(rows, 3)]
    assert MS.title("changed") not in first


def test_compare_shows_changed_in_percent_without_the_first_spike():
    fig = VC.overlay_curves([("a", dekm_rows()), ("b", dekm_rows(False))])
    changed = MS.title("changed")
    assert changed in _titles(fig) and "changed" not in _titles(fig)
    lines = [t for t in fig.data if t.hovertemplate and t.hovertemplate.startswith(changed)]
    assert len(lines) == 2
    for t in lines:
        y = np.asarray(t.y, dtype=float)
        assert math.isnan(y[3]) and np.allclose(y[4:], [8.0, 2.0, 0.05])
    table = K.metrics_table([dict(label="a", method="dekm", rows=dekm_rows(), index=3, status={}),
                             dict(label="b", method="dekm", rows=dekm_rows(), index=4, status={})])
    assert table[0][changed] is None and table[1][changed] == 8.0


def test_dekm_snapshots_say_the_re_clustering_and_the_epoch():
    rows = dekm_rows()
    assert L.snapshot_label(rows[-1], 6, 7) == ("snapshot 7 of 7 · re-clustering 3 (epoch 5 of "
                                              "training)")
    assert L.snapshot_position(rows[0]) == "epoch 0 · pretrain"
    assert L.snapshot_label({"epoch": 4, "stage": "pretrain"}, 2, 9) == \
        "snapshot 3 of 9 · epoch 4 · pretrain"


def test_dec_records_no_change_share_for_its_first_epoch():
    torch.set_num_threads(1)
    ds = D.load({"name": "digits", "n": 120})
    torch.manual_seed(0)
    m = DEC(n_clusters=4, hidden="16", pretrain_epochs=1, epochs=3, batch_size=60,
            subsample=100, tol=0.0)
    m.build(ds.dim, ds.image_shape)
    snaps = [s for s in m.fit(ds, Context(seed=0, subsample=np.arange(100)))
             if s.stage == "clustering"]
    assert len(snaps) == 3
    assert "labels_changed" not in snaps[0].extras
    assert all(0.0 <= s.extras["labels_changed"] <= 1.0 for s in snaps[1:])
