"""The StyleGAN3 reference model in examples/afgan: parity, structure, properties, bad input.

Parity: the official T generator of ``generator_T64.pt`` (state_dict + init kwargs), every
truncation setting and user transform, CPU float32, whole batches of 4, to 1e-5. Structure: state
dict names/shapes as the facts sheet lists them (T and R), filters from the schedule, radial
down filters where the schedule says. Numerics: one T and one R layer against an independent
float64 re-implementation written here with plain torch convolutions. Properties: state_dict
round trip, integer shifts of the Fourier input, EMA updates, fp16 flags and dtypes.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import torch
from afgan.networks import Generator, SynthesisLayer
from hypothesis import given
from hypothesis import strategies as st

import bandlimit.ops as ops
from bandlimit.filters import stylegan3_schedule
from bandlimit.ops import _dispatch

ATOL = 1e-5
TRUNCATIONS = {
    "psi1": {},
    "psi0.7": {"truncation_psi": 0.7},
    "psi0.5_cutoff8": {"truncation_psi": 0.5, "truncation_cutoff": 8},
}
TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_channels=3, channel_base=512, channel_max=16)
TINY_R = dict(TINY, conv_kernel=1, use_radial_filters=True)


def tiny(resolution: int = 16, seed: int = 0, **kw) -> Generator:
    torch.manual_seed(seed)
    return Generator(img_resolution=resolution, **{**TINY, **kw}).eval()


def perturb_(G: Generator, seed: int) -> Generator:
    """Move every parameter and buffer off its initial value so that every code path matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in G.named_parameters():
            p.add_(torch.randn(p.shape, generator=g) * (0.1 if "mapping" not in name else 10))
        for layer in G.synthesis.children():
            if hasattr(layer, "magnitude_ema"):
                layer.magnitude_ema.fill_(float(torch.rand([], generator=g)) + 0.5)
        G.mapping.w_avg.normal_(generator=g)
    return G


@pytest.fixture
def impl_override():
    """Set the process-wide default backend for one test and restore it afterwards."""
    previous = _dispatch._default_impl

    def set_(impl):
        ops.set_default_impl(impl)

    yield set_
    ops.set_default_impl(previous)


# ---------------------------------------------------------------------------------------------
# Parity with the official generator (reference vectors).


@pytest.fixture(scope="module")
def t64(vectors_dir):
    data = torch.load(vectors_dir / "generator_T64.pt", weights_only=True)
    G = Generator(**data["init_kwargs"]).eval()
    G.load_state_dict(data["state_dict"])
    return data, G


def layer_outputs(G: Generator, ws: torch.Tensor) -> dict[str, torch.Tensor]:
    x = G.synthesis.input(ws[:, 0])
    out = {"input": x}
    for name, w in zip(G.synthesis.layer_names, ws.unbind(1)[1:]):
        x = getattr(G.synthesis, name)(x, w)
        out[name] = x
    return out


def first_divergence(G: Generator, data: dict) -> str:
    """Name and error of the first layer whose output leaves the official probes (psi=1)."""
    with torch.no_grad():
        outs = layer_outputs(G, G.mapping(data["z"], data["c"]))
    for name, probe in data["layer_probes_psi1_item0"].items():
        got = outs[name]
        if list(got.shape) != probe["shape"]:
            return f"layer {name}: shape {list(got.shape)} != official {probe['shape']}"
        s = probe["stride"]
        err = (got[0, :, ::s, ::s] - probe["probe"]).abs().max().item()
        if err > ATOL:
            return f"first diverging layer {name}: max |Δ| of strided probe = {err:.3g}"
    return "all layer probes match (divergence after the last layer: output scale / cast?)"


def assert_matches(G, data, got, expected, what):
    err = (got - expected).abs().max().item()
    assert err <= ATOL, f"{what}: max |Δ| = {err:.3g} > {ATOL}; {first_divergence(G, data)}"


