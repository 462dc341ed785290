"""Loaders for files a person gives: .npz, .npy, .csv, MNIST IDX, and folders of images.

Each ``read_*`` function returns a :class:`RawData` (plain arrays, not yet validated); the
registry turns it into a Dataset with :func:`dcviz.data.core.make_dataset`. Every problem is a
DataError that starts with the file's name.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcviz.safeio import (HeaderError, array_headers, byte_budget, declared_bytes,
                          is_regular_file, mib)

from .core import DataError

X_KEYS = ("x", "X", "data", "images", "features", "inputs")
Y_KEYS = ("y", "Y", "labels", "label", "targets", "target")
LABEL_COLUMNS = ("label", "labels", "y", "class", "target")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
              ".ppm", ".pbm", ".pnm")
IDX_RE = re.compile(r"idx[1-4][-._]ubyte(\.gz)?$", re.IGNORECASE)
# names that file managers leave behind; skipped in image folders
JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx"}


@dataclass
class RawData:
    x: np.ndarray
    y: np.ndarray | None = None
    images: bool | None = None          # None: guess from x's shape
    class_names: list[str] | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)


def short(path: Path | str) -> str:
    """The name used in messages: the file name with its parent folder."""
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


# ------------------------------------------------------------------------------------------------
# .npz and .npy

def _check_numpy_magic(path: Path, where: str, kind: str) -> None:
    """Tell pickles and other files apart from .npz/.npy before numpy tries to read them."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        return
    hint = ("expected a file written by np.savez(path, x=..., y=...)" if kind == ".npz"
            else "expected a file written by np.save(path, x)")
    if head[:1] == b"\x80":
        raise DataError(f"{where}: the file is a Python pickle, which dcviz does not load for "
                        f"safety; {hint}")
    raise DataError(f"{where}: not a readable NumPy {kind} file (it does not start with the "
                    f"NumPy or zip signature); {hint}")


def _np_load(path: Path, where: str, kind: str, how: str):
    """np.load with allow_pickle=False, every failure turned into a DataError that says how to
    write a file dcviz reads (``how``: the NumPy call)."""
    _check_numpy_magic(path, where, kind)
    _check_declared_size(path, where)
    try:
        return np.load(path, allow_pickle=False)
    except MemoryError:
        raise DataError(f"{where}: the arrays do not fit in memory; use a smaller file "
                        "(fewer samples or features)") from None
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DataError(f"{where}: the file holds pickled Python objects, which dcviz does "
                            f"not load for safety; save plain numeric arrays with {how}") from None
        raise DataError(f"{where}: not a readable NumPy {kind} file ({e}); expected a file "
                        f"written by {how}") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{where}: not a readable NumPy {kind} file ({type(e).__name__}: {e}); "
                        f"expected a file written by {how}") from None


def _check_declared_size(path: Path, where: str) -> None:
    """Refuse a .npy/.npz whose headers declare more bytes than the budget, before numpy
    allocates them. Damaged headers are left to np.load, which words its own message."""
    try:
        headers = array_headers(path)
    except HeaderError:
        return
    budget = byte_budget()
    total = 0
    for key, (shape, dtype) in headers.items():
        if dtype.hasobject:
            continue  # refused as a pickle when read
        n = declared_bytes(shape, dtype.itemsize)
        total += n
        if total > budget:
            what = f"array {key!r}" if key else "the array"
            raise DataError(f"{where}: {what} declares shape {' x '.join(map(str, shape))} "
                            f"({mib(n)}), more than the {mib(budget)} a data set may take in "
                            "memory; use fewer samples or features")


