"""High-pass, band-pass, band-stop and multi-band Kaiser designs: parity with scipy, a naive
oracle, responses.

The oracle below is written from the formulas (sums of ideal band responses, windowed by the
Kaiser window of tests/filters/test_kaiser.py, scaled at the documented frequency) with plain
loops; responses are evaluated by a direct DTFT sum here, not by the library's response code.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bandlimit.filters.bands import (
    kaiser_bandpass,
    kaiser_bandstop,
    kaiser_highpass,
    kaiser_jinc_highpass,
    kaiser_multiband,
)
from bandlimit.filters.kaiser import kaiser_jinc, kaiser_sinc
from bandlimit.filters.response import frequency_response
from bandlimit.ops import filter2d
from tests.defaults import under_default_device_and_dtype
from tests.filters.oracle import design_beta_oracle, jinc_oracle, window_oracle

# ---------------------------------------------------------------------------------------------
# Independent float64 oracle and a direct DTFT.


def band_oracle(n: int, bands, scale_at: float, width: float, fs: float) -> np.ndarray:
    """Σ over pass bands (f1, f2) of the ideal band's impulse response (the difference of two
    ideal low-passes, 2f/fs·sinc(2f·m/fs)), times the Kaiser window, scaled so that the
    zero-phase response Σ h_i cos(2π f m_i / fs) is 1 at ``scale_at``."""
    w = window_oracle(n, design_beta_oracle(n, width, fs))
    h = np.zeros(n)
    for i in range(n):
        m = i - (n - 1) / 2
        for f1, f2 in bands:
            h[i] += 2 * f2 / fs * np.sinc(2 * f2 / fs * m) - 2 * f1 / fs * np.sinc(2 * f1 / fs * m)
        h[i] *= w[i]
    scale = sum(h[i] * math.cos(2 * math.pi * scale_at / fs * (i - (n - 1) / 2)) for i in range(n))
    return h / scale


def highpass_oracle(n, cutoff, width, fs):
    return band_oracle(n, [(cutoff, fs / 2)], fs / 2, width, fs)


def bandpass_oracle(n, low, high, width, fs):
    return band_oracle(n, [(low, high)], (low + high) / 2, width, fs)


def bandstop_oracle(n, low, high, width, fs):
    return band_oracle(n, [(0.0, low), (high, fs / 2)], 0.0, width, fs)


def dtft(h, freqs, fs: float = 1.0) -> np.ndarray:
    """|H(f)| = |Σ_k h_k e^{-2πi f k / fs}| at each frequency, float64."""
    h = np.asarray(h, dtype=np.float64)
    k = np.arange(h.size)
    f = np.atleast_1d(np.asarray(freqs, dtype=np.float64))
    return np.abs(np.exp(-2j * np.pi * np.outer(f, k) / fs) @ h)


def kaiser_ripple(n: int, width: float, fs: float) -> float:
    """Kaiser's predicted stop-band ripple 10^(-A/20) for ``width`` (unit of ``fs``)."""
    atten = 2.285 * (n - 1) * math.pi * (width / (fs / 2)) + 7.95
    return 10 ** (-atten / 20)


# ---------------------------------------------------------------------------------------------
# Strategies. Frequencies are drawn relative to fs so that any fs works.

FS = [1.0, 2.0, 32.0, 1000.0, 44100.0]


