"""Frames of outputs: the polyphase geometry of one resampling axis, shared by the backends.

Per axis (correlation form, see :mod:`._params`), output ``o`` reads the taps ``k ≡ p0 − o·d
(mod u)``, which meet consecutive input samples. Group the outputs in frames of ``Q`` (``R``
periods of the ``u / gcd(u, d)`` phases, so at least 16 outputs): output ``o = Q·m + c`` reads
``taps_c`` input samples from ``Φ·m + lo + offset_c`` on (``Φ = R · d / gcd``), with the taps
``first_tap_c + u·j``. A frame is therefore a linear map of a window of the input that moves by
``Φ`` per frame: neither the inserted zeros nor the outputs that ``down`` drops are computed.

Consecutive phases whose windows start within one phase's tap count of each other form a *run*;
a run is one small matrix ``[width, phases]`` (each phase's taps at its offset within the run's
window, zeros elsewhere) applied to every frame's window, which vectorises over the phases.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import torch

from bandlimit.ops._params import cached_constant

MIN_FRAME = 16  # outputs a frame holds at least (the products vectorise over a run's phases)
MAX_RUNS = 64  # beyond, a run's product per call costs more than it saves (very large factors)


class FramePlan(NamedTuple):
    """The frames of one axis: per output phase its first tap, window offset and tap count,
    and the runs of phases computed together."""

    u: int
    q: int  # outputs (phases) of a frame
    phi: int  # input samples per frame
    first_tap: tuple[int, ...]
    offset: tuple[int, ...]  # of each phase's window, relative to the smallest (lo)
    taps: tuple[int, ...]
    lo: int
    runs: tuple[tuple[int, int, int, int], ...]  # (first phase, end, window offset, width)
    in_run: tuple[int, ...]  # each phase's window offset within its run's

    @property
    def reach(self) -> int:
        """Input samples past ``Φ·m + lo`` that frame ``m``'s windows read."""
        return max(e0 + width for _, _, e0, width in self.runs)

    def right_padding(self, k: int, p0: int, p1: int) -> int:
        """Zeros after the input (shifted by ``lo``) that cover the last frame's windows:
        ``Φ·(m − 1) < (p0 + p1 − K)/u + n + Φ``, a bound independent of the length ``n`` (an
        export with a dynamic length then has no guard to take on it)."""
        return max(0, -(-(p0 + p1 - k) // self.u) + self.phi + self.lo + self.reach + 1)


def frame_plan(k: int, u: int, d: int, p0: int, min_frame: int = MIN_FRAME) -> FramePlan:
    """The :class:`FramePlan` of a ``k``-tap filter with factors ``u``, ``d`` and leading pad
    ``p0``, in frames of at least ``min_frame`` outputs: cached in eager mode; Dynamo traces the
    plain function (it warns about, and skips, a cache wrapper)."""
    if torch.compiler.is_dynamo_compiling():
        return _frame_plan(k, u, d, p0, min_frame)
    return _cached_frame_plan(k, u, d, p0, min_frame)


def _frame_plan(k: int, u: int, d: int, p0: int, min_frame: int) -> FramePlan:
    g = math.gcd(u, d)
    periods = -(-min_frame // (u // g))  # 3/2 as frames of 3 outputs took 1.7x frames of 18
    q, phi = u // g * periods, d // g * periods
    first_tap = [(p0 - c * d) % u for c in range(q)]
    offset = [(c * d + kc - p0) // u for c, kc in enumerate(first_tap)]  # exact
    taps = [max(0, -(-(k - kc) // u)) for kc in first_tap]
    lo = min(offset)
    offset = [e - lo for e in offset]
    # The offsets rise from 0 to about Φ. On 44.1 -> 48 kHz one run of all 160 phases spent 8x
    # the multiply-adds (mostly zeros) and ran slower than 7 runs that spend at most 2x; short
    # filters with many phases get longer runs (about 32), up to 5x the multiply-adds (the
    # matrices stay about 5 times the filter's size, whatever Φ).
    span = max(max(taps), min(-(-phi // 32), 4 * max(taps)), 1)
    runs, in_run, start = [], [], 0
    for c in range(1, q + 1):
        if c == q or offset[c] - offset[start] > span:
            e0 = offset[start]
            width = max(offset[i] + taps[i] for i in range(start, c)) - e0
            runs.append((start, c, e0, max(width, 1)))  # phases without taps: a zero column
            in_run += [offset[i] - e0 for i in range(start, c)]
            start = c
    return FramePlan(u, q, phi, tuple(first_tap), tuple(offset), tuple(taps), lo, tuple(runs),
                     tuple(in_run))  # fmt: skip


_cached_frame_plan = functools.lru_cache(maxsize=64)(_frame_plan)  # pure integers


def tap_matrix(plan: FramePlan, w: torch.Tensor) -> torch.Tensor:
    """``[Q, widest run]``: row ``c`` holds phase ``c``'s taps of the flat filter ``w`` at its
    window's offset within its run's, zeros elsewhere (torch ops: it traces)."""
    k = w.numel()
    index = cached_constant(("tap_index", plan, k), w.device, lambda: _tap_index(plan, k, w.device))
    return torch.cat([w, w.new_zeros(1)])[index]  # index k reads the zero


def _tap_index(plan: FramePlan, k: int, device: torch.device) -> torch.Tensor:
    """``[Q, widest run]`` indices into ``w`` for :func:`tap_matrix`; ``k`` where no tap lies.
    Made once per plan outside tracing: the index arithmetic cost 50 µs a call, a 38 px
    plane's whole pass."""
    first, rel, taps = torch.tensor([plan.first_tap, plan.in_run, plan.taps], device=device)
    j = torch.arange(max(run[3] for run in plan.runs), device=device)[None, :] - rel[:, None]
    return torch.where((j >= 0) & (j < taps[:, None]), first[:, None] + plan.u * j, k)
