"""The API reference (``docs/``, Sphinx): it builds cleanly and documents every public name.

The build runs with every warning an error and ``nitpicky`` on (``docs/conf.py``), so a
docstring that napoleon cannot parse, a broken reST construct, or a cross-reference to a
bandlimit object that the reference does not document fails here. The docstrings' examples run
as doctests in the same suite (``--doctest-modules``, ``pyproject.toml``).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Every module whose ``__all__`` is public API, and where the reference documents its names.
PUBLIC_MODULES = {
    "bandlimit.filters": "bandlimit.filters",
    "bandlimit.ops": "bandlimit.ops",
    "bandlimit.ops.cuda": "bandlimit.ops.cuda",
    "bandlimit.nn": "bandlimit.nn",
    "bandlimit.nn.bigvgan": "bandlimit.nn.bigvgan",
    "bandlimit.metrics.equivariance": "bandlimit.metrics.equivariance",
    "bandlimit.metrics.fid": "bandlimit.metrics.fid",
    "bandlimit.testing": "bandlimit.testing",
    "bandlimit.compat.rosinality": "bandlimit.compat.rosinality",
    **{f"bandlimit.compat.stylegan.{m}": f"bandlimit.compat.stylegan.{m}"
       for m in ("upfirdn2d", "bias_act", "filtered_lrelu", "fma", "grid_sample_gradfix")},
    "bandlimit.compat.stylegan.conv2d_resample": "bandlimit.ops",  # (bandlimit's own function)
}


@pytest.fixture(scope="module")
def html(tmp_path_factory) -> Path:
    pytest.importorskip("sphinx")
    out = tmp_path_factory.mktemp("docs-html")
    cmd = [sys.executable, "-m", "sphinx", "-E", "-n", "-W", "--keep-going", "-q"]
    proc = subprocess.run(
        [*cmd, "-b", "html", str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-6000:]}"
    return out


def _documented(html: Path) -> set[str]:
    from sphinx.util.inventory import InventoryFile

    with open(html / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    names: set[str] = set()
    for role, entries in inventory.items():
        if role.startswith("py:"):
            names.update(entries)
    return names


def test_reference_builds_without_warnings(html: Path) -> None:
    assert (html / "api" / "ops.html").is_file()


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_name_is_documented(html: Path, module: str) -> None:
    documented = _documented(html)
    mod = importlib.import_module(module)
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if name.startswith("__") or type(obj).__name__ == "module":
            continue
        where = PUBLIC_MODULES[module]
        if f"{where}.{name}" not in documented:
            missing.append(name)
    assert not missing, (
        f"{module}: {missing} are public (in __all__) but not in the API reference: add them "
        f"to docs/api/*.rst"
    )
