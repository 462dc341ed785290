"""The pages are storyboards over the UI kit (ui/), and everything they say about a method comes
from its class and its lens:

- a toy method and its lens, in a module outside the package with no other edit, shows up on
  Home, on Train (method list and live panel), on Explore, and as ``dcviz.Toy``;
- no page function is longer than 60 lines, and outside dcviz/methods/ and dcviz/viz/ no
  production file names a method id;
- a link's query parameters and a run's name are shown as plain text, never as markup.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pagekit import open_page, page_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REPO = Path(__file__).resolve().parent.parent


def test_a_toy_method_and_its_lens_appear_everywhere(toy_method, runs_dir):
    from conftest import train_run
    import dcviz
    from dcviz import Toy  # noqa: F401  (importable by its estimator name)
    assert dcviz.ESTIMATORS["Toy"] == "toy"

    at = open_page("home")
    assert not at.exception, [e.value for e in at.exception]
    assert "Two clusters, one on each side of the first axis." in page_text(at)
    assert at.button(key="home_try_toy").label == "Try it on 8 Gaussian blobs"  # its title

    at = open_page("train")
    method = at.sidebar.selectbox(key="train_method")
    assert "Toy sign clustering" in method.options
    method.set_value("toy").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(w.key and w.key.startswith("cfg:toy:quick:n_clusters") for w in at.number_input)

    run = train_run(runs_dir, "toy", "blobs8", {"n_clusters": 2})
    assert run.rd.read_status()["state"] == "done"
    at = open_page("train", train_focus=run.run_id)
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Toy lens" in text and "Points per side" in text and "negative " in text
    assert "not the live one" not in text  # only the live panel the lens names

    at = open_page("explore", run=run.run_id, tab="Lens")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="explore_run").value == run.run_id
    assert "not the live one" in page_text(at)  # every panel of the lens


# =========================================================================== the shape of pages

def _functions(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield node


def test_no_page_function_is_longer_than_60_lines():
    long = [f"{p.name}:{f.lineno} {getattr(f, 'name', 'lambda')} ({f.end_lineno - f.lineno + 1})"
            for p in sorted((REPO / "pages").glob("*.py")) for f in _functions(p)
            if f.end_lineno - f.lineno + 1 > 60]
    assert not long, long


def _production_files():
    yield REPO / "app.py"
    yield from (REPO / "pages").glob("*.py")
    yield from (REPO / "ui").glob("*.py")
    for p in (REPO / "dcviz").rglob("*.py"):
        if not {"methods", "viz"} & set(p.relative_to(REPO / "dcviz").parts[:1]):
            yield p


def test_no_file_outside_methods_and_viz_names_a_method_id():
    """A method id as a string (a key, a comparison, a default) outside dcviz/methods/ and
    dcviz/viz/ would be knowledge about that method kept in a second place."""
    from dcviz.methods import REGISTRY
    found = []
    for p in _production_files():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and node.value in REGISTRY:
                found.append(f"{p.relative_to(REPO)}:{node.lineno} {node.value!r}")
    assert not found, found
    assert {"dekm", "ae-kmeans"} <= set(REGISTRY)  # the check above had ids to look for


def test_the_app_registers_every_page_plainly():
    source = (REPO / "app.py").read_text()
    assert ".exists()" not in source
    named = set(re.findall(r'PAGES\["(\w+)"\]', source)) | set(re.findall(r"pages/(\w+)\.py", source))
    assert {p.stem for p in (REPO / "pages").glob("*.py")} <= named


# =========================================================================== user text as text

EVIL = "[x](http://evil)![i](http://evil/i.png)"


def _markup(body: str) -> list[str]:
    """The inline markdown constructs (links, images, HTML, autolinks) in a body, as GitHub's
    renderer would find them."""
    from markdown_it import MarkdownIt
    found = []
    for tok in MarkdownIt("gfm-like").parse(body):
        for c in tok.children or []:
            if c.type not in ("text", "softbreak", "strong_open", "strong_close", "em_open",
                              "em_close", "code_inline"):
                found.append(c.type)
    return found


def _bodies(at) -> list[str]:
    out = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success"):
        out += [str(el.value) for el in getattr(at, kind)]
    out += [el.proto.label for el in at.get("page_link")]
    return out


def _assert_no_markup(at):
    assert not at.exception, [e.value for e in at.exception]
    for body in _bodies(at):
        assert not {"link_open", "image", "html_inline"} & set(_markup(body)), body


@pytest.mark.parametrize("page", ["explore", "checkpoints"])
def test_a_crafted_run_link_is_shown_as_plain_text(tiny_store, page):
    at = open_page(page, run=EVIL)
    _assert_no_markup(at)
    warning = next(w.value for w in at.warning if "http" in w.value)
    assert "\\[x\\]" in warning and "evil" in warning  # the id is there, escaped


def test_a_crafted_runs_link_is_shown_as_plain_text(tiny_store):
    at = open_page("compare", runs=f"{EVIL},<img src=http://evil/i.png>")
    _assert_no_markup(at)
    assert any("evil" in w.value for w in at.warning)


def test_a_crafted_run_name_is_shown_as_plain_text(runs_dir):
    from conftest import train_run
    from dcviz.runs import RunStore
    from dcviz.runs.manage import rename
    run = train_run(runs_dir, "ae-kmeans", {"name": "digits", "n": 200},
                    {"pretrain_epochs": 1, "snapshot_every": 1, "subsample": 100})
    rename(RunStore(runs_dir), run.run_id, f"{EVIL} www.evil.com")
    for page in ("home", "explore", "train"):
        at = open_page(page, run=run.run_id, train_focus=run.run_id)
        _assert_no_markup(at)
    labels = [el.proto.label for el in open_page("home").get("page_link")]
    assert any("\\[x\\]" in label for label in labels), labels


def test_class_names_from_a_file_reach_the_legend_as_plain_text():
    """A CSV's text labels become class names; plotly would read ``<a href>`` in a legend."""
    from types import SimpleNamespace

    import numpy as np

    from ui.pickers import CLUSTER, TRUE_LABEL, colours
    ds = SimpleNamespace(class_names=["<a href='http://evil'>cat</a>", "dog"])
    view = SimpleNamespace(labels_sub=np.array([0, 1]), dataset=ds)
    snap = SimpleNamespace(assign=np.array([1, 1]))
    color, names, title = colours(TRUE_LABEL, view, snap)
    assert title == "true label" and list(color) == [0, 1]
    assert names == ["‹a href='http://evil'›cat‹/a›", "dog"]
    assert colours(CLUSTER, view, snap)[1:] == (None, "cluster")


