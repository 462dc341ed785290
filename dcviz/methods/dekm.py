"""DEKM: Deep Embedded K-Means Clustering (Guo, Lin and Ye, ICDMW 2021).

1. Pretrain an autoencoder on reconstruction (Eq. 1).
2. Repeat: embed H = f(X); k-means on H (Eq. 2); the within-class scatter S_w of that partition
   (Eq. 4); its eigenvectors, ascending, as the rows of an orthonormal V, so that in Y = V h the
   last coordinate holds the least cluster structure; then, with the decoder discarded, move
   mini-batches of points towards their centroid along that last coordinate only (Eq. 6).
3. Stop when fewer than ``tol`` of the points change cluster between two re-clusterings.

The DEKM lens (its Fig. 1) shows the latent space, the k-means regions, the centroids, and the
line of the last eigenvector: exact for a 2-d embedding (as in the paper's figure), projected onto
a plane and marked approximate for more dimensions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans

from dcviz.methods.ae_kmeans import QUICK_PRETRAIN, AEConfig, AEMethod
from dcviz.methods.base import ConfigError, Extras, param, register


def within_class_scatter(h: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """S_w = sum_i sum_{h in C_i} (h - mu_i)(h - mu_i)^T  (Eq. 4), a symmetric (d, d) matrix."""
    diff = h - centroids[labels]
    return diff.T @ diff


def eigen_directions(s_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and V whose ROWS are the eigenvectors of S_w, so that Y = V h.

    The Rayleigh-Ritz argument after Eq. 4: V minimising Trace(V S_w V^T) over orthonormal V
    holds the eigenvectors of S_w in ascending order of eigenvalue.
    """
    values, vectors = np.linalg.eigh(s_w)  # ascending; eigenvectors are columns
    return values, vectors.T


