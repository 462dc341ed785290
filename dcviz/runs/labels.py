"""What the pages say about runs: one-line labels, table rows, states, times and file lists.

Plain strings; where a page shows one inside markdown it escapes it first (dcviz.plaintext.md), since a
run's name and tags are the user's text.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections import Counter
from typing import Callable, Hashable, Sequence

from dcviz.plaintext import format_bytes

# Plain symbols that every font has (emoji are missing on some systems).
STATE_ICONS = {"queued": "…", "running": "▶", "paused": "‖", "stopped": "■", "done": "✓",
               "failed": "✗", "interrupted": "!", "damaged": "✗", "unknown": "?"}

STATE_HELP = {
    "interrupted": "the process that trained it ended before the run finished; it opens up to "
                   "its last snapshot",
    "failed": "the method raised an error; the Run tab shows it",
    "stopped": "stopped by the user; it opens up to its last snapshot",
    "damaged": "its folder cannot be read (the reason is shown when it is opened); it can be "
               "deleted",
}


def format_time(ts: float | None) -> str:
    if not ts:
        return ""
    t = _dt.datetime.fromtimestamp(float(ts))
    now = _dt.datetime.now()
    return t.strftime("%H:%M:%S") if t.date() == now.date() else t.strftime("%Y-%m-%d %H:%M")


def format_seconds(s: float | None) -> str:
    if s is None:
        return ""
    s = float(s)
    if s < 60:
        return f"{s:.0f} s"
    return f"{int(s // 60)} min {int(s % 60):02d} s"


def data_title(name) -> str:
    """What every page calls a data set: the title of a registered one (the Train page's menu
    shows titles, so Home, run lists and captions do too); any other name (a user's file) as
    it is."""
    from dcviz.data import REGISTRY
    entry = REGISTRY.get(str(name))
    return entry.title if entry is not None else str(name)


def method_title(method_id) -> str:
    """What every page calls a method: its title ("DEC", "AE + k-means"), as the Train page's
    menu and the Home cards name it; an id no method here has (a run imported from elsewhere)
    as it is."""
    from dcviz.methods import REGISTRY
    cls = REGISTRY.get(str(method_id))
    return cls.title if cls is not None and cls.title else str(method_id)


def run_label(row: dict) -> str:
    """One line for pickers: "✓ DEKM on Digits (8x8) · 11:52:03 · NMI 0.830 · name"."""
    icon = STATE_ICONS.get(row.get("state", "unknown"), "?")
    parts = [f"{icon} {method_title(row.get('method', '?'))} on "
             f"{data_title(row.get('data', '?'))}"]
    when = format_time(row.get("created"))
    if when:
        parts.append(when)
    nmi = (row.get("metrics") or {}).get("nmi")
    if nmi is not None:
        parts.append(f"NMI {float(nmi):.3f}")
    if row.get("state") not in ("done",):
        parts.append(row.get("state", "unknown"))
    label = " · ".join(parts)
    name = row.get("name")
    return f"{label} · {name}" if name else f"{label} · {row.get('run_id', '')}"


def run_name(cfg: dict, run_id: str) -> str:
    """A run's name for a column head or a legend: its name, with its method and seed where the
    name does not say them already (a sweep names its runs "dec on digits seed 1", which read
    "dec on digits seed 1 · DEC (seed 1)"); without a name, method, seed and the id's end."""
    seed = cfg.get("seed")
    method = cfg.get("method", "?")
    base = method_title(method) + (f" (seed {seed})" if seed is not None else "")
    name = cfg.get("name")
    if not name:
        return f"{base} · {str(run_id)[-4:]}"
    low = str(name).lower()
    says_method = method.lower() in low or method_title(method).lower() in low
    says_seed = seed is None or re.search(rf"\bseed {re.escape(str(seed))}\b", low) is not None
    return name if says_method and says_seed else f"{name} · {base}"


def id_tag(run_id) -> str:
    """A run id's random end ("#86f4"), to tell apart runs whose labels are alike."""
    return f"#{str(run_id)[-4:]}"


def distinct(keys: Sequence[Hashable], label: Callable[[Hashable], str],
             tag: Callable[[Hashable], str] = str,
             front: bool = False) -> Callable[[Hashable], str]:
    """``label``, with ``tag(key)`` added where two keys share a label (in front with ``front``:
    a select box cuts long labels at its width, so a tag at the end may not be seen), and the
    whole key where even the tags meet. Streamlit's selectbox and multiselect keep a choice by
    its label, so two options with one label (two imports of one archive, two runs given one
    name) would be one option, and the second could not be chosen."""
    texts = {k: label(k) for k in keys}
    seen = Counter(texts.values())
    tags = {k: tag(k) for k in keys if seen[texts[k]] > 1}
    clash = Counter((texts[k], t) for k, t in tags.items())

    def shown(k: Hashable) -> str:
        text = texts[k] if k in texts else label(k)
        if seen[text] < 2:
            return text
        t = tags.get(k, tag(k))
        t = str(k) if clash[(text, t)] > 1 else t
        return f"{t} · {text}" if front else f"{text} · {t}"
    return shown


def run_table(rows: Sequence[dict], limit: int | None = None) -> list[dict]:
    """Rows for a run list table (st.dataframe)."""
    out = []
    for row in list(rows)[:limit]:
        m = row.get("metrics") or {}
        out.append({
            "state": f"{STATE_ICONS.get(row.get('state', 'unknown'), '')} {row.get('state', '')}",
            "method": method_title(row.get("method", "?")),
            "data": data_title(row.get("data", "?")),
            "started": format_time(row.get("created")),
            "snapshots": int(row.get("snapshots") or 0),
            "ACC": _maybe(m.get("acc")), "NMI": _maybe(m.get("nmi")), "ARI": _maybe(m.get("ari")),
            "time": format_seconds(row.get("seconds")),
            "run id": row.get("run_id", ""),
        })
    return out


def _maybe(v):
    return None if v is None else round(float(v), 3)


def pick_run(requested: str | None, known: Sequence[str]) -> str | None:
    """The run a page opens: the requested id when it exists, else the newest, else None."""
    if requested and requested in known:
        return requested
    return known[0] if known else None


def snapshot_position(row: dict | None) -> str:
    """Where in training a snapshot is, from its metrics.jsonl row: "epoch 4 · pretrain"; for a
    method that counts its own steps (:data:`dcviz.measures.STEP_NAMES`: DEKM's re-clusterings,
    whose snapshots' epochs go on from pretraining's), the step first: "re-clustering 29 (epoch
    49 of training)", the number the method's own views count in."""
    from dcviz.measures import STEP_NAMES
    row = row or {}
    epoch = row.get("epoch", "?")
    scalars = row.get("scalars") or {}
    for key, word in STEP_NAMES.items():
        step = scalars.get(key)
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            return f"{word} {int(step)} (epoch {epoch} of training)"
    return f"epoch {epoch} · {row.get('stage', '')}"


def snapshot_label(row: dict | None, index: int, count: int) -> str:
    """The snapshot slider's caption: "snapshot 3 of 9 · epoch 4 · pretrain"."""
    if not row:
        return f"snapshot {index + 1} of {count}"
    return f"snapshot {index + 1} of {count} · {snapshot_position(row)}"


def point_caption(sample: int, cluster: int | None, label: str | None, dist: float | None = None) -> str:
    parts = [f"#{sample}"]
    if cluster is not None:
        parts.append(f"cluster {cluster}")
    if label is not None:
        parts.append(f"label {label}")
    if dist is not None:
        parts.append(f"d={dist:.3g}")
    return " · ".join(parts)


def run_files(rd) -> list[dict]:
    """The run store's file list of a run (:meth:`RunDir.files`), sizes made readable."""
    return [{"file": f["name"], "size": format_bytes(f["bytes"]),
             "what": f"{f['count']} files" if f["name"].endswith("/") else f["what"]}
            for f in rd.files()]




def last_ended(rows: Sequence[dict]) -> str | None:
    """The run id of the run that finished or was stopped last (by its start plus its
    duration), from a run listing; None when no run has."""
    ended = [r for r in rows if r.get("state") in ("done", "stopped")]
    if not ended:
        return None
    return max(ended, key=lambda r: (r.get("created") or 0.0) + (r.get("seconds") or 0.0))["run_id"]
