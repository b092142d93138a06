"""Anti-aliased pooling (BlurPool2d, BlurPool1d, BlurPool3d, MaxBlurPool2d): numerics, shifts,
gradients, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.nn import BlurPool1d, BlurPool2d, BlurPool3d, MaxBlurPool2d
from tests.nn.oracle import NP_MODE, np_blurpool, np_blurpool1d, np_blurpool3d
from tests.ops.strategies import IMPLS


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=30, deadline=None)
@given(stride=st.integers(1, 4), k=st.integers(1, 7), h=st.integers(8, 14),
       w=st.integers(8, 14), mode=st.sampled_from(sorted(NP_MODE)), custom=st.booleans(),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_matches_a_float64_loop(impl, stride, k, h, w, mode, custom, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w))
    if custom:  # user taps, separable or full (not symmetric: the orientation matters)
        taps = rng.standard_normal((k,) if seed % 2 else (k, k))
        pool = BlurPool2d(stride=stride, filter=torch.tensor(taps), padding_mode=mode, impl=impl)
        taps = pool.filter.double().numpy()  # (kept in float32)
    else:
        pool = BlurPool2d(k, stride, padding_mode=mode, impl=impl)
        taps = pool.filter.double().numpy()
    y = pool(torch.tensor(x))
    want = np_blurpool(x, taps, stride, mode)
    assert y.shape == (2, 3, -(-h // stride), -(-w // stride)) == want.shape
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-10)


def test_binomial_filters_are_zhangs():
    assert BlurPool2d(kernel_size=3).filter.tolist() == [0.25, 0.5, 0.25]
    assert BlurPool2d(kernel_size=4).filter.tolist() == [0.125, 0.375, 0.375, 0.125]
    assert BlurPool2d(kernel_size=1).filter.tolist() == [1.0]
    taps = BlurPool2d(kernel_size=7).filter.double()
    torch.testing.assert_close(taps * 64, torch.tensor([1, 6, 15, 20, 15, 6, 1.0],
                                                       dtype=torch.float64))  # fmt: skip


def test_a_shift_by_the_stride_shifts_the_output_by_one_and_blurring_reduces_aliasing():
    """Circular padding: shifting the input by ``stride`` shifts the output by one sample
    exactly. An odd shift (which plain subsampling turns into a different image) changes the
    blurred output less than MaxPool2d's."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 32, 32, generator=g, dtype=torch.float64)
    pool = BlurPool2d(4, 2, padding_mode="circular")
    y = pool(x)
    torch.testing.assert_close(pool(x.roll(2, dims=3)), y.roll(1, dims=3))
    odd = x.roll(1, dims=3)

    def change(f):
        a, b = f(x), f(odd)
        return float((a - b).norm() / a.norm())

    blur = MaxBlurPool2d(kernel_size=5, padding_mode="circular").double()
    assert change(blur) < 0.8 * change(lambda t: torch.nn.functional.max_pool2d(t, 2))


@pytest.mark.parametrize("impl", IMPLS)
def test_max_blur_pool_is_a_max_pool_then_blur_pool(impl):
    x = torch.randn(2, 3, 17, 20, dtype=torch.float64)
    m = MaxBlurPool2d(kernel_size=4, stride=3, max_pool_size=3, impl=impl)
    want = BlurPool2d(4, 3, impl=impl)(torch.nn.functional.max_pool2d(x, 3, stride=1))
    torch.testing.assert_close(m(x), want)
    assert m(x).shape == (2, 3, 5, 6)


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients_and_dtypes(impl):
    x = torch.randn(1, 2, 9, 10, dtype=torch.float64, requires_grad=True)
    for mode in ("reflect", "zeros"):
        pool = BlurPool2d(3, 2, padding_mode=mode, impl=impl)
        assert torch.autograd.gradcheck(pool, (x,))
    for dtype in (torch.float32, torch.bfloat16):
        y = BlurPool2d(impl=impl)(torch.randn(1, 2, 8, 8).to(dtype))
        assert y.dtype == dtype and y.shape == (1, 2, 4, 4)
    assert len(BlurPool2d().half().state_dict()) == 0
    assert BlurPool2d().half().filter.dtype == torch.float32  # (taps kept in float32)


