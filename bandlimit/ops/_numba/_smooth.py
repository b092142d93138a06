"""Numba building blocks of the fused path for *every* activation (smooth and parametric ones,
padding modes of the activated signal).

* Forward: :func:`act_fwd_any` applies ``clamp(act(u) · gain)`` to the samples of the activation
  buffer, one phase-plane row segment at a time with the branch on the act code outside the
  element loops; :func:`extend_act` then writes the down stage's padding of the activated signal
  (zeros / replicate / circular) around the computed region.
* Backward (nothing of the forward stored): the kernel recomputes ``u`` with the forward plan's
  up-stage jobs, :func:`fold_ext` applies the adjoint of the extension to ``g = T_down(dy)``, and
  :func:`act_bwd_any` multiplies ``g`` by ``gain · act'(u)`` (zero where ``|act(u)·gain| >
  clamp``), accumulating ``Σ g·gain·∂act/∂α`` and ``∂act/∂β`` for the plane, and zeroes every
  other position so the transposed up stage sees exact zero padding.

Snake's ``sin``/``cos`` use :func:`sincos`, a branch-free float64 polynomial (Cody–Waite reduction
by π/2, fdlibm's kernel coefficients, ≈ 1 ulp for ``|t| < 2^20·π/2``) that LLVM vectorises; libm's
``sin`` would be a scalar call per sample and dominate the op.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from bandlimit.ops._numba._core import ACT_LINEAR, ACT_LRELU, ACT_RELU, JIT, inline_helper
from bandlimit.ops._numba._fastmath import (
    cdf2_t,
    exp_t,
    expm1_t,
    gauss_t,
    log1p_t,
    snake_sc32,
    tanh_t,
)

ACT_TANH = 3
ACT_SIGMOID = 4
ACT_ELU = 5
ACT_SELU = 6
ACT_SOFTPLUS = 7
ACT_SWISH = 8
ACT_GELU = 9
ACT_GELU_TANH = 10
ACT_SNAKE = 11
ACT_SNAKEBETA = 12

# every activation of the filtered ops (``silu`` is ``swish``)
ACT_ALL_CODES = {
    "linear": ACT_LINEAR,
    "relu": ACT_RELU,
    "lrelu": ACT_LRELU,
    "tanh": ACT_TANH,
    "sigmoid": ACT_SIGMOID,
    "elu": ACT_ELU,
    "selu": ACT_SELU,
    "softplus": ACT_SOFTPLUS,
    "swish": ACT_SWISH,
    "silu": ACT_SWISH,
    "gelu": ACT_GELU,
    "gelu_tanh": ACT_GELU_TANH,
    "snake": ACT_SNAKE,
    "snakebeta": ACT_SNAKEBETA,
}

# extension of the activated signal before the down stage
EXT_NONE = 0
EXT_ZEROS = 1
EXT_REPLICATE = 2
EXT_CIRCULAR = 3
EXT_CODES = {"zeros": EXT_ZEROS, "replicate": EXT_REPLICATE, "circular": EXT_CIRCULAR}

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
GELU_K = math.sqrt(2.0 / math.pi)
GELU_C = 0.044715
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
SNAKE_EPS = 1e-9

# π/2 in three parts of 33 bits (k·part exact for |k| < 2^20), and fdlibm's kernel coefficients
TWO_OVER_PI = 6.36619772367581382433e-01
PIO2_1 = 1.57079632673412561417e00
PIO2_2 = 6.07710050630396597660e-11
PIO2_3 = 2.02226624871116645580e-21
S1 = -1.66666666666666324348e-01
S2 = 8.33333333332248946124e-03
S3 = -1.98412698298579493134e-04
S4 = 2.75573137070700676789e-06
S5 = -2.50507602534068634195e-08
S6 = 1.58969099521155010221e-10
C1 = 4.16666666666666019037e-02
C2 = -1.38888888888741095749e-03
C3 = 2.48015872894767294178e-05
C4 = -2.75573143513906633035e-07
C5 = 2.08757232129817482790e-09
C6 = -1.13596475577881948265e-11

# A reduced argument lies in [−π/4, π/4] while k·(π/2) is exact enough; beyond (huge |t|) it is
# clamped just outside, where the polynomials are still accurate to a few ulp and bounded.
R_MAX = 0.8
F_R_MAX = np.float32(R_MAX)

# The reduction's order of subtractions must stay as written: no reassociation here.
_EXACT = {k: v for k, v in JIT.items() if k not in ("cache", "fastmath")}


@register_jitable(fastmath={"contract", "nsz"}, **_EXACT)
def sincos(t):
    """``(sin t, cos t)`` in float64 without branches (vectorisable)."""
    k = np.floor(t * TWO_OVER_PI + 0.5)
    r = t - k * PIO2_1
    r = r - k * PIO2_2
    r = r - k * PIO2_3
    if abs(r) > R_MAX:  # |t| ≳ 2^52: the reduction is inexact; keep the polynomials bounded
        r = math.copysign(R_MAX, r)  # (a NaN r fails the test and stays NaN)
    z = r * r
    sp = r + r * z * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)))))
    cp = 1.0 - 0.5 * z + z * z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))))
    q = k - 4.0 * np.floor(k * 0.25)  # quadrant 0…3
    s = sp
    c = cp
    if q == 1.0:
        s = cp
        c = -sp
    if q == 2.0:
        s = -sp
        c = -cp
    if q == 3.0:
        s = -cp
        c = sp
    return s, c


# float32: π/2 in three parts (8, 11, full bits; k·part exact for |k| < 2^16) and Cephes' sinf/cosf
# kernel coefficients (≈ 1 ulp of float32 on [−π/4, π/4]).
F_PIO2_1 = np.float32(1.5703125)
F_PIO2_2 = np.float32(4.837512969970703125e-4)
F_PIO2_3 = np.float32(7.54978995489188216e-8)
F_TWO_OVER_PI = np.float32(TWO_OVER_PI)
FS1 = np.float32(-1.6666654611e-1)
FS2 = np.float32(8.3321608736e-3)
FS3 = np.float32(-1.9515295891e-4)
FC1 = np.float32(4.166664568298827e-2)
FC2 = np.float32(-1.388731625493765e-3)
FC3 = np.float32(2.443315711809948e-5)
F_HALF = np.float32(0.5)
F_ONE = np.float32(1.0)
F_QUARTER = np.float32(0.25)
F_FOUR = np.float32(4.0)


@register_jitable(fastmath={"contract", "nsz"}, **_EXACT)
def sincos32(t):
    """:func:`sincos` in float32 (twice the vector width), for float32 signals."""
    k = np.floor(t * F_TWO_OVER_PI + F_HALF)
    r = t - k * F_PIO2_1
    r = r - k * F_PIO2_2
    r = r - k * F_PIO2_3
    if abs(r) > F_R_MAX:  # as in sincos: bounded beyond the exact reduction, NaN stays NaN
        r = math.copysign(F_R_MAX, r)
    z = r * r
    sp = r + r * z * (FS1 + z * (FS2 + z * FS3))
    cp = F_ONE - F_HALF * z + z * z * (FC1 + z * (FC2 + z * FC3))
    q = k - F_FOUR * np.floor(k * F_QUARTER)
    s = sp
    c = cp
    if q == 1:
        s = cp
        c = -sp
    if q == 2:
        s = -sp
        c = -cp
    if q == 3:
        s = -cp
        c = sp
    return s, c


def sincos_t(t):
    """``(sin t, cos t)`` in ``t``'s precision (float32 or float64)."""
    return math.sin(t), math.cos(t)


