"""torch.library registration of the CUDA backend, and the argument plumbing of its kernels.

The ``*_call`` functions turn normalised arguments (see :mod:`bandlimit.ops._params`) into the
extension's entry points. They take the extension module as an argument, so the tests run them
unchanged on the CPU emulation build of the same kernel sources. The custom ops below call them
with the real extension (built on first use) and register fake implementations, so
``torch.compile`` / ``opcheck`` see shapes without running a kernel, and autograd formulas:

* ``upfirdn_cuda``: the gradient is the transposed upfirdn (again ``upfirdn_cuda``): any order.
* ``bias_act_cuda``: the kernel computes the forward; the backward is the activation's
  derivative in PyTorch ops, so double backward composes (``filtered_ties``: with the filtered
  ops' conventions at 0 and at the clamp, for ``filtered_act`` without filters).
* ``filtered_act_cuda``: one fused kernel for every activation of ``filtered_act`` (bias_act's,
  gelu, gelu_tanh, and snake / snakebeta with per-channel ``alpha``/``beta`` tensors, which are
  op inputs so gradients reach them). When a gradient is needed it also writes what its
  first-order backward, the same fused kernel transposed, reads: with linear/relu/lrelu a 2-bit
  branch mask (bit 0: pre-activation < 0, bit 1: clamped). Any other act (or an extended
  activated signal) saves nothing but its inputs: its backward recomputes ``u``, the
  pre-activation at the up-sampled samples in the accumulation type, by running the fused
  forward again (:func:`_recomputed_u`), and the fused backward reads it (``gain·act'(u)``,
  the clamp, the gradients of ``alpha``/``beta`` as per-block sums reduced per channel). So
  autograd holds the inputs between the forward and the backward, not ``up_x·up_y`` times
  them in float32; ``u`` lives only during the layer's backward. One op,
  ``filtered_act_cuda_backward``, reads the mask or ``u``; the forward can still write ``u``
  itself (``save_u``: tests, and benchmarks through :data:`SAVE_U_IN_FORWARD`).
  Graphs of the gradient (double backward) go through :func:`reference.filtered_act_vjp` on
  ``upfirdn_cuda`` stages (the pre-activation recomputed from ``x``).
* Padding modes: 'zeros' with any ``down_padding`` is fused. 'replicate' / 'circular' are fused
  too when ``down_padding`` has no positive entry: the kernel extends the input by whole samples
  (``umode``: replicated or wrapped as it loads its input tile, the bias on every copy; the
  amounts are :func:`reference.extension`'s), after which the up-stage's remaining padding is a
  crop; the mask backward runs on the extended plane and folds its gradient back
  (:func:`reference.extend_adjoint`).
  'replicate' with a positive ``down_padding`` (BigVGAN's ``Activation1d``) extends the activated
  signal inside the kernel (``dmode``; each padding below the down filter's taps, so a tile past
  an edge holds the edge sample); its backward reads ``u`` and folds the gradient of the copies
  back onto the edge samples in the kernel. 'circular' with a positive ``down_padding`` would
  wrap across the whole plane: :func:`fused_supported` is False and the reference composition
  of PyTorch ops runs on the GPU (the documented fallback).

Annotations stay real types (no ``from __future__ import annotations``): ``custom_op`` reads them.
"""


import torch
from torch import Tensor

from bandlimit.ops import reference
from bandlimit.ops._activations import (
    Activation,
    ParametricActivation,
    get_activation,
    get_filtered_activation,
    negative_slope,
)
from bandlimit.ops._custom_ops import clamp_arg, clamp_value, define_op, define_upfirdn
from bandlimit.ops._params import Fir, filtered_sizes, transpose_geometry

