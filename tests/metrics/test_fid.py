"""bandlimit.metrics.fid: the Fréchet distance against independent references, the streaming
statistics against numpy, the cache files, the extractors, and fid()'s contract.

Independent references: ``scipy.linalg.sqrtm`` of ``Σ_a Σ_b`` (well-conditioned covariances);
for singular ones (fewer samples than features) the nuclear norm of ``L_bᵀ L_a`` where
``Σ = L Lᵀ`` with ``L`` the centred samples over ``√(n − 1)``: ``Σ_a^½ Σ_b Σ_a^½`` has the
eigenvalues of ``(L_bᵀ L_a)ᵀ (L_bᵀ L_a)``, so ``Tr (Σ_a Σ_b)^½`` is the sum of the singular values
of ``L_bᵀ L_a``. ``numpy.mean`` / ``numpy.cov`` of the concatenated samples.
"""

from __future__ import annotations

import itertools
import math
import sys
import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bandlimit.metrics import NonFiniteImagesError
from bandlimit.metrics import fid as fidmod
from bandlimit.metrics.fid import (
    FeatureStatistics,
    feature_statistics,
    fid,
    frechet_distance,
    inception_features,
    load_feature_extractor,
)

seeds = st.integers(0, 2**32 - 1)


def reference_fid(mu_a, s_a, mu_b, s_b):
    covmean = scipy.linalg.sqrtm(s_a @ s_b)
    d = mu_a - mu_b
    return float(d @ d + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean).real)


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def tiny_extractor(seed=0, dim=16):
    """A fixed random conv net, images [N, 3, H, W] → [N, dim]."""
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, dim, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    )  # fmt: skip
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net.eval().requires_grad_(False)


def uint8_images(seed, n, size=8, channels=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


class TinyGenerator(torch.nn.Module):
    """StyleGAN's interface G(z, c): images tanh(W z) [N, 3, 8, 8]."""

    def __init__(self, z_dim=4, shift=0.0):
        super().__init__()
        self.z_dim, self.c_dim, self.shift = z_dim, 0, shift
        g = torch.Generator().manual_seed(5)
        self.register_buffer("w", torch.randn(z_dim, 3 * 8 * 8, generator=g))

    def forward(self, z, c):
        assert c.shape == (z.shape[0], 0)
        return torch.tanh(z @ self.w + self.shift).reshape(-1, 3, 8, 8)


# ---------------------------------------------------------------------------------------------
# The distance against independent references


@given(d=st.integers(1, 12), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_frechet_distance_matches_scipy_sqrtm_on_random_spd_matrices(d, seed):
    rng = np.random.default_rng(seed)
    mu_a, mu_b = rng.normal(size=d), rng.normal(size=d)
    s_a, s_b = random_spd(rng, d), random_spd(rng, d)
    want = reference_fid(mu_a, s_a, mu_b, s_b)
    got = frechet_distance((mu_a, s_a), (mu_b, s_b))
    assert isinstance(got, float)
    scale = np.trace(s_a) + np.trace(s_b) + (mu_a - mu_b) @ (mu_a - mu_b)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-10 * scale)
    # symmetric in its arguments, and the same through tensors and through FeatureStatistics
    assert frechet_distance((mu_b, s_b), (mu_a, s_a)) == pytest.approx(got, rel=1e-9,
                                                                        abs=1e-10 * scale)
    t = (torch.from_numpy(mu_a), torch.from_numpy(s_a))
    assert frechet_distance(t, (mu_b.tolist(), s_b.tolist())) == pytest.approx(got, rel=1e-12)


@given(d=st.integers(2, 24), na=st.integers(2, 24), nb=st.integers(2, 24), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_singular_covariances_match_the_nuclear_norm_reference(d, na, nb, seed):
    """Fewer samples than features: singular covariances, where sqrtm is unreliable."""
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(na, d)) * rng.uniform(0.1, 3, size=d)
    xb = rng.normal(size=(nb, d)) + rng.normal(size=d)
    la = (xa - xa.mean(0)).T / math.sqrt(na - 1)  # Σ_a = L_a L_aᵀ
    lb = (xb - xb.mean(0)).T / math.sqrt(nb - 1)
    tr_root = np.linalg.svd(lb.T @ la, compute_uv=False).sum()
    dmu = xa.mean(0) - xb.mean(0)
    want = dmu @ dmu + (la**2).sum() + (lb**2).sum() - 2 * tr_root
    a, b = FeatureStatistics().update(xa), FeatureStatistics().update(xb)
    got = frechet_distance(a, b)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9 * (la**2).sum())


