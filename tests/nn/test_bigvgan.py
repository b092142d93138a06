"""bandlimit.nn against the real peer, alias-free-torch (the torch path BigVGAN ships): outputs,
gradients, state dicts and patching; and the modules' own behaviour."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import warnings

import alias_free_torch as aft
import numpy as np
import pytest
import scipy.special
import torch
from torch import nn

from bandlimit.nn import AliasFreeActivation1d, AliasFreeActivation2d, Snake, SnakeBeta, bigvgan
from bandlimit.nn.activation import _FORMULA_CHECKED


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


class PeerSnake(nn.Module):
    """BigVGAN's Snake as its docs define it: α ``[C]`` viewed as ``[1, C, 1]`` (1-D only)."""

    def __init__(self, c, alpha_logscale=False):
        super().__init__()
        self.alpha_logscale = alpha_logscale
        self.alpha = nn.Parameter(torch.zeros(c) if alpha_logscale else torch.ones(c))

    def forward(self, x):
        a = self.alpha.unsqueeze(0).unsqueeze(-1)
        if self.alpha_logscale:
            a = torch.exp(a)
        return x + 1.0 / (a + 1e-9) * torch.sin(x * a) ** 2


PeerSnake.__name__ = "Snake"


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
    # A bare block has nothing inside to replace: it said {} as if already patched.
    bare = aft.Activation1d(PeerSnakeBeta(4))
    with pytest.raises(ValueError, match=r"model is itself an alias-free-torch Activation1d "
                                         r"block.*nn\.Sequential\(block\)"):
        bigvgan.patch(bare)
    assert list(bigvgan.patch(nn.Sequential(bare))) == ["0"]
    assert bigvgan.patch(bigvgan.Activation1d(nn.Tanh())) == {}  # bandlimit's own: nothing to do


def test_patch_replaces_every_use_of_a_shared_block():
    """nn.Sequential(b, b): named_modules / named_children report b once, so only '0' was
    replaced and the second use kept running alias-free-torch's block. Every use is replaced,
    by one shared new block (the sharing kept), and every name is returned."""
    torch.manual_seed(0)
    act = PeerSnakeBeta(2)
    with torch.no_grad():
        act.alpha.normal_(0, 0.3)
    b = aft.Activation1d(act)
    model = nn.Sequential(b, b)
    x = torch.randn(1, 2, 40)
    y_before = model(x)
    replaced = bigvgan.patch(model)
    assert list(replaced) == ["0", "1"]
    assert replaced["0"] is b and replaced["1"] is b
    assert isinstance(model[0], bigvgan.Activation1d) and model[1] is model[0]
    assert model[0].act is act
    assert _rel_err(model(x), y_before) < 2e-6
    assert bigvgan.patch(model) == {}
    # A shared container: the block inside is replaced once, under every name it has.
    inner = nn.Sequential(aft.Activation1d(nn.Tanh()))
    outer = nn.ModuleDict({"a": inner, "b": inner, "c": nn.Sequential(inner)})
    original = inner[0]
    replaced = bigvgan.patch(outer)
    assert list(replaced) == ["a.0", "b.0", "c.0.0"]
    assert all(m is original for m in replaced.values())
    assert isinstance(inner[0], bigvgan.Activation1d) and outer["c"][0][0] is inner[0]
    assert list(outer.state_dict()) == ["a.0.upsample.filter", "a.0.downsample.lowpass.filter",
                                        "b.0.upsample.filter", "b.0.downsample.lowpass.filter",
                                        "c.0.0.upsample.filter",
                                        "c.0.0.downsample.lowpass.filter"]


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


class SiFiGANSnake(nn.Module):
    """A Snake look-alike with α laid out ``[1, C, 1]`` (SiFiGAN / HN-uSFGAN's layout), or one
    α for every channel (``channels=None``): same class name as BigVGAN's, other shapes."""

    def __init__(self, c=None):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1) if c is None else torch.ones(1, c, 1))

    def forward(self, x):
        return x + torch.sin(self.alpha * x) ** 2 / self.alpha


SiFiGANSnake.__name__ = "Snake"


