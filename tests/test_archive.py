"""Run archives: export, safe import, and the CLI -> archive -> app round trip.

Every refused archive must leave the run store exactly as it was (no run, no temporary folder),
and say what is wrong in words a person can act on.
"""
from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dcviz.runs.archive import (ArchiveError, archive_members, data_withheld, embeddings_csv,
                           embeddings_npz, export_zip, import_archive, import_run_folder)
from dcviz.runs import RunStore
from dcviz.runs.view import RunView
from pagekit import open_page, page_text

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def store_entries(store: RunStore) -> list[str]:
    """Everything in the store folder, hidden temporary folders included."""
    return sorted(p.name for p in store.root.iterdir())


def rejects(store: RunStore, data: bytes, *fragments: str, **limits) -> str:
    before = store_entries(store)
    with pytest.raises(ArchiveError) as info:
        import_archive(store, data, label="bad.zip", **limits)
    msg = str(info.value)
    for f in fragments:
        assert f.lower() in msg.lower(), msg
    assert store_entries(store) == before, "a refused archive left something in the store"
    return msg


def rezip(files: dict[str, bytes], *, symlinks: dict[str, str] | None = None,
          deflate: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            zf.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def run_files(tiny_run) -> dict[str, bytes]:
    """The tiny run's files, as archive members under the folder ``run/``."""
    return {f"run/{name}": path.read_bytes() for name, path in archive_members(tiny_run.rd.path)}


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "store")


# =========================================================================== export and import

def test_export_holds_the_run_folder(tiny_run):
    data = export_zip(tiny_run.rd.path)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    top = tiny_run.run_id
    for f in ("config.json", "status.json", "subsample.npy", "metrics.jsonl", "checkpoint.pt"):
        assert f"{top}/{f}" in names
    snaps = [n for n in names if "/snapshots/" in n]
    assert len(snaps) == tiny_run.rd.count() >= 2


def test_round_trip_gives_a_fresh_run_that_opens(tiny_run, store):
    run_id = import_archive(store, export_zip(tiny_run.rd.path), label="tiny.zip")
    assert run_id != tiny_run.run_id and run_id in store.ids()
    assert store_entries(store) == [run_id]  # no temporary folder left
    src, dst = tiny_run.view, RunView(store.open(run_id))
    assert dst.config["imported_from"] == tiny_run.run_id
    assert dst.config["run_id"] == run_id
    assert dst.config["config"] == src.config["config"] and dst.config["data"] == src.config["data"]
    assert dst.status["state"] == "done"
    assert dst.count == src.count
    assert dst.rows() == src.rows()
    np.testing.assert_array_equal(dst.subsample, src.subsample)
    for i in range(src.count):
        np.testing.assert_array_equal(dst.snapshot(i).latent, src.snapshot(i).latent)
        np.testing.assert_array_equal(dst.snapshot(i).assign, src.snapshot(i).assign)
    x = dst.dataset.x[:200]
    np.testing.assert_array_equal(dst.method.predict(x), src.method.predict(x))


def test_import_twice_gives_two_runs(tiny_run, store):
    data = export_zip(tiny_run.rd.path)
    a, b = import_archive(store, data), import_archive(store, data)
    assert a != b and set(store.ids()) == {a, b}


def test_an_imported_run_is_labelled_as_imported(tiny_run, store, monkeypatch):
    """The copy shares method, data, start time and scores with the original: only the mark
    tells them apart in every run list (issue 21). Marked once, however often it travels."""
    from dcviz.runs.labels import run_label
    original = tiny_run.rd.summary()
    first = store.open(import_archive(store, export_zip(tiny_run.rd.path)))
    assert first.read_config()["name"] == "(imported)"
    assert run_label(first.summary()) != run_label(original)
    assert run_label(first.summary()).endswith("· (imported)")
    again = store.open(import_archive(store, export_zip(first.path)))
    assert again.read_config()["name"] == "(imported)"
    files = run_files(tiny_run)
    cfg = json.loads(files["run/config.json"])
    files["run/config.json"] = json.dumps({**cfg, "name": "lecture demo"}).encode()
    named = store.open(import_archive(store, rezip(files)))
    assert named.read_config()["name"] == "lecture demo (imported)"
    # the pages' run pickers say it too
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(store.root))
    at = open_page("explore", run=named.run_id)
    assert not at.exception
    assert any("lecture demo (imported)" in o for o in at.selectbox(key="explore_run").options)


