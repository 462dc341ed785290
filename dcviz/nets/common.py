"""Training plumbing every network shares: seeding, index batches, encoding in chunks.

The whole data set lives on the device as one tensor; batches are indexed from a permutation,
which for data that fits in memory is much faster than a DataLoader.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn


def batches(n: int, batch_size: int, generator: torch.Generator, device) -> Iterator[torch.Tensor]:
    """Index batches over a fresh random permutation of range(n)."""
    perm = torch.randperm(n, generator=generator).to(device)
    for i in range(0, n, batch_size):
        yield perm[i:i + batch_size]


@torch.no_grad()
def encode_all(encode, x: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Run ``encode`` over all rows of x in eval mode, without gradients."""
    return torch.cat([encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def warm_up() -> None:
    """Pay torch's one-off lazy imports now rather than at the first run's first step.

    The first optimiser a process builds imports torch._dynamo (~3 s of pure-Python import on
    these CPUs, holding the GIL), which would otherwise sit between a Launch click and the first
    snapshot and stall the web server's thread for as long.
    """
    layer = nn.Linear(2, 1)
    opt = torch.optim.Adam(layer.parameters())
    layer(torch.zeros(1, 2)).sum().backward()
    opt.step()


def set_seed(seed: int) -> None:
    """Seed torch's global RNG, which nn.Module initialisation uses."""
    torch.manual_seed(seed)
