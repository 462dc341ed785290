"""The linear probes of dcviz.probes tell a space that holds a factor from one that does not."""
from __future__ import annotations

import numpy as np
import pytest

from dcviz.probes import categorical_probe, continuous_probe, factor_probes


def _two_spaces(n=600, seed=0):
    """A 'cluster' space that holds the shape and nothing of the light, and a 'shared' space that
    holds the light (linearly, under noise) and nothing of the shape."""
    rng = np.random.default_rng(seed)
    shape = np.arange(n) % 3
    light = rng.normal(size=(n, 3))
    light /= np.linalg.norm(light, axis=1, keepdims=True)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    cluster = np.hstack([centres[shape] + 0.3 * rng.normal(size=(n, 2)), rng.normal(size=(n, 2))])
    mix = rng.normal(size=(3, 5))
    shared = light @ mix + 0.1 * rng.normal(size=(n, 5))
    return shape, light, cluster, shared


def test_the_shape_probe_reads_the_shape_only_where_it_is():
    shape, _, cluster, shared = _two_spaces()
    assert categorical_probe(cluster, shape) > 0.95
    assert categorical_probe(shared, shape) < 0.45          # chance is 1/3


def test_the_light_probe_reads_the_light_only_where_it_is():
    _, light, cluster, shared = _two_spaces()
    assert continuous_probe(shared, light) > 0.9
    assert continuous_probe(cluster, light) < 0.05          # no better than the mean
    assert continuous_probe(shared, light[:, 0]) > 0.9      # a single output works too


def test_an_empty_space_scores_as_knowing_nothing():
    shape, light, cluster, _ = _two_spaces()
    empty = cluster[:, :0]
    assert categorical_probe(empty, shape) == pytest.approx(1 / 3, abs=0.01)
    assert continuous_probe(empty, light) == pytest.approx(0.0, abs=0.05)


def test_probes_are_seeded_and_subsample_large_data():
    shape, light, cluster, shared = _two_spaces(n=900)
    assert categorical_probe(cluster, shape, seed=1) == categorical_probe(cluster, shape, seed=1)
    small = continuous_probe(shared, light, max_points=300)
    assert small > 0.85


def test_factor_probes_names_and_only_the_factors_the_data_carries():
    shape, light, cluster, shared = _two_spaces()
    out = factor_probes({"cluster": cluster, "shared": shared},
                        {"shape": shape, "light": light})
    assert set(out) == {"shape_acc_cluster", "shape_acc_shared", "light_r2_cluster",
                        "light_r2_shared"}
    assert out["shape_acc_cluster"] > out["shape_acc_shared"] + 0.5
    assert out["light_r2_shared"] > out["light_r2_cluster"] + 0.8
    assert set(factor_probes({"": cluster}, {"shape": shape, "light": light})) == {
        "shape_acc", "light_r2"}
    assert factor_probes({"cluster": cluster}, {"artifact": shape}) == {}


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError):
        categorical_probe(np.zeros((10, 2)), np.zeros(9))
