"""Tests of bandlimit.filters.schedule: cutoff schedules and StyleGAN3 layer attributes.

Ground truth: ``schedules.json`` and ``filters.npz`` (made with the official StyleGAN3 code), the
worked tables and filter taps of the reference sheet (stylegan3.md §1.4, §2.3, §2.5), and
properties that hold for any geometric schedule.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.filters.schedule import (
    GeometricSchedule,
    Schedule,
    geometric_schedule,
    stylegan3_schedule,
)
from tests.defaults import under_default_device_and_dtype

CONFIGS = ["T64", "T256", "T1024", "R64", "R256", "R1024"]
REL = 1e-12


@pytest.fixture(scope="module")
def reference(vectors_dir):
    with open(vectors_dir / "schedules.json") as f:
        return json.load(f)["configs"]


def _build(config_key: str) -> Schedule:
    return stylegan3_schedule(int(config_key[1:]), config=config_key[0])


def assert_same(actual, expected, where: str) -> None:
    """Compare a schedule attribute with its JSON value: floats to REL, everything else exact."""
    if expected is None:
        assert actual is None, f"{where}: expected None, got {actual!r}"
    elif isinstance(expected, bool):
        assert isinstance(actual, bool) and actual == expected, (
            f"{where}: {actual!r} != {expected!r}"
        )
    elif isinstance(expected, str):
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, int):
        assert isinstance(actual, numbers.Integral) and not isinstance(actual, bool), where
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
    elif isinstance(expected, float):
        assert isinstance(actual, numbers.Real) and not isinstance(actual, bool), where
        assert math.isclose(actual, expected, rel_tol=REL, abs_tol=0.0), (
            f"{where}: {actual!r} != {expected!r}"
        )
    elif isinstance(expected, list):
        assert isinstance(actual, (tuple, list)), f"{where}: {actual!r} is not a sequence"
        assert len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for j, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, f"{where}[{j}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and set(actual) == set(expected), (
            f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        )
        for k, e in expected.items():
            assert_same(actual[k], e, f"{where}.{k}")
    else:  # pragma: no cover - the JSON holds nothing else
        raise AssertionError(f"{where}: unexpected reference type {type(expected)}")


# ---------------------------------------------------------------------------------------------
# Numerics: the official schedules.


@pytest.mark.parametrize("key", CONFIGS)
def test_matches_official_schedule(reference, key):
    """Every network-level, input and per-layer field of schedules.json, as attributes."""
    ref = reference[key]
    sched = _build(key)
    for field, expected in ref.items():
        if field == "layers":
            continue
        actual = getattr(sched, field)
        if field == "input":
            for k, e in expected.items():
                assert_same(getattr(actual, k), e, f"{key}.input.{k}")
        else:
            assert_same(actual, expected, f"{key}.{field}")
    assert len(sched.layers) == len(ref["layers"]) == 15
    for i, (layer, ref_layer) in enumerate(zip(sched.layers, ref["layers"])):
        assert layer.index == i
        for k, e in ref_layer.items():
            assert_same(getattr(layer, k), e, f"{key}.layers[{i}].{k}")


@pytest.mark.parametrize("key", CONFIGS)
def test_to_dict_matches_json_layout(reference, key):
    """to_dict() holds the JSON record (plus extra keys), with lists where the JSON has lists."""
    out = _build(key).to_dict()
    ref = reference[key]
    assert set(ref) <= set(out)
    for field in ref:
        if field == "layers":
            for i, (a, e) in enumerate(zip(out["layers"], ref["layers"], strict=True)):
                assert set(e) <= set(a)
                assert_same({k: a[k] for k in e}, e, f"{key}.layers[{i}]")
        elif field == "input":
            assert_same({k: out["input"][k] for k in ref["input"]}, ref["input"], f"{key}.input")
        else:
            assert_same(out[field], ref[field], f"{key}.{field}")
    json.dumps(out)  # plain Python types only


def test_derived_fields():
    sched = stylegan3_schedule(256)
    for layer in sched.layers:
        assert layer.out_stopband == pytest.approx(layer.out_cutoff + layer.out_half_width)
        assert layer.in_stopband == pytest.approx(layer.in_cutoff + layer.in_half_width)
        k = layer.conv_kernel - 1
        assert layer.conv_out_size == (layer.in_size[0] + k, layer.in_size[1] + k)
    # §2.3: f_c + f_h of L3 and L12
    assert sched.layers[3].out_stopband == pytest.approx(16.0, rel=REL)
    assert sched.layers[12].out_stopband == pytest.approx(157.5865, abs=1e-4)
    assert sched.num_ws == 16
    assert len(sched) == 15
    assert sched.geometric.stopbands[3] == pytest.approx(10.5561, abs=1e-4)


def test_worked_table_256_and_ablation_names():
    """Names from the reference sheet's tables (§2.3, §2.5), including non-default capacity."""
    assert stylegan3_schedule(256, config="R").layer_names[9:] == (
        "L9_148_724", "L10_276_512", "L11_276_362", "L12_276_256", "L13_256_256", "L14_256_3",
    )  # fmt: skip
    ablation = stylegan3_schedule(256, channel_base=16384)
    assert ablation.layer_names == (
        "L0_36_512", "L1_36_512", "L2_36_512", "L3_52_512", "L4_52_512", "L5_84_512",
        "L6_84_512", "L7_148_362", "L8_148_256", "L9_148_181", "L10_276_128", "L11_276_91",
        "L12_276_64", "L13_256_64", "L14_256_3",
    )  # fmt: skip
    assert ablation.synthesis_kwargs == {"channel_base": 16384, "channel_max": 512}


