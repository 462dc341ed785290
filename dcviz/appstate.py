"""Page logic that needs no browser: form specs from config dataclasses, run rows, choices.

The Streamlit pages (app.py, pages/*.py) stay thin: they ask this module what to show and how
to read back what the user entered, so all of it is tested with plain pytest.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from dcviz.methods.base import ConfigError

# --------------------------------------------------------------------------- the five methods

#: The small built-in data set each method suits (Home's "Try it" buttons).
TRY_IT = {"dekm": "digits", "dcrl": "manifolds", "mlc": "sphere2", "gan": "blobs8",
          "acedec": "synth25"}

#: The run Home's big button launches; ae-kmeans stands in only when DEKM is not installed.
DEFAULT_RUN = ("dekm", "digits", "quick")
FALLBACK_RUN = ("ae-kmeans", "digits", "quick")


@dataclass(frozen=True)
class MethodCard:
    id: str
    name: str
    paper: str
    see: str           # what the user will see, in one sentence
    picture: str       # file in assets/


CARDS = [
    MethodCard("dekm", "DEKM", "Deep Embedded K-Means",
               "k-means in a learned space, and the eigen-direction of the within-cluster "
               "scatter along which points are pulled to their centroids.", "dekm.svg"),
    MethodCard("dcrl", "DCRL", "Deep Clustering and Representation Learning that Preserves "
               "Geometric Structures",
               "Three stages: clusters become spheres, manifolds move apart, then their local "
               "shape comes back.", "dcrl.svg"),
    MethodCard("mlc", "MLC", "Unsupervised Manifold Linearizing and Clustering",
               "Each cluster straightened into its own subspace: the cosine matrix turns "
               "block-diagonal.", "mlc.svg"),
    MethodCard("gan", "GAN clustering", "Learning the Precise Feature for Cluster "
               "Assignment",
               "A generator with one row per cluster id: watch each row become one class.",
               "gan.svg"),
    MethodCard("acedec", "ACe/DeC", "Details (Don't) Matter: Isolating Cluster Information",
               "The latent space split into a cluster space and a shared space of details "
               "(light, pose, noise).", "acedec.svg"),
]


#: The most telling live panel of each method's lens on the Train page (DESIGN.md, "Train"),
#: found by a word of its title. A lens can name its own with a ``live`` attribute (a panel
#: title or index); otherwise its first panel is used.
LIVE_PANEL = {"dekm": "spectrum", "dcrl": "stage", "mlc": "cosine", "gan": "generated samples",
              "acedec": "beta_cs per"}


def pick_live_panel(method_id: str, panels: Sequence, live=None):
    """The panel the Train page shows live, from a lens's panels (None when there are none)."""
    if not panels:
        return None
    if isinstance(live, int) and not isinstance(live, bool) and 0 <= live < len(panels):
        return panels[live]
    if isinstance(live, str):
        for p in panels:
            if getattr(p, "title", "") == live:
                return p
    word = LIVE_PANEL.get(method_id)
    if word:
        for p in panels:
            if word.lower() in (getattr(p, "title", "") or "").lower():
                return p
    return panels[0]


def default_run(registered: Sequence[str]) -> tuple[str, str, str] | None:
    """(method, data, preset) of Home's big button, or None when neither method is installed."""
    for run in (DEFAULT_RUN, FALLBACK_RUN):
        if run[0] in registered:
            return run
    return None


# --------------------------------------------------------------------------- config forms

@dataclass
class WidgetSpec:
    """How to draw one config field: the page maps ``kind`` to a Streamlit widget."""

    name: str
    label: str
    kind: str                 # int, float, bool, select, text, list, json
    default: Any
    help: str
    advanced: bool = False
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: list | None = None
    format: str | None = None
    type: str = "str"

    def initial(self) -> Any:
        """The widget's starting value (lists and dicts as text)."""
        if self.kind == "list":
            return ", ".join(str(v) for v in self.default)
        if self.kind == "json":
            return json.dumps(self.default)
        return self.default


def _label(name: str) -> str:
    return name.replace("_", " ")


