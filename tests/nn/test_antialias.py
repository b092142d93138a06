"""antialias(model): output sizes kept, numbers = a float64 blur-pool of the dense layer (2-D
and 1-D), the blur after a Sequential's activation, parameters and state-dict keys kept,
idempotent, torch features, bad input."""

from __future__ import annotations

import collections
import copy
import io
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bandlimit.nn import antialias
from bandlimit.nn.pool import binomial_filter
from tests.nn.oracle import np_blurpool, np_blurpool1d, np_blurpool3d, np_blurpool_per_axis
from tests.ops.strategies import IMPLS

F64 = torch.float64


def _layer(kind, k, s, p, d, c=3):
    if kind == "conv":
        return nn.Conv2d(c, 4, k, stride=s, padding=p, dilation=d, bias=True).double()
    if kind == "max_pool":
        return nn.MaxPool2d(k, stride=s, padding=min(p, k // 2))
    return nn.AvgPool2d(k, stride=s, padding=min(p, k // 2), count_include_pad=bool(d % 2))


def _dense(layer, x):
    """The layer at stride 1, computed with torch's functional ops (the reference)."""
    if isinstance(layer, nn.Conv2d):
        return F.conv2d(x, layer.weight, layer.bias, 1, layer.padding, layer.dilation)
    if isinstance(layer, nn.MaxPool2d):
        return F.max_pool2d(x, layer.kernel_size, 1, layer.padding)
    return F.avg_pool2d(x, layer.kernel_size, 1, layer.padding,
                        count_include_pad=layer.count_include_pad)  # fmt: skip


def _blurred(t: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """A float64 3-tap binomial blur-pool (reflect) of a map."""
    return torch.from_numpy(np_blurpool(t.numpy(), binomial_filter(3).numpy(), stride, "reflect"))


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["conv", "max_pool", "avg_pool"]), k=st.integers(1, 5),
       s=st.integers(2, 4), p=st.integers(0, 2), d=st.integers(1, 2), h=st.integers(9, 17),
       w=st.integers(9, 17), blur=st.integers(1, 5),
       mode=st.sampled_from(["reflect", "replicate", "zeros", "circular"]),
       seed=st.integers(0, 2**31))  # fmt: skip
def test_sizes_are_kept_and_numbers_are_the_blurred_dense_layer(impl, kind, k, s, p, d, h, w,
                                                                blur, mode, seed):
    torch.manual_seed(seed)
    layer = _layer(kind, k, s, p, d)
    x = torch.randn(2, 3, h, w, dtype=F64)
    before = layer(x)
    assert antialias(layer, kernel_size=blur, padding_mode=mode, impl=impl) == {"": layer}
    after = layer(x)
    assert after.shape == before.shape
    want = np_blurpool(_dense(layer, x).detach().numpy(), binomial_filter(blur).numpy(), s, mode)
    np.testing.assert_allclose(after.detach().numpy(), want, rtol=1e-6, atol=1e-6)


def _net():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.AvgPool2d(2)),
        nn.Conv2d(8, 8, 1, stride=(2, 1)),  # per-axis: blurred along H only
        nn.Conv2d(8, 8, 1, stride=(2, 3)),  # two factors: left as it is
        nn.MaxPool2d(2, ceil_mode=True),  # other output sizes: left as it is
    )


def test_the_model_keeps_its_parameters_keys_and_sizes_and_a_second_call_changes_nothing():
    model = _net()
    params = list(model.parameters())
    keys = list(model.state_dict())
    x = torch.randn(2, 3, 33, 30)
    shape = model(x).shape
    changed = antialias(model)
    assert sorted(changed) == ["0", "2", "3.1", "4"]
    assert changed["0"] is model[0] and model[0].stride == (1, 1) and model[4].stride == (1, 1)
    assert model[4].antialias_blur.stride == (2, 1) and model[5].stride == (2, 3)
    assert list(model.parameters()) == params and list(model.state_dict()) == keys
    assert model(x).shape == shape
    assert antialias(model) == {}
    only = _net()
    assert sorted(antialias(only, layers=["max_pool"])) == ["2"]
    assert sorted(antialias(only, layers="conv")) == ["0", "4"]


def test_an_antialiased_layer_is_more_shift_consistent():
    """What it is for: a one-pixel shift of the input moves a stride-2 layer's output by half a
    pixel; with the blur the two outputs differ far less than with plain subsampling (Zhang's
    consistency, circular padding throughout so that the borders play no part)."""
    torch.manual_seed(0)
    plain = nn.Conv2d(4, 4, 3, stride=2, padding=1, padding_mode="circular").double()
    blurred = copy.deepcopy(plain)
    antialias(blurred, kernel_size=5, padding_mode="circular")
    x = torch.randn(8, 4, 32, 32, dtype=F64)
    shifted = x.roll(1, dims=-1)
    @torch.no_grad()
    def change(m):
        return float((m(x) - m(shifted)).square().mean() / m(x).square().mean())

    assert change(blurred) < 0.5 * change(plain)


def test_torch_features():
    model = _net()
    antialias(model)
    x = torch.randn(1, 3, 32, 32)
    y = model(x)
    torch.testing.assert_close(copy.deepcopy(model)(x), y)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    torch.testing.assert_close(torch.load(buffer, weights_only=False)(x), y)
    half = copy.deepcopy(model).to(torch.bfloat16)
    assert half(x.bfloat16()).dtype == torch.bfloat16
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x), y, rtol=1e-5, atol=1e-5)
    model(x).sum().backward()
    assert model[0].weight.grad is not None


def test_bad_input():
    with pytest.raises(TypeError, match=r"model must be an nn.Module, got list"):
        antialias([nn.Conv2d(1, 1, 3, stride=2)])
    with pytest.raises(ValueError, match=r"layers must name kinds among \('conv', 'max_pool', "
                       r"'avg_pool', 'conv_transpose'\), got \['conv2d'\]"):
        antialias(_net(), layers=["conv2d"])
    with pytest.raises(ValueError, match=r"kernel_size must be an int >= 1, got 0"):
        antialias(_net(), kernel_size=0)
    with pytest.raises(ValueError, match=r"padding_mode must be one of"):
        antialias(_net(), padding_mode="edge")
    with pytest.raises(ValueError, match=r"max_stride must be an int >= 2, got 1"):
        antialias(_net(), max_stride=1)


