"""Take-away exports (dcviz/export.py): GIF, standalone HTML, stage PNGs; and `dcviz export`."""
from __future__ import annotations

import io
import json
import re
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageColor

from dcviz import cli
from dcviz import export as E
from dcviz.viz.common import PALETTE, stage_boundaries

DCRL_TINY = {"hidden": "32,32", "pretrain_epochs": 2, "snapshot_every": 1, "subsample": 150,
             "batch_size": 64, "epochs": 6, "warmup_epochs": 1, "init": "kmeans"}


@pytest.fixture(scope="module")
def dcrl_run(tmp_path_factory):
    from conftest import train_run
    run = train_run(tmp_path_factory.mktemp("export-runs"), "dcrl", "manifolds", DCRL_TINY)
    assert run.rd.read_status()["state"] == "done"
    return run


# --------------------------------------------------------------------------- pure pieces

def test_follow_labels_undoes_a_renumbering_and_gives_new_clusters_unused_ids():
    prev = np.array([0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(E.follow_labels(prev, np.array([2, 2, 0, 0, 1, 1])), prev)
    # one point moved: the majority still decides
    np.testing.assert_array_equal(E.follow_labels(prev, np.array([5, 5, 7, 5, 9, 9])),
                                  [0, 0, 1, 0, 2, 2])
    # a fourth cluster appears: it takes the smallest id no matched cluster holds
    out = E.follow_labels(np.array([0, 0, 2, 2]), np.array([1, 1, 3, 4]))
    assert out[0] == out[1] == 0 and out[2] == 2 and out[3] == 1


def test_pick_frames_thins_but_keeps_every_stage_end_and_the_last():
    rows = [{"stage": "pretrain"}] * 50 + [{"stage": "a"}] * 3 + [{"stage": "b"}] * 147
    picked = E.pick_frames(rows, 20)
    assert {49, 52, 199} <= set(picked) and len(picked) <= 23 and picked == sorted(set(picked))
    assert E.pick_frames(rows[:10], 20) == list(range(10))


# --------------------------------------------------------------------------- a real run

def test_movie_has_a_frame_per_snapshot_and_one_stage_end_per_stage(dcrl_run):
    view = dcrl_run.view
    movie = E.latent_movie(view)
    rows = view.rows()
    assert [f.index for f in movie.frames] == list(range(view.count))
    stages = [s for _, s in stage_boundaries(rows)]
    assert [movie.frames[p].stage for p in movie.stage_ends()] == stages
    assert stages[:2] == ["random init", "pretrain"] and any(s.startswith("stage 3") for s in stages)
    # colours stay on the points: consecutive frames agree on most points
    for a, b in zip(movie.frames, movie.frames[1:]):
        assert np.mean(a.color == b.color) > 0.5
    # the pictures move: aligned PCA differs between the first and the last frame
    assert not np.allclose(movie.frames[0].coords, movie.frames[-1].coords)


def test_frame_draws_the_points_in_the_palette_colours(dcrl_run):
    movie = E.latent_movie(dcrl_run.view)
    img = np.asarray(E.render_frame(movie, len(movie.frames) - 1))
    assert img.shape == (E.GIF_SIZE[1], E.GIF_SIZE[0], 3)
    for v in np.unique(movie.frames[-1].color):
        rgb = ImageColor.getrgb(PALETTE[int(v)])
        assert np.all(img == rgb, axis=-1).sum() > 10, f"cluster {v} is not drawn"


def test_gif_plays_every_snapshot_and_holds_the_stage_ends(dcrl_run):
    data, name, mime = E.export(dcrl_run.view, "latent", "gif")
    assert name.endswith("-latent.gif") and mime == "image/gif"
    im = Image.open(io.BytesIO(data))
    assert im.n_frames == dcrl_run.view.count and im.info.get("loop") == 0
    movie = E.latent_movie(dcrl_run.view)
    ends, durations, pictures = set(movie.stage_ends()), [], []
    for k in range(im.n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
        pictures.append(np.asarray(im.convert("RGB")))
    assert all((d > 500) == (k in ends) for k, d in enumerate(durations))
    assert not np.array_equal(pictures[0], pictures[-1])


def test_png_zip_holds_one_picture_per_stage(dcrl_run):
    data, name, mime = E.export(dcrl_run.view, "latent", "png")
    assert name.endswith("-stages.zip") and mime == "application/zip"
    stages = [s for _, s in stage_boundaries(dcrl_run.view.rows())]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        # DCRL's stages follow its loss terms, so a tiny run may skip one: one PNG per stage seen
        assert len(names) == len(stages) >= 3
        for k, (n, stage) in enumerate(zip(names, stages), 1):
            assert n.startswith(f"{k:02d}-{E._slug(stage)}-epoch")
        for n in names:
            with Image.open(io.BytesIO(zf.read(n))) as im:
                assert im.format == "PNG" and im.size == E.PNG_SIZE


def test_html_is_standalone_with_a_frame_per_snapshot_a_slider_and_play(dcrl_run):
    data, name, mime = E.export(dcrl_run.view, "latent", "html")
    html = data.decode()
    assert mime == "text/html" and "<html>" in html[:100] and "plotly.js v" in html
    assert not re.search(r"<script[^>]+src=", html), "plotly.js must be inlined, not fetched"
    fig = E.to_figure(E.latent_movie(dcrl_run.view))
    assert len(fig.frames) == dcrl_run.view.count
    assert len(fig.layout.sliders[0].steps) == dcrl_run.view.count
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    # the frames move the points
    assert fig.frames[0].data[0].x != fig.frames[-1].data[0].x


def test_colour_by_true_label_keeps_the_classes_colours(tiny_run):
    movie = E.latent_movie(tiny_run.view, color_by="label")
    assert movie.color_title == "true label" and len(movie.names) == 10
    np.testing.assert_array_equal(movie.frames[0].color, tiny_run.view.labels_sub)
    with pytest.raises(ValueError):
        E.latent_movie(tiny_run.view, color_by="shape")


# --------------------------------------------------------------------------- CLI

@pytest.mark.parametrize("fmt", ["gif", "html", "png"])
def test_cli_export_writes_the_file(dcrl_run, tmp_path, capsys, fmt):
    code = cli.main(["export", dcrl_run.run_id, "--runs-dir", str(dcrl_run.root), "--format", fmt,
                     "--out", str(tmp_path)])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["bytes"] == (tmp_path / out["file"].rsplit("/", 1)[1]).stat().st_size > 1000


def test_cli_export_takes_a_run_folder_and_refuses_an_unknown_run(dcrl_run, tmp_path, capsys):
    assert cli.main(["export", str(dcrl_run.root / dcrl_run.run_id), "--out",
                     str(tmp_path / "m.gif")]) == 0
    assert (tmp_path / "m.gif").stat().st_size > 1000
    assert cli.main(["export", "no-such-run", "--runs-dir", str(dcrl_run.root)]) == cli.EXIT_BAD_INPUT
    assert "no run" in capsys.readouterr().err
    afile = tmp_path / "afile"
    afile.write_text("x")  # --out below a file: bad input, not "internal error"
    assert cli.main(["export", str(dcrl_run.root / dcrl_run.run_id), "--format", "html",
                     "--out", str(afile / "m.html")]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "cannot write" in err and "internal error" not in err


# --------------------------------------------------------------------------- Explore

def test_explore_latent_tab_offers_the_three_takeaways(tiny_store, tiny_run, app):
    at = app("explore", run=tiny_run.run_id, tab="Latent")
    assert not at.exception
    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    from ui.takeaway import LABELS
    assert set(LABELS.values()) <= set(buttons), buttons.keys()
