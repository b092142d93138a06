"""Bad input: each documented misuse raises the documented error type, naming the argument.

TypeError: not a Tensor, a non-floating dtype, a non-integer factor/padding.
ValueError: a wrong shape/length, a factor < 1, a negative gain/clamp, an empty output, an
unknown activation or backend.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import bandlimit.ops as ops
from bandlimit.filters import resample_filter

F64 = torch.float64


def x4():
    return torch.zeros(1, 2, 8, 8, dtype=F64)


def x3():
    return torch.zeros(1, 2, 8, dtype=F64)


def f1(n=3):
    return torch.ones(n, dtype=F64)


def w4(c_out=2, c_in=2, k=3):
    return torch.ones(c_out, c_in, k, k, dtype=F64)


# (id, callable, exception type, argument name that must appear, value that must appear or None)
CASES = [
    # --- upfirdn2d
    ("u2-x-numpy", lambda: ops.upfirdn2d(np.zeros((1, 2, 8, 8)), f1()), TypeError, "x", None),
    ("u2-x-ndim", lambda: ops.upfirdn2d(x3(), f1()), ValueError, "x", None),
    ("u2-x-int", lambda: ops.upfirdn2d(x4().long(), f1()), TypeError, "x", "int64"),
    ("u2-f-ndim", lambda: ops.upfirdn2d(x4(), torch.ones(2, 2, 2)), ValueError, "f", None),
    ("u2-f-int", lambda: ops.upfirdn2d(x4(), torch.ones(3, dtype=torch.int64)), TypeError, "f",
     "int64"),
    ("u2-f-list", lambda: ops.upfirdn2d(x4(), [1.0, 2.0]), TypeError, "f", None),
    ("u2-up-0", lambda: ops.upfirdn2d(x4(), f1(), up=0), ValueError, "up", "0"),
    ("u2-up-float", lambda: ops.upfirdn2d(x4(), f1(), up=1.5), TypeError, "up", "1.5"),
    ("u2-up-pair-0", lambda: ops.upfirdn2d(x4(), f1(), up=(2, 0)), ValueError, "up", "0"),
    ("u2-up-triple", lambda: ops.upfirdn2d(x4(), f1(), up=(2, 2, 2)), ValueError, "up", None),
    ("u2-down-neg", lambda: ops.upfirdn2d(x4(), f1(), down=-1), ValueError, "down", "-1"),
    ("u2-down-str", lambda: ops.upfirdn2d(x4(), f1(), down="2"), TypeError, "down", None),
    ("u2-pad-len3", lambda: ops.upfirdn2d(x4(), f1(), padding=(1, 2, 3)), ValueError, "padding",
     None),
    ("u2-pad-float", lambda: ops.upfirdn2d(x4(), f1(), padding=1.5), TypeError, "padding",
     "1.5"),
    ("u2-gain-neg", lambda: ops.upfirdn2d(x4(), f1(), gain=-1.0), ValueError, "gain", "-1"),
    ("u2-empty-out", lambda: ops.upfirdn2d(x4(), f1(12)), ValueError, "output", None),
    ("u2-empty-crop", lambda: ops.upfirdn2d(x4(), None, padding=(0, 0, -4, -4)), ValueError,
     "output", None),
    ("u2-impl-bogus", lambda: ops.upfirdn2d(x4(), f1(), impl="bogus"), ValueError, "impl",
     "bogus"),
    ("u2-impl-cuda", lambda: ops.upfirdn2d(x4(), f1(), impl="cuda"), ValueError, "cuda", None),
    ("u2-numba-meta", lambda: ops.upfirdn2d(x4().to("meta"), f1(), impl="numba"), ValueError,
     "numba", "meta"),
    # --- conv2d_resample
    ("cr-x-ndim", lambda: ops.conv2d_resample(x3(), w4()), ValueError, "x", None),
    ("cr-w-numpy", lambda: ops.conv2d_resample(x4(), np.zeros((2, 2, 3, 3))), TypeError, "w",
     None),
    ("cr-w-ndim", lambda: ops.conv2d_resample(x4(), torch.ones(2, 2, 3, dtype=F64)), ValueError,
     "w", None),
    ("cr-w-dtype", lambda: ops.conv2d_resample(x4(), w4().float()), TypeError, "w", "float32"),
    ("cr-w-meta", lambda: ops.conv2d_resample(x4(), w4().to("meta")), ValueError, "w", "meta"),
    ("cr-w-channels", lambda: ops.conv2d_resample(x4(), w4(c_in=3)), ValueError, "w", "3"),
    ("cr-groups-channels", lambda: ops.conv2d_resample(x4(), w4(), groups=2), ValueError,
     "groups", "2"),
    ("cr-groups-out", lambda: ops.conv2d_resample(x4(), w4(c_out=3, c_in=1), groups=2),
     ValueError, "groups", "3"),
    ("cr-groups-0", lambda: ops.conv2d_resample(x4(), w4(), groups=0), ValueError, "groups",
     "0"),
    ("cr-groups-float", lambda: ops.conv2d_resample(x4(), w4(), groups=1.0), TypeError,
     "groups", "1.0"),
    ("cr-up-pair", lambda: ops.conv2d_resample(x4(), w4(), f1(), up=(2, 2)), TypeError, "up",
     None),
    ("cr-down-0", lambda: ops.conv2d_resample(x4(), w4(), f1(), down=0), ValueError, "down",
     "0"),
    ("cr-f-int", lambda: ops.conv2d_resample(x4(), w4(), torch.ones(3, dtype=torch.int64),
                                             up=2), TypeError, "f", "int64"),
    ("cr-pad-len3", lambda: ops.conv2d_resample(x4(), w4(), padding=(1, 2, 3)), ValueError,
     "padding", None),
    ("cr-flip-weight", lambda: ops.conv2d_resample(x4(), w4(), flip_weight=None), TypeError,
     "flip_weight", "None"),
    ("cr-empty-out", lambda: ops.conv2d_resample(x4(), w4(k=9)), ValueError, "output", "9x9"),
    ("cr-empty-down", lambda: ops.conv2d_resample(x4(), w4(), f1(12), down=2, padding=-4),
     ValueError, "output", None),
    ("cr-up-huge", lambda: ops.conv2d_resample(x4(), w4(), f1(), up=2**20), ValueError,
     "output", "per plane"),
    ("cr-impl-bogus", lambda: ops.conv2d_resample(x4(), w4(), impl="bogus"), ValueError, "impl",
     "bogus"),
    # --- upfirdn1d
    ("u1-x-ndim", lambda: ops.upfirdn1d(x4(), f1()), ValueError, "x", None),
    ("u1-f-2d", lambda: ops.upfirdn1d(x3(), torch.ones(3, 3, dtype=F64)), ValueError, "f", None),
    ("u1-up-pair", lambda: ops.upfirdn1d(x3(), f1(), up=(2, 2)), TypeError, "up", None),
    ("u1-down-0", lambda: ops.upfirdn1d(x3(), f1(), down=0), ValueError, "down", "0"),
    ("u1-pad-len4", lambda: ops.upfirdn1d(x3(), f1(), padding=(1, 1, 1, 1)), ValueError,
     "padding", None),
    ("u1-empty-out", lambda: ops.upfirdn1d(x3(), f1(9)), ValueError, "output", None),
    ("u1-gain-neg", lambda: ops.upfirdn1d(x3(), f1(), gain=-0.5), ValueError, "gain", "-0.5"),
    ("u1-meta-numba", lambda: ops.upfirdn1d(x3().to("meta"), None, impl="numba"),
     ValueError, "numba", "meta"),
    # --- filtered_lrelu
    ("fl-x-numpy", lambda: ops.filtered_lrelu(np.zeros((1, 2, 8, 8))), TypeError, "x", None),
    ("fl-x-ndim", lambda: ops.filtered_lrelu(x3()), ValueError, "x", None),
    ("fl-fu-ndim", lambda: ops.filtered_lrelu(x4(), fu=torch.ones(1, 2, 2)), ValueError, "fu",
     None),
    ("fl-fd-int", lambda: ops.filtered_lrelu(x4(), fd=torch.ones(3, dtype=torch.int32)),
     TypeError, "fd", "int32"),
    ("fl-b-len", lambda: ops.filtered_lrelu(x4(), b=torch.zeros(3, dtype=F64)), ValueError, "b",
     "3"),
    ("fl-b-2d", lambda: ops.filtered_lrelu(x4(), b=torch.zeros(1, 2, dtype=F64)), ValueError,
     "b", None),
    ("fl-b-list", lambda: ops.filtered_lrelu(x4(), b=[0.0, 0.0]), TypeError, "b", None),
    ("fl-up-0", lambda: ops.filtered_lrelu(x4(), up=0), ValueError, "up", "0"),
    ("fl-up-pair", lambda: ops.filtered_lrelu(x4(), up=(2, 2)), TypeError, "up", None),
    ("fl-down-float", lambda: ops.filtered_lrelu(x4(), down=2.0), TypeError, "down", "2.0"),
    ("fl-pad-len3", lambda: ops.filtered_lrelu(x4(), padding=[1, 1, 1]), ValueError, "padding",
     None),
    ("fl-gain-neg", lambda: ops.filtered_lrelu(x4(), gain=-1.0), ValueError, "gain", "-1"),
    ("fl-slope-nan", lambda: ops.filtered_lrelu(x4(), slope=math.nan), ValueError, "slope", "nan"),
    ("fl-clamp-neg", lambda: ops.filtered_lrelu(x4(), clamp=-1.0), ValueError, "clamp", "-1"),
    ("fl-empty-out", lambda: ops.filtered_lrelu(x4(), f1(6), f1(6)), ValueError, "output", None),
    ("fl-empty-crop", lambda: ops.filtered_lrelu(x4(), up=2, padding=-8), ValueError, "output",
     None),
    ("fl-impl-bogus", lambda: ops.filtered_lrelu(x4(), impl="fast"), ValueError, "impl", "fast"),
    ("fl-impl-cuda", lambda: ops.filtered_lrelu(x4(), impl="cuda"), ValueError, "cuda", None),
    ("fl-numba-meta", lambda: ops.filtered_lrelu(x4().to("meta"), impl="numba"), ValueError,
     "numba", "meta"),
    # --- bias_act
    ("ba-x-list", lambda: ops.bias_act([1.0, 2.0]), TypeError, "x", None),
    ("ba-act-unknown", lambda: ops.bias_act(x4(), act="gelu"), ValueError, "act", "gelu"),
    ("ba-act-none", lambda: ops.bias_act(x4(), act=None), ValueError, "act", "None"),
    ("ba-b-len", lambda: ops.bias_act(x4(), torch.zeros(3, dtype=F64)), ValueError, "b", "3"),
    ("ba-b-len-dim", lambda: ops.bias_act(x4(), torch.zeros(2, dtype=F64), dim=2), ValueError,
     "b", "8"),
    ("ba-dim-0d", lambda: ops.bias_act(torch.tensor(1.0), torch.zeros(1), dim=0), ValueError,
     "dim", "0"),
    ("ba-dim-1d", lambda: ops.bias_act(torch.zeros(5), torch.zeros(5)), ValueError, "dim", "1"),
    ("ba-b-meta", lambda: ops.bias_act(x4(), torch.zeros(2, device="meta")), ValueError, "b",
     "meta"),
    ("fl-b-meta", lambda: ops.filtered_lrelu(x4(), None, None, torch.zeros(2, device="meta"),
                                             gain=1.0, impl="numba"), ValueError, "b", "meta"),
    ("fa-b-meta", lambda: ops.filtered_act(x4(), "tanh", b=torch.zeros(2, device="meta"),
                                           padding_mode="replicate"), ValueError, "b", "meta"),
    ("ba-gain-neg", lambda: ops.bias_act(x4(), act="relu", gain=-1.0), ValueError, "gain", "-1"),
    ("ba-clamp-neg", lambda: ops.bias_act(x4(), clamp=-0.5), ValueError, "clamp", "-0.5"),
    ("ba-impl-bogus", lambda: ops.bias_act(x4(), impl="gpu"), ValueError, "impl", "gpu"),
    ("ba-impl-cuda", lambda: ops.bias_act(x4(), impl="cuda"), ValueError, "cuda", None),
    ("ba-numba-meta", lambda: ops.bias_act(x4().to("meta"), impl="numba"), ValueError, "numba",
     "meta"),
    # --- wrappers
    ("sf-gain-neg", lambda: ops.setup_filter([1, 2, 1], gain=-2), ValueError, "gain", "-2"),
    ("sf-f-str", lambda: ops.setup_filter("abc"), TypeError, "f", "abc"),
    ("sf-f-zero-sum", lambda: ops.setup_filter([1, -1]), ValueError, "normalize", "0.0"),
    ("sf-normalize-str", lambda: ops.setup_filter([1, 2], normalize="no"), TypeError,
     "normalize", "no"),
    ("sf-flip-str", lambda: ops.setup_filter([1, 2], flip_filter="no"), TypeError,
     "flip_filter", "no"),
    ("up-flip-str", lambda: ops.upfirdn2d(x4(), f1(), flip_filter="no"), TypeError,
     "flip_filter", "no"),
    ("up1d-flip-int", lambda: ops.upfirdn1d(x3(), f1(), flip_filter=1), TypeError,
     "flip_filter", "1"),
    ("fa-flip-str", lambda: ops.filtered_act(x4(), "gelu", flip_filter="yes"), TypeError,
     "flip_filter", "yes"),
    ("fa-flip-triple", lambda: ops.filtered_act(x4(), "gelu", flip_filter=(True, False, True)),
     ValueError, "flip_filter", "(True, False, True)"),
    ("fa1d-flip-pair-int", lambda: ops.filtered_act1d(x3(), "gelu", flip_filter=(True, 0)),
     TypeError, "flip_filter[1]", "0"),
    ("fl-flip-pair-str", lambda: ops.filtered_lrelu(x4(), flip_filter=("no", True)), TypeError,
     "flip_filter[0]", "no"),
    ("fa-replicate-empty", lambda: ops.filtered_act(torch.zeros(1, 1, 0, 4), "gelu", padding=2,
     padding_mode="replicate"), ValueError, "padding_mode", "replicate"),
    ("fa1d-circular-empty", lambda: ops.filtered_act1d(torch.zeros(1, 1, 0), "gelu", padding=2,
     padding_mode="circular"), ValueError, "padding_mode", "circular"),
    ("f2d-f-ndim", lambda: ops.filter2d(x4(), torch.ones(1, 1, 1, dtype=F64)), ValueError, "f",
     None),
    ("up2d-up-0", lambda: ops.upsample2d(x4(), f1(), up=0), ValueError, "up", "0"),
    ("down2d-down-float", lambda: ops.downsample2d(x4(), f1(), down=1.5), TypeError, "down",
     "1.5"),
    ("down2d-x-ndim", lambda: ops.downsample2d(x3(), f1()), ValueError, "x", None),
    ("up2d-gain-overflow", lambda: ops.upsample2d(x4(), f1(), gain=1e308), ValueError, "gain",
     "1e+308"),
    ("sf-separable-str", lambda: ops.setup_filter([1, 2], separable="no"), TypeError,
     "separable", "no"),
    ("sf-device-bogus", lambda: ops.setup_filter([1, 2], device="bogus"), ValueError, "device",
     "bogus"),
    ("sf-gain-overflow", lambda: ops.setup_filter([1, 2], gain=1e300), ValueError, "gain",
     "1e+300"),
    ("sf-f-bool", lambda: ops.setup_filter(True), TypeError, "f", "True"),
    # --- values past what the data's dtype holds: a ValueError, not torch's conversion error
    ("fl-clamp-past-float32", lambda: ops.filtered_lrelu(x4().float(), clamp=1e39), ValueError,
     "clamp", "1e+39"),
    ("fl-clamp-past-float16", lambda: ops.filtered_lrelu(x4().half(), clamp=1e5), ValueError,
     "clamp", "65504"),
    ("fa1d-clamp-past-float16", lambda: ops.filtered_act1d(x3().half(), "tanh", clamp=7e4),
     ValueError, "clamp", "float16"),
    ("ba-clamp-past-float16", lambda: ops.bias_act(x4().half(), clamp=1e5), ValueError, "clamp",
     "100000"),
    ("fa-alpha-past-float32", lambda: ops.filtered_act(x4().float(), "snake", alpha=1e39),
     ValueError, "alpha", "1e+39"),
    ("fa-beta-past-float32", lambda: ops.filtered_act(x4().float(), "snakebeta", alpha=1.0,
                                                      beta=-1e39), ValueError, "beta", "-1e+39"),
    # --- factors torch's convolutions cannot take; planes past 2^40 samples
    ("u2-up-2e31", lambda: ops.upfirdn2d(x4(), None, up=(2**31 - 1, 1), down=(2**31 - 1, 1)),
     ValueError, "up[0]", "2147483647"),
    ("u2-down-2e70", lambda: ops.upfirdn2d(x4(), f1(), down=2**70), ValueError, "down", None),
    ("u1-up-2e31", lambda: ops.upfirdn1d(x3(), f1(), up=2**31), ValueError, "up", "2147483648"),
    ("fl-up-2e40", lambda: ops.filtered_lrelu(x4(), up=2**40), ValueError, "up", None),
    ("u2-plane-2e40", lambda: ops.upfirdn2d(x4(), None, padding=2**20), ValueError, "plane",
     "1048576"),
    ("fl-plane-2e40", lambda: ops.filtered_lrelu(x4(), up=2**20, down=2**20), ValueError,
     "plane", "1048576"),
    # --- tensors the ops cannot read: sparse data, filters on the meta device
    ("u2-x-sparse", lambda: ops.upfirdn2d(x4().to_sparse(), f1()), TypeError, "x", "sparse"),
    ("ba-x-sparse", lambda: ops.bias_act(x4().to_sparse()), TypeError, "x", "sparse"),
    ("u2-f-meta", lambda: ops.upfirdn2d(x4(), torch.ones(3, device="meta")), ValueError, "f",
     "meta"),
    ("fl-fu-meta", lambda: ops.filtered_lrelu(x4(), torch.ones(3, device="meta")), ValueError,
     "fu", "meta"),
    ("fa1d-fd-meta", lambda: ops.filtered_act1d(x3(), "gelu", None, torch.ones(3, device="meta")),
     ValueError, "fd", "meta"),
    # --- resample_poly
    ("rp-x-numpy", lambda: ops.resample_poly(np.zeros(8), 2, 1), TypeError, "x", "ndarray"),
    ("rp-x-int", lambda: ops.resample_poly(x3().long(), 2, 1), TypeError, "x", "int64"),
    ("rp-x-0d", lambda: ops.resample_poly(torch.tensor(1.0), 2, 1), ValueError, "x", "0-d"),
    ("rp-up-0", lambda: ops.resample_poly(x3(), 0, 1), ValueError, "up", "0"),
    ("rp-down-float", lambda: ops.resample_poly(x3(), 2, 1.5), TypeError, "down", "1.5"),
    ("rp-up-huge", lambda: ops.resample_poly(x3(), 2**31, 1), ValueError, "up", "2147483648"),
    ("rp-up-per-dim", lambda: ops.resample_poly(x4(), (2, 3, 4), 1, dim=(-2, -1)), ValueError,
     "up", "(2, 3, 4)"),
    ("rp-dim-range", lambda: ops.resample_poly(x3(), 2, 1, dim=3), ValueError, "dim", "3"),
    ("rp-dim-repeat", lambda: ops.resample_poly(x4(), 2, 1, dim=(2, -2)), ValueError, "dim",
     "(2, -2)"),
    ("rp-dim-empty", lambda: ops.resample_poly(x4(), 2, 1, dim=()), ValueError, "dim", None),
    ("rp-padtype", lambda: ops.resample_poly(x3(), 2, 1, padtype="zeros"), ValueError, "padtype",
     "zeros"),
    ("rp-cval-padtype", lambda: ops.resample_poly(x3(), 2, 1, padtype="edge", cval=1.0),
     ValueError, "cval", "edge"),
    ("rp-cval-nan", lambda: ops.resample_poly(x3(), 2, 1, cval=float("nan")), ValueError, "cval",
     "nan"),
    ("rp-window-bogus", lambda: ops.resample_poly(x3(), 2, 1, window="bogus"), ValueError,
     "window", "bogus"),
    ("rp-window-unhashable", lambda: ops.resample_poly(x3(), 2, 1, window=("kaiser", [5.0])),
     TypeError, "window", "[5.0]"),
    ("rp-taps-2d", lambda: ops.resample_poly(x3(), 2, 1, window=torch.ones(2, 2)), ValueError,
     "window", "(2, 2)"),
    ("rp-taps-nan", lambda: ops.resample_poly(x3(), 2, 1, window=[1.0, float("nan")]),
     ValueError, "window", "finite"),
    ("rp-taps-bool", lambda: ops.resample_poly(x3(), 2, 1, window=torch.ones(3, dtype=torch.bool)),
     TypeError, "window", "bool"),
    ("rp-filter-of-taps", lambda: resample_filter(2, 1, window=np.ones(3)), TypeError,
     "window", None),
    ("rp-cval-half", lambda: ops.resample_poly(x3().half(), 2, 1, cval=1e6), ValueError, "cval",
     "1000000"),
    ("rp-huge-filter", lambda: ops.resample_poly(x3(), 10**6, 1), ValueError, "up/down",
     "20000001 taps"),
    ("rp-huge-filter-2", lambda: ops.resample_poly(x3(), 2**30, 2**30 - 1), ValueError,
     "up/down", None),
    ("rp-window-empty", lambda: ops.resample_poly(x3(), 2, 1, window=[]), ValueError, "window",
     "[]"),
    ("rp-window-complex", lambda: ops.resample_poly(x3(), 2, 1, window=np.ones(3) * 1j),
     TypeError, "window", "complex"),
    ("rp-window-np-bool", lambda: ops.resample_poly(x3(), 2, 1, window=np.ones(3, bool)),
     TypeError, "window", "bool"),
    ("rp-window-ragged", lambda: ops.resample_poly(x3(), 2, 1, window=[[1.0, 2.0], [3.0]]),
     TypeError, "window", "[[1.0, 2.0], [3.0]]"),
    ("rp-window-list-spec", lambda: ops.resample_poly(x3(), 2, 1, window=["kaiser", 5.0]),
     TypeError, "window", "('kaiser', 5.0)"),
    ("rp-window-bool", lambda: ops.resample_poly(x3(), 2, 1, window=True), TypeError, "window",
     "bool"),
    ("rp-window-beta-nan", lambda: ops.resample_poly(x3(), 2, 1, window=float("nan")),
     ValueError, "window", "nan"),
    ("rp-window-beta-big", lambda: ops.resample_poly(x3(), 2, 1, window=1000.0), ValueError,
     "window", "1000.0"),
    ("rp-impl-unresampled", lambda: ops.resample_poly(x3(), 2, 2, impl="bogus"), ValueError,
     "impl", "bogus"),
    ("rp-numba-meta", lambda: ops.resample_poly(x3().to("meta"), 2, 2, impl="numba"),
     ValueError, "resample_poly", "meta"),
    ("rp-x-sparse", lambda: ops.resample_poly(x3().to_sparse(), 2, 1), TypeError, "x",
     "sparse"),
]


@pytest.mark.parametrize(("fn", "exc", "name", "value"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_reported(fn, exc, name, value):
    with pytest.raises(exc) as info:
        fn()
    msg = str(info.value)
    assert re.search(rf"(?<![A-Za-z_]){re.escape(name)}(?![A-Za-z_])", msg), (
        f"{exc.__name__} message does not name {name!r}: {msg!r}")
    if value is not None:
        assert value in msg, f"message does not show the value {value!r}: {msg!r}"


def test_empty_output_message_states_the_sizes():
    with pytest.raises(ValueError) as info:
        ops.upfirdn2d(torch.zeros(1, 1, 3, 5, dtype=F64), torch.ones(7, dtype=F64))
    msg = str(info.value)
    # Input 3×5 and a 7-tap filter (the valid output would be −3 × −1): name what is too small.
    for size in ("3", "5", "7"):
        assert re.search(rf"(?<![\d-]){re.escape(size)}(?!\d)", msg), (size, msg)


def test_1d_messages_speak_in_the_callers_1d_terms():
    with pytest.raises(ValueError) as info:
        ops.upfirdn1d(torch.zeros(1, 2, 5, dtype=F64), torch.ones(30, dtype=F64), up=2,
                      padding=(3, -1))
    assert str(info.value) == (
        "upfirdn1d: output length would be -17 for input length 5, filter 30 taps, up=2, "
        "down=1, padding=(3, -1); expected at least 1")
    with pytest.raises(ValueError, match=r"\(fd\): output length would be -1 for input length 8"):
        ops.filtered_act1d(x3(), "tanh", None, torch.ones(10, dtype=F64))
    with pytest.raises(ValueError, match=r"^x must have samples to extend with "
                       r"padding_mode='replicate', got shape \(1, 2, 0\): an empty signal"):
        ops.filtered_act1d(torch.zeros(1, 2, 0, dtype=F64), "tanh", f1(), padding=3,
                           padding_mode="replicate")


def test_bigvgan_blocks_given_an_empty_signal_name_no_argument_they_lack():
    """BigVGAN's blocks (replicate padding built in) were told to "use padding_mode='zeros'",
    an argument they do not have."""
    from bandlimit.nn import Snake, bigvgan

    for block in (bigvgan.Activation1d(Snake(2)), bigvgan.UpSample1d(2), bigvgan.DownSample1d(2)):
        with pytest.raises(ValueError, match=r"^x must have samples to extend with padding_mode="
                           r"'replicate', got shape \(1, 2, 0\): an empty signal") as info:
            block(torch.zeros(1, 2, 0))
        assert "use padding_mode" not in str(info.value)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_absurd_sizes_fail_before_allocating(impl):
    # A ValueError naming the sizes and the arguments, not an allocator's or oneDNN's error.
    x = torch.zeros(1, 1, 4, 4, dtype=F64)
    with pytest.raises(ValueError, match=r"upfirdn2d: output size 2199023255556x4 "
                       r"\(H x W\) would exceed 1099511627776 samples per side for input 4x4, "
                       r"up=\(1, 1\), down=\(1, 1\), padding=\(0, 0, 1099511627776, "
                       r"1099511627776\)"):
        ops.upfirdn2d(x, None, padding=(0, 0, 2**40, 2**40), impl=impl)
    with pytest.raises(ValueError, match=r"filtered_lrelu \(fu\): output size .* would exceed"):
        ops.filtered_lrelu(x, up=2**30, impl=impl)
    with pytest.raises(ValueError, match=r"upfirdn1d: output length 2199023255555 would exceed "
                       r"1099511627776 samples for input length 3, up=1, down=1, "
                       r"padding=\(2199023255552, 0\)"):
        ops.upfirdn1d(x3()[:, :, :3], None, padding=(2**41, 0), impl=impl)


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_padding_that_cancels_beyond_the_data_allocates_nothing_extra(impl):
    # (2**40, -2**40): pad a trillion zeros and crop them again past the data -- every output
    # sample reads zeros. Valid, so every backend computes it, without padding a trillion.
    x = torch.randn(1, 2, 8, 8, dtype=F64, requires_grad=True)
    f = torch.arange(1.0, 4.0, dtype=F64)
    for pad in ((2**40, -2**40, 0, 0), (-2**40, 2**40, 0, 0), (1, 1, 2**70, -2**70)):
        y = ops.upfirdn2d(x, f, padding=pad, impl=impl)
        w = 8 + pad[0] + pad[1] - 2
        h = 8 + pad[2] + pad[3] - 2
        assert y.shape == (1, 2, h, w) and not y.any()
        (g,) = torch.autograd.grad(y.sum(), x)
        assert not g.any()
    y = ops.upfirdn1d(x[0], f, padding=(2**63, -2**63), impl=impl)
    assert y.shape == (2, 8, 6) and not y.any()
    # the filtered ops, either stage: the cut padding gives the same (zero) output as the
    # equivalent small one, (length + p0 + p1, -length) per axis
    fu = fd = torch.ones(4, dtype=F64) / 4
    b = torch.ones(2, dtype=F64)  # the bias rides on the data, which no output reads
    y = ops.filtered_act(x, "gelu", fu, fd, b, up=2, down=2, padding=3,
                         down_padding=(2**40, -2**40, 0, 0), impl=impl)
    assert y.shape == (1, 2, 8, 8) and not y.any()
    big = ops.filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=(2**70, -2**70 + 20, 3, 3),
                             impl=impl)
    small = ops.filtered_lrelu(x, fu, fd, b, up=2, down=2, padding=(36, -16, 3, 3), impl=impl)
    assert big.shape == small.shape == (1, 2, 8, 15) and torch.equal(big, small)
    assert not big.any()


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_valid_edge_arguments_are_accepted(impl):
    # The boundaries of the documented ranges are valid: gain/slope/clamp 0, output of 1×1,
    # factors given as pairs, padding as lists, numpy integers.
    x = torch.ones(1, 2, 4, 4, dtype=F64)
    assert ops.upfirdn2d(x, torch.ones(4, dtype=F64), padding=[0, 0, 0, 0], gain=0,
                         impl=impl).abs().sum() == 0
    assert tuple(ops.upfirdn2d(x, torch.ones(4, dtype=F64), impl=impl).shape) == (1, 2, 1, 1)
    assert tuple(ops.upfirdn2d(x, None, up=[np.int64(2), 1], impl=impl).shape) == (1, 2, 4, 8)
    y = ops.filtered_lrelu(x, None, None, torch.tensor([-2.0, 3.0], dtype=F64), gain=1.0, slope=0,
                           clamp=0, impl=impl)
    assert y.abs().sum() == 0
    y = ops.filtered_lrelu(x, None, None, torch.tensor([-2.0, 3.0], dtype=F64), gain=1.0,
                           slope=0.0, clamp=None, impl=impl)
    torch.testing.assert_close(y[0, :, 0, 0], torch.tensor([0.0, 4.0], dtype=F64))
    assert torch.equal(ops.bias_act(x, clamp=0.0, impl=impl), torch.zeros_like(x))


def test_a_signal_of_the_other_kind_is_pointed_to_the_other_op():
    """Three dimensions for a 2-D op: one image without its batch axis, or 1-D signals; two
    for a 1-D op: one signal (pointing only to the 1-D op sent an image user astray)."""
    with pytest.raises(ValueError, match=r"got shape \(3, 8, 8\); for one image \[C, H, W\] "
                       r"add the batch axis \(x\[None\]\); for 1-D signals \[N, C, L\] use "
                       r"the 1-D op \(upfirdn1d, filtered_act1d\)"):
        ops.filtered_lrelu(torch.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"got shape \(2, 16\); for one signal \[C, L\] add "
                       r"the batch axis \(x\[None\]\)$"):
        ops.upfirdn1d(torch.randn(2, 16), None)
    with pytest.raises(ValueError, match=r"got shape \(1, 2, 8, 8\); for images \[N, C, H, W\] "
                       r"use the 2-D op"):
        ops.filtered_act1d(torch.randn(1, 2, 8, 8), "gelu")
    # volumes, and the volume ops given the others (before: no hint)
    for op in (ops.filtered_act, ops.upfirdn1d):
        with pytest.raises(ValueError, match=r"got shape \(1, 2, 4, 4, 4\); for volumes \[N, C, "
                           r"D, H, W\] use the 3-D op \(upfirdn3d, filtered_act3d\)$"):
            op(torch.randn(1, 2, 4, 4, 4), *(("gelu",) if op is ops.filtered_act else (None,)))
    with pytest.raises(ValueError, match=r"got shape \(2, 4, 4, 4\); for one volume \[C, D, H, "
                       r"W\] add the batch axis \(x\[None\]\); for images \[N, C, H, W\] use "
                       r"the 2-D op"):
        ops.upfirdn3d(torch.randn(2, 4, 4, 4), None)
    with pytest.raises(ValueError, match=r"got shape \(2, 4, 4\); for 1-D signals \[N, C, L\] "
                       r"use the 1-D op \(upfirdn1d, filtered_act1d\), for one image \[C, H, W\] "
                       r"the 2-D op with its batch axis \(x\[None\]\)$"):
        ops.filtered_act3d(torch.randn(2, 4, 4), "gelu")


# ---------------------------------------------------------------------------------------------
# Found by fuzzing: outputs that alias the input, values made real silently, numbers too large
# for a float, and the meta device


@pytest.mark.parametrize("impl", ["auto", "ref", "numba"])
def test_bias_act_identity_returns_a_new_tensor(impl):
    """act='linear', no bias, gain 1, no clamp computes nothing; the output was x itself, so
    writing to it changed the input."""
    x = torch.arange(6.0, dtype=F64).reshape(2, 3)
    before = x.clone()
    y = ops.bias_act(x, impl=impl)
    assert y is not x and y.data_ptr() != x.data_ptr()
    torch.testing.assert_close(y, before, rtol=0, atol=0)
    y.add_(100.0)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    # still differentiable, as the copy of the identity
    xg = torch.randn(2, 3, dtype=F64, requires_grad=True)
    (g,) = torch.autograd.grad(ops.bias_act(xg, impl=impl).sum(), xg)
    torch.testing.assert_close(g, torch.ones_like(g))


def test_bias_act_alpha_must_fit_the_dtype():
    """Torch's 'value cannot be converted to type float without overflow', before."""
    with pytest.raises(ValueError, match=r"^alpha must be at most the largest finite "
                       r"torch\.float32 value \(3\.40282e\+38\), got 1e\+39$"):
        ops.bias_act(torch.randn(2, 3), act="lrelu", alpha=1e39)
    with pytest.raises(ValueError, match=r"^alpha must be at most the largest finite "
                       r"torch\.float16 value \(65504\), got -100000\.0$"):
        ops.bias_act(torch.randn(2, 3).half(), act="lrelu", alpha=-1e5)
    # the activations that take no alpha ignore it, as documented
    x = torch.randn(2, 3)
    torch.testing.assert_close(ops.bias_act(x, act="tanh", alpha=1e39), torch.tanh(x))


