"""Backend selection: ``impl='auto' | 'ref' | 'numba' | 'cuda'``.

'auto' picks the fused Numba kernels for CPU tensors (float16 and bfloat16 computed in float32,
see :func:`compute_dtype`), the CUDA extension for
CUDA tensors (built on first use; if that fails, the PyTorch reference with one warning) and the
PyTorch reference otherwise, and under ``torch.func`` transforms (which the fused kernels'
custom-op autograd does not support yet). A process-wide override (:func:`set_default_impl` or the
``BANDLIMIT_IMPL`` environment variable) changes what 'auto' resolves to, for tests and
debugging; an explicit ``impl=`` argument always wins.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import warnings
from collections.abc import Mapping
from types import FrameType
from typing import cast

import torch
import torch.autograd.forward_ad as _fwAD

IMPLS = ("auto", "ref", "numba", "cuda")
NUMBA_DTYPES = (torch.float32, torch.float64)  # what the kernels compute in
HALF_DTYPES = (torch.float16, torch.bfloat16)
ENV_VAR = "BANDLIMIT_IMPL"

_default_impl: str | None = None


def _check_impl(impl: object, name: str = "impl", extra: str = "") -> str:
    if not isinstance(impl, str) or impl not in IMPLS:  # (an array's `in` compares elementwise)
        raise ValueError(f"{name} must be one of {IMPLS}{extra}, got {impl!r}")
    return str(impl)


def set_default_impl(impl: str | None) -> None:
    """Set what ``impl='auto'`` resolves to in this process (``None`` restores the default rule).

    The default rule: numba for CPU tensors, cuda for CUDA tensors (ref, with one warning, if
    the extension cannot be built), ref otherwise and under ``torch.func`` transforms and ONNX
    export. An explicit ``impl=`` argument of an op always wins over this setting.

    Parameters
    ----------
    impl : {'auto', 'ref', 'numba', 'cuda'} or None
        'ref' forces the PyTorch reference; 'numba' and 'cuda' use their kernels wherever they
        apply (numba: CPU floating point; cuda: CUDA tensors) and the default rule elsewhere,
        which is what 'auto' does too. Takes precedence over the ``BANDLIMIT_IMPL``
        environment variable; None clears the setting (the environment variable, if set,
        applies again).

    Raises
    ------
    ValueError
        If ``impl`` is not one of the names above or None.

    Examples
    --------
    >>> from bandlimit.ops import get_default_impl, set_default_impl
    >>> set_default_impl("ref")     # every impl='auto' call now runs the PyTorch reference
    >>> get_default_impl()
    'ref'
    >>> set_default_impl(None)      # back to the default rule
    """
    global _default_impl
    _default_impl = None if impl is None else _check_impl(impl)


def get_default_impl() -> str:
    """What ``impl='auto'`` currently resolves through: the override, the env var, or 'auto'.

    Returns
    -------
    str
        One of 'auto', 'ref', 'numba', 'cuda': the value of :func:`set_default_impl` if one is
        set, else that of the ``BANDLIMIT_IMPL`` environment variable (surrounding spaces
        ignored) if it is set and not empty, else 'auto'.

    Raises
    ------
    ValueError
        If ``BANDLIMIT_IMPL`` decides and holds something else.

    Examples
    --------
    >>> from bandlimit.ops import get_default_impl, set_default_impl
    >>> set_default_impl("numba")
    >>> get_default_impl()
    'numba'
    >>> set_default_impl(None)
    """
    if _default_impl is not None:
        return _default_impl
    env = os.environ.get(ENV_VAR)
    if env:
        # (surrounding spaces are forgiven; the error shows the value as it was set)
        value = env.strip() if env.strip() in IMPLS else env
        return _check_impl(value, f"the environment variable {ENV_VAR}", " or unset")
    return "auto"


_numba_problem: list[str | None] = []  # (memo: one entry once probed)
# Looked up without importing numba; a missing numba is quiet (an install with --no-deps).
_NUMBA_INSTALLED = importlib.util.find_spec("numba") is not None


def numba_problem() -> str | None:
    """None if numba imports, else why the 'numba' backend cannot run (probed once).

    An installed numba can fail to import: a release older than the installed NumPy refuses to
    load ("Numba needs NumPy 2.3 or less"), and llvmlite can be missing or mismatched. That must
    not break ``import bandlimit``: 'auto' then runs 'ref' (one warning) and ``impl='numba'``
    raises with this reason."""
    if not _numba_problem:
        problem = None
        if not _NUMBA_INSTALLED:
            problem = "the numba package is not installed (pip install numba)"
        else:
            try:
                importlib.import_module("numba")
            except Exception as e:  # (an import can fail in any way; all mean "unusable")
                problem = (
                    f"the installed numba cannot be imported ({type(e).__name__}: {e}); "
                    "install a numba release that supports this NumPy and Python"
                )
        _numba_problem.append(problem)
    return _numba_problem[0]


def numba_available() -> bool:
    return numba_problem() is None


_numba_fallback_warned = False


def _numba_or_ref(op: str) -> str:
    """'auto' on a CPU tensor the kernels take: 'numba', else 'ref' -- with ONE warning if numba
    is installed but broken (without numba at all -- an install with ``--no-deps`` -- the
    fallback stays quiet, as it always was)."""
    global _numba_fallback_warned
    problem = numba_problem()
    if problem is None:
        return "numba"
    if not _numba_fallback_warned and _NUMBA_INSTALLED:
        _numba_fallback_warned = True
        warnings.warn(
            f"{op}: bandlimit's numba kernels are unavailable, using impl='ref' for CPU tensors "
            f"(this warning is shown once): {problem}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return "ref"


def _numba_supports(x: torch.Tensor) -> bool:
    return x.is_cpu and (x.dtype in NUMBA_DTYPES or x.dtype in HALF_DTYPES)


def compute_dtype(x: torch.Tensor, impl: str) -> torch.dtype:
    """The dtype an op on ``x`` computes in, and its filters are made in: ``x.dtype``, except
    that the numba kernels take CPU float16/bfloat16 in float32 and round the result once, at
    the end (as the CUDA kernels accumulate half precision in float32; PyTorch's CPU
    convolutions in half precision are ~10x slower than the kernels in float32). Factors too
    extreme for the kernels (:func:`numba_fits`) run the reference in float32 too."""
    if impl == "numba" and x.dtype in HALF_DTYPES:
        return torch.float32
    return x.dtype


CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_cuda_fallback_warned = False


def _cuda_supports(x: torch.Tensor) -> bool:
    return x.is_cuda and x.dtype in CUDA_DTYPES


def _cuda_error(op: str):
    """None if the CUDA extension loads (building it on first use), else the build error."""
    from bandlimit.ops import cuda

    if cuda.available():
        return None
    return cuda.last_error()


_LIBRARY_DIRS = tuple(  # (packages, so their __file__ is set)
    os.path.dirname(cast(str, m.__file__)) + os.sep for m in (sys.modules["bandlimit"], torch)
)


def user_stacklevel() -> int:
    """The ``stacklevel`` for :func:`warnings.warn`, called from the caller of this function,
    that points at the first frame outside bandlimit and torch: the user's line, whether the op
    was called directly or through an ``nn.Module``."""
    frame: FrameType | None
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    return level


def cuda_or_ref(op: str) -> str:
    """'auto' on a CUDA tensor: 'cuda' if the extension builds, else 'ref' with ONE warning."""
    global _cuda_fallback_warned
    err = _cuda_error(op)
    if err is None:
        return "cuda"
    if not _cuda_fallback_warned:
        _cuda_fallback_warned = True
        warnings.warn(
            f"{op}: the bandlimit CUDA extension is unavailable, using impl='ref' for CUDA "
            f"tensors (this warning is shown once): {err}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
    return "ref"


# The numba kernels plan every phase of lcm(up, down) per axis; their scratch grows with the
# product over the axes (≈ 65 bytes per phase pair), so extreme rational factors in 2-D (e.g.
# 61/59 on both axes: 13 M phase pairs) run the 'ref' path instead. 1-D audio ratios such as
# 160/147 (23 520 phases on one axis) stay on numba.
NUMBA_MAX_PHASES = 1 << 20


def numba_fits(up: tuple[int, int], down: tuple[int, int]) -> bool:
    """Whether the numba backend runs these ``(x, y)`` factors (else 'ref' does)."""
    return math.lcm(up[0], down[0]) * math.lcm(up[1], down[1]) <= NUMBA_MAX_PHASES


def exporting_to_onnx() -> bool:
    onnx = sys.modules.get("torch.onnx")  # never imported: no export is running
    return onnx is not None and bool(onnx.is_in_onnx_export())


def forward_ad_active() -> bool:
    """Whether a ``torch.autograd.forward_ad.dual_level`` is open (dual tensors may flow)."""
    return getattr(_fwAD, "_current_level", -1) >= 0


def _differentiating_transform_active() -> bool:
    """Whether a torch.func transform that differentiates (grad, vjp, jacrev, jvp, ...) is on."""
    if not torch._C._are_functorch_transforms_active():
        return False
    try:
        from torch._C._functorch import TransformType
        from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters

        keys = {i.key() for i in retrieve_all_functorch_interpreters()}
    except (ImportError, AttributeError):  # private API moved: let torch report it
        return False
    return bool(keys & {TransformType.Grad, TransformType.Jvp})


def resolve_impl(
    impl: object, x: torch.Tensor, op: str, params: Mapping[str, object] | None = None
) -> str:
    """The concrete backend ('ref', 'numba' or 'cuda') that runs ``op`` on ``x``; ``params``:
    the op's other differentiable arguments by name (bias, activation parameters), checked
    with ``x`` for forward-mode dual tensors that the fused backends cannot carry."""
    impl = _check_impl(impl)
    if impl == "auto":
        impl = get_default_impl()
        if impl == "ref":
            return impl
        if torch._C._are_functorch_transforms_active() or forward_ad_active():
            # torch.func (grad, vjp, jacrev, hessian, vmap): the fused kernels' custom-op
            # autograd cannot run under these transforms yet (pytorch/pytorch#170834), so the
            # pure-PyTorch reference, which supports them all, runs instead. Likewise forward-mode
            # AD: the custom ops have no jvp formula (their output would carry no tangent).
            return "ref"
        if exporting_to_onnx():
            # ONNX has no form of the fused kernels; the reference is standard ONNX operators.
            return "ref"
        if _cuda_supports(x):
            return cuda_or_ref(op)
        return _numba_or_ref(op) if _numba_supports(x) else "ref"
    if impl == "cuda":
        if not _cuda_supports(x):
            raise ValueError(
                f"{op}: impl='cuda' runs on CUDA tensors of dtype float16/bfloat16/float32/"
                f"float64, got a {x.dtype} tensor on {x.device}; use impl='auto' or impl='ref'"
            )
        err = _cuda_error(op)
        if err is not None:
            raise ValueError(f"{op}: impl='cuda' is not available: {err}") from err
    elif impl == "numba":
        if not _numba_supports(x):
            raise ValueError(
                f"{op}: impl='numba' runs on CPU float16/bfloat16/float32/float64 tensors, got a "
                f"{x.dtype} tensor "
                f"on {x.device}; use impl='auto' or impl='ref'"
            )
        problem = numba_problem()
        if problem is not None:
            raise ValueError(f"{op}: impl='numba' cannot run: {problem}")
    else:
        return impl  # 'ref': runs everywhere
    if _differentiating_transform_active():  # asked for by name: say why it cannot run
        raise ValueError(
            f"{op}: impl={impl!r} cannot run under torch.func.grad/vjp/jacrev/jvp/hessian "
            f"(PyTorch's custom-op autograd does not support them yet, pytorch/pytorch#170834); "
            f"use impl='auto', which runs 'ref' there, or impl='ref'"
        )
    if forward_ad_active():
        named = {"x": x, **(params or {})}
        dual = [
            k for k, v in named.items()
            if isinstance(v, torch.Tensor) and _fwAD.unpack_dual(v).tangent is not None
        ]
        if dual:
            raise ValueError(
                f"{op}: impl={impl!r} has no forward-mode derivative ({' and '.join(dual)} "
                f"{'is a dual tensor' if len(dual) == 1 else 'are dual tensors'} of "
                f"torch.autograd.forward_ad); use impl='auto', which runs 'ref' there, or "
                f"impl='ref'"
            )
    return impl
