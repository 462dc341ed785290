"""OBJECTS-style images: spheres, cubes and cylinders under a random light (numpy only).

ACe/DeC (section 4) uses "10,000 synthetically generated gray scale images of spheres, cubes
and cylinders" (64x64) whose lighting is the information shared by all clusters. We render a
smaller set the same way: an orthographic camera looks down -z at one object with a small
random size, position and rotation; the surface is Lambertian with an ambient term,
    I = ambient + (1 - ambient) * max(0, n . l),
under a random light direction l from the camera's side of the scene. The class is the shape.
Each image is ray cast at twice the size and averaged down 2x2, so edges are anti-aliased.
"""

from __future__ import annotations

import numpy as np

SHAPES = ["sphere", "cube", "cylinder"]
AMBIENT = 0.15
BACKGROUND = 0.0


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# The ray tests work on component-major arrays: o and d are (3, M) (rows x, y, z) in object
# space, the sizes are (M,) arrays; each returns (hit (M,), normal (3, M)) for the nearest hit.

def _hit_sphere(o, d, r):
    # |o + t d|^2 = r^2 with |d| = 1
    b = o[0] * d[0] + o[1] * d[1] + o[2] * d[2]
    c = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] - r * r
    disc = b * b - c
    hit = disc >= 0
    t = -b - np.sqrt(np.maximum(disc, 0))
    return hit, (o + t * d) / r


def _hit_box(o, d, s):
    # slab test for the cube [-s, s]^3
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1 / d
        t1 = (-s - o) * inv
        t2 = (s - o) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    tnear = np.maximum(np.maximum(tmin[0], tmin[1]), tmin[2])
    tfar = np.minimum(np.minimum(tmax[0], tmax[1]), tmax[2])
    hit = tnear <= tfar
    n = np.zeros_like(o)
    for axis in range(3):
        face = tmin[axis] == tnear
        n[axis] = np.where(face, -np.sign(d[axis]), 0)
    return hit, n


def _hit_cylinder(o, d, r, h):
    # axis along y, radius r, half-height h; side first, then the two caps if nearer
    a = d[0] * d[0] + d[2] * d[2]
    b = o[0] * d[0] + o[2] * d[2]
    c = o[0] * o[0] + o[2] * o[2] - r * r
    disc = b * b - a * c
    ok = (disc >= 0) & (a > 1e-9)
    ts = (-b - np.sqrt(np.maximum(disc, 0))) / np.where(ok, a, 1)
    ps = o + ts * d
    side = ok & (np.abs(ps[1]) <= h)
    t_best = np.where(side, ts, np.inf).astype(o.dtype)
    n = np.zeros_like(o)
    n[0] = np.where(side, ps[0] / r, 0)
    n[2] = np.where(side, ps[2] / r, 0)
    safe_dy = np.where(np.abs(d[1]) > 1e-9, d[1], 1)
    for sign in (1.0, -1.0):
        tc = (sign * h - o[1]) / safe_dy
        px = o[0] + tc * d[0]
        pz = o[2] + tc * d[2]
        cap = (np.abs(d[1]) > 1e-9) & (px * px + pz * pz <= r * r) & (tc < t_best)
        t_best = np.where(cap, tc, t_best)
        n[0] = np.where(cap, 0, n[0])
        n[1] = np.where(cap, sign, n[1])
        n[2] = np.where(cap, 0, n[2])
    return np.isfinite(t_best), n


