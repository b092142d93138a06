"""The one parallel kernel behind every entry point (one compilation per dtype).

``mode`` selects the per-plane pipeline; everything else is data (see :mod:`._plan`):

* ``MODE_UPFIRDN``: stage the input plane, run all jobs, gather the output plane.
* ``MODE_FORWARD``: stage ``x + b``, run the up-stage jobs, activation (piecewise-linear acts may
  save branch codes, packed into the mask; every other act is applied by
  :func:`._smooth.act_fwd_any`), extend the activated signal when the down stage pads it
  (:func:`._smooth.extend_act`), run the down-stage jobs, gather ``y``.
* ``MODE_BACKWARD``: unpack the codes, stage ``dy``, run the transposed down-stage jobs, multiply by
  the activation's derivative (zeroing every non-sample position), run the transposed up-stage
  jobs, gather ``dx``.
* ``MODE_RECOMPUTE``: the backward of any activation without stored state. Stage ``x + b`` and
  run the *forward* plan's up-stage jobs (shifted into the same scratch) to recompute ``u``;
  stage ``dy``, run the transposed down stage, fold the extension back, multiply by
  ``gain · act'(u)`` (accumulating the plane's ``dα``, ``dβ``), run the transposed up stage,
  gather ``dx``.

Sharing one kernel (rather than one per entry point) keeps the cold compile time of the test suite
down: Numba compiles each parallel kernel, with every helper it calls, separately.

``jr`` holds job-range marks: ``jr[0]`` ends the jobs before the activation, ``jr[1]`` ends the
plan's jobs; ``MODE_RECOMPUTE`` only: ``jr[2] … jr[3]`` are the recomputing forward up-stage
jobs.
``dims = (h, w, ho, wo, hr, wr, ry0, rx0, rh, rw, emode, hf, wf)``: input, output and
activation-buffer sample counts, the region of the activation buffer computed by the up stage
(the rest is the down stage's padding, extended by ``emode``), the size of the forward input
(``MODE_RECOMPUTE``), and the up stage's input extension: ``[he, we]`` samples of which the
input occupies ``[uy0, +h) × [ux0, +w)`` (``[hf, wf]`` in ``MODE_RECOMPUTE``), the rest filled
by ``umode`` (``EXT_NONE``: no extension).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import NamedTuple

import numba
import numpy as np
import torch
from numba import njit, prange

from bandlimit.ops._numba._core import (
    ACT_LRELU,
    JIT,
    PJIT,
    act_bwd,
    act_fwd,
    gather_out,
    helper,
    inline_helper,
    pack_codes,
    recover_from_corrupt_cache,
    run_jobs,
    runner_address,
    stage_in,
    unpack_codes,
)
from bandlimit.ops._numba._plan import Plan, scratch
from bandlimit.ops._numba._smooth import (
    ACT_SNAKE,
    ACT_SNAKEBETA,
    EXT_NONE,
    SNAKE_EPS,
    act_bwd_any,
    act_fwd_any,
    cast_like,
    extend_act,
    fold_ext,
    gather_at,
    stage_at,
)

MODE_UPFIRDN = 0
MODE_FORWARD = 1
MODE_BACKWARD = 2
MODE_RECOMPUTE = 3


@helper
def _row(geom, r):
    """Row ``r`` of a buffer whose y axis has one phase, as a geometry of its own."""
    return (geom[0] + r * geom[4], geom[1], geom[2], geom[3], geom[4], geom[5], geom[6])


@helper
def _act_params(p, act, nchan, prm, pa, pb):
    """Plane ``p``'s α (lrelu slope or snake α) and ``1/(α or β + ε)``."""
    al = pa[p % nchan] if pa.shape[0] > 0 else prm[1]
    inv = prm[3]
    # ε in the parameter's own precision, as 'ref' (and BigVGAN) add it: a float32 α = -ε
    # must hit the same singularity (inf), not a float64 sum's 3e-17
    if act == ACT_SNAKE:
        inv = 1 / (al + cast_like(SNAKE_EPS, al))
    elif act == ACT_SNAKEBETA:
        be = pb[p % nchan]
        inv = 1 / (be + cast_like(SNAKE_EPS, be))
    return al, inv


@helper
def _stage_biased(src, h, w, b, buf, geom, umode, he, we, uy0, ux0, zero):
    """Stage the ``[h, w]`` plane ``src + b``; with an input extension (``umode``) as the samples
    ``[uy0, +h) × [ux0, +w)`` of the ``[he, we]`` extended input, the rest filled by it."""
    if umode == EXT_NONE:
        stage_in(src, 0, h, w, b, buf, geom)
    else:
        stage_at(src, h, w, b, buf, geom, uy0, ux0)
        extend_act(buf, geom, he, we, uy0, ux0, h, w, umode, zero)


