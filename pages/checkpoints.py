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

import app_common as C
import run_actions as R
from dcviz import appstate as A
from dcviz.runs import archive as X
from dcviz import inference as I
from dcviz.runs import RunStoreError
from dcviz.viz import compare as V

PLOTLY = {"displaylogo": False}


def plot_config(name: str) -> dict:
    return {**PLOTLY, "toImageButtonOptions": {"format": "png", "filename": name, "scale": 2}}


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


C.require_app("checkpoints")

st.title("Checkpoints")
st.caption("Open a trained model and push new data through it: which cluster each new point "
           "falls in, how sure the model is, examples of each cluster, and where the new points "
           "land among the training points.")
R.deleted_notice()

mgr = C.manager()
store = mgr.store


def with_checkpoint() -> list[dict]:
    out = []
    for r in mgr.runs():
        try:
            if store.open(r["run_id"]).has_checkpoint():
                out.append(r)
        except RunStoreError:
            continue
    return out


runs = with_checkpoint()

# ---------------------------------------------------------------- import an archive
imports = st.session_state.setdefault("_checkpoints_imports", {})
with st.expander("Import a run archive (.zip)", expanded=not runs):
    up = st.file_uploader(
        "Run archive", type=["zip"], key="checkpoints_archive",
        help="A zip made by dcviz (Explore → Run tab → Run archive), or a run folder zipped by "
             "hand, e.g. one trained with `python -m dcviz train` on another machine. It is "
             "checked before anything is kept: only the run's own files, no links or paths "
             "outside the run, a size limit, plain arrays, and a checkpoint of weights only.")
    if up is not None:
        content = up.getvalue()
        digest = hashlib.sha256(content).hexdigest()
        if digest not in imports:
            try:
                with st.spinner("Checking the archive…"):
                    run_id = X.import_archive(store, content, label=up.name)
            except X.ArchiveError as e:
                imports[digest] = ("error", str(e))
            except Exception as e:  # noqa: BLE001 - the page keeps working whatever the file
                imports[digest] = ("error", f"{up.name} could not be imported: {C.error_text(e)}")
            else:
                imports[digest] = ("ok", run_id)
                st.session_state["checkpoints_run"] = run_id
                runs = with_checkpoint()
        kind, value = imports[digest]
        if kind == "error":
            st.error(f"Not imported. {value}")
        else:
            st.success(f"Imported {X.safe_text(up.name, 80)} as run `{value}`. It is in the run store now: open it "
                       "here, on Explore or on Compare.")
            st.page_link(C.PAGES["explore"], label="Open it in Explore", query_params={"run": value},
                         icon=":material/travel_explore:",
                         help="Scrub its snapshots, click points, see the method's own views.")
    st.caption("Archives are unpacked into the run store under a new run id; a run on a "
               "built-in data set opens with its images, a run on a file keeps only the file's "
               "name (upload the file below to push it through the model).")

if not runs:
    st.info("No run has a checkpoint yet. A run saves its trained model when it ends. Launch one "
            "here (about a minute), train one on the **Train** page, or import a run archive "
            "above.")
    C.default_run_button("checkpoints_default")
    st.stop()

by_id = {r["run_id"]: r for r in runs}
ids = list(by_id)
qp = st.query_params.get("run")
if qp and qp != st.session_state.get("_checkpoints_qp_seen"):
    st.session_state["_checkpoints_qp_seen"] = qp
    if qp in by_id:
        st.session_state["checkpoints_run"] = qp
    else:
        st.warning(f"Run `{qp}` has no checkpoint in `{C.runs_root()}` (or does not exist); "
                   "showing another run.")
if st.session_state.get("checkpoints_run") not in by_id:
    st.session_state["checkpoints_run"] = A.pick_run(None, ids)
run_id = st.selectbox(
    "Run", ids, key="checkpoints_run", format_func=lambda i: A.run_label(by_id[i]),
    help="Runs of the run store that have a checkpoint (a run saves one when it ends, or when it "
         "is stopped). Newest first.")
if st.query_params.get("run") != run_id:
    st.query_params["run"] = run_id
    st.session_state["_checkpoints_qp_seen"] = run_id

rd = store.open(run_id)
view = C.run_view(run_id)
try:
    model, lock = _model(C.runs_root(), run_id, (rd.path / "checkpoint.pt").stat().st_mtime)
except (RunStoreError, OSError, ValueError, KeyError, RuntimeError) as e:
    st.error(f"The checkpoint of run {run_id} cannot be opened: {C.error_text(e)}")
    st.stop()

cfg = model.config
status = rd.read_status()
st.markdown(
    f"**{cfg.get('method_title') or model.method_id}** trained on **{cfg.get('data_name', '?')}** "
    f"({cfg.get('n_samples', '?')} points) · k = {model.n_clusters} · expects "
    f"{model.expected_shape()} · {status.get('state', '?')}"
    + (f" after {A.format_seconds(status.get('seconds'))}" if status.get("seconds") else ""))
