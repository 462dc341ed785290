"""dcviz.data: built-in and synthetic sets, specs, subsampling, files, downloads, uploads."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dcviz import data as D
from dcviz.data import DataError, Dataset, list_datasets, load, parse_spec, save_upload
from dcviz.data import download

SHARED = Path(__file__).parents[1] / ".." / "shared" / "datasets"
MNIST_TEST = SHARED / "mnist-test"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
needs_mnist_test = pytest.mark.skipif(not (MNIST_TEST / "t10k-images-idx3-ubyte.gz").is_file(),
                                      reason="../shared/datasets/mnist-test is not here")


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Every test gets its own data dir, and never touches the network."""
    home = tmp_path / "dcviz-data"
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(home))
    monkeypatch.delenv("DCVIZ_OFFLINE", raising=False)

    def no_network(*a, **k):
        raise OSError("tests have no network")

    monkeypatch.setattr(download, "fetcher", no_network)
    return home


# ------------------------------------------------------------------------------------------------
# registered sets

EXPECTED = {
    # id: (N, D, image_shape, n_classes, per-class count or None)
    "digits": (1797, 64, (1, 8, 8), 10, None),
    "artifact-digits": (1797, 64, (1, 8, 8), 10, None),
    "blobs8": (2000, 2, None, 8, 250),
    "sphere2": (200, 3, None, 2, 100),
    "manifolds": (2000, 10, None, 4, 500),
    "synth25": (12000, 27, None, 4, 3000),
    "objects": (1500, 1024, (1, 32, 32), 3, 500),
}


@pytest.mark.parametrize("ds_id", list(EXPECTED))
def test_registered_shapes_dtypes_labels(ds_id):
    n, d, shape, k, per_class = EXPECTED[ds_id]
    ds = load(ds_id)
    assert isinstance(ds, Dataset)
    assert ds.x.shape == (n, d) and ds.x.dtype == np.float32
    assert ds.y.shape == (n,) and ds.y.dtype == np.int64
    assert (ds.n, ds.dim, ds.n_classes, ds.image_shape) == (n, d, k, shape)
    assert np.isfinite(ds.x).all()
    assert sorted(np.unique(ds.y)) == list(range(k))
    assert len(ds.class_names) == k
    if per_class is not None:
        assert (np.bincount(ds.y) == per_class).all()
    if shape is not None:
        assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
        imgs = ds.images([0, 1, 2])
        assert imgs.shape == (3,) + shape[1:]
    else:
        assert ds.images([0]) is None
    assert ds.name == ds_id and ds.spec["name"] == ds_id
    json.dumps(ds.spec)


def test_digits_matches_sklearn():
    from sklearn.datasets import load_digits

    ref = load_digits()
    ds = load("digits")
    np.testing.assert_array_equal(ds.x, (ref.data / 16.0).astype(np.float32))
    np.testing.assert_array_equal(ds.y, ref.target)
    assert ds.x.max() == 1.0


@pytest.mark.parametrize("ds_id,opts", [("blobs8", {"n_samples": 400}),
                                        ("sphere2", {}), ("manifolds", {"n_samples": 400}),
                                        ("synth25", {"n_samples": 400}),
                                        ("objects", {"n_samples": 30})])
def test_synthetic_deterministic_per_seed(ds_id, opts):
    a = load({"name": ds_id, **opts, "seed": 1})
    D.clear_cache()
    b = load({"name": ds_id, **opts, "seed": 1})
    c = load({"name": ds_id, **opts, "seed": 2})
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


def test_blobs8_follows_the_gan_paper():
    ds = load("blobs8")
    centers = np.array([ds.x[ds.y == k].mean(0) for k in range(8)])
    assert np.allclose(np.linalg.norm(centers, axis=1), 1.414, atol=0.01)
    stds = np.array([ds.x[ds.y == k].std(0) for k in range(8)])
    assert np.allclose(stds, 0.014, rtol=0.25)


def test_sphere2_follows_mlc():
    ds = load("sphere2")
    ring, cap = ds.x[ds.y == 0], ds.x[ds.y == 1]
    assert np.allclose(np.linalg.norm(ring, axis=1), 1.0, atol=0.25)
    assert np.abs(ring[:, 2]).max() < 0.2 + 0.25          # latitude within A plus noise
    assert np.allclose(cap.mean(0), [0, 0, 1], atol=0.03)
    assert "position" in ds.factors and ds.factors["position"].shape == (200,)


