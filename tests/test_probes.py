"""The linear probes of dcviz.probes tell a space that holds a factor from one that does not."""
from __future__ import annotations

import numpy as np
import pytest

from dcviz.probes import categorical_probe, continuous_probe, factor_probes


def _two_spaces(n=600, seed=0):
    """A 'cluster' space that holds the shape and nothing of the light, and a 'shared' space that
    holds the light (linearly, under noise) and nothing of the shape."""
    rng = np.random.default_rng(seed)
    shape = np.arange(n) % 3
    light = rng.normal(size=(n, 3))
    light /= np.linalg.norm(light, axis=1, keepdims=True)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    cluster = np.hstack([centres[shape] + 0.3 * rng.normal(size=(n, 2)), rng.normal(size=(n, 2))])
    mix = rng.normal(size=(3, 5))
    shared = light @ mix + 0.1 * rng.normal(size=(n, 5))
    return shape, light, cluster, shared


def test_the_shape_probe_reads_the_shape_only_where_it_is():
    shape, _, cluster, shared = _two_spaces()
    assert categorical_probe(cluster, shape) > 0.95
    assert categorical_probe(shared, shape) < 0.45          # chance is 1/3


def test_the_light_probe_reads_the_light_only_where_it_is():
    _, light, cluster, shared = _two_spaces()
    assert continuous_probe(shared, light) > 0.9
    assert continuous_probe(cluster, light) < 0.05          # no better than the mean
    assert continuous_probe(shared, light[:, 0]) > 0.9      # a single output works too


def test_an_empty_space_scores_as_knowing_nothing():
    shape, light, cluster, _ = _two_spaces()
    empty = cluster[:, :0]
    assert categorical_probe(empty, shape) == pytest.approx(1 / 3, abs=0.01)
    assert continuous_probe(empty, light) == pytest.approx(0.0, abs=0.05)


def test_the_probes_score_held_out_points_only():
    """Pure noise with nearly as many dimensions as points: a probe scored on the points it was
    fitted to reads it perfectly (accuracy 1.0, R^2 0.32 here); held out, it reads nothing."""
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(100, 80))
    assert categorical_probe(noise, np.arange(100) % 3) < 0.5    # in-sample: 1.0
    assert continuous_probe(noise, rng.normal(size=(100, 2))) < 0.1  # in-sample: 0.32


def test_probes_subsample_large_data_with_their_seed():
    from dcviz.probes import _prepare
    shape, light, cluster, shared = _two_spaces(n=900)
    z, t = _prepare(cluster, shape, 300, seed=1)
    assert z.shape == (300, 4) and t.shape == (300,)
    again, _ = _prepare(cluster, shape, 300, seed=1)
    other, _ = _prepare(cluster, shape, 300, seed=2)
    assert np.array_equal(z, again) and not np.array_equal(z, other)
    assert continuous_probe(shared, light, max_points=300) > 0.85


def test_factor_probes_names_and_only_the_factors_the_data_carries():
    shape, light, cluster, shared = _two_spaces()
    out = factor_probes({"cluster": cluster, "shared": shared},
                        {"shape": shape, "light": light})
    assert set(out) == {"shape_acc_cluster", "shape_acc_shared", "light_r2_cluster",
                        "light_r2_shared"}
    assert out["shape_acc_cluster"] > out["shape_acc_shared"] + 0.5
    assert out["light_r2_shared"] > out["light_r2_cluster"] + 0.8
    assert set(factor_probes({"": cluster}, {"shape": shape, "light": light})) == {
        "shape_acc", "light_r2"}
    assert factor_probes({"cluster": cluster}, {"artifact": shape}) == {}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        categorical_probe(np.zeros((10, 2)), np.zeros(9))


# =========================================================================== in the methods and the lens

# a linear AE on 8x8 objects keeps these runs to seconds on one core
OBJECTS = {"name": "objects", "n_samples": 240, "size": 8}
TINY = {"arch": "linear", "latent_dim": 6, "pretrain_epochs": 3, "cluster_epochs": 2,
        "subsample": 120, "batch_size": 64}
PROBE_KEYS = {"shape_acc_cluster", "shape_acc_shared", "light_r2_cluster", "light_r2_shared"}


def _run(root, method, spec, config):
    from conftest import train_run
    rd = train_run(root, method, spec, config).rd
    status = rd.read_status()
    assert status["state"] == "done", status.get("traceback")
    return rd


@pytest.fixture(scope="module")
def objects_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-runs")
    acedec = _run(root, "acedec", OBJECTS, {**TINY, "warmup_epochs": 2, "init_rounds": 1})
    dcn = _run(root, "dcn", OBJECTS, TINY)
    return root, acedec, dcn


