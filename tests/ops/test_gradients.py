"""Gradients: finite-difference checks (gradcheck / gradgradcheck, float64) on every backend, and
the backends' first- and second-order gradients agree.

The filtered activation is piecewise linear; its inputs are chosen (deterministically, by seed) so
that no pre-activation lies within a finite-difference step of a kink (0 or ±clamp).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.autograd import gradcheck, gradgradcheck

import bandlimit.ops as ops

from . import oracle
from .strategies import (
    ACTS,
    IMPLS,
    bias_act_cases,
    filtered_lrelu_cases,
    ref_as_composition,
    saved_bytes,
    to_torch,
    upfirdn1d_cases,
    upfirdn2d_cases,
)

impls = pytest.mark.parametrize("impl", IMPLS)
F64 = torch.float64


def _filter(rng, spec):
    if spec is None:
        return None
    return to_torch(rng.uniform(0.2, 1.0, size=spec) * rng.choice([-1, 1], size=spec))


# ---------------------------------------------------------------------------------------------
# upfirdn2d / upfirdn1d

UPFIRDN2D = {
    "sep4-up2": dict(f=(4,), up=2, down=1, padding=[2, 1, 1, 2], flip_filter=False, gain=1.0),
    "full3x2-anisotropic": dict(f=(3, 2), up=[1, 3], down=[2, 1], padding=[-1, 2, 1, 0],
                                flip_filter=True, gain=2.5),
    "none-down2": dict(f=None, up=1, down=2, padding=1, flip_filter=False, gain=0.7),
    "sep5-up4-down3-crop": dict(f=(5,), up=4, down=3, padding=[3, -2], flip_filter=True,
                                gain=1.0),
}


@impls
@pytest.mark.parametrize("cfg", list(UPFIRDN2D))
def test_upfirdn2d_gradcheck(impl, cfg):
    kw = dict(UPFIRDN2D[cfg])
    rng = np.random.default_rng(0)
    f = _filter(rng, kw.pop("f"))
    x = to_torch(rng.standard_normal((1, 2, 4, 5))).requires_grad_(True)

    def fn(x):
        return ops.upfirdn2d(x, f, impl=impl, **kw)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


UPFIRDN1D = {
    "k5-up2": dict(f=(5,), up=2, down=1, padding=[2, 2], flip_filter=False, gain=1.0),
    "k3-up3-down2-crop": dict(f=(3,), up=3, down=2, padding=[-2, 1], flip_filter=True, gain=1.5),
    "none-down3": dict(f=None, up=1, down=3, padding=0, flip_filter=False, gain=2.0),
}


@impls
@pytest.mark.parametrize("cfg", list(UPFIRDN1D))
def test_upfirdn1d_gradcheck(impl, cfg):
    kw = dict(UPFIRDN1D[cfg])
    rng = np.random.default_rng(1)
    f = _filter(rng, kw.pop("f"))
    x = to_torch(rng.standard_normal((2, 2, 7))).requires_grad_(True)

    def fn(x):
        return ops.upfirdn1d(x, f, impl=impl, **kw)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


# conv2d_resample: each of its paths, with respect to x, the weight and a learned filter.

CONV2D_RESAMPLE = {
    "up2-k3-sep4": dict(f=(4,), k=(3, 3), up=2, down=1, padding=1, groups=1, flip_weight=True,
                        flip_filter=False),
    "up3-k2x3-full3-groups2-crop": dict(f=(3, 2), k=(2, 3), up=3, down=1, padding=[0, -2, 1, -1],
                                        groups=2, flip_weight=False, flip_filter=True),
    "down2-k3-sep4": dict(f=(4,), k=(3, 3), up=1, down=2, padding=1, groups=1, flip_weight=True,
                          flip_filter=False),
    "down3-k1-full2": dict(f=(2, 2), k=(1, 1), up=1, down=3, padding=0, groups=2,
                           flip_weight=True, flip_filter=False),
    "up2-down2-k3": dict(f=(3,), k=(3, 3), up=2, down=2, padding=[1, 0], groups=1,
                         flip_weight=False, flip_filter=False),
    "plain-k3-asymmetric": dict(f=None, k=(3, 3), up=1, down=1, padding=[2, -1, 0, 1], groups=2,
                                flip_weight=True, flip_filter=False),
}


@impls
@pytest.mark.parametrize("cfg", list(CONV2D_RESAMPLE))
def test_conv2d_resample_gradcheck(impl, cfg):
    kw = dict(CONV2D_RESAMPLE[cfg])
    rng = np.random.default_rng(2)
    f = _filter(rng, kw.pop("f"))
    x = to_torch(rng.standard_normal((1, 2, 5, 4))).requires_grad_(True)
    w = to_torch(rng.standard_normal((2, 2 // kw["groups"], *kw.pop("k")))).requires_grad_(True)
    inputs = (x, w) if f is None else (x, w, f.requires_grad_(True))

    def fn(x, w, f=None):
        return ops.conv2d_resample(x, w, f, impl=impl, **kw)

    # fast mode (random projections of the Jacobians): the op composes upfirdn2d, whose
    # gradients are checked in full above, with PyTorch's convolutions
    assert gradcheck(fn, inputs, fast_mode=True)
    assert gradgradcheck(fn, inputs, fast_mode=True)


# resample_poly: each padtype's extension is part of the differentiated function.


@impls
@pytest.mark.parametrize(
    ("up", "down", "padtype", "dim"),
    [(3, 2, "constant", -1), (2, 5, "line", 1), (4, 3, "antireflect", -1), (1, 3, "median", -1),
     (5, 2, "reflect", 0), (3, 4, "smooth", (-2, -1))],
)  # fmt: skip
def test_resample_poly_gradcheck(impl, up, down, padtype, dim):
    x = to_torch(np.random.default_rng(2).standard_normal((1, 3, 5))).requires_grad_(True)

    def fn(x):
        return ops.resample_poly(x, up, down, dim=dim, padtype=padtype, impl=impl)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize(("up", "down"), [(5, 3), (3, 1), (1, 4), (160, 147)])
def test_rational_pass_forward_mode_equals_reverse_mode(up, down):
    """'ref' computes a one-axis pass with its own autograd Function; forward-mode AD (jacfwd,
    dual tensors, hessian) is the same linear map as reverse mode."""
    rng = np.random.default_rng(up + down)
    x = to_torch(rng.standard_normal((1, 1, 23)))
    f = to_torch(rng.standard_normal(7))

    def fn(v):
        return ops.upfirdn1d(v, f, up=up, down=down, padding=(2, 3), impl="ref")

    jac_fwd, jac_rev = torch.func.jacfwd(fn)(x), torch.func.jacrev(fn)(x)
    torch.testing.assert_close(jac_fwd, jac_rev, rtol=1e-12, atol=1e-12)
    tangent = to_torch(rng.standard_normal(x.shape))
    with torch.autograd.forward_ad.dual_level():
        dual = fn(torch.autograd.forward_ad.make_dual(x, tangent))
        torch.testing.assert_close(torch.autograd.forward_ad.unpack_dual(dual).tangent,
                                   fn(tangent), rtol=1e-12, atol=1e-12)  # fmt: skip
    hessian = torch.func.hessian(lambda v: fn(v).square().sum())(x)[0, 0, :, 0, 0]
    torch.testing.assert_close(hessian, hessian.T, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# bias_act


def _bias_act_inputs(act, alpha, dim, shape, clamp, seed=0):
    """x, b with every x + b and every |y| − clamp at least 0.05 away from a kink."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        x = rng.uniform(-2, 2, size=shape)
        b = rng.uniform(-1, 1, size=shape[dim])
        bshape = [1] * len(shape)
        bshape[dim] = shape[dim]
        u = x + b.reshape(bshape)
        y = oracle.bias_act(x, b, dim=dim, act=act, alpha=alpha)
        if np.abs(u).min() > 0.05 and (clamp is None or np.abs(np.abs(y) - clamp).min() > 0.05):
            return to_torch(x).requires_grad_(True), to_torch(b).requires_grad_(True)
    raise AssertionError("no kink-free input found")  # pragma: no cover


