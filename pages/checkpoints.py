"""Checkpoints: open a trained model (a run of the store, or an uploaded run archive) and push new
data through it.

Which run (see tests/test_inference.py): the ``run`` query parameter, else
``st.session_state["checkpoints_run"]`` (the picker's key), else the newest run with a checkpoint.
New data: ``checkpoints_source`` ("Built-in data" or "Upload a file"), ``checkpoints_choice``
(the label of a built-in choice), and the data pushed last is ``checkpoints_data`` (a data spec).
"""
from __future__ import annotations

import hashlib
import json
import threading

import numpy as np
import streamlit as st

from dcviz.runs import archive as X
from dcviz import inference as I
from dcviz.images import upscale
from dcviz.plaintext import error_text, md
from dcviz.runs import RunStoreError
from dcviz.runs.labels import data_title, format_seconds
from dcviz.runs.manage import data_withheld
from dcviz.viz import compare as V
from ui import nav
from ui import run_actions as R
from ui.fields import segmented
from ui.launch import default_run_button
from ui.look import plot_config
from ui.pickers import run_picker
from ui.shared import aligned_pca, manager, run_view, runs_root
from ui.store import provenance, store_section

nav.require_app("checkpoints")



@st.cache_resource(show_spinner=False, max_entries=8)
def _model(root: str, run_id: str, stamp: float):
    """The rebuilt method of a run (one per checkpoint file version), with a lock: a model is
    shared by every session, and torch modules are not meant to be driven from two threads."""
    from dcviz.runs import RunStore
    return I.open_model(RunStore(root).open(run_id)), threading.Lock()


def _assign_csv(r) -> bytes:
    lines = ["point,cluster,confidence,x,y"]
    for i in range(len(r.assign)):
        c = "" if r.confidence.values is None else f"{r.confidence.values[i]:.6g}"
        x, y = (r.coords[i] if r.coords is not None else ("", ""))
        lines.append(f"{i},{int(r.assign[i])},{c},{x},{y}")
    return ("\n".join(lines) + "\n").encode()




def has_checkpoint(run_id: str) -> bool:
    try:
        return manager().store.open(run_id).has_checkpoint()
    except RunStoreError:  # a damaged folder: the store section lists it, with what is wrong
        return False


def with_checkpoint() -> list[dict]:
    return [r for r in manager().runs() if has_checkpoint(r["run_id"])]


# ---------------------------------------------------------------- import an archive
def import_box(expanded: bool) -> None:
    """Take a run archive into the run store (checked first); it opens here when it is in."""
    imports = st.session_state.setdefault("_checkpoints_imports", {})
    with st.expander("Import a run archive (.zip)", expanded=expanded):
        up = st.file_uploader(
            "Run archive", type=["zip"], key="checkpoints_archive",
            help="A zip made by dcviz (Explore → Run tab → Run archive), or a run folder zipped "
                 "by hand, e.g. one trained with `python -m dcviz train` on another machine. It "
                 "is checked before anything is kept: only the run's own files, no links or "
                 "paths outside the run, a size limit, plain arrays, and a checkpoint of weights "
                 "only.")
        if up is not None:
            digest = hashlib.sha256(up.getvalue()).hexdigest()
            if digest not in imports:
                imports[digest] = import_archive(up)
            kind, value = imports[digest]
            if kind == "error":
                st.error(f"Not imported. {md(value)}")
            else:
                st.success(f"Imported {md(up.name, 80)} as run {md(value)}. It is in the run "
                           "store now: open it here, on Explore or on Compare.")
                nav.explore_link(value, "Open it in Explore", icon=":material/travel_explore:",
                                 help="Scrub its snapshots, click points, see the method's own "
                                      "views.")
        st.caption("Archives are unpacked into the run store under a new run id; a run on a "
                   "built-in data set opens with its images, a run on a file keeps only the "
                   "file's name (upload the file below to push it through the model).")


def import_archive(up) -> tuple[str, str]:
    """("ok", run id) with the run opened on this page, or ("error", why)."""
    try:
        with st.spinner("Checking the archive…"):
            run_id = X.import_archive(manager().store, up.getvalue(), label=up.name)
    except X.ArchiveError as e:
        return "error", str(e)
    except Exception as e:  # noqa: BLE001 - the page keeps working whatever the file
        return "error", f"{up.name} could not be imported: {error_text(e)}"
    st.session_state["checkpoints_run"] = run_id
    st.query_params["run"] = run_id
    return "ok", run_id