def test_files_at_the_top_level_are_accepted(tiny_run, store):
    files = {name[len("run/"):]: data for name, data in run_files(tiny_run).items()}
    run_id = import_archive(store, rezip(files))
    assert store.open(run_id).count() == tiny_run.rd.count()


def test_missing_metrics_lines_are_rebuilt_from_snapshots(tiny_run, store):
    files = run_files(tiny_run)
    del files["run/metrics.jsonl"]
    run_id = import_archive(store, rezip(files))
    rows = store.open(run_id).metrics_rows()
    assert [r["epoch"] for r in rows] == [r["epoch"] for r in tiny_run.rd.metrics_rows()]


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def test_umap_layouts_travel_with_the_run(tiny_run, store, tmp_path):
    """Explore's UMAP layouts go into the archive and come out usable on the other side, so a
    run prepared at home shows its UMAP frames in the lecture hall without the UMAP there."""
    import shutil

    from dcviz.projection import read_layouts, write_layouts

    src = tmp_path / "src"
    shutil.copytree(tiny_run.rd.path, src)  # the session's tiny run stays without layouts
    n, count = len(tiny_run.view.subsample), tiny_run.rd.count()
    layouts = np.random.default_rng(0).normal(size=(count, n, 2)).astype(np.float32)
    write_layouts(src, layouts)
    data = export_zip(src)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()[-1].endswith("/umap.npy")
    run_id = import_archive(store, data)
    np.testing.assert_array_equal(read_layouts(store.path_of(run_id), n, count), layouts)
    # listed first in a hand-made archive (unpacked before the snapshots): still kept
    files = {f"run/{k}": v for k, v in (("umap.npy", _npy(layouts)),)}
    files.update(run_files(tiny_run))
    run_id = import_archive(store, rezip(files))
    assert read_layouts(store.path_of(run_id), n, count).shape == (count, n, 2)


@pytest.mark.parametrize("bad", ["garbage", "shape", "float64", "nan", "too many"])
def test_a_bad_umap_file_is_dropped_and_the_run_still_imports(tiny_run, store, bad):
    n, count = len(tiny_run.view.subsample), tiny_run.rd.count()
    good = np.zeros((count, n, 2), np.float32)
    blob = {"garbage": b"not an array",
            "shape": _npy(np.zeros((count, n + 1, 2), np.float32)),
            "float64": _npy(good.astype(np.float64)),
            "nan": _npy(np.full_like(good, np.nan)),
            "too many": _npy(np.zeros((count + 1, n, 2), np.float32))}[bad]
    files = run_files(tiny_run)
    files["run/umap.npy"] = blob
    run_id = import_archive(store, rezip(files))
    assert not (store.path_of(run_id) / "umap.npy").exists()
    assert store.open(run_id).count() == count


def test_a_live_run_imports_as_interrupted(tiny_run, store):
    files = run_files(tiny_run)
    status = json.loads(files["run/status.json"])
    status.update(state="running", pid=os.getpid())  # a pid alive here must not matter
    files["run/status.json"] = json.dumps(status).encode()
    run_id = import_archive(store, rezip(files))
    assert store.open(run_id).read_status()["state"] == "interrupted"
    raw = store.open(run_id).read_status(raw=True)
    assert "pid" not in raw and raw["imported"] is True


def test_a_file_path_in_the_archive_is_never_followed(tiny_run, store, tmp_path):
    secret = tmp_path / "secret.npz"
    np.savez(secret, x=np.random.rand(1797, 64).astype(np.float32))
    files = run_files(tiny_run)
    cfg = json.loads(files["run/config.json"])
    cfg["data"] = {"path": str(secret)}
    files["run/config.json"] = json.dumps(cfg).encode()
    run_id = import_archive(store, rezip(files))
    view = RunView(store.open(run_id))
    assert "path" not in json.dumps(view.config["data"])
    assert view.config["data"] == {"withheld": "secret.npz"}
    assert view.dataset is None
    assert "secret.npz" in data_withheld(view.config)


