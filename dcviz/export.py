"""Take-away exports of a run's latent view, for a slide deck or a page with no server behind it.

Three forms of the same movie (one frame per snapshot):

- an animated GIF, drawn with Pillow: nothing outside PyPI, no browser;
- a standalone HTML page: plotly frames with a slider and a Play button, plotly.js inlined, so
  the file opens from disk with no server and no network;
- the frames at the stage boundaries as PNGs in one zip: for each stage (a run of consecutive
  snapshots with the same ``stage`` field) its last snapshot, the picture that stage ends with.
  DCRL gives its three stages (and its pretraining), the GAN one picture per eta stair, an AE
  method its pretraining and its clustering.

The 2-D positions are Explore's aligned PCA (:mod:`dcviz.projection`): each snapshot's PCA turned
onto the one before, so that points move rather than flip. Each frame is framed to its own extent
(a latent space may grow tenfold during a run; fixed axes would show early epochs as a dot).
Cluster ids mean nothing from one snapshot to the next (k-means may renumber them), so the
colours follow the points: each frame's ids are matched to the previous frame's colours with the
Hungarian method (the largest total overlap) before they are drawn. True labels keep their
colours as they are. The palette is the app's (:data:`dcviz.viz.common.PALETTE`).
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont
from scipy.optimize import linear_sum_assignment

from dcviz.projection import aligned_pca_sequence
from dcviz.viz.common import PALETTE, SCORE_KEYS, stage_boundaries

VIEWS = ("latent",)
FORMATS = ("gif", "html", "png")
MIME = {"gif": "image/gif", "html": "text/html", "png": "application/zip"}
COLOR_BY = ("cluster", "label")

#: Frame size of the GIF and the PNGs: 4:3, legible on a projector, small enough for a deck.
GIF_SIZE = (720, 540)
PNG_SIZE = (1200, 900)
#: A run with more snapshots than this is thinned for the GIF and the HTML page (stage ends and
#: the last snapshot are always kept), so that neither grows without bound.
MAX_FRAMES = 160

_BACKGROUND, _INK, _MUTED, _RULE = "#ffffff", "#1a1a1a", "#6b6b6b", "#d0d0d0"
_STAGE_SHADES = ("#c9d3e0", "#8fa3bf")  # alternate stages on the timeline strip


@dataclass
class Frame:
    """One snapshot as drawn: positions, a colour id per point, and what the caption says."""

    index: int          # snapshot number in the run
    epoch: int
    stage: str
    coords: np.ndarray  # (n, 2)
    color: np.ndarray   # (n,) non-negative ints: palette entries
    scores: dict = field(default_factory=dict)


@dataclass
class Movie:
    """A run's latent view over its snapshots, ready to be written in any format."""

    title: str
    color_title: str
    names: dict[int, str]        # colour id -> legend name
    frames: list[Frame]
    n_snapshots: int             # in the run (frames may be a thinned selection)
    stages: list[tuple[int, str]] = field(default_factory=list)  # (snapshot, stage) starts

    def stage_ends(self) -> list[int]:
        """Positions in ``frames`` of the last frame of each stage, in order."""
        ends, prev = [], None
        for pos, f in enumerate(self.frames):
            if prev is not None and f.stage != self.frames[prev].stage:
                ends.append(prev)
            prev = pos
        return ends + ([prev] if prev is not None else [])


# --------------------------------------------------------------------------- the movie

