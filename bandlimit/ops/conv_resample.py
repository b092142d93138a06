"""A 2-D convolution with FIR up- and down-sampling around it: StyleGAN2's ``conv2d_resample``.

With ``u``/``d`` the factors, ``f`` the FIR filter and ``w`` the convolution weight, the op is
defined as three stages, padded once, at the start::

    a = upfirdn2d(x, f if u > 1 else None, up=u, padding=P, gain=u²)    zero insertion, FIR
    b = conv2d(a, w, groups)                                            "valid" (no padding)
    y = upfirdn2d(b, f, down=d) if d > 1 else b                         FIR, keep every d-th

where ``P`` is the caller's padding (in up-sampled samples) plus, along each axis with a K-tap
filter, the pads that keep the resampled image aligned with its input: ``((K + u − 1)//2,
(K − u)//2)`` for up-sampling and ``((K − d + 1)//2, (K − d)//2)`` for down-sampling. These are
the semantics of StyleGAN2-ADA's and StyleGAN3's ``conv2d_resample``, on which their synthesis
and discriminator layers (and the projects built on them) rely.

The stages are linear and shift-invariant, so they commute; the op runs them in the order that
does the least work (each an exact rewriting of the definition, any padding sign):

- ``u > 1``: ``conv_transpose2d(x, w, stride=u)`` is the zero-inserted input convolved with the
  weight, at ``1/u²`` of the multiply-adds of a convolution on the up-sampled image; the FIR
  filter follows, its padding moved by the weight's size.
- ``d > 1``: the FIR filter at the input's rate, then a stride-``d`` convolution (the weight's
  work at the low rate); a 1×1 weight commutes with the down-sampling itself, so the FIR runs
  polyphase and the weight at the low rate.
- ``u = d = 1``: the padding (or crop) and ``conv2d``; ``f`` is not used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bandlimit._checks import check_bool, check_int
from bandlimit.ops._dispatch import resolve_impl
from bandlimit.ops._params import (
    MAX_PLANE,
    as_factors,
    as_padding,
    check_filter,
    check_tensor,
    out_length,
)
from bandlimit.ops.upfirdn import _filter_hw, aligned_padding, upfirdn2d

_WEIGHT = "[C_out, C_in / groups, kh, kw]"


def _stage_lengths(length: int, up: int, down: int, p0: int, p1: int, taps: int, k: int):
    """Along one axis: the length after the up-sampling stage, after the convolution and of
    the output (the definition's three stages)."""
    after_up = out_length(length, up, 1, p0, p1, taps if up > 1 else 1)
    after_conv = after_up - k + 1
    return after_up, after_conv, out_length(after_conv, 1, down, 0, 0, taps if down > 1 else 1)


def _check_weight(x: torch.Tensor, w: object, groups: int) -> torch.Tensor:
    w = check_tensor(w, "w", (4,), _WEIGHT)
    if w.dtype != x.dtype:
        raise TypeError(f"w must have x's dtype {x.dtype}, got {w.dtype}")
    if w.device != x.device:
        raise ValueError(f"w must be on x's device {x.device}, got {w.device}")
    c_out, c_in_g = int(w.shape[0]), int(w.shape[1])
    if c_out % groups != 0:
        raise ValueError(
            f"w's output channels ({c_out}, w.shape[0]) must be a multiple of groups={groups}"
        )
    if c_in_g * groups != x.shape[1]:
        raise ValueError(
            f"w has {c_in_g} input channels per group (w.shape[1]), so with groups={groups} x "
            f"must have {c_in_g * groups} channels, got x of shape {tuple(x.shape)}"
        )
    if min(w.shape) < 1:
        raise ValueError(f"w must not be empty, got shape {tuple(w.shape)}")
    return w


def _transposed(w: torch.Tensor, groups: int) -> torch.Tensor:
    """``w [C_out, C_in/g, kh, kw]`` as ``conv_transpose2d``'s ``[C_in, C_out/g, kh, kw]``."""
    c_out, c_in_g, kh, kw = w.shape
    w = w.reshape(groups, c_out // groups, c_in_g, kh, kw).transpose(1, 2)
    return w.reshape(groups * c_in_g, c_out // groups, kh, kw)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, ...] = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
    impl: str = "auto",
) -> torch.Tensor:
    """2-D convolution with optional FIR up- and down-sampling (StyleGAN2's ``conv2d_resample``).

    Defined as three stages, the padding applied once, before the first (see the module
    docstring): up-sample ``x`` by ``up`` (zero insertion) and filter it with ``f`` at gain
    ``up²``; convolve with ``w`` ("valid"); filter with ``f`` and keep every ``down``-th
    sample. ``f`` takes part in a stage only if that stage's factor is above 1. Along each axis,
    ``padding`` gets the aligning pads of :func:`~bandlimit.ops.upsample2d` (``up > 1``) and of
    :func:`~bandlimit.ops.downsample2d` (``down > 1``) added, so that with a "same" padding
    (``kernel_size // 2``) the output is ``up/down`` times the input's size, aligned with it.

    Parameters
    ----------
    x : Tensor ``[N, C_in, H, W]``
        Floating point; any device and dtype that ``torch.nn.functional.conv2d`` supports
        (the FIR stages: those of :func:`~bandlimit.ops.upfirdn2d` for ``impl``).
    w : Tensor ``[C_out, C_in / groups, kh, kw]``
        Convolution weight, same dtype and device as ``x``.
    f : Tensor ``[taps]``, Tensor ``[h, w]`` or None, default None
        FIR filter as :func:`~bandlimit.ops.upfirdn2d` takes it (e.g. from
        :func:`~bandlimit.ops.setup_filter`; a unit-sum filter keeps the level); None is the
        identity (one tap: the up-sampling is plain zero insertion times ``up²``).
    up, down : int, default 1
        Up- and down-sampling factors in [1, 2**30], the same along both axes.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Zeros added around the up-sampled image before the convolution, in up-sampled samples
        (negative values crop), on top of the aligning pads.
    groups : int ≥ 1, default 1
        As in ``torch.nn.functional.conv2d``: ``C_in`` and ``C_out`` split in ``groups``
        groups, each convolved with its own weights (StyleGAN's modulated convolution folds the
        batch into the groups).
    flip_weight : bool, default True
        True: cross-correlation with ``w`` (``torch.nn.functional.conv2d``); False: true
        convolution (the weight reversed along both axes).
    flip_filter : bool, default False
        Correlate with ``f`` instead of convolving (as in :func:`~bandlimit.ops.upfirdn2d`).
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend of the FIR stages; the convolutions are PyTorch's.

    Returns
    -------
    Tensor ``[N, C_out, H_out, W_out]``
        Along each axis (``L`` the input length, ``p0``/``p1`` the padding with the aligning
        pads added, ``K`` the filter's taps, ``k`` the weight's):
        ``L1 = L·up + p0 + p1 − (K if up > 1 else 1) + 1``, ``L2 = L1 − k + 1``, and the output
        ``(L2 − K) // down + 1`` if ``down > 1``, else ``L2``. Same dtype and device as ``x``.

    Raises
    ------
    TypeError
        If ``x``, ``w`` or ``f`` is not a floating-point tensor, ``w``'s dtype is not ``x``'s,
        or an argument has the wrong type.
    ValueError
        If a shape is wrong (``w``'s channels against ``x``'s and ``groups``), a factor is
        outside [1, 2**30], ``w`` is on another device, a stage's output would be empty, or
        ``impl`` cannot run on ``x``.

    Notes
    -----
    Built from :func:`~bandlimit.ops.upfirdn2d` and PyTorch's convolutions: differentiable to
    any order with respect to ``x``, ``w`` and a filter that requires grad, on every backend,
    and traceable by ``torch.compile`` and ``torch.export``.

    Examples
    --------
    A StyleGAN2 synthesis layer's 2× up-sampling 3×3 convolution and a discriminator's 2×
    down-sampling one, with the [1, 3, 3, 1] filter; both keep the image aligned:

    >>> import torch
    >>> from bandlimit.ops import conv2d_resample, setup_filter
    >>> f = setup_filter([1, 3, 3, 1])
    >>> x, w = torch.randn(2, 8, 16, 16), torch.randn(4, 8, 3, 3)
    >>> conv2d_resample(x, w, f, up=2, padding=1).shape
    torch.Size([2, 4, 32, 32])
    >>> conv2d_resample(x, w, f, down=2, padding=1).shape
    torch.Size([2, 4, 8, 8])
    """
    x = check_tensor(x, "x", (4,), "[N, C_in, H, W]")
    groups = check_int("groups", groups, 1)
    w = _check_weight(x, w, groups)
    f = check_filter(f, "f", x=x)
    if isinstance(up, (tuple, list)) or isinstance(down, (tuple, list)):
        raise TypeError(
            f"up and down must be ints (the same factor along both axes), got up={up!r}, "
            f"down={down!r}; use upfirdn2d for different factors per axis"
        )
    u, d = as_factors(up, "up")[0], as_factors(down, "down")[0]
    pad: tuple[int, ...] = as_padding(padding)
    flip_weight = check_bool("flip_weight", flip_weight)
    flip_filter = check_bool("flip_filter", flip_filter)
    impl = resolve_impl(impl, x, "conv2d_resample", {"f": f})

    fw, fh = _filter_hw(f)
    if u > 1:  # the aligning pads of each resampling stage, added to the caller's
        pad = aligned_padding((fw, fh), (u, u), (1, 1), pad)
    if d > 1:
        pad = aligned_padding((fw, fh), (1, 1), (d, d), pad)
    kh, kw = int(w.shape[2]), int(w.shape[3])
    h, w_in = x.shape[2], x.shape[3]  # (symbolic under torch.export's dynamic shapes: kept so)
    (ux, cx, ox), (uy, cy, oy) = (_stage_lengths(w_in, u, d, pad[0], pad[1], fw, kw),
                                  _stage_lengths(h, u, d, pad[2], pad[3], fh, kh))
    planes = [ux * uy, cx * cy, ox * oy]
    if u > 1:  # the transposed convolution's plane, before the FIR crops it
        planes.append(((w_in - 1) * u + kw) * ((h - 1) * u + kh))
    if any(isinstance(s, int) and s < 1 for s in (ux, uy, cx, cy, ox, oy)) or any(
        isinstance(s, int) and s > MAX_PLANE for s in planes
    ):
        raise ValueError(
            f"conv2d_resample: the output would be {oy}x{ox} (H x W; {cy}x{cx} after the "
            f"convolution) for x of {h}x{w_in}, w of {kh}x{kw}, filter {fh}x{fw} taps, up={u}, "
            f"down={d}, padding {tuple(pad)} (x0, x1, y0, y1, the aligning pads included); "
            f"expected at least 1x1 and at most {MAX_PLANE} samples per plane at every stage"
        )

    wr = w if flip_weight else w.flip([2, 3])  # the weight in correlation form
    if u > 1:
        # conv_transpose2d convolves the zero-inserted x with its kernel, i.e. correlates it
        # with the kernel reversed: hand it wr reversed. The FIR then sees the weight's output,
        # which starts k - 1 samples earlier and ends u - k samples later than its input did.
        y = F.conv_transpose2d(x, _transposed(wr.flip([2, 3]), groups), stride=u, groups=groups)
        q = (pad[0] - (kw - 1), pad[1] - kw + u, pad[2] - (kh - 1), pad[3] - kh + u)
        y = upfirdn2d(y, f, padding=q, flip_filter=flip_filter, gain=u * u, impl=impl)
        if d > 1:
            y = upfirdn2d(y, f, down=d, flip_filter=flip_filter, impl=impl)
        return y
    if d > 1:
        if kh == kw == 1:
            y = upfirdn2d(x, f, down=d, padding=tuple(pad), flip_filter=flip_filter, impl=impl)
            return F.conv2d(y, wr, groups=groups)
        y = upfirdn2d(x, f, padding=tuple(pad), flip_filter=flip_filter, impl=impl)
        return F.conv2d(y, wr, stride=d, groups=groups)
    x0, x1, y0, y1 = pad
    if x0 == x1 >= 0 and y0 == y1 >= 0:
        return F.conv2d(x, wr, padding=(y0, x0), groups=groups)
    x = F.pad(x, tuple(max(p, 0) for p in pad))  # pad first: a crop may reach into the pads
    return F.conv2d(F.pad(x, tuple(min(p, 0) for p in pad)), wr, groups=groups)
