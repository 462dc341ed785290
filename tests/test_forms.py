"""What the pages decide without a browser: form fields (dcviz.forms), run labels and files
(dcviz.runs.labels), enlarged images (dcviz.images) and user text in markdown (dcviz.plaintext).
"""
from __future__ import annotations

import re
import time

import numpy as np
import pytest

from dcviz import forms as F
from dcviz.images import upscale
from dcviz.methods import REGISTRY, ConfigError, get_method
from dcviz.plaintext import for_plotly, md
from dcviz.runs import labels as L


def test_every_registered_method_gets_a_complete_form():
    """The Train form is generated for any method: help on every field, defaults inside the
    widget bounds, and the unchanged form gives back exactly the preset's config."""
    assert REGISTRY, "no method registered"
    for cls in REGISTRY.values():
        for preset in cls.Config.presets:
            fields = F.config_fields(cls.Config, preset)
            assert [f.name for f in fields] == [i["name"] for i in cls.Config.fields_info()
                                                if i["name"] not in cls.Config.unused]
            for f in fields:
                assert f.help.strip(), f"{cls.id}.{f.name} has no help text"
                assert f.kind in ("int", "float", "bool", "select", "text", "list", "json")
                if f.default is None:  # an empty number box: the run decides (see below)
                    assert f.auto is not None and f.auto_label, (cls.id, f.name)
                    continue
                if f.min is not None:
                    assert f.default >= f.min
                if f.max is not None:
                    assert f.default <= f.max
                if f.kind == "select":
                    assert f.default in f.choices
            values = F.read_form(fields, {f.name: f.initial() for f in fields})
            assert cls.Config.from_dict(values) == cls.Config.from_preset(preset), cls.id


def test_a_field_the_method_does_not_use_is_not_offered_but_old_configs_still_load():
    """AE + k-means inherits the clustering phase's batch size from the shared AE config and
    has no clustering phase: the form leaves it out, and a run config that carries it loads."""
    cls = get_method("ae-kmeans").Config
    assert "batch_size" not in {f.name for f in F.config_fields(cls, "quick")}
    assert cls.from_dict({"batch_size": 64}).batch_size == 64
    assert "batch_size" in {f.name for f in F.config_fields(get_method("dec").Config, "quick")}


def test_numbers_that_mean_a_choice_show_as_words():
    """DCN's latent_dim 0 and the GAN's -1s mean "decided at run time": the form shows an empty
    box with the word, never "latent dim 0", and gives the number back to the config."""
    dcn = {f.name: f for f in F.config_fields(get_method("dcn").Config, "quick")}
    latent = dcn["latent_dim"]
    assert latent.default is None and latent.auto == 0 and latent.auto_label == "automatic"
    assert latent.min == 1 and "Leave the box empty for automatic" in latent.help
    assert F.read_form([latent], {"latent_dim": None}) == {"latent_dim": 0}
    assert F.read_form([latent], {"latent_dim": 12}) == {"latent_dim": 12}
    gan = {f.name: f for f in F.config_fields(get_method("gan").Config, "quick")}
    assert all(gan[n].default is None for n in ("n_noise", "eta0", "class_noise"))
    assert gan["n_noise"].min == 0 and gan["eta0"].min == 0.0
    paper = {f.name: f for f in F.config_fields(get_method("gan").Config, "paper")}
    assert paper["eta0"].default == 10.0 and paper["eta0"].auto == -1.0  # a number, still
    # a lens option: MLC's principal images of one cluster, or of all
    from dcviz.viz import get_lens
    cluster = next(f for f in F.lens_option_fields(get_lens("mlc").options) if f.name == "cluster")
    assert (cluster.default, cluster.auto, cluster.auto_label, cluster.min) == (None, -1, "all clusters", 0)
    assert cluster.value(None) == -1 and cluster.value(3) == 3
    assert "-1" not in cluster.label


