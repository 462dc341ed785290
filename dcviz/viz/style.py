"""How figures look in both of Streamlit's themes, and the finishing touches every figure gets.

Streamlit's plotly theme sets the background, the fonts and the grid to the page's theme (light:
white; dark: #0e1117, or #171614 in Streamlit's newer dark theme). What a figure hard-codes does
not follow, so every fixed colour here must stand out from all these backgrounds:
:func:`readable` measures that with the WCAG contrast ratio, and the palette of cluster colours
keeps only colours that pass it.

:func:`finish` is applied to every figure the views build (the lens contract applies it to each
panel): it gives log axes clean tick labels, moves a legend with more entries than fit beside
the plot under it, leaves room above a side legend for plotly's toolbar, and writes colour
scales as rgb() stops (:func:`rgb_colorscales`).
"""
from __future__ import annotations

import math
import re

import numpy as np
from PIL import ImageColor
from plotly.colors import qualitative

#: Streamlit's backgrounds: the light theme, the dark theme of Streamlit before 1.5x (still
#: what most people mean by it) and the warmer dark of the Streamlit this app pins (1.67)
BACKGROUNDS = {"light": "#ffffff", "dark": "#0e1117", "dark (Streamlit 1.67)": "#171614"}
#: the least contrast (WCAG ratio, 1 to 21) a mark needs against either background; the
#: standard's 3:1 for graphics would bar every mid-tone colour from one theme or the other,
#: so a little less, which mid greys and the D3 colours clear on both
MIN_CONTRAST = 2.0

#: neutral marks drawn over the data (the slider's position, traversal markers, centroids, the
#: last eigenvector): a mid grey, readable on white and on Streamlit's dark background
INK = "#8c8c8c"
#: quieter neutral marks (stage boundaries, reference lines) and small labels
MUTED = "#999999"


# --------------------------------------------------------------------------- colours

def rgba(colour: str) -> tuple[float, float, float, float] | None:
    """(r, g, b in 0..255, alpha in 0..1) of a CSS colour; None when it cannot be read."""
    c = str(colour).strip()
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)", c)
    if m:
        r, g, b = (float(v) for v in m.groups()[:3])
        return r, g, b, float(m.group(4)) if m.group(4) is not None else 1.0
    try:
        v = ImageColor.getrgb(c)
    except ValueError:
        return None
    return float(v[0]), float(v[1]), float(v[2]), (v[3] / 255 if len(v) == 4 else 1.0)


