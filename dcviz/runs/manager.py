"""RunManager: runs in background threads, a queue past a limit, pause/resume/stop, and listings.

One manager lives per process (the app keeps it in ``st.cache_resource``). Threads never touch
Streamlit: they write the run folder and a few plain Python fields that the page thread reads.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from dcviz.methods.base import ConfigError, Snapshot
from dcviz.runs.engine import (create_run, execute, not_interrupted, out_of_room, prepare,
                               prepare_resume)
from dcviz.runs.store import ACTIVE_STATES, RunDir, RunStore, RunStoreError, _pid_alive
from dcviz.safeio import no_room


def _thread_name(run_id: str) -> str:
    return f"dcviz-run-{run_id}"


def _thread_alive(run_id: str) -> bool:
    """Whether a thread of this process trains the run (one of this manager's, or of a manager
    that an earlier app session of this process made)."""
    return any(t.name == _thread_name(run_id) and t.is_alive() for t in threading.enumerate())


def seen_from_here(run_id: str, status: dict) -> dict:
    """``status`` (:meth:`RunDir.read_status`) as this process sees it. A run that status.json
    says is active under this process, with no thread of this process training it, is
    "interrupted": its thread ended without saying so on disk (a full disk refused even the
    status write, see :func:`dcviz.runs.engine.out_of_room`), or died with an earlier app
    session. Its pid is alive (it is ours), so :meth:`RunDir.read_status` alone would say
    "running" until the app restarts. Runs of this process train only in its RunManager's
    threads (the CLI trains in a process of its own)."""
    if (status.get("state") in ACTIVE_STATES and status.get("pid") == os.getpid()
            and not _thread_alive(run_id)):
        return {**status, "state": "interrupted"}
    return status


def _lower_priority() -> None:
    """Run this thread (and the torch threads it starts) below the web server and the browser.

    On a small machine a training thread at full priority starves the page that shows it; a
    nice value of 10 lets the page draw first, and training still gets every idle cycle.
    Linux only (per-thread nice values); elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


def _warm_up() -> None:
    from dcviz.nets import warm_up  # torch loads in this thread, not the caller's
    warm_up()


@dataclass
class LiveRun:
    """What the page polls for a run of this process. Written by its thread, read by the page."""

    run_id: str
    method: str
    data_name: str
    thread: threading.Thread | None = None
    pause_event: threading.Event = field(default_factory=threading.Event)  # set = may run
    stop_event: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"
    count: int = 0                       # snapshots written so far
    last_progress: float = 0.0           # of the latest snapshot
    first_snapshot_at: float | None = None
    launched_at: float = field(default_factory=time.time)
    error: str | None = None
    # held while ``state`` and status.json change together (pause/resume vs the run's end)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def progress(self) -> float:
        if self.state == "done":
            return 1.0
        return self.last_progress


