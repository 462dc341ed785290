"""`python -m dcviz ...`: the app's engine, headless.

    python -m dcviz train --method dekm --data digits --seed 0 [--runs-dir D] [--preset P]
                          [--set field=value ...] [--device D] [--name NAME] [--quiet]
    python -m dcviz resume RUN [--runs-dir D] [--quiet]
    python -m dcviz sweep --methods dec,dekm --data digits,blobs8 --seeds 0-4 [--jobs N]
                          [--preset P] [--set field=value ...] [--grid field=v1,v2 ...]
                          [--runs-dir D] [--name ID] [--ray ADDRESS|auto [--ray-archive]]
    python -m dcviz table SWEEP [--runs-dir D]
    python -m dcviz methods
    python -m dcviz datasets
    python -m dcviz cache list | clear
    python -m dcviz export RUN [--view latent] [--format gif|html|png] [--color cluster|label]
                           [--out PATH] [--runs-dir D]


A preset P is quick (the default), paper, or one of a method's own (`python -m dcviz methods`
lists them). RUN is a run folder or a run id.

`train` writes the same run folder as the app (so a run trained on a GPU server opens in the app),
shows a progress bar on stderr, and prints one JSON object as its last line on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from tqdm import tqdm


def _parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects field=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


# Exit codes (the README lists them too)
EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT, EXIT_RUNS_DIR, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_PIPE = 141  # the reader of stdout went away (| head), as a shell reports SIGPIPE


class RunsDirError(ValueError):
    """The runs folder cannot hold a new run (exit code 3)."""


def validate_train(args):
    """Everything `train` needs, checked before a run folder exists: the runs folder (a
    folder, writable), the data, the config, seed range, device and model size.

    Returns (store, cls, cfg, ds); raises DataError/ConfigError/ValueError (exit 2) or
    RunsDirError (exit 3)."""
    from dcviz import data as D
    from dcviz.runs import RunStore, RunStoreError, prepare

    try:
        store = RunStore(args.runs_dir)
        store.check_writable()
    except RunStoreError as e:
        raise RunsDirError(str(e)) from None
    if args.seed is not None and not 0 <= args.seed <= 2**32 - 1:
        raise ValueError(f"--seed must be between 0 and {2**32 - 1} (2**32 - 1), got {args.seed}")
    _check_name(args.name)
    spec = D.parse_spec(args.data)
    ds = D.load(spec)
    config = _parse_sets(args.set or [])
    if args.seed is not None:
        config["seed"] = args.seed
    if args.device:
        config["device"] = args.device
    if "n_clusters" not in config and ds.y is not None and ds.n_classes and ds.n_classes >= 2:
        config["n_clusters"] = ds.n_classes  # as the app's Train page does (dcviz.forms.guess_k)
    cls, cfg = prepare(args.method, ds, config, args.preset)
    return store, cls, cfg, ds


def _check_name(name: str | None) -> None:
    """--name as the app's rename takes it (one line, at most MAX_NAME characters), checked
    before the data loads; control characters (a NUL, an escape sequence) are refused, as the
    app's text box cannot type them and a terminal listing the runs would act on them."""
    import re

    from dcviz.runs.manage import clean_name
    if name is None:
        return
    if re.search(r"[\x00-\x08\x0e-\x1f\x7f]", name):
        raise ValueError(f"--name holds a control character ({name[:60]!r}); give plain text")
    clean_name(name)


def cmd_train(args) -> int:
    from dcviz.runs import create_run

    store, cls, cfg, ds = validate_train(args)
    rd = create_run(store, cls, cfg, ds, args.preset, name=args.name or "")
    print(f"run {rd.run_id}: {cls.title} on {ds.name} ({ds.n} points), preset {args.preset}",
          file=sys.stderr)
    return _train(args, rd, cls, cfg, ds)


