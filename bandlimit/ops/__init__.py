"""Resampling and activation ops with StyleGAN3's exact semantics.

Backends: 'ref' (pure PyTorch, any device and dtype, gradients of any order), 'numba' (fused
polyphase CPU kernels in float32/float64; float16 and bfloat16 computed in float32) and 'cuda'
(a CUDA extension compiled on first use, see :mod:`bandlimit.ops.cuda`). ``impl='auto'`` picks
numba for CPU tensors,
cuda for CUDA tensors (falling back to ref with one warning if the extension cannot be built)
and ref otherwise; see :func:`set_default_impl`.
"""

from bandlimit.ops._dispatch import get_default_impl, set_default_impl
from bandlimit.ops.bias_act import bias_act
from bandlimit.ops.filtered import filtered_act, filtered_act1d, filtered_lrelu
from bandlimit.ops.resample import resample_poly
from bandlimit.ops.upfirdn import (
    downsample2d,
    filter2d,
    setup_filter,
    upfirdn1d,
    upfirdn2d,
    upsample2d,
)

__all__ = [
    "bias_act",
    "downsample2d",
    "filter2d",
    "filtered_act",
    "filtered_act1d",
    "filtered_lrelu",
    "get_default_impl",
    "resample_poly",
    "set_default_impl",
    "setup_filter",
    "upfirdn1d",
    "upfirdn2d",
    "upsample2d",
]
