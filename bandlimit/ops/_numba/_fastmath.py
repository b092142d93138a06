"""Branch-free, vectorisable float32 ``exp``, ``expm1``, ``log1p``, ``tanh``, ``erf`` / ``1 + erf``
and ``e^{−v²/2}`` for the activation loops of the Numba kernels.

Numba has no SVML here, so ``np.exp`` / ``math.erf`` inside an element loop are scalar libm calls
(one call per sample, no SIMD) and dominate the smooth activations. The functions below are plain
float32 arithmetic with selects instead of branches, so LLVM vectorises the loops that call them
(8 lanes with AVX2). Each is accurate to a few float32 ulp over the whole float32 range (see
``tests/ops/test_fast_math.py``), propagates NaN, and maps ±Inf to the correct limits.

The ``*_t`` dispatchers pick the float32 version for float32 arguments and libm for float64 ones
(float64 planes keep libm's full accuracy; only float32 planes take the fast path).

Polynomial coefficients were fitted for this module (near-minimax, Lawson-reweighted least squares
against 40-digit mpmath values on Chebyshev nodes):

* ``exp(x) = 2^k · e^r``, ``k = round(x / ln 2)``, ``r = x − k·ln 2`` (Cody–Waite: ``ln 2`` in two
  parts, ``k·LN2_HI`` exact), ``e^r = 1 + r + r²·P(r)`` on ``|r| ≤ ln 2 / 2`` (rel. 3e-9); ``2^k``
  as two exponent-field factors so that results in the subnormal range are kept.
* ``expm1(x) = x + x²·(1/2 + x·P(x))`` for ``|x| < 0.7`` (no cancellation), else ``exp(x) − 1``.
* ``log1p(t) = 2s·P(s²)``, ``s = t / (2 + t)`` (the series of ``2·atanh s``), for ``t ∈ [−1/2, 1]``.
* ``tanh(x) = x + x·z·P(z)``, ``z = x²`` for ``|x| < 0.625``, else ``±(1 − 2 / (e^{2|x|} + 1))``.
* ``1 + erf(x)``: ``1 + x·P(x²)`` for ``−0.5 < x < 0.875`` (``erf``: ``|x| < 0.875``); beyond,
  ``erfc(a) = e^{−a²}·t·Q(t)`` with ``a = |x|``, ``t = 1 / (1 + a/2)`` (rel. 4e-9 on
  ``[0.5, 12]``) and ``a²`` split exactly into ``hi + lo`` (Veltkamp/Dekker) so that ``e^{−a²}``
  does not inherit the rounding of ``a²`` (which would cost ``a²`` ulp); GELU's
  ``1 + erf(v/√2)`` takes ``e^{−v²/2}`` from ``v`` itself. For ``x < 0`` the result is
  ``erfc(|x|)``: ``1 + erf`` keeps its *relative* accuracy deep into the negative tail (GELU's
  left side), unlike ``1 + erff(x)``.
* Snake: ``sin² t`` and ``sin 2t`` are π-periodic: reduction by π (three-part Cody–Waite) and
  ``sin``/``cos`` polynomials on ``[−π/2, π/2]``, no quadrant selects.

Measured maximum errors (float32 ulps of the true value, dense grids): exp 1.2, expm1 2.1,
log1p 2.8, tanh 1.3, erf 2.4, 1 + erf 6.1 (around |x| ≈ 1, the erfc polynomial's rounding),
e^{−v²/2} 2.3.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload, register_jitable

from bandlimit.ops._numba._core import JIT

# Range reductions and error-free splits must run exactly as written: no reassociation (which
# would cancel ``(c − (c − a))`` or fold the two-part subtraction); FMA contraction only helps.
_EXACT = {k: v for k, v in JIT.items() if k not in ("cache", "fastmath")}
_FM = {"contract", "nsz"}
# forceinline: LLVM attribute alwaysinline, so that the loops calling these (too big for the
# inliner's default threshold) still see straight-line code and vectorise
_EXACT["forceinline"] = True

_f = np.float32

F_LOG2E = _f(1.4426950408889634)
F_LN2_HI = _f(0.693359375)  # 9 significant bits: k·LN2_HI is exact for |k| < 2^15
F_LN2_LO = _f(-2.12194440054690583e-4)
F_EXP_LO = _f(-104.0)  # e^−104 < 2^−150: rounds to 0
F_EXP_HI = _f(89.0)  # e^89 > float32 max: overflows to inf
EP0 = _f(0.5000000013612899)
EP1 = _f(0.1666666653000277)
EP2 = _f(0.04166646319332601)
EP3 = _f(0.008333361038826367)
EP4 = _f(0.0013933856492915567)
EP5 = _f(0.0001985789103003924)

M1_SMALL = _f(0.7)
MP0 = _f(0.16666667673640875)
MP1 = _f(0.04166666005802198)
MP2 = _f(0.008332960876551679)
MP3 = _f(0.0013889139917431029)
MP4 = _f(0.00020044400545222128)
MP5 = _f(2.4902698393298962e-05)

LP0 = _f(1.0000000040719592)
LP1 = _f(0.3333315296692433)
LP2 = _f(0.20012694459755814)
LP3 = _f(0.13976266900425355)
LP4 = _f(0.1410992416288383)

TANH_SMALL = _f(0.625)
TP0 = _f(-0.33333328965470177)
TP1 = _f(0.1333277065719859)
TP2 = _f(-0.05385100562847122)
TP3 = _f(0.020997533290523975)
TP4 = _f(-0.006097139109874203)

ERF_SMALL = _f(0.875)
ERF_NEG = _f(-0.5)
ERF_CLIP = _f(10.5)  # erfc(10.5) < 2^−150
ER0 = _f(1.1283791575302622)
ER1 = _f(-0.37612550562355423)
ER2 = _f(0.11282456031986537)
ER3 = _f(-0.026791483597634308)
ER4 = _f(0.005032207712968834)
ER5 = _f(-0.0006203378500608606)
EQ0 = _f(0.28208983643887914)
EQ1 = _f(0.28223744589478716)
EQ2 = _f(0.24509478548473043)
EQ3 = _f(0.18800150921048425)
EQ4 = _f(0.03650451514879469)
EQ5 = _f(0.11078904211698393)
EQ6 = _f(-0.21039099804742953)
EQ7 = _f(0.00603621388039868)
EQ8 = _f(0.09677191541211295)
EQ9 = _f(-0.03716860026553743)
F_INV_SQRT2 = _f(1.0 / math.sqrt(2.0))
GAUSS_CLIP = _f(15.0)  # e^{−s²/2} < 2^−150 beyond
F_SPLIT = _f(4097.0)

# snake: π in three parts (8, 11, 24 bits; k·part exact for |k| < 2^16), sin / cos on [−π/2, π/2]
F_1_PI = _f(1.0 / math.pi)
F_PI_1 = _f(3.140625)
F_PI_2 = _f(9.675025939941406e-4)
F_PI_3 = _f(1.5099580252808664e-07)
SP0 = _f(-0.16666666663731314)
SP1 = _f(0.008333332748636915)
SP2 = _f(-0.00019841082470079961)
SP3 = _f(2.753619790944132e-06)
SP4 = _f(-2.4074801070229912e-08)
CQ0 = _f(0.041666666059909)
CQ1 = _f(-0.0013888811124355774)
CQ2 = _f(2.478592631652548e-05)
CQ3 = _f(-2.6541817482045316e-07)  # 2^12 + 1: Veltkamp split of a float32 into two 12-bit halves

INV_SQRT2 = 1.0 / math.sqrt(2.0)
F0 = _f(0.0)
F_HALF = _f(0.5)
F1 = _f(1.0)
F2 = _f(2.0)


@intrinsic
def _pow2(typingctx, k):
    """``2^k`` for an integral float32 ``k`` in ``[−126, 127]``, built in the exponent field (the
    int32 conversion, add and shift vectorise; numba's own integer ops would widen to int64)."""
    if k != types.float32:
        return None
    sig = types.float32(types.float32)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        ki = builder.fptosi(args[0], i32)
        bits = builder.shl(builder.add(ki, ir.Constant(i32, 127)), ir.Constant(i32, 23))
        return builder.bitcast(bits, ir.FloatType())

    return sig, codegen


@register_jitable(fastmath=_FM, **_EXACT)
def exp32(x):
    """``e^x`` in float32 (≈ 1 ulp; subnormal results kept, overflow to ``inf``, NaN → NaN)."""
    # clip first (a NaN becomes F_EXP_LO here, and is put back at the end): k stays finite
    xc = x if x > F_EXP_LO else F_EXP_LO
    xc = xc if xc < F_EXP_HI else F_EXP_HI
    k = np.floor(xc * F_LOG2E + F_HALF)
    r = xc - k * F_LN2_HI
    r = r - k * F_LN2_LO
    p = F1 + r + r * r * (EP0 + r * (EP1 + r * (EP2 + r * (EP3 + r * (EP4 + r * EP5)))))
    # 2^k as 2^k1 · 2^(k − k1): both factors stay normal for k in [−150, 128]
    k1 = np.floor(k * F_HALF)
    y = p * _pow2(k1) * _pow2(k - k1)
    return y if x == x else x


@register_jitable(fastmath=_FM, **_EXACT)
def expm1_32(x):
    """``e^x − 1`` in float32, relatively accurate near 0 (≈ 1–2 ulp)."""
    p = MP0 + x * (MP1 + x * (MP2 + x * (MP3 + x * (MP4 + x * MP5))))
    small = x + x * x * (F_HALF + x * p)
    big = exp32(x) - F1
    return small if abs(x) < M1_SMALL else big


@register_jitable(fastmath=_FM, **_EXACT)
def log1p32(t):
    """``log(1 + t)`` in float32 for ``t ∈ [−1/2, 1]`` (≈ 1–2 ulp; the domain of softplus'
    ``log1p(e^{−|v|})``)."""
    s = t / (F2 + t)
    z = s * s
    return F2 * s * (LP0 + z * (LP1 + z * (LP2 + z * (LP3 + z * LP4))))


@register_jitable(fastmath=_FM, **_EXACT)
def tanh32(x):
    """``tanh x`` in float32 (≈ 1–2 ulp)."""
    z = x * x
    small = x + x * z * (TP0 + z * (TP1 + z * (TP2 + z * (TP3 + z * TP4))))
    a = abs(x)
    big = F1 - F2 / (exp32(a + a) + F1)  # e^{2a} = inf gives exactly 1
    big = big if x > F0 else -big
    return small if a < TANH_SMALL else big


@register_jitable(fastmath=_FM, **_EXACT)
def gauss32(s, k):
    """``e^{−k·s²}`` in float32 for ``k`` a power of two (≈ 1–2 ulp): ``s²`` is split exactly
    into ``hi + lo`` (Veltkamp halves of ``s``, each product exact), so the result does not
    inherit the rounding of ``s²`` (which would cost ``k·s²`` ulp)."""
    s = abs(s)
    s = GAUSS_CLIP if s > GAUSS_CLIP else s  # e^{−k·s²} is 0 beyond; NaN stays NaN
    c = s * F_SPLIT
    sh = c - (c - s)
    sl = s - sh
    hi = s * s
    lo = ((sh * sh - hi) + F2 * sh * sl) + sl * sl
    return exp32(-k * hi) * (F1 - k * lo)


@register_jitable(fastmath=_FM, **_EXACT)
def erfc_big32(a, s, k):
    """``erfc a`` in float32 for ``a ≥ 1/2``, where ``a² = k·s²`` (relative accuracy ≈ 2–5 ulp;
    NaN stays NaN). ``s``, ``k`` give ``e^{−a²}`` exactly (:func:`gauss32`): ``a = |s|·√k``
    itself is rounded, and only the polynomial, which is insensitive to that, uses it."""
    a = ERF_CLIP if a > ERF_CLIP else a  # erfc(10.5) < 2^−150: e^{−a²} is 0 there anyway
    t = F1 / (F1 + F_HALF * a)
    q = EQ5 + t * (EQ6 + t * (EQ7 + t * (EQ8 + t * EQ9)))
    q = EQ0 + t * (EQ1 + t * (EQ2 + t * (EQ3 + t * (EQ4 + t * q))))
    return gauss32(s, k) * (t * q)


@register_jitable(fastmath=_FM, **_EXACT)
def erf1p32(x):
    """``1 + erf x`` in float32: ≈ 2–6 ulp of the result, including its relative accuracy for
    ``x → −∞`` (where it equals ``erfc |x|``)."""
    a = abs(x)
    z = a * a
    small = F1 + x * (ER0 + z * (ER1 + z * (ER2 + z * (ER3 + z * (ER4 + z * ER5)))))
    ec = erfc_big32(a, a, F1)
    big = F2 - ec if x > F0 else ec
    # on the negative side erfc takes over early: 1 + x·P(x²) would cancel towards x = −0.875
    return small if (x < ERF_SMALL and x > ERF_NEG) else big


@register_jitable(fastmath=_FM, **_EXACT)
def cdf2_32(v):
    """``1 + erf(v / √2)`` (twice the normal CDF, GELU's factor) in float32, as :func:`erf1p32`
    but with ``e^{−v²/2}`` from ``v`` itself: the rounding of ``v/√2`` would cost ``v²`` ulp in
    the tail."""
    x = v * F_INV_SQRT2
    a = abs(x)
    z = a * a
    small = F1 + x * (ER0 + z * (ER1 + z * (ER2 + z * (ER3 + z * (ER4 + z * ER5)))))
    ec = erfc_big32(a, v, F_HALF)
    big = F2 - ec if x > F0 else ec
    return small if (x < ERF_SMALL and x > ERF_NEG) else big


@register_jitable(fastmath=_FM, **_EXACT)
def erf32(x):
    """``erf x`` in float32 (≈ 2 ulp)."""
    a = abs(x)
    z = a * a
    small = x * (ER0 + z * (ER1 + z * (ER2 + z * (ER3 + z * (ER4 + z * ER5)))))
    big = F1 - erfc_big32(a, a, F1)
    big = big if x > F0 else -big
    return small if a < ERF_SMALL else big


F_SNAKE_R_MAX = _f(1.6)  # just beyond π/2, the reduced range of snake_sc32


@register_jitable(fastmath=_FM, **_EXACT)
def snake_sc32(t):
    """``(s, c) = (sin r, cos r)`` with ``r = t − kπ ∈ [−π/2, π/2]``, in float32 (≈ 1 ulp).

    What the snake activations need: ``s² = sin² t`` and ``2sc = sin 2t``, both π-periodic, so
    the reduction by π needs no quadrant selects (unlike a full ``sin``/``cos``, which reduces by
    π/2 and swaps / negates the two polynomials per quadrant): about half the vector operations.
    """
    k = np.floor(t * F_1_PI + F_HALF)
    r = t - k * F_PI_1
    r = r - k * F_PI_2
    r = r - k * F_PI_3
    if abs(r) > F_SNAKE_R_MAX:  # |t| ≳ 10^8: inexact reduction; keep s, c bounded (NaN stays)
        r = math.copysign(F_SNAKE_R_MAX, r)
    z = r * r
    s = r + r * z * (SP0 + z * (SP1 + z * (SP2 + z * (SP3 + z * SP4))))
    c = F1 - F_HALF * z + z * z * (CQ0 + z * (CQ1 + z * (CQ2 + z * CQ3)))
    return s, c


# ------------------------------------------------------------------------------------------------
# Precision dispatch: float32 → the functions above, float64 → libm.


def exp_t(x):
    """``e^x`` in ``x``'s precision."""
    return math.exp(x)


def expm1_t(x):
    """``e^x − 1`` in ``x``'s precision."""
    return math.expm1(x)


def log1p_t(x):
    """``log(1 + x)`` in ``x``'s precision (float32: ``x ∈ [−1/2, 1]``)."""
    return math.log1p(x)


def tanh_t(x):
    """``tanh x`` in ``x``'s precision."""
    return math.tanh(x)


def erf1p_t(x):
    """``1 + erf x`` in ``x``'s precision (float64: ``erfc(−x)``, exact in the tail)."""
    return math.erfc(-x)


def cdf2_t(v):
    """``1 + erf(v / √2)`` in ``v``'s precision."""
    return math.erfc(-v * INV_SQRT2)


def gauss_t(v):
    """``e^{−v²/2}`` in ``v``'s precision."""
    return math.exp(-0.5 * v * v)


@overload(exp_t, inline="always")
def _exp_t(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: np.exp(x)


@overload(expm1_t, inline="always")
def _expm1_t(x):
    if x == types.float32:
        return lambda x: expm1_32(x)
    return lambda x: np.expm1(x)


@overload(log1p_t, inline="always")
def _log1p_t(x):
    if x == types.float32:
        return lambda x: log1p32(x)
    return lambda x: np.log1p(x)


@overload(tanh_t, inline="always")
def _tanh_t(x):
    if x == types.float32:
        return lambda x: tanh32(x)
    return lambda x: np.tanh(x)


@overload(erf1p_t, inline="always")
def _erf1p_t(x):
    if x == types.float32:
        return lambda x: erf1p32(x)
    return lambda x: math.erfc(-x)


@overload(cdf2_t, inline="always")
def _cdf2_t(v):
    if v == types.float32:
        return lambda v: cdf2_32(v)
    return lambda v: math.erfc(-v * INV_SQRT2)


@overload(gauss_t, inline="always")
def _gauss_t(v):
    if v == types.float32:
        return lambda v: gauss32(v, F_HALF)
    return lambda v: np.exp(-0.5 * v * v)
