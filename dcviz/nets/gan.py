"""The three networks of the GAN clustering framework (Gan et al., "Learning the Precise Feature for
Cluster Assignment"): a generator G(one-hot id, noise), a critic D and a separate classifier C.

Two families, as in the paper:

* fully connected, for vector data (section IV-B, the synthetic experiment):
  G is ``x-512-512-512-D``, D is ``D-512-512-512-1``, C is ``D-512-512-512-k``, ReLU in the hidden
  layers, no activation on the outputs of G and D (C's softmax lives in the loss);
* DCGAN-like convolutional nets for images (Fig. 2, inherited from WGAN-GP's MNIST nets):
  G: Linear to 4x4x(4w), ReLU, then 5x5 stride-2 transposed convs to 2w and w channels (ReLU) and
  a last one to the image channels with a sigmoid; D: 5x5 stride-2 convs at w, 2w, 4w channels with
  LeakyReLU(0.2), then a linear output; C has D's body and k logits. No batch norm anywhere: the
  gradient penalty is per sample, and batch norm would couple the samples of a batch.

The paper adapts the conv stack to each image size: for 28x28 it crops the first transposed conv's
8x8 output to 7x7; for 32x32 every layer has stride 2 (4 -> 8 -> 16 -> 32); for 16x16 (USPS) the
last transposed conv of G and the first conv of D and C have stride 1; for 64x64 one more layer is
appended. :func:`conv_plan` writes that rule down once, so 8x8 (sklearn digits) gets the USPS
stack one size down (G: 2 -> 4 -> 8 -> 8, the last transposed conv at stride 1) and any size from
4x4 up gets a plan: each stride-2 layer halves the size (rounding up), and a transposed conv is given the exact size to return, which for 28x28 is the same
as the authors' crop (output padding only adds a last row and column).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

KERNEL = 5  # "all the convolutional or deconvolutional layers adopt a 5x5 kernel size" (Fig. 2)


def conv_plan(height: int, width: int, min_layers: int = 3) -> tuple[list[tuple[int, int]], list[int]]:
    """Spatial sizes and strides of the critic/classifier body for an ``height`` x ``width`` image.

    Returns ``(sizes, strides)``: ``sizes[0]`` is the input size and ``sizes[i + 1]`` the size after
    conv ``i``; the generator walks the same list backwards. Stride-1 layers come first in D
    (last in G), as the paper does for USPS.
    """
    if height < 4 or width < 4:
        raise ValueError(f"the conv GAN needs images of at least 4x4; got {height}x{width}")
    # Halve down to 4x4 (the paper's 28, 32 and 16 pixel stacks), or to a quarter of the side for
    # images under 16 pixels, so that 8x8 digits keep two stride-2 layers (8 -> 8 -> 4 -> 2).
    stop = max(2, min(4, min(height, width) // 4))
    halvings, h, w = 0, height, width
    while h > stop or w > stop:
        h, w = -(-h // 2), -(-w // 2)
        halvings += 1
    n_layers = max(min_layers, halvings)
    strides = [1] * (n_layers - halvings) + [2] * halvings
    sizes = [(height, width)]
    for s in strides:
        ph, pw = sizes[-1]
        sizes.append((ph, pw) if s == 1 else (-(-ph // 2), -(-pw // 2)))
    return sizes, strides


def _layer_channels(width: int, n_layers: int) -> list[int]:
    """Channels after each conv of D: w, 2w, 4w (and 8w for a fourth layer, as for 64x64)."""
    return [width * 2 ** i for i in range(n_layers)]


# --------------------------------------------------------------------------- fully connected

def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """G: [one-hot id ; noise] -> x-512-512-512-D, linear output (section IV-B); a sigmoid output
    when it draws images (pixels in [0, 1], like the conv G)."""

    def __init__(self, n_clusters: int, n_noise: int, out_dim: int, hidden: Sequence[int],
                 sigmoid: bool = False):
        super().__init__()
        self.n_clusters, self.n_noise, self.out_dim = n_clusters, n_noise, out_dim
        self.net = _mlp([n_clusters + n_noise, *hidden, out_dim])
        self.sigmoid = sigmoid

    def forward(self, onehot: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        out = self.net(torch.cat([onehot, z], 1))
        return torch.sigmoid(out) if self.sigmoid else out


class MLPBody(nn.Module):
    """D or C for vectors: D-512-512-512-out (out = 1 for the critic, k logits for the classifier).

    ``features`` is the last hidden layer, for views of what C has learned.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int]):
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in zip([in_dim, *hidden[:-1]], hidden):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(hidden[-1] if len(hidden) else in_dim, out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# --------------------------------------------------------------------------- convolutional

class ConvGenerator(nn.Module):
    """G for images: Linear to s0 x s0 x (4w), then 5x5 transposed convs (Fig. 2), sigmoid output.

    Input and output are flat: (N, k) one-hot and (N, n_noise) noise in, (N, C*H*W) out.
    """

    def __init__(self, n_clusters: int, n_noise: int, image_shape: Sequence[int], width: int):
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.n_clusters, self.n_noise, self.image_shape = n_clusters, n_noise, (c, h, w)
        sizes, strides = conv_plan(h, w)
        # G mirrors D: walk D's sizes backwards, channels 4w -> 2w -> w -> C.
        self.sizes = list(reversed(sizes))            # s0, ..., (h, w)
        self.strides = list(reversed(strides))
        chans = list(reversed(_layer_channels(width, len(strides))))  # [4w, 2w, w]
        self.c0 = chans[0]
        self.fc = nn.Linear(n_clusters + n_noise, chans[0] * self.sizes[0][0] * self.sizes[0][1])
        outs = chans[1:] + [c]
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(cin, cout, KERNEL, stride=s, padding=KERNEL // 2)
            for cin, cout, s in zip(chans, outs, self.strides))

    def forward(self, onehot: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h0, w0 = self.sizes[0]
        h = F.relu(self.fc(torch.cat([onehot, z], 1))).view(-1, self.c0, h0, w0)
        last = len(self.deconvs) - 1
        for i, (deconv, size) in enumerate(zip(self.deconvs, self.sizes[1:])):
            h = deconv(h, output_size=list(size))
            h = torch.sigmoid(h) if i == last else F.relu(h)
        return h.flatten(1)


class ConvBody(nn.Module):
    """D or C for images: 5x5 convs at w, 2w, 4w channels with LeakyReLU(0.2), then a linear
    output (1 for the critic, k logits for the classifier). No batch norm (WGAN-GP)."""

    def __init__(self, image_shape: Sequence[int], out_dim: int, width: int):
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        self.image_shape = (c, h, w)
        sizes, strides = conv_plan(h, w)
        chans = _layer_channels(width, len(strides))
        self.convs = nn.ModuleList(
            nn.Conv2d(cin, cout, KERNEL, stride=s, padding=KERNEL // 2)
            for cin, cout, s in zip([c] + chans[:-1], chans, strides))
        self.head = nn.Linear(chans[-1] * sizes[-1][0] * sizes[-1][1], out_dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, *self.image_shape)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return h.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def make_gan_nets(input_dim: int, image_shape, n_clusters: int, n_noise: int, arch: str,
                  mlp_width: int, mlp_depth: int, conv_width: int):
    """(G, D, C) for the data: ``arch`` is "mlp", "conv" or "auto" (conv for images)."""
    if arch == "auto":
        arch = "conv" if image_shape is not None else "mlp"
    if arch == "conv":
        if image_shape is None:
            raise ValueError("arch='conv' needs image data; this data set is vectors")
        g = ConvGenerator(n_clusters, n_noise, image_shape, conv_width)
        d = ConvBody(image_shape, 1, conv_width)
        c = ConvBody(image_shape, n_clusters, conv_width)
        return g, d, c
    hidden = [mlp_width] * mlp_depth
    return (MLPGenerator(n_clusters, n_noise, input_dim, hidden, sigmoid=image_shape is not None),
            MLPBody(input_dim, 1, hidden),
            MLPBody(input_dim, n_clusters, hidden))
