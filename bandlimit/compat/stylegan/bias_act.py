"""``torch_utils.ops.bias_act``: :func:`bias_act` with the original signature (``impl='cuda'``
by default, see :mod:`bandlimit.compat.stylegan`) and the ``activation_funcs`` table whose
``def_gain`` and ``def_alpha`` the originals' layers read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from bandlimit import ops
from bandlimit.compat.stylegan._impl import backend
from bandlimit.ops._activations import ACTIVATIONS

__all__ = ["activation_funcs", "bias_act"]


@dataclass(frozen=True)
class ActivationFunc:
    """One activation's entry: ``func(x, alpha=…)``, its default ``alpha`` and ``gain``, and
    whether its second derivative is nonzero somewhere (not piecewise linear)."""

    func: Callable[..., torch.Tensor]
    def_alpha: float
    def_gain: float
    has_2nd_grad: bool


def _entry(name: str) -> ActivationFunc:
    spec = ACTIVATIONS[name]

    def func(x: torch.Tensor, alpha: float | None = None, **_: object) -> torch.Tensor:
        return spec.fn(x, spec.default_alpha if alpha is None else float(alpha))

    return ActivationFunc(func, spec.default_alpha, spec.default_gain, not spec.piecewise_linear)


#: The originals' table by activation name ('linear', 'relu', 'lrelu', 'tanh', 'sigmoid',
#: 'elu', 'selu', 'softplus', 'swish'): an :class:`ActivationFunc` each.
activation_funcs: dict[str, ActivationFunc] = {name: _entry(name) for name in ACTIVATIONS}


def bias_act(
    x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
    alpha: float | None = None, gain: float | None = None, clamp: float | None = None,
    impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.bias_act`."""
    return ops.bias_act(x, b, dim, act, alpha, gain, clamp, backend(impl))
