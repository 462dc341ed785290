"""Run `python -m dcviz ...` and stop at a chosen write, to be killed there (kill -9 tests).

    python bench/holdpoint.py MOMENT MARKER EVERY -- train --method dekm ...

When the run reaches MOMENT it creates the file MARKER and sleeps until it is killed. EVERY sets
the engine's checkpoint interval (snapshots; 0 keeps the default). MOMENT is one of

    snapshot:K          just after snapshot K is written (before any checkpoint that follows it)
    tmp-snapshot:K      half-way through writing snapshot K: its temporary file is cut to half
    tmp-checkpoint:N    half-way through this process's N-th checkpoint write (cut to half)
    after-checkpoint:N  just after this process's N-th checkpoint is in place
    none                never: the command runs to its end

A real kill lands anywhere, but these moments are the ones a crash-safe writer must survive,
and a sleeping process is killed exactly there. Used by tests/test_resume.py and bench/crash.py.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from dcviz.runs import engine, store  # noqa: E402


def hold(marker: str) -> None:
    Path(marker).touch()
    while True:
        time.sleep(1)


def torn(path, marker: str) -> None:
    os.truncate(path, os.path.getsize(path) // 2)
    hold(marker)


def install(moment: str, marker: str) -> None:
    if moment == "none":
        return
    kind, n = moment.split(":")
    n = int(n)
    if kind == "snapshot":
        append = store.RunDir.append_snapshot

        def patched_append(self, *a, **k):
            i = append(self, *a, **k)
            if i == n:
                hold(marker)
            return i
        store.RunDir.append_snapshot = patched_append
    elif kind == "tmp-snapshot":
        savez = np.savez

        def patched_savez(file, *a, **k):
            savez(file, *a, **k)
            if str(file).endswith(f".{n:06d}.tmp.npz"):
                torn(file, marker)
        np.savez = patched_savez
    elif kind == "tmp-checkpoint":
        write, calls = store.write_file, []

        def patched_write(path, data):
            write(path, data)
            if str(path).endswith(".checkpoint.pt.tmp"):
                calls.append(path)
                if len(calls) == n:
                    torn(path, marker)
        store.write_file = patched_write
    elif kind == "after-checkpoint":
        save_checkpoint, calls = store.RunDir.save_checkpoint, []

        def patched_checkpoint(self, *a, **k):
            save_checkpoint(self, *a, **k)
            calls.append(1)
            if len(calls) == n:
                hold(marker)
        store.RunDir.save_checkpoint = patched_checkpoint
    else:
        raise SystemExit(f"unknown moment {moment!r}")


if __name__ == "__main__":
    moment, marker, every, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: holdpoint.py MOMENT MARKER EVERY -- dcviz arguments"
    if int(every) > 0:
        engine.CHECKPOINT_EVERY = int(every)
    install(moment, marker)
    from dcviz.cli import main
    sys.exit(main(args))
