"""torch.library registration of the Numba backend.

Each fused kernel is a ``custom_op`` with a fake (meta) implementation, so ``torch.compile``,
``torch.export`` and ``opcheck`` see shapes without running Numba, and an autograd formula:

* ``upfirdn_numba``: the gradient is the transposed upfirdn, which is again ``upfirdn_numba``, so
  gradients of any order follow.
* ``filtered_act_numba`` (piecewise-linear acts, zero padding): the forward also returns a
  compact mask of the activation's branches (2 bits per read upsampled sample). The first-order
  backward is one fused transposed pass that reads it (``filtered_act_numba_backward``). When a
  graph of the gradient is requested (double backward, e.g. R1), the backward instead
  differentiates the reference formula, which is slower but exact to any order.
* ``filtered_act_any_numba`` (every activation, every padding mode, ``down_padding``): one fused
  pass too; the padding modes extend the staged input and the activated signal inside the
  kernel (and the backward folds the extension's gradient back). Nothing of the forward is
  stored but its inputs: the fused backward (``filtered_act_any_numba_backward``) recomputes
  the upsampled pre-activation from ``x`` and also returns per-plane partial sums of the snake
  parameters' gradients. Double backward goes through the reference formula.
* :func:`filtered_act_general` dispatches between that and, for what the fused kernel does not
  cover (circular padding with a cropping ``down_padding``), the numba upfirdn kernels around a
  PyTorch activation (:func:`reference.filtered_act_vjp` on the numba stages in the backward).

Annotations stay real types (no ``from __future__ import annotations``): ``custom_op`` reads them
to build the schema.
"""

from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor

from bandlimit.ops import _numba as kernels
from bandlimit.ops import reference
from bandlimit.ops._activations import (
    ParametricActivation,
    get_activation,
    get_filtered_activation,
)
from bandlimit.ops._custom_ops import (
    clamp_arg,
    clamp_value,
    define_op,
    define_upfirdn,
    kernel_clamp,
)
from bandlimit.ops._params import Fir, filtered_sizes, stage_out_size

# Outputs are tensors of their own, not views of the kernels' arrays: a view returned by an
# autograd Function (or custom op) cannot be changed in place afterwards (y.mul_(2) would raise).
# Nor are they ``torch.from_numpy`` arrays, and inputs are not seen through ``Tensor.numpy()``:
# either leaves the storage unresizable for good (a later ``resize_``, or an ``out=`` that
# grows it, would raise where 'ref' works). The kernels see tensors through :func:`_view`.

_NUMPY_TYPES = {
    torch.float32: np.dtype(np.float32).str,
    torch.float64: np.dtype(np.float64).str,
    torch.uint8: np.dtype(np.uint8).str,
}
_TORCH_TYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_PLACEHOLDER = np.zeros(1, np.uint8)
_NONNULL = _PLACEHOLDER.ctypes.data  # a valid address for empty tensors' arrays (see _Held)


class _Held:
    """A contiguous CPU tensor's memory as numpy reads it (``__array_interface__``); the array
    made from it keeps this, and so the tensor, alive."""

    __slots__ = ("__array_interface__", "tensor")

    def __init__(self, t: Tensor):
        self.tensor = t
        self.__array_interface__ = {
            # an empty tensor's is 0, which numpy < 1.25 takes for "no buffer" (and then fails
            # reading the object as a sequence); numpy never reads an empty array's memory
            "data": (t.data_ptr() or _NONNULL, False),
            "shape": tuple(t.shape),
            "typestr": _NUMPY_TYPES[t.dtype],
            "version": 3,
        }


def _view(t: Tensor) -> np.ndarray:
    """A numpy array on the memory of the contiguous tensor ``t``, leaving its storage as it
    was (resizable)."""
    if t.dtype not in _NUMPY_TYPES:
        return t.numpy()
    return np.asarray(_Held(t))


def _alloc(shape: tuple, dtype) -> np.ndarray:
    """The kernels' output allocator: an empty tensor's memory (:func:`_tensor` gets it back)."""
    # on the CPU whatever torch.set_default_device says: the kernels write this memory
    return _view(torch.empty(shape, dtype=_TORCH_TYPES[np.dtype(dtype)], device="cpu"))


