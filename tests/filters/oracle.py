"""Independent float64 oracles of the Kaiser window, written from the formulas (stylegan3.md
§1) with scipy.special.i0 and plain loops, not np.kaiser: shared by the filter-design tests."""

from __future__ import annotations

import math

import numpy as np
import scipy.special


def beta_oracle(atten: float) -> float:
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def window_oracle(n: int, beta: float) -> np.ndarray:
    """Symmetric Kaiser window: I0(β·sqrt(1 − (2k/(n−1) − 1)²)) / I0(β)."""
    if n == 1:
        return np.ones(1)
    out = np.empty(n)
    for k in range(n):
        u = 2 * k / (n - 1) - 1
        out[k] = scipy.special.i0(beta * math.sqrt(max(0.0, 1 - u * u))) / scipy.special.i0(beta)
    return out


def design_beta_oracle(n: int, width: float, fs: float) -> float:
    atten = 2.285 * (n - 1) * math.pi * (width / (fs / 2)) + 7.95
    return beta_oracle(atten)


def jinc_oracle(n: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    """The radial Kaiser low-pass: J1(2π f_c r)/(π r) (f_c at r = 0) times w_i w_j, summing
    to 1, with plain loops."""
    w = window_oracle(n, design_beta_oracle(n, width, fs))
    f = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            r = math.hypot((i - (n - 1) / 2) / fs, (j - (n - 1) / 2) / fs)
            k = cutoff if r == 0 else scipy.special.j1(2 * math.pi * cutoff * r) / (math.pi * r)
            f[i, j] = k * w[i] * w[j]
    return f / f.sum()
