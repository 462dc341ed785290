"""DEKM benchmark: clustering quality and speed, printed (never asserted).

    python bench/dekm.py digits                       # DEKM vs AE+k-means, seeds 0 1 2, quick preset
    python bench/dekm.py mnist-test --set pretrain_epochs=50 --set max_iter=60
    python bench/dekm.py mnist-test --preset paper    # the paper's schedule (slow on a CPU)

The runs are one sweep (bench/sweeps.py): its table gives the median, min and max of ACC, NMI,
ARI and the time over the seeds. Then, per run: seconds per pretraining epoch, seconds per
clustering iteration and the number of iterations, from the snapshots' time stamps.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweeps  # noqa: E402  (bench/sweeps.py)

from dcviz.runs.sweep import Plan  # noqa: E402

DATA = {"digits": "digits",
        "mnist-test": {"path": str(ROOT.parent / "shared" / "datasets" / "mnist-test")}}


def speed(rd) -> dict:
    """Seconds per pretraining epoch and per clustering iteration, from snapshot times."""
    status, cfg = rd.read_status(), rd.read_config()["config"]
    start = status.get("started")
    rows = rd.metrics_rows()
    pre = [r["time"] for r in rows if r["stage"] == "pretrain"]
    clu = [r["time"] for r in rows if r["stage"] != "pretrain"]
    per_epoch = (pre[-1] - start) / max(1, cfg["pretrain_epochs"]) if pre and start else float("nan")
    per_iter = (clu[-1] - (pre[-1] if pre else start)) / max(1, len(clu)) if clu and start else float("nan")
    return {"s/epoch": per_epoch, "s/iter": per_iter, "iters": len(clu)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", choices=sorted(DATA), nargs="?", default="digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["dekm", "ae-kmeans"])
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="config override for every method that has the field")
    sweeps.add_arguments(p)
    args = p.parse_args()
    overrides = dict(s.split("=", 1) for s in args.set)
    print(f"data={args.data} preset={args.preset} overrides={overrides}", flush=True)
    plan = Plan(methods=args.methods, data=[(args.data, DATA[args.data])], seeds=args.seeds,
                preset=args.preset, sets=overrides)
    sweep, _ = sweeps.run(plan, args, f"{args.data}, preset {args.preset}")
    print(f"\n{'method':<10} {'seed':>4} {'s/epoch':>8} {'s/iter':>7} {'iters':>5}")
    for t, rd in sweeps.done_runs(sweep):
        s = speed(rd)
        print(f"{t['method']:<10} {t['seed']:>4} {s['s/epoch']:8.2f} {s['s/iter']:7.2f} {s['iters']:5d}")


if __name__ == "__main__":
    main()
