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
    default_alpha: float
    default_gain: float
    piecewise_linear: bool  # zero second derivative: a sign mask is enough for backward


SQRT2 = math.sqrt(2.0)

ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("linear", lambda x, alpha: x, 0.0, 1.0, True),
        Activation("relu", lambda x, alpha: F.relu(x), 0.0, SQRT2, True),
        Activation("lrelu", lambda x, alpha: F.leaky_relu(x, alpha), 0.2, SQRT2, True),
        Activation("tanh", lambda x, alpha: torch.tanh(x), 0.0, 1.0, False),
        Activation("sigmoid", lambda x, alpha: torch.sigmoid(x), 0.0, 1.0, False),
        Activation("elu", lambda x, alpha: F.elu(x), 0.0, 1.0, False),
        Activation("selu", lambda x, alpha: F.selu(x), 0.0, 1.0, False),
        Activation("softplus", lambda x, alpha: F.softplus(x), 0.0, 1.0, False),
        Activation("swish", lambda x, alpha: x * torch.sigmoid(x), 0.0, SQRT2, False),
    ]
}


def get_activation(act: object) -> Activation:
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {act!r}")
    return ACTIVATIONS[act]
