"""``impl='cuda'`` on a real GPU (``pytest -m cuda``; skipped without one).

Parity of every op with 'ref' over the Hypothesis strategies of the CPU tests (float64/float32
tight, float16/bfloat16 within the dtype's tolerance), gradients and double backward, streams,
non-contiguous inputs, a tensor that needs 64-bit indexing, launch configurations (more planes
than gridDim.z, block sizes up to 1024, 48 KB of dynamic shared memory, a second device),
``opcheck`` of the custom ops, and ``torch.compile``. The same kernel logic is verified without
a GPU by test_cuda_emulation.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from bandlimit import ops
from bandlimit.ops.cuda import _ops
from tests.ops.strategies import (
    assert_close,
    bias_act_cases,
    conv2d_resample_cases,
    filtered_lrelu_cases,
    to_np,
    to_torch,
    upfirdn1d_cases,
    upfirdn2d_cases,
)
from tests.ops.test_cuda_emulation import fused_as_documented  # not inside a @given test
from tests.ops.test_filtered_act import cases as fa_cases
from tests.ops.test_filtered_act import expected as fa_expected

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

RTOL = {torch.float64: 1e-10, torch.float32: 2e-5, torch.float16: 1e-2, torch.bfloat16: 6e-2}
DEV = "cuda"


@pytest.fixture(scope="module", autouse=True)
def _built():
    from bandlimit.ops import cuda

    cuda.load()  # build once, outside the timed examples


def _t(a, dtype, device=DEV):
    return None if a is None else to_torch(a, dtype).to(device)


def _scale(t: torch.Tensor) -> float:
    return max(1.0, float(t.detach().abs().max()) if t.numel() else 1.0)


# ------------------------------------------------------------------------------------------
# Parity with 'ref'


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=upfirdn2d_cases())
def test_upfirdn2d_parity(case, dtype):
    args = (_t(case.x, dtype), _t(case.f, dtype))
    y = ops.upfirdn2d(*args, impl="cuda", **case.kwargs)
    r = ops.upfirdn2d(*(None if a is None else a.cpu() for a in args), impl="ref", **case.kwargs)
    assert y.device.type == "cuda" and y.dtype == dtype
    assert_close(y.cpu(), to_np(r), RTOL[dtype], scale=_scale(r) * 4, what="upfirdn2d")


@given(case=upfirdn1d_cases())
def test_upfirdn1d_parity(case):
    y = ops.upfirdn1d(_t(case.x, torch.float64), _t(case.f, torch.float64), impl="cuda",
                      **case.kwargs)
    r = ops.upfirdn1d(_t(case.x, torch.float64, "cpu"), _t(case.f, torch.float64, "cpu"),
                      impl="ref", **case.kwargs)
    assert_close(y.cpu(), to_np(r), RTOL[torch.float64], scale=_scale(r) * 4, what="upfirdn1d")


@pytest.mark.parametrize(("up", "down", "padtype"),
                         [(160, 147, "constant"), (1, 3, "reflect"), (3, 2, "line")])
def test_resample_poly_on_the_gpu(up, down, padtype):
    """resample_poly's upfirdn1d calls run the CUDA kernel (a 3201-tap filter for 160/147); the
    output equals scipy's, and so does the gradient to 'ref''s on the CPU."""
    import scipy.signal

    x = torch.randn(2, 3, 301, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    xg = x.to(DEV).requires_grad_()
    y = ops.resample_poly(xg, up, down, padtype=padtype, impl="cuda")
    expected = scipy.signal.resample_poly(x.numpy(), up, down, axis=-1, padtype=padtype)
    assert_close(y.detach().cpu(), expected, RTOL[torch.float64], scale=_scale(x) * 4,
                 what="resample_poly")  # fmt: skip
    dy = torch.randn(y.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (dx,) = torch.autograd.grad(y, xg, dy.to(DEV))
    xr = x.clone().requires_grad_()
    yr = ops.resample_poly(xr, up, down, padtype=padtype, impl="ref")
    (dxr,) = torch.autograd.grad(yr, xr, dy)
    assert_close(dx.cpu(), to_np(dxr), RTOL[torch.float64], scale=_scale(dxr) * 4,
                 what="resample_poly dx")  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=bias_act_cases())
def test_bias_act_parity_and_gradients(case, dtype):
    x = _t(case.x, dtype).requires_grad_()
    b = _t(case.b, dtype)
    if b is not None:
        b.requires_grad_()
    y = ops.bias_act(x, b, impl="cuda", **case.kwargs)
    xr = x.detach().cpu().requires_grad_()
    br = None if b is None else b.detach().cpu().requires_grad_()
    r = ops.bias_act(xr, br, impl="ref", **case.kwargs)
    assert_close(y.cpu(), to_np(r), 10 * RTOL[dtype], what="bias_act")
    dy = torch.randn_like(r)
    gr = torch.autograd.grad(r, [xr] + ([br] if br is not None else []), dy)
    g = torch.autograd.grad(y, [x] + ([b] if b is not None else []), dy.to(DEV))
    for a, e in zip(g, gr):
        assert_close(a.cpu(), to_np(e), 10 * RTOL[dtype], scale=_scale(e), what="bias_act grad")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=filtered_lrelu_cases())
def test_filtered_lrelu_parity_and_gradients(case, dtype):
    x = _t(case.x, dtype).requires_grad_()
    b = _t(case.b, dtype)
    if b is not None:
        b.requires_grad_()
    fu, fd = _t(case.fu, dtype), _t(case.fd, dtype)
    y = ops.filtered_lrelu(x, fu, fd, b, impl="cuda", **case.kwargs)
    xr, br = x.detach().cpu().requires_grad_(), None if b is None else b.detach().cpu()
    if br is not None:
        br.requires_grad_()
    r = ops.filtered_lrelu(xr, None if fu is None else fu.cpu(), None if fd is None else fd.cpu(),
                           br, impl="ref", **case.kwargs)
    assert_close(y.detach().cpu(), to_np(r), RTOL[dtype], scale=_scale(r) * 4, what="forward")
    dy = torch.randn_like(r)
    wrt, wrt_r = [x] + ([b] if b is not None else []), [xr] + ([br] if br is not None else [])
    g = torch.autograd.grad(y, wrt, dy.to(DEV))
    gr = torch.autograd.grad(r, wrt_r, dy)
    for a, e in zip(g, gr):
        assert_close(a.cpu(), to_np(e), RTOL[dtype] * 10, scale=_scale(e) * 4, what="gradient")


@pytest.mark.parametrize("act", ["relu", "linear", "tanh", "swish", "gelu", "snake"])
@settings(max_examples=10)
@given(case=filtered_lrelu_cases(max_hw=10, max_taps=9))
def test_filtered_act_parity(case, act):
    kw = {k: v for k, v in case.kwargs.items() if k not in ("slope",)}
    extra = dict(alpha=0.7) if act == "snake" else {}
    x = _t(case.x, torch.float64).requires_grad_()
    fu, fd = _t(case.fu, torch.float64), _t(case.fd, torch.float64)
    y = ops.filtered_act(x, act, fu, fd, _t(case.b, torch.float64), impl="cuda", **kw, **extra)
    xr = x.detach().cpu().requires_grad_()
    r = ops.filtered_act(xr, act, None if fu is None else fu.cpu(),
                         None if fd is None else fd.cpu(), _t(case.b, torch.float64, "cpu"),
                         impl="ref", **kw, **extra)
    assert_close(y.detach().cpu(), to_np(r), 1e-9, scale=_scale(r) * 4, what=act)
    dy = torch.randn_like(r)
    (g,) = torch.autograd.grad(y, x, dy.to(DEV))
    (gr,) = torch.autograd.grad(r, xr, dy)
    assert_close(g.cpu(), to_np(gr), 1e-9, scale=_scale(gr) * 4, what=f"{act} gradient")


class _Record(torch.utils._python_dispatch.TorchDispatchMode):
    """The ATen / custom ops that run (to see whether the fused kernel was used)."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _run_fa(case, impl, dtype, device):
    """``filtered_act`` / ``filtered_act1d`` of a test_filtered_act case; returns the output and
    the leaves (x, b, alpha, beta that are tensors), all requiring grad."""
    op = ops.filtered_act if case["ndim"] == 2 else ops.filtered_act1d
    t = {k: _t(case[k], dtype, device) for k in ("x", "fu", "fd", "b")}
    alpha, beta = case["alpha"], _t(case["beta"], dtype, device)
    if isinstance(alpha, np.ndarray):
        alpha = _t(alpha, dtype, device)
    leaves = [v.requires_grad_() for v in (t["x"], t["b"], alpha, beta)
              if isinstance(v, torch.Tensor)]
    y = op(t["x"], case["act"], t["fu"], t["fd"], t["b"], alpha=alpha, beta=beta, impl=impl,
           **case["kwargs"])
    return y, leaves


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=fa_cases())
def test_filtered_act_every_act_and_mode_parity(case, dtype):
    """Every activation × 1-D / 2-D × padding mode: the fused kernel runs exactly where
    documented; forward equals the float64 oracle, gradients w.r.t. x, b, alpha, beta equal
    'ref' (float64 on the CPU)."""
    kw = case["kwargs"]
    fused = fused_as_documented(case)
    with _Record() as rec:
        y, leaves = _run_fa(case, "cuda", dtype, DEV)
    assert ("bandlimit.filtered_act_cuda.default" in rec.ops) == fused
    # float32 fallback: 'ref' on the GPU, whose convolutions may run in TF32 (cuDNN's default)
    tol = 1e-9 if dtype == torch.float64 else (1e-4 if fused else 5e-3)
    assert_close(y.detach().cpu(), fa_expected(case), tol, what=f"{case['act']} {kw}")
    r, rleaves = _run_fa(case, "ref", torch.float64, "cpu")
    dy = torch.randn_like(r)
    g = torch.autograd.grad(y, leaves, dy.to(DEV, dtype))
    gr = torch.autograd.grad(r, rleaves, dy)
    for a, e in zip(g, gr, strict=True):
        assert a.dtype == dtype
        assert_close(a.cpu(), to_np(e), tol * 10, scale=_scale(e) * 4,
                     what=f"{case['act']} gradient")