@impls
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize(("dim", "shape", "clamp"), [(1, (2, 3, 4), None), (0, (3, 5), 0.8)])
def test_bias_act_gradcheck(impl, act, dim, shape, clamp):
    alpha = 0.3 if act == "lrelu" else None
    x, b = _bias_act_inputs(act, alpha, dim, shape, clamp)

    def fn(x, b):
        return ops.bias_act(x, b, dim=dim, act=act, alpha=alpha, clamp=clamp, impl=impl)

    assert gradcheck(fn, (x, b))
    assert gradgradcheck(fn, (x, b))


# ---------------------------------------------------------------------------------------------
# filtered_lrelu

FLRELU = {
    "sep6-up2-down2-clamp": dict(fu=(6,), fd=(6,), up=2, down=2, padding=[3, 2, 3, 2], gain=1.4,
                                 slope=0.2, clamp=0.5, flip_filter=False, bias=True),
    "full-up1-flip": dict(fu=(3, 4), fd=None, up=1, down=1, padding=1, gain=1.3, slope=0.1,
                          clamp=None, flip_filter=True, bias=True),
    "fu-none-up2": dict(fu=None, fd=(4,), up=2, down=1, padding=[0, 1, 1, 0], gain=1.0,
                        slope=0.3, clamp=None, flip_filter=False, bias=False),
    "up4-down4-crop": dict(fu=(8,), fd=(5, 5), up=4, down=4, padding=[-2, 3, 1, -1], gain=0.9,
                           slope=0.25, clamp=1.2, flip_filter=False, bias=True),
    "up3-down2-full": dict(fu=(4, 4), fd=(3,), up=3, down=2, padding=2, gain=1.1, slope=0.0,
                           clamp=None, flip_filter=True, bias=True),
}


def _flrelu_inputs(cfg, shape=(1, 2, 4, 4), margin=1e-3):
    """Deterministic inputs whose x-dependent pre-activations keep ``margin`` from every kink."""
    kw = dict(cfg)
    has_b = kw.pop("bias")
    for seed in range(200):
        rng = np.random.default_rng(seed)
        fu, fd = _filter(rng, kw["fu"]), _filter(rng, kw["fd"])
        x = rng.standard_normal(shape)
        b = rng.standard_normal(shape[1]) if has_b else None
        okw = {k: v for k, v in kw.items() if k not in ("fu", "fd")}
        a, _ = oracle.filtered_lrelu_preactivation(
            x, None if fu is None else fu.numpy(), None if fd is None else fd.numpy(), b, **okw)
        nz = a[a != 0]  # exact zeros are structural (inserted/padded) and do not depend on x
        ok = np.abs(nz).min(initial=np.inf) > margin
        if kw["clamp"] is not None:
            r = np.where(nz < 0, nz * kw["slope"], nz)
            ok &= np.abs(np.abs(r) - kw["clamp"]).min(initial=np.inf) > margin
            ok &= (np.abs(r) > kw["clamp"]).any()  # the clamp must actually matter
        if ok:
            xt = to_torch(x).requires_grad_(True)
            bt = None if b is None else to_torch(b).requires_grad_(True)
            return xt, bt, fu, fd, okw
    raise AssertionError("no kink-free input found")  # pragma: no cover


@impls
@pytest.mark.parametrize("cfg", list(FLRELU))
def test_filtered_lrelu_gradcheck(impl, cfg):
    x, b, fu, fd, kw = _flrelu_inputs(FLRELU[cfg])
    inputs = (x,) if b is None else (x, b)

    def fn(x, b=None):
        return ops.filtered_lrelu(x, fu, fd, b, impl=impl, **kw)

    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


# ---------------------------------------------------------------------------------------------
# numba gradients == ref gradients (first and second order)


def _grads_both(run, x_np, b_np, seed, second_wrt="x"):
    """For each impl: (y, dx, db, second) with second = ∂<dx, v>/∂(x or dy)."""
    out = {}
    for impl in IMPLS:
        x = to_torch(x_np).requires_grad_(True)
        b = None if b_np is None else to_torch(b_np).requires_grad_(True)
        y = run(x, b, impl)
        r = np.random.default_rng(seed)
        dy = to_torch(r.standard_normal(tuple(y.shape))).requires_grad_(True)
        v = to_torch(r.standard_normal(tuple(x.shape)))
        wrt = [x] if b is None else [x, b]
        g = torch.autograd.grad(y, wrt, dy, create_graph=True)
        target = x if second_wrt == "x" else dy
        if g[0].requires_grad:
            (s,) = torch.autograd.grad(g[0], target, v, allow_unused=True)
        else:
            s = None
        s = torch.zeros_like(target) if s is None else s
        out[impl] = (y, g[0], None if b is None else g[1], s)
    return out


def _assert_same(out, what):
    ref, nb = out["ref"], out["numba"]
    for name, a, e in zip(("y", "dx", "db", "second order"), nb, ref):
        if e is None:
            assert a is None, f"{what} {name}"
            continue
        scale = max(1.0, e.abs().max().item()) if e.numel() else 1.0
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10 * scale, msg=f"{what} {name}")