if status.get("state") in ("queued", "running", "paused"):
    st.caption("This run is still training: the checkpoint is the one saved last (its method "
               "saves one now and then, and at the end).")
withheld = X.data_withheld(cfg)
if withheld:
    st.caption(withheld)

if view is not None:
    with st.expander("Export, rename, tag, re-run or delete this run"):
        last = view.count - 1 if view.count else None
        R.export_buttons(view, last, key="checkpoints_export")
        R.manage_panel(view, key="checkpoints_manage")

# ---------------------------------------------------------------- new data
st.subheader("New data")
SOURCES = ["Built-in data", "Upload a file"]
if st.session_state.get("checkpoints_source") not in SOURCES:
    st.session_state["checkpoints_source"] = SOURCES[0]
source = st.segmented_control(
    "Source", SOURCES, key="checkpoints_source", required=True,
    help="Built-in data: another split or a fresh draw of the run's data where it has one, the "
         "training data itself, or any other data set of dcviz. Upload a file: .npz, .npy, "
         ".csv, MNIST IDX, or a .zip of an image folder; it must have the checkpoint's shape.")

data_key = f"checkpoints_data:{run_id}"
if source == "Built-in data":
    choices = I.new_data_choices(cfg)
    labels = [c["label"] for c in choices]
    if st.session_state.get("checkpoints_choice") not in labels:
        st.session_state["checkpoints_choice"] = labels[0]
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    choice = c1.selectbox(
        "Data", labels, key="checkpoints_choice",
        help="What to push through the model. A data set whose shape does not fit the "
             "checkpoint is refused with a message naming the expected shape.")
    entry = choices[labels.index(choice)]
    go = c2.button("Push through the model", key="checkpoints_go", type="primary",
                   icon=":material/play_arrow:",
                   help="Embed, assign and place the chosen data (at most "
                        f"{I.MAX_NEW_POINTS:,} points, a fixed random subset of larger sets).")
    st.caption(entry["why"] + (" Downloaded on first use (needs the network once)."
                               if entry.get("download") else ""))
    if go:
        st.session_state[data_key] = {"spec": entry["spec"], "label": entry["label"]}
else:
    up_data = st.file_uploader(
        "Data file", key="checkpoints_upload", type=None,
        help=f"A file of points with the checkpoint's shape ({model.expected_shape()}): .npz "
             "with an array x (and optionally labels y), .npy, .csv, MNIST IDX (…-idx3-ubyte or "
             ".gz), or a .zip of an image folder. Loaded without pickles.")
    if up_data is not None:
        from dcviz.data import DataError, save_upload
        dig = hashlib.sha256(up_data.getvalue()).hexdigest()[:16]
        if st.session_state.get("_checkpoints_upload_seen") != dig:
            st.session_state["_checkpoints_upload_seen"] = dig
            try:
                spec = save_upload(up_data.name, up_data.getvalue())
            except DataError as e:
                st.session_state["_checkpoints_upload_error"] = str(e)
                st.session_state.pop(data_key, None)
            else:
                st.session_state.pop("_checkpoints_upload_error", None)
                st.session_state[data_key] = {"spec": spec, "label": X.safe_text(up_data.name, 80)}
        err = st.session_state.get("_checkpoints_upload_error")
        if err:
            st.error(f"This file cannot be used: {X.safe_text(err, 1500)}")

chosen = st.session_state.get(data_key)
if not chosen:
    st.info("Choose data above and push it through the model.")
    st.stop()

# ---------------------------------------------------------------- results
results = st.session_state.setdefault("_checkpoints_results", {})
rkey = (run_id, (rd.path / "checkpoint.pt").stat().st_mtime,  # a newer checkpoint: push again
        json.dumps(chosen["spec"], sort_keys=True, default=str))
if rkey not in results:
    from dcviz.data import DataError
    try:
        with st.spinner(f"Pushing {chosen['label']} through the model…"):
            ds = I.load_new_data(model, chosen["spec"])
            run_ds = view.dataset if view is not None else None
            train_x = I.training_x(model, run_ds)
            ref = None
            if model.snapshot_index is not None:
                ref = C.projections().aligned_pca((C.runs_root(), run_id), model.snapshot_index,
                                                  lambda i: view.snapshot(i).latent)
            with lock:
                res = I.infer(model, ds, reference=ref, train_x=train_x)
    except (I.ShapeError, DataError) as e:
        st.error(f"{chosen['label']} cannot go through this model: {e}")
        st.stop()
    except Exception as e:  # noqa: BLE001 - the page keeps working
        st.error(f"{chosen['label']} could not be pushed through the model: {C.error_text(e)}")
        st.stop()
    if len(results) > 6:
        results.pop(next(iter(results)))
    results[rkey] = (ds, res)
