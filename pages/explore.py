"""Explore: open any run, live or saved, and scrub its snapshots.

Which run opens (see tests/conftest.py): the ``run`` query parameter (``?run=<run_id>``, what
links use), else ``st.session_state["explore_run"]`` (the picker's key), else the newest run.
The snapshot is ``st.session_state["explore_index"]``; the selected point is the sample index in
``st.session_state["explore_point"]``.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

import app_common as C
import run_actions as R
from dcviz import appstate as A
from dcviz.projection import method_axes, nearest_neighbors
from dcviz.runs.store import ACTIVE_STATES
from dcviz.viz import get_lens
from dcviz.viz.common import format_number, latent_figure, loss_figure, metric_figure

C.require_app("explore")

st.title("Explore")

mgr = C.manager()
runs = mgr.runs()
if not runs:
    st.info("There are no runs to explore yet. Launch one here, or choose data and a method on the "
            "**Train** page. Runs trained with the command line (`python -m dcviz train ...`) into "
            f"`{C.runs_root()}` show up here too.")
    C.default_run_button("explore_default")
    st.stop()

ids = [r["run_id"] for r in runs]
by_id = {r["run_id"]: r for r in runs}

# ---------------------------------------------------------------- which run: query param > state
qp = st.query_params.get("run")
if qp and qp != st.session_state.get("_explore_qp_seen"):
    st.session_state["_explore_qp_seen"] = qp
    if qp in by_id:
        st.session_state["explore_run"] = qp
    else:
        st.warning(f"There is no run `{qp}` in `{C.runs_root()}`; showing another run instead.")
if st.session_state.get("explore_run") not in by_id:
    st.session_state["explore_run"] = A.pick_run(None, ids)

top = st.columns([5, 2, 2], vertical_alignment="bottom")
run_id = top[0].selectbox(
    "Run", ids, key="explore_run", format_func=lambda i: A.run_label(by_id[i]),
    help="Any run in the run store: finished, still training, stopped, failed or interrupted. "
         "Newest first.")
if st.query_params.get("run") != run_id:
    st.query_params["run"] = run_id
    st.session_state["_explore_qp_seen"] = run_id

view = C.run_view(run_id)
if view is None:
    st.error(f"Run {run_id} cannot be opened: its config.json is missing or unreadable.")
    st.stop()

# Another run than before: start at its last snapshot, with no point selected. (On the first
# visit, a snapshot or point already in the session, from a test or a link, is kept.)
prev = st.session_state.get("_explore_prev_run")
if prev != run_id:
    st.session_state["_explore_prev_run"] = run_id
    if prev is not None or "explore_index" not in st.session_state:
        st.session_state["explore_index"] = max(view.count - 1, 0)
    if prev is not None:
        st.session_state["explore_point"] = None
    st.session_state["explore_playing"] = False

row = by_id[run_id]
is_live = row["state"] in ACTIVE_STATES and run_id in mgr.live
with top[1]:
    follow = st.toggle("Follow training", value=True, key="explore_follow", disabled=not is_live,
                       help="While the run trains, jump to each new snapshot as it arrives.")
with top[2]:
    st.page_link(C.PAGES["train"], label="Train page", icon=":material/model_training:",
                 help="Start or control runs.")
if row["state"] in A.STATE_HELP:
    st.caption(f"This run is **{row['state']}**: {A.STATE_HELP[row['state']]}.")


# ================================================================== everything below follows the slider
def lens_runs() -> list[dict]:
    return [r for r in mgr.runs() if r["run_id"] != run_id]


def body() -> None:
    count = view.count
    if count == 0:
        st.info("This run has no snapshot yet: it is queued or has just started. This view "
                "refreshes by itself." if live_now() else
                "This run ended before its first snapshot; the Run tab below shows why.")
        if not live_now():
            run_tab(None, None)
        return
    playing = bool(st.session_state.get("explore_playing"))
    index = int(st.session_state.get("explore_index", count - 1))
    if playing:
        index += 1
        if index >= count:
            index = count - 1
            st.session_state["explore_playing"] = playing = False
            st.session_state["explore_index"] = index
            st.rerun(scope="app")  # stop the animation timer
    elif follow and live_now() and st.session_state.get("_explore_seen_count") != count:
        index = count - 1
    st.session_state["_explore_seen_count"] = count
    index = min(max(index, 0), count - 1)
    st.session_state["explore_index"] = index

    rows = view.rows()
    cur_row = rows[index] if index < len(rows) else None
    controls = st.columns([1, 8, 3], vertical_alignment="bottom")
    with controls[0]:
        if st.button("⏸ Pause" if playing else "▶ Play", key="explore_play",
                     help="Animate: step through the snapshots, every panel moving together."):
            st.session_state["explore_playing"] = not playing
            if not playing and index >= count - 1:
                st.session_state["explore_index"] = 0
            st.rerun(scope="app")
    with controls[1]:
        if count > 1:
            st.slider("Snapshot", 0, count - 1, key="explore_index",
                      help="Which snapshot (epoch) every panel shows. The slider counts snapshots, "
                           "not epochs: a method may save one per epoch or per clustering step.")
        else:
            st.caption("One snapshot so far.")
    index = int(st.session_state["explore_index"])
    snap = view.snapshot(index)
    cur_row = rows[index] if index < len(rows) else None
    with controls[2]:
        st.markdown(A.snapshot_label(cur_row, index, count))

    tabs = st.tabs(["Latent", "Lens", "Metrics", "Run"], key="explore_tab", on_change="rerun")
    with tabs[0]:
        if tabs[0].open is not False:
            latent_tab(snap, index, count)
    with tabs[1]:
        if tabs[1].open is not False:
            lens_tab(index)
    with tabs[2]:
        if tabs[2].open is not False:
            metrics_tab(rows, snap, index)
    with tabs[3]:
        if tabs[3].open is not False:
            run_tab(snap, index)


# ------------------------------------------------------------------ Latent
PROJECTIONS = ["Aligned PCA", "Method axes", "UMAP"]


def _pick_point():
    """The chart's click handler: the clicked point's customdata is its sample index."""
    state = st.session_state.get("explore_latent")
    points = []
    try:
        points = state["selection"]["points"]
    except (KeyError, TypeError):
        pass
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, dict) else None
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        try:
            st.session_state["explore_point"] = int(cd)
            return
        except (TypeError, ValueError):
            continue  # not a point of ours (or an unreadable one): ignore the click


def latent_tab(snap, index: int, count: int) -> None:
    extras_has_axes = method_axes(snap.extras) is not None
    last_has_axes = extras_has_axes or method_axes(view.snapshot(count - 1).extras) is not None
    options = [p for p in PROJECTIONS if p != "Method axes" or last_has_axes]
    if st.session_state.get("explore_projection") not in options:
        st.session_state["explore_projection"] = options[0]
    has_labels = view.labels_sub is not None
    colors = ["Cluster", "True label"] if has_labels else ["Cluster"]
    if st.session_state.get("explore_color") not in colors:
        st.session_state["explore_color"] = colors[0]
    c1, c2 = st.columns([3, 2])
    proj = c1.segmented_control(
        "Projection", options, key="explore_projection", required=True,
        help="Aligned PCA: the first two principal components, turned to match the previous "
             "snapshot so the picture does not flip. Method axes: the method's own coordinates "
             "(DEKM: eigen-directions of the within-cluster scatter; ACe/DeC: cluster dimension "
             "against the shared space). UMAP: a neighbourhood-preserving map, computed on "
             "demand for this snapshot in the background.")
    color_by = c2.segmented_control(
        "Colour", colors, key="explore_color", required=True,
        help="Cluster: the method's assignment at this snapshot. True label: the data's classes, "
             "which the method never sees.")

    key = (C.runs_root(), run_id)
    coords, axis_names, note = None, ("PC 1 (aligned)", "PC 2 (aligned)"), ""
    if proj == "Method axes":
        found = C.projections().method_axes(key, index, lambda i: view.snapshot(i).extras)
        if found is None:
            note = "This snapshot has no method axes (the method adds them in a later stage); showing aligned PCA."
        else:
            coords, axis_names = found
    elif proj == "UMAP":
        worker = C.umap_worker()
        ukey = (*key, index)
        status = worker.status(ukey)
        if status is None and not st.session_state.get("explore_playing"):
            init = worker.nearest_done(key, index)
            status = worker.request(ukey, snap.latent, seed=0, init=init)
        if status == "done":
            coords, axis_names = worker.result(ukey), ("UMAP 1", "UMAP 2")
        elif status == "failed":
            note = f"UMAP failed for this snapshot: {worker.error(ukey)}. Showing aligned PCA."
        elif status in ("queued", "running"):
            note = ("Computing UMAP for this snapshot… (the very first one takes a minute while "
                    "its code compiles; later ones take seconds). Showing aligned PCA meanwhile; "
                    "the picture switches by itself.")
            st.session_state["_explore_wait_umap"] = True
        else:
            note = "UMAP is computed for a snapshot you stop on; showing aligned PCA while playing."
    if coords is None:
        coords = C.projections().aligned_pca(key, index, lambda i: view.snapshot(i).latent)
        axis_names = ("PC 1 (aligned)", "PC 2 (aligned)")
    if note:
        st.caption(note)

    ds = view.dataset
    sub = view.subsample
    if color_by == "True label" and has_labels:
        color, names, ctitle = view.labels_sub, (ds.class_names if ds is not None else None), "true label"
    else:
        color, names, ctitle = snap.assign, None, "cluster"
    hover = {"cluster": snap.assign}
    if has_labels:
        lab = view.labels_sub
        hover["label"] = np.array([ds.label_name(v) for v in lab]) if ds is not None else lab
    pos_of = {int(s): i for i, s in enumerate(sub)}
    point = st.session_state.get("explore_point")
    pos = pos_of.get(int(point)) if point is not None else None
    nb_pos, nb_dist = (nearest_neighbors(snap.latent, pos, 8) if pos is not None else ([], []))

    left, right = st.columns([3, 2])
    with left:
        fig = latent_figure(coords, index=sub, color=color, color_names=names, color_title=ctitle,
                            extra_hover=hover, axis_names=axis_names, highlight=pos,
                            neighbors=nb_pos, uirevision=f"{run_id}:{proj}", height=560)
        st.plotly_chart(fig, key="explore_latent", on_select=_pick_point,
                        selection_mode="points", config={"displaylogo": False})
    with right:
        if st.session_state.get("explore_point_input") != point:
            st.session_state["explore_point_input"] = point
        st.number_input("Sample", min_value=0, max_value=int(sub.max()) if len(sub) else 0,
                        value=None, step=1, key="explore_point_input", placeholder="click a point, or type its number",
                        on_change=lambda: st.session_state.__setitem__(
                            "explore_point", st.session_state.get("explore_point_input")),
                        help="The selected point's sample number (its row in the data set). "
                             "Clicking a point in the scatter selects it too.")
        if pos is None:
            if point is not None:
                st.caption(f"Sample {point} is not among the {len(sub)} points this run "
                           "follows; pick another.")
            else:
                st.info("Click a point to see its image and its nearest neighbours in the latent "
                        "space (the full latent, not this 2-D picture).")
            return
        point_details(ds, sub, snap, pos, nb_pos, nb_dist)


def point_details(ds, sub, snap, pos, nb_pos, nb_dist) -> None:
    sample = int(sub[pos])
    labels = view.labels_sub

    def lab(p):
        if labels is None:
            return None
        return ds.label_name(labels[p]) if ds is not None else str(labels[p])

    st.markdown(f"**Sample {sample}** · cluster {int(snap.assign[pos])}"
                + (f" · true label {lab(pos)}" if labels is not None else ""))
    if ds is None:
        st.caption("The run's data set cannot be loaded here, so only its position is known.")
        return
    imgs = ds.images([sample] + [int(sub[p]) for p in nb_pos])
    if imgs is not None:
        st.image(A.upscale(imgs[0], 140), clamp=True, output_format="PNG",
                 caption=A.point_caption(sample, int(snap.assign[pos]), lab(pos)))
        st.markdown("Nearest neighbours in the latent space")
        for start in range(0, len(nb_pos), 4):
            cols = st.columns(4)
            for col, p, d, im in zip(cols, nb_pos[start:start + 4], nb_dist[start:start + 4],
                                     imgs[1 + start:5 + start]):
                col.image(A.upscale(im, 72), clamp=True, output_format="PNG",
                          caption=A.point_caption(int(sub[p]), int(snap.assign[p]), lab(p), d))
    else:
        x = ds.x[sample]
        st.caption(f"Vector data ({ds.dim} features): the point's first features")
        st.dataframe([{f"x{j}": round(float(v), 4) for j, v in enumerate(x[:12])}], hide_index=True)
        st.markdown("Nearest neighbours in the latent space")
        st.dataframe([{"sample": int(sub[p]), "cluster": int(snap.assign[p]),
                       "label": lab(p), "distance": round(float(d), 4)}
                      for p, d in zip(nb_pos, nb_dist)], hide_index=True)


# ------------------------------------------------------------------ Lens
def lens_tab(index: int) -> None:
    lens = get_lens(view.method_id)
    if lens is None:
        st.info(f"The method `{view.method_id}` has no lens of its own yet; the Latent and Metrics "
                "tabs show what every run has.")
        return
    st.markdown(f"#### {lens.title}")
    if lens.intro:
        st.caption(lens.intro)
    options = {}
    if lens.options:
        with st.container(border=True):
            options = C.render_lens_options(lens, f"lens:{view.method_id}", runs=lens_runs())
    with st.spinner("Drawing the views…"):
        panels = C.build_panels(lens, view, index, options)
    C.render_panels(panels, key_prefix=f"lens:{view.method_id}")


# ------------------------------------------------------------------ Metrics
def metrics_tab(rows, snap, index: int) -> None:
    st.markdown("**Losses**")
    st.plotly_chart(loss_figure(rows, current=index), key="explore_losses",
                    config={"displaylogo": False})
    st.markdown("**Metrics**")
    st.plotly_chart(metric_figure(rows, current=index), key="explore_metrics",
                    config={"displaylogo": False})
    st.caption("The black line is the snapshot the slider shows; dashed lines mark where a new "
               "stage of the method begins.")
    table = ([{"kind": "loss", "name": k, "value": format_number(v)} for k, v in snap.losses.items()]
             + [{"kind": "metric", "name": k, "value": format_number(v)} for k, v in snap.metrics.items()]
             + [{"kind": "extra", "name": k, "value": format_number(v)} for k, v in snap.extras.items()
                if isinstance(v, (int, float, str)) or np.ndim(v) == 0])
    sizes = np.bincount(np.asarray(snap.assign, dtype=np.int64))
    table.append({"kind": "clusters", "name": "sizes (followed points)",
                  "value": ", ".join(str(int(s)) for s in sizes)})
    st.markdown(f"**This snapshot** (epoch {snap.epoch}, {snap.stage})")
    st.dataframe(table, hide_index=True)


# ------------------------------------------------------------------ Run
def run_tab(snap, index) -> None:
    status = view.status
    state = status.get("state", "unknown")
    cfg = view.config
    st.markdown(f"**State:** {A.STATE_ICONS.get(state, '')} {state}"
                + (f" · {A.format_seconds(status.get('seconds'))}" if status.get("seconds") else ""))
    if state == "failed":
        st.error(f"The run failed: {status.get('error') or 'no message was recorded'}")
    elif state in A.STATE_HELP:
        st.caption(A.STATE_HELP[state])
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**Method and config**")
        st.caption(f"{cfg.get('method_title') or cfg['method']} · preset {cfg.get('preset', '?')} · "
                   f"seed {cfg.get('seed', '?')}")
        st.json(cfg.get("config", {}), expanded=True)
    with c2:
        st.markdown("**Data**")
        st.caption(f"{cfg.get('data_name', '?')}: {cfg.get('n_samples', '?')} points, "
                   f"{cfg.get('input_dim', '?')} features"
                   + (f", images {cfg['image_shape']}" if cfg.get("image_shape") else ""))
        st.json(cfg.get("data", {}), expanded=True)
        st.markdown("**Versions**")
        st.dataframe([{"package": k, "version": v} for k, v in (cfg.get("versions") or {}).items()],
                     hide_index=True)
    st.markdown("**Files**")
    st.caption(f"`{view.rd.path}`")
    st.dataframe(A.run_files(view.rd.path), hide_index=True)
    st.markdown("**Export and manage**")  # widgets of run_actions.py (issue 7)
    R.export_buttons(view, index, key="explore_export")
    R.manage_panel(view, key="explore_manage")


# ================================================================== refresh: play, live runs, UMAP
def live_now() -> bool:
    return run_id in mgr.live and mgr.state(run_id) in ACTIVE_STATES


def needs_polling() -> bool:
    """Rerun the view by itself while playing, while the run trains, or while UMAP computes."""
    return bool(st.session_state.get("explore_playing") or live_now()
                or st.session_state.get("_explore_wait_umap"))


def view_fragment(polling: bool) -> None:
    st.session_state["_explore_wait_umap"] = False
    body()
    if needs_polling() != polling:
        st.rerun(scope="app")  # start or stop the timer


polling = needs_polling()
interval = (0.8 if st.session_state.get("explore_playing") else 1.5) if polling else None
st.fragment(run_every=interval)(view_fragment)(polling)