def test_bad_input():
    with pytest.raises(ValueError, match="stride must be an int >= 1, got 0"):
        BlurPool2d(stride=0)
    with pytest.raises(ValueError, match=r"padding_mode must be one of .*got 'edge'"):
        BlurPool2d(padding_mode="edge")
    with pytest.raises(ValueError, match=r"filter must be 'binomial', 'kaiser' or a tensor of "
                                         r"taps, got 'gauss'"):
        BlurPool2d(filter="gauss")
    with pytest.raises(ValueError, match=r"filter must have shape \[k\] or \[k, k\], got \(2, 3\)"):
        BlurPool2d(filter=torch.ones(2, 3))
    with pytest.raises(ValueError, match="finite"):
        BlurPool2d(filter=[1.0, float("nan")])
    with pytest.raises(ValueError, match=r"'reflect' needs more than 1 samples .*\(1, 1, 1, 8\)"):
        BlurPool2d()(torch.zeros(1, 1, 1, 8))
    assert BlurPool2d(padding_mode="replicate")(torch.zeros(1, 1, 1, 8)).shape == (1, 1, 1, 4)
    # circular: any size (F.pad wraps at most once: torch's RuntimeError on small maps)
    x = torch.randn(1, 1, 2, 1, dtype=torch.float64)
    got = BlurPool2d(kernel_size=7, padding_mode="circular")(x)
    want = np_blurpool(x.numpy(), BlurPool2d(kernel_size=7).filter.double().numpy(), 2, "circular")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    with pytest.raises(ValueError, match=r"^BlurPool2d takes images \[N, C, H, W\], got shape "
                                         r"\(3, 8, 8\)$"):
        BlurPool2d()(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="max_pool_size=2"):
        MaxBlurPool2d()(torch.zeros(1, 1, 1, 8))


def test_per_axis_strides_bad_input_and_small_unblurred_axes():
    with pytest.raises(ValueError, match=r"stride must be one factor, or per axis \(D, H, W\) 1 "
                                         r"or one common factor s .*got \(1, 2, 3\)"):
        BlurPool3d(stride=(1, 2, 3))
    with pytest.raises(ValueError, match=r"stride must be an int or one int per axis \(H, W\), "
                                         r"got \(2, 2, 2\)"):
        BlurPool2d(stride=(2, 2, 2))
    with pytest.raises(ValueError, match=r"stride\[1\] must be an int >= 1"):
        BlurPool2d(stride=(2, 0))
    with pytest.raises(ValueError, match=r"\[k, k\] filter blurs both axes"):
        BlurPool2d(filter=torch.ones(3, 3) / 9, stride=(1, 2))
    with pytest.raises(ValueError, match=r"'reflect' needs more than 1 samples along H and W "):
        BlurPool3d(stride=(1, 2, 2))(torch.zeros(1, 1, 8, 1, 1))
    with pytest.raises(ValueError, match=r"'reflect' needs more than 1 samples along H for "):
        BlurPool3d(stride=(1, 2, 2))(torch.zeros(1, 1, 8, 1, 8))  # (W is long enough)
    # one frame: the unblurred D axis needs no reflection
    assert BlurPool3d(stride=(1, 2, 2))(torch.zeros(1, 1, 1, 8, 8)).shape == (1, 1, 1, 4, 4)
    pool = BlurPool3d(stride=(1, 2, 2))
    assert pool.output_rate == (0.5, 0.5, 1.0)  # x first
    assert BlurPool2d(stride=(2, 2)).output_rate == 0.5
    assert "stride=(1, 2, 2)" in repr(pool)


def test_positional_arguments_read_as_in_max_blur_pool_and_kornia():
    """(kernel_size, stride), as MaxBlurPool2d and kornia's BlurPool2D take them: code carried
    over from kornia got stride 3 for BlurPool2d(3)."""
    pool, max_pool = BlurPool2d(5, 3), MaxBlurPool2d(5, 3)
    assert pool.filter.numel() == 5 and pool.stride == 3
    assert max_pool.blur.filter.numel() == 5 and max_pool.blur.stride == 3
    assert BlurPool2d(3)(torch.randn(1, 2, 32, 32)).shape == (1, 2, 16, 16)


def test_a_parameter_filter_is_learned_and_other_tensors_are_copied():
    """BlurPool2d(filter=Parameter) kept a non-leaf buffer: no parameter for an optimizer,
    nothing saved, and copy.deepcopy failed. A Parameter is now the module's own; any other
    tensor is copied (its later changes and graph stay outside)."""
    import copy

    p = torch.nn.Parameter(torch.tensor([1.0, 2.0, 1.0]) / 4)
    pool = BlurPool2d(filter=p)
    assert pool.filter is p and list(pool.parameters()) == [p]
    assert list(pool.state_dict()) == ["filter"]
    pool(torch.randn(1, 2, 8, 8)).square().sum().backward()
    assert p.grad is not None and p.grad.abs().sum() > 0
    copy.deepcopy(pool)
    t = torch.tensor([1.0, 2.0, 1.0], requires_grad=True) * 0.25  # a non-leaf
    other = BlurPool2d(filter=t)
    assert list(other.parameters()) == [] and not other.filter.requires_grad
    copy.deepcopy(other)


