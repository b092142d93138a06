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

import torch

from bandlimit._checks import check_bool
from bandlimit.ops import reference
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

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        Floating point; any device ('ref'), CPU ('numba': float16 and bfloat16 computed in
        float32, rounded once), CUDA float16/bfloat16/float32/float64 ('cuda').
    f : Tensor ``[taps]`` (separable), ``[h, w]`` (full, indexed ``[y, x]``) or None (identity)
        Filter in true-convolution orientation (set ``flip_filter`` for correlation). Constant: no
        gradient flows to it.
    up, down : int or ``(x, y)``
        Integer factors in [1, 2**30].
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``
        Zeros added to the upsampled signal before filtering; negative values crop.
    flip_filter : bool
        Correlate instead of convolving.
    gain : float ≥ 0
        Overall gain: the filter is multiplied by ``gain**(f.ndim / 2)`` (each separable pass by
        ``sqrt(gain)``).
    impl : {'auto', 'ref', 'numba', 'cuda'}
        Backend; see :func:`bandlimit.ops.set_default_impl`.

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]`` with ``W_out = (W·up_x + x0 + x1 − f_w) // down_x + 1`` and
    likewise for ``H_out``; same dtype and device as ``x``.

    Notes
    -----
    Differentiable to any order with respect to ``x`` on every backend: the gradient is the same
    operation transposed (factors swapped, filter reversed, padding derived).
    """
    x = check_tensor(x, "x", (4,), "[N, C, H, W]")
    f = check_filter(f, "f", x=x)
    up, down, pad = as_factors(up, "up"), as_factors(down, "down"), as_padding(padding)
    g = math.sqrt(as_float(gain, "gain", nonnegative=True))
    impl = resolve_impl(impl, x, "upfirdn2d")
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

    Parameters
    ----------
    x : Tensor ``[N, C, L]``
    f : Tensor ``[taps]`` or None
    up, down : int in [1, 2**30]
    padding : int or ``(p0, p1)``; negative crops.
    flip_filter, gain, impl
        As in :func:`upfirdn2d`; the filter is multiplied by ``gain``.

    Returns
    -------
    Tensor ``[N, C, (L·up + p0 + p1 − taps) // down + 1]``.
    """
    x = check_tensor(x, "x", (3,), "[N, C, L]")
    f = check_filter(f, "f", ndims=(1,), x=x)
    up2, down2 = as_factors(up, "up", ndim=1), as_factors(down, "down", ndim=1)
    pad = as_padding(padding, ndim=1)
    gain = as_float(gain, "gain", nonnegative=True)
    impl = resolve_impl(impl, x, "upfirdn1d")
    flip = check_bool("flip_filter", flip_filter)
    dtype = compute_dtype(x, impl)
    fir = make_fir_1d(f, flip_filter=flip, gain=gain, dtype=dtype, device=x.device)
    x4 = x.unsqueeze(2)
    upfirdn_out_size((1, x.shape[2]), fir, up2, down2, pad, "upfirdn1d", 1)
    pad = reach_padding((1, x.shape[2]), up2, pad)
    return run_upfirdn(x4, fir, up2, down2, pad, impl).squeeze(2)


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

    Returns
    -------
    float32 Tensor ``[taps]`` (separable) or ``[h, w]`` on ``device``.
    """
    if isinstance(f, bool):
        raise TypeError(f"f must be None, a number, a sequence of numbers or a tensor, got {f!r}")
    try:
        device = torch.device(device)
    except (TypeError, RuntimeError):
        raise ValueError(
            f"device must be a torch.device or a device string, got {device!r}"
        ) from None
    try:
        f = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            f"f must be None, a number, a sequence of numbers or a tensor, got {f!r}"
        ) from None
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
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError(f"separable={separable} needs a 1-D filter, got shape {tuple(f.shape)}")
    if check_bool("normalize", normalize):
        total = float(f.sum())
        if not math.isfinite(total) or total == 0:
            raise ValueError(
                f"f sums to {total}: it cannot be normalised to unit sum (a high-pass or "
                f"non-finite filter?); pass normalize=False"
            )
        f = f / total
    if check_bool("flip_filter", flip_filter):
        f = f.flip(list(range(f.ndim)))
    gain = as_float(gain, "gain", nonnegative=True)
    scale: float = gain ** (f.ndim / 2)  # (float ** float is Any in typeshed: may be complex)
    f = f * scale
    if not bool(torch.isfinite(f).all()):
        raise ValueError(f"gain={gain!r} makes the float32 taps overflow")
    return f.to(device=device)


def _filter_hw(f: torch.Tensor | None) -> Pair:
    if f is None:
        return 1, 1
    return (int(f.shape[-1]), int(f.shape[0])) if f.ndim == 2 else (int(f.shape[0]),) * 2


def filter2d(x, f, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Filter ``x [N, C, H, W]`` with ``f``, padded so that the size is kept (plus ``padding``)."""
    f = check_filter(f, "f")
    fw, fh = _filter_hw(f)
    x0, x1, y0, y1 = as_padding(padding)
    pad = (x0 + fw // 2, x1 + (fw - 1) // 2, y0 + fh // 2, y1 + (fh - 1) // 2)
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(x, f, up=2, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Upsample ``x`` by ``up`` with filter ``f``; the output is ``up`` times larger (plus padding).

    The gain is multiplied by ``up_x·up_y`` so that the signal keeps its amplitude.
    """
    f = check_filter(f, "f")
    ux, uy = as_factors(up, "up")
    fw, fh = _filter_hw(f)
    x0, x1, y0, y1 = as_padding(padding)
    pad = (
        x0 + (fw + ux - 1) // 2,
        x1 + (fw - ux) // 2,
        y0 + (fh + uy - 1) // 2,
        y1 + (fh - uy) // 2,
    )
    gain = as_float(gain, "gain", nonnegative=True)
    if not gain * ux * uy < math.inf:  # (the amplitude-keeping gain is derived from both)
        raise ValueError(f"gain·up_x·up_y must be finite, got gain={gain!r}, up={(ux, uy)}")
    gain = gain * ux * uy
    return upfirdn2d(x, f, up=(ux, uy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def downsample2d(x, f, down=2, padding=0, flip_filter=False, gain=1, impl="auto") -> torch.Tensor:
    """Filter ``x`` with ``f`` and keep every ``down``-th sample: ``down`` times smaller."""
    f = check_filter(f, "f")
    dx, dy = as_factors(down, "down")
    fw, fh = _filter_hw(f)
    x0, x1, y0, y1 = as_padding(padding)
    pad = (
        x0 + (fw - dx + 1) // 2,
        x1 + (fw - dx) // 2,
        y0 + (fh - dy + 1) // 2,
        y1 + (fh - dy) // 2,
    )
    return upfirdn2d(
        x, f, down=(dx, dy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl
    )
