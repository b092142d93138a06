"""What the backends' ``torch.library`` registrations share.

:func:`define_op` registers a kernel as a custom op -- its fake (meta) implementation and
autograd formula included -- and returns an :class:`EagerOp`: in plain eager mode it runs the
kernel (under a ``torch.autograd.Function`` with the same formula when a gradient is needed)
without the custom op's dispatch, which cost ≈ 25 µs per call without autograd and ≈ 120 µs
with it (torch 2.14, CPU) -- more than the kernels of a small call. Anything that traces or
intercepts ops (torch.compile, export, fake tensors, dispatch and function modes other than
``torch.set_default_device``'s, torch.func transforms and the older vmap of
``is_grads_batched`` / ``vectorize=True``, tensor subclasses, the profiler) calls the custom op
itself; so do kernels, autocast or vmap rules a user registers for the op
(``torch.library.register_kernel`` ...), which plain eager calls bypass.

:func:`define_upfirdn` registers one backend's upfirdn kernel as a custom op with its fake
(meta) implementation, for ``torch.compile`` / ``torch.export`` / ``opcheck``, and its autograd
formula: the gradient of an upfirdn is the transposed upfirdn (:func:`transpose_stage`), which is
the same op again, so gradients of any order follow. The Numba (CPU) and CUDA backends differ
only in the kernel they pass.

Annotations stay real types (no ``from __future__ import annotations``): ``custom_op`` reads them
to build the schema (in the spelling every supported torch accepts: :func:`_schema_signature`).
"""

import inspect
import math
import types
import typing
from collections.abc import Callable

import torch
from torch import Tensor

from bandlimit.ops._params import Fir, stage_out_size, transpose_stage

UpfirdnKernel = Callable[
    [Tensor, Tensor | None, Tensor | None, Tensor | None, list, list, list], Tensor
]


_PLAIN_TENSORS = (torch.Tensor, torch.nn.Parameter)
_is_legacy_batched = torch._C._functorch.is_legacy_batchedtensor


def _only_default_device_modes() -> bool:
    """Whether every active torch-function mode is a default-device one
    (``torch.set_default_device``, ``with torch.device(...)``): it changes only where factory
    functions allocate, inside the kernel function as inside the op, so it need not see the op."""
    try:
        from torch.utils._device import DeviceContext

        stack = torch.overrides._get_current_function_mode_stack()
    except (ImportError, AttributeError):  # private API moved: dispatch to the op
        return False
    return all(isinstance(m, DeviceContext) for m in stack)


def _plain_eager(args) -> bool:
    """Whether nothing would see the custom op: no tracing, modes, transforms, profiler or
    subclasses (a legacy-vmap batched tensor is a plain Tensor by type)."""
    if (
        torch.compiler.is_compiling()  # first: Dynamo folds it, and traces none of the rest
        or torch._C._len_torch_dispatch_stack()
        or (torch._C._is_torch_function_mode_enabled() and not _only_default_device_modes())
        or torch._C._are_functorch_transforms_active()
        or torch.autograd._profiler_enabled()  # its trace shows the op's own events
        or torch.jit.is_tracing()
    ):
        return False
    return all(type(a) in _PLAIN_TENSORS and not _is_legacy_batched(a)
               for a in args if isinstance(a, Tensor))


def records_graph() -> bool:
    """Whether autograd records what runs now: grad mode on, outside ``torch.inference_mode``
    (which records nothing, even under ``torch.enable_grad``, and whose tensors an
    ``autograd.Function`` cannot save). Under torch.compile, grad mode alone (Dynamo cannot
    trace the inference-mode query, and a compiled region does not change it)."""
    if torch.compiler.is_compiling():
        return torch.is_grad_enabled()
    return torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


# "No clamp" in the ops' schemas: a finite float (a clamp is >= 0). math.inf was the sentinel,
# but AOTInductor's package format writes it as a string its loader refuses.
NO_CLAMP = -1.0


def clamp_arg(clamp: float | None) -> float:
    """A clamp (None: none) as the ops' schemas take it."""
    return NO_CLAMP if clamp is None else float(clamp)