def read_npz(path: Path, x_key: str | None = None, y_key: str | None = None) -> RawData:
    where = short(path)
    npz = _np_load(path, where, ".npz", "np.savez(path, x=..., y=...)")
    if isinstance(npz, np.ndarray):  # a .npy saved under an .npz name
        return _npy_raw(npz, where)
    with npz:
        keys = list(npz.files)
        if not keys:
            raise DataError(f"{where}: the .npz file holds no arrays; expected features under "
                            "'x' (and optional labels under 'y')")

        def get(key: str) -> np.ndarray:
            try:
                return npz[key]
            except ValueError as e:
                if "pickle" in str(e).lower() or "object" in str(e).lower():
                    raise DataError(f"{where}: array {key!r} is a pickled object array, which "
                                    "dcviz does not load for safety; store numbers (or text "
                                    "labels) as plain arrays") from None
                raise DataError(f"{where}: array {key!r} cannot be read ({e})") from None
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise DataError(f"{where}: array {key!r} is damaged ({type(e).__name__}: "
                                f"{e})") from None

        if x_key is not None:
            if x_key not in keys:
                raise DataError(f"{where}: no array named {x_key!r}; the file holds "
                                f"{', '.join(map(repr, keys))}")
            xk = x_key
        else:
            xk = next((k for k in X_KEYS if k in keys), None)
            if xk is None:
                rest = [k for k in keys if k not in Y_KEYS and k != "class_names"]
                if len(rest) == 1:
                    xk = rest[0]
                else:
                    raise DataError(f"{where}: cannot tell which array holds the features; the "
                                    f"file holds {', '.join(map(repr, keys))}. Name it 'x' "
                                    "(and the labels 'y'), or give the option x_key")
        if y_key is not None:
            if y_key not in keys:
                raise DataError(f"{where}: no array named {y_key!r}; the file holds "
                                f"{', '.join(map(repr, keys))}")
            yk = y_key
        else:
            yk = next((k for k in Y_KEYS if k in keys and k != xk), None)
        x = get(xk)
        y = get(yk) if yk is not None else None
        names = None
        if "class_names" in keys:
            cn = get("class_names")
            if cn.ndim == 1 and cn.dtype.kind in "US":
                names = [str(s) for s in cn]
    return RawData(x=x, y=y, class_names=names, extra={"x_key": xk, "y_key": yk})


def _npy_raw(x: np.ndarray, where: str) -> RawData:
    if x.dtype.names is not None:
        raise DataError(f"{where}: holds a structured array with fields {x.dtype.names}; "
                        "expected a plain numeric array")
    return RawData(x=x)


def read_npy(path: Path) -> RawData:
    where = short(path)
    x = _np_load(path, where, ".npy", "np.save(path, x)")
    if not isinstance(x, np.ndarray):  # an .npz saved under an .npy name
        x.close()
        return read_npz(path)
    return _npy_raw(x, where)


# ------------------------------------------------------------------------------------------------
# .csv

#: peak memory of read_csv per byte of file (it holds every cell as a Python string, in lists of
#: rows, beside the text): measured with tracemalloc at 10x for 17-digit floats, 15x for
#: 4-decimal ones and 26x for 2-digit integers, the worst of the common cases
CSV_MEMORY_FACTOR = 28


def _to_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _is_header(first: list[str], rest: list, label_col) -> bool:
    """Whether the first row names the columns: it has a cell that is not a number. With the
    label column given by index, its cell does not count (text labels are data) unless the
    rows below hold numbers there, as a header "f1,...,f64,label" over numeric labels does."""
    label = None
    if label_col is not None and str(label_col).lstrip("-").isdigit() and first:
        idx = int(label_col)
        label = idx % len(first) if -len(first) <= idx < len(first) else None
    if any(_to_float(c) is None for j, c in enumerate(first) if j != label):
        return True
    if label is None or _to_float(first[label]) is not None:
        return False
    below = [r[label] for _, r in rest if len(r) == len(first)]
    return bool(below) and all(_to_float(c) is not None for c in below)


