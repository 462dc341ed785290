"""Files from the browser, stored by content and checked by loading them once.

An upload is stored under ``data_dir()/uploads/<sha256[:16]><ext>``: the name comes from the
content, never from the user's file name, of which only the extension is kept (from an
allow-list). A zip is unpacked into ``uploads/<sha256[:16]>/`` by :mod:`.zips`, with its rules.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .core import DataError, data_dir
from .files import IDX_RE
from .registry import load
from .zips import reword, safe_extract

MAX_UPLOAD_BYTES = 1 << 30          # 1 GiB
UPLOAD_EXTS = (".npz", ".npy", ".csv", ".tsv", ".zip")


def upload_ext(filename: str) -> str:
    """The extension an upload is stored with; DataError when the type is not allowed."""
    name = re.split(r"[\\/]", str(filename))[-1].strip()
    low = name.lower()
    m = IDX_RE.search(low)
    if m:
        return "-" + low[m.start():]
    ext = os.path.splitext(low)[1]
    if ext in UPLOAD_EXTS:
        return ext
    raise DataError(f"{name or 'the upload'}: files of type {ext or '(no extension)'!r} are not "
                    f"accepted; upload {', '.join(UPLOAD_EXTS)}, an MNIST IDX file "
                    "(…-idx3-ubyte or …-idx3-ubyte.gz), or a .zip of an image folder")


def _atomic_write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_upload(filename: str, content: bytes) -> dict:
    """Validate and store an upload; returns the spec ``{"path": stored, "label": filename}``.

    The file is loaded once to check it; a DataError (with the user's file name in the
    message) is raised when it is not a usable data set, and nothing is kept then.
    """
    label = re.split(r"[\\/]", str(filename))[-1].strip() or "upload"
    ext = upload_ext(label)
    content = bytes(content)
    if not content:
        raise DataError(f"{label}: the file is empty")
    if len(content) > MAX_UPLOAD_BYTES:
        raise DataError(f"{label}: the file is {len(content) / (1 << 20):.0f} MiB; at most "
                        f"{MAX_UPLOAD_BYTES >> 20} MiB are accepted")
    digest = hashlib.sha256(content).hexdigest()[:16]
    updir = data_dir() / "uploads"
    created: Path | None = None
    try:
        updir.mkdir(parents=True, exist_ok=True)
        if ext == ".zip":
            dest = updir / digest
            if not dest.is_dir():
                zpath = updir / f".{digest}.zip"
                _atomic_write(zpath, content)
                try:
                    safe_extract(zpath, dest, label=label)
                    created = dest
                except BaseException:
                    shutil.rmtree(dest, ignore_errors=True)  # half unpacked: nothing is kept
                    raise
                finally:
                    zpath.unlink(missing_ok=True)
        else:
            dest = updir / f"{digest}{ext}"
            if not dest.is_file():
                _atomic_write(dest, content)
                created = dest
    except OSError as e:  # the data folder, not the file: say which
        from dcviz.safeio import write_failure
        raise DataError(f"{label}: cannot be kept in {updir} ({write_failure(e, data_dir())}); "
                        "nothing was kept. Point DCVIZ_DATA_DIR at a folder this user can write, "
                        "with room") from None
    spec = {"path": str(dest), "label": label}
    try:
        load(spec)
    except BaseException as e:
        # whatever went wrong (a DataError, or a MemoryError from a file that lied about its
        # size), the stored copy of a refused upload is not kept
        if created is not None:
            if created.is_dir():
                shutil.rmtree(created, ignore_errors=True)
            else:
                created.unlink(missing_ok=True)
        if isinstance(e, DataError):
            raise DataError(reword(str(e), dest, label)) from None
        if isinstance(e, Exception):  # a loader's slip: still one DataError naming the file
            raise DataError(f"{label}: cannot be loaded ({type(e).__name__}: "
                            f"{reword(str(e), dest, label)[:300]})") from None
        raise
    return spec
