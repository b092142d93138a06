"""Bad arguments: the message names the argument and shows the value as the caller passed it
(not a normalised form built from it, such as ``None`` for a scalar shift of a 2-D signal)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bandlimit.testing import (
    assert_translation_equivariant,
    bandlimited_images,
    bandlimited_signals,
    fractional_shift,
    make_bandlimited_signal,
)


def ident(x):
    return x


S2 = make_bandlimited_signal(np.random.default_rng(0), 32)


def test_a_scalar_shift_of_a_2d_signal_shows_the_scalar():
    """Before: 'shift must be (dx, dy) for 2-D signals, got None'."""
    with pytest.raises(ValueError, match=r"shift must be \(dx, dy\) for 2-D signals, got 0\.3$"):
        assert_translation_equivariant(ident, S2, 0.3)
    with pytest.raises(ValueError, match=r"shift must be \(dx, dy\) for 2-D signals, got 0\.3$"):
        assert_translation_equivariant(ident, S2.render(), 0.3)  # a tensor input, the same


def test_shift_messages_show_tensors_and_arrays_as_passed():
    # (three components are a 3-D shift now: four are too many)
    with pytest.raises(ValueError, match=r"got tensor\(\[0\.1000, 0\.2000, 0\.3000, 0\.4000\]\)"):
        fractional_shift(torch.zeros(1, 1, 8, 8), torch.tensor([0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ValueError, match=r"shift must be finite, got array\(\[nan, 0\.2\]\)"):
        fractional_shift(torch.zeros(1, 1, 8, 8), np.array([math.nan, 0.2]))
    with pytest.raises(ValueError, match=r"shift must be finite, got \(nan, 0\)"):
        assert_translation_equivariant(ident, S2, (math.nan, 0))


def test_rate_and_crop_messages_show_the_value_passed():
    with pytest.raises(ValueError, match=r"rate must be a number or \(rate_x, rate_y\) for 2-D "
                       r"signals, got \(1\.0,\)"):
        assert_translation_equivariant(ident, S2, (0.3, 0.1), rate=(1.0,))
    with pytest.raises(ValueError, match=r"crop must be an int >= 0 or 2 such ints \(x first\), "
                       r"got -1$"):  # before: got (-1, -1)
        assert_translation_equivariant(ident, S2, (0.3, 0.1), crop=-1)
    with pytest.raises(ValueError, match=r"crop must be .*got True$"):
        assert_translation_equivariant(ident, S2, (0.3, 0.1), crop=True)


def test_strategy_and_signal_messages_show_the_value_passed():
    with pytest.raises(ValueError, match=r"size must be positive, got 0$"):  # before: (0, 0)
        bandlimited_signals(size=0)
    with pytest.raises(ValueError, match=r"components must satisfy 1 <= min <= max, got 0$"):
        bandlimited_signals(components=0)
    # Before: 'shift and angle must be finite, got [nan, 0.0], 0.0' (the angle was fine).
    with pytest.raises(ValueError, match=r"^shift must be finite, got \(nan, 0\)$"):
        S2.render(shift=(math.nan, 0))


def test_an_unknown_device_is_named_when_the_strategy_is_built():
    """Before: torch's RuntimeError ('Expected one of cpu, cuda, ...'), naming no argument, and
    only when Hypothesis drew the first example (render: at every call)."""
    with pytest.raises(ValueError, match=r"^device must be a torch\.device or a device string, "
                       r"got 'nope'$"):
        bandlimited_images(size=8, device="nope")
    with pytest.raises(ValueError, match=r"^device must be a torch\.device .*got 'gpu'$"):
        S2.render(device="gpu")


def test_a_zero_dimensional_rate_tensor_is_a_number():
    """Before: 'rate must be a number or (rate_x, rate_y) for 2-D signals, got tensor(1.)'."""
    for rate in (torch.tensor(1.0), np.array(1.0)):
        assert assert_translation_equivariant(ident, S2, (0.3, 0.1), rate=rate) > 60
    with pytest.raises(ValueError, match=r"rate must be > 0, got -1\.0"):
        assert_translation_equivariant(ident, S2, (0.3, 0.1), rate=torch.tensor(-1.0))


def test_an_image_without_its_batch_axis_is_told_to_add_it():
    """Before: only 'shift must be (dx,) or a number for 1-D signals' (the [C, H, W] image was
    read as a batch of 1-D signals)."""
    image = S2.render()[0]  # [C, H, W]
    with pytest.raises(ValueError, match=r"for 1-D signals, got \(0\.3, 0\.2\): x has shape "
                       r"\(1, 32, 32\), read as \[N, C, L\]; for one image \[C, H, W\] add the "
                       r"batch axis \(x\[None\]\)$"):
        assert_translation_equivariant(ident, image, (0.3, 0.2))


@pytest.mark.parametrize("taps", [0, -2, 7])
def test_taps_says_even_whatever_the_value(taps):
    """Before: taps=0 said 'must be an int >= 2', taps=7 'an even integer >= 2'."""
    with pytest.raises(ValueError, match=rf"^taps must be an even integer >= 2, got {taps}$"):
        assert_translation_equivariant(ident, S2, (0.3, 0.2), taps=taps)


def test_nothing_left_of_a_tensor_suggests_an_exactly_shifted_signal():
    """The testing helpers' defaults together: a 32-pixel tensor shifted numerically keeps
    nothing with 24 taps; the message names the way out that needs no border."""
    with pytest.raises(ValueError, match=r"nothing left to compare .* or give x as a "
                       r"BandlimitedSignal \(bandlimited_signals, make_bandlimited_signal\)"):
        assert_translation_equivariant(ident, S2.render(), (0.3, 0.2))
    assert assert_translation_equivariant(ident, S2, (0.3, 0.2)) > 100  # (the signal: exact)