def read_csv(path: Path, label_col: str | int | None = None) -> RawData:
    """Numeric CSV with an optional header row and an optional label column.

    The label column is the one named label/labels/y/class/target (any case), or ``label_col``
    (a header name, or a 0-based index; negative counts from the end). Labels may be text.
    """
    where = short(path)
    size, budget = path.stat().st_size, byte_budget()
    if size * CSV_MEMORY_FACTOR > budget:
        raise DataError(f"{where}: reading this {mib(size)} CSV would take about "
                        f"{mib(size * CSV_MEMORY_FACTOR)} of memory ({CSV_MEMORY_FACTOR}x its "
                        f"size), more than the {mib(budget)} a data set may take; save it as "
                        ".npy or .npz, which load without that overhead, or use fewer rows")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{where}: the file is empty; expected rows of numbers separated by "
                        "commas")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{where}: this is a binary file, not CSV text; expected rows of "
                        "numbers separated by commas")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    rows = [(i + 1, [c.strip() for c in r]) for i, r in enumerate(csv.reader(io.StringIO(text),
                                                                               delimiter=delim))]
    rows = [(ln, r) for ln, r in rows if any(c != "" for c in r)]  # skip blank lines
    if not rows:
        raise DataError(f"{where}: the file holds no rows; expected rows of numbers separated "
                        "by commas")
    first_ln, first = rows[0]
    header = None
    if _is_header(first, rows[1:], label_col):
        header, rows = first, rows[1:]
    width = len(header if header is not None else first)
    if not rows:
        raise DataError(f"{where}: the file holds only a header row and no data; expected at "
                        "least 2 rows of numbers")
    for ln, r in rows:
        if len(r) != width:
            what = "the header" if header is not None else "the first row"
            raise DataError(f"{where}: line {ln} has {len(r)} column(s) but {what} has {width}; "
                            "every row needs the same number of columns")
    # which column holds the labels
    lab = None
    if label_col is not None:
        if isinstance(label_col, str) and not label_col.lstrip("-").isdigit():
            if header is None:
                raise DataError(f"{where}: label_col {label_col!r} is a name, but the file has "
                                "no header row; give the column's 0-based index instead")
            lower = [h.lower() for h in header]
            if label_col.lower() not in lower:
                raise DataError(f"{where}: no column named {label_col!r}; the columns are "
                                f"{', '.join(header)}")
            lab = lower.index(label_col.lower())
        else:
            idx = int(label_col)
            if not -width <= idx < width:
                raise DataError(f"{where}: label_col {idx} is out of range; the file has "
                                f"{width} columns (0..{width - 1})")
            lab = idx % width
    elif header is not None:
        for j, h in enumerate(header):
            if h.lower() in LABEL_COLUMNS:
                lab = j
                break
    feat_cols = [j for j in range(width) if j != lab]
    if not feat_cols:
        raise DataError(f"{where}: the only column is the label column; expected feature "
                        "columns too")
    x = np.empty((len(rows), len(feat_cols)), dtype=np.float64)
    for i, (ln, r) in enumerate(rows):
        for k, j in enumerate(feat_cols):
            v = _to_float(r[j])
            if v is None:
                col = f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")
                if r[j] == "":
                    raise DataError(f"{where}: line {ln}, {col} is empty; missing values are "
                                    "not supported, every cell must hold a number")
                raise DataError(f"{where}: line {ln}, {col} holds {r[j][:40]!r}, which is not "
                                "a number; every cell outside the label column must be numeric")
            x[i, k] = v
    y = None
    if lab is not None:
        cells = [r[lab] for _, r in rows]
        nums = [_to_float(c) for c in cells]
        if all(v is not None for v in nums):
            y = np.array(nums, dtype=np.float64)
        else:
            y = np.array(cells, dtype=str)
    return RawData(x=x, y=y, images=False,
                   extra={"label_col": None if lab is None else
                          (header[lab] if header is not None else lab)})


# ------------------------------------------------------------------------------------------------
# MNIST IDX

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def is_idx_name(name: str) -> bool:
    return bool(IDX_RE.search(name))


