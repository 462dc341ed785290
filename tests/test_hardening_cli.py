"""`python -m dcviz train --name` with characters no run name may hold: refused as bad input
(exit 2) before the data loads and before a run folder exists."""
from __future__ import annotations

import pytest

from dcviz.cli import EXIT_BAD_INPUT, main


@pytest.mark.parametrize("name", ["a\x00b", "\x1b[2Jcleared", "x" * 101])
def test_a_bad_run_name_is_bad_input(tmp_path, capsys, name):
    # a NUL or an escape sequence was stored in config.json and the run trained
    runs = tmp_path / "runs"
    code = main(["train", "--method", "ae-kmeans", "--data", "blobs8", "--runs-dir", str(runs),
                 "--name", name, "--quiet"])
    assert code == EXIT_BAD_INPUT
    assert "name" in capsys.readouterr().err
    assert not runs.exists() or not [p for p in runs.iterdir() if not p.name.startswith(".")]
