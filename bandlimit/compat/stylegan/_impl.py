"""The originals' ``impl`` and ``padding`` arguments, as :mod:`bandlimit.ops` takes them."""

from __future__ import annotations

from bandlimit.ops._dispatch import _check_impl

# The originals take their padding as a list as readily as a tuple.
Padding = int | tuple[int, ...] | list[int]


def as_tuple(padding: Padding) -> int | tuple[int, ...]:
    return tuple(padding) if isinstance(padding, list) else padding


def backend(impl: object) -> str:
    """'cuda' (the originals' default: their CUDA kernels where they can run, their reference
    elsewhere) is bandlimit's 'auto'; 'ref', 'numba' and 'auto' are bandlimit's own."""
    impl = _check_impl(impl)
    return "auto" if impl == "cuda" else impl


def init_plugin() -> bool:
    """The originals' ``_init()`` compiled their CUDA plugin and said whether it loaded; there
    is nothing to compile here (bandlimit builds its CUDA extension on first use, and 'auto'
    falls back by itself), so it is True."""
    return True
