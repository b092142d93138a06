"""Bad input to bandlimit.filters: every documented error names the argument and the value."""

from __future__ import annotations

import json
import math
import re
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bandlimit.filters.kaiser import (
    kaiser_atten,
    kaiser_beta,
    kaiser_jinc,
    kaiser_sinc,
    kaiser_sinc_bigvgan,
    lowpass,
)
from bandlimit.filters.plot import plot_frequency_response, plot_schedule
from bandlimit.filters.response import (
    frequency_response,
    magnitude_db,
    passband_ripple,
    stopband_attenuation,
)
from bandlimit.filters.schedule import geometric_schedule, stylegan3_schedule

GOOD = {"numtaps": 12, "cutoff": 2.0, "width": 12.0, "fs": 32.0}

# (argument, bad value, exception, regex the message must match)
DESIGN_CASES = [
    ("numtaps", 0, ValueError, r"numtaps must be an int >= 1, got 0"),
    ("numtaps", -3, ValueError, r"numtaps .* got -3"),
    ("numtaps", 12.0, TypeError, r"numtaps must be an int.*12\.0"),
    ("numtaps", True, TypeError, r"numtaps .* got True"),
    ("numtaps", "12", TypeError, r"numtaps .* got '12'"),
    ("numtaps", None, TypeError, r"numtaps .* got None"),
    # Past 2**53 an int no longer converts to float64 exactly (10**400: not at all).
    pytest.param(
        "numtaps",
        10**400,
        ValueError,
        r"numtaps must be an int in \[1, 2\*\*53\], got 1\.000e\+400 \(an int of 401 digits\)$",
        id="numtaps-10**400",
    ),
    pytest.param(  # (Python refuses to print an int of more than 4300 digits)
        "numtaps",
        10**5000,
        ValueError,
        r"numtaps must be an int in \[1, 2\*\*53\], got 1\.000e\+5000 \(an int of 5001 digits\)$",
        id="numtaps-10**5000",
    ),
    ("cutoff", 0.0, ValueError, r"cutoff must satisfy 0 < cutoff < fs/2 = 16\.0.*got 0\.0"),
    ("cutoff", -1.0, ValueError, r"cutoff .* got -1\.0"),
    ("cutoff", 16.0, ValueError, r"cutoff .*fs/2 = 16\.0.* got 16\.0"),
    ("cutoff", 20, ValueError, r"cutoff .* got 20"),
    ("cutoff", math.nan, ValueError, r"cutoff must be a finite real number, got nan"),
    ("cutoff", math.inf, ValueError, r"cutoff must be a finite .* got inf"),
    ("cutoff", 1 + 2j, TypeError, r"cutoff must be a real number, got \(1\+2j\)"),
    ("cutoff", "2", TypeError, r"cutoff must be a real number, got '2'"),
    ("cutoff", np.array([2.0]), TypeError, r"cutoff must be a real number"),
    ("width", 0.0, ValueError, r"width must be > 0, got 0\.0"),
    ("width", -12.0, ValueError, r"width must be > 0, got -12\.0"),
    ("width", math.nan, ValueError, r"width must be a finite real number, got nan"),
    ("width", None, TypeError, r"width must be a real number, got None"),
    # Kaiser's beta for so wide a transition overflows I0 (the window would be inf/inf = NaN).
    (
        "width",
        2000.0,
        ValueError,
        r"width must be <= 1303\.79 for numtaps = 12 and fs = 32\.0 .*"
        r"got 2000\.0",
    ),
    ("fs", 0.0, ValueError, r"fs must be > 0, got 0\.0"),
    ("fs", -32.0, ValueError, r"fs must be > 0, got -32\.0"),
    ("fs", math.inf, ValueError, r"fs must be a finite real number, got inf"),
    ("fs", False, TypeError, r"fs must be a real number, got False"),
]

DTYPE_CASES = [
    (torch.int32, TypeError, r"dtype must be a real floating-point torch\.dtype.*torch\.int32"),
    (torch.complex64, TypeError, r"dtype must be a real floating-point .*complex64"),
    (torch.bool, TypeError, r"dtype .*torch\.bool"),
    (np.float32, TypeError, r"dtype must be a torch\.dtype, got .*float32"),
    ("float32", TypeError, r"dtype must be a torch\.dtype, got 'float32'"),
]

