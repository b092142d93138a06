"""filtered_act / filtered_act1d: every activation × 1-D/2-D × padding mode × backend against an
independent float64 NumPy oracle; gradients (x, b, alpha, beta) with gradcheck; exact properties
(filtered_lrelu equality, circular shift equivariance); bad input."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erf

from bandlimit import ops
from tests.ops import oracle
from tests.ops.strategies import (
    IMPLS,
    assert_close,
    random_filter,
    ref_as_composition,
    to_np,
    to_torch,
)

ALL_ACTS = [
    "linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish", "silu",
    "gelu", "gelu_tanh", "snake", "snakebeta",
]
MODES = ["zeros", "replicate", "circular"]

# ---------------------------------------------------------------------------------------------
# The oracle: explicit loops over the definitions (float64 NumPy, no torch, no library code)


GELU_K = math.sqrt(2 / math.pi)


def np_act(name, u, alpha, beta):
    """``act(u)`` with per-channel ``alpha``/``beta`` ``[C]`` broadcast over axis 1; ``name``
    may be a NumPy function (a callable act's counterpart)."""
    if callable(name):
        return name(u)
    s = 1 / (1 + np.exp(-u))
    if name in ("snake", "snakebeta"):
        a = np.asarray(alpha, dtype=np.float64).reshape(1, -1, *[1] * (u.ndim - 2))
        den = a if name == "snake" else np.asarray(beta).reshape(a.shape)
        return u + np.sin(a * u) ** 2 / (den + 1e-9)
    table = {
        "gelu": lambda: 0.5 * u * (1 + erf(u / math.sqrt(2))),
        "gelu_tanh": lambda: 0.5 * u * (1 + np.tanh(GELU_K * (u + 0.044715 * u**3))),
        "silu": lambda: u * s,
        "swish": lambda: u * s,
        "lrelu": lambda: np.where(u < 0, alpha * u, u),
    }
    if name in table:
        return table[name]()
    return oracle._act_table(0.0)[name][0](u)


DEFAULT_GAIN = {"relu": math.sqrt(2), "lrelu": math.sqrt(2), "swish": math.sqrt(2),
                "silu": math.sqrt(2)}


def mode_pad(x, p0, p1, mode, up):
    """Pad the zero-inserted signal along the last axis: padded position ``m`` holds, when
    ``q = m − p0`` is a multiple of ``up``, the input sample ``q/up`` — clamped into range
    (replicate), wrapped (circular) or only if inside (zeros) — and zero otherwise."""
    L = x.shape[-1]
    out = np.zeros((*x.shape[:-1], L * up + p0 + p1))
    for m in range(out.shape[-1]):
        q = m - p0
        if q % up:
            continue
        i = q // up
        if mode == "replicate":
            i = min(max(i, 0), L - 1)
        elif mode == "circular":
            i %= L
        elif not 0 <= i < L:
            continue
        out[..., m] = x[..., i]
    return out


def np_filtered_act(x, act, fu, fd, b, up, down, pad, mode, dpad, gain, clamp, alpha, beta,
                    flip, ndim):
    """The op's steps along the last ``ndim`` axes (``pad``/``dpad`` as (x0, x1, y0, y1, z0,
    z1), as far as ``ndim`` reaches; ``up``/``down`` one factor, or one per axis, x first)."""
    axes = [-1, -2, -3][:ndim]
    ups = list(up) if isinstance(up, (tuple, list)) else [up] * ndim
    downs = list(down) if isinstance(down, (tuple, list)) else [down] * ndim
    v = np.asarray(x, np.float64)
    if b is not None:
        v = v + np.asarray(b).reshape(1, -1, *[1] * (v.ndim - 2))

    def stage(v, f, factors, p, gains):
        for k, ax in enumerate(axes):
            v = np.moveaxis(mode_pad(np.moveaxis(v, ax, -1), p[2 * k], p[2 * k + 1], mode,
                                     factors[k]), -1, ax)
        if isinstance(f, (tuple, list)):  # one filter per axis, x first (None: not filtered)
            for k, ax in enumerate(axes):
                h = np.ones(1) if f[k] is None else np.asarray(f[k], np.float64)
                v = oracle._on_axis(oracle.conv_valid, v, ax, (h[::-1] if flip else h) * gains[k])
            return v
        if f is None:
            return v * math.prod(gains)
        f = np.asarray(f, np.float64)
        if f.ndim == 2 and ndim == 2:
            return oracle.conv_valid_2d(v, (f[::-1, ::-1] if flip else f) * math.prod(gains))
        h = f[::-1] if flip else f
        for k, ax in enumerate(axes):
            v = oracle._on_axis(oracle.conv_valid, v, ax, h * gains[k])
        return v

    u = stage(v, fu, ups, pad, [float(u_) for u_ in ups])
    a = np_act(act, u, alpha, beta) * gain
    if clamp is not None:
        a = np.clip(a, -clamp, clamp)
    w = stage(a, fd, [1] * ndim, dpad, [1.0] * ndim)
    for k, ax in enumerate(axes):
        w = oracle._on_axis(oracle.decimate, w, ax, downs[k])
    return w


# ---------------------------------------------------------------------------------------------
# Cases


@st.composite
def cases(draw, ndim=None, acts=tuple(ALL_ACTS), modes=tuple(MODES), max_len=10):
    ndim = draw(st.sampled_from([1, 2])) if ndim is None else ndim
    act = draw(st.sampled_from(acts))
    mode = draw(st.sampled_from(modes))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    size = [draw(st.integers(1, max_len)) for _ in range(ndim)]
    up, down = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kinds = ["none", "sep"] + (["full"] if ndim == 2 else [])
    ku_kind, kd_kind = draw(st.sampled_from(kinds)), draw(st.sampled_from(kinds))
    ku = 1 if ku_kind == "none" else draw(st.integers(1, 9))
    kd = 1 if kd_kind == "none" else draw(st.integers(1, 9))
    pad, dpad = [], []
    for L in size:  # x axis first (the last axis)
        lu = L * up
        p0 = draw(st.integers(-min(3, lu - 1), 10))
        p1 = draw(st.integers(max(ku - lu - p0, -3), max(ku - lu - p0, -3) + 10))
        wu = lu + p0 + p1 - ku + 1
        d0 = draw(st.integers(-min(2, wu - 1), 8))
        d1 = draw(st.integers(max(kd - wu - d0, -2), max(kd - wu - d0, -2) + 8))
        pad += [p0, p1]
        dpad += [d0, d1]
    if ndim == 2:  # the op's (x0, x1, y0, y1) is (last axis, second to last)
        size = size[::-1]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)

    def filt(kind, k):
        if kind == "none":
            return None
        return random_filter(rng, (k, k) if kind == "full" else (k,)) / k

    kwargs = dict(up=up, down=down, padding=pad if ndim == 2 else pad[:2], padding_mode=mode,
                  down_padding=dpad if ndim == 2 else dpad[:2],
                  gain=draw(st.none() | st.floats(0.2, 2.0)),
                  clamp=draw(st.none() | st.floats(0.3, 3.0)), flip_filter=draw(st.booleans()))
    alpha = beta = None
    if act == "lrelu":
        alpha = draw(st.none() | st.floats(-1.0, 1.0))  # (a negative slope folds over)
    if act in ("snake", "snakebeta"):
        alpha = rng.uniform(0.3, 2.0, c)
    if act == "snakebeta":
        beta = rng.uniform(0.3, 2.0, c)
    return dict(x=rng.uniform(-2, 2, (n, c, *size)), act=act, fu=filt(ku_kind, ku),
                fd=filt(kd_kind, kd), b=rng.uniform(-1, 1, c) if draw(st.booleans()) else None,
                alpha=alpha, beta=beta, kwargs=kwargs, ndim=ndim)


