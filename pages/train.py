"""Train: choose data, method and config in the sidebar, launch, and watch the runs in flight.

The live part is a fragment that redraws itself every second while a run is active (ui.player
.timer): it only reads what the run threads wrote (RunManager.live and the run folder). The one
wait: right after Launch it polls up to 0.9 s for the first snapshot, so the first picture is
not a polling interval late.
"""
from __future__ import annotations

import time
from html import escape

import streamlit as st

from dcviz import data as D
from dcviz import forms as F
from dcviz.methods import REGISTRY, ConfigError, default_run
from dcviz.plaintext import error_text, md
from dcviz.runs.eta import compare_note, duration_note, expected_from_store, live_left
from dcviz.runs.labels import STATE_ICONS, data_title, format_time, last_ended
from dcviz.viz import get_lens
from dcviz.viz.common import empty_figure, latent_figure, loss_figure, progress_text
from ui import nav
from ui.fields import field, fields
from ui.launch import compare_methods, default_run_button, form_shows, launch
from ui.panels import live_panel, render_panel
from ui.pickers import colour_picker, colours
from ui.player import timer
from ui.run_actions import resume_control
from ui.shared import aligned_pca, manager, run_view
from ui.store import pretrain_line

nav.require_app("train")
side = st.sidebar


# =========================================================================== sidebar: data
SOURCES = ["Built in", "Download", "Upload"]


def choose_data():
    """The data of the next run: (spec to launch, its list_datasets entry or None for an
    upload, the loaded data set when loading it is cheap, else None)."""
    side.header("New run")
    # the first choice through the state, not default=: Home's buttons set it too (form_shows),
    # and a widget given both logs Streamlit's warning
    if st.session_state.get("train_source") not in SOURCES:
        st.session_state["train_source"] = SOURCES[0]
    source = side.segmented_control(
        "Data", SOURCES, required=True, key="train_source",
        persist_state="session",
        help="Built in: small sets that work offline, including the synthetic sets from the "
             "papers. Download: MNIST, Fashion-MNIST, USPS (fetched once, then cached). Upload: "
             "your own file (.npz, .npy, .csv, MNIST IDX, or a .zip of an image folder with one "
             "sub-folder per class). For MNIST IDX with labels, upload a .zip of the images "
             "and labels files.")
    spec, entry = (uploaded(), None) if source == "Upload" else built_in(source)
    dataset = None
    if spec is not None and (entry is None or entry["kind"] != "download"):
        try:
            dataset = D.load(spec)
            # the data set's title is in the menu above: its size and kind only
            side.caption(f"✔ {md(dataset.summary().split(': ', 1)[-1])}")
        except (D.DataError, ValueError, OSError) as e:
            side.error(md(error_text(e)))
    return spec, entry, dataset


def uploaded():
    """The spec of the user's file, saved once per file; None until there is a good one."""
    up = side.file_uploader(
        "Your data file", key="train_upload",
        help="Features as rows (N, D) or images (N, H, W[, C]); labels are optional (a 'y' array "
             "in an .npz, or a label column in a .csv). Files are checked before use.")
    if up is None:
        side.caption("No file yet. The file stays on this machine, in dcviz's data folder.")
        return None
    state = st.session_state
    key = f"{up.name}:{up.size}:{getattr(up, 'file_id', '')}"
    if state.get("_upload_key") != key:
        state["_upload_key"] = key
        state.pop("_upload_spec", None)
        state.pop("_upload_error", None)
        try:
            state["_upload_spec"] = D.save_upload(up.name, up.getvalue())
        except (D.DataError, ValueError, OSError) as e:
            state["_upload_error"] = error_text(e)
    if state.get("_upload_error"):
        side.error(md(state["_upload_error"]))
    return state.get("_upload_spec")


def refused_upload() -> str | None:
    """The name of the file in the upload box when it was refused (uploaded() said why under
    the box), else None: Launch must not then ask for a data set as if none had been given."""
    state = st.session_state
    up = state.get("train_upload")
    if state.get("train_source") == "Upload" and up is not None and state.get("_upload_error"):
        return str(getattr(up, "name", "") or "")
    return None