# The default backend is what users get (fused Numba kernels on CPU); 'ref', the pure-PyTorch
# oracle path, is checked on one setting to keep the suite fast. Every other test runs on the
# default backend (BANDLIMIT_IMPL=ref selects the reference for the whole run).
@pytest.mark.parametrize(("key", "impl"), [*((k, "default") for k in TRUNCATIONS), ("psi1", "ref")])
def test_ws_and_images_match_official(t64, key, impl, impl_override):
    data, G = t64
    if impl == "ref":
        impl_override("ref")
    with torch.no_grad():
        ws = G.mapping(data["z"], data["c"], **TRUNCATIONS[key])
        img = G(data["z"], data["c"], **TRUNCATIONS[key])
    assert ws.dtype == img.dtype == torch.float32
    assert_matches(G, data, ws, data["ws"][key], f"ws[{key}]")
    assert_matches(G, data, img, data["img"][key], f"img[{key}]")


def test_user_transforms_match_official(t64):
    data, G = t64
    try:
        for case in data["transforms"]:
            G.synthesis.input.transform.copy_(case["transform_buffer"])
            with torch.no_grad():
                img = G(data["z"], data["c"])
            assert_matches(G, data, img, case["img"], f"transform {case['name']}")
    finally:
        G.synthesis.input.transform.copy_(torch.eye(3))


def test_layer_outputs_match_official_probes(t64):
    data, G = t64
    with torch.no_grad():
        outs = layer_outputs(G, G.mapping(data["z"], data["c"]))
    for name, probe in data["layer_probes_psi1_item0"].items():
        got = outs[name]
        assert list(got.shape) == probe["shape"], name
        s = probe["stride"]
        torch.testing.assert_close(got[0, :, ::s, ::s], probe["probe"], atol=ATOL, rtol=0)
        item = got[0].double()
        assert item.mean().item() == pytest.approx(probe["mean"], abs=1e-5), name
        assert item.min().item() == pytest.approx(probe["min"], abs=ATOL), name
        assert item.max().item() == pytest.approx(probe["max"], abs=ATOL), name


def test_state_dict_layout_and_filters_match_official(t64):
    data, G = t64
    ours, theirs = G.state_dict(), data["state_dict"]
    assert list(ours) == list(theirs)  # same names, same order
    for key, value in theirs.items():
        assert ours[key].shape == value.shape, key
        assert ours[key].dtype == value.dtype, key
    # Filters are designed by bandlimit, not copied from the checkpoint: compare a fresh model.
    fresh = Generator(**data["init_kwargs"]).state_dict()
    for key, value in theirs.items():
        if key.endswith("_filter"):
            torch.testing.assert_close(fresh[key], value, atol=2e-8, rtol=0)


def test_attributes(t64):
    data, G = t64
    kw = data["init_kwargs"]
    assert (G.z_dim, G.c_dim, G.w_dim, G.img_resolution) == (
        kw["z_dim"], kw["c_dim"], kw["w_dim"], kw["img_resolution"],
    )  # fmt: skip
    assert G.num_ws == G.mapping.num_ws == G.synthesis.num_ws == 16
    assert G.synthesis.input.transform.shape == (3, 3)
    assert G.init_kwargs == kw


# ---------------------------------------------------------------------------------------------
# Structure: names and shapes (facts sheet §2.4, §2.5, §9.5), T and R.


def expected_keys(sched, c_dim=0, mapping_layers=2) -> dict[str, tuple[int, ...]]:
    """The official state_dict layout, written out from the facts sheet §9.5."""
    c0, w = sched.input.channels, sched.w_dim
    keys = {
        "synthesis.input.weight": (c0, c0),
        "synthesis.input.transform": (3, 3),
        "synthesis.input.freqs": (c0, 2),
        "synthesis.input.phases": (c0,),
        "synthesis.input.affine.weight": (4, w),
        "synthesis.input.affine.bias": (4,),
    }
    for lay in sched.layers:
        p = f"synthesis.{lay.name}."
        k = lay.conv_kernel
        keys[p + "weight"] = (lay.out_channels, lay.in_channels, k, k)
        keys[p + "bias"] = (lay.out_channels,)
        keys[p + "magnitude_ema"] = ()
        if lay.up_taps > 1:
            keys[p + "up_filter"] = (lay.up_taps,)
        if lay.down_taps > 1:
            n = lay.down_taps
            keys[p + "down_filter"] = (n, n) if lay.down_radial else (n,)
        keys[p + "affine.weight"] = (lay.in_channels, w)
        keys[p + "affine.bias"] = (lay.in_channels,)
    keys["mapping.w_avg"] = (w,)
    return keys