# Activation codes of csrc/common.h (enum Act).
ACT_CODES = {
    "linear": 0,
    "relu": 1,
    "lrelu": 2,
    "tanh": 3,
    "sigmoid": 4,
    "elu": 5,
    "selu": 6,
    "softplus": 7,
    "swish": 8,
}
# The filtered activation's codes: bias_act's and the activations of the filtered ops only.
FA_ACT_CODES = {**ACT_CODES, "gelu": 9, "gelu_tanh": 10, "snake": 11, "snakebeta": 12}
PARAM_ACTS = ("snake", "snakebeta")
DMODE_CODES = {"zeros": 0, "replicate": 1}  # the kernel's ext_b
UMODE_CODES = {"zeros": 0, "replicate": 1, "circular": 2}  # the kernel's ext_a
MASK_ACTS = ("linear", "relu", "lrelu")
# A benchmark knob: True makes the fused forward write u for the smooth backward (as it did up
# to session 42, holding up_x·up_y times the input in float32) instead of its recomputation.
SAVE_U_IN_FORWARD = False
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _ext():
    from bandlimit.ops.cuda import get_extension

    return get_extension()


def mask_shape(planes: int, hu: int, wu: int) -> tuple[int, int, int]:
    """int32 words: 2 bits per up-sampled sample, 16 samples per word, rows padded to a word."""
    return planes, hu, (wu + 15) // 16


# ------------------------------------------------------------------------------------------
# Plumbing (extension module as an argument: the real one or the CPU emulation)


def upfirdn_call(ext, x, fx, fy, f2d, up, down, pad, block_threads: int = 0) -> Tensor:
    return ext.upfirdn(x, fx, fy, f2d, list(up), list(down), list(pad), block_threads)


def bias_act_call(ext, x, b, dim, act: str, alpha, gain, clamp, block_threads: int = 0):
    return ext.bias_act(
        x, b, int(dim), ACT_CODES[act], float(alpha), float(gain),
        -1.0 if clamp is None else float(clamp), block_threads,
    )


def filtered_act_call(
    ext, x, b, fu: Fir, fd: Fir, up, down, pad, dpad, act: str, alpha, gain, clamp,
    save_mask: bool, max_tile: int = 0, block_threads: int = 0, beta: Tensor | None = None,
    fast: bool = True, dmode: str = "zeros", smem_limit: int = 0, strip_rows: int = 0,
    umode: str = "zeros", save_u: bool = False, mma: int = -1,
) -> tuple[Tensor, Tensor]:
    """Fused forward: ``(y, mask)`` (mask ``[0]`` unless ``save_mask``), or with ``save_u``
    ``(y, u)``: the pre-activation at the intermediate samples, ``[N·C, hu, wu]`` in the
    accumulation type, for :func:`filtered_act_backward_u_call`.

    ``alpha``: a float (lrelu's slope; ignored by the other scalar acts) or, for snake /
    snakebeta, a ``[C]`` tensor (as is ``beta``, snakebeta only). ``fast=False`` forces the
    generic kernel where a fast specialisation would serve (for tests and benchmarks:
    :func:`kernel_names` says which one runs). ``dmode``: how the activated signal is extended
    for the down-stage, 'zeros' or 'replicate' (forward only, no mask; paddings below the
    taps, see :func:`replicate_fits`). ``smem_limit`` (a benchmark knob): bytes of shared
    memory per block, 0 for the portable 48 KB; more (up to the device's opt-in maximum) allows
    larger output tiles. ``strip_rows`` (a test and benchmark knob): 0 lets the launcher choose
    the tiles, strips or not (:func:`launch_plans`); -1 runs every tile as one strip; ``k > 0``
    runs the one-strip tile in strips of ``k`` output rows where strips may run. ``umode``:
    what ``pad`` holds beyond the input, 'zeros', or 'replicate' / 'circular' (the kernel
    extends the input by whole samples, :func:`reference.extension`, and crops the rest).
    ``mma`` (a test and benchmark knob): 1 runs stage B on tensor cores where it applies (a
    separable stage B's x pass, or a full 2-D filter down by 2; the leaky-ReLU forward and the
    mask backward on float16 / bfloat16, a fast 2-D spec, compute capability 8.0 or later), 0
    never, -1 the default (off unless ``$BANDLIMIT_CUDA_MMA=1``: not yet timed on a GPU).
    """
    hu, wu, ho, wo = filtered_sizes(tuple(x.shape[2:]), fu, fd, up, down, pad, dpad)
    uext, pad = reference.extension(tuple(pad), tuple(up), umode)
    pa = alpha if isinstance(alpha, Tensor) else None
    y, mask = ext.filtered_act(
        x, b, fu.fx, fu.fy, fu.f2d, fd.fx, fd.fy, fd.f2d,
        list(up), [pad[0], pad[2]], [hu, wu], list(down), [dpad[0], dpad[2]], [ho, wo],
        0, FA_ACT_CODES[act], 0.0 if pa is not None else float(alpha), float(gain),
        -1.0 if clamp is None else float(clamp), bool(save_mask), None, max_tile, block_threads,
        pa, beta, fast, DMODE_CODES[dmode], int(smem_limit), int(strip_rows), False,
        UMODE_CODES[umode], list(uext), bool(save_u), mma=int(mma),
    )
    return y, mask


