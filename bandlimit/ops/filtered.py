"""Filtered activations: upsample → nonlinearity → downsample as one op.

A pointwise nonlinearity creates frequencies above the signal's band; evaluated at the original
sampling rate they alias. Alias-Free GAN therefore evaluates it on a temporarily upsampled signal
and low-pass filters before decimating. Per channel::

    v = x + b
    u = upfirdn(v, fu, up, padding, gain=up²)        (zero insertion → pad → FIR)
    a = clamp(act(u) · gain, −clamp, clamp)
    y = upfirdn(a, fd, down)                           (FIR → keep every down-th sample)

(``up²`` is ``up_x·up_y`` for 2-D ops with per-axis factors, ``up`` for the 1-D op; with a
``padding_mode`` other than 'zeros' the pads extend the signal instead, see
:func:`~bandlimit.ops.filtered_act`.)

The backends differ only in cost: 'ref' composes PyTorch ops and holds only its inputs for
autograd (its backward recomputes the up-sampled pre-activation, where autograd through the
composition held it and its branch masks: 25x to 40x the input for 2x up-sampling in 2-D);
'numba' is one fused polyphase pass per plane whose backward reads a
2-bit sign/clamp mask instead (linear, relu, lrelu with zero padding and no ``down_padding``;
recomputes the pre-activation otherwise); 'cuda' is one fused kernel per output tile for every
activation (every padding mode; the kernel extends the input by whole samples as it loads it,
and, for 'replicate', the activated signal for a positive ``down_padding``; 'circular' with a
positive ``down_padding`` runs the PyTorch ops on the GPU); its backward is the same fused kernel
transposed, reading the same kind of mask for linear/relu/lrelu and otherwise the stored
pre-activation (the up-sampled signal in float32, or float64 for float64 input: its memory).
Without filters (``fu = fd = None``), factors 1 and no padding -- StyleGAN3's ToRGB layer --
'cuda' runs bias_act's element-wise kernel, which computes the same function (its backward with
the filtered ops' gradient conventions). An activation given as a callable (any element-wise
function or module) runs between the backend's up- and down-sampling stages, unfused.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import TypeVar, cast

import torch

from bandlimit.ops import reference
from bandlimit.ops._activations import (
    ACTIVATIONS,
    Activation,
    ParametricActivation,
    get_activation,
    get_filtered_activation,
)
from bandlimit.ops._custom_ops import clamp_arg
from bandlimit.ops._dispatch import HALF_DTYPES, compute_dtype, numba_fits, resolve_impl
from bandlimit.ops._params import (
    Fir,
    Pad4,
    Pair,
    as_factors,
    as_flips,
    as_float,
    as_padding,
    check_bias,
    check_filter,
    check_fits_dtype,
    check_tensor,
    keep_memory_format,
    make_fir,
    make_fir_1d,
    reach_padding,
    upfirdn_out_size,
)


def _run_filtered_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: Activation | ParametricActivation,
    alpha,
    gain: float,
    clamp: float | None,
    impl: str,
    beta: torch.Tensor | None = None,
    mode: str = "zeros",
    dpad: Pad4 = (0, 0, 0, 0),
    unfiltered: bool = False,
) -> torch.Tensor:
    if (
        impl == "cuda"
        and unfiltered  # the caller passed no filters (fu = fd = None)
        and all(f == 1 for f in (*up, *down))
        and not any((*pad, *dpad))
        and ACTIVATIONS.get(act.name) is act
    ):
        # Identity filters, factors 1, no padding (StyleGAN3's ToRGB layer): bias_act's
        # element-wise kernel computes the same function, where the fused kernel would run all
        # its stages on 1-tap filters (0.6-1.1x 'ref' on the H200); its backward with the
        # filtered ops' conventions (the positive branch at 0, only |a| > clamp blocks).
        from bandlimit.ops.cuda import _ops

        return _ops.bias_act(x, b, 1, act, alpha, gain, clamp, filtered_ties=True)
    if impl == "numba" and x.dtype in HALF_DTYPES:
        # in float32, rounded once (the filters already are: compute_dtype), also where the
        # factors send it to the reference
        def wide(t):
            return t.float() if isinstance(t, torch.Tensor) else t

        y = _run_filtered_act(
            x.float(), wide(b), fu, fd, up, down, pad, act, wide(alpha), gain, clamp, impl,
            wide(beta), mode, dpad, unfiltered,
        )
        return y.to(x.dtype)
    if impl != "ref" and reference.fir_learns(fu, fd):
        # Learned filters: the fused kernels take filters as constants; the reference's
        # composition with the backend's upfirdn stages gives them their gradient.
        from bandlimit.ops.upfirdn import run_upfirdn

        def stage(v: torch.Tensor, fir: Fir, u: Pair, d: Pair, p: Pad4) -> torch.Tensor:
            return run_upfirdn(v, fir, u, d, p, impl)

        return reference.filtered_act(x, b, fu, fd, up, down, pad, act, alpha, gain, clamp,
                                      beta=beta, mode=mode, dpad=dpad, stage=stage)  # fmt: skip
    if impl == "numba" and numba_fits(up, down):
        from bandlimit.ops import _library

        if _library.fused_supported(act, mode, dpad):
            return _library.filtered_act_numba(
                x,
                b,
                fu.fx,
                fu.fy,
                fu.f2d,
                fd.fx,
                fd.fy,
                fd.f2d,
                list(up),
                list(down),
                list(pad),
                act.name,
                alpha,
                gain,
                clamp_arg(clamp),
            )
        return _library.filtered_act_general(
            x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad
        )
    if impl == "cuda":
        from bandlimit.ops.cuda import _ops

        return _ops.filtered_act(
            x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad
        )
    return reference.recomputing_filtered_act(
        x, b, fu, fd, up, down, pad, act, alpha, gain, clamp, beta=beta, mode=mode, dpad=dpad
    )


ActFn = Callable[[torch.Tensor], torch.Tensor]


def _held_dtype(act: object) -> torch.dtype | None:
    """The dtype of a module's first floating-point parameter or buffer (None: none)."""
    if isinstance(act, torch.nn.Module):
        for t in (*act.parameters(), *act.buffers()):
            if t.is_floating_point():
                return t.dtype
    return None


