"""The pickers: which run (or runs) a page shows, tied to the link, and what colours the points.

A run picker follows its query parameter when the link changes (``?run=ID`` or ``?runs=A,B``),
else the widget's own state (kept for the session: back from another page, the page shows the
run it left), else a default; and it writes the choice back into the link, so
the address bar can be copied. An id from a link that is not in the store is said as plain text
(it is whatever the link holds), and another run is shown.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import streamlit as st

from dcviz.plaintext import for_plotly, md
from dcviz.runs.labels import distinct, id_tag, pick_run, run_label
from dcviz.runs.store import RUN_ID_RE
from ui.fields import segmented
from ui.shared import forget_view, runs_root


def from_link(param: str, key: str) -> str | None:
    """The query parameter when the link has changed since this page last read it, else None."""
    value = st.query_params.get(param)
    if value and value != st.session_state.get(f"_{key}_link"):
        st.session_state[f"_{key}_link"] = value
        return value
    return None


def to_link(param: str, key: str, value: str) -> None:
    if st.query_params.get(param) != value:
        st.query_params[param] = value
        st.session_state[f"_{key}_link"] = value


def not_found(ids: Sequence[str], what: str = "no such run",
              instead: str = "Showing another run instead.") -> None:
    """Say that a link named runs the store does not have (``ids`` shown as plain text)."""
    st.warning(f"{what.capitalize()} in {md(runs_root())}: {', '.join(md(i, 200) for i in ids)}. "
               + instead)


def run_picker(runs: list[dict], key: str, *, help: str, where=None,
               missing: str = "no such run") -> str:
    """One run (a listing row of the store; ``runs`` newest first, not empty), tied to ``?run=``.
    Its widget state is ``st.session_state[key]``."""
    by_id = {r["run_id"]: r for r in runs}
    asked = from_link("run", key)
    gone_key = f"_{key}_gone"
    if asked in by_id:
        st.session_state[key] = asked
    elif asked:
        not_found([asked], missing)
    elif st.session_state.get(key) not in (None, *by_id):
        prev = st.session_state[key]
        if (Path(runs_root()) / prev).is_dir():  # still there, only not offered here
            not_found([prev], missing)
        else:
            # The run this page had open left the store under it: deleted or moved from another
            # tab, another session or the command line (a delete on this page forgets it first).
            forget_view(prev)
            st.session_state[gone_key] = (prev, pick_run(None, list(by_id)))
            st.session_state[key] = st.session_state[gone_key][1]
    if st.session_state.get(key) not in by_id:
        st.session_state[key] = pick_run(None, list(by_id))
    shown = distinct(list(by_id), lambda i: run_label(by_id[i]), tag=id_tag, front=True)
    # kept for the session: back on the page after another, the run left open is open again
    run_id = (where or st).selectbox("Run", list(by_id), key=key, help=help, format_func=shown,
                                     persist_state="session")
    gone = st.session_state.get(gone_key)
    if gone and gone[1] == run_id:  # said until another run is chosen
        not_found([gone[0]], "the run open here is no longer",
                  "It was deleted or moved, perhaps from another tab. Showing the newest run.")
    else:
        st.session_state.pop(gone_key, None)
    to_link("run", key, run_id)
    return run_id


def runs_picker(known: Sequence[str], key: str, *, default: Callable[[], list[str]],
                offered: Callable[[list[str]], list[str]], limit: int, label: Callable[[str], str],
                help: str, placeholder: str) -> list[str]:
    """Several runs, tied to ``?runs=A,B``. ``offered(chosen)`` lists what may be added to the
    runs chosen so far; ``default()`` is the choice when there is none yet."""
    asked = from_link("runs", key)
    if asked:
        named = [i for i in asked.split(",") if i]
        wanted = list(dict.fromkeys(named))  # a run named twice (?runs=A,A): once
        if len(wanted) == 1 < len(named):
            st.warning(f"The link names {md(wanted[0], 200)} more than once; a run is compared "
                       "with another run, not with itself. Choose a second run below.")
        found = [i for i in wanted if i in known][:limit]
        missing = [i for i in wanted if i not in known]
        instead = ("Showing the others." if found else "Showing the default choice instead."
                   if default() else "Choose runs below.")
        # a run that is there but cannot be read (damaged) is not said to be absent
        damaged = [i for i in missing if RUN_ID_RE.match(i) and (Path(runs_root()) / i).is_dir()]
        if damaged:
            not_found(damaged, "damaged, not opened,", f"{instead} Explore says what is wrong.")
        if absent := [i for i in missing if i not in damaged]:
            not_found(absent, "not", instead)
        # none of them there: the page's default choice, as with no link at all
        st.session_state[key] = found or default()
    if key not in st.session_state:
        st.session_state[key] = default()
    chosen = [i for i in st.session_state[key] if i in known]
    left = [i for i in st.session_state[key] if i not in known]
    gone_key = f"_{key}_gone"
    if left:  # runs that left the store under the page (deleted from another tab, the CLI)
        for i in left:
            forget_view(i)
        st.session_state[gone_key] = (left, chosen)
    st.session_state[key] = chosen
    options = chosen + [i for i in offered(chosen) if i not in chosen]
    chosen = st.multiselect("Runs", options, key=key, max_selections=limit,
                            format_func=distinct(options, label, tag=id_tag, front=True),
                            placeholder=placeholder, help=help, persist_state="session")
    gone = st.session_state.get(gone_key)
    if gone and gone[1] == chosen:  # said until the choice changes
        not_found(gone[0], "no longer", "Deleted or moved, perhaps from another tab.")
    else:
        st.session_state.pop(gone_key, None)
    to_link("runs", key, ",".join(chosen))
    return chosen


# --------------------------------------------------------------------------- colour

CLUSTER, TRUE_LABEL = "Cluster", "True label"


def factor_choices(*views) -> list[str]:
    """The categorical factors (a second labelling, e.g. ``artifact``) that every view's data
    carries, in the first view's order."""
    sets = [v.dataset.categorical_factors() if v.dataset is not None else [] for v in views]
    return [f for f in (sets[0] if sets else []) if all(f in s for s in sets[1:])
            and f not in (CLUSTER, TRUE_LABEL)]