def test_what_the_layer_took_before_it_takes_after():
    """A map too small to reflect (a 16 x 16 input after a stem, a pool and convolutions, or a
    3 x 3 one here) was refused after antialias; it is replicated instead. A max pool that
    returns indices (for MaxUnpool) is left alone: its tuple crashed the blur."""
    conv = nn.Conv2d(3, 3, 3, stride=2).double()
    x = torch.randn(1, 3, 3, 3, dtype=F64)
    dense = F.conv2d(x, conv.weight, conv.bias)  # 1 x 1
    antialias(conv)
    want = np_blurpool(dense.detach().numpy(), binomial_filter(3).numpy(), 2, "replicate")
    np.testing.assert_allclose(conv(x).detach().numpy(), want, rtol=1e-12)
    unpool = nn.MaxPool2d(2, 2, return_indices=True)
    assert antialias(nn.Sequential(unpool)) == {} and unpool.stride == 2
    y, idx = unpool(torch.randn(1, 1, 8, 8))
    assert y.shape == idx.shape == (1, 1, 4, 4)


def test_earlier_hooks_see_the_output_the_model_computes():
    """Hooks registered before antialias (feature capture, Grad-CAM) saw the dense output."""
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    seen = []
    conv.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    antialias(conv)
    assert conv(torch.randn(1, 3, 16, 16)).shape == (1, 4, 8, 8) and seen == [(1, 4, 8, 8)]


def test_the_blur_widens_with_the_stride_and_large_strides_are_left_alone():
    """A 3-tap blur keeps 75 % of the amplitude at stride 3's new Nyquist frequency: the
    default is 2·stride − 1 taps; a stride beyond max_stride (a 16 x 16 patchify conv) would
    cost 256x the work for a blur that hardly filters, and is left alone."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.Conv2d(4, 4, 3, stride=3),
                          nn.Conv2d(4, 4, 16, stride=16), nn.MaxPool2d(4))  # fmt: skip
    changed = antialias(model)
    assert sorted(changed) == ["0", "1", "3"]
    assert [model[i].antialias_blur.kernel_size for i in (0, 1, 3)] == [3, 5, 7]
    assert model[2].stride == (16, 16)
    assert sorted(antialias(nn.Sequential(nn.Conv2d(3, 4, 16, stride=16)), max_stride=16))
    assert antialias(nn.Sequential(nn.Conv2d(3, 4, 3, stride=3)), kernel_size=3)["0"] \
        .antialias_blur.kernel_size == 3


def test_kaiser_blurs_have_4_stride_plus_1_taps_and_are_more_shift_consistent_at_stride_3():
    """filter='kaiser': 4·stride + 1 taps by default; at stride 3, where the 5-tap binomial leaves
    −12 dB of the aliases, a one-pixel shift changes the output less than with it."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.MaxPool2d(3))
    antialias(model, filter="kaiser")
    assert [model[i].antialias_blur.kernel_size for i in (0, 1)] == [9, 13]
    torch.testing.assert_close(model[1].antialias_blur.filter.sum(), torch.tensor(1.0))

    torch.manual_seed(0)
    plain = nn.Conv2d(4, 4, 3, stride=3, padding=1, padding_mode="circular").double()
    binomial, kaiser = copy.deepcopy(plain), copy.deepcopy(plain)
    antialias(binomial, padding_mode="circular")
    antialias(kaiser, filter="kaiser", padding_mode="circular")
    x = torch.randn(8, 4, 48, 48, dtype=F64)
    shifted = x.roll(1, dims=-1)

    @torch.no_grad()
    def change(m):
        return float((m(x) - m(shifted)).square().mean() / m(x).square().mean())

    assert change(kaiser) < 0.8 * change(binomial) < 0.8 * change(plain)
    with pytest.raises(ValueError, match=r"filter must be 'binomial' or 'kaiser'"):
        antialias(nn.Conv2d(3, 4, 3, stride=2), filter="box")


def test_the_blur_follows_the_activation_of_a_sequential_conv_block():
    """Zhang's placement: Conv(stride 1) → BN → ReLU → blur-pool, the numbers of a float64
    blur-pool of the dense block; a shared activation, a custom forward or
    after_activation=False keep the blur on the convolution."""
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4),
                          nn.LeakyReLU(0.1), nn.Conv2d(4, 4, 3, padding=1))  # fmt: skip
    block = block.double().eval()
    with torch.no_grad():
        block[1].running_mean.normal_()
        block[1].running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 16, 16, dtype=F64)
    dense = F.leaky_relu(block[1](_dense(block[0], x)), 0.1)
    taps = binomial_filter(3).numpy()
    want = block[3](torch.from_numpy(np_blurpool(dense.detach().numpy(), taps, 2, "reflect")))
    keys = list(block.state_dict())
    assert sorted(antialias(block)) == ["0"]
    assert hasattr(block[2], "antialias_blur") and not hasattr(block[0], "antialias_blur")
    with torch.no_grad():
        torch.testing.assert_close(block(x), want)
    assert list(block.state_dict()) == keys and sorted(antialias(block)) == []

    # A shared activation holds no blur: the module it feeds blurs its input (a pre-hook).
    shared = nn.ReLU()
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), shared, nn.Conv2d(4, 4, 3), shared)
    model = model.double()
    x = torch.randn(2, 3, 15, 16, dtype=F64)
    with torch.no_grad():
        want = F.relu(model[2](_blurred(F.relu(_dense(model[0], x)))))
    antialias(model)
    assert not hasattr(model[0], "antialias_blur") and not hasattr(shared, "antialias_blur")
    assert hasattr(model[2], "antialias_input_blur")
    with torch.no_grad():
        torch.testing.assert_close(model(x), want, rtol=1e-12, atol=1e-12)
    again = nn.ReLU()
    tail = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), again, again)  # (it feeds itself)
    antialias(tail)
    assert hasattr(tail[0], "antialias_blur")

    class Custom(nn.Sequential):  # a forward that does not chain the children
        def forward(self, x):
            return self[0](x)

    custom = Custom(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU())
    antialias(custom)
    assert hasattr(custom[0], "antialias_blur")
    plain = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU())
    antialias(plain, after_activation=False)
    assert hasattr(plain[0], "antialias_blur") and not hasattr(plain[1], "antialias_blur")
    with pytest.raises(TypeError, match=r"after_activation"):
        antialias(plain, after_activation="yes")


