"""The 3-D ops (upfirdn3d, filtered_act3d, nn.AliasFreeActivation3d) on volumes: against
independent float64 oracles (a full 3-D convolution with the outer-product kernel via
scipy.signal.convolve; the per-axis NumPy loops of the filtered-activation oracle) on every
backend; gradients; layouts and precision; exact properties; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit import nn as bnn
from bandlimit import ops
from tests.ops.strategies import IMPLS, assert_close, saved_bytes, to_torch
from tests.ops.test_filtered_act import ALL_ACTS, DEFAULT_GAIN, MODES, np_filtered_act

# ---------------------------------------------------------------------------------------------
# Oracle: zero insertion, padding and one full 3-D "valid" convolution (no separable passes)


def _pad_axis(a: np.ndarray, p0: int, p1: int, axis: int) -> np.ndarray:
    widths = [(0, 0)] * a.ndim
    widths[axis] = (max(p0, 0), max(p1, 0))
    a = np.pad(a, widths)
    keep = [slice(None)] * a.ndim
    keep[axis] = slice(max(-p0, 0), a.shape[axis] - max(-p1, 0))
    return a[tuple(keep)]


def np_upfirdn3d(x, f, up, down, pad, flip, gain):
    """``f``: one filter for every axis or one per axis, x first (None: identity)."""
    fs = list(f) if isinstance(f, (tuple, list)) else [f] * 3
    hx, hy, hz = ((np.ones(1) if g is None else np.asarray(g, np.float64)) for g in fs)
    hx, hy, hz = ((h[::-1] if flip else h) for h in (hx, hy, hz))
    kernel = np.einsum("i,j,k->ijk", hz, hy, hx) * gain  # [z, y, x]
    (ux, uy, uz), (dx, dy, dz) = up, down
    n, c, d, hh, w = x.shape
    v = np.zeros((n, c, d * uz, hh * uy, w * ux))
    v[:, :, ::uz, ::uy, ::ux] = x
    for k, axis in enumerate((4, 3, 2)):
        v = _pad_axis(v, pad[2 * k], pad[2 * k + 1], axis)
    out = np.zeros((n, c, *(max(s - k + 1, 0) for s, k in zip(v.shape[2:], kernel.shape))))
    for i in range(n if out.size else 0):
        for j in range(c):
            out[i, j] = scipy.signal.convolve(v[i, j], kernel, mode="valid", method="direct")
    return out[:, :, ::dz, ::dy, ::dx]


# ---------------------------------------------------------------------------------------------
# Cases: every axis its own length, factors and paddings (valid by construction)


def _axis(draw, length, up, taps, lo=-2, hi=5):
    lu = length * up
    p0 = draw(st.integers(-min(-lo, lu - 1), hi))
    p1 = draw(st.integers(max(taps - lu - p0, lo), max(taps - lu - p0, lo) + hi))
    return p0, p1, lu + p0 + p1 - taps + 1


@st.composite
def upfirdn3d_cases(draw, max_len=5):
    size = [draw(st.integers(1, max_len)) for _ in range(3)]  # x, y, z
    up = [draw(st.integers(1, 3)) for _ in range(3)]
    down = [draw(st.integers(1, 3)) for _ in range(3)]
    taps = draw(st.integers(1, 6))
    with_filter = taps > 1 or draw(st.booleans())
    pad = []
    for k in range(3):
        p0, p1, _ = _axis(draw, size[k], up[k], taps if with_filter else 1)
        pad += [p0, p1]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return dict(x=rng.standard_normal((batch, channels, *size[::-1])),
                f=rng.standard_normal(taps) if with_filter else None, up=tuple(up),
                down=tuple(down), pad=tuple(pad), flip=draw(st.booleans()),
                gain=draw(st.sampled_from([1.0, 8.0]) | st.floats(0.1, 4.0)))


@st.composite
def filtered_act3d_cases(draw, acts=tuple(ALL_ACTS), modes=tuple(MODES), max_len=4):
    act, mode = draw(st.sampled_from(acts)), draw(st.sampled_from(modes))
    c = draw(st.integers(1, 2))
    size = [draw(st.integers(1, max_len)) for _ in range(3)]  # x, y, z
    up = [draw(st.integers(1, 3)) for _ in range(3)]
    down = [draw(st.integers(1, 3)) for _ in range(3)]
    ku, kd = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    pad, dpad = [], []
    for k in range(3):
        p0, p1, lu = _axis(draw, size[k], up[k], ku)
        d0, d1, _ = _axis(draw, lu, 1, kd, lo=-1, hi=4)
        pad += [p0, p1]
        dpad += [d0, d1]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = beta = None
    if act == "lrelu":
        alpha = draw(st.none() | st.floats(-1.0, 1.0))
    if act in ("snake", "snakebeta"):
        alpha = rng.uniform(0.3, 2.0, c)
    if act == "snakebeta":
        beta = rng.uniform(0.3, 2.0, c)
    return dict(x=rng.uniform(-2, 2, (draw(st.integers(1, 2)), c, *size[::-1])), act=act,
                fu=rng.standard_normal(ku) / ku if ku > 1 or draw(st.booleans()) else None,
                fd=rng.standard_normal(kd) / kd if kd > 1 or draw(st.booleans()) else None,
                b=rng.uniform(-1, 1, c) if draw(st.booleans()) else None, alpha=alpha, beta=beta,
                up=tuple(up), down=tuple(down), pad=pad, dpad=dpad, mode=mode,
                gain=draw(st.none() | st.floats(0.2, 2.0)),
                clamp=draw(st.none() | st.floats(0.3, 3.0)), flip=draw(st.booleans()))


def run_filtered(case, impl, dtype=torch.float64):
    """The case's call; ``case['x']`` may be a tensor already (one that requires grad)."""
    def tensor(a):  # (a filter per axis: a tuple of them)
        if isinstance(a, (tuple, list)):
            return tuple(tensor(g) for g in a)
        return a if isinstance(a, torch.Tensor) else to_torch(a, dtype)

    t = {k: tensor(case[k]) for k in ("fu", "fd", "b", "beta")}
    t["x"] = case["x"] if isinstance(case["x"], torch.Tensor) else to_torch(case["x"], dtype)
    alpha = case["alpha"]
    if isinstance(alpha, np.ndarray):
        alpha = to_torch(alpha, dtype)
    return ops.filtered_act3d(
        t["x"], case["act"], t["fu"], t["fd"], t["b"], case["up"], case["down"], case["pad"],
        case["mode"], case["gain"], case["clamp"], alpha, t["beta"], case["flip"], impl,
        down_padding=case["dpad"],
    )


