"""The activation table shared by ``bias_act`` and the filtered activations.

Each entry records the activation's default ``alpha`` and ``gain`` (StyleGAN's conventions) and a
pure-torch definition. ``alpha`` is only a parameter of ``lrelu`` (its negative slope); ``elu`` and
``selu`` always use their standard constants, as the official op does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[torch.Tensor, float], torch.Tensor]
    grad: Callable[[torch.Tensor, float], torch.Tensor]  # d fn / dx, itself differentiable
    default_alpha: float
    default_gain: float
    piecewise_linear: bool  # zero second derivative: a sign mask is enough for backward


SQRT2 = math.sqrt(2.0)
# SELU's fixed constants (Klambauer et al. 2017), as used by torch.nn.functional.selu.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _step(x: torch.Tensor, low: float) -> torch.Tensor:
    """1 where x ≥ 0, ``low`` where x < 0 (the branch a sign mask records)."""
    return torch.where(x < 0, torch.full_like(x, low), torch.ones_like(x))


def _swish_grad(x: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(x)
    return s + x * s * (1 - s)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("linear", lambda x, a: x, lambda x, a: torch.ones_like(x), 0.0, 1.0, True),
        Activation("relu", lambda x, a: F.relu(x), lambda x, a: _step(x, 0.0), 0.0, SQRT2, True),
        Activation(
            "lrelu", lambda x, a: F.leaky_relu(x, a), lambda x, a: _step(x, a), 0.2, SQRT2, True
        ),
        Activation(
            "tanh", lambda x, a: torch.tanh(x), lambda x, a: 1 - torch.tanh(x) ** 2, 0.0, 1.0, False
        ),
        Activation(
            "sigmoid",
            lambda x, a: torch.sigmoid(x),
            lambda x, a: torch.sigmoid(x) * (1 - torch.sigmoid(x)),
            0.0,
            1.0,
            False,
        ),
        Activation(
            "elu",
            lambda x, a: F.elu(x),
            lambda x, a: torch.where(x > 0, torch.ones_like(x), torch.exp(x)),
            0.0,
            1.0,
            False,
        ),
        Activation(
            "selu",
            lambda x, a: F.selu(x),
            lambda x, a: (
                SELU_SCALE * torch.where(x > 0, torch.ones_like(x), SELU_ALPHA * torch.exp(x))
            ),
            0.0,
            1.0,
            False,
        ),
        Activation(
            "softplus", lambda x, a: F.softplus(x), lambda x, a: torch.sigmoid(x), 0.0, 1.0, False
        ),
        Activation(
            "swish",
            lambda x, a: x * torch.sigmoid(x),
            lambda x, a: _swish_grad(x),
            0.0,
            SQRT2,
            False,
        ),
    ]
}


def get_activation(act: object) -> Activation:
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {act!r}")
    return ACTIVATIONS[act]
