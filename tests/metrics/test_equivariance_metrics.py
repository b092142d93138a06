"""bandlimit.metrics.equivariance: building blocks against their definitions, evaluate()'s contract,
and the paper's central claim on a randomly initialised StyleGAN3-T generator.

Independent references: naive float64 loops written here from the formulas (stylegan3.md §7),
analytic band-limited signals evaluated at shifted/rotated coordinates, ``torch.rot90``, and an
analytic "generator" whose images are exactly equivariant by construction.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bandlimit.metrics import equivariance as eq
from bandlimit.testing import make_bandlimited_signal
from tests.defaults import under_default_device_and_dtype

seeds = st.integers(0, 2**32 - 1)


def signal(seed, size=32, bandwidth=0.15, batch=2, channels=2, components=6):
    rng = np.random.default_rng(seed)
    return make_bandlimited_signal(rng, size, batch, channels, bandwidth, components)


# ---------------------------------------------------------------------------------------------
# Naive references, straight from the formulas


def naive_integer_shift(x, dx, dy):
    H, W = x.shape[-2:]
    y, m = np.zeros_like(x), np.zeros_like(x)
    for r in range(H):
        for c in range(W):
            if 0 <= r - dy < H and 0 <= c - dx < W:
                y[:, :, r, c] = x[:, :, r - dy, c - dx]
                m[:, :, r, c] = 1
    return y, m


def naive_lanczos(t, a=3):
    t = float(t)
    if abs(t) >= a:
        return 0.0
    return float(np.sinc(t) * np.sinc(t / a))


def naive_fractional_shift(x, dx, dy, a=3):
    """ref[y,x] = Σ w^y_ky w^x_kx orig[y − i_y − ky, x − i_x − kx]; mask per §7."""
    H, W = x.shape[-2:]
    ix, iy = math.floor(dx), math.floor(dy)
    px, py = dx - ix, dy - iy
    ks = list(range(-a + 1, a + 1))
    wx = np.array([naive_lanczos(k - px, a) for k in ks])
    wy = np.array([naive_lanczos(k - py, a) for k in ks])
    wx, wy = wx / wx.sum(), wy / wy.sum()
    y = np.zeros_like(x)
    for r in range(H):
        for c in range(W):
            acc = np.zeros(x.shape[:2])
            for ky, wky in zip(ks, wy):
                for kx, wkx in zip(ks, wx):
                    rr, cc = r - iy - ky, c - ix - kx
                    if 0 <= rr < H and 0 <= cc < W:
                        acc += wky * wkx * x[:, :, rr, cc]
            y[:, :, r, c] = acc
    cols = np.arange(W)
    rows = np.arange(H)
    mx = (cols >= max(ix + a, 0)) & (cols < W + min(ix - a + 1, 0))
    my = (rows >= max(iy + a, 0)) & (rows < H + min(iy - a + 1, 0))
    m = np.broadcast_to((my[:, None] & mx[None, :]).astype(x.dtype), x.shape)
    return y, m


def naive_psnr(ref, img, mask):
    e = ((ref - img) ** 2 * mask).sum() / mask.sum()
    return 20 * math.log10(2) - 10 * math.log10(e)




def assert_identical(got, want):
    """Same values, and tensors on the same device with the same dtype, at any depth."""
    if isinstance(want, torch.Tensor):
        assert (got.device, got.dtype) == (want.device, want.dtype)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    elif isinstance(want, eq.BatchDraws):
        assert_identical((got.z, got.c), (want.z, want.c))
        assert (got.translate_int, got.translate_frac, got.angle) == (
            want.translate_int, want.translate_frac, want.angle)
    elif isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want):
            assert_identical(g, w)
    else:
        assert got == want


# ---------------------------------------------------------------------------------------------
# Translation


@given(seed=seeds, dx=st.integers(-12, 12), dy=st.integers(-12, 12))
def test_translate_integer_matches_definition(seed, dx, dy):
    x = np.random.default_rng(seed).standard_normal((2, 3, 7, 9))
    y, m = eq.translate_integer(torch.from_numpy(x), (dx, dy))
    y_ref, m_ref = naive_integer_shift(x, dx, dy)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    np.testing.assert_array_equal(m.numpy(), m_ref)


def test_integer_shifted_copy_has_infinite_psnr():
    big = torch.randn(2, 3, 40, 40, dtype=torch.float64)
    orig = big[:, :, 4:36, 4:36]
    moved = big[:, :, 4 - 3 : 36 - 3, 4 + 2 : 36 + 2]  # the same scene seen 2 px right, 3 px up
    ref, mask = eq.translate_integer(orig, (-2, 3))
    assert eq.psnr(ref, moved, mask) == math.inf
    assert eq.psnr(ref, moved + 1e-3 * mask, mask) == pytest.approx(20 * math.log10(2 / 1e-3))


@given(phase=st.floats(0, 1, exclude_max=True), a=st.integers(1, 4))
def test_lanczos_weights_match_definition(phase, a):
    w = eq.lanczos_shift_weights(phase, a).numpy()
    ref = np.array([naive_lanczos(k - phase, a) for k in range(-a + 1, a + 1)])
    np.testing.assert_allclose(w, ref / ref.sum(), rtol=1e-12, atol=1e-15)
    assert w.sum() == pytest.approx(1, abs=1e-12)


def test_lanczos_weights_at_zero_phase_are_a_delta():
    w = eq.lanczos_shift_weights(0.0).numpy()
    np.testing.assert_allclose(w, [0, 0, 1, 0, 0, 0], atol=1e-16)


@settings(max_examples=10)
@given(seed=seeds, dx=st.floats(-9, 9), dy=st.floats(-9, 9))
def test_translate_fractional_matches_definition(seed, dx, dy):
    x = np.random.default_rng(seed).standard_normal((1, 2, 9, 11))
    y, m = eq.translate_fractional(torch.from_numpy(x), (dx, dy))
    y_ref, m_ref = naive_fractional_shift(x, dx, dy)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(m.numpy(), m_ref)


@given(seed=seeds, dx=st.integers(-5, 5), dy=st.integers(-5, 5))
def test_translate_fractional_by_whole_pixels_is_the_integer_shift(seed, dx, dy):
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, 2, 12, 12)))
    yf, mf = eq.translate_fractional(x, (float(dx), float(dy)))
    yi, mi = eq.translate_integer(x, (dx, dy))
    torch.testing.assert_close(yf * mf, yi * mf, rtol=0, atol=1e-12)
    assert bool((mf <= mi).all())  # the Lanczos mask is the stricter one


@given(seed=seeds, dx=st.floats(-4, 4), dy=st.floats(-4, 4))
def test_translate_fractional_matches_analytic_shift(seed, dx, dy):
    s = signal(seed, size=40, bandwidth=0.15)
    y, m = eq.translate_fractional(s.render(dtype=torch.float64), (dx, dy))
    assert eq.psnr(s.render(shift=(dx, dy), dtype=torch.float64), y, m) > 50


# ---------------------------------------------------------------------------------------------
# The oriented band-limit filter


@pytest.mark.parametrize("up", [1, 2, 3, 4])
@given(angle=st.floats(-math.pi, math.pi))
@settings(max_examples=5)
def test_filter_polyphase_components_sum_to_one_over_up_squared(up, angle):
    f = eq.oriented_bandlimit_filter(eq.rotation_matrix(angle), up=up, dtype=torch.float64)
    assert f.shape == (2 * 6 * up - 1,) * 2
    for ry in range(up):
        for rx in range(up):
            assert float(f[ry::up, rx::up].sum()) == pytest.approx(1 / up**2, abs=1e-12)


@given(angle=st.floats(-math.pi, math.pi))
@settings(max_examples=5)
def test_filter_symmetries(angle):
    f = eq.oriented_bandlimit_filter(eq.rotation_matrix(angle), dtype=torch.float64)
    # Point-symmetric (so convolution = correlation), and mirroring x↔y turns α into −α.
    torch.testing.assert_close(f, f.flip(0, 1), rtol=0, atol=1e-14)
    g = eq.oriented_bandlimit_filter(eq.rotation_matrix(-angle), dtype=torch.float64)
    torch.testing.assert_close(g, f.T, rtol=0, atol=1e-12)
    # The square pixel band is invariant under quarter turns.
    h = eq.oriented_bandlimit_filter(eq.rotation_matrix(angle + math.pi / 2), dtype=torch.float64)
    torch.testing.assert_close(h, f, rtol=0, atol=1e-12)


def test_filter_for_identity_is_separable():
    f = eq.oriented_bandlimit_filter(torch.eye(3), up=4, dtype=torch.float64)
    s = torch.linalg.svdvals(f)
    assert float(s[1] / s[0]) < 1e-10


def dtft(f, nu_x, nu_y):
    K = f.shape[0]
    n = np.arange(K) - K // 2
    e = np.exp(-2j * np.pi * (nu_y * n[:, None] + nu_x * n[None, :]))
    return abs((f.numpy() * e).sum())


def test_filter_keeps_the_shared_band_only():
    # At up=4 the filter lives on the 4× grid: input frequency ν is ν/4 cycles per tap.
    # rot(45°) of the pixel square meets it in an octagon: (0.45, 0.45) is in one, not the other.
    f = eq.oriented_bandlimit_filter(eq.rotation_matrix(math.pi / 4), up=4, dtype=torch.float64)
    g = eq.oriented_bandlimit_filter(torch.eye(3), up=4, dtype=torch.float64)
    for h in (f, g):
        assert dtft(h, 0, 0) == pytest.approx(1, abs=1e-12)
        assert dtft(h, 0.2 / 4, 0.1 / 4) == pytest.approx(1, abs=2e-3)
        assert dtft(h, 0.8 / 4, 0.2 / 4) < 0.01  # beyond the input's Nyquist
    assert dtft(f, 0.45 / 4, 0.45 / 4) < 0.1
    assert dtft(g, 0.45 / 4, 0.45 / 4) > 0.4


def test_filter_at_the_pixel_rate_for_the_identity_is_a_delta():
    # sinc sampled at the integers is a delta: pseudo-rotation by 0 leaves images untouched.
    f = eq.oriented_bandlimit_filter(torch.eye(3), up=1, dtype=torch.float64)
    delta = torch.zeros(11, 11, dtype=torch.float64)
    delta[5, 5] = 1
    torch.testing.assert_close(f, delta, rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# Rotation


def test_rotation_matrix_convention():
    m = eq.rotation_matrix(0.3)
    c, s = math.cos(0.3), math.sin(0.3)
    f64 = torch.float64
    torch.testing.assert_close(m, torch.tensor([[c, s, 0], [-s, c, 0], [0, 0, 1]], dtype=f64))
    torch.testing.assert_close(eq.rotation_transform(0.3), eq.rotation_matrix(-0.3))
    torch.testing.assert_close(eq.translation_transform((0.1, -0.2)),
                               torch.tensor([[1, 0, -0.1], [0, 1, 0.2], [0, 0, 1]], dtype=f64))


@settings(max_examples=10)
@given(seed=seeds, angle=st.floats(-math.pi, math.pi))
def test_rotate_matches_analytic_rotation(seed, angle):
    s = signal(seed, size=40, bandwidth=0.15)
    y, m = eq.rotate(s.render(dtype=torch.float64), angle)
    assert float(m.mean()) > 0.2
    assert eq.psnr(s.render(angle=angle, dtype=torch.float64), y, m) > 50


@pytest.mark.parametrize("shape", [(40, 56), (56, 40)])
@pytest.mark.parametrize("angle", [0.3, 1.2, -2.5])
def test_rotate_turns_non_square_images(shape, angle):
    """A rotation, not a rotation plus shear, when H != W (the grid's units differ per axis)."""
    s = make_bandlimited_signal(np.random.default_rng(1), shape, bandwidth=0.15)
    y, m = eq.rotate(s.render(dtype=torch.float64), angle)
    assert float(m.mean()) > 0.2
    assert eq.psnr(s.render(angle=angle, dtype=torch.float64), y, m) > 50


def test_rotate_direction_is_not_reversed():
    s = signal(1, size=40, bandwidth=0.15)
    y, m = eq.rotate(s.render(dtype=torch.float64), 0.5)
    right = eq.psnr(s.render(angle=0.5, dtype=torch.float64), y, m)
    wrong = eq.psnr(s.render(angle=-0.5, dtype=torch.float64), y, m)
    assert right > wrong + 30


def test_quarter_turn_is_rot90():
    x = signal(2, size=32, bandwidth=0.2).render(dtype=torch.float64)
    y, m = eq.rotate(x, math.pi / 2)
    ref = torch.rot90(x, 1, dims=(-2, -1))  # counter-clockwise on screen
    assert eq.psnr(ref, y, m) > 60


def test_rotate_and_pseudo_rotate_keep_constants():
    x = torch.full((1, 2, 24, 24), 0.7, dtype=torch.float64)
    for fn in (lambda t: eq.rotate(t, 1.1), lambda t: eq.pseudo_rotate(t, 1.1)):
        y, m = fn(x)
        assert float(m.sum()) > 0
        torch.testing.assert_close(y[m > 0], torch.full_like(y[m > 0], 0.7), rtol=0, atol=1e-12)


def test_rotate_by_zero_is_identity_on_bandlimited_images():
    x = signal(3, size=32, bandwidth=0.15).render(dtype=torch.float64)
    y, m = eq.rotate(x, 0.0)
    assert eq.psnr(x, y, m) > 60
    # The mask leaves out the 6-pixel border the 47-tap filter (at 4×) reads beyond.
    assert float(m[0, 0, 16, 6]) == 1 and float(m[0, 0, 16, 4]) == 0


@settings(max_examples=10)
@given(seed=seeds, angle=st.floats(-math.pi, math.pi))
def test_pseudo_rotation_has_the_band_of_the_rotation(seed, angle):
    # EQ-R compares rotate(orig, α) with pseudo_rotate(img, α) for img = orig rotated by α.
    s = signal(seed, size=40, bandwidth=0.15)
    ref, m1 = eq.rotate(s.render(dtype=torch.float64), angle)
    img, m2 = eq.pseudo_rotate(s.render(angle=angle, dtype=torch.float64), angle)
    assert eq.psnr(ref, img, m1 * m2) > 50
    assert float(m2[0, 0, 4, 20]) == 0 and float(m2[0, 0, 5, 20]) == 1


# ---------------------------------------------------------------------------------------------
# PSNR


def test_psnr_is_pooled_over_images_with_the_papers_constants():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((4, 3, 8, 8))
    noise = np.array([1e-3, 1e-2, 1e-1, 1])[:, None, None, None]
    img = ref + rng.standard_normal(ref.shape) * noise
    mask = (rng.uniform(size=ref.shape) > 0.3).astype(float)
    got = eq.psnr(torch.from_numpy(ref), torch.from_numpy(img), torch.from_numpy(mask))
    assert got == pytest.approx(naive_psnr(ref, img, mask), rel=1e-12)
    acc = eq.PSNRAccumulator()
    for b in range(4):  # batch by batch gives the same pooled number, not a mean of PSNRs
        acc.update(*(torch.from_numpy(a[b : b + 1]) for a in (ref, img, mask)))
    assert acc.psnr == pytest.approx(got, rel=1e-12)
    per_image = np.mean([naive_psnr(ref[b], img[b], mask[b]) for b in range(4)])
    assert abs(per_image - got) > 1
    assert eq.I_MAX == 2.0


def test_psnr_mask_broadcasts():
    ref, img = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    m = torch.ones(1, 1, 4, 4)
    assert eq.psnr(ref, img, m) == pytest.approx(20 * math.log10(2 / 0.5))


def test_psnr_of_an_all_zero_mask_names_the_mask():
    """Before: 'PSNRAccumulator has no unmasked pixels', a class the caller of psnr never used."""
    with pytest.raises(ValueError, match=r"^no unmasked pixels: every weight of mask \(shape "
                       r"\(1, 1, 4, 1\)\) is 0, so there is nothing to compare$"):
        eq.psnr(torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 1))


