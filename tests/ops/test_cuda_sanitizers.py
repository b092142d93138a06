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

The whole emulation test file reruns on each in subprocesses (the sanitizer's runtime must be
preloaded), with several threads in every block: ThreadSanitizer's run in four pieces (the
slowest test, and every third of the others: ``BANDLIMIT_TEST_SHARD``) that the suite's workers
share. A self-test first shows that each check sees what it is for: a missing barrier and two
blocks (neighbours along y) writing one word; a read one past an array and an int index one past
INT_MAX.

Skipped where the C++ compiler lacks the sanitizer's runtime. About 25 min of one core for
ThreadSanitizer, 2–3 for AddressSanitizer (the builds are cached per source hash, like the plain
emulation's). ``make sanitize`` runs this file.
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
from tests.conftest import SHARD_ENV

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


def run_sanitized(
    sanitizer: str, args: list[str], timeout: float, **extra_env: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != SHARD_ENV}  # (a piece sets its own)
    env.update(OPTIONS[sanitizer])
    env.update(extra_env)
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


# The emulation file in pieces, so that the slow ThreadSanitizer run (~25 min of one core) is
# shared by the suite's xdist workers: its slowest test (~10 min under it: 131076 planes) on its
# own, the others in three (every third test: tests/conftest.py).
SLOWEST = "test_planes_beyond_the_grid_z_limit"
EMULATION_TESTS = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   str(HERE / "test_cuda_emulation.py")]  # fmt: skip
PIECES = {  # id: (sanitizer, -k expression, shard)
    "thread-slowest": ("thread", SLOWEST, None),
    **{f"thread-{k + 1}of3": ("thread", f"not {SLOWEST}", f"{k}/3") for k in range(3)},
    "address": ("address", None, None),
}


@pytest.mark.parametrize("piece", [pytest.param(k, marks=needs(v[0]), id=k)
                                   for k, v in PIECES.items()])  # fmt: skip
def test_the_emulated_kernels_pass_their_tests_under_the_sanitizer(piece):
    sanitizer, select, shard = PIECES[piece]
    proc = run_sanitized(
        sanitizer, [*EMULATION_TESTS, "-x", "--capture=sys", *(["-k", select] if select else [])],
        timeout=3000, **({SHARD_ENV: shard} if shard else {}),
    )
    assert proc.returncode == 0, tail(proc)
    assert not any(r in proc.stderr for r in REPORTS[sanitizer]), tail(proc)
    assert " passed" in proc.stdout, tail(proc)


def collected(shard: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in (SHARD_ENV, "PYTEST_XDIST_WORKER")}
    env.update({SHARD_ENV: shard} if shard else {})
    proc = subprocess.run([sys.executable, *EMULATION_TESTS, "--collect-only"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, tail(proc)
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_the_shards_split_the_emulation_tests_between_them():
    everything = collected(None)
    pieces = [collected(f"{k}/2") for k in range(2)]
    assert len(everything) > 50
    assert sorted(t for p in pieces for t in p) == sorted(everything)
    assert all(abs(len(p) - len(everything) / 2) <= 1 for p in pieces)
