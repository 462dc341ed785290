"""DCN: Deep Clustering Network (Yang et al., ICML 2017), as restated in ACe/DeC's Eq. 3-4.

    L = lambda/2 * sum_k sum_{z in C_k} ||z - mu_k||^2  +  sum_x ||x - dec(z)||^2        (Eq. 3-4)

An autoencoder is pretrained on reconstruction alone; k-means on its embedding gives the first
centroids. Then three updates alternate on every mini-batch, as in DCN:

1. the network takes a gradient step on Eq. 4 with the centroids and the hard assignments fixed;
2. the batch is encoded again and each point is assigned to its nearest centroid (hard);
3. each centroid moves towards its new points by mini-batch k-means (Sculley, 2010) with a
   per-centre count c_k, which makes the step size 1/c_k shrink as the centre sees more points
   (DCN's Eq. 8; its code starts every count at 100).

A centroid that loses all its points is re-seeded at the point its centroid explains worst.

ACe/DeC (``dcviz/methods/acedec.py``) builds on this module: the same autoencoders, the same
mini-batch centroid updates, the same re-seeding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans

from dcviz.methods.ae_kmeans import PAPER_PRETRAIN, QUICK_PRETRAIN, AEConfig, AEMethod
from dcviz.methods.base import ConfigError, Extras, param, register
from dcviz.probes import factor_probes
from dcviz.nets import batches, encode_all, resolve_arch

# The paper trains "single layer linear AEs with d = D" on SYNTH-25 (section 4). With arch="auto",
# vector data with at most this many features gets that linear AE; richer data an MLP or a CNN.
# --------------------------------------------------------------------------- loss terms

def kmeans_loss(z: torch.Tensor, centroids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_comp of Eq. 3-4: mean over the batch of ||z - mu_{s(z)}||^2, with hard assignments s."""
    return (z - centroids[labels]).pow(2).sum(1).mean()


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor,
                        reduction: str = "sum") -> torch.Tensor:
    """L_rec of Eq. 3-4: ||x - dec(z)||^2, averaged over the batch.

    ``reduction="sum"``: summed over the D features, as Eq. 4 writes it (both terms per-point
    sums, lambda alone sets their balance). ``"mean"``: averaged over the features, as the
    authors' code computes it (torch's MSELoss, in ClustPy's DCN by ACe/DeC's authors), which is
    the sum divided by D: the k-means term then weighs D times more for the same lambda. The
    lambdas of ACe/DeC's Table 1 (0.1, 1, 10) come from that code, so they are on its scale.
    """
    per_point = (x_hat - x).pow(2).sum(1)
    if reduction == "mean":
        per_point = per_point / x.shape[1]
    elif reduction != "sum":
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    return per_point.mean()


# --------------------------------------------------------------------------- centroid updates

