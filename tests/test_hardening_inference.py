"""Checkpoints from elsewhere that used to crash dcviz.inference instead of a RunStoreError,
and runs whose last snapshot diverged (NaN latent), which used to fail infer's PCA basis.

The run folder is made by hand: an untrained ae-kmeans model on digits' shape, no training.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from dcviz.inference import infer, open_model
from dcviz.methods import get_method
from dcviz.runs import RunStore
from dcviz.runs.store import RunStoreError, Snapshot

N_SUB, K = 30, 3


def make_run(root, latent=None, **blob_changes):
    """A run folder with a checkpoint of an untrained ae-kmeans and one snapshot."""
    torch.manual_seed(0)
    cls = get_method("ae-kmeans")
    cfg = cls.Config.from_dict({"n_clusters": K, "latent_dim": 4})
    method = cls(cfg)
    method.build(64, (1, 8, 8))
    method.centroids = torch.randn(K, 4)
    store = RunStore(root)
    rd = store.create("20250101-000000-ae-kmeans-0000abcd")
    rd.write_config({"method": "ae-kmeans", "config": cfg.to_dict(), "data": {"name": "digits"},
                     "n_samples": 1797, "input_dim": 64, "image_shape": [1, 8, 8]})
    rd.write_status("done")
    rd.write_subsample(np.arange(N_SUB))
    z = np.zeros((N_SUB, 4), np.float32) if latent is None else latent
    rd.append_snapshot(Snapshot(epoch=0, step=0, stage="cluster", latent=z,
                                assign=np.arange(N_SUB) % K, progress=1.0))
    rd.save_checkpoint(method)
    if blob_changes:
        path = rd.path / "checkpoint.pt"
        blob = torch.load(path, weights_only=True)
        blob.update(blob_changes)
        buf = io.BytesIO()
        torch.save(blob, buf)
        path.write_bytes(buf.getvalue())
    return rd


def test_the_hand_made_run_opens(tmp_path):
    assert open_model(make_run(tmp_path)).input_dim == 64


@pytest.mark.parametrize("resume", ["junk", [1], 5])
def test_a_resume_record_that_is_not_an_object(tmp_path, resume):
    # was AttributeError: 'str' object has no attribute 'get' (the page catches RunStoreError,
    # ValueError, ... but not AttributeError)
    model = open_model(make_run(tmp_path, resume=resume))
    assert model.phase is None


def test_a_config_value_past_floats_range(tmp_path):
    # was OverflowError out of Config.from_dict, through RunDir.load_checkpoint; now the
    # config names the field
    rd = make_run(tmp_path, config={"n_clusters": K, "latent_dim": 4, "lr": 10**400})
    with pytest.raises(RunStoreError, match="lr expects a number"):
        open_model(rd)


def test_a_run_whose_last_snapshot_diverged_still_takes_new_points(tmp_path):
    # was numpy.linalg.LinAlgError "SVD did not converge" from the PCA basis of NaN points
    rd = make_run(tmp_path, latent=np.full((N_SUB, 4), np.nan, np.float32))
    model = open_model(rd)

    class New:
        x = np.random.default_rng(0).random((20, 64)).astype(np.float32)
        y = None
        image_shape = (1, 8, 8)
        name = "new"

    result = infer(model, New())
    assert result.assign.shape == (20,) and result.train_source == "none"
    assert result.coords is None


def test_a_checkpoint_whose_network_gives_nan_is_refused_with_words(tmp_path):
    # a diverged network: every point landed in cluster 0 and the plot had NaN coordinates
    model = open_model(make_run(tmp_path))
    with torch.no_grad():
        for p in model.method.ae.parameters():
            p.fill_(float("nan"))

    class New:
        x = np.random.default_rng(0).random((20, 64)).astype(np.float32)
        y = None
        image_shape = (1, 8, 8)
        name = "new"

    with pytest.raises(ValueError, match="places 20 of the 20 points at NaN"):
        infer(model, New())
