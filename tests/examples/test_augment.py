r"""ADA's augmentation pipeline (afgan.augment): each transform against the analytic transform
of a band-limited image (plane waves), the colour transforms by their invariants, the filter
bands against a SciPy design of the documented bands, noise and cutout against NumPy
references and statistics, the probabilities, the random columns' compatibility, gradients to
second order, the adaptive p rule, bad input; and in the trainer: the log, an exact resume, a
run started from weights, and the 'bgcfnc' pipeline."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from afgan.augment import _COL, _COLUMNS, PIPES, AdaptiveP, AugmentPipe
from afgan.training import TrainConfig
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal, stats

from tests.examples.test_training import run_cli

H = W = 32
INTERIOR = (slice(None), slice(None), slice(8, -8), slice(8, -8))

# Plane waves up to 0.19 cycles/pixel: inside the resampling filter's flat passband.
WAVES = [(3, 2, 0.3), (-5, 4, 1.1), (2, -6, 2.0)]  # (cycles across x, across y, phase)


def waves(transform=lambda x, y: (x, y), channels: int = 3) -> torch.Tensor:
    """The sum of WAVES at the centred pixel positions mapped by ``transform`` (output → input),
    one phase offset per channel; ``[1, C, H, W]`` float64."""
    ys = torch.arange(H, dtype=torch.float64) - (H - 1) / 2
    xs = torch.arange(W, dtype=torch.float64) - (W - 1) / 2
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    x, y = transform(xx, yy)
    out = []
    for c in range(channels):
        img = sum(torch.cos(2 * math.pi * (fx * x / W + fy * y / H) + ph + c)
                  for fx, fy, ph in WAVES)  # fmt: skip
        out.append(img / len(WAVES))
    return torch.stack(out)[None]


def draws_for(on: dict[str, float], n: int = 1) -> torch.Tensor:
    """Draws that fire exactly the transforms in ``on`` (their values given) at p = 0.5."""
    d = torch.full((n, len(_COLUMNS)), 0.9, dtype=torch.float64)  # every "_on" above p: off
    for name, value in on.items():
        d[:, _COL[name + "_on"]] = 0.1
        for col, v in ([(name, value)] if not isinstance(value, tuple) else value):
            d[:, _COL[col]] = v
    return d


def augment(on: dict, img: torch.Tensor, pipe: str = "bgc") -> torch.Tensor:
    return AugmentPipe(pipe, p=0.5)(img, draws_for(on, img.shape[0]))


# ---------------------------------------------------------------------------------------------
# Geometric transforms: the output is the analytic image under the map. In the interior the
# error stays below 3e-2 of the unit amplitude: the bicubic interpolation on the 2x grid
# attenuates content at 0.2 cycles/pixel by up to ~2 %.


def assert_close_inside(a: torch.Tensor, b: torch.Tensor, tol: float = 3e-2) -> None:
    err = float((a - b)[INTERIOR].abs().max())
    assert err < tol, err


def test_p_zero_and_unfired_transforms_return_the_images_untouched():
    img = waves()
    assert AugmentPipe("bgc", p=0.0)(img, draws_for({})) is img
    out = AugmentPipe("bgc", p=0.5)(img, draws_for({}))
    assert torch.equal(out, img)


@pytest.mark.parametrize("i", [0, 1])
def test_xflip(i):
    out = augment({"xflip": (("xflip", 0.25 + 0.5 * i),)}, waves())
    assert_close_inside(out, waves().flip(3) if i else waves())


@pytest.mark.parametrize("i", [1, 2, 3])
def test_rotate90(i):
    out = augment({"rot90": (("rot90", (i + 0.5) / 4),)}, waves())
    # (a quarter turn one way or the other: the distribution is symmetric; i and 4 - i differ)
    turned = [torch.rot90(waves(), k, dims=(2, 3)) for k in (i, 4 - i)]
    errs = [float((out - t)[INTERIOR].abs().max()) for t in turned]
    assert min(errs) < 3e-2, errs
    if i != 2:
        assert max(errs) > 0.1


def test_integer_translation_is_a_whole_pixel_shift():
    # u = 0.75: t = 0.5 · 0.125 · 32 = 2 pixels along x; u = 0.5: none along y
    out = augment({"xint": (("xint_x", 0.75), ("xint_y", 0.5))}, waves())
    shifted = waves(lambda x, y: (x + 2, y))
    assert_close_inside(out, shifted)
    assert_close_inside(out, torch.roll(waves(), -2, dims=3))


def test_fractional_translation():
    # normal draws 1 and -0.5: t = 0.125 · 32 · (1, -0.5) = (4, -2) pixels
    out = augment({"xfrac": (("xfrac_x", 0.3), ("xfrac_y", -0.5))}, waves())
    assert_close_inside(out, waves(lambda x, y: (x + 0.3 * 4, y - 0.5 * 4)))


@settings(max_examples=12, deadline=None)
@given(u=st.floats(0, 0.999), which=st.sampled_from(["rot_pre", "rot_post"]))
def test_rotation_by_any_angle(u, which):
    theta = (2 * u - 1) * math.pi
    out = augment({which: ((which, u),)}, waves())
    c, s = math.cos(theta), math.sin(theta)
    # the image rotated by theta: output position q shows input position R(-theta) q ...
    # or R(theta) q (convention); exactly one of them matches unless theta ≈ 0 or π
    a = waves(lambda x, y: (c * x + s * y, -s * x + c * y))
    b = waves(lambda x, y: (c * x - s * y, s * x + c * y))
    errs = sorted(float((out - t)[INTERIOR].abs().max()) for t in (a, b))
    assert errs[0] < 3e-2, errs


@pytest.mark.parametrize("z", [-1.5, 1.0])
def test_isotropic_and_anisotropic_scaling(z):
    s = 2 ** (0.2 * z)
    iso = augment({"scale": (("scale", z),)}, waves())
    aniso = augment({"aniso": (("aniso", z),)}, waves())
    for out, (sx, sy) in ((iso, (s, s)), (aniso, (s, 1 / s))):
        # output position q shows input position diag(sx, sy) q (or its inverse)
        a = waves(lambda x, y, sx=sx, sy=sy: (sx * x, sy * y))
        b = waves(lambda x, y, sx=sx, sy=sy: (x / sx, y / sy))
        errs = sorted(float((out - t)[INTERIOR].abs().max()) for t in (a, b))
        assert errs[0] < 3e-2, errs


def test_whole_pixel_moves_are_exact_copies():
    """Flips, quarter turns and integer translations (alone or together) move pixels: the
    output is the input permuted (reflected at the borders), bit for bit."""
    img = torch.randn(1, 3, 16, 16, dtype=torch.float64)
    assert torch.equal(augment({"xflip": (("xflip", 0.75),)}, img), img.flip(3))
    turned = augment({"rot90": (("rot90", 0.375),)}, img)
    assert any(torch.equal(turned, torch.rot90(img, k, dims=(2, 3))) for k in (1, 3))
    shifted = augment({"xint": (("xint_x", 1.0 - 1e-9), ("xint_y", 0.5))}, img)  # 0.125·16 px
    assert torch.equal(shifted[..., :-2], img[..., 2:])
    assert torch.equal(shifted[..., -2:], img[..., [14, 13]])  # reflected, no edge repeat
    both = augment({"xflip": (("xflip", 0.75),), "rot90": (("rot90", 0.375),)}, img)
    assert any(torch.equal(both, t) for t in (img.transpose(2, 3), img.transpose(2, 3).flip(2, 3)))
    # a non-square image turned by a quarter with H − W odd has no pixel-to-pixel map: resampled
    wide = torch.randn(1, 1, 12, 15, dtype=torch.float64)
    out = augment({"rot90": (("rot90", 0.625),)}, wide)  # a half turn: exact
    assert torch.equal(out, torch.rot90(wide, 2, dims=(2, 3)))
    from afgan.augment import _rotate, _warp

    quarter = augment({"rot90": (("rot90", 0.375),)}, wide)  # resampled, not pixels repeated
    turned = _warp(wide, _rotate(torch.tensor([-math.pi / 2])))
    torch.testing.assert_close(quarter, turned, rtol=0, atol=1e-4)


@pytest.mark.parametrize(("h", "w"), [(16, 24), (24, 16), (9, 13)])
def test_the_resampled_path_reflects_each_axis_about_its_own_edges(h, w):
    """A whole-pixel translation farther than the shorter side, resampled (_warp) and copied
    (_blit): the same image, both extended by reflection about each axis's own edges (the
    padding reflected the longer axis about its padded edges: errors 1.5-2.3)."""
    from afgan.augment import _blit, _translate, _warp

    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                            torch.arange(w, dtype=torch.float64), indexing="ij")  # fmt: skip
    img = (torch.cos(2 * math.pi * (0.05 * xx + 0.03 * yy)) + 0.5 * torch.sin(
        2 * math.pi * 0.04 * yy))[None, None]  # (smooth: the resampling is exact to ~1 %)
    for tx, ty in ((30.0, -21.0), (-29.0, 40.0)):
        g = _translate(torch.tensor([tx]), torch.tensor([ty]))
        torch.testing.assert_close(_warp(img, g), _blit(img, g), rtol=0, atol=0.03)


def test_the_transforms_compose_on_one_resampling():
    """xflip then a 90° turn equals a transpose (up to the turn's direction: a transpose or an
    anti-transpose), resampled once: the same small error as one transform."""
    out = augment({"xflip": (("xflip", 0.75),), "rot90": (("rot90", 0.375),)}, waves())
    errs = [float((out - t)[INTERIOR].abs().max())
            for t in (waves().transpose(2, 3), waves().transpose(2, 3).flip(2, 3))]  # fmt: skip
    assert min(errs) < 3e-2, errs


# ---------------------------------------------------------------------------------------------
# Colour transforms, by their invariants: the grey axis v = (1, 1, 1)/√3 and the chroma plane.


def grey_and_chroma(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = img.mean(dim=1, keepdim=True)
    return mean, img - mean


def test_brightness_adds_and_contrast_scales():
    img = waves()
    out = augment({"brightness": (("brightness", 1.5),)}, img)
    torch.testing.assert_close(out, img + 1.5 * 0.2)
    out = augment({"contrast": (("contrast", -1.0),)}, img)
    torch.testing.assert_close(out, img * 2 ** -0.5)


def test_luma_flip_negates_grey_and_keeps_chroma():
    img = waves() + 0.3
    out = augment({"lumaflip": (("lumaflip", 0.75),)}, img)
    g0, c0 = grey_and_chroma(img)
    g1, c1 = grey_and_chroma(out)
    torch.testing.assert_close(g1, -g0)
    torch.testing.assert_close(c1, c0)
    assert torch.equal(augment({"lumaflip": (("lumaflip", 0.25),)}, img), img)


@pytest.mark.parametrize("u", [0.1, 0.6, 0.95])
def test_hue_rotates_chroma_about_grey(u):
    img = waves() + 0.3
    out = augment({"hue": (("hue", u),)}, img)
    g0, c0 = grey_and_chroma(img)
    g1, c1 = grey_and_chroma(out)
    torch.testing.assert_close(g1, g0)
    torch.testing.assert_close(c1.norm(dim=1), c0.norm(dim=1))
    cos = (c0 * c1).sum(dim=1) / (c0.norm(dim=1) * c1.norm(dim=1))
    theta = (2 * u - 1) * math.pi
    torch.testing.assert_close(cos, torch.full_like(cos, math.cos(theta)))


def test_saturation_scales_chroma_and_keeps_grey():
    img = waves() + 0.3
    out = augment({"saturation": (("saturation", -0.5),)}, img)
    g0, c0 = grey_and_chroma(img)
    g1, c1 = grey_and_chroma(out)
    torch.testing.assert_close(g1, g0)
    torch.testing.assert_close(c1, c0 * 2**-0.5)


def test_one_channel_images_get_brightness_contrast_and_the_luma_flip():
    """Grey images: hue and saturation leave them alone, the luma flip negates them."""
    img = waves(channels=1)
    on = {"brightness": (("brightness", 1.0),), "contrast": (("contrast", 1.0),),
          "hue": (("hue", 0.3),), "saturation": (("saturation", 2.0),)}  # fmt: skip
    torch.testing.assert_close(augment(on, img), (img + 0.2) * 2**0.5)
    flipped = augment({**on, "lumaflip": (("lumaflip", 0.9),)}, img)
    torch.testing.assert_close(flipped, -(img + 0.2) * 2**0.5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_images_are_warped_in_float32(dtype):
    """grid_sample in half precision reads out of bounds on the CPU (a crash at 128²) and
    rounds the positions: the warp runs in float32 and the result is rounded once."""
    pipe = AugmentPipe("bg", p=0.5)
    d = pipe.draw(4, torch.Generator().manual_seed(0))
    x = torch.rand(4, 3, 128, 128) * 2 - 1
    out = pipe(x.to(dtype), d)
    assert out.dtype == dtype
    want = pipe(x.to(dtype).float(), d)
    torch.testing.assert_close(out.float(), want, rtol=0, atol=2e-2 if dtype == torch.bfloat16
                               else 2e-3)  # fmt: skip


@pytest.mark.parametrize("size", [8, 16])
def test_small_images_keep_a_constant_constant(size):
    """The reflection padding reaches as far as the transforms need, however small the image
    (F.pad reflects less than the size at a time): a constant image stays constant."""
    pipe = AugmentPipe("bg", p=1.0)
    d = pipe.draw(8, torch.Generator().manual_seed(2))
    out = pipe(torch.full((8, 1, size, size), 0.5, dtype=torch.float64), d)
    torch.testing.assert_close(out, torch.full_like(out, 0.5), rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Image-space filtering: the pipe's impulse response against the documented bands designed with
# SciPy (firwin: a Kaiser-windowed sinc) and the documented gains, in NumPy float64.

EDGES = (1 / 16, 1 / 8, 1 / 4)  # the band edges, cycles/pixel
KSIZE = 97  # the longest low-pass: 6/edge + 1 taps
POWER = np.array([10, 1, 1, 1]) / 13  # the bands' expected shares of the power (1/f)


def reference_bands() -> list[np.ndarray]:
    """b_i = l_i − l_{i−1} ([KSIZE]), l_k the low-pass cut off at edge k with a transition
    edge/2 wide, l_0 = 0 and l_4 = δ."""
    lows = [np.zeros(KSIZE)]
    for f in EDGES:
        taps = signal.firwin(round(6 / f) + 1, f, width=f / 2, fs=1)
        lows.append(np.pad(taps, (KSIZE - len(taps)) // 2))
    delta = np.zeros(KSIZE)
    delta[KSIZE // 2] = 1
    lows.append(delta)
    return [hi - lo for lo, hi in itertools.pairwise(lows)]


def reference_gains(lam: np.ndarray) -> np.ndarray:
    """The bands' gains, normalised one band at a time: each fired band's gains (1 but λ_i at
    band i) divided by the square root of the power they give the expected spectrum."""
    g = np.ones(4)
    for i in range(4):
        t = np.ones(4)
        t[i] = lam[i]
        g *= t / np.sqrt((POWER * t**2).sum())
    return g


def reference_kernel(lam: np.ndarray) -> np.ndarray:
    """The 2-D kernel [KSIZE, KSIZE]: the 1-D filter h = Σ g_i b_i along y and along x."""
    h = sum(g * b for g, b in zip(reference_gains(lam), reference_bands()))
    return np.outer(h, h)


# The bands' flat parts: |f| between their transitions (cycles/pixel).
BANDS = [(0, 3 / 64), (5 / 64, 3 / 32), (5 / 32, 3 / 16), (5 / 16, 0.5)]


def band_masks(n: int = 256) -> list[np.ndarray]:
    f = np.abs(np.fft.fftfreq(n))
    return [(f >= lo - 1e-12) & (f <= hi + 1e-12) for lo, hi in BANDS]


def response(kernel: np.ndarray, n: int = 256) -> np.ndarray:
    """|DFT| of a centred kernel (1-D or 2-D) on an n (× n) grid."""
    return np.abs(np.fft.fftn(kernel, s=(n,) * kernel.ndim, axes=tuple(range(kernel.ndim))))


def impulse_response(on: dict) -> np.ndarray:
    """The 'f' pipe's output for a unit impulse far from the borders: its [KSIZE, KSIZE]
    kernel (and nothing beyond it)."""
    img = torch.zeros(1, 1, 160, 160, dtype=torch.float64)
    img[0, 0, 80, 80] = 1
    out = augment(on, img, pipe="f")[0, 0].numpy()
    half = KSIZE // 2
    kernel = out[80 - half : 80 + half + 1, 80 - half : 80 + half + 1].copy()
    out[80 - half : 80 + half + 1, 80 - half : 80 + half + 1] = 0
    assert np.abs(out).max() < 1e-15
    return kernel


def bands_on(gains: dict[int, float]) -> dict:
    return {f"band{i}": ((f"band{i}", z),) for i, z in gains.items()}


def test_the_reference_bands_partition_the_spectrum():
    """The documented design (checked here, the pipe against it below): the bands sum to the
    identity; each is flat (±1 %) on its band and shut (±1 %) on the others'."""
    bands = reference_bands()
    delta = np.zeros(KSIZE)
    delta[KSIZE // 2] = 1
    np.testing.assert_allclose(sum(bands), delta, rtol=0, atol=1e-15)
    masks = band_masks()
    for i, b in enumerate(bands):
        resp = response(b)
        for j, mask in enumerate(masks):
            want = 1.0 if i == j else 0.0
            assert np.abs(resp[mask] - want).max() < 0.01, (i, j)


@pytest.mark.parametrize(("band", "z"), [(1, 1.5), (2, -1.0), (3, 2.0), (4, -0.7)])
def test_a_band_gain_scales_that_band_and_keeps_the_expected_power(band, z):
    """One band fired with λ = 2^z: along each axis, that band's gain is λ times the others',
    and the expected spectrum (the bands' powers e) keeps its power: Σ e_k g_k² = 1. In 2-D the
    gains multiply: g_i g_j where f_y lies in band i and f_x in band j."""
    lam = np.ones(4)
    lam[band - 1] = 2.0**z
    kernel = impulse_response(bands_on({band: z}))
    np.testing.assert_allclose(kernel, reference_kernel(lam), rtol=0, atol=1e-12)
    g = reference_gains(lam)
    assert g[band - 1] / g[band % 4] == pytest.approx(lam[band - 1], rel=1e-12)
    assert (POWER * g**2).sum() == pytest.approx(1, rel=1e-12)
    resp = response(kernel)
    masks = band_masks()
    for i, mi in enumerate(masks):
        for j, mj in enumerate(masks):
            block = resp[np.ix_(mi, mj)]
            # (the bands' ±1 % leakage, λ times larger next to an amplified band, per axis)
            assert np.abs(block / (g[i] * g[j]) - 1).max() < 0.03, (i, j)


def test_all_bands_at_gain_one_are_the_identity_and_several_normalise_in_turn():
    img = torch.randn(1, 3, 24, 24, dtype=torch.float64)
    out = augment(bands_on({1: 0.0, 2: 0.0, 3: 0.0, 4: 0.0}), img, pipe="f")
    torch.testing.assert_close(out, img, rtol=0, atol=1e-12)
    zs = {1: 0.8, 2: -1.3, 3: 0.4, 4: 1.1}
    kernel = impulse_response(bands_on(zs))
    lam = 2.0 ** np.array([zs[i] for i in (1, 2, 3, 4)])
    np.testing.assert_allclose(kernel, reference_kernel(lam), rtol=0, atol=1e-12)
    # (not one normalisation of all four: that would differ by ~1 % here)
    one = lam / np.sqrt((POWER * lam**2).sum())
    h = sum(g * b for g, b in zip(one, reference_bands()))
    assert np.abs(kernel - np.outer(h, h)).max() > 1e-4


@pytest.mark.parametrize(("h", "w"), [(16, 24), (24, 16), (5, 3), (2, 7), (40, 33)])
def test_the_filter_reflects_each_axis_about_its_own_edges(h, w):
    """Non-square images, borders included: the image extended by reflection (NumPy's, repeated
    as far as the 97 taps reach), filtered with h along x, then along y. The padding took steps
    of the shorter side on both axes, reflecting the longer one about its padded edges
    (errors 0.07 at 16 × 24, 1.8 at 2 × 7)."""
    zs = {1: 0.8, 2: -1.3, 3: 0.4, 4: 1.1}
    img = torch.from_numpy(np.random.default_rng(3).standard_normal((1, 1, h, w)))
    out = augment(bands_on(zs), img, pipe="f")[0, 0].numpy()
    lam = 2.0 ** np.array([zs[i] for i in (1, 2, 3, 4)])
    taps = sum(g * b for g, b in zip(reference_gains(lam), reference_bands()))
    m = KSIZE // 2
    padded = np.pad(img[0, 0].numpy(), m, mode="reflect")
    rows = np.stack([np.convolve(r, taps, mode="valid") for r in padded])  # [h + 2m, w]
    want = np.stack([np.convolve(c, taps, mode="valid") for c in rows.T]).T  # [h, w]
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)


