"""The ACe/DeC lens: the cluster space against the shared space, as the paper shows them.

- beta_cs of every (rotated) latent dimension, for the chosen snapshot and over training: the
  soft split into cluster space and shared space as it is learned;
- the most clustered dimension against the first principal component of the shared space, for
  the chosen snapshot (Fig. 3, left);
- Fig. 3 with its traversal: markers along a shared-space PC, and beside them the decoded grid,
  one row per cluster, where the cluster-space coordinates stay fixed (at the row's centroid)
  while the shared-space coordinates walk along the PC;
- Fig. 1b: inputs, their reconstructions, and the reconstructions from the cluster space alone
  and from the shared space alone.

The first two come from the snapshots. Decoding needs the network, so the decoded views use the
run's checkpoint (``RunView.method``), the latest one saved; when the chosen snapshot is not the
checkpoint's epoch, the panel says so. For vector data the decoded points are drawn in the first
two principal components of the input space instead of as images.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dcviz.methods.acedec import AceDecExtras
from dcviz.probes import MAX_POINTS
from dcviz.viz.base import Lens, Option, Panel, image_grid
from dcviz.viz.style import INK, MUTED, PALETTE
N_STEPS = 7          # traversal markers along the PC, equidistant
MAX_ROWS = 10        # traversal rows (clusters) shown
MAX_SAMPLES = 10     # Fig. 1b columns
MAX_HISTORY = 120    # snapshots read for the beta_cs-over-training chart


# --------------------------------------------------------------------------- pure helpers

def shared_pca(shared: np.ndarray, n: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(mean, components (n, d_ss), scores (N, n)) of shared-space coordinates; None if empty.

    Signs are fixed (largest loading positive), as in the method's snapshot axes."""
    shared = np.asarray(shared, dtype=np.float64)
    if shared.ndim != 2 or shared.shape[1] == 0 or len(shared) < 2:
        return None
    mean = shared.mean(0)
    _, _, vt = np.linalg.svd(shared - mean, full_matrices=False)
    vt = vt[:n]
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    return mean, vt, (shared - mean) @ vt.T


def traversal_codes(zr: np.ndarray, beta_cs: np.ndarray, centroids_r: np.ndarray, threshold: float,
                    pc: int = 1, n_steps: int = N_STEPS, rows: int = MAX_ROWS) -> dict | None:
    """Rotated codes of Fig. 3's traversal grid.

    Row r keeps the cluster-space coordinates of centroid r; along the row, the shared-space
    coordinates walk along shared PC ``pc`` through ``n_steps`` equidistant values between the
    5th and 95th percentiles of the data's scores, starting from the shared-space mean.
    Returns codes (rows, n_steps, d) and the marker positions, or None if the shared space has
    fewer than ``pc`` dimensions.
    """
    beta_cs = np.asarray(beta_cs)
    cs = beta_cs > threshold
    ss_idx = np.flatnonzero(~cs)
    if len(ss_idx) < pc:
        return None
    pca = shared_pca(zr[:, ss_idx], n=pc)
    if pca is None or pca[1].shape[0] < pc:
        return None
    mean, comps, scores = pca
    axis, s = comps[pc - 1], scores[:, pc - 1]
    steps = np.linspace(np.percentile(s, 5), np.percentile(s, 95), n_steps)
    k = min(len(centroids_r), rows)
    codes = np.repeat(np.asarray(centroids_r[:k], dtype=np.float64)[:, None, :], n_steps, axis=1)
    codes[:, :, ss_idx] = mean[None, None, :] + steps[None, :, None] * axis[None, None, :]
    top = int(np.argmax(beta_cs))
    return {"codes": codes, "steps": steps, "scores": s, "top": top,
            "marker_y": np.asarray(centroids_r[:k])[:, top], "ss_idx": ss_idx}


def pick_samples(assign: np.ndarray, n: int = MAX_SAMPLES) -> np.ndarray:
    """Positions of Fig. 1b's samples: the first point of each cluster, then more in turn."""
    assign = np.asarray(assign)
    groups = [np.flatnonzero(assign == c) for c in np.unique(assign)]
    out, depth = [], 0
    while len(out) < min(n, len(assign)):
        added = False
        for g in groups:
            if depth < len(g) and len(out) < n:
                out.append(int(g[depth]))
                added = True
        if not added:
            break
        depth += 1
    return np.array(sorted(out), dtype=np.int64)