def run_op(case, impl, dtype=torch.float64, requires_grad=False):
    op = ops.filtered_act if case["ndim"] == 2 else ops.filtered_act1d
    t = {k: to_torch(case[k], dtype) for k in ("x", "fu", "fd", "b")}
    alpha = case["alpha"]
    beta = to_torch(case["beta"], dtype)
    if isinstance(alpha, np.ndarray):
        alpha = to_torch(alpha, dtype)
    if requires_grad:
        for v in (t["x"], t["b"], beta, alpha):
            if isinstance(v, torch.Tensor):
                v.requires_grad_(True)
    y = op(t["x"], case["act"], t["fu"], t["fd"], t["b"], alpha=alpha, beta=beta, impl=impl,
           **case["kwargs"])
    return y, t, alpha, beta


def expected(case):
    kw = case["kwargs"]
    pad, dpad = list(kw["padding"]), list(kw["down_padding"])
    if case["ndim"] == 1:
        pad, dpad = [*pad, 0, 0], [*dpad, 0, 0]
    gain = DEFAULT_GAIN.get(case["act"], 1.0) if kw["gain"] is None else kw["gain"]
    alpha = case["alpha"]
    if case["act"] == "lrelu" and alpha is None:
        alpha = 0.2
    return np_filtered_act(case["x"], case["act"], case["fu"], case["fd"], case["b"], kw["up"],
                           kw["down"], pad, kw["padding_mode"], dpad, gain, kw["clamp"], alpha,
                           case["beta"], kw["flip_filter"], case["ndim"])


# ---------------------------------------------------------------------------------------------
# Numerics