@given(d=st.integers(1, 40), n=st.integers(2, 60), seed=seeds)
@settings(max_examples=30, deadline=None)
def test_identical_statistics_give_zero(d, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * 10 + 3
    s = FeatureStatistics().update(x)
    assert 0.0 <= frechet_distance(s, s) <= 1e-8 * max(1.0, np.trace(s.covariance))
    # the same samples in another order and chunking: the same distribution
    t = FeatureStatistics().update(x[::-1][: n // 2]).update(x[::-1][n // 2 :])
    assert frechet_distance(s, t) <= 1e-8 * max(1.0, np.trace(s.covariance))


@given(d=st.integers(1, 16), seed=seeds)
@settings(max_examples=30, deadline=None)
def test_a_shift_of_the_mean_adds_exactly_its_squared_norm(d, seed):
    rng = np.random.default_rng(seed)
    s = random_spd(rng, d)
    mu, shift = rng.normal(size=d), rng.normal(size=d) * 5
    got = frechet_distance((mu, s), (mu + shift, s))
    want = float((mu + shift - mu) @ (mu + shift - mu))
    assert got == pytest.approx(want, rel=1e-10, abs=1e-10 * np.trace(s))


def test_known_closed_forms():
    # isotropic Gaussians: d·(σ_a − σ_b)² + ‖Δμ‖²
    d = 5
    got = frechet_distance((np.zeros(d), 4 * np.eye(d)), (np.full(d, 2.0), 9 * np.eye(d)))
    assert got == pytest.approx(d * (2 - 3) ** 2 + 4 * d, rel=1e-12)
    # disjoint supports: Σ_a Σ_b = 0, so FID = Tr Σ_a + Tr Σ_b
    s_a, s_b = np.diag([1.0, 2, 0, 0]), np.diag([0.0, 0, 3, 4])
    assert frechet_distance((np.zeros(4), s_a), (np.zeros(4), s_b)) == pytest.approx(10.0)


@pytest.mark.parametrize("lowest", [1e-6, 1e-12])
def test_ill_conditioned_covariances_in_many_dimensions_are_exact(lowest):
    """Commuting covariances U·diag(a)·Uᵀ, U·diag(b)·Uᵀ (D = 512, eigenvalues down to
    ``lowest`` of the largest) have FID Σ(√a − √b)² exactly: nothing is thresholded away
    (zeroing small eigenvalues of Σa^½ Σb Σa^½ biased such cases by 10x, and identical ones
    by 1e-6 of the trace)."""
    rng = np.random.default_rng(7)
    d = 512
    u, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a = np.logspace(0, np.log10(lowest), d)
    for b in (a, a * (1 + 1e-3), a[::-1]):
        s_a, s_b = (u * a) @ u.T, (u * b) @ u.T
        exact = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
        got = frechet_distance((np.zeros(d), (s_a + s_a.T) / 2), (np.zeros(d), (s_b + s_b.T) / 2))
        assert got == pytest.approx(exact, rel=1e-6, abs=1e-12 * a.sum())


def test_float32_statistics_of_another_tool_are_accepted():
    """A float32 (mu, sigma) (another tool's cache, fewer samples than features) is symmetric
    and positive semi-definite only to float32 rounding: accepted, and the same distance as
    its float64 original to float32 accuracy."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(300, 400)) @ rng.normal(size=(400, 400))
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    shift = np.full(400, 0.5)
    want = frechet_distance((mu, sigma), (mu + shift, sigma))
    got = frechet_distance((mu.astype(np.float32), sigma.astype(np.float32)),
                           (mu + shift, sigma))
    assert want == pytest.approx(100.0, rel=1e-6)
    assert got == pytest.approx(want, rel=1e-3, abs=1e-4 * np.trace(sigma))


# ---------------------------------------------------------------------------------------------
# Streaming statistics


chunkings = st.lists(st.integers(0, 9), min_size=1, max_size=8).filter(lambda c: sum(c) >= 2)


@given(sizes=chunkings, d=st.integers(1, 7), offset=st.sampled_from([0.0, 1e3, 1e6]),
       seed=seeds)  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_streaming_and_merged_statistics_equal_numpy_of_the_concatenation(sizes, d, offset, seed):
    """Offsets far above the spread: a Σxxᵀ − nμμᵀ accumulator would lose the covariance."""
    rng = np.random.default_rng(seed)
    chunks = [rng.normal(size=(n, d)) * rng.uniform(0.5, 2) + offset for n in sizes]
    x = np.concatenate(chunks)
    want_mean, want_cov = x.mean(0), np.cov(x.T).reshape(d, d)
    tol = dict(rtol=1e-9, atol=1e-9 * max(1.0, offset))

    streamed = FeatureStatistics()
    for i, c in enumerate(chunks):
        streamed.update(torch.from_numpy(c) if i % 2 else c)  # tensors and arrays
    assert streamed.count == len(x) and streamed.dim == d
    np.testing.assert_allclose(streamed.mean, want_mean, **tol)
    np.testing.assert_allclose(streamed.covariance, want_cov, rtol=1e-7, atol=1e-9)

    # merged: one object per chunk, combined as a tree (the order ranks would merge in)
    parts = [FeatureStatistics(d).update(torch.from_numpy(c)) for c in chunks]
    while len(parts) > 1:
        parts = [parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]  # fmt: skip
    merged = parts[0]
    np.testing.assert_allclose(merged.mean, want_mean, **tol)
    np.testing.assert_allclose(merged.covariance, want_cov, rtol=1e-7, atol=1e-9)
    assert np.array_equal(merged.covariance, merged.covariance.T)
    # the flat-tensor form carries everything
    back = FeatureStatistics.from_tensor(merged.to_tensor())
    assert back.count == merged.count
    assert np.array_equal(back.mean, merged.mean)
    assert np.array_equal(back.covariance, merged.covariance)


def test_merge_leaves_the_other_alone_and_handles_empty_sides():
    rng = np.random.default_rng(0)
    a, b = FeatureStatistics().update(rng.normal(size=(5, 3))), FeatureStatistics(3)
    before = a.to_tensor().clone()
    assert b.merge(a) is b and torch.equal(a.to_tensor(), before)
    assert torch.equal(b.to_tensor(), before)
    assert torch.equal(a.merge(FeatureStatistics()).to_tensor(), before)
    assert a.update(np.zeros((0, 3))).count == 5  # an empty batch adds nothing


def test_save_load_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(1)
    s = FeatureStatistics(metadata={"extractor": "tiny", "dataset": "shapes"})
    s.update(rng.normal(size=(37, 6)) + 100)
    path = tmp_path / "reals.npz"
    s.save(path)
    t = FeatureStatistics.load(path)
    assert (t.count, t.dim, t.metadata) == (37, 6, {"extractor": "tiny", "dataset": "shapes"})
    assert np.array_equal(t.mean, s.mean) and np.array_equal(t.covariance, s.covariance)
    assert frechet_distance(s, t) == 0.0
    # still mergeable after loading
    more = rng.normal(size=(4, 6))
    assert t.update(more).count == 41
    # exactly the path given (np.savez alone would append .npz)
    other = tmp_path / "stats.cache"
    s.save(other)
    assert other.is_file() and FeatureStatistics.load(str(other)).count == 37
    # statistics with a dimension but no data round-trip too
    FeatureStatistics(4).save(tmp_path / "empty.npz")
    assert FeatureStatistics.load(tmp_path / "empty.npz").dim == 4


def test_load_rejects_other_files_with_the_path_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        FeatureStatistics.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "mu_sigma.npz", mu=np.zeros(3), sigma=np.eye(3))
    with pytest.raises(ValueError, match=r"mu_sigma\.npz' is not a FeatureStatistics \.npz file"):
        FeatureStatistics.load(tmp_path / "mu_sigma.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"junk\.npz' is not a FeatureStatistics"):
        FeatureStatistics.load(tmp_path / "junk.npz")
    good = FeatureStatistics().update(np.random.default_rng(0).normal(size=(3, 2)))
    good.save(tmp_path / "good.npz")
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])  # (an interrupted copy)
    with pytest.raises(ValueError, match=r"cut\.npz' is not a FeatureStatistics"):
        FeatureStatistics.load(tmp_path / "cut.npz")
    with np.load(tmp_path / "good.npz") as z:
        data = dict(z)
    data["m2"] = np.zeros((3, 3))
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(ValueError, match=r"bad\.npz': inconsistent FeatureStatistics"):
        FeatureStatistics.load(tmp_path / "bad.npz")


def test_bad_input_is_named():
    s = FeatureStatistics()
    with pytest.raises(ValueError, match=r"features must have shape \[N, D\] \(2 dimensions\)"):
        s.update(np.zeros(4))
    with pytest.raises(ValueError, match=r"features must have shape \[N, D\]"):
        s.update(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match=r"features must be a torch\.Tensor or numpy array"):
        s.update([[1.0, 2.0]])
    with pytest.raises(TypeError, match="features must hold real numbers"):
        s.update(torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="features must hold real numbers"):
        s.update(np.zeros((2, 3), dtype=complex))
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="features has 1 non-finite value"):
        s.update(bad)
    assert s.count == 0 and s.dim is None  # nothing half-added
    s.update(np.ones((1, 2)))
    with pytest.raises(ValueError, match="features has 3 features per sample but these "
                                         "statistics have 2"):
        s.update(np.ones((2, 3)))
    with pytest.raises(ValueError, match="covariance needs at least 2 samples, these statistics "
                                         "have 1"):
        _ = s.covariance
    with pytest.raises(ValueError, match="mean needs at least 1 sample"):
        _ = FeatureStatistics(2).mean
    with pytest.raises(ValueError, match="other has 3 features per sample"):
        s.merge(FeatureStatistics(3))
    with pytest.raises(TypeError, match="other must be a FeatureStatistics"):
        s.merge((np.zeros(2), np.eye(2)))
    with pytest.raises(ValueError, match="dim must be an int >= 1"):
        FeatureStatistics(0)
    with pytest.raises(TypeError, match="metadata must be a mapping of str to str"):
        FeatureStatistics(metadata={"n": 3})
    with pytest.raises(ValueError, match=r"tensor must have 1 \+ D \+ D² elements"):
        FeatureStatistics.from_tensor(torch.zeros(5))
    with pytest.raises(ValueError, match="nothing to save"):
        FeatureStatistics().save("unused.npz")


def test_frechet_distance_bad_input_is_named():
    eye = np.eye(3)
    with pytest.raises(ValueError, match="a and b must have the same dimension, got 3 and 2"):
        frechet_distance((np.zeros(3), eye), (np.zeros(2), np.eye(2)))
    with pytest.raises(ValueError, match=r"b's sigma must have shape \[D, D\] = \(3, 3\)"):
        frechet_distance((np.zeros(3), eye), (np.zeros(3), np.eye(2)))
    with pytest.raises(ValueError, match="a's sigma must be symmetric"):
        frechet_distance((np.zeros(3), np.triu(np.ones((3, 3)))), (np.zeros(3), eye))
    with pytest.raises(ValueError, match="a's covariance is not positive semi-definite"):
        frechet_distance((np.zeros(3), -eye), (np.zeros(3), eye))
    with pytest.raises(ValueError, match="b's covariance is not positive semi-definite"):
        frechet_distance((np.zeros(3), eye), (np.zeros(3), np.diag([1.0, 1, -1])))
    with pytest.raises(ValueError, match="a's mu holds NaN or inf"):
        frechet_distance((np.array([np.nan, 0, 0]), eye), (np.zeros(3), eye))
    with pytest.raises(TypeError, match="b must be a FeatureStatistics or a"):
        frechet_distance((np.zeros(3), eye), np.zeros(3))
    one = FeatureStatistics().update(np.ones((1, 3)))
    with pytest.raises(ValueError, match="b: the covariance needs at least 2 samples"):
        frechet_distance((np.zeros(3), eye), one)


# ---------------------------------------------------------------------------------------------
# fid() and feature_statistics() with a small deterministic extractor


def test_a_generator_of_the_real_images_scores_zero():
    real = uint8_images(0, 48)
    feats = tiny_extractor()
    served = iter((real.float() / 127.5 - 1).split(8))
    score = fid(lambda n: next(served), [real[:20], real[20:]], feats, num_fake=48, batch_size=8)
    assert 0.0 <= score < 1e-8
    # the reals' statistics as a cache give the same
    stats = feature_statistics(real.split(16), feats)
    served = iter((real.float() / 127.5 - 1).split(8))
    assert fid(lambda n: next(served), stats, feats, num_fake=48, batch_size=8) < 1e-8


def test_fid_is_deterministic_leaves_the_rng_alone_and_depends_on_the_seed():
    feats, G = tiny_extractor(), TinyGenerator()
    reals = [uint8_images(k, 16) for k in range(3)]
    state = torch.get_rng_state()
    a = fid(G, reals, feats, num_fake=40, batch_size=16, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    assert a == fid(G, reals, feats, num_fake=40, batch_size=16, seed=3)
    assert a != fid(G, reals, feats, num_fake=40, batch_size=16, seed=4)
    assert math.isfinite(a) and a > 0
    # a callable drawing from the global RNG is seeded the same way
    called = fid(lambda n: G(torch.randn(n, 4), torch.zeros(n, 0)), reals, feats, num_fake=40,
                 batch_size=16, seed=3)  # fmt: skip
    assert called == a
    # moving the generator's images away from the data raises the score
    assert fid(TinyGenerator(shift=2.0), reals, feats, num_fake=40, batch_size=16, seed=3) > a


def test_quantize_rounds_generated_images_to_8_bit_levels():
    seen = []

    def record(x):
        seen.append(x.clone())
        return x.mean((2, 3))

    gen = lambda n: torch.linspace(-1.5, 1.5, n * 3 * 4).reshape(n, 3, 2, 2)  # noqa: E731
    fid(gen, [torch.zeros(4, 3, 2, 2), torch.ones(4, 3, 2, 2)], record, num_fake=4, batch_size=4)
    fake = seen[-1]
    assert fake.min() == -1 and fake.max() == 1  # clamped
    levels = (fake + 1) * 127.5
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    seen.clear()
    fid(gen, [torch.zeros(4, 3, 2, 2), torch.ones(4, 3, 2, 2)], record, num_fake=4, batch_size=4,
        quantize=False)  # fmt: skip
    assert seen[-1].max() == 1.5


def test_uint8_grayscale_and_loader_tuples_are_read_as_rgb_in_minus_one_to_one():
    feats = tiny_extractor()
    gray = uint8_images(2, 10, channels=1)
    rgb = (gray.float() / 127.5 - 1).expand(-1, 3, -1, -1)
    a = feature_statistics([(gray, torch.zeros(10))], feats)
    b = feature_statistics([rgb.numpy()], feats)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-6)
    np.testing.assert_allclose(a.covariance, b.covariance, rtol=1e-5, atol=1e-9)


def test_max_real_cuts_an_endless_loader():
    feats = tiny_extractor()
    batches = [uint8_images(k, 6) for k in range(3)]
    endless = itertools.cycle(batches)
    s = feature_statistics(endless, feats, max_images=10)
    want = feature_statistics([batches[0], batches[1][:4]], feats)
    assert s.count == 10
    np.testing.assert_allclose(s.covariance, want.covariance, rtol=1e-12)
    score = fid(TinyGenerator(), itertools.cycle(batches), feats, num_fake=8, batch_size=4,
                max_real=10)  # fmt: skip
    assert score == pytest.approx(fid(TinyGenerator(), want, feats, num_fake=8, batch_size=4),
                                  rel=1e-12)


def test_fid_bad_input_is_named():
    feats, G = tiny_extractor(), TinyGenerator()
    reals = [uint8_images(0, 8)]
    with pytest.raises(ValueError, match="num_fake must be an int >= 2"):
        fid(G, reals, feats, num_fake=1)
    with pytest.raises(TypeError, match="features must be a callable"):
        fid(G, reals, "inception", num_fake=4)
    with pytest.raises(TypeError, match="generate must be a callable"):
        fid(3, reals, feats, num_fake=4)
    with pytest.raises(NonFiniteImagesError, match="generated batch 1 has 384 non-finite"):
        fid(lambda n: torch.full((n, 3, 8, 8), math.nan) if n == 2 else torch.zeros(n, 3, 8, 8),
            reals, feats, num_fake=6, batch_size=4)  # fmt: skip
    with pytest.raises(ValueError, match=r"feature extractor must map 8 images to features "
                                         r"\[8, D\], got shape \(8, 16, 2\) for batch 0"):
        fid(G, reals, lambda x: torch.zeros(x.shape[0], 16, 2), num_fake=4)
    with pytest.raises(ValueError, match=r"real statistics have 3 features per sample but the "
                                         r"extractor gives 16"):
        fid(G, FeatureStatistics().update(np.ones((5, 3))), feats, num_fake=4)
    with pytest.raises(TypeError, match=r"real looks like a \(mu, sigma\) pair"):
        fid(G, (np.zeros(16), np.eye(16)), feats, num_fake=4)
    with pytest.raises(ValueError, match=r"batch 0 must have 1 \(grayscale\) or 3 \(RGB\) "):
        feature_statistics([torch.zeros(2, 4, 8, 8)], feats)
    with pytest.raises(TypeError, match="wrap a single batch in a list"):
        feature_statistics(torch.zeros(2, 3, 8, 8), feats)
    with pytest.raises(ValueError, match="batches held no images"):
        feature_statistics([], feats)
    with pytest.raises(ValueError, match="conditional generator"):
        cond = TinyGenerator()
        cond.c_dim = 2
        fid(cond, reals, feats, num_fake=4)


# ---------------------------------------------------------------------------------------------
# Extractors from files


def test_torchscript_and_export_files_load_as_extractors(tmp_path):
    net = tiny_extractor(seed=7)
    x = uint8_images(3, 5).float() / 127.5 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # (TorchScript's deprecation)
        torch.jit.save(torch.jit.script(net), tmp_path / "extractor.pt")
    loaded = load_feature_extractor(tmp_path / "extractor.pt")
    assert torch.equal(loaded(x), net(x))
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(net, (x[:2],), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "extractor.pt2")
    exported = load_feature_extractor(str(tmp_path / "extractor.pt2"))
    torch.testing.assert_close(exported(x), net(x))
    reals = [uint8_images(0, 12)]
    assert fid(TinyGenerator(), reals, loaded, num_fake=8, batch_size=4) == \
        fid(TinyGenerator(), reals, net, num_fake=8, batch_size=4)  # fmt: skip


def test_extractor_files_that_cannot_be_used_say_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pt': no such file"):
        load_feature_extractor(tmp_path / "missing.pt")
    torch.save(tiny_extractor().state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="cannot be loaded as a TorchScript module"):
        load_feature_extractor(tmp_path / "weights.pt")
    (tmp_path / "junk.pt2").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"cannot be loaded as a torch\.export program"):
        load_feature_extractor(tmp_path / "junk.pt2")


def test_inception_without_torchvision_or_without_cached_weights_says_how(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # (an import then raises ImportError)
    with pytest.raises(ImportError, match=r"needs torchvision.*TorchScript file"):
        inception_features(None)
    with pytest.raises(ImportError, match="needs torchvision"):
        load_feature_extractor("torchvision")


def test_inception_weights_are_never_downloaded(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: pytest.fail("tried to download"))  # fmt: skip
    with pytest.raises(FileNotFoundError, match=r"not in the torch hub cache .*never downloads.*"
                                                r"inception_v3_google-.*\.pth"):
        inception_features()
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_feature_extractor("torchvision")
    with pytest.raises(FileNotFoundError, match=r"nothing\.pth': no such file"):
        inception_features(tmp_path / "nothing.pth")
    with pytest.raises(ValueError, match="weights must be 'DEFAULT', 'IMAGENET1K_V1'"):
        inception_features("IMAGENET1K_V2")


def test_inception_with_random_weights_gives_pool3_features_and_a_finite_fid(tmp_path):
    """Two forward passes in all (each image is resized to 299²: seconds on a CPU)."""
    pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = inception_features(weights=None)
    net.train()  # stays in evaluation mode: a fixed extractor
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    seen = []

    def extract(x):
        seen.append(net(x))
        return seen[-1]

    score = fid(lambda n: torch.rand(n, 3, 32, 32) * 2 - 1, [uint8_images(1, 2, size=32)],
                extract, num_fake=2, batch_size=2)  # fmt: skip
    assert math.isfinite(score) and score >= 0
    for f in seen:
        assert f.shape == (2, fidmod.INCEPTION_DIM) and f.dtype == torch.float32
        assert torch.isfinite(f).all() and (f >= 0).all()  # (after a ReLU and an average)
    # scripted and saved, it is a TorchScript extractor for machines without torchvision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # (TorchScript's deprecation)
        torch.jit.save(torch.jit.script(net), tmp_path / "inception.pt")
    scripted = load_feature_extractor(tmp_path / "inception.pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Scripted Inception3 always returns")  # (torchvision's)
        torch.testing.assert_close(scripted(uint8_images(1, 2, size=32) / 127.5 - 1), seen[0])
    # its own state dict (without the classifier) loads back as a weights file
    torch.save(net.net.state_dict(), tmp_path / "inception.pth")
    again = inception_features(tmp_path / "inception.pth")
    mine, theirs = net.state_dict(), again.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    state = net.net.state_dict()
    state["Mixed_7c.branch_pool.conv.weight"] = state["Mixed_7c.branch_pool.conv.weight"][:1]
    del state["Conv2d_1a_3x3.conv.weight"]
    torch.save(state, tmp_path / "damaged.pth")
    with pytest.raises(ValueError, match=r"do not fit torchvision's inception_v3: 1 tensors "
                                         r"missing .*'Conv2d_1a_3x3\.conv\.weight'.*1 tensors of "
                                         r"another shape"):
        inception_features(tmp_path / "damaged.pth")


# ---------------------------------------------------------------------------------------------
# torch.distributed


def _rank_worker(rank, init_file, queue):
    """One of two gloo ranks: fid() and all_reduce(); rank 1 has no data of its own for the
    latter."""
    torch.set_num_threads(1)
    dist = torch.distributed
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        reals = [uint8_images(k, 7) for k in range(3)]
        score = fid(TinyGenerator(), reals, tiny_extractor(), num_fake=30, batch_size=4, seed=1)
        x = np.random.default_rng(0).normal(size=(9, 3)) + 50
        mine = FeatureStatistics(3) if rank == 1 else FeatureStatistics().update(x)
        mine.all_reduce()
        queue.put((rank, [score, mine.count, mine.mean.tolist(), mine.covariance.tolist()]))
    except Exception as e:  # reported to the test process
        queue.put((rank, f"{type(e).__name__}: {e}"))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available() or sys.platform != "linux",
                    reason="torch.distributed unavailable, or no fork")  # fmt: skip
def test_two_ranks_agree_with_one_process(tmp_path):
    """Two gloo processes: fid() shares the batches out and all-reduces the statistics;
    FeatureStatistics.all_reduce merges in a rank without data. Forked (on Linux), not spawned:
    a spawned child imports torch and bandlimit again, several seconds each."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (Python 3.12+: fork and threads)
        procs = [ctx.Process(target=_rank_worker, args=(r, tmp_path / "init", queue))
                 for r in range(2)]  # fmt: skip
        for p in procs:
            p.start()
    for p in procs:
        p.join(timeout=120)
    hung = [p.pid for p in procs if p.is_alive()]
    for p in procs:
        p.kill()
    assert not hung, "a rank hung"
    got = dict(queue.get(timeout=10) for _ in procs)
    reals = [uint8_images(k, 7) for k in range(3)]
    want = fid(TinyGenerator(), reals, tiny_extractor(), num_fake=30, batch_size=4, seed=1)
    x = np.random.default_rng(0).normal(size=(9, 3)) + 50
    for rank in (0, 1):
        assert not isinstance(got[rank], str), got[rank]
        score, count, mean, cov = got[rank]
        assert score == pytest.approx(want, rel=1e-9)
        assert count == 9
        np.testing.assert_allclose(mean, x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(cov, np.cov(x.T), rtol=1e-9)
    assert got[0] == got[1]  # every rank holds the same
