"""Hostile run archives that used to escape import_archive's checks, or got in as runs the
store then called damaged. Each is now an ArchiveError that leaves the store as it was.

The archives are made by hand (no training): config.json for ae-kmeans on digits,
subsample.npy and two snapshots; import_archive needs no more.
"""
from __future__ import annotations

import io
import json
import stat
import zipfile

import numpy as np
import pytest
import torch

from dcviz.runs import RunStore
from dcviz.runs.archive import ArchiveError, import_archive

N_SUB = 50
BIG = "9" * 5000  # past Python's 4,300-digit limit for int(str): json.loads raises ValueError


def npy(a) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def snapshot(**over) -> bytes:
    arrays = {"latent": np.zeros((N_SUB, 2), np.float32),
              "assign": np.arange(N_SUB, dtype=np.int64) % 3,
              "meta": np.array(json.dumps({"epoch": 0, "step": 0, "stage": "x"}))}
    arrays.update(over)
    return npz(**arrays)


def config(**config_fields) -> bytes:
    cfg = {"method": "ae-kmeans", "data": {"name": "digits"}, "n_samples": 1797,
           "config": {"n_clusters": 3, "subsample": 100, **config_fields}}
    return json.dumps(cfg).encode()


def run_files(**over) -> dict[str, bytes]:
    files = {"config.json": config(), "status.json": b'{"state": "done"}',
             "subsample.npy": npy(np.arange(N_SUB, dtype=np.int64)),
             "snapshots/000000.npz": snapshot(), "snapshots/000001.npz": snapshot()}
    files.update({k.replace("__", "/"): v for k, v in over.items()})
    return files


def rezip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(f"run/{name}")
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store")


def rejects(store: RunStore, files: dict[str, bytes], *fragments: str) -> None:
    store.root.mkdir(parents=True, exist_ok=True)
    before = sorted(p.name for p in store.root.iterdir())
    with pytest.raises(ArchiveError) as info:
        import_archive(store, rezip(files), label="bad.zip")
    for f in fragments:
        assert f in str(info.value), str(info.value)
    assert sorted(p.name for p in store.root.iterdir()) == before


def test_the_hand_made_archive_imports(store):
    run_id = import_archive(store, rezip(run_files()), label="ok.zip")
    assert store.open(run_id).check() is None


def test_subsample_that_is_an_npz(store):
    # was AttributeError: 'NpzFile' object has no attribute 'ndim'
    rejects(store, run_files(**{"subsample.npy": npz(x=np.arange(N_SUB))}), "subsample.npy",
            ".npz")


def test_config_value_past_floats_range(store):
    # was OverflowError from Config.from_dict (lr is a float field)
    rejects(store, run_files(**{"config.json": config(lr=10**400)}), "does not fit")


@pytest.mark.parametrize("name", ["config.json", "status.json"])
def test_json_integer_past_the_digit_limit(store, name):
    # was ValueError("Exceeds the limit (4300 digits) ...") from json.loads
    text = (config().decode().replace('"n_samples": 1797', f'"n_samples": {BIG}')
            if name == "config.json" else '{"state": "done", "seconds": ' + BIG + "}")
    rejects(store, run_files(**{name: text.encode()}), name, "cannot be read")


def test_metrics_line_past_the_digit_limit(store):
    # the store's metrics reader skips bad JSON but not this ValueError: every page would fail
    rejects(store, run_files(**{"metrics.jsonl": ('{"a": ' + BIG + "}\n").encode() * 2}),
            "metrics.jsonl", "cannot be read")


@pytest.mark.parametrize("over, fragment", [
    # each imported before, and the store then listed the run as damaged
    ({"latent": np.full((N_SUB, 2), "a")}, "latent"),
    ({"latent": np.zeros((N_SUB, 2), np.complex64)}, "latent"),
    ({"assign": np.zeros(N_SUB) + 0.5}, "assign"),
    ({"meta": np.array(json.dumps({"epoch": 0, "step": 0, "stage": "x", "losses": [1]}))},
     "losses"),
    # imported clean, then failed RunDir.load_snapshot (progress is read as a float)
    ({"meta": np.array(json.dumps({"epoch": 0, "step": 0, "stage": "x", "progress": "x"}))},
     "meta"),
    # imported clean; np.bincount of the Explore page's cluster sizes raises on a negative id
    # and tries to allocate 2**62 counters for a huge one
    ({"assign": -np.ones(N_SUB, np.int64)}, "cluster ids"),
    ({"assign": np.full(N_SUB, 2**62, np.int64)}, "cluster ids"),
    ({"latent": np.zeros((N_SUB, 0), np.float32)}, "no coordinates"),
])
def test_snapshots_the_store_cannot_show(store, over, fragment):
    bad = snapshot(**over)
    rejects(store, run_files(**{"snapshots/000000.npz": bad, "snapshots/000001.npz": bad}),
            "snapshots/000000.npz", fragment)


def test_checkpoint_config_past_floats_range(store):
    # was OverflowError out of method_from_checkpoint (Config.from_dict of the blob's config)
    buf = io.BytesIO()
    torch.save({"method": "ae-kmeans", "config": {"n_clusters": 3, "lr": 10**400},
                "input_dim": 64, "image_shape": [1, 8, 8], "state": {}}, buf)
    rejects(store, run_files(**{"checkpoint.pt": buf.getvalue()}), "checkpoint.pt",
            "does not rebuild")