@inline_helper
def _plane_loop(
    mode,
    x,
    y,
    xf,
    bias,
    nchan,
    mask,
    save,
    dims,
    rows,
    gin,
    gmid,
    gout,
    gfin,
    gfmid,
    jobs,
    toff,
    tcoef,
    jr,
    act,
    prm,
    pa,
    pb,
    dpar,
    scr,
    cscr,
    runner,
    serial,
):
    """Run the ``mode`` pipeline on every plane ``x[p]`` (flat ``[h·w]``) into ``y[p]``.

    ``rows`` planes at a time: with ``rows > 1`` the planes are single rows (``h = 1``, every
    y stage the identity) stacked as the rows of one plane, which the plan's geometries and jobs
    are for; the staging, activation and gathering go row by row, each with its plane's
    parameters, and the jobs run once for all the rows.

    ``prm``: forward ``(gain, alpha, clamp, 0)``, backward ``(gain, gain·slope, 0, 0)``,
    recompute ``(gain, alpha, clamp, 0)``. ``pa``, ``pb``: per-channel snake α, β (plane ``p``
    uses channel ``p % nchan``) or empty. ``dpar [P, 2]`` (float64): the recompute mode's
    per-plane ``Σ dy·∂y/∂α``, ``Σ dy·∂y/∂β``. ``xf``: the forward input (recompute mode).
    """
    h, w, ho, wo, hr, wr, ry0, rx0, rh, rw, emode, hf, wf, he, we, uy0, ux0, umode = dims
    nj = jr[1]
    nq = mask.shape[1]
    zero = prm[3]
    nplanes = x.shape[0]
    for grp in prange((nplanes + rows - 1) // rows):
        tid = 0 if serial else numba.get_thread_id()
        buf = scr[tid]
        codes = cscr[tid]
        p0 = grp * rows
        nr = min(rows, nplanes - p0)  # a last group of fewer rows computes stale ones too
        if mode == MODE_UPFIRDN:
            for r in range(nr):
                stage_in(x[p0 + r], 0, h, w, zero, buf, _row(gin, r))
            run_jobs(runner, buf, jobs, toff, tcoef, 0, nj)
            for r in range(nr):
                gather_out(buf, _row(gout, r), ho, wo, y[p0 + r], 0)
            continue
        if mode == MODE_BACKWARD:
            for r in range(nr):
                stage_in(x[p0 + r], 0, h, w, zero, buf, _row(gin, r))
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
            for r in range(nr):
                unpack_codes(mask[p0 + r], codes, nq)
                act_bwd(buf, _row(gmid, r), hr, wr, codes, prm[0], prm[1], zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
            for r in range(nr):
                gather_out(buf, _row(gout, r), ho, wo, y[p0 + r], 0)
            continue
        if mode == MODE_FORWARD:
            for r in range(nr):
                b = bias[(p0 + r) % nchan] if bias.shape[0] > 0 else zero
                _stage_biased(x[p0 + r], h, w, b, buf, _row(gin, r), umode, he, we, uy0, ux0, zero)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
            for r in range(nr):
                p = p0 + r
                al, inv = _act_params(p, act, nchan, prm, pa, pb)
                g = _row(gmid, r)
                if act <= ACT_LRELU:
                    act_fwd(buf, g, hr, wr, codes, save, act, prm[0], al, prm[2], zero)
                    if save:
                        codes[hr * wr : 4 * nq] = 0  # unused bits: not codes of row padding
                        pack_codes(codes, mask[p], nq)
                else:
                    act_fwd_any(buf, g, hr, wr, ry0, rx0, rh, rw, act, prm[0], al, inv, prm[2])
                if emode != EXT_NONE:
                    extend_act(buf, g, hr, wr, ry0, rx0, rh, rw, emode, zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
            for r in range(nr):
                gather_out(buf, _row(gout, r), ho, wo, y[p0 + r], 0)
            continue
        # MODE_RECOMPUTE
        for r in range(nr):
            b = bias[(p0 + r) % nchan] if bias.shape[0] > 0 else zero
            g = _row(gfin, r)
            _stage_biased(xf[p0 + r], hf, wf, b, buf, g, umode, he, we, uy0, ux0, zero)
        run_jobs(runner, buf, jobs, toff, tcoef, jr[2], jr[3])
        for r in range(nr):
            stage_in(x[p0 + r], 0, h, w, zero, buf, _row(gin, r))
        run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
        for r in range(nr):
            p = p0 + r
            al, inv = _act_params(p, act, nchan, prm, pa, pb)
            g = _row(gmid, r)
            if emode != EXT_NONE:
                fold_ext(buf, g, hr, wr, ry0, rx0, rh, rw, emode)
            act_bwd_any(
                buf, g, buf, _row(gfmid, r), hr, wr, ry0, rx0, rh, rw, act, prm[0], al, inv,
                prm[2], dpar[p],
            )  # fmt: skip
        run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
        for r in range(nr):
            g = _row(gout, r)
            if umode != EXT_NONE:
                # the gradient of the extended input, folded back onto the input's samples
                fold_ext(buf, g, he, we, uy0, ux0, ho, wo, umode)
                gather_at(buf, g, ho, wo, y[p0 + r], uy0, ux0)
            else:
                gather_out(buf, g, ho, wo, y[p0 + r], 0)


# fmt: off
@njit(**PJIT)
def plane_kernel(
    mode, x, y, xf, bias, nchan, mask, save, dims, rows, gin, gmid, gout, gfin, gfmid, jobs,
    toff, tcoef, jr, act, prm, pa, pb, dpar, scr, cscr, runner,
):
    """:func:`_plane_loop` over the planes in parallel (numba's threading layer)."""
    _plane_loop(
        mode, x, y, xf, bias, nchan, mask, save, dims, rows, gin, gmid, gout, gfin, gfmid,
        jobs, toff, tcoef, jr, act, prm, pa, pb, dpar, scr, cscr, runner, False,
    )


@njit(**JIT)
def plane_kernel_serial(
    mode, x, y, xf, bias, nchan, mask, save, dims, rows, gin, gmid, gout, gfin, gfmid, jobs,
    toff, tcoef, jr, act, prm, pa, pb, dpar, scr, cscr, runner,
):
    """:func:`_plane_loop` in the calling thread alone, without numba's threading layer: for a
    process forked from one whose GNU OpenMP pool had started, where a parallel launch would be
    killed (see :func:`_run_kernel`)."""
    _plane_loop(
        mode, x, y, xf, bias, nchan, mask, save, dims, rows, gin, gmid, gout, gfin, gfmid,
        jobs, toff, tcoef, jr, act, prm, pa, pb, dpar, scr, cscr, runner, True,
    )
# fmt: on


_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}
_NO_MASK = np.zeros((1, 1), np.uint8)  # read by no mode that is not given a mask
_NO_DPAR = np.zeros((1, 2))  # written by MODE_RECOMPUTE only

SCRATCH_BUDGET = 64 << 20  # bytes of scratch kept for the next identical launch
_SCRATCH: OrderedDict[tuple, tuple[Plan, np.ndarray]] = OrderedDict()
_scratch_bytes = 0
_SCRATCH_LOCK = threading.Lock()


GROUP_BYTES = 1 << 17  # scratch of a group of rows: well inside a core's L2 cache
MAX_ROWS = 256


def rows_per_group(nplanes: int, packable: bool, row_size: int, itemsize: int,
                   nthreads: int | None = None) -> int:
    """How many single-row planes one kernel iteration stacks as the rows of one plane.

    A short 1-D signal costs far more per plane than per sample (staging, a dozen short jobs,
    gathering: ~1 µs for 64 samples); stacked, each job runs once over all the rows. Only
    ``packable`` planes qualify: one row, every y stage the identity (no y filter, factor or
    padding), so the rows never mix. Groups stay within ``GROUP_BYTES`` of scratch
    (``row_size`` elements a row) and ``MAX_ROWS`` rows, and come in whole rounds of
    ``nthreads`` (:func:`thread_budget` by default) groups of equal size: the kernel's parallel
    loop gives each thread an equal share of the groups, so 3 groups of 256 rows on 2 threads
    would take as long as 4.
    """
    if not packable or nplanes < 2:
        return 1
    nthreads = thread_budget() if nthreads is None else nthreads
    limit = max(1, min(GROUP_BYTES // (row_size * itemsize), MAX_ROWS))
    rounds = -(-nplanes // (limit * nthreads))
    return -(-nplanes // (rounds * nthreads))


class Launch(NamedTuple):
    """What the geometry of a call decides, shared by identical calls (:func:`prepared`): the
    plan (for ``rows`` stacked single-row planes a group), its taps gathered per job, the
    kernel's ``dims``, the output plane ``[ho, wo]``, the thread count it was sized for, the
    mask bytes a plane (masked modes) and ``MODE_RECOMPUTE``'s ``(gfin, gfmid, jr)``."""

    plan: Plan
    rows: int
    tcoef: np.ndarray
    dims: tuple
    out_hw: tuple[int, int]
    nthreads: int
    nq: int = 0
    recompute: tuple | None = None


PREPARED_MAX = 512
_PREPARED: dict[tuple, Launch] = {}


def thread_budget() -> int:
    """How many threads a launch may use: ``torch.get_num_threads()`` (what the user set for
    PyTorch's CPU ops -- ``torch.set_num_threads``, ``OMP_NUM_THREADS``, 1 in a DataLoader
    worker), at most numba's own count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``).
    Numba's default is every logical core whatever PyTorch uses: N worker processes would run
    N pools of all the cores."""
    return max(1, min(numba.get_num_threads(), torch.get_num_threads()))


def prepared(build, *key) -> Launch:
    """``build(nthreads)`` for the current :func:`thread_budget`, memoised by ``key`` and that
    count. ``key`` holds everything else ``build`` reads -- the shape, dtype, factors, paddings,
    modes and the filter taps themselves (:func:`taps_key`), so that nothing stale is found. A
    model calls the same layers again and again, and working out a call's geometry (planning,
    stacking, gathering the taps) costs a small call a fifth of its time. Bounded: cleared when
    full. The memo is only read and added to (atomic dict operations), so Python threads may
    share it."""
    nthreads = thread_budget()
    key = (*key, nthreads)
    hit = _PREPARED.get(key)
    if hit is None:
        if len(_PREPARED) >= PREPARED_MAX:
            _PREPARED.clear()
        hit = _PREPARED[key] = build(nthreads)
    return hit


def taps_key(*arrays) -> tuple:
    """Filter arrays (or None) as part of a :func:`prepared` key: their shapes, dtypes and
    bytes."""
    return tuple(None if a is None else (a.shape, a.dtype.str, a.tobytes()) for a in arrays)


def _scratch_for(plan: Plan, key: tuple, nthreads: int, dtype) -> np.ndarray:
    """The per-thread scratch of a launch. A launch identical to an earlier one (same plan,
    mode, sizes, dtype and thread count, from the same Python thread) reuses that one's:
    the kernel leaves a scratch as the next plane of a launch finds it (its zero padding never
    written), so the next launch may find it so too; a fresh one is zeroed memory (5 us for a
    38 px plane, 0.1 ms at 278 px). Kept: the most recently used, within ``SCRATCH_BUDGET``
    bytes in all and none over a quarter of it."""
    global _scratch_bytes
    key = (threading.get_ident(), nthreads, np.dtype(dtype), *key)
    with _SCRATCH_LOCK:
        hit = _SCRATCH.get(key)
        if hit is not None and hit[0] is plan:
            _SCRATCH.move_to_end(key)
            return hit[1]
        scr = scratch(nthreads, plan.size, dtype)
        if hit is not None:
            _scratch_bytes -= _SCRATCH.pop(key)[1].nbytes
        if scr.nbytes <= SCRATCH_BUDGET // 4:  # (a huge plane's scratch is not kept)
            _SCRATCH[key] = (plan, scr)
            _scratch_bytes += scr.nbytes
            while _scratch_bytes > SCRATCH_BUDGET:
                _scratch_bytes -= _SCRATCH.popitem(last=False)[1][1].nbytes
        return scr


SERIAL_WORK = 1 << 17  # scratch samples a launch touches, below which it runs on one thread


def launch_threads(g: Launch, nplanes: int) -> int:
    """How many threads a launch of ``g`` on ``nplanes`` planes runs on: one where its work (the
    scratch samples its groups touch, ≈ 1 ns each) is too small to pay for waking a second
    thread (on a machine with more busy threads than cores, waiting for one that is not
    scheduled cost a 0.1 ms call 5 ms), else no more than it has groups (the parallel loop's
    unit: a one-plane launch, mono audio, waited for a thread with nothing to do)."""
    groups = -(-nplanes // g.rows)
    if g.plan.size * groups < SERIAL_WORK:
        return 1
    return max(1, min(g.nthreads, groups))


def launch(mode, x, y, g: Launch, prm, *, xf=None, bias=None, nchan=1, mask=None, save=False,
           act=0, pa=None, pb=None, dpar=None):
    """:func:`plane_kernel` of ``mode`` on the planes ``x [P, ·]`` into ``y [P, ·]`` with the
    plan, taps and dims of ``g`` (from :func:`prepared`; its plan is for ``g.rows`` rows): the
    arguments a mode does not use default to shared constants (no mode writes them), and each
    thread gets a zeroed scratch (:func:`_scratch_for`) and bytes for branch codes. Every entry
    point launches through here: a small call's Python costs more than its arithmetic. A launch
    on fewer threads than the plan was made for (:func:`launch_threads`) uses it as it is."""
    empty = _EMPTY[x.dtype]
    plan, nthreads = g.plan, g.nthreads
    gfin, gfmid, jr = g.recompute or (plan.gin, plan.gmid, plan.jr)
    args = (
        mode, x, y, x if xf is None else xf, empty if bias is None else bias, nchan,
        _NO_MASK if mask is None else mask, save, g.dims, g.rows, plan.gin, plan.gmid,
        plan.gout, gfin, gfmid, plan.jobs, plan.toff, g.tcoef, jr, act, prm,
        empty if pa is None else pa, empty if pb is None else pb,
        _NO_DPAR if dpar is None else dpar,
        _scratch_for(plan, (mode, g.dims, g.rows), nthreads, x.dtype),
        np.zeros((nthreads, 4 * g.nq + 32), np.uint8), runner_address(x.dtype),
    )
    threads = launch_threads(g, x.shape[0])
    current = numba.get_num_threads()
    if threads == current:
        _run_kernel(args)
        return
    numba.set_num_threads(threads)  # (per calling thread: other Python threads keep theirs)
    try:
        _run_kernel(args)
    finally:
        numba.set_num_threads(current)


_LAUNCH_LOCK = threading.Lock()
_serialize: list[bool] = []  # (memo: whether launches must take turns, known after the first)


def _pool_lost_in_fork() -> bool:
    """Whether numba's threading layer has started in this process on a pool that does not
    survive a fork: GNU OpenMP (numba kills (SIGTERM) a forked child's parallel launch) or
    numba's own 'workqueue' (its threads are gone in the child)."""
    try:
        from numba.np.ufunc import parallel

        if not parallel._is_initialized:
            return False
        layer = numba.threading_layer()
        if layer == "workqueue":
            return True
        if layer != "omp":
            return False
        from numba.np.ufunc import omppool  # type: ignore[attr-defined]

        return omppool.openmp_vendor == "GNU"
    except Exception:  # (numba's internals moved: assume the unsafe case, run serially)
        return True


_forked_from_openmp = False  # (or from any pool lost in a fork)


def _note_fork() -> None:
    """In a forked child: launch serially if the parent's pool is gone, and start with fresh
    locks (a fork taken while another thread held one would leave it held for good)."""
    global _forked_from_openmp, _LAUNCH_LOCK, _SCRATCH_LOCK
    _forked_from_openmp = _forked_from_openmp or _pool_lost_in_fork()
    _LAUNCH_LOCK = threading.Lock()
    _SCRATCH_LOCK = threading.Lock()


# A DataLoader worker (forked) whose parent ran a numba op must not launch in parallel.
if hasattr(os, "register_at_fork"):  # (POSIX; Windows has no fork)
    os.register_at_fork(after_in_child=_note_fork)

_local = threading.local()


@contextlib.contextmanager
def serial_launches() -> Iterator[None]:
    """Within it, this Python thread's launches run :func:`plane_kernel_serial` (to compile it
    ahead of time, and for tests that compare the two)."""
    before = getattr(_local, "serial", False)
    _local.serial = True
    try:
        yield
    finally:
        _local.serial = before


def _run_kernel(args: tuple) -> None:
    """:func:`plane_kernel` on ``args``, one launch at a time where numba's threading layer
    needs that. Numba's 'omp' and 'tbb' layers take launches from several Python threads at
    once; its fallback 'workqueue' layer (chosen where neither OpenMP nor TBB is found: pip's
    numba on macOS) aborts the process on a concurrent launch, so there the launches queue on
    a lock. The layer is known only after the first launch, which therefore takes the lock.

    In a process forked from one whose GNU OpenMP pool had started (a DataLoader worker of a
    process that ran a numba op) a parallel launch would be killed: :func:`plane_kernel_serial`
    runs instead, in the calling thread (compiled on its first use there).

    A cached kernel numba cannot read (a truncated or corrupted file) is dropped and compiled
    again, once."""
    try:
        _launch(args)
    except Exception as exc:
        if not recover_from_corrupt_cache(exc):
            raise
        _launch(args)


def _launch(args: tuple) -> None:
    if _forked_from_openmp or getattr(_local, "serial", False):
        plane_kernel_serial(*args)
        return
    if _serialize and not _serialize[0]:
        plane_kernel(*args)
        return
    with _LAUNCH_LOCK:
        plane_kernel(*args)
        if not _serialize:
            _serialize.append(numba.threading_layer() == "workqueue")