def widget_specs(config_cls, preset: str = "quick", overrides: dict | None = None) -> list[WidgetSpec]:
    """One :class:`WidgetSpec` per field of ``config_cls`` (a BaseConfig subclass), with the
    preset's values (and ``overrides``, e.g. k from the data set) as defaults."""
    presets = getattr(config_cls, "presets", {}) or {}
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(presets)}")
    values = {**presets[preset], **(overrides or {})}
    specs = []
    for info in config_cls.fields_info():
        name = info["name"]
        default = values.get(name, info["default"])
        help_text = info.get("help") or ""
        if not help_text:
            help_text = f"{_label(name)} (no description given)"
        lo, hi, step, choices = info.get("min"), info.get("max"), info.get("step"), info.get("choices")
        spec = WidgetSpec(name=name, label=info.get("label") or _label(name), kind="text",
                          default=default, help=help_text, advanced=bool(info.get("advanced")),
                          type=info.get("type", type(default).__name__))
        if choices:
            spec.kind, spec.choices = "select", list(choices)
            if default not in spec.choices:
                spec.choices = [default] + spec.choices
        elif isinstance(default, bool):
            spec.kind = "bool"
        elif isinstance(default, int):
            spec.kind = "int"
            spec.step = int(step) if step else 1
            spec.min, spec.max = _bounds(default, lo, hi, int)
        elif isinstance(default, float):
            spec.kind = "float"
            spec.min, spec.max = _bounds(default, lo, hi, float)
            small = default != 0 and abs(default) < 1e-2
            spec.format = "%.2e" if (info.get("log") or small) else "%.4f"
            if step:
                spec.step = float(step)
            elif default != 0:
                spec.step = float(10 ** (math.floor(math.log10(abs(default))) - (0 if info.get("log") else 1)))
            else:
                spec.step = 0.01
        elif isinstance(default, (list, tuple)):
            spec.kind = "list"
            spec.help += " (a comma-separated list)"
        elif isinstance(default, dict):
            spec.kind = "json"
            spec.help += " (a JSON object)"
        specs.append(spec)
    return specs


def _bounds(default, lo, hi, cast):
    """Widget bounds that never exclude the default (Streamlit refuses such a widget; the
    config's own validation still reports a bad value)."""
    lo = cast(lo) if lo is not None and default >= lo else None
    hi = cast(hi) if hi is not None and default <= hi else None
    if lo is not None and hi is not None and lo > hi:
        return None, None
    return lo, hi


def read_form(specs: Sequence[WidgetSpec], values: dict) -> dict:
    """Turn widget values back into config values; ConfigError for text that does not parse.

    Only fields present in ``values`` are returned. The config's ``from_dict`` does the type
    coercion and range checks after this."""
    out = {}
    for spec in specs:
        if spec.name not in values:
            continue
        v = values[spec.name]
        if spec.kind == "list":
            out[spec.name] = _parse_list(spec, v)
        elif spec.kind == "json":
            try:
                out[spec.name] = json.loads(v) if isinstance(v, str) else v
            except json.JSONDecodeError as e:
                raise ConfigError(f"{spec.name}: not valid JSON ({e.msg})") from None
        elif spec.kind == "int" and isinstance(v, float):
            if not v.is_integer():
                raise ConfigError(f"{spec.name} must be a whole number, got {v}")
            out[spec.name] = int(v)
        else:
            out[spec.name] = v
    return out


def _parse_list(spec: WidgetSpec, text) -> list:
    if isinstance(text, (list, tuple)):
        return list(text)
    items = [t.strip() for t in str(text).replace(";", ",").split(",") if t.strip()]
    proto = spec.default[0] if spec.default else None
    out = []
    for t in items:
        try:
            if isinstance(proto, bool):
                out.append(t.lower() in ("1", "true", "yes", "on"))
            elif isinstance(proto, int):
                out.append(int(t))
            elif isinstance(proto, float):
                out.append(float(t))
            else:
                try:
                    out.append(json.loads(t))
                except json.JSONDecodeError:
                    out.append(t)
        except ValueError:
            raise ConfigError(f"{spec.name}: {t!r} is not a {type(proto).__name__}; write a "
                              f"comma-separated list like {spec.initial()!r}") from None
    return out


def changed_values(specs: Sequence[WidgetSpec], config: dict) -> dict:
    """Fields whose value differs from the spec's default (for a short run summary)."""
    return {s.name: config[s.name] for s in specs if s.name in config and config[s.name] != s.default}


# --------------------------------------------------------------------------- data choices

DATA_KINDS = {"built-in": "Built in", "synthetic": "Synthetic (from the papers)",
              "download": "Download (cached after the first time)"}


def data_groups(datasets: Sequence[dict]) -> dict[str, list[dict]]:
    """list_datasets() entries grouped by kind, in the order of DATA_KINDS."""
    groups: dict[str, list[dict]] = {k: [] for k in DATA_KINDS}
    for d in datasets:
        groups.setdefault(d.get("kind", "built-in"), []).append(d)
    return {k: v for k, v in groups.items() if v}


