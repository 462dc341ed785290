"""Open a trained checkpoint and push new data through it.

    from dcviz.inference import open_model, load_new_data, infer
    model = open_model(store.open(run_id))          # the method, rebuilt from checkpoint.pt
    ds = load_new_data(model, "digits")             # DataError / ShapeError for data that cannot fit
    result = infer(model, ds)                       # assignments, confidence, latent, placement

What a person gets for new points:

- the cluster each point falls in, and the cluster sizes;
- a confidence per point where the method has one. Methods with soft assignments
  (``predict_proba``: DEC/IDEC's Student-t, MLC's membership, the GAN's classifier, DEKM's softmax
  over distances) give the probability of the chosen cluster. Methods that assign to the nearest
  centroid (AE + k-means, DCN) give the *distance margin*: how much farther the second-nearest
  centroid is than the nearest, in latent units (0 = on a border). Otherwise there is none, and
  the result says so;
- the new points placed in the run's latent view beside the training points: both are
  projected on the same 2-D PCA basis (fitted on the training points of the run's last snapshot),
  turned like the run's aligned PCA picture when that is given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcviz.runs.store import DATA_SCALE, RunDir, RunStoreError, read_data_scale

#: New data sets are cut to this many points (a fixed random subset) to keep the page quick.
MAX_NEW_POINTS = 10_000


class ShapeError(ValueError):
    """New data whose shape does not fit the checkpoint; the message names the expected shape."""


# --------------------------------------------------------------------------- the model

#: an AE method's pretraining, before it has clusters: the phase of its checkpoints (ctx.at)
#: and the stage of its snapshots bear this one name
PRETRAINING = "pretrain"


@dataclass
class Model:
    """A trained method with what is needed to feed it and to place its outputs."""

    run_id: str
    method: object                 # a dcviz Method with weights loaded
    config: dict                   # the run's config.json
    input_dim: int
    image_shape: tuple | None
    train_latent: np.ndarray | None = None   # the last snapshot's latent (the run's subsample)
    train_assign: np.ndarray | None = None
    train_index: np.ndarray | None = None    # which rows of the training data those are
    snapshot_index: int | None = None
    phase: str | None = None       # where fit stood when the checkpoint was saved (resumable ones)
    last_stage: str | None = None  # the stage of the run's last snapshot

    @property
    def before_clustering(self) -> bool:
        """Whether the checkpoint was saved while the autoencoder was still pretraining: its
        centroids are not fitted yet, so its assignments mean nothing."""
        return (self.phase if self.phase is not None else self.last_stage) == PRETRAINING

    @property
    def method_id(self) -> str:
        return self.config.get("method", getattr(self.method, "id", "?"))

    @property
    def n_clusters(self) -> int:
        return int(getattr(self.method.config, "n_clusters", 0))

    def expected_shape(self) -> str:
        return shape_text(self.input_dim, self.image_shape)


def shape_text(dim: int, image_shape) -> str:
    """'64 features (1x8x8 images)' or '10 features'."""
    if image_shape:
        return f"{dim} features ({'x'.join(str(int(s)) for s in image_shape)} images)"
    return f"{dim} features"


def open_model(rd: RunDir, device: str = "cpu") -> Model:
    """Rebuild the trained method of a run (checkpoint.pt, loaded with weights_only=True).

    RunStoreError for a damaged run folder or a checkpoint that declares a model larger than
    this machine allows (its sizes are checked before the model is built)."""
    problem = rd.check()
    if problem:
        raise RunStoreError(problem)
    cfg = rd.read_config()
    blob = rd.read_checkpoint()
    method = rd.load_checkpoint(device=device, blob=blob)
    image_shape = tuple(method.image_shape) if method.image_shape else None
    model = Model(run_id=rd.run_id, method=method, config=cfg, input_dim=int(method.input_dim),
                  image_shape=image_shape)
    resume = blob.get("resume") if isinstance(blob, dict) else None
    position = resume.get("position") if isinstance(resume, dict) else None
    if isinstance(position, dict) and isinstance(position.get("phase"), str):
        model.phase = position["phase"]
    rows = rd.metrics_rows()
    if rows and isinstance(rows[-1].get("stage"), str):
        model.last_stage = rows[-1]["stage"]
    if rd.count() > 0:
        snap = rd.load_snapshot(-1)
        model.train_latent = np.asarray(snap.latent, dtype=np.float64)
        model.train_assign = np.asarray(snap.assign)
        model.train_index = rd.read_subsample()
        model.snapshot_index = rd.count() - 1
    return model


# --------------------------------------------------------------------------- new data

def check_shape(model: Model, x: np.ndarray, image_shape=None, where: str = "the data") -> None:
    """ShapeError unless ``x`` (N, D) can go through ``model``."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ShapeError(f"{where} must be a table of points (N, D); got an array of shape {x.shape}")
    if x.shape[0] == 0:
        raise ShapeError(f"{where} has no points")
    if x.shape[1] != model.input_dim:
        raise ShapeError(f"this checkpoint expects {model.expected_shape()}; {where} has "
                         f"{shape_text(x.shape[1], image_shape)}")
    img = tuple(image_shape) if image_shape else None
    if model.image_shape and img and img != model.image_shape:
        raise ShapeError(f"this checkpoint expects {model.expected_shape()}; {where} has "
                         f"{shape_text(x.shape[1], img)}")
    if not np.all(np.isfinite(x)):
        raise ShapeError(f"{where} holds NaN or infinite values")