@pytest.mark.parametrize("filter", ["binomial", "kaiser"])
def test_one_d_layers_get_a_one_d_blur_pool(filter):
    """Conv1d / MaxPool1d / AvgPool1d (a waveform encoder): sizes kept at every length, the
    numbers a float64 blur-pool of the dense layer, the blur after a Sequential's activation."""
    torch.manual_seed(0)
    conv = nn.Conv1d(2, 3, 5, stride=3, padding=2).double()
    x = torch.randn(2, 2, 40, dtype=F64)
    dense = F.conv1d(x, conv.weight, conv.bias, 1, conv.padding)
    antialias(conv, filter=filter)
    taps = conv.antialias_blur.filter.double().numpy()
    assert conv.stride == (1,) and len(taps) == (13 if filter == "kaiser" else 5)
    with torch.no_grad():
        want = np_blurpool1d(dense.numpy(), taps, 3, "reflect")
        np.testing.assert_allclose(conv(x).numpy(), want, rtol=1e-12, atol=1e-12)

    model = nn.Sequential(nn.Conv1d(1, 4, 7, stride=2, padding=3), nn.BatchNorm1d(4),
                          nn.LeakyReLU(0.1), nn.MaxPool1d(4), nn.AvgPool1d(2))  # fmt: skip
    lengths = range(24, 40)
    before = [model(torch.randn(1, 1, n)).shape for n in lengths]
    assert sorted(antialias(model, filter=filter)) == ["0", "3", "4"]
    assert hasattr(model[2], "antialias_blur") and not hasattr(model[0], "antialias_blur")
    assert [model(torch.randn(1, 1, n)).shape for n in lengths] == before


def test_three_d_layers_get_a_three_d_blur_pool():
    """Conv3d / MaxPool3d / AvgPool3d (a video or volume CNN): sizes kept, the numbers a float64
    blur-pool of the dense layer; per-axis strides (1, 2, 2) too, on H and W only."""
    torch.manual_seed(0)
    conv = nn.Conv3d(2, 3, 3, stride=2, padding=1).double()
    x = torch.randn(1, 2, 6, 7, 8, dtype=F64)
    dense = F.conv3d(x, conv.weight, conv.bias, 1, conv.padding)
    antialias(conv)
    assert conv.stride == (1, 1, 1)
    want = np_blurpool3d(dense.detach().numpy(), conv.antialias_blur.filter.double(), 2, "reflect")
    with torch.no_grad():
        np.testing.assert_allclose(conv(x).numpy(), want, rtol=1e-12, atol=1e-12)

    model = nn.Sequential(nn.Conv3d(1, 4, 3, stride=2, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                          nn.MaxPool3d(2), nn.AvgPool3d(2), nn.Conv3d(4, 4, 1, stride=(1, 2, 2)))
    sizes = [(8, 16, 16), (9, 17, 15), (12, 12, 20)]
    before = [model(torch.randn(1, 1, *s)).shape for s in sizes]
    assert sorted(antialias(model)) == ["0", "3", "4", "5"]
    assert hasattr(model[2], "antialias_blur") and model[5].stride == (1, 1, 1)
    assert [model(torch.randn(1, 1, *s)).shape for s in sizes] == before


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("stride", "mode", "filt"), [
    ((1, 2, 2), "reflect", "binomial"),   # video networks' spatial stride
    ((2, 1, 1), "zeros", "kaiser"),        # (2+1)-D networks' temporal stride
    ((2, 1, 2), "circular", "binomial"),
    ((3, 3, 1), "replicate", "kaiser"),
])  # fmt: skip
def test_per_axis_strides_blur_the_strided_axes_only(impl, stride, mode, filt):
    """A Conv3d with stride 1 on some axes: antialias takes it over on the strided axes (the
    float64 per-axis blur-pool of the dense layer, the other axes untouched), sizes kept."""
    torch.manual_seed(1)
    conv = nn.Conv3d(2, 3, 3, stride=stride, padding=1).double()
    x = torch.randn(1, 2, 7, 8, 9, dtype=F64)
    before = conv(x).shape
    dense = F.conv3d(x, conv.weight, conv.bias, 1, conv.padding)
    assert antialias(conv, filter=filt, padding_mode=mode, impl=impl) == {"": conv}
    assert conv.stride == (1, 1, 1) and conv.antialias_blur.stride == stride
    with torch.no_grad():
        y = conv(x)
    assert y.shape == before
    want = np_blurpool_per_axis(dense.detach().numpy(), conv.antialias_blur.filter.double(),
                                stride, mode)  # fmt: skip
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


