"""Backend selection: ``impl='auto' | 'ref' | 'numba' | 'cuda'``.

'auto' picks the fused Numba kernels for CPU float32/float64 tensors and the PyTorch reference
otherwise. A process-wide override (:func:`set_default_impl` or the ``BANDLIMIT_IMPL`` environment
variable) changes what 'auto' resolves to, for tests and debugging; an explicit ``impl=`` argument
always wins.
"""

from __future__ import annotations

import importlib.util
import os

import torch

IMPLS = ("auto", "ref", "numba", "cuda")
NUMBA_DTYPES = (torch.float32, torch.float64)
ENV_VAR = "BANDLIMIT_IMPL"

_default_impl: str | None = None


def _check_impl(impl: object, name: str = "impl") -> str:
    if impl not in IMPLS:
        raise ValueError(f"{name} must be one of {IMPLS}, got {impl!r}")
    return impl


def set_default_impl(impl: str | None) -> None:
    """Set what ``impl='auto'`` resolves to in this process (``None`` restores the default rule).

    Parameters
    ----------
    impl : {'auto', 'ref', 'numba', 'cuda'} or None
        'ref' forces the PyTorch reference; 'numba' uses the Numba kernels wherever they apply
        (CPU float32/float64) and the reference elsewhere. Takes precedence over ``BANDLIMIT_IMPL``.
    """
    global _default_impl
    _default_impl = None if impl is None else _check_impl(impl)


def get_default_impl() -> str:
    """What ``impl='auto'`` currently resolves through: the override, the env var, or 'auto'."""
    if _default_impl is not None:
        return _default_impl
    env = os.environ.get(ENV_VAR)
    if env:
        return _check_impl(env.strip(), name=f"the environment variable {ENV_VAR}")
    return "auto"


# Looked up once, without importing numba (that happens on the first numba call).
_NUMBA_INSTALLED = importlib.util.find_spec("numba") is not None


def numba_available() -> bool:
    return _NUMBA_INSTALLED


def _numba_supports(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype in NUMBA_DTYPES


def _cuda_unavailable(op: str) -> ValueError:
    return ValueError(
        f"{op}: impl='cuda' is not available: the CUDA extension backend is not built in this "
        "version of bandlimit; use impl='auto' (PyTorch reference on GPU tensors) or impl='ref'"
    )


def resolve_impl(impl: object, x: torch.Tensor, op: str) -> str:
    """The concrete backend ('ref' or 'numba') that runs ``op`` on ``x``."""
    impl = _check_impl(impl)
    if impl == "auto":
        impl = get_default_impl()
        if impl == "auto" or impl == "numba":
            return "numba" if _numba_supports(x) and numba_available() else "ref"
    if impl == "cuda":
        raise _cuda_unavailable(op)
    if impl == "numba":
        if not _numba_supports(x):
            raise ValueError(
                f"{op}: impl='numba' runs on CPU float32/float64 tensors, got a {x.dtype} tensor "
                f"on {x.device}; use impl='auto' or impl='ref'"
            )
        if not numba_available():
            raise ValueError(f"{op}: impl='numba' needs the numba package (pip install numba)")
    return impl
