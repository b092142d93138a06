"""The CUDA extension backend of :mod:`bandlimit.ops` (``impl='cuda'``).

Nothing is compiled at import. The extension is built on first use (or ahead of time with
``python -m bandlimit.ops.cuda build``, e.g. in a Docker image) and cached, by default under
``~/.cache/bandlimit/cuda`` (``BANDLIMIT_CUDA_CACHE`` moves it). A build needs a CUDA build
of torch, ``nvcc`` of the same CUDA major version, ninja, and the target architectures: those
of the visible GPUs, or ``TORCH_CUDA_ARCH_LIST`` (e.g. ``9.0`` for an H100) to build without a
GPU. Loading a finished build needs neither nvcc nor ninja. ``python -m bandlimit.ops.cuda info``
prints what a build would use and why (see :func:`~bandlimit.ops.cuda.info`).

- :func:`~bandlimit.ops.cuda.available`: whether the extension loads here (builds it if
  needed; never raises). ``impl='auto'`` uses it to choose between 'cuda' and 'ref'.
- :func:`~bandlimit.ops.cuda.load` (alias :func:`~bandlimit.ops.cuda.get_extension`): the
  loaded extension module; raises :class:`~bandlimit.ops.cuda.CudaBuildError` with what was
  tried and how to fix it.
- :func:`~bandlimit.ops.cuda.build`: build (or find in the cache) and return the path of the
  shared library.
- :func:`~bandlimit.ops.cuda.info`: what a build would use and why (torch/CUDA versions, nvcc,
  ninja, architectures, cache), without building anything.

Examples
--------
>>> import torch
>>> from bandlimit.ops import cuda, upfirdn2d
>>> if cuda.available():                                # doctest: +SKIP
...     x = torch.ones(1, 3, 64, 64, device="cuda")
...     y = upfirdn2d(x, torch.ones(4) / 4, up=2, padding=(2, 1, 2, 1), gain=4, impl="cuda")
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import cast

from bandlimit.ops.cuda._build import CudaBuildError, CudaBuildInterrupted

__all__ = ["CudaBuildError", "available", "build", "get_extension", "info", "load"]

_error: CudaBuildError | None = None


def load(verbose: bool = False) -> ModuleType:
    """The CUDA extension module, built on first use (``get_extension`` is the same function).

    Loads a finished build from the cache if there is one that fits, else compiles the
    extension (minutes; concurrent processes wait on a lock and share the result).

    Parameters
    ----------
    verbose : bool, default False
        Show the compiler commands.

    Returns
    -------
    module
        The loaded extension; the ops call it for ``impl='cuda'``.

    Raises
    ------
    CudaBuildError
        If the extension cannot be built or loaded; the message says what was tried and how
        to fix it.

    Examples
    --------
    Where nvcc, a CUDA build of torch and a GPU (or ``TORCH_CUDA_ARCH_LIST``) are present:

    >>> from bandlimit.ops import cuda
    >>> ext = cuda.load()          # doctest: +SKIP
    """
    from bandlimit.ops.cuda import _build

    return _build.build(verbose=verbose)


get_extension = load


def build(verbose: bool = False) -> Path:
    """Build the extension (or reuse the cached build); returns the shared library's path.

    What ``python -m bandlimit.ops.cuda build`` runs.

    Parameters
    ----------
    verbose : bool, default False
        Show the compiler commands.

    Returns
    -------
    pathlib.Path
        The shared library of the extension, in the build cache.

    Raises
    ------
    CudaBuildError
        As :func:`~bandlimit.ops.cuda.load`.

    Examples
    --------
    Where the extension can be built (see :func:`~bandlimit.ops.cuda.load`):

    >>> from bandlimit.ops import cuda
    >>> cuda.build().suffix        # doctest: +SKIP
    '.so'
    """
    return Path(cast(str, load(verbose=verbose).__file__))  # (an extension module's is set)


def available() -> bool:
    """True if the extension loads (building it on the first call); a failure is remembered.

    Never raises: a failed build returns False, and later calls return False without trying
    again (a build stopped by a signal is retried). The error of the failure is what
    ``impl='auto'`` shows in its one warning before falling back to 'ref'.

    Returns
    -------
    bool
        Whether ``impl='cuda'`` can run.

    Examples
    --------
    On a machine with a GPU and a working toolchain (False elsewhere):

    >>> from bandlimit.ops import cuda
    >>> cuda.available()           # doctest: +SKIP
    True
    """
    global _error
    if _error is not None:
        return False
    try:
        load()
    except CudaBuildInterrupted:  # stopped by a signal: the next call tries again
        return False
    except CudaBuildError as e:
        _error = e
        return False
    except Exception as e:  # whatever else breaks a build: still the documented fallback
        _error = CudaBuildError(f"the CUDA extension cannot be built: {type(e).__name__}: {e}")
        return False
    return True


def last_error() -> CudaBuildError | None:
    """Why :func:`available` returned False (None if it did not)."""
    return _error


def _tensor_core_status() -> str:
    """Whether StyleGAN3's half-precision kernels run stage B on tensor cores."""
    import os

    import torch

    if os.environ.get("BANDLIMIT_CUDA_MMA") != "1":
        return "off (opt in with BANDLIMIT_CUDA_MMA=1; not yet timed on a GPU)"
    caps = [torch.cuda.get_device_capability(i) for i in range(torch.cuda.device_count())]
    if not caps:
        return "asked for (BANDLIMIT_CUDA_MMA=1); no GPU is visible to run them"
    if all(major < 8 for major, _ in caps):
        return "asked for, but no GPU here has them (compute capability 8.0 or later)"
    return ("on (BANDLIMIT_CUDA_MMA=1): float16 / bfloat16 leaky-ReLU forward and mask backward, "
            "where the build has code for compute capability 8.0 or later")


