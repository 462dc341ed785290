"""GAN clustering: Gan, Dong, Zhou, Gao and Dong, "Learning the Precise Feature for Cluster Assignment".

Clustering is read backwards, as fetching samples out of baskets: a generator G(y, z) draws a
sample from cluster id y (one-hot, from a uniform prior, so that no cluster is empty) and noise z
(the features that do not depend on y). A WGAN-GP critic D keeps the generated samples on the real
data (so that one id cannot hold two values of the cue feature), and a separate classifier C,
trained by cross-entropy on generated samples labelled with the ids that made them, estimates the
posterior q(y|x). By Eq. 3 that cross-entropy bounds the expected entropy of the cluster assignment
from above, so G, minimising it, learns ids that C can tell apart on realistic samples. After
training, C clusters real data.

Per generator step (Algorithm 1): ``critic_steps`` updates of D on Eq. 5, ``class_steps`` updates
of C on Eq. 6, then one update of G on Eq. 7, ``-E[D(G(y,z))] + eta * L_C``, with eta raised in the
staircase of Eq. 8. All three use Adam(lr, beta1, beta2).

Since a GAN trains in generator steps, not passes over the data, an "epoch" here is
``steps_per_epoch`` generator steps: one snapshot each.

The Snapshot's ``latent`` is C's logits (k dimensions) on the run's subsample, and ``assign`` is
C's arg-max there. ACC/NMI/ARI are Hungarian accuracy, NMI and ARI of C's predictions on all real
data (the authors' code reports per-batch purity instead; see METHOD-NOTES).

Where the CPU presets depart from Algorithm 1 (the config's defaults are Algorithm 1's; the
presets' comments say why each change was made and what it measured):

=====================  ==================================  =====================================
                       Algorithm 1 / section IV            quick / demo presets
=====================  ==================================  =====================================
generator steps N      900,000 (tau 30,000: 30 raises)     2,000 / 13,000 (tau 67 / 433: 30 raises)
eta0, gamma            10, 1.2                             1 for images, 10 for vectors; 1.2 / 1.05
lambda (GP)            100                                 10 (WGAN-GP's own value)
N_critic, N_class      5, 4                                5, 1
Adam                   1e-4 constant, betas (0.5, 0.9)     1e-3 decayed linearly to 0; same betas
batch                  (WGAN-GP's MNIST code: 50)          256 / 64
nets                   DCGAN-like convs (Fig. 2)           fully connected 3 x 256 (the synthetic
                                                           experiment's nets, 512 wide there)
noise inputs of G      not stated for MNIST                16 (auto) / 8
what C sees            G(y, z)                             G(y, z) + N(0, 0.3^2) for images
prior over ids         uniform                             uniform
=====================  ==================================  =====================================

Measured on one seed (0) while looking for what splits or merges digit ids (the earlier
6,000-step demo preset on digits: NMI 0.647, rows 87 % one digit): eta0 0.1 gave NMI 0.646
with rows 76 % one digit; 4 noise inputs were behind the demo's own trajectory at step 1,800
(NMI 0.49 with EMD 1.2); class noise 0.5 made the rows purer (91 % one digit) but still 9
distinct digits (two ids on 4, none on 8), at NMI 0.593 and EMD 2.2 (0.7 at eta0 0.1): the
noise trades realism for purity, not the merge. What undid most merges was a slower rise of
eta (gamma 1.05, the demo preset's comment). C is not the
bottleneck: on a quick run, C's NMI (0.415) equals that of C averaged over noisy copies of the real
data (0.418) and that of a fresh classifier fitted to G's clean samples (0.411); the generator's
cut of the ids is what decides. On artifact-digits (k = 3) the noise on C's view hides the
artifact (a C trained with the true artifact labels reaches 1.00 on the clean pixels, 0.64 with the
noise), so the artifact runs set ``class_noise=0`` (``bench/gan.py --artifact --preset demo --set
class_noise=0 --seeds 0 1 2 3 4``). Even so, G draws pixel 0 spread over [0, 1] (31-33 % of its
samples within 0.05 of 0.1 / 0.5 / 0.9, as an even spread would give; each id's mean 0.46-0.54):
in 6,000 steps the critic has not made G reproduce the artifact at all, and the ids follow digit
shapes (NMI against the artifact at most 0.003, against the digit 0.26-0.43). A 3,000-step run with
Algorithm 1's eta0 10, N_class 4 and lambda 100 (seed 0) did no better (at most 0.005), nor
did 10 critic steps per G step (seed 0, at step 3,000: 31 % of pixel-0 samples on a value, each
id's pixel 0 spread with std 0.31, the noise inputs drawing it rather than the id). The
13,000-step demo preset does not either: with gamma 1.1, seeds 0-4, 31-33 % of pixel-0 samples on
an artifact value, NMI against the artifact at most 0.003 (against the digit 0.34-0.47); with its
gamma 1.05, 31-34 % and at most 0.002 (against the digit 0.35-0.46), where AE + k-means, DEKM and
k-means on the pixels reach at most 0.002. Nor do 60,000 steps (4.6x the demo's, tau 2,000, so
still 30 raises of eta; seeds 0 and 1, 56 minutes a run, two at once; 2026-12-01): NMI against
the artifact 0.001 / 0.001 (against the digit 0.466 / 0.386), 32 % of pixel-0 samples on an
artifact value and each id's mean 0.48-0.50, the same at every 2,000 steps on the way. The paper
trains 900,000 steps (38 hours on a GPU for Artifact-MNIST, its section IV-H).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch.nn import functional as F

from dcviz.nets.gan import make_gan_nets
from dcviz.methods.base import BaseConfig, ConfigError, Extras, Method, param, register

# --------------------------------------------------------------------------- the paper's terms


def eta_schedule(step: int, eta0: float, gamma: float, tau: int) -> float:
    """Eq. 8: the weight of the entropy term, ``eta0 * gamma ** floor(step / tau)``.

    Algorithm 1 writes it as ``eta <- eta * gamma^floor(t/tau)``, which read literally would
    compound at every step; the text is plain ("we initialize eta to 10 and then multiply it by 1.2
    every 30,000 iterations"), and that is what this is.
    """
    return float(eta0) * float(gamma) ** (int(step) // int(tau))


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, lam: float,
                     eps: torch.Tensor) -> torch.Tensor:
    """The last term of Eq. 5: ``lam * E[(||grad_xhat D(xhat)||_2 - 1)^2]`` with
    ``xhat = eps * x + (1 - eps) * x~`` on the line between a real and a generated sample
    (Algorithm 1, line 7). ``eps`` is (N, 1), uniform in [0, 1]."""
    xhat = (eps * real + (1.0 - eps) * fake).requires_grad_(True)
    out = critic(xhat)
    (grad,) = torch.autograd.grad(out.sum(), xhat, create_graph=True)
    return lam * ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def emd_estimate(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """``E_r[D(x)] - E_g[D(x~)]``: the critic's estimate of the Earth Mover distance (Eq. 5 less
    its penalty, negated), the curve of Fig. 3(b)."""
    return d_real.mean() - d_fake.mean()


def critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor, gp: torch.Tensor) -> torch.Tensor:
    """Eq. 5: ``L_D = E_g[D(x~)] - E_r[D(x)] + lam * GP`` (WGAN-GP)."""
    return d_fake.mean() - d_real.mean() + gp


def classifier_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Eq. 6: ``L_C = -1/n sum_i sum_j y_ij log q(y_j | x_i)`` on generated samples, whose ids are
    the labels ("fake labels")."""
    return F.cross_entropy(logits, ids)


