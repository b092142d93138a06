r"""bandlimit.compat.rosinality: the drop-in for rosinality's ``op`` package. Numerics against
float64 NumPy loops of the original's definitions, its padding convention, its modules'
shapes and parameter names, gradients to second order (an R1 penalty through a small
discriminator built from the drop-ins against the same one in plain PyTorch), bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bandlimit.compat import rosinality
from bandlimit.compat.rosinality import (
    FusedBiasLeakyReLU,
    FusedLeakyReLU,
    conv2d_gradfix,
    fused_bias_leakyrelu,
    fused_leaky_relu,
    upfirdn2d,
)
from tests.ops.strategies import IMPLS

# ---------------------------------------------------------------------------------------------
# Oracles: the original's definitions, step by step, in float64 NumPy.


def np_upfirdn2d(x, k, up, down, pad):
    """Zero-stuff (``up − 1`` zeros after each sample), pad/crop ``(x0, x1, y0, y1)``, valid true
    convolution with ``k`` (reversed, then correlated), keep every ``down``-th sample."""
    (ux, uy), (dx, dy), (x0, x1, y0, y1) = up, down, pad
    n, c, h, w = x.shape
    xu = np.zeros((n, c, h * uy, w * ux))
    xu[:, :, ::uy, ::ux] = x
    hp, wp = h * uy + y0 + y1, w * ux + x0 + x1
    xp = np.zeros((n, c, hp, wp))
    for i in range(hp):
        for j in range(wp):
            si, sj = i - y0, j - x0
            if 0 <= si < h * uy and 0 <= sj < w * ux:
                xp[:, :, i, j] = xu[:, :, si, sj]
    kh, kw = k.shape
    kr = k[::-1, ::-1]
    z = np.zeros((n, c, hp - kh + 1, wp - kw + 1))
    for i in range(z.shape[2]):
        for j in range(z.shape[3]):
            z[:, :, i, j] = (xp[:, :, i : i + kh, j : j + kw] * kr).sum(axis=(2, 3))
    return z[:, :, ::dy, ::dx]


def np_fused_leaky_relu(x, b, slope, scale):
    u = x if b is None else x + b.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(u > 0, u, slope * u) * scale


def make_kernel(taps):
    """rosinality's ``make_kernel``: the outer product of a 1-D kernel, normalised to sum 1."""
    k = torch.tensor(taps, dtype=torch.float64)
    k = k[None, :] * k[:, None]
    return k / k.sum()


# ---------------------------------------------------------------------------------------------
# Numerics


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), kh=st.integers(1, 5), kw=st.integers(1, 5), h=st.integers(1, 6),
       w=st.integers(1, 6), four=st.booleans(), seed=st.integers(0, 2**31))  # fmt: skip
def test_upfirdn2d_matches_the_definition(impl, data, kh, kw, h, w, four, seed):
    """Any factors per axis, a two- or four-element pad (negative crops), non-square kernels."""
    pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
    up, down = data.draw(pair, "up"), data.draw(pair, "down")
    pads = st.integers(-2, 4)
    pad = data.draw(st.tuples(pads, pads, pads, pads) if four else st.tuples(pads, pads), "pad")
    pad4 = pad if four else (pad[0], pad[1], pad[0], pad[1])
    assume(h * up[1] + pad4[2] + pad4[3] >= kh and w * up[0] + pad4[0] + pad4[1] >= kw)
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((2, 3, h, w)), rng.standard_normal((kh, kw))
    y = upfirdn2d(torch.from_numpy(x), torch.from_numpy(k), up, down, pad, impl=impl)
    np.testing.assert_allclose(y.numpy(), np_upfirdn2d(x, k, up, down, pad4), atol=1e-12)


def test_a_two_element_pad_pads_both_axes_before_and_after():
    """``pad=(2, 0)`` is 2 before and 0 after on each axis (bandlimit.ops' (px, py) would pad
    x by 2 at both ends and y not at all): a one-tap kernel moves the image down and right."""
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    y = upfirdn2d(x, torch.ones(1, 1), pad=(2, 0))
    assert y.shape == (1, 1, 5, 5)
    assert torch.equal(y[0, 0, 2:, 2:], x[0, 0]) and y[0, 0, :2].abs().sum() == 0


