"""The scikit-learn estimators: parameters from each method's config, clone, grid search."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

import dcviz
from dcviz import data as D
from dcviz.methods import get_method

TINY_AE = dict(pretrain_epochs=3, batch_size=64, subsample=100)


def test_parameters_are_the_config_fields_with_quick_defaults():
    est = dcviz.DEKM(n_clusters=4)
    params = est.get_params()
    cfg = get_method("dekm").Config
    assert set(params) == {f["name"] for f in cfg.fields_info()}
    quick = cfg.from_preset("quick")
    assert params["n_clusters"] == 4
    assert all(params[k] == getattr(quick, k) for k in params if k != "n_clusters")
    with pytest.raises(TypeError):
        dcviz.DEKM(no_such_field=1)
    paper = dcviz.DEKM.from_preset("paper", n_clusters=3)
    assert paper.get_params() == {**cfg.from_preset("paper", n_clusters=3).to_dict()}


def test_clone_and_set_params():
    est = dcviz.DEKM(n_clusters=4)
    twin = clone(est)
    assert twin is not est and type(twin) is type(est)
    assert twin.get_params() == est.get_params()
    assert twin.set_params(n_clusters=3, latent_dim=5) is twin
    assert (twin.n_clusters, twin.latent_dim, est.n_clusters) == (3, 5, 4)
    with pytest.raises(ValueError):
        twin.set_params(no_such_field=1)
    assert "n_clusters=4" in repr(est)  # sklearn's repr shows the changed parameters
    assert pickle.loads(pickle.dumps(est)).get_params() == est.get_params()
    for name in dcviz.ESTIMATORS:
        clone(getattr(dcviz, name)())


def test_grid_search_over_k_with_a_clustering_score():
    ds = D.load({"name": "blobs8", "n": 400})
    search = GridSearchCV(dcviz.AEKMeans(**TINY_AE), {"n_clusters": [4, 8]},
                          scoring="adjusted_rand_score", cv=KFold(2, shuffle=True, random_state=0))
    search.fit(ds.x, ds.y)
    assert search.best_params_ == {"n_clusters": 8}  # eight blobs
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0]
    assert search.best_estimator_.labels_.shape == (400,)


def test_fit_keeps_the_snapshots_and_labels():
    ds = D.load({"name": "blobs8", "n": 300})
    model = dcviz.AEKMeans(n_clusters=8, **TINY_AE).fit(ds.x)
    assert model.labels_.shape == (300,) and model.n_features_in_ == ds.dim
    assert np.array_equal(model.fit_predict(ds.x), model.labels_)
    assert model.transform(ds.x[:5]).shape[0] == 5 and model.snapshots_


def test_fit_takes_y_through_the_loaders_label_checks():
    # y was cast to int64 as it was: 0.5 and 0.9 became one class 0, text failed in numpy
    ds = D.load({"name": "blobs8", "n_samples": 50})
    tiny = dict(n_clusters=2, pretrain_epochs=1, batch_size=64, subsample=100)
    with pytest.raises(D.DataError, match="whole numbers"):
        dcviz.AEKMeans(**tiny).fit(ds.x, np.where(ds.y < 4, 0.5, 0.9))
    names = np.array(["left", "right"])[(ds.y >= 4).astype(int)]
    model = dcviz.AEKMeans(**tiny).fit(ds.x, names)
    assert {"acc", "nmi"} <= set(model.snapshots_[-1].metrics)