def render_batch(shape: int, lights: np.ndarray, scales: np.ndarray, centers: np.ndarray,
                 rotations: np.ndarray, size: int = 32) -> np.ndarray:
    """Render B objects of one shape: (B, size, size) float32 images in [0, 1].

    shape: 0 sphere, 1 cube, 2 cylinder; lights (B, 3): unit vectors towards the light (z points
    at the camera); scales (B,): size factors; centers (B, 2): (x, y) offsets in the [-1, 1]
    image plane; rotations (B, 3, 3): object-to-world rotations.
    """
    f = np.float32
    b = len(lights)
    ss = 2 * size
    u = ((np.arange(ss) + 0.5) / ss * 2.0 - 1.0).astype(f)
    gx, gy = np.meshgrid(u, -u)  # image rows go down, world y goes up
    m = gx.size
    rot = rotations.astype(f)
    origin = np.empty((b, 3, m), dtype=f)
    origin[:, 0] = gx.ravel()[None] - centers[:, :1]
    origin[:, 1] = gy.ravel()[None] - centers[:, 1:2]
    origin[:, 2] = 5.0
    # to object space: p_obj = R^T p_world
    o = np.matmul(rot.transpose(0, 2, 1), origin).transpose(1, 0, 2).reshape(3, -1)
    d = np.repeat(-rot[:, 2, :].T, m, axis=1)  # R^T (0, 0, -1)
    sc = np.repeat(scales.astype(f), m)
    if shape == 0:
        hit, n = _hit_sphere(o, d, f(0.62) * sc)
    elif shape == 1:
        hit, n = _hit_box(o, d, f(0.42) * sc)
    else:
        hit, n = _hit_cylinder(o, d, f(0.4) * sc, f(0.52) * sc)
    n_world = np.matmul(rot, n.reshape(3, b, m).transpose(1, 0, 2))  # (b, 3, m)
    lam = np.clip(np.matmul(lights.astype(f)[:, None, :], n_world)[:, 0], 0.0, None)
    img = np.where(hit.reshape(b, m), f(AMBIENT) + f(1.0 - AMBIENT) * lam, f(BACKGROUND))
    return img.reshape(b, size, 2, size, 2).mean(axis=(2, 4), dtype=f)


def render(shape: int, light: np.ndarray, size: int = 32, scale: float = 1.0,
           center=(0.0, 0.0), rotation: np.ndarray | None = None) -> np.ndarray:
    """Render one object as a (size, size) float image in [0, 1] (see render_batch)."""
    rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    return render_batch(shape, np.asarray(light, float)[None], np.array([scale], float),
                        np.asarray(center, float)[None], rot[None], size)[0]


def random_light(rng: np.random.Generator) -> np.ndarray:
    """A light direction on the camera's side: azimuth uniform, 0-70 degrees off the view axis."""
    az = rng.uniform(0.0, 2.0 * np.pi)
    el = np.deg2rad(rng.uniform(0.0, 70.0))
    return np.array([np.sin(el) * np.cos(az), np.sin(el) * np.sin(az), np.cos(el)])


def objects(n_samples: int = 1500, size: int = 32, seed: int = 0):
    """Returns (x (N, size, size) in [0, 1], y, class_names, factors)."""
    rng = np.random.default_rng([int(seed), 3])
    y = np.arange(n_samples) % 3
    lights = np.empty((n_samples, 3))
    scales = np.empty(n_samples)
    centers = np.empty((n_samples, 2))
    rots = np.empty((n_samples, 3, 3))
    for i in range(n_samples):
        lights[i] = random_light(rng)
        scales[i] = rng.uniform(0.85, 1.1)
        centers[i] = rng.uniform(-0.08, 0.08, size=2)
        # tilt towards the camera so the top of a cube/cylinder shows, turn about the vertical
        rots[i] = (_rot_z(np.deg2rad(rng.uniform(-12, 12)))
                   @ _rot_x(np.deg2rad(rng.uniform(15, 35)))
                   @ _rot_y(np.deg2rad(rng.uniform(20, 70))))
    x = np.empty((n_samples, size, size), dtype=np.float32)
    chunk = max(1, 200_000 // (4 * size * size))
    for shape in range(3):
        idx = np.flatnonzero(y == shape)
        for s in range(0, idx.size, chunk):
            j = idx[s:s + chunk]
            x[j] = render_batch(shape, lights[j], scales[j], centers[j], rots[j], size)
    factors = {
        "shape": y.copy(),  # the class label, named for the probes of dcviz.probes
        "light": lights,
        "light_azimuth": np.arctan2(lights[:, 1], lights[:, 0]),
        "light_elevation": np.rad2deg(np.arccos(np.clip(lights[:, 2], -1, 1))),
    }
    return x, y, list(SHAPES), factors
