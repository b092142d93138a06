"""bandlimit.testing: signals, strategies and assertions, and property tests of the ops with them.

References: naive float64 loops for the analytic signals, exact integer shifts, ``torch.rot90``;
operators whose (non-)equivariance is known (LTI filters pass; grid-fixed patterns, nearest
upsampling and anisotropic filters under rotation fail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.filters import kaiser_sinc
from bandlimit.metrics.equivariance import psnr, translate_fractional
from bandlimit.ops import filtered_lrelu, upsample2d
from bandlimit.testing import (
    BandlimitedSignal,
    assert_rotation_equivariant,
    assert_translation_equivariant,
    bandlimited_images,
    bandlimited_signals,
    fractional_shift,
    kaiser_sinc_kernel,
    make_bandlimited_signal,
    rotations,
    subpixel_shifts,
)
from tests.defaults import under_default_device_and_dtype

F64 = torch.float64


def sig(seed, size=32, bandwidth=0.2, **kw):
    return make_bandlimited_signal(np.random.default_rng(seed), size, bandwidth=bandwidth, **kw)




# ---------------------------------------------------------------------------------------------
# Signals and strategies


def test_render_matches_a_naive_sum_of_sinusoids():
    s = sig(0, size=(5, 7), batch=2, channels=3, components=4)
    x = s.render(shift=(0.3, -1.2), dtype=F64).numpy()
    for n in range(2):
        for c in range(3):
            for i in range(5):
                for j in range(7):
                    v = sum(
                        a * math.sin(2 * math.pi * (f[0] * (j - 0.3) + f[1] * (i + 1.2) + p))
                        for f, p, a in zip(s.freqs[n, c], s.phases[n, c], s.amplitudes[n, c])
                    )
                    assert x[n, c, i, j] == pytest.approx(v, abs=1e-12)


def test_render_shift_and_rotation_conventions():
    s = sig(1, size=16)
    x = s.render(dtype=F64)
    # Content moves towards +x by a whole pixel.
    torch.testing.assert_close(s.render(shift=(1, 0), dtype=F64)[..., 1:], x[..., :-1])
    torch.testing.assert_close(s.render(shift=(0, -2), dtype=F64)[..., :-2, :], x[..., 2:, :])
    # A quarter turn about the centre is rot90 (counter-clockwise on screen).
    torch.testing.assert_close(s.render(angle=math.pi / 2, dtype=F64),
                               torch.rot90(x, 1, dims=(-2, -1)), rtol=0, atol=1e-12)


def test_one_dimensional_signals():
    s = sig(2, size=(40,), channels=2)
    x = s.render(dtype=F64)
    assert x.shape == (1, 2, 40)
    torch.testing.assert_close(s.render(shift=3, dtype=F64)[..., 3:], x[..., :-3])


@pytest.mark.parametrize("band", ["disc", "square"])
@given(seed=st.integers(0, 2**32 - 1), bw=st.floats(0.01, 0.5))
def test_frequencies_respect_the_bandwidth(band, seed, bw):
    s = sig(seed, size=24, bandwidth=bw, band=band, components=8, batch=2)
    if band == "disc":
        assert s.bandwidth <= bw + 1e-12
    else:
        assert np.abs(s.freqs).max() <= bw + 1e-12
    assert s.render().abs().max() <= 1 + 1e-6


@given(seed=st.integers(0, 2**32 - 1))
def test_periodic_signals_repeat_across_the_grid(seed):
    s = sig(seed, size=(12, 20), bandwidth=0.4, periodic=True, components=5)
    torch.testing.assert_close(s.render(shift=(20, 12), dtype=F64), s.render(dtype=F64),
                               rtol=0, atol=1e-11)
    k = s.freqs * np.array([20, 12])
    np.testing.assert_allclose(k, np.round(k), atol=1e-12)


@given(s=bandlimited_signals(size=(16, 24), batch=2, channels=3, bandwidth=0.3, components=(2, 5)))
def test_bandlimited_signals_strategy(s):
    assert isinstance(s, BandlimitedSignal)
    assert s.shape == (2, 3, 16, 24) and 2 <= s.freqs.shape[2] <= 5
    assert s.bandwidth <= 0.3 + 1e-12


@given(x=bandlimited_images(size=20, channels=2, bandwidth=0.1, dtype=F64))
def test_bandlimited_images_strategy(x):
    assert x.shape == (1, 2, 20, 20) and x.dtype == F64 and x.abs().max() <= 1


@given(d=subpixel_shifts(max_shift=2.5, fractional=True), d1=subpixel_shifts(ndim=1),
       a=rotations(max_angle=1.0))
def test_shift_and_rotation_strategies(d, d1, a):
    assert len(d) == 2 and all(abs(v) <= 2.5 for v in d)
    assert not all(float(v).is_integer() for v in d)
    assert len(d1) == 1 and abs(d1[0]) <= 1
    assert -1 <= a <= 1


def test_strategy_arguments_are_checked_when_built():
    with pytest.raises(ValueError, match=r"bandwidth must be in \(0, 0.5\]"):
        bandlimited_signals(bandwidth=0.6)
    with pytest.raises(TypeError, match="size must be"):
        bandlimited_signals(size=(1, 2, 3, 4))  # (three: a volume)
    with pytest.raises(ValueError, match="components must satisfy"):
        bandlimited_signals(components=(3, 1))
    with pytest.raises(ValueError, match="band must be"):
        bandlimited_images(band="hex")
    # Below one whole cycle across the grid, a periodic signal would be a constant.
    with pytest.raises(ValueError, match=r"keeps only the zero frequency.*bandwidth >= 0\.0625"):
        bandlimited_signals(size=16, bandwidth=0.05, periodic=True)
    with pytest.raises(ValueError, match="a size above 2"):
        bandlimited_signals(size=2, bandwidth=0.5, periodic=True)
    lowest = make_bandlimited_signal(np.random.default_rng(0), (16,), bandwidth=0.0625,
                                     components=8, periodic=True)
    assert set(np.abs(lowest.freqs).ravel()) == {0.0, 0.0625}
    with pytest.raises(ValueError, match="max_shift"):
        subpixel_shifts(max_shift=0)
    with pytest.raises(ValueError, match="ndim must be 1, 2 or 3"):
        subpixel_shifts(ndim=4)
    with pytest.raises(ValueError, match="max_angle"):
        rotations(max_angle=-1.0)
    with pytest.raises(ValueError, match="shift must have 2"):
        sig(0).render(shift=(1.0,))
    with pytest.raises(ValueError, match=r"shift must have 2 .* got 0\.5"):
        sig(0).render(shift=0.5)
    with pytest.raises(TypeError, match="angle must be a real number, got 'a'"):
        sig(0).render(angle="a")
    with pytest.raises(TypeError, match="amplitude must be a real number, got True"):
        bandlimited_signals(amplitude=True)
    with pytest.raises(TypeError, match="degrees must be a bool"):
        rotations(degrees="yes")
    bandlimited_signals(amplitude=np.float32(2.0))  # numpy scalars are numbers too
    subpixel_shifts(max_shift=np.float32(1.5))
    with pytest.raises(TypeError, match=r"ndim must be an int, got 2\.0"):
        subpixel_shifts(ndim=2.0)
    with pytest.raises(TypeError, match="fractional must be a bool, got 'x'"):
        subpixel_shifts(fractional="x")
    with pytest.raises(TypeError, match="periodic must be a bool, got 'yes'"):
        bandlimited_signals(periodic="yes")
    with pytest.raises(TypeError, match=r"batch must be an int >= 1, got 2\.0"):
        bandlimited_signals(batch=2.0)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator .*got None"):
        make_bandlimited_signal(None, 16)


@given(a=rotations(max_angle=30, degrees=True))
def test_rotations_in_degrees_draw_radians(a):
    assert abs(a) <= math.radians(30) + 1e-12


# ---------------------------------------------------------------------------------------------
# fractional_shift


@given(seed=st.integers(0, 2**32 - 1), d=subpixel_shifts(max_shift=6))
def test_fft_shift_is_exact_for_periodic_signals(seed, d):
    s = sig(seed, size=(16, 24), bandwidth=0.45, periodic=True)
    y, m = fractional_shift(s.render(dtype=F64), d, method="fft")
    torch.testing.assert_close(y, s.render(shift=d, dtype=F64), rtol=0, atol=1e-10)
    assert bool((m == 1).all())


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), d=subpixel_shifts(max_shift=4))
def test_sinc_shift_is_accurate_below_three_eighths_of_the_rate(seed, d):
    s = sig(seed, size=48, bandwidth=0.35, band="square")
    y, m = fractional_shift(s.render(dtype=F64), d, method="sinc")
    assert psnr(s.render(shift=d, dtype=F64), y, m) > 90


@given(seed=st.integers(0, 2**32 - 1), dx=st.integers(-4, 4), dy=st.integers(-4, 4))
def test_sinc_shift_by_whole_pixels_is_exact(seed, dx, dy):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 1, 30, 30)))
    y, m = fractional_shift(x, (dx, dy), method="sinc")
    ref = torch.roll(x, (dy, dx), dims=(-2, -1))
    torch.testing.assert_close(y * m, ref * m, rtol=0, atol=1e-12)


def _kaiser_sinc_float64_reference(t, half):
    """The kernel's definition in float64 with I0 itself (finite for small ``half`` only)."""
    beta = float(scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(2 * half, 0.5)))
    r = np.clip(t / half, -1, 1)
    win = np.i0(beta * np.sqrt(1 - r * r)) / np.i0(beta)
    return np.where(np.abs(t) < half, np.sinc(t) * win, 0.0)


