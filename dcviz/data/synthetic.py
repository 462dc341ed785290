"""Synthetic data sets from the papers, generated with numpy from a seed.

Each generator returns (x, y, class_names, factors) with x float (N, D), y int (N,) in 0..K-1.
The parameters follow the papers in ../shared/papers/; where a paper leaves a value open, the
choice is written next to it.
"""

from __future__ import annotations

import numpy as np


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), salt])


def _balanced_labels(n: int, k: int) -> np.ndarray:
    """n labels, as equal as possible across k classes, in class order."""
    return np.repeat(np.arange(k), [n // k + (1 if c < n % k else 0) for c in range(k)])


# ------------------------------------------------------------------------------------------------
# GAN paper ("Learning the precise feature for cluster assignment"), section IV-B:
# "eight isotropic Gaussian blobs ... centers (1.414, 0), (-1.414, 0), (0, 1.414), (0, -1.414),
# (1, 1), (-1, 1), (-1, -1), (1, -1), and the standard deviation of all the blobs is 0.014."
# The paper samples without end from the mixture; we draw n_samples points, balanced over blobs.

BLOB_CENTERS = np.array([(1.414, 0.0), (-1.414, 0.0), (0.0, 1.414), (0.0, -1.414),
                         (1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)])


def blobs8(n_samples: int = 2000, std: float = 0.014, seed: int = 0):
    rng = _rng(seed, 8)
    y = _balanced_labels(n_samples, 8)
    x = BLOB_CENTERS[y] + rng.normal(0.0, std, size=(n_samples, 2))
    names = [f"({cx:g}, {cy:g})" for cx, cy in BLOB_CENTERS]
    return x, y, names, {}


# ------------------------------------------------------------------------------------------------
# MLC, appendix D.1 and Fig. 1: two manifolds on the sphere S^2 in R^3.
# First (a wavy ring round the equator):
#   x_i = [cos(A sin(w phi_i)) cos phi_i, cos(A sin(w phi_i)) sin phi_i, sin(A sin(w phi_i))] + eps_i
#   A = 0.2, w = 5, phi_i = 2 pi i / n for i = 1..n.
# Second (a cap at the north pole): samples from N([0, 0, 1], 0.05 I_3).
# Fig. 1's caption says 100 points per manifold (the appendix text says 200 once, then 100).
# The paper writes the noise as N(0, 0.05 I_3); we read 0.05 as the standard deviation, which
# keeps the A = 0.2 wiggle of the ring visible as in Fig. 1a (option `noise`).

def sphere2(n_samples: int = 200, A: float = 0.2, omega: float = 5.0, noise: float = 0.05,
            seed: int = 0):
    rng = _rng(seed, 2)
    y = _balanced_labels(n_samples, 2)
    n1, n2 = int((y == 0).sum()), int((y == 1).sum())
    phi = 2.0 * np.pi * np.arange(1, n1 + 1) / n1
    lat = A * np.sin(omega * phi)
    ring = np.stack([np.cos(lat) * np.cos(phi), np.cos(lat) * np.sin(phi), np.sin(lat)], axis=1)
    ring += rng.normal(0.0, noise, size=ring.shape)
    cap = np.array([0.0, 0.0, 1.0]) + rng.normal(0.0, noise, size=(n2, 3))
    x = np.concatenate([ring, cap])
    # position along the manifold: phi for the ring, the angle from the pole for the cap
    pos = np.concatenate([phi, np.arccos(np.clip(cap[:, 2] / np.linalg.norm(cap, axis=1), -1, 1))])
    return x, y, ["wavy ring", "polar cap"], {"position": pos}


# ------------------------------------------------------------------------------------------------
# DCRL, Fig. 3 ("four intersecting manifolds" that first overlap, then are clustered into
# spheres, separated, and recover their structure). The figure is a schematic, so we build four
# 1-D manifolds in R^3 that cross one another, then place them in R^dim with a fixed random
# rotation and add isotropic noise:
#   ring   (cos 2 pi t, sin 2 pi t, 0)                         radius 1 in the xy-plane
#   line   (3t - 1.5, 0, 0)                                    crosses the ring at x = +-1
#   wave   (0, 3t - 1.5, 0.4 sin(3 pi (2t - 1)))               crosses the ring at y = +-1
#                                                              and the line at the origin
#   helix  (0.6 cos 4 pi t, 0.6 sin 4 pi t, 2.4 t - 1.2)       crosses the line at (0.6, 0, 0)
# t ~ U(0, 1) is returned as the factor "t" (the position along each manifold).

MANIFOLD_NAMES = ["ring", "line", "wave", "helix"]


def _manifold_points(label: np.ndarray, t: np.ndarray) -> np.ndarray:
    p = np.zeros((t.size, 3))
    two_pi = 2.0 * np.pi
    m = label == 0
    p[m] = np.stack([np.cos(two_pi * t[m]), np.sin(two_pi * t[m]), 0 * t[m]], axis=1)
    m = label == 1
    p[m] = np.stack([3 * t[m] - 1.5, 0 * t[m], 0 * t[m]], axis=1)
    m = label == 2
    p[m] = np.stack([0 * t[m], 3 * t[m] - 1.5, 0.4 * np.sin(3 * np.pi * (2 * t[m] - 1))], axis=1)
    m = label == 3
    p[m] = np.stack([0.6 * np.cos(4 * np.pi * t[m]), 0.6 * np.sin(4 * np.pi * t[m]),
                     2.4 * t[m] - 1.2], axis=1)
    return p


def manifolds(n_samples: int = 2000, dim: int = 10, noise: float = 0.02, seed: int = 0):
    rng = _rng(seed, 4)
    y = _balanced_labels(n_samples, 4)
    t = rng.uniform(0.0, 1.0, size=n_samples)
    p = _manifold_points(y, t)
    if dim == 3:
        x = p
    else:
        # a fixed rotation, the same for every seed: the seed only draws points and noise
        q, _ = np.linalg.qr(np.random.default_rng(20210503).normal(size=(dim, 3)))
        x = p @ q.T
    x = x + rng.normal(0.0, noise, size=x.shape)
    return x, y, list(MANIFOLD_NAMES), {"t": t}


# ------------------------------------------------------------------------------------------------
# ACe/DeC, section 4: "SYNTH-25 consists of 12,000 data points with four well-separated Gaussian
# clusters in two dimensions and 25 independent, unimodal Gaussian distributed dimensions
# without cluster structure (27 dimensions in total)". The stds are in the paper's supplement,
# which we do not have: we put the centres at (+-2, +-2) with std 0.5 (8 stds apart) and give
# every noise dimension std 1, so that the noise holds most of the variance, as intended.
# The two cluster dimensions come first.

def synth25(n_samples: int = 12000, noise_dims: int = 25, cluster_std: float = 0.5,
            noise_std: float = 1.0, scale: str = "raw", seed: int = 0):
    """``scale="standardized"`` z-scores every feature, so the two cluster dimensions have no more
    variance than each noise dimension. Then k-means on the raw data finds the four clusters only
    from some starts (NMI 0.72-1.0), and a linear AE's embedding hides them (AE + k-means NMI
    about 0.01-0.09), as the paper's Table 1 reports (0.90 +- 0.16 and 0.11 +- 0.10).
    ``noise_std=1.9`` (raw) reproduces the whole baseline block of that table: k-means on the
    raw data 1.0, AE + k-means about 0.17, and DCN about 0.2 at every lambda (bench/acedec.py,
    ``synth25-paper``). ACe/DeC does not reach the paper's 1.00 there, and neither does ClustPy's
    ACeDeC, the first author's public implementation (bench/acedec_reference.py): both succeed
    up to noise std 1.5, as DCN does, and both fail from about 1.8 on, as DCN does."""
    if scale not in ("standardized", "raw"):
        raise ValueError(f"scale must be 'standardized' or 'raw', got {scale!r}")
    rng = _rng(seed, 25)
    y = _balanced_labels(n_samples, 4)
    centers = np.array([(-2.0, -2.0), (-2.0, 2.0), (2.0, -2.0), (2.0, 2.0)])
    clus = centers[y] + rng.normal(0.0, cluster_std, size=(n_samples, 2))
    nois = rng.normal(0.0, noise_std, size=(n_samples, noise_dims))
    x = np.concatenate([clus, nois], axis=1)
    if scale == "standardized":
        sd = x.std(0)
        x = (x - x.mean(0)) / np.where(sd > 0, sd, 1.0)
    return x, y, [f"cluster {i}" for i in range(4)], {}


# ------------------------------------------------------------------------------------------------
# GAN paper, section IV-D.1 (Artifact-MNIST): "we randomly set the first pixel of each image in
# the MNIST dataset to 0.1, 0.5, and 0.9 with the same probability". The artifact is independent
# of the digit, so with k = 3 a method can cluster by it only if it sees a one-pixel feature.
# We apply it to any image set in [0, 1]; each image draws its value independently (i.i.d.
# uniform over the three values, as the paper says), and the drawn value is the second label.

ARTIFACT_VALUES = (0.1, 0.5, 0.9)


def pixel_artifact(x: np.ndarray, seed: int = 0,
                   values: tuple[float, ...] = ARTIFACT_VALUES) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of x (N, D) with x[:, 0] set to a random value of ``values``, the value per image).

    Only pixel 0 (the top-left pixel of a flattened channel-first image) changes."""
    rng = _rng(seed, 3)
    value = np.asarray(values, dtype=x.dtype)[rng.integers(0, len(values), size=x.shape[0])]
    out = np.array(x, copy=True)
    out[:, 0] = value
    return out, value