def meta_generator(**kw) -> Generator:
    with torch.device("meta"):
        return Generator(**kw)


@pytest.mark.parametrize(
    ("config", "names", "num_params"),
    [
        (
            dict(channel_base=32768, channel_max=512),
            "L0_36_512 L1_36_512 L2_52_512 L3_52_512 L4_84_512 L5_148_512 L6_148_512 "
            "L7_276_323 L8_276_203 L9_532_128 L10_1044_81 L11_1044_51 L12_1044_32 L13_1024_32 "
            "L14_1024_3",
            22_313_167,
        ),
        (
            dict(channel_base=65536, channel_max=1024, conv_kernel=1, use_radial_filters=True),
            "L0_36_1024 L1_36_1024 L2_52_1024 L3_52_1024 L4_84_1024 L5_148_1024 L6_148_1024 "
            "L7_276_645 L8_276_406 L9_532_256 L10_1044_161 L11_1044_102 L12_1044_64 "
            "L13_1024_64 L14_1024_3",
            15_093_151,
        ),
    ],
    ids=["T1024", "R1024"],
)
def test_1024_layouts_match_facts_sheet(config, names, num_params):
    G = meta_generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3, **config)
    assert G.synthesis.layer_names == names.split()
    sd = G.state_dict()
    assert len(sd) == 114
    assert sum(p.numel() for p in G.parameters()) == num_params
    exp = expected_keys(G.synthesis.schedule)
    for key, shape in exp.items():
        assert tuple(sd[key].shape) == shape, key
    assert [k for k in sd if k.startswith("synthesis.")] == [
        k for k in exp if k.startswith("synthesis.")
    ]
    # R paddings (sheet §2.5): up=2 → (11, 10), up=4 → (−2, −5), final crop (−9, −10), ToRGB 0.
    if config.get("conv_kernel") == 1:
        for name in G.synthesis.layer_names:
            layer = getattr(G.synthesis, name)
            if layer.is_torgb:
                want = (0, 0)
            elif name.startswith("L13_"):
                want = (-9, -10)
            else:
                want = (11, 10) if layer.up_factor == 2 else (-2, -5)
            assert layer.padding == (*want, *want), name


@pytest.mark.parametrize("config", ["T", "R"])
def test_tiny_layout_and_filters_follow_schedule(config):
    kw = TINY_R if config == "R" else TINY
    G = tiny(32, **({"conv_kernel": 1, "use_radial_filters": True} if config == "R" else {}))
    sched = stylegan3_schedule(
        32,
        config=config,
        channel_base=kw["channel_base"],
        channel_max=kw["channel_max"],
        w_dim=kw["w_dim"],
        conv_kernel=3 if config == "T" else 1,
        use_radial_filters=config == "R",
    )
    sd = G.state_dict()
    exp = {**expected_keys(sched)}
    exp.update({"mapping.fc0.weight": (16, 16), "mapping.fc0.bias": (16,)})
    exp.update({"mapping.fc1.weight": (16, 16), "mapping.fc1.bias": (16,)})
    assert {k: tuple(v.shape) for k, v in sd.items()} == exp
    n_radial = 0
    for i, lay in enumerate(sched.layers):
        up, down = sched.layer_filters(i)
        module = getattr(G.synthesis, lay.name)
        for got, want in ((module.up_filter, up), (module.down_filter, down)):
            assert (got is None) == (want is None)
            if want is not None:
                assert torch.equal(got, want)
        if config == "R" and not lay.is_critically_sampled and not lay.is_torgb:
            assert lay.down_radial and module.down_filter.shape == (12, 12)
            f = module.down_filter.double()
            assert torch.allclose(f, f.T) and torch.allclose(f, f.flip(0, 1))
            assert f.sum().item() == pytest.approx(1, abs=1e-6)
            n_radial += 1
        elif module.down_filter is not None:
            assert module.down_filter.ndim == 1
    assert n_radial == (12 if config == "R" else 0)