def generator_loss(d_fake: torch.Tensor, logits: torch.Tensor, ids: torch.Tensor,
                   eta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Eq. 7: ``L_G = L_reality + eta * L_entropy`` with ``L_reality = -E_g[D(G(y,z))]`` and
    ``L_entropy = L_C`` (Eq. 3: the CE bounds the assignment entropy from above; Eq. 4 is its
    Monte-Carlo estimate on the batch).
    Returns (L_G, L_reality, L_entropy)."""
    reality = -d_fake.mean()
    entropy = classifier_loss(logits, ids)
    return reality + eta * entropy, reality, entropy


def assignment_entropy(logits: torch.Tensor) -> torch.Tensor:
    """``E[H(q(y|x))]``, the expected entropy of C's assignment (the quantity Eq. 3 bounds)."""
    logp = F.log_softmax(logits, 1)
    return -(logp.exp() * logp).sum(1).mean()


#: Noise vectors per id behind each snapshot's row means (the same vectors for every id).
MEAN_SAMPLES = 256

# --------------------------------------------------------------------------- config

@dataclass
class GANConfig(BaseConfig):
    """Defaults are Algorithm 1's: lambda = 100, eta = 10, N_critic = 5, N_class = 4, N = 900000,
    alpha = 1e-4, beta1 = 0.5, beta2 = 0.9, tau = 30000, gamma = 1.2."""

    n_noise: int = param(-1, "Noise inputs z of G. -1 = auto: 2 for vector data (the blobs "
                         "experiment's count of intrinsic features, supplement Fig. 2c); for "
                         "images a quarter of the pixels, at most 128 (WGAN-GP's MNIST G): 16 "
                         "for 8x8 digits. Too many make EMD and ACC drift apart late in training.",
                         min=-1, max=512, step=1, auto=(-1, "automatic"))
    arch: str = param("auto", "Networks: fully connected (vectors) or DCGAN-like convs (images).",
                      choices=["auto", "mlp", "conv"], advanced=True)
    mlp_width: int = param(512, "Width of the hidden layers of the fully connected G, D and C "
                           "(x-512-512-512 in the paper).", min=4, max=4096, step=4, advanced=True)
    mlp_depth: int = param(3, "Hidden layers of the fully connected nets.", min=1, max=8, step=1,
                           advanced=True)
    conv_width: int = param(64, "Channels of the first conv of D and C (then 2x, 4x); G mirrors "
                            "it. 64 in WGAN-GP's nets.", min=2, max=512, step=2, advanced=True)
    steps: int = param(900000, "Generator iterations N (Algorithm 1).", min=1, max=10_000_000,
                       step=100)
    batch_size: int = param(50, "Samples per update of D, C and G (50 in WGAN-GP's MNIST code).",
                            min=2, max=4096, step=2)
    critic_steps: int = param(5, "Critic updates per generator step (N_critic).", min=1, max=50,
                              step=1)
    class_steps: int = param(4, "Classifier updates per generator step (N_class).", min=1, max=50,
                             step=1)
    class_noise: float = param(0.0, "Std of Gaussian noise added to the generated samples that "
                               "C sees (in C's and in G's updates), so that C cannot tell the ids "
                               "apart by fine detail. 0 = Algorithm 1; -1 = auto: 0.3 for images "
                               "(pixels in [0, 1]), 0 for vectors.", min=-1.0, max=10.0,
                               auto=(-1.0, "automatic"))
    gp_weight: float = param(100.0, "Gradient-penalty weight lambda of Eq. 5.", min=0.0, max=1e4)
    eta0: float = param(10.0, "Initial weight eta of the entropy (CE) term of G's loss, Eq. 7. "
                        "-1 = auto: 10 for vector data, 1 for images (for short CPU runs, see "
                        "the quick preset).", min=-1.0, max=1e4, auto=(-1.0, "automatic"))
    gamma: float = param(1.2, "eta is multiplied by gamma every tau generator steps (Eq. 8).",
                         min=1.0, max=10.0)
    tau: int = param(30000, "Generator steps between two raises of eta (Eq. 8).", min=1,
                     max=10_000_000, step=100)
    lr: float = param(1e-4, "Adam learning rate alpha of G, D and C.", min=1e-7, max=1.0, log=True)
    lr_decay: bool = param(False, "Decay the learning rate linearly to 0 over the run, as "
                           "WGAN-GP's CIFAR-10 code does; Algorithm 1 keeps it constant.",
                           advanced=True)
    beta1: float = param(0.5, "Adam beta1.", min=0.0, max=0.999, advanced=True)
    beta2: float = param(0.9, "Adam beta2.", min=0.0, max=0.9999, advanced=True)
    steps_per_epoch: int = param(2000, "Generator steps per snapshot (a GAN has no epochs; this "
                                 "is the unit of the epoch slider).", min=1, max=1_000_000,
                                 step=10)
    grid_cols: int = param(10, "Columns m of the k x m grid of generated images (fixed noise).",
                           min=1, max=32, step=1)
    points_per_id: int = param(100, "For vector data: generated points per id in each snapshot "
                               "(fixed noise).", min=1, max=1000, step=10, advanced=True)
    map_resolution: int = param(60, "For 2-D data: resolution of the critic and classifier maps "
                                "(the paper's supplement, Fig. 2).", min=10, max=200, step=10,
                                advanced=True)

    presets: ClassVar[dict] = {
        # A few minutes of one CPU core, measured on blobs8 and digits. What changes, and why:
        # - 2,000 steps instead of 900,000, eta raised every 67, i.e. 30 raises over the run as
        #   in the paper (which shortens tau in proportion for ORL: 30,000 steps, tau 1,000);
        # - the fully connected nets of the paper's synthetic experiment for every data set, at
        #   width 256: on 8x8 digits they run ~3x more steps per second than the convs;
        # - batch 256 and lr 1e-3: with 64 samples the critic lets the blobs' generator park two
        #   ids on one blob; lambda 10, WGAN-GP's own value (Algorithm 1 uses 100);
        # - eta0 auto: 10 for vectors as in the paper, 1 for images. With eta 10 from the first
        #   step, a short run on digits never gets realistic samples (EMD stays near 2 and C
        #   puts the real digits in one or two clusters); the reality term must lead first,
        #   which in the paper the 900,000 steps provide;
        # - the learning rate decays linearly to 0: at lr 1e-3 the blobs' ids keep hopping
        #   between blobs (ACC 1.0, then 0.76, ...); the decay lets the run end in a settled state;
        # - one classifier step per generator step instead of 4. At this learning rate, 4 steps
        #   let C tell the ids apart on generated digits (fake_acc 0.98) by step 400, while the
        #   samples are still poor, by cues finer than the digit; the CE term then stops pushing
        #   G. With 1 step C keeps pace with G: digits NMI 0.40 / 0.37 / 0.43 (seeds 0-2),
        #   against 0.31 with 4 steps, in less time.
        # - noise of std 0.3 on what C sees of generated images (class_noise auto). Even with one
        #   step, C tells the ids apart by fine detail that the noise vector also controls, and
        #   the grid's columns decide the digit as much as its rows. With the noise, G is only
        #   paid for ids that differ in the shape of the digit: each row of the grid turns into
        #   one digit (a judge classifier reads 71-85% of a row's samples as its main digit,
        #   against 39-42%), and digits NMI rises to 0.45 / 0.51 / 0.48 (seeds 0-2).
        "quick": {"steps": 2000, "tau": 67, "steps_per_epoch": 50, "arch": "mlp",
                  "mlp_width": 256, "batch_size": 256, "lr": 1e-3, "lr_decay": True,
                  "gp_weight": 10.0, "eta0": -1.0, "class_steps": 1, "class_noise": -1.0},
        # More generator steps for the digits in about 8 minutes of one CPU core (13,000 steps;
        # quick: 2,000 steps, ~200 CPU-s). What changes from quick, and why. Iterations (5 D +
        # 1 C + 1 G updates) per CPU second, digits, one thread:
        #   width 128: batch 32 62, 64 53, 128 35, 256 26;  width 256: 34, 26, 18, 10;
        #   width 512: 11, 8.5, 5.5, 3.3.
        # - batch 64 (WGAN-GP's usual size) instead of 256: the nets are FLOP-bound, so a step
        #   costs 2.5x less and the run takes 6.5x more steps, 13,000 (tau 433: still 30 raises
        #   of eta). Width stays 256: at width 128 (2x faster again) the digits stalled at NMI
        #   0.45 from step 1,000 to 3,000 while the critic's EMD rose;
        # - 8 noise inputs instead of 16: the paper's advice to use fewer (its synthetic
        #   experiment); NMI 0.475 against 0.391 with 16 at step 1,000 (seed 0). It is set, not
        #   auto: the blobs keep 2, with the quick preset.
        # - gamma 1.05 instead of 1.2: eta ends at 1.05^30 = 4.3 instead of 237. With gamma 1.2,
        #   seeds 1 and 2 put two ids on 1 and none on 8 from step ~7,000 on and stayed at NMI
        #   0.72-0.73 to step 13,000 (seed 0: 0.770, all 10 digits): once the cross-entropy
        #   weighs that much, the critic can no longer move an id off a digit that another id
        #   already has. Seeds 0 / 1 / 2, NMI; judge purity; distinct digits:
        #     gamma 1.2   0.770 / 0.727 / 0.728;  0.93 / 0.89 / 0.89;      10 / 9 / 9
        #     gamma 1.1   0.827 / 0.762 / 0.774;  0.950 / 0.897 / 0.857;   10 / 10 / 9
        #     gamma 1.05  0.835 / 0.829 / 0.789;  0.94 / 0.89 / 0.86;      10 / 10 / 10
        #     gamma 1.03  -     / 0.796 / 0.729;  -    / 0.83 / 0.77;      - / 9 / 9
        #   (1.03, 2026-12-01: eta ends at 2.4; seeds 1 and 2 again put two ids on the 1s)
        # Digits, seeds 0-2 (bench/gan.py --preset demo): NMI median 0.829 (quick: 0.447 / 0.512
        # / 0.478), each above k-means on the pixels (NMI 0.742); the judge's purity median is
        # 0.89 (quick: 83 / 85 / 71 %). Most mixed rows hold the 8s, which G draws poorly: an
        # id draws rough 8s beside 1s (or 5s, or 2s), and C still tells the ids apart by style
        # (fake_acc 0.99). Tried on gamma 1.05 and not kept, seed 0 (purity 0.94 above):
        # Algorithm 1's N_class 4 (NMI 0.734), Algorithm 1's lambda 100 (seeds 0 / 1: NMI 0.753 /
        # 0.781, purity 0.84 / 0.88), class noise 0.5 (seeds 0 / 1: purity 0.895 / 0.891, 9
        # digits each, two ids on 1), 4 noise
        # inputs (purity 0.878, 9 digits); 15,000 steps, seeds 0-2: NMI 0.816 / 0.868 / 0.782,
        # purity 0.87 / 0.97 / 0.85; batch 128 (two threads, 527-576 s a run), seeds 0-2: NMI
        # 0.787 / 0.727 / 0.822, purity 0.81 / 0.77 / 0.88; samples drawn by an average of G's
        # weights (decay 0.999), seeds 0 / 1: purity 0.936 / 0.889, as without it (seed 1's two
        # mixed ids each draw 1s and 8s, one slanted, one upright); on seeds 1 / 2, class noise
        # 0.2: purity 0.82 / 0.83 (9 digits each), 0.4: 0.84 / 0.89, and nets of width 384
        # (805-824 s a run, two at once): 0.83 / 0.88 (against 0.89 / 0.86 here). The paper's
        # Ours* (Table VI) adds invariance knowledge; C seeing each generated digit turned by
        # a random angle within +-20 degrees, so that slant is no cue, gave seeds 0-2 NMI 0.777 /
        # 0.775 / 0.761 and purity 0.88 / 0.87 / 0.90 (two ids then share the 9s), +-10 degrees
        # seed 1 NMI 0.707, purity 0.76: not kept. Nets with 4 hidden layers instead of 3
        # (2026-12-01, seeds 1 and 2, two at once) reached only step ~9,500 in 10 minutes, past
        # the demo's budget of 10 minutes a run; stopped there. On seeds 1 / 2 (purity 0.89 /
        # 0.86 here; 2026-12-01, two at once): 16 noise inputs (the quick preset's auto)
        # purity 0.84 / 0.77, NMI 0.786 / 0.729; Adam at 5e-4 instead of 1e-3 purity 0.86 /
        # 0.76, NMI 0.752 / 0.699; the paper's conv nets at width 8, the widest that fits
        # 6,000 steps (tau 200) in 10 minutes (11 iterations per CPU-s, against 26 for these
        # MLPs; width 16: 6.5, width 32: 2.7): purity 0.70 / 0.72, NMI 0.585 / 0.564 (595 s a
        # run, 2026-12-01); 3 critic steps instead of 5 and 19,000 steps (tau 633) in the same
        # time, purity 0.88 / 0.87, NMI 0.817 / 0.791 (595 / 616 s a run, 2026-12-02).
        # This preset: 468-480 s wall a run, one thread, two runs at once on 2 cores. The earlier 6,000 steps with gamma 1.2
        # (tau 200, a snapshot every 100) gave 0.647 / 0.698 / 0.551 and rows 87 / 90 / 82 %.
        "demo": {"steps": 13000, "tau": 433, "gamma": 1.05, "steps_per_epoch": 500,
                 "arch": "mlp", "mlp_width": 256, "batch_size": 64, "lr": 1e-3,
                 "lr_decay": True, "gp_weight": 10.0, "eta0": -1.0, "class_steps": 1,
                 "class_noise": -1.0, "n_noise": 8},
        "paper": {"steps_per_epoch": 5000},
    }

    def validate(self, n_samples=None):
        super().validate(n_samples)
        if self.eta0 < 0 and self.eta0 != -1:
            raise ConfigError(f"eta0 must be -1 (auto) or at least 0, got {self.eta0}")
        if self.class_noise < 0 and self.class_noise != -1:
            raise ConfigError(f"class_noise must be -1 (auto) or at least 0, got {self.class_noise}")


# --------------------------------------------------------------------------- the method

@dataclass
class GANExtras(Extras):
    samples: np.ndarray            # G's grid: (k, m, D), fixed noise, one row per id
    eta: float
    cluster_sizes: np.ndarray      # C's clusters of the real data (k,)
    confusion: np.ndarray | None = None   # C's clusters against the true classes (k, classes)
    emd: float | None = None       # running means since the last snapshot
    gp: float | None = None
    fake_acc: float | None = None
    entropy: float | None = None
    ce: float | None = None
    class_map: np.ndarray | None = None   # 2-D data: C's arg-max on a grid (r, r)
    critic_map: np.ndarray | None = None  # ... and D's value (r, r)
    map_extent: np.ndarray | None = None  # the grid's x0, x1, y0, y1
    row_means: np.ndarray | None = None   # each id's mean generated sample (k, D), fixed noise


@register
class GANCluster(Method):
    id = "gan"
    Extras = GANExtras
    estimator = "GAN"
    # quick preset on digits: 198 CPU-s on one core (torch on 1 thread), measured here; 440 s
    # wall with torch's two threads beside other work (load about 3, 2026-12-02)
    card = ("A generator with one row per cluster id: watch each row of digits become one "
            "digit. Try it: the quick preset takes 3 to 7 minutes on a 2-core CPU.")
    picture = "gan.svg"
    try_it = "digits"  # image data, so the card's grid has one row of digits per cluster id
    suits = ("digits", "blobs8", "artifact-digits", "mnist", "fashion-mnist", "usps")
    quick_time = "3 to 7 min"
    preset_notes = {"demo": "6.5x the steps of the quick preset at a quarter of its batch, about "
                            "2.5 times its time: rows that draw one digit each."}
    title = "GAN clustering (WGAN-GP + classifier)"
    paper = "Gan, Dong, Zhou, Gao and Dong: Learning the Precise Feature for Cluster Assignment"
    summary = ("A generator draws samples from cluster ids under a WGAN-GP critic; a separate "
               "classifier learns to tell the ids apart on generated samples, and the generator "
               "makes them easy to tell apart. The classifier then clusters real data.")
    Config = GANConfig
    resumable = True  # a killed run goes on from its checkpoint's step (ctx.at at every snapshot)

    # -- building
    def resolve_noise(self, image_shape) -> int:
        """``n_noise``, with -1 resolved for this data (see the config's help)."""
        n = self.config.n_noise
        if n >= 0:
            return n
        if image_shape is None:
            return 2
        return int(min(128, max(4, image_shape[1] * image_shape[2] // 4)))

    def resolve_eta0(self) -> float:
        eta0 = self.config.eta0
        if eta0 >= 0:
            return float(eta0)
        return 1.0 if self.image_shape is not None else 10.0

    def resolve_class_noise(self) -> float:
        c = self.config.class_noise
        if c >= 0:
            return float(c)
        return 0.3 if self.image_shape is not None else 0.0

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        cfg = self.config
        arch = cfg.arch if cfg.arch != "auto" else ("conv" if self.image_shape else "mlp")
        if arch == "conv":
            if self.image_shape is None:
                raise ConfigError("arch='conv' needs image data; this data set is vectors "
                                  "(use arch='mlp' or 'auto')")
            c, h, w = self.image_shape
            if h < 4 or w < 4:
                raise ConfigError(f"the conv nets need images of at least 4x4; this data has "
                                  f"{h}x{w} (use arch='mlp')")
        self.arch = arch
        self.n_noise = self.resolve_noise(self.image_shape)
        self.eta0 = self.resolve_eta0()
        self.class_noise = self.resolve_class_noise()
        self.G, self.D, self.C = (net.to(self.device) for net in make_gan_nets(
            self.input_dim, self.image_shape, cfg.n_clusters, self.n_noise, arch,
            cfg.mlp_width, cfg.mlp_depth, cfg.conv_width))
        # Fixed noise of the sample grid: drawn from ctx.generator when fit starts.
        self.grid_noise = torch.zeros(self.grid_size(), self.n_noise)
        self.mean_noise = torch.zeros(MEAN_SAMPLES, self.n_noise)
        self.steps_done = 0

    def grid_size(self) -> int:
        return self.config.grid_cols if self.image_shape else self.config.points_per_id

    # -- sampling
    def _onehot(self, ids: torch.Tensor) -> torch.Tensor:
        return F.one_hot(ids, self.config.n_clusters).float()

    def generate(self, ids: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """G(one-hot id, noise) -> flat samples (N, D)."""
        return self.G(self._onehot(ids.to(self.device)), z.to(self.device))

    def _prior(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """ids from the uniform prior U^int[1, k] and z ~ N(0, I) (Algorithm 1, lines 4 and 14)."""
        ids = torch.randint(self.config.n_clusters, (n,), generator=gen, device=gen.device)
        z = torch.randn(n, self.n_noise, generator=gen, device=gen.device)
        return ids.to(self.device), z.to(self.device)

    # -- training
    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        resuming = ctx.resume_phase == "train"  # the grid noise then comes from the checkpoint
        if not resuming:
            # The grid noise comes first from ctx.generator, so one seed gives one grid.
            self.grid_noise = torch.randn(self.grid_size(), self.n_noise, generator=ctx.generator)
        # The noise of the row means has its own generator, so that adding it left the training
        # stream (and every seed's result) as it was.
        self.mean_noise = torch.randn(MEAN_SAMPLES, self.n_noise,
                                      generator=torch.Generator().manual_seed(ctx.seed + 7919))
        gen = ctx.generator
        if self.device.type != "cpu":
            # Drawing on the device avoids a host-to-device copy per update; seeded from ctx.
            gen = torch.Generator(device=self.device).manual_seed(
                int(torch.randint(2**62, (1,), generator=ctx.generator)))
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.opt_c = torch.optim.Adam(self.C.parameters(), **adam)
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        opts = (self.opt_d, self.opt_c, self.opt_g)
        resumed = ctx.resume_point("train", d=self.opt_d, c=self.opt_c, g=self.opt_g)
        log = _Running()
        if resumed is None:
            snap = self._snapshot(data, ctx, x, log, step=0)
            self._at(ctx, gen, 0)
            yield snap
            first = 0
        else:  # G, D and C come from the checkpoint; go on after its step
            first = int(resumed["step"])
            if gen is not ctx.generator:
                gen.set_state(resumed["device_rng"])
        for t in range(first, cfg.steps):
            eta = eta_schedule(t, self.eta0, cfg.gamma, cfg.tau)
            for _ in range(cfg.critic_steps):
                ctx.check()
                log.add(**self.critic_update(x, gen))
            for _ in range(cfg.class_steps):
                log.add(**self.classifier_update(gen))
            log.add(**self.generator_update(gen, eta))
            self.steps_done = t + 1
            if cfg.lr_decay:
                for opt in opts:
                    for group in opt.param_groups:
                        group["lr"] = cfg.lr * (1.0 - self.steps_done / cfg.steps)
            if self.steps_done % cfg.steps_per_epoch == 0 or self.steps_done == cfg.steps:
                snap = self._snapshot(data, ctx, x, log, step=self.steps_done)
                self._at(ctx, gen, self.steps_done)
                yield snap
                log = _Running()
                if (self.steps_done // cfg.steps_per_epoch) % 10 == 0:
                    ctx.checkpoint()  # lets the lens interpolate on a live run

    @staticmethod
    def _at(ctx, gen: torch.Generator, step: int) -> None:
        """Where training stands, for a checkpoint to resume from: the steps done, and the
        device generator's state where updates draw from one of their own (a GPU)."""
        extra = {} if gen is ctx.generator else {"device_rng": gen.get_state()}
        ctx.at("train", step=step, **extra)

    def critic_update(self, x: torch.Tensor, gen: torch.Generator) -> dict:
        """One step of D on Eq. 5 (Algorithm 1, lines 3-10): real batch, fake batch, penalty."""
        b, n = self.config.batch_size, len(x)
        real = x[torch.randint(n, (b,), generator=gen, device=gen.device).to(self.device)]
        ids, z = self._prior(b, gen)
        with torch.no_grad():
            fake = self.generate(ids, z)
        eps = torch.rand(b, 1, generator=gen, device=gen.device).to(self.device)
        d_real, d_fake = self.D(torch.cat([real, fake])).split(b)  # one pass: no batch norm
        gp = gradient_penalty(self.D, real, fake, self.config.gp_weight, eps)
        loss = critic_loss(d_real, d_fake, gp)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return dict(critic=loss, emd=emd_estimate(d_real, d_fake), gp=gp)

    def classifier_update(self, gen: torch.Generator) -> dict:
        """One step of C on Eq. 6 (lines 13-19): generated samples only, their ids as labels."""
        ids, z = self._prior(self.config.batch_size, gen)
        with torch.no_grad():
            fake = self.generate(ids, z)
        logits = self.C(self.classifier_view(fake, gen))
        loss = classifier_loss(logits, ids)
        self.opt_c.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_c.step()
        return dict(classifier=loss, fake_acc=(logits.argmax(1) == ids).float().mean(),
                    entropy=assignment_entropy(logits))

    def generator_update(self, gen: torch.Generator, eta: float) -> dict:
        """One step of G on Eq. 7 (lines 21-27); D and C are held fixed (only G's Adam steps)."""
        ids, z = self._prior(self.config.batch_size, gen)
        fake = self.generate(ids, z)
        with _frozen(self.D, self.C):  # their weight gradients would be thrown away
            logits = self.C(self.classifier_view(fake, gen))
            loss, reality, ce = generator_loss(self.D(fake), logits, ids, eta)
            self.opt_g.zero_grad(set_to_none=True)
            loss.backward()
        self.opt_g.step()
        return dict(generator=loss, reality=reality, generator_ce=ce)

    def classifier_view(self, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """What C sees of a generated batch: the samples plus Gaussian noise of std
        ``class_noise`` (none in Algorithm 1). Noise masks the fine detail by which a young C
        can tell the ids apart (a stroke end, a pixel's shade) while the samples are still poor;
        G is then only paid for ids that differ in what survives it, the shape of the digit."""
        if self.class_noise <= 0:
            return fake
        noise = torch.randn(fake.shape, generator=gen, device=gen.device).to(self.device)
        return fake + self.class_noise * noise

    # -- snapshots
    @torch.no_grad()
    def _logits(self, x: torch.Tensor, batch: int = 2048) -> torch.Tensor:
        return torch.cat([self.C(x[i:i + batch]) for i in range(0, len(x), batch)])

    @torch.no_grad()
    def samples(self) -> np.ndarray:
        """G on the fixed grid noise: (k, m, D); row i is cluster id i, column j noise j."""
        k, m = self.config.n_clusters, len(self.grid_noise)
        ids = torch.arange(k).repeat_interleave(m)
        z = self.grid_noise.repeat(k, 1)
        return self.generate(ids, z).view(k, m, -1).cpu().numpy()

    @torch.no_grad()
    def row_means(self) -> np.ndarray:
        """Each id's mean generated sample over the fixed ``mean_noise``: (k, D). Every row uses
        the same noise vectors, so two rows differ only by what the id changes; minus their mean,
        they show what the clusters are cut by (on artifact-digits, one pixel)."""
        k, n = self.config.n_clusters, len(self.mean_noise)
        return torch.stack([self.generate(torch.full((n,), i, dtype=torch.long),
                                          self.mean_noise).mean(0)
                            for i in range(k)]).cpu().numpy()

    @torch.no_grad()
    def _maps(self, data) -> dict:
        """For 2-D data: C's arg-max and D's value on a grid over the data (supplement, Fig. 2)."""
        r = self.config.map_resolution
        lo, hi = data.x.min(0), data.x.max(0)
        pad = 0.15 * (hi - lo) + 1e-3
        lo, hi = lo - pad, hi + pad
        gx, gy = np.linspace(lo[0], hi[0], r), np.linspace(lo[1], hi[1], r)
        pts = self.tensor(np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2))
        return {"class_map": self._logits(pts).argmax(1).view(r, r).cpu().numpy().astype(np.int64),
                "critic_map": self.D(pts).view(r, r).cpu().numpy().astype(np.float32),
                "map_extent": np.array([lo[0], hi[0], lo[1], hi[1]], dtype=np.float32)}

    def _snapshot(self, data, ctx, x, log: "_Running", step: int):
        cfg = self.config
        logits = self._logits(x)
        labels = logits.argmax(1).cpu().numpy()
        sub = ctx.subsample if ctx.subsample is not None else np.arange(len(labels))
        k = cfg.n_clusters
        # the eta of the last generator step taken, and its stair: at a snapshot on a stair's
        # boundary (step = n * tau) the last step was still on stair n - 1
        stair = max(step - 1, 0) // cfg.tau
        eta = eta_schedule(max(step - 1, 0), self.eta0, cfg.gamma, cfg.tau)
        extras = {"samples": self.samples().astype(np.float32), "eta": eta,
                  "row_means": self.row_means().astype(np.float32),
                  "cluster_sizes": np.bincount(labels, minlength=k).astype(np.int64)}
        means = log.means()
        for key in ("emd", "gp", "fake_acc", "entropy"):
            if key in means:
                extras[key] = means[key]
        if "classifier" in means:
            extras["ce"] = means["classifier"]
        if data.y is not None:
            y = np.asarray(data.y)
            classes = int(y.max()) + 1
            table = np.zeros((k, classes), dtype=np.int64)
            np.add.at(table, (labels, y), 1)
            extras["confusion"] = table
        if self.arch == "mlp" and data.dim == 2:
            extras.update(self._maps(data))
        losses = {name: means[name] for name in ("critic", "classifier", "generator", "reality")
                  if name in means}
        epoch = -(-step // cfg.steps_per_epoch)  # the last snapshot may close a short epoch
        stage = "initial nets" if step == 0 else f"eta = {eta:.4g} (stair {stair})"
        return self.make_snapshot(data, ctx, epoch=epoch, step=step, stage=stage, labels=labels,
                                  latent_sub=logits[torch.as_tensor(sub)].cpu().numpy(),
                                  losses=losses, extras=extras, progress=step / cfg.steps)

    # -- using the trained model
    def embed(self, x):
        """C's logits (k dimensions): the view of the data that decides the clusters."""
        return self._logits(self.tensor(x)).cpu().numpy()

    def predict(self, x):
        return self._logits(self.tensor(x)).argmax(1).cpu().numpy()

    def predict_proba(self, x):
        return torch.softmax(self._logits(self.tensor(x)), 1).cpu().numpy()

    @torch.no_grad()
    def interpolate(self, cluster_id: int, n_steps: int = 10, seed: int = 0) -> np.ndarray:
        """G along the straight line between two noise vectors (drawn from ``seed``) with the id
        held at ``cluster_id``: (n_steps, D). What changes along the row is what the noise
        encodes inside one cluster."""
        k = self.config.n_clusters
        if not 0 <= int(cluster_id) < k:
            raise ValueError(f"cluster_id must be in 0..{k - 1}; got {cluster_id}")
        if n_steps < 2:
            raise ValueError("n_steps must be at least 2")
        g = torch.Generator().manual_seed(int(seed))
        z0, z1 = torch.randn(2, self.n_noise, generator=g)
        w = torch.linspace(0, 1, int(n_steps))[:, None]
        z = (1 - w) * z0 + w * z1
        ids = torch.full((int(n_steps),), int(cluster_id), dtype=torch.long)
        return self.generate(ids, z).cpu().numpy()

    def state_dict(self):
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "C": self.C.state_dict(),
                "grid_noise": self.grid_noise.clone(), "mean_noise": self.mean_noise.clone(),
                "n_noise": int(self.n_noise),
                "steps_done": int(self.steps_done)}

    def load_state_dict(self, d):
        if int(d["n_noise"]) != self.n_noise:
            raise ConfigError(f"checkpoint has {d['n_noise']} noise inputs; config gives "
                              f"{self.n_noise}")
        self.G.load_state_dict(d["G"])
        self.D.load_state_dict(d["D"])
        self.C.load_state_dict(d["C"])
        self.grid_noise = d["grid_noise"].float()
        if "mean_noise" in d:  # absent from checkpoints written before the row means
            self.mean_noise = d["mean_noise"].float()
        self.steps_done = int(d.get("steps_done", 0))


@contextmanager
def _frozen(*nets):
    """Turn off the weight gradients of ``nets`` (gradients still flow through them)."""
    params = [p for net in nets for p in net.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)


class _Running:
    """Means of scalar tensors over one snapshot interval (``.item()`` once, at the end)."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: torch.Tensor) -> None:
        for k, v in values.items():
            v = v.detach()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def means(self) -> dict[str, float]:
        return {k: float(v) / self.counts[k] for k, v in self.sums.items()}
