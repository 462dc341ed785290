"""Explore: open any run, live or saved, and scrub its snapshots.

Which run opens (see tests/conftest.py): the ``run`` query parameter (``?run=<run_id>``, what
links use), else ``st.session_state["explore_run"]`` (the picker's key), else the newest run.
The snapshot is ``st.session_state["explore_index"]``; the selected point is the sample index in
``st.session_state["explore_point"]``.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from dcviz.images import upscale
from dcviz.methods import REGISTRY
from dcviz.plaintext import for_plotly, md
from dcviz.projection import method_axes, nearest_neighbors
from dcviz.runs.labels import (STATE_HELP, STATE_ICONS, data_title, format_seconds, point_caption,
                               method_title, run_files, snapshot_label,
                               snapshot_position)
from dcviz.runs.store import ACTIVE_STATES, RunStoreError
from dcviz.viz import get_lens
from dcviz.viz.common import latent_figure, loss_figure, metric_figure, snapshot_table
from ui import nav
from ui import run_actions as R
from ui.fields import segmented
from ui.launch import default_run_button
from ui.panels import build_panels, lens_options, render_panels
from ui.pickers import colour_picker, colours, factor_choices, run_picker
from ui.player import player, rewind, timer
from ui.takeaway import takeaway_buttons
from ui.shared import (aligned_pca, manager, projections, rerun_if_gone, run_view, runs_root,
                       umap_worker)
from ui.store import provenance

nav.require_app("explore")
state = st.session_state


def live_now() -> bool:
    return run_id in manager().live and manager().state(run_id) in ACTIVE_STATES


# ================================================================== everything below follows the player
def body() -> None:
    rerun_if_gone(view)
    state["_explore_wait_umap"] = False
    count = view.count
    if count == 0:
        st.info("This run has no snapshot yet: it is queued or has just started. This view "
                "refreshes by itself." if live_now() else
                "This run ended before its first snapshot; the Run tab below shows why.")
        if not live_now():
            run_tab(None, None)
        return
    rows = view.rows()
    index = player(range(count), "explore", pos="index", label="Snapshot", follow=follow and live_now(),
                   caption=lambda i: snapshot_label(rows[i] if i < len(rows) else None, i, count),
                   help="Which snapshot (epoch) every panel shows. The slider counts snapshots, "
                        "not epochs: a method may save one per epoch or per clustering step.")
    snap = view.snapshot(index)
    # st.tabs has no persist_state: the tab is kept aside, so that Explore comes back on it
    # after another page (where Streamlit drops the state of widgets it did not draw)
    if "explore_tab" in state:
        state["_explore_tab_left"] = state["explore_tab"]
    elif "_explore_tab_left" in state:
        state["explore_tab"] = state["_explore_tab_left"]
    tabs = st.tabs(["Latent", "Lens", "Metrics", "Run"], key="explore_tab", on_change="rerun")
    for tab, draw in zip(tabs, (lambda: latent_tab(snap, index, count), lambda: lens_tab(index),
                                lambda: metrics_tab(rows, snap, index), lambda: run_tab(snap, index))):
        with tab:
            if tab.open is not False:  # only the open tab is drawn
                draw()


# ------------------------------------------------------------------ Latent
PROJECTIONS = ["Aligned PCA", "Method axes", "UMAP"]
PCA_AXES = ("PC 1 (aligned)", "PC 2 (aligned)")


def projected(proj: str, snap, index: int):
    """The snapshot in 2-D: (coords, axis names, a note on what is shown instead, or "")."""
    key = (runs_root(), run_id)
    if proj == "Method axes":
        found = projections().method_axes(key, index, lambda i: view.snapshot(i).extras)
        if found is not None:
            return (*found, "")
        note = ("This snapshot has no method axes (the method adds them in a later stage); "
                "showing aligned PCA.")
    elif proj == "UMAP":
        # all snapshots at once, each layout started from the one before, kept in the run folder
        job = umap_worker().request_run(key, view.rd.path, view.count, len(view.subsample),
                                        view.latent)
        coords = job.layout(index)
        if coords is not None:
            return coords, ("UMAP 1", "UMAP 2"), ""
        if job.status == "failed":
            note = f"UMAP failed at snapshot {job.done + 1}: {md(job.error)}. Showing aligned PCA."
        else:
            st.progress(job.done / max(job.total, 1),
                        text=f"UMAP of every snapshot: {job.done} of {job.total} done")
            note = ("Computing UMAP for all snapshots, each started from the one before so that "
                    "the picture only moves as the latent space does (the very first takes a "
                    "minute while its code compiles; then seconds each, once per run: they are "
                    "kept with the run). Showing aligned PCA until this snapshot's is ready.")
            state["_explore_wait_umap"] = True
    else:
        note = ""
    return aligned_pca(view, index), PCA_AXES, note


def latent_tab(snap, index: int, count: int) -> None:
    has_axes = method_axes(snap.extras) is not None or \
        method_axes(view.snapshot(count - 1).extras) is not None
    options = [p for p in PROJECTIONS if p != "Method axes" or has_axes]
    c1, c2 = st.columns([3, 2])
    proj = segmented(
        "Projection", options, "explore_projection", where=c1,
        help="Aligned PCA: the first two principal components, turned to match the previous "
             "snapshot so the picture does not flip. Method axes: the method's own coordinates "
             "(where its lens gives them, e.g. eigen-directions of the within-cluster scatter, "
             "or the cluster space against the shared space). UMAP: a neighbourhood-preserving "
             "map, computed in the background for every snapshot once, each from the last, "
             "and kept with the run.")
    choice = colour_picker("explore_color", view.labels_sub is not None, where=c2,
                           factors=factor_choices(view),
                           help="Cluster: the method's assignment at this snapshot. True label: "
                                "the data's classes, which the method never sees.")
    coords, axis_names, note = projected(proj, snap, index)
    if note:
        st.caption(note)
    sub, point = view.subsample, state.get("explore_point")
    pos = {int(s): i for i, s in enumerate(sub)}.get(int(point)) if point is not None else None
    nb_pos, nb_dist = nearest_neighbors(snap.latent, pos, 8) if pos is not None else ([], [])
    left, right = st.columns([3, 2])
    color, names, ctitle = colours(choice, view, snap)
    fig = latent_figure(coords, index=sub, color=color, color_names=names, color_title=ctitle,
                        extra_hover=hover(snap), axis_names=axis_names, highlight=pos,
                        neighbors=nb_pos, uirevision=f"{run_id}:{proj}", height=560)
    left.plotly_chart(fig, key="explore_latent", on_select=pick_point, selection_mode="points",
                      config={"displaylogo": False})
    with right:
        point_picker(sub, point, pos)
        if pos is not None:
            point_details(snap, pos, nb_pos, nb_dist)
    with st.expander("Take it with you: an animation, an interactive page, the stage pictures",
                     icon=":material/download:"):
        takeaway_buttons(view, "explore_takeaway", "label" if ctitle == "true label" else "cluster")


def hover(snap) -> dict:
    out = {"cluster": snap.assign}
    labels, ds = view.labels_sub, view.dataset
    if labels is not None:
        out["label"] = np.array([for_plotly(ds.label_name(v)) for v in labels]) if ds is not None else labels
    return out


def pick_point():
    """The chart's click handler: the clicked point's customdata is its sample index."""
    try:
        points = state["explore_latent"]["selection"]["points"]
    except (KeyError, TypeError):
        points = []
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        try:
            state["explore_point"] = int(cd)
            return
        except (TypeError, ValueError):
            continue  # not a point of ours (or an unreadable one): ignore the click


def point_picker(sub, point, pos) -> None:
    """The selected sample's number, to read or to type; what to do when there is none."""
    if state.get("explore_point_input") != point:
        state["explore_point_input"] = point
    st.number_input("Sample", min_value=0, max_value=int(sub.max()) if len(sub) else 0,
                    value=None, step=1, key="explore_point_input",
                    placeholder="click a point, or type",
                    on_change=lambda: state.__setitem__("explore_point", state.get("explore_point_input")),
                    help="The selected point's sample number (its row in the data set). "
                         "Clicking a point in the scatter selects it too.")
    if pos is None and point is not None:
        st.caption(f"Sample {point} is not among the {len(sub)} points this run follows; pick "
                   "another.")
    elif pos is None:
        # vector data has no image to show: its first features are what a click brings
        what = "its image" if view.config.get("image_shape") else "its first features"
        st.info(f"Click a point to see {what} and its nearest neighbours in the latent "
                "space (the full latent, not this 2-D picture).")


