"""Kernel-level tests of the Numba backend (``bandlimit.ops._numba``) against naive NumPy loops.

The kernels take already-normalised arguments (planes ``[P, H, W]``, filters in correlation form),
so the oracle here follows the kernel contract literally, in float64: explicit zero insertion,
padding / cropping by index, explicit loops over the taps and outputs. The backward is checked
as an exact vector-Jacobian product: with the activation's branch pattern fixed the pipeline is
linear, so its transpose is built from dense matrices of the oracle.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.ops import _numba as K

# ---------------------------------------------------------------------------------------------
# Oracle (float64, straight from the definitions)


def _stage_axis(x: np.ndarray, f: np.ndarray, up: int, down: int, p0: int, p1: int, axis: int):
    """One axis: zero-insert by ``up``, pad/crop by ``(p0, p1)``, correlate with ``f``, decimate."""
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    xu = np.zeros((*x.shape[:-1], n * up))
    xu[..., ::up] = x
    length = n * up + p0 + p1
    xp = np.zeros((*x.shape[:-1], length))
    for m in range(length):  # xp[m] = xu[m - p0] where that exists
        if 0 <= m - p0 < n * up:
            xp[..., m] = xu[..., m - p0]
    taps = f.shape[0]
    lo = (length - taps) // down + 1
    y = np.zeros((*x.shape[:-1], lo))
    for o in range(lo):
        for k in range(taps):
            y[..., o] += f[k] * xp[..., o * down + k]
    return np.moveaxis(y, -1, axis)


def oracle_upfirdn(x, fx, fy, f2d, up, down, pad) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if f2d is None:
        y = _stage_axis(x, np.asarray(fx, np.float64), up[0], down[0], pad[0], pad[1], 2)
        return _stage_axis(y, np.asarray(fy, np.float64), up[1], down[1], pad[2], pad[3], 1)
    # full 2-D: zero insertion and padding of the plane, then a 2-D correlation loop
    p, h, w = x.shape
    (ux, uy), (px0, px1, py0, py1) = up, pad
    xu = np.zeros((p, h * uy, w * ux))
    xu[:, ::uy, ::ux] = x
    hp, wp = h * uy + py0 + py1, w * ux + px0 + px1
    xp = np.zeros((p, hp, wp))
    for i in range(hp):
        for j in range(wp):
            if 0 <= i - py0 < h * uy and 0 <= j - px0 < w * ux:
                xp[:, i, j] = xu[:, i - py0, j - px0]
    kh, kw = f2d.shape
    ho, wo = (hp - kh) // down[1] + 1, (wp - kw) // down[0] + 1
    y = np.zeros((p, ho, wo))
    for ky in range(kh):
        for kx in range(kw):
            y += (
                float(f2d[ky, kx])
                * xp[
                    :,
                    ky : ky + (ho - 1) * down[1] + 1 : down[1],
                    kx : kx + (wo - 1) * down[0] + 1 : down[0],
                ]
            )
    return y


def oracle_act(u, act, alpha, gain, clamp):
    """``clamp(act(u)·gain)`` and its derivative w.r.t. ``u`` (strict branch conditions)."""
    slope = {K.ACT_LINEAR: 1.0, K.ACT_RELU: 0.0, K.ACT_LRELU: alpha}[act]
    neg = u < 0
    if act == K.ACT_RELU:  # exactly 0 on the negative side, −Inf included (as torch.relu)
        a = np.where(neg, 0.0, u) * gain
    else:
        a = np.where(neg, u * slope, u) * gain
    d = np.where(neg, slope, 1.0) * gain
    d = np.where(np.abs(a) > clamp, 0.0, d)
    return np.clip(a, -clamp, clamp), d


def oracle_forward(x, bias, c, fu, fd, up, down, pad, gain, act, alpha, clamp):
    v = np.asarray(x, np.float64)
    if bias is not None:
        v = v + np.asarray(bias, np.float64)[np.arange(v.shape[0]) % c][:, None, None]
    u = oracle_upfirdn(v, *fu, up, (1, 1), pad)
    a, d = oracle_act(u, act, alpha, gain, clamp)
    return oracle_upfirdn(a, *fd, (1, 1), down, (0, 0, 0, 0)), u, d


def oracle_matrix(shape_hw, fir, up, down, pad) -> np.ndarray:
    """Dense matrix ``[out_size, in_size]`` of one upfirdn stage (columns: unit inputs)."""
    h, w = shape_hw
    basis = np.eye(h * w).reshape(h * w, h, w)
    return oracle_upfirdn(basis, *fir, up, down, pad).reshape(h * w, -1).T


def oracle_vjp(dy, x_hw, fu, fd, up, down, pad, d):
    """``dv = Uᵀ (d ⊙ Dᵀ dy)`` for each plane, with ``d`` the activation derivative at ``u``."""
    umat = oracle_matrix(x_hw, fu, up, (1, 1), pad)
    dmat = oracle_matrix(d.shape[1:], fd, (1, 1), down, (0, 0, 0, 0))
    out = []
    for p in range(dy.shape[0]):
        g = dmat.T @ dy[p].ravel().astype(np.float64)
        out.append(umat.T @ (d[p].ravel() * g))
    return np.stack(out).reshape(dy.shape[0], *x_hw)


# ---------------------------------------------------------------------------------------------
# Strategies


@st.composite
def filters(draw, dtype, kmax=13, allow_full=True):
    """``((fx, fy, f2d), (kw, kh))`` with random taps; separable or full 2-D."""
    kw, kh = draw(st.integers(1, kmax)), draw(st.integers(1, kmax))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if allow_full and draw(st.booleans()):
        return (None, None, rng.standard_normal((kh, kw)).astype(dtype)), (kw, kh)
    return (rng.standard_normal(kw).astype(dtype), rng.standard_normal(kh).astype(dtype), None), (
        kw,
        kh,
    )


@st.composite
def upfirdn_cases(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    fir, (kw, kh) = draw(filters(dtype))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    up = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    down = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    x0, x1, y0, y1 = (draw(st.integers(-6, 9)) for _ in range(4))
    # at least one output sample per axis (the caller guarantees it)
    pad = (x0, max(x1, kw - w * up[0] - x0), y0, max(y1, kh - h * up[1] - y0))
    planes = draw(st.integers(1, 3))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal((planes, h, w))
    return x.astype(dtype), fir, up, down, pad


@st.composite
def filtered_cases(draw, acts=(K.ACT_LINEAR, K.ACT_RELU, K.ACT_LRELU), clamps=True):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    fu, (kuw, kuh) = draw(filters(dtype, kmax=9))
    fd, (kdw, kdh) = draw(filters(dtype, kmax=9))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    up = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    down = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    pad = [draw(st.integers(-5, 8)) for _ in range(4)]
    # the up stage must leave at least as many samples as the down filter has taps
    short_x = kdw - (w * up[0] + pad[0] + pad[1] - kuw + 1)
    short_y = kdh - (h * up[1] + pad[2] + pad[3] - kuh + 1)
    pad[1] += max(short_x, 0)
    pad[3] += max(short_y, 0)
    chans = draw(st.integers(1, 3))
    planes = chans * draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((planes, h, w)).astype(dtype)
    bias = rng.standard_normal(chans).astype(dtype) if draw(st.booleans()) else None
    act = draw(st.sampled_from(acts))
    clamp = draw(st.sampled_from([math.inf, 0.7, 2.5])) if clamps else math.inf
    gain = draw(st.sampled_from([1.0, math.sqrt(2), 0.6]))
    return dict(
        x=x,
        bias=bias,
        C=chans,
        fu=fu,
        fd=fd,
        up=up,
        down=down,
        pad=tuple(pad),
        gain=gain,
        act=act,
        alpha=0.2,
        clamp=clamp,
    )


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


def scaled_close(actual, expected, dtype):
    """Compare relative to the output's scale (sums of many terms lose absolute precision)."""
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    t = tol(dtype)
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["atol"] * scale)