def cmd_resume(args) -> int:
    """Go on with an interrupted run (its process killed) from its last checkpoint, in its own
    folder. RUN_DIR must be a run folder of a runs store; the run id is the store's name for
    it, never the path as typed."""
    from pathlib import Path

    from dcviz.runs import RunStore, RunStoreError
    from dcviz.runs.engine import prepare_resume

    from dcviz.runs.store import RUN_ID_RE, default_root

    folder = Path(args.run_dir)
    if not (folder / "config.json").is_file() and RUN_ID_RE.match(args.run_dir):
        # a run id, as export takes and as the app and the full-disk message name runs
        folder = Path(args.runs_dir or default_root()) / args.run_dir
    if not (folder.is_dir() and (folder / "config.json").is_file()):
        raise ValueError(f"{args.run_dir} is not a run folder (a folder with a config.json) "
                         "nor a run id of the runs folder")
    folder = folder.resolve()
    try:
        store = RunStore(folder.parent)
        store.check_writable()
    except RunStoreError as e:
        raise RunsDirError(str(e)) from None
    run_id = next((i for i in store.ids() if i == folder.name), None)
    if run_id is None:
        raise ValueError(f"{args.run_dir} is not a run of the runs store {folder.parent}")
    rd = store.open(run_id)
    plan = prepare_resume(rd)
    how = (f"from its checkpoint after snapshot {plan.start - 1} ({plan.dropped} later "
           "snapshot(s) dropped)" if plan.checkpoint is not None else
           f"from the start: it has no checkpoint to go on from ({plan.dropped} snapshot(s) "
           "dropped)")
    print(f"run {rd.run_id}: {plan.cls.title} on {plan.data.name} resumes {how}", file=sys.stderr)
    return _train(args, rd, plan.cls, plan.cfg, plan.data, resume=plan)


def _train(args, rd, cls, cfg, ds, resume=None) -> int:
    """Train (or resume) the run in ``rd`` with a progress bar; the JSON line; the exit code."""
    from dcviz.runs import execute

    bar = tqdm(total=1000, file=sys.stderr, disable=args.quiet, bar_format=(
        "{l_bar}{bar}| {elapsed}<{remaining} {postfix}"))

    def on_snapshot(index, snap):
        bar.n = int(1000 * snap.progress)
        shown = {k: round(v, 3) for k, v in snap.metrics.items() if k in ("acc", "nmi", "ari")}
        bar.set_postfix_str(f"{snap.stage} epoch {snap.epoch} {shown}", refresh=False)
        bar.refresh()

    start = time.time()
    status = execute(rd, cls, cfg, ds, on_snapshot=on_snapshot, resume=resume)
    bar.close()
    if status.get("unsaved"):  # out of disk: status.json could not say it (engine.out_of_room)
        print(f"run {status['state']}: {status.get('error', '')}: python -m dcviz resume "
              f"{rd.path}", file=sys.stderr)
    elif status["state"] != "done":
        # one line; the traceback is kept in the run's status.json
        print(f"run {status['state']}: {status.get('error', '')} (details in "
              f"{rd.path / 'status.json'})", file=sys.stderr)
    result = {"run_dir": str(rd.path.resolve()), "method": cls.id, "data": ds.spec,
              "seconds": round(time.time() - start, 2), "state": status["state"],
              "metrics": status.get("metrics", {})}
    if status.get("pretrained"):  # the pretrained AE it started from, and whether it was a hit
        result["pretrained"] = status["pretrained"]
    print(json.dumps(result))
    return EXIT_OK if status["state"] == "done" else EXIT_RUN_FAILED


