"""The PQMF module (bandlimit.nn.pqmf): a float64 NumPy oracle of the bank's definition,
near-perfect reconstruction, band separation, channels, backends, dtypes, gradients,
torch.compile, state and bad input."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.filters.pqmf import pqmf_filters
from bandlimit.nn.pqmf import PQMF
from bandlimit.ops import upfirdn1d
from tests.ops.strategies import IMPLS

# ---------------------------------------------------------------------------------------------
# The oracle: the definition, with np.convolve.


def np_analysis(x: np.ndarray, analysis: np.ndarray) -> np.ndarray:
    """Band k = (x zero-extended) * h_k, centred (taps/2 before and after), every K-th sample
    from the first; channel c·K + k."""
    n_, c_, t = x.shape
    k_, n1 = analysis.shape
    out = np.zeros((n_, c_, k_, t // k_))
    for n in range(n_):
        for c in range(c_):
            for k in range(k_):
                full = np.convolve(x[n, c], analysis[k])  # length T + N, output t at t + N/2
                out[n, c, k] = full[(n1 - 1) // 2 :][:t][::k_]
    return out.reshape(n_, c_ * k_, t // k_)


def np_synthesis(y: np.ndarray, synthesis: np.ndarray) -> np.ndarray:
    """Each band zero-stuffed by K, convolved with g_k (centred), times K, summed."""
    n_, ck, length = y.shape
    k_, n1 = synthesis.shape
    y = y.reshape(n_, ck // k_, k_, length)
    out = np.zeros((n_, ck // k_, length * k_))
    for n in range(n_):
        for c in range(ck // k_):
            for k in range(k_):
                up = np.zeros(length * k_)
                up[::k_] = y[n, c, k]
                out[n, c] += k_ * np.convolve(up, synthesis[k])[(n1 - 1) // 2 :][: length * k_]
    return out


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=20, deadline=None)
@given(subbands=st.integers(1, 5), half=st.integers(1, 20), channels=st.integers(1, 3),
       batch=st.integers(1, 2), length=st.integers(1, 12), seed=st.integers(0, 2**31))  # fmt: skip
def test_matches_a_float64_numpy_oracle(impl, subbands, half, channels, batch, length, seed):
    """Any bank, any channel count, signals shorter than the filters included."""
    taps = 2 * half
    pqmf = PQMF(subbands, taps, 0.6 / subbands, 7.0, impl=impl).double()
    a, s = (f.numpy() for f in pqmf_filters(subbands, taps, 0.6 / subbands, 7.0))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, channels, subbands * length))
    bands = pqmf.analysis(torch.tensor(x))
    want = np_analysis(x, a.astype(np.float64))
    assert bands.shape == (batch, channels * subbands, length) == want.shape
    np.testing.assert_allclose(bands.numpy(), want, rtol=1e-10, atol=1e-12)
    y = rng.standard_normal((batch, channels * subbands, length))
    out = pqmf.synthesis(torch.tensor(y))
    want = np_synthesis(y, s.astype(np.float64))
    assert out.shape == (batch, channels, subbands * length) == want.shape
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)


def test_analysis_is_one_centred_upfirdn1d_per_band():
    """What the docstring says: band k is upfirdn1d(x, h_k, down=K, padding=taps // 2)."""
    pqmf = PQMF()
    x = torch.randn(2, 3, 400, generator=torch.Generator().manual_seed(0))
    bands = pqmf.analysis(x).unflatten(1, (3, 4))
    for k in range(4):
        want = upfirdn1d(x, pqmf.analysis_filter[k], down=4, padding=31)
        torch.testing.assert_close(bands[:, :, k], want, rtol=1e-5, atol=1e-6)
    assert torch.equal(pqmf(x), pqmf.analysis(x))  # forward is analysis


# ---------------------------------------------------------------------------------------------
# Near-perfect reconstruction and band separation.


@cache
def bank(name: str) -> PQMF:
    """Multi-band MelGAN's bank, and 2, 3 and 8 bands with the power-complementary cutoff."""
    args = {"default": (4, 62, 0.142), "2": (2, 62, None), "3": (3, 96, None),
            "8": (8, 126, None)}[name]  # fmt: skip
    return PQMF(*args).double()


def snr_db(error: torch.Tensor, x: torch.Tensor) -> float:
    return 10 * math.log10(float(x.pow(2).sum() / error.pow(2).sum()))


@settings(max_examples=20, deadline=None)
@given(name=st.sampled_from(["default", "2", "3", "8"]), length=st.integers(40, 400),
       batch=st.integers(1, 3), channels=st.integers(1, 2), seed=st.integers(0, 2**31))  # fmt: skip
def test_synthesis_of_analysis_is_near_perfect_away_from_the_ends(name, length, batch,
                                                                   channels, seed):  # fmt: skip
    """White noise, float64: beyond taps/2 samples from either end, at least 60 dB SNR
    (measured over 40 seeds: default 63.7, 2 bands 66.4, 3 bands 66.5, 8 bands 64.1 dB
    minimum). Within taps/2 of an end the band samples beyond the end are missing: measured
    9.8 … 26 dB there, and the output still has the input's alignment (no delay)."""
    pqmf = bank(name)
    k, p = pqmf.subbands, pqmf.taps // 2
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, k * length, generator=g, dtype=torch.float64)
    y = pqmf.synthesis(pqmf.analysis(x))
    assert y.shape == x.shape
    error = y - x
    assert snr_db(error[..., p:-p], x[..., p:-p]) > 60
    for end in (slice(None, p), slice(-p, None)):
        assert snr_db(error[..., end], x[..., end]) > 5  # (a delayed output would be ~0 dB)