def test_manifolds_intersect_and_live_in_a_subspace():
    ds = load({"name": "manifolds", "noise": 0.0})
    s = np.linalg.svd(ds.x - ds.x.mean(0), compute_uv=False)
    assert s[3] < 1e-3 * s[0]                              # intrinsically 3-D
    # every manifold comes close to another one (they intersect)
    for k in range(4):
        a, b = ds.x[ds.y == k], ds.x[ds.y != k]
        d = np.sqrt(((a[:200, None] - b[None, ::4]) ** 2).sum(-1)).min()
        assert d < 0.1
    assert ds.factors["t"].shape == (ds.n,)


def test_synth25_has_cluster_and_noise_dims():
    ds = load({"name": "synth25", "n_samples": 4000})
    means = np.array([ds.x[ds.y == k].mean(0) for k in range(4)])
    assert np.abs(means[:, :2]).min() > 1.5               # clusters at (+-2, +-2)
    assert np.abs(means[:, 2:]).max() < 0.15              # noise dims carry no cluster info
    assert np.allclose(ds.x[:, 2:].std(0), 1.0, atol=0.1)


def test_synth25_standardized_hides_the_clusters_in_equal_variance():
    raw = load({"name": "synth25", "n_samples": 4000})
    std = load({"name": "synth25", "n_samples": 4000, "scale": "standardized"})
    assert np.allclose(std.x.mean(0), 0.0, atol=1e-4) and np.allclose(std.x.std(0), 1.0, atol=1e-4)
    # the same draw, each feature rescaled: the cluster dims lose their larger variance
    assert raw.x[:, :2].std(0).min() > 1.5 * raw.x[:, 2:].std(0).max()
    assert np.allclose(std.x, (raw.x - raw.x.mean(0)) / raw.x.std(0), atol=1e-4)
    assert (std.y == raw.y).all()
    with pytest.raises(DataError, match="scale"):
        load({"name": "synth25", "scale": "zscore"})


def test_objects_light_changes_shading_and_shapes_are_recognisable():
    from dcviz.data.objects import _rot_x, _rot_y, render

    left, right = np.array([-0.8, 0, 0.6]), np.array([0.8, 0, 0.6])
    rot = _rot_x(0.4) @ _rot_y(0.6)
    for shape in range(3):
        a, b = render(shape, left, rotation=rot), render(shape, right, rotation=rot)
        assert np.abs(a - b).mean() > 0.05                # the light visibly changes it
        assert ((a > 0) == (b > 0)).mean() > 0.99         # the silhouette does not
    ds = load({"name": "objects", "n_samples": 600})
    assert {"light", "light_azimuth", "light_elevation"} <= set(ds.factors)
    # silhouettes tell the shapes apart: a linear classifier on the masks, on held-out images
    from sklearn.linear_model import LogisticRegression

    masks = (ds.x > 0.01).astype(np.float32)
    tr, te = np.arange(ds.n) < 450, np.arange(ds.n) >= 450
    clf = LogisticRegression(max_iter=300).fit(masks[tr], ds.y[tr])
    assert clf.score(masks[te], ds.y[te]) > 0.9


def test_synthetic_and_digits_load_fast():
    import time

    for ds_id in ["digits", "blobs8", "sphere2", "manifolds", "synth25"]:
        D.clear_cache()
        t = time.perf_counter()
        load(ds_id)
        assert time.perf_counter() - t < 1.0, ds_id


def test_returned_arrays_are_the_callers_own():
    a = load("blobs8")
    a.x[:] = 0
    a.y[:] = 0
    b = load("blobs8")
    assert b.x.std() > 0.5 and b.n_classes == 8


# ------------------------------------------------------------------------------------------------
# specs

@pytest.mark.parametrize("spec", ["digits", {"name": "objects", "n_samples": 60, "n": 30},
                                  {"name": "manifolds", "dim": 5, "seed": 3, "n": 100}])
