"""Geometry metrics (DCRL appendix A.4): known cases, invariances, agreement with sklearn."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sk_trustworthiness

from dcviz import geometry as G
from dcviz import metrics as M

ALL = ("trust", "cont", "rre", "drmse", "lgd", "cra")


def _data(n=400, d=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    labels = rng.integers(0, 6, size=n)
    x += 3.0 * rng.normal(size=(6, d))[labels]  # clusters with distinct centres
    return x, labels, rng


def _rotation(d, seed=1):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q


def test_isometry_scores_perfect():
    x, labels, _ = _data()
    z = x @ _rotation(x.shape[1]) + 7.0  # rotation + translation
    s = G.geometry_scores(x, z, labels)
    assert s["trust"] == pytest.approx(1.0, abs=1e-12)
    assert s["cont"] == pytest.approx(1.0, abs=1e-12)
    assert s["rre"] == pytest.approx(0.0, abs=1e-12)
    assert s["drmse"] == pytest.approx(0.0, abs=1e-9)
    assert s["lgd"] == pytest.approx(0.0, abs=1e-9)
    assert s["cra"] == 1.0


def test_isometry_into_fewer_dimensions_is_perfect():
    """Points on a 3-d subspace of R^12, mapped isometrically to R^3."""
    rng = np.random.default_rng(2)
    u = rng.normal(size=(300, 3))
    a = np.linalg.qr(rng.normal(size=(12, 3)))[0]        # orthonormal columns
    x, z = u @ a.T, u @ _rotation(3, seed=5)
    s = G.geometry_scores(x, z, rng.integers(0, 4, 300))
    assert s["trust"] == pytest.approx(1.0) and s["cont"] == pytest.approx(1.0)
    assert s["drmse"] < 1e-9 and s["lgd"] < 1e-9 and s["rre"] < 1e-12 and s["cra"] == 1.0


def test_random_map_scores_badly():
    x, labels, rng = _data()
    z = rng.normal(size=(len(x), 3))
    s = G.geometry_scores(x, z, labels)
    iso = G.geometry_scores(x, x @ _rotation(x.shape[1]), labels)
    # A random embedding keeps neighbours no better than chance: Trust and Cont near 0.5.
    assert s["trust"] < 0.6 and s["cont"] < 0.6
    assert s["rre"] > 0.5
    assert s["cra"] < 0.6
    assert s["drmse"] > 1.0 and s["lgd"] > 1.0
    assert all(s[k] < iso[k] for k in ("trust", "cont", "cra"))
    assert all(s[k] > iso[k] for k in ("rre", "drmse", "lgd"))


def test_rank_metrics_are_scale_invariant_distance_metrics_are_not():
    x, labels, rng = _data(seed=3)
    z = np.tanh(x[:, :4] + 0.3 * rng.normal(size=(len(x), 4)))  # an imperfect embedding
    a, b = G.geometry_scores(x, z, labels), G.geometry_scores(x, 5.0 * z + 1.0, labels)
    for k in ("trust", "cont", "rre", "cra"):
        assert a[k] == pytest.approx(b[k], abs=1e-12), k
    # an exact copy scores 0 on the distance metrics; twice its size does not
    twice = G.geometry_scores(x, 2.0 * x)
    assert twice["trust"] == pytest.approx(1.0) and twice["cont"] == pytest.approx(1.0)
    assert twice["drmse"] > 1.0 and twice["lgd"] > 1.0


def test_normalized_distances_make_the_lis_scaled_isometry_perfect():
    """With normalize=True, z = u * sqrt(m / d) is the isometry that L_LIS asks for."""
    rng = np.random.default_rng(4)
    u = rng.normal(size=(250, 3))
    x = u @ np.linalg.qr(rng.normal(size=(12, 3)))[0].T
    z = u * np.sqrt(3 / 12)
    ref = G.GeometryReference(x, normalize=True)
    s = ref.score(z)
    assert s["drmse"] < 1e-9 and s["lgd"] < 1e-9
    assert G.GeometryReference(x).score(z)["drmse"] > 0.5  # raw distances differ by 2x


def test_trust_and_cont_match_sklearn_averaged_over_k():
    x, _, rng = _data(n=300, seed=6)
    z = x[:, :3] + 0.5 * rng.normal(size=(len(x), 3))
    k1, k2 = 5, 10
    trust = np.mean([sk_trustworthiness(x, z, n_neighbors=k) for k in range(k1, k2 + 1)])
    cont = np.mean([sk_trustworthiness(z, x, n_neighbors=k) for k in range(k1, k2 + 1)])
    assert G.trustworthiness(x, z, k1, k2) == pytest.approx(trust, abs=1e-9)
    assert G.continuity(x, z, k1, k2) == pytest.approx(cont, abs=1e-9)


def test_lgd_and_drmse_by_hand_on_a_tiny_case():
    # Four points on a line with gaps 1, 2, 3; the latent copy stretches the last gap to 5.
    x = np.array([[0.0], [1.0], [3.0], [6.0]])
    z = np.array([[0.0], [1.0], [3.0], [8.0]])
    dx, dz = np.abs(x - x.T), np.abs(z - z.T)
    assert G.distance_rmse(x, z) == pytest.approx(np.sqrt(np.mean((dx - dz) ** 2)))
    # k = 1: the nearest input neighbours are 0->1, 1->0, 2->1 and 3->2; only the pair (3, 2)
    # changes, by 2, so LGD = sqrt(mean([0, 0, 0, 4])) = 1.
    assert G.local_geometric_distortion(x, z, 1, 1) == pytest.approx(1.0)


def test_cluster_rank_accuracy_by_hand():
    # Three clusters with centres 0, 1, 3 on a line in X; in Z the last two swap places.
    labels = np.repeat([0, 1, 2], 2)
    x = np.repeat([[0.0], [1.0], [3.0]], 2, axis=0)
    same = np.repeat([[0.0], [2.0], [6.0]], 2, axis=0)
    swapped = np.repeat([[0.0], [3.0], [1.0]], 2, axis=0)
    assert G.cluster_rank_accuracy(x, same, labels) == 1.0
    value, d = G.cluster_rank_accuracy(x, swapped, labels, details=True)
    # Seen from 0: X ranks (1, 2) for clusters 1 and 2, Z ranks (2, 1); from 1: X ranks
    # 0 -> 1, 2 -> 2, Z ranks 0 -> 2, 2 -> 1; from 2: X ranks 1 -> 1, 0 -> 2, Z the reverse.
    # Only the diagonal keeps its rank.
    assert value == pytest.approx(3 / 9)
    np.testing.assert_array_equal(d["grid"], np.eye(3))
    np.testing.assert_array_equal(d["rank_x"], [[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    np.testing.assert_array_equal(d["rank_z"], [[0, 2, 1], [2, 0, 1], [1, 2, 0]])


def test_cra_ignores_empty_cluster_ids():
    labels = np.repeat([0, 3, 7], 3)
    x = np.repeat([[0.0], [1.0], [3.0]], 3, axis=0)
    value, d = G.cluster_rank_accuracy(x, 2 * x, labels, details=True)
    assert value == 1.0 and d["ids"].tolist() == [0, 3, 7]


def test_reference_reuses_the_input_side_and_details_have_the_figure_data():
    x, labels, rng = _data(n=200)
    ref = G.GeometryReference(x)
    z = x[:, :5]
    s = ref.score(z, labels, details=True)
    assert set(ALL) <= set(s)
    assert s["rank_grid"].shape == (6, 6) and set(np.unique(s["rank_grid"])) <= {0.0, 1.0}
    assert s["cra"] == pytest.approx(s["rank_grid"].mean())
    assert s["dz_minus_dx"].shape == (200 * ref.k1,)
    assert ref.score(z, labels)["trust"] == pytest.approx(s["trust"])


def test_bad_input_raises():
    x, labels, rng = _data(n=50)
    with pytest.raises(ValueError, match="points"):
        G.GeometryReference(x).score(x[:40])
    with pytest.raises(ValueError, match="NaN"):
        G.GeometryReference(np.full((10, 2), np.nan))
    bad = x.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        G.GeometryReference(x).score(bad)
    with pytest.raises(ValueError, match="at least 2"):
        G.cluster_rank_accuracy(x, x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="k1"):
        G.GeometryReference(x, k1=5, k2=3)
    with pytest.raises(ValueError, match="at least 4"):
        G.GeometryReference(x[:3])


def test_metrics_module_reexports_the_geometry_metrics():
    assert M.trustworthiness is G.trustworthiness and M.cluster_rank_accuracy is G.cluster_rank_accuracy
    assert M.GeometryReference is G.GeometryReference


def _rre_by_the_formula(x, z, k1, k2):
    """Appendix A.4's RRE written out loop by loop: ranks 1.. by distance (the point itself
    left out), MR^k both ways, H_k = N * sum_{l=1..k} |N - 2l| / l, averaged over k1..k2."""
    n = len(x)

    def ranks(p):
        d = np.linalg.norm(p[:, None] - p[None], axis=-1)
        r = np.zeros((n, n), dtype=int)
        for i in range(n):
            for pos, j in enumerate([j for j in np.argsort(d[i]) if j != i], start=1):
                r[i, j] = pos
        return r

    rx, rz = ranks(x), ranks(z)
    total = 0.0
    for k in range(k1, k2 + 1):
        h = n * sum(abs(n - 2 * l) / l for l in range(1, k + 1))
        mr_xz = sum(abs(rx[i, j] - rz[i, j]) / rz[i, j]
                    for i in range(n) for j in range(n) if j != i and rz[i, j] <= k)
        mr_zx = sum(abs(rx[i, j] - rz[i, j]) / rx[i, j]
                    for i in range(n) for j in range(n) if j != i and rx[i, j] <= k)
        total += (mr_xz + mr_zx) / h
    return total / (k2 - k1 + 1)


def test_rre_matches_the_formula_written_out():
    # a random map of 40 points: RRE's value, not only its order (a normaliser N times too
    # small passed the tests that compare a random map with an isometry)
    rng = np.random.default_rng(3)
    x, z = rng.normal(size=(40, 5)), rng.normal(size=(40, 2))
    s = G.GeometryReference(x, 2, 6).score(z)
    assert s["rre"] == pytest.approx(_rre_by_the_formula(x, z, 2, 6), rel=1e-9)
