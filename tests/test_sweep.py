"""Sweeps on this machine: the plan, the manifest, resuming, failures, the papers' table, the CLI.

Every trial is tiny (blobs8 of 400 points, 2 pretraining epochs): the tests check the sweep's
bookkeeping, not the methods' quality.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcviz.runs import RunStore
from dcviz.runs.sweep import (Plan, Sweep, SweepError, list_sweeps, parse_grid, parse_seeds,
                              run_sweep, split_items)
from dcviz.runs.table import collect, columns, to_csv, to_markdown, to_text, write_tables

REPO = Path(__file__).resolve().parent.parent
DATA = "blobs8:n_samples=400"
TINY = {"pretrain_epochs": "2", "max_iter": "2"}


def _plan(**kw) -> Plan:
    base = dict(methods=["ae-kmeans", "dekm"], data=[DATA], seeds=[0, 1], sets=dict(TINY))
    return Plan(**{**base, **kw})


def _run_folders(root: Path) -> list[str]:
    return RunStore(root).ids()


def test_parsing():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0-2,7,1") == [0, 1, 2, 7]
    with pytest.raises(SweepError):
        parse_seeds("a-b")
    assert split_items("digits,synth25:noise_std=1.9,scale=standardized,blobs8") == [
        "digits", "synth25:noise_std=1.9,scale=standardized", "blobs8"]
    assert split_items(['{"name": "blobs8", "n_samples": 40}', "dec,dcn:lam=0.1"]) == [
        '{"name": "blobs8", "n_samples": 40}', "dec", "dcn:lam=0.1"]
    assert parse_grid(["lam=0.1,1,10"]) == {"lam": ["0.1", "1", "10"]}


def test_plan_is_checked_before_anything_is_written(tmp_path):
    with pytest.raises(SweepError, match="no method of this sweep has"):
        Sweep.create(tmp_path, _plan(sets={"pretrain_epochz": "2"}))
    with pytest.raises(ValueError, match="must be at least"):
        Sweep.create(tmp_path, _plan(sets={"pretrain_epochs": "-1"}))
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())
    assert _run_folders(tmp_path) == []


def test_grid_and_variants_expand_per_method(tmp_path):
    plan = _plan(methods=["ae-kmeans", "dekm:max_iter=3"], seeds=[0],
                 grid={"max_iter": ["1", "2"]})
    sweep = Sweep.create(tmp_path, plan)
    trials = sweep.trials()
    # ae-kmeans has no max_iter: one trial, not two identical ones; dekm runs at both values,
    # the grid point winning over the variant's own value
    assert [(t["method_label"], t["point"]) for t in trials] == [
        ("ae-kmeans", {}), ("dekm:max_iter=3", {"max_iter": "1"}), ("dekm:max_iter=3", {"max_iter": "2"})]
    assert all(t["config"]["n_clusters"] == 8 for t in trials)  # k from the data's classes
    assert [t["config"].get("max_iter") for t in trials] == [None, "1", "2"]
    assert "max_iter" not in trials[0]["config"]
    # the same plan is the same sweep; another plan under that name is refused
    assert Sweep.create(tmp_path, plan).sweep_id == sweep.sweep_id
    with pytest.raises(SweepError, match="another plan"):
        Sweep.create(tmp_path, _plan(seeds=[5]), name=sweep.sweep_id)


def test_sweep_runs_resumes_and_tables(tmp_path):
    sweep = Sweep.create(tmp_path, _plan())
    seen = []
    counts = run_sweep(sweep, jobs=1, threads=1, on_result=lambda t, r: seen.append(t["id"]))
    assert counts == {"done": 4}
    assert sorted(seen) == ["0000", "0001", "0002", "0003"]
    trials = sweep.trials()
    ids = [t["run_id"] for t in trials]
    assert sorted(ids) == sorted(_run_folders(tmp_path))
    for t in trials:
        cfg = RunStore(tmp_path).open(t["run_id"]).read_config()
        assert cfg["sweep"] == {"id": sweep.sweep_id, "trial": t["id"]}
        assert cfg["seed"] == t["seed"] and cfg["method"] == t["method"]
    assert sweep.read()["driver"] is None

    # run again: nothing is redone
    assert run_sweep(sweep, jobs=1, threads=1, on_result=lambda t, r: seen.append(t)) == {"done": 4}
    assert len(seen) == 4 and [t["run_id"] for t in sweep.trials()] == ids

    rows = collect(sweep)
    assert [(r.method, r.data, r.seeds) for r in rows] == [
        ("ae-kmeans", DATA, [0, 1]), ("dekm", DATA, [0, 1])]
    cols = columns(rows)
    assert cols[:3] == ["acc", "nmi", "ari"] and cols[-1] == "seconds"
    for r in rows:
        status = [RunStore(tmp_path).open(i).read_status() for i in r.run_ids]
        nmis = [s["metrics"]["nmi"] for s in status]
        med, lo, hi = r.stat("nmi")
        assert (lo, hi) == (min(nmis), max(nmis)) and lo <= med <= hi
        assert r.values["seconds"] == [s["seconds"] for s in status]
    text = to_text(rows)
    assert "ae-kmeans" in text and "NMI" in text and "median [min, max]" in text
    paths = write_tables(sweep, rows)
    csv_text = Path(paths["csv"]).read_text()
    assert csv_text == to_csv(rows) and csv_text.splitlines()[0].startswith(
        "method,data,grid,seeds,not_done,acc_median,acc_min,acc_max,nmi_median")
    assert Path(paths["md"]).read_text() == to_markdown(rows)
    assert Path(paths["csv"]).parent == sweep.manifest_path.parent
    assert [s["sweep_id"] for s in list_sweeps(tmp_path)] == [sweep.sweep_id]


def test_a_failed_trial_is_marked_and_the_others_go_on(tmp_path, monkeypatch):
    from dcviz.methods.ae_kmeans import AEKMeans

    real_fit = AEKMeans.fit

    def fit(self, data, ctx):
        if self.config.seed == 1:
            raise RuntimeError("boom on seed 1")
        yield from real_fit(self, data, ctx)

    monkeypatch.setattr(AEKMeans, "fit", fit)
    sweep = Sweep.create(tmp_path, _plan())
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 3, "failed": 1}
    failed = [t for t in sweep.trials() if t["state"] == "failed"]
    assert [(t["method"], t["seed"]) for t in failed] == [("ae-kmeans", 1)]
    assert "boom on seed 1" in failed[0]["error"]
    rows = collect(sweep)
    assert rows[0].seeds == [0] and rows[0].not_done[0][:2] == (1, "failed")
    assert "not done: ae-kmeans" in to_text(rows) and "1 not done" in to_text(rows)

    # mended, the sweep is run again: only the failed trial runs, into a fresh folder
    monkeypatch.setattr(AEKMeans, "fit", real_fit)
    before = {t["id"]: t["run_id"] for t in sweep.trials()}
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 4}
    after = {t["id"]: t["run_id"] for t in sweep.trials()}
    changed = [i for i in before if before[i] != after[i]]
    assert changed == [failed[0]["id"]]
    assert sorted(_run_folders(tmp_path)) == sorted(after.values())  # the failed folder is gone


def test_ray_missing_says_how_to_install(tmp_path, monkeypatch, capsys):
    from dcviz import cli
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = cli.main(["sweep", "--methods", "ae-kmeans", "--data", DATA, "--seeds", "0",
                     "--runs-dir", str(tmp_path), "--ray", "auto"])
    assert code != 0
    assert "pip install -r requirements-ray.txt" in capsys.readouterr().err
    assert _run_folders(tmp_path) == []


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "dcviz", *args]


def test_ray_archive_without_ray_is_refused(tmp_path, capsys):
    from dcviz import cli
    code = cli.main(["sweep", "--methods", "ae-kmeans", "--data", DATA, "--seeds", "0",
                     "--runs-dir", str(tmp_path), "--ray-archive"])
    assert code == cli.EXIT_BAD_INPUT
    assert "--ray-archive goes with --ray" in capsys.readouterr().err
    assert _run_folders(tmp_path) == []


def test_a_reader_that_goes_away_is_not_an_internal_error():
    """`python -m dcviz methods | head -1`: stdout's reader closes first."""
    read, write = os.pipe()
    os.close(read)
    try:
        out = subprocess.run(_cli("methods"), cwd=REPO, stdout=write, stderr=subprocess.PIPE,
                             text=True, timeout=120)
    finally:
        os.close(write)
    assert out.returncode == 141, out.stderr
    assert "internal error" not in out.stderr and "Traceback" not in out.stderr