@given(case=upfirdn2d_cases(max_hw=8))
def test_upfirdn2d_numba_gradients_equal_ref(case):
    f = to_torch(case.f)

    def run(x, b, impl):
        return ops.upfirdn2d(x, f, impl=impl, **case.kwargs)

    _assert_same(_grads_both(run, case.x, None, case.seed, second_wrt="dy"), "upfirdn2d")


@given(case=upfirdn1d_cases())
def test_upfirdn1d_numba_gradients_equal_ref(case):
    f = to_torch(case.f)

    def run(x, b, impl):
        return ops.upfirdn1d(x, f, impl=impl, **case.kwargs)

    _assert_same(_grads_both(run, case.x, None, case.seed, second_wrt="dy"), "upfirdn1d")


@settings(max_examples=15)
@given(case=filtered_lrelu_cases(max_hw=8))
def test_filtered_lrelu_numba_gradients_equal_ref(case):
    fu, fd = to_torch(case.fu), to_torch(case.fd)
    kw = case.kwargs
    a, _ = oracle.filtered_lrelu_preactivation(case.x, case.fu, case.fd, case.b, **kw)
    nz = a[a != 0]
    r = np.where(nz < 0, nz * kw["slope"], nz)
    margin = np.abs(nz).min(initial=np.inf)
    if kw["clamp"] is not None:
        margin = min(margin, np.abs(np.abs(r) - kw["clamp"]).min(initial=np.inf))
    assume(margin > 1e-9)  # at a kink the two backends may legitimately pick different sides

    def run(x, b, impl):
        return ops.filtered_lrelu(x, fu, fd, b, impl=impl, **kw)

    # Second order w.r.t. dy: d<dx(dy), v>/d(dy) = J v, which exercises the double backward.
    _assert_same(_grads_both(run, case.x, case.b, case.seed, second_wrt="dy"), "filtered_lrelu")


@given(case=bias_act_cases())
def test_bias_act_numba_gradients_equal_ref(case):
    kw = case.kwargs

    def run(x, b, impl):
        return ops.bias_act(x, b, impl=impl, **kw)

    u = case.x
    if case.b is not None:
        u = u + np.expand_dims(case.b, tuple(i for i in range(u.ndim) if i != kw["dim"]))
    assume(np.abs(u).min() > 1e-9)  # at a kink the one-sided choices may differ
    _assert_same(_grads_both(run, case.x, case.b, case.seed, second_wrt="x"), f"bias_act {kw}")


