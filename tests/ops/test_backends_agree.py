"""The numba backend agrees with the ref backend, and ``impl`` dispatch behaves as documented.

Agreement covers what the oracle tests do not: memory layouts (non-contiguous views,
channels_last), empty batches, non-finite values, and float32.
"""

from __future__ import annotations

import contextlib
import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import bandlimit.ops as ops
from bandlimit.ops._activations import FILTERED_ACTIVATIONS, PARAMETRIC_ACTIVATIONS

from .strategies import (
    ACTS,
    RTOL,
    bias_act_cases,
    filtered_lrelu_cases,
    ref_as_composition,
    seeds,
    to_torch,
    upfirdn1d_cases,
    upfirdn2d_cases,
)


@pytest.fixture(autouse=True)
def _restore_default_impl():
    ops.set_default_impl(None)
    yield
    ops.set_default_impl(None)


def _assert_agree(a: torch.Tensor, e: torch.Tensor, what: str = ""):
    assert a.shape == e.shape, f"{what}: {tuple(a.shape)} != {tuple(e.shape)}"
    assert a.dtype == e.dtype, f"{what}: {a.dtype} != {e.dtype}"
    fa, fe = torch.isfinite(a), torch.isfinite(e)
    assert torch.equal(fa, fe), f"{what}: non-finite outputs at different positions"
    assert torch.equal(torch.isnan(a), torch.isnan(e)), f"{what}: NaN at different positions"
    inf = ~fe & ~torch.isnan(e)
    assert torch.equal(a[inf], e[inf]), f"{what}: infinities of different sign"
    if fe.any():
        scale = max(1.0, e[fe].abs().max().item())
        err = (a[fa] - e[fe]).abs().max().item()
        assert err <= RTOL[e.dtype] * scale, f"{what}: max abs error {err:.3e} (scale {scale:.3e})"


def _run_flrelu(case, dtype, impl, transform=lambda t: t):
    return ops.filtered_lrelu(
        transform(to_torch(case.x, dtype)), to_torch(case.fu, dtype), to_torch(case.fd, dtype),
        to_torch(case.b, dtype), impl=impl, **case.kwargs)


def _run_upfirdn2d(case, dtype, impl, transform=lambda t: t):
    return ops.upfirdn2d(transform(to_torch(case.x, dtype)), to_torch(case.f, dtype), impl=impl,
                         **case.kwargs)


