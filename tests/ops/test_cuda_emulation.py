"""The CUDA kernels' logic, verified on CPU: the same kernel sources compiled by the host compiler.

``bandlimit/ops/cuda/csrc/emulate.h`` maps the CUDA built-ins onto the host (blocks run one after
another, a block's threads are real threads meeting at a barrier for ``__syncthreads``, shared
memory starts as NaN bytes). The emulation extension exposes the same entry points as the CUDA
one, and the Python plumbing in ``bandlimit.ops.cuda._ops`` (argument layout, transposed
parameters of the mask backward) is exercised unchanged. The oracles are float64 NumPy loops
written here (normalised-filter level) and ``tests/ops/oracle.py`` (public semantics).

Organised by property: numerics of each kernel; the fused forward's mask and the mask backward
against the exact gradient; the smooth and per-channel activations (gelu, gelu_tanh, snake,
snakebeta) in 1-D (H = 1) and 2-D; the whole ``impl='cuda'`` Python path (padding modes, the
fallback, gradients w.r.t. x, b, alpha, beta) with the custom ops routed to the emulation;
independence of the tiling and of the number of threads; bad input.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil

import numpy as np
import pytest
import torch
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.special import erf

from bandlimit import ops
from bandlimit.ops import reference
from bandlimit.ops._activations import get_activation, get_filtered_activation
from bandlimit.ops._params import (
    Fir,
    as_factors,
    as_padding,
    filtered_sizes,
    make_fir,
    make_fir_1d,
    transpose_stage,
)
from bandlimit.ops.cuda import _build, _ops
from tests.ops import oracle
from tests.ops.strategies import (
    assert_close,
    bias_act_cases,
    filtered_lrelu_cases,
    pad_pair,
    rounded,
    saved_bytes,
    to_np,
    to_torch,
    upfirdn1d_cases,
    upfirdn2d_cases,
)
from tests.ops.test_filtered_act import CALLABLE_ACTS, run_op
from tests.ops.test_filtered_act import cases as public_cases
from tests.ops.test_filtered_act import expected as public_expected
from tests.ops.test_volumes import expected_filtered as expected_volume
from tests.ops.test_volumes import filtered_act3d_cases as volume_cases
from tests.ops.test_volumes import np_upfirdn3d
from tests.ops.test_volumes import run_filtered as run_volume

pytestmark = pytest.mark.skipif(
    shutil.which("ninja") is None or shutil.which("c++") is None,
    reason="the emulation build needs a C++ compiler (c++) and ninja",
)

# Threads per emulated block: real OS threads, so kept few (the tests share 2 cores in CI). Under
# the race check (test_cuda_sanitizers.py) every block has several, so they can be seen to race.
RACE_CHECK = _build.emulation_sanitizer() == "thread"
THREADS = st.sampled_from([2, 3, 4, 8] if RACE_CHECK else [1, 1, 2, 4])
TILES = st.sampled_from([0, 1, 2, 3, 5])  # max output tile (0: the production choice)
# Output rows per strip: 0 the planner's choice, -1 one strip per tile, k > 0 strips of k rows.
STRIPS = st.sampled_from([0, -1, 1, 2, 3])
TOL = {torch.float64: 1e-10, torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}


@pytest.fixture(scope="module")
def emu():
    m = _build.load_emulation()
    assert m.EMULATED
    return m


# ------------------------------------------------------------------------------------------
# A naive oracle on normalised (correlation-form) filters, float64


def _axis(v: np.ndarray, f: np.ndarray, up: int, down: int, p0: int, p1: int, axis: int):
    v = np.moveaxis(v, axis, -1)
    L = v.shape[-1]
    xu = np.zeros((*v.shape[:-1], L * up))
    xu[..., ::up] = v
    n = L * up + p0 + p1
    xp = np.zeros((*v.shape[:-1], n))
    for m in range(n):  # xp[m] = xu[m - p0]
        if 0 <= m - p0 < L * up:
            xp[..., m] = xu[..., m - p0]
    out = (n - len(f)) // down + 1
    y = np.zeros((*v.shape[:-1], out))
    for o in range(out):
        for k in range(len(f)):
            y[..., o] += f[k] * xp[..., o * down + k]
    return np.moveaxis(y, -1, axis)


def naive_upfirdn(x: np.ndarray, fir: Fir, up, down, pad) -> np.ndarray:
    """``y[o] = Σ_k f[k] · xp[o·down + k]`` per axis; a 2-D filter via its rows (sum of
    separable rank-one terms: exact for any filter)."""
    if fir.separable:
        fx, fy = to_np(fir.fx), to_np(fir.fy)
        v = _axis(x, fx, up[0], down[0], pad[0], pad[1], -1)
        return _axis(v, fy, up[1], down[1], pad[2], pad[3], -2)
    f = to_np(fir.f2d)
    total = None
    for r in range(f.shape[0]):  # f = Σ_r e_r ⊗ f[r]: one-hot column filter times row filter
        e = np.zeros(f.shape[0])
        e[r] = 1.0
        v = _axis(_axis(x, f[r], up[0], down[0], pad[0], pad[1], -1), e, up[1], down[1], pad[2],
                  pad[3], -2)
        total = v if total is None else total + v
    return total


def _fir(f, dtype, flip, gain):
    return make_fir(None if f is None else to_torch(f), flip_filter=flip, gain=gain,
                    dtype=dtype, device=torch.device("cpu"))


# ------------------------------------------------------------------------------------------
# upfirdn


@given(case=upfirdn2d_cases(), threads=THREADS)
def test_upfirdn2d_matches_oracle_float64(emu, case, threads):
    kw = case.kwargs
    up, down, pad = as_factors(kw["up"], "up"), as_factors(kw["down"], "down"), as_padding(
        kw["padding"])
    g = math.sqrt(kw["gain"])
    fir = _fir(case.f, torch.float64, kw["flip_filter"], (g, g))
    x = to_torch(case.x)
    y = _ops.upfirdn_call(emu, x, fir.fx, fir.fy, fir.f2d, up, down, pad, threads)
    expected = oracle.upfirdn2d(case.x, case.f, **kw)
    scale = max(1.0, float(np.abs(oracle.upfirdn2d(np.abs(case.x), None if case.f is None
                                                   else np.abs(case.f), **kw)).max()))
    assert_close(y, expected, TOL[torch.float64], scale=scale, what="upfirdn2d")
    # and the kernel-level oracle on the very same normalised filter
    assert_close(y, naive_upfirdn(case.x, fir, up, down, pad), TOL[torch.float64], scale=scale,
                 what="upfirdn2d (naive)")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@settings(max_examples=10)
@given(case=upfirdn2d_cases(max_hw=8, max_taps=7))
def test_upfirdn2d_low_precision(emu, case, dtype):
    """float32 / half storage with float32 accumulation: within the dtype's tolerance of the
    float64 result on the same (rounded) inputs and filter."""
    kw = case.kwargs
    up, down, pad = as_factors(kw["up"], "up"), as_factors(kw["down"], "down"), as_padding(
        kw["padding"])
    g = math.sqrt(kw["gain"])
    fir = _fir(case.f, dtype, kw["flip_filter"], (g, g))
    y = _ops.upfirdn_call(emu, to_torch(case.x, dtype), fir.fx, fir.fy, fir.f2d, up, down, pad)
    assert y.dtype == dtype
    fir64 = Fir(*(None if t is None else t.double() for t in (fir.fx, fir.fy, fir.f2d)))
    expected = naive_upfirdn(rounded(case.x, dtype), fir64, up, down, pad)
    absf = Fir(*(None if t is None else t.double().abs() for t in (fir.fx, fir.fy, fir.f2d)))
    scale = max(1.0, float(naive_upfirdn(np.abs(case.x), absf, up, down, pad).max()))
    assert_close(y, expected, TOL[dtype], scale=scale, what=f"upfirdn2d {dtype}")


@given(case=upfirdn1d_cases(), threads=THREADS)
def test_upfirdn1d_matches_oracle(emu, case, threads):
    kw = case.kwargs
    pad = as_padding(kw["padding"], ndim=1)
    fir = make_fir_1d(None if case.f is None else to_torch(case.f), flip_filter=kw["flip_filter"],
                      gain=kw["gain"], dtype=torch.float64, device=torch.device("cpu"))
    x = to_torch(case.x).unsqueeze(2)
    y = _ops.upfirdn_call(emu, x, fir.fx, fir.fy, None, (kw["up"], 1), (kw["down"], 1), pad,
                          threads).squeeze(2)
    expected = oracle.upfirdn1d(case.x, case.f, **kw)
    scale = max(1.0, float(np.abs(expected).max()) * 4)
    assert_close(y, expected, TOL[torch.float64], scale=scale, what="upfirdn1d")


# ------------------------------------------------------------------------------------------
# bias_act


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@given(case=bias_act_cases(), threads=THREADS)
def test_bias_act_matches_oracle(emu, case, dtype, threads):
    kw = case.kwargs
    spec = get_activation(kw["act"])
    alpha = spec.default_alpha if kw["alpha"] is None else kw["alpha"]
    gain = spec.default_gain if kw["gain"] is None else kw["gain"]
    y = _ops.bias_act_call(emu, to_torch(case.x, dtype), to_torch(case.b, dtype), kw["dim"],
                           kw["act"], alpha, gain, kw["clamp"], threads)
    expected = oracle.bias_act(rounded(case.x, dtype), rounded(case.b, dtype), **kw)
    assert_close(y, expected, 10 * TOL[dtype], what=f"bias_act {kw['act']}")


@given(case=bias_act_cases())
@settings(max_examples=10)
def test_bias_act_half(emu, case):
    kw = case.kwargs
    spec = get_activation(kw["act"])
    alpha = spec.default_alpha if kw["alpha"] is None else kw["alpha"]
    gain = spec.default_gain if kw["gain"] is None else kw["gain"]
    for dtype in (torch.float16, torch.bfloat16):
        y = _ops.bias_act_call(emu, to_torch(case.x, dtype), to_torch(case.b, dtype), kw["dim"],
                               kw["act"], alpha, gain, kw["clamp"])
        assert y.dtype == dtype
        # float32 arithmetic on the rounded inputs, then one rounding to the storage type
        expected = oracle.bias_act(rounded(case.x, dtype), rounded(case.b, dtype), **kw)
        assert_close(y, expected, TOL[dtype] * 2, what=f"bias_act {kw['act']} {dtype}")


# ------------------------------------------------------------------------------------------
# filtered activation: forward, mask, mask backward


def _flrelu_args(case, dtype=torch.float64):
    kw = case.kwargs
    up, down = (kw["up"],) * 2, (kw["down"],) * 2
    fu = _fir(case.fu, dtype, kw["flip_filter"], (float(kw["up"]),) * 2)
    fd = _fir(case.fd, dtype, kw["flip_filter"], (1.0, 1.0))
    return fu, fd, up, down, as_padding(kw["padding"])


@given(case=filtered_lrelu_cases(max_hw=10, max_taps=9), tile=TILES, threads=THREADS)
def test_filtered_lrelu_forward_and_mask_backward(emu, case, tile, threads):
    """The fused forward equals the nine-step oracle; the mask it writes drives a fused backward
    equal to the exact gradient (for every tiling: each mask word is shared by tiles)."""
    kw = case.kwargs
    fu, fd, up, down, pad = _flrelu_args(case)
    x, b = to_torch(case.x), to_torch(case.b)
    y, mask = _ops.filtered_act_call(
        emu, x, b, fu, fd, up, down, pad, (0, 0, 0, 0), "lrelu", kw["slope"], kw["gain"],
        kw["clamp"], True, tile, threads,
    )
    expected = oracle.filtered_lrelu(case.x, case.fu, case.fd, case.b, **kw)
    scale = max(1.0, float(np.abs(expected).max()))
    assert_close(y, expected, 1e-9, scale=scale, what="filtered_lrelu forward")
    hu, wu, _, _ = _ops.filtered_sizes(tuple(x.shape[2:]), fu, fd, up, down, pad, (0, 0, 0, 0))
    assert tuple(mask.shape) == _ops.mask_shape(x.shape[0] * x.shape[1], hu, wu)

    dy = np.random.default_rng(case.seed + 1).standard_normal(expected.shape)
    dx = _ops.filtered_act_backward_call(
        emu, to_torch(dy), mask, tuple(x.shape[2:]), fu, fd, up, down, pad, (0, 0, 0, 0),
        "lrelu", kw["slope"], kw["gain"], tile, threads,
    )
    dx_expected, _ = oracle.filtered_lrelu_vjp(case.x, dy, case.fu, case.fd, case.b, **kw)
    gscale = max(1.0, float(np.abs(dx_expected).max()))
    assert_close(dx, dx_expected, 1e-9, scale=gscale, what="filtered_lrelu mask backward")


@given(case=filtered_lrelu_cases(max_hw=8, max_taps=7), tile=TILES)
@settings(max_examples=10)
def test_mask_bits(emu, case, tile):
    """Bit 0 of each read sample = (pre-activation < 0), bit 1 = (|act·gain| > clamp)."""
    kw = case.kwargs
    fu, fd, up, down, pad = _flrelu_args(case)
    x, b = to_torch(case.x), to_torch(case.b)
    _, mask = _ops.filtered_act_call(emu, x, b, fu, fd, up, down, pad, (0, 0, 0, 0), "lrelu",
                                     kw["slope"], kw["gain"], kw["clamp"], True, tile)
    u = reference.upfirdn(x if b is None else x + b.reshape(1, -1, 1, 1), fu, up, (1, 1), pad)
    a = torch.where(u < 0, u * kw["slope"], u) * kw["gain"]
    neg = (u < 0).to(torch.int64)
    clamped = (a.abs() > kw["clamp"]).to(torch.int64) if kw["clamp"] is not None else 0 * neg
    words = mask.to(torch.int64) & 0xFFFFFFFF
    n, c, hu, wu = u.shape
    col = torch.arange(wu)
    codes = (words[:, :, col // 16] >> (2 * (col % 16))) & 3
    # samples that no output reads are never written (their gradient is zero): compare the rest
    def read(length, taps, d):
        out = (length - taps) // d + 1
        return torch.tensor([any(0 <= i - k < out * d and (i - k) % d == 0 for k in range(taps))
                             for i in range(length)])

    rows, cols = read(hu, fd.size[1], down[1]), read(wu, fd.size[0], down[0])
    expected = (neg | (clamped << 1)).reshape(n * c, hu, wu)
    assert torch.equal(codes[:, rows][:, :, cols], expected[:, rows][:, :, cols])


@st.composite
def filtered_act_cases(draw):
    """Anisotropic factors, separable / 2-D / mixed filters, zero ``down_padding`` of both signs,
    any of bias_act's activations."""
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    up = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    down = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kinds = st.sampled_from(["sep", "full"])
    ku = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    kd = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    pu = (*draw(pad_pair(w * up[0], ku[0])), *draw(pad_pair(h * up[1], ku[1])))
    wu, hu = w * up[0] + pu[0] + pu[1] - ku[0] + 1, h * up[1] + pu[2] + pu[3] - ku[1] + 1
    pd = (*draw(pad_pair(wu, kd[0])), *draw(pad_pair(hu, kd[1])))
    act = draw(st.sampled_from(sorted(_ops.ACT_CODES)))
    return dict(shape=(n, c, h, w), up=up, down=down, ku=ku, kd=kd, kind_u=draw(kinds),
                kind_d=draw(kinds), pad=pu, dpad=pd, act=act, seed=draw(st.integers(0, 2**31)),
                gain=draw(st.floats(0.1, 2.0)), alpha=draw(st.floats(0.0, 1.0)),
                clamp=draw(st.none() | st.floats(0.05, 2.0)), bias=draw(st.booleans()))


def _random_fir(rng, kind, k):
    if kind == "sep":
        return Fir(fx=torch.from_numpy(rng.standard_normal(k[0]) / k[0]),
                   fy=torch.from_numpy(rng.standard_normal(k[1]) / k[1]))
    return Fir(f2d=torch.from_numpy(rng.standard_normal((k[1], k[0])) / (k[0] * k[1]) ** 0.5))


