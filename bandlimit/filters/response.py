r"""Frequency-response analysis of 1-D and 2-D FIR filters.

Every function accepts a real filter as a ``torch.Tensor`` or ``numpy.ndarray`` (any real dtype;
analysed in float64) of shape ``[taps]`` (1-D) or ``[taps_y, taps_x]`` (2-D, indexed ``[y, x]``)
and returns numpy values. The response of taps :math:`h_k` running at sampling rate :math:`f_s` is
the DTFT

.. math:: H(f) = \sum_k h_k\, e^{-2\pi i f k / f_s}, \qquad
          H(f_y, f_x) = \sum_{k, l} h_{kl}\, e^{-2\pi i (f_y k + f_x l)/f_s},

sampled by a zero-padded FFT. Only magnitudes are reported: they do not depend on where the
filter's origin is (the linear phase of a centred symmetric filter carries no information).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bandlimit.filters.kaiser import (
    _check_bool,
    _check_cutoff,
    _check_int,
    _check_positive,
    _check_real,
)

__all__ = [
    "band_gain",
    "frequency_response",
    "magnitude_db",
    "passband_ripple",
    "stopband_attenuation",
]

# Magnitudes are clipped here before taking logs: -300 dB is far below float64 FFT round-off
# (~1e-16 relative, -320 dB), so the floor never hides a real feature, and it keeps exact zeros
# (e.g. [0.5, 0.5] at Nyquist) finite instead of -inf.
_DB_FLOOR = 1e-15

_DEFAULT_N = {1: 8192, 2: 512}


def _as_filter(f: Any, ndims: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Validate a filter and return it as a float64 numpy array."""
    if isinstance(f, (list, tuple)):  # taps written out, as scipy.signal.freqz takes them
        try:
            f = np.asarray(f)
        except ValueError:  # ragged
            raise ValueError("f must be a sequence of numbers or of equal-length rows of "
                             "numbers, got a ragged sequence") from None  # fmt: skip
        if f.dtype.kind not in "fiu":
            raise TypeError(f"f must hold real numbers, got a sequence of {f.dtype}")
    if isinstance(f, torch.Tensor):
        if f.dtype.is_complex or f.dtype == torch.bool:
            raise TypeError(f"f must have a real numeric dtype, got {f.dtype}")
        if f.is_meta:
            raise ValueError("f must hold its taps, got a tensor on the meta device")
        arr = f.detach().to("cpu", torch.float64).numpy()
    elif isinstance(f, np.ndarray):
        if f.dtype.kind not in "fiu":
            raise TypeError(f"f must have a real numeric dtype, got {f.dtype}")
        arr = f.astype(np.float64)
    else:
        raise TypeError(
            f"f must be a torch.Tensor, a numpy.ndarray or a sequence of numbers, got "
            f"{type(f).__name__}"
        )
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"f must be a {want} filter, got shape {tuple(arr.shape)} ({arr.ndim}-D)")
    if arr.size == 0:
        raise ValueError(f"f must have at least one tap, got shape {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("f must contain only finite values, got NaN or inf")
    return arr


def _check_n(n: Any, arr: np.ndarray) -> int:
    if n is None:
        # The default grid, or one with 8 points per sidelobe of a longer filter (a grid of
        # its own length samples each sidelobe about once, a boxcar only at its zeros: 300 dB
        # where there are 75); 2-D grids are capped at 2048² (64 MB) unless the taps need more.
        def pow2(m: int) -> int:
            return 1 << (m - 1).bit_length()

        length = max(arr.shape)
        dense = pow2(8 * length)
        if arr.ndim == 2:
            dense = max(min(dense, 2048), pow2(length))
        return max(_DEFAULT_N[arr.ndim], dense)
    n = _check_int("n", n, minimum=2)
    if n < max(arr.shape):
        # A shorter FFT would fold the taps onto each other (time-domain aliasing).
        raise ValueError(f"n must be >= the filter length {max(arr.shape)}, got {n}")
    return n


def magnitude_db(h: Any) -> np.ndarray:
    r"""Convert a magnitude (or complex) response to decibels, :math:`20 \log_{10} |H|`.

    Magnitudes below 1e-15 are clipped to 1e-15 (−300 dB) so exact zeros give a finite value.

    Parameters
    ----------
    h : array_like or torch.Tensor
        Response values (real or complex, any precision: bfloat16 too), finite; computed in
        float64.

    Returns
    -------
    numpy.ndarray
        Same shape, float64, in dB (a ``numpy.float64`` scalar for a scalar ``h``).

    Raises
    ------
    TypeError
        ``h`` is not numeric (e.g. bool or str).
    ValueError
        ``h`` holds NaN or inf.

    Examples
    --------
    >>> import numpy as np
    >>> from bandlimit.filters import magnitude_db
    >>> magnitude_db(np.array([1.0, 0.5, 0.0])).round(2).tolist()   # 0 is floored at -300 dB
    [0.0, -6.02, -300.0]
    >>> magnitude_db(np.array([1j, 0.1])).round(2).tolist()          # complex: |H|
    [0.0, -20.0]
    """
    if isinstance(h, torch.Tensor):
        if h.dtype == torch.bool:
            raise TypeError(f"h must be numeric (real or complex), got dtype {h.dtype}")
        if h.is_meta:
            raise ValueError("h must hold its values, got a tensor on the meta device")
        # Widen first: numpy has no bfloat16.
        h = h.detach().cpu().to(torch.complex128 if h.is_complex() else torch.float64)
    arr = h.numpy() if isinstance(h, torch.Tensor) else np.asarray(h)
    if arr.dtype.kind not in "fiuc":
        raise TypeError(f"h must be numeric (real or complex), got dtype {arr.dtype}")
    mag = np.abs(arr).astype(np.float64)
    if not np.all(np.isfinite(mag)):
        raise ValueError("h must contain only finite values, got NaN or inf")
    return 20.0 * np.log10(np.maximum(mag, _DB_FLOOR))


def frequency_response(
    f: Any, fs: float = 1.0, n: int | None = None, *, db: bool = False
) -> tuple[Any, np.ndarray]:
    r"""Magnitude response :math:`|H|` of a 1-D or 2-D FIR filter by zero-padded FFT.

    Parameters
    ----------
    f : torch.Tensor, numpy.ndarray or sequence of numbers
        Real taps (any real dtype; analysed in float64), shape ``[taps]`` or
        ``[taps_y, taps_x]`` (indexed ``[y, x]``), finite.
    fs : float
        Sampling rate at which the filter runs (> 0, default 1: frequencies in cycles per
        sample); frequencies are returned in its unit.
    n : int, optional
        FFT length per axis, ``max(2, max(f.shape)) <= n <= 2**53`` (default 8192 for 1-D, 512
        for 2-D; for a longer filter the power of two >= 8 × its length, so that every sidelobe
        is sampled about 8 times; 2-D at most 2048 then, unless the taps need more). The
        frequency spacing is ``fs / n``.
    db : bool, keyword-only
        Return :math:`20\log_{10}|H|` (see :func:`magnitude_db`) instead of :math:`|H|`.

    Returns
    -------
    freqs : numpy.ndarray or tuple of numpy.ndarray
        1-D: ``[n//2 + 1]`` frequencies :math:`k f_s / n`, :math:`k = 0 \dots \lfloor n/2 \rfloor`
        (from 0 up to ``fs/2``, included when ``n`` is even).
        2-D: a tuple ``(fy, fx)`` of two ``[n]`` axes, each
        :math:`k f_s / n` for :math:`k = -\lfloor n/2 \rfloor \dots \lceil n/2 \rceil - 1`
        (from ``-fs/2`` to just below ``fs/2``; zero frequency at index ``n // 2``).
    H : numpy.ndarray
        float64 magnitude (or dB): ``[n//2 + 1]`` for 1-D; ``[n, n]`` for 2-D with ``H[i, j]``
        the response at ``(fy[i], fx[j])``.

    Examples
    --------
    >>> from bandlimit.filters import frequency_response, kaiser_jinc, kaiser_sinc
    >>> h = kaiser_sinc(12, cutoff=0.25, width=0.2, fs=1.0)
    >>> freqs, H = frequency_response(h)
    >>> freqs.shape, H.shape, float(freqs[-1]), round(float(H[0]), 4)
    ((4097,), (4097,), 0.5, 1.0)
    >>> (fy, fx), H2 = frequency_response(kaiser_jinc(13, 0.25, 0.2, 1.0), n=64)
    >>> fx.shape, H2.shape, float(fx[0]), float(fx[32])      # zero frequency at index n // 2
    ((64,), (64, 64), -0.5, 0.0)
    """
    arr = _as_filter(f)
    fs = _check_positive("fs", fs)
    n = _check_n(n, arr)
    db = _check_bool("db", db)
    if arr.ndim == 1:
        # k·fs/n with the product first: exact, so the last bin is exactly fs/2 for even n.
        freqs: Any = np.arange(n // 2 + 1) * fs / n
        mag = np.abs(np.fft.rfft(arr, n))
    else:
        axis = (np.arange(n) - n // 2) * fs / n  # fftshift order, as fftfreq but exact
        freqs = (axis, axis.copy())
        mag = np.abs(np.fft.fftshift(np.fft.fft2(arr, (n, n))))
    return freqs, (magnitude_db(mag) if db else mag)


def _dtft_1d(h: np.ndarray, freq: float, fs: float) -> float:
    """|H(freq)| evaluated directly (used to include band edges that fall between FFT bins)."""
    k = np.arange(h.size)
    return float(abs(np.sum(h * np.exp(-2j * np.pi * freq * k / fs))))


def _radial_response(arr: np.ndarray, fs: float, n: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(frequency of every response sample, |H| there, |H(0)|); radial frequency for 2-D."""
    freqs, mag = frequency_response(arr, fs, n)
    if arr.ndim == 1:
        return freqs, mag, float(mag[0])
    fy, fx = freqs
    rho = np.hypot(fy[:, None], fx[None, :])
    return rho.ravel(), mag.ravel(), float(mag[n // 2, n // 2])


def _dc_gain(dc: float, mag: np.ndarray) -> float:
    """The DC gain the measures are relative to; refused where ``f`` is no low-pass."""
    if not dc > 1e-12:
        raise ValueError(
            f"f has (near) zero DC gain |H(0)| = {dc!r}; passband ripple and stopband "
            "attenuation are measured relative to it, so f must be a low-pass filter"
        )
    peak = float(np.max(mag))
    if dc < 0.5 * peak:  # (a high- or band-pass, whose DC gain is its stop band's level)
        raise ValueError(
            f"f is not a low-pass filter: its DC gain |H(0)| = {dc:.3g} is below half its "
            f"peak gain {peak:.3g}, and passband ripple and stopband attenuation are measured "
            f"relative to the DC gain (measure a high-, band-pass or band-stop design with "
            f"band_gain)"
        )
    return dc


def passband_ripple(f: Any, cutoff: float, fs: float = 1.0, n: int | None = None) -> float:
    r"""Largest deviation of the pass band from the DC gain, in dB.

    .. math:: R = \max_{0 \le \rho \le f_p} \big| 20 \log_{10} (|H(\rho)| / |H(0)|) \big|

    where :math:`f_p` = ``cutoff`` is the **pass-band edge** and :math:`\rho` the frequency (1-D)
    or the radial frequency :math:`\sqrt{f_x^2 + f_y^2}` (2-D). For a Kaiser design with cutoff
    :math:`f_c` and full transition width :math:`w`, pass :math:`f_p = f_c - w/2`; passing
    :math:`f_c` itself measures the −6 dB point and returns about 6.

    The response is sampled on the FFT grid of :func:`frequency_response` (plus, for 1-D, the
    exact edge frequency); raise ``n`` for finer sampling.

    Parameters
    ----------
    f : torch.Tensor, numpy.ndarray or sequence of numbers
        Real low-pass taps, ``[taps]`` or ``[taps_y, taps_x]``, with non-zero DC gain.
    cutoff : float
        Pass-band edge, ``0 < cutoff < fs/2``, in the unit of ``fs``.
    fs : float
        Sampling rate (> 0, default 1: cycles per sample).
    n : int, optional
        FFT length per axis (default: as in :func:`frequency_response`).

    Returns
    -------
    float
        Ripple in dB (>= 0).

    Raises
    ------
    ValueError
        ``cutoff`` is not in ``(0, fs/2)``, or ``f`` has (near) zero DC gain.

    Examples
    --------
    >>> from bandlimit.filters import kaiser_sinc, passband_ripple
    >>> h = kaiser_sinc(12, cutoff=0.25, width=0.2, fs=1.0)
    >>> round(passband_ripple(h, cutoff=0.25 - 0.2 / 2), 2)     # pass band up to 0.15
    0.13
    >>> round(passband_ripple(h, cutoff=0.25), 1)               # up to the -6 dB point
    6.1
    """
    arr = _as_filter(f)
    fs = _check_positive("fs", fs)
    cutoff = _check_cutoff(cutoff, fs, "cutoff")
    rho, mag, dc = _radial_response(arr, fs, _check_n(n, arr))
    dc = _dc_gain(dc, mag)
    band = mag[rho <= cutoff]
    if arr.ndim == 1:
        band = np.append(band, _dtft_1d(arr, cutoff, fs))
    return float(np.max(np.abs(magnitude_db(band / dc))))


def stopband_attenuation(f: Any, stopband: float, fs: float = 1.0, n: int | None = None) -> float:
    r"""Worst-case stop-band attenuation relative to the DC gain, in dB.

    .. math:: A = -20 \log_{10} \Big( \max_{\rho \ge f_{\mathrm{stop}}} |H(\rho)| / |H(0)| \Big)

    over all sampled frequencies from the stop-band edge ``stopband`` up to ``fs/2`` (1-D), or
    all points of the 2-D grid ``[-fs/2, fs/2)^2`` whose radial frequency
    :math:`\rho = \sqrt{f_x^2 + f_y^2}` is at least ``stopband`` (this includes the corners, up to
    :math:`f_s/\sqrt{2}`). For a Kaiser design with cutoff :math:`f_c` and full width :math:`w`,
    pass ``stopband = f_c + w/2``; the result is then comparable with :func:`kaiser_atten`.

    The response is sampled on the FFT grid of :func:`frequency_response` (plus, for 1-D, the
    exact edge frequency); raise ``n`` for finer sampling.

    Parameters
    ----------
    f : torch.Tensor, numpy.ndarray or sequence of numbers
        Real low-pass taps, ``[taps]`` or ``[taps_y, taps_x]``, with non-zero DC gain.
    stopband : float
        Stop-band edge, ``0 < stopband < fs/2``, in the unit of ``fs``.
    fs : float
        Sampling rate (> 0, default 1: cycles per sample).
    n : int, optional
        FFT length per axis (default: as in :func:`frequency_response`). For a 2-D filter the
        grid must hold a point at or beyond ``stopband`` (else ``ValueError``).

    Returns
    -------
    float
        Attenuation in dB (positive = attenuated; at most 300 because of the dB floor).

    Raises
    ------
    ValueError
        ``stopband`` is not in ``(0, fs/2)``, ``f`` has (near) zero DC gain, or a 2-D grid
        holds no point in the stop band.

    Examples
    --------
    Measured against Kaiser's prediction for a 12-tap design (cutoff 0.25, full width 0.2,
    cycles per sample):

    >>> from bandlimit.filters import kaiser_atten, kaiser_sinc, stopband_attenuation
    >>> h = kaiser_sinc(12, cutoff=0.25, width=0.2, fs=1.0)
    >>> round(stopband_attenuation(h, stopband=0.25 + 0.2 / 2), 1)
    37.5
    >>> round(kaiser_atten(12, 0.2 / 0.5), 1)
    39.5
    """
    arr = _as_filter(f)
    fs = _check_positive("fs", fs)
    stopband = _check_cutoff(stopband, fs, "stopband")
    n = _check_n(n, arr)
    rho, mag, dc = _radial_response(arr, fs, n)
    dc = _dc_gain(dc, mag)
    band = mag[rho >= stopband]
    if arr.ndim == 1:
        band = np.append(band, _dtft_1d(arr, stopband, fs))
    elif band.size == 0:  # a coarse 2-D grid may reach no further than sqrt(2)·(n//2)·fs/n
        raise ValueError(
            f"no point of the n x n = {n} x {n} frequency grid lies in the stop band "
            f"rho >= stopband = {stopband!r} (the largest radial frequency sampled is "
            f"{rho.max():.4g}): raise n or lower stopband"
        )
    return float(-magnitude_db(np.max(band) / dc))


def band_gain(
    f: Any, low: float, high: float, fs: float = 1.0, n: int | None = None
) -> tuple[float, float]:
    r"""The least and the largest gain of a filter over a band, in dB (absolute, not relative).

    .. math:: \Big(\min_{\rho \in B} 20 \log_{10} |H(\rho)|,\;
              \max_{\rho \in B} 20 \log_{10} |H(\rho)|\Big), \qquad B = [\mathrm{low},
              \mathrm{high}]

    with :math:`\rho` the frequency (1-D) or the radial frequency (2-D, the grid points whose
    :math:`\sqrt{f_x^2 + f_y^2}` lies in ``B``). It measures any design against its
    specification: a stop band's attenuation is ``-band_gain(h, *stop)[1]``, a pass band's
    ripple ``max(abs(g) for g in band_gain(h, *passband))`` for unit gain there. Unlike
    :func:`passband_ripple` and :func:`stopband_attenuation` (low-passes, relative to the DC
    gain), it suits high-pass, band-pass and band-stop filters
    (:func:`~bandlimit.filters.kaiser_highpass` ...).

    The response is sampled on the FFT grid of :func:`frequency_response` (plus, for 1-D, the
    exact band edges); raise ``n`` for finer sampling.

    Parameters
    ----------
    f : torch.Tensor, numpy.ndarray or sequence of numbers
        Real taps, ``[taps]`` or ``[taps_y, taps_x]``.
    low, high : float
        The band, ``0 <= low <= high <= fs/2`` (1-D: a single frequency when equal), in the
        unit of ``fs``; for a 2-D filter ``high`` may reach ``fs/√2`` (the grid's corners), and
        the band must hold points of the frequency grid (spacing ``fs / n``).
    fs : float
        Sampling rate (> 0, default 1: cycles per sample).
    n : int, optional
        FFT length per axis (default: as in :func:`frequency_response`).

    Returns
    -------
    (float, float)
        The least and the largest gain in dB (at least −300, the dB floor).

    Raises
    ------
    ValueError
        ``low``/``high`` out of range or ``low > high``, or (2-D) no grid point in the band.

    Examples
    --------
    A high-pass's stop band and pass band, against Kaiser's prediction of 52.5 dB:

    >>> from bandlimit.filters import band_gain, kaiser_highpass
    >>> h = kaiser_highpass(63, cutoff=0.1, width=0.05, fs=1.0)
    >>> round(-band_gain(h, 0.0, 0.1 - 0.05 / 2)[1], 1)          # stop-band attenuation
    52.4
    >>> [round(g, 3) for g in band_gain(h, 0.1 + 0.05 / 2, 0.5)]  # pass band: ~0 dB
    [-0.023, 0.018]
    """
    arr = _as_filter(f)
    fs = _check_positive("fs", fs)
    top = fs / 2 if arr.ndim == 1 else fs / math.sqrt(2)
    low, high = _check_real("low", low), _check_real("high", high)
    if not 0 <= low <= high <= top:
        edge = "fs/2" if arr.ndim == 1 else "fs/sqrt(2) (2-D)"
        raise ValueError(
            f"low and high must satisfy 0 <= low <= high <= {edge} = {top!r}, got low = "
            f"{low!r} and high = {high!r}"
        )
    n = _check_n(n, arr)
    rho, mag, _ = _radial_response(arr, fs, n)
    band = mag[(rho >= low) & (rho <= high)]
    if arr.ndim == 1:
        band = np.append(band, [_dtft_1d(arr, low, fs), _dtft_1d(arr, high, fs)])
    elif band.size == 0:
        raise ValueError(
            f"no point of the n x n = {n} x {n} frequency grid lies in the band "
            f"[{low!r}, {high!r}] (a 2-D band needs some: widen it to about fs/n = "
            f"{fs / n:.3g}, or raise n)"
        )
    db = magnitude_db(band)
    return float(np.min(db)), float(np.max(db))