def use_paper_data() -> None:
    """When the method changes (a callback, before the page reruns): preselect the data set of
    its paper, as its Home card's Try-it does, so that ACe/DeC comes with its objects and not
    with whatever was chosen before; a baseline (no card, no try_it) gets the first built-in
    data set it suits (F.paper_data). A user's own file is never replaced."""
    state = st.session_state
    cls = REGISTRY.get(state.get("train_method"))
    data = F.paper_data(cls) if cls is not None else ""
    if data and state.get("train_source") != "Upload":
        form_shows(data)


def built_in(source: str):
    """A built-in or downloadable data set and its options: (spec, entry)."""
    datasets = D.list_datasets()
    entries = {d["id"]: d for d in datasets}
    groups = F.data_groups(datasets)
    kinds = ("built-in", "synthetic") if source == "Built in" else ("download",)
    key = f"train_data_{source}"
    if key not in st.session_state:  # the first visit: the data of the method shown first
        first = REGISTRY.get(st.session_state.get("train_method") or (default_run() or ("",))[0])
        data = F.paper_data(first) if first is not None else ""
        if data and F.data_source(data) == source:
            st.session_state[key] = data
    data_id = side.selectbox(
        "Data set", [d["id"] for k in kinds for d in groups.get(k, [])],
        key=key, persist_state="session",
        # the title only: with its size too, the sidebar's box cut it ("…8x8 gr"); the caption
        # and the loaded set's line below say the size
        format_func=lambda i: entries[i]["title"],
        help="Each method's paper has a small data set it suits: choosing the method below "
             "preselects it (and the Home page's cards launch each method on it).")
    entry = entries[data_id]
    side.caption(F.data_caption(entry, REGISTRY, st.session_state.get("train_method")))
    options = F.data_option_fields(entry)
    values = {}
    if options:
        with side.expander("Data options"):
            values = fields(options, lambda f: f"train_dopt:{data_id}:{f.name}")
    if entry["kind"] == "download":
        side.caption(f"Downloaded when you press Launch (first time only), then cached in "
                     f"{md(D.data_dir())}.")
    return F.data_spec(data_id, values, entry), entry


# =========================================================================== sidebar: method
def paper_data_note(cls, data_id: str | None) -> None:
    """Say whether the chosen data is the method's paper data set, or one it was not made for."""
    paper = F.paper_data(cls)
    if data_id is None or not (paper or cls.suits):
        return
    if data_id == paper:
        side.caption(f"Data: {md(data_title(data_id))}, preselected: the built-in data set "
                     "closest to its paper's.")
    elif cls.suits and data_id not in cls.suits:
        instead = (f"the built-in data set closest to its paper's is {md(data_title(paper))}"
                   if paper else "it suits " + ", ".join(md(data_title(d)) for d in cls.suits))
        side.warning(f"{md(cls.title)} was not made for {md(data_title(data_id))}; {instead}.",
                     icon=":material/info:")


def choose_method(data_id: str | None = None):
    """The method (any registered one) and its preset: (method class, preset)."""
    ids = list(REGISTRY)
    if not ids:
        side.error("No clustering method is installed.")
        st.stop()
    if st.session_state.get("train_method") not in ids:  # the first choice, as train_source's
        st.session_state["train_method"] = (default_run() or (ids[0],))[0]
    method = side.selectbox(
        "Method", ids, key="train_method", persist_state="session",
        format_func=lambda i: REGISTRY[i].title, on_change=use_paper_data,
        help="The deep clustering method to train. Each follows its paper; the Explore page shows "
             "the views the paper uses. Choosing one preselects the built-in data set closest to "
             "its paper's.")
    cls = REGISTRY[method]
    side.caption(f"{cls.summary}  \n*{cls.paper}*")
    paper_data_note(cls, data_id)
    # quick first, paper last, any method-specific preset (the GAN's demo) in between
    order = {"quick": 0, "paper": 2}
    presets = sorted(cls.Config.presets, key=lambda p: order.get(p, 1))
    if st.session_state.get(f"train_preset_{method}") not in presets:  # as train_source's
        st.session_state[f"train_preset_{method}"] = presets[0]
    preset = side.segmented_control(
        "Preset", presets, required=True, key=f"train_preset_{method}",
        persist_state="session",
        help=preset_help(cls))
    return cls, preset


