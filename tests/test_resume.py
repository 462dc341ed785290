"""Resuming a killed run from its last checkpoint (issue 18, item 6).

- One DEKM run trained by the CLI is killed with SIGKILL five times, at five moments (during
  pretraining, mid-snapshot write, mid-checkpoint write, during clustering, just after a
  checkpoint), each time resumed by ``python -m dcviz resume``; it ends with the same
  snapshots and metrics as an uninterrupted run with the same seed, and nothing on disk is
  torn. The moments are hit exactly by bench/holdpoint.py, which patches the writes in the
  child process and waits there to be killed.
- DCRL, DEC, DCN, ACe/DeC and AE + k-means resumed in-process end exactly where
  uninterrupted runs end.
- The checks that refuse: a finished run, a method that cannot resume, a path that is not a
  run folder; the run manager and the Explore page's Resume button.

bench/crash.py is the full-size version (digits, quick presets, NMI table).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dcviz import data as D
from dcviz.cli import main as cli_main
from dcviz.methods import ConfigError
from dcviz.runs import RunManager, RunStore, RunStoreError, create_run, execute, prepare
from dcviz.runs import engine
from dcviz.runs.engine import prepare_resume
from dcviz.runs.store import TEMP_RE

ROOT = Path(__file__).resolve().parents[1]
DATA = {"name": "digits", "n": 200}
EVERY = 3  # the checkpoint interval (snapshots) of these tests
DEKM = {"pretrain_epochs": 12, "snapshot_every": 2, "max_iter": 12, "min_iter": 100,
        "batch_size": 64, "pretrained": "off", "n_clusters": 10, "seed": 3}

# bench/holdpoint.py runs the CLI with one write patched: at the moment it is given it leaves a
# marker file and sleeps there, to be killed exactly at that moment
HOLD = ROOT / "bench" / "holdpoint.py"


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _kill_at(tmp_path: Path, moment: str, *cli_args) -> None:
    """Run the CLI until ``moment``, then SIGKILL it there."""
    marker = tmp_path / "held"
    marker.unlink(missing_ok=True)
    p = subprocess.Popen([sys.executable, str(HOLD), moment, str(marker), str(EVERY), "--",
                          *cli_args], cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        end = time.time() + 240
        while not marker.exists() and p.poll() is None and time.time() < end:
            time.sleep(0.02)
        assert marker.exists(), f"never reached {moment}: {p.poll()} {p.stderr.read()[-2000:]}"
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


def _nothing_torn(rd) -> None:
    """Every snapshot and the checkpoint load; the numbers have no gap."""
    assert rd.check(deep=True) is None
    for i in range(rd.count()):
        rd.load_snapshot(i)
    if rd.has_checkpoint():
        torch.load(rd.path / "checkpoint.pt", weights_only=True)


def _temps(rd) -> list[str]:
    return [f.name for d in (rd.path, rd.path / "snapshots") for f in d.iterdir()
            if TEMP_RE.match(f.name)]


def _reference(tmp_path, method, config):
    ds = D.load(DATA)
    cls, cfg = prepare(method, ds, config, "quick")
    rd = create_run(RunStore(tmp_path / "ref"), cls, cfg, ds, "quick")
    assert execute(rd, cls, cfg, ds)["state"] == "done"
    return rd


def _same_run(rd, ref) -> None:
    """The same snapshots (bit for bit), metrics lines and final metrics as ``ref``."""
    assert rd.count() == ref.count()
    for i in range(ref.count()):
        a, b = ref.load_snapshot(i), rd.load_snapshot(i)
        assert (a.epoch, a.stage) == (b.epoch, b.stage)
        np.testing.assert_array_equal(a.latent, b.latent, err_msg=f"snapshot {i}")
        np.testing.assert_array_equal(a.assign, b.assign)
    assert [r["index"] for r in rd.metrics_rows()] == list(range(ref.count()))
    assert rd.read_status()["metrics"]["nmi"] == pytest.approx(ref.read_status()["metrics"]["nmi"],
                                                               abs=1e-9)


def test_dekm_killed_at_five_moments_resumes_to_the_same_run(tmp_path):
    ref = _reference(tmp_path, "dekm", DEKM)
    # 7 pretraining snapshots (epochs 0, 2, ..., 12), then 12 clustering iterations
    assert [ref.load_snapshot(i).stage for i in (6, 7)] == ["pretrain", "clustering"]
    runs = tmp_path / "runs"
    sets = [a for k, v in DEKM.items() for a in ("--set", f"{k}={v}")]
    _kill_at(tmp_path, "snapshot:4", "train", "--method", "dekm", "--data", json.dumps(DATA),
             "--runs-dir", str(runs), "--quiet", *sets)
    store = RunStore(runs)
    (run_id,) = store.ids()
    rd = store.open(run_id)
    assert store.list()[0]["state"] == "interrupted"
    assert rd.count() == 5  # killed in pretraining, 2 snapshots after the checkpoint at 3
    # resumed 4 times and killed again, then resumed to the end; checkpoints every 3 snapshots
    # of each process: lost (snapshots made again) 2 = 5 - 3, then 1 = 7 - 6 (torn snapshot 7),
    # 3 = 9 - 6 (the checkpoint at 9 torn: the one at 6 holds), 2 = 14 - 12, 0 = 15 - 15
    moments = ["tmp-snapshot:7", "tmp-checkpoint:1", "snapshot:13", "after-checkpoint:1"]
    lost = []
    for moment in [*moments, None]:
        _nothing_torn(rd)
        lost.append(rd.count() - torch.load(rd.path / "checkpoint.pt",
                                            weights_only=True)["snapshots"])
        if moment is None:
            break
        _kill_at(tmp_path, moment, "resume", str(rd.path), "--quiet")
        assert store.list()[0]["state"] == "interrupted", moment
        assert bool(_temps(rd)) == moment.startswith("tmp-"), (moment, _temps(rd))  # torn temps
    p = subprocess.run([sys.executable, "-m", "dcviz", "resume", str(rd.path), "--quiet"],
                       cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["state"] == "done"
    assert not _temps(rd)  # resuming removed the torn writes' temporary files
    _nothing_torn(rd)
    _same_run(rd, ref)
    assert lost == [2, 1, 3, 2, 0] and max(lost) <= EVERY  # at most one interval each time
    resumes = rd.read_status()["resumes"]
    assert [(r["dropped"], r["from_checkpoint"]) for r in resumes] == [(n, True) for n in lost]


class _Kill(BaseException):
    """Stands in for SIGKILL in-process: nothing after it runs (status stays "running")."""


def _kill_after(index):
    def on_snapshot(i, snap):
        if i == index:
            raise _Kill()
    return on_snapshot


@pytest.mark.parametrize("method, config, kills", [
    ("dcrl", {"pretrain_epochs": 4, "snapshot_every": 1, "epochs": 10, "warmup_epochs": 1,
              "hidden": "64,64", "init": "kmeans", "pretrained": "off", "n_clusters": 10}, (3, 11)),
    ("dec", {"pretrain_epochs": 4, "snapshot_every": 1, "epochs": 6, "hidden": "64,64",
             "pretrained": "off", "n_clusters": 10, "update_interval": 2}, (7,)),
    # in pretraining, in the warm-up rounds (back to pretraining's), just after the
    # initialisation, in clustering
    ("acedec", {"pretrain_epochs": 4, "snapshot_every": 1, "cluster_epochs": 7, "init_rounds": 3,
                "warmup_epochs": 1, "pretrained": "off", "n_clusters": 10, "batch_size": 64,
                "checkpoint_every": 2}, (4, 7, 10, 14)),
    ("gan", {"steps": 40, "steps_per_epoch": 5, "batch_size": 32, "mlp_width": 32,
             "n_clusters": 10}, (4, 7)),
    ("mlc", {"warmup_epochs": 4, "epochs": 5, "batch_size": 64, "n_clusters": 10}, (3, 7)),
    ("ae-kmeans", {"pretrain_epochs": 9, "snapshot_every": 1, "pretrained": "off",
                   "n_clusters": 10}, (4, 8)),  # twice in pretraining
    # killed in pretraining, then just after its k-means init, then in clustering
    ("dcn", {"pretrain_epochs": 4, "snapshot_every": 1, "cluster_epochs": 8,
             "pretrained": "off", "n_clusters": 10, "batch_size": 64}, (4, 7, 12)),
])
def test_resumed_in_process_ends_as_uninterrupted(tmp_path, monkeypatch, method, config, kills):
    """Killed in pretraining and in clustering, resumed each time: the same run."""
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    ref = _reference(tmp_path, method, config)
    ds = D.load(DATA)
    cls, cfg = prepare(method, ds, config, "quick")
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(kills[0]))
    for k in (*kills[1:], None):
        plan = prepare_resume(rd, interrupted=True)  # our own pid is alive: we say it
        # ACe/DeC's warm-up rounds take no checkpoint, so a kill there loses them too
        lost = rd.count() - plan.start
        assert plan.checkpoint is not None and lost <= EVERY + config.get("init_rounds", 0)
        if k is None:
            assert execute(rd, cls, cfg, ds, resume=plan)["state"] == "done"
        else:
            with pytest.raises(_Kill):
                execute(rd, cls, cfg, ds, resume=plan, on_snapshot=_kill_after(k))
    _same_run(rd, ref)


def test_resume_refuses_what_it_cannot_resume(tmp_path, capsys, monkeypatch):
    """A finished run, a method that cannot resume, a run killed before its first checkpoint
    (it starts again), and paths that are no run folders."""
    ds = D.load(DATA)
    done = _reference(tmp_path, "ae-kmeans", {"pretrain_epochs": 2, "n_clusters": 10})
    assert cli_main(["resume", str(done.path)]) == 2
    assert "is done; there is nothing to resume" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="nothing to resume"):
        prepare_resume(done)

    cls, cfg = prepare("mlc", ds, {"n_clusters": 10}, "quick")
    mlc = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    with monkeypatch.context() as m:  # every method resumes today; one that could not says so
        m.setattr(cls, "resumable", False)
        with pytest.raises(ConfigError, match="cannot resume"):
            prepare_resume(mlc, interrupted=True)

    cls, cfg = prepare("dekm", ds, DEKM, "quick")
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(1))  # before any checkpoint
    plan = prepare_resume(rd, interrupted=True)
    assert (plan.checkpoint, plan.start, plan.dropped) == (None, 0, 2)

    for bad in (tmp_path / "nowhere", tmp_path, done.path / "snapshots"):
        assert cli_main(["resume", str(bad)]) == 2
        assert "not a run folder" in capsys.readouterr().err
    # a run id of the runs folder is taken as its folder (export takes ids too)
    assert cli_main(["resume", done.run_id, "--runs-dir", str(done.path.parent)]) == 2
    assert "is done; there is nothing to resume" in capsys.readouterr().err
    assert cli_main(["resume", "20261201-000000-dekm-0000", "--runs-dir",
                     str(done.path.parent)]) == 2
    assert "nor a run id" in capsys.readouterr().err
    (done.path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RunStoreError, match="checkpoint.pt cannot be loaded"):
        prepare_resume(done, interrupted=True)


def test_manager_resumes_an_interrupted_run(tmp_path, monkeypatch):
    """A run of this process whose thread is gone is interrupted; the manager resumes it in a
    thread, once (a second call is refused), and it ends done with all its snapshots."""
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    mgr = RunManager(tmp_path / "runs", max_concurrent=1)
    ds = D.load(DATA)
    config = {**DEKM, "pretrain_epochs": 4, "max_iter": 4}
    cls, cfg = prepare("dekm", ds, config, "quick")
    rd = create_run(mgr.store, cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(4))
    assert mgr.is_interrupted(rd.run_id)
    assert next(r for r in mgr.runs() if r["run_id"] == rd.run_id)["state"] == "interrupted"
    mgr.resume_interrupted(rd.run_id)
    assert not mgr.is_interrupted(rd.run_id)
    with pytest.raises(ConfigError, match="still"):
        mgr.resume_interrupted(rd.run_id)
    assert mgr.wait(rd.run_id, timeout=300) == "done"
    assert rd.count() == 3 + 4 and rd.check(deep=True) is None  # epochs 0, 2, 4 + 4 iterations
    assert rd.read_status()["resumes"][0]["dropped"] == 2


def test_explore_offers_resume_on_an_interrupted_run(tmp_path, monkeypatch, runs_dir, app):
    """Explore shows "Resume" on an interrupted run, with help; pressing it resumes the run
    through the app's manager, and the Train page shows it."""
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    ds = D.load(DATA)
    config = {**DEKM, "pretrain_epochs": 4, "max_iter": 3}
    cls, cfg = prepare("dekm", ds, config, "quick")
    rd = create_run(RunStore(runs_dir), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(4))
    at = app("explore", run=rd.run_id)
    assert not at.exception
    button = next(b for b in at.button if b.label == "Resume")
    assert "last checkpoint" in button.help and not button.disabled
    button.click().run()
    assert not at.exception
    from ui.shared import manager
    mgr = manager()
    assert rd.run_id in mgr.live
    assert mgr.wait(rd.run_id, timeout=300) == "done"
    assert rd.count() == 3 + 3