DESIGNS = {
    "kaiser_sinc": kaiser_sinc,
    "kaiser_jinc": kaiser_jinc,
    "lowpass": lowpass,
    "lowpass_radial": partial(lowpass, radial=True),
}


# ---------------------------------------------------------------------------------------------
# Design functions.


@pytest.mark.parametrize("design", DESIGNS.values(), ids=DESIGNS.keys())
@pytest.mark.parametrize(("arg", "value", "exc", "match"), DESIGN_CASES)
def test_design_rejects_bad_arguments(design, arg, value, exc, match):
    with pytest.raises(exc, match=match):
        design(**{**GOOD, arg: value})


@pytest.mark.parametrize("design", DESIGNS.values(), ids=DESIGNS.keys())
@pytest.mark.parametrize(("dtype", "exc", "match"), DTYPE_CASES)
def test_design_rejects_bad_dtype(design, dtype, exc, match):
    with pytest.raises(exc, match=match):
        design(**GOOD, dtype=dtype)


@pytest.mark.parametrize("radial", ["yes", 1, None])
def test_lowpass_rejects_non_bool_radial(radial):
    with pytest.raises(TypeError, match=r"radial must be a bool, got"):
        lowpass(**GOOD, radial=radial)


@pytest.mark.parametrize(
    ("arg", "value", "exc", "match"),
    [
        ("fs", 0.0, ValueError, r"fs must be > 0, got 0\.0"),
        ("cutoff", math.nan, ValueError, r"cutoff must be a finite .* got nan"),
        ("cutoff", -2.0, ValueError, r"cutoff must be > 0, got -2\.0"),
        ("width", 0.0, ValueError, r"width must be > 0, got 0\.0"),
        ("width", "6", TypeError, r"width must be a real number, got '6'"),
    ],
)
def test_lowpass_no_filter_still_validates(arg, value, exc, match):
    """numtaps == 1 skips the design but not the type/sign checks."""
    with pytest.raises(exc, match=match):
        lowpass(**{**GOOD, "numtaps": 1, arg: value})


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"numtaps": 0}, ValueError, r"numtaps must be an int >= 1, got 0"),
        ({"numtaps": 2.0}, TypeError, r"numtaps must be an int"),
        ({"width": 0.0}, ValueError, r"width must be > 0, got 0\.0"),
        ({"width": -0.1}, ValueError, r"width must be > 0, got -0\.1"),
        ({"width": math.inf}, ValueError, r"width must be a finite .* got inf"),
        ({"width": "0.1"}, TypeError, r"width must be a real number"),
        pytest.param(
            {"numtaps": 10**400},
            ValueError,
            r"numtaps must be an int in \[1, 2\*\*53\]",
            id="numtaps-10**400",
        ),
    ],
)
def test_kaiser_atten_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kaiser_atten(**{"numtaps": 12, "width": 0.5, **kwargs})


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (math.nan, ValueError, r"atten_db must be a finite real number, got nan"),
        (-math.inf, ValueError, r"atten_db .* got -inf"),
        ("60", TypeError, r"atten_db must be a real number, got '60'"),
        (60j, TypeError, r"atten_db must be a real number"),
        (None, TypeError, r"atten_db .* got None"),
    ],
)
def test_kaiser_beta_bad_input(value, exc, match):
    with pytest.raises(exc, match=match):
        kaiser_beta(value)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"cutoff": 0.51}, ValueError, r"cutoff must satisfy 0 < cutoff <= 0\.5 .* got 0\.51"),
        ({"cutoff": 0.0}, ValueError, r"cutoff .* got 0\.0"),
        ({"cutoff": math.nan}, ValueError, r"cutoff must be a finite .* got nan"),
        ({"half_width": 0.0}, ValueError, r"half_width must be > 0, got 0\.0"),
        ({"half_width": None}, TypeError, r"half_width must be a real number, got None"),
        ({"kernel_size": 0}, ValueError, r"kernel_size must be an int >= 1, got 0"),
        ({"kernel_size": 12.0}, TypeError, r"kernel_size must be an int.*12\.0"),
        ({"kernel_size": 2**53 + 1}, ValueError, r"kernel_size must be an int in \[1, 2\*\*53\]"),
        (
            {"half_width": 50.0},
            ValueError,
            r"half_width must be <= 44\.8177 for kernel_size = 12 .*"
            r"got 50\.0",
        ),
        ({"dtype": torch.int64}, TypeError, r"dtype must be a real floating-point"),
    ],
)
def test_bigvgan_preset_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        kaiser_sinc_bigvgan(**{"cutoff": 0.25, "half_width": 0.3, "kernel_size": 12, **kwargs})


