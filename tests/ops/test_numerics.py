"""Numerics: every backend equals the naive float64 oracle (values, and first-order gradients).

Tolerances are relative to the magnitude of the summed terms (the oracle run on absolute values),
the scale that floating-point error actually grows with: ~1e-10 in float64, ~1e-5 in float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import bandlimit.ops as ops
from bandlimit.filters import resample_filter

from . import oracle
from .strategies import (
    DTYPES,
    IMPLS,
    RTOL,
    assert_close,
    bias_act_cases,
    conv2d_resample_cases,
    filtered_lrelu_cases,
    gains,
    resample_cases,
    rounded,
    to_torch,
    upfirdn1d_cases,
    upfirdn2d_cases,
)

impls = pytest.mark.parametrize("impl", IMPLS)


def _abs(a):
    return None if a is None else np.abs(a)


def _filter_dtype(dtype):
    # Filters are handed over in the data's dtype, so that "gain in the filter's precision" (the
    # official order) and "gain in the data's precision" coincide.
    return np.float32 if dtype == torch.float32 else np.float64


def _f(a, dtype):
    return None if a is None else np.asarray(a, dtype=_filter_dtype(dtype))


def _max(a) -> float:
    return float(np.abs(a).max(initial=0.0))


# ---------------------------------------------------------------------------------------------
# upfirdn2d / upfirdn1d


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=upfirdn2d_cases())
def test_upfirdn2d_matches_oracle(impl, dtype, case):
    x, f = rounded(case.x, dtype), _f(case.f, dtype)
    expected = oracle.upfirdn2d(x, f, **case.kwargs)
    scale = _max(oracle.upfirdn2d(np.abs(x), _abs(f), **case.kwargs))
    y = ops.upfirdn2d(to_torch(x, dtype), to_torch(f, dtype), impl=impl, **case.kwargs)
    assert y.dtype == dtype
    assert_close(y, expected, RTOL[dtype], scale, "upfirdn2d")


@impls
@given(case=upfirdn2d_cases())
def test_upfirdn2d_gradient_matches_oracle(impl, case):
    x = to_torch(case.x).requires_grad_(True)
    y = ops.upfirdn2d(x, to_torch(case.f), impl=impl, **case.kwargs)
    dy = np.random.default_rng(case.seed + 1).standard_normal(tuple(y.shape))
    (dx,) = torch.autograd.grad(y, x, to_torch(dy))
    expected = oracle.upfirdn2d_vjp(case.x.shape, dy, case.f, **case.kwargs)
    scale = _max(oracle.upfirdn2d_vjp(case.x.shape, np.abs(dy), _abs(case.f), **case.kwargs))
    assert_close(dx, expected, RTOL[torch.float64], scale, "upfirdn2d dx")


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=upfirdn1d_cases())
def test_upfirdn1d_matches_oracle(impl, dtype, case):
    x, f = rounded(case.x, dtype), _f(case.f, dtype)
    expected = oracle.upfirdn1d(x, f, **case.kwargs)
    scale = _max(oracle.upfirdn1d(np.abs(x), _abs(f), **case.kwargs))
    y = ops.upfirdn1d(to_torch(x, dtype), to_torch(f, dtype), impl=impl, **case.kwargs)
    assert y.dtype == dtype
    assert_close(y, expected, RTOL[dtype], scale, "upfirdn1d")


@impls
@given(case=upfirdn1d_cases())
def test_upfirdn1d_gradient_matches_oracle(impl, case):
    x = to_torch(case.x).requires_grad_(True)
    y = ops.upfirdn1d(x, to_torch(case.f), impl=impl, **case.kwargs)
    dy = np.random.default_rng(case.seed + 1).standard_normal(tuple(y.shape))
    (dx,) = torch.autograd.grad(y, x, to_torch(dy))
    expected = oracle.upfirdn1d_vjp(case.x.shape, dy, case.f, **case.kwargs)
    scale = _max(oracle.upfirdn1d_vjp(case.x.shape, np.abs(dy), _abs(case.f), **case.kwargs))
    assert_close(dx, expected, RTOL[torch.float64], scale, "upfirdn1d dx")


@impls
@given(case=upfirdn2d_cases(max_hw=6))
def test_upfirdn2d_upfirdn1d_agree_on_single_rows(impl, case):
    # A [1, w] filter with y factors 1 and no y padding filters each row as upfirdn1d does.
    x = case.x[:, :, :1, :]
    f = None if case.f is None else case.f.reshape(-1)[None, :]
    ux, dx = (case.kwargs["up"], case.kwargs["down"])
    ux = ux[0] if isinstance(ux, list) else ux
    dx = dx[0] if isinstance(dx, list) else dx
    K = 1 if f is None else f.shape[1]
    kw = dict(flip_filter=case.kwargs["flip_filter"], gain=case.kwargs["gain"])
    y2 = ops.upfirdn2d(to_torch(x), to_torch(f), up=(ux, 1), down=(dx, 1),
                       padding=(K - 1, K - 1, 0, 0), impl=impl, **kw)
    y1 = ops.upfirdn1d(to_torch(x[:, :, 0]), to_torch(None if f is None else f[0]), up=ux, down=dx,
                       padding=(K - 1, K - 1), impl=impl, **kw)
    torch.testing.assert_close(y2[:, :, 0], y1, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# filtered_lrelu


def _flrelu_scale(x, fu, fd, b, kw):
    """Magnitude of the summed terms: the linear part of the op on absolute values."""
    akw = dict(kw, slope=1.0, clamp=None)
    return _max(oracle.filtered_lrelu(np.abs(x), _abs(fu), _abs(fd), _abs(b), **akw))


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=filtered_lrelu_cases())
def test_filtered_lrelu_matches_oracle(impl, dtype, case):
    x, b = rounded(case.x, dtype), rounded(case.b, dtype)
    fu, fd = _f(case.fu, dtype), _f(case.fd, dtype)
    expected = oracle.filtered_lrelu(x, fu, fd, b, **case.kwargs)
    scale = _flrelu_scale(x, fu, fd, b, case.kwargs)
    y = ops.filtered_lrelu(to_torch(x, dtype), to_torch(fu, dtype), to_torch(fd, dtype),
                           to_torch(b, dtype), impl=impl, **case.kwargs)
    assert y.dtype == dtype
    assert_close(y, expected, RTOL[dtype], scale, "filtered_lrelu")


@impls
@settings(max_examples=15)
@given(case=filtered_lrelu_cases(max_hw=8))
def test_filtered_lrelu_gradient_matches_oracle(impl, case):
    # Random data keeps every x-dependent pre-activation away from the kinks (0, ±clamp), so the
    # gradient is unambiguous; values that are structurally exactly 0 do not reach x.
    kw = case.kwargs
    a, _ = oracle.filtered_lrelu_preactivation(case.x, case.fu, case.fd, case.b, **kw)
    margin = np.abs(a[a != 0]).min(initial=np.inf)
    if kw["clamp"] is not None:
        margin = min(margin, np.abs(np.abs(np.where(a < 0, a * kw["slope"], a)) - kw["clamp"])
                     .min(initial=np.inf))
    assume(margin > 1e-9)
    x = to_torch(case.x).requires_grad_(True)
    b = None if case.b is None else to_torch(case.b).requires_grad_(True)
    y = ops.filtered_lrelu(x, to_torch(case.fu), to_torch(case.fd), b, impl=impl, **kw)
    dy = np.random.default_rng(case.seed + 1).standard_normal(tuple(y.shape))
    grads = torch.autograd.grad(y, [x] if b is None else [x, b], to_torch(dy))
    dx, db = oracle.filtered_lrelu_vjp(case.x, dy, case.fu, case.fd, case.b, **kw)
    scale = max(1.0, _max(dx))
    assert_close(grads[0], dx, 1e-9, scale, "filtered_lrelu dx")
    if b is not None:
        assert_close(grads[1], db, 1e-9, max(1.0, _max(db)), "filtered_lrelu db")


# ---------------------------------------------------------------------------------------------
# bias_act


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=bias_act_cases())
def test_bias_act_matches_oracle(impl, dtype, case):
    x, b = rounded(case.x, dtype), rounded(case.b, dtype)
    expected = oracle.bias_act(x, b, **case.kwargs)
    y = ops.bias_act(to_torch(x, dtype), to_torch(b, dtype), impl=impl, **case.kwargs)
    assert y.dtype == dtype
    assert_close(y, expected, RTOL[dtype], None, f"bias_act {case.kwargs}")


@impls
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_bias_act_without_bias_takes_any_shape(impl, shape):
    """dim only places b: without b, a 0-d or 1-d x works whatever dim says."""
    x = torch.linspace(-2, 2, max(1, int(np.prod(shape))), dtype=torch.float64).reshape(shape)
    y = ops.bias_act(x, act="lrelu", clamp=1.0, impl=impl)
    ref = oracle.bias_act(x.numpy(), None, dim=0, act="lrelu", alpha=0.2, gain=2**0.5, clamp=1.0)
    assert y.shape == x.shape
    assert_close(y, ref, RTOL[torch.float64], None, f"bias_act on {shape}")


@impls
def test_bias_act_takes_silu_as_swish(impl):
    """'silu' (PyTorch's name, which the filtered ops take) was refused by bias_act."""
    x = torch.linspace(-4, 4, 9, dtype=torch.float64)
    torch.testing.assert_close(ops.bias_act(x, act="silu", gain=1.0, impl=impl),
                               torch.nn.functional.silu(x))
    assert torch.equal(ops.bias_act(x, act="silu", impl=impl),
                       ops.bias_act(x, act="swish", impl=impl))


@impls
@given(case=bias_act_cases())
def test_bias_act_gradients_match_oracle(impl, case):
    kw = case.kwargs
    u = case.x if case.b is None else case.x + np.expand_dims(
        case.b, tuple(i for i in range(case.x.ndim) if i != kw["dim"]))
    assume(np.abs(u).min() > 1e-6)  # away from the kinks of relu/lrelu/elu/selu
    if kw["clamp"] is not None:
        y = oracle.bias_act(case.x, case.b, **dict(kw, clamp=None))
        assume(np.abs(np.abs(y) - kw["clamp"]).min() > 1e-6)
    rng = np.random.default_rng(case.seed + 1)
    dy, v = rng.standard_normal((2, *case.x.shape))
    x = to_torch(case.x).requires_grad_(True)
    b = None if case.b is None else to_torch(case.b).requires_grad_(True)
    y = ops.bias_act(x, b, impl=impl, **kw)
    grads = torch.autograd.grad(y, [x] if b is None else [x, b], to_torch(dy), create_graph=True)
    dx, db, ggx_expected = oracle.bias_act_grads(case.x, case.b, dy, v, **kw)
    assert_close(grads[0], dx, 1e-10, None, f"bias_act dx {kw}")
    if b is not None:
        assert_close(grads[1], db, 1e-10, None, f"bias_act db {kw}")
    ggx = None
    if grads[0].requires_grad:  # else dx does not depend on x (e.g. a linear activation)
        (ggx,) = torch.autograd.grad(grads[0], x, to_torch(v), allow_unused=True)
    if ggx is None:
        ggx = torch.zeros_like(x)
    assert_close(ggx, ggx_expected, 1e-10, None, f"bias_act ggx {kw}")


# ---------------------------------------------------------------------------------------------
# Convenience wrappers against their definitions


@st.composite
def _setup_filter_args(draw):
    kind = draw(st.sampled_from(["none", "scalar", "1d", "2d"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "none":
        f = None
    elif kind == "scalar":
        f = float(rng.uniform(0.5, 2))
    elif kind == "1d":
        f = rng.uniform(0.1, 1, size=draw(st.integers(1, 12))).tolist()
    else:
        f = rng.uniform(0.1, 1, size=(draw(st.integers(1, 6)), draw(st.integers(1, 6)))).tolist()
    sep = draw(st.sampled_from([None, True, False]) if kind == "1d" else st.sampled_from(
        [None, False]))
    return f, dict(normalize=draw(st.booleans()), flip_filter=draw(st.booleans()),
                   gain=draw(gains), separable=sep)


@given(args=_setup_filter_args())
def test_setup_filter_matches_definition(args):
    f, kw = args
    out = ops.setup_filter(f, **kw)
    expected = oracle.setup_filter(f, **kw)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-7)


@st.composite
def _wrapper_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 2)),
                             draw(st.integers(1, 9)), draw(st.integers(1, 9))))
    kind = draw(st.sampled_from(["none", "1d", "2d"]))
    f = {"none": None, "1d": rng.standard_normal(draw(st.integers(1, 9))),
         "2d": rng.standard_normal((draw(st.integers(1, 6)), draw(st.integers(1, 6))))}[kind]
    form = draw(st.sampled_from(["int", "pair", "quad"]))
    p = st.integers(-1, 3)
    padding = {"int": draw(p), "pair": [draw(p), draw(p)],
               "quad": [draw(p), draw(p), draw(p), draw(p)]}[form]
    factor = draw(st.integers(1, 4)) if draw(st.booleans()) else [draw(st.integers(1, 4)),
                                                                    draw(st.integers(1, 4))]
    kw = dict(padding=padding, flip_filter=draw(st.booleans()), gain=draw(gains))
    return x, f, factor, kw


