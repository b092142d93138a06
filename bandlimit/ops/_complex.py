"""Complex signals and filters through the real ops, by linearity.

The filtering ops are linear in the signal and in the filter, so for ``x = a + ib`` and
``f = c + id``: ``op(x, f) = op(a, c) − op(b, d) + i·(op(a, d) + op(b, c))``. (A separable 2-D
filter acts twice, ``f[y]·f[x]``, and is not linear in ``f``: ``upfirdn2d`` runs its two
passes one at a time.) The real and imaginary parts of ``x`` travel as one batch (one call per
part of ``f``), on every backend, with autograd through ``Tensor.real`` / ``Tensor.imag`` and
``torch.complex``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")

__all__ = ["filter_by_parts", "is_complex", "real_part", "refuse_complex32"]


def is_complex(t: object) -> bool:
    return isinstance(t, torch.Tensor) and t.is_complex()


def real_part(t: T) -> T:
    """A complex tensor's real part (a view of the same shape), anything else as it is: what
    the real ops' checks are run on, so that their messages name the caller's shapes."""
    return t.real if isinstance(t, torch.Tensor) and t.is_complex() else t  # type: ignore[return-value]


def refuse_complex32(*tensors: torch.Tensor | None) -> None:
    """complex32 has no real counterpart the ops compute in: a TypeError."""
    if any(t is not None and t.dtype == torch.complex32 for t in tensors):
        raise TypeError("complex32 (chalf) is not supported: use complex64 or complex128")


def _complex(re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
    if re.dtype in (torch.float16, torch.bfloat16):
        raise TypeError(f"a complex signal or filter computes in {re.dtype}, which has no "
                        f"complex dtype in torch: use complex64 or complex128")  # fmt: skip
    return torch.complex(re, im)


def filter_by_parts(
    op: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    x: torch.Tensor,
    f: torch.Tensor | None,
) -> torch.Tensor:
    """``op(x, f)`` for a complex ``x`` and/or ``f`` (the other real, or None for ``f``), as
    complex64 / complex128: ``op`` applied to real parts only, then recombined."""
    refuse_complex32(x, f)
    f_parts = [f.real, f.imag] if f is not None and f.is_complex() else [f]
    if not x.is_complex():
        assert f is not None
        return _complex(op(x, f_parts[0]), op(x, f_parts[1]))
    if x.ndim == 0:  # (no batch axis to stack on: the op says what is wrong)
        return op(x.real, f_parts[0])
    n = x.shape[0]
    both = torch.cat([x.real, x.imag])  # the two parts as one batch
    y = [op(both, part) for part in f_parts]
    if len(y) == 1:
        return _complex(y[0][:n], y[0][n:])
    return _complex(y[0][:n] - y[1][n:], y[1][:n] + y[0][n:])