#: new data whose largest or mean absolute value is this many times the training data's (or that
#: fraction of it) get a warning: most likely scaled otherwise (raw 0-255 pixels against [0, 1]
#: training data, or an 0-16 image divided by 255 on upload)
SCALE_RATIO = 4.0


def _magnitudes(x: np.ndarray) -> tuple[float, float, float, float]:
    """(min, max, largest |value|, mean |value|) of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    return float(x.min()), float(x.max()), float(a.max()), float(a.mean())


def _recorded_magnitudes(record, features: int) -> tuple[float, float, float, float] | None:
    """(min, max, largest |value|, mean |value|) of the training data from the run's record of
    them (config.json's ``data_scale``), or None where there is none, it is malformed, or it is
    for another number of features."""
    rec = read_data_scale(record)
    if rec is None or rec["features"] != features:
        return None
    return rec["min"], rec["max"], rec["abs_max"], rec["abs_mean"]


def scale_warning(x: np.ndarray, train_x: np.ndarray | None, where: str = "the new data",
                  train_scale: dict | None = None) -> str | None:
    """A warning when ``x``'s values are on another scale than the training data's, else None.

    Compares the largest and the mean absolute value; a ratio beyond :data:`SCALE_RATIO` either
    way is reported. Nothing is refused: the model still assigns the points, but a model trained
    on values in [0, 1] assigns points in [0, 16] or [0, 0.06] mostly to one or two clusters.

    ``train_scale``: the run's record of its training data's magnitudes (config.json's
    ``data_scale``, written when the run was created), used when ``train_x`` is None (the data
    set is not on this machine, e.g. an imported run). A missing or malformed record: no warning.
    """
    x = np.asarray(x)
    if x.ndim != 2 or not x.size:
        return None
    if train_x is not None:
        train_x = np.asarray(train_x)
        if train_x.ndim != 2 or x.shape[1] != train_x.shape[1] or not train_x.size:
            return None
        trained = _magnitudes(train_x)
    else:
        trained = _recorded_magnitudes(train_scale, x.shape[1])
        if trained is None:
            return None
    lo, hi, big, mean = _magnitudes(x)
    tlo, thi, tbig, tmean = trained
    worst = 1.0
    ratios = []
    for new, old in ((big, tbig), (mean, tmean)):
        if old > 0 and new > 0:
            r = new / old
            ratios.append(r)
            worst = r if abs(np.log(r)) > abs(np.log(worst)) else worst
        elif old > 0 or new > 0:  # all zeros on one side only
            worst = np.inf if new > 0 else 0.0
    if 1.0 / SCALE_RATIO <= worst <= SCALE_RATIO:
        return None
    how = ("all zeros" if worst == 0 else "far larger" if not np.isfinite(worst)
           else f"about {worst:.3g} times larger" if worst > 1 else f"about {1 / worst:.3g} times smaller")
    factor = rescale_factor(ratios) if len(ratios) == 2 and np.isfinite(worst) and worst > 0 else None
    if factor is None:
        fix = "Scale the data as the training data was before pushing it"
    else:
        fix = (f"{'Divide' if factor > 1 else 'Multiply'} its values by "
               f"{_factor_text(factor if factor > 1 else 1 / factor)} before pushing it, to put "
               "them on the training data's scale")
    return (f"{where} is on another scale than the data the model was trained on: its values run "
            f"from {lo:.3g} to {hi:.3g} (mean |x| {mean:.3g}), the training data's from {tlo:.3g} "
            f"to {thi:.3g} (mean |x| {tmean:.3g}), {how}. The model sees such points where it "
            f"never saw training points, and its clusters may mean little for them. {fix} (an "
            "uploaded image array's values within [0, 1] are kept as they are; larger ones are "
            "divided by 255).")


#: how far apart the largest-value and the mean-value ratios may be for one factor to fix both
RATIO_AGREEMENT = 1.25
#: factors that are named exactly when a ratio is this close to them (raw 8-bit pixels)
ROUND_FACTORS = (255.0,)


def rescale_factor(ratios) -> float | None:
    """The one factor that puts new data on the training data's scale, from its ratios to the
    training data's largest and mean absolute values (new / trained): their geometric mean
    when they agree within :data:`RATIO_AGREEMENT` (a plain rescaling, such as raw 0-16 or
    0-255 values against [0, 1]), else None (the data differ in more than scale, and no one
    number says how to fix them)."""
    r = [float(v) for v in ratios]
    if len(r) != 2 or min(r) <= 0 or not all(np.isfinite(r)):
        return None
    if max(r) / min(r) > RATIO_AGREEMENT:
        return None
    return float(np.sqrt(r[0] * r[1]))


def _factor_text(f: float) -> str:
    """"255" where ``f`` is within 5 % of a usual factor, else "about 16" (two figures)."""
    for usual in ROUND_FACTORS:
        if abs(f / usual - 1) < 0.05:
            return f"{usual:.0f}"
    return f"about {float(f'{f:.2g}'):g}"


def load_new_data(model: Model, spec, max_points: int = MAX_NEW_POINTS):
    """Load a data set (any ``dcviz.data.load`` spec) and check that it fits ``model``.

    Raises DataError for data that cannot be loaded and ShapeError for data of the wrong shape.
    Sets above ``max_points`` are cut to a fixed random subset of that size.
    """
    from dcviz import data as D
    ds = D.load(spec)
    label = ds.name
    check_shape(model, ds.x, ds.image_shape, where=f"{label}")
    if ds.n > max_points:
        idx = np.sort(np.random.default_rng(0).choice(ds.n, size=max_points, replace=False))
        ds = D.Dataset(x=ds.x[idx], y=None if ds.y is None else ds.y[idx],
                       image_shape=ds.image_shape, name=f"{ds.name} ({max_points} of {ds.n})",
                       class_names=ds.class_names, spec=ds.spec)
    return ds


OWN_DATA_WHY = "the points the model was trained on (a sanity check: the assignments should " \
               "match the run's)"


def new_data_choices(config: dict, datasets: list[dict] | None = None) -> list[dict]:
    """What a person may push through a run's model, besides an uploaded file.

    Each entry: ``label``, ``spec`` (for ``dcviz.data.load``), ``why`` (one line), ``download``
    (True when the set is fetched from the network on first use). First the run's own data set
    in another split or another random draw where it has one, then the training data itself
    (a registered set, or the file or folder the run was trained on while it is still there),
    then every other registered set (a shape that does not fit is refused when it is chosen).
    """
    from dcviz import data as D
    datasets = D.list_datasets() if datasets is None else datasets
    by_id = {d["id"]: d for d in datasets}
    spec = config.get("data")
    try:
        norm = D.normalise_spec(spec)
    except Exception:  # noqa: BLE001 - a withheld or foreign spec
        norm = None
    out: list[dict] = []
    own = norm.get("name") if isinstance(norm, dict) else None
    if own in by_id:
        entry = by_id[own]
        opts = entry.get("options") or {}
        if "subset" in opts:
            current = norm.get("subset", opts["subset"].get("default"))
            for sub in opts["subset"].get("choices") or []:
                if sub != current and sub != "all":
                    out.append(dict(label=f"{entry['title']}: the {sub} split", spec={**norm, "subset": sub},
                                    why=f"the {sub} split of the data the model was trained on",
                                    download=entry.get("kind") == "download"))
        if entry.get("kind") == "synthetic" and "seed" in opts:
            seed = int(norm.get("seed", 0)) + 1
            out.append(dict(label=f"{entry['title']}: a fresh draw (seed {seed})",
                            spec={**norm, "seed": seed},
                            why="new points from the same distribution, never seen in training",
                            download=False))
        out.append(dict(label=f"{entry['title']}: the training data itself", spec=norm,
                        why=OWN_DATA_WHY, download=entry.get("kind") == "download"))
    elif isinstance(norm, dict) and isinstance(norm.get("path"), str) \
            and Path(norm["path"]).exists():
        # A run trained on a file of this machine's (the CLI's --data, or an upload): its
        # training data. Imported runs never get here: an archive's paths are withheld on import.
        name = Path(norm["path"]).name or norm["path"]
        out.append(dict(label=f"{name}: the training data itself", spec=norm,
                        why=OWN_DATA_WHY, download=False))
    for d in datasets:
        if d["id"] == own:
            continue
        out.append(dict(label=d["title"], spec=d["id"], why=d.get("description", ""),
                        download=d.get("kind") == "download"))
    return out


# --------------------------------------------------------------------------- confidence

def _centroids(method) -> np.ndarray | None:
    c = getattr(method, "centroids", None)
    if c is None:
        return None
    try:
        import torch
        if isinstance(c, torch.Tensor):
            c = c.detach().cpu().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    c = np.asarray(c, dtype=np.float64)
    return c if c.ndim == 2 else None


def distance_margin(z: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centroid, margin) per point: margin = d(second nearest) - d(nearest) >= 0."""
    z = np.asarray(z, dtype=np.float64)
    d = np.sqrt(np.maximum(((z[:, None, :] - centroids[None, :, :]) ** 2).sum(-1), 0.0))
    order = np.argsort(d, axis=1)
    nearest = order[:, 0]
    rows = np.arange(len(z))
    if centroids.shape[0] < 2:
        return nearest, np.zeros(len(z))
    return nearest, d[rows, order[:, 1]] - d[rows, nearest]


@dataclass
class Confidence:
    kind: str | None          # "probability", "margin" or None
    values: np.ndarray | None
    text: str                 # what the numbers mean, for people


def confidence(method, x: np.ndarray, z: np.ndarray, assign: np.ndarray) -> Confidence:
    """The method's own confidence in each assignment (see the module docstring)."""
    proba = method.predict_proba(x)
    if proba is not None:
        p = np.asarray(proba, dtype=np.float64)
        if p.ndim == 2 and p.shape[0] == len(x):
            a = np.asarray(assign)
            chosen = p[np.arange(len(x)), a] if p.shape[1] > int(a.max(initial=0)) else p.max(1)
            return Confidence("probability", chosen,
                              f"{getattr(method, 'title', 'the method')}'s soft assignment: the "
                              "probability of the chosen cluster (1 = certain, 1/k = no idea)")
    c = _centroids(method)
    if c is not None and c.shape[1] == z.shape[1] and c.shape[0] >= 2:
        nearest, margin = distance_margin(z, c)
        # Only where "nearest centroid in the embedding" is how the method assigns: a method
        # with its own distance (ACe/DeC's weighted cluster space) would be misdescribed.
        if np.mean(nearest == np.asarray(assign)) >= 0.99:
            return Confidence("margin", margin,
                              "distance margin: how much farther the second-nearest centroid is "
                              "than the nearest one, in latent units (0 = on a cluster border)")
    return Confidence(None, None, f"{getattr(method, 'title', 'this method')} gives no "
                      "confidence for its assignments (no soft assignment, and it does not "
                      "assign by plain distance to centroids in its embedding)")


#: a confidence is the model's own: what it is not
CONFIDENCE_IS_NOT_FIT = (
    "A high confidence is not evidence that the data fits the model: points far from every "
    "training point can get near-certain assignments.")


def confidence_caption(result: "Inference") -> str:
    """The sentences under the confidence plot: what the numbers are (a sentence, its first
    letter capitalised and nothing else: "DEKM's soft assignment", not "Dekm's"), their median
    and the least sure point, and that confidence is not fit; where the data is on another
    scale than the training data (``result.scale_warning``), that these points' confidence
    says nothing about fit. "" for a method with no confidence."""
    conf = result.confidence
    if conf.kind is None or conf.values is None or not len(conf.values):
        return ""
    low = int(np.argmin(conf.values))
    text = (f"{conf.text[:1].upper() + conf.text[1:]}. Median {np.median(conf.values):.3g}; "
            f"least sure: point {low} ({conf.values[low]:.3g}). {CONFIDENCE_IS_NOT_FIT}")
    if result.scale_warning:
        text += (" These points are on another scale than the training data (see the warning "
                 "above), so their confidence says nothing of how well they fit.")
    return text


# --------------------------------------------------------------------------- placement

def pca_basis(latent: np.ndarray, reference: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, W) with W (d, 2) such that (latent - mean) @ W is the 2-D PCA picture.

    With ``reference`` ((n, 2), e.g. the run's aligned PCA of the same points), W is turned
    (orthogonal Procrustes) so that the picture matches it: the new points then appear in the
    same orientation as on the Explore page."""
    from dcviz.projection import procrustes_rotation
    z = np.asarray(latent, dtype=np.float64)
    mean = z.mean(axis=0)
    zc = z - mean
    d = z.shape[1]
    if d == 1:
        w = np.array([[1.0, 0.0]])
    else:
        _, _, vt = np.linalg.svd(zc, full_matrices=False)
        w = vt[:2].T
        if w.shape[1] < 2:
            w = np.column_stack([w, np.zeros(d)])
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.shape == (len(z), 2):
            w = w @ procrustes_rotation(zc @ w, ref - ref.mean(axis=0))
    return mean, w


@dataclass
class Inference:
    """Everything the Checkpoints page shows for one batch of new points."""

    assign: np.ndarray                 # (n,) cluster of each new point
    latent: np.ndarray                 # (n, d)
    sizes: np.ndarray                  # (k,) points per cluster
    confidence: Confidence
    coords: np.ndarray | None = None           # (n, 2) new points in the run's 2-D view
    train_coords: np.ndarray | None = None     # (m, 2) the run's training points, same basis
    train_source: str = ""                     # where the training picture comes from
    scale_warning: str | None = None           # the new data's values on another scale (scale_warning)
    scores: dict = field(default_factory=dict)  # ACC/NMI/ARI when the new data has labels


def infer(model: Model, ds, reference: np.ndarray | None = None,
          train_x: np.ndarray | None = None, train_data: np.ndarray | None = None) -> Inference:
    """Push ``ds`` (a Dataset already checked by :func:`load_new_data`) through the model.

    ``reference``: the run's aligned PCA picture of its last snapshot (to match orientation).
    ``train_x``: the training points of the run's subsample, when the data set is available
    here, to check that the checkpoint embeds them where the last snapshot has them.
    ``train_data``: the run's training data (all of it; ``train_x`` when not given), to warn when
    the new data's values are on another scale (``result.scale_warning``). Without either, the
    run's record of its training data's magnitudes (config.json's ``data_scale``) is used.
    """
    from dcviz import metrics as M
    x = np.asarray(ds.x, dtype=np.float32)
    check_shape(model, x, getattr(ds, "image_shape", None), where=getattr(ds, "name", "the data"))
    m = model.method
    z = np.asarray(m.embed(x), dtype=np.float64)
    bad = int((~np.isfinite(z)).any(axis=1).sum()) if z.ndim == 2 else 0
    if bad:  # a diverged network: its argmax over NaN puts every point in cluster 0
        raise ValueError(f"the checkpoint's network places {bad} of the {len(z)} points at NaN or "
                         "infinite coordinates (its weights diverged in training), so its "
                         "clusters would mean nothing; open an earlier or another run")
    assign = np.asarray(m.predict(x), dtype=np.int64)
    k = max(model.n_clusters, int(assign.max(initial=-1)) + 1)
    sizes = np.bincount(assign, minlength=k)
    conf = confidence(m, x, z, assign)
    result = Inference(assign=assign, latent=z, sizes=sizes, confidence=conf)
    result.scale_warning = scale_warning(x, train_data if train_data is not None else train_x,
                                         where=getattr(ds, "name", None) or "the new data",
                                         train_scale=(model.config.get(DATA_SCALE)
                                                      if isinstance(model.config, dict) else None))
    if getattr(ds, "y", None) is not None and len(np.unique(ds.y)) >= 1:
        result.scores = M.cluster_scores(ds.y, assign)

    train, source = _training_picture(model, z.shape[1], train_x)
    if train is not None:
        mean, w = pca_basis(train, reference if source == "snapshot" else None)
        result.train_coords = (train - mean) @ w
        result.coords = (z - mean) @ w
    result.train_source = source
    return result


def placement_axes(train_source: str) -> tuple[str, str]:
    """Axis titles of the placement picture: the run's aligned PCA only where the training
    picture is the last snapshot's (turned like Explore's); else plain PCA of the training
    points embedded again."""
    if train_source == "snapshot":
        return "PC 1 (run's aligned PCA)", "PC 2"
    return "PC 1 (PCA of the training points)", "PC 2"


def _training_picture(model: Model, d: int, train_x) -> tuple[np.ndarray | None, str]:
    """The training points in the model's embedding: the last snapshot's latent when it is the
    same space as ``embed`` (checked on the data when available), else the training data
    embedded again with the checkpoint."""
    snap = model.train_latent
    if snap is not None and (snap.shape[1] != d or not np.isfinite(snap).all()):
        snap = None  # another space, or a run that diverged (no PCA basis from NaN: the SVD fails)
    if snap is not None and train_x is None:
        return snap, "snapshot"
    again = None
    if train_x is not None:
        again = np.asarray(model.method.embed(np.asarray(train_x, dtype=np.float32)), dtype=np.float64)
        if not np.isfinite(again).all():
            again = None  # weights that give NaN (a damaged or diverged checkpoint)
    if snap is not None and (again is None or (again.shape == snap.shape and np.allclose(
            again, snap, rtol=1e-3, atol=1e-3 * (np.abs(snap).max() + 1e-12)))):
        return snap, "snapshot"
    if again is not None:
        return again, "embedded"
    return None, "none"


def examples_per_cluster(assign: np.ndarray, per_cluster: int = 8, seed: int = 0,
                         order: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """Up to ``per_cluster`` point indices for each cluster that has points.

    With ``order`` (a score per point, e.g. the confidence), the highest come first; otherwise a
    fixed random choice."""
    assign = np.asarray(assign)
    rng = np.random.default_rng(seed)
    out = {}
    for c in np.unique(assign):
        idx = np.flatnonzero(assign == c)
        if order is not None:
            idx = idx[np.argsort(-np.asarray(order)[idx], kind="stable")]
        else:
            idx = rng.permutation(idx)
        out[int(c)] = idx[:per_cluster]
    return out


def cluster_grid(images: np.ndarray, examples: dict[int, np.ndarray], per_cluster: int) -> np.ndarray:
    """One row of example images per cluster (blank cells where a cluster has fewer points)."""
    from dcviz.viz import image_grid
    images = np.asarray(images, dtype=np.float32)
    blank = np.ones_like(images[0])
    cells = []
    for c in sorted(examples):
        idx = list(examples[c])
        cells += [images[i] for i in idx] + [blank] * (per_cluster - len(idx))
    return image_grid(np.stack(cells), ncols=per_cluster, pad=1, pad_value=1.0)


def training_x(model: Model, ds) -> np.ndarray | None:
    """The training points of the run's last snapshot, from the run's data set (or None)."""
    if ds is None or model.train_index is None:
        return None
    if ds.dim != model.input_dim or model.train_index.max(initial=-1) >= ds.n:
        return None
    return ds.x[model.train_index]


__all__ = ["Confidence", "Inference", "MAX_NEW_POINTS", "Model", "RunStoreError", "ShapeError",
           "check_shape", "cluster_grid", "confidence", "distance_margin", "examples_per_cluster",
           "infer", "load_new_data", "new_data_choices", "open_model", "pca_basis",
           "placement_axes", "scale_warning", "confidence_caption", "rescale_factor",
           "shape_text", "training_x"]