@impls
@pytest.mark.parametrize("fn", ["filter2d", "upsample2d", "downsample2d"])
@given(case=_wrapper_case())
def test_wrappers_match_definition(impl, fn, case):
    x, f, factor, kw = case
    if fn == "upsample2d":
        kw = dict(kw, up=factor)
    elif fn == "downsample2d":
        kw = dict(kw, down=factor)
    try:
        expected = getattr(oracle, fn)(x, f, **kw)
    except ValueError:  # empty output for these sizes: not a valid case
        assume(False)
    scale = _max(getattr(oracle, fn)(np.abs(x), _abs(f), **kw))
    y = getattr(ops, fn)(to_torch(x), to_torch(f), impl=impl, **kw)
    assert_close(y, expected, RTOL[torch.float64], scale, fn)


@impls
def test_filter2d_keeps_the_size_and_upsample_downsample_scale_it(impl):
    x = to_torch(np.random.default_rng(0).standard_normal((1, 2, 7, 10)))
    for taps in range(1, 9):
        f = ops.setup_filter([1.0] * taps)
        assert tuple(ops.filter2d(x, f, impl=impl).shape) == (1, 2, 7, 10)
        assert tuple(ops.upsample2d(x, f, up=2, impl=impl).shape) == (1, 2, 14, 20)
        assert tuple(ops.downsample2d(x, f, down=2, impl=impl).shape) == (1, 2, 3, 5)
    # A normalised box filter keeps a constant image constant in the interior.
    ones = torch.ones(1, 1, 8, 8, dtype=torch.float64)
    f = ops.setup_filter([1, 3, 3, 1])
    y = ops.upsample2d(ones, f, impl=impl)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.ones_like(y[..., 2:-2, 2:-2]))
    y = ops.downsample2d(ones, f, impl=impl)
    torch.testing.assert_close(y[..., 1:-1, 1:-1], torch.ones_like(y[..., 1:-1, 1:-1]))


