"""Issue 21's page findings in words: numbers that stand for a choice made at run time show as
words in the forms ("latent dim 0", "cluster -1: all" were magic numbers)."""
from __future__ import annotations

import pytest

from pagekit import open_page

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_train_form_shows_automatic_not_a_magic_number(runs_dir):
    at = open_page("train", train_method="dcn")
    assert not at.exception, [e.value for e in at.exception]
    boxes = {n.label: n for n in at.sidebar.number_input}
    latent = boxes["latent dim"]
    assert latent.value is None and latent.proto.placeholder == "automatic"
    assert "Leave the box empty for automatic" in latent.help
    at = open_page("train", train_method="gan")
    labels = {n.label: n for n in at.sidebar.number_input}
    for name in ("n noise", "eta0", "class noise"):
        assert labels[name].value is None and labels[name].proto.placeholder == "automatic", name
    assert all(n.value is None or n.value >= 0 for n in at.sidebar.number_input
               if n.label in ("n noise", "eta0", "class noise"))


ACEDEC = {"n_clusters": 4, "pretrain_epochs": 4, "cluster_epochs": 4, "init_rounds": 1,
          "warmup_epochs": 4, "subsample": 300, "batch_size": 64, "lr": 3e-3,
          "checkpoint_every": 100}


def _decoded_texts(panels) -> list[str]:
    """The texts of the panels drawn from the checkpoint (Fig. 3, the traversals, Fig. 1b)."""
    return [p.text for p in panels if p.title.startswith(("Fig. 3", "Traversal", "Fig. 1b"))]


def test_the_checkpoint_caption_only_when_it_is_not_the_selected_snapshots(make_run, app):
    """ACe/DeC's decoded views come from the run's checkpoint. On the last snapshot of a
    finished run that IS the selected snapshot's network: no caption says otherwise. On an
    earlier one, a sentence (with its capital letter) says which checkpoint it is."""
    from dcviz.viz import get_lens
    run = make_run("acedec", {"name": "synth25", "n_samples": 600}, ACEDEC)
    view, lens = run.view, get_lens("acedec")
    last = lens.panels(view, view.count - 1)
    assert _decoded_texts(last)
    assert all("checkpoint" not in t for t in _decoded_texts(last)), _decoded_texts(last)
    early = view.count - 3  # a clustering epoch before the end
    texts = _decoded_texts(lens.panels(view, early))
    epoch, final = view.snapshot(early).epoch, view.snapshot(-1).epoch
    note = (f"Decoded with the final checkpoint (epoch {final}), not with the selected epoch "
            f"{epoch}")
    assert texts and all(note in t for t in texts), texts
    assert "computed with" not in " ".join(texts)
    at = app("explore", run=run.run_id, tab="Lens")
    assert not at.exception, [e.value for e in at.exception]
    assert "not with the selected" not in "\n".join(c.value for c in at.caption)


def test_a_view_reloads_a_checkpoint_saved_after_it_was_opened(make_run):
    """A view lives as long as the server: the checkpoint of a run that was live when it was
    opened is loaded again once the run saves a newer one (it kept the first one before)."""
    run = make_run("acedec", {"name": "synth25", "n_samples": 600}, ACEDEC)
    view = run.view
    first = view.method
    assert view.method is first  # unchanged file: the same object, not loaded again
    older = view.rd.load_checkpoint()
    older.epoch_done = 3
    view.rd.save_checkpoint(older)
    assert view.method is not first and view.method.epoch_done == 3