def test_boundary_layer9_at_256():
    """f_t[9] = 2^6 exactly at 256²: s[9] = 128, and a few ulps more would double it."""
    sched = stylegan3_schedule(256)
    assert sched.geometric.stopbands[9] == 64.0
    assert sched.layers[9].out_sampling_rate == 128
    assert sched.layers[9].name == "L9_148_362"
    assert sched.layers[10].in_size == (148, 148)
    # The case is genuinely on the boundary: nudging the last stop band up by a few ulps
    # flips layer 9 to s = 256 (so the expression order is what keeps the architecture).
    kw = dict(
        first_cutoff=2, last_cutoff=128.0, first_stopband=2**2.1, num_critical=2,
        resolution=256, margin_size=10,
    )  # fmt: skip
    last = 128.0 * 2**0.3
    flipped = []
    for _ in range(8):
        last = float(np.nextafter(last, np.inf))
        flipped.append(geometric_schedule(14, last_stopband=last, **kw).sampling_rates[9])
    assert flipped[-1] == 256
    assert set(flipped) == {128, 256}


def test_synthesis_kwargs_lists_non_defaults():
    sched = stylegan3_schedule(
        128, config="t", margin_size=5, conv_clamp=None, num_fp16_res=0, filter_size=4
    )
    assert sched.config == "T"
    assert sched.synthesis_kwargs == {
        "channel_base": 32768,
        "channel_max": 512,
        "margin_size": 5,
        "conv_clamp": None,
        "num_fp16_res": 0,
        "filter_size": 4,
    }
    assert all(layer.flrelu_clamp is None for layer in sched.layers)
    assert not any(layer.use_fp16 for layer in sched.layers[:-3])  # s * 1 > 128 only at the end
    assert {layer.up_taps for layer in sched.layers} == {1, 8, 16}


def test_config_overrides():
    """Explicit arguments override the config defaults (R-style T network and vice versa)."""
    sched = stylegan3_schedule(64, config="T", use_radial_filters=True, conv_kernel=1)
    ref = stylegan3_schedule(64, config="R", channel_base=32768, channel_max=512)
    assert [dataclasses.asdict(a) for a in sched.layers] == [
        dataclasses.asdict(b) for b in ref.layers
    ]


