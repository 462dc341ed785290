"""Streamlit widgets for one run: export downloads and run management (rename, tags, delete with
a confirmation, re-run, resume an interrupted run). Used on Explore and on the Checkpoints page.

Thin: the work is in :mod:`dcviz.runs.archive` (zip, CSV, NPZ) and :mod:`dcviz.runs.manage`.
"""
from __future__ import annotations

import streamlit as st

from dcviz.plaintext import error_text, md
from dcviz.runs import archive as X
from dcviz.runs import manage as G
from dcviz.runs.labels import data_title, method_title
from ui import nav
from ui.shared import forget_view, manager, projections, runs_root
from dcviz.runs import RunStoreError


def export_buttons(view, index: int | None, key: str) -> None:
    """Download the run as a zip, and one snapshot's embeddings and assignments as CSV or NPZ."""
    cols = st.columns(3)
    rd_path = view.rd.path
    cols[0].download_button(
        "Run archive (.zip)", data=lambda: X.export_zip(rd_path), file_name=X.archive_name(view),
        mime="application/zip", key=f"{key}:zip", on_click="ignore", icon=":material/folder_zip:",
        help="The whole run folder (config, status, snapshots, metrics, checkpoint) as one zip. "
             "Import it into another dcviz on the Checkpoints page.")
    if index is None or view.count == 0:
        cols[1].caption("Embeddings can be downloaded once the run has a snapshot.")
        return
    stem = X.archive_name(view)[:-4] + f"-snapshot{index}"
    cols[1].download_button(
        "Embeddings + clusters (.csv)", data=lambda: X.embeddings_csv(view, index),
        file_name=stem + ".csv", mime="text/csv", key=f"{key}:csv", on_click="ignore",
        icon=":material/table:",
        help="This snapshot's latent coordinates (z0, z1, ...) of every followed point, with its "
             "sample number, cluster and true label, one row per point.")
    cols[2].download_button(
        "Embeddings + clusters (.npz)", data=lambda: X.embeddings_npz(view, index),
        file_name=stem + ".npz", mime="application/octet-stream", key=f"{key}:npz",
        on_click="ignore", icon=":material/data_array:",
        help="The same as arrays for numpy: latent (n, d), assign, sample, labels, epoch "
             "(np.load(..., allow_pickle=False) reads it).")


def manage_panel(view, key: str, after_delete_page: str | None = None) -> None:
    """Rename, tag, re-run and delete one run (the delete asks for a confirmation)."""
    deleted_notice()
    mgr = manager()
    store = mgr.store
    run_id = view.run_id
    try:
        cfg = store.open(run_id).read_config()
    except RunStoreError:
        st.warning(f"Run {md(run_id)} is no longer in the run store.")
        return
    with st.form(f"{key}:form", border=False):
        c1, c2 = st.columns(2)
        name = c1.text_input("Name", value=cfg.get("name") or "", max_chars=G.MAX_NAME,
                             key=f"{key}:name", placeholder="a name to find the run by",
                             help="A name shown next to the run in every run list. Empty: the run "
                                  "is shown by its method, data and time.")
        tags = c2.text_input("Tags", value=", ".join(cfg.get("tags") or []), key=f"{key}:tags",
                             placeholder="e.g. baseline, lr-sweep",
                             help="Short words separated by commas or spaces, for your own "
                                  f"grouping (at most {G.MAX_TAGS}).")
        saved = st.form_submit_button("Save name and tags", icon=":material/save:",
                                      help="Write the name and tags into the run's config.json.")
    if saved:
        try:
            G.rename(store, run_id, name)
            G.set_tags(store, run_id, tags)
        except (G.ManageError, RunStoreError) as e:
            st.error(f"Not saved: {md(error_text(e))}")
        else:
            forget_view(run_id)
            st.session_state[f"{key}:flash"] = "Saved."
            st.rerun(scope="app")
    flash = st.session_state.pop(f"{key}:flash", None)
    if flash:
        st.success(flash)

    if mgr.is_interrupted(run_id):
        resume_control(run_id, key=f"{key}:resume")
    c1, c2 = st.columns(2)
    if c1.button("Re-run with the same config and seed", key=f"{key}:rerun",
                 icon=":material/replay:",
                 help="Launch this method again on the same data with the same config, preset "
                      "and seed; the new run opens on the Train page."):
        try:
            new_id = G.rerun(mgr, run_id)
        except Exception as e:  # noqa: BLE001 - DataError, ConfigError, ManageError: say why
            st.error(f"Could not re-run: {md(error_text(e))}")
        else:
            nav.watch_in_train(new_id)

    label = cfg.get("name") or (f"{method_title(cfg.get('method', '?'))} on "
                                f"{data_title(cfg.get('data_name', '?'))}")
    delete_control(run_id, label, f"its {view.count} snapshots and its checkpoint", key,
                   where=c2, after_delete_page=after_delete_page)


