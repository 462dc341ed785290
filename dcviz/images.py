"""Pictures for people: small images enlarged without blur."""
from __future__ import annotations

import numpy as np


def upscale(img: np.ndarray, size: int = 112) -> np.ndarray:
    """Enlarge a small image by whole-pixel repetition (no blur), to about ``size`` pixels;
    values clipped to [0, 1]."""
    a = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    h, w = a.shape[:2]
    f = max(1, int(size // max(h, w)))
    return np.repeat(np.repeat(a, f, axis=0), f, axis=1)
