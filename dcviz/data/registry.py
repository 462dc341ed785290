"""The data set registry: ids, their options, spec normalisation, and ``load``.

A spec is a registered id (``"digits"``), a path (``"my.npz"``), or a dict
``{"name": id, **options}`` / ``{"path": p, **options}``. :func:`normalise_spec` turns any of
these into the one canonical dict (defaults filled in, paths absolute), which is what
``Dataset.spec`` holds, so that ``load(ds.spec)`` gives the same data again.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import download, files, synthetic
from .core import DataError, Dataset, make_dataset, scale_images, stratified_subsample

# ------------------------------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class Option:
    """One option of a data set, with what a form needs to show it."""

    default: Any
    help: str
    kind: str = "int"               # int, float, choice, str, int_or_str, size2
    min: float | None = None
    max: float | None = None
    choices: tuple = ()

    def check(self, name: str, value: Any, where: str) -> Any:
        if value is None:
            if self.default is None:
                return None
            raise DataError(f"{where}: option {name!r} must not be empty (null)")
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                  np.floating, str)):
                raise DataError(f"{where}: option {name!r} must be an integer, got {value!r}")
            try:
                f = float(value)
            except ValueError:
                raise DataError(f"{where}: option {name!r} must be an integer, got "
                                f"{value!r}") from None
            except OverflowError:  # an int past float's range (JSON allows 400 digits)
                raise DataError(f"{where}: option {name!r} is out of range "
                                f"({_digits(value)})") from None
            if not np.isfinite(f) or f != int(f):
                raise DataError(f"{where}: option {name!r} must be an integer, got {value!r}")
            value = int(f)
        elif self.kind == "float":
            if isinstance(value, bool):
                raise DataError(f"{where}: option {name!r} must be a number, got {value!r}")
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise DataError(f"{where}: option {name!r} must be a number, got "
                                f"{value!r}") from None
            except OverflowError:
                raise DataError(f"{where}: option {name!r} is out of range "
                                f"({_digits(value)})") from None
            if not np.isfinite(value):
                raise DataError(f"{where}: option {name!r} must be a finite number")
        elif self.kind == "choice":
            if value not in self.choices:
                raise DataError(f"{where}: option {name!r} is {value!r}; expected one of "
                                f"{', '.join(map(repr, self.choices))}")
        elif self.kind == "str":
            if not isinstance(value, str):
                raise DataError(f"{where}: option {name!r} must be text, got {value!r}")
        elif self.kind == "int_or_str":
            if isinstance(value, bool) or not isinstance(value, (int, str, np.integer)):
                raise DataError(f"{where}: option {name!r} must be a column name or index, got "
                                f"{value!r}")
            value = int(value) if isinstance(value, np.integer) else value
        elif self.kind == "size2":
            ok = (isinstance(value, (list, tuple)) and len(value) == 2
                  and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                          and 1 <= v <= 4096 for v in value))
            if not ok:
                raise DataError(f"{where}: option {name!r} must be [height, width] in pixels "
                                f"(two integers from 1 to 4096), got {value!r}")
            value = [int(v) for v in value]
        if self.min is not None and value < self.min:
            raise DataError(f"{where}: option {name!r} is {value}; it must be at least "
                            f"{self.min:g}")
        if self.max is not None and value > self.max:
            raise DataError(f"{where}: option {name!r} is {value}; it must be at most "
                            f"{self.max:g}")
        return value

    def describe(self) -> dict:
        d = {"default": self.default, "help": self.help, "kind": self.kind}
        if self.min is not None:
            d["min"] = self.min
        if self.max is not None:
            d["max"] = self.max
        if self.choices:
            d["choices"] = list(self.choices)
        return d


def _digits(value: int) -> str:
    """A huge integer said by its length: all its digits would flood the message (and
    str() refuses an int of more than 4,300 digits)."""
    return f"an integer of about {int(int(value).bit_length() * 0.30103) + 1} digits"


COMMON = {
    "n": Option(None, "Keep a random subsample of this many points, stratified by label "
                "(all points when empty or larger than the set).", "int", min=2),
    "seed": Option(0, "Random seed for generating the data and for the subsample.", "int",
                   min=0),
}

PATH_OPTIONS = {
    "label": Option(None, "A name to show for the data (for example the uploaded file's name).",
                    "str"),
    "label_col": Option(None, "CSV only: the label column, by header name or 0-based index "
                        "(default: a column named label, labels, y, class or target).",
                        "int_or_str"),
    "resize": Option(None, "Image folders only: resize every image to [height, width].",
                     "size2"),
    "x_key": Option(None, ".npz only: the array that holds the features (default x, X, data, "
                    "images, features, inputs or the only array).", "str"),
    "y_key": Option(None, ".npz only: the array that holds the labels (default y, Y, labels, "
                    "label, targets or target).", "str"),
}


@dataclass
class Entry:
    id: str
    title: str
    kind: str                       # built-in, synthetic, download
    description: str
    image: bool
    size: str
    loader: Callable[[dict], Dataset]
    options: dict[str, Option] = field(default_factory=dict)
    paper: str = ""

    @property
    def suits(self) -> list[str]:
        """Ids of the methods that declare they suit this data set (``Method.suits``)."""
        from dcviz.methods import suited_to
        return suited_to(self.id)

    def info(self) -> dict:
        opts = {**self.options, "seed": COMMON["seed"]}
        return {
            "id": self.id, "title": self.title, "kind": self.kind,
            "description": self.description, "image": self.image, "suits": list(self.suits),
            "defaults": {k: o.default for k, o in opts.items()},
            "options": {k: o.describe() for k, o in {**opts, "n": COMMON["n"]}.items()},
            "size": self.size, "paper": self.paper,
        }


REGISTRY: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    if entry.kind not in ("built-in", "synthetic", "download"):
        raise ValueError(f"unknown kind {entry.kind!r}")
    REGISTRY[entry.id] = entry
    return entry


# ------------------------------------------------------------------------------------------------
# the registered data sets

def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's bundled digits, read straight from its CSV (importing sklearn takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin:
        csv_gz = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
        if csv_gz.is_file():
            data = np.loadtxt(csv_gz, delimiter=",")
            return data[:, :-1], data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data, d.target


def _load_digits(opts: dict) -> Dataset:
    data, target = _digits_arrays()
    return make_dataset(data / 16.0, target, where="digits", name="digits",
                        image_shape=(1, 8, 8), class_names=[str(i) for i in range(10)],
                        labels_are_ids=True)


def _load_artifact_digits(opts: dict) -> Dataset:
    data, target = _digits_arrays()
    x, artifact = synthetic.pixel_artifact(data / 16.0, seed=opts["seed"])
    return make_dataset(x, target, where="artifact-digits", name="artifact-digits",
                        image_shape=(1, 8, 8), class_names=[str(i) for i in range(10)],
                        factors={"artifact": artifact}, labels_are_ids=True)


def _synthetic(fn: Callable, name: str, image_shape=None) -> Callable[[dict], Dataset]:
    def loader(opts: dict) -> Dataset:
        x, y, names, factors = fn(**opts)
        return make_dataset(x, y, where=name, name=name, image_shape=image_shape,
                            images=image_shape is not None, class_names=names,
                            factors=factors, labels_are_ids=True)
    return loader


def _objects(opts: dict) -> Dataset:
    from .objects import objects

    x, y, names, factors = objects(**opts)
    s = opts["size"]
    return make_dataset(x.reshape(len(x), -1), y, where="objects", name="objects",
                        image_shape=(1, s, s), class_names=names, factors=factors,
                        labels_are_ids=True)


def _download_loader(ds_id: str) -> Callable[[dict], Dataset]:
    r = download.REMOTES[ds_id]

    def loader(opts: dict) -> Dataset:
        key = ("fetch", ds_id, str(download.cache_file(ds_id)))
        x, y, split = _cached(key, lambda: download.fetch(ds_id))
        x, y = download.select_subset(r, x, y, split, opts["subset"])
        xf = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else scale_images(x)
        return make_dataset(xf, y, where=r.title, name=ds_id, image_shape=r.image_shape,
                            class_names=list(r.class_names), labels_are_ids=True)
    return loader


register(Entry(
    "digits", "Digits (8x8)", "built-in",
    "sklearn's bundled 1,797 handwritten digits, 8x8 grey; works offline. A quick-preset run "
    "takes under a minute (DEKM, DEC) to several (DCRL, GAN) on an idle 2-core CPU.",
    True, "1,797 images, 8x8 grey, 10 classes", _load_digits))

register(Entry(
    "artifact-digits", "Artifact digits (8x8)", "synthetic",
    "The digits with a one-pixel artifact (the GAN paper's Artifact-MNIST): the first pixel of "
    "each image is set to 0.1, 0.5 or 0.9 with equal probability, kept as a second label "
    "(factor 'artifact'). What to look for: with k = 3 the GAN clusters can follow the artifact "
    "(colour by 'artifact' to see it, NMI near 1; in the GAN lens, 'What the rows differ in' "
    "shows one red or blue pixel in the top-left corner of each id's tile and little else), "
    "while k-means, AE + k-means and DEKM follow the far larger digit strokes and ignore it "
    "(NMI against the artifact near 0).",
    True, "1,797 images, 8x8 grey, 10 digit classes, 3 artifact values",
    _load_artifact_digits,
    paper="Learning the Precise Feature for Cluster Assignment, sec. IV-D.1 (Artifact-MNIST)"))

register(Entry(
    "blobs8", "8 Gaussian blobs", "synthetic",
    "Eight tight Gaussian blobs on a ring of radius 1.414 in 2-D, the GAN paper's toy data.",
    False, "2,000 points in 2-D, 8 classes",
    _synthetic(synthetic.blobs8, "blobs8"),
    {"n_samples": Option(2000, "Number of points (balanced over the 8 blobs).", "int", 8,
                         200_000),
     "std": Option(0.014, "Standard deviation of every blob (the paper: 0.014).", "float",
                   0.0, 2.0)},
    paper="Learning the Precise Feature for Cluster Assignment, sec. IV-B"))

register(Entry(
    "sphere2", "Two manifolds on the sphere", "synthetic",
    "A wavy ring round the equator and a cap at the pole of the unit sphere in 3-D (MLC Fig. 1).",
    False, "200 points in 3-D, 2 classes",
    _synthetic(synthetic.sphere2, "sphere2"),
    {"n_samples": Option(200, "Number of points, half on each manifold (the paper: 100 + 100).",
                         "int", 4, 200_000),
     "A": Option(0.2, "Amplitude of the ring's wave (the paper: 0.2).", "float", 0.0, 1.5),
     "omega": Option(5.0, "Frequency of the ring's wave (the paper: 5).", "float", 0.0, 50.0),
     "noise": Option(0.05, "Standard deviation of the Gaussian noise (the paper: 0.05).",
                     "float", 0.0, 1.0)},
    paper="Unsupervised Manifold Linearizing and Clustering, Fig. 1 and appendix D.1"))

register(Entry(
    "manifolds", "Four intersecting manifolds", "synthetic",
    "A ring, a line, a wave and a helix that cross one another, placed in 10-D (DCRL Fig. 3). "
    "Watch the stages: the four share one centre, so any clustering by centres (k-means, DEC, "
    "DCRL) cuts them by region, not by manifold.",
    False, "2,000 points in 10-D, 4 classes",
    _synthetic(synthetic.manifolds, "manifolds"),
    {"n_samples": Option(2000, "Number of points (balanced over the 4 manifolds).", "int", 4,
                         200_000),
     "dim": Option(10, "Dimension of the space the 3-D manifolds are rotated into.", "int", 3,
                   1000),
     "noise": Option(0.02, "Standard deviation of the Gaussian noise in every dimension.",
                     "float", 0.0, 1.0)},
    paper="Deep Clustering and Representation Learning that Preserves Geometric Structures, "
          "Fig. 3"))

register(Entry(
    "synth25", "SYNTH-25", "synthetic",
    "Four well-separated Gaussian clusters in 2 dimensions plus 25 Gaussian noise dimensions "
    "(ACe/DeC).",
    False, "12,000 points in 27-D, 4 classes",
    _synthetic(synthetic.synth25, "synth25"),
    {"n_samples": Option(12000, "Number of points (the paper: 12,000).", "int", 4, 1_000_000),
     "noise_dims": Option(25, "Number of noise dimensions without cluster structure.", "int",
                          0, 1000),
     "cluster_std": Option(0.5, "Standard deviation of each cluster (centres at (+-2, +-2)).",
                           "float", 0.0, 10.0),
     "noise_std": Option(1.0, "Standard deviation of every noise dimension.", "float", 0.0,
                         100.0),
     "scale": Option("raw", "raw: as drawn. standardized: every feature z-scored, so the "
                     "cluster dimensions hold no more variance than a noise dimension (this "
                     "reproduces the paper's k-means and AE + k-means figures).", "choice",
                     choices=("standardized", "raw"))},
    paper="Details (Don't) Matter: ACe/DeC, sec. 4"))

register(Entry(
    "objects", "OBJECTS (rendered shapes)", "synthetic",
    "Shaded grey images of spheres, cubes and cylinders under a random light; the class is the "
    "shape, the light is shared detail (ACe/DeC).",
    True, "1,500 images, 32x32 grey, 3 classes", _objects,
    {"n_samples": Option(1500, "Number of images (balanced over the 3 shapes; the paper uses "
                         "10,000 at 64x64).", "int", 3, 100_000),
     "size": Option(32, "Width and height of the images in pixels.", "int", 8, 128)},
    paper="Details (Don't) Matter: ACe/DeC, Fig. 1b and sec. 4"))

_SUBSET = Option("all", "Which split: train (the first 60,000; USPS 7,291), test (the last "
                 "10,000; USPS 2,007) or all.", "choice", choices=("train", "test", "all"))

register(Entry(
    "mnist", "MNIST", "download",
    "70,000 handwritten digits, 28x28 grey; downloaded from OpenML on first use (about 15 MB), "
    "then cached.",
    True, "70,000 images, 28x28 grey, 10 classes", _download_loader("mnist"),
    {"subset": _SUBSET}))

register(Entry(
    "fashion-mnist", "Fashion-MNIST", "download",
    "70,000 grey 28x28 images of clothes in 10 classes; downloaded from OpenML on first use, "
    "then cached.",
    True, "70,000 images, 28x28 grey, 10 classes",
    _download_loader("fashion-mnist"), {"subset": _SUBSET}))

register(Entry(
    "usps", "USPS", "download",
    "9,298 handwritten digits from US postal envelopes, 16x16 grey; downloaded from OpenML on "
    "first use, then cached.",
    True, "9,298 images, 16x16 grey, 10 classes", _download_loader("usps"),
    {"subset": _SUBSET}))


# ------------------------------------------------------------------------------------------------
# specs

FILE_EXTS = (".npz", ".npy", ".csv", ".tsv", ".zip", ".gz")


def _looks_like_path(s: str) -> bool:
    low = s.lower()
    return ("/" in s or "\\" in s or low.endswith(FILE_EXTS) or files.is_idx_name(low)
            or low.startswith("~") or low in (".", ".."))


def _known_ids() -> str:
    return ", ".join(REGISTRY)


def _lookup(name: Any) -> Entry:
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"the data set name must be one of {_known_ids()}; got {name!r}")
    key = name.strip()
    if key in REGISTRY:
        return REGISTRY[key]
    folded = {k.lower().replace("_", "-"): e for k, e in REGISTRY.items()}
    e = folded.get(key.lower().replace("_", "-"))
    if e is None:
        raise DataError(f"unknown data set {name!r}; the known ids are {_known_ids()}, or give "
                        "a file path (.npz, .npy, .csv, MNIST IDX, a .zip or a folder of images)")
    return e


def normalise_spec(spec: Any) -> dict:
    """The canonical dict form of a spec (defaults filled in, paths absolute, no None values).

    Raises DataError for an unknown id, an unknown option or a bad option value.
    """
    if isinstance(spec, Path):
        spec = {"path": str(spec)}
    if isinstance(spec, str):
        s = spec.strip()
        if not s:
            raise DataError(f"the data spec is empty; give a data set id ({_known_ids()}) or a "
                            "file path")
        if s in REGISTRY or (not _looks_like_path(s) and s.lower().replace("_", "-") in
                             {k.lower() for k in REGISTRY}):
            spec = {"name": s}
        elif _looks_like_path(s) or os.path.exists(os.path.expanduser(s)):
            spec = {"path": s}
        else:
            _lookup(s)  # raises the unknown-id message
    if not isinstance(spec, dict):
        raise DataError(f"a data spec must be a data set id, a path, or a dict with 'name' or "
                        f"'path'; got {type(spec).__name__}")
    spec = dict(spec)
    if ("name" in spec) == ("path" in spec):
        raise DataError("a data spec dict needs exactly one of 'name' (a data set id: "
                        f"{_known_ids()}) or 'path' (a file or folder); got keys "
                        f"{', '.join(map(repr, spec)) or 'none'}")
    if "name" in spec:
        entry = _lookup(spec.pop("name"))
        where, options, out = entry.id, {**entry.options, **COMMON}, {"name": entry.id}
    else:
        p = spec.pop("path")
        if isinstance(p, Path):
            p = str(p)
        if not isinstance(p, str) or not p.strip():
            raise DataError(f"'path' must be a file or folder path, got {p!r}")
        if "\x00" in p:  # no file has one; os.stat raises ValueError, not "not found"
            raise DataError(f"the path {p[:200]!r} holds a NUL character, which no file name "
                            "can hold; check the path")
        path = os.path.abspath(os.path.expanduser(p.strip()))
        where, options, out = os.path.basename(path) or path, {**PATH_OPTIONS, **COMMON}, \
            {"path": path}
    unknown = [k for k in spec if k not in options]
    if unknown:
        raise DataError(f"{where}: unknown option(s) {', '.join(map(repr, unknown))}; the "
                        f"options are {', '.join(options)}")
    for k, opt in options.items():
        v = opt.check(k, spec[k], where) if k in spec else opt.default
        if v is not None:
            out[k] = v
    return out


def parse_spec(text: str) -> dict:
    """Parse the CLI's ``--data SPEC``: a JSON object, a registered id, ``id:key=value,...``
    (values read as JSON where they parse), or a path. Returns the normalised spec."""
    if not isinstance(text, str):
        return normalise_spec(text)
    s = text.strip()
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise DataError(f"the data spec looks like JSON but is not valid JSON ({e.msg} at "
                            f"character {e.pos}); e.g. {{\"name\": \"mnist\", \"subset\": "
                            "\"test\"}") from None
        return normalise_spec(obj)
    head, sep, rest = s.partition(":")
    if sep and head.strip().lower() in {k.lower() for k in REGISTRY}:
        spec: dict[str, Any] = {"name": head.strip()}
        for item in filter(None, (t.strip() for t in rest.split(","))):
            key, eq, val = item.partition("=")
            if not eq:
                raise DataError(f"in {text!r}: expected key=value, got {item!r}")
            try:
                spec[key.strip()] = json.loads(val)
            except json.JSONDecodeError:
                spec[key.strip()] = val.strip()
        return normalise_spec(spec)
    return normalise_spec(s)


def list_datasets() -> list[dict]:
    """One dict per registered id: id, title, kind, description, image, suits, defaults, plus
    options (help, ranges), size (text) and paper."""
    return [e.info() for e in REGISTRY.values()]


# ------------------------------------------------------------------------------------------------
# a small in-memory cache with a byte budget (thread-safe)

_CACHE_BUDGET = int(float(os.environ.get("DCVIZ_DATA_CACHE_MB", "1024")) * (1 << 20))
_cache: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
_cache_lock = threading.Lock()


def _nbytes(obj: Any) -> int:
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, Dataset):
        return (obj.x.nbytes + (obj.y.nbytes if obj.y is not None else 0)
                + sum(v.nbytes for v in obj.factors.values()))
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    return 64


def _freeze(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        obj.flags.writeable = False
    elif isinstance(obj, Dataset):
        for a in (obj.x, obj.y, *obj.factors.values()):
            if a is not None:
                a.flags.writeable = False
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _freeze(o)
    return obj


def _cached(key: Any, make: Callable[[], Any]) -> Any:
    """The cached value for key, else make() (frozen: its arrays become read-only)."""
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key][0]
    value = _freeze(make())
    size = _nbytes(value)
    if size <= _CACHE_BUDGET:
        with _cache_lock:
            _cache[key] = (value, size)
            _cache.move_to_end(key)
            total = sum(s for _, s in _cache.values())
            while total > _CACHE_BUDGET and len(_cache) > 1:
                _, (_, s) = _cache.popitem(last=False)
                total -= s
    return value


def clear_cache() -> None:
    """Forget every data set held in memory (the files on disk stay)."""
    with _cache_lock:
        _cache.clear()


# ------------------------------------------------------------------------------------------------
# load

def _fingerprint(path: Path) -> Any:
    """What identifies a file's content for the cache; None (no caching) for folders."""
    try:
        st = path.stat()
    except OSError:
        return None
    if path.is_dir():
        return None
    return (st.st_mtime_ns, st.st_size)