def nearest_centroid(z: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Hard assignment s(z) = argmin_k ||z - mu_k||^2."""
    return torch.cdist(z, centroids).argmin(1)


@torch.no_grad()
def minibatch_kmeans_update(centroids: torch.Tensor, counts: torch.Tensor, z: torch.Tensor,
                            labels: torch.Tensor, decay: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mini-batch k-means (Sculley 2010; DCN's Eq. 8), vectorised.

    DCN walks through the batch point by point: c_k += 1, mu_k <- mu_k - (1/c_k)(mu_k - z).
    Those steps telescope into a running mean, so for the n_k batch points of centre k
        mu_k <- (c_k * mu_k + sum_{z in batch, s(z)=k} z) / (c_k + n_k),   c_k <- c_k + n_k,
    which is what this computes (the result is identical to the point-by-point loop).

    ``decay`` < 1 first multiplies the counts by ``decay``, so old points are forgotten and the
    centre follows an embedding that moves (1 = DCN's plain running mean).
    Returns new (centroids, counts); the inputs are left unchanged.
    """
    k = centroids.shape[0]
    counts = counts * decay
    n_k = torch.bincount(labels, minlength=k).to(centroids.dtype)
    sums = torch.zeros_like(centroids).index_add_(0, labels, z.to(centroids.dtype))
    new_counts = counts + n_k
    new = (counts[:, None] * centroids + sums) / new_counts.clamp(min=1e-12)[:, None]
    new = torch.where((n_k > 0)[:, None], new, centroids)
    return new, new_counts


@torch.no_grad()
def reseed_empty_clusters(centroids: torch.Tensor, counts: torch.Tensor, z: torch.Tensor,
                          labels: torch.Tensor, init_count: float,
                          distance=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
    """Move every centre with no points to the point that its own centre explains worst.

    ``distance(z, centroids[labels])`` gives each point's loss (squared Euclidean by default; ACe/DeC
    passes its weighted distance). Each re-seeded centre takes a different point, which is then
    assigned to it; its count restarts at ``init_count``. Returns (centroids, counts, labels,
    re-seeded ids); the inputs are left unchanged.
    """
    k = centroids.shape[0]
    sizes = torch.bincount(labels, minlength=k)
    empty = torch.nonzero(sizes == 0).flatten().tolist()
    if not empty:
        return centroids, counts, labels, []
    centroids, counts, labels = centroids.clone(), counts.clone(), labels.clone()
    if distance is None:
        err = (z - centroids[labels]).pow(2).sum(1)
    else:
        err = distance(z, centroids[labels])
    # a point may only leave a cluster that keeps at least one other point
    order = torch.argsort(err, descending=True)
    sizes = sizes.clone()
    taken = 0
    for idx in order.tolist():
        if taken == len(empty):
            break
        if sizes[labels[idx]] <= 1:
            continue
        j = empty[taken]
        sizes[labels[idx]] -= 1
        centroids[j] = z[idx]
        counts[j] = init_count
        labels[idx] = j
        sizes[j] += 1
        taken += 1
    return centroids, counts, labels, empty[:taken]


# --------------------------------------------------------------------------- configs

@dataclass
class CentroidAEConfig(AEConfig):
    """Settings shared by DCN and ACe/DeC (ClustPy's ACe/DeC defaults, see METHOD-NOTES)."""

    latent_dim: int = param(0, "Size d of the embedding; 0 = automatic: d = D for the linear AE "
                            "(the paper's synthetic setting), else 10 (the paper's image setting).",
                            min=0, max=256, step=1, auto=(0, "automatic"))
    arch: str = param("auto", "Autoencoder: conv for images of 16x16 and more, a single linear "
                      "layer for vectors of at most 32 features (as the paper on SYNTH-25), "
                      "the MLP d-500-500-2000-d otherwise.",
                      choices=["auto", "mlp", "conv", "linear"], advanced=True)
    pretrain_epochs: int = param(100, "Epochs of reconstruction-only pretraining.", min=0,
                                 max=2000, step=10)
    pretrain_batch_size: int = param(128, "Mini-batch size of the pretraining.", min=2,
                                     max=8192, step=32)
    batch_size: int = param(128, "Mini-batch size of the clustering phase.", min=2, max=8192,
                            step=32)
    cluster_epochs: int = param(150, "Epochs of the joint clustering phase.", min=1, max=2000, step=10)
    cluster_lr: float = param(1e-4, "Adam learning rate of the clustering phase.", min=1e-6,
                              max=1.0, log=True)
    init_count: float = param(100.0, "Starting per-centre count c_k of the mini-batch k-means "
                              "(the step is 1/c_k; DCN's code starts at 100).", min=1.0,
                              max=1e6, advanced=True)
    kmeans_n_init: int = param(10, "Restarts of the k-means that gives the first centroids.",
                               min=1, max=100, step=1, advanced=True)

    def latent_size(self, input_dim: int | None = None, image_shape=None) -> int:
        if self.latent_dim:
            return self.latent_dim
        if input_dim is not None and resolve_arch(self.arch, input_dim, image_shape,
                                                  offers_linear=True) == "linear":
            return int(input_dim)
        return 10


@dataclass
class DCNConfig(CentroidAEConfig):
    lam: float = param(1.0, "lambda of Eq. 3: weight of the k-means loss against the "
                       "reconstruction (the paper compares 0.1, 1 and 10).", min=0.0, max=1000.0,
                       log=True, label="lambda")
    recon_reduction: str = param("sum", "The reconstruction term over the D input features: "
                                 "summed, as Eq. 4 writes it, or averaged, as the authors' code "
                                 "does (the k-means term then weighs D times more for the same "
                                 "lambda; the paper's lambdas are on that scale).",
                                 choices=["sum", "mean"], advanced=True)
    presets: ClassVar[dict] = {
        # about a minute on digits on a 2-core CPU: the pretraining recipe every AE method's quick
        # preset shares (one AE for AE + k-means, DCN, DEKM and ACe/DeC on one data set), and
        # fewer, larger clustering steps (10x the paper's rate) in place of the paper's 150 epochs
        "quick": {**QUICK_PRETRAIN, "cluster_epochs": 20, "batch_size": 256,
                  "cluster_lr": 1e-3, "kmeans_n_init": 5},
        # paper: the shared paper recipe (ae_kmeans.PAPER_PRETRAIN): DEC's procedure, by which
        # ACe/DeC pretrains the AEs it runs DCN on; the reconstruction averaged over the
        # features, as the authors' code does, so that lambda 0.1 means what it means in
        # ACe/DeC's Table 1 (see reconstruction_loss). On MNIST-test (bench/mnist.py, seeds
        # 0-2, lambda 0.1, the stored paper AEs): NMI 0.744 / 0.733 / 0.739 after 20 and after
        # 150 clustering epochs, against 0.711 / 0.695 / 0.711 and 0.716 / 0.704 / 0.719 with
        # the sum (bench/results/mnist-cpu-dcn-mean.md). The preset keeps lambda 1, the middle
        # of the three the paper compares; those figures set lam=0.1 on top of it
        "paper": {**PAPER_PRETRAIN, "recon_reduction": "mean"},
    }


# --------------------------------------------------------------------------- shared method code

class CentroidAEMethod(AEMethod):
    """The autoencoder, pretraining, first k-means and snapshot plumbing of DCN and ACe/DeC."""

    Config = CentroidAEConfig

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        self.epoch_done = 0

    def total_epochs(self) -> int:
        return self.config.pretrain_epochs + self.config.cluster_epochs

    def initial_kmeans(self, h: np.ndarray, ctx, n_init: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """k-means (k-means++ seeding, n_init restarts) on an embedding: (centres, labels)."""
        km = KMeans(self.config.n_clusters, n_init=n_init or self.config.kmeans_n_init,
                    random_state=ctx.seed_int()).fit(h)
        return km.cluster_centers_.astype(np.float32), km.labels_

    def check_data(self, data) -> None:
        self.config.validate(n_samples=data.n)
        if data.dim != self.input_dim:
            raise ConfigError(f"the model was built for {self.input_dim} features; the data has {data.dim}")


# --------------------------------------------------------------------------- DCN

@dataclass
class DCNExtras(Extras):
    centroids: np.ndarray | None = None      # (k, d), from the k-means initialisation on
    cluster_sizes: np.ndarray | None = None  # (k,)
    reseeded: float | None = None            # empty clusters reseeded this epoch


@register
class DCN(CentroidAEMethod):
    Config = DCNConfig
    id = "dcn"
    Extras = DCNExtras
    estimator = "DCN"
    title = "DCN"
    paper = "Towards K-means-friendly Spaces: Simultaneous Deep Learning and Clustering (Yang et al., 2017)"
    suits = ("digits", "mnist")  # its paper's image data: MNIST (and Pendigits, pen strokes)
    quick_time = "30 s"
    summary = ("Autoencoder plus a k-means loss on hard assignments, weighted by lambda; centroids "
               "follow by mini-batch k-means. The baseline that ACe/DeC builds on.")
    resumable = True  # a killed run goes on from its checkpoint (ctx.at at every snapshot)

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        # the clustering state exists from the start, so that a checkpoint taken during
        # pretraining saves (and a run killed there resumes there); fit sets it from k-means
        self.centroids = torch.zeros(self.config.n_clusters, self.latent_dim, device=self.device)
        self.counts = torch.full((self.config.n_clusters,), float(self.config.init_count),
                                 device=self.device)

    def fit(self, data, ctx):
        cfg = self.config
        self.check_data(data)
        x = self.tensor(data.x)
        n, total = len(x), self.total_epochs()
        yield from self.pretrain(data, ctx, x, total_epochs=total)

        opt = torch.optim.Adam(self.ae.parameters(), lr=cfg.cluster_lr)
        resumed = ctx.resume_point("cluster", opt=opt)
        if resumed is None:
            h = self.encode(x)
            centers, labels = self.initial_kmeans(h.cpu().numpy(), ctx)
            self.centroids = torch.as_tensor(centers, device=self.device)
            self.counts = torch.full((cfg.n_clusters,), float(cfg.init_count), device=self.device)
            labels = torch.as_tensor(labels, dtype=torch.long, device=self.device)
            self.epoch_done = cfg.pretrain_epochs
            snap = self._snapshot(data, ctx, x, stage="k-means init", epoch=cfg.pretrain_epochs,
                                  losses={"kmeans": kmeans_loss(h, self.centroids, labels).item()})
            ctx.at("cluster", epoch=-1, labels=labels.cpu())
            yield snap
            first = 0
        else:  # the AE, centroids and counts come from the checkpoint; go on after its epoch
            labels = resumed["labels"].to(self.device)
            first = int(resumed["epoch"]) + 1

        for epoch in range(first, cfg.cluster_epochs):
            sums = {"reconstruction": 0.0, "kmeans": 0.0, "total": 0.0}
            reseeded = 0
            for idx in batches(n, cfg.batch_size, ctx.generator, self.device):
                ctx.check()
                xb = x[idx]
                # (1) network step, centroids and assignments fixed (Eq. 4)
                self.ae.train()
                z = self.ae.encode(xb)
                l_rec = reconstruction_loss(xb, self.ae.decode(z), cfg.recon_reduction)
                l_km = kmeans_loss(z, self.centroids, labels[idx])
                loss = 0.5 * cfg.lam * l_km + l_rec
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                # (2) re-assign with the new network, (3) mini-batch k-means on the centroids
                self.ae.eval()
                with torch.no_grad():
                    zb = self.ae.encode(xb)
                    labels[idx] = nearest_centroid(zb, self.centroids)
                    self.centroids, self.counts = minibatch_kmeans_update(
                        self.centroids, self.counts, zb, labels[idx])
                m = len(idx)
                sums["reconstruction"] += l_rec.item() * m
                sums["kmeans"] += l_km.item() * m
                sums["total"] += loss.item() * m
            # once per epoch, over all the data: re-seed centres that lost every point
            h = self.encode(x)
            labels = nearest_centroid(h, self.centroids)
            self.centroids, self.counts, labels, ids = reseed_empty_clusters(
                self.centroids, self.counts, h, labels, cfg.init_count)
            reseeded += len(ids)
            self.epoch_done = cfg.pretrain_epochs + epoch + 1
            snap = self._snapshot(data, ctx, x, stage="clustering", epoch=self.epoch_done,
                                  losses={k: v / n for k, v in sums.items()},
                                  scalars={"reseeded": float(reseeded)}, h=h,
                                  final=epoch + 1 == cfg.cluster_epochs)
            ctx.at("cluster", epoch=epoch, labels=labels.cpu())
            yield snap

    def _snapshot(self, data, ctx, x, *, stage, epoch, losses, scalars=None, h=None, final=False):
        if h is None:
            h = self.encode(x)
        labels = nearest_centroid(h, self.centroids).cpu().numpy()
        hn = h.cpu().numpy()
        extras = {"centroids": self.centroids.cpu().numpy(),
                  "cluster_sizes": np.bincount(labels, minlength=self.config.n_clusters).astype(np.float32)}
        extras.update(scalars or {})
        # ACe/DeC's probes on DCN's single space, for comparison (objects only; see dcviz.probes)
        metrics = factor_probes({"": hn}, data.factors, seed=self.config.seed) if final else {}
        return self.make_snapshot(data, ctx, epoch=epoch, step=epoch, stage=stage, labels=labels,
                                  latent_sub=hn[ctx.subsample], losses=losses, extras=extras,
                                  metrics=metrics, progress=epoch / max(1, self.total_epochs()))

    def predict(self, x):
        return nearest_centroid(self.encode(self.tensor(x)), self.centroids).cpu().numpy()

    def state_dict(self):
        return {"ae": self.ae.state_dict(), "centroids": self.centroids.cpu(),
                "counts": self.counts.cpu(), "epoch": int(self.epoch_done)}

    def load_state_dict(self, d):
        self.ae.load_state_dict(d["ae"])
        self.centroids = d["centroids"].float().to(self.device)
        self.counts = d["counts"].float().to(self.device)
        self.epoch_done = int(d.get("epoch", 0))
