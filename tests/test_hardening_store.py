"""Hand-edited run folders and config values that escaped as Python errors from the store and
Config.from_dict: a 4,300-digit JSON integer, a float field given 10**400, a config that is not
an object, and cluster ids that np.bincount cannot count. Each is now the project's own error
(RunStoreError, ConfigError) with a message, or a skipped line."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dcviz.methods import ConfigError, get_method
from dcviz.runs import RunStore
from dcviz.runs.store import RunStoreError

BIG = "9" * 5000  # past Python's 4,300-digit limit: json.loads raises ValueError


@pytest.fixture
def run(tiny_run, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(tiny_run.root, root)
    return RunStore(root).open(tiny_run.run_id)


@pytest.mark.parametrize("values", [None, [1, 2], "lr=1"])
def test_a_config_that_is_not_an_object_is_a_config_error(values):
    with pytest.raises(ConfigError, match="object of field"):
        get_method("dec").Config.from_dict(values)


@pytest.mark.parametrize("value", [10 ** 400, 10 ** 5000], ids=["400-digits", "5000-digits"])
def test_a_float_field_past_floats_range_is_a_config_error(value):
    with pytest.raises(ConfigError, match="lr expects a number") as e:
        get_method("dec").Config.from_dict({"lr": value})
    assert len(str(e.value)) < 200  # the value is cut short, not printed in full


def test_a_4300_digit_integer_in_config_json_is_a_store_error(run):
    path = run.path / "config.json"
    path.write_text(path.read_text()[:-1] + f', "extra": {BIG}}}')
    with pytest.raises(RunStoreError, match="not valid JSON"):
        run.read_config()
    assert "not valid JSON" in run.check()


def test_metrics_rows_skip_a_line_with_a_4300_digit_integer(run):
    path = run.path / "metrics.jsonl"
    good = len(run.metrics_rows())
    with path.open("a") as f:
        f.write(f'{{"epoch": {BIG}}}\n')
    assert len(run.metrics_rows()) == good


@pytest.mark.parametrize("bad", [-1, 10 ** 9])
def test_a_snapshot_whose_cluster_ids_bincount_cannot_count_is_a_store_error(run, bad):
    path = run.path / "snapshots" / "000000.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["assign"] = arrays["assign"].astype(np.int64)
    arrays["assign"][0] = bad
    np.savez(path, **arrays)
    with pytest.raises(RunStoreError, match="cluster ids run from"):
        run.load_snapshot(0)
    assert run.load_snapshot(1).assign.min() >= 0  # the others still read
