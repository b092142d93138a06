"""What a user gets from ``pip install bandlimit``: the wheel built from this tree.

The tests import ``bandlimit`` from the source tree (an editable install), which hides files the
wheel leaves out: a subpackage missing from ``packages.find``, a kernel source missing from
``package-data``, the ``py.typed`` marker. Here the wheel is built (from a copy of the tree, so
the build leaves nothing behind), read, and imported on its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import bandlimit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bandlimit"


def _package_files() -> set[str]:
    """Every file of the package a wheel must carry, as wheel paths (no caches, no build
    products)."""
    files = set()
    for path in PACKAGE.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in {".nbi", ".nbc"}:
            continue
        files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:  # (make test-oldest's bare venv)
        pytest.skip(f"setuptools {setuptools.__version__} cannot build this project: "
                    "pyproject.toml's build-system asks for >= 77")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PACKAGE, src / "bandlimit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))  # fmt: skip
    out = tmp / "dist"
    # No build isolation: the build needs only setuptools, which the test environment has, and
    # CI must not download anything.
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("bandlimit-*.whl")
    return built


def test_wheel_carries_every_package_file_and_the_type_marker(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {n for n in names if n.startswith("bandlimit/")}
    expected = _package_files()
    assert "bandlimit/py.typed" in expected, "the py.typed marker is missing from the tree"
    assert expected - package == set(), "files the wheel leaves out"
    assert package - expected == set(), "files in the wheel that the tree does not have"
    assert any(n.startswith("bandlimit/ops/cuda/csrc/") and n.endswith(".cu") for n in package)


def test_wheel_metadata_matches_the_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(meta_name).decode())
    assert meta["Name"] == "bandlimit"
    assert meta["Version"] == bandlimit.__version__, "pyproject.toml and bandlimit.__version__"
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta["Requires-Python"] == ">=3.10"
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("torch") for r in requires)
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_wheel_imports_and_runs_on_its_own(wheel, tmp_path):
    """The unpacked wheel, ahead of the source tree on the path: the package imports from it,
    and every backend that needs no GPU runs an op from it (the numba kernels compile from the
    wheel's files, into its own cache)."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = (
        "import bandlimit, torch\n"
        "from bandlimit import ops\n"
        "from bandlimit.filters import kaiser_sinc\n"
        "print(bandlimit.__file__)\n"
        "x = torch.randn(1, 2, 9, 9, dtype=torch.float64)\n"
        "f = kaiser_sinc(12, cutoff=0.25, width=0.3, fs=2.0, dtype=torch.float64)\n"
        "ys = [ops.filtered_lrelu(x, f, f, up=2, down=2, padding=5, impl=i) for i in "
        "('ref', 'numba')]\n"
        "assert torch.allclose(ys[0], ys[1], atol=1e-12), (ys[0] - ys[1]).abs().max()\n"
        "print('ok', tuple(ys[0].shape))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(site), NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    env.pop("BANDLIMIT_CUDA_CACHE", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, last = proc.stdout.strip().splitlines()[0], proc.stdout.strip().splitlines()[-1]
    assert Path(first).resolve().is_relative_to(site.resolve()), first
    assert last == "ok (1, 2, 3, 3)", proc.stdout


_READ_ONLY_RUN = """
import warnings
warnings.simplefilter("always")
import torch
import bandlimit
from bandlimit.ops import upsample2d, setup_filter
x, f = torch.randn(1, 2, 8, 8), setup_filter([1, 3, 3, 1])
with warnings.catch_warnings(record=True) as caught:
    y = upsample2d(x, f, impl="numba")
    upsample2d(x, f, impl="numba")
assert bandlimit.__file__.startswith({root!r}), bandlimit.__file__
assert torch.allclose(y, upsample2d(x, f, impl="ref"), atol=1e-6)
print(len(caught), caught[0].message if caught else None)
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_a_read_only_install_without_a_writable_home_still_runs_the_numba_kernels(tmp_path):
    """Serverless functions and locked-down containers: site-packages read-only, no writable
    home. Numba finds nowhere to cache, which made ``import bandlimit`` raise; now the kernels
    compile uncached, with one warning that says how to keep them (NUMBA_CACHE_DIR)."""
    pytest.importorskip("numba")
    import tempfile

    site = Path(tempfile.mkdtemp(prefix="bandlimit-ro-"))  # (pytest's tmp_path is root-only)
    try:
        shutil.copytree(PACKAGE, site / "bandlimit", ignore=shutil.ignore_patterns("__pycache__"))
        for p in [site, *site.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        unset = ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update(PYTHONPATH=str(site), HOME="/nonexistent")
        drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        cmd = [*(drop if os.geteuid() == 0 else []), sys.executable, "-c",
               _READ_ONLY_RUN.format(root=str(site))]  # fmt: skip
        proc = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, timeout=600)
        if proc.returncode and "Traceback" not in proc.stderr:  # (setpriv could not run python)
            pytest.skip(f"the unprivileged user cannot run this interpreter: {proc.stderr}")
        assert proc.returncode == 0, proc.stderr
        count, message = proc.stdout.strip().split(" ", 1)
        assert count == "1", proc.stdout
        assert "NUMBA_CACHE_DIR" in message and "compile in every process" in message
    finally:
        for p in [site, *site.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(site)


_BROKEN_NUMBA_RUN = """
import warnings
warnings.simplefilter("always")
import torch
import bandlimit  # must import: numba is only one backend
from bandlimit.ops import filtered_act1d, upsample2d, setup_filter
x, f = torch.randn(1, 2, 8, 8), setup_filter([1, 3, 3, 1])
with warnings.catch_warnings(record=True) as caught:
    y = upsample2d(x, f)                                    # 'auto': 'ref', one warning
    filtered_act1d(torch.randn(1, 2, 30), "gelu", up=2, down=2)
assert torch.equal(y, upsample2d(x, f, impl="ref"))
assert len(caught) == 1, [str(w.message) for w in caught]
print("warning:", caught[0].message)
try:
    upsample2d(x, f, impl="numba")
except ValueError as e:
    print("error:", e)
"""


def test_an_installed_numba_that_cannot_import_leaves_the_reference_running(tmp_path):
    """A numba release older than the installed NumPy refuses to import ("Numba needs NumPy 2.3
    or less"). bandlimit must still import and run: 'auto' falls back to 'ref' with one warning
    that gives the reason, ``impl='numba'`` raises it, ``python -m bandlimit info`` reports it."""
    stub = tmp_path / "site" / "numba"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("Numba needs NumPy 2.3 or less.")\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    env.pop("BANDLIMIT_IMPL", None)
    proc = subprocess.run([sys.executable, "-c", _BROKEN_NUMBA_RUN], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    reason = "the installed numba cannot be imported (ImportError: Numba needs NumPy 2.3 or less.)"
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("warning: upfirdn2d: bandlimit's numba kernels are unavailable")
    assert reason in lines[0]
    assert lines[1] == f"error: upfirdn2d: impl='numba' cannot run: {reason}; install a numba " \
        "release that supports this NumPy and Python"  # fmt: skip
    info = subprocess.run([sys.executable, "-m", "bandlimit", "info"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert f"numba backend: unavailable: {reason}" in info.stdout


def test_the_sdist_carries_a_whole_test_suite_and_no_measurements(tmp_path):
    """setuptools alone shipped tests/test_*.py without tests/conftest.py and the subfolders:
    the sdist's suite failed at collection (a distribution packager's build). MANIFEST.in ships
    what the suite, the examples and the docs need, and no results, caches or build outputs."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} cannot build this project")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    src = tmp_path / "src"
    for name in tracked.stdout.split():  # (a copy of the tracked tree: the build writes to it)
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, src / name)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
         "print(b.build_sdist(sys.argv[1]))", str(tmp_path / "dist")],
        cwd=src, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import tarfile

    (sdist,) = (tmp_path / "dist").glob("bandlimit-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for need in ("tests/conftest.py", "tests/ops/test_numerics.py", "tests/examples/conftest.py",
                 "examples/train_afgan.py", "docs/conf.py", "benchmarks/cuda_sanitize.py",
                 "Makefile", "bandlimit/ops/cuda/csrc/binding.cpp", "bandlimit/py.typed"):
        assert need in names, need
    assert not [n for n in names if n.startswith("benchmarks/results/") or "__pycache__" in n
                or n.endswith((".pyc", ".nbi", ".nbc"))]  # fmt: skip
    wanted = {n for n in tracked.stdout.split()
              if n.startswith(("tests/", "examples/", "bandlimit/"))}  # fmt: skip
    assert wanted <= names, sorted(wanted - names)[:5]