# ---------------------------------------------------------------------------------------------
# evaluate() on analytic generators


class _Input(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("transform", torch.eye(3))


class AnalyticSynthesis(nn.Module):
    """Sum of sinusoids of the Fourier features, sampled at ``transform · p``: exactly equivariant.

    ``sticking`` adds a pattern fixed to the pixel grid (texture sticking), which is not.
    """

    def __init__(self, res, channels, components, bandwidth, sticking):
        super().__init__()
        self.input = _Input()
        self.res, self.channels, self.k, self.bw, self.sticking = (
            res, channels, components, bandwidth, sticking)
        g = torch.Generator().manual_seed(123)
        self.register_buffer("pattern", torch.randn(1, channels, res, res, generator=g))
        self.calls, self.grad_enabled, self.raise_on_call = 0, [], None

    def forward(self, ws, force_fp32=False):
        self.calls += 1
        self.grad_enabled.append(torch.is_grad_enabled())
        if self.raise_on_call == self.calls:
            raise RuntimeError("synthesis failed")
        w = ws[:, 0].double()
        B, k = w.shape[0], self.k
        freqs = torch.tanh(w[:, : 2 * k]).reshape(B, k, 2) * (self.bw * self.res / math.sqrt(2))
        phases = w[:, 2 * k : 3 * k]
        u = (torch.arange(self.res, dtype=torch.float64, device=w.device) + 0.5) / self.res - 0.5
        py, px = torch.meshgrid(u, u, indexing="ij")
        M = self.input.transform.double()
        qx = M[0, 0] * px + M[0, 1] * py + M[0, 2]
        qy = M[1, 0] * px + M[1, 1] * py + M[1, 2]
        ch = torch.arange(self.channels, dtype=torch.float64, device=w.device) / (4 * self.channels)
        arg = (freqs[:, :, 0, None, None] * qx + freqs[:, :, 1, None, None] * qy)[:, None]
        arg = arg + (phases[:, None, :] + ch[None, :, None])[..., None, None]  # [B, C, k, H, W]
        img = torch.sin(2 * math.pi * arg).sum(2) / k
        return (img + self.sticking * self.pattern).float()


class AnalyticMapping(nn.Module):
    def __init__(self, c_dim):
        super().__init__()
        self.c_dim, self.seen_c = c_dim, []

    def forward(self, z, c):
        self.seen_c.append(c.clone())
        w = z if self.c_dim == 0 else z + c.sum(1, keepdim=True)
        return w[:, None, :].repeat(1, 2, 1)


class AnalyticGenerator(nn.Module):
    def __init__(self, res=32, channels=2, components=4, bandwidth=0.15, sticking=0.0, c_dim=0):
        super().__init__()
        self.z_dim, self.c_dim, self.img_resolution = 3 * components, c_dim, res
        self.mapping = AnalyticMapping(c_dim)
        self.synthesis = AnalyticSynthesis(res, channels, components, bandwidth, sticking)


def test_evaluate_on_an_exactly_equivariant_generator():
    r = eq.evaluate(AnalyticGenerator(), num_samples=16, batch_size=4, progress=False)
    assert list(r) == ["eqt_int", "eqt_frac", "eqr"]
    assert r["eqt_int"] > 110  # float32 rounding only
    assert r["eqt_frac"] > 50  # limited by the Lanczos-3 reference
    assert r["eqr"] > 50  # limited by bilinear resampling of the 4× upsampled reference


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_evaluate_on_the_gpu_with_device_cuda():
    """``device='cuda'`` (no index) names the current device, where G is."""
    G = AnalyticGenerator().cuda()
    r = eq.evaluate(G, num_samples=8, batch_size=4, device="cuda", progress=False)
    assert r["eqt_int"] > 100
    with pytest.raises(ValueError, match="move G first"):
        eq.evaluate(G, num_samples=8, batch_size=4, device="cpu", progress=False)


def test_evaluate_detects_texture_sticking():
    r = eq.evaluate(AnalyticGenerator(sticking=0.3), num_samples=8, batch_size=4, progress=False)
    assert max(r.values()) < 25


def test_evaluate_is_deterministic_and_seeded():
    G = AnalyticGenerator()
    a = eq.evaluate(G, num_samples=12, batch_size=4, seed=7, progress=False)
    b = eq.evaluate(G, num_samples=12, batch_size=4, seed=7, progress=False)
    c = eq.evaluate(G, num_samples=12, batch_size=4, seed=8, progress=False)
    assert a == b
    assert a["eqt_frac"] != c["eqt_frac"] and a["eqr"] != c["eqr"]  # eqt_int may be ∞ for both


def test_metrics_do_not_depend_on_which_others_run():
    G = AnalyticGenerator()
    full = eq.evaluate(G, num_samples=8, batch_size=4, seed=3, progress=False)
    for m in eq.METRICS:
        alone = eq.evaluate(G, num_samples=8, batch_size=4, seed=3, metrics=(m,), progress=False)
        assert alone == {m: full[m]}
    rev = eq.evaluate(G, num_samples=8, batch_size=4, seed=3, metrics=["eqr", "eqt_int"],
                      progress=False)
    assert list(rev) == ["eqr", "eqt_int"]


def test_explicit_draws_reproduce_the_seeded_run():
    G = AnalyticGenerator()
    seeded = eq.evaluate(G, num_samples=10, batch_size=4, seed=5, progress=False)
    sizes = [4, 4, 2]  # the last batch is partial: exactly num_samples latents
    draws = [eq.draw_batch(k, b, G.z_dim, 0, seed=5) for k, b in enumerate(sizes)]
    assert eq.evaluate(G, draws=draws, progress=False) == seeded
    assert [d.z.shape[0] for d in draws] == sizes


def test_draw_batch_is_a_pure_function_of_its_arguments():
    a = eq.draw_batch(3, 4, 8, seed=11)
    b = eq.draw_batch(3, 4, 8, seed=11)
    c = eq.draw_batch(4, 4, 8, seed=11)
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=0)
    assert (a.translate_int, a.translate_frac, a.angle) == (
        b.translate_int, b.translate_frac, b.angle)
    assert not torch.equal(a.z, c.z)
    for t in (a.translate_int, a.translate_frac):
        assert all(-0.125 <= v < 0.125 for v in t)
    assert -math.pi <= a.angle < math.pi
    assert a.c.shape == (4, 0)