def test_frozen():
    sched = stylegan3_schedule(64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.layers[0].out_cutoff = 3.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.img_resolution = 128  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Filters.

T256_L0_TAPS = [
    0.0007919, 0.01001832, 0.03894952, 0.09241279, 0.15652561, 0.20130186,
    0.20130186, 0.15652561, 0.09241279, 0.03894952, 0.01001832, 0.0007919,
]  # fmt: skip


def test_layer_filters_t256_l0_taps():
    """stylegan3.md §1.4: T-256 L0 up and down filters."""
    up, down = stylegan3_schedule(256).layer_filters(0)
    expected = torch.tensor(T256_L0_TAPS, dtype=torch.float32)
    for f in (up, down):
        assert f.dtype == torch.float32 and f.shape == (12,)
        torch.testing.assert_close(f, expected, rtol=1e-6, atol=1e-8)


def test_layer_filters_r_radial_row():
    """stylegan3.md §1.4: R L0 radial down filter (12×12), centre row and corner."""
    up, down = stylegan3_schedule(1024, config="R").layer_filters("L0_36_1024")
    assert up.shape == (12,)
    assert down.shape == (12, 12)
    row5 = [
        0.00020526, 0.00227863, 0.00819805, 0.01854216, 0.03053336, 0.03875488,
        0.03875488, 0.03053336, 0.01854216, 0.00819805, 0.00227863, 0.00020526,
    ]  # fmt: skip
    torch.testing.assert_close(down[5], torch.tensor(row5), rtol=2e-5, atol=1e-8)
    assert down[0, 0].item() == pytest.approx(8.412e-7, rel=1e-3)


def test_layer_filters_match_official_buffers(vectors_dir):
    """Every (config, layer, up/down) filter listed in filters.npz, bit for bit (float32)."""
    data = np.load(vectors_dir / "filters.npz")
    schedules = {key: _build(key) for key in CONFIGS}
    checked = 0
    for i in range(len(data["numtaps"])):
        if data["is_extra"][i]:
            continue
        for origin in str(data["origin"][i]).split(";"):
            key, name, side, radial = origin.split(":")
            up, down = schedules[key].layer_filters(name)
            f = up if side == "up" else down
            ref = data[f"rad_f32_{i:03d}" if radial == "radial=True" else f"sep_f32_{i:03d}"]
            assert f is not None and tuple(f.shape) == ref.shape, origin
            np.testing.assert_array_equal(f.numpy(), ref, err_msg=origin)
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("key", ["T64", "R64", "R256"])
def test_layer_filters_shapes_follow_records(key):
    sched = _build(key)
    for i, layer in enumerate(sched.layers):
        up, down = sched.layer_filters(i, dtype=torch.float64)
        for f, shape in ((up, layer.up_filter_shape), (down, layer.down_filter_shape)):
            if shape is None:
                assert f is None
            else:
                assert tuple(f.shape) == shape and f.dtype == torch.float64
                assert f.sum().item() == pytest.approx(1.0, abs=1e-12)
        assert (down is not None and down.ndim == 2) == (layer.down_radial and layer.down_taps > 1)
        if key.startswith("R") and not layer.is_critically_sampled:
            assert down.shape == (layer.down_taps, layer.down_taps)
    assert sched.layer_filters(-1) == (None, None)  # ToRGB


@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_layer_filters_are_on_the_cpu_whatever_the_default_device_and_dtype(dtype):
    """The designs went to the default device (a meta default: taps without values)."""
    sched = _build("R64")
    kw = {} if dtype is None else {"dtype": dtype}
    for i in (0, 3, len(sched.layers) - 2):
        want = sched.layer_filters(i, **kw)
        got = under_default_device_and_dtype(lambda i=i: sched.layer_filters(i, **kw))
        for g, w in zip(got, want):
            assert g.device == torch.device("cpu") and g.dtype == (dtype or torch.float32)
            torch.testing.assert_close(g, w, rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Properties of geometric schedules.


@st.composite
def geometric_args(draw, *, increasing: bool = True):
    num_layers = draw(st.integers(1, 20))
    num_critical = draw(st.integers(0, num_layers - 1))
    resolution = 2 ** draw(st.integers(1, 12))
    nyquist = resolution / 2
    lo = draw(st.floats(0.25, nyquist))
    hi = draw(st.floats(lo, nyquist))
    r0 = draw(st.floats(1.001, 4.0))
    r1 = draw(st.floats(1.001, 4.0))
    first_cutoff, last_cutoff = (lo, hi) if increasing else (hi, lo)
    first_stopband = first_cutoff * r0
    last_stopband = last_cutoff * r1
    if increasing:
        last_stopband = max(last_stopband, first_stopband)
    else:
        first_stopband = max(first_stopband, last_stopband)
    return dict(
        num_layers=num_layers,
        num_critical=num_critical,
        resolution=resolution,
        first_cutoff=first_cutoff,
        last_cutoff=last_cutoff,
        first_stopband=first_stopband,
        last_stopband=last_stopband,
        margin_size=draw(st.integers(0, 16)),
        num_unpadded=draw(st.integers(0, num_layers + 1)),
    )


def _check_common(g: GeometricSchedule, a: dict) -> None:
    n = a["num_layers"] + 1
    res = a["resolution"]
    for seq in (g.exponents, g.cutoffs, g.stopbands, g.sampling_rates, g.half_widths, g.sizes):
        assert len(seq) == n
    assert len(g) == n
    assert g.cutoffs[0] == a["first_cutoff"] and g.stopbands[0] == a["first_stopband"]
    crit_start = a["num_layers"] - a["num_critical"]
    for i in range(n):
        s, fc, ft, fh = g.sampling_rates[i], g.cutoffs[i], g.stopbands[i], g.half_widths[i]
        assert g.exponents[i] == pytest.approx(min(i / crit_start, 1.0), rel=REL)
        # s: the smallest power of two >= min(2 f_t, res), an int in [1, res]
        assert isinstance(s, int) and s >= 1 and s & (s - 1) == 0 and s <= res
        target = min(2 * ft, res)
        assert s >= target * (1 - REL) and s / 2 < target
        assert s >= 2 * fc * (1 - REL)  # the cutoff is below Nyquist
        assert ft > fc and fh > 0
        assert fc + fh == pytest.approx(max(ft, s / 2), rel=REL)
        assert g.stopband_edges[i] == pytest.approx(max(ft, s / 2), rel=REL)
        padded = i < n - a["num_unpadded"]
        assert g.sizes[i] == (s + 2 * a["margin_size"] if padded else res)
        assert g.is_critically_sampled[i] == (i >= crit_start)
        if i >= crit_start:
            assert fc == pytest.approx(a["last_cutoff"], rel=REL)
            assert ft == pytest.approx(a["last_stopband"], rel=REL)
            if a["last_cutoff"] == res / 2:
                assert s == res and fc == pytest.approx(s / 2, rel=REL)


@given(geometric_args(increasing=True))
def test_geometric_increasing_properties(a):
    g = geometric_schedule(**a)
    _check_common(g, a)
    assert all(x <= y for x, y in zip(g.cutoffs, g.cutoffs[1:]))
    assert all(x <= y for x, y in zip(g.stopbands, g.stopbands[1:]))
    assert all(x <= y for x, y in zip(g.sampling_rates, g.sampling_rates[1:]))
    assert all(
        a["first_cutoff"] * (1 - REL) <= c <= a["last_cutoff"] * (1 + REL) for c in g.cutoffs
    )


@given(geometric_args(increasing=False))
def test_geometric_decreasing_properties(a):
    g = geometric_schedule(**a)
    _check_common(g, a)
    assert all(x >= y for x, y in zip(g.cutoffs, g.cutoffs[1:]))
    assert all(x >= y for x, y in zip(g.sampling_rates, g.sampling_rates[1:]))


@given(geometric_args())
def test_geometric_matches_naive_loop(a):
    """An independent float64 loop (log-linear interpolation via exp/log) agrees to ~1e-12."""
    g = geometric_schedule(**a)
    n, nc = a["num_layers"], a["num_critical"]
    for i in range(n + 1):
        t = min(i / (n - nc), 1.0)
        fc = math.exp((1 - t) * math.log(a["first_cutoff"]) + t * math.log(a["last_cutoff"]))
        ft = math.exp((1 - t) * math.log(a["first_stopband"]) + t * math.log(a["last_stopband"]))
        assert g.cutoffs[i] == pytest.approx(fc, rel=1e-12)
        assert g.stopbands[i] == pytest.approx(ft, rel=1e-12)


def test_geometric_stylegan3_defaults_critical():
    g = geometric_schedule(
        14, first_cutoff=2, last_cutoff=512, first_stopband=2**2.1,
        last_stopband=512 * 2**0.3, num_critical=2, resolution=1024, margin_size=10,
    )  # fmt: skip
    assert g.is_critically_sampled == (False,) * 12 + (True,) * 3
    assert g.sampling_rates == (16, 16, 32, 32, 64, 128, 128, 256, 256, 512) + (1024,) * 5
    assert g.sizes[-3:] == (1044, 1024, 1024)


# ---------------------------------------------------------------------------------------------
# Properties of StyleGAN3 layer records.


@pytest.mark.filterwarnings("ignore:the ToRGB layer resamples:UserWarning")  # (num_critical 0)
@given(
    res_log2=st.integers(2, 10),
    config=st.sampled_from(["T", "R"]),
    margin=st.integers(0, 12),
    filter_size=st.integers(1, 8),
    lrelu_upsampling=st.integers(1, 4),
    conv_kernel=st.integers(1, 5),
    num_layers=st.integers(2, 16),
    data=st.data(),
)
def test_stylegan3_layer_geometry(
    res_log2, config, margin, filter_size, lrelu_upsampling, conv_kernel, num_layers, data
):
    """Paddings make the output canvas come out at out_size; factors and taps are consistent."""
    num_critical = data.draw(st.integers(0, num_layers - 1))
    sched = stylegan3_schedule(
        2**res_log2, config=config, margin_size=margin, filter_size=filter_size,
        lrelu_upsampling=lrelu_upsampling, conv_kernel=conv_kernel, num_layers=num_layers,
        num_critical=num_critical,
    )  # fmt: skip
    assert len(sched.layers) == num_layers + 1 and sched.num_ws == num_layers + 2
    assert sched.layers[-1].is_torgb and not any(lay.is_torgb for lay in sched.layers[:-1])
    for prev, layer in zip((sched.layers[0], *sched.layers), sched.layers):
        if layer.index > 0:  # the chain is consistent
            assert layer.in_size == prev.out_size
            assert layer.in_channels == prev.out_channels
            assert layer.in_sampling_rate == prev.out_sampling_rate
            assert layer.in_cutoff == prev.out_cutoff
        up, down = layer.up_factor, layer.down_factor
        assert layer.tmp_sampling_rate == layer.in_sampling_rate * up
        assert layer.tmp_sampling_rate == layer.out_sampling_rate * down
        # upsample (zero insertion), pad, two valid convolutions, keep every down-th sample
        length = layer.conv_out_size[0] * up + layer.padding[0] + layer.padding[1]
        length -= (layer.up_taps - 1) + (layer.down_taps - 1)
        assert length >= 1 and -(-length // down) == layer.out_size[0]
        assert layer.padding[:2] == layer.padding[2:]
        assert layer.up_taps == (filter_size * up if up > 1 and not layer.is_torgb else 1)
        assert layer.down_taps == (filter_size * down if down > 1 and not layer.is_torgb else 1)
        assert layer.down_radial == (config == "R" and not layer.is_critically_sampled)
        assert layer.name == f"L{layer.index}_{layer.out_size[0]}_{layer.out_channels}"
        assert layer.in_cutoff < layer.tmp_sampling_rate / 2 or layer.up_taps == 1
        assert layer.out_cutoff < layer.tmp_sampling_rate / 2 or layer.down_taps == 1


@pytest.mark.parametrize("key", CONFIGS)
def test_padding_centres_output_canvas(key):
    """Default layers satisfy the exact centring condition 2·pad_lo = pad_total + up − 1."""
    for layer in _build(key).layers:
        total = layer.padding[0] + layer.padding[1]
        assert 2 * layer.padding[0] == total + layer.up_factor - 1


@settings(max_examples=10)
@given(res_log2=st.integers(2, 8), config=st.sampled_from(["T", "R"]))
def test_small_networks_design_valid_filters(res_log2, config):
    sched = stylegan3_schedule(2**res_log2, config=config)
    for i in range(len(sched)):
        up, down = sched.layer_filters(i)
        for f in (up, down):
            assert f is None or bool(torch.isfinite(f).all())


# ---------------------------------------------------------------------------------------------
# Bad input.

GEO_OK = dict(
    num_layers=14, first_cutoff=2.0, last_cutoff=128.0, first_stopband=4.0,
    last_stopband=150.0, num_critical=2, resolution=256,
)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        ({"num_layers": 0}, ValueError, "num_layers must be an int >= 1, got 0"),
        ({"num_layers": 3.0}, TypeError, "num_layers"),
        ({"num_critical": 14}, ValueError, r"num_critical must satisfy .* < num_layers = 14"),
        ({"num_critical": -1}, ValueError, "num_critical"),
        ({"resolution": 200}, ValueError, "resolution must be a power of two.*200"),
        ({"resolution": 256.0}, TypeError, "resolution"),
        ({"resolution": True}, TypeError, "resolution"),
        ({"first_cutoff": 0.0}, ValueError, "first_cutoff must be > 0, got 0.0"),
        ({"last_cutoff": -3}, ValueError, "last_cutoff"),
        ({"first_cutoff": float("nan")}, ValueError, "first_cutoff"),
        ({"first_stopband": "4"}, TypeError, "first_stopband"),
        ({"last_cutoff": 129.0}, ValueError, r"last_cutoff must be <= resolution / 2 = 128\.0"),
        ({"first_stopband": 2.0}, ValueError, "first_stopband must be > first_cutoff = 2.0"),
        ({"last_stopband": 100.0}, ValueError, "last_stopband must be > last_cutoff = 128.0"),
        (
            {"first_cutoff": 0.1, "first_stopband": 0.2},
            ValueError,
            "first_stopband must be > 0.25",
        ),
        ({"margin_size": -1}, ValueError, "margin_size"),
        ({"num_unpadded": 16}, ValueError, "num_unpadded must be <= num_layers \\+ 1 = 15"),
    ],
)
def test_geometric_bad_input(change, exc, match):
    with pytest.raises(exc, match=match):
        geometric_schedule(**{**GEO_OK, **change})


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"config": "X"}, ValueError, "config must be 'T' or 'R', got 'X'"),
        ({"config": None}, ValueError, "config"),
        ({"img_resolution": 300}, ValueError, "img_resolution must be a power of two.*300"),
        ({"img_resolution": 2}, ValueError, r"img_resolution must be >= 2 \* first_cutoff = 4"),
        ({"img_resolution": 256.0}, TypeError, "img_resolution"),
        ({"num_critical": 14}, ValueError, "num_critical"),
        ({"num_layers": 0}, ValueError, "num_layers"),
        ({"first_cutoff": 0}, ValueError, "first_cutoff must be > 0"),
        ({"first_stopband": 1.5}, ValueError, "first_stopband must be > first_cutoff"),
        ({"last_stopband_rel": 1.0}, ValueError, "last_stopband_rel must be > 1"),
        ({"channel_base": 0}, ValueError, "channel_base"),
        ({"channel_base": 100}, ValueError, "channel_base must be > the largest cutoff 128.0"),
        ({"channel_max": 512.0}, TypeError, "channel_max"),
        ({"filter_size": 0}, ValueError, "filter_size"),
        ({"lrelu_upsampling": 0}, ValueError, "lrelu_upsampling"),
        ({"conv_kernel": 0}, ValueError, "conv_kernel"),
        ({"use_radial_filters": 1}, TypeError, "use_radial_filters must be a bool"),
        ({"num_fp16_res": -1}, ValueError, "num_fp16_res"),
        ({"conv_clamp": 0}, ValueError, "conv_clamp"),
        ({"magnitude_ema_beta": 1.0}, ValueError, r"magnitude_ema_beta must be in \(0, 1\)"),
        ({"margin_size": -2}, ValueError, "margin_size"),
        ({"img_channels": 0}, ValueError, "img_channels"),
    ],
)
def test_stylegan3_bad_input(kwargs, exc, match):
    kwargs = {"img_resolution": 256, **kwargs}
    with pytest.raises(exc, match=match):
        stylegan3_schedule(**kwargs)