def greedy_target(y: torch.Tensor, centroids_y: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """y' of Eq. 6: a copy of y whose last coordinate is replaced by its centroid's m_i."""
    target = y.clone()
    target[:, -1] = centroids_y[labels, -1]
    return target


def greedy_loss(y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L_4 = sum_i sum_{y in C_i} ||y - y'||^2  (Eq. 6), averaged over the batch.

    All coordinates take part: the others have target = their own value at re-clustering time,
    which pins them while the last one moves towards the centroid.
    """
    return ((y - target) ** 2).sum(1).mean()


# --------------------------------------------------------------------------- progress

#: the fixed cost of one optimiser step, in samples' worth of work (measured on digits, CPU:
#: a pretraining epoch took 0.41 s in batches of 256 and 0.55 s in batches of 64)
STEP_OVERHEAD = 32


def iteration_cost(n: int, batch_size: int, batches_per_iter: int,
                   pretrain_batch_size: int) -> float:
    """The work of one clustering iteration, in pretraining epochs (one pass of the data
    through the whole AE in mini-batches, forward and backward: about 3 forward passes).
    Encoding all points is one forward pass of the encoder, half the net: 1/6 of a pass; each
    greedy mini-batch trains the encoder only: half a pretraining step of its size. Every step
    also costs a fixed STEP_OVERHEAD. (Measured on digits, CPU: 0.37 s per iteration against
    0.55 s per pretraining epoch in batches of 64, 0.67, and 0.35 s against 0.41 s in batches
    of 256, 0.85; this gives 0.65 and 0.86.)"""
    epoch = math.ceil(n / pretrain_batch_size) * (pretrain_batch_size + STEP_OVERHEAD)
    return (n / 6.0 + 0.5 * batches_per_iter * (batch_size + STEP_OVERHEAD)) / epoch


#: iterations DEKM's stopping rule took on digits, quick preset: 28, 29, 29 and 32 in 4 runs
#: (seeds 0-1, both pretraining recipes); blobs8 stops at min_iter + 1 = 6
TYPICAL_ITERATIONS = 30


def expected_iterations(changed: list[float], n: int, tol: float, min_iter: int,
                        max_iter: int) -> float:
    """How many clustering iterations the run will likely make before its stopping rule ends it.

    ``changed`` is the share of points that changed cluster at iterations 1, 2, ... so far.
    Before the run has seen how it converges, the guess is TYPICAL_ITERATIONS, what the rule
    took in the runs measured (within [min_iter + 1, max_iter]). Then the share of changed
    points falls about exponentially (digits: from 6 % to 0.1 % in 28-32 iterations), so a
    straight line through log(changed) says when it gets there. That forecast is weighed
    against the guess by how many iterations it rests on, the guess counting as 20: the
    readings are noisy, and a trend needs many of them to beat what was measured. The line is
    followed down to tol / 2, not tol: the readings scatter about it by a factor of 2 or so,
    and it takes one reading below tol to stop, which the trend reaches only near the floor of
    a few points.
    """
    prior = min(max(TYPICAL_ITERATIONS, min_iter + 1), max_iter)
    done = len(changed) + 1  # iteration 0 has no "changed"
    guess = prior
    if len(changed) >= 6:  # fewer points give a slope that is mostly noise
        j = np.arange(1, len(changed) + 1, dtype=np.float64)
        y = np.log(np.maximum(np.asarray(changed, dtype=np.float64), 0.5 / max(n, 1)))
        slope, intercept = np.polyfit(j, y, 1)
        # a fall slower than 1 % an iteration is no fall: it says nothing of when it ends
        forecast = (math.log(max(tol / 2, 1e-12)) - intercept) / slope + 1 if slope < -0.01 else prior
        guess = (20 * prior + len(changed) * forecast) / (20 + len(changed))
    return float(min(max(guess, done + 1, min_iter + 1), max_iter))


class BatchStream:
    """Mini-batches taken one at a time from successive random permutations of range(n), a new
    one drawn when the last is used up (the last batch of each may be short), so that an
    iteration's few batches go on where the previous iteration's stopped. Its state is plain
    (the permutation and the position in it), for checkpoints."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, device):
        self.n, self.batch_size, self.generator, self.device = n, batch_size, generator, device
        self.perm: torch.Tensor | None = None
        self.pos = 0

    def next(self) -> torch.Tensor:
        if self.perm is None or self.pos >= self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.generator).to(self.device), 0
        idx = self.perm[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state(self) -> dict:
        return {"perm": None if self.perm is None else self.perm.cpu().clone(), "pos": self.pos}

    def load_state(self, state: dict) -> None:
        perm = state["perm"]
        self.perm = None if perm is None else perm.to(self.device)
        self.pos = int(state["pos"])


@dataclass
class DEKMConfig(AEConfig):
    max_iter: int = param(300, "Maximum number of k-means / representation iterations (Iter "
                          "of Algorithm 1).", min=1, max=10000, step=10)
    batches_per_iter: int = param(10, "Mini-batch updates (Eq. 6) between two re-clusterings: "
                                  "10 in the authors' dense code, 40 in the conv one; -1 = "
                                  "auto: 40 with the conv AE, 10 with the MLP.",
                                  min=-1, max=1000, step=1, auto=(-1, "automatic"))
    tol: float = param(0.001, "Stop when fewer than this share of points change cluster between "
                       "two re-clusterings (the paper: 0.1 %).", min=0.0, max=1.0, step=0.0005)
    # not in the paper, which applies its rule from the first re-clustering on: a floor of our
    # own, so that every run shows a few rounds of Eq. 6 in the view before the rule can stop it
    min_iter: int = param(5, "Iterations to run before the stopping rule may end the run.",
                          min=0, max=1000, step=1, advanced=True)
    cluster_lr: float = param(1e-3, "Adam learning rate of the clustering phase.", min=1e-6,
                              max=1.0, log=True)
    # The paper: "The weights of all the layers are initialized by Xavier approach".
    ae_init: str = param("xavier", "Initial weights of the autoencoder: Xavier-uniform with zero "
                         "biases (the paper) or PyTorch's default (Kaiming-uniform).",
                         choices=["torch", "xavier"], advanced=True)

    def validate(self, n_samples=None):
        super().validate(n_samples)
        if self.batches_per_iter == 0:
            raise ConfigError("batches_per_iter must be -1 (auto) or at least 1, got 0")

    presets: ClassVar[dict] = {
        # quick: the pretraining recipe every AE method's quick preset shares (PyTorch's default
        # init, not the paper's Xavier), so DEKM starts from the AE that AE + k-means, DCN and
        # ACe/DeC use on the same data
        "quick": {**QUICK_PRETRAIN, "max_iter": 80},
        # paper: DEKM's own recipe, which differs from the other methods' shared one
        # (ae_kmeans.PAPER_PRETRAIN): for images of 16x16 and more the conv AE 32-64-128 (its
        # MNIST figure comes from one), for vectors and small images the MLP d-500-500-2000-k;
        # Xavier init, Adam 1e-3, batches of 256, 200 epochs (the authors' code), an embedding
        # of k dimensions, and the authors' 40 updates between re-clusterings with the conv AE
        # (10 with the MLP). Measured on the MNIST test split (bench/mnist.py, seeds 0 / 1 / 2;
        # bench/results/mnist-cpu-dekm-conv.md): AE + k-means on this conv AE 0.737 / 0.723 /
        # 0.735, DEKM 0.827 / 0.837 / 0.832 (median 0.832; 0.799 / 0.867 / 0.800 with 10
        # updates), against 0.768 on the shared MLP AE (0.704 / 0.692 / 0.703 with k-means).
        # Issue 17's table runs DEKM on the shared AE (bench/mnist.py pins it).
        # Longer is not better: the authors' 200 epochs of MNIST-full are ~55,000 steps, 7x the
        # 7,800 that 200 epochs of the test split give, but this conv AE, run on to 600 epochs,
        # had AE + k-means NMI 0.665 / 0.733 / 0.732 / 0.712 at 50 / 100 / 150 / 200 (seed 0;
        # seeds 1, 2: 0.723, 0.734 at 150) and no further rise (2026-12-01), so 200 it stays.
        "paper": {"arch": "auto", "latent_dim": 0, "pretrain_epochs": 200,
                  "pretrain_batch_size": 256, "pretrain_optimizer": "adam", "lr": 1e-3,
                  "lr_schedule": "constant", "pretrain_dropout": 0.0, "ae_init": "xavier",
                  "pretrain_precision": "auto", "max_iter": 300, "batches_per_iter": -1},
    }


#: the Explore page's method axes: Y's first and last columns (S_w's eigenvalues ascending)
AXES_NAMES = ("Y₁: most cluster structure (smallest eigenvalue)|"
              "Y_d: least cluster structure (the greedy loss's axis)")


@dataclass
class DEKMExtras(Extras):
    """Per clustering iteration (pretraining snapshots have none)."""

    eigenvalues: np.ndarray | None = None  # of S_w, ascending (d,)
    V: np.ndarray | None = None            # its eigenvectors, one per row (d, d)
    centroids: np.ndarray | None = None    # k-means centroids in the embedding (k, d)
    Y: np.ndarray | None = None            # Y = V·h of the subsample (n_sub, d)
    axes: np.ndarray | None = None         # Y's first and last columns (n_sub, 2)
    axes_names: str | None = None
    changed: float | None = None           # runs recorded before: a copy of metrics["changed"]
    iteration: float | None = None         # the re-clustering's number (0: the first k-means)


@register
class DEKM(AEMethod):
    id = "dekm"
    Extras = DEKMExtras
    estimator = "DEKM"
    card = ("k-means in a learned space, and the eigen-direction of the within-cluster scatter "
            "along which points are pulled to their centroids.")
    picture = "dekm.svg"
    try_it = "digits"
    suits = ("digits", "mnist", "fashion-mnist", "usps")
    quick_time = "25 s"
    title = "DEKM"
    paper = "Deep Embedded K-Means Clustering (Guo et al., ICDMW 2021)"
    summary = ("K-means in an autoencoder's space, then move points towards their centroids along "
               "the eigen-direction of S_w with the least cluster structure.")
    Config = DEKMConfig
    resumable = True

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        self.batches_per_iter = self.config.batches_per_iter
        if self.batches_per_iter < 0:
            self.batches_per_iter = 40 if self.arch == "conv" else 10
        d = self.config.latent_size()
        self.V = torch.eye(d)
        self.centroids = torch.zeros(self.config.n_clusters, d)

    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        # progress is the share of the expected WORK done, in pretraining epochs, with the
        # clustering phase's length forecast from how fast it converges (expected_iterations):
        # the stopping rule usually ends the run long before max_iter (digits: ~28 of 80)
        it_cost = iteration_cost(len(x), cfg.batch_size, self.batches_per_iter,
                                 cfg.pretrain_batch_size)
        changes: list[float] = []
        pre = cfg.pretrain_epochs

        def planned() -> float:
            n_iter = expected_iterations(changes, len(x), cfg.tol, cfg.min_iter, cfg.max_iter)
            return pre + it_cost * n_iter

        yield from self.pretrain(data, ctx, x, total_epochs=planned())
        if self.pretrain_replayed:
            pre = 0  # the store had it: the run's work is the clustering alone
        progress = pre / planned()

        # The decoder is discarded in this phase: only the encoder learns (Section III-B).
        opt = torch.optim.Adam(self.ae.encoder_parameters(), lr=cfg.cluster_lr)
        prev_labels, prev_centroids = None, None
        step = cfg.pretrain_epochs
        stream = BatchStream(len(x), cfg.batch_size, ctx.generator, self.device)
        first = 0
        resumed = ctx.resume_point("cluster", opt=opt)
        if resumed is not None:  # go on after the iteration the checkpoint was taken at
            if resumed["stop"]:
                return
            first = resumed["iteration"] + 1
            changes, progress = list(resumed["changes"]), float(resumed["progress"])
            prev_labels = resumed["labels"].numpy()
            prev_centroids = resumed["centroids"].numpy()
            stream.load_state(resumed["batches"])
        for it in range(first, cfg.max_iter):
            ctx.check()
            h = self.encode(x).cpu().numpy()
            # Start from the previous centroids so that cluster ids stay stable across
            # iterations, which the page's colours and the change rate rely on.
            if prev_centroids is None:
                km = KMeans(cfg.n_clusters, n_init=20, random_state=cfg.seed).fit(h)
            else:
                km = KMeans(cfg.n_clusters, init=prev_centroids, n_init=1).fit(h)
            labels, centroids = km.labels_, km.cluster_centers_
            s_w = within_class_scatter(h, labels, centroids)
            eigvals, V = eigen_directions(s_w)
            # the share of points that changed cluster since the last re-clustering; the first
            # k-means has nothing before it, so it has none (not 1.0, which read as "all moved")
            changed = None if prev_labels is None else float(np.mean(labels != prev_labels))
            if changed is not None:
                changes.append(changed)
            self.V = torch.as_tensor(V, dtype=torch.float32)
            self.centroids = torch.as_tensor(centroids, dtype=torch.float32)
            stop = changed is not None and it >= cfg.min_iter and changed < cfg.tol
            last = stop or it == cfg.max_iter - 1

            # Eq. 6 on `batches_per_iter` mini-batches, with targets fixed at re-clustering time.
            V_t = self.V.to(self.device)
            y_all = torch.as_tensor(h, device=self.device) @ V_t.T
            target_all = greedy_target(y_all, self.centroids.to(self.device) @ V_t.T,
                                       torch.as_tensor(labels, device=self.device))
            self.ae.train()
            total_loss = 0.0
            for _ in range(self.batches_per_iter):
                ctx.check()
                idx = stream.next()
                # The run's answer is this iteration's clustering, so after the last one the
                # encoder is left as it was: the checkpoint then labels points as it did.
                with torch.set_grad_enabled(not last):
                    y = self.ae.encode(x[idx]) @ V_t.T
                    loss = greedy_loss(y, target_all[idx])
                if not last:
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                total_loss += loss.item()
            self.ae.eval()

            sub = ctx.subsample
            y_sub = h[sub] @ V.T
            # never backwards: a forecast that grows holds the bar until the work catches up
            progress = max(progress, (pre + it_cost * (it + 1)) / planned())
            ctx.at("cluster", iteration=it, stop=bool(stop), labels=torch.from_numpy(labels),
                   centroids=torch.from_numpy(centroids), batches=stream.state(),
                   changes=list(changes), progress=progress, replayed=self.pretrain_replayed)
            # epochs count on from pretraining's (iteration 0, the first k-means, is at the
            # last pretraining epoch, as DCN's k-means init), so a run's epochs never go back
            yield self.make_snapshot(
                data, ctx, epoch=step + it, step=step + it, stage="clustering", labels=labels,
                latent_sub=h[sub],
                losses={"greedy (Eq. 6)": total_loss / self.batches_per_iter,
                        "k-means (Eq. 2)": float(km.inertia_ / len(h))},
                metrics={} if changed is None else {"changed": changed},
                extras={"eigenvalues": eigvals.astype(np.float32), "V": V.astype(np.float32),
                        "centroids": centroids.astype(np.float32), "Y": y_sub.astype(np.float32),
                        "axes": y_sub[:, [0, -1]].astype(np.float32), "axes_names": AXES_NAMES,
                        "iteration": it},
                progress=1.0 if last else min(progress, 0.999))
            if stop:
                break
            prev_labels, prev_centroids = labels, centroids

    def transform(self, x) -> np.ndarray:
        """Y = V h: the eigen-coordinates, the last one with the least cluster structure."""
        return self.embed(x) @ self.V.numpy().T

    def predict(self, x):
        h = torch.as_tensor(self.embed(x))
        return torch.cdist(h, self.centroids).argmin(1).numpy()

    def predict_proba(self, x):
        """Not a probability model: a softmax of negative squared distances, for confidence."""
        h = torch.as_tensor(self.embed(x))
        return torch.softmax(-torch.cdist(h, self.centroids) ** 2, dim=1).numpy()

    def state_dict(self):
        return {**self.ae_state(), "V": self.V, "centroids": self.centroids}

    def load_state_dict(self, d):
        self.ae.load_state_dict(d["ae"])
        self.V, self.centroids = d["V"].float(), d["centroids"].float()

