"""Kaiser filter design: parity with scipy, the official vectors and naive oracles; properties.

The oracles below are written from the formulas (stylegan3.md §1, bigvgan.md) with an
independent Kaiser window (the I0 formula via scipy.special.i0, not np.kaiser) and plain loops.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.signal
import scipy.special
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from bandlimit.filters.kaiser import (
    kaiser_atten,
    kaiser_beta,
    kaiser_jinc,
    kaiser_sinc,
    kaiser_sinc_bigvgan,
    lowpass,
)
from bandlimit.filters.response import stopband_attenuation
from tests.defaults import under_default_device_and_dtype
from tests.filters.oracle import beta_oracle, design_beta_oracle, jinc_oracle, window_oracle

# ---------------------------------------------------------------------------------------------
# Independent float64 oracles.


def sinc_oracle(n: int, cutoff: float, width: float, fs: float) -> np.ndarray:
    w = window_oracle(n, design_beta_oracle(n, width, fs))
    a = 2 * cutoff / fs
    h = np.array([a * np.sinc(a * (i - (n - 1) / 2)) * w[i] for i in range(n)])
    return h / h.sum()


def response_2d(f: np.ndarray, fy: float, fx: float, fs: float = 1.0) -> float:
    """|H(fy, fx)| by the direct DTFT sum (origin at the filter centre; |.| does not care)."""
    k = np.arange(f.shape[0]) - (f.shape[0] - 1) / 2
    return float(abs(np.sum(f * np.exp(-2j * np.pi * (fy * k[:, None] + fx * k[None, :]) / fs))))


# ---------------------------------------------------------------------------------------------
# Strategies. Frequencies are drawn relative to fs so that any fs works.


@st.composite
def designs(draw, min_taps: int = 1, max_taps: int = 64):
    n = draw(st.integers(min_taps, max_taps))
    fs = draw(st.sampled_from([1.0, 2.0, 32.0, 1000.0, 44100.0]))
    cutoff = draw(st.floats(0.01, 0.49)) * fs
    width = draw(st.floats(0.005, 0.6)) * fs
    return n, cutoff, width, fs


@st.composite
def well_posed_designs(draw, min_taps: int, max_taps: int, atten=(30.0, 80.0)):
    """Designs with a Kaiser prediction A in ``atten`` and both band edges at least one transition
    width away from 0 and from Nyquist (fs = 1), i.e. a proper low-pass with a stop band."""
    n = draw(st.integers(min_taps, max_taps))
    a = draw(st.floats(*atten))
    width = (a - 7.95) / (2.285 * (n - 1) * math.pi) / 2  # inverts kaiser_atten(n, width / 0.5)
    lo, hi = 1.5 * width, 0.5 - 1.5 * width
    assume(hi > lo + 1e-3)
    cutoff = draw(st.floats(lo, hi))
    return n, cutoff, width, a


# ---------------------------------------------------------------------------------------------
# Numerics: scipy, oracles, official vectors, listed taps.


@given(st.integers(1, 500), st.floats(1e-3, 2.0))
def test_kaiser_atten_matches_scipy_and_formula(numtaps, width):
    got = kaiser_atten(numtaps, width)
    assert got == scipy.signal.kaiser_atten(numtaps, width)
    assert got == pytest.approx(2.285 * (numtaps - 1) * math.pi * width + 7.95, rel=1e-14)


@given(st.floats(-10.0, 200.0))
def test_kaiser_beta_matches_scipy_and_formula(atten):
    got = kaiser_beta(atten)
    assert got == scipy.signal.kaiser_beta(atten)
    assert got == pytest.approx(beta_oracle(atten), rel=1e-14, abs=1e-15)


@given(designs())
def test_kaiser_sinc_matches_firwin_and_oracle(design):
    n, cutoff, width, fs = design
    got = kaiser_sinc(n, cutoff, width, fs, dtype=torch.float64)
    assert got.dtype == torch.float64 and got.shape == (n,)
    ref = scipy.signal.firwin(n, cutoff, width=width, fs=fs)
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.numpy(), sinc_oracle(n, cutoff, width, fs), rtol=0, atol=1e-12)
    # float32 is the correctly rounded float64 design.
    f32 = kaiser_sinc(n, cutoff, width, fs)
    assert f32.dtype == torch.float32
    assert torch.equal(f32, got.to(torch.float32))


@given(designs(max_taps=24))
def test_kaiser_jinc_matches_oracle(design):
    n, cutoff, width, fs = design
    got = kaiser_jinc(n, cutoff, width, fs, dtype=torch.float64)
    assert got.shape == (n, n)
    oracle = jinc_oracle(n, cutoff, width, fs)
    np.testing.assert_allclose(got.numpy(), oracle, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def filter_vectors(vectors_dir):
    with np.load(vectors_dir / "filters.npz") as data:
        return {k: data[k] for k in data.files}


def _vector_params(v, i):
    return int(v["numtaps"][i]), float(v["cutoff"][i]), float(v["width"][i]), float(v["fs"][i])


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Max distance in float32 ulps (same-sign values; the integer views are monotone)."""
    assert a.dtype == b.dtype == np.float32
    assert np.array_equal(np.sign(a), np.sign(b)) or np.all(np.abs(a - b) < 1e-30)
    return int(np.max(np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32))))


