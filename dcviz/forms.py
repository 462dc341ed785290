"""Form fields without a browser: one :class:`Field` type for a method's config, a data set's
options and a lens's options, and the way back from widget values to config values.

The UI kit (ui/fields.py) draws a Field as the matching Streamlit widget; everything that can be
decided without one lives here, so it is tested with plain pytest.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

from dcviz.methods.base import ConfigError


@dataclass
class Field:
    """One form field. ``kind`` picks the widget: int, float, bool, select, text, list (a
    comma-separated list), json (a JSON object)."""

    name: str
    label: str
    kind: str
    default: Any
    help: str
    advanced: bool = False
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: list | None = None
    format: str | None = None
    slider: bool = False            # an int with both bounds, drawn as a slider
    labels: dict | None = None      # what a select shows for each choice (default: the choice)
    auto: Any = None                # a number that means a choice made at run time ...
    auto_label: str = ""            # ... and the word the form shows for it (an empty box)

    def initial(self) -> Any:
        """The widget's starting value (lists and dicts as text)."""
        if self.kind == "list":
            return ", ".join(str(v) for v in self.default)
        if self.kind == "json":
            return json.dumps(self.default)
        return self.default

    def value(self, widget_value):
        """The config value of a widget's value: an empty number box is the ``auto`` value."""
        return self.auto if widget_value is None and self.auto is not None else widget_value

    def accepts(self) -> str:
        """What a number field accepts, in words: "a whole number from 2 to 100"."""
        what = "a whole number" if self.kind == "int" else "a number"
        lo, hi = (None if b is None else _num_text(b) for b in (self.min, self.max))
        if lo is not None and hi is not None:
            return f"{what} from {lo} to {hi}"
        if lo is not None:
            return f"{what} of at least {lo}"
        if hi is not None:
            return f"{what} of at most {hi}"
        return what

    def problem(self, widget_value) -> str | None:
        """Why a number field's widget value is refused (out of its bounds, or not a whole
        number), in words that name the field and what it accepts; None when it is fine. The
        Train form's widgets have no bounds of their own (a browser refuses a bounded widget's
        bad value without telling the page, so Launch would silently do nothing): this says
        it, next to the Launch button."""
        v = self.value(widget_value)
        if self.kind not in ("int", "float") or v is None or v == self.auto \
                or isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        bad = (not math.isfinite(v) or (self.min is not None and v < self.min)
               or (self.max is not None and v > self.max)
               or (self.kind == "int" and not float(v).is_integer()))
        if not bad:
            return None
        also = f", or an empty box for {self.auto_label}" if self.auto is not None else ""
        return f"{self.label} is {_num_text(v)}: it must be {self.accepts()}{also}."

    def show(self, choice) -> str:
        """A select's text for one choice."""
        if self.labels and choice in self.labels:
            return self.labels[choice]
        return str(choice)