class RunManager:
    def __init__(self, root=None, max_concurrent: int = 2):
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.store = RunStore(root)
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._resuming = threading.Lock()
        self.live: dict[str, LiveRun] = {}
        self.store.remove_stale_temps()
        threading.Thread(target=_warm_up, name="dcviz-warm-up", daemon=True).start()

    # ---------------------------------------------------------------- launching
    def launch(self, method_id: str, data_spec, config: dict | None = None, preset: str = "quick",
               name: str = "") -> str:
        """Validate and queue a run; returns its id at once. Bad input raises before any file
        is written (DataError, ConfigError)."""
        from dcviz import data as D  # imported here so the run store works without the data registry

        data = D.load(data_spec)
        cls, cfg = prepare(method_id, data, config, preset)
        self.store.check_writable()
        rd = create_run(self.store, cls, cfg, data, preset, name=name)
        live = LiveRun(rd.run_id, cls.id, data.name)
        self._start(live, rd, cls, cfg, data)
        return rd.run_id

    def _start(self, live: LiveRun, rd: RunDir, cls, cfg, data, resume=None) -> None:
        live.pause_event.set()
        thread = threading.Thread(target=self._work, args=(live, rd, cls, cfg, data, resume),
                                  name=_thread_name(rd.run_id), daemon=True)
        live.thread = thread
        with self._lock:
            self.live[rd.run_id] = live
        thread.start()

    def is_interrupted(self, run_id: str) -> bool:
        """Whether the run was cut off mid-training: queued, running or paused on disk, but
        neither this manager, nor a thread of this process, nor a live process of its own
        writes it."""
        live = self.live.get(run_id)
        if live is not None and live.state in ACTIVE_STATES:
            return False
        status = self.store.open(run_id).read_status(raw=True)
        if _thread_alive(run_id):
            return False
        if status.get("state") == "interrupted":  # said so on disk (a full disk, a cut-off sweep)
            return True
        if status.get("state") not in ACTIVE_STATES:
            return False
        pid = status.get("pid")
        return pid == os.getpid() or not _pid_alive(pid)

    def resume_interrupted(self, run_id: str) -> str:
        """Continue an interrupted run from its last checkpoint, in a thread of this process
        (see :func:`dcviz.runs.engine.prepare_resume`); returns its id. Raises ConfigError,
        DataError or RunStoreError with the reason, before anything on disk changes."""
        rd = self.store.open(run_id)
        if not self.is_interrupted(run_id):
            raise ConfigError(not_interrupted(run_id, rd.read_status()))
        plan = prepare_resume(rd, interrupted=True)
        self.store.check_writable()
        live = LiveRun(run_id, plan.cls.id, plan.data.name, count=plan.start)
        with self._resuming:  # a second click meanwhile finds the run live
            if not self.is_interrupted(run_id):
                raise ConfigError(not_interrupted(run_id, rd.read_status()))
            # status.json says who writes the run from now on: it is no longer interrupted (nor
            # out of disk: the error that said so goes)
            rd.write_status("queued", error=None)
            self._start(live, rd, plan.cls, plan.cfg, plan.data, resume=plan)
        return run_id

    def relaunch(self, run_id: str) -> str:
        """Run again with the same method, data, config and seed."""
        cfg = self.store.open(run_id).read_config()
        return self.launch(cfg["method"], cfg["data"], cfg["config"], preset=cfg.get("preset", "quick"),
                           name=(cfg.get("name") or run_id) + " (re-run)")

    def _work(self, live: LiveRun, rd: RunDir, cls, cfg, data, resume=None) -> None:
        _lower_priority()
        try:
            self._train(live, rd, cls, cfg, data, resume)
        except Exception as e:  # noqa: BLE001 - the run's own status writes failed
            # execute() turns every error of a method into a status; what escapes is the run
            # folder itself (a full disk before the first snapshot, a folder removed meanwhile).
            # The page must not show the run as running for ever.
            full = no_room(e, rd.path)
            status = out_of_room(rd, full, resumable=cls.resumable, lock=live.lock) \
                if full is not None else {
                "state": "failed", "error": f"the run folder could not be written: "
                                            f"{type(e).__name__}: {e}"}
            with live.lock:
                live.error, live.state = status["error"], status["state"]

    def _train(self, live: LiveRun, rd: RunDir, cls, cfg, data, resume=None) -> None:
        with self._slots:
            with live.lock:
                if live.stop_event.is_set():
                    live.state = rd.write_status("stopped", seconds=0.0)["state"]
                    return
                # disk and memory agree from the first write: a run paused while queued
                # starts as "paused"
                started = {} if resume is not None else {"started": time.time()}
                live.state = rd.write_status(
                    "running" if live.pause_event.is_set() else "paused", **started)["state"]

            def on_snapshot(index: int, snap: Snapshot) -> None:
                live.last_progress = snap.progress
                live.count = index + 1
                if live.first_snapshot_at is None:
                    live.first_snapshot_at = time.time()

            status = execute(rd, cls, cfg, data, pause_event=live.pause_event,
                             stop_event=live.stop_event, on_snapshot=on_snapshot,
                             status_lock=live.lock, resume=resume)
            with live.lock:
                live.error = status.get("error")
                live.state = status["state"]

    # ---------------------------------------------------------------- control
    def _get(self, run_id: str) -> LiveRun:
        live = self.live.get(run_id)
        if live is None:
            raise KeyError(f"run {run_id!r} is not running in this app")
        return live

    def pause(self, run_id: str) -> None:
        live = self._get(run_id)
        with live.lock:
            if live.state in ("queued", "running"):
                live.pause_event.clear()
                if live.state == "running":
                    # write_status keeps a terminal state that got there first; memory follows
                    # what is on disk
                    live.state = self._control_write(run_id, "paused")

    def resume(self, run_id: str) -> None:
        live = self._get(run_id)
        with live.lock:
            live.pause_event.set()
            if live.state == "paused":
                live.state = self._control_write(run_id, "running")

    def _control_write(self, run_id: str, state: str) -> str:
        """Write ``state`` (a pause or a resume, under the run's lock) unless the run's thread
        has ended meanwhile: an "interrupted" on disk (out of disk, written under the same lock)
        is kept, as write_status keeps a terminal state. Returns the state the run is in after
        (what is on disk, or ``state`` where a full disk refused the write)."""
        rd = RunDir(self.store.path_of(run_id))
        current = rd.read_status(raw=True)
        if current.get("state") == "interrupted":
            return "interrupted"
        try:
            return rd.write_status(state)["state"]
        except OSError as e:
            if no_room(e, rd.path) is None:
                raise
            # a full disk: the pause or resume is done all the same (the thread follows the
            # event); memory says so, status.json cannot. The page does not fail on it
            return state

    def stop(self, run_id: str) -> None:
        live = self._get(run_id)
        live.stop_event.set()
        live.pause_event.set()  # wake a paused run so that it can see the stop

    def stop_all(self) -> None:
        for run_id in list(self.live):
            self.stop(run_id)

    def wait(self, run_id: str, timeout: float | None = None) -> str:
        """Block until the run's thread ends (tests, CLI); returns its final state."""
        live = self._get(run_id)
        if live.thread is not None:
            live.thread.join(timeout)
        return live.state

    # ---------------------------------------------------------------- reading
    def state(self, run_id: str) -> str:
        live = self.live.get(run_id)
        if live is not None and live.state in ACTIVE_STATES:
            return live.state  # no file read while its thread trains it
        return self.status(run_id)["state"]

    def status(self, run_id: str) -> dict:
        """The run's status.json as this app sees it: the live state of a run this manager
        trains, and for one whose thread has ended, what it ended as with its error, even where
        status.json could not be written (a full disk: engine.out_of_room). A run written here
        whose thread is gone is never "running" (:func:`seen_from_here`)."""
        live = self.live.get(run_id)
        try:
            rd = self.store.open(run_id)
        except RunStoreError:  # its folder is gone: what memory says, if this app ran it
            if live is None:
                raise
            return {"state": live.state, **({"error": live.error} if live.error else {})}
        return self._overlay(live, rd.read_status(), run_id)

    def _overlay(self, live: LiveRun | None, status: dict, run_id: str) -> dict:
        if live is None:
            return seen_from_here(run_id, status)
        if live.state in ACTIVE_STATES:
            return {**status, "state": live.state}
        if status.get("state") == "damaged":
            return status
        # ended: status.json is either what the thread wrote last (the same state), or still
        # active under this process (a write the disk refused), or what another process wrote
        # after it (``dcviz resume`` in a terminal): that one is newer than memory
        if self.store.open(run_id).read_status(raw=True).get("pid") != os.getpid():
            return status
        out = {**status, "state": live.state}
        if live.error:
            out["error"] = live.error
        return out

    def active(self) -> list[LiveRun]:
        """Runs of this process that are queued, running or paused, oldest first."""
        return [r for r in self.live.values() if r.state in ACTIVE_STATES]

    def runs(self) -> list[dict]:
        """Every run in the store, with live state for runs of this process."""
        rows = self.store.list()
        for row in rows:
            live = self.live.get(row["run_id"])
            if live is not None and live.state in ACTIVE_STATES:
                row["state"] = live.state
                row["snapshots"] = max(row["snapshots"], live.count)
            elif live is not None and row["state"] != "damaged":
                # ended in this app: what it ended as, and why (a full disk that refused even
                # the status write), unless another process writes the run since
                status = self._overlay(live, {"state": row["state"], "error": row["error"]},
                                       row["run_id"])
                row["state"], row["error"] = status["state"], status.get("error") or None
            elif row["state"] in ACTIVE_STATES:
                # Active on disk, written by this process, but no thread here: its thread ended
                # unable to say so (a full disk), or died with a previous app session
                # (Streamlit reloads modules) -- treat as interrupted.
                status = self.store.open(row["run_id"]).read_status(raw=True)
                row["state"] = seen_from_here(row["run_id"], status)["state"]
        return rows

    def open(self, run_id: str) -> RunDir:
        return self.store.open(run_id)
