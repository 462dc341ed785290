"""The method contract: configs with UI hints, snapshots, the training context, the registry.

A method is a class with an ``id`` and a ``Config`` dataclass. ``fit(data, ctx)`` is a generator
that yields one :class:`Snapshot` per epoch (or per clustering iteration). The run engine
(:mod:`dcviz.runs`) writes each snapshot to disk and hands it to the page; the CLI and the
sklearn-style facade drive the same generator without threads.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np
import torch

from dcviz import metrics as M


class ConfigError(ValueError):
    """A config value that cannot work (k < 2, a negative rate, an unknown field...)."""


class RunStopped(Exception):
    """Raised by ``ctx.check()`` when the user stops a run; the engine saves and marks it stopped."""


# --------------------------------------------------------------------------- configs

def param(default, help: str, *, min=None, max=None, step=None, choices=None, advanced=False,
          log=False, label=None, auto=None):
    """A config field with its UI hints, so the Train page can build a form for any method.

    ``min``/``max`` are also enforced by :meth:`BaseConfig.validate`. ``auto``: (value, word)
    for a number that stands for a choice made at run time (``(-1, "automatic")``): the form
    shows the word, never the number.
    """
    meta = dict(help=help, min=min, max=max, step=step, choices=choices, advanced=advanced,
                log=log, label=label, auto=auto)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class BaseConfig:
    """Fields common to every method. Subclasses add their own, with paper defaults."""

    n_clusters: int = param(10, "Number of clusters k.", min=2, max=100, step=1)
    seed: int = param(0, "Random seed: the same seed and config give the same run.", min=0, step=1)
    device: str = param("auto", "Where to train: auto picks CUDA, then MPS, then CPU.",
                        choices=["auto", "cpu", "cuda", "mps"], advanced=True)
    subsample: int = param(2000, "Points kept in each snapshot's latent view (same points every "
                           "epoch).", min=100, max=20000, step=100, advanced=True)

    # Overrides on top of the paper defaults. "quick" is the CLI and app default.
    presets: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "paper": {}}
    #: fields inherited from a shared config that this method does not use: forms leave them
    #: out, and configs that carry them (older runs, ``--set``) are still accepted
    unused: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def fields_info(cls) -> list[dict]:
        """Field name, type, default and UI hints, in declaration order."""
        out = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            out.append(dict(name=f.name, type=type(default).__name__, default=default, **f.metadata))
        return out

    @classmethod
    def from_preset(cls, preset: str = "quick", **overrides) -> "BaseConfig":
        if preset not in cls.presets:
            raise ConfigError(f"unknown preset {preset!r}; choose one of {sorted(cls.presets)}")
        values = {**cls.presets[preset], **overrides}
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict) -> "BaseConfig":
        """Build a config from plain values (JSON, a form, ``--set k=v``), coercing types."""
        if not isinstance(values, dict):
            raise ConfigError(f"a config is an object of field: value pairs, got {_shown(values)}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(known)}")
        kwargs = {}
        for name, value in values.items():
            f = known[name]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            kwargs[name] = _coerce(name, value, default)
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self, n_samples: int | None = None) -> None:
        """Raise :class:`ConfigError` for values no run can use."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            lo, hi, choices = f.metadata.get("min"), f.metadata.get("max"), f.metadata.get("choices")
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"{f.name} must be a finite number, got {value}")
            if lo is not None and isinstance(value, (int, float)) and value < lo:
                raise ConfigError(f"{f.name} must be at least {lo}, got {value}")
            if hi is not None and isinstance(value, (int, float)) and value > hi:
                raise ConfigError(f"{f.name} must be at most {hi}, got {value}")
            if choices is not None and value not in choices:
                raise ConfigError(f"{f.name} must be one of {choices}, got {value!r}")
        if n_samples is not None and self.n_clusters > n_samples:
            raise ConfigError(f"n_clusters={self.n_clusters} is larger than the number of samples "
                              f"({n_samples}); choose k <= N")