def cmd_sweep(args) -> int:
    from dcviz.runs.sweep import (RAY_MISSING, Plan, Sweep, check_run_options, parse_assignments,
                                  parse_grid, parse_seeds, run_sweep, split_items)
    from dcviz.runs.table import collect, to_text

    from dcviz.runs import RunStore, RunStoreError
    check_run_options(args.jobs, args.threads, args.cpus)  # before anything is written
    if args.ray_archive and not args.ray:
        raise ValueError("--ray-archive goes with --ray ADDRESS (it says how Ray workers send "
                         "their runs back); without --ray the sweep runs here")
    try:
        RunStore(args.runs_dir).check_writable()
    except RunStoreError as e:
        raise RunsDirError(str(e)) from None
    if args.ray:
        try:
            import ray  # noqa: F401
        except ImportError:
            print(f"error: {RAY_MISSING}", file=sys.stderr)
            return EXIT_BAD_INPUT
    sets = parse_assignments(args.set)
    if args.device:
        sets["device"] = args.device
    plan = Plan(methods=split_items(args.methods), data=split_items(args.data or ["digits"]),
                seeds=parse_seeds(args.seeds), preset=args.preset, sets=sets,
                grid=parse_grid(args.grid))
    sweep = Sweep.create(args.runs_dir, plan, name=args.name)
    trials = sweep.trials()
    done = sum(t["state"] == "done" for t in trials)
    print(f"sweep {sweep.sweep_id}: {len(trials)} trials ({done} done before), manifest "
          f"{sweep.manifest_path}", file=sys.stderr)

    def on_result(trial, result):
        shown = trial["error"] or f"{trial.get('seconds') or 0:.1f} s"
        print(f"  {trial['state']:<6} {trial['method_label']} on {trial['data_label']} seed "
              f"{trial['seed']} {trial['point'] or ''} -> {trial['run_id']}: {shown}",
              file=sys.stderr, flush=True)

    counts = run_sweep(sweep, jobs=args.jobs, threads=args.threads, ray=args.ray,
                       ray_archive=args.ray_archive, cpus=args.cpus, on_result=on_result)
    rows = collect(sweep)
    print(to_text(rows), file=sys.stderr)
    paths = _write_tables(sweep, rows)
    print(json.dumps({"sweep": sweep.sweep_id, "manifest": str(sweep.manifest_path.resolve()),
                      "counts": counts, **paths}))
    return EXIT_OK if counts.get("done", 0) == len(trials) else EXIT_RUN_FAILED


def cmd_table(args) -> int:
    from pathlib import Path

    from dcviz.runs.sweep import Sweep
    from dcviz.runs.table import collect, to_text

    path = Path(args.sweep)
    sweep = Sweep.from_path(path) if path.exists() else Sweep.open(args.runs_dir, args.sweep)
    rows = collect(sweep)
    print(to_text(rows), flush=True)  # first: a folder we cannot write to still gets its table
    paths = _write_tables(sweep, rows)
    if paths:
        print(f"written: {paths['csv']}  {paths['md']}", file=sys.stderr)
    return EXIT_OK


def _write_tables(sweep, rows) -> dict:
    """table.csv and table.md next to the manifest; a folder that refuses them (read-only, full)
    is a warning, as the table was printed already. Returns their paths, or {}."""
    from dcviz.runs.table import write_tables
    try:
        return write_tables(sweep, rows)
    except OSError as e:
        why = e.strerror or type(e).__name__
        print(f"warning: the table was not written next to the sweep ({why}: "
              f"{e.filename or sweep.path})", file=sys.stderr)
        return {}


def cmd_methods(args) -> int:
    from dcviz.methods import get_method, list_methods
    methods = list_methods()
    # columns as wide as their longest entry: a plug-in's id or a long title stays aligned
    wid = max((len(m["id"]) for m in methods), default=0)
    wtitle = max((len(m["title"]) for m in methods), default=0)
    for m in methods:
        own = [p for p in get_method(m["id"]).Config.presets if p not in ("quick", "paper")]
        presets = f" (presets: quick, {', '.join(own)}, paper)" if own else ""
        print(f"{m['id']:<{wid}}  {m['title']:<{wtitle}}  {m['paper']}{presets}")
    return 0


