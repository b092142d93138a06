"""upfirdn: upsample by zero insertion, pad, FIR filter, downsample — in 1-D and 2-D.

With ``up`` and ``down`` the integer factors, ``p0``/``p1`` the pads and ``f`` a K-tap filter, each
axis computes::

    xu = x with (up − 1) zeros inserted after every sample          length L·up
    xp = xu padded with p0 zeros before and p1 after (negative crops)
    y  = (xp ⊛ f)[0 :: down]                                        "valid" true convolution

so the output length is ``(L·up + p0 + p1 − K) // down + 1``. This is StyleGAN's ``upfirdn2d``.
A 1-D filter on a 2-D signal is applied separably, along x and then y.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from bandlimit._checks import check_bool, check_device, nonreal_kind, short_repr
from bandlimit.ops import reference
from bandlimit.ops._complex import filter_by_parts, is_complex, real_part
from bandlimit.ops._dispatch import HALF_DTYPES, compute_dtype, numba_fits, resolve_impl
from bandlimit.ops._params import (
    Fir,
    Pad4,
    Pair,
    as_factors,
    as_float,
    as_padding,
    check_filter,
    check_tensor,
    keep_memory_format,
    make_fir,
    make_fir_1d,
    reach_padding,
    upfirdn_out_size,
)


def run_upfirdn(x: torch.Tensor, fir: Fir, up: Pair, down: Pair, pad: Pad4, impl: str):
    """Run a normalised upfirdn on ``x [N, C, H, W]`` with the resolved backend."""
    if impl == "numba" and x.dtype in HALF_DTYPES:  # in float32 (the filter is: compute_dtype)
        return run_upfirdn(x.float(), fir, up, down, pad, impl).to(x.dtype)
    if impl == "numba" and numba_fits(up, down):
        from bandlimit.ops._library import upfirdn_numba

        return upfirdn_numba(x, fir.fx, fir.fy, fir.f2d, list(up), list(down), list(pad))
    if impl == "cuda":
        from bandlimit.ops.cuda import _ops

        return _ops.upfirdn(x, fir, up, down, pad)
    return reference.upfirdn(x, fir, up, down, pad)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | tuple[int, int] = 1,
    down: int | tuple[int, int] = 1,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of 2-D signals.

    Along each axis (x = W, y = H), with ``up``/``down`` that axis's factors, ``p0``/``p1`` its
    padding and ``f`` its ``K`` taps: insert ``up − 1`` zeros after every sample, pad with
    ``p0`` zeros before and ``p1`` after (negative values crop), take the "valid" true
    convolution with ``f`` and keep every ``down``-th output sample, starting with the first.
    Every channel of every batch element is filtered alike.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        Floating point, or complex (complex64/complex128: the op is linear, so the real and
        imaginary parts are filtered alike, as one batch). 'ref': any device and dtype;
        'numba': CPU, float32/float64 (float16 and bfloat16 computed in float32, rounded
        once); 'cuda': CUDA
        float16/bfloat16/float32/float64. A channels_last ``x`` gives a channels_last result.
    f : Tensor ``[taps]``, Tensor ``[h, w]`` or None
        Floating-point (or complex) filter in true-convolution orientation (set
        ``flip_filter`` for correlation): ``[taps]`` is applied separably, along x and then
        along y; ``[h, w]`` is a full 2-D filter indexed ``[y, x]``; None is the identity (one
        tap of value 1). Any device (moved to ``x``'s) and dtype (cast to the one the op
        computes in). A filter that requires grad (an ``nn.Parameter``) is learned: it gets
        its gradient on every backend.
    up, down : int or ``(x, y)``, default 1
        Integer up- and down-sampling factors in [1, 2**30]; an int applies to both axes.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Zeros added to the upsampled signal before filtering, in upsampled samples: an int pads
        all four sides, ``(px, py)`` pads both ends of x by ``px`` and of y by ``py``. Negative
        values crop.
    flip_filter : bool, default False
        Correlate with ``f`` instead of convolving (the filter is not reversed).
    gain : float ≥ 0, default 1
        Overall gain: the filter is multiplied by ``gain**(f.ndim / 2)``, i.e. a ``[taps]``
        filter by ``sqrt(gain)`` in each of its two passes and an ``[h, w]`` filter by ``gain``.
        Upsampling by zero insertion divides a constant signal's level by ``up_x·up_y``; pass
        ``gain=up_x·up_y`` (with a unit-sum ``f``) to keep it.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend; 'auto' picks numba for CPU and cuda for CUDA tensors (see
        :func:`~bandlimit.ops.set_default_impl`).

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]``
        ``W_out = (W·up_x + x0 + x1 − f_w) // down_x + 1`` and likewise
        ``H_out = (H·up_y + y0 + y1 − f_h) // down_y + 1`` (``f_w``, ``f_h``: the filter's taps
        along x and y, 1 for None); same dtype and device as ``x``.

    Raises
    ------
    TypeError
        If ``x`` or ``f`` is neither a floating-point nor a complex64/complex128 tensor, or
        an argument has the wrong type.
    ValueError
        If a shape is wrong, a factor is outside [1, 2**30], ``gain`` is negative, the output
        would be empty, or the requested backend cannot run on ``x``.

    Notes
    -----
    Differentiable to any order with respect to ``x`` and ``f`` on every backend. The gradient
    for ``x`` is the same operation transposed (factors swapped, filter reversed, padding
    derived), run by the same backend; the filter's correlates the output gradient with the
    input up-sampled and padded (the same backend's op with one axis unfiltered), as matrix
    products. Under ``torch.func`` transforms 'auto' runs 'ref'.

    Examples
    --------
    2x upsampling of one 3-channel 8x8 image with a separable 4-tap binomial filter; the gain
    ``up_x·up_y = 4`` keeps the level of a constant image away from the borders:

    >>> import torch
    >>> from bandlimit.ops import upfirdn2d
    >>> x = torch.ones(1, 3, 8, 8)
    >>> f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    >>> y = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4)
    >>> y.shape, y.dtype
    (torch.Size([1, 3, 16, 16]), torch.float32)
    >>> round(float(y[0, 0, 8, 8]), 4)
    1.0

    Low-pass filtering, then keeping every second sample:

    >>> upfirdn2d(x, f, down=2, padding=1).shape
    torch.Size([1, 3, 4, 4])
    """
    if is_complex(x) or is_complex(f):
        (ux, uy), (dx, dy), (x0, x1, y0, y1), g2 = _check_complex_call(
            x, f, up, down, padding, gain, flip_filter, ndim=2
        )
        if isinstance(f, torch.Tensor) and f.is_complex() and f.ndim == 1:
            # A separable filter acts twice (f[y]·f[x]): not linear in f, but each pass is.
            g = math.sqrt(g2)
            y = upfirdn2d(x, f[None, :], (ux, 1), (dx, 1), (x0, x1, 0, 0), flip_filter, g, impl)
            return upfirdn2d(y, f[:, None], (1, uy), (1, dy), (0, 0, y0, y1), flip_filter, g,
                             impl)  # fmt: skip
        return filter_by_parts(
            lambda x, f: upfirdn2d(x, f, up, down, padding, flip_filter, gain, impl), x, f
        )
    x = check_tensor(x, "x", (4,), "[N, C, H, W]")
    f = check_filter(f, "f", x=x)
    up, down, pad = as_factors(up, "up"), as_factors(down, "down"), as_padding(padding)
    g = math.sqrt(as_float(gain, "gain", nonnegative=True))
    impl = resolve_impl(impl, x, "upfirdn2d", {"f": f})
    flip = check_bool("flip_filter", flip_filter)
    dtype = compute_dtype(x, impl)
    fir = make_fir(f, flip_filter=flip, gain=(g, g), dtype=dtype, device=x.device)
    upfirdn_out_size((x.shape[2], x.shape[3]), fir, up, down, pad, "upfirdn2d")
    pad = reach_padding((x.shape[2], x.shape[3]), up, pad)
    return keep_memory_format(run_upfirdn(x, fir, up, down, pad, impl), x)