# ---------------------------------------------------------------------------------------------
# Random inputs, both dtypes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(case=upfirdn2d_cases())
def test_upfirdn2d_agree(dtype, case):
    _assert_agree(_run_upfirdn2d(case, dtype, "numba"), _run_upfirdn2d(case, dtype, "ref"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(case=upfirdn1d_cases())
def test_upfirdn1d_agree(dtype, case):
    def run(impl):
        return ops.upfirdn1d(to_torch(case.x, dtype), to_torch(case.f, dtype), impl=impl,
                             **case.kwargs)

    _assert_agree(run("numba"), run("ref"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(case=filtered_lrelu_cases())
def test_filtered_lrelu_agree(dtype, case):
    _assert_agree(_run_flrelu(case, dtype, "numba"), _run_flrelu(case, dtype, "ref"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@given(case=bias_act_cases())
def test_bias_act_agree(dtype, case):
    def run(impl):
        return ops.bias_act(to_torch(case.x, dtype), to_torch(case.b, dtype), impl=impl,
                            **case.kwargs)

    _assert_agree(run("numba"), run("ref"))


# ---------------------------------------------------------------------------------------------
# Memory layouts


LAYOUTS = {
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    # A view with swapped H/W strides: the transpose of a contiguous [N, C, W, H] tensor.
    "transposed": lambda t: t.transpose(2, 3).contiguous().transpose(2, 3),
    # Every other element of a larger buffer (non-unit innermost stride).
    "strided": lambda t: torch.repeat_interleave(t, 2, dim=-1)[..., ::2],
    # Batch and channel dimensions swapped in memory.
    "permuted": lambda t: t.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
@given(case=filtered_lrelu_cases(max_hw=8))
def test_filtered_lrelu_any_layout(layout, case):
    tr = LAYOUTS[layout]
    x = tr(to_torch(case.x))
    assert torch.equal(x, to_torch(case.x))
    expected = _run_flrelu(case, torch.float64, "ref")
    for impl in ("numba", "ref"):
        _assert_agree(_run_flrelu(case, torch.float64, impl, tr), expected, f"{impl} {layout}")


@pytest.mark.parametrize("layout", list(LAYOUTS))
@given(case=upfirdn2d_cases(max_hw=8))
def test_upfirdn2d_any_layout(layout, case):
    tr = LAYOUTS[layout]
    expected = _run_upfirdn2d(case, torch.float64, "ref")
    for impl in ("numba", "ref"):
        _assert_agree(_run_upfirdn2d(case, torch.float64, impl, tr), expected, f"{impl} {layout}")


@pytest.mark.parametrize("impl", ["numba", "ref"])
def test_channels_last_in_channels_last_out(impl):
    """As torch's own 2-D ops: the output keeps the input's channels_last layout."""
    x = torch.randn(2, 5, 9, 7).contiguous(memory_format=torch.channels_last)
    f, b = torch.tensor([0.25, 0.5, 0.25]), torch.linspace(-1, 1, 5)
    outs = {
        "upfirdn2d": ops.upfirdn2d(x, f, up=2, padding=1, impl=impl),
        "filtered_lrelu": ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=2, impl=impl),
        "filtered_act": ops.filtered_act(x, "gelu", f, f, b, up=2, down=2, padding=2, impl=impl),
    }
    for name, y in outs.items():
        assert y.is_contiguous(memory_format=torch.channels_last), name
    if impl == "numba":  # and NCHW stays NCHW
        assert ops.upfirdn2d(x.contiguous(), f, up=2, padding=1, impl=impl).is_contiguous()


_F4, _F12 = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8, torch.hann_window(14)[1:-1]
_LAYOUT_OPS = {
    "upfirdn2d (2-D filter)": lambda x, impl: ops.upfirdn2d(
        x, torch.outer(_F4, _F4), up=2, padding=2, impl=impl),
    "upfirdn2d (down)": lambda x, impl: ops.upfirdn2d(x, _F4, down=2, padding=1, impl=impl),
    "upsample2d": lambda x, impl: ops.upsample2d(x, _F4, impl=impl),
    "filtered_lrelu": lambda x, impl: ops.filtered_lrelu(
        x, _F12, _F12, up=2, down=2, padding=11, impl=impl),
    "filtered_act": lambda x, impl: ops.filtered_act(
        x, "tanh", _F12, _F12, up=2, down=2, padding=11, padding_mode="replicate", impl=impl),
    "upfirdn1d": lambda x, impl: ops.upfirdn1d(x[:, :, 0], _F12, up=2, padding=2, impl=impl),
    "filtered_act1d": lambda x, impl: ops.filtered_act1d(
        x[:, :, 0], "silu", _F12, _F12, up=2, down=2, padding=11, impl=impl),
    "resample_poly": lambda x, impl: ops.resample_poly(x, 3, 2, impl=impl),
    "resample_poly (dim=1)": lambda x, impl: ops.resample_poly(x, 3, 2, dim=1, impl=impl),
    "resample_poly (dims 2, 3)": lambda x, impl: ops.resample_poly(x, 1, 2, dim=(2, 3),
                                                                   impl=impl),
    "resample_poly (equal factors)": lambda x, impl: ops.resample_poly(x, 2, 2, impl=impl),
}
_INPUT_LAYOUTS = {
    **LAYOUTS,
    "expanded": lambda t: t[:1].expand_as(t),  # stride 0 along the batch
    "offset": lambda t: torch.cat([t.new_zeros(7), t.flatten()])[7:].view_as(t),
}  # (the 1-D ops take x[:, :, 0]: from a channels_last x, a transposed [N, C, L])


@pytest.mark.parametrize("impl", ["numba", "ref"])
@pytest.mark.parametrize("op", list(_LAYOUT_OPS))
def test_outputs_are_dense_in_the_inputs_memory_format(impl, op):
    """Whatever the input's strides, the result is contiguous (channels_last for a channels_last
    image) on every backend, and equals that of the contiguous input. ('ref' used to return
    the crops and strided slices of its convolutions' outputs: views that ``.view`` refused.)"""
    run = _LAYOUT_OPS[op]
    base = torch.randn(2, 3, 5, 9, dtype=torch.float64)
    for name, layout in _INPUT_LAYOUTS.items():
        x = layout(base)
        if name == "expanded":
            base_x = x.contiguous()
        else:
            assert torch.equal(x, base), name
            base_x = base
        y = run(x, impl)
        if name == "channels_last" and y.ndim == 4:
            assert y.is_contiguous(memory_format=torch.channels_last), name
        else:
            assert y.is_contiguous(), f"{name}: strides {y.stride()}"
        _assert_agree(y, run(base_x, "ref").contiguous(), f"{impl} {name}")


@given(seed=seeds, act=st.sampled_from(ACTS))
def test_bias_act_non_contiguous(seed, act):
    rng = np.random.default_rng(seed)
    x = to_torch(rng.standard_normal((2, 5, 3, 4)))
    b = to_torch(rng.standard_normal(16))[::4]  # strided bias view too
    expected = ops.bias_act(x, b, dim=3, act=act, impl="ref")
    for tr in LAYOUTS.values():
        for impl in ("numba", "ref"):
            _assert_agree(ops.bias_act(tr(x), b, dim=3, act=act, impl=impl), expected, impl)


def test_upfirdn_gradients_non_contiguous_upstream():
    # The incoming gradient of a backward pass is often a non-contiguous view.
    rng = np.random.default_rng(0)
    f = to_torch(rng.standard_normal(5))
    grads = {}
    for impl in ("numba", "ref"):
        x = to_torch(rng.standard_normal((2, 3, 6, 7))).requires_grad_(True)
        with torch.no_grad():
            x.copy_(to_torch(np.random.default_rng(1).standard_normal((2, 3, 6, 7))))
        y = ops.upfirdn2d(x, f, up=2, down=1, padding=2, impl=impl)
        dy = to_torch(np.random.default_rng(2).standard_normal(tuple(y.shape[::-1]))).permute(
            3, 2, 1, 0)
        (grads[impl],) = torch.autograd.grad(y, x, dy)
    _assert_agree(grads["numba"], grads["ref"])


# ---------------------------------------------------------------------------------------------
# Empty batch


@pytest.mark.parametrize("impl", ["numba", "ref"])
def test_empty_batch(impl):
    x = torch.zeros(0, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    f = torch.ones(4, dtype=torch.float64)
    y = ops.upfirdn2d(x, f, up=2, padding=[2, 1, 2, 1], impl=impl)
    assert tuple(y.shape) == (0, 3, 16, 16)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 8, 8)

    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=[3, 2, 3, 2], clamp=1.0, impl=impl)
    assert tuple(y.shape) == (0, 3, 8, 8)
    y.sum().backward()
    assert torch.equal(b.grad, torch.zeros(3, dtype=torch.float64))

    y = ops.upfirdn1d(torch.zeros(0, 2, 9, dtype=torch.float64), f, up=2, padding=[2, 1],
                      impl=impl)
    assert tuple(y.shape) == (0, 2, 18)
    y = ops.bias_act(torch.zeros(0, 3, dtype=torch.float32), torch.zeros(3), act="lrelu",
                     impl=impl)
    assert tuple(y.shape) == (0, 3) and y.dtype == torch.float32


@pytest.mark.parametrize("impl", ["numba", "ref"])
def test_empty_planes_padded_to_a_non_empty_output(impl):
    """An empty spatial axis with zero padding: the output is the padding's zeros, filtered (an
    activation that is not 0 at 0 shows through), and gradients reach x and b."""
    f = torch.ones(3, dtype=torch.float64) / 3
    x = torch.zeros(2, 3, 0, 4, dtype=torch.float64, requires_grad=True)
    y = ops.upfirdn2d(x, f, up=2, padding=2, impl=impl)
    assert y.shape == (2, 3, 2, 10) and not y.any()
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    y = ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=4, impl=impl)
    y.sum().backward()
    assert y.shape == (2, 3, 2, 6) and x.grad.shape == x.shape and b.grad.shape == (3,)
    y = ops.filtered_act(torch.zeros(1, 1, 0, 0), "sigmoid", f.float(), f.float(), padding=4,
                         gain=1.0, impl=impl)
    torch.testing.assert_close(y, torch.full((1, 1, 4, 4), 0.5))


def test_extreme_rational_factors_run_in_bounded_memory():
    """numba plans lcm(up, down) phases per axis; beyond NUMBA_MAX_PHASES phase pairs the op runs
    the 'ref' path (it used to try to allocate 114 TiB for 997/991), with the same results."""
    from bandlimit.ops._dispatch import numba_fits

    assert numba_fits((4, 4), (2, 2)) and numba_fits((160, 1), (147, 1))
    assert not numba_fits((61, 61), (59, 59))
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    y = ops.filtered_lrelu(x, up=997, down=991, impl="numba")
    torch.testing.assert_close(y, ops.filtered_lrelu(x, up=997, down=991, impl="ref"))
    f = torch.ones(12, dtype=torch.float64) / 12
    y = ops.upfirdn2d(x, f, up=61, down=59, padding=5, impl="auto")
    torch.testing.assert_close(y, ops.upfirdn2d(x, f, up=61, down=59, padding=5, impl="ref"))
    x1 = torch.randn(1, 2, 441, dtype=torch.float64)  # 1-D audio ratio: stays on numba
    y1 = ops.upfirdn1d(x1, f, up=160, down=147, padding=6, impl="numba")
    torch.testing.assert_close(y1, ops.upfirdn1d(x1, f, up=160, down=147, padding=6, impl="ref"))


# ---------------------------------------------------------------------------------------------
# Ties: exact zeros (zero-initialised tensors, outputs of a ReLU) and values exactly at the clamp


@pytest.mark.parametrize("impl", ["numba", "ref"])
@pytest.mark.parametrize("act", ["relu", "lrelu", "linear"])
def test_filtered_gradients_at_ties_follow_the_fused_convention(impl, act):
    """u = 0 takes the positive branch; |act(u)·gain| = clamp still passes the gradient (only
    > blocks it), as in StyleGAN3's fused kernel and filtered_act_vjp."""
    x = torch.zeros(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(ops.filtered_act(x, act, gain=1.5, impl=impl).sum(), x)
    torch.testing.assert_close(g, torch.full_like(g, 1.5), rtol=0, atol=1e-15)
    x = torch.tensor([[[[1.0, -5.0, 2.0]]]], dtype=torch.float64, requires_grad=True)
    y = ops.filtered_lrelu(x, gain=1.0, clamp=1.0, impl=impl)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g.flatten(), torch.tensor([1.0, 0.2, 0.0], dtype=torch.float64))
    x = torch.tensor([[[[0.0, 1.0, -5.0]]]], dtype=torch.float64, requires_grad=True)
    torch.autograd.gradcheck(  # also differentiable again away from the ties
        lambda v: ops.filtered_lrelu(v + 0.25, gain=1.0, clamp=1.5, impl=impl), (x,)
    )


# ---------------------------------------------------------------------------------------------
# Non-finite values


def _with_nonfinite(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = x.copy()
    flat = x.reshape(-1)
    k = max(1, flat.size // 10)
    idx = rng.choice(flat.size, size=min(flat.size, k), replace=False)
    flat[idx] = rng.choice([np.nan, np.inf, -np.inf], size=idx.size)
    return x


@given(case=upfirdn2d_cases(max_hw=8))
def test_upfirdn2d_nonfinite_like_ref(case):
    case.x = _with_nonfinite(case.x, case.seed)
    _assert_agree(_run_upfirdn2d(case, torch.float64, "numba"),
                  _run_upfirdn2d(case, torch.float64, "ref"))


@given(case=filtered_lrelu_cases(max_hw=8))
def test_filtered_lrelu_nonfinite_like_ref(case):
    case.x = _with_nonfinite(case.x, case.seed)
    for dtype in (torch.float32, torch.float64):
        _assert_agree(_run_flrelu(case, dtype, "numba"), _run_flrelu(case, dtype, "ref"))


def test_rational_upfirdn_nonfinite_under_vmap_like_eager():
    """torch.func transforms hide the values from Python, so 'ref' takes its exact per-phase
    path there: a NaN reaches the same outputs as in eager mode and in numba."""
    f = torch.randn(12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def fn(x):
        return ops.upfirdn1d(x, f, up=160, down=147, padding=(6, 6), impl="ref")

    x = torch.randn(2, 1, 1, 23, dtype=torch.float64)
    x[0, 0, 0, 11], x[1, 0, 0, 3] = math.nan, math.inf
    eager = torch.stack([fn(v) for v in x])
    _assert_agree(torch.vmap(fn)(x), eager)
    _assert_agree(eager, torch.stack([ops.upfirdn1d(v, f, up=160, down=147, padding=(6, 6),
                                                    impl="numba") for v in x]))  # fmt: skip


def test_rational_upfirdn_with_huge_coprime_factors_is_light(monkeypatch):
    """100001/100000 on a few samples: 'ref' goes phase by phase when the phases would form
    too many runs (its tap matrices had grown with the factors: 15 s and 7 GB)."""
    from bandlimit.ops import reference

    def no_matrices(*args):
        raise AssertionError("tap matrices built for 10**5 phases")

    monkeypatch.setattr(reference, "tap_matrix", no_matrices)
    x = torch.randn(1, 1, 5, dtype=torch.float64)
    f = torch.randn(3, dtype=torch.float64)
    for up, down in ((100001, 100000), (50001, 50000)):
        _assert_agree(ops.upfirdn1d(x, f, up=up, down=down, impl="ref"),
                      ops.upfirdn1d(x, f, up=up, down=down, impl="numba"))  # fmt: skip


@pytest.mark.parametrize(
    ("up", "down", "length", "frames"),
    [(2, 1, 1 << 14, True), (1, 2, 1 << 19, True), (2, 1, 4000, False), (1, 3, 9000, False)],
)
def test_one_channel_passes_agree_on_both_routes(monkeypatch, up, down, length, frames):
    """With one channel, 'ref' runs an up-only or down-only pass in frames of outputs on large
    signals and as a convolution on small ones (where the frames' fixed cost dominated); both
    routes agree with numba, values and gradients."""
    from bandlimit.ops import reference

    calls = []
    rational = reference._rational_axis
    monkeypatch.setattr(reference, "_rational_axis", lambda *a: calls.append(1) or rational(*a))
    rng = np.random.default_rng(length)
    x = to_torch(rng.standard_normal((1, 1, length))).requires_grad_(True)
    f = to_torch(rng.random(12))
    ys = [ops.upfirdn1d(x, f, up=up, down=down, padding=(6, 5), impl=impl)
          for impl in ("numba", "ref")]  # fmt: skip
    assert bool(calls) == frames
    _assert_agree(ys[1], ys[0])
    g = to_torch(rng.standard_normal(ys[0].shape))
    _assert_agree(*(torch.autograd.grad(y, x, g)[0] for y in reversed(ys)))


@pytest.mark.parametrize(
    ("up", "down", "padding"), [(3, 2, (5, 5)), (160, 147, (6, 6)), (5, 3, (-4, 2))]
)
def test_rational_upfirdn_nonfinite_gradient_like_numba(up, down, padding):
    """'ref' computes a rational pass's gradient as the adjoint pass; a NaN or inf in the
    incoming gradient reaches exactly the inputs it reaches in numba's."""
    rng = np.random.default_rng(up)
    x = to_torch(rng.standard_normal((2, 1, 40))).requires_grad_(True)
    f = to_torch(rng.random(13))
    ys = [ops.upfirdn1d(x, f, up=up, down=down, padding=padding, impl=impl)
          for impl in ("numba", "ref")]  # fmt: skip
    g = to_torch(rng.standard_normal(ys[0].shape))
    g[0, 0, 3], g[1, 0, -2] = math.nan, math.inf
    _assert_agree(*(torch.autograd.grad(y, x, g)[0] for y in ys))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("clamp", [None, 1.0])
def test_bias_act_nonfinite_like_ref(act, clamp):
    x = to_torch(np.array([[np.nan, np.inf, -np.inf, 0.5, -0.5, 0.0]]))
    for dtype in (torch.float32, torch.float64):
        xs = x.to(dtype)
        _assert_agree(ops.bias_act(xs, None, act=act, clamp=clamp, impl="numba"),
                      ops.bias_act(xs, None, act=act, clamp=clamp, impl="ref"), act)


@pytest.mark.parametrize("act", sorted(FILTERED_ACTIVATIONS))
def test_filtered_act_special_values_like_ref(act):
    """Every activation at NaN, ±inf and ±3e38 (float32 products near overflow: float32 F.gelu
    gave inf at 3e38 and NaN at inf where the kernels give x), pointwise (no filters)."""
    vals = np.array([[[np.nan, np.inf, -np.inf, 3e38, -3e38, 0.5, -0.5, 0.0]]])
    kw = {"alpha": 0.7, "beta": 1.3} if act == "snakebeta" else {"alpha": 0.7} if act in (
        PARAMETRIC_ACTIVATIONS) else {}
    for dtype in (torch.float32, torch.float64):
        x = to_torch(vals, dtype)
        _assert_agree(ops.filtered_act1d(x, act, gain=1.0, impl="numba", **kw),
                      ops.filtered_act1d(x, act, gain=1.0, impl="ref", **kw), f"{act} {dtype}")


@pytest.mark.parametrize("act", ["snake", "snakebeta"])
def test_snake_at_its_singular_parameter_like_ref(act):
    """α (snake) or β (snakebeta) = -1e-9 makes BigVGAN's denominator α + 1e-9 zero in the
    parameter's precision: 'ref' (as BigVGAN) gave inf there, numba added ε in float64 (3e-17)
    and gave finite values. Forward and gradients agree now, the neighbours untouched."""
    for dtype in (torch.float32, torch.float64):
        x = to_torch(np.linspace(-2.0, 2.0, 9)[None, None].repeat(3, axis=1), dtype)
        p = torch.tensor([-1e-9, 1e-9, 0.8], dtype=dtype)
        kw = {"alpha": p} if act == "snake" else {"alpha": torch.ones(3, dtype=dtype), "beta": p}
        outs = []
        for impl in ("numba", "ref"):
            xg = x.clone().requires_grad_()
            y = ops.filtered_act1d(xg, act, gain=1.0, impl=impl, **kw)
            (g,) = torch.autograd.grad(y[:, 1:].sum(), xg)  # (channel 0's gradient is inf - inf)
            outs.append((y.detach(), g))
        (yn, gn), (yr, gr) = outs
        assert not torch.isfinite(yr[0, 0, :4]).any()  # the singularity itself, in both
        _assert_agree(yn, yr, f"{act} {dtype}")
        torch.testing.assert_close(gn, gr, equal_nan=True, msg=f"{act} {dtype}")


@pytest.mark.parametrize("act", sorted(FILTERED_ACTIVATIONS))
def test_filtered_act_gradients_at_special_values_like_ref(act):
    """The fused backward's derivative at NaN, ±inf and past softplus' threshold (20, where it
    is the identity), pointwise: as autograd through 'ref''s composition of PyTorch ops. At
    NaN elu and selu take the positive branch; PyTorch's own elu backward does so in its
    scalar loop but gives NaN in its vectorised one (seen on an AMD EPYC with AVX2: which one
    runs depends on the CPU and the length), so there the fused kernels are held to the
    positive branch itself."""
    kw = {"alpha": 0.7, "beta": 1.3} if act == "snakebeta" else {"alpha": 0.7} if act in (
        PARAMETRIC_ACTIVATIONS) else {}
    grads = []
    for impl in ("numba", "ref"):
        x = to_torch(np.array([[[np.nan, np.inf, -np.inf, 0.5, -0.5, 0.0, 20.5, 25.0]]]))
        x.requires_grad_()
        with ref_as_composition() if impl == "ref" else contextlib.nullcontext():  # (oracle)
            y = ops.filtered_act1d(x, act, gain=1.0, impl=impl, **kw)
        (g,) = torch.autograd.grad(y.sum(), x)
        grads.append(g)
    if act in ("elu", "selu"):
        positive = 1.0 if act == "elu" else 1.0507009873554804934193349852946
        assert float(grads[0][0, 0, 0]) == pytest.approx(positive, rel=1e-12), act
        grads = [g[..., 1:] for g in grads]
    torch.testing.assert_close(*grads, rtol=1e-12, atol=1e-12, equal_nan=True, msg=act)


# ---------------------------------------------------------------------------------------------
# Dispatch


def _probe(dtype):
    rng = np.random.default_rng(5)
    x = to_torch(rng.standard_normal((1, 2, 7, 6)), dtype)
    fu = to_torch(rng.standard_normal(6) / 6, dtype)
    fd = to_torch(rng.standard_normal(6) / 6, dtype)
    b = to_torch(rng.standard_normal(2), dtype)
    return x, fu, fd, b


def _flrelu(x, fu, fd, b, impl):
    return ops.filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=[3, 2, 3, 2], clamp=0.8,
                              impl=impl)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_auto_uses_numba_for_cpu_float32_float64(dtype):
    # The backends differ in the last bits; 'auto' must reproduce numba's bits exactly.
    x, fu, fd, b = _probe(dtype)
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), _flrelu(x, fu, fd, b, "numba"))
    assert torch.equal(ops.upfirdn2d(x, fu, up=2, padding=1),
                       ops.upfirdn2d(x, fu, up=2, padding=1, impl="numba"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("op", ["filtered_lrelu", "upfirdn2d", "filtered_act1d", "resample_poly"])
def test_half_precision_on_the_cpu_computes_in_float32(dtype, op):
    """CPU float16/bfloat16: 'auto' runs the numba kernels in float32 and rounds once, so the
    result (and the gradient) is the float32 result on the same (exact) values, rounded; closer
    to it than 'ref' computing in half precision, and close to that."""
    x, fu, fd, b = _probe(dtype)

    def run(x, fu, fd, b, impl):
        if op == "filtered_lrelu":
            return _flrelu(x, fu, fd, b, impl)
        if op == "upfirdn2d":
            return ops.upfirdn2d(x, fu, up=2, padding=1, impl=impl)
        if op == "filtered_act1d":
            return ops.filtered_act1d(x[:, :, 0], "snake", fu, fd, b, up=2, down=2, padding=(3, 2),
                                      alpha=torch.tensor([0.75, 1.25]), impl=impl)  # fmt: skip
        return ops.resample_poly(x, 3, 2, impl=impl)

    wide = [t.float() for t in (x, fu, fd, b)]
    x.requires_grad_(True)
    wide[0].requires_grad_(True)
    y = run(x, fu, fd, b, "auto")
    y32 = run(*wide, "numba")
    assert y.dtype == dtype
    assert torch.equal(y, run(x, fu, fd, b, "numba"))
    assert torch.equal(y, y32.to(dtype))
    y.backward(torch.ones_like(y))
    y32.backward(torch.ones_like(y32))
    assert x.grad.dtype == dtype and torch.equal(x.grad, wide[0].grad.to(dtype))
    y_ref = run(x, fu, fd, b, "ref")
    assert (y.float() - y32).abs().max() <= (y_ref.float() - y32).abs().max()
    torch.testing.assert_close(y.float(), y_ref.float(), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("op", ["filtered_lrelu", "filtered_act-gelu", "filtered_act1d-snakebeta"])
def test_half_precision_keeps_float32_parameters_unrounded(dtype, op):
    """Half-precision x with float32 master parameters (a bias, Snake's α and β; mixed-precision
    training): the numba path rounded them to x's dtype before computing in float32 (α = 3.01
    became 3.0 in bfloat16), so the result was not the float32 result rounded once and the
    parameters' gradients were taken at the rounded values. Now both are the float32 ones."""
    x, fu, fd, _ = _probe(dtype)
    params = {"b": torch.tensor([0.3001, -0.7003]), "alpha": torch.tensor([3.01, 0.513]),
              "beta": torch.tensor([1.097, 0.2031])}

    def run(x, impl):
        p = {k: v.clone().requires_grad_() for k, v in params.items()}
        if op == "filtered_lrelu":
            y = _flrelu(x, fu, fd, p["b"], impl)
            del p["alpha"], p["beta"]
        elif op == "filtered_act-gelu":
            y = ops.filtered_act(x, "gelu", fu, fd, p["b"], up=2, down=2, padding=[3, 2, 3, 2],
                                 impl=impl)
            del p["alpha"], p["beta"]
        else:
            y = ops.filtered_act1d(x[:, :, 0], "snakebeta", fu, fd, p["b"], up=2, down=2,
                                   padding=(3, 2), alpha=p["alpha"], beta=p["beta"], impl=impl)
        y.float().square().sum().backward()
        return y, {k: v.grad for k, v in p.items()}

    y, grads = run(x, "numba")
    y32, grads32 = run(x.float(), "numba")
    assert y.dtype == dtype and torch.equal(y, y32.to(dtype))
    for k, g in grads.items():  # (the loss differs by y's rounding only)
        assert g.dtype == torch.float32, k
        torch.testing.assert_close(g, grads32[k], rtol=0.02, atol=0.02, msg=k)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_with_factors_past_the_kernels_computes_in_float32_too(dtype):
    """Factors too extreme for the numba kernels (61/59 in 2-D) run the reference: for half
    inputs in float32 too, rounded once, as documented (it ran in half precision, 46 % of the
    outputs correctly rounded, and a bfloat16 backward crashed inside torch's CPU conv)."""
    rng = np.random.default_rng(3)
    f = to_torch(rng.random(5) + 0.5, torch.float32)
    x = to_torch(rng.standard_normal((1, 1, 3, 3)), dtype).requires_grad_(True)
    x32 = x.detach().float().requires_grad_(True)
    for op in (lambda x: ops.upfirdn2d(x, f, up=61, down=59, padding=2, impl="numba"),
               lambda x: ops.filtered_act(x, "lrelu", f, f, up=61, down=59, impl="numba")):
        y, y32 = op(x), op(x32)
        assert y.dtype == dtype and torch.equal(y, y32.to(dtype))
        y.float().sum().backward()
        y32.sum().backward()
        assert x.grad.dtype == dtype and torch.equal(x.grad, x32.grad.to(dtype))
        x.grad = x32.grad = None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_set_default_impl_steers_auto(dtype):
    x, fu, fd, b = _probe(dtype)
    y_ref, y_numba = _flrelu(x, fu, fd, b, "ref"), _flrelu(x, fu, fd, b, "numba")
    ops.set_default_impl("ref")
    assert ops.get_default_impl() == "ref"
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_ref)
    # An explicit impl wins over the default.
    assert torch.equal(_flrelu(x, fu, fd, b, "numba"), y_numba)
    ops.set_default_impl("numba")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_numba)
    ops.set_default_impl(None)
    assert ops.get_default_impl() == "auto"
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_numba)


def test_set_default_impl_steers_half_precision_too():
    x, fu, fd, b = _probe(torch.float16)
    ops.set_default_impl("ref")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), _flrelu(x, fu, fd, b, "ref"))
    ops.set_default_impl("numba")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), _flrelu(x, fu, fd, b, "numba"))