def _run_callable_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: ActFn,
    gain: float,
    clamp: float | None,
    impl: str,
    mode: str,
    dpad: Pad4,
    signal_ndim: int,
    dtype: torch.dtype,
) -> torch.Tensor:
    """The pipeline around an activation the kernels have no form of: the op's up-sampling stage
    (act 'linear'), ``act`` in PyTorch on the up-sampled signal, the op's down-sampling stage.
    Autograd runs through ``act``; the up-sampled signal is held for it (the fused kernels'
    memory saving is lost)."""
    if impl == "numba" and x.dtype in HALF_DTYPES:
        # In float32, rounded once (as the kernels); a module whose own tensors are half
        # precision gets its input in their dtype (a module refuses mixed dtypes).
        held = _held_dtype(act)
        act_in_dtype: ActFn = act
        if held in HALF_DTYPES:

            def act_in_dtype(u: torch.Tensor) -> torch.Tensor:
                return act(u.to(held))

            act_in_dtype.__name__ = type(act).__name__
        wide = None if b is None else b.float()
        y = _run_callable_act(x.float(), wide, fu, fd, up, down, pad, act_in_dtype, gain, clamp,
                              impl, mode, dpad, signal_ndim, dtype)  # fmt: skip
        return y.to(x.dtype)
    linear = get_filtered_activation("linear")
    ident = make_fir(None, flip_filter=False, gain=(1.0, 1.0), dtype=dtype, device=x.device)
    u = _run_filtered_act(x, b, fu, ident, up, (1, 1), pad, linear, 0.0, 1.0, None, impl,
                          mode=mode)  # fmt: skip
    # (the 1-D ops run as [N, C, 1, L]: the callable sees the user's layout)
    u_user = u.squeeze(2) if signal_ndim == 1 else u
    a = act(u_user)
    # Element-wise, or mixing channels (alias-free-torch's blocks take any module): the
    # batch and the samples must stay.
    name = getattr(act, "__name__", type(act).__name__)
    if (not isinstance(a, torch.Tensor) or a.ndim != u_user.ndim
            or a.shape[0] != u_user.shape[0] or a.shape[2:] != u_user.shape[2:]):  # fmt: skip
        got = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(
            f"act must return a tensor of its input's batch and samples (element-wise, or "
            f"changing the channels only): {name} returned {got} for the up-sampled signal of "
            f"shape {tuple(u_user.shape)}"
        )
    if not a.is_floating_point():  # (an integer step function, say: no gradient, cast silently)
        raise TypeError(f"act must return a floating-point tensor: {name} returned dtype "
                        f"{a.dtype} for the up-sampled signal of dtype {u_user.dtype} (for a "
                        f"step, return it in the input's dtype: (u > 0).to(u.dtype))")
    a = a.to(u.dtype)
    if signal_ndim == 1:
        a = a.unsqueeze(2)
    if gain != 1.0:
        a = a * gain
    if clamp is not None:
        a = a.clamp(-clamp, clamp)
    return _run_filtered_act(a, None, ident, fd, (1, 1), down, (0, 0, 0, 0), linear, 0.0, 1.0,
                             None, impl, mode=mode, dpad=dpad)  # fmt: skip


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, ...] = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool | tuple[bool, bool] = False,
    impl: str = "auto",
) -> torch.Tensor:
    """Bias, upsample, leaky ReLU, clamp, downsample — StyleGAN3's fused nonlinearity.

    Per channel, with ``upfirdn`` as in :func:`upfirdn2d`::

        u = upfirdn(x + b, fu, up, padding)       (the op multiplies fu by up²)
        a = clamp(lrelu(u; slope) · gain, −clamp, clamp)
        y = upfirdn(a, fd, down)

    :func:`filtered_act` with ``act='lrelu'`` computes the same function.

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        Floating point. 'ref': any device and dtype; 'numba': CPU, float32/float64 (float16 and
        bfloat16 computed in float32, rounded once); 'cuda': CUDA
        float16/bfloat16/float32/float64.
    fu, fd : Tensor ``[taps]``, Tensor ``[h, w]`` or None, default None
        Up- and down-sampling filters in true-convolution orientation (correlation with
        ``flip_filter``): ``[taps]`` is applied separably, ``[h, w]`` (e.g. a radial jinc from
        :func:`bandlimit.filters.lowpass`) as a full 2-D filter; None is the identity. A
        filter that requires grad is learned: the fused kernels take filters as constants, so
        the op then composes the backend's upfirdn stages (which give filter gradients) with
        the activation in PyTorch (the reference's pipeline).
    b : Tensor ``[C]`` or None, default None
        Bias added before upsampling; floating point, on ``x``'s device (cast to ``x``'s dtype).
    up, down : int, default 1
        Factors in [1, 2**30], the same along x and y.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Zero padding of the upsampled signal before ``fu``, in upsampled samples (negative
        values crop).
    gain : float ≥ 0, default √2
        Multiplies the activation's output, before the clamp (for the leaky ReLU the same as
        multiplying its input).
    slope : float, default 0.2
        Negative slope of the leaky ReLU (applied where the upsampled value is < 0); any
        finite value (StyleGAN3 uses 0.2; a negative slope folds the negative side over).
    clamp : float ≥ 0 or None, default None
        Clamp after the gain; the gradient is zero where ``|value| > clamp``. None: no clamp.
    flip_filter : bool or (bool, bool), default False
        Correlate with the filters instead of convolving; a pair sets it per filter,
        ``(fu, fd)``.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend; see :func:`set_default_impl`.

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]``
        ``W_out = (W·up + x0 + x1 − (fu_w − 1) − (fd_w − 1) − 1) // down + 1`` and likewise
        ``H_out`` (``fu_w``, ``fd_w``: the filters' taps along x, 1 for None); same dtype and
        device as ``x``.

    Raises
    ------
    TypeError
        If ``x``, ``fu``, ``fd`` or ``b`` is not a floating-point tensor, or an argument has
        the wrong type.
    ValueError
        If a shape or device is wrong, a factor is outside [1, 2**30], ``gain`` or
        ``clamp`` is negative, an intermediate or the output would be empty, or the requested
        backend cannot run on ``x``.

    Notes
    -----
    Gradients flow to ``x``, ``b`` and a filter that requires grad, to any order (a learned
    filter runs unfused: see ``fu, fd``): 'ref' holds only ``x``, ``b`` for autograd and
    recomputes the up-sampled signal in its backward, PyTorch ops again; 'numba'
    and 'cuda' compute the first order with a fused backward kernel that reads a 2-bit
    sign/clamp mask stored by the forward, and higher orders through the reference formula.
    At the ties every backend follows StyleGAN3's fused kernel: an upsampled value of exactly
    0 takes the positive branch, and the clamp blocks the gradient only where
    ``|lrelu(u)·gain| > clamp``.

    Examples
    --------
    A StyleGAN3-like layer: 2x upsampling with a 12-tap Kaiser low-pass designed at the
    doubled rate, leaky ReLU, the same low-pass and 2x downsampling, padded so that the
    16x16 input stays 16x16. A constant input comes out multiplied by the gain √2:

    >>> import torch
    >>> from bandlimit.filters import lowpass
    >>> from bandlimit.ops import filtered_lrelu
    >>> f = lowpass(12, cutoff=8, width=8, fs=32)
    >>> f.shape
    torch.Size([12])
    >>> x = torch.ones(1, 4, 16, 16)
    >>> y = filtered_lrelu(x, f, f, up=2, down=2, padding=(11, 10, 11, 10))
    >>> y.shape, y.dtype
    (torch.Size([1, 4, 16, 16]), torch.float32)
    >>> round(float(y[0, 0, 8, 8]), 4)
    1.4142

    With a bias, a clamp and gradients; the backends agree:

    >>> x = torch.linspace(-2, 2, 4 * 16 * 16).reshape(1, 4, 16, 16).requires_grad_()
    >>> b = torch.zeros(4, requires_grad=True)
    >>> kw = dict(up=2, down=2, padding=(11, 10, 11, 10), clamp=256)
    >>> y = filtered_lrelu(x, f, f, b, **kw)
    >>> torch.allclose(y, filtered_lrelu(x, f, f, b, impl="ref", **kw), atol=1e-5)
    True
    >>> y.square().sum().backward()
    >>> x.grad.shape, b.grad.shape
    (torch.Size([1, 4, 16, 16]), torch.Size([4]))
    """
    x = check_tensor(x, "x", (4,), "[N, C, H, W]")
    fu, fd = check_filter(fu, "fu", x=x), check_filter(fd, "fd", x=x)
    b = check_bias(b, x.shape[1], x.device)
    upx, downx = as_factors(up, "up", ndim=1)[0], as_factors(down, "down", ndim=1)[0]
    pad = as_padding(padding)
    gain = as_float(gain, "gain", nonnegative=True)
    check_fits_dtype(gain, "gain", x.dtype)
    slope = as_float(slope, "slope")  # (any finite slope, as bias_act's and filtered_act's)
    check_fits_dtype(slope, "slope", x.dtype)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    impl = resolve_impl(impl, x, "filtered_lrelu", {"b": b, "fu": fu, "fd": fd})

    flip_u, flip_d = as_flips(flip_filter)
    dtype, device = compute_dtype(x, impl), x.device
    b = _in_dtype(b, dtype)
    fu_n = make_fir(
        fu, flip_filter=flip_u, gain=(float(upx), float(upx)), dtype=dtype, device=device, name="fu"
    )
    fd_n = make_fir(fd, flip_filter=flip_d, gain=(1.0, 1.0), dtype=dtype, device=device, name="fd")
    up2, down2 = (upx, upx), (downx, downx)
    hw = (x.shape[2], x.shape[3])
    hu, wu = upfirdn_out_size(hw, fu_n, up2, (1, 1), pad, "filtered_lrelu (fu)")
    upfirdn_out_size((hu, wu), fd_n, (1, 1), down2, (0, 0, 0, 0), "filtered_lrelu (fd)")
    pad = reach_padding(hw, up2, pad)
    y = _run_filtered_act(
        x, b, fu_n, fd_n, up2, down2, pad, get_activation("lrelu"), slope, gain, clamp, impl,
        unfiltered=fu is None and fd is None,
    )
    return keep_memory_format(y, x)