@st.composite
def highpass_designs(draw, max_taps: int = 101):
    n = 2 * draw(st.integers(0, (max_taps - 1) // 2)) + 1
    fs = draw(st.sampled_from(FS))
    cutoff = draw(st.floats(0.01, 0.49)) * fs
    width = draw(st.floats(0.005, 0.6)) * fs
    return n, cutoff, width, fs


@st.composite
def band_designs(draw, odd: bool, max_taps: int = 101):
    n = draw(st.integers(1, max_taps))
    if odd:
        n |= 1
    fs = draw(st.sampled_from(FS))
    a = draw(st.floats(0.01, 0.49))
    b = draw(st.floats(0.01, 0.49))
    assume(abs(a - b) > 1e-3)
    width = draw(st.floats(0.005, 0.6)) * fs
    return n, min(a, b) * fs, max(a, b) * fs, width, fs


@st.composite
def well_posed(draw, bands: bool):
    """fs = 1; odd taps with a Kaiser prediction of 30..80 dB; every band edge at least a
    transition width ``w`` from 0 and from Nyquist, and (bands) ``high - low >= 2w``: every
    pass and stop band exists and is at least ``w`` wide."""
    n = 2 * draw(st.integers(12, 80)) + 1
    atten = draw(st.floats(30.0, 80.0))
    w = (atten - 7.95) / (2.285 * (n - 1) * math.pi) / 2  # inverts kaiser_atten(n, w / 0.5)
    if not bands:
        assume(0.5 - 2 * w > 1e-3)
        return n, draw(st.floats(w, 0.5 - w)), w
    assume(0.5 - 4 * w > 1e-3)
    low = draw(st.floats(w, 0.5 - 3 * w))
    assume(low + 2 * w < 0.5 - w)  # (not so at the top end, by a rounding)
    high = draw(st.floats(low + 2 * w, 0.5 - w))
    return n, low, high, w


# ---------------------------------------------------------------------------------------------
# Numerics: scipy and the oracle; dtypes.


def _check_f64_and_roundings(design, args, ref):
    got = design(*args, dtype=torch.float64)
    assert got.dtype == torch.float64 and got.shape == ref.shape
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-15 * max(1.0, np.abs(ref).max()))
    # Every other dtype is the correctly rounded float64 design.
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        assert torch.equal(design(*args, dtype=dtype), got.to(dtype)), dtype
    assert design(*args).dtype == torch.float32
    return got.numpy()


@settings(max_examples=50)
@given(highpass_designs())
def test_highpass_matches_firwin_and_oracle(design):
    n, cutoff, width, fs = design
    ref = scipy.signal.firwin(n, cutoff, width=width, fs=fs, pass_zero=False)
    h = _check_f64_and_roundings(kaiser_highpass, design, ref)
    oracle = highpass_oracle(n, cutoff, width, fs)
    np.testing.assert_allclose(h, oracle, rtol=0, atol=1e-12 * max(1.0, np.abs(oracle).max()))


@settings(max_examples=50)
@given(band_designs(odd=False))
def test_bandpass_matches_firwin_and_oracle(design):
    n, low, high, width, fs = design
    ref = scipy.signal.firwin(n, [low, high], width=width, fs=fs, pass_zero=False)
    h = _check_f64_and_roundings(kaiser_bandpass, design, ref)
    oracle = bandpass_oracle(n, low, high, width, fs)
    np.testing.assert_allclose(h, oracle, rtol=0, atol=1e-12 * max(1.0, np.abs(oracle).max()))


@settings(max_examples=50)
@given(band_designs(odd=True))
def test_bandstop_matches_firwin_and_oracle(design):
    n, low, high, width, fs = design
    ref = scipy.signal.firwin(n, [low, high], width=width, fs=fs, pass_zero=True)
    h = _check_f64_and_roundings(kaiser_bandstop, design, ref)
    oracle = bandstop_oracle(n, low, high, width, fs)
    np.testing.assert_allclose(h, oracle, rtol=0, atol=1e-12 * max(1.0, np.abs(oracle).max()))


def test_oracle_can_tell_the_designs_apart():
    """The oracle is not vacuous: a wrong band, scaling point or window shows."""
    hp = kaiser_highpass(31, 0.2, 0.05, 1.0, dtype=torch.float64).numpy()
    assert np.abs(hp - highpass_oracle(31, 0.21, 0.05, 1.0)).max() > 1e-3
    assert np.abs(hp - highpass_oracle(31, 0.2, 0.06, 1.0)).max() > 1e-4
    unscaled = band_oracle(31, [(0.2, 0.5)], 0.0, 0.05, 1.0)  # scaled at DC instead of fs/2
    assert np.abs(hp - unscaled).max() > 1e-3


def test_numpy_scalars_accepted():
    want = kaiser_bandpass(33, 0.1, 0.3, 0.05, 1.0)
    got = kaiser_bandpass(np.int64(33), np.float32(0.1), np.float64(0.3), 0.05, np.int32(1))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-7)  # (0.1 as float32 is not 0.1)
    want = kaiser_highpass(33, 0.1, 0.05, 1.0)
    assert torch.equal(kaiser_highpass(np.int64(33), 0.1, 0.05, 1), want)


