"""Train: choose data, method and config in the sidebar, launch, and watch the runs in flight.

The live part is a fragment that reruns every second while a run is active: it only reads what
the run threads wrote (RunManager.live and the run folder). The one wait: right after Launch
it polls up to 0.9 s for the first snapshot, so the first picture is not a polling interval late.
"""
from __future__ import annotations

import time

import streamlit as st

import app_common as C
from dcviz import appstate as A
from dcviz import data as D
from dcviz.methods import ConfigError, get_method
from dcviz.viz import get_lens
from dcviz.viz.common import empty_figure, latent_figure, loss_figure, progress_text

C.require_app("train")

st.title("Train")
st.caption("Pick data and a method in the sidebar, then Launch. Runs train in the background: "
           "leave this page and come back, they keep going.")
messages = st.container()  # launch errors show here, above everything else

# =========================================================================== sidebar: data
side = st.sidebar
side.header("New run")
datasets = D.list_datasets()
entries = {d["id"]: d for d in datasets}
groups = A.data_groups(datasets)
SOURCES = ["Built in", "Download", "Upload"]
source = side.segmented_control(
    "Data", SOURCES, default="Built in", required=True, key="train_source",
    persist_state="session",
    help="Built in: small sets that work offline, including the synthetic sets from the papers. "
         "Download: MNIST, Fashion-MNIST, USPS (fetched once, then cached). Upload: your own "
         "file (.npz, .npy, .csv, MNIST IDX, or a .zip of an image folder with one sub-folder "
         "per class).")

spec = None          # what the run will load
dataset = None       # loaded here when cheap, for its size and class count
entry = None
if source == "Upload":
    up = side.file_uploader(
        "Your data file", key="train_upload",
        help="Features as rows (N, D) or images (N, H, W[, C]); labels are optional (a 'y' array "
             "in an .npz, or a label column in a .csv). Files are checked before use.")
    if up is not None:
        upload_key = f"{up.name}:{up.size}:{getattr(up, 'file_id', '')}"
        if st.session_state.get("_upload_key") != upload_key:
            st.session_state["_upload_key"] = upload_key
            st.session_state.pop("_upload_spec", None)
            st.session_state.pop("_upload_error", None)
            try:
                st.session_state["_upload_spec"] = D.save_upload(up.name, up.getvalue())
            except (D.DataError, ValueError, OSError) as e:
                st.session_state["_upload_error"] = C.error_text(e)
        if st.session_state.get("_upload_error"):
            side.error(st.session_state["_upload_error"])
        spec = st.session_state.get("_upload_spec")
    else:
        side.caption("No file yet. The file stays on this machine, in dcviz's data folder.")
else:
    kinds = ("built-in", "synthetic") if source == "Built in" else ("download",)
    ids = [d["id"] for k in kinds for d in groups.get(k, [])]
    data_id = side.selectbox(
        "Data set", ids, key=f"train_data_{source}", persist_state="session",
        format_func=lambda i: f"{entries[i]['title']}  ({entries[i]['size']})",
        help="Each method's paper has a small data set it suits; the Home page's cards launch "
             "each method on it.")
    entry = entries[data_id]
    side.caption(entry["description"] + (f" Suits: {', '.join(entry['suits'])}." if entry.get("suits") else ""))
    opts = {}
    opt_specs = A.data_option_specs(entry)
    if opt_specs:
        with side.expander("Data options"):
            for s in opt_specs:
                key = f"train_dopt:{data_id}:{s.name}"
                if s.kind == "int":
                    opts[s.name] = st.number_input(s.label, value=s.default, min_value=s.min,
                                                   max_value=s.max, step=1, key=key, help=s.help,
                                                   persist_state="session")
                elif s.kind == "float":
                    opts[s.name] = st.number_input(s.label, value=s.default, min_value=s.min,
                                                   max_value=s.max, step=s.step, format=s.format,
                                                   key=key, help=s.help, persist_state="session")
                elif s.kind == "select":
                    opts[s.name] = st.selectbox(s.label, s.choices, index=s.choices.index(s.default)
                                                if s.default in s.choices else 0, key=key,
                                                help=s.help, persist_state="session")
    spec = A.data_spec(data_id, opts, entry)
    if entry["kind"] == "download":
        side.caption(f"Downloaded when you press Launch (first time only), then cached in "
                     f"`{D.data_dir()}`.")

