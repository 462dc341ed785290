"""ACe/DeC + DCN: Details (Don't) Matter (Miklautz, Bauer et al., IJCAI 2021).

The embedded space of an autoencoder is split into a *cluster space*, which holds what tells the
clusters apart, and a *shared space*, which holds what all clusters share (style, lighting...).
The split is soft and learned: a d x d matrix V rotates the embedding, and a weight per rotated
dimension says how much of it belongs to each space,

    beta_cs[i] = sigmoid(b[i]),    beta_ss[i] = 1 - beta_cs[i].                     (section 2.1)

With DCN as the host method the loss is Eq. 5 (everything summed over points):

    L =   sum_k sum_{z in C_k} ||V^T z - V^T mu_k||^2_{beta_cs}        L_cluster
        + sum_{z in C}         ||V^T z - V^T mu  ||^2_{beta_ss}        L_shared
        + sum_x                ||x - dec(V V^T z)||^2                  L_rec       (Eq. 5)

where ||h - g||^2_beta = sum_i beta[i]^2 (h[i] - g[i])^2 (Eq. 2), mu_k are the k-means centroids
and mu is the mean of all embedded points (the single "cluster" of the shared space). There is no
lambda: how much each dimension is clustered is learned through b. Because the decoder only sees
V V^T z, the reconstruction keeps V close to orthogonal.

Training follows the paper and the authors' code (METHOD-NOTES.md):
- pretrain the autoencoder on reconstruction;
- initialise (section 2.2): V a random orthogonal matrix, each dimension put at random in one of
  the two spaces, k-means in that cluster space for the centroids, mu the mean; then train V and
  b alone for a few epochs (warm-up), re-cluster in the learned cluster space, and set b in
  closed form from the per-dimension ratio of the k-means loss to the one-centre loss;
- then train the autoencoder, V and b together on Eq. 5, with b at ~10x the learning rate;
  centroids and hard assignments are updated as in DCN (mini-batch k-means with per-centre
  counts, not by gradient), and centres that lose all their points are re-seeded;
- re-cluster once more at the end, in the learned cluster space, as the authors' code does
  before it predicts (V and b are kept; only the centroids are renewed).
- optional augmentation mode for images (section 2.2): the augmented view must land at the
  original's centroid in the cluster space, and is reconstructed from its own shared space
  combined with the original's cluster space. The paper's views are random rotations and
  shifts; a random gamma (aug_gamma) adds a change of the lighting, and the ``objects`` preset
  uses both, with rotations by any angle, so that the light is what the clusters ignore.

The cluster space is read off as the dimensions with beta_cs above 0.5 plus the 0.05 tolerance of
the authors' code (``cluster_dims``; the bare count of beta_cs > 0.5 is kept as
``cluster_dims_over_half``): a dimension without cluster structure settles at beta_cs = 0.5
exactly under Eq. 5, so a bare 0.5 would split such dimensions by noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from dcviz.methods.base import ConfigError, Extras, param, register
from dcviz.methods.ae_kmeans import PAPER_PRETRAIN, QUICK_PRETRAIN
from dcviz.methods.dcn import (CentroidAEConfig, CentroidAEMethod, minibatch_kmeans_update,
                               reseed_empty_clusters)
from dcviz.nets import batches, encode_all
from dcviz.probes import factor_probes


# --------------------------------------------------------------------------- the paper's symbols

def space_weights(b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(beta_cs, beta_ss) = (sigmoid(b), 1 - sigmoid(b)), section 2.1: two non-negative weights
    per dimension that sum to one, a soft assignment of each dimension to one of the spaces."""
    beta_cs = torch.sigmoid(b)
    return beta_cs, 1.0 - beta_cs


