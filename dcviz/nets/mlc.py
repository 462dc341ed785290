"""MLC's networks (Ding et al., appendix D): the backbones, the two heads onto the sphere, and
the LARS optimiser of its warm-up."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise adaptive rate scaling (You et al. [52]), as the paper's
    warm-up uses (appendix D.2). Weight matrices get the trust ratio eta ||w|| / ||g + wd w||;
    biases and norm parameters (1-D) are updated as plain SGD without weight decay."""

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 1e-6,
                 trust: float = 0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, trust=trust))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if p.ndim > 1:
                    g = g.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = torch.norm(p), torch.norm(g)
                    ratio = torch.where((w_norm > 0) & (g_norm > 0),
                                        group["trust"] * w_norm / g_norm, torch.ones_like(w_norm))
                    g = g * ratio
                buf = self.state[p].get("momentum")
                if buf is None:
                    buf = self.state[p]["momentum"] = torch.clone(g).detach()
                else:
                    buf.mul_(group["momentum"]).add_(g)
                p.add_(buf, alpha=-group["lr"])


class ConvBackbone(nn.Module):
    """A small CNN for small images: three 3x3 convolutions (the last two with stride 2), batch
    norm and ReLU, then a dense layer. Flat (N, C*H*W) rows in, (N, width) features out."""

    def __init__(self, image_shape, width: int, channels=(32, 64, 128)):
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (c, h, w)
        layers, prev = [], c
        for i, ch in enumerate(channels):
            stride = 1 if i == 0 else 2
            layers += [nn.Conv2d(prev, ch, 3, stride=stride, padding=1), nn.BatchNorm2d(ch), nn.ReLU()]
            prev = ch
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
        self.convs = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(prev * h * w, width), nn.BatchNorm1d(width), nn.ReLU())
        self.out_dim = width

    def forward(self, x):
        return self.fc(self.convs(x.view(-1, *self.image_shape)).flatten(1))


class MLPBackbone(nn.Module):
    """Fully connected backbone for vectors: Linear, batch norm, ReLU, twice."""

    def __init__(self, input_dim: int, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, width), nn.BatchNorm1d(width), nn.ReLU(),
                                 nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())
        self.out_dim = width

    def forward(self, x):
        return self.net(x)


class Identity(nn.Module):
    """No backbone (the Fig. 1 setting): the heads see the raw 3-D points."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.out_dim = input_dim

    def forward(self, x):
        return x


class SphereHead(nn.Module):
    """A head of Fig. 2: affine, ReLU, affine, then the projection onto the sphere S^{d-1}."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, h):
        return F.normalize(self.net(h), dim=1)
