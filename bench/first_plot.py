"""Click-to-first-plot in a real browser: Home's default button to the Train page's latent scatter.

Each try starts `streamlit run app.py` afresh with an empty run store, opens Home in headless
chromium, waits until Home is whole, waits --delay seconds more (a person reading), clicks the
button, and prints:
  - plot:     seconds from the click until the first frame is painted with the latent scatter
              (timed in the page), and when Playwright's wait saw it;
  - snapshot: seconds from the click until the run's first snapshot file is written.

    python bench/first_plot.py --tries 5 --delay 0 3
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_browser import chromium, launch_and_time_first_plot, streamlit_app, wait_for_home  # noqa: E402


def first_snapshot_time(runs: Path, timeout: float = 60) -> float:
    end = time.time() + timeout
    while time.time() < end:
        files = sorted(runs.glob("*/snapshots/*.npz"))
        if files:
            return min(f.stat().st_mtime for f in files)
        time.sleep(0.05)
    return float("nan")


def one_try(delay: float) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        with streamlit_app(runs, Path(tmp), "bench-first-plot") as url, chromium() as page:
            page.goto(url)
            button = wait_for_home(page)
            page.wait_for_timeout(delay * 1000)
            clicked = time.time()
            plot, seen = launch_and_time_first_plot(page, button)
            snap = first_snapshot_time(runs) - clicked
            page.locator("[class*='st-key-stop_'] button").first.click()
            return plot, seen, snap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tries", type=int, default=3, help="fresh app starts per delay")
    ap.add_argument("--delay", type=float, nargs="+", default=[0.0, 3.0],
                    help="seconds between Home being whole and the click")
    args = ap.parse_args()
    for delay in args.delay:
        plots, snaps = [], []
        for i in range(args.tries):
            plot, seen, snap = one_try(delay)
            plots.append(plot)
            snaps.append(snap)
            print(f"delay {delay:.0f} s, try {i + 1}: plot {plot:.2f} s (Playwright {seen:.2f} s), "
                  f"snapshot {snap:.2f} s", flush=True)
        print(f"delay {delay:.0f} s: plot median {statistics.median(plots):.2f} s "
              f"(min {min(plots):.2f}, max {max(plots):.2f}); snapshot median "
              f"{statistics.median(snaps):.2f} s", flush=True)


if __name__ == "__main__":
    main()