def test_layer_lookup_bad_input():
    sched = stylegan3_schedule(64)
    assert sched.layer(-1) is sched.layers[14]
    assert sched.layer("L4_52_512") is sched.layers[4]
    with pytest.raises(ValueError, match=r"layer index must be in \[-15, 14\], got 15"):
        sched.layer_filters(15)
    with pytest.raises(ValueError, match="key must be one of the layer names"):
        sched.layer_filters("L4_52_511")
    with pytest.raises(TypeError, match="key must be a layer index or name"):
        sched.layer_filters(1.0)  # type: ignore[arg-type]


def test_layer_filters_trace_an_undesignable_width_to_the_schedule():
    """A stop band 100x the last cutoff gives L12 a 1584-wide transition: past Kaiser's limit."""
    sched = stylegan3_schedule(16, last_stopband_rel=100)
    with pytest.raises(
        ValueError,
        match=r"layer L12_36_512: down filter \(12 taps, cutoff 8\.0, "
        r"width 2 \* out_half_width = 1584\.0, fs 32\): width must be <= 1303\.79"
        r".*half-widths follow the schedule's stop bands \(first_stopband = .*, "
        r"last_stopband_rel = 100\)",
    ):
        sched.layer_filters(12)
    assert all(f is None or bool(torch.isfinite(f).all()) for f in sched.layer_filters(11))


