"""What a method and its lens say about themselves: the registry generates the rest.

Also: every lens's live panel exists at the first and the last snapshot of a tiny run; every
lens belongs to a registered method; every method's checkpoint rebuilds it, and a run of it
killed halfway resumes to the run it would have been.

These tests pick up a new method by itself (README, "Adding a method"); it only needs its line
in TINY below. The checks of the shipped methods' own choices (which have a Home card, which
data they suit) ask only that those stay, so that a new method's card or data adds to them.
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

# Tiny configs (seconds on one core) for a run of every registered method on 300 digits:
# overrides of its quick preset. A new method adds its line here.
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

# The shipped baselines that come without a lens; any other method brings one.
NO_LENS = {"ae-kmeans", "dcn"}


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

def test_every_method_has_a_tiny_config():
    missing, stale = sorted(set(shipped()) - set(TINY)), sorted(set(TINY) - set(shipped()))
    assert not missing, (f"{missing}: add a tiny config to TINY in {Path(__file__).name} "
                         "(overrides of the quick preset that train in seconds on 300 digits)")
    assert not stale, f"TINY names {stale}, which no module in dcviz/methods/ registers"


def test_every_method_describes_itself():
    ids = {e["id"] for e in D.list_datasets()}
    for cls in map(get_method, shipped()):
        assert cls.title and cls.summary and cls.paper, f"{cls.id}: title, summary and paper"
        assert cls.estimator.isidentifier(), f"{cls.id}: estimator must name dcviz.<Estimator>"
        assert set(cls.suits) <= ids, f"{cls.id}: suits names no data set {set(cls.suits) - ids}"
        if cls.card:
            assert (ASSETS / cls.picture).is_file(), f"{cls.id}: no picture assets/{cls.picture}"
            assert cls.try_it in cls.suits, f"{cls.id}: try_it {cls.try_it!r} is not in suits"
        own = set(cls.Config.presets) - {"quick", "paper"}
        assert set(cls.preset_notes) == own, f"{cls.id}: preset_notes must say what {own} are"


def test_featured_methods_and_their_try_it_runs():
    featured = [c.id for c in MM.featured()]
    assert featured[0] == MM.DEFAULT_RUN[0]
    assert featured[1:] == sorted(featured[1:])
    assert set(featured) == {m for m in shipped() if get_method(m).card}
    # the papers' methods keep their cards and their data; a new method may add its own
    assert {c.id: c.try_it for c in MM.featured()}.items() >= {
        "dekm": "digits", "dcrl": "digits", "mlc": "sphere2", "gan": "digits",
        "acedec": "objects"}.items()
    assert not {"ae-kmeans", "dcn", "dec", "idec"} & set(featured)  # baselines: no card


def test_default_run_and_its_fallback():
    assert MM.default_run() == MM.DEFAULT_RUN == ("dekm", "digits", "quick")
    assert MM.default_run(["dekm", "ae-kmeans"]) == ("dekm", "digits", "quick")
    assert MM.default_run(["ae-kmeans", "mlc"]) == ("ae-kmeans", "digits", "quick")
    assert MM.default_run(["mlc"]) is None


def test_suits_lists_are_generated_from_the_methods():
    by = {d["id"]: d for d in D.list_datasets()}
    for data_id, entry in by.items():
        assert entry["suits"] == sorted(m for m, c in REGISTRY.items() if data_id in c.suits)
    # what the shipped methods declare stays (a new method adds to these lists)
    assert set(by["blobs8"]["suits"]) >= {"gan"} and set(by["sphere2"]["suits"]) >= {"mlc"}
    assert set(by["manifolds"]["suits"]) >= {"dcrl"}
    assert set(by["synth25"]["suits"]) >= {"acedec"} and set(by["objects"]["suits"]) >= {"acedec"}
    assert set(by["digits"]["suits"]) >= {"acedec", "ae-kmeans", "dcn", "dcrl", "dec", "dekm",
                                          "gan", "idec", "mlc"}
    assert "idec" in by["usps"]["suits"] and "dec" not in by["usps"]["suits"]


def test_estimators_are_generated_from_the_registry():
    assert dcviz.ESTIMATORS == {c.estimator: c.id for c in REGISTRY.values() if c.estimator}
    assert dcviz.ESTIMATORS["DEKM"] == "dekm" and dcviz.ESTIMATORS["ACeDeC"] == "acedec"
    assert dcviz.DEKM().method_id == "dekm"
    with pytest.raises(AttributeError):
        dcviz.NoSuchMethod  # noqa: B018
    from dcviz import metrics  # submodules still import through the package's __getattr__
    assert metrics.cluster_scores


def test_the_cli_lists_each_methods_own_presets(capsys):
    """`--preset` says "a method's own (`python -m dcviz methods` lists them)": the list comes
    from each Config's presets, so a new method's preset is listed with no edit of the CLI."""
    from dcviz.cli import main
    base = get_method("ae-kmeans")

    class WithOwn(base.Config):
        presets = {**base.Config.presets, "tiny": {"pretrain_epochs": 1}}

    @MM.register
    class Own(base):
        id, estimator, title, Config = "own-preset", "", "Own", WithOwn
    try:
        assert main(["methods"]) == 0
    finally:
        REGISTRY.pop("own-preset", None)
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["own-preset"].endswith("(presets: quick, tiny, paper)")
    assert lines["gan"].endswith("(presets: quick, demo, paper)")
    assert "presets" not in lines["dekm"]
    # the papers' titles start in one column, whatever the length of an id or a title
    starts = {lines[m].index(get_method(m).paper) for m in ("gan", "dekm", "acedec")}
    assert len(starts) == 1, starts


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


def test_every_lens_belongs_to_a_method_and_every_method_has_one():
    """A lens registered under an id no method has (a typo: "ae_gmm" for "ae-gmm") is never
    shown; a lens module that forgets ``LENS = Lens(...)`` registers nothing. Either way the
    method would silently have no lens."""
    from dcviz.viz import LENSES
    for mid, lens in LENSES.items():
        assert mid in REGISTRY, (f"lens {lens.title!r} is registered for method {mid!r}, which "
                                 f"does not exist; the registered ids are {sorted(REGISTRY)}")
    lensless = sorted(set(shipped()) - set(LENSES) - NO_LENS)
    assert not lensless, (f"{lensless} have no lens: a module dcviz/viz/<name>.py defines "
                          "LENS = Lens(method_ids=(<id>,), ...)")


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

@pytest.mark.parametrize("method_id", shipped())
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


def test_a_state_that_a_safe_load_cannot_read_fails_the_run_with_its_key(tmp_path):
    """checkpoint.pt is read with torch.load(weights_only=True): a state_dict holding a NumPy
    array saved fine and failed only when Checkpoints or a resume opened it, with torch's
    advice to allowlist NumPy. Now the run fails as it saves, naming the key."""
    import collections

    import torch

    from conftest import train_run
    from dcviz.runs.store import unloadable

    @MM.register
    class NumpyState(get_method("ae-kmeans")):
        id = "numpy-state"
        estimator = ""

        def state_dict(self):
            return {**self.ae_state(), "centroids": self.centroids.numpy()}
    try:
        run = train_run(tmp_path, "numpy-state", TINY_DATA, {"pretrain_epochs": 1})
        status = run.rd.read_status()
        assert status["state"] == "failed"
        assert "NumpyState.state_dict()['centroids'] is a numpy.ndarray" in status["error"]
        assert "torch.as_tensor" in status["error"]
    finally:
        REGISTRY.pop("numpy-state", None)
    ok = collections.OrderedDict(w=torch.zeros(2), opt={0: [1, 2.5, "adam", None, (True,)]},
                                 shape=torch.Size([2]))
    assert unloadable(ok, "s") is None
    assert unloadable({"a": [torch.zeros(1), np.float64(1.0)]}, "s") == "s['a'][1] is a " \
        "numpy.float64"
    assert "key of type tuple" in unloadable({(1, 2): torch.zeros(1)}, "s")


class _Kill(BaseException):
    """Stands in for SIGKILL in-process: nothing after it runs (status stays "running")."""


@pytest.mark.parametrize("method_id", shipped())
def test_a_run_killed_halfway_resumes_to_the_same_run(tmp_path, monkeypatch, method_id):
    """A method that says it resumes (``resumable``) does: its tiny run, killed after half its
    snapshots (with a checkpoint after every snapshot that says where fit stands) and resumed,
    ends with the snapshots of an uninterrupted run, bit for bit."""
    import dataclasses

    from conftest import train_run
    from dcviz.runs import RunStore, create_run, engine, execute, prepare
    from dcviz.runs.engine import prepare_resume
    cls = get_method(method_id)
    if not cls.resumable:
        pytest.skip(f"{method_id} does not resume (resumable = False): a killed run is re-run")
    config = {**TINY.get(method_id, {}), "subsample": 150}
    if "pretrained" in {f.name for f in dataclasses.fields(cls.Config)}:
        config["pretrained"] = "off"  # the same work in both runs, outside the AE store
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", 1)
    ref = train_run(tmp_path / "ref", method_id, TINY_DATA, config).rd
    assert ref.read_status()["state"] == "done", ref.read_status().get("error")
    kill_at = ref.count() // 2

    def kill(index, snap):
        if index == kill_at:
            raise _Kill()
    ds = D.load(TINY_DATA)
    _, cfg = prepare(method_id, ds, config, "quick")
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=kill)
    plan = prepare_resume(rd, interrupted=True)
    assert plan.checkpoint is not None, (
        f"{method_id} took no checkpoint in the first {kill_at + 1} snapshots: a resumable fit "
        "says where it stands with ctx.at(...) as it yields each snapshot")
    assert execute(rd, cls, cfg, ds, resume=plan)["state"] \
        == "done", rd.read_status().get("error")
    assert rd.count() == ref.count()
    for i in range(ref.count()):
        a, b = ref.load_snapshot(i), rd.load_snapshot(i)
        assert (a.epoch, a.stage) == (b.epoch, b.stage), i
        np.testing.assert_array_equal(a.latent, b.latent, err_msg=f"{method_id} snapshot {i}")
        np.testing.assert_array_equal(a.assign, b.assign, err_msg=f"{method_id} snapshot {i}")


# --------------------------------------------------------------------------- typed extras

@pytest.mark.parametrize("method_id", shipped())
def test_every_snapshot_matches_the_methods_extras_class(tiny_runs, method_id):
    cls = get_method(method_id)
    assert cls.Extras is not Extras, f"{method_id} declares no Extras class"
    rd = tiny_runs[method_id].rd
    last = cls.Extras.from_snapshot(rd.load_snapshot(-1))  # checked as read back from disk
    assert isinstance(last, cls.Extras)
    assert any(v is not None for v in vars(last).values()), "the last snapshot has no extras"
    for i in range(rd.count()):
        cls.Extras.check(rd.load_snapshot(i).extras)


@pytest.mark.parametrize("method_id", shipped())
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


def test_every_method_that_suits_data_has_one_built_in_to_preselect():
    """The Train page preselects F.paper_data(cls) when a method is chosen: its try_it, else
    the first built-in data set it suits (the baselines, which have no card and no try_it)."""
    from dcviz.forms import paper_data
    kinds = {d["id"]: d["kind"] for d in D.list_datasets()}
    for cls in map(get_method, shipped()):
        if cls.try_it:
            assert paper_data(cls) == cls.try_it, cls.id
        if cls.suits:
            data = paper_data(cls)
            assert data in cls.suits and kinds[data] != "download", (cls.id, data)
