"""Clustering scores (ACC with the Hungarian matching, NMI, ARI).

Geometry metrics for DCRL (Trust, Cont, RRE, d-RMSE, LGD, CRA) live here too.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def contingency(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts table: rows are predicted clusters, columns true classes (both relabelled 0..)."""
    _, t = np.unique(np.asarray(y_true), return_inverse=True)
    _, p = np.unique(np.asarray(y_pred), return_inverse=True)
    table = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(table, (p, t), 1)
    return table


def cluster_acc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unsupervised accuracy: the best one-to-one map of clusters to classes (Hungarian)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"label arrays differ in shape: {y_true.shape} vs {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("cannot score an empty clustering")
    table = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / y_true.size)


def nmi(y_true, y_pred) -> float:
    """NMI with the arithmetic mean of the two entropies (scikit-learn's default), the
    normalisation of DEC and most tables the papers copy; DCRL's appendix A.4 divides by the
    larger entropy instead, which gives a little less (0.940 against 0.969 for ten balanced
    classes with two merged)."""
    return float(normalized_mutual_info_score(y_true, y_pred))


def ari(y_true, y_pred) -> float:
    return float(adjusted_rand_score(y_true, y_pred))


def cluster_scores(y_true, y_pred) -> dict[str, float]:
    return {"acc": cluster_acc(y_true, y_pred), "nmi": nmi(y_true, y_pred), "ari": ari(y_true, y_pred)}


# The geometry metrics of DCRL's appendix A.4 (Trust, Cont, RRE, d-RMSE, LGD, CRA) live in
# dcviz.geometry; they are re-exported here so that every score has one home.
from dcviz.geometry import (GeometryReference, cluster_rank_accuracy, continuity,  # noqa: E402
                            distance_rmse, geometry_scores, local_geometric_distortion,
                            relative_rank_error, trustworthiness)
