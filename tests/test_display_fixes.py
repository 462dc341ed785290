"""Display defects from a browser audit: Home's lone fifth card, DEKM's cut axis title, stage
names drawn over one another on short runs, and MLC's image-only control on vector data."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from dcviz.viz import common as V

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- Home's cards

def test_home_cards_are_a_grid_so_a_lone_card_keeps_its_siblings_width():
    """A wrapping flex row with `flex: 1 1 10.5rem` let the fifth card, alone on its row at
    1280 px, grow across the page (its picture huge); grid tracks are all one width."""
    css = (REPO / "assets" / "style.css").read_text()
    rules = re.findall(r"\.st-key-home_cards[^{]*\{[^}]*\}", css)
    assert rules
    cols = [r for r in rules if "stColumn" in r.split("{")[0] and ":has(" not in r]
    assert cols and all("flex: 1 1" not in r and "flex-grow: 1" not in r for r in cols), cols
    block = [r for r in rules if r.split("{")[0].strip().endswith('stHorizontalBlock"]')]
    assert block and "display: grid" in block[0] and "minmax(10.5rem" in block[0], block
    # auto-fit, not auto-fill: empty tracks collapse, so five cards fill a wide row
    assert "auto-fit" in block[0]
    # five cards that do not fit in a row go 3 + 2, not 4 + 1
    assert "@container" in css and "repeat(3," in css


def test_the_style_sheet_leaves_text_colours_to_the_theme():
    """Home's lead line was a fixed #444: readable on the light theme's white, near invisible on
    the dark theme's #0e1117. A colour of the style sheet's own would be right in one theme only."""
    css = (REPO / "assets" / "style.css").read_text()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    fixed = re.findall(r"(?<![-\w])color\s*:\s*([^;}]+)", css)
    assert not [c for c in fixed if c.strip().split("(")[0] not in ("inherit", "currentColor",
                                                                    "var")], fixed


# --------------------------------------------------------------------------- DEKM churn axis

def test_dekm_churn_axis_title_fits_and_the_text_says_why_iteration_0_is_empty():
    from dcviz.viz import dekm
    fig = dekm.churn_figure(np.array([np.nan, 0.2, 0.05, 0.01]), current=2)
    title = fig.layout.xaxis.title.text
    # a 300-px-high panel half a row wide cut the old 67-character title
    assert len(title) <= 30, title
    assert "re-clustering iteration" in title
    assert "iteration 0" in dekm.CHURN_TEXT and "first k-means" in dekm.CHURN_TEXT


# --------------------------------------------------------------------------- stage names

def _rows(stages):
    out = []
    for stage, n in stages:
        for _ in range(n):
            i = len(out)
            out.append({"epoch": i, "stage": stage,
                        "losses": {} if stage == "random init" else {"rec": 1.0 / (i + 1)},
                        "metrics": {"acc": 0.5, "nmi": 0.4}, "scalars": {}})
    return out


SHORT_MLC = [("random init", 1), ("warm-up (Eq. 5)", 2), ("MLC (Eq. 4)", 1)]
SHORT_AE = [("random init", 1), ("pretrain", 2), ("clustering", 3)]


def _labels(fig):
    return [a for a in fig.layout.annotations if a.yshift is not None and a.font.size == 10]


def _pixel_extents(fig, x_range, plot_px):
    """(row, from, to) in pixels, from each label's x and its text's estimated width."""
    lo, hi = x_range
    px_per_x = plot_px / (hi - lo)
    return [(a.yshift, (a.x - lo) * px_per_x, (a.x - lo) * px_per_x + V.label_width(a.text))
            for a in _labels(fig)]


def _assert_apart(ext, what):
    for (ri, li, hi_), (rj, lj, hj) in itertools.combinations(ext, 2):
        assert ri != rj or hi_ <= lj or hj <= li, (what, ext)


@pytest.mark.parametrize("stages", [SHORT_MLC, SHORT_AE], ids=["mlc", "ae"])
def test_stage_names_apart_when_the_slider_is_past_the_last_row(stages):
    """On a live run the slider can show a snapshot past the rows read so far: plotly's
    autorange stretched the axis to it while the names were laid out for the rows' range,
    and "random init" was drawn over "warm-up (Eq. 5)". The axis is pinned to the layout's."""
    rows = _rows(stages)
    current = 30
    from dcviz.viz import mlc
    figs = {"loss": (V.loss_figure(rows, current=current), "xaxis"),
            "metrics": (V.metric_figure(rows, current=current), "xaxis"),
            "mlc": (mlc.curves(rows, {"a": np.ones(len(rows))}, current=current,
                               y_title="y"), "xaxis")}
    for what, (fig, ax) in figs.items():
        rng = fig.layout[ax].range
        assert rng is not None and tuple(rng) == V.stage_x_range(rows, current), what
        _assert_apart(_pixel_extents(fig, rng, 240), what)


@pytest.mark.parametrize("stages", [SHORT_MLC, SHORT_AE], ids=["mlc", "ae"])
def test_stage_names_apart_at_explore_width_on_a_1024_screen(stages):
    """Explore's two columns are ~240 px at 1024 (they were assumed 340)."""
    rows = _rows(stages)
    for fig in (V.loss_figure(rows, current=len(rows) - 1), V.metric_figure(rows)):
        rng = fig.layout.xaxis.range
        assert rng is not None
        ext = _pixel_extents(fig, rng, 240)
        assert ext
        _assert_apart(ext, stages)
        assert all(-1 <= lo and hi <= 241 for _, lo, hi in ext), ext