def test_a_2d_per_axis_stride_and_a_pool_given_by_its_kernel():
    """(2, 1) / (1, 2) strides in 2-D (spectrogram networks), and a MaxPool2d((1, 2)) whose
    stride is its kernel size: blurred along the strided axis only, sizes kept."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=(2, 1), padding=1), nn.MaxPool2d((1, 2)))
    model = model.double()
    x = torch.randn(2, 1, 12, 17, dtype=F64)
    before = model(x).shape
    assert sorted(antialias(model, padding_mode="replicate")) == ["0", "1"]
    assert model[0].antialias_blur.stride == (2, 1) and model[1].antialias_blur.stride == (1, 2)
    with torch.no_grad():
        y = model(x)
        dense = F.conv2d(x, model[0].weight, model[0].bias, 1, 1)
        h = np_blurpool_per_axis(dense.numpy(), model[0].antialias_blur.filter.double(), (2, 1),
                                 "replicate")  # fmt: skip
        m = F.max_pool2d(torch.from_numpy(h), (1, 2), 1).numpy()
    want = np_blurpool_per_axis(m, model[1].antialias_blur.filter.double(), (1, 2), "replicate")
    assert y.shape == before
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


class _Conv2Plus1D(nn.Sequential):
    """A (2+1)-D block as video ResNets build it: a spatial convolution of stride (1, s, s),
    norm, activation, then a temporal one of stride (s, 1, 1) as its last child."""

    def __init__(self, cin: int, cout: int, mid: int, s: int):
        super().__init__(
            nn.Conv3d(cin, mid, (1, 3, 3), stride=(1, s, s), padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(mid), nn.ReLU(inplace=True),
            nn.Conv3d(mid, cout, (3, 1, 1), stride=(s, 1, 1), padding=(1, 0, 0), bias=False),
        )


def test_nested_sequentials_are_read_in_the_order_they_run():
    """The temporal convolution is its block's last child; the norm and activation after it
    are the parent's: the blur goes after that activation (Zhang's placement), as for the
    spatial one inside the block. Numbers: the dense layers and float64 blur-pools in order."""
    torch.manual_seed(3)
    model = nn.Sequential(_Conv2Plus1D(2, 3, 4, 2), nn.BatchNorm3d(3), nn.ReLU()).double().eval()
    x = torch.randn(1, 2, 6, 9, 8, dtype=F64)
    before = model(x).shape
    assert sorted(antialias(model, padding_mode="replicate")) == ["0.0", "0.3"]
    block = model[0]
    assert hasattr(block[2], "antialias_blur") and hasattr(model[2], "antialias_blur")
    assert not hasattr(block[3], "antialias_blur")
    with torch.no_grad():
        y = model(x)
        t = F.relu(block[1](F.conv3d(x, block[0].weight, None, 1, block[0].padding)))
        t = np_blurpool_per_axis(t.numpy(), block[2].antialias_blur.filter.double(), (1, 2, 2),
                                 "replicate")  # fmt: skip
        t = F.relu(model[1](F.conv3d(torch.from_numpy(t), block[3].weight, None, 1,
                                     block[3].padding)))  # fmt: skip
        want = np_blurpool_per_axis(t.numpy(), model[2].antialias_blur.filter.double(),
                                    (2, 1, 1), "replicate")  # fmt: skip
    assert y.shape == before
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12, atol=1e-12)


def test_pools_of_any_dimension_keep_their_exclusions_unbatched_inputs_and_fusion():
    """ceil_mode / return_indices pools of every dimension are left alone; unbatched inputs
    ([C, L], [C, H, W]) keep working; a Conv-BN-ReLU block fused by torch.ao keeps its blur
    (the hook is bound to its blur-pool)."""
    pools = (nn.MaxPool1d(3, 2, ceil_mode=True), nn.AvgPool1d(3, 2, ceil_mode=True),
             nn.MaxPool1d(2, 2, return_indices=True), nn.MaxPool3d(2, ceil_mode=True))
    for pool in pools:
        assert antialias(pool) == {}
    conv1, conv2 = nn.Conv1d(2, 3, 3, 2, 1), nn.Conv2d(2, 3, 3, 2, 1)
    want1, want2 = conv1(torch.randn(2, 17)).shape, conv2(torch.randn(2, 9, 9)).shape
    antialias(conv1)
    antialias(conv2)
    x1, x2 = torch.randn(2, 17), torch.randn(2, 9, 9)
    assert conv1(x1).shape == want1 and conv2(x2).shape == want2
    torch.testing.assert_close(conv1(x1), conv1(x1[None])[0])
    torch.testing.assert_close(conv2(x2), conv2(x2[None])[0])

    from torch.ao.quantization import fuse_modules

    block = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.ReLU()).eval()
    antialias(block)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        want = block(x)
        torch.testing.assert_close(fuse_modules(block, [["0", "1", "2"]])(x), want)


class _Bottleneck(nn.Module):
    """A timm-style ResNet bottleneck: one activation module per call, the stride on conv2,
    a strided 1 x 1 shortcut whose output meets the main path at an addition."""

    def __init__(self, c: int = 4, stride: int = 2):
        super().__init__()
        self.conv1, self.bn1, self.act1 = nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU()
        self.conv2 = nn.Conv2d(c, c, 3, stride=stride, padding=1)
        self.bn2, self.drop, self.act2 = nn.BatchNorm2d(c), nn.Dropout(0.0), nn.GELU()
        self.conv3, self.bn3, self.act3 = nn.Conv2d(c, c, 1), nn.BatchNorm2d(c), nn.ReLU()
        self.downsample = nn.Sequential(nn.Conv2d(c, c, 1, stride=stride), nn.BatchNorm2d(c))
        self.calls = 0

    def forward(self, x):
        self.calls += 1  # (a forward with a side effect: tracing must not run it for real)
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.act2(self.drop(self.bn2(self.conv2(y))))
        y = self.bn3(self.conv3(y))
        return self.act3(y + self.downsample(x))


class _BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock: one ReLU module called twice, the stride on conv1."""

    def __init__(self, c: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False)
        self.bn1, self.relu = nn.BatchNorm2d(c), nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = nn.Sequential(nn.Conv2d(c, c, 1, stride=2, bias=False),
                                        nn.BatchNorm2d(c))  # fmt: skip

    def forward(self, x):
        identity = x
        out = self.conv1(x)
        out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        out = self.bn2(out)
        identity = self.downsample(x)
        out += identity
        return self.relu(out)


