"""kill -9 at five moments, then resume: any method on digits (issue 18's crash check).

    python bench/crash.py                          # dekm and dcrl, quick preset, seed 0
    python bench/crash.py --methods dekm --jobs 6 --out /tmp/crash
    python bench/crash.py --methods dcn,acedec --jobs 2

Any method: "pretraining" is MLC's warm-up, and the GAN, which has no such phase, skips it.

For each method, one uninterrupted run, then one run per moment, killed with SIGKILL at that
moment and resumed with ``python -m dcviz resume RUN_DIR``:

- pretraining: at a random point of a pretraining epoch, two thirds of the way through it;
- clustering: at a random point of an epoch (iteration) half-way through the clustering phase;
- mid-snapshot: half-way through writing a clustering snapshot (its temporary file torn);
- mid-checkpoint: half-way through writing the run's second checkpoint (torn);
- after-checkpoint: just after the run's first checkpoint is in place.

The last three are hit exactly by bench/holdpoint.py (the run sleeps there and is killed). The
table gives, per run: the snapshots written when it was killed, the checkpoint it went on from,
the snapshots lost (written after the checkpoint, so made again), whether any file failed to
load after the kill (torn), the state and snapshot count at the end, the largest difference of
any snapshot's latent coordinates from the uninterrupted run's, and the final NMI of both.
The issue asks: every run completes, no file is torn, at most one checkpoint interval
(CHECKPOINT_EVERY = 10 snapshots, or 60 s) is lost, and |dNMI| <= 0.02.

Every run pretrains for real (pretrained=off) on one thread, with a snapshot every pretraining
epoch (snapshot_every=1: the quick presets' 20 epochs would otherwise make 5 snapshots, fewer
than a checkpoint interval, and a kill in pretraining would always start again from epoch 0;
snapshots draw no random numbers, so training is the preset's); --jobs runs that many at once.
Processor seconds of all the runs are printed at the end (wall times depend on the load).

Measured (2026-11-30, quick presets, seed 0, 2 jobs on a 2-core CPU at load 9-23): 10 of 10
runs complete, no file torn, snapshots lost at the kill 4/7/1/10/0 (DEKM: pretraining,
clustering, mid-snapshot, mid-checkpoint, after-checkpoint) and 4/1/6/10/0 (DCRL), every
snapshot of every resumed run equal to the uninterrupted run's (max |dz| = 0), final NMI
0.7917 (DEKM, 53 snapshots) and 0.8190 (DCRL, 51) resumed and uninterrupted alike (dNMI 0);
693 processor s in all.
Measured (2026-12-01, ``--methods dcn,acedec --jobs 2``, quick presets, seed 0): 10 of 10 runs
complete, no file torn, snapshots lost 4/1/8/10/0 (DCN) and 4/2/0/10/0 (ACe/DeC), max |dz| = 0
for every run, final NMI 0.7593 (DCN, 42 snapshots) and 0.7772 (ACe/DeC, 48) resumed and
uninterrupted alike; 413 processor s in all. ``--methods mlc,gan``: 9 of 9 runs complete (the
GAN has no "pretraining" row), no file torn, lost 0/3/1/6/0 (MLC) and 0/3/1/0 (GAN), max |dz| = 0
for every run, final NMI 0.8466 (MLC, 31 snapshots) and 0.4154 (GAN, 41) resumed and
uninterrupted alike; 1,073 processor s in all.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dcviz.methods import get_method  # noqa: E402
from dcviz.runs import RunStore  # noqa: E402
from dcviz.runs.engine import CHECKPOINT_EVERY  # noqa: E402

HOLD = ROOT / "bench" / "holdpoint.py"
MOMENTS = ("pretraining", "clustering", "mid-snapshot", "mid-checkpoint", "after-checkpoint")


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def train_args(method: str, args, runs: Path) -> list[str]:
    names = fields(method)  # --set fields a method lacks (snapshot_every: GAN, MLC) skip it
    sets = [a for kv in args.set or [] if kv.split("=", 1)[0] in names for a in ("--set", kv)]
    if "pretrained" in names:  # an AE method pretrains for real, not from the store
        sets = ["--set", "pretrained=off", *sets]
    return ["train", "--method", method, "--data", args.data, "--seed", str(args.seed),
            "--preset", args.preset, *sets, "--runs-dir", str(runs), "--quiet"]


def fields(method: str) -> set[str]:
    return {f["name"] for f in get_method(method).Config.fields_info()}


def last_json(text: str) -> dict:
    lines = [ln for ln in text.strip().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def the_run(runs: Path):
    store = RunStore(runs)
    ids = store.ids()
    return store.open(ids[0]) if ids else None


def torn_files(rd) -> list[str]:
    """The run's files that do not load: snapshots (with numbering) and the checkpoint."""
    bad = []
    problem = rd.check(deep=True)
    if problem:
        bad.append(problem)
    for i in range(rd.count()):
        try:
            rd.load_snapshot(i)
        except Exception as e:  # noqa: BLE001 - any failure is a torn file
            bad.append(f"snapshot {i}: {e}")
    if rd.has_checkpoint():
        try:
            torch.load(rd.path / "checkpoint.pt", weights_only=True)
        except Exception as e:  # noqa: BLE001
            bad.append(f"checkpoint: {e}")
    return bad