def test_filtering_treats_each_channel_alike():
    """Any channel count: a 3-channel image filters as its channels one at a time."""
    img = torch.randn(1, 3, 20, 28, dtype=torch.float64)
    on = bands_on({1: 1.0, 3: -0.5})
    out = augment(on, img, pipe="f")
    for c in range(3):
        torch.testing.assert_close(out[:, c : c + 1], augment(on, img[:, c : c + 1], pipe="f"))


# ---------------------------------------------------------------------------------------------
# Additive noise and cutout


def test_noise_is_gaussian_with_a_half_normal_std_per_image():
    """On zero images the output is the noise: per image N(0, σ²) on every pixel and channel
    (independent channels), σ = 0.1 |its normal draw|, so σ ~ half-normal of scale 0.1."""
    n = 300
    d = AugmentPipe.draw(n, torch.Generator().manual_seed(5))
    d[:, _COL["noise_on"]] = 0.0  # (every image fires)
    out = AugmentPipe("n", p=0.5)(torch.zeros(n, 3, 32, 32, dtype=torch.float64), d).numpy()
    sigma = 0.1 * np.abs(d[:, _COL["noise"]].numpy())
    np.testing.assert_allclose(out.reshape(n, -1).std(axis=1), sigma, rtol=0.06)
    assert stats.kstest(sigma, stats.halfnorm(scale=0.1).cdf).pvalue > 0.01
    z = out / sigma[:, None, None, None]
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert stats.kstest(z.reshape(-1)[::13], "norm").pvalue > 0.01
    corr = np.corrcoef(z.transpose(1, 0, 2, 3).reshape(3, -1))
    assert np.abs(corr - np.eye(3)).max() < 0.01
    assert np.abs(np.corrcoef(z[0].reshape(-1), z[1].reshape(-1))[0, 1]) < 0.05