# ---------------------------------------------------------------- the model
def open_checkpoint(run_id: str):
    """(model, its lock, the run folder, its view); a checkpoint that cannot be opened stops
    the page with the reason."""
    rd = manager().store.open(run_id)
    try:
        model, lock = _model(runs_root(), run_id, (rd.path / "checkpoint.pt").stat().st_mtime)
    except (RunStoreError, OSError, ValueError, KeyError, RuntimeError) as e:
        st.error(f"The checkpoint of run {md(run_id)} cannot be opened: {md(error_text(e))}")
        st.stop()
    return model, lock, rd, run_view(run_id)


def model_summary(model, rd, view) -> None:
    cfg, status = model.config, rd.read_status()
    st.markdown(
        f"**{md(cfg.get('method_title') or model.method_id)}** trained on "
        f"**{md(data_title(cfg.get('data_name', '?')))}** ({md(cfg.get('n_samples', '?'))} points) · k = "
        f"{model.n_clusters} · expects {model.expected_shape()} · {md(status.get('state', '?'))}"
        + (f" after {format_seconds(status.get('seconds'))}" if status.get("seconds") else ""))
    if status.get("state") in ("queued", "running", "paused"):
        st.caption("This run is still training: the checkpoint is the one saved last (its method "
                   "saves one now and then, and at the end).")
    if model.before_clustering:
        st.warning("This checkpoint was saved while the autoencoder was still pretraining, "
                   "before the method fitted its clusters: the clusters it assigns mean nothing "
                   "yet. Pick a finished run, or carry this one on (Resume, on Explore or Train, "
                   "for a run cut off mid-training; Re-run for one that was stopped).",
                   icon=":material/hourglass_top:")
    withheld = data_withheld(cfg)
    if withheld:
        st.caption(withheld)
    provenance(cfg, rd)
    if view is not None:
        with st.expander("Export, rename, tag, re-run or delete this run"):
            R.export_buttons(view, view.count - 1 if view.count else None, key="checkpoints_export")
            R.manage_panel(view, key="checkpoints_manage")


# ---------------------------------------------------------------- new data
SOURCES = ["Built-in data", "Upload a file"]


def choose_new_data(model, run_id: str) -> dict | None:
    """The data last pushed through this run's model: {"spec", "label"}, or None."""
    st.subheader("New data")
    source = segmented(
        "Source", SOURCES, "checkpoints_source",
        help="Built-in data: another split or a fresh draw of the run's data where it has one, "
             "the training data itself, or any other data set of dcviz. Upload a file: .npz, "
             ".npy, .csv, MNIST IDX, or a .zip of an image folder; it must have the "
             "checkpoint's shape.")
    data_key = f"checkpoints_data:{run_id}"
    if source == "Upload a file":
        uploaded_data(model, data_key)
    else:
        built_in_data(model, data_key)
    return st.session_state.get(data_key)


def built_in_data(model, data_key: str) -> None:
    choices = I.new_data_choices(model.config)
    labels = [c["label"] for c in choices]
    # The button's column is wide enough for its whole label (a fifth of the row cut it to
    # "Push through the m…" at 1500 px).
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    if st.session_state.get("checkpoints_choice") not in labels:  # another run's choices
        st.session_state.pop("checkpoints_choice", None)
    choice = c1.selectbox(
        "Data", labels, key="checkpoints_choice", persist_state="session",
        help="What to push through the model. A data set whose shape does not fit the "
             "checkpoint is refused with a message naming the expected shape.")
    entry = choices[labels.index(choice)]
    go = c2.button("Push through the model", key="checkpoints_go", type="primary",
                   icon=":material/play_arrow:",
                   help="Embed, assign and place the chosen data (at most "
                        f"{I.MAX_NEW_POINTS:,} points, a fixed random subset of larger sets).")
    why = entry["why"][:1].upper() + entry["why"][1:]  # a sentence, with its capital
    st.caption(why + ("." if not why.endswith(".") else "")
               + (" Downloaded on first use (needs the network once)."
                               if entry.get("download") else ""))
    if go:
        st.session_state[data_key] = {"spec": entry["spec"], "label": entry["label"]}