@pytest.mark.parametrize("impl", IMPLS)
@given(case=cases())
def test_matches_oracle_float64(impl, case):
    y, *_ = run_op(case, impl)
    assert_close(y, expected(case), 1e-10, what=f"{case['act']} {case['kwargs']}")


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=10)
@given(case=cases(max_len=8))
def test_matches_oracle_float32(impl, case):
    y, *_ = run_op(case, impl, torch.float32)
    assert y.dtype == torch.float32
    x32 = dict(case, x=to_np(to_torch(case["x"], torch.float32)))
    assert_close(y, expected(x32), 5e-5, what=f"{case['act']} {case['kwargs']}")


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=15)
@given(case=cases(ndim=2, acts=("lrelu",), modes=("zeros",)))
def test_lrelu_equals_filtered_lrelu(impl, case):
    """filtered_act(x, 'lrelu', …) is filtered_lrelu, bit for bit."""
    kw = dict(case["kwargs"])
    if kw.pop("down_padding") != [0, 0, 0, 0]:
        return
    kw.pop("padding_mode")
    gain = kw.pop("gain")
    t = {k: to_torch(case[k]) for k in ("x", "fu", "fd", "b")}
    slope = 0.2 if case["alpha"] is None else case["alpha"]
    y1 = ops.filtered_act(t["x"], "lrelu", t["fu"], t["fd"], t["b"], alpha=case["alpha"],
                          gain=gain, impl=impl, **kw)
    y2 = ops.filtered_lrelu(t["x"], t["fu"], t["fd"], t["b"], slope=slope,
                            gain=math.sqrt(2) if gain is None else gain, impl=impl, **kw)
    assert torch.equal(y1, y2)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("flips", [(False, True), (True, False), (True, True), (False, False)])
def test_flip_filter_per_filter(impl, flips):
    """``flip_filter=(fu, fd)`` flips each filter on its own: the same as flipping that
    filter's taps by hand and convolving (1-D, 2-D separable and full 2-D, filtered_lrelu)."""
    rng = np.random.default_rng(5)
    fu, fd = to_torch(rng.standard_normal(7)), to_torch(rng.standard_normal(4))

    def flipped(f, flip):
        return f.flip(list(range(f.ndim))) if flip else f

    x1 = to_torch(rng.standard_normal((2, 3, 19)))
    kw = dict(up=2, down=2, padding=(4, 3), padding_mode="replicate", impl=impl)
    y = ops.filtered_act1d(x1, "tanh", fu, fd, flip_filter=flips, **kw)
    want = ops.filtered_act1d(x1, "tanh", flipped(fu, flips[0]), flipped(fd, flips[1]), **kw)
    assert torch.equal(y, want)
    x2 = to_torch(rng.standard_normal((1, 2, 9, 8)))
    for f2u, f2d in ((fu, fd), (to_torch(rng.standard_normal((5, 3))), fd)):
        kw = dict(up=2, down=1, padding=3, impl=impl)
        y = ops.filtered_act(x2, "gelu", f2u, f2d, flip_filter=flips, **kw)
        want = ops.filtered_act(x2, "gelu", flipped(f2u, flips[0]), flipped(f2d, flips[1]),
                                **kw)
        assert torch.equal(y, want)
        y = ops.filtered_lrelu(x2, f2u, f2d, flip_filter=flips, **kw)
        want = ops.filtered_lrelu(x2, flipped(f2u, flips[0]), flipped(f2d, flips[1]), **kw)
        assert torch.equal(y, want)
    assert not torch.equal(y, ops.filtered_lrelu(x2, f2u, f2d, flip_filter=not flips[0], **kw))


def test_silu_is_swish_and_default_gains():
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    f = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    a = ops.filtered_act(x, "silu", f, f, up=2, down=2, padding=2)
    b = ops.filtered_act(x, "swish", f, f, up=2, down=2, padding=2)
    c = ops.filtered_act(x, "swish", f, f, up=2, down=2, padding=2, gain=1.0)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, c * math.sqrt(2), rtol=1e-12, atol=1e-12)


# Any callable as the activation: the op's stages around it, unfused. Mish and a per-channel
# affine-of-sine (channels in the activation) are in no kernel's table.
CALLABLE_ACTS = {
    "mish": (lambda u: u * torch.tanh(torch.nn.functional.softplus(u)),
             lambda u: u * np.tanh(np.log1p(np.exp(u)))),
    "channelwise": (lambda u: torch.sin(u) * torch.arange(1, u.shape[1] + 1, dtype=u.dtype)
                    .reshape(1, -1, *[1] * (u.ndim - 2)),
                    lambda u: np.sin(u) * np.arange(1, u.shape[1] + 1)
                    .reshape(1, -1, *[1] * (u.ndim - 2))),
}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", sorted(CALLABLE_ACTS))
@settings(max_examples=25)
@given(case=cases(acts=("linear",)))
def test_callable_act_matches_oracle_float64(impl, name, case):
    """A callable ``act`` sees the up-sampled signal in the user's layout (``[N, C, L·up + …]``
    in 1-D), its result gained, clamped and down-sampled as a named activation's."""
    torch_fn, np_fn = CALLABLE_ACTS[name]
    y, *_ = run_op(dict(case, act=torch_fn), impl)
    assert_close(y, expected(dict(case, act=np_fn)), 1e-10, what=f"{name} {case['kwargs']}")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("act", ["gelu", "tanh", "silu"])
