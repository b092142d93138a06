"""The vectorisable float32 exp / expm1 / log1p / tanh / erf of the Numba kernels
(``bandlimit.ops._numba._fastmath``) and the smooth activations built on them.

* Numerics: each function against float64 NumPy/SciPy evaluated at the float32 argument, in
  float32 ulps of the true value, on dense grids over the whole float32 range and on
  Hypothesis-drawn arguments; the smooth activations and their derivatives (float32 path) against
  float64 formulas; the fused op in float32 against the float64 reference backend.
* Properties: NaN propagates, ±Inf map to the limits, subnormal results of exp are kept, the
  float64 dispatch is libm itself, and the loops that call the functions vectorise.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from numba import njit
from scipy import special

from bandlimit import ops
from bandlimit.ops._numba import _fastmath as fm
from bandlimit.ops._numba import _smooth as sm

F32 = np.float32
TINY = float(np.finfo(np.float32).smallest_subnormal)


def _vec(fn):
    """``out[i] = fn(x[i])`` as a jitted loop (the way the kernels call these functions)."""

    @njit(fastmath={"reassoc", "contract", "arcp", "nsz", "afn"}, error_model="numpy")
    def run(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
        return out

    return run


EXP = _vec(fm.exp32)
EXPM1 = _vec(fm.expm1_32)
LOG1P = _vec(fm.log1p32)
TANH = _vec(fm.tanh32)
ERF = _vec(fm.erf32)
ERF1P = _vec(fm.erf1p32)
CDF2 = _vec(fm.cdf2_32)
GAUSS = _vec(fm.gauss_t)

# name: (vectorised float32 function, float64 reference, argument domain, max ulp)
FUNCS = {
    "exp": (EXP, np.exp, (-110.0, 90.0), 1.5),
    "expm1": (EXPM1, np.expm1, (-30.0, 90.0), 2.5),
    "log1p": (LOG1P, np.log1p, (-0.5, 1.0), 3.0),
    "tanh": (TANH, np.tanh, (-20.0, 20.0), 1.5),
    "erf": (ERF, special.erf, (-6.0, 6.0), 2.5),
    "1+erf": (ERF1P, lambda x: special.erfc(-x), (-10.5, 6.0), 7.0),
    "1+erf(v/√2)": (CDF2, lambda v: special.erfc(-v / math.sqrt(2)), (-14.0, 8.0), 7.0),
    "exp(-v²/2)": (GAUSS, lambda v: np.exp(-0.5 * v * v), (-15.0, 15.0), 2.5),
}


def ulps(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|y − ref| in float32 ulps of ``ref`` (``ref`` float64; infinities must agree exactly)."""
    with np.errstate(over="ignore"):
        ref32 = ref.astype(F32)
    inf = np.isinf(ref32)
    assert np.array_equal(y[inf], ref32[inf]), "infinite results differ"
    y, ref, ref32 = y[~inf].astype(np.float64), ref[~inf], ref32[~inf]
    spacing = np.maximum(np.spacing(np.abs(ref32)).astype(np.float64), TINY)
    return np.abs(y - ref) / spacing


def _grid(lo: float, hi: float) -> np.ndarray:
    """Dense float32 grid over ``[lo, hi]``, plus every float32 near 0 of both signs on a log
    scale (where the relative accuracy of odd functions matters)."""
    lin = np.linspace(lo, hi, 400_001).astype(F32)
    mags = np.geomspace(1e-38, 1.0, 20_001).astype(F32)
    small = np.concatenate([mags, -mags])
    small = small[(small >= lo) & (small <= hi)]
    return np.concatenate([lin, small])


# ---------------------------------------------------------------------------------------------
# Numerics of the functions


@pytest.mark.parametrize("name", list(FUNCS))
def test_max_ulp_error_on_dense_grid(name):
    fn, ref, (lo, hi), bound = FUNCS[name]
    x = _grid(lo, hi)
    err = ulps(fn(x), ref(x.astype(np.float64)))
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{name}: {err[worst]:.2f} ulp at x = {x[worst]!r}"
    assert err.mean() < 0.7, f"{name}: mean error {err.mean():.3f} ulp"


@pytest.mark.parametrize("name", list(FUNCS))
@given(data=st.data())
def test_max_ulp_error_on_drawn_arguments(name, data):
    fn, ref, (lo, hi), bound = FUNCS[name]
    xs = data.draw(
        st.lists(st.floats(lo, hi, width=32, allow_subnormal=True), min_size=1, max_size=64)
    )
    x = np.array(xs, F32)
    err = ulps(fn(x), ref(x.astype(np.float64)))
    if err.size:
        assert err.max() <= bound, f"{name}: {err.max():.2f} ulp at x = {x[np.argmax(err)]!r}"