def test_kaiser_sinc_kernel_is_unchanged_where_i0_is_finite():
    t = np.linspace(-13, 13, 521)
    for half in (1, 4, 12, 100):
        got = kaiser_sinc_kernel(torch.from_numpy(t), half).numpy()
        np.testing.assert_allclose(got, _kaiser_sinc_float64_reference(t, half), rtol=1e-12,
                                   atol=1e-15)
    got32 = kaiser_sinc_kernel(torch.from_numpy(t).float(), 12)
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), _kaiser_sinc_float64_reference(t, 12), atol=2e-6)


@pytest.mark.parametrize("taps", [1800, 2000, 4096])
def test_sinc_shift_with_thousands_of_taps_is_finite_and_accurate(taps):
    """I0(β) overflows float64 from about 1780 taps (β > 713): every tap was inf / inf = NaN,
    and assert_translation_equivariant then blamed a correct op."""
    half = taps // 2
    assert bool(torch.isfinite(kaiser_sinc_kernel(torch.arange(-half, half) + 0.3, half)).all())
    n = torch.arange(2 * taps + 64, dtype=F64)
    x = torch.sin(2 * math.pi * 0.1 * n) + 0.5 * torch.cos(2 * math.pi * 0.31 * n + 1.0)
    y, m = fractional_shift(x[None, None], 0.5, taps=taps)
    assert int(m.sum()) == n.numel() - taps + 1
    want = torch.sin(2 * math.pi * 0.1 * (n - 0.5)) + 0.5 * torch.cos(
        2 * math.pi * 0.31 * (n - 0.5) + 1.0)
    assert bool(torch.isfinite(y).all())
    torch.testing.assert_close(y[0, 0][m[0, 0] > 0], want[m[0, 0] > 0], rtol=0, atol=1e-9)


