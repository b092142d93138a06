"""A float64 NumPy blur-pool written from its definition (pad, convolve, subsample), the
reference of the anti-aliased pooling tests."""

from __future__ import annotations

import numpy as np

NP_MODE = {"reflect": "reflect", "replicate": "edge", "zeros": "constant", "circular": "wrap"}


def np_blurpool(x, taps, stride, mode):
    """Pad (floor before, ceil after), convolve with the 2-D kernel, keep every stride-th."""
    taps = np.asarray(taps, np.float64)
    kernel = np.outer(taps, taps) if taps.ndim == 1 else taps
    k = kernel.shape[0]
    p0, p1 = (k - 1) // 2, k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p1), (p0, p1)), mode=NP_MODE[mode])
    h, w = xp.shape[2] - k + 1, xp.shape[3] - k + 1
    out = np.zeros((*x.shape[:2], h, w))
    flipped = kernel[::-1, ::-1]  # a true convolution
    for i in range(h):
        for j in range(w):
            out[:, :, i, j] = (xp[:, :, i : i + k, j : j + k] * flipped).sum(axis=(2, 3))
    return out[:, :, ::stride, ::stride]


def np_blurpool1d(x, taps, stride, mode):
    """The same along the last axis of ``[N, C, L]`` signals."""
    taps = np.asarray(taps, np.float64)
    k = taps.shape[0]
    p0, p1 = (k - 1) // 2, k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p1)), mode=NP_MODE[mode])
    n = xp.shape[2] - k + 1
    out = np.zeros((*x.shape[:2], n))
    for i in range(n):
        out[:, :, i] = (xp[:, :, i : i + k] * taps[::-1]).sum(axis=2)
    return out[:, :, ::stride]
