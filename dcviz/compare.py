"""Comparing runs: which runs may be compared, one shared epoch control, metrics, contingency.

Pure logic for the Compare page (no streamlit, no plotting; figures are in
:mod:`dcviz.viz.compare`). Runs are compared only on the same data set: the same data spec, so the
same points in the same order, which is what makes a contingency table between two runs'
clusterings (and a side-by-side picture) mean anything.

The shared control has three modes:

- ``epoch``: every run shows its last snapshot at or before the chosen epoch (runs that have not
  reached it yet hold their last one; a run that starts later shows its first);
- ``progress``: the same fraction of each run (for methods of different lengths);
- ``last``: each run's last snapshot.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from dcviz import measures as MS
from dcviz import metrics as M

MODES = {"epoch": "Same epoch", "progress": "Same progress", "last": "Each run's last snapshot"}
MAX_RUNS = 4
SCORE_KEYS = MS.SCORE_KEYS
#: Geometry metrics of DCRL and the baselines measured against it (dcviz.geometry), in this order.
GEOMETRY_KEYS = ("trust", "cont", "rre", "drmse", "lgd", "cra")
METRIC_NAMES = MS.NAMES


#: what a table shows for a value a run does not have
MISSING = "–"


class CompareError(ValueError):
    """Runs that cannot be compared; the message says why and what to choose instead."""


# --------------------------------------------------------------------------- which runs

def data_key(config: dict) -> str:
    """Runs with equal keys were trained on the same points (the same data spec)."""
    return json.dumps(config.get("data"), sort_keys=True, default=str)


def data_title(config: dict) -> str:
    spec = config.get("data")
    name = config.get("data_name") or "?"
    if isinstance(spec, dict):
        extra = {k: v for k, v in spec.items() if k not in ("name", "path", "seed", "label", "withheld")}
        if spec.get("seed") not in (None, 0):
            extra["seed"] = spec["seed"]
        if extra:
            return f"{name} ({', '.join(f'{k}={v}' for k, v in extra.items())})"
    return str(name)


def check_comparable(configs: Sequence[dict]) -> None:
    """CompareError unless there are 2..MAX_RUNS runs, all on the same data set."""
    if len(configs) < 2:
        raise CompareError("Choose at least two runs to compare.")
    if len(configs) > MAX_RUNS:
        raise CompareError(f"Choose at most {MAX_RUNS} runs; {len(configs)} are chosen.")
    keys = {data_key(c) for c in configs}
    if len(keys) > 1:
        from dcviz.runs.labels import method_title
        parts = [f"{method_title(c.get('method', '?'))} on {data_title(c)}" for c in configs]
        raise CompareError("These runs were trained on different data sets (" + "; ".join(parts)
                           + "). Runs can be compared only on the same data set, point for point: "
                             "choose runs of one data set.")


def compatible(configs: dict[str, dict], chosen: Sequence[str]) -> list[str]:
    """Run ids that may join ``chosen`` (all ids when nothing is chosen yet), in the given order."""
    if not chosen or chosen[0] not in configs:
        return list(configs)
    key = data_key(configs[chosen[0]])
    return [i for i, c in configs.items() if data_key(c) == key]


def default_selection(configs: dict[str, dict], n: int = 2) -> list[str]:
    """The newest runs (``configs`` is ordered newest first) sharing the data set of the newest
    run that has a partner; [] when no two runs share a data set."""
    seen: dict[str, list[str]] = {}
    for run_id, cfg in configs.items():
        seen.setdefault(data_key(cfg), []).append(run_id)
    for run_id, cfg in configs.items():
        group = seen[data_key(cfg)]
        if len(group) >= 2:
            return group[:n]
    return []


# --------------------------------------------------------------------------- the shared control

def timeline(rows_per_run: Sequence[Sequence[dict]], mode: str) -> list:
    """The values the shared slider steps through: every epoch any run has a snapshot at
    (``epoch``), or every percentage of progress (``progress``); [] for ``last``."""
    if mode == "epoch":
        return sorted({int(r.get("epoch", 0)) for rows in rows_per_run for r in rows})
    if mode == "progress":
        return sorted({_pct(r) for rows in rows_per_run for r in rows} | {0})
    if mode == "last":
        return []
    raise ValueError(f"unknown mode {mode!r}; one of {list(MODES)}")


def _pct(row: dict) -> int:
    return int(math.floor(100 * float(row.get("progress") or 0.0) + 1e-9))


@dataclass
class Pick:
    index: int | None    # the snapshot to show (None: the run has no snapshot)
    note: str = ""       # why it is not exactly the asked-for position, for people


def pick(rows: Sequence[dict], mode: str, value=None) -> Pick:
    """The snapshot of one run at the shared control's ``value``."""
    n = len(rows)
    if n == 0:
        return Pick(None, "no snapshot yet")
    if mode == "last" or value is None:
        return Pick(n - 1)
    if mode == "epoch":
        epochs = [int(r.get("epoch", 0)) for r in rows]
        at = [i for i, e in enumerate(epochs) if e <= int(value)]
        if not at:
            return Pick(0, f"starts at epoch {epochs[0]}")
        i = at[-1]
        if i == n - 1 and epochs[i] < int(value):
            return Pick(i, f"ends at epoch {epochs[i]}")
        return Pick(i)
    if mode == "progress":
        pcts = [_pct(r) for r in rows]
        at = [i for i, p in enumerate(pcts) if p <= int(value)]
        if not at:
            return Pick(0, f"first snapshot at {pcts[0]}%")
        return Pick(at[-1])
    raise ValueError(f"unknown mode {mode!r}; one of {list(MODES)}")


