"""Checkpoints: open a trained model, push new data through it, and the Checkpoints page.

The model is the session's tiny ae-kmeans run on digits (tests/conftest.py).
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from dcviz import data as D
from dcviz import inference as I
from dcviz.runs.archive import export_zip, import_run_folder
from dcviz.projection import pca_2d
from dcviz.runs import RunStore
from pagekit import open_page, page_text
from test_pages import assert_clean, assert_help_everywhere

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def model(tiny_run):
    return I.open_model(tiny_run.rd)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DCVIZ_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# =========================================================================== the model

def test_open_model_knows_its_shape_and_training_points(model, tiny_run):
    assert model.input_dim == 64 and model.image_shape == (1, 8, 8)
    assert model.expected_shape() == "64 features (1x8x8 images)"
    assert model.n_clusters == 10
    last = tiny_run.view.snapshot(-1)
    np.testing.assert_array_equal(model.train_assign, last.assign)
    np.testing.assert_array_equal(model.train_index, tiny_run.view.subsample)
    assert model.snapshot_index == tiny_run.view.count - 1


def test_training_data_lands_where_the_run_had_it(model, tiny_run):
    ds = I.load_new_data(model, "digits")
    view = tiny_run.view
    train_x = I.training_x(model, view.dataset)
    reference = pca_2d(view.snapshot(-1).latent) @ np.array([[0.0, -1.0], [1.0, 0.0]])  # turned 90°
    res = I.infer(model, ds, reference=reference, train_x=train_x)
    assert res.assign.shape == (ds.n,) and res.sizes.sum() == ds.n and len(res.sizes) == 10
    # the checkpoint assigns the training points as the run's last snapshot did
    assert np.mean(res.assign[view.subsample] == view.snapshot(-1).assign) > 0.99
    # the run's points are drawn as on Explore (the reference), and new points on the same basis
    assert res.train_source == "snapshot"
    np.testing.assert_allclose(res.train_coords, reference - reference.mean(0), atol=1e-6)
    np.testing.assert_allclose(res.coords[view.subsample], res.train_coords, atol=1e-4)
    assert set(res.scores) == {"acc", "nmi", "ari"} and res.scores["acc"] > 0.3
    # ae-kmeans assigns to the nearest centroid: its confidence is the distance margin
    assert res.confidence.kind == "margin" and (res.confidence.values >= 0).all()


def test_wrong_shape_is_refused_with_the_expected_shape(model):
    with pytest.raises(I.ShapeError) as info:
        I.check_shape(model, np.zeros((5, 784), np.float32), (1, 28, 28), where="the file")
    assert str(info.value) == ("this checkpoint expects 64 features (1x8x8 images); the file has "
                               "784 features (1x28x28 images)")
    with pytest.raises(I.ShapeError, match="expects 64 features .* has 10 features"):
        I.load_new_data(model, "manifolds")
    with pytest.raises(I.ShapeError, match="1x32x32 images"):
        I.load_new_data(model, {"name": "objects", "n_samples": 30})
    with pytest.raises(I.ShapeError, match="NaN"):
        I.check_shape(model, np.full((2, 64), np.nan))
    with pytest.raises(I.ShapeError, match=r"\(N, D\)"):
        I.check_shape(model, np.zeros(64))


def test_new_data_on_another_scale_is_warned_about_not_refused(model, tiny_run):
    """The built-in digits are divided by 16; the same digits as raw 0-16 vectors, or as an 8x8
    image upload that scale_images divides by 255, go through with a warning that names both
    ranges (the review measured ACC 0.37 falling to 0.17-0.20 without a word)."""
    train = tiny_run.view.dataset
    train_x = I.training_x(model, train)
    raw = D.load("digits")
    for x, word in [(raw.x * 16.0, "larger"), (raw.x * 16.0 / 255.0, "smaller"),
                    (raw.x * 255.0, "larger")]:
        ds = D.Dataset(x=x.astype(np.float32), y=raw.y, image_shape=raw.image_shape, name="mine.npz")
        res = I.infer(model, ds, train_x=train_x, train_data=train.x)
        assert res.scale_warning and "mine.npz is on another scale" in res.scale_warning
        assert word in res.scale_warning and "from 0 to 1 " in res.scale_warning
        assert res.assign.shape == (raw.n,)   # still assigned
        # the training subsample alone is enough to tell
        assert I.infer(model, ds, train_x=train_x).scale_warning
    # data scaled as in training (another draw, a little noise): no warning
    noisy = np.clip(raw.x + np.random.default_rng(0).normal(0, 0.05, raw.x.shape), 0, 1)
    ds = D.Dataset(x=noisy.astype(np.float32), y=raw.y, image_shape=raw.image_shape, name="ok")
    assert I.infer(model, ds, train_x=train_x, train_data=train.x).scale_warning is None
    assert I.infer(model, raw).scale_warning is None            # nothing to compare with
    assert I.scale_warning(raw.x[:100], raw.x) is None
    assert I.scale_warning(raw.x, None) is None                 # no training data here: silent
    assert "all zeros" in I.scale_warning(np.zeros((5, 64)), raw.x)


def test_scale_warning_says_by_how_much_to_rescale_when_one_factor_does():
    """"Scale the data as the training data was" did not say how; a plain rescaling has one
    factor, and the warning names it (raw 8-bit pixels: exactly 255)."""
    raw = D.load("digits")  # values in [0, 1] (the 0-16 digits divided by 16)
    assert "Divide its values by about 16 before pushing it" in I.scale_warning(raw.x * 16, raw.x)
    assert "Divide its values by 255 before pushing it" in I.scale_warning(raw.x * 255, raw.x)
    assert "Multiply its values by about 16" in I.scale_warning(raw.x * 16 / 255, raw.x)
    # shifted as well as scaled: no one factor fixes it, and none is named
    shifted = I.scale_warning(raw.x * 16 + 3, raw.x)
    assert "Scale the data as the training data was" in shifted
    assert "Divide" not in shifted and "Multiply" not in shifted
    assert I.rescale_factor([16.0, 16.03]) == pytest.approx(16.015, rel=1e-3)
    assert I.rescale_factor([26.0, 2.0]) is None


def test_confidence_caption_says_confidence_is_not_fit():
    proba = I.Confidence("probability", np.array([0.99, 0.4, 1.0]),
                         "DEKM's soft assignment: the probability of the chosen cluster")
    res = I.Inference(assign=np.zeros(3, int), latent=np.zeros((3, 2)), sizes=np.array([3]),
                      confidence=proba)
    text = I.confidence_caption(res)
    # the method's title as it is (str.capitalize() made it "Dekm's")
    assert text.startswith("DEKM's soft assignment") and "Dekm" not in text
    assert "Median 0.99; least sure: point 1 (0.4)" in text
    assert I.CONFIDENCE_IS_NOT_FIT in text and "another scale" not in text
    res.scale_warning = "mine.npz is on another scale ..."
    assert "another scale" in I.confidence_caption(res)
    res.confidence = I.Confidence(None, None, "no confidence")
    assert I.confidence_caption(res) == ""


def test_large_sets_are_cut_to_a_fixed_subset(model):
    a = I.load_new_data(model, "digits", max_points=300)
    b = I.load_new_data(model, "digits", max_points=300)
    assert a.n == 300 and "300 of 1797" in a.name
    np.testing.assert_array_equal(a.x, b.x)
    assert a.y is not None and len(a.y) == 300


# =========================================================================== confidence

class _Stub:
    title = "stub"

    def __init__(self, proba=None, centroids=None, assign_by=None):
        self._proba, self.centroids, self._assign_by = proba, centroids, assign_by

    def predict_proba(self, x):
        return self._proba


def test_confidence_kinds():
    z = np.array([[0.0, 0.0], [0.9, 0.0], [3.0, 0.0]])
    centroids = np.array([[0.0, 0.0], [2.0, 0.0]])
    nearest, margin = I.distance_margin(z, centroids)
    assert nearest.tolist() == [0, 0, 1]
    np.testing.assert_allclose(margin, [2.0, 0.2, 2.0])
    c = I.confidence(_Stub(centroids=centroids), z, z, nearest)
    assert c.kind == "margin" and np.allclose(c.values, margin)
    # a method that does not assign by plain distance in its embedding gets no margin
    c = I.confidence(_Stub(centroids=centroids), z, z, np.array([1, 1, 0]))
    assert c.kind is None and "no confidence" in c.text
    proba = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    c = I.confidence(_Stub(proba=proba), z, z, np.array([0, 1, 0]))
    assert c.kind == "probability" and c.values.tolist() == [0.7, 0.6, 0.5]
    assert I.confidence(_Stub(), z, z, nearest).kind is None


def test_pca_basis_matches_a_reference_picture():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(200, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    ref = pca_2d(z) @ np.array([[0.6, -0.8], [0.8, 0.6]]) * np.array([1, -1])  # turned, mirrored
    mean, w = I.pca_basis(z, ref)
    np.testing.assert_allclose((z - mean) @ w, ref - ref.mean(0), atol=1e-8)
    assert np.allclose(w.T @ w, np.eye(2))
    mean1, w1 = I.pca_basis(z[:, :1])
    assert w1.shape == (1, 2)


def test_examples_per_cluster_and_grid():
    assign = np.array([0, 1, 0, 1, 0, 2])
    conf = np.array([0.1, 0.9, 0.8, 0.3, 0.5, 1.0])
    ex = I.examples_per_cluster(assign, 2, order=conf)
    assert ex[0].tolist() == [2, 4] and ex[1].tolist() == [1, 3] and ex[2].tolist() == [5]
    images = np.random.default_rng(0).random((6, 8, 8))
    grid = I.cluster_grid(images, ex, 2)
    assert grid.shape == (3 * 9 + 1, 2 * 9 + 1)
    assert grid[1 + 2 * 9:1 + 2 * 9 + 8, 10:18].min() == 1.0  # a blank cell: cluster 2 has one point


def test_new_data_choices():
    def labels(spec):
        return [c["label"] for c in I.new_data_choices({"data": spec})]
    digits = I.new_data_choices({"data": {"name": "digits", "seed": 0}})
    assert digits[0]["label"].endswith("the training data itself")
    assert {c["spec"] for c in digits[1:]} >= {"mnist", "blobs8", "objects"}
    manifolds = I.new_data_choices({"data": {"name": "manifolds", "seed": 0}})
    assert manifolds[0]["spec"]["seed"] == 1 and "fresh draw" in manifolds[0]["label"]
    mnist = I.new_data_choices({"data": {"name": "mnist", "subset": "train"}})
    assert mnist[0]["spec"]["subset"] == "test" and mnist[0]["download"]
    withheld = labels({"withheld": "x.npz"})
    assert "Digits (8x8)" in withheld  # a run on a file: every registered set is offered
    assert not any("training data itself" in label for label in withheld)


def test_new_data_choices_offer_a_runs_own_file(tmp_path):
    """A run trained on a file of this machine can push its own training data through its
    model; once the file is gone, it is no longer offered."""
    f = tmp_path / "mine.npz"
    np.savez(f, x=np.zeros((5, 3), np.float32))
    own = I.new_data_choices({"data": {"path": str(f), "seed": 0}})
    assert own[0]["label"] == "mine.npz: the training data itself"
    assert own[0]["spec"]["path"] == str(f) and not own[0]["download"]
    assert "Digits (8x8)" in [c["label"] for c in own[1:]]
    f.unlink()
    assert not any("training data itself" in c["label"]
                   for c in I.new_data_choices({"data": {"path": str(f), "seed": 0}}))


# =========================================================================== the page

def test_checkpoints_with_no_runs(runs_dir):
    at = open_page("checkpoints")
    assert_clean(at)
    assert any("No run has a checkpoint yet" in i.value for i in at.info)
    assert at.button(key="checkpoints_default")
    assert at.file_uploader(key="checkpoints_archive")  # import is offered right away
    assert_help_everywhere(at)


def test_checkpoints_pushes_new_data_through_a_run(tiny_store, data_dir):
    at = open_page("checkpoints")
    assert_clean(at)
    assert "expects 64 features (1x8x8 images)" in page_text(at)
    assert at.selectbox(key="checkpoints_choice").value.endswith("the training data itself")
    at.button(key="checkpoints_go").click().run()
    assert_clean(at)
    assert not at.error
    text = page_text(at)
    assert "1,797 points · 10 of 10 clusters used" in text.replace("**", "")
    assert "distance margin" in text.lower()
    assert len(at.get("plotly_chart")) == 3  # placement, sizes, confidence
    assert len(at.image) == 10  # one strip of examples per cluster
    at.button_group(key="checkpoints_order").set_value("Least confident first").run()
    assert_clean(at)
    assert_help_everywhere(at)


def test_checkpoints_placement_axes_follow_the_training_picture(tiny_store, data_dir, monkeypatch):
    """The training points embedded again (the checkpoint does not reproduce the last snapshot)
    are placed by plain PCA: the axis must not say "the run's aligned PCA"."""
    assert I.placement_axes("snapshot")[0] == "PC 1 (run's aligned PCA)"
    assert "aligned" not in I.placement_axes("embedded")[0]

    def spec():
        at.button(key="checkpoints_go").click().run()
        assert_clean(at)
        return at.get("plotly_chart")[0].proto.spec
    at = open_page("checkpoints")
    assert "PC 1 (run's aligned PCA)" in spec()
    real = I._training_picture

    def embedded(model, d, train_x):
        pic, _ = real(model, d, train_x)
        return pic, "embedded"
    monkeypatch.setattr(I, "_training_picture", embedded)
    at = open_page("checkpoints")
    chart = spec()
    assert "PC 1 (PCA of the training points)" in chart and "aligned PCA" not in chart
    assert "plain PCA" in page_text(at)


def test_checkpoints_refuses_a_built_in_set_of_the_wrong_shape(tiny_store, data_dir):
    at = open_page("checkpoints")
    at.selectbox(key="checkpoints_choice").set_value("Four intersecting manifolds").run()
    at.button(key="checkpoints_go").click().run()
    assert not at.exception
    assert at.error and "this checkpoint expects 64 features (1x8x8 images); manifolds has 10 " \
                        "features" in at.error[0].value


def test_checkpoints_upload_right_and_wrong_shape(tiny_store, data_dir, tmp_path):
    ds = D.load("digits")
    rng = np.random.default_rng(0)
    good, bad = io.BytesIO(), io.BytesIO()
    np.savez(good, x=np.clip(ds.x[:120] + rng.normal(0, 0.05, (120, 64)), 0, 1).reshape(-1, 8, 8),
             y=ds.y[:120])
    np.savez(bad, x=rng.random((50, 28, 28)).astype(np.float32))
    at = open_page("checkpoints", checkpoints_source="Upload a file")
    assert_clean(at)
    at.file_uploader(key="checkpoints_upload").set_value(("wide.npz", bad.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error, "a wrong-shape upload must be refused"
    assert "this checkpoint expects 64 features (1x8x8 images)" in at.error[0].value
    assert "784 features (1x28x28 images)" in at.error[0].value
    at.file_uploader(key="checkpoints_upload").set_value(("noisy.npz", good.getvalue(), "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    assert "120 points" in page_text(at)
    # a broken data file: a message, and the page keeps working
    at.file_uploader(key="checkpoints_upload").set_value(("broken.npz", b"PK\x03\x04 nope", "application/octet-stream"))
    at.run()
    assert not at.exception
    assert at.error and "cannot be used" in at.error[0].value
    at.button_group(key="checkpoints_source").set_value("Built-in data").run()
    at.button(key="checkpoints_go").click().run()
    assert_clean(at)
    assert not at.error


def test_checkpoints_warns_about_an_upload_on_another_scale(tiny_store, data_dir):
    raw = D.load("digits")
    buf = io.BytesIO()
    np.savez(buf, x=(raw.x[:200] * 16).reshape(-1, 8, 8), y=raw.y[:200])  # 0-16: divided by 255
    at = open_page("checkpoints", checkpoints_source="Upload a file")
    at.file_uploader(key="checkpoints_upload").set_value(("raw.npz", buf.getvalue(), "application/octet-stream"))
    at.run()
    assert_clean(at)
    assert not at.error
    assert "200 points" in page_text(at)
    assert at.warning and "on another scale than the data the model was trained on" in \
        at.warning[0].value
    # how to fix it: 0-16 images divided by 255 on upload are about 16 times too small
    assert "Multiply its values by about 16" in at.warning[0].value
    # where the confidence is shown: it is no evidence of fit, the less so for these points
    caption = next(c.value for c in at.caption if "Median" in c.value)
    assert "not evidence that the data fits" in caption and "another scale" in caption
    at.button_group(key="checkpoints_source").set_value("Built-in data").run()
    at.button(key="checkpoints_go").click().run()
    assert_clean(at)
    assert not at.warning
    caption = next(c.value for c in at.caption if "Median" in c.value)
    assert "not evidence that the data fits" in caption and "another scale" not in caption


def test_checkpoints_archive_upload_broken_then_good(tiny_run, runs_dir, data_dir):
    data = export_zip(tiny_run.rd.path)
    at = open_page("checkpoints")
    at.file_uploader(key="checkpoints_archive").set_value(("half.zip", data[: len(data) // 3], "application/zip"))
    at.run()
    assert not at.exception
    assert at.error and "Not imported" in at.error[0].value and "truncated" in at.error[0].value
    assert RunStore(runs_dir).ids() == [] and not any(runs_dir.iterdir())
    # the app keeps working: the next (good) archive is imported and opened
    at.file_uploader(key="checkpoints_archive").set_value(("tiny.zip", data, "application/zip"))
    at.run()
    assert_clean(at)
    ids = RunStore(runs_dir).ids()
    assert len(ids) == 1 and at.selectbox(key="checkpoints_run").value == ids[0]
    assert any("Imported tiny.zip" in s.value for s in at.success)
    # the same upload on the next rerun is not imported twice
    at.run()
    assert len(RunStore(runs_dir).ids()) == 1


def test_checkpoints_archive_with_a_symlink_is_refused_on_the_page(tiny_run, runs_dir, data_dir):
    import stat
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("run/config.json")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    at = open_page("checkpoints")
    at.file_uploader(key="checkpoints_archive").set_value(("link.zip", buf.getvalue(), "application/zip"))
    at.run()
    assert not at.exception
    assert at.error and "symbolic link" in at.error[0].value
    assert not any(runs_dir.iterdir())


def test_checkpoints_opens_an_imported_run_from_a_link(tiny_run, runs_dir, data_dir):
    run_id = import_run_folder(RunStore(runs_dir), tiny_run.rd.path)
    from streamlit.testing.v1 import AppTest

    from pagekit import APP
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("pages/checkpoints.py").run()
    assert_clean(at)
    assert at.selectbox(key="checkpoints_run").value == run_id