def test_erf1p_keeps_relative_accuracy_in_the_negative_tail():
    """``1 + erf x = erfc |x|`` down to the float32 underflow: what GELU's left side needs (the
    naive ``1 + erff(x)`` has no correct digit left at x = −4)."""
    x = np.linspace(-9.0, -0.5, 100_001).astype(F32)
    ref = special.erfc(-x.astype(np.float64))
    y = ERF1P(x)
    normal = ref > np.finfo(np.float32).tiny
    np.testing.assert_allclose(y[normal], ref[normal], rtol=7 * 2.0**-23, atol=0)


def test_exp_keeps_subnormal_results_and_limits():
    x = np.array([-87.5, -95.0, -100.0, -103.0, -103.9, -104.5, -200.0], F32)
    ref = np.exp(x.astype(np.float64))
    y = EXP(x)
    assert np.all(y[:5] > 0), "subnormal results must not flush to zero"
    np.testing.assert_allclose(y, ref.astype(F32), rtol=0, atol=2 * TINY)
    assert EXP(np.array([88.7, 88.8, 1e30], F32)).tolist()[1:] == [math.inf, math.inf]


@pytest.mark.parametrize("name", list(FUNCS))
def test_nan_propagates_and_infinities_map_to_limits(name):
    fn, ref, (lo, hi), _ = FUNCS[name]
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], F32)
    inside = (specials >= lo) & (specials <= hi) | np.isnan(specials)
    if name == "log1p":  # domain [−1/2, 1]: only NaN and ±0 are meaningful
        inside = np.isnan(specials) | (specials == 0)
    with np.errstate(invalid="ignore"):
        expect = ref(specials.astype(np.float64)).astype(F32)
    y = fn(specials)
    if name != "log1p":
        inside = np.ones_like(inside)  # defined on all of float32
    np.testing.assert_array_equal(y[inside], expect[inside])


def test_float64_dispatch_is_libm():
    """float64 planes keep libm: the ``*_t`` dispatchers call it for float64 arguments."""

    @njit
    def all_t(x):
        return fm.exp_t(x), fm.expm1_t(x), fm.log1p_t(x), fm.tanh_t(x), fm.erf1p_t(x)

    for v in (-0.37, -1e-9, 0.0, 0.3, 0.99):
        got = all_t(v)
        assert got == (math.exp(v), math.expm1(v), math.log1p(v), math.tanh(v), math.erfc(-v))


def test_float32_dispatch_is_the_fast_path():
    @njit
    def all_t(x):
        return fm.exp_t(x), fm.expm1_t(x), fm.log1p_t(x), fm.tanh_t(x), fm.erf1p_t(x)

    x = np.float32(-0.731)
    got = all_t(x)
    want = (EXP, EXPM1, LOG1P, TANH, ERF1P)
    for g, w in zip(got, want):
        assert np.float32(g) == w(np.array([x]))[0]


@pytest.mark.parametrize("fn", [fm.exp32, fm.erf1p32, fm.tanh32, sm._gelu, sm._dgelu, sm._selu])
def test_loops_calling_the_functions_vectorise(fn):
    """The point of the module: a loop over float32 samples compiles to SIMD code (vectors of
    floats in the optimised LLVM IR), with no call left in it (``forceinline``)."""
    run = _vec(fn)
    x = np.zeros(16, F32)
    run(x)
    llvm = next(iter(run.inspect_llvm().values()))
    assert re.search(r"<\d+ x float>", llvm), "the element loop was not vectorised"
    assert not re.search(r"call [^\n]*@_ZN9bandlimit", llvm), "a helper call was left in the loop"


# ---------------------------------------------------------------------------------------------
# The smooth activations and their derivatives, float32 path vs float64 formulas