# --------------------------------------------------------------------------- metrics

def training_seconds(status: dict, now: float | None = None) -> float | None:
    """Seconds of training: the recorded total for an ended run, the time so far for a live one."""
    if status.get("seconds") is not None:
        return float(status["seconds"])
    started = status.get("started")
    if started and status.get("state") in ("running", "paused", "queued"):
        return max(0.0, (now or time.time()) - float(started))
    return None


def metric_columns(rows_per_run: Sequence[Sequence[dict]]) -> list[str]:
    """ACC, NMI, ARI, then the geometry metrics, then any other metric, where any run has it."""
    present: list[str] = []
    for rows in rows_per_run:
        for r in rows:
            for k, v in (r.get("metrics") or {}).items():
                if k not in present and isinstance(v, (int, float)):
                    present.append(k)
    ordered = [k for k in SCORE_KEYS + GEOMETRY_KEYS if k in present]
    return ordered + sorted(k for k in present if k not in ordered)


def metrics_table(entries: Sequence[dict], now: float | None = None) -> list[dict]:
    """One row per run for st.dataframe.

    Each entry: ``label``, ``method``, ``rows`` (metrics.jsonl), ``index`` (the snapshot shown),
    ``status`` (status.json). Metrics are those of the snapshot shown, named and scaled as
    :mod:`dcviz.measures` says (a share in percent); the time is the run's.
    """
    entries = [{**e, "rows": MS.without_placeholders(e["rows"])} for e in entries]
    cols = metric_columns([e["rows"] for e in entries])
    out = []
    for e in entries:
        rows, idx = e["rows"], e.get("index")
        row = rows[idx] if idx is not None and 0 <= idx < len(rows) else {}
        metrics = row.get("metrics") or {}
        secs = training_seconds(e.get("status") or {}, now)
        line = {"run": e["label"], "method": e.get("method", "?"),
                "state": (e.get("status") or {}).get("state", "?"),
                "snapshot": f"{idx + 1} of {len(rows)}" if idx is not None else MISSING,
                "epoch": row.get("epoch"), "stage": row.get("stage", "")}
        for k in cols:
            v = metrics.get(k)
            line[MS.title(k)] = None if v is None else round(MS.shown(k, v), 4)
        line["training time"] = _fmt_seconds(secs)
        line["seconds"] = None if secs is None else round(secs, 1)
        out.append(line)
    return out


def scores_by_run(table: Sequence[dict], hide: Sequence[str] = ("seconds",)) -> list[dict]:
    """:func:`metrics_table` turned on its side for a page: one row per measure, one column per
    run, headed by its ``run`` label. Two to four runs fit across a page where fifteen measures
    do not, and a measure a run does not record reads as a dash, not as "None"."""
    heads: list[str] = []
    for line in table:
        head, n = str(line["run"]), 2
        while head in heads:  # two runs with the same label keep a column each
            head, n = f"{line['run']} ({n})", n + 1
        heads.append(head)
    measures = [k for k in (table[0] if table else {}) if k != "run" and k not in hide]
    return [{"": k, **{h: _cell(line.get(k)) for h, line in zip(heads, table)}}
            for k in measures]


def _cell(v) -> str:
    if v is None or v == "":
        return MISSING
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return MISSING
    if s < 9.95:  # a tenth of a second: a run of 0.1 s read "0 s", as if it had not trained
        return f"{s:.1f} s"
    return f"{s:.0f} s" if s < 60 else f"{int(s // 60)} min {int(s % 60):02d} s"


# --------------------------------------------------------------------------- clusterings

