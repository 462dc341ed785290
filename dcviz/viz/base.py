"""The lens contract: a method's own views, as panels that any page can render.

A lens turns one snapshot of a run (plus the run's history and data) into a list of
:class:`Panel`. It never imports streamlit: the Explore page draws each panel with the matching
Streamlit element, and tests call ``lens.panels`` directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from dcviz.viz.style import finish


@dataclass
class Option:
    """A control a lens needs (rendered by the page as a widget).

    kind: "select" (choices), "toggle" (bool), "int" (min/max), or "run" (another run's id,
    e.g. to overlay its histogram; choices are filled in by the page).
    """

    name: str
    label: str
    kind: str = "select"
    choices: list | None = None
    default: Any = None
    help: str = ""
    min: int | None = None
    max: int | None = None
    auto: tuple | None = None  # (value, word): an "int" option's value that the form shows as a word
    #: whether the page draws it for a run (a RunView): a control that does nothing for this
    #: run's data (images of vector data) is left out; None: always
    shown: Callable[[Any], bool] | None = None


@dataclass
class Panel:
    """One view. Exactly one of figure (plotly), image (H,W or H,W,3 floats in [0,1]) or table
    (list of dicts) is set. ``text`` says what the reader is seeing, for teaching."""

    title: str
    figure: Any = None
    image: np.ndarray | None = None
    table: list[dict] | None = None
    text: str = ""
    caption: str = ""
    wide: bool = False


class NoLivePanel(LookupError):
    """A lens's built panels lack the live panel it names."""


@dataclass
class Lens:
    """A method's views. ``build(run, index, options) -> list[Panel]``; ``run`` is a RunView.

    ``live_panel`` is the exact title of the panel the Train page shows live (the method's most
    telling view); ``build`` must return a panel with that title at every snapshot, if only one
    that says what is still to come.
    """

    method_ids: tuple[str, ...]
    title: str
    build: Callable[..., list[Panel]]
    options: list[Option] = field(default_factory=list)
    intro: str = ""
    live_panel: str = ""

    def panels(self, run, index: int, options: dict | None = None) -> list[Panel]:
        opts = {o.name: o.default for o in self.options}
        opts.update(options or {})
        panels = self.build(run, index, opts)
        for p in panels:
            finish(p.figure)  # the touches every figure gets (log ticks, legend, both themes)
        return panels

    def live(self, panels: list[Panel]) -> Panel:
        """The panel titled ``live_panel``; raises :class:`NoLivePanel` when there is none."""
        for p in panels:
            if p.title == self.live_panel:
                return p
        raise NoLivePanel(f"lens {self.title!r} names live panel {self.live_panel!r}, but its "
                          f"panels are {[p.title for p in panels]}")


LENSES: dict[str, Lens] = {}


def register_lens(lens: Lens) -> Lens:
    """Make ``lens`` the lens of each of its method ids (lens modules under dcviz/viz/ that
    define ``LENS`` are registered on import; a lens defined elsewhere calls this)."""
    for mid in lens.method_ids:
        LENSES[mid] = lens
    return lens


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tile (n, H, W) or (n, H, W, C) images in [0, 1] into one image, ``ncols`` per row.

    For a rows x cols grid, pass ``images.reshape(rows * cols, ...)`` and ``ncols=cols``.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape[:3]
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, *images.shape[3:]), pad_value,
                  np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top:top + h, left:left + w] = images[i]
    return np.clip(out, 0.0, 1.0)
