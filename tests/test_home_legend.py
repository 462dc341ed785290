"""Home's scatter of the digits says which colour is which digit (its text says "one colour
per digit"; the plot had no legend)."""
from __future__ import annotations

import pytest

from pagekit import open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_home_scatter_says_which_colour_is_which_digit(runs_dir):
    import json
    at = open_page("home")
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and "home_preview" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    assert spec["layout"].get("showlegend") is True
    assert spec["layout"]["legend"]["title"]["text"] == "digit"
    assert sorted(t["name"] for t in spec["data"]) == [str(d) for d in range(10)]