def _luminance(r: float, g: float, b: float) -> float:
    def lin(u):
        u = u / 255
        return u / 12.92 if u <= 0.03928 else ((u + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(colour: str, background: str) -> float:
    """WCAG contrast ratio of ``colour`` (composited over the background when translucent)
    against ``background``: 1 (the same) to 21 (black on white)."""
    fg, bg = rgba(colour), rgba(background)
    if fg is None or bg is None:
        raise ValueError(f"not a colour: {colour!r} or {background!r}")
    a = fg[3]
    mixed = [a * fg[i] + (1 - a) * bg[i] for i in range(3)]
    l1, l2 = _luminance(*mixed), _luminance(*bg[:3])
    return (max(l1, l2) + 0.05) / (min(l1, l2) + 0.05)


def readable(colour: str, min_contrast: float = MIN_CONTRAST) -> bool:
    """True when ``colour`` stands out from both themes' backgrounds."""
    return all(contrast(colour, bg) >= min_contrast for bg in BACKGROUNDS.values())


def _distinct(colours, min_distance: float = 40.0) -> list[str]:
    """Colours in order, without near-duplicates (RGB distance below ``min_distance``)."""
    out: list[str] = []
    for c in colours:
        v = np.array(rgba(c)[:3])
        if all(np.linalg.norm(v - np.array(rgba(o)[:3])) >= min_distance for o in out):
            out.append(c)
    return out


#: cluster colours: D3's ten first (the colours the papers' figures use; all clear 2:1), then
#: those of plotly's larger sets that clear 2.5:1 on every background (Light24's pastels
#: vanish on white, Dark24's browns and navies on the dark themes)
PALETTE = _distinct([c for c in qualitative.D3 if readable(c)]
                    + [c for c in list(qualitative.Dark24) + list(qualitative.Light24)
                       + list(qualitative.Alphabet) if readable(c, 2.5)])


# --------------------------------------------------------------------------- log axes

def _fmt(v: float) -> str:
    """A tick label: plain where short (0.002, 5000), else with a power of ten."""
    if 1e-3 <= abs(v) < 1e4:
        return f"{v:g}"
    e = int(math.floor(math.log10(abs(v)) + 1e-9))
    m = v / 10 ** e
    power = f"10<sup>{e}</sup>".replace("-", "−")
    return power if abs(m - 1) < 1e-6 else f"{m:g}·{power}"


def log_ticks(lo: float, hi: float, most: int = 8) -> list[float]:
    """Tick values for a log axis over [lo, hi] (> 0): powers of ten over many decades, 1-2-5
    over a few, 1..9 (with halves below 3) within one, and three round values inside a narrow
    range."""
    lo, hi = min(lo, hi), max(lo, hi)
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    inside = lambda vals: [v for v in vals if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]  # noqa: E731
    # the finest grid that gives at least three ticks and no more than ``most``
    for mantissas in ((1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9), tuple(range(1, 10)), (1, 2, 5), (1, 3)):
        vals = inside([float(f"{m}e{e}") for e in range(e0, e1 + 1) for m in mantissas])
        if 3 <= len(vals) <= most:
            return vals
    decades = inside([float(f"1e{e}") for e in range(e0, e1 + 1)])
    if len(decades) >= 2:
        return decades[::max(1, math.ceil(len(decades) / most))]
    # narrower than the 1..9 grid: round values at both ends and the middle
    mids = [lo, math.sqrt(lo * hi), hi]
    return sorted({float(f"{v:.2g}") for v in mids})


def _trace_values(trace, letter: str) -> np.ndarray:
    v = getattr(trace, letter, None)
    if v is None:
        return np.zeros(0)
    try:
        a = np.asarray(v, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.zeros(0)
    return a[np.isfinite(a) & (a > 0)]


def tidy_log_axes(fig) -> None:
    """Tick labels of every log axis from :func:`log_ticks`: plotly's own show the minor ticks
    as bare digits ("2", "5") with no power, which read as values."""
    layout = fig.layout
    for key in list(layout.to_plotly_json()):
        m = re.fullmatch(r"([xy])axis(\d*)", key)
        if not m or layout[key].type != "log" or layout[key].tickmode == "array":
            continue
        letter, ref = m.group(1), m.group(1) + m.group(2)
        vals = [_trace_values(t, letter) for t in fig.data
                if (getattr(t, f"{letter}axis", None) or letter) == ref]
        vals = np.concatenate(vals) if vals else np.zeros(0)
        if not len(vals):
            continue
        ticks = log_ticks(float(vals.min()), float(vals.max()))
        layout[key].update(tickmode="array", tickvals=ticks, ticktext=[_fmt(t) for t in ticks])


# --------------------------------------------------------------------------- legend, toolbar

LEGEND_ROW_PX = 21      # one legend entry's height
TOOLBAR_PX = 40         # plotly's toolbar (modebar) sits in the top margin when it is this tall
ASSUMED_WIDTH_PX = 620  # a chart's width when the page has not said (half of a wide page)


def legend_entries(fig) -> list[str]:
    """Names the legend shows (one per legend group)."""
    if fig.layout.showlegend is False:
        return []
    shown = [t for t in fig.data if t.showlegend is not False and t.name]
    if len(fig.data) < 2 and not any(t.showlegend for t in fig.data):
        return []
    names, groups = [], set()
    for t in shown:
        g = t.legendgroup or t.name
        if g not in groups:
            groups.add(g)
            names.append(str(t.name))
    return names


def fit_legend(fig, width_px: int = ASSUMED_WIDTH_PX) -> None:
    """A side legend longer than the plot is cut off (plotly scrolls it, the page hides the
    bar): under the plot instead, in columns, with the figure made taller by its rows."""
    names = legend_entries(fig)
    if not names:
        return
    legend = fig.layout.legend
    height = fig.layout.height or 450
    margin = fig.layout.margin
    plot_px = height - (margin.t or 0) - (margin.b or 0)
    side = legend.orientation in (None, "v")
    if side and len(names) * LEGEND_ROW_PX + 30 > plot_px:
        entry = min(220, 40 + 7 * max(len(n) for n in names))
        cols = max(1, int(width_px // entry))
        rows = math.ceil(len(names) / cols)
        legend.update(orientation="h", x=0, xanchor="left", y=-0.06, yanchor="top",
                      entrywidth=entry, entrywidthmode="pixels")
        fig.layout.height = height + rows * LEGEND_ROW_PX + 30
        side = False
    if side and (margin.t or 0) < TOOLBAR_PX:
        # the toolbar appears over the top right corner, where a side legend puts its title
        margin.t = TOOLBAR_PX


_HEX6 = re.compile(r"#[0-9a-fA-F]{6}")


def rgb_colorscales(fig) -> None:
    """Every trace's colour scale with its hex stops written as rgb(): the plotly.js that
    Streamlit ships draws the stop "#000004" (the dark end of Magma and Inferno) as pink in
    the light theme and lilac in none, so that Magma's zeros showed brighter than its middle
    (seen in MLC's Π heatmap, whose off-diagonal blocks are ~0)."""
    for trace in fig.data:
        scale = getattr(trace, "colorscale", None) or ()
        if any(isinstance(c, str) and _HEX6.fullmatch(c) for _, c in scale):
            trace.colorscale = [(at, "rgb({},{},{})".format(*ImageColor.getrgb(c))
                                 if isinstance(c, str) and _HEX6.fullmatch(c) else c)
                                for at, c in scale]


def finish(fig, width_px: int = ASSUMED_WIDTH_PX):
    """The touches every figure gets (see the module's text); returns the figure."""
    if fig is None or not hasattr(fig, "layout"):
        return fig
    tidy_log_axes(fig)
    fit_legend(fig, width_px)
    rgb_colorscales(fig)
    return fig