def test_draw_batch_draws_float32_whatever_the_default_dtype():
    """The same seed draws the same numbers under any default dtype; labels of every kind
    (one-hot, a float64 table, a sampler returning float64 tensors or arrays) are float32."""
    base = eq.draw_batch(2, 3, 8, c_dim=4, seed=5)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for c in (None, torch.eye(4, dtype=torch.float64),
                  lambda n, g: torch.ones(n, 4, dtype=torch.float64),
                  lambda n, g: np.eye(4)[:n]):
            d = eq.draw_batch(2, 3, 8, c_dim=4, c=c, seed=5)
            assert (d.z.dtype, d.c.dtype, d.c.device.type) == (torch.float32, torch.float32, "cpu")
        empty = eq.draw_batch(2, 3, 8, seed=5)
        assert (empty.z.dtype, empty.c.dtype) == (torch.float32, torch.float32)
        torch.testing.assert_close(eq.draw_batch(2, 3, 8, c_dim=4, seed=5).z, base.z,
                                   rtol=0, atol=0)
    finally:
        torch.set_default_dtype(before)


_LABEL_TABLE = torch.eye(4, dtype=torch.float64)


@pytest.mark.parametrize("c_dim, c", [
    (0, None),
    (4, None),
    (4, _LABEL_TABLE),
    (4, lambda n, g: torch.rand(n, 4, generator=g, dtype=torch.float32, device="cpu")),
    (4, lambda n, g: [[0.0, 1.0, 0.0, 0.0]] * n),
], ids=["unconditional", "one-hot", "label table", "sampler", "sampler of lists"])
def test_draw_batch_draws_the_same_values_under_a_default_device_and_dtype(c_dim, c):
    """The draws of a seed are float32 CPU tensors under a default device too (a meta default
    made them meta tensors, and .tolist() of the transforms raised 'Cannot copy out of meta
    tensor')."""
    want = eq.draw_batch(2, 3, 8, c_dim=c_dim, seed=5, c=c)
    assert_identical(under_default_device_and_dtype(
        lambda: eq.draw_batch(2, 3, 8, c_dim=c_dim, seed=5, c=c)), want)
    assert (want.z.device.type, want.z.dtype, want.c.dtype) == ("cpu", torch.float32,
                                                                torch.float32)