# ------------------------------------------------------------------------------------------
# Any activation, 1-D and 2-D


def _check_mode(mode: object, x: torch.Tensor) -> str:
    """``padding_mode``, and the samples it needs (``x`` as the caller passed it)."""
    mode = reference.check_padding_mode(mode)
    if mode != "zeros" and 0 in x.shape[2:]:
        raise ValueError(
            f"x must have samples to extend with padding_mode={mode!r}, got shape "
            f"{tuple(x.shape)}: an empty signal (only padding_mode='zeros' pads one)"
        )
    return mode


def _channel_param(v: object, name: str, act: object, x: torch.Tensor) -> torch.Tensor:
    channels = x.shape[1]
    if v is None:
        raise ValueError(
            f"act={act!r} needs {name}: a tensor of shape [{channels}] (one value per channel) "
            "or a number, got None"
        )
    if not isinstance(v, torch.Tensor):
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            v = as_float(v, name)
            check_fits_dtype(v, name, x.dtype)
            wide = torch.promote_types(x.dtype, torch.float32)  # (cast once the backend is known)
            return torch.full((channels,), v, dtype=wide, device=x.device)
        raise TypeError(
            f"{name} must be a torch.Tensor of shape [{channels}] or a number for act={act!r}, "
            f"got {type(v).__name__}"
        )
    if v.ndim != 1 or v.shape[0] != channels:
        raise ValueError(
            f"{name} must have shape [{channels}] (one value per channel) for act={act!r}, got "
            f"shape {tuple(v.shape)}: the input x has {channels} channels "
            f"(x.shape = {tuple(x.shape)})"
        )
    if not v.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {v.dtype}")
    if v.device != x.device:
        raise ValueError(f"{name} must be on x's device {x.device}, got {v.device}")
    return v  # (cast to the dtype the backend computes in by the op: _in_dtype)


