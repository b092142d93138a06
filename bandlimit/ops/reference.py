"""The 'ref' backend: the semantics of every op in plain PyTorch.

Readable, runs on any device and dtype, and differentiable to any order through ordinary autograd
(the filtered activation's backward, :func:`filtered_act_vjp`, is PyTorch ops too: it
recomputes the up-sampled signal so that autograd holds only the op's inputs,
:func:`recomputing_filtered_act`). It receives arguments already normalised by
:mod:`bandlimit.ops._params` (filters in correlation form with their gains multiplied in). The
other backends are judged against it.

Cost: the up-sampling stage uses ``conv_transpose2d``, which is polyphase by construction (it never
multiplies inserted zeros); the down-sampling stage uses a strided convolution when nothing is
upsampled, so only the kept samples are computed; a separable pass that does both along one axis
(rational resampling) multiplies frames of the input by a matrix of the phases' taps
(:func:`_rational_axis`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar, overload

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

from bandlimit.ops._activations import Activation, ParametricActivation, negative_slope
from bandlimit.ops._dispatch import exporting_to_onnx, forward_ad_active
from bandlimit.ops._frames import MAX_RUNS, MIN_FRAME, FramePlan, frame_plan, tap_matrix
from bandlimit.ops._params import (
    Fir,
    Pad4,
    Pair,
    learns,
    out_length,
    transpose_axis,
    transpose_stage,
)

PADDING_MODES = ("zeros", "replicate", "circular")


def check_padding_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`PADDING_MODES`, else a ValueError naming it."""
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    return mode


def pad_axis(x: torch.Tensor, p0: int, p1: int, dim: int) -> torch.Tensor:
    """Zero-pad (positive) or crop (negative) ``x`` along ``dim``; any combination is valid."""
    if p0 == 0 and p1 == 0:
        return x
    length = x.shape[dim]
    new_len = length + p0 + p1
    start, stop = max(-p0, 0), length - max(-p1, 0)
    if stop <= start:  # everything is cropped away: all zeros, still attached to the graph
        x, lo, hi = x.narrow(dim, 0, 0), max(new_len, 0), 0
    else:
        x = _narrow(x, dim, start, stop - start)
        lo, hi = max(p0, 0), max(p1, 0)
    if lo or hi:
        widths = [0, 0] * (x.ndim - 1 - (dim % x.ndim)) + [lo, hi]
        x = F.pad(x, widths)
    return x


def _narrow(x: torch.Tensor, dim: int, start, length) -> torch.Tensor:
    """``x.narrow(dim, start, length)``, or ``x`` itself where that is all of it: a slice of
    everything is an ``alias``, which the older vmap (``is_grads_batched``,
    ``check_batched_grad``) cannot batch."""
    if isinstance(length, int) and start == 0 and x.shape[dim] == length:
        return x
    return x.narrow(dim, start, length)


_F = TypeVar("_F", bound=Callable[..., torch.Tensor])


def _without_autocast(fn: _F) -> _F:
    """``fn(x, ...)`` with ``torch.autocast`` off for ``x``'s device: the passes compute in
    ``x``'s dtype, as the fused kernels (custom ops, which autocast does not cast) do, so that
    every backend returns ``x``'s dtype under autocast (its convolutions and matrix products
    would otherwise run, and return, in the autocast dtype)."""

    @functools.wraps(fn)
    def run(x: torch.Tensor, *args):
        device = x.device.type
        if torch.amp.is_autocast_available(device) and torch.is_autocast_enabled(device):
            with torch.autocast(device, enabled=False):
                return fn(x, *args)
        return fn(x, *args)

    return run  # type: ignore[return-value]


_CHUNK_ELEMENTS = 1 << 22  # samples gathered at a time by _rational_gather (16 MB of float32)