# ---------------------------------------------------------------------------------------------
# conv2d_resample against its definition


def _conv2d_resample_oracle(case, x, w, f):
    expected = oracle.conv2d_resample(x, w, f, **case.kwargs)
    scale = _max(oracle.conv2d_resample(np.abs(x), np.abs(w), _abs(f), **case.kwargs))
    return expected, scale


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=conv2d_resample_cases())
def test_conv2d_resample_matches_oracle(impl, dtype, case):
    x, w, f = rounded(case.x, dtype), rounded(case.extra["w"], dtype), _f(case.f, dtype)
    expected, scale = _conv2d_resample_oracle(case, x, w, f)
    y = ops.conv2d_resample(to_torch(x, dtype), to_torch(w, dtype), to_torch(f, dtype),
                            impl=impl, **case.kwargs)
    assert y.dtype == dtype
    assert_close(y, expected, RTOL[dtype], scale, "conv2d_resample")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("up", "down"), [(2, 1), (1, 2), (1, 1)])
def test_conv2d_resample_in_half_precision_with_a_float32_filter(up, down, dtype):
    """StyleGAN's half-precision layers pass their float32 filter buffer with float16 images:
    the result keeps the images' dtype, within its rounding of the float64 definition."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((3, 4, 3, 3)) / 6
    f = ops.setup_filter([1, 3, 3, 1])
    x16, w16 = to_torch(x, dtype), to_torch(w, dtype)
    y = ops.conv2d_resample(x16, w16, f, up=up, down=down, padding=1)
    assert y.dtype == dtype
    expected = oracle.conv2d_resample(rounded(x, dtype), rounded(w, dtype), f.double().numpy(),
                                      up=up, down=down, padding=1)
    scale = _max(oracle.conv2d_resample(np.abs(x), np.abs(w), f.double().numpy(), up=up,
                                        down=down, padding=1))
    assert_close(y, expected, 2e-2 if dtype == torch.bfloat16 else 4e-3, scale,
                 "conv2d_resample")


@pytest.mark.parametrize(("up", "down"), [(2, 1), (1, 2), (1, 1)])
def test_conv2d_resample_of_channels_last_and_strided_inputs(up, down):
    """A channels_last image gives a channels_last result; transposed, sliced or channels_last
    inputs and weights give the values of their contiguous copies."""
    rng = np.random.default_rng(4)
    x = to_torch(rng.standard_normal((2, 3, 10, 12)))
    w = to_torch(rng.standard_normal((4, 3, 3, 3)))
    f = ops.setup_filter([1, 2, 1])
    expected = ops.conv2d_resample(x, w, f, up=up, down=down, padding=1)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    y = ops.conv2d_resample(x_cl, w, f, up=up, down=down, padding=1)
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, expected)
    x_t = x.transpose(2, 3).contiguous().transpose(2, 3)  # (W, H strides swapped)
    w_t = w.transpose(0, 1).contiguous().transpose(0, 1)  # (channel strides swapped)
    x_big = to_torch(rng.standard_normal((2, 6, 10, 12)))
    x_big[:, ::2] = x
    w_cl = w.contiguous(memory_format=torch.channels_last)
    for xi, wi in ((x_t, w), (x, w_t), (x_big[:, ::2], w), (x_cl, w_cl)):
        torch.testing.assert_close(
            ops.conv2d_resample(xi, wi, f, up=up, down=down, padding=1), expected)


@pytest.mark.parametrize(("up", "down", "k"), [(2, 1, 3), (1, 2, 3), (1, 2, 1), (1, 1, 3),
                                               (4, 1, 1), (3, 1, 5), (1, 4, 5)])
@pytest.mark.parametrize("taps", [[1, 3, 3, 1], [1, 2, 1], [1, 1, 1, 1, 1, 1]])
def test_conv2d_resample_is_aligned_as_upsample2d_and_downsample2d(up, down, k, taps):
    """With the "same" padding k // 2 and a centred one-tap weight, the op is upsample2d (up),
    downsample2d (down) or the identity: it keeps the image aligned, as StyleGAN2's layers
    rely on. (With both factors, its single padding differs from the two ops' at the borders.)"""
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 3, 9, 12)))
    w = torch.zeros(3, 3, k, k, dtype=torch.float64)
    w[range(3), range(3), k // 2, k // 2] = 1.0
    f = ops.setup_filter(taps)
    y = ops.conv2d_resample(x, w, f, up=up, down=down, padding=k // 2)
    expected = x if up == down == 1 else (
        ops.upsample2d(x, f, up=up) if up > 1 else ops.downsample2d(x, f, down=down))
    torch.testing.assert_close(y, expected)


# ---------------------------------------------------------------------------------------------
# resample_poly: scipy.signal.resample_poly is the reference.


@impls
@pytest.mark.parametrize("dtype", DTYPES)
@given(case=resample_cases())
def test_resample_poly_matches_scipy(impl, dtype, case):
    x = rounded(case.x, dtype)
    kw = dict(case.kwargs)
    window = kw.pop("window", ("kaiser", 5.0)) if case.f is None else _f(case.f, dtype)
    axis = case.extra["axis"]
    expected = scipy.signal.resample_poly(x, axis=axis, window=window, **kw)
    taps = to_torch(window, dtype) if case.f is not None else window
    y = ops.resample_poly(to_torch(x, dtype), dim=axis, window=taps, impl=impl, **kw)
    assert y.dtype == dtype and y.shape == expected.shape
    # Error scale: the input's (or the extension's, for 'line'/'smooth'/'antireflect'/cval,
    # which can exceed it) magnitude times the taps' absolute sum per output phase.
    up = kw["up"] // np.gcd(kw["up"], kw["down"])
    h = case.f if case.f is not None else resample_filter(kw["up"], kw["down"], window).numpy()
    scale = (_max(x) + _max(expected) + abs(kw.get("cval", 0))) * max(1.0, np.abs(h).sum() * up)
    assert_close(y, expected, RTOL[dtype], scale, "resample_poly")


@impls
def test_resample_poly_along_several_axes_is_scipy_per_axis(impl):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 11, 9))
    expected = scipy.signal.resample_poly(x, 3, 2, axis=2, padtype="reflect")
    expected = scipy.signal.resample_poly(expected, 4, 5, axis=3, padtype="reflect")
    y = ops.resample_poly(to_torch(x), (3, 4), (2, 5), dim=(-2, -1), padtype="reflect", impl=impl)
    assert_close(y, expected, RTOL[torch.float64], _max(x) * 4, "resample_poly 2-D")
    # Equal factors (after the gcd) leave the data alone: a copy, not the input itself.
    z = to_torch(x)
    same = ops.resample_poly(z, 6, 6, impl=impl)
    assert torch.equal(same, z) and same.data_ptr() != z.data_ptr()


