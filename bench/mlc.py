"""MLC benchmark: clustering, coding rates and numerical ranks, printed (never asserted).

    python bench/mlc.py                     # digits and MNIST-test, quick preset, seeds 0 1 2
    python bench/mlc.py digits --seeds 0 1 2 3 4
    python bench/mlc.py mnist-test --seeds 0 --set warmup_epochs=10 --set epochs=10
    python bench/mlc.py sphere2             # the two manifolds of Fig. 1 (k = 2)

For each run: ACC, NMI, ARI of the final spectral clustering on Pi (and NMI at the end of the
warm-up, before the MLC objective), the mean |cos| within / between learned clusters, the coding
rates R, R_c and Delta R of the final snapshot's view points, the numerical rank (95 % energy)
of all features and of each true cluster, the time. Then medians over seeds.

MNIST-test (10,000 images of 28x28) uses the MLP backbone and fewer epochs by default
(``MNIST_DEFAULTS``): on a shared CPU the CNN would take many minutes an epoch.
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

import torch  # noqa: E402

from dcviz import data as D  # noqa: E402
from dcviz.runs import RunStore, create_run, execute, prepare  # noqa: E402

DATA = {"digits": "digits", "sphere2": "sphere2",
        "mnist-test": {"path": str(ROOT.parent / "shared" / "datasets" / "mnist-test")}}
DEFAULTS = {"digits": {}, "sphere2": {"n_clusters": 2},
            "mnist-test": {"arch": "mlp", "warmup_epochs": 8, "epochs": 8}}
MNIST_DEFAULTS = DEFAULTS["mnist-test"]


def run_one(spec, seed: int, preset: str, overrides: dict, root: Path) -> dict:
    ds = D.load(spec)
    cls, cfg = prepare("mlc", ds, {**overrides, "seed": seed}, preset)
    rd = create_run(RunStore(root), cls, cfg, ds, preset)
    first: list[float] = []
    start = time.perf_counter()
    status = execute(rd, cls, cfg, ds, on_snapshot=lambda i, s: first or first.append(time.perf_counter()))
    total = time.perf_counter() - start
    if status["state"] != "done":
        raise RuntimeError(status.get("traceback") or status.get("error"))
    rows = rd.metrics_rows()
    warm = [r for r in rows if r["stage"].startswith("warm-up")]
    last = rd.load_snapshot(-1)
    ex, m = last.extras, status["metrics"]
    return {"seed": seed, "acc": m.get("acc", float("nan")), "nmi": m.get("nmi", float("nan")),
            "ari": m.get("ari", float("nan")),
            "nmi_warm": warm[-1]["metrics"].get("nmi", float("nan")) if warm else float("nan"),
            "cos_ratio": m["cos_ratio"], "R": ex["R"], "R_c": ex["R_c"], "dR": ex["delta_R"],
            "rank_all": int(ex["rank_all"]), "d": int(last.latent.shape[1]),
            "rank_true": [int(v) for v in ex.get("rank_true", [])],
            "rank_learned": [int(v) for v in ex["rank_learned"]],
            "rank_true_init": [int(v) for v in rd.load_snapshot(0).extras.get("rank_true", [])],
            "first_snapshot_s": first[0] - start if first else float("nan"), "seconds": total}


def bench(name: str, seeds, preset: str, overrides: dict) -> None:
    over = {**(DEFAULTS[name] if preset == "quick" else {}), **overrides}
    print(f"\n== {name}  preset={preset}  overrides={over}", flush=True)
    print(f"{'seed':>4} {'ACC':>6} {'NMI':>6} {'ARI':>6} {'NMIwarm':>7} {'cos w/b':>7} {'R':>7} "
          f"{'R_c':>7} {'dR':>7} {'rank':>6} {'1st s':>6} {'total s':>8}  ranks of true clusters "
          f"(at init -> end); of learned clusters", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            r = run_one(DATA[name], seed, preset, over, Path(tmp))
            results.append(r)
            print(f"{r['seed']:>4} {r['acc']:6.3f} {r['nmi']:6.3f} {r['ari']:6.3f} {r['nmi_warm']:7.3f} "
                  f"{r['cos_ratio']:7.2f} {r['R']:7.2f} {r['R_c']:7.2f} {r['dR']:7.2f} "
                  f"{r['rank_all']:>3}/{r['d']:<2} {r['first_snapshot_s']:6.1f} {r['seconds']:8.1f}  "
                  f"{r['rank_true_init']} -> {r['rank_true']}; {r['rank_learned']}", flush=True)
    med = {k: statistics.median(r[k] for r in results)
           for k in ("acc", "nmi", "ari", "nmi_warm", "cos_ratio", "R", "R_c", "dR", "seconds")}
    print(f"median over seeds {list(seeds)}: ACC {med['acc']:.3f}  NMI {med['nmi']:.3f}  "
          f"ARI {med['ari']:.3f}  (NMI after warm-up {med['nmi_warm']:.3f})  cos within/between "
          f"{med['cos_ratio']:.2f}  R {med['R']:.2f}  R_c {med['R_c']:.2f}  dR {med['dR']:.2f}  "
          f"total {med['seconds']:.1f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", choices=sorted(DATA), nargs="*", default=["digits", "mnist-test"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--preset", default="quick")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the team shares 2 cores)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="config override applied to every data set")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    overrides = dict(s.split("=", 1) for s in args.set)
    for name in args.data:
        bench(name, args.seeds, args.preset, overrides)


if __name__ == "__main__":
    main()
