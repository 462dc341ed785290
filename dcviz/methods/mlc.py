"""MLC: Unsupervised Manifold Linearizing and Clustering (Ding, Tong, Chan, Dai, Ma, Haeffele).

Data near a union of k manifolds is mapped onto the unit sphere so that every manifold becomes a
linear subspace, and the subspaces of different clusters are orthogonal. The network (Fig. 2) is a
backbone with two heads, each ending on the sphere S^{d-1}:

    Z = f(X)  the feature head (features),       C = g(X)  the cluster head,
    Pi = P_{Omega,eta}(|C^T C|)                    a doubly stochastic n x n membership (Sinkhorn).

Algorithm 1, as this module runs it:

1. Warm-up (line 1, Eq. 5): train backbone + feature head on two augmentations of every sample,
   maximising R((Z + Z')/2; eps) + lambda * sum_i |z_i^T z'_i|. Features of one sample agree, and
   features of different samples spread over the sphere.
2. Initialise Pi (line 2): copy the feature head into the cluster head, so that Pi starts as
   P_{Omega,eta}(|Z^T Z|), built from the structure the warm-up found. Deterministic, unlike NMCE.
3. MLC (lines 3-9, Eq. 4): with the backbone fixed, both heads maximise
   R(Z; eps) - R_c(Z, Pi; eps) - (gamma / 2) ||Pi||_F^2 on A augmentations per batch, averaged as
   in Eq. 6 (Z = P_S(mean_a Z^(a)), Pi = mean_a Pi^(a)). Each column of Pi is a soft cluster of R_c.
4. Labels (line 10): spectral clustering on Pi over all data (or a large sample; the remaining
   points are placed by their own row of Pi against that sample).

What the views show (see dcviz/viz/mlc.py): |Z^T Z| sorted by cluster turning block-diagonal
(Fig. 4), the membership Pi, the coding rates R, R_c and Delta R over epochs (Fig. 3a), the
numerical rank of all features and of each cluster (Fig. 3b), principal images per learned
cluster (Fig. 5, appendix A), and for the two-manifold sphere set Z at random init, after warm-up
and after MLC (Fig. 1, appendix D.1).

Symbols follow the paper with features as rows: ``Z`` is (n, d) here where the paper writes d x n,
so the paper's Z Z^T is ``Z.T @ Z`` and its Z^T Z (the cosine matrix) is ``Z @ Z.T``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.cluster import KMeans
from torch.nn import functional as F

from dcviz.methods.base import BaseConfig, ConfigError, Extras, Method, param, register
from dcviz.nets.augment import augment, jitter_scale
from dcviz.nets.mlc import LARS, ConvBackbone, Identity, MLPBackbone, SphereHead

# ============================================================================ the paper's terms


def coding_rate(Z: torch.Tensor, eps2: float) -> torch.Tensor:
    """R(Z; eps) = logdet(I + d / (n eps^2) Z Z^T)  (Eq. 1 and Eq. 4; rows of ``Z`` are the z_i).

    The log-determinant (torch.logdet of a d x d SPD matrix) is taken in float32 whatever the
    dtype of Z, as the authors' code does; half precision is not accurate enough for it.
    """
    n, d = Z.shape
    Z = Z.float()
    gram = Z.T @ Z  # the paper's Z Z^T, d x d
    eye = torch.eye(d, dtype=torch.float32, device=Z.device)
    return torch.logdet(eye + (d / (n * eps2)) * gram)


def coding_rate_c(Z: torch.Tensor, Pi: torch.Tensor, eps2: float) -> torch.Tensor:
    """R_c(Z, Pi; eps): the coding rate of Z split by the soft clusters in the columns of Pi.

    Eq. 1's general form,  sum_j (<Pi_j, 1> / n) logdet(I + d / (<Pi_j, 1> eps^2) Z Diag(Pi_j) Z^T),
    which for a doubly stochastic n x n Pi (every column sums to 1) is Eq. 4's
    (1/n) sum_{j=1}^n logdet(I + d / eps^2 Z Diag(Pi_j) Z^T). ``Pi`` may also be a hard n x k
    membership (one-hot rows), giving MCR^2's R_c of given clusters. Empty columns add nothing.
    """
    n, d = Z.shape
    Z, Pi = Z.float(), Pi.float()
    mass = Pi.sum(0)  # <Pi_j, 1>
    keep = mass > 1e-12
    Pi, mass = Pi[:, keep], mass[keep]
    # Z Diag(Pi_j) Z^T for every column j at once: (m, d, d)
    covs = torch.einsum("ij,id,ie->jde", Pi, Z, Z)
    eye = torch.eye(d, dtype=torch.float32, device=Z.device)
    logdets = torch.logdet(eye + (d / (mass * eps2))[:, None, None] * covs)
    return (mass / n * logdets).sum()


def membership_penalty(Pi: torch.Tensor, gamma: float) -> torch.Tensor:
    """(gamma / 2) ||Pi||_F^2 (Eq. 4): pulls Pi toward the uniform 11^T/n, away from a permutation."""
    return 0.5 * gamma * (Pi.float() ** 2).sum()


def sinkhorn(M: torch.Tensor, eta: float, n_iter: int = 5, return_potentials: bool = False):
    """P_{Omega,eta}(M): the entropic projection of M onto the doubly stochastic matrices (Eq. 3).

    argmin_{Pi in Omega} -<Pi, M> + eta sum_ij Pi_ij log Pi_ij, whose solution is
    Diag(u) exp(M / eta) Diag(v). Sinkhorn's iterations alternately scale the columns and the rows
    to sum to 1, in log space (exp(M / eta) overflows for small eta): ``n_iter`` rounds of
    (columns, rows). The rows come last, so every row sums to exactly 1 and the columns to 1 up
    to the remaining error, which shrinks geometrically with ``n_iter``.

    With ``return_potentials`` also gives (f, g), where log Pi = M / eta + f[:, None] + g[None, :].
    """
    if M.ndim != 2:
        raise ValueError(f"sinkhorn expects a matrix, got shape {tuple(M.shape)}")
    if eta <= 0:
        raise ValueError(f"eta must be > 0, got {eta}")
    log_k = M / eta
    f = torch.zeros(M.shape[0], dtype=M.dtype, device=M.device)
    g = torch.zeros(M.shape[1], dtype=M.dtype, device=M.device)
    # target marginals: rows and columns each sum to 1 (n x n with uniform marginals)
    for _ in range(max(int(n_iter), 1)):
        g = -torch.logsumexp(log_k + f[:, None], dim=0)
        f = -torch.logsumexp(log_k + g[None, :], dim=1)
    Pi = torch.exp(log_k + f[:, None] + g[None, :])
    return (Pi, f, g) if return_potentials else Pi


def membership(C: torch.Tensor, eta: float, n_iter: int, return_potentials: bool = False):
    """Pi_theta = P_{Omega,eta}(|C^T C|) from cluster-head outputs (rows of ``C`` on the sphere)."""
    return sinkhorn((C @ C.T).abs(), eta, n_iter, return_potentials)


def numerical_rank(W, energy: float = 0.95) -> int:
    """Numerical rank (section 3): the least r with sum_{i<=r} sigma_i^2 / sum_i sigma_i^2 > 0.95.

    ``W`` holds the points as rows (the paper's columns); no centring, because the clusters are
    subspaces through the origin. Empty input has rank 0.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] == 0:
        return 0
    s2 = np.linalg.svd(W, compute_uv=False) ** 2
    total = s2.sum()
    if total <= 0:
        return 0
    frac = np.cumsum(s2) / total
    return int(min(np.searchsorted(frac, energy, side="right") + 1, len(s2)))


