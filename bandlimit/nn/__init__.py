"""Neural-network modules: periodic activations and alias-free activation blocks.

* :class:`Snake`, :class:`SnakeBeta` — BigVGAN's periodic activations.
* :class:`AliasFreeActivation1d`, :class:`AliasFreeActivation2d` — up-sample → act → down-sample
  in one fused op call, for any activation of :func:`bandlimit.ops.filtered_act`.
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
    Snake,
    SnakeBeta,
)
from bandlimit.nn.resample import ResamplePoly
from bandlimit.nn.stylegan3 import FilteredLReLU

__all__ = [
    "AliasFreeActivation1d",
    "AliasFreeActivation2d",
    "FilteredLReLU",
    "ResamplePoly",
    "Snake",
    "SnakeBeta",
    "bigvgan",
]
