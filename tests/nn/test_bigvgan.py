"""bandlimit.nn against the real peer, alias-free-torch (the torch path BigVGAN ships): outputs,
gradients, state dicts and patching; and the modules' own behaviour."""

from __future__ import annotations

import math

import alias_free_torch as aft
import numpy as np
import pytest
import torch
from torch import nn

from bandlimit.nn import AliasFreeActivation1d, AliasFreeActivation2d, Snake, SnakeBeta, bigvgan


class PeerSnakeBeta(nn.Module):
    """BigVGAN's SnakeBeta as its docs define it (the peer package ships no Snake)."""

    def __init__(self, c, alpha_logscale=True):
        super().__init__()
        self.alpha_logscale = alpha_logscale
        self.alpha = nn.Parameter(torch.zeros(c))
        self.beta = nn.Parameter(torch.zeros(c))

    def forward(self, x):
        a, b = self.alpha[None, :, None], self.beta[None, :, None]
        if x.ndim == 4:
            a, b = a[..., None], b[..., None]
        if self.alpha_logscale:
            a, b = torch.exp(a), torch.exp(b)
        return x + 1.0 / (b + 1e-9) * torch.sin(x * a) ** 2


PeerSnakeBeta.__name__ = "SnakeBeta"  # how BigVGAN's class is recognised


def _acts(c, rng):
    sb = SnakeBeta(c, alpha_logscale=True)
    s = Snake(c, alpha=1.0)
    with torch.no_grad():
        sb.alpha.copy_(torch.tensor(rng.normal(0, 0.5, c)))
        sb.beta.copy_(torch.tensor(rng.normal(0, 0.5, c)))
        s.alpha.copy_(torch.tensor(rng.uniform(0.3, 2, c)))
    return {"snakebeta": sb, "snake": s, "lrelu": nn.LeakyReLU(0.1)}


