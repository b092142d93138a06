"""The modules with the PyTorch features a model combines them with: TorchScript (refused with
one clear message), autocast, activation checkpointing, copies and state-dict round trips."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from bandlimit.filters import stylegan3_schedule
from bandlimit.nn import (
    AliasFreeActivation1d,
    AliasFreeActivation2d,
    FilteredLReLU,
    ResamplePoly,
    Snake,
    SnakeBeta,
    bigvgan,
)

_SCHEDULE = stylegan3_schedule(16, img_channels=3, channel_base=64, channel_max=8)


def _modules(impl="auto"):
    """name -> (module, input); every module with trainable parameters trains them."""
    x1 = torch.randn(2, 4, 40, generator=torch.Generator().manual_seed(0))
    x2 = torch.randn(2, 4, 14, 14, generator=torch.Generator().manual_seed(1))
    flrelu = FilteredLReLU(_SCHEDULE, 2, impl=impl)
    with torch.no_grad():
        flrelu.bias.uniform_(-1, 1)
    s = flrelu.spec
    xf = torch.randn(2, s.out_channels, *s.conv_out_size[::-1],
                     generator=torch.Generator().manual_seed(2))  # fmt: skip
    return {
        "Snake": (Snake(4), x1),
        "SnakeBeta": (SnakeBeta(4, alpha_logscale=True), x1),
        "AliasFreeActivation1d": (AliasFreeActivation1d(SnakeBeta(4), impl=impl), x1),
        "AliasFreeActivation2d": (AliasFreeActivation2d("lrelu", impl=impl), x2),
        "ResamplePoly": (ResamplePoly(3, 2, impl=impl), x1),
        "FilteredLReLU": (flrelu, xf),
        "bigvgan.Activation1d": (bigvgan.Activation1d(Snake(4, alpha_logscale=True)), x1),
        "bigvgan.Activation2d": (bigvgan.Activation2d(nn.SiLU()), x2),
        "bigvgan.UpSample1d": (bigvgan.UpSample1d(2), x1),
        "bigvgan.DownSample2d": (bigvgan.DownSample2d(2), x2),
        "bigvgan.LowPassFilter1d": (bigvgan.LowPassFilter1d(padding_mode="reflect"), x1),
    }


NAMES = list(_modules())


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
@pytest.mark.parametrize("name", NAMES)
def test_torch_jit_script_is_refused_with_one_clear_message(name):
    """TorchScript cannot compile the ops; scripting the module, or a model holding it, says so
    and what to use instead (it failed deep in the ops' checks: "Unknown type annotation")."""
    module, x = _modules()[name]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.Sequential(nn.Identity(), module)

        def forward(self, x):
            return self.block(x)

    for target in (module, Model()):
        with pytest.raises(NotImplementedError, match=rf"torch.jit.script cannot compile "
                           rf"{type(module).__name__} .*use torch.compile"):  # fmt: skip
            torch.jit.script(target)
    assert torch.equal(module(x), module(x))  # (the module itself still runs)


@pytest.mark.parametrize("impl", ["ref", "numba"])
@pytest.mark.parametrize("name", NAMES)
def test_autocast_leaves_the_modules_in_their_inputs_dtype(name, impl):
    """Under CPU bfloat16 autocast a module returns its input's dtype, with the values and
    gradients it has without autocast, on every backend ('ref' returned bfloat16)."""
    module, x = _modules(impl)[name]
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    want = module(xa)
    (gwant,) = torch.autograd.grad(want.square().sum(), xa)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = module(xb)
    assert y.dtype == x.dtype
    (g,) = torch.autograd.grad(y.square().sum(), xb)
    torch.testing.assert_close(y, want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(g, gwant, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reentrant", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_activation_checkpointing_gives_the_same_gradients(name, reentrant):
    module, x = _modules()[name]
    grads = []
    for wrap in (False, True):
        module.zero_grad()
        xg = x.clone().requires_grad_()
        y = checkpoint(module, xg, use_reentrant=reentrant) if wrap else module(xg)
        y.square().sum().backward()
        grads.append([xg.grad] + [p.grad for p in module.parameters() if p.requires_grad])
    for a, b in zip(*grads):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_copies_and_state_dict_round_trips_compute_the_same(name):
    module, x = _modules()[name]
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.25)
    want = module(x)
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    buf.seek(0)
    fresh = _modules()[name][0]
    fresh.load_state_dict(torch.load(buf, weights_only=True))
    for other in (copy.deepcopy(module), pickle.loads(pickle.dumps(module)), fresh):
        torch.testing.assert_close(other(x), want, rtol=0, atol=0)
    y64 = copy.deepcopy(module).to(torch.float64)(x.double())
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), want, rtol=1e-4, atol=1e-4)
    for dtype in (torch.float16, torch.bfloat16):
        y = copy.deepcopy(module).to(dtype)(x.to(dtype))
        assert y.dtype == dtype and torch.isfinite(y).all()