def run_forward(case, save_mask=True):
    c = case
    return K.filtered_act_forward(
        c["x"],
        c["bias"],
        c["C"],
        c["fu"],
        c["fd"],
        c["up"],
        c["down"],
        c["pad"],
        c["gain"],
        c["act"],
        c["alpha"],
        c["clamp"],
        save_mask,
    )


def run_backward(case, dy, mask):
    c = case
    return K.filtered_act_backward(
        dy,
        mask,
        c["x"].shape[1:],
        c["fu"],
        c["fd"],
        c["up"],
        c["down"],
        c["pad"],
        c["gain"],
        c["act"],
        c["alpha"],
    )


# ---------------------------------------------------------------------------------------------
# Numerics: upfirdn


@given(upfirdn_cases())
def test_upfirdn_matches_oracle(case):
    x, fir, up, down, pad = case
    y = K.upfirdn(x, *fir, up, down, pad)
    expected = oracle_upfirdn(x, *fir, up, down, pad)
    assert y.dtype == x.dtype and y.flags.c_contiguous
    assert y.shape == expected.shape
    scaled_close(y, expected, x.dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("up", "down", "taps", "pad"),
    [
        ((2, 2), (1, 1), 12, (7, 6, 7, 6)),  # upsample2d-like
        ((1, 1), (2, 2), 12, (5, 5, 5, 5)),  # downsample2d-like
        ((4, 4), (1, 1), 24, (-6, -9, -6, -9)),  # negative pads, 24 taps
        ((3, 1), (2, 1), 5, (2, 1, 0, 0)),  # y axis identity
    ],
)
def test_upfirdn_stylegan_like(dtype, up, down, taps, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 12, 13)).astype(dtype)
    fx = rng.standard_normal(taps).astype(dtype)
    fy = rng.standard_normal(taps if up[1] * down[1] > 1 else 1).astype(dtype)
    if fy.shape[0] == 1:
        pad = (*pad[:2], 0, 0)
    y = K.upfirdn(x, fx, fy, None, up, down, pad)
    scaled_close(y, oracle_upfirdn(x, fx, fy, None, up, down, pad), dtype)


