"""Sweeps: methods x data sets x seeds (x a grid of config values) as one job.

A clustering method is judged over many runs: the GAN paper reports the median, min and max over
10 runs, ACe/DeC the mean and spread over 10 or 20 pretrained autoencoders. A sweep is that job:

    sweep = Sweep.create(runs_root, Plan(methods=["dec", "dekm"], data=["digits"], seeds=[0, 1, 2]))
    run_sweep(sweep, jobs=2)            # or ray="auto" / an address: one Ray task per trial

Each trial is one ordinary run folder of the run store (the app opens it like any other run). A
manifest, ``<runs>/sweeps/<sweep_id>/sweep.json``, ties them together: the plan, and per trial
its method, data, seed, grid point, state and run id. Only the driver writes it, and always
whole, through a rename, so a sweep killed at any moment leaves a readable manifest.

While it runs, the driver refreshes a heartbeat, ``driver.beat`` next to the manifest, every
:data:`HEARTBEAT_EVERY` seconds. A driver on this machine is judged alive by its pid; one on
another machine (a runs folder that several machines share) by its heartbeat: silent for
:data:`DRIVER_LOST_AFTER` seconds, it is taken for dead (killed with kill -9, its machine gone)
and its queued trials are pending again (:func:`sync`).

Running a sweep again resumes it: a trial whose run folder says "done" is kept, every other
trial (never started, killed half-way, failed) runs again into a fresh folder and its stale
folder is removed. A trial that fails is marked failed with its error; the others go on.

Where trials run:

- ``jobs=1``: one after the other in this process;
- ``jobs=N``: a process pool (spawn) of N workers, each with its share of the CPU threads
  (left at torch's default, N trials each use every core and run ~10x slower);
- ``ray=ADDRESS`` (or ``"auto"``): each trial is a Ray task asking for ``cpus`` CPUs and, when
  its device is ``cuda``, one GPU. The workers get this process's dcviz package through Ray's
  ``py_modules``. With a runs folder the workers share, a task writes its run there directly;
  with ``ray_archive=True`` a task trains into a private temporary folder, exports the run as the
  archive that Explore's export writes (:mod:`dcviz.runs.archive`), and returns its bytes; the driver
  imports it with the same checks as an upload.

The papers' table over a sweep is :mod:`dcviz.runs.table`.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from dcviz.runs.store import RUN_ID_RE, RunDir, RunStore, _pid_alive, atomic_write_json, new_run_id

MANIFEST = "sweep.json"
SWEEPS = "sweeps"            # the folder of sweeps inside the run store's root
RAY_MISSING = ("Ray is not installed. Sweeps on a Ray cluster need it: "
               "pip install -r requirements-ray.txt")
FINAL = ("done", "failed")
HEARTBEAT = "driver.beat"    # in the sweep's folder: refreshed by its driver while it runs
HEARTBEAT_EVERY = 30.0       # seconds between two heartbeats
DRIVER_LOST_AFTER = 600.0    # a driver on another machine silent this long (s) counts as dead


#: What every trial of a manifest must hold, and of which type (checked on every read).
TRIAL_FIELDS = {"id": str, "method": str, "method_label": str, "data_label": str, "seed": int,
                "state": str, "point": dict, "config": dict, "preset": str,
                "run_id": (str, type(None))}


class SweepError(ValueError):
    """A sweep that cannot be planned, opened or run; the message says why."""


# =========================================================================== parsing (CLI, bench)

MAX_SEED = 2**32 - 1         # numpy's seeds are 32-bit
MAX_SEEDS = 10_000           # seeds of one sweep (each one is a trial per method and data set)


def parse_seeds(text: str | int | list) -> list[int]:
    """``"0-4"``, ``"0,2,5"``, ``"0-2,7"``, ``3`` or a list: the seeds, in order, no repeats.
    Each seed is in 0..2**32-1 and there are at most 10,000 (checked before a range is built)."""
    if isinstance(text, int):
        text = [text]
    if isinstance(text, (list, tuple)):
        parts = [(int(s), int(s)) for s in text]
    else:
        parts = []
        for part in str(text).split(","):
            part = part.strip()
            lo, dash, hi = part.partition("-")
            try:
                parts.append((int(lo), int(hi)) if dash else (int(part), int(part)))
            except ValueError:
                raise SweepError(f"seeds: {part!r} is not a number or a range such as 0-4") from None
    total = 0
    for lo, hi in parts:
        if lo < 0 or hi > MAX_SEED or hi < lo:
            raise SweepError(f"seeds: {lo}-{hi} is not a range of seeds in 0..{MAX_SEED}")
        total += hi - lo + 1
        if total > MAX_SEEDS:
            raise SweepError(f"seeds: more than {MAX_SEEDS:,} seeds in {str(text)[:80]!r}")
    seeds = [s for lo, hi in parts for s in range(lo, hi + 1)]
    if not seeds:
        raise SweepError(f"seeds: give non-negative numbers or ranges, e.g. 0-4, got {text!r}")
    return list(dict.fromkeys(seeds))


def check_run_options(jobs: int = 1, threads: int | None = None, cpus: int = 1) -> None:
    """--jobs, --threads and --cpus are whole numbers of at least 1 (SweepError otherwise)."""
    for name, value in (("--jobs", jobs), ("--threads", threads), ("--cpus", cpus)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise SweepError(f"{name} must be at least 1, got {value!r}")


def split_items(values: list[str] | str) -> list[str]:
    """Comma-separated items, where an item may carry options after a colon.

    ``"digits,synth25:noise_std=1.9,scale=standardized"`` is two items: a piece with ``=`` and no
    ``:`` continues the options of the item before it. A JSON object is one item."""
    out: list[str] = []
    for value in [values] if isinstance(values, str) else values:
        value = value.strip()
        if value.startswith("{"):
            out.append(value)
            continue
        for piece in (p.strip() for p in value.split(",")):
            if not piece:
                continue
            if out and "=" in piece and ":" not in piece and ":" in out[-1]:
                out[-1] += "," + piece
            else:
                out.append(piece)
    return out


def parse_method_item(item: str) -> tuple[str, dict[str, str]]:
    """``"dcn"`` or ``"dcn:lam=0.1,epochs=5"``: the method id and that variant's own overrides."""
    name, _, rest = item.partition(":")
    own = {}
    for kv in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in kv:
            raise SweepError(f"method {item!r}: options go as field=value, got {kv!r}")
        k, v = kv.split("=", 1)
        own[k.strip()] = v.strip()
    return name.strip(), own


