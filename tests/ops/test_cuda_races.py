"""The CUDA kernels are free of data races, checked on the CPU with ThreadSanitizer.

The emulation (``csrc/emulate.h``) runs a block's threads as real threads, but a plain build meets
a racy schedule only by chance. The race-check build (``BANDLIMIT_EMULATION_SANITIZER=thread``)
compiles the same kernel sources with ``-fsanitize=thread`` and runs two blocks at a time, so any
two threads, of one block or of two, that touch the same shared or global memory with no barrier or
atomic between them are reported. The whole emulation test file reruns on it in a subprocess
(the sanitizer's runtime must be preloaded), with several threads in every block; a self-test
first shows that the check catches a missing barrier and two blocks writing the same word.

Skipped where the C++ compiler has no ThreadSanitizer runtime. About four minutes on 2 cores
(the build is cached per source hash, like the plain emulation's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bandlimit.ops.cuda import _build

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RUNTIME = _build.sanitizer_runtime("thread") if shutil.which("ninja") else None

pytestmark = pytest.mark.skipif(
    RUNTIME is None, reason="needs ninja and a C++ compiler with ThreadSanitizer (libtsan)"
)

REPORT = "WARNING: ThreadSanitizer"


def run_sanitized(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        LD_PRELOAD=str(RUNTIME),
        BANDLIMIT_EMULATION_SANITIZER="thread",
        TSAN_OPTIONS=f"suppressions={HERE / 'tsan.supp'} report_signal_unsafe=0 exitcode=66",
        OMP_NUM_THREADS="1",
        NUMBA_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


def tail(proc: subprocess.CompletedProcess, n: int = 6000) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-n:]}\n--- stderr\n{proc.stderr[-n:]}"


def test_the_race_check_sees_a_missing_barrier_and_a_shared_write():
    probe = textwrap.dedent(
        """
        import sys
        from bandlimit.ops.cuda import _build
        emu = _build.load_emulation()
        barrier, own_slot = sys.argv[1] == "1", sys.argv[2] == "1"
        print(emu.race_probe(barrier, own_slot))
        """
    )
    reports = {}
    for barrier, own_slot in [(True, True), (False, True), (True, False)]:
        proc = run_sanitized(["-c", probe, str(int(barrier)), str(int(own_slot))], timeout=1200)
        assert "Traceback" not in proc.stderr, tail(proc)
        reports[barrier, own_slot] = (proc.returncode, proc.stderr.count(REPORT))
    assert reports[True, True] == (0, 0), reports  # correct: no report
    assert reports[False, True][1] >= 1, reports  # the barrier missing inside a block
    assert reports[True, False][1] >= 1, reports  # two blocks adding to one word
    assert all(code == 66 for code, n in reports.values() if n), reports


def test_the_emulated_kernels_have_no_data_race():
    proc = run_sanitized(
        ["-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(HERE / "test_cuda_emulation.py")],
        timeout=3000,
    )
    assert proc.returncode == 0 and REPORT not in proc.stderr, tail(proc)
    assert " passed" in proc.stdout, tail(proc)
