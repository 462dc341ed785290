"""Take-away downloads of a run's latent view: an animated GIF, a standalone HTML page and the
stage pictures (the work is in :mod:`dcviz.export`; each file is made when its button is
clicked, not on every redraw)."""
from __future__ import annotations

import streamlit as st

from dcviz import export as E

HELP = {
    "gif": "An animated GIF of the latent scatter over every snapshot (aligned PCA), looping, "
           "that pauses at the end of each stage: drop it into a slide.",
    "html": "One HTML file with the same frames, a slider and a Play button. plotly.js is inside "
            "it, so it opens from disk in any browser with no server and no network.",
    "png": "A zip with one PNG per stage of the run: its last snapshot, the picture the stage "
           "ends with (DCRL's three stages, the GAN's eta stairs, pretraining and clustering).",
}
LABELS = {"gif": "Animation (.gif)", "html": "Interactive page (.html)", "png": "Stage pictures (.zip)"}
ICONS = {"gif": ":material/animated_images:", "html": ":material/html:", "png": ":material/photo_library:"}


def takeaway_buttons(view, key: str, color_by: str = "cluster", where=None) -> None:
    """Three download buttons for ``view`` (a RunView), colouring points by ``color_by``
    ("cluster" or "label")."""
    if view.count == 0:
        (where or st).caption("The take-away animations can be made once the run has a snapshot.")
        return
    cols = (where or st).columns(3)
    for col, fmt in zip(cols, E.FORMATS):
        col.download_button(
            LABELS[fmt], data=lambda fmt=fmt: E.export(view, "latent", fmt, color_by=color_by)[0],
            file_name=E.file_name(view, "latent", fmt), mime=E.MIME[fmt], key=f"{key}:{fmt}",
            on_click="ignore", icon=ICONS[fmt], help=HELP[fmt], width="stretch")
