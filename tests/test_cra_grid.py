"""CRA and its grid: the paper's CRA counts all C² cells, the always-kept diagonal included;
the grid and its title say so (10 diagonal ✓ of 30 gave CRA 0.30 with no word about it)."""
from __future__ import annotations

import numpy as np
import pytest

from dcviz.geometry import cluster_rank_accuracy
from dcviz.viz import dcrl


def test_cra_is_the_papers_share_of_all_cells_so_at_least_one_over_c():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 20)
    x = rng.normal(size=(4, 6))[labels] * 5 + rng.normal(size=(80, 6))
    # a latent space whose centres are in another order: little but the diagonal agrees
    z = rng.normal(size=(4, 2))[labels] * 5 + rng.normal(size=(80, 2))
    cra, d = cluster_rank_accuracy(x, z, labels, details=True)
    grid = d["grid"]
    assert np.all(np.diag(grid) == 1)                # a centre against itself: rank 0 twice
    assert cra == pytest.approx(grid.sum() / 16)     # sum over all i, j / C² (appendix A.4)
    assert cra >= 1 / 4


def test_the_grid_marks_the_diagonal_apart_and_the_title_counts_both_ways():
    c = 10
    grid = np.eye(c)
    for i, j in [(0, 2), (0, 9), (1, 2), (1, 3), (1, 7), (1, 8), (2, 2), (3, 2), (3, 7), (4, 2),
                 (4, 3), (6, 7), (7, 2), (7, 3), (7, 5), (7, 6), (7, 8), (8, 4), (8, 6), (9, 0),
                 (9, 8)]:
        grid[i, j] = 1
    ticked = int(grid.sum())
    assert ticked == 30
    title = dcrl.rank_grid_title(grid, grid.mean())
    assert "CRA 0.30" in title and "30 of 100" in title
    assert "10 of the diagonal" in title and "off the diagonal 20 of 90" in title
    fig = dcrl.rank_grid_figure(grid, np.arange(c))
    z = np.asarray(fig.data[0].z, dtype=float)
    off = ~np.eye(c, dtype=bool)
    # the diagonal has a colour of its own, between "kept" and "not kept"
    assert set(np.diag(z)) == {0.5} and set(z[off]) <= {0.0, 1.0}
    assert "itself" in np.asarray(fig.data[0].customdata)[0, 0]
    assert "diagonal" in dcrl.GRID_TEXT and "1/C" in dcrl.GRID_TEXT


def test_the_title_counts_the_cells_of_empty_clusters_as_not_kept():
    # a run of k = 10 collapsed into 2 clusters: its 2 x 2 grid agrees, CRA counts 4 of 100
    title = dcrl.rank_grid_title(np.ones((2, 2)), 0.04, n_clusters=10)
    assert "CRA 0.04: 4 of 100 cells" in title
    assert "8 of the 10 clusters are empty, their cells count as not kept" in title
    assert "empty" not in dcrl.rank_grid_title(np.ones((3, 3)), 1.0, n_clusters=3)
    assert "1 of the 10 clusters is empty" in dcrl.rank_grid_title(np.ones((9, 9)), 0.8, n_clusters=10)