def test_a_gain_beyond_the_dtype_is_refused():
    """gain=1e39 on float32 gave NaN (0 · inf where the activation is 0) with no error; the
    clamp was already checked this way."""
    f = torch.ones(3) / 3
    x = torch.randn(1, 2, 5, 5)
    calls = {
        "filtered_lrelu": lambda x: ops.filtered_lrelu(x, f, f, gain=1e39),
        "filtered_act": lambda x: ops.filtered_act(x, "gelu", f, f, gain=1e39),
        "filtered_act1d": lambda x: ops.filtered_act1d(x[0], "tanh", f, f, gain=1e39),
        "bias_act": lambda x: ops.bias_act(x, act="relu", gain=1e39),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=r"^gain must be at most the largest finite "
                           r"torch\.float32 value \(3\.40282e\+38\), got 1e\+39$"):
            call(x)
        assert torch.isfinite(call(x.double())).all(), name  # within float64's range


_BIG = 10**400
_BIG_SAYS = r"1\.000e\+400 \(an int of 401 digits\): beyond the range of a float"


@pytest.mark.parametrize(("name", "fn"), [
    ("gain", lambda: ops.upfirdn2d(x4(), f1(), gain=_BIG)),
    ("gain", lambda: ops.setup_filter([1, 2, 1], gain=_BIG)),
    ("gain", lambda: ops.upsample2d(x4(), f1(), gain=_BIG)),
    ("clamp", lambda: ops.filtered_lrelu(x4(), clamp=_BIG)),
    ("slope", lambda: ops.filtered_lrelu(x4(), slope=_BIG)),
    ("alpha", lambda: ops.bias_act(x4(), act="lrelu", alpha=_BIG)),
    ("alpha", lambda: ops.filtered_act(x4(), "snake", alpha=_BIG)),
    ("cval", lambda: ops.resample_poly(x3(), 2, 1, cval=-_BIG)),
])
def test_an_int_too_large_for_a_float_is_a_value_error(name, fn):
    """Python's bare 'OverflowError: int too large to convert to float' named nothing."""
    with pytest.raises(ValueError, match=rf"^{name} must be a finite real number, got "
                       rf"-?{_BIG_SAYS} \(about ±1\.8e\+308\)$"):
        fn()