def resume_control(run_id: str, key: str, where=None) -> None:
    """"Resume" for an interrupted run (its process was killed): it goes on from its last
    checkpoint in this app, and the Train page shows it. Disabled, saying why, for a method
    that cannot resume."""
    from dcviz.methods import REGISTRY
    mgr = manager()
    try:
        method = mgr.store.open(run_id).read_config()["method"]
    except RunStoreError:
        return
    cls = REGISTRY.get(method)
    why_not = None if cls is not None and cls.resumable else (
        f"{cls.title if cls else method} cannot resume; re-run it instead")
    if (where or st).button(
            "Resume", key=key, icon=":material/restart_alt:", disabled=why_not is not None,
            help=("Go on training from the run's last checkpoint (taken every few snapshots or "
                  "minute): the snapshots after it are dropped and made again, and the run "
                  "carries on in this app, in the same folder." if why_not is None
                  else f"Not possible: {why_not}.")):
        try:
            mgr.resume_interrupted(run_id)
        except Exception as e:  # noqa: BLE001 - ConfigError, DataError, RunStoreError: say why
            st.error(f"Could not resume: {md(error_text(e))}")
        else:
            forget_view(run_id)
            nav.watch_in_train(run_id)


def delete_control(run_id: str, label: str, what: str, key: str, where=None,
                   after_delete_page: str | None = None) -> None:
    """"Delete this run…", then a confirmation that names the run (``label``) and ``what`` goes
    with it; a live run cannot be deleted (the button says why)."""
    mgr = manager()
    confirm_key = f"{key}:confirm_delete"
    why_not = G.can_delete(mgr, run_id)
    if not st.session_state.get(confirm_key):
        if (where or st).button(
                "Delete this run…", key=f"{key}:delete", icon=":material/delete:",
                disabled=why_not is not None,
                help=("Delete the run folder from the run store (asks first)." if why_not is None
                      else f"Not now: {why_not}.")):
            st.session_state[confirm_key] = True
            st.rerun(scope="app")
        return
    st.warning(f"Delete **{md(label)}** ({md(run_id)}), {what}? This cannot be undone; download "
               "its archive first if you may need it.")
    d1, d2 = st.columns(2)
    if d1.button("Yes, delete it", key=f"{key}:delete_yes", type="primary",
                 icon=":material/delete_forever:", help="Delete the run folder now."):
        st.session_state[confirm_key] = False
        try:
            G.delete(mgr, run_id)
        except (G.ManageError, RunStoreError) as e:
            st.error(md(error_text(e)))
            return
        forget(run_id)
        st.session_state["_run_actions_deleted"] = label
        if after_delete_page:
            st.switch_page(after_delete_page)
        st.rerun(scope="app")
    if d2.button("Cancel", key=f"{key}:delete_no", help="Keep the run."):
        st.session_state[confirm_key] = False
        st.rerun(scope="app")


def forget(run_id: str) -> None:
    """Drop a deleted run from this process's caches, the pickers and the link."""
    forget_view(run_id)
    try:
        projections().forget((runs_root(), run_id))
    except Exception:  # noqa: BLE001 - a cache miss is fine
        pass
    for k in ("explore_run", "checkpoints_run"):
        if st.session_state.get(k) == run_id:
            del st.session_state[k]
    if st.query_params.get("run") == run_id:
        del st.query_params["run"]


def damaged(row: dict, key: str) -> None:
    """A run whose folder cannot be read: the reason, and the way to delete it."""
    st.error(f"Run {md(row['run_id'])} is damaged and cannot be opened: "
             f"{md(row.get('error') or 'its folder was removed or cannot be read')}")
    delete_control(row["run_id"], row["run_id"], "whatever is left of it", key)


def deleted_notice() -> None:
    """Say once that a run was deleted (call near the top of a page)."""
    label = st.session_state.pop("_run_actions_deleted", None)
    if label:
        st.toast(f"Deleted {md(label)}.", icon=":material/delete:")