@pytest.mark.parametrize("channels", [6, None])
def test_snake_look_alikes_with_other_parameter_layouts(channels):
    """A look-alike Snake whose α is ``[1, C, 1]`` (or one value for all channels) was fused
    as if it were BigVGAN's ``[C]`` and failed ("alpha must have shape [6]"), so patching a
    working alias-free-torch model broke it. Now its α is taken per channel: the same outputs
    and α gradients as alias-free-torch's unfused block, in both bandlimit modules."""
    torch.manual_seed(1)
    act = SiFiGANSnake(channels)
    with torch.no_grad():
        act.alpha.uniform_(0.5, 1.5)
    x = torch.randn(2, 6, 40, dtype=torch.float64)
    act.double()
    peer = aft.Activation1d(act).double()
    ours = [bigvgan.Activation1d(act).double(), AliasFreeActivation1d(act).double()]
    model = nn.Sequential(aft.Activation1d(act)).double()
    assert list(bigvgan.patch(model)) == ["0"]
    y_peer = peer(x)
    (g_peer,) = torch.autograd.grad(y_peer.square().sum(), act.alpha)
    for m in (*ours, model):
        y = m(x)
        (g,) = torch.autograd.grad(y.square().sum(), act.alpha)
        assert _rel_err(y, y_peer) < 1e-6, m  # (the filters' float32 taps differ in rounding)
        assert g.shape == act.alpha.shape and _rel_err(g, g_peer) < 1e-6, m
    # parameters that fit no channel layout run unfused in BigVGAN's block (as the peer does)
    odd = SiFiGANSnake(3)
    with pytest.raises(RuntimeError):  # (its own forward cannot broadcast 3 over 6 channels)
        bigvgan.Activation1d(odd)(x.float())


class LogAlphaSnake(nn.Module):
    """Named Snake, α stored as its logarithm under a flag BigVGAN's Snake does not have: the
    formula on the stored parameter is not Snake's (α = 0 would be a division by zero)."""

    def __init__(self, c):
        super().__init__()
        self.log_alpha_param = True
        self.alpha = nn.Parameter(torch.zeros(c))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        a = self.alpha.exp()[None, :, None]
        return x + torch.sin(a * x) ** 2 / a


LogAlphaSnake.__name__ = "Snake"


class CountingSnake(LogAlphaSnake):
    """Named Snake, BigVGAN's formula, counting its forward's calls."""

    def forward(self, x):
        self.calls += 1
        a = self.alpha[None, :, None]
        return x + torch.sin(a * x) ** 2 / (a + 1e-9)


CountingSnake.__name__ = "Snake"


def test_a_look_alike_computing_another_formula_runs_its_own_forward():
    """A module named Snake was fused by its name alone, so a variant with another formula gave
    other numbers than alias-free-torch's, silently (1.07 apart here). Its forward is now
    compared with the formula once: this one runs unfused, with one warning, and equals the
    peer; one that computes Snake's formula is fused (its forward never called: the check runs
    a copy)."""
    torch.manual_seed(2)
    act = LogAlphaSnake(4).double()
    with torch.no_grad():
        act.alpha.uniform_(-0.5, 0.5)
    x = torch.randn(2, 4, 40, dtype=torch.float64)
    y_peer = aft.Activation1d(act).double()(x)
    with pytest.warns(UserWarning, match="runs unfused"):
        y = bigvgan.Activation1d(act).double()(x)
    assert _rel_err(y, y_peer) < 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the verdict is kept: no second warning)
        for m in (bigvgan.Activation1d(act), AliasFreeActivation1d(act)):
            assert _rel_err(m.double()(x), y_peer) < 1e-6

    same = CountingSnake(4).double()
    with torch.no_grad():
        same.alpha.uniform_(0.5, 1.5)
    block = bigvgan.Activation1d(same).double()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            y = block(x)
    assert same.calls == 0  # (the op computed it all; the check ran a copy)
    assert _rel_err(y, aft.Activation1d(same).double()(x)) < 1e-6


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


def assert_unfused_like_the_peer(act: nn.Module, x: torch.Tensor) -> None:
    """``act``'s block warns that it runs unfused and gives alias-free-torch's numbers."""
    with pytest.warns(UserWarning, match="runs unfused"):
        y = bigvgan.Activation1d(act)(x)
    assert _rel_err(y, aft.Activation1d(act)(x)) < 1e-6


class SwappedSnakeBeta(nn.Module):
    """Named SnakeBeta, α and β swapped in its formula: equal to SnakeBeta's where α = β (both
    start at 1), so only a check with other values tells them apart."""

    def __init__(self, c):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(c))
        self.beta = nn.Parameter(torch.ones(c))

    def forward(self, x):
        a, b = self.alpha[None, :, None], self.beta[None, :, None]
        return x + torch.sin(b * x) ** 2 / (a + 1e-9)


SwappedSnakeBeta.__name__ = "SnakeBeta"


