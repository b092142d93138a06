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
    PQMF,
    AliasFreeActivation1d,
    AliasFreeActivation2d,
    BlurPool2d,
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
        "AliasFreeActivation2d radial": (AliasFreeActivation2d("gelu", radial=True, impl=impl),
                                         x2),
        "ResamplePoly": (ResamplePoly(3, 2, impl=impl), x1),
        "PQMF": (PQMF(impl=impl), x1),
        "BlurPool2d": (BlurPool2d(impl=impl), x2),
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


# ---------------------------------------------------------------------------------------------
# Half-precision casts, parametrizations, settings changed later, repr, construction errors.


@pytest.mark.parametrize("cast", ["half", "bfloat16", "to"])
def test_a_cast_to_half_precision_keeps_the_filter_taps(cast):
    """model.half() / .bfloat16() / .to(dtype) rounded the designed taps (documented float32)
    to half precision, 8-11 dB of stop-band attenuation lost for good (a later .float() kept
    the rounding, and so did a state dict saved from it). Filters now keep their precision;
    device moves and the parameters' casts still apply."""
    half = {"half": torch.float16, "bfloat16": torch.bfloat16, "to": torch.bfloat16}[cast]
    mods = {
        "af1": (AliasFreeActivation1d("gelu", up=4, down=4, kernel_size=24), ("fu", "fd")),
        "af2": (AliasFreeActivation2d(SnakeBeta(3)), ("fu", "fd")),
        "flrelu": (FilteredLReLU(_SCHEDULE, 3), ("up_filter", "down_filter")),
        "resample": (ResamplePoly(3, 2, window=torch.ones(7) / 7), ("taps",)),
        "pqmf": (PQMF(), ("analysis_filter", "synthesis_filter")),
        "blurpool": (BlurPool2d(), ("filter",)),
    }
    for name, (m, buffers) in mods.items():
        before = {b: getattr(m, b).clone() for b in buffers}
        cast_m = m.to(half) if cast == "to" else getattr(m, cast)()
        for b in buffers:
            assert torch.equal(getattr(cast_m, b), before[b]), (name, b)
            assert getattr(cast_m, b).dtype == before[b].dtype, (name, b)
        for p in cast_m.parameters():
            assert p.dtype == half, name
        back = cast_m.float()
        assert all(torch.equal(getattr(back, b), before[b]) for b in buffers), name
    m = AliasFreeActivation1d("gelu").to(torch.float64)  # (float64: cast as before)
    assert m.fu.dtype == torch.float64


def test_a_parametrized_snake_fuses():
    """torch's parametrize renames the class ParametrizedSnake: AliasFreeActivation1d refused
    it ("has no fused equivalent; pass ... Snake, SnakeBeta, ..."). It fuses now, with the
    parametrized alpha, as the unfused composition computes it."""
    import torch.nn.utils.parametrize as P

    s = Snake(3).double()
    P.register_parametrization(s, "alpha", nn.Softplus())
    x = torch.randn(2, 3, 20, dtype=torch.float64)
    fused = AliasFreeActivation1d(s).double()
    unfused = bigvgan.Activation1d(s).double()  # (BigVGAN's block: fused too, the same maths)
    torch.testing.assert_close(fused(x), unfused(x), rtol=1e-6, atol=1e-6)
    (g,) = torch.autograd.grad(fused(x).sum(), s.parametrizations.alpha.original)
    assert g.abs().sum() > 0


def test_an_activation_modules_settings_are_read_at_each_call():
    """A LeakyReLU's slope was copied at construction: changing it later did nothing (BigVGAN's
    block reads it at each call), and an alpha= beside an nn.LeakyReLU silently won while
    repr showed the module's slope."""
    x = torch.randn(1, 2, 24, dtype=torch.float64)
    m = AliasFreeActivation1d(nn.LeakyReLU(0.1)).double()
    y0 = m(x)
    m.act.negative_slope = 0.5
    torch.testing.assert_close(m(x), AliasFreeActivation1d(nn.LeakyReLU(0.5)).double()(x))
    assert not torch.equal(m(x), y0) and "alpha=0.5" in repr(m)
    with pytest.raises(ValueError, match=r"^alpha is the leaky ReLU's slope, which act=LeakyReLU"):
        AliasFreeActivation1d(nn.LeakyReLU(0.1), alpha=0.3)
    m.act.negative_slope = 0.3
    m.act = nn.ELU(alpha=0.5)  # (now a module the op has no form of: run unfused)
    torch.testing.assert_close(m(x), AliasFreeActivation1d(nn.ELU(alpha=0.5)).double()(x))
    assert "act=ELU (unfused)" in repr(m)


def test_repr_shows_what_changes_the_output():
    """Two blocks with different outputs printed the same (the gain, √2 for 'silu' by name,
    was hidden; so were alpha and the filter settings)."""
    assert repr(AliasFreeActivation1d("silu")) != repr(AliasFreeActivation1d("silu", gain=1.0))
    assert "gain=1.41421" in repr(AliasFreeActivation1d("silu"))
    assert "gain=1," in repr(AliasFreeActivation1d(nn.SiLU()))
    text = repr(AliasFreeActivation2d("lrelu", alpha=0.3, filter="scipy", cutoff=0.2,
                                      half_width=0.1, impl="ref"))
    for part in ("alpha=0.3", "filter='scipy'", "cutoff=0.2", "half_width=0.1", "impl='ref'"):
        assert part in text, text
    assert "bias=False" in repr(FilteredLReLU(_SCHEDULE, 2, bias=False))