def parse_assignments(items: list[str] | None, what: str = "--set") -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SweepError(f"{what} expects field=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``["lam=0.1,1,10", "lr=1e-3,1e-4"]``: each field with the values it takes (a value
    given twice counts once). A field with no value (``lam=`` or ``lam=,``) is an error."""
    grid = {}
    for k, vs in parse_assignments(items, "--grid").items():
        values = list(dict.fromkeys(v.strip() for v in vs.split(",") if v.strip()))
        if not k or not values:
            raise SweepError(f"--grid {k}=: give the field and at least one value, e.g. {k or 'lam'}=0.1,1")
        grid[k] = values
    return grid


def _unique(items: list) -> list:
    """The items in order, each once (dicts and lists compared by their JSON)."""
    seen, out = set(), []
    for item in items:
        key = json.dumps(item, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


# =========================================================================== the plan

@dataclass
class Plan:
    """What a sweep runs: every method item on every data item, for every seed and grid point.

    ``data`` items are strings as the CLI takes them (an id, ``id:key=value``, a path, JSON), or
    ``(label, spec)`` pairs where the spec is a dict and the label names it in tables. ``sets``
    apply to every method that has the field; ``grid`` fields likewise multiply the trials of the
    methods that have them."""

    methods: list[str]
    data: list[Any]
    seeds: list[int]
    preset: str = "quick"
    sets: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)

    def __post_init__(self):
        # the same method, data set, seed or grid value twice would count a seed twice in the
        # tables: each is kept once
        self.methods = _unique(list(self.methods))
        self.data = _unique(list(self.data))
        self.seeds = _unique(list(self.seeds))
        self.grid = {k: _unique(list(v)) for k, v in self.grid.items()}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data"] = [list(x) if isinstance(x, tuple) else x for x in self.data]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        return cls(methods=list(d["methods"]), seeds=[int(s) for s in d["seeds"]],
                   data=[tuple(x) if isinstance(x, list) else x for x in d["data"]],
                   preset=d.get("preset", "quick"), sets=dict(d.get("sets") or {}),
                   grid={k: list(v) for k, v in (d.get("grid") or {}).items()})

    def default_id(self) -> str:
        """The same plan gives the same id, so the same command resumes the same sweep."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return "sweep-" + hashlib.sha1(blob).hexdigest()[:10]


def _data_item(item) -> tuple[str, Any]:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return str(item[0]), item[1]
    if isinstance(item, dict):
        return json.dumps(item, sort_keys=True), item
    return str(item), str(item)


