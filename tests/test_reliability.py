"""Reliability: bad files, bad configs, bad archives and damaged run folders, as a hostile user
would try them (issue 18). For every case: a clear message (its text is asserted), no traceback
(a DataError/ConfigError/ArchiveError, or one line and an exit code from the CLI), nothing left
on disk (the upload and unpack folders and the runs folder are empty afterwards), and, for each
kind of damaged run folder, every page renders under AppTest.

Also the consistency test: 4 runs with 200 pause/resume toggles each end with disk, memory and
listing agreeing, and with their final metrics.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.runs.archive import ArchiveError, export_zip, import_archive
from dcviz.cli import main as cli_main
from dcviz.methods import BaseConfig, ConfigError, Method, param, register
from dcviz.runs import RunManager, RunStore, RunStoreError, prepare
from dcviz.runs.view import RunView
from pagekit import open_page


# =========================================================================== helpers

@pytest.fixture
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "dcviz-data"
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(home))
    D.clear_cache()
    return home


def leftovers(*folders: Path) -> list[str]:
    """Every file or folder under the given folders, hidden ones included (empty: clean)."""
    out = []
    for f in folders:
        if f.exists():
            out += [str(p.relative_to(f)) for p in f.rglob("*")
                    if p.is_file() or p.is_symlink() or (p.is_dir() and not any(p.iterdir()))
                    and p.name not in ("uploads", "unzipped")]
    return out


def npy_header_only(shape, descr="<f8") -> bytes:
    """A .npy that declares ``shape`` but holds 16 bytes: what a hostile file looks like."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": tuple(shape)})
    return buf.getvalue() + b"\0" * 16


def npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npz_members(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in members.items():
            zf.writestr(f"{k}.npy", v)
    return buf.getvalue()


def npz_bad_inflate() -> bytes:
    """A compressed npz whose member's first deflate block has the reserved type: zlib.error."""
    buf = io.BytesIO()
    np.savez_compressed(buf, x=np.random.default_rng(0).random((50, 4)))
    data = bytearray(buf.getvalue())
    extra = int.from_bytes(data[28:30], "little")
    data[30 + len("x.npy") + extra] = 0b111
    return bytes(data)


def idx(dims, body=b"", code=8) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(int(d).to_bytes(4, "big") for d in dims) + body


def png_header(w: int, h: int) -> bytes:
    """A PNG whose header declares w x h pixels and that holds no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


def png(arr) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def zip_of(entries: dict[str, bytes], *, modes: dict[str, int] | None = None,
           encrypted: set[str] = frozenset()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, data)
    raw = bytearray(buf.getvalue())
    if encrypted:  # zipfile cannot write encrypted entries: set the flag bit in the headers
        for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            at = raw.find(sig)
            while at >= 0:
                raw[at + off] |= 0x1
                at = raw.find(sig, at + 4)
    return bytes(raw)


def good_image(v=0):
    return png(np.full((8, 8), v))


def image_zip(extra: dict[str, bytes]) -> bytes:
    """A zip of an image folder with two classes, plus ``extra`` entries."""
    files = {"imgs/a/1.png": good_image(10), "imgs/a/2.png": good_image(20),
             "imgs/b/1.png": good_image(200), "imgs/b/2.png": good_image(250)}
    return zip_of({**files, **extra})


# =========================================================================== files

CSV_TEXT = b"a,b,label\n1,2,x\n3,oops,y\n"
# (case id, file name, content, fragments the message must hold)
UPLOAD_CASES = [
    ("npy-huge-header", "big.npy", npy_header_only((10**6, 10**6)), ["big.npy", "declares shape", "more than"]),
    ("npy-huge-int8", "big.npy", npy_header_only((10**5, 10**6), "|u1"), ["big.npy", "more than"]),
    ("npz-huge-member", "big.npz", npz_members(x=npy_header_only((10**7, 10**5))),
     ["big.npz", "array 'x' declares shape", "more than"]),
    ("npy-pickle", "p.npy", npy_bytes(np.array([{"a": 1}], dtype=object), True), ["p.npy", "pickle"]),
    ("npz-object-array", "o.npz", npz_bytes(x=np.array([[1], [2]], dtype=object)), ["o.npz", "pickle"]),
    ("npy-not-numpy", "t.npy", b"hello world, not numpy", ["t.npy", "not a readable NumPy"]),
    ("npz-truncated", "cut.npz", npz_bytes(x=np.ones((50, 4)))[:200], ["cut.npz"]),
    ("npy-raw-pickle", "pk.npy", b"\x80\x04K\x01.", ["pk.npy", "pickle"]),
    ("empty-file", "e.npz", b"", ["e.npz", "empty"]),
    ("unknown-type", "evil.exe", b"MZ\x90\x00", ["evil.exe", "not accepted"]),
    ("csv-text-cell", "t.csv", CSV_TEXT, ["t.csv", "not a number"]),
    ("csv-ragged", "r.csv", b"1,2,3\n4,5\n6,7,8\n", ["r.csv", "column"]),
    ("csv-binary", "b.csv", b"\x00\x01\x02" * 40, ["b.csv", "binary"]),
    ("csv-nan", "n.csv", b"1,2\nnan,3\n4,5\n", ["n.csv", "NaN"]),
    ("csv-header-only", "h.csv", b"a,b,c\n", ["h.csv", "only a header"]),
    ("npy-1d", "v.npy", npy_bytes(np.arange(10.0)), ["v.npy", "1-D"]),
    ("npy-one-sample", "s.npy", npy_bytes(np.ones((1, 5))), ["s.npy", "only 1 sample"]),
    ("npy-complex", "c.npy", npy_bytes(np.ones((4, 2), dtype=complex)), ["c.npy", "complex"]),
    ("npy-inf", "i.npy", npy_bytes(np.array([[1.0, np.inf], [2, 3]])), ["i.npy", "infinite"]),
    ("npy-text", "s2.npy", npy_bytes(np.array([["a", "b"], ["c", "d"]])), ["s2.npy", "text"]),
    ("npz-no-arrays", "z.npz", npz_members(), ["z.npz", "no arrays"]),
    ("npz-ambiguous", "a.npz", npz_bytes(p=np.ones((3, 2)), q=np.ones((3, 2))), ["a.npz", "cannot tell"]),
    ("npz-bad-inflate", "d.npz", npz_bad_inflate(), ["d.npz", "array 'x' is damaged"]),
    ("npz-label-count", "l.npz", npz_bytes(x=np.ones((10, 2)), y=np.arange(5)), ["l.npz", "5 labels but 10"]),
    ("idx-wraps-int64", "w-images-idx3-ubyte", idx([0xFFFFFFFF] * 4, b"\0" * 64),
     ["w-images-idx3-ubyte", "declares", "more than"]),
    ("idx-huge", "h-images-idx3-ubyte", idx([60000, 100000, 100000], b"\0" * 64),
     ["h-images-idx3-ubyte", "60000 x 100000 x 100000"]),
    ("idx-truncated", "t-images-idx3-ubyte", idx([10, 28, 28], b"\0" * 100), ["t-images-idx3-ubyte", "truncated"]),
    ("idx-bad-magic", "m-images-idx3-ubyte", b"\x12\x34\x56\x78" + b"\0" * 40, ["m-images-idx3-ubyte", "bad magic"]),
    ("idx-gz-damaged", "g-images-idx3-ubyte.gz", b"\x1f\x8b\x08\x00garbage" * 5, ["g-images-idx3-ubyte.gz", "gzip"]),
    ("zip-not-zip", "n.zip", b"PK\x03\x04 this is not a zip", ["n.zip", "zip"]),
    ("zip-dotdot", "d.zip", zip_of({"../evil.png": good_image()}), ["d.zip", "outside"]),
    ("zip-absolute", "abs.zip", zip_of({"/etc/evil.png": good_image()}), ["abs.zip", "outside"]),
    ("zip-symlink", "s.zip", zip_of({"imgs/a/1.png": b"/etc/passwd"},
                                    modes={"imgs/a/1.png": stat.S_IFLNK | 0o777}), ["s.zip", "symbolic link"]),
    ("zip-encrypted", "enc.zip", zip_of({"imgs/a/1.png": good_image()}, encrypted={"imgs/a/1.png"}),
     ["enc.zip", "encrypted"]),
    ("zip-png-bomb", "bomb.zip", image_zip({"imgs/a/3.png": png_header(30000, 30000)}),
     ["bomb.zip", "decompression bomb"]),
    ("zip-png-huge-header", "hh.zip", image_zip({"imgs/a/3.png": png_header(12000, 12000)}),
     ["hh.zip", "3.png is refused as a decompression bomb"]),
    ("zip-bad-image", "bad.zip", image_zip({"imgs/a/3.png": b"not a png at all"}), ["bad.zip", "cannot be read as an image"]),
    ("zip-not-image", "ni.zip", image_zip({"imgs/a/notes.txt": b"hello"}), ["ni.zip", "not an image file"]),
    ("zip-mixed-sizes", "ms.zip", image_zip({"imgs/a/3.png": png(np.zeros((9, 9)))}), ["ms.zip", "differ in size"]),
    ("zip-only-junk", "j.zip", zip_of({"__MACOSX/x.png": good_image(), ".DS_Store": b"x"}), ["j.zip", "empty"]),
    ("zip-one-image", "one.zip", zip_of({"imgs/1.png": good_image()}), ["one.zip", "expected at least 2"]),
]


@pytest.mark.parametrize("name,content,fragments", [c[1:] for c in UPLOAD_CASES],
                         ids=[c[0] for c in UPLOAD_CASES])
def test_bad_upload_is_refused_cleanly(data_home, name, content, fragments):
    with pytest.raises(D.DataError) as e:
        D.save_upload(name, content)
    msg = str(e.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    # the user's file is named, never the content-addressed copy or the unpack folder
    assert "uploads/" not in msg and "unzipped" not in msg and ".tmp" not in msg
    assert leftovers(data_home) == []


def test_zip_bomb_over_the_unpack_limit_leaves_nothing(data_home, monkeypatch):
    from dcviz.data import zips
    monkeypatch.setattr(zips, "MAX_UNPACKED_BYTES", 1 << 20)
    content = zip_of({"imgs/a/1.png": b"\0" * (2 << 20)})
    with pytest.raises(D.DataError, match="zbomb.zip: unpacked, the archive would be larger"):
        D.save_upload("zbomb.zip", content)
    assert leftovers(data_home) == []


def _in_thread(fn, timeout=30.0):
    """Run fn in a thread; the test fails (instead of hanging) if it does not return."""
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the loader hangs"
    return box


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs need a POSIX system")
def test_fifo_in_an_image_folder_is_refused_not_waited_on(tmp_path, data_home):
    folder = tmp_path / "imgs"
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
        (folder / c / "1.png").write_bytes(good_image(5))
        (folder / c / "2.png").write_bytes(good_image(9))
    os.mkfifo(folder / "a" / "3.png")
    box = _in_thread(lambda: D.load(str(folder)))
    assert isinstance(box.get("error"), D.DataError), box
    assert "3.png is not a regular file" in str(box["error"])


def test_png_bomb_in_a_folder(tmp_path, data_home):
    folder = tmp_path / "imgs" / "a"
    folder.mkdir(parents=True)
    (folder / "1.png").write_bytes(good_image())
    (folder / "2.png").write_bytes(png_header(30000, 30000))
    with pytest.raises(D.DataError, match="2.png is refused as a decompression bomb"):
        D.load(str(tmp_path / "imgs"))


def test_zip_given_by_path_names_the_zip_and_is_not_kept_unpacked(tmp_path, data_home):
    z = tmp_path / "photos.zip"
    z.write_bytes(image_zip({"imgs/a/3.png": b"broken"}))
    with pytest.raises(D.DataError) as e:
        D.load(str(z))
    assert "photos.zip" in str(e.value) and "cannot be read as an image" in str(e.value)
    assert "unzipped" not in str(e.value)
    assert leftovers(data_home) == []


def test_a_good_upload_is_kept(data_home):
    spec = D.save_upload("ok.npz", npz_bytes(x=np.random.default_rng(0).random((20, 3))))
    assert D.load(spec).n == 20  # the checks refuse what is bad, not what is good


# =========================================================================== configs, CLI, launch

@pytest.fixture
def wide_file(tmp_path):
    """A 20 x 300000 data set: loads fine, but an autoencoder on it has ~303M parameters."""
    p = tmp_path / "wide.npy"
    np.save(p, np.random.default_rng(0).random((20, 300_000), dtype=np.float32))
    return p


def cli(capsys, *argv):
    rc = cli_main(list(argv))
    err = capsys.readouterr().err.strip()
    return rc, err


CLI_CASES = [
    ("seed-above-2**64", ["--seed", str(2**64 + 1)], 2, "seed must be between 0 and 4294967295"),
    ("seed-negative", ["--seed", "-1"], 2, "seed must be between"),
    ("runs-dir-is-a-file", ["--runs-dir", "@file"], 3, "is a file, not a folder"),
    ("runs-dir-under-a-file", ["--runs-dir", "@file/sub"], 3, "cannot be created"),
    ("runs-dir-unwritable", ["--runs-dir", "/proc/self"], 3, "cannot be written"),
    ("unknown-method", ["--method", "nope"], 2, "unknown method 'nope'"),
    ("unknown-preset", ["--preset", "turbo"], 2, "unknown preset 'turbo'"),
    ("set-bad-value", ["--set", "pretrain_epochs=abc"], 2, "pretrain_epochs expects a whole number"),
    ("set-unknown-field", ["--set", "warp=9"], 2, "unknown config field(s) ['warp']"),
    ("set-no-equals", ["--set", "warp"], 2, "--set expects field=value"),
    ("k-above-n", ["--data", '{"name": "digits", "n": 5}', "--set", "n_clusters=10"], 2,
     "larger than the number of samples"),
    ("data-missing", ["--data", "/no/such/file.npz"], 2, "file not found"),
    ("data-bad-json", ["--data", '{"name": "digits",'], 2, ""),
    ("data-option-out-of-range", ["--data", '{"name": "blobs8", "n_samples": 1}'], 2, "n_samples"),
    ("model-too-big", ["--data", "@wide"], 2, "parameters, more than"),
    ("epochs-negative", ["--set", "pretrain_epochs=-3"], 2, "pretrain_epochs must be at least"),
]


@pytest.mark.parametrize("args,code,fragment", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_before_writing(tmp_path, capsys, wide_file, args, code, fragment):
    if "/proc/self" in args and not Path("/proc/self").is_dir():
        pytest.skip("needs /proc")
    runs = tmp_path / "runs"
    runs.mkdir()
    afile = tmp_path / "a-file"
    afile.write_text("x")
    argv = ["train", "--method", "dekm", "--quiet", "--runs-dir", str(runs)]
    subst = {"@file": str(afile), "@file/sub": str(afile / "sub"), "@wide": str(wide_file)}
    argv += [subst.get(a, a) for a in args]
    if "--method" in args:  # the case's own method replaces dekm
        i = argv.index("--method")
        del argv[i:i + 2]
    rc, err = cli(capsys, *argv)
    assert rc == code, err
    assert err.startswith("error: ") and fragment in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert leftovers(runs) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_device_cuda_without_cuda(tmp_path, capsys):
    runs = tmp_path / "runs"
    rc, err = cli(capsys, "train", "--method", "dekm", "--quiet", "--runs-dir", str(runs),
                  "--device", "cuda")
    assert rc == 2 and "no CUDA GPU is available" in err and len(err.splitlines()) == 1
    assert leftovers(runs) == []


LAUNCH_CASES = [
    ("seed-too-large", "digits", {"seed": 2**40}, "seed must be between"),
    ("model-too-big", "@wide", {}, "parameters, more than"),
    ("k-above-n", {"name": "digits", "n": 4}, {"n_clusters": 9}, "larger than the number of samples"),
]


@pytest.mark.parametrize("data,config,fragment", [c[1:] for c in LAUNCH_CASES], ids=[c[0] for c in LAUNCH_CASES])
def test_app_launch_refuses_before_writing(tmp_path, wide_file, data, config, fragment):
    mgr = RunManager(tmp_path / "runs")
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        mgr.launch("dekm", str(wide_file) if data == "@wide" else data, config)
    assert leftovers(tmp_path / "runs") == [] and not mgr.live


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_app_launch_device_cuda_without_cuda(tmp_path):
    mgr = RunManager(tmp_path / "runs")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        mgr.launch("dekm", "digits", {"device": "cuda"})
    assert leftovers(tmp_path / "runs") == []


def test_model_size_message_says_what_to_change(wide_file):
    ds = D.load(str(wide_file))
    with pytest.raises(ConfigError) as e:
        prepare("dekm", ds, {})
    msg = str(e.value)
    assert "300,000 input features" in msg and "M parameters" in msg
    assert "use fewer features" in msg and "smaller hidden layers" in msg


def test_run_name_is_cleaned(tmp_path):
    from dcviz.runs import create_run
    ds = D.load({"name": "digits", "n": 50})
    cls, cfg = prepare("ae-kmeans", ds, {"n_clusters": 3})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick",
                    name="line one\nline two\r\x1b[31m[link](http://x)" + "y" * 5000)
    name = rd.read_config()["name"]
    assert "\n" not in name and "\r" not in name and "\x1b" not in name
    assert len(name) == 100 and name.startswith("line one line two")


# =========================================================================== archives

def _zip_dict(members: dict[str, bytes]) -> bytes:
    return zip_of({f"run/{k}": v for k, v in members.items()})


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """The files of a tiny finished run (ae-kmeans on 300 digits, 3 snapshots, a checkpoint)."""
    from conftest import train_run
    root = tmp_path_factory.mktemp("rel-runs")
    run = train_run(root, "ae-kmeans", {"name": "digits", "n": 300},
                    {"pretrain_epochs": 2, "snapshot_every": 1, "subsample": 200, "n_clusters": 5})
    with zipfile.ZipFile(io.BytesIO(export_zip(run.rd.path))) as zf:
        return {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}


def _ckpt_with(run_files, **changes) -> bytes:
    blob = torch.load(io.BytesIO(run_files["checkpoint.pt"]), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def _cfg_with(run_files, **changes) -> bytes:
    cfg = json.loads(run_files["config.json"])
    cfg.update(changes)
    return json.dumps(cfg).encode()


def _snap(run_files, i=0, **changes) -> bytes:
    with np.load(io.BytesIO(run_files[f"snapshots/{i:06d}.npz"]), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


class _Pickled:
    def __reduce__(self):
        return (print, ("pwned",))


def _pickled_ckpt() -> bytes:
    buf = io.BytesIO()
    torch.save({"method": "ae-kmeans", "state": {}, "x": _Pickled()}, buf)
    return buf.getvalue()


# (case id, make archive bytes from the run's files, fragments of the message)
ARCHIVE_CASES = [
    ("not-a-zip", lambda f: b"hello, not a zip", ["is not a zip archive"]),
    ("empty-bytes", lambda f: b"", ["is empty"]),
    ("config-null", lambda f: _zip_dict({**f, "config.json": b"null"}), ["config.json must hold a JSON object"]),
    ("config-list", lambda f: _zip_dict({**f, "config.json": b"[]"}), ["config.json must hold a JSON object"]),
    ("config-deeply-nested", lambda f: _zip_dict({**f, "config.json": b"[" * 200_000 + b"]" * 200_000}),
     ["nested too deeply"]),
    ("config-not-json", lambda f: _zip_dict({**f, "config.json": b"{oops"}), ["config.json is not valid JSON"]),
    ("status-list", lambda f: _zip_dict({**f, "status.json": b"[]"}), ["status.json must hold a JSON object"]),
    ("status-deeply-nested", lambda f: _zip_dict({**f, "status.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000}),
     ["status.json is nested too deeply"]),
    ("missing-subsample", lambda f: _zip_dict(_without(f, "subsample.npy")), ["has no subsample.npy"]),
    ("subsample-past-config", lambda f: _zip_dict({**f, "subsample.npy": npy_bytes(np.array([0, 5000]))}),
     ["names point 5000", "300 points"]),
    ("subsample-past-real-data", lambda f: _zip_dict({**f, "config.json": _cfg_with(f, n_samples=10**6),
                                                       "subsample.npy": npy_bytes(np.arange(200) * 1000)}),
     ["names point 199000", "does not belong"]),
    ("data-size-lie", lambda f: _zip_dict({**f, "config.json": _cfg_with(f, n_samples=999)}),
     ["n_samples = 999", "does not belong"]),
    ("synthetic-too-large", lambda f: _zip_dict({**f, "config.json": _cfg_with(
        f, data={"name": "synth25", "n_samples": 200000, "noise_dims": 200})}),
     ["200,000 x 202", "cannot be opened here"]),
    ("snapshot-gap", lambda f: _zip_dict({**_without(f, "snapshots/000001.npz"),
                                          "snapshots/000005.npz": f["snapshots/000001.npz"]}),
     ["without gaps", "missing 000001"]),
    ("snapshot-zero-bytes", lambda f: _zip_dict({**f, "snapshots/000001.npz": b""}), ["snapshots/000001.npz"]),
    ("snapshot-not-npz", lambda f: _zip_dict({**f, "snapshots/000001.npz": b"plain text"}),
     ["snapshots/000001.npz cannot be read as plain arrays"]),
    ("snapshot-object-array", lambda f: _zip_dict({**f, "snapshots/000000.npz": npz_bytes(
        latent=np.zeros((200, 2)), assign=np.zeros(200, int), meta=np.array("{}"),
        x_evil=np.array([{}], dtype=object))}), ["snapshots/000000.npz"]),
    ("snapshot-wrong-rows", lambda f: _zip_dict({**f, "snapshots/000000.npz": _snap(f, latent=np.zeros((7, 2)))}),
     ["latent has shape (7, 2)"]),
    ("checkpoint-huge-input-dim", lambda f: _zip_dict({**f, "checkpoint.pt": _ckpt_with(f, input_dim=400_000, image_shape=[])}),
     ["checkpoint.pt does not rebuild", "400,000 input features", "parameters"]),
    ("checkpoint-bad-image-shape", lambda f: _zip_dict({**f, "checkpoint.pt": _ckpt_with(f, image_shape=[1, 9, 9])}),
     ["image_shape"]),
    ("checkpoint-pickle", lambda f: _zip_dict({**f, "checkpoint.pt": _pickled_ckpt()}),
     ["checkpoint.pt cannot be loaded safely"]),
    ("unknown-method", lambda f: _zip_dict({**f, "config.json": _cfg_with(f, method="nope")}),
     ["not installed here"]),
    ("symlink-entry", lambda f: zip_of({"run/config.json": b"/etc/passwd"},
                                       modes={"run/config.json": stat.S_IFLNK | 0o777}), ["symbolic link"]),
    ("dotdot-entry", lambda f: zip_of({"../config.json": f["config.json"]}), ["contains '..'"]),
    ("fifo-entry", lambda f: zip_of({"run/config.json": b""}, modes={"run/config.json": stat.S_IFIFO | 0o644}),
     ["not a plain file"]),
    ("unexpected-file", lambda f: _zip_dict({**f, "evil.sh": b"rm -rf /"}), ["unexpected file"]),
]


@pytest.mark.parametrize("make,fragments", [c[1:] for c in ARCHIVE_CASES], ids=[c[0] for c in ARCHIVE_CASES])
def test_bad_archive_is_refused_cleanly(tmp_path, run_files, make, fragments):
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ArchiveError) as e:
        import_archive(store, make(run_files), label="their-run.zip")
    msg = str(e.value)
    assert msg.startswith("their-run.zip"), msg
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    assert leftovers(store.root) == []


def test_writestr_zip_without_file_type_bits_is_accepted(tmp_path, run_files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in run_files.items():
            zf.writestr(f"run/{name}", data)  # external_attr = 0o600 << 16: no S_IFREG bits
    assert all(stat.S_IFMT(i.external_attr >> 16) == 0 for i in zipfile.ZipFile(buf).infolist())
    store = RunStore(tmp_path / "runs")
    run_id = import_archive(store, buf.getvalue(), label="plain.zip")
    assert store.open(run_id).summary()["state"] == "done"


# =========================================================================== damaged run folders

def _break(kind: str, rd_path: Path) -> None:
    snaps = rd_path / "snapshots"
    if kind == "config-null":
        (rd_path / "config.json").write_text("null")
    elif kind == "config-list":
        (rd_path / "config.json").write_text("[]")
    elif kind == "config-deeply-nested":
        (rd_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    elif kind == "config-is-a-folder":
        (rd_path / "config.json").unlink()
        (rd_path / "config.json").mkdir()
    elif kind == "status-null":
        (rd_path / "status.json").write_text("null")
    elif kind == "status-list":
        (rd_path / "status.json").write_text("[]")
    elif kind == "status-unknown-state":
        (rd_path / "status.json").write_text('{"state": "<b>hacked</b>"}')
    elif kind == "missing-subsample":
        (rd_path / "subsample.npy").unlink()
    elif kind == "subsample-2-d":
        np.save(rd_path / "subsample.npy", np.zeros((3, 3), dtype=np.int64))
    elif kind == "subsample-past-data":
        sub = np.load(rd_path / "subsample.npy")
        sub[-1] = 10**6
        np.save(rd_path / "subsample.npy", sub)
    elif kind == "snapshot-gap":
        os.replace(snaps / "000001.npz", snaps / "000004.npz")
    elif kind == "snapshot-zero-bytes":
        (snaps / "000001.npz").write_bytes(b"")
    elif kind == "snapshot-not-npz":
        (snaps / "000001.npz").write_text("not an npz")
    elif kind == "snapshot-object-array":
        with np.load(snaps / "000001.npz") as z:
            arrays = {k: z[k] for k in z.files}
        np.savez(snaps / "000001.npz", **arrays, x_evil=np.array([{}], dtype=object))
    elif kind == "snapshot-meta-not-object":
        with np.load(snaps / "000001.npz") as z:
            arrays = {k: z[k] for k in z.files}
        arrays["meta"] = np.array("[1, 2]")
        np.savez(snaps / "000001.npz", **arrays)
    else:
        raise AssertionError(kind)


DAMAGED = [
    ("config-null", "config.json holds a JSON NoneType"),
    ("config-list", "config.json holds a JSON list"),
    ("config-deeply-nested", "config.json is nested too deeply"),
    ("config-is-a-folder", "config.json is not a regular file"),
    ("status-null", "status.json holds a JSON NoneType"),
    ("status-list", "status.json holds a JSON list"),
    ("status-unknown-state", "status.json has an unknown state"),
    ("missing-subsample", "subsample.npy is missing"),
    ("subsample-2-d", "subsample.npy must be a 1-D array"),
    ("subsample-past-data", "subsample.npy names point 1000000"),
    ("snapshot-gap", "snapshot 1 is missing"),
    ("snapshot-zero-bytes", "snapshots/000001.npz is empty (0 bytes)"),
    ("snapshot-not-npz", "snapshots/000001.npz is not an npz archive"),
    ("snapshot-object-array", "holds an object array 'x_evil'"),
    ("snapshot-meta-not-object", "meta is not a snapshot record"),
]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    from conftest import train_run
    root = tmp_path_factory.mktemp("rel-good")
    return train_run(root, "ae-kmeans", {"name": "digits", "n": 300},
                     {"pretrain_epochs": 3, "snapshot_every": 1, "subsample": 200, "n_clusters": 5})


@pytest.mark.parametrize("kind,reason", DAMAGED, ids=[k for k, _ in DAMAGED])
def test_damaged_run_is_listed_deletable_and_pages_render(tmp_path, monkeypatch, good_run, kind, reason):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(good_run.root / good_run.run_id, root / good_run.run_id)
    bad_id = "20990101-000000-ae-kmeans-bad0"
    shutil.copytree(good_run.root / good_run.run_id, root / bad_id)
    _break(kind, root / bad_id)
    now = time.time()
    os.utime(root / bad_id / "config.json", (now + 60, now + 60))  # newest: pages open it first
    store = RunStore(root)

    # Listings check lightly (headers of every snapshot would cost ~1 ms each on every cold
    # listing); opening the run checks deeply, and from then on the listing knows too.
    deep_only = kind in ("snapshot-object-array", "snapshot-meta-not-object")
    rows = {r["run_id"]: r for r in store.list()}
    assert rows[good_run.run_id]["state"] == "done"
    if not deep_only:
        assert rows[bad_id]["state"] == "damaged"
        assert reason in rows[bad_id]["error"], rows[bad_id]["error"]
    with pytest.raises(RunStoreError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        RunView(store.open(bad_id))
    row = {r["run_id"]: r for r in store.list()}[bad_id]
    assert row["state"] == "damaged" and reason in row["error"], row

    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    for page in ("home", "train", "explore", "compare", "checkpoints"):
        at = open_page(page, run=bad_id if page == "explore" else None, timeout=120)
        assert not at.exception, (page, [e.value for e in at.exception])

    store.delete(bad_id)
    assert [r["run_id"] for r in store.list()] == [good_run.run_id]


def test_stale_temporary_files_are_removed_at_start_up(tmp_path, good_run):
    root = tmp_path / "runs"
    shutil.copytree(good_run.root / good_run.run_id, root / good_run.run_id)
    run = root / good_run.run_id
    stale = [run / ".status.json.1234abcd.tmp", run / ".checkpoint.pt.tmp",
             run / ".subsample.tmp.npy", run / "snapshots" / ".000009.tmp.npz",
             root / ".import-0123456789ab"]
    for p in stale[:-1]:
        p.write_bytes(b"torn")
    stale[-1].mkdir()
    (stale[-1] / "config.json").write_text("{}")
    old = time.time() - 3600
    for p in stale:
        os.utime(p, (old, old))
    fresh = run / ".metrics.tmp"  # younger than a minute: a writer may still be at it
    fresh.write_bytes(b"x")
    RunManager(root)
    assert not any(p.exists() for p in stale)
    assert fresh.exists()
    assert RunStore(root).open(good_run.run_id).summary()["state"] == "done"


# =========================================================================== consistent state

@dataclass
class _ToggleConfig(BaseConfig):
    epochs: int = param(30, "epochs", min=1)
    delay: float = param(0.002, "seconds per epoch", min=0.0)


@register
class _ToggleMethod(Method):
    """A linear map 'trained' for a few short epochs; each epoch's metric is its number, so the
    final metrics say whether they are the last snapshot's."""

    id = "_test-toggle"
    title = "toggle test"
    Config = _ToggleConfig

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        self.w = torch.nn.Linear(input_dim, 2)

    def fit(self, data, ctx):
        z = self.w(self.tensor(data.x)).detach().numpy()
        labels = (z[:, 0] > np.median(z[:, 0])).astype(int)
        for epoch in range(self.config.epochs):
            ctx.check()
            time.sleep(self.config.delay)
            yield self.make_snapshot(data, ctx, epoch=epoch, step=epoch, stage="train",
                                     labels=labels, latent_sub=z[ctx.subsample],
                                     metrics={"epoch_metric": float(epoch)},
                                     progress=(epoch + 1) / self.config.epochs)

    def embed(self, x):
        return self.w(self.tensor(x)).detach().numpy()

    def predict(self, x):
        return (self.embed(x)[:, 0] > 0).astype(int)

    def state_dict(self):
        return {"w": self.w.state_dict()}

    def load_state_dict(self, d):
        self.w.load_state_dict(d["w"])


def test_pause_resume_hammer_keeps_disk_memory_and_listing_in_agreement(tmp_path):
    """4 runs, 200 pause/resume toggles each from page-like threads, while the runs finish: at
    the end every run is "done" on disk, in memory and in the listing, with its last metrics."""
    epochs = 30
    mgr = RunManager(tmp_path / "runs", max_concurrent=4)
    ids = [mgr.launch("_test-toggle", {"name": "digits", "n": 100},
                      {"epochs": epochs, "n_clusters": 2, "seed": i}) for i in range(4)]
    seen_states: dict[str, set] = {i: set() for i in ids}

    def hammer(run_id, seed):
        rng = np.random.default_rng(seed)
        for _ in range(200):
            mgr.pause(run_id)
            seen_states[run_id].add(mgr.state(run_id))
            time.sleep(float(rng.uniform(0, 0.002)))
            mgr.resume(run_id)
            time.sleep(float(rng.uniform(0, 0.002)))

    threads = [threading.Thread(target=hammer, args=(run_id, k)) for k, run_id in enumerate(ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for run_id in ids:
        assert mgr.wait(run_id, timeout=300) == "done"
        for _ in range(5):  # late toggles, certainly after the end, change nothing
            mgr.pause(run_id)
            mgr.resume(run_id)
    rows = {r["run_id"]: r for r in mgr.runs()}
    for run_id in ids:
        rd = mgr.open(run_id)
        disk = rd.read_status(raw=True)
        assert disk["state"] == mgr.live[run_id].state == rows[run_id]["state"] == "done"
        last = rd.metrics_rows()[-1]["metrics"]
        assert disk["metrics"] == last and disk["metrics"]["epoch_metric"] == epochs - 1
        assert rows[run_id]["metrics"] == last
        assert rd.count() == epochs
    # the toggles reached every run while it trained
    assert all("paused" in s for s in seen_states.values()), seen_states


def test_a_terminal_state_is_never_overwritten(tmp_path):
    from dcviz.runs import create_run
    ds = D.load({"name": "digits", "n": 50})
    cls, cfg = prepare("ae-kmeans", ds, {"n_clusters": 3})
    rd = create_run(RunStore(tmp_path), cls, cfg, ds, "quick")
    rd.write_status("done", metrics={"nmi": 0.5})
    for late in ("paused", "running", "stopped", "failed"):
        assert rd.write_status(late)["state"] == "done"
    assert rd.read_status(raw=True)["metrics"] == {"nmi": 0.5}


# =========================================================================== checkpoints (Checkpoints page)

CHECKPOINT_CASES = [
    ("huge-input-dim", lambda f: _ckpt_with(f, input_dim=400_000, image_shape=[]),
     "400,000 input features would have"),
    ("input-dim-not-int", lambda f: _ckpt_with(f, input_dim="64"), "input_dim must be a positive integer"),
    ("not-a-checkpoint", lambda f: b"PK\x03\x04 garbage", "checkpoint.pt cannot be loaded safely"),
    ("pickled-object", lambda f: _pickled_ckpt(), "checkpoint.pt cannot be loaded safely"),
    ("state-mismatch", lambda f: _ckpt_with(f, state={"ae": {}}), "checkpoint.pt does not rebuild"),
]


@pytest.mark.parametrize("make,fragment", [c[1:] for c in CHECKPOINT_CASES],
                         ids=[c[0] for c in CHECKPOINT_CASES])
def test_bad_checkpoint_in_a_run_folder_is_one_run_store_error(tmp_path, good_run, run_files,
                                                                make, fragment):
    from dcviz import inference as I
    root = tmp_path / "runs"
    shutil.copytree(good_run.root / good_run.run_id, root / good_run.run_id)
    rd = RunStore(root).open(good_run.run_id)
    (rd.path / "checkpoint.pt").write_bytes(make(run_files))
    with pytest.raises(RunStoreError) as e:
        I.open_model(rd)
    assert good_run.run_id in str(e.value) and fragment in str(e.value), str(e.value)


def test_a_loader_slip_is_still_a_data_error_naming_the_file(tmp_path, data_home, monkeypatch):
    from dcviz.data import files

    def boom(*a, **k):
        raise MemoryError()
    monkeypatch.setattr(files, "read_npy", boom)
    p = tmp_path / "mine.npy"
    np.save(p, np.ones((4, 2)))
    with pytest.raises(D.DataError, match=r"mine.npy: cannot be loaded \(MemoryError"):
        D.load(str(p))
    with pytest.raises(D.DataError, match=r"up.npy: cannot be loaded \(MemoryError"):
        D.save_upload("up.npy", npy_bytes(np.ones((4, 2))))
    assert leftovers(data_home) == []


def test_a_running_run_checkpoints_periodically(tmp_path, monkeypatch):
    """A checkpoint every CHECKPOINT_EVERY snapshots: a run paused (or killed) after 12 of 30
    snapshots already holds a model saved at snapshot 10."""
    from dcviz.runs import engine
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", 10)
    mgr = RunManager(tmp_path / "runs", max_concurrent=1)
    run_id = mgr.launch("_test-toggle", {"name": "digits", "n": 100},
                        {"epochs": 30, "n_clusters": 2, "delay": 0.05})
    rd = mgr.open(run_id)
    end = time.time() + 120
    while rd.count() < 12 and time.time() < end:
        time.sleep(0.01)
    mgr.pause(run_id)
    blob = torch.load(rd.path / "checkpoint.pt", weights_only=True)
    assert blob["snapshots"] in (10, 20) and rd.read_status(raw=True)["state"] == "paused"
    assert rd.load_checkpoint().predict(np.zeros((2, 64), np.float32)).shape == (2,)
    mgr.resume(run_id)
    assert mgr.wait(run_id, timeout=300) == "done"
    assert torch.load(rd.path / "checkpoint.pt", weights_only=True)["snapshots"] == 30