def _load_path(spec: dict) -> Dataset:
    """A user's file or folder. Whatever fails in a loader is one DataError naming the file
    (a MemoryError or a library's own exception must not escape to a page)."""
    try:
        return _load_path_unguarded(spec)
    except DataError:
        raise
    except (Exception, MemoryError, RecursionError) as e:  # noqa: BLE001 - see above
        where = files.short(Path(spec["path"]))
        raise DataError(f"{spec.get('label') or where}: cannot be loaded ({type(e).__name__}: "
                        f"{str(e)[:300]})") from None


def _load_path_unguarded(spec: dict) -> Dataset:
    path = Path(spec["path"])
    name = spec.get("label") or path.name or str(path)
    shown = files.short(path)
    if not path.exists():
        raise DataError(f"file not found: {path} (check the path; it is read as a file or a "
                        "folder on this machine)")
    if path.is_dir():
        try:
            entries = list(path.iterdir())
        except OSError as e:
            raise DataError(f"{shown}: cannot read the folder ({e})") from None
        if any(p.is_file() and files.is_idx_name(p.name) for p in entries):
            if not files.idx_pairs(path):
                raise DataError(f"{shown}: holds IDX label files but no images file "
                                "(…-images-idx3-ubyte[.gz])")
            raw = files.read_idx_folder(path)
        else:
            raw = files.read_image_folder(path, spec.get("resize"))
    else:
        low = path.name.lower()
        try:
            size = path.stat().st_size
        except OSError as e:
            raise DataError(f"{shown}: cannot read the file ({e})") from None
        if size == 0:
            raise DataError(f"{shown}: the file is empty (0 bytes)")
        if files.is_idx_name(low):
            raw = files.read_idx(path)
        elif low.endswith(".npz"):
            raw = files.read_npz(path, spec.get("x_key"), spec.get("y_key"))
        elif low.endswith(".npy"):
            raw = files.read_npy(path)
        elif low.endswith((".csv", ".tsv")):
            raw = files.read_csv(path, spec.get("label_col"))
        elif low.endswith(".zip"):
            from .zips import load_zip_path

            return load_zip_path(path, lambda folder: _load_path(
                {**spec, "path": str(folder), "label": name}))
        else:
            ext = os.path.splitext(low)[1] or "(no extension)"
            raise DataError(f"{shown}: unknown file type {ext!r}; expected .npz, .npy, .csv, "
                            "an MNIST IDX file (…-idx3-ubyte or …-idx3-ubyte.gz), a .zip of an "
                            "image folder, or a folder of images")
    xk = raw.extra.get("x_key")
    return make_dataset(raw.x, raw.y, where=shown, name=name, images=raw.images,
                        class_names=raw.class_names,
                        what=f"array {xk!r}" if xk else "the data")