def expected_filtered(case, x=None):
    gain = DEFAULT_GAIN.get(case["act"], 1.0) if case["gain"] is None else case["gain"]
    alpha = 0.2 if case["act"] == "lrelu" and case["alpha"] is None else case["alpha"]
    return np_filtered_act(case["x"] if x is None else x, case["act"], case["fu"], case["fd"],
                           case["b"], case["up"], case["down"], case["pad"], case["mode"],
                           case["dpad"], gain, case["clamp"], alpha, case["beta"],
                           case["flip"], 3)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Numerics


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=20)
@given(case=upfirdn3d_cases())
def test_upfirdn3d_matches_a_full_3d_convolution(impl, case):
    y = ops.upfirdn3d(to_torch(case["x"]), to_torch(case["f"]), case["up"], case["down"],
                      case["pad"], case["flip"], case["gain"], impl=impl)  # fmt: skip
    want = np_upfirdn3d(case["x"], case["f"], case["up"], case["down"], case["pad"],
                        case["flip"], case["gain"])  # fmt: skip
    assert_close(y, want, 1e-10, what=str({k: case[k] for k in ("up", "down", "pad")}))


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=20)
@given(case=filtered_act3d_cases())
def test_filtered_act3d_matches_oracle_float64(impl, case):
    y = run_filtered(case, impl)
    assert_close(y, expected_filtered(case), 1e-10,
                 what=f"{case['act']} {case['mode']} up={case['up']} down={case['down']}")


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=8)
@given(case=filtered_act3d_cases(acts=("lrelu", "gelu", "snakebeta")))
def test_filtered_act3d_matches_oracle_float32(impl, case):
    y = run_filtered(case, impl, torch.float32)
    assert y.dtype == torch.float32
    x32 = to_torch(case["x"], torch.float32).double().numpy()
    assert_close(y, expected_filtered(case, x32), 5e-5, what=case["act"])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("up_z", "with_fu"), [(1, True), (2, True), (1, False)])
def test_per_channel_parameters_and_bias_follow_their_channel_in_every_slice(impl, up_z,
                                                                              with_fu):
    """Snake's α/β and the bias belong to a channel at every depth (the 2-D stage sees
    ``C·D_u`` planes: each plane must get its channel's values; without ``fu`` and depth
    factors no depth stage runs, and the bias goes to the 2-D stage)."""
    rng = np.random.default_rng(11)
    c = 3
    case = dict(x=rng.uniform(-2, 2, (2, c, 3, 4, 4)), act="snakebeta",
                fu=rng.standard_normal(4) / 4 if with_fu else None,
                fd=rng.standard_normal(3) / 3, b=np.array([-1.0, 0.5, 2.0]),
                alpha=np.array([0.3, 1.0, 2.5]), beta=np.array([2.0, 0.4, 1.1]),
                up=(2, 2, up_z), down=(2, 2, 1),
                pad=[2, 1, 2, 1] + ([2, 1] if with_fu else [0, 0]), dpad=[1, 1] * 3,
                mode="zeros", gain=1.3, clamp=None, flip=False)  # fmt: skip
    assert_close(run_filtered(case, impl), expected_filtered(case), 1e-10, what="snakebeta")