def point_details(snap, pos, nb_pos, nb_dist) -> None:
    sub, ds, labels = view.subsample, view.dataset, view.labels_sub
    sample = int(sub[pos])

    def lab(p):
        if labels is None:
            return None
        return ds.label_name(labels[p]) if ds is not None else str(labels[p])

    st.markdown(f"**Sample {sample}** · cluster {int(snap.assign[pos])}"
                + (f" · true label {md(lab(pos))}" if labels is not None else ""))
    if ds is None:
        st.caption("The run's data set cannot be loaded here, so only its position is known.")
        return
    imgs = ds.images([sample] + [int(sub[p]) for p in nb_pos])
    if imgs is None:
        st.caption(f"Vector data ({ds.dim} features): the point's first features")
        st.dataframe([{f"x{j}": round(float(v), 4) for j, v in enumerate(ds.x[sample][:12])}],
                     hide_index=True)
        st.markdown("Nearest neighbours in the latent space")
        st.dataframe([{"sample": int(sub[p]), "cluster": int(snap.assign[p]), "label": lab(p),
                       "distance": round(float(d), 4)} for p, d in zip(nb_pos, nb_dist)],
                     hide_index=True)
        return
    st.image(upscale(imgs[0], 140), clamp=True, output_format="PNG",
             caption=point_caption(sample, int(snap.assign[pos]), lab(pos)))
    st.markdown("Nearest neighbours in the latent space")
    for start in range(0, len(nb_pos), 4):
        for col, p, d, im in zip(st.columns(4), nb_pos[start:start + 4],
                                 nb_dist[start:start + 4], imgs[1 + start:5 + start]):
            col.image(upscale(im, 72), clamp=True, output_format="PNG",
                      caption=point_caption(int(sub[p]), int(snap.assign[p]), lab(p), d))


