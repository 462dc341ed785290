"""Geometry metrics of a learned embedding, as the DCRL appendix (A.4) defines them.

They measure how much of the input space's geometry survives in the latent space:

- ``trust`` (Trustworthiness) and ``cont`` (Continuity), each averaged over k = k1..k2: are the
  latent neighbours real neighbours, and are the real neighbours still neighbours? 1 is perfect.
- ``rre`` (Relative Rank Error, "relative rank change"), averaged over k = k1..k2: how much the
  neighbour ranks change, in both directions. 0 is perfect.
- ``drmse``: root mean square difference of all pairwise distances. 0 is perfect.
- ``lgd`` (Locally Geometric Distortion): the same, restricted to k-nearest-neighbour pairs of
  the input space, averaged over k = k1..k2. 0 is perfect; the primary metric for isometry.
- ``cra`` (Cluster Rank Accuracy): the share of (i, j) cells of the C x C grid where the rank of
  cluster centre j as seen from centre i is the same in both spaces. 1 is perfect. As in the
  appendix's formula (a sum over all i, j divided by C^2), the C diagonal cells (a centre
  against itself, rank 0 in both spaces) count and always agree, so CRA is never below 1/C.

Notation of the appendix: r_X(i, j) is the rank of x_j among the neighbours of x_i (the nearest
other point has rank 1); N^k_X(i) are the k nearest neighbours of x_i; the same with Z.

Trust, Cont, RRE and CRA depend on ranks only, so they are invariant to scaling either space;
d-RMSE and LGD compare distances and are not. Callers that compare spaces of different
dimension may divide each space by sqrt(its dimension) first, as DCRL's L_LIS does
(``GeometryReference(normalize=True)``).

Everything is vectorised: one (n, n) distance matrix per space, one row-wise sort and a
batched binary search for the ranks that are needed, so a 2,000-point subsample scores in well under a second. The input
side (distances, neighbours) is computed once per run by :class:`GeometryReference`; each epoch
only the latent side is new.
"""
from __future__ import annotations

import numpy as np
import torch

DEFAULT_K1, DEFAULT_K2 = 5, 10