@pytest.mark.parametrize("impl", IMPLS)
def test_upfirdn3d_of_a_complex_volume_filters_both_parts(impl):
    rng = np.random.default_rng(3)
    re, im = rng.standard_normal((2, 1, 2, 4, 5, 3))
    f = torch.tensor(rng.standard_normal(4))
    kw = dict(up=(2, 1, 2), down=(1, 2, 1), padding=(2, 1, 1, 2, 3, 0), impl=impl)
    y = ops.upfirdn3d(torch.tensor(re + 1j * im), f, **kw)
    assert y.dtype == torch.complex128
    torch.testing.assert_close(y.real, ops.upfirdn3d(torch.tensor(re), f, **kw), rtol=0,
                               atol=1e-12)  # fmt: skip
    torch.testing.assert_close(y.imag, ops.upfirdn3d(torch.tensor(im), f, **kw), rtol=0,
                               atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
def test_a_callable_act_sees_the_volume_and_may_change_the_channels(impl):
    """A callable gets the up-sampled ``[N, C, D_u, H_u, W_u]`` volume (a 1×1×1 Conv3d mixing
    channels 3 → 2 sees the channels where they are)."""
    torch.manual_seed(0)
    mix = torch.nn.Conv3d(3, 2, 1, bias=False).double()
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, (1, 3, 3, 4, 5))
    fu, fd = rng.standard_normal(4) / 4, rng.standard_normal(3) / 3
    w = mix.weight.detach().numpy()[:, :, 0, 0, 0]
    kw = dict(up=(2, 2, 2), down=(2, 1, 2), pad=[2, 1] * 3, dpad=[1, 1] * 3, mode="replicate")
    y = ops.filtered_act3d(torch.tensor(x), lambda u: torch.tanh(mix(u)), torch.tensor(fu),
                           torch.tensor(fd), up=kw["up"], down=kw["down"], padding=kw["pad"],
                           padding_mode="replicate", down_padding=kw["dpad"],
                           impl=impl)  # fmt: skip

    def np_act(u):
        return np.tanh(np.einsum("oc,ncdhw->nodhw", w, u))

    want = np_filtered_act(x, np_act, fu, fd, None, kw["up"], kw["down"], kw["pad"],
                           kw["mode"], kw["dpad"], 1.0, None, None, None, False, 3)  # fmt: skip
    assert y.shape[1] == 2
    assert_close(y, want, 1e-10, what="Conv3d act")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_on_numba_is_float32_rounded_once(dtype):
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.uniform(-2, 2, (1, 2, 3, 5, 6)), dtype=dtype)
    f = torch.tensor(rng.standard_normal(5) / 5, dtype=torch.float32)
    kw = dict(up=2, down=2, padding=(3, 2) * 3, padding_mode="circular", down_padding=(2, 2) * 3)
    y = ops.filtered_act3d(x, "gelu", f, f, impl="numba", **kw)
    assert y.dtype == dtype
    assert torch.equal(y, ops.filtered_act3d(x.float(), "gelu", f, f, impl="numba", **kw)
                       .to(dtype))  # fmt: skip
    z = ops.upfirdn3d(x, f, up=(1, 2, 3), padding=2, impl="numba")
    assert torch.equal(z, ops.upfirdn3d(x.float(), f, up=(1, 2, 3), padding=2, impl="numba")
                       .to(dtype))  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
def test_channels_last_3d_in_channels_last_3d_out(impl):
    x = torch.randn(2, 3, 4, 5, 6).contiguous(memory_format=torch.channels_last_3d)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    for y in (ops.upfirdn3d(x, f, up=2, padding=(2, 1) * 3, impl=impl),
              ops.filtered_act3d(x, "silu", f, f, up=2, down=2, padding=(2, 1) * 3,
                                 impl=impl)):  # fmt: skip
        assert y.is_contiguous(memory_format=torch.channels_last_3d)
    y = ops.filtered_act3d(x.contiguous(), "silu", f, f, up=2, down=2, padding=(2, 1) * 3,
                           impl=impl)  # fmt: skip
    assert y.is_contiguous()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("shape", [(0, 2, 3, 4, 5), (1, 2, 0, 4, 5), (1, 2, 3, 0, 5),
                                   (1, 2, 3, 4, 0), (1, 2, 0, 0, 0), (1, 0, 3, 4, 5)])