def test_spec_round_trip(spec):
    ds = load(spec)
    again = load(json.loads(json.dumps(ds.spec)))
    np.testing.assert_array_equal(ds.x, again.x)
    np.testing.assert_array_equal(ds.y, again.y)
    assert again.spec == ds.spec


def test_spec_is_normalised():
    assert load("digits").spec == {"name": "digits", "seed": 0}
    spec = load({"name": "blobs8", "n": 80}).spec
    assert spec == {"name": "blobs8", "n_samples": 2000, "std": 0.014, "seed": 0, "n": 80}
    assert load("Digits").spec["name"] == "digits"


def test_n_subsample_is_stratified_and_seeded():
    ds = load({"name": "digits", "n": 500})
    full = np.bincount(load("digits").y) / 1797
    assert ds.n == 500
    assert np.abs(np.bincount(ds.y) / 500 - full).max() < 0.01
    again = load({"name": "digits", "n": 500})
    other = load({"name": "digits", "n": 500, "seed": 1})
    np.testing.assert_array_equal(ds.x, again.x)
    assert not np.array_equal(ds.x, other.x)
    assert load({"name": "digits", "n": 5000}).n == 1797   # n >= N keeps everything


def test_stratified_subsample_keeps_small_classes():
    y = np.array([0] * 990 + [1] * 10)
    idx = D.stratified_subsample(y, 1000, 50, seed=0)
    assert len(idx) == 50 and len(set(idx)) == 50
    assert (y[idx] == 1).sum() >= 1


def test_parse_spec_forms(tmp_path):
    assert parse_spec("digits") == {"name": "digits", "seed": 0}
    assert parse_spec('{"name": "mnist", "subset": "test"}') == {"name": "mnist",
                                                                  "subset": "test", "seed": 0}
    assert parse_spec("blobs8:n_samples=100,std=0.1") == {
        "name": "blobs8", "n_samples": 100, "std": 0.1, "seed": 0}
    p = tmp_path / "x.npz"
    assert parse_spec(str(p))["path"] == str(p)
    assert parse_spec("rel/dir/data.csv")["path"].endswith("rel/dir/data.csv")


def test_list_datasets():
    items = list_datasets()
    ids = [d["id"] for d in items]
    assert ids[0] == "digits"
    assert set(EXPECTED) | {"mnist", "fashion-mnist", "usps"} == set(ids)
    for d in items:
        assert {"id", "title", "kind", "description", "image", "suits", "defaults"} <= set(d)
        assert d["kind"] in ("built-in", "synthetic", "download")
        assert isinstance(d["suits"], list) and d["suits"]
        json.dumps(d)
        # the defaults are valid options, and the spec lists them all
        spec = D.normalise_spec({"name": d["id"], **d["defaults"]})
        assert spec == {"name": d["id"], **d["defaults"]}
        assert set(d["options"]) == set(d["defaults"]) | {"n"}
    by = {d["id"]: d for d in items}
    assert by["blobs8"]["suits"] == ["gan"] and by["sphere2"]["suits"] == ["mlc"]
    assert by["manifolds"]["suits"] == ["dcrl"] and "acedec" in by["synth25"]["suits"]
    assert "dekm" in by["digits"]["suits"]
    assert by["objects"]["image"] and not by["blobs8"]["image"]


def test_dataset_images_colour_and_grey():
    x = np.random.default_rng(0).random((4, 3 * 5 * 6)).astype(np.float32)
    ds = Dataset(x=x, y=None, image_shape=(3, 5, 6), name="c")
    assert ds.images([0, 1]).shape == (2, 5, 6, 3)
    assert ds.images(2).shape == (1, 5, 6, 3)
    np.testing.assert_array_equal(ds.images([0])[0, :, :, 1], x[0].reshape(3, 5, 6)[1])
    assert ds.n_classes is None