@pytest.mark.parametrize("config", ["T", "R"])
def test_forward_is_finite_with_expected_shapes(config):
    extra = {"conv_kernel": 1, "use_radial_filters": True} if config == "R" else {}
    G = perturb_(tiny(16, **extra), 1)
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ws = G.mapping(z, None)
        outs = layer_outputs(G, ws)
        img = G(z, None)
    assert ws.shape == (2, G.num_ws, 16)
    assert img.shape == (2, 3, 16, 16) and img.dtype == torch.float32
    assert torch.isfinite(img).all() and img.abs().max() > 0
    for name in G.synthesis.layer_names:
        lay = getattr(G.synthesis, name)
        assert outs[name].shape == (2, lay.out_channels, *lay.out_size[::-1])


# ---------------------------------------------------------------------------------------------
# Numerics: one layer against an independent float64 implementation (facts sheet §3.3, §6.1).


def naive_layer(layer: SynthesisLayer, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Float64, per sample and per channel, with explicit zero insertion and 2-D filters."""
    d = torch.float64
    x, w = x.to(d), w.to(d)
    fc = layer.affine
    styles = w @ (fc.weight.to(d) * fc.weight_gain).T + fc.bias.to(d) * fc.bias_gain
    weight = layer.weight.to(d)
    g = layer.magnitude_ema.to(d).rsqrt()
    k = layer.conv_kernel
    out = []
    for b in range(x.shape[0]):
        s = styles[b]
        if layer.is_torgb:
            wb = weight * s[None, :, None, None] / math.sqrt(layer.in_channels * k * k)
        else:
            wn = weight / weight.square().mean(dim=[1, 2, 3], keepdim=True).sqrt()
            sn = s / styles.square().mean().sqrt()
            wb = wn * sn[None, :, None, None]
            wb = wb / (wb.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        wb = wb * g
        y = torch.nn.functional.conv2d(x[b : b + 1], wb, padding=k - 1)[0]  # [O, H, W]
        y = y + layer.bias.to(d)[:, None, None]
        up, down = layer.up_factor, layer.down_factor
        h, wd = y.shape[1:]
        z = y.new_zeros(y.shape[0], h * up, wd * up)
        z[:, ::up, ::up] = y
        x0, x1, y0, y1 = layer.padding
        z = torch.nn.functional.pad(z, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
        z = z[:, -min(y0, 0) : z.shape[1] + min(y1, 0), -min(x0, 0) : z.shape[2] + min(x1, 0)]

        def fir(t, f, gain):
            if f is None:
                return t * gain
            conv = torch.nn.functional.conv2d
            if f.ndim == 2:  # true convolution = correlation with the flipped filter
                return conv(t[:, None], f.to(d).flip(0, 1)[None, None] * gain)[:, 0]
            f1 = f.to(d).flip(0)
            t = conv(t[:, None], f1.view(1, 1, 1, -1) * gain)  # along x, then along y
            return conv(t, f1.view(1, 1, -1, 1))[:, 0]

        z = fir(z, layer.up_filter, up * up)
        z = z * layer.spec.flrelu_gain
        z = torch.where(z >= 0, z, z * layer.spec.flrelu_slope)
        if layer.conv_clamp is not None:
            z = z.clamp(-layer.conv_clamp, layer.conv_clamp)
        z = fir(z, layer.down_filter, 1.0)
        out.append(z[:, ::down, ::down])
    return torch.stack(out)


@pytest.mark.parametrize("config", ["T", "R"])
def test_layers_match_float64_definition(config):
    extra = {"conv_kernel": 1, "use_radial_filters": True} if config == "R" else {}
    G = perturb_(tiny(32, channel_max=8, **extra), 3)
    gen = torch.Generator().manual_seed(5)
    checked = set()
    for name in G.synthesis.layer_names:
        layer = getattr(G.synthesis, name)
        kind = (layer.up_factor, layer.down_radial, layer.is_torgb, layer.down_factor)
        if kind in checked:
            continue
        checked.add(kind)
        x = torch.randn(2, layer.in_channels, *layer.in_size[::-1], generator=gen) * 2
        w = torch.randn(2, 16, generator=gen)
        with torch.no_grad():
            got = layer(x, w)
            want = naive_layer(layer, x, w)
        assert got.shape == want.shape, name
        scale = want.abs().max().item()
        err = (got.double() - want).abs().max().item()
        assert err <= 1e-5 * max(scale, 1), f"{name}: {err:.3g} (scale {scale:.3g})"
    # up=4 and up=2 layers, radial down filters in R, and ToRGB were all covered.
    assert {k[0] for k in checked} >= {1, 2, 4}
    assert any(k[1] for k in checked) == (config == "R")


@given(
    batch=st.integers(1, 3),
    in_ch=st.integers(1, 5),
    out_ch=st.integers(1, 4),
    k=st.sampled_from([1, 3]),
    demodulate=st.booleans(),
    with_gain=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_modulated_conv2d_both_forms_match_a_per_sample_loop(
    batch, in_ch, out_ch, k, demodulate, with_gain, seed
):
    # The grouped form (training) and the shared-weight form (exporters) against float64 loops.
    from afgan.networks import modulated_conv2d

    g = torch.Generator().manual_seed(seed)
    d = torch.float64
    x = torch.randn(batch, in_ch, 6, 5, generator=g, dtype=d)
    weight = torch.randn(out_ch, in_ch, k, k, generator=g, dtype=d)
    styles = torch.randn(batch, in_ch, generator=g, dtype=d)
    gain = torch.rand(batch, in_ch, generator=g, dtype=d) + 0.5 if with_gain else None
    want = []
    for b in range(batch):
        wb = weight.clone()
        s = styles[b]
        if demodulate:
            wb = wb / wb.square().mean(dim=[1, 2, 3], keepdim=True).sqrt()
            s = s / styles.square().mean().sqrt()
        wb = wb * s[None, :, None, None]
        if demodulate:
            wb = wb / (wb.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        if gain is not None:
            wb = wb * gain[b][None, :, None, None]
        want.append(torch.nn.functional.conv2d(x[b : b + 1], wb, padding=k - 1)[0])
    want = torch.stack(want)
    for grouped in (True, False, None):
        got = modulated_conv2d(x, weight, styles, k - 1, demodulate, gain, grouped=grouped)
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Properties.


def test_state_dict_round_trip():
    G = perturb_(tiny(16, seed=0), 7)
    G2 = tiny(16, seed=123)  # different random init
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = G(z, None, truncation_psi=0.8)
        assert not torch.equal(before, G2(z, None, truncation_psi=0.8))
    G2 = Generator(**G.init_kwargs).eval()
    G2.load_state_dict(G.state_dict())
    with torch.no_grad():
        assert torch.equal(before, G2(z, None, truncation_psi=0.8))
    for (k1, v1), (k2, v2) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    # A different architecture does not accept it.
    with pytest.raises(RuntimeError):
        tiny(16, channel_max=8).load_state_dict(G.state_dict())


@functools.cache
def _fourier_input():
    return perturb_(tiny(16), 2).synthesis.input


@given(kx=st.integers(-3, 3), ky=st.integers(-3, 3))
def test_integer_translation_of_the_user_transform_shifts_the_fourier_input(kx, ky):
    inp = _fourier_input()
    w = torch.randn(2, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        inp.transform.copy_(torch.eye(3))
        base = inp(w)
        # The buffer maps output coordinates to feature coordinates: p -> p + (kx, ky) / s.
        s = inp.sampling_rate
        inp.transform.copy_(torch.tensor([[1, 0, kx / s], [0, 1, ky / s], [0, 0, 1.0]]))
        shifted = inp(w)
    n = base.shape[-1]
    sy, sx = slice(max(ky, 0), n + min(ky, 0)), slice(max(kx, 0), n + min(kx, 0))
    ty, tx = slice(max(-ky, 0), n + min(-ky, 0)), slice(max(-kx, 0), n + min(-kx, 0))
    torch.testing.assert_close(shifted[..., ty, tx], base[..., sy, sx], atol=2e-5, rtol=0)


def test_batch_items_are_independent():
    # The style pre-normalisation is batch-global but cancels through demodulation.
    G = perturb_(tiny(16), 4)
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        full = G(z, None)
        single = G(z[1:2], None)
    torch.testing.assert_close(full[1:2], single, atol=1e-5, rtol=0)


def test_update_emas_follows_definitions():
    G = perturb_(tiny(16), 5)
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(2))
    layer0 = getattr(G.synthesis, G.synthesis.layer_names[0])
    old_w_avg = G.mapping.w_avg.clone()
    old_ema = layer0.magnitude_ema.clone()
    with torch.no_grad():
        ws = G.mapping(z, None)
        x0 = G.synthesis.input(ws[:, 0])
        G(z, None, update_emas=True)
    beta_w, beta_m = G.mapping.w_avg_beta, layer0.magnitude_ema_beta
    w_mean = ws[:, 0].double().mean(0)
    torch.testing.assert_close(
        G.mapping.w_avg.double(), w_mean + beta_w * (old_w_avg.double() - w_mean), atol=1e-6, rtol=0
    )
    m = x0.double().square().mean()
    torch.testing.assert_close(
        layer0.magnitude_ema.double(), m + beta_m * (old_ema.double() - m), atol=1e-6, rtol=1e-6
    )
    # Without update_emas nothing moves.
    frozen = {k: v.clone() for k, v in G.state_dict().items()}
    with torch.no_grad():
        G(z, None)
    assert all(torch.equal(v, G.state_dict()[k]) for k, v in frozen.items())


def test_conditional_mapping_has_embed_and_depends_on_c():
    torch.manual_seed(0)
    G = Generator(img_resolution=16, **{**TINY, "c_dim": 3}).eval()
    assert G.state_dict()["mapping.embed.weight"].shape == (16, 3)
    assert G.state_dict()["mapping.fc0.weight"].shape == (16, 32)
    z = torch.randn(2, 16)
    c1, c2 = torch.eye(3)[[0, 0]], torch.eye(3)[[1, 1]]
    with torch.no_grad():
        assert not torch.allclose(G.mapping(z, c1), G.mapping(z, c2))
        assert G(z, c1).shape == (2, 3, 16, 16)


# ---------------------------------------------------------------------------------------------
# fp16: flags from the schedule, float32 everywhere on CPU; the float16 path on request.


def dtype_trace(G, z, **kw):
    seen = {}

    def hook(name):
        return lambda module, args, out: seen.__setitem__(name, out.dtype)

    hooks = [
        getattr(G.synthesis, n).register_forward_hook(hook(n)) for n in G.synthesis.layer_names
    ]
    try:
        with torch.no_grad():
            img = G(z, None, **kw)
    finally:
        for h in hooks:
            h.remove()
    return img, seen


def test_fp16_flags_exist_and_cpu_stays_float32(monkeypatch):
    G = perturb_(tiny(32, num_fp16_res=1), 6)
    flags = {n: getattr(G.synthesis, n).use_fp16 for n in G.synthesis.layer_names}
    sched = G.synthesis.schedule
    assert flags == {lay.name: lay.out_sampling_rate * 2 > 32 for lay in sched.layers}
    assert any(flags.values()) and not all(flags.values())
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))

    img32, seen = dtype_trace(G, z)
    assert set(seen.values()) == {torch.float32} and img32.dtype == torch.float32

    # Exercise the float16 code path on CPU (the official model only does this on CUDA).
    monkeypatch.setattr(SynthesisLayer, "fp16_device_types", ("cuda", "cpu"))
    img16, seen16 = dtype_trace(G, z)
    assert seen16 == {n: torch.float16 if f else torch.float32 for n, f in flags.items()}
    assert img16.dtype == torch.float32 and torch.isfinite(img16).all()
    assert (img16 - img32).abs().max() < 2e-2 * img32.abs().max()
    img_forced, seen_forced = dtype_trace(G, z, force_fp32=True)
    assert set(seen_forced.values()) == {torch.float32}
    assert torch.equal(img_forced, img32)


def test_a_double_model_computes_in_float64_and_passes_gradcheck():
    """``G.double()`` (the official model fails on it): float64 everywhere, the float32 model's
    images to float32 rounding, and float64 gradients exact enough for gradcheck."""
    G = perturb_(tiny(16), 8)
    G64 = copy.deepcopy(G).double()
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    img64, seen = dtype_trace(G64, z)
    assert set(seen.values()) == {torch.float64} and img64.dtype == torch.float64
    img32 = G(z.float(), None)
    assert (img64 - img32.double()).abs().max() < 1e-4 * img64.abs().max()
    ws = G64.mapping(z, None).detach().requires_grad_()
    assert torch.autograd.gradcheck(G64.synthesis, (ws,), eps=1e-6, atol=1e-6, fast_mode=True)


# ---------------------------------------------------------------------------------------------
# Bad input.


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="bogus"):
        Generator(img_resolution=16, bogus=1, **TINY)
    with pytest.raises(TypeError, match="z_dim"):
        Generator(img_resolution=16, **{**TINY, "z_dim": 1.5})
    with pytest.raises(ValueError, match="img_resolution"):
        Generator(img_resolution=24, **TINY)
    with pytest.raises(TypeError, match="depth"):
        Generator(img_resolution=16, mapping_kwargs={"depth": 3}, **TINY)


def test_bad_forward_arguments():
    G = tiny(16)
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(2, 15), None)
    with pytest.raises(ValueError, match="ws must have shape"):
        G.synthesis(torch.randn(2, G.num_ws - 1, 16))
    with pytest.raises(TypeError, match=r"ws must be a torch\.Tensor"):
        G.synthesis(np.zeros((2, G.num_ws, 16)))
    with pytest.raises(ValueError, match="noise_mode"):
        G(torch.randn(2, 16), None, noise_mode="loud")
    with pytest.raises(TypeError):
        G(torch.randn(2, 16), None, not_an_option=True)
    layer = getattr(G.synthesis, G.synthesis.layer_names[0])
    with pytest.raises(ValueError, match="x must have shape"):
        layer(torch.randn(1, 3, 8, 8), torch.randn(1, 16))


def test_backward_reaches_every_parameter_and_deepcopy_works():
    import copy

    G = perturb_(tiny(16), 8).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(4))
    G(z, None, update_emas=True).square().mean().backward()
    for name, p in G.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().max() > 0, name
    assert G_ema.synthesis.schedule == G.synthesis.schedule
    assert not torch.equal(G_ema.mapping.w_avg, G.mapping.w_avg)  # update_emas moved G's only


def test_generator_compiles_to_one_graph():
    """torch.compile(fullgraph=True): the Fourier input's size is plain ints (a numpy array made
    it a data-dependent value under Dynamo)."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    G = Generator(z_dim=16, w_dim=16, img_resolution=16, img_channels=3, c_dim=0,
                  channel_base=512, channel_max=16).eval()  # fmt: skip
    z, c = torch.randn(2, 16), torch.zeros(2, 0)
    with torch.no_grad():
        want = G(z, c)
        got = torch.compile(G, backend="eager", fullgraph=True)(z, c)
    # the same ops, so bit-identical; except where torch cannot tell a compile from an export
    # (before 2.7, and in 2.7), and the modulated convolutions take their export form
    from afgan import networks

    seen = []
    torch.compile(lambda t: seen.append(networks._is_exporting()) or t, backend="eager",
                  fullgraph=True)(z)  # fmt: skip
    exact = seen == [False]
    torch.testing.assert_close(got, want, rtol=0 if exact else 1e-5, atol=0 if exact else 1e-6)


def test_torch_export_with_a_dynamic_batch_keeps_the_fused_ops():
    # The batch stays symbolic, and bandlimit's fused CPU ops stay in the graph as custom ops.
    from export_onnx import Sampler

    sampler = Sampler(perturb_(tiny(16, channel_max=8), 4).eval(), 0.7, None)
    batch = torch.export.Dim("batch", min=1, max=1 << 16)  # (torch 2.6 needs a bound)
    z2 = torch.randn(2, 16, generator=torch.Generator().manual_seed(0))
    program = torch.export.export(sampler, (z2,), dynamic_shapes={"z": {0: batch}})
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    if _dispatch.numba_available():
        assert any("bandlimit" in t for t in targets)
    for b in (1, 5):
        z = torch.randn(b, 16, generator=torch.Generator().manual_seed(b))
        with torch.no_grad():
            got = program.module()(z)
            want = sampler(z)
        assert got.shape == (b, 3, 16, 16)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