def preset_help(cls) -> str:
    """The Preset control's help: what each preset of this method is, with the time its quick
    preset took where it was measured (Method.quick_time, from the command line on a 2-core
    machine: python -m dcviz train --data digits --preset quick, an empty pretrained-AE store)."""
    quick = "quick: small settings for a CPU."
    if cls.quick_time:
        quick += (f" On the digits, on an idle 2-core CPU, {cls.title}'s took {cls.quick_time} "
                  "(pretraining included); a busy machine can take several times as long, and "
                  "the note below says what runs took on this one.")
    own = " ".join(f"{name}: {note}" for name, note in cls.preset_notes.items())
    return " ".join(part for part in (
        quick, "paper: the settings of the paper (hours on a CPU).", own,
        "Every field below can still be changed.") if part)


def expected_duration_note(cls, preset: str, dataset, runs: list[dict]) -> None:
    """How long this method took on this data before, here (from finished runs in the store)."""
    if dataset is None:
        return
    exp = expected_from_store(runs, manager().open, cls.id, dataset.name, preset)
    text, warn = duration_note(exp, f"{cls.title} on {data_title(dataset.name)} ({preset} preset)",
                               preset)
    if warn:
        side.warning(md(text), icon=":material/schedule:")
    else:
        side.caption(md(text))


def config_form(cls, preset: str, spec, entry, dataset):
    """The config fields (k from the data), a run name and Launch: (fields, values, name,
    pressed, the place under Launch for what is wrong with the form). The number boxes have no
    bounds of their own: a bounded box holding a bad value makes the browser refuse Launch
    without a word, so the page checks the values and says which field is wrong instead."""
    download = entry is not None and entry["kind"] == "download"
    k = F.guess_k(dataset) if dataset is not None else (10 if download else None)
    fs = F.config_fields(cls.Config, preset, {"n_clusters": k} if k else None)

    def key(f):  # k is per data set: another data set starts from its own number of classes
        return f"cfg:{cls.id}:{preset}:{f.name}" + (f":{spec}" if f.name == "n_clusters" else "")

    with side.form("train_form", border=False):
        values = {f.name: field(f, key(f), bounded=False) for f in fs if not f.advanced}
        if any(f.advanced for f in fs):
            with st.expander("Advanced"):
                values.update(fields([f for f in fs if f.advanced], key, bounded=False))
        name = st.text_input("Run name (optional)", key="train_run_name", max_chars=80,
                             persist_state="session",
                             help="A name to find this run by later; the run id is used otherwise.")
        pressed = st.form_submit_button("Launch", type="primary", width="stretch",
                                        help="Start training in the background with these settings.")
        feedback = st.container()  # why Launch started nothing, right under the button
    return fs, values, name, pressed, feedback


def launch_from_form(cls, preset, spec, entry, fs, values, name, feedback, where) -> None:
    """Launch the form's run; what stops it is said in ``feedback`` (under the button), the
    launch itself in ``where``."""
    if spec is None:
        refused = refused_upload()
        if refused is None:
            feedback.error("Choose a data set first: upload a file, or pick a built-in one.")
        else:
            feedback.error(f"Not launched: your file{' ' + md(refused) if refused else ''} was "
                           "refused (the message under the file box says why). Upload a "
                           "corrected file, or pick a built-in data set.")
        return
    try:
        config = F.read_form(fs, values)
    except ConfigError as e:
        feedback.error(f"Not launched: {md(error_text(e))}")
        return
    download = entry is not None and entry["kind"] == "download"
    with st.spinner("Downloading the data (first time only)…" if download else "Loading the data…"):
        run_id = launch(cls.id, spec, config, preset, where=feedback, name=name or "")
    if run_id:
        st.session_state["train_focus"] = run_id
        where.success(f"Launched {run_id}.")


