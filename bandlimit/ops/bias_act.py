"""bias_act: bias, activation, gain and clamp in one call (StyleGAN semantics)."""

from __future__ import annotations

import torch

from bandlimit.ops import reference
from bandlimit.ops._activations import get_activation
from bandlimit.ops._dispatch import resolve_impl
from bandlimit.ops._params import (
    as_float,
    as_int,
    check_bias,
    check_fits_dtype,
    check_tensor,
    is_channels_last,
)


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

    StyleGAN's fused bias + activation, element-wise (no resampling: see
    :func:`filtered_act` for the alias-free form).

    Parameters
    ----------
    x : Tensor of any shape
        Any floating-point dtype, any device ('cuda': CUDA float16/bfloat16/float32/float64).
    b : Tensor ``[x.shape[dim]]`` or None, default None
        Bias; floating point, on ``x``'s device (cast to ``x``'s dtype).
    dim : int, default 1
        The axis of ``x`` that ``b`` runs along (the channel axis; negative counts from the
        end); ignored without ``b``.
    act : str, default 'linear'
        One of linear, relu, lrelu, tanh, sigmoid, elu, selu, softplus, swish
        (``x·sigmoid(x)``; also accepted as silu, its PyTorch name).
    alpha : float or None, default None
        Negative slope of ``lrelu`` (None: 0.2); the other activations ignore it.
    gain : float ≥ 0 or None, default None
        Output scale; None means the activation's default (√2 for relu, lrelu and swish, else 1).
    clamp : float ≥ 0 or None, default None
        Symmetric clamp of the output; None disables it.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Element-wise ops are memory-bound and PyTorch's vectorised kernels are already at that
        bound, so every CPU backend runs the PyTorch path; 'cuda' runs one fused kernel (its
        backward is the derivative in PyTorch ops).

    Returns
    -------
    Tensor
        Shaped like ``x``, with ``x``'s dtype and device; always a new tensor (a copy where
        the call is the identity), never ``x`` itself.

    Raises
    ------
    TypeError
        If ``x`` or ``b`` is not a floating-point tensor, or a number has the wrong type.
    ValueError
        If ``act`` is unknown, ``b`` has the wrong shape or device, ``dim`` is not an axis of
        ``x``, ``gain`` or ``clamp`` is negative, a number is not finite, ``clamp`` or lrelu's
        ``alpha`` is beyond the largest finite value of ``x``'s dtype, or the requested backend
        cannot run on ``x``.

    Notes
    -----
    Differentiable to any order with respect to ``x`` and ``b``. Where the derivative is a
    convention, every backend follows PyTorch's (and StyleGAN's): relu / lrelu take the
    negative branch at ``x + b = 0``, and at ``|y| = clamp`` the gradient does what
    ``torch.clamp``'s does in the installed torch (torch 2.14 blocks it, torch 2.6 passes
    it). The filtered ops differ there: see :func:`filtered_act`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import bias_act
    >>> x = torch.tensor([[-1.0, 0.5], [2.0, -3.0]])
    >>> b = torch.tensor([0.5, -0.5])                  # one value per column (dim=1)
    >>> y = bias_act(x, b, act="lrelu", gain=1)
    >>> [round(v, 4) for v in y.flatten().tolist()]
    [-0.1, 0.0, 2.5, -0.7]

    A StyleGAN layer's bias and leaky ReLU on ``[N, C, H, W]`` features, with the default
    gain √2 and a clamp:

    >>> y = bias_act(torch.zeros(2, 4, 8, 8), torch.ones(4), act="lrelu", clamp=256)
    >>> y.shape, round(float(y[0, 0, 0, 0]), 4)
    (torch.Size([2, 4, 8, 8]), 1.4142)
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
    check_fits_dtype(gain, "gain", x.dtype)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    if spec.name == "lrelu":  # (the other activations ignore alpha)
        check_fits_dtype(alpha, "alpha", x.dtype)
    if resolve_impl(impl, x, "bias_act", {"b": b}) == "cuda":
        from bandlimit.ops.cuda import _ops

        if dim == 1 and is_channels_last(x):
            # channels_last: the kernel (contiguous [N, H, W, C] rows, channels innermost) on
            # the permuted view, and back: no copy in, channels_last out, as 'ref' keeps it
            y = _ops.bias_act(x.permute(0, 2, 3, 1), b, 3, spec, alpha, gain, clamp)
            return y.permute(0, 3, 1, 2)
        return _ops.bias_act(x, b, dim, spec, alpha, gain, clamp)
    y = reference.bias_act(x, b, dim, spec, alpha, gain, clamp)
    # The identity (linear, no bias, gain 1, no clamp) computes nothing: a new tensor all the
    # same, so that writing to the output leaves x alone.
    return y.clone() if y is x else y