# ---------------------------------------------------------------------------------------------
# Shape, symmetry, placement.


_DESIGNS = {
    "highpass": lambda: kaiser_highpass(31, 0.1, 0.05, 1.0),
    "bandpass": lambda: kaiser_bandpass(30, 0.1, 0.3, 0.05, 1.0),
    "bandstop": lambda: kaiser_bandstop(31, 0.1, 0.3, 0.05, 1.0),
}
_EVERY_DESIGN = {**_DESIGNS, "jinc_highpass": lambda: kaiser_jinc_highpass(31, 0.1, 0.05, 1.0)}


@settings(max_examples=25)
@given(highpass_designs(), band_designs(odd=False), band_designs(odd=True))
def test_shape_and_linear_phase_symmetry(hp, bp, bs):
    for design, args in ((kaiser_highpass, hp), (kaiser_bandpass, bp), (kaiser_bandstop, bs)):
        h = design(*args, dtype=torch.float64).numpy()
        assert h.shape == (args[0],)
        np.testing.assert_allclose(h, h[::-1], rtol=0, atol=1e-15 * max(1.0, np.abs(h).max()))


@pytest.mark.parametrize("name", sorted(_EVERY_DESIGN))
def test_on_the_cpu_whatever_the_default_device_and_dtype(name):
    want = _EVERY_DESIGN[name]()
    got = under_default_device_and_dtype(_EVERY_DESIGN[name])
    assert got.device == want.device == torch.device("cpu")
    assert got.dtype == want.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_one_tap_is_the_identity_as_in_scipy():
    for h in (kaiser_highpass(1, 0.2, 0.05, 1.0), kaiser_bandpass(1, 0.1, 0.2, 0.05, 1.0),
              kaiser_bandstop(1, 0.1, 0.2, 0.05, 1.0)):  # fmt: skip
        assert h.tolist() == [1.0]


# ---------------------------------------------------------------------------------------------
# Frequency responses (direct DTFT).

# Measured on 20 000 random well-posed designs (the strategy above): the largest stop-band level
# was 1.82 δ (δ = 10^(-A/20), Kaiser's prediction), the largest pass-band deviation from 1 was
# 3.31 δ (two transition bands' ripples add in a band), and |kaiser_sinc + kaiser_highpass − δ_0|
# at most 0.45 δ. The bounds below leave a margin.
STOP = 2.5
PASS = 5.0


def _grid(a: float, b: float, k: int = 200) -> np.ndarray:
    return np.linspace(a, b, k)


@given(well_posed(bands=False))
def test_highpass_response(design):
    n, cutoff, w = design
    h = kaiser_highpass(n, cutoff, w, 1.0, dtype=torch.float64).numpy()
    delta = kaiser_ripple(n, w, 1.0)
    assert dtft(h, 0.5)[0] == pytest.approx(1.0, abs=1e-13)  # the scaling point
    assert dtft(h, 0.0)[0] <= STOP * delta
    assert dtft(h, _grid(0.0, cutoff - w / 2)).max() <= STOP * delta
    assert np.abs(dtft(h, _grid(cutoff + w / 2, 0.5)) - 1).max() <= PASS * delta


@given(well_posed(bands=True))
def test_bandpass_response(design):
    n, low, high, w = design
    h = kaiser_bandpass(n, low, high, w, 1.0, dtype=torch.float64).numpy()
    delta = kaiser_ripple(n, w, 1.0)
    assert dtft(h, (low + high) / 2)[0] == pytest.approx(1.0, abs=1e-13)
    assert max(dtft(h, [0.0, 0.5])) <= STOP * delta
    stop = np.r_[_grid(0.0, low - w / 2), _grid(high + w / 2, 0.5)]
    assert dtft(h, stop).max() <= STOP * delta
    assert np.abs(dtft(h, _grid(low + w / 2, high - w / 2)) - 1).max() <= PASS * delta


