"""The pretrained-autoencoder store in the app: the Train page's found / will-train line, which AE
a run started from, and the list of entries with their sizes and delete buttons.

All that needs no browser is in :mod:`dcviz.pretrained`; this module draws it.
"""
from __future__ import annotations

import json
import logging
import time

import streamlit as st

from dcviz import pretrained as P
from dcviz.runs import pretraining as R
from dcviz.plaintext import error_text, format_bytes, md

LOG = logging.getLogger("dcviz.app")


@st.cache_data(show_spinner=False, max_entries=16)
def _plan(method_id: str, config_json: str, data_key: str, _data) -> R.PretrainPlan | None:
    """The run's pretraining plan (one build of the method and a hash of the data), kept per
    method, config and data: the page redraws often, the plan only changes with them."""
    from dcviz.methods import get_method
    cls = get_method(method_id)
    cfg = cls.Config.from_dict(json.loads(config_json))
    return R.plan_pretraining(cls, cfg, _data)


def pretrain_line(cls, config: dict, preset: str, dataset, where=None) -> None:
    """Before Launch: whether this run's pretrained AE is in the store (so pretraining is
    skipped) or how long pretraining will take. Nothing for methods without AE pretraining. The
    lookup reads one small file; the method is built once per config, never trained."""
    w = where or st
    if dataset is None:
        return
    try:
        cfg = cls.Config.from_preset(preset, **config)
        plan = _plan(cls.id, json.dumps(cfg.to_dict(), sort_keys=True, default=str),
                     json.dumps(dataset.spec, sort_keys=True, default=str), dataset)
        if plan is None:
            return
        status = R.pretrain_status(plan)
    except Exception as e:  # noqa: BLE001 - a bad config is reported at Launch; the page stays up
        LOG.debug("no pretraining line: %s", error_text(e))
        return
    text = status.text()
    if status.state == "found":
        w.success(md(text), icon=":material/check_circle:")
    else:
        w.caption(f":material/hourglass_top: {md(text)}")


def fresh_config(config: dict, rd=None) -> dict:
    """The run's config.json read again (the engine adds the pretrained-AE record once
    pretraining ends, after a cached view read it); ``config`` when it cannot be read."""
    if rd is not None:
        try:
            return rd.read_config()
        except Exception:  # noqa: BLE001 - a damaged or removed run keeps what was read
            pass
    return config


def provenance(config: dict, rd=None, where=None) -> None:
    """Which pretrained AE a run started from (nothing for a method without one)."""
    text = P.run_provenance(fresh_config(config, rd), store=P.PretrainedStore())
    if text:
        (where or st).caption(f"**Pretrained autoencoder.** {md(text)}")


# ---------------------------------------------------------------- the entries
def _delete(entry_id: str) -> None:
    ok = P.PretrainedStore().delete(entry_id)
    st.session_state["_store_notice"] = (
        ("success", f"Deleted pretrained AE {P.short_id(entry_id)}.") if ok else
        ("warning", f"Pretrained AE {P.short_id(entry_id)} was not deleted: a run is reading or "
                    "training it right now (or it is already gone)."))


def _clear() -> None:
    removed, busy = P.PretrainedStore().clear()
    st.session_state["_store_confirm_clear"] = False
    st.session_state["_store_notice"] = (
        "success", f"Deleted {removed} pretrained AE{'s' * (removed != 1)}"
        + (f"; {busy} in use by a run right now {'was' if busy == 1 else 'were'} kept." if busy
           else "."))


def store_section(key: str = "store", limit: int = 50) -> None:
    """The entries of the store: key fields, size, created, a delete button each, and "clear
    all" behind a confirmation."""
    store = P.PretrainedStore()
    try:
        rows = store.list()
    except OSError as e:
        st.warning(f"The pretrained-AE store at {md(store.root)} cannot be read: {md(error_text(e))}")
        return
    total = sum(r.get("bytes") or 0 for r in rows)
    title = (f"Pretrained autoencoders: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, "
             f"{format_bytes(total)}")
    notice = st.session_state.pop("_store_notice", None)
    with st.expander(title, expanded=notice is not None, icon=":material/inventory_2:"):
        titles = ", ".join(c.title for c in R.ae_methods())  # the registry's, a new one too
        st.caption(f"Every AE method ({md(titles)}) starts "
                   f"from a pretrained autoencoder, kept here and reused by any run with the same "
                   f"data, net, pretraining recipe and seed. Deleting one only costs the next such "
                   f"run its pretraining; runs keep their own weights. Folder: {md(store.root)}")
        if notice:
            getattr(st, notice[0])(md(notice[1]))
        if not rows:
            st.info("No pretrained autoencoder is kept yet. The first run of an AE method keeps "
                    "its own.")
            return
        now = time.time()
        # One entry a row of text and its Delete button: a table of seven columns broke its
        # words at 1024 px ("entr|y", "blob|s8", "142.|6 KB") and cut Delete to "D..".
        for row in rows[:limit]:
            shown = P.display_row(row, now)
            line = st.container(horizontal=True, vertical_alignment="center", gap="small",
                                border=True)
            made = f"  (made by {shown['made by']})" if shown["made by"] else ""
            line.markdown(
                f"**{md(shown['entry'])}** · {md(shown['data'] or '–')} · {md(shown['size'])} · "
                f"created {md(shown['created'])}  \n{md(shown['autoencoder'] + made)}  \n"
                f"pretraining: {md(shown['pretraining'])}", width="stretch")
            line.button("Delete", key=f"{key}_delete_{row['id']}", on_click=_delete,
                        args=(row["id"],), width="content",
                        help="Remove this pretrained AE from the store. The next run that "
                             "needs it pretrains it again.")
        if len(rows) > limit:
            st.caption(f"The {limit} newest of {len(rows)} entries are listed; "
                       "`python -m dcviz cache list` lists them all.")
        if not st.session_state.get("_store_confirm_clear"):
            st.button("Clear all…", key=f"{key}_clear", icon=":material/delete_sweep:",
                      on_click=st.session_state.__setitem__, args=("_store_confirm_clear", True),
                      help="Delete every pretrained AE (asks first).")
        else:
            st.warning(f"Delete all {len(rows)} pretrained autoencoders ({format_bytes(total)})? "
                       "Runs that need them pretrain them again.")
            c1, c2 = st.columns(2)
            c1.button("Yes, delete them all", key=f"{key}_clear_yes", type="primary",
                      on_click=_clear, help="Delete every entry that no run is using right now.")
            c2.button("Cancel", key=f"{key}_clear_no",
                      on_click=st.session_state.__setitem__, args=("_store_confirm_clear", False),
                      help="Keep the entries.")


def ae_letters(views: dict, names: dict[str, str], where=None) -> dict[str, str]:
    """Compare: a letter per pretrained AE among the chosen runs (run id -> RunView; the same
    letter: the same AE), with one line saying which runs share one; returns run id -> letter
    ("" for none)."""
    letters = P.shared_ae_letters({i: fresh_config(v.config, v.rd).get("pretrained")
                                   for i, v in views.items()})
    note = P.shared_ae_note(letters, names)
    if note:
        (where or st).caption(f":material/link: {md(note)}")
    return letters