def test_upfirdn_one_dimensional_signal():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 1, 37))
    fx, fy = rng.standard_normal(7), np.ones(1)
    y = K.upfirdn(x, fx, fy, None, (3, 1), (2, 1), (4, -2, 0, 0))
    scaled_close(y, oracle_upfirdn(x, fx, fy, None, (3, 1), (2, 1), (4, -2, 0, 0)), np.float64)


def test_upfirdn_separable_equals_outer_product_filter():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 9, 8))
    fx, fy = rng.standard_normal(6), rng.standard_normal(4)
    args = ((2, 3), (3, 2), (1, 2, -1, 3))
    sep = K.upfirdn(x, fx, fy, None, *args)
    full = K.upfirdn(x, None, None, np.outer(fy, fx), *args)
    np.testing.assert_allclose(sep, full, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Numerics: filtered activation


@given(filtered_cases())
def test_filtered_forward_matches_oracle(case):
    y, mask = run_forward(case)
    c = case
    expected, _, _ = oracle_forward(
        c["x"],
        c["bias"],
        c["C"],
        c["fu"],
        c["fd"],
        c["up"],
        c["down"],
        c["pad"],
        c["gain"],
        c["act"],
        c["alpha"],
        c["clamp"],
    )
    assert y.shape == expected.shape and y.dtype == c["x"].dtype
    scaled_close(y, expected, c["x"].dtype)
    hu, wu = None, None
    assert mask.dtype == np.uint8
    assert mask.shape == K.mask_shape(
        c["x"].shape[0], hu, wu, *y.shape[1:], _size(c["fd"]), c["down"]
    )
    # without a mask the activation runs over whole phase planes (row padding included): the
    # same values, and a second call on the scratch the first left gives them again
    for _ in range(2):
        y0, mask0 = run_forward(case, save_mask=False)
        assert mask0 is None
        np.testing.assert_array_equal(y0, y)


def _size(fir):
    fx, fy, f2d = fir
    return (f2d.shape[1], f2d.shape[0]) if f2d is not None else (fx.shape[0], fy.shape[0])


@given(filtered_cases(acts=(K.ACT_LINEAR,), clamps=False))
def test_filtered_linear_backward_is_exact_adjoint(case):
    """<A v, w> == <v, Aᵀ w> for the linear pipeline (act=linear, no clamp), in float64."""
    case = {
        **case,
        "x": case["x"].astype(np.float64),
        "bias": None,
        "fu": tuple(None if f is None else f.astype(np.float64) for f in case["fu"]),
        "fd": tuple(None if f is None else f.astype(np.float64) for f in case["fd"]),
    }
    av, mask = run_forward(case)
    w = np.random.default_rng(3).standard_normal(av.shape)
    atw = run_backward(case, w, mask)
    lhs, rhs = float(np.vdot(av, w)), float(np.vdot(case["x"], atw))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10 * (1 + abs(lhs)))