def _np_act(name: str, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 value and derivative, straight from the definitions (SciPy's expit / erfc, which
    stay accurate in the tails)."""
    s, sn = special.expit(v), special.expit(-v)
    k, c = math.sqrt(2 / math.pi), 0.044715
    if name == "tanh":
        return np.tanh(v), 1 / np.cosh(v) ** 2
    if name == "sigmoid":
        return s, s * sn
    if name == "elu":
        return np.where(v > 0, v, np.expm1(v)), np.where(v > 0, 1.0, np.exp(v))
    if name == "selu":
        a, sc = sm.SELU_ALPHA, sm.SELU_SCALE
        return sc * np.where(v > 0, v, a * np.expm1(v)), sc * np.where(v > 0, 1.0, a * np.exp(v))
    if name == "softplus":
        return np.where(v > 20, v, np.logaddexp(0.0, v)), np.where(v > 20, 1.0, s)
    if name == "swish":
        return v * s, s + v * s * sn
    if name == "gelu":
        phi = 0.5 * special.erfc(-v / math.sqrt(2))
        return v * phi, phi + v * np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)
    # gelu_tanh: ½(1 + tanh z) = expit(2z), 1 − tanh² z = 4·expit(2z)·expit(−2z)
    z = k * (v + c * v**3)
    p, q = special.expit(2 * z), special.expit(-2 * z)
    return v * p, p + 2 * v * p * q * k * (1 + 3 * c * v * v)


SMOOTH = {
    "tanh": (sm._tanh, sm._dtanh),
    "sigmoid": (sm._sigmoid, sm._dsigmoid),
    "elu": (sm._elu, sm._delu),
    "selu": (sm._selu, sm._dselu),
    "softplus": (sm._softplus, sm._dsoftplus),
    "swish": (sm._swish, sm._dswish),
    "gelu": (sm._gelu, sm._dgelu),
    "gelu_tanh": (sm._gelu_tanh, sm._dgelu_tanh),
}
_SMOOTH_VEC = {k: (_vec(f), _vec(d)) for k, (f, d) in SMOOTH.items()}


# Derivatives with a sign change (a root where the two terms cancel) are checked against the
# size of their terms, everything else relative to its own magnitude (down to 2^−10).
ROOTS = ("swish", "gelu", "gelu_tanh")


# gelu_tanh evaluates σ(2z) at z = k(v + cv³) rounded to float32: 2|z|·u more relative error
ULP_BOUND = {"gelu_tanh": 16}


@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_activation_float32_matches_float64(name):
    """Value and derivative within 8 float32 ulps, relative (tails included: σ(1 − σ),
    1 − tanh², GELU's left side are computed without cancellation)."""
    f, d = _SMOOTH_VEC[name]
    v = np.concatenate([np.linspace(-30, 30, 200_001), [-1e-30, 0.0, 1e-30]]).astype(F32)
    v64 = v.astype(np.float64)
    ref_f, ref_d = _np_act(name, v64)
    for got, ref, what in ((f(v), ref_f, "value"), (d(v), ref_d, "derivative")):
        assert got.dtype == F32
        floor = 1.0 if what == "derivative" and name in ROOTS else 2.0**-10
        scale = np.maximum(np.abs(ref), floor)
        err = np.abs(got.astype(np.float64) - ref) / scale
        worst = int(np.argmax(err))
        bound = ULP_BOUND.get(name, 8) * 2.0**-23
        assert err[worst] <= bound, f"{name} {what}: {err[worst]:.3g} at v = {v[worst]!r}"


@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_activation_float64_is_unchanged_libm_formula(name):
    """float64 samples take libm: agreement with the float64 definitions to ~1e-13 relative
    (``e^{−v²/2}`` at a rounded ``v²`` costs up to v²·2^−53 in GELU's tail)."""
    f, d = _SMOOTH_VEC[name]
    v = np.linspace(-30, 30, 20_001)
    ref_f, ref_d = _np_act(name, v)
    np.testing.assert_allclose(f(v), ref_f, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d(v), ref_d, rtol=1e-12, atol=1e-15 if name in ROOTS else 1e-300)


@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_activation_special_values(name):
    f, d = _SMOOTH_VEC[name]
    x = np.array([np.nan, np.inf, -np.inf], F32)
    with np.errstate(invalid="ignore", over="ignore"):
        ref_f, _ = _np_act(name, x.astype(np.float64))
    y = f(x)
    # The derivative at NaN: NaN, but elu / selu take the positive branch (PyTorch's backward).
    positive = {"elu": 1.0, "selu": F32(1.0507009873554805)}
    assert np.isnan(y[0])
    if name in positive:
        assert d(x)[0] == positive[name]
    else:
        assert np.isnan(d(x)[0])
    np.testing.assert_array_equal(y[1:], ref_f[1:].astype(F32))


# ---------------------------------------------------------------------------------------------
# The fused op in float32 (fast path) against the float64 reference


@pytest.mark.parametrize(
    "act", ["gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "elu", "selu", "softplus"]
)
def test_fused_float32_matches_float64_reference_2d(act):
    """StyleGAN3-like layout (up 2, down 2, 12-tap separable, zero down_padding): the float32
    numba op (fast math, activation only on the computed region) matches the float64 'ref' op
    to float32 accuracy, values and gradients."""
    rng = np.random.default_rng(7)
    x = torch.tensor(rng.standard_normal((2, 3, 11, 9)) * 2.5)
    b = torch.tensor(rng.standard_normal(3))
    f = torch.tensor(np.kaiser(12, 6.0) / np.kaiser(12, 6.0).sum())
    kw = dict(up=2, down=2, padding=(6, 5, 6, 5), down_padding=(5, 6, 5, 6), clamp=4.0)
    out = {}
    for impl, dt in (("numba", torch.float32), ("ref", torch.float64)):
        xi = x.to(dt).requires_grad_(True)
        bi = b.to(dt).requires_grad_(True)
        y = ops.filtered_act(xi, act, f.to(dt), f.to(dt), bi, impl=impl, **kw)
        y.backward(torch.cos(torch.arange(y.numel(), dtype=dt)).reshape(y.shape))
        out[impl] = [t.double() for t in (y.detach(), xi.grad, bi.grad)]
    for a, r in zip(out["numba"], out["ref"]):
        torch.testing.assert_close(a, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))


# ---------------------------------------------------------------------------------------------
# Snake's sin² t and sin 2t (float32: reduction by π, no quadrant selects)


def test_snake_sincos_float32_identities():
    """``s² = sin² t`` and ``2sc = sin 2t`` to a few float32 ulps of 1 over the arguments α·u of
    audio models (|t| ≤ 50; 3e-7, as the full sin/cos) and to ≈ |t|·2^−24 beyond (the rounding
    of t itself)."""

    @njit
    def both(t):
        s2, sin2 = np.empty_like(t), np.empty_like(t)
        for i in range(t.shape[0]):
            s, c = fm.snake_sc32(t[i])
            s2[i] = s * s
            sin2[i] = 2 * s * c
        return s2, sin2

    t = np.concatenate([np.linspace(-50, 50, 400_001), np.linspace(-2e4, 2e4, 400_001)])
    t32 = t.astype(F32)
    t64 = t32.astype(np.float64)  # the float32 argument, exactly
    s2, sin2 = both(t32)
    small = np.abs(t64) <= 50
    for got, ref in ((s2, np.sin(t64) ** 2), (sin2, np.sin(2 * t64))):
        np.testing.assert_allclose(got[small], ref[small], rtol=0, atol=3e-7)
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-3 * 2.0**-10)
    nan = both(np.array([np.nan, np.inf, -np.inf], F32))
    assert np.all(np.isnan(nan[0])) and np.all(np.isnan(nan[1]))


@given(t=st.floats(-1e3, 1e3, width=32))
def test_snake_sincos_float32_drawn(t):
    s, c = (float(v) for v in njit(lambda x: fm.snake_sc32(x))(F32(t)))
    assert abs(s * s - math.sin(t) ** 2) <= 4e-7
    assert abs(2 * s * c - math.sin(2 * t)) <= 4e-7 + abs(t) * 2.0**-22


def test_sin_cos_stay_bounded_beyond_the_exact_reduction():
    """Past the range where k·π is exact (float32 |t| ≳ 10^8, float64 ≳ 10^16) the reduced
    argument is clamped: s and c stay in [−1, 1] (the value of sin t there is meaningless at
    the argument's own precision anyway), NaN stays NaN. Before, snake(5e9) was inf."""

    @njit
    def run(t, which):
        out = np.empty((t.shape[0], 2), np.float64)
        for i in range(t.shape[0]):
            if which == 0:
                s, c = fm.snake_sc32(t[i])
            elif which == 1:
                s, c = sm.sincos32(t[i])
            else:
                s, c = sm.sincos(np.float64(t[i]))
            out[i, 0], out[i, 1] = s, c
        return out

    big32 = np.array([1e8, -3e8, 5e9, 1e10, 3e38, np.nan], F32)
    big64 = np.array([1e16, 1e17, -1e19, 1e300, np.nan])
    for which, t in ((0, big32), (1, big32), (2, big64)):
        sc = run(t if which < 2 else t.astype(np.float64), which)
        finite = np.isfinite(t)
        assert np.all(np.abs(sc[finite]) <= 1 + 1e-6), (which, sc)
        assert np.all(np.isnan(sc[~finite])), (which, sc)
    for dt in (torch.float32, torch.float64):
        x = torch.tensor([[[1e7, 2e8, 5e9, 1e10, 1e17]]], dtype=dt, requires_grad=True)
        for impl in ("numba", "ref"):
            y = ops.filtered_act1d(x, "snake", alpha=0.7, gain=1.0, impl=impl)
            (g,) = torch.autograd.grad(y.sum(), x)
            assert torch.all((y - x).abs() <= 1 / 0.7 + x.abs() * 2e-7), (impl, dt, y - x)
            assert torch.all(g.abs() <= 2.0 + 1e-3), (impl, dt, g)