def _load_full(spec: dict) -> Dataset:
    """The whole data set for a normalised spec (before the ``n`` subsample), cached."""
    base = {k: v for k, v in spec.items() if k != "n"}
    if "path" in spec:
        base.pop("seed", None)
        fp = _fingerprint(Path(spec["path"]))
        key = ("path", json.dumps(base, sort_keys=True), fp)
        if fp is None:
            return _freeze(_load_path(base))
        return _cached(key, lambda: _load_path(base))
    entry = REGISTRY[spec["name"]]
    if entry.kind == "download":
        base.pop("seed", None)
    opts = {k: v for k, v in base.items() if k != "name"}
    if entry.kind == "built-in":
        opts.pop("seed", None)
    key = ("name", json.dumps(base, sort_keys=True))
    if entry.kind == "download":
        key += (str(download.cache_file(entry.id)),)
    return _cached(key, lambda: entry.loader(opts))


def load(spec: Any) -> Dataset:
    """Load a data set from a spec (an id, a path, or a dict); see the module docstring.

    Returns a fresh Dataset whose arrays are the caller's own (copies of the cached ones), and
    whose ``spec`` is the normalised dict. Raises DataError for any bad input.
    """
    norm = normalise_spec(spec)
    full = _load_full(norm)
    n = norm.get("n")
    if n is not None and n < full.n:
        idx = stratified_subsample(full.y, full.n, n, norm.get("seed", 0))
        x = full.x[idx]
        y = None if full.y is None else full.y[idx]
        factors = {k: v[idx] for k, v in full.factors.items()}
    else:
        x = full.x.copy()
        y = None if full.y is None else full.y.copy()
        factors = {k: v.copy() for k, v in full.factors.items()}
    return Dataset(x=x, y=y, image_shape=full.image_shape, name=full.name,
                   class_names=None if full.class_names is None else list(full.class_names),
                   spec=copy.deepcopy(norm), factors=factors)
