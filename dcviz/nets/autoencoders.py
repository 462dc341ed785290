"""The autoencoders of the AE methods (MLP, conv, linear), the one arch="auto" rule, and their
reconstruction pretraining."""
from __future__ import annotations

import math
from typing import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from dcviz.nets.common import batches, encode_all


def mlp(sizes: Sequence[int], act=nn.ReLU, last_act: bool = False) -> nn.Sequential:
    """Linear layers with ``act`` between them (and after the last one if ``last_act``)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


class MLPAutoencoder(nn.Module):
    """The fully connected AE of DEC/DCN/DEKM/DCRL: d-500-500-2000-latent and its mirror."""

    def __init__(self, input_dim: int, latent_dim: int, hidden: Sequence[int] = (500, 500, 2000),
                 sigmoid_output: bool = False):
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.encoder = mlp([input_dim, *hidden, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(hidden), input_dim])
        self.sigmoid_output = sigmoid_output

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encoder_parameters(self):
        return list(self.encoder.parameters())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z)
        return torch.sigmoid(out) if self.sigmoid_output else out

    def forward(self, x):
        return self.decode(self.encode(x))


class ConvAutoencoder(nn.Module):
    """The conv AE of DEC-style image clustering (DEKM's image sets): conv 32, 64, 128 with
    kernels 5, 5, 3, stride 2, then a dense embedding; the decoder mirrors it.

    Works for any (C, H, W): each transposed conv is told the exact size to give back.
    Inputs and outputs are flat (N, C*H*W), like every Dataset's ``x``.
    """

    def __init__(self, image_shape: Sequence[int], latent_dim: int,
                 channels: Sequence[int] = (32, 64, 128), kernels: Sequence[int] = (5, 5, 3)):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (c, h, w)
        self.input_dim, self.latent_dim = c * h * w, latent_dim
        self.sizes = [(h, w)]
        enc, prev = [], c
        for ch, k in zip(channels, kernels):
            enc.append(nn.Conv2d(prev, ch, k, stride=2, padding=k // 2))
            prev = ch
            h, w = (h + 2 * (k // 2) - k) // 2 + 1, (w + 2 * (k // 2) - k) // 2 + 1
            self.sizes.append((h, w))
        self.convs = nn.ModuleList(enc)
        flat = prev * h * w
        self.to_latent = nn.Linear(flat, latent_dim)
        self.from_latent = nn.Linear(latent_dim, flat)
        dec = []
        rev_ch = list(reversed(channels))
        for i, k in enumerate(reversed(kernels)):
            out_ch = rev_ch[i + 1] if i + 1 < len(rev_ch) else c
            dec.append(nn.ConvTranspose2d(rev_ch[i], out_ch, k, stride=2, padding=k // 2))
        self.deconvs = nn.ModuleList(dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, *self.image_shape)
        for conv in self.convs:
            h = F.relu(conv(h))
        return self.to_latent(h.flatten(1))

    def encoder_parameters(self):
        return [*self.convs.parameters(), *self.to_latent.parameters()]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h0, w0 = self.sizes[-1]
        h = F.relu(self.from_latent(z)).view(-1, self.convs[-1].out_channels, h0, w0)
        targets = list(reversed(self.sizes[:-1]))
        for i, (deconv, size) in enumerate(zip(self.deconvs, targets)):
            h = deconv(h, output_size=list(size))
            if i < len(self.deconvs) - 1:
                h = F.relu(h)
        return h.flatten(1)

    def forward(self, x):
        return self.decode(self.encode(x))


class LinearAutoencoder(nn.Module):
    """A single linear layer each way: the AE of ACe/DeC's synthetic experiments (d = D there)."""

    def __init__(self, input_dim: int, latent_dim: int):
        super().__init__()
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.encoder = nn.Linear(input_dim, latent_dim)
        self.decoder = nn.Linear(latent_dim, input_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def encoder_parameters(self):
        return self.encoder.parameters()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))


#: vectors of at most this many features get the linear AE under arch="auto", where offered
LINEAR_AUTO_MAX_DIM = 32


def resolve_arch(arch: str, input_dim: int, image_shape, offers_linear: bool = False) -> str:
    """The one "auto" rule of the autoencoders: conv for images of 16x16 and more; for vectors of
    at most 32 features the linear AE, where the method offers one (ACe/DeC's synthetic
    setting); the MLP otherwise. Any other ``arch`` is returned as it is."""
    if arch != "auto":
        return arch
    if image_shape is not None and min(image_shape[1:]) >= 16:
        return "conv"
    if offers_linear and image_shape is None and input_dim <= LINEAR_AUTO_MAX_DIM:
        return "linear"
    return "mlp"