def read_idx_array(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or raw), checking the magic number and the size.

    The header is read first and its dimensions multiplied as Python ints (a product of four
    32-bit dimensions can wrap around int64), so a file that declares more than the byte
    budget is refused before its data is read."""
    where = short(path)
    if not is_regular_file(path):
        raise DataError(f"{where}: not a regular file (a folder, pipe or device); expected an "
                        "IDX file")
    gz = path.name.lower().endswith(".gz")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise DataError(f"{where}: the file is {'empty' if not magic else 'too short'} "
                                f"({len(magic)} bytes); expected an IDX header of at least 8 bytes")
            zero, code, ndim = int.from_bytes(magic[:2], "big"), magic[2], magic[3]
            if zero != 0 or code not in IDX_DTYPES or not 1 <= ndim <= 4:
                raise DataError(f"{where}: bad magic number 0x{magic.hex()}; an IDX file starts "
                                "with 0x0000 then a type byte (0x08 for unsigned bytes) and the "
                                "number of dimensions, e.g. 0x00000803 for images and 0x00000801 "
                                "for labels")
            dim_bytes = f.read(4 * ndim)
            if len(dim_bytes) < 4 * ndim:
                raise DataError(f"{where}: the file is cut short inside its header "
                                f"({4 + len(dim_bytes)} bytes, expected at least {4 + 4 * ndim})")
            dims = tuple(int.from_bytes(dim_bytes[4 * i: 4 * i + 4], "big") for i in range(ndim))
            dtype = np.dtype(IDX_DTYPES[code])
            expected = declared_bytes(dims, dtype.itemsize)
            shown = " x ".join(map(str, dims))
            budget = byte_budget()
            if expected > budget:
                raise DataError(f"{where}: its header declares {shown} values ({mib(expected)}), "
                                f"more than the {mib(budget)} a data set may take in memory")
            data = f.read(expected + 1)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{where}: the gzip data is damaged or cut short ({type(e).__name__}: "
                        f"{e}); download the file again") from None
    got = len(data)
    if got < expected:
        raise DataError(f"{where}: the file is truncated: its header says {shown} "
                        f"values ({expected} bytes of data) but only {got} bytes follow; "
                        "download the file again")
    if got > expected:
        raise DataError(f"{where}: the file has more bytes than its header ({shown}) "
                        "promises; it is not a valid IDX file")
    arr = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize)
    return arr.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


def idx_label_path(images: Path) -> Path | None:
    """The labels file beside an images file ('images-idx3' -> 'labels-idx1'), if present."""
    name = images.name
    cand = re.sub(r"images([-._])idx3", r"labels\1idx1", name, flags=re.IGNORECASE)
    if cand == name:
        cand = re.sub(r"idx3", "idx1", name, flags=re.IGNORECASE)
        if cand == name:
            return None
    stems = [cand]
    stems.append(cand[:-3] if cand.lower().endswith(".gz") else cand + ".gz")
    for c in stems:
        p = images.with_name(c)
        if p.is_file():
            return p
    return None


def read_idx(path: Path) -> RawData:
    """An IDX images file (idx3) and its labels file beside it, if there is one."""
    where = short(path)
    arr = read_idx_array(path)
    if arr.ndim == 1:
        raise DataError(f"{where}: this is a 1-D IDX file (labels); give the images file "
                        "(…-images-idx3-ubyte[.gz]) instead, its labels are found beside it")
    y = None
    lp = idx_label_path(path)
    if lp is not None:
        y = read_idx_array(lp)
        if y.ndim != 1:
            raise DataError(f"{short(lp)}: expected a 1-D labels file, got shape {y.shape}")
        if y.shape[0] != arr.shape[0]:
            raise DataError(f"{short(lp)}: holds {y.shape[0]} labels but {where} holds "
                            f"{arr.shape[0]} images; the two files do not belong together")
    return RawData(x=arr, y=y, images=arr.ndim >= 3,
                   extra={"labels_file": str(lp) if lp else None})


def idx_pairs(folder: Path) -> list[Path]:
    """IDX images files in a folder, training files first."""
    files = [p for p in folder.iterdir() if p.is_file() and is_idx_name(p.name)
             and re.search(r"idx3", p.name, re.IGNORECASE)]
    return sorted(files, key=lambda p: (not p.name.lower().startswith("train"), p.name))


def read_idx_folder(folder: Path) -> RawData:
    files = idx_pairs(folder)
    parts = [read_idx(p) for p in files]
    if len(parts) == 1:
        return parts[0]
    shapes = {p.x.shape[1:] for p in parts}
    if len(shapes) > 1:
        raise DataError(f"{short(folder)}: the IDX files hold images of different sizes "
                        f"({', '.join(str(s) for s in shapes)}); keep one data set per folder")
    if any(p.y is None for p in parts) and any(p.y is not None for p in parts):
        raise DataError(f"{short(folder)}: some IDX images files have a labels file and some "
                        "do not; add the missing labels files or remove the images files")
    x = np.concatenate([p.x for p in parts])
    y = None if parts[0].y is None else np.concatenate([p.y for p in parts])
    return RawData(x=x, y=y, images=True,
                   extra={"files": [p.name for p in files],
                          "counts": [int(p.x.shape[0]) for p in parts]})


# ------------------------------------------------------------------------------------------------
# folders of images, one sub-folder per class

def _skip(p: Path | str) -> bool:
    name = p if isinstance(p, str) else p.name
    return name.startswith(".") or name.lower() in JUNK_NAMES


def _image_files(folder: Path, where: str) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*")):
        if any(_skip(part) for part in p.relative_to(folder).parts):
            continue
        if p.is_dir():
            continue
        if not is_regular_file(p):
            raise DataError(f"{where}: {p.relative_to(folder.parent)} is not a regular file (a "
                            "pipe, device or broken link); remove it from the folder")
        if p.suffix.lower() not in IMAGE_EXTS:
            raise DataError(f"{where}: {p.relative_to(folder.parent)} is not an image file "
                            f"(known image types: {', '.join(IMAGE_EXTS)}); remove it or "
                            "move it out of the folder")
        out.append(p)
    return out


def read_image_folder(folder: Path, resize: tuple[int, int] | None = None) -> RawData:
    """One sub-folder per class (class names are the sorted sub-folder names).

    A folder with images and no sub-folders loads as one unlabelled set. A single class
    sub-folder is allowed: it gives one class (all labels 0). Images are converted to grey, or
    to RGB when any of them is in colour; all must have the same size unless ``resize=[H, W]``.
    """
    from PIL import Image, UnidentifiedImageError

    where = short(folder)
    entries = [p for p in sorted(folder.iterdir()) if not _skip(p)]
    if not entries:
        raise DataError(f"{where}: the folder is empty; expected one sub-folder of images per "
                        "class (e.g. cats/1.png, dogs/2.png)")
    subdirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if p.is_file()]
    # a zip often wraps everything in one top folder: step into it
    if len(subdirs) == 1 and not files:
        inner = [p for p in subdirs[0].iterdir() if not _skip(p)]
        if inner and all(p.is_dir() for p in inner):
            return read_image_folder(subdirs[0], resize)
    if subdirs and files:
        raise DataError(f"{where}: holds both files ({files[0].name}, …) and sub-folders "
                        f"({subdirs[0].name}, …); put every image in the sub-folder of its "
                        "class")
    groups: list[tuple[str | None, list[Path]]] = []
    if subdirs:
        for d in subdirs:
            imgs = _image_files(d, where)
            if not imgs:
                raise DataError(f"{where}: the class folder {d.name!r} holds no images; "
                                "remove it or add images")
            groups.append((d.name, imgs))
    else:
        groups.append((None, _image_files(folder, where)))
    paths = [p for _, ps in groups for p in ps]
    if len(paths) < 2:
        raise DataError(f"{where}: found {len(paths)} image; expected at least 2")

    arrays, colour = [], False
    first_size: tuple[Path, tuple[int, int]] | None = None
    budget = byte_budget()
    used = 0
    for p in paths:
        rel = p.relative_to(folder.parent)
        try:
            # PIL warns past MAX_IMAGE_PIXELS (89M) and raises past twice that; no image of a
            # clustering data set is that large, so the warning refuses it too
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                im = Image.open(p)
            with im:
                # Image.open reads the header only: the pixel count is known before decoding,
                # and the float32 copy of every image (3 channels at most) must fit the budget.
                w, h = im.size
                need = 4 * 3 * int(w) * int(h) if resize is None else 4 * 3 * int(resize[0]) * int(resize[1])
                used += need
                if 4 * 3 * int(w) * int(h) > budget or used > budget:
                    raise DataError(f"{where}: {rel} is {w}x{h} pixels; with the images before "
                                    f"it that is more than the {mib(budget)} a data set may take "
                                    "in memory; use smaller or fewer images")
                im.load()
                im = _normalise_mode(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DataError(f"{where}: {rel} is refused as a decompression bomb ({e}); use "
                            "smaller images") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"{where}: {rel} cannot be read as an image ({type(e).__name__}: "
                            f"{e}); remove or replace it") from None
        except MemoryError:
            raise DataError(f"{where}: {rel} does not fit in memory; use smaller images") from None
        if resize is not None:
            im = im.resize((int(resize[1]), int(resize[0])), Image.BILINEAR)
        if first_size is None:
            first_size = (rel, im.size)
        elif im.size != first_size[1]:
            (w0, h0), (w1, h1) = first_size[1], im.size
            raise DataError(f"{where}: images differ in size: {first_size[0]} is {w0}x{h0} but "
                            f"{rel} is {w1}x{h1} (width x height); give the option "
                            "resize=[H, W] to resize them all, or make them the same size")
        a = np.asarray(im, dtype=np.float32)
        if a.ndim == 3:
            if np.ptp(a, axis=2).max() > 0:
                colour = True
        arrays.append(a)
    if colour:
        stack = np.stack([a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2)
                          for a in arrays])  # (N, H, W, 3)
        x = stack.transpose(0, 3, 1, 2)
    else:
        x = np.stack([a if a.ndim == 2 else a[:, :, 0] for a in arrays])[:, None]
    x = x / 255.0  # every image is 8-bit after _normalise_mode
    y = None
    names = None
    if subdirs:
        names = [g for g, _ in groups]
        y = np.concatenate([np.full(len(ps), i) for i, (_, ps) in enumerate(groups)])
    return RawData(x=x.astype(np.float32), y=y, images=True, class_names=names,
                   extra={"files": [str(p.relative_to(folder)) for p in paths]})


def _normalise_mode(im):
    """8-bit 'L' for grey images, 'RGB' for colour; 16-bit and float images are rescaled."""
    from PIL import Image

    if im.mode in ("L", "RGB"):
        return im
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = a.max() if a.max() > 0 else 1.0
        return Image.fromarray((a / hi * 255.0).round().astype(np.uint8), "L")
    if im.mode in ("1", "LA"):
        return im.convert("L")
    if im.mode == "P" and "transparency" not in im.info:
        return im.convert("RGB")
    if im.mode in ("RGBA", "LA", "P", "PA"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")