def test_noise_repeats_with_its_draws_and_leaves_unfired_images_alone():
    img = torch.randn(3, 2, 16, 16, dtype=torch.float64)
    d = AugmentPipe.draw(3, torch.Generator().manual_seed(9))
    d[:, _COL["noise_on"]] = torch.tensor([0.1, 0.9, 0.1])
    pipe = AugmentPipe("noise", p=0.5)
    out = pipe(img, d)
    assert torch.equal(out, pipe(img, d))
    assert torch.equal(out[1], img[1]) and not torch.equal(out[0], img[0])
    d2 = d.clone()
    d2[:, _COL["noise_seed"]] = torch.tensor([0.25, 0.5, 0.75])
    assert not torch.equal(pipe(img, d2)[0], out[0])


@pytest.mark.parametrize(("h", "w"), [(16, 16), (12, 20)])
def test_cutout_zeroes_a_half_size_rectangle_at_the_drawn_position(h, w):
    """Pixel (y, x) is zeroed in every channel iff its centre lies in the rectangle of size
    (w/2, h/2) centred at (u_x w, u_y h), edges [c − s/2, c + s/2); inside the image that is
    exactly h/2 × w/2 pixels."""
    # (0.53125 · 16 = 8.5: the edges fall on pixel centres 4.5 (cut) and 12.5 (kept))
    positions = [(0.5, 0.5), (0.37, 0.61), (0.03, 0.9), (0.999, 0.0), (0.53125, 0.53125)]
    n = len(positions)
    img = torch.from_numpy(np.random.default_rng(0).uniform(0.5, 1.0, (n, 2, h, w)))
    d = draws_for({"cutout": ()}, n)
    for i, (ux, uy) in enumerate(positions):
        d[i, _COL["cutout_x"]], d[i, _COL["cutout_y"]] = ux, uy
    out = AugmentPipe("cutout", p=0.5)(img, d).numpy()
    for i, (ux, uy) in enumerate(positions):
        cx, cy = ux * w, uy * h
        mask = np.zeros((h, w), dtype=bool)
        for y in range(h):
            for x in range(w):
                inside_x = cx - w / 4 <= x + 0.5 < cx + w / 4
                inside_y = cy - h / 4 <= y + 0.5 < cy + h / 4
                mask[y, x] = inside_x and inside_y
        np.testing.assert_array_equal(out[i], np.where(mask, 0.0, img[i].numpy()))
    rows, cols = np.nonzero(out[0, 0] == 0)  # (centred: the whole rectangle inside)
    assert len(rows) == (h // 2) * (w // 2)
    assert rows.max() - rows.min() + 1 == h // 2 and cols.max() - cols.min() + 1 == w // 2


# ---------------------------------------------------------------------------------------------
# The new groups together: probabilities, compatibility, batches, dtypes, gradients

OLD_COLUMNS = [
    "xflip_on", "xflip", "rot90_on", "rot90", "xint_on", "xint_x", "xint_y", "scale_on",
    "scale", "rot_pre_on", "rot_pre", "aniso_on", "aniso", "rot_post_on", "rot_post",
    "xfrac_on", "xfrac_x", "xfrac_y", "brightness_on", "brightness", "contrast_on",
    "contrast", "lumaflip_on", "lumaflip", "hue_on", "hue", "saturation_on", "saturation",
]  # fmt: skip


def test_new_columns_are_drawn_after_the_old_ones_which_keep_their_values():
    """The 'bgc' columns come first, with the values of the former draw (uniforms, then normals,
    for those 28 columns); the new block follows. The generator advances by both blocks."""
    assert [name for name, _ in _COLUMNS[: len(OLD_COLUMNS)]] == OLD_COLUMNS
    k0, k1 = len(OLD_COLUMNS), len(_COLUMNS) - len(OLD_COLUMNS)
    g = torch.Generator().manual_seed(11)
    d = AugmentPipe.draw(7, g)
    ref = torch.Generator().manual_seed(11)
    u = torch.rand([7, k0], generator=ref, dtype=torch.float64)
    n = torch.randn([7, k0], generator=ref, dtype=torch.float64)
    normal = torch.tensor([kind == "n" for _, kind in _COLUMNS[:k0]])
    assert torch.equal(d[:, :k0], torch.where(normal, n, u))
    torch.rand([7, k1], generator=ref, dtype=torch.float64)
    torch.randn([7, k1], generator=ref, dtype=torch.float64)
    assert torch.equal(g.get_state(), ref.get_state())
    # and 'bgc' reads none of the new columns
    img = torch.randn(4, 3, 16, 16, dtype=torch.float64)
    d = AugmentPipe.draw(4, torch.Generator().manual_seed(3))
    other = d.clone()
    other[:, k0:] = torch.rand(4, k1, dtype=torch.float64)
    pipe = AugmentPipe("bgc", p=0.7)
    assert torch.equal(pipe(img, d), pipe(img, other))


def test_the_new_transforms_fire_with_probability_p():
    p = 0.3
    d = AugmentPipe.draw(20000, torch.Generator().manual_seed(4))
    for name in ("band1", "band2", "band3", "band4", "noise", "cutout"):
        rate = float((d[:, _COL[name + "_on"]] < p).double().mean())
        assert abs(rate - p) < 0.015, (name, rate)
    for name in ("band1", "band4", "noise"):
        x = d[:, _COL[name]]
        assert abs(float(x.mean())) < 0.03 and abs(float(x.std()) - 1) < 0.03, name
    for name in ("noise_seed", "cutout_x", "cutout_y"):
        x = d[:, _COL[name]]
        assert 0 <= float(x.min()) and float(x.max()) < 1 and abs(float(x.mean()) - 0.5) < 0.01


def test_p_zero_is_the_identity_for_every_pipe():
    img = torch.randn(2, 3, 16, 16)
    d = AugmentPipe.draw(2, torch.Generator().manual_seed(0))
    for pipe in PIPES:
        assert AugmentPipe(pipe, p=0.0)(img, d) is img
    assert torch.equal(AugmentPipe("bgcfnc", p=0.5)(img, draws_for({}, 2)), img)


def test_bgcfnc_images_do_not_depend_on_their_batch_and_dtypes_agree():
    pipe = AugmentPipe("bgcfnc", p=0.8)
    img = torch.randn(5, 3, 24, 24, dtype=torch.float64)
    d = pipe.draw(5, torch.Generator().manual_seed(6))
    batch = pipe(img, d)
    assert not torch.equal(batch, img)
    for i in range(5):
        torch.testing.assert_close(pipe(img[i : i + 1], d[i : i + 1]), batch[i : i + 1])
    order = torch.tensor([3, 0, 4])
    torch.testing.assert_close(pipe(img[order], d[order]), batch[order])
    single = pipe(img.float(), d)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), batch, rtol=0, atol=1e-4)
    out = pipe(img.to(torch.bfloat16), d)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), batch, rtol=0, atol=0.1)