@given(filtered_cases())
def test_filtered_backward_matches_oracle_vjp(case):
    """lrelu / relu / clamp: the VJP of the pipeline linearised at the forward's branch pattern."""
    y, mask = run_forward(case)
    c = case
    _, _, d = oracle_forward(
        c["x"],
        c["bias"],
        c["C"],
        c["fu"],
        c["fd"],
        c["up"],
        c["down"],
        c["pad"],
        c["gain"],
        c["act"],
        c["alpha"],
        c["clamp"],
    )
    dy = np.random.default_rng(4).standard_normal(y.shape).astype(c["x"].dtype)
    dx = run_backward(case, dy, mask)
    assert dx.shape == c["x"].shape and dx.dtype == c["x"].dtype
    expected = oracle_vjp(dy, c["x"].shape[1:], c["fu"], c["fd"], c["up"], c["down"], c["pad"], d)
    scaled_close(dx, expected, c["x"].dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("up", "ku", "pad", "full_down"),
    [
        ((2, 2), 12, (9, 8, 9, 8), False),
        ((4, 4), 24, (-6, -9, -6, -9), False),
        ((2, 2), 12, (11, 10, 11, 10), True),
    ],
)
def test_filtered_stylegan3_layer_shapes(dtype, up, ku, pad, full_down):
    """The StyleGAN3 configurations: up 2 / 12 taps or up 4 / 24 taps, down 2 / 12 taps
    (separable, or a 12×12 radial-like 2-D down filter), gain √2, lrelu 0.2, clamp 256."""
    rng = np.random.default_rng(5)
    n = 14
    x = (rng.standard_normal((6, n, n)) * 100).astype(dtype)
    bias = rng.standard_normal(3).astype(dtype)
    fu1 = (rng.random(ku) * up[0]).astype(dtype)
    fd1 = rng.random(12).astype(dtype)
    fd = (None, None, np.outer(fd1, fd1)) if full_down else (fd1, fd1, None)
    case = dict(
        x=x,
        bias=bias,
        C=3,
        fu=(fu1, fu1, None),
        fd=fd,
        up=up,
        down=(2, 2),
        pad=pad,
        gain=math.sqrt(2),
        act=K.ACT_LRELU,
        alpha=0.2,
        clamp=256.0,
    )
    y, mask = run_forward(case)
    expected, _, d = oracle_forward(
        x, bias, 3, case["fu"], fd, up, (2, 2), pad, case["gain"], K.ACT_LRELU, 0.2, 256.0
    )
    assert (d == 0).any()  # the clamp is active somewhere
    scaled_close(y, expected, dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = run_backward(case, dy, mask)
    scaled_close(dx, oracle_vjp(dy, (n, n), case["fu"], fd, up, (2, 2), pad, d), dtype)


# ---------------------------------------------------------------------------------------------
# Properties


def test_branch_conditions_are_strict():
    """Negative means u < 0; clamped means |a| > clamp. At equality the gradient passes."""
    # identity filters: u = x exactly, y = a exactly
    x = np.array([[[-2.0, -0.0, 0.0, 1.0, 2.0, 3.0, -3.0]]])
    one = (np.ones(1), np.ones(1), None)
    case = dict(
        x=x,
        bias=None,
        C=1,
        fu=one,
        fd=one,
        up=(1, 1),
        down=(1, 1),
        pad=(0, 0, 0, 0),
        gain=1.0,
        act=K.ACT_LRELU,
        alpha=0.5,
        clamp=2.0,
    )
    y, mask = run_forward(case)
    np.testing.assert_array_equal(y, [[[-1.0, 0.0, 0.0, 1.0, 2.0, 2.0, -1.5]]])
    dx = run_backward(case, np.ones_like(y), mask)
    np.testing.assert_array_equal(dx, [[[0.5, 1.0, 1.0, 1.0, 1.0, 0.0, 0.5]]])


@pytest.mark.parametrize("act", [K.ACT_LINEAR, K.ACT_RELU, K.ACT_LRELU])
def test_nan_and_inf_propagate_like_the_oracle(act):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 9, 8))
    x[0, 4, 3] = np.nan
    x[1, 2, 6] = np.inf
    x[1, 7, 1] = -np.inf
    fu = (rng.random(6) + 0.1, rng.random(6) + 0.1, None)
    fd = (rng.random(4) + 0.1, rng.random(4) + 0.1, None)
    args = dict(
        x=x,
        bias=None,
        C=2,
        fu=fu,
        fd=fd,
        up=(2, 2),
        down=(2, 2),
        pad=(2, 2, 2, 2),
        gain=1.0,
        act=act,
        alpha=0.2,
        clamp=math.inf,
    )
    y, _ = run_forward(args)
    with np.errstate(invalid="ignore"):
        expected, _, _ = oracle_forward(
            x, None, 2, fu, fd, (2, 2), (2, 2), (2, 2, 2, 2), 1.0, act, 0.2, math.inf
        )
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(y), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(y), np.isneginf(expected))
    assert np.isnan(y).any() and np.isfinite(y).any()
    finite = np.isfinite(expected)
    scaled_close(y[finite], expected[finite], np.float64)
    up = K.upfirdn(x, *fu, (2, 2), (1, 1), (1, 1, 1, 1))
    with np.errstate(invalid="ignore"):
        ref = oracle_upfirdn(x, *fu, (2, 2), (1, 1), (1, 1, 1, 1))
    np.testing.assert_array_equal(np.isnan(up), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(up), np.isinf(ref))


def test_mask_only_when_asked_and_output_unchanged():
    rng = np.random.default_rng(7)
    case = dict(
        x=rng.standard_normal((4, 6, 7)).astype(np.float32),
        bias=None,
        C=4,
        fu=(rng.random(5).astype(np.float32), rng.random(3).astype(np.float32), None),
        fd=(None, None, rng.random((3, 4)).astype(np.float32)),
        up=(2, 3),
        down=(3, 2),
        pad=(1, -1, 2, 0),
        gain=1.5,
        act=K.ACT_RELU,
        alpha=0.0,
        clamp=1.0,
    )
    y1, m1 = run_forward(case, save_mask=True)
    y0, m0 = run_forward(case, save_mask=False)
    assert m0 is None and m1 is not None
    np.testing.assert_array_equal(y0, y1)


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((7, 10, 12)).astype(np.float32)
    f = rng.random(8).astype(np.float32)
    before = numba.get_num_threads()
    outs = []
    try:
        for n in sorted({1, before}):
            numba.set_num_threads(n)
            outs.append(K.upfirdn(x, f, f, None, (2, 2), (1, 1), (4, 3, 4, 3)))
    finally:
        numba.set_num_threads(before)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