def test_env_var_steers_auto(monkeypatch):
    x, fu, fd, b = _probe(torch.float32)
    y_ref, y_numba = _flrelu(x, fu, fd, b, "ref"), _flrelu(x, fu, fd, b, "numba")
    monkeypatch.setenv("BANDLIMIT_IMPL", "ref")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_ref)
    # set_default_impl takes precedence over the environment variable.
    ops.set_default_impl("numba")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_numba)
    ops.set_default_impl(None)
    monkeypatch.setenv("BANDLIMIT_IMPL", "numba")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_numba)
    monkeypatch.delenv("BANDLIMIT_IMPL")
    assert torch.equal(_flrelu(x, fu, fd, b, "auto"), y_numba)


@pytest.mark.parametrize("bad", ["bogus", "", "REF", 3])
def test_set_default_impl_validation(bad):
    with pytest.raises(ValueError, match="impl") as err:
        ops.set_default_impl(bad)
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)
    assert ops.get_default_impl() == "auto"  # a rejected value changes nothing


@pytest.mark.parametrize("value", ["bogus", " "])
def test_bad_env_var_is_reported(monkeypatch, value):
    monkeypatch.setenv("BANDLIMIT_IMPL", value)
    x, fu, fd, b = _probe(torch.float32)
    with pytest.raises(ValueError, match=f"BANDLIMIT_IMPL must be one of .* got {value!r}"):
        _flrelu(x, fu, fd, b, "auto")


