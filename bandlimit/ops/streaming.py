"""Chunk-by-chunk 1-D filtered activations: a stream's outputs are the whole signal's.

A streaming vocoder feeds its activations chunks of audio. Calling :func:`filtered_act1d` on
each chunk alone is wrong near every chunk boundary: the filters there see padding instead of
the neighbouring chunk (differences of ~0.1–0.2 on unit-scale signals). The stream keeps the
input samples that later outputs still need and emits each output sample once every input
sample it depends on has arrived, so the concatenation of all emitted chunks (and the final
:meth:`FilteredAct1dStream.flush`) equals the op on the concatenated input, edges included.

Index bookkeeping, with the op's definitions (``U``/``D`` the factors, ``K_u``/``K_d`` the taps,
``(p0, p1)``/``(d0, d1)`` the paddings): the up-sampled, padded signal holds input sample ``i`` at
position ``p0 + i·U``; output ``m`` reads the activated samples ``m·D − d0 … m·D − d0 + K_d − 1``,
hence the padded positions up to ``m·D − d0 + K_d + K_u − 2``, hence the input samples up to
``i_max(m) = ⌊(m·D − d0 + K_d + K_u − 2 − p0) / U⌋`` (near the left edge, where the activated
signal is padded, at least the first ``K_u`` positions and the first sample). A block of
outputs ``m0 … m1`` is the op on the window of input samples it reads, with paddings that only
crop (or pad with fewer than ``U`` zero-insertion gaps, which are zeros in every mode), except
at the signal's true edges, where the op's own paddings apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bandlimit.ops._activations import get_filtered_activation
from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops._params import as_factors, as_float, as_padding, check_filter, check_tensor
from bandlimit.ops.reference import check_padding_mode

# run(x_window, padding, down_padding) -> the op on the window
RunWindow = Callable[[torch.Tensor, tuple[int, int], tuple[int, int]], torch.Tensor]


class Stream1d:
    """The bookkeeping of a 1-D streamed op, given a function that runs the op on a window."""

    def __init__(
        self,
        run: RunWindow,
        taps: tuple[int, int],
        up: int,
        down: int,
        padding: tuple[int, int],
        down_padding: tuple[int, int],
        padding_mode: str,
    ):
        if check_padding_mode(padding_mode) == "circular":
            raise ValueError(
                "padding_mode='circular' cannot stream: the signal's first samples depend on "
                "its last; use 'zeros' or 'replicate'"
            )
        for name, pads in (("padding", padding), ("down_padding", down_padding)):
            if min(pads) < 0:
                raise ValueError(
                    f"{name} must be >= 0 on both sides to stream (a crop of the whole "
                    f"signal's edges), got {pads}"
                )
        self._run = run
        self._ku, self._kd = taps
        self._up, self._down = up, down
        self._pad, self._dpad = padding, down_padding
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next chunk starts a new signal."""
        # The retained input samples [start, received), as the chunks that hold them (the first
        # one sliced): one tensor made by concatenating would chain every chunk's autograd graph
        # to the next and keep them all alive.
        self._parts: list[torch.Tensor] = []
        self._start = 0
        self._received = 0
        self._emitted = 0
        self._layout: tuple[Any, ...] | None = None

    # -- index maps (global sample indices) --

    def _first_input(self, m: int) -> int:
        """The first input sample output ``m`` reads (may be < 0: the left padding)."""
        return -(-(m * self._down - self._dpad[0] - self._pad[0]) // self._up)

    def _reads_until(self, m: int) -> int:
        """The last position of the padded up-sampled signal that output ``m`` reads (a left
        edge's replicated activations are the first one's, which reads the first ``K_u``)."""
        return max(m * self._down - self._dpad[0] + self._kd - 1, 0) + self._ku - 1

    def _last_input(self, m: int) -> int:
        """The last input sample output ``m`` reads (at least the first: a replicated edge)."""
        return max((self._reads_until(m) - self._pad[0]) // self._up, 0)

    def _ready(self, received: int) -> int:
        """How many outputs depend only on the first ``received`` input samples."""
        if received == 0:
            return 0
        span = received * self._up + self._dpad[0] + self._pad[0] - self._kd - self._ku + 1
        count = max(span // self._down + 1, 0)  # (exact where nothing is clipped, else above)
        while count > 0 and self._last_input(count - 1) >= received:
            count -= 1
        return count

    def _touches_left_edge(self, m: int) -> bool:
        return m * self._down - self._dpad[0] - self._pad[0] < 0

    # -- the public protocol --

    @property
    def lookahead(self) -> int:
        """Input samples an output waits for after the last one its own time spans: the stream's
        algorithmic latency, in input samples (BigVGAN's 2x/12-tap activation: 5)."""
        # output m sits at input time m·D/U and needs samples up to _last_input(m); the
        # difference repeats every U outputs once clear of the left edge
        base = self._up * ((self._dpad[0] + self._pad[0]) // self._down + 1)
        return max(self._last_input(m) - (m * self._down) // self._up
                   for m in range(base, base + self._up))  # fmt: skip

    def push(self, chunk: torch.Tensor) -> torch.Tensor:
        chunk = check_tensor(chunk, "chunk", (3,), "[N, C, L]")
        layout = (chunk.shape[0], chunk.shape[1], chunk.dtype, chunk.device)
        if self._layout is not None and layout != self._layout:
            n, c, dtype, device = self._layout
            raise ValueError(
                f"chunk must continue the stream's [N={n}, C={c}] {dtype} signal on {device}, "
                f"got shape {tuple(chunk.shape)} {chunk.dtype} on {chunk.device} (reset() or "
                f"flush() starts a new signal)"
            )
        self._layout = layout
        if chunk.shape[2]:
            self._parts.append(chunk)
        self._received += chunk.shape[2]
        m1 = self._ready(self._received) - 1
        if m1 < self._emitted:
            return chunk.new_zeros(chunk.shape[0], chunk.shape[1], 0)
        y = self._outputs(self._emitted, m1, final=False)
        self._emitted = m1 + 1
        self._trim()
        return y

    def flush(self) -> torch.Tensor:
        """The outputs that wait for the signal's end (its right edge's padding); then reset."""
        if self._received == 0:
            raise ValueError("flush() needs a signal: no samples were pushed since the last reset")
        try:
            return self._outputs(self._emitted, None, final=True)
        finally:
            self.reset()

    def _total(self) -> int:
        """Outputs of the whole signal received so far (the op's output length)."""
        (p0, p1), (d0, d1) = self._pad, self._dpad
        activated = self._received * self._up + p0 + p1 - self._ku + 1
        return (activated + d0 + d1 - self._kd) // self._down + 1

    def _outputs(self, m0: int, m1: int | None, final: bool) -> torch.Tensor:
        """Outputs ``m0 … m1`` (to the end when ``final``), from the retained samples."""
        u, d, p0, d0 = self._up, self._down, self._pad[0], self._dpad[0]
        if final and m0 >= max(self._total(), 1):
            last = self._parts[-1]
            return last.new_zeros(last.shape[0], last.shape[1], 0)
        # The block starts one output early at the end: the last emitted output reads only
        # samples of the signal, so the window is never empty of them (the remaining outputs
        # may read only the right edge's padding).
        first = max(m0 - 1, 0) if final else m0
        e = self._received - 1 if final or m1 is None else self._last_input(m1)
        if self._touches_left_edge(first):  # the op's own left paddings, from the start
            first, s, left, left_down, origin = 0, 0, p0, d0, 0
        else:
            origin = first * d - d0  # where the window's padded up-sampled signal starts
            s = min(self._first_input(first), e)
            left, left_down = p0 + s * u - origin, 0  # (< U: gaps only; or < 0: a crop)
        window = self._samples(s, e + 1)
        if final:
            pad, dpad = (left, self._pad[1]), (left_down, self._dpad[1])
        else:
            assert m1 is not None
            end = self._reads_until(m1) + 1  # the block reads positions [origin, end)
            pad, dpad = (left, end - origin - left - (e - s + 1) * u), (left_down, 0)
        y = self._run(window, pad, dpad)
        return y[:, :, m0 - first :]

    def _samples(self, i0: int, i1: int) -> torch.Tensor:
        """The retained input samples ``[i0, i1)`` (global indices)."""
        pieces, at = [], self._start
        for part in self._parts:
            n = part.shape[2]
            lo, hi = max(i0 - at, 0), min(i1 - at, n)
            if lo < hi:
                pieces.append(part if (lo, hi) == (0, n) else part[:, :, lo:hi])
            at += n
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)

    def _trim(self) -> None:
        """Drop the samples no later block reads (a final block starts one output early)."""
        m = self._emitted - 1
        keep = 0 if self._touches_left_edge(m) else self._first_input(m)
        keep = min(keep, self._received - 1)
        while self._parts and self._start + self._parts[0].shape[2] <= keep:
            self._start += self._parts.pop(0).shape[2]
        if self._parts and keep > self._start:
            self._parts[0] = self._parts[0][:, :, keep - self._start :]
            self._start = keep


class FilteredAct1dStream:
    """:func:`~bandlimit.ops.filtered_act1d` on a signal that arrives in chunks.

    Each call takes the next chunk ``[N, C, l]`` (any ``l ≥ 0``) and returns the output samples
    that depend only on the samples received so far (``[N, C, k]``, ``k`` may be 0);
    :meth:`flush` returns the rest, those that wait for the signal's end, and resets. The
    concatenation of everything returned equals ``filtered_act1d`` on the concatenated input
    with the same arguments, edges included (to floating-point rounding: the same kernels run on
    windows). The stream holds the last ``≈ (K_u + K_d)/up`` input samples. With
    ``act='linear'`` and ``fd=None`` it streams :func:`~bandlimit.ops.upfirdn1d` (``fu``
    multiplied by ``up``; :meth:`bandlimit.nn.ResamplePoly.stream` streams ``resample_poly``).

    Parameters
    ----------
    act, fu, fd, b, up, down, padding, gain, clamp, alpha, beta, flip_filter, impl, down_padding
        As in :func:`~bandlimit.ops.filtered_act1d`; a tensor ``alpha``/``beta``/``b`` is read at
        every call (trained values count). ``padding`` and ``down_padding`` must be ≥ 0.
    padding_mode : {'zeros', 'replicate'}, default 'zeros'
        'circular' cannot stream (the signal's start depends on its end).

    Attributes
    ----------
    lookahead : int
        Input samples an output waits for beyond its own time: the stream's algorithmic latency
        (5 for BigVGAN's 2x activation with 12 taps).

    Raises
    ------
    ValueError
        ``padding_mode='circular'``, a negative padding, a chunk that does not continue the
        stream (other batch, channels, dtype or device), :meth:`flush` with nothing pushed, or
        any error of ``filtered_act1d``'s.

    Examples
    --------
    BigVGAN's anti-aliased SiLU on a signal in chunks of 100, against the whole signal:

    >>> import torch
    >>> from bandlimit.filters import kaiser_sinc_bigvgan
    >>> from bandlimit.ops import FilteredAct1dStream, filtered_act1d
    >>> f = kaiser_sinc_bigvgan(0.25, 0.3, 12, dtype=torch.float64)
    >>> kw = dict(up=2, down=2, padding=(6, 5), down_padding=(5, 6), padding_mode="replicate",
    ...           flip_filter=(False, True))
    >>> x = torch.randn(1, 4, 1000, dtype=torch.float64)
    >>> stream = FilteredAct1dStream("silu", f, f, **kw)
    >>> parts = [stream(chunk) for chunk in x.split(100, dim=2)] + [stream.flush()]
    >>> [p.shape[2] for p in parts[:3]], stream.lookahead
    ([95, 100, 100], 5)
    >>> y = torch.cat(parts, dim=2)
    >>> torch.allclose(y, filtered_act1d(x, "silu", f, f, **kw))
    True
    """

    _stream: Stream1d

    def __init__(
        self,
        act: Any,
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
    ):
        # (checked now, not when enough samples have arrived for a first window)
        if isinstance(act, str):
            get_filtered_activation(act)
        elif isinstance(act, type) or not callable(act):
            raise TypeError(f"act must be an activation name or a callable (an instance, e.g. "
                            f"nn.GELU()), got {act!r}")  # fmt: skip
        as_float(gain, "gain", nonnegative=True, allow_none=True)
        as_float(clamp, "clamp", nonnegative=True, allow_none=True)
        _check_impl(impl)
        fu, fd = check_filter(fu, "fu", (1,)), check_filter(fd, "fd", (1,))
        u, d = as_factors(up, "up", ndim=1)[0], as_factors(down, "down", ndim=1)[0]
        pad = as_padding(padding, ndim=1)[:2]
        dpad = as_padding(down_padding, "down_padding", ndim=1)[:2]
        taps = (1 if fu is None else fu.shape[0], 1 if fd is None else fd.shape[0])
        kwargs = dict(act=act, fu=fu, fd=fd, b=b, up=u, down=d, padding_mode=padding_mode,
                      gain=gain, clamp=clamp, alpha=alpha, beta=beta, flip_filter=flip_filter,
                      impl=impl)  # fmt: skip
        self._stream = self._of(lambda x: kwargs, taps, u, d, (pad[0], pad[1]),
                                (dpad[0], dpad[1]), str(padding_mode))._stream  # fmt: skip

    @classmethod
    def _of(
        cls,
        op_kwargs: Callable[[torch.Tensor], dict[str, Any]],
        taps: tuple[int, int],
        up: int,
        down: int,
        padding: tuple[int, int],
        down_padding: tuple[int, int],
        padding_mode: str,
    ) -> FilteredAct1dStream:
        """A stream of ``filtered_act1d`` with the arguments ``op_kwargs(window)`` gives besides
        the paddings (a module's, its parameters read per window)."""
        from bandlimit.ops.filtered import filtered_act1d

        def run(x: torch.Tensor, p: tuple[int, int], dp: tuple[int, int]) -> torch.Tensor:
            return filtered_act1d(x, padding=p, down_padding=dp, **op_kwargs(x))

        self = cls.__new__(cls)
        self._stream = Stream1d(run, taps, up, down, padding, down_padding, padding_mode)
        return self

    @property
    def lookahead(self) -> int:
        return self._stream.lookahead

    def __call__(self, chunk: torch.Tensor) -> torch.Tensor:
        """The outputs that ``chunk`` completes, ``[N, C, k]``."""
        return self._stream.push(chunk)

    def flush(self) -> torch.Tensor:
        """The remaining outputs (the signal's end); then the stream starts over."""
        return self._stream.flush()

    def reset(self) -> None:
        """Drop what the stream holds: the next chunk starts a new signal."""
        self._stream.reset()
