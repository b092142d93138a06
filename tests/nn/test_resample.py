"""ResamplePoly: the module equals the op, keeps explicit taps as a buffer, checks its arguments
when built, and works inside a model (state dict, torch.compile-free eager use, ``.to``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from bandlimit import ops
from bandlimit.nn import ResamplePoly


def test_module_equals_the_op_and_scipy():
    x = torch.randn(2, 3, 50, dtype=torch.float64)
    m = ResamplePoly(160, 147, padtype="edge")
    y = m(x)
    torch.testing.assert_close(y, ops.resample_poly(x, 160, 147, padtype="edge"))
    expected = scipy.signal.resample_poly(x.numpy(), 160, 147, axis=-1, padtype="edge")
    np.testing.assert_allclose(y.numpy(), expected, rtol=0, atol=1e-12)
    assert "up=160, down=147" in repr(m) and list(m.parameters()) == []


def test_explicit_taps_are_a_buffer_outside_the_state_dict():
    taps = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    m = ResamplePoly(2, 1, dim=(-2, -1), window=taps)
    taps.mul_(0)  # the module kept its own copy
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    expected = scipy.signal.resample_poly(x.numpy(), 2, 1, axis=2, window=[0.25, 0.5, 0.25])
    expected = scipy.signal.resample_poly(expected, 2, 1, axis=3, window=[0.25, 0.5, 0.25])
    np.testing.assert_allclose(m(x).numpy(), expected, rtol=0, atol=1e-12)
    assert m.state_dict() == {} and m.taps.dtype == torch.float64
    assert m.to(torch.float32).taps.dtype == torch.float32  # a buffer follows .to()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [(dict(up=0, down=1), ValueError, "up"), (dict(up=2, down=1, padtype="zeros"), ValueError,
      "padtype"), (dict(up=2, down=1, dim=1.5), TypeError, "dim"),
     (dict(up=2, down=1, impl="fast"), ValueError, "impl"),
     (dict(up=2, down=1, window="nope"), ValueError, "window")],
)  # fmt: skip
def test_bad_arguments_fail_when_the_module_is_built(kwargs, error, words):
    with pytest.raises(error, match=words):
        ResamplePoly(**kwargs)


def test_dims_of_both_signs_and_numpy_ints_work():
    """dim=(1, -1) on a 3-D input is two axes; the module used to check its arguments on a
    dummy tensor with too few dimensions and call them the same axis."""
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    m = ResamplePoly(2, 3, dim=(1, -1))
    torch.testing.assert_close(m(x), ops.resample_poly(x, 2, 3, dim=(1, 2)))
    assert m(x).shape == (2, 4, 4)
    torch.testing.assert_close(ResamplePoly(2, 3, dim=np.int64(2))(x),
                               ops.resample_poly(x, 2, 3))  # fmt: skip
    with pytest.raises(ValueError, match="dim must not name an axis twice"):
        ResamplePoly(2, 3, dim=(2, -1))(x)


def test_list_taps_are_a_buffer_too():
    m = ResamplePoly(2, 1, window=[0.25, 0.5, 0.25])
    assert m.taps is not None and m.taps.dtype == torch.float64 and "3 taps" in repr(m)
    x = torch.randn(1, 8, dtype=torch.float64)
    expected = scipy.signal.resample_poly(x.numpy(), 2, 1, axis=-1, window=[0.25, 0.5, 0.25])
    np.testing.assert_allclose(m(x).numpy(), expected, rtol=0, atol=1e-12)


def test_factors_and_axes_are_attributes():
    """A module's arguments are readable (they were only in its repr): factors divided by the
    gcd, one value per axis when several."""
    m = ResamplePoly(48000, 44100)
    assert (m.up, m.down, m.dim) == (160, 147, -1)
    m2 = ResamplePoly((2, 3), (4, 1), dim=(-2, -1))
    assert (m2.up, m2.down, m2.dim) == ((1, 3), (2, 1), (-2, -1))
    assert "up=(1, 3), down=(2, 1), dim=(-2, -1)" in repr(m2)
