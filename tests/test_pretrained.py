"""The pretrained-autoencoder store (dcviz.pretrained): keys, locking, atomic builds, damage.

Most tests use a tiny fake pretraining (a few random tensors, a few snapshots), so they test the
store and not an autoencoder.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dcviz.methods.base import Snapshot
from dcviz.pretrained import (PretrainedStore, PretrainKey, Trained, capture_rng, data_fingerprint,
                              restore_rng)

ROOT = Path(__file__).resolve().parents[1]


def make_key(**changes) -> PretrainKey:
    parts = dict(
        data=data_fingerprint(np.arange(12, dtype=np.float32).reshape(4, 3)),
        arch={"kind": "mlp", "sizes": [3, 5, 2], "init": "torch-default"},
        recipe={"epochs": 3, "batch_size": 2, "optimizer": "adam", "lr": 1e-3, "noise": 0.0,
                "augment": "none", "device": "cpu", "precision": "fp32"},
        seed=0)
    parts.update(changes)
    return PretrainKey.make(**parts)


def fake_train(calls: list | None = None, epochs: int = 3, n: int = 4, pause: float = 0.0,
               fail_at: int | None = None, seed: int = 0):
    """A pretraining stand-in: yields one snapshot per epoch over all n points, returns weights."""
    def train_fn():
        if calls is not None:
            calls.append(1)
        g = torch.Generator().manual_seed(seed)
        losses = []
        for epoch in range(epochs):
            if fail_at is not None and epoch == fail_at:
                raise RuntimeError("pretraining failed")
            time.sleep(pause)
            latent = torch.randn(n, 2, generator=g).numpy()
            losses.append(1.0 / (epoch + 1))
            yield Snapshot(epoch=epoch + 1, step=epoch + 1, stage="pretrain", latent=latent,
                           assign=np.arange(n) % 2, losses={"reconstruction": losses[-1]})
        return Trained(weights={"w": torch.randn(3, 3, generator=g), "b": torch.zeros(3)},
                       rng=capture_rng(g), losses=losses)
    return train_fn


def consume(gen):
    """Drive a get_or_train generator to its end; returns ((entry, hit), snapshots yielded)."""
    yielded = []
    while True:
        try:
            yielded.append(next(gen))
        except StopIteration as stop:
            return stop.value, yielded


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".locks") if root.exists() else []


# --------------------------------------------------------------------------- the key

def test_key_changes_with_every_field_and_not_with_dict_order():
    base = make_key()
    assert make_key().id == base.id
    reordered = make_key(recipe=dict(reversed(list(make_key().recipe.items()))))
    assert reordered.id == base.id
    changed = [
        make_key(data=data_fingerprint(np.arange(12, dtype=np.float32).reshape(4, 3) + 1e-3)),
        make_key(data=data_fingerprint(np.arange(12, dtype=np.float32).reshape(3, 4))),
        make_key(data=data_fingerprint(np.arange(12, dtype=np.float32).reshape(4, 3), (1, 1, 3))),
        make_key(seed=1),
        PretrainKey.make(data=base.data, arch=base.arch, recipe=base.recipe, seed=0,
                         version=base.version + 1),
    ]
    for name, value in [("kind", "conv"), ("sizes", [3, 6, 2]), ("init", "xavier")]:
        changed.append(make_key(arch={**base.arch, name: value}))
    for name, value in [("epochs", 4), ("batch_size", 3), ("optimizer", "sgd"), ("lr", 1e-2),
                        ("lr_schedule", "cosine"), ("noise", 0.2), ("dropout", 0.2),
                        ("augment", "images"), ("device", "cuda"), ("precision", "bf16")]:
        changed.append(make_key(recipe={**base.recipe, name: value}))
    ids = [k.id for k in changed]
    assert base.id not in ids
    assert len(set(ids)) == len(ids)


def test_key_refuses_values_without_a_json_form():
    with pytest.raises(ValueError):
        make_key(recipe={"lr": float("nan")})


def test_rng_state_round_trip():
    g, rng = torch.Generator().manual_seed(3), np.random.default_rng(3)
    torch.randn(5, generator=g), rng.random(5)
    state = json.loads(json.dumps(capture_rng(g, rng)))  # survives JSON, as in rng.json
    expect_t, expect_n = torch.randn(4, generator=g), rng.random(4)
    g2, rng2 = torch.Generator().manual_seed(99), np.random.default_rng(99)
    restore_rng(state, g2, rng2)
    assert torch.equal(torch.randn(4, generator=g2), expect_t)
    assert np.array_equal(rng2.random(4), expect_n)


# --------------------------------------------------------------------------- hit and miss

def test_miss_trains_and_saves_then_hit_loads_without_training(tmp_path):
    store, key, calls = PretrainedStore(tmp_path), make_key(), []
    assert store.lookup(key) is None
    (entry, hit), yielded = consume(store.get_or_train(key, fake_train(calls)))
    assert (hit, len(calls), len(yielded)) == (False, 1, 3)
    assert entry.meta["epochs"] == 3 and entry.meta["final_loss"] == pytest.approx(1 / 3)
    assert {"torch", "numpy"} >= set(entry.rng) and "versions" in entry.meta
    assert store.lookup(key)["id"] == key.id

    (again, hit), yielded = consume(store.get_or_train(key, fake_train(calls)))
    assert (hit, len(calls), yielded) == (True, 1, [])
    for name in entry.weights:
        assert torch.equal(again.weights[name], entry.weights[name])
    assert [s.epoch for s in again.snapshots] == [1, 2, 3]
    assert np.array_equal(again.snapshots[2].latent, yielded_latent(key, store))
    assert np.array_equal(again.losses, entry.losses)
    assert again.record(hit=True)["entry"] == key.id


def yielded_latent(key, store):
    with np.load(store.path_of(key.id) / "snapshots" / "000002.npz", allow_pickle=False) as z:
        return z["latent"]


def test_refresh_trains_again_and_replaces_the_entry(tmp_path):
    store, key, calls = PretrainedStore(tmp_path), make_key(), []
    consume(store.get_or_train(key, fake_train(calls, seed=0)))
    (entry, hit), _ = consume(store.get_or_train(key, fake_train(calls, seed=1), refresh=True))
    assert (hit, len(calls)) == (False, 2)
    (loaded, hit), _ = consume(store.get_or_train(key, fake_train(calls)))
    assert hit and torch.equal(loaded.weights["w"], entry.weights["w"])
    assert leftovers(tmp_path) == [key.id]


# --------------------------------------------------------------------------- concurrency

def test_two_threads_that_need_one_missing_entry_train_it_once(tmp_path):
    key, calls, results = make_key(), [], [None, None]
    start = threading.Barrier(2)

    def worker(i):
        store = PretrainedStore(tmp_path)  # a store object each, as two runs would have
        start.wait()
        results[i] = consume(store.get_or_train(key, fake_train(calls, pause=0.1)))[0]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(calls) == 1
    assert sorted(hit for _, hit in results) == [False, True]
    assert torch.equal(results[0][0].weights["w"], results[1][0].weights["w"])


def _process_worker(root: str, calls_file: str, out_file: str, go) -> None:
    from dcviz.pretrained import PretrainedStore as Store

    def train_fn():
        with open(calls_file, "a") as f:
            f.write("x")
        return (yield from fake_train(pause=0.2)())

    go.wait(timeout=60)
    (entry, hit), _ = consume(Store(root).get_or_train(make_key(), train_fn))
    Path(out_file).write_text(json.dumps({"hit": hit, "w": entry.weights["w"].tolist()}))
    # Leave without the interpreter's teardown: a spawned child that imported torch can abort
    # there ("terminate called without an active exception", SIGABRT; pytorch/pytorch#60998),
    # after its work is done. Seen once in a full CI run; what this test checks is written above.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def test_two_processes_that_need_one_missing_entry_train_it_once(tmp_path):
    spawn = mp.get_context("spawn")
    go = spawn.Event()
    calls = tmp_path / "calls"
    outs = [tmp_path / f"out{i}.json" for i in range(2)]
    procs = [spawn.Process(target=_process_worker,
                           args=(str(tmp_path / "store"), str(calls), str(out), go))
             for out in outs]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert calls.read_text() == "x"
    results = [json.loads(o.read_text()) for o in outs]
    assert sorted(r["hit"] for r in results) == [False, True]
    assert results[0]["w"] == results[1]["w"]


# --------------------------------------------------------------------------- killed and stopped

def test_a_pretraining_that_fails_leaves_nothing(tmp_path):
    store, key = PretrainedStore(tmp_path), make_key()
    with pytest.raises(RuntimeError, match="pretraining failed"):
        consume(store.get_or_train(key, fake_train(fail_at=2)))
    assert leftovers(tmp_path) == [] and store.lookup(key) is None and store.list() == []
    # and the lock is free again: the next run trains it
    (entry, hit), _ = consume(store.get_or_train(key, fake_train()))
    assert not hit and leftovers(tmp_path) == [key.id]


def test_a_pretraining_that_is_stopped_midway_leaves_nothing(tmp_path):
    store, key = PretrainedStore(tmp_path), make_key()
    gen = store.get_or_train(key, fake_train(epochs=5))
    next(gen), next(gen)
    gen.close()  # what a stopped run does to its fit generator
    assert leftovers(tmp_path) == [] and store.lookup(key) is None


KILLED_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_pretrained import make_key, fake_train
from dcviz.pretrained import PretrainedStore
gen = PretrainedStore({store!r}).get_or_train(make_key(), fake_train(epochs=1000, pause=0.05))
next(gen)
Path({marker!r}).write_text("training")
for _ in gen:
    pass
"""