def test_construction_errors_in_the_modules_terms():
    """filter='scipy' with a long kernel named the design's 'width' and 'numtaps'; a
    FilteredLReLU fed the wrong channels blamed its bias 'b', which the caller never passed;
    ResamplePoly(dim=(-1, -1)) was accepted until its first call."""
    with pytest.raises(ValueError, match=r"^half_width must be <= 0\.219 for kernel_size=1024 "
                                         r"with filter='scipy' .* got 0\.3 \(the default"):
        AliasFreeActivation1d("gelu", kernel_size=1024, filter="scipy")
    layer = FilteredLReLU(_SCHEDULE, 2)
    c = layer.spec.out_channels
    with pytest.raises(ValueError, match=rf"^x must have {c} channels for layer "):
        layer(torch.randn(1, c + 1, *layer.spec.conv_out_size))
    with pytest.raises(ValueError, match=r"^dim must not name an axis twice, got \(-1, -1\)"):
        ResamplePoly(2, 1, dim=(-1, -1))


def test_a_module_filter_becomes_learnable_as_a_parameter():
    """docs/support.rst: a parameter assigned in place of a filter buffer is learned, under the
    same state_dict key; its gradient passes a finite-difference check."""
    from bandlimit.nn import AliasFreeActivation1d

    m = AliasFreeActivation1d("gelu").double()
    m.fd = torch.nn.Parameter(m.fd.clone())
    assert "fd" in m.state_dict() and [n for n, _ in m.named_parameters()] == ["fd"]
    x = torch.randn(2, 3, 30, dtype=torch.float64)
    m(x).square().sum().backward()
    fd = m.fd.detach().clone().requires_grad_(True)

    def run(fd):
        return torch.func.functional_call(m, {"fd": fd}, (x,))

    (want,) = torch.autograd.grad(run(fd).square().sum(), fd)
    torch.testing.assert_close(m.fd.grad, want)
    assert torch.autograd.gradcheck(run, (fd,))


_FRESH = {
    "AliasFreeActivation1d": lambda: AliasFreeActivation1d(SnakeBeta(4)),
    "AliasFreeActivation2d": lambda: AliasFreeActivation2d("lrelu"),
    "AliasFreeActivation2d radial": lambda: AliasFreeActivation2d("gelu", radial=True),
    "FilteredLReLU": lambda: FilteredLReLU(_SCHEDULE, 2),
    "bigvgan.Activation1d": lambda: bigvgan.Activation1d(Snake(4, alpha_logscale=True)),
    "bigvgan.DownSample2d": lambda: bigvgan.DownSample2d(2),
    "ResamplePoly": lambda: ResamplePoly(3, 2, window=[1 / 7] * 7),
    "PQMF": lambda: PQMF(),
    "BlurPool2d": lambda: BlurPool2d(),
}


@pytest.mark.parametrize("name", list(_FRESH))
def test_meta_initialisation_then_reset_parameters_gives_the_module(name):
    """Built on the meta device and materialised with to_empty (FSDP, large models), the
    designed taps were garbage (NaN / inf outputs), and load_state_dict does not refill the
    ones a module does not save: reset_parameters() (which FSDP and init code call) restores
    them, and the parameters' initial values."""
    torch.manual_seed(0)
    want = _FRESH[name]()
    with torch.device("meta"):
        meta = _FRESH[name]()
    made = meta.to_empty(device="cpu")
    made.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
    for (n, a), b in zip(want.state_dict(keep_vars=True).items(),
                         made.state_dict(keep_vars=True).values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), n
    for n, buf in want.named_buffers():
        assert torch.equal(buf, dict(made.named_buffers())[n]), n


def test_reset_parameters_where_taps_were_learned_or_never_real():
    """A filter made a parameter (to learn it) is restored too (it was left as garbage); taps
    that were a meta tensor when the module was built cannot be, and reset says so instead of
    leaving garbage; a BlurPool2d given a tensor builds under the meta device (it crashed)."""
    with torch.device("meta"):
        act = AliasFreeActivation1d("gelu")
        act.fd = torch.nn.Parameter(act.fd.clone())
        resample = ResamplePoly(3, 2, window=torch.ones(7) / 7)  # (meta taps)
        BlurPool2d(filter=torch.nn.Parameter(torch.tensor([0.25, 0.5, 0.25], device="cpu")))
    act = act.to_empty(device="cpu")
    act.reset_parameters()
    assert torch.equal(act.fd, AliasFreeActivation1d("gelu").fd)
    resample = resample.to_empty(device="cpu")
    with pytest.raises(ValueError, match=r"ResamplePoly.taps was a meta tensor when the module "
                       r"was built: there are no taps to restore"):
        resample.reset_parameters()