@pytest.mark.parametrize(("factor", "taps"), [(2, [1, 3, 3, 1]), (4, [1, 4, 7, 8, 7, 4, 1])])
def test_the_originals_resampling_modules(factor, taps):
    """rosinality's Upsample / Downsample / Blur paddings: exact output sizes, a constant image
    keeps its level away from the borders (kernels whose phases sum alike)."""
    kernel = make_kernel(taps).float()
    x = torch.ones(1, 2, 8, 8)
    p = kernel.shape[0] - factor  # Upsample
    up = upfirdn2d(x, kernel * factor**2, up=factor, pad=((p + 1) // 2 + factor - 1, p // 2))
    assert up.shape == (1, 2, 8 * factor, 8 * factor)
    torch.testing.assert_close(up[..., 4:-4, 4:-4], torch.ones_like(up[..., 4:-4, 4:-4]))
    down = upfirdn2d(x, kernel, down=factor, pad=((p + 1) // 2, p // 2))  # Downsample
    assert down.shape == (1, 2, 8 // factor, 8 // factor)
    k = len(taps)
    blur = upfirdn2d(x, kernel, pad=(k // 2, (k - 1) // 2))  # a "same" Blur ((2, 1) for 4 taps)
    assert blur.shape == (1, 2, 8, 8)
    torch.testing.assert_close(blur[..., 3:-3, 3:-3], torch.ones(1, 2, 2, 2))


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=25, deadline=None)
@given(ndim=st.integers(2, 4), channels=st.integers(1, 4), with_bias=st.booleans(),
       slope=st.floats(0, 1), scale=st.floats(0, 3), seed=st.integers(0, 2**31))  # fmt: skip
def test_fused_leaky_relu_matches_the_definition(impl, ndim, channels, with_bias, slope, scale,
                                                 seed):  # fmt: skip
    """``[N, C]`` (after a linear layer) to ``[N, C, H, W]``, with and without a bias."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, channels) + (3,) * (ndim - 2))
    b = rng.standard_normal(channels) if with_bias else None
    y = fused_leaky_relu(torch.from_numpy(x), None if b is None else torch.from_numpy(b),
                         slope, scale, impl=impl)  # fmt: skip
    np.testing.assert_allclose(y.numpy(), np_fused_leaky_relu(x, b, slope, scale), atol=1e-12)


def test_the_modules_apply_their_bias_and_keep_the_originals_parameter_names():
    """A checkpoint's ``bias`` loads; ``bias=False`` has no parameter; mmcv's class has one."""
    act = FusedLeakyReLU(3, negative_slope=0.1, scale=2.0)
    act.load_state_dict({"bias": torch.tensor([1.0, -1.0, 0.5])})
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    expected = np_fused_leaky_relu(x.numpy(), np.array([1.0, -1.0, 0.5]), 0.1, 2.0)
    np.testing.assert_allclose(act(x).detach().numpy(), expected, rtol=1e-6)
    assert dict(FusedLeakyReLU(3, bias=False).named_parameters()) == {}
    assert "bias=False" in repr(FusedLeakyReLU(3, bias=False))
    assert FusedLeakyReLU(3, bias=1).bias is not None  # (truthy, as the original's `if bias:`)
    torch.testing.assert_close(fused_bias_leakyrelu(x, None), fused_leaky_relu(x))  # (mmcv's too)
    mm = FusedBiasLeakyReLU(4)
    assert [n for n, _ in mm.named_parameters()] == ["bias"] and mm.bias.shape == (4,)
    v = torch.randn(5, 4)
    torch.testing.assert_close(mm(v), fused_bias_leakyrelu(v, torch.zeros(4)))


# ---------------------------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize("impl", IMPLS)
def test_upfirdn2d_gradients_to_second_order(impl):
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    k = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)

    def fn(x, k):
        return upfirdn2d(x, k, up=(2, 1), down=(1, 2), pad=(1, 2), impl=impl)

    assert torch.autograd.gradcheck(fn, (x, k))
    assert torch.autograd.gradgradcheck(fn, (x, k))


def test_fused_leaky_relu_gradients_to_second_order():
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)

    def fn(x, b):
        return fused_leaky_relu(x, b, 0.3, 1.5)

    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


def _tiny_discriminator(x, w, b, drop_in: bool):
    """conv 3x3 → bias + lrelu → blur and ×2 down (rosinality's ConvLayer with downsample),
    made of the drop-ins or of plain PyTorch."""
    kernel = make_kernel([1, 3, 3, 1])
    if drop_in:
        h = upfirdn2d(x, kernel, pad=(2, 2))
        h = conv2d_gradfix.conv2d(h, w, stride=2)
        return fused_leaky_relu(h, b)
    c = x.shape[1]
    h = F.conv2d(F.pad(x, (2, 2, 2, 2)), kernel.flip(0, 1).expand(c, 1, 4, 4), groups=c)
    h = F.conv2d(h, w, stride=2) + b[:, None, None]
    return F.leaky_relu(h, 0.2) * math.sqrt(2)


def test_an_r1_penalty_through_the_drop_ins_equals_plain_pytorchs():
    """The regulariser's double backward: weight and bias gradients of ‖∂D/∂x‖² agree."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    w0 = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    b0 = torch.randn(4, dtype=torch.float64)
    grads = []
    for drop_in in (True, False):
        w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
        with conv2d_gradfix.no_weight_gradients():
            assert conv2d_gradfix.weight_gradients_disabled
            score = _tiny_discriminator(x, w, b, drop_in).sum()
            (g,) = torch.autograd.grad(score, x, create_graph=True)
        assert not conv2d_gradfix.weight_gradients_disabled
        g.pow(2).sum().backward()
        grads.append((score.detach(), w.grad, b.grad))
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_no_weight_gradients_restores_the_flag_after_an_error():
    with pytest.raises(RuntimeError), conv2d_gradfix.no_weight_gradients():
        raise RuntimeError("inside")
    assert not conv2d_gradfix.weight_gradients_disabled
    with conv2d_gradfix.no_weight_gradients(False):
        assert not conv2d_gradfix.weight_gradients_disabled


# ---------------------------------------------------------------------------------------------
# Bad input


IMAGE, ONE_TAP = torch.ones(1, 1, 4, 4), torch.ones(1, 1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: upfirdn2d(torch.ones(1, 4, 4), ONE_TAP), ValueError, r"input .*\[N, C, H, W\]"),
        (lambda: upfirdn2d(IMAGE, [[1.0]]), TypeError, r"kernel must be a torch.Tensor"),
        (lambda: upfirdn2d(IMAGE, None), TypeError, r"kernel must be a torch.Tensor"),
        (lambda: upfirdn2d(IMAGE, ONE_TAP, pad=(1, 1, 1)), ValueError, r"pad must be \(p0, p1\)"),
        (lambda: upfirdn2d(IMAGE, ONE_TAP, pad=(1.5, 1)), TypeError, r"pad\[0\]"),
        (lambda: upfirdn2d(IMAGE, ONE_TAP, up=0), ValueError, r"up"),
        (lambda: upfirdn2d(IMAGE, torch.ones(5, 5)), ValueError, r"empty|output"),
        (lambda: fused_leaky_relu(torch.ones(3)), ValueError, r"input must have a channel axis"),
        (lambda: fused_leaky_relu(IMAGE, torch.ones(4)), ValueError, r"bias must have shape \[1\]"),
        (lambda: fused_leaky_relu(IMAGE, torch.ones(1, 1)), ValueError, r"bias must have shape"),
        (lambda: fused_leaky_relu(IMAGE, [0.0]), TypeError, r"bias must be a torch.Tensor"),
        (lambda: fused_leaky_relu(IMAGE, scale=-1), ValueError, r"scale"),
        (lambda: FusedLeakyReLU(0), ValueError, r"channel"),
        (lambda: FusedLeakyReLU(1, 0.1, 1.0), TypeError, r"BasicSR's FusedLeakyReLU\(channel, "),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_package_exports_the_originals_names():
    assert set(rosinality.__all__) == {
        "upfirdn2d", "fused_leaky_relu", "FusedLeakyReLU", "conv2d_gradfix",
        "fused_bias_leakyrelu", "FusedBiasLeakyReLU",
    }  # fmt: skip
    assert conv2d_gradfix.conv2d is F.conv2d
    assert conv2d_gradfix.conv_transpose2d is F.conv_transpose2d