def test_empty_volumes_give_what_the_padding_makes(impl, shape):
    """An empty batch, channel set or axis: the 2-D ops' behaviour — zero padding makes an
    output of the padded size (the activation of zeros, filtered), an empty batch an empty
    output of the right shape."""
    rng = np.random.default_rng(13)
    case = dict(x=np.zeros(shape), act="sigmoid", fu=rng.standard_normal(4) / 4,
                fd=rng.standard_normal(3) / 3, b=rng.uniform(-1, 1, shape[1]), alpha=None,
                beta=None, up=(2, 2, 2), down=(2, 2, 2), pad=[3, 3] * 3, dpad=[2, 2] * 3,
                mode="zeros", gain=1.5, clamp=None, flip=False)  # fmt: skip
    assert_close(run_filtered(case, impl), expected_filtered(case), 1e-10, what=str(shape))
    f = case["fu"]
    y = ops.upfirdn3d(torch.zeros(shape, dtype=torch.float64), torch.tensor(f), up=2,
                      padding=(2, 2) * 3, impl=impl)  # fmt: skip
    assert_close(y, np_upfirdn3d(np.zeros(shape), f, (2,) * 3, (1,) * 3, (2, 2) * 3, False, 1.0),
                 1e-12, what=str(shape))  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["replicate", "circular"])
def test_extension_beyond_the_volume(impl, mode):
    """Paddings longer than the volume: 'replicate' repeats the edge slice, 'circular' wraps
    the volume around more than once (along every axis)."""
    rng = np.random.default_rng(14)
    case = dict(x=rng.uniform(-2, 2, (1, 2, 2, 3, 2)), act="gelu", fu=rng.standard_normal(5) / 5,
                fd=rng.standard_normal(4) / 4, b=None, alpha=None, beta=None, up=(2, 1, 3),
                down=(1, 2, 2), pad=[9, 7, 6, 8, 11, 10], dpad=[5, 7, 6, 4, 8, 9], mode=mode,
                gain=None, clamp=None, flip=True)  # fmt: skip
    assert_close(run_filtered(case, impl), expected_filtered(case), 1e-10, what=mode)


def test_a_half_precision_module_act_keeps_the_2d_rules():
    """A module with float16 parameters gets its dtype only where the op itself computes half
    precision in float32 (numba); given float32 data it refuses the mix, as the 2-D op."""
    torch.manual_seed(1)
    mix = torch.nn.Conv3d(3, 3, 1).half()
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    kw = dict(up=2, down=2, padding=(2, 1) * 3)
    with pytest.raises(RuntimeError, match="Half"):
        ops.filtered_act3d(torch.randn(1, 3, 4, 6, 6), mix, f, f, impl="numba", **kw)
    y = ops.filtered_act3d(torch.randn(1, 3, 4, 6, 6).half(), mix, f, f, impl="numba", **kw)
    assert y.dtype == torch.float16 and bool(torch.isfinite(y).all())


@pytest.mark.parametrize("act", ["gelu", "lrelu"])
def test_autograd_holds_the_depth_upsampled_volume_not_the_fully_upsampled_one(act):
    """On numba the tensors kept for backward total about ``up_z`` times the input (the fused
    2-D op's input), not ``up_x·up_y·up_z`` times: the depth stages are linear upfirdn calls
    that keep nothing."""
    x = torch.randn(1, 8, 8, 16, 16, requires_grad=True)
    f = torch.rand(12, dtype=torch.float32)
    y, saved = saved_bytes(lambda: ops.filtered_act3d(
        x, act, f, f, up=2, down=2, padding=(6, 5) * 3, down_padding=(5, 6) * 3,
        padding_mode="replicate", impl="numba"))
    y.sum().backward()
    held = saved / (x.numel() * x.element_size())
    assert 1.5 < held < 2.6, held


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=10)
@given(taps=st.integers(1, 6), factors=st.tuples(*[st.integers(1, 3)] * 3),
       extra=st.tuples(*[st.integers(-1, 2)] * 6), seed=st.integers(0, 2**32 - 1))