def test_zero_planes():
    x = np.zeros((0, 5, 5), np.float32)
    f = np.ones(3, np.float32)
    assert K.upfirdn(x, f, f, None, (2, 2), (1, 1), (1, 1, 1, 1)).shape == (0, 10, 10)
    y, mask = K.filtered_act_forward(
        x,
        None,
        1,
        (f, f, None),
        (f, f, None),
        (2, 2),
        (2, 2),
        (1, 1, 1, 1),
        1.0,
        K.ACT_LINEAR,
        0.0,
        math.inf,
        True,
    )
    assert y.shape == (0, 4, 4) and mask.shape[0] == 0
    dx = K.filtered_act_backward(
        y,
        mask,
        (5, 5),
        (f, f, None),
        (f, f, None),
        (2, 2),
        (2, 2),
        (1, 1, 1, 1),
        1.0,
        K.ACT_LINEAR,
        0.0,
    )
    assert dx.shape == (0, 5, 5)


def test_act_codes():
    assert K.ACT_CODES == {"linear": K.ACT_LINEAR, "relu": K.ACT_RELU, "lrelu": K.ACT_LRELU}
    assert len(set(K.ACT_CODES.values())) == 3


# ---------------------------------------------------------------------------------------------
# Bad input (the public API validates; the kernels only guard what would corrupt memory)


def test_unknown_act_code_raises():
    x = np.zeros((1, 4, 4))
    f = (np.ones(2), np.ones(2), None)
    with pytest.raises(ValueError, match="act"):
        K.filtered_act_forward(
            x, None, 1, f, f, (1, 1), (1, 1), (0, 0, 0, 0), 1.0, 7, 0.2, math.inf, False
        )


def test_backward_rejects_mismatched_mask_and_grad():
    x = np.zeros((2, 4, 4))
    f = (np.ones(2), np.ones(2), None)
    args = (f, f, (1, 1), (1, 1), (1, 1, 1, 1), 1.0, K.ACT_LINEAR, 0.0)
    y, mask = K.filtered_act_forward(x, None, 1, *args[:5], 1.0, K.ACT_LINEAR, 0.0, math.inf, True)
    with pytest.raises(ValueError, match="mask"):
        K.filtered_act_backward(y, mask[:, :-1], (4, 4), *args)
    with pytest.raises(ValueError, match="dy"):
        K.filtered_act_backward(y[:, :-1], mask, (4, 4), *args)


@settings(max_examples=5)
@given(st.sampled_from([np.float32, np.float64]))
def test_dtype_is_preserved(dtype):
    x = np.ones((1, 3, 3), dtype)
    f = np.ones(2, dtype)
    assert K.upfirdn(x, f, f, None, (1, 1), (1, 1), (1, 0, 1, 0)).dtype == dtype


# ---------------------------------------------------------------------------------------------
# Every activation: the vectorisable sin/cos, the recomputing backward as an exact adjoint


def test_sincos_polynomials_match_libm():
    """The branch-free sin/cos of the snake activations: ≈ 1 ulp in float64, a few float32 ulp
    in float32, over the arguments α·u of audio models (and far beyond)."""
    from numba import njit

    from bandlimit.ops._numba._smooth import sincos, sincos32

    @njit
    def both(t64, t32):
        s64, c64, s32, c32 = (np.empty_like(t64), np.empty_like(t64), np.empty_like(t32),
                              np.empty_like(t32))
        for i in range(t64.shape[0]):
            s64[i], c64[i] = sincos(t64[i])
            s32[i], c32[i] = sincos32(t32[i])
        return s64, c64, s32, c32

    t = np.concatenate([np.linspace(-50, 50, 20001), np.linspace(-2e4, 2e4, 20001)])
    t32 = t.astype(np.float32)
    s64, c64, s32, c32 = both(t, t32)
    np.testing.assert_allclose(s64, np.sin(t), rtol=0, atol=4e-16 * 2e4 / 50)
    np.testing.assert_allclose(c64, np.cos(t), rtol=0, atol=4e-16 * 2e4 / 50)
    ref32 = t32.astype(np.float64)  # the float32 argument, exactly
    small = np.abs(ref32) <= 50
    np.testing.assert_allclose(s32[small], np.sin(ref32[small]), rtol=0, atol=3e-7)
    np.testing.assert_allclose(c32[small], np.cos(ref32[small]), rtol=0, atol=3e-7)
    np.testing.assert_allclose(s32, np.sin(ref32), rtol=0, atol=2e-6)


def test_all_act_codes_are_distinct_and_extend_the_mask_codes():
    assert len(set(K.ACT_ALL_CODES.values())) == len(K.ACT_ALL_CODES) - 1  # silu is swish
    assert K.ACT_ALL_CODES["silu"] == K.ACT_ALL_CODES["swish"]
    for name, code in K.ACT_CODES.items():
        assert K.ACT_ALL_CODES[name] == code