def _values_readable(x: torch.Tensor) -> bool:
    """Whether ``x`` holds real values that Python may branch on: not traced by Dynamo or
    jit.trace, a plain tensor (a fake or functional tensor is what export and make_fx trace),
    not on the meta device (shapes only: no values to read), and not batched by the older vmap
    of ``is_grads_batched`` / ``check_batched_grad`` (a plain Tensor by type, whose ``bool()``
    has no batching rule). A mode that merely intercepts ops still sees the eager
    computation."""
    return (not (torch.compiler.is_compiling() or torch.jit.is_tracing())
            and type(x) in (torch.Tensor, torch.nn.Parameter)
            and not x.is_meta
            and not torch._C._functorch.is_legacy_batchedtensor(x))  # fmt: skip


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite, from the sum (one pass, measured 10x faster than
    ``isfinite(x).all()`` on CPU): inf and NaN survive a sum, and a sum that overflows only sends
    ``x`` to the exact path. Half precision sums in float32."""
    half = x.dtype in (torch.float16, torch.bfloat16)
    return bool(torch.isfinite(x.sum(dtype=torch.float32) if half else x.sum()))


def _rational_axis(x: torch.Tensor, w: torch.Tensor, u: int, d: int, p0: int, p1: int):
    """One upfirdn along the last axis of ``x [..., L]`` (``u`` or ``d`` > 1), polyphase
    (:func:`_rational_forward`), differentiable to any order."""
    w = w.to(x.dtype).reshape(-1)
    # Plain autograd through the phase-by-phase path for a learned filter (the Functions
    # below differentiate x only), and in symbolic sizes (the adjoint's geometry took minutes).
    if learns(w) or not _values_readable(x):
        return _rational_forward(x, w, u, d, p0, p1)
    forward_ad = torch._C._are_functorch_transforms_active() or fwAD._current_level >= 0
    fn = _RationalAxisJvp if forward_ad else _RationalAxis
    return fn.apply(x, w, u, d, p0, p1)


def _rational_backward(ctx, grad):
    """The gradient of a rational pass: the adjoint pass (the filter reversed, ``u`` and ``d``
    swapped), computed the same way (autograd through a first version's strided convolutions
    ran their backward 20x slower than the forward on CPU for 44.1 -> 48 kHz)."""
    (w,) = ctx.saved_tensors
    n, u, d, p0, p1 = ctx.geometry
    ut, dt, q0, q1 = transpose_axis(n, u, d, p0, p1, w.numel())
    return _rational_axis(grad, w.flip(0), ut, dt, q0, q1), None, None, None, None, None


class _RationalAxis(torch.autograd.Function):
    """A rational pass in plain eager mode, differentiable to any order
    (:func:`_rational_backward`). The forward takes ``ctx`` itself: with a separate
    ``setup_context`` every ``apply`` binds the forward's signature (``inspect``), which cost
    more than a small pass."""

    @staticmethod
    def forward(ctx, x, w, u, d, p0, p1):
        ctx.save_for_backward(w)
        ctx.geometry = (x.shape[-1], u, d, p0, p1)
        return _rational_forward(x, w, u, d, p0, p1)

    backward = staticmethod(_rational_backward)


class _RationalAxisJvp(torch.autograd.Function):
    """:class:`_RationalAxis` under torch.func transforms and with forward-mode AD (``jvp``,
    ``jacfwd``, ``hessian``, dual tensors), which need ``setup_context``. A separate class:
    Dynamo does not trace a Function that defines ``jvp``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x, w, u, d, p0, p1):
        return _rational_forward(x, w, u, d, p0, p1)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, w, u, d, p0, p1 = inputs
        ctx.save_for_backward(w)
        ctx.save_for_forward(w)
        ctx.geometry = (x.shape[-1], u, d, p0, p1)

    backward = staticmethod(_rational_backward)

    @staticmethod
    def jvp(ctx, x_tangent, *_):  # linear in x (a filter with a tangent takes plain autograd)
        (w,) = ctx.saved_tensors
        return _rational_axis(x_tangent, w, *ctx.geometry[1:])