ds, res = results[rkey]

n = len(res.assign)
used = int((res.sizes > 0).sum())
head = f"**{ds.name}**: {n:,} points · {used} of {len(res.sizes)} clusters used"
if res.scores:
    head += " · " + " · ".join(f"{k.upper()} {v:.3f}" for k, v in res.scores.items())
st.markdown(head)
if res.scores:
    st.caption("ACC, NMI and ARI of the model's assignments against the new data's labels: how "
               "well the clusters it learned carry over.")

left, right = st.columns([3, 2])
with left:
    st.markdown("**The new points in the run's latent view**")
    if res.coords is not None:
        fig = V.placement_figure(res.train_coords, res.coords, res.assign,
                                 train_assign=model.train_assign if res.train_source == "snapshot" else None,
                                 confidence=res.confidence.values,
                                 axis_names=("PC 1 (run's aligned PCA)", "PC 2"))
        st.plotly_chart(fig, key="checkpoints_placement", config=plot_config(f"dcviz-{run_id}-new-data"))
        src = {"snapshot": f"the training points of the run's last snapshot ({len(res.train_coords)} "
                           "points, faint, in their clusters' colours)",
               "embedded": f"the run's training points embedded again with the checkpoint "
                           f"({len(res.train_coords)} points, grey)"}.get(res.train_source, "")
        st.caption(f"New points (bold, coloured by their cluster) among {src}, projected on the "
                   "same two principal axes of the training points, turned like the run's picture "
                   "on Explore.")
    else:
        st.caption("The run has no snapshot to place the new points beside.")
with right:
    st.markdown("**Cluster sizes**")
    train_sizes = np.bincount(model.train_assign, minlength=len(res.sizes)) \
        if model.train_assign is not None else None
    st.plotly_chart(V.sizes_figure(res.sizes, train_sizes), key="checkpoints_sizes",
                    config=plot_config(f"dcviz-{run_id}-sizes"))
    st.markdown("**Confidence**")
    if res.confidence.kind is None:
        st.caption(res.confidence.text)
    else:
        st.plotly_chart(V.confidence_figure(res.confidence.values, res.assign, res.confidence.kind),
                        key="checkpoints_confidence", config=plot_config(f"dcviz-{run_id}-confidence"))
        low = np.argsort(res.confidence.values)[:1]
        st.caption(f"{res.confidence.text.capitalize()}. Median "
                   f"{np.median(res.confidence.values):.3g}; least sure: point {int(low[0])} "
                   f"({res.confidence.values[low[0]]:.3g}).")

st.markdown("**Examples of each cluster**")
ORDERS = ["Random", "Most confident first", "Least confident first"]
if res.confidence.kind is None:
    ORDERS = ORDERS[:1]
if st.session_state.get("checkpoints_order") not in ORDERS:
    st.session_state["checkpoints_order"] = ORDERS[0]
order_by = st.segmented_control(
    "Which examples", ORDERS, key="checkpoints_order", required=True,
    help="Random: a fixed random choice per cluster. Most or least confident first: the points "
         "the model is surest or least sure of (where it gives a confidence).")
per = 10
conf = res.confidence.values
order = None if order_by == "Random" else (conf if order_by.startswith("Most") else -conf)
examples = I.examples_per_cluster(res.assign, per, order=order)
if ds.image_shape is not None:
    st.caption(f"Up to {per} new points per cluster, one row per cluster that has points.")
    for c in sorted(examples):
        c1, c2 = st.columns([1, 9], vertical_alignment="center")
        c1.markdown(f"**cluster {c}**  \n{int(res.sizes[c]):,} points")
        strip = I.cluster_grid(ds.images(examples[c]), {c: np.arange(len(examples[c]))}, per)
        c2.image(A.upscale(strip, 64 * per), clamp=True)
else:
    rows = []
    for c in sorted(examples):
        for i in examples[c][:3]:
            rec = {"cluster": c, "point": int(i)}
            if conf is not None:
                rec["confidence"] = round(float(conf[i]), 4)
            rec.update({f"x{j}": round(float(v), 4) for j, v in enumerate(ds.x[i][:8])})
            rows.append(rec)
    st.caption("Vector data: the first features of a few points per cluster.")
    st.dataframe(rows, hide_index=True)

st.download_button(
    "New points' clusters (.csv)", key="checkpoints_download",
    data=lambda: _assign_csv(res), file_name=f"dcviz-{run_id}-new-data.csv", mime="text/csv",
    on_click="ignore", icon=":material/download:",
    help="One row per new point: its row in the data, its cluster, its confidence (when the "
         "method gives one) and its 2-D position in the picture above.")