def test_train_page_lists_a_cut_off_run_with_resume(tmp_path, monkeypatch, runs_dir, app):
    """After a crash the Train page names the cut-off run, and its Resume carries it on."""
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    at = app("train")
    assert not at.exception
    assert not any(h.value == "Cut off mid-training" for h in at.subheader)  # none yet
    ds = D.load(DATA)
    cls, cfg = prepare("dekm", ds, {**DEKM, "pretrain_epochs": 4, "max_iter": 3}, "quick")
    rd = create_run(RunStore(runs_dir), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(4))
    at = app("train")
    assert not at.exception
    assert any(h.value == "Cut off mid-training" for h in at.subheader)
    card = next(m.value for m in at.markdown if "DEKM" in m.value and "5 snapshots" in m.value)
    assert rd.run_id in card  # which run: two cut-off DEKM runs on one data set differ here
    button = next(b for b in at.button if b.label == "Resume")
    assert not button.disabled
    button.click().run()
    assert not at.exception
    from ui.shared import manager
    assert manager().wait(rd.run_id, timeout=300) == "done"
    assert rd.count() == 3 + 3


def test_a_checkpoint_from_pretraining_is_flagged(tmp_path, monkeypatch, runs_dir, app):
    """A run killed while its AE pretrained has a checkpoint with no clusters yet: Checkpoints
    says so before anyone pushes data through it; resumed to its end, the warning is gone."""
    from dcviz import inference as I
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    ds = D.load(DATA)
    cls, cfg = prepare("dekm", ds, DEKM, "quick")
    rd = create_run(RunStore(runs_dir), cls, cfg, ds, "quick")
    with pytest.raises(_Kill):  # at pretraining epoch 8 of 12, its checkpoint from before
        execute(rd, cls, cfg, ds, on_snapshot=_kill_after(4))
    model = I.open_model(rd)
    assert model.phase == "pretrain" and model.last_stage == "pretrain"
    assert model.before_clustering
    at = app("checkpoints", run=rd.run_id)
    assert not at.exception
    assert any("still pretraining" in w.value for w in at.warning)
    assert execute(rd, cls, cfg, ds, resume=prepare_resume(rd, interrupted=True))["state"] == "done"
    model = I.open_model(rd)
    assert not model.before_clustering and model.last_stage != "pretrain"
    at = app("checkpoints", run=rd.run_id)
    assert not at.exception and not any("still pretraining" in w.value for w in at.warning)


