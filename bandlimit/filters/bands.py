r"""Kaiser-windowed high-pass, band-pass and band-stop filter design, scipy-exact.

The low-pass designs of ``bandlimit.filters.kaiser`` keep what a signal is allowed to contain;
these keep the rest, or a slice of it: the complementary high-pass of an alias-free low-pass (the
detail a downsampler removes), DC and rumble removal before a vocoder or a loss, splitting audio
into bands (a band-pass per band, a band-stop to notch one out). Each is
:func:`scipy.signal.firwin` with a Kaiser window, computed in float64 and cast to ``dtype``.

The conventions of ``bandlimit.filters.kaiser`` hold here too:

* Frequencies (``cutoff``, ``low``, ``high``, ``width``, ``fs``) are in the same, arbitrary unit
  (Hz for audio, cycles per sample with ``fs = 1``). Only their ratios matter.
* ``width`` is the **full** width of every transition band, each centred on its edge: a band-pass
  passes ``low + width/2 … high - width/2`` and stops below ``low - width/2`` and above
  ``high + width/2``. One width serves every edge, and the window's :math:`\beta` comes from it as
  in :func:`kaiser_sinc` (Kaiser's formula for ``width / (fs/2)``).
* Taps sit at positions :math:`m_i = i - (n-1)/2`, :math:`i = 0 \dots n-1`: every filter is
  symmetric (linear phase, a delay of :math:`(n-1)/2` samples).
* Filters are returned on the CPU in ``dtype`` (float32 unless given), whatever torch's default
  device and dtype: move them where they run.

A design whose pass band ends at the Nyquist frequency ``fs/2`` (high-pass, band-stop) needs an
odd ``numtaps``: an even-length symmetric filter has a zero at ``fs/2``. Band edges too close
for their transition bands (``high - low < width``, or an edge within ``width/2`` of 0 or of
``fs/2``) are designed as scipy designs them, not refused, but the bands then do not reach their
gains: see each function.

Apply a filter with :func:`bandlimit.ops.upfirdn1d`; padding
``(numtaps // 2, (numtaps - 1) // 2)`` keeps the length (and, for odd ``numtaps``, the timing).
:func:`frequency_response` and :func:`band_gain` (the gain range over a band, in dB) measure
any of them; :func:`passband_ripple` and :func:`stopband_attenuation` measure low-passes only
(relative to the DC gain: they refuse these).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.signal
import torch

from bandlimit._checks import check_bool, check_float_dtype
from bandlimit.filters.kaiser import (
    _check_cutoff,
    _check_int,
    _check_positive,
    _design_beta,
    _finish,
    _validate_design,
    check_2d_size,
    windowed_jinc,
)

__all__ = [
    "kaiser_bandpass",
    "kaiser_bandstop",
    "kaiser_highpass",
    "kaiser_jinc_highpass",
    "kaiser_multiband",
]


def _check_odd(numtaps: int, what: str) -> None:
    """A design that passes ``fs/2`` needs odd ``numtaps`` (as scipy's ``firwin`` requires;
    a radial high-pass: the impulse needs a centre tap)."""
    if numtaps % 2 == 0:
        raise ValueError(
            f"numtaps must be odd for a {what}, got {numtaps}: an even-length symmetric filter "
            f"has a zero at the Nyquist frequency fs/2, which a {what} passes (use {numtaps + 1})"
        )


def _validate_band(
    numtaps: Any, low: Any, high: Any, width: Any, fs: Any
) -> tuple[int, float, float, float, float]:
    numtaps = _check_int("numtaps", numtaps)
    fs = _check_positive("fs", fs)
    low = _check_cutoff(low, fs, "low")
    high = _check_cutoff(high, fs, "high")
    if not low < high:
        raise ValueError(f"low and high must satisfy low < high, got low = {low!r} and "
                         f"high = {high!r}")  # fmt: skip
    width = _check_positive("width", width)
    return numtaps, low, high, width, fs


def _design(
    numtaps: int,
    edges: float | list[float],
    width: float,
    fs: float,
    pass_zero: bool,
    dtype: torch.dtype,
    what: str,
) -> torch.Tensor:
    _design_beta(numtaps, width, fs)  # firwin computes the same β; this names a width too wide
    h = scipy.signal.firwin(numtaps, edges, width=width, fs=fs, pass_zero=pass_zero)
    return _finish(np.asarray(h, dtype=np.float64), dtype, what)


def kaiser_highpass(
    numtaps: int, cutoff: float, width: float, fs: float, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""Kaiser-windowed high-pass filter with unit gain at the Nyquist frequency.

    Identical to ``scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs, pass_zero=False)``
    computed in float64 and cast to ``dtype``:

    .. math::
        h_i \propto \Big(\mathrm{sinc}(m_i)
              - \frac{2 f_c}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_c}{f_s}\, m_i\Big)\Big)\, w_i,
        \qquad \sum_i (-1)^{m_i} h_i = 1,

    with :math:`m_i`, :math:`\mathrm{sinc}` and the Kaiser window :math:`w` (its :math:`\beta`
    from ``width``) of :func:`kaiser_sinc`. As :math:`n` is odd, :math:`\mathrm{sinc}(m_i)` is a
    unit impulse at the centre: before scaling, the taps are the impulse minus those of
    :func:`kaiser_sinc` ``(numtaps, cutoff, width, fs)``. Each design is scaled at its own pass
    band (this one at ``fs/2``, the low-pass at DC), so the two add up to the impulse up to
    about their stop-band level, not exactly.

    The stop band is ``0 … cutoff - width/2`` and the pass band ``cutoff + width/2 … fs/2``. A
    ``cutoff`` below ``width/2`` leaves no stop band: the response at DC is then not small.

    Apply it with ``bandlimit.ops.upfirdn1d(x, h, padding=(numtaps // 2, numtaps // 2))``
    (same length, no delay).

    Parameters
    ----------
    numtaps : int
        Number of taps, **odd**, :math:`1 \le n \le 2^{53}` (an even-length symmetric filter has
        a zero at ``fs/2``: ``ValueError``). One tap is the identity ``[1]``.
    cutoff : float
        Cutoff frequency :math:`f_c`, ``0 < cutoff < fs/2``, in the unit of ``fs``: the ideal
        high-pass's edge, about the −6 dB point when ``width`` is small against ``cutoff``.
    width : float
        **Full** transition-band width (> 0), same unit as ``fs``; bounded as in
        :func:`kaiser_sinc` (:math:`\beta \le 709`).
    fs : float
        Sampling rate (> 0) at which the filter runs.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps]``, ``dtype``, symmetric, with response 1 at ``fs/2`` (up to rounding in
        ``dtype``), on the CPU (whatever torch's default device).

    Raises
    ------
    TypeError
        An argument has the wrong type (e.g. a float ``numtaps`` or an integer ``dtype``).
    ValueError
        An argument is out of range (an even ``numtaps``, ``cutoff`` not below ``fs/2``,
        ``width`` too wide...).

    Examples
    --------
    A 63-tap high-pass at ``fs = 1`` (cycles per sample) with cutoff 0.1 and a 0.05-wide
    transition band: Kaiser predicts 52.5 dB of stop-band attenuation, and the response at DC
    is about −59 dB. Applied to a constant it leaves ~0 wherever the filter does not reach the
    zero padding:

    >>> import torch
    >>> from bandlimit.filters import frequency_response, kaiser_highpass
    >>> from bandlimit.ops import upfirdn1d
    >>> h = kaiser_highpass(63, cutoff=0.1, width=0.05, fs=1.0)
    >>> h.shape, h.dtype, torch.equal(h, h.flip(0))
    (torch.Size([63]), torch.float32, True)
    >>> freqs, H = frequency_response(h)
    >>> round(float(H[-1]), 4), float(H[0]) < 2e-3       # at fs/2 and at DC
    (1.0, True)
    >>> y = upfirdn1d(torch.ones(1, 1, 256), h, padding=(63 // 2, (63 - 1) // 2))
    >>> y.shape
    torch.Size([1, 1, 256])
    >>> float(y[..., 31:-31].abs().max()) < 2e-3
    True
    """
    numtaps, cutoff, width, fs = _validate_design(numtaps, cutoff, width, fs)
    _check_odd(numtaps, "high-pass")
    dtype = check_float_dtype("dtype", dtype)
    return _design(numtaps, cutoff, width, fs, False, dtype, "kaiser_highpass")


