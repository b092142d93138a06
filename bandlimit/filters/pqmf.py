r"""Pseudo-QMF (cosine-modulated) filter banks: split a signal into ``K`` critically sampled
sub-bands and put it back together, as multi-band vocoders do (Multi-band MelGAN, Avocodo,
MB-iSTFT-VITS).

The design follows Nguyen ("Near-perfect-reconstruction pseudo-QMF banks", IEEE TSP 1994) with
the Kaiser-window prototype of Lin & Vaidyanathan ("A Kaiser window approach for the design of
prototype filters of cosine modulated filterbanks", IEEE SPL 1998). With :math:`N` = ``taps``
(even), :math:`m = n - N/2` the tap's offset from the centre, :math:`n = 0 \dots N`:

.. math::
    h[n] = \frac{\sin(\omega_c m)}{\pi m}\, w[n] \quad (h[N/2] = \omega_c / \pi),
    \qquad \omega_c = \pi r,

    h_k[n] = 2\, h[n] \cos\!\Big(\frac{(2k+1)\pi}{2K} m + (-1)^k \frac{\pi}{4}\Big), \qquad
    g_k[n] = 2\, h[n] \cos\!\Big(\frac{(2k+1)\pi}{2K} m - (-1)^k \frac{\pi}{4}\Big),

with :math:`w` the symmetric Kaiser window of :math:`N + 1` points and shape :math:`\beta`,
:math:`r` the cutoff ratio and :math:`k = 0 \dots K-1`. :math:`h_k` are the analysis filters (band
``k`` is :math:`x * h_k` kept every :math:`K`-th sample), :math:`g_k` the synthesis filters (each
band zero-stuffed by :math:`K`, filtered by :math:`g_k`, times :math:`K`, summed). As :math:`h` is
symmetric, :math:`g_k` is :math:`h_k` reversed.

The prototype :math:`h` is the windowed ideal low-pass, **not** rescaled: its DC gain
:math:`\sum h` is about 1 (1.00003 for Multi-band MelGAN's ``taps=62, cutoff_ratio=0.142,
beta=9``), so each :math:`h_k` has a gain of about 1 in its band. The bank is near-perfect
reconstruction when :math:`r` makes the prototype power complementary,
:math:`|H(\omega)|^2 + |H(\pi/K - \omega)|^2 \approx 1` on :math:`[0, \pi/K]`:
:func:`pqmf_cutoff` finds that :math:`r` for given ``subbands``, ``taps`` and ``beta``.

Filters are designed in float64 and cast to ``dtype``, on the CPU whatever torch's default device
(as ``bandlimit.filters.kaiser``'s designs). :class:`bandlimit.nn.PQMF` runs the bank.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize
import scipy.signal
import torch

from bandlimit._checks import check_factor, check_float_dtype, check_real
from bandlimit.filters.kaiser import _MAX_BETA, _check_int, _finish

__all__ = ["pqmf_cutoff", "pqmf_filters"]

# Multi-band MelGAN's prototype (Yang et al., 2020), for 4 bands.
MB_MELGAN_TAPS = 62
MB_MELGAN_CUTOFF_RATIO = 0.142
MB_MELGAN_BETA = 9.0


# ---------------------------------------------------------------------------------------------
# Argument validation (shared with bandlimit.nn.pqmf).


def _check_subbands(value: Any) -> int:
    return check_factor("subbands", value)  # (the bank's up/down factor)


def _check_taps(value: Any) -> int:
    taps = _check_int("taps", value, minimum=2)
    if taps % 2:
        raise ValueError(
            f"taps must be even (the prototype has taps + 1 taps and a whole-sample centre), "
            f"got {taps} (use {taps + 1})"
        )
    return taps


def _check_beta(value: Any) -> float:
    beta = check_real("beta", value, nonnegative=True)
    if beta > _MAX_BETA:  # I0(beta) overflows float64 beyond
        raise ValueError(f"beta must be <= {_MAX_BETA:g} (the Kaiser window's I0(beta) "
                         f"overflows float64 beyond), got {value!r}")  # fmt: skip
    return beta


def _check_cutoff_ratio(value: Any, subbands: int) -> float:
    r = check_real("cutoff_ratio", value)
    # The prototype's band edge sits near pi/(2K); at pi/K or beyond it reaches past the
    # neighbouring band's centre and the aliasing of non-adjacent bands no longer cancels.
    if not 0 < r < 1 / subbands:
        raise ValueError(
            f"cutoff_ratio must satisfy 0 < cutoff_ratio < 1/subbands = {1 / subbands:.6g} "
            f"(subbands = {subbands}; about 1/(2·subbands) is right, pqmf_cutoff(subbands, "
            f"taps, beta) gives the best), got {value!r}"
        )
    return r


def _validate(
    subbands: Any, taps: Any, cutoff_ratio: Any, beta: Any
) -> tuple[int, int, float, float]:
    k = _check_subbands(subbands)
    n = _check_taps(taps)
    b = _check_beta(beta)
    if cutoff_ratio is not None:
        r = _check_cutoff_ratio(cutoff_ratio, k)
    elif (k, n, b) == (4, MB_MELGAN_TAPS, MB_MELGAN_BETA):
        r = MB_MELGAN_CUTOFF_RATIO  # (its published value: pqmf_cutoff's 0.142003, rounded)
    else:
        r = pqmf_cutoff(k, n, b)
    return k, n, r, b


# ---------------------------------------------------------------------------------------------
# Design.


def _prototype(taps: int, cutoff_ratio: float, window: np.ndarray) -> np.ndarray:
    """The prototype low-pass ``h`` (``taps + 1`` taps, float64; ``window`` the Kaiser window)."""
    m = np.arange(taps + 1, dtype=np.float64) - taps // 2
    # r·sinc(r m) = sin(π r m)/(π m), r at m = 0; sinc is even to the bit, so h is symmetric.
    return cutoff_ratio * np.sinc(cutoff_ratio * m) * window


def _modulated(h: np.ndarray, subbands: int, sign: int) -> np.ndarray:
    """``2 h[n] cos((2k+1) π/(2K) m + sign·(−1)^k π/4)`` for k = 0..K−1, ``[K, taps + 1]``."""
    k = np.arange(subbands)[:, None]
    m = np.arange(h.size) - (h.size - 1) // 2
    # The integer (2k+1)·m times π/(2K): the angle at −m is minus the one at m to the bit, so
    # g_k is h_k reversed exactly (cos is even); the phase ±π/4 flips with it.
    angle = ((2 * k + 1) * m) * (math.pi / (2 * subbands))
    phase = sign * np.where(k % 2 == 0, 1.0, -1.0) * (math.pi / 4)
    return 2 * h * np.cos(angle + phase)


def pqmf_filters(
    subbands: int = 4,
    taps: int = MB_MELGAN_TAPS,
    cutoff_ratio: float | None = None,
    beta: float = MB_MELGAN_BETA,
    *,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The analysis and synthesis filters of a ``subbands``-band pseudo-QMF bank.

    With :math:`K` = ``subbands``, :math:`N` = ``taps``, :math:`r` = ``cutoff_ratio`` and
    :math:`m = n - N/2`, :math:`n = 0 \dots N`:

    .. math::
        h[n] = \frac{\sin(\pi r m)}{\pi m}\, w[n] \quad (h[N/2] = r),

        h_k[n] = 2\, h[n] \cos\!\Big(\frac{(2k+1)\pi}{2K} m + (-1)^k \frac{\pi}{4}\Big),
        \qquad
        g_k[n] = 2\, h[n] \cos\!\Big(\frac{(2k+1)\pi}{2K} m - (-1)^k \frac{\pi}{4}\Big),

    the prototype :math:`h` a Kaiser-windowed sinc (:math:`w` the symmetric Kaiser window of
    :math:`N + 1` points, shape ``beta``), not rescaled (DC gain about 1: 1.00003 for the
    defaults), modulated to the centres :math:`(2k+1)\pi/(2K)` of the :math:`K` bands of width
    :math:`\pi/K`. :math:`h_k` analyses (band ``k`` is :math:`x * h_k` kept every
    :math:`K`-th sample), :math:`g_k` synthesises (each band zero-stuffed by :math:`K`,
    filtered by :math:`g_k`, times :math:`K`, summed). The defaults are Multi-band MelGAN's
    4-band bank.

    Parameters
    ----------
    subbands : int, default 4
        Number of bands :math:`K`, in :math:`[1, 2^{30}]`.
    taps : int, default 62
        The prototype's order :math:`N`: **even**, :math:`2 \le N \le 2^{53}`; each filter has
        ``taps + 1`` taps (odd, centred on tap ``taps // 2``). The transition band must stay
        narrower than a band: at :math:`\beta = 9`, 62 taps suit up to 4 bands (64 dB of
        reconstruction SNR), 8 bands need about 126 (62 give 49 dB).
    cutoff_ratio : float or None, default None
        The prototype's cutoff :math:`r` as a fraction of the Nyquist frequency,
        :math:`0 < r < 1/K` (about :math:`1/(2K)`); None: :func:`pqmf_cutoff`
        ``(subbands, taps, beta)``, the power-complementary optimum, except for Multi-band
        MelGAN's bank (4 bands, 62 taps, :math:`\beta = 9`), whose published 0.142 it takes
        (the optimum, rounded). A ratio fits one bank only: 0.142 with 2 bands reconstructs at
        4 dB.
    beta : float, default 9.0
        The Kaiser window's shape :math:`\beta`, :math:`0 \le \beta \le 709`.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``(analysis, synthesis)``, each ``[subbands, taps + 1]`` (row ``k`` is band ``k``, from
        the lowest), ``dtype``, on the CPU; in true-convolution orientation, so
        ``synthesis == analysis.flip(1)`` exactly. The centre taps are :math:`\sqrt2\, r`.

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument is out of range (an odd ``taps``, ``cutoff_ratio`` not in
        ``(0, 1/subbands)``, a negative ``beta``...).

    See Also
    --------
    pqmf_cutoff : the cutoff ratio that makes the bank near-perfect reconstruction.
    bandlimit.nn.PQMF : the bank as a module (analysis and synthesis).

    Examples
    --------
    >>> import torch
    >>> from bandlimit.filters.pqmf import pqmf_filters
    >>> analysis, synthesis = pqmf_filters()           # Multi-band MelGAN's 4 bands
    >>> analysis.shape, analysis.dtype
    (torch.Size([4, 63]), torch.float32)
    >>> torch.equal(synthesis, analysis.flip(1))
    True
    >>> round(float(analysis[0, 31]), 6)               # the centre tap, √2 · 0.142
    0.200818
    """
    subbands, taps, cutoff_ratio, beta = _validate(subbands, taps, cutoff_ratio, beta)
    dtype = check_float_dtype("dtype", dtype)
    h = _prototype(taps, cutoff_ratio, np.kaiser(taps + 1, beta))
    return (
        _finish(_modulated(h, subbands, +1), dtype, "pqmf_filters"),
        _finish(_modulated(h, subbands, -1), dtype, "pqmf_filters"),
    )


