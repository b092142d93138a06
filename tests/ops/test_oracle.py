"""The test oracle itself is right: hand-computed cases, scipy, adjoint identities, the vectors.

Every other ops test trusts ``tests/ops/oracle.py``; these tests are what that trust rests on.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given
from hypothesis import strategies as st

from . import oracle
from .strategies import filtered_lrelu_cases, upfirdn1d_cases, upfirdn2d_cases

# ---------------------------------------------------------------------------------------------
# Hand-computed cases


def test_zero_insertion_then_two_tap_sum():
    # xu = [1,0,2,0,3,0]; z[n] = xu[n+1] + xu[n]
    y = oracle.upfirdn1d(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0]), up=2)
    np.testing.assert_array_equal(y, [1, 2, 2, 3, 3])


def test_impulse_response_is_the_filter_in_order():
    # True convolution of an impulse returns the taps in order; correlation reverses them.
    x, f = np.array([1.0, 0, 0, 0]), np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(oracle.upfirdn1d(x, f, padding=(2, 0)), [1, 2, 3, 0])
    np.testing.assert_array_equal(
        oracle.upfirdn1d(x, f, padding=(2, 0), flip_filter=True), [3, 2, 1, 0]
    )


def test_decimation_keeps_samples_from_index_zero():
    x = np.arange(1.0, 6.0)
    np.testing.assert_array_equal(oracle.upfirdn1d(x, None, down=2), [1, 3, 5])
    np.testing.assert_array_equal(oracle.upfirdn1d(x, None, down=2, padding=(-1, 0)), [2, 4])
    np.testing.assert_array_equal(oracle.upfirdn1d(x, None, padding=(2, -3)), [0, 0, 1, 2])


def test_full_2d_filter_is_indexed_y_x():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 0, 0] = 1.0
    f = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = oracle.upfirdn2d(x, f, padding=(1, 0, 1, 0))
    assert y.shape == (1, 1, 3, 3)
    np.testing.assert_array_equal(y[0, 0, :2, :2], f)
    assert np.count_nonzero(y) == 4


def test_gain_conventions():
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 4))
    f = np.array([1.0, 1.0])
    base = oracle.upfirdn2d(x, f)
    # separable: each pass by sqrt(gain); full: once; None: the output is multiplied by gain.
    np.testing.assert_allclose(oracle.upfirdn2d(x, f, gain=4.0), 4 * base, rtol=1e-13)
    np.testing.assert_allclose(oracle.upfirdn2d(x, np.outer(f, f), gain=4.0), 4 * base,
                               rtol=1e-13)
    np.testing.assert_allclose(oracle.upfirdn2d(x, None, gain=3.0), 3 * x, rtol=1e-13)
    np.testing.assert_allclose(oracle.upfirdn1d(x[0], f, gain=3.0),
                               3 * oracle.upfirdn1d(x[0], f), rtol=1e-13)


def test_separable_equals_outer_product_and_axis_order():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 6, 5))
    f = rng.standard_normal(4)
    kw = dict(up=(2, 3), down=(3, 1), padding=(3, -1, 2, 4))
    np.testing.assert_allclose(oracle.upfirdn2d(x, f, **kw), oracle.upfirdn2d(x, np.outer(f, f),
                                                                               **kw), atol=1e-13)
    # A [1, w] filter acts along x only: rows of the image are filtered independently.
    fx = rng.standard_normal((1, 3))
    y = oracle.upfirdn2d(x, fx, padding=(2, 0, 0, 0))
    for r in range(x.shape[2]):
        np.testing.assert_allclose(y[:, :, r], oracle.upfirdn1d(x[:, :, r], fx[0], padding=(2, 0)),
                                   atol=1e-14)


def test_filtered_lrelu_by_hand():
    x = np.array([[[[-1.0, 2.0, -3.0]]]])
    b = np.array([0.5])
    # x + b = [-0.5, 2.5, -2.5]; ×2 = [-1, 5, -5]; lrelu 0.5 = [-0.5, 5, -2.5]; clamp 3.
    y = oracle.filtered_lrelu(x, b=b, gain=2.0, slope=0.5, clamp=3.0)
    np.testing.assert_array_equal(y, [[[[-0.5, 3.0, -2.5]]]])
    # up=2 with no filter: zero insertion and the up² gain; the down stage keeps even samples.
    y = oracle.filtered_lrelu(x, up=2, down=1, gain=1.0, slope=0.25)
    np.testing.assert_array_equal(y[0, 0, 0], [-1, 0, 8, 0, -3, 0])
    assert y.shape == (1, 1, 2, 6)
    np.testing.assert_array_equal(y[0, 0, 1], 0)
    y = oracle.filtered_lrelu(x, up=2, down=2, gain=1.0, slope=0.25)
    np.testing.assert_array_equal(y, [[[[-1.0, 8.0, -3.0]]]])


def test_bias_act_by_hand():
    x = np.array([[-2.0, 0.5], [1.0, -0.25]])
    b = np.array([1.0, -1.0])
    u = x + b  # [[-1, -0.5], [2, -1.25]]
    np.testing.assert_allclose(oracle.bias_act(x, b, act="lrelu"),
                               np.sqrt(2) * np.where(u < 0, 0.2 * u, u), rtol=1e-13)
    # dim=0: x + b = [[-1, 1.5], [0, -1.25]]
    np.testing.assert_allclose(oracle.bias_act(x, b, dim=0, act="relu", gain=1.0, clamp=1.2),
                               [[0, 1.2], [0, 0]], atol=0)
    np.testing.assert_allclose(oracle.bias_act(x, b, act="relu", clamp=1.5),
                               [[0, 0], [1.5, 0]], atol=0)
    np.testing.assert_allclose(oracle.bias_act(x, None, act="swish"),
                               np.sqrt(2) * x / (1 + np.exp(-x)), rtol=1e-13)
    np.testing.assert_allclose(oracle.bias_act(x, None, act="selu", alpha=0.7),
                               torch.selu(torch.from_numpy(x)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(oracle.bias_act(x, None, act="elu", alpha=0.7),
                               torch.nn.functional.elu(torch.from_numpy(x)).numpy(), rtol=1e-14)


def test_bias_act_derivatives_by_finite_differences():
    rng = np.random.default_rng(2)
    x = rng.uniform(-3, 3, size=(4, 3))
    b = rng.uniform(-1, 1, size=3)
    dy, v = rng.standard_normal((2, 4, 3))
    eps = 1e-6
    for act in oracle.ACTIVATIONS:
        dx, db, ggx = oracle.bias_act_grads(x, b, dy, v, act=act)
        fd = (oracle.bias_act(x + eps, b, act=act) - oracle.bias_act(x - eps, b, act=act)) / (
            2 * eps)
        np.testing.assert_allclose(dx, dy * fd, atol=1e-7, err_msg=act)
        np.testing.assert_allclose(db, dx.sum(0), atol=1e-12, err_msg=act)
        g1, _, _ = oracle.bias_act_grads(x + eps, b, dy, v, act=act)
        g0, _, _ = oracle.bias_act_grads(x - eps, b, dy, v, act=act)
        np.testing.assert_allclose(ggx, v * (g1 - g0) / (2 * eps), atol=1e-6, err_msg=act)


# ---------------------------------------------------------------------------------------------
# Independent references


@given(
    L=st.integers(1, 20), K=st.integers(1, 13), up=st.integers(1, 4), down=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_scipy_upfirdn(L, K, up, down, seed):
    # scipy's upsampled signal has no trailing zeros (length (L−1)·up + 1) and it returns the
    # FULL convolution: that is our valid convolution with padding (K − 1, K − 1 − (up − 1)).
    rng = np.random.default_rng(seed)
    x, h = rng.standard_normal(L), rng.standard_normal(K)
    expected = scipy.signal.upfirdn(h, x, up, down)
    y = oracle.upfirdn1d(x, h, up, down, padding=(K - 1, K - up))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@given(
    H=st.integers(1, 9), W=st.integers(1, 9), kh=st.integers(1, 6), kw=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_scipy_convolve2d(H, W, kh, kw, seed):
    rng = np.random.default_rng(seed)
    x, h = rng.standard_normal((H, W)), rng.standard_normal((kh, kw))
    y = oracle.upfirdn2d(x[None, None], h, padding=(kw - 1, kw - 1, kh - 1, kh - 1))[0, 0]
    np.testing.assert_allclose(y, scipy.signal.convolve2d(x, h, mode="full"), atol=1e-12)
    y = oracle.upfirdn2d(x[None, None], h, padding=(kw - 1, kw - 1, kh - 1, kh - 1),
                         flip_filter=True)[0, 0]
    np.testing.assert_allclose(y, scipy.signal.correlate2d(x, h, mode="full"), atol=1e-12)


def test_output_length_formula():
    # The length that falls out of the steps equals the documented formula.
    rng = np.random.default_rng(3)
    for L in range(1, 7):
        for up in range(1, 4):
            for down in range(1, 4):
                for K in range(1, 6):
                    for p0 in range(-3, 4):
                        for p1 in range(-3, 4):
                            n = (L * up + p0 + p1 - K) // down + 1
                            if L * up + p0 + p1 < K:
                                continue
                            y = oracle.upfirdn1d(rng.standard_normal(L), rng.standard_normal(K),
                                                 up, down, (p0, p1))
                            assert y.shape == (n,)


# ---------------------------------------------------------------------------------------------
# Adjoints: <A x, dy> == <x, Aᵀ dy>


@given(upfirdn2d_cases())
def test_upfirdn2d_vjp_is_the_adjoint(case):
    kw = case.kwargs
    y = oracle.upfirdn2d(case.x, case.f, **kw)
    dy = np.random.default_rng(case.seed + 1).standard_normal(y.shape)
    dx = oracle.upfirdn2d_vjp(case.x.shape, dy, case.f, **kw)
    assert dx.shape == case.x.shape
    lhs, rhs = np.vdot(y, dy), np.vdot(case.x, dx)
    assert abs(lhs - rhs) <= 1e-10 * (1 + np.abs(y).sum() * np.abs(dy).max())


@given(upfirdn1d_cases())
def test_upfirdn1d_vjp_is_the_adjoint(case):
    y = oracle.upfirdn1d(case.x, case.f, **case.kwargs)
    dy = np.random.default_rng(case.seed + 1).standard_normal(y.shape)
    dx = oracle.upfirdn1d_vjp(case.x.shape, dy, case.f, **case.kwargs)
    assert dx.shape == case.x.shape
    assert abs(np.vdot(y, dy) - np.vdot(case.x, dx)) <= 1e-10 * (
        1 + np.abs(y).sum() * np.abs(dy).max())


@given(filtered_lrelu_cases(max_hw=6))
def test_filtered_lrelu_vjp_by_finite_differences(case):
    # The op is piecewise linear in (x, b): a small central difference is exact unless it
    # crosses a kink, which random data makes vanishingly unlikely at eps = 1e-7.
    kw = case.kwargs
    rng = np.random.default_rng(case.seed + 1)
    y = oracle.filtered_lrelu(case.x, case.fu, case.fd, case.b, **kw)
    dy = rng.standard_normal(y.shape)
    dx, db = oracle.filtered_lrelu_vjp(case.x, dy, case.fu, case.fd, case.b, **kw)
    t = rng.standard_normal(case.x.shape)
    eps = 1e-7
    yp = oracle.filtered_lrelu(case.x + eps * t, case.fu, case.fd, case.b, **kw)
    ym = oracle.filtered_lrelu(case.x - eps * t, case.fu, case.fd, case.b, **kw)
    scale = 1 + np.abs(dx).sum() * np.abs(t).max()
    assert abs(np.vdot(yp - ym, dy) / (2 * eps) - np.vdot(dx, t)) <= 1e-5 * scale
    if case.b is not None:
        np.testing.assert_allclose(db, dx.sum(axis=(0, 2, 3)), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# The official vectors


def _np(t):
    return None if t is None else t.numpy()


def _upfirdn_vector_kwargs(c):
    keys = {"upfirdn2d": ("up", "down", "padding", "flip_filter", "gain"),
            "filter2d": ("padding", "flip_filter", "gain"),
            "upsample2d": ("up", "padding", "flip_filter", "gain"),
            "downsample2d": ("down", "padding", "flip_filter", "gain")}[c["fn"]]
    return {k: c[k] for k in keys if k in c}


def _close(actual, expected, rtol=1e-10):
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.fixture(scope="module")
def upfirdn_vectors(vectors_dir):
    return torch.load(vectors_dir / "upfirdn2d.pt", weights_only=True)


@pytest.fixture(scope="module")
def flrelu_vectors(vectors_dir):
    return torch.load(vectors_dir / "filtered_lrelu.pt", weights_only=True)


@pytest.fixture(scope="module")
def bias_act_vectors(vectors_dir):
    return torch.load(vectors_dir / "bias_act.pt", weights_only=True)


def test_reproduces_upfirdn2d_vectors(upfirdn_vectors):
    for c in upfirdn_vectors["cases"]:
        fn = getattr(oracle, c["fn"])
        kw = _upfirdn_vector_kwargs(c)
        x, f = _np(c["x"]), _np(c["f"])
        _close(fn(x, f, **kw), _np(c["y"]))
        if c["fn"] == "upfirdn2d":
            dx = oracle.upfirdn2d_vjp(x.shape, _np(c["dy"]), f, **kw)
            _close(dx, _np(c["dx"]))


def test_reproduces_setup_filter_vectors(upfirdn_vectors):
    for c in upfirdn_vectors["setup_filter_cases"]:
        f = oracle.setup_filter(c["f_in"], **c["kwargs"])
        expected = _np(c["f_out"])
        assert f.shape == expected.shape and f.dtype == np.float32
        np.testing.assert_allclose(f, expected, rtol=1e-6, atol=0)
    for c in upfirdn_vectors["cases"]:
        if "setup_filter_args" in c:
            f = oracle.setup_filter(**c["setup_filter_args"])
            np.testing.assert_allclose(f, _np(c["f"]), rtol=1e-6, atol=0)


def test_reproduces_filtered_lrelu_vectors(flrelu_vectors):
    for c in flrelu_vectors["cases"]:
        kw = {k: c[k] for k in ("up", "down", "padding", "gain", "slope", "clamp", "flip_filter")}
        args = (_np(c["x"]), _np(c["fu"]), _np(c["fd"]), _np(c["b"]))
        _close(oracle.filtered_lrelu(*args, **kw), _np(c["y"]))
        dx, db = oracle.filtered_lrelu_vjp(args[0], _np(c["dy"]), *args[1:], **kw)
        _close(dx, _np(c["dx"]))
        if c["db"] is None:
            assert db is None
        else:
            _close(db, _np(c["db"]))


def test_reproduces_bias_act_vectors(bias_act_vectors):
    for c in bias_act_vectors["cases"]:
        kw = {k: c[k] for k in ("dim", "act", "alpha", "gain", "clamp")}
        x, b = _np(c["x"]), _np(c["b"])
        _close(oracle.bias_act(x, b, **kw), _np(c["y"]))
        dx, db, ggx = oracle.bias_act_grads(x, b, _np(c["dy"]), _np(c["v"]), **kw)
        _close(dx, _np(c["dx"]))
        _close(ggx, _np(c["ggx"]))
        if c["db"] is not None:
            _close(db, _np(c["db"]))