# ---------------------------------------------------------------------------------------------
# Presentation.


def test_table_lists_every_layer():
    sched = stylegan3_schedule(1024, config="R")
    text = sched.table()
    lines = text.splitlines()
    assert len(lines) == 2 + 2 + 15
    for layer in sched.layers:
        assert layer.name in text
    assert "StyleGAN3-R" in lines[0] and "1024x1024" in lines[0]
    assert "ToRGB" in lines[-1] and lines[-1].split()[0] == "14"
    row9 = next(line for line in lines if "L9_532_256" in line).split()
    assert row9[2:6] == ["128.0000", "181.0193", "512", "128.0000"]


def test_plot_writes_png(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sched = stylegan3_schedule(256)
    fig, ax = plt.subplots()
    try:
        sched.plot(ax=ax)
        path = tmp_path / "schedule.png"
        fig.savefig(path)
    finally:
        plt.close(fig)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_a_resampling_torgb_layer_is_warned_about():
    """num_critical=0 leaves the last layer below img_resolution, so the official formulas make
    ToRGB up-sample with no filter (zero insertion: 15/16 of a 4x output's pixels zero),
    silently. The schedule is still StyleGAN3's, with a warning; StyleGAN3's own settings warn
    about nothing."""
    with pytest.warns(UserWarning, match=r"^the ToRGB layer resamples from 16 to 64 samples per "
                                         r"unit \(up=4, down=1\) with no filter.*num_critical=0"):
        s = stylegan3_schedule(64, num_layers=1, num_critical=0)
    assert (s.layers[-1].up_factor, s.layers[-1].up_taps) == (4, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for res in (16, 64, 256, 1024):
            for config in ("T", "R"):
                stylegan3_schedule(res, config=config)
            stylegan3_schedule(res, num_layers=2, num_critical=1)