def test_cli_sweep_killed_half_way_resumes_without_redoing_trials(tmp_path):
    """The issue's check: 2 methods x 2 data sets x 2 seeds with --jobs 2, killed after the first
    trial is done, then started again; then `table` prints the 2 x 2 table."""
    runs = tmp_path / "runs"
    args = ["sweep", "--methods", "ae-kmeans,dekm", "--data", f"{DATA},blobs8:n_samples=240",
            "--seeds", "0-1", "--jobs", "2", "--set", "pretrain_epochs=2", "--set", "max_iter=2",
            "--runs-dir", str(runs), "--name", "resume"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    manifest = runs / "sweeps" / "resume" / "sweep.json"
    proc = subprocess.Popen(_cli(*args), cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 600
        done_before: dict[str, str] = {}
        while time.time() < deadline and proc.poll() is None:
            if manifest.exists():
                trials = json.loads(manifest.read_text())["trials"]
                done_before = {t["id"]: t["run_id"] for t in trials if t["state"] == "done"}
                if done_before:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert done_before, "no trial finished within the time limit"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers (its own group)
        proc.wait()
    assert len(done_before) < 8  # killed half-way

    out = subprocess.run(_cli(*args), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["counts"] == {"done": 8}
    trials = json.loads(manifest.read_text())["trials"]
    assert all(t["state"] == "done" for t in trials)
    for tid, run_id in done_before.items():  # finished trials were not redone
        t = next(t for t in trials if t["id"] == tid)
        assert t["run_id"] == run_id and t["attempts"] == 1
    assert sorted(_run_folders(runs)) == sorted(t["run_id"] for t in trials)  # 8 folders
    assert f"{len(done_before)} done before" in out.stderr

    table = subprocess.run(_cli("table", str(manifest.parent)), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    body = [line.split()[:3] for line in lines[2:6]]
    assert body == [["ae-kmeans", DATA, "2"], ["dekm", DATA, "2"],
                    ["ae-kmeans", "blobs8:n_samples=240", "2"], ["dekm", "blobs8:n_samples=240", "2"]]
    assert (manifest.parent / "table.csv").exists() and (manifest.parent / "table.md").exists()


def test_a_sweep_whose_runs_train_elsewhere_is_not_run_over(tmp_path):
    """A trial's run still training in another process (the app's Compare methods) is never
    deleted and trained again by a second driver."""
    from dcviz.runs.store import atomic_write_json

    sweep = Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], seeds=[0],
                                         sets={"pretrain_epochs": "2"}))
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 1}
    run_id = sweep.trials()[0]["run_id"]
    status = tmp_path / run_id / "status.json"
    atomic_write_json(status, {**json.loads(status.read_text()), "state": "running",
                               "pid": os.getpid()})
    with pytest.raises(SweepError, match="still training"):
        run_sweep(sweep, jobs=1, threads=1)
    assert (tmp_path / run_id / "config.json").exists()
    assert sweep.read()["driver"] is None