def _transposed_geometry(hw, fu: Fir, fd: Fir, up, down, pad, dpad) -> list:
    """The fused kernel's geometry arguments for a backward onto an ``hw`` plane: stage A = ``fd``
    transposed, up-sampling by ``down``; stage B = ``fu`` transposed, down-sampling by ``up``
    (``transpose_geometry``; the kernel reverses the filters as it stages them)."""
    hu, wu, _, _ = filtered_sizes(hw, fu, fd, up, down, pad, dpad)
    up_a, _, pad_a = transpose_geometry((hu, wu), fd, (1, 1), down, dpad)
    _, down_b, pad_b = transpose_geometry(hw, fu, up, (1, 1), pad)
    return [list(up_a), [pad_a[0], pad_a[2]], [hu, wu], list(down_b), [pad_b[0], pad_b[2]],
            list(hw)]


def filtered_act_backward_call(
    ext, dy, mask, hw, fu: Fir, fd: Fir, up, down, pad, dpad, act: str, alpha, gain,
    max_tile: int = 0, block_threads: int = 0, fast: bool = True, smem_limit: int = 0,
    strip_rows: int = 0, mma: int = -1,
) -> Tensor:
    """Fused mask backward: the gradient w.r.t. ``v = x + b`` (shape ``[N, C, *hw]``).

    The transposed pipeline (:func:`_transposed_geometry`) with the mask's derivative as its
    pointwise step. The knobs as in :func:`filtered_act_call`.
    """
    dx, _ = ext.filtered_act(
        dy, None, fd.fx, fd.fy, fd.f2d, fu.fx, fu.fy, fu.f2d,
        *_transposed_geometry(hw, fu, fd, up, down, pad, dpad), 1, ACT_CODES[act],
        negative_slope(act, alpha), float(gain), -1.0, False, mask, max_tile, block_threads, None,
        None, fast, 0, int(smem_limit), int(strip_rows), True, mma=int(mma),
    )
    return dx