def colour_picker(key: str, has_labels: bool, *, clusters: Sequence[str] = (CLUSTER,),
                  labels_first: bool = False, factors: Sequence[str] = (), help: str,
                  where=None) -> str:
    """What colours the points: the method's clusters (``clusters`` names the ways a page
    offers), the true labels when the data has them, or one of the data's categorical
    ``factors`` (see :func:`factor_choices`)."""
    choices = list(clusters)
    if has_labels:
        choices.insert(0 if labels_first else len(choices), TRUE_LABEL)
    choices += list(factors)
    if factors:
        help += (" " + ", ".join(factors) + ": a second labelling the data carries (its "
                 "generator knows it), which the method never sees.")
    return segmented("Colour", choices, key, help=help, where=where)


def colours(choice: str, view, snap):
    """(colour per point, class names or None, legend title) of a run's snapshot: its clusters,
    its points' true labels, or a categorical factor of its data. Class names may come from a
    user's file (a CSV's label column), so they reach the plot's legend as plain text."""
    ds = view.dataset
    if choice in getattr(ds, "factors", {}) and choice not in (CLUSTER, TRUE_LABEL):
        codes, names = ds.factor_codes(choice, view.subsample)
        return codes, names, choice
    if choice == TRUE_LABEL and view.labels_sub is not None:
        ds = view.dataset
        names = [for_plotly(n) for n in ds.class_names] if ds is not None and ds.class_names else None
        return view.labels_sub, names, "true label"
    return snap.assign, None, "cluster"