def compare_form(cls, preset: str, spec, dataset, where) -> None:
    """Compare methods: the picked methods on this data set over 3 seeds, as a sweep."""
    with side.expander("Compare methods"):
        ids = list(REGISTRY)
        # the picks start at the method above and follow it while they are that method alone
        # (with a key the box kept the method of the first visit after Method changed)
        state = st.session_state
        before = state.get("_train_compare_for")
        if before != cls.id and state.get("train_compare_methods") == [before]:
            state["train_compare_methods"] = [cls.id]
        state["_train_compare_for"] = cls.id
        picked = st.multiselect(
            "Methods to compare", ids, default=[cls.id], key="train_compare_methods",
            format_func=lambda i: REGISTRY[i].title,
            help="Each runs on the data above with its own preset settings, seeds 0, 1 and 2, "
                 "queued with your other runs. The result opens as a table on the Sweeps page.")
        if len(picked) >= 2:
            text, warn = compare_note(picked, preset)
            (st.warning(text, icon=":material/schedule:") if warn else st.caption(text))
        if st.button("Compare methods", key="train_compare", disabled=len(picked) < 2 or spec is None,
                     help="Train every picked method over 3 seeds and show the median, min and "
                          "max of each score, a dot per seed."):
            label = dataset.name if dataset is not None else str(spec)
            sweep_id = compare_methods(picked, spec, label, preset, where=where)
            if sweep_id:
                st.switch_page(nav.PAGES["sweeps"], query_params={"sweep": sweep_id})


# =========================================================================== main: runs in flight
def control(action, run_id: str) -> None:
    """Pause, resume or stop a run (a button callback); a run that has just ended is fine."""
    try:
        action(run_id)
    except KeyError:
        pass


def run_card(run_id: str, is_focus: bool) -> None:
    """A run's status line, progress bar and its pause / resume / stop / watch buttons."""
    mgr, view = manager(), run_view(run_id)
    if view is None:
        return
    live, status, cfg, rows = mgr.live.get(run_id), view.status, view.config, view.rows()
    state = live.state if live else status.get("state", "unknown")
    row = rows[-1] if rows else None
    progress = live.progress if live else (1.0 if state == "done" else (row or {}).get("progress", 0.0))
    title = (f"{STATE_ICONS.get(state, '')} **{md(cfg.get('method_title') or cfg['method'])}** "
             f"on **{md(data_title(cfg.get('data_name', '?')))}**")
    title += (f" · {md(cfg['name'])}" if cfg.get("name") else "") + (" · *in focus*" if is_focus else "")
    with st.container(border=True):
        left, right = st.columns([9, 7], vertical_alignment="center")
        left.markdown(title)
        left_s = (live_left(rows, status, time.time(), earlier_runs(run_id, cfg))
                  if state == "running" else "")
        left.progress(min(max(float(progress or 0.0), 0.0), 1.0),
                      text=progress_text(state, row, max(live.count if live else 0, view.count), progress)
                      + (f" · {left_s}" if left_s else ""))
        if state == "failed":
            error = status.get("error") or (live and live.error) or "no message"
            left.error(f"This run failed: {md(error)}")
        # Callbacks act before the redraw, so the card shows the new state at once.
        # A row that sizes each control to its label and wraps when the column is narrow (five
        # fixed columns cut "Pause" to "Pa…" at 1,400 px).
        b = right.container(horizontal=True, vertical_alignment="center", gap="small")
        if live is not None and state in ("queued", "running"):
            b.button("Pause", key=f"pause_{run_id}", on_click=control, args=(mgr.pause, run_id),
                        help="Pause training after the current batch.")
        elif live is not None and state == "paused":
            b.button("Resume", key=f"resume_{run_id}", on_click=control,
                        args=(mgr.resume, run_id), help="Carry on training from where it paused.")
        if live is not None and state in ("queued", "running", "paused"):
            b.button("Stop", key=f"stop_{run_id}", on_click=control, args=(mgr.stop, run_id),
                        help="Stop for good: the run keeps its snapshots and a checkpoint.")
        if not is_focus:
            b.button("Watch", key=f"focus_{run_id}", on_click=st.session_state.__setitem__,
                        args=("train_focus", run_id), help="Show this run's live views below.")
        with b:
            st.page_link(nav.PAGES["explore"], label="Explore", query_params={"run": run_id},
                         help="Open this run on the Explore page (scrub epochs, click points).")
        nav.present_link(run_id, where=b)


def earlier_runs(run_id: str, cfg: dict):
    """How long the earlier finished runs of this run's method, data and preset took here (the
    card's time left until the run's own speed is known); worked out once per run."""
    cache = st.session_state.setdefault("_train_expected", {})
    if run_id not in cache:
        mgr = manager()
        # runs with this run's own settings: its preset's may be far longer or shorter
        cache[run_id] = expected_from_store(mgr.runs(), mgr.open, cfg.get("method", ""),
                                            cfg.get("data_name", ""), cfg.get("preset"),
                                            settings=cfg.get("config"))
    return cache[run_id]


