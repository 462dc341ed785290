"""Linear probes: how much a feature space knows about a ground-truth factor of the data.

A probe is a linear model trained to read a factor from the features, scored on points it was
not trained on (k-fold cross-validation). High held-out accuracy (or R^2) means the factor is
linearly present in the space; chance-level accuracy (or R^2 near 0) means it is not. ACe/DeC's
claim, that its cluster space holds the cluster information and its shared space the rest
(Miklautz et al., 2021, sec. 2), is measured this way on ``objects``, whose generator knows
each image's shape and light direction: the shape should be read from the cluster space, the
light from the shared space.

The features are standardised inside each fold (so a dimension's scale does not decide its
penalty); the probes are scikit-learn's LogisticRegression and RidgeCV under cross_val_score.
"""
from __future__ import annotations

import numpy as np

__all__ = ["categorical_probe", "continuous_probe", "factor_probes", "MAX_POINTS"]

#: probes run on at most this many points (a seeded random subset), so they stay a second or two
MAX_POINTS = 5000


def _prepare(z: np.ndarray, target: np.ndarray, max_points: int, seed: int):
    z = np.asarray(z, dtype=np.float64)
    target = np.asarray(target)
    if z.ndim != 2 or len(z) != len(target):
        raise ValueError(f"features {z.shape} and target {target.shape} do not match")
    if z.shape[1] == 0:
        # an empty space knows nothing: one constant feature gives the no-information score
        z = np.zeros((len(z), 1))
    if len(z) > max_points:
        idx = np.random.default_rng(seed).choice(len(z), max_points, replace=False)
        z, target = z[idx], target[idx]
    return z, target


def categorical_probe(z: np.ndarray, labels: np.ndarray, *, folds: int = 5, seed: int = 0,
                      max_points: int = MAX_POINTS) -> float:
    """Mean held-out accuracy of a logistic regression from ``z`` (N, d) to ``labels`` (N,),
    stratified ``folds``-fold cross-validation. Chance is the share of the largest class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z, labels = _prepare(z, labels, max_points, seed)
    folds = max(2, min(folds, int(np.bincount(np.unique(labels, return_inverse=True)[1]).min())))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, z, labels, cv=cv, scoring="accuracy").mean())


def continuous_probe(z: np.ndarray, target: np.ndarray, *, folds: int = 5, seed: int = 0,
                     max_points: int = MAX_POINTS) -> float:
    """Mean held-out R^2 of a ridge regression from ``z`` (N, d) to ``target`` (N,) or (N, m)
    (R^2 averaged over the m outputs), ``folds``-fold cross-validation; the ridge penalty is
    chosen inside each training fold (RidgeCV's leave-one-out). 1 is a perfect read-out, 0 is
    no better than predicting the mean, and below 0 is worse than that."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z, target = _prepare(z, target, max_points, seed)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    cv = KFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, z, target.astype(np.float64), cv=cv, scoring="r2").mean())


def factor_probes(spaces: dict[str, np.ndarray], factors: dict[str, np.ndarray],
                  seed: int = 0) -> dict[str, float]:
    """The probes of ``objects``' factors from each named space (all N points):
    ``shape_acc_<space>`` (logistic regression to the shape) and ``light_r2_<space>`` (ridge to
    the 3-D light direction), without the suffix for a space named "". Only the factors the data
    carries are probed; data without them gives {}."""
    out: dict[str, float] = {}
    for name, z in spaces.items():
        tail = f"_{name}" if name else ""
        if "shape" in factors:
            out[f"shape_acc{tail}"] = categorical_probe(z, factors["shape"], seed=seed)
        if "light" in factors:
            out[f"light_r2{tail}"] = continuous_probe(z, factors["light"], seed=seed)
    return out
