"""bandlimit.nn.FilteredLReLU: one StyleGAN3 layer's nonlinearity from its schedule."""

from __future__ import annotations

import pytest
import torch

from bandlimit import ops
from bandlimit.filters import stylegan3_schedule
from bandlimit.nn import FilteredLReLU

F64 = torch.float64


def _schedule(config):
    return stylegan3_schedule(64, config=config, channel_base=1024, channel_max=8)


@pytest.mark.parametrize("config", ["T", "R"])
def test_every_layer_is_the_op_with_the_schedules_arguments(config):
    """Each layer of T and R: the module is filtered_lrelu with the schedule's filters, factors,
    padding, gain, slope and clamp, bit for bit; the conv's output size gives the layer's
    output size; the state dict holds the official SynthesisLayer's keys."""
    sched = _schedule(config)
    gen = torch.Generator().manual_seed(0)
    for i, spec in enumerate(sched.layers):
        module = FilteredLReLU(sched, spec.name).double()
        with torch.no_grad():
            module.bias.normal_(generator=gen)
        w, h = spec.conv_out_size
        x = torch.randn(2, spec.out_channels, h, w, dtype=F64, generator=gen) * 100
        fu, fd = sched.layer_filters(i)  # float32 designs, as the buffers
        want = ops.filtered_lrelu(x, fu, fd, module.bias, up=spec.up_factor,
                                  down=spec.down_factor, padding=spec.padding,
                                  gain=spec.flrelu_gain, slope=spec.flrelu_slope,
                                  clamp=spec.flrelu_clamp)  # fmt: skip
        y = module(x)
        assert torch.equal(y, want), spec.name
        assert y.shape == (2, spec.out_channels, spec.out_size[1], spec.out_size[0])
        keys = {"bias"} | {k for k, f in (("up_filter", fu), ("down_filter", fd)) if f is not None}
        assert set(module.state_dict()) == keys
        assert spec.name in repr(module)
    assert (y.abs() <= sched.layers[-1].flrelu_clamp).all()  # ToRGB: the clamp only


def test_bias_learns_and_can_be_left_out():
    sched = _schedule("T")
    module = FilteredLReLU(sched, 3)
    spec = module.spec
    w, h = spec.conv_out_size
    x = torch.randn(1, spec.out_channels, h, w, requires_grad=True)
    module(x).square().sum().backward()
    assert module.bias.grad is not None and module.bias.grad.abs().sum() > 0
    assert x.grad is not None
    bare = FilteredLReLU(sched, 3, bias=False)
    assert bare.bias is None and "bias" not in bare.state_dict()
    torch.testing.assert_close(bare(x), module(x))  # the bias is zero-initialised


def test_compiles_whole():
    sched = _schedule("T")
    module = FilteredLReLU(sched, 2)
    w, h = module.spec.conv_out_size
    x = torch.randn(1, module.spec.out_channels, h, w)
    compiled = torch.compile(module, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), module(x))


def test_bad_arguments():
    sched = _schedule("T")
    with pytest.raises(TypeError, match=r"schedule must be a bandlimit\.filters\.Schedule"):
        FilteredLReLU(sched.layers, 0)
    with pytest.raises((ValueError, IndexError, KeyError), match="99"):
        FilteredLReLU(sched, 99)
    with pytest.raises(ValueError, match="impl"):
        FilteredLReLU(sched, 0, impl="fast")
    with pytest.raises(TypeError, match="bias"):
        FilteredLReLU(sched, 0, bias="yes")