_T = TypeVar("_T")


def _in_dtype(t: _T, dtype: torch.dtype) -> _T:
    """A bias or activation parameter in the op's compute dtype (``x``'s, but float32 for half
    precision on the numba kernels, so that a float32 α or bias is not rounded to half first);
    numbers and None as they are."""
    return t.to(dtype) if isinstance(t, torch.Tensor) else t  # type: ignore[return-value]


def _act_args(
    act: object, alpha: object, beta: object, gain: object, x: torch.Tensor
) -> tuple[
    Activation | ParametricActivation | None, float | torch.Tensor, torch.Tensor | None, float
]:
    """``(spec, alpha, beta, gain)`` validated: float alpha for scalar acts, ``[C]`` tensors for
    parametric ones; ``spec`` None for a callable ``act`` (gain 1 by default)."""
    if isinstance(act, type):
        raise TypeError(
            f"act must be an activation name or a callable instance, got the class "
            f"{act.__name__} (pass {act.__name__}(), an instance)"
        )
    if callable(act):
        for name, value in (("alpha", alpha), ("beta", beta)):
            if value is not None:
                raise ValueError(
                    f"{name} is a parameter of the op's named activations; a callable act "
                    f"({getattr(act, '__name__', type(act).__name__)}) carries its own, got "
                    f"{name}={value!r}"
                )
        spec, alpha, beta, default_gain = None, 0.0, None, 1.0
    elif not isinstance(act, str):
        raise TypeError(
            f"act must be an activation name or a callable (an element-wise function or "
            f"module), got {type(act).__name__} {act!r}"
        )
    else:
        spec = get_filtered_activation(act)
        alpha, beta = _named_act_params(spec, act, alpha, beta, x)
        default_gain = spec.default_gain
    gain = default_gain if gain is None else as_float(gain, "gain", nonnegative=True)
    check_fits_dtype(gain, "gain", x.dtype)
    return spec, alpha, beta, gain


