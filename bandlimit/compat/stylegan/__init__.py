"""StyleGAN2-ADA's and StyleGAN3's ``torch_utils.ops`` package, on :mod:`bandlimit.ops`.

The projects built on NVIDIA's StyleGAN2-ADA or StyleGAN3 code (DragGAN, EG3D, StyleGAN-XL,
StyleGAN-T, PTI, R3GAN, …) call its custom ops as modules: ``upfirdn2d.upfirdn2d(…)``,
``bias_act.bias_act(…)``, ``conv2d_resample.conv2d_resample(…)``. Those ops compile CUDA
plugins at run time (the build that fails on many machines) and are under NVIDIA's
non-commercial licence. This package has the same modules, with the same functions,
signatures and results, on every device and backend of :mod:`bandlimit.ops`, differentiable
to any order, with nothing to compile: change the import line, keep the calls.

======================================  ==================================================
``from torch_utils.ops import …``        here
======================================  ==================================================
``upfirdn2d``                            :mod:`~bandlimit.compat.stylegan.upfirdn2d`
                                         (``setup_filter``, ``upfirdn2d``, ``filter2d``,
                                         ``upsample2d``, ``downsample2d``)
``bias_act``                             :mod:`~bandlimit.compat.stylegan.bias_act`
                                         (``bias_act``, ``activation_funcs``)
``filtered_lrelu``                       :mod:`~bandlimit.compat.stylegan.filtered_lrelu`
``conv2d_resample``                      :mod:`~bandlimit.compat.stylegan.conv2d_resample`
``conv2d_gradfix``                       :mod:`bandlimit.compat.rosinality.conv2d_gradfix`
``grid_sample_gradfix``                  :mod:`~bandlimit.compat.stylegan.grid_sample_gradfix`
``fma``                                  :mod:`~bandlimit.compat.stylegan.fma`
======================================  ==================================================

``impl='cuda'``, the originals' default, means what it did there: the fused CUDA kernels for
CUDA tensors when they can run, the reference otherwise (here: bandlimit's ``impl='auto'``,
which also runs the numba kernels on the CPU); ``impl='ref'`` is the pure-PyTorch reference.

The modules import as the originals did, as attributes of the package or by their dotted
names (``from bandlimit.compat.stylegan.conv2d_gradfix import no_weight_gradients``). Half
precision (float16 activations with float32 filter buffers, as StyleGAN's layers pass them),
channels_last images and ``torch.compile`` work; a compiled module's autograd has no double
backward in PyTorch, so keep R1 and path-length regularisation eager.

Only the ops are here: ``torch_utils.misc``, ``persistence`` and ``training_stats`` are not
compiled code and stay with the project (bandlimit's ``examples/afgan/legacy.py`` loads
NVIDIA's pickles without them).

Examples
--------
A StyleGAN2 synthesis layer's up-sampling convolution, written as the originals are called:

>>> import torch
>>> from bandlimit.compat.stylegan import bias_act, conv2d_resample, upfirdn2d
>>> f = upfirdn2d.setup_filter([1, 3, 3, 1])
>>> x, w, b = torch.randn(2, 8, 16, 16), torch.randn(4, 8, 3, 3), torch.zeros(4)
>>> y = conv2d_resample.conv2d_resample(x, w, f, up=2, padding=1)
>>> y = bias_act.bias_act(y, b, act="lrelu", gain=bias_act.activation_funcs["lrelu"].def_gain)
>>> y.shape
torch.Size([2, 4, 32, 32])
"""

from bandlimit.compat.stylegan import (
    bias_act,
    conv2d_gradfix,
    conv2d_resample,
    filtered_lrelu,
    fma,
    grid_sample_gradfix,
    upfirdn2d,
)

__all__ = [
    "bias_act",
    "conv2d_gradfix",
    "conv2d_resample",
    "filtered_lrelu",
    "fma",
    "grid_sample_gradfix",
    "upfirdn2d",
]
