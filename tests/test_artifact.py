"""artifact-digits (the GAN paper's Artifact-MNIST on the 8x8 digits) and colouring by a data
set's categorical factors on Explore and Compare."""
from __future__ import annotations

import numpy as np
import pytest

from dcviz.data import load
from dcviz.data.synthetic import ARTIFACT_VALUES, pixel_artifact

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_only_the_first_pixel_changes_and_takes_the_three_values_equally_often():
    ds, plain = load("artifact-digits"), load("digits")
    art = ds.factors["artifact"]
    assert ds.x.shape == plain.x.shape and ds.image_shape == (1, 8, 8)
    assert np.array_equal(ds.y, plain.y) and ds.class_names == plain.class_names
    assert np.array_equal(ds.x[:, 1:], plain.x[:, 1:])           # the digits are untouched
    assert np.allclose(ds.x[:, 0], art)                           # pixel 0 is the artifact
    assert np.allclose(np.unique(art), ARTIFACT_VALUES)
    share = np.array([np.mean(np.isclose(art, v)) for v in ARTIFACT_VALUES])
    # 1,797 fair draws of three values: each share within 4 standard errors of 1/3
    assert np.all(np.abs(share - 1 / 3) < 4 * np.sqrt(2 / 9 / ds.n)), share
    # independent of the digit: every digit meets every artifact value
    assert all(len(np.unique(art[ds.y == d])) == 3 for d in range(10))


def test_the_artifact_is_seeded():
    a, b, c = (load({"name": "artifact-digits", "seed": s}) for s in (0, 0, 1))
    assert np.array_equal(a.factors["artifact"], b.factors["artifact"])
    assert not np.array_equal(a.factors["artifact"], c.factors["artifact"])
    assert np.array_equal(a.x[:, 1:], c.x[:, 1:])


def test_pixel_artifact_copies_and_keeps_dtype():
    x = np.zeros((300, 5), dtype=np.float32)
    out, value = pixel_artifact(x, seed=3)
    assert out.dtype == np.float32 and not x.any()                # the input is not changed
    assert np.array_equal(out[:, 0], value) and not out[:, 1:].any()


def test_the_subsample_keeps_the_artifact_with_its_points():
    full = load("artifact-digits")
    sub = load({"name": "artifact-digits", "n": 300})
    rows = {full.x[i].tobytes(): i for i in range(full.n)}
    idx = [rows[r.tobytes()] for r in sub.x]
    assert np.array_equal(sub.factors["artifact"], full.factors["artifact"][idx])


def test_categorical_factors_are_offered_and_continuous_ones_are_not():
    art = load({"name": "artifact-digits", "n": 300})
    assert art.categorical_factors() == ["artifact"]
    codes, names = art.factor_codes("artifact")
    assert names == ["0.1", "0.5", "0.9"] and set(codes) == {0, 1, 2}
    assert np.allclose(np.array(ARTIFACT_VALUES)[codes], art.factors["artifact"])
    objs = load({"name": "objects", "n_samples": 30, "size": 8})
    assert objs.categorical_factors() == []      # light is 3-D, its angles are continuous
    assert load("digits").categorical_factors() == []


def test_colours_by_a_factor():
    from types import SimpleNamespace

    from ui.pickers import TRUE_LABEL, colours, factor_choices
    ds = load({"name": "artifact-digits", "n": 300})
    sub = np.array([5, 0, 7, 299])
    view = SimpleNamespace(dataset=ds, subsample=sub, labels_sub=ds.y[sub])
    snap = SimpleNamespace(assign=np.zeros(4, dtype=int))
    color, names, title = colours("artifact", view, snap)
    assert title == "artifact" and names == ["0.1", "0.5", "0.9"]
    assert np.allclose(np.array([0.1, 0.5, 0.9])[color], ds.factors["artifact"][sub])
    assert colours(TRUE_LABEL, view, snap)[2] == "true label"
    plain = SimpleNamespace(dataset=load({"name": "digits", "n": 300}))
    assert factor_choices(view) == ["artifact"]
    assert factor_choices(view, plain) == []     # Compare offers only what every run's data has


def test_explore_offers_the_artifact_as_a_colour(make_run):
    from pagekit import open_page
    run = make_run("ae-kmeans", {"name": "artifact-digits", "n": 200},
                   {"pretrain_epochs": 1, "snapshot_every": 1, "subsample": 100, "n_clusters": 3})
    at = open_page("explore", run=run.run_id, tab="Latent")
    assert not at.exception, [e.value for e in at.exception]
    ctl = at.session_state["explore_color"]
    assert ctl in ("Cluster", "True label")
    at.session_state["explore_color"] = "artifact"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    import json
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    latent = [f for f in figs if f["layout"].get("legend", {}).get("title", {}).get("text")
              == "artifact"]
    assert latent, "no scatter coloured by the artifact"
    assert {t["name"] for t in latent[0]["data"]} <= {"0.1", "0.5", "0.9"}


def test_compare_offers_the_artifact_as_a_colour(make_run):
    import json

    from pagekit import open_page
    spec = {"name": "artifact-digits", "n": 200}
    cfg = {"pretrain_epochs": 1, "snapshot_every": 1, "subsample": 100, "n_clusters": 3}
    a, b = make_run("ae-kmeans", spec, cfg), make_run("ae-kmeans", spec, {**cfg, "seed": 1})
    at = open_page("compare", runs=f"{a.run_id},{b.run_id}", compare_color="artifact")
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["compare_color"] == "artifact"
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    coloured = [f for f in figs if f["layout"].get("legend", {}).get("title", {}).get("text")
                == "artifact"]
    assert len(coloured) == 2, "each run's column is coloured by the artifact"
