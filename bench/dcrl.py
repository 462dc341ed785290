"""DCRL against DEC (and IDEC): clustering scores and latent geometry per seed, printed.

    python bench/dcrl.py                                  # digits, seeds 0 1 2, dcrl and dec
    python bench/dcrl.py digits --methods dcrl dec idec
    python bench/dcrl.py mnist-test --seeds 0 --set epochs=15   # fewer epochs: said in the output
    python bench/dcrl.py manifolds                              # issue 22's table: DCRL beside DEC
    python bench/dcrl.py digits --methods dcrl dec dec:init=tsne  # a method with its own overrides

The runs of a data set are one sweep (bench/sweeps.py; the engine the app and the CLI use) with
the quick preset unless --preset says otherwise, and k = the number of classes of the data set.
Its table gives the median, min and max over the seeds; below it, per method and seed, ACC, NMI, ARI (over all points) and the final snapshot's
Trust, Cont and CRA (on the run's fixed subsample of at most 2,000 points), the wall-clock
seconds and the CPU seconds of the run, then the medians over the seeds. Seconds are inflated
by whatever else runs on the machine. For digits it also prints the issue's claims (DCRL NMI
>= 0.80; DCRL beats DEC on Trust, Cont and CRA; DCRL NMI no more than 0.03 below DEC's) as
met or not, from the medians, and per seed DCRL's NMI and the stages it went through in order
(Fig. 3: 1 -> 2 -> 3 in every seed). For manifolds (DCRL's Fig. 3 data) it prints issue 22's table:
per seed, DCRL's NMI and ACC, the stages it went through in order, its seconds and CPU seconds,
the NMI of k-means on the same run's pretrained AE (the phase DCRL starts from) and DEC's NMI on
the same data and seed; then the issue's claims, and the two figures of the data that decide what
any centre-based clustering can do on it (see :func:`centre_ceiling`). The paper gives no number
for this data: its Fig. 3 is a schematic. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sweeps  # noqa: E402  (bench/sweeps.py)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from dcviz import data as D  # noqa: E402
from dcviz.methods.dcrl import STAGES  # noqa: E402
from dcviz.metrics import nmi as nmi_score  # noqa: E402
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


def stage_sequence(rows: list[dict]) -> tuple[list[str], bool]:
    """The DCRL stages a run went through, in the order it entered them, and whether that is
    all three stages of Fig. 3 in their order (pretraining rows are not stages)."""
    seen = [k for k, _ in itertools.groupby(r["stage"] for r in rows if r["stage"] in STAGES)]
    return seen, seen == list(STAGES)


def centre_ceiling(spec) -> tuple[float, float, float]:
    """What the data allows a clustering by nearest centre (k-means, DEC's and DCRL's Student-t
    assignment: all of them cut the space into the cells of their centres): the NMI of giving
    each point the nearest of the TRUE manifolds' means, the largest distance between two of
    those means, and the mean distance of a point from the data's mean. When the manifolds
    share a centre, the first is low and the second is far below the third; L_rank (Eq. 6)
    then asks the centres of the true manifolds to coincide."""
    ds = D.load(spec)
    means = np.stack([ds.x[ds.y == j].mean(0) for j in range(ds.n_classes)])
    nearest = ((ds.x[:, None, :] - means[None]) ** 2).sum(-1).argmin(1)
    spread = np.linalg.norm(ds.x - ds.x.mean(0), axis=1).mean()
    gap = np.linalg.norm(means[:, None] - means[None], axis=-1).max()
    return float(nmi_score(ds.y, nearest)), float(gap), float(spread)


def print_manifolds(sweep, spec) -> None:
    """Issue 22's table: DCRL on its own manifolds, k-means on its AE and DEC beside."""
    runs = list(sweeps.done_runs(sweep))
    dec = {t["seed"]: rd.read_status().get("metrics", {}).get("nmi") for t, rd in runs
           if t["method"] == "dec"}
    print("\nDCRL on manifolds (paper: no figure; its Fig. 3 is a schematic of the stages)")
    print(f"{'seed':>4s} {'NMI':>6s} {'ACC':>6s} {'AE+km':>6s} {'DEC':>6s} {'seconds':>8s} "
          f"{'cpu s':>6s}  stages")
    got = {"nmi": [], "seconds": [], "cpu": [], "order": []}
    for t, rd in runs:
        if t["method"] != "dcrl":
            continue
        m = rd.read_status().get("metrics", {})
        rows = rd.metrics_rows()
        pre = [r for r in rows if r["stage"] == "pretrain"]
        ae_km = pre[-1]["metrics"].get("nmi", float("nan")) if pre else float("nan")
        seen, ordered = stage_sequence(rows)
        d = dec.get(t["seed"])
        print(f"{t['seed']:>4d} {m.get('nmi', float('nan')):6.3f} {m.get('acc', float('nan')):6.3f} "
              f"{ae_km:6.3f} {d if d is not None else float('nan'):6.3f} "
              f"{t.get('seconds') or float('nan'):8.1f} {t.get('cpu_seconds') or float('nan'):6.1f}  "
              + " -> ".join(s.split(":")[0] for s in seen) + ("" if ordered else "  (NOT 1 -> 2 -> 3)"),
              flush=True)
        got["nmi"].append(m.get("nmi", float("nan")))
        got["seconds"].append(t.get("seconds") or float("nan"))
        got["cpu"].append(t.get("cpu_seconds") or float("nan"))
        got["order"].append(ordered)
    if not got["nmi"]:
        return
    med = statistics.median(got["nmi"])
    dec_vals = [v for v in dec.values() if v is not None]
    print("claims (issue 22):")
    print(f"  [{'met' if med >= 0.9 else 'NOT met'}] median NMI {med:.3f} >= 0.9"
          + (f" (DEC's median {statistics.median(dec_vals):.3f})" if dec_vals else ""))
    print(f"  [{'met' if all(got['order']) else 'NOT met'}] the three stages in order in every "
          f"run ({sum(got['order'])} of {len(got['order'])})")
    slowest = max(got["cpu"])
    print(f"  [{'met' if slowest <= 180 else 'NOT met'}] at most 3 minutes per run: CPU seconds "
          f"at most {slowest:.0f} (wall {max(got['seconds']):.0f} s, inflated by the load)")
    ceiling, gap, spread = centre_ceiling(spec)
    print(f"the data: nearest TRUE manifold mean gives NMI {ceiling:.3f}; the true means lie at "
          f"most {gap:.3f} apart, points {spread:.3f} from the centre on average")


def print_digits_stages(sweep) -> None:
    """Per DCRL seed: its NMI and the stages it went through in order (Fig. 3 asks for
    1 -> 2 -> 3), then whether every seed showed all three."""
    ordered = []
    print("\nDCRL per seed: NMI and stages in order")
    for t, rd in sweeps.done_runs(sweep):
        if t["method"] != "dcrl":
            continue
        nmi = rd.read_status().get("metrics", {}).get("nmi", float("nan"))
        seen, ok = stage_sequence(rd.metrics_rows())
        ordered.append(ok)
        print(f"  seed {t['seed']}: NMI {nmi:.3f}  " + " -> ".join(s.split(":")[0] for s in seen)
              + ("" if ok else "  (NOT 1 -> 2 -> 3)"), flush=True)
    if ordered:
        print(f"  [{'met' if all(ordered) else 'NOT met'}] stages 1 -> 2 -> 3 in every seed "
              f"({sum(ordered)} of {len(ordered)})")


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
            print_digits_stages(sweep)
            print_claims(rows)
        if name == "manifolds":
            print_manifolds(sweep, DATA[name])


if __name__ == "__main__":
    main()
