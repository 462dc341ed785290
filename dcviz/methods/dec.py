"""DEC and IDEC: clustering with a Student-t soft assignment and a self-sharpening target.

DEC (Xie, Girshick & Farhadi, ICML 2016) fine-tunes a pretrained encoder and learnable centres
mu_j by minimising KL(P || Q), where Q is a Student-t soft assignment of each embedding to each
centre and P a sharpened copy of Q that is held fixed between updates. IDEC (Guo et al., IJCAI
2017) adds the autoencoder's reconstruction loss, L = L_r + gamma * L_c, to keep the latent space
from collapsing. DCRL builds on the same three pieces (Eqs. 1-3 of the DCRL paper), so they live
here and :mod:`dcviz.methods.dcrl` imports them.

DCRL's claim is measured against these two: a clustering loss alone tends to destroy the
geometry of the latent space. Every snapshot of these methods therefore carries the geometry
metrics of :mod:`dcviz.geometry` (trust, cont, rre, drmse, lgd, cra), computed on the run's fixed
subsample, so that the DCRL lens and the Compare page can put them side by side.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn
from torch.nn import functional as F

from dcviz.geometry import MIN_POINTS, GeometryReference
from dcviz.methods.ae_kmeans import PAPER_PRETRAIN, QUICK_DENOISING, AEConfig, AEMethod
from dcviz.methods.base import ConfigError, Extras, param, register
from dcviz.nets import batches, make_autoencoder


# --------------------------------------------------------------------------- the shared losses

def student_t(z: torch.Tensor, mu: torch.Tensor, nu: float = 1.0) -> torch.Tensor:
    """Soft assignment Q (DEC Eq. 1, DCRL Eq. 1): q_ij proportional to
    (1 + ||z_i - mu_j||^2 / nu)^(-(nu + 1) / 2), each row normalised to sum to 1."""
    d2 = torch.cdist(z, mu).pow(2) if z.shape[0] > 0 else z.new_zeros(0, mu.shape[0])
    # the same kernel written through its logarithm, which cannot underflow for far points
    logits = -(nu + 1.0) / 2.0 * torch.log1p(d2 / nu)
    return torch.softmax(logits, dim=1)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """Auxiliary target P (DEC Eq. 3, DCRL Eq. 2): p_ij = (q_ij^2 / f_j) / sum_j' (q_ij'^2 / f_j'),
    where f_j = sum_i q_ij is the soft cluster frequency. Squaring sharpens confident
    assignments; dividing by f_j keeps large clusters from swallowing small ones."""
    weight = q.pow(2) / q.sum(0, keepdim=True).clamp_min(1e-12)
    return weight / weight.sum(1, keepdim=True)


def cluster_loss(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """L_cluster = KL(P || Q) = sum_i sum_j p_ij log(p_ij / q_ij) (DEC Eq. 2, DCRL Eq. 3),
    averaged over the points of the batch (the sum over i divided by the batch size)."""
    p = p.clamp_min(1e-12)
    return (p * (p.log() - q.clamp_min(1e-12).log())).sum(1).mean()


def reconstruction_loss(x: torch.Tensor, x_rec: torch.Tensor) -> torch.Tensor:
    """L_AE (DCRL) / L_r (IDEC): squared reconstruction error, averaged over the features as
    IDEC's code does (its equation sums them, which would scale gamma by the input size)."""
    return F.mse_loss(x_rec, x)


# --------------------------------------------------------------------------- config