def pairwise_distances(a: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix (n, n) in float64, with an exact zero diagonal."""
    t = torch.as_tensor(np.asarray(a, dtype=np.float64))
    t = t - t.mean(0)  # centring keeps the matrix-product form of cdist accurate
    d = torch.cdist(t, t).numpy()
    np.fill_diagonal(d, 0.0)
    return d


def _knn_from_dist(d: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of the k nearest other points, nearest first (self excluded)."""
    n = len(d)
    t = torch.from_numpy(d).clone()
    t.fill_diagonal_(float("inf"))
    return torch.topk(t, min(k, n - 1), dim=1, largest=False, sorted=True).indices.numpy()


def _sorted_rows(d: np.ndarray) -> torch.Tensor:
    """Each row of d sorted ascending (the row's own zero first), for rank look-ups."""
    return torch.from_numpy(np.ascontiguousarray(np.sort(d, axis=1)))


def _ranks_of(d: np.ndarray, idx: np.ndarray, sorted_rows: torch.Tensor | None = None) -> np.ndarray:
    """r(i, idx[i, c]) in the space with distances d: 1 + the number of other points strictly
    closer to i than idx[i, c] is (ties share the lower rank).

    One row-wise sort and a batched binary search, instead of (n, k, n) comparisons.
    """
    if sorted_rows is None:
        sorted_rows = _sorted_rows(d)
    target = torch.from_numpy(np.ascontiguousarray(np.take_along_axis(d, idx, 1)))
    closer = torch.searchsorted(sorted_rows, target, side="left").numpy()
    # i itself (distance 0) is among the closer ones, so this is already 1-based;
    # an exact duplicate of x_i (distance 0 too) gets rank 1.
    return np.maximum(closer, 1).astype(np.int64)


#: the fewest points the metrics are computed for; callers with fewer skip them
MIN_POINTS = 4


def _k_range(n: int, k1: int, k2: int) -> range:
    if k1 < 1 or k2 < k1:
        raise ValueError(f"need 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    if n < MIN_POINTS:
        raise ValueError(f"geometry metrics need at least {MIN_POINTS} points, got {n}")
    # Trust/Cont normalise by 2N - 3k - 1, which must stay positive.
    k2 = min(k2, (2 * n - 2) // 3, n - 2)
    return range(min(k1, k2), k2 + 1)


class GeometryReference:
    """The input-space side of the metrics, computed once for a fixed set of points.

    ``score(z, labels)`` then measures an embedding z of the same points. With
    ``normalize=True`` both spaces are divided by sqrt(dimension) first (DCRL's L_LIS scaling);
    it changes only d-RMSE, LGD and the d_Z - d_X values.
    """

    def __init__(self, x: np.ndarray, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2,
                 normalize: bool = False):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if not np.all(np.isfinite(x)):
            raise ValueError("input points contain NaN or inf")
        self.n = len(x)
        self.ks = _k_range(self.n, k1, k2)
        self.k1, self.k2 = self.ks.start, self.ks.stop - 1
        self.normalize = normalize
        self.x = x
        self.dx = pairwise_distances(x) / (np.sqrt(x.shape[1]) if normalize else 1.0)
        self.knn_x = _knn_from_dist(self.dx, self.k2)          # (n, k2)
        self._dx_sorted = _sorted_rows(self.dx)
        self.rx_knn_x = _ranks_of(self.dx, self.knn_x, self._dx_sorted)  # r_X(i, j), j in N_X(i)
        n = self.n
        ls = np.arange(1, n + 1)
        # RRE's normaliser H_k = N * sum_{l=1..k} |N - 2l| / l, for every k at once
        self._H = n * np.cumsum(np.abs(n - 2 * ls) / ls)

    def score(self, z: np.ndarray, labels: np.ndarray | None = None, *,
              details: bool = False) -> dict:
        """All metrics of embedding z (n, m). ``labels`` (n,) add CRA (needs >= 2 clusters).

        With ``details=True`` the result also holds ``rank_grid`` (C x C, 1 where the rank is
        preserved; rows/columns follow ``cluster_ids``), the rank matrices ``rank_x`` and
        ``rank_z``, and ``dz_minus_dx`` over the k1-nearest-neighbour pairs of the input space
        (Fig. A5 (g)).
        """
        z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
        if len(z) != self.n:
            raise ValueError(f"z has {len(z)} points, the reference has {self.n}")
        if not np.all(np.isfinite(z)):
            raise ValueError("latent points contain NaN or inf")
        dz = pairwise_distances(z) / (np.sqrt(z.shape[1]) if self.normalize else 1.0)
        knn_z = _knn_from_dist(dz, self.k2)
        dz_sorted = _sorted_rows(dz)
        rx_knn_z = _ranks_of(self.dx, knn_z, self._dx_sorted)   # r_X(i, j), j in N_Z(i)
        rz_knn_z = _ranks_of(dz, knn_z, dz_sorted)              # r_Z(i, j), j in N_Z(i)
        rz_knn_x = _ranks_of(dz, self.knn_x, dz_sorted)         # r_Z(i, j), j in N_X(i)
        n = self.n
        trust, cont, rre = [], [], []
        for k in self.ks:
            norm = 2.0 / (n * k * (2 * n - 3 * k - 1))
            # j in N_Z(i) but not in N_X(i) is exactly r_X(i, j) > k; the penalty is r_X - k
            trust.append(1.0 - norm * np.clip(rx_knn_z[:, :k] - k, 0, None).sum())
            cont.append(1.0 - norm * np.clip(rz_knn_x[:, :k] - k, 0, None).sum())
            mr_xz = (np.abs(rx_knn_z[:, :k] - rz_knn_z[:, :k]) / rz_knn_z[:, :k]).sum()
            mr_zx = (np.abs(self.rx_knn_x[:, :k] - rz_knn_x[:, :k]) / self.rx_knn_x[:, :k]).sum()
            rre.append((mr_xz + mr_zx) / self._H[k - 1])
        drmse = float(np.sqrt(np.mean((self.dx - dz) ** 2)))
        rows = np.arange(n)[:, None]
        diff = dz[rows, self.knn_x] - self.dx[rows, self.knn_x]       # (n, k2)
        lgd = float(np.mean([np.sqrt(np.mean(diff[:, :k] ** 2)) for k in self.ks]))
        out = {"trust": float(np.mean(trust)), "cont": float(np.mean(cont)),
               "rre": float(np.mean(rre)), "drmse": drmse, "lgd": lgd}
        if labels is not None:
            out["cra"], cra = cluster_rank_accuracy(self.x, z, labels, details=True)
            if details:
                out["rank_grid"], out["cluster_ids"] = cra["grid"], cra["ids"]
                out["rank_x"], out["rank_z"] = cra["rank_x"], cra["rank_z"]
        if details:
            out["dz_minus_dx"] = diff[:, :self.k1].ravel()
        return out


def cluster_rank_accuracy(x: np.ndarray, z: np.ndarray, labels: np.ndarray, *,
                          details: bool = False):
    """CRA: the share of the C x C cells (i, j) where r_X(v^X_i, v^X_j) = r_Z(v^Z_i, v^Z_j).

    v^X_c and v^Z_c are the means of cluster c in each space. Ranks are taken per row i, the
    centre itself having rank 0, so the diagonal always agrees, as in the appendix's C^2
    denominator. Clusters with no points are left out. With ``details`` it returns
    ``(cra, {"grid", "ids", "rank_x", "rank_z"})``: the 0/1 grid (the blue/yellow cells of
    Fig. A5), the cluster id of each row, and the two rank matrices.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    labels = np.asarray(labels)
    if not (len(x) == len(z) == len(labels)):
        raise ValueError("x, z and labels must have the same number of points")
    ids = np.unique(labels)
    if len(ids) < 2:
        raise ValueError("CRA needs at least 2 non-empty clusters")
    onehot = (labels[:, None] == ids[None, :]).astype(np.float64)
    counts = onehot.sum(0)[:, None]
    vx, vz = onehot.T @ x / counts, onehot.T @ z / counts
    rank_x = np.argsort(np.argsort(pairwise_distances(vx), axis=1, kind="stable"), axis=1)
    rank_z = np.argsort(np.argsort(pairwise_distances(vz), axis=1, kind="stable"), axis=1)
    grid = (rank_x == rank_z).astype(np.float64)
    value = float(grid.mean())
    if details:
        return value, {"grid": grid, "ids": ids, "rank_x": rank_x, "rank_z": rank_z}
    return value


# --------------------------------------------------------------------------- one-call versions

def geometry_scores(x, z, labels=None, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2,
                    normalize: bool = False) -> dict:
    """trust, cont, rre, drmse, lgd (and cra with labels) of embedding z of points x."""
    return GeometryReference(x, k1, k2, normalize).score(z, labels)


def trustworthiness(x, z, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2) -> float:
    return geometry_scores(x, z, k1=k1, k2=k2)["trust"]


def continuity(x, z, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2) -> float:
    return geometry_scores(x, z, k1=k1, k2=k2)["cont"]


def relative_rank_error(x, z, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2) -> float:
    return geometry_scores(x, z, k1=k1, k2=k2)["rre"]


def distance_rmse(x, z) -> float:
    return geometry_scores(x, z)["drmse"]


def local_geometric_distortion(x, z, k1: int = DEFAULT_K1, k2: int = DEFAULT_K2) -> float:
    return geometry_scores(x, z, k1=k1, k2=k2)["lgd"]