@pytest.mark.parametrize("act", ["snake", "snakebeta", "gelu", "gelu_tanh", "silu", "lrelu"])
@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_bigvgan_like_1d(act, mode):
    """BigVGAN-sized 1-D call (ratio 2, 12 taps; 'replicate' is BigVGAN's own padding, the kernel
    extending the activated signal) in float32 on the fused path: output and gradients w.r.t.
    x, b, alpha, beta against 'ref' in float64."""
    g = torch.Generator().manual_seed(0)
    c = 16
    x = torch.randn(2, c, 3000, generator=g)
    b = torch.randn(c, generator=g) * 0.1
    f = torch.randn(12, generator=g) / 12
    p = {}
    if act in ("snake", "snakebeta"):
        p["alpha"] = torch.rand(c, generator=g) + 0.5
    if act == "snakebeta":
        p["beta"] = torch.rand(c, generator=g) + 0.5
    kw = dict(up=2, down=2, padding=(6, 5), down_padding=(5, 6), padding_mode=mode)

    def run(device, dtype):
        leaves = [t.to(device, dtype).requires_grad_() for t in (x, b, *p.values())]
        par = dict(zip(p, leaves[2:], strict=True))
        y = ops.filtered_act1d(leaves[0], act, f.to(device, dtype), f.to(device, dtype),
                               leaves[1], impl="cuda" if device == DEV else "ref", **kw, **par)
        return y, leaves

    with _Record() as rec:
        y, leaves = run(DEV, torch.float32)
    assert "bandlimit.filtered_act_cuda.default" in rec.ops
    r, rleaves = run("cpu", torch.float64)
    assert_close(y.detach().cpu().double(), to_np(r), 1e-4, scale=_scale(r) * 4, what=act)
    dy = torch.randn(r.shape, generator=g, dtype=torch.float64)
    # one fused backward: reading the mask (lrelu, zeros) or u (folding the extension back),
    # which the fused forward, run again, recomputes; counted by wrapping the ops (CUDA's
    # backward runs on autograd's device thread)
    calls = {"mask": 0, "u": 0, "upfirdn": 0, "forward": 0}

    def backward(dy, saved, *args):
        calls["mask" if saved.dtype == torch.int32 else "u"] += 1
        return bwd(dy, saved, *args)

    def upfirdn(*args):
        calls["upfirdn"] += 1
        return stage(*args)

    def forward(*args):
        calls["forward"] += 1
        return fwd(*args)

    bwd, stage, fwd = _ops._filtered_act_bwd, _ops.upfirdn, _ops._filtered_act_fwd
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_ops, "_filtered_act_bwd", backward)
        mp.setattr(_ops, "upfirdn", upfirdn)
        mp.setattr(_ops, "_filtered_act_fwd", forward)
        grads = torch.autograd.grad(y, leaves, dy.to(DEV, torch.float32))
    reads_u = act != "lrelu" or mode == "replicate"
    assert calls == {"mask": int(not reads_u), "u": int(reads_u), "upfirdn": 0,
                     "forward": int(reads_u)}
    for a, e in zip(grads, torch.autograd.grad(r, rleaves, dy), strict=True):
        assert_close(a.cpu().double(), to_np(e), 1e-3, scale=_scale(e) * 4, what=f"{act} grad")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@settings(max_examples=10)