def test_a_label_sampler_that_draws_on_the_meta_device_is_named():
    """A sampler that makes its tensors on a meta default device has drawn nothing: said so,
    not torch's 'Cannot copy out of meta tensor'."""
    with pytest.raises(ValueError, match=r"label sampler c returned a tensor on the meta "
                                         r"device .*device='cpu'"):
        under_default_device_and_dtype(lambda: eq.draw_batch(
            0, 2, 8, c_dim=3, c=lambda n, g: torch.rand(n, 3, generator=g)))
    with pytest.raises(ValueError, match="label table on the meta device"):
        eq.draw_batch(0, 2, 8, c_dim=3, c=torch.eye(3, device="meta"))


@pytest.mark.parametrize("explicit_draws", [False, True], ids=["seeded", "explicit draws"])
def test_evaluate_under_a_default_device_and_dtype(explicit_draws):
    """A generator on the CPU is evaluated as without a default device: the identity transform
    was made on the default device ('meta': 'Cannot copy out of meta tensor'), and so were the
    seeded draws."""
    G = AnalyticGenerator()  # made outside: on the CPU
    kw = dict(num_samples=8, batch_size=4, seed=1, progress=False)
    if explicit_draws:
        kw = dict(draws=[eq.draw_batch(k, 4, G.z_dim, seed=1) for k in range(2)], progress=False)
    want = eq.evaluate(G, **kw)
    assert under_default_device_and_dtype(lambda: eq.evaluate(G, **kw)) == want
    tr = G.synthesis.input.transform
    assert (tr.device.type, tr.dtype) == ("cpu", torch.float32) and torch.equal(tr, torch.eye(3))


def test_explicit_translation_moves_generated_content():
    # One explicit batch: a whole-pixel translation must be reproduced exactly.
    G = AnalyticGenerator(res=32)
    d = eq.BatchDraws(z=torch.randn(4, G.z_dim), c=torch.zeros(4, 0),
                      translate_int=(3 / 32, -5 / 32), translate_frac=(0.031, -0.07), angle=0.9)
    r = eq.evaluate(G, draws=[d], progress=False)
    assert r["eqt_int"] > 110 and r["eqt_frac"] > 50 and r["eqr"] > 50


def test_generator_state_is_restored_and_no_grad_is_recorded():
    G = AnalyticGenerator()
    user = torch.tensor([[0.9, 0.1, 0.2], [-0.1, 0.9, 0.0], [0, 0, 1]])
    G.synthesis.input.transform.copy_(user)
    eq.evaluate(G, num_samples=4, batch_size=4, progress=False)
    torch.testing.assert_close(G.synthesis.input.transform, user, rtol=0, atol=0)
    assert G.synthesis.grad_enabled and not any(G.synthesis.grad_enabled)
    G.synthesis.raise_on_call = G.synthesis.calls + 3  # fail mid-batch, transform not identity
    with pytest.raises(RuntimeError, match="synthesis failed"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)
    torch.testing.assert_close(G.synthesis.input.transform, user, rtol=0, atol=0)


def test_labels_of_conditional_generators():
    G = AnalyticGenerator(c_dim=3)
    eq.evaluate(G, num_samples=8, batch_size=4, metrics=("eqt_int",), progress=False)
    c = torch.cat(G.mapping.seen_c)
    assert c.shape == (8, 3) and bool((c.sum(1) == 1).all()) and set(c.unique().tolist()) <= {0, 1}
    table = torch.tensor([[0.0, 0.5, 0.5]])
    G.mapping.seen_c.clear()
    eq.evaluate(G, num_samples=4, batch_size=4, metrics=("eqt_int",), c=table, progress=False)
    assert torch.equal(torch.cat(G.mapping.seen_c), table.repeat(4, 1))

    def sampler(n, g):
        return torch.rand(n, 3, generator=g)

    a = eq.draw_batch(0, 4, G.z_dim, 3, seed=1, c=sampler)
    b = eq.draw_batch(0, 4, G.z_dim, 3, seed=1, c=sampler)
    assert torch.equal(a.c, b.c) and a.c.shape == (4, 3)
    with pytest.raises(ValueError, match="c_dim=3"):
        eq.draw_batch(0, 4, G.z_dim, 3, c=torch.zeros(5, 2))
    with pytest.raises(ValueError, match="label sampler"):
        eq.draw_batch(0, 4, G.z_dim, 3, c=lambda n, g: torch.zeros(n, 2))


def test_progress_is_reported_on_stderr(capsys):
    eq.evaluate(AnalyticGenerator(), num_samples=8, batch_size=4, metrics=("eqt_int",),
                progress=True)
    err = capsys.readouterr().err
    try:
        import tqdm  # noqa: F401
    except ImportError:
        assert "2/2 batches" in err
    else:
        assert "2/2" in err


def test_ranks_share_the_batches_and_their_sums_add_up(monkeypatch):
    # Simulate two ranks in one process: each takes batches r, r + 2, …; summing their
    # accumulators (what all_reduce does) must give the single-process result.
    G = AnalyticGenerator()
    kw = dict(num_samples=14, batch_size=4, seed=2, progress=False)
    single = eq.evaluate(G, **kw)
    sums = []
    monkeypatch.setattr(eq.PSNRAccumulator, "all_reduce", lambda self: sums.append(self.sums))
    monkeypatch.setattr(eq, "_raise_on_every_rank", lambda error: None)  # (no process group)
    for rank in range(2):
        monkeypatch.setattr(eq, "_dist_info", lambda rank=rank: (rank, 2))
        eq.evaluate(G, **kw)
    total = [sums[i] + sums[i + 3] for i in range(3)]  # 3 metrics per run
    for t, k in zip(total, eq.METRICS):
        mse = float(t[0] / t[1])
        psnr = math.inf if mse == 0 else 20 * math.log10(2) - 10 * math.log10(mse)
        assert psnr == pytest.approx(single[k], rel=1e-12)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_all_reduce_under_an_initialised_process_group(tmp_path):
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init'}", rank=0,
                            world_size=1)
    try:
        G = AnalyticGenerator()
        r = eq.evaluate(G, num_samples=4, batch_size=4, metrics=("eqt_frac",), progress=False)
    finally:
        dist.destroy_process_group()
    assert r == eq.evaluate(G, num_samples=4, batch_size=4, metrics=("eqt_frac",), progress=False)


# ---------------------------------------------------------------------------------------------
# Bad input


