"""``torch_utils.ops.bias_act``: :func:`bias_act` with the original signature (``impl='cuda'``
by default, see :mod:`bandlimit.compat.stylegan`) and the ``activation_funcs`` table whose
``def_gain`` and ``def_alpha`` the originals' layers read."""

from __future__ import annotations

from typing import Any

import torch

from bandlimit import ops
from bandlimit.compat.stylegan._impl import backend, init_plugin
from bandlimit.ops._activations import ACTIVATIONS

__all__ = ["activation_funcs", "bias_act"]


class ActivationFunc(dict):
    """One activation's entry, a dict whose keys read as attributes too (the originals' were
    ``EasyDict``s): ``func(x, alpha=…)``, its default ``def_alpha`` and ``def_gain``, and
    ``has_2nd_grad``, whether its second derivative is nonzero somewhere."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _entry(name: str) -> ActivationFunc:
    spec = ACTIVATIONS[name]

    def func(x: torch.Tensor, alpha: float | None = None, **_: object) -> torch.Tensor:
        return spec.fn(x, spec.default_alpha if alpha is None else float(alpha))

    return ActivationFunc(func=func, def_alpha=spec.default_alpha, def_gain=spec.default_gain,
                          has_2nd_grad=not spec.piecewise_linear)


#: The originals' table by activation name ('linear', 'relu', 'lrelu', 'tanh', 'sigmoid',
#: 'elu', 'selu', 'softplus', 'swish'): an :class:`ActivationFunc` each.
activation_funcs: dict[str, ActivationFunc] = {name: _entry(name) for name in ACTIVATIONS}

_init = init_plugin  # (the originals' plugin loader, called by training scripts)
_plugin = None


def bias_act(
    x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
    alpha: float | None = None, gain: float | None = None, clamp: float | None = None,
    impl: str = "cuda",
) -> torch.Tensor:
    """:func:`bandlimit.ops.bias_act`."""
    return ops.bias_act(x, b, dim, act, alpha, gain, clamp, backend(impl))
