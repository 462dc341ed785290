"""The Train data box is not cut short and its caption does not leave the chosen method looking
unsuited; the empty Sweeps page gives a complete command for this app's runs folder."""
from __future__ import annotations

import shlex
import sys

import pytest

from pagekit import open_page, page_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_data_box_shows_the_title_and_the_caption_explains_suits(runs_dir):
    at = open_page("train", train_method="dec")
    box = at.sidebar.selectbox(key="train_data_Built in")
    assert box.format_func("digits") == "Digits (8x8)"   # was cut: "Digits (8x8)  (1,797 images, 8x8 gr…"
    caption = next(c.value for c in at.sidebar.caption if "Suits:" in c.value)
    assert "DEC" in caption.split("Suits:")[1]   # the baselines name their papers' data too
    assert "declares no data sets" not in caption


def test_a_method_that_declares_no_data_sets_is_not_left_looking_unsuited():
    from dcviz import forms as F
    from dcviz.methods import get_method

    class Plain:  # a method from a plug-in that names no data sets
        title, suits = "Plain", ()

    entry = {"description": "Digits.", "suits": ["dekm"]}
    methods = {"dekm": get_method("dekm"), "plain": Plain}
    assert F.data_caption(entry, methods, "plain") == \
        "Digits. Suits: DEKM. Plain declares no data sets, so it is not listed."
    assert F.data_caption(entry, methods, "dekm") == "Digits. Suits: DEKM."


def test_empty_sweeps_page_gives_a_complete_command_for_this_runs_folder(runs_dir, monkeypatch):
    from pagekit import REPO
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(runs_dir.parent / "my cache"))
    at = open_page("sweeps")
    assert not at.exception
    command = at.code[0].value
    assert command.count("\n") == 1 and "\\\n    --runs-dir " in command
    argv = shlex.split(command.replace("\\\n", " "))   # as the shell reads a continued line
    assert argv[:3] == ["cd", str(REPO), "&&"]
    assert f"DCVIZ_CACHE_DIR={runs_dir.parent / 'my cache'}" in argv
    i = argv.index(sys.executable)
    assert argv[i + 1:i + 4] == ["-m", "dcviz", "sweep"]
    assert argv[argv.index("--runs-dir") + 1] == str(runs_dir.resolve())
    assert "into the runs folder this app shows" in page_text(at)