def uploaded_data(model, data_key: str) -> None:
    from dcviz.data import DataError, save_upload
    up = st.file_uploader(
        "Data file", key="checkpoints_upload", type=None,
        help=f"A file of points with the checkpoint's shape ({model.expected_shape()}): .npz "
             "with an array x (and optionally labels y), .npy, .csv, MNIST IDX (…-idx3-ubyte or "
             ".gz; a .zip of it and its labels file brings the labels too), or a .zip of an "
             "image folder. Loaded without pickles.")
    if up is None:
        return
    state = st.session_state
    digest = hashlib.sha256(up.getvalue()).hexdigest()[:16]
    # The file is checked and stored once; what it gives feeds the data of whichever run is
    # open now, on every run of the page: the upload stays in its box when another run is
    # picked or after a push of built-in data, and is then what the page shows it pushes.
    last = state.get("_checkpoints_upload")
    if not last or last[0] != digest:
        try:
            last = (digest, "ok", save_upload(up.name, up.getvalue()))
        except DataError as e:
            last = (digest, "error", str(e))
        state["_checkpoints_upload"] = last
    _, kind, value = last
    if kind == "error":
        state.pop(data_key, None)
        st.error(f"This file cannot be used: {md(value, 1500)}")
    else:
        state[data_key] = {"spec": value, "label": md(up.name, 80)}


# ---------------------------------------------------------------- results
def pushed(model, lock, rd, view, run_id: str, chosen: dict):
    """(data set, inference result) of ``chosen`` through the model, kept per checkpoint file
    version; a failure stops the page with the reason."""
    from dcviz.data import DataError
    results = st.session_state.setdefault("_checkpoints_results", {})
    key = (run_id, (rd.path / "checkpoint.pt").stat().st_mtime,  # a newer checkpoint: push again
           json.dumps(chosen["spec"], sort_keys=True, default=str))
    if key not in results:
        try:
            with st.spinner(f"Pushing {chosen['label']} through the model…"):
                ds = I.load_new_data(model, chosen["spec"])
                train_ds = view.dataset if view is not None else None
                train_x = I.training_x(model, train_ds)
                ref = aligned_pca(view, model.snapshot_index) \
                    if model.snapshot_index is not None and view is not None else None
                with lock:
                    res = I.infer(model, ds, reference=ref, train_x=train_x,
                                  train_data=train_ds.x if train_ds is not None else None)
        except (I.ShapeError, DataError) as e:
            st.error(f"{chosen['label']} cannot go through this model: {md(e)}")
            st.stop()
        except Exception as e:  # noqa: BLE001 - the page keeps working
            st.error(f"{chosen['label']} could not be pushed through the model: "
                     f"{md(error_text(e))}")
            st.stop()
        if len(results) > 6:
            results.pop(next(iter(results)))
        results[key] = (ds, res)
    return results[key]


def headline(ds, res) -> None:
    head = (f"**{md(ds.name)}**: {len(res.assign):,} points · {int((res.sizes > 0).sum())} of "
            f"{len(res.sizes)} clusters used")
    if res.scores:
        head += " · " + " · ".join(f"{k.upper()} {v:.3f}" for k, v in res.scores.items())
    st.markdown(head)
    if res.scores:
        st.caption("ACC, NMI and ARI of the model's assignments against the new data's labels: "
                   "how well the clusters it learned carry over.")


def placement(model, res, run_id: str) -> None:
    st.markdown("**The new points in the run's latent view**")
    if res.coords is None:
        st.caption("The run has no snapshot to place the new points beside.")
        return
    fig = V.placement_figure(res.train_coords, res.coords, res.assign,
                             train_assign=model.train_assign if res.train_source == "snapshot" else None,
                             confidence=res.confidence.values,
                             axis_names=I.placement_axes(res.train_source))
    st.plotly_chart(fig, key="checkpoints_placement", config=plot_config(f"dcviz-{run_id}-new-data"))
    src = {"snapshot": f"the training points of the run's last snapshot ({len(res.train_coords)} "
                       "points, faint, in their clusters' colours)",
           "embedded": f"the run's training points embedded again with the checkpoint "
                       f"({len(res.train_coords)} points, grey)"}.get(res.train_source, "")
    st.caption(f"New points (bold, coloured by their cluster) among {src}, projected on the same "
               "two principal axes of the training points"
               + (", turned like the run's picture on Explore." if res.train_source == "snapshot"
                  else " (plain PCA: not the run's picture on Explore, whose snapshot the "
                       "checkpoint does not reproduce)."))


