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
    assert "DEC declares no data sets, so it is not listed." in caption
    at = open_page("train", train_method="dekm")
    caption = next(c.value for c in at.sidebar.caption if "Suits:" in c.value)
    assert "declares no data sets" not in caption


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