def first_snapshot(view, run_id: str) -> int:
    """The run's snapshot count; right after Launch, wait briefly for the first snapshot (it
    comes a second or two after the start) rather than a whole polling interval."""
    live = manager().live.get(run_id)
    if view.count == 0 and live is not None and live.state == "running":
        end = time.monotonic() + 0.9
        while live.count == 0 and time.monotonic() < end:
            time.sleep(0.05)
    return view.count


def waiting() -> None:
    """Placeholders under the same keys as the live charts: the browser loads the plotting code
    meanwhile, and the first snapshot replaces them in place."""
    st.info("Waiting for the first snapshot… it comes within a few seconds of the start.")
    left, right = st.columns([3, 2])
    left.plotly_chart(empty_figure("waiting for the first snapshot…"), key="train_latent",
                      config={"displaylogo": False})
    right.plotly_chart(empty_figure("losses appear here", 300), key="train_losses",
                       config={"displaylogo": False})


METRIC_HELP = {"acc": "Accuracy after the best matching of clusters to classes (Hungarian).",
               "nmi": "Normalised mutual information between clusters and true classes.",
               "ari": "Adjusted Rand index: agreement of pairs, 0 for chance."}


def focus_panels(run_id: str, active: bool) -> None:
    """The run in focus: its numbers, latent scatter, losses and its lens's live panel."""
    view = run_view(run_id)
    if view is None:
        return
    count = first_snapshot(view, run_id)
    if count == 0 and not active:  # failed, stopped or cut off: no snapshot is coming
        st.info("This run ended before its first snapshot; its card above says how, and the "
                "Run tab on Explore says why. Launch another run from the sidebar.")
        return
    st.subheader("Live view" if active else "Last snapshot")
    if count == 0:
        waiting()
        return
    index = count - 1
    snap = view.snapshot(index)
    # The stage as text that wraps: a metric tile cut names short ("stage 3: s…").
    cols = st.columns([2, 1, 1, 1, 1])
    cols[0].markdown(f"<div class='dcviz-stage-label'>stage</div><div class='dcviz-stage'>"
                     f"{escape(snap.stage)}</div>", unsafe_allow_html=True, width="content",
                     help="The part of the method's schedule the run is in.")
    cols[1].metric("epoch", snap.epoch, help="Epoch (or clustering iteration) of the latest snapshot.")
    for col, key in zip(cols[2:], ("acc", "nmi", "ari")):
        m = snap.metrics
        col.metric(key.upper(), f"{m[key]:.3f}" if key in m else "–", help=METRIC_HELP[key])
    left, right = st.columns([3, 2])
    with left:
        choice = colour_picker("train_color", view.labels_sub is not None,
                               help="Colour points by the cluster the method assigns, or by "
                                    "their true class (never seen by the method).")
        color, names, ctitle = colours(choice, view, snap)
        fig = latent_figure(aligned_pca(view, index), index=view.subsample, color=color,
                            color_names=names, color_title=ctitle, height=460,
                            axis_names=("PC 1 (aligned)", "PC 2 (aligned)"),
                            uirevision=f"{run_id}:{choice}")
        st.plotly_chart(fig, key="train_latent", config={"displaylogo": False})
        st.caption("The latent space of a fixed sample of points, projected with PCA and turned to "
                   "match the previous snapshot, so that what moves is the data, not the axes.")
    # the stage names are laid out for the plot's width: the narrow column's, not Explore's
    # (about 150 px at 1024 wide, measured in chromium; 280 crowded the names there)
    right.plotly_chart(loss_figure(view.rows(), ncols=1, plot_px=200), key="train_losses",
                       config={"displaylogo": False})
    live_lens(view, index)


def live_lens(view, index: int) -> None:
    """The lens's live panel (the one it names), rebuilt only when a new snapshot arrives."""
    lens = get_lens(view.method_id)
    if lens is None:
        return
    cached = st.session_state.get("_train_lens")
    if not (cached and cached[0] == (view.run_id, index)):
        cached = ((view.run_id, index), live_panel(lens, view, index))
        st.session_state["_train_lens"] = cached
    if cached[1] is not None:
        st.markdown(f"#### {lens.title}")
        render_panel(cached[1], key="train_lens")


