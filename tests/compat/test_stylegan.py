r"""bandlimit.compat.stylegan: the drop-in for StyleGAN2-ADA's / StyleGAN3's
``torch_utils.ops``. Each module's functions equal bandlimit's ops (whose numerics the ops
tests check against NumPy), the originals' default ``impl='cuda'`` runs wherever the tensors
are, the activation table holds the originals' defaults, ``fma`` and ``grid_sample`` are
differentiable to second order, and a StyleGAN2 generator block written against the originals'
module layout runs and trains (an R1-style double backward through it)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import bandlimit.ops as ops
from bandlimit.compat import stylegan
from bandlimit.compat.stylegan import (
    bias_act,
    conv2d_gradfix,
    conv2d_resample,
    filtered_lrelu,
    fma,
    grid_sample_gradfix,
    upfirdn2d,
)

F64 = torch.float64


def _x(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))


# (module function, bandlimit op, positional arguments after x)
_SAME_AS_OPS = {
    "upfirdn2d": (upfirdn2d.upfirdn2d, ops.upfirdn2d, dict(up=2, down=1, padding=[2, 1, 2, 1])),
    "filter2d": (upfirdn2d.filter2d, ops.filter2d, dict(padding=1)),
    "upsample2d": (upfirdn2d.upsample2d, ops.upsample2d, dict(up=2)),
    "downsample2d": (upfirdn2d.downsample2d, ops.downsample2d, dict(down=2, gain=2.0)),
}


@pytest.mark.parametrize("name", list(_SAME_AS_OPS))
@pytest.mark.parametrize("impl", [None, "cuda", "ref"])
def test_upfirdn2d_module_is_bandlimits_op_on_any_device(name, impl):
    """The originals' default impl='cuda' runs on a CPU tensor (their reference did), and
    equals bandlimit's op."""
    mine, op, kw = _SAME_AS_OPS[name]
    x, f = _x(2, 3, 8, 7), upfirdn2d.setup_filter([1, 3, 3, 1])
    got = mine(x, f, **kw) if impl is None else mine(x, f, impl=impl, **kw)
    torch.testing.assert_close(got, op(x, f, impl="ref", **kw), rtol=0, atol=1e-12)


def test_setup_filter_is_bandlimits():
    assert upfirdn2d.setup_filter is ops.setup_filter
    f = upfirdn2d.setup_filter([1, 3, 3, 1], device=torch.device("cpu"), gain=4)
    assert f.shape == (4, 4) and float(f.sum()) == pytest.approx(4.0)


@pytest.mark.parametrize("impl", [None, "cuda", "ref", "numba"])
def test_bias_act_and_filtered_lrelu_are_bandlimits(impl):
    kw = {} if impl is None else {"impl": impl}
    x, b = _x(2, 3, 6, 6), _x(3, seed=1)
    torch.testing.assert_close(
        bias_act.bias_act(x, b, act="lrelu", clamp=0.5, **kw),
        ops.bias_act(x, b, act="lrelu", clamp=0.5, impl="ref"), rtol=0, atol=1e-12)
    f = upfirdn2d.setup_filter([1, 2, 1])
    torch.testing.assert_close(
        filtered_lrelu.filtered_lrelu(x, f, f, b, up=2, down=2, padding=2, clamp=1.0, **kw),
        ops.filtered_lrelu(x, f, f, b, up=2, down=2, padding=2, clamp=1.0, impl="ref"),
        rtol=0, atol=1e-12)


def test_an_unknown_impl_is_named():
    with pytest.raises(ValueError, match=r"impl.*'tf'"):
        upfirdn2d.upfirdn2d(_x(1, 1, 4, 4), None, impl="tf")