def test_fft_shift_of_an_empty_axis_is_empty_like_sinc():
    """'fft' raised torch's 'Invalid number of data points (0)' where 'sinc' handles it."""
    for shape, d in (((1, 0), 0.3), ((2, 0, 5), (0.3, 0.2)), ((1, 4, 0), (0.3, 0.2))):
        x = torch.randn(*shape, dtype=F64)
        for method in ("fft", "sinc"):
            y, m = fractional_shift(x, d, method=method)
            assert y.shape == m.shape == x.shape and y.dtype == x.dtype
            assert y is not x


def test_lanczos_method_is_the_metric_reference_and_1d_works():
    x = torch.randn(1, 2, 20, 20, dtype=F64)
    a = fractional_shift(x, (0.4, -1.3), method="lanczos")
    b = translate_fractional(x, (0.4, -1.3))
    torch.testing.assert_close(a[0], b[0]) and torch.testing.assert_close(a[1], b[1])
    s = sig(3, size=(64,), bandwidth=0.3)
    y, m = fractional_shift(s.render(dtype=F64), 0.37)
    assert psnr(s.render(shift=0.37, dtype=F64), y, m) > 90


def test_render_follows_the_default_dtype_but_not_the_default_device():
    """As documented: ``dtype=None`` is torch's default dtype, ``device=None`` the CPU."""
    s = sig(11, size=(8, 12))
    got = under_default_device_and_dtype(lambda: (s.render(), s.render(dtype=torch.float32)))
    assert [(t.device.type, t.dtype) for t in got] == [("cpu", F64), ("cpu", torch.float32)]
    torch.testing.assert_close(got[1], s.render(), rtol=0, atol=0)


