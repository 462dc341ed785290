"""Run engine: the run folder, threads with pause/resume/stop, failures, kills, the CLI."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.methods import REGISTRY, BaseConfig, ConfigError, Method, Snapshot, get_method, param, register
from dcviz.methods.base import Extras
from dcviz.runs import RunManager, RunStore, RunStoreError, create_run, execute, prepare
from dcviz.runs.view import RunView

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"name": "digits", "n": 200}


@dataclass
class _SlowConfig(BaseConfig):
    epochs: int = param(50, "epochs", min=1)
    crash_at: int = param(-1, "raise at this epoch (-1: never)")
    delay: float = param(0.02, "seconds per epoch", min=0.0)


@dataclass
class _SlowExtras(Extras):
    vec: np.ndarray
    scalar: float


@register
class _SlowMethod(Method):
    """A tiny test method: a linear map trained for a while, which can be told to crash."""

    id = "_test-slow"
    title = "test"
    Config = _SlowConfig
    Extras = _SlowExtras

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        self.w = torch.nn.Linear(input_dim, 2)

    def fit(self, data, ctx):
        x = self.tensor(data.x)
        for epoch in range(self.config.epochs):
            for _ in range(5):
                ctx.check()
                time.sleep(self.config.delay / 5)
            if epoch == self.config.crash_at:
                raise RuntimeError("boom at epoch %d" % epoch)
            z = self.w(x).detach().numpy()
            labels = (z[:, 0] > np.median(z[:, 0])).astype(int)
            yield self.make_snapshot(data, ctx, epoch=epoch, step=epoch, stage="train", labels=labels,
                                     latent_sub=z[ctx.subsample], losses={"loss": 1.0 / (epoch + 1)},
                                     extras={"vec": np.arange(3.0), "scalar": 0.5},
                                     progress=(epoch + 1) / self.config.epochs)

    def embed(self, x):
        return self.w(self.tensor(x)).detach().numpy()

    def predict(self, x):
        z = self.embed(x)
        return (z[:, 0] > 0).astype(int)

    def state_dict(self):
        return {"w": self.w.state_dict()}

    def load_state_dict(self, d):
        self.w.load_state_dict(d["w"])


def _wait(pred, timeout=60.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_run_folder_contents_and_reload(tmp_path):
    ds = D.load(SMALL)
    cls, cfg = prepare("_test-slow", ds, {"epochs": 4, "delay": 0.0, "n_clusters": 2, "subsample": 100})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick")
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "done"
    names = {p.name for p in rd.path.iterdir()}
    assert {"config.json", "status.json", "subsample.npy", "snapshots", "metrics.jsonl", "checkpoint.pt"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    assert rd.count() == 4 and len(rd.metrics_rows()) == 4
    sub = rd.read_subsample()
    assert len(sub) == 100 and np.all(np.diff(sub) > 0)
    snap = rd.load_snapshot(-1)
    assert snap.latent.shape == (100, 2) and snap.assign.shape == (100,)
    assert snap.extras["scalar"] == 0.5 and snap.extras["vec"].tolist() == [0, 1, 2]
    assert set(snap.metrics) >= {"acc", "nmi", "ari"}
    cfg_json = rd.read_config()
    assert cfg_json["data"] == ds.spec and cfg_json["versions"]["torch"] == torch.__version__
    m = rd.load_checkpoint()
    np.testing.assert_allclose(m.embed(ds.x)[sub], snap.latent, atol=1e-5)
    view = RunView(rd)
    assert view.count == 4 and view.snapshot(-1).epoch == 3 and view.dataset.n == 200


def test_checkpoint_with_pickled_object_is_refused(tmp_path):
    ds = D.load(SMALL)
    cls, cfg = prepare("_test-slow", ds, {"epochs": 1, "delay": 0.0, "n_clusters": 2})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick")
    execute(rd, cls, cfg, ds)
    torch.save({"method": "_test-slow", "state": {}, "evil": _Evil()}, rd.path / "checkpoint.pt")
    with pytest.raises(RunStoreError, match="cannot be loaded safely"):
        rd.load_checkpoint()


class _Evil:
    pass


def test_run_ids_never_come_from_paths(tmp_path):
    store = RunStore(tmp_path)
    for bad in ["../x", "/etc", "a/b", "..", "", "a\\b"]:
        with pytest.raises(RunStoreError):
            store.path_of(bad)


def test_manager_pause_resume_stop(tmp_path):
    mgr = RunManager(tmp_path, max_concurrent=2)
    run_id = mgr.launch("_test-slow", SMALL, {"epochs": 400, "delay": 0.05, "n_clusters": 2})
    live = mgr.live[run_id]
    assert _wait(lambda: live.count >= 2)
    mgr.pause(run_id)
    assert mgr.state(run_id) == "paused"
    time.sleep(0.3)
    frozen = live.count
    time.sleep(0.6)
    assert live.count <= frozen + 1  # at most the epoch that was in flight finishes
    assert mgr.store.open(run_id).read_status()["state"] == "paused"
    mgr.resume(run_id)
    assert _wait(lambda: live.count >= frozen + 3)
    mgr.stop(run_id)
    assert mgr.wait(run_id, timeout=30) == "stopped"
    rd = mgr.open(run_id)
    assert rd.read_status()["state"] == "stopped"
    assert rd.has_checkpoint() and rd.count() == live.count
    assert live.count < 400


def test_stop_while_paused_and_queue_limit(tmp_path):
    mgr = RunManager(tmp_path, max_concurrent=1)
    first = mgr.launch("_test-slow", SMALL, {"epochs": 400, "delay": 0.05, "n_clusters": 2})
    second = mgr.launch("_test-slow", SMALL, {"epochs": 2, "delay": 0.0, "n_clusters": 2})
    assert _wait(lambda: mgr.live[first].count >= 1)
    assert mgr.state(second) == "queued"  # over the limit of one running at a time
    mgr.pause(first)
    mgr.stop(first)
    assert mgr.wait(first, timeout=30) == "stopped"
    assert mgr.wait(second, timeout=30) == "done"


def test_crash_becomes_failed_with_error_text(tmp_path):
    mgr = RunManager(tmp_path)
    run_id = mgr.launch("_test-slow", SMALL, {"epochs": 10, "crash_at": 3, "delay": 0.0, "n_clusters": 2})
    assert mgr.wait(run_id, timeout=30) == "failed"
    status = mgr.open(run_id).read_status()
    assert status["state"] == "failed" and "boom at epoch 3" in status["error"]
    assert "RuntimeError" in status["traceback"]
    assert mgr.open(run_id).count() == 3  # the snapshots before the crash stay readable
    # the manager keeps working after a failure
    ok = mgr.launch("_test-slow", SMALL, {"epochs": 2, "delay": 0.0, "n_clusters": 2})
    assert mgr.wait(ok, timeout=30) == "done"


@pytest.mark.parametrize("config, match", [
    ({"n_clusters": 1}, "at least 2"),
    ({"n_clusters": 90}, "larger than the number of samples"),
    ({"epochs": 0}, "at least 1"),
    ({"delay": -1.0}, "at least 0"),
    ({"nope": 3}, "unknown config field"),
    ({"epochs": "many"}, "expects a whole number"),
    ({"delay": float("nan")}, "finite"),
])
def test_bad_config_is_refused_before_anything_is_written(tmp_path, config, match):
    mgr = RunManager(tmp_path)
    with pytest.raises(ConfigError, match=match):
        mgr.launch("_test-slow", {"name": "digits", "n": 50}, config)
    assert mgr.runs() == []


def test_unknown_method_and_data(tmp_path):
    mgr = RunManager(tmp_path)
    with pytest.raises(ConfigError, match="unknown method"):
        mgr.launch("no-such-method", SMALL)
    with pytest.raises(D.DataError, match="unknown data set"):
        mgr.launch("_test-slow", "no-such-data")
    assert mgr.runs() == []


def _cli(*args, env=None, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "dcviz", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_train_prints_json_last_line(tmp_path):
    p = _cli("train", "--method", "ae-kmeans", "--data", json.dumps(SMALL), "--seed", "1",
             "--runs-dir", str(tmp_path), "--set", "pretrain_epochs=2", "--set", "batch_size=64")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) >= {"run_dir", "method", "data", "seconds", "metrics"}
    assert set(result["metrics"]) >= {"acc", "nmi", "ari"}
    assert result["method"] == "ae-kmeans" and result["data"]["n"] == 200
    run = RunStore(tmp_path).open(Path(result["run_dir"]).name)
    assert run.read_config()["seed"] == 1 and run.read_status()["state"] == "done"


def test_cli_bad_input_exit_code(tmp_path):
    p = _cli("train", "--method", "ae-kmeans", "--data", "nope", "--runs-dir", str(tmp_path))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "unknown data set" in err and "Traceback" not in err


def test_killed_run_is_interrupted_and_readable(tmp_path):
    p = _cli("train", "--method", "ae-kmeans", "--data", json.dumps(SMALL), "--runs-dir", str(tmp_path),
             "--quiet", "--set", "pretrain_epochs=1000", "--set", "snapshot_every=1", "--set", "batch_size=64")
    store = RunStore(tmp_path)
    try:
        assert _wait(lambda: store.ids() and store.open(store.ids()[0]).count() >= 3, timeout=120), \
            p.stderr.read() if p.poll() is not None else "no snapshots"
        rd = store.open(store.ids()[0])
        assert rd.read_status()["state"] == "running"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    rows = store.list()
    assert rows[0]["state"] == "interrupted"
    view = RunView(rd)
    n = view.count
    assert n >= 3 and len(view.rows()) >= n - 1
    last = view.snapshot(n - 1)
    assert last.latent.shape[0] == len(view.subsample)


def test_sklearn_style_facade():
    from dcviz import AEKMeans
    ds = D.load({"name": "blobs8", "n": 400})
    model = AEKMeans(n_clusters=8, pretrain_epochs=3, batch_size=64, subsample=100).fit(ds.x)
    assert model.labels_.shape == (400,) and len(set(model.labels_)) == 8
    assert model.predict(ds.x[:10]).shape == (10,)
    assert model.embed(ds.x[:10]).shape == (10, 10)
    assert len(model.snapshots_) >= 1


def test_registry_has_the_foundation_methods():
    for mid in ("ae-kmeans", "dekm"):
        cls = get_method(mid)
        assert issubclass(cls, Method) and cls.id in REGISTRY
        for f in cls.Config.fields_info():
            assert f["help"], f"{mid}.{f['name']} has no help text"


def test_snapshot_is_plain_data(tmp_path):
    """A snapshot round-trips through the run store without pickle; an extra holding a Python
    object is refused, and nothing of it is written."""
    from dcviz.runs import RunStore
    rd = RunStore(tmp_path).create("plain")
    s = Snapshot(epoch=2, step=5, stage="x", latent=np.arange(4.0).reshape(2, 2),
                 assign=np.array([1, 0]), losses={"l": 0.25},
                 extras={"v": np.array([3, 4]), "f": 0.5, "name": "head"})
    rd.append_snapshot(s)
    back = rd.load_snapshot(0)
    assert (back.epoch, back.step, back.stage, back.losses) == (2, 5, "x", {"l": 0.25})
    np.testing.assert_array_equal(back.latent, s.latent)
    np.testing.assert_array_equal(back.assign, s.assign)
    assert back.extras["v"].tolist() == [3, 4] and back.extras["f"] == 0.5
    assert back.extras["name"] == "head"
    bad = Snapshot(epoch=3, step=6, stage="x", latent=s.latent, assign=s.assign,
                   extras={"obj": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(TypeError, match="obj"):
        rd.append_snapshot(bad)
    assert rd.count() == 1 and len(rd.metrics_rows()) == 1


_VECTORS = {"name": "blobs8", "n_samples": 50}


@pytest.mark.parametrize("method, config, match", [
    ("ae-kmeans", {"arch": "conv"}, "needs image data"),
    ("dec", {"arch": "conv"}, "needs image data"),
    ("gan", {"arch": "conv"}, "needs image data"),
    ("mlc", {"arch": "cnn"}, "needs image data"),
    ("acedec", {"augment": True}, "augment=True needs image data"),
])
def test_net_that_does_not_fit_the_data_is_refused_by_prepare(method, config, match):
    # these used to pass prepare() and fail only inside the run, as a failed run folder
    ds = D.load(_VECTORS)
    with pytest.raises(ConfigError, match=match):
        prepare(method, ds, {"n_clusters": 2, **config})


def test_conv_gan_on_images_under_4x4_is_refused_by_prepare():
    rng = np.random.default_rng(0)
    ds = D.Dataset(x=rng.random((50, 9), dtype=np.float32), image_shape=(1, 3, 3), name="tiny")
    with pytest.raises(ConfigError, match="at least 4x4"):
        prepare("gan", ds, {"n_clusters": 2, "arch": "conv"})
    prepare("gan", ds, {"n_clusters": 2, "arch": "mlp"})  # the fix the message names works


def test_cli_conv_on_vectors_exits_2_without_a_run_folder(tmp_path):
    p = _cli("train", "--method", "ae-kmeans", "--data", "blobs8:n_samples=50", "--set",
             "arch=conv", "--runs-dir", str(tmp_path))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert "needs image data" in err and "arch" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_checking_a_config_leaves_torchs_generator_alone():
    # the app checks a config while another run may be building its nets from the global
    # generator: the check must not draw from it
    import torch
    from dcviz import data as D
    from dcviz.runs.engine import prepare
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    for method in ("ae-kmeans", "acedec", "gan", "mlc"):
        prepare(method, D.load({"name": "blobs8", "n_samples": 60}), {})
    assert torch.equal(torch.rand(4), expected)