@_without_autocast
def _rational_forward(x: torch.Tensor, w: torch.Tensor, u: int, d: int, p0: int, p1: int):
    """One upfirdn along the last axis of ``x [..., L]`` (``u`` or ``d`` > 1), in frames of
    outputs (:mod:`._frames`): neither the inserted zeros nor the outputs that ``down`` drops
    are computed, whatever the number of phases.

    Runs of phases whose windows overlap are one matrix product each (:func:`_rational_matmul`).
    Their matrices hold zeros where a phase's taps do not reach, and ``0 · inf`` is NaN, so an
    input with non-finite values is computed phase by phase instead (:func:`_rational_gather`),
    and a NaN reaches only the outputs whose taps meet it (deciding costs one sum of ``x``, and
    on a GPU one synchronisation). Under torch.func transforms (``vmap``, ``jacrev``...), whose
    values Python cannot read, the phase-by-phase path serves every input, in frames of the
    bare ``u / gcd`` phases (symbolic sizes, traced with dynamic shapes, take the convolutions
    instead: :func:`_frames_serve`). So do
    factors so large that the phases form more than ``MAX_RUNS`` runs. Traced with static
    sizes, the products serve every input (the values are unknown there: a non-finite value
    may reach the neighbouring outputs of its frame).

    ``w`` is the filter in ``x``'s dtype, flat.
    """
    k, n = int(w.numel()), x.shape[-1]  # a symbolic filter length: the plan would be symbolic
    n_out = out_length(n, u, d, p0, p1, k)
    readable = _values_readable(x)
    exact = (torch._C._are_functorch_transforms_active()
             or not (readable or (isinstance(n, int) and isinstance(p1, int))))  # fmt: skip
    plan = frame_plan(k, u, d, p0, 1 if exact else MIN_FRAME)
    if not exact and len(plan.runs) > MAX_RUNS:
        exact, plan = True, frame_plan(k, u, d, p0, 1)
    m = (n_out + plan.q - 1) // plan.q  # output frames (the last one cropped below; no floor
    # division of a negative: ONNX divides integers truncating, and a traced n_out is symbolic)
    lead = x.shape[:-1]
    xp = pad_axis(x.reshape(-1, n), -plan.lo, plan.right_padding(k, p0, p1), -1)  # x[i + lo]
    exact = exact or (readable and not _all_finite(x))
    y = _rational_gather(xp, w, plan, m) if exact else _rational_matmul(xp, w, plan, m)
    return _narrow(y.reshape(*lead, m * plan.q), -1, 0, n_out)


def _rational_matmul(xp: torch.Tensor, w: torch.Tensor, plan: FramePlan, m: int) -> torch.Tensor:
    """``[B, m, Q]`` (sizes known: eager, or traced with static sizes): per run of phases, the
    windows of the signal (``Φ`` apart, a strided view) times a matrix holding each phase's taps
    at its window's offset within the run's, zeros elsewhere. Measured against one strided
    convolution per run (which vectorises over the phases the same way): 1.3–1.8× faster on
    CPU, its output already frame-major (the convolution's needed a transposing copy that cost
    as much as the arithmetic)."""
    kernels = tap_matrix(plan, w)
    parts = []
    for c0, c1, e0, width in plan.runs:
        windows = _narrow(_narrow(xp, 1, e0, xp.shape[1] - e0).unfold(-1, width, plan.phi),
                          1, 0, m)  # [B, m, width], a view
        parts.append(windows @ kernels[c0:c1, :width].t())
    return torch.cat(parts, -1) if len(parts) > 1 else parts[0]