def _rel_err(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("act_name", ["snakebeta", "snake", "lrelu"])
@pytest.mark.parametrize(("ratio", "k"), [(2, 12), (2, 8), (3, 12)])
def test_matches_alias_free_torch(nd, act_name, ratio, k):
    """Same state dict → same outputs and gradients (x and the activation's parameters)."""
    rng = np.random.default_rng(ratio * 100 + k + nd)
    c = 3
    act = _acts(c, rng)[act_name]
    peer_cls = aft.Activation1d if nd == 1 else aft.Activation2d
    ours_cls = bigvgan.Activation1d if nd == 1 else bigvgan.Activation2d
    peer = peer_cls(act, ratio, ratio, k, k)
    ours = ours_cls(act, ratio, ratio, k, k)
    ours.load_state_dict(peer.state_dict())  # their state dict loads unchanged
    assert set(ours.state_dict()) == set(peer.state_dict())
    for key, v in peer.state_dict().items():  # and our own filters are theirs already
        torch.testing.assert_close(ours_cls(act, ratio, ratio, k, k).state_dict()[key], v,
                                   rtol=0, atol=2e-7)
    size = (37,) if nd == 1 else (11, 14)
    x0 = torch.tensor(rng.standard_normal((2, c, *size)) * 2, dtype=torch.float32)
    params = list(act.parameters())
    outs = []
    for m in (peer, ours):
        x = x0.clone().requires_grad_(True)
        y = m(x)
        grads = torch.autograd.grad(y, [x, *params], torch.ones_like(y) + y.detach())
        outs.append((y, grads))
    (y_p, g_p), (y_o, g_o) = outs
    assert y_o.shape == y_p.shape == x0.shape
    assert _rel_err(y_o, y_p) < 2e-6
    for a, b in zip(g_o, g_p):
        assert _rel_err(a, b) < 2e-5


@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_resamplers_match(ratio):
    rng = np.random.default_rng(ratio)
    x = torch.tensor(rng.standard_normal((1, 2, 23)), dtype=torch.float32)
    up_p, dn_p = aft.UpSample1d(ratio), aft.DownSample1d(ratio)
    up_o, dn_o = bigvgan.UpSample1d(ratio), bigvgan.DownSample1d(ratio)
    assert set(up_o.state_dict()) == {"filter"}
    assert set(dn_o.state_dict()) == {"lowpass.filter"}
    assert _rel_err(up_o(x), up_p(x)) < 1e-6
    assert _rel_err(dn_o(x), dn_p(x)) < 1e-6
    x2 = torch.tensor(rng.standard_normal((1, 2, 9, 10)), dtype=torch.float32)
    assert _rel_err(bigvgan.UpSample2d(ratio)(x2), aft.UpSample2d(ratio)(x2)) < 1e-6
    assert _rel_err(bigvgan.DownSample2d(ratio)(x2), aft.DownSample2d(ratio)(x2)) < 1e-6


def test_patch_replaces_blocks_in_place():
    torch.manual_seed(0)
    act = PeerSnakeBeta(4)
    model = nn.Sequential(
        nn.Conv1d(4, 4, 3, padding=1),
        nn.ModuleDict({"blk": aft.Activation1d(act), "other": nn.Tanh()}),
    )
    with torch.no_grad():
        act.alpha.normal_(0, 0.3)
    x = torch.randn(1, 4, 50)
    y_before = model[1]["blk"](model[0](x))
    replaced = bigvgan.patch(model)
    assert list(replaced) == ["1.blk"]
    assert isinstance(model[1]["blk"], bigvgan.Activation1d)
    assert model[1]["blk"].act is act  # same parameters, nothing to reload
    assert isinstance(replaced["1.blk"], aft.Activation1d)
    y_after = model[1]["blk"](model[0](x))
    assert _rel_err(y_after, y_before) < 2e-6
    assert bigvgan.patch(model) == {}  # idempotent
    assert model[1]["blk"].training
    # a model in eval mode gets its new blocks in eval mode
    evald = nn.Sequential(aft.Activation1d(PeerSnakeBeta(4))).eval()
    bigvgan.patch(evald)
    assert not any(m.training for m in evald.modules())


@pytest.mark.parametrize(("up", "down"), [(1, 2), (2, 1)])
def test_ratio_one_matches_and_patches(up, down):
    """A ratio of 1 (cutoff 0.5/1 = Nyquist) is accepted as alias-free-torch accepts it."""
    x = torch.randn(1, 3, 24)
    peer = aft.Activation1d(nn.Tanh(), up, down)
    assert _rel_err(bigvgan.Activation1d(nn.Tanh(), up, down)(x), peer(x)) < 1e-6
    model = nn.Sequential(peer)
    y_before = model(x)
    assert list(bigvgan.patch(model)) == ["0"]
    assert _rel_err(model(x), y_before) < 1e-6
    assert AliasFreeActivation1d("lrelu", up=up, down=down)(x).shape == (1, 3, 24 * up // down)


def test_one_tap_2d_filter_is_the_identity_tap():
    """kernel_size=1: the radial window's radius is 0; the filter is the single tap 1, not NaN."""
    m = bigvgan.Activation2d(nn.ReLU(), 2, 2, 1, 1)
    assert m.upsample.filter.flatten().tolist() == [1.0]
    x = torch.randn(1, 2, 8, 8)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_unfused_activation_falls_back_to_composition():
    """An activation the op cannot express still gives the same maths, unfused."""
    act = nn.Hardtanh()
    x = torch.randn(1, 2, 30)
    peer, ours = aft.Activation1d(act), bigvgan.Activation1d(act)
    assert _rel_err(ours(x), peer(x)) < 1e-6


# ---------------------------------------------------------------------------------------------
# The modules' own behaviour


def test_snake_formulas_and_state_dict():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7))
    s = Snake(3, alpha=0.75).double()
    a = 0.75
    np.testing.assert_allclose(s(torch.tensor(x)).detach().numpy(),
                               x + np.sin(a * x) ** 2 / (a + 1e-9), rtol=1e-12)
    sb = SnakeBeta(3, alpha_logscale=True).double()
    with torch.no_grad():
        sb.alpha.fill_(math.log(2.0))
        sb.beta.fill_(math.log(0.5))
    np.testing.assert_allclose(sb(torch.tensor(x)).detach().numpy(),
                               x + np.sin(2 * x) ** 2 / (0.5 + 1e-9), rtol=1e-12)
    assert set(sb.state_dict()) == {"alpha", "beta"}
    assert set(s.state_dict()) == {"alpha"}
    assert float(SnakeBeta(3, alpha=5.0, alpha_logscale=True).alpha.detach().sum()) == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_snake_in_half_precision_is_finite_where_alpha_is_zero(dtype):
    """At α = 0 Snake is x (sin²(0x)/(0 + 1e-9) = 0), as BigVGAN's float32 formula gives; in the
    half types 1e-9 rounds to 0, so the formula is evaluated in float32 (it gave 0/0 = NaN)."""
    x = torch.randn(2, 3, 16).to(dtype)
    for act in (Snake(3, alpha=0.0), Snake(3, alpha=1e-8), SnakeBeta(3, alpha=0.0)):
        if isinstance(act, SnakeBeta):
            with torch.no_grad():
                act.beta.fill_(0.0)
        assert torch.equal(act(x), x)
        for block in (AliasFreeActivation1d(act), bigvgan.Activation1d(act)):
            xr = x.clone().requires_grad_()
            y = block(xr)
            assert y.dtype == dtype and torch.isfinite(y).all()
            y.float().sum().backward()
            assert torch.isfinite(xr.grad).all() and torch.isfinite(act.alpha.grad).all()
    # the float32 parameters promote a float64 input's computation no further than float64
    assert Snake(3)(x.double()).dtype == torch.float64