def test_separable_matches_official_vectors(filter_vectors):
    v = filter_vectors
    assert len(v["numtaps"]) == 52
    for i in range(len(v["numtaps"])):
        n, cutoff, width, fs = _vector_params(v, i)
        f64 = kaiser_sinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
        np.testing.assert_allclose(f64, v[f"sep_f64_{i:03d}"], rtol=0, atol=1e-12, err_msg=str(i))
        f32 = kaiser_sinc(n, cutoff, width, fs).numpy()
        assert _ulp_distance(f32, v[f"sep_f32_{i:03d}"]) <= 1, i
        assert torch.equal(lowpass(n, cutoff, width, fs), torch.from_numpy(f32))


def test_radial_matches_official_vectors(filter_vectors):
    v = filter_vectors
    checked = 0
    for i in range(len(v["numtaps"])):
        n, cutoff, width, fs = _vector_params(v, i)
        f64 = kaiser_jinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
        f32 = kaiser_jinc(n, cutoff, width, fs).numpy()
        assert np.all(np.isfinite(f64)) and np.all(np.isfinite(f32))
        if v["rad_has_nan"][i]:
            continue  # the official filter is all-NaN; see test_radial_odd_taps_finite_limit
        np.testing.assert_allclose(f64, v[f"rad_f64_{i:03d}"], rtol=0, atol=1e-12, err_msg=str(i))
        assert _ulp_distance(f32, v[f"rad_f32_{i:03d}"]) <= 1, i
        assert torch.equal(lowpass(n, cutoff, width, fs, radial=True), torch.from_numpy(f32))
        checked += 1
    assert checked == 50


def test_radial_odd_taps_finite_limit(filter_vectors):
    """Where the official formula divides 0 by 0 we return the r → 0 limit instead of NaN."""
    v = filter_vectors
    odd = np.flatnonzero(v["rad_has_nan"])
    assert len(odd) == 2
    for i in odd:
        n, cutoff, width, fs = _vector_params(v, i)
        assert n % 2 == 1 and np.all(np.isnan(v[f"rad_f64_{i:03d}"]))
        f = kaiser_jinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
        assert np.all(np.isfinite(f))
        assert f.sum() == pytest.approx(1.0, abs=1e-13)
        np.testing.assert_array_equal(f, f.T)
        np.testing.assert_array_equal(f, f[::-1, ::-1])
        np.testing.assert_allclose(f, jinc_oracle(n, cutoff, width, fs), rtol=0, atol=1e-12)
        # The centre is the r → 0 limit f_c of J1(2π f_c r)/(π r) ...
        r = 1e-7
        near = scipy.special.j1(2 * math.pi * cutoff * r) / (math.pi * r)
        assert near == pytest.approx(cutoff, rel=1e-10)
        # ... so centre / right neighbour = f_c·w_c / (k(1/fs)·w_{c+1}) (the normalisation and
        # the shared window factor w_c cancel).
        c = n // 2
        w = window_oracle(n, design_beta_oracle(n, width, fs))
        k1 = scipy.special.j1(2 * math.pi * cutoff / fs) / (math.pi / fs)
        assert f[c, c] / f[c, c + 1] == pytest.approx(cutoff * w[c] / (k1 * w[c + 1]), rel=1e-12)