def test_cli_refuses_a_runs_folder_that_is_a_file_and_bad_seeds(tmp_path, capsys):
    from dcviz import cli
    afile = tmp_path / "afile"
    afile.write_text("x")
    base = ["sweep", "--methods", "ae-kmeans", "--data", DATA]
    assert cli.main([*base, "--runs-dir", str(afile)]) == cli.EXIT_RUNS_DIR
    assert cli.main([*base, "--seeds", "a-b", "--runs-dir", str(tmp_path / "r")]) == cli.EXIT_BAD_INPUT
    assert "seeds" in capsys.readouterr().err
    assert _run_folders(tmp_path / "r") == []


def test_cli_on_a_full_disk_says_so_and_the_sweep_goes_on_later(tmp_path, capsys, monkeypatch):
    """Out of disk, the CLI says so (exit 3), not 'internal error'; run again with room, the
    sweep goes on to its end."""
    import errno

    from dcviz import cli
    from dcviz.runs import sweep as S
    real = S.atomic_write_json
    full = {"on": True}

    def write(path, obj):
        if full["on"] and path.name == "sweep.json" and (obj.get("driver") or {}):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, obj)
    monkeypatch.setattr(S, "atomic_write_json", write)
    args = ["sweep", "--methods", "ae-kmeans", "--data", DATA, "--seeds", "0-1", "--set",
            "pretrain_epochs=2", "--set", "pretrained=off", "--runs-dir", str(tmp_path / "r")]
    assert cli.main(args) == cli.EXIT_RUNS_DIR
    err = capsys.readouterr().err
    assert "the disk is full" in err and "sweep.json" in err and "internal error" not in err
    full["on"] = False
    assert cli.main(args) == cli.EXIT_OK
    assert '"done": 2' in capsys.readouterr().out


def test_trials_get_distinct_run_ids_even_when_the_random_part_repeats(tmp_path, monkeypatch):
    # the ids of one sweep are handed out within one second: when two draws repeat, the second
    # trial must get another id, not the first one's folder (and later its results)
    from dcviz.runs import store
    draws = iter(["0000beef", "0000beef", "0000beef", "1111cafe", "2222f00d", "3333d00d",
                  "4444abcd"])
    monkeypatch.setattr(store, "_run_id_token", lambda: next(draws))
    counts = run_sweep(Sweep.create(tmp_path, _plan()), jobs=1, threads=1)
    assert counts == {"done": 4}
    assert len(_run_folders(tmp_path)) == 4