def _rational_gather(xp: torch.Tensor, w: torch.Tensor, plan: FramePlan, m):
    """``[B, m, Q]``, each output the dot product of its own phase's taps with its window: one
    gather and one contraction per group of phases with the same tap count (no tap that is not
    the filter's meets a sample), in chunks of about ``_CHUNK_ELEMENTS`` gathered samples over
    the frames, or, where ``m`` is symbolic (traced), over the phases in eighths."""
    groups: dict[int, list[int]] = {}  # taps -> phases
    for c, t in enumerate(plan.taps):
        groups.setdefault(t, []).append(c)
    order, parts = [], []
    for taps, phases in groups.items():
        order += phases
        if taps == 0:  # no tap meets a sample: zeros (an empty sum, on the graph)
            parts.append(xp[:, :0].sum(-1)[:, None, None].expand(-1, m, len(phases)))
            continue
        windows = xp.unfold(-1, taps, 1)  # [B, positions, taps], a view
        if isinstance(m, int):
            subsets = [phases]
            per = max(1, _CHUNK_ELEMENTS // (xp.shape[0] * len(phases) * taps))
            ranges = [(m0, min(m, m0 + per)) for m0 in range(0, m, per)]
        else:
            step = -(-len(phases) // 8)
            subsets = [phases[i : i + step] for i in range(0, len(phases), step)]
            ranges = [(0, m)]
        for sub in subsets:
            first = torch.tensor([plan.first_tap[c] for c in sub], device=xp.device)
            e = torch.tensor([plan.offset[c] for c in sub], device=xp.device)
            wg = w[first[:, None] + plan.u * torch.arange(taps, device=xp.device)]  # [phases, taps]
            chunks = []
            for m0, m1 in ranges:
                frames = torch.arange(m0, m1, device=xp.device)
                win = windows[:, (plan.phi * frames[:, None] + e).reshape(-1)]
                chunks.append(torch.einsum("bmpt,pt->bmp", win.unflatten(1, (-1, len(sub))), wg))
            parts.append(torch.cat(chunks, 1) if len(chunks) > 1 else chunks[0])
    y = torch.cat(parts, -1)
    if order != list(range(plan.q)):
        y = y[:, :, torch.tensor(order, device=xp.device).argsort()]
    return y


def _frames_serve(up: int, down: int, channels: int, samples) -> bool:
    """Whether :func:`_rational_axis` computes a pass along one axis of ``samples`` input
    samples in all.

    Up and down together: always. Only one of them with one channel (a depthwise convolution
    then has no channels to vectorise over): where the convolutions are measured slower, from
    2**14 samples up (transposed: 1.4x at 4 x 4096, 4x at 4 x 262144) and 2**19 down (strided by
    2: from about a million samples 5x slower, 1.2-1.5x faster below). The frames' fixed cost,
    about 0.1 ms a call, made a 38 px plane's pass 6x slower. A symbolic size (traced with
    dynamic shapes) takes the convolutions: the frames' last one, cropped, made torch.export
    guard on the length's residue (a program exported for a dynamic length then ran for about
    half of the lengths only), and a size threshold is a guard too.
    """
    if not isinstance(samples, int):
        return False
    if up > 1 and down > 1:
        return True
    if channels != 1 or up * down == 1:
        return False
    return samples >= (1 << 14 if up > 1 else 1 << 19)


@_without_autocast
def _stage(x: torch.Tensor, w: torch.Tensor, up: Pair, down: Pair, pad: Pad4) -> torch.Tensor:
    """One upfirdn on ``x [N, C, H, W]`` with a correlation filter ``w [kh, kw]`` for every channel.

    Depthwise (grouped) convolutions: measured 2–9× faster on CPU than folding the channels into
    the batch of a single-channel convolution.
    """
    (ux, uy), (dx, dy) = up, down
    kh, kw = w.shape
    c = x.shape[1]
    if 0 in x.shape[2:]:  # an empty plane: only the padding's zeros (kept on the graph)
        ho = out_length(x.shape[2], uy, dy, pad[2], pad[3], kh)
        wo = out_length(x.shape[3], ux, dx, pad[0], pad[1], kw)
        # (zeros plus the empty sum keep it on the graph; torch < 2.5 cannot F.pad an empty axis)
        zeros = x.new_zeros(x.shape[0], c, max(ho, 0), max(wo, 0))
        return zeros + x.sum(dim=(2, 3), keepdim=True)
    if kh == kw == 1 and ux == uy == dx == dy == 1:  # a scalar gain (a None filter)
        x = pad_axis(pad_axis(x, pad[0], pad[1], -1), pad[2], pad[3], -2)
        return x * w.to(x.dtype).reshape(())
    # Up and down along one axis of a separable pass (rational resampling), or either of them
    # on a large signal with one channel (48k -> 16k ran at ~1 GMAC/s as a convolution): frames
    # of outputs as matrix products.
    samples = x.numel()
    if kh == 1 and (uy, dy) == (1, 1) and pad[2:] == (0, 0) and _frames_serve(ux, dx, c, samples):
        return _rational_axis(x, w, ux, dx, pad[0], pad[1])
    if kw == 1 and (ux, dx) == (1, 1) and pad[:2] == (0, 0) and _frames_serve(uy, dy, c, samples):
        y = _rational_axis(x.transpose(2, 3), w.reshape(-1), uy, dy, pad[2], pad[3])
        return y.transpose(2, 3)
    w = w.to(x.dtype)[None, None].expand(c, 1, kh, kw)
    if ux == 1 and uy == 1:
        x = pad_axis(pad_axis(x, pad[0], pad[1], -1), pad[2], pad[3], -2)
        return F.conv2d(x, w.contiguous(), stride=(dy, dx), groups=c)
    # conv_transpose computes z[q] = sum_i x[i] w'[q - i*up] (w' = reversed correlation filter),
    # i.e. y_full[o] = z[o + K - 1 - p0]; the pads below turn z into the padded, filtered signal.
    z = F.conv_transpose2d(x, w.flip([2, 3]).contiguous(), stride=(uy, ux), groups=c)
    z = pad_axis(z, pad[0] - kw + 1, pad[1] + ux - kw, -1)
    z = pad_axis(z, pad[2] - kh + 1, pad[3] + uy - kh, -2)
    if dx > 1 or dy > 1:
        z = z[:, :, ::dy, ::dx]
    return z


def _records_eagerly(x: torch.Tensor, inputs: tuple[torch.Tensor | None, ...]) -> bool:
    """Whether autograd records a graph through one of ``inputs`` in plain eager mode, where
    this module's Functions serve (they hold less than autograd through their composition of
    PyTorch ops, and have no jvp). Tracers, compilers (torch.compile chooses what its backward
    keeps itself), torch.func transforms and forward-mode dual tensors get the composition,
    which they see through; so do empty tensors."""
    return (_values_readable(x)  # (first: Dynamo cannot trace the inference-mode query)
            and torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
            and any(t is not None and t.requires_grad for t in inputs)
            and x.numel() > 0
            and not torch._C._are_functorch_transforms_active()
            and not forward_ad_active() and not exporting_to_onnx())  # fmt: skip


def fir_learns(*firs: Fir) -> bool:
    """Whether a filter tap tensor of ``firs`` requires grad (a learned filter)."""
    return any(learns(t) for fir in firs for t in (fir.fx, fir.fy, fir.f2d) if t is not None)


class _LinearUpfirdn(torch.autograd.Function):
    """:func:`upfirdn` holding nothing of ``x`` for autograd: it is linear in ``x``, its
    gradient the adjoint upfirdn (:func:`transpose_stage`), where autograd through the
    convolutions held their inputs (1 + up times the input for a separable up-sampling).
    Differentiable to any order (the adjoint is this op again)."""

    @staticmethod
    def forward(ctx, x, fir, up, down, pad):
        ctx.geometry = ((x.shape[2], x.shape[3]), fir, up, down, pad)
        return _upfirdn(x, fir, up, down, pad)

    @staticmethod
    def backward(ctx, dy):
        return upfirdn(dy, *transpose_stage(*ctx.geometry)), None, None, None, None


def upfirdn(x: torch.Tensor, fir: Fir, up: Pair, down: Pair, pad: Pad4) -> torch.Tensor:
    """Upsample, pad, filter (correlation), downsample ``x [N, C, H, W]``, each channel alike."""
    if _records_eagerly(x, (x,)) and not fir_learns(fir):
        return _LinearUpfirdn.apply(x, fir, tuple(up), tuple(down), tuple(pad))
    return _upfirdn(x, fir, up, down, pad)


def _upfirdn(x: torch.Tensor, fir: Fir, up: Pair, down: Pair, pad: Pad4) -> torch.Tensor:
    if x.shape[1] == 0:  # grouped convolutions need at least one group
        # (one channel of zeros that is the empty sum of x's: the result stays on x's graph)
        return _upfirdn(x.sum(dim=1, keepdim=True), fir, up, down, pad)[:, :0]
    if fir.separable:
        fx, fy = fir.fx, fir.fy
        assert fx is not None and fy is not None  # (separable: both axes are set)
        if fx.numel() == fy.numel() == 1 and up == down == (1, 1):
            # two scalar gains (None filters: ToRGB's layer): one multiplication, not two passes
            return _stage(x, (fx * fy).reshape(1, 1), up, down, pad)
        x = _stage(x, fx[None, :], (up[0], 1), (down[0], 1), (*pad[:2], 0, 0))
        return _stage(x, fy[:, None], (1, up[1]), (1, down[1]), (0, 0, *pad[2:]))
    assert fir.f2d is not None  # (not separable: the full 2-D filter)
    return _stage(x, fir.f2d, up, down, pad)


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dim: int,
    act: Activation,
    alpha: float,
    gain: float,
    clamp: float | None,
) -> torch.Tensor:
    """``clamp(act(x + b) * gain, -clamp, clamp)`` with ``b`` broadcast along ``dim``."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    x = act.fn(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


# ------------------------------------------------------------------------------------------
# Padding modes. A stage's ``padding`` is counted in samples of its (upsampled) signal; with a
# mode other than 'zeros' the padded samples are not zeros but the input *extended at its own
# rate* (replicate: the edge sample repeated; circular: the signal repeated), then zero-inserted.
# So the non-zero part of a padding is realised by extending the input by whole samples first;
# what remains is an ordinary (zero-free) upfirdn padding in (−up, 0], i.e. a crop.


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def extension(pad: Pad4, up: Pair, mode: str) -> tuple[Pad4, Pad4]:
    """``(ext, pad')``: input samples ``(x0, x1, y0, y1)`` that ``mode`` adds on each side, and
    the upfirdn padding that remains after that extension (all of ``pad`` for 'zeros')."""
    if mode == "zeros":
        return (0, 0, 0, 0), pad
    ext = (
        _ceil_div(max(pad[0], 0), up[0]),
        _ceil_div(max(pad[1], 0), up[0]),
        _ceil_div(max(pad[2], 0), up[1]),
        _ceil_div(max(pad[3], 0), up[1]),
    )
    rest = (
        pad[0] - ext[0] * up[0],
        pad[1] - ext[1] * up[0],
        pad[2] - ext[2] * up[1],
        pad[3] - ext[3] * up[1],
    )
    return ext, rest


def extend_index(length: int, e0: int, e1: int, mode: str, device) -> torch.Tensor:
    """Indices of a signal of ``length`` extended by ``e0``/``e1`` samples with ``mode``
    ('replicate': the edge repeated; 'circular': wrapped, any number of periods)."""
    idx = torch.arange(-e0, length + e1, device=device)
    return idx.clamp(0, length - 1) if mode == "replicate" else idx.remainder(length)


def extend(x: torch.Tensor, pad: Pad4, up: Pair, mode: str) -> tuple[torch.Tensor, Pad4]:
    """``(x', pad')`` with ``upfirdn(x', up, pad') == upfirdn(x, up, pad)`` under ``mode``.

    ``x [N, C, H, W]`` is extended by :func:`extension` samples (differentiably: the gradient of
    a copied sample flows back to the sample it copies).
    """
    (ex0, ex1, ey0, ey1), rest = extension(pad, up, mode)
    h, w = x.shape[2:]
    if ex0 or ex1:
        x = x.index_select(3, extend_index(w, ex0, ex1, mode, x.device))
    if ey0 or ey1:
        x = x.index_select(2, extend_index(h, ey0, ey1, mode, x.device))
    return x, rest


def extend_adjoint(g: torch.Tensor, hw: Pair, pad: Pad4, up: Pair, mode: str) -> torch.Tensor:
    """Adjoint of :func:`extend` on an ``hw`` input: sums the gradient of every copy of a sample
    (the replicated edge, the wrapped periods) back onto that sample."""
    (ex0, ex1, ey0, ey1), _ = extension(pad, up, mode)
    h, w = hw
    if ey0 or ey1:
        idx = extend_index(h, ey0, ey1, mode, g.device)
        g = g.new_zeros(g.shape[0], g.shape[1], h, g.shape[3]).index_add(2, idx, g)
    if ex0 or ex1:
        idx = extend_index(w, ex0, ex1, mode, g.device)
        g = g.new_zeros(g.shape[0], g.shape[1], g.shape[2], w).index_add(3, idx, g)
    return g


# ------------------------------------------------------------------------------------------
# Filtered activation

ActSpec = Activation | ParametricActivation
Params = tuple[torch.Tensor | None, torch.Tensor | None]  # per-channel (alpha, beta) or Nones


@overload
def _channel(p: torch.Tensor, like: torch.Tensor) -> torch.Tensor: ...
@overload
def _channel(p: None, like: torch.Tensor) -> None: ...
def _channel(p: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    return None if p is None else p.to(like.dtype).reshape(1, -1, 1, 1)


def act_value(
    u: torch.Tensor, act: ActSpec, alpha, beta: torch.Tensor | None, gain: float
) -> torch.Tensor:
    """``act(u) · gain`` (``alpha`` a float for scalar acts, a ``[C]`` tensor for parametric)."""
    if isinstance(act, ParametricActivation):
        a = act.fn(u, _channel(alpha, u), _channel(beta, u))
    else:
        a = act.fn(u, alpha)
    return a * gain if gain != 1 else a


Stage = Callable[[torch.Tensor, Fir, Pair, Pair, Pad4], torch.Tensor]


def filtered_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: ActSpec,
    alpha,
    gain: float,
    clamp: float | None,
    beta: torch.Tensor | None = None,
    mode: str = "zeros",
    dpad: Pad4 = (0, 0, 0, 0),
    dmode: str | None = None,
    stage: Stage | None = None,
) -> torch.Tensor:
    """bias → upfirdn(fu, up, pad; mode) → act·gain → clamp → upfirdn(fd, down, dpad; dmode).

    ``fu`` already carries the up-sampling gain, as :func:`make_fir` built it. ``alpha`` is the
    float slope of lrelu or, for a parametric act, a ``[C]`` tensor (as is ``beta``). ``dmode``:
    the down-stage's padding mode, ``mode`` by default (the public ops always use one mode).
    ``stage`` runs each upfirdn (default :func:`upfirdn`; a backend's op for learned filters).
    """
    stage = upfirdn if stage is None else stage
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    xe, pe = extend(x, pad, up, mode)
    u = stage(xe, fu, up, (1, 1), pe)
    # Autograd must see the filtered ops' conventions at ties (those of the fused kernels and of
    # filtered_act_vjp, as StyleGAN3's): u = 0 takes the positive branch, and |a| = clamp passes
    # the gradient (only |a| > clamp blocks it). torch's relu / leaky_relu / clamp differ there.
    if isinstance(act, Activation) and act.piecewise_linear:
        slope = 0.0 if act.name == "relu" else negative_slope(act.name, alpha)
        if slope == 1.0:  # the identity (linear; ToRGB's lrelu with slope 1): no passes
            a = u
        else:
            # relu(−inf) = 0 (lrelu with slope 0 gives −inf·0 = NaN there, as the kernels do)
            neg = torch.zeros_like(u) if act.name == "relu" else u * slope
            a = torch.where(u < 0, neg, u)
        a = a * gain if gain != 1 else a
    else:
        a = act_value(u, act, alpha, beta, gain)
    if clamp is not None:
        a = torch.where(a.abs() > clamp, a.clamp(-clamp, clamp), a)
    ae, de = extend(a, dpad, (1, 1), mode if dmode is None else dmode)
    return stage(ae, fd, (1, 1), down, de)


def filtered_act_vjp(
    x: torch.Tensor,
    b: torch.Tensor | None,
    dy: torch.Tensor,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: ActSpec,
    alpha,
    gain: float,
    clamp: float | None,
    beta: torch.Tensor | None = None,
    mode: str = "zeros",
    dpad: Pad4 = (0, 0, 0, 0),
    stage: Stage = upfirdn,
    dmode: str | None = None,
    need_dv: bool = True,
    need_params: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(dv, dalpha, dbeta)``: the gradient of ``⟨filtered_act(x, b), dy⟩`` w.r.t. ``v = x + b``
    and, for a parametric act, w.r.t. its ``[C]`` parameters (else None), as the transposed
    pipeline::

        g  = E_dᵀ T_down(dy)                    (E: the padding-mode extension, Eᵀ folds back)
        m  = [|act(u)·gain| ≤ clamp]
        dv = E_uᵀ T_up(g · m · gain · act'(u)),  dθ = Σ_{n,y,x} g · m · gain · ∂act/∂θ(u)

    with ``u`` recomputed from ``x`` (nothing of the forward is stored). ``stage`` runs each
    upfirdn (the reference here; the numba backend passes its kernel). ``dmode``: E_d's mode,
    ``mode`` by default (as :func:`filtered_act`). Made of differentiable ops, so it also serves
    double backward. ``need_dv=False`` skips ``dv``'s up-stage (None in its place; only the
    parameters' gradients wanted), ``need_params=False`` the parameters' (None).
    """
    v = x if b is None else x + b.to(x.dtype).reshape(1, -1, 1, 1)
    xe, pe = extend(v, pad, up, mode)
    u = stage(xe, fu, up, (1, 1), pe)
    hu, wu = u.shape[2:]
    dmode = mode if dmode is None else dmode
    (ex0, ex1, ey0, ey1), de = extension(dpad, (1, 1), dmode)
    g = stage(dy, *transpose_stage((hu + ey0 + ey1, wu + ex0 + ex1), fd, (1, 1), down, de))
    g = extend_adjoint(g, (hu, wu), dpad, (1, 1), dmode) * gain
    if clamp is not None:
        a = act_value(u, act, alpha, beta, gain)
        g = torch.where(a.abs() > clamp, torch.zeros_like(g), g)
    dparams: list[torch.Tensor | None] = [None, None]
    if isinstance(act, ParametricActivation):
        al, be = _channel(alpha, u), _channel(beta, u)
        if need_params:
            for i, pg in enumerate(act.pgrad(u, al, be)):
                dparams[i] = (g * pg).sum(dim=(0, 2, 3))
        if not need_dv:
            return None, dparams[0], dparams[1]
        g = g * act.grad(u, al, be)
    elif act.piecewise_linear:
        # selected as the forward's branches are (u = 0 and NaN positive): a blocked branch
        # passes nothing, not inf · 0 = NaN for an infinite dy
        slope = negative_slope(act.name, alpha)
        if slope != 1.0:
            g = torch.where(u < 0, g * slope if slope else torch.zeros_like(g), g)
    else:
        g = g * act.grad(u, alpha)
    if not need_dv:
        return None, None, None
    gx = stage(g, *transpose_stage((xe.shape[2], xe.shape[3]), fu, up, (1, 1), pe))
    return extend_adjoint(gx, (x.shape[2], x.shape[3]), pad, up, mode), dparams[0], dparams[1]


# ------------------------------------------------------------------------------------------
# Filtered activation holding only its input for autograd


class _RecomputingFilteredAct(torch.autograd.Function):
    """:func:`filtered_act` whose backward is :func:`filtered_act_vjp`: it saves ``x`` (and the
    bias and activation parameters) and recomputes the up-sampled signal, where autograd
    through the composition holds it and its branch masks (25x (lrelu) to 40x (Snake) the
    input for 2x up-sampling with 12-tap filters in 2-D; 17x to 55x on StyleGAN3-T's layers).
    The backward is made of differentiable ops: gradients of any order."""

    @staticmethod
    def forward(ctx, x, b, alpha, beta, cfg):
        fu, fd, up, down, pad, act, alpha_f, gain, clamp, mode, dpad, stage = cfg
        al = alpha if isinstance(act, ParametricActivation) else alpha_f
        with torch.no_grad():
            y = filtered_act(x, b, fu, fd, up, down, pad, act, al, gain, clamp, beta=beta,
                             mode=mode, dpad=dpad, stage=stage)  # fmt: skip
        # (autograd cannot save a tensor made under torch.inference_mode: a copy of it)
        ctx.save_for_backward(*(t.clone() if t is not None and t.is_inference() else t
                                for t in (x, b, alpha, beta)))  # fmt: skip
        ctx.cfg = cfg
        return y

    @staticmethod
    def backward(ctx, dy):
        x, b, alpha, beta = ctx.saved_tensors
        fu, fd, up, down, pad, act, alpha_f, gain, clamp, mode, dpad, stage = ctx.cfg
        al = alpha if isinstance(act, ParametricActivation) else alpha_f
        need = ctx.needs_input_grad
        dv, dalpha, dbeta = filtered_act_vjp(
            x, b, dy, fu, fd, up, down, pad, act, al, gain, clamp, beta=beta, mode=mode,
            dpad=dpad, stage=stage, need_dv=need[0] or need[1], need_params=need[2] or need[3],
        )
        db = dv.sum(dim=(0, 2, 3)).to(b.dtype) if need[1] and dv is not None else None
        return (dv if need[0] else None, db, dalpha if need[2] else None,
                dbeta if need[3] else None, None)  # fmt: skip


def recomputing_filtered_act(
    x: torch.Tensor,
    b: torch.Tensor | None,
    fu: Fir,
    fd: Fir,
    up: Pair,
    down: Pair,
    pad: Pad4,
    act: ActSpec,
    alpha,
    gain: float,
    clamp: float | None,
    beta: torch.Tensor | None = None,
    mode: str = "zeros",
    dpad: Pad4 = (0, 0, 0, 0),
    stage: Stage | None = None,
) -> torch.Tensor:
    """:func:`filtered_act` (same arguments and values) that holds only its inputs for
    autograd: the backward recomputes the up-sampled signal (:func:`filtered_act_vjp`). Learned
    filters, tracers, transforms and forward-mode AD get the composition itself."""
    parametric = isinstance(act, ParametricActivation)
    params = (alpha, beta) if parametric else (None, None)
    # linear without a clamp (a callable act's two stages): the composition holds nothing
    linear = (not parametric and act.piecewise_linear and clamp is None
              and negative_slope(act.name, alpha) == 1.0)  # fmt: skip
    if linear or fir_learns(fu, fd) or not _records_eagerly(x, (x, b, *params)):
        return filtered_act(x, b, fu, fd, up, down, pad, act, alpha, gain, clamp, beta=beta,
                            mode=mode, dpad=dpad, stage=stage)  # fmt: skip
    cfg = (fu, fd, tuple(up), tuple(down), tuple(pad), act, None if parametric else alpha, gain,
           clamp, mode, tuple(dpad), upfirdn if stage is None else stage)
    return _RecomputingFilteredAct.apply(x, b, *params, cfg)