def test_huge_ints_are_shown_short():
    """A factor of 10**400 printed its 401 digits; 10**5000 could not be printed at all."""
    with pytest.raises(ValueError, match=r"^up must be an int in \[1, 2\*\*30\], got "
                       r"1\.000e\+400 \(an int of 401 digits\)$"):
        ops.upfirdn2d(x4(), f1(), up=_BIG)
    with pytest.raises(ValueError, match=r"^down must be an int >= 1, got -1\.000e\+5000 \(an int "
                       r"of 5001 digits\)$"):
        ops.upfirdn1d(x3(), f1(), down=-(10**5000))
    with pytest.raises(ValueError, match=r"^f must hold finite real numbers, got \[10{58}"
                       r"\.\.\.0{8}, 1\] \(406 characters\)$"):
        ops.setup_filter([_BIG, 1])


_HUGE = 10**5000  # (more digits than Python prints)
_BOUND_SAYS = r"must be an int in \[-2\*\*100, 2\*\*100\], got "
_HUGE_SAYS = _BOUND_SAYS + r"-?1\.000e\+5000 \(an int of 5001 digits\)$"


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("padding", lambda: ops.upfirdn2d(x4(), f1(), padding=_HUGE)),
        ("padding", lambda: ops.upfirdn2d(x4(), f1(), padding=-_HUGE)),
        ("padding[1]", lambda: ops.upfirdn2d(x4(), f1(), padding=(0, _HUGE))),
        ("padding[0]", lambda: ops.upfirdn2d(x4(), f1(), padding=(_HUGE, -_HUGE, 0, 0))),
        ("padding[0]", lambda: ops.upfirdn2d(x4(), f1(), padding=(_HUGE, _HUGE, _HUGE))),
        ("padding", lambda: ops.upfirdn1d(x3(), f1(), padding=_HUGE)),
        ("padding[1]", lambda: ops.upfirdn1d(x3(), f1(), padding=(0, -_HUGE))),
        ("padding", lambda: ops.upsample2d(x4(), f1(), padding=_HUGE)),
        ("padding", lambda: ops.downsample2d(x4(), f1(), padding=_HUGE)),
        ("padding", lambda: ops.filter2d(x4(), f1(), padding=_HUGE)),
        ("padding", lambda: ops.filtered_lrelu(x4(), padding=_HUGE)),
        ("padding[2]", lambda: ops.filtered_lrelu(x4(), padding=(0, 0, _HUGE, -_HUGE))),
        ("padding", lambda: ops.filtered_act(x4(), "gelu", padding=_HUGE)),
        ("down_padding", lambda: ops.filtered_act(x4(), "gelu", down_padding=-_HUGE)),
        ("padding", lambda: ops.filtered_act1d(x3(), "tanh", padding=_HUGE)),
        ("down_padding[0]", lambda: ops.filtered_act1d(x3(), "tanh", down_padding=(_HUGE, 0))),
    ],
)
def test_a_huge_padding_is_a_value_error_naming_it(name, fn):
    """padding=10**5000 raised Python's bare 'Exceeds the limit (4300 digits) for integer string
    conversion' (from the message of the output size it made), naming nothing."""
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} {_HUGE_SAYS}"):
        fn()