@pytest.mark.parametrize("cut", [KeyboardInterrupt, RuntimeError])
def test_a_driver_cut_off_leaves_no_trial_queued(tmp_path, cut):
    """Ctrl-C (or an error) after the first trial: the trials that never reported back are
    pending again, not queued for ever; the sweep runs on to its end when started again."""
    from dcviz.runs.sweep import active, sync

    sweep = Sweep.create(tmp_path, _plan())

    def stop(trial, result):
        raise cut("cut off")

    with pytest.raises(cut):
        run_sweep(sweep, jobs=1, threads=1, on_result=stop)
    m = sweep.read()
    assert m["driver"] is None
    assert [t["state"] for t in m["trials"]] == ["done", "pending", "pending", "pending"]
    assert not active(sync(sweep))
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 4}
    assert sorted(_run_folders(tmp_path)) == sorted(t["run_id"] for t in sweep.trials())


def test_sync_sets_queued_trials_of_a_dead_driver_back_to_pending(tmp_path):
    """A driver killed with kill -9 leaves its trials queued, with run ids but no folders;
    sync() and active() see that no one will run them."""
    import socket

    from dcviz.runs.sweep import active, sync

    sweep = Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], sets={"pretrain_epochs": "2"}))
    m = sweep.read()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for i, t in enumerate(m["trials"]):
        t.update(state="queued", run_id=f"20260101-000000-ae-kmeans-0000000{i}")
    m["driver"] = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    sweep.write(m)
    assert active(sync(sweep))  # a live driver: its trials are still to come
    m["driver"]["pid"] = dead.pid
    sweep.write(m)
    synced = sync(sweep)
    assert [t["state"] for t in synced["trials"]] == ["pending", "pending"]
    assert not active(synced) and [t["state"] for t in sweep.trials()] == ["pending", "pending"]


