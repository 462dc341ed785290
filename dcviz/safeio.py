"""Reading what a file declares before believing it: NumPy headers, byte budgets, regular files.

Every loader in dcviz (user files, run folders, archives) asks these helpers first, so that a
header that declares a huge shape is refused before anything is allocated, and a FIFO or a
device is never opened (opening a FIFO for reading blocks until someone writes to it).

Also :func:`no_room`: whether a failed write met a full disk, which a run, an import or a
command survives (stop, say so, go on once there is room) rather than reports as a fault.

Nothing here imports the data registry or torch: the run store uses it too.
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np
import numpy.lib.format as npf

#: the most bytes one loaded data set (or one array of a run folder) may take in memory;
#: ``DCVIZ_MAX_DATA_MB`` overrides it
DEFAULT_MAX_BYTES = 4 << 30


def byte_budget() -> int:
    """The byte budget for one data set: ``DCVIZ_MAX_DATA_MB`` or 4 GiB, and at most half of
    the machine's memory where that can be read."""
    env = os.environ.get("DCVIZ_MAX_DATA_MB", "").strip()
    budget = int(float(env) * (1 << 20)) if env else DEFAULT_MAX_BYTES
    total = physical_memory()
    return min(budget, total // 2) if total else budget


def physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def declared_bytes(shape, itemsize: int) -> int:
    """Bytes that an array of this shape needs, in Python ints (no int64 wrap-around)."""
    total = int(itemsize)
    for s in shape:
        total *= int(s)
    return total


def finite_number(value) -> float | None:
    """A finite float from a JSON value read from a file, else None: booleans, text, NaN,
    infinities and integers too large for a float (JSON allows 400 digits) are not numbers to
    compute with."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if np.isfinite(value) else None


def is_regular_file(path: Path) -> bool:
    """True for a regular file (after following links); False for FIFOs, devices, sockets,
    folders and missing paths. Opening a FIFO would block, so loaders ask this first."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


class HeaderError(ValueError):
    """A .npy header that cannot be read (the message says why)."""


def read_npy_header(f) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header of an open .npy stream, without reading its data."""
    try:
        version = npf.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npf.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = npf.read_array_header_2_0(f)
        else:  # 3.0 (utf-8 field names): numpy only offers the private reader
            shape, _, dtype = npf._read_array_header(f, version)  # noqa: SLF001
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, zipfile.BadZipFile,
            zlib.error) as e:
        raise HeaderError(f"its NumPy header cannot be read ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return tuple(int(s) for s in shape), np.dtype(dtype)


def array_headers(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every array's (shape, dtype) in a .npy (key ``""``) or .npz file, headers only.

    Raises HeaderError for a file that is neither, or whose headers are damaged."""
    with open(path, "rb") as f:
        head = f.read(6)
        f.seek(0)
        if head.startswith(b"\x93NUMPY"):
            return {"": read_npy_header(f)}
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise HeaderError("it is neither a .npy nor a .npz file")
    out = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with zf.open(info) as f:
                    out[info.filename[:-4]] = read_npy_header(f)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
            RuntimeError) as e:
        raise HeaderError(f"its zip structure is damaged ({type(e).__name__}: {e})") from None
    return out


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks (files may be larger than memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def no_room(e: BaseException | None, where: str | Path | None = None) -> OSError | None:
    """The full disk or exhausted quota behind ``e`` (``e`` or what caused it), else None: a
    state of the machine, not a fault of the run, which can go on once there is room.

    NumPy's ``tofile`` (under ``np.save``) reports a short write as an OSError with no errno
    ("1797 requested and 1520 written"); with ``where``, such an error counts when the disk
    holding ``where`` has less than 1 MiB free."""
    for _ in range(10):
        if e is None:
            return None
        if isinstance(e, OSError):
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                return e
            if e.errno is None and where is not None and _free_bytes(where) < (1 << 20):
                return DiskFull(where)
        e = e.__cause__ or e.__context__
    return None


def _free_bytes(where: str | Path) -> float:
    try:
        return shutil.disk_usage(where).free
    except OSError:
        return float("inf")


class DiskFull(OSError):
    """No space left on the device that holds ``filename``, said for people."""

    def __init__(self, where: str | Path):
        super().__init__(errno.ENOSPC, "No space left on device", str(where))

    def __str__(self) -> str:
        return f"the disk holding {self.filename} is full: free some space, then try again"


def write_failure(e: OSError, where: str | Path) -> str:
    """What a failed write under ``where`` says to people: the full disk, else the system's
    reason ("Permission denied", "Not a directory")."""
    return str(DiskFull(where)) if no_room(e, where) is not None else (e.strerror or str(e))


def folder_problem(folder: str | Path) -> tuple[str, Path] | None:
    """Why ``folder`` could not be made or written, read from its nearest existing ancestor
    without writing anything (a page may ask on every redraw): ("file", that ancestor) when it
    is not a folder, ("read-only", it) when it cannot be written; None when it can."""
    there = Path(folder)
    while not os.path.lexists(there) and there.parent != there:
        there = there.parent  # the nearest one that is there must take the new folders
    if not there.is_dir():
        return "file", there
    if not os.access(there, os.W_OK | os.X_OK):
        return "read-only", there
    return None
