"""DCRL against DEC (and IDEC): clustering scores and latent geometry per seed, printed.

    python bench/dcrl.py                                  # digits, seeds 0 1 2, dcrl and dec
    python bench/dcrl.py digits --methods dcrl dec idec
    python bench/dcrl.py mnist-test --seeds 0 --set epochs=15   # fewer epochs: said in the output
    python bench/dcrl.py manifolds --methods dcrl               # + the stage sequence of each run
    python bench/dcrl.py digits --methods dcrl dec dec:init=tsne  # a method with its own overrides

Every run goes through dcviz.runs.execute (the engine the app and the CLI use) with the quick
preset unless --preset says otherwise, and k = the number of classes of the data set. The
table has, per method and seed, ACC, NMI, ARI (over all points) and the final snapshot's
Trust, Cont and CRA (on the run's fixed subsample of at most 2,000 points), the wall-clock
seconds and the CPU seconds of the run, then the medians over the seeds. Seconds are inflated
by whatever else runs on the machine. For digits it also prints the issue's claims (DCRL NMI
>= 0.80; DCRL beats DEC on Trust, Cont and CRA; DCRL NMI no more than 0.03 below DEC's) as
met or not, from the medians. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import itertools
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
from dcviz.runs.view import RunView  # noqa: E402

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


def parse_method(spec: str) -> tuple[str, dict]:
    """"dec" or "dec:init=tsne,epochs=10": the method id and its own config overrides."""
    name, _, rest = spec.partition(":")
    pairs = [kv.split("=", 1) for kv in rest.split(",") if kv]
    return name, {k: _value(v) for k, v in pairs}


def run_one(spec: str, ds, seed: int, preset: str, overrides: dict, root: Path) -> dict:
    method, own = parse_method(spec)
    config = {"n_clusters": ds.n_classes, **overrides, **own, "seed": seed}
    cls, cfg = prepare(method, ds, config, preset)
    rd = create_run(RunStore(root), cls, cfg, ds, preset)
    wall, cpu = time.perf_counter(), time.process_time()
    status = execute(rd, cls, cfg, ds)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if status["state"] != "done":
        raise RuntimeError(status.get("traceback") or status.get("error"))
    stages = [r["stage"] for r in RunView(rd).rows()]
    return {**{k: status["metrics"].get(k, float("nan")) for k in COLUMNS}, "seconds": wall,
            "cpu": cpu, "stages": [(s, len(list(g))) for s, g in itertools.groupby(stages)]}


def print_table(name: str, results: dict, seeds) -> dict:
    width = max(8, *(len(m) for m in results))
    head = f"{'method':{width}s} {'seed':>6s} " + " ".join(f"{c:>7s}" for c in COLUMNS) + \
        f" {'seconds':>8s} {'cpu s':>7s}"
    print(f"\n== {name}\n{head}")
    medians = {}
    for method, per_seed in results.items():
        for seed in seeds:
            r = per_seed[seed]
            print(f"{method:{width}s} {seed:>6d} " + " ".join(f"{r[c]:7.3f}" for c in COLUMNS)
                  + f" {r['seconds']:8.1f} {r['cpu']:7.1f}")
        med = {c: statistics.median(per_seed[s][c] for s in seeds) for c in (*COLUMNS, "seconds", "cpu")}
        medians[method] = med
        print(f"{method:{width}s} {'median':>6s} " + " ".join(f"{med[c]:7.3f}" for c in COLUMNS)
              + f" {med['seconds']:8.1f} {med['cpu']:7.1f}")
    return medians


def print_claims(medians: dict) -> None:
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
                    help="config override for every method (e.g. epochs=15)")
    ap.add_argument("--runs", default=None, help="keep the runs in this store (default: a temp dir)")
    args = ap.parse_args(argv)
    overrides = dict(kv.split("=", 1) for kv in args.set)
    overrides = {k: _value(v) for k, v in overrides.items()}
    root = Path(args.runs) if args.runs else Path(tempfile.mkdtemp(prefix="dcrl-bench-"))
    print(f"preset {args.preset}; overrides {overrides or 'none'}; torch threads "
          f"{torch.get_num_threads()}; runs in {root}")
    for name in args.data:
        ds = D.load(DATA.get(name, name))
        results: dict = {}
        for method in args.methods:
            results[method] = {}
            for seed in args.seeds:
                r = run_one(method, ds, seed, args.preset, overrides, root)
                results[method][seed] = r
                print(f"  {name} {method} seed {seed}: NMI {r['nmi']:.3f} trust {r['trust']:.3f} "
                      f"cra {r['cra']:.3f} {r['seconds']:.0f}s", flush=True)
                if parse_method(method)[0] == "dcrl":
                    print("    stages: " + " -> ".join(f"{s} x{n}" for s, n in r["stages"]), flush=True)
        medians = print_table(f"{name} ({ds.n} points, k={ds.n_classes}, preset {args.preset}"
                              f"{', ' + str(overrides) if overrides else ''})", results, args.seeds)
        if name == "digits":
            print_claims(medians)


if __name__ == "__main__":
    main()