def test_the_formula_check_uses_other_values_precisions_and_layouts():
    """The check runs a float32 copy with random parameters: a swapped α/β is caught at its
    starting values (both 1); BigVGAN's Snake in half precision is fused without a warning (the
    probe ran in the module's half dtype and read its rounding as another formula); and in the
    2-D block with 3 channels its [1, C, 1] α is probed on [2, C, 5] first (a [2, 3, 3, 3]
    probe broadcast it along H, called that another formula, and its unfused run then failed)."""
    x = torch.randn(1, 3, 40)
    assert_unfused_like_the_peer(SwappedSnakeBeta(3), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dtype in (torch.float16, torch.bfloat16):
            for act in (PeerSnake(3), PeerSnake(3, alpha_logscale=True)):
                act = act.to(dtype)
                m = bigvgan.Activation1d(act)
                assert m(x.to(dtype)).dtype == dtype
                assert _FORMULA_CHECKED[act] is True
        act = PeerSnake(3)
        y2 = bigvgan.Activation2d(act)(torch.randn(1, 3, 16, 16))
        assert y2.shape == (1, 3, 16, 16) and _FORMULA_CHECKED[act] is True


class UncopyableWrongSnake(nn.Module):
    """Named Snake, sin instead of sin², and a non-leaf tensor attribute (deepcopy refuses it,
    as with torch's old weight_norm)."""

    def __init__(self, c):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(c))
        self.scaled = self.alpha * 1.0

    def forward(self, x):
        a = self.alpha[None, :, None]
        return x + torch.sin(a * x) / (a + 1e-9)


UncopyableWrongSnake.__name__ = "Snake"


class ChannelFirstSnake(nn.Module):
    """Named Snake, BigVGAN's formula, α stored ``[C, 1, 1]`` for images."""

    def __init__(self, c):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(c, 1, 1))

    def forward(self, x):
        return x + torch.sin(self.alpha * x) ** 2 / (self.alpha + 1e-9)


ChannelFirstSnake.__name__ = "Snake"


def test_the_formula_check_of_an_uncopyable_module_and_of_two_channels():
    """A module the check cannot copy is checked as it is (it was trusted: wrong numbers, no
    warning); a [C, 1, 1] α with C = 2 is not broadcast along a probe batch of 2 (it was read
    as another formula and run unfused, with a warning)."""
    x = torch.randn(1, 3, 40)
    assert_unfused_like_the_peer(UncopyableWrongSnake(3), x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for c in (1, 2, 3, 5):
            act = ChannelFirstSnake(c)
            bigvgan.Activation2d(act)(torch.randn(1, c, 8, 8))
            assert _FORMULA_CHECKED[act] is True, c


def test_alias_free_torchs_argument_names_are_pointed_to_ours():
    """Before: "_AliasFree.__init__() got an unexpected keyword argument 'ratio'", naming a
    private class."""
    with pytest.raises(TypeError, match=r"^AliasFreeActivation1d\(\) got an unexpected keyword "
                       r"argument 'ratio'; it takes up and down \(alias-free-torch's 'ratio': for "
                       r"its signature use bandlimit\.nn\.bigvgan\.Activation1d\)$"):
        AliasFreeActivation1d("gelu", ratio=2)
    with pytest.raises(TypeError, match=r"^AliasFreeActivation2d\(\) .* 'up_kernel_size'; it "
                       r"takes kernel_size"):
        AliasFreeActivation2d("gelu", up_kernel_size=12)
    with pytest.raises(TypeError, match=r"^AliasFreeActivation2d\(\) got an unexpected keyword "
                       r"argument 'kernel'$"):
        AliasFreeActivation2d("gelu", kernel=12)
    m = AliasFreeActivation2d("gelu", up=2, kernel_size=6)  # (and the known names still work)
    assert copy.deepcopy(m).kernel_size == pickle.loads(pickle.dumps(m)).kernel_size == 6

    class PassingOn(AliasFreeActivation1d):  # (a subclass that passes **kwargs on)
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    assert PassingOn("lrelu", up=2, kernel_size=6).kernel_size == 6
    with pytest.raises(TypeError, match=r"^PassingOn\(\) got an unexpected keyword argument "
                       r"'ratio'; it takes up and down"):
        PassingOn("lrelu", ratio=2)


def test_bad_module_arguments():
    with pytest.raises(ValueError, match=r"act must be one of .*\(fused\), or a module or "
                                         r"callable \(e\.g\. nn\.Mish\(\).*got 'mish'"):
        AliasFreeActivation1d("mish")
    with pytest.raises(TypeError, match=r"act must be an activation name, an nn\.Module or an "
                                        r"element-wise callable, got int 3"):
        AliasFreeActivation2d(3)
    with pytest.raises(ValueError, match=r"alpha is the leaky ReLU's slope; act 'Mish' takes"):
        AliasFreeActivation1d(nn.Mish(), alpha=0.2)
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
    # BigVGAN's blocks take a module; a name would have fused with the op's √2 gain.
    with pytest.raises(TypeError, match=r"activation must be an nn\.Module.*got str 'relu'.*"
                       r"AliasFreeActivation1d"):
        bigvgan.Activation1d("relu")
    with pytest.raises(TypeError, match=r"got builtin_function_or_method .*AliasFreeActivation2d"):
        bigvgan.Activation2d(torch.relu)
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
                   bigvgan.UpSample1d(2), bigvgan.DownSample2d(2), Snake(3), SnakeBeta(3)):
        with pytest.raises(TypeError, match=r"x must be a torch\.Tensor, got list"):
            module([[1.0]])
    # Snake on an integer or bool tensor returned truncated values, detached from alpha.
    for snake in (Snake(1), SnakeBeta(1)):
        with pytest.raises(TypeError, match=r"^x must have a floating-point dtype, got "
                                            r"torch\.int64$"):
            snake(torch.tensor([[[1, 2, 3]]]))
        with pytest.raises(TypeError, match=r"^x must have a floating-point dtype, got "
                                            r"torch\.bool$"):
            snake(torch.ones(1, 1, 3, dtype=torch.bool))