def data_option_specs(entry: dict) -> list[WidgetSpec]:
    """Widgets for a data set's own options (sizes, noise...), from list_datasets()."""
    specs = []
    for name, o in (entry.get("options") or {}).items():
        kind = o.get("kind")
        default = o.get("default")
        if name == "n":
            continue  # the method's subsample and the data set's size cover it
        if kind == "int" and default is not None:
            lo, hi = _bounds(default, o.get("min"), o.get("max"), int)
            label = "data seed" if name == "seed" else _label(name)
            specs.append(WidgetSpec(name, label, "int", int(default), o.get("help", ""),
                                    min=lo, max=hi, step=1))
        elif kind == "float" and default is not None:
            lo, hi = _bounds(default, o.get("min"), o.get("max"), float)
            specs.append(WidgetSpec(name, _label(name), "float", float(default), o.get("help", ""),
                                    min=lo, max=hi, step=_float_step(default), format="%.4f"))
        elif kind == "choice" and o.get("choices"):
            specs.append(WidgetSpec(name, _label(name), "select", default, o.get("help", ""),
                                    choices=list(o["choices"])))
    return specs


def _float_step(v: float) -> float:
    return float(10 ** (math.floor(math.log10(abs(v))) - 1)) if v else 0.01


def data_spec(dataset_id: str, options: dict, entry: dict | None = None) -> str | dict:
    """The spec to launch: the bare id when every option is at its default."""
    defaults = (entry or {}).get("defaults") or {}
    changed = {k: v for k, v in options.items() if defaults.get(k, object()) != v}
    return {"name": dataset_id, **changed} if changed else dataset_id


def guess_k(dataset) -> int | None:
    """The number of true classes, the natural default for k (None for unlabelled data)."""
    k = getattr(dataset, "n_classes", None)
    return int(k) if k and k >= 2 else None


# --------------------------------------------------------------------------- runs

# Plain symbols that every font has (emoji are missing on some systems).
STATE_ICONS = {"queued": "…", "running": "▶", "paused": "‖", "stopped": "■", "done": "✓",
               "failed": "✗", "interrupted": "!", "unknown": "?"}

STATE_HELP = {
    "interrupted": "the process that trained it ended before the run finished; it opens up to "
                   "its last snapshot",
    "failed": "the method raised an error; the Run tab shows it",
    "stopped": "stopped by the user; it opens up to its last snapshot",
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


def run_label(row: dict) -> str:
    """One line for pickers: "✅ dekm on digits · 11:52:03 · NMI 0.83 (name)"."""
    icon = STATE_ICONS.get(row.get("state", "unknown"), "❔")
    parts = [f"{icon} {row.get('method', '?')} on {row.get('data', '?')}"]
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


def run_table(rows: Sequence[dict], limit: int | None = None) -> list[dict]:
    """Rows for a run list table (st.dataframe)."""
    out = []
    for row in list(rows)[:limit]:
        m = row.get("metrics") or {}
        out.append({
            "state": f"{STATE_ICONS.get(row.get('state', 'unknown'), '')} {row.get('state', '')}",
            "method": row.get("method", "?"), "data": row.get("data", "?"),
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


def snapshot_label(row: dict | None, index: int, count: int) -> str:
    if not row:
        return f"snapshot {index + 1} of {count}"
    return f"snapshot {index + 1} of {count} · epoch {row.get('epoch', '?')} · {row.get('stage', '')}"


# --------------------------------------------------------------------------- images

def upscale(img: np.ndarray, size: int = 112) -> np.ndarray:
    """Enlarge a small image by whole-pixel repetition (no blur), to about ``size`` pixels;
    values clipped to [0, 1]."""
    a = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    h, w = a.shape[:2]
    f = max(1, int(size // max(h, w)))
    a = np.repeat(np.repeat(a, f, axis=0), f, axis=1)
    return a


def point_caption(sample: int, cluster: int | None, label: str | None, dist: float | None = None) -> str:
    parts = [f"#{sample}"]
    if cluster is not None:
        parts.append(f"cluster {cluster}")
    if label is not None:
        parts.append(f"label {label}")
    if dist is not None:
        parts.append(f"d={dist:.3g}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- misc

def run_files(path) -> list[dict]:
    """The files of a run folder with sizes (snapshots summarised as one row)."""
    from pathlib import Path
    p = Path(path)
    rows = []
    if not p.is_dir():
        return rows
    for f in sorted(p.iterdir()):
        if f.name.startswith("."):
            continue
        if f.is_dir():
            files = [g for g in f.iterdir() if g.is_file() and not g.name.startswith(".")]
            total = sum(g.stat().st_size for g in files)
            rows.append({"file": f.name + "/", "size": _size(total), "what": f"{len(files)} files"})
        else:
            rows.append({"file": f.name, "size": _size(f.stat().st_size), "what": _FILE_WHAT.get(f.name, "")})
    return rows


_FILE_WHAT = {"config.json": "method, config, data spec, seed, versions",
              "status.json": "state, timings, final metrics, error text",
              "subsample.npy": "the fixed points every snapshot covers",
              "metrics.jsonl": "one line per snapshot: losses, metrics",
              "checkpoint.pt": "trained weights (loaded with weights_only=True)"}


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