def info() -> dict:
    """What a build would use, and why; builds nothing.

    Safe to call anywhere, without a GPU, nvcc or ninja; ``python -m bandlimit.ops.cuda info``
    prints it.

    Returns
    -------
    dict
        ``torch``, ``torch_cuda`` (versions), ``cuda_home``, ``nvcc``, ``nvcc_version``,
        ``cuda_lib_dir``, ``ninja`` (bool), ``gpus`` (names of the visible GPUs),
        ``arch_list`` and ``arch_reason`` (the target architectures and where they come from),
        ``sources_hash``, ``tensor_cores``, ``buildable`` (bool) and ``problem`` (why not, or
        None), ``cache_root``, ``build_dir``, ``built`` (bool) and ``library`` (the finished
        build's path, or None).

    Examples
    --------
    >>> from bandlimit.ops import cuda
    >>> report = cuda.info()
    >>> {"nvcc", "arch_list", "buildable", "problem", "built"} <= set(report)
    True
    >>> isinstance(report["buildable"], bool)
    True
    """
    import torch

    from bandlimit.ops.cuda import _build

    home = _build.find_cuda_home()
    nvcc = _build.nvcc_path(home)
    arches, why = _build.arch_list()
    lib_dir = None if nvcc is None else _build.cuda_lib_dir(nvcc)
    out: dict = {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_home": None if home is None else str(home),
        "nvcc": None if nvcc is None else str(nvcc),
        "nvcc_version": None if nvcc is None else _build.nvcc_version(nvcc),
        "cuda_lib_dir": None if lib_dir is None else str(lib_dir),
        "ninja": _build.ninja_available(),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else [],
        "arch_list": arches,
        "arch_reason": why,
        "sources_hash": _build.source_hash(),
        "tensor_cores": _tensor_core_status(),
    }
    try:
        _build.preflight()
        out["buildable"], out["problem"] = True, None
    except CudaBuildError as e:
        out["buildable"], out["problem"] = False, str(e)
    out["build_dir"], out["built"], out["library"] = None, False, None
    try:
        out["cache_root"] = str(_build.cache_root())
        dirs = _build.prebuilt_dirs()  # where build() looks, in its order
        out["build_dir"] = str(dirs[0]) if dirs else None
        for d in dirs:
            found = _build.finished_library(_build.module_name(), d)
            if found is not None:
                out["build_dir"], out["built"], out["library"] = str(d), True, str(found)
                break
    except (CudaBuildError, OSError) as e:  # a cache root that cannot be resolved or read
        out["cache_root"] = f"unusable: {e}"
    return out