def warmup_objective(z1: torch.Tensor, z2: torch.Tensor, eps2: float, lam: float) -> dict:
    """The self-supervised objective of Eq. 5, as terms to *maximise*:

    R((Z + Z') / 2; eps) + lambda * sum_i |z_i^T z'_i|, with z_i, z'_i features of two
    augmentations of sample i. Returns {"R_avg", "agreement", "objective"}.
    """
    r = coding_rate((z1 + z2) / 2, eps2)
    agree = (z1 * z2).sum(1).abs().sum()
    return {"R_avg": r, "agreement": agree, "objective": r + lam * agree}


def mlc_objective(Z: torch.Tensor, Pi: torch.Tensor, eps2: float, gamma: float) -> dict:
    """The MLC objective of Eq. 4, to *maximise*: R(Z) - R_c(Z, Pi) - (gamma/2) ||Pi||_F^2."""
    r = coding_rate(Z, eps2)
    rc = coding_rate_c(Z, Pi, eps2)
    pen = membership_penalty(Pi, gamma)
    return {"R": r, "R_c": rc, "penalty": pen, "delta_R": r - rc, "objective": r - rc - pen}


def spectral_clustering(A: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Normalised spectral clustering (von Luxburg's tutorial [46], Ng-Jordan-Weiss) of affinity A.

    A is symmetrised; the k leading eigenvectors of D^{-1/2} A D^{-1/2} (for a doubly stochastic
    Pi, D = I) are row-normalised and clustered with k-means.
    """
    A = np.asarray(A, dtype=np.float32)
    A = A + A.T   # the factor 1/2 of the symmetrisation cancels in D^{-1/2} A D^{-1/2}
    n = len(A)
    if k >= n:
        return np.arange(n) % k
    inv_sqrt = 1.0 / np.sqrt(np.maximum(A.sum(1, dtype=np.float64), 1e-12)).astype(np.float32)
    An = A
    An *= inv_sqrt[:, None]   # in place: the paper's preset clusters 10,000 points
    An *= inv_sqrt[None, :]
    if n <= 400:
        _, vecs = np.linalg.eigh(An)
        vecs = vecs[:, -k:]
    else:
        try:
            _, vecs = eigsh(An, k=k, which="LA", v0=1.0 / inv_sqrt.astype(np.float64), tol=1e-6)
        except ArpackNoConvergence as e:  # rare; the dense solver always answers
            vecs = e.eigenvectors if e.eigenvectors is not None and e.eigenvectors.shape[1] == k else \
                np.linalg.eigh(An)[1][:, -k:]
    emb = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return KMeans(k, n_init=10, random_state=seed).fit_predict(emb).astype(np.int64)


# ============================================================================ optimiser


def make_optimizer(name: str, params, lr: float, weight_decay: float = 0.0):
    if name == "lars":
        return LARS(params, lr=lr, weight_decay=weight_decay or 1e-6)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"unknown optimiser {name!r}")


# ============================================================================ networks


# ============================================================================ config


@dataclass
class MLCConfig(BaseConfig):
    """Defaults are the paper's training settings (appendix D.2, CIFAR); the backbone is a small
    CNN or MLP (``arch``) in place of its ResNet-18. "quick" suits a CPU."""

    arch: str = param("auto", "Network. auto: 'fig1' (appendix D.1: no backbone, heads of 100 "
                      "hidden units, d = D) for data of at most 3 dims, 'cnn' for images of 16x16 "
                      "and larger, 'mlp' otherwise.", choices=["auto", "fig1", "mlp", "cnn"])
    feature_dim: int = param(128, "Feature dimension d of both heads (the 'fig1' network uses "
                             "d = D instead).", min=2, max=512, step=1)
    width: int = param(512, "Width of the backbone's output (MLP width, CNN dense layer).",
                       min=8, max=4096, step=8, advanced=True)
    head_hidden: int = param(512, "Hidden units of each head ('fig1': 100).", min=4, max=4096,
                             step=4, advanced=True)
    batch_size: int = param(1024, "Batch size n_b (Pi is n_b x n_b per batch).", min=8, max=8192, step=32)
    min_steps_per_epoch: int = param(1, "An epoch repeats passes over the data until it has at "
                                     "least this many steps, so that a small set (sphere2 is one "
                                     "batch) trains enough between two snapshots.", min=1,
                                     max=1000, step=1, advanced=True)
    # ---- warm-up, Eq. 5
    warmup_epochs: int = param(1000, "Epochs of the self-supervised warm-up (Eq. 5).", min=0,
                               max=5000, step=10)
    warmup_eps2: float = param(0.2, "Precision eps^2 of the warm-up coding rate.", min=1e-4, max=10.0)
    lam: float = param(0.5, "lambda of Eq. 5: weight of the agreement sum_i |z_i^T z'_i| (a sum "
                       "over the batch, as written; the paper gives no value, 0.5 is ours).",
                       min=0.0, max=10.0)
    warmup_optimizer: str = param("lars", "Warm-up optimiser (the paper: LARS).",
                                  choices=["lars", "sgd", "adam"], advanced=True)
    warmup_lr: float = param(0.3, "Warm-up learning rate (the paper: 0.3 with LARS).", min=1e-6,
                             max=10.0, log=True)
    # ---- MLC, Eq. 4 and 6
    epochs: int = param(100, "Epochs of the MLC objective (Eq. 4) after the warm-up.", min=0,
                        max=5000, step=5)
    eps2: float = param(0.1, "Precision eps^2 of R and R_c in the MLC objective.", min=1e-4, max=10.0)
    gamma: float = param(0.05, "gamma: weight of (gamma/2)||Pi||_F^2; larger gives a flatter Pi, "
                         "fewer and larger clusters.", min=0.0, max=10.0)
    eta: float = param(0.175, "Entropic regularisation eta of the Sinkhorn projection (smaller "
                       "gives a sharper Pi).", min=0.01, max=10.0)
    sinkhorn_iters: int = param(5, "Sinkhorn iterations of the projection layer.", min=1, max=200,
                                step=1, advanced=True)
    n_aug: int = param(2, "A: augmentations per batch, averaged as in Eq. 6.", min=1, max=16, step=1)
    lr: float = param(1e-2, "SGD learning rate of each head in the MLC stage (momentum 0.9).",
                      min=1e-6, max=10.0, log=True)
    lr_ramp: int = param(0, "Steps over which the MLC learning rate rises linearly from 0 to lr "
                         "(0: none, as in the paper). Small sets need it: right after the copy, "
                         "full steps can throw the cluster head onto the uniform Pi.", min=0,
                         max=10000, step=10, advanced=True)
    weight_decay: float = param(5e-4, "SGD weight decay of each head in the MLC stage.", min=0.0,
                                max=1.0, advanced=True)
    # ---- augmentation
    aug_strength: float = param(1.0, "Augmentation strength: crops (down to 80% of the area), "
                                "rotations (10 deg) and shifts (1/16 side) for images, times this; 0 turns augmentation off.",
                                min=0.0, max=3.0, step=0.1)
    augment: str = param("auto", "Augmentation: 'auto' is crops, rotations and shifts for images "
                         "and Gaussian jitter for vectors.", choices=["auto", "image", "jitter"],
                         advanced=True)
    jitter: float = param(0.05, "Vector data: std of the Gaussian jitter, in units of the data's "
                          "feature std (sphere2 is made with noise 0.05).", min=0.0, max=2.0,
                          step=0.01)
    # ---- clustering and views
    spectral_points: int = param(10000, "Points in the final spectral clustering on Pi; beyond "
                                 "this a sample is used and the rest follow their row of Pi.",
                                 min=100, max=20000, step=100, advanced=True)
    live_spectral_points: int = param(1000, "Points in the spectral clustering that labels each "
                                      "epoch's snapshot during training.", min=50, max=20000,
                                      step=50, advanced=True)
    view_points: int = param(256, "Points in the stored |Z^T Z| and Pi heatmaps.", min=20, max=600,
                             step=10, advanced=True)

    presets: ClassVar[dict] = {
        "quick": {"batch_size": 256, "feature_dim": 32, "warmup_epochs": 15, "epochs": 15,
                  "min_steps_per_epoch": 8, "lr_ramp": 40,
                  "warmup_optimizer": "adam", "warmup_lr": 1e-3, "spectral_points": 4000},
        "paper": {},
    }

    def validate(self, n_samples=None):
        super().validate(n_samples)
        if self.batch_size < 2 * self.n_clusters:
            raise ConfigError(f"batch_size={self.batch_size} is too small for k={self.n_clusters}: "
                              f"each batch's Pi must hold several points per cluster")


# ============================================================================ the method


@dataclass
class MLCExtras(Extras):
    R: float                        # coding rates of the view points with their own Pi
    R_c: float
    delta_R: float
    rank_all: float                 # numerical rank of all features
    rank_learned: np.ndarray        # ... of each learned cluster (k,)
    size_learned: np.ndarray        # (k,)
    cos: np.ndarray                 # |Z^T Z| of the view points (m, m), in view_index order
    pi: np.ndarray                  # their membership Pi (m, m)
    view_index: np.ndarray          # the heatmaps' fixed points (m,)
    view_assign: np.ndarray         # their learned clusters
    view_label: np.ndarray          # their true labels (-1 without labels)
    principal_index: np.ndarray     # per cluster, per top PC, the nearest samples
    pi_source: str                  # which head Pi comes from
    rank_true: np.ndarray | None = None     # numerical rank of each true class
    true_classes: np.ndarray | None = None


@register
class MLC(Method):
    Config = MLCConfig
    resumable = True  # a killed run goes on from its checkpoint, in the warm-up or in MLC
    id = "mlc"
    Extras = MLCExtras
    estimator = "MLC"
    card = ("Each cluster straightened into its own subspace: the cosine matrix turns "
            "block-diagonal.")
    picture = "mlc.svg"
    try_it = "sphere2"
    suits = ("digits", "sphere2", "mnist", "fashion-mnist", "usps")
    quick_time = "20 s"
    title = "MLC"
    paper = "Unsupervised Manifold Linearizing and Clustering (Ding et al., ICCV 2023)"
    summary = ("Map each manifold to its own linear subspace on the sphere by maximal coding rate "
               "reduction, with a doubly stochastic membership Pi; cluster with spectral clustering "
               "on Pi.")

    # ------------------------------------------------------------------ build
    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        cfg = self.config
        arch = cfg.arch
        if arch == "auto":
            if self.input_dim <= 3:
                arch = "fig1"
            elif self.image_shape is not None and min(self.image_shape[1:]) >= 16:
                arch = "cnn"
            else:
                arch = "mlp"
        if arch == "cnn" and self.image_shape is None:
            raise ConfigError("arch='cnn' needs image data; this data set is vectors (use arch='mlp' "
                              "or 'auto')")
        self.arch = arch
        if arch == "fig1":
            self.backbone = Identity(self.input_dim)
            self.d, hidden = self.input_dim, 100
        else:
            self.backbone = (ConvBackbone(self.image_shape, cfg.width) if arch == "cnn"
                             else MLPBackbone(self.input_dim, cfg.width))
            self.d, hidden = cfg.feature_dim, cfg.head_hidden
        self.feature_head = SphereHead(self.backbone.out_dim, hidden, self.d)
        self.cluster_head = SphereHead(self.backbone.out_dim, hidden, self.d)
        for m in (self.backbone, self.feature_head, self.cluster_head):
            m.to(self.device).eval()
        self.heads_copied = False     # False: Pi comes from the feature head (what the copy gives)
        self.jitter_sigma = 0.0       # vector jitter in data units, set by fit
        # reference sample of the last spectral clustering: predict() places points against it
        self.ref_c = torch.zeros(0, self.d)
        self.ref_g = torch.zeros(0)
        self.ref_labels = torch.zeros(0, dtype=torch.long)

    # ------------------------------------------------------------------ forward passes
    def _augment(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        cfg = self.config
        if cfg.aug_strength <= 0:
            return x
        if self.image_shape is not None and self.config.augment in ("auto", "image"):
            return augment(x, self.image_shape, gen, kind="image", strength=cfg.aug_strength)
        return augment(x, None, gen, kind="jitter", sigma=self.jitter_sigma * cfg.aug_strength)

    def _pi_head(self) -> SphereHead:
        return self.cluster_head if self.heads_copied else self.feature_head

    @torch.no_grad()
    def _encode(self, x: torch.Tensor, batch: int = 2048):
        """(Z, C) of all rows, in eval mode, without augmentation."""
        self.backbone.eval()
        zs, cs = [], []
        for i in range(0, len(x), batch):
            h = self.backbone(x[i:i + batch])
            zs.append(self.feature_head(h))
            cs.append(self._pi_head()(h))
        return torch.cat(zs), torch.cat(cs)

    def embed(self, x):
        return self._encode(self.tensor(x))[0].cpu().numpy()

    # ------------------------------------------------------------------ labels
    @torch.no_grad()
    def _cluster(self, C: torch.Tensor, n_points: int, seed: int) -> np.ndarray:
        """Spectral clustering on Pi of a sample of at most ``n_points``; the rest by extension.

        Keeps the sample as the reference that ``predict`` uses.
        """
        n, k = len(C), self.config.n_clusters
        rng = np.random.default_rng(seed)
        ref = np.sort(rng.choice(n, size=n_points, replace=False)) if n > n_points else np.arange(n)
        c_ref = C[ref].float().cpu()
        Pi, _, g = membership(c_ref, self.config.eta, self.config.sinkhorn_iters, return_potentials=True)
        labels_ref = spectral_clustering(Pi.numpy(), k, seed)
        self.ref_c, self.ref_g = c_ref, g.float()
        self.ref_labels = torch.as_tensor(labels_ref, dtype=torch.long)
        labels = np.empty(n, dtype=np.int64)
        labels[ref] = labels_ref
        rest = np.setdiff1d(np.arange(n), ref)
        if len(rest):
            labels[rest] = self._extend(C[rest].float().cpu()).argmax(1).numpy()
        return labels

    @torch.no_grad()
    def _extend(self, c: torch.Tensor) -> torch.Tensor:
        """Soft assignment of new points: each point's row of Pi against the reference sample
        (the column scalings g of the reference's Sinkhorn kept fixed), averaged per cluster.

        The average, not the sum: every column of Pi carries the same mass, so a sum would
        favour large clusters whenever Pi is still flat (early epochs)."""
        k = self.config.n_clusters
        out = torch.zeros(len(c), k)
        if len(self.ref_c) == 0:
            raise RuntimeError("MLC has not clustered any data yet; call fit first")
        onehot = F.one_hot(self.ref_labels, k).float()
        onehot = onehot / onehot.sum(0).clamp(min=1.0)
        for i in range(0, len(c), 2048):
            logits = (c[i:i + 2048] @ self.ref_c.T).abs() / self.config.eta + self.ref_g[None, :]
            score = torch.softmax(logits, dim=1) @ onehot
            out[i:i + 2048] = score / score.sum(1, keepdim=True)
        return out

    def predict_proba(self, x):
        _, C = self._encode(self.tensor(x))
        return self._extend(C.float().cpu()).numpy()

    def predict(self, x):
        return self.predict_proba(x).argmax(1)

    def fit_labels(self, x):
        """Spectral clustering on Pi of the training data, as the final snapshot labels it
        (``predict`` places new points against its reference sample); keeps the reference."""
        _, C = self._encode(self.tensor(x))
        return self._cluster(C, self.config.spectral_points, self.config.seed)

    # ------------------------------------------------------------------ training
    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        n = len(x)
        if self.image_shape is None or cfg.augment == "jitter":
            self.jitter_sigma = cfg.jitter * jitter_scale(x)
        gen = ctx.generator
        view_idx = self._view_points(n, ctx)
        total = max(cfg.warmup_epochs + cfg.epochs, 1)
        step = 0

        # -- Algorithm 1, line 1: self-supervised warm-up of backbone + feature head (Eq. 5)
        if ctx.resume_phase != "mlc":
            params = list(self.backbone.parameters()) + list(self.feature_head.parameters())
            warm = cfg.warmup_epochs > 0 and bool(params)
            opt = make_optimizer(cfg.warmup_optimizer, params, cfg.warmup_lr) if warm else None
            resumed = ctx.resume_point("warmup", **({"opt": opt} if warm else {}))
            if resumed is None:
                # -- snapshot 0: random initialisation (Fig. 1b)
                snap = self._snapshot(data, ctx, x, view_idx, epoch=0, step=0,
                                      stage="random init", losses={}, progress=0.0)
                ctx.at("warmup", epoch=0, step=0)
                yield snap
                first = 0
            else:  # the nets come from the checkpoint; go on after its epoch
                first, step = int(resumed["epoch"]), int(resumed["step"])
            for epoch in range(first, cfg.warmup_epochs if warm else 0):
                self.backbone.train()
                sums = {"R_avg": 0.0, "agreement": 0.0, "objective": 0.0}
                nb = 0
                for idx in self._batches(n, gen):
                    ctx.check()
                    xb = x[idx]
                    x1, x2 = self._augment(xb, gen), self._augment(xb, gen)
                    z = self.feature_head(self.backbone(torch.cat([x1, x2])))
                    terms = warmup_objective(z[:len(idx)], z[len(idx):], cfg.warmup_eps2, cfg.lam)
                    opt.zero_grad(set_to_none=True)
                    (-terms["objective"]).backward()
                    opt.step()
                    for key in sums:
                        sums[key] += float(terms[key].detach())
                    nb += 1
                    step += 1
                self.backbone.eval()
                losses = {"-R((Z+Z')/2)": -sums["R_avg"] / nb,
                          "-lambda*agreement": -cfg.lam * sums["agreement"] / nb,
                          "total": -sums["objective"] / nb}
                snap = self._snapshot(data, ctx, x, view_idx, epoch=epoch + 1, step=step,
                                      stage="warm-up (Eq. 5)", losses=losses,
                                      progress=(epoch + 1) / total)
                ctx.at("warmup", epoch=epoch + 1, step=step)
                yield snap

            # -- line 2: initialise Pi by copying the feature head into the cluster head
            self.cluster_head.load_state_dict(self.feature_head.state_dict())
            self.heads_copied = True
            ctx.checkpoint()

        # -- lines 3-9: the MLC objective (Eq. 4) with A augmentations (Eq. 6), backbone fixed
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.backbone.eval()
        opt_z = make_optimizer("sgd", self.feature_head.parameters(), cfg.lr, cfg.weight_decay)
        opt_c = make_optimizer("sgd", self.cluster_head.parameters(), cfg.lr, cfg.weight_decay)
        resumed = ctx.resume_point("mlc", z=opt_z, c=opt_c)
        first, mlc_step = 0, 0
        if resumed is not None:
            first = int(resumed["epoch"]) + 1
            step, mlc_step = int(resumed["step"]), int(resumed["mlc_step"])
        for epoch in range(first, cfg.epochs):
            sums = {"R": 0.0, "R_c": 0.0, "penalty": 0.0, "objective": 0.0}
            nb = 0
            for idx in self._batches(n, gen):
                ctx.check()
                mlc_step += 1
                if cfg.lr_ramp > 0:
                    for opt in (opt_z, opt_c):
                        for group in opt.param_groups:
                            group["lr"] = cfg.lr * min(1.0, mlc_step / cfg.lr_ramp)
                xb = x[idx]
                with torch.no_grad():
                    hs = [self.backbone(self._augment(xb, gen)) for _ in range(cfg.n_aug)]
                Z, Pi = self._eq6(hs)
                terms = mlc_objective(Z, Pi, cfg.eps2, cfg.gamma)
                opt_z.zero_grad(set_to_none=True)
                opt_c.zero_grad(set_to_none=True)
                (-terms["objective"]).backward()
                opt_z.step()   # one update of the feature head ...
                opt_c.step()   # ... and one of the cluster head, per batch (appendix D.2)
                for key in sums:
                    sums[key] += float(terms[key].detach())
                nb += 1
                step += 1
            last = epoch == cfg.epochs - 1
            losses = {"-R": -sums["R"] / nb, "R_c": sums["R_c"] / nb,
                      "gamma/2*|Pi|^2": sums["penalty"] / nb, "total": -sums["objective"] / nb}
            snap = self._snapshot(data, ctx, x, view_idx, epoch=cfg.warmup_epochs + epoch + 1,
                                  step=step, stage="MLC (Eq. 4)", losses=losses,
                                  progress=(cfg.warmup_epochs + epoch + 1) / total, final=last)
            ctx.at("mlc", epoch=epoch, step=step, mlc_step=mlc_step)
            yield snap
        for p in self.backbone.parameters():
            p.requires_grad_(True)
        if cfg.epochs == 0:
            yield self._snapshot(data, ctx, x, view_idx, epoch=cfg.warmup_epochs, step=step,
                                 stage="MLC (Eq. 4)", losses={}, progress=1.0, final=True)

    def _eq6(self, hs: list[torch.Tensor]):
        """Eq. 6: Z = P_S(mean_a Z^(a)), Pi = mean_a P_{Omega,eta}(|C^(a)T C^(a)|)."""
        cfg = self.config
        Z = F.normalize(torch.stack([self.feature_head(h) for h in hs]).mean(0), dim=1)
        Pi = torch.stack([membership(self.cluster_head(h), cfg.eta, cfg.sinkhorn_iters)
                          for h in hs]).mean(0)
        return Z, Pi

    def _batches(self, n: int, gen: torch.Generator):
        """One epoch: near-equal batches over fresh permutations (no tiny last batch, since Pi
        needs points), as many passes as ``min_steps_per_epoch`` asks for."""
        per_pass = max(1, math.ceil(n / self.config.batch_size))
        for _ in range(math.ceil(self.config.min_steps_per_epoch / per_pass)):
            perm = torch.randperm(n, generator=gen).to(self.device)
            yield from torch.tensor_split(perm, per_pass)

    def _view_points(self, n: int, ctx) -> np.ndarray:
        """The fixed points of the heatmaps: drawn from the run's subsample, the same every epoch."""
        pool = ctx.subsample if ctx.subsample is not None else np.arange(n)
        m = min(self.config.view_points, len(pool))
        rng = np.random.default_rng(ctx.seed + 7)
        return np.sort(rng.choice(pool, size=m, replace=False))

    # ------------------------------------------------------------------ snapshots
    @torch.no_grad()
    def _snapshot(self, data, ctx, x, view_idx, *, epoch, step, stage, losses, progress,
                  final: bool = False):
        cfg = self.config
        Z, C = self._encode(x)
        n_spec = cfg.spectral_points if final else min(cfg.live_spectral_points, cfg.spectral_points)
        labels = self._cluster(C, n_spec, cfg.seed)
        Zn = Z.float().cpu().numpy()
        y = data.y
        extras = self.geometry_extras(Zn, C.float().cpu(), labels, y, view_idx, self.image_shape is not None)
        metrics = {"cos_ratio": cos_ratio(Zn, labels, seed=cfg.seed)}
        extras["pi_source"] = "cluster head" if self.heads_copied else "feature head (the copy's Pi)"
        sub = ctx.subsample if ctx.subsample is not None else np.arange(len(Zn))
        return self.make_snapshot(data, ctx, epoch=epoch, step=step, stage=stage, labels=labels,
                                  latent_sub=Zn[sub], losses=losses, extras=extras, metrics=metrics,
                                  progress=progress)

    def geometry_extras(self, Z: np.ndarray, C: torch.Tensor, labels: np.ndarray, y, view_idx,
                        images: bool) -> dict:
        """What the lens draws: coding rates, numerical ranks, the sorted |Z^T Z| and Pi, and the
        principal-image indices of every learned cluster."""
        cfg = self.config
        k = cfg.n_clusters
        extras: dict = {}
        # coding rates of the view points, with their own Pi (as one batch of Eq. 4)
        Zv = torch.as_tensor(Z[view_idx])
        Pi_v = membership(C[view_idx], cfg.eta, cfg.sinkhorn_iters)
        t = mlc_objective(Zv, Pi_v, cfg.eps2, cfg.gamma)
        extras.update(R=float(t["R"]), R_c=float(t["R_c"]), delta_R=float(t["delta_R"]))
        # numerical ranks (section 3): all features, each learned cluster, each true cluster
        extras["rank_all"] = float(numerical_rank(Z))
        extras["rank_learned"] = np.array([numerical_rank(Z[labels == j]) for j in range(k)], np.int64)
        extras["size_learned"] = np.bincount(labels, minlength=k).astype(np.int64)
        if y is not None:
            classes = np.unique(y)
            extras["rank_true"] = np.array([numerical_rank(Z[y == c]) for c in classes], np.int64)
            extras["true_classes"] = classes.astype(np.int64)
        # |Z^T Z| and Pi of the view points, in their own order (the lens sorts them for display)
        Zs = Zv.numpy()
        extras["cos"] = np.abs(Zs @ Zs.T).astype(np.float16)
        extras["pi"] = Pi_v.numpy().astype(np.float32)
        extras["view_index"] = np.asarray(view_idx).astype(np.int64)
        extras["view_assign"] = labels[view_idx].astype(np.int64)
        extras["view_label"] = (np.asarray(y)[view_idx] if y is not None
                                else np.full(len(view_idx), -1)).astype(np.int64)
        # principal images (appendix A): per learned cluster, top PCs and the samples nearest them
        extras["principal_index"] = principal_samples(Z, labels, k)
        return extras

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        return {"backbone": self.backbone.state_dict(), "feature_head": self.feature_head.state_dict(),
                "cluster_head": self.cluster_head.state_dict(), "heads_copied": bool(self.heads_copied),
                "jitter_sigma": float(self.jitter_sigma), "ref_c": self.ref_c, "ref_g": self.ref_g,
                "ref_labels": self.ref_labels}

    def load_state_dict(self, d):
        self.backbone.load_state_dict(d["backbone"])
        self.feature_head.load_state_dict(d["feature_head"])
        self.cluster_head.load_state_dict(d["cluster_head"])
        self.heads_copied = bool(d["heads_copied"])
        self.jitter_sigma = float(d["jitter_sigma"])
        self.ref_c, self.ref_g = d["ref_c"].float(), d["ref_g"].float()
        self.ref_labels = d["ref_labels"].long()


# ============================================================================ measurements


def cos_ratio(Z: np.ndarray, labels: np.ndarray, max_points: int = 4000, seed: int = 0) -> float:
    """Mean |cos| within learned clusters over the mean |cos| between them (Fig. 4, measured).

    Over all points, or a random sample of ``max_points``; self-pairs are left out. Block-diagonal
    |Z^T Z| gives a large ratio; orthogonal subspaces drive the between-cluster mean to 0.
    """
    Z, labels = np.asarray(Z, np.float32), np.asarray(labels)
    if len(Z) > max_points:
        idx = np.random.default_rng(seed).choice(len(Z), max_points, replace=False)
        Z, labels = Z[idx], labels[idx]
    cos = np.abs(Z @ Z.T)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    diff = labels[:, None] != labels[None, :]
    if not same.any() or not diff.any():
        return float("nan")
    return float(cos[same].mean() / max(cos[diff].mean(), 1e-12))


def principal_samples(Z: np.ndarray, labels: np.ndarray, k: int, n_components: int = 8,
                      n_samples: int = 8) -> np.ndarray:
    """Appendix A's principal images, as indices: (k, n_components, n_samples), -1 where missing.

    For each learned cluster j: the top principal directions u of its features (PCA, centred),
    and for each u the members whose features are closest to it, i.e. with the largest |z^T u|
    (features and directions are both unit vectors; a subspace direction has no sign).
    """
    out = np.full((k, n_components, n_samples), -1, dtype=np.int64)
    for j in range(k):
        members = np.flatnonzero(labels == j)
        if len(members) < 2:
            out[j, 0, :len(members)] = members
            continue
        Zj = Z[members]
        _, _, vt = np.linalg.svd(Zj - Zj.mean(0), full_matrices=False)
        for r in range(min(n_components, len(vt))):
            near = np.argsort(-np.abs(Zj @ vt[r]))[:n_samples]
            out[j, r, :len(near)] = members[near]
    return out