def test_acedec_and_dcn_report_the_probes_at_the_end_only(objects_runs):
    from dcviz.runs.view import RunView
    _, acedec, dcn = objects_runs
    rows = RunView(acedec).rows()
    final = rows[-1]["metrics"]
    assert PROBE_KEYS <= set(final)
    assert all(0.0 <= final[k] <= 1.0 for k in ("shape_acc_cluster", "shape_acc_shared"))
    assert all(final[k] <= 1.0 for k in ("light_r2_cluster", "light_r2_shared"))
    assert not any(PROBE_KEYS & set(r["metrics"]) for r in rows[:-1])
    dcn_final = RunView(dcn).rows()[-1]["metrics"]
    assert {"shape_acc", "light_r2"} <= set(dcn_final) and not PROBE_KEYS & set(dcn_final)


def test_the_probes_are_what_the_checkpoint_gives(objects_runs):
    """Recompute the cluster-space and shared-space probes from the saved model: same figures."""
    from dcviz import data
    from dcviz.runs.view import RunView
    _, acedec, _ = objects_runs
    view = RunView(acedec)
    m, final = view.method, view.rows()[-1]["metrics"]
    ds = data.load(view.config["data"])
    zr = m.rotated(ds.x).cpu().numpy()
    beta = m.beta_cs.cpu().numpy()
    order = np.argsort(-beta, kind="stable")     # the snapshot's order of the dimensions
    cs = order[beta[order] > m.config.cluster_threshold]
    ss = order[beta[order] <= m.config.cluster_threshold][::-1]
    out = factor_probes({"cluster": zr[:, cs], "shared": zr[:, ss]}, ds.factors,
                        seed=m.config.seed)
    for k in PROBE_KEYS:
        assert out[k] == pytest.approx(final[k], abs=1e-6), k


def test_no_probes_on_data_without_the_factors(tmp_path):
    rd = _run(tmp_path, "dcn", {"name": "digits", "n": 200}, TINY)
    from dcviz.runs.view import RunView
    assert not {"shape_acc", "light_r2"} & set(RunView(rd).rows()[-1]["metrics"])


def test_the_lens_shows_the_probes_beside_fig1b(objects_runs):
    from dcviz.runs.view import RunView
    from dcviz.viz import get_lens
    from dcviz.viz.acedec import PROBES
    _, acedec, _ = objects_runs
    view = RunView(acedec)
    final = view.rows()[-1]["metrics"]
    panels = get_lens("acedec").panels(view, view.count - 1)
    titles = [p.title for p in panels]
    probe = panels[titles.index(PROBES)]
    fig1b = next(i for i, t in enumerate(titles) if t.startswith("Fig. 1b"))
    # rows of two: Fig. 1b and the probes share a row
    assert titles.index(PROBES) == fig1b + 1
    assert not any(p.wide for p in panels[fig1b:fig1b + 2])
    open_row = 0                                   # panels before Fig. 1b fill whole rows
    for p in panels[:fig1b]:
        open_row = 0 if p.wide else (open_row + 1) % 2
    assert open_row == 0, titles
    shape, light = probe.table
    assert shape["cluster space"] == f"{100 * final['shape_acc_cluster']:.0f} %"
    assert light["shared space"] == f"{final['light_r2_shared']:.2f}"
    assert shape["blind guess"] == "33 %"
    assert "cluster space" in probe.text and "unseen" in probe.text
    # an earlier snapshot still shows the final probes (they are measured once, at the end)
    early = get_lens("acedec").panels(view, view.count - 2)
    assert next(p for p in early if p.title == PROBES).table == probe.table


def test_the_probe_panel_in_the_explore_page(objects_runs, monkeypatch):
    from pagekit import open_page, page_text
    root, acedec, _ = objects_runs
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    at = open_page("explore", run=acedec.run_id, tab="Lens")
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "What each space knows" in text and "could not be drawn" not in text
    assert "a probe names the shape" in text
    frames = [df.value for df in at.dataframe]
    probe = next(f for f in frames if "cluster space" in f.columns)
    assert list(probe["read"]) == ["shape (accuracy)", "light (R^2)"]


def test_the_pair_shares_a_row_whatever_comes_before():
    from dcviz.viz.acedec import _with_pair
    from dcviz.viz.base import Panel
    a, b, c, w = Panel("a"), Panel("b"), Panel("c"), Panel("w", wide=True)
    f, p = Panel("fig1b"), Panel("probes")
    assert [x.title for x in _with_pair([a, b, c], [f, p])] == ["a", "b", "fig1b", "probes", "c"]
    assert [x.title for x in _with_pair([a, b], [f, p])] == ["a", "b", "fig1b", "probes"]
    assert [x.title for x in _with_pair([a, w], [f, p])] == ["a", "w", "fig1b", "probes"]
