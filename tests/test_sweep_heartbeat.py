"""A sweep driver's heartbeat (driver.beat), by which a driver on another machine is judged
alive or dead, and bench/sweeps.py on a sweep folder that refuses its table files.

A driver on another machine is faked: a manifest whose driver record names another host, and
a heartbeat file of that driver whose mtime is set old (killed there) or left fresh (running).
"""
from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from dcviz.runs import sweep as S
from dcviz.runs.store import atomic_write_json
from dcviz.runs.sweep import Plan, Sweep, SweepError, active, run_sweep, sync

REPO = Path(__file__).resolve().parent.parent
DATA = "blobs8:n_samples=400"
ELSEWHERE = "another-machine.example"
RUN_IDS = ["20260101-000000-ae-kmeans-00000000", "20260101-000000-ae-kmeans-00000001"]


def _sweep(root: Path, seeds=(0, 1)) -> Sweep:
    return Sweep.create(root, Plan(methods=["ae-kmeans"], data=[DATA], seeds=list(seeds),
                                   sets={"pretrain_epochs": "2"}))


def _queued_by_another_machine(sweep: Sweep, beat_age: float | None) -> dict:
    """The manifest that a driver on ELSEWHERE leaves while it runs (or after kill -9 there):
    every trial queued with a run id but no folder yet. ``beat_age``: the age of its heartbeat
    in seconds (None: it wrote none)."""
    m = sweep.read()
    for t, run_id in zip(m["trials"], RUN_IDS):
        t.update(state="queued", run_id=run_id)
    driver = {"pid": 4242, "host": ELSEWHERE, "since": time.time() - 3600}
    m["driver"] = driver
    if beat_age is not None:
        beat = sweep.path / S.HEARTBEAT
        atomic_write_json(beat, {**driver, "at": time.time() - beat_age})
        old = time.time() - beat_age
        os.utime(beat, (old, old))
    sweep.write(m)
    return m


def test_a_driver_on_another_machine_with_an_old_heartbeat_is_dead(tmp_path):
    """kill -9 of a driver on another machine: once its heartbeat is older than the limit,
    its queued trials are pending again (and the sweep is no longer active)."""
    sweep = _sweep(tmp_path)
    _queued_by_another_machine(sweep, beat_age=S.DRIVER_LOST_AFTER + 60)
    synced = sync(sweep)
    assert [t["state"] for t in synced["trials"]] == ["pending", "pending"]
    assert not active(synced)
    assert [t["state"] for t in sweep.trials()] == ["pending", "pending"]  # written down


def test_a_driver_on_another_machine_with_no_heartbeat_is_dead(tmp_path):
    sweep = _sweep(tmp_path)
    _queued_by_another_machine(sweep, beat_age=None)
    assert [t["state"] for t in sync(sweep)["trials"]] == ["pending", "pending"]


def test_a_driver_on_another_machine_with_a_fresh_heartbeat_is_alive(tmp_path):
    """A driver on another machine that beat recently is running: its trials stay queued."""
    sweep = _sweep(tmp_path)
    _queued_by_another_machine(sweep, beat_age=5)
    synced = sync(sweep)
    assert [t["state"] for t in synced["trials"]] == ["queued", "queued"]
    assert active(synced)
    # ... and a second driver does not run over it
    with pytest.raises(SweepError, match=f"being run by process 4242 on {ELSEWHERE}"):
        run_sweep(sweep, jobs=1, threads=1)
    assert [t["state"] for t in sweep.trials()] == ["queued", "queued"]


def test_a_heartbeat_of_another_driver_does_not_count(tmp_path):
    """A fresh heartbeat left by some other driver of the sweep (an earlier one) does not keep
    the one named in the manifest alive."""
    sweep = _sweep(tmp_path)
    m = _queued_by_another_machine(sweep, beat_age=5)
    m["driver"]["pid"] = 4343
    sweep.write(m)
    assert [t["state"] for t in sync(sweep)["trials"]] == ["pending", "pending"]


