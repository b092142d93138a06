"""subpixel_shifts: fractional shifts are measurably sub-pixel; no component is subnormal.

Each property runs 500 examples with Hypothesis's health checks on (only ``too_slow`` is left to
the profile): a strategy that filtered for its fractions would trip ``filter_too_much`` at small
``max_shift``.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import HealthCheck, given, settings

from bandlimit.testing import subpixel_shifts

CHECKED = settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])


def fraction(v: float) -> float:
    """Distance to the nearest whole number, in pixels."""
    return abs(v - round(v))


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("max_shift", [0.05, 0.1, 0.5, 1.0, 3.05, 8.0])
def test_fractional_shifts_are_at_least_min_fraction_from_whole_pixels(max_shift, ndim):
    """Before: 48 of 200 draws were whole pixels in effect, e.g. (1.1e-40, 0.0)."""

    @CHECKED
    @given(d=subpixel_shifts(max_shift=max_shift, ndim=ndim, fractional=True))
    def check(d):
        assert len(d) == ndim and all(abs(v) <= max_shift for v in d)
        assert max(fraction(v) for v in d) >= 0.05, d

    check()


@pytest.mark.parametrize("max_shift, min_fraction", [(0.5, 0.5), (2.0, 0.25), (0.3, 0.01)])
def test_min_fraction_sets_the_band(max_shift, min_fraction):
    @CHECKED
    @given(d=subpixel_shifts(max_shift, fractional=True, min_fraction=min_fraction))
    def check(d):
        assert all(abs(v) <= max_shift for v in d)
        assert max(fraction(v) for v in d) >= min_fraction, d

    check()


@pytest.mark.parametrize("fractional", [False, True])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_no_component_is_subnormal(fractional, ndim):
    """Before: draws like (8.2e-64, 5e-324)."""

    @CHECKED
    @given(d=subpixel_shifts(max_shift=2.0, ndim=ndim, fractional=fractional))
    def check(d):
        assert not any(0 < abs(v) < sys.float_info.min for v in d), d

    check()


def test_min_fraction_is_checked():
    with pytest.raises(ValueError, match=r"min_fraction must be in \(0, 0\.5\] pixels .*got 0\.6"):
        subpixel_shifts(min_fraction=0.6)
    with pytest.raises(ValueError, match=r"min_fraction must be in \(0, 0\.5\] .*got 0"):
        subpixel_shifts(min_fraction=0)
    with pytest.raises(ValueError, match=r"min_fraction must be a finite real number, got nan"):
        subpixel_shifts(min_fraction=float("nan"))
    with pytest.raises(TypeError, match=r"min_fraction must be a real number, got '0\.1'"):
        subpixel_shifts(min_fraction="0.1")
    # Nothing within 0.03 px of zero is 0.05 px from a whole pixel: say so when built.
    with pytest.raises(ValueError, match=r"fractional=True needs max_shift >= min_fraction: no "
                       r"shift within max_shift 0\.03 px is 0\.05 px or more away"):
        subpixel_shifts(max_shift=0.03, fractional=True)
    subpixel_shifts(max_shift=0.03)  # whole shifts allowed: 0 is one
    subpixel_shifts(max_shift=0.03, fractional=True, min_fraction=0.03)