def clamp_value(clamp: float) -> float | None:
    """The clamp an op received, None for none."""
    return None if clamp < 0 else clamp


def kernel_clamp(clamp: float) -> float:
    """The clamp for a kernel that takes infinity for none."""
    return math.inf if clamp < 0 else clamp


class EagerOp:
    """A custom op (``.op``) that plain eager calls bypass (see the module docstring).

    Called with the op's arguments, positionally. ``impl`` is the op's kernel function;
    ``setup_context`` / ``backward`` its autograd formula as given to ``register_autograd`` (an
    op without one always dispatches when a gradient is needed, so that using it fails as the
    op does).
    """

    def __init__(self, op, impl: Callable, setup_context=None, backward=None):
        self.op = op
        self._impl = impl
        self._function = None
        if backward is not None:

            class Function(torch.autograd.Function):
                @staticmethod
                def forward(ctx, *args):
                    out = impl(*args)
                    setup_context(ctx, args, out)
                    return out

                @staticmethod
                def backward(ctx, *grads):
                    return backward(ctx, *grads)

            Function.__name__ = Function.__qualname__ = f"{op._name}_eager"
            self._function = Function

    def __call__(self, *args):
        if not _plain_eager(args):
            return self.op(*args)
        if records_graph() and any(isinstance(a, Tensor) and a.requires_grad for a in args):
            if self._function is None:
                return self.op(*args)
            return self._function.apply(*args)
        return self._impl(*args)


def _typing_spelling(t):
    """``t`` with ``list[X]``, ``tuple[X, …]`` and ``X | None`` spelled as ``typing.List[X]``,
    ``typing.Tuple[X, …]`` and ``typing.Optional[X]``: the schema inference of torch < 2.7 knows
    only those spellings (it rejects ``list[int]`` as "unsupported type")."""
    if isinstance(t, types.UnionType):
        return typing.Union[tuple(_typing_spelling(a) for a in t.__args__)]  # noqa: UP007
    if isinstance(t, types.GenericAlias):
        args = tuple(_typing_spelling(a) for a in t.__args__)
        if t.__origin__ is list:
            return typing.List[args]  # noqa: UP006
        if t.__origin__ is tuple:
            return typing.Tuple[args]  # noqa: UP006
    return t


def _schema_signature(fn: Callable) -> Callable:
    """Give ``fn`` a ``__signature__`` whose annotations every supported torch can turn into an
    operator schema (:func:`_typing_spelling`); the function itself is unchanged."""
    sig = inspect.signature(fn)
    # (typeshed declares no __signature__ on callables; inspect.signature reads it)
    fn.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=_typing_spelling(p.annotation))
                    for p in sig.parameters.values()],
        return_annotation=_typing_spelling(sig.return_annotation),
    )
    return fn


def _saving_no_inference_tensors(setup_context: Callable) -> Callable:
    """``setup_context`` given copies of its inference-tensor inputs: autograd refuses to save an
    inference tensor (one made under ``torch.inference_mode``), which an input of a graph that
    needs a gradient can still be (``x`` made under inference mode, ``b`` trainable)."""

    def setup(ctx, inputs, output):
        if any(isinstance(a, Tensor) and a.is_inference() for a in inputs):
            inputs = tuple(a.clone() if isinstance(a, Tensor) and a.is_inference() else a
                           for a in inputs)
        return setup_context(ctx, inputs, output)

    return setup