def make_autoencoder(input_dim: int, image_shape, latent_dim: int, arch: str = "auto",
                     hidden: Sequence[int] = (500, 500, 2000)) -> nn.Module:
    """``arch``: "mlp", "conv", "linear", or "auto" (see :func:`resolve_arch`)."""
    arch = resolve_arch(arch, input_dim, image_shape)
    if arch == "conv":
        if image_shape is None:
            raise ValueError("arch='conv' needs image data; this data set is vectors")
        return ConvAutoencoder(image_shape, latent_dim)
    if arch == "linear":
        return LinearAutoencoder(input_dim, latent_dim)
    return MLPAutoencoder(input_dim, latent_dim, hidden)


#: momentum of the SGD pretraining: DEC's (and DEC-keras's on MNIST)
SGD_MOMENTUM = 0.9


def pretrain_optimizer(ae: nn.Module, lr: float, device, name: str = "adam") -> torch.optim.Optimizer:
    """The optimiser of :func:`pretrain_autoencoder`: Adam, or SGD with momentum 0.9 (``name``)."""
    # Fused kernels: one pass over all parameters instead of a chain of elementwise ops per
    # tensor. On one CPU thread the unfused Adam step of the d-500-500-2000-10 AE cost ~12 ms of
    # processor time a batch (~3 ms fused), a fifth of the batch's forward and backward.
    fused = torch.device(device).type in ("cpu", "cuda")
    if name == "sgd":
        return torch.optim.SGD(ae.parameters(), lr=lr, momentum=SGD_MOMENTUM, fused=fused)
    if name != "adam":
        raise ValueError(f"the pretraining optimiser is adam or sgd, got {name!r}")
    return torch.optim.Adam(ae.parameters(), lr=lr, fused=fused)


def fast_bf16(device) -> bool:
    """Whether ``device`` multiplies bf16 matrices faster than fp32: a CUDA GPU with native bf16
    (Ampere and later), or a CPU with AVX-512 BF16 or AMX (read from /proc/cpuinfo; elsewhere
    False). Without such hardware, bf16 autocast is emulated and slower than fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device) -> str:
    """"auto" is bf16 where :func:`fast_bf16`, else fp32; "fp32" and "bf16" stay as they are."""
    if precision == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    return precision


#: learning-rate schedules of :func:`pretrain_autoencoder`, as a factor of the starting rate at
#: a point ``t`` in [0, 1) of the whole pretraining
LR_SCHEDULES = {
    "constant": lambda t: 1.0,
    # half a cosine period down to 0 at the end (Loshchilov & Hutter's SGDR without restarts)
    "cosine": lambda t: 0.5 * (1.0 + math.cos(math.pi * t)),
}


def pretrain_autoencoder(ae: nn.Module, x: torch.Tensor, *, epochs: int, batch_size: int, lr: float,
                         ctx, noise: float = 0.0, dropout: float = 0.0,
                         augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                         precision: str = "fp32", lr_schedule: str = "constant",
                         optimizer: torch.optim.Optimizer | None = None,
                         start_epoch: int = 0) -> Iterator[tuple[int, float]]:
    """Train ``ae`` on MSE reconstruction; yields (epoch, mean loss) after each epoch. The
    optimiser is ``optimizer``, else Adam at ``lr``.

    ``noise`` > 0 makes it a denoising AE (Gaussian corruption of the input, as DCRL pretrains);
    ``dropout`` > 0 too, with DEC's corruption: each input value is zeroed with that probability
    (and the rest scaled by 1 / (1 - dropout), as a dropout layer does).
    ``augment`` maps a batch to a random view of it, which is then both input and target: the AE
    learns the augmented data (ACe/DeC's augmentation mode pretrains this way in the authors' code).
    ``precision="bf16"`` runs the forward pass under bf16 autocast (mixed precision: the weights,
    gradients and Adam state stay fp32), about 2x the matmul rate on CPUs with AVX-512 BF16 or AMX.
    ``lr_schedule`` (a name in :data:`LR_SCHEDULES`) sets the rate of every step from how far the
    whole pretraining has got, so a resumed run continues the same schedule.
    ``optimizer`` (from :func:`pretrain_optimizer`) and ``start_epoch`` let a resumed run go on
    with the Adam state it had after ``start_epoch`` epochs.
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {lr_schedule!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    opt = optimizer if optimizer is not None else pretrain_optimizer(ae, lr, x.device)
    factor = LR_SCHEDULES[lr_schedule]
    n = len(x)
    steps = -(-n // batch_size)  # per epoch
    for epoch in range(start_epoch, epochs):
        ae.train()
        total = 0.0
        for i, idx in enumerate(batches(n, batch_size, ctx.generator, x.device)):
            ctx.check()
            for group in opt.param_groups:
                group["lr"] = lr * factor((epoch * steps + i) / (epochs * steps))
            xb = x[idx] if augment is None else augment(x[idx])
            inp = xb + noise * torch.randn(xb.shape, generator=ctx.generator).to(xb.device) if noise > 0 else xb
            if dropout > 0:
                keep = torch.rand(xb.shape, generator=ctx.generator).to(xb.device) >= dropout
                inp = inp * keep / (1.0 - dropout)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                out = ae(inp)
            loss = F.mse_loss(out.float(), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        ae.eval()
        yield epoch, total / n