@pytest.mark.parametrize("mode", ["zeros", "replicate", "circular"])
@pytest.mark.parametrize("nd", [1, 2])
def test_any_backward_is_exact_adjoint_with_padding_modes(mode, nd):
    """With act=linear the fused any-act pipeline (extension of the input and of the activated
    signal included) is linear: <A v, w> == <v, Aᵀ w>."""
    rng = np.random.default_rng(nd)
    h, w = (1, 13) if nd == 1 else (6, 7)
    x = rng.standard_normal((3, h, w))
    fu = (rng.standard_normal(5), rng.standard_normal(4) if nd == 2 else np.ones(1), None)
    fd = (rng.standard_normal(4), rng.standard_normal(3) if nd == 2 else np.ones(1), None)
    up, down = (2, 2 if nd == 2 else 1), (3, 2 if nd == 2 else 1)
    pad = (5, 2, 3, 4) if nd == 2 else (5, 2, 0, 0)
    dpad = (2, 3, 1, 2) if nd == 2 else (2, 3, 0, 0)
    m = K.EXT_CODES[mode]
    args = (fu, fd, up, down, pad, dpad, m, 1.0, K.ACT_ALL_CODES["linear"], 0.0, None, None,
            math.inf)
    av = K.filtered_act_any_forward(x, None, 1, *args)
    wv = rng.standard_normal(av.shape)
    atw, dpar = K.filtered_act_any_backward(wv, x, None, 1, *args)
    assert atw.shape == x.shape and dpar.shape == (3, 2) and not dpar.any()
    lhs, rhs = float(np.vdot(av, wv)), float(np.vdot(x, atw))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


# ---------------------------------------------------------------------------------------------
# Stacked 1-D planes: single-row planes run as the rows of one plane (one job list for all)


@st.composite
def stacked_cases(draw):
    """1-D planes (one row, identity y filter) of every kernel entry point, with several channels
    (per-plane bias, snake α, β) and both kinds of activation kernel."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ku, kd = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    up, down = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    w = draw(st.integers(1, 40))
    pad = [draw(st.integers(-3, 8)) for _ in range(2)]
    pad[1] += max(kd - (w * up + pad[0] + pad[1] - ku + 1), 0)
    chans = draw(st.integers(1, 5))
    planes = chans * draw(st.integers(1, 6))
    one = np.full(1, draw(st.sampled_from([1.0, 1.0, 0.5])), dtype)  # 1: no y stage planned
    return dict(
        dtype=dtype,
        x=rng.standard_normal((planes, 1, w)).astype(dtype),
        bias=rng.standard_normal(chans).astype(dtype) if draw(st.booleans()) else None,
        C=chans,
        fu=(rng.standard_normal(ku).astype(dtype), one, None),
        fd=(rng.standard_normal(kd).astype(dtype), one, None),
        up=(up, 1),
        down=(down, 1),
        pad=(pad[0], pad[1], 0, 0),
        dpad=(draw(st.integers(0, 4)), draw(st.integers(0, 4)), 0, 0),
        mode=draw(st.sampled_from(sorted(K.EXT_CODES.values()))),
        act=draw(st.sampled_from(["lrelu", "relu", "snakebeta", "snake", "gelu"])),
        alpha=rng.uniform(0.3, 1.5, chans).astype(dtype),
        beta=rng.uniform(0.3, 1.5, chans).astype(dtype),
        clamp=draw(st.sampled_from([math.inf, 0.9])),
        max_rows=draw(st.sampled_from([2, 3, 256])),  # 2, 3: groups of fewer rows at the end
    )


def _run_every_entry(c):
    """Every kernel entry point on case ``c``: upfirdn, the masked forward/backward (piecewise
    linear acts, zero padding) and the any-act forward/backward, with all their outputs."""
    code = K.ACT_ALL_CODES[c["act"]]
    snake = c["act"].startswith("snake")
    pa, pb = (c["alpha"], c["beta"]) if snake else (None, None)
    slope = 0.2
    out = [K.upfirdn(c["x"], c["fu"][0], c["fu"][1], None, c["up"], c["down"], c["pad"])]
    args = (c["fu"], c["fd"], c["up"], c["down"], c["pad"], c["dpad"], c["mode"], 1.3, code,
            slope, pa, pb, c["clamp"])  # fmt: skip
    y = K.filtered_act_any_forward(c["x"], c["bias"], c["C"], *args)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(c["dtype"])
    out += [y, *K.filtered_act_any_backward(dy, c["x"], c["bias"], c["C"], *args)]
    if code in (K.ACT_LINEAR, K.ACT_RELU, K.ACT_LRELU):
        fwd = (c["fu"], c["fd"], c["up"], c["down"], c["pad"], 1.3, code, slope, c["clamp"])
        y, mask = K.filtered_act_forward(c["x"], c["bias"], c["C"], *fwd, True)
        dy = np.random.default_rng(2).standard_normal(y.shape).astype(c["dtype"])
        dx = K.filtered_act_backward(dy, mask, c["x"].shape[1:], *fwd[:5], 1.3, code, slope)
        out += [y, mask, dx]
    return out


@settings(max_examples=60, deadline=None)
@given(stacked_cases())
def test_stacked_rows_give_the_results_of_one_plane_at_a_time(c):
    """Stacked (in full groups and in a shorter last group, with the identity y stages left
    out) and one plane at a time (with them, as one-tap copies) give the same values, masks and
    snake-parameter sums; a repeated call (which reuses the scratch the first left, stale rows
    of a short group included) gives them again."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(K._kernel, "_PREPARED", {})  # (geometries made under other settings)
        mp.setattr(K._kernel, "MAX_ROWS", 1)
        mp.setattr(K._plan, "SKIP_IDENTITY_Y", False)
        single = _run_every_entry(c)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(K._kernel, "_PREPARED", {})
        mp.setattr(K._kernel, "MAX_ROWS", c["max_rows"])
        stacked = _run_every_entry(c)
        again = _run_every_entry(c)
    t = dict(rtol=1e-6, atol=1e-6) if c["dtype"] == np.float32 else dict(rtol=1e-13, atol=1e-13)
    for a, b, r in zip(single, stacked, again):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, **t)
        np.testing.assert_array_equal(r, b)


