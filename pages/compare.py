"""Compare: two to four runs on the same data set, side by side, driven by one control.

Which runs (see tests/test_compare.py): the ``runs`` query parameter (comma-separated run ids,
what links use), else ``st.session_state["compare_runs"]`` (the picker's key), else the two newest
runs that share a data set. The shared control: ``compare_mode`` ("epoch", "progress", "last"),
``compare_pos`` (an epoch or a percentage, a value of the timeline), ``compare_playing``.
"""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

import app_common as C
from dcviz import appstate as A
from dcviz import compare as K
from dcviz.runs.store import ACTIVE_STATES
from dcviz.viz import compare as V
from dcviz.viz.common import latent_figure

PLOTLY = {"displaylogo": False}


def plot_config(name: str) -> dict:
    """Plotly's modebar stays on (its camera button saves a PNG) with a sensible file name."""
    return {**PLOTLY, "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}}


C.require_app("compare")

st.title("Compare")
st.caption("Runs side by side on the same data: their latent spaces at the same moment, their "
           "scores, their curves, and how their clusters map onto each other.")

mgr = C.manager()
runs = mgr.runs()
by_id = {r["run_id"]: r for r in runs}
configs: dict[str, dict] = {}
for r in runs:
    v = C.run_view(r["run_id"])
    if v is not None:
        configs[r["run_id"]] = v.config

if not configs:
    st.info("There are no runs to compare yet. Launch one here, or choose data and a method on "
            "the **Train** page; then launch a second run on the same data (another method, or "
            "the same one with another seed) and come back.")
    C.default_run_button("compare_default")
    st.stop()


def label(run_id: str) -> str:
    return A.run_label(by_id[run_id]) if run_id in by_id else run_id


def short(run_id: str) -> str:
    cfg = configs.get(run_id, {})
    name = cfg.get("name")
    seed = cfg.get("seed")
    base = f"{cfg.get('method', '?')}" + (f" (seed {seed})" if seed is not None else "")
    return f"{name} · {base}" if name else f"{base} · {run_id[-4:]}"


def another_run_button(run_id: str, key: str) -> None:
    """Offer the obvious second run: the same method and data with the next seed."""
    cfg = configs[run_id]
    seed = int(cfg.get("seed") or 0) + 1
    if st.button(f"Train {cfg['method']} on {cfg.get('data_name', '?')} again with seed {seed}",
                 key=key, icon=":material/add:",
                 help="Launch the same method, data, preset and config with the next seed; it "
                      "opens on the Train page, and shows up here once it has snapshots."):
        run = C.launch(cfg["method"], cfg["data"], {**cfg["config"], "seed": seed},
                       cfg.get("preset", "quick"))
        if run:
            C.watch_in_train(run)


ids = list(configs)
# ---------------------------------------------------------------- which runs: query param > state
qp = st.query_params.get("runs")
if qp and qp != st.session_state.get("_compare_qp_seen"):
    st.session_state["_compare_qp_seen"] = qp
    wanted = [i for i in qp.split(",") if i]
    missing = [i for i in wanted if i not in configs]
    if missing:
        st.warning(f"Not in `{C.runs_root()}`: {', '.join(missing)}.")
    st.session_state["compare_runs"] = [i for i in wanted if i in configs][:K.MAX_RUNS]
if "compare_runs" not in st.session_state:
    st.session_state["compare_runs"] = K.default_selection(configs)
chosen = [i for i in st.session_state["compare_runs"] if i in configs]
st.session_state["compare_runs"] = chosen

offered = chosen + [i for i in K.compatible(configs, chosen) if i not in chosen]
hidden = len(ids) - len(offered)
chosen = st.multiselect(
    "Runs", offered, key="compare_runs", max_selections=K.MAX_RUNS, format_func=label,
    placeholder="choose two to four runs on the same data set",
    help="Runs of the run store, live or saved. Once a run is chosen, only runs on the same data "
         "set are offered: runs are compared point for point.")
if hidden and chosen:
    st.caption(f"{hidden} run{'s' if hidden != 1 else ''} on other data sets "
               f"{'are' if hidden != 1 else 'is'} not offered; clear the choice to pick among all.")
if st.query_params.get("runs") != ",".join(chosen):
    st.query_params["runs"] = ",".join(chosen)
    st.session_state["_compare_qp_seen"] = ",".join(chosen)

try:
    K.check_comparable([configs[i] for i in chosen])
except K.CompareError as e:
    if len(chosen) < 2:
        if len(ids) < 2:
            st.info("Compare needs two runs on the same data set, and the run store has one. "
                    "Launch a second run: the same method with another seed, or another method "
                    "on the same data (**Train** page).")
            another_run_button(ids[0], "compare_another")
        elif chosen:
            partners = [i for i in K.compatible(configs, chosen) if i not in chosen]
            if partners:
                st.info("Choose a second run above.")
            else:
                st.info(f"No other run was trained on {K.data_title(configs[chosen[0]])}. Launch "
                        "one, then come back.")
                another_run_button(chosen[0], "compare_another")
        else:
            st.info("Choose two to four runs above. No two runs share a data set yet: launch a "
                    "second run on the data of one of them." if not K.default_selection(configs)
                    else "Choose two to four runs above.")
            if not K.default_selection(configs):
                another_run_button(ids[0], "compare_another")
    else:
        st.error(str(e))
    st.stop()

views = {i: C.run_view(i) for i in chosen}
if any(v is None for v in views.values()):
    st.error("A chosen run cannot be opened any more (its folder was removed or damaged); "
             "choose again.")
    st.stop()


def live(run_id: str) -> bool:
    return run_id in mgr.live and mgr.state(run_id) in ACTIVE_STATES


if st.session_state.get("compare_mode") not in K.MODES:
    st.session_state["compare_mode"] = "epoch"
mode = st.segmented_control(
    "Align by", list(K.MODES), key="compare_mode", required=True, format_func=K.MODES.get,
    help="Same epoch: every run at the same epoch number (a run holds its last snapshot once it "
         "ends). Same progress: the same fraction of each run, for methods of different lengths. "
         "Each run's last snapshot: where every run ended (or is now).")


# ================================================================== the part the control drives
def body() -> None:
    rows = {i: views[i].rows() for i in chosen}
    values = K.timeline(list(rows.values()), mode)
    playing = bool(st.session_state.get("compare_playing"))
    pos = None
    if values:
        prev_values = st.session_state.get("_compare_values") or []
        pos = st.session_state.get("compare_pos")
        at_end = pos is None or (prev_values and pos == prev_values[-1])
        if playing:
            later = [v for v in values if pos is None or v > pos]
            if later:
                pos = later[0]
            else:
                pos = values[-1]
                st.session_state["compare_playing"] = playing = False
                st.session_state["compare_pos"] = pos
                st.session_state["_compare_values"] = values
                st.rerun(scope="app")  # stop the timer
        elif pos not in values or at_end:
            pos = values[-1] if (pos is None or at_end or pos > values[-1]) else \
                min(values, key=lambda v: abs(v - pos))
        st.session_state["compare_pos"] = pos
        st.session_state["_compare_values"] = values
        c = st.columns([1, 9], vertical_alignment="bottom")
        with c[0]:
            if st.button("⏸ Pause" if playing else "▶ Play", key="compare_play",
                         help="Animate: step every run through its snapshots together."):
                st.session_state["compare_playing"] = not playing
                if not playing and pos == values[-1]:
                    st.session_state["compare_pos"] = values[0]
                st.rerun(scope="app")
        with c[1]:
            if len(values) > 1:
                st.select_slider(
                    "Epoch" if mode == "epoch" else "Progress (%)", values, key="compare_pos",
                    help="One control for every run: each column, the table and the contingency "
                         "follow it.")
            else:
                st.caption(f"One position so far: {values[0]}.")
        pos = st.session_state["compare_pos"]
    picks = {i: K.pick(rows[i], mode, pos) for i in chosen}
    snaps = {i: (views[i].snapshot(p.index) if p.index is not None else None) for i, p in picks.items()}

    # ------------------------------------------------ latent views side by side
    has_labels = all(views[i].labels_sub is not None for i in chosen)
    colors = (["True label"] if has_labels else []) + ["Cluster, matched to the first run", "Cluster id"]
    if st.session_state.get("compare_color") not in colors:
        st.session_state["compare_color"] = colors[0]
    color_by = st.segmented_control(
        "Colour", colors, key="compare_color", required=True,
        help="True label: the data's classes, the same in every column. Cluster, matched: each "
             "run's clusters renamed to the first run's cluster they overlap most, so one colour "
             "is one group of points across columns. Cluster id: each run's own numbering.")
    ref = chosen[0]
    cols = st.columns(len(chosen))
    for slot, (col, run_id) in enumerate(zip(cols, chosen)):
        view, snap, p = views[run_id], snaps[run_id], picks[run_id]
        with col:
            if snap is None:
                st.markdown(f"**{short(run_id)}**")
                st.info("No snapshot yet." + (" It refreshes by itself." if live(run_id) else ""))
                continue
            note = f" · {p.note}" if p.note else ""
            st.caption(f"snapshot {p.index + 1} of {len(rows[run_id])} · epoch {snap.epoch} · "
                       f"{snap.stage}{note}")
            coords = C.projections().aligned_pca((C.runs_root(), run_id), p.index,
                                                 lambda i, v=view: v.snapshot(i).latent)
            if color_by == "True label":
                color, ctitle = view.labels_sub, "true label"
                names = view.dataset.class_names if view.dataset is not None else None
            elif color_by.startswith("Cluster, matched") and snaps.get(ref) is not None:
                color = K.match_to(views[ref].subsample, snaps[ref].assign, view.subsample, snap.assign)
                ctitle, names = "cluster (matched)", None
            else:
                color, ctitle, names = snap.assign, "cluster", None
            fig = latent_figure(coords, index=view.subsample, color=color, color_title=ctitle,
                                color_names=names, extra_hover={"cluster": snap.assign},
                                axis_names=("PC 1", "PC 2"), uirevision=f"compare:{run_id}",
                                height=420, title=f"{short(run_id)} · epoch {snap.epoch}")
            fig.update_layout(showlegend=slot == len(chosen) - 1)
            st.plotly_chart(fig, key=f"compare_latent_{slot}",
                            config=plot_config(f"dcviz-compare-latent-{run_id}"))
            m = snap.metrics
            if any(k in m for k in K.SCORE_KEYS):
                st.caption(" · ".join(f"{k.upper()} {m[k]:.3f}" for k in K.SCORE_KEYS if k in m))

    # ------------------------------------------------ metrics table
    st.subheader("Scores")
    entries = [dict(label=short(i), method=configs[i].get("method", "?"), rows=rows[i],
                    index=picks[i].index, status=_status(i)) for i in chosen]
    table = K.metrics_table(entries)
    st.dataframe(table, hide_index=True, column_config={"seconds": None})
    st.caption("Scores of the snapshots shown above (move the control to the end for the final "
               "ones). ACC, NMI and ARI are measured against the true labels over all points; "
               "Trust, Cont, RRE, d-RMSE, LGD and CRA are the geometry metrics of DCRL and of the "
               "baselines measured against it, where the method records them. Training time is "
               "the run's total (so far, for a live run).")

    # ------------------------------------------------ curves
    st.subheader("Curves")
    fig = V.overlay_curves([(short(i), rows[i]) for i in chosen],
                           x="progress" if mode == "progress" else "epoch",
                           current=[picks[i].index for i in chosen])
    st.plotly_chart(fig, key="compare_curves", config=plot_config("dcviz-compare-curves"))
    st.caption("One colour (and dash) per run; the rings mark the snapshots shown above.")

    # ------------------------------------------------ d_Z - d_X
    hist = [(short(i), K.histogram_data(snaps[i].extras)) for i in chosen if snaps[i] is not None]
    hist = [(n, h) for n, h in hist if h is not None]
    st.subheader("Distances kept: d_Z − d_X")
    if hist:
        st.plotly_chart(V.dz_dx_overlay(hist), key="compare_dzdx",
                        config=plot_config("dcviz-compare-dz-dx"))
        st.caption("For each point and its nearest neighbours in the input space: the latent "
                   "distance minus the input distance (both divided by the square root of their "
                   "dimension). Narrow around 0: local geometry kept (DCRL's isometry term); wide "
                   "or shifted: the clustering loss has bent it. The dotted line marks 0. Median "
                   "|d_Z − d_X|: " + "; ".join(f"{n} {np.median(np.abs(h)):.3g}" for n, h in hist) + ".")
    else:
        st.caption("None of these runs records d_Z − d_X (DCRL, DEC and IDEC do); runs of "
                   "those methods show an overlay of their histograms here.")

    # ------------------------------------------------ contingency
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
    if a == b:
        st.caption("Choose two different runs.")
    elif snaps[a] is None or snaps[b] is None:
        st.caption("Both runs need a snapshot.")
    else:
        ct = K.contingency(views[a].subsample, snaps[a].assign, views[b].subsample, snaps[b].assign)
        st.markdown(f"**{ct.agreement:.1%}** of the {ct.n} points fall in matched clusters · "
                    f"NMI {ct.nmi:.3f} · ARI {ct.ari:.3f} between the two clusterings")
        st.plotly_chart(V.contingency_figure(ct.table, ct.rows, ct.cols, name_a=short(a),
                                             name_b=short(b)),
                        key="compare_contingency", config=plot_config("dcviz-compare-contingency"))
        st.caption("Each cell counts the points in row cluster i of the first run and column "
                   "cluster j of the second (colour: share of the row). A clean diagonal means "
                   "the two runs found the same groups under other names; a row split over "
                   "several columns is a cluster the other run cut in pieces.")
        with st.expander("The table as numbers"):
            st.dataframe(ct.records("A", "B"), hide_index=True)


def _status(run_id: str) -> dict:
    status = dict(views[run_id].status)
    if run_id in mgr.live:
        status["state"] = mgr.state(run_id)
    return status


def refresh_interval() -> float | None:
    """Seconds between redraws while playing or while a chosen run trains, else None.

    Never shorter than twice the time the last redraw took: on a busy machine a timer that
    fires before the redraw ends would restart it, and the page would never finish drawing."""
    if not (st.session_state.get("compare_playing") or any(live(i) for i in chosen)):
        return None
    base = 0.9 if st.session_state.get("compare_playing") else 2.0
    return max(base, 2.0 * float(st.session_state.get("_compare_draw_s", 0.0)))


def fragment(interval: float | None) -> None:
    start = time.perf_counter()
    body()
    st.session_state["_compare_draw_s"] = time.perf_counter() - start
    wanted = refresh_interval()
    if (wanted is None) != (interval is None) or (wanted and interval and wanted > 1.5 * interval):
        st.rerun(scope="app")  # start, stop or slow down the timer


interval = refresh_interval()
st.fragment(run_every=interval)(fragment)(interval)