def test_a_killed_pretraining_process_leaves_no_entry_and_its_leftovers_are_cleaned(tmp_path):
    store_dir, marker = tmp_path / "store", tmp_path / "marker"
    script = KILLED_CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"), store=str(store_dir),
                                 marker=str(marker))
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.time() + 120
        while not marker.exists() and child.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the child never started training"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    store, key = PretrainedStore(store_dir), make_key()
    assert store.lookup(key) is None and store.list() == []
    assert [n for n in leftovers(store_dir) if n.startswith(".tmp-")]  # the half-built folder
    (entry, hit), _ = consume(store.get_or_train(key, fake_train()))  # the lock died with it
    assert not hit and leftovers(store_dir) == [key.id]


# --------------------------------------------------------------------------- damage

def _damage_missing(path):
    (path / "weights.pt").unlink()


def _damage_empty(path):
    (path / "weights.pt").write_bytes(b"")


def _damage_flipped(path):
    snap = path / "snapshots" / "000001.npz"
    raw = bytearray(snap.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    snap.write_bytes(bytes(raw))


def _damage_meta_key(path):
    meta = json.loads((path / "meta.json").read_text())
    meta["key"]["seed"] = 7
    (path / "meta.json").write_text(json.dumps(meta))


def _damage_meta_gone(path):
    (path / "meta.json").write_text("{not json")


def _damage_meta_files(path):
    meta = json.loads((path / "meta.json").read_text())
    meta["files"]["weights.pt"] = 5  # a record that is not an object
    (path / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", [_damage_missing, _damage_empty, _damage_flipped,
                                    _damage_meta_key, _damage_meta_gone, _damage_meta_files])