if spec is not None and (source == "Upload" or (entry and entry["kind"] != "download")):
    try:
        dataset = D.load(spec)
        side.caption(f"✔ {dataset.summary()}")
    except (D.DataError, ValueError, OSError) as e:
        side.error(C.error_text(e))
        dataset = None

# =========================================================================== sidebar: method
methods = C.registered_methods()
titles = {m["id"]: m for m in methods}
method_ids = [m["id"] for m in methods]
if not method_ids:
    side.error("No clustering method is installed.")
    st.stop()
if st.session_state.get("train_method") not in method_ids:
    st.session_state.pop("train_method", None)
method = side.selectbox(
    "Method", method_ids, index=method_ids.index("dekm") if "dekm" in method_ids else 0,
    key="train_method", persist_state="session", format_func=lambda i: titles[i]["title"],
    help="The deep clustering method to train. Each follows its paper; the Explore page shows "
         "the views the paper uses.")
side.caption(f"{titles[method]['summary']}  \n*{titles[method]['paper']}*")
cls = get_method(method)
presets = [p for p in ("quick", "paper") if p in cls.Config.presets] or list(cls.Config.presets)
preset = side.segmented_control(
    "Preset", presets, default=presets[0], required=True, key=f"train_preset_{method}",
    persist_state="session",
    help="quick: small settings that finish the default data in about a minute on a laptop CPU. "
         "paper: the settings of the paper (much longer). Every field below can still be changed.")

k_default = A.guess_k(dataset) if dataset is not None else (10 if entry and entry["kind"] == "download" else None)
specs = A.widget_specs(cls.Config, preset, {"n_clusters": k_default} if k_default else None)
data_key = str(spec)


def draw(s: A.WidgetSpec):
    key = f"cfg:{method}:{preset}:{s.name}" + (f":{data_key}" if s.name == "n_clusters" else "")
    common = dict(key=key, help=s.help, persist_state="session")
    if s.kind == "bool":
        return st.toggle(s.label, value=bool(s.default), **common)
    if s.kind == "select":
        return st.selectbox(s.label, s.choices, index=s.choices.index(s.default), **common)
    if s.kind == "int":
        return st.number_input(s.label, value=int(s.default), min_value=s.min, max_value=s.max,
                               step=int(s.step or 1), **common)
    if s.kind == "float":
        return st.number_input(s.label, value=float(s.default), min_value=s.min, max_value=s.max,
                               step=s.step, format=s.format, **common)
    return st.text_input(s.label, value=str(s.initial()), **common)


with side.form("train_form", border=False):
    values = {}
    for s in specs:
        if not s.advanced:
            values[s.name] = draw(s)
    advanced = [s for s in specs if s.advanced]
    if advanced:
        with st.expander("Advanced"):
            for s in advanced:
                values[s.name] = draw(s)
    run_name = st.text_input("Run name (optional)", key="train_run_name", max_chars=80,
                             persist_state="session",
                             help="A name to find this run by later; the run id is used otherwise.")
    submitted = st.form_submit_button("Launch", type="primary", width="stretch",
                                      help="Start training in the background with these settings.")

