"""One widget per :class:`dcviz.forms.Field`: a method's config, a data set's options and a
lens's options are all drawn here.

A field's widget keeps its value for the whole session (``persist_state="session"``), so a form
comes back as the user left it after a visit to another page.
"""
from __future__ import annotations

from typing import Callable, Iterable

import streamlit as st

from dcviz.forms import Field


def field(f: Field, key: str, where=None, bounded: bool = True):
    """Draw ``f`` as its widget (in ``where``: a container, column or st) and return its value.

    ``bounded=False``: a number box without the field's bounds, for a form whose submit says
    what is wrong (dcviz.forms.Field.problem). A bounded box in a form makes the browser refuse
    the submit while its value is out of range, without a word to the page: Launch would do
    nothing."""
    w = where or st
    common = dict(key=key, help=f.help, persist_state="session")
    lo, hi = (f.min, f.max) if bounded else (None, None)
    if f.kind == "bool":
        return w.toggle(f.label, value=bool(f.default), **common)
    if f.kind == "select":
        index = f.choices.index(f.default) if f.default in f.choices else 0
        return w.selectbox(f.label, f.choices, index=index, format_func=f.show, **common)
    if f.kind == "int" and f.slider:
        return w.slider(f.label, int(f.min), int(f.max), value=int(f.default), **common)
    if f.kind in ("int", "float") and f.auto is not None:
        # An empty box shows the word (e.g. "automatic"); the field gives back its number.
        number = int if f.kind == "int" else float
        value = None if f.default is None else number(f.default)
        extra = dict(step=int(f.step or 1)) if f.kind == "int" else dict(step=f.step, format=f.format)
        return f.value(w.number_input(f.label, value=value, min_value=lo, max_value=hi,
                                      placeholder=f.auto_label, **extra, **common))
    if f.kind == "int":
        return w.number_input(f.label, value=int(f.default), min_value=lo, max_value=hi,
                              step=int(f.step or 1), **common)
    if f.kind == "float":
        return w.number_input(f.label, value=float(f.default), min_value=lo, max_value=hi,
                              step=f.step, format=f.format, **common)
    return w.text_input(f.label, value=str(f.initial()), **common)


def fields(fs: Iterable[Field], key: Callable[[Field], str], where=None,
           bounded: bool = True) -> dict:
    """Draw every field (``key(f)`` names its widget) and return {name: value}."""
    return {f.name: field(f, key(f), where, bounded) for f in fs}


def field_columns(fs: list[Field], key: Callable[[Field], str], ncols: int = 3, where=None) -> dict:
    """The fields in up to ``ncols`` columns, filled row by row."""
    if not fs:
        return {}
    cols = (where or st).columns(min(ncols, len(fs)))
    return {f.name: field(f, key(f), cols[i % len(cols)]) for i, f in enumerate(fs)}


def segmented(label: str, options: list, key: str, *, help: str, where=None, format_func=str):
    """A segmented control that always holds one of ``options``: the first, when the value it
    held is no longer offered (another run, a data set without labels...). Its value outlives a
    visit to another page (``persist_state``): back on its page, the choice left is there."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    return (where or st).segmented_control(label, options, key=key, required=True, help=help,
                                           format_func=format_func, persist_state="session")