def test_form_overrides_and_bad_values():
    cls = get_method("ae-kmeans")
    fields = F.config_fields(cls.Config, "quick", {"n_clusters": 4})
    assert next(f for f in fields if f.name == "n_clusters").default == 4
    with pytest.raises(ConfigError):
        F.config_fields(cls.Config, "no-such-preset")
    lst = F.Field("dims", "dims", "list", [500, 500, 2000], "hidden sizes")
    assert F.read_form([lst], {"dims": "100, 200;300"}) == {"dims": [100, 200, 300]}
    with pytest.raises(ConfigError, match="comma-separated"):
        F.read_form([lst], {"dims": "100, lots"})
    js = F.Field("opts", "opts", "json", {"a": 1}, "options")
    with pytest.raises(ConfigError):
        F.read_form([js], {"opts": "{not json"})
    num = F.Field("k", "k", "int", 3, "k")
    with pytest.raises(ConfigError):
        F.read_form([num], {"k": 2.5})


def test_a_number_out_of_range_is_named_with_what_it_accepts():
    """The Train form's boxes carry no bounds (a bounded box makes the browser refuse Launch
    silently): read_form names every bad field, in its label, with what it accepts."""
    fs = {f.name: f for f in F.config_fields(get_method("dekm").Config, "quick", {"n_clusters": 10})}
    with pytest.raises(ConfigError) as e:
        F.read_form(list(fs.values()), {"n_clusters": 1, "lr": 50.0, "seed": 0})
    assert str(e.value) == ("n clusters is 1: it must be a whole number from 2 to 100. "
                            "lr is 50: it must be a number from 1e-06 to 10.")
    assert fs["seed"].problem(-1) == "seed is -1: it must be a whole number of at least 0."
    assert fs["n_clusters"].problem(2) is None and fs["n_clusters"].problem(100) is None
    assert "whole number" in fs["n_clusters"].problem(2.5)
    # an empty box that means "automatic" is fine; a number below the real range is not
    gan = {f.name: f for f in F.config_fields(get_method("gan").Config, "quick")}
    assert gan["n_noise"].problem(None) is None
    assert gan["n_noise"].problem(-4) == ("n noise is -4: it must be a whole number from 0 to "
                                          "512, or an empty box for automatic.")
    assert F.read_form([fs["n_clusters"]], {"n_clusters": 4}) == {"n_clusters": 4}


def test_widget_bounds_never_exclude_the_default():
    assert F._bounds(5, 0, 10, int) == (0, 10)
    assert F._bounds(50, 0, 10, int) == (0, None)
    assert F._bounds(-1, 0, 10, int) == (None, 10)


def test_data_choices_from_the_registry():
    from dcviz import data as D
    entries = D.list_datasets()
    groups = F.data_groups(entries)
    assert "digits" in [d["id"] for d in groups["built-in"]]
    assert {"mnist", "usps"} <= {d["id"] for d in groups["download"]}
    blobs8 = next(d for d in entries if d["id"] == "blobs8")
    fields = F.data_option_fields(blobs8)
    assert {"n_samples", "std"} <= {f.name for f in fields}
    assert F.data_spec("blobs8", {f.name: f.default for f in fields}, blobs8) == "blobs8"
    assert F.data_spec("blobs8", {"n_samples": 400}, blobs8) == {"name": "blobs8", "n_samples": 400}
    assert F.guess_k(D.load("blobs8")) == 8


def test_lens_options_are_fields_of_the_same_kind():
    """A lens's Options become the same Field type as config fields: a bounded int is a slider,
    a "run" option offers the given runs by their labels and None."""
    from dcviz.viz import Option
    opts = [Option("mode", "Mode", "select", ["a", "b"], "b", help="a or b"),
            Option("show", "Show", "toggle", default=True),
            Option("steps", "Steps", "int", default=30, min=1, max=9, help="how many"),
            Option("n", "N", "int", default=3, help="unbounded"),
            Option("other", "Other run", "run", help="another run")]
    rows = [{"run_id": "r1", "method": "dekm", "data": "digits", "state": "done", "name": "mine"}]
    mode, show, steps, n, other = F.lens_option_fields(opts, rows, L.run_label)
    assert (mode.kind, mode.default, mode.choices) == ("select", "b", ["a", "b"])
    assert show.kind == "bool" and show.default is True and show.help == "Show"
    assert steps.slider and steps.default == 9  # clamped into its bounds
    assert n.kind == "int" and not n.slider
    assert other.choices == [None, "r1"] and other.show(None) == "(none)"
    assert other.show("r1").endswith("mine")