@given(well_posed(bands=True))
def test_bandstop_response(design):
    n, low, high, w = design
    h = kaiser_bandstop(n, low, high, w, 1.0, dtype=torch.float64).numpy()
    delta = kaiser_ripple(n, w, 1.0)
    assert h.sum() == pytest.approx(1.0, abs=1e-13)
    assert dtft(h, (low + high) / 2)[0] <= STOP * delta
    assert dtft(h, _grid(low + w / 2, high - w / 2)).max() <= STOP * delta
    passes = np.r_[_grid(0.0, low - w / 2), _grid(high + w / 2, 0.5)]
    assert np.abs(dtft(h, passes) - 1).max() <= PASS * delta


def test_highpass_63_taps_at_dc_below_kaiser_prediction():
    n, cutoff, width = 63, 0.1, 0.05  # Kaiser: 52.5 dB
    h = kaiser_highpass(n, cutoff, width, 1.0, dtype=torch.float64).numpy()
    assert dtft(h, 0.0)[0] <= kaiser_ripple(n, width, 1.0)
    assert dtft(h, 0.5)[0] == pytest.approx(1.0, abs=1e-14)


@given(well_posed(bands=False))
def test_highpass_complements_kaiser_sinc(design):
    """Before scaling the high-pass is the impulse minus kaiser_sinc's taps (off the centre the
    two are proportional), and scaled they add up to the impulse within Kaiser's ripple."""
    n, cutoff, w = design
    hp = kaiser_highpass(n, cutoff, w, 1.0, dtype=torch.float64).numpy()
    lp = kaiser_sinc(n, cutoff, w, 1.0, dtype=torch.float64).numpy()
    c = n // 2
    off = np.arange(n) != c
    ratio = np.dot(hp[off], lp[off]) / np.dot(lp[off], lp[off])
    assert ratio == pytest.approx(-1.0, abs=3 * kaiser_ripple(n, w, 1.0))
    np.testing.assert_allclose(hp[off], ratio * lp[off], rtol=0, atol=1e-14)
    impulse = np.zeros(n)
    impulse[c] = 1.0
    assert np.abs(hp + lp - impulse).max() <= kaiser_ripple(n, w, 1.0)


@settings(max_examples=25)
@given(band_designs(odd=False))
def test_even_bandpass_has_a_zero_at_nyquist(design):
    """Why high-pass and band-stop need odd taps: every even-length symmetric filter is 0 at
    fs/2 (its taps pair up with opposite signs there)."""
    n, low, high, width, fs = design
    assume(n % 2 == 0)
    h = kaiser_bandpass(n, low, high, width, fs, dtype=torch.float64).numpy()
    assert dtft(h, fs / 2, fs)[0] <= 1e-13 * max(1.0, np.abs(h).sum())


@pytest.mark.parametrize("name", sorted(_DESIGNS))
def test_frequency_response_agrees_with_direct_dtft(name):
    h = _DESIGNS[name]().double()
    freqs, mag = frequency_response(h, fs=1.0, n=1024)
    np.testing.assert_allclose(mag, dtft(h.numpy(), freqs), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Transition bands that do not fit: designed as scipy designs them, with the documented effect.


def test_narrow_band_pass_is_a_resonator():
    """high - low < width: no flat pass band, the response peaks at the centre at 1."""
    n, low, high, w = 63, 0.2, 0.21, 0.05
    h = kaiser_bandpass(n, low, high, w, 1.0, dtype=torch.float64).numpy()
    ref = scipy.signal.firwin(n, [low, high], width=w, fs=1.0, pass_zero=False)
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-15)
    freqs = np.linspace(0, 0.5, 2001)
    mag = dtft(h, freqs)
    assert abs(freqs[np.argmax(mag)] - 0.205) <= 1e-3
    assert mag.max() == pytest.approx(1.0, abs=1e-3)
    assert dtft(h, [0.205 - w, 0.205 + w]).max() < 1e-2  # rolled off a width away