def test_impl_must_be_a_str():
    """An array holding 'cuda' passed `impl in IMPLS` (numpy compares elementwise)."""
    x, fu, fd, b = _probe(torch.float32)
    with pytest.raises(ValueError, match=r"impl must be one of .* got array\(\['ref'\]"):
        _flrelu(x, fu, fd, b, np.array(["ref"]))


def test_results_identical_across_repeated_calls():
    # Deterministic kernels: same input, same bits (no racy parallel reductions).
    x, fu, fd, b = _probe(torch.float32)
    x = x.expand(4, 2, 7, 6).contiguous() * torch.arange(1, 5).view(4, 1, 1, 1)
    first = _flrelu(x, fu, fd, b, "numba")
    for _ in range(3):
        assert torch.equal(_flrelu(x, fu, fd, b, "numba"), first)


@pytest.mark.parametrize("impl", ["numba"])
def test_launches_reusing_scratch_match_fresh_ones(impl):
    """The numba kernels reuse a launch's scratch for the next identical launch (it leaves a
    scratch as its next plane finds it); launches of other geometries, modes and padding modes
    interleaved between identical ones change nothing: every call equals its first."""
    from bandlimit.ops._numba import _kernel

    rng = np.random.default_rng(11)
    f = to_torch(rng.random(7))
    xs = [to_torch(rng.standard_normal(s)).requires_grad_(True)
          for s in ((2, 3, 9, 8), (1, 2, 13, 5), (2, 3, 9, 8))]  # fmt: skip
    calls = [
        lambda x: ops.filtered_lrelu(x, f, f, up=2, down=2, padding=3, clamp=2.0, impl=impl),
        lambda x: ops.filtered_act(x, "snake", f, f, up=2, down=2, padding=3, alpha=0.6,
                                   padding_mode="replicate", down_padding=2, impl=impl),
        lambda x: ops.filtered_act(x, "gelu", f, f, up=2, down=1, padding=4, impl=impl),
        lambda x: ops.upfirdn2d(x, f, up=3, down=2, padding=2, impl=impl),
    ]

    def run():
        out = []
        for x in xs:
            for call in calls:
                y = call(x)
                out += [y, *torch.autograd.grad(y, x, torch.ones_like(y))]
        return out

    _kernel._SCRATCH.clear()
    _kernel._scratch_bytes = 0
    first = run()
    assert _kernel._SCRATCH, "no scratch kept for reuse"
    for _ in range(2):
        for a, b in zip(run(), first, strict=True):
            assert torch.equal(a, b)


