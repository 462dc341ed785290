"""Bad input to dcviz.data: every case is a DataError whose message says what was wrong.

Decision recorded here (and in dcviz/data/__init__.py): an image folder with a single class
sub-folder is accepted (one class, every label 0), since clustering needs no labels.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dcviz.data import DataError, load, parse_spec, save_upload
from dcviz.data import download


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "dcviz-data"
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(home))

    def no_network(*a, **k):
        raise OSError("no network in tests")

    monkeypatch.setattr(download, "fetcher", no_network)
    return home


def bad(spec, *fragments):
    """Load spec, expect a DataError holding every fragment; returns the message."""
    with pytest.raises(DataError) as e:
        load(spec)
    msg = str(e.value)
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


def npz(tmp_path: Path, name="d.npz", **arrays) -> str:
    p = tmp_path / name
    np.savez(p, **arrays)
    return str(p)


def png(path: Path, arr) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path)


def idx_bytes(arr: np.ndarray, magic=None) -> bytes:
    head = magic if magic is not None else bytes([0, 0, 8, arr.ndim])
    return head + b"".join(int(s).to_bytes(4, "big") for s in arr.shape) + \
        arr.astype(np.uint8).tobytes()


# ------------------------------------------------------------------------------------------------
# .npz / .npy

def test_malformed_npz_random_bytes(tmp_path):
    p = tmp_path / "junk.npz"
    p.write_bytes(np.random.default_rng(0).bytes(300))
    bad(str(p), "junk.npz", "not a readable NumPy .npz file")


def test_npz_that_is_a_damaged_zip(tmp_path):
    p = tmp_path / "cut.npz"
    np.savez(p, x=np.ones((50, 4)))
    p.write_bytes(p.read_bytes()[:-40])
    bad(str(p), "cut.npz", "npz")


def test_empty_npz(tmp_path):
    bad(npz(tmp_path, "none.npz"), "none.npz", "holds no arrays", "'x'")


def test_npz_with_pickled_object_array(tmp_path):
    p = tmp_path / "obj.npz"
    np.savez(p, x=np.array([{"a": 1}, None], dtype=object))
    bad(str(p), "obj.npz", "pickled", "for safety")


def test_npy_with_pickle(tmp_path):
    p = tmp_path / "obj.npy"
    np.save(p, np.array([[1], "a"], dtype=object), allow_pickle=True)
    bad(str(p), "obj.npy", "pickled")


def test_nan_values(tmp_path):
    x = np.ones((5, 3))
    x[2, 1] = np.nan
    bad(npz(tmp_path, x=x), "1 NaN", "sample 2", "finite")


def test_inf_values(tmp_path):
    x = np.ones((5, 3))
    x[4, 0] = -np.inf
    bad(npz(tmp_path, x=x), "1 infinite", "sample 4")


@pytest.mark.parametrize("x", [
    np.full((3, 4, 4), 1e300),  # float64 images beyond float32
    np.stack([np.full((4, 4), -3e38), np.full((4, 4), 3e38), np.zeros((4, 4))]).astype(np.float32),
])
def test_images_that_overflow_float32_are_refused(tmp_path, x):
    # the vector check did not cover images: they loaded as inf/NaN (the second one's values
    # fit float32, but the range it is scaled by does not)
    bad(npz(tmp_path, x=x), "too large for float32", "rescale")


def test_4d_array_that_is_not_images(tmp_path):
    bad(npz(tmp_path, x=np.zeros((10, 5, 6, 7))), "array 'x' has 4 dimensions (10, 5, 6, 7)",
        "channel axis", "(N, D) features")


def test_5d_array(tmp_path):
    bad(npz(tmp_path, x=np.zeros((2, 1, 2, 2, 2))), "5 dimension(s)", "expected (N, D)")


def test_1d_array(tmp_path):
    bad(npz(tmp_path, x=np.arange(10.0)), "1-D (10,)", "(N, 1)")


def test_labels_of_wrong_length(tmp_path):
    bad(npz(tmp_path, x=np.zeros((10, 2)), y=np.arange(9)), "9 labels but 10 samples")


def test_non_integer_labels(tmp_path):
    bad(npz(tmp_path, x=np.zeros((4, 2)), y=np.array([0, 1, 2.5, 1])), "whole numbers",
        "2.5")


def test_float_labels_beyond_int64_stay_apart(tmp_path):
    # a cast to int64 made 1e30 and 2e30 one class, and wrapped 2**64 - 1 to -1
    ds = load(npz(tmp_path, x=np.zeros((4, 2)), y=np.array([1e30, 2e30, 0.0, 2e30])))
    assert ds.y.tolist() == [1, 2, 0, 2] and ds.class_names == ["0", "1e+30", "2e+30"]
    ds = load(npz(tmp_path, "u.npz", x=np.zeros((3, 2)), y=np.array([2**64 - 1, 0, 1], np.uint64)))
    assert ds.y.tolist() == [2, 0, 1] and ds.class_names[2] == str(2**64 - 1)


@pytest.mark.parametrize("y", [[0.5, 1.0, 1.0], [1e30, 0.0, 0.0],
                               np.array([2**64 - 1, 0, 0], np.uint64), [np.nan, 0.0, 1.0]])
def test_dataset_built_directly_refuses_labels_that_are_not_ids(y):
    # Dataset cast y to int64 as it was: 0.5 became class 0, 1e30 became -2**63
    from dcviz.data import Dataset
    with pytest.raises(DataError, match="integer class ids.*clean_labels"):
        Dataset(x=np.zeros((3, 2)), y=np.asarray(y))


def test_nan_labels(tmp_path):
    bad(npz(tmp_path, x=np.zeros((3, 2)), y=np.array([0, np.nan, 1])), "labels", "NaN")


def test_single_sample(tmp_path):
    bad(npz(tmp_path, x=np.zeros((1, 4))), "only 1 sample", "at least 2")


def test_zero_samples(tmp_path):
    bad(npz(tmp_path, x=np.zeros((0, 4))), "empty", "at least 2 samples")


def test_text_features(tmp_path):
    bad(npz(tmp_path, x=np.array([["a", "b"], ["c", "d"]])), "text", "expected numbers")


def test_npz_without_a_feature_array_name(tmp_path):
    bad(npz(tmp_path, a=np.zeros((3, 2)), b=np.zeros((3, 2))), "cannot tell which array",
        "'a'", "x_key")


def test_empty_file(tmp_path):
    p = tmp_path / "zero.npy"
    p.write_bytes(b"")
    bad(str(p), "zero.npy", "empty (0 bytes)")


# ------------------------------------------------------------------------------------------------
# .csv

def test_empty_csv(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("\n  \n")
    bad(str(p), "e.csv", "empty")


def test_csv_with_a_text_cell(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    bad(str(p), "line 3, column 2 ('b')", "'oops'", "not a number")


def test_csv_ragged_rows(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("1,2,3\n4,5,6\n7,8\n")
    bad(str(p), "line 3 has 2 column(s) but the first row has 3")


def test_csv_empty_cell(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("a,b\n1,2\n3,\n")
    bad(str(p), "line 3, column 2", "is empty", "missing values")


def test_csv_header_only(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("a,b,c\n")
    bad(str(p), "only a header row")


def test_csv_unknown_label_column(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("a,b\n1,2\n3,4\n")
    bad({"path": str(p), "label_col": "kind"}, "no column named 'kind'", "a, b")


def test_csv_binary_content(tmp_path):
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\x00\x01\x02" * 100)
    bad(str(p), "binary file")


def test_csv_too_large_for_the_memory_budget(tmp_path, monkeypatch):
    # read_csv holds every cell as a Python string: ~14-26x the file; nothing checked it
    monkeypatch.setenv("DCVIZ_MAX_DATA_MB", "1")
    p = tmp_path / "big.csv"
    p.write_text("\n".join(",".join(["12"] * 50) for _ in range(1000)) + "\n")  # 150 KB
    bad(str(p), "big.csv", "of memory", "more than the 1 MiB", ".npy or .npz")
    p.write_text("\n".join(",".join(["12"] * 50) for _ in range(100)) + "\n")  # 15 KB: fine
    assert load(str(p)).n == 100


@pytest.mark.parametrize("label_col", [2, -1, "2"])
def test_csv_without_header_keeps_its_first_row_of_text_labels(tmp_path, label_col):
    # a text label in the first row used to make that row the header, and it was lost
    p = tmp_path / "pets.csv"
    p.write_text("1.0,2.0,cat\n3.0,4.0,dog\n5.0,6.0,cat\n7.0,8.0,dog\n")
    ds = load({"path": str(p), "label_col": label_col})
    assert ds.n == 4 and ds.x[0].tolist() == [1.0, 2.0]
    assert ds.class_names == ["cat", "dog"] and ds.y.tolist() == [0, 1, 0, 1]
    # a header over numeric labels, with numbers for feature names, is still a header
    p.write_text("0,1,label\n1.0,2.0,0\n3.0,4.0,1\n")
    ds = load({"path": str(p), "label_col": 2})
    assert ds.n == 2 and ds.y.tolist() == [0, 1]


# ------------------------------------------------------------------------------------------------
# IDX

def test_truncated_idx(tmp_path):
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 4, 4)))[:-30]))
    bad(str(p), "truncated", "10 x 4 x 4", "130 bytes")


def test_truncated_gzip_stream(tmp_path):
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(idx_bytes(np.zeros((10, 4, 4))))[:-12])
    bad(str(p), "gzip data is damaged or cut short")


def test_idx_with_bad_magic(tmp_path):
    p = tmp_path / "x-images-idx3-ubyte"
    p.write_bytes(idx_bytes(np.zeros((3, 4, 4)), magic=b"\x12\x34\x08\x03"))
    bad(str(p), "bad magic number 0x12340803", "0x00000803")


def test_idx_labels_file_given_as_images(tmp_path):
    p = tmp_path / "t10k-labels-idx1-ubyte"
    p.write_bytes(idx_bytes(np.arange(5)))
    bad(str(p), "1-D IDX file (labels)", "images file")


def test_idx_label_count_mismatch(tmp_path):
    (tmp_path / "a-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((4, 2, 2))))
    (tmp_path / "a-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(3)))
    bad(str(tmp_path / "a-images-idx3-ubyte"), "3 labels", "4 images", "do not belong together")


# ------------------------------------------------------------------------------------------------
# image folders

def test_image_folder_mixed_sizes(tmp_path):
    png(tmp_path / "f" / "cat" / "a.png", np.zeros((8, 8)))
    png(tmp_path / "f" / "dog" / "b.png", np.zeros((6, 9)))
    bad(str(tmp_path / "f"), "images differ in size", "cat/a.png is 8x8", "dog/b.png is 9x6",
        "resize=[H, W]")
    # ... and resize makes it load
    assert load({"path": str(tmp_path / "f"), "resize": [5, 5]}).image_shape == (1, 5, 5)


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    bad(str(tmp_path / "empty"), "folder is empty", "one sub-folder of images per class")


def test_class_folder_without_images(tmp_path):
    png(tmp_path / "f" / "cat" / "a.png", np.zeros((4, 4)))
    png(tmp_path / "f" / "cat" / "b.png", np.zeros((4, 4)))
    (tmp_path / "f" / "dog").mkdir()
    bad(str(tmp_path / "f"), "class folder 'dog' holds no images")


def test_non_image_file_in_image_folder(tmp_path):
    png(tmp_path / "f" / "cat" / "a.png", np.zeros((4, 4)))
    (tmp_path / "f" / "cat" / "notes.txt").write_text("hello")
    bad(str(tmp_path / "f"), "cat/notes.txt is not an image file", "remove it")


def test_broken_image_file(tmp_path):
    png(tmp_path / "f" / "cat" / "a.png", np.zeros((4, 4)))
    (tmp_path / "f" / "cat" / "b.png").write_bytes(b"not a png at all")
    bad(str(tmp_path / "f"), "cat/b.png cannot be read as an image")


def test_one_class_folder_is_accepted(tmp_path):
    png(tmp_path / "f" / "only" / "a.png", np.zeros((4, 4)))
    png(tmp_path / "f" / "only" / "b.png", np.full((4, 4), 255))
    ds = load(str(tmp_path / "f"))
    assert ds.n_classes == 1 and list(ds.y) == [0, 0]


def test_bad_resize_option(tmp_path):
    bad({"path": str(tmp_path), "resize": [0, 5]}, "resize", "[height, width]")


# ------------------------------------------------------------------------------------------------
# specs and options

def test_unknown_data_set_id():
    bad("cifar10", "unknown data set 'cifar10'", "digits", "blobs8", "mnist")


def test_unknown_data_set_id_in_dict():
    bad({"name": "nope"}, "unknown data set 'nope'", "synth25")


def test_unknown_extension(tmp_path):
    p = tmp_path / "data.xyz"
    p.write_text("1,2")
    bad(str(p), "unknown file type '.xyz'", ".npz, .npy, .csv")


def test_missing_file(tmp_path):
    bad(str(tmp_path / "gone.npz"), "file not found", "gone.npz")


@pytest.mark.parametrize("n", [0, -5, 1])
def test_n_too_small(n):
    bad({"name": "digits", "n": n}, "option 'n'", "at least 2")


def test_n_not_an_integer():
    bad({"name": "digits", "n": 2.5}, "option 'n' must be an integer")


def test_unknown_option():
    bad({"name": "blobs8", "radius": 3}, "unknown option(s) 'radius'", "n_samples", "std")


def test_bad_choice():
    bad({"name": "mnist", "subset": "validation"}, "'validation'", "'train', 'test', 'all'")


def test_spec_with_name_and_path():
    bad({"name": "digits", "path": "x.npz"}, "exactly one of 'name'")


def test_spec_of_wrong_type():
    bad(42, "a data spec must be", "int")


def test_parse_spec_bad_json():
    with pytest.raises(DataError, match="not valid JSON"):
        parse_spec('{"name": "mnist",}')


# ------------------------------------------------------------------------------------------------
# uploads

def test_upload_of_unknown_type(data_home):
    with pytest.raises(DataError, match="'.exe' are not accepted"):
        save_upload("evil.exe", b"MZ...")


def test_upload_empty(data_home):
    with pytest.raises(DataError, match="empty"):
        save_upload("x.csv", b"")


def test_upload_bad_csv_names_the_users_file(data_home):
    with pytest.raises(DataError) as e:
        save_upload("my table.csv", b"a,b\n1,x\n")
    assert "my table.csv" in str(e.value) and "not a number" in str(e.value)
    assert not list((data_home / "uploads").iterdir())


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_zip_with_dotdot_path(data_home):
    with pytest.raises(DataError, match="outside the archive"):
        save_upload("a.zip", _zip({"ok/a.png": b"x", "../../evil.txt": b"x"}))
    assert not (data_home / "evil.txt").exists()


def test_zip_with_absolute_path(data_home):
    with pytest.raises(DataError, match="outside the archive"):
        save_upload("a.zip", _zip({"/tmp/evil.txt": b"x"}))


def test_zip_with_symlink(data_home):
    with pytest.raises(DataError, match="symbolic link"):
        save_upload("a.zip", _zip({"c/a.png": b"x"}, symlink="c/link.png"))


def test_zip_too_large(data_home, monkeypatch):
    from dcviz.data import zips

    monkeypatch.setattr(zips, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(DataError, match="larger than"):
        save_upload("big.zip", _zip({"c/a.png": b"\0" * 5000}))


def test_not_a_zip(data_home):
    with pytest.raises(DataError, match="not a valid zip archive"):
        save_upload("a.zip", b"PK but not really")


def test_python_pickle_named_npz(tmp_path):
    import pickle

    p = tmp_path / "p.npz"
    p.write_bytes(pickle.dumps({"x": [1, 2, 3]}))
    bad(str(p), "p.npz", "Python pickle", "for safety")