def test_data_package_never_imports_streamlit():
    code = ("import sys, dcviz.data as d; d.load('blobs8'); "
            "assert 'streamlit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   cwd=Path(__file__).parents[1])


# ------------------------------------------------------------------------------------------------
# files

def test_npz_vectors_with_text_labels(tmp_path):
    p = tmp_path / "v.npz"
    x = np.arange(20, dtype=np.float64).reshape(10, 2)
    np.savez(p, features=x, labels=np.array(["b", "a"] * 5))
    ds = load(str(p))
    assert ds.x.shape == (10, 2) and ds.image_shape is None
    assert ds.class_names == ["a", "b"] and list(ds.y[:2]) == [1, 0]
    assert ds.x.max() == 19.0                              # vectors are not rescaled
    assert ds.name == "v.npz" and ds.spec["path"] == str(p)


@pytest.mark.parametrize("shape,layout", [((6, 7, 8), (1, 7, 8)), ((6, 1, 7, 8), (1, 7, 8)),
                                          ((6, 7, 8, 3), (3, 7, 8)), ((6, 3, 7, 8), (3, 7, 8))])
def test_npz_image_layouts_and_scaling(tmp_path, shape, layout):
    x = np.random.default_rng(0).integers(0, 256, size=shape).astype(np.uint8)
    x.flat[0] = 255
    np.savez(tmp_path / "i.npz", x=x, y=np.arange(6) % 2)
    ds = load({"path": str(tmp_path / "i.npz")})
    assert ds.image_shape == layout and ds.x.max() == 1.0 and ds.x.min() >= 0
    assert ds.n_classes == 2


def test_npy_features_only(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((5, 3)))
    ds = load(str(tmp_path / "a.npy"))
    assert ds.y is None and ds.n_classes is None and ds.x.shape == (5, 3)


def test_csv_header_labels_and_label_col(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,Class\n1,2,cat\n3,4,dog\n\n5,6,cat\n")
    ds = load(str(p))
    assert ds.x.tolist() == [[1, 2], [3, 4], [5, 6]] and ds.class_names == ["cat", "dog"]
    q = tmp_path / "n.csv"
    q.write_text("1;2;0\n3;4;1\n5;6;1\n")
    ds = load({"path": str(q), "label_col": -1})
    assert ds.x.shape == (3, 2) and list(ds.y) == [0, 1, 1]
    assert load(str(q)).x.shape == (3, 3)                  # no header: no label column


def _write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> None:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_raw_and_gz_pair(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (7, 4, 5))
    _write_idx(tmp_path / "train-images-idx3-ubyte", x, gz=False)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(7) % 3)
    ds = load(str(tmp_path / "train-images-idx3-ubyte"))
    assert ds.image_shape == (1, 4, 5) and list(np.bincount(ds.y)) == [3, 2, 2]
    np.testing.assert_allclose(ds.x, x.reshape(7, -1) / 255.0, atol=1e-6)
    assert load({"path": str(tmp_path)}).n == 7


@needs_mnist_test
def test_mnist_test_folder_and_file():
    for spec in [{"path": str(MNIST_TEST)},
                 {"path": str(MNIST_TEST / "t10k-images-idx3-ubyte.gz")}]:
        ds = load(spec)
        assert ds.x.shape == (10000, 784) and ds.image_shape == (1, 28, 28)
        assert list(np.bincount(ds.y)) == MNIST_TEST_COUNTS
        assert ds.x.min() == 0.0 and ds.x.max() == 1.0


def _png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint8)).save(path)


def test_image_folder_grey_colour_resize_and_one_class(tmp_path):
    rng = np.random.default_rng(0)
    for c in ["dog", "cat"]:
        for i in range(3):
            _png(tmp_path / "grey" / c / f"{i}.png", rng.integers(0, 256, (6, 5)))
    (tmp_path / "grey" / ".DS_Store").write_bytes(b"junk")          # hidden files are skipped
    ds = load(str(tmp_path / "grey"))
    assert ds.image_shape == (1, 6, 5) and ds.class_names == ["cat", "dog"]
    assert list(np.bincount(ds.y)) == [3, 3]
    _png(tmp_path / "col" / "a" / "0.png", rng.integers(0, 256, (6, 5, 3)))
    _png(tmp_path / "col" / "b" / "1.png", rng.integers(0, 256, (8, 8)))
    ds = load({"path": str(tmp_path / "col"), "resize": [4, 4]})
    assert ds.image_shape == (3, 4, 4) and ds.images([0]).shape == (1, 4, 4, 3)
    # one class folder is allowed: one class, all labels 0 (documented)
    for i in range(2):
        _png(tmp_path / "one" / "only" / f"{i}.png", rng.integers(0, 256, (5, 5)))
    ds = load(str(tmp_path / "one"))
    assert ds.n_classes == 1 and ds.class_names == ["only"]
    # images without sub-folders: unlabelled
    ds = load(str(tmp_path / "one" / "only"))
    assert ds.y is None


