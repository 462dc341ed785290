"""Sweeps: a sweep (methods x data x seeds) read as the papers' table, a dot per seed beside it.

Which sweep (see tests/test_sweep_page.py): the ``sweep`` query parameter, else
``st.session_state["sweep_pick"]`` (the picker's key), else the newest. A click on a dot
selects it in the chart keyed ``sweep_dots``; its run opens in Explore.
"""
from __future__ import annotations

import streamlit as st

from dcviz.plaintext import md
from dcviz.runs.sweep import Sweep, SweepError, active, list_sweeps, sync
from dcviz.runs.table import CLUSTER, NAMES, collect, columns, to_csv, to_markdown
from dcviz.viz.sweep import run_from_selection, seed_dots_figure
from ui import nav
from ui.look import plot_config
from ui.pickers import from_link, not_found, to_link
from ui.player import timer
from ui.shared import cli_command, runs_root

nav.require_app("sweeps")
state = st.session_state


def no_sweeps() -> None:
    st.info("No sweep yet. A sweep trains every method you pick on every data set, over several "
            "seeds, and reads as the papers' tables: the median, min and max over the seeds.")
    st.markdown("From a terminal: this command trains DEC and DEKM on the digits with seeds 0, 1 "
                "and 2 (six quick-preset runs, two at a time) into the runs folder this app "
                "shows; reload this page once it has started to see the table fill in.")
    st.code(cli_command("sweep --methods dec,dekm --data digits --seeds 0-2 --jobs 2"),
            language="bash")
    if st.button("Compare methods on the Train page", icon=":material/model_training:",
                 help="The Train page's \"Compare methods\" runs the methods you pick on its data "
                      "set over 3 seeds, as a sweep that opens here."):
        st.switch_page(nav.PAGES["train"])


def pick(sweeps: list[dict]) -> str:
    ids = [s["sweep_id"] for s in sweeps]
    # The link is followed only when it changed: the page writes the shown sweep into it on
    # every run, so following it always would undo each choice made in the picker.
    asked = from_link("sweep", "sweep_pick")
    if asked in ids:
        state["sweep_pick"] = asked
    elif asked:
        not_found([asked], "no such sweep", "Showing the newest sweep instead.")
        state["sweep_pick"] = ids[0]
    elif state.get("sweep_pick") not in ids:
        # no choice kept (first visit, or the picker's state was dropped while on another
        # page): the link's sweep if it names one, else the newest
        linked = st.query_params.get("sweep")
        state["sweep_pick"] = linked if linked in ids else ids[0]
    by_id = {s["sweep_id"]: s for s in sweeps}

    def label(sweep_id: str) -> str:
        # Only what never changes: the browser keeps a keyed box's first label of the chosen
        # sweep, so "0/6 done" stayed after all six were done. The caption below counts them.
        s = by_id[sweep_id]
        plan = s["plan"] or {}
        what = ", ".join(plan.get("methods", [])) or "?"
        data = ", ".join(str(d[-1] if isinstance(d, (list, tuple)) else d)
                         for d in plan.get("data", []))
        return f"{sweep_id}: {what}" + (f" on {data}" if data else "") + f" · {s['trials']} trials"

    chosen = st.selectbox("Sweep", ids, key="sweep_pick", format_func=label,
                          help="Sweeps of this run store, newest first: started from the CLI "
                               "(python -m dcviz sweep) or by Compare methods on the Train page.")
    to_link("sweep", "sweep_pick", chosen)
    return chosen


def table(sweep: Sweep, manifest: dict) -> None:
    rows = collect(sweep)
    counts: dict[str, int] = {}
    for t in manifest["trials"]:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    plan = manifest["plan"]
    st.caption(md(f"{len(manifest['trials'])} trials: " + ", ".join(
        f"{n} {s}" for s, n in sorted(counts.items())) + f" · preset {plan.get('preset', 'quick')}"
        + (" · settings " + ", ".join(f"{k}={v}" for k, v in plan["sets"].items())
           if plan.get("sets") else "")
        + (" · grid " + "; ".join(f"{k}={', '.join(map(str, v))}" for k, v in plan["grid"].items())
           if plan.get("grid") else "")))
    cols = columns(rows)
    if not any(r.seeds for r in rows):
        st.info("No trial of this sweep is done yet. The table fills in as they finish."
                if active(manifest) else "No trial of this sweep finished; run it again to resume.")
        return
    records = []
    for r in rows:
        rec = {"method": r.label, "data": r.data, "seeds": len(r.seeds)}
        for c in cols:
            s = r.stat(c)
            rec[NAMES.get(c, c)] = ("" if s is None else
                                    f"{s[0]:.1f} [{s[1]:.1f}, {s[2]:.1f}]" if c == "seconds" else
                                    f"{s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}]")
        records.append(rec)
    st.dataframe(records, hide_index=True, width="stretch")
    st.caption("Each cell: median [min, max] over the seeds whose run is done. The dots below: "
               "one per seed, the red bar at the median. Click a dot to open that run in Explore.")
    shown = st.multiselect("Scores with a dot per seed", cols, key="sweep_columns",
                           default=[c for c in cols if c in CLUSTER] or cols[:1],
                           format_func=lambda c: NAMES.get(c, c),
                           help="Which scores get a panel of per-seed dots.")
    event = st.plotly_chart(seed_dots_figure(rows, shown), key="sweep_dots", on_select="rerun",
                            selection_mode="points", config=plot_config(f"{sweep.sweep_id}"))
    run_id = run_from_selection(event)
    if run_id in {i for r in rows for i in r.run_ids}:
        st.switch_page(nav.PAGES["explore"], query_params={"run": run_id})
    # side by side at the left, each as wide as its words (two half-page columns left the
    # second button floating in the middle of the page)
    row = st.container(horizontal=True, gap="small")
    row.download_button("Table as CSV", to_csv(rows), f"{sweep.sweep_id}.csv", "text/csv",
                        help="Per row: seeds done, then each score's median, min and max.")
    row.download_button("Table as Markdown", to_markdown(rows), f"{sweep.sweep_id}.md",
                        "text/markdown", help="The table as in a paper, for a README or notes.")
    failed = [(r, seed, s, e) for r in rows for seed, s, e in r.not_done if s not in ("queued", "running")]
    for r, seed, s, e in failed:
        st.warning(md(f"{r.label} on {r.data}, seed {seed}: {s}" + (f" ({e})" if e else "")))


st.title("Sweeps")
sweeps = list_sweeps(runs_root())
if not sweeps:
    no_sweeps()
    st.stop()
chosen = pick(sweeps)
try:
    sweep = Sweep.open(runs_root(), chosen)
    manifest = sync(sweep)
except SweepError as e:
    st.error(md(f"This sweep cannot be read: {e}"))
    st.stop()
timer(lambda: table(sweep, sync(sweep)), "sweeps",
      every=lambda: 2.0 if active(sync(sweep)) else None)