def test_padding_is_bounded_at_2_pow_100():
    # The bound: a padding that cancels beyond the data is valid up to it, one past it is not.
    f = torch.ones(3, dtype=F64)
    y = ops.upfirdn2d(x4(), f, padding=(2**100, -(2**100), 0, 0))
    assert y.shape == (1, 2, 6, 6) and not y.any()
    with pytest.raises(
        ValueError,
        match=rf"^padding\[0\] {_BOUND_SAYS}1\.267e\+30 \(an int of 31 digits\)$",
    ):
        ops.upfirdn2d(x4(), f, padding=(2**100 + 1, -(2**100) - 1, 0, 0))


@pytest.mark.parametrize(
    ("name", "fn"),
    [
        ("up", lambda: ops.upfirdn2d(x4(), f1(), up=(_HUGE, _HUGE, _HUGE))),
        ("down", lambda: ops.filtered_lrelu(x4(), down=[2, 2, -_HUGE])),
        ("up", lambda: ops.filtered_act1d(x3(), "tanh", up=(2, _HUGE))),
        ("up", lambda: ops.resample_poly(x4(), (_HUGE, 1, 1), 1, dim=(-2, -1))),
        ("gain", lambda: ops.upfirdn2d(x4(), f1(), gain=(_HUGE,))),
    ],
)
def test_a_sequence_holding_a_huge_int_is_shown_short(name, fn):
    """The message of a wrong-length (or not-a-number) sequence printed it whole, which Python
    cannot do with an int of 5001 digits in it: its error named nothing."""
    with pytest.raises((TypeError, ValueError)) as info:
        fn()
    msg = str(info.value)
    assert msg.startswith(f"{name} must be "), msg
    assert "1.000e+5000 (an int of 5001 digits)" in msg, msg


