"""Listing the run store: every page lists it on every redraw, so a run whose files have not
changed is not read again; yet every change of a run shows in the next listing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dcviz.runs import RunStore, RunStoreError
from dcviz.runs import store as S
from dcviz.runs.archive import import_run_folder
from dcviz.runs.view import RunView
from pagekit import open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def store(tiny_run, runs_dir):
    """Three copies of the tiny run in a fresh store (DCVIZ_RUNS_DIR)."""
    s = RunStore(runs_dir)
    for _ in range(3):
        import_run_folder(s, tiny_run.rd.path)
    return s


def row(store, run_id):
    return next(r for r in store.list() if r["run_id"] == run_id)


def test_a_second_listing_reads_no_snapshot_and_no_config(store, monkeypatch):
    store.list()
    calls = []
    monkeypatch.setattr(S, "check_snapshot_file", lambda *a, **k: calls.append(a) or None)
    real_read = S.read_json_object
    monkeypatch.setattr(S, "read_json_object", lambda *a, **k: calls.append(a) or real_read(*a, **k))
    rows = store.list()
    assert len(rows) == 3 and calls == []
    # and what the rows hold is a copy: changing one changes no later listing
    rows[0]["state"], rows[0]["metrics"]["nmi"] = "zzz", -1.0
    again = store.list()[0]
    assert again["state"] == "done" and again["metrics"]["nmi"] >= 0


def test_every_change_of_a_run_shows_in_the_next_listing(store):
    a = store.ids()[0]
    rd = store.open(a)
    store.list()
    rd.update_config(name="renamed")
    assert row(store, a)["name"] == "renamed"
    rd.write_status("failed", force=True, error="boom")
    assert row(store, a)["state"] == "failed"
    # a hand edit of config.json, of the same length
    cfg_path = rd.path / "config.json"
    text = cfg_path.read_text().replace('"renamed"', '"remaned"')
    cfg_path.write_text(text)
    assert row(store, a)["name"] == "remaned"
    assert store.open(a).read_config()["name"] == "remaned"
    # a snapshot removed: a gap in the numbering
    n = row(store, a)["snapshots"]
    (rd.path / "snapshots" / "000001.npz").unlink()
    r = row(store, a)
    assert r["state"] == "damaged" and "snapshot 1 is missing" in r["error"]
    assert n > 2


def test_a_snapshot_damaged_in_place_is_listed_once_the_run_is_opened(store):
    a = store.ids()[0]
    rd = store.open(a)
    assert row(store, a)["state"] == "done"
    # An edit in place (not a write of the app's, which replaces the file) changes neither the
    # folder nor the files a listing stats: opening the run finds it, and the listing follows.
    snap = rd.path / "snapshots" / "000001.npz"
    data = bytearray(snap.read_bytes())
    with open(snap, "r+b") as f:
        f.write(b"\0" * 64)
    with pytest.raises(RunStoreError):
        RunView(rd)
    r = row(store, a)
    assert r["state"] == "damaged" and "000001.npz" in r["error"]
    snap.write_bytes(bytes(data))  # mended
    assert row(store, a)["state"] == "done"


def test_an_active_run_whose_process_dies_lists_as_interrupted(store):
    a = store.ids()[0]
    rd = store.open(a)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        status = json.loads((rd.path / "status.json").read_text())
        status.update(state="running", pid=child.pid)
        (rd.path / "status.json").write_text(json.dumps(status))
        assert row(store, a)["state"] == "running"
        assert row(store, a)["state"] == "running"
    finally:
        child.kill()
        child.wait()
    # no file changed: only the process is gone
    assert row(store, a)["state"] == "interrupted"


def test_compare_opens_only_the_runs_it_shows(store, monkeypatch):
    a, b, c = store.ids()
    opened = []
    real_init = RunView.__init__

    def init(self, rd):
        opened.append(rd.run_id)
        real_init(self, rd)

    monkeypatch.setattr(RunView, "__init__", init)
    at = open_page("compare", runs=f"{a},{b}")
    assert not at.exception
    assert set(opened) == {a, b}
    # the third is still offered
    assert c in at.multiselect(key="compare_runs").options or any(
        c[-4:] in o for o in at.multiselect(key="compare_runs").options)


def test_listing_a_run_folder_with_odd_files_stays_light(store):
    a = store.ids()[0]
    rd = store.open(a)
    (rd.path / "snapshots" / "notes.txt").write_text("a note")  # not a snapshot name
    r = row(store, a)
    assert r["state"] == "done"
    os.remove(rd.path / "snapshots" / "notes.txt")
    assert row(store, a)["state"] == "done"


def test_a_latent_read_alone_is_the_snapshots_and_is_checked(store):
    import numpy as np
    rd = store.open(store.ids()[0])
    for i in (0, 2, -1):
        assert np.array_equal(rd.load_latent(i), rd.load_snapshot(i).latent)
    with pytest.raises(RunStoreError, match="snapshots 0.."):
        rd.load_latent(rd.count())
    (rd.path / "snapshots" / "000002.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(RunStoreError, match="000002.npz"):
        rd.load_latent(2)


def test_a_snapshot_of_other_points_than_the_subsample_is_found_after_a_plain_read(store):
    import numpy as np
    rd = store.open(store.ids()[0])
    rd.load_snapshot(1)  # checked once without the subsample's size: the check is kept
    sub = np.load(rd.path / "subsample.npy")
    np.save(rd.path / "subsample.npy", sub[:-5])
    problem = rd.check()
    assert problem and "000000.npz covers" in problem and f"has {len(sub) - 5}" in problem


def test_compare_names_a_chosen_run_that_lists_well_but_cannot_be_opened(store):
    from pagekit import page_text
    a, b, _ = store.ids()
    # a zip header, so the listing's light check passes; opening the run reads it and fails
    (store.root / b / "snapshots" / "000001.npz").write_bytes(b"PK\x03\x04 and then nothing")
    assert row(store, b)["state"] == "done"
    at = open_page("compare", runs=f"{a},{b}")
    assert not at.exception
    text = page_text(at)
    assert "Cannot open" in text and b[-4:] in " ".join(e.value for e in at.error)