def _power_error(
    subbands: int, taps: int, window: np.ndarray, points: int
) -> Callable[[float], float]:
    """``r -> max_ω | |H(ω)|² + |H(π/K − ω)|² − 1 |`` over ``points`` frequencies of [0, π/K]."""

    def error(r: float) -> float:
        h = _prototype(taps, r, window)
        # |H| on ω_i = i·(π/K)/(points − 1), i = 0..points−1 (a chirp z-transform: the band
        # [0, π/K] alone, finely); π/K − ω_i is ω_{points−1−i}.
        power = np.abs(scipy.signal.zoom_fft(h, [0, 1 / subbands], m=points, fs=2,
                                             endpoint=True)) ** 2  # fmt: skip
        return float(np.max(np.abs(power + power[::-1] - 1)))

    return error


def pqmf_cutoff(subbands: int, taps: int, beta: float) -> float:
    r"""The prototype cutoff ratio that makes a pseudo-QMF bank power complementary.

    Lin & Vaidyanathan's criterion (IEEE SPL 1998): for the Kaiser-windowed sinc prototype
    :math:`h` of :func:`pqmf_filters` (``taps + 1`` taps, window shape ``beta``), the cutoff
    ratio :math:`r` (cutoff :math:`\pi r`) minimising

    .. math:: \max_{0 \le \omega \le \pi/K}
              \Big|\, |H(\omega)|^2 + |H(\pi/K - \omega)|^2 - 1 \,\Big|,

    the distance from the power-complementary condition under which the bank's distortion and
    the aliasing between adjacent bands cancel. The maximum is taken on a grid of at least
    1025 frequencies (16 per ripple of :math:`H`); :math:`r` is located on a grid of 65 values
    within about a transition width of :math:`1/(2K)` and refined by a bounded scalar search
    (:func:`scipy.optimize.minimize_scalar`) between the neighbours of the best. A prototype
    that no cutoff makes power complementary within 0.5 raises ``ValueError``.

    Parameters
    ----------
    subbands : int
        Number of bands :math:`K`, in :math:`[1, 2^{30}]`.
    taps : int
        The prototype's order :math:`N`, even, :math:`2 \le N \le 2^{53}` (as
        :func:`pqmf_filters`).
    beta : float
        The Kaiser window's shape, :math:`0 \le \beta \le 709`.

    Returns
    -------
    float
        The cutoff ratio :math:`r \in (0, 1/K)`, to pass as ``cutoff_ratio``.

    Examples
    --------
    Multi-band MelGAN's 4-band prototype: its published 0.142 is this optimum, rounded:

    >>> from bandlimit.filters.pqmf import pqmf_cutoff
    >>> round(pqmf_cutoff(4, 62, 9.0), 3)
    0.142
    """
    subbands, taps, beta = _check_subbands(subbands), _check_taps(taps), _check_beta(beta)
    window = np.kaiser(taps + 1, beta)
    # |H|² ripples about every 2π/N: 16 points per ripple on [0, π/K], odd for a centre point.
    points = max(1025, 2 * (8 * taps // subbands) + 1)
    error = _power_error(subbands, taps, window, points)
    # The optimum lies within about a transition width of 1/(2K) (Kaiser: (β + 2)/N of the
    # Nyquist frequency, generously): a grid over all of (0, 1/K) was coarser than that width
    # for long prototypes, every point scored ~1 and the search settled on a plateau.
    half = min(0.4995 / subbands, (beta + 2) / taps)  # (short ones: nearly all of (0, 1/K))
    grid = 1 / (2 * subbands) + half * np.linspace(-1, 1, 65)
    best = int(np.argmin([error(float(r)) for r in grid]))
    step = grid[1] - grid[0]
    edge = 1e-6 / subbands  # (strictly inside (0, 1/K), where cutoff_ratio must be)
    lo, hi = max(grid[best] - step, edge), min(grid[best] + step, 1 / subbands - edge)
    found = scipy.optimize.minimize_scalar(
        error, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}
    )
    if found.fun >= 0.5:  # (a window too short or too blunt for this many bands)
        raise ValueError(
            f"no cutoff ratio makes this prototype power complementary: the best, "
            f"{found.x:.6g}, misses by {found.fun:.3g} for subbands={subbands}, taps={taps}, "
            f"beta={beta!r}; use more taps or a larger beta"
        )
    return float(found.x)
