"""Fused filtered activation (upfirdn → activation → upfirdn) and its first-order backward.

Per ``[H, W]`` plane (bias already chosen per channel)::

    v = x + b
    u = upfirdn(v, fu, up, pad)                  # only the [hr, wr] samples the down stage reads
    a = clamp(act(u) · gain, −clamp, clamp)
    y = upfirdn(a, fd, down)

The forward can save, per read sample of ``u``, a 2-bit branch code (pass / negative side /
clamped), packed 4 per byte: that mask is all the backward needs, since the supported activations
are piecewise linear. The backward is the transposed pipeline
``dv = T_up(act'(mask) · gain ⊙ T_down(dy))``, where each transposed stage is an upfirdn with the
reversed filter, ``up' = down``, ``down' = up`` and ``p0' = K − 1 − p0``.

Every other activation (and the padding modes, and ``down_padding``) runs through
:func:`filtered_act_any_forward` / :func:`filtered_act_any_backward`: the same fused pipeline
without a mask; the backward recomputes ``u`` from ``x`` in the same pass (see ``_kernel``).

Mask layout: ``mask[p, i]`` holds the codes of samples ``i, i+nq, i+2nq, i+3nq`` (bits 0–1, 2–3,
4–5, 6–7; ``nq = ceil(hr·wr / 4)``) of the compact order "row ``y``, then the ``x % L`` phases of
the row one after the other" (``L = lcm(up_x, down_x)``). Only the backward reads it.
"""

from __future__ import annotations

import numpy as np

from bandlimit.ops._numba._core import ACT_LINEAR, ACT_LRELU, ACT_RELU
from bandlimit.ops._numba._kernel import (
    MODE_BACKWARD,
    MODE_FORWARD,
    MODE_RECOMPUTE,
    Launch,
    launch,
    prepared,
    rows_per_group,
    taps_key,
)
from bandlimit.ops._numba._plan import identity_y, plan_filtered, plan_recompute, y_moves_nothing
from bandlimit.ops._numba._smooth import ACT_SNAKEBETA, EXT_CIRCULAR, EXT_NONE, EXT_REPLICATE


def _fir_parts(f):
    """``(fx, fy, f2d)`` → ``(full, (kw, kh), flat coefficients)``."""
    fx, fy, f2d = f
    if f2d is not None:
        return True, (f2d.shape[1], f2d.shape[0]), f2d.ravel()
    return False, (fx.shape[0], fy.shape[0]), np.concatenate([fx, fy])


def _fir_parts_reversed(f):
    fx, fy, f2d = f
    if f2d is not None:
        return True, (f2d.shape[1], f2d.shape[0]), f2d[::-1, ::-1].ravel()
    return False, (fx.shape[0], fy.shape[0]), np.concatenate([fx[::-1], fy[::-1]])


def mask_shape(planes, hu, wu, ho, wo, fd_size, down) -> tuple[int, int]:
    """Shape of the saved mask: ``(planes, ceil(hr·wr / 4))`` with ``hr = (ho − 1)·down_y + kh``
    and ``wr = (wo − 1)·down_x + kw`` the part of the up-sampled ``[hu, wu]`` image the down stage
    reads (``fd_size = (kw, kh)``)."""
    hr = (ho - 1) * down[1] + fd_size[1]
    wr = (wo - 1) * down[0] + fd_size[0]
    return planes, (hr * wr + 3) // 4


def _norm(up, down, pad):
    return (int(up[0]), int(up[1])), (int(down[0]), int(down[1])), tuple(int(v) for v in pad)


def _skip_y(fu, fd, up, down, pad) -> bool:
    """Both stages' y filters are the identity with taps of exactly 1 (1-D signals): the plans
    leave the y stages out (:func:`._plan.identity_y`)."""
    return (
        fu[2] is None
        and fd[2] is None
        and identity_y(fu[1].shape[0], up, down, pad, fu[1])
        and identity_y(fd[1].shape[0], up, down, pad, fd[1])
    )