def point_label(point: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in point.items())


def expand(plan: Plan) -> list[dict]:
    """The trials of a plan, validated before anything is written.

    Every data set is loaded and every config is built and checked (as ``train`` does), so a
    typo in a field name or a value out of range stops the sweep before its first run. k is the
    number of classes of the data set unless the plan sets ``n_clusters``."""
    from dcviz import data as D
    from dcviz.runs.engine import prepare
    from dcviz.methods import get_method

    if not plan.methods or not plan.data or not plan.seeds:
        raise SweepError("a sweep needs at least one method, one data set and one seed")
    methods = []
    for item in plan.methods:
        mid, own = parse_method_item(item)
        cls = get_method(mid)
        known = {f["name"] for f in cls.Config.fields_info()}
        bad = sorted(set(own) - known)
        if bad:
            raise SweepError(f"method {item!r}: {mid} has no field(s) {bad}")
        methods.append((item, mid, own, known))
    # a preset of one method only (the GAN's demo): say which method lacks it, and what all
    # share (the config's own words were "unknown preset 'demo'", naming no method)
    lacking = [get_method(mid).title for _, mid, *_ in methods
               if plan.preset not in get_method(mid).Config.presets]
    if lacking:
        common = sorted(set.intersection(*(set(get_method(mid).Config.presets)
                                           for _, mid, *_ in methods)))
        raise SweepError(f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} no "
                         f"{plan.preset!r} preset; every method of the sweep has "
                         f"{' and '.join(repr(p) for p in common)}: choose one of those")
    empty = sorted(k for k, v in plan.grid.items() if not v)
    if empty:
        raise SweepError(f"--grid: the field(s) {empty} have no value")
    everything = set().union(*(known for *_, known in methods))
    for what, keys in (("--set", plan.sets), ("--grid", plan.grid)):
        bad = sorted(set(keys) - everything)
        if bad:
            raise SweepError(f"{what}: no method of this sweep has the field(s) {bad}")
    datasets = []
    for item in plan.data:
        label, spec = _data_item(item)
        ds = D.load(D.parse_spec(spec) if isinstance(spec, str) else spec)
        datasets.append((label, ds))

    trials = []
    for (label, ds), (item, mid, own, known) in itertools.product(datasets, methods):
        grid = {k: v for k, v in plan.grid.items() if k in known}
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values))
            for seed in plan.seeds:
                config = {k: v for k, v in plan.sets.items() if k in known}
                if "n_clusters" not in config and "n_clusters" not in own and "n_clusters" not in point \
                        and ds.y is not None and (ds.n_classes or 0) >= 2:
                    config["n_clusters"] = ds.n_classes  # as `train` and the Train page do
                config.update(own)
                config.update(point)
                config["seed"] = seed
                prepare(mid, ds, dict(config), plan.preset)  # raises ConfigError now, not later
                trials.append({"id": f"{len(trials):04d}", "method": mid, "method_label": item,
                               "data": ds.spec, "data_label": label, "seed": seed,
                               "point": point, "config": config, "preset": plan.preset,
                               "state": "pending", "run_id": None, "attempts": 0, "error": None})
    if not trials:
        raise SweepError("this plan has no trial to run")
    return trials


# =========================================================================== the manifest