# ---------------------------------------------------------------------------------------------
# Analysis functions.

H1 = np.array([0.25, 0.5, 0.25])

BAD_FILTERS = [
    ([[0.5, 0.5], [0.5]], ValueError, r"f must be a sequence of numbers or of equal-length "
                                      r"rows of numbers, got a ragged sequence"),
    (["a", "b"], TypeError, r"f must hold real numbers, got a sequence of <U1"),
    ([True, False], TypeError, r"f must hold real numbers, got a sequence of bool"),
    (torch.ones(3, device="meta"), ValueError, r"f must hold its taps, got a tensor on the meta"),
    (np.zeros((2, 2, 2)), ValueError, r"f must be a 1-D or 2-D filter, got shape \(2, 2, 2\)"),
    (np.float64(1.0), TypeError, r"f must be a torch\.Tensor, a numpy\.ndarray or a sequence "
                                 r"of numbers, got float64"),
    (np.array(1.0), ValueError, r"f must be a 1-D or 2-D filter, got shape \(\) \(0-D\)"),
    (np.zeros(0), ValueError, r"f must have at least one tap, got shape \(0,\)"),
    (np.array([0.5, 0.5j]), TypeError, r"f must have a real numeric dtype, got complex128"),
    (torch.tensor([0.5, 0.5j]), TypeError, r"f must have a real numeric dtype.*complex"),
    (torch.tensor([True, False]), TypeError, r"f must have a real numeric dtype, got torch\.bool"),
    (np.array(["a", "b"]), TypeError, r"f must have a real numeric dtype"),
    (np.array([0.5, np.nan]), ValueError, r"f must contain only finite values"),
    (torch.tensor([0.5, float("inf")]), ValueError, r"f must contain only finite values"),
]

ANALYSES = {
    "frequency_response": lambda f, **kw: frequency_response(f, **kw),
    "passband_ripple": lambda f, **kw: passband_ripple(f, 0.1, **kw),
    "stopband_attenuation": lambda f, **kw: stopband_attenuation(f, 0.4, **kw),
    "plot_frequency_response": lambda f, **kw: plot_frequency_response(f, **kw),
}


@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=ANALYSES.keys())
def test_analysis_takes_taps_written_as_a_list(analysis):
    """[0.25, 0.5, 0.25] (as scipy.signal.freqz takes it) was refused: only tensors and arrays."""
    import matplotlib

    matplotlib.use("Agg")
    if analysis is ANALYSES["plot_frequency_response"]:
        import matplotlib.pyplot as plt

        analysis([0.25, 0.5, 0.25])
        analysis(((0.25, 0.5), (0.5, 0.25)))
        plt.close("all")
        return
    np.testing.assert_array_equal(np.asarray(analysis([0.25, 0.5, 0.25]), dtype=object),
                                  np.asarray(analysis(H1), dtype=object))


@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=ANALYSES.keys())
@pytest.mark.parametrize(("f", "exc", "match"), BAD_FILTERS)
def test_analysis_rejects_bad_filters(analysis, f, exc, match):
    with pytest.raises(exc, match=match):
        analysis(f)


@pytest.mark.parametrize("analysis", ANALYSES.values(), ids=ANALYSES.keys())
@pytest.mark.parametrize(
    ("fs", "exc", "match"),
    [
        (0.0, ValueError, r"fs must be > 0, got 0\.0"),
        (-1.0, ValueError, r"fs must be > 0, got -1\.0"),
        (math.nan, ValueError, r"fs must be a finite real number, got nan"),
        ("1", TypeError, r"fs must be a real number, got '1'"),
    ],
)
def test_analysis_rejects_bad_fs(analysis, fs, exc, match):
    with pytest.raises(exc, match=match):
        analysis(H1, fs=fs)