# ---------------------------------------------------------------------------------------------
# alias-free-torch's low-pass filters and resampler attributes (a drop-in: signature, state dict,
# attributes and outputs)

AFT_PAD_MODES = ("constant", "reflect", "replicate", "circular")  # torch.nn.functional.pad's


def _public(m):
    """A module's public attributes (what user code may read), buffers and children aside."""
    return {k: v for k, v in vars(m).items() if not k.startswith("_") and k != "training"}


@pytest.mark.parametrize("name", ["LowPassFilter1d", "LowPassFilter2d"])
def test_lowpass_signature_is_alias_free_torchs(name):
    import inspect

    def params(cls):
        return [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]

    assert params(getattr(bigvgan, name)) == params(getattr(aft, name))
    assert params(getattr(bigvgan, name)) == [
        ("cutoff", 0.5), ("half_width", 0.6), ("stride", 1), ("padding", True),
        ("padding_mode", "replicate"), ("kernel_size", 12),
    ]


def _peer_and_ours(name, *args, **kwargs):
    """alias-free-torch's module and ours built with the same arguments, ours loaded with their
    state dict (float32 designs may differ by an ulp), both in float64."""
    peer = getattr(aft, name)(*args, **kwargs).double()
    ours = getattr(bigvgan, name)(*args, **kwargs)
    assert set(ours.state_dict()) == set(peer.state_dict())
    for key, v in ours.state_dict().items():
        # (theirs designs in float32: the 2-D window is ~1e-6 off at cutoff 0.5)
        torch.testing.assert_close(v.double(), peer.state_dict()[key], rtol=2e-6, atol=2e-7)
    ours.load_state_dict(peer.state_dict())
    assert _public(ours) == _public(peer)
    return peer, ours.double()


def _check_same(peer, ours, x):
    """Equal outputs where alias-free-torch gives one; where it refuses the input, ours does
    too, except circular padding wider than the signal (ours wraps it again: checked against
    the explicitly periodic signal)."""
    try:
        want = peer(x)
    except (RuntimeError, ValueError) as e:
        if ours.padding and ours.padding_mode == "circular":
            xp = x
            for dim in range(2, x.ndim):
                n = x.shape[dim]
                idx = torch.arange(-ours.pad_left, n + ours.pad_right).remainder(n)
                xp = xp.index_select(dim, idx)
            peer.padding = False
            try:
                want = peer(xp)
            finally:
                peer.padding = True
        else:
            with pytest.raises((RuntimeError, ValueError)):
                ours(x)
            return str(e)
    got = ours(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)
    return None


@pytest.mark.parametrize("padding_mode", [*AFT_PAD_MODES, None])  # None: padding=False
def test_lowpass1d_matches_alias_free_torch(padding_mode):
    """Every stride, even and odd kernel size, and length (short ones included) gives
    alias-free-torch's output in float64; DownSample1d's forward is its low-pass filter's."""
    rng = np.random.default_rng(len(str(padding_mode)))
    padding = padding_mode is not None
    mode = padding_mode or "replicate"
    compared = 0
    for stride in (1, 2, 3):
        for k in (12, 8, 7, 5, 2, 1):
            cutoff, half_width = 0.5 / stride, 0.6 / stride
            peer, ours = _peer_and_ours("LowPassFilter1d", cutoff, half_width, stride, padding,
                                        mode, k)
            for length in (1, 2, 3, 5, 8, 13, 40):
                x = torch.tensor(rng.standard_normal((2, 3, length)))
                compared += _check_same(peer, ours, x) is None
    assert compared > 60
    # the defaults (cutoff 0.5, 12 taps, stride 1) and keyword use
    peer, ours = _peer_and_ours("LowPassFilter1d", padding=padding, padding_mode=mode)
    _check_same(peer, ours, torch.tensor(rng.standard_normal((1, 2, 30))))