def test_shifts_far_beyond_the_image_give_zeros_and_an_empty_mask():
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    for shift in ((1e20, 0.0), (0.5, -1e20), (40.25, 0.0)):
        y, m = eq.translate_fractional(x, shift)
        assert y.shape == x.shape and not y.any() and not m.any()


def test_psnr_rejects_negative_mask_weights():
    x = torch.randn(1, 1, 8, 8)
    with pytest.raises(ValueError, match="mask must be >= 0"):
        eq.psnr(x, x + 1, -torch.ones_like(x))


def test_bad_arguments_raise_clear_errors():
    G = AnalyticGenerator()
    with pytest.raises(ValueError, match="metrics"):
        eq.evaluate(G, metrics=("eqt",), progress=False)
    with pytest.raises(ValueError, match="metrics"):
        eq.evaluate(G, metrics=(), progress=False)
    with pytest.raises(ValueError, match="num_samples"):
        eq.evaluate(G, num_samples=0, progress=False)
    with pytest.raises(TypeError, match="batch_size"):
        eq.evaluate(G, batch_size=2.0, progress=False)
    with pytest.raises(ValueError, match="seed"):
        eq.evaluate(G, seed=-1, progress=False)
    with pytest.raises(TypeError, match=r"has no \.mapping"):
        eq.evaluate(nn.Module(), progress=False)
    bad = AnalyticGenerator()
    bad.synthesis.input = nn.Module()
    with pytest.raises(TypeError, match=r"transform must be a \[3, 3\] tensor"):
        eq.evaluate(bad, progress=False)
    with pytest.raises(ValueError, match="move G first"):
        eq.evaluate(G, device="meta", progress=False)
    with pytest.raises(TypeError, match=r"draws\[0\] must be a BatchDraws"):
        eq.evaluate(G, draws=[object()], progress=False)
    with pytest.raises(ValueError, match="draws is empty"):
        eq.evaluate(G, draws=[], progress=False)

    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="whole pixels"):
        eq.translate_integer(x, (0.5, 0))
    with pytest.raises(ValueError, match=r"shift must be \(dx, dy\)"):
        eq.translate_fractional(x, (0.5,))
    with pytest.raises(ValueError, match="finite"):
        eq.translate_fractional(x, (math.nan, 0))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        eq.rotate(torch.zeros(8, 8), 0.1)
    with pytest.raises(TypeError, match="floating-point"):
        eq.pseudo_rotate(torch.zeros(1, 1, 8, 8, dtype=torch.int64), 0.1)
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        eq.rotate(np.zeros((1, 1, 8, 8)), 0.1)
    with pytest.raises(ValueError, match="angle must be a finite real number"):
        eq.rotate(x, math.inf)
    with pytest.raises(ValueError, match="matrix must be a 2x2, 2x3 or 3x3"):
        eq.oriented_bandlimit_filter(torch.eye(4))
    with pytest.raises(ValueError, match="up must be an int >= 1"):
        eq.oriented_bandlimit_filter(torch.eye(3), up=0)
    # Integer dtypes truncated the matrices silently ([[0, 0, 0], ...] for 0.3 rad).
    with pytest.raises(TypeError, match=r"dtype must be a real floating-point.*torch\.int64"):
        eq.rotation_matrix(0.3, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"dtype must be a real floating-point.*torch\.int32"):
        eq.translation_transform((0.25, 0.0), dtype=torch.int32)
    with pytest.raises(TypeError, match=r"dtype must be a torch\.dtype, got 'float'"):
        eq.rotation_transform(0.3, dtype="float")
    # An order below 1 gave an all-zero kernel.
    for a in (0, -2):
        with pytest.raises(ValueError, match=rf"a must be an int >= 1, got {a}"):
            eq.lanczos_kernel(torch.zeros(3), a)
    with pytest.raises(ValueError, match="same shape"):
        eq.psnr(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match="does not broadcast"):
        eq.psnr(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4), torch.ones(3, 4))
    with pytest.raises(ValueError, match="no unmasked pixels"):
        eq.psnr(torch.zeros(1, 1, 4, 4), torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="phase must be in"):
        eq.lanczos_shift_weights(1.0)
    with pytest.raises(ValueError, match="max_val must be > 0"):
        eq.PSNRAccumulator(0)

    # Found by fuzzing. Complex values were made real silently (the imaginary parts dropped:
    # psnr of [1j, 2j] against zeros was inf), and so was a bool matrix.
    z = torch.zeros(2, dtype=torch.complex64)
    with pytest.raises(TypeError, match=r"^ref must have a real dtype, got torch\.complex64$"):
        eq.psnr(torch.tensor([1j, 2j]), z)
    with pytest.raises(TypeError, match=r"^img must have a real dtype, got torch\.complex128$"):
        eq.psnr(torch.zeros(2), torch.zeros(2, dtype=torch.complex128))
    with pytest.raises(TypeError, match=r"^mask must have a real dtype, got torch\.complex64$"):
        eq.psnr(torch.zeros(2), torch.ones(2), z)
    with pytest.raises(TypeError, match=r"^matrix must hold real numbers, got a complex matrix "
                                        r"\(dtype complex128\)$"):
        eq.oriented_bandlimit_filter(np.eye(2) * 1j)
    with pytest.raises(TypeError, match=r"^matrix must hold real numbers, got a complex matrix "
                                        r"\(dtype torch\.complex64\)$"):
        eq.oriented_bandlimit_filter(torch.eye(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match=r"^matrix must hold real numbers, got a bool matrix "
                                        r"\(dtype bool\)$"):
        eq.oriented_bandlimit_filter(np.eye(2, dtype=bool))
    with pytest.raises(TypeError, match=r"^matrix must hold real numbers, got a bool matrix "):
        eq.oriented_bandlimit_filter([[True, False], [False, True]])
    assert eq.oriented_bandlimit_filter(np.eye(2, dtype=int)).shape == (11, 11)  # ints are real
    # torch's RuntimeError named no argument
    with pytest.raises(ValueError, match=r"^device must be a torch\.device or a device string, "
                                         r"got 'bogus'$"):
        eq.evaluate(G, device="bogus", progress=False)
    with pytest.raises(ValueError, match=r"^device must be a torch\.device or a device string, "
                                         r"got 'cuda:x'$"):
        eq.oriented_bandlimit_filter(np.eye(2), device="cuda:x")
    # 10**400 is no float: Python's bare OverflowError named nothing
    with pytest.raises(ValueError, match=r"^max_val must be a finite real number, got 1\.000e\+400 "
                                         r"\(an int of 401 digits\)"):
        eq.psnr(x, x, max_val=10**400)
    with pytest.raises(ValueError, match=r"^angle must be a finite real number, got -1\.000e\+400"):
        eq.rotate(x, -(10**400))
    with pytest.raises(ValueError, match=r"^shift\[0\] must be a finite real number, got "
                                         r"1\.000e\+400"):
        eq.translate_fractional(x, (10**400, 0))


def test_the_meta_device():
    """A meta tensor has no values: psnr said 'Tensor.item() cannot be called on meta tensors';
    a filter designed for the meta device has the right shape."""
    meta = torch.ones(3, device="meta")
    with pytest.raises(ValueError, match=r"^ref must hold values to compare, got a tensor on the "
                                         r"meta device$"):
        eq.psnr(meta, torch.zeros(3, device="meta"))
    with pytest.raises(ValueError, match=r"^mask must hold values to compare"):
        eq.psnr(torch.zeros(3), torch.zeros(3), meta)
    with pytest.raises(ValueError, match=r"^matrix must hold its values, got a tensor on the "
                                         r"meta device$"):
        eq.oriented_bandlimit_filter(torch.eye(2, device="meta"))
    f = eq.oriented_bandlimit_filter(eq.rotation_matrix(0.3), up=2, device="meta")
    assert f.is_meta and f.shape == (23, 23)


# ---------------------------------------------------------------------------------------------
# Under a default device and dtype (torch.set_default_device / set_default_dtype)

_IMAGES = torch.randn(2, 2, 24, 24, generator=torch.Generator().manual_seed(0))
_IMAGES64 = _IMAGES.double()
_UNDER_DEFAULTS = {
    "translate_integer": lambda: eq.translate_integer(_IMAGES, (2, -1)),
    "translate_fractional": lambda: eq.translate_fractional(_IMAGES, (0.3, -1.2)),
    "translate_fractional float64": lambda: eq.translate_fractional(_IMAGES64, (-2.6, 0.7)),
    "rotate": lambda: eq.rotate(_IMAGES, 0.3),
    "rotate float64": lambda: eq.rotate(_IMAGES64, -1.1, up=2),
    "pseudo_rotate": lambda: eq.pseudo_rotate(_IMAGES, 0.3),
    "lanczos_kernel": lambda: (eq.lanczos_kernel(0.5), eq.lanczos_kernel(np.array([0.2, 2.5]))),
    "lanczos_shift_weights": lambda: eq.lanczos_shift_weights(0.3),
    "rotation_matrix": lambda: eq.rotation_matrix(0.3),
    "translation_transform": lambda: eq.translation_transform((0.1, -0.2)),
    "rotation_transform": lambda: eq.rotation_transform(0.3),
    "oriented_bandlimit_filter": lambda: (
        eq.oriented_bandlimit_filter([[0.9, 0.3], [-0.3, 0.9]], up=2),
        eq.oriented_bandlimit_filter(np.eye(2), dtype=torch.float64),
        eq.oriented_bandlimit_filter(_IMAGES[0, 0, :2, :2])),
    "psnr": lambda: eq.psnr(_IMAGES, _IMAGES + 0.01, (_IMAGES > 0).float()),
    "PSNRAccumulator": lambda: _accumulate(_IMAGES, _IMAGES64 * 1.01),
}


def _accumulate(ref, img):
    acc = eq.PSNRAccumulator()
    acc.update(ref, img)
    acc.update(ref, img, (ref > 0).float())
    return acc.sums, acc.psnr


@pytest.mark.parametrize("name", list(_UNDER_DEFAULTS))
def test_building_blocks_do_not_depend_on_the_default_device_and_dtype(name):
    """Results stay on the input's device and dtype (constructors: on the CPU, in their dtype)
    with the same values: tensors made without a device went to the default device (a 'meta'
    default: meta results, or 'Cannot copy out of meta tensor')."""
    fn = _UNDER_DEFAULTS[name]
    assert_identical(under_default_device_and_dtype(fn), fn())


def test_all_reduce_of_an_empty_accumulator_under_a_default_device(monkeypatch):
    """A rank without a batch all-reduces zeros made on the CPU, not on the default device."""
    seen = []
    monkeypatch.setattr(eq, "_dist_info", lambda: (1, 2))
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a, **k: "gloo")
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda t, op=None: seen.append(t))
    acc = eq.PSNRAccumulator()
    under_default_device_and_dtype(acc.all_reduce)
    assert len(seen) == 1 and seen[0] is acc.sums
    assert_identical(acc.sums, torch.zeros(2, dtype=torch.float64))