def test_a_damaged_entry_is_trained_again_with_a_warning(tmp_path, damage, caplog):
    store, key, calls = PretrainedStore(tmp_path), make_key(), []
    (first, _), _ = consume(store.get_or_train(key, fake_train(calls)))
    damage(store.path_of(key.id))
    with caplog.at_level(logging.WARNING, logger="dcviz.pretrained"):
        (entry, hit), yielded = consume(store.get_or_train(key, fake_train(calls)))
    assert (hit, len(calls), len(yielded)) == (False, 2, 3)
    assert entry.repaired and entry.record(hit)["repaired"] == entry.repaired
    assert any("damaged" in r.getMessage() for r in caplog.records)
    assert torch.equal(entry.weights["w"], first.weights["w"])
    (again, hit), _ = consume(store.get_or_train(key, fake_train(calls)))
    assert hit and again.repaired is None and len(calls) == 2


def test_a_pickled_object_in_the_weights_is_refused_as_damage(tmp_path):
    store, key, calls = PretrainedStore(tmp_path), make_key(), []
    consume(store.get_or_train(key, fake_train(calls)))
    path = store.path_of(key.id)
    torch.save({"w": torch.zeros(1), "evil": Path("/")}, path / "weights.pt")  # not a tensor
    meta = json.loads((path / "meta.json").read_text())
    from dcviz.safeio import file_sha256
    meta["files"]["weights.pt"] = {"size": (path / "weights.pt").stat().st_size,
                                   "sha256": file_sha256(path / "weights.pt")}
    (path / "meta.json").write_text(json.dumps(meta))
    (entry, hit), _ = consume(store.get_or_train(key, fake_train(calls)))
    assert not hit and "does not load" in entry.repaired and len(calls) == 2


# --------------------------------------------------------------------------- list, delete, clear, CLI

def test_list_delete_and_clear(tmp_path):
    store = PretrainedStore(tmp_path)
    keys = [make_key(seed=s) for s in range(3)]
    for k in keys:
        consume(store.get_or_train(k, fake_train()))
    rows = store.list()
    assert sorted(r["id"] for r in rows) == sorted(k.id for k in keys)
    assert all(r["bytes"] > 0 and r["epochs"] == 3 and "seed" in r["summary"] for r in rows)
    assert store.delete(keys[0].id) and not store.delete(keys[0].id)
    with pytest.raises(ValueError):
        store.delete("../../etc")
    (tmp_path / f".tmp-{keys[0].id}-dead").mkdir()  # a killed pretraining's leftover
    assert store.clear() == (2, 0)
    assert leftovers(tmp_path) == []