def _named_act_params(
    spec: Activation | ParametricActivation, act: str, alpha: object, beta: object,
    x: torch.Tensor,
) -> tuple[float | torch.Tensor, torch.Tensor | None]:
    """A named activation's ``alpha``/``beta``: float alpha for scalar acts, ``[C]`` tensors
    for parametric ones."""
    if isinstance(spec, ParametricActivation):
        alpha = _channel_param(alpha, "alpha", act, x)
        if "beta" in spec.params:
            beta = _channel_param(beta, "beta", act, x)
        elif beta is not None:
            raise ValueError(f"beta is only a parameter of act='snakebeta', got beta for {act!r}")
    else:
        if beta is not None:
            raise ValueError(f"beta is only a parameter of act='snakebeta', got beta for {act!r}")
        if isinstance(alpha, torch.Tensor):
            raise TypeError(
                f"alpha must be a number for act={act!r} (per-channel tensors are for snake and "
                f"snakebeta), got a tensor of shape {tuple(alpha.shape)}"
            )
        alpha = spec.default_alpha if alpha is None else as_float(alpha, "alpha")
    return alpha, beta


def filtered_act(
    x: torch.Tensor,
    act: str | ActFn,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int | tuple[int, int] = 1,
    down: int | tuple[int, int] = 1,
    padding: int | tuple[int, ...] = 0,
    padding_mode: str = "zeros",
    gain: float | None = None,
    clamp: float | None = None,
    alpha: float | torch.Tensor | None = None,
    beta: float | torch.Tensor | None = None,
    flip_filter: bool | tuple[bool, bool] = False,
    impl: str = "auto",
    *,
    down_padding: int | tuple[int, ...] = 0,
) -> torch.Tensor:
    """Bias, upsample, any nonlinearity, clamp, downsample: an alias-free activation on images.

    Per channel, with ``E`` the extension by ``padding_mode``::

        v = x + b
        u = upfirdn(E(v), fu, up, padding)            (gain up_x·up_y carried by fu)
        a = clamp(act(u; alpha, beta) · gain, −clamp, clamp)
        y = upfirdn(E(a), fd, down, down_padding)

    Parameters
    ----------
    x : Tensor ``[N, C, H, W]``
        Floating point. 'ref': any device and dtype; 'numba': CPU, float32/float64 (float16 and
        bfloat16 computed in float32, rounded once); 'cuda': CUDA
        float16/bfloat16/float32/float64.
    act : str or callable
        linear, relu, lrelu (slope ``alpha``, default 0.2), tanh, sigmoid, elu, selu, softplus,
        swish = silu (``u·sigmoid(u)``), gelu (exact, ``u·Φ(u)``), gelu_tanh (tanh
        approximation), snake (``u + sin²(αu)/(α + 1e-9)``), snakebeta
        (``u + sin²(αu)/(β + 1e-9)``): fused. Or any callable — a function
        (``torch.nn.functional.mish``) or module (``nn.Mish()``, a module with its own
        parameters) mapping the up-sampled ``[N, C, H_u, W_u]`` tensor to one of the same batch
        and size (element-wise, or with other channels: a module mixing them): not fused (see
        Notes); it takes no ``alpha``/``beta`` and its default gain is 1.
    fu, fd : Tensor ``[taps]`` (separable), ``[h, w]`` (full 2-D) or None, default None
        Up- and down-sampling filters, true-convolution orientation unless ``flip_filter``;
        None is the identity. A filter that requires grad is learned, as in
        :func:`filtered_lrelu` (the backend's upfirdn stages around the activation in PyTorch).
    b : Tensor ``[C]`` or None, default None
        Bias added first; floating point, on ``x``'s device.
    up, down : int or ``(x, y)``, default 1
        Factors in [1, 2**30]; an int applies to both axes.
    padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, default 0
        Padding of the upsampled signal before ``fu``, in upsampled samples (negative values
        crop), as in :func:`filtered_lrelu`.
    padding_mode : {'zeros', 'replicate', 'circular'}, default 'zeros'
        What the padded samples are. 'zeros': StyleGAN3. 'replicate' / 'circular': the input
        is extended at its own rate (edge sample repeated / signal repeated) and then
        zero-inserted, as alias-free-torch and BigVGAN do; with 'circular' the op commutes
        exactly with circular shifts by ``k`` samples whenever ``k·up/down`` and
        ``L·up/down`` (the output length) are integers (take ``p0 + p1 = K_u − 1`` and
        ``down_padding`` summing to ``K_d − 1``).
    gain : float ≥ 0 or None, default None
        Multiplies the activation's output; None = the activation's default (√2 for relu,
        lrelu, swish/silu; 1 otherwise).
    clamp : float ≥ 0 or None, default None
        Clamp after the gain; the gradient is zero where ``|value| > clamp``. None: no clamp.
    alpha : float, Tensor ``[C]`` or None, default None
        lrelu: the negative slope (a float; the other scalar activations ignore it). snake,
        snakebeta: per-channel frequency ``α`` (required; a number means the same value for
        every channel). Gradients flow to tensors.
    beta : Tensor ``[C]``, float or None, default None
        snakebeta only: per-channel magnitude ``β`` (required).
    flip_filter : bool or (bool, bool), default False
        Correlate with the filters instead of convolving; a pair sets it per filter,
        ``(fu, fd)``. BigVGAN's blocks are ``(False, True)``: a transposed convolution up, a
        correlation down.
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto'
        Backend; see :func:`set_default_impl`.
    down_padding : int, ``(px, py)`` or ``(x0, x1, y0, y1)``, keyword-only, default 0
        Padding of the activated signal before ``fd``, with the same ``padding_mode``.
        0 (default) is StyleGAN3's convention; BigVGAN's down-sampler pads ``K//2 − 1`` before
        and ``K//2`` after.

    Returns
    -------
    Tensor ``[N, C, H_out, W_out]``
        With ``W_u = W·up_x + x0 + x1 − fu_w + 1`` the upsampled width,
        ``W_out = (W_u + dx0 + dx1 − fd_w) // down_x + 1`` (``dx0``, ``dx1``: ``down_padding``
        along x) and likewise ``H_out``; same dtype and device as ``x``.

    Raises
    ------
    TypeError
        If a tensor argument is not floating point, ``alpha`` is a tensor for a scalar
        activation, or an argument has the wrong type.
    ValueError
        If ``act`` or ``padding_mode`` is unknown, snake/snakebeta lack ``alpha``/``beta``,
        ``beta`` is given for another activation, a shape or device is wrong, an intermediate
        or the output would be empty, or the requested backend cannot run on ``x``.

    Notes
    -----
    Gradients flow to ``x``, ``b``, tensor ``alpha``/``beta`` and filters that require grad
    (unfused); to any order with 'ref'.

    A callable ``act`` runs between two calls of the op (act 'linear'), the up-sampling stage
    and the down-sampling stage, on the chosen backend: the same function, but the up-sampled
    signal is materialised (``up_x·up_y`` times the input's memory, held for autograd, which
    runs through the callable: any order, the callable's parameters included). Prefer a name
    where one exists: ``'gelu'`` runs fused, ``nn.GELU()`` does not (the modules of
    :mod:`bandlimit.nn` map the standard torch activations to names).
    'ref' holds only its inputs (``x``, ``b``, tensor ``alpha``/``beta``) for autograd: its
    backward recomputes the up-sampled pre-activation (one up-sampling pass more) and runs the
    transposed stages in PyTorch ops, so it is differentiable again, to any order; it costs
    1.0–1.3x the time of autograd through the composition, which held the up-sampled signal
    and its branch masks, 25x (lrelu) to 40x (Snake) the input for 2x up-sampling with 12-tap
    filters in 2-D (``benchmarks/ref_autograd.py``). As with the fused backends, ``x`` must
    not be changed in place before the backward (autograd says so). Learned filters,
    torch.compile (which picks what its backward keeps itself), torch.func transforms and
    forward-mode AD see the composition itself.
    'numba' runs every activation and padding mode as one fused polyphase kernel per plane.
    lrelu/relu/linear with zero padding and no ``down_padding`` keep a 2-bit branch mask for
    backward; the others recompute the upsampled pre-activation in the backward kernel instead
    of storing it.
    (Circular padding with a negative ``down_padding`` runs unfused polyphase stages.)

    'cuda' runs one fused kernel per output tile for every activation above (snake/snakebeta
    read their per-channel ``alpha``/``beta`` in the kernel) with ``padding_mode='zeros'`` and
    any ``down_padding``, with 'replicate' / 'circular' when no ``down_padding`` entry is
    positive (the kernel extends the input by whole samples as it loads it), and with
    'replicate' and a positive ``down_padding`` below the down filter's taps (BigVGAN's
    ``Activation1d``: the kernel replicates the activated signal's edges). Backward: the
    transposed fused kernel, first order. Linear, relu and lrelu read a 2-bit branch mask; the
    other activations, and 'replicate' with a positive ``down_padding``, read the up-sampled
    pre-activation that the forward stored (float32, float64 for float64 input: up_x·up_y times
    the input's samples; where that memory is short, ``torch.utils.checkpoint`` recomputes it in
    the backward instead), fold the gradient of the replicated edges back, and sum the
    ``alpha``/``beta`` gradients per block, then per channel (deterministic). Higher orders go
    through the reference formula on the CUDA upfirdn kernel. Fallback, not fused: 'circular'
    with a positive ``down_padding``, or a ``down_padding`` of at least the taps, runs the 'ref'
    composition of PyTorch ops on the GPU (same results and gradients, more memory traffic).
    Without filters, factors 1 and no padding (StyleGAN3's ToRGB layer) 'cuda' runs
    :func:`bias_act`'s element-wise kernel.

    Where the derivative is a convention every backend follows StyleGAN3's fused kernel: a
    pre-activation of exactly 0 takes the positive branch, and the clamp blocks the gradient
    only where ``|act(u)·gain| > clamp``.

    Examples
    --------
    GELU on images, 2x up and down with BigVGAN's padding and edge replication: a separable
    12-tap Kaiser low-pass up, a radial (jinc) one down. A constant input stays constant up to
    the borders:

    >>> import torch
    >>> from bandlimit.filters import lowpass
    >>> from bandlimit.ops import filtered_act
    >>> fu = lowpass(12, cutoff=8, width=8, fs=32)
    >>> fd = lowpass(12, cutoff=8, width=8, fs=32, radial=True)
    >>> fu.shape, fd.shape
    (torch.Size([12]), torch.Size([12, 12]))
    >>> x = torch.ones(1, 2, 8, 8)
    >>> y = filtered_act(x, "gelu", fu, fd, up=2, down=2, padding=(6, 5, 6, 5),
    ...                  padding_mode="replicate", down_padding=(5, 6, 5, 6))
    >>> y.shape
    torch.Size([1, 2, 8, 8])
    >>> round(float(y[0, 0, 4, 4]), 4), round(float(y[0, 0, 0, 0]), 4)   # GELU(1) = Φ(1)
    (0.8413, 0.8413)
    """
    x = check_tensor(x, "x", (4,), "[N, C, H, W]")
    spec, alpha, beta, gain = _act_args(act, alpha, beta, gain, x)
    fu, fd = check_filter(fu, "fu", x=x), check_filter(fd, "fd", x=x)
    b = check_bias(b, x.shape[1], x.device)
    up2, down2 = as_factors(up, "up"), as_factors(down, "down")
    pad = as_padding(padding)
    mode = _check_mode(padding_mode, x)
    dpad = as_padding(down_padding, "down_padding")
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    impl = resolve_impl(impl, x, "filtered_act",
                        {"b": b, "alpha": alpha, "beta": beta, "fu": fu, "fd": fd})  # fmt: skip
    flip_u, flip_d = as_flips(flip_filter)
    dtype, device = compute_dtype(x, impl), x.device
    b, alpha, beta = _in_dtype(b, dtype), _in_dtype(alpha, dtype), _in_dtype(beta, dtype)
    fu_n = make_fir(
        fu, flip_filter=flip_u, gain=(float(up2[0]), float(up2[1])), dtype=dtype, device=device,
        name="fu",
    )
    fd_n = make_fir(fd, flip_filter=flip_d, gain=(1.0, 1.0), dtype=dtype, device=device, name="fd")
    hw = (x.shape[2], x.shape[3])
    hu, wu = upfirdn_out_size(hw, fu_n, up2, (1, 1), pad, "filtered_act (fu)")
    upfirdn_out_size((hu, wu), fd_n, (1, 1), down2, dpad, "filtered_act (fd)")
    if mode == "zeros":
        pad = reach_padding(hw, up2, pad)
        dpad = reach_padding((hu, wu), (1, 1), dpad)
    if spec is None:
        y = _run_callable_act(x, b, fu_n, fd_n, up2, down2, pad, cast(ActFn, act), gain, clamp,
                              impl, mode, dpad, signal_ndim=2, dtype=dtype)  # fmt: skip
    else:
        y = _run_filtered_act(
            x, b, fu_n, fd_n, up2, down2, pad, spec, alpha, gain, clamp, impl, beta, mode, dpad,
            unfiltered=fu is None and fd is None,
        )
    return keep_memory_format(y, x)