def test_the_aligned_wrappers_are_upfirdn3d_with_stylegans_paddings(impl, taps, factors, extra,
                                                                    seed):
    """upsample3d / downsample3d / filter3d: the full 3-D convolution oracle with, per axis,
    ``((K + up − 1)//2, (K − up)//2)``, ``((K − down + 1)//2, (K − down)//2)`` or
    ``(K//2, (K − 1)//2)`` (plus the extra padding), and the gain ``up_x·up_y·up_z``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 2, 4, 5, 6))
    f = rng.standard_normal(taps)
    e = list(extra)

    def pads(lo, hi):
        return tuple(v for k in range(3) for v in (e[2 * k] + lo[k], e[2 * k + 1] + hi[k]))

    up = pads([(taps + u - 1) // 2 for u in factors], [(taps - u) // 2 for u in factors])
    down = pads([(taps - d + 1) // 2 for d in factors], [(taps - d) // 2 for d in factors])
    same = pads([taps // 2] * 3, [(taps - 1) // 2] * 3)
    t, ft = torch.tensor(x), torch.tensor(f)
    cases = [
        (ops.upsample3d, dict(up=factors), factors, (1, 1, 1), up, 1.5 * math.prod(factors)),
        (ops.downsample3d, dict(down=factors), (1, 1, 1), factors, down, 1.5),
        (ops.filter3d, {}, (1, 1, 1), (1, 1, 1), same, 1.5),
    ]
    for op, kw, u, d, p, g in cases:
        want = np_upfirdn3d(x, f, u, d, p, False, g)
        if min(want.shape) < 1:
            continue  # (the op refuses an empty output: test_bad_input)
        y = op(t, ft, padding=e, gain=1.5, impl=impl, **kw)
        assert_close(y, want, 1e-10, what=op.__name__)


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=12)
@given(kinds=st.tuples(*[st.sampled_from(["same", "own", "none"])] * 3),
       factors=st.tuples(*[st.integers(1, 3)] * 3), seed=st.integers(0, 2**32 - 1))
def test_one_filter_per_axis(impl, kinds, factors, seed):
    """``f = (f_x, f_y, f_z)``: each axis its own filter, None for none (an axis left alone
    when its factors are 1 too); the full 3-D convolution oracle with the outer product of the
    three, and the per-axis filtered-activation oracle."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(4) / 4
    fs = [shared if k == "same" else None if k == "none" else
          rng.standard_normal(int(rng.integers(1, 6))) / 3 for k in kinds]  # fmt: skip
    x = rng.uniform(-2, 2, (1, 2, 4, 5, 6))
    pad = [3, 2] * 3
    t = torch.tensor(x)
    ft = tuple(None if g is None else torch.tensor(g) for g in fs)
    y = ops.upfirdn3d(t, ft, up=factors, padding=pad, gain=2.0, impl=impl)
    assert_close(y, np_upfirdn3d(x, fs, factors, (1, 1, 1), pad, False, 2.0), 1e-10,
                 what=str(kinds))  # fmt: skip
    case = dict(x=x, act="gelu", fu=fs, fd=fs[::-1], b=rng.uniform(-1, 1, 2), alpha=None,
                beta=None, up=factors, down=factors[::-1], pad=pad, dpad=[1, 2] * 3,
                mode="replicate", gain=None, clamp=None, flip=True)  # fmt: skip
    assert_close(run_filtered(case, impl), expected_filtered(case), 1e-10, what=str(kinds))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_filters_are_rounded_once_on_numba(dtype):
    """Half-precision data and taps on numba: float32 throughout (the gain on the taps, the
    outer product of two filters), rounded once at the end — a filter shared by two axes or
    an equal copy give the same, and frames-only up-sampling is upsample2d on every frame."""
    torch.manual_seed(5)
    f = torch.tensor([0.1, 0.6, 0.25, 0.05], dtype=dtype)
    x = torch.randn(1, 2, 3, 8, 8).to(dtype)
    kw = dict(up=(2, 2, 1), padding=(2, 1, 2, 1, 0, 0), impl="numba")
    want = ops.upfirdn3d(x.float(), (f.float(), f.float(), None), gain=4.0, **kw).to(dtype)
    assert torch.equal(ops.upfirdn3d(x, (f, f, None), gain=4.0, **kw), want)
    assert torch.equal(ops.upfirdn3d(x, (f, f.clone(), None), gain=4.0, **kw), want)
    y = ops.filtered_act3d(x, "gelu", (f, f.clone(), None), (f, f, None), up=(2, 2, 1),
                           down=(2, 2, 1), padding=(2, 1, 2, 1, 0, 0), impl="numba")  # fmt: skip
    y32 = ops.filtered_act3d(x.float(), "gelu", (f.float(),) * 2 + (None,),
                             (f.float(),) * 2 + (None,), up=(2, 2, 1), down=(2, 2, 1),
                             padding=(2, 1, 2, 1, 0, 0), impl="numba")  # fmt: skip
    assert torch.equal(y, y32.to(dtype))
    x32, f32 = x.float(), f.float()
    frames = torch.stack([ops.upsample2d(x32[:, :, i], f32, 2, impl="numba") for i in range(3)], 2)
    assert torch.equal(ops.upsample3d(x32, (f32, f32, None), (2, 2, 1), impl="numba"), frames)


def test_upsampling_h_and_w_only_leaves_the_frames_alone():
    """What a video user wants from ``up=(2, 2, 1)``: with ``f = (f, f, None)`` one bright frame
    stays one frame (one filter for every axis would blur it over the filter's taps)."""
    f = ops.setup_filter([1, 3, 3, 1], separable=True)
    v = torch.zeros(1, 1, 9, 4, 4)
    v[0, 0, 4] = 1
    y = ops.upsample3d(v, (f, f, None), up=(2, 2, 1))
    assert y.shape == (1, 1, 9, 8, 8)
    frames = y[0, 0, :, 4, 4]
    assert frames[4] == 1 and frames.abs().sum() == 1
    blurred = ops.upsample3d(v, f, up=(2, 2, 1))[0, 0, :, 4, 4]
    assert int((blurred > 0).sum()) == 4