def test_run_rows_and_picking():
    rows = [{"run_id": "b", "method": "dekm", "data": "digits", "state": "done", "created": time.time(),
             "snapshots": 12, "metrics": {"acc": 0.81234, "nmi": 0.8}, "seconds": 75.0, "name": ""},
            {"run_id": "a", "method": "dcrl", "data": "manifolds", "state": "failed", "created": 0,
             "snapshots": 0, "metrics": {}, "seconds": None, "name": "try 1"}]
    label = L.run_label(rows[0])
    # data sets by their title, as the Train page's menu names them; a user's file by its name
    assert "DEKM on Digits (8x8)" in label and "NMI 0.800" in label and label.endswith("b")
    assert L.run_label({**rows[0], "data": "my.npz"}).startswith("✓ DEKM on my.npz ·")
    assert L.run_table(rows)[1]["data"] == "Four intersecting manifolds"
    assert "failed" in L.run_label(rows[1]) and L.run_label(rows[1]).endswith("try 1")
    table = L.run_table(rows)
    assert table[0]["ACC"] == 0.812 and table[0]["time"] == "1 min 15 s" and table[1]["NMI"] is None
    assert L.pick_run("a", ["b", "a"]) == "a"
    assert L.pick_run("zzz", ["b", "a"]) == "b"
    assert L.pick_run(None, []) is None
    assert L.snapshot_label({"epoch": 4, "stage": "pretrain"}, 2, 9) == "snapshot 3 of 9 · epoch 4 · pretrain"


def test_upscale_and_run_files(tiny_run):
    img = np.arange(64, dtype=np.float32).reshape(8, 8) / 63
    big = upscale(img, 112)
    assert big.shape == (112, 112) and big[13, 13] == img[0, 0] and big[-1, -1] == img[-1, -1]
    rgb = upscale(np.ones((4, 6, 3)) * 2, 60)
    assert rgb.shape == (40, 60, 3) and rgb.max() == 1.0
    files = {f["file"]: f for f in L.run_files(tiny_run.rd)}
    assert {"config.json", "status.json", "metrics.jsonl", "checkpoint.pt", "snapshots/"} <= set(files)
    assert files["snapshots/"]["what"] == "5 files"


# =========================================================================== user text

HOSTILE = ["[x](http://evil)![i](http://evil/i.png)", "<img src=http://evil/i.png>",
           "www.evil.com", "http://evil.com/x", "a@evil.com", "<http://evil>", ":red[x] $x^2$",
           "[x][ref]\n\n[ref]: http://evil", "# heading\n- item", "`code` *em* __strong__",
           "\\[x](http://evil)", "![](http://evil/i.png)"]


@pytest.mark.parametrize("text", HOSTILE)
def test_user_text_is_inert_in_markdown(text):
    """Parsed as GitHub-flavoured markdown (with autolinks), escaped user text is one paragraph
    of plain text that reads as typed (newlines aside): no link, image, HTML, code or emphasis.
    And the text that renderer ends with holds no autolink pattern, which remark-gfm would
    still link after the escapes (a word joiner sits in each)."""
    from markdown_it import MarkdownIt

    from dcviz.plaintext import WORD_JOINER
    tokens = MarkdownIt("gfm-like").parse(md(text))
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    children = tokens[1].children
    assert {c.type for c in children} <= {"text", "softbreak"}, [c.type for c in children]
    shown = "".join(c.content for c in children)
    assert shown.replace(WORD_JOINER, "") == " ".join(text.split())
    assert not re.search(r"(?i)https?://|www\.|[-.\w+]@[-\w]", shown), shown


def test_plain_text_helpers():
    assert md("a\nb\tc", limit=4) == "a b…"
    assert md(None) == ""
    assert md("no-such-run (1).csv") == "no-such-run (1).csv"  # plain punctuation stays readable
    assert for_plotly("<a href='x'>n</a>") == "‹a href='x'›n‹/a›"
