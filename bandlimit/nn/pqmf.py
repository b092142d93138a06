"""A pseudo-QMF analysis / synthesis filter bank: audio to ``K`` critically sampled sub-bands and
back, as multi-band vocoders use it (Multi-band MelGAN, Avocodo, MB-iSTFT-VITS)."""

from __future__ import annotations

import torch

from bandlimit.filters.pqmf import (
    MB_MELGAN_BETA,
    MB_MELGAN_TAPS,
    _validate,
    pqmf_filters,
)
from bandlimit.nn._module import Module
from bandlimit.nn.activation import tensor_dtype
from bandlimit.ops import upfirdn2d
from bandlimit.ops._dispatch import _check_impl
from bandlimit.ops._params import check_tensor

__all__ = ["PQMF"]


class PQMF(Module):
    r"""Pseudo-QMF filter bank: :meth:`analysis` splits ``[N, C, T]`` signals into ``K``
    sub-bands ``[N, C·K, T/K]``, :meth:`synthesis` puts them back together.

    The filters are :func:`bandlimit.filters.pqmf_filters` ``(subbands, taps,
    cutoff_ratio, beta)`` (the defaults: Multi-band MelGAN's 4-band bank): band ``k`` is the
    input filtered by the analysis filter :math:`h_k` and kept every ``K``-th sample; synthesis
    zero-stuffs each band by ``K``, filters it by :math:`g_k`, multiplies by ``K`` and sums the
    bands. ``forward`` is :meth:`analysis`.

    **Alignment.** Both filters are applied centred (zero padding of ``taps/2`` samples at
    both ends, as :func:`bandlimit.ops.upfirdn1d` ``padding=taps // 2``), so band sample
    ``m`` describes the input around sample ``m·K`` and ``synthesis(analysis(x))``
    reconstructs ``x`` with **no delay** (a causal bank delays by ``taps`` samples). Signal
    lengths must be multiples of ``K`` (pad them; other lengths raise ``ValueError``). The
    reconstruction is near-perfect, not exact, from ``taps/2`` samples after the start to
    ``taps/2`` before the end (white noise: 64 dB SNR for the defaults, the bank's distortion
    of ±1.2e-3 in amplitude; its aliasing is below −90 dB); within ``taps/2`` samples of either
    end it is poor (10 to 25 dB measured), because the band samples that the filters' tails
    put beyond the ends are not kept.

    **Channels.** Each of the ``C`` input channels is split alike: output channel ``c·K + k``
    is band ``k`` (from the lowest) of input channel ``c`` (``[N, 1, T]`` gives the usual
    ``[N, K, T/K]``); :meth:`synthesis` takes the same layout, channels a multiple of ``K``.

    Each direction is one :func:`bandlimit.ops.upfirdn2d` call with the ``[K, taps + 1]`` bank
    as a 2-D filter (the bands along a unit axis), so it runs on the op's backends, in float16,
    bfloat16, float32 and float64, is differentiable to any order and compiles with
    ``torch.compile(fullgraph=True)``. No parameters and no state-dict entries: the filters
    are non-persistent float32 buffers ``analysis_filter`` and ``synthesis_filter``
    (``[K, taps + 1]``, row ``k`` for band ``k``; kept in float32 by ``.half()``).

    Parameters
    ----------
    subbands : int, default 4
        Number of bands ``K`` (≥ 1).
    taps : int, default 62
        The prototype's order, even; the filters have ``taps + 1`` taps.
    cutoff_ratio : float or None, default None
        The prototype's cutoff as a fraction of the Nyquist frequency, in ``(0, 1/K)``; None:
        :func:`~bandlimit.filters.pqmf_cutoff` ``(subbands, taps, beta)``, or Multi-band
        MelGAN's 0.142 for its bank (the defaults); as in
        :func:`~bandlimit.filters.pqmf_filters`.
    beta : float, default 9.0
        The Kaiser window's shape (≥ 0).
    impl : {'auto', 'ref', 'numba', 'cuda'}, default 'auto' (keyword-only)
        Backend of :func:`~bandlimit.ops.upfirdn2d`.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.nn.pqmf import PQMF
    >>> pqmf = PQMF()                                  # Multi-band MelGAN's 4 bands
    >>> x = torch.randn(2, 1, 8000, generator=torch.Generator().manual_seed(0))
    >>> bands = pqmf.analysis(x)
    >>> bands.shape
    torch.Size([2, 4, 2000])
    >>> y = pqmf.synthesis(bands)
    >>> y.shape
    torch.Size([2, 1, 8000])
    >>> e = (y - x)[..., 31:-31]                       # away from the ends: about 64 dB SNR
    >>> float(10 * torch.log10(x[..., 31:-31].pow(2).sum() / e.pow(2).sum())) > 60
    True
    >>> len(pqmf.state_dict())
    0

    Eight bands, with the cutoff that makes the longer prototype power complementary:

    >>> bank = PQMF(8, taps=126, cutoff_ratio=None)
    >>> round(bank.cutoff_ratio, 4), bank(torch.randn(1, 1, 800)).shape
    (0.0709, torch.Size([1, 8, 100]))
    """

    analysis_filter: torch.Tensor  # buffers, registered in __init__
    synthesis_filter: torch.Tensor
    _filter_buffers = ("analysis_filter", "synthesis_filter")

    def __init__(
        self,
        subbands: int = 4,
        taps: int = MB_MELGAN_TAPS,
        cutoff_ratio: float | None = None,
        beta: float = MB_MELGAN_BETA,
        *,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        self.subbands, self.taps, self.cutoff_ratio, self.beta = _validate(
            subbands, taps, cutoff_ratio, beta
        )
        self.impl = _check_impl(impl)
        analysis, synthesis = pqmf_filters(self.subbands, self.taps, self.cutoff_ratio,
                                           self.beta)  # fmt: skip
        self.register_design("analysis_filter", analysis, persistent=False)
        self.register_design("synthesis_filter", synthesis, persistent=False)

    def _check(self, x: object, method: str, what: str) -> torch.Tensor:
        if isinstance(x, torch.Tensor) and x.ndim != 3:
            raise ValueError(f"PQMF.{method} takes {what}, got shape {tuple(x.shape)}")
        return check_tensor(x, "x" if method == "analysis" else "y", (3,), what)

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        """Split ``x`` ``[N, C, T]`` (``T`` a positive multiple of ``subbands``) into its bands
        ``[N, C·K, T/K]``: channel ``c·K + k`` is band ``k`` of channel ``c``."""
        x = self._check(x, "analysis", "[N, C, T]")
        k, t = self.subbands, x.shape[2]
        if t == 0 or t % k:
            raise ValueError(
                f"PQMF.analysis takes signals whose length T is a positive multiple of "
                f"subbands={k}, got T={t} (shape {tuple(x.shape)}; pad it, e.g. "
                f"F.pad(x, (0, {-t % k or k})))"
            )
        p = self.taps // 2
        # [N, C, 1, T] with the K filters as the rows of one 2-D filter: row k of the
        # output (K − 1 zero rows padded on either side of the signal's one) is band k.
        y = upfirdn2d(x.unsqueeze(2), self.analysis_filter.to(tensor_dtype(x)), down=(k, 1),
                      padding=(p, p, k - 1, k - 1), impl=self.impl)  # fmt: skip
        return y.flatten(1, 2)

    def synthesis(self, y: torch.Tensor) -> torch.Tensor:
        """Put bands ``y`` ``[N, C·K, L]`` (as :meth:`analysis` gives them) back together:
        ``[N, C, L·K]``."""
        y = self._check(y, "synthesis", "[N, C·K, L]")
        k, ck = self.subbands, y.shape[1]
        if ck == 0 or ck % k or y.shape[2] == 0:
            raise ValueError(
                f"PQMF.synthesis takes bands [N, C·K, L] with C·K a positive multiple of "
                f"subbands={k} and L >= 1, got shape {tuple(y.shape)}"
            )
        p = self.taps // 2
        # [N, C, K, L]: the one valid output row of a [K, taps + 1] filter sums the K rows,
        # row r of the filter meeting band K − 1 − r: hence the rows reversed.
        g = self.synthesis_filter.flip(0).to(tensor_dtype(y))
        z = upfirdn2d(y.unflatten(1, (ck // k, k)), g, up=(k, 1), padding=(p, p, 0, 0), gain=k,
                      impl=self.impl)  # fmt: skip
        return z.squeeze(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`analysis`: ``[N, C, T]`` to ``[N, C·K, T/K]``."""
        return self.analysis(x)

    def extra_repr(self) -> str:
        """The bank's design, as shown by ``repr``.

        :meta private:
        """
        text = (f"subbands={self.subbands}, taps={self.taps}, cutoff_ratio={self.cutoff_ratio!r}, "
                f"beta={self.beta!r}")  # fmt: skip
        return text + ("" if self.impl == "auto" else f", impl={self.impl!r}")