def test_list_skips_an_entry_deleted_while_it_is_listed(tmp_path, monkeypatch):
    # another process (a `cache clear`, a refresh) may remove an entry between the listing of
    # the folder and the reading of its files: the list goes on without it
    store, keys = PretrainedStore(tmp_path), [make_key(seed=s) for s in range(2)]
    for k in keys:
        consume(store.get_or_train(k, fake_train()))
    gone = store.path_of(keys[0].id)
    read_text = Path.read_text

    def racing_read(self, *a, **kw):
        if self == gone / "meta.json":
            shutil.rmtree(gone)
        return read_text(self, *a, **kw)
    monkeypatch.setattr(Path, "read_text", racing_read)
    assert [r["id"] for r in store.list()] == [keys[1].id]


def test_clear_skips_an_entry_that_is_being_built(tmp_path):
    store, busy, done = PretrainedStore(tmp_path), make_key(seed=1), make_key(seed=2)
    consume(store.get_or_train(done, fake_train()))
    consume(store.get_or_train(busy, fake_train()))
    gen = store.get_or_train(busy, fake_train(epochs=5), refresh=True)
    next(gen)  # holds busy's lock mid-build
    other = threading.Thread(target=lambda: results.append(PretrainedStore(tmp_path).clear()))
    results: list = []
    other.start()
    other.join(timeout=30)
    assert results == [(1, 1)]
    gen.close()
    assert store.lookup(busy) is not None  # the refresh was stopped: the old entry stays


def test_cli_cache_list_and_clear(tmp_path, monkeypatch, capsys):
    from dcviz.cli import main
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path))
    assert main(["cache", "list"]) == 0
    assert "no pretrained" in capsys.readouterr().out
    key = make_key()
    consume(PretrainedStore().get_or_train(key, fake_train()))
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert key.id in out and "seed 0" in out and str(tmp_path) in out
    assert main(["cache", "clear"]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert PretrainedStore().list() == []


def test_default_root_follows_the_environment(tmp_path, monkeypatch):
    from dcviz.pretrained import default_root
    monkeypatch.delenv("DCVIZ_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "dcviz" / "pretrained"
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "mine"))
    assert default_root() == tmp_path / "mine"


# --------------------------------------------------------------------------- the AE base's seam

def test_pretrain_through_store_modes(tmp_path, monkeypatch):
    from dcviz.pretrained import pretrain_through_store
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "default"))
    store, key, calls, restored = PretrainedStore(tmp_path / "store"), make_key(), [], []

    def run(mode):
        return consume(pretrain_through_store(mode, key, fake_train(calls), restored.append,
                                              store=store))

    record, live = run("off")
    assert record is None and len(calls) == 1 and len(live) == 3
    assert not (tmp_path / "store").exists() and not (tmp_path / "default").exists()

    record, first = run("reuse")
    assert (record["hit"], record["entry"], len(calls), restored) == (False, key.id, 2, [])
    record, replayed = run("reuse")
    assert record["hit"] and len(calls) == 2 and [e.id for e in restored] == [key.id]
    assert [s.epoch for s in replayed] == [s.epoch for s in first]
    for a, b in zip(first, replayed):
        assert np.array_equal(a.latent, b.latent) and np.array_equal(a.assign, b.assign)
        assert a.losses == b.losses and a.stage == b.stage

    record, _ = run("refresh")
    assert not record["hit"] and len(calls) == 3
    record, _ = run("off")
    assert len(calls) == 4 and len(store.list()) == 1
    assert not (tmp_path / "default").exists()
    with pytest.raises(ValueError):
        run("sometimes")


# --------------------------------------------------------------------------- through the AE methods

TINY = {"ae-kmeans": {"pretrain_epochs": 3, "snapshot_every": 1},
        "dekm": {"pretrain_epochs": 3, "snapshot_every": 1, "max_iter": 3, "batches_per_iter": 2},
        "dcn": {"pretrain_epochs": 3, "snapshot_every": 1, "cluster_epochs": 1}}


def train_run(root: Path, method: str, **config):
    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, execute, prepare
    ds = D.load("digits")
    cls, cfg = prepare(method, ds, {**TINY[method], **config})
    rd = create_run(RunStore(root), cls, cfg, ds, "quick")
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "done", status.get("traceback")
    return ds, rd, status