def test_resample_poly_removes_what_the_lower_rate_cannot_hold():
    """Band limitation, the point of the filter: a tone above the output's Nyquist frequency is
    attenuated by the Kaiser design's stop band, one below it passes."""
    t = torch.arange(4000, dtype=torch.float64)
    # Frequencies in cycles per input sample; β = 5 stops ≈ 55 dB.
    for freq, lo, hi in ((0.05, 0.99, 1.01), (0.4, 0.0, 2e-3)):
        y = ops.resample_poly(torch.sin(2 * torch.pi * freq * t), 1, 2)  # new Nyquist: 0.25
        amplitude = (2 * y[200:-200].square().mean()).sqrt().item()  # of the sampled sine
        assert lo <= amplitude <= hi, (freq, amplitude)


@impls
@pytest.mark.parametrize(("up", "down"), [(1001, 1000), (441, 80), (3, 700)])
def test_resample_poly_with_hundreds_of_phases_matches_scipy(impl, up, down):
    """Hundreds of output phases (8 kHz -> 44.1 kHz is 441/80): 'ref' used to fall back to
    building the signal at `up` times the rate there (seconds, gigabytes)."""
    x = np.random.default_rng(3).standard_normal((2, 37))
    expected = scipy.signal.resample_poly(x, up, down, axis=-1)
    y = ops.resample_poly(to_torch(x), up, down, impl=impl)
    assert_close(y, expected, RTOL[torch.float64], _max(x) * 4, "resample_poly")


