"""Drop-in replacements for other projects' compiled ops, built on :mod:`bandlimit.ops`.

Many GAN and restoration code bases carry a copy of a StyleGAN2 port's ``op`` package: CUDA
sources compiled at import (and failing to build on many machines), licensed apart from the
project around them. :mod:`bandlimit.compat.rosinality` has the same functions with the same
signatures and semantics, on every device and backend of :mod:`bandlimit.ops`: change the
import and delete the folder.

- rosinality/stylegan2-pytorch and its copies (GFPGAN, CodeFormer, LSGM, …):
  ``from op import upfirdn2d, fused_leaky_relu, FusedLeakyReLU, conv2d_gradfix`` becomes
  ``from bandlimit.compat.rosinality import …`` (the same names).
- BasicSR: ``from basicsr.ops.upfirdn2d import upfirdn2d`` and
  ``from basicsr.ops.fused_act import FusedLeakyReLU, fused_leaky_relu`` become imports from
  :mod:`bandlimit.compat.rosinality` (BasicSR's ``FusedLeakyReLU(channel, negative_slope,
  scale)`` has no ``bias`` argument: calls that pass the slope positionally must name it; a
  float where rosinality's ``bias`` is gets a ``TypeError`` saying so).
- mmcv: ``from mmcv.ops import upfirdn2d, fused_bias_leakyrelu, FusedBiasLeakyReLU`` becomes
  an import of the same names from :mod:`bandlimit.compat.rosinality`.

StyleGAN2-ADA's and StyleGAN3's ``torch_utils.ops`` (DragGAN, EG3D, StyleGAN-XL, …):
``from torch_utils.ops import upfirdn2d, bias_act, conv2d_resample, fma, …`` becomes
``from bandlimit.compat.stylegan import …`` (the same modules, functions and signatures; see
:mod:`bandlimit.compat.stylegan`).

BigVGAN's and alias-free-torch's modules (``Activation1d``, ``UpSample1d``, ``DownSample1d``,
``LowPassFilter1d`` and their 2-D forms) are in :mod:`bandlimit.nn.bigvgan`, with their
constructor arguments and state-dict keys.
"""