@given(case=filtered_act_cases(), tile=TILES, threads=THREADS, strips=STRIPS)
def test_filtered_act_general(emu, case, tile, threads, strips):
    """Every activation of bias_act, (x, y) factors, down_padding, tiles in strips or not:
    forward equals the reference composition in float64; piecewise-linear acts also match
    autograd through the mask."""
    rng = np.random.default_rng(case["seed"])
    x = torch.from_numpy(rng.standard_normal(case["shape"]))
    b = torch.from_numpy(rng.standard_normal(case["shape"][1])) if case["bias"] else None
    fu, fd = _random_fir(rng, case["kind_u"], case["ku"]), _random_fir(rng, case["kind_d"],
                                                                        case["kd"])
    act, spec = case["act"], get_activation(case["act"])
    args = (fu, fd, case["up"], case["down"], case["pad"], case["dpad"])
    y, mask = _ops.filtered_act_call(emu, x, b, *args, act, case["alpha"], case["gain"],
                                     case["clamp"], act in _ops.MASK_ACTS, tile, threads,
                                     strip_rows=strips)
    xr = x.clone().requires_grad_()
    expected = reference.filtered_act(xr, b, fu, fd, case["up"], case["down"], case["pad"], spec,
                                      case["alpha"], case["gain"], case["clamp"],
                                      dpad=case["dpad"])
    scale = max(1.0, float(expected.detach().abs().max()))
    assert_close(y, to_np(expected), 1e-9, scale=scale, what=f"filtered_act {act} forward")
    if act in _ops.MASK_ACTS:
        dy = torch.from_numpy(rng.standard_normal(expected.shape))
        (gx,) = torch.autograd.grad(expected, xr, dy)
        dx = _ops.filtered_act_backward_call(emu, dy, mask, tuple(x.shape[2:]), *args, act,
                                             case["alpha"], case["gain"], tile, threads,
                                             strip_rows=strips)
        assert_close(dx, to_np(gx), 1e-9, scale=max(1.0, float(gx.abs().max())),
                     what=f"filtered_act {act} backward")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@settings(max_examples=8)
@given(case=filtered_lrelu_cases(max_hw=8, max_taps=7, with_bias=True))
def test_filtered_lrelu_low_precision(emu, case, dtype):
    """Half storage, float32 accumulation: close to float64 on the same rounded inputs."""
    kw = dict(case.kwargs, clamp=None)  # a clamp decision flip would be a legit O(1) difference
    fu, fd, up, down, pad = _flrelu_args(case, dtype)
    y, _ = _ops.filtered_act_call(emu, to_torch(case.x, dtype), to_torch(case.b, dtype), fu, fd,
                                  up, down, pad, (0, 0, 0, 0), "lrelu", kw["slope"], kw["gain"],
                                  None, False)
    assert y.dtype == dtype
    f64 = [Fir(*(None if t is None else t.double() for t in (f.fx, f.fy, f.f2d))) for f in (fu, fd)]
    expected = reference.filtered_act(to_torch(rounded(case.x, dtype)),
                                      to_torch(rounded(case.b, dtype)), f64[0], f64[1], up, down,
                                      pad, get_activation("lrelu"), kw["slope"], kw["gain"], None)
    absf = [Fir(*(None if t is None else t.abs() for t in (f.fx, f.fy, f.f2d))) for f in f64]
    mag = reference.filtered_act(to_torch(np.abs(case.x)) + 3, None, absf[0], absf[1], up, down,
                                 pad, get_activation("linear"), 0.0, kw["gain"] + 1, None)
    assert_close(y, to_np(expected), TOL[dtype], scale=max(1.0, float(mag.max())),
                 what=f"filtered_lrelu {dtype}")


def test_tiling_and_threads_do_not_change_the_result(emu):
    """Bit-identical outputs and masks for every tile size and thread count (each output is one
    fixed-order sum; a race or a halo error would show up as a difference)."""
    rng = np.random.default_rng(7)
    x = torch.from_numpy(rng.standard_normal((2, 3, 11, 13)))
    b = torch.from_numpy(rng.standard_normal(3))
    fu = Fir(fx=torch.from_numpy(rng.standard_normal(12)), fy=torch.from_numpy(
        rng.standard_normal(12)))
    fd = Fir(f2d=torch.from_numpy(rng.standard_normal((6, 6))))
    args = (fu, fd, (2, 2), (2, 2), (11, 10, 11, 10), (0, 0, 0, 0), "lrelu", 0.2, 1.4, 2.0, True)
    y0, m0 = _ops.filtered_act_call(emu, x, b, *args, 0, 1)
    for tile, threads in [(1, 1), (2, 3), (3, 4), (4, 2), (7, 5), (0, 8)]:
        y, m = _ops.filtered_act_call(emu, x, b, *args, tile, threads)
        assert torch.equal(y, y0), (tile, threads)
        assert torch.equal(m, m0), (tile, threads)


def test_opting_in_to_more_shared_memory(emu):
    """smem_limit above the portable 48 KB: 64 x 64 output tiles (≈ 150 KB of shared memory:
    the launch opts in, which the emulation checks as a GPU would), the same result as the
    default tiles; a limit past the device's opt-in maximum, or too small for any tile, is
    refused with the numbers."""
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.standard_normal((1, 2, 133, 129))).float()
    f12 = torch.from_numpy(rng.standard_normal(12)).float()
    fu, fd = Fir(fx=f12, fy=f12.flip(0)), Fir(f2d=torch.outer(f12, f12.flip(0)) / 12)
    args = (x, None, fu, fd, (2, 2), (2, 2), (5, 6, 5, 6), (0, 0, 0, 0), "lrelu", 0.2, 1.4,
            None, True)
    fwd, _ = _ops.launch_plans(emu, fu, fd, (2, 2), (2, 2), (133, 129), (128, 124),
                               torch.float32, 64, 200 * 1024)
    assert fwd[:2] == [62, 64] and fwd[3] > 48 * 1024  # the launch below must opt in
    y0, m0 = _ops.filtered_act_call(emu, *args)
    y, m = _ops.filtered_act_call(emu, *args, 64, 4, smem_limit=200 * 1024)
    assert torch.equal(y, y0) and torch.equal(m, m0)
    with pytest.raises(RuntimeError, match=r"smem_limit must be 0 \(the default 48 KB\) or in "
                       r"\[1024, 232448\] bytes on this device, got 232449"):
        _ops.filtered_act_call(emu, *args, smem_limit=227 * 1024 + 1)
    with pytest.raises(RuntimeError, match=r"filters are too large .* limit 1024\)"):
        _ops.filtered_act_call(emu, *args, smem_limit=1024)


def test_tiles_stay_large_within_the_shared_memory_limit(emu):
    """Tile planning (binding.cpp, plan_tile): StyleGAN3-T's up-4 layer keeps 32 x 32 output
    tiles forward; its mask backward (intermediate tile at the up-sampled rate) does not fit in
    48 KB at 32 x 32 and shrinks in small steps to 14 x 15 -- where halving gave 8 x 16, with
    1.2x the intermediate samples per output. Past 48 KB the knob's limit is used."""
    sep = lambda k: Fir(fx=torch.ones(k), fy=torch.ones(k))  # noqa: E731
    fu, fd = sep(24), sep(12)
    fwd, bwd = _ops.launch_plans(emu, fu, fd, (4, 4), (2, 2), (1044, 1044), (1044, 1044),
                                 torch.float32, strip_rows=-1)
    assert fwd[:4] == [32, 32, 32, 40192] and bwd[:4] == [14, 15, 15, 47392]
    _, bwd = _ops.launch_plans(emu, fu, fd, (4, 4), (2, 2), (1044, 1044), (1044, 1044),
                               torch.float32, smem_limit=200 * 1024, strip_rows=-1)
    assert bwd[:3] == [32, 32, 32] and 48 * 1024 < bwd[3] <= 200 * 1024
    ratio = lambda t: ((t[0] - 1) * 4 + 24) * ((t[1] - 1) * 4 + 24) / (t[0] * t[1] * 16)  # noqa: E731
    assert ratio([14, 15]) < 0.86 * ratio([8, 16])