@pytest.mark.parametrize("padtype", ["line", "smooth", "reflect", "antireflect", "symmetric",
                                     "wrap", "antisymmetric"])
def test_resample_poly_of_one_sample_extends_it_by_its_value(padtype):
    """Where scipy has no defined answer for one sample (NaN, garbage, a crash: 'line',
    'smooth', 'reflect', 'antireflect'), the documented answer: the value repeated ('edge')."""
    x = torch.tensor([[2.5], [-1.0]], dtype=torch.float64)
    edge = ops.resample_poly(x, 3, 2, padtype="edge")
    y = ops.resample_poly(x, 3, 2, padtype=padtype)
    if padtype == "antisymmetric":  # -x beyond each end, as scipy
        expected = scipy.signal.resample_poly(x.numpy(), 3, 2, axis=-1, padtype=padtype)
        assert_close(y, expected, RTOL[torch.float64], 4.0, padtype)
    else:
        torch.testing.assert_close(y, edge, rtol=0, atol=1e-15)


def test_resample_poly_median_of_a_signal_with_nan_is_nan():
    """Sorting puts NaN last, so the middle values hid it: scipy (numpy's median) gives NaN for
    every output of such a signal; so does resample_poly, and not for the other signals."""
    x = torch.randn(2, 9, dtype=torch.float64)
    x[0, 4] = math.nan
    y = ops.resample_poly(x, 2, 1, padtype="median")
    expected = scipy.signal.resample_poly(x.numpy(), 2, 1, axis=-1, padtype="median")
    assert torch.isnan(y[0]).all() and np.isnan(expected[0]).all()
    assert_close(y[1:], expected[1:], RTOL[torch.float64], 4.0, "median")


