"""Comparing runs: which runs may be compared, the shared control, scores, contingency, figures,
and AppTests of the Compare page.

The page tests use a module-wide store with three finished runs: two ae-kmeans runs on digits
(seeds 0 and 1, so their subsamples differ and only part of the points are shared) and one on
blobs8 (another data set, which the page must refuse to mix).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from dcviz import compare as K
from dcviz.runs import RunStore
from dcviz.runs.view import RunView
from dcviz.viz import compare as V
from pagekit import open_page, page_text
from test_pages import assert_clean, assert_help_everywhere

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# =========================================================================== pure logic

def cfg(method="ae-kmeans", data=None, **extra):
    return {"method": method, "data": data or {"name": "digits", "seed": 0}, "data_name": "digits",
            **extra}


def test_only_runs_on_the_same_data_can_be_compared():
    K.check_comparable([cfg(), cfg("dekm")])
    with pytest.raises(K.CompareError, match="at least two"):
        K.check_comparable([cfg()])
    with pytest.raises(K.CompareError, match="at most 4"):
        K.check_comparable([cfg()] * 5)
    other = cfg("dcrl", {"name": "manifolds", "seed": 0}, data_name="manifolds")
    with pytest.raises(K.CompareError) as info:
        K.check_comparable([cfg(), other])
    msg = str(info.value)
    assert "different data sets" in msg and "digits" in msg and "manifolds" in msg
    # the same set drawn with another seed is other points: not comparable point for point
    with pytest.raises(K.CompareError):
        K.check_comparable([cfg(data={"name": "blobs8", "seed": 0}),
                            cfg(data={"name": "blobs8", "seed": 1})])


def test_compatible_and_default_selection():
    configs = {"r4": cfg(data={"name": "blobs8"}), "r3": cfg(), "r2": cfg(data={"name": "blobs8"}),
               "r1": cfg()}
    assert K.compatible(configs, []) == list(configs)
    assert K.compatible(configs, ["r3"]) == ["r3", "r1"]
    assert K.default_selection(configs) == ["r4", "r2"]
    assert K.default_selection({"a": cfg(), "b": cfg(data={"name": "blobs8"})}) == []


ROWS_A = [{"epoch": e, "progress": p, "metrics": {"acc": a, "nmi": a / 2}}
          for e, p, a in [(0, 0.1, 0.2), (5, 0.5, 0.5), (10, 1.0, 0.8)]]
ROWS_B = [{"epoch": e, "progress": p, "metrics": {"acc": 0.3, "trust": 0.9, "lgd": 0.1}}
          for e, p in [(2, 0.25), (4, 0.5), (6, 0.75), (8, 1.0)]]


def test_timeline_and_pick():
    assert K.timeline([ROWS_A, ROWS_B], "epoch") == [0, 2, 4, 5, 6, 8, 10]
    assert K.timeline([ROWS_A, ROWS_B], "progress") == [0, 10, 25, 50, 75, 100]
    assert K.timeline([ROWS_A, ROWS_B], "last") == []
    assert K.pick(ROWS_A, "epoch", 6).index == 1
    assert K.pick(ROWS_B, "epoch", 6).index == 2
    held = K.pick(ROWS_B, "epoch", 10)
    assert held.index == 3 and "ends at epoch 8" in held.note
    early = K.pick(ROWS_B, "epoch", 0)
    assert early.index == 0 and "starts at epoch 2" in early.note
    assert K.pick(ROWS_A, "progress", 50).index == 1
    assert K.pick(ROWS_B, "progress", 50).index == 1
    assert K.pick(ROWS_A, "last").index == 2
    assert K.pick([], "epoch", 3).index is None
    with pytest.raises(ValueError):
        K.timeline([ROWS_A], "nope")


def test_metrics_table_has_scores_geometry_and_time():
    entries = [dict(label="a", method="m1", rows=ROWS_A, index=2, status={"state": "done", "seconds": 75.0}),
               dict(label="b", method="m2", rows=ROWS_B, index=1,
                    status={"state": "running", "started": 100.0})]
    table = K.metrics_table(entries, now=130.0)
    assert list(table[0])[:6] == ["run", "method", "state", "snapshot", "epoch", "stage"]
    assert [k for k in table[0] if k in ("ACC", "NMI", "Trust", "LGD")] == ["ACC", "NMI", "Trust", "LGD"]
    assert table[0]["ACC"] == 0.8 and table[0]["Trust"] is None
    assert table[1]["Trust"] == 0.9 and table[1]["NMI"] is None
    assert table[0]["training time"] == "1 min 15 s"
    assert table[1]["seconds"] == 30.0 and table[1]["snapshot"] == "2 of 4"


def test_scores_by_run_has_a_column_per_run_and_a_dash_for_what_a_run_lacks():
    entries = [dict(label="a", method="m1", rows=ROWS_A, index=2, status={"state": "done", "seconds": 75.0}),
               dict(label="a", method="m2", rows=ROWS_B, index=1,
                    status={"state": "running", "started": 100.0})]
    rows = K.scores_by_run(K.metrics_table(entries, now=130.0))
    by = {r[""]: r for r in rows}
    assert list(rows[0]) == ["", "a", "a (2)"]  # same label twice: still two columns
    assert "run" not in by and "seconds" not in by and "training time" in by
    assert by["ACC"]["a"] == "0.8000" and by["Trust"]["a"] == K.MISSING
    assert by["Trust"]["a (2)"] == "0.9000" and by["NMI"]["a (2)"] == K.MISSING
    assert by["snapshot"]["a (2)"] == "2 of 4" and by["training time"]["a"] == "1 min 15 s"
    assert all(isinstance(v, str) and v != "None" for r in rows for v in r.values())
    assert K.scores_by_run([]) == []


def test_contingency_finds_the_matching_whatever_the_ids():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 300)
    perm = np.array([2, 0, 3, 1])
    sub = np.arange(300)
    ct = K.contingency(sub, a, sub, perm[a])
    assert ct.agreement == 1.0 and ct.n == 300
    assert np.count_nonzero(ct.table - np.diag(np.diag(ct.table))) == 0  # diagonal
    assert ct.matched == {i: int(perm[i]) for i in range(4)}
    assert ct.nmi == pytest.approx(1.0) and ct.ari == pytest.approx(1.0)
    rec = ct.records("A", "B")
    assert rec[0]["A cluster"] == 0 and rec[0]["maps to B"] == "2" and rec[0]["points"] == np.sum(a == 0)
    # more clusters in A than in B: the unmatched one maps to a dash, not "None"
    unmatched = K.contingency(sub, a, sub, np.minimum(a, 2)).records("A", "B")
    assert sorted(str(r["maps to B"]) for r in unmatched).count(K.MISSING) == 1
    import pandas as pd
    import pyarrow as pa
    pa.Table.from_pandas(pd.DataFrame(unmatched))  # st.dataframe's conversion takes the column
    # only the shared points count, found by sample index
    ct2 = K.contingency(np.arange(0, 300, 2), a[::2], np.arange(0, 300, 3), perm[a[::3]])
    assert ct2.n == len(np.arange(0, 300, 6)) and ct2.agreement == 1.0
    with pytest.raises(K.CompareError, match="no points in common"):
        K.contingency(np.array([1, 2]), np.array([0, 1]), np.array([3, 4]), np.array([0, 1]))


def test_contingency_of_unequal_k_and_disagreement():
    a = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    b = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1])
    ct = K.contingency(np.arange(9), a, np.arange(9), b)
    assert ct.table.shape == (3, 2) and ct.table.sum() == 9
    assert 0 < ct.agreement < 1
    assert ct.agreement == pytest.approx(5 / 9)  # one-to-one: A0->B0 (2 points), A1 or A2->B1 (3)


def test_match_to_renames_clusters_like_the_reference():
    ref = np.array([0, 0, 1, 1, 2, 2])
    other = np.array([5, 5, 3, 3, 4, 4])
    np.testing.assert_array_equal(K.match_to(np.arange(6), ref, np.arange(6), other), ref)
    extra = np.array([1, 1, 0, 0, 2, 3])  # one cluster more than the reference
    out = K.match_to(np.arange(6), ref, np.arange(6), extra)
    assert out[0] == 0 and out[2] == 1 and len(set(out[4:])) == 2 and max(out) == 3


def test_histogram_data():
    assert K.histogram_data({"dz_minus_dx": np.array([0.1, -0.2])}).tolist() == [0.1, -0.2]
    assert K.histogram_data({}) is None
    assert K.histogram_data({"dz_minus_dx": np.zeros((2, 2))}) is None


# =========================================================================== figures

def test_overlay_curves_one_line_per_run_and_metric():
    fig = V.overlay_curves([("a", ROWS_A), ("b", ROWS_B)], current=[2, 1])
    lines = [t for t in fig.data if t.mode and "lines" in t.mode]
    # a has acc, nmi; b has acc, trust, lgd
    assert sorted((t.name, t.xaxis) for t in lines) == sorted(
        [("a", "x"), ("a", "x2"), ("b", "x"), ("b", "x3"), ("b", "x4")])
    rings = [t for t in fig.data if t.mode == "markers"]
    assert len(rings) == 5
    fig = V.overlay_curves([("a", ROWS_A)], x="progress")
    assert list(fig.data[0].x) == [10, 50, 100]
    assert "no metrics" in V.overlay_curves([("a", [])]).layout.annotations[0].text


def test_dz_dx_overlay_and_contingency_figure():
    rng = np.random.default_rng(0)
    fig = V.dz_dx_overlay([("tight", rng.normal(0, 0.05, 500)), ("spread", rng.normal(0.3, 0.4, 500)),
                           ("tight", rng.normal(0, 0.05, 500))])
    assert [t.name for t in fig.data] == ["tight", "spread", "tight (2)"]
    assert len({t.line.color for t in fig.data}) == 3  # one colour per run, as in every figure
    widths = [np.diff(t.x)[0] for t in fig.data]
    assert all(abs(sum(t.y) * w - 1) < 1e-6 for t, w in zip(fig.data, widths))  # densities
    assert fig.data[0].y.max() > fig.data[1].y.max()  # the tight one is peaked
    assert "no run" in V.dz_dx_overlay([]).layout.annotations[0].text
    ct = K.contingency(np.arange(4), np.array([0, 0, 1, 1]), np.arange(4), np.array([1, 1, 0, 0]))
    fig = V.contingency_figure(ct.table, ct.rows, ct.cols)
    assert list(fig.data[0].x) == ["B1", "B0"] and np.asarray(fig.data[0].z).tolist() == [[1, 0], [0, 1]]


# =========================================================================== the page

@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    import torch

    from dcviz import data as D
    from dcviz.runs import create_run, execute, prepare
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("compare-runs")
    ids = {}
    for key, data, extra in [("blobs", "blobs8", {"n_clusters": 8, "pretrain_epochs": 1}),
                             ("d1", "digits", {"seed": 1, "pretrain_epochs": 2}),
                             ("d0", "digits", {"seed": 0, "pretrain_epochs": 2})]:
        ds = D.load(data)
        cls, c = prepare("ae-kmeans", ds, {"snapshot_every": 1, "subsample": 600, **extra}, "quick")
        rd = create_run(RunStore(root), cls, c, ds, "quick")
        assert execute(rd, cls, c, ds)["state"] == "done"
        ids[key] = rd.run_id
    return root, ids


@pytest.fixture
def compare_store(three_runs, monkeypatch):
    root, ids = three_runs
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    return ids


def test_compare_with_no_runs(runs_dir):
    at = open_page("compare")
    assert_clean(at)
    assert any("no runs to compare yet" in i.value for i in at.info)
    assert at.button(key="compare_default")
    assert_help_everywhere(at)


def test_compare_with_one_run(tiny_store):
    at = open_page("compare")
    assert_clean(at)
    assert any("needs two runs on the same data set" in i.value for i in at.info)
    assert at.button(key="compare_another").label.startswith("Train AE + k-means on Digits (8x8) again")
    assert_help_everywhere(at)


def test_compare_link_to_runs_that_are_not_there(compare_store):
    """A link naming no run of the store says so and shows the default choice (before, it
    said "showing another run" over an empty page); one naming some shows those."""
    ids = compare_store
    at = open_page("compare", runs="gone-1,gone-2")
    assert_clean(at)
    assert any("gone-1, gone-2" in w.value and "default choice" in w.value for w in at.warning)
    assert at.multiselect(key="compare_runs").value == [ids["d0"], ids["d1"]]
    at = open_page("compare", runs=f"gone-1,{ids['d1']}")
    assert any("gone-1" in w.value and "Showing the others" in w.value for w in at.warning)
    assert at.multiselect(key="compare_runs").value == [ids["d1"]]


def test_compare_two_runs_on_the_same_data(compare_store):
    ids = compare_store
    at = open_page("compare")
    assert_clean(at)
    assert not at.error
    # by default: the two newest runs sharing a data set (the digits runs)
    assert at.multiselect(key="compare_runs").value == [ids["d0"], ids["d1"]]
    assert at.query_params["runs"] == f"{ids['d0']},{ids['d1']}"
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # two latent views, curves, contingency
    table = at.dataframe[0].value.set_index("")
    # one column per run, one row per measure; every run has ACC, none a geometry metric
    assert len(table.columns) == 2 and "training time" in table.index and "seconds" not in table.index
    assert all(v != K.MISSING and float(v) > 0 for v in table.loc["ACC"])
    assert "None" not in table.to_string()
    text = page_text(at).replace("**", "")
    # seeds 0 and 1 follow different subsamples: only the points both follow are compared
    root = os.environ["DCVIZ_RUNS_DIR"]
    sub0, sub1 = (RunView(RunStore(root).open(i)).subsample for i in (ids["d0"], ids["d1"]))
    n_common = len(np.intersect1d(sub0, sub1))
    assert 0 < n_common < 600
    assert f"of the {n_common} points fall in matched clusters" in text
    assert "None of these runs records d_Z" in text
    assert_help_everywhere(at)

    # the run on blobs8 is not offered once a digits run is chosen
    assert ids["blobs"] not in at.multiselect(key="compare_runs").options
    assert any("on other data sets" in c.value for c in at.caption)


def test_compare_shared_control_modes_and_play(compare_store):
    ids = compare_store
    at = open_page("compare")
    slider = at.select_slider(key="compare_pos_value")
    assert str(slider.value) == str(slider.options[-1])  # starts at the end: the final scores
    at.select_slider(key="compare_pos_value").set_value(0).run()
    assert_clean(at)
    assert all("snapshot 1 of" in c.value for c in at.caption if c.value.startswith("snapshot"))
    for mode in ("progress", "last"):
        at.button_group(key="compare_mode").set_value(mode).run()
        assert_clean(at)
    assert all("snapshot 4 of 4" in c.value for c in at.caption if c.value.startswith("snapshot")), [c.value for c in at.caption]
    at.button_group(key="compare_mode").set_value("epoch").run()
    at.select_slider(key="compare_pos_value").set_value(0).run()
    at.button(key="compare_start").click().run()
    assert at.session_state["compare_playing"] is True
    assert_clean(at)
    for colour in ("Cluster, matched to the first run", "Cluster id"):
        at.button_group(key="compare_color").set_value(colour).run()
        assert_clean(at)


def test_compare_refuses_mixed_data_sets(compare_store):
    ids = compare_store
    at = open_page("compare", compare_runs=[ids["d0"], ids["blobs"]])
    assert not at.exception
    assert at.error and "different data sets" in at.error[0].value
    assert "digits" in at.error[0].value and "blobs8" in at.error[0].value
    assert not at.get("plotly_chart")


def test_compare_runs_from_a_link(compare_store):
    from streamlit.testing.v1 import AppTest

    from pagekit import APP
    ids = compare_store
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["runs"] = f"{ids['d1']},{ids['d0']},no-such-run"
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert at.multiselect(key="compare_runs").value == [ids["d1"], ids["d0"]]
    assert any("no-such-run" in w.value for w in at.warning)


def test_compare_dec_and_idec_shows_geometry_and_the_dz_dx_overlay(make_run):
    """Runs that record geometry: the table gains Trust/Cont/... and the d_Z - d_X overlay is
    drawn from their snapshots."""
    tiny = {"hidden": "64,64", "pretrain_epochs": 2, "epochs": 2, "snapshot_every": 1,
            "subsample": 200}
    a = make_run("dec", "digits", tiny)
    b = make_run("idec", "digits", tiny)
    at = open_page("compare", compare_runs=[a.run_id, b.run_id])
    assert_clean(at)
    assert not at.error
    table = at.dataframe[0].value.set_index("")
    for measure in ("ACC", "Trust", "Cont", "LGD"):
        assert measure in table.index and K.MISSING not in list(table.loc[measure]), measure
    text = page_text(at)
    assert "None of these runs records d_Z" not in text
    assert "Narrow around 0" in text


def test_compare_names_each_run_above_its_plot_in_text_that_wraps(compare_store):
    """With three runs at 1280 px, each latent plot's title (the run's name, method, seed and
    epoch) was cut at the plot's edge ("ae-kmeans on blobs8 seed 1 · AE + k-r"): a plotly
    title never wraps. The name is now markdown above the plot, and the plot has no title."""
    import json
    ids = compare_store
    at = open_page("compare")
    assert_clean(at)
    latent = [c for c in at.get("plotly_chart") if "compare_latent_" in str(c.proto.id)]
    assert len(latent) == 2
    for c in latent:
        title = json.loads(c.proto.spec)["layout"].get("title") or {}
        assert not title.get("text"), title
    text = [str(m.value) for m in at.markdown]
    for run_id in (ids["d0"], ids["d1"]):
        assert any(m.startswith("**") and run_id[-4:] in m for m in text), text


def test_a_run_named_with_its_method_and_seed_is_not_named_twice():
    """A sweep names its runs "dec on blobs8 seed 1": Compare's heads and legends read
    "dec on blobs8 seed 1 · DEC (seed 1)" and were cut in the score table's header."""
    from dcviz.runs.labels import run_name
    rid = "20261202-110940-dec-14fc27c1"
    assert run_name({"method": "dec", "seed": 1, "name": "dec on blobs8 seed 1"}, rid) \
        == "dec on blobs8 seed 1"
    assert run_name({"method": "dec", "seed": 1, "name": "DEC, my try"}, rid) \
        == "DEC, my try · DEC (seed 1)"                     # no seed in the name
    assert run_name({"method": "dec", "seed": 11, "name": "dec seed 1"}, rid) \
        == "dec seed 1 · DEC (seed 11)"                     # another seed
    assert run_name({"method": "dcn", "seed": 0, "name": "lecture"}, rid) == "lecture · DCN (seed 0)"
    assert run_name({"method": "dcn", "seed": 0}, rid) == "DCN (seed 0) · 27c1"


def test_a_short_training_time_is_not_zero():
    """DCN on blobs8 trained in 0.1 s; the score table said "0 s"."""
    from dcviz.compare import _fmt_seconds
    assert _fmt_seconds(0.1) == "0.1 s" and _fmt_seconds(3.54) == "3.5 s"
    assert _fmt_seconds(42.4) == "42 s" and _fmt_seconds(125) == "2 min 05 s"
    assert _fmt_seconds(9.97) == "10 s"