def test_tiles_split_the_plane_evenly(emu):
    """Every block computes its whole intermediate tile, so the tiles are evened out over the
    plane: as many as the largest tile that fits needs, each as small as that count allows.
    StyleGAN3's 36 x 36 layers get 18 x 18 tiles (2.6x fewer intermediate samples than 32 x 32
    tiles, whose second row and column reached 28 samples past the plane)."""
    sep = lambda k: Fir(fx=torch.ones(k), fy=torch.ones(k))  # noqa: E731
    fwd, bwd = _ops.launch_plans(emu, sep(12), sep(12), (2, 2), (2, 2), (38, 38), (36, 36),
                                 torch.float32, strip_rows=-1)
    assert fwd[:2] == [18, 18] and bwd[:2] == [19, 19]
    tiles = lambda n, t: -(-n // t)  # noqa: E731
    for n in [1, 2, 31, 32, 33, 36, 52, 63, 64, 65, 84, 148, 276, 1044]:
        for cap in (0, 5, 7):
            (tow, toh, *_), (bw, bh, *_) = _ops.launch_plans(
                emu, sep(24), sep(12), (4, 4), (2, 2), (n, n + 1), (n + 1, n), torch.float32,
                max_tile=cap, strip_rows=-1)
            # The forward (output n + 1 high, n wide) fits at 32 x 32.
            assert tiles(n, tow) == tiles(n, min(cap or 32, n)), (n, cap, tow)
            assert tiles(n + 1, toh) == tiles(n + 1, min(cap or 32, n + 1)), (n, cap, toh)
            for t, side in ((tow, n), (toh, n + 1), (bw, n + 1), (bh, n)):
                assert t == 1 or tiles(side, t - 1) > tiles(side, t), (n, cap, t, side)


def test_planner_runs_tall_tiles_in_strips(emu):
    """Tall tiles in strips (binding.cpp, plan_tile): StyleGAN3-T's up-4 layer, forward and
    mask backward, gets them, with less modelled work than its one-strip tiles (5 % at least;
    the backward's 14 x 15 tiles computed 1.8 intermediate samples per kept one), in no more
    shared memory than those or 40 KB. No strips where a strip cannot run (a 2-D stage B
    filter; taps below the factor), nor where they would leave the grid under 1024 blocks."""
    sep = lambda k: Fir(fx=torch.ones(k), fy=torch.ones(k))  # noqa: E731
    full = lambda k: Fir(f2d=torch.ones(k, k))  # noqa: E731
    geo = ((4, 4), (2, 2), (534, 534), (1044, 1044), torch.float32)
    one = _ops.launch_plans(emu, sep(24), sep(12), *geo, strip_rows=-1, planes=324)
    auto = _ops.launch_plans(emu, sep(24), sep(12), *geo, planes=324)
    for o, a in zip(one, auto, strict=True):
        _, toh, tsh, nbytes, work = a
        assert tsh < toh and nbytes <= max(o[3], 40 * 1024) and work < 0.95 * o[4], (o, a)
    assert auto[1][4] < 0.85 * one[1][4]  # the backward: fewer halo rows
    fwd, bwd = _ops.launch_plans(emu, sep(24), full(12), *geo, planes=324)
    assert fwd[2] == fwd[1] and bwd[2] < bwd[1]  # R's forward: a 2-D stage B filter
    rep, rbwd = _ops.launch_plans(emu, sep(24), sep(12), *geo, planes=324, dmode="replicate")
    assert rep[2] == rep[1] and rbwd == auto[1]  # replicate down-stage: one-strip tiles
    few = _ops.launch_plans(emu, sep(24), sep(12), (4, 4), (2, 2), (50, 50), (96, 96),
                            torch.float32, planes=1)
    assert all(p[2] == p[1] for p in few)  # one plane of 96 x 96: a few blocks already
    thin = _ops.launch_plans(emu, sep(2), sep(2), (1, 1), (3, 3), (90, 90), (30, 30),
                             torch.float32, strip_rows=4)
    assert thin[0][2] == thin[0][1]  # the forward's 2 taps below its factor 3
    assert thin[1][2] == 4  # (its backward: 2 taps, factor 1)
    with pytest.raises(RuntimeError, match=r"out_hw must be >= 1, got \[0, 5\]"):
        emu.filtered_act_plan([2, 2], [12, 12], True, [2, 2], [12, 12], True, [0, 5], False,
                              True)
    huge = emu.filtered_act_plan([2, 2], [12, 12], True, [2, 2], [12, 12], True, [60000, 60000],
                                 False, True, 1, 0, 0, 1)
    assert huge[4] > 0  # the modelled work of 60000^2 one-sample tiles: no 32-bit wrap-around


@settings(max_examples=300)
@given(ua=st.tuples(st.integers(1, 8), st.integers(1, 8)),
       db=st.tuples(st.integers(1, 8), st.integers(1, 8)),
       ka=st.tuples(st.integers(1, 64), st.integers(1, 64)), a_sep=st.booleans(),
       kb=st.tuples(st.integers(1, 64), st.integers(1, 64)), b_sep=st.booleans(),
       hw=st.tuples(st.integers(1, 1 << 16), st.integers(1, 1 << 16)), f64=st.booleans(),
       save=st.booleans(), max_tile=st.sampled_from([0, 1, 7, 64]),
       smem=st.sampled_from([0, 1024, 100 * 1024, 227 * 1024]),
       strips=st.sampled_from([0, -1, 1, 5]), planes=st.sampled_from([0, 1, 3, 1 << 20]),
       ext_b=st.sampled_from([0, 1]), threads=st.sampled_from([0, 1, 128, 1024]))
def test_every_plan_fits_or_is_refused(emu, ua, db, ka, a_sep, kb, b_sep, hw, f64, save,
                                       max_tile, smem, strips, planes, ext_b, threads):
    """The tile planner over any geometry (factors, taps, 2-D or separable filters, planes
    ``hw = (ho, wo)`` up to 2^16 a side, every knob): a plan whose shared memory fits the limit,
    tiles and strips within the plane and the caps, and positive modelled work; or a clear
    refusal naming the limit. (Under the sanitizer builds, UBSan also checks its arithmetic
    for overflow.)"""
    if not a_sep:
        ka = (ka[0] % 16 + 1, ka[1] % 16 + 1)  # a 2-D filter's taps live in shared memory
    if not b_sep:
        kb = (kb[0] % 16 + 1, kb[1] % 16 + 1)
    def plan(max_tile, strips):
        return emu.filtered_act_plan(list(ua), list(ka), a_sep, list(db), list(kb), b_sep,
                                     list(hw), f64, save, max_tile, smem, strips, planes, ext_b,
                                     threads)

    try:
        tow, toh, tsh, nbytes, work = plan(max_tile, strips)
    except RuntimeError as e:
        assert re.search(r"too large|limit", str(e)), str(e)
        with pytest.raises(RuntimeError):  # refused only where not even a 1 x 1 tile fits
            plan(1, -1)
        return
    ho, wo = hw
    assert 0 < nbytes <= (smem or 48 * 1024) and work > 0
    # Tiles: up to 32 (or max_tile) wide, twice that in strips, 1024 for a single-row plane; a
    # strip up to 32 (or max_tile) rows; the planner's tiles of up to 8 strips.
    widest = max_tile or (1024 if ho == 1 else 64)
    assert 1 <= tow <= min(wo, widest) and 1 <= tsh <= min(toh, max_tile or 32) and toh <= ho
    if strips < 0:
        assert tsh == toh
    elif strips > 0:
        assert tsh in (toh, min(strips, toh))
    else:
        assert tsh == toh or toh <= 8 * tsh


@pytest.mark.parametrize(("up", "ku", "down", "kd"),
                         [(2, 12, 2, 12), (4, 24, 2, 12), (2, 12, 4, 24), (3, 7, 2, 5),
                          (1, 3, 2, 4), (1, 3, 3, 3)])
def test_strips_equal_one_strip_tiles(emu, up, ku, down, kd):
    """A tile run in strips computes every sum of the one-strip tile in the same order: output,
    mask and mask backward bit for bit, fast and generic kernels, strips of 1 to 5 rows (the
    rows strips share carried over, taps equal to the factor sharing none), 1-3 threads."""
    rng = np.random.default_rng(up * 100 + kd)
    sep = lambda k: Fir(fx=torch.from_numpy(rng.standard_normal(k)).float(),  # noqa: E731
                        fy=torch.from_numpy(rng.standard_normal(k)).float())
    x = torch.from_numpy(rng.standard_normal((2, 3, 37, 23))).float()
    b = torch.from_numpy(rng.standard_normal(3)).float()
    args = (sep(ku), sep(kd), (up, up), (down, down), (ku // 2,) * 4, (0, 0, 0, 0), "lrelu", 0.2,
            1.4, 1.0)
    for fast in (True, False):
        for tile, strips, threads in [(0, 5, 3), (9, 2, 2), (0, 1, 1), (7, 3, 2)]:
            y0, m0 = _ops.filtered_act_call(emu, x, b, *args, True, tile, threads, fast=fast,
                                            strip_rows=-1)
            y, m = _ops.filtered_act_call(emu, x, b, *args, True, tile, threads, fast=fast,
                                          strip_rows=strips)
            assert torch.equal(y, y0) and torch.equal(m, m0), (fast, tile, strips)
            dy = torch.from_numpy(rng.standard_normal(y.shape)).float()
            dx0, dx = (_ops.filtered_act_backward_call(
                emu, dy, m0, (37, 23), *args[:-4], "lrelu", 0.2, 1.4, tile, threads, fast=fast,
                strip_rows=s) for s in (-1, strips))  # fmt: skip
            assert torch.equal(dx, dx0), (fast, tile, strips)


def test_planes_beyond_the_grid_z_limit(emu):
    """More planes (N·C) than CUDA's gridDim.z limit (65535; the emulation refuses a launch past
    it, as a GPU does): the grid is capped and each block loops over planes p, p + 65535, ...,
    reusing its shared memory (the barrier that ends a plane: 3 threads, and a separable stage B
    whose y pass reads the storage the next plane's input tile overwrites). Every plane must come
    out bit-identical to a launch over a slice of the channels (one plane per block): bias,
    per-channel alpha / beta, mask words and parameter sums follow p, forward, mask backward
    and the backward from u (its parameter sums' storage overlays the tile's). (The float64
    oracles of the other tests check the sliced launches; 'ref' over 131076 planes is slow.)"""
    rng = np.random.default_rng(11)
    n, c, hw = 2, 65535 + 3, (4, 5)  # 131076 planes: two per block, three for the first six
    x = torch.from_numpy(rng.standard_normal((n, c, *hw)))
    b = torch.from_numpy(rng.standard_normal(c))
    alpha, beta = (torch.from_numpy(rng.uniform(0.2, 3.0, c)) for _ in range(2))
    f4 = torch.from_numpy(rng.standard_normal(4))
    geo = (Fir(fx=f4, fy=f4.flip(0)), Fir(fx=f4[:3], fy=f4[1:]), (2, 2), (2, 2), (2, 1, 2, 1),
           (0, 0, 0, 0))
    geo2d = (geo[1], Fir(f2d=torch.outer(f4[:3], f4[1:])), *geo[2:])

    ds = None

    def run(ch, threads):
        nonlocal ds
        y, mask = _ops.filtered_act_call(emu, x[:, ch], b[ch], *geo, "lrelu", 0.2, 1.4, 1.0,
                                         True, 0, threads)
        dx = _ops.filtered_act_backward_call(emu, y, mask, hw, *geo, "lrelu", 0.2, 1.4, 0,
                                             threads)
        s, u = _ops.filtered_act_call(emu, x[:, ch], b[ch], *geo2d, "snakebeta", alpha[ch], 1.0,
                                      None, False, 0, threads, beta=beta[ch], save_u=True)
        if ds is None:
            ds = torch.from_numpy(rng.standard_normal(s.shape))
        # The backward from u, with the per-block sums of the parameter gradients (the barrier
        # after them: the next plane's input tile may overwrite their storage).
        dv, dparams = _ops.filtered_act_backward_u_call(
            emu, ds[:, ch], u, hw, *geo2d, "snakebeta", alpha[ch], 1.0, None, beta=beta[ch],
            block_threads=threads)
        return y, mask.reshape(n, -1, *mask.shape[1:]), dx, s, dv, dparams

    whole = run(slice(None), 3)
    parts = [run(slice(c0, c0 + 16384), 1) for c0 in range(0, c, 16384)]
    names = ("y", "mask", "dx", "snakebeta", "snakebeta dv", "snakebeta dparams")
    for name, got, *want in zip(names, whole, *parts, strict=True):
        if "dparams" in name:  # summed over 3 threads' partial sums vs 1: rounding apart
            torch.testing.assert_close(got, torch.cat(want, dim=-1), rtol=1e-12, atol=1e-12)
        else:
            assert torch.equal(got, torch.cat(want, dim=1)), name


def test_layout_of_extreme_geometry_in_64_bits(emu):
    """Three outputs a down factor just below 2^30 apart: the first tile's intermediate extent
    (tow - 1)·down + taps passes 2^31. Planned in 32 bits it wrapped to a negative size that
    passed the shared-memory check; in 64 bits the tile is shrunk until it fits. (Entry-point
    level: a consistent geometry this wide needs a 2^30-sample plane.)"""
    big = 2**30 - 1
    x = torch.from_numpy(np.random.default_rng(12).standard_normal((1, 2, 1, 5)))
    one, f = torch.ones(1, dtype=torch.float64), torch.tensor([0.5, -1.0], dtype=torch.float64)
    # u[i] = 0.5 x[i] - x[i + 1] (linear act); y[o] = 0.5 u[o·big - p] - u[o·big - p + 1],
    # p = big - 1: only output 1 reads samples that exist (u[1], u[2])
    y, _ = emu.filtered_act(x, None, f, one, None, f, one, None, [1, 1], [0, 0], [1, big],
                            [big, 1], [big - 1, 0], [1, 3], 0, 0, 0.0, 1.0, -1.0, False, None)
    u = 0.5 * x[..., :4] - x[..., 1:]
    expected = torch.zeros(1, 2, 1, 3, dtype=torch.float64)
    expected[..., 1] = 0.5 * u[..., 1] - u[..., 2]
    assert_close(y, to_np(expected), 1e-12, what="extreme geometry")


# ------------------------------------------------------------------------------------------
# Smooth and per-channel activations: gelu, gelu_tanh, snake, snakebeta

SMOOTH_ACTS = ("gelu", "gelu_tanh", "snake", "snakebeta")
GELU_K = math.sqrt(2 / math.pi)


def np_act(name: str, u: np.ndarray, alpha, beta) -> np.ndarray:
    """float64 definitions, written out here (``alpha``/``beta``: ``[C]``, over axis 1)."""
    if name == "gelu":
        return 0.5 * u * (1 + erf(u / math.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * u * (1 + np.tanh(GELU_K * (u + 0.044715 * u**3)))
    a = np.asarray(alpha, np.float64).reshape(1, -1, 1, 1)
    den = a if name == "snake" else np.asarray(beta, np.float64).reshape(1, -1, 1, 1)
    return u + np.sin(a * u) ** 2 / (den + 1e-9)


@st.composite
def smooth_cases(draw, acts=SMOOTH_ACTS):
    """1-D (H = 1, identity y filter) or 2-D; factors 1-4 per axis; separable / full filters of
    1-9 taps; paddings and down-paddings of both signs; random per-channel alpha / beta."""
    ndim = draw(st.sampled_from([1, 2]))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    w = draw(st.integers(1, 12 if ndim == 1 else 7))
    h = 1 if ndim == 1 else draw(st.integers(1, 7))
    up = (draw(st.integers(1, 4)), 1 if ndim == 1 else draw(st.integers(1, 4)))
    down = (draw(st.integers(1, 4)), 1 if ndim == 1 else draw(st.integers(1, 4)))
    kind = st.just("sep") if ndim == 1 else st.sampled_from(["sep", "full"])
    ku = (draw(st.integers(1, 9)), 1 if ndim == 1 else draw(st.integers(1, 9)))
    kd = (draw(st.integers(1, 9)), 1 if ndim == 1 else draw(st.integers(1, 9)))
    px = draw(pad_pair(w * up[0], ku[0]))
    py = (0, 0) if ndim == 1 else draw(pad_pair(h * up[1], ku[1]))
    wu, hu = w * up[0] + px[0] + px[1] - ku[0] + 1, h * up[1] + py[0] + py[1] - ku[1] + 1
    dx = draw(pad_pair(wu, kd[0]))
    dy = (0, 0) if ndim == 1 else draw(pad_pair(hu, kd[1]))
    return dict(ndim=ndim, shape=(n, c, h, w), up=up, down=down, ku=ku, kd=kd,
                kind_u=draw(kind), kind_d=draw(kind), pad=(*px, *py), dpad=(*dx, *dy),
                act=draw(st.sampled_from(acts)), seed=draw(st.integers(0, 2**31)),
                gain=draw(st.floats(0.1, 2.0)), clamp=draw(st.none() | st.floats(0.3, 3.0)),
                bias=draw(st.booleans()))


def _smooth_inputs(case, dtype=torch.float64):
    rng = np.random.default_rng(case["seed"])
    x = torch.from_numpy(rng.uniform(-3, 3, case["shape"]))
    c = case["shape"][1]
    b = torch.from_numpy(rng.uniform(-1, 1, c)) if case["bias"] else None
    fu = _random_fir(rng, case["kind_u"], case["ku"])
    fd = _random_fir(rng, case["kind_d"], case["kd"])
    if case["ndim"] == 1:  # the y axis of a 1-D filter is the identity, as make_fir_1d builds
        fu, fd = (Fir(fx=f.fx, fy=torch.ones(1, dtype=torch.float64)) for f in (fu, fd))
    alpha = torch.from_numpy(rng.uniform(0.1, 3.0, c))  # BigVGAN's alpha is exp(.) > 0
    beta = torch.from_numpy(rng.uniform(0.2, 3.0, c))
    cast = [None if t is None else t.to(dtype) for t in (x, b, alpha, beta)]
    firs = [Fir(*(None if t is None else t.to(dtype) for t in (f.fx, f.fy, f.f2d)))
            for f in (fu, fd)]
    return (*cast, *firs)


def _call_smooth(emu, case, x, b, alpha, beta, fu, fd, tile=0, threads=0):
    act = case["act"]
    params = dict(alpha=alpha if act in _ops.PARAM_ACTS else 0.0,
                  beta=beta if act == "snakebeta" else None)
    y, mask = _ops.filtered_act_call(
        emu, x, b, fu, fd, case["up"], case["down"], case["pad"], case["dpad"], act,
        params["alpha"], case["gain"], case["clamp"], False, tile, threads, beta=params["beta"],
    )
    assert mask.numel() == 0
    return y


def _oracle_smooth(case, x, b, alpha, beta, fu, fd):
    v = to_np(x) + (0 if b is None else to_np(b).reshape(1, -1, 1, 1))
    u = naive_upfirdn(v, fu, case["up"], (1, 1), case["pad"])
    a = np_act(case["act"], u, to_np(alpha), to_np(beta)) * case["gain"]
    if case["clamp"] is not None:
        a = np.clip(a, -case["clamp"], case["clamp"])
    y = naive_upfirdn(a, fd, (1, 1), case["down"], case["dpad"])
    absfd = Fir(*(None if t is None else t.abs() for t in (fd.fx, fd.fy, fd.f2d)))
    return y, max(1.0, float(naive_upfirdn(np.abs(a), absfd, (1, 1), case["down"],
                                           case["dpad"]).max()))


@given(case=smooth_cases(), tile=TILES, threads=THREADS)
def test_smooth_acts_forward_float64(emu, case, tile, threads):
    """The fused forward of gelu / gelu_tanh / snake / snakebeta (per-channel alpha, beta) equals
    the float64 oracle and the reference composition, for every tiling and thread count."""
    x, b, alpha, beta, fu, fd = _smooth_inputs(case)
    y = _call_smooth(emu, case, x, b, alpha, beta, fu, fd, tile, threads)
    expected, scale = _oracle_smooth(case, x, b, alpha, beta, fu, fd)
    assert_close(y, expected, 1e-9, scale=scale, what=f"{case['act']} vs oracle")
    spec = get_filtered_activation(case["act"])
    is_param = case["act"] in _ops.PARAM_ACTS
    r = reference.filtered_act(
        x, b, fu, fd, case["up"], case["down"], case["pad"], spec, alpha if is_param else 0.0,
        case["gain"], case["clamp"], beta=beta if case["act"] == "snakebeta" else None,
        dpad=case["dpad"])
    assert_close(y, to_np(r), 1e-9, scale=scale, what=f"{case['act']} vs ref")


@settings(max_examples=15)
@given(case=smooth_cases())
def test_smooth_acts_float32(emu, case):
    """float32 storage and arithmetic (sinf, erff, tanhf): close to float64 on the same inputs,
    relative to the magnitude of the summed terms times snake's amplification alpha/denominator."""
    case = dict(case, clamp=None)  # a flipped clamp decision is a legit O(1) difference
    x, b, alpha, beta, fu, fd = _smooth_inputs(case, torch.float32)
    y = _call_smooth(emu, case, x, b, alpha, beta, fu, fd)
    assert y.dtype == torch.float32
    f64 = [t.double() if t is not None else None for t in (x, b, alpha, beta)]
    firs = [Fir(*(None if t is None else t.double() for t in (f.fx, f.fy, f.f2d)))
            for f in (fu, fd)]
    expected, scale = _oracle_smooth(case, *f64, *firs)
    den = f64[2] if case["act"] == "snake" else f64[3]
    amp = float((f64[2] / den).max()) if case["act"] in _ops.PARAM_ACTS else 1.0
    assert_close(y, expected, 1e-4, scale=scale * max(1.0, amp), what=f"{case['act']} float32")


def test_wide_1d_tiles_and_parameters_per_channel(emu):
    """A long 1-D signal (the production tile of a single-row plane is wide) gives bit-identical
    results with narrow tiles and several threads, and each channel uses its own alpha / beta."""
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((2, 3, 1, 2500)))
    b = torch.from_numpy(rng.standard_normal(3))
    fu = Fir(fx=torch.from_numpy(rng.standard_normal(12) / 6), fy=torch.ones(1).double())
    fd = Fir(fx=torch.from_numpy(rng.standard_normal(12) / 12), fy=torch.ones(1).double())
    alpha = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    beta = torch.tensor([0.3, 1.5, 0.9], dtype=torch.float64)
    args = (fu, fd, (2, 1), (2, 1), (6, 5, 0, 0), (5, 6, 0, 0), "snakebeta", alpha, 1.0, None,
            False)
    y0, _ = _ops.filtered_act_call(emu, x, b, *args, 0, 4, beta=beta)
    y1, _ = _ops.filtered_act_call(emu, x, b, *args, 7, 3, beta=beta)
    assert torch.equal(y0, y1)
    r = reference.filtered_act(x, b, fu, fd, (2, 1), (2, 1), (6, 5, 0, 0),
                               get_filtered_activation("snakebeta"), alpha, 1.0, None, beta=beta,
                               dpad=(5, 6, 0, 0))
    assert_close(y0, to_np(r), 1e-9, scale=float(r.abs().max()), what="wide 1-D tile")
    # swapping the parameters of two channels changes exactly those channels' outputs
    y2, _ = _ops.filtered_act_call(emu, x, b, *args[:7], alpha[[1, 0, 2]], *args[8:], 0, 2,
                                   beta=beta[[1, 0, 2]])
    assert torch.equal(y2[:, 2], y0[:, 2]) and not torch.equal(y2[:, :2], y0[:, :2])


# ------------------------------------------------------------------------------------------
# Replicate extension of the activated signal (dmode='replicate'; BigVGAN's down-stage)


@st.composite
def replicate_cases(draw):
    """smooth_cases' geometry with a down_padding of -2 .. taps - 1 per side (an output left)."""
    case = draw(smooth_cases(acts=FA_ACTS))
    h, w = case["shape"][2:]
    pu, up, ku, kd = case["pad"], case["up"], case["ku"], case["kd"]
    wu = w * up[0] + pu[0] + pu[1] - ku[0] + 1
    hu = h * up[1] + pu[2] + pu[3] - ku[1] + 1
    d = (draw(st.integers(-2, kd[0] - 1)), draw(st.integers(-2, kd[0] - 1)),
         *((0, 0) if case["ndim"] == 1 else (draw(st.integers(-2, kd[1] - 1)),
                                             draw(st.integers(-2, kd[1] - 1)))))
    assume(wu + d[0] + d[1] >= kd[0] and hu + d[2] + d[3] >= kd[1])
    return dict(case, dpad=d)


@settings(deadline=None)
@given(case=replicate_cases(), tile=TILES, threads=THREADS, strips=STRIPS)
def test_replicate_extension_of_the_activated_signal(emu, case, tile, threads, strips):
    """The kernel's replicate extensions, of the input (umode) and of the activated signal for
    the down-stage (dmode), together equal 'ref' with padding_mode='replicate', for any
    activation, tiling and thread count: a tile reaching past an edge copies the edge sample
    (strips asked for: the launcher runs one-strip tiles, whose edge samples are in the tile)."""
    x, b, alpha, beta, fu, fd = _smooth_inputs(case)
    act = case["act"]
    spec = get_filtered_activation(act)
    y, mask = _ops.filtered_act_call(
        emu, x, b, fu, fd, case["up"], case["down"], case["pad"], case["dpad"], act,
        alpha if act in _ops.PARAM_ACTS else 0.3, case["gain"], case["clamp"], False, tile,
        threads, beta=beta if act == "snakebeta" else None, dmode="replicate", strip_rows=strips,
        umode="replicate",
    )
    expected = reference.filtered_act(
        x, b, fu, fd, case["up"], case["down"], case["pad"], spec,
        alpha if act in _ops.PARAM_ACTS else 0.3, case["gain"], case["clamp"],
        beta=beta if act == "snakebeta" else None, mode="replicate", dpad=case["dpad"],
    )
    assert mask.numel() == 0
    assert_close(y, to_np(expected), 1e-9, scale=max(1.0, float(expected.abs().max())) * 4,
                 what=f"replicate {act}")


@settings(deadline=None)
@given(case=smooth_cases(acts=tuple(sorted(_ops.FA_ACT_CODES))),
       mode=st.sampled_from(["replicate", "circular"]),
       wide=st.integers(0, 3), tile=TILES, threads=THREADS, strips=STRIPS,
       dtype=st.sampled_from([torch.float64, torch.float32]))
def test_input_extension_in_the_kernel_equals_extending_first(emu, case, mode, wide, tile,
                                                              threads, strips, dtype):
    """The kernel's extension of the input (umode: replicated or wrapped samples, the bias on
    every copy) gives bit for bit the output and mask of the kernel run on the input extended
    first (reference.extend of x + b, as the cuda path did before), for every activation,
    tiling, thread count and strip setting; paddings up to several planes wide (circular wraps
    more than once)."""
    x, b, alpha, beta, fu, fd = _smooth_inputs(case, dtype)
    pad = tuple(p + wide * n * case["up"][i // 2] if p > 0 else p
                for i, (p, n) in enumerate(zip(case["pad"], (case["shape"][3],) * 2
                                               + (case["shape"][2],) * 2)))
    if case["ndim"] == 1:
        pad = (*pad[:2], 0, 0)
    act = case["act"]
    ku = case["ku"]
    wu = case["shape"][3] * case["up"][0] + pad[0] + pad[1] - ku[0] + 1
    hu = case["shape"][2] * case["up"][1] + pad[2] + pad[3] - ku[1] + 1
    dpad = tuple(min(d, 0) for d in case["dpad"])  # the fused region: no positive down_padding
    assume(wu + dpad[0] + dpad[1] >= case["kd"][0] and hu + dpad[2] + dpad[3] >= case["kd"][1])
    kw = dict(beta=beta if act == "snakebeta" else None, strip_rows=strips)
    args = (case["up"], case["down"])
    params = (act, alpha if act in _ops.PARAM_ACTS else 0.3, case["gain"], case["clamp"],
              act in _ops.MASK_ACTS, tile, threads)
    y, mask = _ops.filtered_act_call(emu, x, b, fu, fd, *args, pad, dpad, *params, umode=mode,
                                     **kw)
    v = x if b is None else x + b.reshape(1, -1, 1, 1)
    xe, rest = reference.extend(v, pad, case["up"], mode)
    ye, maske = _ops.filtered_act_call(emu, xe, None, fu, fd, *args, rest, dpad, *params, **kw)
    assert torch.equal(y, ye) and torch.equal(mask, maske)


def test_replicate_extension_checks(emu):
    """The kernel refuses what it cannot do: a down_padding of the taps or more (a tile past the
    edge would not hold the edge sample), a mask, the backward direction."""
    x = torch.zeros(1, 1, 1, 16, dtype=torch.float64)
    f = Fir(fx=torch.ones(4, dtype=torch.float64) / 4, fy=torch.ones(1, dtype=torch.float64))
    args = (f, f, (2, 1), (2, 1), (2, 1, 0, 0))
    y, _ = _ops.filtered_act_call(emu, x, None, *args, (3, 3, 0, 0), "lrelu", 0.2, 1.0, None,
                                  False, dmode="replicate")
    assert y.shape[-1] == (16 * 2 + 3 - 4 + 1 + 6 - 4) // 2 + 1  # wu = 32
    with pytest.raises(RuntimeError, match="paddings below its taps"):
        _ops.filtered_act_call(emu, x, None, *args, (4, 0, 0, 0), "lrelu", 0.2, 1.0, None,
                               False, dmode="replicate")
    with pytest.raises(RuntimeError, match="forward-only, without a mask"):
        _ops.filtered_act_call(emu, x, None, *args, (3, 3, 0, 0), "lrelu", 0.2, 1.0, None,
                               True, dmode="replicate")
    with pytest.raises(RuntimeError, match="needs a plane with samples"):
        _ops.filtered_act_call(emu, x[:, :, :0], None, f, f, (2, 1), (2, 1), (2, 1, 1, 1),
                               (0, 0, 0, 0), "lrelu", 0.2, 1.0, None, False, umode="circular")
    with pytest.raises(RuntimeError, match="ext_a must be 0"):
        emu.filtered_act(x, None, f.fx, f.fy, None, f.fx, f.fy, None, [2, 1], [0, 0], [1, 29],
                         [2, 1], [0, 0], [1, 13], 0, 2, 0.2, 1.0, -1.0, False, None, 0, 0, None,
                         None, True, 0, 0, 0, False, 3, [0, 0, 0, 0])
    assert not _ops.fused_supported(get_filtered_activation("lrelu"), "replicate", (4, 0, 0, 0),
                                    f)
    assert not _ops.fused_supported(get_filtered_activation("lrelu"), "circular", (1, 0, 0, 0),
                                    f)


# ------------------------------------------------------------------------------------------
# Fast specialisations (filtered_act_fast.cu): selection, and equality with the generic kernel

# (up, fu taps, down, fd taps, 1-D) -> the fast spec of the forward and of the mask backward.
FAST_GEOMETRIES = {
    (2, 12, 2, 12, False): ("u2k12_d2k12", "u2k12_d2k12"),  # T/R layers with up 2
    (4, 24, 2, 12, False): ("u4k24_d2k12", "u2k12_d4k24"),  # up 4: the backward is transposed
    (2, 12, 2, 12, True): ("u2k12_d2k12_1d", "u2k12_d2k12_1d"),  # BigVGAN / alias-free-torch
}


def _fast_fir(rng, kind: str, taps: int, one_d: bool) -> Fir:
    if one_d:
        return Fir(fx=torch.from_numpy(rng.standard_normal(taps) / taps), fy=torch.ones(1).double())
    return _random_fir(rng, kind, (taps, taps))


def test_fast_kernel_selection(emu):
    """StyleGAN3's (filter_size 6) and BigVGAN's geometries get a fast kernel in both directions,
    separable or full 2-D; float64, other taps and anisotropic factors stay generic."""
    rng = np.random.default_rng(0)
    for (up, ku, down, kd, one_d), expected in FAST_GEOMETRIES.items():
        ups = (up, 1) if one_d else (up, up)
        downs = (down, 1) if one_d else (down, down)
        kinds = ["sep"] if one_d else ["sep", "full"]
        for kind_u in kinds:
            for kind_d in kinds:
                fu, fd = _fast_fir(rng, kind_u, ku, one_d), _fast_fir(rng, kind_d, kd, one_d)
                for dtype in (torch.float32, torch.float16, torch.bfloat16):
                    assert _ops.kernel_names(emu, fu, fd, ups, downs, dtype) == expected
                assert _ops.kernel_names(emu, fu, fd, ups, downs, torch.float64) == (
                    "generic", "generic")
    sep = [_random_fir(rng, "sep", (k, k)) for k in (8, 12, 13, 24)]
    generic = [
        (sep[0], sep[1], (2, 2), (2, 2)),  # 8-tap up filter
        (sep[2], sep[1], (2, 2), (2, 2)),  # 13 taps
        (sep[1], sep[1], (2, 1), (2, 2)),  # anisotropic factors
        (sep[3], sep[3], (4, 4), (4, 4)),  # up 4 and down 4
        (_random_fir(rng, "sep", (1, 1)), _random_fir(rng, "sep", (1, 1)), (1, 1), (1, 1)),  # ToRGB
    ]
    for fu, fd, up, down in generic:
        assert _ops.kernel_names(emu, fu, fd, up, down, torch.float32) == ("generic", "generic")


@pytest.mark.parametrize(("resolution", "config"), [(1024, "T"), (256, "R")])
def test_every_stylegan3_layer_but_torgb_gets_a_fast_kernel(emu, resolution, config):
    from bandlimit.filters import stylegan3_schedule

    sched = stylegan3_schedule(resolution, config=config)
    for i, layer in enumerate(sched.layers):
        firs = [make_fir(f, gain=(1.0, 1.0), flip_filter=False, dtype=torch.float16,
                         device="cpu") for f in sched.layer_filters(i)]  # fmt: skip
        up, down = (layer.up_factor,) * 2, (layer.down_factor,) * 2
        names = _ops.kernel_names(emu, *firs, up, down, torch.float16)
        torgb = i == len(sched.layers) - 1
        assert (names == ("generic", "generic")) == torgb, (layer.name, names)


@st.composite
def fast_cases(draw):
    """A fast geometry with random planes (including ones smaller than a tile), paddings,
    separable / 2-D filters per stage, an activation with a mask or a smooth one."""
    up, ku, down, kd, one_d = draw(st.sampled_from(sorted(FAST_GEOMETRIES)))
    h = 1 if one_d else draw(st.integers(1, 14))
    w = draw(st.integers(1, 40 if one_d else 14))
    pu = (*draw(pad_pair(w * up, ku)), *((0, 0) if one_d else draw(pad_pair(h * up, ku))))
    wu, hu = w * up + pu[0] + pu[1] - ku + 1, (1 if one_d else h * up + pu[2] + pu[3] - ku + 1)
    pd = (*draw(pad_pair(wu, kd)), *((0, 0) if one_d else draw(pad_pair(hu, kd))))
    kinds = st.just("sep") if one_d else st.sampled_from(["sep", "full"])
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), one_d=one_d,
                up=(up, 1) if one_d else (up, up), down=(down, 1) if one_d else (down, down),
                ku=ku, kd=kd, kind_u=draw(kinds), kind_d=draw(kinds), pad=pu, dpad=pd,
                act=draw(st.sampled_from(["lrelu", "relu", "linear", "gelu", "snake"])),
                clamp=draw(st.none() | st.floats(0.05, 2.0)), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=40, deadline=None)
@given(case=fast_cases(), tile=TILES, threads=THREADS, strips=STRIPS)
def test_fast_kernels_equal_the_generic_kernel(emu, case, tile, threads, strips):
    """float32: the fast kernel's output, mask and mask backward equal the generic kernel's (the
    same sums in the same order) and the float64 reference composition; in strips or not."""
    rng = np.random.default_rng(case["seed"])
    x64 = torch.from_numpy(rng.standard_normal(case["shape"]))
    b64 = torch.from_numpy(rng.standard_normal(case["shape"][1]))
    fu = _fast_fir(rng, case["kind_u"], case["ku"], case["one_d"])
    fd = _fast_fir(rng, case["kind_d"], case["kd"], case["one_d"])
    act = case["act"]
    alpha = (torch.from_numpy(rng.uniform(0.3, 2.0, case["shape"][1])) if act == "snake"
             else 0.2)  # fmt: skip
    f32 = [Fir(*(None if t is None else t.float() for t in (f.fx, f.fy, f.f2d))) for f in (fu, fd)]
    a32 = alpha.float() if isinstance(alpha, torch.Tensor) else alpha
    geo = (case["up"], case["down"], case["pad"], case["dpad"])
    assert _ops.kernel_names(emu, *f32, case["up"], case["down"], torch.float32)[0] != "generic"
    save = act in _ops.MASK_ACTS
    run = [_ops.filtered_act_call(emu, x64.float(), b64.float(), *f32, *geo, act, a32, 1.4,
                                  case["clamp"], save, tile, threads, fast=fast,
                                  strip_rows=strips)
           for fast in (True, False)]  # fmt: skip
    (y, mask), (y_gen, mask_gen) = run
    assert torch.allclose(y, y_gen, rtol=1e-6, atol=1e-6), (y - y_gen).abs().max()
    assert torch.equal(mask, mask_gen)
    expected = reference.filtered_act(x64, b64, fu, fd, *geo[:3], get_filtered_activation(act),
                                      alpha, 1.4, case["clamp"], dpad=case["dpad"])
    assert_close(y, to_np(expected), 1e-4, scale=max(1.0, float(expected.abs().max())),
                 what=f"fast {act} float32")
    if save:
        dy = torch.from_numpy(rng.standard_normal(expected.shape)).float()
        dx, dx_gen = (_ops.filtered_act_backward_call(
            emu, dy, mask, tuple(case["shape"][2:]), *f32, *geo, act, 0.2, 1.4, tile, threads,
            fast=fast, strip_rows=strips) for fast in (True, False))  # fmt: skip
        assert torch.allclose(dx, dx_gen, rtol=1e-6, atol=1e-6), (dx - dx_gen).abs().max()


def test_fast_mask_backward_at_every_mask_word_phase(emu):
    """The blocked stage A of the mask backward reads two neighbouring columns' codes: from one
    mask word, or from two where the pair straddles a word boundary (the tile's first sample at
    an odd position of its word). Every phase of the tile start within a word, through the
    forward's padding, on planes with interior tiles: fast equals generic."""
    rng = np.random.default_rng(21)
    fu = Fir(fx=torch.from_numpy(rng.standard_normal(12) / 12).float(),
             fy=torch.from_numpy(rng.standard_normal(12) / 12).float())
    fd = Fir(fx=torch.from_numpy(rng.standard_normal(12) / 12).float(),
             fy=torch.from_numpy(rng.standard_normal(12) / 12).float())
    x = torch.from_numpy(rng.standard_normal((1, 2, 70, 76))).float()
    for p0 in range(8, 24):  # the backward's intermediate tiles start at every phase mod 16
        geo = ((2, 2), (2, 2), (p0, 22 - p0, 11, 11), (0, 0, 0, 0))
        y, mask = _ops.filtered_act_call(emu, x, None, fu, fd, *geo, "lrelu", 0.2, 1.4, 0.02,
                                         True)
        codes = torch.stack([(mask >> (2 * k)) & 3 for k in range(16)]).unique()
        assert set(codes.tolist()) >= {0, 1, 2}  # positive, negative and clamped samples
        dy = torch.from_numpy(rng.standard_normal(y.shape)).float()
        dx, dx_gen = (_ops.filtered_act_backward_call(emu, dy, mask, (70, 76), fu, fd, *geo,
                                                      "lrelu", 0.2, 1.4, 16, 64, fast=fast)
                      for fast in (True, False))  # fmt: skip
        assert torch.allclose(dx, dx_gen, rtol=1e-6, atol=1e-6), (p0, (dx - dx_gen).abs().max())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fast_kernels_in_half_precision(emu, dtype):
    """Half storage through the fast kernels: equal to the generic kernel, near float64."""
    rng = np.random.default_rng(11)
    x = torch.from_numpy(rng.standard_normal((2, 3, 9, 7)))
    for (up, ku, down, kd, one_d) in FAST_GEOMETRIES:
        if one_d:
            continue
        fu, fd = _random_fir(rng, "sep", (ku, ku)), _random_fir(rng, "full", (kd, kd))
        pad = (ku // 2,) * 4
        half = [Fir(*(None if t is None else t.float() for t in (f.fx, f.fy, f.f2d)))
                for f in (fu, fd)]  # fmt: skip
        ys = [_ops.filtered_act_call(emu, x.to(dtype), None, *half, (up, up), (down, down), pad,
                                     (0, 0, 0, 0), "lrelu", 0.2, 1.0, None, False, fast=fast)[0]
              for fast in (True, False)]  # fmt: skip
        assert ys[0].dtype == dtype and torch.equal(ys[0], ys[1])
        expected = reference.filtered_act(to_torch(rounded(x.numpy(), dtype)), None, fu, fd,
                                          (up, up), (down, down), pad, get_activation("lrelu"),
                                          0.2, 1.0, None)
        assert_close(ys[0], to_np(expected), TOL[dtype] * 4,
                     scale=max(1.0, float(expected.abs().max())), what=f"fast {dtype}")


# ------------------------------------------------------------------------------------------
# Stage B's x pass on tensor cores (mma.h, fir_rows_mma): float16 / bfloat16 storage


@pytest.mark.parametrize("bf16", [False, True])
def test_mma_probe_multiplies_through_the_fragments(emu, bf16):
    """D = A B + C through one warp's fragments, as the FIR pass loads them. Small integers are
    exact in both half types and their sums in float32, so any element the loaders place in the
    wrong slot shows up exactly; random values match the product of the rounded inputs. (The
    emulated mma reads the fragment layout as written in mma.h; test_cuda.py checks that layout
    against a GPU's tensor cores.)"""
    half = torch.bfloat16 if bf16 else torch.float16
    g = torch.Generator().manual_seed(2)
    a = torch.randint(-8, 9, (16, 16), generator=g).float()
    b = torch.randint(-4, 5, (16, 8), generator=g).float()
    c = torch.randint(-64, 65, (16, 8), generator=g).float()
    assert torch.equal(emu.mma_probe(a, b, c, bf16), (a.double() @ b.double() + c).float())
    a, b, c = (torch.randn(s, generator=g) for s in ((16, 16), (16, 8), (16, 8)))
    want = a.to(half).double() @ b.to(half).double() + c.double()
    assert torch.allclose(emu.mma_probe(a, b, c, bf16).double(), want, rtol=1e-6, atol=1e-6)
    with pytest.raises(RuntimeError, match=r"a must be \[16, 16\]"):
        emu.mma_probe(b, b, c, bf16)


@st.composite
def mma_cases(draw):
    """A fast 2-D geometry, planes of 1 to 40 samples per side (several 16 x 8 blocks per tile,
    partial ones at the edges), full or separable filters (a full 2-D down filter runs on tensor
    cores when it is down by 2: StyleGAN3-R's forward), leaky ReLU's slope and clamp."""
    up, ku, down, kd, _ = draw(st.sampled_from(
        sorted(k for k in FAST_GEOMETRIES if not k[4])))  # fmt: skip
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))

    def pads(n, k):  # about k / 2 each side (StyleGAN3's), at least one output sample
        p0 = draw(st.integers(k // 2 - 3, k // 2 + 3))
        return p0, max(draw(st.integers(k // 2 - 3, k // 2 + 3)), k - n - p0)

    pu = (*pads(w * up, ku), *pads(h * up, ku))
    wu, hu = w * up + pu[0] + pu[1] - ku + 1, h * up + pu[2] + pu[3] - ku + 1
    pd = (*pads(wu, kd), *pads(hu, kd))
    return dict(shape=(1, draw(st.integers(1, 2)), h, w), up=(up, up), down=(down, down), ku=ku,
                kd=kd, kind_u=draw(st.sampled_from(["sep", "full"])),
                kind_d=draw(st.sampled_from(["sep", "full"])), pad=pu, dpad=pd,
                slope=draw(st.sampled_from([0.2, 1.0])),
                clamp=draw(st.none() | st.floats(0.5, 2.0)), seed=draw(st.integers(0, 2**31)))


def _l1_norm(f: Fir) -> float:
    """The most a filter can amplify a signal: the sum of its taps' magnitudes."""
    if f.f2d is not None:
        return float(f.f2d.abs().sum())
    return float(f.fx.abs().sum() * f.fy.abs().sum())


@settings(max_examples=25, deadline=None)
@given(case=mma_cases(), half=st.sampled_from([torch.float16, torch.bfloat16]), tile=TILES,
       threads=THREADS, strips=STRIPS)
def test_tensor_core_x_pass(emu, case, half, tile, threads, strips):
    """With mma=1 stage B of StyleGAN3's kernels (the leaky-ReLU forward and the mask backward)
    runs on (emulated) tensor cores, a separable one's x pass or a full 2-D filter down by 2:
    samples and taps rounded to the half type, float32 sums. Both stay within the dtype's
    tolerance of the float64 reference and of the CUDA cores (mma=0); the mask (stage A's) is
    unchanged; any tile, strip height and thread count."""
    rng = np.random.default_rng(case["seed"])
    x64 = torch.from_numpy(rounded(rng.standard_normal(case["shape"]), half))
    fu = _random_fir(rng, case["kind_u"], (case["ku"],) * 2)
    fd = _random_fir(rng, case["kind_d"], (case["kd"],) * 2)
    f32 = [Fir(*(None if t is None else t.float() for t in (f.fx, f.fy, f.f2d))) for f in (fu, fd)]
    geo = (case["up"], case["down"], case["pad"], case["dpad"])
    slope, clamp = case["slope"], case["clamp"]
    knobs = dict(max_tile=tile, block_threads=threads, strip_rows=strips)
    (y, mask), (y_cc, mask_cc) = (
        _ops.filtered_act_call(emu, x64.to(half), None, *f32, *geo, "lrelu", slope, 1.4, clamp,
                               True, mma=m, **knobs) for m in (1, 0))  # fmt: skip
    assert torch.equal(mask, mask_cc)  # stage A's, not the x pass's
    f64 = [Fir(*(None if t is None else t.double() for t in (f.fx, f.fy, f.f2d))) for f in f32]
    expected = reference.filtered_act(x64, None, *f64, *geo[:3], get_activation("lrelu"), slope,
                                      1.4, clamp, dpad=case["dpad"])
    # Relative to the outputs' size (random taps of size 1 / taps: far below 1), floored at 5 %
    # of what the summed terms can reach (an output that cancels to nothing has no relative
    # accuracy in half precision): at most stage B's L1 norm times stage A's times max|x|.
    l1a, l1b = (_l1_norm(f) for f in f64)
    bound = float(x64.abs().max()) * l1a * l1b * 1.4
    scale = max(float(expected.abs().max()), bound / 20)
    assert_close(y, to_np(expected), TOL[half] * 2, scale=scale, what=f"mma {half}")
    assert_close(y, to_np(y_cc.double()), TOL[half] * 2, scale=scale, what="mma vs cuda cores")
    dy = torch.from_numpy(rounded(rng.standard_normal(expected.shape), half)).to(half)
    dx, dx_cc = (_ops.filtered_act_backward_call(emu, dy, mask, tuple(case["shape"][2:]), *f32,
                                                 *geo, "lrelu", slope, 1.4, mma=m, **knobs)
                 for m in (1, 0))  # fmt: skip
    assert dx.dtype == half
    bound = float(dy.abs().max()) * l1a * l1b * 1.4
    assert_close(dx, to_np(dx_cc.double()), TOL[half] * 2,
                 scale=max(float(dx_cc.abs().max()), bound / 20), what="mma backward")


def test_tensor_core_knob(emu, monkeypatch):
    """The pass applies to float16 / bfloat16 and StyleGAN3's kernels only (float32, the 1-D
    spec and a smooth activation are untouched by mma=1); the default (-1) is off unless
    $BANDLIMIT_CUDA_MMA=1; a bad value is refused."""
    rng = np.random.default_rng(4)
    fu, fd = _random_fir(rng, "sep", (12, 12)), _random_fir(rng, "sep", (12, 12))
    f32 = [Fir(fx=f.fx.float(), fy=f.fy.float()) for f in (fu, fd)]
    geo = ((2, 2), (2, 2), (6, 6, 6, 6), (0, 0, 0, 0))
    x = torch.from_numpy(rng.standard_normal((1, 3, 30, 30)))

    def run(xx, m, firs=f32, g=geo):
        return _ops.filtered_act_call(emu, xx, None, *firs, *g, "lrelu", 0.2, 1.0, None, True,
                                      mma=m)[0]

    assert torch.equal(run(x.float(), 1), run(x.float(), 0))
    line = Fir(fx=f32[0].fx, fy=torch.ones(1))
    g1 = ((2, 1), (2, 1), (6, 6, 0, 0), (0, 0, 0, 0))
    assert _ops.kernel_names(emu, line, line, (2, 1), (2, 1), torch.float16)[0].endswith("_1d")
    x1 = torch.from_numpy(rng.standard_normal((2, 3, 1, 100))).half()
    assert torch.equal(run(x1, 1, [line, line], g1), run(x1, 0, [line, line], g1))
    h = x.half()
    gelu = [_ops.filtered_act_call(emu, h, None, *f32, *geo, "gelu", 0.0, 1.0, None, False,
                                   save_u=True, mma=m) for m in (1, 0)]  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(*gelu, strict=True))
    # A leaky-ReLU forward saving u (a replicate down-stage's) runs the general epilogue, which
    # has no tensor-core kernel: the knob leaves it as it is, and u is the same as any act's.
    lrelu_u = [_ops.filtered_act_call(emu, h, None, *f32, *geo, "lrelu", 0.2, 1.0, None, False,
                                      save_u=True, mma=m) for m in (1, 0)]  # fmt: skip
    assert all(torch.equal(a, b) for a, b in zip(*lrelu_u, strict=True))
    assert torch.equal(lrelu_u[0][0], run(h, 0))
    on, off = run(h, 1), run(h, 0)
    assert not torch.equal(on, off)  # the half-rounded pass ran (float32 sums of half samples)
    monkeypatch.delenv("BANDLIMIT_CUDA_MMA", raising=False)
    assert torch.equal(run(h, -1), off)
    monkeypatch.setenv("BANDLIMIT_CUDA_MMA", "1")
    assert torch.equal(run(h, -1), on)
    with pytest.raises(RuntimeError, match="mma must be -1"):
        run(h, 2)


# ------------------------------------------------------------------------------------------
# The impl='cuda' Python path end to end, its custom ops routed to the emulation


class _EmulatedFilteredAct(torch.autograd.Function):
    """Stands in for the ``filtered_act_cuda`` custom op: the emulated forward, and the op's own
    setup_context / backward (``_ops._fa_setup`` / ``_ops._fa_backward``)."""

    emu = None
    calls = 0
    backward_calls = 0  # of the fused backward, filtered_act_cuda_backward
    u_backward_calls = 0  # of those reading u (not the mask)

    @staticmethod
    def forward(ctx, *inputs):
        x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, dpad, act, alpha, gain, clamp, \
            save_mask, pa, pb, dmode, umode, save_u = inputs
        _EmulatedFilteredAct.calls += 1
        out = _ops.filtered_act_call(
            _EmulatedFilteredAct.emu, x, b, Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d), up, down,
            pad, dpad, act, alpha if pa is None else pa, gain,
            None if clamp == math.inf else clamp, save_mask, beta=pb, dmode=dmode, umode=umode,
            save_u=save_u,
        )
        _ops._fa_setup(ctx, inputs, out)
        return out

    @staticmethod
    def backward(ctx, grad_y, grad_mask):
        return _ops._fa_backward(ctx, grad_y, grad_mask)


class _EmulatedUpfirdn(torch.autograd.Function):
    """Stands in for ``upfirdn_cuda``: differentiable to any order (the transposed stage), as the
    custom op is, so the smooth backward's graph serves double backward."""

    emu = None

    @staticmethod
    def forward(ctx, x, fx, fy, f2d, up, down, pad):
        ctx.hw, ctx.cfg = tuple(x.shape[2:]), (Fir(fx, fy, f2d), tuple(up), tuple(down),
                                               tuple(pad))
        return _ops.upfirdn_call(_EmulatedUpfirdn.emu, x.contiguous(), fx, fy, f2d, up, down, pad)

    @staticmethod
    def backward(ctx, grad):
        fir, up, down, pad = transpose_stage(ctx.hw, *ctx.cfg)
        return (_EmulatedUpfirdn.apply(grad, fir.fx, fir.fy, fir.f2d, up, down, pad),
                *([None] * 6))


class _EmulatedBiasAct(torch.autograd.Function):
    """Stands in for ``bias_act_cuda``: the emulated kernel forward, the op's PyTorch-formula
    backward (``_ops.bias_act_vjp``)."""

    emu = None
    calls = 0

    @staticmethod
    def forward(ctx, x, b, dim, spec, alpha, gain, clamp, filtered_ties=False):
        _EmulatedBiasAct.calls += 1
        ctx.save_for_backward(x, b)
        ctx.args = (dim, spec, alpha, gain, clamp, filtered_ties)
        return _ops.bias_act_call(_EmulatedBiasAct.emu, x, b, dim, spec.name, alpha, gain, clamp)

    @staticmethod
    def backward(ctx, dy):
        x, b = ctx.saved_tensors
        dx, db = _ops.bias_act_vjp(x, b, dy, *ctx.args)
        return dx, db, None, None, None, None, None, None


@contextlib.contextmanager
def emulated_cuda_path(emu):
    """``ops.filtered_act(..., impl='cuda')`` on CPU tensors, through ``_ops.filtered_act`` with
    the three custom ops (forward, backward reading the mask or u, upfirdn stages of the double
    backward) and bias_act's (the unfiltered case) replaced by the emulation build."""
    from bandlimit.ops import filtered

    def upfirdn(x, fir, up, down, pad):
        return _EmulatedUpfirdn.apply(x, fir.fx, fir.fy, fir.f2d, up, down, pad)

    def backward(dy, saved, *args):  # the op's own kernel function, on the emulation (_ext)
        _EmulatedFilteredAct.backward_calls += 1
        _EmulatedFilteredAct.u_backward_calls += saved.dtype != torch.int32
        return _ops._fa_bwd_kernel(dy, saved, *args)

    _EmulatedFilteredAct.emu = _EmulatedUpfirdn.emu = _EmulatedBiasAct.emu = emu
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(filtered, "resolve_impl", lambda impl, x, op, params=None: impl)
        mp.setattr(_ops, "bias_act", lambda *a, filtered_ties=False: _EmulatedBiasAct.apply(
            *a, filtered_ties))
        mp.setattr(_ops, "_filtered_act_fwd", _EmulatedFilteredAct.apply)
        mp.setattr(_ops, "_ext", lambda: emu)
        mp.setattr(_ops, "_filtered_act_bwd", backward)
        mp.setattr(_ops, "upfirdn", upfirdn)
        yield


def test_the_gpu_sanitizer_workload_runs_fused_kernels(emu):
    """benchmarks/cuda_sanitize.py, which the GPU suite runs under compute-sanitizer: each of its
    filtered cases is one fused forward and one fused backward (the mask for leaky ReLU, u for
    the others, which the fused forward run again recomputes) on the cuda path, with the
    gradients of 'ref'. (Under the sanitizer builds of
    test_cuda_sanitizers.py this also runs the workload through ThreadSanitizer / ASan.)"""
    from benchmarks.cuda_sanitize import cases

    refs = {name: run() for name, op, run in cases("cpu", "ref", torch.float64)
            if op == "filtered"}
    with emulated_cuda_path(emu):
        for name, op, run in cases("cpu", "cuda"):
            if op != "filtered":
                continue
            e = _EmulatedFilteredAct
            before = (e.calls, e.backward_calls, e.u_backward_calls)
            grads = run()
            smooth = "lrelu" not in name
            assert (e.calls, e.backward_calls, e.u_backward_calls) == (
                before[0] + 1 + smooth, before[1] + 1, before[2] + smooth), name
            for g, r in zip(grads, refs[name], strict=True):
                half = g.dtype == torch.float16
                scale = float(r.abs().max())
                torch.testing.assert_close(g.double(), r.double(), rtol=0,
                                           atol=(3e-2 if half else 1e-4) * scale, msg=name)


@pytest.mark.parametrize(("act", "mode", "dpad"), [
    ("lrelu", "replicate", (0, 0, 0, 0)),  # mask backward on the extended plane, folded back
    ("relu", "circular", (-1, 0, 0, -2)),
    ("snake", "replicate", (2, 3, 1, 2)),  # both extensions in the kernel; smooth backward
    ("gelu", "zeros", (1, 1, 1, 1)),
])
def test_the_cuda_ops_themselves_on_the_emulation(emu, monkeypatch, act, mode, dpad):
    """The cuda backend's own ops (its EagerOps, no stand-ins: plain eager calls run their
    kernel functions) with the extension replaced by the emulation: forward, first and second
    order gradients of _ops.filtered_act equal 'ref' (float64)."""
    monkeypatch.setattr(_ops, "_ext", lambda: emu)
    rng = np.random.default_rng(3)
    spec = get_filtered_activation(act)
    fu = make_fir(torch.from_numpy(rng.standard_normal(6) / 6), flip_filter=False,
                  gain=(2.0, 2.0), dtype=torch.float64, device="cpu")
    fd = make_fir(torch.from_numpy(rng.standard_normal((4, 4)) / 8), flip_filter=False,
                  gain=(1.0, 1.0), dtype=torch.float64, device="cpu")
    x0 = torch.from_numpy(rng.standard_normal((2, 3, 7, 6)))
    b0 = torch.from_numpy(rng.standard_normal(3))
    a0 = torch.from_numpy(rng.uniform(0.5, 2.0, 3))
    dy = None

    def run(fn):
        nonlocal dy
        x, b, al = (t.clone().requires_grad_() for t in (x0, b0, a0))
        alpha = al if act == "snake" else 0.2
        y = fn(x, b, fu, fd, (2, 2), (2, 2), (5, 4, 3, 4), spec, alpha, None, 1.3, 2.5,
               mode=mode, dpad=dpad)
        dy = torch.from_numpy(rng.standard_normal(tuple(y.shape))) if dy is None else dy
        wrt = [x, b] + ([al] if act == "snake" else [])
        grads = torch.autograd.grad(y, wrt, dy, create_graph=True)
        gg = sum((g * g).sum() for g in grads)  # piecewise-linear acts: constant in x
        second = torch.autograd.grad(gg, x, allow_unused=True, materialize_grads=True)[0] \
            if gg.requires_grad else torch.zeros_like(x)
        return y, grads, second

    def ref(x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad):
        return reference.filtered_act(x, b, fu, fd, up, down, pad, act, alpha, gain, clamp,
                                      beta=beta, mode=mode, dpad=dpad)

    got, want = run(_ops.filtered_act), run(ref)
    for a, e in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(want),
                    strict=True):
        e = e.detach()
        assert_close(a.detach(), to_np(e), 1e-10, scale=max(1.0, float(e.abs().max())),
                     what=f"{act} {mode}")


def elementwise_as_documented(case) -> bool:
    """Whether impl='cuda' runs bias_act's kernel for a public test case: no filters, factors 1,
    no padding, one of bias_act's activations (filtered.py's module docstring)."""
    kw = case["kwargs"]
    return (case["fu"] is None and case["fd"] is None and kw["up"] == 1 and kw["down"] == 1
            and not any(kw["padding"]) and not any(kw["down_padding"])
            and get_filtered_activation(case["act"]).name in _ops.ACT_CODES)  # silu: swish


def fused_as_documented(case) -> bool:
    """Whether impl='cuda' runs the fused kernel for a public test case (filtered_act's Notes)."""
    kw = case["kwargs"]
    if elementwise_as_documented(case):
        return False
    dpad = tuple(kw["down_padding"]) + ((0, 0) if case["ndim"] == 1 else ())
    if kw["padding_mode"] == "zeros" or max(dpad) <= 0:
        return True
    fd = case["fd"]
    kx = 1 if fd is None else fd.shape[-1]
    ky = 1 if fd is None or case["ndim"] == 1 else fd.shape[0]  # [taps] or [ky, kx]
    return kw["padding_mode"] == "replicate" and max(dpad[:2]) < kx and max(dpad[2:]) < ky


@given(case=public_cases(max_len=7))
@example(case=dict(  # StyleGAN3's ToRGB: no filters, factors 1, clamped
    x=np.linspace(-3, 3, 2 * 3 * 20).reshape(2, 3, 4, 5), act="lrelu", fu=None, fd=None,
    b=np.array([0.5, 0.0, -0.5]), alpha=1.0, beta=None, ndim=2,
    kwargs=dict(up=1, down=1, padding=[0, 0, 0, 0], padding_mode="zeros",
                down_padding=[0, 0, 0, 0], gain=1.0, clamp=2.0, flip_filter=False)))
@example(case=dict(  # ties: exact zeros (relu's positive branch) and values at the clamp
    x=np.array([[[0.0, 1.0, -5.0, 2.0, 0.0]]]), act="relu", fu=None, fd=None, b=None,
    alpha=None, beta=None, ndim=1,
    kwargs=dict(up=1, down=1, padding=[0, 0], padding_mode="replicate", down_padding=[0, 0],
                gain=1.0, clamp=1.0, flip_filter=False)))
@example(case=dict(  # softplus just past its threshold (u = 16 x = 20.05 > 20): derivative 1,
    # as autograd's, where sigmoid's 1 - 2e-9 was 2e-9 off
    x=np.array([[[[0.55, -0.92], [-1.84, -1.93], [1.2531, 1.65]]]]), act="softplus", fu=None,
    fd=None, b=None, alpha=None, beta=None, ndim=2,
    kwargs=dict(up=4, down=1, padding=[0, 0, 0, 0], padding_mode="zeros",
                down_padding=[0, 0, 1, 0], gain=None, clamp=None, flip_filter=False)))
def test_cuda_path_every_act_and_mode(emu, case):
    """Every activation × 1-D / 2-D × padding mode through the cuda backend's Python path: the
    fused kernel runs exactly where documented (replicate / circular: after the input
    extension; replicate with a positive down_padding: every padding below the down filter's
    taps; bias_act's kernel instead without filters, factors and padding), the forward equals
    the float64 oracle, and the gradients w.r.t. x, b, alpha and beta equal 'ref' autograd
    (ties included: the examples)."""
    kw = case["kwargs"]
    fused = fused_as_documented(case)
    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.calls = _EmulatedBiasAct.calls = 0
        y, leaves, alpha, beta = run_op(case, "cuda", requires_grad=True)
        assert _EmulatedFilteredAct.calls == int(fused)
        assert _EmulatedBiasAct.calls == int(elementwise_as_documented(case))
    assert_close(y, public_expected(case), 1e-9, what=f"{case['act']} {kw}")
    r, rleaves, ralpha, rbeta = run_op(case, "ref", requires_grad=True)
    wrt = [t for t in (leaves["x"], leaves["b"], alpha, beta) if isinstance(t, torch.Tensor)]
    rwrt = [t for t in (rleaves["x"], rleaves["b"], ralpha, rbeta) if isinstance(t, torch.Tensor)]
    dy = torch.from_numpy(np.random.default_rng(1).standard_normal(tuple(r.shape)))
    with emulated_cuda_path(emu):
        g = torch.autograd.grad(y, wrt, dy)
    gr = torch.autograd.grad(r, rwrt, dy)
    for name, a, e in zip(["x", "b", "alpha", "beta"][: len(g)], g, gr, strict=True):
        assert_close(a, to_np(e), 1e-9, scale=max(1.0, float(e.abs().max())),
                     what=f"{case['act']} d{name}")


@settings(max_examples=15, deadline=None)
@given(case=public_cases(acts=("linear",)), name=st.sampled_from(sorted(CALLABLE_ACTS)))
def test_cuda_path_callable_act(emu, case, name):
    """A callable act on the cuda backend: the kernel's two 'linear' stages around it (an
    identity down filter in the first, an identity up filter in the second), the oracle's
    numbers, and gradients as 'ref' autograd's."""
    torch_fn, np_fn = CALLABLE_ACTS[name]
    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.calls = _EmulatedBiasAct.calls = 0
        y, leaves, *_ = run_op(dict(case, act=torch_fn), "cuda", requires_grad=True)
        # (the stages on the kernels; one may take the documented 'ref' fallback)
        assert _EmulatedFilteredAct.calls + _EmulatedBiasAct.calls >= 1
    assert_close(y, public_expected(dict(case, act=np_fn)), 1e-9, what=f"{name} {case['kwargs']}")
    r, rleaves, *_ = run_op(dict(case, act=torch_fn), "ref", requires_grad=True)
    dy = torch.from_numpy(np.random.default_rng(2).standard_normal(tuple(r.shape)))
    with emulated_cuda_path(emu):
        (g,) = torch.autograd.grad(y, [leaves["x"]], dy)
    (gr,) = torch.autograd.grad(r, [rleaves["x"]], dy)
    assert_close(g, to_np(gr), 1e-9, scale=max(1.0, float(gr.abs().max())), what=name)


@settings(max_examples=12, deadline=None)
@given(case=volume_cases())
def test_cuda_path_of_the_3d_ops(emu, case):
    """filtered_act3d and upfirdn3d on the cuda backend: the depth stages on the generic
    upfirdn kernel with a ``[taps, 1]`` filter, the fused kernel per depth slice; the oracle's
    numbers and the gradients of 'ref' autograd."""
    from bandlimit.ops import upfirdn, volume

    def cuda_path():
        stack = contextlib.ExitStack()
        stack.enter_context(emulated_cuda_path(emu))
        mp = stack.enter_context(pytest.MonkeyPatch.context())
        for module in (volume, upfirdn):
            mp.setattr(module, "resolve_impl", lambda impl, x, op, params=None: impl)
        return stack

    with cuda_path():
        _EmulatedFilteredAct.calls = _EmulatedBiasAct.calls = 0
        x = to_torch(case["x"]).requires_grad_(True)
        y = run_volume(dict(case, x=x), "cuda")
        kernels = _EmulatedFilteredAct.calls + _EmulatedBiasAct.calls  # the slices' one call
        # (or the documented 'ref' composition: circular with a positive down_padding)
        assert kernels == 1 if case["mode"] == "zeros" else kernels <= 1
        z = ops.upfirdn3d(x.detach(), to_torch(case["fu"]), case["up"], case["down"],
                          case["pad"], case["flip"], 2.0, impl="cuda")  # fmt: skip
    assert_close(y, expected_volume(case), 1e-9, what=f"{case['act']} {case['mode']}")
    assert_close(z, np_upfirdn3d(case["x"], case["fu"], case["up"], case["down"], case["pad"],
                                 case["flip"], 2.0), 1e-9, what="upfirdn3d")  # fmt: skip
    xr = to_torch(case["x"]).requires_grad_(True)
    r = run_volume(dict(case, x=xr), "ref")
    dy = torch.from_numpy(np.random.default_rng(3).standard_normal(tuple(r.shape)))
    with cuda_path():
        (g,) = torch.autograd.grad(y, [x], dy)
    (gr,) = torch.autograd.grad(r, [xr], dy)
    assert_close(g, to_np(gr), 1e-9, scale=max(1.0, float(gr.abs().max())), what="dx")


FA_ACTS = tuple(sorted(_ops.FA_ACT_CODES))


@st.composite
def fused_path_cases(draw):
    """The fused region of every padding mode: smooth_cases' geometry with any activation; for
    'circular' a ``down_padding`` that crops or is zero; for 'replicate' one that crops, or one
    below the down filter's taps (the kernel extends the activated signal)."""
    case = draw(smooth_cases(acts=FA_ACTS))
    mode = draw(st.sampled_from(["zeros", "replicate", "replicate", "circular"]))
    h, w = case["shape"][2:]
    pu, up, ku = case["pad"], case["up"], case["ku"]
    wu = w * up[0] + pu[0] + pu[1] - ku[0] + 1
    hu = h * up[1] + pu[2] + pu[3] - ku[1] + 1
    positive = False
    if mode == "replicate" and draw(st.booleans()):
        kd = case["kd"]
        d = (draw(st.integers(-2, kd[0] - 1)), draw(st.integers(-2, kd[0] - 1)),
             *((0, 0) if case["ndim"] == 1 else (draw(st.integers(-2, kd[1] - 1)),
                                                 draw(st.integers(-2, kd[1] - 1)))))
        positive = wu + d[0] + d[1] >= kd[0] and hu + d[2] + d[3] >= kd[1]  # an output remains
        case = dict(case, dpad=d) if positive else case
    if mode != "zeros" and not positive:
        kd = (draw(st.integers(1, min(9, wu))), 1 if case["ndim"] == 1 else draw(
            st.integers(1, min(9, hu))))
        d = []
        for length, k in ((wu, kd[0]), (hu, kd[1])):
            d0 = -draw(st.integers(0, length - k))
            d += [d0, -draw(st.integers(0, length - k + d0))]
        case = dict(case, kd=kd, dpad=tuple(d))
    return dict(case, mode=mode, alpha_f=draw(st.floats(0.0, 1.0)))


@given(case=fused_path_cases())
def test_cuda_path_fused_modes_and_gradients(emu, case):
    """``_ops.filtered_act`` (the cuda backend's entry) on its fused region: the emulated kernel
    runs once, the output equals 'ref', and the gradients w.r.t. x, b, alpha, beta equal 'ref'
    autograd (the mask backward for linear/relu/lrelu without an extension of the activated
    signal, else the fused backward reading u, which folds that extension back)."""
    x, b, alpha, beta, fu, fd = _smooth_inputs(case)
    spec = get_filtered_activation(case["act"])
    is_param = case["act"] in _ops.PARAM_ACTS
    assert _ops.fused_supported(spec, case["mode"], case["dpad"], fd)

    def run(path):
        leaves = [t.clone().requires_grad_() for t in (x, b) if t is not None]
        params = []
        if is_param:
            params = [alpha.clone().requires_grad_()]
            if case["act"] == "snakebeta":
                params.append(beta.clone().requires_grad_())
        xx, bb = leaves[0], leaves[1] if b is not None else None
        args = (xx, bb, fu, fd, case["up"], case["down"], case["pad"], spec,
                params[0] if is_param else case["alpha_f"])
        kw = dict(beta=params[1] if len(params) == 2 else None)
        if path == "cuda":
            y = _ops.filtered_act(*args, kw["beta"], case["gain"], case["clamp"], case["mode"],
                                  case["dpad"])
        else:
            y = reference.filtered_act(*args, case["gain"], case["clamp"], **kw,
                                       mode=case["mode"], dpad=case["dpad"])
        return y, leaves + params

    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.calls = _EmulatedFilteredAct.u_backward_calls = 0
        y, leaves = run("cuda")
        assert _EmulatedFilteredAct.calls == 1
        dy = torch.from_numpy(np.random.default_rng(2).standard_normal(tuple(y.shape)))
        g = torch.autograd.grad(y, leaves, dy)
        extended = case["mode"] == "replicate" and max(case["dpad"]) > 0
        reads_u = case["act"] not in _ops.MASK_ACTS or extended
        assert _EmulatedFilteredAct.u_backward_calls == int(reads_u)
    r, rleaves = run("ref")
    assert_close(y, to_np(r), 1e-9, scale=max(1.0, float(r.detach().abs().max())) * 4,
                 what=f"{case['act']} {case['mode']}")
    gr = torch.autograd.grad(r, rleaves, dy)
    for i, (a, e) in enumerate(zip(g, gr, strict=True)):
        assert_close(a, to_np(e), 1e-9, scale=max(1.0, float(e.abs().max())) * 4,
                     what=f"{case['act']} {case['mode']} gradient {i}")


@pytest.mark.parametrize(("act", "mode", "dpad"), [
    ("gelu", "zeros", (5, 6, 5, 6)),
    ("snakebeta", "replicate", (5, 6, 5, 6)),  # the activated signal extended in the kernel
    ("snake", "circular", (0, 0, 0, 0)),  # the input extended in the kernel
    ("lrelu", "zeros", (5, 6, 5, 6)),  # the 2-bit mask
    ("lrelu", "replicate", (5, 6, 5, 6)),  # an extended activated signal: u, recomputed
])
@pytest.mark.parametrize("u_in_forward", [False, True])
def test_cuda_path_holds_only_its_inputs_and_the_mask(emu, monkeypatch, act, mode, dpad,
                                                     u_in_forward):
    """Between the forward and the backward, autograd holds the inputs (x, bias, alpha, beta)
    of a fused filtered activation and, for linear / relu / lrelu without an extension of the
    activated signal, the 2-bit mask; the up-sampled pre-activation ``u`` (in the accumulation
    type) the smooth backward reads, 4x the input here, is recomputed in the backward, unless
    the benchmark knob ``SAVE_U_IN_FORWARD`` has the forward write it. The gradients equal
    'ref' (float64) either way."""
    monkeypatch.setattr(_ops, "SAVE_U_IN_FORWARD", u_in_forward)
    rng = np.random.default_rng(5)
    c = 3
    x0 = torch.from_numpy(rng.standard_normal((2, c, 10, 9)))
    params = [torch.from_numpy(rng.standard_normal(c))]  # the bias
    params += [torch.from_numpy(rng.uniform(0.5, 2.0, c)) for _ in range(act.count("snake")
                                                                          + act.count("beta"))]
    f = torch.from_numpy(rng.uniform(0.1, 1.0, 12))

    def run(impl):
        leaves = [t.clone().requires_grad_() for t in (x0, *params)]
        kw = dict(zip(("alpha", "beta"), leaves[2:], strict=False))
        y, held = saved_bytes(lambda: ops.filtered_act(
            leaves[0], act, f, f, leaves[1], up=2, down=2, padding=(6, 5, 6, 5),
            padding_mode=mode, down_padding=dpad, clamp=1.5, impl=impl, **kw))
        return y, leaves, held

    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.calls = _EmulatedFilteredAct.u_backward_calls = 0
        y, leaves, held = run("cuda")
        assert _EmulatedFilteredAct.calls == 1
        grads = torch.autograd.grad(y, leaves, torch.ones_like(y))
        mask = act == "lrelu" and mode == "zeros"
        assert _EmulatedFilteredAct.u_backward_calls == int(not mask)
        # u recomputed: the fused forward once more
        assert _EmulatedFilteredAct.calls == 1 + (not mask and not u_in_forward)
    inputs = sum(t.numel() * t.element_size() for t in leaves)
    hu, wu = 2 * 10 + 11 - 11, 2 * 9 + 11 - 11  # up-sampled planes (12 taps, padding 11)
    extra = 2 * c * hu * ((wu + 15) // 16) * 4 if mask else 0
    if u_in_forward and not mask:
        extra = 2 * c * hu * wu * 8
    assert held == inputs + extra, (held, inputs)
    r, rleaves, _ = run("ref")
    for g, gr in zip(grads, torch.autograd.grad(r, rleaves, torch.ones_like(r)), strict=True):
        torch.testing.assert_close(g, gr, rtol=1e-9, atol=1e-9)
    if u_in_forward:  # the recomputed u is the one the forward writes: the same y, gradients
        monkeypatch.setattr(_ops, "SAVE_U_IN_FORWARD", False)
        with emulated_cuda_path(emu):
            y_again, leaves, _ = run("cuda")
            again = torch.autograd.grad(y_again, leaves, torch.ones_like(y_again))
        assert torch.equal(y_again, y)  # (the forward's epilogue with u written or without)
        for g, a in zip(grads, again, strict=True):
            torch.testing.assert_close(g, a, rtol=0, atol=0)


def test_cuda_path_snake_second_order(emu):
    """Double backward (a graph of the gradient) through the cuda path's smooth backward equals
    'ref' for snakebeta, including the mixed terms of alpha and beta."""
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.standard_normal((1, 2, 9)))
    f = torch.from_numpy(rng.standard_normal(6) / 3)
    alpha = torch.tensor([0.7, 1.3], dtype=torch.float64)
    beta = torch.tensor([1.1, 0.6], dtype=torch.float64)
    from bandlimit import ops

    def grads(impl):
        leaves = [t.clone().requires_grad_() for t in (x, alpha, beta)]
        y = ops.filtered_act1d(leaves[0], "snakebeta", f, f, up=2, down=2, padding=(3, 2),
                               alpha=leaves[1], beta=leaves[2], impl=impl)
        g = torch.autograd.grad(y.square().sum(), leaves, create_graph=True)
        return torch.autograd.grad(sum(t.sum() for t in g), leaves)

    with emulated_cuda_path(emu):
        got = grads("cuda")
    for a, e in zip(got, grads("ref"), strict=True):
        assert_close(a, to_np(e), 1e-9, scale=max(1.0, float(e.abs().max())), what="2nd order")


@pytest.mark.parametrize("act", ["snakebeta", "lrelu"])
def test_cuda_path_bigvgan_activation1d(emu, act):
    """BigVGAN's Activation1d configuration (ratio 2, 12 taps, replicate padding, down_padding
    (5, 6)) through impl='cuda': one fused kernel launch (the 1-D fast specialisation), output
    and gradients w.r.t. x, b, alpha, beta equal to 'ref'."""
    from bandlimit import ops

    rng = np.random.default_rng(8)
    x = torch.from_numpy(rng.standard_normal((2, 3, 57)))
    b = torch.from_numpy(rng.standard_normal(3) * 0.1)
    f = torch.from_numpy(rng.standard_normal(12) / 12)
    params = ({"alpha": torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64),
               "beta": torch.tensor([0.3, 1.5, 0.9], dtype=torch.float64)}
              if act == "snakebeta" else {})  # fmt: skip
    kw = dict(up=2, down=2, padding=(6, 5), down_padding=(5, 6), padding_mode="replicate")
    fir = Fir(fx=f.flip(0) * 2, fy=torch.ones(1, dtype=torch.float64))
    assert _ops.kernel_names(emu, fir, fir, (2, 1), (2, 1), torch.float32)[0] == "u2k12_d2k12_1d"

    def run(impl):
        leaves = [t.clone().requires_grad_() for t in (x, b, *params.values())]
        y = ops.filtered_act1d(leaves[0], act, f, f, leaves[1], impl=impl, **kw,
                               **dict(zip(params, leaves[2:], strict=True)))
        return y, leaves

    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.calls = _EmulatedFilteredAct.u_backward_calls = 0
        y, leaves = run("cuda")
        assert _EmulatedFilteredAct.calls == 1
        dy = torch.from_numpy(rng.standard_normal(tuple(y.shape)))
        g = torch.autograd.grad(y, leaves, dy)
        assert _EmulatedFilteredAct.u_backward_calls == 1  # the fused backward, folded back
    r, rleaves = run("ref")
    assert_close(y, to_np(r), 1e-9, scale=max(1.0, float(r.detach().abs().max())), what=act)
    for a, e in zip(g, torch.autograd.grad(r, rleaves, dy), strict=True):
        assert_close(a, to_np(e), 1e-9, scale=max(1.0, float(e.abs().max())), what=f"{act} grad")


def test_a_mask_saved_for_a_smooth_act_is_not_read(emu):
    """A direct op call may save the mask for any act (the schema allows it): for a smooth act
    the backward cannot read it, recomputes u (the fused forward again) and reads that, with
    the right gradient."""
    rng = np.random.default_rng(4)
    x0 = torch.from_numpy(rng.standard_normal((1, 2, 6, 6)))
    f = torch.from_numpy(rng.standard_normal(4))
    fir = Fir(fx=f, fy=f)
    geo = ((2, 2), (2, 2), (2, 1, 2, 1), (0, 0, 0, 0))
    x = x0.clone().requires_grad_()
    with emulated_cuda_path(emu):
        _EmulatedFilteredAct.u_backward_calls = 0
        y, mask = _ops._filtered_act_fwd(x, None, f, f, None, f, f, None, *map(list, geo),
                                         "tanh", 0.0, 1.0, math.inf, True, None, None, "zeros",
                                         "zeros", False)
        assert mask.dtype == torch.int32 and mask.numel() > 0
        (g,) = torch.autograd.grad(y, x, torch.ones_like(y))
        assert _EmulatedFilteredAct.u_backward_calls == 1
    xr = x0.clone().requires_grad_()
    r = reference.filtered_act(xr, None, fir, fir, *geo[:3], get_filtered_activation("tanh"),
                               0.0, 1.0, None, dpad=geo[3])
    (gr,) = torch.autograd.grad(r, xr, torch.ones_like(r))
    assert_close(g, to_np(gr), 1e-10, scale=max(1.0, float(gr.abs().max())), what="tanh, mask")


@pytest.mark.parametrize("act", ["gelu", "snake"])
def test_direct_op_with_two_padding_modes(emu, act):
    """The op takes the input's and the activated signal's extension modes apart (umode zeros,
    dmode replicate: not a public combination, but the op's): first and second order gradients
    equal the reference composition with the same two modes."""
    rng = np.random.default_rng(7)
    x0 = torch.from_numpy(rng.standard_normal((1, 2, 5, 6)))
    a0 = torch.from_numpy(rng.uniform(0.5, 1.5, 2))
    f = torch.from_numpy(rng.standard_normal(4) / 2)
    fir = Fir(fx=f, fy=f)
    geo = ((2, 2), (2, 2), (2, 1, 2, 1), (2, 1, 1, 2))
    spec = get_filtered_activation(act)

    def grads(run):
        x, al = x0.clone().requires_grad_(), a0.clone().requires_grad_()
        y = run(x, al)
        wrt = [x] + ([al] if act == "snake" else [])
        g = torch.autograd.grad(y.square().sum(), wrt, create_graph=True)
        return g + torch.autograd.grad(sum(t.square().sum() for t in g), wrt)

    def op(x, al):
        pa = al if act == "snake" else None
        return _ops._filtered_act_fwd(x, None, f, f, None, f, f, None, *map(list, geo), act,
                                      0.0, 1.0, math.inf, False, pa, None, "replicate", "zeros",
                                      True)[0]

    def ref(x, al):
        return reference.filtered_act(x, None, fir, fir, *geo[:3], spec,
                                      al if act == "snake" else 0.0, 1.0, None, mode="zeros",
                                      dpad=geo[3], dmode="replicate")

    with emulated_cuda_path(emu):
        got = grads(op)
    for a, e in zip(got, grads(ref), strict=True):
        e = e.detach()
        assert_close(a.detach(), to_np(e), 1e-9, scale=max(1.0, float(e.abs().max())),
                     what=act)


def _u_backward(emu, case, x, b, alpha, beta, fu, fd, dy, **knobs):
    """The forward saving u, then the backward reading it, as ``_ops._fa_backward`` runs them:
    ``(y, dv, dparams)`` (dv folded back over the input's extension)."""
    mode, dpad = case["mode"], case["dpad"]
    dmode = "replicate" if mode == "replicate" and max(dpad) > 0 else "zeros"
    act = case["act"]
    a = alpha if act in _ops.PARAM_ACTS else case.get("alpha_f", 0.2)
    be = beta if act == "snakebeta" else None
    geo = (case["up"], case["down"], case["pad"], dpad)
    y, u = _ops.filtered_act_call(emu, x, b, fu, fd, *geo, act, a, case["gain"], case["clamp"],
                                  False, beta=be, dmode=dmode, umode=mode, save_u=True, **knobs)
    y0, _ = _ops.filtered_act_call(emu, x, b, fu, fd, *geo, act, a, case["gain"], case["clamp"],
                                   False, beta=be, dmode=dmode, umode=mode, **knobs)
    assert torch.equal(y, y0)  # saving u leaves the output as it is
    (ex0, ex1, ey0, ey1), rest = reference.extension(tuple(case["pad"]), tuple(case["up"]), mode)
    hw = (x.shape[2] + ey0 + ey1, x.shape[3] + ex0 + ex1)
    assert u.dtype == (torch.float64 if x.dtype == torch.float64 else torch.float32)
    assert not u.isnan().any()  # every sample written (the emulation fills u with NaN first)
    assert u.shape[1:] == filtered_sizes(hw, fu, fd, case["up"], case["down"], rest, dpad)[:2]
    dv, dparams = _ops.filtered_act_backward_u_call(
        emu, dy, u, hw, fu, fd, case["up"], case["down"], rest, dpad, act, a, case["gain"],
        case["clamp"], beta=be, dmode=dmode, **knobs)
    if mode != "zeros":
        dv = reference.extend_adjoint(dv, tuple(x.shape[2:]), tuple(case["pad"]),
                                      tuple(case["up"]), mode)
    assert dparams.shape == ((2, x.shape[1]) if act in _ops.PARAM_ACTS else (0,))
    return y, dv, dparams


def _u_backward_expected(case, x, b, alpha, beta, fu, fd, dy):
    act = case["act"]
    a = alpha if act in _ops.PARAM_ACTS else case.get("alpha_f", 0.2)
    return reference.filtered_act_vjp(
        x, b, dy, fu, fd, case["up"], case["down"], case["pad"], get_filtered_activation(act), a,
        case["gain"], case["clamp"], beta=beta if act == "snakebeta" else None,
        mode=case["mode"], dpad=case["dpad"])


@settings(deadline=None)
@given(case=fused_path_cases(), tile=TILES, threads=THREADS, strips=STRIPS)
def test_backward_reading_u_float64(emu, case, tile, threads, strips):
    """The fused backward of any activation (mode 2, reading the forward's u) equals the
    reference vjp in float64 -- dv, and alpha's / beta's gradients from the per-block sums --
    for every tiling, thread count and strip height, every padding mode (the replicate
    extension of the activated signal folded back in the kernel, the input's after it)."""
    x, b, alpha, beta, fu, fd = _smooth_inputs(case)
    knobs = dict(max_tile=tile, block_threads=threads, strip_rows=strips)
    y = reference.filtered_act(x, b, fu, fd, case["up"], case["down"], case["pad"],
                               get_filtered_activation(case["act"]),
                               alpha if case["act"] in _ops.PARAM_ACTS else case["alpha_f"],
                               case["gain"], case["clamp"], beta=beta, mode=case["mode"],
                               dpad=case["dpad"])
    dy = torch.from_numpy(np.random.default_rng(case["seed"] + 1).standard_normal(y.shape))
    _, dv, dparams = _u_backward(emu, case, x, b, alpha, beta, fu, fd, dy, **knobs)
    ev, ea, eb = _u_backward_expected(case, x, b, alpha, beta, fu, fd, dy)
    what = f"{case['act']} {case['mode']} {case['dpad']}"
    assert_close(dv, to_np(ev), 1e-9, scale=max(1.0, float(ev.abs().max())) * 4, what=what)
    for got, want in ((dparams[:1], ea), (dparams[1:], eb)):
        if want is not None:
            assert_close(got[0], to_np(want), 1e-9, scale=max(1.0, float(want.abs().max())) * 4,
                         what=f"{what} dparam")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("act", ["snakebeta", "gelu", "lrelu"])
def test_backward_reading_u_bigvgan_fast_and_low_precision(emu, dtype, act):
    """BigVGAN's Activation1d geometry (the 1-D fast kernel, replicate extension folded back):
    the fast kernels' backward reading u equals the generic kernel's (float32) and is near the
    float64 reference in every storage dtype (u and the arithmetic in float32)."""
    rng = np.random.default_rng(21)
    case = dict(act=act, mode="replicate", up=(2, 1), down=(2, 1), pad=(6, 5, 0, 0),
                dpad=(5, 6, 0, 0), gain=1.0, clamp=None, alpha_f=0.1)
    x = torch.from_numpy(rng.standard_normal((2, 3, 1, 300)))
    b = torch.from_numpy(rng.standard_normal(3) * 0.1)
    alpha = torch.from_numpy(rng.uniform(0.3, 2.0, 3))
    beta = torch.from_numpy(rng.uniform(0.3, 2.0, 3))
    fir = Fir(fx=torch.from_numpy(rng.standard_normal(12) / 6), fy=torch.ones(1).double())
    fir32 = Fir(fx=fir.fx.float(), fy=fir.fy.float())
    assert _ops.kernel_names(emu, fir32, fir32, (2, 1), (2, 1), dtype)[1] == "u2k12_d2k12_1d"
    dy = torch.from_numpy(rng.standard_normal((2, 3, 1, 300)))
    low = [t.to(dtype) for t in (x, b, dy)]
    pa, pb = alpha.float(), beta.float()
    runs = [_u_backward(emu, case, low[0], low[1], pa, pb, fir32, fir32, low[2], fast=fast)
            for fast in (True, False)]  # fmt: skip
    (_, dv, dp), (_, dv_gen, dp_gen) = runs
    assert dv.dtype == dtype
    if dtype == torch.float32:
        assert torch.allclose(dv, dv_gen, rtol=1e-6, atol=1e-6), (dv - dv_gen).abs().max()
        assert torch.allclose(dp, dp_gen, rtol=1e-5, atol=1e-5)
    f64 = [to_torch(rounded(t.numpy(), dtype)) for t in (x, b, dy)]
    ev, ea, eb = _u_backward_expected(case, f64[0], f64[1], alpha.float().double(),
                                      beta.float().double(), fir32_64 := Fir(
                                          fx=fir32.fx.double(), fy=fir32.fy.double()),
                                      fir32_64, f64[2])
    tol = TOL[dtype] * 8
    assert_close(dv, to_np(ev), tol, scale=max(1.0, float(ev.abs().max())), what=f"{dtype} dv")
    for got, want in ((dp[:1], ea), (dp[1:], eb)):
        if want is not None:  # sums over 600 samples: relative to their magnitude
            assert_close(got[0], to_np(want), tol * 4, scale=max(1.0, float(want.abs().max())),
                         what=f"{dtype} dparam")


@pytest.mark.parametrize("threads", [1, 8, 64])
def test_parameter_sums_with_more_threads_than_tile_storage(emu, threads):
    """The reduction of snake's parameter gradients overlays the tile's arrays where they hold
    2 x blockDim sums, else takes shared memory of its own: a tiny tile with 64 threads takes
    the second branch; both equal the reference."""
    rng = np.random.default_rng(6)
    case = dict(act="snakebeta", mode="zeros", up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0),
                dpad=(0, 0, 0, 0), gain=1.3, clamp=None)
    x = torch.from_numpy(rng.standard_normal((2, 2, 1, 3)))
    alpha, beta = (torch.from_numpy(rng.uniform(0.5, 2.0, 2)) for _ in range(2))
    one = Fir(fx=torch.ones(1, dtype=torch.float64), fy=torch.ones(1, dtype=torch.float64))
    dy = torch.from_numpy(rng.standard_normal((2, 2, 1, 3)))
    _, dv, dparams = _u_backward(emu, case, x, None, alpha, beta, one, one, dy,
                                 block_threads=threads)
    ev, ea, eb = _u_backward_expected(case, x, None, alpha, beta, one, one, dy)
    plans = [_ops.launch_plans(emu, one, one, (1, 1), (1, 1), (1, 3), (1, 3), torch.float64,
                               param_threads=t)[1][3] for t in (0, threads)]  # bytes
    if threads == 64:  # shared memory of its own (after the arrays, 16-byte aligned)
        assert plans[1] >= plans[0] + 2 * threads * 8
    else:  # over the tile's arrays
        assert plans[1] == plans[0]
    assert_close(dv, to_np(ev), 1e-12, what="dv")
    assert_close(dparams, to_np(torch.stack([ea, eb])), 1e-12, what="dalpha, dbeta")


def test_tile_plan_fits_when_evening_out_loses_the_overlay(emu):
    """Evening out a tile makes it smaller, but snake's reduction overlays the tile's arrays only
    while they are large enough: the planner keeps the evened tile only if it still fits (a
    case where it would not: 1024 threads, a 160 x 160 down filter at the opt-in limit)."""
    rng = np.random.default_rng(9)
    fu = Fir(*(torch.from_numpy(rng.standard_normal(3)) for _ in range(2)))
    fd = Fir(f2d=torch.from_numpy(rng.standard_normal((160, 160)) / 160))
    hw, dpad = (19, 29), (62, 62, 62, 62)  # intermediate 36 x 56, output 1 x 3
    u = torch.from_numpy(rng.standard_normal((1, 36, 56)))
    dy = torch.from_numpy(rng.standard_normal((1, 1, 1, 3)))
    alpha = torch.ones(1, dtype=torch.float64)
    dv, dparams = _ops.filtered_act_backward_u_call(
        emu, dy, u, hw, fu, fd, (2, 2), (8, 8), (0, 0, 0, 0), dpad, "snake", alpha, 1.0, None,
        block_threads=1024, smem_limit=227 * 1024, strip_rows=-1)
    assert dv.shape == (1, 1, 19, 29) and dparams.shape == (2, 1)
    assert torch.isfinite(dv).all() and torch.isfinite(dparams).all()


def test_backward_op_reads_what_was_saved(emu, monkeypatch):
    """The backward op's kernel function and its fake agree on the outputs for a mask and for u,
    and a mask saved for an act it cannot serve is refused with a clear error."""
    monkeypatch.setattr(_ops, "_ext", lambda: emu)
    f = torch.ones(3, dtype=torch.float64)
    geo = (f, f, None, f, f, None, [2, 2], [2, 2], [2, 2, 2, 2], [0, 0, 0, 0])
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    y, mask = _ops._fa_fwd_kernel(x, None, *geo, "lrelu", 0.2, 1.0, math.inf, True, None, None,
                                  "zeros", "zeros", False)
    alpha = torch.ones(2, dtype=torch.float64)
    _, u = _ops._fa_fwd_kernel(x, None, *geo, "snake", 0.0, 1.0, math.inf, False, alpha, None,
                               "zeros", "zeros", True)
    for saved, act, pa in ((mask, "lrelu", None), (mask, "lrelu", alpha), (u, "snake", alpha)):
        args = (torch.ones_like(y), saved, 4, 4, *geo, act, 0.2, 1.0, math.inf, pa, None, "zeros")
        real, fake = _ops._fa_bwd_kernel(*args), _ops._fa_bwd_fake(*args)
        for r, e in zip(real, fake, strict=True):
            assert r.shape == e.shape and r.dtype == e.dtype, (act, r.shape, e.shape)
    with pytest.raises(ValueError, match=r"a mask \(int32 saved\) serves only .* act='tanh'"):
        _ops._fa_bwd_kernel(torch.ones_like(y), mask, 4, 4, *geo, "tanh", 0.0, 1.0, math.inf,
                            None, None, "zeros")


def test_backward_reading_u_checks(emu):
    """Bad arguments of mode 2 and of save_u get clear errors, not a launch."""
    x = torch.zeros(1, 2, 4, 4, dtype=torch.float64)
    f = torch.ones(3, dtype=torch.float64)
    args = (x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0], [2, 2])
    with pytest.raises(RuntimeError, match=r"mode must be 0 .* or 2"):
        emu.filtered_act(*args, 3, 9, 0.0, 1.0, -1.0, False, None)
    with pytest.raises(RuntimeError, match="needs u"):
        emu.filtered_act(*args, 2, 9, 0.0, 1.0, -1.0, False, None)
    with pytest.raises(RuntimeError,
                       match=r"u must be a contiguous Double tensor of shape \[2, 4, 4\]"):
        emu.filtered_act(*args, 2, 9, 0.0, 1.0, -1.0, False, torch.zeros(2, 4, 4))
    with pytest.raises(RuntimeError, match=r"u must be a contiguous Double tensor"):
        emu.filtered_act(*args, 2, 9, 0.0, 1.0, -1.0, False,
                         torch.zeros(2, 4, 5, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="save_u is the forward's, without a mask"):
        emu.filtered_act(*args, 0, 2, 0.2, 1.0, -1.0, True, None, save_u=True)
    with pytest.raises(RuntimeError, match="fold_pad must be >= 0"):
        emu.filtered_act(*args, 0, 9, 0.0, 1.0, -1.0, False, None, fold_pad=[1, 0, 0, 0])
    with pytest.raises(RuntimeError, match="fold_pad must be >= 0"):
        emu.filtered_act(*args, 2, 9, 0.0, 1.0, -1.0, False,
                         torch.zeros(2, 4, 4, dtype=torch.float64), fold_pad=[-1, 0, 0, 0])
    # the u of mode 2: written by the forward, one value per up-sampled sample
    _, u = emu.filtered_act(*args, 0, 9, 0.0, 1.0, -1.0, False, None, save_u=True)
    assert u.shape == (2, 4, 4) and u.dtype == torch.float64


# ------------------------------------------------------------------------------------------
# Bad input: the TORCH_CHECKs of the entry points


def test_entry_point_checks(emu):
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    f = torch.ones(3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"x must have shape \[N, C, H, W\]"):
        emu.upfirdn(x[0], f, f, None, [1, 1], [1, 1], [0, 0, 0, 0])
    with pytest.raises(RuntimeError, match="factors must be >= 1"):
        emu.upfirdn(x, f, f, None, [0, 1], [1, 1], [0, 0, 0, 0])
    with pytest.raises(RuntimeError, match="output size would be"):
        emu.upfirdn(x, f, f, None, [1, 1], [1, 1], [-3, 0, 0, 0])
    with pytest.raises(RuntimeError, match="must be float16/bfloat16/float32/float64"):
        emu.bias_act(x.long(), None, 1, 0, 0.0, 1.0, -1.0)
    with pytest.raises(RuntimeError, match=r"b must have shape \[1\]"):
        emu.bias_act(x, torch.zeros(2, dtype=torch.float64), 1, 0, 0.0, 1.0, -1.0)
    fir = Fir(fx=f, fy=f)
    with pytest.raises(RuntimeError, match="backward needs the mask"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 1, 2, 0.2, 1.0, -1.0, False, None)
    with pytest.raises(RuntimeError, match="mask must be a contiguous int32 tensor"):
        _ops.filtered_act_backward_call(emu, torch.zeros(1, 1, 2, 2, dtype=torch.float64),
                                        torch.zeros(1, 1, 1, dtype=torch.int32), (4, 4), fir, fir,
                                        (1, 1), (1, 1), (0, 0, 0, 0), (0, 0, 0, 0), "lrelu", 0.2,
                                        1.0)
    with pytest.raises(RuntimeError, match=r"snake needs pa \(alpha\)"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 0, 11, 0.0, 1.0, -1.0, False, None)
    with pytest.raises(RuntimeError, match="snakebeta pa and pb"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 0, 12, 0.0, 1.0, -1.0, False, None, pa=torch.ones(1).double())
    with pytest.raises(RuntimeError, match="the other activations take neither"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 0, 9, 0.0, 1.0, -1.0, False, None, pa=torch.ones(1).double())
    with pytest.raises(RuntimeError, match=r"pa must have shape \[1\]"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 0, 11, 0.0, 1.0, -1.0, False, None, pa=torch.ones(2).double())
    with pytest.raises(RuntimeError, match="unknown activation code 13"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 0, 13, 0.0, 1.0, -1.0, False, None)
    with pytest.raises(RuntimeError, match="unknown activation code 9"):
        emu.bias_act(x, None, 1, 9, 0.0, 1.0, -1.0)
    # what a GPU would refuse (or a 32-bit cast would wrap) is refused on the host
    with pytest.raises(RuntimeError, match=r"block_threads must be in \[0, 1024\]"):
        emu.bias_act(x, None, 1, 0, 0.0, 1.0, -1.0, 1025)
    with pytest.raises(RuntimeError, match=r"block_threads must be in \[0, 1024\]"):
        emu.upfirdn(x, f, f, None, [1, 1], [1, 1], [0, 0, 0, 0], -1)
    with pytest.raises(RuntimeError, match="below 2\\^30 in magnitude, got 4294967297"):
        emu.upfirdn(x, f, f, None, [1, 1], [1, 1], [2**32 + 1, -(2**32), 0, 0])
    with pytest.raises(RuntimeError, match="below 2\\^30 in magnitude"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2**31, 2], [4, 4], [1, 1],
                         [0, 0], [2, 2], 0, 2, 0.2, 1.0, -1.0, False, None)
    # past 65535 rows of tiles the tiles go into grid.x (test_tall_planes_launch_their_tiles_
    # in_grid_x forces it with this knob, which mirrors CUDA's limit and no more)
    one = torch.ones(1, dtype=torch.float64)
    for bad in (0, 65536):
        with pytest.raises(RuntimeError, match=r"max_grid_y must be in \[1, 65535\], got"):
            emu.filtered_act(torch.zeros(1, 1, 4, 1, dtype=torch.float64), None, one, one, None,
                             one, one, None, [1, 1], [0, 0], [4, 1], [1, 1], [0, 0], [4, 1],
                             0, 0, 0.0, 1.0, -1.0, False, None, max_grid_y=bad)
    with pytest.raises(RuntimeError, match="piecewise-linear"):
        emu.filtered_act(x, None, f, f, None, f, f, None, [1, 1], [2, 2], [4, 4], [1, 1], [0, 0],
                         [2, 2], 1, 3, 0.2, 1.0, -1.0, False, torch.zeros(1, 4, 1,
                                                                        dtype=torch.int32))


