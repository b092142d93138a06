"""The ``op`` package of rosinality's stylegan2-pytorch, as copied into BasicSR, GFPGAN,
CodeFormer, LSGM and mmcv, on :mod:`bandlimit.ops`.

Same names, signatures and results as the originals, on any device and dtype, differentiable
to any order (so R1 and path-length regularisation keep working), with nothing to compile:

- :func:`upfirdn2d` ``(input, kernel, up=1, down=1, pad=(0, 0))``
- :func:`fused_leaky_relu` ``(input, bias=None, negative_slope=0.2, scale=2 ** 0.5)`` and the
  module :class:`FusedLeakyReLU` ``(channel, bias=True, negative_slope=0.2, scale=2 ** 0.5)``
  (mmcv's names :func:`fused_bias_leakyrelu` and :class:`FusedBiasLeakyReLU` too)
- :mod:`~bandlimit.compat.rosinality.conv2d_gradfix` (``conv2d``, ``conv_transpose2d``,
  ``no_weight_gradients``)

A model written for the original (``from op import FusedLeakyReLU, fused_leaky_relu,
upfirdn2d, conv2d_gradfix``) runs unchanged with ``from bandlimit.compat.rosinality import …``;
its checkpoints load as they are (the modules keep their parameter names).

Examples
--------
rosinality's ``Upsample`` (a 4-tap binomial kernel, ×2) on a constant image keeps its level
away from the borders:

>>> import torch
>>> from bandlimit.compat.rosinality import upfirdn2d
>>> k = torch.tensor([1.0, 3.0, 3.0, 1.0])
>>> kernel = k[None, :] * k[:, None] / 64 * 4     # make_kernel(...) * factor ** 2
>>> y = upfirdn2d(torch.ones(1, 1, 4, 4), kernel, up=2, pad=(2, 1))
>>> y.shape, float(y[0, 0, 4, 4])
(torch.Size([1, 1, 8, 8]), 1.0)
"""

from bandlimit.compat.rosinality import conv2d_gradfix
from bandlimit.compat.rosinality.fused_act import (
    FusedBiasLeakyReLU,
    FusedLeakyReLU,
    fused_bias_leakyrelu,
    fused_leaky_relu,
)
from bandlimit.compat.rosinality.upfirdn import upfirdn2d

__all__ = [
    "FusedBiasLeakyReLU",
    "FusedLeakyReLU",
    "conv2d_gradfix",
    "fused_bias_leakyrelu",
    "fused_leaky_relu",
    "upfirdn2d",
]