@pytest.mark.parametrize(
    "analysis",
    [
        frequency_response,
        partial(passband_ripple, cutoff=0.1),
        partial(stopband_attenuation, stopband=0.4),
    ],
)
@pytest.mark.parametrize(
    ("n", "exc", "match"),
    [
        (2, ValueError, r"n must be >= the filter length 3, got 2"),
        (1, ValueError, r"n must be an int >= 2, got 1"),
        (64.0, TypeError, r"n must be an int >= 2, got 64\.0"),
        ("64", TypeError, r"n must be an int"),
        pytest.param(
            10**400, ValueError, r"n must be an int in \[2, 2\*\*53\], got 1\.000e\+400",
            id="n-10**400",
        ),
    ],
)
def test_analysis_rejects_bad_n(analysis, n, exc, match):
    with pytest.raises(exc, match=match):
        analysis(H1, n=n)


def test_frequency_response_rejects_non_bool_db():
    with pytest.raises(TypeError, match=r"db must be a bool, got 'yes'"):
        frequency_response(H1, db="yes")


@pytest.mark.parametrize(
    ("fn", "arg"), [(passband_ripple, "cutoff"), (stopband_attenuation, "stopband")]
)
@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (0.0, ValueError, r"{arg} must satisfy 0 < {arg} < fs/2 = 0\.5 .*got 0\.0"),
        (0.5, ValueError, r"{arg} .* got 0\.5"),
        (-0.1, ValueError, r"{arg} .* got -0\.1"),
        (math.inf, ValueError, r"{arg} must be a finite real number, got inf"),
        (None, TypeError, r"{arg} must be a real number, got None"),
    ],
)
def test_band_edges_validated(fn, arg, value, exc, match):
    with pytest.raises(exc, match=match.format(arg=arg)):
        fn(H1, value, 1.0)


@pytest.mark.parametrize(
    "fn", [partial(passband_ripple, cutoff=0.1), partial(stopband_attenuation, stopband=0.4)]
)
@pytest.mark.parametrize("f", [np.array([1.0, -1.0]), np.array([[1.0, -1.0], [-1.0, 1.0]])])
def test_measures_reject_zero_dc_gain(fn, f):
    with pytest.raises(ValueError, match=r"f has \(near\) zero DC gain \|H\(0\)\| = 0\.0"):
        fn(f)


def test_magnitude_db_bad_input():
    with pytest.raises(TypeError, match=r"h must be numeric \(real or complex\), got dtype <U1"):
        magnitude_db(np.array(["a"]))
    with pytest.raises(ValueError, match=r"h must contain only finite values"):
        magnitude_db([1.0, math.nan])
    with pytest.raises(
        TypeError, match=r"h must be numeric \(real or complex\), got dtype torch\.bool"
    ):
        magnitude_db(torch.tensor([True, False]))


@pytest.mark.parametrize("design", [kaiser_sinc, kaiser_jinc])
def test_design_names_the_widest_width_kaiser_can_window(design):
    """Past the bound in the message, beta > 709 and I0(beta) overflows: just below it works."""
    with pytest.raises(
        ValueError,
        match=r"width must be <= 11\.4917 for numtaps = 79 and fs = 2\.0 "
        r"\(Kaiser's beta = 1234 > 709 overflows I0\), got 20\.0",
    ):
        design(79, 0.5, 20.0, 2.0)
    assert bool(torch.isfinite(design(79, 0.5, 11.49, 2.0, dtype=torch.float64)).all())
    with pytest.raises(ValueError, match=r"width must be <= 11\.4917"):
        design(79, 0.5, 11.50, 2.0)


def test_bigvgan_preset_names_the_widest_half_width():
    assert bool(torch.isfinite(kaiser_sinc_bigvgan(0.25, 44.8, 12)).all())
    with pytest.raises(ValueError, match=r"half_width must be <= 44\.8177"):
        kaiser_sinc_bigvgan(0.25, 44.9, 12)


