"""``python -m bandlimit {info,precompile}`` and :func:`bandlimit.ops.precompile_numba`: the
kernels compiled ahead of time are the ones a later process loads, and the report says where."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import bandlimit
from bandlimit.ops import precompile_numba
from bandlimit.ops._dispatch import numba_available

needs_numba = pytest.mark.skipif(not numba_available(), reason="numba is not installed")
ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str], code: str | None = None):
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "bandlimit", *args]
    return subprocess.run(
        cmd, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=600
    )


# (in a fresh process: loads from the cache, or compiles, the kernels a 1-D SnakeBeta op needs)
_LATER_PROCESS = textwrap.dedent(
    """
    import torch
    from bandlimit.ops import filtered_act1d
    from bandlimit.ops._numba._kernel import plane_kernel
    x = torch.randn(2, 3, 50, requires_grad=True)
    f = torch.full((12,), 1 / 12)
    filtered_act1d(x, "snakebeta", f, f, up=2, down=2, padding=11, alpha=torch.ones(3),
                   beta=torch.ones(3), impl="numba").sum().backward()
    from bandlimit.ops._numba._kernel import plane_kernel_serial, serial_launches
    with serial_launches():  # the variant forked DataLoader workers run
        filtered_act1d(x, "gelu", f, f, up=2, down=2, padding=11, impl="numba")
    for k in (plane_kernel, plane_kernel_serial):
        print("hits", sum(k.stats.cache_hits.values()),
              "misses", sum(k.stats.cache_misses.values()))
    """
)


@needs_numba
def test_precompile_fills_the_cache_that_a_later_process_loads(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}  # empty: only precompile can fill it
    done = _run(["precompile"], env)
    assert done.returncode == 0, done.stderr
    assert "numba float32: ready" in done.stdout
    assert str(tmp_path / "cache") in done.stdout
    assert list((tmp_path / "cache").rglob("*.nbc"))

    after = _run([], env, _LATER_PROCESS)
    assert after.returncode == 0, after.stderr
    assert after.stdout.split("\n")[:2] == ["hits 1 misses 0"] * 2, after.stdout

    info = _run(["info"], env)
    assert info.returncode == 0, info.stderr
    lines = dict(line.split(": ", 1) for line in info.stdout.splitlines())
    assert lines["bandlimit"].startswith(bandlimit.__version__)
    assert lines["torch"] == torch.__version__.split("+")[0] or lines["torch"] == torch.__version__
    assert lines["numba backend"] == "available"
    assert lines["numba kernel cache"].startswith(str(tmp_path / "cache"))
    assert "0 cached kernel files" not in lines["numba kernel cache"]
    assert "cuda backend" in lines


@needs_numba
def test_precompile_maps_half_dtypes_to_float32_and_runs_under_no_grad():
    with torch.inference_mode():
        taken = precompile_numba([torch.bfloat16, torch.float16, torch.float32])
    assert list(taken) == [torch.float32]
    assert all(t >= 0 for t in taken.values())
    assert list(precompile_numba(torch.float64)) == [torch.float64]


@pytest.mark.parametrize(
    ("dtypes", "error", "match"),
    [
        ("float32", TypeError, "dtypes must be a torch.dtype or an iterable.*'float32'"),
        (32, TypeError, "dtypes must be a torch.dtype or an iterable.*int 32"),
        ([torch.int32], ValueError, "dtypes: .*float32/float64 tensors, got torch.int32"),
        ([torch.float32, "float64"], ValueError, "got 'float64'"),
        ([torch.complex64], ValueError, "got torch.complex64"),
        ([], ValueError, "at least one dtype"),
    ],
)
def test_precompile_refuses_what_is_not_a_kernel_dtype(dtypes, error, match):
    with pytest.raises(error, match=match):
        precompile_numba(dtypes)


def test_command_line_refuses_unknown_commands_and_dtypes():
    for args in (["precompile", "--dtype", "int8"], ["compile"], []):
        done = _run(args, {})
        assert done.returncode == 2, args
        assert "usage: python -m bandlimit" in done.stderr


# ---------------------------------------------------------------------------------------------
# The numba cache: stale sources, corrupted files, nowhere to write


@needs_numba
def test_stale_kernels_are_dropped_where_numba_caches_them(tmp_path):
    """Numba re-validates a cached kernel against its own file only, so the package drops its
    cache when any of its modules changed. That check looked beside the sources alone: with
    NUMBA_CACHE_DIR (the README's advice for containers) an edited or upgraded helper module
    left the old machine code loading."""
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    code = "import bandlimit.ops._numba._core as c; print(c.CACHE_DIR)"
    first = _run([], env, code)
    assert first.returncode == 0, first.stderr
    cache = Path(first.stdout.strip())
    assert cache.is_relative_to(tmp_path)
    stamp = cache / "bandlimit-numba-sources.sha256"
    digest = stamp.read_text()
    # kernels cached by an older version of the sources
    for name in ("_kernel.plane_kernel-1.py311.nbi", "_kernel.plane_kernel-1.py311.1.nbc"):
        (cache / name).write_bytes(b"old machine code")
    stamp.write_text("an older digest")
    assert _run([], env, code).returncode == 0
    assert not list(cache.glob("*.nb[ic]")) and stamp.read_text() == digest
    (cache / "kept.nbi").write_bytes(b"current")  # (up to date: kept)
    assert _run([], env, code).returncode == 0 and (cache / "kept.nbi").exists()


@needs_numba
def test_an_unreadable_cached_kernel_is_dropped_and_compiled_again(tmp_path, monkeypatch):
    """A truncated cache file (a full disk, a killed copy) made every numba op fail for good
    with 'pickle data was truncated', naming nothing. The package's cache is dropped and the
    kernel compiled again, with a warning."""
    import numba

    from bandlimit.ops._numba import _core

    module = tmp_path / "tiny_cached.py"
    module.write_text("import numba\n@numba.njit(cache=True)\ndef f(x):\n    return x + 1\n")
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(tmp_path)}
    assert _run([], env, "import tiny_cached; tiny_cached.f(1)").returncode == 0
    (data,) = (tmp_path / "cache").rglob("*.nbc")
    data.write_bytes(data.read_bytes()[:40])  # truncated
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))  # (read at import)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    tiny = importlib.import_module("tiny_cached")
    with pytest.raises(Exception) as info:
        tiny.f(1)
    assert _core.read_from_numba_cache(info.value)
    assert not _core.read_from_numba_cache(ValueError("an error of the kernel itself"))
    monkeypatch.setattr(_core, "CACHE_DIR", data.parent)
    with pytest.warns(RuntimeWarning, match=r"could not be read .*removed it, the kernels compile"):
        assert _core.recover_from_corrupt_cache(info.value)
    assert not list(data.parent.glob("*.nb[ic]"))
    assert tiny.f(1) == 2  # compiled again
    assert isinstance(tiny.f, numba.core.registry.CPUDispatcher)

    # A failed write (a full disk) is not a corrupt cache: dropping it would not help.
    import errno

    from numba.core import caching

    def full(self, overloads):
        raise OSError(errno.ENOSPC, "No space left on device")

    module2 = tmp_path / "tiny_written.py"
    module2.write_text("import numba\n@numba.njit(cache=True)\ndef g(x):\n    return x - 1\n")
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_index", full)
    written = importlib.import_module("tiny_written")
    with pytest.raises(OSError) as info:
        written.g(1)
    assert not _core.read_from_numba_cache(info.value)


@needs_numba
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_fork_while_a_launch_holds_the_lock_leaves_the_child_able_to_launch():
    """A child forked while another thread was inside a launch inherited the launch lock held,
    and its first op hung (numba's 'workqueue' layer takes it for every launch)."""
    import time

    from bandlimit.ops import upfirdn1d
    from bandlimit.ops._numba import _kernel

    x, f = torch.randn(1, 2, 64), torch.ones(3) / 3
    want = upfirdn1d(x, f, up=2, impl="numba")
    with _kernel._LAUNCH_LOCK, _kernel._SCRATCH_LOCK:
        pid = os.fork()
        if pid == 0:  # the child: launches take the locks
            try:
                _kernel._serialize[:] = [True]  # (every launch through the lock, as workqueue)
                ok = torch.equal(upfirdn1d(x, f, up=2, impl="numba"), want)
            finally:
                os._exit(0 if ok else 3)
    deadline = time.time() + 120
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the inherited lock")
    assert os.waitstatus_to_exitcode(status) == 0


def test_precompile_with_nowhere_to_cache_fails(monkeypatch, capsys):
    """`precompile` compiled for a minute, printed "cache: none" and exited 0: a Docker build
    step passed while keeping nothing. (Simulated: as root, as CI runs, no directory is
    read-only, so numba's search result is replaced and nothing is compiled.)"""
    import bandlimit.__main__ as cli
    import bandlimit.ops.precompile as pre

    monkeypatch.setattr(pre, "numba_cache", lambda: {"dir": None, "writable": False, "files": 0})
    monkeypatch.setattr("bandlimit.ops.precompile_numba", lambda dtypes: {torch.float32: 0.0})
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/read/only")
    assert cli.main(["precompile"]) == 1
    err = capsys.readouterr().err
    assert "error: numba found no writable directory" in err and "'/read/only'" in err