def pretrain_snapshots(method: str, args) -> int:
    """Snapshot 0 and those of the first phase: an AE method's pretraining, MLC's warm-up (one
    snapshot an epoch); 1 for the GAN, which has no such phase."""
    sets = dict(kv.split("=", 1) for kv in args.set or [])
    names = fields(method)
    cfg = get_method(method).Config.from_preset(
        args.preset, **{k: v for k, v in sets.items() if k in names})
    if "pretrain_epochs" in names:
        e, every = cfg.pretrain_epochs, cfg.snapshot_every
        return 1 + e // every + (1 if e % every else 0)
    return 1 + getattr(cfg, "warmup_epochs", 0)


def moments_of(method: str, args) -> tuple[str, ...]:
    """The GAN has no first phase to be killed in."""
    return MOMENTS if pretrain_snapshots(method, args) > 1 else MOMENTS[1:]


def run_reference(method: str, args, out: Path) -> dict:
    runs = out / method / "uninterrupted"
    p = subprocess.run([sys.executable, "-m", "dcviz", *train_args(method, args, runs)],
                       cwd=ROOT, env=env(), capture_output=True, text=True)
    res = last_json(p.stdout)
    rd = the_run(runs)
    return {"method": method, "rd": rd, "count": rd.count() if rd else 0,
            "nmi": (res.get("metrics") or {}).get("nmi"), "state": res.get("state"),
            "error": p.stderr.strip().splitlines()[-1] if p.returncode else ""}


def kill_timed(p: subprocess.Popen, runs: Path, target: int, rng: random.Random) -> str:
    """Kill ``p`` at a random point of the epoch after snapshot ``target`` - 1 is written."""
    while p.poll() is None:
        rd = the_run(runs)
        if rd is not None and rd.count() >= target:
            times = [m["time"] for m in rd.metrics_rows()[-2:]]
            gap = times[-1] - times[0] if len(times) == 2 else 1.0
            time.sleep(rng.uniform(0.1, 0.9) * max(gap, 0.05))
            p.send_signal(signal.SIGKILL)
            p.wait()
            return ""
        time.sleep(0.05)
    return "the run ended before the kill"


def kill_held(p: subprocess.Popen, marker: Path) -> str:
    while p.poll() is None and not marker.exists():
        time.sleep(0.05)
    if not marker.exists():
        return "the run ended before the moment"
    p.send_signal(signal.SIGKILL)
    p.wait()
    return ""