def _as_images(rows: np.ndarray, image_shape) -> np.ndarray:
    c, h, w = image_shape
    imgs = np.asarray(rows, dtype=np.float32).reshape(-1, c, h, w)
    return imgs[:, 0] if c == 1 else imgs.transpose(0, 2, 3, 1)


def input_axes(x: np.ndarray, second: np.ndarray | None = None):
    """A 2-D view of input-space points: x axis = the data's first principal component; y axis =
    ``second`` (a direction in input space, made orthogonal to the first) or else PC2.

    For vector data, the shared variation can lie in directions of little variance (SYNTH-25's
    noise dimensions hide behind its cluster dimensions in PC1/PC2), so the decoded views put the
    direction the shared space moves along on the y axis."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    e1 = vt[0]
    e2 = vt[1] if len(vt) > 1 else np.zeros_like(e1)
    if second is not None:
        v = np.asarray(second, dtype=np.float64) - (np.asarray(second) @ e1) * e1
        if np.linalg.norm(v) > 1e-9:
            e2 = v / np.linalg.norm(v)
    basis = np.stack([e1, e2])
    return lambda y: (np.asarray(y, dtype=np.float64) - mean) @ basis.T


def _main_direction(points: np.ndarray) -> np.ndarray:
    """First principal direction of a set of points (input space)."""
    p = np.asarray(points, dtype=np.float64)
    _, _, vt = np.linalg.svd(p - p.mean(0), full_matrices=False)
    return vt[0]


# --------------------------------------------------------------------------- figures

def beta_bar_figure(beta: np.ndarray, threshold: float, title: str = "") -> go.Figure:
    beta = np.asarray(beta, dtype=np.float64)
    colors = [PALETTE[0] if b > threshold else "#9e9e9e" for b in beta]
    fig = go.Figure(go.Bar(x=[f"z{i}" for i in range(len(beta))], y=beta, marker_color=colors,
                           hovertemplate="%{x}: beta_cs %{y:.3f}<extra></extra>"))
    fig.add_hline(y=threshold, line_dash="dot", line_color=MUTED,
                  annotation_text=f"cluster space above {threshold:g}", annotation_position="top left")
    fig.update_layout(yaxis=dict(range=[0, 1], title="beta_cs = sigmoid(b)"), height=320,
                      xaxis_title="rotated latent dimension (V^T z)", title=title or None,
                      margin=dict(l=10, r=10, t=40, b=10), uirevision="acedec-beta")
    return fig


def beta_history_figure(epochs: list, stages: list, betas: np.ndarray, current_epoch: int | None,
                        threshold: float) -> go.Figure:
    fig = go.Figure()
    for i in range(betas.shape[1]):
        fig.add_trace(go.Scatter(x=epochs, y=betas[:, i], mode="lines", name=f"z{i}",
                                 line=dict(color=PALETTE[i % len(PALETTE)]),
                                 text=stages, hovertemplate="z" + str(i) +
                                 " epoch %{x} (%{text}): %{y:.3f}<extra></extra>"))
    fig.add_hline(y=threshold, line_dash="dot", line_color=MUTED)
    if current_epoch is not None:
        fig.add_vline(x=current_epoch, line_color=INK)
    fig.update_layout(yaxis=dict(range=[0, 1], title="beta_cs"), xaxis_title="epoch", height=320,
                      margin=dict(l=10, r=10, t=30, b=10), uirevision="acedec-beta-history")
    return fig


def fig3_scatter(x: np.ndarray, y: np.ndarray, color: np.ndarray, color_name: str,
                 names, index: np.ndarray, xname: str, yname: str, markers: dict | None = None,
                 title: str = "") -> go.Figure:
    fig = go.Figure()
    color = np.asarray(color)
    for v in np.unique(color):
        m = color == v
        label = names[int(v)] if names is not None and 0 <= int(v) < len(names) else str(int(v))
        fig.add_trace(go.Scatter(x=x[m], y=y[m], mode="markers", name=f"{label}",
                                 marker=dict(size=4, color=PALETTE[int(v) % len(PALETTE)], opacity=0.6),
                                 customdata=index[m],
                                 hovertemplate=f"sample %{{customdata}}<br>{color_name} {label}<extra></extra>"))
    if markers is not None:
        xs = np.tile(markers["steps"], len(markers["marker_y"]))
        ys = np.repeat(markers["marker_y"], len(markers["steps"]))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="traversal",
                                 marker=dict(symbol="x", size=11, color=INK, line=dict(width=1, color=INK)),
                                 hovertemplate="decoded at (%{x:.2f}, %{y:.2f})<extra></extra>"))
    fig.update_layout(xaxis_title=xname, yaxis_title=yname, height=460, title=title or None,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(itemsizing="constant"),
                      uirevision="acedec-fig3")
    return fig


# --------------------------------------------------------------------------- the lens

def _threshold(run) -> float:
    return float(run.config.get("config", {}).get("cluster_threshold", 0.55))


def _b_lr_factor(run) -> float:
    """How many times b's learning rate is the network's, in this run (the config's default, 10,
    for a run recorded without it)."""
    return float(run.config.get("config", {}).get("b_lr_factor", 10.0))


def _times(factor: float) -> str:
    words = {1.0: "equal to", 2.0: "twice", 10.0: "ten times"}
    return words.get(factor, f"{factor:g} times")


def _colour(run, snap, how: str):
    labels = run.labels_sub
    ds = run.dataset
    if how == "true label" and labels is not None:
        return np.asarray(labels), "true label", (ds.class_names if ds is not None else None)
    return np.asarray(snap.assign), "cluster", None


def _history(run, threshold):
    n = run.count
    idx = [i for i, r in enumerate(run.rows()) if r.get("stage") != "pretrain"]
    if len(idx) > MAX_HISTORY:
        idx = [idx[int(j)] for j in np.linspace(0, len(idx) - 1, MAX_HISTORY)]
    epochs, stages, betas = [], [], []
    for i in idx:
        if i >= n:
            continue
        s = run.snapshot(i)
        beta_cs = AceDecExtras.from_snapshot(s).beta_cs
        if beta_cs is not None:
            epochs.append(s.epoch)
            stages.append(s.stage)
            betas.append(np.asarray(beta_cs, dtype=np.float64))
    return epochs, stages, (np.stack(betas) if betas else None)


LIVE = "beta_cs per latent dimension"


def build(run, index: int, options: dict) -> list[Panel]:
    snap = run.snapshot(index)
    threshold = _threshold(run)
    panels: list[Panel] = []
    ex = AceDecExtras.from_snapshot(snap)
    if ex.beta_cs is None:
        panels.append(Panel(
            title=LIVE,
            table=[{"stage": snap.stage, "epoch": snap.epoch,
                    "note": "No split yet: the autoencoder is still pretraining. Move the slider "
                            "past the initialisation to see beta_cs, V and the two spaces."}],
            text="ACe/DeC first pretrains the autoencoder on reconstruction alone. The split into "
                 "cluster and shared space starts with the initialisation (random rotation V, "
                 "random split, warm-up of V and b, re-clustering, b in closed form)."))
        panels.extend(_decoded_panels(run, snap, options, threshold))
        return panels

    beta = np.asarray(ex.beta_cs, dtype=np.float64)
    n_cs = int((beta > threshold).sum())
    panels.append(Panel(
        title=LIVE, caption=f"{n_cs} of {len(beta)} dimensions in the cluster space",
        figure=beta_bar_figure(beta, threshold, f"epoch {snap.epoch} ({snap.stage})"),
        text="Each bar is one dimension of the rotated embedding V^T z. Its weight beta_cs = "
             "sigmoid(b) says how much the dimension counts in the cluster loss (Eq. 5, first "
             "term); 1 - beta_cs is its weight in the shared loss, which only pulls points to the "
             "overall mean. A dimension whose k centroids explain it much better than one centre "
             "climbs towards 1 (coloured); one without cluster structure settles at 0.5 (grey, "
             f"shared space: at most {threshold:g}, the authors' tolerance). No lambda decides "
             "this: it is learned."))

    epochs, stages, betas = _history(run, threshold)
    if betas is not None and len(epochs) > 1 and betas.shape[1] == len(beta):
        panels.append(Panel(
            title="beta_cs over training", figure=beta_history_figure(epochs, stages, betas,
                                                                     snap.epoch, threshold),
            text="One line per rotated dimension, from the initialisation on. The closed-form "
                 "start (section 2.2) sets each b from the ratio of the k-means loss to the "
                 "one-centre loss; after that b learns with a learning rate "
                 f"{_times(_b_lr_factor(run))} that of the network (this run's b_lr_factor)."))

    if len(panels) == 1:
        panels[0].wide = True
    epoch_panels: list[Panel] = []
    cs, ss = ex.cluster_space, ex.shared_space
    color, cname, names = _colour(run, snap, options.get("colour", "true label"))
    sub = run.subsample
    if cs is not None and ss is not None and cs.shape[1] > 0:
        pca = shared_pca(ss, n=1)
        if pca is not None:
            x = pca[2][:, 0]
            top = int(ex.cluster_space_dims[0])
            epoch_panels.append(Panel(
                title="Most clustered dimension vs shared PC1 (this epoch)",
                figure=fig3_scatter(x, cs[:, 0], color, cname, names, sub,
                                    "shared space PC1", f"z{top} (beta_cs {beta[top]:.2f})"),
                text="No t-SNE or UMAP here: the y axis is one real latent dimension, the one "
                     "with the highest beta_cs, and the x axis is the direction of most variance "
                     "in the shared space. Clusters should separate along y and spread along x, "
                     "because what they share (style, light, pose) lives in the shared space."))
        else:
            epoch_panels.append(Panel(title="Shared space", table=[{"note": "the shared space is empty at "
                                "this epoch: every dimension has beta_cs above the threshold"}],
                                text="Every dimension currently counts as cluster space."))
    decoded = _decoded_panels(run, snap, options, threshold)
    probes = probe_panels(run)
    # rows of two: Fig. 3's scatter beside its decoded grid, then this epoch's scatter and Fig. 1b
    # (or, where the data knows its factors, Fig. 1b beside the probes that measure it)
    if not probes:
        if len(decoded) == 3:
            return panels + decoded[:2] + epoch_panels + decoded[2:]
        return panels + decoded + epoch_panels
    fig1b = [p for p in decoded if p.title.startswith("Fig. 1b")]
    head = panels + [p for p in decoded if p not in fig1b] + epoch_panels
    return _with_pair(head, fig1b + probes)


def _with_pair(head: list[Panel], pair: list[Panel]) -> list[Panel]:
    """``head`` and then ``pair``, so that the pair shares one row (panels go two to a row, and a
    wide panel takes a row of its own): a lone last panel of ``head`` moves behind the pair."""
    open_row = 0
    for p in head:
        open_row = 0 if p.wide else (open_row + 1) % 2
    if open_row and len(pair) == 2:
        return head[:-1] + pair + head[-1:]
    return head + pair


PROBES = "What each space knows: linear probes"


def _share(x: float) -> str:
    return f"{100 * x:.0f} %"


def probe_panels(run) -> list[Panel]:
    """The probes of the final snapshot (dcviz.probes, computed at the end of fit on all the
    points): how well a linear model reads the shape and the light from each space. Only for
    data whose generator knows those factors (objects); [] otherwise."""
    ds = run.dataset
    if ds is None or not {"shape", "light"} & set(ds.factors):
        return []
    m = run.snapshot(run.count - 1).metrics if run.count else {}
    explain = ("A probe is a simple linear model trained to read one fact about each image from "
               "a space, then tested on images it was not trained on (5-fold cross-validation). "
               "If it reads the fact well, the space holds it. ACe/DeC's claim is that the "
               "cluster space holds what tells the clusters apart (here the shape) and the "
               "shared space the rest (here the light). DCN, with one space, gets the same probes "
               "in its metrics (shape_acc, light_r2).")
    if "shape_acc_cluster" not in m and "light_r2_cluster" not in m:
        return [Panel(title=PROBES, table=[{"note": "the probes run once, at the end of "
                                            "training; they appear when the run has finished"}],
                      text=explain)]
    rows, says = [], []
    if "shape_acc_cluster" in m:
        shape = np.asarray(ds.factors["shape"])
        chance = float(np.bincount(shape).max() / len(shape))
        c, s_ = m["shape_acc_cluster"], m.get("shape_acc_shared", float("nan"))
        # short columns, the figures first: the panel sits at half width beside Fig. 1b, where
        # a column of words pushed the figures out of sight
        rows.append({"read": "shape (accuracy)", "cluster space": _share(c),
                     "shared space": _share(s_), "blind guess": _share(chance)})
        says.append(f"From the cluster space a probe names the shape of {_share(c)} of unseen "
                    f"images, from the shared space {_share(s_)} (guessing: {_share(chance)}).")
    if "light_r2_cluster" in m:
        c, s_ = m["light_r2_cluster"], m.get("light_r2_shared", float("nan"))
        rows.append({"read": "light (R^2)", "cluster space": f"{c:.2f}",
                     "shared space": f"{s_:.2f}", "blind guess": "0.00"})
        says.append(f"The light direction is read with R^2 {c:.2f} from the cluster space and "
                    f"{s_:.2f} from the shared space (R^2: 1 = read exactly, 0 = no better than "
                    "the average light).")
    return [Panel(title=PROBES, table=rows,
                  caption=f"Measured at the end of training (epoch {run.snapshot(-1).epoch}) on "
                          f"all the points, or a random {MAX_POINTS:,} of larger data sets.",
                  text=" ".join(says) + " " + explain)]


def checkpoint_note(ck_epoch: int, epoch: int, state: str | None) -> str:
    """Which trained network the decoded views come from, said only when it is not the one of
    the selected snapshot (a sentence of its own)."""
    if ck_epoch == epoch:
        return ""
    which = "final" if state in ("done", "stopped", "failed", "interrupted") else "latest saved"
    return (f"Decoded with the {which} checkpoint (epoch {ck_epoch}), not with the selected "
            f"epoch {epoch}: the decoder of each epoch is not kept.")


def _decoded_panels(run, snap, options, threshold) -> list[Panel]:
    """Fig. 3 with its decoded traversal and Fig. 1b, from the checkpoint."""
    try:
        method = run.method
    except Exception:  # noqa: BLE001 - no checkpoint yet (live run) or one that cannot load
        return [Panel(title="Decoded views", table=[{"note": "no checkpoint yet: the traversal and "
                      "Fig. 1b need the decoder; they appear once the run saves a checkpoint "
                      "(after the initialisation, then every few epochs, and at the end)."}],
                      text="Decoding needs the trained network, which lives in the checkpoint.")]
    ds = run.dataset
    if ds is None or not getattr(method, "initialised", False):
        return [Panel(title="Decoded views", table=[{"note": "the checkpoint predates the "
                      "initialisation of V and b, or the data set cannot be loaded here"}])]
    source = checkpoint_note(int(getattr(method, "epoch_done", -1)), snap.epoch,
                             run.status.get("state"))
    sub = run.subsample
    x_sub = ds.x[sub]
    zr = method.rotated(x_sub).cpu().numpy()
    beta = method.beta_cs.cpu().numpy()
    t = float(getattr(method.config, "cluster_threshold", threshold))
    c_r = (method.centroids @ method.V).cpu().numpy()
    # the checkpoint's own clusters: the points drawn below are where its network puts them,
    # and the selected snapshot's epoch may be another one (its clusters another clustering)
    assign = method.predict(x_sub)
    color, cname, names = _colour(run, snap, options.get("colour", "true label"))
    if cname == "cluster" or len(color) != len(assign):
        color, cname, names = np.asarray(assign), "cluster", None
    coloured = (" The colours are that checkpoint's clusters too."
                if source and cname == "cluster" else "")
    pc = int(options.get("pc", 1) or 1)
    out: list[Panel] = []

    trav = traversal_codes(zr, beta, c_r, t, pc=pc)
    if trav is None:
        out.append(Panel(title=f"Traversal along shared PC{pc}",
                         table=[{"note": f"the shared space has fewer than {pc} dimensions "
                                 "(or none): there is nothing to traverse"}],
                         text=source))
    else:
        top = trav["top"]
        out.append(Panel(
            title=f"Fig. 3: most clustered dimension vs shared PC{pc}, with traversal markers",
            figure=fig3_scatter(trav["scores"], zr[:, top], color, cname, names, sub,
                                f"shared space PC{pc}", f"z{top} (beta_cs {beta[top]:.2f})",
                                markers=trav),
            text="The crosses mark where the grid beside is decoded: each row sits at one "
                 "centroid's cluster-space coordinates (its height on this axis), each column at "
                 f"one equidistant step along shared PC{pc}. " + source + coloured))
        codes = trav["codes"]
        rows, cols, d = codes.shape
        decoded = method.decode_rotated(codes.reshape(-1, d).astype(np.float32))
        if ds.image_shape is not None:
            grid = image_grid(_as_images(np.clip(decoded, 0, 1), ds.image_shape), ncols=cols)
            out.append(Panel(
                title=f"Traversal grid: one row per cluster, walking along shared PC{pc}",
                image=grid,
                text="Every image is dec(V code). Along a row only the shared-space coordinates "
                     "change, so the cluster (the digit, the shape) should stay the same while "
                     "what all clusters share (style, thickness, lighting) varies from left to "
                     "right. " + source))
        else:
            # y axis: the input-space direction the decoded rows move along
            proj = input_axes(x_sub, (decoded.reshape(rows, cols, -1)[:, -1]
                                      - decoded.reshape(rows, cols, -1)[:, 0]).mean(0))
            fig = go.Figure()
            p = proj(x_sub)
            fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", name="data",
                                     marker=dict(size=3, color=MUTED)))
            q = proj(decoded).reshape(rows, cols, 2)
            for r in range(rows):
                fig.add_trace(go.Scatter(x=q[r, :, 0], y=q[r, :, 1], mode="lines+markers",
                                         name=f"cluster {r}", marker=dict(symbol="x", size=9),
                                         line=dict(color=PALETTE[r % len(PALETTE)])))
            fig.update_layout(xaxis_title="input PC1",
                              yaxis_title=f"input direction of the walk along shared PC{pc}",
                              height=460, margin=dict(l=10, r=10, t=30, b=10),
                              uirevision="acedec-trav")
            out.append(Panel(
                title=f"Traversal decoded: one line per cluster, walking along shared PC{pc}",
                figure=fig,
                text="This data set is vectors, not images, so the decoded traversal points are "
                     "drawn over the data (grey): x is the input's first principal component, y "
                     "the input-space direction in which the decoded rows move. Each line keeps "
                     "one centroid's cluster-space coordinates and walks along the shared PC: it "
                     "should stay at its cluster's place on x while it moves along what the "
                     "clusters share on y. " + source))

    # Fig. 1b
    pick = pick_samples(assign)
    rec = method.split_reconstructions(x_sub[pick] if ds.image_shape is not None else x_sub)
    if ds.image_shape is not None:
        stack = np.concatenate([x_sub[pick], rec["reconstruction"], rec["cluster_only"],
                                rec["shared_only"]])
        grid = image_grid(_as_images(np.clip(stack, 0, 1), ds.image_shape), ncols=len(pick))
        out.append(Panel(
            title="Fig. 1b: input / reconstruction / cluster space only / shared space only",
            image=grid,
            text="Rows, top to bottom: the input; its reconstruction dec(V V^T z); the "
                 "reconstruction from the cluster space alone (shared-space coordinates set to "
                 "those of the data mean); and from the shared space alone (cluster-space "
                 "coordinates set to the mean's). The cluster-only row should keep what defines "
                 "the cluster and lose the shared details; the shared-only row the reverse. "
                 "One sample per predicted cluster. " + source))
    else:
        # y axis: the main direction of the shared-only reconstructions, what that space holds
        proj = input_axes(x_sub, _main_direction(rec["shared_only"]))
        fig = go.Figure()
        for name, arr, col in (("input", x_sub, "#9e9e9e"),
                               ("cluster space only", rec["cluster_only"], PALETTE[0]),
                               ("shared space only", rec["shared_only"], PALETTE[1])):
            p = proj(arr)
            fig.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="markers", name=name,
                                     marker=dict(size=3, color=col, opacity=0.6),
                                     customdata=sub,
                                     hovertemplate="sample %{customdata}<extra>" + name + "</extra>"))
        fig.update_layout(xaxis_title="input PC1",
                          yaxis_title="main direction of the shared-only reconstructions",
                          height=460, margin=dict(l=10, r=10, t=30, b=10),
                          uirevision="acedec-fig1b")
        out.append(Panel(
            title="Fig. 1b for vectors: input, cluster space only, shared space only",
            figure=fig,
            text="For vector data the reconstructions are points; here all of them. x is the "
                 "input's first principal component, y the main direction of the shared-only "
                 "reconstructions. From the cluster space alone the points keep their cluster "
                 "(spread on x) and lose the shared variation (flat on y); from the shared space "
                 "alone they lose their cluster (collapse on x) and keep what the clusters share "
                 "(spread on y). " + source))
    return out


LENS = Lens(
    method_ids=("acedec",),
    title="ACe/DeC: cluster space and shared space",
    build=build,
    live_panel=LIVE,
    options=[
        Option("pc", "Shared-space PC to traverse", "select", choices=[1, 2, 3, 4, 5], default=1,
               help="Fig. 3 walks along PC1 of the shared space; the other PCs hold other shared "
                    "variation (rotation, thickness...)."),
        Option("colour", "Colour points by", "select", choices=["true label", "cluster"],
               default="true label"),
    ],
    intro="ACe/DeC learns a rotation V of the embedding and a weight beta_cs per dimension that "
          "splits it into a cluster space, which tells the clusters apart, and a shared space, "
          "which holds what all clusters share. The decoded views show what each space carries.",
)