@pytest.mark.parametrize("pipe", ["f", "n", "cutout"])
def test_the_new_transforms_are_differentiable_to_second_order(pipe):
    on = {"f": bands_on({1: 1.0, 2: -0.5, 3: 0.3, 4: 0.8}),
          "n": {"noise": (("noise", 1.2), ("noise_seed", 0.3))},
          "cutout": {"cutout": (("cutout_x", 0.4), ("cutout_y", 0.6))}}[pipe]  # fmt: skip
    d = draws_for(on, 1)
    aug = AugmentPipe(pipe, p=0.5)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    assert not torch.equal(aug(x, d), x)
    # (fast mode: a random projection of the Jacobians; the full filter check takes ~30 s)
    assert torch.autograd.gradcheck(lambda x: aug(x, d), (x,), fast_mode=True)
    assert torch.autograd.gradgradcheck(lambda x: aug(x, d), (x,), fast_mode=True)


def test_bgcfnc_runs_on_a_trainer_shaped_draw():
    """As the trainer draws: 6 · batch rows reshaped [phase, fake/real, batch, K]; every slice
    augments a batch, and the gradient flows back to the images."""
    batch = 4
    pipe = AugmentPipe("bgcfnc", p=0.6)
    draws = AugmentPipe.draw(6 * batch, torch.Generator().manual_seed(8))
    draws = draws.reshape(3, 2, batch, -1)
    for phase in range(3):
        for which in range(2):
            x = torch.rand(batch, 3, 32, 32, requires_grad=True)
            out = pipe(x * 2 - 1, draws[phase, which])
            assert out.shape == x.shape and bool(torch.isfinite(out).all())
            (g,) = torch.autograd.grad(out.square().sum(), x)
            assert bool(torch.isfinite(g).all()) and float(g.abs().sum()) > 0