@pytest.mark.parametrize("padding_mode", [*AFT_PAD_MODES, None])
def test_lowpass2d_matches_alias_free_torch(padding_mode):
    """The 2-D filter likewise (even kernel sizes: alias-free-torch's 2-D design fails for odd
    ones on current torch, an integer grid given to torch.norm)."""
    rng = np.random.default_rng(7 + len(str(padding_mode)))
    padding = padding_mode is not None
    mode = padding_mode or "replicate"
    compared = 0
    for stride in (1, 2, 3):
        for k in (12, 6, 2):
            peer, ours = _peer_and_ours("LowPassFilter2d", 0.5 / stride, 0.6 / stride, stride,
                                        padding, mode, k)
            for size in ((1, 1), (2, 5), (7, 3), (13, 12)):
                x = torch.tensor(rng.standard_normal((1, 2, *size)))
                compared += _check_same(peer, ours, x) is None
    assert compared >= 12


@pytest.mark.parametrize("ratio", [1, 2, 3])
@pytest.mark.parametrize("k", [None, 12, 8, 7, 5, 2])
def test_resampler_attributes_and_down_outputs_match(ratio, k):
    """UpSample/DownSample 1-D/2-D carry alias-free-torch's public attributes with its values
    (stride, pad, pad_left, pad_right, lowpass.*); DownSample1d/2d keep their outputs and keys."""
    rng = np.random.default_rng(ratio * 31 + (k or 0))
    for name in ("UpSample1d", "DownSample1d", "UpSample2d", "DownSample2d"):
        if name.endswith("2d") and k is not None and k % 2:
            continue  # alias-free-torch cannot design odd 2-D filters (see above)
        peer, ours = getattr(aft, name)(ratio, k), getattr(bigvgan, name)(ratio, k)
        assert _public(ours) == _public(peer), name
        assert set(ours.state_dict()) == set(peer.state_dict()), name
        if name.startswith("Down"):
            assert _public(ours.lowpass) == _public(peer.lowpass), name
            ours.load_state_dict(peer.state_dict())
            size = (23,) if name.endswith("1d") else (9, 10)
            x = torch.tensor(rng.standard_normal((1, 2, *size)))
            torch.testing.assert_close(ours.double()(x), peer.double()(x), rtol=1e-13,
                                       atol=1e-13)
            torch.testing.assert_close(ours(x), ours.lowpass(x), rtol=0, atol=0)


def test_lowpass_bad_arguments():
    for cls in (bigvgan.LowPassFilter1d, bigvgan.LowPassFilter2d):
        with pytest.raises(ValueError, match=r"padding_mode must be one of \('constant', "
                                             r"'reflect', 'replicate', 'circular'\).*'zeros'"):
            cls(padding_mode="zeros")
        with pytest.raises(ValueError, match="cutoff"):
            cls(cutoff=0.6)
        with pytest.raises(ValueError, match="stride must be an int >= 1, got 0"):
            cls(stride=0)
        with pytest.raises(TypeError, match="padding must be a bool"):
            cls(padding="yes")


# ---------------------------------------------------------------------------------------------
# Which torch modules fuse, what a refusal says, and the gain of names against modules


