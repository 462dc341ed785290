"""How good is the time-left estimate (dcviz/runs/eta.py)? Replay finished runs.

For every finished run in the given run stores, the estimate is recomputed as the page would
have shown it at each snapshot (only the snapshots before that moment known), and compared with
the time the run really had left. Printed per run: its duration, and the estimate's error at the
snapshots nearest 25 %, 50 % and 75 % of the run's wall time, plus the worst error from the
halfway point on.

    python bench/eta.py runs /tmp/other-runs
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcviz.runs import RunStore  # noqa: E402
from dcviz.runs.eta import progress_points, time_left  # noqa: E402


def replay(rows: list[dict], started: float, ended: float) -> list[tuple[float, float | None]]:
    """(fraction of wall time, relative error of the estimate) at each snapshot."""
    pts = progress_points(rows, started)
    total = ended - started
    out = []
    for k in range(1, len(pts)):
        now = pts[k][0]
        truth = ended - now
        est = time_left(pts[:k + 1], now)
        err = None if est is None or truth <= 0 else (est.seconds_left - truth) / truth
        out.append(((now - started) / total, err))
    return out


def main(roots: list[str]) -> None:
    print(f"{'run':<34} {'method':<8} {'data':<10} {'snaps':>5} {'min':>6}   err@25%  err@50%  "
          "err@75%  worst>=50%")
    for root in roots:
        store = RunStore(root)
        for rid in store.ids():
            rd = store.open(rid)
            status, cfg = rd.read_status(), rd.read_config()
            if status.get("state") != "done" or not status.get("started"):
                continue
            rows = rd.metrics_rows()
            ended = status.get("updated") or rows[-1]["time"]
            table = replay(rows, status["started"], ended)

            def near(f):
                cand = [(abs(x - f), e) for x, e in table if e is not None]
                return f"{min(cand)[1]:+7.0%}" if cand else "      -"
            later = [abs(e) for x, e in table if e is not None and 0.5 <= x < 0.97]
            worst = f"{max(later):7.0%}" if later else "      -"
            print(f"{rid:<34} {cfg['method']:<8} {cfg.get('data_name', '?'):<10} {len(rows):>5} "
                  f"{(ended - status['started']) / 60:6.1f}   {near(0.25)}  {near(0.5)}  "
                  f"{near(0.75)}  {worst}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["runs"])