@given(case=filtered_lrelu_cases(max_hw=10, max_taps=9))
def test_half_precision_parity(case, dtype):
    kw = dict(case.kwargs, clamp=None)  # a flipped clamp decision is a legit O(1) difference
    args = [_t(a, dtype) for a in (case.x, case.fu, case.fd, case.b)]
    y = ops.filtered_lrelu(*args, impl="cuda", **kw)
    # The float64 reference on the CPU (to_np needs host tensors).
    r = ops.filtered_lrelu(*[None if a is None else a.double().cpu() for a in args], impl="ref",
                           **kw)
    assert y.dtype == dtype
    assert_close(y.double().cpu(), to_np(r), RTOL[dtype], scale=_scale(r) * 4, what=str(dtype))
    pad = 0 if args[1] is None else max(args[1].shape) - 1  # a valid padding for any filter
    u = ops.upfirdn2d(args[0], args[1], impl="cuda", up=2, padding=pad)
    ur = ops.upfirdn2d(args[0].double().cpu(), None if args[1] is None else args[1].double().cpu(),
                       up=2, padding=pad, impl="ref")
    assert_close(u.double().cpu(), to_np(ur), RTOL[dtype], scale=_scale(ur) * 4, what="upfirdn")


# ------------------------------------------------------------------------------------------
# Autograd


def test_gradcheck_and_double_backward():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, generator=g).to(DEV).requires_grad_()
    b = torch.randn(3, dtype=torch.float64, generator=g).to(DEV).requires_grad_()
    fu = torch.randn(6, dtype=torch.float64, generator=g).to(DEV)
    fd = torch.randn(4, 4, dtype=torch.float64, generator=g).to(DEV)

    def fl(x, b):
        return ops.filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=3, clamp=3.0, impl="cuda")

    assert torch.autograd.gradcheck(fl, (x, b))
    assert torch.autograd.gradgradcheck(fl, (x, b))
    assert torch.autograd.gradgradcheck(
        lambda x: ops.upfirdn2d(x, fu, up=2, down=3, padding=(1, 2, 0, 3), impl="cuda"), (x,))
    alpha = (torch.rand(3, dtype=torch.float64, generator=g) + 0.5).to(DEV).requires_grad_()
    beta = (torch.rand(3, dtype=torch.float64, generator=g) + 0.5).to(DEV).requires_grad_()

    def sb(x, b, alpha, beta):
        return ops.filtered_act(x, "snakebeta", fu, fd, b, up=2, down=2, padding=3, alpha=alpha,
                                beta=beta, impl="cuda")

    assert torch.autograd.gradcheck(sb, (x, b, alpha, beta))
    assert torch.autograd.gradgradcheck(sb, (x, b, alpha, beta))
    x1 = x[:, :, 0].detach().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x1, a: ops.filtered_act1d(x1, "snake", fu, fu, up=2, down=2, padding=(3, 2),
                                         alpha=a, impl="cuda"), (x1, alpha))
    assert torch.autograd.gradcheck(
        lambda x: ops.filtered_act(x, "gelu", fu, fd, up=2, padding=5, impl="cuda"), (x,))
    for act in ("lrelu", "swish", "softplus"):
        assert torch.autograd.gradgradcheck(
            lambda x, b, act=act: ops.bias_act(x, b, act=act, clamp=2.0, impl="cuda"), (x, b))


# ------------------------------------------------------------------------------------------
# Streams, layouts, sizes


def test_non_default_stream_and_non_contiguous():
    x = torch.randn(2, 4, 20, 24, device=DEV).transpose(2, 3)  # non-contiguous
    f = torch.randn(12, device=DEV)
    ref = ops.filtered_lrelu(x.contiguous().cpu(), f.cpu(), f.cpu(), up=2, down=2, padding=11,
                             impl="ref")
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        y = ops.filtered_lrelu(x, f, f, up=2, down=2, padding=11, impl="cuda")
        z = ops.upfirdn2d(x[:, ::2], f, down=2, padding=5, impl="cuda")
    s.synchronize()
    assert_close(y.cpu(), to_np(ref), RTOL[torch.float32], scale=_scale(ref) * 4, what="stream")
    zr = ops.upfirdn2d(x[:, ::2].cpu(), f.cpu(), down=2, padding=5, impl="ref")
    assert_close(z.cpu(), to_np(zr), RTOL[torch.float32], scale=_scale(zr) * 4, what="strided")


def test_64bit_indexing():
    """More than 2^31 elements: the last plane must come out right."""
    free, _ = torch.cuda.mem_get_info()
    if free < 16 * 2**30:
        pytest.skip("needs 16 GiB of free GPU memory")
    c, h, w = 520, 2048, 2048  # 2.18e9 elements > 2^31
    x = torch.empty(1, c, h, w, device=DEV, dtype=torch.float16)
    x[:, -1].normal_()
    x[:, :-1].zero_()
    f = torch.ones(2, device=DEV, dtype=torch.float16) / 2
    y = ops.upfirdn2d(x, f, padding=(1, 0, 1, 0), impl="cuda")
    yr = ops.upfirdn2d(x[:, -1:].float(), f.float(), padding=(1, 0, 1, 0), impl="ref")
    assert_close(y[:, -1:].float().cpu(), to_np(yr.cpu()), RTOL[torch.float16], what="last plane")
    del y
    a = ops.bias_act(x, act="lrelu", impl="cuda")
    ar = ops.bias_act(x[:, -1:].float(), act="lrelu", impl="ref")
    assert_close(a[:, -1:].float().cpu(), to_np(ar.cpu()), RTOL[torch.float16], what="bias_act")


def test_64bit_indexing_of_the_stored_pre_activation():
    """The backward reading u with more than 2^31 up-sampled samples (u's index, the parameter
    sums' blocks): BigVGAN's 1-D snake call, the last channel's gradients (x, alpha) right."""
    free, _ = torch.cuda.mem_get_info()
    if free < 32 * 2**30:
        pytest.skip("needs 32 GiB of free GPU memory")
    c, n = 72, 2**24  # u: 72 * 2^25 = 2.4e9 float32 samples > 2^31
    g = torch.Generator().manual_seed(4)
    f = (torch.randn(12, generator=g) / 12).to(DEV)
    x = torch.zeros(1, c, n, device=DEV, dtype=torch.float16)
    x[:, -1].normal_()
    x.requires_grad_()
    alpha = (torch.rand(c, generator=g) + 0.5).to(DEV).requires_grad_()
    kw = dict(up=2, down=2, padding=(6, 5), padding_mode="replicate", down_padding=(5, 6))
    y = ops.filtered_act1d(x, "snake", f.half(), f.half(), alpha=alpha, impl="cuda", **kw)
    dy = torch.zeros_like(y)
    dy[:, -1].normal_()
    dx, da = torch.autograd.grad(y, (x, alpha), dy)
    del y
    xr = x[:, -1:].detach().float().requires_grad_()
    ar = alpha[-1:].detach().half().float().requires_grad_()  # the kernel reads it in half
    fr = f.half().float()  # the taps the kernel reads
    yr = ops.filtered_act1d(xr, "snake", fr, fr, alpha=ar, impl="ref", **kw)
    dxr, dar = torch.autograd.grad(yr, (xr, ar), dy[:, -1:].float())
    assert_close(dx[:, -1:].float().cpu(), to_np(dxr.cpu()), RTOL[torch.float16],
                 scale=_scale(dxr.cpu()) * 4, what="dx, last channel")
    assert_close(da[-1:].cpu(), to_np(dar.cpu()), 1e-2, scale=_scale(dar.cpu()) * 4,
                 what="dalpha, last channel")