_X32 = sig(12, size=(20, 28), channels=2).render(dtype=torch.float32)


@pytest.mark.parametrize("method", ["sinc", "lanczos", "fft"])
@pytest.mark.parametrize("shift", [(0.4, -1.3), (2.0, 0.25), 0.6])
def test_shifts_do_not_depend_on_the_default_device_and_dtype(method, shift):
    """The interpolators' weights were made on the default device ('meta': 'Cannot copy out of
    meta tensor'); the shift and its mask keep the input's device and dtype, and their values."""
    want = fractional_shift(_X32, shift, method=method, taps=8)
    got = under_default_device_and_dtype(lambda: fractional_shift(_X32, shift, method=method,
                                                                  taps=8))
    for g, w in zip(got, want):
        assert (g.device, g.dtype) == (w.device, w.dtype) == (torch.device("cpu"), torch.float32)
        torch.testing.assert_close(g, w, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Assertions on operators with known behaviour


def box_blur(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1)


@given(s=bandlimited_signals(size=32, channels=2, bandwidth=0.2), d=subpixel_shifts(max_shift=3))
def test_linear_shift_invariant_ops_pass(s, d):
    assert assert_translation_equivariant(box_blur, s, d, min_psnr=80) >= 80


def test_tensor_inputs_are_shifted_numerically():
    x = sig(4, size=48, bandwidth=0.2).render(dtype=F64)
    assert assert_translation_equivariant(box_blur, x, (0.5, 1.25), min_psnr=80) >= 80
    assert assert_translation_equivariant(box_blur, x, (0.5, 1.25), method="lanczos",
                                          min_psnr=40) >= 40


def test_a_pattern_fixed_to_the_pixel_grid_fails_with_the_psnr_in_the_message():
    pattern = torch.randn(1, 1, 32, 32, dtype=F64)
    with pytest.raises(AssertionError, match=r"PSNR .* dB < min_psnr 40\.00 dB"):
        assert_translation_equivariant(lambda x: x + 0.1 * pattern, sig(5), (0.5, 0.25))


def test_output_rate_is_inferred_and_used():
    f = kaiser_sinc(24, cutoff=0.25, width=0.25, fs=2, dtype=F64)
    up = lambda x: upsample2d(x, f, up=2, impl="ref")  # noqa: E731
    s = sig(6, size=32, bandwidth=0.15)
    assert assert_translation_equivariant(up, s, (0.3, -0.7), min_psnr=60) >= 60
    with pytest.raises(AssertionError):  # the wrong rate shifts the output by the wrong amount
        assert_translation_equivariant(up, s, (0.3, -0.7), rate=1, min_psnr=60)
    nearest = lambda x: x.repeat_interleave(2, -1).repeat_interleave(2, -2)  # noqa: E731
    with pytest.raises(AssertionError):  # not band-limited: images of the spectrum
        assert_translation_equivariant(nearest, s, (0.3, -0.7), min_psnr=60)


def test_one_dimensional_ops():
    w = torch.tensor([[[0.25, 0.5, 0.25]]], dtype=F64)
    s = sig(7, size=(64,), channels=1, bandwidth=0.2)
    assert assert_translation_equivariant(lambda x: F.conv1d(x, w, padding=1), s, 0.3,
                                          min_psnr=80, dtype=F64) >= 80


def test_rotation_assertion():
    s = sig(8, size=40, bandwidth=0.15)
    g = torch.tensor([1.0, 4, 6, 4, 1], dtype=F64)
    gauss = torch.outer(g, g)[None, None] / 256  # nearly isotropic
    iso = lambda x: F.conv2d(x, gauss, padding=2)  # noqa: E731
    assert assert_rotation_equivariant(iso, s, 0.7, min_psnr=40, dtype=F64) >= 40
    assert assert_rotation_equivariant(lambda x: x, s.render(dtype=F64), 1.2, min_psnr=50) >= 50
    dx = torch.tensor([[[[-0.5, 0, 0.5]]]], dtype=F64)  # d/dx: translation- but not rotation-eq.
    deriv = lambda x: F.conv2d(x, dx, padding=(0, 1))  # noqa: E731
    assert assert_translation_equivariant(deriv, s, (0.4, 0.8), min_psnr=80, dtype=F64) >= 80
    with pytest.raises(AssertionError, match="rotation equivariance PSNR"):
        assert_rotation_equivariant(deriv, s, 0.7, min_psnr=30, dtype=F64)


_S40 = sig(13, size=40, bandwidth=0.15, channels=2)
_X40 = _S40.render(dtype=torch.float32)
_GAUSS = torch.outer(*[torch.tensor([1.0, 4, 6, 4, 1]) / 16] * 2)[None, None].repeat(2, 1, 1, 1)


def _iso(x):
    return F.conv2d(x, _GAUSS.to(x.dtype), padding=2, groups=2)


_ASSERTIONS = {
    "translation, tensor": lambda: assert_translation_equivariant(_iso, _X40, (0.4, 1.0), taps=8,
                                                                  min_psnr=30),
    "translation, tensor, lanczos": lambda: assert_translation_equivariant(
        _iso, _X40, (-1.3, 0.5), method="lanczos", min_psnr=30),
    "translation, signal": lambda: assert_translation_equivariant(
        _iso, _S40, (0.4, -0.7), taps=8, dtype=torch.float32, min_psnr=30),
    "rotation, tensor": lambda: assert_rotation_equivariant(_iso, _X40, 0.6, min_psnr=20),
    "rotation, signal": lambda: assert_rotation_equivariant(_iso, _S40, -0.9,
                                                            dtype=torch.float32, min_psnr=30),
}


@pytest.mark.parametrize("name", list(_ASSERTIONS))
def test_assertions_do_not_depend_on_the_default_device_and_dtype(name):
    """Under a default device (a 'meta' one here) the shifts and rotations of the assertions made
    their constants there ('Cannot copy out of meta tensor'); they measure the same PSNR on the
    same samples. (A signal is rendered in the default dtype unless ``dtype`` is given.)"""
    want = _ASSERTIONS[name]()
    got = under_default_device_and_dtype(_ASSERTIONS[name])
    assert float(got) == float(want) and got.describe() == want.describe()


def test_assertion_arguments_are_checked():
    s = sig(9)
    with pytest.raises(TypeError, match="BandlimitedSignal"):
        assert_translation_equivariant(box_blur, np.zeros((1, 1, 8, 8)), (0.5, 0))
    with pytest.raises(ValueError, match=r"shift must be \(dx, dy\)"):
        assert_translation_equivariant(box_blur, s, (0.5,))
    with pytest.raises(ValueError, match="same rank"):
        assert_translation_equivariant(lambda x: x[:, :, 0], s, (0.5, 0))
    with pytest.raises(ValueError, match="nothing left to compare"):
        assert_translation_equivariant(box_blur, s, (0.5, 0), crop=16)
    with pytest.raises(ValueError, match="method must be one of"):
        assert_translation_equivariant(box_blur, s, (0.5, 0), method="cubic")
    with pytest.raises(ValueError, match="taps must be an even integer"):
        fractional_shift(torch.zeros(1, 1, 8, 8), (0.5, 0), taps=7)
    with pytest.raises(ValueError, match=r"empty output \(1, 1, 32, 0\)"):
        assert_translation_equivariant(lambda x: x[..., :0], s, (0.5, 0))
    x1 = torch.randn(1, 1, 32, dtype=torch.float64)
    y0, _ = fractional_shift(x1, 0.3)
    for same in (torch.tensor(0.3, dtype=F64), np.float64(0.3), torch.tensor([0.3], dtype=F64)):
        torch.testing.assert_close(fractional_shift(x1, same)[0], y0, rtol=0, atol=0)
    torch.testing.assert_close(fractional_shift(x1, 0.3, taps=np.int64(24))[0], y0)
    with pytest.raises(TypeError, match="min_psnr"):
        assert_translation_equivariant(box_blur, s, (0.5, 0), min_psnr="40")
    # a NaN is a number of the wrong value (it was a TypeError); 10**400 is no float
    with pytest.raises(ValueError, match=r"^min_psnr must be a number of dB, not NaN, got nan$"):
        assert_translation_equivariant(box_blur, s, (0.5, 0), min_psnr=math.nan)
    with pytest.raises(ValueError, match=r"^min_psnr must be a number of dB, not NaN, got "
                                         r"np\.float64\(nan\)$"):
        assert_rotation_equivariant(box_blur, s, 0.3, min_psnr=np.float64("nan"))
    with pytest.raises(ValueError, match=r"^min_psnr must be a finite real number, got "
                                         r"1\.000e\+400 \(an int of 401 digits\)"):
        assert_translation_equivariant(box_blur, s, (0.5, 0), min_psnr=10**400)
    with pytest.raises(ValueError, match=r"^shift must be a finite real number, got "
                                         r"-1\.000e\+400 \(an int of 401 digits\)"):
        fractional_shift(torch.zeros(1, 1, 8), -(10**400))
    with pytest.raises(ValueError, match="angle must be a finite real number, got nan"):
        assert_rotation_equivariant(box_blur, s, math.nan)
    with pytest.raises(TypeError, match="angle must be a real number, got '1'"):
        assert_rotation_equivariant(box_blur, s, "1")
    with pytest.raises(ValueError, match=r"x must have shape \[N, C, H, W\], got \(1, 1, 16\)"):
        assert_rotation_equivariant(box_blur, sig(0, size=(16,)), 0.3)  # rotation needs 2-D
    with pytest.raises(ValueError, match=r"x must have shape \[N, C, L\] or \[N, C, H, W\]"):
        assert_translation_equivariant(box_blur, torch.zeros(2, 16), 0.5)
    s1 = sig(0, size=(48,))
    with pytest.raises(ValueError, match="rate must be a finite real number, got inf"):
        assert_translation_equivariant(lambda t: t, s1, 0.5, rate=math.inf)
    with pytest.raises(TypeError, match="rate must be a real number, got True"):
        assert_translation_equivariant(lambda t: t, s1, 0.5, rate=True)
    with pytest.raises(ValueError, match="shift \\* rate must be finite"):
        assert_translation_equivariant(lambda t: t, s1, 1e300, rate=1e10, crop=0)
    with pytest.raises(TypeError, match=r"taps must be an int, got 24\.0"):
        assert_translation_equivariant(lambda t: t, s1, 0.5, taps=24.0)
    # An empty batch has nothing to compare, and that is the input's doing, not crop's.
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 1, 64\)"):
        assert_translation_equivariant(lambda t: t, torch.ones(0, 1, 64), 0.5)
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 1, 30, 30\)"):
        assert_rotation_equivariant(lambda t: t, torch.ones(0, 1, 30, 30), 0.5)
    with pytest.raises(ValueError, match=r"op returned an empty output \(1, 0, 48\)"):
        assert_translation_equivariant(lambda t: t[:, :0], s1, 0.5)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64, "float32", np.float32])