# ---------------------------------------------------------------------------------------------
# The paper's central claim on the reference generator (examples/afgan)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def afgan_networks():
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    from afgan import networks

    return networks


def small_T(networks, lrelu_upsampling):
    torch.manual_seed(0)
    return networks.Generator(z_dim=64, c_dim=0, w_dim=64, img_resolution=64, img_channels=3,
                              channel_base=1024, channel_max=32, lrelu_upsampling=lrelu_upsampling)


# Two explicit batches with clearly non-zero translations (whole pixels: EQ-T is exact for a
# perfectly equivariant generator).
def claim_draws(z_dim):
    g = torch.Generator().manual_seed(0)
    return [
        eq.BatchDraws(z=torch.randn(4, z_dim, generator=g), c=torch.zeros(4, 0),
                      translate_int=t, translate_frac=tf, angle=a)
        for t, tf, a in [((5 / 64, -3 / 64), (0.0413, -0.0671), 0.7),
                         ((-2 / 64, 7 / 64), (-0.0937, 0.0215), -2.1)]
    ]


def test_stylegan3_T_is_translation_equivariant_and_oversampling_is_why(afgan_networks):
    t0 = time.monotonic()
    G = small_T(afgan_networks, lrelu_upsampling=2)
    user = eq.translation_transform((0.01, 0.02)).float()
    G.synthesis.input.transform.copy_(user)
    draws = claim_draws(G.z_dim)
    good = eq.evaluate(G, draws=draws, progress=False)
    torch.testing.assert_close(G.synthesis.input.transform, user, rtol=0, atol=0)
    G1 = small_T(afgan_networks, lrelu_upsampling=1)
    bad = eq.evaluate(G1, draws=draws, metrics=("eqt_int",), progress=False)
    print(f"EQ-T random-init T 64²: lrelu_upsampling=2 {good}, =1 {bad}, "
          f"{time.monotonic() - t0:.1f} s")
    assert good["eqt_int"] > 60
    assert good["eqt_frac"] > 45
    assert bad["eqt_int"] < good["eqt_int"] - 10
    # Config T is not built for rotations (paper: EQ-R 13 dB trained); the metric must see that.
    assert 5 < good["eqr"] < good["eqt_int"] - 20


# ---------------------------------------------------------------------------------------------
# Robustness (fuzzing review): reduced precision, non-finite output, degenerate arguments


@pytest.mark.parametrize("dtype, tol", [(torch.float16, 4e-3), (torch.bfloat16, 3e-2)])
@pytest.mark.parametrize("angle", [0.3, -1.1, 2.6])
def test_rotate_of_half_precision_images_matches_float32(dtype, tol, angle):
    # CPU grid_sample in half precision returns garbage for rotated grids: rotate must compute
    # in float32 and round the result, so it agrees with the float32 rotation of the same input.
    torch.manual_seed(0)
    x = (torch.rand(2, 1, 40, 40) * 2 - 1).to(dtype)
    y, m = eq.rotate(x, angle)
    y32, m32 = eq.rotate(x.float(), angle)
    assert y.dtype == dtype and m.dtype == dtype
    assert bool(torch.isfinite(y).all()) and bool(torch.isfinite(m).all())
    assert torch.equal(m.float(), m32)
    torch.testing.assert_close(y.float(), y32, rtol=0, atol=tol)


class _Poke(nn.Module):
    """Wraps a synthesis network and writes ``value`` into pixel (0, 0) of call number ``call``."""

    def __init__(self, inner, call, value, count=1):
        super().__init__()
        self.inner, self.input, self.call, self.value, self.count = (
            inner, inner.input, call, value, count)
        self.calls = 0

    def forward(self, ws, **kwargs):
        self.calls += 1
        y = self.inner(ws, **kwargs)
        if self.calls == self.call:
            y = y.clone()
            y.view(-1)[: self.count] = self.value
        return y


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_evaluate_refuses_non_finite_generator_output(value):
    G = AnalyticGenerator()
    G.synthesis = _Poke(G.synthesis, call=1, value=value)  # a corner pixel, outside most masks
    with pytest.raises(eq.NonFiniteImagesError,
                       match=r"1 non-finite value .* batch 0 \(the untransformed image\)"):
        eq.evaluate(G, num_samples=8, batch_size=4, progress=False)
    assert issubclass(eq.NonFiniteImagesError, ValueError)
    assert "NonFiniteImagesError" in eq.__all__


