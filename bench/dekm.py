"""DEKM benchmark: clustering quality and speed, printed (never asserted).

    python bench/dekm.py digits                       # DEKM vs AE+k-means, seeds 0 1 2, quick preset
    python bench/dekm.py mnist-test --set pretrain_epochs=50 --set max_iter=60
    python bench/dekm.py mnist-test --preset paper    # the paper's schedule (slow on a CPU)

For each seed: ACC, NMI, ARI, seconds per pretraining epoch, seconds per clustering iteration,
and total seconds; then the medians.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dcviz import data as D  # noqa: E402
from dcviz.runs import RunStore, create_run, execute, prepare  # noqa: E402

DATA = {"digits": "digits",
        "mnist-test": {"path": str(ROOT.parent / "shared" / "datasets" / "mnist-test")}}


def run_one(method: str, spec, seed: int, preset: str, overrides: dict, root: Path) -> dict:
    ds = D.load(spec)
    from dcviz.methods import get_method
    known = {f["name"] for f in get_method(method).Config.fields_info()}
    mine = {k: v for k, v in overrides.items() if k in known}  # e.g. max_iter is DEKM's only
    cls, cfg = prepare(method, ds, {**mine, "seed": seed}, preset)
    rd = create_run(RunStore(root), cls, cfg, ds, preset)
    stamps: list[tuple[str, float]] = []
    start = time.perf_counter()
    status = execute(rd, cls, cfg, ds, on_snapshot=lambda i, s: stamps.append((s.stage, time.perf_counter())))
    total = time.perf_counter() - start
    if status["state"] != "done":
        raise RuntimeError(status.get("traceback") or status.get("error"))
    pre = [t for st, t in stamps if st == "pretrain"]
    clu = [t for st, t in stamps if st != "pretrain"]
    per_epoch = (pre[-1] - start) / max(1, cfg.pretrain_epochs) if pre else float("nan")
    per_iter = (clu[-1] - (pre[-1] if pre else start)) / max(1, len(clu)) if clu else float("nan")
    m = status["metrics"]
    return {"method": method, "seed": seed, "acc": m["acc"], "nmi": m["nmi"], "ari": m["ari"],
            "s/epoch": per_epoch, "s/iter": per_iter, "iters": len(clu), "seconds": total}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", choices=sorted(DATA), nargs="?", default="digits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=["dekm", "ae-kmeans"])
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="config override applied to every method")
    args = p.parse_args()
    overrides = dict(s.split("=", 1) for s in args.set)
    print(f"data={args.data} preset={args.preset} overrides={overrides}", flush=True)
    header = f"{'method':<10} {'seed':>4} {'ACC':>6} {'NMI':>6} {'ARI':>6} {'s/epoch':>8} {'s/iter':>7} {'iters':>5} {'total s':>8}"
    print(header, flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            for seed in args.seeds:
                r = run_one(method, DATA[args.data], seed, args.preset, overrides, Path(tmp))
                results.append(r)
                print(f"{r['method']:<10} {r['seed']:>4} {r['acc']:6.3f} {r['nmi']:6.3f} {r['ari']:6.3f} "
                      f"{r['s/epoch']:8.2f} {r['s/iter']:7.2f} {r['iters']:5d} {r['seconds']:8.1f}", flush=True)
    print("\nmedians over seeds", args.seeds)
    for method in args.methods:
        rs = [r for r in results if r["method"] == method]
        med = {k: statistics.median(r[k] for r in rs) for k in ("acc", "nmi", "ari", "seconds")}
        print(f"{method:<10} ACC {med['acc']:.3f}  NMI {med['nmi']:.3f}  ARI {med['ari']:.3f}  "
              f"total {med['seconds']:.1f} s")


if __name__ == "__main__":
    main()