def test_file_cache_sees_changes(tmp_path):
    p = tmp_path / "c.npy"
    np.save(p, np.zeros((3, 2)))
    assert load(str(p)).x.sum() == 0
    np.save(p, np.ones((4, 2)))
    import os
    os.utime(p, ns=(1, 10**18))
    assert load(str(p)).x.shape == (4, 2)


# ------------------------------------------------------------------------------------------------
# downloads

def _fake_usps(calls):
    def fetcher(name, version, data_home):
        calls.append((name, version, data_home))
        rng = np.random.default_rng(0)
        x = rng.uniform(-1, 1, size=(9298, 256))
        x[0, 0], x[0, 1] = -1.0, 1.0
        y = np.array([str(1 + i % 10) for i in range(9298)], dtype=object)
        return x, y
    return fetcher


def test_download_converts_caches_and_splits(monkeypatch, data_home):
    calls = []
    monkeypatch.setattr(download, "fetcher", _fake_usps(calls))
    ds = load({"name": "usps"})
    assert calls and calls[0][0] == "usps" and calls[0][2].startswith(str(data_home))
    assert ds.x.shape == (9298, 256) and ds.image_shape == (1, 16, 16)
    assert ds.x.min() == 0.0 and ds.x.max() == 1.0 and sorted(np.unique(ds.y)) == list(range(10))
    assert (data_home / "usps" / "usps.npz").is_file()
    # later loads read the cache file, not the network
    monkeypatch.setattr(download, "fetcher", lambda *a: pytest.fail("downloaded twice"))
    D.clear_cache()
    assert load({"name": "usps", "subset": "train"}).n == 7291
    test = load({"name": "usps", "subset": "test", "n": 100})
    assert test.n == 100 and test.spec == {"name": "usps", "subset": "test", "seed": 0,
                                           "n": 100}


def test_download_offline_error_names_cache_folder(data_home):
    with pytest.raises(DataError) as e:
        load("mnist")
    msg = str(e.value)
    assert "could not be downloaded" in msg and "tests have no network" in msg
    assert str(data_home / "mnist") in msg and "mnist.npz" in msg
    assert "train-images-idx3-ubyte.gz" in msg