def _tensor(a: np.ndarray, *shape: int) -> Tensor:
    """The tensor whose memory ``a`` (from :func:`_alloc`, perhaps reshaped) is, reshaped to
    ``shape`` in place: not a view (an op's output that is a view cannot be changed in place)."""
    base: Any = a  # (numpy types .base as an array or None; here the chain ends at a _Held)
    while not isinstance(base, _Held):
        base = base.base
    return base.tensor.resize_(shape)


def _np(t: Optional[Tensor]):
    """A numpy view of ``t`` (a copy if it is not contiguous). Every op call converts a few
    tensors: only the conversions each needs (a tensor op costs about a microsecond)."""
    if t is None:
        return None
    if t.requires_grad:
        t = t.detach()
    return _view(t if t.is_contiguous() else t.contiguous())


_FILTER_VIEWS: dict[int, tuple[Tensor, int, torch.dtype, np.ndarray]] = {}


def _filter_views(*filters: Optional[Tensor]) -> tuple:
    """:func:`_np` of normalised filter tensors (or None), kept for the next call: calls pass
    the same cached filters again and again (:func:`~bandlimit.ops._params.cached_constant`),
    and a lookup costs less than a view. Keyed by the tensor, which the entry holds (so that
    its id is not reused), and checked against its memory address, dtype, shape and contiguity
    (a resized tensor, or one given other memory through ``.data``, gets a new view; a write in
    place shows through the view). Bounded."""
    views = []
    for t in filters:
        hit = None if t is None else _FILTER_VIEWS.get(id(t))
        if (hit is not None and hit[0] is t and hit[1] == t.data_ptr() and hit[2] == t.dtype
                and hit[3].shape == t.shape and t.is_contiguous()):
            views.append(hit[3])
            continue
        view = _np(t)
        if t is not None and t.is_contiguous():
            if len(_FILTER_VIEWS) >= 256:
                _FILTER_VIEWS.clear()
            _FILTER_VIEWS[id(t)] = (t, t.data_ptr(), t.dtype, view)
        views.append(view)
    return tuple(views)


def _planes(x: Tensor):
    n, c, h, w = x.shape
    return _np(x).reshape(n * c, h, w)


# ------------------------------------------------------------------------------------------
# upfirdn


def _upfirdn_kernel(x, fx, fy, f2d, up, down, pad):
    n, c, h, w = x.shape
    if n * c == 0:
        return x.new_zeros(n, c, *stage_out_size((h, w), Fir(fx, fy, f2d), up, down, pad))
    y = kernels.upfirdn(
        _planes(x), *_filter_views(fx, fy, f2d), tuple(up), tuple(down), tuple(pad), _alloc
    )
    return _tensor(y, n, c, *y.shape[1:])


upfirdn_numba = define_upfirdn("upfirdn_numba", "cpu", _upfirdn_kernel)


# ------------------------------------------------------------------------------------------
# filtered activation


def _fa_fwd_kernel(
    x: Tensor,
    b: Optional[Tensor],
    fux: Optional[Tensor],
    fuy: Optional[Tensor],
    fu2d: Optional[Tensor],
    fdx: Optional[Tensor],
    fdy: Optional[Tensor],
    fd2d: Optional[Tensor],
    up: list[int],
    down: list[int],
    pad: list[int],
    act: str,
    alpha: float,
    gain: float,
    clamp: float,
    save_mask: bool,
) -> tuple[Tensor, Tensor]:
    n, c = x.shape[:2]
    if n * c == 0:
        y, mask = _fa_fwd_fake(x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha,
                               gain, clamp, save_mask)  # fmt: skip
        return torch.zeros_like(y), torch.zeros_like(mask)
    y, mask = kernels.filtered_act_forward(
        _planes(x),
        _np(b),
        c,
        _filter_views(fux, fuy, fu2d),
        _filter_views(fdx, fdy, fd2d),
        tuple(up),
        tuple(down),
        tuple(pad),
        gain,
        kernels.ACT_CODES[act],
        alpha,
        kernel_clamp(clamp),
        save_mask,
        _alloc,
    )
    if save_mask:
        mask_t = torch.from_numpy(mask)
    else:
        mask_t = torch.empty(0, dtype=torch.uint8, device="cpu")
    return _tensor(y, n, c, *y.shape[1:]), mask_t