@pytest.mark.parametrize("name", ["default", "8"])
def test_near_perfect_reconstruction_in_float32(name):
    """Float32 filters and arithmetic cost nothing measurable (default: 64.1 dB)."""
    k, taps, r = bank(name).subbands, bank(name).taps, bank(name).cutoff_ratio
    pqmf = PQMF(k, taps, r)
    x = torch.randn(2, 1, 400 * k, generator=torch.Generator().manual_seed(1))
    p = taps // 2
    error = pqmf.synthesis(pqmf.analysis(x)) - x
    assert snr_db(error[..., p:-p], x[..., p:-p]) > 60


@pytest.mark.parametrize("name", ["default", "2", "3", "8"])
def test_a_sinusoid_at_a_bands_centre_stays_in_that_band(name):
    """cos(ω_k t), ω_k = (2k+1)π/(2K): the other bands together get less than −80 dB of the
    energy away from the ends (measured −89.5 … −106 dB)."""
    pqmf = bank(name)
    k_, taps = pqmf.subbands, pqmf.taps
    t = torch.arange(256 * k_, dtype=torch.float64)
    for k in range(k_):
        x = torch.cos((2 * k + 1) * math.pi / (2 * k_) * t + 0.3).reshape(1, 1, -1)
        energy = pqmf.analysis(x)[0, :, taps:-taps].pow(2).sum(-1)
        leak = float((energy.sum() - energy[k]) / energy[k])
        assert 10 * math.log10(leak) < -80, (name, k, leak)


def test_channels_are_split_alike():
    pqmf = PQMF(3, 24, 0.2).double()
    x = torch.randn(2, 4, 60, dtype=torch.float64)
    bands = pqmf.analysis(x)
    assert bands.shape == (2, 12, 20)
    for c in range(4):
        torch.testing.assert_close(bands[:, 3 * c : 3 * c + 3], pqmf.analysis(x[:, c : c + 1]))
    y = pqmf.synthesis(bands)
    for c in range(4):
        torch.testing.assert_close(y[:, c : c + 1], pqmf.synthesis(bands[:, 3 * c : 3 * c + 3]))


# ---------------------------------------------------------------------------------------------
# Backends, dtypes, gradients, torch.compile, state.


def test_backends_agree():
    x = torch.randn(2, 2, 256, generator=torch.Generator().manual_seed(2))
    y = torch.randn(2, 8, 64, generator=torch.Generator().manual_seed(3))
    ref, numba = PQMF(impl="ref"), PQMF(impl="numba")
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        torch.testing.assert_close(numba.analysis(x.to(dtype)), ref.analysis(x.to(dtype)),
                                   rtol=tol, atol=tol)  # fmt: skip
        torch.testing.assert_close(numba.synthesis(y.to(dtype)), ref.synthesis(y.to(dtype)),
                                   rtol=tol, atol=tol)  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes(impl, dtype):
    pqmf = PQMF(impl=impl)
    x = torch.randn(1, 1, 128, generator=torch.Generator().manual_seed(4))
    bands = pqmf.analysis(x.to(dtype))
    y = pqmf.synthesis(bands)
    assert bands.dtype == y.dtype == dtype
    want = pqmf.analysis(x.double())
    tol = {torch.float16: 3e-3, torch.bfloat16: 3e-2}.get(dtype, 1e-5)
    torch.testing.assert_close(bands.double(), want, rtol=tol, atol=tol)
    half = pqmf.to(dtype)  # (filter buffers stay float32 under half casts)
    want_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    assert half.analysis_filter.dtype == half.synthesis_filter.dtype == want_dtype