def filtered_act_backward_u_call(
    ext, dy, u, hw, fu: Fir, fd: Fir, up, down, pad, dpad, act: str, alpha, gain, clamp,
    beta: Tensor | None = None, dmode: str = "zeros", max_tile: int = 0, block_threads: int = 0,
    fast: bool = True, smem_limit: int = 0, strip_rows: int = 0,
) -> tuple[Tensor, Tensor]:
    """Fused backward of any activation from the forward's ``u`` (``save_u``): ``(dv, dparams)``,
    the gradient w.r.t. ``v = x + b`` (shape ``[N, C, *hw]``) and, for snake / snakebeta
    (``alpha``, ``beta``: ``[C]`` tensors), the gradients of alpha and beta as a ``[2, C]``
    tensor in the accumulation type (``[0]`` for the other acts).

    The transposed pipeline (:func:`_transposed_geometry`), whose pointwise step is
    ``g · gain · act'(u)`` (0 where ``|act(u)·gain| > clamp``). ``dmode='replicate'``: the
    forward extended the activated signal by ``down_padding`` (its positive entries); the kernel
    folds the gradient of those copies back onto the edge samples. Knobs as in
    :func:`filtered_act_call`.
    """
    fold = reference.extension(tuple(dpad), (1, 1), dmode)[0] if dmode != "zeros" else (0,) * 4
    pa = alpha if isinstance(alpha, Tensor) else None
    dx, dparams = ext.filtered_act(
        dy, None, fd.fx, fd.fy, fd.f2d, fu.fx, fu.fy, fu.f2d,
        *_transposed_geometry(hw, fu, fd, up, down, pad, dpad), 2, FA_ACT_CODES[act],
        0.0 if pa is not None else float(alpha), float(gain),
        -1.0 if clamp is None else float(clamp), False, u, max_tile, block_threads, pa, beta,
        fast, 0, int(smem_limit), int(strip_rows), True, 0, [0, 0, 0, 0], False, list(fold),
    )
    return dx, dparams


def kernel_names(ext, fu: Fir, fd: Fir, up, down, dtype: torch.dtype) -> tuple[str, str]:
    """The kernels the fused forward and its mask backward launch for these filters and factors:
    a fast specialisation's name (e.g. ``'u2k12_d2k12'``) or ``'generic'``."""
    f64 = dtype == torch.float64
    fwd = ext.filtered_act_kernel_name(list(up), list(fu.size), list(down), list(fd.size), f64)
    # The backward's stage A is fd transposed (up-sampling by `down`), stage B fu transposed.
    bwd = ext.filtered_act_kernel_name(list(down), list(fd.size), list(up), list(fu.size), f64)
    return fwd, bwd


def launch_plans(ext, fu: Fir, fd: Fir, up, down, in_hw, out_hw, dtype: torch.dtype,
                 max_tile: int = 0, smem_limit: int = 0, strip_rows: int = 0,
                 planes: int = 0, dmode: str = "zeros",
                 param_threads: int = 0) -> tuple[list[int], list[int]]:
    """The output tiles, strip rows and shared memory the fused forward (with a mask) and its
    backward launch with, and the planner's model of their work per plane (instructions):
    ``([tow, toh, tsh, bytes, work], [...])``, a tile ``toh`` rows high run in strips of
    ``tsh`` (``tsh == toh``: one strip). ``planes``: N·C (the planner keeps the grid large; 0:
    many). ``dmode`` as in :func:`filtered_act_call` (the forward's). ``param_threads``: the
    backward's block size when it sums snake's parameter gradients (it reads u; 0: it does
    not). Tests and benchmarks."""
    f64 = dtype == torch.float64

    def plan(a: Fir, b: Fir, ua, db, hw, save, ext_b, threads):
        return ext.filtered_act_plan(list(ua), list(a.size), a.separable, list(db),
                                     list(b.size), b.separable, list(hw), f64, save,
                                     max_tile, smem_limit, strip_rows, planes, ext_b, threads)
    # A replicate down-stage runs without a mask (forward only); the backward never extends.
    replicate = DMODE_CODES[dmode]
    return (plan(fu, fd, up, down, out_hw, not replicate, replicate, 0),
            plan(fd, fu, down, up, in_hw, False, 0, param_threads))


# ------------------------------------------------------------------------------------------
# upfirdn


upfirdn_cuda = define_upfirdn(
    "upfirdn_cuda", "cuda", lambda *args: upfirdn_call(_ext(), *args)
)


def upfirdn(x: Tensor, fir: Fir, up, down, pad) -> Tensor:
    """A normalised upfirdn on CUDA (the ``stage`` signature of the reference helpers)."""
    return upfirdn_cuda(x, fir.fx, fir.fy, fir.f2d, list(up), list(down), list(pad))