class Sweep:
    """A sweep's folder in the run store: its manifest, and the tables written next to it."""

    def __init__(self, root: str | Path, sweep_id: str):
        if not isinstance(sweep_id, str) or not RUN_ID_RE.match(sweep_id) or ".." in sweep_id:
            raise SweepError(f"not a valid sweep id: {sweep_id!r}")
        self.store = RunStore(root)
        self.sweep_id = sweep_id
        self.path = self.store.root / SWEEPS / sweep_id

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @classmethod
    def create(cls, root: str | Path | None, plan: Plan, name: str | None = None) -> "Sweep":
        """The sweep of this plan: a new one, or the existing one of the same id (to resume).

        An existing sweep of that id with another plan is an error, not a silent overwrite."""
        sweep = cls(RunStore(root).root, name or plan.default_id())
        if sweep.manifest_path.exists():
            if Plan.from_dict(sweep.read()["plan"]).to_dict() != plan.to_dict():
                raise SweepError(f"sweep {sweep.sweep_id!r} exists with another plan; give "
                                 "another --name, or the same methods, data, seeds and settings")
            return sweep
        trials = expand(plan)
        sweep.path.mkdir(parents=True, exist_ok=True)
        sweep.write({"format": 1, "sweep_id": sweep.sweep_id, "created": time.time(),
                     "plan": plan.to_dict(), "trials": trials, "driver": None})
        return sweep

    @classmethod
    def open(cls, root: str | Path | None, sweep_id: str) -> "Sweep":
        sweep = cls(RunStore(root).root, sweep_id)
        if not sweep.manifest_path.is_file():
            raise SweepError(f"no sweep {sweep_id!r} in {sweep.store.root / SWEEPS}")
        sweep.read()
        return sweep

    @classmethod
    def from_path(cls, path: str | Path) -> "Sweep":
        """A sweep from its folder or its manifest file (the CLI's ``table SWEEP``)."""
        p = Path(path)
        if p.name == MANIFEST:
            p = p.parent
        if not (p / MANIFEST).is_file() or p.parent.name != SWEEPS:
            raise SweepError(f"{path} is not a sweep folder (<runs>/{SWEEPS}/<id>/{MANIFEST})")
        return cls.open(p.parent.parent, p.name)

    def read(self) -> dict:
        try:
            m = json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SweepError(f"sweep {self.sweep_id}: {MANIFEST} is missing or broken ({e})") from None
        if not isinstance(m, dict) or not isinstance(m.get("trials"), list) \
                or not isinstance(m.get("plan"), dict):
            raise SweepError(f"sweep {self.sweep_id}: {MANIFEST} is not a sweep manifest")
        for i, t in enumerate(m["trials"]):
            bad = [k for k, kind in TRIAL_FIELDS.items() if not isinstance(t, dict)
                   or not isinstance(t.get(k), kind) or isinstance(t.get(k), bool) and kind is int]
            if bad:
                raise SweepError(f"sweep {self.sweep_id}: trial {i} of {MANIFEST} is damaged "
                                 f"(field(s) {bad})")
        return m

    def write(self, manifest: dict) -> None:
        manifest["updated"] = time.time()
        atomic_write_json(self.manifest_path, manifest)

    def trials(self) -> list[dict]:
        return self.read()["trials"]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.trials():
            out[t["state"]] = out.get(t["state"], 0) + 1
        return out


def list_sweeps(root: str | Path | None = None) -> list[dict]:
    """Every sweep in the store, newest first: id, created, plan, trial counts by state.
    A damaged manifest is listed with its error, never raised."""
    base = RunStore(root).root / SWEEPS
    rows = []
    for p in sorted(base.iterdir() if base.is_dir() else [], key=lambda p: p.name):
        if not (p / MANIFEST).is_file():
            continue
        try:
            s = Sweep(base.parent, p.name)
            m = s.read()
            counts: dict[str, int] = {}
            for t in m["trials"]:
                counts[t.get("state", "?")] = counts.get(t.get("state", "?"), 0) + 1
            rows.append({"sweep_id": p.name, "created": m.get("created", 0.0), "plan": m["plan"],
                         "trials": len(m["trials"]), "counts": counts, "error": None})
        except (SweepError, KeyError, TypeError) as e:
            rows.append({"sweep_id": p.name, "created": 0.0, "plan": {}, "trials": 0,
                         "counts": {}, "error": str(e)})
    return sorted(rows, key=lambda r: r["created"], reverse=True)


# =========================================================================== one trial

def run_trial(trial: dict, root: str | None, threads: int, run_id: str, sweep_id: str = "") -> dict:
    """Train one trial into ``root`` (a run store); with ``root=None``, into a private temporary
    store, and return the run as archive bytes (``"archive"``). Never raises: any error becomes
    a failed result with its text. Runs in the driver, a pool worker or a Ray worker."""
    import torch

    from dcviz import data as D
    from dcviz.runs.engine import create_run, execute, prepare

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    private = tempfile.mkdtemp(prefix="dcviz-trial-") if root is None else None
    rd = None
    try:
        store = RunStore(private or root)
        ds = D.load(trial["data"])
        cls, cfg = prepare(trial["method"], ds, dict(trial["config"]), trial["preset"])
        name = f"{trial['method_label']} on {trial['data_label']}"
        name += f" {point_label(trial['point'])}" if trial["point"] else ""
        rd = create_run(store, cls, cfg, ds, trial["preset"], name=f"{name} seed {trial['seed']}",
                        run_id=run_id)
        rd.update_config(sweep={"id": sweep_id, "trial": trial["id"]})
        cpu = time.process_time()
        status = execute(rd, cls, cfg, ds)
        out = {"state": status["state"], "error": status.get("error"),
               "seconds": status.get("seconds"), "cpu_seconds": time.process_time() - cpu,
               "run_id": rd.run_id}
        if private is not None:
            from dcviz.runs.archive import export_zip
            out["archive"] = export_zip(rd.path)
        return out
    except Exception as e:  # noqa: BLE001 - a trial's failure is recorded, the sweep goes on
        if rd is not None:
            rd.write_status("failed", error=f"{type(e).__name__}: {e}")
        return {"state": "failed", "error": f"{type(e).__name__}: {e}", "seconds": None,
                "run_id": rd.run_id if rd is not None else None}
    finally:
        torch.set_num_threads(previous)
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)