def test_the_blur_follows_an_activation_called_in_a_forward_method():
    """Zhang's placement read from a forward's data flow (torch.fx): conv2 → BN → Dropout →
    GELU gets its blur after the GELU; the shortcut convolution, whose output meets an
    addition, after itself; the numbers are float64 blur-pools of the dense block. Tracing
    changes nothing of the model (its step counter)."""
    torch.manual_seed(1)
    block = _Bottleneck().double().eval()
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 13, 14, dtype=F64)
    before = block(x).shape
    calls = block.calls
    keys = list(block.state_dict())
    assert sorted(antialias(block)) == ["conv2", "downsample.0"]
    assert block.calls == calls and list(block.state_dict()) == keys
    assert hasattr(block.act2, "antialias_blur") and not hasattr(block.conv2, "antialias_blur")
    assert hasattr(block.downsample[0], "antialias_blur")
    assert not hasattr(block.act3, "antialias_blur")
    with torch.no_grad():
        y = block.act1(block.bn1(block.conv1(x)))
        y = _blurred(F.gelu(block.bn2(_dense(block.conv2, y))))
        y = block.bn3(block.conv3(y))
        shortcut = block.downsample[1](_blurred(_dense(block.downsample[0], x)))
        want = F.relu(y + shortcut)
        got = block(x)
    assert got.shape == before
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_an_activation_the_forward_reaches_in_other_ways_is_not_taken():
    """A convolution whose output is also used elsewhere, a call by keyword and a forward
    torch.fx cannot trace keep the blur on the convolution; a Sequential(conv, BN) child
    followed by the forward's activation moves it."""

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.act = nn.Conv2d(3, 3, 3, stride=2, padding=1), nn.ReLU()

        def forward(self, x):
            y = self.conv(x)
            return self.act(y) + y

    class Untraceable(Reused):
        def forward(self, x):
            if x.sum() > 0:  # (control flow on the data)
                return self.act(self.conv(x))
            return self.act(self.conv(-x))

    class ByKeyword(Reused):
        def forward(self, x):
            return self.act(input=self.conv(x))  # (not the plain call: left alone)

    class ChildSequential(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 3, 3, stride=2, padding=1), nn.BatchNorm2d(3))
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.stem(x))

    for cls, on_act in ((Reused, False), (Untraceable, False), (ByKeyword, False),
                        (ChildSequential, True)):  # fmt: skip
        model = cls()
        x = torch.randn(1, 3, 9, 10)
        before = model(x).shape
        antialias(model)
        conv = model.stem[0] if cls is ChildSequential else model.conv
        assert hasattr(model.act, "antialias_blur") is on_act, cls.__name__
        assert hasattr(conv, "antialias_blur") is not on_act, cls.__name__
        assert model(x).shape == before


def test_a_shared_relu_in_a_forward_blurs_the_input_of_what_it_feeds():
    """torchvision's BasicBlock calls one ReLU twice: the blur goes on conv2's input (a
    pre-hook), after the ReLU's first call, as Zhang places it; the shortcut's convolution
    meets an addition and is blurred after itself. Numbers: float64 blur-pools of the dense
    block; in training mode too (the batch norms see the dense maps)."""
    torch.manual_seed(2)
    block = _BasicBlock().double()
    x = torch.randn(2, 4, 14, 13, dtype=F64)
    before = block(x).shape
    ref = copy.deepcopy(block)
    assert sorted(antialias(block)) == ["conv1", "downsample.0"]
    assert hasattr(block.conv2, "antialias_input_blur")
    assert not hasattr(block.relu, "antialias_blur") and not hasattr(block.conv1, "antialias_blur")
    assert hasattr(block.downsample[0], "antialias_blur")
    for train in (False, True):
        block.train(train), ref.train(train)
        with torch.no_grad():
            y = F.relu(ref.bn1(_dense(ref.conv1, x)))
            y = ref.bn2(ref.conv2(_blurred(y)))
            want = F.relu(y + ref.downsample[1](_blurred(_dense(ref.downsample[0], x))))
            got = block(x)
        assert got.shape == before
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert sorted(antialias(block)) == []
    # The pre-hook follows copies, pickling and torch.compile (one graph: dynamo, eager).
    block.eval()
    with torch.no_grad():
        want = block(x)
        buf = io.BytesIO()
        torch.save(block, buf)
        buf.seek(0)
        for other in (copy.deepcopy(block), torch.load(buf, weights_only=False),
                      torch.compile(block, backend="eager", fullgraph=True)):  # fmt: skip
            torch.testing.assert_close(other(x), want, rtol=0, atol=0)


