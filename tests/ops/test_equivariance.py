"""Shift equivariance of filtered_lrelu — the property the op exists for.

Shifting the input by ``k`` samples, with ``k·up`` a multiple of ``down``, shifts the output by
``k·up/down`` samples, exactly (up to float rounding), wherever neither output sample reads the
borders. An output sample ``o`` reads upsampled positions ``q ∈ [o·down − p0,
o·down − p0 + (Ku − 1) + (Kd − 1)]``; it is an interior sample when that window lies inside
``[0, L·up − 1]``. Nonlinearity, bias and clamp are pointwise, so they cannot break this.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import bandlimit.ops as ops

from .strategies import IMPLS, clamps, filter_hw, filter_shapes, random_filter, seeds


@st.composite
def _pads(draw, length, taps):
    """Moderate paddings of either sign (heavy crops would leave no interior to compare)."""
    p0 = draw(st.integers(-4, taps + 2))
    lo = max(taps - length - p0, -4)
    return p0, draw(st.integers(lo, lo + 6))


@st.composite
def shift_cases(draw):
    up, down = draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2, 4]))
    step = down // np.gcd(up, down)  # smallest k with k·up a multiple of down
    k = step * draw(st.integers(1, 3))
    axis = draw(st.sampled_from(["x", "y"]))
    fu_shape = draw(filter_shapes(max_taps=8))
    fd_shape = draw(filter_shapes(max_taps=8))
    (uh, uw), (dh, dw) = filter_hw(fu_shape), filter_hw(fd_shape)
    L_shift, L_other = draw(st.integers(12, 18)), draw(st.integers(2, 5))
    H, W = (L_other, L_shift) if axis == "x" else (L_shift, L_other)
    x0, x1 = draw(_pads(W * up, uw + dw - 1))
    y0, y1 = draw(_pads(H * up, uh + dh - 1))
    return dict(up=up, down=down, k=k, axis=axis, fu_shape=fu_shape, fd_shape=fd_shape, H=H, W=W,
                padding=[x0, x1, y0, y1], seed=draw(seeds), clamp=draw(clamps),
                slope=draw(st.floats(0.0, 1.0)), flip_filter=draw(st.booleans()))


def _interior(n_out, L, up, down, p0, taps_sum):
    """Output indices whose read window [o·down − p0, … + taps_sum] lies inside [0, L·up − 1]."""
    o = np.arange(n_out)
    lo = o * down - p0
    return (lo >= 0) & (lo + taps_sum <= L * up - 1)


@pytest.mark.parametrize("impl", IMPLS)
@given(c=shift_cases())
def test_filtered_lrelu_is_shift_equivariant(impl, c):
    rng = np.random.default_rng(c["seed"])
    fu, fd = random_filter(rng, c["fu_shape"]), random_filter(rng, c["fd_shape"])
    up, down, k = c["up"], c["down"], c["k"]
    s = k * up // down
    along_x = c["axis"] == "x"
    H, W = c["H"], c["W"]
    big = rng.standard_normal((1, 2, H, W + k) if along_x else (1, 2, H + k, W))
    x1 = big[..., :W] if along_x else big[..., :H, :]
    x2 = big[..., k:] if along_x else big[..., k:, :]
    kw = dict(up=up, down=down, padding=c["padding"], gain=1.3, slope=c["slope"],
              clamp=c["clamp"], flip_filter=c["flip_filter"], impl=impl)
    b = torch.from_numpy(rng.standard_normal(2))

    def run(x):
        return ops.filtered_lrelu(torch.from_numpy(np.ascontiguousarray(x)),
                                  None if fu is None else torch.from_numpy(fu),
                                  None if fd is None else torch.from_numpy(fd), b, **kw).numpy()

    y1, y2 = run(x1), run(x2)
    assert y1.shape == y2.shape
    (uh, uw), (dh, dw) = filter_hw(c["fu_shape"]), filter_hw(c["fd_shape"])
    if along_x:
        L, p0, taps_sum, ax = W, c["padding"][0], uw + dw - 2, 3
    else:
        L, p0, taps_sum, ax = H, c["padding"][2], uh + dh - 2, 2
    n_out = y1.shape[ax]
    inside = _interior(n_out, L, up, down, p0, taps_sum)
    # y2[o] and y1[o + s] must both be interior samples.
    both = np.array([inside[o] and o + s < n_out and inside[o + s] for o in range(n_out)],
                    dtype=bool)
    assume(both.any())
    idx = np.flatnonzero(both)
    a = np.take(y2, idx, axis=ax)
    e = np.take(y1, idx + s, axis=ax)
    scale = max(1.0, float(np.abs(e).max()))
    np.testing.assert_allclose(a, e, rtol=0, atol=1e-12 * scale)


def test_shift_equivariance_needs_whole_output_samples():
    # Control: with up=1, down=2 a 1-sample shift is NOT an output shift (the phase changes),
    # so the property above is not vacuous.
    rng = np.random.default_rng(0)
    big = torch.from_numpy(rng.standard_normal((1, 1, 8, 21)))
    f = torch.from_numpy(rng.standard_normal(5))
    kw = dict(up=1, down=2, padding=[2, 2, 2, 2], impl="ref")
    y1 = ops.filtered_lrelu(big[..., :20], f, f, **kw)
    y2 = ops.filtered_lrelu(big[..., 1:], f, f, **kw)
    assert not torch.allclose(y2[..., 3:5], y1[..., 3:5]) and not torch.allclose(
        y2[..., 3:5], y1[..., 4:6])
