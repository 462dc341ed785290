"""MLC benchmark: clustering, coding rates and numerical ranks, printed (never asserted).

    python bench/mlc.py                     # digits and MNIST-test, quick preset, seeds 0 1 2
    python bench/mlc.py digits --seeds 0 1 2 3 4
    python bench/mlc.py mnist-test --seeds 0 --set warmup_epochs=10 --set epochs=10
    python bench/mlc.py sphere2             # the two manifolds of Fig. 1 (k = 2)

The runs of a data set are one sweep (bench/sweeps.py): its table gives the median, min and max
over seeds of ACC, NMI, ARI of the final spectral clustering on Pi, of the mean |cos| within /
between learned clusters (cos_ratio), and of the time. Then, per run: NMI at the end of the
warm-up (before the MLC objective), the coding rates R, R_c and Delta R of the final snapshot's
view points, the numerical rank (95 % energy) of all features and of each true cluster, and the
time to the first snapshot; then their medians.

MNIST-test (10,000 images of 28x28) uses the MLP backbone and fewer epochs by default
(``MNIST_DEFAULTS``): on a shared CPU the CNN would take many minutes an epoch.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweeps  # noqa: E402  (bench/sweeps.py)

from dcviz.runs.sweep import Plan  # noqa: E402

DATA = {"digits": "digits", "sphere2": "sphere2",
        "mnist-test": {"path": str(ROOT.parent / "shared" / "datasets" / "mnist-test")}}
DEFAULTS = {"digits": {}, "sphere2": {"n_clusters": 2},
            "mnist-test": {"arch": "mlp", "warmup_epochs": 8, "epochs": 8}}
MNIST_DEFAULTS = DEFAULTS["mnist-test"]


def run_extras(rd) -> dict:
    """What MLC's table adds, from one finished run folder."""
    status = rd.read_status()
    rows = rd.metrics_rows()
    warm = [r for r in rows if r["stage"].startswith("warm-up")]
    last = rd.load_snapshot(-1)
    ex = last.extras
    started = status.get("started")
    return {"nmi_warm": warm[-1]["metrics"].get("nmi", float("nan")) if warm else float("nan"),
            "R": ex["R"], "R_c": ex["R_c"], "dR": ex["delta_R"],
            "rank_all": int(ex["rank_all"]), "d": int(last.latent.shape[1]),
            "rank_true": [int(v) for v in ex.get("rank_true", [])],
            "rank_learned": [int(v) for v in ex["rank_learned"]],
            "rank_true_init": [int(v) for v in rd.load_snapshot(0).extras.get("rank_true", [])],
            "first_snapshot_s": rows[0]["time"] - started if rows and started else float("nan")}


def bench(name: str, args, overrides: dict) -> None:
    over = {**(DEFAULTS[name] if args.preset == "quick" else {}), **overrides}
    plan = Plan(methods=["mlc"], data=[(name, DATA[name])], seeds=args.seeds,
                preset=args.preset, sets=over)
    sweep, rows = sweeps.run(plan, args, f"{name}  preset={args.preset}  overrides={over}")
    print(f"{'seed':>4} {'NMIwarm':>7} {'R':>7} {'R_c':>7} {'dR':>7} {'rank':>6} {'1st s':>6}  "
          f"ranks of true clusters (at init -> end); of learned clusters", flush=True)
    extras = []
    for t, rd in sweeps.done_runs(sweep):
        r = run_extras(rd)
        extras.append(r)
        print(f"{t['seed']:>4} {r['nmi_warm']:7.3f} {r['R']:7.2f} {r['R_c']:7.2f} {r['dR']:7.2f} "
              f"{r['rank_all']:>3}/{r['d']:<2} {r['first_snapshot_s']:6.1f}  "
              f"{r['rank_true_init']} -> {r['rank_true']}; {r['rank_learned']}", flush=True)
    if extras:
        med = {k: statistics.median(r[k] for r in extras) for k in ("nmi_warm", "R", "R_c", "dR")}
        print(f"median over seeds {list(args.seeds)}: NMI after warm-up {med['nmi_warm']:.3f}  "
              f"R {med['R']:.2f}  R_c {med['R_c']:.2f}  dR {med['dR']:.2f}  (ACC, NMI, ARI, "
              f"cos within/between and time: the table above)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", choices=sorted(DATA), nargs="*", default=["digits", "mnist-test"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="config override applied to every data set")
    sweeps.add_arguments(p)
    args = p.parse_args()
    if args.threads is None and args.jobs == 1:
        args.threads = 1  # the team shares 2 cores (the old --threads default)
    overrides = dict(s.split("=", 1) for s in args.set)
    for name in args.data:
        bench(name, args, overrides)


if __name__ == "__main__":
    main()
