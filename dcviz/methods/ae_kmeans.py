"""AE + k-means: pretrain an autoencoder, then run k-means in its latent space.

The baseline every deep clustering method is measured against: the representation is learned
without any clustering signal, and clustering happens once, after.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans
from torch import nn

from dcviz.methods.base import BaseConfig, Extras, Method, Snapshot, param, register
from dcviz.nets import (encode_all, make_autoencoder, pretrain_autoencoder, resolve_arch,
                        resolve_precision)
from dcviz.nets.autoencoders import pretrain_optimizer
from dcviz.pretrained import (PRETRAINED_MODES, PretrainKey, Trained, autoencoder_arch, capture_rng,
                              data_fingerprint, forward_flops, keep_frames, map_yields,
                              pretrain_through_store, restore_rng, rng_fingerprint)


@dataclass
class AEConfig(BaseConfig):
    """Autoencoder settings shared by the AE-based methods (DEKM, DEC/IDEC, DCN, DCRL...)."""

    latent_dim: int = param(10, "Size of the embedding; 0 means the number of clusters k.",
                            min=0, max=256, step=1)
    arch: str = param("auto", "Autoencoder: conv for images of 16x16 and larger, MLP otherwise.",
                      choices=["auto", "mlp", "conv"], advanced=True)
    pretrain_epochs: int = param(200, "Epochs of reconstruction-only pretraining.", min=0, max=2000, step=10)
    pretrain_batch_size: int = param(256, "Mini-batch size of the pretraining.", min=2, max=8192,
                                     step=32)
    batch_size: int = param(256, "Mini-batch size of the clustering phase.", min=2, max=8192, step=32)
    pretrain_optimizer: str = param("adam", "Optimiser of pretraining: Adam, or SGD with "
                                    "momentum 0.9 (DEC's).", choices=["adam", "sgd"],
                                    advanced=True)
    lr: float = param(1e-3, "Learning rate of pretraining.", min=1e-6, max=10.0, log=True)
    lr_schedule: str = param("constant", "Learning rate over the pretraining: constant, or a "
                             "cosine decay from lr to 0 at its end.", choices=["constant", "cosine"],
                             advanced=True)
    pretrain_dropout: float = param(0.0, "DEC's denoising corruption: the share of input values "
                                    "zeroed in every pretraining batch (0: none).", min=0.0,
                                    max=0.9, step=0.05, advanced=True)
    ae_init: str = param("torch", "Initial weights of the autoencoder: PyTorch's default "
                         "(Kaiming-uniform) or Xavier-uniform with zero biases (DEKM's paper).",
                         choices=["torch", "xavier"], advanced=True)
    snapshot_every: int = param(5, "During pretraining, hand the page a snapshot every this many "
                                "epochs.", min=1, max=100, step=1, advanced=True)
    pretrained: str = param("reuse", "Pretrained autoencoder store: reuse an AE pretrained with "
                            "this data, net, recipe and seed if there is one (else train and keep "
                            "it); refresh: train and replace it; off: train, keep nothing.",
                            choices=list(PRETRAINED_MODES))
    pretrain_precision: str = param("fp32", "Pretraining arithmetic: bf16 runs the forward pass "
                                    "in bfloat16 (weights stay fp32), ~1.9x faster on CPUs with "
                                    "AVX-512 BF16 or AMX and on recent GPUs; auto picks bf16 "
                                    "where the device has such fast bf16, else fp32.",
                                    choices=["fp32", "bf16", "auto"], advanced=True)

    def latent_size(self, input_dim: int | None = None, image_shape=None) -> int:
        return self.latent_dim or self.n_clusters

    @classmethod
    def offers_arch(cls, arch: str) -> bool:
        """Whether the ``arch`` field offers ``arch`` (arch="auto" picks only what is offered)."""
        field = next(f for f in dataclasses.fields(cls) if f.name == "arch")
        return arch in (field.metadata.get("choices") or ())


# One pretraining recipe for the quick presets of every AE method, so that AE + k-means, DCN,
# DEKM and ACe/DeC on one data set start from ONE pretrained autoencoder (the store's key is the
# same), as the papers compare methods: ACe/DeC's Table 1 runs every method on the same ten AEs.
# The data kind picks the net (arch="auto": MLP d-500-500-2000-10 for vectors and small images,
# the conv AE for images of 16x16 and more); the recipe is the same for both. 20 epochs of
# batches of 64 give ~560 Adam steps on the digits, enough for a clustering-ready AE there, in a
# fraction of the time the earlier per-method recipes took (DEKM: 100 epochs of 256).
QUICK_PRETRAIN = {"pretrain_epochs": 20, "pretrain_batch_size": 64, "lr": 1e-3, "ae_init": "torch"}
# DEC, IDEC and DCRL pretrain a denoising AE (Gaussian input noise), a recipe of its own that the
# three share; ACe/DeC's augmentation mode (augmented views) is a third.
QUICK_DENOISING = {**QUICK_PRETRAIN, "noise": 0.2}

# The `paper` presets' one recipe, for MNIST-like data: the MLP d-500-500-2000-10 of DEC, IDEC,
# DCN and ACe/DeC, pretrained as DEC does (and ACe/DeC, whose Table 1 runs every method on AEs
# pretrained "according to the procedure in [DEC]"): SGD with momentum 0.9, batches of 256,
# DEC's corruption (input dropout 0.2), PyTorch's default init (the VarianceScaling(1/3, fan_in)
# that DEC-keras uses on MNIST, with small random biases). DEC's own schedule (50,000 steps per
# layer, greedy, then 100,000 end to end) is ~150,000 steps; here 300 epochs end to end, 12,000
# steps on the MNIST test split. The rate 2.6 is pt-dec's 0.1 on pixels x 0.02 (DEC's input
# scale, 0..5.1) carried over to pixels in [0, 1] (0.1 x 5.1^2 under the mean squared error).
# Measured on the MNIST test split (seed 0, bf16, AE + k-means NMI after 50 / 100 / 150 epochs):
# Adam 1e-3 with Xavier init (IDEC, DEKM) 0.60 / 0.64 / 0.63, no better by 175; the same with
# input dropout 0.2 0.63 at 50 and at 75; DEC's greedy layer-wise DAE stage (50 epochs a
# layer, Adam) then Adam end to end 0.64 / 0.61 (75); SGD 1.0 (DEC-keras) 0.53 / 0.61 / 0.62;
# SGD 0.1 on pixels x 0.02 with dropout 0.2 (pt-dec) 0.55 / 0.68 / 0.70; SGD 6.0 collapses
# (NMI 0.05 at 25); this recipe 0.66 / 0.69 / 0.71, and a cosine decay to 0 over 200 epochs
# 0.705 at its end (no gain). From this recipe's epoch 150 (NMI 0.713), DEC's second phase
# (no dropout, the rate divided by 10 at 150 and 225 epochs) ends at 0.708 after 300, and the
# same steps with dropout kept at 0.717: the plateau is not the schedule's. DEC's greedy stage
# with SGD as DEC runs it (50 epochs a layer, dropout 0.2 on each pair's input and hidden), then
# end to end without dropout: 0.25 after the layers, 0.65 after 150 epochs (0.61 at a rate of 1.0);
# input dropout 0.3 / 0.5 instead of 0.2: 0.67 / 0.67 after 150; dropout 0.2 on every layer's
# input, the code's included: 0.42 (0.53 without the code's); pixels z-normalised as a whole
# (the ACe/DeC authors' scripts) at a rate of 0.25: 0.66 / 0.69 / 0.70; Gaussian noise of std
# 0.2 instead of dropout (the quick denoising recipe): 0.65 / 0.67 / 0.68 (seed 0, 50 / 100 /
# 150 epochs); cross-entropy on a sigmoid output at SGD 1.0 (5.0 diverges): 0.67 / 0.67 / 0.69,
# 0.68 at 225; leaky ReLUs (slope 0.01, ClustPy's default): 0.65 / 0.68 / 0.69, 0.69 at 300;
# this recipe run on to 600 epochs (a quarter of DEC's 100,000 end-to-end steps on this split):
# 0.695 / 0.715 / 0.713 / 0.705 / 0.704 / 0.705 at 100 / 200 / ... / 600 (seed 0, 2026-12-01);
# input dropout 0.1 / 0.15: 0.687 / 0.689 at 100, 0.699 / 0.702 at 200, 0.699 / 0.676 at 300.
# After the 300 epochs, seeds 0 / 1 / 2: NMI 0.704 / 0.692 / 0.703 (median 0.703,
# short of the paper's 0.79; ~150 epochs already give about as much), 450 / 453 / 477 CPU-s on
# one thread in bf16.
# Mixed precision where the device has fast bf16 ("auto"; bench/pretrain.py): seed 0 in fp32
# took 835 CPU-s (1.86x) and ended at NMI 0.678 (bf16 0.704): its curve follows bf16's within
# 0.005 for 100 epochs, then drifts 0.01-0.03 below, about the spread between seeds. Seeds 0 /
# 1 / 2 in fp32 (bench/mnist.py --methods ae-kmeans --set pretrain_precision=fp32): 0.678 /
# 0.694 / 0.680, median 0.680 against bf16's 0.703 (0.704 / 0.692 / 0.703): bf16 is ahead on
# seeds 0 and 2 and 0.002 behind on seed 1, so the two do not agree within 0.01 after 300 epochs.
PAPER_PRETRAIN = {"arch": "mlp", "latent_dim": 10, "pretrain_epochs": 300,
                  "pretrain_batch_size": 256, "pretrain_optimizer": "sgd", "lr": 2.6,
                  "lr_schedule": "constant", "pretrain_dropout": 0.2, "ae_init": "torch",
                  "pretrain_precision": "auto"}


class AEMethod(Method):
    """The base of every autoencoder method (AE + k-means, DEC, IDEC, DCRL, DCN, DEKM, ACe/DeC).

    - :meth:`build` is the one build: the architecture (arch="auto" by
      :func:`dcviz.nets.resolve_arch`), the latent size, and the autoencoder from
      :meth:`make_autoencoder`; a subclass adds its own state after ``super().build``.
    - :meth:`pretrain` is the one pretraining entry point: every AE method's ``fit`` starts with
      ``yield from self.pretrain(...)``. It is the seam the pretrained-AE store wraps.
    """

    Config = AEConfig

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        cfg = self.config
        self.arch = resolve_arch(cfg.arch, self.input_dim, self.image_shape,
                                 offers_linear=cfg.offers_arch("linear"))
        self.latent_dim = cfg.latent_size(self.input_dim, self.image_shape)
        self.ae = self.make_autoencoder()
        if cfg.ae_init == "xavier":
            for m in self.ae.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)
        self.ae = self.ae.to(self.device).eval()

    def make_autoencoder(self) -> nn.Module:
        """The autoencoder for ``self.arch`` and ``self.latent_dim`` (the build hook)."""
        return make_autoencoder(self.input_dim, self.image_shape, self.latent_dim, self.arch)

    def pretrain_scores(self, data, ctx, latent_sub: np.ndarray,
                        labels_sub: np.ndarray) -> tuple[dict, dict]:
        """(metrics, extras) a pretraining snapshot adds to its k-means labels; none here."""
        return {}, {}

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.ae.eval()
        return encode_all(self.ae.encode, x)

    def embed(self, x):
        return self.encode(self.tensor(x)).cpu().numpy()

    def pretrain_recipe(self) -> dict:
        """The pretraining recipe of this config, as the store's key holds it: epochs, batch,
        optimiser and rate, loss, denoising noise, augmentation, precision and initialisation.
        A method whose pretraining differs (a denoising AE, augmented views) overrides
        :meth:`pretrain_noise` or :meth:`pretrain_augment`; nothing else. The page asks for it
        (through :meth:`pretrain_key`) before a run exists."""
        cfg = self.config
        augment_name, _ = self.pretrain_augment(None)
        return {"epochs": cfg.pretrain_epochs, "batch_size": cfg.pretrain_batch_size,
                "optimizer": cfg.pretrain_optimizer, "lr": cfg.lr, "lr_schedule": cfg.lr_schedule, "loss": "mse",
                "noise": float(self.pretrain_noise()), "dropout": float(cfg.pretrain_dropout),
                "augment": augment_name, "precision": self.pretrain_precision(),
                "init": cfg.ae_init}

    def pretrain_precision(self) -> str:
        """fp32 or bf16: the config's, with "auto" decided by this run's device."""
        return resolve_precision(self.config.pretrain_precision, self.device)

    def pretrain_noise(self) -> float:
        """Std of the Gaussian input noise of a denoising pretraining; 0: a plain AE."""
        return 0.0

    def pretrain_augment(self, ctx) -> tuple[str, object]:
        """(name, function) of the augmentation the AE is pretrained on: the function maps a
        batch to a random view of it, drawing from ``ctx``'s generator (None: no augmentation;
        ``ctx`` is None when only the name is asked for)."""
        return "none", None

    def pretrain(self, data, ctx, x: torch.Tensor, *, total_epochs: int):
        """Pretrain the AE on reconstruction, yielding a snapshot (k-means on the current latent,
        plus :meth:`pretrain_scores`) at the untrained start, every ``snapshot_every`` epochs and
        at the end; snapshot epochs count the epochs done. The recipe is
        :meth:`pretrain_recipe` (denoising noise and augmentation from the method's hooks);
        ``total_epochs`` is the whole run's length, for progress.

        Through the pretrained-AE store (``config.pretrained``, :mod:`dcviz.pretrained`): an AE
        already pretrained with this data, net, initial weights, recipe and seed is loaded with
        the generator states its pretraining ended with, and its snapshots are shown again, so
        the run goes on exactly as the run that made it did. ``self.pretrained_record`` then says
        which entry the run started from and whether it was a hit.

        A resumed run (``ctx.resume``) skips pretraining if it ended before the checkpoint, and
        otherwise goes on from the checkpoint's epoch, outside the store (an entry is made by
        one pretraining from start to end, and the run's config already says which).
        """
        cfg = self.config
        self.pretrained_record, self.pretrain_replayed = None, False
        if cfg.pretrain_epochs <= 0:
            return
        if ctx.resume_phase not in (None, "pretrain"):
            # pretraining ended before the checkpoint; the position says if it was replayed
            self.pretrain_replayed = bool(ctx.resume["position"].get("replayed", False))
            return
            return
        noise = self.pretrain_noise()
        augment_name, augment = self.pretrain_augment(ctx)
        if (augment is None) != (augment_name == "none"):
            raise ValueError("an augmented pretraining needs a name for the store's key")

        def frame(epoch: int, stage: str, loss: float) -> Snapshot:
            # Over ALL points, as the store keeps it: a run cuts its own subsample out.
            h = self.encode(x).cpu().numpy()
            labels = KMeans(cfg.n_clusters, n_init=3, random_state=cfg.seed).fit_predict(h)
            return Snapshot(epoch=epoch, step=epoch, stage=stage, latent=h, assign=labels,
                            losses={"reconstruction": loss}, extras={"k": cfg.n_clusters})

        def train():
            opt = pretrain_optimizer(self.ae, cfg.lr, x.device, cfg.pretrain_optimizer)
            resumed = ctx.resume_point("pretrain", pretrain=opt)
            if resumed is None:
                # The untrained encoder first ("epoch 0"): where the data starts from, and a
                # first picture on the page within a moment of Launch instead of after an epoch.
                with torch.no_grad():
                    self.ae.eval()
                    rec = float(torch.nn.functional.mse_loss(encode_all(self.ae, x), x))
                ctx.at("pretrain", epoch=0)
                yield frame(0, "random init", rec)
            losses = []
            for epoch, loss in pretrain_autoencoder(self.ae, x, epochs=cfg.pretrain_epochs,
                                                    batch_size=cfg.pretrain_batch_size, lr=cfg.lr,
                                                    ctx=ctx, noise=noise,
                                                    dropout=cfg.pretrain_dropout, augment=augment,
                                                    precision=self.pretrain_precision(),
                                                    lr_schedule=cfg.lr_schedule, optimizer=opt,
                                                    start_epoch=resumed["epoch"] if resumed else 0):
                losses.append(loss)
                done = epoch + 1  # snapshots are numbered by epochs done
                if done % cfg.snapshot_every == 0 or done == cfg.pretrain_epochs:
                    ctx.at("pretrain", epoch=done)
                    yield frame(done, "pretrain", loss)
            return Trained(weights=self.ae.state_dict(), rng=capture_rng(ctx.generator, ctx.rng),
                           losses=losses, flops=self.pretrain_flops(len(x)),
                           about={"data": str(data.name), "method": self.id})

        def restore(entry):
            self.pretrain_replayed = True  # no work: its snapshots add no progress
            self.ae.load_state_dict(entry.weights)
            self.ae.eval()
            restore_rng(entry.rng, ctx.generator, ctx.rng)
            return keep_frames(entry.snapshots, cfg.snapshot_every)

        sub = ctx.subsample if ctx.subsample is not None else slice(None)

        def to_run_snapshot(f: Snapshot) -> Snapshot:
            ctx.check()  # a run paused while this snapshot was made hands it over on resume
            labels = f.assign
            if int(f.extras.get("k", cfg.n_clusters)) != cfg.n_clusters:  # made by a run with another k
                labels = KMeans(cfg.n_clusters, n_init=3, random_state=cfg.seed).fit_predict(f.latent)
            metrics, extras = self.pretrain_scores(data, ctx, f.latent[sub], labels[sub])
            return self.make_snapshot(data, ctx, epoch=f.epoch, step=f.step, stage=f.stage,
                                      labels=labels, latent_sub=f.latent[sub], losses=f.losses,
                                      metrics=metrics, extras=extras,
                                      progress=0.0 if self.pretrain_replayed else f.epoch / total_epochs)

        mode = "off" if ctx.resume_phase == "pretrain" else cfg.pretrained
        key = self.pretrain_key(data, ctx) if mode != "off" else None
        self.pretrained_record = yield from map_yields(
            pretrain_through_store(mode, key, train, restore, check=ctx.check),
            to_run_snapshot)

    def pretrain_key(self, data, ctx, fingerprint: dict | None = None) -> PretrainKey:
        """The store's key of this run's pretraining: the data, the net with its initial weights,
        the recipe (:meth:`pretrain_recipe`), and where ctx's generators stand. Call it before
        pretraining starts (for a lookup: right after ``build``, with a fresh Context of the
        run's seed; ``fingerprint`` saves hashing the data again)."""
        cfg = self.config
        return PretrainKey.make(
            data=fingerprint or data_fingerprint(data.x, data.image_shape),
            arch=autoencoder_arch(self.ae),
            recipe={**self.pretrain_recipe(), "device": self.device.type,
                    "rng_start": rng_fingerprint(ctx.generator, ctx.rng)},
            seed=cfg.seed)

    def pretrain_flops(self, n: int) -> float:
        """Floating-point operations of this config's pretraining on ``n`` points: three forward
        passes' worth per point and epoch (forward + backward), for time estimates."""
        return 3.0 * forward_flops(self.ae, self.input_dim) * n * self.config.pretrain_epochs

    def ae_state(self) -> dict:
        return {"ae": self.ae.state_dict()}


@dataclass
class AEKMeansConfig(AEConfig):
    unused: ClassVar[tuple[str, ...]] = ("batch_size",)  # no clustering phase to batch
    presets: ClassVar[dict] = {"quick": dict(QUICK_PRETRAIN), "paper": dict(PAPER_PRETRAIN)}


@dataclass
class AEKMeansExtras(Extras):
    centroids: np.ndarray | None = None  # k-means in the pretrained embedding (k, d), at the end


@register
class AEKMeans(AEMethod):
    Config = AEKMeansConfig
    Extras = AEKMeansExtras
    id = "ae-kmeans"
    estimator = "AEKMeans"
    title = "AE + k-means"
    paper = "Baseline: an autoencoder, then k-means on its embedding"
    summary = "Learn a representation by reconstruction alone, then cluster it once with k-means."
    # the baseline of every image table in the AE methods' papers
    suits = ("digits", "mnist", "fashion-mnist", "usps")
    quick_time = "15 s"

    resumable = True  # all its training is the shared pretraining, which resumes

    def build(self, input_dim, image_shape):
        super().build(input_dim, image_shape)
        # centroids from the start, so that a checkpoint taken during pretraining saves (and a
        # run killed there resumes there); the k-means at the end sets them
        self.centroids = torch.zeros(self.config.n_clusters, self.latent_dim)

    def fit(self, data, ctx):
        cfg = self.config
        x = self.tensor(data.x)
        total = cfg.pretrain_epochs + 1
        yield from self.pretrain(data, ctx, x, total_epochs=total)
        ctx.resume_point("k-means")  # nothing to carry over: pretraining's Adam is dropped
        h = self.encode(x).cpu().numpy()
        km = KMeans(cfg.n_clusters, n_init=10, random_state=cfg.seed).fit(h)
        self.centroids = torch.as_tensor(km.cluster_centers_, dtype=torch.float32)
        labels = km.labels_
        yield self.make_snapshot(data, ctx, epoch=cfg.pretrain_epochs, step=cfg.pretrain_epochs,
                                 stage="k-means", labels=labels, latent_sub=h[ctx.subsample],
                                 losses={"kmeans": float(km.inertia_ / len(h))},
                                 extras={"centroids": km.cluster_centers_}, progress=1.0)

    def predict(self, x):
        h = self.encode(self.tensor(x)).cpu()
        return torch.cdist(h, self.centroids).argmin(1).numpy()

    def state_dict(self):
        return {**self.ae_state(), "centroids": self.centroids}

    def load_state_dict(self, d):
        self.ae.load_state_dict(d["ae"])
        self.centroids = d["centroids"].float()

