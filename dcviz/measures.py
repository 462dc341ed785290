"""What the pages call the numbers a run records, in which unit, and which are no curves.

One name and one unit per quantity on every page: Explore's Metrics tab and snapshot table, the
lenses, and Compare's curves and table all read them here. A run's metrics.jsonl keeps the raw
values (shares as fractions 0-1); only what people read is converted.

- :data:`PERCENT`: shares recorded as fractions, shown in percent, with their name;
- :data:`COUNTERS`: numbers that say where a snapshot is (DEKM's re-clustering iteration,
  ACe/DeC's warm-up round), not how training goes: they belong in the snapshot's label
  (:func:`dcviz.runs.labels.snapshot_label`), not on a curve;
- :data:`INTERNAL`: extras the pages use themselves (the method axes' names), never shown as a
  value.
"""
from __future__ import annotations

#: short names of the scores and the geometry metrics (DCRL's appendix A.4)
NAMES = {"acc": "ACC", "nmi": "NMI", "ari": "ARI", "trust": "Trust", "cont": "Cont",
         "rre": "RRE", "drmse": "d-RMSE", "lgd": "LGD", "cra": "CRA"}

#: loss terms whose recorded key does not read as words (the key stays in metrics.jsonl)
LOSS_NAMES = {"kmeans": "k-means loss"}

#: ACC, NMI and ARI: against the true labels, on [0, 1]
SCORE_KEYS = ("acc", "nmi", "ari")
SCORES_TITLE = "true-label scores (0–1)"

#: shares recorded as fractions (0-1), shown in percent: key -> what it counts (short: it is a
#: subplot's title in a column half a page wide)
PERCENT = {
    # DEKM: since the last re-clustering (the first has none before it: no value)
    "changed": "points that changed cluster",
    # DEC / IDEC: between the starts of two epochs (the first epoch has none: no value)
    "labels_changed": "points that changed cluster",
}

#: where a snapshot is, not how training goes: in its label, never on a curve
COUNTERS = ("iteration", "init_round")

#: what a counter's step is called in a snapshot's label
#: (ACe/DeC's warm-up round is in its stage's name already)
STEP_NAMES = {"iteration": "re-clustering"}

#: extras for the pages' own use, never shown as a value
INTERNAL = ("axes_names",)


def title(key: str) -> str:
    """What a page calls ``key``, with its unit where it has one: "ACC", "points that changed
    cluster (%)", or the key itself."""
    if key in PERCENT:
        return f"{PERCENT[key]} (%)"
    return NAMES.get(key, key)


def loss_title(key: str) -> str:
    """What a page calls the loss term ``key``: "k-means loss", or the key itself."""
    return LOSS_NAMES.get(key, key)


def factor(key: str) -> float:
    """What a recorded value of ``key`` is multiplied by to read in :func:`title`'s unit."""
    return 100.0 if key in PERCENT else 1.0


def shown(key: str, value):
    """``value`` in the unit :func:`title` names (percent for a share); None stays None."""
    return None if value is None else factor(key) * float(value)


def is_curve(key: str) -> bool:
    """Whether a number recorded under ``key`` is drawn as a curve over the snapshots."""
    return key not in COUNTERS and key not in INTERNAL


def without_placeholders(rows):
    """metrics.jsonl rows without the 1.0 that runs recorded before the fix wrote as their first
    share of changed points, where there was nothing before to compare with (DEKM's first
    k-means, DEC's first epoch): a run's first value of a :data:`PERCENT` key (in "metrics" or
    "scalars"), when it is exactly 1.0, is dropped from that row (the row is copied; the others
    are passed on as they are). Runs recorded since have no value there."""
    out = list(rows)
    for key in PERCENT:
        for i, r in enumerate(out):
            fields = [f for f in ("metrics", "scalars") if key in (r.get(f) or {})]
            if not fields:
                continue
            if all(r[f][key] == 1.0 for f in fields):
                out[i] = {**r, **{f: {k: v for k, v in r[f].items() if k != key} for f in fields}}
            break
    return out