def interrupted_runs(runs: list[dict]) -> None:
    """Runs cut off mid-training (the app, or the machine, stopped under them), newest first,
    each with Resume: after a crash in a lecture, the run goes on from its last checkpoint."""
    rows = sorted((r for r in runs if r.get("state") == "interrupted"),
                  key=lambda r: r.get("created") or 0.0, reverse=True)
    if not rows:
        return
    st.subheader("Cut off mid-training")
    for r in rows[:3]:
        cls = REGISTRY.get(r.get("method", ""))
        with st.container(border=True):
            left, right = st.columns([9, 7], vertical_alignment="center")
            # started when, and its name (else its id): several cut-off runs of one method on
            # one data set must be told apart
            which = " · ".join(md(part) for part in (format_time(r.get("created")),
                                                      r.get("name") or r["run_id"]) if part)
            live = manager().live.get(r["run_id"])
            why = live.error if live is not None else None  # cut off in this app: why (a full disk)
            left.markdown(f"{STATE_ICONS.get('interrupted', '')} "
                          f"**{md(cls.title if cls else r.get('method', '?'))}** on "
                          f"**{md(data_title(r.get('data', '?')))}** · {which} · "
                          f"{r.get('snapshots', 0)} snapshots"
                          + (". " if why else ": its process ended before the run did. ")
                          + "Resume goes on from its last checkpoint.")
            if why:
                left.warning(md(why[:1].upper() + why[1:]) + ".")
            b = right.container(horizontal=True, vertical_alignment="center", gap="small")
            resume_control(r["run_id"], key=f"train_resume_{r['run_id']}", where=b)
            with b:
                st.page_link(nav.PAGES["explore"], label="Explore",
                             query_params={"run": r["run_id"]},
                             help="Open this run on the Explore page, as far as it got.")
    if len(rows) > 3:
        st.caption(f"{len(rows) - 3} more cut-off run(s) are listed on Explore.")


def runs_in_flight() -> None:
    active = [r.run_id for r in manager().active()]
    focus = st.session_state.get("train_focus") or (active[0] if active else None)
    if active:
        st.subheader("Runs in flight")
    for rid in dict.fromkeys(active + ([focus] if focus else [])):
        run_card(rid, rid == focus)
    if focus:
        focus_panels(focus, focus in active)


# =========================================================================== the page
st.title("Train")
st.caption("Pick data and a method in the sidebar, then Launch. Runs train in the background: "
           "leave this page and come back, they keep going.")
messages = st.container()  # launch errors show here, above everything else

spec, entry, dataset = choose_data()
cls, preset = choose_method(entry["id"] if entry is not None else None)
listed = manager().runs()  # once a page run: a store of many runs takes a while to list
expected_duration_note(cls, preset, dataset, listed)
form = config_form(cls, preset, spec, entry, dataset)
try:  # the pretrained AE this run would start from (from the form as last submitted)
    pretrain_line(cls, F.read_form(form[0], form[1]), preset, dataset, where=side)
except ConfigError:
    pass  # the Launch button says what is wrong with the form
if form[3]:
    launch_from_form(cls, preset, spec, entry, *form[:3], feedback=form[4], where=messages)
compare_form(cls, preset, spec, dataset, messages)
interrupted_runs(listed)

if st.session_state.get("train_focus") and run_view(st.session_state["train_focus"]) is None:
    st.session_state["train_focus"] = None
if not manager().active() and not st.session_state.get("train_focus"):
    # After a reload, or in a tab that did not launch it, the run that ended last stays in view.
    st.session_state["train_focus"] = last_ended(manager().runs())
    if st.session_state["train_focus"] is None:
        st.info("Nothing is training. Choose data and a method in the sidebar and press "
                "**Launch**, or start the default run:")
        default_run_button("train_default")
        st.stop()
if not manager().active():
    st.info("Nothing is training now. Below is the last run in focus; open it in **Explore** "
            "(or **Present** it), or launch another run from the sidebar.")
timer(runs_in_flight, "train", lambda: 1.0 if manager().active() else None)