if submitted:
    if spec is None:
        messages.error("Choose a data set first: upload a file, or pick a built-in one.")
    else:
        try:
            config = A.read_form(specs, values)
        except ConfigError as e:
            messages.error(f"Could not launch: {C.error_text(e)}")
        else:
            with st.spinner("Loading the data…" if entry is None or entry["kind"] != "download"
                            else "Downloading the data (first time only)…"):
                try:
                    run_id = C.manager().launch(method, spec, config, preset, name=run_name or "")
                except (D.DataError, ConfigError, ValueError, KeyError, OSError) as e:
                    messages.error(f"Could not launch: {C.error_text(e)}")
                    run_id = None
            if run_id:
                st.session_state["train_focus"] = run_id
                messages.success(f"Launched {run_id}.")

# =========================================================================== main: runs in flight
mgr = C.manager()
focus = st.session_state.get("train_focus")
if focus and C.run_view(focus) is None:
    focus = st.session_state["train_focus"] = None
active_ids = [r.run_id for r in mgr.active()]

if not active_ids and not focus:
    st.info("Nothing is training. Choose data and a method in the sidebar and press **Launch**, "
            "or start the default run:")
    C.default_run_button("train_default")
    st.stop()


def control(action, run_id: str) -> None:
    """Pause, resume or stop a run (a button callback); a run that has just ended is fine."""
    try:
        action(run_id)
    except KeyError:
        pass


def run_card(run_id: str, is_focus: bool) -> None:
    live = mgr.live.get(run_id)
    view = C.run_view(run_id)
    if view is None:
        return
    status = view.status
    state = live.state if live else status.get("state", "unknown")
    count = max(live.count if live else 0, view.count)
    rows = view.rows()
    row = rows[-1] if rows else None
    progress = live.progress if live else (1.0 if state == "done" else (row or {}).get("progress", 0.0))
    cfg = view.config
    title = f"{A.STATE_ICONS.get(state, '')} **{cfg.get('method_title') or cfg['method']}** on **{cfg.get('data_name', '?')}**"
    if cfg.get("name"):
        title += f" · {cfg['name']}"
    with st.container(border=True):
        left, right = st.columns([5, 3], vertical_alignment="center")
        with left:
            st.markdown(title + (" · *in focus*" if is_focus else ""))
            st.progress(min(max(float(progress or 0.0), 0.0), 1.0),
                        text=progress_text(state, row, count, progress))
            if state == "failed":
                st.error(f"This run failed: {status.get('error') or live and live.error or 'no message'}")
        with right:
            # Callbacks act before the redraw, so the card shows the new state at once.
            b = st.columns(4)
            if live is not None and state in ("queued", "running"):
                b[0].button("Pause", key=f"pause_{run_id}", on_click=control, args=(mgr.pause, run_id),
                            help="Pause training after the current batch.")
            elif live is not None and state == "paused":
                b[0].button("Resume", key=f"resume_{run_id}", on_click=control,
                            args=(mgr.resume, run_id), help="Carry on training from where it paused.")
            if live is not None and state in ("queued", "running", "paused"):
                b[1].button("Stop", key=f"stop_{run_id}", on_click=control, args=(mgr.stop, run_id),
                            help="Stop for good: the run keeps its snapshots and a checkpoint.")
            if not is_focus:
                b[2].button("Watch", key=f"focus_{run_id}", on_click=st.session_state.__setitem__,
                            args=("train_focus", run_id), help="Show this run's live views below.")
            with b[3]:
                st.page_link(C.PAGES["explore"], label="Explore", query_params={"run": run_id},
                             help="Open this run on the Explore page (scrub epochs, click points).")


def live_lens_panel(view, index: int):
    """The method's most telling live view (see appstate.pick_live_panel); rebuilt only when a
    new snapshot arrives."""
    lens = get_lens(view.method_id)
    if lens is None:
        return None, None
    cached = st.session_state.get("_train_lens")
    if cached and cached[0] == (view.run_id, index):
        return lens, cached[1]
    panels = C.build_panels(lens, view, index)
    panel = A.pick_live_panel(view.method_id, panels, getattr(lens, "live", None))
    st.session_state["_train_lens"] = ((view.run_id, index), panel)
    return lens, panel