# ---------------------------------------------------------------------------------------------
# Probabilities, randomness, gradients


def test_each_transform_fires_with_probability_p_and_rotation_overall_too():
    """Counted over 20000 draws: every group's transforms at p (rotations at 1 − √(1 − p) each,
    so that an image is rotated with probability p)."""
    p = 0.3
    d = AugmentPipe.draw(20000, torch.Generator().manual_seed(0))
    assert d.dtype == torch.float64 and d.shape == (20000, len(_COLUMNS))
    for name in ("xflip", "scale", "aniso", "xfrac", "hue"):
        rate = float((d[:, _COL[name + "_on"]] < p).double().mean())
        assert abs(rate - p) < 0.015, (name, rate)
    p_rot = 1 - math.sqrt(1 - p)
    rotated = (d[:, _COL["rot_pre_on"]] < p_rot) | (d[:, _COL["rot_post_on"]] < p_rot)
    assert abs(float(rotated.double().mean()) - p) < 0.015
    normal = d[:, _COL["scale"]]
    assert abs(float(normal.mean())) < 0.03 and abs(float(normal.std()) - 1) < 0.03


def test_the_same_draws_give_the_same_images_and_a_batch_is_its_images():
    pipe = AugmentPipe("bgc", p=0.6)
    img = waves().repeat(4, 1, 1, 1) * torch.tensor([1.0, 0.5, -1.0, 2.0]).view(4, 1, 1, 1)
    d = pipe.draw(4, torch.Generator().manual_seed(3))
    batch = pipe(img, d)
    assert torch.equal(batch, pipe(img, d))
    for i in range(4):
        torch.testing.assert_close(pipe(img[i : i + 1], d[i : i + 1]), batch[i : i + 1])