def common_points(sub_a: np.ndarray, sub_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(samples both runs follow, their positions in run A's arrays, in run B's)."""
    common, ia, ib = np.intersect1d(np.asarray(sub_a), np.asarray(sub_b), assume_unique=True,
                                    return_indices=True)
    return common, ia, ib


@dataclass
class Contingency:
    table: np.ndarray          # (ka, kb) counts, columns ordered so matched pairs lie on the diagonal
    rows: list[int]            # run A's cluster ids
    cols: list[int]            # run B's cluster ids, in the table's column order
    matched: dict[int, int]    # A's cluster -> the B cluster it maps to (Hungarian)
    n: int                     # points compared
    agreement: float           # fraction of points in matched pairs
    nmi: float
    ari: float

    def records(self, name_a: str = "A", name_b: str = "B") -> list[dict]:
        """The table as rows for st.dataframe: one per cluster of A."""
        out = []
        for i, a in enumerate(self.rows):
            rec = {f"{name_a} cluster": a, "points": int(self.table[i].sum())}
            for j, b in enumerate(self.cols):
                rec[f"{name_b} {b}"] = int(self.table[i, j])
            # text, a dash where A has more clusters than B (a column of ints and a dash is
            # refused by the table's Arrow conversion, and shown degraded)
            rec[f"maps to {name_b}"] = str(self.matched[a]) if a in self.matched else MISSING
            out.append(rec)
        return out


def contingency(sub_a, assign_a, sub_b, assign_b) -> Contingency:
    """Counts of points in cluster i of run A and cluster j of run B, over the points both
    runs follow. Columns are ordered by the best one-to-one matching (Hungarian), so a
    diagonal table means the runs found the same clusters, whatever their ids."""
    common, ia, ib = common_points(sub_a, sub_b)
    if len(common) == 0:
        raise CompareError("the two runs follow no points in common, so their clusterings "
                           "cannot be compared point by point")
    a = np.asarray(assign_a)[ia]
    b = np.asarray(assign_b)[ib]
    rows = [int(v) for v in np.unique(a)]
    cols = [int(v) for v in np.unique(b)]
    table = np.zeros((len(rows), len(cols)), dtype=np.int64)
    np.add.at(table, (np.searchsorted(rows, a), np.searchsorted(cols, b)), 1)
    r, c = linear_sum_assignment(-table)
    matched = {rows[i]: cols[j] for i, j in zip(r, c)}
    order = [j for _, j in sorted(zip(r, c))] + [j for j in range(len(cols)) if j not in set(c)]
    table = table[:, order]
    cols = [cols[j] for j in order]
    diag = 0
    for i, a_id in enumerate(rows):
        if a_id in matched:
            diag += int(table[i, cols.index(matched[a_id])])
    agreement = diag / len(common)
    return Contingency(table=table, rows=rows, cols=cols, matched=matched, n=int(len(common)),
                       agreement=float(agreement), nmi=M.nmi(a, b), ari=M.ari(a, b))


def match_to(ref_sub, ref_assign, sub, assign) -> np.ndarray:
    """``assign`` relabelled so that each cluster takes the id of the reference run's cluster it
    overlaps most (one-to-one, Hungarian): the same colour then means the same group of points
    in side-by-side pictures. Clusters left unmatched keep ids above the reference's."""
    assign = np.asarray(assign)
    common, ia, ib = common_points(ref_sub, sub)
    if len(common) == 0:
        return assign.copy()
    ref_ids = np.unique(np.asarray(ref_assign))
    own_ids = np.unique(assign)
    table = np.zeros((len(own_ids), len(ref_ids)), dtype=np.int64)
    np.add.at(table, (np.searchsorted(own_ids, assign[ib]),
                      np.searchsorted(ref_ids, np.asarray(ref_assign)[ia])), 1)
    r, c = linear_sum_assignment(-table)
    mapping = {int(own_ids[i]): int(ref_ids[j]) for i, j in zip(r, c)}
    nxt = int(ref_ids.max(initial=-1)) + 1
    for v in own_ids:
        if int(v) not in mapping:
            mapping[int(v)] = nxt
            nxt += 1
    return np.array([mapping[int(v)] for v in assign], dtype=np.int64)


def records_dz_dx(method_id: str) -> bool:
    """Whether runs of ``method_id`` record d_Z - d_X (its Extras declare ``dz_minus_dx``)."""
    import dataclasses

    from dcviz.methods import REGISTRY
    extras = getattr(REGISTRY.get(method_id), "Extras", None)
    return extras is not None and "dz_minus_dx" in {f.name for f in dataclasses.fields(extras)}


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def dz_dx_missing(missing: Sequence[tuple[str, str]]) -> str:
    """What to say of the chosen runs that have no d_Z - d_X at the snapshot shown, given as
    (label, method id): that their method records none (and which methods do), or that this
    snapshot has none; "" when every run has values."""
    if not missing:
        return ""
    from dcviz.methods import REGISTRY
    never = [label for label, m in missing if not records_dz_dx(m)]
    here = [label for label, m in missing if records_dz_dx(m)]
    parts = []
    if never:
        doing = [c.title for c in REGISTRY.values() if records_dz_dx(c.id)]
        parts.append(f"{_and(never)} {'does' if len(never) == 1 else 'do'} not record d_Z − d_X"
                     + (f" (only {_and(doing)} {'does' if len(doing) == 1 else 'do'})"
                        if doing else ""))
    if here:
        parts.append(f"{_and(here)} {'has' if len(here) == 1 else 'have'} none at the snapshot "
                     "shown (no snapshot yet, or too few points for the geometry metrics)")
    return "Not in the histogram or the medians: " + "; ".join(parts) + "."


def histogram_data(snapshot_extras: dict, key: str = "dz_minus_dx") -> np.ndarray | None:
    """The d_Z - d_X values of a snapshot (DCRL, DEC, IDEC store them), or None."""
    v = snapshot_extras.get(key)
    if isinstance(v, np.ndarray) and v.ndim == 1 and v.size > 0:
        return v.astype(np.float64)
    return None