def _coerce(name, value, default):
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return str(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: float(10 ** 400)
        kind = {bool: "true or false", int: "a whole number", float: "a number",
                str: "text"}.get(type(default), type(default).__name__)
        raise ConfigError(f"{name} expects {kind}, got {_shown(value)}") from None
    return value


def _shown(value, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages: the repr of an integer of more
    than 4,300 digits itself raises ValueError."""
    try:
        text = repr(value)
    except ValueError:
        return "an integer too long to show"
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --------------------------------------------------------------------------- snapshots

@dataclass
class Snapshot:
    """What a method hands the page once per epoch.

    ``latent`` and ``assign`` cover the run's fixed subsample (``ctx.subsample``), the same points
    every epoch. ``extras`` hold method-specific arrays or floats (eigenvalues, V, mu, ...).
    ``progress`` is the fraction of the whole run done, for progress bars.
    """

    epoch: int
    step: int
    stage: str
    latent: np.ndarray
    assign: np.ndarray
    losses: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    progress: float = 0.0


# --------------------------------------------------------------------------- typed extras

class ExtrasError(TypeError):
    """A snapshot's extras do not match the method's Extras class."""


@dataclass
class Extras:
    """The type of a method's snapshot extras: subclasses declare one field per key, typed
    ``np.ndarray``, ``float`` or ``str``; ``X | None = None`` where some stage lacks it.

    The run store checks each snapshot against its method's class as it writes it, and the
    method's lens reads ``Extras.from_snapshot(snap).name`` rather than ``snap.extras["name"]``,
    so a renamed key fails the run that writes it, not a view drawn later.
    """

    @classmethod
    def check(cls, extras: Mapping[str, Any]) -> None:
        """Raise :class:`ExtrasError` for an unknown key, a missing one or a value of the wrong
        kind."""
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(extras) - set(fields))
        if unknown:
            raise ExtrasError(f"{cls.__name__} has no field(s) {unknown}; declare them")
        for name, f in fields.items():
            if name not in extras or extras[name] is None:
                required = (f.default is dataclasses.MISSING
                            and f.default_factory is dataclasses.MISSING)
                if required:
                    raise ExtrasError(f"{cls.__name__}.{name} is missing")
                continue
            kind, value = _extra_kind(hints[name]), extras[name]
            if kind is np.ndarray:
                ok = (isinstance(value, (np.ndarray, list, tuple))
                      and np.asarray(value).dtype != object)
            elif kind is float:
                ok = isinstance(value, (int, float, np.integer, np.floating))
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ExtrasError(f"{cls.__name__}.{name} must be {kind.__name__}, got "
                                  f"{type(value).__name__}")

    @classmethod
    def from_snapshot(cls, snap: "Snapshot"):
        """The snapshot's extras as an instance of this class (checked first)."""
        cls.check(snap.extras)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in snap.extras.items() if k in names})

    @classmethod
    def history(cls, rows) -> "Extras":
        """The float fields over a run's metrics rows (metrics.jsonl keeps every snapshot's
        numbers as "scalars"), as an instance whose float fields hold arrays, NaN where a row
        lacks the value; the other fields are None. For curves, without opening snapshots."""
        hints = typing.get_type_hints(cls)
        values = {}
        for f in dataclasses.fields(cls):
            if _extra_kind(hints[f.name]) is float:
                values[f.name] = np.array([_number((r.get("scalars") or {}).get(f.name))
                                           for r in rows], dtype=float)
            else:
                values[f.name] = None
        return cls(**values)


def _number(v) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")