# ------------------------------------------------------------------ Lens
def lens_tab(index: int) -> None:
    lens = get_lens(view.method_id)
    if lens is None:
        cls = REGISTRY.get(view.method_id)
        if cls is not None and not cls.card:  # no Home card: one of the baselines
            st.info(f"{md(cls.title)} is a baseline, to compare the methods on Home with, and has "
                    "no lens of its own: the Latent and Metrics tabs show what every run has.")
        else:
            st.info(f"The method {md(method_title(view.method_id))} has no lens of its own yet; the Latent and "
                    "Metrics tabs show what every run has.")
        return
    st.markdown(f"#### {lens.title}")
    if lens.intro:
        st.caption(lens.intro)
    options = {}
    if lens.options:
        with st.container(border=True):
            others = [r for r in manager().runs() if r["run_id"] != run_id]
            options = lens_options(lens, f"lens:{view.method_id}", runs=others, view=view)
    with st.spinner("Drawing the views…"):
        panels = build_panels(lens, view, index, options)
    render_panels(panels, key_prefix=f"lens:{view.method_id}")


# ------------------------------------------------------------------ Metrics
def metrics_tab(rows, snap, index: int) -> None:
    st.markdown("**Losses**")
    st.plotly_chart(loss_figure(rows, current=index), key="explore_losses",
                    config={"displaylogo": False})
    st.markdown("**Metrics**")
    st.plotly_chart(metric_figure(rows, current=index), key="explore_metrics",
                    config={"displaylogo": False})
    st.caption("The solid grey line is the snapshot the slider shows; dashed lines mark where a new "
               "stage of the method begins.")
    row = rows[index] if index < len(rows) else {"epoch": snap.epoch, "stage": snap.stage}
    st.markdown(f"**This snapshot** ({md(snapshot_position(row))})")
    # the cluster sizes (its last row) as a line of their own, which wraps: in the table's cell,
    # ten sizes of four digits were cut off at 1024 px
    *table, sizes = snapshot_table(rows, index, snap.assign)
    st.dataframe(table, hide_index=True)
    st.caption(f"Cluster {sizes['name']}: {sizes['value']}")