def _init_pool_worker(threads: int, parent: int | None = None) -> None:
    """A --jobs pool worker: its share of the threads, and it ends when the driver that made it
    dies (kill -9 leaves no one to stop it, and an orphan would hold its ~0.5 GB for ever)."""
    import threading

    import torch
    torch.set_num_threads(threads)
    if parent:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)  # its trial's run folder then reads "interrupted", run again next time
        threading.Thread(target=watch, name="dcviz-parent-watch", daemon=True).start()


def _process_pool(jobs: int, threads: int):
    """The pool of a --jobs sweep (spawn, not fork: a forked child of a process that has started
    torch's thread pool, or CUDA, can hang); each worker sets its share of the threads before
    its first trial and watches that this process lives."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_pool_worker, initargs=(threads, os.getpid()))


# =========================================================================== running a sweep

def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _run_dir_state(store: RunStore, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        return RunDir(store.path_of(run_id)).read_status().get("state") \
            if (store.path_of(run_id) / "config.json").exists() else None
    except Exception:  # noqa: BLE001 - an unreadable folder is a trial to run again
        return None


def _claim(sweep: Sweep, manifest: dict) -> None:
    """One driver per sweep: a second `sweep` of the same plan while one runs would train every
    trial twice and fight over the manifest."""
    d = manifest.get("driver") or {}
    me = (os.getpid(), socket.gethostname())
    if (d.get("pid"), d.get("host")) != me and _driver_alive(manifest, sweep.path):
        where = "" if d.get("host") == me[1] else (
            f" on {d.get('host')} (taken for gone {DRIVER_LOST_AFTER:.0f} s after its last "
            f"heartbeat, {sweep.path / HEARTBEAT})")
        raise SweepError(f"sweep {sweep.sweep_id} is being run by process {d['pid']}{where}; "
                         "wait for it or stop it first")
    manifest["driver"] = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}


class _Heartbeat:
    """The driver's sign of life for other machines: ``driver.beat`` (its driver record and the
    time, written whole through a rename, so its mtime is the last beat) is written at once and
    then every :data:`HEARTBEAT_EVERY` seconds by a daemon thread, until :meth:`stop`."""

    def __init__(self, sweep: Sweep, driver: dict):
        self.path = sweep.path / HEARTBEAT
        self.driver = dict(driver)
        self._stop = threading.Event()
        self._beat()  # before the manifest that names this driver is written
        self._thread = threading.Thread(target=self._loop, name=f"sweep-heartbeat-{sweep.sweep_id}",
                                        daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        try:
            atomic_write_json(self.path, {**self.driver, "at": time.time()})
        except Exception:  # noqa: BLE001 - a full or read-only disk: the next beat tries again
            pass

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY):
            self._beat()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        try:  # ours only: a driver that claimed the sweep since keeps its own
            if _beat_of(self.path, self.driver) is not None:
                self.path.unlink()
        except OSError:
            pass


def _beat_of(path: Path, driver: dict) -> float | None:
    """The mtime of the heartbeat at ``path`` if it is that driver's, else None."""
    try:
        mtime = path.stat().st_mtime
        beat = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(beat, dict) or any(beat.get(k) != driver.get(k)
                                         for k in ("pid", "host", "since")):
        return None
    return mtime