@pytest.mark.parametrize("filt", ["binomial", "kaiser"])
@pytest.mark.parametrize("mode", ["reflect", "zeros", "circular"])
def test_transposed_convolutions_get_their_images_filtered_on_request(filt, mode):
    """'conv_transpose': the layer keeps its stride; its output is blurred at its own rate by
    the blur of its stride (float64 oracle: a blur-pool of stride 1), sizes kept (1-D, 2-D,
    and 3-D with a spatial-only (1, 2, 2) stride: the frames blurred, the depth not); not
    done by default; a second call changes nothing."""
    torch.manual_seed(4)
    up2 = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1).double()
    up1 = nn.ConvTranspose1d(3, 4, 4, stride=3, padding=1).double()
    up3 = nn.ConvTranspose3d(2, 3, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)).double()
    x2, x1 = torch.randn(2, 3, 7, 9, dtype=F64), torch.randn(2, 3, 11, dtype=F64)
    x3 = torch.randn(1, 2, 4, 6, 5, dtype=F64)
    model = nn.Sequential(up2)
    assert antialias(model) == {} and not hasattr(up2, "antialias_blur")
    with torch.no_grad():
        dense = [up2(x2), up1(x1), up3(x3)]
    for layer in (up2, up1, up3):
        assert antialias(layer, layers=["conv_transpose"], filter=filt, padding_mode=mode) == {
            "": layer}
        assert antialias(layer, layers=["conv_transpose"]) == {}
        assert max(layer.stride) in (2, 3)  # (kept)
    taps2 = up2.antialias_blur.filter.double().numpy()
    taps1 = up1.antialias_blur.filter.double().numpy()
    assert (len(taps2), len(taps1)) == ((9, 13) if filt == "kaiser" else (3, 5))
    with torch.no_grad():
        got = [up2(x2), up1(x1), up3(x3)]
    np.testing.assert_allclose(got[0].numpy(), np_blurpool(dense[0].numpy(), taps2, 1, mode),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(got[1].numpy(), np_blurpool1d(dense[1].numpy(), taps1, 1, mode),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    frames = dense[2].permute(0, 2, 1, 3, 4).reshape(-1, 3, *dense[2].shape[-2:]).numpy()
    want3 = np_blurpool(frames, taps2, 1, mode).reshape(1, 4, 3, *dense[2].shape[-2:])
    np.testing.assert_allclose(got[2].numpy(), want3.transpose(0, 2, 1, 3, 4), rtol=1e-12,
                               atol=1e-12)  # fmt: skip
    assert [g.shape for g in got] == [d.shape for d in dense]


@pytest.mark.parametrize(("stride", "k"), [(2, 3), (3, 4), (4, 6)])
def test_the_checkerboard_of_a_transposed_convolution_is_attenuated(stride, k):
    """A k x k kernel of ones at stride s overlaps unevenly: a constant input comes out as an
    s-periodic checkerboard (peak-to-peak 137-169 % of the mean). The blur of stride s removes
    it exactly at s = 2 (the 3-tap binomial is 0 at the Nyquist frequency, where it lives) and
    leaves 9 % and 17 % at 3 and 4 (binomial), about 1 % (Kaiser), away from the border."""
    def ripple(up: nn.Module) -> float:
        with torch.no_grad():
            m = 3 * k + 8  # (the kernel and the widest blur clear of the border)
            y = up(torch.ones(1, 1, 24, 24, dtype=F64))[..., m:-m, m:-m]
        return float((y.max() - y.min()) / y.mean())

    results = []
    for filt in (None, "binomial", "kaiser"):
        up = nn.ConvTranspose2d(1, 1, k, stride=stride, bias=False).double()
        with torch.no_grad():
            up.weight.fill_(1.0)
        if filt is not None:
            antialias(up, layers=("conv_transpose",), filter=filt)
        results.append(ripple(up))
    before, binomial, kaiser = results
    assert before > 1.3
    assert binomial < (1e-12 if stride == 2 else 0.2) and kaiser < 0.015, results


def _conv_bn_relu():
    return nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU()


class _TrainOnlyDropout(nn.Module):  # a shared ReLU; what it feeds differs between the modes
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1, self.relu = _conv_bn_relu()
        self.drop, self.conv2 = nn.Dropout2d(0.1), nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        if self.training:
            out = self.drop(out)
        return self.relu(self.conv2(out))


class _TrainOnlyAct(nn.Module):  # the activation runs in training mode only
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = _conv_bn_relu()

    def forward(self, x):
        y = self.bn(self.conv(x))
        return self.act(y) if self.training else y


class _OptionalInput(nn.Module):  # the traced path is the one with the argument given
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.relu = _conv_bn_relu()
        self.head, self.proj = nn.Conv2d(4, 4, 1), nn.Conv2d(4, 4, 1)

    def forward(self, x, skip=None):
        y = self.relu(self.bn(self.conv(x)))
        if skip is None:
            return self.head(y)
        return self.relu(self.proj(y) + skip)


class _StoresSkip(nn.Module):  # a U-Net encoder block keeps its map for the decoder
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.relu = _conv_bn_relu()
        self.head = nn.Conv2d(4, 4, 1)
        self.log: list[str] = []

    def forward(self, x):
        self.log.append("called")
        y = self.relu(self.bn(self.conv(x)))
        self.skip = y
        return self.relu(self.head(y))


class _CallsDeeper(nn.Module):  # a grandparent calls its grandchild directly too
    def __init__(self):
        super().__init__()
        relu = nn.ReLU()
        self.seq = nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), relu, nn.Conv2d(4, 4, 1), relu)

    def forward(self, x):
        y = self.seq(x)
        return y + self.seq[2](y)


class _Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.act, self.n = nn.ReLU(), 0

    def run(self, y):
        self.n += 1
        return self.act(y)


class _CallsAMethod(nn.Module):  # a submodule's method calls the activation (on a copy, traced)
    def __init__(self):
        super().__init__()
        self.conv, self.child = nn.Conv2d(4, 4, 3, 2, 1), _Counter()

    def forward(self, x):
        return self.child.run(self.conv(x))


def test_what_the_forward_methods_do_not_show_leaves_the_blur_on_the_convolution():
    """Branches on the mode, an optional argument, a map stored in an attribute, a module's
    own patched forward and a grandparent that calls its grandchild as well: the placement
    cannot be proven, the blur stays on the convolution, and every output keeps its size in
    both modes. Tracing changes nothing of the model (its lists, a submodule's counter)."""
    x = torch.randn(1, 4, 16, 16)
    for cls in (_TrainOnlyDropout, _TrainOnlyAct, _OptionalInput, _StoresSkip, _CallsDeeper,
                _CallsAMethod):  # fmt: skip
        model = cls()
        before = {train: model.train(train)(x).shape for train in (True, False)}
        model.train()
        changed = antialias(model)
        conv = model.seq[0] if cls is _CallsDeeper else getattr(model, "conv", None) or \
            model.conv1  # fmt: skip
        # (a method of a submodule calls the activation: the flow is seen, the blur follows it)
        on_act = cls is _CallsAMethod
        assert hasattr(conv, "antialias_blur") is not on_act, (cls.__name__, changed)
        assert not on_act or hasattr(model.child.act, "antialias_blur")
        for train in (True, False):
            assert model.train(train)(x).shape == before[train], (cls.__name__, train)
        if cls is _StoresSkip:
            assert model.log == ["called"] * 4 and model.skip.shape == (1, 4, 8, 8)
        if cls is _CallsAMethod:
            assert model.child.n == 4  # (the four calls above: the trace counted on a copy)
    patched = _Bottleneck()
    patched.forward = types.MethodType(lambda self, x: self.act2(self.bn2(self.conv2(x))),
                                       patched)  # fmt: skip
    before = patched(torch.randn(1, 4, 16, 16)).shape
    antialias(patched)
    assert hasattr(patched.conv2, "antialias_blur")
    assert patched(torch.randn(1, 4, 16, 16)).shape == before


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_a_layer_blurring_its_input_survives_fusion_scripting_and_fx():
    """fuse_modules copies conv2 with its pre-hook and registers the hook again: the blur runs
    once; a TorchScript layer fed by the shared ReLU cannot take the hook (the blur stays on
    the convolution); a custom module fed by it neither (fx would trace the hook): the
    antialiased model still traces."""
    torch.manual_seed(5)
    block = _BasicBlock().eval()
    x = torch.randn(1, 4, 16, 16)
    antialias(block)
    with torch.no_grad():
        want = block(x)
    fused = torch.ao.quantization.fuse_modules(block, [["conv2", "bn2"]], inplace=False)
    assert len(fused.conv2._forward_pre_hooks) == 2
    with torch.no_grad():
        torch.testing.assert_close(fused(x), want, rtol=1e-5, atol=1e-5)

    relu = nn.ReLU()
    scripted = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), relu, torch.jit.script(nn.Conv2d(4, 4, 1)),
                             relu)  # fmt: skip
    antialias(scripted)
    assert hasattr(scripted[0], "antialias_blur")
    assert scripted(torch.randn(1, 3, 16, 16)).shape == (1, 4, 8, 8)

    class Body(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 1)

        def forward(self, x):
            return self.conv(x)

    class Fed(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn, self.relu = _conv_bn_relu()
            self.body = Body()

        def forward(self, x):
            return self.relu(self.body(self.relu(self.bn(self.conv(x)))))

    fed = Fed().eval()
    antialias(fed)
    assert hasattr(fed.conv, "antialias_blur") and not hasattr(fed.body, "antialias_input_blur")
    traced = torch.fx.symbolic_trace(fed)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), fed(x))


