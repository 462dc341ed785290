"""DCRL: Deep Clustering and Representation Learning that preserves geometric structures.

The method in brief (section 3 of the paper):

1. Pretrain a denoising autoencoder, L_AE = MSE(x, g(f(x + noise))).
2. Initialise learnable centres mu_j: t-SNE of the latent codes to 2-D, k-means there, and the
   latent means of the clusters found (section 4.1), or k-means straight on the latent codes.
3. Fine-tune on clean data with four losses:
   - L_cluster = KL(P || Q), DEC's Student-t soft assignment and sharpened target (Eqs. 1-3),
     pulls each manifold into a ball around its centre;
   - L_LIS, the intra-manifold isometry loss (Eq. 5): over kNN pairs in the latent space that lie
     in the same predicted manifold, |d_X - d_Z|, which keeps local distances;
   - L_rank, the inter-manifold ranking loss (Eq. 6), on the centres only:
     sum_ij | d_Z(mu_i, mu_j) - kappa * d_X(v^X_i, v^X_j) |, with v^X_j the input-space mean of
     manifold j, which spreads the manifolds apart as their input-space means are;
   - L_align = distance of each mu_j to the latent mean v^Z_j of its manifold, which keeps the
     centres bound to the points.
4. Alternating training (section 3.3.2): per mini-batch L1 = L_AE + alpha * L_cluster + L_rank;
   once per epoch, over the whole data set, L2 = beta * L_LIS + L_align.
5. Weight continuation: alpha falls linearly from 0.1 to 0 and beta rises from 0 to 1 over the
   first half of the epochs (epochs 0-150 of 300).

Fig. 3 explains training in three stages: (1) clustering, where L_cluster dominates and each
manifold contracts into a sphere; (2) separation, where L_rank dominates and the manifolds move
apart; (3) structure recovery, where L_LIS dominates and each manifold unfolds again. Each
snapshot names its stage from which term dominates, read from what each term did over the
epoch (:func:`term_pressures`, :func:`stage_of`): how much of its own objective it removed
between the epoch's start and end, against its size when all the terms start training, times
its schedule weight. L_rank's is measured on the manifolds themselves (Eq. 6 at their latent
means), since it moves them only through the centres they follow.

Where the paper is vague we follow the authors' code (METHOD-NOTES.md): L_LIS compares
distances divided by sqrt(dimension) in each space; its kNN graph has k = 5 and is built
inside each predicted manifold; the embeddings are recomputed before the once-per-epoch step
(the code reuses stale ones); an optional warm-up trains on clustering alone. Three choices
are ours. The once-per-epoch step has its own Adam state: sharing one lets that single
full-data gradient ride on the momentum of the following mini-batch steps and shakes the
clusters apart. The centres may get their own learning rate (``mu_lr``), which short runs need
because Adam moves each parameter about lr per step. And the once-per-epoch step may be taken
more than once (``epoch_steps``): with one step, short runs lose the points from their
centres when alpha reaches 0 (L_LIS unfolds each cluster faster than L_align can hold its
mean), and the manifolds drift back together before they recover.

What the method cannot do, measured on dcviz's `manifolds` (issue 22; bench/dcrl.py prints it):
its clusters are the cells of its centres (argmax of the Student-t Q, Eq. 1), and L_rank spaces
the centres by the distances of the manifolds' input-space means. The ring, line, wave and helix
of `manifolds` all have their mean at the origin (at most 0.08 apart, for points 0.88 from it),
so even the true means, taken as centres, label the points with NMI 0.17, and Eq. 6 at the true
partition asks the centres to coincide. DCRL keeps the partition its initial centres give (with
the quick preset, NMI 0.11-0.16 after the first epoch and 0.14-0.17 at the end, seeds 0-2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from dcviz.methods.ae_kmeans import PAPER_PRETRAIN, QUICK_DENOISING
from dcviz.methods.base import ConfigError, param, register
from dcviz.methods.dec import StudentTExtras
from dcviz.methods.dec import (DECConfig, StudentTClustering, cluster_loss, reconstruction_loss,
                               student_t, target_distribution)
from dcviz.nets import batches

STAGES = ("stage 1: clustering", "stage 2: separation", "stage 3: structure recovery")
#: the loss term that dominates each stage, in order
STAGE_TERMS = ("cluster", "rank", "lis")


# --------------------------------------------------------------------------- the losses

@torch.no_grad()
def manifold_neighbours(x: torch.Tensor, z: torch.Tensor, labels: torch.Tensor, k: int,
                        chunk: int = 1024):
    """The edges of L_LIS: for each point, its k nearest latent-space neighbours among the
    points of the same predicted manifold, and their input-space distances.

    Returns ``(i, j, d_x)``: edge end points (E,) and ||x_i - x_j|| / sqrt(dim X) (E,).
    Points of a manifold with fewer than k + 1 members get fewer edges.
    """
    # One manifold at a time: the distances of C manifolds of n/C points cost n^2/C, not the
    # n^2 of all pairs (MNIST-test, 10,000 points in 10 clusters: a tenth of the work).
    rows, cols = [], []
    for c in torch.unique(labels):
        members = torch.nonzero(labels == c).ravel()
        kc = min(k, len(members) - 1)
        if kc < 1:
            continue
        zc = z[members]
        for s in range(0, len(members), chunk):
            d = torch.cdist(zc[s:s + chunk], zc)
            r = torch.arange(s, min(s + chunk, len(members)), device=z.device)
            d[r - s, r] = float("inf")
            idx = torch.topk(d, kc, dim=1, largest=False).indices
            rows.append(members[r][:, None].expand(-1, kc).reshape(-1))
            cols.append(members[idx].reshape(-1))
    if not rows:
        return (labels.new_zeros(0), labels.new_zeros(0), x.new_zeros(0))
    i, j = torch.cat(rows), torch.cat(cols)
    # point by point, each point's neighbours nearest first, as a scan over all points gives
    order = torch.sort(i, stable=True).indices
    i, j = i[order], j[order]
    d_x = torch.cat([(x[i[s:s + 8192]] - x[j[s:s + 8192]]).norm(dim=1)
                     for s in range(0, len(i), 8192)]) if len(i) else x.new_zeros(0)
    return i, j, d_x / math.sqrt(x.shape[1])


def isometry_loss(z: torch.Tensor, i: torch.Tensor, j: torch.Tensor, d_x: torch.Tensor) -> torch.Tensor:
    """L_LIS (Eq. 5): sum over the kNN edges (i, j) inside a predicted manifold of
    |d_X(x_i, x_j) - d_Z(z_i, z_j)|, here averaged over the edges; both distances are divided
    by sqrt(dimension) of their space (the authors' code), so that a 784-d input and a
    10-d latent space are comparable."""
    if len(i) == 0:
        return z.sum() * 0.0
    d_z = (z[i] - z[j]).norm(dim=1) / math.sqrt(z.shape[1])
    return (d_x - d_z).abs().mean()


def manifold_means(v: torch.Tensor, labels: torch.Tensor, n_clusters: int):
    """Means (C, dim) of v over each predicted manifold, and a mask of the non-empty ones."""
    onehot = torch.nn.functional.one_hot(labels, n_clusters).to(v.dtype)
    counts = onehot.sum(0)
    means = onehot.T @ v / counts.clamp_min(1.0)[:, None]
    return means, counts > 0


def rank_loss(mu: torch.Tensor, v_x: torch.Tensor, kappa: float,
              present: torch.Tensor | None = None) -> torch.Tensor:
    """L_rank (Eq. 6): sum_i sum_j | d_Z(mu_i, mu_j) - kappa * d_X(v^X_i, v^X_j) |.

    ``v_x`` are the input-space centres of the predicted manifolds; clusters that are empty
    (``present`` False) have no centre and are left out. The diagonal terms are 0 and are
    skipped, because the norm has no gradient at 0.
    """
    c = len(mu)
    keep = torch.ones(c, dtype=torch.bool, device=mu.device) if present is None else present
    a, b = torch.triu_indices(c, c, 1, device=mu.device)
    sel = keep[a] & keep[b]
    a, b = a[sel], b[sel]
    d_mu = (mu[a] - mu[b]).norm(dim=1)
    d_x = (v_x[a] - v_x[b]).norm(dim=1)
    return 2.0 * (d_mu - kappa * d_x).abs().sum()  # each unordered pair appears twice in Eq. 6


def align_loss(mu: torch.Tensor, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_align (section 3.2): sum_j ||mu_j - v^Z_j||, with v^Z_j the latent mean of the points of
    predicted manifold j (empty manifolds are skipped), here averaged over the manifolds, as the
    authors' code does and as :func:`isometry_loss` averages over its edges, so that beta
    weighs the two as in that code. It binds each learnable centre to the points it stands
    for: the gradient moves mu_j towards v^Z_j and the points towards mu_j.

    Summed, as the equation reads, it weighed C times more; on the digits (quick preset, seeds
    0-2, one run of bench/dcrl.py each, 2026-12-02) the two end alike: NMI 0.865 / 0.836 /
    0.824 summed and 0.868 / 0.836 / 0.824 averaged, Trust 0.992 and 0.993, CRA 0.84-0.96 and
    0.92-0.94, the stages in order in every run."""
    v_z, present = manifold_means(z, labels, len(mu))
    return (mu[present] - v_z[present]).norm(dim=1).mean()


def weight_schedule(epoch: int, epochs: int, alpha0: float = 0.1, beta1: float = 1.0,
                    continuation: float = 0.5, warmup: int = 0) -> tuple[float, float]:
    """Weight continuation (section 3.3.2): alpha falls linearly from alpha0 to 0 and beta rises
    linearly from 0 to beta1, reaching the end at epoch ``continuation * epochs`` (epoch 150
    of 300 in the paper), then both stay put. During the ``warmup`` epochs, in which the
    authors' code trains on clustering and reconstruction only, alpha = alpha0 and beta = 0."""
    end = max(continuation * epochs, warmup + 1e-9)
    t = min(max((epoch - warmup) / (end - warmup), 0.0), 1.0)
    return alpha0 * (1.0 - t), beta1 * t


def term_pressures(start: dict[str, float], end: dict[str, float], weights: dict[str, float],
                   full_weights: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """How hard each stage term pushed over one epoch, on one scale: the share of its reference
    size that its objective lost between the epoch's start and end, times its weight relative
    to its full weight, (w_t / w_t,max) * (L_t,start - L_t,end) / L_t,ref.

    The raw terms cannot be compared directly (KL in nats, L_rank a sum of latent distances,
    L_LIS a mean of scaled distances); on this scale 0.5 means "removed half of what it had to
    do when all the terms started". A term that lost ground has a negative pressure; one with
    no reference or no weight has pressure 0.
    """
    out = {}
    for t in STAGE_TERMS:
        ref, full = reference.get(t), full_weights[t]
        ok = ref is not None and ref > 0 and full > 0
        out[t] = (weights[t] / full) * (start[t] - end[t]) / ref if ok else 0.0
    return out


class StagePressures:
    """The pressure of each stage term epoch by epoch (:func:`term_pressures`), against its size
    at the start of the first epoch that trains on all the terms; before that (the warm-up),
    the clustering term against its size at the start of each epoch, and the others 0. It only
    measures: training never reads it.

    Why what the terms did over the epoch, and not how large they are at its end (the rule
    until now): L_rank acts in a burst. In the warm-up the clustering loss alone spreads the
    centres (Eq. 6 at the manifolds falls from 422 to 160 on digits, seed 0), and in the first
    epoch with L_rank the manifolds move to their ranks at once (160 -> 35, pressure 0.78)
    while KL(P||Q) loses less (0.47); after that L_rank is nearly satisfied. Read as sizes
    against a reference taken at that moment, L_rank and L_cluster tied there and L_rank was
    small ever after, so the separation, which happened, never showed (quick preset, digits:
    1 -> 3 in seeds 0-2; now 1 -> 2 -> 3, stage 2 from that epoch)."""

    def __init__(self, alpha0: float, beta1: float):
        self.full_weights = {"cluster": alpha0, "rank": 1.0, "lis": beta1}
        self.reference: dict[str, float] = {}

    def __call__(self, start: dict[str, float], end: dict[str, float],
                 weights: dict[str, float], warm: bool) -> dict[str, float]:
        if not warm and not self.reference:
            self.reference = dict(start)
        if not self.reference:
            ref = {"cluster": start["cluster"]}
            weights = {**weights, "rank": 0.0, "lis": 0.0}
            return term_pressures(start, end, weights, self.full_weights, ref)
        return term_pressures(start, end, weights, self.full_weights, self.reference)


def stage_of(pressures: dict[str, float], previous: int = 0) -> int:
    """Index (0, 1, 2) of the stage whose term has the largest pressure; ties go to the earlier
    stage. Training moves forward through the stages (Fig. 3), so the stage never returns
    to an earlier one, and it moves on only to a term that made progress: in an epoch in which
    every term lost ground (manifolds, seed 0, epoch 5: -0.21, -0.31, -0.002) none leads."""
    best = max(range(len(STAGE_TERMS)), key=lambda s: (pressures[STAGE_TERMS[s]], -s))
    if pressures[STAGE_TERMS[best]] <= 0:
        return previous
    return max(previous, best)


# --------------------------------------------------------------------------- progress

#: t-SNE's work, measured: on digits (1,797 points), the quick preset's AE (2.6 M weights), the
#: t-SNE of the centres' initialisation took 7.1 s against 0.57 s per pretraining epoch
TSNE_EPOCHS, TSNE_N, TSNE_AE_WEIGHTS = 12.5, 1797, 2.6e6


def epoch_costs(cfg, n: int, ae_weights: int) -> tuple[float, float, list[float]]:
    """The run's work, in pretraining epochs (one pass of the data through the AE, forward and
    backward, about 3 forward passes): (pretraining, the t-SNE initialisation, each fine-tuning
    epoch). Progress counts it, so that a stage that costs more per epoch, or one with no
    snapshot at all (t-SNE), takes its share of the bar and of the time-left estimate.

    A fine-tuning epoch is a pretraining-like pass of mini-batches, plus ``epoch_steps`` passes
    of all the data through the encoder (half the net) with gradients, plus two encodings of
    all the data (1/6 epoch each); a warm-up epoch takes its one L_LIS pass without gradients.
    (Measured on digits: 1.55 s per epoch after warm-up, against 0.57 s per pretraining
    epoch: 2.7; this gives 2.8.) t-SNE grows as n log n, an epoch as n times the AE's size.
    """
    tsne = 0.0
    if cfg.init == "tsne":
        tsne = TSNE_EPOCHS * math.log(max(n, 2)) / math.log(TSNE_N) * TSNE_AE_WEIGHTS / max(ae_weights, 1)
    warm, full = 1.0 + 1.0 / 6.0 + 1.0 / 3.0, 1.0 + 0.5 * cfg.epoch_steps + 1.0 / 3.0
    return float(cfg.pretrain_epochs), tsne, [warm if e < cfg.warmup_epochs else full
                                             for e in range(cfg.epochs)]


# --------------------------------------------------------------------------- config and method

@dataclass
class DCRLConfig(DECConfig):
    hidden: str = param("500,500,500,2000", "Hidden layer sizes of the MLP encoder, "
                        "separated by commas or spaces (DCRL: d-500-500-500-2000-10; the "
                        "decoder mirrors it).",
                        advanced=True)
    init: str = param("tsne", "Initial centres mu: t-SNE of the latent codes to 2-D, k-means "
                      "there, and the latent means of those clusters (the paper, section 4.1), or "
                      "k-means straight on the latent codes (faster, and usually a worse start). "
                      "t-SNE needs latent_dim >= 2.",
                      choices=["kmeans", "tsne"])
    epochs: int = param(300, "Fine-tuning epochs after pretraining.", min=2, max=3000, step=10)
    k: int = param(5, "Neighbours per point in the kNN graph of L_LIS.", min=1, max=50, step=1)
    kappa: float = param(3.0, "kappa of L_rank: how far apart the manifolds are pushed, relative "
                         "to the distances of their input-space means.", min=0.0, max=100.0, step=0.5)
    alpha0: float = param(0.1, "Starting weight alpha of L_cluster (falls linearly to 0).",
                          min=0.0, max=10.0)
    beta1: float = param(1.0, "Final weight beta of L_LIS (rises linearly from 0).", min=0.0,
                         max=100.0)
    continuation: float = param(0.5, "Fraction of the epochs by whose end alpha has fallen to 0 "
                                "and beta risen to beta1 (the paper: the first half).",
                                min=0.01, max=1.0, step=0.05)
    warmup_epochs: int = param(0, "Epochs of L_AE + alpha0 * L_cluster only (no L_rank, no "
                               "L_LIS/L_align step) before the continuation starts, as the "
                               "authors' code does; the paper does not mention it.", min=0,
                               max=1000, step=1)
    epoch_steps: int = param(1, "Gradient steps of beta * L_LIS + L_align per epoch, each over "
                             "all the data (the authors' code: 1). More bind the points to their "
                             "centres harder once alpha is 0.", min=1, max=50, step=1,
                             advanced=True)
    fade_reconstruction: bool = param(False, "Weight L_AE by alpha / alpha0 as well, as the "
                                      "authors' code does (alpha * (0.1 KL + rec)): once alpha "
                                      "is 0, only L_LIS and L_align move the encoder. The paper "
                                      "keeps L_AE at weight 1.", advanced=True)
    # "quick" fits a budget of 1-2 minutes on 2 CPU cores (115 s wall, 144 CPU-s on digits beside
    # other work, 2026-12-02), about 100x fewer steps than the
    # paper's 300 epochs: the centres get their own, faster learning rate (or L_rank cannot
    # place them in time), a stronger pull alpha0 binds the points to them before alpha
    # reaches 0, three full-data steps of L_LIS + L_align per epoch keep them bound after, and
    # a few warm-up epochs let clustering act alone first, as in the authors' code.
    presets: ClassVar[dict] = {
        # (the pretraining is the denoising recipe DEC and IDEC share, on their d-500-500-2000-10)
        "quick": {**QUICK_DENOISING, "epochs": 30, "warmup_epochs": 3, "batch_size": 64,
                  "hidden": "500,500,2000", "mu_lr": 0.01, "alpha0": 1.0, "epoch_steps": 3},
        # paper: DCRL's own pretraining (its section 3, "x~ = x + N(0, sigma^2)", and the
        # authors' code: Gaussian noise 0.2, Adam 1e-3, batches of 256, 200 epochs) on its own
        # net d-500-500-500-2000-10 (section 4.1), then 300 epochs of clustering. Net and
        # recipe differ from the other paper presets' shared AE (ae_kmeans.PAPER_PRETRAIN,
        # DEC's SGD with input dropout), so DCRL trains an AE of its own; issue 17's table pins
        # the shared net and recipe for it (bench/mnist.py, SHARED), so that DCRL is compared
        # on the others' AE. On the MNIST test split, seeds 0 / 1 (bench/mnist.py --methods
        # dcrl-own-ae --set epochs=20, 2026-12-01): this AE gives k-means NMI 0.614 / 0.624
        # (the shared one 0.704 / 0.692) and DCRL 0.818 / 0.779 on it (on the shared one
        # 0.817 / 0.795); ~570 s of pretraining a seed, two at once on 2 cores.
        "paper": {**PAPER_PRETRAIN, "pretrain_epochs": 200, "pretrain_optimizer": "adam",
                  "lr": 1e-3, "pretrain_dropout": 0.0, "noise": 0.2, "epochs": 300},
    }

    def validate(self, n_samples=None):
        super().validate(n_samples)
        if self.warmup_epochs >= self.continuation * self.epochs:
            raise ConfigError(f"warmup_epochs ({self.warmup_epochs}) must end before the weight "
                              f"continuation does (continuation * epochs = "
                              f"{self.continuation * self.epochs:g})")


@dataclass
class DCRLExtras(StudentTExtras):
    """DEC's, plus the weight schedule and each stage term's pressure, per fine-tuning epoch."""

    alpha: float | None = None
    beta: float | None = None
    ae_weight: float | None = None        # with fade_reconstruction
    rank_manifolds: float | None = None   # Eq. 6 at the manifolds' latent means
    pressure_cluster: float | None = None
    pressure_rank: float | None = None
    pressure_lis: float | None = None
    kappa_dx: np.ndarray | None = None    # kappa times the manifolds' input distances (C, C)


@register
class DCRL(StudentTClustering):
    Config = DCRLConfig
    id = "dcrl"
    Extras = DCRLExtras
    estimator = "DCRL"
    card = ("Three stages: clusters become spheres, manifolds move apart, then their local shape "
            "comes back.")
    picture = "dcrl.svg"
    # Its Try-it runs on the digits, where the quick preset shows the three stages in order AND
    # clusters (seed 0: NMI 0.865, 49 s). On `manifolds`, the data of Fig. 3's schematic, the
    # stages show too, but the four manifolds share one centre, so clusters by centre cut them
    # by region (NMI 0.12-0.17, see the module docstring): a first look there would teach the
    # opposite of the paper (issue 22). The manifolds stay one click away, with their card.
    try_it = "digits"
    suits = ("digits", "manifolds", "mnist", "fashion-mnist", "usps")
    quick_time = "2 min"
    title = "DCRL"
    paper = ("Deep Clustering and Representation Learning that Preserves Geometric Structures "
             "(Zang et al.)")
    summary = ("DEC's clustering loss plus an isometry loss inside each manifold and a ranking "
               "loss on the centres, weighted so that training goes through clustering, "
               "separation and structure recovery.")

    def _stage_terms(self, x, z_start, p, v_x, present):
        """A function of the latent codes giving the three stage terms over all the data, with
        everything but the codes and the centres held as they are now: the epoch's P and
        manifolds, and L_LIS's kNN edges (built from the codes now)."""
        cfg = self.config
        labels = p.argmax(1)
        i, j, d_x = manifold_neighbours(x, z_start, labels, cfg.k)

        @torch.no_grad()
        def terms(z):
            v_z, present_z = manifold_means(z, labels, len(self.mu))
            return {"cluster": cluster_loss(p, student_t(z, self.mu, cfg.nu)).item(),
                    "rank": rank_loss(v_z, v_x, cfg.kappa, present & present_z).item(),
                    "lis": isometry_loss(z, i, j, d_x).item()}
        return terms

    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        n, c = len(x), cfg.n_clusters
        pre, tsne, costs = epoch_costs(cfg, n, sum(p.numel() for p in self.ae.parameters()))
        total = pre + tsne + sum(costs)
        ref = self.geometry_reference(data, ctx)
        yield from self.pretrain(data, ctx, x, total_epochs=total)
        if self.pretrain_replayed:  # the store had it: the run's work starts here
            pre, total = 0.0, tsne + sum(costs)
        z_all = self.encode(x)
        opt = self.make_optimizer()
        # The once-per-epoch step has its own Adam state: sharing one would let its single
        # full-data gradient ride on the momentum of the mini-batch steps that follow.
        opt_epoch = self.make_optimizer()
        pressures = StagePressures(cfg.alpha0, cfg.beta1)
        stage, first = 0, 0
        resumed = ctx.resume_point("cluster", opt=opt, opt_epoch=opt_epoch)
        if resumed is None:
            self.init_centres(z_all.cpu().numpy(), ctx)
        else:  # mu and the AE come from the checkpoint; go on after its epoch
            first, stage = resumed["epoch"] + 1, int(resumed["stage"])
            pressures.reference = dict(resumed["reference"])
        for epoch in range(first, cfg.epochs):
            warm = epoch < cfg.warmup_epochs
            alpha, beta = weight_schedule(epoch, cfg.epochs, cfg.alpha0, cfg.beta1,
                                          cfg.continuation, cfg.warmup_epochs)
            w_rank = 0.0 if warm else 1.0
            w_ae = alpha / cfg.alpha0 if cfg.fade_reconstruction and cfg.alpha0 > 0 else 1.0
            # P is recomputed over all the data once per epoch and held fixed during it; the
            # predicted manifolds s_i = argmax_j p_ij give the input-space centres v^X of L_rank.
            with torch.no_grad():
                p = target_distribution(student_t(z_all, self.mu, cfg.nu))
            v_x, present = manifold_means(x, p.argmax(1), c)
            # the stage terms as the epoch starts, on all the data: KL(P||Q) at the epoch's P,
            # Eq. 6 at the manifolds' latent means, L_LIS on kNN edges fixed for the measurement
            stage_terms = self._stage_terms(x, z_all, p, v_x, present)
            start = stage_terms(z_all)

            # L1 = L_AE + alpha * L_cluster + L_rank, per mini-batch
            sums = {"reconstruction": 0.0, "cluster": 0.0, "rank": 0.0}
            self.ae.train()
            for idx in batches(n, cfg.batch_size, ctx.generator, x.device):
                ctx.check()
                xb = x[idx]
                z = self.ae.encode(xb)
                l_ae = reconstruction_loss(xb, self.ae.decode(z))
                l_cluster = cluster_loss(p[idx], student_t(z, self.mu, cfg.nu))
                l_rank = rank_loss(self.mu, v_x, cfg.kappa, present)
                loss = w_ae * l_ae + alpha * l_cluster + w_rank * l_rank
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for key, v in (("reconstruction", l_ae), ("cluster", l_cluster), ("rank", l_rank)):
                    sums[key] += v.item() * len(idx)

            # L2 = beta * L_LIS + L_align, once per epoch over all the data, on embeddings
            # recomputed now (the authors' code reuses stale ones)
            # The kNN edges and the manifolds are fixed for the epoch; each step re-encodes.
            for step in range(1 if warm else cfg.epoch_steps):
                ctx.check()
                z_grad = self.ae.encode(x)
                if step == 0:
                    with torch.no_grad():
                        manifolds = target_distribution(student_t(z_grad, self.mu, cfg.nu)).argmax(1)
                    i, j, d_x = manifold_neighbours(x, z_grad.detach(), manifolds, cfg.k)
                l_lis = isometry_loss(z_grad, i, j, d_x)
                l_align = align_loss(self.mu, z_grad, manifolds)
                if step == 0:
                    lis_value, align_value = l_lis.item(), l_align.item()
                if not warm:
                    opt_epoch.zero_grad(set_to_none=True)
                    (beta * l_lis + l_align).backward()
                    opt_epoch.step()
                del z_grad
            self.ae.eval()
            z_all = self.encode(x)

            losses = {k: v / n for k, v in sums.items()}
            losses.update(lis=lis_value, align=align_value)
            # L_rank moves the manifolds only through the centres they follow, so its pressure
            # on them is Eq. 6 evaluated at the manifolds' own latent means v^Z (not at mu)
            end = stage_terms(z_all)
            separation = end["rank"]
            weights = {"cluster": alpha, "rank": w_rank, "lis": beta}
            pressure = pressures(start, end, weights, warm)
            # in the warm-up only L_AE + alpha * L_cluster train: stage 1 by the schedule itself
            stage = 0 if warm else stage_of(pressure, stage)
            # scalars (alpha, beta, pressures) go to metrics.jsonl, so the lens can draw their
            # history without opening every snapshot
            extras = {"alpha": alpha, "beta": beta, "rank_manifolds": separation,
                      **{f"pressure_{t}": pressure[t] for t in STAGE_TERMS},
                      "kappa_dx": (cfg.kappa * torch.cdist(v_x, v_x)).cpu().numpy()}
            if cfg.fade_reconstruction:
                extras["ae_weight"] = w_ae
            snap, _ = self.clustering_snapshot(
                data, ctx, ref, epoch=epoch, stage=STAGES[stage], losses=losses, z=z_all,
                extras=extras, progress=(pre + tsne + sum(costs[:epoch + 1])) / total)
            ctx.at("cluster", epoch=epoch, stage=stage, reference=dict(pressures.reference),
                   replayed=self.pretrain_replayed)
            yield snap
            if (epoch + 1) % 25 == 0:
                ctx.checkpoint()