# ---------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("impl", IMPLS)
def test_upfirdn3d_gradients_to_x_and_a_learned_filter(impl):
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.standard_normal((1, 2, 3, 3, 4)), requires_grad=True)
    f = torch.tensor(rng.standard_normal(3), requires_grad=True)

    def op(x, f):
        return ops.upfirdn3d(x, f, up=(2, 1, 2), down=(1, 2, 1), padding=(1, 2, 0, 1, 2, 1),
                             gain=3.0, impl=impl)  # fmt: skip

    assert torch.autograd.gradcheck(op, (x, f))
    assert torch.autograd.gradgradcheck(op, (x, f))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("act", "mode"), [("snakebeta", "replicate"), ("lrelu", "zeros"),
                                           ("gelu", "circular")])  # fmt: skip
def test_filtered_act3d_gradients(impl, act, mode):
    rng = np.random.default_rng(7)
    c = 2
    x = torch.tensor(rng.uniform(-2, 2, (1, c, 3, 3, 4)), requires_grad=True)
    b = torch.tensor(rng.uniform(-1, 1, c), requires_grad=True)
    params = []
    if act == "snakebeta":
        params = [torch.tensor(rng.uniform(0.5, 1.5, c), requires_grad=True) for _ in range(2)]
    fu, fd = torch.tensor(rng.standard_normal(4) / 2), torch.tensor(rng.standard_normal(3) / 2)

    def op(x, b, *p):
        kw = dict(zip(("alpha", "beta"), p))
        return ops.filtered_act3d(x, act, fu, fd, b, up=2, down=(2, 1, 2), padding=(2, 1) * 3,
                                  padding_mode=mode, down_padding=(1, 1, 0, 2, 1, 0),
                                  clamp=1.5 if act == "gelu" else None, impl=impl, **kw)

    assert torch.autograd.gradcheck(op, (x, b, *params))
    if act != "lrelu" and impl == "ref":
        assert torch.autograd.gradgradcheck(op, (x, b, *params))


def test_filtered_act3d_learned_filters_get_their_gradient():
    rng = np.random.default_rng(8)
    x = torch.tensor(rng.standard_normal((1, 1, 3, 4, 3)))
    fu = torch.tensor(rng.standard_normal(3), requires_grad=True)
    fd = torch.tensor(rng.standard_normal(4), requires_grad=True)

    def op(fu, fd):
        return ops.filtered_act3d(x, "tanh", fu, fd, up=2, down=2, padding=1,
                                  down_padding=(1, 2) * 3, impl="numba")  # fmt: skip

    assert torch.autograd.gradcheck(op, (fu, fd))


# ---------------------------------------------------------------------------------------------
# Properties


@pytest.mark.parametrize("impl", IMPLS)
def test_circular_mode_commutes_with_shifts_along_every_axis(impl):
    """With circular padding covering the filters, a circular shift of the input by 2 samples
    along any axis shifts the output (up 2, down 4 there) by 1, exactly."""
    rng = np.random.default_rng(9)
    x = torch.tensor(rng.standard_normal((1, 2, 8, 6, 4)))
    fu, fd = torch.tensor(rng.standard_normal(6) / 6), torch.tensor(rng.standard_normal(5) / 5)

    def op(t):
        return ops.filtered_act3d(t, "snake", fu, fd, up=2, down=(4, 4, 4),
                                  padding=(3, 2) * 3, padding_mode="circular",
                                  down_padding=(2, 2) * 3, alpha=0.7, impl=impl)  # fmt: skip

    y = op(x)
    for dim in (2, 3, 4):
        torch.testing.assert_close(op(torch.roll(x, 2, dim)), torch.roll(y, 1, dim), rtol=0,
                                   atol=1e-12)  # fmt: skip


def test_a_volume_of_depth_one_is_each_image_when_nothing_acts_along_the_depth():
    """Factors 1 and no padding along z with a depth-1 filter: the 3-D op is the 2-D op on
    every slice (the depth stages are skipped, not approximated)."""
    rng = np.random.default_rng(10)
    x = torch.tensor(rng.standard_normal((2, 3, 4, 5, 6)))
    b = torch.tensor(rng.standard_normal(3))
    f = torch.tensor(rng.standard_normal(5))
    y = ops.filtered_act3d(x, "lrelu", None, None, b, up=(2, 2, 1), down=(2, 2, 1),
                           padding=(1, 1, 1, 1, 0, 0), clamp=0.5)  # fmt: skip
    for d in range(4):
        want = ops.filtered_act(x[:, :, d], "lrelu", None, None, b, up=2, down=2, padding=1,
                                clamp=0.5)  # fmt: skip
        torch.testing.assert_close(y[:, :, d], want, rtol=0, atol=0)
    z = ops.upfirdn3d(x, f, up=(2, 1, 1), padding=(2, 2, 2, 2, 2, 2), gain=2.0)
    assert z.shape == (2, 3, 4 + 4 - 5 + 1, 5 + 4 - 5 + 1, 12 + 4 - 5 + 1)