@dataclass
class DECConfig(AEConfig):
    """Settings shared by DEC, IDEC and DCRL (DCRL adds its own on top)."""

    arch: str = param("mlp", "Autoencoder: these papers use the MLP; conv is offered for images.",
                      choices=["mlp", "conv"], advanced=True)
    hidden: str = param("500,500,2000", "Hidden layer sizes of the MLP encoder, separated by "
                        "commas or spaces (the decoder mirrors them).", advanced=True)
    noise: float = param(0.2, "Std of the Gaussian input noise of the denoising pretraining "
                         "(0: a plain autoencoder).", min=0.0, max=2.0, step=0.05)
    init: str = param("kmeans", "Initial centres mu: k-means on the latent codes (fast), or "
                      "t-SNE of the latent codes to 2-D, k-means there, and the latent means of "
                      "those clusters (DCRL's way; needs latent_dim >= 2).",
                      choices=["kmeans", "tsne"])
    epochs: int = param(200, "Clustering epochs after pretraining.", min=1, max=3000, step=10)
    cluster_lr: float = param(1e-3, "Learning rate of the clustering phase.", min=1e-6,
                              max=1.0, log=True)
    cluster_optimizer: str = param("adam", "Optimiser of the clustering phase: Adam (IDEC's and "
                                   "DCRL's code), or SGD with momentum 0.9 (DEC's).",
                                   choices=["adam", "sgd"], advanced=True)
    mu_lr: float = param(0.0, "Learning rate of the centres mu (0: the same as cluster_lr, "
                         "as in the papers). Short runs need faster centres.", min=0.0, max=1.0,
                         advanced=True)
    nu: float = param(1.0, "Degrees of freedom of the Student-t kernel.", min=0.01, max=100.0,
                      advanced=True)
    update_interval: int = param(0, "Recompute the target P every this many batches "
                                 "(0: once per epoch).", min=0, max=10000, step=10, advanced=True,
                                 auto=(0, "once per epoch"))
    tol: float = param(0.0, "Stop when fewer than this fraction of labels change between two "
                       "epochs (DEC/IDEC use 0.001; 0: run every epoch).", min=0.0, max=1.0,
                       advanced=True)
    geometry_k1: int = param(5, "Smallest k of the neighbour-based geometry metrics.", min=1,
                             max=100, advanced=True)
    geometry_k2: int = param(10, "Largest k of the neighbour-based geometry metrics.", min=1,
                             max=100, advanced=True)

    def hidden_sizes(self) -> tuple[int, ...]:
        try:
            # spaces separate too ("500 500 2000"): a sweep's method item uses the commas
            sizes = tuple(int(s) for s in re.split(r"[,\s]+", str(self.hidden).strip()) if s)
        except ValueError:
            raise ConfigError(f"hidden must be integers separated by commas or spaces, got "
                              f"{self.hidden!r}") from None
        if not sizes or min(sizes) < 1:
            raise ConfigError(f"hidden needs at least one positive layer size, got {self.hidden!r}")
        return sizes

    def validate(self, n_samples=None):
        super().validate(n_samples)
        self.hidden_sizes()
        if self.geometry_k2 < self.geometry_k1:
            raise ConfigError("geometry_k2 must be at least geometry_k1")
        # t-SNE to 2-D starts from PCA to 2 components, which a 1-d code does not have
        if self.init == "tsne" and self.latent_size() < 2:
            raise ConfigError(f"init='tsne' maps the latent codes to 2-D and needs latent_dim "
                              f"of at least 2, got {self.latent_size()}; raise latent_dim or use "
                              "init='kmeans'")


# --------------------------------------------------------------------------- shared plumbing

@dataclass
class GeometryExtras(Extras):
    """The latent geometry against the input (DCRL Fig. A5), in every snapshot of DEC, IDEC and
    DCRL; the rank grid needs at least two clusters."""

    dz_minus_dx: np.ndarray | None = None    # d_Z - d_X over neighbour pairs of the subsample
    rank_grid: np.ndarray | None = None      # (C, C): is the rank of each centre pair kept?
    rank_grid_ids: np.ndarray | None = None  # the cluster ids of its rows
    rank_x: np.ndarray | None = None         # the ranks in the input space (C, C)
    rank_z: np.ndarray | None = None         # ... and in the latent space


@dataclass
class StudentTExtras(GeometryExtras):
    """... plus, once clustering starts, the centres and the cluster sizes."""

    mu: np.ndarray | None = None             # (k, d)
    cluster_sizes: np.ndarray | None = None  # (k,)


@dataclass
class DECExtras(StudentTExtras):
    labels_changed: float | None = None      # share of labels that changed since last epoch