def test_kept_scratch_stays_within_its_budget(monkeypatch):
    """The numba kernels keep launches' scratch only within ``SCRATCH_BUDGET`` bytes, and never
    one over a quarter of it: a single huge plane leaves nothing behind."""
    from bandlimit.ops._numba import _kernel

    monkeypatch.setattr(_kernel, "SCRATCH_BUDGET", 1 << 20)
    _kernel._SCRATCH.clear()
    _kernel._scratch_bytes = 0
    f = torch.ones(12) / 12
    for size in (8, 16, 24, 32, 40, 48, 56, 64, 72, 80):  # ~30-200 KB each
        ops.filtered_lrelu(torch.randn(1, 1, size, size), f, f, up=2, down=2, padding=11,
                           impl="numba")  # fmt: skip
        held = sum(scr.nbytes for _, scr in _kernel._SCRATCH.values())
        assert held == _kernel._scratch_bytes <= 1 << 20
    ops.filtered_lrelu(torch.randn(1, 1, 400, 400), f, f, up=2, down=2, padding=11, impl="numba")
    assert all(scr.nbytes <= 1 << 18 for _, scr in _kernel._SCRATCH.values())
    assert sum(scr.nbytes for _, scr in _kernel._SCRATCH.values()) == _kernel._scratch_bytes


