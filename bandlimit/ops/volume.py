"""Volumes ``[N, C, D, H, W]`` (video, 3-D scans, voxel grids): upfirdn and the filtered
activations in 3-D, composed from the 2-D ops.

A separable filter acts along each axis on its own, and the axes' stages commute, so a 3-D
upfirdn is one 2-D upfirdn of every depth slice (the H/W axes) and one along the depth, run as
a 2-D op on the ``[N, C, D, H·W]`` view with a ``[taps, 1]`` filter (no copy of the volume).
The filtered activation needs its nonlinearity where all three axes are up-sampled::

    v = x + b                        depth up-sampled             [N, C, D_u, H, W]
    a = filtered_act(v) per slice    H/W up → act → H/W down       [N, C, D_u, H_out, W_out]
    y = a depth down-sampled                                       [N, C, D_out, H_out, W_out]

so its middle, the expensive part, is one fused 2-D kernel call on ``N·C·D_u`` planes; the
depth stages are linear upfirdn calls (the extension by the padding mode an index gather), which
keep nothing for autograd. Every backend of the 2-D ops runs them, with their autograd (any
order with 'ref').
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bandlimit._checks import check_bool
from bandlimit.ops import reference
from bandlimit.ops._complex import real_part
from bandlimit.ops._dispatch import HALF_DTYPES, resolve_impl
from bandlimit.ops._params import (
    Pad6,
    Triple,
    as_factors_3d,
    as_flips,
    as_float,
    as_padding_3d,
    check_bias,
    check_filter,
    check_fits_dtype,
    check_tensor,
    keep_memory_format,
    out_length,
    volume_out_size,
)
from bandlimit.ops.filtered import _act_args, _check_mode, _held_dtype, filtered_act
from bandlimit.ops.upfirdn import aligned_padding, upfirdn2d

_VOLUME = "[N, C, D, H, W]"
AxisFilters = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]
Filter3d = torch.Tensor | None | AxisFilters  # one for every axis, or one per axis (x, y, z)


def _acts_on_depth(f: torch.Tensor | None, up: int, down: int, p0: int, p1: int) -> bool:
    """Whether a depth stage changes anything (a filter, a factor or a padding along D)."""
    return f is not None or up != 1 or down != 1 or p0 != 0 or p1 != 0


def _depth_stage(
    x: torch.Tensor, f: torch.Tensor | None, up: int, down: int, p0: int, p1: int, mode: str,
    flip: bool, gain: float, impl: str,
) -> torch.Tensor:
    """upfirdn along the depth of ``x [N, C, D, H, W]`` (padding ``p0``/``p1`` in up-sampled
    samples, the extension by ``mode`` made at the input's rate first, as the 2-D op does): one
    2-D upfirdn on the ``[N, C, D, H·W]`` view with the ``[taps, 1]`` filter. Linear, so
    autograd keeps nothing of ``x`` (a filtered activation's 'linear' stage would)."""
    n, c, d, h, w = x.shape
    v = x.reshape(n, c, d, h * w)
    if mode != "zeros":
        v, (_, _, p0, p1) = reference.extend(v, (0, 0, p0, p1), (1, up), mode)
    if h * w == 0:  # slices without samples: only the depth's size changes
        taps = 1 if f is None else int(f.shape[0])
        return x.new_zeros(n, c, out_length(v.shape[2], up, down, p0, p1, taps), h, w)
    y = upfirdn2d(v, _column(f), (1, up), (1, down), (0, 0, p0, p1), flip, gain, impl)
    return y.reshape(n, c, y.shape[2], h, w)


def _per_slice(
    x: torch.Tensor, op: Callable[[torch.Tensor], torch.Tensor], channels: int, depth: int
) -> torch.Tensor:
    """``op`` (a 2-D op mapping ``channels·depth`` planes to ``C'·depth``) on every ``[H, W]``
    slice of ``x [N, channels, depth, H, W]``; returns ``[N, C', depth, H', W']``."""
    n = x.shape[0]
    y = op(x.reshape(n, channels * depth, *x.shape[-2:]))
    out_channels = channels if depth == 0 else y.shape[1] // depth
    return y.reshape(n, out_channels, depth, *y.shape[2:])


def _column(f: torch.Tensor | None) -> torch.Tensor | None:
    """A ``[taps]`` filter as the ``[taps, 1]`` 2-D filter that acts along y only."""
    return None if f is None else f[:, None]


def upfirdn3d(
    x: torch.Tensor,
    f: Filter3d,
    up: int | tuple[int, int, int] = 1,
    down: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of volumes, separably.

    :func:`~bandlimit.ops.upfirdn2d` with a third axis: along each of x = W, y = H and z = D,
    with ``up``/``down`` that axis's factors, ``p0``/``p1`` its padding and ``f`` the ``K``
    taps: insert ``up − 1`` zeros after every sample, pad with ``p0`` zeros before and ``p1``
    after (negative values crop), take the "valid" true convolution with ``f`` and keep every
    ``down``-th output sample, starting with the first. The 3-D filter is ``f[z]·f[y]·f[x]``
    (with one filter per axis, ``f_z[z]·f_y[y]·f_x[x]``). Every axis is filtered, also one
    whose factors are 1 (as :func:`~bandlimit.ops.upfirdn2d` does): pass ``(f, f, None)`` to
    leave the depth alone — a video's frames up-sampled along H and W only.

    Parameters
    ----------
    x : Tensor ``[N, C, D, H, W]``
        Floating point, or complex64/complex128 (the parts filtered alike). Devices and dtypes
        per backend as in :func:`~bandlimit.ops.upfirdn2d` ('numba': float16/bfloat16 computed
        in float32, rounded once). A channels_last_3d ``x`` gives a channels_last_3d result.
    f : Tensor ``[taps]``, None, or ``(f_x, f_y, f_z)``
        Real floating-point filter in true-convolution orientation (set ``flip_filter`` for
        correlation), applied along every axis; None is the identity; or one ``[taps]`` filter
        (or None: not filtered) per axis, x first. A filter that requires grad is learned: it
        gets its gradient on every backend.
    up, down : int or ``(x, y, z)``, default 1
        Integer factors in [1, 2**30]; an int applies to all three axes. Per axis
        x = W, y = H, z = D: the reverse of torch's ``(D, H, W)`` order (a blur-pool's ``stride``).
    padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, default 0
        Zeros added to the upsampled signal before filtering, in upsampled samples (the order of
        ``torch.nn.functional.pad``: the last axis first); negative values crop.
    flip_filter : bool, default False
        Correlate with ``f`` instead of convolving.
    gain : float ≥ 0, default 1
        Overall gain (``gain**(1/3)`` on each axis's pass; all of it on the H/W passes when
        nothing acts along D); ``gain = up_x·up_y·up_z`` with a unit-sum ``f`` keeps the level
        of a constant volume.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend of the 2-D stages (see :func:`~bandlimit.ops.set_default_impl`).

    Returns
    -------
    Tensor ``[N, C, D_out, H_out, W_out]``
        Per axis ``(L·up + p0 + p1 − taps) // down + 1``; same dtype and device as ``x``.

    Raises
    ------
    TypeError
        If ``x`` is neither floating point nor complex, ``f`` is complex or not floating point,
        or an argument has the wrong type.
    ValueError
        If ``x`` is not 5-D, ``f`` is not 1-D, a factor is outside [1, 2**30], a factor or
        padding has the wrong length, ``gain`` is negative, the output would be empty, or the
        requested backend cannot run on ``x``.

    Notes
    -----
    Two calls of :func:`~bandlimit.ops.upfirdn2d`: the depth pass on the ``[N, C, D, H·W]``
    view with the ``[taps, 1]`` filter, and the H/W pass on ``[N, C·D, H, W]``, the one that
    shrinks the data run first. Differentiable to any order with respect to ``x`` and ``f``,
    as :func:`~bandlimit.ops.upfirdn2d`.

    Examples
    --------
    2x upsampling of a volume with the binomial ``[1, 3, 3, 1]/8``; the gain ``2³`` keeps a
    constant's level away from the borders:

    >>> import torch
    >>> from bandlimit.ops import upfirdn3d
    >>> x = torch.ones(1, 2, 4, 6, 6)
    >>> y = upfirdn3d(x, torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8, up=2, padding=(2, 1) * 3,
    ...               gain=8)
    >>> y.shape
    torch.Size([1, 2, 8, 12, 12])
    >>> round(float(y[0, 0, 4, 6, 6]), 4)
    1.0
    """
    xr = check_tensor(real_part(x), "x", (5,), _VOLUME)
    fx, fy, fz = _axis_filters(f, "f", xr)  # (real: a complex one is not floating point)
    up3, down3 = as_factors_3d(up, "up"), as_factors_3d(down, "down")
    pad = as_padding_3d(padding)
    gain = as_float(gain, "gain", nonnegative=True)
    flip = check_bool("flip_filter", flip_filter)
    impl = resolve_impl(impl, xr, "upfirdn3d", {"f_x": fx, "f_y": fy, "f_z": fz})
    d, h, w = xr.shape[2:]
    out = volume_out_size((d, h, w), _taps((fx, fy, fz)), up3, down3, pad, "upfirdn3d")
    wide = impl == "numba" and xr.dtype in HALF_DTYPES
    if wide:
        fx, fy, fz = _widened((fx, fy, fz))
    fxy = _plane_filter(fx, fy)
    (ux, uy, uz), (dx, dy, dz) = up3, down3
    depth_stage = _acts_on_depth(fz, uz, dz, pad[4], pad[5])
    g = gain ** (1 / 3)
    plane_gain = g * g if depth_stage else gain  # (no depth pass: all the gain on the planes)

    def depth_pass(t: torch.Tensor) -> torch.Tensor:
        return _depth_stage(t, fz, uz, dz, pad[4], pad[5], "zeros", flip, g, impl)

    def plane_pass(t: torch.Tensor) -> torch.Tensor:
        def op(v: torch.Tensor) -> torch.Tensor:
            return upfirdn2d(v, fxy, (ux, uy), (dx, dy), pad[:4], flip, plane_gain, impl)

        return _per_slice(t, op, t.shape[1], t.shape[2])

    t = x.float() if wide else x
    if not depth_stage:
        y = plane_pass(t)
    elif h * w == 0 or out[0] * h * w > d * out[1] * out[2]:  # the pass that leaves less first
        y = depth_pass(plane_pass(t))
    else:
        y = plane_pass(depth_pass(t))
    return keep_memory_format(y.to(x.dtype) if wide else y, x)


def _axis_filters(f: object, name: str, x: torch.Tensor | None = None) -> AxisFilters:
    """``(f_x, f_y, f_z)``: one ``[taps]`` filter (or None) for every axis, or one per axis
    (x = W first; None: that axis is not filtered)."""
    if isinstance(f, (tuple, list)):
        if len(f) != 3:
            raise ValueError(f"{name} must be a [taps] tensor, None, or one of them per axis "
                             f"(f_x, f_y, f_z), got a sequence of length {len(f)}")  # fmt: skip
        fx, fy, fz = (_separable(g, f"{name}[{i}]", x, axis) for i, (g, axis)
                      in enumerate(zip(f, ("x (W)", "y (H)", "z (D)"))))  # fmt: skip
        return fx, fy, fz
    g = _separable(f, name, x)
    return g, g, g


def _widened(filters: AxisFilters) -> AxisFilters:
    """Half-precision filters in float32 (one filter shared by axes stays one): numba computes
    half precision in float32, rounded once, taps and gains included."""
    done: dict[int, torch.Tensor] = {}
    out = []
    for g in filters:
        if g is not None and g.dtype in HALF_DTYPES:
            g = done.setdefault(id(g), g.float())
        out.append(g)
    return out[0], out[1], out[2]


def _separable(
    f: object, name: str, x: torch.Tensor | None = None, axis: str | None = None
) -> torch.Tensor | None:
    """``f`` if it is a ``[taps]`` filter (or None): applied along ``axis``, or every axis."""
    if isinstance(f, torch.Tensor) and f.ndim != 1:
        where = f"the filter along {axis}" if axis else (
            "a separable filter, applied along D, H and W; setup_filter(..., separable=True) "
            "gives one")
        raise ValueError(f"{name} must have shape [taps] ({where}), got shape {tuple(f.shape)}")
    return check_filter(f, name, (1,), x)


def _taps(filters: AxisFilters) -> Triple:
    """Taps per axis, x first (1 for None)."""
    fx, fy, fz = (1 if g is None else int(g.shape[0]) for g in filters)
    return fx, fy, fz


def _plane_filter(fx: torch.Tensor | None, fy: torch.Tensor | None) -> torch.Tensor | None:
    """The 2-D op's filter for the H/W axes: the ``[taps]`` filter of both, one axis's as a
    ``[1, taps]`` / ``[taps, 1]`` filter, or the outer product ``[h, w]`` of two (formed in at
    least float32: the op rounds it once, to the dtype it computes in)."""
    if fx is fy:
        return fx
    if fx is None or fy is None:
        return fy[:, None] if fx is None else fx[None, :]  # type: ignore[index]
    dtype = torch.promote_types(torch.promote_types(fx.dtype, fy.dtype), torch.float32)
    return fy.to(dtype)[:, None] * fx.to(dtype)[None, :]


def filter3d(
    x: torch.Tensor,
    f: Filter3d,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Filter ``x [N, C, D, H, W]`` with ``f`` along every axis, the size kept (plus
    ``padding``): :func:`upfirdn3d` with ``K // 2`` zeros before and ``(K − 1) // 2`` after
    each axis, as :func:`~bandlimit.ops.filter2d`.

    Parameters
    ----------
    x : Tensor ``[N, C, D, H, W]``
        As in :func:`upfirdn3d`.
    f : Tensor ``[taps]``, None, or ``(f_x, f_y, f_z)``
        The separable filter, or one per axis (as in :func:`upfirdn3d`).
    padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, default 0
        Extra padding on top of the size-keeping one (negative values crop), x = W first.
    flip_filter, gain, impl
        As in :func:`upfirdn3d`.

    Returns
    -------
    Tensor ``[N, C, D + z0 + z1, H + y0 + y1, W + x0 + x1]``
        Same dtype and device as ``x``; differentiable as :func:`upfirdn3d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import filter3d, setup_filter
    >>> filter3d(torch.ones(1, 2, 4, 6, 6), setup_filter([1, 2, 1], separable=True)).shape
    torch.Size([1, 2, 4, 6, 6])
    """
    pad = aligned_padding(_taps(_axis_filters(f, "f")), (1, 1, 1), (1, 1, 1),
                          as_padding_3d(padding))
    return upfirdn3d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample3d(
    x: torch.Tensor,
    f: Filter3d,
    up: int | tuple[int, int, int] = 2,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Upsample ``x [N, C, D, H, W]`` by ``up`` with ``f``: ``up`` times larger along each axis
    (plus ``padding``), aligned with the input, as :func:`~bandlimit.ops.upsample2d`; the gain
    is multiplied by ``up_x·up_y·up_z`` so that a unit-sum filter keeps the level.

    Parameters
    ----------
    x : Tensor ``[N, C, D, H, W]``
        As in :func:`upfirdn3d`.
    f : Tensor ``[taps]``, None, or ``(f_x, f_y, f_z)``
        The separable interpolation filter (e.g. :func:`~bandlimit.ops.setup_filter` with
        ``separable=True``), or one per axis: ``(f, f, None)`` with ``up=(2, 2, 1)`` up-samples
        H and W and leaves the frames alone (``f`` alone would filter D too).
    up : int or ``(x, y, z)``, default 2
        Factors in [1, 2**30]; per axis x = W, y = H, z = D: the reverse of
        torch's ``(D, H, W)`` order (a blur-pool's ``stride``).
    padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, default 0
        Extra padding, in output samples, on top of the aligning one (negative values crop).
    flip_filter, gain, impl
        As in :func:`upfirdn3d` (``gain`` then multiplied by ``up_x·up_y·up_z``).

    Returns
    -------
    Tensor ``[N, C, D·up_z + z0 + z1, H·up_y + y0 + y1, W·up_x + x0 + x1]``
        Same dtype and device as ``x``; differentiable as :func:`upfirdn3d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import setup_filter, upsample3d
    >>> y = upsample3d(torch.ones(1, 2, 4, 6, 6), setup_filter([1, 3, 3, 1], separable=True))
    >>> y.shape, round(float(y[0, 0, 4, 6, 6]), 4)
    (torch.Size([1, 2, 8, 12, 12]), 1.0)
    """
    ups = as_factors_3d(up, "up")
    pad = aligned_padding(_taps(_axis_filters(f, "f")), ups, (1, 1, 1), as_padding_3d(padding))
    g = as_float(gain, "gain", nonnegative=True) * ups[0] * ups[1] * ups[2]
    if not g < float("inf"):
        raise ValueError(f"gain·up_x·up_y·up_z must be finite, got gain={gain!r}, up={ups}")
    return upfirdn3d(x, f, up=ups, padding=pad, flip_filter=flip_filter, gain=g, impl=impl)


def downsample3d(
    x: torch.Tensor,
    f: Filter3d,
    down: int | tuple[int, int, int] = 2,
    padding: int | tuple[int, ...] = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "auto",
) -> torch.Tensor:
    """Filter ``x [N, C, D, H, W]`` with ``f`` and keep every ``down``-th sample along each
    axis: ``down`` times smaller, aligned with the input, as
    :func:`~bandlimit.ops.downsample2d`.

    Parameters
    ----------
    x : Tensor ``[N, C, D, H, W]``
        As in :func:`upfirdn3d`.
    f : Tensor ``[taps]``, None, or ``(f_x, f_y, f_z)``
        The separable anti-aliasing filter, or one per axis (``(f, f, None)`` with
        ``down=(2, 2, 1)``: H and W only).
    down : int or ``(x, y, z)``, default 2
        Factors in [1, 2**30]; per axis x = W, y = H, z = D: the reverse of
        torch's ``(D, H, W)`` order (a blur-pool's ``stride``).
    padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, default 0
        Extra padding, in input samples, on top of the aligning one (negative values crop).
    flip_filter, gain, impl
        As in :func:`upfirdn3d`.

    Returns
    -------
    Tensor ``[N, C, (D + z0 + z1) // down_z, (H + y0 + y1) // down_y, (W + x0 + x1) // down_x]``
        Same dtype and device as ``x``; differentiable as :func:`upfirdn3d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import downsample3d, setup_filter
    >>> y = downsample3d(torch.ones(1, 2, 8, 12, 12), setup_filter([1, 3, 3, 1], separable=True))
    >>> y.shape, round(float(y[0, 0, 2, 3, 3]), 4)
    (torch.Size([1, 2, 4, 6, 6]), 1.0)
    """
    downs = as_factors_3d(down, "down")
    pad = aligned_padding(_taps(_axis_filters(f, "f")), (1, 1, 1), downs, as_padding_3d(padding))
    return upfirdn3d(x, f, down=downs, padding=pad, flip_filter=flip_filter, gain=gain,
                     impl=impl)  # fmt: skip


def _volume_act(
    act: Callable[[torch.Tensor], torch.Tensor], channels: int, depth: int, widened: bool
):
    """``act`` for the 2-D op's ``[N, C·depth, H_u, W_u]`` planes, called on the volume
    ``[N, C, depth, H_u, W_u]`` it is (a module may mix channels): the user's layout.
    ``widened``: half precision computed in float32 (numba), so a module whose own tensors are
    half precision gets its input in their dtype (as the 2-D op does)."""
    held = _held_dtype(act) if widened else None
    label = type(act).__name__ if isinstance(act, torch.nn.Module) else getattr(
        act, "__name__", type(act).__name__)

    def on_volume(u: torch.Tensor) -> torch.Tensor:
        n = u.shape[0]
        u5 = u.reshape(n, channels, depth, *u.shape[2:])
        if held in HALF_DTYPES and u5.dtype != held:  # (a module refuses mixed dtypes)
            u5 = u5.to(held)
        a = act(u5)
        if (not isinstance(a, torch.Tensor) or a.ndim != 5 or a.shape[0] != n
                or a.shape[2:] != u5.shape[2:]):  # fmt: skip
            got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
            raise ValueError(
                f"act must return a tensor of its input's batch and samples (element-wise, or "
                f"changing the channels only): {label} returned {got} for the up-sampled "
                f"volume of shape {tuple(u5.shape)}"
            )
        return a.to(u.dtype).reshape(n, -1, *u.shape[2:])

    on_volume.__name__ = label
    return on_volume


def filtered_act3d(
    x: torch.Tensor,
    act: str | Callable[[torch.Tensor], torch.Tensor],
    fu: Filter3d = None,
    fd: Filter3d = None,
    b: torch.Tensor | None = None,
    up: int | tuple[int, int, int] = 1,
    down: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, ...] = 0,
    padding_mode: str = "zeros",
    gain: float | None = None,
    clamp: float | None = None,
    alpha: float | torch.Tensor | None = None,
    beta: float | torch.Tensor | None = None,
    flip_filter: bool | tuple[bool, bool] = False,
    impl: str = "auto",
    *,
    down_padding: int | tuple[int, ...] = 0,
) -> torch.Tensor:
    """:func:`~bandlimit.ops.filtered_act` on volumes ``x [N, C, D, H, W]``: bias, upsample,
    any nonlinearity, clamp, downsample, with separable filters along all three axes.

    Per channel, with ``E`` the extension by ``padding_mode`` along each axis::

        v = x + b
        u = upfirdn3d(E(v), fu, up, padding)          (gain up_x·up_y·up_z carried by fu)
        a = clamp(act(u; alpha, beta) · gain, −clamp, clamp)
        y = upfirdn3d(E(a), fd, down, down_padding)

    Parameters
    ----------
    x : Tensor ``[N, C, D, H, W]``
        Floating point; devices and dtypes per backend as in :func:`~bandlimit.ops.filtered_act`
        ('numba': float16/bfloat16 computed in float32, rounded once).
    act : str or callable
        A name of :func:`~bandlimit.ops.filtered_act` (fused with the H/W stages), or any
        callable mapping the up-sampled ``[N, C, D_u, H_u, W_u]`` volume to one of the same
        batch and size (element-wise, or changing the channels only); not fused.
    fu, fd : Tensor ``[taps]``, None, or ``(f_x, f_y, f_z)``, default None
        Separable up- and down-sampling filters, applied along every axis (true-convolution
        orientation unless ``flip_filter``); None is the identity; or one filter (or None) per
        axis, x first: ``(f, f, None)`` with factors ``(2, 2, 1)`` is an alias-free activation
        of every frame, the depth left alone. A filter that requires grad is learned.
    b : Tensor ``[C]`` or None, default None
        Bias added first.
    up, down : int or ``(x, y, z)``, default 1
        Factors in [1, 2**30]; an int applies to all three axes. Per axis
        x = W, y = H, z = D: the reverse of torch's ``(D, H, W)`` order (a blur-pool's ``stride``).
    padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, default 0
        Padding of the upsampled volume before ``fu``, in upsampled samples (negative crops).
    padding_mode : {'zeros', 'replicate', 'circular'}, default 'zeros'
        As in :func:`~bandlimit.ops.filtered_act`, along each axis.
    gain, clamp, alpha, beta, flip_filter, impl
        As in :func:`~bandlimit.ops.filtered_act` (``alpha``/``beta`` of snake and snakebeta:
        ``[C]`` tensors or numbers).
    down_padding : int, ``(px, py, pz)`` or ``(x0, x1, y0, y1, z0, z1)``, keyword-only
        Padding of the activated volume before ``fd``, with the same ``padding_mode``;
        default 0.

    Returns
    -------
    Tensor ``[N, C, D_out, H_out, W_out]``
        Per axis, ``L_u = L·up + p0 + p1 − K_u + 1`` and ``L_out = (L_u + d0 + d1 − K_d) //
        down + 1``; same dtype and device as ``x`` (channels_last_3d in, channels_last_3d out).

    Raises
    ------
    TypeError
        As :func:`~bandlimit.ops.filtered_act` (an argument of the wrong type).
    ValueError
        As :func:`~bandlimit.ops.filtered_act` (a wrong value, shape or device, an empty output,
        a backend that cannot run on ``x``); also a filter that is not ``[taps]``.

    Notes
    -----
    Three stages: the depth up-sampling (an :func:`~bandlimit.ops.upfirdn2d` call on the
    ``[N, C, D, H·W]`` view with the ``[taps, 1]`` filter, after the bias and the depth
    extension), :func:`~bandlimit.ops.filtered_act` — H/W up-sampling → activation → H/W
    down-sampling, fused — on every depth slice of the depth-up-sampled volume, and the depth
    down-sampling; exact, since the separable stages along different axes commute. Memory held
    for autograd: 'numba' and 'ref' keep the 2-D op's input, ``up_z`` times the input (2.0×,
    3.0×, 4.0× measured for factors 2, 3, 4 with a named activation; 'ref' recomputes the
    up-sampled signal in its backward, where autograd through its PyTorch ops held 37–51× at
    factors 2); 'cuda' a 2-bit mask (linear, relu, lrelu) or the float32 up-sampled
    pre-activation (the other activations: ``up_x·up_y·up_z`` times the input's samples); an
    unfused callable ``act``, on any backend, the up-sampled volume it is called on (18× at
    factors 2 on numba).
    Gradients flow to ``x``, ``b``, tensor ``alpha``/``beta`` and filters that require grad; to
    any order with 'ref'.

    Examples
    --------
    Leaky ReLU on a 3-D feature map, 2x up and down with a 12-tap Kaiser low-pass:

    >>> import torch
    >>> from bandlimit.filters import lowpass
    >>> from bandlimit.ops import filtered_act3d
    >>> f = lowpass(12, cutoff=8, width=8, fs=32)
    >>> x = torch.randn(1, 4, 6, 8, 8)
    >>> y = filtered_act3d(x, "lrelu", f, f, up=2, down=2, padding=(6, 5) * 3,
    ...                    padding_mode="replicate", down_padding=(5, 6) * 3)
    >>> y.shape
    torch.Size([1, 4, 6, 8, 8])
    """
    x = check_tensor(x, "x", (5,), _VOLUME)
    spec, alpha, beta, gain = _act_args(act, alpha, beta, gain, x)
    fus, fds = _axis_filters(fu, "fu", x), _axis_filters(fd, "fd", x)
    b = check_bias(b, x.shape[1], x.device)
    up3, down3 = as_factors_3d(up, "up"), as_factors_3d(down, "down")
    pad, dpad = as_padding_3d(padding), as_padding_3d(down_padding, "down_padding")
    mode = _check_mode(padding_mode, x)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    filters = {f"{n}_{a}": g for n, gs in (("fu", fus), ("fd", fds)) for a, g in zip("xyz", gs)}
    impl = resolve_impl(impl, x, "filtered_act3d",
                        {"b": b, "alpha": alpha, "beta": beta, **filters})  # fmt: skip
    flips = as_flips(flip_filter)
    ones = (1, 1, 1)
    ku, kd = _taps(fus), _taps(fds)
    d, h, w = x.shape[2:]
    sizes = volume_out_size((d, h, w), ku, up3, ones, pad, "filtered_act3d (fu)")
    volume_out_size(sizes, kd, ones, down3, dpad, "filtered_act3d (fd)", "down_padding",
                    "up-sampled volume")
    wide = impl == "numba" and x.dtype in HALF_DTYPES  # float32 throughout, rounded once
    if wide:
        fus, fds = _widened(fus), _widened(fds)
    y = _filtered_act3d(
        x.float() if wide else x, act, fus, fds, b, up3, down3, pad,
        dpad, mode, gain, clamp, alpha, beta, flips, impl, callable_act=spec is None,
        widened=wide,
    )
    return keep_memory_format(y.to(x.dtype) if wide else y, x)


def _filtered_act3d(
    x: torch.Tensor, act: Any, fu: AxisFilters, fd: AxisFilters,
    b: torch.Tensor | None, up: Triple, down: Triple, pad: Pad6, dpad: Pad6, mode: str,
    gain: float, clamp: float | None, alpha: Any, beta: Any, flips: tuple[bool, bool],
    impl: str, callable_act: bool, widened: bool,
) -> torch.Tensor:
    (ux, uy, uz), (dx, dy, dz) = up, down
    c = x.shape[1]
    if _acts_on_depth(fu[2], uz, 1, pad[4], pad[5]):
        if b is not None:
            x = x + b.to(x.dtype).reshape(1, -1, 1, 1, 1)
            b = None
        x = _depth_stage(x, fu[2], uz, 1, pad[4], pad[5], mode, flips[0], float(uz), impl)
    depth = x.shape[2]
    fu_xy, fd_xy = _plane_filter(fu[0], fu[1]), _plane_filter(fd[0], fd[1])
    if b is not None:  # (no depth stage: the bias per slice)
        b = b.repeat_interleave(depth)
    if callable_act:  # (it carries its own parameters)
        act, alpha, beta = _volume_act(act, c, depth, widened), None, None
    else:  # per-channel parameters, per slice
        alpha, beta = (p.repeat_interleave(depth) if isinstance(p, torch.Tensor) else p
                       for p in (alpha, beta))  # fmt: skip
    a = _per_slice(x, lambda v: filtered_act(
        v, act, fu_xy, fd_xy, b, up=(ux, uy), down=(dx, dy), padding=pad[:4], padding_mode=mode,
        gain=gain, clamp=clamp, alpha=alpha, beta=beta, flip_filter=flips,
        down_padding=dpad[:4], impl=impl), c, depth)
    if _acts_on_depth(fd[2], 1, dz, dpad[4], dpad[5]):
        a = _depth_stage(a, fd[2], 1, dz, dpad[4], dpad[5], mode, flips[1], 1.0, impl)
    return a
