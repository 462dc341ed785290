"""What a method and its lens say about themselves: the registry generates the rest.

Also: every lens's live panel exists at the first and the last snapshot of a tiny run.
"""
from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from types import SimpleNamespace

import dcviz
from dcviz import data as D
from dcviz import methods as MM
from dcviz.methods import REGISTRY, Method, get_method
from dcviz.methods.base import Extras, ExtrasError
from dcviz.viz import Lens, NoLivePanel, Panel, get_lens

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Tiny configs (seconds on one core) for a run of every registered method on 300 digits.
TINY = {
    "ae-kmeans": {"pretrain_epochs": 2, "snapshot_every": 1},
    "dec": {"hidden": "64,64", "pretrain_epochs": 4, "epochs": 2, "snapshot_every": 1,
            "batch_size": 64},
    "idec": {"hidden": "64,64", "pretrain_epochs": 4, "epochs": 2, "snapshot_every": 1,
             "batch_size": 64},
    "dcrl": {"hidden": "64,64", "pretrain_epochs": 2, "epochs": 4, "warmup_epochs": 1,
             "init": "kmeans", "snapshot_every": 1},
    "dcn": {"pretrain_epochs": 2, "cluster_epochs": 2},
    "dekm": {"pretrain_epochs": 2, "max_iter": 3, "batches_per_iter": 2, "batch_size": 64,
             "snapshot_every": 1, "tol": 0.0},
    "acedec": {"arch": "linear", "latent_dim": 6, "pretrain_epochs": 2, "cluster_epochs": 2,
               "warmup_epochs": 2, "init_rounds": 1, "batch_size": 128},
    "mlc": {"warmup_epochs": 1, "epochs": 1, "batch_size": 100, "feature_dim": 8, "width": 64,
            "head_hidden": 64, "view_points": 60, "live_spectral_points": 200,
            "min_steps_per_epoch": 1, "lr_ramp": 5},
    "gan": {"steps": 4, "steps_per_epoch": 2, "critic_steps": 1, "class_steps": 1,
            "batch_size": 8, "conv_width": 4, "mlp_width": 16, "n_noise": 3, "grid_cols": 3,
            "points_per_id": 5},
}
TINY_DATA = {"name": "digits", "n": 300}


def shipped() -> list[str]:
    """Ids of the methods that ship in dcviz.methods (other tests register their own)."""
    return sorted(m for m, c in REGISTRY.items() if c.__module__.startswith("dcviz.methods."))


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """One finished tiny run of every registered method, keyed by method id."""
    from conftest import train_run
    root = tmp_path_factory.mktemp("contract-runs")
    runs = {}
    for mid in shipped():
        runs[mid] = train_run(root, mid, TINY_DATA, {**TINY.get(mid, {}), "subsample": 150})
        status = runs[mid].rd.read_status()
        assert status["state"] == "done", (mid, status.get("error"))
    return runs


# --------------------------------------------------------------------------- self-description

def test_every_method_describes_itself():
    ids = {e["id"] for e in D.list_datasets()}
    assert set(shipped()) == set(TINY), "a new method needs a tiny config in TINY"
    for cls in map(get_method, shipped()):
        assert cls.estimator.isidentifier(), cls.id
        assert set(cls.suits) <= ids, (cls.id, set(cls.suits) - ids)
        if cls.card:
            assert (ASSETS / cls.picture).is_file(), (cls.id, cls.picture)
            assert cls.try_it in cls.suits, cls.id


def test_featured_methods_and_their_try_it_runs():
    featured = [c.id for c in MM.featured()]
    assert featured[0] == MM.DEFAULT_RUN[0]
    assert set(featured) == {"dekm", "dcrl", "mlc", "gan", "acedec"}
    assert {c.id: c.try_it for c in MM.featured()} == {
        "dekm": "digits", "dcrl": "digits", "mlc": "sphere2", "gan": "digits",
        "acedec": "objects"}


