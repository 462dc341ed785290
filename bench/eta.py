"""How good is the time-left estimate (dcviz/runs/eta.py)? Replay finished runs.

For every finished run in the given run stores, the estimate is recomputed as the page would
have shown it at each snapshot (only the snapshots before that moment known), and compared with
the time the run really had left. Printed per run: its duration, and the estimate's error at the
snapshots nearest 25 %, 50 % and 75 % of the run's wall time, plus the worst error from the
halfway point to 97 % (past that, a few seconds of error are a large share of what is left).

    python bench/eta.py runs /tmp/other-runs

On a shared machine a run's pace follows the others' load, which no estimate can foresee. So
``train`` runs the quick presets of the issue's methods on digits, one after the other in this
process (with a fresh pretrained-AE store, so pretraining really runs), and records this
process's CPU clock at every snapshot beside the wall clock. The replay then prints a second
table on the CPU clock: what the estimate does on a machine whose load is steady.

    OMP_NUM_THREADS=1 nice python bench/eta.py train /tmp/eta-bench [dekm,dcrl,gan] [digits]
    python bench/eta.py /tmp/eta-bench/runs
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcviz.runs import RunStore  # noqa: E402
from dcviz.runs.eta import progress_points, time_left  # noqa: E402


def replay(rows: list[dict], started: float, ended: float) -> list[tuple[float, float | None]]:
    """(fraction of wall time, relative error of the estimate) at each snapshot."""
    pts = progress_points(rows, started)
    total = ended - started
    out = []
    for k in range(1, len(pts)):
        now = pts[k][0]
        truth = ended - now
        est = time_left(pts[:k + 1], now)
        err = None if est is None or truth <= 0 else (est.seconds_left - truth) / truth
        out.append(((now - started) / total, err))
    return out


def clocks_path(root: Path, run_id: str) -> Path:
    return root.parent / "clocks" / f"{run_id}.json"


def on_cpu_clock(rows: list[dict], clocks: dict) -> tuple[list[dict], float, float]:
    """The rows with their times replaced by the CPU clock, and the run's start and end on it."""
    wall_to_cpu = dict(zip(clocks["wall"], clocks["cpu"]))
    cpu_rows = [{**r, "time": wall_to_cpu.get(r.get("time"))} for r in rows]
    return cpu_rows, clocks["cpu_started"], clocks["cpu_ended"]


def row(label: str, method: str, data: str, snaps: int, table, minutes: float) -> str:
    def near(f):
        cand = [(abs(x - f), e) for x, e in table if e is not None]
        return f"{min(cand)[1]:+7.0%}" if cand else "      -"
    later = [abs(e) for x, e in table if e is not None and 0.5 <= x < 0.97]
    worst = f"{max(later):7.0%}" if later else "      -"
    return (f"{label:<38} {method:<9} {data:<9} {snaps:>5} {minutes:6.1f}   {near(0.25)}  "
            f"{near(0.5)}  {near(0.75)}  {worst}")


def main(roots: list[str]) -> None:
    head = (f"{'run':<38} {'method':<9} {'data':<9} {'snaps':>5} {'min':>6}   err@25%  err@50%  "
            "err@75%  worst>=50%")
    cpu_lines = []
    print("wall clock\n" + head)
    for root in roots:
        store = RunStore(root)
        for rid in store.ids():
            rd = store.open(rid)
            status, cfg = rd.read_status(), rd.read_config()
            if status.get("state") != "done" or not status.get("started"):
                continue
            rows = rd.metrics_rows()
            ended = status.get("finished") or status.get("updated") or rows[-1]["time"]
            method, data = cfg["method"], cfg.get("data_name", "?")
            print(row(rid, method, data, len(rows), replay(rows, status["started"], ended),
                      (ended - status["started"]) / 60))
            clocks = clocks_path(Path(root), rid)
            if clocks.exists():
                cpu_rows, c0, c1 = on_cpu_clock(rows, json.loads(clocks.read_text()))
                cpu_lines.append(row(rid, method, data, len(rows), replay(cpu_rows, c0, c1),
                                     (c1 - c0) / 60))
    if cpu_lines:
        print("\nCPU clock of the run's process (a machine with steady load)\n" + head)
        print("\n".join(cpu_lines))


def train(out: str, methods: list[str], data_spec: str) -> None:
    """Train each method's quick preset on the data into ``out``/runs, recording both clocks."""
    import torch

    from dcviz import data as D
    from dcviz.runs import create_run, execute
    from dcviz.runs.engine import prepare

    torch.set_num_threads(1)
    root = Path(out) / "runs"
    (Path(out) / "clocks").mkdir(parents=True, exist_ok=True)
    # a fresh pretrained-AE store: the runs pretrain as a first run on this machine does
    os.environ["DCVIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="eta-bench-store-")
    store = RunStore(root)
    ds = D.load(D.parse_spec(data_spec))
    for method in methods:
        config = {"n_clusters": ds.n_classes} if ds.n_classes else {}
        cls, cfg = prepare(method, ds, config, "quick")
        rd = create_run(store, cls, cfg, ds, "quick", name=f"eta bench {method}")
        clocks = {"wall": [], "cpu": [], "cpu_started": time.process_time()}

        def on_snapshot(index, snap, rd=rd, clocks=clocks):
            # the row's own wall time, as the store wrote it, keys the CPU clock
            clocks["wall"].append(rd.metrics_rows()[-1]["time"])
            clocks["cpu"].append(time.process_time())

        status = execute(rd, cls, cfg, ds, on_snapshot=on_snapshot)
        clocks["cpu_ended"] = time.process_time()
        clocks_path(root, rd.run_id).write_text(json.dumps(clocks))
        print(f"{method}: {status['state']} in {status.get('seconds', 0):.0f} s wall, "
              f"{clocks['cpu_ended'] - clocks['cpu_started']:.0f} CPU-s, "
              f"{len(clocks['cpu'])} snapshots, {status.get('metrics', {})}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["train"]:
        train(args[1], (args[2] if len(args) > 2 else "dekm,dcrl,gan").split(","),
              args[3] if len(args) > 3 else "digits")
    else:
        main(args or ["runs"])