def weighted_distance(h: torch.Tensor, g: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """dist_beta(h, g) = ||h - g||^2_beta = sum_i beta[i]^2 (h[i] - g[i])^2  (Eq. 2).

    Broadcasts over leading dimensions: ``weighted_distance(h[:, None], g[None], beta)`` gives the
    (n, k) matrix of distances between n points and k centres.
    """
    return ((h - g) * beta).pow(2).sum(-1)


def rotate(z: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """V^T z for every row z of a batch (rows are points, so this is z @ V)."""
    return z @ V


def assign_clusters(zr: torch.Tensor, centroids_r: torch.Tensor, beta_cs: torch.Tensor) -> torch.Tensor:
    """Hard assignment in the cluster space: argmin_k ||V^T z - V^T mu_k||^2_{beta_cs} (section 2.1)."""
    return weighted_distance(zr[:, None, :], centroids_r[None, :, :], beta_cs).argmin(1)


def cluster_loss(zr: torch.Tensor, centroids_r: torch.Tensor, labels: torch.Tensor,
                 beta_cs: torch.Tensor) -> torch.Tensor:
    """L_cluster, the first term of Eq. 5 (Eq. 1 with DCN's hard k-means assignment):
    mean over the batch of ||V^T z - V^T mu_{s(z)}||^2_{beta_cs}."""
    return weighted_distance(zr, centroids_r[labels], beta_cs).mean()


def shared_loss(zr: torch.Tensor, mu_r: torch.Tensor, beta_ss: torch.Tensor) -> torch.Tensor:
    """L_shared, the second term of Eq. 5: mean over the batch of ||V^T z - V^T mu||^2_{beta_ss},
    the one-centre k-means loss of the shared space (mu = mean of the embedded data)."""
    return weighted_distance(zr, mu_r, beta_ss).mean()


def reconstruction_loss(x: torch.Tensor, decode, zr: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """L_rec, the third term of Eq. 5: ||x - dec(V V^T z)||^2, summed over the features and
    averaged over the batch, like the two clustering terms (Eq. 5 sums all three over the
    data, with no weight between them). ``zr`` = V^T z.

    The authors' code (ClustPy's ACeDeC) averages it over the features instead (MSELoss), as
    its DCN does (see ``dcn.reconstruction_loss``). Tried that way on MNIST-test (``paper``
    preset, seed 0, 20 clustering epochs): NMI fell from 0.70 after the initialisation to 0.55
    in the first epoch and ended at 0.53; with the sum it ends at 0.70. Not taken."""
    return (decode(zr @ V.T) - x).pow(2).sum(1).mean()


def latent_reconstruction_loss(z: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """The reconstruction term of Eq. 5 while the autoencoder is held fixed (the warm-up of
    section 2.2), with the decoder taken as the identity: mean over the batch of ||z - V V^T z||^2.
    It is zero exactly when V is orthogonal on the data, which is what keeps V a rotation."""
    return (z - z @ V @ V.T).pow(2).sum(1).mean()


def random_orthogonal(d: int, generator: torch.Generator) -> torch.Tensor:
    """A random orthogonal d x d matrix, uniform (Haar) over O(d): QR of a Gaussian matrix with
    the signs of R's diagonal moved into Q. The first step of the initialisation (section 2.2)."""
    a = torch.randn(d, d, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(()))[None, :]
    return q.float()


def random_split(d: int, generator: torch.Generator, high: float = 0.9) -> torch.Tensor:
    """b for "randomly assign each dimension to one of the two spaces" (section 2.2): each
    dimension gets beta_cs = ``high`` or 1 - ``high`` with equal chance; at least one dimension
    lands in each space. A 1-d embedding (a 1-feature data set under the linear AE) cannot be
    split: its one dimension goes to the cluster space, since the k-means that follows needs
    at least one dimension there and the shared space may be empty (its loss is then zero)."""
    logit = math.log(high / (1.0 - high))
    while True:
        side = torch.rand(d, generator=generator) < 0.5
        if d < 2:
            side = torch.ones(d, dtype=torch.bool)
            break
        if 0 < int(side.sum()) < d:
            break
    return torch.where(side, logit, -logit).float()


def per_dimension_losses(zr: torch.Tensor, centroids_r: torch.Tensor, labels: torch.Tensor,
                         mu_r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per rotated dimension i: the k-means loss L_c[i] = mean_z (V^T z - V^T mu_s(z))[i]^2 and
    the one-centre loss L_s[i] = mean_z (V^T z - V^T mu)[i]^2 (the two terms of Eq. 5, unweighted)."""
    l_c = (zr - centroids_r[labels]).pow(2).mean(0)
    l_s = (zr - mu_r).pow(2).mean(0)
    return l_c, l_s


def init_b_closed_form(zr: torch.Tensor, centroids_r: torch.Tensor, labels: torch.Tensor,
                       mu_r: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """b in closed form from the ratio of the k-means loss to the one-centre loss (section 2.2).

    With everything but b fixed, Eq. 5 is, per dimension i (Eq. 2),
        beta[i]^2 L_c[i] + (1 - beta[i])^2 L_s[i],   beta = beta_cs = sigmoid(b),
    minimised at beta[i] = L_s[i] / (L_c[i] + L_s[i]), i.e.
        b[i] = log(L_s[i] / L_c[i]).
    A dimension whose k centroids explain it much better than one centre gets a large b (cluster
    space); one where they barely help gets b near 0, where the training decides.

    ClustPy's ACeDeC feeds its softmax logits of +-log(L_s / L_c), i.e. b = 2 log(L_s / L_c),
    a sharper beta than the one that minimises Eq. 5 with its beta^2 weights, which is this.
    """
    l_c, l_s = per_dimension_losses(zr, centroids_r, labels, mu_r)
    return torch.log((l_s + eps) / (l_c + eps))


def cluster_mask(beta_cs: torch.Tensor, threshold: float = 0.55) -> torch.Tensor:
    """The hard split read off the soft one: dimension i is in the cluster space if
    beta_cs[i] > ``threshold``.

    Why not a bare 0.5: under Eq. 5 a dimension without cluster structure has a k-means loss
    equal to its one-centre loss, so its optimal beta_cs is exactly 0.5 (see
    :func:`init_b_closed_form`) and it hovers there, a hair above or below by estimation noise.
    The authors' code therefore gives the shared space a tolerance of 0.05 ("shared space
    variation"): only beta_cs > 0.55 counts as cluster space. ``threshold=0.5`` gives the bare
    count.
    """
    return beta_cs > threshold


def mix_spaces(zr_cluster: torch.Tensor, zr_shared: torch.Tensor, beta_cs: torch.Tensor,
               threshold: float = 0.55) -> torch.Tensor:
    """Rotated codes taking the cluster-space dimensions from ``zr_cluster`` and the shared-space
    dimensions from ``zr_shared`` (the hard split of :func:`cluster_mask`). Used by the
    augmentation mode and by Fig. 1b's "cluster space only" / "shared space only" reconstructions."""
    return torch.where(cluster_mask(beta_cs, threshold), zr_cluster, zr_shared)


def augment_view(x: torch.Tensor, image_shape, generator: torch.Generator, rotation: float,
                 shift: float, gamma: float = 1.0) -> torch.Tensor:
    """x_aug = f(x) of section 2.2: a random rotation (up to ``rotation`` degrees either way) and
    shift (up to ``shift`` of the side either way), per image, written with torch ops; with
    ``gamma`` > 1, then a random gamma in [1/gamma, gamma] (a change of the lighting's contrast,
    :func:`dcviz.nets.augment.gamma_jitter`)."""
    from dcviz.nets.augment import ImageAugment, augment_images, gamma_jitter
    out = augment_images(x, image_shape, generator,
                         ranges=ImageAugment(crop_scale=0.0, rotation=rotation, shift=shift))
    return gamma_jitter(out, generator, gamma) if gamma > 1 else out


def shared_pc_scores(shared: np.ndarray, n: int = 1) -> np.ndarray | None:
    """Scores of points on the first ``n`` principal components of their shared-space
    coordinates (Fig. 3's x axis is PC1); None when the shared space is empty."""
    shared = np.asarray(shared, dtype=np.float64)
    if shared.ndim != 2 or shared.shape[1] == 0 or len(shared) < 2:
        return None
    c = shared - shared.mean(0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    vt = vt[:n]
    # a fixed sign (largest loading positive), so the axis does not flip between snapshots
    vt = vt * np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])[:, None]
    return c @ vt.T


# --------------------------------------------------------------------------- config

# The quick preset, which the objects preset builds on.
QUICK = {**QUICK_PRETRAIN, "cluster_epochs": 20, "batch_size": 256, "cluster_lr": 1e-3,
         "kmeans_n_init": 5}


@dataclass
class AceDecConfig(CentroidAEConfig):
    b_lr_factor: float = param(10.0, "b learns this many times faster than the network and V "
                               "(the authors' code uses 10).", min=0.1, max=1000.0, log=True,
                               advanced=True)
    warmup_epochs: int = param(20, "Initialisation: epochs of training V and b alone (network and "
                               "centroids fixed) before re-clustering.", min=0, max=200, step=1)
    warmup_lr: float = param(1e-2, "Adam learning rate of V in the warm-up (b gets b_lr_factor "
                             "times it).", min=1e-6, max=1.0, log=True, advanced=True)
    split_beta: float = param(0.9, "Initialisation: beta_cs of a dimension that the random split "
                              "puts in the cluster space (1 minus it in the shared space).",
                              min=0.5, max=0.999, advanced=True)
    augment: bool = param(False, "Augmentation mode (section 2.2, images only): make the clusters "
                          "invariant to random rotations and shifts, and push what they change "
                          "into the shared space.")
    aug_rotation: float = param(15.0, "Augmentation: largest rotation, in degrees.", min=0.0,
                                max=180.0, advanced=True)
    aug_shift: float = param(0.1, "Augmentation: largest shift, as a fraction of the image side.",
                             min=0.0, max=0.5, advanced=True)
    aug_pretrain: bool = param(True, "Augmentation mode: pretrain the autoencoder on augmented "
                               "views too, as the authors' code does (off: the plain pretrained "
                               "AE, augmentation in the clustering only).", advanced=True)
    aug_gamma: float = param(1.0, "Augmentation: largest gamma change of the intensities (x ** g, "
                             "g from 1/aug_gamma to aug_gamma), a change of lighting; 1 = none.",
                             min=1.0, max=10.0, advanced=True)
    count_decay: float = param(1.0, "Per-batch decay of the mini-batch k-means counts (1 = DCN's "
                               "running mean; < 1 forgets old points).", min=0.0, max=1.0,
                               advanced=True)
    cluster_threshold: float = param(0.55, "A dimension counts as cluster space when beta_cs is "
                                     "above this (the authors' code: 0.5 plus a 0.05 tolerance, as "
                                     "dimensions without cluster structure settle at 0.5).",
                                     min=0.5, max=0.99, advanced=True)
    recluster_space: str = param("cluster", "Initialisation: where the re-clustering after the "
                                 "warm-up runs: the learned cluster space (beta_cs-weighted "
                                 "distance) or the whole embedding.", choices=["cluster", "full"],
                                 advanced=True)
    final_recluster: bool = param(True, "After training, re-cluster once in the learned cluster "
                                  "space, keeping V and b (the authors' code re-clusters before "
                                  "it predicts: the running centroids lag behind the embedding).",
                                  advanced=True)
    init_rounds: int = param(5, "Initialisation: random starts (random V and split, warm-up); "
                             "the one with the lowest Eq. 5 cost is kept.", min=1, max=50, step=1,
                             advanced=True)
    checkpoint_every: int = param(5, "Save a checkpoint every this many clustering epochs, so the "
                                  "decoded views of a live run can be drawn.", min=1, max=1000,
                                  step=1, advanced=True)
    presets: ClassVar[dict] = {
        # about a minute on digits on a 2-core CPU: the pretraining recipe every AE method's quick
        # preset shares (one AE for AE + k-means, DCN, DEKM and ACe/DeC without augmentation on
        # one data set), and fewer, larger clustering steps (10x the paper's rate) in place of
        # the paper's 150 epochs
        "quick": QUICK,
        # paper: the shared paper recipe (ae_kmeans.PAPER_PRETRAIN): the paper pretrains its AEs
        # "according to the procedure in [DEC]" and runs every compared method on them
        "paper": dict(PAPER_PRETRAIN),
        # objects: the augmentation mode (section 2.2), "domain knowledge in the form of data
        # augmentation", with invariances to what the lighting does to these images. Turning
        # the image by any angle turns the light's azimuth with it (for a sphere that is all it
        # does), and a gamma change flattens or deepens the shading; the clusters are made
        # invariant to both, and the reconstruction from the original's cluster space and the
        # view's shared space "moves information unnecessary for clustering to the shared
        # space". The AE is the shared plain one (so DCN with the same pretrain_epochs starts
        # from it too), pretrained longer: the paper pretrains "according to the procedure in
        # [DEC]", whose fine-tuning alone is 100,000 iterations; 400 epochs here are 9,400 steps
        # of 64 (~600 CPU-s, once per seed in the store). Its linear shape probe, seed 0, rises
        # 0.82 / 0.91 / 0.94 / 0.955 at 20 / 100 / 200 / 400 epochs, and the shape is what the
        # clusters can only find if the 10-d code keeps it beside the shading.
        # objects, seeds 0-2, medians [min, max] (bench/acedec.py objects --methods
        # acedec-objects dcn-1 --set pretrain_epochs=400): ACC vs shape 0.895 [0.894, 0.898],
        # shape probe from the cluster space 0.919 [0.902, 0.939] (short of issue 22's 0.95),
        # light R^2 cluster 0.001, shared 0.777; with a 100-epoch AE 0.847, 0.866, 0.04, 0.76.
        # Tried on seed 0 and left out: 100 clustering epochs (100-epoch AE: shape probe 0.883
        # against 0.866; 400-epoch AE: the cluster space emptied, beta_cs of its one dimension
        # 0.95 -> 0.52, probe 0.333), the authors' augmented pretraining (aug_pretrain, 100
        # epochs: probe 0.734 against 0.866), the clustering schedule of the defaults (batch
        # 128, lr 1e-4, 150 epochs; 400-epoch AE: 0.900 against 0.902, peak 0.921 mid-run), and
        # a 20-d code, which the paper's d = 10 does not allow (100-epoch AE: 0.888 against
        # 0.866, 3 cluster dimensions); on the 400-epoch AEs, a cosine decay of the pretraining
        # rate (seeds 0 / 1: 0.861 / 0.887 against 0.902 / 0.939) and 20 clustering epochs
        # (seeds 0-2, median 0.915 against 0.919). At the paper's size, 10,000 images (32x32
        # here, 64x64 there), with about as many pretraining steps (60 epochs) and 10 clustering
        # epochs, seeds 0-2: shape probe from the cluster space 0.952 / 0.983 / 0.945 (median
        # 0.952), light R^2 cluster 0.004 / 0.001 / 0.000, shared 0.824 / 0.831 / 0.806; ACC vs
        # shape 0.948 / 0.962 / 0.948; DCN lambda 1 on the same AEs: shape 0.990 / 0.989 / 0.995
        # and light 0.821 / 0.815 / 0.768 from its one space (bench/results/acedec-objects.md).
        # With the default set's 1,500 images the clusters miss more shapes (ACC 0.895).
        "objects": {**QUICK, "pretrain_epochs": 400, "cluster_epochs": 40, "augment": True,
                    "aug_pretrain": False, "aug_rotation": 180.0, "aug_gamma": 3.0},
    }


# --------------------------------------------------------------------------- method

@dataclass
class AceDecExtras(Extras):
    """From the initialisation on (pretraining snapshots have none)."""

    beta_cs: np.ndarray | None = None             # sigmoid(b) per rotated dimension (d,)
    V: np.ndarray | None = None                   # the rotation (d, d)
    centroids: np.ndarray | None = None           # (k, d)
    centroids_rotated: np.ndarray | None = None   # V^T centroids (k, d)
    mu_rotated: np.ndarray | None = None          # V^T of the data mean (d,)
    cluster_space_dims: np.ndarray | None = None  # rotated dims with beta_cs > threshold
    shared_space_dims: np.ndarray | None = None   # the others, most shared first
    cluster_space: np.ndarray | None = None       # the subsample's cluster-space coordinates
    shared_space: np.ndarray | None = None        # ... and shared-space coordinates
    cluster_sizes: np.ndarray | None = None       # (k,)
    axes: np.ndarray | None = None                # Fig. 3: shared PC1, most clustered dim
    axes_names: str | None = None
    cluster_dims: float | None = None
    cluster_dims_over_half: float | None = None
    v_orthogonality_error: float | None = None
    init_round: float | None = None               # during the initialisation
    reseeded: float | None = None


@register
class AceDec(CentroidAEMethod):
    Config = AceDecConfig
    id = "acedec"
    Extras = AceDecExtras
    estimator = "ACeDeC"
    card = ("The latent space split into a cluster space and a shared space of details (light, "
            "pose, noise).")
    picture = "acedec.svg"
    try_it = "objects"  # synth25 is clustered before the method acts (ACC 0.90 at random init)
    suits = ("digits", "synth25", "objects", "mnist", "fashion-mnist", "usps")
    quick_time = "50 s"
    preset_notes = {"objects": "the augmentation mode, with the lighting invariances of the "
                               "objects data set (its paper's section 2.2)."}
    title = "ACe/DeC (+DCN)"
    paper = "Details (Don't) Matter: Isolating Cluster Information in Deep Embedded Spaces (Miklautz, Bauer et al., IJCAI 2021)"
    summary = ("DCN whose embedding is split, by a learned rotation V and per-dimension weights "
               "beta, into a cluster space (what separates the clusters) and a shared space "
               "(what all clusters share), with no lambda to tune.")
    # a killed run goes on from its checkpoint: in pretraining, after the initialisation, or in
    # the clustering (the warm-up rounds take none: a kill there goes back to pretraining's)
    resumable = True

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        # here rather than in fit, so that the run engine's build check refuses it before a
        # run folder exists
        if self.config.augment and self.image_shape is None:
            raise ConfigError("augment=True needs image data (the paper's augmentation mode "
                              "rotates and shifts images); this data set is vectors, so turn "
                              "augment off")
        d = self.latent_dim
        # placeholders until fit() initialises them (a checkpoint overwrites them)
        self.V = torch.eye(d, device=self.device)
        self.b = torch.zeros(d, device=self.device)
        self.centroids = torch.zeros(self.config.n_clusters, d, device=self.device)
        self.counts = torch.zeros(self.config.n_clusters, device=self.device)
        self.mu = torch.zeros(d, device=self.device)
        # the weights of the distance that assigns points: beta_cs while training; after the
        # final re-clustering, the hard mask of the cluster space that k-means ran in
        self.readout: torch.Tensor | None = None
        self.initialised = False
        self._plan: dict | None = None  # the work of the whole run, by stage; fit() makes it

    # -- views used by predict, snapshots and the lens
    @property
    def beta_cs(self) -> torch.Tensor:
        return space_weights(self.b.detach())[0]

    @property
    def assign_weights(self) -> torch.Tensor:
        """The weights of the distance that assigns points (:func:`assign_clusters`)."""
        return self.beta_cs if self.readout is None else self.readout

    @torch.no_grad()
    def rotated(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        """V^T z of every row of x."""
        x = x if isinstance(x, torch.Tensor) else self.tensor(x)
        return rotate(self.encode(x.to(self.device)), self.V)

    @torch.no_grad()
    def decode_rotated(self, zr: np.ndarray | torch.Tensor) -> np.ndarray:
        """dec(V zr): decode rotated codes, the way the reconstruction term of Eq. 5 does."""
        zr = zr if isinstance(zr, torch.Tensor) else self.tensor(zr)
        self.ae.eval()
        return encode_all(self.ae.decode, zr.to(self.device) @ self.V.T).cpu().numpy()

    @torch.no_grad()
    def split_reconstructions(self, x) -> dict[str, np.ndarray]:
        """Fig. 1b: the reconstruction, the one from the cluster space alone (shared-space
        coordinates replaced by those of the data mean mu), and the one from the shared space
        alone (cluster-space coordinates replaced by mu's)."""
        zr = self.rotated(x)
        mu_r = rotate(self.mu, self.V).expand_as(zr)
        beta = self.beta_cs
        t = self.config.cluster_threshold
        return {"reconstruction": self.decode_rotated(zr),
                "cluster_only": self.decode_rotated(mix_spaces(zr, mu_r, beta, t)),
                "shared_only": self.decode_rotated(mix_spaces(mu_r, zr, beta, t))}

    def pretrain_augment(self, ctx):
        """The augmentation mode's recipe: the authors' code pretrains its AE on augmented views."""
        cfg = self.config
        if not (cfg.augment and cfg.aug_pretrain):
            return "none", None

        def aug(xb):
            return augment_view(xb, self.image_shape, ctx.generator, cfg.aug_rotation,
                                cfg.aug_shift, cfg.aug_gamma)
        gamma = f" gamma {cfg.aug_gamma}" if cfg.aug_gamma > 1 else ""
        return f"images rotation {cfg.aug_rotation} shift {cfg.aug_shift}{gamma}", aug

    def predict(self, x):
        zr = self.rotated(x)
        return assign_clusters(zr, rotate(self.centroids, self.V), self.assign_weights).cpu().numpy()

    # -- progress
    #: What one optimiser step costs besides its arithmetic (Python, small kernels, Adam over
    #: the parameter tensors), in floating-point operations at the ~60 GFLOP/s one core does
    #: here: 0.4 ms for a pretraining step, 1.1 ms for a warm-up step (Eq. 5 on the fixed
    #: embedding and a mini-batch k-means update), 2 ms for a clustering step. Measured as CPU
    #: seconds per stage on one core; SYNTH-25 (linear AE, so steps are all overhead): 1.6 s of
    #: pretraining, 5.7 s of warm-up, 0.1 s per clustering epoch.
    STEP_OVERHEAD_FLOPS: ClassVar[dict] = {"pretrain": 2.4e7, "warmup": 6.6e7, "cluster": 1.2e8}

    def work_plan(self, n: int) -> dict[str, float]:
        """The run's work in floating-point operations, by stage, for honest progress: the
        progress bar moves by each stage's share of the work, the warm-up rounds included (they
        did not count at all, and a bar sat at 69 % through them).

        A step through the autoencoder costs about 3 forward passes (forward and backward) of
        its batch, plus the step's overhead; a warm-up step works on the fixed d-dimensional
        embedding, so it is the overhead alone."""
        from dcviz.pretrained import forward_flops  # torch's FlopCounterMode costs ~6 s to load
        cfg = self.config
        forward = forward_flops(self.ae, self.input_dim)  # per sample, encoder and decoder
        steps = math.ceil(n / cfg.batch_size)
        overhead = self.STEP_OVERHEAD_FLOPS
        views = 2 if cfg.augment else 1  # the augmentation mode encodes and decodes two views
        pretrain_batch = getattr(cfg, "pretrain_batch_size", cfg.batch_size)  # its own recipe
        plan = {
            "pretrain_epoch": math.ceil(n / pretrain_batch)
            * (3.0 * forward * pretrain_batch + overhead["pretrain"]),
            "warmup_round": cfg.warmup_epochs * steps * overhead["warmup"],
            # a clustering epoch also encodes all the points once (mu, re-seeding)
            "cluster_epoch": steps * (views * 3.0 * forward * cfg.batch_size + overhead["cluster"])
            + n * forward / 2,
        }
        plan["pretrain"] = cfg.pretrain_epochs * plan["pretrain_epoch"]
        plan["warmup"] = cfg.init_rounds * plan["warmup_round"]
        plan["cluster"] = cfg.cluster_epochs * plan["cluster_epoch"]
        plan["total"] = plan["pretrain"] + plan["warmup"] + plan["cluster"]
        return plan

    def _progress(self, rounds: int = 0, epochs: int = 0) -> float:
        """Share of the planned work done after pretraining, ``rounds`` warm-up rounds and
        ``epochs`` clustering epochs."""
        p = self._plan
        return (p["pretrain"] + rounds * p["warmup_round"] + epochs * p["cluster_epoch"]) / p["total"]

    # -- training
    def fit(self, data, ctx):
        cfg = self.config
        self.check_data(data)
        x = self.tensor(data.x)
        self._plan = self.work_plan(len(x))
        # pretrain() reports epoch / total_epochs: the whole run in pretraining epochs
        total_in_epochs = self._plan["total"] / max(self._plan["pretrain_epoch"], 1e-12)
        yield from self.pretrain(data, ctx, x, total_epochs=total_in_epochs)
        if self.pretrain_replayed:  # the store had the AE: the run's work starts here
            p = self._plan
            self._plan = {**p, "pretrain": 0.0, "total": p["total"] - p["pretrain"]}
        if ctx.resume_phase not in ("initialised", "cluster"):
            yield from self._initialise(data, ctx, x)
        yield from self._train(data, ctx, x)
        if cfg.final_recluster:
            yield from self._final_recluster(data, ctx, x)

    def _initialise(self, data, ctx, x):
        """Section 2.2: random V and split, k-means there, warm-up of V and b, re-cluster, b.

        The warm-up holds the autoencoder fixed, so it runs on the fixed embedding z alone: the
        reconstruction term becomes ||z - V V^T z||^2 (the authors' code does the same, with an
        identity autoencoder), which is cheap enough to repeat from ``init_rounds`` random
        starts and keep the one with the lowest Eq. 5 cost. As in that code, the centroids
        follow their mini-batch k-means updates during the warm-up.
        """
        cfg = self.config
        ctx.resume_point("init")  # no optimiser lives past a warm-up round
        z = self.encode(x)
        ep0 = cfg.pretrain_epochs
        best = None
        for r in range(cfg.init_rounds):
            state = self._warm_up(z, ctx)
            self.V, self.b, self.centroids, self.counts, self.mu = (
                state["V"], state["b"], state["centroids"], state["counts"], state["mu"])
            self.initialised = True
            self.epoch_done = ep0
            yield self._snapshot(data, ctx, x, stage=f"init: warm-up of V and b, round {r + 1}",
                                 epoch=ep0, losses=state["losses"], z=z,
                                 scalars={"init_round": float(r + 1)},
                                 progress=self._progress(rounds=r + 1))
            if best is None or state["cost"] < best["cost"]:
                best = state
        self.V, self.b, self.mu = best["V"], best["b"], best["mu"]

        # re-cluster in the learned cluster space (k-means under the beta_cs-weighted distance
        # of Eq. 2 is plain k-means on beta_cs * V^T z), or in the whole rotated space; then b
        # in closed form from that partition
        zr = rotate(z, self.V)
        weights = self.beta_cs if cfg.recluster_space == "cluster" else torch.ones_like(self.b)
        labels = self._recluster(z, zr * weights, ctx)
        self.b = init_b_closed_form(zr, rotate(self.centroids, self.V), labels, rotate(self.mu, self.V))
        self.epoch_done = ep0 + 1
        snap = self._snapshot(data, ctx, x, stage="init: re-clustered, b in closed form",
                              epoch=self.epoch_done, losses={}, z=z,
                              progress=self._progress(rounds=cfg.init_rounds))
        ctx.at("initialised", replayed=self.pretrain_replayed)
        yield snap
        ctx.checkpoint()

    def _recluster(self, z: torch.Tensor, features: torch.Tensor, ctx) -> torch.Tensor:
        """k-means (``kmeans_n_init`` starts) on ``features`` of the points; the centroids become
        the means of z over the clusters found, with fresh counts. Returns the labels."""
        _, labels = self.initial_kmeans(features.cpu().numpy(), ctx)
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.device)
        self.centroids = self._means(z, labels)
        self.counts = torch.full((self.config.n_clusters,), float(self.config.init_count),
                                 device=self.device)
        return labels

    def _final_recluster(self, data, ctx, x):
        """After training, k-means once more in the learned cluster space (the dimensions with
        beta_cs above the read-out threshold), as the authors' code does before it predicts.

        Why: the mini-batch centroids move by running means whose counts only grow, so they lag
        behind an embedding that keeps moving, most of all in the augmentation mode (digits,
        100 + 40 epochs with augmentation: NMI 0.76 from the trained centroids, 0.83 from
        k-means on the same cluster space). The learned V and b are kept, so the cluster space
        and its size are the ones training found; only the centroids are renewed.
        """
        z = self.encode(x)
        zr = rotate(z, self.V)
        mask = cluster_mask(self.beta_cs, self.config.cluster_threshold)
        if not bool(mask.any()):  # no dimension clearly clustered: use the weighted space
            self.readout = self.beta_cs.clone()
        else:
            self.readout = mask.to(zr.dtype)
        # the points are then assigned in the space k-means ran in, as the authors' code
        # predicts with the cluster space's projection: the labels are that k-means
        # partition, and the centroids are used in the metric they were fitted in
        self._recluster(z, zr * self.readout, ctx)
        self.epoch_done += 1
        yield self._snapshot(data, ctx, x, stage="final re-clustering in the cluster space",
                             epoch=self.epoch_done, losses={}, z=z, final=True, progress=1.0)

    def _warm_up(self, z: torch.Tensor, ctx) -> dict:
        """One random start of the initialisation: random V and split, k-means in that cluster
        space, then V and b trained alone on the fixed embedding z (Eq. 5 with the AE fixed)."""
        cfg = self.config
        d, gen, n = self.latent_dim, ctx.generator, len(z)
        V0 = random_orthogonal(d, gen).to(self.device)
        b = random_split(d, gen, cfg.split_beta).to(self.device).requires_grad_(True)
        with torch.no_grad():
            cs = space_weights(b)[0] > 0.5  # the random split itself is at 0.9 / 0.1
            _, labels = self.initial_kmeans(rotate(z, V0)[:, cs].cpu().numpy(), ctx, n_init=1)
        centroids = self._means(z, torch.as_tensor(labels, dtype=torch.long, device=self.device))
        counts = torch.full((cfg.n_clusters,), float(cfg.init_count), device=self.device)
        mu = z.mean(0)
        # V stays a rotation in the warm-up. With the autoencoder held fixed, the only thing that
        # resists shrinking V (which shrinks both k-means terms) is ||z - V V^T z||^2, and left to
        # itself V settled ~20 % short of orthogonal (error 0.20); the decoder, pretrained on z,
        # then decoded V V^T z != z (objects, seed 0: reconstruction 5.43 at the start of the
        # clustering instead of the pretrained 4.49). The authors' code holds V orthogonal here
        # by an adaptive weight on the reconstruction ("fix_rec_error"); torch's orthogonal
        # parametrisation holds it exactly.
        holder = torch.nn.Linear(d, d, bias=False).to(self.device)
        torch.nn.utils.parametrizations.orthogonal(holder)
        with torch.no_grad():
            holder.weight = V0
        opt = torch.optim.Adam([{"params": list(holder.parameters()), "lr": cfg.warmup_lr},
                                {"params": [b], "lr": cfg.warmup_lr * cfg.b_lr_factor}])

        def eq5(zb, labels_b=None):
            V = holder.weight
            beta_cs, beta_ss = space_weights(b)
            zr = rotate(zb, V)
            c_r = rotate(centroids, V)
            if labels_b is None:
                with torch.no_grad():
                    labels_b = assign_clusters(zr, c_r, beta_cs)
            t = {"cluster": cluster_loss(zr, c_r, labels_b, beta_cs),
                 "shared": shared_loss(zr, rotate(mu, V), beta_ss),
                 "reconstruction": latent_reconstruction_loss(zb, V)}
            t["total"] = t["cluster"] + t["shared"] + t["reconstruction"]
            return t, labels_b

        for _ in range(cfg.warmup_epochs):
            for idx in batches(n, cfg.batch_size, gen, self.device):
                ctx.check()
                terms, labels_b = eq5(z[idx])
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt.step()
                centroids, counts = minibatch_kmeans_update(centroids, counts, z[idx], labels_b,
                                                            cfg.count_decay)
        with torch.no_grad():
            terms, _ = eq5(z)
            V = holder.weight.detach().clone()
        return {"V": V, "b": b.detach().clone(), "centroids": centroids,
                "counts": counts, "mu": mu, "cost": terms["total"].item(),
                "losses": {f"warmup_{k}": v.item() for k, v in terms.items()}}

    def _train(self, data, ctx, x):
        cfg = self.config
        n, gen = len(x), ctx.generator
        ctx.resume_point("initialised")  # a run resumed right after the initialisation
        V = self.V.clone().requires_grad_(True)
        b = self.b.clone().requires_grad_(True)
        opt = torch.optim.Adam([{"params": list(self.ae.parameters()), "lr": cfg.cluster_lr},
                                {"params": [V], "lr": cfg.cluster_lr},
                                {"params": [b], "lr": cfg.cluster_lr * cfg.b_lr_factor}])
        resumed = ctx.resume_point("cluster", opt=opt)
        first = int(resumed["epoch"]) + 1 if resumed else 0
        ep0 = cfg.pretrain_epochs + 1  # the initialisation's two snapshot epochs
        for epoch in range(first, cfg.cluster_epochs):
            sums = dict.fromkeys(("cluster", "shared", "reconstruction", "total"), 0.0)
            for idx in batches(n, cfg.batch_size, gen, self.device):
                ctx.check()
                xb = x[idx]
                self.ae.train()
                beta_cs, beta_ss = space_weights(b)
                z = self.ae.encode(xb)
                zr = rotate(z, V)
                with torch.no_grad():
                    labels_b = assign_clusters(zr, rotate(self.centroids, V), beta_cs)
                if cfg.augment:
                    x_aug = augment_view(xb, self.image_shape, gen, cfg.aug_rotation, cfg.aug_shift,
                                         cfg.aug_gamma)
                    zr_aug = rotate(self.ae.encode(x_aug), V)
                    terms = self._eq5_augmented(xb, x_aug, zr, zr_aug, V, labels_b, beta_cs, beta_ss)
                else:
                    terms = self._eq5(xb, zr, V, labels_b, beta_cs, beta_ss)
                opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                opt.step()
                # centroids by DCN's mini-batch k-means (not by gradient); mu tracks the data mean
                with torch.no_grad():
                    zd = z.detach()
                    self.centroids, self.counts = minibatch_kmeans_update(
                        self.centroids, self.counts, zd, labels_b, cfg.count_decay)
                    # the paper's mu is the mean of all embedded points, taken exactly once
                    # an epoch (below); between, an average weighted to the last few batches
                    # follows the embedding as it moves
                    self.mu = 0.5 * self.mu + 0.5 * zd.mean(0)
                for k, v in terms.items():
                    sums[k] += v.item() * len(idx)
            self.ae.eval()
            self.V, self.b = V.detach().clone(), b.detach().clone()
            # once per epoch over all the data: the exact mean mu, and re-seeding of empty centres
            z_all = self.encode(x)
            self.mu = z_all.mean(0)
            zr_all = rotate(z_all, self.V)
            beta = self.beta_cs
            labels = assign_clusters(zr_all, rotate(self.centroids, self.V), beta)

            def dist(zz, cc, V=self.V, beta=beta):
                return weighted_distance(rotate(zz, V), rotate(cc, V), beta)

            self.centroids, self.counts, labels, ids = reseed_empty_clusters(
                self.centroids, self.counts, z_all, labels, cfg.init_count, distance=dist)
            self.epoch_done = ep0 + epoch + 1
            snap = self._snapshot(data, ctx, x, stage="clustering", epoch=self.epoch_done,
                                  losses={k: v / n for k, v in sums.items()},
                                  scalars={"reseeded": float(len(ids))}, z=z_all,
                                  final=epoch + 1 == cfg.cluster_epochs and not cfg.final_recluster,
                                  progress=self._progress(rounds=cfg.init_rounds, epochs=epoch + 1))
            ctx.at("cluster", epoch=epoch, replayed=self.pretrain_replayed)
            yield snap
            if (epoch + 1) % cfg.checkpoint_every == 0 and epoch + 1 < cfg.cluster_epochs:
                ctx.checkpoint()

    def _eq5(self, x, zr, V, labels, beta_cs, beta_ss):
        mu_r = rotate(self.mu, V)
        terms = {"cluster": cluster_loss(zr, rotate(self.centroids, V), labels, beta_cs),
                 "shared": shared_loss(zr, mu_r, beta_ss),
                 "reconstruction": reconstruction_loss(x, self.ae.decode, zr, V)}
        terms["total"] = terms["cluster"] + terms["shared"] + terms["reconstruction"]
        return terms

    def _eq5_augmented(self, x, x_aug, zr, zr_aug, V, labels, beta_cs, beta_ss):
        """Section 2.2's augmentation mode. The augmented view is pulled to the centroid of the
        original (dist_beta_cs(V^T z_aug, V^T mu_k)); x is reconstructed from its own code, and
        x_aug from the original's cluster-space coordinates joined with its own shared-space
        coordinates, so what the augmentation changes has to live in the shared space."""
        c_r, mu_r = rotate(self.centroids, V), rotate(self.mu, V)
        mixed = mix_spaces(zr, zr_aug, beta_cs.detach(), self.config.cluster_threshold)
        terms = {
            "cluster": 0.5 * (cluster_loss(zr, c_r, labels, beta_cs)
                              + cluster_loss(zr_aug, c_r, labels, beta_cs)),
            "shared": 0.5 * (shared_loss(zr, mu_r, beta_ss) + shared_loss(zr_aug, mu_r, beta_ss)),
            "reconstruction": 0.5 * (reconstruction_loss(x, self.ae.decode, zr, V)
                                     + reconstruction_loss(x_aug, self.ae.decode, mixed, V)),
        }
        terms["total"] = terms["cluster"] + terms["shared"] + terms["reconstruction"]
        return terms

    def _means(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        k = self.config.n_clusters
        sums = torch.zeros(k, z.shape[1], device=z.device).index_add_(0, labels, z)
        n_k = torch.bincount(labels, minlength=k).clamp(min=1).to(z.dtype)
        return sums / n_k[:, None]

    # -- snapshots
    def _snapshot(self, data, ctx, x, *, stage, epoch, losses, progress, scalars=None, z=None,
                  final=False):
        if z is None:
            z = self.encode(x)
        zr = rotate(z, self.V)
        beta = self.beta_cs
        c_r = rotate(self.centroids, self.V)
        labels = assign_clusters(zr, c_r, self.assign_weights).cpu().numpy()
        beta_np = beta.cpu().numpy()
        t = self.config.cluster_threshold
        order = np.argsort(-beta_np, kind="stable")
        cs_dims = order[beta_np[order] > t]
        ss_dims = order[beta_np[order] <= t][::-1]  # most shared first
        sub = ctx.subsample
        zr_sub = zr.cpu().numpy()[sub]
        V = self.V.cpu().numpy()
        d = V.shape[0]
        extras = {
            "beta_cs": beta_np.astype(np.float32),
            "cluster_dims": float(len(cs_dims)),
            "cluster_dims_over_half": float((beta_np > 0.5).sum()),
            "V": V.astype(np.float32),
            "v_orthogonality_error": float(np.linalg.norm(V.T @ V - np.eye(d)) / math.sqrt(d)),
            "centroids": self.centroids.cpu().numpy().astype(np.float32),
            "centroids_rotated": c_r.cpu().numpy().astype(np.float32),
            "mu_rotated": rotate(self.mu, self.V).cpu().numpy().astype(np.float32),
            "cluster_space_dims": cs_dims.astype(np.int64),
            "shared_space_dims": ss_dims.astype(np.int64),
            "cluster_space": zr_sub[:, cs_dims].astype(np.float32),
            "shared_space": zr_sub[:, ss_dims].astype(np.float32),
            "cluster_sizes": np.bincount(labels, minlength=self.config.n_clusters).astype(np.float32),
        }
        # Fig. 3's axes, for the Latent tab's "method axes": shared PC1 (x) against the most
        # clustered dimension (y)
        top = int(order[0])
        pc1 = shared_pc_scores(zr_sub[:, ss_dims], 1)
        x_axis = pc1[:, 0] if pc1 is not None else np.zeros(len(zr_sub))
        extras["axes"] = np.column_stack([x_axis, zr_sub[:, top]]).astype(np.float32)
        extras["axes_names"] = (f"shared space PC1|most clustered dimension z{top} "
                                f"(beta_cs {beta_np[top]:.2f})")
        extras.update(scalars or {})
        metrics = {"cluster_dims": float(len(cs_dims))}
        if final:
            # the paper's claim, measured: linear probes from each space (all the points) to the
            # factors the data's generator knows (objects: shape and light; others: none)
            zr_all = zr.cpu().numpy()
            metrics.update(factor_probes({"cluster": zr_all[:, cs_dims],
                                          "shared": zr_all[:, ss_dims]},
                                         data.factors, seed=self.config.seed))
        return self.make_snapshot(data, ctx, epoch=epoch, step=epoch, stage=stage, labels=labels,
                                  latent_sub=z.cpu().numpy()[sub], losses=losses, extras=extras,
                                  metrics=metrics, progress=progress)

    # -- checkpoints
    def state_dict(self):
        return {"ae": self.ae.state_dict(), "V": self.V.detach().cpu(), "b": self.b.detach().cpu(),
                "centroids": self.centroids.cpu(), "counts": self.counts.cpu(),
                "mu": self.mu.cpu(), "epoch": int(self.epoch_done),
                "initialised": bool(self.initialised),
                **({} if self.readout is None else {"readout": self.readout.cpu()})}

    def load_state_dict(self, d):
        self.ae.load_state_dict(d["ae"])
        self.V = d["V"].float().to(self.device)
        self.b = d["b"].float().to(self.device)
        self.centroids = d["centroids"].float().to(self.device)
        self.counts = d["counts"].float().to(self.device)
        self.mu = d["mu"].float().to(self.device)
        self.epoch_done = int(d.get("epoch", 0))
        self.initialised = bool(d.get("initialised", True))
        readout = d.get("readout")
        self.readout = None if readout is None else readout.float().to(self.device)
