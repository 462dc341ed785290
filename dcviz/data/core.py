"""The Dataset container, the DataError type, and the checks every loader shares.

Loaders turn whatever they read into plain numpy arrays and hand them to :func:`make_dataset`,
which validates them (shape, finiteness, labels) and returns a :class:`Dataset`. Every problem
with the input becomes a :class:`DataError` whose message says what was wrong and what was
expected, prefixed with where it came from (a file name or a data set id).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["DataError", "Dataset", "data_dir", "make_dataset", "as_images", "scale_images",
           "clean_labels", "stratified_subsample"]


class DataError(ValueError):
    """Bad input for a data set: the message says what was wrong and what is expected."""


def data_dir() -> Path:
    """Where downloads, converted caches and uploads live.

    ``DCVIZ_DATA_DIR`` if that variable is set, otherwise ``~/.cache/dcviz``. The folder is not
    created here; writers create what they need.
    """
    env = os.environ.get("DCVIZ_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dcviz"


def _as_ids(y: np.ndarray) -> np.ndarray:
    """int64 labels, refusing any cast that would change a value (0.5 to 0, 1e30 to -2**63):
    a Dataset built directly takes class ids; :func:`clean_labels` maps other labels to them."""
    if y.dtype.kind not in "biuf":
        raise DataError(f"Dataset.y must hold integer class ids; got dtype {y.dtype}. Map the "
                        "labels to ids with dcviz.data.clean_labels")
    with np.errstate(invalid="ignore"):
        ids = y.astype(np.int64)
    lost = ids != y if y.dtype.kind != "u" else y > np.iinfo(np.int64).max
    if y.dtype.kind == "f":
        lost = lost | ~np.isfinite(y)
    if np.any(lost):
        first = int(np.argmax(lost))
        raise DataError(f"Dataset.y must hold integer class ids; sample {first} has label "
                        f"{y[first].item()!r}, which is not one. Map the labels to ids with "
                        "dcviz.data.clean_labels")
    return ids


@dataclass(repr=False, eq=False)
class Dataset:
    """One data set, ready for a method.

    x            float32 (N, D); images are flattened (C*H*W, channel first) and scaled to [0, 1]
    y            int64 (N,) with values 0..K-1, or None when there are no labels
    image_shape  (C, H, W) for images, None for vector data
    name         a short name for people
    class_names  one name per label id, or None
    spec         the normalised spec dict: ``load(ds.spec)`` loads the same data again
    factors      optional ground-truth factors per sample, each an array of length N (for
                 example the light direction of ``objects`` or the position along the manifold
                 of ``manifolds``); for colouring views, never for training
    """

    x: np.ndarray
    y: np.ndarray | None = None
    image_shape: tuple[int, int, int] | None = None
    name: str = "data"
    class_names: list[str] | None = None
    spec: dict = field(default_factory=dict)
    factors: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        if x.ndim != 2:
            raise DataError(f"Dataset.x must be 2-D (N, D); got shape {x.shape}")
        self.x = x
        if self.y is not None:
            y = np.asarray(self.y)
            if y.dtype != np.int64:
                y = _as_ids(y)
            if y.shape != (x.shape[0],):
                raise DataError(f"Dataset.y must have shape ({x.shape[0]},); got {y.shape}")
            self.y = y
        if self.image_shape is not None:
            self.image_shape = tuple(int(s) for s in self.image_shape)
            if len(self.image_shape) != 3 or int(np.prod(self.image_shape)) != x.shape[1]:
                raise DataError(f"image_shape {self.image_shape} does not match {x.shape[1]} "
                                "features per sample")
        if self.factors is None:
            self.factors = {}

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_classes(self) -> int | None:
        if self.y is None:
            return None
        return int(np.unique(self.y).size)

    @property
    def is_image(self) -> bool:
        return self.image_shape is not None

    def images(self, idx: Any) -> np.ndarray | None:
        """Images for display: (len, H, W) for grey, (len, H, W, C) for colour; None for vectors.

        ``idx`` is anything that indexes rows of ``x`` (an int, a list, a slice, a mask).
        """
        if self.image_shape is None:
            return None
        c, h, w = self.image_shape
        rows = self.x[np.atleast_1d(idx)] if np.isscalar(idx) else self.x[idx]
        imgs = rows.reshape(-1, c, h, w)
        if c == 1:
            return imgs[:, 0]
        return np.ascontiguousarray(imgs.transpose(0, 2, 3, 1))

    def categorical_factors(self, max_values: int = 20) -> list[str]:
        """Names of the factors that are a second labelling of the points (one value per point,
        at most ``max_values`` distinct values), e.g. the artifact of ``artifact-digits``; the
        views can colour by these as they colour by the true label."""
        out = []
        for k, v in self.factors.items():
            v = np.asarray(v)
            if v.ndim == 1 and v.dtype.kind in "biuf" and np.unique(v).size <= max_values \
                    and not (self.y is not None and np.array_equal(v, self.y)):
                out.append(k)   # a copy of the true label (objects' shape) is not a new colour
        return out

    def factor_codes(self, name: str, idx: Any = slice(None)) -> tuple[np.ndarray, list[str]]:
        """(code 0..m-1 per point of ``idx``, the m values as text) of a categorical factor."""
        values, codes = np.unique(np.asarray(self.factors[name]), return_inverse=True)
        return codes[idx].astype(np.int64), [f"{v:g}" for v in values]

    def label_name(self, label: int) -> str:
        """The class name of a label id (its number when there are no names)."""
        if self.class_names is not None and 0 <= int(label) < len(self.class_names):
            return self.class_names[int(label)]
        return str(int(label))

    def summary(self) -> str:
        """One line for people, e.g. ``digits: 1797 x 64 (1x8x8 images), 10 classes``."""
        kind = ("{}x{}x{} images".format(*self.image_shape) if self.image_shape
                else "vectors")
        classes = f"{self.n_classes} classes" if self.y is not None else "no labels"
        return f"{self.name}: {self.n} x {self.dim} ({kind}), {classes}"

    def __repr__(self) -> str:
        return f"Dataset({self.summary()}, spec={self.spec!r})"


# ----------------------------------------------------------------------------------------------
# shared checks

_IMAGE_HINT = "expected (N, D) features or (N, H, W) / (N, C, H, W) / (N, H, W, C) images with C in {1, 3}"


def _numeric(a: np.ndarray, where: str, what: str) -> np.ndarray:
    if a.dtype == object:
        raise DataError(f"{where}: {what} holds Python objects; expected a numeric array")
    if a.dtype.kind in "US":
        raise DataError(f"{where}: {what} holds text (dtype {a.dtype}); expected numbers")
    if a.dtype.kind == "c":
        raise DataError(f"{where}: {what} holds complex numbers; expected real numbers")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{where}: {what} has dtype {a.dtype}; expected numbers")
    return a


def _check_finite(x: np.ndarray, where: str, what: str = "the data") -> None:
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x)
    if bad.any():
        n_nan = int(np.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        first = int(np.argwhere(bad.reshape(x.shape[0], -1).any(axis=1))[0, 0])
        parts = []
        if n_nan:
            parts.append(f"{n_nan} NaN")
        if n_inf:
            parts.append(f"{n_inf} infinite")
        raise DataError(f"{where}: {what} contains {' and '.join(parts)} value(s) (first in "
                        f"sample {first}); remove or fill them in first, all values must be "
                        "finite numbers")


def as_images(x: np.ndarray, where: str,
              what: str = "the array") -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """Interpret an array's shape: (N, D) vectors, (N, H, W), (N, C, H, W) or (N, H, W, C).

    Returns (array shaped (N, D) or (N, C, H, W), image_shape or None).
    """
    if x.ndim == 2:
        return x, None
    if x.ndim == 3:
        n, h, w = x.shape
        return x.reshape(n, 1, h, w), (1, h, w)
    if x.ndim == 4:
        n, a, b, c = x.shape
        if a in (1, 3):
            return x, (a, b, c)
        if c in (1, 3):
            return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), (c, a, b)
        raise DataError(f"{where}: {what} has 4 dimensions {x.shape}, but neither axis 1 nor "
                        f"axis 3 is a channel axis of size 1 or 3; {_IMAGE_HINT}")
    raise DataError(f"{where}: {what} has {x.ndim} dimension(s) {x.shape}; {_IMAGE_HINT}")


def scale_images(x: np.ndarray) -> np.ndarray:
    """Scale image values to [0, 1] (float32).

    Values already in [0, 1] are kept. Otherwise values in [0, 255] are divided by 255, larger
    ranges by their maximum, and data with negative values are min-max scaled.
    """
    x = x.astype(np.float32, copy=False)
    if x.size == 0:
        return x
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and hi <= 1.0:
        return x
    if lo < 0.0:
        span = hi - lo
        return ((x - lo) / span).astype(np.float32) if span > 0 else np.zeros_like(x)
    return (x / (255.0 if hi <= 255.0 else hi)).astype(np.float32)


def _label_text(u) -> str:
    """A numeric label as text: exact for integers, short for floats beyond 2**53."""
    if isinstance(u, np.floating) and abs(float(u)) >= 2.0**53:
        return f"{float(u):g}"
    return str(int(u))


def clean_labels(y: Any, n: int, where: str,
                 class_names: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Check labels and map them to ids 0..K-1.

    Accepts integers, integer-valued floats, booleans and strings. Returns (ids, class_names),
    where class_names[i] names id i (the original value as text unless ``class_names`` is given
    for labels that are already 0..K-1).
    """
    y = np.asarray(y)
    if y.dtype == object:
        raise DataError(f"{where}: the labels hold Python objects; expected integers or text")
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise DataError(f"{where}: labels have shape {y.shape}; expected a 1-D array of "
                        f"{n} labels")
    if y.shape[0] != n:
        raise DataError(f"{where}: there are {y.shape[0]} labels but {n} samples; expected "
                        "one label per sample")
    if y.dtype.kind in "US":
        values = np.char.strip(y.astype(str))
        if (values == "").any():
            first = int(np.argmax(values == ""))
            raise DataError(f"{where}: label of sample {first} is empty; every sample needs "
                            "a label (or give no labels at all)")
        uniq, ids = np.unique(values, return_inverse=True)
        return ids.astype(np.int64), [str(u) for u in uniq]
    if y.dtype.kind == "c" or y.dtype.kind not in "biuf":
        raise DataError(f"{where}: labels have dtype {y.dtype}; expected integers or text")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise DataError(f"{where}: labels contain NaN or infinite values; expected "
                            "integer class ids")
        if not np.all(y == np.round(y)):
            first = int(np.argmax(y != np.round(y)))
            raise DataError(f"{where}: labels must be whole numbers (class ids); sample "
                            f"{first} has label {float(y[first]):g}. Give integer class ids "
                            "or text labels")
    # ids from the values as they are: a cast to int64 first merged labels beyond its range
    # (1e30 and 2e30 both became -2**63) and wrapped uint64 ones (2**64 - 1 became -1)
    uniq, ids = np.unique(y, return_inverse=True)
    names = [_label_text(u) for u in uniq]
    if class_names is not None and uniq.size and uniq[0] >= 0 and uniq[-1] < len(class_names):
        names = [str(class_names[int(u)]) for u in uniq]
    return ids.astype(np.int64), names