class StudentTClustering(AEMethod):
    """What DEC, IDEC and DCRL share: the AE, the learnable centres mu, their initialisation,
    the soft assignment, checkpointing, and geometry-aware snapshots."""

    Config = DECConfig
    resumable = True  # DEC, IDEC and DCRL: their fits say where they stand (ctx.at)

    def make_optimizer(self) -> torch.optim.Optimizer:
        """One optimiser over the encoder/decoder and mu (mu with its own rate if ``mu_lr`` > 0):
        Adam, or DEC's SGD with momentum 0.9."""
        cfg = self.config
        groups = [{"params": list(self.ae.parameters())},
                  {"params": [self.mu], "lr": cfg.mu_lr or cfg.cluster_lr}]
        if cfg.cluster_optimizer == "sgd":
            return torch.optim.SGD(groups, lr=cfg.cluster_lr, momentum=0.9)
        return torch.optim.Adam(groups, lr=cfg.cluster_lr)

    def make_autoencoder(self) -> nn.Module:
        return make_autoencoder(self.input_dim, self.image_shape, self.latent_dim, self.arch,
                                hidden=self.config.hidden_sizes())

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        self.mu = nn.Parameter(torch.zeros(self.config.n_clusters, self.latent_dim,
                                           device=self.device))

    # -- the contract
    @torch.no_grad()
    def soft_assign(self, x: torch.Tensor) -> torch.Tensor:
        return student_t(self.encode(x), self.mu, self.config.nu)

    def predict_proba(self, x):
        return self.soft_assign(self.tensor(x)).cpu().numpy()

    def predict(self, x):
        return self.predict_proba(x).argmax(1)

    def state_dict(self):
        return {**self.ae_state(), "mu": self.mu.detach().cpu().clone()}

    def load_state_dict(self, d):
        self.ae.load_state_dict(d["ae"])
        with torch.no_grad():
            self.mu.copy_(d["mu"].float().to(self.device))

    # -- pieces of fit
    def init_centres(self, h: np.ndarray, ctx) -> np.ndarray:
        """Initial mu: k-means in the latent space, or t-SNE to 2-D then k-means (DCRL 4.1);
        either way the centres are latent means of the clusters found. Returns the labels."""
        cfg = self.config
        # t-SNE's perplexity (2 at the least here) must stay below the number of points: two
        # points are clustered as they are
        if cfg.init == "tsne" and len(h) > 2:
            from sklearn.manifold import TSNE
            perplexity = float(min(30.0, max(2.0, (len(h) - 1) / 3.0)))
            emb = TSNE(2, perplexity=perplexity, init="pca", random_state=ctx.seed_int()).fit_transform(h)
            labels = KMeans(cfg.n_clusters, n_init=20, random_state=ctx.seed_int()).fit_predict(emb)
        else:
            labels = KMeans(cfg.n_clusters, n_init=20, random_state=ctx.seed_int()).fit_predict(h)
        centres = np.stack([h[labels == j].mean(0) if np.any(labels == j) else h[ctx.rng.integers(len(h))]
                            for j in range(cfg.n_clusters)])
        with torch.no_grad():
            self.mu.copy_(torch.as_tensor(centres, dtype=torch.float32, device=self.device))
        return labels

    def geometry_reference(self, data, ctx) -> GeometryReference | None:
        """The input side of the geometry metrics on the run's fixed subsample (computed once
        per data set and subsample); None when the subsample is too small for them (under
        ``MIN_POINTS`` points), and the snapshots then go without them.

        Distances are divided by sqrt(dimension) in each space, DCRL's L_LIS scaling, so that
        d-RMSE, LGD and the d_Z - d_X histogram measure what L_LIS calls isometry; the
        rank-based metrics (trust, cont, rre, cra) do not depend on it."""
        sub = ctx.subsample if ctx.subsample is not None else np.arange(data.n)
        if len(sub) < MIN_POINTS:
            return None
        cached = getattr(self, "_geometry_ref", None)
        if cached is None or cached[0] is not data or not np.array_equal(cached[1], sub):
            ref = GeometryReference(np.asarray(data.x)[sub], self.config.geometry_k1,
                                    self.config.geometry_k2, normalize=True)
            self._geometry_ref = (data, sub, ref)
        return self._geometry_ref[2]

    def geometry(self, ref: GeometryReference | None, z_sub: np.ndarray, labels_sub: np.ndarray):
        """(metrics, extras) of the current latent subsample; CRA uses the predicted clusters.

        CRA's C is the run's number of clusters k, as appendix A.4's C^2 cells: the rows and
        columns of clusters left empty count as not kept. Ranked over the occupied clusters
        alone, a run collapsed into 2 clusters would score 1.0 whatever its space (two centres
        have one order), and one collapsed into 1 had no value. No reference (a data set of 2
        or 3 points): no metrics at all.
        """
        if ref is None:
            return {}, {}
        labels_sub = np.asarray(labels_sub)
        used, c = len(np.unique(labels_sub)), max(self.config.n_clusters, 1)
        s = ref.score(z_sub, labels_sub if used >= 2 else None, details=True)
        metrics = {k: s[k] for k in ("trust", "cont", "rre", "drmse", "lgd", "cra") if k in s}
        # the occupied clusters' share of the C^2 cells; one cluster has its diagonal cell
        metrics["cra"] = metrics.get("cra", 1.0) * min(used, c) ** 2 / c ** 2
        extras = {"dz_minus_dx": s["dz_minus_dx"].astype(np.float32)}
        if "rank_grid" in s:
            extras["rank_grid"] = s["rank_grid"].astype(np.float32)
            extras["rank_grid_ids"] = s["cluster_ids"].astype(np.int64)
            extras["rank_x"] = s["rank_x"].astype(np.int64)
            extras["rank_z"] = s["rank_z"].astype(np.int64)
        return metrics, extras

    def pretrain_noise(self) -> float:
        """DEC, IDEC and DCRL pretrain a denoising autoencoder."""
        return self.config.noise

    def pretrain_scores(self, data, ctx, latent_sub, labels_sub):
        """The AE's own geometry metrics during pretraining: the baseline the clustering phase
        starts from."""
        return self.geometry(self.geometry_reference(data, ctx), latent_sub, labels_sub)

    def clustering_snapshot(self, data, ctx, ref, *, epoch: int, stage: str, losses: dict,
                            extras: dict, progress: float, z: torch.Tensor | None = None,
                            x: torch.Tensor | None = None):
        """Snapshot of the clustering phase: labels argmax Q, geometry metrics, mu."""
        if z is None:
            z = self.encode(x)
        with torch.no_grad():
            labels = student_t(z, self.mu, self.config.nu).argmax(1).cpu().numpy()
        h = z.detach().cpu().numpy()
        metrics, geo_extras = self.geometry(ref, h[ctx.subsample], labels[ctx.subsample])
        extras = {**extras, **geo_extras, "mu": self.mu.detach().cpu().numpy().copy(),
                  "cluster_sizes": np.bincount(labels, minlength=self.config.n_clusters).astype(np.int64)}
        return self.make_snapshot(data, ctx, epoch=self.config.pretrain_epochs + epoch,
                                  step=self.config.pretrain_epochs + epoch, stage=stage,
                                  labels=labels, latent_sub=h[ctx.subsample], losses=losses,
                                  metrics=metrics, extras=extras, progress=progress), labels


