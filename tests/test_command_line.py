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