@overload(sincos_t, inline="always")
def _sincos_t(t):
    if t == types.float32:
        return lambda t: sincos32(t)
    return lambda t: sincos(t)


def snake_sc_t(t):
    """``(s, c)`` with ``s² = sin² t`` and ``2sc = sin 2t`` (all the snake activations use), in
    ``t``'s precision: float32 reduces by π (:func:`._fastmath.snake_sc32`, no quadrant
    selects), float64 is :func:`sincos` (``s, c = sin t, cos t``)."""
    return math.sin(t), math.cos(t)


@overload(snake_sc_t, inline="always")
def _snake_sc_t(t):
    if t == types.float32:
        return lambda t: snake_sc32(t)
    return lambda t: sincos(t)


def cast_like(v, like):
    """``v`` converted to the (scalar) type of ``like``."""
    return type(like)(v)


@overload(cast_like, inline="always")
def _cast_like(v, like):
    ty = like
    return lambda v, like: ty(v)


# ------------------------------------------------------------------------------------------------
# The smooth activations and their derivatives, in the precision of ``v`` (constants are cast to
# it: a float64 literal would promote float32 arithmetic to float64). exp/erf/tanh go through the
# ``*_t`` dispatchers of :mod:`._fastmath` (vectorisable float32 code, libm for float64); every
# branch is a select on values computed for all lanes, so the element loops vectorise.
# ``forceinline`` (LLVM ``alwaysinline``): inlined into the element loops whatever their size, which
# vectorisation needs; numba-level inlining (``inline="always"``) would trip over the selects.
_act_fn = register_jitable(forceinline=True, **{k: v for k, v in JIT.items() if k != "cache"})


