"""The Train data box is not cut short and its caption does not leave the chosen method looking
unsuited; the empty Sweeps page gives a complete command for this app's runs folder."""
from __future__ import annotations

import pytest

from pagekit import open_page

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