@pytest.mark.parametrize("op", ["upfirdn2d", "filtered_lrelu", "filtered_act"])
def test_outputs_can_be_changed_in_place(op):
    """An op's output is a tensor of its own: changing it in place and differentiating through
    the change works on every backend (a view made inside an autograd Function would refuse)."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(1, 2, 6, 6, generator=g, dtype=F64)
    f = torch.rand(6, generator=g, dtype=F64)
    calls = {
        "upfirdn2d": lambda x, impl: ops.upfirdn2d(x, f, up=2, padding=2, impl=impl),
        "filtered_lrelu": lambda x, impl: ops.filtered_lrelu(x, f, f, up=2, down=2, padding=5,
                                                             impl=impl),
        "filtered_act": lambda x, impl: ops.filtered_act(x, "snake", f, f, up=2, down=2,
                                                         padding=5, alpha=0.7, impl=impl),
    }
    grads = []
    for impl in IMPLS:
        x = x0.clone().requires_grad_()
        y = calls[op](x, impl)
        y.mul_(2.0)
        (gx,) = torch.autograd.grad(y.square().sum(), x)
        grads.append(gx)
    for gx in grads[1:]:
        torch.testing.assert_close(gx, grads[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("change", ["in place", "numpy view", "new view"])
def test_a_changed_filter_takes_effect_and_spares_earlier_graphs(impl, change):
    """Filters are normalised once and reused while unchanged: a filter changed between two
    calls (in place, through a numpy view that no version counter sees, or a fresh view of a
    changed buffer) gives the second call the new taps, and the first call's backward still
    uses the taps of its own forward."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 2, 7, 7, generator=g, dtype=F64, requires_grad=True)
    buf = torch.rand(2, 6, generator=g, dtype=F64)

    def call(f):
        return ops.filtered_lrelu(x, f, f, up=2, down=2, padding=5, clamp=5.0, impl=impl)

    def expected(f):
        return ops.filtered_lrelu(x, f.clone(), f.clone(), up=2, down=2, padding=5, clamp=5.0,
                                  impl="ref")  # fmt: skip

    y1 = call(buf[0])
    old = buf[0].clone()
    gy = torch.randn(y1.shape, generator=g, dtype=F64)
    (want1,) = torch.autograd.grad(expected(old), x, gy)
    if change == "in place":
        buf[0].mul_(-2.0)
    elif change == "numpy view":
        buf.numpy()[0] *= -2.0
    else:
        buf = buf * -2.0
    y2 = call(buf[0])
    torch.testing.assert_close(y2, expected(buf[0]), rtol=1e-12, atol=1e-12)
    assert not torch.allclose(y2, y1)
    (got1,) = torch.autograd.grad(y1, x, gy)
    torch.testing.assert_close(got1, want1, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_filters_first_met_in_inference_mode_serve_autograd(impl):
    """A filter normalised under ``torch.inference_mode`` (and cached) still serves calls that
    record a graph: inference tensors cannot be saved for backward."""
    f = torch.rand(8, dtype=F64, generator=torch.Generator().manual_seed(5))
    x = torch.randn(1, 2, 9, 9, dtype=F64)
    calls = [lambda x: ops.upfirdn2d(x, f, up=2, padding=4, impl=impl),
             lambda x: ops.upfirdn1d(x[0], f, up=3, down=2, padding=4, impl=impl)]  # fmt: skip
    for call in calls:
        with torch.inference_mode():
            y0 = call(x)
        xg = x.clone().requires_grad_()
        y = call(xg)
        y.square().sum().backward()
        torch.testing.assert_close(y.detach(), y0)
        assert xg.grad is not None and torch.isfinite(xg.grad).all()


def _fd_jvp(fn, x, t, eps=1e-6):
    return (fn(x + eps * t) - fn(x - eps * t)) / (2 * eps)


_F3 = torch.tensor([0.25, 0.5, 0.25], dtype=F64)
_JVP_OPS = {
    "upfirdn2d": lambda x, **kw: ops.upfirdn2d(x, _F3, up=2, padding=1, **kw),
    "upfirdn1d": lambda x, **kw: ops.upfirdn1d(x[0], _F3, up=3, down=2, padding=2, **kw),
    "filtered_lrelu": lambda x, **kw: ops.filtered_lrelu(x, _F3, _F3, up=2, down=2, padding=2,
                                                          **kw),
    "filtered_act1d-snake": lambda x, **kw: ops.filtered_act1d(
        x[0], "snake", _F3, _F3, up=2, down=2, padding=2, alpha=torch.full((6,), 0.7, dtype=F64),
        **kw),
    "resample_poly": lambda x, **kw: ops.resample_poly(x, 3, 2, **kw),
}


@pytest.mark.parametrize("op", list(_JVP_OPS))
def test_forward_mode_ad_carries_the_tangent(op):
    """Dual tensors (torch.autograd.forward_ad): 'auto' runs the reference, whose output carries
    the tangent (the fused custom ops have no jvp formula: the tangent was silently dropped);
    the tangent equals a central difference. Asked for by name, 'numba' says it cannot."""
    fn = _JVP_OPS[op]
    rng = np.random.default_rng(3)
    x = to_torch(rng.uniform(0.2, 1.0, (1, 2, 6, 7)))  # positive: no kink of the leaky ReLU
    t = to_torch(rng.standard_normal(x.shape))
    fwad = torch.autograd.forward_ad
    with fwad.dual_level():
        y = fn(fwad.make_dual(x, t))
        tangent = fwad.unpack_dual(y).tangent
        with pytest.raises(ValueError, match=r"impl='numba' has no forward-mode derivative"):
            fn(fwad.make_dual(x, t), impl="numba")
    assert tangent is not None
    torch.testing.assert_close(tangent, _fd_jvp(fn, x, t), rtol=1e-6, atol=1e-7)
    assert fwad.unpack_dual(fn(x)).tangent is None  # outside a dual level: the fused path


_JVP_PARAMS = {  # (op, the dual argument): x plain, a bias or an activation parameter dual
    ("bias_act", "b"): lambda x, p, **kw: ops.bias_act(x, p, act="lrelu", **kw),
    ("filtered_lrelu", "b"): lambda x, p, **kw: ops.filtered_lrelu(
        x, _F3, _F3, p, up=2, down=2, padding=2, **kw),
    ("filtered_act", "b"): lambda x, p, **kw: ops.filtered_act(
        x, "gelu", _F3, _F3, p, up=2, down=2, padding=2, **kw),
    ("filtered_act", "alpha"): lambda x, p, **kw: ops.filtered_act(
        x, "snake", _F3, _F3, up=2, down=2, padding=2, alpha=p, **kw),
    ("filtered_act1d", "beta"): lambda x, p, **kw: ops.filtered_act1d(
        x[:, :, 0], "snakebeta", _F3, _F3, up=2, down=2, padding=2, alpha=torch.ones_like(p),
        beta=p,
        **kw),
}


@pytest.mark.parametrize("op, name", list(_JVP_PARAMS))
def test_forward_mode_ad_through_a_parameter(op, name):
    """Only a bias or an activation parameter dual: 'numba' ran and its output carried no
    tangent (a derivative of zero, silently); now it names the dual argument, and 'auto' gives
    the tangent, equal to a central difference in that parameter."""
    fn = _JVP_PARAMS[op, name]
    rng = np.random.default_rng(4)
    x = to_torch(rng.uniform(0.2, 1.0, (1, 2, 6, 7)))
    p, t = to_torch(rng.uniform(0.5, 1.5, 2)), to_torch(rng.standard_normal(2))
    fwad = torch.autograd.forward_ad
    with fwad.dual_level():
        tangent = fwad.unpack_dual(fn(x, fwad.make_dual(p, t))).tangent
        with pytest.raises(ValueError, match=rf"^{op}: impl='numba' has no forward-mode "
                           rf"derivative \({name} is a dual tensor of"):
            fn(x, fwad.make_dual(p, t), impl="numba")
    assert tangent is not None
    torch.testing.assert_close(tangent, _fd_jvp(lambda q: fn(x, q), p, t), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call", ["filtered_lrelu", "filtered_act-gelu", "filtered_act1d-snake"])
def test_inference_mode_input_with_a_trainable_bias(call):
    """x made under torch.inference_mode with a trainable bias (or Snake α): autograd cannot
    save an inference tensor, which the backward formulas save (the fused backends', and
    'ref''s recomputing one); they save a copy, and the gradients agree."""
    f = torch.tensor([0.25, 0.5, 0.25])
    with torch.inference_mode():
        x = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    calls = {
        "filtered_lrelu": lambda b, a, impl: ops.filtered_lrelu(
            x, f, f, b, up=2, down=2, padding=2, impl=impl),
        "filtered_act-gelu": lambda b, a, impl: ops.filtered_act(
            x, "gelu", f, f, b, up=2, down=2, padding=2, impl=impl),
        "filtered_act1d-snake": lambda b, a, impl: ops.filtered_act1d(
            x[0], "snake", f, f, b, up=2, down=2, padding=2, alpha=a, impl=impl),
    }
    grads = {}
    channels = 8 if call == "filtered_act1d-snake" else 2  # (x[0]: [2, 8, 8] as [N, C, L])
    for impl in ("ref", "numba"):
        b = torch.zeros(channels, requires_grad=True)
        a = torch.full((8,), 0.6, requires_grad=True)
        calls[call](b, a, impl).square().sum().backward()
        grads[impl] = (b.grad, a.grad)
    torch.testing.assert_close(grads["numba"], grads["ref"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_user_filters_are_left_as_they_were(impl):
    """Reading a filter's taps (to know it again) leaves the user's tensor alone: it stays
    resizable (a numpy view of it would pin its storage, and a later ``resize_`` would leave it
    claiming memory it does not have), and a negative-bit view, which numpy refuses, works."""
    x = torch.randn(1, 1, 8, dtype=F64)
    f = torch.rand(4, dtype=F64)
    ops.upfirdn1d(x, f, up=2, impl=impl)
    f.resize_(5000)
    assert f.untyped_storage().nbytes() >= 5000 * 8
    plain = torch.rand(4, dtype=F64)
    neg = torch._neg_view(plain)  # is_neg(): plain's memory, its values negated
    assert neg.is_neg() and neg.is_contiguous()
    neg_strided = torch.randn(4, dtype=torch.complex128).conj().imag
    for f in (plain, neg, neg.resolve_neg(), neg_strided):  # equal memory or equal values
        torch.testing.assert_close(ops.upfirdn1d(x, f, up=2, impl=impl),
                                   ops.upfirdn1d(x, f.clone(), up=2, impl="ref"))  # fmt: skip
    strided = torch.rand(12, dtype=F64)[::2]  # a view that is not contiguous, changed in place
    before = ops.upfirdn1d(x, strided, up=2, impl=impl)
    strided.mul_(-1.5)
    after = ops.upfirdn1d(x, strided, up=2, impl=impl)
    torch.testing.assert_close(after, before * -1.5)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: ops.upfirdn1d(x, x.new_tensor([0.1, 0.5, 0.9, 0.3, 0.2]), up=3, down=2,
                                padding=3, impl="ref"),
        lambda x: ops.upfirdn2d(x[:, :, None].expand(-1, -1, 3, -1),
                                x.new_tensor([0.1, 0.5, 0.9, 0.3]), up=3, down=2, padding=2,
                                impl="ref"),
        lambda x: ops.resample_poly(x, 3, 2, impl="ref"),
        lambda x: ops.resample_poly(x, 2, 3, impl="ref"),
    ],
    ids=["upfirdn1d 3/2", "upfirdn2d 3/2", "resample_poly 3/2", "resample_poly 2/3"],
)  # fmt: skip
def test_ref_rational_passes_take_batched_gradients(call):
    """The older vmap of ``is_grads_batched`` / ``gradcheck(check_batched_grad=True)`` hides
    the values from Python and cannot batch a slice of everything (``alias``): 'ref' rational
    passes take neither path there (they raised before)."""
    x = torch.randn(1, 2, 9, dtype=F64, generator=torch.Generator().manual_seed(2),
                    requires_grad=True)  # fmt: skip
    assert gradcheck(call, (x,), check_batched_grad=True)


def test_ref_one_channel_frames_take_batched_gradients():
    """A one-channel pass long enough for the frames path, its gradient batched: equal to the
    gradients taken one by one."""
    f = torch.rand(12, dtype=F64, generator=torch.Generator().manual_seed(4))
    x = torch.randn(1, 1, 1 << 14, dtype=F64, requires_grad=True)
    y = ops.upfirdn1d(x, f, up=2, padding=(6, 5), impl="ref")
    gs = torch.randn(3, *y.shape, dtype=F64)
    (batched,) = torch.autograd.grad(y, x, gs, is_grads_batched=True, retain_graph=True)
    one_by_one = torch.stack([torch.autograd.grad(y, x, g, retain_graph=True)[0] for g in gs])
    torch.testing.assert_close(batched, one_by_one)


_F4 = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=F64) / 8
_EMPTY_OPS = {
    "upfirdn2d": lambda x, impl: ops.upfirdn2d(x, _F4, up=2, padding=2, impl=impl),
    "upfirdn2d 2-D filter": lambda x, impl: ops.upfirdn2d(x, torch.outer(_F4, _F4), down=2,
                                                          impl=impl),
    "upfirdn1d": lambda x, impl: ops.upfirdn1d(x[:, :, 0], _F4, up=3, down=2, padding=2,
                                               impl=impl),
    "filtered_lrelu": lambda x, impl: ops.filtered_lrelu(x, _F4, _F4, up=2, down=2, padding=3,
                                                         impl=impl),
    "filtered_act": lambda x, impl: ops.filtered_act(x, "gelu", _F4, _F4, up=2, down=2,
                                                     padding=3, impl=impl),
    "filtered_act1d": lambda x, impl: ops.filtered_act1d(
        x[:, :, 0], "tanh", _F4, _F4, up=2, down=2, padding=3, padding_mode="replicate",
        impl=impl),
}  # fmt: skip


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("op", list(_EMPTY_OPS))
@pytest.mark.parametrize("shape", [(0, 3, 5, 6), (2, 0, 5, 6)], ids=["no batch", "no channels"])
def test_an_empty_batch_or_channel_axis_stays_on_the_graph(impl, op, shape):
    """Zero samples or zero channels: the (empty) result is still part of the graph, as on the
    other backend and as torch's own ops, so ``y.sum().backward()`` gives x an empty gradient
    ('ref' made zero channels from a fresh zeros tensor: "does not require grad")."""
    x = torch.randn(shape, dtype=F64, requires_grad=True)
    y = _EMPTY_OPS[op](x, impl)
    assert y.numel() == 0 and y.requires_grad
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.shape == x.shape


_INFERENCE_OPS = {
    "upfirdn2d": lambda x, p, impl: ops.upfirdn2d(x, _F4, up=2, padding=2, impl=impl),
    "filtered_lrelu": lambda x, p, impl: ops.filtered_lrelu(
        x, _F4, _F4, p, up=2, down=2, padding=3, impl=impl),
    "filtered_act snake": lambda x, p, impl: ops.filtered_act(
        x, "snake", _F4, _F4, up=2, down=2, padding=3, alpha=p + 1, impl=impl),
    "filtered_act circular cropped": lambda x, p, impl: ops.filtered_act(
        x, "snake", _F4, _F4, up=2, down=2, padding=3, alpha=p + 1, padding_mode="circular",
        down_padding=-1, impl=impl),
    "bias_act": lambda x, p, impl: ops.bias_act(x, p, act="lrelu", impl=impl),
    "resample_poly": lambda x, p, impl: ops.resample_poly(x, 3, 2, impl=impl),
}


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("op", list(_INFERENCE_OPS))
@pytest.mark.parametrize("trainable", ["x", "bias or alpha"])
def test_enable_grad_inside_inference_mode_records_nothing(impl, op, trainable):
    """``torch.enable_grad()`` inside ``torch.inference_mode()`` with tensors that require grad:
    inference mode records no graph (the result is an inference tensor), on every backend; the
    fused backends ran their autograd Function there and failed saving the inference tensors."""
    with torch.inference_mode():
        x = torch.randn(2, 3, 6, 7, dtype=F64, requires_grad=trainable == "x")
        p = torch.rand(3, dtype=F64, requires_grad=trainable != "x")
        with torch.enable_grad():
            y = _INFERENCE_OPS[op](x, p, impl)
    assert y.is_inference() and not y.requires_grad
    want = _INFERENCE_OPS[op](x.clone(), p.clone(), "ref")
    torch.testing.assert_close(y, want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Learned filters: a filter that requires grad gets its gradient, to any order


def _tap_gradient_oracle(u, g, k, d):
    """``w[j] = Σ_m Σ_o g[m, o] · u[m, o·d + j]``, plain float64 loops."""
    w = np.zeros(k)
    for m in range(g.shape[0]):
        for o in range(g.shape[1]):
            for j in range(k):
                w[j] += g[m, o] * u[m, o * d + j]
    return w


@given(m=st.integers(1, 4), o=st.integers(1, 40), k=st.integers(1, 9), d=st.integers(1, 4),
       extra=st.integers(0, 3), block=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_tap_gradient_equals_a_loop(m, o, k, d, extra, block, seed):
    """The filter gradient's matrix form (blocks of outputs, a shorter last one, a ``u`` longer
    than the outputs read) against the sum it stands for."""
    from bandlimit.ops._custom_ops import tap_gradient

    rng = np.random.default_rng(seed)
    u = rng.standard_normal((m, (o - 1) * d + k + extra))
    g = rng.standard_normal((m, o))
    got = tap_gradient(to_torch(u), to_torch(g), k, d, block=block)
    np.testing.assert_allclose(got.numpy(), _tap_gradient_oracle(u, g, k, d), rtol=1e-12,
                               atol=1e-12)  # fmt: skip


@given(m=st.integers(1, 3), n=st.integers(1, 12), k=st.integers(1, 12), u=st.integers(1, 6),
       d=st.integers(1, 5), p0=st.integers(-8, 8), p1=st.integers(-8, 8),
       seed=st.integers(0, 2**16))  # fmt: skip
def test_upsampled_tap_gradient_equals_a_loop_on_the_zero_stuffed_signal(m, n, k, u, d, p0, p1,
                                                                        seed):
    """The per-phase form (never forming the up-sampling's zeros, crops included) against the
    same sum over the explicitly zero-stuffed and padded signal."""
    from bandlimit.ops._custom_ops import upsampled_tap_gradient

    length = n * u + p0 + p1  # the padded signal's length
    assume(length >= k)
    o = (length - k) // d + 1
    rng = np.random.default_rng(seed)
    v, g = rng.standard_normal((m, n)), rng.standard_normal((m, o))
    z = np.zeros((m, length))
    for i in range(n):
        if 0 <= p0 + i * u < length:
            z[:, p0 + i * u] = v[:, i]
    got = upsampled_tap_gradient(to_torch(v), to_torch(g), k, u, d, p0)
    np.testing.assert_allclose(got.numpy(), _tap_gradient_oracle(z, g, k, d), rtol=1e-12,
                               atol=1e-12)  # fmt: skip


@impls
@pytest.mark.parametrize("cfg", [c for c in UPFIRDN2D if UPFIRDN2D[c]["f"] is not None])
def test_upfirdn2d_filter_gradcheck(impl, cfg):
    """Separable and full 2-D filters, cropping pads, gains and flips: first and second order
    with respect to the filter and the input together."""
    kw = dict(UPFIRDN2D[cfg])
    rng = np.random.default_rng(1)
    f = _filter(rng, kw.pop("f")).requires_grad_(True)
    x = to_torch(rng.standard_normal((2, 2, 4, 5))).requires_grad_(True)

    def fn(x, f):
        return ops.upfirdn2d(x, f, impl=impl, **kw)

    assert gradcheck(fn, (x, f))
    assert gradgradcheck(fn, (x, f))


@impls
@pytest.mark.parametrize("cfg", [c for c in UPFIRDN1D if UPFIRDN1D[c]["f"] is not None])
def test_upfirdn1d_filter_gradcheck(impl, cfg):
    kw = dict(UPFIRDN1D[cfg])
    rng = np.random.default_rng(2)
    f = _filter(rng, kw.pop("f")).requires_grad_(True)
    x = to_torch(rng.standard_normal((2, 2, 9))).requires_grad_(True)

    def fn(x, f):
        return ops.upfirdn1d(x, f, impl=impl, **kw)

    assert gradcheck(fn, (x, f))
    assert gradgradcheck(fn, (x, f))


@settings(max_examples=25)
@given(case=upfirdn2d_cases(max_hw=8))
def test_upfirdn2d_numba_filter_gradients_equal_ref(case):
    """The fused backend's filter gradient (the op on one axis, then a correlation with the
    output gradient) against autograd through the reference's convolutions."""
    assume(case.f is not None)
    grads = {}
    for impl in IMPLS:
        f = to_torch(case.f).requires_grad_(True)
        x = to_torch(case.x).requires_grad_(True)
        y = ops.upfirdn2d(x, f, impl=impl, **case.kwargs)
        dy = to_torch(np.random.default_rng(case.seed).standard_normal(tuple(y.shape)))
        grads[impl] = torch.autograd.grad(y, (x, f), dy)
    for got, want in zip(grads["numba"], grads["ref"]):
        scale = max(1.0, want.abs().max().item())
        torch.testing.assert_close(got, want, rtol=0, atol=1e-10 * scale)


_LEARNED_ACTS = {
    "filtered_lrelu": lambda x, fu, fd, **kw: ops.filtered_lrelu(
        x, fu, fd, up=2, down=2, padding=3, clamp=0.9, **kw),
    "filtered_act-gelu-replicate": lambda x, fu, fd, **kw: ops.filtered_act(
        x, "gelu", fu, fd, up=2, down=2, padding=3, padding_mode="replicate", **kw),
    "filtered_act-callable": lambda x, fu, fd, **kw: ops.filtered_act(
        x, torch.tanh, fu, fd, up=2, down=1, padding=3, **kw),
    "filtered_act1d-snake": lambda x, fu, fd, **kw: ops.filtered_act1d(
        x[:, :, 0], "snake", fu, fd, up=2, down=2, padding=3, alpha=torch.full(
            (2,), 0.7, dtype=F64), **kw),
}


@pytest.mark.parametrize("impl", ["auto", "ref", "numba"])
@pytest.mark.parametrize("op", list(_LEARNED_ACTS))
def test_filtered_activations_learn_their_filters(impl, op):
    """The fused kernels take filters as constants: a filter that requires grad runs the
    reference's composition with the backend's upfirdn stages, and gets its gradient (finite
    differences, both orders)."""
    fn = _LEARNED_ACTS[op]
    rng = np.random.default_rng(5)
    x = to_torch(rng.uniform(0.2, 1.0, (1, 2, 5, 6))).requires_grad_(True)  # kink-free lrelu
    fu = to_torch(rng.uniform(0.2, 1.0, 4)).requires_grad_(True)
    fd = to_torch(rng.uniform(0.2, 1.0, 4 if op.startswith("filtered_act1d") else (3, 3)))
    fd.requires_grad_(True)

    def run(x, fu, fd):
        return fn(x, fu, fd, impl=impl)

    assert gradcheck(run, (x, fu, fd))
    assert gradgradcheck(run, (x, fu, fd))
    # only the one filter that learns
    (g,) = torch.autograd.grad(run(x, fu.detach(), fd).sum(), (fd,))
    (g_ref,) = torch.autograd.grad(fn(x, fu.detach(), fd, impl="ref").sum(), (fd,))
    torch.testing.assert_close(g, g_ref)


def test_a_filter_is_learned_by_gradient_descent():
    """A user's view: the taps that made a signal, found again from the signal alone (a
    least-squares fit through the numba backend's filter gradient)."""
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.standard_normal((4, 3, 40))).float()
    target_taps = torch.tensor([0.1, -0.3, 0.8, 0.4, -0.2])
    y = ops.upfirdn1d(x, target_taps, up=3, down=2, padding=(4, 2))
    taps = torch.zeros(5, requires_grad=True)
    opt = torch.optim.LBFGS([taps], lr=1.0, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (ops.upfirdn1d(x, taps, up=3, down=2, padding=(4, 2), impl="numba") - y)
        loss = loss.square().mean()
        loss.backward()
        return loss

    opt.step(closure)
    torch.testing.assert_close(taps.detach(), target_taps, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("up", "down"), [(3, 2), (1, 3), (2, 1)])
def test_filter_gradients_under_torch_func(up, down):
    """torch.func.grad, jvp, jacfwd/jacrev and dual tensors with respect to the filter (the
    reference's one-axis passes, which differentiated the signal only, included): the same
    linear map as reverse mode on a filter that requires grad."""
    rng = np.random.default_rng(up * 7 + down)
    x = to_torch(rng.standard_normal((2, 2, 40)))
    f, t = to_torch(rng.standard_normal(6)), to_torch(rng.standard_normal(6))

    def fn(f):
        return ops.upfirdn1d(x, f, up=up, down=down, padding=(3, 2))

    leaf = f.clone().requires_grad_(True)
    fn(leaf).square().sum().backward()
    torch.testing.assert_close(torch.func.grad(lambda f: fn(f).square().sum())(f), leaf.grad)
    _, tangent = torch.func.jvp(lambda f: fn(f).square().sum(), (f,), (t,))
    torch.testing.assert_close(tangent, (leaf.grad * t).sum())
    torch.testing.assert_close(torch.func.jacfwd(fn)(f), torch.func.jacrev(fn)(f))
    fwad = torch.autograd.forward_ad
    with fwad.dual_level():
        dual = fwad.unpack_dual(fn(fwad.make_dual(f, t))).tangent
    torch.testing.assert_close(dual, fn(t))  # linear in f


@pytest.mark.parametrize("op", ["upfirdn2d", "filtered_act"])
def test_a_parameter_filter_compiles_and_learns(op):
    """A module whose filter is a Parameter compiles with fullgraph=True (a warning used to
    stand in the graph's way) and gets the eager gradients."""

    class Blur(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f = torch.nn.Parameter(torch.tensor([0.25, 0.5, 0.25], dtype=F64))

        def forward(self, x):
            if op == "upfirdn2d":
                return ops.upfirdn2d(x, self.f, up=2, padding=2, impl="numba")
            return ops.filtered_act(x, "gelu", self.f, self.f, up=2, down=2, padding=2)

    x = torch.randn(1, 2, 6, 6, dtype=F64)
    model = Blur()
    model(x).square().sum().backward()
    eager = model.f.grad.clone()
    model.f.grad = None
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    compiled(x).square().sum().backward()
    torch.testing.assert_close(model.f.grad, eager)


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("guard", ["no_grad", "inference_mode"])
def test_a_parameter_filter_met_without_grad_leaves_no_graph_in_the_cache(impl, guard):
    """The per-filter cache makes its entries under inference_mode(False), which turns grad
    mode back on: a Parameter filter first met under no_grad was cached with its graph, and a
    later call with a constant filter of the same taps sent its gradient to the Parameter (then
    "backward through the graph a second time")."""
    p = torch.nn.Parameter(torch.tensor([0.25, 0.5, 0.25], dtype=F64))
    x = torch.randn(1, 1, 8, dtype=F64)
    with getattr(torch, guard)():
        ops.upfirdn1d(x, p, up=2, padding=1, impl=impl)
    y = ops.upfirdn1d(x, torch.tensor([0.25, 0.5, 0.25], dtype=F64), up=2, padding=1, impl=impl)
    assert not y.requires_grad and p.grad is None
    for _ in range(2):  # a learned call after it still learns, twice
        ops.upfirdn1d(x, p, up=2, padding=1, impl=impl).sum().backward()
    assert p.grad is not None


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_learned_filter_keeps_numbas_float32_for_half_input(dtype):
    """numba computes half-precision input in float32 and rounds once; a learned filter ran
    'ref' in the half type instead (twice the error of the constant filter)."""
    f = torch.tensor([0.1, 0.25, 0.3, 0.25, 0.1])
    x = torch.randn(1, 2, 12, 12).to(dtype)
    kw = dict(up=2, down=2, padding=4, impl="numba")
    learned = ops.filtered_lrelu(x, f.clone().requires_grad_(True), f, **kw)
    assert learned.dtype == dtype
    eps = torch.finfo(dtype).eps  # (one rounding apart at most)
    torch.testing.assert_close(learned, ops.filtered_lrelu(x, f, f, **kw), rtol=eps, atol=eps)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_resample_poly_learns_taps_that_require_grad(impl):
    """resample_poly(window=<taps that require grad>) detached them (no gradient, silently),
    while ResamplePoly with a Parameter in place of its taps learned them; both learn now, and
    at 160/147 the phases of the numba backend's filter gradient never form the up-sampling's
    zeros (it took 1.4 s and 1 GB for 16 x 44.1k samples)."""
    rng = np.random.default_rng(8)
    x = to_torch(rng.standard_normal((1, 2, 11)))
    taps = to_torch(rng.standard_normal(9)).requires_grad_(True)

    def fn(taps):
        return ops.resample_poly(x, 3, 2, window=taps, padtype="line", impl=impl)

    assert gradcheck(fn, (taps,)) and gradgradcheck(fn, (taps,))
    long = torch.randn(2, 1, 3000, dtype=F64)
    f = torch.from_numpy(np.hanning(401)).requires_grad_(True)
    grads = [torch.autograd.grad(ops.resample_poly(long, 160, 147, window=f, impl=i).square()
                                 .sum(), f)[0] for i in ("ref", impl)]  # fmt: skip
    torch.testing.assert_close(grads[1], grads[0])


# ---------------------------------------------------------------------------------------------
# What autograd holds ('ref')


@pytest.mark.parametrize("wanted", [("x",), ("b",), ("alpha",), ("beta", "b"), ("x", "alpha")])
def test_ref_backward_computes_the_gradients_asked_for(wanted):
    """With only some inputs requiring grad, the recomputing backward skips the rest (dv's
    up-stage when only alpha / beta learn, the parameters' sums when they do not) and still
    equals autograd through the composition (float64)."""
    from bandlimit.ops import reference
    from bandlimit.ops._activations import get_filtered_activation
    from bandlimit.ops._params import make_fir

    g = torch.Generator().manual_seed(7)
    c = 3
    inputs = {"x": torch.randn(2, c, 9, 8, generator=g, dtype=F64),
              "b": torch.randn(c, generator=g, dtype=F64),
              "alpha": torch.rand(c, generator=g, dtype=F64) + 0.5,
              "beta": torch.rand(c, generator=g, dtype=F64) + 0.5}  # fmt: skip
    f = torch.rand(6, generator=g, dtype=F64)

    def grads():
        t = {k: v.clone().requires_grad_(k in wanted) for k, v in inputs.items()}
        y = ops.filtered_act(t["x"], "snakebeta", f, f, t["b"], up=2, down=2,
                             padding=(3, 2, 3, 2), alpha=t["alpha"], beta=t["beta"], clamp=1.0,
                             impl="ref")  # fmt: skip
        return torch.autograd.grad(y, [t[k] for k in wanted], torch.ones_like(y))

    got = grads()
    with ref_as_composition():
        want = grads()
    for a, e in zip(got, want, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-12)
    # what the formula leaves out
    fu = make_fir(f, flip_filter=False, gain=(2.0, 2.0), dtype=F64, device=torch.device("cpu"))
    x, b, alpha, beta = inputs.values()
    geometry = (fu, fu, (2, 2), (2, 2), (3, 2, 3, 2), get_filtered_activation("snakebeta"),
                alpha, 1.0, None)
    dy = torch.ones_like(reference.filtered_act(x, b, *geometry, beta=beta))
    args = (x, b, dy, *geometry)
    dv, da, db = reference.filtered_act_vjp(*args, beta=beta, need_dv=False)
    assert dv is None and da is not None and db is not None
    dv, da, db = reference.filtered_act_vjp(*args, beta=beta, need_params=False)
    assert dv is not None and da is None and db is None


@pytest.mark.parametrize("act", ["lrelu", "gelu", "snakebeta"])
@pytest.mark.parametrize("nd", [1, 2])
def test_ref_filtered_activations_hold_only_their_inputs(act, nd):
    """A 'ref' filtered activation keeps its inputs (x, bias, alpha, beta) for autograd and
    recomputes the up-sampled signal in its backward: autograd through its composition of
    PyTorch ops held that signal and its branch masks, 25x (lrelu), 36x (GELU) and 40x
    (SnakeBeta) the input here."""
    c = 4
    x = torch.randn(2, c, *[16] * nd, requires_grad=True)
    b = torch.randn(c, requires_grad=True)
    params = {}
    if act in ("snake", "snakebeta"):
        params["alpha"] = (torch.rand(c) + 0.5).requires_grad_(True)
    if act == "snakebeta":
        params["beta"] = (torch.rand(c) + 0.5).requires_grad_(True)
    f = torch.rand(12)
    op = ops.filtered_act1d if nd == 1 else ops.filtered_act
    y, held = saved_bytes(lambda: op(
        x, act, f, f, b, up=2, down=2, padding=(6, 5) * nd, down_padding=(5, 6) * nd,
        padding_mode="replicate", clamp=2.0, impl="ref", **params))
    y.square().sum().backward()
    inputs = [x, b, *params.values()]
    assert held == sum(v.numel() * v.element_size() for v in inputs)
    assert all(v.grad is not None and bool(torch.isfinite(v.grad).all()) for v in inputs)


_RNG = torch.Generator().manual_seed(11)
_F12, _F9, _F6 = (torch.rand(k, dtype=F64, generator=_RNG) for k in (12, 9, 6))
_F54 = torch.rand(5, 4, dtype=F64, generator=_RNG)
_LINEAR_OPS = {
    "upfirdn2d up": lambda x: ops.upfirdn2d(x, _F12, up=2, padding=(6, 5, 6, 5), impl="ref"),
    "upfirdn2d full 2-D": lambda x: ops.upfirdn2d(x, _F54, up=(2, 3), down=(3, 1),
                                                  padding=(1, 2, 3, 0), impl="ref"),
    "downsample2d": lambda x: ops.downsample2d(x, _F6, impl="ref"),
    "upfirdn1d rational": lambda x: ops.upfirdn1d(x[:, :, 0], _F9, up=3, down=2, impl="ref"),
    "resample_poly": lambda x: ops.resample_poly(x, 3, 2, impl="ref"),
    "upsample3d": lambda x: ops.upsample3d(x[:, None], _F6, impl="ref"),
}


@pytest.mark.parametrize("op", list(_LINEAR_OPS))
def test_ref_linear_ops_hold_nothing_of_the_input(op):
    """The 'ref' upfirdn ops are linear in x: their backward is the adjoint op, which needs no
    value of x, so autograd holds nothing (the convolutions' autograd held their inputs, 1 + up
    times the input for a separable up-sampling), and the gradient is still the adjoint's:
    ``<op(x), g> = <x, op^T(g)>``."""
    x = torch.randn(2, 3, 16, 16, dtype=F64, requires_grad=True)
    y, held = saved_bytes(lambda: _LINEAR_OPS[op](x))
    assert held == 0
    g = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, g)
    with torch.no_grad():
        z = torch.randn_like(x)
        lhs = (_LINEAR_OPS[op](z) * g).sum()
    torch.testing.assert_close(lhs, (z * gx).sum(), rtol=1e-12, atol=1e-12)


def test_ref_linear_stages_of_a_callable_act_hold_nothing():
    """A callable act runs between two 'linear' filtered stages: they hold nothing for
    autograd (linear, no clamp: the adjoint upfirdn), so what is held is the callable's own
    (Mish keeps its input, the up-sampled signal: about ``up`` times x in 1-D)."""
    x = torch.randn(1, 8, 256, requires_grad=True)
    f = torch.rand(12)
    _, held = saved_bytes(lambda: ops.filtered_act1d(x, "linear", f, f, up=2, down=2,
                                                      padding=(6, 5), impl="ref"))
    assert held == 0
    y, held = saved_bytes(lambda: ops.filtered_act1d(x, torch.nn.Mish(), f, f, up=2, down=2,
                                                      padding=(6, 5), impl="ref"))
    u_bytes = 8 * (2 * 256 + 11 - 12 + 1) * 4  # the up-sampled signal, float32
    assert held == u_bytes
    y.sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