class _FlatTiles:
    """The emulation with every plane of more than one tile row launched with its tiles in
    grid.x (``max_grid_y=1``), as CUDA's grid.y limit of 65535 forces for a tall, narrow plane
    (2^21 rows of 32-row tiles)."""

    def __init__(self, emu):
        self._emu = emu

    def __getattr__(self, name):
        return getattr(self._emu, name)

    def filtered_act(self, *args, **kwargs):
        return self._emu.filtered_act(*args, **kwargs, max_grid_y=1)


@pytest.mark.parametrize("act", ["lrelu", "snake", "gelu"])
def test_tall_planes_launch_their_tiles_in_grid_x(emu, act):
    """More tile rows than grid.y's 65535 ('output too large for the grid', no fallback: an
    output over ~2.1 M rows tall and a few wide): the tiles now go into grid.x. Forced here on
    small planes: output, mask, the backward (mask, and u with the per-tile snake sums) and
    every gradient are bit-identical to the usual launch, and agree with 'ref'."""
    from bandlimit import ops

    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 45, 3, dtype=torch.float64, generator=g)
    b = torch.randn(3, dtype=torch.float64, generator=g)
    alpha = torch.rand(3, dtype=torch.float64, generator=g) + 0.5
    f = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)

    def run(impl):
        xs, bs, al = (t.clone().requires_grad_() for t in (x, b, alpha))
        kw = {"alpha": al} if act == "snake" else {}
        y = ops.filtered_act(xs, act, f, f, bs, up=2, down=1, padding=2, clamp=0.9, impl=impl,
                             **kw)
        y.square().sum().backward()
        return y.detach(), xs.grad, bs.grad, al.grad

    with emulated_cuda_path(emu):
        usual = run("cuda")
    with emulated_cuda_path(_FlatTiles(emu)):
        flat = run("cuda")
    assert usual[0].shape[2] > 64  # (several rows of tiles of at most 32 rows)
    for u, fl in zip(usual, flat):
        assert (u is None and fl is None) or torch.equal(u, fl)
    for got, want in zip(flat, run("ref")):
        if want is not None:
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_bias_act_keeps_channels_last_on_the_cuda_path(emu, monkeypatch):
    """bias_act(impl='cuda') copied a channels_last input to NCHW and returned NCHW ('ref'
    keeps channels_last): the kernel now runs on the [N, H, W, C] view, no copy in, the
    layout kept out; values and gradients as 'ref'."""
    import importlib

    from bandlimit import ops

    bias_act_module = importlib.import_module("bandlimit.ops.bias_act")  # (the function's name)
    monkeypatch.setattr(bias_act_module, "resolve_impl", lambda impl, x, op, params=None: impl)
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 4, 5, 3, dtype=torch.float64, generator=g)
    x = x.to(memory_format=torch.channels_last)
    b = torch.randn(4, dtype=torch.float64, generator=g)

    def run(impl):
        xs, bs = x.clone().requires_grad_(), b.clone().requires_grad_()
        y = ops.bias_act(xs, bs, act="lrelu", clamp=0.8, impl=impl)
        y.square().sum().backward()
        return y, xs.grad, bs.grad

    with emulated_cuda_path(emu):
        _EmulatedBiasAct.calls = 0
        y, gx, gb = run("cuda")
        assert _EmulatedBiasAct.calls == 1
    ry, rgx, rgb = run("ref")
    assert y.is_contiguous(memory_format=torch.channels_last) and y.stride() == ry.stride()
    torch.testing.assert_close(y, ry, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, rgx, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gb, rgb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("filter_shape", "up", "down", "pad"), [
    ((5,), (2, 1), (1, 3), (3, 1, -1, 2)),
    ((3, 4), (1, 2), (2, 1), (2, 2, 1, 0)),
    ((6,), (3, 3), (2, 2), (4, 3, 4, 3)),
])
def test_learned_filters_on_the_cuda_upfirdn_op(emu, monkeypatch, filter_shape, up, down, pad):
    """The cuda backend's own upfirdn op (its EagerOp, the extension replaced by the emulation)
    with a filter that requires grad: the filter gradient (the op's stages on the emulated
    kernel, then the per-phase correlation) and the input gradient equal 'ref' autograd's, and
    so does a filtered activation that composes the op's stages for a learned filter."""
    from bandlimit.ops import filtered

    monkeypatch.setattr(_ops, "_ext", lambda: emu)
    rng = np.random.default_rng(len(filter_shape) + up[0])
    f0 = torch.from_numpy(rng.standard_normal(filter_shape))
    x0 = torch.from_numpy(rng.standard_normal((2, 3, 7, 6)))

    def grads(run):
        f, x = f0.clone().requires_grad_(True), x0.clone().requires_grad_(True)
        fir = make_fir(f, flip_filter=False, gain=(1.5, 1.5), dtype=torch.float64,
                       device=torch.device("cpu"))
        y = run(x, fir)
        dy = torch.from_numpy(np.random.default_rng(0).standard_normal(tuple(y.shape)))
        return (y, *torch.autograd.grad(y, (x, f), dy))

    got = grads(lambda x, fir: _ops.upfirdn(x, fir, up, down, pad))
    want = grads(lambda x, fir: reference.upfirdn(x, fir, up, down, pad))
    for a, e in zip(got, want, strict=True):
        assert_close(a.detach(), to_np(e.detach()), 1e-10, scale=max(1.0, float(e.abs().max())))
    spec = get_filtered_activation("gelu")
    ident = make_fir(None, flip_filter=False, gain=(1.0, 1.0), dtype=torch.float64,
                     device=torch.device("cpu"))

    def act(impl):
        return lambda x, fir: filtered._run_filtered_act(
            x, None, fir, ident, up, (1, 1), pad, spec, None, 1.0, None, impl)

    for a, e in zip(grads(act("cuda")), grads(act("ref")), strict=True):
        assert_close(a.detach(), to_np(e.detach()), 1e-10, scale=max(1.0, float(e.abs().max())))
