"""The papers' table on the MNIST test split: seven AE methods on one pretrained AE per seed.

    python bench/mnist.py                                   # seeds 0 1 2, all seven methods, CPU
    python bench/mnist.py --seeds 0 --methods ae-kmeans dekm --jobs 1 --threads 1
    python bench/mnist.py --jobs 2 --threads 1 --store-off ae-kmeans --out bench/results/mnist
    python bench/mnist.py --device cuda --threads 4          # where a GPU is lent
    python bench/mnist.py --methods dcrl dcn:lam=0.1 --out a &   # two processes side by side,
    python bench/mnist.py --methods ae-kmeans dec idec dekm acedec --out b   # then one table:
    python bench/mnist.py --merge a.json b.json --out bench/results/mnist
    python bench/mnist.py --methods ae-kmeans dekm-own-ae   # DEKM on its own paper's conv AE
    python bench/mnist.py --methods dcrl-own-ae             # DCRL on its own paper's AE

Issue 17, item 5. For each seed the shared MNIST recipe pretrains ONE autoencoder (the MLP
d-500-500-2000-10 of DEC, IDEC, DCN, DCRL and ACe/DeC) into the pretrained-AE store
(``$DCVIZ_CACHE_DIR``, else ``~/.cache/dcviz/pretrained``), or finds it there; then AE + k-means,
DEC, IDEC, DCN (lambda 0.1, ACe/DeC's best DCN), DEKM, DCRL and ACe/DeC run with their ``paper``
presets, each starting from that seed's AE (``pretrained=reuse``). The runs are one sweep
(bench/sweeps.py, the engine of the app and the CLI), one run folder each.

Before training, the bench checks that the seven methods' pretraining keys coincide per seed
(same data, net, initial weights, recipe and generator state): a method whose ``paper`` preset
would pretrain an AE of its own is named, since it then pays its own pretraining and is not
compared on the same AE.

It prints, per method: the paper's NMI beside NMI and ACC per seed and their median, the
issue's bar and whether the median meets it, and the seconds of its clustering (its run minus
the pretraining it paid, if it paid one). Then the time of the table: each seed's pretraining,
paid once (the store entry's seconds), plus every run's clustering; set against the same runs
with the store off, where every run pretrains its own AE: the sum over runs of the entry's
seconds plus that run's clustering seconds. That sum is computed from the measured parts;
``--store-off METHOD`` also runs METHOD once per seed with ``pretrained=off`` and prints its
seconds beside entry + clustering, the check that a store-off run costs what the sum says.
Wall seconds come from the runs (inflated by whatever else the machine runs); CPU seconds of
each run beside them (process time of its worker, all its threads).

The pretraining recipe is the ``paper`` presets' one, ``PAPER_PRETRAIN`` in
dcviz/methods/ae_kmeans.py: the MLP d-500-500-2000-10 pretrained as DEC pretrains it (the
procedure ACe/DeC's Table 1 follows for every method it compares): SGD with momentum 0.9,
batches of 256, DEC's input-dropout corruption 0.2, end to end for 300 epochs, bf16 where the
CPU has it. Chosen because, measured on this split (AE + k-means NMI, seed 0), Adam 1e-3
plateaus at 0.63 whatever the init, dropout or layer-wise stage, while DEC's SGD with dropout
keeps climbing (0.66 / 0.69 / 0.71 at 50 / 100 / 150 epochs); the constant's comment has the
curves. ``--set`` overrides its fields (``--set pretrain_epochs=30`` for a development run; the
output says so; the keys change, so those runs train AEs of their own).

The budget. At the papers' clustering lengths a seed costs about an hour of one CPU core here
(measured, CPU seconds: DEC ~40 and IDEC ~60 to their tolerance, DEKM ~50 to its 0.1 %, DCN
4.6 per epoch x 150, ACe/DeC ~4 per epoch x 150, DCRL ~5 per epoch x 300 plus ~70 for the
t-SNE of its centres), on top of the AE. Where that does not fit, give DCN, ACe/DeC and DCRL
fewer epochs as method options (``dcn:lam=0.1,cluster_epochs=20``, ``dcrl:epochs=20``): the
label says so in every line of the table. DCN and ACe/DeC run at a constant rate (ClustPy's
1e-4), so a shorter run is the start of the paper's run; DCRL's weight schedule is stretched
over its epochs, so ``epochs=20`` is the whole schedule, faster. The seed-0 curves on a weak
AE (NMI 0.57) that chose 20: DCN rises linearly, +0.013 in 27 epochs and +0.023 in 53; DCRL
is flat after ~10 epochs of a 40-epoch schedule (0.78) and ends at 0.76 with a 20-epoch one.
On the shared paper-recipe AEs, seeds 0-2, DCRL's full 300 epochs give median NMI 0.814 against
0.812 with ``epochs=20`` (bench/results/mnist-cpu-dcrl300.md), at 12x the CPU time.

Results go to stdout and, with ``--out PREFIX``, to PREFIX.json and PREFIX.md. Nothing is
asserted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sweeps  # noqa: E402  (bench/sweeps.py)

from dcviz import data as D  # noqa: E402
from dcviz.methods import get_method  # noqa: E402
from dcviz.methods.ae_kmeans import PAPER_PRETRAIN  # noqa: E402
from dcviz.pretrained import PretrainedStore, data_fingerprint  # noqa: E402
from dcviz.runs.engine import prepare  # noqa: E402
from dcviz.runs.pretraining import plan_pretraining  # noqa: E402
from dcviz.runs.sweep import Plan, parse_method_item  # noqa: E402

MNIST_TEST = ROOT.parent / "shared" / "datasets" / "mnist-test"
DATA_LABEL = "mnist-test"
METHODS = ["ae-kmeans", "dec", "idec", "dcn:lam=0.1", "dekm", "dcrl", "acedec"]
#: The issue's one net and recipe for all seven: DEC's d-500-500-2000-10, pretrained by the
#: shared recipe (PAPER_PRETRAIN). Two paper presets keep their own papers' AEs, so the bench
#: pins the shared one for them: DCRL's d-500-500-500-2000-10 (DEC's hidden layers are set; DEC
#: and IDEC have them already), and DEKM's recipe (the conv AE for images, Xavier, Adam; the
#: other presets have the shared recipe already). ``--set`` overrides, for every method; DEKM on
#: its own paper's AE is the method item DEKM_OWN_AE (bench/results/mnist-cpu-dekm-conv.md).
SHARED = {"hidden": "500,500,2000", "noise": "0.0",
          **{k: str(v) for k, v in PAPER_PRETRAIN.items()}}


def own_ae(method: str) -> str:
    """The method item of ``method``'s paper preset with its own net and pretraining given back
    over the pin (``dekm-own-ae``, ``dcrl-own-ae``)."""
    config = get_method(method).Config
    own = {k: v for k, v in config.presets["paper"].items() if k in SHARED}
    if "hidden" in {f.name for f in dataclasses.fields(config)}:  # spaces: commas part items
        own.setdefault("hidden", str(config.hidden).replace(",", " "))
    return f"{method}:" + ",".join(f"{k}={v}" for k, v in own.items())


#: the paper presets whose own AE differs from the shared one, as method items
OWN_AE = {f"{m}-own-ae": own_ae(m) for m in ("dekm", "dcrl")}
DEKM_OWN_AE = OWN_AE["dekm-own-ae"]

#: NMI on MNIST-test in the papers (where a paper has no MNIST-test figure, the nearest it has)
PAPER = {
    "ae-kmeans": (0.79, "ACe/DeC Tab. 1, MNIST-test"),
    "dec": (0.75, "ACe/DeC Tab. 2, MNIST-test"),
    "idec": (0.77, "ACe/DeC Tab. 2, MNIST-test"),
    "dcn": (0.86, "ACe/DeC Tab. 1, MNIST-test, lambda 0.1"),
    "acedec": (0.87, "ACe/DeC Tab. 1, MNIST-test, no augmentation"),
    "dekm": (0.91, "DEKM Tab. III, MNIST-full, conv AE"),
    "dcrl": (0.929, "DCRL Tab. A5, MNIST-test"),
}
#: issue 17's bars: median NMI over seeds 0, 1 and 2
BAR = {"ae-kmeans": 0.78, "dec": 0.74, "idec": 0.76, "dcn": 0.84, "acedec": 0.85,
       "dekm": 0.85, "dcrl": 0.90}


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec=".3f", none="-"):
    return none if v is None else format(v, spec)


# --------------------------------------------------------------------------- the shared AE

def check_keys(plan: Plan, ds) -> dict[int, dict[str, str]]:
    """Per seed, each method item's pretraining entry id (the store key a run would use), and
    whether the store has it now. Built as the engine builds the run; nothing is trained."""
    fingerprint = data_fingerprint(ds.x, ds.image_shape)
    store = PretrainedStore()
    out: dict[int, dict[str, str]] = {}
    for seed in plan.seeds:
        out[seed] = {}
        for item in plan.methods:
            mid, own = parse_method_item(item)
            known = {f["name"] for f in get_method(mid).Config.fields_info()}
            sets = {k: v for k, v in plan.sets.items() if k in known}  # as the sweep does
            cls, cfg = prepare(mid, ds, {**sets, **own, "seed": seed,
                                         "n_clusters": ds.n_classes}, plan.preset)
            p = plan_pretraining(cls, cfg, ds, fingerprint)
            if p is None or p.key is None:
                out[seed][item] = "none"
            else:
                out[seed][item] = p.key.id + (" (in store)" if store.lookup(p.key) else "")
    return out


def print_keys(keys: dict[int, dict[str, str]]) -> bool:
    """Print the entries per seed; True when every method of every seed shares one."""
    shared = True
    for seed, per in keys.items():
        ids = {v.split()[0] for v in per.values()}
        if len(ids) == 1:
            print(f"seed {seed}: one pretrained AE for all {len(per)} methods: {next(iter(per.values()))}")
            continue
        shared = False
        print(f"seed {seed}: {len(ids)} different pretraining keys, so {len(ids)} AEs:")
        for item, v in per.items():
            print(f"    {item:<14} {v}")
    return shared


# --------------------------------------------------------------------------- reading the runs

def run_facts(trial: dict, rd) -> dict:
    """What the table needs from one finished run: scores, seconds, the entry it started from."""
    status, config = rd.read_status(), rd.read_config()
    m = status.get("metrics") or {}
    record = config.get("pretrained") or status.get("pretrained") or {}
    hit = bool(record.get("hit"))
    entry_s = record.get("seconds")
    seconds = status.get("seconds")
    times = [r.get("time") for r in rd.metrics_rows()[:1]]
    if seconds is not None and times and times[0] and status.get("finished"):
        # A run that needed an AE another process was pretraining waited for it (the store's
        # lock), and its first snapshot comes when the wait ends: count from there.
        seconds = min(seconds, status["finished"] - times[0])
    cpu = trial.get("cpu_seconds")
    # a run that pretrained (a miss, or the store off) paid the entry's seconds in its own
    paid = 0.0 if hit or entry_s is None else float(entry_s)
    return {"method": trial["method"], "label": trial["method_label"], "seed": trial["seed"],
            "nmi": m.get("nmi"), "acc": m.get("acc"), "ari": m.get("ari"),
            "seconds": seconds, "cpu_seconds": cpu,
            "cluster_seconds": None if seconds is None else max(0.0, seconds - paid),
            "entry": record.get("entry"), "hit": hit, "entry_seconds": entry_s,
            "run_id": rd.run_id, "config": config.get("config", {})}


def table(rows: list[dict], seeds: list[int], labels: list[str]) -> list[dict]:
    out = []
    for label in labels:
        runs = {r["seed"]: r for r in rows if r["label"] == label}
        mid = parse_method_item(label)[0]
        nmi = [runs[s]["nmi"] if s in runs else None for s in seeds]
        acc = [runs[s]["acc"] if s in runs else None for s in seeds]
        med = median(nmi)
        bar = BAR.get(mid)
        out.append({"method": label, "paper_nmi": PAPER.get(mid, (None, ""))[0],
                    "paper_source": PAPER.get(mid, (None, ""))[1],
                    "nmi": nmi, "acc": acc, "nmi_median": med, "acc_median": median(acc),
                    "bar": bar, "meets_bar": None if med is None or bar is None else med >= bar,
                    "cluster_seconds": [runs[s]["cluster_seconds"] if s in runs else None
                                        for s in seeds],
                    "cpu_seconds": [runs[s]["cpu_seconds"] if s in runs else None for s in seeds],
                    "hit": [runs[s]["hit"] if s in runs else None for s in seeds]})
    return out


def timing(rows: list[dict], seeds: list[int], checks: list[dict],
           given_cpu: dict[int, float] | None = None) -> dict:
    """The table's time against the same runs with the store off (every run pretrains its own
    AE), from measured parts.

    Wall: each seed's entry seconds once + every run's clustering seconds, against the sum over
    runs of entry + clustering. CPU (process time; the fairer figure on a shared machine): a
    seed's pretraining CPU seconds are those of its store-off check run less the clustering CPU
    of the same method's run from the store (ae-kmeans: k-means alone), when there is one."""
    entries: dict[int, float] = {}
    for r in rows:
        if r["entry_seconds"] is not None:
            entries.setdefault(r["seed"], float(r["entry_seconds"]))
    cluster = sum(r["cluster_seconds"] or 0.0 for r in rows)
    pretrain = sum(entries.values())
    store_off = sum(entries.get(r["seed"], 0.0) + (r["cluster_seconds"] or 0.0) for r in rows)
    out = {"pretrain_seconds": {str(s): entries.get(s) for s in seeds},
           "cluster_seconds": cluster, "table_seconds": pretrain + cluster,
           "store_off_seconds": store_off,
           "ratio": (pretrain + cluster) / store_off if store_off else None}
    pre_cpu = {c["seed"]: c["cpu_seconds"] - c["hit_cpu_seconds"] for c in checks
               if c["cpu_seconds"] is not None and c["hit_cpu_seconds"] is not None}
    given = {s: v for s, v in (given_cpu or {}).items() if s not in pre_cpu}
    pre_cpu.update(given)
    estimated = sorted({r["seed"] for r in rows} - set(pre_cpu))
    if pre_cpu and estimated:  # seeds not checked: the mean of those measured (said so)
        mean = sum(pre_cpu.values()) / len(pre_cpu)
        pre_cpu.update({s: mean for s in estimated})
    if pre_cpu and all(r["cpu_seconds"] is not None for r in rows):
        # a run that pretrained (a miss) paid its seed's pretraining in its own CPU seconds
        clus_cpu = [max(0.0, r["cpu_seconds"] - (0.0 if r["hit"] else pre_cpu[r["seed"]]))
                    for r in rows]
        table_cpu = sum(pre_cpu[s] for s in {r["seed"] for r in rows}) + sum(clus_cpu)
        off_cpu = sum(pre_cpu[r["seed"]] + c for r, c in zip(rows, clus_cpu))
        out.update(pretrain_cpu_seconds={str(s): v for s, v in pre_cpu.items()},
                   cluster_cpu_seconds=sum(clus_cpu), table_cpu_seconds=table_cpu,
                   store_off_cpu_seconds=off_cpu, ratio_cpu=table_cpu / off_cpu,
                   pretrain_cpu_estimated=[str(s) for s in estimated],
                   pretrain_cpu_given=[str(s) for s in given])
    return out