def test_listed_taps_stylegan3_sheet():
    """stylegan3.md §1.4 (float32, printed to ~7 significant digits)."""
    l0 = [0.0007919, 0.01001832, 0.03894952, 0.09241279, 0.15652561, 0.20130186]
    got = kaiser_sinc(12, 2, 12, 32).numpy()
    np.testing.assert_allclose(got, l0 + l0[::-1], rtol=1e-5, atol=1e-9)
    assert kaiser_beta(kaiser_atten(12, 12 / 16)) == pytest.approx(6.443719, abs=1e-6)

    f_c = 2 * 256 ** (1 / 12)  # T-1024 L1 output cutoff 3.174802, the input of L2's up filter
    f_h = 8 - f_c
    l2 = [-0.00033991, -0.00029957, 0.00087359, 0.00421339, 0.01076619, 0.021245]
    l2 += [0.03567749, 0.05317197, 0.07190806, 0.08939801, 0.10297809, 0.11040768]
    got = kaiser_sinc(24, f_c, 2 * f_h, 64).numpy()
    np.testing.assert_allclose(got, l2 + l2[::-1], rtol=1e-5, atol=1e-9)
    assert kaiser_beta(kaiser_atten(24, 2 * f_h / 32)) == pytest.approx(5.404422, abs=1e-6)

    f_h = 512 * 2**0.3 - 512  # T-1024 L13: critically sampled, f_c = 512, f_t = 512·2^0.3
    l13 = [0.02337425, 0.03444929, -0.0508807, -0.07861523, 0.13961044, 0.43206194]
    got = kaiser_sinc(12, 512, 2 * f_h, 2048).numpy()
    np.testing.assert_allclose(got, l13 + l13[::-1], rtol=1e-5, atol=1e-9)
    assert kaiser_beta(kaiser_atten(12, 2 * f_h / 1024)) == pytest.approx(1.540115, abs=1e-6)

    rad = kaiser_jinc(12, 2, 12, 32).numpy()
    row5 = [0.00020526, 0.00227863, 0.00819805, 0.01854216, 0.03053336, 0.03875488]
    np.testing.assert_allclose(rad[5], row5 + row5[::-1], rtol=1e-4, atol=1e-9)
    assert rad[5, 5] == pytest.approx(0.038754884, rel=1e-7)
    assert rad[0, 0] == pytest.approx(8.412e-7, rel=1e-3)
    assert rad[5, 0] == rad[0, 5] == pytest.approx(2.0526e-4, rel=1e-4)
    assert float(rad.astype(np.float64).sum()) == pytest.approx(1.0, abs=1e-6)


def test_lowpass_semantics():
    assert lowpass(1, 2.0, 12.0, 32.0) is None
    assert lowpass(1, 2.0, 12.0, 32.0, radial=True) is None
    # ToRGB of a critically sampled 1024² network: cutoff == fs/2 is fine when nothing is designed.
    assert lowpass(1, 512.0, 2 * 118.3459, 1024) is None
    h = lowpass(12, 2.0, 12.0, 32.0, dtype=torch.float64)
    assert torch.equal(h, kaiser_sinc(12, 2.0, 12.0, 32.0, dtype=torch.float64))
    f = lowpass(12, 2.0, 12.0, 32.0, radial=True, dtype=torch.float16)
    assert f.dtype == torch.float16
    assert torch.equal(f, kaiser_jinc(12, 2.0, 12.0, 32.0, dtype=torch.float16))
    # numpy scalars (as produced by schedules) are accepted
    h2 = lowpass(np.int64(12), np.float64(2.0), np.float32(12.0), np.int32(32))
    assert torch.equal(h2, kaiser_sinc(12, 2.0, 12.0, 32.0))


# ---------------------------------------------------------------------------------------------
# BigVGAN / alias-free-torch preset.