class _NestedStore(nn.Module):  # the skip goes into a dict's list, a plain object, a child's list
    def __init__(self, where):
        super().__init__()
        self.conv, self.bn, self.relu = _conv_bn_relu()
        self.where, self.cache, self.state = where, {"skips": []}, types.SimpleNamespace()
        self.child = nn.Identity()
        self.child.seen = []

    def forward(self, x):
        y = self.bn(self.conv(x))
        if self.where == "dict":
            self.cache["skips"].append(y)
        elif self.where == "object":
            self.state.skip = y
        else:
            self.child.seen.append(y)
        return self.relu(y)


class _CallsTheContainer(nn.Module):  # the parent calls body[0] (holding the conv) directly
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), nn.BatchNorm2d(4)),
                                  nn.ReLU(), nn.Conv2d(4, 4, 1))  # fmt: skip

    def forward(self, x):
        return self.body(x), self.body[0](x)


class _Untraceable(nn.Module):  # control flow on the data, and a direct call of body[1]
    def __init__(self):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), nn.ReLU())

    def forward(self, x):
        y = self.block(x)
        if y.mean() > -1e9:
            y = y + self.block[1](y)
        return y


class _RandomBranch(nn.Module):  # draws from the global generator in Python
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.relu = _conv_bn_relu()

    def forward(self, x):
        y = self.relu(self.bn(self.conv(x)))
        return y * 2 if float(torch.rand(())) < 2 else y


def _all_shapes(model, x):
    out = model(x)
    return [t.shape for t in (out if isinstance(out, tuple) else (out,))]


def test_maps_stored_anywhere_other_callers_and_subclasses_keep_the_blur_on_the_convolution():
    """The second review's cases: a skip stored in a nested container, on a plain object or
    on a submodule (no proxy is left there); a parent that calls the container holding the
    convolution directly; a forward fx cannot trace above a Sequential it calls into; a
    forward patched onto an nn.Sequential; an activation subclassed outside torch.nn (fx
    tracing of the result still works). Sizes are kept; the random generators untouched."""
    x = torch.randn(1, 4, 16, 16)
    seq = nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.ReLU())
    seq.forward = lambda t: seq[1](seq[0](t))

    class MyReLU(nn.ReLU):
        pass

    sub = nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), nn.BatchNorm2d(4), MyReLU())
    models = [_NestedStore("dict"), _NestedStore("object"), _NestedStore("child"),
              _CallsTheContainer(), _Untraceable(), seq, sub, _RandomBranch()]  # fmt: skip
    for model in models:
        model.eval()
        with torch.no_grad():
            before = _all_shapes(model, x)
        state = torch.random.get_rng_state()
        antialias(model)
        assert torch.equal(torch.random.get_rng_state(), state)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride == (1, 1)
                 and m.kernel_size == (3, 3)]  # fmt: skip
        on_conv = not isinstance(model, _RandomBranch)  # (its branch is after the ReLU)
        assert len(convs) == 1 and hasattr(convs[0], "antialias_blur") is on_conv, model
        with torch.no_grad():
            assert _all_shapes(model, x) == before, type(model).__name__
        if isinstance(model, _NestedStore):
            stored = [*model.cache["skips"], *vars(model.state).values(), *model.child.seen]
            assert all(isinstance(t, torch.Tensor) for t in stored)
    torch.fx.symbolic_trace(sub)


def test_a_fused_conv_bn_relu_blurs_its_input_once():
    """fuse_modules wraps a copy of the layer (with its pre-hook) in ConvReLU2d and registers
    the hook again on the wrapper: the copy blurs, the wrapper does not."""
    torch.manual_seed(6)
    relu = nn.ReLU()
    model = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.BatchNorm2d(4), relu,
                          nn.Conv2d(4, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(), relu).eval()
    antialias(model)
    assert hasattr(model[3], "antialias_input_blur")
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        want = model(x)
        fused = torch.ao.quantization.fuse_modules(model, [["3", "4", "5"]], inplace=False)
        torch.testing.assert_close(fused(x), want, rtol=1e-5, atol=1e-5)