def follow_labels(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """``current`` cluster ids renamed to the ``previous`` ids they overlap most (Hungarian
    method on the contingency table); ids left over get the smallest unused numbers."""
    previous, current = np.asarray(previous), np.asarray(current)
    cur_ids, cur_inv = np.unique(current, return_inverse=True)
    prev_ids, prev_inv = np.unique(previous, return_inverse=True)
    table = np.zeros((len(cur_ids), len(prev_ids)), dtype=np.int64)
    np.add.at(table, (cur_inv, prev_inv), 1)
    rows, cols = linear_sum_assignment(-table)
    mapping = {int(r): int(prev_ids[c]) for r, c in zip(rows, cols)}
    used, spare = set(mapping.values()), 0
    for r in range(len(cur_ids)):
        if r not in mapping:
            while spare in used:
                spare += 1
            mapping[r] = spare
            used.add(spare)
    return np.array([mapping[r] for r in range(len(cur_ids))], dtype=np.int64)[cur_inv]


def pick_frames(rows: list[dict], max_frames: int | None) -> list[int]:
    """Snapshot numbers to draw: all of them, or ``max_frames`` spread evenly, always with the
    last snapshot of every stage (the stage-boundary pictures) and the run's last."""
    n = len(rows)
    if not max_frames or n <= max_frames:
        return list(range(n))
    keep = {n - 1} | {i - 1 for i, _ in stage_boundaries(rows) if i > 0}
    spare = max(max_frames - len(keep), 2)
    keep |= {int(round(v)) for v in np.linspace(0, n - 1, spare)}
    return sorted(keep)


def latent_movie(view, color_by: str = "cluster", max_frames: int | None = MAX_FRAMES) -> Movie:
    """The latent view of a run (a :class:`dcviz.runs.view.RunView`) as a :class:`Movie`.

    color_by  "cluster" (the method's assignment at each snapshot) or "label" (the true labels,
              when the run's data has them)."""
    if color_by not in COLOR_BY:
        raise ValueError(f"colour by one of {', '.join(COLOR_BY)}, not {color_by!r}")
    rows = view.rows()
    count = min(view.count, len(rows))
    if count == 0:
        raise ValueError(f"run {view.run_id} has no snapshot yet: nothing to export")
    rows = rows[:count]
    # The alignment walks every snapshot (each is turned onto the one before), even when
    # fewer are drawn.
    snaps = [view.snapshot(i) for i in range(count)]
    coords = aligned_pca_sequence([s.latent for s in snaps])
    labels = view.labels_sub if color_by == "label" else None
    if color_by == "label" and labels is None:
        raise ValueError("this run's data has no labels here; colour by cluster instead")
    names: dict[int, str] = {}
    if labels is not None:
        ds = view.dataset
        for v in np.unique(labels):
            names[int(v)] = str(ds.label_name(v)) if ds is not None else str(int(v))
    frames, shown = [], None
    chosen = set(pick_frames(rows, max_frames))
    for i, (snap, row) in enumerate(zip(snaps, rows)):
        if labels is not None:
            colour = np.asarray(labels, dtype=np.int64)
        else:
            colour = np.asarray(snap.assign, dtype=np.int64)
            colour = colour if shown is None else follow_labels(shown, colour)
            shown = colour
        if i in chosen:
            metrics = row.get("metrics") or {}
            frames.append(Frame(index=i, epoch=int(row.get("epoch", snap.epoch)),
                                stage=str(row.get("stage", snap.stage)), coords=coords[i],
                                color=colour, scores={k.upper(): float(metrics[k])
                                                      for k in SCORE_KEYS if k in metrics}))
    if labels is None:
        names = {int(v): str(int(v)) for f in frames for v in np.unique(f.color)}
    cfg = view.config
    title = (f"{cfg.get('method_title') or cfg.get('method', '?')} on "
             f"{cfg.get('data_name', '?')}" + (f" · {cfg['name']}" if cfg.get("name") else ""))
    return Movie(title=title, color_title="true label" if labels is not None else "cluster",
                 names=dict(sorted(names.items())), frames=frames, n_snapshots=count,
                 stages=stage_boundaries(rows))


def caption(movie: Movie, frame: Frame) -> str:
    """The line under the title: where in the run this frame is, and its scores."""
    parts = [f"epoch {frame.epoch}", frame.stage,
             f"snapshot {frame.index + 1} of {movie.n_snapshots}"]
    parts += [f"{k} {v:.2f}" for k, v in frame.scores.items()]
    return " · ".join(p for p in parts if p)


def _colour(value: int) -> str:
    return PALETTE[int(value) % len(PALETTE)]


def _extent(coords: np.ndarray, aspect: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) holding the points (a stray 0.5 % may fall outside), with a margin, at
    the width/height ratio ``aspect`` so that the picture is not stretched."""
    finite = coords[np.all(np.isfinite(coords), axis=1)]
    if len(finite) == 0:
        return -1.0, 1.0, -1.0 / aspect, 1.0 / aspect
    lo, hi = np.percentile(finite, [0.25, 99.75], axis=0)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2 * 1.08, 1e-9)
    half_x, half_y = max(half[0], half[1] * aspect), max(half[1], half[0] / aspect)
    return centre[0] - half_x, centre[0] + half_x, centre[1] - half_y, centre[1] + half_y


# --------------------------------------------------------------------------- pictures (Pillow)

def _font(size: int):
    return ImageFont.load_default(size=size)


def render_frame(movie: Movie, pos: int, size: tuple[int, int] = GIF_SIZE) -> Image.Image:
    """Frame ``pos`` of ``movie`` as an RGB picture: title, caption, the scatter, a legend and a
    timeline strip of the run's stages with this frame marked."""
    w, h = size
    s = h / 540  # everything below is laid out for 540 px and scaled
    frame = movie.frames[pos]
    img = Image.new("RGB", size, _BACKGROUND)
    d = ImageDraw.Draw(img)
    d.text((16 * s, 10 * s), movie.title, fill=_INK, font=_font(round(22 * s)))
    d.text((16 * s, 40 * s), caption(movie, frame), fill=_MUTED, font=_font(round(15 * s)))

    legend_w = round(120 * s)
    box = (round(16 * s), round(68 * s), w - legend_w - round(16 * s), h - round(40 * s))
    d.rectangle(box, outline=_RULE)
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, x1, y0, y1 = _extent(frame.coords, bw / bh)
    px = box[0] + (frame.coords[:, 0] - x0) / (x1 - x0) * bw
    py = box[3] - (frame.coords[:, 1] - y0) / (y1 - y0) * bh
    n = len(px)
    r = (3.0 if n <= 1000 else 2.5 if n <= 3000 else 1.6) * s
    # One fixed order for every frame, shuffled so that no cluster always lies on top.
    order = np.random.default_rng(0).permutation(n)
    inside = (px >= box[0] + r) & (px <= box[2] - r) & (py >= box[1] + r) & (py <= box[3] - r)
    fills = {v: ImageColor.getrgb(_colour(v)) for v in np.unique(frame.color)}
    for i in order[inside[order]]:
        d.ellipse((px[i] - r, py[i] - r, px[i] + r, py[i] + r), fill=fills[int(frame.color[i])])

    # legend: at most as many entries as fit; the rest counted
    small = _font(round(13 * s))
    lx, ly, step = box[2] + round(12 * s), box[1], round(18 * s)
    d.text((lx, ly), movie.color_title, fill=_INK, font=small)
    present = [v for v in movie.names if v in fills]
    room = max(int((box[3] - ly) / step) - 2, 1)
    for k, v in enumerate(present[:room]):
        y = ly + (k + 1) * step + 2 * s
        d.ellipse((lx, y + 3 * s, lx + 9 * s, y + 12 * s), fill=fills[v])
        d.text((lx + 15 * s, y), movie.names[v][:14], fill=_INK, font=small)
    if len(present) > room:
        d.text((lx, ly + (room + 1) * step + 2 * s), f"+{len(present) - room} more", fill=_MUTED,
               font=small)

    # timeline: the run's stages as alternating bands, this snapshot marked
    tx0, tx1, ty = box[0], box[2], h - round(24 * s)
    total = max(movie.n_snapshots - 1, 1)
    starts = [i for i, _ in movie.stages] + [movie.n_snapshots - 1]
    for k in range(len(movie.stages)):
        a = tx0 + (tx1 - tx0) * starts[k] / total
        b = tx0 + (tx1 - tx0) * max(starts[k + 1], starts[k]) / total
        d.rectangle((a, ty, max(b, a + 1), ty + 8 * s), fill=_STAGE_SHADES[k % 2])
    mx = tx0 + (tx1 - tx0) * frame.index / total
    d.polygon([(mx - 6 * s, ty - 7 * s), (mx + 6 * s, ty - 7 * s), (mx, ty)], fill=_INK)
    d.line((mx, ty, mx, ty + 8 * s), fill=_INK, width=max(1, round(2 * s)))
    return img


def _shared_palette(movie: Movie) -> Image.Image:
    """One palette for every frame of a GIF: the cluster colours, the page's own colours and a
    grey ramp for anti-aliased text. (One palette: the colours cannot shift between frames.)"""
    colours = [_colour(v) for v in movie.names][:200]
    colours += [_BACKGROUND, _INK, _MUTED, _RULE, *_STAGE_SHADES]
    rgb = [ImageColor.getrgb(c) for c in colours]
    rgb += [(g, g, g) for g in np.linspace(0, 255, 256 - len(rgb)).astype(int)]
    pal = Image.new("P", (1, 1))
    pal.putpalette([c for triple in rgb[:256] for c in triple])
    return pal


def to_gif(movie: Movie, size: tuple[int, int] = GIF_SIZE, frame_ms: int = 180,
           hold_ms: int = 1200) -> bytes:
    """An animated GIF that loops: ``frame_ms`` per frame, ``hold_ms`` on the last frame of each
    stage (the stage-boundary pictures), so that a viewer sees where each stage ended."""
    pal = _shared_palette(movie)
    frames = [render_frame(movie, p, size).quantize(palette=pal, dither=Image.Dither.NONE)
              for p in range(len(movie.frames))]
    ends = set(movie.stage_ends())
    durations = [hold_ms if p in ends else frame_ms for p in range(len(frames))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0, optimize=False)
    return buf.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "stage"


def to_png_zip(movie: Movie, size: tuple[int, int] = PNG_SIZE) -> bytes:
    """The last frame of each stage as a PNG, numbered in order, in one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # PNG is compressed already
        for k, pos in enumerate(movie.stage_ends(), 1):
            f = movie.frames[pos]
            png = io.BytesIO()
            render_frame(movie, pos, size).save(png, format="PNG", optimize=True)
            zf.writestr(f"{k:02d}-{_slug(f.stage)}-epoch{f.epoch}.png", png.getvalue())
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML (plotly)

def _rounded(a: np.ndarray, digits: int = 4) -> list:
    """Positions to ``digits`` significant figures of the frame's extent: a third of the bytes
    of full floats, and nothing a screen can show is lost."""
    scale = float(np.nanmax(np.abs(a))) if np.isfinite(a).any() else 1.0
    q = 10.0 ** (digits - 1 - int(np.floor(np.log10(scale or 1.0))))
    return (np.round(np.nan_to_num(a) * q) / q).tolist()


def to_figure(movie: Movie, frame_ms: int = 300):
    """A plotly figure with one frame per movie frame, a slider and Play/Pause buttons."""
    import plotly.graph_objects as go

    def points(f: Frame) -> dict:
        return dict(x=_rounded(f.coords[:, 0]), y=_rounded(f.coords[:, 1]),
                    marker=dict(color=[_colour(v) for v in f.color], size=6, opacity=0.85))

    def framing(f: Frame) -> dict:
        x0, x1, y0, y1 = _extent(f.coords, 4 / 3)
        return dict(xaxis=dict(range=[x0, x1]), yaxis=dict(range=[y0, y1]),
                    title=dict(text=f"{movie.title}<br><sub>{caption(movie, f)}</sub>"))

    first = movie.frames[0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(mode="markers", name="points", showlegend=False,
                             hovertemplate="(%{x:.3g}, %{y:.3g})<extra></extra>", **points(first)))
    for v, name in movie.names.items():  # legend entries only: frames move trace 0
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                 marker=dict(color=_colour(v), size=9)))
    fig.frames = [go.Frame(name=str(p), data=[go.Scatter(**points(f))], traces=[0],
                           layout=framing(f)) for p, f in enumerate(movie.frames)]
    step = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    fig.update_layout(
        **framing(first), height=720, template="plotly_white",
        xaxis_title="PC 1 (aligned)", yaxis_title="PC 2 (aligned)",
        legend=dict(title=dict(text=movie.color_title), itemsizing="constant"),
        margin=dict(l=60, r=20, t=90, b=40),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.08, xanchor="left",
                          yanchor="top", showactive=False, buttons=[
            dict(label="▶ Play", method="animate",
                 args=[None, dict(mode="immediate", fromcurrent=True,
                                  frame=dict(duration=frame_ms, redraw=True),
                                  transition=dict(duration=0))]),
            dict(label="❚❚ Pause", method="animate", args=[[None], step])])],
        sliders=[dict(active=0, x=0.16, len=0.84, y=-0.06, yanchor="top",
                      currentvalue=dict(prefix="epoch "),
                      steps=[dict(method="animate", label=str(f.epoch), args=[[str(p)], step])
                             for p, f in enumerate(movie.frames)])])
    return fig


def to_html(movie: Movie, frame_ms: int = 300) -> str:
    """A standalone page (plotly.js inlined: it works offline, opened from a file)."""
    fig = to_figure(movie, frame_ms)
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False,
                       div_id="dcviz-movie", config={"displaylogo": False})


# --------------------------------------------------------------------------- one entry point

def file_name(view, view_name: str, fmt: str) -> str:
    """``<run id>-<view>.gif|.html|-stages.zip`` (the run id is the store's, never a user path)."""
    ext = {"gif": ".gif", "html": ".html", "png": "-stages.zip"}[fmt]
    return f"{view.run_id}-{view_name}{ext}"


def export(view, view_name: str = "latent", fmt: str = "gif", *,
           color_by: str = "cluster") -> tuple[bytes, str, str]:
    """(file bytes, file name, MIME type) of one export of a run."""
    if view_name not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, not {view_name!r}")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    # The stage pictures come from every snapshot; the moving forms are thinned to MAX_FRAMES.
    movie = latent_movie(view, color_by, max_frames=None if fmt == "png" else MAX_FRAMES)
    if fmt == "gif":
        data = to_gif(movie)
    elif fmt == "html":
        data = to_html(movie).encode("utf-8")
    else:
        data = to_png_zip(movie)
    return data, file_name(view, view_name, fmt), MIME[fmt]


def describe(data: bytes, fmt: str) -> dict:
    """Size and contents of an export, as the CLI reports them."""
    out = {"bytes": len(data)}
    if fmt == "gif":
        with Image.open(io.BytesIO(data)) as im:
            out.update(frames=getattr(im, "n_frames", 1), size=list(im.size))
    elif fmt == "png":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            out["pngs"] = zf.namelist()
    return out


__all__ = ["Frame", "Movie", "latent_movie", "follow_labels", "pick_frames", "render_frame",
           "to_gif", "to_html", "to_figure", "to_png_zip", "export", "file_name", "describe",
           "VIEWS", "FORMATS"]