def upfirdn1d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, int] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of 1-D signals (audio).

    The 1-D form of :func:`upfirdn2d`, along the last axis: insert ``up − 1`` zeros after every
    sample, pad, take the "valid" true convolution with ``f`` and keep every ``down``-th sample.

    Parameters
    ----------
    x : Tensor ``[N, C, L]``
        Floating point or complex; devices and dtypes per backend as in :func:`upfirdn2d`.
    f : Tensor ``[taps]`` or None
        Floating-point (or complex) filter in true-convolution orientation, or None
        (identity). A filter that requires grad is learned, as in :func:`upfirdn2d`.
    up, down : int, default 1
        Integer factors in [1, 2**30].
    padding : int or ``(p0, p1)``, default 0
        Zeros added before and after the upsampled signal (an int pads both ends); negative
        values crop.
    flip_filter : bool, default False
        Correlate with ``f`` instead of convolving.
    gain : float ≥ 0, default 1
        The filter is multiplied by ``gain`` (``gain=up`` with a unit-sum filter keeps the level
        of a constant signal).
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend, as in :func:`upfirdn2d`.

    Returns
    -------
    Tensor ``[N, C, L_out]``
        ``L_out = (L·up + p0 + p1 − taps) // down + 1``; same dtype and device as ``x``.

    Raises
    ------
    TypeError
        As :func:`upfirdn2d` (an argument of the wrong type).
    ValueError
        As :func:`upfirdn2d` (a wrong value, shape or device, an empty output, or a backend that
        cannot run on ``x``).

    Notes
    -----
    Differentiable to any order with respect to ``x`` and ``f`` on every backend, as
    :func:`upfirdn2d`.

    Examples
    --------
    Linear interpolation (2x upsampling with the triangle ``[0.5, 1, 0.5]``):

    >>> import torch
    >>> from bandlimit.ops import upfirdn1d
    >>> x = torch.arange(8.0).reshape(1, 1, 8)
    >>> y = upfirdn1d(x, torch.tensor([0.5, 1.0, 0.5]), up=2, padding=(1, 1))
    >>> y.shape
    torch.Size([1, 1, 16])
    >>> y[0, 0, :6].tolist()
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    """
    if is_complex(x) or is_complex(f):
        _check_complex_call(x, f, up, down, padding, gain, flip_filter, ndim=1)
        return filter_by_parts(
            lambda x, f: upfirdn1d(x, f, up, down, padding, flip_filter, gain, impl), x, f
        )
    x = check_tensor(x, "x", (3,), "[N, C, L]")
    f = check_filter(f, "f", ndims=(1,), x=x)
    up2, down2 = as_factors(up, "up", ndim=1), as_factors(down, "down", ndim=1)
    pad = as_padding(padding, ndim=1)
    gain = as_float(gain, "gain", nonnegative=True)
    impl = resolve_impl(impl, x, "upfirdn1d", {"f": f})
    flip = check_bool("flip_filter", flip_filter)
    dtype = compute_dtype(x, impl)
    fir = make_fir_1d(f, flip_filter=flip, gain=gain, dtype=dtype, device=x.device)
    x4 = x.unsqueeze(2)
    upfirdn_out_size((1, x.shape[2]), fir, up2, down2, pad, "upfirdn1d", 1)
    pad = reach_padding((1, x.shape[2]), up2, pad)
    return keep_memory_format(run_upfirdn(x4, fir, up2, down2, pad, impl).squeeze(2), x)


# ------------------------------------------------------------------------------------------
# StyleGAN-style convenience wrappers


def setup_filter(
    f: object,
    device: torch.device | str = "cpu",
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """Prepare a filter the way StyleGAN's helpers expect it.

    ``None`` means ``[1]``; a scalar becomes a one-tap 1-D filter. Unless ``separable`` says
    otherwise, a 1-D filter of fewer than 8 taps becomes the full 2-D outer product ``f ⊗ f``
    (small filters are cheaper as one 2-D pass). Then: normalise to unit sum, optionally flip, and
    multiply by ``gain**(ndim / 2)``.

    Parameters
    ----------
    f : None, number, sequence of numbers, array or Tensor
        The taps: ``[taps]`` or ``[h, w]`` (indexed ``[y, x]``); None is ``[1]``.
    device : torch.device or str, default 'cpu'
        Where the result is placed.
    normalize : bool, default True
        Divide by the sum of the taps, so that a constant signal keeps its level.
    flip_filter : bool, default False
        Reverse the filter along every axis.
    gain : float ≥ 0, default 1
        Overall gain: the result is multiplied by ``gain**(ndim / 2)`` (``ndim`` of the result),
        so applying it (in two separable passes or one 2-D pass) scales by ``gain``.
    separable : bool or None, default None
        True keeps a 1-D filter 1-D (for separable application); False makes it the 2-D outer
        product; None decides by size (1-D when it has at least 8 taps).

    Returns
    -------
    Tensor ``[taps]`` (separable) or ``[h, w]``
        float32, on ``device``; no gradient is tracked. Pass it as ``f`` to
        :func:`~bandlimit.ops.upfirdn2d`, :func:`~bandlimit.ops.upsample2d`,
        :func:`~bandlimit.ops.downsample2d` or :func:`~bandlimit.ops.filter2d`.

    Raises
    ------
    TypeError
        If ``f`` is not a number, a sequence of numbers or a tensor, or holds booleans or
        complex numbers (a bool, a bool or complex array or tensor).
    ValueError
        If ``f`` has more than 2 dimensions, no taps or a tap that is not finite in float32
        (NaN, inf, beyond ±3.4e+38), ``separable=True`` is given a 2-D filter, the taps sum to
        zero with ``normalize=True``, the outer product or the gain makes them overflow,
        ``device`` is not a device, or ``f`` is a meta tensor and ``device`` is not 'meta' (a
        meta ``f`` gives a meta result of the right shape, its values unchecked).

    Examples
    --------
    >>> from bandlimit.ops import setup_filter
    >>> f = setup_filter([1, 3, 3, 1])
    >>> f.shape, f.dtype
    (torch.Size([4, 4]), torch.float32)
    >>> round(float(f.sum()), 4)
    1.0
    >>> setup_filter([1, 3, 3, 1], separable=True).tolist()
    [0.125, 0.375, 0.375, 0.125]
    """
    if isinstance(f, (bool, np.bool_)):
        raise TypeError(f"f must be None, a number, a sequence of numbers or a tensor, got {f!r}")
    device = check_device("device", device)
    kind = nonreal_kind(f)
    if kind is not None:  # (torch would make them real: the imaginary parts dropped, bools 0/1)
        raise TypeError(f"f must hold real numbers, got {kind} taps: {short_repr(f)}")
    given = f
    if isinstance(f, torch.Tensor):
        f = f.detach()  # (the result tracks no gradient, as documented)
    try:
        # (taps given as numbers start on the CPU, whatever the default device)
        on = None if isinstance(f, torch.Tensor) else "cpu"
        f = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32, device=on)
    except OverflowError:  # an int beyond a float's range
        raise ValueError(f"f must hold finite real numbers, got {short_repr(given)}") from None
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"f must be None, a number, a sequence of numbers or a tensor, got {short_repr(f)}"
        ) from None
    # A meta tensor has no taps to check: only the shape is computed (on the meta device).
    meta = f.is_meta
    if meta and device.type != "meta":
        raise ValueError(
            f"f must hold its taps to place them on {device}, got a tensor on the meta device"
        )
    if not meta and not bool(torch.isfinite(f).all()):
        raise ValueError(
            f"f must have finite taps (float32: at most ±3.4e+38), got {short_repr(given)}"
        )
    if f.ndim > 2:
        raise ValueError(f"f must be a scalar, [taps] or [h, w], got shape {tuple(f.shape)}")
    if f.numel() == 0:
        raise ValueError("f must have at least one tap, got an empty filter")
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    else:
        separable = check_bool("separable", separable)
    outer = f.ndim == 1 and not separable
    if outer:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError(f"separable={separable} needs a 1-D filter, got shape {tuple(f.shape)}")
    if check_bool("normalize", normalize):
        if meta:
            f = f / f.sum()
        else:
            total = float(f.sum())
            if not math.isfinite(total) or total == 0:
                raise ValueError(
                    f"f sums to {total}: it cannot be normalised to unit sum (a high-pass "
                    f"filter, or one whose sum overflows float32?); pass normalize=False"
                )
            f = f / total
    if check_bool("flip_filter", flip_filter):
        f = f.flip(list(range(f.ndim)))
    gain = as_float(gain, "gain", nonnegative=True)
    scale: float = gain ** (f.ndim / 2)  # (float ** float is Any in typeshed: may be complex)
    f = f * scale
    if not meta and not bool(torch.isfinite(f).all()):  # (f's own taps are finite)
        why = (f"gain={gain!r}" if scale != 1 else
               "the outer product f ⊗ f" if outer else "normalising f to unit sum")  # fmt: skip
        raise ValueError(f"{why} makes the float32 taps overflow (beyond ±3.4e+38)")
    return f.to(device=device)


def _check_complex_call(
    x: object, f: object, up: object, down: object, padding: object, gain: object,
    flip_filter: object, ndim: int,
) -> tuple[Pair, Pair, Pad4, float]:
    """A complex call's arguments checked as the real op checks them, on the real parts (the
    caller's shapes), before the parts are split: the messages name what was passed. Returns
    the parsed factors, padding and gain."""
    xr = check_tensor(real_part(x), "x", (ndim + 2,), "[N, C, H, W]" if ndim == 2 else "[N, C, L]")
    fr = check_filter(real_part(f), "f", (1, 2) if ndim == 2 else (1,), x=xr)
    fr = None if fr is None else fr.detach()
    flip = check_bool("flip_filter", flip_filter)
    g = as_float(gain, "gain", nonnegative=True)
    if ndim == 2:
        ups, downs, pad = as_factors(up, "up"), as_factors(down, "down"), as_padding(padding)
        fir = make_fir(fr, flip_filter=flip, gain=(math.sqrt(g),) * 2, dtype=xr.dtype,
                       device=xr.device)  # fmt: skip
        upfirdn_out_size((xr.shape[2], xr.shape[3]), fir, ups, downs, pad, "upfirdn2d")
    else:
        ups, downs = as_factors(up, "up", ndim=1), as_factors(down, "down", ndim=1)
        pad = as_padding(padding, ndim=1)
        fir = make_fir_1d(fr, flip_filter=flip, gain=g, dtype=xr.dtype, device=xr.device)
        upfirdn_out_size((1, xr.shape[2]), fir, ups, downs, pad, "upfirdn1d", ndim=1)
    return ups, downs, pad, g


def aligned_padding(
    taps: Sequence[int], up: Sequence[int], down: Sequence[int], extra: Sequence[int]
) -> tuple[int, ...]:
    """Per axis (x first), the padding that keeps a resampled signal aligned with its input —
    ``up`` times larger (``((K + up − 1)//2, (K − up)//2)``), ``down`` times smaller
    (``((K − down + 1)//2, (K − down)//2)``) or, both 1, the same size (``(K//2, (K − 1)//2)``)
    — plus ``extra``, ``(p0, p1)`` per axis: the wrappers' (StyleGAN's) convention."""
    out: list[int] = []
    for k, u, d, e0, e1 in zip(taps, up, down, extra[0::2], extra[1::2]):
        r = u if u > 1 else 2 - d  # (one of the two is 1)
        out += [e0 + (k + r - 1) // 2, e1 + (k - max(u, d)) // 2]
    return tuple(out)


def _filter_hw(f: torch.Tensor | None) -> Pair:
    if f is None:
        return 1, 1
    return (int(f.shape[-1]), int(f.shape[0])) if f.ndim == 2 else (int(f.shape[0]),) * 2


def filter2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Filter ``x [N, C, H, W]`` with ``f``, padded so that the size is kept (plus ``padding``).

    A thin wrapper of :func:`~bandlimit.ops.upfirdn2d` that adds, along each axis with a
    ``K``-tap filter, ``K // 2`` zeros before and ``(K − 1) // 2`` after the signal.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        As in :func:`~bandlimit.ops.upfirdn2d` (floating point or complex; devices and
        dtypes per backend).
    f : Tensor ``[taps]``, Tensor ``[h, w]`` or None
        The filter, e.g. from :func:`~bandlimit.ops.setup_filter`; as in
        :func:`~bandlimit.ops.upfirdn2d`.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Extra padding on top of the size-keeping one (negative values crop).
    flip_filter, gain, impl
        As in :func:`~bandlimit.ops.upfirdn2d` (defaults False, 1, 'auto').

    Returns
    -------
    Tensor ``[N, C, H + y0 + y1, W + x0 + x1]``
        Same dtype and device as ``x``; differentiable to any order with respect to ``x``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import filter2d, setup_filter
    >>> y = filter2d(torch.ones(1, 3, 8, 8), setup_filter([1, 3, 3, 1]))
    >>> y.shape
    torch.Size([1, 3, 8, 8])
    >>> round(float(y[0, 0, 4, 4]), 4)
    1.0
    """
    check_filter(real_part(f), "f")  # (a complex filter too)
    pad = aligned_padding(_filter_hw(f), (1, 1), (1, 1), as_padding(padding))
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | tuple[int, int] = 2,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample ``x`` by ``up`` with filter ``f``; the output is ``up`` times larger (plus padding).

    A thin wrapper of :func:`~bandlimit.ops.upfirdn2d` that pads so that the output is aligned
    with the input and exactly ``up`` times larger. The gain is multiplied by ``up_x·up_y`` so
    that the signal keeps its amplitude (with a unit-sum filter).

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        As in :func:`~bandlimit.ops.upfirdn2d` (floating point or complex; devices and
        dtypes per backend).
    f : Tensor ``[taps]``, Tensor ``[h, w]`` or None
        The interpolation filter, e.g. from :func:`~bandlimit.ops.setup_filter`; as in
        :func:`~bandlimit.ops.upfirdn2d`.
    up : int or ``(x, y)``, default 2
        Upsampling factor in [1, 2**30].
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Extra padding, in output samples, on top of the aligning one (negative values crop).
    flip_filter : bool, default False
        As in :func:`~bandlimit.ops.upfirdn2d`.
    gain : float ≥ 0, default 1
        Multiplied by ``up_x·up_y`` and passed on to :func:`~bandlimit.ops.upfirdn2d`.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        As in :func:`~bandlimit.ops.upfirdn2d`.

    Returns
    -------
    Tensor ``[N, C, H·up_y + y0 + y1, W·up_x + x0 + x1]``
        Same dtype and device as ``x``; differentiable to any order with respect to ``x``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import setup_filter, upsample2d
    >>> y = upsample2d(torch.ones(1, 3, 8, 8), setup_filter([1, 3, 3, 1]))
    >>> y.shape
    torch.Size([1, 3, 16, 16])
    >>> round(float(y[0, 0, 8, 8]), 4)
    1.0
    """
    check_filter(real_part(f), "f")  # (a complex filter too)
    ux, uy = as_factors(up, "up")
    pad = aligned_padding(_filter_hw(f), (ux, uy), (1, 1), as_padding(padding))
    gain = as_float(gain, "gain", nonnegative=True)
    if not gain * ux * uy < math.inf:  # (the amplitude-keeping gain is derived from both)
        raise ValueError(f"gain·up_x·up_y must be finite, got gain={gain!r}, up={(ux, uy)}")
    gain = gain * ux * uy
    return upfirdn2d(x, f, up=(ux, uy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    down: int | tuple[int, int] = 2,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Filter ``x`` with ``f`` and keep every ``down``-th sample: ``down`` times smaller.

    A thin wrapper of :func:`~bandlimit.ops.upfirdn2d` that pads so that the output is aligned
    with the input and ``down`` times smaller.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        As in :func:`~bandlimit.ops.upfirdn2d` (floating point or complex; devices and
        dtypes per backend).
    f : Tensor ``[taps]``, Tensor ``[h, w]`` or None
        The anti-aliasing filter, e.g. from :func:`~bandlimit.ops.setup_filter`; as in
        :func:`~bandlimit.ops.upfirdn2d`.
    down : int or ``(x, y)``, default 2
        Downsampling factor in [1, 2**30].
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Extra padding, in input samples, on top of the aligning one (negative values crop).
    flip_filter, gain, impl
        As in :func:`~bandlimit.ops.upfirdn2d` (defaults False, 1, 'auto'); ``gain`` is not
        scaled.

    Returns
    -------
    Tensor ``[N, C, (H + y0 + y1) // down_y, (W + x0 + x1) // down_x]``
        Same dtype and device as ``x``; differentiable to any order with respect to ``x``.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import downsample2d, setup_filter
    >>> y = downsample2d(torch.ones(1, 3, 8, 8), setup_filter([1, 3, 3, 1]))
    >>> y.shape
    torch.Size([1, 3, 4, 4])
    >>> round(float(y[0, 0, 2, 2]), 4)
    1.0
    """
    check_filter(real_part(f), "f")  # (a complex filter too)
    dx, dy = as_factors(down, "down")
    pad = aligned_padding(_filter_hw(f), (1, 1), (dx, dy), as_padding(padding))
    return upfirdn2d(
        x, f, down=(dx, dy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl
    )
