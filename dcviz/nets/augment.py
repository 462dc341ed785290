"""Data augmentations written with torch ops, reproducible from a ``torch.Generator``.

Self-supervised and contrastive methods (MLC's warm-up, Eq. 5 and its A views, Eq. 6; ACe/DeC's
augmentation mode) need two or more random views of every sample. The views must suit the data:

- images (flat rows ``(N, C*H*W)`` with an ``image_shape`` (C, H, W)): one random affine map per
  sample, a resized crop, a small rotation and a shift, applied with ``affine_grid`` /
  ``grid_sample``. Flips are left out on purpose: a mirrored digit is another symbol.
- vectors: Gaussian jitter, isotropic, with a standard deviation given in the data's own units.

Everything draws from the caller's generator, so a seed gives the same views on every run; the
random numbers are drawn on the CPU (where the generator lives) and moved to the data's device.

    from dcviz.nets.augment import augment
    x1 = augment(x, ds.image_shape, ctx.generator)                 # kind="auto"
    x2 = augment(x, None, ctx.generator, kind="jitter", sigma=0.05)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch.nn import functional as F

KINDS = ("auto", "image", "jitter", "none")


@dataclass(frozen=True)
class ImageAugment:
    """Ranges of the random affine map at ``strength=1`` (all scaled by ``strength``).

    crop_scale: a crop keeps between (1 - crop_scale) and 1 of the image area, resized back.
    rotation: the largest rotation, in degrees, either way.
    shift: the largest translation, as a fraction of the image side, either way.
    """

    crop_scale: float = 0.2
    rotation: float = 10.0
    shift: float = 0.0625


DEFAULT_IMAGE = ImageAugment()


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def affine_params(n: int, generator: torch.Generator, strength: float = 1.0,
                  ranges: ImageAugment = DEFAULT_IMAGE) -> torch.Tensor:
    """(n, 2, 3) random affine maps in ``affine_grid``'s normalised coordinates (CPU tensor).

    ``theta`` maps output pixel coordinates to input coordinates, so a crop of relative side s
    is a scaling by s (< 1 zooms in), a rotation by a is R(a), and a shift by t moves the
    sampling window by t * 2 (coordinates run from -1 to 1).
    """
    s = float(strength)
    area = _uniform(n, 1.0 - min(ranges.crop_scale * s, 0.95), 1.0, generator)
    # aspect ratio of the crop, within 3/4..4/3 at strength 1 (as torchvision's resized crop)
    log_r = _uniform(n, -math.log(4 / 3) * min(s, 1.0), math.log(4 / 3) * min(s, 1.0), generator)
    ratio = torch.exp(log_r)
    sx, sy = torch.sqrt(area * ratio).clamp(max=1.0), torch.sqrt(area / ratio).clamp(max=1.0)
    ang = _uniform(n, -1.0, 1.0, generator) * math.radians(ranges.rotation * s)
    # the crop may sit anywhere inside the image; the shift moves it further
    tx = _uniform(n, -1.0, 1.0, generator) * ((1.0 - sx) + 2.0 * ranges.shift * s)
    ty = _uniform(n, -1.0, 1.0, generator) * ((1.0 - sy) + 2.0 * ranges.shift * s)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1),
                         torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    return theta


def augment_images(x: torch.Tensor, image_shape: Sequence[int], generator: torch.Generator,
                   strength: float = 1.0, ranges: ImageAugment = DEFAULT_IMAGE) -> torch.Tensor:
    """Random resized crop + small rotation + shift of flat images; same shape and range back.

    Pixels that come from outside the image repeat the border ("border" padding), so a dark
    background stays dark and a light one stays light. Bilinear sampling keeps values inside the
    input's range.
    """
    c, h, w = (int(v) for v in image_shape)
    if x.ndim != 2 or x.shape[1] != c * h * w:
        raise ValueError(f"expected flat images of shape (N, {c * h * w}) for image_shape "
                         f"{tuple(image_shape)}, got {tuple(x.shape)}")
    if strength <= 0 or len(x) == 0:
        return x.clone()
    theta = affine_params(len(x), generator, strength, ranges).to(device=x.device, dtype=x.dtype)
    img = x.reshape(-1, c, h, w)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.reshape(len(x), -1)


def gamma_jitter(x: torch.Tensor, generator: torch.Generator, max_gamma: float) -> torch.Tensor:
    """x ** g per sample, log g uniform in [-log max_gamma, log max_gamma]: a change of the
    lighting's contrast (torchvision's ``adjust_gamma``). For intensities in [0, 1] it keeps 0
    and 1 where they are and the order of every pair of pixels, so a dark background stays dark
    and outlines stay put, while the shading across a surface flattens (g < 1) or deepens
    (g > 1). ``max_gamma`` = 1 is no change."""
    if max_gamma < 1:
        raise ValueError(f"max_gamma must be >= 1, got {max_gamma}")
    if max_gamma == 1 or len(x) == 0:
        return x.clone()
    log_g = _uniform(len(x), -math.log(max_gamma), math.log(max_gamma), generator)
    g = torch.exp(log_g).to(device=x.device, dtype=x.dtype)
    return x.clamp(min=0.0).pow(g.view(-1, *([1] * (x.ndim - 1))))


def jitter(x: torch.Tensor, generator: torch.Generator, sigma: float) -> torch.Tensor:
    """Gaussian jitter: x + N(0, sigma^2 I), noise drawn from ``generator``."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return x.clone()
    noise = torch.randn(x.shape, generator=generator).to(device=x.device, dtype=x.dtype)
    return x + sigma * noise


def jitter_scale(x: torch.Tensor) -> float:
    """A natural unit for vector jitter: the root mean per-feature standard deviation of x."""
    if len(x) < 2:
        return 1.0
    return float(x.float().var(0).mean().sqrt().clamp(min=1e-6))


def augment(x: torch.Tensor, image_shape: Sequence[int] | None, generator: torch.Generator,
            kind: str = "auto", strength: float = 1.0, sigma: float | None = None) -> torch.Tensor:
    """One random view of every row of ``x`` (N, D); returns a new (N, D) tensor.

    kind: "auto" (images when ``image_shape`` is given, jitter otherwise), "image", "jitter",
    or "none" (a copy). ``strength`` scales every range (0 = no change). For jitter the noise
    standard deviation is ``sigma`` when given, else ``0.1 * strength * jitter_scale(x)``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown augmentation kind {kind!r}; choose one of {KINDS}")
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    if kind == "auto":
        kind = "image" if image_shape is not None else "jitter"
    if kind == "none":
        return x.clone()
    if kind == "image":
        if image_shape is None:
            raise ValueError("kind='image' needs an image_shape (C, H, W)")
        return augment_images(x, image_shape, generator, strength)
    if sigma is None:
        sigma = 0.1 * strength * jitter_scale(x)
    return jitter(x, generator, float(sigma))


def views(x: torch.Tensor, image_shape, generator: torch.Generator, n_views: int, **kw) -> list[torch.Tensor]:
    """``n_views`` independent augmentations of the same rows (MLC's A views, Eq. 6)."""
    return [augment(x, image_shape, generator, **kw) for _ in range(int(n_views))]
