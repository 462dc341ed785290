"""What the pages say about time before a run: Home's Watch button and its text say how long the
default run took here where the run store knows (as the Train sidebar does), else the measured
typical figure of the quick preset; and Home's scatter has a legend ("one colour per digit")."""
from __future__ import annotations

import pytest

from pagekit import finished_run, open_page

from ui.launch import DEFAULT_RUN_TIME

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def home_claims(at) -> tuple[str, str]:
    """(Home's text under the Watch button, the button's help)."""
    text = next(m.value for m in at.markdown if "The button trains" in str(m.value))
    return text, at.button(key="home_default").help


def test_home_says_the_measured_typical_time_then_what_the_store_says(runs_dir):
    at = open_page("home")
    assert not at.exception
    text, help_text = home_claims(at)
    assert "about a minute" not in text + help_text
    typical = DEFAULT_RUN_TIME
    assert typical.startswith("under a minute on an idle 2-core CPU")
    assert "quick preset" in text and typical in text and typical in help_text
    # an earlier DEKM run on the digits took 8 minutes on this machine: both say so, as the
    # Train sidebar does
    finished_run(runs_dir, "dekm", 480.0)
    finished_run(runs_dir, "dec", 30.0)          # another method: not counted
    at = open_page("home")
    text, help_text = home_claims(at)
    for said in (text, help_text):
        assert "about 8 min on this machine (the one earlier run in the run store)" in said
        assert typical not in said
    at = open_page("train", train_method="dekm")
    notes = [c.value for c in at.sidebar.caption] + [w.value for w in at.sidebar.warning]
    assert any("took about 8 min on this machine" in n and "the quick preset" not in n
               for n in notes), notes


def test_the_static_claims_agree_with_the_measured_figures(runs_dir):
    """The Preset help, the digits' card and Home all give the same measured figures, each with
    the preset it is for (they said "about a minute", "in seconds" and "8 minutes of one core")."""
    from dcviz.data import REGISTRY as DATA
    at = open_page("train", train_method="dekm")
    preset_help = at.sidebar.button_group(key="train_preset_dekm").help
    assert "DEKM's took 25 s" in preset_help and "about a minute" not in preset_help
    assert "demo" not in preset_help  # each method's help names its own presets only
    at = open_page("train", train_method="gan")
    preset_help = at.sidebar.button_group(key="train_preset_gan").help
    assert "took 3 to 7 min" in preset_help and "demo: 6.5x the steps" in preset_help
    card = DATA["digits"].description
    assert "in seconds" not in card and "under a minute (DEKM, DEC)" in card
    assert "several (DCRL, GAN)" in card