# --------------------------------------------------------------------------- DEC and IDEC

# "quick" uses the same autoencoder, pretraining and optimiser settings as DCRL's quick preset,
# so that the Compare page and bench/dcrl.py compare the losses, not the budgets: the shared
# denoising recipe, so DEC, IDEC and DCRL on one data set start from one pretrained AE.
QUICK = {**QUICK_DENOISING, "epochs": 30, "batch_size": 64, "mu_lr": 0.01}


@dataclass
class DECMethodConfig(DECConfig):
    presets: ClassVar[dict] = {
        "quick": dict(QUICK),
        # paper: the shared paper recipe (ae_kmeans.PAPER_PRETRAIN), whose corruption is DEC's
        # own (input dropout 0.2), so no Gaussian noise on top: one AE with AE + k-means, DCN
        # and ACe/DeC, as ACe/DeC compares DEC and IDEC on its ten AEs. The clustering phase
        # is DEC's: SGD at 0.01 with momentum 0.9 (Adam 1e-3 is IDEC's). MNIST test split, seeds
        # 0 / 1 / 2 on the shared AEs (bench/mnist.py): 0.784 / 0.784 / 0.787, against 0.734 /
        # 0.698 / 0.733 with Adam 1e-3.
        "paper": {**PAPER_PRETRAIN, "noise": 0.0, "epochs": 200, "tol": 0.001,
                  "cluster_optimizer": "sgd", "cluster_lr": 0.01},
    }


@dataclass
class IDECConfig(DECConfig):
    gamma: float = param(0.1, "Weight gamma of the clustering loss against reconstruction "
                         "(IDEC: L = L_r + gamma * L_c).", min=0.0, max=100.0)
    presets: ClassVar[dict] = {
        "quick": dict(QUICK),
        # paper: the shared paper recipe (ae_kmeans.PAPER_PRETRAIN), whose corruption is DEC's
        # own (input dropout 0.2), so no Gaussian noise on top: one AE with AE + k-means, DCN
        # and ACe/DeC, as ACe/DeC compares DEC and IDEC on its ten AEs. IDEC renews P and checks
        # its stopping rule every T iterations: T = 140 on MNIST-full (about half an epoch of
        # its 273 batches) and 30 on USPS (about one epoch of its 37). On the 10,000 images of
        # the MNIST test split an epoch is 40 iterations, so once per epoch keeps the paper's
        # cadence; T = 140 there (3.5 epochs between targets) gave NMI 0.757 / 0.729 against
        # 0.781 / 0.754 (seeds 0 / 1, bench/mnist.py, 2026-12-02). Set update_interval for T.
        "paper": {**PAPER_PRETRAIN, "noise": 0.0, "epochs": 200, "tol": 0.001},
    }


