r"""Rational-rate resampling with a Kaiser-windowed sinc, ``scipy.signal.resample_poly``'s rules.

Along one axis of length :math:`L`, with :math:`u/d` the factors reduced by their gcd and
:math:`h` a :math:`K`-tap low-pass (default: ``firwin(2·10·max(u, d) + 1, 1/max(u, d),
window=('kaiser', 5.0))``, a cutoff at the lower of the two Nyquist frequencies), the output is

.. math::
    y[i] = u \sum_{j=0}^{K-1} h[j]\; \tilde x_u\big[i\,d + c - j\big],
    \qquad 0 \le i < \lceil L u / d \rceil,
    \qquad c = \lfloor (K-1)/2 \rfloor,

where :math:`\tilde x_u` is the extended input (``padtype``) with :math:`u - 1` zeros inserted
after every sample. Output sample :math:`i` sits at input time :math:`i d / u`; the first output
sample is centred on the first input sample. The work is one :func:`~bandlimit.ops.upfirdn1d`
call per axis (polyphase on every backend: inserted zeros are never multiplied), so the op runs
on every backend and device of that function and differentiates like it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.signal
import torch

from bandlimit._checks import check_int, check_real
from bandlimit.ops._params import MAX_FACTOR, _tracing
from bandlimit.ops.upfirdn import upfirdn1d

__all__ = ["PADTYPES", "resample_filter", "resample_poly"]

# Extensions of the signal beyond its ends, as scipy names them. The first group subtracts a
# statistic, extends with zeros and adds it back to the output; the rest extend the signal.
_STATISTICS = ("mean", "median", "maximum", "minimum")
PADTYPES = (
    "constant", "line", *_STATISTICS, "edge", "wrap", "symmetric", "reflect", "antisymmetric",
    "antireflect", "smooth",
)  # fmt: skip

_HALF_LEN_PER_RATE = 10  # scipy's default filter: 10 zero crossings per side at the lower rate


def _reduced(up: Any, down: Any, where: str) -> tuple[int, int]:
    up, down = check_int(f"up{where}", up, 1), check_int(f"down{where}", down, 1)
    for name, v in ((f"up{where}", up), (f"down{where}", down)):
        if v > MAX_FACTOR:
            raise ValueError(f"{name} must be an int in [1, 2**30], got {v!r}")
    g = math.gcd(up, down)
    return up // g, down // g


_MAX_BETA = 709.0  # I0(β) overflows float64 beyond ≈ 709.78


def _kaiser_beta(window: Any) -> float | None:
    """β of a ``('kaiser', β)`` window (None: scipy's default, β = 5), or None for another
    window."""
    if window is None:
        return 5.0
    if isinstance(window, (tuple, list)) and len(window) == 2 and window[0] == "kaiser":
        beta = check_real("window's kaiser beta", window[1])
        if not 0 <= beta <= _MAX_BETA:
            raise ValueError(f"window's kaiser beta must be in [0, {_MAX_BETA:g}] (larger "
                             f"overflows I0), got {window[1]!r}")  # fmt: skip
        return beta
    return None


def _kaiser_design(rate: int, beta: float) -> torch.Tensor:
    """``firwin(2·10·rate + 1, 1/rate, window=('kaiser', beta))`` in torch (float64): plain ops,
    so torch.compile traces the design instead of calling scipy."""
    half = _HALF_LEN_PER_RATE * rate
    m = torch.arange(-half, half + 1, dtype=torch.float64)
    cutoff = 1.0 / rate  # of the Nyquist frequency of the rate up·fs
    h = cutoff * torch.sinc(cutoff * m)
    r = m / half
    i0_beta = torch.special.i0(torch.full((), beta, dtype=torch.float64))
    h = h * torch.special.i0(beta * torch.sqrt((1 - r * r).clamp_min(0))) / i0_beta
    return h / h.sum()  # unit gain at DC (firwin's scale=True)


@lru_cache(maxsize=64)
def _designed(up: int, down: int, window: Any) -> torch.Tensor:
    rate = max(up, down)
    beta = _kaiser_beta(window)
    if beta is not None:
        return _kaiser_design(rate, beta)
    try:
        h = scipy.signal.firwin(2 * _HALF_LEN_PER_RATE * rate + 1, 1.0 / rate, window=window)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"window {window!r} is not a window scipy.signal.get_window knows: "
                         f"{exc}") from None  # fmt: skip
    return torch.from_numpy(np.asarray(h, dtype=np.float64))


def _design(up: int, down: int, window: Any) -> torch.Tensor:
    """The filter of reduced factors ``up != down``, float64 on the CPU (do not modify).

    Eager calls share designs (a cache keyed by the window); under torch.compile a Kaiser
    design is traced as torch ops (other windows call scipy: a graph break)."""
    if torch.compiler.is_compiling():
        beta = _kaiser_beta(window)
        if beta is not None:
            return _kaiser_design(max(up, down), beta)
    key = tuple(window) if isinstance(window, list) else window
    try:
        hash(key)
    except TypeError:
        raise TypeError(f"window must be a str or a tuple such as ('kaiser', 5.0), got "
                        f"{window!r}") from None  # fmt: skip
    return _designed(up, down, key)


def resample_filter(up: int, down: int, window: Any = None) -> torch.Tensor:
    """The low-pass filter :func:`resample_poly` designs for the factors ``up/down``.

    ``scipy.signal.firwin(2·10·r + 1, 1/r, window=window)`` with ``r = max(up, down)`` after
    dividing both by their gcd: unit DC gain, float64, ``[20·r + 1]`` taps (``[1]`` = identity
    when the factors are equal). ``window`` is anything ``scipy.signal.get_window`` accepts
    (a name, or a tuple such as ``('kaiser', beta)``); None is scipy's ``('kaiser', 5.0)``.
    Kaiser windows are computed in torch (equal to scipy's to ≈ 1e-14 of the largest tap).
    """
    up, down = _reduced(up, down, "")
    if up == down:
        return torch.ones(1, dtype=torch.float64)
    if isinstance(window, (torch.Tensor, np.ndarray)):
        raise TypeError("window must name a window (e.g. ('kaiser', 5.0)); a filter array is "
                        "already a filter")  # fmt: skip
    return _design(up, down, window).clone()


def _as_filter(window: Any, x: torch.Tensor) -> torch.Tensor | None:
    """A user's filter taps as a 1-D tensor on ``x``'s device, or None for a window name."""
    if isinstance(window, torch.Tensor):
        f = window
    elif isinstance(window, np.ndarray) or (
        isinstance(window, (list, tuple)) and window and not isinstance(window[0], str)
    ):
        try:
            f = torch.as_tensor(np.asarray(window, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"window must name a window or hold filter taps, got "
                            f"{window!r}") from exc  # fmt: skip
    else:
        return None
    if f.ndim != 1 or f.numel() == 0:
        raise ValueError(f"window as filter taps must be 1-D and non-empty, got shape "
                         f"{tuple(f.shape)}")  # fmt: skip
    if not (f.is_floating_point() or f.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"window as filter taps must be real numbers, got dtype {f.dtype}")
    if not _tracing() and not bool(torch.isfinite(f).all()):
        raise ValueError("window as filter taps must be finite")
    return f.to(device=x.device, dtype=f.dtype if f.is_floating_point() else torch.float64)


def _axes(dim: Any, ndim: int) -> list[int]:
    dims = list(dim) if isinstance(dim, (tuple, list)) else [dim]
    if not dims:
        raise ValueError("dim must be an int or a non-empty sequence of ints, got an empty one")
    out = []
    for i, d in enumerate(dims):
        d = check_int("dim" if len(dims) == 1 else f"dim[{i}]", d)
        if not -ndim <= d < ndim:
            raise ValueError(f"dim {d} is out of range for a tensor of {ndim} dimensions")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"dim must not repeat an axis, got {dim!r}")
    return out


def _per_axis(v: Any, name: str, n: int) -> list[Any]:
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name} must be an int or one per dim ({n}), got {v!r}")
        return list(v)
    return [v] * n


def _median(x: torch.Tensor) -> torch.Tensor:
    """numpy's median along the last axis: the mean of the two middle values for even lengths
    (torch.median takes the lower one)."""
    s = x.sort(dim=-1).values
    n = x.shape[-1]
    return (s[..., (n - 1) // 2] + s[..., n // 2]).unsqueeze(-1) / 2


def _extend(x: torch.Tensor, left: int, right: int, padtype: str, cval: float) -> torch.Tensor:
    """``x [B, L]`` extended by ``left`` and ``right`` samples the way ``padtype`` says."""
    n = x.shape[-1]
    if padtype == "constant":
        fill = x.new_full((), cval)
        return torch.cat([fill.expand(*x.shape[:-1], left), x, fill.expand(*x.shape[:-1], right)],
                         dim=-1)  # fmt: skip
    k = torch.arange(-left, n + right, device=x.device)
    if padtype in ("line", "smooth"):
        # x0 + t·slope before the signal, x_{n-1} + (t - n + 1)·slope after it: the slope of
        # the whole signal ('line') or of its last two samples at each end ('smooth'). A single
        # sample has no slope: the extension is then constant.
        if n == 1:
            lo = hi = torch.zeros_like(x[..., :1])
        elif padtype == "line":
            lo = hi = (x[..., -1:] - x[..., :1]) / (n - 1)
        else:
            lo, hi = x[..., 1:2] - x[..., :1], x[..., -1:] - x[..., -2:-1]
        kf = k.to(x.dtype)
        before = x[..., :1] + kf[:left] * lo
        after = x[..., -1:] + (kf[left + n :] - (n - 1)) * hi
        return torch.cat([before, x, after], dim=-1)
    if padtype == "antireflect":
        # Reflected through the end sample, over and over: each step at most doubles the length.
        out = x
        while left > 0 or right > 0:
            m = out.shape[-1] - 1
            if m == 0:  # a single sample reflects onto itself
                return out.expand(*x.shape[:-1], left + 1 + right).contiguous()
            a, b = min(left, m), min(right, m)
            parts = [2 * out[..., :1] - out[..., 1 : a + 1].flip(-1)] if a else []
            parts.append(out)
            if b:
                parts.append(2 * out[..., -1:] - out[..., -b - 1 : -1].flip(-1))
            out, left, right = torch.cat(parts, dim=-1), left - a, right - b
        return out
    if padtype == "edge":
        idx = k.clamp(0, n - 1)
    elif padtype == "wrap":
        idx = k.remainder(n)
    elif padtype == "reflect" and n > 1:
        m = k.remainder(2 * n - 2)
        idx = torch.where(m < n, m, 2 * n - 2 - m)
    elif padtype == "reflect":
        idx = torch.zeros_like(k)
    else:  # symmetric, antisymmetric: period 2n, the second half the signal reversed
        m = k.remainder(2 * n)
        idx = torch.where(m < n, m, 2 * n - 1 - m)
        if padtype == "antisymmetric":
            sign = torch.where(m < n, 1.0, -1.0).to(x.dtype)
            return x.index_select(-1, idx) * sign
    return x.index_select(-1, idx)


def _resample_axis(x: torch.Tensor, up: int, down: int, taps: torch.Tensor, padtype: str,
                   cval: float, impl: str) -> torch.Tensor:  # fmt: skip
    """Resample the last axis of ``x [..., L]`` (factors already reduced, up != down)."""
    lead, n = x.shape[:-1], x.shape[-1]
    n_out = -(-n * up // down)
    if n == 0 or x.numel() == 0:
        return x.new_zeros(*lead, n_out)
    k = taps.numel()
    c = (k - 1) // 2
    x2 = x.reshape(-1, n)
    background = None
    if padtype in _STATISTICS:
        background = {
            "mean": lambda v: v.mean(dim=-1, keepdim=True),
            "median": _median,
            "maximum": lambda v: v.amax(dim=-1, keepdim=True),
            "minimum": lambda v: v.amin(dim=-1, keepdim=True),
        }[padtype](x2)
        x2 = x2 - background
    # upfirdn1d's valid true convolution reads x_u[i·d + k − 1 − p0 − j]: so p0 = k − 1 − c, and
    # p1 gives exactly n_out outputs (negative: crops what no output reads).
    p0 = k - 1 - c
    p1 = (n_out - 1) * down + k - n * up - p0
    if padtype not in _STATISTICS and not (padtype == "constant" and cval == 0):
        # The input samples the outputs read before and after the signal, made explicit.
        left = max(0, -((-p0) // up))
        right = max(0, -((-p1) // up))
        x2 = _extend(x2, left, right, padtype, cval)
        p0, p1 = p0 - left * up, p1 - right * up
    y = upfirdn1d(x2.unsqueeze(1), taps, up=up, down=down, padding=(p0, p1), gain=up, impl=impl)
    y = y.squeeze(1)
    if background is not None:
        y = y + background
    return y.reshape(*lead, n_out)


def resample_poly(
    x: torch.Tensor,
    up: int | Sequence[int],
    down: int | Sequence[int],
    dim: int | Sequence[int] = -1,
    *,
    window: Any = None,
    padtype: str = "constant",
    cval: float | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    r"""Resample ``x`` by the rational factor ``up / down`` with a polyphase FIR low-pass.

    The same output as ``scipy.signal.resample_poly(x, up, down, axis=dim, window=window,
    padtype=padtype, cval=cval)`` (to rounding), for tensors on any device, with autograd. The
    formula is in the module docstring: the output has :math:`\lceil L · up / down\rceil` samples
    along ``dim``, sample ``i`` at input time ``i · down / up``; the low-pass removes what the
    lower of the two rates cannot hold, so downsampling does not alias and upsampling does not
    image. Equal factors return a copy of ``x``.

    Parameters
    ----------
    x : Tensor ``[..., L, ...]``
        Real floating-point signal, any shape (audio ``[N, C, T]``, images ``[N, C, H, W]``).
    up, down : int in [1, 2**30], or one per ``dim``
        The factors, divided by their gcd before use (so ``(4, 2)`` is ``(2, 1)``).
    dim : int or sequence of int, default -1 (the last axis; scipy's default is axis 0)
        Axis or axes to resample, one after another (e.g. ``(-2, -1)`` for images, the same as
        calling scipy once per axis).
    window : str, tuple, taps or None (keyword-only)
        A window for ``scipy.signal.firwin`` (None: ``('kaiser', 5.0)``, scipy's default; the
        filter:
        :func:`resample_filter`), or the filter taps themselves as a 1-D tensor, array or list
        of numbers, designed for the rate ``up · fs`` (scipy's rule; they are multiplied by
        ``up``, and the output is centred on tap ``(K - 1) // 2``). Taps are constants: no
        gradient flows to them.
    padtype : str (keyword-only)
        What lies beyond the signal's ends, scipy's names (:data:`PADTYPES`): ``'constant'``
        (``cval``, default 0); ``'line'``, the line through the first and last samples;
        ``'mean'``, ``'median'``, ``'maximum'``, ``'minimum'``, that statistic of the signal
        (subtracted, zero-padded, added back); ``'edge'``, ``'wrap'``, ``'symmetric'``,
        ``'reflect'`` as in ``numpy.pad``; ``'antisymmetric'``, ``'antireflect'`` their negated
        forms; ``'smooth'``, the slope of the two end samples. Where scipy has no defined answer
        for a one-sample signal (``'line'``, ``'smooth'``: NaN, garbage or a crash), the
        extension is constant.
    cval : float or None (keyword-only)
        The constant of ``padtype='constant'`` (None: 0); only for that padtype.
    impl : str (keyword-only)
        Backend of the :func:`~bandlimit.ops.upfirdn1d` calls: ``'auto'``, ``'ref'``,
        ``'numba'`` or ``'cuda'``.

    Returns
    -------
    Tensor
        ``x``'s shape with each resampled axis of length :math:`\lceil L · up / down\rceil`,
        ``x``'s dtype and device.

    Notes
    -----
    Cost: :math:`K / up` multiply-adds per output sample (the polyphase schedule) plus one copy
    of the signal per axis. Supported wherever :func:`~bandlimit.ops.upfirdn1d` is: CPU and CUDA,
    float16/bfloat16/float32/float64, gradients with respect to ``x`` of any order on 'ref'
    (first and second order on the fused backends), ``torch.compile``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import resample_poly
    >>> resample_poly(torch.randn(2, 1, 22050), 160, 147).shape   # 22.05 kHz -> 24 kHz
    torch.Size([2, 1, 24000])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"x must have a floating-point dtype, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension to resample, got a 0-d tensor")
    axes = _axes(dim, x.ndim)
    ups, downs = _per_axis(up, "up", len(axes)), _per_axis(down, "down", len(axes))
    factors = [_reduced(u, d, f"[{i}]" if len(axes) > 1 else "")
               for i, (u, d) in enumerate(zip(ups, downs))]  # fmt: skip
    if not isinstance(padtype, str) or padtype not in PADTYPES:
        raise ValueError(f"padtype must be one of {', '.join(map(repr, PADTYPES))}, got "
                         f"{padtype!r}")  # fmt: skip
    if cval is not None and padtype != "constant":
        raise ValueError(f"cval is for padtype='constant' only, got cval={cval!r} with "
                         f"padtype={padtype!r}")  # fmt: skip
    cval = 0.0 if cval is None else check_real("cval", cval)
    taps = None if window is None else _as_filter(window, x)
    y = x
    for axis, (u, d) in zip(axes, factors):
        if u == d:  # scipy's rule: equal factors leave the axis alone, whatever the window
            continue
        f = taps
        if f is None:
            f = _design(u, d, window).to(x.device)  # float64: upfirdn1d scales it by up, then casts
        y = _resample_axis(y.movedim(axis, -1), u, d, f, padtype, cval, impl).movedim(-1, axis)
    return y.clone() if y is x else y