def test_a_driver_on_this_machine_is_still_judged_by_its_pid(tmp_path):
    """Here the pid decides, whatever the heartbeat says: a live pid with an old heartbeat is
    alive, a dead pid with a fresh heartbeat is dead."""
    import subprocess
    import sys

    sweep = _sweep(tmp_path)
    m = _queued_by_another_machine(sweep, beat_age=S.DRIVER_LOST_AFTER + 60)
    m["driver"].update(pid=os.getpid(), host=socket.gethostname())
    sweep.write(m)
    assert [t["state"] for t in sync(sweep)["trials"]] == ["queued", "queued"]

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    m["driver"]["pid"] = dead.pid
    atomic_write_json(sweep.path / S.HEARTBEAT, {**m["driver"], "at": time.time()})
    sweep.write(m)
    assert [t["state"] for t in sync(sweep)["trials"]] == ["pending", "pending"]


def test_a_running_driver_keeps_its_heartbeat_fresh_and_stops_it_at_the_end(tmp_path,
                                                                            monkeypatch):
    """While a sweep runs, driver.beat names its driver and is rewritten again and again; seen
    from another machine the driver is alive. At the end the beating thread is gone."""
    monkeypatch.setattr(S, "HEARTBEAT_EVERY", 0.01)
    sweep = _sweep(tmp_path)
    beat = sweep.path / S.HEARTBEAT
    seen = []

    def on_result(trial, result):
        first = json.loads(beat.read_text())
        for _ in range(1000):  # a later beat (every 0.01 s): not the same "at" any more
            again = json.loads(beat.read_text())
            if again["at"] != first["at"]:
                break
            time.sleep(0.01)
        m = sweep.read()
        with monkeypatch.context() as mp:  # the driver as a reader on another machine sees it
            mp.setattr(S.socket, "gethostname", lambda: ELSEWHERE)
            alive_elsewhere = S._driver_alive(m, sweep.path)
        seen.append((first, again, m["driver"], alive_elsewhere))

    assert run_sweep(sweep, jobs=1, threads=1, on_result=on_result) == {"done": 2}
    assert len(seen) == 2
    for first, again, driver, alive_elsewhere in seen:
        assert {k: first[k] for k in ("pid", "host", "since")} == driver
        assert driver["pid"] == os.getpid() and driver["host"] == socket.gethostname()
        assert again["at"] > first["at"]
        assert alive_elsewhere
    assert not any(t.name.startswith("sweep-heartbeat-") for t in threading.enumerate())
    assert sweep.read()["driver"] is None and not beat.exists()


# =========================================================================== bench/sweeps.py

def _bench_sweeps():
    spec = importlib.util.spec_from_file_location("bench_sweeps", REPO / "bench" / "sweeps.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_prints_the_table_of_a_sweep_folder_that_cannot_be_written(tmp_path, monkeypatch,
                                                                         capsys):
    """bench/sweeps.py on a sweep folder that refuses table.csv/table.md (read-only, full
    disk): the table is printed, the failed write is a warning on stderr, nothing raises."""
    from dcviz.runs import store

    bench = _bench_sweeps()
    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    args = p.parse_args(["--runs-dir", str(tmp_path), "--threads", "1"])
    plan = Plan(methods=["ae-kmeans"], data=[DATA], seeds=[0], sets={"pretrain_epochs": "2"})

    def refuse(path, data):
        if path.name.startswith("table."):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    real = store.atomic_write_bytes
    monkeypatch.setattr(store, "atomic_write_bytes", refuse)
    sweep, rows = bench.run(plan, args, "read-only")
    out, err = capsys.readouterr()
    assert len(rows) == 1 and "ae-kmeans" in out and "NMI" in out
    assert "warning: the table was not written" in err and "No space left on device" in err
    assert not (sweep.path / "table.csv").exists()
