"""Hardening of dcviz.data against hostile specs: every one is a DataError with a message.

Found by fuzzing normalise_spec/load; before the fixes these escaped as other exceptions.
"""
from __future__ import annotations

import pytest

from dcviz.data import DataError, load, parse_spec


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "dcviz-data"))


@pytest.mark.parametrize("spec", [
    {"name": "blobs8", "n": 10**400},            # was OverflowError: int too large for float
    {"name": "blobs8", "n": -10**400},
    {"name": "blobs8", "n_samples": 10**5000},   # past str()'s 4,300 digits too
    {"name": "blobs8", "std": 10**400},
])
def test_an_integer_past_floats_range_is_a_data_error(spec):
    with pytest.raises(DataError, match="out of range"):
        load(spec)


def test_a_huge_integer_from_the_cli_spec_is_a_data_error():
    with pytest.raises(DataError, match="'n_samples' is out of range"):
        parse_spec("blobs8:n_samples=" + "9" * 400)


@pytest.mark.parametrize("spec", [{"path": "/tmp/x\x00.npz"}, "/tmp/x\x00.npz"])
def test_a_path_with_a_nul_byte_is_a_data_error(spec):
    # was ValueError("embedded null byte") from Path.stat in the cache's fingerprint
    with pytest.raises(DataError, match="NUL"):
        load(spec)