def filtered_act1d(
    x: torch.Tensor,
    act: str | ActFn,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int | tuple[int, int] = 0,
    padding_mode: str = "zeros",
    gain: float | None = None,
    clamp: float | None = None,
    alpha: float | torch.Tensor | None = None,
    beta: float | torch.Tensor | None = None,
    flip_filter: bool | tuple[bool, bool] = False,
    impl: str = "auto",
    *,
    down_padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """:func:`filtered_act` on 1-D signals ``x [N, C, L]`` (audio): the alias-free activation of
    BigVGAN-style vocoders.

    The same pipeline as :func:`filtered_act` along the last axis; the op multiplies ``fu`` by
    ``up`` (pass a unit-sum filter). BigVGAN's ``Activation1d`` (ratio r, K taps, replicate padding)
    is ``padding=(K − 1 − (K − r)//2, (K − r)//2)``, ``down_padding=(K//2 − 1, K//2)`` (even K).
    With ``impl='cuda'`` that configuration runs the fused kernel for every activation (the
    kernel replicates the activated signal's edges; ratio 2 with 12 taps has a specialised
    kernel); see :func:`filtered_act`, Notes.

    Parameters
    ----------
    x : Tensor ``[N, C, L]``
        Floating point; devices and dtypes per backend as in :func:`filtered_act`.
    act : str or callable
        As in :func:`filtered_act` (e.g. 'snake', 'snakebeta', 'lrelu', 'silu'); a callable gets
        the up-sampled ``[N, C, L_u]`` signal.
    fu, fd : Tensor ``[taps]`` or None, default None
        Up- and down-sampling filters (e.g. :func:`bandlimit.filters.kaiser_sinc_bigvgan`); a
        filter that requires grad is learned, as in :func:`filtered_act`.
    b : Tensor ``[C]`` or None, default None
        Bias added first.
    up, down : int, default 1
        Factors in [1, 2**30].
    padding : int or ``(p0, p1)``, default 0
        Padding of the upsampled signal before ``fu`` (negative values crop).
    padding_mode : {'zeros', 'replicate', 'circular'}, default 'zeros'
        As in :func:`filtered_act`.
    gain, clamp, alpha, beta, flip_filter, impl
        As in :func:`filtered_act`: ``alpha``/``beta`` of snake and snakebeta are ``[C]``
        tensors or numbers.
    down_padding : int or ``(d0, d1)``, keyword-only, default 0
        Padding of the activated signal before ``fd``, with the same ``padding_mode``.

    Returns
    -------
    Tensor ``[N, C, L_out]``
        With ``L_u = L·up + p0 + p1 − K_u + 1`` the upsampled length,
        ``L_out = (L_u + d0 + d1 − K_d) // down + 1``; same dtype and device as ``x``.

    Raises
    ------
    TypeError
        As :func:`filtered_act` (an argument of the wrong type).
    ValueError
        As :func:`filtered_act` (a wrong value, shape or device, an empty output, or a backend that
        cannot run on ``x``).

    Notes
    -----
    Gradients and backends as in :func:`filtered_act`: to ``x``, ``b`` and tensor
    ``alpha``/``beta``, of any order.

    Examples
    --------
    BigVGAN's anti-aliased snake (ratio 2, 12 taps, replicate padding) on a batch of two
    4-channel signals, with a learnable per-channel ``alpha``:

    >>> import torch
    >>> from bandlimit.filters import kaiser_sinc_bigvgan
    >>> from bandlimit.ops import filtered_act1d
    >>> f = kaiser_sinc_bigvgan(cutoff=0.25, half_width=0.3, kernel_size=12)
    >>> alpha = torch.ones(4, requires_grad=True)
    >>> x = torch.ones(2, 4, 32)
    >>> y = filtered_act1d(x, "snake", f, f, up=2, down=2, padding=(6, 5),
    ...                    padding_mode="replicate", down_padding=(5, 6), alpha=alpha,
    ...                    flip_filter=(False, True))
    >>> y.shape
    torch.Size([2, 4, 32])
    >>> round(y[0, 0, 16].item(), 4)   # snake(1) = 1 + sin²(1)
    1.7081
    >>> y.sum().backward()
    >>> alpha.grad.shape
    torch.Size([4])
    """
    x = check_tensor(x, "x", (3,), "[N, C, L]")
    spec, alpha, beta, gain = _act_args(act, alpha, beta, gain, x)
    fu, fd = check_filter(fu, "fu", (1,), x), check_filter(fd, "fd", (1,), x)
    b = check_bias(b, x.shape[1], x.device)
    up2, down2 = as_factors(up, "up", ndim=1), as_factors(down, "down", ndim=1)
    pad = as_padding(padding, ndim=1)
    mode = _check_mode(padding_mode, x)
    dpad = as_padding(down_padding, "down_padding", ndim=1)
    clamp = as_float(clamp, "clamp", nonnegative=True, allow_none=True)
    check_fits_dtype(clamp, "clamp", x.dtype, " or None for no clamp")
    impl = resolve_impl(impl, x, "filtered_act1d",
                        {"b": b, "alpha": alpha, "beta": beta, "fu": fu, "fd": fd})  # fmt: skip
    flip_u, flip_d = as_flips(flip_filter)
    dtype, device = compute_dtype(x, impl), x.device
    b, alpha, beta = _in_dtype(b, dtype), _in_dtype(alpha, dtype), _in_dtype(beta, dtype)
    fu_n = make_fir_1d(
        fu, flip_filter=flip_u, gain=float(up2[0]), dtype=dtype, device=device, name="fu"
    )
    fd_n = make_fir_1d(fd, flip_filter=flip_d, gain=1.0, dtype=dtype, device=device, name="fd")
    hu, wu = upfirdn_out_size((1, x.shape[2]), fu_n, up2, (1, 1), pad, "filtered_act1d (fu)", 1)
    upfirdn_out_size((hu, wu), fd_n, (1, 1), down2, dpad, "filtered_act1d (fd)", 1)
    if mode == "zeros":
        pad = reach_padding((1, x.shape[2]), up2, pad)
        dpad = reach_padding((hu, wu), (1, 1), dpad)
    if spec is None:
        y = _run_callable_act(
            x.unsqueeze(2), b, fu_n, fd_n, up2, down2, pad, cast(ActFn, act), gain, clamp, impl,
            mode, dpad, signal_ndim=1, dtype=dtype,
        )
    else:
        y = _run_filtered_act(
            x.unsqueeze(2), b, fu_n, fd_n, up2, down2, pad, spec, alpha, gain, clamp, impl, beta,
            mode, dpad, unfiltered=fu is None and fd is None,
        )
    return keep_memory_format(y.squeeze(2), x)
