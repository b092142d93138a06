"""Neural-network modules: periodic activations and alias-free activation blocks.

* :class:`Snake`, :class:`SnakeBeta` — BigVGAN's periodic activations.
* :class:`AliasFreeActivation1d`, :class:`AliasFreeActivation2d`,
  :class:`AliasFreeActivation3d` — up-sample → act → down-sample in one fused op call (3-D: one
  per axis group) for the activations of :func:`bandlimit.ops.filtered_act` (any other module
  or function unfused, between the op's stages); ``.stream()`` for audio in chunks.
* :class:`BlurPool2d`, :class:`MaxBlurPool2d`, :class:`BlurPool1d`, :class:`BlurPool3d` —
  anti-aliased strided downsampling for CNN backbones (blur, then subsample); :func:`antialias`
  makes an existing model's strided 1-D, 2-D and 3-D convolutions and pools anti-aliased, in
  place.
* :class:`PQMF` — a pseudo-QMF analysis / synthesis filter bank (audio to sub-bands and back,
  as multi-band vocoders use it).
* :class:`ResamplePoly` — rational-rate band-limited resampling
  (:func:`bandlimit.ops.resample_poly`).
* :class:`FilteredLReLU` — the filtered leaky ReLU of one StyleGAN3 synthesis layer, built from
  a cutoff schedule (:func:`bandlimit.filters.stylegan3_schedule`).
* :mod:`bandlimit.nn.bigvgan` — drop-in ``Activation1d``/``UpSample1d``/``DownSample1d`` (and 2-D)
  with BigVGAN's / alias-free-torch's arguments and state dicts, and :func:`~.bigvgan.patch`.
"""

from bandlimit.nn import bigvgan
from bandlimit.nn.activation import (
    AliasFreeActivation1d,
    AliasFreeActivation2d,
    AliasFreeActivation3d,
    Snake,
    SnakeBeta,
)
from bandlimit.nn.antialias import antialias
from bandlimit.nn.pool import BlurPool1d, BlurPool2d, BlurPool3d, MaxBlurPool2d
from bandlimit.nn.pqmf import PQMF
from bandlimit.nn.resample import ResamplePoly
from bandlimit.nn.stylegan3 import FilteredLReLU

__all__ = [
    "PQMF",
    "AliasFreeActivation1d",
    "AliasFreeActivation2d",
    "AliasFreeActivation3d",
    "BlurPool1d",
    "BlurPool2d",
    "BlurPool3d",
    "FilteredLReLU",
    "MaxBlurPool2d",
    "ResamplePoly",
    "Snake",
    "SnakeBeta",
    "antialias",
    "bigvgan",
]