def kaiser_jinc_highpass(
    numtaps: int, cutoff: float, width: float, fs: float, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""Radially symmetric 2-D high-pass: the unit impulse minus :func:`kaiser_jinc`.

    The complement of the radial low-pass: with :math:`f` the taps of
    :func:`~bandlimit.filters.kaiser_jinc` ``(numtaps, cutoff, width, fs)`` (unit DC gain) and
    :math:`\delta` the unit impulse at the centre,

    .. math::
        h_{ij} = \delta_{ij} - f_{ij}, \qquad H(\nu) = 1 - F(\nu),

    so ``h + kaiser_jinc(...)`` is the impulse and ``x - filter2d(x, f)`` is ``filter2d(x, h)``:
    the detail a radial low-pass (StyleGAN3-R's down filter) removes, with every orientation
    treated alike. The response is exactly 0 at DC (a constant image maps to 0); over the pass
    band :math:`|\nu| \ge f_c + w/2` (out to the corners :math:`(f_s/2, f_s/2)`) it strays
    from 1 by the low-pass's stop-band level, and over the stop band
    :math:`|\nu| \le f_c - w/2` it is the low-pass's pass-band ripple (larger: 33 dB below 1
    in the example, where the low-pass's stop band is 38 dB down), with
    :math:`|\nu| = \sqrt{\nu_x^2 + \nu_y^2}`. There is no
    scipy counterpart; unlike :func:`kaiser_highpass` (``firwin``'s scaling, gain 1 at
    ``fs/2``) no point of the pass band is scaled to exactly 1: the complement is exact instead.

    Apply it with ``bandlimit.ops.filter2d(x, h)`` (odd taps: same size, no shift).

    Parameters
    ----------
    numtaps : int
        Taps per axis, **odd**, :math:`1 \le n \le 4096` (the impulse needs a centre tap: an
        even size is a ``ValueError``). One tap is ``[[0]]`` (the impulse minus itself).
    cutoff : float
        Radial cutoff frequency :math:`f_c`, ``0 < cutoff < fs/2``, in the unit of ``fs``: the
        low-pass's edge, about −6 dB of the high-pass when ``width`` is small against ``cutoff``.
    width : float
        **Full** transition width (> 0) choosing the window's :math:`\beta`, as in
        :func:`kaiser_jinc`.
    fs : float
        Sampling rate (> 0), per axis.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32); computed in float64 and rounded
        once.

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps, numtaps]`` indexed ``[y, x]``, ``dtype``, on the CPU (whatever torch's
        default device); symmetric under transpose and 180° rotation, summing to 0 (up to
        rounding in ``dtype``).

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument is out of range (an even ``numtaps``; the others as in :func:`kaiser_jinc`).

    Examples
    --------
    The detail above 0.25 cycles per sample, in every direction; a constant image maps to 0:

    >>> import torch
    >>> from bandlimit.filters import band_gain, kaiser_jinc, kaiser_jinc_highpass
    >>> from bandlimit.ops import filter2d
    >>> h = kaiser_jinc_highpass(13, cutoff=0.25, width=0.2, fs=1.0)
    >>> h.shape, abs(float(h.sum())) < 1e-6, torch.allclose(h, h.T)
    (torch.Size([13, 13]), True, True)
    >>> impulse = torch.zeros(13, 13)
    >>> impulse[6, 6] = 1
    >>> torch.allclose(h + kaiser_jinc(13, cutoff=0.25, width=0.2, fs=1.0), impulse)
    True
    >>> [round(g, 2) for g in band_gain(h, 0.35, 0.7071)]   # pass band to the corners, dB
    [-0.11, 0.05]
    >>> round(-band_gain(h, 0.0, 0.15)[1], 1)               # stop-band attenuation, dB
    33.3
    >>> float(filter2d(torch.ones(1, 1, 32, 32), h)[..., 6:-6, 6:-6].abs().max()) < 1e-6
    True
    """
    numtaps, cutoff, width, fs = _validate_design(numtaps, cutoff, width, fs)
    _check_odd(numtaps, "radial high-pass")
    check_2d_size(numtaps)
    dtype = check_float_dtype("dtype", dtype)
    w = np.kaiser(numtaps, _design_beta(numtaps, width, fs))
    h = -windowed_jinc(numtaps, cutoff, fs, w, "kaiser_jinc_highpass")
    h[numtaps // 2, numtaps // 2] += 1.0
    return _finish(h, dtype, "kaiser_jinc_highpass")


def kaiser_bandpass(
    numtaps: int,
    low: float,
    high: float,
    width: float,
    fs: float,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Kaiser-windowed band-pass filter with unit gain at the centre of its band.

    Identical to ``scipy.signal.firwin(numtaps, [low, high], width=width, fs=fs,
    pass_zero=False)`` computed in float64 and cast to ``dtype``:

    .. math::
        h_i \propto \Big(\frac{2 f_2}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_2}{f_s}\, m_i\Big)
              - \frac{2 f_1}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_1}{f_s}\, m_i\Big)\Big)\, w_i,
        \qquad \sum_i h_i \cos\!\Big(2\pi \frac{f_0}{f_s} m_i\Big) = 1,

    with :math:`f_1` = ``low``, :math:`f_2` = ``high``, the centre :math:`f_0 = (f_1 + f_2)/2`,
    and :math:`m_i`, :math:`\mathrm{sinc}` and the Kaiser window :math:`w` (its :math:`\beta`
    from ``width``) of :func:`kaiser_sinc`.

    The pass band is ``low + width/2 … high - width/2``, the stop bands ``0 … low - width/2``
    and ``high + width/2 … fs/2``. When ``high - low < width`` there is no flat pass band: the
    response peaks near :math:`f_0`, where the scaling makes it 1, and rolls off on both sides
    (a resonator); when ``low < width/2`` or ``high > fs/2 - width/2`` the corresponding stop
    band is missing and the response at DC or at ``fs/2`` is not small.

    Apply it with ``bandlimit.ops.upfirdn1d(x, h, padding=(numtaps // 2, (numtaps - 1) // 2))``
    (same length; an even ``numtaps`` delays by half a sample).

    Parameters
    ----------
    numtaps : int
        Number of taps, :math:`1 \le n \le 2^{53}`, odd or even (the band does not reach
        ``fs/2``). One tap is the all-pass ``[1]``.
    low : float
        Lower band edge :math:`f_1`, ``0 < low < fs/2``, in the unit of ``fs``.
    high : float
        Upper band edge :math:`f_2`, ``low < high < fs/2``, in the unit of ``fs``.
    width : float
        **Full** transition-band width (> 0) of both edges, same unit as ``fs``; bounded as in
        :func:`kaiser_sinc` (:math:`\beta \le 709`).
    fs : float
        Sampling rate (> 0) at which the filter runs.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps]``, ``dtype``, symmetric, with response 1 at :math:`f_0` (up to
        rounding in ``dtype``), on the CPU (whatever torch's default device).

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument is out of range (``low`` or ``high`` not in ``(0, fs/2)``,
        ``low >= high``, ``width`` too wide...).

    Examples
    --------
    The band 0.15 … 0.3 cycles per sample with 63 taps: a sinusoid at its centre 0.225 passes
    unchanged, a constant is removed:

    >>> import math
    >>> import torch
    >>> from bandlimit.filters import frequency_response, kaiser_bandpass
    >>> from bandlimit.ops import upfirdn1d
    >>> h = kaiser_bandpass(63, low=0.15, high=0.3, width=0.05, fs=1.0)
    >>> h.shape, torch.equal(h, h.flip(0))
    (torch.Size([63]), True)
    >>> freqs, H = frequency_response(h)
    >>> float(H[0]) < 1e-3, float(H[-1]) < 1e-3         # DC and fs/2 are stopped
    (True, True)
    >>> x = torch.cos(2 * math.pi * 0.225 * torch.arange(256.0)).reshape(1, 1, 256)
    >>> pad = (63 // 2, (63 - 1) // 2)
    >>> float((upfirdn1d(x, h, padding=pad) - x)[..., 31:-31].abs().max()) < 1e-4
    True
    >>> float(upfirdn1d(torch.ones(1, 1, 256), h, padding=pad)[..., 31:-31].abs().max()) < 1e-3
    True
    """
    numtaps, low, high, width, fs = _validate_band(numtaps, low, high, width, fs)
    dtype = check_float_dtype("dtype", dtype)
    return _design(numtaps, [low, high], width, fs, False, dtype, "kaiser_bandpass")