def focus_panels(run_id: str) -> None:
    view = C.run_view(run_id)
    if view is None:
        return
    count = view.count
    live = mgr.live.get(run_id)
    if count == 0 and live is not None and live.state == "running":
        # The first snapshot comes a second or two after Launch: wait for it here, briefly,
        # rather than a whole polling interval, so the first picture shows as soon as it exists.
        end = time.monotonic() + 0.9
        while live.count == 0 and time.monotonic() < end:
            time.sleep(0.05)
        count = view.count
    st.subheader("Live view" if run_id in active_ids else "Last snapshot")
    if count == 0:
        # Placeholders under the same keys: the browser loads the plotting code meanwhile, and
        # the first snapshot replaces them in place.
        st.info("Waiting for the first snapshot… it comes within a few seconds of the start.")
        left, right = st.columns([3, 2])
        left.plotly_chart(empty_figure("waiting for the first snapshot…"), key="train_latent",
                          config={"displaylogo": False})
        right.plotly_chart(empty_figure("losses appear here", 300), key="train_losses",
                           config={"displaylogo": False})
        return
    index = count - 1
    snap = view.snapshot(index)
    rows = view.rows()
    m = snap.metrics
    cols = st.columns(5)
    cols[0].metric("stage", snap.stage, help="The part of the method's schedule the run is in.")
    cols[1].metric("epoch", snap.epoch, help="Epoch (or clustering iteration) of the latest snapshot.")
    for col, key in zip(cols[2:], ("acc", "nmi", "ari")):
        col.metric(key.upper(), f"{m[key]:.3f}" if key in m else "–",
                   help={"acc": "Accuracy after the best matching of clusters to classes (Hungarian).",
                         "nmi": "Normalised mutual information between clusters and true classes.",
                         "ari": "Adjusted Rand index: agreement of pairs, 0 for chance."}[key])
    left, right = st.columns([3, 2])
    with left:
        has_labels = view.labels_sub is not None
        color_by = st.radio("Colour by", ["cluster", "true label"] if has_labels else ["cluster"],
                            horizontal=True, key="train_color",
                            help="Colour points by the cluster the method assigns, or by their "
                                 "true class (never seen by the method).")
        coords = C.projections().aligned_pca((C.runs_root(), run_id), index,
                                             lambda i: view.snapshot(i).latent)
        ds = view.dataset
        if color_by == "true label" and has_labels:
            color, names = view.labels_sub, (ds.class_names if ds is not None else None)
        else:
            color, names = snap.assign, None
        fig = latent_figure(coords, index=view.subsample, color=color, color_names=names,
                            color_title=color_by, axis_names=("PC 1 (aligned)", "PC 2 (aligned)"),
                            uirevision=f"{run_id}:{color_by}", height=460)
        st.plotly_chart(fig, key="train_latent", config={"displaylogo": False})
        st.caption("The latent space of a fixed sample of points, projected with PCA and turned to "
                   "match the previous snapshot, so that what moves is the data, not the axes.")
    with right:
        st.plotly_chart(loss_figure(rows, ncols=1), key="train_losses", config={"displaylogo": False})
    lens, panel = live_lens_panel(view, index)
    if panel is not None:
        st.markdown(f"#### {lens.title}")
        C.render_panel(panel, key="train_lens")


def live_area(polling: bool) -> None:
    active_now = [r.run_id for r in mgr.active()]
    if polling and not active_now:
        st.rerun(scope="app")  # the last run ended: redraw once, then stop polling
    focus_now = st.session_state.get("train_focus") or (active_now[0] if active_now else None)
    listed = list(dict.fromkeys(active_now + ([focus_now] if focus_now else [])))
    if active_now:
        st.subheader("Runs in flight")
    for rid in listed:
        run_card(rid, rid == focus_now)
    if focus_now:
        focus_panels(focus_now)


polling = bool(active_ids)
st.fragment(run_every=1.0 if polling else None)(live_area)(polling)