def make_dataset(x: Any, y: Any = None, *, where: str, name: str,
                 image_shape: tuple[int, int, int] | None = None, images: bool | None = None,
                 class_names: Sequence[str] | None = None, spec: dict | None = None,
                 factors: dict | None = None, labels_are_ids: bool = False,
                 what: str = "the data") -> Dataset:
    """Validate raw arrays and build a Dataset.

    ``images``: None guesses from the shape (3-D/4-D arrays are images); True/False forces it.
    Image values are scaled to [0, 1]. ``labels_are_ids``: the labels are already 0..K-1 and
    ``class_names`` names them (used by the built-in sets, which skip the relabelling).
    """
    x = np.asarray(x)
    _numeric(x, where, what)
    if x.size == 0 or x.ndim == 0 or x.shape[0] == 0:
        raise DataError(f"{where}: {what} is empty (shape {x.shape}); expected at least 2 "
                        "samples")
    if x.ndim == 1:
        raise DataError(f"{where}: {what} is 1-D {x.shape}; {_IMAGE_HINT}. A single feature "
                        "per sample must be shaped (N, 1)")
    if image_shape is None:
        x, image_shape = as_images(x, where, what)
        if images is False and image_shape is not None:
            image_shape = None
    n = int(x.shape[0])
    if n < 2:
        raise DataError(f"{where}: only {n} sample; expected at least 2 samples")
    x = x.reshape(n, -1)
    if x.shape[1] == 0:
        raise DataError(f"{where}: the samples have 0 features; expected at least 1")
    _check_finite(x, where, what)
    if x.dtype.kind == "b":
        x = x.astype(np.float32)
    # x is finite here; float32 overflows where values (or, for images, the span that
    # scale_images divides by) pass 3.4e38, and leaves inf or NaN behind
    with np.errstate(over="ignore", invalid="ignore"):  # the check below words it
        xf = scale_images(x) if image_shape is not None else x.astype(np.float32, copy=False)
    if not np.isfinite(xf).all():
        span = ", and images are scaled by their range (max - min)" if image_shape else ""
        raise DataError(f"{where}: values from {x.min():.3g} to {x.max():.3g} are too large for "
                        f"float32, which holds up to 3.4e38{span}; rescale the data")
    names = list(class_names) if class_names is not None else None
    if y is not None:
        if labels_are_ids:
            y = np.asarray(y, dtype=np.int64)
            if y.shape != (n,):
                raise DataError(f"{where}: there are {y.size} labels but {n} samples")
        else:
            y, names = clean_labels(y, n, where, class_names)
    fac = {}
    for k, v in (factors or {}).items():
        v = np.asarray(v)
        if v.shape[:1] != (n,):
            raise DataError(f"{where}: factor {k!r} has {v.shape[:1]} rows, expected {n}")
        fac[k] = v
    return Dataset(x=xf, y=y, image_shape=image_shape, name=name,
                   class_names=names if y is not None else None, spec=dict(spec or {}),
                   factors=fac)


def stratified_subsample(y: np.ndarray | None, n_total: int, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a random subsample of ``n`` points, stratified by ``y`` when given.

    Each class keeps its share of the points (largest remainder rounding), so class proportions
    stay as they were; a class keeps at least one point when n allows it.
    """
    rng = np.random.default_rng([int(seed), 0x5EED])
    if n >= n_total:
        return np.arange(n_total)
    if y is None:
        return np.sort(rng.choice(n_total, size=n, replace=False))
    classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * (n / n_total)
    take = np.floor(quota).astype(int)
    if n >= classes.size:
        take = np.maximum(take, 1)
        take = np.minimum(take, counts)
    # fix rounding: add to the largest remainders, remove from the largest takes
    while take.sum() < n:
        rem = np.where(take < counts, quota - take, -np.inf)
        take[int(np.argmax(rem))] += 1
    while take.sum() > n:
        rem = np.where(take > 1, quota - take, np.inf)
        take[int(np.argmin(rem))] -= 1
    out = []
    for c in range(classes.size):
        members = np.flatnonzero(inv == c)
        out.append(rng.choice(members, size=int(take[c]), replace=False))
    return np.sort(np.concatenate(out))