# ------------------------------------------------------------------ Run
def run_tab(snap, index) -> None:
    # the manager's reading: a run of this app that ended out of disk is "interrupted" with
    # the reason, even where status.json could not be written to say so
    try:
        status = manager().status(run_id)
    except RunStoreError:  # removed under the page meanwhile: the next redraw says so
        status = view.status
    cfg = view.config
    state_ = status.get("state", "unknown")
    st.markdown(f"**State:** {STATE_ICONS.get(state_, '')} {state_}"
                + (f" · {format_seconds(status.get('seconds'))}" if status.get("seconds") else ""))
    if state_ == "failed":
        st.error(f"The run failed: {md(status.get('error') or 'no message was recorded')}")
    elif state_ == "interrupted" and status.get("error"):
        st.warning(f"The run was cut off: {md(status['error'])}.")
    elif state_ in STATE_HELP:
        st.caption(STATE_HELP[state_])
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Method and config**")
        st.caption(f"{md(cfg.get('method_title') or cfg['method'])} · preset "
                   f"{md(cfg.get('preset', '?'))} · seed {md(cfg.get('seed', '?'))}")
        provenance(cfg, view.rd)
        st.json(cfg.get("config", {}), expanded=True)
    with c2:
        st.markdown("**Data**")
        st.caption(f"{md(data_title(cfg.get('data_name', '?')))}: {md(cfg.get('n_samples', '?'))} points, "
                   f"{md(cfg.get('input_dim', '?'))} features"
                   + (f", images {md(cfg['image_shape'])}" if cfg.get("image_shape") else ""))
        st.json(cfg.get("data", {}), expanded=True)
        st.markdown("**Versions**")
        st.dataframe([{"package": k, "version": v} for k, v in (cfg.get("versions") or {}).items()],
                     hide_index=True)
    st.markdown("**Files**")
    st.caption(md(view.rd.path))
    st.dataframe(run_files(view.rd), hide_index=True)
    st.markdown("**Export and manage**")
    R.export_buttons(view, index, key="explore_export")
    R.manage_panel(view, key="explore_manage")


# ================================================================== the page
st.title("Explore")
runs = manager().runs()
if not runs:
    st.info("There are no runs to explore yet. Launch one here, or choose data and a method on "
            "the **Train** page. Runs trained with the command line (`python -m dcviz train "
            f"...`) into {md(runs_root())} show up here too.")
    default_run_button("explore_default")
    st.stop()

with st.container(key="explore_top"):  # keyed for its CSS (assets/style.css)
    top = st.columns([5, 2, 2, 2], vertical_alignment="bottom")
run_id = run_picker(runs, "explore_run", where=top[0],
                    help="Any run in the run store: finished, still training, stopped, failed or "
                         "interrupted. Newest first.")
view = run_view(run_id)
row = next(r for r in runs if r["run_id"] == run_id)
if view is None:  # damaged on disk (or removed meanwhile): say why, offer to delete it
    R.damaged(row, key="explore_damaged")
    st.stop()
# Another run than before: start at its last snapshot, with no point selected. (On the first
# visit, a snapshot or point already in the session, from a test or a link, is kept.)
if state.get("_explore_prev_run") != run_id:
    first_visit = state.get("_explore_prev_run") is None
    state["_explore_prev_run"] = run_id
    keep = first_visit and "explore_index" in state
    rewind("explore", "index", to=None if keep else max(view.count - 1, 0))
    if not first_visit:
        state["explore_point"] = None

# Follow reads off, greyed, for a run that is not training (it showed on, greyed, for a finished
# run); the user's own choice is kept aside for the next run that trains.
training = row["state"] in ACTIVE_STATES and run_id in manager().live
state.setdefault("_explore_follow_wanted", state.get("explore_follow", True))
state["explore_follow"] = training and bool(state["_explore_follow_wanted"])
follow = top[1].toggle(
    "Follow training", key="explore_follow", disabled=not training,
    on_change=lambda: state.__setitem__("_explore_follow_wanted", state["explore_follow"]),
    help="While the run trains, jump to each new snapshot as it arrives."
         + ("" if training else f" This run is {row['state']}, not training here: there is no "
                                "new snapshot to follow."))
top[2].page_link(nav.PAGES["train"], label="Train page", icon=":material/model_training:",
                 help="Start or control runs.")
nav.present_link(run_id, where=top[3])
if row["state"] == "interrupted" and row.get("error"):  # why it was cut off: a full disk
    st.warning(f"This run is **interrupted**: {md(row['error'])}.")
elif row["state"] in STATE_HELP:
    st.caption(f"This run is **{row['state']}**: {STATE_HELP[row['state']]}.")
if row["state"] == "interrupted" and manager().is_interrupted(run_id):
    R.resume_control(run_id, key="explore_resume")
# Redraw by itself while playing, while the run trains, or while UMAP computes.
timer(body, "explore", lambda: 0.8 if state.get("explore_playing") else
      (1.5 if live_now() or state.get("_explore_wait_umap") else None))
