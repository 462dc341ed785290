"""scikit-learn estimators over the registered methods, for notebooks:

    from dcviz import DEKM
    labels = DEKM(n_clusters=10).fit(X).labels_

Each method's estimator takes the fields of its Config dataclass as keyword arguments, with the
"quick" preset's values as defaults (``DEKM.from_preset("paper", ...)`` starts from another
preset). So ``get_params``, ``set_params``, ``sklearn.base.clone`` and ``GridSearchCV`` work as on
any scikit-learn estimator. ``fit`` drives the same ``Method.fit`` generator as the app, without
threads or a run folder; the snapshots are kept in ``snapshots_`` for plotting.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from dcviz.data import DataError, Dataset, clean_labels
from dcviz.methods import get_method
from dcviz.methods.base import Context, choose_subsample
from dcviz.nets import set_seed


class DeepClusterer(ClusterMixin, BaseEstimator):
    """fit / predict / fit_predict / transform with ``labels_``, like sklearn's KMeans.

    Subclasses are made by :func:`estimator`, one per method, with an ``__init__`` whose
    signature lists the method's config fields (sklearn reads its parameters from it).
    """

    method_id: str = ""

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> "DeepClusterer":
        """An estimator with the values of another preset of the method (e.g. "paper")."""
        config_cls = get_method(cls.method_id).Config
        values = config_cls.from_preset(preset, **overrides).to_dict()
        return cls(**values)

    def _config(self):
        # deep copies: the config must not share a list with this estimator's parameters
        params = {k: copy.deepcopy(v) for k, v in self.get_params(deep=False).items()}
        return get_method(self.method_id).Config.from_dict(params)

    def fit(self, X, y=None, image_shape=None):
        """Train on X (N, D). ``y`` (optional) is only used for the snapshots' ACC/NMI/ARI."""
        x = np.asarray(X, dtype=np.float32)
        if x.ndim != 2 or len(x) < 2:
            raise DataError(f"X must be a 2-D array (N >= 2, D); got shape {x.shape}")
        if not np.isfinite(x).all():
            raise DataError("X holds NaN or infinite values")
        # y as the loaders take it: text, integer-valued floats or any integers, mapped to ids
        # 0..K-1 (a plain cast to int64 truncated 0.5 to 0 and merged labels beyond its range)
        labels = None if y is None else clean_labels(y, len(x), "y")[0]
        ds = Dataset(x=x, y=labels, image_shape=image_shape, name="array", spec={})
        cls = get_method(self.method_id)
        cfg = self._config()
        cfg.validate(n_samples=len(x))
        set_seed(cfg.seed)
        self.method_ = cls(cfg)
        self.method_.build(ds.dim, ds.image_shape)
        ctx = Context(seed=cfg.seed, device=cfg.device,
                      subsample=choose_subsample(len(x), cfg.subsample, cfg.seed))
        self.snapshots_ = list(self.method_.fit(ds, ctx))
        self.labels_ = self.method_.predict(x)
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        return self.method_.predict(np.asarray(X, dtype=np.float32))

    def fit_predict(self, X, y=None, image_shape=None) -> np.ndarray:
        return self.fit(X, y, image_shape).labels_

    def transform(self, X) -> np.ndarray:
        """The latent features."""
        return self.method_.embed(np.asarray(X, dtype=np.float32))

    embed = transform


@functools.lru_cache(maxsize=None)
def estimator(method_id: str) -> type[DeepClusterer]:
    """The estimator class of a registered method (one class per method, so it pickles)."""
    cls = get_method(method_id)
    quick = cls.Config.from_preset("quick")
    fields = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                default=getattr(quick, f.name))
              for f in dataclasses.fields(cls.Config)]
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *fields])

    def __init__(self, **params):
        bound = signature.bind(self, **params)  # TypeError for a name the config lacks
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    name = cls.estimator or cls.__name__
    __init__.__qualname__ = f"{name}.__init__"
    doc = (cls.__doc__ or cls.title).strip() + (
        f"\n\nscikit-learn estimator of the {cls.id!r} method; its parameters are the fields of "
        f"{cls.Config.__name__}, with the quick preset's values as defaults.")
    return type(name, (DeepClusterer,), {"method_id": method_id, "__init__": __init__,
                                         "__doc__": doc, "__module__": "dcviz",
                                         "__qualname__": name})
