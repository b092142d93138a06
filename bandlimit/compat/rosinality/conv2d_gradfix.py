"""The ``conv2d_gradfix`` module of StyleGAN2 ports: convolutions whose double backward
works, and a context that skips weight gradients in an R1 penalty's inner gradient.

Current PyTorch needs neither fix: its convolutions are differentiable to any order, and
``torch.autograd.grad(outputs, inputs=images)`` computes only the gradients it is asked for
(a 3×3, 256-channel convolution's input-only gradient takes half the time of input and
weight). So ``conv2d`` and ``conv_transpose2d`` are :func:`torch.nn.functional.conv2d` and
:func:`torch.nn.functional.conv_transpose2d` themselves, and
:func:`no_weight_gradients` only records that it is active (in ``weight_gradients_disabled``)
for code that reads the flag: a ``loss.backward()`` inside it still fills the weights' ``.grad``.
``enabled`` is kept for scripts that set it; it changes nothing.

Examples
--------
>>> import torch
>>> from bandlimit.compat.rosinality import conv2d_gradfix
>>> x = torch.randn(1, 2, 8, 8, requires_grad=True)
>>> w = torch.randn(4, 2, 3, 3, requires_grad=True)
>>> with conv2d_gradfix.no_weight_gradients():
...     (g,) = torch.autograd.grad(conv2d_gradfix.conv2d(x, w).sum(), x, create_graph=True)
>>> g.pow(2).sum().backward()                     # R1-style: the weights get their gradient
>>> w.grad.shape
torch.Size([4, 2, 3, 3])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch.nn.functional import conv2d, conv_transpose2d

__all__ = ["conv2d", "conv_transpose2d", "no_weight_gradients"]

enabled = True
weight_gradients_disabled = False


@contextlib.contextmanager
def no_weight_gradients(disable: bool = True) -> Iterator[None]:
    """Mark a region that asks for no weight gradients (sets ``weight_gradients_disabled``);
    results and gradients are PyTorch's, unchanged (see the module's description)."""
    global weight_gradients_disabled
    previous = weight_gradients_disabled
    weight_gradients_disabled = previous or bool(disable)
    try:
        yield
    finally:
        weight_gradients_disabled = previous