@pytest.mark.parametrize("impl", IMPLS)
def test_gradients(impl):
    pqmf = PQMF(2, 6, 0.3, 4.0, impl=impl).double()
    x = torch.randn(1, 2, 8, dtype=torch.float64, requires_grad=True)
    y = torch.randn(1, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pqmf.analysis, (x,))
    assert torch.autograd.gradcheck(pqmf.synthesis, (y,))
    small = torch.randn(1, 1, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: pqmf.synthesis(pqmf.analysis(t)), (small,))


@pytest.mark.parametrize("impl", IMPLS)
def test_torch_compile_fullgraph(impl):
    pqmf = PQMF(impl=impl)

    def round_trip(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        bands = pqmf(x)
        return bands, pqmf.synthesis(bands)

    x = torch.randn(2, 1, 256)
    compiled = torch.compile(round_trip, fullgraph=True, backend="aot_eager")
    for got, want in zip(compiled(x), round_trip(x)):
        torch.testing.assert_close(got, want)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_no_state_and_repr():
    pqmf = PQMF()
    assert len(pqmf.state_dict()) == 0 and not list(pqmf.parameters())
    assert [name for name, _ in pqmf.named_buffers()] == ["analysis_filter", "synthesis_filter"]
    assert pqmf.analysis_filter.shape == (4, 63) and pqmf.analysis_filter.dtype == torch.float32
    assert torch.equal(pqmf.synthesis_filter, pqmf.analysis_filter.flip(1))
    assert repr(pqmf) == "PQMF(subbands=4, taps=62, cutoff_ratio=0.142, beta=9.0)"
    assert repr(PQMF(2, 8, 0.3, 2, impl="ref")) == ("PQMF(subbands=2, taps=8, cutoff_ratio=0.3, "
                                                   "beta=2.0, impl='ref')")  # fmt: skip
    with pytest.raises(NotImplementedError, match=r"torch.jit.script cannot compile PQMF"):
        torch.jit.script(pqmf)


# ---------------------------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"subbands": 0}, ValueError, r"subbands must be an int >= 1, got 0"),
    ({"taps": 63}, ValueError, r"taps must be even .*got 63"),
    ({"taps": -2}, ValueError, r"taps must be an int >= 2, got -2"),
    ({"cutoff_ratio": 0.3}, ValueError, r"cutoff_ratio must satisfy 0 < cutoff_ratio < "
                                        r"1/subbands = 0.25 .*got 0.3"),
    ({"cutoff_ratio": 0}, ValueError, r"cutoff_ratio must satisfy .*got 0"),
    ({"beta": -9.0}, ValueError, r"beta must be >= 0, got -9.0"),
    ({"impl": "fast"}, ValueError, r"impl must be one of .*got 'fast'"),
])  # fmt: skip
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        PQMF(**kwargs)


def test_bad_signals():
    pqmf = PQMF()
    with pytest.raises(ValueError, match=r"^PQMF.analysis takes \[N, C, T\], got shape \(4, 64\)$"):
        pqmf.analysis(torch.zeros(4, 64))
    with pytest.raises(ValueError, match=r"takes \[N, C, T\], got shape \(1, 1, 1, 8\)"):
        pqmf(torch.zeros(1, 1, 1, 8))
    with pytest.raises(ValueError, match=r"length T is a positive multiple of subbands=4, got "
                                         r"T=10 \(shape \(1, 1, 10\); pad it, e.g. "
                                         r"F.pad\(x, \(0, 2\)\)\)"):  # fmt: skip
        pqmf.analysis(torch.zeros(1, 1, 10))
    with pytest.raises(ValueError, match=r"got T=0"):
        pqmf.analysis(torch.zeros(1, 1, 0))
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor"):
        pqmf.analysis(np.zeros((1, 1, 8)))
    with pytest.raises(TypeError, match=r"x must have a floating-point dtype, got torch.int64"):
        pqmf.analysis(torch.zeros(1, 1, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^PQMF.synthesis takes bands \[N, C·K, L\] with C·K a "
                                         r"positive multiple of subbands=4 and L >= 1, got shape "
                                         r"\(1, 6, 10\)$"):  # fmt: skip
        pqmf.synthesis(torch.zeros(1, 6, 10))
    with pytest.raises(ValueError, match=r"got shape \(1, 4, 0\)"):
        pqmf.synthesis(torch.zeros(1, 4, 0))
    with pytest.raises(ValueError, match=r"PQMF.synthesis takes \[N, C·K, L\], got shape \(4, 8\)"):
        pqmf.synthesis(torch.zeros(4, 8))
    with pytest.raises(TypeError, match=r"y must have a floating-point dtype"):
        pqmf.synthesis(torch.zeros(1, 4, 8, dtype=torch.int32))