def scenario(method: str, moment: str, ref: dict, args, out: Path) -> dict:
    runs, marker = out / method / moment, out / method / f"{moment}.held"
    n_pre = pretrain_snapshots(method, args)
    n_cluster = max(ref["count"] - n_pre, 1)
    hold = {"mid-snapshot": f"tmp-snapshot:{n_pre + max(n_cluster // 3, 1)}",
            "mid-checkpoint": "tmp-checkpoint:2",
            "after-checkpoint": "after-checkpoint:1"}.get(moment, "none")
    p = subprocess.Popen([sys.executable, str(HOLD), hold, str(marker), "0", "--",
                          *train_args(method, args, runs)], cwd=ROOT, env=env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rng = random.Random(f"{args.seed}-{method}-{moment}")
    if moment == "pretraining":
        problem = kill_timed(p, runs, max(2, 2 * n_pre // 3), rng)
    elif moment == "clustering":
        problem = kill_timed(p, runs, n_pre + n_cluster // 2, rng)
    else:
        problem = kill_held(p, marker)
    row = {"method": method, "moment": moment, "problem": problem}
    rd = the_run(runs)
    if problem or rd is None:
        return {**row, "problem": problem or "no run folder"}
    state_after_kill = rd.read_status()["state"]
    killed_at = rd.count()
    ckpt = (torch.load(rd.path / "checkpoint.pt", weights_only=True)
            if rd.has_checkpoint() else None)
    from_snapshot = ckpt["snapshots"] if ckpt and ckpt.get("resume") else 0
    torn = torn_files(rd)
    q = subprocess.run([sys.executable, "-m", "dcviz", "resume", str(rd.path), "--quiet"],
                       cwd=ROOT, env=env(), capture_output=True, text=True)
    res = last_json(q.stdout)
    diff = float("nan")
    if rd.count() == ref["count"]:
        diff = max(float(np.abs(rd.load_snapshot(i).latent - ref["rd"].load_snapshot(i).latent).max())
                   for i in range(rd.count()))
    return {**row, "after_kill": state_after_kill, "killed_at": killed_at,
            "from": from_snapshot, "lost": killed_at - from_snapshot, "torn": torn,
            "torn_after_resume": torn_files(rd), "state": res.get("state"),
            "exit": q.returncode, "snapshots": rd.count(), "ref_snapshots": ref["count"],
            "max_latent_diff": diff, "nmi": (res.get("metrics") or {}).get("nmi"),
            "ref_nmi": ref["nmi"],
            "error": q.stderr.strip().splitlines()[-1] if q.returncode and q.stderr.strip() else ""}


def fmt(v, spec=".4f") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="dekm,dcrl", help="comma-separated method ids")
    ap.add_argument("--moments", default=",".join(MOMENTS), help="comma-separated moments")
    ap.add_argument("--preset", default="quick", help="config preset of every run")
    ap.add_argument("--seed", type=int, default=0, help="seed of every run")
    ap.add_argument("--data", default="digits", help="data set of every run (train's --data)")
    ap.add_argument("--set", action="append", metavar="FIELD=VALUE",
                    help="config field of every run; default snapshot_every=1 (see above)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once")
    ap.add_argument("--out", default=None, help="folder for the runs (default: a new temp folder)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args()
    args.set = args.set or ["snapshot_every=1"]
    methods, moments = args.methods.split(","), args.moments.split(",")
    out = Path(args.out or tempfile.mkdtemp(prefix="dcviz-crash-"))
    os.environ.setdefault("DCVIZ_CACHE_DIR", str(out / "pretrained-cache"))
    print(f"runs in {out}; checkpoint every {CHECKPOINT_EVERY} snapshots or 60 s; "
          f"{args.jobs} at once; load average {os.getloadavg()[0]:.1f}", flush=True)
    t0 = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        refs = dict(zip(methods, pool.map(lambda m: run_reference(m, args, out), methods)))
        for m, ref in refs.items():
            print(f"{m}: uninterrupted {ref['state']}, {ref['count']} snapshots, NMI "
                  f"{fmt(ref['nmi'])} {ref['error']}", flush=True)
        jobs = [(m, mo) for m in methods for mo in moments
                if refs[m]["state"] == "done" and mo in moments_of(m, args)]
        rows = list(pool.map(lambda j: scenario(j[0], j[1], refs[j[0]], args, out), jobs))
    head = ("method", "moment", "killed at", "from ckpt", "lost", "torn", "state", "snapshots",
            "max |dz|", "NMI resumed", "NMI uninterrupted", "dNMI")
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        if r.get("problem"):
            print(f"| {r['method']} | {r['moment']} | {r['problem']} |")
            continue
        d = (r["nmi"] - r["ref_nmi"]) if r["nmi"] is not None and r["ref_nmi"] is not None else None
        print("| " + " | ".join([
            r["method"], r["moment"], str(r["killed_at"]), str(r["from"]), str(r["lost"]),
            str(len(r["torn"]) + len(r["torn_after_resume"])), str(r["state"]),
            f"{r['snapshots']}/{r['ref_snapshots']}", fmt(r["max_latent_diff"], ".2g"),
            fmt(r["nmi"]), fmt(r["ref_nmi"]), fmt(d, "+.4f")]) + " |")
        for t in r["torn"] + r["torn_after_resume"]:
            print(f"    torn: {t}")
        if r["error"]:
            print(f"    resume: {r['error']}")
    ok = [r for r in rows if not r.get("problem")]
    passed = [r for r in ok if r["state"] == "done" and not r["torn"] and not r["torn_after_resume"]
              and r["lost"] <= CHECKPOINT_EVERY and r["nmi"] is not None
              and abs(r["nmi"] - r["ref_nmi"]) <= 0.02]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\n{len(passed)} of {len(rows)} runs meet the issue's four points; "
          f"{time.time() - t0:.0f} s wall, {cpu.ru_utime + cpu.ru_stime:.0f} processor s "
          f"(all runs); load average {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: v for k, v in r.items()} for r in rows], indent=1, default=str))


if __name__ == "__main__":
    main()