class Halved(nn.Module):
    """A nonlinearity with a parameter of its own, in no kernel's table."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, x):
        return torch.nn.functional.hardtanh(x) * self.scale


@pytest.mark.parametrize("act", [
    nn.ELU(alpha=0.5), nn.CELU(alpha=0.5), nn.Softplus(beta=2), nn.Softplus(threshold=10),
    type("MySiLU", (nn.SiLU,), {})(), nn.Hardtanh(), nn.Mish(), Halved(),
], ids=lambda a: repr(a))
def test_unfusable_modules_run_unfused_with_alias_free_torchs_numbers(act):
    """A module the kernels have no form of (a setting they lack, a subclass whose forward may
    differ, another nonlinearity) runs unfused between the op's stages (it was refused): the
    numbers of alias-free-torch's block, gradients to its own parameters; in 2-D the separable
    filters along both axes (an input constant along H gives the 1-D rows)."""
    x = torch.randn(2, 3, 30, dtype=torch.float64)
    m1, m2 = AliasFreeActivation1d(act).double(), AliasFreeActivation2d(act).double()
    assert m1.act_name is None and "(unfused)" in repr(m1) and m1.act is act
    peer = aft.Activation1d(act).double()
    y = m1(x)
    assert _rel_err(y, peer(x)) < 1e-6
    y2 = m2(x.unsqueeze(2).expand(2, 3, 5, 30))
    assert y2.shape == (2, 3, 5, 30)
    # (to the float32 taps' phase sums along H, ±1e-8)
    torch.testing.assert_close(y2, y.unsqueeze(2).expand_as(y2), rtol=1e-7, atol=1e-8)
    for p in act.parameters():
        (g,) = torch.autograd.grad(m1(x).square().sum(), p)
        (g_peer,) = torch.autograd.grad(peer(x).square().sum(), p)
        assert _rel_err(g, g_peer) < 1e-6
    # BigVGAN's blocks compute it the same way
    assert _rel_err(bigvgan.Activation1d(act).double()(x), peer(x)) < 1e-6


def test_a_module_that_changes_the_channels_runs_as_alias_free_torchs():
    """alias-free-torch's block takes any module, one mixing channels too (Conv1d(4, 8, 1));
    routing the unfused path through the op refused it ("act must be element-wise")."""
    torch.manual_seed(0)
    mix = nn.Conv1d(4, 8, 1).double()
    x = torch.randn(2, 4, 50, dtype=torch.float64)
    peer = aft.Activation1d(mix).double()
    for ours in (bigvgan.Activation1d(mix).double(), AliasFreeActivation1d(mix).double()):
        y = ours(x)
        assert y.shape == (2, 8, 50)
        assert _rel_err(y, peer(x)) < 1e-6


def test_functions_as_activations_and_settings_changed_later():
    """A plain function is an activation too (unfused); a fused module whose setting changes
    to one the kernels lack (nn.ELU's alpha) switches to the unfused path at the next call."""
    x = torch.randn(1, 2, 24, dtype=torch.float64)
    by_fn = AliasFreeActivation1d(torch.nn.functional.mish).double()
    assert "act=mish (unfused)" in repr(by_fn)
    assert _rel_err(by_fn(x), AliasFreeActivation1d(nn.Mish()).double()(x)) < 1e-12
    elu = nn.ELU()
    m = AliasFreeActivation1d(elu).double()
    assert m.act_name == "elu" and "act='elu'" in repr(m)
    elu.alpha = 0.5
    assert "act=ELU (unfused)" in repr(m)
    assert _rel_err(m(x), aft.Activation1d(elu).double()(x)) < 1e-6


def test_softplus_and_celu_modules_fuse():
    """nn.Softplus() (beta 1, threshold 20) is the op's 'softplus', threshold included (x itself
    above 20, on every CPU backend); nn.CELU() is ELU. Both fuse, with gain 1."""
    from bandlimit import ops

    x = torch.cat([torch.linspace(-60, 60, 1201, dtype=torch.float64),
                   torch.tensor([20.0, 20 - 1e-12, 20 + 1e-12, 19.9, 20.1], dtype=torch.float64)])
    for impl in ("ref", "numba"):
        y = ops.filtered_act1d(x.view(1, 1, -1), "softplus", gain=1.0, impl=impl).flatten()
        torch.testing.assert_close(y, nn.functional.softplus(x), rtol=1e-15, atol=0)
    for act in (nn.Softplus(), nn.CELU()):
        m1, m2 = AliasFreeActivation1d(act).double(), AliasFreeActivation2d(act)
        assert m1.gain == 1.0 and m1.act_name == ("softplus" if act._get_name() == "Softplus"
                                                 else "elu")
        # the unfused maths (BigVGAN's filters, replicate padding), inputs up to ±30
        x1 = torch.randn(2, 3, 50, dtype=torch.float64) * 12
        up, down = bigvgan.UpSample1d(2).double(), bigvgan.DownSample1d(2).double()
        torch.testing.assert_close(m1(x1), down(act(up(x1))), rtol=1e-12, atol=1e-12)
        assert _rel_err(bigvgan.Activation1d(act).double()(x1),
                        aft.Activation1d(act).double()(x1)) < 1e-6
        assert m2(torch.randn(1, 2, 8, 9)).shape == (1, 2, 8, 9)


def test_a_module_given_the_other_dimensionality_names_the_other_module():
    """The op's message pointed a module user to the 1-D ops; the module points to its twin."""
    with pytest.raises(ValueError, match=r"AliasFreeActivation2d takes \[N, C, H, W\], got shape "
                                         r"\(1, 4, 16\); for one image \[C, H, W\] add the "
                                         r"batch axis \(x\[None\]\); for \[N, C, L\] signals "
                                         r"use AliasFreeActivation1d"):
        AliasFreeActivation2d("gelu")(torch.randn(1, 4, 16))
    with pytest.raises(ValueError, match=r"takes \[N, C, L\], got shape \(4, 16\); for one "
                                         r"signal \[C, L\] add the batch axis \(x\[None\]\)$"):
        AliasFreeActivation1d("gelu")(torch.randn(4, 16))
    with pytest.raises(ValueError, match=r"AliasFreeActivation1d takes \[N, C, L\].*for "
                                         r"\[N, C, H, W\] images use AliasFreeActivation2d"):
        AliasFreeActivation1d("gelu")(torch.randn(1, 4, 8, 8))


def test_every_documented_module_fuses():
    """The modules resolve_activation's docstring lists run the fused op (named, gain 1)."""
    listed = [Snake(2), SnakeBeta(2), nn.LeakyReLU(), nn.ReLU(), nn.GELU(), nn.SiLU(), nn.Tanh(),
              nn.Sigmoid(), nn.ELU(), nn.CELU(), nn.SELU(), nn.Softplus(), nn.Identity()]
    for module in listed:
        m = AliasFreeActivation1d(module)
        assert m.act_name is not None and "unfused" not in repr(m), module
        m(torch.randn(1, 2, 16))


@pytest.mark.parametrize("cls", [AliasFreeActivation1d, AliasFreeActivation2d])
def test_activation_modules_take_a_backend(cls):
    """``impl`` reaches the op: 'ref' gives the fused backend's output, and a program exported
    with it holds only ATen operators (the README's way to a portable export)."""
    shape = (1, 3, 24) if cls is AliasFreeActivation1d else (1, 3, 12, 12)
    x = torch.randn(*shape)
    fused, ref = cls(SnakeBeta(3)), cls(SnakeBeta(3), impl="ref")
    ref.load_state_dict(fused.state_dict())
    torch.testing.assert_close(ref(x), fused(x), rtol=1e-5, atol=1e-6)
    program = torch.export.export(ref.eval(), (x,))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("bandlimit" in t for t in targets), targets
    assert "impl='ref'" in repr(ref) and "impl" not in repr(fused)
    with pytest.raises(ValueError, match=r"impl must be one of .*got 'fast'"):
        cls("gelu", impl="fast")


def test_names_use_the_op_gain_modules_gain_one():
    """As the class docstrings say near their top: 'relu', 'lrelu' and 'silu' given by name use
    the op's gain √2, the same activation as a module gain 1 (other names have gain 1)."""
    x = torch.randn(1, 2, 30, dtype=torch.float64)
    for name, module in (("silu", nn.SiLU()), ("relu", nn.ReLU()),
                         ("lrelu", nn.LeakyReLU(0.2)), ("gelu", nn.GELU()), ("tanh", nn.Tanh())):
        by_name = AliasFreeActivation1d(name).double()(x)
        by_module = AliasFreeActivation1d(module).double()(x)
        gain = math.sqrt(2) if name in ("silu", "relu", "lrelu") else 1.0
        torch.testing.assert_close(by_name, gain * by_module, rtol=1e-12, atol=1e-12)
    for cls in (AliasFreeActivation1d, AliasFreeActivation2d):
        doc = cls.__doc__ or ""
        first = " ".join(" ".join(doc.split("\n\n")[:2]).split())  # the summary and the next
        assert "√2" in first and "gain 1" in first, first
        assert "'silu'" in first and "nn.SiLU()" in first, first


def test_channel_mismatch_names_the_input_channels():
    """4 channels fed to a SnakeBeta block built for 8: the message names both sides."""
    block = AliasFreeActivation2d(SnakeBeta(8))
    x = torch.randn(1, 4, 6, 6)
    with pytest.raises(ValueError, match=r"alpha must have shape \[4\] .* got shape \(8,\): "
                                         r"the input x has 4 channels \(x\.shape = "
                                         r"\(1, 4, 6, 6\)\)"):
        block(x)
    with pytest.raises(ValueError, match=r"the input x has 4 channels \(x\.shape = \(2, 4, 9\)\)"):
        bigvgan.Activation1d(SnakeBeta(8))(torch.randn(2, 4, 9))


def test_radial_down_filter_is_the_jinc_and_turns_better():
    """radial=True: the op with the separable up filter and, as the down filter, a jinc
    (cutoff 0.5/down) under the 2-D Kaiser window of the filter convention for half width
    0.6/down (a float64 loop oracle: scipy's β over K − 1 taps, or BigVGAN's over K//2 − 1);
    rotation equivariance gains on average."""
    from bandlimit import ops
    from bandlimit.filters import kaiser_sinc, kaiser_sinc_bigvgan
    from bandlimit.nn.activation import bigvgan_paddings
    from bandlimit.testing import assert_rotation_equivariant, make_bandlimited_signal
    from tests.filters.oracle import beta_oracle, jinc_oracle, window_oracle

    def bigvgan_jinc(k, cutoff, half_width):
        beta = beta_oracle(2.285 * (k // 2 - 1) * math.pi * 4 * half_width + 7.95)
        w = window_oracle(k, beta)
        f = np.empty((k, k))
        for i in range(k):
            for j in range(k):
                r = math.hypot(i - (k - 1) / 2, j - (k - 1) / 2)
                jinc = (cutoff if r == 0
                        else scipy.special.j1(2 * math.pi * cutoff * r) / (math.pi * r))
                f[i, j] = jinc * w[i] * w[j]
        return f / f.sum()

    x = torch.randn(2, 3, 17, 20, dtype=torch.float64)
    for (up, down, k), filt in itertools.product(((2, 2, 12), (3, 2, 10), (1, 2, 9)),
                                                 ("bigvgan", "scipy")):  # fmt: skip
        if filt == "scipy" and up == 1:
            continue  # (filter='scipy' at up = 1 needs a cutoff: refused, as the 1-D module)
        m = AliasFreeActivation2d("gelu", up, down, k, radial=True, padding_mode="zeros",
                                  filter=filt)  # fmt: skip
        assert m.fd.shape == (k, k) and m.fd.dtype == torch.float32 and "radial=True" in repr(m)
        if filt == "bigvgan":
            fu = kaiser_sinc_bigvgan(0.5 / up, 0.6 / up, k, dtype=torch.float64)
            fd = torch.from_numpy(bigvgan_jinc(k, 0.5 / down, 0.6 / down))
        else:
            fu = kaiser_sinc(k, 0.5 / up, 1.2 / up, 1.0, dtype=torch.float64)
            fd = torch.from_numpy(jinc_oracle(k, 0.5 / down, 1.2 / down, 1.0))
        (pu, _), (_, pd) = bigvgan_paddings(up, k), bigvgan_paddings(down, k)  # (tested above)
        want = ops.filtered_act(x, "gelu", fu, fd, up=up, down=down, padding=pu * 2,
                                down_padding=pd * 2, padding_mode="zeros", impl="ref")
        torch.testing.assert_close(m.double()(x), want, rtol=1e-6, atol=1e-6)
    # Per signal the gain varies (-1 to +3.5 dB: the rotation's own interpolation error
    # depends on the content); over six signals and two angles it is +1.8 dB (measured), most
    # of it, for ReLU, the disc's smaller pass band (see the module's docstring).
    psnr: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(6):
        s = make_bandlimited_signal(np.random.default_rng(seed), (64, 64), bandwidth=0.25)
        for radial, angle in itertools.product((False, True), (0.3, 0.785)):
            act = AliasFreeActivation2d("relu", filter="scipy", radial=radial)
            psnr[radial].append(assert_rotation_equivariant(act, s, angle, min_psnr=0,
                                                            dtype=torch.float64))  # fmt: skip
    assert np.mean(psnr[True]) > np.mean(psnr[False]) + 1.0, psnr
    with pytest.raises(ValueError, match=r"radial=True is a 2-D down filter "
                       r"\(AliasFreeActivation2d\), not one of AliasFreeActivation1d"):
        AliasFreeActivation1d("gelu", radial=True)
    with pytest.raises(TypeError, match=r"radial must be a bool, got 'yes'"):
        AliasFreeActivation2d("gelu", radial="yes")
    with pytest.raises(ValueError, match=r"radial=True needs a down-filter cutoff < 0\.5 "
                       r"\(Nyquist\), got cutoff=0\.5 \(the default 0\.5/down for down=1\)"):
        AliasFreeActivation2d("gelu", up=2, down=1, radial=True)
    assert AliasFreeActivation2d("gelu", 2, 1, radial=True, cutoff=0.25).fd.shape == (12, 12)
    with pytest.raises(ValueError, match=r"half_width must be <= [\d.]+ for kernel_size=64 with "
                       r"(radial=True, )?filter='scipy' \(Kaiser's beta would overflow\), got 5"):
        AliasFreeActivation2d("gelu", kernel_size=64, half_width=5.0, radial=True,
                              filter="scipy")  # fmt: skip
    with pytest.raises(ValueError, match=r"half_width must be <= [\d.]+ for kernel_size = 64"):
        AliasFreeActivation2d("gelu", kernel_size=64, half_width=50.0, radial=True)
