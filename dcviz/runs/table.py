"""The papers' table over a sweep: per method and data set, the median, min and max over seeds.

The GAN paper (Table 2) reports the median, min and max of ACC, NMI and ARI over 10 runs; DCRL
adds its geometry metrics (Trust, Cont, RRE, LGD, CRA). A row here is one method item (with its
grid point) on one data set; its columns are those scores over the seeds whose trial is done,
any other final metric the method reports (ACe/DeC's cluster_dims, MLC's cos_ratio), and the
time of a run. Each row keeps its per-seed values and run ids, for the dots beside it in the app.

Scores are read from the run folders (status.json's final metrics and seconds), not from the
manifest, so the table says what the runs say.
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from dataclasses import dataclass, field

from dcviz.runs.store import RunDir
from dcviz.runs.sweep import Sweep, point_label

CLUSTER = ("acc", "nmi", "ari")
GEOMETRY = ("trust", "cont", "rre", "drmse", "lgd", "cra")
NAMES = {"acc": "ACC", "nmi": "NMI", "ari": "ARI", "trust": "Trust", "cont": "Cont", "rre": "RRE",
         "drmse": "dRMSE", "lgd": "LGD", "cra": "CRA", "seconds": "time (s)"}


@dataclass
class Row:
    method: str                      # the method item, e.g. "dcn:lam=0.1"
    data: str                        # the data label
    point: dict                      # the grid point ({} without a grid)
    seeds: list[int] = field(default_factory=list)          # seeds whose trial is done
    run_ids: list[str] = field(default_factory=list)        # the runs of those seeds, in order
    values: dict[str, list[float]] = field(default_factory=dict)  # column -> per-seed values
    not_done: list[tuple[int, str, str]] = field(default_factory=list)  # (seed, state, error)

    @property
    def label(self) -> str:
        return self.method + (f" [{point_label(self.point)}]" if self.point else "")

    def stat(self, column: str) -> tuple[float, float, float] | None:
        """(median, min, max) over the seeds that have the column, or None."""
        vals = [v for v in self.values.get(column, []) if v is not None and math.isfinite(v)]
        if not vals:
            return None
        return statistics.median(vals), min(vals), max(vals)


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def collect(sweep: Sweep) -> list[Row]:
    """One row per (method item, grid point, data set), in the plan's order."""
    rows: dict[tuple, Row] = {}
    for t in sweep.trials():
        key = (t["data_label"], t["method_label"], point_label(t.get("point") or {}))
        row = rows.setdefault(key, Row(t["method_label"], t["data_label"], t.get("point") or {}))
        status = {}
        if t.get("run_id"):
            try:
                status = RunDir(sweep.store.path_of(t["run_id"])).read_status()
            except Exception:  # noqa: BLE001 - a bad run id or folder is a trial not done
                status = {}
        state = status.get("state") if status else t.get("state", "pending")
        if state != "done":
            row.not_done.append((t["seed"], state or "missing", status.get("error") or t.get("error") or ""))
            continue
        n = len(row.seeds)
        row.seeds.append(t["seed"])
        row.run_ids.append(t["run_id"])
        scores = {k: _number(v) for k, v in (status.get("metrics") or {}).items()}
        scores["seconds"] = _number(status.get("seconds"))
        for k, v in scores.items():
            row.values.setdefault(k, [None] * n).append(v)
        for k, vals in row.values.items():  # a column this run lacks
            if len(vals) < n + 1:
                vals.append(None)
    return list(rows.values())


def columns(rows: list[Row]) -> list[str]:
    """ACC, NMI, ARI, then the geometry metrics, then the methods' own metrics, then the time;
    a column no row has is left out."""
    present = {k for r in rows for k, vals in r.values.items() if any(v is not None for v in vals)}
    own = sorted(present - set(CLUSTER) - set(GEOMETRY) - {"seconds"})
    return [c for c in (*CLUSTER, *GEOMETRY, *own, "seconds") if c in present]


def _cell(stat, column: str) -> str:
    if stat is None:
        return ""
    med, lo, hi = stat
    if column == "seconds":
        return f"{med:.1f} [{lo:.1f}, {hi:.1f}]"
    return f"{med:.3f} [{lo:.3f}, {hi:.3f}]"


def as_records(rows: list[Row]) -> list[dict]:
    """Flat records (the CSV): method, data, grid point, seeds done, then per column its
    median, min and max."""
    cols = columns(rows)
    out = []
    for r in rows:
        rec = {"method": r.method, "data": r.data, "grid": point_label(r.point),
               "seeds": len(r.seeds), "not_done": len(r.not_done)}
        for c in cols:
            s = r.stat(c)
            for name, v in zip(("median", "min", "max"), s or (None, None, None)):
                rec[f"{c}_{name}"] = v
        out.append(rec)
    return out


def to_csv(rows: list[Row]) -> str:
    records = as_records(rows)
    if not records:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
    w.writeheader()
    for rec in records:
        w.writerow({k: ("" if v is None else round(v, 6) if isinstance(v, float) else v)
                    for k, v in rec.items()})
    return buf.getvalue()


def _grid(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    cols = columns(rows)
    head = ["method", "data", "seeds"] + [NAMES.get(c, c) for c in cols]
    body = []
    for r in rows:
        seeds = f"{len(r.seeds)}" + (f" ({len(r.not_done)} not done)" if r.not_done else "")
        body.append([r.label, r.data, seeds] + [_cell(r.stat(c), c) for c in cols])
    return head, body


def to_markdown(rows: list[Row]) -> str:
    head, body = _grid(rows)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n\nEach cell: median [min, max] over the seeds whose run is done.\n"


def to_text(rows: list[Row]) -> str:
    head, body = _grid(rows)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*cells) for cells in body]
    lines.append("each cell: median [min, max] over the seeds whose run is done")
    for r in rows:
        for seed, state, error in r.not_done:
            lines.append(f"not done: {r.label} on {r.data} seed {seed}: {state}"
                         + (f" ({error})" if error else ""))
    return "\n".join(lines)


def write_tables(sweep: Sweep, rows: list[Row] | None = None) -> dict[str, str]:
    """table.csv and table.md next to the manifest; returns their paths."""
    from dcviz.runs.store import atomic_write_bytes
    rows = collect(sweep) if rows is None else rows
    paths = {"csv": sweep.path / "table.csv", "md": sweep.path / "table.md"}
    atomic_write_bytes(paths["csv"], to_csv(rows).encode())
    atomic_write_bytes(paths["md"], to_markdown(rows).encode())
    return {k: str(p) for k, p in paths.items()}