@pytest.mark.parametrize("f", [
    np.array([1 + 1j, 2.0]),
    torch.tensor([1 + 1j, 2.0]),
    np.array([[1, 2], [3, 4]], dtype=np.complex64),
    [[1.0, 2.0], [1j, 1.0]],
])
def test_setup_filter_rejects_complex_taps(f):
    """Arrays and tensors were made real silently (the imaginary parts dropped)."""
    with pytest.raises(TypeError, match=r"^f must hold real numbers, got complex taps: "):
        ops.setup_filter(f)


@pytest.mark.parametrize("f", [
    np.array([True, True]),
    torch.tensor([True, False, True]),
    [True, False, True],
    np.bool_(True),
])
def test_setup_filter_rejects_boolean_taps(f):
    """The docstring says booleans raise a TypeError; only a bare Python bool did."""
    with pytest.raises(TypeError, match=r"^f must (hold real numbers, got bool taps|be None, a "
                       r"number, a sequence of numbers or a tensor, got)"):
        ops.setup_filter(f)


def test_setup_filter_names_non_finite_taps():
    """A NaN tap with normalize=False said 'gain=1.0 makes the float32 taps overflow'."""
    for f, shown in (([math.nan, 1.0], r"\[nan, 1\.0\]"), ([math.inf, 1.0], r"\[inf, 1\.0\]"),
                     ([1e39, 1.0], r"\[1e\+39, 1\.0\]")):
        for normalize in (False, True):
            with pytest.raises(ValueError, match=r"^f must have finite taps \(float32: at most "
                               rf"±3\.4e\+38\), got {shown}$"):
                ops.setup_filter(f, normalize=normalize)
    with pytest.raises(ValueError, match=r"^the outer product f ⊗ f makes the float32 taps "
                       r"overflow \(beyond ±3\.4e\+38\)$"):
        ops.setup_filter([1e20, 1e20], normalize=False)
    with pytest.raises(ValueError, match=r"^gain=1e\+300 makes the float32 taps overflow"):
        ops.setup_filter([1.0, 2.0], gain=1e300)
    # and the result tracks no gradient, as documented
    assert not ops.setup_filter(torch.tensor([1.0, 2.0], requires_grad=True)).requires_grad


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_ops_name_a_filter_with_non_finite_taps(impl):
    """A NaN or infinite tap in a filter tensor given to an op spread NaN over the output, in
    places that differed per backend; now the op refuses it, naming the argument."""
    x2, x1 = torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 16)
    good = torch.ones(12)
    for bad in (torch.tensor([1.0, math.nan, 1.0]), torch.full((12,), math.inf),
                torch.ones(4, 4, dtype=F64).index_fill_(0, torch.tensor([2]), -math.inf)):
        flat = bad.flatten()[:12]
        calls = [
            ("f", lambda f, g: ops.upfirdn2d(x2, f, up=2, impl=impl)),
            ("fu", lambda f, g: ops.filtered_lrelu(x2, f, good, up=2, down=2, impl=impl)),
            ("fd", lambda f, g: ops.filtered_lrelu(x2, good, f, up=2, down=2, impl=impl)),
            ("fd", lambda f, g: ops.filtered_act(x2, "gelu", good, f, up=2, down=2, impl=impl)),
            ("f", lambda f, g: ops.upfirdn1d(x1, g, down=2, impl=impl)),
            ("fu", lambda f, g: ops.filtered_act1d(x1, "snake", g, good, alpha=torch.ones(2),
                                                   up=2, down=2, impl=impl)),
        ]
        for name, call in calls:
            with pytest.raises(ValueError, match=rf"^{name} must have finite taps, got tensor"):
                call(bad, flat)
    # finite taps that the op's gain scales past float32's range: said so, not a silent inf
    with pytest.raises(ValueError, match=r"^fu's taps scaled by the op's gain \(×2\) overflow "
                       r"torch\.float32 \(largest finite value 3\.4e\+38\)"):
        ops.filtered_lrelu(x2, torch.full((12,), 3e38, dtype=F64), good, up=2, impl=impl)
    # float64 data, a float32 filter: the gain applies in float32 (StyleGAN3's order), and the
    # message said "overflow torch.float64"; it names float32 and the way out now
    with pytest.raises(ValueError, match=r"overflow torch\.float32 \(largest finite value "
                       r"3\.4e\+38\) \(the gain is applied in the filter's dtype: pass a "
                       r"torch\.float64 filter\)"):
        ops.upfirdn2d(x2.double(), torch.tensor([[1.0]]), gain=1e40, impl=impl)
    assert float(ops.upfirdn2d(x2.double() + 1, torch.tensor([[1.0]], dtype=F64), gain=1e40,
                               impl=impl)[0, 0, 0, 0]) == 1e40