def test_layers_in_module_lists_called_from_a_forward_loop():
    """A forward looping over nn.ModuleLists (no forward of their own): the strided
    convolutions' blurs follow their activations; numbers: the dense layers and float64
    blur-pools in order."""
    torch.manual_seed(7)

    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, s, 1) for s in (2, 1, 2))
            self.acts = nn.ModuleList(nn.SiLU() for _ in range(3))

        def forward(self, x):
            for conv, act in zip(self.convs, self.acts):
                x = act(conv(x))
            return x

    model = Flat().double()
    x = torch.randn(1, 4, 20, 18, dtype=F64)
    before = model(x).shape
    assert sorted(antialias(model)) == ["convs.0", "convs.2"]
    assert [hasattr(a, "antialias_blur") for a in model.acts] == [True, False, True]
    with torch.no_grad():
        want = x
        for conv, blurred in zip(model.convs, (True, False, True)):
            want = F.silu(_dense(conv, want))
            want = _blurred(want) if blurred else want
        got = model(x)
    assert got.shape == before
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


class _OwnStatistics(nn.Module):  # a hand-written running mean, updated in place in training
    def __init__(self):
        super().__init__()
        self.conv, self.act = nn.Conv2d(4, 4, 3, 2, 1), nn.ReLU()
        self.register_buffer("running_mean", torch.ones(4))
        self.count = 0

    def forward(self, x):
        y = self.conv(x)
        if self.training:
            self.running_mean.mul_(0.9).add_(0.1 * y.mean((0, 2, 3)).detach())
            self.count += 1
            mean = y.mean((0, 2, 3))
        else:
            mean = self.running_mean
        return self.act(y - mean[:, None, None])


class _ChildModeBranch(nn.Module):  # a branch on a child's mode
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = _conv_bn_relu()

    def forward(self, x):
        y = self.bn(self.conv(x))
        z = self.act(y)
        return (z, y) if self.bn.training else z


class _Callback(nn.Module):  # hands the map to a callable (a bound list.append)
    def __init__(self, store):
        super().__init__()
        self.conv, self.bn, self.act = _conv_bn_relu()
        self.store = store

    def forward(self, x):
        y = self.bn(self.conv(x))
        self.store(y)
        return self.act(y)


class _Slots:
    __slots__ = ("skip",)


class _InSlotsOrDeque(nn.Module):  # stores the map on a __slots__ object and in a deque
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.act = _conv_bn_relu()
        self.slots, self.queue = _Slots(), collections.deque(maxlen=2)

    def forward(self, x):
        y = self.bn(self.conv(x))
        self.slots.skip = y
        self.queue.append(y)
        return self.act(y)


class _OwnCall(nn.Sequential):  # a __call__ of its own (forward is not what runs)
    def __call__(self, x):
        return self[1](self[0](x))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_the_third_reviews_cases_keep_the_model_and_its_sizes():
    """Buffers updated in place in a traced forward stay as they were; a branch on a child's
    mode, a map handed to a callback or stored in a deque or on a __slots__ object, and an
    own __call__ leave the blur on the convolution and every map its size, in both modes;
    quantized models are refused; a model anti-aliased under inference_mode has taps that
    can be copied into afterwards."""
    x = torch.randn(1, 4, 16, 16)
    stats = _OwnStatistics().train()
    antialias(stats)
    assert torch.equal(stats.running_mean, torch.ones(4)) and stats.count == 0

    def shapes(model):
        out = model(x)
        return [t.shape for t in (out if isinstance(out, tuple) else (out,))]

    kept: list = []
    for model in (_ChildModeBranch(), _Callback(kept.append), _InSlotsOrDeque(),
                  _OwnCall(nn.Sequential(nn.Conv2d(4, 4, 3, 2, 1), nn.BatchNorm2d(4)),
                           nn.ReLU())):  # fmt: skip
        model.eval()
        with torch.no_grad():
            before = {train: shapes(model.train(train)) for train in (True, False)}
        kept.clear()
        model.eval()
        antialias(model)
        conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        assert hasattr(conv, "antialias_blur"), type(model).__name__
        with torch.no_grad():
            for train in (True, False):
                assert shapes(model.train(train)) == before[train], type(model).__name__
        if isinstance(model, _InSlotsOrDeque):
            assert model.slots.skip.shape == model.queue[-1].shape == (1, 4, 8, 8)

    float_model = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU()).eval()
    quantized = torch.ao.quantization.quantize_dynamic(nn.Sequential(nn.Linear(4, 4)))
    with pytest.raises(ValueError, match=r"model must be a float model: 0 is a quantized "
                       r"\w*Linear"):
        antialias(quantized)
    with torch.inference_mode():
        antialias(float_model)
    float_model[1].antialias_blur.filter.copy_(float_model[1].antialias_blur.filter)


def test_a_map_too_short_to_reflect_along_one_axis_is_replicated_along_that_axis_only():
    """A dense output of 1 x 5 (2-D) or 1 x 2 x 5 (3-D): the short axes repeat their edge, the
    others reflect (NumPy's 'edge' and 'reflect' per axis, then the float64 blur-pool)."""
    torch.manual_seed(8)
    taps = binomial_filter(3).numpy()
    for conv, shape in ((nn.Conv2d(1, 1, (3, 1), stride=2), (1, 1, 3, 5)),
                        (nn.Conv3d(1, 1, (3, 2, 1), stride=2), (1, 1, 3, 3, 5))):  # fmt: skip
        conv = conv.double()
        x = torch.randn(*shape, dtype=F64)
        with torch.no_grad():
            dense = (F.conv2d if x.ndim == 4 else F.conv3d)(x, conv.weight, conv.bias).numpy()
        antialias(conv)
        pads = [(0, 0), (0, 0)] + [(1, 1)] * (dense.ndim - 2)
        padded = dense
        for axis in range(2, dense.ndim):  # (per axis: 'edge' where reflecting is impossible)
            mode = "reflect" if dense.shape[axis] > 1 else "edge"
            width = [(0, 0)] * dense.ndim
            width[axis] = pads[axis]
            padded = np.pad(padded, width, mode=mode)
        want = padded
        for axis in range(2, dense.ndim):  # the separable blur, then the stride
            want = np.apply_along_axis(lambda v: np.convolve(v, taps, mode="valid"), axis, want)
        want = want[(..., *[slice(None, None, 2)] * (dense.ndim - 2))]
        with torch.no_grad():
            got = conv(x).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