@register
class DEC(StudentTClustering):
    Config = DECMethodConfig
    id = "dec"
    Extras = DECExtras
    estimator = "DEC"
    title = "DEC"
    paper = "Unsupervised Deep Embedding for Clustering Analysis (Xie et al., 2016)"
    # its paper's image data is MNIST; the 8x8 digits stand in for it offline
    suits = ("digits", "mnist")
    quick_time = "40 s"
    summary = ("Pretrain an autoencoder, then sharpen a Student-t soft assignment with KL(P||Q): "
               "the clustering loss alone, which DCRL shows deforms the latent geometry.")

    #: IDEC keeps the decoder in the loss
    reconstruct: ClassVar[bool] = False

    def batch_loss(self, xb: torch.Tensor, pb: torch.Tensor) -> tuple[torch.Tensor, dict]:
        z = self.ae.encode(xb)
        lc = cluster_loss(pb, student_t(z, self.mu, self.config.nu))
        if not self.reconstruct:
            return lc, {"cluster": lc.item()}
        lr = reconstruction_loss(xb, self.ae.decode(z))
        return lr + self.config.gamma * lc, {"cluster": lc.item(), "reconstruction": lr.item()}

    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        n = len(x)
        total = cfg.pretrain_epochs + cfg.epochs
        ref = self.geometry_reference(data, ctx)
        yield from self.pretrain(data, ctx, x, total_epochs=total)
        opt = self.make_optimizer()
        # With update_interval T > 0 (IDEC: T = 140 on MNIST), P is recomputed every T
        # iterations and the stopping rule is checked there, against the labels of the last
        # update, as IDEC's Algorithm 1 does; with 0, both happen once per epoch.
        every = cfg.update_interval
        prev, step, first = None, 0, 0
        p = last = None  # the target in force and the labels it was made with
        resumed = ctx.resume_point("cluster", opt=opt)
        if resumed is None:
            self.init_centres(self.encode(x).cpu().numpy(), ctx)
        else:  # mu and the AE come from the checkpoint; go on after its epoch
            first, step = resumed["epoch"] + 1, int(resumed["step"])
            prev = resumed["labels"].to(x.device)
            if every and "p" in resumed:  # the target of the last update, as it was
                p, last = resumed["p"].to(x.device), resumed["last"].to(x.device)
        stop = False
        for epoch in range(first, cfg.epochs):
            q = self.soft_assign(x)
            labels = q.argmax(1)  # DEC's assignment, argmax q_ij, whose changes end the run
            # the first epoch has no labels before it to compare with: no share (not 1.0)
            changed = None if prev is None else float((labels != prev).float().mean())
            prev = labels
            if not every or p is None:
                p = target_distribution(q)
                last = labels
            if not every and cfg.tol > 0 and epoch > 0 and changed is not None \
                    and changed < cfg.tol:
                break
            sums: dict[str, float] = {}
            seen = 0
            self.ae.train()
            for idx in batches(n, cfg.batch_size, ctx.generator, x.device):
                ctx.check()
                if every and step > 0 and step % every == 0:
                    q = self.soft_assign(x)
                    p, now = target_distribution(q), q.argmax(1)
                    moved = float((now != last).float().mean())
                    last = now
                    self.ae.train()
                    if cfg.tol > 0 and moved < cfg.tol:
                        stop = True
                        break
                loss, parts = self.batch_loss(x[idx], p[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                seen += len(idx)
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v * len(idx)
            self.ae.eval()
            if stop and not seen:  # stopped before this epoch's first step: nothing to show
                break
            losses = {k: v / seen for k, v in sums.items()}
            snap, _ = self.clustering_snapshot(
                data, ctx, ref, epoch=epoch, stage="clustering", losses=losses, x=x,
                extras={} if changed is None else {"labels_changed": changed}, progress=(cfg.pretrain_epochs + epoch + 1) / total)
            ctx.at("cluster", epoch=epoch, step=step, labels=prev.cpu(),
                   **({"p": p.cpu(), "last": last.cpu()} if every else {}))
            yield snap
            if stop:
                break
            if (epoch + 1) % 25 == 0:
                ctx.checkpoint()


@register
class IDEC(DEC):
    Config = IDECConfig
    id = "idec"
    estimator = "IDEC"
    title = "IDEC"
    paper = "Improved Deep Embedded Clustering with Local Structure Preservation (Guo et al., 2017)"
    suits = ("digits", "mnist", "usps")  # its paper's image data: MNIST and USPS
    quick_time = "50 s"
    summary = ("DEC plus the autoencoder's reconstruction loss (L_r + gamma * KL), which is meant "
               "to keep the local structure of the latent space.")
    reconstruct = True
