"""Metrics for alias-free generators.

- :mod:`~bandlimit.metrics.equivariance` — the Alias-Free GAN equivariance metrics EQ-T, EQ-T_frac
  and EQ-R (:func:`~bandlimit.metrics.equivariance.evaluate`) and their building blocks
  (integer/fractional translation, oriented band-limit filter, high-quality rotation,
  pseudo-rotation, pooled PSNR), and :exc:`~bandlimit.metrics.equivariance.NonFiniteImagesError`,
  raised when the generator writes NaN or inf.
"""

from bandlimit.metrics import equivariance
from bandlimit.metrics.equivariance import NonFiniteImagesError, evaluate

__all__ = ["NonFiniteImagesError", "equivariance", "evaluate"]