@pytest.mark.parametrize("act", ["relu", "lrelu", "linear", "selu", "elu"])
def test_bias_act_cuda_backward_formula_at_ties_matches_ref(act):
    """The cuda backend's bias_act backward (a PyTorch formula, ``_ops.bias_act_vjp``, run here
    on the CPU) equals 'ref' autograd where the derivative is a convention: inputs exactly 0 and
    outputs exactly at the clamp, and NaN. bias_act's own: the negative branch at 0 (PyTorch's
    relu / leaky_relu), the gradient passes only where |a| < clamp (torch.clamp). With
    ``filtered_ties`` (filtered_act without filters under 'cuda', StyleGAN3's ToRGB): the
    filtered ops' convention, the positive branch, and only |a| > clamp blocks."""
    from bandlimit.ops._activations import get_activation
    from bandlimit.ops.cuda import _ops

    # NaN: relu / lrelu / elu / selu / clamp decide it by convention too (PyTorch's backward
    # selects a branch); an infinite dy where relu blocks gives 0, not inf · 0
    x0 = torch.tensor([[0.0, 1.0, -5.0, 2.0, -0.0, 0.5, math.nan]], dtype=torch.float64)
    dy = torch.arange(1.0, x0.shape[1] + 1.0, dtype=torch.float64).reshape(x0.shape)
    dy[0, 2] = math.inf
    spec, alpha = get_activation(act), 0.3
    for filtered_ties, clamp in itertools.product((False, True), (1.0, None)):
        x = x0.clone().requires_grad_()
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        if filtered_ties:  # [1, 6] as [N=1, C=1, 1, 6]; the bias along C
            with ref_as_composition():  # (PyTorch's own derivatives: the oracle)
                y = ops.filtered_act(x[None, None], act, b=b, alpha=alpha, gain=1.0,
                                     clamp=clamp, impl="ref")[0, 0]
        else:
            y = ops.bias_act(x, b, dim=0, act=act, alpha=alpha, gain=1.0, clamp=clamp,
                             impl="ref")
        want = torch.autograd.grad(y, (x, b), dy)
        got = _ops.bias_act_vjp(x0, b.detach(), dy, 0, spec, alpha, 1.0, clamp, filtered_ties)
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e, rtol=0, atol=1e-15, equal_nan=True,
                                       msg=f"filtered_ties={filtered_ties}, clamp={clamp}")


def test_bias_act_cuda_backward_decides_in_float32_for_half_storage():
    """The CUDA kernels add the bias, activate and clamp in float32; the backward formula
    decides the clamp in float32 too, so a half-precision value the forward clamped gets no
    gradient (181 + 0.05 in float16 is 181.0, times sqrt(2) below 256; in float32 above)."""
    from bandlimit.ops._activations import get_activation
    from bandlimit.ops.cuda import _ops

    x = torch.full((1, 1, 1, 1), 181.0, dtype=torch.float16)
    b = torch.full((1,), 0.05, dtype=torch.float16)
    dy = torch.ones_like(x)
    for ties in (False, True):
        dx, db = _ops.bias_act_vjp(x, b, dy, 1, get_activation("lrelu"), 0.2, math.sqrt(2),
                                   256.0, ties)
        assert dx.dtype == torch.float16 and dx.item() == 0.0 and db.item() == 0.0
    dx, _ = _ops.bias_act_vjp(x, b, dy, 1, get_activation("lrelu"), 0.2, math.sqrt(2), 257.0)
    assert dx.item() == pytest.approx(math.sqrt(2), rel=1e-3)