@_act_fn
def _tanh(v):
    return tanh_t(v)


@_act_fn
def _dtanh(v):
    # 1 − tanh² = 4e / (1 + e)², e = e^{−2|v|}: no cancellation where tanh → ±1
    e = exp_t(-abs(v) - abs(v))
    r = cast_like(1.0, v) + e
    return cast_like(4.0, v) * e / (r * r)


@_act_fn
def _sigmoid(v):
    one = cast_like(1.0, v)
    return one / (one + exp_t(-v))


@_act_fn
def _dsigmoid(v):
    # σ(1 − σ) = e / (1 + e)², e = e^{−|v|} (even; 1 − σ would cancel for large v)
    e = exp_t(-abs(v))
    r = cast_like(1.0, v) + e
    return e / (r * r)


@_act_fn
def _elu(v):
    e = expm1_t(v)  # computed for every lane: a call on one side of the select blocks it
    return v if v > 0 else e


@_act_fn
def _delu(v):
    e = exp_t(v)
    return e if v <= 0 else cast_like(1.0, v)  # NaN: the positive branch, as PyTorch's


@_act_fn
def _selu(v):
    a = cast_like(SELU_ALPHA, v) * expm1_t(v)
    return cast_like(SELU_SCALE, v) * (v if v > 0 else a)


@_act_fn
def _dselu(v):
    a = cast_like(SELU_ALPHA, v) * exp_t(v)
    return cast_like(SELU_SCALE, v) * (a if v <= 0 else cast_like(1.0, v))  # NaN: positive


@_act_fn
def _softplus(v):
    # log(1 + e^v) = max(v, 0) + log1p(e^{−|v|}) (no overflow); v itself above 20 (PyTorch's
    # threshold)
    lp = log1p_t(exp_t(-abs(v)))
    s = (v if v > 0 else cast_like(0.0, v)) + lp
    return v if v > 20 else s


@_act_fn
def _dsoftplus(v):
    one = cast_like(1.0, v)
    return one if v > 20 else _sigmoid(v)  # above the threshold softplus is v itself


@_act_fn
def _swish(v):
    return v * _sigmoid(v)