def _fa_fwd_fake(x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha, gain, clamp,
                 save_mask):
    n, c, h, w = x.shape
    fu, fd = Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d)
    hu, wu, ho, wo = filtered_sizes((h, w), fu, fd, up, down, pad)
    mshape = kernels.mask_shape(n * c, hu, wu, ho, wo, fd.size, tuple(down)) if save_mask else (0,)
    return x.new_empty(n, c, ho, wo), x.new_empty(mshape, dtype=torch.uint8)


def _fa_bwd_kernel(
    dy: Tensor,
    mask: Tensor,
    h: int,
    w: int,
    fux: Optional[Tensor],
    fuy: Optional[Tensor],
    fu2d: Optional[Tensor],
    fdx: Optional[Tensor],
    fdy: Optional[Tensor],
    fd2d: Optional[Tensor],
    up: list[int],
    down: list[int],
    pad: list[int],
    act: str,
    alpha: float,
    gain: float,
) -> Tensor:
    n, c = dy.shape[:2]
    if n * c == 0:
        return dy.new_zeros(n, c, h, w)
    dx = kernels.filtered_act_backward(
        _planes(dy),
        mask.numpy(),
        (h, w),
        _filter_views(fux, fuy, fu2d),
        _filter_views(fdx, fdy, fd2d),
        tuple(up),
        tuple(down),
        tuple(pad),
        gain,
        kernels.ACT_CODES[act],
        alpha,
        _alloc,
    )
    return _tensor(dx, n, c, h, w)


def _fa_bwd_fake(dy, mask, h, w, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha,
                 gain):
    return dy.new_empty(dy.shape[0], dy.shape[1], h, w)


def _fa_setup(ctx, inputs, output):
    x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha, gain, clamp, _ = inputs
    ctx.save_for_backward(x, b, output[1])
    ctx.filters = (fux, fuy, fu2d, fdx, fdy, fd2d)
    ctx.args = (list(up), list(down), list(pad), act, alpha, gain, clamp)


def _fa_backward(ctx, grad_y, _grad_mask):
    x, b, mask = ctx.saved_tensors
    up, down, pad, act, alpha, gain, clamp = ctx.args
    if torch.is_grad_enabled() or mask.numel() == 0:
        # A graph of the gradient is wanted (higher-order autograd), or the forward ran without
        # saving the mask: use the reference formula, which recomputes the pre-activation.
        fux, fuy, fu2d, fdx, fdy, fd2d = ctx.filters
        dv, _, _ = reference.filtered_act_vjp(
            x,
            b,
            grad_y,
            Fir(fux, fuy, fu2d),
            Fir(fdx, fdy, fd2d),
            tuple(up),
            tuple(down),
            tuple(pad),
            get_activation(act),
            alpha,
            gain,
            clamp_value(clamp),
        )
    else:
        dv = _filtered_act_bwd(
            grad_y.contiguous(),
            mask,
            x.shape[2],
            x.shape[3],
            *ctx.filters,
            up,
            down,
            pad,
            act,
            alpha,
            gain,
        )
    db = dv.sum(dim=(0, 2, 3)) if b is not None and ctx.needs_input_grad[1] else None
    return (dv, db, *([None] * 14))


# (torch.vmap folds into the samples: dy and the mask of planes; x)
_filtered_act_bwd = define_op(
    "filtered_act_numba_backward", "cpu", _fa_bwd_kernel, _fa_bwd_fake, sample_args=(0, 1)
)
_filtered_act_fwd = define_op(
    "filtered_act_numba", "cpu", _fa_fwd_kernel, _fa_fwd_fake, _fa_setup, _fa_backward,
    sample_args=(0,),
)


def filtered_act_numba(
    x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha, gain, clamp
):
    """Fused filtered activation; saves the branch mask only when a gradient will be needed."""
    # A trace keeps the mask: torch.jit.trace's check reruns the module without grad, and a flag
    # that differs between the two runs is a constant that differs between the two graphs.
    needs_grad = torch.jit.is_tracing() or (torch.is_grad_enabled() and (
        x.requires_grad or (b is not None and b.requires_grad)
    ))
    if not get_activation(act).piecewise_linear:
        raise ValueError(
            f"the numba filtered activation supports piecewise-linear acts, got {act!r}"
        )
    y, _ = _filtered_act_fwd(
        x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, act, alpha, gain, clamp, needs_grad
    )
    return y


# ------------------------------------------------------------------------------------------
# Any activation and padding mode: numba stages around a PyTorch activation