def test_gradients_to_second_order():
    """R1 differentiates D(augment(x)) with respect to x, then that gradient's norm again."""
    pipe = AugmentPipe("bgc", p=1.0)
    d = pipe.draw(2, torch.Generator().manual_seed(1))
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: pipe(x, d), (x,))
    assert torch.autograd.gradgradcheck(lambda x: pipe(x, d), (x,))


# ---------------------------------------------------------------------------------------------
# The adaptive p


def test_adaptive_p_moves_by_the_rule_and_stays_in_0_1():
    ada = AdaptiveP(target=0.6, kimg=500, batch=32, interval=4)
    step = 32 * 4 / 500e3
    ada.accumulate(torch.tensor(8.0), 10)  # r_t = 0.8 > 0.6: up
    assert ada.update(0.25) == pytest.approx(0.25 + step)
    assert ada.state() == {"sign_sum": 0.0, "sign_count": 0}
    ada.accumulate(2.0, 10)  # 0.2 < 0.6: down, clamped at 0
    assert ada.update(step / 2) == 0.0
    assert ada.update(0.5) == 0.5  # no scores: unchanged
    assert AdaptiveP(0.6, kimg=0.001, batch=32).update(0.9, (10.0, 10)) == 1.0  # clamped at 1
    ada.accumulate(3.0, 4)
    other = AdaptiveP()
    other.load_state(ada.state())
    assert other.update(0.5) == ada.update(0.5)


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: AugmentPipe("bgcx"), r"pipe must be one of"),
        (lambda: AugmentPipe("cn"), r"pipe must be one of .*bgcfnc"),
        (lambda: AugmentPipe(""), r"pipe must be one of"),
        (lambda: AugmentPipe("bgc", p=1.5), r"p must be a number in \[0, 1\]"),
        (lambda: AugmentPipe("bgc", p=0.5)(torch.zeros(3, 8, 8), torch.zeros(3, 1)), r"images"),
        (lambda: AugmentPipe("bgc", p=0.5)(torch.zeros(2, 3, 8, 8), torch.zeros(3, len(_COLUMNS))),
         r"draws must have shape \[2, "),
        (lambda: AdaptiveP(kimg=0), r"kimg must be a positive number"),
    ],
)  # fmt: skip
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_every_pipe_string_names_known_groups():
    assert set(PIPES["bgc"]) == {"blit", "geom", "color"}
    assert set(PIPES["bgcfnc"]) == {"blit", "geom", "color", "filter", "noise", "cutout"}
    assert set(PIPES["bgcfn"]) == set(PIPES["bgcfnc"]) - {"cutout"}
    assert set(PIPES["bgcf"]) == set(PIPES["bgcfn"]) - {"noise"}
    for key, group in (("f", "filter"), ("n", "noise"), ("filter", "filter"),
                       ("noise", "noise"), ("cutout", "cutout"), ("c", "color")):  # fmt: skip
        assert PIPES[key] == (group,)
    known = {"blit", "geom", "color", "filter", "noise", "cutout"}
    assert all(set(g) <= known for g in PIPES.values())