def test_default_run_and_its_fallback():
    assert MM.default_run() == MM.DEFAULT_RUN == ("dekm", "digits", "quick")
    assert MM.default_run(["dekm", "ae-kmeans"]) == ("dekm", "digits", "quick")
    assert MM.default_run(["ae-kmeans", "mlc"]) == ("ae-kmeans", "digits", "quick")
    assert MM.default_run(["mlc"]) is None


def test_suits_lists_are_generated_from_the_methods():
    by = {d["id"]: d for d in D.list_datasets()}
    assert by["blobs8"]["suits"] == ["gan"] and by["sphere2"]["suits"] == ["mlc"]
    assert by["manifolds"]["suits"] == ["dcrl"]
    assert by["synth25"]["suits"] == by["objects"]["suits"] == ["acedec"]
    assert by["digits"]["suits"] == ["acedec", "ae-kmeans", "dcn", "dcrl", "dec", "dekm", "gan",
                                     "idec", "mlc"]
    assert "idec" in by["usps"]["suits"] and "dec" not in by["usps"]["suits"]


def test_estimators_are_generated_from_the_registry():
    assert dcviz.ESTIMATORS == {c.estimator: c.id for c in REGISTRY.values() if c.estimator}
    assert dcviz.ESTIMATORS["DEKM"] == "dekm" and dcviz.ESTIMATORS["ACeDeC"] == "acedec"
    assert dcviz.DEKM().method_id == "dekm"
    with pytest.raises(AttributeError):
        dcviz.NoSuchMethod  # noqa: B018
    from dcviz import metrics  # submodules still import through the package's __getattr__
    assert metrics.cluster_scores


def test_an_estimator_name_is_taken_once():
    class Clash(get_method("dec")):
        id = "clash"
    with pytest.raises(TypeError, match="taken"):
        MM.register(Clash)
    assert "clash" not in REGISTRY


# --------------------------------------------------------------------------- a toy method


def test_a_toy_method_in_any_module_is_everywhere(toy_method):
    assert "Toy" in dcviz.ESTIMATORS
    from dcviz import Toy
    x = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    assert (Toy(n_clusters=2).fit(x).labels_ == (x[:, 0] > 0)).all()
    assert "toy" in [c.id for c in MM.featured()]
    assert "toy" in {d["id"]: d for d in D.list_datasets()}["blobs8"]["suits"]
    lens = get_lens("toy")
    run = SimpleNamespace(snapshot=lambda i: SimpleNamespace(assign=np.array([0, 1, 1])))
    assert lens.live(lens.panels(run, 0)).text == "negative 1, positive 2"


# --------------------------------------------------------------------------- live panels

def test_live_raises_when_the_panel_is_missing():
    lens = Lens(method_ids=(), title="t", build=lambda *a: [], live_panel="Spectrum")
    panels = [Panel("Spectrum of S_w"), Panel("spectrum")]
    with pytest.raises(NoLivePanel, match="Spectrum"):
        lens.live(panels)  # no substring or case-folded match, no fallback to the first panel
    assert lens.live(panels + [Panel("Spectrum")]).title == "Spectrum"


def test_every_lens_names_a_live_panel_that_it_builds(tiny_runs):
    from dcviz.runs.view import RunView
    for mid, run in tiny_runs.items():
        lens = get_lens(mid)
        if lens is None:
            continue
        assert lens.live_panel, f"the lens of {mid} names no live panel"
        view = RunView(run.rd)
        for index in (0, view.count - 1):
            assert lens.live(lens.panels(view, index)).title == lens.live_panel


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize("method_id", sorted(TINY))
def test_the_checkpoint_reproduces_the_last_snapshot(tiny_runs, method_id):
    """A model rebuilt from checkpoint.pt alone labels the run's points as its last snapshot on
    disk says (not merely as another reload does): a load_state_dict that drops a part fails."""
    from dcviz.runs.view import RunView
    view = RunView(tiny_runs[method_id].rd)
    model = view.rd.load_checkpoint()  # torch.load(weights_only=True), a fresh build
    last = view.rd.load_snapshot(-1)
    labels = model.fit_labels(view.dataset.x)  # the training data, as the run labelled it
    np.testing.assert_array_equal(labels[view.subsample], last.assign)
    # the features too: a tiny run may put every point in one cluster, its latent still differs
    np.testing.assert_allclose(model.embed(view.dataset.x[view.subsample]), last.latent,
                               atol=1e-5)
    if type(model).fit_labels is Method.fit_labels:  # new points: predict agrees
        np.testing.assert_array_equal(model.predict(view.dataset.x[view.subsample]), last.assign)