def sizes_and_confidence(model, res, run_id: str) -> None:
    st.markdown("**Cluster sizes**")
    train_sizes = np.bincount(model.train_assign, minlength=len(res.sizes)) \
        if model.train_assign is not None else None
    st.plotly_chart(V.sizes_figure(res.sizes, train_sizes), key="checkpoints_sizes",
                    config=plot_config(f"dcviz-{run_id}-sizes"))
    st.markdown("**Confidence**")
    conf = res.confidence
    if conf.kind is None:
        st.caption(conf.text)
        return
    st.plotly_chart(V.confidence_figure(conf.values, res.assign, conf.kind),
                    key="checkpoints_confidence", config=plot_config(f"dcviz-{run_id}-confidence"))
    st.caption(I.confidence_caption(res))


ORDERS = ["Random", "Most confident first", "Least confident first"]


def examples(ds, res, per: int = 10) -> None:
    """Up to ``per`` new points per cluster: images in a strip, vectors as a table."""
    st.markdown("**Examples of each cluster**")
    conf = res.confidence.values
    order_by = segmented(
        "Which examples", ORDERS if conf is not None else ORDERS[:1], "checkpoints_order",
        help="Random: a fixed random choice per cluster. Most or least confident first: the "
             "points the model is surest or least sure of (where it gives a confidence).")
    order = None if order_by == "Random" else (conf if order_by.startswith("Most") else -conf)
    chosen = I.examples_per_cluster(res.assign, per, order=order)
    if ds.image_shape is None:
        st.caption("Vector data: the first features of a few points per cluster.")
        st.dataframe([{"cluster": c, "point": int(i),
                       **({"confidence": round(float(conf[i]), 4)} if conf is not None else {}),
                       **{f"x{j}": round(float(v), 4) for j, v in enumerate(ds.x[i][:8])}}
                      for c in sorted(chosen) for i in chosen[c][:3]], hide_index=True)
        return
    st.caption(f"Up to {per} new points per cluster, one row per cluster that has points.")
    for c in sorted(chosen):
        c1, c2 = st.columns([1, 9], vertical_alignment="center")
        c1.markdown(f"**cluster {c}**  \n{int(res.sizes[c]):,} points")
        strip = I.cluster_grid(ds.images(chosen[c]), {c: np.arange(len(chosen[c]))}, per)
        c2.image(upscale(strip, 64 * per), clamp=True)


# ================================================================== the page
st.title("Checkpoints")
st.caption("Open a trained model and push new data through it: which cluster each new point "
           "falls in, how sure the model says it is (its own confidence, not a measure of how "
           "well the data fits), examples of each cluster, and where the new points land among "
           "the training points.")
R.deleted_notice()
# Open while no run has a checkpoint: a stat per run, not a listing (which comes once, below)
import_box(expanded=not any(has_checkpoint(i) for i in manager().store.ids()))
store_section("checkpoints_store")
runs = with_checkpoint()
if not runs:
    st.info("No run has a checkpoint yet. A run saves its trained model when it ends. Launch one "
            "here (the button says how long), train one on the **Train** page, or import a run "
            "archive above.")
    default_run_button("checkpoints_default")
    st.stop()

run_id = run_picker(runs, "checkpoints_run", missing="no run with a checkpoint",
                    help="Runs of the run store that have a checkpoint (a run saves one when it "
                         "ends, or when it is stopped). Newest first.")
model, lock, rd, view = open_checkpoint(run_id)
model_summary(model, rd, view)
chosen = choose_new_data(model, run_id)
if not chosen:
    st.info("Choose data above and push it through the model.")
    st.stop()
ds, res = pushed(model, lock, rd, view, run_id, chosen)
if res.scale_warning:
    st.warning(md(res.scale_warning), icon=":material/straighten:")
headline(ds, res)
left, right = st.columns([3, 2])
with left:
    placement(model, res, run_id)
with right:
    sizes_and_confidence(model, res, run_id)
examples(ds, res)
st.download_button(
    "New points' clusters (.csv)", key="checkpoints_download",
    data=lambda: _assign_csv(res), file_name=f"dcviz-{run_id}-new-data.csv", mime="text/csv",
    on_click="ignore", icon=":material/download:",
    help="One row per new point: its row in the data, its cluster, its confidence (when the "
         "method gives one) and its 2-D position in the picture above.")
