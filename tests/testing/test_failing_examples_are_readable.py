"""A failing Hypothesis example shows a signal as the call that rebuilds it, and signals compare
and hash by value."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from bandlimit.testing import (
    BandlimitedSignal,
    bandlimited_images,
    bandlimited_signals,
    make_bandlimited_signal,
    subpixel_shifts,
)


def _failing_example(strategy) -> str:
    @settings(max_examples=5, deadline=None, derandomize=True, database=None)
    @given(s=strategy)
    def test(s):
        raise AssertionError("always")

    with pytest.raises(AssertionError) as info:
        test()
    return "\n".join(getattr(info.value, "__notes__", []))


def test_a_failing_example_prints_the_call_that_rebuilds_the_signal():
    """Before: 's=build(1, 0)', the strategy's private helper and two bare numbers."""
    notes = _failing_example(
        bandlimited_signals(size=(16, 24), channels=3, bandwidth=0.3, components=(2, 5))
    )
    assert "build(" not in notes.replace("make_bandlimited_signal(", "")
    assert (
        "s=make_bandlimited_signal(np.random.default_rng(0), size=(16, 24), channels=3, "
        "bandwidth=0.3, components=2)" in notes
    )


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_a_failing_fractional_shift_prints_as_the_tuple_it_is(ndim):
    """Before: 'shift=build(0, 0.5, (0.5,))', a closure inside the strategy."""
    notes = _failing_example(subpixel_shifts(ndim=ndim, fractional=True))
    assert "build(" not in notes
    shown = notes[notes.index("s=") + 2:notes.rindex("# or any other")].strip().rstrip(",")
    value = eval(shown)  # the printed value is the shift itself
    assert isinstance(value, tuple) and len(value) == ndim


@pytest.mark.parametrize("kwargs", [{}, {"dtype": torch.float64}, {"device": "cpu"},
                                    {"dtype": torch.float32, "device": torch.device("cpu")}])
def test_a_failing_image_example_is_code_that_rebuilds_the_image(kwargs):
    """bandlimited_images printed '...render(dtype=dtype, device=device)', which raised
    NameError when pasted: the variables of its lambda, not their values."""
    drawn = []

    @settings(max_examples=3, deadline=None, derandomize=True, database=None)
    @given(x=bandlimited_images(size=12, channels=2, bandwidth=0.2, **kwargs))
    def test(x):
        drawn.append(x)
        raise AssertionError("always")

    with pytest.raises(AssertionError) as info:
        test()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    code = notes[notes.index("x=") + 2:notes.rindex("# or any other")].strip().rstrip(",")
    rebuilt = eval(code, {"np": np, "torch": torch,
                          "make_bandlimited_signal": make_bandlimited_signal})
    assert torch.equal(rebuilt, drawn[-1]) and rebuilt.dtype == drawn[-1].dtype


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"size": (40,), "batch": 2, "amplitude": 2.0, "components": 3},
        {"size": 12, "periodic": True, "band": "square", "bandwidth": 0.5},
    ],
)
def test_the_printed_call_rebuilds_the_same_signal(kwargs):
    drawn = []

    @settings(max_examples=4, deadline=None, derandomize=True, database=None)
    @given(s=bandlimited_signals(**kwargs))
    def test(s):
        drawn.append(s)

    test()
    for s in drawn:
        assert repr(s).startswith("make_bandlimited_signal(np.random.default_rng(")
        rebuilt = eval(repr(s), {"np": np, "make_bandlimited_signal": make_bandlimited_signal})
        assert rebuilt == s
        for name in ("freqs", "phases", "amplitudes"):
            np.testing.assert_array_equal(getattr(rebuilt, name), getattr(s, name))


def test_a_signal_built_by_hand_keeps_its_field_repr():
    s = BandlimitedSignal(
        freqs=np.full((1, 1, 1, 1), 0.125),
        phases=np.zeros((1, 1, 1)),
        amplitudes=np.ones((1, 1, 1)),
        size=(16,),
    )
    assert repr(s) == (
        "BandlimitedSignal(freqs=array([[[[0.125]]]]), phases=array([[[0.]]]), "
        "amplitudes=array([[[1.]]]), size=(16,))"
    )


def test_signals_compare_and_hash_by_value():
    """Before: == of two equal signals raised 'The truth value of an array with more than one
    element is ambiguous', and hash() 'unhashable type: numpy.ndarray'."""
    s = make_bandlimited_signal(np.random.default_rng(0), 8)
    t = copy.deepcopy(s)
    assert s == t and hash(s) == hash(t) and len({s, t}) == 1
    u = make_bandlimited_signal(np.random.default_rng(1), 8)
    assert s != u
    assert s != make_bandlimited_signal(np.random.default_rng(0), (8, 9))
    assert (s == "a signal") is False
