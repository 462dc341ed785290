"""Compare: two to four runs on the same data set, side by side, driven by one control.

Which runs (see tests/test_compare.py): the ``runs`` query parameter (comma-separated run ids,
what links use), else ``st.session_state["compare_runs"]`` (the picker's key), else the two newest
runs that share a data set. The shared control: ``compare_mode`` ("epoch", "progress", "last"),
``compare_pos`` (an epoch or a percentage, a value of the timeline), ``compare_playing``.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from dcviz import compare as K
from dcviz.plaintext import for_plotly, md
from dcviz.runs.labels import (data_title, distinct, method_title, run_label, run_name,
                                snapshot_label)
from dcviz.runs.store import ACTIVE_STATES
from dcviz.viz import compare as V
from dcviz.viz.common import latent_figure
from ui import nav
from ui.fields import segmented
from ui.launch import default_run_button, launch
from ui.look import plot_config
from ui.pickers import colour_picker, colours, factor_choices, runs_picker
from ui.player import player, timer
from ui.shared import aligned_pca, manager, rerun_if_gone, run_configs, run_view
from ui.store import ae_letters

nav.require_app("compare")
MATCHED, CLUSTER_ID = "Cluster, matched to the first run", "Cluster id"



def short(run_id: str) -> str:
    """A run's name in a column head or a legend: its name, else method, seed and id's end;
    the id's end added where two chosen runs would read alike."""
    return distinct(chosen, lambda i: run_name(configs.get(i, {}), i),
                    tag=lambda i: i[-4:])(run_id)  # at the end: heads wrap


def live(run_id: str) -> bool:
    return run_id in manager().live and manager().state(run_id) in ACTIVE_STATES


def another_run_button(run_id: str) -> None:
    """Offer the obvious second run: the same method and data with the next seed."""
    cfg = configs[run_id]
    seed = int(cfg.get("seed") or 0) + 1
    if st.button(f"Train {md(method_title(cfg['method']))} on {md(data_title(cfg.get('data_name', '?')))} again with seed "
                 f"{seed}", key="compare_another", icon=":material/add:",
                 help="Launch the same method, data, preset and config with the next seed; it "
                      "opens on the Train page, and shows up here once it has snapshots."):
        run = launch(cfg["method"], cfg["data"], {**cfg["config"], "seed": seed},
                     cfg.get("preset", "quick"))
        if run:
            nav.watch_in_train(run)


def not_comparable(chosen: list[str], error: K.CompareError) -> None:
    """Say why nothing is compared yet, and offer the run that would make a pair."""
    if len(chosen) >= 2:
        st.error(md(error))
        return
    ids = list(configs)
    partners = [i for i in K.compatible(configs, chosen) if i not in chosen] if chosen else []
    if len(ids) < 2:
        st.info("Compare needs two runs on the same data set, and the run store has one. Launch "
                "a second run: the same method with another seed, or another method on the same "
                "data (**Train** page).")
        another_run_button(ids[0])
    elif chosen and partners:
        st.info("Choose a second run above.")
    elif chosen:
        st.info(f"No other run was trained on {md(K.data_title(configs[chosen[0]]))}. Launch one, "
                "then come back.")
        another_run_button(chosen[0])
    elif K.default_selection(configs):
        st.info("Choose two to four runs above.")
    else:
        st.info("Choose two to four runs above. No two runs share a data set yet: launch a "
                "second run on the data of one of them.")
        another_run_button(ids[0])


# ================================================================== the part the control drives
def body() -> None:
    rerun_if_gone(*views.values())
    # a row per snapshot: metrics.jsonl may say more than the snapshots on disk hold
    rows = {i: views[i].rows()[:views[i].count] for i in chosen}
    values = K.timeline(list(rows.values()), mode)
    pos = player(values, "compare", pos="pos", label="Epoch" if mode == "epoch" else "Progress (%)",
                 help="One control for every run: each column, the table and the contingency "
                      "follow it.") if values else None
    picks = {i: K.pick(rows[i], mode, pos) for i in chosen}
    snaps = {i: (views[i].snapshot(p.index) if p.index is not None else None) for i, p in picks.items()}
    latent_columns(rows, picks, snaps)
    scores(rows, picks)
    curves(rows, picks)
    distances_kept(snaps)
    contingency(snaps)