# ---------------------------------------------------------------------------------------------
# The module


def test_alias_free_activation3d_is_the_op_with_bigvgan_paddings():
    torch.manual_seed(0)
    act = bnn.AliasFreeActivation3d(bnn.SnakeBeta(3))
    x = torch.randn(2, 3, 5, 6, 7)
    y = act(x)
    assert y.shape == x.shape
    alpha, beta = act.act.params()  # type: ignore[union-attr]
    want = ops.filtered_act3d(x, "snakebeta", act.fu, act.fd, up=2, down=2,
                              padding=(6, 5) * 3, padding_mode="replicate",
                              down_padding=(5, 6) * 3, alpha=alpha, beta=beta)  # fmt: skip
    torch.testing.assert_close(y, want, rtol=0, atol=0)
    y.sum().backward()
    assert act.act.alpha.grad is not None  # type: ignore[union-attr]
    assert sorted(act.state_dict()) == ["act.alpha", "act.beta", "fd", "fu"]
    assert bnn.AliasFreeActivation3d("gelu", up=3, down=2)(torch.randn(1, 1, 3, 4, 5)).shape \
        == (1, 1, 5, 6, 8)


def test_per_axis_ratios_resample_some_axes_and_leave_the_others():
    """``up=(1, 2, 2)``: every frame through AliasFreeActivation2d, exactly; ``(3, 1, 1)`` /
    ``(2, 1, 1)``: every (h, w) signal along D through AliasFreeActivation1d (to rounding)."""
    torch.manual_seed(4)
    x = torch.randn(2, 3, 5, 12, 10, dtype=torch.float64)
    frames = bnn.AliasFreeActivation3d("gelu", up=(1, 2, 2), down=(1, 2, 2)).double()
    want = bnn.AliasFreeActivation2d("gelu").double()(x.transpose(1, 2).flatten(0, 1))
    torch.testing.assert_close(frames(x), want.unflatten(0, (2, 5)).transpose(1, 2), rtol=0,
                               atol=1e-15)  # fmt: skip
    snake = bnn.Snake(3).double()
    depth = bnn.AliasFreeActivation3d(snake, up=(3, 1, 1), down=(2, 1, 1)).double()
    signals = x.permute(0, 3, 4, 1, 2).flatten(0, 2)  # [N·H·W, C, D]
    want = bnn.AliasFreeActivation1d(snake, up=3, down=2).double()(signals)
    torch.testing.assert_close(depth(x), want.unflatten(0, (2, 12, 10)).permute(0, 3, 4, 1, 2),
                               rtol=0, atol=1e-13)  # (another kernel: rounding)
    assert depth.output_rate == (1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match=r"same on every axis that is resampled"):
        bnn.AliasFreeActivation3d("gelu", up=(1, 2, 3), down=(1, 2, 3))
    with pytest.raises(ValueError, match=r"up must be an int or one int per axis \(D, H, W\)"):
        bnn.AliasFreeActivation3d("gelu", up=(2, 2), down=2)
    with pytest.raises(TypeError, match=r"up must be an int >= 1"):
        bnn.AliasFreeActivation2d("gelu", up=(1, 2))


@pytest.mark.parametrize(("module", "shape", "words"), [
    (bnn.AliasFreeActivation3d("gelu"), (3, 4, 5, 6), ["[N, C, D, H, W]", "x[None]",
                                                       "AliasFreeActivation2d"]),
    (bnn.AliasFreeActivation3d("gelu"), (1, 3, 4), ["AliasFreeActivation1d"]),
    (bnn.AliasFreeActivation2d("gelu"), (1, 3, 4, 5, 6), ["[N, C, H, W]",
                                                          "AliasFreeActivation3d"]),
])  # fmt: skip
def test_modules_name_the_shape_they_take(module, shape, words):
    with pytest.raises(ValueError) as info:
        module(torch.randn(*shape))
    for w in words:
        assert w in str(info.value)


# ---------------------------------------------------------------------------------------------
# Bad input


X5 = torch.zeros(1, 2, 3, 4, 5)
F4 = torch.ones(4) / 4


