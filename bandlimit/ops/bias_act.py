"""bias_act: bias, activation, gain and clamp in one call (StyleGAN semantics)."""

from __future__ import annotations

import torch

from bandlimit.ops import reference
from bandlimit.ops._activations import get_activation
from bandlimit.ops._dispatch import resolve_impl
from bandlimit.ops._params import as_float, as_int, check_bias, check_fits_dtype, check_tensor


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str = "auto",
) -> torch.Tensor:
    """``y = clamp(act(x + b) · gain, −clamp, clamp)``, with ``b`` broadcast along ``dim``.

    Parameters
    ----------
    x : Tensor of any shape, floating point, any device.
    b : Tensor ``[x.shape[dim]]`` or None
    dim : int
        The axis of ``x`` that ``b`` runs along (the channel axis); ignored without ``b``.
    act : str
        One of linear, relu, lrelu, tanh, sigmoid, elu, selu, softplus, swish (``x·sigmoid(x)``).
    alpha : float or None
        Negative slope of ``lrelu`` (default 0.2); the other activations ignore it.
    gain : float or None
        Output scale; None means the activation's default (√2 for relu, lrelu and swish, else 1).
    clamp : float ≥ 0 or None
        Symmetric clamp of the output; None disables it.
    impl : {'auto', 'ref', 'numba', 'cuda'}
        Element-wise ops are memory-bound and PyTorch's vectorised kernels are already at that
        bound, so every CPU backend runs the PyTorch path; 'cuda' runs one fused kernel (its
        backward is the derivative in PyTorch ops).

    Returns
    -------
    Tensor shaped like ``x``. Differentiable to any order with respect to ``x`` and ``b``.
    Where the derivative is a convention, every backend follows PyTorch's (and StyleGAN's):
    relu / lrelu take the negative branch at ``x + b = 0``, and at ``|y| = clamp`` the gradient
    does what ``torch.clamp``'s does in the installed torch (releases since mid-2026 block it,
    earlier ones pass it). (The filtered ops differ there: see :func:`filtered_act`.)
    """
    check_tensor(x, "x")
    spec = get_activation(act)
    dim = as_int(dim, "dim")
    if b is not None:  # dim only places the bias
        if not -x.ndim <= dim < x.ndim:
            raise ValueError(
                f"dim must index an axis of x (shape {tuple(x.shape)}) to add b along, got {dim}"
            )
        dim %= x.ndim
        b = check_bias(b, x.shape[dim], x.device)
    alpha = spec.default_alpha if alpha is None else as_float(alpha, "alpha")
    gain = spec.default_gain if gain is None else as_float(gain, "gain", nonnegative=True)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    if resolve_impl(impl, x, "bias_act") == "cuda":
        from bandlimit.ops.cuda import _ops

        return _ops.bias_act(x, b, dim, spec, alpha, gain, clamp)
    return reference.bias_act(x, b, dim, spec, alpha, gain, clamp)
