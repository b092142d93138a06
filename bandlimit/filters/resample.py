r"""The low-pass filter of rational-rate resampling, ``scipy.signal.resample_poly``'s design.

Resampling by ``up / down`` (divided by their gcd) runs the filter at the rate ``up · fs``; it
must remove what the lower of the two rates cannot hold, so its cutoff is the lower Nyquist
frequency, a fraction ``1 / max(up, down)`` of the filter rate's Nyquist frequency. scipy's
design, which :func:`resample_filter` reproduces, is a windowed sinc of 10 zero crossings a side
at the lower rate::

    r = max(up, down),   K = 2 · 10 · r + 1 taps,
    h = firwin(K, 1 / r, window=('kaiser', 5.0))      (unit DC gain)

Designs come from ``scipy.signal.firwin`` (cached for the usual sizes). Under ``torch.compile``,
which cannot trace scipy, a Kaiser window (the default, or ``('kaiser', β)``) is computed in
torch ops instead (equal to scipy's to about 1e-14 of the largest tap); under ``torch.export``
(and so ONNX export, which has no Bessel function) the scipy design is a constant of the
graph.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.signal
import torch

from bandlimit._checks import check_factor, check_float_dtype, check_real
from bandlimit.filters.kaiser import _MAX_BETA

__all__ = [
    "RESAMPLE_MAX_RATE", "check_window", "frozen_window", "resample_factors", "resample_filter"
]

ZERO_CROSSINGS = 10  # per side, at the lower rate
# max(up, down) after the gcd: 20·2**16 + 1 taps (10 MB in float64). A larger one (44100 ->
# 44101 Hz is 44101) would take seconds and gigabytes to design; pass taps, or go in steps.
RESAMPLE_MAX_RATE = 2**16
_CACHED_RATE = 4096  # designs up to 81921 taps are kept (a few MB); larger ones are not


def resample_factors(up: Any, down: Any) -> tuple[int, int]:
    """``(up, down)`` divided by their gcd, each checked to be an int in ``[1, 2**30]``."""
    up, down = check_factor("up", up), check_factor("down", down)
    g = math.gcd(up, down)
    return up // g, down // g


def _kaiser_beta(window: Any) -> float | None:
    """β of a Kaiser window spec — None (scipy's default, β = 5), a number (scipy reads it as
    β) or ``('kaiser', β)`` — or None for another window."""
    if window is None:
        return 5.0
    if isinstance(window, (tuple, list)) and len(window) == 2 and window[0] == "kaiser":
        value, name = window[1], "window's kaiser beta"
    elif isinstance(window, (int, float, np.integer, np.floating)) and not isinstance(
        window, (bool, np.bool_)
    ):
        value, name = window, "window (a number: the kaiser beta)"
    else:
        return None
    beta = check_real(name, value)
    if not 0 <= beta <= _MAX_BETA:
        raise ValueError(
            f"{name} must be in [0, {_MAX_BETA:g}] (a larger one overflows I0), got {value!r}"
        )
    return beta


def _kaiser_design(rate: int, beta: float) -> torch.Tensor:
    """``firwin(2·10·rate + 1, 1/rate, window=('kaiser', beta))``, float64, in torch ops."""
    half = ZERO_CROSSINGS * rate
    m = torch.arange(-half, half + 1, dtype=torch.float64, device="cpu")
    cutoff = 1.0 / rate  # of the filter rate's Nyquist frequency
    h = cutoff * torch.sinc(cutoff * m)
    r = m / half
    i0_beta = torch.special.i0(torch.full((), beta, dtype=torch.float64, device="cpu"))
    h = h * torch.special.i0(beta * torch.sqrt((1 - r * r).clamp_min(0))) / i0_beta
    return h / h.sum()  # unit gain at DC (firwin's scale=True)


def _traced() -> bool:
    """Under dynamo (torch.compile, strict torch.export): the design must be torch ops there,
    since dynamo cannot trace scipy. A non-strict export (ONNX's) runs Python as it is, and the
    scipy design becomes a constant of the graph (ONNX has no I0)."""
    return torch.compiler.is_dynamo_compiling()


def _design(rate: int, window: Any) -> torch.Tensor:
    beta = _kaiser_beta(window)
    if beta is not None and _traced():
        return _kaiser_design(rate, beta)
    given = window
    if beta is not None:
        window = ("kaiser", beta)
    try:
        with np.errstate(all="ignore"):  # (non-finite taps are reported below)
            h = scipy.signal.firwin(2 * ZERO_CROSSINGS * rate + 1, 1.0 / rate,
                                    window=_scipy_window(window))
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(
            f"window {window!r} is not a window scipy.signal.get_window knows: {exc}"
        ) from None
    h = np.asarray(h, dtype=np.float64)
    if not np.isfinite(h).all():
        raise ValueError(_NON_FINITE.format(window=given))
    return torch.from_numpy(h)


# A window whose parameters scipy accepts but cannot evaluate, e.g. a zero width (0 / 0).
_NON_FINITE = (
    "window {window!r} gives non-finite filter taps (NaN or inf): a window parameter is out "
    "of its range (e.g. a zero width or standard deviation)"
)


@lru_cache(maxsize=32)
def _cached_design(rate: int, window: Any) -> torch.Tensor:
    return _design(rate, window)


def check_window(up: int, down: int, window: Any) -> int:
    """Check a window spec for the (reduced, unequal) factors without designing the filter;
    returns ``max(up, down)``, the rate of the design. Raises what :func:`resample_filter` would."""
    if isinstance(window, (list, np.ndarray, torch.Tensor, bool, np.bool_)):
        what = "a bool" if isinstance(window, (bool, np.bool_)) else (
            f"a {type(window).__name__}: filter taps are already a filter")  # fmt: skip
        raise TypeError(
            f"window must name a window (e.g. 'hann', ('kaiser', 8.0) or a number, the kaiser "
            f"beta), got {what}"
        )
    rate = max(up, down)
    if rate > RESAMPLE_MAX_RATE:
        raise ValueError(
            f"up/down = {up}/{down} (after dividing by their gcd) needs a filter of "
            f"{2 * ZERO_CROSSINGS * rate + 1} taps; at most max(up, down) = {RESAMPLE_MAX_RATE} "
            f"is designed (pass your own, shorter filter as taps, or resample in steps)"
        )
    if _kaiser_beta(window) is not None or _traced():
        return rate
    try:
        hash(frozen_window(window))
        with np.errstate(all="ignore"):
            try:  # a short probe first (cheap: this runs on every resample_poly call) ...
                probe = scipy.signal.get_window(_scipy_window(window), 3, fftbins=False)
            except (ValueError, IndexError):  # ... then the design's own length, which some
                # windows need (a DPSS of NW >= 1.5 needs more than 3 points)
                probe = scipy.signal.get_window(_scipy_window(window),
                                                2 * ZERO_CROSSINGS * rate + 1, fftbins=False)
    except TypeError:
        raise TypeError(
            f"window must be a str, a number or a tuple such as ('kaiser', 5.0), got {window!r}"
        ) from None
    except (ValueError, IndexError) as exc:
        raise ValueError(
            f"window {window!r} is not a window scipy.signal.get_window knows: {exc}"
        ) from None
    if not np.isfinite(probe).all():  # (the design checks its own taps too)
        raise ValueError(_NON_FINITE.format(window=window))
    return rate


def frozen_window(window: Any) -> Any:
    """``window`` with the lists and arrays inside a tuple spec made tuples (e.g.
    ``('general_cosine', [0.5, 0.5])``): hashable, as the design caches need
    (:func:`_scipy_window` turns them back into the lists scipy wants)."""
    if isinstance(window, tuple):
        return tuple(
            tuple(np.asarray(v).tolist()) if isinstance(v, (list, np.ndarray)) else v
            for v in window
        )
    return window


def _scipy_window(window: Any) -> Any:
    """A (frozen) window spec as scipy takes it: a tuple's inner tuples as lists (scipy reads
    an inner tuple otherwise: ``general_cosine`` refuses one)."""
    if isinstance(window, tuple):
        return tuple(list(v) if isinstance(v, tuple) else v for v in window)
    return window


def resample_filter(
    up: int, down: int, window: Any = None, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    r"""The low-pass filter for resampling by ``up / down``, scipy's ``resample_poly`` design.

    With ``r = max(up, down)`` after dividing both by their gcd, the taps are
    ``scipy.signal.firwin(20·r + 1, 1/r, window=window)``: a windowed sinc running at ``up``
    times the input rate, cut off at the lower of the input and output Nyquist frequencies, with
    10 zero crossings on each side at the lower rate and unit DC gain. (scipy's
    ``resample_poly`` multiplies the taps by ``up``; apply that gain yourself when upsampling
    with them.)

    Parameters
    ----------
    up, down : int in [1, 2**30]
        The factors; divided by their gcd, ``r = max(up, down)`` must then be at most ``2**16``
        (filters of at most 1,310,721 taps).
    window : None, number, str or tuple
        ``None`` is scipy's ``('kaiser', 5.0)``; a number is the Kaiser β (as in scipy);
        otherwise anything :func:`scipy.signal.get_window` accepts, e.g. ``'hann'`` or
        ``('tukey', 0.5)``. Kaiser windows need ``0 ≤ β ≤ 709``.
    dtype : torch.dtype, keyword-only
        Real floating-point dtype of the taps (designed in float64, then cast; default
        float64).

    Returns
    -------
    torch.Tensor
        Shape ``[20·r + 1]``, ``dtype``, on the CPU (whatever torch's default device and
        dtype); symmetric, unit DC gain. ``[1]`` (the identity, ``tensor([1.])``) when the
        factors are equal.

    Raises
    ------
    TypeError
        A factor is not an int, or ``window`` is not a window spec (e.g. a list of taps).
    ValueError
        A factor is out of range, ``r`` exceeds ``2**16``, scipy does not know ``window``, or
        its parameters make the taps NaN or inf (e.g. ``('gaussian', 0.0)``, a zero width).

    Notes
    -----
    Designs with ``r <= 4096`` are cached (a copy is returned). Under ``torch.compile``, which
    cannot trace scipy, a Kaiser window's taps are computed in torch ops instead (equal to
    scipy's to about 1e-14 of the largest tap); under ``torch.export`` the scipy design becomes
    a constant of the graph.

    Examples
    --------
    The filter of 3/2 resampling (e.g. 32 kHz to 48 kHz): ``r = 3``, 61 taps, cutoff 1/3 of the
    filter rate's Nyquist frequency:

    >>> import numpy as np
    >>> import scipy.signal
    >>> from bandlimit.filters import resample_filter
    >>> h = resample_filter(3, 2)
    >>> h.shape, h.dtype, round(float(h.sum()), 4)
    (torch.Size([61]), torch.float64, 1.0)
    >>> np.allclose(h.numpy(), scipy.signal.firwin(61, 1 / 3, window=("kaiser", 5.0)))
    True
    >>> resample_filter(4, 2).shape            # 4/2 = 2/1: r = 2
    torch.Size([41])
    >>> resample_filter(2, 2)
    tensor([1.], dtype=torch.float64)
    """
    up, down = resample_factors(up, down)
    dtype = check_float_dtype("dtype", dtype)
    if up == down:
        return torch.ones(1, dtype=dtype, device="cpu")
    rate = check_window(up, down, window)
    window = frozen_window(window)
    if torch.compiler.is_compiling():  # traced or exported: never cached (fake tensors)
        return _design(rate, window).to(dtype)
    h = _cached_design(rate, window) if rate <= _CACHED_RATE else _design(rate, window)
    return h.to(dtype, copy=True)