def test_an_imported_file_run_exports_and_imports_again(tiny_run, store, tmp_path):
    """A run imported with its file path withheld goes on to a third machine as it came."""
    files = run_files(tiny_run)
    cfg = json.loads(files["run/config.json"])
    cfg["data"] = {"path": str(tmp_path / "secret.npz")}
    files["run/config.json"] = json.dumps(cfg).encode()
    once = import_archive(store, rezip(files))
    again = import_archive(store, export_zip(store.open(once).path))
    view = RunView(store.open(again))
    assert view.config["data"] == {"withheld": "secret.npz"}
    assert "secret.npz" in data_withheld(view.config)
    assert view.count == RunView(store.open(once)).count > 0


# =========================================================================== refused archives

def test_refuses_dot_dot_path(tiny_run, store):
    files = run_files(tiny_run)
    files["run/../../evil.txt"] = b"x"
    rejects(store, rezip(files), "'..'", "outside the run store")


def test_refuses_absolute_path(tiny_run, store):
    files = run_files(tiny_run)
    files["/tmp/dcviz-evil/config.json"] = b"{}"
    rejects(store, rezip(files), "absolute path")


def test_refuses_symlink(tiny_run, store):
    files = run_files(tiny_run)
    del files["run/status.json"]
    rejects(store, rezip(files, symlinks={"run/status.json": "/etc/passwd"}), "symbolic link")


