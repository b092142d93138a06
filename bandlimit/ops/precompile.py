"""Compiling the Numba kernels ahead of time, and where they are cached.

The 'numba' backend is one parallel kernel per compute dtype (float32, float64; float16 and
bfloat16 run in float32) that every op shares, and a serial variant of it that processes forked
from one that ran it (DataLoader workers) use. Numba compiles each at its first call in a process
that finds no cached copy -- about 15-30 s on a laptop CPU -- and caches the machine code on disk,
so later processes load it in well under a second. :func:`precompile_numba` (or
``python -m bandlimit precompile``) pays that cost up front: in a Docker image's build step, a
cluster job's setup, or before timing anything.

Numba caches beside the installed sources (``bandlimit/ops/_numba/__pycache__``) when that
directory is writable, else in a per-user cache directory, or wherever ``NUMBA_CACHE_DIR`` points.
A cached kernel is specific to the CPU's instruction set: a copy made on another CPU model is
recompiled, not loaded. ``python -m bandlimit info`` shows the cache in use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import torch

from bandlimit.ops._dispatch import HALF_DTYPES, NUMBA_DTYPES, numba_problem

__all__ = ["precompile_numba"]


def _compute_dtypes(dtypes: object) -> list[torch.dtype]:
    items = [dtypes] if isinstance(dtypes, torch.dtype) else dtypes
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(
            f"dtypes must be a torch.dtype or an iterable of them, got {type(dtypes).__name__} "
            f"{dtypes!r}"
        )
    out: list[torch.dtype] = []
    for d in items:
        if not isinstance(d, torch.dtype) or d not in NUMBA_DTYPES + HALF_DTYPES:
            raise ValueError(
                f"dtypes: the numba kernels compute float16/bfloat16/float32/float64 tensors, "
                f"got {d!r}"
            )
        c = torch.float32 if d in HALF_DTYPES else d
        if c not in out:
            out.append(c)
    if not out:
        raise ValueError("dtypes must name at least one dtype, got an empty iterable")
    return out


def precompile_numba(
    dtypes: torch.dtype | Iterable[torch.dtype] = (torch.float32,),
) -> dict[torch.dtype, float]:
    """Compile the numba kernels now (or load them from Numba's disk cache).

    Runs one tiny :func:`~bandlimit.ops.filtered_lrelu` forward and backward with
    ``impl='numba'`` per compute dtype, on the parallel kernel and on its serial variant (which
    DataLoader workers forked from a process that ran numba ops use): every numba op
    (``upfirdn1d``/``upfirdn2d``, ``filtered_lrelu``, ``filtered_act``/``filtered_act1d`` with
    any activation, ``resample_poly``) shares these kernels, so afterwards no call in this
    process or, through the disk cache, in later ones pays the compilation (the two variants
    about 30-60 s per dtype on a laptop CPU; an op's first call compiles one, 15-30 s).
    ``python -m bandlimit precompile`` calls it from the command line.

    Parameters
    ----------
    dtypes : torch.dtype or iterable of torch.dtype, default (torch.float32,)
        The tensor dtypes to prepare for: float32, float64, or float16/bfloat16 (which the
        kernels compute in float32, so they compile the float32 kernel). float64 matters for
        ``gradcheck``-style tests.

    Returns
    -------
    dict[torch.dtype, float]
        Seconds each compute dtype took (a compilation, or a load from the cache).

    Raises
    ------
    ValueError
        If numba is not installed or cannot be imported, or ``dtypes`` names a dtype the
        kernels do not compute (or none).
    TypeError
        If ``dtypes`` is neither a dtype nor an iterable of dtypes.

    Examples
    --------
    >>> import torch
    >>> from bandlimit.ops import precompile_numba
    >>> seconds = precompile_numba([torch.float32, torch.bfloat16])   # one kernel: float32
    >>> list(seconds)
    [torch.float32]
    """
    compute = _compute_dtypes(dtypes)
    problem = numba_problem()
    if problem is not None:
        raise ValueError(f"precompile_numba: the numba kernels cannot run: {problem}")
    from bandlimit.ops._numba._kernel import serial_launches
    from bandlimit.ops.filtered import filtered_lrelu  # (filtered imports ops' dispatch)

    def run(dtype: torch.dtype) -> None:
        # (gradients must be on even under a caller's no_grad or inference_mode)
        with torch.inference_mode(False), torch.enable_grad():
            x = torch.zeros(1, 1, 4, 4, dtype=dtype, device="cpu", requires_grad=True)
            f = torch.full((4,), 0.25, dtype=dtype, device="cpu")
            y = filtered_lrelu(x, f, f, up=2, down=2, padding=3, impl="numba")
            y.sum().backward()

    taken: dict[torch.dtype, float] = {}
    for dtype in compute:
        t0 = time.perf_counter()
        run(dtype)
        with serial_launches():  # the variant that forked workers run
            run(dtype)
        taken[dtype] = time.perf_counter() - t0
    return taken


def numba_cache() -> dict[str, object]:
    """Where Numba caches the kernels in this process: ``dir`` (None where it finds no
    writable directory: the kernels then compile in every process), ``writable`` (bool) and
    ``files`` (how many cached kernel files are there). Imports numba; compiles nothing."""
    from bandlimit.ops._numba._kernel import plane_kernel

    where = plane_kernel._cache.cache_path  # type: ignore[attr-defined]
    if where is None:
        return {"dir": None, "writable": False, "files": 0}
    path = Path(where)
    files = sum(1 for _ in path.glob("*.nbc")) if path.is_dir() else 0
    writable = os.access(path if path.is_dir() else path.parent, os.W_OK)
    return {"dir": str(path), "writable": writable, "files": files}
