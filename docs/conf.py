"""Sphinx configuration: the API reference, built from the numpy-style docstrings.

``make docs`` builds it into ``docs/_build/html``; ``tests/test_docs.py`` builds it with every
warning an error and every cross-reference inside bandlimit resolved.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import bandlimit

project = "bandlimit"
author = "The bandlimit authors"
copyright = "2026, the bandlimit authors (Apache-2.0)"
version = release = bandlimit.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

# numpy-style docstrings; types stay text (no network for other projects' inventories).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_param = False  # types as written ("int ≥ 1, default 2"), not cross-references
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True  # "gain=math.sqrt(2)", not "gain=1.4142135623730951"
autodoc_default_options = {"members": True}

# Every reference to bandlimit's own objects must resolve (the test builds with -n -W); names
# from other projects have no inventory offline, so they are not checked.
nitpicky = True
nitpick_ignore_regex = [
    ("py:.*", r"(torch|numpy|np|scipy|matplotlib|hypothesis|numba)\b.*"),
    ("py:.*", r"(collections|typing|enum|types|pathlib)\b.*"),
    ("py:.*", r"(Tensor|Module|Axes|Figure|SearchStrategy|Callable|Sequence|Mapping|Any)"),
    ("py:.*", r"(optional|default|array_like|array-like|callable)"),
]

exclude_patterns = ["_build", "*.png"]
html_theme = "alabaster"
html_static_path: list[str] = []


def _resolve_in_public_package(app, env, node, contnode):
    """Resolve a short name the way a reader of the source does.

    A module docstring of ``bandlimit.filters.resample`` that says :func:`resample_filter` means
    the public ``bandlimit.filters.resample_filter``, where the reference documents it: try the
    enclosing packages of the module the reference was written in.
    """
    if node.get("refdomain") != "py" or not node.get("py:module"):
        return None
    domain = env.get_domain("py")
    target = node["reftarget"]
    parts = node["py:module"].split(".")
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i]) + "." + target
        if name in domain.objects:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], name, node, contnode
            )
    return None


def setup(app):
    app.connect("missing-reference", _resolve_in_public_package)