def bigvgan_oracle(cutoff: float, half_width: float, k: int) -> np.ndarray:
    atten = 2.285 * (k // 2 - 1) * math.pi * (4 * half_width) + 7.95
    w = window_oracle(k, beta_oracle(atten))
    t = [i - k / 2 + 0.5 for i in range(k)] if k % 2 == 0 else [i - k // 2 for i in range(k)]
    h = np.array([2 * cutoff * w[i] * np.sinc(2 * cutoff * t[i]) for i in range(k)])
    return h / h.sum()


def test_bigvgan_preset_k12():
    beta = kaiser_beta(2.285 * (12 // 2 - 1) * math.pi * (4 * 0.3) + 7.95)
    assert beta == pytest.approx(4.66, abs=0.01)
    assert kaiser_beta(kaiser_atten(12, 0.6 / 0.5)) == pytest.approx(10.36, abs=0.01)
    h = kaiser_sinc_bigvgan(0.25, 0.3, 12, dtype=torch.float64).numpy()
    np.testing.assert_allclose(h, bigvgan_oracle(0.25, 0.3, 12), rtol=0, atol=1e-15)
    assert h.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_array_equal(h, h[::-1])
    diff = np.abs(h - kaiser_sinc(12, 0.25, 0.6, 1.0, dtype=torch.float64).numpy()).max()
    assert 0.02 < diff < 0.03
    f32 = kaiser_sinc_bigvgan(0.25, 0.3, 12)
    assert f32.dtype == torch.float32 and torch.equal(f32, torch.from_numpy(h).float())


@given(st.floats(0.01, 0.5), st.floats(0.01, 0.5), st.integers(1, 40))
def test_bigvgan_preset_matches_oracle(cutoff, half_width, k):
    h = kaiser_sinc_bigvgan(cutoff, half_width, k, dtype=torch.float64).numpy()
    np.testing.assert_allclose(h, bigvgan_oracle(cutoff, half_width, k), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h, h[::-1], rtol=0, atol=1e-15)
    assert h.sum() == pytest.approx(1.0, abs=1e-12)
    if k % 2 == 1:  # odd K: a tap sits at t = 0, where sinc = 1
        assert np.argmax(h) == k // 2


# ---------------------------------------------------------------------------------------------
# Properties.


@given(designs())
def test_unit_dc_gain_and_symmetry_sinc(design):
    n, cutoff, width, fs = design
    h = kaiser_sinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
    assert h.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(h, h[::-1], rtol=0, atol=1e-15)
    h32 = kaiser_sinc(n, cutoff, width, fs).double().sum().item()
    assert h32 == pytest.approx(1.0, abs=1e-5)


@given(designs(max_taps=24))
def test_unit_dc_gain_and_symmetry_jinc(design):
    n, cutoff, width, fs = design
    f = kaiser_jinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
    assert f.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(f, f.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(f, f[::-1, ::-1], rtol=0, atol=1e-15)
    np.testing.assert_allclose(f, f[::-1, :], rtol=0, atol=1e-15)  # mirror symmetric too


@given(well_posed_designs(24, 160))
def test_measured_attenuation_close_to_kaiser_prediction(design):
    """Kaiser's formula is an empirical fit, not a bound. Measured on 20 000 random designs with
    A in [30, 80] dB, 24..160 taps and both band edges a transition width away from 0 and
    Nyquist, measured − predicted lay in [−2.55, +1.73] dB (80% within 1 dB; the error oscillates
    with the cutoff's position relative to the tap grid and does not shrink with n). Closer to 0
    or to Nyquist the mirrored pass band adds up to ~8 dB of error, hence the margins."""
    n, cutoff, width, atten = design
    h = kaiser_sinc(n, cutoff, width, 1.0, dtype=torch.float64)
    assert kaiser_atten(n, width / 0.5) == pytest.approx(atten, rel=1e-9)
    measured = stopband_attenuation(h, cutoff + width / 2, 1.0, n=4096)
    assert abs(measured - atten) <= 3.0


@given(well_posed_designs(12, 40))
def test_jinc_circularly_symmetric_and_minus_6db_at_cutoff(design):
    """On these ranges (fs = 1, cutoff ≥ 0.1; 2 680 random designs): the jinc response at the
    cutoff is within 1.17 dB of −6.02 dB on the axis and on the diagonal, the axis and diagonal
    responses at equal radius differ by ≤ 0.057, while a radially symmetric windowed *sinc* (same
    window) is ≥ +1.0 dB at the cutoff: it has not started to roll off."""
    n, cutoff, width, _ = design
    assume(cutoff >= 0.1 and cutoff >= width)
    f = kaiser_jinc(n, cutoff, width, 1.0, dtype=torch.float64).numpy()
    d = cutoff / math.sqrt(2)
    for at_cutoff in (response_2d(f, 0, cutoff), response_2d(f, d, d)):
        assert abs(20 * math.log10(at_cutoff) - 20 * math.log10(0.5)) < 1.5
    for rho in np.linspace(0, cutoff + width / 2, 9):
        axis = response_2d(f, 0, rho)
        diag = response_2d(f, rho / math.sqrt(2), rho / math.sqrt(2))
        assert abs(axis - diag) < 0.08

    # Contrast: radial sinc with the same separable window.
    x = (np.arange(n) - (n - 1) / 2) / 1.0
    r = np.hypot(x[:, None], x[None, :])
    w = np.kaiser(n, kaiser_beta(kaiser_atten(n, width / 0.5)))
    s = np.sinc(2 * cutoff * r) * np.outer(w, w)
    s /= s.sum()
    assert 20 * math.log10(min(response_2d(s, 0, cutoff), response_2d(s, d, d))) > 0.0


def test_separable_filter_is_not_circularly_symmetric():
    """The check above can fail: the outer product of 1-D sincs passes the diagonal band."""
    h = kaiser_sinc(32, 0.25, 0.08, 1.0, dtype=torch.float64).numpy()
    sep = np.outer(h, h)
    d = 0.25 / math.sqrt(2)
    assert response_2d(sep, 0, 0.25) == pytest.approx(0.5, abs=0.02)
    assert response_2d(sep, d, d) > 0.95
    jinc = kaiser_jinc(32, 0.25, 0.08, 1.0, dtype=torch.float64).numpy()
    assert abs(response_2d(jinc, 0, 0.25) - response_2d(jinc, d, d)) < 0.05


# ---------------------------------------------------------------------------------------------
# The low-pass of rational resampling (filters/resample.py): scipy.signal.resample_poly's design.


@given(st.integers(1, 400), st.integers(1, 400),
       st.one_of(st.none(), st.floats(0.0, 40.0), st.sampled_from(["hann", ("tukey", 0.3)])))
def test_resample_filter_matches_firwin(up, down, window):
    from bandlimit.filters import resample_filter

    g = math.gcd(up, down)
    rate = max(up, down) // g
    h = resample_filter(up, down, window).numpy()
    if rate == 1:
        assert h.tolist() == [1.0]
        return
    spec = ("kaiser", 5.0) if window is None else window
    expected = scipy.signal.firwin(20 * rate + 1, 1 / rate, window=spec)
    assert h.shape == expected.shape
    np.testing.assert_allclose(h, expected, rtol=0, atol=1e-13 * np.abs(expected).max())


@pytest.mark.parametrize("nw", [1.5, 3.0, 8.0])
def test_resample_filter_takes_windows_that_need_more_than_a_few_points(nw):
    """('dpss', NW) needs NW < M/2: the window check probed 3 points and refused every NW >= 1.5
    as "not a window scipy knows", though the 61-tap design (and scipy) take it."""
    from bandlimit.filters import resample_filter
    from bandlimit.ops import resample_poly

    window = ("dpss", nw)
    expected = scipy.signal.firwin(61, 1 / 3, window=window)
    np.testing.assert_allclose(resample_filter(3, 2, window).numpy(), expected, rtol=0,
                               atol=1e-13 * np.abs(expected).max())
    x = np.random.default_rng(0).standard_normal(100)
    for impl in ("ref", "numba"):
        y = resample_poly(torch.tensor(x), 3, 2, window=window, impl=impl).numpy()
        np.testing.assert_allclose(y, scipy.signal.resample_poly(x, 3, 2, window=window),
                                   rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"^window \('dpss', 40\) is not a window scipy\.signal"
                       r"\.get_window knows: .*NW must be less than M/2"):
        resample_filter(3, 2, ("dpss", 40))  # (too wide even for 61 points)


def test_window_parameters_given_as_lists_reach_scipy():
    """A tuple spec holding a list (general_cosine's coefficients) was refused as "window must
    be a str, a number or a tuple" (the design cache could not hash it); it now reaches
    scipy, and the ops and the filter give what scipy gives."""
    from bandlimit.filters import resample_filter
    from bandlimit.filters.resample import frozen_window

    window = ("general_cosine", [0.5, 0.5])
    assert frozen_window(window) == ("general_cosine", (0.5, 0.5))
    assert frozen_window(("general_cosine", np.array([0.5, 0.5]))) == frozen_window(window)
    try:  # (scipy 1.17's firwin refuses general_cosine's array: then we say what it says)
        expected = scipy.signal.firwin(61, 1 / 3, window=window)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            resample_filter(3, 2, window)
        return
    np.testing.assert_allclose(resample_filter(3, 2, window).numpy(), expected, atol=1e-15)


_DESIGNS = {
    "kaiser_sinc": lambda: kaiser_sinc(12, 0.25, 0.2, 1.0),
    "kaiser_sinc float64": lambda: kaiser_sinc(12, 0.25, 0.2, 1.0, dtype=torch.float64),
    "kaiser_jinc": lambda: kaiser_jinc(7, 0.25, 0.2, 1.0),
    "lowpass": lambda: lowpass(12, 2.0, 12.0, 32.0),
    "lowpass radial": lambda: lowpass(12, 2.0, 12.0, 32.0, radial=True, dtype=torch.float16),
    "kaiser_sinc_bigvgan": lambda: kaiser_sinc_bigvgan(0.25, 0.3, 12),
    "resample_filter": lambda: _resample_filter(3, 2, dtype=torch.float32),
    "resample_filter, equal factors": lambda: _resample_filter(2, 2),
    "resample_filter, hann": lambda: _resample_filter(1, 5, "hann"),
    "resample_filter, torch design": lambda: _kaiser_design(3, 5.0),  # (as under torch.compile)
}


def _resample_filter(*args, **kwargs):
    from bandlimit.filters import resample_filter

    return resample_filter(*args, **kwargs)


def _kaiser_design(*args):
    from bandlimit.filters.resample import _kaiser_design

    return _kaiser_design(*args)


@pytest.mark.parametrize("name", list(_DESIGNS))
def test_designs_are_on_the_cpu_in_their_dtype_whatever_the_defaults(name):
    """As documented: on the CPU, in ``dtype`` (float32 unless given; float64 for
    resample_filter), whatever torch's default device and dtype: the taps went to the default
    device (a meta default: meta tensors, which have no taps)."""
    want = _DESIGNS[name]()
    got = under_default_device_and_dtype(_DESIGNS[name])
    assert got.device == want.device == torch.device("cpu") and got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_resample_filter_is_a_fresh_tensor_each_time():
    from bandlimit.filters import resample_filter

    a = resample_filter(3, 2)
    a.mul_(0)  # the cached design is not the caller's tensor
    assert resample_filter(3, 2).abs().sum() > 0
    assert resample_filter(3, 2, dtype=torch.float32).dtype == torch.float32


@given(st.floats(8.5, 300.0), st.floats(1e-4, 0.9), st.sampled_from([2.0, 1.0, 48000.0]))
def test_kaiser_order_is_scipys_kaiserord_in_the_unit_of_fs(atten, width, fs):
    """kaiser_order(A, width, fs) = scipy.signal.kaiserord(A, width / (fs / 2)), and the taps
    it gives reach A by Kaiser's own estimate."""
    from bandlimit.filters import kaiser_order

    n, beta = kaiser_order(atten, width * fs / 2, fs)
    assert (n, beta) == scipy.signal.kaiserord(atten, width)
    assert isinstance(n, int) and isinstance(beta, float)
    assert scipy.signal.kaiser_atten(n, width) >= atten - 1e-9
    assert n == 1 or scipy.signal.kaiser_atten(n - 1, width) < atten


def test_kaiser_order_bad_input():
    from bandlimit.filters import kaiser_order

    with pytest.raises(ValueError, match=r"^atten_db must be > 8 dB .*got 5\.0"):
        kaiser_order(5.0, 0.1)
    with pytest.raises(ValueError, match=r"^width must be > 0, got 0"):
        kaiser_order(60.0, 0)
    with pytest.raises(ValueError, match=r"needs more than 2\*\*53 taps"):
        kaiser_order(60.0, 1e-300)
    with pytest.raises(TypeError, match=r"^atten_db must be a real number"):
        kaiser_order("60", 0.1)
