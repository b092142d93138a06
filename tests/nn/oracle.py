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


def np_blurpool3d(x, taps, stride, mode):
    """The same over the last three axes of ``[N, C, D, H, W]`` volumes, the 3-D kernel the
    outer product of the taps, by explicit loops over output positions."""
    taps = np.asarray(taps, np.float64)
    kernel = np.einsum("i,j,k->ijk", taps, taps, taps)[::-1, ::-1, ::-1]  # a true convolution
    k = taps.shape[0]
    p0, p1 = (k - 1) // 2, k // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p0, p1), (p0, p1), (p0, p1)), mode=NP_MODE[mode])
    d, h, w = (xp.shape[a] - k + 1 for a in (2, 3, 4))
    out = np.zeros((*x.shape[:2], d, h, w))
    for a in range(d):
        for b in range(h):
            for c in range(w):
                window = xp[:, :, a : a + k, b : b + k, c : c + k]
                out[:, :, a, b, c] = (window * kernel).sum(axis=(2, 3, 4))
    return out[:, :, ::stride, ::stride, ::stride]


def np_blurpool_per_axis(x, taps, strides, mode):
    """The blur-pool with per-axis ``strides`` over the last ``len(strides)`` axes: the axes of
    the largest stride padded and filtered with ``taps`` (the kernel their outer product), the
    others untouched, by explicit loops over output positions; every axis then subsampled."""
    taps = np.asarray(taps, np.float64)
    k, factor = taps.shape[0], max(strides)
    blurred = [s == factor for s in strides]
    kernel = np.ones([1] * len(strides))
    for a, b in enumerate(blurred):
        shape = [1] * len(strides)
        shape[a] = k if b else 1
        kernel = kernel * (taps[::-1] if b else np.ones(1)).reshape(shape)  # a true convolution
    pads = [((k - 1) // 2, k // 2) if b else (0, 0) for b in blurred]
    xp = np.pad(x, [(0, 0)] * (x.ndim - len(strides)) + pads, mode=NP_MODE[mode])
    lead = x.ndim - len(strides)
    out_shape = [xp.shape[lead + a] - kernel.shape[a] + 1 for a in range(len(strides))]
    out = np.zeros((*x.shape[:lead], *out_shape))
    axes = tuple(range(lead, x.ndim))
    for pos in np.ndindex(*out_shape):
        window = xp[(Ellipsis, *(slice(p, p + n) for p, n in zip(pos, kernel.shape)))]
        out[(Ellipsis, *pos)] = (window * kernel).sum(axis=axes)
    return out[(Ellipsis, *(slice(None, None, s) for s in strides))]