def cmd_datasets(args) -> int:
    from dcviz.data import list_datasets
    datasets = list_datasets()
    wid = max((len(d["id"]) for d in datasets), default=0)
    wkind = max((len(d["kind"]) for d in datasets), default=0)
    for d in datasets:
        print(f"{d['id']:<{wid}}  {d['kind']:<{wkind}}  {d['description']}")
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def cmd_cache(args) -> int:
    """The pretrained-autoencoder store (dcviz.pretrained): list or clear its entries."""
    from dcviz.pretrained import PretrainedStore
    store = PretrainedStore()
    if args.action == "clear":
        removed, busy = store.clear()
        print(f"removed {removed} pretrained autoencoder(s) from {store.root}"
              + (f"; {busy} in use, kept" if busy else ""))
        return 0
    rows = store.list()
    if not rows:
        print(f"no pretrained autoencoders in {store.root}")
        return 0
    print(f"{len(rows)} pretrained autoencoder(s) in {store.root}")
    now = time.time()
    for r in rows:
        loss = f"{r['final_loss']:.4g}" if r["final_loss"] is not None else "-"
        age = _age(now - r["created"]) if r["created"] else "-"
        print(f"{r['id']}  {r['bytes'] / 2**20:7.1f} MiB  {age:>6} ago  loss {loss:<9}  {r['summary']}")
    return 0