def fused_supported(act, mode: str, dpad) -> bool:
    """Whether the fused kernel runs this case (piecewise-linear act, plain zero padding)."""
    return (
        not isinstance(act, ParametricActivation)
        and act.name in kernels.ACT_CODES
        and mode == "zeros"
        and not any(dpad)
    )


def _numba_stage(x: Tensor, fir: Fir, up, down, pad) -> Tensor:
    return upfirdn_numba(x, fir.fx, fir.fy, fir.f2d, list(up), list(down), list(pad))


def _filtered_act_stages(x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad):
    """Filtered activation of any act / padding mode on the numba upfirdn kernels (holding its
    inputs for autograd; the backward recomputes the up-sampled signal)."""
    return reference.recomputing_filtered_act(
        x, b, fu, fd, tuple(up), tuple(down), tuple(pad), act, alpha, gain, clamp, beta=beta,
        mode=mode, dpad=tuple(dpad), stage=_numba_stage,
    )


# ------------------------------------------------------------------------------------------
# Any activation and padding mode, fused


def _any_args(x, b, pa, pb, fux, fuy, fu2d, fdx, fdy, fd2d, mode, dpad, act):
    return (
        _np(b),
        x.shape[1],
        _filter_views(fux, fuy, fu2d),
        _filter_views(fdx, fdy, fd2d),
        kernels.EXT_CODES[mode],
        kernels.ACT_ALL_CODES[act],
        _np(pa),
        _np(pb),
    )


def _fany_fwd_kernel(
    x: Tensor,
    b: Optional[Tensor],
    pa: Optional[Tensor],
    pb: Optional[Tensor],
    fux: Optional[Tensor],
    fuy: Optional[Tensor],
    fu2d: Optional[Tensor],
    fdx: Optional[Tensor],
    fdy: Optional[Tensor],
    fd2d: Optional[Tensor],
    up: list[int],
    down: list[int],
    pad: list[int],
    dpad: list[int],
    mode: str,
    act: str,
    alpha: float,
    gain: float,
    clamp: float,
) -> Tensor:
    n, c, h, w = x.shape
    if n * c == 0:
        *_, ho, wo = filtered_sizes(
            (h, w), Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d), up, down, pad, dpad
        )
        return x.new_zeros(n, c, ho, wo)
    bb, cc, fu, fd, mcode, code, pa_, pb_ = _any_args(
        x, b, pa, pb, fux, fuy, fu2d, fdx, fdy, fd2d, mode, dpad, act
    )
    y = kernels.filtered_act_any_forward(
        _planes(x), bb, cc, fu, fd, tuple(up), tuple(down), tuple(pad), tuple(dpad), mcode, gain,
        code, alpha, pa_, pb_, kernel_clamp(clamp), _alloc,
    )
    return _tensor(y, n, c, *y.shape[1:])


def _fany_fwd_fake(x, b, pa, pb, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, dpad, mode, act,
                   alpha, gain, clamp):
    n, c, h, w = x.shape
    *_, ho, wo = filtered_sizes(
        (h, w), Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d), up, down, pad, dpad
    )
    return x.new_empty(n, c, ho, wo)


def _fany_bwd_kernel(
    dy: Tensor,
    x: Tensor,
    b: Optional[Tensor],
    pa: Optional[Tensor],
    pb: Optional[Tensor],
    fux: Optional[Tensor],
    fuy: Optional[Tensor],
    fu2d: Optional[Tensor],
    fdx: Optional[Tensor],
    fdy: Optional[Tensor],
    fd2d: Optional[Tensor],
    up: list[int],
    down: list[int],
    pad: list[int],
    dpad: list[int],
    mode: str,
    act: str,
    alpha: float,
    gain: float,
    clamp: float,
) -> tuple[Tensor, Tensor]:
    n, c, h, w = x.shape
    if n * c == 0:
        return x.new_zeros(n, c, h, w), x.new_zeros(n, c, 2)
    bb, cc, fu, fd, mcode, code, pa_, pb_ = _any_args(
        x, b, pa, pb, fux, fuy, fu2d, fdx, fdy, fd2d, mode, dpad, act
    )
    dx, dpar = kernels.filtered_act_any_backward(
        _planes(dy), _planes(x), bb, cc, fu, fd, tuple(up), tuple(down), tuple(pad), tuple(dpad),
        mcode, gain, code, alpha, pa_, pb_, kernel_clamp(clamp), _alloc,
    )
    return (
        _tensor(dx, n, c, h, w),
        torch.from_numpy(dpar.reshape(n, c, 2)).to(x.dtype),
    )