def test_a_dtype_that_is_not_a_torch_float_is_rejected(dtype):
    """Rendered as integers a signal in [-1, 1] is all zeros, and any op would pass."""
    s = sig(0, size=48)
    flip = lambda t: t.flip(-1)  # noqa: E731
    with pytest.raises(AssertionError):  # what the assertions must not hide
        assert_translation_equivariant(flip, s, (0.3, 0.3), dtype=F64)
    match = r"dtype must be a (real floating-point )?torch\.dtype"
    with pytest.raises(TypeError, match=match):
        assert_translation_equivariant(flip, s, (0.3, 0.3), dtype=dtype)
    with pytest.raises(TypeError, match=match):
        assert_translation_equivariant(flip, s.render(), (0.3, 0.3), dtype=dtype)
    with pytest.raises(TypeError, match=match):
        assert_rotation_equivariant(flip, s, 0.3, dtype=dtype)
    with pytest.raises(TypeError, match=match):
        s.render(dtype=dtype)
    with pytest.raises(TypeError, match=match):  # when the strategy is built, not drawn
        bandlimited_images(dtype=dtype)


def _nan_at(index):
    def op(t):
        t = t.clone()
        t[..., index] = math.nan
        return t

    return op


def test_non_finite_output_is_ignored_in_the_crop_unless_the_shift_spreads_it():
    """crop hides what op writes at the border, as long as the shifted reference never reads it."""
    s1 = sig(0, size=(48,))
    clean = assert_translation_equivariant(lambda t: t, s1, 0.5, crop=13, min_psnr=80)
    # y[0] feeds the 24-tap reference up to index 12 (taps/2 = 12): crop 13 clears it.
    assert assert_translation_equivariant(_nan_at(0), s1, 0.5, crop=13) == pytest.approx(clean)
    inf_at_0 = lambda t: torch.cat([t[..., :1] + math.inf, t[..., 1:]], -1)  # noqa: E731
    assert assert_translation_equivariant(inf_at_0, s1, 0.5, crop=13) == pytest.approx(clean)
    with pytest.raises(AssertionError, match=r"non-finite values outside the compared region but "
                       r"within reach of the output shift \(12 samples beyond .*increase crop"):
        assert_translation_equivariant(_nan_at(0), s1, 0.5, crop=10)
    with pytest.raises(AssertionError, match=r"op returned non-finite values \(NaN or inf\) at 1 "
                       r"of the 22 compared positions"):
        assert_translation_equivariant(_nan_at(20), s1, 0.5, crop=13)
    with pytest.raises(AssertionError, match="whole axis"):  # the FFT shift reaches everywhere
        assert_translation_equivariant(_nan_at(0), s1, 0.5, crop=13, method="fft")
    s2 = sig(1, size=40, bandwidth=0.15)
    clean = assert_rotation_equivariant(lambda t: t, s2, 0.7, crop=8, min_psnr=50, dtype=F64)
    got = assert_rotation_equivariant(_nan_at(0), s2, 0.7, crop=8, dtype=F64)  # column x = 0
    assert got == pytest.approx(clean)
    with pytest.raises(AssertionError, match="within reach of the rotation of op's output"):
        assert_rotation_equivariant(_nan_at(0), s2, 0.7, crop=6, dtype=F64)