def run_sweep(sweep: Sweep, *, jobs: int = 1, threads: int | None = None, ray: str | None = None,
              ray_archive: bool = False, cpus: int = 1,
              on_result: Callable[[dict, dict], None] | None = None) -> dict[str, int]:
    """Run every trial that is not done yet; returns the counts of trial states at the end.

    ``threads``: torch threads per trial (default: this machine's cores shared among ``jobs``).
    ``ray``: a Ray address or "auto" (then ``cpus`` CPUs per task and ``ray_archive`` as above).
    ``on_result(trial, result)`` is called in this process as each trial ends."""
    check_run_options(jobs, threads, cpus)
    store = sweep.store
    manifest = sweep.read()
    _claim(sweep, manifest)
    busy = [t["run_id"] for t in manifest["trials"]
            if _run_dir_state(store, t.get("run_id")) in ("queued", "running", "paused")]
    if busy:  # e.g. the app's Compare methods is training them: never delete a live run
        raise SweepError(f"sweep {sweep.sweep_id}: {len(busy)} of its runs are still training in "
                         f"another process ({', '.join(busy[:3])}); wait for them or stop them")
    own_ray = _ray_connect(ray) if ray else False  # before any trial is marked queued
    beat = None
    try:
        beat = _Heartbeat(sweep, manifest["driver"])
        return _run(sweep, manifest, jobs=jobs, threads=threads, ray=ray,
                    ray_archive=ray_archive, cpus=cpus, on_result=on_result)
    finally:
        if beat is not None:
            beat.stop()
        if own_ray:
            import ray as ray_module
            ray_module.shutdown()


