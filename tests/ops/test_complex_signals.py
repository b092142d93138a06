"""Complex signals and filters in the linear ops (upfirdn1d/2d and their wrappers,
resample_poly): scipy's complex results, gradients (Wirtinger, as torch.autograd checks them),
bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.nn import ResamplePoly
from bandlimit.ops import (
    bias_act,
    filtered_act,
    resample_poly,
    setup_filter,
    upfirdn1d,
    upfirdn2d,
    upsample2d,
)
from tests.ops.strategies import IMPLS


def crandn(rng, *shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=25, deadline=None)
@given(up=st.integers(1, 4), down=st.integers(1, 4), k=st.integers(1, 9), n=st.integers(1, 12),
       which=st.sampled_from(["x", "f", "both"]), seed=st.integers(0, 2**31))  # fmt: skip
def test_upfirdn1d_is_scipys_upfirdn_on_complex_data(impl, up, down, k, n, which, seed):
    """scipy's upfirdn is the full convolution of the zero-stuffed signal: ours with K − 1
    zeros padded at both ends, its first samples."""
    rng = np.random.default_rng(seed)
    x = crandn(rng, 2, 3, n) if which != "f" else rng.standard_normal((2, 3, n))
    h = crandn(rng, k) if which != "x" else rng.standard_normal(k)
    y = upfirdn1d(torch.from_numpy(x), torch.from_numpy(h), up, down, k - 1, impl=impl)
    want = scipy.signal.upfirdn(h, x, up, down, axis=-1)
    assert y.dtype == torch.complex128
    np.testing.assert_allclose(y.numpy()[..., : want.shape[-1]], want, atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("separable", [True, False])
def test_upfirdn2d_is_the_full_2d_convolution_of_the_zero_stuffed_image(impl, separable):
    rng = np.random.default_rng(0)
    x = crandn(rng, 2, 2, 5, 6)
    f = crandn(rng, 4) if separable else crandn(rng, 3, 4)
    up, down = (2, 3), (3, 2)  # (x, y)
    kh, kw = (4, 4) if separable else (3, 4)
    y = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up, down,
                  (kw - 1, kw - 1, kh - 1, kh - 1), impl=impl)  # fmt: skip
    xu = np.zeros((2, 2, 5 * up[1], 6 * up[0]), complex)
    xu[:, :, :: up[1], :: up[0]] = x
    f2 = np.outer(f, f) if separable else f
    want = np.array([[scipy.signal.convolve2d(xu[i, c], f2) for c in range(2)] for i in range(2)])
    want = want[:, :, :: down[1], :: down[0]]
    assert y.shape == want.shape
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    # the wrappers take complex images too: complex64 in, complex64 out
    up2 = upsample2d(torch.from_numpy(x).to(torch.complex64), setup_filter([1, 3, 3, 1]))
    real = upsample2d(torch.from_numpy(x.real).float(), setup_filter([1, 3, 3, 1]))
    assert up2.dtype == torch.complex64
    torch.testing.assert_close(up2.real, real)


PADTYPES = ["constant", "mean", "line", "edge", "wrap", "symmetric", "reflect", "antisymmetric",
            "antireflect", "smooth"]  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("padtype", PADTYPES)
def test_resample_poly_is_scipys_on_complex_signals(impl, padtype):
    rng = np.random.default_rng(1)
    x = crandn(rng, 2, 3, 37)
    kw = {"cval": 0.5} if padtype == "constant" else {}
    for up, down, dim in ((3, 2, -1), (2, 5, 1)):
        y = resample_poly(torch.from_numpy(x), up, down, dim, padtype=padtype, impl=impl, **kw)
        want = scipy.signal.resample_poly(x, up, down, axis=dim, padtype=padtype, **kw)
        np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    module = ResamplePoly(3, 2, padtype=padtype, impl=impl, **kw)
    torch.testing.assert_close(module(torch.from_numpy(x)),
                               resample_poly(torch.from_numpy(x), 3, 2, padtype=padtype, **kw))


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_of_complex_signals_and_filters(impl):
    x = torch.randn(1, 2, 6, dtype=torch.complex128, requires_grad=True)
    h = torch.randn(3, dtype=torch.complex128, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, h: upfirdn1d(x, h, 2, 1, 2, impl=impl), (x, h))
    img = torch.randn(1, 1, 4, 5, dtype=torch.complex128, requires_grad=True)
    f = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, f: upfirdn2d(x, f, 2, (1, 2), 1, impl=impl),
                                    (img, f))  # fmt: skip
    assert torch.autograd.gradcheck(lambda x: resample_poly(x, 3, 2, impl=impl), (x,))


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
def test_bad_input():
    x = torch.randn(1, 2, 8, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"complex32 \(chalf\) is not supported"):
        upfirdn1d(x.to(torch.complex32), torch.ones(1))
    with pytest.raises(TypeError, match=r"complex32 \(chalf\) is not supported"):
        resample_poly(x.to(torch.complex32), 2, 1)
    with pytest.raises(TypeError, match=r"no complex dtype"):
        upfirdn1d(torch.randn(1, 2, 8, dtype=torch.bfloat16), torch.ones(2, dtype=torch.complex64))
    with pytest.raises(ValueError, match=r"padtype 'median' takes a statistic that is not linear"):
        resample_poly(x, 2, 1, padtype="median")
    with pytest.raises(ValueError, match=r"x must have shape \[N, C, L\]"):
        upfirdn1d(x[0], torch.ones(1))
    # the activations are not linear: complex input stays an error there
    with pytest.raises(TypeError, match=r"x must have a floating-point dtype, got torch.complex64"):
        bias_act(x, act="lrelu")
    with pytest.raises(TypeError, match=r"floating-point dtype"):
        filtered_act(torch.randn(1, 1, 8, 8, dtype=torch.complex64), None, None)


def test_messages_name_the_callers_arguments():
    """Checked before the parts are split: the shapes and paddings the caller passed."""
    x = torch.randn(1, 3, 8, dtype=torch.complex64)
    with pytest.raises(ValueError, match=r"got shape \(3, 8\)"):
        upfirdn1d(x[0], torch.ones(2))
    with pytest.raises(ValueError, match=r"x must have shape \[N, C, H, W\], got shape \(1, 3,"):
        upfirdn2d(x, torch.ones(2))
    with pytest.raises(ValueError, match=r"padding=\(-4, -4, -4, -4\)"):
        upfirdn2d(torch.randn(1, 1, 4, 4), torch.ones(3, dtype=torch.complex64), padding=-4)
    with pytest.raises(ValueError, match=r"gain"):
        upfirdn2d(torch.randn(1, 1, 4, 4), torch.ones(3, dtype=torch.complex64), gain=-1)


def test_the_wrappers_take_complex_filters():
    from bandlimit.ops import downsample2d, filter2d

    rng = np.random.default_rng(3)
    x = torch.from_numpy(crandn(rng, 1, 2, 6, 7))
    f = torch.from_numpy(crandn(rng, 4))
    torch.testing.assert_close(upsample2d(x, f), upfirdn2d(x, f, 2, 1, (2, 1, 2, 1), gain=4))
    torch.testing.assert_close(downsample2d(x, f), upfirdn2d(x, f, 1, 2, 1))
    torch.testing.assert_close(filter2d(x, f), upfirdn2d(x, f, 1, 1, (2, 1, 2, 1)))


def test_resample_poly_complex_cval_layout_and_a_module_cast_to_complex():
    rng = np.random.default_rng(4)
    x = crandn(rng, 2, 3, 21)
    y = resample_poly(torch.from_numpy(x), 2, 3, padtype="constant", cval=1 - 2j)
    want = scipy.signal.resample_poly(x, 2, 3, axis=-1, padtype="constant", cval=1 - 2j)
    np.testing.assert_allclose(y.numpy(), want, atol=1e-12)
    with pytest.raises(TypeError, match=r"cval must be a real number for a real x"):
        resample_poly(torch.randn(2, 8), 2, 1, cval=1j)
    img = torch.randn(1, 3, 8, 8, dtype=torch.complex64).contiguous(
        memory_format=torch.channels_last)  # fmt: skip
    out = resample_poly(img, 1, 2, dim=(-2, -1))
    assert out.is_contiguous(memory_format=torch.channels_last)
    # .to(complex) keeps a module's taps real (complex signals are filtered by real taps)
    with pytest.warns(UserWarning, match="Complex modules"):  # (torch's, on any .to(complex))
        module = ResamplePoly(3, 2, window=[0.25, 0.5, 0.25]).to(torch.complex64)
    assert not module.taps.is_complex()
    sig = torch.randn(1, 2, 10, dtype=torch.complex64)
    torch.testing.assert_close(module(sig), resample_poly(sig, 3, 2, window=[0.25, 0.5, 0.25]))
