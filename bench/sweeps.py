"""What the benches share: their runs are one sweep (dcviz.runs.sweep), read as its table.

A bench builds a :class:`~dcviz.runs.sweep.Plan` (methods x data x seeds), runs it here with
``--jobs`` processes (each with its share of the CPU threads), prints the sweep's table (median,
min and max over seeds), and then prints what is its own, from each trial's run folder.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dcviz.runs.store import RunDir  # noqa: E402
from dcviz.runs.sweep import Plan, Sweep, run_sweep  # noqa: E402
from dcviz.runs.table import collect, to_text, write_tables  # noqa: E402


def add_arguments(p) -> None:
    """--jobs, --threads and --runs-dir, the same in every bench."""
    p.add_argument("--jobs", type=int, default=1,
                   help="trials at once, one process each (wall times then include the sharing "
                        "of the CPU)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per trial (default: the cores shared among --jobs)")
    p.add_argument("--runs-dir", default=None,
                   help="keep the runs and the sweep here (default: a temp dir); the same "
                        "command again resumes the sweep")


def run(plan: Plan, args, title: str = "") -> tuple[Sweep, list]:
    """Run (or resume) the plan as a sweep; print one line per trial and then the table."""
    root = args.runs_dir or tempfile.mkdtemp(prefix="bench-")
    sweep = Sweep.create(root, plan)
    print(f"\n== {title or sweep.sweep_id}: {len(sweep.trials())} trials, sweep "
          f"{sweep.manifest_path}", flush=True)

    def progress(trial, result):
        print(f"  {trial['state']:<6} {trial['method_label']} on {trial['data_label']} seed "
              f"{trial['seed']}" + (f": {trial['error']}" if trial.get("error") else ""), flush=True)

    run_sweep(sweep, jobs=args.jobs, threads=args.threads, on_result=progress)
    rows = collect(sweep)
    print(to_text(rows), flush=True)  # first: a folder we cannot write to still gets its table
    try:
        write_tables(sweep, rows)
    except OSError as e:  # read-only, full disk: as the CLI's `table`, a warning
        why = e.strerror or type(e).__name__
        print(f"warning: the table was not written next to the sweep ({why}: "
              f"{e.filename or sweep.path})", file=sys.stderr, flush=True)
    return sweep, rows


def done_runs(sweep: Sweep):
    """(trial, RunDir) of every finished trial, in the plan's order."""
    for t in sweep.trials():
        if t["state"] == "done":
            yield t, RunDir(sweep.store.path_of(t["run_id"]))