@_act_fn
def _dswish(v):
    # σ + v·σ(1 − σ) = σ·(1 + v·σ(−v)), both σ(±v) from e = e^{−|v|} without cancellation
    one = cast_like(1.0, v)
    e = exp_t(-abs(v))
    r = one / (one + e)
    sp = r if v > 0 else e * r
    sn = e * r if v > 0 else r
    return sp * (one + v * sn)


@_act_fn
def _gelu(v):
    return cast_like(0.5, v) * v * cdf2_t(v)


@_act_fn
def _dgelu(v):
    return cast_like(0.5, v) * cdf2_t(v) + v * gauss_t(v) * cast_like(INV_SQRT2PI, v)


@_act_fn
def _gelu_z(v):
    return cast_like(GELU_K, v) * (v + cast_like(GELU_C, v) * v * v * v)


@_act_fn
def _gelu_tanh(v):
    # ½v(1 + tanh z) = v·σ(2z): no cancellation for v → −∞
    one = cast_like(1.0, v)
    z = _gelu_z(v)
    return v / (one + exp_t(-z - z))


@_act_fn
def _dgelu_tanh(v):
    # ½(1 + t) + ½v(1 − t²)·z′ with 1 + t = 2σ(2z), 1 − t² = 4σ(2z)σ(−2z) = 4e/(1 + e)²
    one = cast_like(1.0, v)
    z = _gelu_z(v)
    s = one / (one + exp_t(-z - z))
    e = exp_t(-abs(z) - abs(z))
    r = one + e
    dz = cast_like(GELU_K, v) * (one + cast_like(3.0 * GELU_C, v) * v * v)
    return s + cast_like(2.0, v) * v * (e / (r * r)) * dz


@inline_helper
def act_value(v, act, al, inv):
    """``act(v)`` for one sample (``al``: lrelu slope or snake α; ``inv = 1/(α or β + ε)``)."""
    if act == ACT_LINEAR:
        return v
    if act == ACT_RELU:
        return 0.0 if v < 0 else v
    if act == ACT_LRELU:
        return v * al if v < 0 else v
    if act == ACT_TANH:
        return _tanh(v)
    if act == ACT_SIGMOID:
        return _sigmoid(v)
    if act == ACT_ELU:
        return _elu(v)
    if act == ACT_SELU:
        return _selu(v)
    if act == ACT_SOFTPLUS:
        return _softplus(v)
    if act == ACT_SWISH:
        return _swish(v)
    if act == ACT_GELU:
        return _gelu(v)
    if act == ACT_GELU_TANH:
        return _gelu_tanh(v)
    s, _ = snake_sc_t(al * v)
    return v + s * s * cast_like(inv, v)


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def _fwd_seg(seg, n, act, gain, al, inv, clamp):
    """``seg ← clamp(act(seg) · gain)``; one element loop per activation."""
    if act == ACT_TANH:
        for i in range(n):
            seg[i] = _tanh(seg[i]) * gain
    elif act == ACT_SIGMOID:
        for i in range(n):
            seg[i] = _sigmoid(seg[i]) * gain
    elif act == ACT_ELU:
        for i in range(n):
            seg[i] = _elu(seg[i]) * gain
    elif act == ACT_SELU:
        for i in range(n):
            seg[i] = _selu(seg[i]) * gain
    elif act == ACT_SOFTPLUS:
        for i in range(n):
            seg[i] = _softplus(seg[i]) * gain
    elif act == ACT_SWISH:
        for i in range(n):
            seg[i] = _swish(seg[i]) * gain
    elif act == ACT_GELU:
        for i in range(n):
            seg[i] = _gelu(seg[i]) * gain
    elif act == ACT_GELU_TANH:
        for i in range(n):
            seg[i] = _gelu_tanh(seg[i]) * gain
    elif act == ACT_SNAKE or act == ACT_SNAKEBETA:
        invt = cast_like(inv, gain)
        for i in range(n):
            v = seg[i]
            s, _ = snake_sc_t(al * v)
            seg[i] = (v + s * s * invt) * gain
    else:  # linear, relu, lrelu
        for i in range(n):
            seg[i] = act_value(seg[i], act, al, inv) * gain
    if clamp < np.inf:
        for i in range(n):
            a = seg[i]
            a = clamp if a > clamp else a
            seg[i] = -clamp if a < -clamp else a


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def act_fwd_any(buf, geom, h, w, ry0, rx0, rh, rw, act, gain, al, inv, clamp):
    """``a = clamp(act(u) · gain)`` in place on the region ``[ry0, +rh) × [rx0, +rw)`` of the
    ``[h, w]`` samples of buffer ``geom`` (the rest is the down stage's padding, which
    :func:`extend_act` overwrites: no activation is spent on it)."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(ry0, ry0 + rh):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x
        for fx in range(min(phx, w)):
            # samples x = fx + phx·i of the region: i in [i0, i1)
            i0 = max((rx0 - fx + phx - 1) // phx, 0)
            i1 = max((rx0 + rw - fx + phx - 1) // phx, i0)
            s0 = rb + fx * psz
            _fwd_seg(buf[s0 + i0 : s0 + i1], i1 - i0, act, gain, al, inv, clamp)


@inline_helper
def pos(geom, y, x):
    """Scratch index of sample ``(y, x)`` of buffer ``geom``."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    return (
        base
        + ((y % phy) * phx + x % phx) * rows * stride
        + (y // phy - t0y) * stride
        + x // phx
        - t0x
    )