@pytest.mark.parametrize(("call", "exc", "words"), [
    (lambda: ops.upfirdn3d(torch.zeros(1, 2, 3, 4), F4), ValueError, ["[N, C, D, H, W]"]),
    (lambda: ops.upfirdn3d(X5, torch.ones(3, 3)), ValueError, ["f", "[taps]", "(3, 3)"]),
    (lambda: ops.upfirdn3d(X5, (F4, F4)), ValueError, ["f", "(f_x, f_y, f_z)", "length 2"]),
    (lambda: ops.upfirdn3d(X5, (F4, torch.ones(2, 2), None)), ValueError,
     ["f[1] must have shape [taps] (the filter along y (H))"]),
    (lambda: ops.downsample3d(X5, (None, None, torch.ones(8) / 8), (1, 1, 4)), ValueError,
     ["filter (x, y, z) = (1, 1, 8) taps", "down (x, y, z) = (1, 1, 4)"]),
    (lambda: ops.filtered_act3d(X5, "gelu", (F4, None, torch.ones(2, 2))), ValueError,
     ["fu[2]", "[taps]"]),
    (lambda: ops.upsample3d(X5, ops.setup_filter([1, 3, 3, 1])), ValueError,
     ["f must have shape [taps]", "separable=True", "(4, 4)"]),
    (lambda: ops.upsample3d(X5, F4, gain=1e308), ValueError, ["gain·up_x·up_y·up_z", "finite"]),
    (lambda: ops.upfirdn3d(X5, F4, up=(2, 2)), ValueError, ["up", "(x, y, z)", "length 2"]),
    (lambda: ops.upfirdn3d(X5, F4, down=(1, 0, 1)), ValueError, ["down[1]"]),
    (lambda: ops.upfirdn3d(X5, F4, padding=(1, 1, 1, 1)), ValueError,
     ["padding", "(x0, x1, y0, y1, z0, z1)"]),
    (lambda: ops.upfirdn3d(X5, F4, padding=-2), ValueError, ["D x H x W", "at least 1"]),
    (lambda: ops.upfirdn3d(X5, F4.to(torch.complex64)), TypeError, ["f", "complex64"]),
    (lambda: ops.upfirdn3d(X5, F4, gain=-1.0), ValueError, ["gain"]),
    (lambda: ops.filtered_act3d(X5, "gelu", torch.ones(2, 2)), ValueError, ["fu", "[taps]"]),
    (lambda: ops.filtered_act3d(X5, "gelu", F4, F4, up=2, down=2, padding=-3), ValueError,
     ["filtered_act3d (fu)", "D x H x W"]),
    (lambda: ops.filtered_act3d(X5, "gelu", F4, F4, up=2, down=2, padding=2,
                                down_padding=-9), ValueError,
     ["filtered_act3d (fd)", "up-sampled volume", "down_padding=(-9,"]),
    (lambda: ops.filtered_act3d(X5, "snake"), ValueError, ["alpha", "[2]"]),
    (lambda: ops.filtered_act3d(X5, "gelu", b=torch.zeros(3)), ValueError, ["b", "[2]"]),
    (lambda: ops.filtered_act3d(X5, "gelu", padding_mode="reflect"), ValueError,
     ["padding_mode", "reflect"]),
    (lambda: ops.filtered_act3d(X5, torch.tanh, alpha=0.3), ValueError, ["alpha"]),
    (lambda: ops.filtered_act3d(X5, lambda u: u[:, :, :1]), ValueError,
     ["act must return", "<lambda>"]),
])  # fmt: skip
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_docstring_gain_keeps_a_constant_level():
    """``gain = up_x·up_y·up_z`` with a unit-sum filter keeps a constant volume's level (the
    binomial's two phases each sum to 1/2)."""
    x = torch.ones(1, 1, 6, 6, 6, dtype=torch.float64)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64) / 8
    y = ops.upfirdn3d(x, f, up=(2, 1, 2), padding=(2, 1, 2, 1, 2, 1), gain=4)
    inner = y[:, :, 3:-3, 2:-2, 3:-3]
    assert math.isclose(float(inner.min()), 1.0, rel_tol=1e-12)
    assert math.isclose(float(inner.max()), 1.0, rel_tol=1e-12)


def test_export_and_compile():
    """The 3-D ops compose registered custom ops: ``torch.export`` holds them, ``torch.compile``
    traces them without a graph break."""
    m = bnn.AliasFreeActivation3d("gelu", impl="numba")
    x = torch.randn(1, 2, 4, 6, 6)
    ep = torch.export.export(m, (x,))
    torch.testing.assert_close(ep.module()(x), m(x), rtol=0, atol=0)
    assert any("bandlimit" in str(n.target) for n in ep.graph.nodes)
    f = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8
    compiled = torch.compile(lambda t: ops.upfirdn3d(t, f, up=2, padding=(2, 1) * 3, impl="numba"),
                             fullgraph=True)  # fmt: skip
    torch.testing.assert_close(compiled(x), ops.upfirdn3d(x, f, up=2, padding=(2, 1) * 3),
                               rtol=1e-6, atol=1e-6)  # fmt: skip