def test_a_damaged_run_says_why_and_can_be_deleted_from_explore(runs_dir):
    """Explore opens a damaged run as its reason and a delete action (with a confirmation)."""
    from conftest import train_run
    run = train_run(runs_dir, "ae-kmeans", {"name": "digits", "n": 200},
                    {"pretrain_epochs": 1, "snapshot_every": 1, "subsample": 100})
    (run.rd.path / "config.json").write_text("[]")  # valid JSON, not an object
    at = open_page("explore", run=run.run_id)
    assert not at.exception, [e.value for e in at.exception]
    assert any("damaged" in e.value and "config.json" in e.value for e in at.error), \
        [e.value for e in at.error]
    at.button(key="explore_damaged:delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="explore_damaged:delete_yes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not (runs_dir / run.run_id).exists()


def test_train_says_so_when_a_lens_loses_its_live_panel(tiny_store, tiny_run, monkeypatch):
    """No silent fallback to another panel: the Train page warns and goes on."""
    from dcviz.viz import LENSES, Lens, Panel
    lens = Lens(method_ids=("ae-kmeans",), title="Renamed lens", live_panel="Spectrum",
                build=lambda run, index, options: [Panel("Spectrum of S_w", text="renamed")])
    monkeypatch.setitem(LENSES, "ae-kmeans", lens)
    at = open_page("train", train_focus=tiny_run.run_id)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Renamed lens" in w.value and "Spectrum" in w.value for w in at.warning)
    assert "renamed" not in page_text(at)  # the other panel is not shown in its place


def test_the_player_steps_through_snapshots_and_stops_at_the_end(tiny_store, tiny_run):
    """What the timer does on each tick (AppTest reruns by hand): one snapshot further while
    playing, then a stop at the last one; Play at the end starts again from the first."""
    at = open_page("explore", run=tiny_run.run_id, explore_index=2)
    assert not at.exception, [e.value for e in at.exception]
    assert at.slider(key="explore_index_number").value == 3  # index 2: the third snapshot
    assert not at.session_state["explore_playing"]
    at.session_state["explore_playing"] = True
    at.run()
    assert at.slider(key="explore_index_number").value == 4
    at.run()
    assert at.slider(key="explore_index_number").value == 5
    at.run()  # past the end: stop there
    assert at.slider(key="explore_index_number").value == 5
    assert at.session_state["explore_playing"] is False
    play = at.button(key="explore_start")
    assert play.label == "Play" and play.proto.icon == ":material/play_arrow:"
    at.button(key="explore_start").click().run()
    assert at.session_state["explore_playing"] is True
    assert at.slider(key="explore_index_number").value == 1  # from the start again


def test_a_methods_title_on_its_home_card_is_text_not_markup(toy_method, runs_dir, monkeypatch):
    from dcviz.methods import REGISTRY
    monkeypatch.setattr(REGISTRY["toy"], "title", "Toy <i>v2</i> & co")
    at = open_page("home")
    cards = [m.value for m in at.markdown if "dcviz-card-title" in m.value]
    assert '<p class="dcviz-card-title">Toy &lt;i&gt;v2&lt;/i&gt; &amp; co</p>' in cards