def _disk_fills(monkeypatch, after: int, what: str = "append_snapshot", unless=()):
    """RunDir's ``what`` raises ENOSPC, as on a full disk, once ``after`` snapshots are on disk
    (but not for a first argument in ``unless``); returns a switch that frees the disk again."""
    import errno

    from dcviz.runs.store import RunDir
    full = {"on": True}
    real = getattr(RunDir, what)

    def write(self, *a, **k):
        if full["on"] and self.count() >= after and not (a and a[0] in unless):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *a, **k)
    monkeypatch.setattr(RunDir, what, write)
    return full


def test_a_full_disk_cuts_the_run_off_and_it_resumes_once_there_is_room(tmp_path, monkeypatch,
                                                                        runs_dir, app):
    """Out of disk mid-run, the run is not failed for good (a failed run cannot resume) and not
    left 'running' for ever: it reads as cut off, says why on the Train page, and Resume carries
    it on from its last checkpoint once there is room."""
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    from ui.shared import manager
    mgr = manager()
    config = {**DEKM, "pretrain_epochs": 4, "max_iter": 3}
    room = _disk_fills(monkeypatch, after=5)
    run_id = mgr.launch("dekm", DATA, config)
    assert mgr.wait(run_id, timeout=300) == "interrupted"
    rd = mgr.open(run_id)
    # not marked failed (a failed run cannot resume), nor left running: status.json says why
    status = rd.read_status()
    assert rd.count() == 5 and status["state"] == "interrupted" and "is full" in status["error"]
    assert "full" in mgr.live[run_id].error and mgr.is_interrupted(run_id)
    at = app("train")
    assert not at.exception
    assert any("is full" in w.value and "Free some space" in w.value for w in at.warning)
    room["on"] = False
    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception
    assert mgr.wait(run_id, timeout=300) == "done"
    assert rd.count() == 3 + 3 and rd.check(deep=True) is None