# ------------------------------------------------------------------------------------------
# bias_act


def _ba_kernel(
    x: Tensor, b: Tensor | None, dim: int, act: str, alpha: float, gain: float, clamp: float,
    filtered_ties: bool,
) -> Tensor:
    return bias_act_call(_ext(), x, b, dim, act, alpha, gain, None if clamp < 0 else clamp)


def _ba_fake(x, b, dim, act, alpha, gain, clamp, filtered_ties):
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _ba_setup(ctx, inputs, output):
    x, b, dim, act, alpha, gain, clamp, filtered_ties = inputs
    ctx.save_for_backward(x, b)
    ctx.args = (dim, act, alpha, gain, clamp, filtered_ties)


def _clamp_passes_at_bounds() -> bool:
    """Whether this torch's ``clamp`` passes the gradient at its bounds. Its releases of 2026
    changed that (pytorch/pytorch#184572): older ones pass it, newer ones block it."""
    x = torch.ones((), device="cpu", requires_grad=True)  # (whatever the default device)
    (g,) = torch.autograd.grad(x.clamp(-1.0, 1.0), x)
    return bool(g == 1)


# (probed once, at import: the backward may run under a fake-tensor mode or a trace)
_CLAMP_PASSES_AT_BOUNDS = _clamp_passes_at_bounds()


def bias_act_vjp(x, b, dy, dim, spec: Activation, alpha, gain, clamp, filtered_ties=False):
    """``(dx, db)`` of ``clamp(act(x + b)·gain)`` in PyTorch ops (differentiable again), in
    float32 for half-precision storage, as the kernel computes the forward.

    Where the derivative is a convention: bias_act's (``filtered_ties=False``: its 'ref' path's,
    PyTorch's relu / leaky_relu / clamp autograd) takes the negative branch at ``v = 0`` and
    at ``|a| = clamp`` does what this torch's clamp does (:func:`_clamp_passes_at_bounds`);
    the filtered ops' masks (``filtered_ties=True``, for their unfiltered case) take the
    positive branch and block only where ``|a| > clamp``.
    """
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    v = x.to(acc)
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        v = v + b.to(acc).reshape(shape)
    if spec.name == "relu" and not filtered_ties:
        deriv = (~(v <= 0)).to(acc)  # NaN passes, as in PyTorch's relu
    elif spec.name == "lrelu" and not filtered_ties:
        deriv = torch.where(v > 0, torch.ones_like(v), torch.full_like(v, float(alpha)))
    else:
        deriv = spec.grad(v, alpha)  # elu / selu: the positive branch at NaN, as PyTorch's
    g = dy.to(acc) * (deriv * gain)
    if spec.name == "relu":  # a selection, as PyTorch's: no inf · 0 where relu blocks
        g = torch.where(deriv == 0, torch.zeros_like(g), g)
    if clamp is not None:
        a = (spec.fn(v, alpha) * gain).abs()
        if filtered_ties:  # NaN passes
            g = torch.where(a > clamp, torch.zeros_like(g), g)
        else:  # NaN blocked, as by torch's clamp
            passes = a <= clamp if _CLAMP_PASSES_AT_BOUNDS else a < clamp
            g = torch.where(passes, g, torch.zeros_like(g))
    db = None
    if b is not None:
        db = g.sum(dim=[d for d in range(x.ndim) if d != dim]).to(b.dtype) if x.ndim > 1 else g
    return g.to(x.dtype), db


def _ba_backward(ctx, dy):
    x, b = ctx.saved_tensors
    dim, act, alpha, gain, clamp, filtered_ties = ctx.args
    dx, db = bias_act_vjp(
        x, b, dy, dim, get_activation(act), alpha, gain, None if clamp < 0 else clamp,
        filtered_ties,
    )
    return dx, db, None, None, None, None, None, None


bias_act_cuda = define_op("bias_act_cuda", "cuda", _ba_kernel, _ba_fake, _ba_setup, _ba_backward)