def test_resample_poly_of_an_empty_signal_stays_on_the_graph():
    x = torch.zeros(3, 0, dtype=torch.float64, requires_grad=True)
    y = ops.resample_poly(x, 2, 3)
    assert y.shape == (3, 0) and y.requires_grad
    x = torch.zeros(0, 5, requires_grad=True)
    y = ops.resample_poly(x, 2, 3)
    assert y.shape == (0, 4) and y.requires_grad


def test_resample_poly_window_as_a_number_is_the_kaiser_beta():
    x = np.random.default_rng(4).standard_normal(40)
    expected = scipy.signal.resample_poly(x, 3, 2, window=8.0)
    y = ops.resample_poly(to_torch(x), 3, 2, window=8.0)
    assert_close(y, expected, RTOL[torch.float64], 4.0, "kaiser beta 8")


@impls
@pytest.mark.parametrize(("up", "down", "length"), [(2, 3, 5000), (1, 7, 3001), (5, 1, 700),
                                                   (1, 3, 193), (2, 3, 193), (5, 1, 321)])
def test_upfirdn1d_long_rows_match_oracle(impl, up, down, length):
    """Rows longer than numba's copy tiles (64 samples per phase: 192 input samples at 3
    phases), where the Hypothesis cases' short rows fit in one tile; and one sample past a
    whole tile (64 · phases + 1: a tile loop that stops a tile early misses it)."""
    rng = np.random.default_rng(length)
    x, f = rng.standard_normal((1, 2, length)), rng.standard_normal(9)
    kw = dict(up=up, down=down, padding=(4, 3))
    expected = oracle.upfirdn1d(x, f, **kw)
    y = ops.upfirdn1d(to_torch(x), to_torch(f), impl=impl, **kw)
    assert_close(y, expected, RTOL[torch.float64], _max(oracle.upfirdn1d(np.abs(x), np.abs(f),
                                                                         **kw)), "long rows")


