r"""ADA's augmentation pipeline (afgan.augment): each transform against the analytic transform
of a band-limited image (plane waves), the colour transforms by their invariants, the
probabilities, gradients to second order, the adaptive p rule, bad input; and in the trainer:
the log, an exact resume, and a run started from weights."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from afgan.augment import _COL, _COLUMNS, PIPES, AdaptiveP, AugmentPipe
from afgan.training import TrainConfig
from hypothesis import given, settings
from hypothesis import strategies as st

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
        (lambda: AugmentPipe("bgcfnc"), r"pipe must be one of"),
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
    assert all(set(g) <= {"blit", "geom", "color"} for g in PIPES.values())


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