# ------------------------------------------------------------------------------------------
# Launch configurations: limits the CPU emulation can only refuse, a GPU has to run


def _fir(kind, k, dtype=torch.float64, seed=0):
    """A random normalised filter on the GPU: kind 'sep' (k = (kx, ky) taps) or 'full' (k = (ky,
    kx))."""
    from bandlimit.ops._params import Fir

    g = torch.Generator().manual_seed(seed)
    taps = [torch.randn(n, generator=g, dtype=torch.float64) / n for n in k]
    if kind == "full":
        return Fir(f2d=torch.outer(*taps).to(DEV, dtype) + 0.01)
    return Fir(fx=taps[0].to(DEV, dtype), fy=taps[1].to(DEV, dtype))


def test_planes_beyond_the_grid_z_limit():
    """N·C = 131076 planes, past gridDim.z's 65535: each fused block loops over planes (forward
    and mask backward); upfirdn and bias_act walk them in a flat 64-bit grid-stride loop. Every
    plane equals a launch over a slice of the channels (one plane per block) bit for bit, and the
    last channels equal 'ref' on the CPU ('ref' over all the planes would take minutes)."""
    g = torch.Generator().manual_seed(1)
    c = 65538
    x = torch.randn(2, c, 4, 5, dtype=torch.float64, generator=g)
    b = torch.randn(c, dtype=torch.float64, generator=g)
    fu, fd = torch.randn(4, dtype=torch.float64, generator=g), torch.randn(
        3, 3, dtype=torch.float64, generator=g)
    dy = torch.randn(2, c, 4, 5, dtype=torch.float64, generator=g)  # filtered_lrelu's output

    def run(ch, device=DEV):
        impl = "cuda" if device == DEV else "ref"
        xs, bs = x[:, ch].to(device).requires_grad_(), b[ch].to(device).requires_grad_()
        y = ops.filtered_lrelu(xs, fu.to(device), fd.to(device), bs, up=2, down=2, padding=2,
                               clamp=1.0, impl=impl)
        gx, gb = torch.autograd.grad(y, [xs, bs], dy[:, ch].to(device))
        u = ops.upfirdn2d(xs.detach(), fu.to(device), up=2, padding=2, impl=impl)
        a = ops.bias_act(xs.detach(), bs.detach(), act="lrelu", clamp=1.0, impl=impl)
        return [t.detach().cpu() for t in (y, gx, u, a, gb)]

    whole = run(slice(None))
    parts = [run(slice(c0, c0 + 16384)) for c0 in range(0, c, 16384)]
    for name, got, *want in zip(("y", "dx", "upfirdn", "bias_act", "db"), whole, *parts,
                                strict=True):
        want = torch.cat(want, dim=-1 if name == "db" else 1)
        if name == "db":  # a reduction over (N, H, W) whose order may follow the shape
            assert_close(got, to_np(want), 1e-12, scale=_scale(want), what=name)
        else:
            assert torch.equal(got, want), name
    tail = slice(c - 5, c)
    for name, got, want in zip(("y", "dx", "upfirdn", "bias_act", "db"), run(tail),
                               run(tail, "cpu"), strict=True):
        assert_close(got, to_np(want), 1e-10, scale=_scale(want) * 4, what=f"{name} vs ref")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_block_size_independence(dtype):
    """Bit-identical results for one warp, a block that is not a multiple of a warp, and the
    largest block (1024 threads, or fewer if the kernel's registers do not allow it: the launch
    caps it) -- each kernel, forward mask and mask backward."""
    from bandlimit.ops.cuda import load as load_ext

    ext = load_ext()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 37, 41, dtype=torch.float64, generator=g).to(DEV, dtype)
    b = torch.randn(3, dtype=torch.float64, generator=g).to(DEV, dtype)
    acc = torch.float64 if dtype == torch.float64 else torch.float32
    fu, fd = _fir("sep", (12, 12), acc), _fir("full", (6, 6), acc, seed=1)
    geo = (fu, fd, (2, 2), (2, 2), (11, 10, 11, 10), (0, 0, 0, 0))
    alpha = torch.rand(3, generator=g).to(DEV, acc) + 0.5

    def run(threads):
        y, mask = _ops.filtered_act_call(ext, x, b, *geo, "lrelu", 0.2, 1.4, 2.0, True, 0,
                                         threads)
        dx = _ops.filtered_act_backward_call(ext, y, mask, (37, 41), *geo, "lrelu", 0.2, 1.4, 0,
                                             threads)
        u = _ops.upfirdn_call(ext, x, fu.fx, fu.fy, None, (2, 1), (1, 3), (5, 6, 1, 2), threads)
        a = _ops.bias_act_call(ext, x, b, 1, "swish", 0.0, 1.0, None, threads)
        # the backward reading u (its per-block parameter sums depend on the block: not here)
        ys, pre = _ops.filtered_act_call(ext, x, b, *geo, "snake", alpha, 1.0, None, False, 0,
                                         threads, save_u=True)
        dxs, _ = _ops.filtered_act_backward_u_call(ext, ys, pre, (37, 41), *geo, "snake", alpha,
                                                   1.0, None, block_threads=threads)
        return y, mask, dx, u, a, ys, pre, dxs

    default = run(0)
    names = ("y", "mask", "dx", "upfirdn", "bias_act", "snake y", "u", "snake dx")
    for threads in (32, 100, 1024):
        for name, got, want in zip(names, run(threads), default, strict=True):
            assert torch.equal(got, want), (threads, name)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("up", "ku", "kind_d"), [(2, 12, "sep"), (4, 24, "sep"), (2, 12, "full"),
                                                  (4, 24, "full")])