def bias_act(
    x, b, dim: int, spec: Activation, alpha, gain, clamp, filtered_ties: bool = False
) -> Tensor:
    """bias_act on CUDA: the kernel forward, a PyTorch-formula backward (``bias_act_vjp``:
    ``filtered_ties`` picks the filtered ops' gradient conventions, for their unfiltered
    case)."""
    return bias_act_cuda(
        x, b, dim, spec.name, float(alpha), float(gain), -1.0 if clamp is None else float(clamp),
        bool(filtered_ties),
    )


# ------------------------------------------------------------------------------------------
# filtered activation


def _firs(fux, fuy, fu2d, fdx, fdy, fd2d):
    return Fir(fux, fuy, fu2d), Fir(fdx, fdy, fd2d)


def _fa_fwd_kernel(
    x: Tensor,
    b: Tensor | None,
    fux: Tensor | None,
    fuy: Tensor | None,
    fu2d: Tensor | None,
    fdx: Tensor | None,
    fdy: Tensor | None,
    fd2d: Tensor | None,
    up: list[int],
    down: list[int],
    pad: list[int],
    dpad: list[int],
    act: str,
    alpha: float,
    gain: float,
    clamp: float,
    save_mask: bool,
    pa: Tensor | None,
    pb: Tensor | None,
    dmode: str,
    umode: str,
    save_u: bool,
) -> tuple[Tensor, Tensor]:
    fu, fd = _firs(fux, fuy, fu2d, fdx, fdy, fd2d)
    return filtered_act_call(
        _ext(), x, b, fu, fd, up, down, pad, dpad, act, alpha if pa is None else pa, gain,
        clamp_value(clamp), save_mask, beta=pb, dmode=dmode, umode=umode,
        save_u=save_u,
    )


def _acc_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _fa_fwd_fake(x, b, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, dpad, act, alpha, gain, clamp,
                 save_mask, pa, pb, dmode, umode, save_u):
    n, c, h, w = x.shape
    fu, fd = _firs(fux, fuy, fu2d, fdx, fdy, fd2d)
    hu, wu, ho, wo = filtered_sizes((h, w), fu, fd, up, down, pad, dpad)
    if save_u:
        return x.new_empty(n, c, ho, wo), x.new_empty(n * c, hu, wu, dtype=_acc_dtype(x))
    mshape = mask_shape(n * c, hu, wu) if save_mask else (0,)
    return x.new_empty(n, c, ho, wo), x.new_empty(mshape, dtype=torch.int32)


def _fa_setup(ctx, inputs, output):
    x, b, *filters = inputs[:8]
    up, down, pad, dpad, act, alpha, gain, clamp, _, pa, pb, dmode, umode, _ = inputs[8:22]
    ctx.save_for_backward(x, b, output[1], pa, pb)
    ctx.filters = tuple(filters)
    ctx.args = (list(up), list(down), list(pad), list(dpad), act, alpha, gain, clamp, dmode,
                umode)


def _recomputed_u(ctx, x: Tensor, b: Tensor | None, pa: Tensor | None,
                  pb: Tensor | None) -> Tensor:
    """``u`` for the smooth backward, as the forward would have written it (``save_u``): the
    same fused forward run again, its output discarded. One launch that reads the input (no
    passes for the bias or the padding mode's extension), and the same values, so the
    backward's clamp decisions are the forward's."""
    up, down, pad, dpad, act, alpha, gain, clamp, dmode, umode = ctx.args
    _, u = _filtered_act_fwd(x, b, *ctx.filters, up, down, pad, dpad, act, alpha, gain, clamp,
                             False, pa, pb, dmode, umode, True)  # fmt: skip
    return u