# ---------------------------------------------------------------------------------------------
# In the trainer


def _log(run: str) -> list[dict]:
    return [json.loads(x) for x in (Path(run) / "log.jsonl").read_text().splitlines()]


def test_ada_moves_p_logs_it_and_a_resumed_run_continues_exactly(tmp_path):
    """A fast ADA (each update moves p by 0.16), checkpointed mid-interval: the resumed run
    equals the uninterrupted one, p and the signs' sums too."""
    common = ["--outdir", str(tmp_path), "--kimg", "0.028", "--tick", "0.028", "--snap", "1",
              "--aug", "ada", "--target", "0", "--aug-p", "0.5", "--ada-kimg", "0.1"]  # fmt: skip
    full = run_cli(*common, "--run-name", "full")
    part = run_cli(*common, "--run-name", "part", "--stop-at-step", "2")
    resumed = run_cli(*common, "--resume", part["run_dir"])
    assert resumed["step"] == full["step"] == 7
    assert resumed["digest"] == full["digest"]
    rows = _log(full["run_dir"])
    assert "signs_real" in rows[-1]
    assert _log(part["run_dir"])[-1]["augment_p"] == rows[-1]["augment_p"]
    # every p is 0.5 plus whole updates of batch 4 · 4 steps / 100 images, and p has moved
    ps = [r["augment_p"] for r in _log(part["run_dir"]) + rows]
    for p in ps:
        assert 0 <= p <= 1 and abs((p - 0.5) / 0.16 - round((p - 0.5) / 0.16)) < 1e-9
    assert any(p != 0.5 for p in ps)


