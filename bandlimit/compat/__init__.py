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

BigVGAN's and alias-free-torch's modules (``Activation1d``, ``UpSample1d``, ``DownSample1d``,
``LowPassFilter1d`` and their 2-D forms) are in :mod:`bandlimit.nn.bigvgan`, with their
constructor arguments and state-dict keys. The functions of StyleGAN2-ADA's and StyleGAN3's
``torch_utils.ops.upfirdn2d``, ``bias_act`` and ``filtered_lrelu`` modules are
:mod:`bandlimit.ops`' own, under the same names and signatures (``upfirdn2d``,
``setup_filter``, ``upsample2d``, ``downsample2d``, ``filter2d``, ``bias_act``,
``filtered_lrelu``; ``impl`` takes 'auto', 'ref', 'numba' or 'cuda'); their
``conv2d_resample``, ``fma`` and ``grid_sample_gradfix`` have no counterpart here.
"""