def test_a_disk_full_before_the_first_write_leaves_no_run_running(tmp_path, monkeypatch, capsys):
    """The run's own first status write fails (full disk): the manager's thread says so instead
    of dying with the run shown running; the CLI says how to go on, with exit code 1."""
    mgr = RunManager(tmp_path / "runs", max_concurrent=1)
    _disk_fills(monkeypatch, after=0, what="write_status", unless=("queued",))
    run_id = mgr.launch("dekm", DATA, {**DEKM, "pretrain_epochs": 2, "max_iter": 2})
    assert mgr.wait(run_id, timeout=300) == "interrupted"
    assert "full" in mgr.live[run_id].error
    monkeypatch.undo()
    _disk_fills(monkeypatch, after=2)
    code = cli_main(["train", "--method", "dekm", "--data", json.dumps(DATA), "--runs-dir",
                     str(tmp_path / "cli"), "--quiet", *[f"--set={k}={v}" for k, v in
                                                          {**DEKM, "max_iter": 2}.items()]])
    assert code == 1
    err = capsys.readouterr().err
    assert "is full" in err and "python -m dcviz resume" in err and "internal error" not in err


def test_a_run_folder_that_cannot_be_made_whole_is_not_left_half_made(tmp_path, monkeypatch):
    """create_run fails part-way (here np.save's short write, an OSError with no errno, on a full
    disk): the half-made folder is removed, so that it does not list as a run of no state, and
    a full disk is said as such."""
    from dcviz import safeio
    from dcviz.runs.store import RunDir
    store = RunStore(tmp_path / "runs")
    ds = D.load(DATA)
    cls, cfg = prepare("ae-kmeans", ds, {"pretrain_epochs": 2}, "quick")

    def short_write(self, idx):
        raise OSError("1797 requested and 1520 written")
    monkeypatch.setattr(RunDir, "write_subsample", short_write)
    with pytest.raises(OSError) as e:
        create_run(store, cls, cfg, ds, "quick")
    assert "1797 requested" in str(e.value) and store.ids() == []  # disk not full: as it is
    monkeypatch.setattr(safeio, "_free_bytes", lambda where: 0)
    with pytest.raises(safeio.DiskFull, match="is full: free some space"):
        create_run(store, cls, cfg, ds, "quick")
    assert store.ids() == [] and list((tmp_path / "runs").iterdir()) == []