def test_activation_funcs_hold_the_originals_defaults():
    """The gains and slopes StyleGAN2-ADA's layers read (``activation_funcs[a].def_gain``):
    √2 for the ReLU family and swish, 1 otherwise; alpha 0.2 for lrelu only."""
    sqrt2 = {"relu", "lrelu", "swish"}
    assert set(bias_act.activation_funcs) == {"linear", "relu", "lrelu", "tanh", "sigmoid",
                                              "elu", "selu", "softplus", "swish"}
    for name, spec in bias_act.activation_funcs.items():
        assert spec.def_gain == pytest.approx(math.sqrt(2) if name in sqrt2 else 1.0), name
        assert spec["def_gain"] == spec.def_gain  # (the originals' entries were EasyDicts)
        assert spec.def_alpha == (0.2 if name == "lrelu" else 0.0), name
        assert spec.has_2nd_grad == (name not in {"linear", "relu", "lrelu"}), name
    x = torch.linspace(-2, 2, 9, dtype=F64)
    torch.testing.assert_close(bias_act.activation_funcs["lrelu"].func(x=x, alpha=0.1),
                               torch.where(x < 0, 0.1 * x, x))
    torch.testing.assert_close(bias_act.activation_funcs["swish"].func(x), x * torch.sigmoid(x))


def test_the_private_helpers_that_layers_and_training_scripts_call_exist():
    """Training scripts call the plugins' ``_init()`` at start-up; layers built on the
    originals read ``upfirdn2d``'s filter-size and argument parsers."""
    for module in (upfirdn2d, bias_act, filtered_lrelu):
        assert module._init() is True and module._plugin is None
    assert upfirdn2d._get_filter_size(upfirdn2d.setup_filter([1, 3, 3, 1])) == (4, 4)
    assert upfirdn2d._get_filter_size(torch.ones(3, 5)) == (5, 3)
    assert upfirdn2d._get_filter_size(None) == (1, 1)
    assert upfirdn2d._parse_padding([1, 2]) == (1, 1, 2, 2)
    assert upfirdn2d._parse_padding(3) == (3, 3, 3, 3)
    assert upfirdn2d._parse_scaling(2) == (2, 2)
    assert upfirdn2d._parse_scaling([1, 3]) == (1, 3)


def test_fma_broadcasts_and_reduces_its_gradients():
    a = _x(4, 1, 3).requires_grad_(True)
    b = _x(1, 5, 3, seed=1).requires_grad_(True)
    c = _x(3, seed=2).requires_grad_(True)
    torch.testing.assert_close(fma.fma(a, b, c), a * b + c)
    assert gradcheck(fma.fma, (a, b, c))
    assert gradgradcheck(fma.fma, (a, b, c))