def test_refuses_archive_larger_than_the_cap(tiny_run, store):
    data = export_zip(tiny_run.rd.path)
    rejects(store, data, "larger than", "limit", max_total_bytes=len(data) // 2)
    # unpacked size counts, not the zip's: a small zip of zeros that unpacks past the cap
    files = run_files(tiny_run)
    files["run/snapshots/000000.npz"] = files["run/snapshots/000000.npz"] + bytes(3 << 20)
    bomb = rezip(files, deflate=True)
    total = sum(len(v) for v in files.values())
    assert len(bomb) < total - (2 << 20)
    rejects(store, bomb, "larger than", max_total_bytes=total - (1 << 20))
    rejects(store, bomb, "per file", max_file_bytes=2 << 20)


def test_refuses_a_header_that_lies_about_the_size(tiny_run, store):
    files = run_files(tiny_run)
    data = bytearray(rezip(files, deflate=True))
    name = b"run/metrics.jsonl"
    true_size = len(files["run/metrics.jsonl"])
    # Patch the uncompressed size in the local header and the central directory to 10 bytes.
    for sig, size_off, name_off in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        pos = 0
        while (pos := data.find(sig, pos)) >= 0:
            n = int.from_bytes(data[pos + name_off - 4:pos + name_off - 2], "little") \
                if sig == b"PK\x03\x04" else int.from_bytes(data[pos + 28:pos + 30], "little")
            if data[pos + name_off:pos + name_off + n] == name:
                assert int.from_bytes(data[pos + size_off:pos + size_off + 4], "little") == true_size
                data[pos + size_off:pos + size_off + 4] = (10).to_bytes(4, "little")
            pos += 4
    rejects(store, bytes(data), "damaged")


class _Marker:
    """A pickled object whose unpickling would touch a file: proof that no pickled code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_refuses_checkpoint_with_pickled_objects(tiny_run, store, tmp_path):
    marker = tmp_path / "pickle-ran"
    blob = torch.load(tiny_run.rd.path / "checkpoint.pt", weights_only=True)
    blob["extra"] = _Marker(str(marker))
    buf = io.BytesIO()
    torch.save(blob, buf)
    files = run_files(tiny_run)
    files["run/checkpoint.pt"] = buf.getvalue()
    rejects(store, rezip(files), "checkpoint.pt", "pickled objects are refused")
    assert not marker.exists(), "unpickling ran code from the archive"


@pytest.mark.parametrize("when", ["unpacking", "writing the config"])
def test_a_full_disk_is_not_called_a_damaged_archive(tiny_run, store, monkeypatch, when):
    import errno

    from dcviz.runs import archive as X
    data = export_zip(tiny_run.rd.path)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(X, "_extract" if when == "unpacking" else "atomic_write_json", full)
    with pytest.raises(X.ArchiveError) as e:
        import_archive(store, data, label="tiny.zip")
    said = str(e.value)
    assert "not enough free disk space" in said and "damaged" not in said, said
    assert "nothing was kept" in said and store_entries(store) == []


def test_refuses_truncated_zip(tiny_run, store):
    data = export_zip(tiny_run.rd.path)
    rejects(store, data[: len(data) // 2], "truncated")
    rejects(store, data[:100], "truncated")


@pytest.mark.parametrize("where", ["inside", "first block"])
def test_refuses_corrupted_member(tiny_run, store, where):
    # Zeros inside the stream fail either the CRC (BadZipFile) or the inflater (zlib.error),
    # depending on the bytes; a reserved block type in the first byte always fails the inflater.
    files = run_files(tiny_run)
    data = bytearray(rezip(files, deflate=True))
    name = b"run/checkpoint.pt"
    header = data.find(name) - 30  # the local file header ends with the name and its extra field
    extra = int.from_bytes(data[header + 28:header + 30], "little")
    start = header + 30 + len(name) + extra
    if where == "inside":
        data[start + 200:start + 264] = bytes(64)
    else:
        data[start] = 0b111  # BFINAL=1, BTYPE=11: "invalid block type"
    assert "damaged" in rejects(store, bytes(data), "bad.zip")


@pytest.mark.parametrize("mutate, fragment", [
    (lambda f: f.__setitem__("run/evil.sh", b"rm -rf /"), "unexpected file"),
    (lambda f: f.__setitem__("run/snapshots/notes.txt", b"hi"), "unexpected file"),
    (lambda f: f.pop("run/config.json"), "no config.json"),
    (lambda f: f.pop("run/subsample.npy"), "no subsample.npy"),
    (lambda f: f.pop("run/snapshots/000001.npz"), "without gaps"),
    (lambda f: f.__setitem__("run/config.json", b"{not json"), "not valid JSON"),
    (lambda f: f.__setitem__("run/config.json", json.dumps(
        {**json.loads(f["run/config.json"]), "method": "no-such-method"}).encode()), "not installed"),
    (lambda f: f.__setitem__("run/config.json", json.dumps(
        {**json.loads(f["run/config.json"]), "config": {"n_clusters": -3}}).encode()), "does not fit"),
    (lambda f: f.__setitem__("run/status.json", b"[1, 2"), "status.json"),
    (lambda f: f.__setitem__("run/subsample.npy", b"garbage"), "subsample.npy"),
    (lambda f: f.__setitem__("run/snapshots/000000.npz", _pickled_npz()), "plain arrays"),
    (lambda f: f.__setitem__("run/snapshots/000000.npz", _npz(latent=np.zeros((3, 2)))), "latent"),
    (lambda f: f.__setitem__("run/checkpoint.pt", b"not a checkpoint"), "checkpoint.pt"),
])
def test_refuses_bad_contents(tiny_run, store, mutate, fragment):
    files = run_files(tiny_run)
    mutate(files)
    rejects(store, rezip(files), fragment)


def _pickled_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, latent=np.zeros((2, 2)), assign=np.array([{"a": 1}], dtype=object),
             meta=np.array("{}"))
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    meta = json.dumps({"epoch": 0, "step": 0, "stage": "x"})
    np.savez(buf, **{"assign": np.zeros(3, dtype=np.int64), "meta": np.array(meta), **arrays})
    return buf.getvalue()


def test_refuses_empty_and_non_zip(store):
    rejects(store, b"", "empty")
    rejects(store, b"hello, this is not a zip", "not a zip archive")
    rejects(store, rezip({}), "empty")
    rejects(store, rezip({"run/README": b"x"}), "unexpected file")


def test_refuses_checkpoint_of_another_method(tiny_run, store):
    files = run_files(tiny_run)
    blob = torch.load(io.BytesIO(files["run/checkpoint.pt"]), weights_only=True)
    blob["method"] = "dekm"
    buf = io.BytesIO()
    torch.save(blob, buf)
    files["run/checkpoint.pt"] = buf.getvalue()
    rejects(store, rezip(files), "checkpoint.pt is for 'dekm'")


# =========================================================================== embeddings

def test_embeddings_csv_and_npz(tiny_run):
    view = tiny_run.view
    snap = view.snapshot(-1)
    rows = list(csv.reader(io.StringIO(embeddings_csv(view, view.count - 1).decode())))
    d = snap.latent.shape[1]
    assert rows[0] == ["sample", "cluster", "label"] + [f"z{j}" for j in range(d)]
    assert len(rows) == 1 + len(view.subsample)
    assert [int(r[0]) for r in rows[1:]] == view.subsample.tolist()
    assert [int(r[1]) for r in rows[1:]] == snap.assign.tolist()
    np.testing.assert_allclose(np.array([[float(v) for v in r[3:]] for r in rows[1:]]),
                               snap.latent, rtol=1e-5, atol=1e-6)
    with np.load(io.BytesIO(embeddings_npz(view, 0)), allow_pickle=False) as z:
        np.testing.assert_array_equal(z["latent"], view.snapshot(0).latent)
        np.testing.assert_array_equal(z["sample"], view.subsample)
        np.testing.assert_array_equal(z["labels"], view.labels_sub)
        assert int(z["epoch"]) == view.snapshot(0).epoch


# =========================================================================== CLI -> archive -> app

def test_cli_run_exported_imported_opens_in_every_page(tmp_path, monkeypatch):
    """The done-when of issue 7: a run trained with the CLI in one runs folder, exported as an
    archive, imported into the app from another folder, opens in Explore, Compare and
    Checkpoints."""
    a, b = tmp_path / "A", tmp_path / "B"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "dcviz", "train", "--method", "ae-kmeans",
                          "--data", "digits", "--runs-dir", str(a), "--set", "pretrain_epochs=3"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["state"] == "done"
    archive = export_zip(result["run_dir"])

    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(b))
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page("checkpoints")
    assert not at.exception
    at.file_uploader(key="checkpoints_archive").set_value(("from-gpu.zip", archive, "application/zip"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    imported = RunStore(b).ids()
    assert len(imported) == 1
    run_id = imported[0]
    assert any(run_id in s.value for s in at.success)
    assert at.selectbox(key="checkpoints_run").value == run_id

    # Checkpoints: push the training data through the imported model
    at.button(key="checkpoints_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "10 of 10 clusters used" in page_text(at) or "clusters used" in page_text(at)
    assert len(at.get("plotly_chart")) >= 2

    # Explore
    at = open_page("explore", run=run_id)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="explore_run").value == run_id
    assert at.get("plotly_chart")

    # Compare: the imported run beside a second import of the same archive
    second = import_archive(RunStore(b), archive, label="again.zip")
    at = open_page("compare", compare_runs=[run_id, second])
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    text = page_text(at)
    assert "100.0% of the 1797 points fall in matched clusters" in text.replace("**", "")
    assert len([c for c in at.get("plotly_chart")]) >= 4


def test_display_fields_of_an_archive_are_defanged(tiny_run, store):
    """Names, data names, scores and error texts of an archive are shown by the pages: they
    must not load remote pictures through markdown, nor break the run lists."""
    files = run_files(tiny_run)
    cfg = json.loads(files["run/config.json"])
    cfg.update(name="nice ![x](http://tracker.example/p.png) <b>bold</b>",
               data_name="digits](http://x)", method_title="<script>", created="yesterday",
               tags=["ok", "<bad>", 3, "ok"], n_samples="many")
    status = json.loads(files["run/status.json"])
    status.update(state="exploded", metrics={"nmi": "high", "acc": 0.5}, seconds="long",
                  error="see ![img](http://tracker.example/e.png)")
    files["run/config.json"] = json.dumps(cfg).encode()
    files["run/status.json"] = json.dumps(status).encode()
    run_id = import_archive(store, rezip(files))
    rd = store.open(run_id)
    c, st = rd.read_config(), rd.read_status(raw=True)
    for text in (c["name"], c["data_name"], st["error"]):
        assert "](" not in text and "<" not in text and ">" not in text
    assert c["method_title"] == "AE + k-means"  # from the installed method, not the archive
    assert isinstance(c["created"], float) and c["tags"] == ["ok"] and c["n_samples"] is None
    assert st["state"] == "interrupted" and st["metrics"] == {"acc": 0.5} and "seconds" not in st
    from dcviz.runs.labels import run_label, run_table
    row = rd.summary()
    assert "nice" in run_label(row) and run_table([row])[0]["NMI"] is None  # the lists show it


def _deflated_zip_with(original: bytes, extra: dict[str, bytes]) -> bytes:
    """A zip-format file (a snapshot .npz or a checkpoint) rewritten with compressed members,
    plus ``extra`` members: small on disk, large once unpacked."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info), compress_type=zipfile.ZIP_DEFLATED)
        for name, data in extra.items():
            dst.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.mark.parametrize("member", ["snapshots/000000.npz", "checkpoint.pt"])
def test_refuses_a_file_inside_that_unpacks_past_the_limit(tiny_run, store, member):
    # a snapshot or checkpoint is a zip of its own: 3 MiB of zeros in it take a few KB of the
    # archive, so only its declared member sizes tell what loading it would allocate
    files = run_files(tiny_run)
    limit = max(len(v) for v in files.values()) + (1 << 20)  # every file as exported fits
    inner = files[f"run/{member}"]
    prefix = zipfile.ZipFile(io.BytesIO(inner)).namelist()[0].split("/")[0]
    if member.endswith(".npz"):
        npy = io.BytesIO()
        np.save(npy, np.zeros(limit, np.uint8))
        name, bomb = "x_bomb.npy", npy.getvalue()
    else:
        name, bomb = f"{prefix}/data/bomb", bytes(limit)
    files[f"run/{member}"] = _deflated_zip_with(inner, {name: bomb})
    assert len(files[f"run/{member}"]) < len(inner) + (64 << 10)
    rejects(store, rezip(files), member, "unpacks to", "limit for one file",
            max_file_bytes=limit)
    # the same file within the limit imports: the check counts bytes, it does not refuse zips
    assert import_archive(store, rezip(files), max_file_bytes=3 * limit)


def test_numbers_and_text_an_archive_brings_never_break_a_page_that_reads_them(tiny_run, store):
    """JSON allows integers of any length, any bytes and any nesting: what import lets through
    the readers (metrics lines, the pretrained-AE record) must survive."""
    from dcviz.pretrained import run_provenance
    files = run_files(tiny_run)
    huge = 10 ** 400
    lines = files["run/metrics.jsonl"].decode().splitlines()
    first = json.loads(lines[0])
    first["losses"]["reconstruction"] = huge
    lines[0] = json.dumps(first)
    cfg = json.loads(files["run/config.json"])
    assert isinstance(cfg.get("pretrained"), dict)  # the tiny run started from the store
    cfg["pretrained"].update(created=huge, seconds=huge, final_loss=[1], epochs=True,
                             entry="../../etc", summary="![x](http://tracker.example/p.png)")
    status = json.loads(files["run/status.json"])
    status["seconds"] = huge
    files["run/config.json"] = json.dumps(cfg).encode()
    files["run/status.json"] = json.dumps(status).encode()
    files["run/metrics.jsonl"] = ("\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n"
                                  + b"[" * 100_000 + b"\n")
    rd = store.open(import_archive(store, rezip(files)))
    rows = rd.metrics_rows()
    assert len(rows) == len(lines) and "reconstruction" not in rows[0]["losses"]
    record = rd.read_config()["pretrained"]
    assert record["entry"] is None and record["created"] is None and record["epochs"] is None
    assert "](" not in record["summary"]
    text = run_provenance(rd.read_config())
    assert isinstance(text, str) and text
    assert "seconds" not in rd.read_status(raw=True)
    # a nested line in the middle is refused with words, not a RecursionError
    files["run/metrics.jsonl"] = b"[" * 100_000 + b"\n" + "\n".join(lines).encode() + b"\n"
    rejects(store, rezip(files), "metrics.jsonl", "not JSON")