def _fany_bwd_fake(dy, x, b, pa, pb, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, dpad, mode,
                   act, alpha, gain, clamp):
    n, c, h, w = x.shape
    return x.new_empty(n, c, h, w), x.new_empty(n, c, 2)


def _fany_setup(ctx, inputs, output):
    x, b, pa, pb, *filters = inputs[:10]
    ctx.save_for_backward(x, b, pa, pb)
    ctx.filters = tuple(filters)
    ctx.args = tuple(inputs[10:])


def _fany_backward(ctx, grad_y):
    x, b, pa, pb = ctx.saved_tensors
    up, down, pad, dpad, mode, act, alpha, gain, clamp = ctx.args
    spec = get_filtered_activation(act)
    is_param = isinstance(spec, ParametricActivation)
    if torch.is_grad_enabled():
        # A graph of the gradient is wanted (higher-order autograd): the reference formula.
        fux, fuy, fu2d, fdx, fdy, fd2d = ctx.filters
        dv, da, dbeta = reference.filtered_act_vjp(
            x, b, grad_y, Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d), tuple(up), tuple(down),
            tuple(pad), spec, pa if is_param else alpha, gain,
            clamp_value(clamp), beta=pb, mode=mode, dpad=tuple(dpad),
        )
    else:
        dv, dpar = _filtered_act_any_bwd(
            grad_y.contiguous(), x, b, pa, pb, *ctx.filters, up, down, pad, dpad, mode, act,
            alpha, gain, clamp,
        )
        dsum = dpar.sum(dim=0)
        da = dsum[:, 0] if pa is not None else None
        dbeta = dsum[:, 1] if pb is not None else None
    db = dv.sum(dim=(0, 2, 3)) if b is not None and ctx.needs_input_grad[1] else None
    return (dv, db, da, dbeta, *([None] * 15))


_filtered_act_any_bwd = define_op(  # (vmap: dy and x)
    "filtered_act_any_numba_backward", "cpu", _fany_bwd_kernel, _fany_bwd_fake,
    sample_args=(0, 1),
)
_filtered_act_any_fwd = define_op(
    "filtered_act_any_numba", "cpu", _fany_fwd_kernel, _fany_fwd_fake, _fany_setup,
    _fany_backward, sample_args=(0,),
)


def fused_any_supported(act, mode: str, dpad, hw, fu: Fir, up, pad) -> bool:
    """Whether ``filtered_act_any_numba`` covers the case: every act and mode, except circular
    padding with a cropping (negative) ``down_padding`` (the wrap would need cropped samples)."""
    if mode == "circular" and min(dpad) < 0:
        return False
    kw, kh = fu.size
    hu = hw[0] * up[1] + pad[2] + pad[3] - kh + 1
    wu = hw[1] * up[0] + pad[0] + pad[1] - kw + 1
    # the part of the up-sampled signal that survives a cropping down_padding must be non-empty
    rh = hu + min(dpad[2], 0) + min(dpad[3], 0)
    rw = wu + min(dpad[0], 0) + min(dpad[1], 0)
    return rh >= 1 and rw >= 1


def filtered_act_any_numba(x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad):
    """Fused filtered activation of any act and padding mode (see the module docstring)."""
    is_param = isinstance(act, ParametricActivation)
    return _filtered_act_any_fwd(
        x, b, alpha if is_param else None, beta if is_param else None,
        fu.fx, fu.fy, fu.f2d, fd.fx, fd.fy, fd.f2d,
        list(up), list(down), list(pad), list(dpad), mode, act.name,
        0.0 if is_param else float(alpha), gain, clamp_arg(clamp),
    )


def filtered_act_general(x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad):
    """Filtered activation of any act / padding mode with the numba backend: the fused kernel
    where it covers the case (:func:`fused_any_supported`), else numba stages around a PyTorch
    activation."""
    if fused_any_supported(act, mode, dpad, tuple(x.shape[2:]), fu, up, pad):
        return filtered_act_any_numba(
            x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad
        )
    return _filtered_act_stages(
        x, b, fu, fd, up, down, pad, act, alpha, beta, gain, clamp, mode, dpad
    )