def test_grid_sample_is_bilinear_with_zeros_outside_and_second_order():
    x = _x(1, 2, 5, 6).requires_grad_(True)
    grid = (torch.rand(1, 4, 3, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
            * 2.4 - 1.2).requires_grad_(True)  # some points outside: zeros there
    # a hand-written bilinear sample at one point, align_corners=False: pixel centres at
    # (i + 0.5) / size * 2 - 1
    gx, gy = grid[0, 1, 2].tolist()
    px, py = ((gx + 1) * 6 - 1) / 2, ((gy + 1) * 5 - 1) / 2
    x0, y0 = math.floor(px), math.floor(py)
    want = 0.0
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= yy < 5 and 0 <= xx < 6:
                want += wy * wx * float(x[0, 0, yy, xx])
    got = grid_sample_gradfix.grid_sample(x, grid)
    assert float(got[0, 0, 1, 2]) == pytest.approx(want, abs=1e-12)
    assert gradcheck(grid_sample_gradfix.grid_sample, (x, grid))
    assert gradgradcheck(grid_sample_gradfix.grid_sample, (x, grid))


def test_conv2d_modules_are_bandlimits():
    from bandlimit.compat.rosinality import conv2d_gradfix as rosinality_gradfix
    from bandlimit.compat.stylegan.conv2d_gradfix import conv2d, no_weight_gradients

    assert conv2d is rosinality_gradfix.conv2d
    assert no_weight_gradients is rosinality_gradfix.no_weight_gradients
    with no_weight_gradients():  # one set of flags under both names
        assert conv2d_gradfix.weight_gradients_disabled is True
    assert conv2d_gradfix.weight_gradients_disabled is False and conv2d_gradfix.enabled
    assert conv2d_resample.conv2d_resample is ops.conv2d_resample
    assert stylegan.upfirdn2d is upfirdn2d  # the package's attributes are the modules
    for name in stylegan.__all__:  # ... and they import by their dotted names, as ported code
        assert importlib.import_module(f"bandlimit.compat.stylegan.{name}") is getattr(
            stylegan, name)  # does it (`from torch_utils.ops.conv2d_gradfix import conv2d`)


class _SynthesisBlock(torch.nn.Module):
    """A StyleGAN2 synthesis block's up-sampling layer and ToRGB, written (from the StyleGAN2
    paper) against the originals' module layout: weight modulation and demodulation, the batch
    folded into conv2d_resample's groups, bias_act with the table's gain, noise by fma, the
    skip image up-sampled by upsample2d."""

    def __init__(self, c_in=4, c_out=3, w_dim=5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.affine = torch.nn.Parameter(torch.randn(c_in, w_dim, dtype=F64, generator=g))
        self.weight = torch.nn.Parameter(torch.randn(c_out, c_in, 3, 3, dtype=F64, generator=g))
        self.bias = torch.nn.Parameter(torch.randn(c_out, dtype=F64, generator=g))
        self.noise_strength = torch.nn.Parameter(torch.tensor(0.1, dtype=F64))
        self.register_buffer("resample_filter", upfirdn2d.setup_filter([1, 3, 3, 1]))

    def forward(self, x, ws, img, noise):
        n, c, h, w = x.shape
        styles = ws @ self.affine.T / math.sqrt(ws.shape[1])
        wgt = self.weight[None] * styles[:, None, :, None, None]
        wgt = wgt * (wgt.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
        y = conv2d_resample.conv2d_resample(
            x.reshape(1, n * c, h, w), wgt.reshape(-1, c, 3, 3), self.resample_filter, up=2,
            padding=1, groups=n, flip_weight=False)
        y = y.reshape(n, -1, *y.shape[2:])
        y = fma.fma(noise, self.noise_strength, y)
        y = bias_act.bias_act(y, self.bias, act="lrelu",
                              gain=bias_act.activation_funcs["lrelu"].def_gain, clamp=256)
        return y + upfirdn2d.upsample2d(img, self.resample_filter)


def test_a_stylegan2_block_written_for_the_originals_runs_and_takes_an_r1_gradient():
    block = _SynthesisBlock()
    x = _x(2, 4, 6, 6).requires_grad_(True)
    ws, img, noise = _x(2, 5, seed=1), _x(2, 3, 6, 6, seed=2), _x(2, 1, 12, 12, seed=3)
    y = block(x, ws, img, noise)
    assert y.shape == (2, 3, 12, 12) and torch.isfinite(y).all()
    # The same block by definition: the zero-inserted input, up-sampling FIR, then the
    # convolution, per sample (groups unrolled).
    f = block.resample_filter
    for i in range(2):
        styles = ws[i] @ block.affine.T / math.sqrt(5)
        wgt = block.weight * styles[None, :, None, None]
        wgt = wgt * (wgt.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        a = ops.upfirdn2d(x[i : i + 1], f, up=2, padding=(2 + 1, 1 + 1) * 2, gain=4, impl="ref")
        want = torch.nn.functional.conv2d(a, wgt.flip([2, 3]))
        want = want + noise[i] * block.noise_strength
        want = ops.bias_act(want, block.bias, act="lrelu", gain=math.sqrt(2), clamp=256)
        want = want + ops.upsample2d(img[i : i + 1], f)
        torch.testing.assert_close(y[i : i + 1], want)
    # R1-style: the gradient of the gradient reaches the weights
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    gx.square().sum().backward()
    assert block.weight.grad is not None and block.weight.grad.abs().sum() > 0
    assert block.affine.grad is not None and block.affine.grad.abs().sum() > 0