@pytest.mark.parametrize("method", ["ae-kmeans", "dekm"])
def test_a_run_from_an_entry_gives_the_labels_of_the_run_that_made_it(tmp_path, monkeypatch, method):
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    ds, first, s1 = train_run(tmp_path / "runs", method)
    _, second, s2 = train_run(tmp_path / "runs", method)
    _, plain, s3 = train_run(tmp_path / "runs", method, pretrained="off")
    assert s1["pretrained"]["hit"] is False and s2["pretrained"]["hit"] is True
    assert s1["pretrained"]["entry"] == s2["pretrained"]["entry"]
    assert second.read_config()["pretrained"]["entry"] == s1["pretrained"]["entry"]
    assert "pretrained" not in s3 and "pretrained" not in plain.read_config()
    labels = [rd.load_checkpoint().predict(ds.x) for rd in (first, second, plain)]
    assert np.array_equal(labels[0], labels[1]) and np.array_equal(labels[0], labels[2])
    assert s1["metrics"] == s2["metrics"] == s3["metrics"]
    # the replayed pretraining snapshots are those of the run that made the entry
    assert first.count() == second.count() == plain.count()
    for i in range(first.count()):
        a, b = first.load_snapshot(i), second.load_snapshot(i)
        assert (a.epoch, a.stage, a.losses) == (b.epoch, b.stage, b.losses)
        assert np.array_equal(a.latent, b.latent) and np.array_equal(a.assign, b.assign)


def test_pretraining_draws_only_from_the_runs_own_generators(tmp_path, monkeypatch):
    """The store keeps and restores ctx's generators; torch's global one must stay untouched,
    or a run from an entry would go on differently from the run that made it."""
    from dcviz import data as D
    from dcviz.methods import get_method
    from dcviz.methods.base import Context
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    ds = D.load("digits")
    cls = get_method("ae-kmeans")
    m = cls(cls.Config.from_dict({**TINY["ae-kmeans"], "pretrained": "off"}))
    m.build(ds.dim, ds.image_shape)
    before = torch.get_rng_state()
    snaps = list(m.pretrain(ds, Context(seed=0, subsample=np.arange(100)), m.tensor(ds.x),
                            total_epochs=4))
    assert len(snaps) == 4 and snaps[-1].latent.shape == (100, 10)
    assert torch.equal(torch.get_rng_state(), before)


def test_pretrained_off_never_reads_or_writes_the_store(tmp_path, monkeypatch):
    import dcviz.pretrained as P
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    train_run(tmp_path / "runs", "ae-kmeans")  # an entry that an "off" run must not use
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*")}

    def refuse(*args, **kwargs):
        raise AssertionError("pretrained=off touched the store")

    for name in ("get_or_train", "_load", "_build", "lookup", "_locked"):
        monkeypatch.setattr(P.PretrainedStore, name, refuse)
    _, rd, status = train_run(tmp_path / "runs", "ae-kmeans", pretrained="off")
    assert "pretrained" not in status
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*")} == before
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "elsewhere"))
    train_run(tmp_path / "runs", "ae-kmeans", pretrained="off")
    assert not (tmp_path / "elsewhere").exists()


def test_refresh_trains_again_and_a_damaged_entry_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    _, _, s1 = train_run(tmp_path / "runs", "ae-kmeans")
    _, _, s2 = train_run(tmp_path / "runs", "ae-kmeans", pretrained="refresh")
    assert s2["pretrained"]["hit"] is False and s2["metrics"] == s1["metrics"]
    entry = PretrainedStore().path_of(s1["pretrained"]["entry"])
    (entry / "weights.pt").write_bytes(b"")
    _, rd, s3 = train_run(tmp_path / "runs", "ae-kmeans")
    assert s3["pretrained"]["hit"] is False and "weights.pt" in s3["pretrained"]["repaired"]
    assert "repaired" in rd.read_config()["pretrained"] and s3["metrics"] == s1["metrics"]


def test_an_archive_of_a_run_from_a_hit_opens_with_an_empty_store(tmp_path, monkeypatch):
    from dcviz.runs import RunStore
    from dcviz.runs.archive import export_zip, import_archive
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    train_run(tmp_path / "runs", "ae-kmeans")
    ds, rd, status = train_run(tmp_path / "runs", "ae-kmeans")
    assert status["pretrained"]["hit"]
    blob = export_zip(rd.path)
    assert PretrainedStore().clear() == (1, 0)
    other = RunStore(tmp_path / "other")
    run_id = import_archive(other, blob)
    imported = other.open(run_id)
    assert imported.count() == rd.count()
    assert np.array_equal(imported.load_checkpoint().predict(ds.x), rd.load_checkpoint().predict(ds.x))
    assert imported.read_config()["pretrained"]["hit"] is True
    assert PretrainedStore().list() == []