def test_stopband_attenuation_needs_a_grid_point_in_the_stop_band():
    """On a 3 x 3 grid the largest radial frequency is sqrt(2)/3 = 0.471 < 0.49: none to measure."""
    with pytest.raises(
        ValueError,
        match=r"no point of the n x n = 3 x 3 frequency grid lies in the "
        r"stop band.*stopband = 0\.49.*0\.4714.*raise n",
    ):
        stopband_attenuation(torch.ones(2, 2), 0.49, n=3)
    assert stopband_attenuation(torch.ones(2, 2), 0.49, n=4) > 0  # the corner (0.5, 0.5) is in


# ---------------------------------------------------------------------------------------------
# Plot functions (validation happens before matplotlib is touched, except for ``ax``).


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"cutoff": 0.6}, ValueError, r"cutoff must be None or in \(0, fs/2 = 0\.5\], got 0\.6"),
        ({"cutoff": 0.0}, ValueError, r"cutoff must be None or in .* got 0\.0"),
        ({"stopband": -1.0}, ValueError, r"stopband must be None or in .* got -1\.0"),
        ({"stopband": math.nan}, ValueError, r"stopband must be a finite real number, got nan"),
        ({"cutoff": "0.1"}, TypeError, r"cutoff must be a real number, got '0\.1'"),
        ({"title": 3}, TypeError, r"title must be a str or None, got int"),
    ],
)
def test_plot_frequency_response_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        plot_frequency_response(H1, 1.0, **kwargs)


def test_plot_frequency_response_bad_ax():
    pytest.importorskip("matplotlib").use("Agg")
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes or None, got str"):
        plot_frequency_response(H1, ax="axes")


def _layer(**kw):
    base = {"name": "L0", "out_cutoff": 2.0, "out_half_width": 6.0, "out_sampling_rate": 16}
    return SimpleNamespace(**{**base, **kw})


_INPUT = SimpleNamespace(bandwidth=2.0, sampling_rate=16)


@pytest.mark.parametrize(
    ("schedule", "exc", "match"),
    [
        (SimpleNamespace(layers=[_layer()]), TypeError, r"schedule must have an attribute 'input'"),
        (SimpleNamespace(input=_INPUT), TypeError, r"schedule must have an attribute 'layers'"),
        (SimpleNamespace(input=_INPUT, layers=[]), ValueError, r"schedule\.layers must contain"),
        (
            SimpleNamespace(input=SimpleNamespace(sampling_rate=16), layers=[_layer()]),
            TypeError,
            r"schedule\.input must have an attribute 'bandwidth'",
        ),
        (
            SimpleNamespace(
                input=SimpleNamespace(bandwidth=-2.0, sampling_rate=16), layers=[_layer()]
            ),
            ValueError,
            r"schedule\.input\.bandwidth must be > 0, got -2\.0",
        ),
        (
            SimpleNamespace(input=_INPUT, layers=[_layer(), SimpleNamespace(name="L1")]),
            TypeError,
            r"schedule\.layers\[1\] must have an attribute 'out_cutoff'",
        ),
        (
            SimpleNamespace(input=_INPUT, layers=[_layer(out_half_width=math.nan)]),
            ValueError,
            r"schedule\.layers\[0\]\.out_half_width must be a finite real number, got nan",
        ),
        (
            SimpleNamespace(input=_INPUT, layers=[_layer(out_sampling_rate=0)]),
            ValueError,
            r"schedule\.layers\[0\]\.out_sampling_rate must be > 0, got 0",
        ),
    ],
)
def test_plot_schedule_bad_input(schedule, exc, match):
    with pytest.raises(exc, match=match):
        plot_schedule(schedule)


_NON_FINITE_WINDOWS = [("gaussian", 0.0), ("general_gaussian", 1, 0), ("exponential", None, 0)]


@pytest.mark.parametrize("window", _NON_FINITE_WINDOWS)
def test_resample_window_that_gives_non_finite_taps_is_named(window):
    """scipy designs these (a zero width: 0 / 0) with only a RuntimeWarning; the filter, and
    every output of resample_poly, were NaN."""
    from bandlimit.filters import resample_filter
    from bandlimit.filters.resample import _design
    from bandlimit.nn import ResamplePoly
    from bandlimit.ops import resample_poly

    says = (rf"^window {re.escape(repr(window))} gives non-finite filter taps \(NaN or inf\): a "
            r"window parameter is out of its range \(e\.g\. a zero width or standard deviation\)$")
    with pytest.raises(ValueError, match=says):
        resample_filter(3, 2, window)
    with pytest.raises(ValueError, match=says):
        resample_poly(torch.zeros(1, 1, 20), 3, 2, window=window)
    with pytest.raises(ValueError, match=says):
        ResamplePoly(3, 2, window=window)  # at construction, not at the first call
    with pytest.raises(ValueError, match=says):
        _design(3, window)  # the design checks its own taps (a traced call skips the probe)