@inline_helper
def _src(i, r0, rn, emode):
    """The sample of the region ``[r0, r0 + rn)`` that extended position ``i`` copies."""
    if emode == EXT_REPLICATE:
        return min(max(i, r0), r0 + rn - 1)
    return r0 + (i - r0) % rn


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def _row_ext(buf, geom, y, x0, x1, r0, rn, emode, fold):
    """Positions ``x0 … x1−1`` of row ``y`` copy the sample of ``[r0, r0 + rn)`` that
    :func:`_src` names (``fold``: add onto it instead, the adjoint). Both positions advance
    phase by phase, without the two divisions per sample of :func:`pos`."""
    if x1 <= x0:
        return
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x
    fx, ix = x0 % phx, x0 // phx
    s = _src(x0, r0, rn, emode)
    fs, js = s % phx, s // phx
    for _ in range(x1 - x0):
        if fold:
            buf[rb + fs * psz + js] += buf[rb + fx * psz + ix]
        else:
            buf[rb + fx * psz + ix] = buf[rb + fs * psz + js]
        fx += 1
        if fx == phx:
            fx = 0
            ix += 1
        if emode == EXT_CIRCULAR:  # (replicate repeats one edge sample)
            s += 1
            fs += 1
            if fs == phx:
                fs = 0
                js += 1
            if s == r0 + rn:
                s = r0
                fs, js = r0 % phx, r0 // phx


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def _zero_outside(buf, geom, h, w, ry0, rx0, rh, rw, zero):
    """Zero the ``[h, w]`` samples outside ``[ry0, +rh) × [rx0, +rw)``, one contiguous phase-plane
    row segment at a time (a per-sample :func:`pos` costs two divisions per sample)."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x
        inside = ry0 <= y < ry0 + rh
        for fx in range(min(phx, w)):
            cnt = (w - fx + phx - 1) // phx
            i0 = min(max((rx0 - fx + phx - 1) // phx, 0), cnt) if inside else cnt
            i1 = min(max((rx0 + rw - fx + phx - 1) // phx, i0), cnt) if inside else cnt
            s0 = rb + fx * psz
            buf[s0 : s0 + i0] = zero
            buf[s0 + i1 : s0 + cnt] = zero


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def extend_act(buf, geom, h, w, ry0, rx0, rh, rw, emode, zero):
    """Fill the ``[h, w]`` samples outside the computed region ``[ry0, +rh) × [rx0, +rw)`` with
    its extension by ``emode`` (along x within the region's rows first, then whole rows)."""
    if emode == EXT_ZEROS:
        _zero_outside(buf, geom, h, w, ry0, rx0, rh, rw, zero)
        return
    for y in range(ry0, ry0 + rh):
        _row_ext(buf, geom, y, 0, rx0, rx0, rw, emode, False)
        _row_ext(buf, geom, y, rx0 + rw, w, rx0, rw, emode, False)
    for y in range(h):
        if ry0 <= y < ry0 + rh:
            continue
        ys = _src(y, ry0, rh, emode)
        for x in range(w):
            buf[pos(geom, y, x)] = buf[pos(geom, ys, x)]


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def fold_ext(buf, geom, h, w, ry0, rx0, rh, rw, emode):
    """Adjoint of :func:`extend_act` (replicate / circular): add the gradient at every extended
    position onto the sample it copies (rows first, then along x within the region's rows)."""
    if emode != EXT_REPLICATE and emode != EXT_CIRCULAR:
        return
    for y in range(h):
        if ry0 <= y < ry0 + rh:
            continue
        ys = _src(y, ry0, rh, emode)
        for x in range(w):
            buf[pos(geom, ys, x)] += buf[pos(geom, y, x)]
    for y in range(ry0, ry0 + rh):
        _row_ext(buf, geom, y, 0, rx0, rx0, rw, emode, True)
        _row_ext(buf, geom, y, rx0 + rw, w, rx0, rw, emode, True)


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def _bwd_seg(gs, us, n, act, gain, al, inv, clamp, acc):
    """``gs ← gs · gain · act'(us)`` (0 where ``|act(us)·gain| > clamp``); ``acc[0..1] +=``
    ``Σ gs·gain·∂act/∂α``, ``Σ gs·gain·∂act/∂β`` (snake, snakebeta).

    Those sums run inside the element loop (with the select-free float32 :func:`snake_sc_t` it
    still vectorises; a separate pass over stored terms was 25 % slower).
    """
    if clamp < np.inf:
        for i in range(n):
            if abs(act_value(us[i], act, al, inv) * gain) > clamp:
                gs[i] = 0
    if act == ACT_LINEAR:
        for i in range(n):
            gs[i] = gs[i] * gain
    elif act == ACT_RELU or act == ACT_LRELU:
        lo = gain * al if act == ACT_LRELU else gain * 0
        for i in range(n):
            gs[i] = gs[i] * (lo if us[i] < 0 else gain)
    elif act == ACT_TANH:
        for i in range(n):
            gs[i] = gs[i] * gain * _dtanh(us[i])
    elif act == ACT_SIGMOID:
        for i in range(n):
            gs[i] = gs[i] * gain * _dsigmoid(us[i])
    elif act == ACT_ELU:
        for i in range(n):
            gs[i] = gs[i] * gain * _delu(us[i])
    elif act == ACT_SELU:
        for i in range(n):
            gs[i] = gs[i] * gain * _dselu(us[i])
    elif act == ACT_SOFTPLUS:
        for i in range(n):
            gs[i] = gs[i] * gain * _dsoftplus(us[i])
    elif act == ACT_SWISH:
        for i in range(n):
            gs[i] = gs[i] * gain * _dswish(us[i])
    elif act == ACT_GELU:
        for i in range(n):
            gs[i] = gs[i] * gain * _dgelu(us[i])
    elif act == ACT_GELU_TANH:
        for i in range(n):
            gs[i] = gs[i] * gain * _dgelu_tanh(us[i])
    else:  # snake, snakebeta: ∂/∂u = 1 + α·sin(2αu)·inv
        invt = cast_like(inv, gain)
        one = cast_like(1.0, gain)
        two = cast_like(2.0, gain)
        # per-segment sums in the signal's precision (vector lanes), accumulated in float64: a
        # float64 accumulator in the loop stops it vectorising (3× slower), and so, here, does a
        # blocked loop
        da = cast_like(0.0, gain)
        db = cast_like(0.0, gain)
        if act == ACT_SNAKE:
            for i in range(n):
                v = us[i]
                s, c = snake_sc_t(al * v)
                gg = gs[i] * gain
                s2 = two * s * c * invt
                gs[i] = gg * (one + al * s2)
                da += gg * (v * s2 - s * s * invt * invt)
        else:
            for i in range(n):
                v = us[i]
                s, c = snake_sc_t(al * v)
                gg = gs[i] * gain
                s2 = two * s * c * invt
                gs[i] = gg * (one + al * s2)
                da += gg * v * s2
                db += gg * s * s
        acc[0] += da
        if act == ACT_SNAKEBETA:
            acc[1] -= db * invt * invt


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def act_bwd_any(buf, geom, ubuf, ugeom, h, w, ry0, rx0, rh, rw, act, gain, al, inv, clamp, acc):
    """``g ← g · gain · act'(u)`` on the region ``[ry0, +rh) × [rx0, +rw)`` of the ``[h, w]``
    samples of buffer ``geom`` (``u`` in ``ugeom``, same phases); every other position of its rows
    (and every row outside the region) is zeroed."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    ubase, _, _, urows, ustride, ut0y, ut0x = ugeom
    psz = rows * stride
    upsz = urows * ustride
    zero = buf[0] * 0
    for y in range(h):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride
        urb = ubase + (y % phy) * phx * upsz + (y // phy - ut0y) * ustride - ut0x
        inside = ry0 <= y < ry0 + rh
        for fx in range(phx):
            r0 = rb + fx * psz
            # samples x = fx + phx·i of the region: i in [i0, i1)
            i0 = max((rx0 - fx + phx - 1) // phx, 0) if fx < w else 0
            i1 = max((rx0 + rw - fx + phx - 1) // phx, i0) if fx < w and inside else i0
            buf[r0 : r0 - t0x + i0] = zero
            n = i1 - i0
            if n > 0:
                u0 = urb + fx * upsz + i0
                _bwd_seg(
                    buf[r0 - t0x + i0 : r0 - t0x + i1],
                    ubuf[u0 : u0 + n],
                    n,
                    act,
                    gain,
                    al,
                    inv,
                    clamp,
                    acc,
                )
            buf[r0 - t0x + i1 : r0 + stride] = zero


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def stage_at(src, h, w, add, buf, geom, oy, ox):
    """Scatter the natural plane ``src [h·w]`` (+ ``add``) into buffer ``geom`` as its samples
    ``[oy, oy + h) × [ox, ox + w)`` (the rest is the extension, see :func:`extend_act`)."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        yy = y + oy
        rb = base + (yy % phy) * phx * psz + (yy // phy - t0y) * stride - t0x
        sv = src[y * w : y * w + w]
        if phx == 1:
            dst = buf[rb + ox : rb + ox + w]
            for i in range(w):
                dst[i] = sv[i] + add
        else:
            for i in range(w):
                xx = i + ox
                buf[rb + (xx % phx) * psz + xx // phx] = sv[i] + add


@register_jitable(**{k: v for k, v in JIT.items() if k != "cache"})
def gather_at(buf, geom, h, w, dst, oy, ox):
    """Gather the samples ``[oy, oy + h) × [ox, ox + w)`` of buffer ``geom`` into ``dst [h·w]``."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        yy = y + oy
        rb = base + (yy % phy) * phx * psz + (yy // phy - t0y) * stride - t0x
        dv = dst[y * w : y * w + w]
        if phx == 1:
            sv = buf[rb + ox : rb + ox + w]
            for i in range(w):
                dv[i] = sv[i]
        else:
            for i in range(w):
                xx = i + ox
                dv[i] = buf[rb + (xx % phx) * psz + xx // phx]
