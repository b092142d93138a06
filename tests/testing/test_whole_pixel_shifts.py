"""A shift by a whole number of samples is exact: it needs no interpolation margin.

Along an axis where the input shift ``d`` and the output shift ``d·rate`` are whole, the
reference is an index shift, so the comparison keeps everything but the ``|d·rate|`` samples the
shift brings in (and ``crop``): an output too short for the 24-tap interpolator is still tested.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bandlimit.testing import assert_translation_equivariant, make_bandlimited_signal

F64 = torch.float64


def strided_conv():
    """A random 3×3 conv with stride 2 along x only (no anti-aliasing): equivariant to any shift
    along y (linear, shift-invariant), but along x only to even shifts (whole output samples)."""
    w = torch.randn(1, 1, 3, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    return lambda x: F.conv2d(x, w, stride=(1, 2))


def signal(width):
    # Above 0.25 cycles/px along x: the stride aliases, so odd x shifts are not equivariant.
    return make_bandlimited_signal(np.random.default_rng(0), (48, width), bandwidth=0.3,
                                   band="square", components=6)


@pytest.mark.parametrize("shift", [(0.0, 1.5), (2.0, 1.5), (-4.0, 0.7), (2.0, 0.0)])
@pytest.mark.parametrize("tensor", [False, True])
def test_whole_pixel_axes_need_no_interpolation_margin(shift, tensor):
    """Before: 24 → 11 samples along x, 'output shift by 0 px … keeps nothing' (unless taps=8)."""
    s = signal(24)
    x = s.render(dtype=F64) if tensor else s
    op = strided_conv()
    assert op(s.render(dtype=F64)).shape[-2:] == (46, 11)  # rates (1/2, 1), inferred
    assert assert_translation_equivariant(op, x, shift, min_psnr=90, dtype=F64) >= 90


def test_an_odd_whole_pixel_shift_of_a_strided_axis_still_fails():
    """d = 1 px is half an output sample: interpolated, and the aliasing shows."""
    op, s = strided_conv(), signal(64)
    with pytest.raises(AssertionError, match=r"output shift \(0\.5, 1\.5\) px"):
        assert_translation_equivariant(op, s, (1.0, 1.5), min_psnr=40, dtype=F64)
    with pytest.raises(ValueError, match=r"output shift by 0\.5 px \(method 'sinc', 24 taps\) "
                       r"keeps nothing"):
        assert_translation_equivariant(op, signal(24), (1.0, 1.5), dtype=F64)


def test_a_whole_output_shift_masks_only_what_it_brings_in():
    """Shifted by 3 output samples, an identity keeps [3, n) along x: crop 0 compares the rest."""
    s = make_bandlimited_signal(np.random.default_rng(1), (10,), bandwidth=0.3)
    assert assert_translation_equivariant(lambda t: t, s, 3.0, crop=0, min_psnr=200,
                                          dtype=F64) >= 200
    with pytest.raises(ValueError, match=r"crop 4 keeps \[4, 6\) and the output shift by 7 px "
                       r"\(whole samples: exact\) keeps \[7, 10\); use a smaller crop, a smaller "
                       r"shift or a longer input"):
        assert_translation_equivariant(lambda t: t, s, 7.0, crop=4, dtype=F64)
    # NaN that op writes in the crop reaches the compared region through the shift alone.
    nan_at_1 = lambda t: torch.cat([t[..., :1], t[..., 1:2] * np.nan, t[..., 2:]], -1)  # noqa
    with pytest.raises(AssertionError, match=r"within reach of the output shift \(whole samples: "
                       r"exactly the shift itself\)"):
        assert_translation_equivariant(nan_at_1, s, 3.0, crop=2, dtype=F64)
