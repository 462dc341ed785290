"""MNIST, Fashion-MNIST and USPS: downloaded on first use, then cached as a plain .npz.

For a data set ``<id>`` everything lives in ``data_dir()/<id>/``:

- ``<id>.npz``: the converted cache (``x`` (N, D) uint8 or float in [0, 1], ``y`` (N,),
  ``split`` (N,) with 0 = train, 1 = test). Loading it takes a fraction of a second.
- the original IDX files (``train-images-idx3-ubyte.gz`` ...), when a person puts them there by
  hand; they are converted to the .npz on the next load.
- ``openml/``: sklearn's download cache.

The download goes through :data:`fetcher`, a function ``(openml_name, version, data_home) ->
(X, y)``; tests replace it. Setting ``DCVIZ_OFFLINE=1`` skips the download altogether.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dcviz.safeio import folder_problem

from .core import DataError, data_dir, scale_images
from .files import idx_pairs, read_idx

DIGITS = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]


@dataclass(frozen=True)
class Remote:
    id: str
    title: str
    openml: str
    version: int | str
    image_shape: tuple[int, int, int]
    n_train: int
    n_test: int
    class_names: tuple[str, ...]
    idx_files: tuple[str, ...] = ()

    @property
    def dim(self) -> int:
        return int(np.prod(self.image_shape))


_MNIST_IDX = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

REMOTES = {
    "mnist": Remote("mnist", "MNIST", "mnist_784", 1, (1, 28, 28), 60000, 10000,
                    tuple(DIGITS), _MNIST_IDX),
    "fashion-mnist": Remote("fashion-mnist", "Fashion-MNIST", "Fashion-MNIST", 1, (1, 28, 28),
                            60000, 10000, tuple(FASHION), _MNIST_IDX),
    # OpenML's USPS: 9,298 digits, 16x16 in [-1, 1], labels 1..10 for digits 0..9; the usual
    # split is 7,291 train then 2,007 test, which we assume is OpenML's order.
    "usps": Remote("usps", "USPS", "usps", 2, (1, 16, 16), 7291, 2007, tuple(DIGITS)),
}


def openml_fetch(openml_name: str, version: int | str, data_home: str):
    """Download with sklearn's fetch_openml; returns (X, y) as numpy arrays."""
    from sklearn.datasets import fetch_openml

    bunch = fetch_openml(openml_name, version=version, data_home=data_home, as_frame=False,
                         n_retries=1, delay=0.5)
    return bunch.data, bunch.target


#: the download function; replace it (monkeypatch) to test without a network
fetcher: Callable[[str, int | str, str], tuple] = openml_fetch


def folder(ds_id: str) -> Path:
    return data_dir() / ds_id


def cache_file(ds_id: str) -> Path:
    return folder(ds_id) / f"{ds_id}.npz"


def _offline_message(r: Remote, cause: str) -> str:
    where = folder(r.id)
    by_hand = (f"put the {r.title} files in {where}{os.sep} by hand: either the IDX files "
               f"({', '.join(r.idx_files)}) or one prepared file {cache_file(r.id)} holding "
               f"arrays x ({r.dim} pixels per image, values 0-255 or 0-1) and y (labels 0-9)"
               if r.idx_files else
               f"put one prepared file {cache_file(r.id)} by hand, holding arrays x "
               f"({r.dim} pixels per image, values in [0, 1] or 0-255) and y (labels 0-9)")
    return (f"{r.title} could not be downloaded ({cause}). dcviz fetches it from OpenML on first "
            f"use, which needs the internet. To use it offline, {by_hand}. "
            f"The cache folder is {where}")


