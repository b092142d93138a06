"""The activation tables of ``bias_act`` and of the filtered activations.

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


def negative_slope(act: str, alpha: float) -> float:
    """The derivative on the negative branch of a piecewise-linear act (before the gain): the
    branch a sign mask records as negative."""
    return {"linear": 1.0, "relu": 0.0, "lrelu": float(alpha)}[act]


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
            # `x <= 0` selects, so NaN takes the positive branch, as PyTorch's elu backward
            lambda x, a: torch.where(x <= 0, torch.exp(x), torch.ones_like(x)),
            0.0,
            1.0,
            False,
        ),
        Activation(
            "selu",
            lambda x, a: F.selu(x),
            lambda x, a: (
                SELU_SCALE * torch.where(x <= 0, SELU_ALPHA * torch.exp(x), torch.ones_like(x))
            ),
            0.0,
            1.0,
            False,
        ),
        Activation(
            "softplus",
            lambda x, a: F.softplus(x),
            # above torch's threshold (20) softplus is x itself: derivative 1, as its autograd
            lambda x, a: torch.where(x > 20, torch.ones_like(x), torch.sigmoid(x)),
            0.0,
            1.0,
            False,
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
    """The entry of ``act`` in bias_act's table (StyleGAN's names; ``silu`` is ``swish``)."""
    if act == "silu":  # PyTorch's name for it, as the filtered ops accept
        act = "swish"
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(ACTIVATIONS)}, got {act!r}")
    return ACTIVATIONS[act]


# ------------------------------------------------------------------------------------------
# Activations of the filtered ops only (``filtered_act``): everything above, plus GELU and the
# periodic activations of BigVGAN. They are not in ``bias_act``'s table, which keeps StyleGAN's.

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715  # the cubic coefficient of the tanh approximation (Hendrycks & Gimpel 2016)


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """x·Φ(x), the product last: float32 F.gelu overflows for x ≳ 1.7e38 (gelu(3e38) = inf,
    gelu(inf) = NaN), where the fused kernels give x."""
    return x * (0.5 * (1 + torch.erf(x * _INV_SQRT2)))


def _gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """Φ(x) + x·φ(x)."""
    return 0.5 * (1 + torch.erf(x * _INV_SQRT2)) + x * torch.exp(-0.5 * x * x) * _INV_SQRT2PI


def _gelu_tanh_grad(x: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(_GELU_K * (x + _GELU_C * x**3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_K * (1 + 3 * _GELU_C * x * x)


SNAKE_EPS = 1e-9  # added to the denominator after any exp, as BigVGAN does


@dataclass(frozen=True)
class ParametricActivation:
    """An activation with per-channel tensor parameters (``alpha`` and maybe ``beta``, ``[C]``).

    The callables take the pre-activation ``u`` and the parameters already broadcast against it
    (``beta`` is None when unused). ``pgrad`` returns ``∂fn/∂param`` for each name in ``params``.
    All are made of differentiable torch ops (they also serve double backward).
    """

    name: str
    params: tuple[str, ...]
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
    grad: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
    pgrad: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, ...]]
    default_gain: float = 1.0
    piecewise_linear: bool = False


def _wide(x: torch.Tensor, *params: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
    """``x`` and the parameters in one dtype of at least float32 precision: in float16 ε = 1e-9
    rounds to 0, and α = 0 would give sin²(0) / 0 = NaN where the function is x. A None
    parameter stays None."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    for p in params:
        if p is not None:
            dtype = torch.promote_types(dtype, p.dtype)
    return tuple(None if t is None else t.to(dtype) for t in (x, *params))


def _snake_fn(x, a, b):
    """x + sin²(αx)/(α + ε)  (``b`` unused); computed in at least float32, returned in x's dtype."""
    xw, aw = _wide(x, a)
    return x + (torch.sin(aw * xw) ** 2 / (aw + SNAKE_EPS)).to(x.dtype)


def _snake_grad(x, a, b):
    xw, aw = _wide(x, a)
    return (1 + aw * torch.sin(2 * aw * xw) / (aw + SNAKE_EPS)).to(x.dtype)


def _snake_pgrad(x, a, b):
    xw, aw = _wide(x, a)
    den = aw + SNAKE_EPS
    return ((xw * torch.sin(2 * aw * xw) / den - torch.sin(aw * xw) ** 2 / den**2).to(x.dtype),)


def _snakebeta_fn(x, a, b):
    """x + sin²(αx)/(β + ε); computed in at least float32, returned in x's dtype."""
    xw, aw, bw = _wide(x, a, b)
    return x + (torch.sin(aw * xw) ** 2 / (bw + SNAKE_EPS)).to(x.dtype)


def _snakebeta_grad(x, a, b):
    xw, aw, bw = _wide(x, a, b)
    return (1 + aw * torch.sin(2 * aw * xw) / (bw + SNAKE_EPS)).to(x.dtype)


def _snakebeta_pgrad(x, a, b):
    xw, aw, bw = _wide(x, a, b)
    den = bw + SNAKE_EPS
    return (
        (xw * torch.sin(2 * aw * xw) / den).to(x.dtype),
        (-(torch.sin(aw * xw) ** 2) / den**2).to(x.dtype),
    )


PARAMETRIC_ACTIVATIONS: dict[str, ParametricActivation] = {
    "snake": ParametricActivation("snake", ("alpha",), _snake_fn, _snake_grad, _snake_pgrad),
    "snakebeta": ParametricActivation(
        "snakebeta", ("alpha", "beta"), _snakebeta_fn, _snakebeta_grad, _snakebeta_pgrad
    ),
}

FILTERED_ACTIVATIONS: dict[str, Activation | ParametricActivation] = {
    **ACTIVATIONS,
    "silu": ACTIVATIONS["swish"],  # the same function under its PyTorch name
    "gelu": Activation("gelu", lambda x, a: _gelu(x), lambda x, a: _gelu_grad(x), 0.0, 1.0, False),
    "gelu_tanh": Activation(
        "gelu_tanh",
        lambda x, a: F.gelu(x, approximate="tanh"),
        lambda x, a: _gelu_tanh_grad(x),
        0.0,
        1.0,
        False,
    ),
    **PARAMETRIC_ACTIVATIONS,
}


def get_filtered_activation(act: object) -> Activation | ParametricActivation:
    """The entry of ``act`` in the filtered ops' table (``silu`` is ``swish``)."""
    if not isinstance(act, str) or act not in FILTERED_ACTIVATIONS:
        raise ValueError(f"act must be one of {sorted(FILTERED_ACTIVATIONS)}, got {act!r}")
    return FILTERED_ACTIVATIONS[act]