def markdown(tab: list[dict], seeds: list[int], times: dict, header: str, checks: list[dict]) -> str:
    lines = [header, "",
             "| method | paper NMI | " + " | ".join(f"NMI s{s}" for s in seeds)
             + " | NMI median | ACC median | bar | met | clustering s, wall (CPU), per seed |",
             "| --- | --- | " + " | ".join("---" for _ in seeds) + " | --- | --- | --- | --- | --- |"]
    for t in tab:
        lines.append(
            f"| {t['method']} | {fmt(t['paper_nmi'])} ({t['paper_source']}) | "
            + " | ".join(fmt(v) for v in t["nmi"])
            + f" | {fmt(t['nmi_median'])} | {fmt(t['acc_median'])} | {fmt(t['bar'], '.2f')} | "
            + {True: "yes", False: "no", None: "-"}[t["meets_bar"]] + " | "
            + " / ".join(f"{fmt(a, '.0f')} ({fmt(b, '.0f')})"
                         for a, b in zip(t["cluster_seconds"], t["cpu_seconds"])) + " |")
    pre = ", ".join(f"seed {s}: {fmt(v, '.0f')} s" for s, v in times["pretrain_seconds"].items())
    lines += ["", f"Pretraining, paid once per seed: {pre}.",
              f"Table: {times['table_seconds']:.0f} s (pretraining once per seed + "
              f"{times['cluster_seconds']:.0f} s of clustering); the same runs with the store off: "
              f"{times['store_off_seconds']:.0f} s (computed: every run pays its seed's pretraining); "
              f"ratio {fmt(times['ratio'], '.2f')} (wall seconds)."]
    if "ratio_cpu" in times:
        pre = ", ".join(f"seed {s}: {v:.0f}" for s, v in times["pretrain_cpu_seconds"].items())
        lines.append(f"In CPU seconds: pretraining {pre}; table {times['table_cpu_seconds']:.0f}, "
                     f"store off {times['store_off_cpu_seconds']:.0f}, ratio {times['ratio_cpu']:.2f}"
                     + (f" (seeds {', '.join(times['pretrain_cpu_estimated'])}: pretraining CPU "
                        "taken as the mean of the checked seeds)" if times["pretrain_cpu_estimated"]
                        else "")
                     + (f" (seeds {', '.join(times['pretrain_cpu_given'])}: pretraining CPU seconds "
                        "as measured where the AE was trained, --pretrain-cpu)"
                        if times["pretrain_cpu_given"] else "") + ".")
    for c in checks:
        lines.append(f"Store-off check, {c['label']} seed {c['seed']}: measured {fmt(c['seconds'], '.0f')} s "
                     f"(CPU {fmt(c['cpu_seconds'], '.0f')} s) against entry {fmt(c['entry_seconds'], '.0f')} s "
                     f"+ clustering {fmt(c['cluster_seconds'], '.0f')} s = {fmt(c['expected'], '.0f')} s.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=METHODS,
                   help="method items, with their own options after a colon (dcn:lam=0.1)")
    p.add_argument("--device", default="cpu", help="cpu (the issue's table), or cuda where a GPU is lent")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="config override for every method that has the field (said in the output)")
    p.add_argument("--store-off", nargs="*", default=[], metavar="METHOD",
                   help="also run these method items once per seed with pretrained=off, to "
                        "measure a store-off run against entry + clustering seconds")
    p.add_argument("--store-off-seeds", type=int, nargs="+", default=None,
                   help="the seeds of the store-off check (default: all of --seeds); each costs "
                        "a whole pretraining")
    p.add_argument("--out", default=None, help="write PREFIX.json and PREFIX.md")
    sweeps.add_arguments(p)
    p.add_argument("--pretrain-cpu", nargs="+", default=[], metavar="SEED=SECONDS",
                   help="CPU seconds of a seed's pretraining measured where its AE was trained "
                        "(when the store already had it), for the CPU-seconds ratio")
    p.add_argument("--merge", nargs="+", default=None, metavar="PREFIX.json",
                   help="train nothing: one table from the results of earlier invocations")
    args = p.parse_args()
    given_cpu = {int(k): float(v) for k, v in (a.split("=", 1) for a in args.pretrain_cpu)}
    if args.merge:
        blobs = []
        for f in args.merge:
            whole = json.loads(Path(f).read_text())
            blobs += whole["parts"]
        report(blobs, args.out, given_cpu)
        return
    if not MNIST_TEST.exists():
        sys.exit(f"the MNIST test split is not at {MNIST_TEST}")
    args.methods = [OWN_AE.get(m, m) for m in args.methods]
    sets = {**SHARED, **dict(s.split("=", 1) for s in args.set), "device": args.device}
    fields = set().union(*({f["name"] for f in get_method(parse_method_item(m)[0]).Config.fields_info()}
                           for m in args.methods + args.store_off))
    unused = sorted(set(sets) - fields)
    if unused:  # e.g. a shared --set noise=0 while only methods without it run
        print(f"(no method of this run has {unused}: left out)")
        sets = {k: v for k, v in sets.items() if k in fields}
    spec = {"path": str(MNIST_TEST)}
    ds = D.load(spec)
    plan = Plan(methods=list(args.methods), data=[(DATA_LABEL, spec)], seeds=list(args.seeds),
                preset="paper", sets=sets)
    header = (f"MNIST test split {ds.x.shape}, preset paper, overrides {sets}, seeds {args.seeds}, "
              f"{args.jobs} job(s) x {args.threads or 'auto'} thread(s), "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(header, flush=True)
    keys = check_keys(plan, ds)
    shared = print_keys(keys)

    start = time.time()
    sweep, _ = sweeps.run(plan, args, "MNIST-test, preset paper")
    rows = [run_facts(t, rd) for t, rd in sweeps.done_runs(sweep)]
    failed = [t for t in sweep.trials() if t["state"] != "done"]
    checks = []
    if args.store_off:
        off = Plan(methods=list(args.store_off), data=[(DATA_LABEL, spec)],
                   seeds=list(args.store_off_seeds or args.seeds),
                   preset="paper", sets={**sets, "pretrained": "off"})
        off_sweep, _ = sweeps.run(off, args, "store-off check")
        for t, rd in sweeps.done_runs(off_sweep):
            r = run_facts(t, rd)
            checks.append({"label": t["method_label"], "seed": t["seed"], "seconds": r["seconds"],
                           "cpu_seconds": r["cpu_seconds"]})
    blob = {"header": header, "sets": sets, "seeds": args.seeds, "methods": args.methods,
            "keys": {str(k): v for k, v in keys.items()}, "shared_ae": shared, "runs": rows,
            "store_off_runs": checks,
            "failed": [{"method": t["method_label"], "seed": t["seed"], "error": t.get("error")}
                       for t in failed], "bench_wall_seconds": time.time() - start}
    report([blob], args.out, given_cpu)


def report(blobs: list[dict], out: str | None, given_cpu: dict[int, float] | None = None) -> None:
    """Print (and with ``out`` write) the table of one or more bench runs' results: the runs of
    several invocations (say, two sets of methods run side by side, one process each) make one
    table (``--merge``)."""
    rows = [r for b in blobs for r in b["runs"]]
    seeds = sorted({int(s) for b in blobs for s in b["seeds"]})
    labels = list(dict.fromkeys(m for b in blobs for m in b["methods"]))
    failed = [f for b in blobs for f in b["failed"]]
    shared = all(b["shared_ae"] for b in blobs)
    header = " + ".join(b["header"] for b in blobs)
    checks = []
    for c in (c for b in blobs for c in b.get("store_off_runs", [])):
        hit_run = next((h for h in rows if h["label"] == c["label"] and h["seed"] == c["seed"]), None)
        entry_s = hit_run["entry_seconds"] if hit_run else None
        clus = hit_run["cluster_seconds"] if hit_run else None
        checks.append({**c, "entry_seconds": entry_s, "cluster_seconds": clus,
                       "hit_cpu_seconds": hit_run["cpu_seconds"] if hit_run and hit_run["hit"] else None,
                       "expected": None if entry_s is None or clus is None else entry_s + clus})
    tab = table(rows, seeds, labels)
    times = timing(rows, seeds, checks, given_cpu)

    w = max(14, *(len(t["method"]) for t in tab))
    print()
    print(f"{'method':<{w}} {'paper':>6} " + " ".join(f"{'NMI s' + str(s):>8}" for s in seeds)
          + f" {'median':>7} {'ACC med':>7} {'bar':>5} {'met':>4}  clustering s (CPU s) per seed")
    for t in tab:
        print(f"{t['method']:<{w}} {fmt(t['paper_nmi']):>6} "
              + " ".join(f"{fmt(v):>8}" for v in t["nmi"])
              + f" {fmt(t['nmi_median']):>7} {fmt(t['acc_median']):>7} {fmt(t['bar'], '.2f'):>5} "
              + f"{ {True: 'yes', False: 'NO', None: '-'}[t['meets_bar']]:>4}  "
              + "  ".join(f"{fmt(a, '.0f')} ({fmt(b, '.0f')})"
                          for a, b in zip(t["cluster_seconds"], t["cpu_seconds"])))
    print("paper figures: " + "; ".join(f"{k} {v[0]} ({v[1]})" for k, v in PAPER.items()))
    md = markdown(tab, seeds, times, header, checks)
    print("\n" + md.split("\n\n", 1)[1])
    if failed:
        print("FAILED trials: " + "; ".join(f"{f['method']} seed {f['seed']}: {f['error']}"
                                           for f in failed))
    if not shared:
        print("NOTE: the methods did not all share one AE per seed (see the keys above); the "
              "timing then counts each seed's first entry only.")
    print("bench wall time " + " + ".join(f"{b['bench_wall_seconds']:.0f} s" for b in blobs))
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        whole = {"parts": blobs, "table": tab, "timing": times, "store_off_checks": checks}
        path.with_suffix(".json").write_text(json.dumps(whole, indent=1, default=str))
        path.with_suffix(".md").write_text(md)
        print(f"wrote {path.with_suffix('.json')} and {path.with_suffix('.md')}")

if __name__ == "__main__":
    main()
