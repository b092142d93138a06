"""Resampling and activation ops with StyleGAN3's exact semantics.

The signal ops take ``[N, C, H, W]`` images (``[N, C, L]`` signals for the 1-D ops,
``[N, C, D, H, W]`` volumes for the 3-D ones, any shape
for :func:`bias_act` and :func:`resample_poly`) of a floating-point dtype (the linear ones,
the upfirdn ops and :func:`resample_poly`, complex64/complex128 too, as scipy's), return a
tensor of the same dtype on the same device, and are differentiable with respect to their input (and
bias and activation parameters) to any order. A filter that requires grad is learned: it gets its
gradient too (the upfirdn ops and :func:`resample_poly` on every backend; the filtered
activations, whose fused kernels take filters as constants, then run the backend's upfirdn
stages around the activation in PyTorch).
The upfirdn ops, the filtered activations and :func:`resample_poly` return a contiguous tensor
(channels_last for a channels_last image), whatever the input's strides and the backend.
``torch.autocast`` does not cast the ops: under it every backend computes in, and returns, the
input's dtype (cast ``x`` to compute in a lower precision).

Backends, chosen per call with ``impl=``: 'ref' (pure PyTorch, any device and dtype, gradients of
any order), 'numba' (fused polyphase CPU kernels in float32/float64; float16 and bfloat16
computed in float32) and 'cuda' (a CUDA extension compiled on first use, see
:mod:`bandlimit.ops.cuda`). ``impl='auto'`` picks numba for CPU tensors, cuda for CUDA tensors
(falling back to ref with one warning if the extension cannot be built) and ref otherwise; see
:func:`set_default_impl`.

Examples
--------
>>> import torch
>>> from bandlimit.ops import setup_filter, upsample2d
>>> x = torch.ones(1, 3, 8, 8)
>>> f = setup_filter([1, 3, 3, 1])
>>> y = upsample2d(x, f)                   # impl='auto': the numba kernels for a CPU tensor
>>> torch.allclose(y, upsample2d(x, f, impl="ref"))
True
"""

from bandlimit.ops._dispatch import get_default_impl, set_default_impl
from bandlimit.ops.bias_act import bias_act
from bandlimit.ops.conv_resample import conv2d_resample
from bandlimit.ops.filtered import filtered_act, filtered_act1d, filtered_lrelu
from bandlimit.ops.precompile import precompile_numba
from bandlimit.ops.resample import resample_poly
from bandlimit.ops.streaming import FilteredAct1dStream
from bandlimit.ops.upfirdn import (
    downsample2d,
    filter2d,
    setup_filter,
    upfirdn1d,
    upfirdn2d,
    upsample2d,
)
from bandlimit.ops.volume import (
    downsample3d,
    filter3d,
    filtered_act3d,
    upfirdn3d,
    upsample3d,
)

__all__ = [
    "FilteredAct1dStream",
    "bias_act",
    "conv2d_resample",
    "downsample2d",
    "downsample3d",
    "filter2d",
    "filter3d",
    "filtered_act",
    "filtered_act1d",
    "filtered_act3d",
    "filtered_lrelu",
    "get_default_impl",
    "precompile_numba",
    "resample_poly",
    "set_default_impl",
    "setup_filter",
    "upfirdn1d",
    "upfirdn2d",
    "upfirdn3d",
    "upsample2d",
    "upsample3d",
]


def _register_custom_ops() -> None:
    """Define the ``bandlimit::*`` custom ops now rather than at their first call: a program
    saved by ``torch.export`` names them, and ``torch.export.load`` must find them in a process
    that has only imported bandlimit. Defining them compiles nothing (Numba compiles at the
    first call, the CUDA extension is built at the first call)."""
    from bandlimit.ops._dispatch import numba_available

    if numba_available():  # (without numba, 'numba' cannot run anyway)
        from bandlimit.ops import _library  # noqa: F401
    from bandlimit.ops.cuda import _ops  # noqa: F401


_register_custom_ops()