def kaiser_bandstop(
    numtaps: int,
    low: float,
    high: float,
    width: float,
    fs: float,
    *,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Kaiser-windowed band-stop filter with unit DC gain.

    Identical to ``scipy.signal.firwin(numtaps, [low, high], width=width, fs=fs,
    pass_zero=True)`` computed in float64 and cast to ``dtype``:

    .. math::
        h_i \propto \Big(\mathrm{sinc}(m_i)
              - \frac{2 f_2}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_2}{f_s}\, m_i\Big)
              + \frac{2 f_1}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_1}{f_s}\, m_i\Big)\Big)\, w_i,
        \qquad \sum_i h_i = 1,

    with :math:`f_1` = ``low``, :math:`f_2` = ``high`` and :math:`m_i`, :math:`\mathrm{sinc}`
    and the Kaiser window :math:`w` (its :math:`\beta` from ``width``) of :func:`kaiser_sinc`.

    The stop band is ``low + width/2 … high - width/2``, the pass bands ``0 … low - width/2``
    and ``high + width/2 … fs/2``. When ``high - low < width`` there is no stop band: the notch
    at the centre does not reach the stop-band attenuation (the narrower the band, the
    shallower the notch).

    Apply it with ``bandlimit.ops.upfirdn1d(x, h, padding=(numtaps // 2, numtaps // 2))``
    (same length, no delay).

    Parameters
    ----------
    numtaps : int
        Number of taps, **odd**, :math:`1 \le n \le 2^{53}` (it passes ``fs/2``, where an
        even-length symmetric filter has a zero: ``ValueError``). One tap is the identity
        ``[1]``.
    low : float
        Lower edge :math:`f_1` of the stopped band, ``0 < low < fs/2``, in the unit of ``fs``.
    high : float
        Upper edge :math:`f_2`, ``low < high < fs/2``, in the unit of ``fs``.
    width : float
        **Full** transition-band width (> 0) of both edges, same unit as ``fs``; bounded as in
        :func:`kaiser_sinc` (:math:`\beta \le 709`).
    fs : float
        Sampling rate (> 0) at which the filter runs.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps]``, ``dtype``, symmetric, summing to 1 (up to rounding in ``dtype``),
        on the CPU (whatever torch's default device).

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument is out of range (an even ``numtaps``, ``low`` or ``high`` not in
        ``(0, fs/2)``, ``low >= high``, ``width`` too wide...).

    Examples
    --------
    Notching out 0.15 … 0.3 cycles per sample with 63 taps: a constant passes unchanged, a
    sinusoid at the band's centre is removed:

    >>> import math
    >>> import torch
    >>> from bandlimit.filters import frequency_response, kaiser_bandstop
    >>> from bandlimit.ops import upfirdn1d
    >>> h = kaiser_bandstop(63, low=0.15, high=0.3, width=0.05, fs=1.0)
    >>> round(float(h.sum()), 4), torch.equal(h, h.flip(0))
    (1.0, True)
    >>> freqs, H = frequency_response(h)
    >>> round(float(H[-1]), 2)                          # fs/2 passes too
    1.0
    >>> pad = (63 // 2, (63 - 1) // 2)
    >>> y = upfirdn1d(torch.ones(1, 1, 256), h, padding=pad)
    >>> float((y - 1)[..., 31:-31].abs().max()) < 1e-4
    True
    >>> x = torch.cos(2 * math.pi * 0.225 * torch.arange(256.0)).reshape(1, 1, 256)
    >>> float(upfirdn1d(x, h, padding=pad)[..., 31:-31].abs().max()) < 1e-3
    True
    """
    numtaps, low, high, width, fs = _validate_band(numtaps, low, high, width, fs)
    _check_odd(numtaps, "band-stop")
    dtype = check_float_dtype("dtype", dtype)
    return _design(numtaps, [low, high], width, fs, True, dtype, "kaiser_bandstop")


def kaiser_multiband(
    numtaps: int,
    edges: Sequence[float],
    width: float,
    fs: float,
    *,
    pass_zero: bool = True,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    r"""Kaiser-windowed filter with any number of alternating pass and stop bands.

    Identical to ``scipy.signal.firwin(numtaps, edges, width=width, fs=fs,
    pass_zero=pass_zero)`` computed in float64 and cast to ``dtype``: the bands between
    ``0``, ``edges[0]``, …, ``edges[-1]``, ``fs/2`` alternate, the first passing when
    ``pass_zero`` (else stopping). The ideal response (a sum of the sinc low-passes of
    :func:`kaiser_sinc` at the edges, with alternating signs) is windowed and scaled to unit
    gain at the centre of the first pass band (at DC when it starts there, at ``fs/2`` when it
    ends there). One edge gives :func:`kaiser_sinc`'s low-pass or :func:`kaiser_highpass`, two
    :func:`kaiser_bandstop` or :func:`kaiser_bandpass`.

    Parameters
    ----------
    numtaps : int
        Number of taps, :math:`1 \le n \le 2^{53}`; odd when the last band passes (up to
        ``fs/2``: ``pass_zero`` with an even number of edges, or not with an odd number).
    edges : sequence of float, or a 1-D array or tensor
        Band edges, strictly increasing, each in ``(0, fs/2)``, in the unit of ``fs``.
    width : float
        **Full** transition-band width (> 0) of every edge, same unit as ``fs``.
    fs : float
        Sampling rate (> 0).
    pass_zero : bool, keyword-only
        Whether the band from DC to ``edges[0]`` passes (default True).
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps]``, ``dtype``, symmetric, on the CPU.

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An edge outside ``(0, fs/2)``, edges not strictly increasing or none, an even
        ``numtaps`` for a last band that passes ``fs/2``, ``width`` too wide.

    Examples
    --------
    Five bands from four edges (cycles per sample): 0 … 0.1, 0.2 … 0.3 and 0.4 … 0.5 pass,
    0.1 … 0.2 and 0.3 … 0.4 stop (a comb; the last band passes ``fs/2``: odd ``numtaps``):

    >>> from bandlimit.filters import band_gain, kaiser_multiband
    >>> h = kaiser_multiband(101, [0.1, 0.2, 0.3, 0.4], width=0.04, fs=1.0)
    >>> [round(float(g), 2) for g in band_gain(h, 0.22, 0.28)]  # a pass band: within 0.01 dB
    [-0.0, 0.01]
    >>> float(band_gain(h, 0.32, 0.38)[1]) < -60                # a stop band
    True
    """
    numtaps = _check_int("numtaps", numtaps)
    fs = _check_positive("fs", fs)
    if isinstance(edges, torch.Tensor | np.ndarray):  # (an array, as scipy takes it)
        if edges.ndim != 1:
            raise ValueError(f"edges must be 1-D, got shape {tuple(edges.shape)}")
        edges = edges.tolist()
    if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence):
        raise TypeError(f"edges must be a sequence of band edges, got {type(edges).__name__}")
    if len(edges) == 0:
        raise ValueError("edges must hold at least one band edge, got none")
    checked = [_check_cutoff(e, fs, f"edges[{i}]") for i, e in enumerate(edges)]
    if any(b <= a for a, b in itertools.pairwise(checked)):
        raise ValueError(f"edges must be strictly increasing, got {list(edges)!r}")
    width = _check_positive("width", width)
    pass_zero = check_bool("pass_zero", pass_zero)
    dtype = check_float_dtype("dtype", dtype)
    if pass_zero == (len(checked) % 2 == 0):  # the last band passes fs/2
        _check_odd(numtaps, "filter whose last band passes the Nyquist frequency")
    return _design(numtaps, checked, width, fs, pass_zero, dtype, "kaiser_multiband")