def test_fixed_augmentation_keeps_p_and_changes_training(tmp_path):
    common = ["--outdir", str(tmp_path), "--kimg", "0.008", "--tick", "0.008", "--snap", "1"]
    plain = run_cli(*common, "--run-name", "plain")
    fixed = run_cli(*common, "--run-name", "fixed", "--aug", "fixed")
    assert "augment_p" not in _log(plain["run_dir"])[-1]  # the embedded shapes: no ADA
    assert _log(fixed["run_dir"])[-1]["augment_p"] == 0.2
    assert fixed["digest"] != plain["digest"]


def test_old_runs_keep_no_augmentation_and_weights_only_starts_adapt_faster(tmp_path):
    assert TrainConfig.from_json({"resolution": 16}).aug == "noaug"
    seed_run = run_cli("--outdir", str(tmp_path), "--run-name", "seed", "--kimg", "0.004",
                       "--tick", "0.004", "--snap", "1")  # fmt: skip
    weights = tmp_path / "weights.pt"
    weights.write_bytes(Path(seed_run["checkpoint"]).read_bytes())
    run = run_cli("--outdir", str(tmp_path), "--run-name", "new", "--kimg", "0.004", "--tick",
                  "0.004", "--snap", "1", "--resume", str(weights), "--aug", "ada")  # fmt: skip
    stored = json.loads((Path(run["run_dir"]) / "config.json").read_text())
    assert stored["config"]["ada_kimg"] == 100.0 and stored["config"]["aug"] == "ada"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--aug", "sometimes"], r"--aug: invalid choice"),
        (["--aug-p", "2"], r"--aug-p must be a number in \[0, 1\]"),
        (["--target", "-0.1"], r"--target must be a number in \[0, 1\]"),
        (["--aug", "ada", "--ada-kimg", "0"], r"--ada-kimg must be a positive number"),
        (["--aug-p", "0.5"], r"--aug-p has no effect: this run's augmentation is noaug \(auto"),
        (["--aug", "fixed", "--target", "0.3"], r"--target has no effect: .* is fixed; it "
                                                r"applies with --aug ada"),
        (["--aug", "noaug", "--ada-kimg", "5"], r"--ada-kimg has no effect"),
    ],
)
def test_bad_augmentation_options_are_one_line(tmp_path, capsys, args, match):
    with pytest.raises(SystemExit):
        run_cli("--outdir", str(tmp_path), "--kimg", "0.004", *args)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 or "usage" in err
    assert __import__("re").search(match, err), err


def test_the_trainer_accepts_the_bgcfnc_pipeline(tmp_path, capsys):
    run = run_cli("--outdir", str(tmp_path), "--run-name", "fnc", "--kimg", "0.004", "--tick",
                  "0.004", "--snap", "1", "--aug", "fixed", "--aug-p", "0.9",
                  "--augpipe", "bgcfnc")  # fmt: skip
    stored = json.loads((Path(run["run_dir"]) / "config.json").read_text())
    assert stored["config"]["augpipe"] == "bgcfnc"
    row = _log(run["run_dir"])[-1]
    assert row["augment_p"] == 0.9 and math.isfinite(row["loss_D"])
    with pytest.raises(SystemExit):
        run_cli("--outdir", str(tmp_path), "--aug", "fixed", "--augpipe", "bgcx")
    assert "--augpipe: invalid choice" in capsys.readouterr().err