# --------------------------------------------------------------------------- typed extras

@pytest.mark.parametrize("method_id", sorted(TINY))
def test_every_snapshot_matches_the_methods_extras_class(tiny_runs, method_id):
    cls = get_method(method_id)
    assert cls.Extras is not Extras, f"{method_id} declares no Extras class"
    rd = tiny_runs[method_id].rd
    last = cls.Extras.from_snapshot(rd.load_snapshot(-1))  # checked as read back from disk
    assert isinstance(last, cls.Extras)
    assert any(v is not None for v in vars(last).values()), "the last snapshot has no extras"
    for i in range(rd.count()):
        cls.Extras.check(rd.load_snapshot(i).extras)


@pytest.mark.parametrize("method_id", sorted(TINY))
def test_epochs_never_go_back(tiny_runs, method_id):
    """A run's epochs count on across its stages (Compare's "same epoch" control and its curves
    read them as one time axis: DEKM once restarted at 0 for its clustering iterations)."""
    rows = tiny_runs[method_id].rd.metrics_rows()
    epochs = [r["epoch"] for r in rows]
    assert epochs == sorted(epochs), epochs
    stages = [r["stage"] for r in rows]
    if len(set(stages)) > 1:  # a later stage starts where the earlier one ended, not before
        first = {s: epochs[stages.index(s)] for s in stages}
        assert list(first.values()) == sorted(first.values()), first


def test_extras_check_names_the_bad_key():
    @dataclass
    class E(Extras):
        V: np.ndarray
        eta: float | None = None
        note: str | None = None
    E.check({"V": np.eye(2), "eta": 1, "note": "x"})
    assert E.from_snapshot(types.SimpleNamespace(extras={"V": [[1.0]]})).eta is None
    for bad, match in (({"v": np.eye(2), "V": np.eye(2)}, r"\['v'\]"), ({}, "V is missing"),
                       ({"V": 3.0}, "V must be ndarray"), ({"V": np.eye(2), "eta": "1"}, "eta"),
                       ({"V": np.array([{}], dtype=object)}, "V must be ndarray")):
        with pytest.raises(ExtrasError, match=match):
            E.check(bad)


def test_a_renamed_extras_key_fails_the_run_that_writes_it(tmp_path):
    """The store checks each snapshot as it writes it, so the run fails with the key's name."""
    from conftest import train_run

    @dataclass
    class SignExtras(Extras):
        threshold: float

    @MM.register
    class Renamed(get_method("ae-kmeans")):
        id = "renamed-extras"
        estimator = ""
        Extras = SignExtras

        def fit(self, data, ctx):
            yield self.make_snapshot(data, ctx, epoch=0, step=0, stage="x",
                                     labels=np.zeros(data.n, np.int64),
                                     latent_sub=data.x[ctx.subsample], extras={"thresh": 0.0})
    try:
        run = train_run(tmp_path, "renamed-extras", TINY_DATA, {"pretrain_epochs": 0})
        status = run.rd.read_status()
        assert status["state"] == "failed" and "thresh" in status["error"]
        assert run.rd.count() == 0
    finally:
        REGISTRY.pop("renamed-extras", None)


def test_extras_history_reads_the_numbers_of_the_metrics_rows():
    @dataclass
    class E(Extras):
        V: np.ndarray | None = None
        eta: float | None = None
    h = E.history([{"scalars": {"eta": 0.5}}, {"scalars": {}}, {}, {"scalars": {"eta": 2}}])
    np.testing.assert_array_equal(h.eta, [0.5, np.nan, np.nan, 2.0])
    assert h.V is None