def _fa_backward(ctx, grad_y, _grad_saved):
    x, b, saved, pa, pb = ctx.saved_tensors
    up, down, pad, dpad, act, alpha, gain, clamp, dmode, umode = ctx.args
    da = dbeta = None
    if torch.is_grad_enabled():
        # A graph of the gradient is wanted (higher-order autograd): the reference formula on
        # upfirdn_cuda stages (recomputes u from x), with the forward's two extensions (the
        # input's umode, the activated signal's dmode).
        spec = get_filtered_activation(act)
        fu, fd = _firs(*ctx.filters)
        dv, da, dbeta = reference.filtered_act_vjp(
            x, b, grad_y, fu, fd, tuple(up), tuple(down), tuple(pad), spec,
            pa if isinstance(spec, ParametricActivation) else alpha, gain,
            clamp_value(clamp), beta=pb,
            mode=umode, dpad=tuple(dpad), stage=upfirdn, dmode=dmode,
        )
        da = None if da is None or pa is None else da.to(pa.dtype)
        dbeta = None if dbeta is None or pb is None else dbeta.to(pb.dtype)
    else:
        # The fused backward on the extended input (its padding then a crop), folded back:
        # reading the mask (linear / relu / lrelu) or u (any act; the activated signal's
        # extension folded back in the kernel), recomputed here unless the forward wrote it.
        if saved.numel() == 0 or (saved.dtype == torch.int32 and act not in MASK_ACTS):
            saved = _recomputed_u(ctx, x, b, pa, pb)
        (ex0, ex1, ey0, ey1), rest = reference.extension(tuple(pad), tuple(up), umode)
        h, w = x.shape[2] + ey0 + ey1, x.shape[3] + ex0 + ex1
        dv, dparams = _filtered_act_bwd(
            grad_y.contiguous(), saved, h, w, *ctx.filters, up, down, list(rest), dpad, act,
            alpha, gain, clamp, pa, pb, dmode,
        )
        da = None if pa is None else dparams[0].to(pa.dtype)
        dbeta = None if pb is None else dparams[1].to(pb.dtype)
        if umode != "zeros":
            dv = reference.extend_adjoint(dv, tuple(x.shape[2:]), tuple(pad), tuple(up), umode)
    db = None if b is None else dv.sum(dim=(0, 2, 3)).to(b.dtype)
    return (dv, db, *([None] * 15), da, dbeta, None, None, None)


def _fa_bwd_kernel(
    dy: Tensor,
    saved: Tensor,
    h: int,
    w: int,
    fux: Tensor | None,
    fuy: Tensor | None,
    fu2d: Tensor | None,
    fdx: Tensor | None,
    fdy: Tensor | None,
    fd2d: Tensor | None,
    up: list[int],
    down: list[int],
    pad: list[int],
    dpad: list[int],
    act: str,
    alpha: float,
    gain: float,
    clamp: float,
    pa: Tensor | None,
    pb: Tensor | None,
    dmode: str,
) -> tuple[Tensor, Tensor]:
    fu, fd = _firs(fux, fuy, fu2d, fdx, fdy, fd2d)
    if saved.dtype == torch.int32:  # the mask (linear / relu / lrelu, no extension)
        if act not in MASK_ACTS:
            raise ValueError(f"filtered_act_cuda_backward: a mask (int32 saved) serves only "
                             f"{MASK_ACTS}, got act={act!r}; save u for it instead")
        dv = filtered_act_backward_call(
            _ext(), dy, saved, (h, w), fu, fd, up, down, pad, dpad, act, alpha, gain
        )
        return dv, dy.new_empty(0, dtype=_acc_dtype(dy))
    return filtered_act_backward_u_call(
        _ext(), dy, saved, (h, w), fu, fd, up, down, pad, dpad, act, alpha if pa is None else pa,
        gain, clamp_value(clamp), beta=pb, dmode=dmode,
    )


def _fa_bwd_fake(dy, saved, h, w, fux, fuy, fu2d, fdx, fdy, fd2d, up, down, pad, dpad, act,
                 alpha, gain, clamp, pa, pb, dmode):
    sums = (2, dy.shape[1]) if pa is not None and saved.dtype != torch.int32 else (0,)
    return dy.new_empty(dy.shape[0], dy.shape[1], h, w), dy.new_empty(sums, dtype=_acc_dtype(dy))