def _folding_vmap(op, sample_args: tuple[int, ...]) -> Callable:
    """A ``torch.vmap`` rule for ``op`` whose arguments at ``sample_args`` index samples along
    their first dimension (``x``, a gradient, a mask of planes) and whose outputs all do: the
    vmapped dimension is folded into that one, so that one call computes every sample (PyTorch's
    fallback makes one call per sample, and warns). A vmapped filter, bias or activation
    parameter (one per sample) still needs a call per sample, made here."""

    def rule(info, in_dims, *args):
        size = info.batch_size
        # (a non-tensor argument's in_dim is None, or a list of Nones for a list argument)
        dims = [d if isinstance(a, Tensor) else None for a, d in zip(args, in_dims)]
        if size == 0 or any(d is not None for i, d in enumerate(dims) if i not in sample_args):
            outs = [op(*(a.select(d, k) if d is not None else a for a, d in zip(args, dims)))
                    for k in range(size)]  # fmt: skip
            if not outs:
                raise ValueError("vmap over a dimension of size 0 is not supported by the fused "
                                 "ops; use impl='ref'")  # fmt: skip
            if isinstance(outs[0], tuple):
                return tuple(torch.stack(o) for o in zip(*outs)), (0,) * len(outs[0])
            return torch.stack(outs), 0
        folded = list(args)
        for i in sample_args:
            a, d = args[i], dims[i]
            a = a.movedim(d, 0) if d is not None else a.expand(size, *a.shape)
            folded[i] = a.reshape(size * a.shape[1], *a.shape[2:])
        out = op(*folded)

        def unfold(o: Tensor) -> Tensor:
            return o.reshape(size, o.shape[0] // size, *o.shape[1:])

        if isinstance(out, tuple):
            return tuple(unfold(o) for o in out), (0,) * len(out)
        return unfold(out), 0

    return rule


def define_op(name: str, device_type: str, impl: Callable, fake: Callable,
              setup_context=None, backward=None,
              sample_args: tuple[int, ...] | None = None) -> EagerOp:
    """Register ``bandlimit::<name>`` (its schema from ``impl``'s annotations) for one device
    type, with ``fake`` and, if given, the autograd formula and (``sample_args``: the
    arguments whose first dimension indexes samples, as every output's does) a folding
    ``torch.vmap`` rule; returns its :class:`EagerOp`."""
    _schema_signature(impl)
    if setup_context is not None:
        setup_context = _saving_no_inference_tensors(setup_context)
    op = torch.library.custom_op(f"bandlimit::{name}", impl, mutates_args=(),
                                 device_types=device_type)
    op.register_fake(fake)
    if backward is not None:
        op.register_autograd(backward, setup_context=setup_context)
    if sample_args is not None:
        torch.library.register_vmap(op, _folding_vmap(op, sample_args))
    return EagerOp(op, impl, setup_context, backward)


def upfirdn_setup(ctx, inputs, output) -> None:
    """Autograd context of an upfirdn custom op: the input size and the stage; the input and
    the filters too when a filter needs a gradient."""
    x, fx, fy, f2d, up, down, pad = inputs
    ctx.hw = (x.shape[2], x.shape[3])
    ctx.geometry = (tuple(up), tuple(down), tuple(pad))
    ctx.learning = any(isinstance(f, Tensor) and f.requires_grad for f in (fx, fy, f2d))
    if ctx.learning:  # (saved, not attributes: the filters' own graph reaches a double backward)
        ctx.save_for_backward(x, fx, fy, f2d)
    else:
        ctx.fir = Fir(fx, fy, f2d)


def upfirdn_backward(op, ctx, grad: Tensor) -> tuple:
    """The gradient of upfirdn ``op``: ``op`` again on the transposed stage for ``x``;
    :func:`filter_gradients` for filters that require grad."""
    if ctx.learning:
        x, fx, fy, f2d = ctx.saved_tensors
        fir = Fir(fx, fy, f2d)
    else:
        x, fir = None, ctx.fir
    grad = grad.contiguous()
    dx = None
    if ctx.needs_input_grad[0]:
        fir_t, up, down, pad = transpose_stage(ctx.hw, fir, *ctx.geometry)
        dx = op(grad, fir_t.fx, fir_t.fy, fir_t.f2d, list(up), list(down), list(pad))
    dfilters = (None, None, None)
    if ctx.learning and any(ctx.needs_input_grad[1:4]):
        up, down, pad = ctx.geometry
        dfilters = filter_gradients(op, x, grad, fir, up, down, pad, ctx.needs_input_grad[1:4])
    return dx, *dfilters, None, None, None


def filter_gradients(op, x: Tensor, grad: Tensor, fir: Fir, up, down, pad, needed) -> tuple:
    """The gradients of an upfirdn stage with respect to its filters ``(fx, fy, f2d)`` (None
    where not ``needed``).

    Along x, ``y[m, o] = Σ_k fx[k] · u[m, o·down_x + k]``, with ``u`` the input up-sampled and
    padded along x and filtered and down-sampled along y (``op`` with a one-tap x filter): so
    ``dfx`` correlates ``u`` with ``grad`` (:func:`upsampled_tap_gradient`, which never forms
    the zeros of the up-sampling); likewise ``dfy``, and each row of ``df2d`` with the input
    up-sampled and padded along y (its rows ``ky::down_y``), along x as ``dfx``.
    Differentiable ops throughout: higher orders follow.
    """
    # (in the filters' dtype: float32 for half-precision CUDA inputs)
    wide = next(f.dtype for f in (fir.f2d, fir.fx) if f is not None)
    one = torch.ones(1, dtype=wide, device=x.device)
    grad = grad.to(wide)
    oh, ow = grad.shape[2:]
    (ux, uy), (dx, dy) = up, down
    out: list[Tensor | None] = [None, None, None]
    x0, x1, y0, y1 = pad
    if fir.f2d is not None:
        if needed[2]:  # up-sampled and padded along y only: [N, C, Hp, W]
            u = op(x, one, one, None, [1, uy], [1, 1], [0, 0, y0, y1]).to(wide)
            kh, kw = fir.f2d.shape
            rows = grad.reshape(-1, ow)

            def row(ky: int) -> Tensor:  # (the y taps' rows of u, against grad's)
                z = u[:, :, ky::dy][:, :, :oh].reshape(-1, u.shape[3])
                return upsampled_tap_gradient(z, rows, kw, ux, dx, x0)

            out[2] = torch.stack([row(ky) for ky in range(kh)])
        return tuple(out)
    assert fir.fx is not None and fir.fy is not None  # separable: both axes are set
    if needed[0]:  # the input filtered along y, not yet up-sampled along x: [N, C, OH, W]
        v = op(x, one, fir.fy, None, [1, uy], [1, dy], [0, 0, y0, y1]).to(wide)
        out[0] = upsampled_tap_gradient(v.reshape(-1, v.shape[3]), grad.reshape(-1, ow),
                                        fir.fx.shape[0], ux, dx, x0)  # fmt: skip
    if needed[1]:  # the same along y, on x transposed: rows along H, [N, C, OW, H]
        xt = x.transpose(2, 3).contiguous()
        v = op(xt, one, fir.fx, None, [1, ux], [1, dx], [0, 0, x0, x1]).to(wide)
        g = grad.transpose(2, 3).reshape(-1, oh)
        out[1] = upsampled_tap_gradient(v.reshape(-1, v.shape[3]), g, fir.fy.shape[0], uy, dy,
                                        y0)  # fmt: skip
    return tuple(out)


def tap_gradient(u: Tensor, g: Tensor, k: int, d: int, block: int | None = None) -> Tensor:
    """``w[j] = Σ_m Σ_o g[m, o] · u[m, o·d + j]`` for ``j < k``: the gradient of the taps of a
    strided correlation ``y[m, o] = Σ_j w[j] · u[m, o·d + j]`` (``u [M, ≥ (O−1)·d + k]``,
    ``g [M, O]``), as matrix products.

    The outputs are cut into blocks of ``block``; each block's window of ``u``,
    ``(block − 1)·d + k`` samples, becomes a row, so that ``A = gᵀ·windows`` sums over every
    row and block at once and ``w[j] = Σ_s A[s, s·d + j]``; the last, shorter block alike.
    torch's weight gradient of a one-channel convolution ran 10-25x slower on CPU. Default
    ``block``: 32, or 1 where ``d >= k`` (a block's window would be mostly samples no tap
    reads: 44.1 → 48 kHz's phases have stride 147 and 20 taps).
    """
    m, o = g.shape
    if block is None:
        block = 32 if d < k else 1
    full = min(o // block, max(0, (u.shape[1] - (block - 1) * d - k) // (block * d) + 1))
    parts = []
    if full:
        width = (block - 1) * d + k
        windows = u.unfold(1, width, block * d)[:, :full].reshape(m * full, width)
        parts.append(_diagonal_taps(g[:, :full * block].reshape(m * full, block).T @ windows, k, d))
    if full * block < o:  # the rest of the outputs, one window per row
        start = full * block
        rest = u[:, start * d:(o - 1) * d + k]
        parts.append(_diagonal_taps(g[:, start:].T @ rest, k, d))
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def upsampled_tap_gradient(v: Tensor, g: Tensor, k: int, u: int, d: int, p0: int) -> Tensor:
    """:func:`tap_gradient` of ``z``, ``v [M, L]`` up-sampled by ``u`` (sample ``i`` at
    ``p0 + i·u``, zeros between; ``p0 < 0`` crops), against ``g [M, O]``, without forming ``z``.

    Output ``o`` meets a sample of ``v`` through tap ``j`` where ``o·d + j ≡ p0 (mod u)``: for
    the outputs ``o = ρ + P·t`` (``P = u / gcd(u, d)``) that is taps ``j = j₀(ρ) + u·s``, and
    ``z[o·d + j] = v[c(ρ) + (d / gcd)·t + s]``. So each phase ``ρ`` is a strided correlation of
    ``v`` itself with every ``P``-th output, on every ``u``-th tap: ``u`` times less work and
    memory than on ``z`` (160x for 44.1 → 48 kHz).
    """
    if u == 1:  # (only the padding: crop or extend v with zeros)
        end = (g.shape[1] - 1) * d + k
        return tap_gradient(_window(v, -p0, end - p0), g, k, d)
    q = math.gcd(u, d)
    period, step = u // q, d // q
    w = v.new_zeros(k)
    for rho in range(min(period, g.shape[1])):
        j0 = (p0 - rho * d) % u
        if j0 >= k:
            continue
        taps = (k - 1 - j0) // u + 1
        g_rho = g[:, rho::period]
        c = (rho * d + j0 - p0) // u  # (exact)
        window = _window(v, c, c + step * (g_rho.shape[1] - 1) + taps)
        part = tap_gradient(window, g_rho, taps, step)
        index = torch.arange(j0, k, u, device=v.device)
        w = w.index_add(0, index, part)
    return w


def _window(v: Tensor, start: int, stop: int) -> Tensor:
    """``v[:, start:stop]`` with zeros where the range leaves ``v``."""
    n = v.shape[1]
    inner = v[:, min(max(start, 0), n):max(min(stop, n), 0)]
    before, after = min(max(-start, 0), stop - start), max(stop - max(n, start), 0)
    return torch.nn.functional.pad(inner, (before, after)) if before or after else inner


def _diagonal_taps(a: Tensor, k: int, d: int) -> Tensor:
    """``Σ_s a[s, s·d + j]`` for ``j < k``."""
    index = torch.arange(a.shape[0], device=a.device)[:, None] * d
    return a.gather(1, index + torch.arange(k, device=a.device)).sum(0)


def define_upfirdn(name: str, device_type: str, kernel: UpfirdnKernel) -> EagerOp:
    """Register ``bandlimit::<name>(x, fx, fy, f2d, up, down, pad) -> Tensor`` for one device.

    ``kernel`` computes the op on normalised arguments (see :mod:`bandlimit.ops._params`):
    ``x`` ``[N, C, H, W]``, a separable (``fx``, ``fy``) or full 2-D (``f2d``) filter in
    correlation form, factors ``up``/``down`` as ``[x, y]`` and ``pad`` as ``[x0, x1, y0, y1]``.
    Returns the op (an :class:`EagerOp`, callable with the same arguments).
    """

    def impl(
        x: Tensor,
        fx: Tensor | None,
        fy: Tensor | None,
        f2d: Tensor | None,
        up: list[int],
        down: list[int],
        pad: list[int],
    ) -> Tensor:
        return kernel(x, fx, fy, f2d, up, down, pad)

    def fake(x, fx, fy, f2d, up, down, pad):
        n, c, h, w = x.shape
        return x.new_empty(n, c, *stage_out_size((h, w), Fir(fx, fy, f2d), up, down, pad))

    op: list[EagerOp] = []  # the backward calls the op itself: bound once it exists
    op.append(define_op(name, device_type, impl, fake, upfirdn_setup,
                        lambda ctx, grad: upfirdn_backward(op[0], ctx, grad), sample_args=(0,)))
    return op[0]
