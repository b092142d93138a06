r"""Rational-rate resampling with a windowed-sinc low-pass, ``scipy.signal.resample_poly``'s rules.

Along one axis of length :math:`L`, with :math:`u/d` the factors reduced by their gcd and
:math:`h` a :math:`K`-tap low-pass (default: :func:`bandlimit.filters.resample_filter`, a Kaiser
window with β = 5 and the cutoff at the lower of the two Nyquist frequencies), the output is

.. math::
    y[i] = u \sum_{j=0}^{K-1} h[j]\; \tilde x_u\big[i\,d + c - j\big],
    \qquad 0 \le i < \lceil L u / d \rceil,
    \qquad c = \lfloor (K-1)/2 \rfloor,

where :math:`\tilde x_u` is the extended input (``padtype``) with :math:`u - 1` zeros inserted
after every sample. Output sample :math:`i` sits at input time :math:`i d / u`; the first output
sample is centred on the first input sample. The work is one :func:`~bandlimit.ops.upfirdn1d`
call per axis, polyphase on every backend (inserted zeros and dropped outputs are never
computed), so the op runs on every backend and device of that function and differentiates
like it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from bandlimit._checks import check_int, check_real, short_repr
from bandlimit.filters.resample import (
    _CACHED_RATE,
    check_window,
    frozen_window,
    resample_factors,
    resample_filter,
)
from bandlimit.ops._complex import is_complex, refuse_complex32
from bandlimit.ops._dispatch import resolve_impl
from bandlimit.ops._params import (
    _tracing,
    check_filter,
    check_fits_dtype,
    check_tensor,
    keep_memory_format,
    learns,
)
from bandlimit.ops.upfirdn import upfirdn1d

__all__ = ["PADTYPES", "ResampleSpec", "resample_poly", "resample_spec"]

# Extensions of the signal beyond its ends, as scipy names them. The first group subtracts a
# statistic, extends with zeros and adds it back to the output; the rest extend the signal.
_STATISTICS = ("mean", "median", "maximum", "minimum")
PADTYPES = (
    "constant", "line", *_STATISTICS, "edge", "wrap", "symmetric", "reflect", "antisymmetric",
    "antireflect", "smooth",
)  # fmt: skip


_NONLINEAR_PADTYPES = ("median", "maximum", "minimum")


@dataclass(frozen=True)
class ResampleSpec:
    """Checked, input-independent arguments of :func:`resample_poly` (see there)."""

    dims: tuple[int, ...]  # as given (negative counts from the end); checked against x later
    factors: tuple[tuple[int, int], ...]  # per dim, divided by their gcd
    window: Any  # a window spec, or None (scipy's default); unused when taps are given
    taps: torch.Tensor | None  # explicit filter taps, [K], finite
    padtype: str
    cval: float | complex  # complex only with a nonzero imaginary part (for complex signals)


def _as_taps(window: Any) -> torch.Tensor | None:
    """Explicit filter taps (a tensor, an array, or a list or tuple of numbers) as a checked
    1-D tensor; None for a window spec."""
    if isinstance(window, torch.Tensor):
        taps = window
    elif isinstance(window, (np.ndarray, list)) or (
        isinstance(window, tuple) and window and not isinstance(window[0], str)
    ):
        if len(window) == 0:
            raise ValueError("window must name a window or hold at least one filter tap, got "
                             f"{window!r}")  # fmt: skip
        try:
            a = np.asarray(window)
        except ValueError:  # ragged nesting
            a = np.asarray(window, dtype=object)
        if a.dtype.kind not in "iuf":
            raise TypeError(
                f"window as filter taps must hold real numbers, got {window!r} (dtype {a.dtype});"
                " a window spec is a str, a number or a tuple such as ('kaiser', 5.0)"
            )
        taps = torch.as_tensor(a.astype(np.float64), device="cpu")
    else:
        return None
    if not (taps.is_floating_point() or taps.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"window as filter taps must be floating-point (or int32/int64), got "
                        f"dtype {taps.dtype}")  # fmt: skip
    # (floating-point taps that require grad are learned: kept on their graph)
    taps = check_filter(taps.detach().double() if not taps.is_floating_point() else
                        taps if learns(taps) else taps.detach(), "window", ndims=(1,))  # fmt: skip
    if not _tracing() and not taps.is_meta and not bool(torch.isfinite(taps).all()):
        raise ValueError("window as filter taps must be finite")
    return taps


def resample_spec(
    up: int | Sequence[int],
    down: int | Sequence[int],
    dim: int | Sequence[int] = -1,
    window: Any = None,
    padtype: str = "constant",
    cval: float | complex | None = None,
) -> ResampleSpec:
    """Check :func:`resample_poly`'s arguments that do not depend on ``x`` (once, for a module).

    Raises the TypeError / ValueError that :func:`resample_poly` would."""
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if not dims:
        raise ValueError("dim must be an int or a non-empty sequence of ints, got an empty one")
    dims = tuple(check_int("dim" if len(dims) == 1 else f"dim[{i}]", d)
                 for i, d in enumerate(dims))  # fmt: skip
    if len(set(dims)) != len(dims):  # (here, before any input; (-1, 2) waits for x's ndim)
        raise ValueError(f"dim must not name an axis twice, got {dims}")
    per_dim = []
    for name, v in (("up", up), ("down", down)):
        if isinstance(v, (tuple, list)):
            if len(v) != len(dims):
                raise ValueError(
                    f"{name} must be an int or one per dim ({len(dims)}), got {short_repr(v)}"
                )
            per_dim.append(list(v))
        else:
            per_dim.append([v] * len(dims))
    factors = tuple(resample_factors(u, d) for u, d in zip(*per_dim))
    if not isinstance(padtype, str) or padtype not in PADTYPES:
        raise ValueError(f"padtype must be one of {', '.join(map(repr, PADTYPES))}, got "
                         f"{padtype!r}")  # fmt: skip
    if cval is not None and padtype != "constant":
        raise ValueError(f"cval is for padtype='constant' only, got cval={cval!r} with "
                         f"padtype={padtype!r}")  # fmt: skip
    if isinstance(cval, (complex, np.complexfloating)) and not isinstance(cval, bool):
        # (for a complex x: its real part pads the real part, its imaginary part the other)
        re, im = check_real("cval.real", cval.real), check_real("cval.imag", cval.imag)
        cval = complex(re, im) if im else re
    else:
        cval = 0.0 if cval is None else check_real("cval", cval)
    taps = _as_taps(window)
    if taps is None:
        for u, d in factors:  # a bad window, or too large a filter, fails here
            if u != d:
                check_window(u, d, window)
    window = None if taps is not None else frozen_window(window)
    return ResampleSpec(dims, factors, window, taps, padtype, cval)


def _median(x: torch.Tensor) -> torch.Tensor:
    """numpy's median along the last axis: the mean of the two middle values for even lengths
    (torch.median takes the lower one; that of ``-x`` is minus the upper one: no index that
    depends on the length, which torch.export could not bound), and NaN where the signal holds
    one."""
    lower = x.median(dim=-1, keepdim=True).values
    upper = -(-x).median(dim=-1, keepdim=True).values
    med = (lower + upper) / 2
    return torch.where(x.isnan().any(dim=-1, keepdim=True), x.new_full((), float("nan")), med)


def _check_longer(n: Any, left: int, right: int, padtype: str) -> None:
    """For a program traced with a symbolic length (torch.export): the extension takes one
    step, which needs a signal longer than it (a check the program runs)."""
    need = max(left, right) + (1 if padtype in ("reflect", "antireflect") else 0)
    torch._check(n >= need, lambda: (
        f"resample_poly with padtype={padtype!r}, exported with a dynamic length, needs at "
        f"least {need} samples along the resampled axis"))


def _extend(x: torch.Tensor, left: int, right: int, padtype: str, cval: float) -> torch.Tensor:
    """``x [B, L]`` extended by ``left`` and ``right`` samples the way ``padtype`` says.

    Slices, flips and affine maps only (no index arithmetic modulo the length), so that an
    export with a dynamic length traces it; an extension longer than the signal grows in steps
    (each reflects or repeats what is there, at most doubling it)."""
    n = x.shape[-1]
    lead = x.shape[:-1]
    if padtype == "constant":
        fill = x.new_full((), cval)
        return torch.cat([fill.expand(*lead, left), x, fill.expand(*lead, right)], dim=-1)
    if padtype == "edge" or (n == 1 and padtype in ("reflect", "antireflect")):
        # (a single sample reflects onto itself)
        return torch.cat([x[..., :1].expand(*lead, left), x, x[..., -1:].expand(*lead, right)],
                         dim=-1)  # fmt: skip
    if padtype in ("line", "smooth"):
        # x0 − t·slope before the signal, x_{n−1} + t·slope after it (t = 1, 2, ...): the slope
        # of the whole signal ('line') or of its two end samples at each end ('smooth'). A
        # single sample has no slope: the extension is then constant.
        if n == 1:
            lo = hi = torch.zeros_like(x[..., :1])
        elif padtype == "line":
            lo = hi = (x[..., -1:] - x[..., :1]) / (n - 1)
        else:
            lo, hi = x[..., 1:2] - x[..., :1], x[..., -1:] - x[..., -2:-1]
        before = x[..., :1] - torch.arange(left, 0, -1, device=x.device).to(x.dtype) * lo
        after = x[..., -1:] + torch.arange(1, right + 1, device=x.device).to(x.dtype) * hi
        return torch.cat([before, x, after], dim=-1)
    if padtype == "wrap" and not isinstance(n, int):
        _check_longer(n, left, right, padtype)  # (traced with a symbolic length: one period)
        return torch.cat([x[..., n - left :], x, x[..., :right]], dim=-1)
    if padtype == "wrap":  # whole periods of x, then the part of one nearest the signal
        parts: list[torch.Tensor] = []
        while left > 0:
            a = min(left, n)
            parts.insert(0, x[..., n - a :])
            left -= a
        parts.append(x)
        while right > 0:
            b = min(right, n)
            parts.append(x[..., :b])
            right -= b
        return torch.cat(parts, dim=-1)
    # The mirrors, applied to what has been built so far (so a long extension continues the
    # periodic pattern): through the end sample ('reflect', 'antireflect': 2·end − mirror) or
    # past it ('symmetric', 'antisymmetric': −mirror).
    through = padtype in ("reflect", "antireflect")
    out = x
    while left > 0 or right > 0:
        m = out.shape[-1] - (1 if through else 0)
        if isinstance(m, int):
            a, b = min(left, m), min(right, m)
        else:  # traced with a symbolic length: one mirror, no guard to specialise the trace
            _check_longer(out.shape[-1], left, right, padtype)
            a, b = left, right
        head = out[..., 1 : a + 1] if through else out[..., :a]
        tail = out[..., out.shape[-1] - 1 - b : out.shape[-1] - 1] if through else \
            out[..., out.shape[-1] - b :]  # fmt: skip
        head, tail = head.flip(-1), tail.flip(-1)
        if padtype == "antireflect":
            head, tail = 2 * out[..., :1] - head, 2 * out[..., -1:] - tail
        elif padtype == "antisymmetric":
            head, tail = -head, -tail
        out = torch.cat([head, out, tail], dim=-1)
        left, right = left - a, right - b
    return out


@lru_cache(maxsize=32)
def _cached_filter_on(up: int, down: int, window: Any, device: torch.device) -> torch.Tensor:
    return resample_filter(up, down, window).to(device)


def _filter_on(up: int, down: int, window: Any, device: torch.device) -> torch.Tensor:
    """The designed filter on ``device`` (float64): copied there once, not on every call, for
    filters of at most ≈ 80k taps (larger ones are designed per call, not kept)."""
    if max(up, down) <= _CACHED_RATE:
        return _cached_filter_on(up, down, window, device)
    return resample_filter(up, down, window).to(device)


def _resample_axis(x: torch.Tensor, up: int, down: int, taps: torch.Tensor, padtype: str,
                   cval: float, impl: str) -> torch.Tensor:  # fmt: skip
    """Resample the last axis of ``x [..., L]`` (factors already reduced, up != down)."""
    lead, n = x.shape[:-1], x.shape[-1]
    if n == 0 or x.numel() == 0:
        n_out = -(-n * up // down)  # (an empty sum: zeros on the autograd graph)
        return x[..., :0].sum(-1, keepdim=True).expand(*lead, n_out)
    n_out = (n * up - 1) // down + 1  # = ⌈n·up/down⌉, in upfirdn1d's form (see p1 below)
    k = taps.numel()
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
    # upfirdn1d's valid true convolution reads x_u[i·d + k − 1 − p0 − j], centred on tap
    # c = (k − 1) // 2: so p0 = k − 1 − c; p1 = c makes its length (n·up + p0 + p1 − k)//down + 1
    # exactly n_out. Neither depends on n, so an export with a dynamic length traces constants.
    p1 = (k - 1) // 2
    p0 = k - 1 - p1
    if padtype not in _STATISTICS and not (padtype == "constant" and cval == 0):
        # The input samples the outputs read before and after the signal, made explicit.
        left, right = -(-p0 // up), -(-p1 // up)
        x2 = _extend(x2, left, right, padtype, cval)
        p0, p1 = p0 - left * up, p1 - right * up
    y = upfirdn1d(x2.unsqueeze(1), taps, up=up, down=down, padding=(p0, p1), gain=up, impl=impl)
    y = y.squeeze(1)
    if background is not None:
        y = y + background
    return y.reshape(*lead, -1)  # (n_out long; a symbolic n_out would need proving equal)


def apply_resample(
    x: torch.Tensor, spec: ResampleSpec, impl: str = "auto", taps: torch.Tensor | None = None
) -> torch.Tensor:
    """:func:`resample_poly` with its other arguments checked already (``spec``); ``taps``
    overrides ``spec.taps`` (a module's buffer, which follows ``.to()``)."""
    if is_complex(x):  # by linearity: the parts resampled alike, each padded by its cval part
        if spec.padtype in _NONLINEAR_PADTYPES:
            raise ValueError(
                f"padtype {spec.padtype!r} takes a statistic that is not linear in the "
                f"signal: a complex x takes the other padtypes ('constant', 'mean', 'line', "
                f"'edge', 'wrap', 'symmetric', 'reflect', 'antisymmetric', 'antireflect', "
                f"'smooth')"
            )
        refuse_complex32(x)
        cval = complex(spec.cval)
        re = apply_resample(x.real, replace(spec, cval=cval.real), impl, taps)
        im = apply_resample(x.imag, replace(spec, cval=cval.imag), impl, taps)
        return keep_memory_format(torch.complex(re, im), x)
    if isinstance(spec.cval, complex):
        raise TypeError(f"cval must be a real number for a real x, got {spec.cval!r} (a complex "
                        f"cval pads a complex signal)")  # fmt: skip
    check_tensor(x, "x")
    if torch.jit.is_tracing():
        raise RuntimeError(
            "resample_poly cannot be traced by torch.jit.trace: its paddings depend on the "
            "signal's length, which a trace would freeze; use torch.export or "
            "torch.onnx.export(..., dynamo=True) (lengths stay dynamic), or torch.compile"
        )
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension to resample, got a 0-d tensor")
    axes = []
    for d in spec.dims:
        if not -x.ndim <= d < x.ndim:
            raise ValueError(f"dim {d} is out of range for x of {x.ndim} dimensions")
        axes.append(d % x.ndim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim must not name an axis twice, got {spec.dims!r} for x of "
                         f"{x.ndim} dimensions")  # fmt: skip
    check_fits_dtype(spec.cval, "cval", x.dtype)
    taps = spec.taps if taps is None else taps
    impl = resolve_impl(impl, x, "resample_poly", {"window": taps})
    if taps is not None and taps.is_meta and not x.is_meta:  # (shapes only: no taps to move)
        raise ValueError("window must hold its taps, got a tensor on the meta device")
    y = x
    for axis, (u, d) in zip(axes, spec.factors):
        if u == d:  # scipy's rule: equal factors leave the axis alone, whatever the window
            continue
        f = taps.to(x.device) if taps is not None else (
            resample_filter(u, d, spec.window) if _tracing() else
            _filter_on(u, d, spec.window, x.device))  # fmt: skip
        y = _resample_axis(y.movedim(axis, -1), u, d, f, spec.padtype, spec.cval, impl)
        y = y.movedim(-1, axis)
    # (dense, as the other ops: an axis moved back to its place left a permuted layout)
    y = keep_memory_format(y, x)
    return y.clone() if y is x else y  # (equal factors on a dense x: a copy of x)


def resample_poly(
    x: torch.Tensor,
    up: int | Sequence[int],
    down: int | Sequence[int],
    dim: int | Sequence[int] = -1,
    *,
    window: Any = None,
    padtype: str = "constant",
    cval: float | complex | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    r"""Resample ``x`` by the rational factor ``up / down`` with a polyphase FIR low-pass.

    The same output as ``scipy.signal.resample_poly(x, up, down, axis=dim, window=window,
    padtype=padtype, cval=cval)`` (to rounding), for tensors on any device, with autograd. The
    formula is in the section introduction above (the module docstring): the output has
    :math:`\lceil L · up / down\rceil` samples along ``dim``, sample ``i`` at input time ``i · down
    / up``; the low-pass removes what the lower of the two rates cannot hold, so downsampling does
    not alias and upsampling does not image. Equal factors return a copy of ``x``.

    Parameters
    ----------
    x : Tensor ``[..., L, ...]``
        Floating-point signal, any shape (audio ``[N, C, T]``, images ``[N, C, H, W]``); or
        complex (complex64/complex128, as scipy takes it: the real and imaginary parts are
        resampled alike; not with the padtypes 'median', 'maximum' and 'minimum', whose
        statistics are not linear).
    up, down : int in [1, 2**30], or one per ``dim``
        The factors, divided by their gcd before use (so ``(4, 2)`` is ``(2, 1)``); the designed
        filter allows ``max(up, down) ≤ 2**16`` after that (explicit taps do not need it).
    dim : int or sequence of int, default -1 (the last axis; scipy's default is axis 0)
        Axis or axes to resample, one after another (e.g. ``(-2, -1)`` for images, the same as
        calling scipy once per axis).
    window : None, number, str, tuple, or taps (keyword-only)
        The filter: ``None`` for scipy's ``('kaiser', 5.0)``; a number (the Kaiser β) or a
        window spec for ``scipy.signal.firwin`` — :func:`bandlimit.filters.resample_filter`
        designs it —; or the filter taps themselves as a 1-D tensor, array, or list or tuple of
        numbers, designed for the rate ``up · fs`` (scipy's rule: they are multiplied by
        ``up``, and the output is centred on tap ``(K - 1) // 2``). Taps that require grad
        are learned (their gradient, as :func:`upfirdn1d`'s filter).
    padtype : str (keyword-only)
        What lies beyond the signal's ends, scipy's names: ``'constant'``
        (``cval``, default 0); ``'line'``, the line through the first and last samples;
        ``'mean'``, ``'median'``, ``'maximum'``, ``'minimum'``, that statistic of the signal
        (subtracted, zero-padded, added back); ``'edge'``, ``'wrap'``, ``'symmetric'``,
        ``'reflect'`` as in ``numpy.pad``; ``'antisymmetric'``, ``'antireflect'`` their negated
        forms; ``'smooth'``, the slope of the two end samples. A one-sample signal, where scipy
        has no defined answer for ``'line'``, ``'smooth'``, ``'reflect'`` and ``'antireflect'``
        (NaN, garbage or a crash), is extended by its value.
    cval : float, complex or None (keyword-only)
        The constant of ``padtype='constant'`` (None: 0); only for that padtype, and within
        ``x``'s dtype's range; complex only for a complex ``x``.
    impl : str (keyword-only)
        Backend of the :func:`~bandlimit.ops.upfirdn1d` calls: ``'auto'``, ``'ref'``,
        ``'numba'`` or ``'cuda'``.

    Returns
    -------
    Tensor
        ``x``'s shape with each resampled axis of length :math:`\lceil L · up / down\rceil`,
        ``x``'s dtype and device.

    Raises
    ------
    TypeError
        If ``x`` is neither a floating-point nor a complex64/complex128 tensor, or an argument
        has the wrong type (a factor or ``dim`` that is not an int, taps that are not real
        numbers, a complex ``cval`` for a real ``x``).
    ValueError
        If a factor, ``dim``, ``window``, ``padtype`` or ``cval`` is invalid (e.g. ``cval``
        with another padtype, a ``dim`` named twice or out of range), or the requested
        backend cannot run on ``x``.
    RuntimeError
        Under ``torch.jit.trace``, which would freeze the length-dependent paddings.

    Notes
    -----
    Cost: :math:`K / up` multiply-adds per output sample (the polyphase schedule) plus a copy
    of the signal per axis. Supported wherever :func:`~bandlimit.ops.upfirdn1d` is: CPU and CUDA,
    float16/bfloat16/float32/float64 ('numba': half precision computed in float32), gradients
    with respect to ``x`` of any order on every backend,
    ``torch.compile`` (Kaiser windows and explicit taps; other windows call scipy, a graph
    break), ``torch.export`` and ``torch.onnx.export(dynamo=True)`` ('auto' runs 'ref'; the
    designed filter is a constant of the graph), dynamic batch and length included.
    :class:`bandlimit.nn.ResamplePoly` checks the arguments once and keeps taps as a buffer.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import resample_poly
    >>> resample_poly(torch.randn(2, 1, 22050), 160, 147).shape   # 22.05 kHz -> 24 kHz
    torch.Size([2, 1, 24000])

    The same result as scipy, here along the only axis of a float64 signal:

    >>> import scipy.signal
    >>> x = torch.sin(torch.arange(100, dtype=torch.float64) / 5)
    >>> y = resample_poly(x, 3, 2)
    >>> y.shape
    torch.Size([150])
    >>> expected = scipy.signal.resample_poly(x.numpy(), 3, 2)
    >>> torch.allclose(y, torch.from_numpy(expected))
    True

    Images, both spatial axes at once, with edge extension:

    >>> resample_poly(torch.ones(1, 3, 32, 32), 1, 2, dim=(-2, -1), padtype="edge").shape
    torch.Size([1, 3, 16, 16])
    """
    return apply_resample(x, resample_spec(up, down, dim, window, padtype, cval), impl)