# The fused first-order backward: `saved` is the forward's mask (int32) or u.
_filtered_act_bwd = define_op("filtered_act_cuda_backward", "cuda", _fa_bwd_kernel, _fa_bwd_fake)
_filtered_act_fwd = define_op(
    "filtered_act_cuda", "cuda", _fa_fwd_kernel, _fa_fwd_fake, _fa_setup, _fa_backward
)


def replicate_fits(fd: Fir, dpad) -> bool:
    """Whether the kernel can extend the activated plane by replicating its edges for the
    down-stage: every ``down_padding`` below the down filter's taps on its axis, so each output
    window holds a sample of the plane and a tile reaching past an edge also holds the edge."""
    kx, ky = fd.size
    return dpad[0] < kx and dpad[1] < kx and dpad[2] < ky and dpad[3] < ky


def fused_supported(act, mode: str, dpad=(0, 0, 0, 0), fd: Fir | None = None) -> bool:
    """Whether the fused kernel runs this filtered activation.

    Every activation of ``filtered_act`` (:data:`FA_ACT_CODES`); 'zeros' padding with any
    ``down_padding``, 'replicate' / 'circular' when ``down_padding`` has no positive entry (the
    kernel extends the input; see the module docstring), and 'replicate' with a
    positive one when :func:`replicate_fits` the down filter ``fd``. The rest is the reference.
    """
    if not isinstance(act, Activation | ParametricActivation) or act.name not in FA_ACT_CODES:
        return False
    if mode == "zeros" or (mode in ("replicate", "circular") and max(dpad) <= 0):
        return True
    return mode == "replicate" and fd is not None and replicate_fits(fd, dpad)


def filtered_act(x, b, fu: Fir, fd: Fir, up, down, pad, act, alpha, beta, gain, clamp,
                 mode="zeros", dpad=(0, 0, 0, 0)) -> Tensor:
    """Filtered activation on CUDA: the fused kernel where it applies (:func:`fused_supported`),
    else the reference ops on the GPU. ``alpha``/``beta``: ``[C]`` tensors for snake /
    snakebeta, else a float slope and None."""
    if not fused_supported(act, mode, dpad, fd):
        return reference.recomputing_filtered_act(
            x, b, fu, fd, up, down, pad, act, alpha, gain, clamp, beta=beta, mode=mode, dpad=dpad
        )
    # The down-stage extends the activated signal only for replicate with a positive padding;
    # the kernel extends the input by whole samples (umode), and down_padding <= 0 needs no
    # extension of the activation.
    dmode = "replicate" if mode == "replicate" and max(dpad) > 0 else "zeros"
    is_param = isinstance(act, ParametricActivation)
    pa = alpha if is_param else None
    pb = beta if is_param and "beta" in act.params else None
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, b, pa, pb)
    )
    # What the fused backward reads: the 2-bit mask where it suffices (piecewise-linear acts,
    # no extension of the activated signal), else u, which it recomputes (_recomputed_u).
    save_mask = needs_grad and act.name in MASK_ACTS and dmode == "zeros"
    y, _ = _filtered_act_fwd(
        x, b, fu.fx, fu.fy, fu.f2d, fd.fx, fd.fy, fd.f2d, list(up), list(down), list(pad),
        list(dpad), act.name, 0.0 if is_param else float(alpha), float(gain),
        clamp_arg(clamp), save_mask, pa, pb, dmode, mode,
        SAVE_U_IN_FORWARD and needs_grad and not save_mask,
    )
    return y


__all__ = [
    "ACT_CODES",
    "FA_ACT_CODES",
    "bias_act",
    "filtered_act",
    "filtered_act_backward_call",
    "filtered_act_call",
    "fused_supported",
    "kernel_names",
    "replicate_fits",
    "upfirdn",
    "upfirdn_call",
]