def test_more_bad_input():
    with pytest.raises(TypeError, match=r"filter must hold real taps, got complex ones"):
        BlurPool2d(filter=torch.tensor([1j, 2]))
    with pytest.raises(TypeError, match=r"filter must hold real taps, got bool ones"):
        BlurPool2d(filter=[True, False])
    big = BlurPool2d(2000).filter.double()  # (its binomial coefficients overflow float64)
    assert torch.isfinite(big).all() and abs(float(big.sum()) - 1) < 1e-6
    assert int(big.argmax()) in (999, 1000)
    # the input's size, not the max pool's output, in the message
    with pytest.raises(ValueError, match=r"x must be at least 3 along H and W \(max_pool_size=2 "
                       r"and the blur's 'reflect' padding 1 more\), got shape \(1, 1, 2, 2\)"):
        MaxBlurPool2d()(torch.zeros(1, 1, 2, 2))
    assert MaxBlurPool2d()(torch.zeros(1, 1, 3, 3)).shape == (1, 1, 1, 1)
    assert MaxBlurPool2d(padding_mode="zeros")(torch.zeros(1, 1, 2, 2)).shape == (1, 1, 1, 1)


@pytest.mark.parametrize(("k", "stride"), [(9, 2), (13, 3), (17, 4), (5, 2), (8, 3)])
def test_kaiser_blur_is_scipys_design_and_filters_as_documented(k, stride):
    """filter='kaiser': scipy's firwin(k, 0.5/s, width=0.5/s), float32; at its default 4·s + 1
    taps ≥ 0.995 of the amplitude below 0.25/s and about −35 dB (≤ −34.9) from 0.75/s on (the
    docstring's numbers), where the binomial of 2·s − 1 taps leaves −17 dB or more."""
    import scipy.signal

    pool = BlurPool2d(k, stride, "kaiser")
    want = scipy.signal.firwin(k, 0.5 / stride, width=0.5 / stride, fs=1)
    np.testing.assert_allclose(pool.filter.double().numpy(), want, rtol=1e-6, atol=1e-7)
    assert pool.filter.dtype == torch.float32 and pool.kernel_size == k

    def gain(taps, f):
        n = np.arange(len(taps))
        return np.abs(np.exp(-2j * np.pi * np.outer(f, n)) @ taps)

    if k == 4 * stride + 1:
        assert BlurPool2d(stride=stride, filter="kaiser").kernel_size == k  # the default
        passband = np.linspace(0, 0.25 / stride, 50)
        stopband = np.linspace(0.75 / stride, 0.5, 200)
        assert gain(want, passband).min() >= 0.995
        assert 20 * np.log10(gain(want, stopband).max()) <= -34.9
        binomial = BlurPool2d(2 * stride - 1, stride).filter.double().numpy()
        assert 20 * np.log10(gain(binomial, stopband).max()) >= -17
    x = torch.randn(1, 2, 16, 16)
    side = -(-15 // stride)  # (a 2 x 2 max pool first: 15 x 15)
    assert MaxBlurPool2d(k, stride, filter="kaiser")(x).shape == (1, 2, side, side)


def test_odd_blurs_keep_the_strided_grid_and_even_ones_shift_it_half_a_sample():
    """A ramp (value = column): output j of an odd, symmetric blur is the ramp at j·stride (the
    grid of the strided layer it replaces); an even one's sits half a sample later."""
    ramp = torch.arange(40.0, dtype=torch.float64).repeat(40, 1)[None, None]
    pools = (BlurPool2d(stride=2, filter="kaiser"), BlurPool2d(3, 2), BlurPool2d(9, 3, "kaiser"))
    for pool in pools:
        out = pool.double()(ramp)[0, 0, 10, 3:8]
        torch.testing.assert_close(out, torch.arange(3, 8, dtype=torch.float64) * pool.stride)
    even = BlurPool2d(8, 2, "kaiser").double()(ramp)[0, 0, 10, 3:8]
    torch.testing.assert_close(even, torch.arange(3, 8, dtype=torch.float64) * 2 + 0.5)


def test_kaiser_blur_bad_input():
    with pytest.raises(ValueError, match=r"filter='kaiser' needs stride >= 2"):
        BlurPool2d(5, 1, "kaiser")
    with pytest.raises(ValueError, match=r"filter must be 'binomial', 'kaiser' or a tensor"):
        BlurPool2d(5, 2, "lanczos")


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=25, deadline=None)
@given(stride=st.integers(1, 4), k=st.integers(1, 9), length=st.integers(10, 30),
       mode=st.sampled_from(sorted(NP_MODE)), kaiser=st.booleans(),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_blur_pool_1d_matches_a_float64_loop(impl, stride, k, length, mode, kaiser, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, length))
    kind = "kaiser" if kaiser and stride > 1 else "binomial"
    pool = BlurPool1d(k, stride, kind, padding_mode=mode, impl=impl)
    y = pool(torch.tensor(x))
    want = np_blurpool1d(x, pool.filter.double().numpy(), stride, mode)
    assert y.shape == (2, 3, -(-length // stride)) == want.shape
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-10)


def test_blur_pool_1d_bad_input():
    with pytest.raises(ValueError, match=r"BlurPool1d takes signals \[N, C, L\], got shape"):
        BlurPool1d()(torch.ones(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"filter must have shape \[k\], got \(3, 3\)"):
        BlurPool1d(filter=torch.ones(3, 3) / 9)
    with pytest.raises(ValueError, match=r"needs more than 1 samples along L"):
        BlurPool1d(3)(torch.ones(1, 1, 1))


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=12, deadline=None)
@given(stride=st.integers(1, 3), k=st.integers(1, 4), d=st.integers(5, 8), h=st.integers(5, 8),
       w=st.integers(5, 8), mode=st.sampled_from(sorted(NP_MODE)),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_blur_pool_3d_matches_a_float64_loop(impl, stride, k, d, h, w, mode, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, d, h, w))
    pool = BlurPool3d(k, stride, padding_mode=mode, impl=impl)
    y = pool(torch.tensor(x))
    want = np_blurpool3d(x, pool.filter.double().numpy(), stride, mode)
    assert y.shape == want.shape == (2, 2, *(-(-n // stride) for n in (d, h, w)))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-10, atol=1e-10)
    assert y.is_contiguous()


def test_blur_pool_3d_gradients_and_bad_input():
    x = torch.randn(1, 2, 5, 6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(BlurPool3d(3, 2, "kaiser", padding_mode="replicate"), (x,))
    with pytest.raises(ValueError, match=r"BlurPool3d takes volumes \[N, C, D, H, W\]"):
        BlurPool3d()(torch.ones(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"filter must have shape \[k\], got \(3, 3\)"):
        BlurPool3d(filter=torch.ones(3, 3) / 9)
    with pytest.raises(ValueError, match=r"along D for kernel_size=5, got shape \(1, 1, 2, 8, 8\)"):
        BlurPool3d(5)(torch.ones(1, 1, 2, 8, 8))


def test_empty_maps_and_a_learned_filter_after_meta_init():
    with pytest.raises(ValueError, match=r"BlurPool1d needs at least one sample along each"):
        BlurPool1d(padding_mode="circular")(torch.randn(1, 1, 0))
    pool = BlurPool1d(3, 2, torch.nn.Parameter(torch.tensor([0.25, 0.5, 0.25])))
    with torch.no_grad():
        pool.filter.fill_(7.0)
    pool.reset_parameters()
    assert pool.filter.tolist() == [0.25, 0.5, 0.25]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "zeros", "circular"])
def test_empty_maps_and_layouts_with_per_axis_strides(mode):
    """No batch or no channels: an empty output of the right size in every padding mode
    (F.pad refused them); channels_last_3d stays so through the per-axis path; a per-axis
    MaxBlurPool2d sizes as nn.MaxPool2d with the same stride, the blur's reflection asked only
    of the blurred axis."""
    assert BlurPool3d(stride=(1, 2, 2), padding_mode=mode)(torch.zeros(1, 0, 4, 8, 7)).shape \
        == (1, 0, 4, 4, 4)
    assert BlurPool2d(padding_mode=mode)(torch.zeros(0, 2, 5, 5)).shape == (0, 2, 3, 3)
    x = torch.randn(1, 2, 4, 8, 8).contiguous(memory_format=torch.channels_last_3d)
    assert BlurPool3d(stride=(1, 2, 2), padding_mode=mode)(x).is_contiguous(
        memory_format=torch.channels_last_3d)
    pool = MaxBlurPool2d(stride=(1, 2), padding_mode=mode)
    for h, w in [(2, 8), (3, 9), (5, 4)]:
        want = torch.nn.MaxPool2d(2, stride=(1, 2))(torch.zeros(1, 1, h, w)).shape
        assert pool(torch.randn(1, 1, h, w)).shape == want
    if mode == "reflect":
        with pytest.raises(ValueError, match=r"at least 2 along H and 3 along W"):
            pool(torch.randn(1, 1, 1, 8))
