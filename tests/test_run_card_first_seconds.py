"""A running run's card says something about its time from the first second: what earlier runs
of its method and data took here, else that its speed is being measured (it said nothing for
the ~40 s before the run's own speed was known)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pagekit import finished_run, open_page

from dcviz.runs.eta import MEASURING

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def waiting_method(monkeypatch):
    """A method that hands over its random-init snapshot, then waits to be let go: a run whose
    own speed is not known yet, for as long as a test looks at it."""
    from dcviz.methods import REGISTRY, Method, register
    go = threading.Event()

    class Waiter(Method):
        id = "waiter"
        title = "Waiter"
        summary = "Waits."
        paper = "A test"

        def fit(self, data, ctx):
            sub = ctx.subsample
            labels = np.zeros(data.n, dtype=np.int64)
            yield self.make_snapshot(data, ctx, epoch=0, step=0, stage="random init",
                                     labels=labels, latent_sub=data.x[sub, :2], progress=0.0)
            go.wait(60)
            yield self.make_snapshot(data, ctx, epoch=1, step=1, stage="done", labels=labels,
                                     latent_sub=data.x[sub, :2], progress=1.0)

        def predict(self, x):
            return np.zeros(len(x), dtype=np.int64)

        def embed(self, x):
            return np.asarray(x, dtype=np.float32)[:, :2]

        def state_dict(self):
            return {}

        def load_state_dict(self, d):
            pass

    register(Waiter)
    yield go
    go.set()
    REGISTRY.pop("waiter", None)


def card_text(at) -> str:
    return "\n".join(p.text for p in at.progress)


def wait_running(mgr, run_id):
    end = time.monotonic() + 60
    while not (mgr.live[run_id].state == "running" and mgr.live[run_id].count >= 1):
        assert time.monotonic() < end, mgr.live[run_id].state
        time.sleep(0.05)


def test_a_new_run_card_says_measuring_then_uses_earlier_runs(runs_dir, waiting_method):
    """Right after Launch the card said nothing about time ("random init · epoch 0 · 0%") until
    the run's own speed was known; now it says the speed is being measured, or, where the
    store has earlier runs of the method and data, what they predict."""
    from ui.shared import manager
    mgr = manager()
    run_id = mgr.launch("waiter", "digits", {}, "quick")
    wait_running(mgr, run_id)
    at = open_page("train", train_focus=run_id)
    assert not at.exception
    assert MEASURING in card_text(at)
    waiting_method.set()
    assert mgr.wait(run_id, timeout=60) == "done"
    # that run took a moment; one that took 20 minutes here is the history of the next
    finished_run(runs_dir, "waiter", 1200.0)
    waiting_method.clear()
    run_id = mgr.launch("waiter", "digits", {}, "quick")
    wait_running(mgr, run_id)
    at = open_page("train", train_focus=run_id)
    assert not at.exception
    text = card_text(at)
    assert "left, going by earlier runs" in text and MEASURING not in text, text
    waiting_method.set()
    assert mgr.wait(run_id, timeout=60) == "done"