def test_int_too_large_for_a_float_names_the_argument():
    """Python's bare 'OverflowError: int too large to convert to float' named nothing."""
    for arg in ("cutoff", "fs"):
        with pytest.raises(ValueError, match=rf"^{arg} must be a finite real number, got "
                                             r"1\.000e\+400 \(an int of 401 digits\)"):
            lowpass(**{**GOOD, arg: 10**400})


_GEOMETRIC = {"first_cutoff": 2, "last_cutoff": 128, "first_stopband": 4.3, "last_stopband": 157,
              "num_critical": 2, "resolution": 256}


@pytest.mark.parametrize(("call", "name", "bound"), [
    (lambda v: stylegan3_schedule(64, num_fp16_res=v), "num_fp16_res", r"\[0, 2\*\*53\]"),
    (lambda v: stylegan3_schedule(64, channel_base=v), "channel_base", r"\[1, 2\*\*53\]"),
    (lambda v: stylegan3_schedule(v), "img_resolution", r"\[1, 2\*\*53\]"),
    (lambda v: stylegan3_schedule(64, num_layers=v), "num_layers", r"\[1, 65536\]"),
    (lambda v: geometric_schedule(14, **_GEOMETRIC, margin_size=v), "margin_size",
     r"\[0, 2\*\*53\]"),
])
def test_schedule_ints_beyond_float64_are_refused_by_name(call, name, bound):
    """num_fp16_res=10**400 hung the process (2**num_fp16_res, a Python big int); channel_base,
    resolution or margin 10**400 gave a bare OverflowError; margin 2**60 + 1 came out as 2**60
    (sizes are float64). Now: a ValueError naming the argument and its range, at once."""
    for value in (10**400, 2**60 + 1):
        with pytest.raises(ValueError, match=rf"^{name} must be an int in {bound}, got "):
            call(value)


def test_a_huge_num_fp16_res_is_every_layer_in_fp16():
    """Within the range, a large num_fp16_res is computed without a big power of two."""
    s = stylegan3_schedule(64, num_fp16_res=2**40)
    assert all(layer.use_fp16 for layer in s.layers)


def test_schedule_given_numpy_scalars_dumps_to_json():
    """first_cutoff=np.float32(2), conv_clamp=np.int64(256), ...: kept as given but as Python
    numbers, so that to_dict() and synthesis_kwargs are JSON (they raised "Object of type
    float32 is not JSON serializable")."""
    s = stylegan3_schedule(64, first_cutoff=np.float32(2.0), first_stopband=np.float64(4.3),
                           last_stopband_rel=np.float32(1.25), conv_clamp=np.int64(256))
    json.dumps(s.to_dict())
    json.dumps(s.synthesis_kwargs)
    assert type(s.conv_clamp) is int and s.conv_clamp == 256
    assert s.to_dict() == stylegan3_schedule(64, first_cutoff=2.0, first_stopband=4.3,
                                             last_stopband_rel=1.25, conv_clamp=256).to_dict()


def test_magnitude_db_of_a_meta_tensor_is_named():
    """It raised torch's "Cannot copy out of meta tensor; no data!"."""
    with pytest.raises(ValueError, match=r"^h must hold its values, got a tensor on the meta"):
        magnitude_db(torch.ones(3, device="meta"))


def test_a_huge_last_stopband_rel_is_named_not_last_stopband():
    """last_stopband_rel=1e308 was reported as "last_stopband must be a finite real number",
    an argument of geometric_schedule the caller never passed."""
    with pytest.raises(ValueError, match=r"^last_stopband_rel must keep last_stopband = "
                                         r"img_resolution / 2 \* last_stopband_rel finite, got "
                                         r"1e\+308 \(img_resolution=64\)$"):
        stylegan3_schedule(64, last_stopband_rel=1e308)
