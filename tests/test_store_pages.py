"""The pretrained-AE store in the app (issue 17): Train's found / will-train line, which AE a run
started from on Explore, Checkpoints and Compare, and the list of entries with delete buttons."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from dcviz.methods.base import Snapshot
from dcviz.pretrained import PretrainedStore, Trained, capture_rng
from pagekit import page_text


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty pretrained-AE store of this test's own."""
    root = tmp_path / "cache"
    monkeypatch.setenv("DCVIZ_CACHE_DIR", str(root))
    return PretrainedStore(root)


def fake_entry(store: PretrainedStore, key, epochs: int = 3, about: dict | None = None):
    """An entry for ``key`` made without training (the pages only read its meta)."""
    def train():
        yield Snapshot(epoch=epochs, step=epochs, stage="pretrain",
                       latent=np.zeros((4, 2), np.float32), assign=np.arange(4) % 2,
                       losses={"reconstruction": 0.0123})
        return Trained(weights={"w": torch.ones(2, 2)}, rng=capture_rng(torch.Generator()),
                       losses=[0.1] * (epochs - 1) + [0.0123], flops=1e9,
                       about=about or {"data": "digits", "method": "ae-kmeans"})
    gen = store.get_or_train(key, train)
    for _ in gen:
        pass


def planned_key(method: str, data: str = "digits", **config):
    from dcviz import data as D
    from dcviz.forms import guess_k
    from dcviz.methods import get_method
    from dcviz.runs.pretraining import plan_pretraining
    ds = D.load(data)
    cls = get_method(method)
    cfg = cls.Config.from_preset("quick", **{"n_clusters": guess_k(ds), **config})
    return plan_pretraining(cls, cfg, ds).key


def plain(text: str) -> str:
    """Text as a reader sees it: without the backslashes that escape markdown."""
    return text.replace("\\", "")


def sidebar_text(at) -> str:
    return plain("\n".join([c.value for c in at.sidebar.caption]
                            + [s.value for s in at.sidebar.success]))


def test_train_says_the_pretrained_ae_will_be_trained_then_that_it_is_found(runs_dir, cache, app):
    at = app("train", train_method="dekm")
    assert not at.exception
    text = sidebar_text(at)
    assert "will be pretrained, about" in text and "kept for the next run" in text, text
    assert not cache.list()  # looking up wrote nothing

    fake_entry(cache, planned_key("dekm"), epochs=20)
    at = app("train", train_method="dekm")
    assert not at.exception
    found = [plain(s.value) for s in at.sidebar.success]
    assert any(re.match(r"Pretrained AE found: trained (just now|\d+ s ago), 20 epochs, loss "
                        r"0\.0123; pretraining is skipped", s) for s in found), found
    # the other quick AE methods use the same recipe, so they find the same AE ...
    at = app("train", train_method="acedec", **{"train_data_Built in": "digits"})
    assert any("Pretrained AE found" in s.value for s in at.sidebar.success)
    at = app("train", train_method="dcn")
    assert any("Pretrained AE found" in s.value for s in at.sidebar.success)
    # ... the denoising recipe (DEC) does not, and a method without AE pretraining says nothing
    at = app("train", train_method="dec")
    assert "will be pretrained" in sidebar_text(at) and not at.sidebar.success
    at = app("train", train_method="mlc")
    assert not at.exception and "pretrained" not in sidebar_text(at).lower()


def test_train_with_the_store_off_says_so(runs_dir, cache, app):
    at = app("train", train_method="dekm", **{"cfg:dekm:quick:pretrained": "off"})
    assert not at.exception
    assert "store off: the AE will be pretrained in this run" in sidebar_text(at)


def tiny(method: str) -> dict:
    base = {"pretrain_epochs": 2, "snapshot_every": 1, "subsample": 300}
    return {**base, **{"dekm": {"max_iter": 2, "batches_per_iter": 2},
                       "dcn": {"cluster_epochs": 1}}.get(method, {})}


def test_explore_and_checkpoints_say_which_ae_a_run_started_from(make_run, cache, app):
    first = make_run("ae-kmeans", config=tiny("ae-kmeans"))
    second = make_run("dekm", config=tiny("dekm"))  # the same recipe: DEKM reuses the AE
    off = make_run("ae-kmeans", config={**tiny("ae-kmeans"), "pretrained": "off"})
    entry = first.rd.read_config()["pretrained"]["entry"]
    assert second.rd.read_config()["pretrained"] == {**second.rd.read_config()["pretrained"],
                                                     "entry": entry, "hit": True}

    at = app("explore", run=first.run_id, tab="Run")
    assert not at.exception
    text = plain(page_text(at))
    assert f"Trained in this run: pretrained AE {entry[:8]}" in text and "2 epochs" in text
    at = app("explore", run=second.run_id, tab="Run")
    text = plain(page_text(at))
    assert f"Started from pretrained AE {entry[:8]}" in text and "Pretraining was skipped" in text
    assert "still in the store" in text
    at = app("explore", run=off.run_id, tab="Run")
    assert "store off" in plain(page_text(at))

    at = app("checkpoints", run=second.run_id, checkpoints_run=second.run_id)
    assert not at.exception
    assert f"Started from pretrained AE {entry[:8]}" in plain(page_text(at))
    cache.clear()
    at = app("checkpoints", run=second.run_id, checkpoints_run=second.run_id)
    assert "no longer in the store" in plain(page_text(at))