def _run(sweep: Sweep, manifest: dict, *, jobs, threads, ray, ray_archive, cpus,
         on_result) -> dict[str, int]:
    store = sweep.store
    todo = []
    taken = {t.get("run_id") for t in manifest["trials"]}
    for t in manifest["trials"]:
        state = _run_dir_state(store, t.get("run_id"))
        if state == "done":  # done, even when a killed driver never wrote it down
            t.update(state="done", error=None)
            continue
        stale = t.get("run_id")
        if isinstance(stale, str) and RUN_ID_RE.match(stale) and (store.root / stale).is_dir():
            shutil.rmtree(store.root / stale)  # a half-trained or failed attempt of ours
        run_id = new_run_id(t["method"], taken)
        taken.add(run_id)
        t.update(state="queued", run_id=run_id, error=None,
                 attempts=int(t.get("attempts") or 0) + 1)
        todo.append(t)
    sweep.write(manifest)

    reported: set[str] = set()
    results = None
    try:
        if ray:
            results = _on_ray(todo, store, sweep.sweep_id, ray_archive, max(1, cpus))
        elif jobs == 1:
            n = threads or cpu_count()
            results = ((t, run_trial(t, str(store.root), n, t["run_id"], sweep.sweep_id))
                       for t in todo)
        else:
            results = _on_pool(todo, store, sweep.sweep_id, jobs,
                               threads or max(1, cpu_count() // jobs))
        for trial, result in results:
            reported.add(trial["id"])
            if result.get("archive") is not None:
                result = _import_result(store, sweep.sweep_id, trial, result)
            trial.update(state="done" if result["state"] == "done" else "failed",
                         run_id=result.get("run_id") or trial["run_id"], error=result.get("error"),
                         seconds=result.get("seconds"), cpu_seconds=result.get("cpu_seconds"))
            if result["state"] not in ("done", "failed"):
                trial["error"] = f"the run ended {result['state']}"
            sweep.write(manifest)
            if on_result is not None:
                on_result(trial, result)
    finally:
        # Interrupted (Ctrl-C, an error, a lost cluster): stop what still runs for us, and put
        # every trial that never reported back to "pending", so that no trial stays "queued"
        # for ever and a run again picks it up (its half-written folder is removed then).
        if results is not None and hasattr(results, "close"):
            try:
                results.close()
            except Exception:  # noqa: BLE001 - the first error is the one to raise
                pass
        for t in todo:
            if t["id"] not in reported and t["state"] == "queued":
                t["state"] = "pending"
                _mark_cut_off(store, t.get("run_id"))
        manifest["driver"] = None
        sweep.write(manifest)
    return sweep.counts()


def _mark_cut_off(store: RunStore, run_id: str | None) -> None:
    """A trial this process was training when the sweep was cut off: its folder says
    "interrupted", not "running" under this (still living) process."""
    try:
        rd = RunDir(store.path_of(run_id)) if run_id else None
        if rd is None or not (rd.path / "config.json").exists():
            return
        status = rd.read_status(raw=True)
        if status.get("state") in ("queued", "running", "paused") and status.get("pid") == os.getpid():
            rd.write_status("interrupted", error="the sweep was interrupted")
    except Exception:  # noqa: BLE001 - a folder we cannot mend is run again all the same
        pass


def _on_pool(todo: list[dict], store: RunStore, sweep_id: str, jobs: int,
             threads: int) -> Iterator[tuple[dict, dict]]:
    from concurrent.futures import as_completed

    pool = _process_pool(jobs, threads)
    try:
        futures = {pool.submit(run_trial, t, str(store.root), threads, t["run_id"], sweep_id): t
                   for t in todo}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - a worker that died (memory, a signal)
                result = {"state": "failed", "error": f"worker died: {type(e).__name__}: {e}"}
            yield futures[fut], result
    except BaseException:  # the driver is cut off (Ctrl-C, an error, the caller closed us):
        # the trials not started are dropped and the running ones stopped, not waited for
        procs = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            try:
                proc.terminate()
            except Exception:  # noqa: BLE001 - already gone
                pass
        for proc in procs:  # reaped, so that their runs read "interrupted" at once
            try:
                proc.join(10)
            except Exception:  # noqa: BLE001
                pass
        raise
    pool.shutdown()


def _import_result(store: RunStore, sweep_id: str, trial: dict, result: dict) -> dict:
    """Archive mode: bring a trial's run home through the importer's checks."""
    from dcviz.runs.archive import ArchiveError, import_archive
    try:
        run_id = import_archive(store, result.pop("archive"), label=f"trial {trial['id']}")
    except ArchiveError as e:
        return {**result, "state": "failed", "error": f"its archive was refused: {e}", "run_id": None}
    store.update_config(run_id, sweep={"id": sweep_id, "trial": trial["id"]})
    return {**result, "run_id": run_id}


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _ray_is_local(address: str | None) -> bool:
    """Whether ``address`` means a Ray cluster on this machine (a new one, "auto" without a
    RAY_ADDRESS elsewhere, or a loopback host:port)."""
    if address in (None, "", "local"):
        return True
    if address == "auto":
        env = os.environ.get("RAY_ADDRESS", "").strip()
        if env in ("", "auto", "local"):
            return True
        address = env
    if "://" in address:  # ray://: Ray Client, whose driver is not a node of the cluster
        return False
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or address.startswith("[") \
        else address
    return host.strip("[]").lower() in LOOPBACK


def _ray_connect(address: str) -> bool:
    """Connect this process to the Ray cluster at ``address`` (start one for "local"); returns
    whether this call made the connection (and so must shut it down).

    On this machine everything stays on 127.0.0.1: this node is 127.0.0.1, with no dashboard,
    and Ray is kept from rewriting 127.0.0.1 to the machine's network address (it does so
    unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER / ray_constants.ENABLE_RAY_CLUSTER is off). A
    cluster on other machines is joined as Ray itself would. A cluster that cannot be reached
    is a SweepError."""
    try:
        import ray
        import ray._private.ray_constants as ray_constants
    except ImportError:
        raise SweepError(RAY_MISSING) from None
    import dcviz

    if ray.is_initialized():
        return False
    # py_modules ships this process's dcviz to every worker: the trials run the driver's code
    kwargs: dict[str, Any] = {"address": address, "log_to_driver": False, "runtime_env": {
        "py_modules": [str(Path(dcviz.__file__).resolve().parent)],
        "excludes": ["__pycache__", "*.pyc"]}}
    local = _ray_is_local(address)
    if local:
        kwargs.update(_node_ip_address="127.0.0.1", include_dashboard=False)
    env_key = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
    saved_env, saved_flag = os.environ.get(env_key), ray_constants.ENABLE_RAY_CLUSTER
    if local:
        os.environ[env_key] = "0"  # for the processes of a cluster that ray.init starts
        ray_constants.ENABLE_RAY_CLUSTER = False  # read when this driver resolves 127.0.0.1
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, TimeoutError) as e:
        if ray.is_initialized():
            ray.shutdown()
        where = "a new local cluster" if address in (None, "", "local") else f"{address!r}"
        raise SweepError(f"Ray: cannot connect to {where} ({type(e).__name__}: "
                         f"{' '.join(str(e).split())[:300]}). Start a cluster first, e.g. "
                         "ray start --head --node-ip-address 127.0.0.1 --include-dashboard "
                         "false, and give its address (host:port) or auto") from None
    finally:
        if local:
            ray_constants.ENABLE_RAY_CLUSTER = saved_flag
            if saved_env is None:
                os.environ.pop(env_key, None)
            else:
                os.environ[env_key] = saved_env
    return True


def _on_ray(todo: list[dict], store: RunStore, sweep_id: str, archive: bool,
            cpus: int) -> Iterator[tuple[dict, dict]]:
    """Each trial as a Ray task, on the cluster :func:`_ray_connect` joined."""
    import ray

    task = ray.remote(run_trial)
    refs = {}
    for t in todo:
        device = str(t["config"].get("device", "auto"))
        opts = {"num_cpus": cpus, "num_gpus": 1 if device == "cuda" else 0, "max_retries": 0}
        root = None if archive else str(store.root)
        refs[task.options(**opts).remote(t, root, cpus, t["run_id"], sweep_id)] = t
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                t = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - a task or its worker that died
                    result = {"state": "failed", "error": f"Ray task failed: {type(e).__name__}: {e}"}
                yield t, result
    except BaseException:  # cut off: the tasks not finished are cancelled, not left running
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished, or the cluster is gone
                pass
        raise


# =========================================================================== through the app's manager

def launch_on_manager(manager, sweep: Sweep) -> list[str]:
    """Queue every trial that is not done on a :class:`~dcviz.runs.manager.RunManager` (the app's
    "Compare methods"): its threads and its limit on runs at once then train them, and the page
    watches them like any run. Returns the run ids launched. :func:`sync` later reads their
    states back into the manifest."""
    manifest = sweep.read()
    launched = []
    for t in manifest["trials"]:
        state = _run_dir_state(sweep.store, t.get("run_id"))
        if state == "done":
            t.update(state="done", error=None)
            continue
        if state in ("queued", "running", "paused"):  # launched before and still going
            continue
        name = f"{t['method_label']} on {t['data_label']}" + (
            f" {point_label(t['point'])}" if t["point"] else "") + f" seed {t['seed']}"
        run_id = manager.launch(t["method"], t["data"], dict(t["config"]), t["preset"], name=name)
        sweep.store.update_config(run_id, sweep={"id": sweep.sweep_id, "trial": t["id"]})
        t.update(state="queued", run_id=run_id, error=None, attempts=int(t.get("attempts") or 0) + 1)
        launched.append(run_id)
    sweep.write(manifest)
    return launched


def compare_methods(manager, methods: list[str], data_spec, data_label: str,
                    preset: str = "quick", seeds=(0, 1, 2)) -> Sweep:
    """The Train page's "Compare methods": the methods on one data set over a few seeds, as a
    sweep whose trials the app's run manager trains. The same choice again is the same sweep
    (its finished and running trials are kept)."""
    plan = Plan(methods=list(methods), data=[(data_label, data_spec)], seeds=list(seeds),
                preset=preset)
    sweep = Sweep.create(manager.store.root, plan)
    launch_on_manager(manager, sweep)
    return sweep


def _driver_alive(manifest: dict, path: Path) -> bool:
    """Whether the process that runs the sweep in folder ``path`` (if any) lives. One on this
    machine: its pid says. One on another machine, whose pid cannot be checked from here: its
    heartbeat says, alive while it beat less than :data:`DRIVER_LOST_AFTER` seconds ago (no
    heartbeat of that driver at all: dead)."""
    d = manifest.get("driver")
    if not isinstance(d, dict) or not d.get("pid"):
        return False
    if d.get("host") != socket.gethostname():
        last = _beat_of(Path(path) / HEARTBEAT, d)
        return last is not None and time.time() - last < DRIVER_LOST_AFTER
    return _pid_alive(d.get("pid"))


def sync(sweep: Sweep) -> dict:
    """Bring the manifest's trial states up to date from the run folders (for sweeps whose
    trials run elsewhere: the app's manager, or a driver that was killed). Returns it.

    A trial marked queued (or running) whose run folder does not exist while no driver runs
    the sweep will never start: it is pending again (a driver killed with kill -9 leaves those;
    one on another machine is dead when its heartbeat is older than :data:`DRIVER_LOST_AFTER`)."""
    manifest = sweep.read()
    changed = False
    driver = None
    for t in manifest["trials"]:
        state = _run_dir_state(sweep.store, t.get("run_id"))
        new = {"done": "done", "failed": "failed", "stopped": "failed", "interrupted": "failed",
               "running": "running", "paused": "running", "queued": "queued"}.get(state or "")
        if new is None and t["state"] in ("queued", "running"):
            if driver is None:
                driver = _driver_alive(manifest, sweep.path)
            if not driver:
                new = "pending"
        if new and new != t["state"]:
            t["state"] = new
            changed = True
    if changed:
        try:
            sweep.write(manifest)
        except OSError:  # a full or read-only disk: the states shown are right all the same,
            pass         # and are read from the run folders again at the next look
    return manifest


def active(manifest: dict) -> bool:
    """Whether some trial of the sweep may still change (queued or running). Give it the
    manifest that :func:`sync` returns: a killed driver's trials are pending there."""
    return any(t["state"] in ("queued", "running") for t in manifest["trials"])