@pytest.mark.parametrize("call, metrics, what", [
    (6, eq.METRICS, r"batch 1 \(the integer-translated image, eqt_int\)"),
    (3, eq.METRICS, r"batch 0 \(the fractionally translated image, eqt_frac\)"),
    (2, ("eqr",), r"batch 0 \(the rotated image, eqr\)"),
])
def test_non_finite_output_names_the_batch_and_the_synthesis_call(call, metrics, what):
    G = AnalyticGenerator()
    G.synthesis = _Poke(G.synthesis, call=call, value=math.nan, count=3)
    with pytest.raises(eq.NonFiniteImagesError, match="3 non-finite values .*" + what):
        eq.evaluate(G, num_samples=8, batch_size=4, metrics=metrics, progress=False)
    assert G.synthesis.calls == call  # stopped at once


def _two_rank_worker(rank, init_file, queue):
    """One of two gloo ranks: rank 1's generator writes a NaN in its first image."""
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        G = AnalyticGenerator()
        if rank == 1:
            G.synthesis = _Poke(G.synthesis, call=1, value=math.nan)
        try:
            eq.evaluate(G, num_samples=16, batch_size=4, progress=False)
            queue.put((rank, "no error"))
        except Exception as e:  # reported to the test process
            queue.put((rank, f"{type(e).__name__}: {e}"))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable")