def test_callable_act_equals_the_named_fused_act(impl, act):
    """The unfused path of ``torch.nn.GELU()`` (etc.) gives the fused kernel's numbers, in float32
    too, and the same gradients."""
    rng = np.random.default_rng(3)
    fn = {"gelu": torch.nn.GELU(), "tanh": torch.tanh, "silu": torch.nn.functional.silu}[act]
    gain = {"silu": math.sqrt(2)}.get(act, 1.0)
    f = torch.tensor(rng.standard_normal(12) / 4, dtype=torch.float32)
    for nd in (1, 2):
        x = torch.tensor(rng.uniform(-2, 2, (2, 3, *[9] * nd)), dtype=torch.float32)
        op = ops.filtered_act1d if nd == 1 else ops.filtered_act
        kw = dict(up=2, down=2, padding=(6, 5) * nd, padding_mode="replicate",
                  down_padding=(5, 6) * nd, clamp=0.9, impl=impl, flip_filter=(False, True))
        xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
        ys = [op(xs[0], act, f, f, **kw), op(xs[1], fn, f, f, gain=gain, **kw)]
        torch.testing.assert_close(ys[1], ys[0], rtol=1e-5, atol=1e-6)
        for y_ in ys:
            (y_ * torch.linspace(-1, 1, y_.shape[-1])).sum().backward()
        torch.testing.assert_close(xs[1].grad, xs[0].grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_callable_act_in_half_precision_computes_in_float32_on_numba(dtype):
    """numba computes half-precision input in float32 and rounds once: a callable act too (its
    stages' outputs were rounded to the half type before the activation and after it)."""
    f = torch.tensor([0.1, 0.25, 0.3, 0.25, 0.1])
    x = (torch.randn(2, 3, 40) * 3).to(dtype)
    kw = dict(up=2, down=2, padding=(2, 2), padding_mode="replicate", impl="numba")
    y = ops.filtered_act1d(x, torch.tanh, f, f, **kw)
    assert y.dtype == dtype
    assert torch.equal(y, ops.filtered_act1d(x.float(), torch.tanh, f, f, **kw).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("make", [lambda: torch.nn.PReLU(3), lambda: torch.nn.GroupNorm(1, 3)],
                         ids=["PReLU", "GroupNorm"])
def test_a_half_precision_module_act_gets_its_own_dtype_on_numba(dtype, make):
    """A module with half-precision parameters refuses a float32 input ("Type promoting not
    supported", "mixed dtype"): numba's float32 stages handed it one, where 'ref' and
    alias-free-torch run. It now gets its input in its own dtype."""
    f = torch.tensor([0.1, 0.25, 0.3, 0.25, 0.1])
    act = make()
    torch.nn.init.normal_(act.weight, 1.0, 0.3)
    x = torch.randn(2, 3, 40)
    kw = dict(up=2, down=2, padding=(2, 2), padding_mode="replicate")
    want = ops.filtered_act1d(x, act, f, f, impl="ref", **kw)
    half = act.to(dtype)
    for impl in IMPLS:
        y = ops.filtered_act1d(x.to(dtype), half, f, f, impl=impl, **kw)
        assert y.dtype == dtype
        torch.testing.assert_close(y.float(), want, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("impl", IMPLS)
def test_callable_act_may_change_the_channels(impl):
    """A module that mixes channels at the high rate (alias-free-torch's blocks take any
    module): the down stage runs on its channels."""
    torch.manual_seed(0)
    mix = torch.nn.Conv1d(4, 6, 1).double()
    f = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    x = torch.randn(2, 4, 30, dtype=torch.float64)
    y = ops.filtered_act1d(x, mix, f, f, up=2, down=2, padding=(1, 1), impl=impl)
    u = ops.upfirdn1d(x, f, up=2, padding=(1, 1), gain=2)
    torch.testing.assert_close(y, ops.upfirdn1d(mix(u), f, down=2))
    assert y.shape == (2, 6, 29)


# ---------------------------------------------------------------------------------------------
# Gradients


GRAD_CASES = [
    (act, nd, mode)
    for act in ["gelu", "snake", "snakebeta", "lrelu"]
    for nd, mode in [(1, "replicate"), (2, "circular"), (1, "zeros")]
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("act", "nd", "mode"), GRAD_CASES)
def test_gradcheck(impl, act, nd, mode):
    rng = np.random.default_rng(hash((act, nd, mode)) % 2**32)
    c = 2
    size = (5,) if nd == 1 else (3, 4)
    x = torch.tensor(rng.uniform(-2, 2, (1, c, *size)), requires_grad=True)
    b = torch.tensor(rng.uniform(-1, 1, c), requires_grad=True)
    fu = torch.tensor(rng.standard_normal(4) / 2)
    fd = torch.tensor(rng.standard_normal(3) / 2)
    params = []
    kw = {}
    if act in ("snake", "snakebeta"):
        kw["alpha"] = torch.tensor(rng.uniform(0.5, 1.5, c), requires_grad=True)
        params.append(kw["alpha"])
    if act == "snakebeta":
        kw["beta"] = torch.tensor(rng.uniform(0.5, 1.5, c), requires_grad=True)
        params.append(kw["beta"])
    op = ops.filtered_act1d if nd == 1 else ops.filtered_act
    pad, dpad = ((3, 2), (1, 2)) if nd == 1 else ((3, 2, 1, 2), (1, 2, 2, 0))
    clamp = 1.5 if act == "gelu" else None

    def f(x, b, *p):
        kw2 = dict(kw, **dict(zip(("alpha", "beta")[: len(p)], p)))
        return op(x, act, fu, fd, b, up=2, down=2, padding=pad, padding_mode=mode,
                  down_padding=dpad, clamp=clamp, impl=impl, **kw2)

    inputs = (x, b, *params)
    assert torch.autograd.gradcheck(f, inputs)
    if act != "lrelu" and (impl == "ref" or nd == 1):  # second order: smooth acts only
        assert torch.autograd.gradgradcheck(f, inputs)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("nd", "mode"), [(1, "replicate"), (2, "circular"), (2, "zeros")])
def test_gradcheck_callable_act(impl, nd, mode):
    """Gradients of any order through a callable act, to x, b and the callable's own
    parameters (a module's)."""
    rng = np.random.default_rng(nd)
    c = 2
    x = torch.tensor(rng.uniform(-2, 2, (1, c, *[4] * nd)), requires_grad=True)
    b = torch.tensor(rng.uniform(-1, 1, c), requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 1.5, c), requires_grad=True)
    fu, fd = torch.tensor(rng.standard_normal(4) / 2), torch.tensor(rng.standard_normal(3) / 2)
    op = ops.filtered_act1d if nd == 1 else ops.filtered_act

    def f(x, b, w):
        def act(u):
            return torch.sin(u * w.reshape(1, -1, *[1] * nd)) + 0.1 * u.square()

        return op(x, act, fu, fd, b, up=2, down=2, padding=(3, 2) * nd, padding_mode=mode,
                  down_padding=(1, 2) * nd, gain=1.3, impl=impl)

    assert torch.autograd.gradcheck(f, (x, b, w))
    assert torch.autograd.gradgradcheck(f, (x, b, w))


@pytest.mark.parametrize("act", ["snakebeta", "gelu_tanh", "tanh"])
def test_numba_backward_equals_ref(act):
    """The numba backend's recomputing backward gives the gradients of autograd through the
    reference's composition of PyTorch ops."""
    rng = np.random.default_rng(1)
    x0 = torch.tensor(rng.standard_normal((2, 3, 6, 7)))
    ps = [torch.tensor(rng.uniform(0.5, 2, 3)) for _ in range(2)]
    kw = {"alpha": ps[0], "beta": ps[1]} if act == "snakebeta" else {}
    fu = torch.tensor(rng.standard_normal(6))
    fd = torch.tensor(rng.standard_normal((5, 4)))
    grads = []
    for impl in ("ref", "numba"):
        x = x0.clone().requires_grad_(True)
        kwi = {k: v.clone().requires_grad_(True) for k, v in kw.items()}
        oracle = ref_as_composition() if impl == "ref" else contextlib.nullcontext()
        with oracle:  # (the numba stages' backward formula against autograd)
            y = ops.filtered_act(x, act, fu, fd, up=2, down=3, padding=(4, 1, 3, 2),
                                 padding_mode="replicate", down_padding=(2, 1, 0, 3), impl=impl,
                                 **kwi)  # fmt: skip
            y.backward(torch.ones_like(y))
        grads.append([x.grad] + [v.grad for v in kwi.values()])
    for g_ref, g_nb in zip(*grads):
        torch.testing.assert_close(g_nb, g_ref, rtol=1e-10, atol=1e-10)


def _grads_of_any_order(case, order):
    """The gradients of ``<y, dy>`` with respect to x, b, alpha, beta (where tensors), and for
    ``order`` 2 those of ``sum(g_x · v)`` again (one Hessian-vector product)."""
    y, t, alpha, beta = run_op(case, "ref", requires_grad=True)
    leaves = [v for v in (t["x"], t["b"], alpha, beta) if isinstance(v, torch.Tensor)]
    dy = torch.tensor(np.random.default_rng(5).standard_normal(y.shape))
    grads = torch.autograd.grad(y, leaves, dy, create_graph=order > 1, allow_unused=True)
    grads = [torch.zeros_like(v) if g is None else g for v, g in zip(leaves, grads)]
    if order == 1:
        return y.detach(), grads
    if not grads[0].requires_grad:  # linear in x: no second derivative on the graph
        return y.detach(), [torch.zeros_like(p) for p in leaves]
    v = torch.tensor(np.random.default_rng(6).standard_normal(grads[0].shape))
    hv = torch.autograd.grad((grads[0] * v).sum(), leaves, allow_unused=True)
    return y.detach(), [torch.zeros_like(p) if g is None else g for p, g in zip(leaves, hv)]


@settings(max_examples=40)
@given(case=cases(), order=st.sampled_from([1, 2]))
def test_ref_recomputing_backward_equals_autograd_through_the_composition(case, order):
    """'ref' holds only its inputs and recomputes the up-sampled signal in its backward; its
    gradients (first order, and a Hessian-vector product) equal autograd through the
    composition of PyTorch ops it computes, for every act, padding mode, clamp and
    down_padding, 1-D and 2-D, float64."""
    y, got = _grads_of_any_order(case, order)
    with ref_as_composition():
        y_ref, want = _grads_of_any_order(case, order)
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Properties


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=15)
@given(data=st.data())
def test_circular_commutes_with_shifts(impl, data):
    """With circular padding covering the filters, shifting the input by k samples shifts the
    output by k·up/down samples, exactly (whenever that is an integer)."""
    nd = data.draw(st.sampled_from([1, 2]))
    up, down = data.draw(st.sampled_from([(1, 1), (2, 2), (2, 1), (1, 2), (4, 2), (3, 3)]))
    act = data.draw(st.sampled_from(["gelu", "snakebeta", "lrelu", "tanh"]))
    ku, kd = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    p0, d0 = data.draw(st.integers(0, ku - 1)), data.draw(st.integers(0, kd - 1))
    L = down * data.draw(st.integers(1, 4))  # L·up divisible by down: one whole output period
    k = data.draw(st.integers(-2 * L, 2 * L).filter(lambda k: k * up % down == 0))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    c = 2
    x = torch.tensor(rng.standard_normal((1, c, *[L] * nd)))
    fu, fd = torch.tensor(rng.standard_normal(ku)), torch.tensor(rng.standard_normal(kd))
    kw = dict(alpha=torch.tensor(rng.uniform(0.5, 2, c)), beta=torch.tensor(rng.uniform(0.5, 2, c))
              ) if act == "snakebeta" else {}
    pad, dpad = (p0, ku - 1 - p0), (d0, kd - 1 - d0)
    op = ops.filtered_act1d if nd == 1 else ops.filtered_act
    if nd == 2:
        pad, dpad = pad * 2, dpad * 2
    dims = tuple(range(2, 2 + nd))

    def f(t):
        return op(t, act, fu, fd, up=up, down=down, padding=pad, padding_mode="circular",
                  down_padding=dpad, impl=impl, **kw)

    y = f(x)
    assert y.shape[2:] == (L * up // down,) * nd
    shifted = f(torch.roll(x, (k,) * nd, dims))
    torch.testing.assert_close(shifted, torch.roll(y, (k * up // down,) * nd, dims), rtol=1e-11,
                               atol=1e-11)


def _periodic_tone_signal(L, c, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(L)
    x = np.zeros((1, c, L))
    for ch in range(c):
        for _ in range(3):
            f = rng.integers(1, L // 5)  # well inside the band (cycles per L samples)
            x[0, ch] += rng.uniform(0.3, 0.8) * np.cos(2 * np.pi * f * t / L + rng.uniform(0, 6))
    return torch.tensor(x)


@pytest.mark.parametrize(("act", "min_psnr"), [("snake", 65.0), ("gelu", 80.0)])
def test_fractional_shift_equivariance_needs_upsampling(act, min_psnr):
    """A band-limited periodic input shifted by a fraction of a sample: with up = 2 (and
    low-pass filters) the output follows it to high PSNR; with up = 1 the aliases of the
    activation's harmonics cost about 10 dB more error."""
    from bandlimit.filters import kaiser_sinc
    from bandlimit.testing import assert_translation_equivariant

    L, c = 128, 2
    x = _periodic_tone_signal(L, c, 3)
    kw = {"alpha": torch.ones(c, dtype=torch.float64)} if act == "snake" else {}
    f2 = kaiser_sinc(24, 0.25, 0.2, 1.0, dtype=torch.float64)

    def aliasfree(t):
        return ops.filtered_act1d(t, act, f2, f2, up=2, down=2, padding=(12, 11),
                                  padding_mode="circular", down_padding=(12, 11), **kw)

    def plain(t):
        return ops.filtered_act1d(t, act, padding_mode="circular", **kw)

    check = dict(method="fft", crop=0, max_val=4)
    good = assert_translation_equivariant(aliasfree, x, 0.37, min_psnr=min_psnr, **check)
    with pytest.raises(AssertionError):
        assert_translation_equivariant(plain, x, 0.37, min_psnr=good - 8, **check)


# ---------------------------------------------------------------------------------------------
# Bad input

X4 = torch.zeros(1, 2, 4, 4)
X3 = torch.zeros(1, 2, 8)
BAD = [
    ("unknown act", lambda: ops.filtered_act(X4, "mish"), ValueError, ["act", "mish"]),
    ("act not a str", lambda: ops.filtered_act1d(X3, None), TypeError, ["act", "None"]),
    ("alpha with a callable act", lambda: ops.filtered_act1d(X3, torch.tanh, alpha=0.2),
     ValueError, ["alpha", "callable", "tanh"]),
    ("beta with a callable act", lambda: ops.filtered_act(X4, torch.tanh, beta=torch.ones(2)),
     ValueError, ["beta", "callable", "tanh"]),
    ("callable act not element-wise",
     lambda: ops.filtered_act1d(X3, lambda u: u.sum(-1), up=2, fu=torch.ones(2)), ValueError,
     ["element-wise", "(1, 2)", "(1, 2, 15)"]),
    ("callable act is a class", lambda: ops.filtered_act1d(X3, torch.nn.ReLU), TypeError,
     ["act", "class ReLU", "ReLU()"]),
    ("callable act returns no tensor", lambda: ops.filtered_act(X4, lambda u: 0.0), ValueError,
     ["element-wise", "float"]),
    ("snake without alpha", lambda: ops.filtered_act1d(X3, "snake"), ValueError,
     ["alpha", "snake"]),
    ("snakebeta without beta", lambda: ops.filtered_act1d(X3, "snakebeta", alpha=torch.ones(2)),
     ValueError, ["beta", "[2]"]),
    ("alpha wrong shape", lambda: ops.filtered_act(X4, "snake", alpha=torch.ones(3)), ValueError,
     ["alpha", "[2]", "(3,)"]),
    ("beta wrong shape", lambda: ops.filtered_act(X4, "snakebeta", alpha=torch.ones(2),
                                                  beta=torch.ones(2, 1)), ValueError,
     ["beta", "(2, 1)"]),
    ("alpha tensor for lrelu", lambda: ops.filtered_act(X4, "lrelu", alpha=torch.ones(2)),
     TypeError, ["alpha", "lrelu"]),
    ("beta for snake", lambda: ops.filtered_act1d(X3, "snake", alpha=1.0, beta=torch.ones(2)),
     ValueError, ["beta", "snake"]),
    ("alpha not numeric", lambda: ops.filtered_act1d(X3, "snake", alpha="big"), TypeError,
     ["alpha"]),
    ("unknown padding mode", lambda: ops.filtered_act(X4, "gelu", padding_mode="reflect"),
     ValueError, ["padding_mode", "reflect"]),
    ("down_padding length", lambda: ops.filtered_act1d(X3, "gelu", down_padding=(1, 2, 3)),
     ValueError, ["down_padding"]),
    ("empty output", lambda: ops.filtered_act1d(X3, "gelu", down_padding=-8), ValueError,
     ["fd"]),
    ("x of wrong ndim", lambda: ops.filtered_act1d(X4, "gelu"), ValueError, ["x", "[N, C, L]"]),
    ("negative gain", lambda: ops.filtered_act(X4, "gelu", gain=-1.0), ValueError, ["gain"]),
    ("cuda impl", lambda: ops.filtered_act(X4, "gelu", impl="cuda"), ValueError, ["cuda"]),
]


@pytest.mark.parametrize(("what", "call", "exc", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_input(what, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{what}: {w!r} not in {info.value}"


# ---------------------------------------------------------------------------------------------
# The numba backend's fused kernel for every activation and padding mode


def _no_staged(monkeypatch):
    """Make the numba backend's non-fused fallback fail, so a test proves the fused kernel ran."""
    from bandlimit.ops import _library

    def staged(*args, **kwargs):
        raise AssertionError("the staged (non-fused) numba path ran")

    monkeypatch.setattr(_library, "_filtered_act_stages", staged)


def _fused_case(act, nd, mode, dtype, seed=0):
    rng = np.random.default_rng(seed)
    c = 3
    size = (11,) if nd == 1 else (5, 6)
    x = torch.tensor(rng.uniform(-2, 2, (2, c, *size)), dtype=dtype)
    b = torch.tensor(rng.uniform(-1, 1, c), dtype=dtype)
    fu = torch.tensor(rng.standard_normal(5) / 2, dtype=dtype)
    fd = torch.tensor(rng.standard_normal((4, 3)) / 3 if nd == 2 else rng.standard_normal(4) / 2,
                      dtype=dtype)
    params = {}
    if act in ("snake", "snakebeta"):
        params["alpha"] = torch.tensor(rng.uniform(0.3, 2.0, c), dtype=dtype)
    if act == "snakebeta":
        params["beta"] = torch.tensor(rng.uniform(0.3, 2.0, c), dtype=dtype)
    if act == "lrelu":
        params["alpha"] = 0.3
    pad, dpad = ((4, 2), (3, 1)) if nd == 1 else ((4, 2, 1, 3), (2, 1, 0, 3))
    kw = dict(up=2, down=2 if nd == 1 else 3, padding=pad, padding_mode=mode, down_padding=dpad,
              clamp=0.9 if act in ("gelu", "snake", "lrelu") else None)
    return x, b, fu, fd, params, kw


def _value_and_grads(act, nd, impl, case):
    x, b, fu, fd, params, kw = case
    op = ops.filtered_act1d if nd == 1 else ops.filtered_act
    leaves = [x.clone().requires_grad_(True), b.clone().requires_grad_(True)]
    p = {k: (v.clone().requires_grad_(True) if isinstance(v, torch.Tensor) else v)
         for k, v in params.items()}
    leaves += [v for v in p.values() if isinstance(v, torch.Tensor)]
    with ref_as_composition() if impl == "ref" else contextlib.nullcontext():  # (the oracle)
        y = op(leaves[0], act, fu, fd, leaves[1], impl=impl, **p, **kw)
        dy = torch.tensor(np.random.default_rng(9).standard_normal(y.shape), dtype=y.dtype)
        return y.detach(), torch.autograd.grad(y, leaves, dy)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("act", ALL_ACTS)
def test_numba_fused_kernel_matches_ref_every_act_and_mode(act, mode, monkeypatch):
    """Forward and the gradients w.r.t. x, b, alpha and beta of the fused numba kernel (the
    non-fused fallback disabled) equal the reference's autograd, 1-D and 2-D, with both paddings
    non-zero, float64."""
    _no_staged(monkeypatch)
    for nd in (1, 2):
        case = _fused_case(act, nd, mode, torch.float64)
        y_ref, g_ref = _value_and_grads(act, nd, "ref", case)
        y_nb, g_nb = _value_and_grads(act, nd, "numba", case)
        torch.testing.assert_close(y_nb, y_ref, rtol=1e-10, atol=1e-10)
        for a, r in zip(g_nb, g_ref):
            torch.testing.assert_close(a, r, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("act", ["snakebeta", "snake", "gelu", "silu", "tanh"])
def test_numba_fused_kernel_float32_bigvgan_layout(act, monkeypatch):
    """BigVGAN's Activation1d layout (ratio 2, 12 taps, replicate, down_padding (5, 6)) in float32
    (the vectorised float32 sin/cos): values and gradients to float32 accuracy."""
    _no_staged(monkeypatch)
    rng = np.random.default_rng(4)
    c = 4
    x = torch.tensor(rng.standard_normal((2, c, 300)) * 3, dtype=torch.float32)
    f = torch.tensor(np.kaiser(12, 5.0) / np.kaiser(12, 5.0).sum(), dtype=torch.float32)
    params = {}
    if act in ("snake", "snakebeta"):
        params["alpha"] = torch.tensor(rng.uniform(0.2, 5.0, c), dtype=torch.float32)
    if act == "snakebeta":
        params["beta"] = torch.tensor(rng.uniform(0.2, 2.0, c), dtype=torch.float32)
    kw = dict(up=2, down=2, padding=(6, 5), padding_mode="replicate", down_padding=(5, 6))
    out = {}
    for impl in ("ref", "numba"):
        xi = x.clone().requires_grad_(True)
        pi = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        y = ops.filtered_act1d(xi, act, f, f, impl=impl, **pi, **kw)
        y.backward(torch.cos(torch.arange(y.numel(), dtype=torch.float32)).reshape(y.shape))
        out[impl] = [y.detach(), xi.grad, *[v.grad for v in pi.values()]]
    assert out["numba"][0].shape == x.shape
    for a, r in zip(out["numba"], out["ref"]):
        torch.testing.assert_close(a, r, rtol=2e-4, atol=2e-4 * float(r.abs().max()))


def test_numba_circular_with_cropping_down_padding_falls_back_and_matches_ref():
    """Circular padding with a negative down_padding is the one case the fused kernel leaves to
    the staged path; the result is the same."""
    from bandlimit.ops import _library
    from bandlimit.ops._activations import get_filtered_activation
    from bandlimit.ops._params import make_fir_1d

    x, b, fu, fd, params, kw = _fused_case("snake", 1, "circular", torch.float64)
    kw["down_padding"] = (3, -1)
    fir = make_fir_1d(fu, flip_filter=False, gain=2.0, dtype=fu.dtype, device=fu.device)
    spec = get_filtered_activation("snake")
    assert not _library.fused_any_supported(
        spec, "circular", (3, -1, 0, 0), (1, 11), fir, (2, 1), (4, 2, 0, 0)
    )
    assert _library.fused_any_supported(
        spec, "circular", (3, 1, 0, 0), (1, 11), fir, (2, 1), (4, 2, 0, 0)
    )
    y_ref, g_ref = _value_and_grads("snake", 1, "ref", (x, b, fu, fd, params, kw))
    y_nb, g_nb = _value_and_grads("snake", 1, "numba", (x, b, fu, fd, params, kw))
    torch.testing.assert_close(y_nb, y_ref, rtol=1e-10, atol=1e-10)
    for a, r in zip(g_nb, g_ref):
        torch.testing.assert_close(a, r, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("act", "mode"), [("snakebeta", "replicate"), ("gelu", "circular"),
                                           ("lrelu", "zeros")])
def test_opcheck_fused_any_act(act, mode):
    """The fused any-act op is a well-formed torch.library op: schema, fake (meta) kernel and
    autograd registration (``torch.library.opcheck``)."""
    from bandlimit.ops import _library
    from bandlimit.ops._params import make_fir

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, generator=g, requires_grad=True)
    pa = pb = None
    if act in ("snake", "snakebeta"):
        pa = torch.rand(3, dtype=torch.float64, generator=g).add_(0.5).requires_grad_(True)
    if act == "snakebeta":
        pb = torch.rand(3, dtype=torch.float64, generator=g).add_(0.5).requires_grad_(True)
    fu = make_fir(torch.rand(4, dtype=torch.float64, generator=g), flip_filter=False,
                  gain=(2.0, 2.0), dtype=x.dtype, device=x.device)
    fd = make_fir(torch.rand(3, 3, dtype=torch.float64, generator=g), flip_filter=False,
                  gain=(1.0, 1.0), dtype=x.dtype, device=x.device)
    args = (x, b, pa, pb, fu.fx, fu.fy, fu.f2d, fd.fx, fd.fy, fd.f2d, [2, 2], [2, 1],
            [3, 1, 2, 2], [2, 1, 0, 3], mode, act, 0.2, 1.3, 2.5)
    torch.library.opcheck(_library._filtered_act_any_fwd.op, args)