def test_a_run_with_another_k_reuses_the_entry_and_relabels_its_snapshots(tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    train_run(tmp_path / "runs", "ae-kmeans", n_clusters=10)
    _, rd, status = train_run(tmp_path / "runs", "ae-kmeans", n_clusters=4)
    assert status["pretrained"]["hit"]
    assert all(rd.load_snapshot(i).assign.max() <= 3 for i in range(rd.count()))


# --------------------------------------------------------------------------- shared recipes

def quick_key(method: str, ds, **config) -> PretrainKey:
    """The store key of a quick-preset run of ``method`` on ``ds``, worked out before any run."""
    from dcviz.methods import get_method
    from dcviz.runs.pretraining import plan_pretraining
    cls = get_method(method)
    return plan_pretraining(cls, cls.Config.from_preset("quick", **config), ds).key


@pytest.mark.parametrize("data", ["digits", "objects"])  # the MLP kind and the conv kind
def test_quick_presets_share_one_pretrained_ae_per_recipe(data):
    from dcviz import data as D
    ds = D.load(data)
    plain = {m: quick_key(m, ds) for m in ("ae-kmeans", "dcn", "dekm", "acedec")}
    denoising = {m: quick_key(m, ds) for m in ("dec", "idec", "dcrl")}
    assert len({k.id for k in plain.values()}) == 1, {m: k.summary() for m, k in plain.items()}
    assert len({k.id for k in denoising.values()}) == 1, {m: k.summary() for m, k in denoising.items()}
    p, d = plain["dekm"], denoising["dec"]
    assert p.id != d.id and p.recipe["noise"] == 0 and d.recipe["noise"] > 0
    assert p.arch["summary"].startswith("conv" if data == "objects" else "mlp")
    # k is not part of the pretraining: another number of clusters reuses the same AE
    assert quick_key("dcn", ds, n_clusters=3).id == p.id
    if ds.image_shape is not None:  # ACe/DeC's augmentation mode is a recipe of its own
        aug = quick_key("acedec", ds, augment=True)
        assert aug.id != p.id and aug.recipe["augment"] != "none"


def paper_key(method: str, ds, **config) -> PretrainKey:
    from dcviz.methods import get_method
    from dcviz.runs.pretraining import plan_pretraining
    cls = get_method(method)
    return plan_pretraining(cls, cls.Config.from_preset("paper", **config), ds).key


@pytest.mark.parametrize("data", ["digits", "objects"])  # small images, and images of 64x64
def test_paper_presets_share_one_pretrained_ae(data):
    """The paper presets pretrain ONE AE per seed for the methods ACe/DeC compares on the same
    AEs: the MLP d-500-500-2000-10 even for images of 16x16 and more, where arch="auto" would
    pick the conv AE; DCRL keeps its paper's deeper net and recipe, and DEKM its paper's recipe
    (below)."""
    from dcviz import data as D
    ds = D.load(data)
    keys = {m: paper_key(m, ds) for m in ("ae-kmeans", "dec", "idec", "dcn", "acedec")}
    assert len({k.id for k in keys.values()}) == 1, {m: k.summary() for m, k in keys.items()}
    key = keys["ae-kmeans"]
    assert key.arch["summary"].startswith("mlp")
    assert (key.recipe["optimizer"], key.recipe["dropout"], key.recipe["noise"]) == ("sgd", 0.2, 0.0)
    assert paper_key("dcn", ds, seed=1).id != key.id  # one AE per seed
    # DCRL's paper: its own denoising recipe (Gaussian noise, Adam) on its own deeper net
    dcrl = paper_key("dcrl", ds)
    assert dcrl.arch != key.arch
    assert (dcrl.recipe["optimizer"], dcrl.recipe["noise"], dcrl.recipe["dropout"]) == (
        "adam", 0.2, 0.0)
    # DEKM's paper: the conv AE for images of 16x16 and more, the MLP below; Xavier and Adam
    dekm = paper_key("dekm", ds)
    assert dekm.id != key.id
    assert dekm.arch["summary"].startswith("conv" if data == "objects" else "mlp")
    assert (dekm.recipe["optimizer"], dekm.recipe["dropout"]) == ("adam", 0.0)
    # ... and the shared recipe's fields give the shared AE back (bench/mnist.py pins them)
    from dcviz.methods.ae_kmeans import PAPER_PRETRAIN
    assert paper_key("dekm", ds, **PAPER_PRETRAIN).id == key.id
    assert paper_key("dcrl", ds, hidden="500 500 2000", noise=0.0, **PAPER_PRETRAIN).id == key.id


@pytest.mark.parametrize("field,value", [("pretrain_epochs", 21), ("pretrain_batch_size", 32),
                                         ("lr", 2e-3), ("ae_init", "xavier"), ("seed", 1),
                                         ("pretrain_precision", "bf16"), ("latent_dim", 5),
                                         ("pretrain_optimizer", "sgd"), ("lr_schedule", "cosine"),
                                         ("pretrain_dropout", 0.2)])
def test_every_recipe_field_changes_the_planned_key(field, value):
    from dcviz import data as D
    ds = D.load("digits")
    assert quick_key("dekm", ds, **{field: value}).id != quick_key("dekm", ds).id
    # fields of the clustering phase do not
    assert quick_key("dekm", ds, max_iter=3, batch_size=32).id == quick_key("dekm", ds).id


def test_the_planned_key_is_the_key_the_run_uses_and_leaves_torch_alone(tmp_path, monkeypatch):
    from dcviz import data as D
    from dcviz.runs.pretraining import pretrain_status
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    ds = D.load("digits")
    before = torch.get_rng_state()
    key = quick_key("dekm", ds, **TINY["dekm"])
    assert torch.equal(torch.get_rng_state(), before)
    from dcviz.methods import get_method
    from dcviz.runs.pretraining import plan_pretraining
    cls = get_method("dekm")
    plan = plan_pretraining(cls, cls.Config.from_preset("quick", **TINY["dekm"]), ds)
    status = pretrain_status(plan)
    assert (status.state, status.measured) == ("train", 0) and status.estimate_s > 0
    assert "will be pretrained" in status.text() and "rough guess" in status.text()
    _, _, s1 = train_run(tmp_path / "runs", "dekm")
    assert s1["pretrained"]["entry"] == key.id
    status = pretrain_status(plan)
    assert status.state == "found" and status.measured == 1
    assert status.text().startswith("Pretrained AE found: trained ")
    assert "3 epochs" in status.text() and "pretraining is skipped" in status.text()
    # DCN's quick run now finds DEKM's AE: one AE for both
    _, _, s2 = train_run(tmp_path / "runs", "dcn")
    assert s2["pretrained"]["hit"] and s2["pretrained"]["entry"] == key.id


def test_status_before_launch_in_every_state(tmp_path):
    from dcviz.runs.pretraining import PretrainPlan, pretrain_status
    store, key = PretrainedStore(tmp_path / "store"), make_key()
    plan = PretrainPlan(mode="reuse", key=key, epochs=3, flops=40e9, device="cpu")
    s = pretrain_status(plan, store)
    assert (s.state, s.measured, s.estimate_s) == ("train", 0, 2.0)  # 40 GFLOP at the 20 GFLOP/s guess
    assert "will be pretrained, about 2 s (a rough guess" in s.text()

    started, release = threading.Event(), threading.Event()

    def slow_train():
        started.set()
        release.wait(10)
        return (yield from fake_train()())

    worker = threading.Thread(target=consume, args=(store.get_or_train(key, slow_train),))
    worker.start()
    assert started.wait(10)
    s = pretrain_status(plan, store)
    assert s.state == "building" and "Another run is pretraining this AE right now" in s.text()
    release.set()
    worker.join(10)

    s = pretrain_status(plan, store)  # the fake entry has no flops: still the default guess
    assert s.state == "found" and re.match(r"Pretrained AE found: trained (just now|\d+ s ago), "
                                           r"3 epochs, loss 0\.333", s.text())
    assert pretrain_status(PretrainPlan("refresh", key, 3, 40e9, "cpu"), store).state == "refresh"
    off = pretrain_status(PretrainPlan("off", None, 3, 40e9, "cpu"), store)
    assert off.state == "off" and "not kept" in off.text()
    # the speed of entries that say their FLOPs and seconds replaces the guess
    rows = [{"flops": 100e9, "seconds": 2.0, "key": {"recipe": {"device": "cpu"}}},
            {"flops": 100e9, "seconds": 1.0, "key": {"recipe": {"device": "cpu"}}},
            {"flops": 100e9, "seconds": 0.1, "key": {"recipe": {"device": "cuda"}}}]
    from dcviz.runs.pretraining import measured_rate
    assert measured_rate(rows, "cpu") == (75.0, 2) and measured_rate(rows, "cuda") == (1000.0, 1)
    assert measured_rate([], "mps")[1] == 0
    # entries of the same net first: a conv AE runs at another speed than an MLP
    rows[0]["key"]["arch"] = {"class": "ConvAutoencoder"}
    assert measured_rate(rows, "cpu", "ConvAutoencoder") == (50.0, 1)
    assert measured_rate(rows, "cpu", "MLPAutoencoder") == (75.0, 2)  # none: all of the device


def test_a_store_that_cannot_be_written_is_skipped_and_the_run_says_why(tmp_path, monkeypatch,
                                                                         caplog):
    """The store only saves time: with a file where its folder should be, a run pretrains as
    with pretrained=off (the same labels), logs a warning, and its record and the Train page's
    line before Launch say why."""
    from dcviz.pretrained import run_provenance
    from dcviz.runs.pretraining import PretrainPlan, pretrain_status
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    _, _, fine = train_run(tmp_path / "runs", "ae-kmeans")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(blocked))
    assert "NotADirectoryError" in PretrainedStore().unusable()
    assert "is not a folder" in PretrainedStore().unusable(dry=True)
    assert "is not a folder" in PretrainedStore(blocked / "below").unusable(dry=True)
    fresh = tmp_path / "not" / "yet"
    assert PretrainedStore(fresh).unusable(dry=True) is None and not (tmp_path / "not").exists()
    with caplog.at_level(logging.WARNING, logger="dcviz.pretrained"):
        _, rd, status = train_run(tmp_path / "runs", "ae-kmeans")
    assert status["state"] == "done" and status["metrics"] == fine["metrics"]
    record = rd.read_config()["pretrained"]
    assert record["entry"] is None and str(blocked) in record["store_error"]
    assert any("cannot be used" in r.getMessage() for r in caplog.records)
    assert "could not be used" in run_provenance(rd.read_config())
    s = pretrain_status(PretrainPlan("reuse", make_key(), 3, 40e9, "cpu"))
    assert s.state == "unusable" and "cannot be used" in s.text() and "not kept" in s.text()
    assert PretrainedStore(tmp_path / "cache").unusable() is None