def test_fast_kernels_equal_the_generic_kernel(dtype, up, ku, kind_d):
    """StyleGAN3's geometries (T: separable down filter; R: the full 12 x 12 one): the fast
    kernel's output, mask and mask backward equal the generic kernel's, for several block sizes
    (forward and backward of up 4 are different specs)."""
    from bandlimit.ops.cuda import load as load_ext

    ext = load_ext()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 5, 45, 51, dtype=torch.float64, generator=g).to(DEV, dtype)
    b = torch.randn(5, dtype=torch.float64, generator=g).to(DEV, dtype)
    fu = _fir("sep", (ku, ku), torch.float32)
    fd = _fir(kind_d, (12, 12), torch.float32, seed=1)
    geo = (fu, fd, (up, up), (2, 2), (ku // 2 + 4,) * 4, (0, 0, 0, 0))
    assert all(k != "generic" for k in _ops.kernel_names(ext, fu, fd, (up, up), (2, 2), dtype))
    outs = {}
    for fast in (True, False):
        for threads in (0, 96, 1024):
            y, mask = _ops.filtered_act_call(ext, x, b, *geo, "lrelu", 0.2, 1.4, 2.0, True, 0,
                                             threads, fast=fast)
            dx = _ops.filtered_act_backward_call(ext, y, mask, (45, 51), *geo, "lrelu", 0.2, 1.4,
                                                 0, threads, fast=fast)
            outs[fast, threads] = (y.float(), mask, dx.float())
    # The same sums in the same order: equal up to how nvcc contracts multiply-adds, which may
    # move a sample across a rounding boundary of the storage type (and, rarely, its mask bit).
    want = outs[False, 0]
    tol = 1e-5 if dtype == torch.float32 else RTOL[dtype]
    for key, got in outs.items():
        assert (got[1] != want[1]).float().mean() <= 1e-3, key
        for name, a, w in (("y", got[0], want[0]), ("dx", got[2], want[2])):
            assert torch.allclose(a, w, rtol=tol, atol=tol * _scale(w)), (key, name)


def _needs_tensor_cores():
    if torch.cuda.get_device_capability()[0] < 8:
        pytest.skip("mma.m16n8k16 needs compute capability 8.0 or later")


@pytest.mark.parametrize("bf16", [False, True])
def test_mma_fragments_on_tensor_cores(bf16):
    """mma.h's fragment layout on this GPU's tensor cores: D = A B + C through one warp's
    fragments, loaded as the FIR pass loads them, equals the matmul of the half-rounded inputs
    (exactly for small integers, which any misplaced element would change). The emulation can
    only check the layout as mma.h reads it; this checks it against the hardware."""
    from bandlimit.ops.cuda import load as load_ext

    _needs_tensor_cores()
    ext = load_ext()
    half = torch.bfloat16 if bf16 else torch.float16
    g = torch.Generator().manual_seed(2)
    a = torch.randint(-8, 9, (16, 16), generator=g).float()
    b = torch.randint(-4, 5, (16, 8), generator=g).float()
    c = torch.randint(-64, 65, (16, 8), generator=g).float()
    d = ext.mma_probe(a.to(DEV), b.to(DEV), c.to(DEV), bf16).cpu()
    assert torch.equal(d, (a.double() @ b.double() + c).float()), d
    a, b, c = (torch.randn(s, generator=g) for s in ((16, 16), (16, 8), (16, 8)))
    d = ext.mma_probe(a.to(DEV), b.to(DEV), c.to(DEV), bf16).cpu().double()
    assert torch.allclose(d, a.to(half).double() @ b.to(half).double() + c.double(), rtol=1e-5,
                          atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(("up", "ku", "kind_u", "kind_d"), [
    (2, 12, "sep", "sep"), (4, 24, "sep", "sep"), (2, 12, "full", "sep"),  # T, and R backward
    (2, 12, "sep", "full"), (4, 24, "sep", "full"),  # R's forward: a 2-D down filter
])
def test_tensor_core_stage_b_parity(dtype, up, ku, kind_u, kind_d):
    """Stage B on tensor cores (mma=1; a separable one's x pass, or a full 2-D filter down by
    2): the leaky-ReLU forward with its mask and the mask backward are within the dtype's
    tolerance of the CUDA cores (which the other tests hold to 'ref'), for several block sizes;
    the mask (stage A's) is the same. Lowpass-like filters (positive taps, DC gain 1) keep the
    signals of order 1."""
    from bandlimit.ops._params import Fir
    from bandlimit.ops.cuda import load as load_ext

    _needs_tensor_cores()
    ext = load_ext()
    g = torch.Generator().manual_seed(9)

    def lowpass(n):
        t = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
        return (t / t.sum()).to(DEV, torch.float32)

    fu = (Fir(f2d=torch.outer(lowpass(ku), lowpass(ku))) if kind_u == "full"
          else Fir(fx=lowpass(ku), fy=lowpass(ku)))  # fmt: skip
    fd = (Fir(f2d=torch.outer(lowpass(12), lowpass(12))) if kind_d == "full"
          else Fir(fx=lowpass(12), fy=lowpass(12)))  # fmt: skip
    x = torch.randn(2, 5, 61, 47, dtype=torch.float64, generator=g).to(DEV, dtype)
    geo = (fu, fd, (up, up), (2, 2), (ku // 2,) * 4, (0, 0, 0, 0))
    hw = tuple(x.shape[2:])
    for threads in (0, 96, 256):
        runs = {}
        for m in (0, 1):
            y, mask = _ops.filtered_act_call(ext, x, None, *geo, "lrelu", 0.2, 1.4, 2.0, True,
                                             block_threads=threads, mma=m)
            dx = _ops.filtered_act_backward_call(ext, y, mask, hw, *geo, "lrelu", 0.2, 1.4,
                                                 block_threads=threads, mma=m)
            runs[m] = dict(y=y, mask=mask, dx=dx)
        assert torch.equal(runs[1]["mask"], runs[0]["mask"])
        for name in ("y", "dx"):
            a, w = runs[1][name].float(), runs[0][name].float()
            assert a.dtype == w.dtype and not torch.equal(a, w), (threads, name)  # it ran
            assert torch.allclose(a, w, rtol=RTOL[dtype], atol=RTOL[dtype] * _scale(w)), (
                threads, name, float((a - w).abs().max()))


def test_shared_memory_at_the_default_limit():
    """A layout of exactly 48 KB (6144 float64, binding.cpp's layout(): 25 x 25 output tiles in
    one strip, up 2 through 6 separable taps, down 2 through 6 separable taps), the most the
    kernel is launched with: it needs no opt-in attribute. The plan is checked first (layout
    changes have silently moved such a test off its limit before). Against 'ref' on the CPU."""
    from bandlimit.ops import reference
    from bandlimit.ops._activations import get_activation
    from bandlimit.ops.cuda import load as load_ext

    ext = load_ext()
    plan = ext.filtered_act_plan([2, 2], [6, 6], True, [2, 2], [6, 6], True, [50, 50], True,
                                 False, 25, 0, -1, 0)
    assert plan[:4] == [25, 25, 25, 48 * 1024], plan
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 50, 50, dtype=torch.float64, generator=g)
    fu, fd = _fir("sep", (6, 6), seed=4), _fir("sep", (6, 6), seed=5)
    geo = ((2, 2), (2, 2), (3, 3, 3, 3), (1, 2, 1, 2))
    y, _ = _ops.filtered_act_call(ext, x.to(DEV), None, fu, fd, *geo, "lrelu", 0.2, 1.0, None,
                                  False, 25, strip_rows=-1)
    cpu = [type(f)(*(None if t is None else t.cpu() for t in (f.fx, f.fy, f.f2d)))
           for f in (fu, fd)]
    r = reference.filtered_act(x, None, *cpu, *geo[:3], get_activation("lrelu"), 0.2, 1.0, None,
                               dpad=geo[3])
    assert tuple(r.shape) == (2, 3, 50, 50)  # two 25-tiles per axis
    assert_close(y.cpu(), to_np(r), 1e-10, scale=_scale(r) * 4, what="48 KB layout")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_unfiltered_layer_runs_bias_act(dtype):
    """StyleGAN3's ToRGB call (no filters, factors 1, slope 1, clamp 256) takes bias_act's
    element-wise kernel; output and gradients equal 'ref'."""
    from bandlimit import ops

    g = torch.Generator().manual_seed(9)
    x = (torch.randn(2, 3, 64, 48, dtype=torch.float64, generator=g) * 200).to(DEV, dtype)
    b = torch.randn(3, dtype=torch.float64, generator=g).to(DEV, dtype)
    out = {}
    for impl in ("cuda", "ref"):
        xx, bb = x.clone().requires_grad_(), b.clone().requires_grad_()
        y = ops.filtered_lrelu(xx, b=bb, gain=1.0, slope=1.0, clamp=256.0, impl=impl)
        out[impl] = (y, *torch.autograd.grad(y.float().square().sum(), (xx, bb)))
    for name, a, e in zip(("y", "dx", "db"), out["cuda"], out["ref"], strict=True):
        tol = 1e-6 if dtype == torch.float32 else RTOL[dtype]
        assert torch.allclose(a.float(), e.float(), rtol=tol, atol=tol * _scale(e)), name
    assert ops.filtered_lrelu(x, b=b, impl="cuda").equal(ops.bias_act(x, b, act="lrelu",
                                                                      impl="cuda"))


@pytest.mark.parametrize("kind_d", ["sep", "full"])
def test_tiles_past_the_default_shared_memory(kind_d):
    """smem_limit (a benchmark knob) above the portable 48 KB: 62 x 64 output tiles take about
    150 KB, so the launch must opt in (cudaFuncSetAttribute), else it fails. The result equals
    the default tiles' (the same sums; equal up to nvcc's multiply-add contraction); a limit
    past the device's maximum is refused."""
    from bandlimit.ops.cuda import load as load_ext

    ext = load_ext()
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 133, 129, dtype=torch.float64, generator=g).to(DEV, torch.float32)
    fu, fd = _fir("sep", (12, 12), torch.float32), _fir(kind_d, (12, 12), torch.float32, seed=2)
    geo = (fu, fd, (2, 2), (2, 2), (5, 6, 5, 6), (0, 0, 0, 0))
    # (at most the device's opt-in maximum: 227 KB on H100, 163 KB on A100, 99 KB on sm_86/89,
    # where the tiles shrink to fit; still past 48 KB)
    most = getattr(torch.cuda.get_device_properties(DEV), "shared_memory_per_block_optin", 0)
    outs = []
    for tile, limit in ((0, 0), (64, min(200 * 1024, most or 200 * 1024))):
        y, mask = _ops.filtered_act_call(ext, x, None, *geo, "lrelu", 0.2, 1.4, None, True, tile,
                                         smem_limit=limit, strip_rows=-1)
        dx = _ops.filtered_act_backward_call(ext, y, mask, (133, 129), *geo, "lrelu", 0.2, 1.4,
                                             tile)
        outs.append((y, mask, dx))
    (y0, m0, dx0), (y1, m1, dx1) = outs
    assert (m1 != m0).float().mean() <= 1e-3
    assert torch.allclose(y1, y0, rtol=1e-5, atol=1e-5 * _scale(y0))
    assert torch.allclose(dx1, dx0, rtol=1e-5, atol=1e-5 * _scale(dx0))
    with pytest.raises(RuntimeError, match="smem_limit must be 0"):
        _ops.filtered_act_call(ext, x, None, *geo, "lrelu", 0.2, 1.4, None, True,
                               smem_limit=2**31)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_tensors_on_a_second_device():
    """Inputs on cuda:1 while cuda:0 is current: every launch follows the tensors' device (the
    device guard) and that device's current stream."""
    f = torch.randn(12, dtype=torch.float64)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    xd = x.detach().to("cuda:1").requires_grad_()
    with torch.cuda.device(0):
        y = ops.filtered_lrelu(xd, f.to("cuda:1"), f.to("cuda:1"), up=2, down=2, padding=11,
                               impl="cuda")
        (g,) = torch.autograd.grad(y, xd, torch.ones_like(y))
        u = ops.upfirdn2d(xd, f.to("cuda:1"), up=2, padding=6, impl="cuda")
    assert y.device == g.device == u.device == torch.device("cuda:1")
    r = ops.filtered_lrelu(x, f, f, up=2, down=2, padding=11, impl="ref")
    (gr,) = torch.autograd.grad(r, x, torch.ones_like(r))
    assert_close(y.detach().cpu(), to_np(r), 1e-10, scale=_scale(r) * 4, what="cuda:1")
    assert_close(g.cpu(), to_np(gr), 1e-10, scale=_scale(gr) * 4, what="cuda:1 grad")
    ur = ops.upfirdn2d(x.detach(), f, up=2, padding=6, impl="ref")
    assert_close(u.cpu(), to_np(ur), 1e-10, scale=_scale(ur) * 4, what="cuda:1 upfirdn")


# ------------------------------------------------------------------------------------------
# torch.library / torch.compile


def test_opcheck():
    x = torch.randn(2, 3, 8, 9, device=DEV, requires_grad=True)
    fx, fy = torch.randn(5, device=DEV), torch.randn(4, device=DEV)
    f2 = torch.randn(3, 4, device=DEV)
    b = torch.randn(3, device=DEV, requires_grad=True)
    lib = torch.ops.bandlimit
    torch.library.opcheck(lib.upfirdn_cuda, (x, fx, fy, None, [2, 1], [1, 2], [1, 2, 0, 3]))
    torch.library.opcheck(lib.upfirdn_cuda, (x, None, None, f2, [1, 2], [2, 1], [0, 0, 1, 1]))
    torch.library.opcheck(lib.bias_act_cuda, (x, b, 1, "lrelu", 0.2, 1.4, 0.5, False))
    torch.library.opcheck(lib.bias_act_cuda, (x, b, 1, "lrelu", 0.2, 1.4, 0.5, True))
    torch.library.opcheck(
        lib.filtered_act_cuda,
        (x, b, fx, fy, None, None, None, f2, [2, 2], [2, 2], [3, 2, 3, 2], [0, 0, 0, 0],
         "lrelu", 0.2, 1.4, 2.0, True, None, None, "zeros", "zeros", False),
        test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
    )
    alpha = torch.rand(3, device=DEV, requires_grad=True)
    beta = torch.rand(3, device=DEV, requires_grad=True)
    torch.library.opcheck(
        lib.filtered_act_cuda,
        (x, b, fx, fy, None, None, None, f2, [2, 2], [2, 2], [3, 2, 3, 2], [0, 0, 0, 0],
         "snakebeta", 0.0, 1.0, math.inf, False, alpha, beta, "zeros", "zeros", False),
        test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
    )
    torch.library.opcheck(  # the replicate extension of the activated signal (BigVGAN)
        lib.filtered_act_cuda,
        (x, b, fx, fy, None, None, None, f2, [2, 2], [2, 2], [3, 2, 3, 2], [2, 1, 1, 2],
         "gelu", 0.0, 1.0, math.inf, False, None, None, "replicate", "zeros", False),
        test_utils=("test_schema", "test_faketensor", "test_autograd_registration"),
    )
    # saving u, and the backward that reads it (snakebeta: its alpha / beta sums per channel)
    fwd = (x, b, fx, fy, None, None, None, f2, [2, 2], [2, 2], [3, 2, 3, 2], [2, 1, 1, 2],
           "snakebeta", 0.0, 1.0, math.inf, False, alpha, beta, "replicate", "zeros", True)
    torch.library.opcheck(lib.filtered_act_cuda, fwd,
                          test_utils=("test_schema", "test_faketensor",
                                      "test_autograd_registration"))
    y, u = lib.filtered_act_cuda(*fwd)
    assert u.dtype == torch.float32 and u.shape[0] == 6
    bwd = (torch.randn_like(y), u.detach(), 8, 9, fx, fy, None, None, None, f2, [2, 2], [2, 2],
           [3, 2, 3, 2], [2, 1, 1, 2], "snakebeta", 0.0, 1.0, math.inf, alpha.detach(),
           beta.detach(), "replicate")
    torch.library.opcheck(lib.filtered_act_cuda_backward, bwd,
                          test_utils=("test_schema", "test_faketensor"))
    dv, dparams = lib.filtered_act_cuda_backward(*bwd)
    assert dv.shape == x.shape and dparams.shape == (2, 3)
    y, mask = lib.filtered_act_cuda(*fwd[:12], "lrelu", 0.2, 1.4, 2.0, True, None, None, "zeros",
                                    "zeros", False)  # the mask's
    bwd = (torch.randn_like(y), mask.detach(), 8, 9, *bwd[4:14], "lrelu", 0.2, 1.4, 2.0, None,
           None, "zeros")
    torch.library.opcheck(lib.filtered_act_cuda_backward, bwd,
                          test_utils=("test_schema", "test_faketensor"))
    dv, dparams = lib.filtered_act_cuda_backward(*bwd)
    assert dv.shape == x.shape and dparams.shape == (0,)


def test_torch_compile():
    f = torch.randn(12, device=DEV)
    x = torch.randn(2, 4, 20, 20, device=DEV, requires_grad=True)

    def fn(x):
        return ops.filtered_lrelu(x, f, f, up=2, down=2, padding=11, impl="cuda").square().sum()

    compiled = torch.compile(fn)
    y, yc = fn(x), compiled(x)
    assert torch.allclose(y, yc, rtol=1e-5)
    (g,) = torch.autograd.grad(y, x)
    (gc,) = torch.autograd.grad(compiled(x), x)
    assert torch.allclose(g, gc, rtol=1e-4, atol=1e-6)


def test_torch_compile_of_a_smooth_act_with_its_parameters_gradient():
    """A compiled snake layer (BigVGAN's call): its backward recomputes u with the fused
    forward inside the compiled graph; values and gradients (x, alpha) equal eager."""
    g = torch.Generator().manual_seed(1)
    f = (torch.randn(12, generator=g) / 12).to(DEV)
    x = torch.randn(2, 4, 300, generator=g).to(DEV).requires_grad_()
    alpha = (torch.rand(4, generator=g) + 0.5).to(DEV).requires_grad_()

    def fn(x, alpha):
        return ops.filtered_act1d(x, "snake", f, f, up=2, down=2, padding=(6, 5),
                                  padding_mode="replicate", down_padding=(5, 6), alpha=alpha,
                                  impl="cuda").square().sum()

    y, yc = fn(x, alpha), torch.compile(fn)(x, alpha)
    torch.testing.assert_close(yc, y, rtol=1e-5, atol=1e-5)
    for a, e in zip(torch.autograd.grad(yc, (x, alpha)), torch.autograd.grad(y, (x, alpha)),
                    strict=True):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-5)


def test_cuda_graph_capture():
    """The fused ops capture into a CUDA graph, forward and backward (the remedy for small,
    host-bound calls: torch.cuda.graph, torch.compile(mode='reduce-overhead')): nothing in
    their path synchronises or launches outside the stream, and replays give the eager results
    for new inputs copied into the captured ones. filtered_lrelu (mask backward), BigVGAN's 1-D
    snake call (the kernel's replicate extensions; the smooth backward, which runs the fused
    forward again for u) and upfirdn2d."""
    g = torch.Generator().manual_seed(0)
    f = (torch.randn(12, generator=g) / 12).to(DEV)
    b = (torch.randn(8, generator=g) * 0.1).to(DEV)
    alpha = (torch.rand(8, generator=g) + 0.5).to(DEV)

    def step(x):
        y1 = ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=11, clamp=4.0, impl="cuda")
        y2 = ops.filtered_act1d(x.flatten(2), "snake", f, f, up=2, down=2, padding=(6, 5),
                                padding_mode="replicate", down_padding=(5, 6), alpha=alpha,
                                impl="cuda")
        y3 = ops.upfirdn2d(x, f, up=2, padding=(6, 5), impl="cuda")
        loss = y1.square().sum() + y2.square().sum() + y3.square().sum()
        (gx,) = torch.autograd.grad(loss, x)
        return loss.detach(), gx

    static_x = torch.randn(2, 8, 16, 16, device=DEV, requires_grad=True)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture: build, caches, allocator
        for _ in range(2):
            step(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = step(static_x)
    for seed in (1, 2):
        new = torch.randn(2, 8, 16, 16, generator=torch.Generator().manual_seed(seed)).to(DEV)
        with torch.no_grad():
            static_x.copy_(new)
        graph.replay()
        want = step(new.clone().requires_grad_())
        for got, exp in zip(static_out, want, strict=True):
            torch.testing.assert_close(got, exp, rtol=1e-5, atol=1e-5)


def test_auto_picks_cuda():
    x = torch.randn(1, 2, 8, 8, device=DEV)
    f = torch.ones(4, device=DEV) / 4
    np.testing.assert_allclose(
        ops.upfirdn2d(x, f, padding=2).cpu().numpy(),
        ops.upfirdn2d(x, f, padding=2, impl="cuda").cpu().numpy(),
    )


@pytest.mark.parametrize(("up", "down", "ku", "kd"), [(4, 2, 24, 12), (2, 2, 12, 12)])
def test_strips_equal_one_strip_tiles(up, down, ku, kd):
    """The launcher's tall tiles in strips (StyleGAN3-T's up-4 and up-2 layers, forward and mask
    backward) give the one-strip tiles' results: the same sums in the same order (equal up to
    nvcc's multiply-add contraction), the same mask. The plans differ (the test would be
    vacuous otherwise: 128 planes keep the grid above the planner's 1024 blocks)."""
    from bandlimit.ops.cuda import load as load_ext

    ext = load_ext()
    g = torch.Generator().manual_seed(8)
    x = torch.randn(8, 16, 150, 140, dtype=torch.float64, generator=g).to(DEV, torch.float32)
    fu, fd = _fir("sep", (ku, ku), torch.float32), _fir("sep", (kd, kd), torch.float32, seed=1)
    pad = (ku // 2, ku // 2 - 1, ku // 2, ku // 2 - 1)
    geo = (fu, fd, (up, up), (down, down), pad, (0, 0, 0, 0))
    (y0, m0), (y1, m1) = (_ops.filtered_act_call(ext, x, None, *geo, "lrelu", 0.2, 1.4, 1.0,
                                                 True, strip_rows=s) for s in (-1, 0))
    assert torch.equal(m1, m0)
    assert torch.allclose(y1, y0, rtol=1e-6, atol=1e-6 * _scale(y0))
    dx0, dx1 = (_ops.filtered_act_backward_call(ext, y0, m0, (150, 140), *geo, "lrelu", 0.2, 1.4,
                                                strip_rows=s) for s in (-1, 0))
    assert torch.allclose(dx1, dx0, rtol=1e-6, atol=1e-6 * _scale(dx0))
    hw = tuple(y0.shape[2:])
    one, auto = (_ops.launch_plans(ext, fu, fd, (up, up), (down, down), (150, 140), hw,
                                   torch.float32, strip_rows=s, planes=128) for s in (-1, 0))
    assert all(p[2] < p[1] for p in auto) and all(p[2] == p[1] for p in one)


# ------------------------------------------------------------------------------------------
# What reaches the kernels from elsewhere: complex signals, the StyleGAN2-port drop-ins, ADA


def test_complex_signals_and_filters_match_the_cpu():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 40, dtype=torch.complex64)
    h = torch.randn(7, dtype=torch.complex64)
    img = torch.randn(2, 2, 9, 10, dtype=torch.complex64)
    f = torch.randn(4, dtype=torch.complex64)
    torch.testing.assert_close(ops.upfirdn1d(x.to(DEV), h.to(DEV), 3, 2, 6, impl="cuda").cpu(),
                               ops.upfirdn1d(x, h, 3, 2, 6, impl="ref"), rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(ops.upfirdn2d(img.to(DEV), f.to(DEV), 2, 1, 3, impl="cuda").cpu(),
                               ops.upfirdn2d(img, f, 2, 1, 3, impl="ref"), rtol=2e-5, atol=2e-5)
    torch.testing.assert_close(ops.resample_poly(x.to(DEV), 3, 2, impl="cuda").cpu(),
                               ops.resample_poly(x, 3, 2, impl="ref"), rtol=2e-5, atol=2e-5)


def test_rosinality_drop_ins_match_the_cpu():
    from bandlimit.compat.rosinality import FusedLeakyReLU, upfirdn2d

    torch.manual_seed(0)
    x = torch.randn(2, 4, 8, 8)
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = k[None] * k[:, None] / 16
    torch.testing.assert_close(upfirdn2d(x.to(DEV), kernel.to(DEV), up=2, pad=(2, 1)).cpu(),
                               upfirdn2d(x, kernel, up=2, pad=(2, 1), impl="ref"))
    act = FusedLeakyReLU(4)
    with torch.no_grad():
        act.bias.normal_()
    torch.testing.assert_close(act.to(DEV)(x.to(DEV)).cpu(), act.cpu()(x))


@settings(max_examples=30)
@given(case=conv2d_resample_cases())
def test_conv2d_resample_matches_the_cpu(case):
    """conv2d_resample on the GPU, called as the StyleGAN compat module's (impl='auto': cuDNN's
    convolutions around the CUDA upfirdn stages), against the CPU 'ref', float64."""
    from bandlimit.compat.stylegan import conv2d_resample

    x, w, f = (_t(a, torch.float64) for a in (case.x, case.extra["w"], case.f))
    y = conv2d_resample.conv2d_resample(x, w, f, **case.kwargs)
    r = ops.conv2d_resample(*(None if a is None else a.cpu() for a in (x, w, f)), impl="ref",
                            **case.kwargs)  # fmt: skip
    assert y.device.type == "cuda"
    assert_close(y.cpu(), to_np(r), RTOL[torch.float64], scale=_scale(r) * 4,
                 what="conv2d_resample")


def test_ada_augmentation_runs_on_the_gpu_as_on_the_cpu():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from afgan.augment import AugmentPipe

    pipe = AugmentPipe("bgc", p=0.7)
    draws = pipe.draw(4, torch.Generator().manual_seed(0))
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(pipe(x.to(DEV), draws).cpu(), pipe(x, draws), rtol=1e-6,
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16])
def test_volumes_match_the_cpu(dtype):
    """upfirdn3d / filtered_act3d on the GPU (the 2-D kernels on the depth view and the
    slices) against 'ref' in float64 on the CPU, values and gradients (half precision rounds
    between the three stages: a looser tolerance)."""
    rng = np.random.default_rng(12)
    x0 = torch.tensor(rng.uniform(-2, 2, (2, 3, 5, 6, 7)))
    b0 = torch.tensor(rng.uniform(-1, 1, 3))
    f = torch.tensor(rng.standard_normal(6) / 6, dtype=torch.float32)
    alpha = torch.tensor([0.5, 1.0, 2.0])
    kw = dict(up=(2, 2, 2), down=(2, 1, 2), padding=(3, 2) * 3, padding_mode="replicate",
              down_padding=(2, 3) * 3)
    outs = []
    for device, impl, dt in ((DEV, "cuda", dtype), ("cpu", "ref", torch.float64)):
        x = x0.to(device, dt).requires_grad_(True)
        b = b0.to(device, dt).requires_grad_(True)
        y = ops.filtered_act3d(x, "snake", f.to(device), f.to(device), b, impl=impl,
                               alpha=alpha.to(device, dt), **kw)  # fmt: skip
        y.double().square().sum().backward()
        z = ops.upfirdn3d(x.detach(), f.to(device), up=(1, 2, 3), down=(2, 1, 1), padding=2,
                          impl=impl)  # fmt: skip
        outs.append([t.detach().cpu().double() for t in (y, x.grad, b.grad, z)])
    r = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 3e-2}[dtype]
    for got, want in zip(*outs):
        torch.testing.assert_close(got, want, rtol=r, atol=r * _scale(want))
