"""assert_translation_equivariant's output rate: inferred from the sizes (a small fraction p/q
when the output is exactly p/q times the input, else n or 1/n), stated on failure, and ``rate=``
overrides it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bandlimit.filters import kaiser_sinc
from bandlimit.nn import AliasFreeActivation1d, AliasFreeActivation2d
from bandlimit.ops import upsample2d
from bandlimit.testing import assert_translation_equivariant, make_bandlimited_signal

F64 = torch.float64


def sig(seed, size, bandwidth=0.1):
    return make_bandlimited_signal(np.random.default_rng(seed), size, bandwidth=bandwidth)


@pytest.mark.parametrize("up, down, n_out", [(3, 2, 144), (2, 3, 64), (5, 4, 120), (4, 3, 128)])
def test_a_rational_rate_layer_is_tested_at_its_rate(up, down, n_out):
    """Before: 96 → 144 was read as rate 2, and the (correct) 3/2 layer failed at 41.6 dB."""
    act = AliasFreeActivation1d("gelu", up=up, down=down)
    s = sig(0, (96,))
    assert act(s.render()).shape[-1] == n_out
    inferred = assert_translation_equivariant(act, s, 0.3, min_psnr=60)
    assert inferred == assert_translation_equivariant(act, s, 0.3, rate=up / down, min_psnr=60)


def test_a_rational_rate_image_layer_is_tested_at_its_rate():
    act = AliasFreeActivation2d("gelu", up=3, down=2)
    s = sig(1, (32, 48))
    assert act(s.render()).shape[-2:] == (48, 72)
    assert assert_translation_equivariant(act, s, (0.3, -0.6), min_psnr=60) >= 60


def test_sizes_that_differ_by_border_samples_still_snap_to_n_or_1_over_n():
    w = torch.tensor([[[0.25, 0.5, 0.25]]], dtype=F64)
    s = sig(3, (38,), bandwidth=0.2)  # 38 → 36 (no padding): rate 1
    assert assert_translation_equivariant(lambda x: F.conv1d(x, w), s, 0.3, min_psnr=80,
                                          dtype=F64) >= 80
    f = kaiser_sinc(24, cutoff=0.25, width=0.25, fs=2, dtype=F64)

    def up_trimmed(x):  # 86 → 172, less 12 samples on each side: 148, rate 2
        return upsample2d(x, f, up=2, impl="ref")[..., 12:-12, 12:-12]

    s2 = sig(2, 86, bandwidth=0.15)
    assert up_trimmed(s2.render(dtype=F64)).shape[-2:] == (148, 148)
    assert assert_translation_equivariant(up_trimmed, s2, (0.3, -0.7), min_psnr=60,
                                          dtype=F64) >= 60


def test_the_failure_message_states_the_rate_and_where_it_came_from():
    act = AliasFreeActivation1d("gelu", up=3, down=2)
    s = sig(0, (96,))
    pattern = torch.randn(1, 1, 144, generator=torch.Generator().manual_seed(0))
    with pytest.raises(AssertionError, match=r"rate \(1\.5,\) inferred from the sizes 96 → 144 "
                       r"\(rate= overrides it\), crop"):
        assert_translation_equivariant(lambda x: act(x) + 0.1 * pattern, s, 0.3)
    with pytest.raises(AssertionError, match=r"output shift \(0\.6,\) px, rate \(2\.0,\) as given"):
        assert_translation_equivariant(act, s, 0.3, rate=2, min_psnr=60)
    s2 = sig(1, (32, 48))
    act2 = AliasFreeActivation2d("gelu", up=3, down=2)
    with pytest.raises(AssertionError, match=r"rate \(1\.5, 1\.5\) inferred from the sizes "
                       r"48 → 72 along x, 32 → 48 along y \(rate= overrides it\)"):
        assert_translation_equivariant(lambda x: act2(x), s2, (0.3, -0.6), min_psnr=200)


def test_a_trimmed_border_that_looks_like_a_fraction_reads_as_rate_one():
    """A 5×5 conv without padding maps 32 → 28 = 7/8 · 32, and a 9×9 one 64 → 56: within 15 %
    of n or 1/n a size is a trimmed border, not a rational rate (rate 1, as before p/q
    inference); two of them (32 → 24 = 3/4) are past that and need rate=."""
    g = torch.tensor([1.0, 4, 6, 4, 1], dtype=F64)
    conv = lambda x: F.conv2d(x, (torch.outer(g, g) / 256)[None, None])  # noqa: E731
    s = sig(4, 32, bandwidth=0.2)
    assert assert_translation_equivariant(conv, s, (0.5, 0.5), min_psnr=60, dtype=F64) >= 60
    twice = lambda x: conv(conv(x))  # noqa: E731
    with pytest.raises(AssertionError, match=r"rate \(0\.75, 0\.75\) inferred from the sizes "
                       r"32 → 24 along x"):
        assert_translation_equivariant(twice, s, (0.5, 0.5), min_psnr=60, dtype=F64)
    # 24 output samples: the default 24 taps would leave 1 per axis (refused, min_compared);
    # 16 taps leave 9.
    assert assert_translation_equivariant(twice, s, (0.5, 0.5), rate=1, min_psnr=60, taps=16,
                                          dtype=F64) >= 60


def test_a_rate_neither_rule_explains_is_asked_for():
    """StyleGAN3's first up-sampling layer maps 38 → 52 (rate 2, with borders of its own):
    neither near n or 1/n nor a small fraction. It was snapped to rate 1 silently, and the
    correct layer failed at 32 dB; as a plain function the assertion now asks for rate=, and
    the module itself says its rate (output_rate)."""
    from bandlimit.filters import stylegan3_schedule
    from bandlimit.nn import FilteredLReLU

    sched = stylegan3_schedule(256, config="T", channel_max=8, channel_base=256)
    layer = FilteredLReLU(sched, 3)
    s = make_bandlimited_signal(np.random.default_rng(0), (38, 38), channels=8, bandwidth=4 / 16)
    assert layer(s.render()).shape[-2:] == (52, 52) and layer.output_rate == 2
    with pytest.raises(ValueError, match=r"cannot infer the rate from the sizes 38 → 52 along "
                       r"x: 52/38 is not within 15 % of n or 1/n, nor p/q with q <= 8; pass "
                       r"rate="):
        assert_translation_equivariant(lambda x: layer(x), s, (0.37, -0.21), min_psnr=40)
    assert assert_translation_equivariant(layer, s, (0.37, -0.21), rate=2, min_psnr=40) >= 40
    assert assert_translation_equivariant(layer, s, (0.37, -0.21), min_psnr=40) >= 40


def test_a_module_that_knows_its_rate_is_not_misread_by_its_sizes():
    """Sizes with borders read as the wrong small fraction: StyleGAN3-R's L13_16_8 maps 36 →
    16 at rate 1 (read as 1/2: 34 dB where the layer gives 43), a 4/3 activation 16 → 22 (read
    as 11/8). bandlimit's modules give their output_rate, which the assertion takes first and
    names on failure."""
    from bandlimit.filters import stylegan3_schedule
    from bandlimit.nn import BlurPool2d, FilteredLReLU, MaxBlurPool2d, bigvgan

    sched = stylegan3_schedule(16, config="R", channel_max=8, channel_base=256)
    layer = FilteredLReLU(sched, 13)
    assert layer.output_rate == 1
    s = make_bandlimited_signal(np.random.default_rng(0), (36, 36), channels=8, bandwidth=2 / 16)
    assert assert_translation_equivariant(layer, s, (0.37, -0.21), min_psnr=40, taps=8,
                                          crop=0) >= 40  # fmt: skip
    act = AliasFreeActivation1d("gelu", up=4, down=3)
    assert act.output_rate == 4 / 3
    assert act(sig(0, (16,)).render()).shape[-1] == 22
    with pytest.raises(AssertionError, match=r"rate \(1\.333\d*,\) from "
                       r"AliasFreeActivation1d\.output_rate"):
        assert_translation_equivariant(act, sig(0, (16,)), 0.3, min_psnr=500, taps=4, crop=0)
    assert BlurPool2d(3, 2).output_rate == MaxBlurPool2d(3, 4).output_rate * 2 == 0.5
    assert bigvgan.Activation1d(torch.nn.GELU(), up_ratio=2, down_ratio=4).output_rate == 0.5
