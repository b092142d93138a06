"""The CUDA kernels make no data race and no access out of bounds, checked on the CPU with the
compiler's sanitizers.

The emulation (``csrc/emulate.h``) runs a block's threads as real threads, but a plain build meets
a racy schedule only by chance, and it checks no global-memory bounds. Two checking builds of the
same kernel sources (``BANDLIMIT_EMULATION_SANITIZER``, ``_build.load_emulation``) close that:

* 'thread' (ThreadSanitizer), running two blocks at a time: any two threads, of one block or of
  two blocks adjacent along an axis (the teams alternate like a checkerboard), that touch the
  same shared or global memory with no barrier or atomic between them;
* 'address' (AddressSanitizer and UBSan): any read or write past a tensor's storage (torch's
  CPU allocations get red zones) or past the shared memory's guard bytes, and undefined
  behaviour such as a signed overflow in index arithmetic or a shift past the width.

The whole emulation test file reruns on each in a subprocess (the sanitizer's runtime must be
preloaded), with several threads in every block. A self-test first shows that each check sees
what it is for: a missing barrier and two blocks (neighbours along y) writing one word; a read one
past an array and an int index one past INT_MAX.

Skipped where the C++ compiler lacks the sanitizer's runtime. A few minutes each on 2 cores (the
builds are cached per source hash, like the plain emulation's). ``make sanitize`` runs this file.
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
PRELOAD = {
    s: _build.sanitizer_preload(s) if shutil.which("ninja") else None for s in _build.SANITIZERS
}
REPORTS = {"thread": ("WARNING: ThreadSanitizer",),
           "address": ("ERROR: AddressSanitizer", "runtime error:")}  # the latter from UBSan
OPTIONS = {
    "thread": {"TSAN_OPTIONS": f"suppressions={HERE / 'tsan.supp'} report_signal_unsafe=0 "
                               "exitcode=66"},
    # Python and torch keep memory until exit by design: leaks are not what this checks.
    "address": {"ASAN_OPTIONS": "detect_leaks=0 exitcode=66",
                "UBSAN_OPTIONS": "print_stacktrace=1 halt_on_error=1 exitcode=66"},
}


def needs(sanitizer: str):
    return pytest.mark.skipif(
        PRELOAD[sanitizer] is None,
        reason=f"needs ninja and a C++ compiler with the {sanitizer} sanitizer's runtime",
    )


def run_sanitized(sanitizer: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(OPTIONS[sanitizer])
    env.update({
        "LD_PRELOAD": PRELOAD[sanitizer],
        _build.ENV_SANITIZER: sanitizer,
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    })
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=timeout,
    )


def tail(proc: subprocess.CompletedProcess, n: int = 6000) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-n:]}\n--- stderr\n{proc.stderr[-n:]}"


PROBE = textwrap.dedent(
    """
    import sys
    from bandlimit.ops.cuda import _build
    emu = _build.load_emulation()
    print(getattr(emu, sys.argv[1])(*(a == "1" for a in sys.argv[2:])))
    """
)


def probe(sanitizer: str, name: str, *flags: bool) -> tuple[int, int]:
    """(exit code, reports) of one call of the emulation's self-test ``name``."""
    proc = run_sanitized(sanitizer, ["-c", PROBE, name, *(str(int(f)) for f in flags)], 1200)
    assert "Traceback" not in proc.stderr, tail(proc)
    return proc.returncode, sum(proc.stderr.count(r) for r in REPORTS[sanitizer])


@needs("thread")
def test_the_race_check_sees_a_missing_barrier_and_a_shared_write():
    assert probe("thread", "race_probe", True, True) == (0, 0)  # correct: no report
    code, reports = probe("thread", "race_probe", False, True)  # no barrier inside a block
    assert code == 66 and reports >= 1
    code, reports = probe("thread", "race_probe", True, False)  # blocks (x, 0), (x, 1) share
    assert code == 66 and reports >= 1


@needs("address")
def test_the_bounds_check_sees_a_read_past_an_array_and_a_signed_overflow():
    assert probe("address", "bounds_probe", False) == (0, 0)
    assert probe("address", "bounds_probe", True) == (66, 1)
    assert probe("address", "overflow_probe", False) == (0, 0)
    assert probe("address", "overflow_probe", True) == (66, 1)


@pytest.mark.parametrize("sanitizer", [
    pytest.param("thread", marks=needs("thread")),
    pytest.param("address", marks=needs("address")),
])
def test_the_emulated_kernels_pass_their_tests_under_the_sanitizer(sanitizer):
    proc = run_sanitized(
        sanitizer,
        ["-m", "pytest", "-q", "-x", "--capture=sys", "-p", "no:cacheprovider", "-p", "no:xdist",
         str(HERE / "test_cuda_emulation.py")],
        timeout=3000,
    )
    assert proc.returncode == 0, tail(proc)
    assert not any(r in proc.stderr for r in REPORTS[sanitizer]), tail(proc)
    assert " passed" in proc.stdout, tail(proc)