def _extra_kind(hint) -> type:
    """np.ndarray, float or str, from a field's type (``X`` or ``X | None``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if hint not in (np.ndarray, float, str):
        raise TypeError(f"an Extras field is np.ndarray, float or str (or X | None), not {hint}")
    return hint


# --------------------------------------------------------------------------- context

def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' was asked for, but no CUDA GPU is available; use 'auto'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device='mps' was asked for, but MPS is not available; use 'auto'")
    return torch.device(name)


class Context:
    """What a running method may use: device, seeded RNGs, the subsample, pause/stop, checkpoints.

    The engine passes a Context whose ``check`` blocks while paused and raises RunStopped when
    stopped. A bare Context (CLI, notebooks, tests) never pauses.
    """

    def __init__(self, seed: int = 0, device: str | torch.device = "cpu",
                 subsample: np.ndarray | None = None, pause_event: threading.Event | None = None,
                 stop_event: threading.Event | None = None, on_checkpoint=None,
                 resume: dict | None = None):
        self.seed = int(seed)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.subsample = subsample
        self._paused = pause_event  # set = running, clear = paused
        self._stop = stop_event
        self._on_checkpoint = on_checkpoint
        #: a killed run's :meth:`resume_record`, from its checkpoint, until fit reaches the
        #: point it was taken at (:meth:`resume_point`); None for a fresh run
        self.resume = resume
        self._optimizers: dict[str, torch.optim.Optimizer] = {}
        self._position: dict | None = None

    def check(self) -> None:
        """Call inside long loops: blocks while paused, raises RunStopped once stopped."""
        if self._stop is not None and self._stop.is_set():
            raise RunStopped()
        if self._paused is not None:
            while not self._paused.wait(timeout=0.2):
                if self._stop is not None and self._stop.is_set():
                    raise RunStopped()
            if self._stop is not None and self._stop.is_set():
                raise RunStopped()

    def checkpoint(self) -> None:
        """Ask the engine to save the method's state now."""
        if self._on_checkpoint is not None:
            self._on_checkpoint()

    # -- resuming a killed run. A method that can resume says, as it yields each snapshot, where
    # fit stands (:meth:`at`); the engine keeps that with the next checkpoint, together with
    # the optimisers' states and the generators' (:meth:`resume_record`). A resumed run runs
    # fit again from the top with the checkpoint's weights: it skips the phases done before
    # (:attr:`resume_phase`), and where the checkpoint was taken it gets back the optimisers'
    # and generators' states and the position (:meth:`resume_point`), and goes on from there.
    # Only ctx's two generators are saved: methods draw from nothing else (torch's, numpy's
    # and Python's global generators are shared by every run of the process, so one run's
    # checkpoint must not set them).

    def at(self, phase: str, **where) -> None:
        """Say where fit stands as it yields a snapshot: the ``phase`` ("pretrain", "cluster")
        and what is done in it, plain values and tensors only. A snapshot yielded without it
        makes no point to resume from."""
        self._position = {"phase": str(phase), **where}

    def take_position(self) -> dict | None:
        """The position given for the snapshot just yielded, if any (the engine's side)."""
        position, self._position = self._position, None
        return position

    @property
    def resume_phase(self) -> str | None:
        """The phase a resumed run has still to reach (None: a fresh run, or already there)."""
        return self.resume["position"]["phase"] if self.resume else None

    def resume_point(self, phase: str, **optimizers: torch.optim.Optimizer) -> dict | None:
        """Call where ``phase`` starts its loop, once its optimisers exist (and before anything
        draws from the generators). Registers the optimisers, whose states go into checkpoints
        from now on. When the run resumes in ``phase``: loads their saved states and the
        generators', and returns the position given with :meth:`at`; else returns None."""
        self._optimizers = dict(optimizers)
        if self.resume_phase != phase:
            return None
        record, self.resume = self.resume, None
        saved = record.get("optimizers") or {}
        if set(saved) != set(optimizers):
            raise ValueError(f"the checkpoint holds optimiser(s) {sorted(saved)} for phase "
                             f"{phase!r}; this fit has {sorted(optimizers)}")
        for name, opt in optimizers.items():
            opt.load_state_dict(saved[name])
        self.generator.set_state(record["rng"]["torch"])
        self.rng.bit_generator.state = record["rng"]["numpy"]
        return dict(record["position"])

    def resume_record(self, position: dict) -> dict:
        """What a checkpoint keeps to resume from ``position``: it, the registered optimisers'
        states and the generators' states (tensors, dicts, numbers: weights_only loads it)."""
        return {"position": position,
                "optimizers": {k: o.state_dict() for k, o in self._optimizers.items()},
                "rng": {"torch": self.generator.get_state(),
                        "numpy": self.rng.bit_generator.state}}

    def randperm(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator)

    def seed_int(self) -> int:
        """A fresh int seed for libraries that take one (sklearn's random_state)."""
        return int(self.rng.integers(0, 2**31 - 1))