def test_stacked_rows_match_the_oracle():
    """Many short 1-D planes (stacked into groups) against the float64 oracle and its VJP."""
    rng = np.random.default_rng(5)
    c = dict(x=rng.standard_normal((37, 1, 9)), bias=rng.standard_normal(5), C=5,
             fu=(rng.standard_normal(6), np.ones(1), None), fd=(rng.standard_normal(5),
             np.ones(1), None), up=(2, 1), down=(2, 1), pad=(3, 2, 0, 0), gain=1.4,
             act=K.ACT_LRELU, alpha=0.2, clamp=1.1)  # fmt: skip
    assert K._kernel.rows_per_group(37, True, 300, 8) > 1
    y, mask = run_forward(c)
    want, _, d = oracle_forward(c["x"], c["bias"], 5, c["fu"], c["fd"], c["up"], c["down"],
                                c["pad"], c["gain"], c["act"], c["alpha"], c["clamp"])  # fmt: skip
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    want_dx = oracle_vjp(dy, (1, 9), c["fu"], c["fd"], c["up"], c["down"], c["pad"], d)
    np.testing.assert_allclose(run_backward(c, dy, mask), want_dx, rtol=1e-12, atol=1e-12)


def test_rows_per_group():
    """Only stackable planes are stacked; groups stay within the scratch budget and the row
    limit, leave every thread a group, and come in whole rounds of the threads, equal in size
    (the parallel loop gives each thread an equal share of the groups)."""
    rows = K._kernel.rows_per_group
    assert rows(512, False, 100, 4, 2) == 1  # not one row with an identity y axis
    assert rows(1, True, 100, 4, 2) == 1
    big = K._kernel.GROUP_BYTES // 4
    assert rows(512, True, big, 4, 2) == 1 and rows(512, True, big // 3, 4, 2) == 3
    max_rows = K._kernel.MAX_ROWS
    assert rows(4 * max_rows, True, 8, 4, 1) == max_rows
    assert rows(4 * max_rows, True, 8, 4, 2) == max_rows
    assert rows(3 * max_rows, True, 8, 4, 2) == 3 * max_rows // 4  # 4 groups, not 3
    assert rows(6, True, 8, 4, 2) == 3 and rows(6, True, 8, 4, 4) == 2
    for planes in (2, 7, 100, 768, 1000, 5000):
        for threads in (1, 2, 3, 8):
            for row_size in (8, 300, 2000):
                r = rows(planes, True, row_size, 4, threads)
                groups = -(-planes // r)
                assert 1 <= r <= max(1, min(K._kernel.GROUP_BYTES // (row_size * 4), max_rows))
                # as few rounds as the limit allows, and no round left with idle threads
                # beyond the last group's rounding
                rounds = -(-groups // threads)
                assert rounds == -(-planes // (threads * min(
                    K._kernel.GROUP_BYTES // (row_size * 4), max_rows)))
                assert groups > (rounds - 1) * threads


def test_identity_y_stages_are_left_out():
    """1-D filters (one y tap of exactly 1, y factors 1, no y padding) plan no y stage, not even
    a one-tap copy; any other y tap keeps it."""
    geo = (64, (12, 1), (12, 1), False, False, (2, 1), (2, 1), (6, 5, 0, 0))
    for backward in (False, True):
        with_y = K._plan.plan_filtered(3, *geo, backward, False, False)[0]
        without = K._plan.plan_filtered(3, *geo, backward, False, True)[0]
        assert (with_y.jobs[:, 3] == 1).sum() == (3, 4)[backward]  # copies, one per phase
        assert (without.jobs[:, 3] > 1).all()
    f, one = np.ones(12), np.ones(1)
    fa = K.filtered_act
    assert fa._skip_y((f, one, None), (f, one, None), (2, 1), (2, 1), (6, 5, 0, 0))
    assert not fa._skip_y((f, 0.5 * one, None), (f, one, None), (2, 1), (2, 1), (6, 5, 0, 0))
    assert not fa._skip_y((f, one, None), (f, one, None), (2, 1), (2, 1), (6, 5, 1, 0))
    assert not fa._skip_y((f, one, None), (f, one, None), (2, 2), (2, 1), (6, 5, 0, 0))
    plan = K._plan.plan_upfirdn(1, 40, 1, 12, False, (2, 1), (1, 1), (6, 5, 0, 0), True)[0]
    assert plan.jobs.shape[0] == 2 and (plan.jobs[:, 3] == 6).all()  # the two phases along x


def test_a_cold_compile_warns_about_nothing(tmp_path):
    """The first compile of the kernel and the job runner (an empty numba cache, as after an
    install or an upgrade) prints no numba warning: every user would see it. (Inlining a helper
    at the IR level at two call sites made numba's inliner print dozens.)"""
    code = (
        "import numpy as np; from bandlimit.ops import _numba as K; "
        "K.upfirdn(np.zeros((2, 1, 8), np.float32), np.ones(3, np.float32), "
        "np.ones(1, np.float32), None, (1, 1), (1, 1), (1, 1, 0, 0))"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONWARNINGS="always")
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert any(tmp_path.rglob("*.nbi")), "nothing was compiled into the empty cache"
    assert "Numba" not in run.stderr, run.stderr[-3000:]


def test_memoised_geometry_follows_every_change_of_a_call():
    """Identical calls share a memoised geometry (plan, stacked rows, gathered taps); a call
    that differs in its taps only, in the planes' count or in the thread count gets its own:
    every result still matches the oracle, the filter's new taps included."""
    rng = np.random.default_rng(21)
    dt = np.float64
    before = numba.get_num_threads()
    memo = K._kernel._PREPARED
    try:
        for nthreads in sorted({1, before}):
            numba.set_num_threads(nthreads)
            for planes in (3, 40):  # (40 one-row planes stack)
                x = rng.standard_normal((planes, 1, 23)).astype(dt)
                one = np.ones(1, dt)
                for _ in range(2):  # same shapes, new taps
                    fu = (rng.standard_normal(6).astype(dt), one, None)
                    fd = (rng.standard_normal(5).astype(dt), one, None)
                    args = ((2, 1), (2, 1), (3, 2, 0, 0))
                    got = K.upfirdn(x, *fu, *args)
                    np.testing.assert_allclose(got, oracle_upfirdn(x, *fu, *args), **tol(dt))
                    y, _ = K.filtered_act_forward(x, None, 1, fu, fd, *args, 1.5, K.ACT_LRELU,
                                                  0.2, np.inf, False)
                    ref = oracle_forward(x, None, 1, fu, fd, *args, 1.5, K.ACT_LRELU, 0.2,
                                         np.inf)[0]
                    np.testing.assert_allclose(y, ref, **tol(dt))
                    y_any = K.filtered_act_any_forward(
                        x, None, 1, fu, fd, *args, (0, 0, 0, 0), K.EXT_NONE, 1.5,
                        K.ACT_ALL_CODES["lrelu"], 0.2, None, None, np.inf)
                    np.testing.assert_allclose(y_any, ref, **tol(dt))
                    n = len(memo)
                    K.upfirdn(x, *fu, *args)  # an identical call adds nothing
                    assert len(memo) == n
    finally:
        numba.set_num_threads(before)


_SERIAL_PROBE = r"""
import numba, numpy as np
from bandlimit.ops import _numba as K
from bandlimit.ops._numba import _kernel
assert numba.get_num_threads() == 2
seen = []
kernel = _kernel.plane_kernel

def spy(*args):
    seen.append(numba.get_num_threads())
    return kernel(*args)

_kernel.plane_kernel = spy
rng = np.random.default_rng(5)
f = rng.standard_normal(12)
one = np.ones(1)
out = {}
for name, shape in (("small", (16, 1, 64)), ("large", (64, 40, 40)), ("one", (1, 200, 200))):
    x = rng.standard_normal(shape)
    fy = one if shape[1] == 1 else f
    for limit in (_kernel.SERIAL_WORK, 0):  # as shipped; never serial
        _kernel.SERIAL_WORK = limit
        out[name, limit] = K.upfirdn(x, f, fy, None, (2, 2), (1, 1), (6, 5, 6, 5)
                                     if shape[1] > 1 else (6, 5, 0, 0))
        assert numba.get_num_threads() == 2  # restored
    _kernel.SERIAL_WORK = 1 << 17
for name in ("small", "large", "one"):
    assert np.array_equal(out[name, 1 << 17], out[name, 0]), name
print(seen)

def boom(*args):
    raise RuntimeError("boom")

_kernel.plane_kernel = boom
try:
    K.upfirdn(rng.standard_normal((2, 1, 8)), f, one, None, (2, 1), (1, 1), (6, 5, 0, 0))
except RuntimeError:
    pass
assert numba.get_num_threads() == 2, "not restored after a failed launch"
"""


def test_small_launches_run_on_the_calling_thread_alone(tmp_path):
    """A launch too small to pay for a second thread runs with one (a busy machine made a
    0.1 ms call take 5 ms waiting for a thread that was not scheduled), and so does a large one
    of a single plane (the parallel loop's unit), with the same result bit for bit as on two,
    and the caller's thread count back afterwards, also when the launch fails; a large launch
    of many planes keeps every thread. (A process of its own: the suite's workers have one
    thread.)"""
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    run = subprocess.run([sys.executable, "-c", _SERIAL_PROBE], env=env, capture_output=True,
                         text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["[1,", "2,", "2,", "2,", "1,", "1]"], run.stdout