def latent_columns(rows, picks, snaps) -> None:
    """The runs' latent views side by side, at the position of the control."""
    choice = colour_picker(
        "compare_color", all(views[i].labels_sub is not None for i in chosen),
        clusters=(MATCHED, CLUSTER_ID), labels_first=True,
        factors=factor_choices(*(views[i] for i in chosen)),
        help="True label: the data's classes, the same in every column. Cluster, matched: each "
             "run's clusters renamed to the first run's cluster they overlap most, so one colour "
             "is one group of points across columns. Cluster id: each run's own numbering.")
    ref = chosen[0]
    for slot, (col, run_id) in enumerate(zip(st.columns(len(chosen)), chosen)):
        view, snap, p = views[run_id], snaps[run_id], picks[run_id]
        # the run's name as text that wraps: as the plot's title, a narrow column cut it
        # ("ae-kmeans on blobs8 seed 1 · AE + k-r" at 1280 px with three runs)
        col.markdown(f"**{md(short(run_id))}**")
        if snap is None:
            col.info("No snapshot yet." + (" It refreshes by itself." if live(run_id) else ""))
            continue
        col.caption(md(snapshot_label(rows[run_id][p.index], p.index, len(rows[run_id])))
                    + (f" · {p.note}" if p.note else "")
                    + (f" · **AE {letters[run_id]}**" if letters.get(run_id) else ""))
        color, names, ctitle = colours(choice, view, snap)
        if choice == MATCHED and snaps.get(ref) is not None:
            color = K.match_to(views[ref].subsample, snaps[ref].assign, view.subsample, snap.assign)
            ctitle = "cluster (matched)"
        fig = latent_figure(aligned_pca(view, p.index), index=view.subsample, color=color,
                            color_title=ctitle, color_names=names,
                            extra_hover={"cluster": snap.assign}, axis_names=("PC 1", "PC 2"),
                            uirevision=f"compare:{run_id}", height=420)
        fig.update_layout(showlegend=slot == len(chosen) - 1)
        col.plotly_chart(fig, key=f"compare_latent_{slot}",
                         config=plot_config(f"dcviz-compare-latent-{run_id}"))
        m = snap.metrics
        if any(k in m for k in K.SCORE_KEYS):
            col.caption(" · ".join(f"{k.upper()} {m[k]:.3f}" for k in K.SCORE_KEYS if k in m))


def status(run_id: str) -> dict:
    out = dict(views[run_id].status)
    if run_id in manager().live:
        out["state"] = manager().state(run_id)
    return out


def scores(rows, picks) -> None:
    st.subheader("Scores")
    entries = [dict(label=short(i), method=method_title(configs[i].get("method", "?")), rows=rows[i],
                    index=picks[i].index, status=status(i)) for i in chosen]
    # One column per run (two to four fit across the page; fifteen measures as columns did not).
    with st.container(key="compare_scores"):
        st.dataframe(K.scores_by_run(K.metrics_table(entries)), hide_index=True, width="stretch",
                     height="content")
    st.caption("Scores of the snapshots shown above (move the control to the end for the final "
               f"ones); {K.MISSING} where a run does not record that measure. ACC, NMI and ARI are measured against the true labels over all points; "
               "Trust, Cont, RRE, d-RMSE, LGD and CRA are the geometry metrics of DCRL and of the "
               "baselines measured against it, where the method records them. Training time is "
               "the run's total (so far, for a live run).")


def curves(rows, picks) -> None:
    st.subheader("Curves")
    fig = V.overlay_curves([(for_plotly(short(i)), rows[i]) for i in chosen],
                           x="progress" if mode == "progress" else "epoch",
                           current=[picks[i].index for i in chosen])
    st.plotly_chart(fig, key="compare_curves", config=plot_config("dcviz-compare-curves"))
    st.caption("One colour (and dash) per run; the rings mark the snapshots shown above.")


def distances_kept(snaps) -> None:
    """d_Z - d_X of the runs that record it (DCRL's isometry, and the baselines against it)."""
    values = {i: K.histogram_data(snaps[i].extras) if snaps[i] is not None else None
              for i in chosen}
    hist = [(for_plotly(short(i)), values[i]) for i in chosen if values[i] is not None]
    missing = K.dz_dx_missing([(short(i), configs[i].get("method", "?")) for i in chosen
                               if values[i] is None])
    st.subheader("Distances kept: d_Z − d_X")
    if not hist:
        st.caption("None of these runs records d_Z − d_X (DCRL, DEC and IDEC do); runs of "
                   "those methods show an overlay of their histograms here.")
        return
    st.plotly_chart(V.dz_dx_overlay(hist), key="compare_dzdx",
                    config=plot_config("dcviz-compare-dz-dx"))
    st.caption("For each point and its nearest neighbours in the input space: the latent "
               "distance minus the input distance (both divided by the square root of their "
               "dimension). Narrow around 0: local geometry kept (DCRL's isometry term); wide "
               "or shifted: the clustering loss has bent it. The dotted line marks 0. Median "
               "|d_Z − d_X|: " + "; ".join(f"{md(n)} {np.median(np.abs(h)):.3g}" for n, h in hist)
               + "." + (f" {md(missing)}" if missing else ""))


