"""scikit-learn-style estimators over the registered methods, for notebooks:

    from dcviz import DEKM
    labels = DEKM(n_clusters=10).fit(X).labels_

They drive the same ``Method.fit`` generator as the app, without threads or a run folder; the
snapshots are kept in ``snapshots_`` for plotting.
"""
from __future__ import annotations

import numpy as np

from dcviz.data import DataError, Dataset
from dcviz.methods import get_method
from dcviz.methods.base import Context, choose_subsample
from dcviz.nets import set_seed


class DeepClusterer:
    """fit / predict / fit_predict / transform with ``labels_``, like sklearn's KMeans."""

    method_id: str = ""

    def __init__(self, preset: str = "quick", **params):
        self.preset = preset
        self.params = params

    def get_params(self, deep: bool = True) -> dict:
        return {"preset": self.preset, **self.params}

    def fit(self, X, y=None, image_shape=None):
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2 or len(x) < 2:
            raise DataError(f"X must be a 2-D array (N >= 2, D); got shape {x.shape}")
        if not np.isfinite(x).all():
            raise DataError("X holds NaN or infinite values")
        ds = Dataset(x=x, y=y, image_shape=image_shape, name="array", spec={})
        cls = get_method(self.method_id)
        cfg = cls.Config.from_preset(self.preset, **self.params)
        cfg.validate(n_samples=len(x))
        set_seed(cfg.seed)
        self.method_ = cls(cfg)
        self.method_.build(ds.dim, ds.image_shape)
        ctx = Context(seed=cfg.seed, device=cfg.device,
                      subsample=choose_subsample(len(x), cfg.subsample, cfg.seed))
        self.snapshots_ = list(self.method_.fit(ds, ctx))
        self.labels_ = self.method_.predict(x)
        return self

    def predict(self, X) -> np.ndarray:
        return self.method_.predict(np.asarray(X, dtype=np.float32))

    def fit_predict(self, X, y=None, image_shape=None) -> np.ndarray:
        return self.fit(X, y, image_shape).labels_

    def transform(self, X) -> np.ndarray:
        """The latent features."""
        return self.method_.embed(np.asarray(X, dtype=np.float32))

    embed = transform


def estimator(method_id: str) -> type[DeepClusterer]:
    """An estimator class for any registered method id."""
    cls = get_method(method_id)
    name = cls.__name__
    return type(name, (DeepClusterer,), {"method_id": method_id, "__doc__": cls.__doc__})