@pytest.mark.parametrize("when", ["a snapshot", "the weights"])
def test_a_store_whose_disk_fills_keeps_nothing_and_the_run_goes_on(tmp_path, monkeypatch, caplog,
                                                                    when):
    """The store's disk fills while an entry is written: the run still ends as with
    pretrained=off (the AE is trained in its memory), nothing of the entry is left, and the
    record says the AE was not kept."""
    import errno

    from dcviz.runs.store import RunDir
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(tmp_path / "cache"))
    _, _, fine = train_run(tmp_path / "runs", "ae-kmeans", pretrained="off")
    cache = (tmp_path / "cache").resolve()

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    if when == "a snapshot":
        real = RunDir.append_snapshot
        monkeypatch.setattr(RunDir, "append_snapshot", lambda self, *a, **k: full() if
                            self.path.resolve().is_relative_to(cache) and self.count() >= 2
                            else real(self, *a, **k))
    else:
        real = Path.write_bytes
        monkeypatch.setattr(Path, "write_bytes", lambda self, data: full()
                            if self.name == "weights.pt" else real(self, data))
    with caplog.at_level(logging.WARNING, logger="dcviz.pretrained"):
        _, rd, status = train_run(tmp_path / "runs", "ae-kmeans")
    assert status["state"] == "done" and status["metrics"] == fine["metrics"]
    record = rd.read_config()["pretrained"]
    assert record["entry"] is None and "no room" in record["store_error"]
    assert any("no room" in r.getMessage() for r in caplog.records)
    assert PretrainedStore().list() == [] and not any(cache.glob(".tmp-*"))


