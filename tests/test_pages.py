"""AppTest walks of every page: with an empty run store, with a finished run, with bad input.

AppTest cannot fire a fragment's timer or click a plotly point; tests/test_browser.py covers
those. Here a click is what it leaves behind: ``st.session_state["explore_point"]``.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from pagekit import open_page, page_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def assert_clean(at):
    """No exception box, and no traceback text anywhere on the page."""
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Traceback" not in text


def widgets(at):
    kinds = ("button", "selectbox", "number_input", "slider", "toggle", "radio", "text_input",
             "checkbox", "button_group", "multiselect", "file_uploader")
    return [w for k in kinds for w in getattr(at, k)]


def assert_help_everywhere(at):
    missing = [getattr(w, "label", "?") for w in widgets(at)
               if not (getattr(w, "help", "") or "").strip()]
    assert not missing, f"widgets without help text: {missing}"


# =========================================================================== empty store

def test_home_with_no_runs(runs_dir):
    at = open_page("home")
    assert_clean(at)
    assert at.title[0].value == "dcviz"
    assert any("No runs yet" in i.value for i in at.info)
    labels = [b.label for b in at.button]
    assert any("Watch" in label for label in labels), labels  # the default run's button
    assert any(label.startswith("Try it on") for label in labels)
    assert_help_everywhere(at)


def test_train_with_no_runs(runs_dir):
    at = open_page("train")
    assert_clean(at)
    assert any("Nothing is training" in i.value for i in at.info)
    assert at.button(key="train_default")
    assert at.sidebar.selectbox(key="train_method").value == "dekm" or "dekm" not in \
        at.sidebar.selectbox(key="train_method").options
    assert_help_everywhere(at)


def test_explore_with_no_runs(runs_dir):
    at = open_page("explore")
    assert_clean(at)
    assert any("no runs to explore" in i.value for i in at.info)
    assert at.button(key="explore_default")


# =========================================================================== a finished run

def test_home_lists_recent_runs(tiny_store, tiny_run):
    at = open_page("home")
    assert_clean(at)
    assert not any("No runs yet" in i.value for i in at.info)
    links = at.get("page_link")
    assert links and any(tiny_run.run_id in str(link.proto) for link in links)


def test_explore_opens_a_run_and_every_control_works(tiny_store, tiny_run):
    at = open_page("explore", run=tiny_run.run_id)
    assert_clean(at)
    assert at.selectbox(key="explore_run").value == tiny_run.run_id
    # The slider counts snapshots from 1, as its caption does ("snapshot 5 of 5" at 5 of 5);
    # the page's position is the index from 0.
    slider = at.slider(key="explore_index_number")
    assert (slider.min, slider.value, slider.max) == (1, 5, 5)  # opens at the last snapshot
    assert at.session_state["explore_index"] == 4
    assert at.get("plotly_chart"), "no latent scatter"
    assert "snapshot 5 of 5" in page_text(at)
    assert_help_everywhere(at)

    slider.set_value(2).run()
    assert_clean(at)
    assert at.session_state["explore_index"] == 1
    assert at.slider(key="explore_index_number").value == 2 and "snapshot 2 of 5" in page_text(at)

    at.button_group(key="explore_color").set_value("True label").run()
    assert_clean(at)
    at.button_group(key="explore_projection").set_value("Aligned PCA").run()
    assert_clean(at)


def test_explore_umap_is_computed_in_the_background(make_run, monkeypatch):
    """Choosing UMAP never blocks: the page shows how many snapshots have their layout and
    shows PCA meanwhile; once the worker is done, every snapshot shows its layout, kept in the
    run folder. (A stand-in replaces the real UMAP, whose first call compiles for minutes;
    tests/test_projection_umap.py has the real one.)"""
    import threading

    from dcviz.projection import UMAP_FILE
    from ui import shared
    release = threading.Event()

    def slow_stand_in(latent, seed=0, init=None):
        release.wait(30)
        return np.column_stack([latent[:, 0], latent[:, 1]])

    run = make_run("ae-kmeans", "digits", {"pretrain_epochs": 3, "snapshot_every": 1,
                                           "subsample": 300})
    worker = shared.umap_worker()
    monkeypatch.setattr(worker, "compute", slow_stand_in)
    at = open_page("explore", run=run.run_id, explore_index=2)
    at.button_group(key="explore_projection").set_value("UMAP").run()
    assert_clean(at)
    assert "Computing UMAP for all snapshots" in page_text(at)
    assert "0 of 5 done" in page_text(at)
    key = (shared.runs_root(), run.run_id)
    assert worker.run_state(key).status in ("queued", "running")
    release.set()
    assert worker.wait_run(key, timeout=30).status == "done"
    assert np.load(run.rd.path / UMAP_FILE, allow_pickle=False).shape == (5, 300, 2)
    assert any(f["name"] == UMAP_FILE and f["what"] for f in run.rd.files())  # the Run tab's list
    for index in (2, 0, 4):  # scrubbing: UMAP at every snapshot, never PCA
        at.session_state["explore_index"] = index
        at.run()
        assert_clean(at)
        assert "Computing UMAP" not in page_text(at)
        assert "UMAP 1" in at.get("plotly_chart")[0].proto.spec


def test_explore_selected_point_shows_image_and_neighbours(tiny_store, tiny_run):
    sub = tiny_run.view.subsample
    sample = int(sub[7])
    at = open_page("explore", run=tiny_run.run_id, explore_point=sample)
    assert_clean(at)
    text = page_text(at)
    assert f"Sample {sample}" in text and "Nearest neighbours" in text
    assert len(at.image) >= 2  # the point, and the row of neighbours
    # A sample the run does not follow is explained, not an error.
    missing = next(i for i in range(tiny_run.view.dataset.n) if i not in set(sub.tolist()))
    at = open_page("explore", run=tiny_run.run_id, explore_point=missing)
    assert_clean(at)
    assert "not among" in page_text(at)


@pytest.mark.parametrize("tab", ["Latent", "Lens", "Metrics", "Run"])
def test_explore_tabs_render(tiny_store, tiny_run, tab):
    at = open_page("explore", run=tiny_run.run_id, tab=tab, explore_index=1)
    assert_clean(at)
    text = page_text(at)
    if tab == "Lens":  # ae-kmeans: a baseline, said as such (not "no lens yet")
        assert "AE + k-means is a baseline" in text and "no lens of its own" in text
    if tab == "Metrics":
        assert len(at.get("plotly_chart")) == 2 and at.dataframe
        assert "epoch 1" in text
    if tab == "Run":
        assert "done" in text and "Files" in text
        assert at.json, "config not shown"


def test_explore_session_state_opens_a_run(tiny_store, tiny_run):
    at = open_page("explore", explore_run=tiny_run.run_id)
    assert_clean(at)
    assert at.selectbox(key="explore_run").value == tiny_run.run_id


def test_explore_unknown_run_in_link_warns(tiny_store):
    at = open_page("explore", run="no-such-run")
    assert_clean(at)
    assert any("no-such-run" in w.value for w in at.warning)


def test_explore_failed_and_interrupted_runs(make_run):
    from dcviz import data as D
    from dcviz.runs import RunStore, create_run, prepare
    run = make_run("ae-kmeans", "digits", {"pretrain_epochs": 1, "snapshot_every": 1, "subsample": 200})
    store = RunStore(run.root)
    ds = D.load("digits")
    cls, cfg = prepare("ae-kmeans", ds, {"pretrain_epochs": 1}, "quick")
    failed = create_run(store, cls, cfg, ds, "quick")
    failed.write_status("failed", error="ValueError: the loss became NaN")
    at = open_page("explore", run=failed.run_id)
    assert_clean(at)
    assert any("the loss became NaN" in e.value for e in at.error)

    # A run whose process died mid-training: it opens up to its last snapshot.
    import json
    st_path = run.rd.path / "status.json"
    status = json.loads(st_path.read_text())
    st_path.write_text(json.dumps({**status, "state": "running", "pid": 2**22 + 12345}))
    at = open_page("explore", run=run.run_id)
    assert_clean(at)
    assert "interrupted" in page_text(at)
    assert at.get("plotly_chart")


# =========================================================================== Train

def test_train_form_for_every_registered_method(runs_dir):
    from dcviz.methods import get_method, list_methods
    at = open_page("train")
    for m in list_methods():
        at.sidebar.selectbox(key="train_method").set_value(m["id"]).run()
        assert_clean(at)
        config = get_method(m["id"]).Config
        fields = {f["name"] for f in config.fields_info()} - set(config.unused)
        drawn = {w.key.split(":")[3] for w in widgets(at) if w.key and w.key.startswith(f"cfg:{m['id']}:")}
        assert fields == drawn, (m["id"], fields ^ drawn)
        assert_help_everywhere(at)
        presets = at.sidebar.button_group(key=f"train_preset_{m['id']}")
        assert presets.value == "quick"
        # quick first, paper last, a method's own presets (the GAN's demo, ACe/DeC's objects)
        # in between
        own = {"gan": ["demo"], "acedec": ["objects"]}.get(m["id"], [])
        assert presets.options == ["quick", *own, "paper"]


def _cfg_widget(at, method, name):
    return next(w for w in widgets(at) if w.key and w.key.startswith(f"cfg:{method}:")
                and w.key.split(":")[3] == name)


def test_bad_config_shows_error_and_keeps_the_form(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    at = open_page("train")
    at.sidebar.button_group(key="train_source").set_value("Upload").run()
    # A file that is not data: a clear message, nothing launched.
    at.sidebar.file_uploader[0].set_value(("broken.csv", b"a,b\n1,oops\n2,\n", "text/csv")).run()
    assert_clean(at)
    assert at.sidebar.error and "broken.csv" in at.sidebar.error[0].value

    # A valid file of 6 points, and k = 10 > N: refused with the reason, the form unchanged.
    csv = b"x1,x2,label\n0,0,0\n0,1,0\n1,0,0\n5,5,1\n5,6,1\n6,5,1\n"
    at.sidebar.file_uploader[0].set_value(("six.csv", csv, "text/csv")).run()
    assert_clean(at)
    assert not at.sidebar.error
    method = at.sidebar.selectbox(key="train_method").value
    k = _cfg_widget(at, method, "n_clusters")
    assert k.value == 2  # k defaults to the number of classes
    # Form widgets commit on submit: set the value and press Launch in the same run.
    k.set_value(10)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert_clean(at)
    errors = [e.value for e in at.error]
    assert any("clusters=10" in e and "larger" in e for e in errors), errors
    assert _cfg_widget(at, method, "n_clusters").value == 10
    from ui.shared import manager
    assert manager().store.ids() == []  # nothing was written


def test_value_outside_the_field_range_is_said_next_to_launch(runs_dir):
    """k = 1 is refused with words under the Launch button that name the field and what it
    accepts, and nothing is launched. The number boxes carry no bounds of their own: a
    bounded box holding a bad value makes the browser refuse the submit without telling the
    page, so Launch did nothing and said nothing."""
    from ui.shared import manager
    at = open_page("train")
    method = at.sidebar.selectbox(key="train_method").value
    k = _cfg_widget(at, method, "n_clusters")
    assert k.min is None and k.max is None   # the browser never blocks Launch silently
    k.set_value(1)
    _cfg_widget(at, method, "seed").set_value(-3)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert_clean(at)
    errors = [e.value for e in at.sidebar.error]
    assert any("n clusters is 1" in e and "from 2 to 100" in e and "seed is -3" in e
               and "at least 0" in e for e in errors), errors
    assert manager().store.ids() == []
    # put right, it launches
    _cfg_widget(at, method, "n_clusters").set_value(3)
    _cfg_widget(at, method, "seed").set_value(0)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert not at.sidebar.error
    ids = manager().store.ids()
    assert len(ids) == 1
    manager().stop(ids[0])
    assert manager().open(ids[0]).read_config()["config"]["n_clusters"] == 3


def test_launch_from_train_and_see_the_run(runs_dir):
    from ui.shared import manager
    at = open_page("train")
    at.sidebar.selectbox(key="train_method").set_value("ae-kmeans").run()
    _cfg_widget(at, "ae-kmeans", "pretrain_epochs").set_value(2)
    _cfg_widget(at, "ae-kmeans", "snapshot_every").set_value(1)
    next(b for b in at.button if b.label == "Launch").click().run()
    assert_clean(at)
    ids = manager().store.ids()
    assert len(ids) == 1 and at.session_state["train_focus"] == ids[0]
    assert manager().wait(ids[0], timeout=300) == "done"
    at.run()
    assert_clean(at)
    text = page_text(at)
    assert "Last snapshot" in text and "done" in text
    assert len(at.get("plotly_chart")) >= 2  # latent scatter and losses
    cfg = manager().open(ids[0]).read_config()
    assert cfg["config"]["pretrain_epochs"] == 2 and cfg["data_name"] == "digits"


def test_home_default_button_launches_and_focuses(runs_dir):
    from ui.shared import manager
    from dcviz.methods import default_run
    at = open_page("home")
    at.button(key="home_default").click().run()
    assert_clean(at)
    ids = manager().store.ids()
    assert len(ids) == 1
    method, data, preset = default_run()
    cfg = manager().open(ids[0]).read_config()
    assert (cfg["method"], cfg["data_name"], cfg["preset"]) == (method, data, preset)
    assert at.session_state["train_focus"] == ids[0]
    assert at.title[0].value == "Train"  # switched pages
    manager().stop(ids[0])


@pytest.mark.parametrize("method", ["acedec", "mlc"])  # k differs from the default 10
def test_try_it_sets_k_from_the_data(runs_dir, method):
    from ui.shared import manager
    from dcviz.methods import REGISTRY
    if method not in REGISTRY:
        pytest.skip(f"{method} is not installed")
    at = open_page("home")
    at.button(key=f"home_try_{method}").click().run()
    assert_clean(at)
    cfg = manager().open(manager().store.ids()[0]).read_config()
    assert cfg["method"] == method and cfg["data_name"] == REGISTRY[method].try_it
    from dcviz import data as D
    assert cfg["config"]["n_clusters"] == D.load(REGISTRY[method].try_it).n_classes
    # the Train page shows the run beside a form for the same method and data, not the
    # default's (DEKM on the digits)
    assert at.title[0].value == "Train"
    assert at.sidebar.selectbox(key="train_method").value == method
    assert at.sidebar.selectbox(key="train_data_Built in").value == REGISTRY[method].try_it
    manager().stop(cfg["run_id"])


# =========================================================================== lens rendering

def _fake_lens(fail: bool = False):
    import plotly.graph_objects as go

    from dcviz.viz import Lens, Option, Panel

    def build(run, index, options):
        if fail:
            raise RuntimeError("this view is broken")
        snap = run.snapshot(index)
        return [
            Panel("A figure", figure=go.Figure(go.Bar(y=np.bincount(snap.assign))),
                  text=f"cluster sizes at snapshot {index}; mode={options['mode']}"),
            Panel("An image", image=np.linspace(0, 1, 64).reshape(8, 8), caption="a ramp"),
            Panel("A table", table=[{"k": k, "n": int(n)} for k, n in enumerate(np.bincount(snap.assign))],
                  wide=True),
            Panel("Only text", text=f"other run: {options['other']}; steps={options['steps']}"),
        ]

    return Lens(method_ids=("ae-kmeans",), title="Test lens", build=build, intro="A lens for tests.",
                options=[Option("mode", "Mode", "select", ["a", "b"], "b", help="a or b"),
                         Option("show", "Show extra", "toggle", default=True, help="on or off"),
                         Option("steps", "Steps", "int", default=3, min=1, max=9, help="how many"),
                         Option("other", "Compare with", "run", help="another run")])


def test_lens_panels_and_options_render(tiny_store, tiny_run, monkeypatch):
    from dcviz.viz import base
    monkeypatch.setitem(base.LENSES, "ae-kmeans", _fake_lens())
    at = open_page("explore", run=tiny_run.run_id, tab="Lens", explore_index=2)
    assert_clean(at)
    text = page_text(at)
    assert "Test lens" in text and "A lens for tests." in text
    assert "cluster sizes at snapshot 2; mode=b" in text  # the option's default reached build
    assert len(at.get("plotly_chart")) == 1 and len(at.image) == 1 and len(at.dataframe) == 1
    assert at.selectbox(key="lens:ae-kmeans:mode").value == "b"
    assert at.slider(key="lens:ae-kmeans:steps").value == 3
    assert at.toggle(key="lens:ae-kmeans:show").value is True
    assert at.selectbox(key="lens:ae-kmeans:other").options == ["(none)"]  # no other run here
    assert_help_everywhere(at)
    at.selectbox(key="lens:ae-kmeans:mode").set_value("a").run()
    assert "mode=a" in page_text(at)


def test_a_broken_lens_is_a_warning_not_a_crash(tiny_store, tiny_run, monkeypatch):
    from dcviz.viz import base
    monkeypatch.setitem(base.LENSES, "ae-kmeans", _fake_lens(fail=True))
    at = open_page("explore", run=tiny_run.run_id, tab="Lens")
    assert_clean(at)
    assert any("this view is broken" in w.value for w in at.warning)


def test_pause_resume_stop_buttons(runs_dir):
    from ui.shared import manager
    mgr = manager()
    run_id = mgr.launch("ae-kmeans", "digits", {"pretrain_epochs": 500, "snapshot_every": 1,
                                                "subsample": 300}, "quick")
    at = open_page("train", train_focus=run_id)
    assert_clean(at)
    assert "Runs in flight" in page_text(at)
    at.button(key=f"pause_{run_id}").click().run()
    assert_clean(at)
    assert mgr.state(run_id) == "paused"
    assert at.button(key=f"resume_{run_id}")  # the card now offers Resume
    count = mgr.live[run_id].count
    time.sleep(1.5)
    assert mgr.live[run_id].count == count  # paused: no new snapshot
    at.button(key=f"resume_{run_id}").click().run()
    assert mgr.state(run_id) == "running"
    at.button(key=f"stop_{run_id}").click().run()
    assert_clean(at)
    assert mgr.wait(run_id, timeout=120) == "stopped"
    at.run()
    assert "stopped" in page_text(at)


def test_a_runs_folder_that_cannot_be_used_is_said_instead_of_a_traceback(tmp_path, monkeypatch):
    """DCVIZ_RUNS_DIR names a file: the app says why it cannot start and how to mend it (each
    page showed Streamlit's traceback of RunStoreError)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("DCVIZ_RUNS_DIR", str(afile))
    at = open_page("home")
    assert not at.exception, [e.value for e in at.exception]
    assert at.error and "cannot start" in at.error[0].value and "is a file" in at.error[0].value
    assert any("DCVIZ_RUNS_DIR" in m.value for m in at.markdown)


def test_explore_offers_a_vector_points_features_not_its_image(make_run):
    """On MLC's sphere2 (vectors of 3 features) Explore said "Click a point to see its image";
    a click there shows the point's first features."""
    run = make_run("ae-kmeans", "blobs8", {"pretrain_epochs": 2, "snapshot_every": 1})
    at = open_page("explore", run=run.run_id)
    assert_clean(at)
    said = [i.value for i in at.info if "Click a point" in i.value]
    assert said and "its first features" in said[0] and "image" not in said[0], said


def test_explore_offers_an_image_points_image(tiny_store, tiny_run):
    at = open_page("explore", run=tiny_run.run_id)
    assert_clean(at)
    assert any("Click a point to see its image" in i.value for i in at.info)