@pytest.mark.parametrize("mode", ["replicate", "circular", "zeros"])
def test_alias_free_activation_modules(mode):
    """The generic modules equal the op with the documented paddings and filters."""
    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc_bigvgan

    x = torch.randn(2, 3, 40, dtype=torch.float64)
    m = AliasFreeActivation1d("gelu", padding_mode=mode).double()
    f = kaiser_sinc_bigvgan(0.25, 0.3, 12, dtype=torch.float64)
    want = ops.filtered_act1d(x, "gelu", f, f, up=2, down=2, padding=(6, 5),
                              padding_mode=mode, down_padding=(5, 6))
    torch.testing.assert_close(m(x), want)
    sb = SnakeBeta(3, alpha_logscale=True)
    m2 = AliasFreeActivation2d(sb, filter="scipy", padding_mode=mode)
    y = m2(torch.randn(1, 3, 10, 12))
    assert y.shape == (1, 3, 10, 12)
    y.sum().backward()
    assert sb.alpha.grad is not None and sb.beta.grad is not None


def test_bad_module_arguments():
    with pytest.raises(ValueError, match="act"):
        AliasFreeActivation1d("mish")
    with pytest.raises(ValueError, match="filter"):
        AliasFreeActivation1d("gelu", filter="butterworth")
    with pytest.raises(ValueError, match="in_features"):
        Snake(0)
    with pytest.raises(ValueError, match=r"\[N, 3"):
        Snake(3)(torch.zeros(1, 4, 5))
    with pytest.raises(TypeError, match="model"):
        bigvgan.patch("not a module")
    with pytest.raises(ValueError, match=r"act='snake' needs trainable alpha.*Snake\(channels\)"):
        AliasFreeActivation1d("snake")
    with pytest.raises(ValueError, match=r"SnakeBeta\(channels\)"):
        AliasFreeActivation2d("snakebeta")
    with pytest.raises(TypeError, match=r"kernel_size must be an int >= 1, got 12\.7"):
        AliasFreeActivation1d("lrelu", kernel_size=12.7)
    with pytest.raises(ValueError, match="up must be an int >= 1, got 0"):
        AliasFreeActivation1d("lrelu", up=0)
    with pytest.raises(TypeError, match=r"ratio must be an int >= 1, got 2\.5"):
        bigvgan.UpSample1d(2.5)
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1, got -3"):
        bigvgan.UpSample2d(2, -3)
    with pytest.raises(ValueError, match="down_ratio must be an int >= 1, got 0"):
        bigvgan.Activation1d(nn.Tanh(), 2, 0)
    with pytest.raises(ValueError, match=r"filter='scipy' needs cutoff < 0\.5.*ratio 1"):
        AliasFreeActivation1d("lrelu", up=1, filter="scipy")
    # Checked at construction, not at the first forward.
    with pytest.raises(ValueError, match="alpha must be a finite real number, got nan"):
        Snake(3, alpha=float("nan"))
    with pytest.raises(TypeError, match="alpha must be a real number, got 'x'"):
        SnakeBeta(3, alpha="x")
    assert Snake(np.int64(3)).in_features == 3
    with pytest.raises(TypeError, match="alpha must be a real number, got 'x'"):
        AliasFreeActivation1d("lrelu", alpha="x")
    with pytest.raises(ValueError, match="gain must be >= 0, got -1"):
        AliasFreeActivation2d("gelu", gain=-1)
    with pytest.raises(ValueError, match=r"padding_mode must be one of .*got 'reflect'"):
        AliasFreeActivation1d("lrelu", padding_mode="reflect")
    # Flags are bools; alpha is the leaky ReLU's slope only (it was ignored for other acts).
    with pytest.raises(TypeError, match="alpha_trainable must be a bool, got 'no'"):
        Snake(3, alpha_trainable="no")
    with pytest.raises(TypeError, match="alpha_logscale must be a bool, got 'no'"):
        SnakeBeta(3, alpha_logscale="no")
    with pytest.raises(ValueError, match=r"alpha is the leaky ReLU's slope; act 'gelu' takes"):
        AliasFreeActivation1d("gelu", alpha=0.3)
    with pytest.raises(ValueError, match=r"act 'snake' takes none.*its module's parameter"):
        AliasFreeActivation2d(Snake(3), alpha=0.3)
    assert AliasFreeActivation1d("lrelu", alpha=0.3).alpha == 0.3
    # A non-tensor input: a TypeError naming x (it was an AttributeError from the filter cast).
    for module in (AliasFreeActivation1d("gelu"), bigvgan.Activation1d(Snake(3)),
                   bigvgan.UpSample1d(2), bigvgan.DownSample2d(2)):
        with pytest.raises(TypeError, match=r"x must be a torch\.Tensor, got list"):
            module([[1.0]])