def cmd_export(args) -> int:
    """A run's latent view as a GIF, a standalone HTML page or a zip of stage PNGs
    (dcviz.export). RUN is a run id of the runs folder, or a run folder's path."""
    from pathlib import Path

    from dcviz import export as E
    from dcviz.runs import RunStore
    from dcviz.runs.view import RunView

    root, run_id = args.runs_dir, args.run
    folder = Path(args.run)
    if (folder / "config.json").is_file():  # a run folder: its parent is the store
        root, run_id = str(folder.resolve().parent), folder.resolve().name
    view = RunView(RunStore(root).open(run_id))
    data, name, _ = E.export(view, args.view, args.format, color_by=args.color)
    out = Path(args.out) if args.out else Path(name)
    if out.is_dir():
        out = out / name
    try:
        out.write_bytes(data)
    except OSError as e:
        from dcviz.safeio import no_room
        if no_room(e) is not None:
            raise
        # --out names a place that cannot hold a file: bad input, said as such
        raise ValueError(f"cannot write {out}: {e.strerror or e}") from None
    print(json.dumps({"file": str(out.resolve()), **E.describe(data, args.format)}))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dcviz", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train one method on one data set into a run folder")
    t.add_argument("--method", required=True, help="method id (see `python -m dcviz methods`)")
    t.add_argument("--data", default="digits",
                   help="data set id, a file/folder path, or a JSON spec such as "
                        "'{\"name\": \"mnist\", \"subset\": \"test\"}'")
    t.add_argument("--seed", type=int, default=None, help="random seed (default: the config's, 0)")
    t.add_argument("--runs-dir", default=None, help="run store folder (default: $DCVIZ_RUNS_DIR or ./runs)")
    t.add_argument("--preset", default="quick",
                   help="quick (default: small settings for a first look), paper (the paper's "
                        "settings), or one of the method's own (`python -m dcviz methods` lists "
                        "them)")
    t.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a config field; repeatable")
    t.add_argument("--device", default=None, help="auto, cpu, cuda or mps")
    t.add_argument("--name", default=None, help="a name for the run, shown in the app")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)
    r = sub.add_parser("resume", help="go on with an interrupted run (its process was killed) "
                       "from its last checkpoint, in the same run folder")
    r.add_argument("run_dir", metavar="RUN", help="the run's folder, inside a runs store, or its "
                   "run id in the runs folder")
    r.add_argument("--runs-dir", default=None, help="run store folder, for a run id (default: "
                   "$DCVIZ_RUNS_DIR or ./runs)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_resume)
    w = sub.add_parser("sweep", help="methods x data sets x seeds (x a grid), one run folder per "
                       "trial; run again to resume")
    w.add_argument("--methods", required=True, action="append",
                   help="method ids, comma-separated; a variant takes its own fields after a colon "
                        "(dcn:lam=0.1)")
    w.add_argument("--data", default=None, action="append",
                   help="data sets, comma-separated, as train's --data (options after a colon)")
    w.add_argument("--seeds", default="0-2", help="seeds: 0-4, 0,2,5 or 0-2,7 (default 0-2)")
    w.add_argument("--preset", default="quick",
                   help="quick (default), paper, or a method's own (`python -m dcviz methods` "
                        "lists them) for the methods that have it")
    w.add_argument("--set", action="append", metavar="FIELD=VALUE",
                   help="config field for every method that has it; repeatable")
    w.add_argument("--grid", action="append", metavar="FIELD=V1,V2",
                   help="one trial per value (for the methods that have the field); repeatable")
    w.add_argument("--device", default=None, help="auto, cpu, cuda or mps")
    w.add_argument("--runs-dir", default=None, help="run store folder (default: $DCVIZ_RUNS_DIR or ./runs)")
    w.add_argument("--name", default=None,
                   help="sweep id (default: derived from the plan, so the same command resumes)")
    w.add_argument("--jobs", type=int, default=1, help="trials at once on this machine (processes)")
    w.add_argument("--threads", type=int, default=None,
                   help="torch threads per trial (default: the cores shared among --jobs)")
    w.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run each trial as a task on this Ray cluster (host:port, or auto)")
    w.add_argument("--ray-archive", action="store_true",
                   help="Ray workers do not share the runs folder: each sends its run back as an "
                        "archive, imported here")
    w.add_argument("--cpus", type=int, default=1, help="CPUs each Ray task asks for (default 1)")
    w.set_defaults(func=cmd_sweep)
    tb = sub.add_parser("table", help="median, min and max over seeds of a sweep; writes CSV and "
                        "Markdown next to its manifest")
    tb.add_argument("sweep", help="the sweep's id, folder or sweep.json")
    tb.add_argument("--runs-dir", default=None, help="run store folder, for a sweep id")
    tb.set_defaults(func=cmd_table)
    sub.add_parser("methods", help="list the methods").set_defaults(func=cmd_methods)
    sub.add_parser("datasets", help="list the built-in data sets").set_defaults(func=cmd_datasets)
    c = sub.add_parser("cache", help="the store of pretrained autoencoders ($DCVIZ_CACHE_DIR, "
                       "else $XDG_CACHE_HOME/dcviz/pretrained, else ~/.cache/dcviz/pretrained)")
    c.add_argument("action", choices=["list", "clear"],
                   help="list: id, size, age, final loss and key of each entry; clear: remove them all")
    c.set_defaults(func=cmd_cache)
    e = sub.add_parser("export", help="a run's latent view as an animated GIF, a standalone "
                       "HTML page (slider and Play, works offline) or its stage pictures as PNGs")
    e.add_argument("run", help="run id (see the app, or the runs folder), or a run folder's path")
    e.add_argument("--view", default="latent", choices=["latent"],
                   help="what to export: latent (the scatter of the followed points, aligned PCA)")
    e.add_argument("--format", default="gif", choices=["gif", "html", "png"],
                   help="gif: animation; html: one file with a slider and Play; png: a zip with "
                        "the last picture of each stage")
    e.add_argument("--color", default="cluster", choices=["cluster", "label"],
                   help="colour the points by the method's clusters or by the true labels")
    e.add_argument("--out", default=None,
                   help="file or folder to write (default, here: <run id>-<view>.gif or .html; "
                        "for png, a zip <run id>-<view>-stages.zip)")
    e.add_argument("--runs-dir", default=None, help="run store folder (default: $DCVIZ_RUNS_DIR or ./runs)")
    e.set_defaults(func=cmd_export)
    return p


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run a command; every failure is one line on stderr and an exit code (see README)."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader gone (| head) shows here, not in the flush at exit
        return code
    except RunsDirError as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_RUNS_DIR
    except (ValueError, OverflowError) as e:  # DataError, ConfigError, RunStoreError, bad --set
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `... | head`: the reader has all it wanted. Nothing more goes to stdout, not even
        # the interpreter's flush at exit, which would raise again
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except Exception as e:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        from dcviz.safeio import no_room
        if (full := no_room(e)) is not None:  # not a bug: the machine's disk
            where = f" ({full.filename})" if full.filename else ""
            print(f"error: the disk is full{where}. Free some space, then run "
                  "the command again: a sweep goes on where it stopped, and a run that was cut "
                  "off resumes with python -m dcviz resume RUN", file=sys.stderr)
            return EXIT_RUNS_DIR
        print(f"error: internal error ({type(e).__name__}: {_one_line(e)[:300]}); please report "
              "it", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