def test_compare_marks_the_runs_that_started_from_the_same_ae(make_run, cache, app):
    a = make_run("ae-kmeans", config=tiny("ae-kmeans"))
    b = make_run("dcn", config=tiny("dcn"))
    c = make_run("ae-kmeans", config={**tiny("ae-kmeans"), "seed": 1})
    at = app("compare", compare_runs=[a.run_id, b.run_id, c.run_id])
    assert not at.exception
    text = plain(page_text(at))
    assert "Started from the same pretrained autoencoder" in text, text
    assert "AE A: AE + k-means (seed 0)" in text and "DCN (seed 0)" in text
    assert "Own AE: AE B: AE + k-means (seed 1)" in text
    heads = [c.value for c in at.caption if "snapshot" in c.value]
    assert sum("**AE A**" in h for h in heads) == 2 and sum("**AE B**" in h for h in heads) == 1


def test_checkpoints_lists_entries_and_deletes_one_then_all_after_confirming(runs_dir, cache, app):
    keys = [planned_key("dekm"), planned_key("dec"), planned_key("dekm", seed=1)]
    for k in keys:
        fake_entry(cache, k)
    at = app("checkpoints")
    assert not at.exception
    title = [e.label for e in at.expander if e.label.startswith("Pretrained autoencoders")]
    assert title and title[0].startswith("Pretrained autoencoders: 3 entries, "), title
    text = plain(page_text(at))
    assert "mlp 64-500-500-2000-10 · 20 ep · 64 batch · adam 0.001 · noise 0.2" in text
    assert "KB" in text and re.search(r"just now|\d+ s ago", text)

    at.button(key=f"checkpoints_store_delete_{keys[1].id}").click().run()
    assert not at.exception
    assert sorted(r["id"] for r in cache.list()) == sorted([keys[0].id, keys[2].id])
    assert f"Deleted pretrained AE {keys[1].id[:8]}" in plain(page_text(at))

    at.button(key="checkpoints_store_clear").click().run()
    assert len(cache.list()) == 2  # nothing goes before the confirmation
    assert "Delete all 2 pretrained autoencoders" in plain(page_text(at))
    at.button(key="checkpoints_store_clear_no").click().run()
    assert len(cache.list()) == 2
    at.button(key="checkpoints_store_clear").click().run()
    at.button(key="checkpoints_store_clear_yes").click().run()
    assert not at.exception
    assert cache.list() == [] and "Deleted 2 pretrained AEs." in plain(page_text(at))
    assert any(e.label.startswith("Pretrained autoencoders: 0 entries") for e in at.expander)


def test_the_store_names_every_registered_ae_method(runs_dir, cache, app):
    """The list of AE methods the store serves comes from the registry: an AE method added in
    its own module is named there with no other edit (the list was written out by hand)."""
    from dcviz.methods import REGISTRY, get_method, register

    @register
    class Added(get_method("ae-kmeans")):
        id = "added-ae"
        estimator = ""
        title = "Added AE method"
    try:
        at = app("checkpoints")
        assert not at.exception
        caption = plain(next(c.value for c in at.caption if c.value.startswith("Every AE")))
        assert "Added AE method" in caption and "AE + k-means" in caption, caption
        assert "GAN" not in caption and "MLC" not in caption  # no autoencoder there
    finally:
        REGISTRY.pop("added-ae", None)


def test_the_store_lists_each_entry_as_one_text_not_seven_narrow_columns(runs_dir, cache, app):
    """Seven columns broke the words of every cell at 1024 px ("entr|y", "blob|s8", "142.|6 KB")
    and cut Delete to "D..": an entry is now one text, its Delete beside or under it."""
    keys = [planned_key("dekm"), planned_key("dec")]
    for k in keys:
        fake_entry(cache, k)
    at = app("checkpoints")
    assert not at.exception
    box = next(e for e in at.expander if e.label.startswith("Pretrained autoencoders"))
    assert not box.columns, len(box.columns)
    entries = [m.value for m in box.markdown if "pretraining:" in m.value]
    assert len(entries) == 2
    for k in keys:
        assert any(k.id[:8] in plain(e) and "created" in e for e in entries), entries