# --------------------------------------------------------------------------- Compare's sentence

def test_the_shared_ae_note_names_the_runs_without_a_stored_ae():
    """A DEKM run with an entry beside a DCRL run stopped while pretraining (no entry): the
    sentence said "Each run started from its own pretrained autoencoder (AE A)"."""
    from dcviz.pretrained import shared_ae_letters, shared_ae_note
    names = {"r1": "DEKM (seed 0)", "r2": "DCRL (seed 0)", "r3": "IDEC (seed 1)",
             "r4": "DEC (seed 2)"}
    records = {"r1": {"entry": "e1"}, "r2": {"entry": None, "store_error": "stopped"}}
    note = shared_ae_note(shared_ae_letters(records), names)
    assert "Each run" not in note and "its own" not in note, note
    assert "AE A: DEKM (seed 0)" in note and "no stored AE: DCRL (seed 0)" in note, note
    # every run has one, none shared: "each its own", as before
    note = shared_ae_note(shared_ae_letters({"r1": {"entry": "e1"}, "r3": {"entry": "e2"}}), names)
    assert note.startswith("Each run started from its own pretrained autoencoder (AE A, AE B)")
    # some share one, one has its own, one has none: each said
    note = shared_ae_note(shared_ae_letters({"r1": {"entry": "e1"}, "r3": {"entry": "e1"},
                                             "r4": {"entry": "e2"}, "r2": {}}), names)
    assert "AE A: DEKM (seed 0), IDEC (seed 1)." in note and "Own AE: AE B: DEC (seed 2)." in note
    assert note.endswith("No stored AE: DCRL (seed 0)."), note
    # no run has one: nothing to say
    assert shared_ae_note(shared_ae_letters({"r2": {}, "r4": None}), names) is None