def contingency(snaps) -> None:
    st.subheader("Which clusters map to which")
    c1, c2 = st.columns(2)
    for k, default in (("compare_ct_a", 0), ("compare_ct_b", 1)):
        if st.session_state.get(k) not in chosen:
            st.session_state[k] = chosen[default]
    a = c1.selectbox("Rows: run", chosen, key="compare_ct_a", format_func=short,
                     help="Its clusters are the rows of the table.")
    b = c2.selectbox("Columns: run", chosen, key="compare_ct_b", format_func=short,
                     help="Its clusters are the columns, ordered so that each row's best match "
                          "(a one-to-one Hungarian matching) lies on the diagonal.")
    if a == b or snaps[a] is None or snaps[b] is None:
        st.caption("Choose two different runs." if a == b else "Both runs need a snapshot.")
        return
    try:
        ct = K.contingency(views[a].subsample, snaps[a].assign, views[b].subsample,
                           snaps[b].assign)
    except K.CompareError:
        # On a data set larger than a run's subsample, each run follows points drawn with its
        # own seed; two such draws can miss each other entirely.
        st.info("These two runs follow different points of the data set (each keeps its own "
                "random subset of the points, drawn with its seed), and no point is in both, so "
                "their clusters cannot be matched point by point. Compare runs with the same "
                "seed, or runs trained with a subsample as large as the data set.")
        return
    st.markdown(f"**{ct.agreement:.1%}** of the {ct.n} points fall in matched clusters · "
                f"NMI {ct.nmi:.3f} · ARI {ct.ari:.3f} between the two clusterings")
    st.plotly_chart(V.contingency_figure(ct.table, ct.rows, ct.cols, name_a=for_plotly(short(a)),
                                         name_b=for_plotly(short(b))),
                    key="compare_contingency", config=plot_config("dcviz-compare-contingency"))
    st.caption("Each cell counts the points in row cluster i of the first run and column "
               "cluster j of the second (colour: share of the row). A clean diagonal means "
               "the two runs found the same groups under other names; a row split over "
               "several columns is a cluster the other run cut in pieces.")
    with st.expander("The table as numbers"):
        st.dataframe(ct.records("A", "B"), hide_index=True)


# ================================================================== the page
st.title("Compare")
st.caption("Runs side by side on the same data: their latent spaces at the same moment, their "
           "scores, their curves, and how their clusters map onto each other.")
runs = manager().runs()
by_id = {r["run_id"]: r for r in runs}
configs = run_configs(runs)
if not configs:
    st.info("There are no runs to compare yet. Launch one here, or choose data and a method on "
            "the **Train** page; then launch a second run on the same data (another method, or "
            "the same one with another seed) and come back.")
    default_run_button("compare_default")
    st.stop()

chosen = runs_picker(
    list(configs), "compare_runs", limit=K.MAX_RUNS, default=lambda: K.default_selection(configs),
    offered=lambda c: K.compatible(configs, c),
    label=lambda i: run_label(by_id[i]) if i in by_id else i,
    placeholder="choose two to four runs on the same data set",
    help="Runs of the run store, live or saved. Once a run is chosen, only runs on the same data "
         "set are offered: runs are compared point for point.")
hidden = len(configs) - len(set(chosen) | set(K.compatible(configs, chosen)))
if hidden and chosen:
    st.caption(f"{hidden} run{'s' if hidden != 1 else ''} on other data sets "
               f"{'are' if hidden != 1 else 'is'} not offered; clear the choice to pick among all.")
try:
    K.check_comparable([configs[i] for i in chosen])
except K.CompareError as e:
    not_comparable(chosen, e)
    st.stop()
views = {i: run_view(i) for i in chosen}
if unopened := [i for i, v in views.items() if v is None]:
    # the listing checks a run lightly; opening one reads every snapshot's header
    st.error(f"Cannot open {', '.join(md(short(i)) for i in unopened)}: "
             "its folder was removed or is damaged (Explore says what is wrong). Choose another "
             "run above.")
    st.stop()

letters = ae_letters(views, {i: short(i) for i in chosen})
mode = segmented(
    "Align by", list(K.MODES), "compare_mode", format_func=K.MODES.get,
    help="Same epoch: every run at the same epoch number (a run holds its last snapshot once it "
         "ends). Same progress: the same fraction of each run, for methods of different lengths. "
         "Each run's last snapshot: where every run ended (or is now).")
# Redraw by itself while playing, or while a chosen run trains.
timer(body, "compare", lambda: 0.9 if st.session_state.get("compare_playing") else
      (2.0 if any(live(i) for i in chosen) else None))