def test_a_data_folder_that_cannot_be_used_is_said_before_any_download(monkeypatch, tmp_path):
    """DCVIZ_DATA_DIR names a file: the message says so, not that the internet is needed."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(afile))
    monkeypatch.setattr(download, "fetcher", lambda *a: pytest.fail("should not download"))
    with pytest.raises(DataError) as e:
        load("usps")
    msg = str(e.value)
    assert "is a file, not a folder" in msg and "DCVIZ_DATA_DIR" in msg
    assert "could not be downloaded" not in msg


def test_offline_env_skips_the_download(monkeypatch):
    monkeypatch.setenv("DCVIZ_OFFLINE", "1")
    monkeypatch.setattr(download, "fetcher", lambda *a: pytest.fail("should not download"))
    with pytest.raises(DataError, match="DCVIZ_OFFLINE"):
        load("fashion-mnist")


def test_download_fetched_mnist_values(monkeypatch, data_home):
    def fetcher(name, version, data_home):
        assert name == "mnist_784"
        return np.full((20, 784), 255.0), np.array([str(i % 10) for i in range(20)])
    monkeypatch.setattr(download, "fetcher", fetcher)
    ds = load("mnist")
    assert ds.n == 20 and ds.x.max() == 1.0 and ds.class_names[3] == "3"
    with np.load(data_home / "mnist" / "mnist.npz") as z:
        assert z["x"].dtype == np.uint8
    with pytest.raises(DataError, match="does not say which images are test"):
        load({"name": "mnist", "subset": "test"})


@needs_mnist_test
def test_mnist_idx_files_put_by_hand(data_home):
    (data_home / "mnist").mkdir(parents=True)
    for f in MNIST_TEST.glob("*.gz"):
        shutil.copy(f, data_home / "mnist" / f.name)
    ds = load({"name": "mnist", "subset": "test"})
    assert list(np.bincount(ds.y)) == MNIST_TEST_COUNTS and ds.image_shape == (1, 28, 28)
    assert (data_home / "mnist" / "mnist.npz").is_file()
    with pytest.raises(DataError, match="no train images"):
        load({"name": "mnist", "subset": "train"})


# ------------------------------------------------------------------------------------------------
# uploads

def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def test_save_upload_stores_by_hash(data_home):
    content = _npz_bytes(x=np.random.default_rng(0).random((10, 3)), y=np.arange(10) % 2)
    spec = save_upload("../../etc/My Data.NPZ", content)
    p = Path(spec["path"])
    assert p.parent == data_home / "uploads" and p.suffix == ".npz"
    assert len(p.stem) == 16 and all(c in "0123456789abcdef" for c in p.stem)
    assert spec["label"] == "My Data.NPZ"
    ds = load(spec)
    assert ds.name == "My Data.NPZ" and ds.n == 10
    assert save_upload("again.npz", content)["path"] == spec["path"]


def test_save_upload_rejects_bad_content_and_keeps_nothing(data_home):
    with pytest.raises(DataError, match="bad.npz"):
        save_upload("bad.npz", b"definitely not numpy")
    assert not any((data_home / "uploads").iterdir())


def test_an_upload_that_cannot_be_kept_names_the_data_folder(data_home, monkeypatch, tmp_path):
    """A full disk, or DCVIZ_DATA_DIR naming a file: the upload is refused with the folder and
    the reason, as a DataError the page shows, and nothing is kept."""
    import errno

    from dcviz.data import upload as U
    content = _npz_bytes(x=np.random.default_rng(0).random((10, 3)), y=np.arange(10) % 2)

    def full(path, content):
        raise OSError(errno.ENOSPC, "No space left on device")
    with monkeypatch.context() as m:
        m.setattr(U, "_atomic_write", full)
        with pytest.raises(DataError, match=r"mine.npz: cannot be kept in .* is full"):
            save_upload("mine.npz", content)
    assert not any((data_home / "uploads").iterdir())
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(afile))
    with pytest.raises(DataError, match="mine.npz: cannot be kept in .*DCVIZ_DATA_DIR"):
        save_upload("mine.npz", content)


def test_save_upload_zip_of_image_folder(data_home):
    from PIL import Image

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in ["a", "b"]:
            for i in range(2):
                png = io.BytesIO()
                Image.fromarray(np.full((4, 4), 60 * i, np.uint8)).save(png, format="PNG")
                zf.writestr(f"shapes/{c}/{i}.png", png.getvalue())
        zf.writestr("__MACOSX/shapes/._a", b"junk")
    spec = save_upload("shapes.zip", buf.getvalue())
    ds = load(spec)
    assert ds.class_names == ["a", "b"] and ds.image_shape == (1, 4, 4)
    assert Path(spec["path"]).is_dir() and Path(spec["path"]).parent == data_home / "uploads"


def test_save_upload_idx(tmp_path):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 2, 2)))
    spec = save_upload("t10k-images-idx3-ubyte.gz",
                       (tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert spec["path"].endswith("-idx3-ubyte.gz") and load(spec).n == 3


def test_bare_folder_name_in_cwd_is_a_path(tmp_path, monkeypatch):
    np.save(tmp_path / "a.npy", np.ones((3, 2)))
    (tmp_path / "mydata").mkdir()
    for i in range(2):
        _png(tmp_path / "mydata" / "k" / f"{i}.png", np.zeros((3, 3)))
    monkeypatch.chdir(tmp_path)
    ds = load("mydata")
    assert ds.spec["path"] == str(tmp_path / "mydata") and ds.n == 2


def test_prepared_npz_put_by_hand(data_home):
    (data_home / "fashion-mnist").mkdir(parents=True)
    x = np.random.default_rng(0).uniform(0, 255, (12, 28, 28)).round()
    np.savez(data_home / "fashion-mnist" / "fashion-mnist.npz", x=x, y=np.arange(12) % 10)
    ds = load("fashion-mnist")
    assert ds.n == 12 and ds.x.max() <= 1.0 and ds.class_names[9] == "Ankle boot"
