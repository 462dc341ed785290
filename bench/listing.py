"""A run store of many runs: how long a listing, and a redraw of each page, take.

    python bench/listing.py                    # 300 runs of 35 snapshots
    python bench/listing.py --runs 1000

Every page lists the run store on every redraw (its pickers, Home's recent runs, Train's
interrupted runs), and a researcher's store grows to hundreds of runs after a few sweeps, each
with tens to hundreds of snapshots. This trains one small run (DEC, quick preset, digits: 35
snapshots), then hard-links it ``--runs`` times into a fresh store (a copy costs no disk), and
prints, in one process:

- ``RunStore.list()``: the first listing (every run's config, status, subsample and snapshot
  files checked) and the next ones (the runs' files unchanged, so only stats);
- each page's first draw and its redraw (an AppTest run), against the same pages over a store
  of one run.

- the aligned PCA of the last snapshot of a run of ``--snapshots`` snapshots, which walks them
  all from the first (what Explore does when it opens a run at its end), reading each snapshot
  whole and reading only its latent.

Figures are printed, never asserted; compare them only within one run of this script.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
warnings.filterwarnings("ignore")

PAGES = ["home", "train", "explore", "compare", "checkpoints", "present"]


def make_store(src: Path, root: Path, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        # a valid run id (RUN_ID_RE), older than the source run, one per copy
        shutil.copytree(src, root / f"20200101-{i:06d}-dec-{i:04x}", copy_function=os.link)


def time_list(root: Path, repeats: int = 5) -> tuple[float, float]:
    from dcviz.runs import RunStore
    from dcviz.runs import store as S
    S._SUMMARIES.clear(), S._CONFIGS.clear(), S._SNAPSHOT_CHECKS.clear()
    store = RunStore(root)
    t = time.perf_counter()
    store.list()
    first = time.perf_counter() - t
    again = []
    for _ in range(repeats):
        t = time.perf_counter()
        store.list()
        again.append(time.perf_counter() - t)
    return first, statistics.median(again)


def time_pages(root: Path) -> dict[str, tuple[float, float]]:
    import pagekit
    os.environ["DCVIZ_RUNS_DIR"] = str(root)
    out = {}
    for page in PAGES:
        t = time.perf_counter()
        at = pagekit.open_page(page)
        first = time.perf_counter() - t
        redraws = []
        for _ in range(3):
            t = time.perf_counter()
            at.run()
            redraws.append(time.perf_counter() - t)
        out[page] = (first, statistics.median(redraws))
    return out


def walk(src: Path, root: Path, n: int) -> None:
    """A run of ``n`` snapshots (the source's, repeated, hard-linked), walked from the first."""
    from dcviz.projection import ProjectionCache
    from dcviz.runs import RunStore
    dst = root / src.name
    shutil.copytree(src, dst, copy_function=os.link)
    have = sorted((dst / "snapshots").iterdir())
    for i in range(len(have), n):
        os.link(have[i % len(have)], dst / "snapshots" / f"{i:06d}.npz")
    rd = RunStore(root).open(src.name)
    t = time.perf_counter()
    rd.check()
    print(f"  deep check of the run (once, when it opens): {time.perf_counter() - t:.2f} s")
    for name, load in (("each snapshot read whole", lambda i: rd.load_snapshot(i).latent),
                       ("only the latent read", rd.load_latent)):
        t = time.perf_counter()
        ProjectionCache().aligned_pca("run", n - 1, load)
        print(f"  {name:26}: {time.perf_counter() - t:.2f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=300)
    p.add_argument("--snapshots", type=int, default=300)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tmp = Path(tempfile.mkdtemp(prefix="dcviz-listing-"))
    os.environ["DCVIZ_CACHE_DIR"] = str(tmp / "cache")
    try:
        from conftest import train_run
        t = time.perf_counter()
        run = train_run(tmp / "one", "dec", "digits")
        n_snaps = run.rd.count()
        print(f"one DEC run on digits ({n_snaps} snapshots) in {time.perf_counter() - t:.0f} s; "
              f"{args.runs} hard-linked copies ({args.runs * n_snaps:,} snapshots)", flush=True)
        make_store(run.rd.path, tmp / "many", args.runs)

        print("\n== RunStore.list()")
        for name, root in (("1 run", tmp / "one"), (f"{args.runs} runs", tmp / "many")):
            first, again = time_list(root)
            print(f"{name:>10}: first {first * 1000:8.1f} ms   again (median of 5) "
                  f"{again * 1000:8.1f} ms", flush=True)

        print(f"\n== aligned PCA of snapshot {args.snapshots} of {args.snapshots}")
        walk(run.rd.path, tmp / "long", args.snapshots)

        print("\n== pages (AppTest): first draw / redraw (median of 3), seconds")
        one, many = time_pages(tmp / "one"), time_pages(tmp / "many")
        print(f"{'page':12} {'1 run':>15} {f'{args.runs} runs':>15}   redraw ratio")
        for page in PAGES:
            (f1, r1), (fm, rm) = one[page], many[page]
            print(f"{page:12} {f1:6.2f} / {r1:5.2f}   {fm:6.2f} / {rm:5.2f}   {rm / max(r1, 1e-6):6.1f}x",
                  flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