@impls
def test_resample_poly_long_signal_matches_scipy(impl):
    """160/147 over 30000 samples: 147 input phases, several copy tiles."""
    x = np.random.default_rng(5).standard_normal((2, 30000))
    expected = scipy.signal.resample_poly(x, 160, 147, axis=-1)
    y = ops.resample_poly(to_torch(x), 160, 147, impl=impl)
    assert_close(y, expected, RTOL[torch.float64], _max(x) * 4, "resample_poly long")


@impls
@pytest.mark.parametrize(
    ("up", "down", "padding", "taps"),
    [(3, 2, (5, 5), 12), (160, 147, (6, 6), 12), (5, 3, (-4, 2), 7), (2, 7, (9, -3), 20),
     (997, 991, (0, 0), 3), (4, 3, (-30, 40), 9)],
)  # fmt: skip
def test_rational_upfirdn_keeps_the_signals_of_a_batch_apart(impl, up, down, padding, taps):
    """Each signal of a batch is resampled alone: a row 1e150 times louder than its neighbours
    does not reach them, and every row equals its own call (windows, paddings, crops)."""
    rng = np.random.default_rng(up * down)
    x = rng.standard_normal((4, 1, 37))
    x[1::2] *= 1e150
    f = to_torch(rng.random(taps))
    y = ops.upfirdn1d(to_torch(x), f, up=up, down=down, padding=padding, impl=impl)
    for b in range(x.shape[0]):
        alone = ops.upfirdn1d(to_torch(x[b : b + 1]), f, up=up, down=down, padding=padding,
                              impl=impl)  # fmt: skip
        torch.testing.assert_close(y[b : b + 1], alone, rtol=1e-12, atol=0)