def _write_cache(path: Path, x: np.ndarray, y: np.ndarray, split: np.ndarray) -> None:
    """Write atomically (temporary file, then rename); a failure to write is not fatal."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
        os.close(fd)
        with open(tmp, "wb") as f:
            np.savez(f, x=x, y=y, split=split)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)  # type: ignore[possibly-undefined]
        except (OSError, NameError):
            pass


def _compact(x: np.ndarray) -> np.ndarray:
    """uint8 when the values are whole numbers 0..255, else float32 scaled to [0, 1]."""
    if x.dtype == np.uint8:
        return x
    xf = np.asarray(x, dtype=np.float64)
    if xf.min() >= 0 and xf.max() <= 255 and xf.max() > 1 and np.all(xf == np.round(xf)):
        return xf.astype(np.uint8)
    return scale_images(xf)


def _labels(r: Remote, y: np.ndarray, where: str) -> np.ndarray:
    try:
        yi = np.asarray(y).astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: labels are not numbers") from None
    if not np.all(yi == np.round(yi)):
        raise DataError(f"{where}: labels are not whole numbers")
    yi = yi.astype(np.int64)
    if r.id == "usps" and yi.min() == 1 and yi.max() == 10:
        yi = yi - 1
    if yi.min() < 0 or yi.max() >= len(r.class_names):
        raise DataError(f"{where}: labels run from {yi.min()} to {yi.max()}; expected 0.."
                        f"{len(r.class_names) - 1}")
    return yi


def _from_idx(r: Remote, files: list[Path]):
    xs, ys, splits = [], [], []
    for p in files:
        raw = read_idx(p)
        if raw.y is None:
            raise DataError(f"{p}: found no labels file beside it; put "
                            f"{p.name.replace('images-idx3', 'labels-idx1')} in {p.parent}")
        x = raw.x.reshape(raw.x.shape[0], -1)
        if x.shape[1] != r.dim:
            raise DataError(f"{p}: images have {x.shape[1]} pixels; {r.title} has {r.dim}")
        is_test = p.name.lower().startswith(("t10k", "test"))
        xs.append(x)
        ys.append(_labels(r, raw.y, str(p)))
        splits.append(np.full(x.shape[0], 1 if is_test else 0, dtype=np.uint8))
    return _compact(np.concatenate(xs)), np.concatenate(ys), np.concatenate(splits)


def _default_split(r: Remote, n: int) -> np.ndarray:
    if n == r.n_train + r.n_test:
        return np.concatenate([np.zeros(r.n_train, np.uint8), np.ones(r.n_test, np.uint8)])
    return np.full(n, 255, dtype=np.uint8)  # unknown


def _read_cache(r: Remote, path: Path):
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            if "x" not in keys or "y" not in keys:
                raise DataError(f"{where}: expected arrays 'x' and 'y', found "
                                f"{', '.join(sorted(keys)) or 'none'}")
            x, y = z["x"], z["y"]
            split = z["split"] if "split" in keys else None
    except DataError:
        raise
    except Exception as e:  # damaged or pickled
        raise DataError(f"{where}: cannot read the cached {r.title} ({type(e).__name__}: {e}); "
                        "delete the file to download it again") from None
    if x.ndim < 2 or x.shape[0] == 0:
        raise DataError(f"{where}: 'x' has shape {x.shape}; expected (N, {r.dim})")
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] != r.dim:
        raise DataError(f"{where}: 'x' has {x.shape[1]} values per image; {r.title} images have "
                        f"{r.dim} ({'x'.join(map(str, r.image_shape[1:]))})")
    if y.shape != (x.shape[0],):
        raise DataError(f"{where}: 'y' has shape {y.shape}; expected ({x.shape[0]},)")
    y = _labels(r, y, where)
    if split is None or split.shape != (x.shape[0],):
        split = _default_split(r, x.shape[0])
    return x, y, split


def fetch(ds_id: str):
    """(x uint8 or float32 (N, D), y int64 (N,), split uint8 (N,)): from the cache, the IDX
    files put by hand, or a download (in that order)."""
    r = REMOTES[ds_id]
    path = cache_file(ds_id)
    fold = folder(ds_id)
    files = idx_pairs(fold) if fold.is_dir() else []
    if path.is_file():
        # IDX files put there after the cache was written replace it
        stamp = path.stat().st_mtime_ns
        if not any(p.stat().st_mtime_ns > stamp for p in files):
            return _read_cache(r, path)
    if files:
        x, y, split = _from_idx(r, files)
        _write_cache(path, x, y, split)
        return x, y, split
    if os.environ.get("DCVIZ_OFFLINE", "").strip() not in ("", "0"):
        raise DataError(_offline_message(r, "DCVIZ_OFFLINE is set"))
    problem = folder_problem(fold)
    if problem:  # not the network's fault: say so, not "could not be downloaded"
        kind, there = problem
        why = (f"cannot be made: {there} is a file, not a folder" if kind == "file" else
               f"cannot be written ({there} is not writable)")
        raise DataError(f"{r.title} cannot be fetched: its cache folder {fold} {why}. Point "
                        f"DCVIZ_DATA_DIR at a folder this user can write (now {data_dir()})")
    try:
        X, Y = fetcher(r.openml, r.version, str(fold / "openml"))
    except DataError:
        raise
    except Exception as e:  # no network, HTTP error, bad archive ...
        cause = f"{type(e).__name__}: {e}".strip()
        raise DataError(_offline_message(r, cause[:300])) from None
    if hasattr(X, "toarray"):  # a sparse matrix
        X = X.toarray()
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != r.dim:
        raise DataError(f"{r.title}: the download has shape {X.shape}; expected (N, {r.dim})")
    x = _compact(X)
    y = _labels(r, np.asarray(Y), r.title)
    split = _default_split(r, x.shape[0])
    _write_cache(path, x, y, split)
    return x, y, split


def select_subset(r: Remote, x: np.ndarray, y: np.ndarray, split: np.ndarray, subset: str):
    if subset == "all":
        return x, y
    want = 0 if subset == "train" else 1
    if (split == 255).any():
        raise DataError(f"{r.title}: the cached data ({x.shape[0]} images) does not say which "
                        f"images are {subset} images; use subset='all', or replace "
                        f"{cache_file(r.id)} with one holding a 'split' array (0 train, 1 test)")
    m = split == want
    if not m.any():
        missing = ("train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" if want == 0
                   else "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
        hint = (f"put {missing} in {folder(r.id)} and delete {cache_file(r.id)}"
                if r.idx_files else f"use subset='all'")
        raise DataError(f"{r.title}: the cached data has no {subset} images; {hint}")
    return x[m], y[m]
