"""DCRL against DEC (and IDEC): clustering scores and latent geometry per seed, printed.

    python bench/dcrl.py                                  # digits, seeds 0 1 2, dcrl and dec
    python bench/dcrl.py digits --methods dcrl dec idec
    python bench/dcrl.py mnist-test --seeds 0 --set epochs=15   # fewer epochs: said in the output
    python bench/dcrl.py manifolds --methods dcrl               # + the stage sequence of each run
    python bench/dcrl.py digits --methods dcrl dec dec:init=tsne  # a method with its own overrides

The runs of a data set are one sweep (bench/sweeps.py; the engine the app and the CLI use) with
the quick preset unless --preset says otherwise, and k = the number of classes of the data set.
Its table gives the median, min and max over the seeds; below it, per method and seed, ACC, NMI, ARI (over all points) and the final snapshot's
Trust, Cont and CRA (on the run's fixed subsample of at most 2,000 points), the wall-clock
seconds and the CPU seconds of the run, then the medians over the seeds. Seconds are inflated
by whatever else runs on the machine. For digits it also prints the issue's claims (DCRL NMI
>= 0.80; DCRL beats DEC on Trust, Cont and CRA; DCRL NMI no more than 0.03 below DEC's) as
met or not, from the medians. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweeps  # noqa: E402  (bench/sweeps.py)
import torch  # noqa: E402

from dcviz.runs.sweep import Plan  # noqa: E402

DATA = {"digits": "digits", "manifolds": "manifolds",
        "mnist-test": {"path": str(ROOT.parent / "shared" / "datasets" / "mnist-test")}}
COLUMNS = ("acc", "nmi", "ari", "trust", "cont", "cra")


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def print_runs(sweep) -> None:
    """Per method and seed: the scores, wall and CPU seconds; DCRL's sequence of stages."""
    width = max(8, *(len(t["method_label"]) for t in sweep.trials()))
    print(f"{'method':{width}s} {'seed':>6s} " + " ".join(f"{c:>7s}" for c in COLUMNS)
          + f" {'seconds':>8s} {'cpu s':>7s}")
    for t, rd in sweeps.done_runs(sweep):
        m = rd.read_status().get("metrics", {})
        print(f"{t['method_label']:{width}s} {t['seed']:>6d} "
              + " ".join(f"{m.get(c, float('nan')):7.3f}" for c in COLUMNS)
              + f" {t.get('seconds') or float('nan'):8.1f} {t.get('cpu_seconds') or float('nan'):7.1f}")
        if t["method"] == "dcrl":
            stages = [r["stage"] for r in rd.metrics_rows()]
            print("    stages: " + " -> ".join(f"{s} x{len(list(g))}"
                                               for s, g in itertools.groupby(stages)), flush=True)


def print_claims(rows) -> None:
    medians = {r.method: {c: (r.stat(c) or (float("nan"),))[0] for c in COLUMNS} for r in rows}
    if "dcrl" not in medians or "dec" not in medians:
        return
    d, e = medians["dcrl"], medians["dec"]
    claims = [(f"DCRL NMI {d['nmi']:.3f} >= 0.80", d["nmi"] >= 0.80)]
    claims += [(f"DCRL {k} {d[k]:.3f} > DEC {e[k]:.3f}", d[k] > e[k]) for k in ("trust", "cont", "cra")]
    claims.append((f"DCRL NMI {d['nmi']:.3f} >= DEC NMI {e['nmi']:.3f} - 0.03", d["nmi"] >= e["nmi"] - 0.03))
    print("claims (medians over the seeds):")
    for text, ok in claims:
        print(f"  [{'met' if ok else 'NOT met'}] {text}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="*", default=["digits"], help=f"any of {sorted(DATA)}")
    ap.add_argument("--methods", nargs="+", default=["dcrl", "dec"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--set", action="append", default=[], metavar="K=V",
                    help="config override for every method that has the field (e.g. epochs=15)")
    sweeps.add_arguments(ap)
    args = ap.parse_args(argv)
    overrides = {k: _value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    print(f"preset {args.preset}; overrides {overrides or 'none'}; torch threads "
          f"{args.threads or torch.get_num_threads()}")
    for name in args.data:
        plan = Plan(methods=args.methods, data=[(name, DATA.get(name, name))], seeds=args.seeds,
                    preset=args.preset, sets=overrides)
        sweep, rows = sweeps.run(plan, args, f"{name} (preset {args.preset}"
                                 f"{', ' + str(overrides) if overrides else ''})")
        print_runs(sweep)
        if name == "digits":
            print_claims(rows)


if __name__ == "__main__":
    main()