def _rows_stack(h, ku, kd, fu_full, fd_full, up, down, pad, dpad=(0, 0, 0, 0)) -> bool:
    """Planes of one row whose y stages are all the identity (1-D signals): the kernel may stack
    them as the rows of one plane (:func:`._kernel.rows_per_group`)."""
    return (
        h == 1
        and not (fu_full or fd_full)
        and kd[1] == 1
        and y_moves_nothing(ku[1], up, down, pad)
        and dpad[2] == dpad[3] == 0
    )


def filtered_act_forward(
    x, bias, C, fu, fd, up, down, pad, gain, act, alpha, clamp, save_mask, alloc=np.empty
):
    """Fused ``upfirdn(fu, up, pad) → clamp(act(·) · gain) → upfirdn(fd, down)`` of every plane.

    Parameters
    ----------
    x : ndarray ``[P, H, W]``, float32 or float64, C-contiguous (``P = N·C`` planes).
    bias : ndarray ``[C]`` of ``x``'s dtype or None; plane ``p`` adds ``bias[p % C]`` first.
    C : int, channels (only used with ``bias``).
    fu, fd : ``(fx, fy, f2d)`` filters in correlation form (separable: ``fx [kw]``, ``fy [kh]``,
        ``f2d`` None; full: ``f2d [kh, kw]``). ``fu`` includes the up-sampling gain.
    up, down : ``(x, y)`` factors of the up stage and of the down stage.
    pad : ``(x0, x1, y0, y1)`` padding of the up stage (negative crops).
    gain, alpha, clamp : float; ``clamp = inf`` for none.
    act : int, one of ``ACT_LINEAR``, ``ACT_RELU``, ``ACT_LRELU``.
    save_mask : bool, also return the branch mask for :func:`filtered_act_backward`.
    alloc : ``(shape, dtype) -> ndarray``, allocates the output (C-contiguous); ``np.empty``.

    Returns
    -------
    (y ``[P, Ho, Wo]``, mask ``uint8 [P, ceil(hr·wr/4)]`` or None).
    """
    if act not in (ACT_LINEAR, ACT_RELU, ACT_LRELU):
        raise ValueError(f"act must be one of the ACT_* codes (0, 1, 2), got {act!r}")
    g = _prepared_masked(x.shape, x.dtype, fu, fd, up, down, pad, False)
    nplanes, h, w = x.shape
    ho, wo = g.out_hw
    y = alloc((nplanes, ho, wo), x.dtype)
    mask = np.empty((nplanes, g.nq), np.uint8) if save_mask else None
    if nplanes == 0:
        return y, mask
    launch(
        MODE_FORWARD,
        x.reshape(nplanes, h * w),
        y.reshape(nplanes, ho * wo),
        g,
        np.array([gain, alpha, clamp, 0.0], x.dtype),
        bias=None if bias is None else np.ascontiguousarray(bias, dtype=x.dtype),
        nchan=max(int(C), 1),
        mask=mask,
        save=bool(save_mask),
        act=int(act),
    )
    return y, mask


def _prepared_masked(shape, dtype, fu, fd, up, down, pad, transposed) -> Launch:
    """:func:`_masked_geometry`, memoised (:func:`._kernel.prepared`)."""
    return prepared(
        lambda nthreads: _masked_geometry(shape, dtype, fu, fd, up, down, pad, nthreads,
                                          transposed),
        "masked", transposed, shape, dtype.str, taps_key(*fu), taps_key(*fd), tuple(up),
        tuple(down), tuple(pad),
    )