def _num_text(v) -> str:
    """A bound or value as a person writes it: 2, 0.5, 1e-05."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def _label(name: str) -> str:
    return name.replace("_", " ")


# --------------------------------------------------------------------------- a method's config

def config_fields(config_cls, preset: str = "quick", overrides: dict | None = None) -> list[Field]:
    """One field per field of ``config_cls`` (a BaseConfig subclass) that the method uses (not
    its ``unused``), with the preset's values (and ``overrides``, e.g. k from the data set) as
    defaults."""
    presets = getattr(config_cls, "presets", {}) or {}
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(presets)}")
    values = {**presets[preset], **(overrides or {})}
    unused = set(getattr(config_cls, "unused", ()))
    return [_config_field(info, values.get(info["name"], info["default"]))
            for info in config_cls.fields_info() if info["name"] not in unused]


def _config_field(info: dict, default) -> Field:
    name = info["name"]
    help_text = info.get("help") or f"{_label(name)} (no description given)"
    lo, hi, step, choices = info.get("min"), info.get("max"), info.get("step"), info.get("choices")
    f = Field(name=name, label=info.get("label") or _label(name), kind="text", default=default,
              help=help_text, advanced=bool(info.get("advanced")))
    if choices:
        f.kind, f.choices = "select", list(choices)
        if default not in f.choices:
            f.choices = [default] + f.choices
    elif isinstance(default, bool):
        f.kind = "bool"
    elif isinstance(default, int):
        f.kind, f.step = "int", int(step) if step else 1
        lo = _auto(f, info.get("auto"), lo)
        f.min, f.max = _bounds(f.default if f.default is not None else lo, lo, hi, int)
    elif isinstance(default, float):
        f.kind = "float"
        lo = _auto(f, info.get("auto"), lo)
        f.min, f.max = _bounds(f.default if f.default is not None else lo, lo, hi, float)
        small = default != 0 and abs(default) < 1e-2
        f.format = "%.2e" if (info.get("log") or small) else "%.4f"
        # One step moves the leading digit (a log-scaled field: the whole decade).
        f.step = float(step) if step else _float_step(default, 0 if info.get("log") else 1)
    elif isinstance(default, (list, tuple)):
        f.kind = "list"
        f.help += " (a comma-separated list)"
    elif isinstance(default, dict):
        f.kind = "json"
        f.help += " (a JSON object)"
    return f


def _auto(f: Field, auto, lo):
    """A number field whose special value means "decided at run time" (DCN's latent_dim 0, the
    GAN's -1s): the form shows an empty box with the word instead of the number, and its lower
    bound is the first real value (the special one sits just below the real range)."""
    if not auto:
        return lo
    f.auto, f.auto_label = auto[0], str(auto[1])
    f.help += f" Leave the box empty for {f.auto_label}."
    if f.default == f.auto:
        f.default = None
    return auto[0] + 1 if lo is not None and lo <= auto[0] else lo


def _bounds(default, lo, hi, cast):
    """Widget bounds that never exclude the default (Streamlit refuses such a widget; the
    config's own validation still reports a bad value)."""
    lo = cast(lo) if lo is not None and default >= lo else None
    hi = cast(hi) if hi is not None and default <= hi else None
    if lo is not None and hi is not None and lo > hi:
        return None, None
    return lo, hi


def _float_step(v: float, below: int = 1) -> float:
    return float(10 ** (math.floor(math.log10(abs(v))) - below)) if v else 0.01


# --------------------------------------------------------------------------- a data set's options

def data_option_fields(entry: dict) -> list[Field]:
    """Fields for a data set's own options (sizes, noise...), from list_datasets()."""
    fields = []
    for name, o in (entry.get("options") or {}).items():
        kind, default, help_text = o.get("kind"), o.get("default"), o.get("help", "")
        if name == "n":
            continue  # the method's subsample and the data set's size cover it
        if kind == "int" and default is not None:
            lo, hi = _bounds(default, o.get("min"), o.get("max"), int)
            label = "data seed" if name == "seed" else _label(name)
            fields.append(Field(name, label, "int", int(default), help_text, min=lo, max=hi, step=1))
        elif kind == "float" and default is not None:
            lo, hi = _bounds(default, o.get("min"), o.get("max"), float)
            fields.append(Field(name, _label(name), "float", float(default), help_text, min=lo,
                                max=hi, step=_float_step(default), format="%.4f"))
        elif kind == "choice" and o.get("choices"):
            fields.append(Field(name, _label(name), "select", default, help_text,
                                choices=list(o["choices"])))
    return fields


# --------------------------------------------------------------------------- a lens's options

def lens_option_fields(options, runs: Sequence[dict] = (), run_label=str) -> list[Field]:
    """Fields for a lens's Options. A "run" option offers the given runs (labelled with
    ``run_label``) and None; an int with both bounds is a slider."""
    fields = []
    for o in options:
        help_text = o.help or o.label
        if o.kind == "toggle":
            fields.append(Field(o.name, o.label, "bool", bool(o.default), help_text))
        elif o.kind == "int" and getattr(o, "auto", None):
            f = Field(o.name, o.label, "int", o.default, help_text, min=o.min, max=o.max, step=1)
            lo = _auto(f, o.auto, o.min)
            f.min = lo
            fields.append(f)
        elif o.kind == "int":
            default = int(o.default if o.default is not None else (o.min or 0))
            slider = o.min is not None and o.max is not None and o.min < o.max
            if slider:
                default = min(max(default, o.min), o.max)
            fields.append(Field(o.name, o.label, "int", default, help_text, min=o.min, max=o.max,
                                step=1, slider=slider))
        elif o.kind == "run":
            from dcviz.runs.labels import distinct, id_tag
            by_id = {r["run_id"]: r for r in runs}
            label = distinct(list(by_id), lambda i: run_label(by_id[i]), tag=id_tag, front=True)
            labels = {None: "(none)", **{i: label(i) for i in by_id}}
            fields.append(Field(o.name, o.label, "select", None, help_text,
                                choices=list(labels), labels=labels))
        elif o.choices:
            choices = list(o.choices)
            default = o.default if o.default in choices else choices[0]
            fields.append(Field(o.name, o.label, "select", default, help_text, choices=choices))
    return fields


# --------------------------------------------------------------------------- reading a form back

def read_form(fields: Sequence[Field], values: dict) -> dict:
    """Turn widget values back into config values; ConfigError for text that does not parse.

    Only fields present in ``values`` are returned. A number outside its field's bounds is a
    ConfigError that names each such field and what it accepts (:meth:`Field.problem`); the
    config's ``from_dict`` does the type coercion and its own range checks after this."""
    problems = [p for f in fields if f.name in values for p in [f.problem(values[f.name])] if p]
    if problems:
        raise ConfigError(" ".join(problems))
    out = {}
    for f in fields:
        if f.name not in values:
            continue
        v = f.value(values[f.name])
        if f.kind == "list":
            out[f.name] = _parse_list(f, v)
        elif f.kind == "json":
            try:
                out[f.name] = json.loads(v) if isinstance(v, str) else v
            except json.JSONDecodeError as e:
                raise ConfigError(f"{f.name}: not valid JSON ({e.msg})") from None
        elif f.kind == "int" and isinstance(v, float):
            if not v.is_integer():
                raise ConfigError(f"{f.name} must be a whole number, got {v}")
            out[f.name] = int(v)
        else:
            out[f.name] = v
    return out


def _parse_list(f: Field, text) -> list:
    if isinstance(text, (list, tuple)):
        return list(text)
    items = [t.strip() for t in str(text).replace(";", ",").split(",") if t.strip()]
    proto = f.default[0] if f.default else None
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
            raise ConfigError(f"{f.name}: {t!r} is not a {type(proto).__name__}; write a "
                              f"comma-separated list like {f.initial()!r}") from None
    return out


def changed_values(fields: Sequence[Field], config: dict) -> dict:
    """Fields whose value differs from the field's default (for a short run summary)."""
    return {f.name: config[f.name] for f in fields
            if f.name in config and config[f.name] != f.value(f.default)}


# --------------------------------------------------------------------------- data choices

DATA_KINDS = {"built-in": "Built in", "synthetic": "Synthetic (from the papers)",
              "download": "Download (cached after the first time)"}


def data_groups(datasets: Sequence[dict]) -> dict[str, list[dict]]:
    """list_datasets() entries grouped by kind, in the order of DATA_KINDS."""
    groups: dict[str, list[dict]] = {k: [] for k in DATA_KINDS}
    for d in datasets:
        groups.setdefault(d.get("kind", "built-in"), []).append(d)
    return {k: v for k, v in groups.items() if v}


def data_caption(entry: dict, methods: dict, method: str | None = None) -> str:
    """The Train sidebar's words under the data set box (which shows the title only: with the
    size it was cut short; the description and the loaded set's line give the size): its
    description, and the methods that name it as a data set they suit. A method that names none
    (the baselines) is not left looking unsuited: the caption says it names none."""
    text = entry.get("description", "")
    suits = [methods[m].title for m in entry.get("suits") or () if m in methods]
    if suits:
        text += f" Suits: {', '.join(suits)}."
    cls = methods.get(method) if method else None
    if suits and cls is not None and not cls.suits:
        text += f" {cls.title} declares no data sets, so it is not listed."
    return text


def paper_data(cls) -> str:
    """The built-in data set the Train page preselects when method ``cls`` is chosen: its
    ``try_it`` (its paper's, as Home's Try-it launches it), else the first of its ``suits`` that
    is built in, not a download (the baselines: no card, so no ``try_it``); "" when none is."""
    from dcviz.data import REGISTRY
    if cls.try_it:
        return cls.try_it
    return next((d for d in cls.suits if d in REGISTRY and REGISTRY[d].kind != "download"), "")


def data_source(dataset_id: str) -> str:
    """Where the Train page offers a registered data set: "Built in" (built-in and synthetic
    sets) or "Download"."""
    from dcviz.data import REGISTRY
    entry = REGISTRY.get(dataset_id)
    return "Download" if entry is not None and entry.kind == "download" else "Built in"


def data_spec(dataset_id: str, options: dict, entry: dict | None = None) -> str | dict:
    """The spec to launch: the bare id when every option is at its default."""
    defaults = (entry or {}).get("defaults") or {}
    changed = {k: v for k, v in options.items() if defaults.get(k, object()) != v}
    return {"name": dataset_id, **changed} if changed else dataset_id


def guess_k(dataset) -> int | None:
    """The number of true classes, the natural default for k (None for unlabelled data)."""
    k = getattr(dataset, "n_classes", None)
    return int(k) if k and k >= 2 else None