def test_nothing_to_compare_names_the_output_shift_and_its_taps():
    """The output shift drops the samples whose taps pass the ends, whatever crop is."""
    s = sig(2, size=(20,), bandwidth=0.1)
    with pytest.raises(ValueError, match=r"nothing left to compare.*20 output samples.*crop 0 "
                       r"keeps \[0, 20\).*method 'sinc', 24 taps\) keeps nothing.*fewer taps"):
        assert_translation_equivariant(lambda t: t, s, 0.5, crop=0)
    assert assert_translation_equivariant(lambda t: t, s, 0.5, crop=0, taps=8, min_psnr=40) >= 40
    with pytest.raises(ValueError, match=r"crop 10 keeps \[10, 10\)"):
        assert_translation_equivariant(lambda t: t, s, 0.5, crop=10, taps=8)


# ---------------------------------------------------------------------------------------------
# Property tests of the ops: oversampling is what keeps filtered_lrelu equivariant


def flrelu_op(up):
    """filtered_lrelu with StyleGAN3's 6 taps per rate, cutoff 0.25, stopband 0.45 cycles/px."""
    f = kaiser_sinc(6 * up, cutoff=0.25, width=0.4, fs=up)
    K = f.shape[0]
    p0, p1 = K - 1, K - 1  # keeps the size: (L·up + 2K − 2 − 2(K − 1) − 1) // up + 1 = L
    return lambda x: filtered_lrelu(x, f, f, up=up, down=up, padding=(p0 // 2 + p0 % 2, p1 // 2,
                                                                       p0 // 2 + p0 % 2, p1 // 2),
                                    impl="ref")


@settings(max_examples=15)
@given(s=bandlimited_signals(size=40, channels=2, bandwidth=0.2, components=(1, 8)),
       d=subpixel_shifts(max_shift=3, fractional=True))
def test_filtered_lrelu_with_oversampling_is_fractionally_shift_equivariant(s, d):
    # Typically 60-70 dB (400 random draws: 50.2 at worst); Hypothesis's search found 47.2 (one
    # component, d = (0.5, 1.75)): the bound leaves room below that.
    assert_translation_equivariant(flrelu_op(2), s, d, min_psnr=45, crop=8, rate=1)


def test_filtered_lrelu_without_oversampling_aliases():
    errs = {1: [], 2: []}
    for seed in range(6):
        rng = np.random.default_rng(seed)
        s = make_bandlimited_signal(rng, 40, channels=2, bandwidth=0.2, components=6)
        d = tuple(rng.uniform(-3, 3, 2))
        for up in (1, 2):
            p = assert_translation_equivariant(flrelu_op(up), s, d, min_psnr=-math.inf, crop=8,
                                               rate=1)
            errs[up].append(10 ** (-p / 10))
    pooled = {up: -10 * math.log10(np.mean(e)) for up, e in errs.items()}
    assert pooled[2] > 60
    assert pooled[1] < pooled[2] - 10, pooled
    with pytest.raises(AssertionError, match="translation equivariance PSNR"):
        assert_translation_equivariant(flrelu_op(1), s, d, min_psnr=pooled[2] - 5, crop=8, rate=1)


def test_layers_that_change_the_channel_count_can_be_tested():
    """op(shift x) and shift(op x) both have op's channels: a 2→5 channel layer is testable."""
    torch.manual_seed(0)
    mix = torch.randn(5, 2, 1, 1, dtype=F64)

    def widen(x):
        return F.conv2d(box_blur(x), mix)

    s = sig(3, channels=2)
    assert assert_translation_equivariant(widen, s, (0.5, 0.25), min_psnr=80, dtype=F64) >= 80
    with pytest.raises(ValueError, match="same rank"):
        assert_translation_equivariant(lambda x: x[:1], sig(4, batch=2), (0.5, 0))


def test_an_in_place_op_leaves_the_callers_tensor_alone():
    """The assertion ran the op on a detached view of x: nn.ReLU(inplace=True) changed the
    caller's tensor (a loop over shifts then tested another input each time)."""
    x = torch.randn(1, 2, 48, 48, dtype=F64)
    before = x.clone()
    with pytest.raises(AssertionError):
        assert_translation_equivariant(torch.nn.ReLU(inplace=True), x, (0.5, 0), min_psnr=200)
    assert torch.equal(x, before)


def test_an_op_returning_no_tensor_is_a_type_error():
    """A tuple (an op with several outputs) gave ValueError 'must map [N, C, ...] ... gave
    tuple'; it is a TypeError that names what came back."""
    with pytest.raises(TypeError, match=r"op must return a torch.Tensor \[N, C', \*spatial'\], "
                       r"got tuple for input"):
        assert_translation_equivariant(lambda x: (x, x), sig(9), (0.5, 0))