def test_narrow_band_stop_notch_gets_shallower():
    """high - low < width: no stop band; the narrower the band, the shallower the notch."""
    n, w, centre = 63, 0.05, 0.25
    depths = []
    for half in (0.02, 0.01, 0.005, 0.0025):  # band widths 0.04 .. 0.005 < w
        h = kaiser_bandstop(n, centre - half, centre + half, w, 1.0, dtype=torch.float64)
        depths.append(dtft(h.numpy(), centre)[0])
    assert all(a < b for a, b in itertools.pairwise(depths)), depths
    assert depths[0] > 10 * kaiser_ripple(n, w, 1.0)  # not the stop-band level


def test_highpass_cutoff_within_half_width_of_dc_leaves_dc():
    """cutoff < width/2: there is no stop band, the response at DC is not small."""
    h = kaiser_highpass(63, 0.01, 0.05, 1.0, dtype=torch.float64).numpy()
    assert dtft(h, 0.0)[0] > 0.1
    assert dtft(h, 0.5)[0] == pytest.approx(1.0, abs=1e-14)


# ---------------------------------------------------------------------------------------------
# The radial high-pass: the impulse minus the radial low-pass.


@st.composite
def radial_designs(draw, max_taps: int = 31):
    n = 2 * draw(st.integers(0, (max_taps - 1) // 2)) + 1
    fs = draw(st.sampled_from(FS))
    return n, draw(st.floats(0.01, 0.49)) * fs, draw(st.floats(0.005, 0.6)) * fs, fs


@settings(max_examples=40)
@given(radial_designs())
def test_radial_highpass_is_the_impulse_minus_the_jinc_oracle(design):
    n, cutoff, width, fs = design
    want = -jinc_oracle(n, cutoff, width, fs)
    want[n // 2, n // 2] += 1
    h = _check_f64_and_roundings(kaiser_jinc_highpass, design, want)
    assert abs(h.sum()) <= 1e-14  # DC: exactly 0 up to rounding
    np.testing.assert_array_equal(h, h.T)
    np.testing.assert_array_equal(h, h[::-1, ::-1])
    low = kaiser_jinc(n, cutoff, width, fs, dtype=torch.float64).numpy()
    impulse = np.zeros((n, n))
    impulse[n // 2, n // 2] = 1
    np.testing.assert_allclose(h + low, impulse, rtol=0, atol=1e-15)


# Measured on 300 random designs (25..70 dB by Kaiser's 1-D formula, 13..39 taps, fs = 1): the
# radial response strays up to 6.9 δ from 0 over the stop band and 5.8 δ from 1 over the pass
# band (δ = Kaiser's 1-D prediction; a separable window around a radial kernel does worse than
# in 1-D). The bound below leaves a margin; a low-pass (not complemented) design fails it.
RADIAL = 10.0


@settings(max_examples=25)
@given(st.integers(6, 19), st.floats(25.0, 70.0), st.floats(0.0, 1.0))
def test_radial_highpass_response_over_the_plane(half, atten, where):
    """A direct 2-D DTFT on a 96 x 96 grid of the whole plane (corners included): ~0 for
    ρ ≤ cutoff − w/2, ~1 for ρ ≥ cutoff + w/2, in every direction."""
    n = 2 * half + 1
    w = (atten - 7.95) / (2.285 * (n - 1) * math.pi) / 2
    assume(0.5 - 2 * w > 1e-3)
    cutoff = w + where * (0.5 - 2 * w)
    h = kaiser_jinc_highpass(n, cutoff, w, 1.0, dtype=torch.float64).numpy()
    f = np.arange(-48, 48) / 96
    k = np.arange(n) - n // 2
    e = np.exp(-2j * np.pi * np.outer(f, k))  # [freq, tap]
    response = np.abs(e @ h @ e.T)  # [fy, fx]
    rho = np.hypot(f[:, None], f[None, :])
    delta = kaiser_ripple(n, w, 1.0)
    assert response[rho <= cutoff - w / 2].max() <= RADIAL * delta
    assert np.abs(response[rho >= cutoff + w / 2] - 1).max() <= RADIAL * delta


def test_radial_designs_refuse_sizes_that_do_not_fit_in_memory():
    """numtaps² taps: past 4096 per axis a ValueError, not a MemoryError or the OOM killer."""
    for design in (kaiser_jinc, kaiser_jinc_highpass):
        with pytest.raises(ValueError, match=r"numtaps must be <= 4096 for a 2-D \(radial\) "
                           r"filter, which holds numtaps² taps, got 4097"):
            design(4097, 0.2, 0.1, 1.0)


def test_radial_highpass_removes_what_the_radial_lowpass_keeps():
    """filter2d with the high-pass is the image minus its low-passed self (zero padding, both
    with the same centred taps), and maps a constant to 0 where the taps stay inside."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 20, 17, dtype=torch.float64)
    h = kaiser_jinc_highpass(9, 0.2, 0.1, 1.0, dtype=torch.float64)
    low = kaiser_jinc(9, 0.2, 0.1, 1.0, dtype=torch.float64)
    torch.testing.assert_close(filter2d(x, h), x - filter2d(x, low), rtol=0, atol=1e-14)
    ones = filter2d(torch.ones(1, 1, 20, 20, dtype=torch.float64), h)
    assert ones[..., 4:-4, 4:-4].abs().max() <= 1e-15
    assert kaiser_jinc_highpass(1, 0.2, 0.1, 1.0).tolist() == [[0.0]]


# ---------------------------------------------------------------------------------------------
# Bad input: every error names the argument and the value.

GOOD = {
    kaiser_highpass: {"numtaps": 63, "cutoff": 0.1, "width": 0.05, "fs": 1.0},
    kaiser_bandpass: {"numtaps": 63, "low": 0.1, "high": 0.3, "width": 0.05, "fs": 1.0},
    kaiser_bandstop: {"numtaps": 63, "low": 0.1, "high": 0.3, "width": 0.05, "fs": 1.0},
    kaiser_jinc_highpass: {"numtaps": 63, "cutoff": 0.1, "width": 0.05, "fs": 1.0},
}
ALL = list(GOOD)
BANDS = [kaiser_bandpass, kaiser_bandstop]
ODD = [kaiser_highpass, kaiser_bandstop, kaiser_jinc_highpass]
CUTOFF = [kaiser_highpass, kaiser_jinc_highpass]

# β > 709 for 63 taps at fs = 1: width > (709/0.1102 + 8.7 − 7.95) / (2.285·62·π / 0.5).
_WIDTH_LIMIT = (709 / 0.1102 + 8.7 - 7.95) / (2.285 * 62 * math.pi / 0.5)

# (functions, argument, bad value, exception, regex the message must match)
CASES = [
    (ALL, "numtaps", 0, ValueError, r"numtaps must be an int >= 1, got 0"),
    (ALL, "numtaps", 63.0, TypeError, r"numtaps must be an int.* got 63\.0 \(float\)"),
    (ALL, "numtaps", True, TypeError, r"numtaps must be an int.* got True \(bool\)"),
    (ALL, "numtaps", None, TypeError, r"numtaps must be an int.* got None"),
    (ALL, "numtaps", 10**400, ValueError, r"numtaps must be an int in \[1, 2\*\*53\]"),
    (ODD, "numtaps", 64, ValueError,
     r"numtaps must be odd for a (high-pass|band-stop|radial high-pass), got 64: an even-length "
     r"symmetric filter "
     r"has a zero at the Nyquist frequency fs/2, .*\(use 65\)"),
    (CUTOFF, "cutoff", 0.0, ValueError, r"cutoff must satisfy 0 < cutoff < fs/2 = 0\.5 "
     r"\(fs = 1\.0\), got 0\.0"),
    (CUTOFF, "cutoff", 0.5, ValueError, r"cutoff must satisfy .* got 0\.5"),
    (CUTOFF, "cutoff", math.nan, ValueError, r"cutoff must be a finite .*, got nan"),
    (CUTOFF, "cutoff", "0.1", TypeError, r"cutoff must be a real number, got '0\.1'"),
    (BANDS, "low", 0.0, ValueError,
     r"low must satisfy 0 < low < fs/2 = 0\.5 \(fs = 1\.0\), got 0\.0"),
    (BANDS, "low", -0.1, ValueError, r"low must satisfy .* got -0\.1"),
    (BANDS, "low", 0.3, ValueError,
     r"low and high must satisfy low < high, got low = 0\.3 and high = 0\.3"),
    (BANDS, "low", 0.4, ValueError,
     r"low and high must satisfy low < high, got low = 0\.4 and high = 0\.3"),
    (BANDS, "low", math.nan, ValueError, r"low must be a finite real number, got nan"),
    (BANDS, "low", True, TypeError, r"low must be a real number, got True"),
    (BANDS, "high", 0.5, ValueError,
     r"high must satisfy 0 < high < fs/2 = 0\.5 \(fs = 1\.0\), got 0\.5"),
    (BANDS, "high", 0.7, ValueError, r"high must satisfy .* got 0\.7"),
    (BANDS, "high", math.inf, ValueError, r"high must be a finite real number, got inf"),
    (BANDS, "high", None, TypeError, r"high must be a real number, got None"),
    (ALL, "width", 0.0, ValueError, r"width must be > 0, got 0\.0"),
    (ALL, "width", -0.05, ValueError, r"width must be > 0, got -0\.05"),
    (ALL, "width", math.nan, ValueError, r"width must be a finite real number, got nan"),
    (ALL, "width", 100.0, ValueError,
     rf"width must be <= {_WIDTH_LIMIT:.6g} for numtaps = 63 and fs = 1\.0 \(Kaiser's beta = "
     r"[\d.]+ > 709 overflows I0\), got 100\.0"),
    (ALL, "fs", 0.0, ValueError, r"fs must be > 0, got 0\.0"),
    (ALL, "fs", False, TypeError, r"fs must be a real number, got False"),
    (ALL, "dtype", torch.int32, TypeError,
     r"dtype must be a real floating-point torch\.dtype .*torch\.int32"),
    (ALL, "dtype", torch.complex64, TypeError, r"dtype must be a real floating-point .*complex64"),
    (ALL, "dtype", "float32", TypeError, r"dtype must be a torch\.dtype, got 'float32' \(str\)"),
    (ALL, "dtype", np.float32, TypeError, r"dtype must be a torch\.dtype"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("fn", "arg", "value", "exc", "match"),
    [
        pytest.param(fn, arg, value, exc, match, id=f"{fn.__name__}-{arg}-{value!r:.20}")
        for fns, arg, value, exc, match in CASES
        for fn in fns
    ],
)
def test_bad_argument_is_named(fn, arg, value, exc, match):
    kwargs = {**GOOD[fn], arg: value}
    with pytest.raises(exc, match=match):
        fn(**kwargs)


def test_width_just_below_the_limit_is_designed():
    h = kaiser_highpass(63, 0.1, 0.999 * _WIDTH_LIMIT, 1.0, dtype=torch.float64)
    assert torch.isfinite(h).all()


@pytest.mark.parametrize("fn", ALL)
def test_dtype_is_keyword_only(fn):
    with pytest.raises(TypeError):
        fn(*GOOD[fn].values(), torch.float64)


@pytest.mark.parametrize("fn", [kaiser_highpass, kaiser_bandstop])  # (scipy's designs)
def test_even_numtaps_refused_where_scipy_refuses_it(fn):
    """scipy refuses the same designs (with a message that names no argument)."""
    kw = {k: v for k, v in GOOD[fn].items() if k != "numtaps"}
    edges = kw.get("cutoff", [kw.get("low"), kw.get("high")])
    with pytest.raises(ValueError):
        scipy.signal.firwin(64, edges, width=kw["width"], fs=kw["fs"],
                            pass_zero=fn is kaiser_bandstop)  # fmt: skip
    with pytest.raises(ValueError, match=r"numtaps must be odd"):
        fn(64, **kw)


# ---------------------------------------------------------------------------------------------
# Multi-band designs


@settings(max_examples=40, deadline=None)
@given(data=st.data(), count=st.integers(1, 6), pass_zero=st.booleans(), half=st.integers(10, 60))
def test_multiband_is_scipys_firwin_and_the_oracle(data, count, pass_zero, half):
    """Any number of edges, either first band: scipy's firwin exactly, and the oracle's sum of
    ideal pass bands scaled at the first pass band's centre (0 or fs/2 at the ends)."""
    edges = sorted(data.draw(st.lists(st.floats(0.02, 0.48), min_size=count, max_size=count,
                                      unique=True), "edges"))  # fmt: skip
    assume(all(b - a > 1e-3 for a, b in itertools.pairwise(edges)))
    n = 2 * half + 1
    h = kaiser_multiband(n, edges, 0.02, 1.0, pass_zero=pass_zero, dtype=torch.float64)
    want = scipy.signal.firwin(n, edges, width=0.02, fs=1.0, pass_zero=pass_zero)
    np.testing.assert_array_equal(h.numpy(), want)
    bounds = [0.0, *edges, 0.5]
    bands = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)
             if (i % 2 == 0) == pass_zero]  # fmt: skip
    lo, hi = bands[0]
    scale_at = 0.0 if lo == 0 else (0.5 if hi == 0.5 else (lo + hi) / 2)
    np.testing.assert_allclose(h.numpy(), band_oracle(n, bands, scale_at, 0.02, 1.0),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


def test_multiband_one_or_two_edges_are_the_named_designs():
    lowpass = kaiser_sinc(31, 0.2, 0.1, 1.0)
    torch.testing.assert_close(kaiser_multiband(31, [0.2], 0.1, 1.0), lowpass)
    torch.testing.assert_close(kaiser_multiband(31, [0.2], 0.1, 1.0, pass_zero=False),
                               kaiser_highpass(31, 0.2, 0.1, 1.0))  # fmt: skip
    torch.testing.assert_close(kaiser_multiband(31, [0.1, 0.3], 0.1, 1.0, pass_zero=False),
                               kaiser_bandpass(31, 0.1, 0.3, 0.1, 1.0))  # fmt: skip
    torch.testing.assert_close(kaiser_multiband(31, [0.1, 0.3], 0.1, 1.0),
                               kaiser_bandstop(31, 0.1, 0.3, 0.1, 1.0))  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"edges": [0.3, 0.2]}, ValueError, r"edges must be strictly increasing"),
        ({"edges": [0.1, 0.1]}, ValueError, r"edges must be strictly increasing"),
        ({"edges": []}, ValueError, r"edges must hold at least one band edge"),
        ({"edges": [0.1, 0.6]}, ValueError, r"edges\[1\] must satisfy 0 < edges\[1\] < fs/2"),
        ({"edges": 0.2}, TypeError, r"edges must be a sequence"),
        ({"edges": [0.1, 0.2], "numtaps": 30}, ValueError, r"numtaps must be odd"),
        ({"edges": [0.1], "numtaps": 30, "pass_zero": False}, ValueError, r"numtaps must be odd"),
        ({"edges": [0.1], "pass_zero": "yes"}, TypeError, r"pass_zero"),
    ],
)
def test_multiband_bad_input(kwargs, error, match):
    args = {"numtaps": 31, "width": 0.05, "fs": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        kaiser_multiband(**args)


def test_multiband_takes_arrays_and_tensors_of_edges():
    want = kaiser_multiband(31, [0.1, 0.3], 0.05, 1.0)
    torch.testing.assert_close(kaiser_multiband(31, np.array([0.1, 0.3]), 0.05, 1.0), want)
    torch.testing.assert_close(kaiser_multiband(31, torch.tensor([0.1, 0.3]), 0.05, 1.0), want)
    with pytest.raises(ValueError, match=r"edges must be 1-D, got shape \(\)"):
        kaiser_multiband(31, np.array(0.1), 0.05, 1.0)