def test_ray_that_cannot_connect_is_a_clear_error_before_any_trial_is_queued(tmp_path, monkeypatch,
                                                                             capsys):
    """ray.init is called before the trials are marked queued, and its ConnectionError is a
    SweepError (exit 2 from the CLI), not an internal error with the trials left queued."""
    ray = pytest.importorskip("ray")
    from dcviz import cli

    def refuse(**kwargs):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(ray, "init", refuse)
    sweep = Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], sets={"pretrain_epochs": "2"}))
    with pytest.raises(SweepError, match="Ray: cannot connect"):
        run_sweep(sweep, ray="127.0.0.1:1")
    m = sweep.read()
    assert m["driver"] is None and all(t["state"] == "pending" and t["run_id"] is None
                                       for t in m["trials"])
    code = cli.main(["sweep", "--methods", "ae-kmeans", "--data", DATA, "--seeds", "0",
                     "--set", "pretrain_epochs=2", "--runs-dir", str(tmp_path), "--ray", "auto"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT and "Ray: cannot connect" in err and "internal" not in err
    assert _run_folders(tmp_path) == []


def test_ray_on_this_machine_stays_on_the_loopback_address(tmp_path, monkeypatch):
    """A local address joins as node 127.0.0.1 with no dashboard, and Ray's rewriting of
    127.0.0.1 to the machine's network address is off while it connects (and restored after)."""
    ray = pytest.importorskip("ray")
    import ray._private.ray_constants as ray_constants

    seen = []

    def init(**kwargs):
        seen.append((kwargs, ray_constants.ENABLE_RAY_CLUSTER,
                     os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")))
        raise ConnectionError("no cluster here")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    sweep = Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], sets={"pretrain_epochs": "2"}))
    for address in ("127.0.0.1:6379", "localhost:6379", "auto"):
        with pytest.raises(SweepError):
            run_sweep(sweep, ray=address)
    assert len(seen) == 3
    for kwargs, flag, env in seen:
        assert kwargs["_node_ip_address"] == "127.0.0.1" and kwargs["include_dashboard"] is False
        assert flag is False and env == "0"
    assert ray_constants.ENABLE_RAY_CLUSTER is True
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ
    # a cluster on other machines is joined as Ray does it
    seen.clear()
    with pytest.raises(SweepError):
        run_sweep(sweep, ray="10.1.2.3:6379")
    assert "_node_ip_address" not in seen[0][0] and seen[0][1] is True


def test_pool_workers_end_when_the_driver_is_killed(tmp_path):
    """kill -9 of a --jobs driver: its pool workers end too, instead of living on as orphans."""
    code = ("import os, sys, time\n"
            "from dcviz.runs.sweep import _process_pool\n"
            "if __name__ == '__main__':\n"
            "    pool = _process_pool(2, 1)\n"
            "    pids = {pool.submit(os.getpid).result() for _ in range(8)}\n"
            "    print(' '.join(map(str, pids)), flush=True)\n"
            "    time.sleep(600)\n")
    script = tmp_path / "driver.py"
    script.write_text(code)
    proc = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
    def running(pid: int) -> bool:  # alive and not a zombie waiting to be reaped
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    alive: list[int] = []
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert workers and proc.pid not in workers
        alive = workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 30
        while alive and time.time() < deadline:
            time.sleep(0.5)
            alive = [p for p in alive if running(p)]
        assert alive == [], "pool workers outlived their driver"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in alive:  # only when the test failed: the orphans it made
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def test_a_grid_field_with_no_value_and_repeated_items(tmp_path, capsys):
    """--grid f= (or f=,) is an error, never a plan of zero trials that exits 0; a method, data
    set, seed or grid value given twice is one trial, so no seed counts twice in the table."""
    from dcviz import cli

    for bad in (["max_iter="], ["max_iter=,"], ["max_iter= , "]):
        with pytest.raises(SweepError, match="at least one value"):
            parse_grid(bad)
    assert parse_grid(["max_iter=1,2,1"]) == {"max_iter": ["1", "2"]}
    with pytest.raises(SweepError, match="no value"):
        Sweep.create(tmp_path, _plan(grid={"max_iter": []}))
    assert not (tmp_path / "sweeps").exists() or not any((tmp_path / "sweeps").iterdir())
    code = cli.main(["sweep", "--methods", "dekm", "--data", DATA, "--seeds", "0",
                     "--grid", "max_iter=", "--runs-dir", str(tmp_path)])
    assert code == cli.EXIT_BAD_INPUT and "max_iter" in capsys.readouterr().err
    plan = Plan(methods=["ae-kmeans", "ae-kmeans"], data=[DATA, DATA], seeds=[0, 0],
                sets={"pretrain_epochs": "2"})
    trials = Sweep.create(tmp_path, plan).trials()
    assert [(t["method"], t["data_label"], t["seed"]) for t in trials] == [("ae-kmeans", DATA, 0)]


def test_threads_cpus_below_one_and_unbounded_seeds_are_refused(tmp_path, capsys):
    """--threads 0 / --cpus 0 exit 2 with a message before anything is written; a seed range
    past 2**32-1 or of more than 10,000 seeds is refused before its list is built."""
    from dcviz import cli

    base = ["sweep", "--methods", "ae-kmeans", "--data", DATA, "--seeds", "0",
            "--runs-dir", str(tmp_path)]
    for opt in (["--threads", "0"], ["--cpus", "0"], ["--threads", "-2"], ["--jobs", "0"]):
        assert cli.main([*base, *opt]) == cli.EXIT_BAD_INPUT
        assert f"{opt[0]} must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "sweeps").exists()
    with pytest.raises(SweepError, match="at least 1"):
        run_sweep(Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], seeds=[0],
                                               sets={"pretrain_epochs": "2"})), threads=0)
    t0 = time.time()
    for bad in ("0-99999999999999", "4294967296", "0-10000", "0-5000,6000-11000", "5-3"):
        with pytest.raises(SweepError, match="seeds"):
            parse_seeds(bad)
    with pytest.raises(SweepError, match="seeds"):
        parse_seeds([2**40])
    assert time.time() - t0 < 5
    assert parse_seeds("0-9999")[-1] == 9999 and parse_seeds(f"{2**32 - 1}") == [2**32 - 1]


def test_table_of_a_sweep_folder_that_cannot_be_written(tmp_path, monkeypatch, capsys):
    """`table` on a read-only sweep folder prints the table, warns that table.csv/.md were not
    written, and exits 0 (not 4, 'internal error')."""
    import errno

    from dcviz import cli
    from dcviz.runs import store

    sweep = Sweep.create(tmp_path, _plan(methods=["ae-kmeans"], seeds=[0],
                                         sets={"pretrain_epochs": "2"}))
    assert run_sweep(sweep, jobs=1, threads=1) == {"done": 1}

    def refuse(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(store, "atomic_write_bytes", refuse)
    assert cli.main(["table", str(sweep.path)]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert "ae-kmeans" in out and "NMI" in out
    assert "warning: the table was not written" in err and "Permission denied" in err
    assert "internal error" not in err and not (sweep.path / "table.csv").exists()
