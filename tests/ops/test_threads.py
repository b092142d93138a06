"""Threads and processes: ops called from several Python threads at once (a server's request
threads) give what they give one at a time, on every numba threading layer; forked DataLoader
workers of a process that ran numba ops run them too; the kernels use PyTorch's thread count."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from bandlimit.ops import filtered_act1d, filtered_lrelu, upfirdn2d
from bandlimit.ops._dispatch import numba_available
from bandlimit.ops._numba import _kernel

pytestmark = pytest.mark.skipif(not numba_available(), reason="numba is not installed")

ROOT = Path(__file__).resolve().parents[2]
F = torch.full((12,), 1 / 12)


def _calls(seed: int):
    """Three different ops, fwd+bwd, on inputs of a size of their own (so no two threads share
    a plan), returning everything they computed."""
    g = torch.Generator().manual_seed(seed)
    n = 20 + seed
    x2 = torch.randn(2, 4, n, n, generator=g, requires_grad=True)
    x1 = torch.randn(2, 3, 4 * n, generator=g, requires_grad=True)
    y2 = filtered_lrelu(x2, F, F, up=2, down=2, padding=11, impl="numba")
    y1 = filtered_act1d(x1, "snake", F, F, up=2, down=2, padding=11, alpha=torch.ones(3),
                        impl="numba")  # fmt: skip
    y3 = upfirdn2d(x2.detach(), F, up=2, down=3, padding=3, impl="numba")
    grads = torch.autograd.grad(y2.square().sum() + y1.square().sum(), (x2, x1))
    return [y2.detach(), y1.detach(), y3, *grads]


def _agree_with_serial(threads: int = 4, rounds: int = 3) -> None:
    seeds = list(range(8))
    serial = [_calls(s) for s in seeds]
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(rounds):
            for want, got in zip(serial, pool.map(_calls, seeds)):
                assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_concurrent_calls_match_serial_calls():
    _agree_with_serial()


def test_the_workqueue_threading_layer_takes_concurrent_calls_in_turn():
    """numba's fallback layer (no OpenMP or TBB found: pip's numba on macOS) aborts the whole
    process on a concurrent launch; the launches queue instead."""
    code = (
        "import numba, tests.ops.test_threads as t; t._agree_with_serial(); "
        "print(numba.threading_layer())"
    )
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "workqueue"


def test_the_serial_kernel_computes_what_the_parallel_one_does():
    """The variant forked workers run (every mode: upfirdn, masked forward/backward, snake's
    recomputing backward) is the same loop without the thread pool: equal bit for bit."""
    parallel = _calls(3)
    with _kernel.serial_launches():
        serial = _calls(3)
    assert all(torch.equal(a, b) for a, b in zip(parallel, serial))


_FORKED_WORKERS = """
import torch
from torch.utils.data import DataLoader, Dataset
import tests.ops.test_threads as t

class Planes(Dataset):
    def __len__(self):
        return 4
    def __getitem__(self, i):
        return t._calls(i)

want = [t._calls(i) for i in range(4)]        # the parent starts numba's thread pool
loader = DataLoader(Planes(), batch_size=None, num_workers=2, multiprocessing_context="fork")
got = list(loader)
assert all(torch.equal(a, b) for w, g in zip(want, got) for a, b in zip(w, g))
print("ok", len(got))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork-started DataLoader workers: Linux")
def test_forked_dataloader_workers_run_numba_ops_after_the_parent_did():
    """GNU OpenMP's pool does not survive fork(): numba kills (SIGTERM) a forked child's
    parallel launch once the parent's pool has started -- every DataLoader worker of a process
    that had run a numba op. The workers run the serial kernel instead."""
    proc = subprocess.run([sys.executable, "-c", _FORKED_WORKERS], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok 4"


def test_the_kernels_use_pytorchs_thread_count():
    """torch.set_num_threads (and OMP_NUM_THREADS, and the 1 thread of a DataLoader worker)
    bounds the numba kernels too; numba's default would be every core in every process."""
    before = torch.get_num_threads()
    want = _calls(5)
    try:
        torch.set_num_threads(1)
        assert _kernel.thread_budget() == 1
        got = _calls(5)
    finally:
        torch.set_num_threads(before)
    assert _kernel.thread_budget() == min(before, _kernel.numba.get_num_threads())
    assert all(torch.equal(a, b) for a, b in zip(want, got))
