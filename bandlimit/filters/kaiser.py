"""Kaiser-windowed low-pass filter design: separable sinc, radial jinc, BigVGAN preset.

Conventions shared by every function here:

* Frequencies (``cutoff``, ``width``, ``fs``) are in the same, arbitrary unit ("cycles per canvas
  unit" in StyleGAN3, Hz for audio). Only their ratios matter.
* ``width`` is the **full** transition-band width, as in :func:`scipy.signal.firwin`: the pass band
  ends at ``cutoff - width/2`` and the stop band starts at ``cutoff + width/2``. StyleGAN3
  parameterises a layer by its half-width ``f_h`` and passes ``width = 2 * f_h``.
* Taps sit at positions :math:`m_i = i - (n-1)/2`, :math:`i = 0 \\dots n-1`, in samples of rate
  ``fs``: every filter is symmetric (zero phase about its centre; a half-sample centre for even
  ``n``).
* Filters are designed in float64 and cast to ``dtype`` at the end, so the float32 result is the
  correctly rounded float64 design.
* Filters are returned on the CPU in ``dtype`` (float32 unless given), whatever torch's default
  device and dtype (``torch.set_default_device``, ``torch.set_default_dtype``): move them where
  they run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.signal
import scipy.special
import torch

from bandlimit._checks import check_bool as _check_bool
from bandlimit._checks import check_float_dtype, check_int, check_real, short_repr
from bandlimit._checks import check_real as _check_real

__all__ = [
    "kaiser_atten",
    "kaiser_beta",
    "kaiser_jinc",
    "kaiser_sinc",
    "kaiser_sinc_bigvgan",
    "lowpass",
]


# ---------------------------------------------------------------------------------------------
# Argument validation (shared with response.py and plot.py).


# Tap counts and FFT lengths enter float64 formulas (scipy's kaiser_atten, tap positions):
# every int up to 2**53 converts exactly, 10**400 not at all (OverflowError inside scipy).
_MAX_INT = 2**53


def _check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    out = check_int(name, value, minimum)
    if out > _MAX_INT:
        raise ValueError(f"{name} must be an int in [{minimum}, 2**53], got {short_repr(value)}")
    return out


def _check_positive(name: str, value: Any) -> float:
    return check_real(name, value, positive=True)


def _check_cutoff(value: Any, fs: float, name: str = "cutoff") -> float:
    """A cutoff must lie strictly between 0 and the Nyquist frequency ``fs/2``."""
    out = _check_real(name, value)
    if not 0 < out < fs / 2:
        raise ValueError(
            f"{name} must satisfy 0 < {name} < fs/2 = {fs / 2!r} (fs = {fs!r}), got {value!r}"
        )
    return out


def _finish(h: np.ndarray, dtype: torch.dtype, what: str) -> torch.Tensor:
    """Cast a float64 design to a tensor of ``dtype``; never hand back NaN/inf silently."""
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{what}: the design produced non-finite taps (check the parameters)")
    # On the CPU, as documented, whatever torch's default device (a meta default made it meta).
    return torch.as_tensor(h, dtype=torch.float64, device="cpu").to(dtype)


def _normalise(h: np.ndarray, what: str) -> np.ndarray:
    s = h.sum()
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"{what}: the taps sum to {s!r}, cannot normalise to unit DC gain")
    return h / s


# ---------------------------------------------------------------------------------------------
# Kaiser window parameters.


def kaiser_atten(numtaps: int, width: float) -> float:
    r"""Kaiser's estimate of the stop-band attenuation of a windowed-sinc FIR filter.

    .. math:: A = 2.285\,(n - 1)\,\pi\,\Delta + 7.95 \quad [\mathrm{dB}]

    Same semantics as :func:`scipy.signal.kaiser_atten` (which this calls).

    Parameters
    ----------
    numtaps : int
        Number of taps, :math:`1 \le n \le 2^{53}`.
    width : float
        Full transition width :math:`\Delta` **normalised to the Nyquist frequency**: a width of
        ``w`` at sampling rate ``fs`` is ``w / (fs / 2)``; 1 means the whole band 0…fs/2. Must be
        > 0 and finite.

    Returns
    -------
    float
        The predicted attenuation in dB (positive means attenuation).

    See Also
    --------
    kaiser_beta : the window shape that reaches a given attenuation.
    stopband_attenuation : the attenuation a designed filter actually reaches.

    Examples
    --------
    A 12-tap filter at ``fs = 1`` with a transition band 0.2 cycles per sample wide (0.4 of the
    Nyquist frequency 0.5):

    >>> from bandlimit.filters import kaiser_atten
    >>> round(kaiser_atten(12, 0.2 / 0.5), 2)
    39.54
    """
    numtaps = _check_int("numtaps", numtaps)
    width = _check_positive("width", width)
    return float(scipy.signal.kaiser_atten(numtaps, width))


def kaiser_beta(atten_db: float) -> float:
    r"""Kaiser window shape :math:`\beta` for a desired attenuation ``atten_db`` (dB).

    .. math::
        \beta = \begin{cases}
            0.1102\,(A - 8.7) & A > 50 \\
            0.5842\,(A - 21)^{0.4} + 0.07886\,(A - 21) & 21 < A \le 50 \\
            0 & A \le 21
        \end{cases}

    Same semantics as :func:`scipy.signal.kaiser_beta` (which this calls).

    Parameters
    ----------
    atten_db : float
        Attenuation :math:`A` in dB, any finite real number (values <= 21 give a rectangular
        window, :math:`\beta = 0`).

    Returns
    -------
    float
        The window shape parameter :math:`\beta \ge 0`.

    Examples
    --------
    >>> from bandlimit.filters import kaiser_beta
    >>> round(kaiser_beta(60.0), 4)            # 0.1102 (60 - 8.7)
    5.6533
    >>> kaiser_beta(20.0)                      # 21 dB or less: rectangular window
    0.0
    """
    atten_db = _check_real("atten_db", atten_db)
    return float(scipy.signal.kaiser_beta(atten_db))


def kaiser_order(atten_db: float, width: float, fs: float = 2.0) -> tuple[int, float]:
    r"""Taps and window shape for a Kaiser-windowed sinc reaching ``atten_db`` dB of stop-band
    attenuation over a transition band ``width`` wide: :func:`kaiser_atten` solved for the
    taps, and :func:`kaiser_beta`.

    .. math:: n = \left\lceil \frac{A - 7.95}{2.285\,\pi\,\Delta} + 1 \right\rceil,
              \qquad \Delta = \frac{\mathrm{width}}{f_s / 2}

    Same semantics as :func:`scipy.signal.kaiserord` (which this calls), with the width in the
    unit of ``fs`` (scipy's is normalised to Nyquist: its default here, ``fs = 2``). The
    result feeds :func:`kaiser_sinc` (``numtaps``; the design derives the same β from taps and
    width) or a window of your own.

    Parameters
    ----------
    atten_db : float
        Wanted stop-band attenuation :math:`A` in dB, > 8 (Kaiser's formula needs more than
        its 7.95 dB offset), finite.
    width : float
        **Full** transition width (> 0, finite), in the unit of ``fs``.
    fs : float
        Sampling rate (> 0, default 2: ``width`` normalised to the Nyquist frequency, as scipy).

    Returns
    -------
    (int, float)
        ``(numtaps, beta)``.

    Examples
    --------
    60 dB with a transition of 0.05 cycles per sample (``fs = 1``):

    >>> from bandlimit.filters import kaiser_order, kaiser_atten
    >>> n, beta = kaiser_order(60.0, 0.05, fs=1.0)
    >>> n, round(beta, 4)
    (74, 5.6533)
    >>> kaiser_atten(n, 0.05 / 0.5) >= 60     # the estimate it was solved from
    True
    """
    atten_db = _check_real("atten_db", atten_db)
    fs = _check_positive("fs", fs)
    width = _check_positive("width", width)
    if not atten_db > 8:
        raise ValueError(f"atten_db must be > 8 dB (Kaiser's formula starts at 7.95 dB), got "
                         f"{atten_db!r}")  # fmt: skip
    normalised = width / (fs / 2)
    numtaps, beta = scipy.signal.kaiserord(atten_db, normalised)
    if not math.isfinite(numtaps) or numtaps > 2**53:
        raise ValueError(f"atten_db={atten_db!r} over width={width!r} (fs={fs!r}) needs more than "
                         f"2**53 taps")  # fmt: skip
    return int(numtaps), float(beta)


def _validate_design(
    numtaps: Any, cutoff: Any, width: Any, fs: Any
) -> tuple[int, float, float, float]:
    numtaps = _check_int("numtaps", numtaps)
    fs = _check_positive("fs", fs)
    cutoff = _check_cutoff(cutoff, fs)
    width = _check_positive("width", width)
    return numtaps, cutoff, width, fs


# numpy's and scipy's I0(x) compute e^x, which overflows float64 for x > 709.78: a window with a
# larger β is inf/inf = NaN. Kaiser's formula reaches β = 709 at an attenuation of 6442.5 dB.
_MAX_BETA = 709.0


def _check_beta(atten: float, name: str, value: float, atten_per_unit: float, given: str) -> float:
    """Kaiser's β for ``atten`` dB, or a ValueError naming ``name`` (= ``value``) and its bound.

    ``atten`` is Kaiser's estimate ``7.95 + atten_per_unit · value``, inverted for the bound.
    """
    beta = float(scipy.signal.kaiser_beta(atten))
    if beta > _MAX_BETA:
        limit = (_MAX_BETA / 0.1102 + 8.7 - 7.95) / atten_per_unit  # β = 0.1102 (A − 8.7), A > 50
        raise ValueError(
            f"{name} must be <= {limit:.6g} for {given} (Kaiser's beta = {beta:.4g} > "
            f"{_MAX_BETA:g} overflows I0), got {value!r}"
        )
    return beta


def _design_beta(numtaps: int, width: float, fs: float) -> float:
    """β of the Kaiser window used by both StyleGAN3 designs (scipy's estimate, width / Nyquist)."""
    return _check_beta(
        scipy.signal.kaiser_atten(numtaps, width / (fs / 2)),
        "width",
        width,
        2.285 * (numtaps - 1) * math.pi / (fs / 2),
        f"numtaps = {numtaps} and fs = {fs!r}",
    )


# ---------------------------------------------------------------------------------------------
# Designs.


def kaiser_sinc(
    numtaps: int, cutoff: float, width: float, fs: float, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""Kaiser-windowed sinc low-pass filter with unit DC gain (StyleGAN3's separable filter).

    Identical to ``scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)`` computed in float64
    and cast to ``dtype``:

    .. math::
        h_i \propto \frac{2 f_c}{f_s}\,\mathrm{sinc}\!\Big(\frac{2 f_c}{f_s}\, m_i\Big)\, w_i,
        \qquad m_i = i - \frac{n-1}{2}, \qquad \sum_i h_i = 1,

    with :math:`\mathrm{sinc}(x) = \sin(\pi x)/(\pi x)` and :math:`w` the symmetric Kaiser window
    of length :math:`n` whose :math:`\beta` comes from :func:`kaiser_beta` of
    :func:`kaiser_atten` ``(n, width / (fs/2))``.

    ``cutoff``, ``width`` and ``fs`` share one unit (cycles per sample with ``fs = 1``); the pass
    band ends at ``cutoff - width/2`` and the stop band starts at ``cutoff + width/2``.

    Parameters
    ----------
    numtaps : int
        Number of taps, :math:`1 \le n \le 2^{53}`.
    cutoff : float
        Cutoff frequency :math:`f_c`, ``0 < cutoff < fs/2``, in the unit of ``fs``: the ideal
        low-pass's edge, about the −6 dB point when ``width`` is small against ``cutoff``
        (StyleGAN3's first layers, whose transition band is wider than the pass band, are
        −2 to −5 dB there).
    width : float
        **Full** transition-band width (> 0), same unit as ``fs``. StyleGAN3 passes
        :math:`2 f_h` (twice its half-width). At most the width at which :math:`\beta` reaches
        709, ``(6442.46 - 7.95) / (2.285 (n - 1) π) · fs/2`` (a wider one would overflow the
        window's :math:`I_0`: ``ValueError``).
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
        An argument has the wrong type (e.g. a float ``numtaps`` or an integer ``dtype``).
    ValueError
        An argument is out of range (``cutoff`` not below ``fs/2``, ``width`` too wide...).

    Examples
    --------
    A 12-tap low-pass at ``fs = 1`` (cycles per sample) with cutoff 0.25 and a 0.2-wide
    transition band, so the stop band starts at 0.35; Kaiser predicts about 39.5 dB of
    stop-band attenuation and the design reaches 37.5 dB:

    >>> import torch
    >>> from bandlimit.filters import kaiser_sinc, stopband_attenuation
    >>> h = kaiser_sinc(12, cutoff=0.25, width=0.2, fs=1.0)
    >>> h.shape, h.dtype
    (torch.Size([12]), torch.float32)
    >>> round(float(h.sum()), 4), torch.allclose(h, h.flip(0))
    (1.0, True)
    >>> round(stopband_attenuation(h, stopband=0.25 + 0.2 / 2), 1)
    37.5
    """
    numtaps, cutoff, width, fs = _validate_design(numtaps, cutoff, width, fs)
    dtype = check_float_dtype("dtype", dtype)
    _design_beta(numtaps, width, fs)  # firwin computes the same β; this names a width too wide
    h = scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs)
    return _finish(np.asarray(h, dtype=np.float64), dtype, "kaiser_sinc")


MAX_2D_TAPS = 4096  # per axis: a 2-D design holds numtaps² taps (and temporaries of that size)


def check_2d_size(numtaps: int) -> None:
    """A ``numtaps × numtaps`` design must fit in memory (4096² float64 taps: 134 MB)."""
    if numtaps > MAX_2D_TAPS:
        raise ValueError(f"numtaps must be <= {MAX_2D_TAPS} for a 2-D (radial) filter, which "
                         f"holds numtaps² taps, got {numtaps}")  # fmt: skip


def _jinc_kernel(numtaps: int, cutoff: float, fs: float) -> np.ndarray:
    r"""Unwindowed :math:`J_1(2\pi f_c r)/(\pi r)` on the ``numtaps × numtaps`` grid, float64."""
    x = (np.arange(numtaps, dtype=np.float64) - (numtaps - 1) / 2) / fs
    r = np.hypot(x[:, None], x[None, :])
    k = np.empty_like(r)
    nz = r > 0
    k[nz] = scipy.special.j1(2 * np.pi * cutoff * r[nz]) / (np.pi * r[nz])
    # r -> 0: J1(z) ~ z/2, so J1(2π f_c r)/(π r) -> f_c (only the centre tap of an odd-size filter).
    k[~nz] = cutoff
    return k


def windowed_jinc(numtaps: int, cutoff: float, fs: float, window: np.ndarray,
                  what: str) -> np.ndarray:
    """The jinc of ``cutoff`` under the separable 2-D ``window`` (``[numtaps]``), unit DC gain,
    float64 ``[numtaps, numtaps]``: every radial design's taps."""
    check_2d_size(numtaps)
    return _normalise(_jinc_kernel(numtaps, cutoff, fs) * np.outer(window, window), what)


def kaiser_jinc(
    numtaps: int, cutoff: float, width: float, fs: float, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""Radially symmetric (jinc) Kaiser-windowed 2-D low-pass filter with unit DC gain.

    StyleGAN3's non-separable down-filter (config R). On the grid
    :math:`x_i = (i - (n-1)/2)/f_s`, :math:`r_{ij} = \sqrt{x_i^2 + x_j^2}`:

    .. math::
        f_{ij} \propto \frac{J_1(2\pi f_c\, r_{ij})}{\pi\, r_{ij}}\; w_i\, w_j,
        \qquad \sum_{ij} f_{ij} = 1,

    where :math:`J_1` is the Bessel function of the first kind of order 1 and :math:`w` is the
    1-D Kaiser window of :func:`kaiser_sinc` (same :math:`\beta`); the window is separable, the
    kernel is not. The kernel is the inverse Fourier transform of the disc of radius
    :math:`f_c`, so the response is (close to) circularly symmetric, with about −6 dB at
    :math:`|f| = f_c` when the transition band is narrow against :math:`f_c`. At :math:`r = 0`
    (the centre of an odd-size filter) the kernel takes its limit :math:`f_c`; the official
    StyleGAN3 code produces NaN there, this function does not.

    Parameters
    ----------
    numtaps : int
        Taps per axis, :math:`1 \le n \le 4096` (a 2-D design holds :math:`n^2` taps).
    cutoff : float
        Radial cutoff frequency :math:`f_c`, ``0 < cutoff < fs/2``, in the unit of ``fs``.
    width : float
        **Full** transition width (> 0) used to choose the window's :math:`\beta` (StyleGAN3:
        :math:`2 f_h`); bounded as in :func:`kaiser_sinc`.
    fs : float
        Sampling rate (> 0), per axis.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[numtaps, numtaps]`` indexed ``[y, x]``, ``dtype``, on the CPU (whatever torch's
        default device); symmetric under transpose and 180° rotation, summing to 1 (up to
        rounding in ``dtype``).

    Raises
    ------
    TypeError
        An argument has the wrong type.
    ValueError
        An argument is out of range (as in :func:`kaiser_sinc`).

    Examples
    --------
    The radial counterpart of the :func:`kaiser_sinc` example; the stop band is measured over
    every frequency of radius at least 0.35 cycles per sample:

    >>> import torch
    >>> from bandlimit.filters import kaiser_jinc, stopband_attenuation
    >>> f = kaiser_jinc(13, cutoff=0.25, width=0.2, fs=1.0)
    >>> f.shape, round(float(f.sum()), 4), torch.allclose(f, f.T)
    (torch.Size([13, 13]), 1.0, True)
    >>> round(stopband_attenuation(f, stopband=0.35), 1)
    37.9
    """
    numtaps, cutoff, width, fs = _validate_design(numtaps, cutoff, width, fs)
    check_2d_size(numtaps)
    dtype = check_float_dtype("dtype", dtype)
    w = np.kaiser(numtaps, _design_beta(numtaps, width, fs))
    return _finish(windowed_jinc(numtaps, cutoff, fs, w, "kaiser_jinc"), dtype, "kaiser_jinc")


def lowpass(
    numtaps: int,
    cutoff: float,
    width: float,
    fs: float,
    *,
    radial: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor | None:
    r"""Design a layer's low-pass filter the way StyleGAN3 does, or ``None`` for "no filter".

    ``numtaps == 1`` means the layer does not filter (StyleGAN3 convention: e.g. ToRGB, or a
    factor-1 resampling) and returns ``None``; in that case only the types and signs of
    ``cutoff``, ``width`` and ``fs`` are checked (a critically sampled layer legitimately passes
    ``cutoff == fs/2`` there). Otherwise returns :func:`kaiser_jinc` if ``radial`` else
    :func:`kaiser_sinc` with the same arguments.

    Parameters
    ----------
    numtaps : int
        Taps (per axis), :math:`1 \le n \le 2^{53}`; 1 means no filter.
    cutoff : float
        Cutoff frequency, ``0 < cutoff < fs/2`` (only ``cutoff > 0`` when ``numtaps == 1``).
    width : float
        **Full** transition width (> 0), as in :func:`kaiser_sinc` (StyleGAN3: twice the
        layer's half-width :math:`f_h`).
    fs : float
        Sampling rate (> 0) at which the filter runs; ``cutoff`` and ``width`` are in its unit
        (cycles per canvas unit in StyleGAN3).
    radial : bool, keyword-only
        ``False``: separable 1-D sinc filter ``[numtaps]``; ``True``: 2-D jinc filter
        ``[numtaps, numtaps]``.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor or None
        ``None`` when ``numtaps == 1``; otherwise the ``dtype`` taps of :func:`kaiser_sinc`
        (shape ``[numtaps]``) or, with ``radial``, of :func:`kaiser_jinc` (shape
        ``[numtaps, numtaps]``), on the CPU whatever torch's default device.

    Examples
    --------
    >>> from bandlimit.filters import lowpass
    >>> lowpass(1, 0.5, 0.2, 1.0) is None      # one tap: no filter (cutoff = fs/2 is allowed)
    True
    >>> lowpass(12, 0.25, 0.2, 1.0).shape
    torch.Size([12])
    >>> lowpass(12, 0.25, 0.2, 1.0, radial=True).shape
    torch.Size([12, 12])
    """
    numtaps = _check_int("numtaps", numtaps)
    radial = _check_bool("radial", radial)
    dtype = check_float_dtype("dtype", dtype)
    if numtaps == 1:
        fs = _check_positive("fs", fs)
        _check_positive("cutoff", cutoff)
        _check_positive("width", width)
        return None
    design = kaiser_jinc if radial else kaiser_sinc
    return design(numtaps, cutoff, width, fs, dtype=dtype)


def bigvgan_window(kernel_size: int, half_width: float) -> np.ndarray:
    """The Kaiser window of :func:`kaiser_sinc_bigvgan`, float64 ``[kernel_size]``: its β from
    Kaiser's estimate over ``kernel_size // 2 − 1`` taps (alias-free-torch's convention)."""
    half = kernel_size // 2
    atten = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    beta = _check_beta(atten, "half_width", half_width, 2.285 * (half - 1) * math.pi * 4,
                       f"kernel_size = {kernel_size}")  # fmt: skip
    return np.kaiser(kernel_size, beta)


def kaiser_sinc_bigvgan(
    cutoff: float, half_width: float, kernel_size: int, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    r"""Kaiser-windowed sinc in the alias-free-torch / BigVGAN convention (compatibility preset).

    Frequencies are normalised to the sampling rate (``fs = 1``, cycles per sample). With
    :math:`K` = ``kernel_size``:

    .. math::
        A = 2.285\,(\lfloor K/2 \rfloor - 1)\,\pi\,(4 f_h) + 7.95,\qquad
        \beta = \mathrm{kaiser\_beta}(A),

        h(t) \propto 2 f_c\, w(t)\, \mathrm{sinc}(2 f_c t), \qquad \sum h = 1,

    with taps at :math:`t = -K/2 + 1/2, \dots, K/2 - 1/2` for even :math:`K` and
    :math:`t = -\lfloor K/2 \rfloor, \dots, \lfloor K/2 \rfloor` for odd :math:`K`, and
    :math:`w` the symmetric Kaiser window of :math:`K` points.

    This differs from :func:`kaiser_sinc` ``(K, f_c, 2 f_h, 1)``: the attenuation estimate uses
    :math:`\lfloor K/2 \rfloor - 1` instead of :math:`K - 1`, so the window is much wider (for
    :math:`K = 12, f_c = 0.25, f_h = 0.3`: :math:`\beta \approx 4.66` against scipy's 10.36) and
    the taps differ by up to ~3e-2. Use it to reproduce BigVGAN filters; prefer
    :func:`kaiser_sinc` for new designs. A ratio-``r`` resampler of alias-free-torch uses
    ``cutoff = 0.5/r``, ``half_width = 0.6/r`` and, by default, ``kernel_size =
    int(6 * r // 2) * 2`` (12 for BigVGAN's ``r = 2``). The design is
    computed in float64 and rounded to ``dtype``, so it may differ by an ulp from a float32
    computation.

    Parameters
    ----------
    cutoff : float
        Cutoff :math:`f_c` in cycles per sample, ``0 < cutoff <= 0.5`` (0.5: the ratio-1
        resampler of alias-free-torch).
    half_width : float
        Transition **half**-width :math:`f_h` (> 0) in cycles per sample, at most the one at which
        :math:`\beta` reaches 709 (see :func:`kaiser_sinc`).
    kernel_size : int
        Number of taps, :math:`1 \le K \le 2^{53}`.
    dtype : torch.dtype, keyword-only
        Real floating-point output dtype (default float32).

    Returns
    -------
    torch.Tensor
        Shape ``[kernel_size]``, ``dtype``, on the CPU (whatever torch's default device);
        symmetric, summing to 1 (up to rounding in ``dtype``).

    Examples
    --------
    BigVGAN's 2× filter, and how far it is from the scipy-exact design of the same band:

    >>> from bandlimit.filters import kaiser_sinc, kaiser_sinc_bigvgan
    >>> h = kaiser_sinc_bigvgan(cutoff=0.5 / 2, half_width=0.6 / 2, kernel_size=12)
    >>> h.shape, h.dtype, round(float(h.sum()), 4)
    (torch.Size([12]), torch.float32, 1.0)
    >>> round(float((h - kaiser_sinc(12, 0.25, 2 * 0.3, 1.0)).abs().max()), 4)
    0.0268
    """
    cutoff = _check_real("cutoff", cutoff)
    if not 0 < cutoff <= 0.5:  # 0.5: the peer's ratio-1 resampler
        raise ValueError(
            f"cutoff must satisfy 0 < cutoff <= 0.5 (cycles per sample), got {cutoff!r}"
        )
    half_width = _check_positive("half_width", half_width)
    k = _check_int("kernel_size", kernel_size)
    dtype = check_float_dtype("dtype", dtype)
    half = k // 2
    window = bigvgan_window(k, half_width)
    if k % 2 == 0:
        t = np.arange(-half, half, dtype=np.float64) + 0.5
    else:
        t = np.arange(k, dtype=np.float64) - half
    h = 2 * cutoff * window * np.sinc(2 * cutoff * t)
    return _finish(_normalise(h, "kaiser_sinc_bigvgan"), dtype, "kaiser_sinc_bigvgan")