def _masked_geometry(shape, dtype, fu, fd, up, down, pad, nthreads, transposed) -> Launch:
    """The :class:`Launch` of :func:`filtered_act_forward` (``transposed``: of
    :func:`filtered_act_backward`, whose ``shape`` is the input's)."""
    nplanes, h, w = shape
    up, down, pad = _norm(up, down, pad)
    parts = _fir_parts_reversed if transposed else _fir_parts
    fu_full, ku, fu_c = parts(fu)
    fd_full, kd, fd_c = parts(fd)
    geo = (w, ku, kd, fu_full, fd_full, up, down, pad, transposed, False,
           _skip_y(fu, fd, up, down, pad))
    plan, hr, wr, ho, wo = plan_filtered(h, *geo)
    stack = _rows_stack(h, ku, kd, fu_full, fd_full, up, down, pad)
    rows = rows_per_group(nplanes, stack, plan.size, dtype.itemsize, nthreads)
    if rows > 1:
        plan = plan_filtered(rows, *geo)[0]
    tcoef = np.ascontiguousarray(np.concatenate([fu_c, fd_c])[plan.tidx], dtype=dtype)
    sizes = (ho, wo, h, w) if transposed else (h, w, ho, wo)
    dims = (*sizes, hr, wr, 0, 0, hr, wr, EXT_NONE, 0, 0, 0, 0, 0, 0, EXT_NONE)
    return Launch(plan, rows, tcoef, dims, (ho, wo), nthreads, (hr * wr + 3) // 4)


def filtered_act_backward(
    dy, mask, x_shape_hw, fu, fd, up, down, pad, gain, act, alpha, alloc=np.empty
):
    """Vector-Jacobian product of :func:`filtered_act_forward` w.r.t. ``v = x + b``.

    ``dy [P, Ho, Wo]`` contiguous, ``mask`` from the forward (``save_mask=True``), ``x_shape_hw``
    ``(H, W)``; other arguments (``alloc``: for ``dx``) as in the forward. Returns
    ``dx [P, H, W]`` of ``dy``'s dtype
    (``db`` is its sum over the planes of each channel and over H, W).
    """
    if act not in (ACT_LINEAR, ACT_RELU, ACT_LRELU):
        raise ValueError(f"act must be one of the ACT_* codes (0, 1, 2), got {act!r}")
    nplanes = dy.shape[0]
    h, w = int(x_shape_hw[0]), int(x_shape_hw[1])
    g = _prepared_masked((nplanes, h, w), dy.dtype, fu, fd, up, down, pad, True)
    ho, wo = g.out_hw
    if dy.shape[1:] != (ho, wo):
        raise ValueError(f"dy must have shape [P, {ho}, {wo}], got {list(dy.shape)}")
    if mask.shape != (nplanes, g.nq):
        raise ValueError(f"mask must have shape {(nplanes, g.nq)}, got {mask.shape}")
    dx = alloc((nplanes, h, w), dy.dtype)
    if nplanes == 0:
        return dx
    slope = 1.0 if act == ACT_LINEAR else (0.0 if act == ACT_RELU else alpha)
    launch(
        MODE_BACKWARD,
        dy.reshape(nplanes, ho * wo),
        dx.reshape(nplanes, h * w),
        g,
        np.array([gain, gain * slope, 0.0, 0.0], dy.dtype),
        mask=np.ascontiguousarray(mask),
    )
    return dx


# ------------------------------------------------------------------------------------------------
# Every activation, with the down stage's padding of the activated signal (any mode)


def _geometry(h, w, ku, kd, pad, dpad, up, down, emode):
    """Padding of the fused plan and the computed region of its activation buffer.

    The down stage's padding ``dpad`` is folded into the up stage's (``pad + dpad``): the up stage
    then computes the whole padded signal's index range, and with ``emode`` the samples outside
    the real up-sampled image ``[hu, wu]`` are overwritten by its extension (after the
    activation: the act is pointwise, so extending ``act(u)`` equals ``act`` of the extension).
    """
    full = emode != EXT_NONE
    pad2 = tuple(p + d for p, d in zip(pad, dpad)) if full else pad
    hu = h * up[1] + pad[2] + pad[3] - ku[1] + 1
    wu = w * up[0] + pad[0] + pad[1] - ku[0] + 1
    ry0, rx0 = max(dpad[2], 0), max(dpad[0], 0)
    rh = hu + min(dpad[2], 0) + min(dpad[3], 0)
    rw = wu + min(dpad[0], 0) + min(dpad[1], 0)
    return full, pad2, (ry0, rx0, rh, rw)


def _params(pa, pb, act, dtype):
    """The snake parameters as the kernel reads them (None: not used)."""
    a = None if pa is None else np.ascontiguousarray(pa, dtype=dtype)
    b = np.ascontiguousarray(pb, dtype=dtype) if act == ACT_SNAKEBETA else None
    return a, b


def _extension(pad, up, mode):
    """``(ext, rest)``: input samples ``(x0, x1, y0, y1)`` that a replicate / circular ``mode``
    adds on each side (at the input's rate, then zero-inserted), and the remaining upfirdn padding
    (a crop in ``(−up, 0]``); ``((0, 0, 0, 0), pad)`` for zeros."""
    if mode not in (EXT_REPLICATE, EXT_CIRCULAR):
        return (0, 0, 0, 0), pad
    ups = (up[0], up[0], up[1], up[1])
    ext = tuple(-(-max(p, 0) // u) for p, u in zip(pad, ups))
    return ext, tuple(p - e * u for p, e, u in zip(pad, ext, ups))


def filtered_act_any_forward(
    x, bias, C, fu, fd, up, down, pad, dpad, mode, gain, act, alpha, pa, pb, clamp, alloc=np.empty
):
    """Fused forward of any activation (an ``ACT_ALL_CODES`` value), no state saved.

    Arguments as :func:`filtered_act_forward`, plus ``dpad (x0, x1, y0, y1)``: the down stage's
    padding of the activated signal; ``mode``: an ``EXT_CODES`` value, what both paddings hold
    (zeros, or the signal extended by replicate / circular: the input at its own rate before
    zero insertion, the activated signal at the up-sampled rate); ``pa``, ``pb``: per-channel
    snake α / snakebeta β ``[C]`` (or None; plane ``p`` uses channel ``p % C``), ``alpha`` the
    lrelu slope; ``alloc`` as in :func:`filtered_act_forward`. Returns ``y [P, Ho, Wo]``.
    """
    g = _prepared_any(x.shape, x.dtype, fu, fd, up, down, pad, dpad, mode, False)
    nplanes, h0, w0 = x.shape
    ho, wo = g.out_hw
    y = alloc((nplanes, ho, wo), x.dtype)
    if nplanes == 0:
        return y
    pa_, pb_ = _params(pa, pb, act, x.dtype)
    launch(
        MODE_FORWARD,
        x.reshape(nplanes, h0 * w0),
        y.reshape(nplanes, ho * wo),
        g,
        np.array([gain, alpha, clamp, 0.0], x.dtype),
        bias=None if bias is None else np.ascontiguousarray(bias, dtype=x.dtype),
        nchan=max(int(C), 1),
        act=int(act),
        pa=pa_,
        pb=pb_,
    )
    return y


def _prepared_any(shape, dtype, fu, fd, up, down, pad, dpad, mode, recompute) -> Launch:
    """:func:`_any_geometry`, memoised (:func:`._kernel.prepared`)."""
    return prepared(
        lambda nthreads: _any_geometry(shape, dtype, fu, fd, up, down, pad, dpad, mode,
                                       nthreads, recompute),
        "any", recompute, shape, dtype.str, taps_key(*fu), taps_key(*fd), tuple(up),
        tuple(down), tuple(pad), tuple(dpad), mode,
    )


def _any_geometry(shape, dtype, fu, fd, up, down, pad, dpad, mode, nthreads, recompute) -> Launch:
    """The :class:`Launch` of :func:`filtered_act_any_forward` (``recompute``: of
    :func:`filtered_act_any_backward`; ``shape`` is the input's either way)."""
    nplanes, h0, w0 = shape
    up, down, pad = _norm(up, down, pad)
    dpad = tuple(int(v) for v in dpad)
    (ex0, ex1, ey0, ey1), pad = _extension(pad, up, mode)
    umode = mode if ex0 or ex1 or ey0 or ey1 else EXT_NONE
    emode = mode if any(dpad) else EXT_NONE
    h, w = h0 + ey0 + ey1, w0 + ex0 + ex1
    fu_full, ku, fu_c = _fir_parts(fu)
    fd_full, kd, fd_c = _fir_parts(fd)
    full, pad2, region = _geometry(h, w, ku, kd, pad, dpad, up, down, emode)
    skip = _skip_y(fu, fd, up, down, pad2)
    stack = _rows_stack(h, ku, kd, fu_full, fd_full, up, down, pad2, dpad)
    geo: tuple  # the planner's arguments after h (each planner has its own)
    if recompute:
        geo = (w, ku, kd, fu_full, fd_full, up, down, pad2, full, skip)
        plan, jr, gfin, gfmid, tidx_f, hr, wr, ho, wo = plan_recompute(h, *geo)
        rows = rows_per_group(nplanes, stack, plan.size, dtype.itemsize, nthreads)
        if rows > 1:
            plan, jr, gfin, gfmid, tidx_f = plan_recompute(rows, *geo)[:5]
        _, _, fur = _fir_parts_reversed(fu)
        _, _, fdr = _fir_parts_reversed(fd)
        taps = [np.concatenate([fur, fdr])[plan.tidx], np.concatenate([fu_c, fd_c])[tidx_f]]
        tcoef = np.ascontiguousarray(np.concatenate(taps), dtype=dtype)
        sizes, extra = (ho, wo, h0, w0), (gfin, gfmid, jr)
    else:
        geo = (w, ku, kd, fu_full, fd_full, up, down, pad2, False, full, skip)
        plan, hr, wr, ho, wo = plan_filtered(h, *geo)
        rows = rows_per_group(nplanes, stack, plan.size, dtype.itemsize, nthreads)
        if rows > 1:
            plan = plan_filtered(rows, *geo)[0]
        tcoef = np.ascontiguousarray(np.concatenate([fu_c, fd_c])[plan.tidx], dtype=dtype)
        sizes, extra = (h0, w0, ho, wo), None
    if not full:
        region = (0, 0, hr, wr)
    hf, wf = (h0, w0) if recompute else (0, 0)
    dims = (*sizes, hr, wr, *region, emode, hf, wf, h, w, ey0, ex0, umode)
    return Launch(plan, rows, tcoef, dims, (ho, wo), nthreads, recompute=extra)


def filtered_act_any_backward(
    dy, x, bias, C, fu, fd, up, down, pad, dpad, mode, gain, act, alpha, pa, pb, clamp,
    alloc=np.empty,
):  # fmt: skip
    """Vector-Jacobian product of :func:`filtered_act_any_forward`, recomputing ``u`` from ``x``.

    Returns ``(dv [P, H, W], dpar float64 [P, 2])``: the gradient w.r.t. ``v = x + b`` and, per
    plane, ``Σ dy·∂y/∂α`` and ``Σ dy·∂y/∂β`` (snake, snakebeta; zeros otherwise), which the
    caller sums over the planes of each channel.
    """
    g = _prepared_any(x.shape, x.dtype, fu, fd, up, down, pad, dpad, mode, True)
    nplanes, h0, w0 = x.shape
    ho, wo = g.out_hw
    if dy.shape[1:] != (ho, wo):
        raise ValueError(f"dy must have shape [P, {ho}, {wo}], got {list(dy.shape)}")
    dx = alloc((nplanes, h0, w0), x.dtype)
    dpar = np.zeros((max(nplanes, 1), 2))
    if nplanes == 0:
        return dx, dpar[:0]
    pa_, pb_ = _params(pa, pb, act, x.dtype)
    launch(
        MODE_RECOMPUTE,
        np.ascontiguousarray(dy, dtype=x.dtype).reshape(nplanes, ho * wo),
        dx.reshape(nplanes, h0 * w0),
        g,
        np.array([gain, alpha, clamp, 0.0], x.dtype),
        xf=x.reshape(nplanes, h0 * w0),
        bias=None if bias is None else np.ascontiguousarray(bias, dtype=x.dtype),
        nchan=max(int(C), 1),
        act=int(act),
        pa=pa_,
        pb=pb_,
        dpar=dpar,
    )
    return dx, dpar