def test_stage_names_shorten_before_they_go():
    assert V.stage_names("warm-up (Eq. 5)") == ["warm-up (Eq. 5)", "warm-up"]
    assert V.stage_names("random init")[-1] == "init"
    assert V.stage_names("init: warm-up of V and b, round 1–12")[-1] == "init"
    assert V.stage_names("clustering")[0] == "clustering"
    # a plot too narrow for "random init" beside the warm-up's name keeps a short form
    placed = V.layout_stage_labels([(0, 1, "random init"), (1, 3, "warm-up (Eq. 5)"),
                                    (3, 4, "MLC (Eq. 4)")], x_range=(-0.5, 3.5), width_px=200,
                                   max_rows=1)
    texts = [t for *_, t in placed]
    assert "init" in texts or "random init" not in texts
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize("seed", range(40))
def test_layout_keeps_no_two_names_of_a_row_over_one_another(seed):
    """Random bands and widths: the labels kept never overlap in x within a row, even drawn
    at 1/SAFETY of the assumed width, and none runs past the plot's right edge."""
    rng = np.random.default_rng(seed)
    names = ["random init", "pretrain", "warm-up (Eq. 5)", "MLC (Eq. 4)", "clustering",
             "stage 1", "k-means init", "init: re-clustered, b in closed form"]
    k = int(rng.integers(2, 6))
    lengths = rng.integers(1, 8, size=k)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    spans = [(int(s), int(s + n), names[int(rng.integers(len(names)))] + f" {i}")
             for i, (s, n) in enumerate(zip(starts, lengths))]
    x_range = (-0.5, float(sum(lengths)) - 0.5)
    width = float(rng.uniform(150, 600))
    placed = V.layout_stage_labels(spans, x_range=x_range, width_px=width)
    real = width / V.SAFETY  # drawn narrower than assumed, by the margin the layout keeps
    per_x = real / (x_range[1] - x_range[0])
    ext = []
    for x0, _, row, text in placed:
        lo = (x0 - x_range[0]) * per_x
        ext.append((row, lo, lo + V.label_width(text)))
    _assert_apart(ext, spans)
    assert all(hi <= real + 1 for _, _, hi in ext)


# --------------------------------------------------------------------------- MLC's option

def test_mlc_image_and_3d_options_are_shown_only_for_runs_they_apply_to():
    """The principal-images control did nothing for vector data, and the 3-D colouring nothing
    for features of other than 3 dimensions: Option.shown leaves them out for such runs."""
    from types import SimpleNamespace

    from dcviz.viz import mlc
    opts = {o.name: o for o in mlc.LENS.options}

    def run(image_shape, dim):
        return SimpleNamespace(config={"image_shape": image_shape}, count=2,
                               latent=lambda i: np.zeros((5, dim)))
    assert opts["cluster"].shown(run([1, 8, 8], 32)) and not opts["cluster"].shown(run([], 3))
    assert opts["color3d"].shown(run([], 3)) and not opts["color3d"].shown(run([1, 8, 8], 32))
    assert opts["ranks_of"].shown is None  # the others: always


def test_dcrl_pressure_axis_title_fits_presents_half_of_a_projector():
    from dcviz.viz import dcrl
    rows = _rows([("random init", 1), ("pretrain", 2), ("stage 1: clustering", 2)])
    title = dcrl.pressure_figure(rows, current=2).layout.yaxis.title.text
    # the 320-px panel, its legend below, cut the old 47-character title at "this epo" (1024 px)
    assert len(title) <= 30, title
    assert title.startswith("pressure") and "share" in dcrl.PRESSURE_TEXT


def test_checkpoints_training_points_stay_visible_and_their_legend_is_not_a_cluster_colour():
    from dcviz.viz import compare
    from dcviz.viz.style import MUTED
    rng = np.random.default_rng(0)
    fig = compare.placement_figure(rng.normal(size=(50, 2)), rng.normal(size=(10, 2)),
                                   np.arange(10) % 3, train_assign=np.arange(50) % 3)
    train = [t for t in fig.data if t.legendgroup == "train"]
    drawn = [t for t in train if t.x is not None and len(t.x) == 50][0]
    # at 0.18 the dark theme lost them (about 1.2:1 against its background)
    assert drawn.marker.opacity >= 0.3 and not drawn.showlegend
    swatch = [t for t in train if t.showlegend is not False and t is not drawn]
    assert len(swatch) == 1 and swatch[0].marker.color == MUTED


def test_the_k_means_loss_reads_as_words_in_the_loss_plot():
    rows = [{"epoch": i, "stage": "clustering", "losses": {"kmeans": 1.0 / (i + 1)},
             "metrics": {}, "scalars": {}} for i in range(3)]
    titles = [a.text for a in V.loss_figure(rows).layout.annotations if a.text]
    assert "kmeans" not in titles and any(t.startswith("k-means") for t in titles), titles


def test_the_snapshot_table_names_the_k_means_loss_as_the_plot_does():
    rows = [{"epoch": 0, "stage": "clustering", "losses": {"kmeans": 0.5}, "metrics": {},
             "scalars": {}}]
    assert [r["name"] for r in V.snapshot_table(rows, 0) if r["kind"] == "loss"] == ["k-means loss"]