def test_an_error_on_one_rank_is_raised_on_every_rank(tmp_path):
    """Rank 1 fails in its first batch; rank 0 must not wait forever in the all-reduce of the
    sums that rank 1 never reaches: both raise NonFiniteImagesError (two real gloo processes)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_two_rank_worker, args=(r, tmp_path / "init", queue))
             for r in range(2)]  # fmt: skip
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        p.kill()
    assert not hung, "a rank hung"
    got = dict(queue.get(timeout=10) for _ in procs)
    assert got[1].startswith("NonFiniteImagesError: G.synthesis output has 1 non-finite"), got
    assert got[0].startswith("NonFiniteImagesError: the generator wrote NaN or inf on another "
                             "rank"), got


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_psnr_rejects_non_finite_mask_weights(bad):
    x = torch.randn(1, 1, 4, 4)
    m = torch.ones_like(x)
    m[0, 0, 1, 2] = bad
    with pytest.raises(ValueError, match="mask must be finite"):
        eq.psnr(x, x + 1, m)
    with pytest.raises(ValueError, match="mask must be finite"):
        eq.PSNRAccumulator().update(x, x + 1, m)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["ref", "img"])
def test_psnr_rejects_non_finite_images_where_they_count(bad, name):
    torch.manual_seed(1)
    ref, img = torch.randn(2, 1, 6, 6), torch.randn(2, 1, 6, 6)
    mask = torch.ones(2, 1, 6, 6)
    mask[:, :, 0] = 0
    poked = {"ref": ref.clone(), "img": img.clone()}
    poked[name][1, 0, 3, 3] = bad  # a weighted element: the PSNR is undefined
    with pytest.raises(ValueError, match=f"{name} has 1 non-finite value"):
        eq.psnr(poked["ref"], poked["img"], mask)
    with pytest.raises(ValueError, match=f"{name} has 1 non-finite value"):
        eq.psnr(poked["ref"], poked["img"])
    # A zero weight excludes an element, whatever its value (0·NaN must not poison the sums).
    poked = {"ref": ref.clone(), "img": img.clone()}
    poked[name][1, 0, 0, 3] = bad
    assert eq.psnr(poked["ref"], poked["img"], mask) == eq.psnr(ref, img, mask)


@pytest.mark.parametrize("wrap, error, match", [
    (lambda y: (y, None), TypeError, r"G\.synthesis output must be a torch\.Tensor .* tuple"),
    (lambda y: (y * 100).to(torch.int32), TypeError, r"G\.synthesis output .* torch\.int32"),
    (lambda y: y > 0, TypeError, r"G\.synthesis output .* torch\.bool"),
    (lambda y: y[0], ValueError, r"G\.synthesis output must have shape \[N, C, H, W\]"),
])
def test_raw_synthesis_output_is_checked_before_conversion(wrap, error, match):
    G = AnalyticGenerator()
    inner = G.synthesis

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.input = inner, inner.input

        def forward(self, ws, **kwargs):
            return wrap(self.inner(ws, **kwargs))

    G.synthesis = Wrapped()
    with pytest.raises(error, match=match):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)


def test_synthesis_output_shape_must_not_change_with_the_transform():
    G = AnalyticGenerator()
    inner = G.synthesis

    class Cropping(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner, self.input, self.calls = inner, inner.input, 0

        def forward(self, ws, **kwargs):
            self.calls += 1
            y = self.inner(ws, **kwargs)
            return y if self.calls == 1 else y[..., 1:]

    G.synthesis = Cropping()
    with pytest.raises(ValueError, match=r"shape .* untransformed image"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(G=AnalyticGenerator(res=9)), r"eqr .* 9x9 image is too small"),
    (dict(G=AnalyticGenerator(), translate_max=5, metrics=("eqt_int",)),
     r"eqt_int .* beyond the 32x32 image"),
    (dict(G=AnalyticGenerator(), translate_max=5, metrics=("eqt_frac",)),
     r"eqt_frac .* beyond the 32x32 image"),
])
def test_a_metric_without_valid_pixels_is_named_after_the_first_batch(kwargs, match):
    G = kwargs.pop("G")
    with pytest.raises(ValueError, match=match):
        eq.evaluate(G, num_samples=40, batch_size=4, progress=False, **kwargs)
    assert G.synthesis.calls <= 4  # the first batch, not the whole run


@pytest.mark.parametrize("name", ["translate_max", "rotate_max"])
@pytest.mark.parametrize("value", [0, -0.125, 0.0])
def test_translate_max_and_rotate_max_must_be_positive(name, value):
    G = AnalyticGenerator(sticking=0.3)
    with pytest.raises(ValueError, match=f"{name} must be > 0"):
        eq.evaluate(G, num_samples=8, batch_size=4, progress=False, **{name: value})
    with pytest.raises(ValueError, match=f"{name} must be > 0"):
        eq.draw_batch(0, 4, 8, **{name: value})
    assert G.synthesis.calls == 0


def test_translate_max_below_half_a_pixel_is_refused_for_eqt_int():
    # |t·res| < 0.5 for every draw: every integer shift rounds to 0 and EQ-T would read ∞.
    G = AnalyticGenerator(res=32, sticking=0.3)
    for tmax in (0.25 / 32, 0.5 / 32):
        with pytest.raises(ValueError, match=r"translate_max=.* every integer shift .* round to 0"):
            eq.evaluate(G, num_samples=8, batch_size=4, translate_max=tmax, progress=False)
    assert G.synthesis.calls == 0
    r = eq.evaluate(G, num_samples=8, batch_size=4, translate_max=0.25 / 32,
                    metrics=("eqt_frac",), progress=False)
    assert r["eqt_frac"] < 40  # sub-pixel shifts still expose the sticking pattern
    r = eq.evaluate(G, num_samples=8, batch_size=4, translate_max=2 / 32, metrics=("eqt_int",),
                    progress=False)
    assert r["eqt_int"] < 40


@pytest.mark.parametrize("shift", [(2**80, 0), (1e300, 0), (0, -(2**80)), (-1e300, 5)])
def test_translate_integer_far_beyond_the_image_gives_zeros_and_an_empty_mask(shift):
    x = torch.randn(1, 1, 8, 8)
    y, m = eq.translate_integer(x, shift)
    assert y.shape == m.shape == x.shape and not y.any() and not m.any()


@pytest.mark.parametrize("shape", [(0, 1, 16, 16), (1, 0, 16, 16), (1, 1, 0, 16), (2, 1, 16, 0)])
@pytest.mark.parametrize("fn", [eq.rotate, eq.pseudo_rotate])
def test_rotations_of_empty_inputs_are_empty(fn, shape):
    x = torch.randn(shape, dtype=torch.float64)
    y, m = fn(x, 0.3)
    assert y.shape == m.shape == x.shape and y.dtype == m.dtype == x.dtype


@pytest.mark.parametrize("fn", [eq.rotate, eq.pseudo_rotate])
def test_rotation_filter_order_names_a_and_its_range(fn):
    x = torch.randn(1, 1, 16, 16)
    with pytest.raises(ValueError, match=r"^a must be an int in \[1, 32\]") as info:
        fn(x, 0.3, a=40)
    assert "aflt" not in str(info.value)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64, "float32"])
def test_filter_dtype_must_be_a_real_float_dtype(dtype):
    with pytest.raises(TypeError, match="dtype must be a"):
        eq.oriented_bandlimit_filter(torch.eye(2), dtype=dtype)


@pytest.mark.parametrize("metrics", [None, 3, [1]])
def test_metrics_of_the_wrong_type_name_the_valid_names(metrics):
    with pytest.raises((TypeError, ValueError), match=r"metrics .*'eqt_int', 'eqt_frac', 'eqr'"):
        eq.evaluate(AnalyticGenerator(), metrics=metrics, progress=False)


def _draws(**changes):
    d = eq.draw_batch(0, 4, 12)
    fields = dict(z=d.z, c=d.c, translate_int=d.translate_int, translate_frac=d.translate_frac,
                  angle=d.angle)
    fields.update(changes)
    return eq.BatchDraws(**fields)


@pytest.mark.parametrize("changes, error, match", [
    (dict(z=np.zeros((4, 12), np.float32)), TypeError, r"draws\[1\]\.z must be a torch\.Tensor"),
    (dict(z=torch.zeros(4, 5)), ValueError, r"draws\[1\]\.z must have shape \[N, z_dim=12\]"),
    (dict(z=torch.zeros(4, 12, 1)), ValueError, r"draws\[1\]\.z must have shape"),
    (dict(z=torch.zeros(0, 12), c=torch.zeros(0, 0)), ValueError, r"draws\[1\]\.z .* N >= 1"),
    (dict(z=torch.zeros(4, 12, dtype=torch.int64)), TypeError, r"draws\[1\]\.z .* floating"),
    (dict(z=torch.full((4, 12), math.nan)), ValueError, r"draws\[1\]\.z must be finite"),
    (dict(c=torch.zeros(3, 0)), ValueError, r"draws\[1\]\.c must have shape \[4, c_dim=0\]"),
    (dict(c=[[0.0]] * 4), TypeError, r"draws\[1\]\.c must be a torch\.Tensor"),
    (dict(translate_int=(0.1,)), ValueError, r"draws\[1\]\.translate_int must be \(dx, dy\)"),
    (dict(translate_frac=(0.1, math.inf)), ValueError, r"draws\[1\]\.translate_frac\[1\]"),
    (dict(angle="0.3"), TypeError, r"draws\[1\]\.angle must be a real number"),
])
def test_explicit_draws_are_validated_before_the_run(changes, error, match):
    G = AnalyticGenerator()
    with pytest.raises(error, match=match):
        eq.evaluate(G, draws=[_draws(), _draws(**changes)], progress=False)
    assert G.synthesis.calls == 0


def test_explicit_draws_accept_integer_labels():
    G = AnalyticGenerator(c_dim=3)
    d = _draws(c=torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0]), 3))  # int64
    r = eq.evaluate(G, draws=[d], metrics=("eqt_int",), progress=False)
    assert r["eqt_int"] > 100


def test_evaluate_refuses_images_the_metrics_do_not_define():
    """A non-square output, or an output whose width is not G.img_resolution, gave wrong numbers
    silently: integer shifts were snapped to img_resolution's pixels, then truncated to the
    output's (an exactly equivariant generator rendering 32 px with img_resolution 64 scored
    eqt_int ≈ 46 dB, not inf)."""
    G = AnalyticGenerator(res=32)
    G.img_resolution = 64
    with pytest.raises(ValueError, match=r"^G\.img_resolution = 64 but G\.synthesis makes 32x32 "
                                         r"images: .*set img_resolution to the output's size"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)
    G.img_resolution = 32
    assert eq.evaluate(G, metrics=("eqt_int",), num_samples=4, batch_size=4,
                       progress=False)["eqt_int"] > 100
    G.synthesis.forward = lambda ws, force_fp32=False: torch.zeros(len(ws), 2, 24, 32)
    with pytest.raises(ValueError, match=r"^G\.synthesis must make square images for the "
                                         r"equivariance metrics .* got 24x32"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)


def test_evaluate_takes_the_cpu_by_any_name_and_explains_force_fp32():
    """device='cpu:0' was refused ("G is on cpu but device=cpu:0; move G first", which G.to
    cannot fix); a synthesis network without StyleGAN3's force_fp32 argument failed with a
    bare TypeError."""
    G = AnalyticGenerator()
    r = eq.evaluate(G, metrics=("eqt_int",), num_samples=4, batch_size=4, device="cpu:0",
                    progress=False)
    assert r["eqt_int"] > 100
    plain = G.synthesis.forward
    G.synthesis.forward = lambda ws: plain(ws)
    with pytest.raises(TypeError, match=r"force_fp32 is the default synthesis_kwargs .* pass "
                                        r"synthesis_kwargs=\{\} for one that does not"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)
    r = eq.evaluate(G, metrics=("eqt_int",), num_samples=4, batch_size=4,
                    synthesis_kwargs={}, progress=False)
    assert r["eqt_int"] > 100


def test_a_half_precision_transform_buffer_is_refused():
    """Written in bfloat16, a fractional shift or a rotation's cos/sin was rounded while the
    reference images used the exact values: an equivariant generator scored 42 dB for 66."""
    G = AnalyticGenerator()
    G.synthesis.input.transform = G.synthesis.input.transform.bfloat16()
    with pytest.raises(ValueError, match=r"G.synthesis.input.transform must be float32 or "
                       r"float64, got torch.bfloat16"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)


class _Float64Mapping(nn.Module):
    def __init__(self, z_dim):
        super().__init__()
        self.linear = nn.Linear(z_dim, z_dim).double()
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(z_dim))
            self.linear.bias.zero_()

    def forward(self, z, c):
        return self.linear(z)[:, None, :].repeat(1, 2, 1)


def test_a_float64_generator_gets_float64_latents():
    """z and c were cast to float32 whatever the generator: a float64 mapping network failed
    inside the user's code ("mat1 and mat2 must have the same dtype")."""
    G = AnalyticGenerator()
    G.mapping = _Float64Mapping(G.z_dim)
    r = eq.evaluate(G, num_samples=8, batch_size=4, progress=False)
    want = eq.evaluate(AnalyticGenerator(), num_samples=8, batch_size=4, progress=False)
    for m in r:
        assert abs(r[m] - want[m]) < 1e-3 or (math.isinf(r[m]) and math.isinf(want[m])), m


def test_a_model_that_is_not_a_generator_is_pointed_to_the_testing_assertions():
    """The metrics move a StyleGAN3 generator's input; another model (here a layer) gets a
    TypeError saying what is missing and where its test is."""
    with pytest.raises(TypeError, match=r"G must be a StyleGAN3-style generator with \.mapping "
                       r"and \.synthesis; Conv2d has no \.mapping; for a model without one .*"
                       r"bandlimit\.testing\.assert_translation_equivariant"):
        eq.evaluate(torch.nn.Conv2d(3, 3, 3), num_samples=4, batch_size=4, progress=False)
    G = AnalyticGenerator()
    del G.synthesis.input.transform
    with pytest.raises(TypeError, match=r"\[3, 3\] tensor buffer .* got NoneType; for a model "
                       r"without one"):
        eq.evaluate(G, num_samples=4, batch_size=4, progress=False)