def test_a_checkpoint_that_finds_the_disk_full_stops_the_run_and_leaves_no_temp(tmp_path,
                                                                               monkeypatch):
    """A periodic checkpoint on a full disk: its half-written temp file is removed (it would
    hold the space the disk lacks), and the run is cut off there rather than training on with
    no checkpoint; with room, it resumes to the end."""
    import errno

    from dcviz.runs import store as S
    monkeypatch.setattr(engine, "CHECKPOINT_EVERY", EVERY)
    real, full = S.write_file, {"on": True}

    def write_file(path, data):
        real(path, bytes(data)[: len(data) // 2])
        if full["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)
    monkeypatch.setattr(S, "write_file", write_file)
    ds = D.load(DATA)
    cls, cfg = prepare("dekm", ds, {**DEKM, "pretrain_epochs": 4, "max_iter": 3}, "quick")
    rd = create_run(RunStore(tmp_path / "runs"), cls, cfg, ds, "quick")
    status = execute(rd, cls, cfg, ds)
    assert status["state"] == "interrupted" and "is full" in status["error"]
    assert rd.count() == EVERY and not (rd.path / ".checkpoint.pt.tmp").exists()
    assert rd.read_status()["state"] == "interrupted"  # cut off, said so on disk; not failed
    full["on"] = False
    assert execute(rd, cls, cfg, ds, resume=prepare_resume(rd, interrupted=True))["state"] == "done"
    assert rd.count() == 3 + 3