def choose_subsample(n: int, size: int, seed: int) -> np.ndarray:
    """The fixed, sorted subsample of point indices used by every snapshot of a run."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


# --------------------------------------------------------------------------- methods

REGISTRY: dict[str, type["Method"]] = {}


def register(cls):
    """Class decorator: make a method available under its ``id``."""
    if not getattr(cls, "id", None):
        raise TypeError(f"{cls.__name__} has no id")
    if cls.estimator:
        if not cls.estimator.isidentifier():
            raise TypeError(f"{cls.__name__}.estimator must be a Python name, got {cls.estimator!r}")
        for other in REGISTRY.values():
            if other.estimator == cls.estimator and other.id != cls.id:
                raise TypeError(f"estimator name {cls.estimator!r} is taken by {other.id!r}")
    REGISTRY[cls.id] = cls
    return cls


class Method:
    """Base class of every method. See DESIGN.md, "Method".

    Subclasses set ``id``, ``title``, ``paper``, ``Config``, and implement ``build``, ``fit``,
    ``embed``, ``predict``. The class also carries everything the app and the package say about
    the method (card, picture, try-it data, suited data, estimator name), so that adding a method
    means adding its module and its lens, and nothing else. ``build`` creates the networks from the data's shape, so that a saved
    checkpoint can be rebuilt without the data: ``m = cls(cfg); m.build(dim, image_shape);
    m.load_state_dict(sd)``.
    """

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Config: ClassVar[type[BaseConfig]] = BaseConfig
    #: the type of its snapshots' extras (the base declares none)
    Extras: ClassVar[type[Extras]] = Extras

    # What the app and the package say about the method; "" or () means "none".
    #: public name of its sklearn-style estimator: ``dcviz.<estimator>``
    estimator: ClassVar[str] = ""
    #: Home's card: what the user will see, in one sentence ("" = no card)
    card: ClassVar[str] = ""
    #: the card's picture, a file in assets/
    picture: ClassVar[str] = ""
    #: the built-in data set of its paper (or the nearest one built in): Home's "Try it" button
    #: launches it on this, and the Train page preselects it when the method is chosen
    try_it: ClassVar[str] = ""
    #: the data set ids it suits; the data registry's ``suits`` lists are made from these
    suits: ClassVar[tuple[str, ...]] = ()
    #: whether a killed run of it can go on from its last checkpoint: its fit says where it
    #: stands with ``ctx.at`` at every snapshot and picks up there (``ctx.resume_point``)
    resumable: ClassVar[bool] = False
    #: how long its quick preset took on the digits on an idle 2-core CPU, pretraining into an
    #: empty store included, e.g. "25 s" (the Train page's Preset help; "" = not measured)
    quick_time: ClassVar[str] = ""
    #: one line for each preset of its own (neither quick nor paper): what it is for
    preset_notes: ClassVar[dict[str, str]] = {}

    def __init__(self, config: BaseConfig | None = None, **overrides):
        if config is None:
            config = self.Config.from_preset("quick", **overrides)
        elif overrides:
            config = self.Config.from_dict({**config.to_dict(), **overrides})
        self.config = config
        self.device = resolve_device(config.device)
        self.input_dim: int | None = None
        self.image_shape: tuple | None = None

    # -- the contract
    def build(self, input_dim: int, image_shape: tuple | None) -> None:
        self.input_dim, self.image_shape = int(input_dim), (tuple(image_shape) if image_shape else None)

    def fit(self, data, ctx: Context) -> Iterator[Snapshot]:
        raise NotImplementedError

    def embed(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, x: np.ndarray) -> np.ndarray | None:
        """Soft assignments (N, k) where the method has them; None otherwise."""
        return None

    def fit_labels(self, x: np.ndarray) -> np.ndarray:
        """The labels the last snapshot gives the training data ``x``: ``predict(x)``, unless
        the method labels its training data by another rule than new points (MLC)."""
        return self.predict(x)

    def state_dict(self) -> dict:
        raise NotImplementedError

    def load_state_dict(self, d: dict) -> None:
        raise NotImplementedError

    # -- helpers for subclasses
    def tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    def make_snapshot(self, data, ctx: Context, *, epoch: int, step: int, stage: str,
                      labels: np.ndarray, latent_sub: np.ndarray, losses: dict | None = None,
                      extras: dict | None = None, metrics: dict | None = None,
                      progress: float = 0.0) -> Snapshot:
        """Assemble a snapshot: ACC/NMI/ARI of ``labels`` (all N points) against the true labels.

        ``latent_sub`` are the features of ``ctx.subsample`` only.
        """
        sub = ctx.subsample if ctx.subsample is not None else np.arange(len(labels))
        m = dict(metrics or {})
        if data.y is not None:
            m.update(M.cluster_scores(data.y, labels))
        return Snapshot(epoch=int(epoch), step=int(step), stage=stage,
                        latent=np.asarray(latent_sub, dtype=np.float32),
                        assign=np.asarray(labels)[sub].astype(np.int64),
                        losses={k: float(v) for k, v in (losses or {}).items()},
                        metrics={k: float(v) for k, v in m.items()},
                        extras=dict(extras or {}), progress=float(min(max(progress, 0.0), 1.0)))

