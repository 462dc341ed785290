"""Zip archives of image folders, unpacked safely.

A zip is unpacked with these rules: no absolute paths, no ``..``, no symlinks, no encrypted
members, at most MAX_FILES members and MAX_UNPACKED_BYTES bytes in all (counted while writing,
so a lying header does not help). Both the loader (a zip given by path) and uploads use it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from dcviz.safeio import file_sha256

from .core import DataError, data_dir
from .files import JUNK_NAMES

MAX_UNPACKED_BYTES = 2 << 30        # 2 GiB
MAX_FILES = 200_000


def _skip_member(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p.lower() in JUNK_NAMES for p in parts)


def safe_extract(zip_path: Path, dest: Path, *, max_bytes: int | None = None,
                 max_files: int | None = None, label: str | None = None) -> Path:
    """Unpack a zip into ``dest`` (created; must not exist yet) and return ``dest``.

    Raises DataError for an unsafe or oversized archive; nothing is left behind then.
    The limits default to MAX_UNPACKED_BYTES and MAX_FILES.
    """
    max_bytes = MAX_UNPACKED_BYTES if max_bytes is None else max_bytes
    max_files = MAX_FILES if max_files is None else max_files
    where = label or zip_path.name
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{where}: not a valid zip archive ({e})") from None
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-unzip-", dir=dest.parent))
    try:
        with zf:
            infos = zf.infolist()
            if len(infos) > max_files:
                raise DataError(f"{where}: the archive holds {len(infos)} entries; at most "
                                f"{max_files} are accepted")
            members = []
            declared = 0
            for info in infos:
                name = info.filename
                if "\x00" in name:
                    raise DataError(f"{where}: an entry name holds a NUL byte; the archive is "
                                    "not safe to unpack")
                posix = name.replace("\\", "/")
                parts = PurePosixPath(posix).parts
                if (posix.startswith("/") or re.match(r"^[A-Za-z]:", posix)
                        or ".." in parts):
                    raise DataError(f"{where}: the entry {name!r} points outside the archive "
                                    "(absolute path or '..'); it is not safe to unpack")
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise DataError(f"{where}: the entry {name!r} is a symbolic link; links "
                                    "are not accepted")
                if info.flag_bits & 0x1:
                    raise DataError(f"{where}: the entry {name!r} is encrypted; upload an "
                                    "archive without a password")
                if _skip_member(parts) or not parts:
                    continue
                declared += info.file_size
                if declared > max_bytes:
                    raise DataError(f"{where}: unpacked, the archive would be larger than "
                                    f"{max_bytes // (1 << 20)} MiB; upload a smaller one")
                members.append((info, parts))
            written = 0
            root = tmp.resolve()
            for info, parts in members:
                target = tmp.joinpath(*parts)
                if not target.resolve().is_relative_to(root):
                    raise DataError(f"{where}: the entry {info.filename!r} points outside the "
                                    "archive; it is not safe to unpack")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        written += len(chunk)
                        if written > max_bytes:
                            raise DataError(f"{where}: unpacked, the archive is larger than "
                                            f"{max_bytes // (1 << 20)} MiB; upload a smaller one")
                        dst.write(chunk)
        if dest.exists():
            shutil.rmtree(tmp, ignore_errors=True)
            return dest
        os.replace(tmp, dest)
        return dest
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError,
            OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(f"{where}: the zip archive is damaged or unsupported "
                        f"({type(e).__name__}: {e})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def unpack_zip_path(path: Path) -> Path:
    """Unpack a zip given by path into ``data_dir()/unzipped/<sha256[:16]>/`` (once)."""
    dest = data_dir() / "unzipped" / file_sha256(path)[:16]
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    return safe_extract(path, dest, label=path.name)


def reword(msg: str, folder: Path, label: str) -> str:
    """A message about an unpacked copy, reworded to name the user's file instead."""
    return (msg.replace(str(folder), label).replace(f"{folder.parent.name}/{folder.name}", label)
            .replace(folder.name, label))


def load_zip_path(path: Path, load_folder) -> "object":
    """Unpack a zip given by path and load the folder with ``load_folder(folder)``.

    Messages name the zip, never the unpack folder; a zip that does not load is not kept
    unpacked (whatever the error), so refused inputs leave nothing on disk."""
    fresh = not (data_dir() / "unzipped" / file_sha256(path)[:16]).is_dir()
    folder = unpack_zip_path(path)
    try:
        return load_folder(folder)
    except DataError as e:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise DataError(reword(str(e), folder, path.name)) from None
    except BaseException:
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
        raise
