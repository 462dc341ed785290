"""Shared fixtures for the page tests, the view tests and the lens AppTests.

Fixtures
--------
``runs_dir``        a fresh, empty run store for one test; ``DCVIZ_RUNS_DIR`` points at it.
``tiny_run``        a finished ``ae-kmeans`` run on ``digits`` (pretrain_epochs=3, a snapshot
                    every epoch: 4 snapshots), made once per test session with
                    ``dcviz.runs.execute``. It is a :class:`TinyRun` with ``root`` (its run
                    store), ``run_id``, ``rd`` (RunDir) and ``view`` (RunView).
``tiny_store``      like ``runs_dir`` but pointing ``DCVIZ_RUNS_DIR`` at the tiny run's store
                    (read-only use, please: other tests share it).
``make_run``        a factory: ``make_run(method, data, config, root=...)`` trains a run with
                    ``execute`` (no threads) and returns its TinyRun. Use tiny configs.
``app``             ``pagekit.open_page``: ``app(page, run=..., tab=..., **state)`` gives an
                    AppTest of app.py switched to that page and run once.

Helpers: ``from pagekit import open_page, page_text`` (tests/pagekit.py; not from conftest,
which is ambiguous because the repository root has a conftest.py too).

Opening a run in the Explore page (for lens AppTests)
-----------------------------------------------------
The page reads the run to open from the query parameter ``run`` (what links use) and keeps it
in ``st.session_state["explore_run"]``. Either works in a test::

    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["run"] = run_id            # or: at.session_state["explore_run"] = run_id
    at.run()
    at.switch_page("pages/explore.py").run()

or, with the fixtures here::

    def test_my_lens(make_run, app):
        run = make_run("dekm", "digits", {"pretrain_epochs": 2, "max_iter": 2})
        at = app("explore", run=run.run_id, tab="Lens", explore_index=1)
        assert not at.exception
        assert at.get("plotly_chart")        # each figure panel is one plotly_chart
        ...

Panels render as: figure -> plotly_chart (key ``lens:<method_id>:<panel number>``), image ->
``at.image``, table -> ``at.dataframe``; titles are bold markdown and ``text``/``caption`` are
``at.caption``. ``pagekit.page_text(at)`` joins all the text on the page.

Other Explore state a test may set before ``run()`` (``at.session_state[...]``):
``explore_index`` (the snapshot, an int), ``explore_tab`` ("Latent", "Lens", "Metrics", "Run";
only the open tab is drawn), ``explore_projection`` ("Aligned PCA", "Method axes", "UMAP"),
``explore_color`` ("Cluster", "True label"), ``explore_point`` (a selected sample index: what a
click on the scatter sets). Lens options are widgets keyed ``lens:<method_id>:<option name>``.

The manager of a run store lives in Streamlit's resource cache for the whole pytest process;
:func:`stop_live_runs` (autouse) stops runs that a test launched through the app.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
if "DCVIZ_CACHE_DIR" not in os.environ:
    # The pretrained-AE store of this test session: never the user's cache (~/.cache/dcviz).
    os.environ["DCVIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="dcviz-test-pretrained-")
    atexit.register(shutil.rmtree, os.environ["DCVIZ_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("MKL_NUM_THREADS", "1")

from pagekit import APP, open_page, page_text  # noqa: F401  (helpers for page tests)


@dataclass
class TinyRun:
    root: Path
    run_id: str

    @property
    def rd(self):
        from dcviz.runs import RunStore
        return RunStore(self.root).open(self.run_id)

    @property
    def view(self):
        from dcviz.runs.view import RunView
        return RunView(self.rd)


def train_run(root, method: str, data="digits", config: dict | None = None,
              preset: str = "quick") -> TinyRun:
    """Train a run synchronously (no threads) into the run store at ``root``."""
    import torch

    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, execute, prepare
    torch.set_num_threads(1)
    ds = D.load(data)
    cls, cfg = prepare(method, ds, config or {}, preset)
    rd = create_run(RunStore(root), cls, cfg, ds, preset)
    execute(rd, cls, cfg, ds)
    return TinyRun(Path(root), rd.run_id)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> TinyRun:
    root = tmp_path_factory.mktemp("tiny-runs")
    run = train_run(root, "ae-kmeans", "digits",
                    {"pretrain_epochs": 3, "snapshot_every": 1, "subsample": 600})
    assert run.rd.read_status()["state"] == "done"
    return run


@pytest.fixture
def tiny_store(tiny_run, monkeypatch):
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(tiny_run.root))
    return tiny_run.root


@pytest.fixture
def make_run(tmp_path, monkeypatch):
    """Train runs into a per-test store (DCVIZ_RUNS_DIR points at it)."""
    root = tmp_path / "made-runs"
    root.mkdir(exist_ok=True)
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(root))

    def make(method: str, data="digits", config: dict | None = None, preset: str = "quick",
             root_dir=None) -> TinyRun:
        return train_run(root_dir or root, method, data, config, preset)
    return make


@pytest.fixture
def app():
    return open_page


@pytest.fixture(autouse=True)
def stop_live_runs():
    """Stop every run a test started through the app (threads of the cached RunManagers)."""
    yield
    import sys
    common = sys.modules.get("ui.shared")
    if common is None:
        return
    for mgr in list(common.MANAGERS):
        mgr.stop_all()
        for run_id in list(mgr.live):
            mgr.wait(run_id, timeout=60)


# --------------------------------------------------------------------------- a sixth method

#: A toy method and its lens in one module, as a newcomer would write them (issue 19): the
#: method and lens tests check that it shows up everywhere with no other edit.
TOY = '''
import numpy as np
from dcviz.methods import BaseConfig, Method, register
from dcviz.viz import Lens, Panel, register_lens


@register
class Toy(Method):
    """Cluster by the sign of the first feature."""
    id = "toy"
    title = "Toy sign clustering"
    summary = "Splits the points by the sign of their first feature."
    paper = "A toy for tests"
    estimator = "Toy"
    card = "Two clusters, one on each side of the first axis."
    picture = "dekm.svg"
    try_it = "blobs8"
    suits = ("blobs8",)

    def fit(self, data, ctx):
        labels = self.predict(data.x)
        yield self.make_snapshot(data, ctx, epoch=0, step=0, stage="signs", labels=labels,
                                 latent_sub=self.embed(data.x[ctx.subsample]), progress=1.0)

    def predict(self, x):
        return (np.asarray(x)[:, 0] > 0).astype(np.int64)

    def embed(self, x):
        return np.asarray(x, dtype=np.float32)[:, :2]

    def state_dict(self):
        return {}

    def load_state_dict(self, d):
        pass


def build(run, index, options):
    sizes = np.bincount(run.snapshot(index).assign, minlength=2)
    return [Panel("Points per side", text=f"negative {sizes[0]}, positive {sizes[1]}"),
            Panel("Something else", text="not the live one")]


LENS = register_lens(Lens(method_ids=("toy",), title="Toy lens", live_panel="Points per side",
                          build=build))
'''


@pytest.fixture
def toy_method(tmp_path, monkeypatch):
    """The toy method and its lens, registered by importing their module (and removed after)."""
    import sys

    from dcviz.methods import REGISTRY
    from dcviz.viz import LENSES
    (tmp_path / "toy_method.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    import toy_method as module
    yield module
    REGISTRY.pop("toy", None)
    LENSES.pop("toy", None)
    sys.modules.pop("toy_method", None)