def _meta(*shape):
    return torch.empty(*shape, device="meta")


@pytest.mark.parametrize(("label", "fn"), [
    ("upfirdn1d 3/2", lambda x: ops.upfirdn1d(x, torch.ones(4), up=3, down=2)),
    ("upfirdn1d 3/2 padded", lambda x: ops.upfirdn1d(x, torch.ones(5), up=3, down=2,
                                                     padding=(2, 1))),
    ("resample_poly 3/2", lambda x: ops.resample_poly(x, 3, 2)),
    ("resample_poly 2/3 median", lambda x: ops.resample_poly(x, 2, 3, padtype="median")),
    ("upfirdn2d 3/2 separable", lambda x: ops.upfirdn2d(x[..., None].expand(-1, -1, -1, 12),
                                                        torch.ones(4), up=3, down=2)),
    ("upfirdn2d 3/2 2-D filter", lambda x: ops.upfirdn2d(x[..., None].expand(-1, -1, -1, 12),
                                                         torch.ones(3, 4), up=3, down=2)),
])
@pytest.mark.parametrize("impl", ["auto", "ref"])
def test_ref_computes_shapes_on_the_meta_device(label, fn, impl):
    """Up and down together read the values ('are they finite?'): 'Tensor.item() cannot be
    called on meta tensors'. A meta tensor has no values: the result is a meta tensor shaped as
    on the CPU."""
    del impl  # (the meta device resolves to 'ref' either way: both spellings are checked)
    want = fn(torch.zeros(1, 2, 16))
    y = fn(_meta(1, 2, 16))
    assert y.is_meta and y.shape == want.shape and y.dtype == want.dtype


