"""The app's look: the style sheet and the pictures in assets/."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def inject_css() -> None:
    css = ASSETS / "style.css"
    if css.exists():
        st.markdown(f"<style>{css.read_text()}</style>", unsafe_allow_html=True)


def picture(name: str) -> str | None:
    """The path of a picture in assets/, or None when the file is not there."""
    p = ASSETS / name if name else None
    return str(p) if p is not None and p.is_file() else None


def plot_config(filename: str | None = None) -> dict:
    """Plotly's settings: no logo; with ``filename``, the camera button saves a PNG by that name."""
    if filename is None:
        return {"displaylogo": False}
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
