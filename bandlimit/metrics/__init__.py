"""Metrics for alias-free generators.

- :mod:`~bandlimit.metrics.equivariance` — the Alias-Free GAN equivariance metrics EQ-T, EQ-T_frac
  and EQ-R (:func:`~bandlimit.metrics.equivariance.evaluate`) and their building blocks
  (integer/fractional translation, oriented band-limit filter, high-quality rotation,
  pseudo-rotation, pooled PSNR), and :exc:`~bandlimit.metrics.equivariance.NonFiniteImagesError`,
  raised when the generator writes NaN or inf.
- :mod:`~bandlimit.metrics.fid` — Fréchet Inception Distance (:func:`~bandlimit.metrics.fid.fid`):
  streaming, mergeable and cacheable feature statistics
  (:class:`~bandlimit.metrics.fid.FeatureStatistics`), the Fréchet distance
  (:func:`~bandlimit.metrics.fid.frechet_distance`) and feature extractors (torchvision's
  Inception-v3, :func:`~bandlimit.metrics.fid.inception_features`, or a TorchScript file,
  :func:`~bandlimit.metrics.fid.load_feature_extractor`).
"""

from bandlimit.metrics import equivariance, fid
from bandlimit.metrics.equivariance import NonFiniteImagesError, evaluate
from bandlimit.metrics.fid import (
    FeatureStatistics,
    feature_statistics,
    frechet_distance,
    inception_features,
    load_feature_extractor,
)

__all__ = [
    "FeatureStatistics",
    "NonFiniteImagesError",
    "equivariance",
    "evaluate",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "inception_features",
    "load_feature_extractor",
]