def test_resample_modules_and_filters_on_the_meta_device():
    from bandlimit.nn import ResamplePoly

    y = ResamplePoly(3, 2).to("meta")(_meta(1, 2, 16))
    assert y.is_meta and y.shape == (1, 2, 24)
    y = ops.resample_poly(_meta(1, 2, 16), 3, 2, window=_meta(7))  # meta taps too
    assert y.is_meta and y.shape == (1, 2, 24)
    with pytest.raises(ValueError, match=r"^window must hold its taps, got a tensor on the meta "
                       r"device$"):
        ops.resample_poly(torch.zeros(1, 2, 16), 3, 2, window=_meta(7))
    # setup_filter: a meta filter gives a meta result of the right shape, but has no taps to
    # place on another device
    f = ops.setup_filter(_meta(3), device="meta")
    assert f.is_meta and f.shape == (3, 3)
    assert ops.setup_filter(_meta(9), device="meta").shape == (9,)
    assert ops.setup_filter([1, 2, 1], device="meta").is_meta
    with pytest.raises(ValueError, match=r"^f must hold its taps to place them on cpu, got a "
                       r"tensor on the meta device$"):
        ops.setup_filter(_meta(3))


@pytest.mark.parametrize("impl", ["ref", "numba"])
def test_a_callable_act_must_keep_the_samples_and_return_floats(impl):
    """A callable that drops samples is refused naming the shapes; one that returns integers
    (a step function) was cast to the input's dtype silently, with no gradient: now refused."""
    x2, x1 = torch.randn(1, 2, 8, 8), torch.randn(1, 2, 16)

    def step(t):
        return (t > 0).long()

    with pytest.raises(ValueError, match=r"act must return a tensor of its input's batch and "
                       r"samples .*: <lambda> returned \(1, 2, 8, 7\) for the up-sampled "
                       r"signal of shape \(1, 2, 8, 8\)$"):
        ops.filtered_act(x2, lambda t: t[..., :-1], impl=impl)
    for call in (lambda: ops.filtered_act(x2, step, impl=impl),
                 lambda: ops.filtered_act1d(x1, step, impl=impl)):  # fmt: skip
        with pytest.raises(TypeError, match=r"^act must return a floating-point tensor: step "
                           r"returned dtype torch\.int64 for the up-sampled signal of dtype "
                           r"torch\.float32 \(for a step, return it in the input's dtype: "
                           r"\(u > 0\)\.to\(u\.dtype\)\)$"):
            call()
    # (a float output of another precision is fine: computed on, in the op's dtype)
    y = ops.filtered_act(x2, lambda t: torch.nn.functional.gelu(t).double(), impl=impl)
    assert y.dtype == torch.float32
