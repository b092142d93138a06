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

import threading
from collections import OrderedDict

import numba
import numpy as np
from numba import njit, prange

from bandlimit.ops._numba._core import (
    ACT_LRELU,
    PJIT,
    act_bwd,
    act_fwd,
    gather_out,
    pack_codes,
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
    extend_act,
    fold_ext,
    gather_at,
    stage_at,
)

MODE_UPFIRDN = 0
MODE_FORWARD = 1
MODE_BACKWARD = 2
MODE_RECOMPUTE = 3


@njit(**PJIT)
def plane_kernel(
    mode,
    x,
    y,
    xf,
    bias,
    nchan,
    mask,
    save,
    dims,
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
):
    """Run the ``mode`` pipeline on every plane ``x[p]`` (flat ``[h·w]``) into ``y[p]``.

    ``prm``: forward ``(gain, alpha, clamp, 0)``, backward ``(gain, gain·slope, 0, 0)``,
    recompute ``(gain, alpha, clamp, 0)``. ``pa``, ``pb``: per-channel snake α, β (plane ``p``
    uses channel ``p % nchan``) or empty. ``dpar [P, 2]`` (float64): the recompute mode's
    per-plane ``Σ dy·∂y/∂α``, ``Σ dy·∂y/∂β``. ``xf``: the forward input (recompute mode).
    """
    h, w, ho, wo, hr, wr, ry0, rx0, rh, rw, emode, hf, wf, he, we, uy0, ux0, umode = dims
    nj = jr[1]
    nq = mask.shape[1]
    zero = prm[3]
    for p in prange(x.shape[0]):
        tid = numba.get_thread_id()
        buf = scr[tid]
        codes = cscr[tid]
        if mode == MODE_UPFIRDN:
            stage_in(x[p], 0, h, w, zero, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, nj)
            gather_out(buf, gout, ho, wo, y[p], 0)
            continue
        if mode == MODE_BACKWARD:
            unpack_codes(mask[p], codes, nq)
            stage_in(x[p], 0, h, w, zero, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
            act_bwd(buf, gmid, hr, wr, codes, prm[0], prm[1], zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
            gather_out(buf, gout, ho, wo, y[p], 0)
            continue
        # per-plane activation parameters: α (lrelu slope or snake α) and 1/(α or β + ε)
        al = pa[p % nchan] if pa.shape[0] > 0 else prm[1]
        inv = prm[3]
        if act == ACT_SNAKE:
            inv = 1 / (al + SNAKE_EPS)
        elif act == ACT_SNAKEBETA:
            inv = 1 / (pb[p % nchan] + SNAKE_EPS)
        b = bias[p % nchan] if bias.shape[0] > 0 else zero
        if mode == MODE_FORWARD:
            if umode == EXT_NONE:
                stage_in(x[p], 0, h, w, b, buf, gin)
            else:
                stage_at(x[p], h, w, b, buf, gin, uy0, ux0)
                extend_act(buf, gin, he, we, uy0, ux0, h, w, umode, zero)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
            if act <= ACT_LRELU:
                act_fwd(buf, gmid, hr, wr, codes, save, act, prm[0], al, prm[2], zero)
                if save:
                    pack_codes(codes, mask[p], nq)
            else:
                act_fwd_any(buf, gmid, hr, wr, ry0, rx0, rh, rw, act, prm[0], al, inv, prm[2])
            if emode != EXT_NONE:
                extend_act(buf, gmid, hr, wr, ry0, rx0, rh, rw, emode, zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
        else:
            if umode == EXT_NONE:
                stage_in(xf[p], 0, hf, wf, b, buf, gfin)
            else:
                stage_at(xf[p], hf, wf, b, buf, gfin, uy0, ux0)
                extend_act(buf, gfin, he, we, uy0, ux0, hf, wf, umode, zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jr[2], jr[3])
            stage_in(x[p], 0, h, w, zero, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jr[0])
            if emode != EXT_NONE:
                fold_ext(buf, gmid, hr, wr, ry0, rx0, rh, rw, emode)
            act_bwd_any(
                buf,
                gmid,
                buf,
                gfmid,
                hr,
                wr,
                ry0,
                rx0,
                rh,
                rw,
                act,
                prm[0],
                al,
                inv,
                prm[2],
                dpar[p],
            )
            run_jobs(runner, buf, jobs, toff, tcoef, jr[0], nj)
            if umode != EXT_NONE:
                # the gradient of the extended input, folded back onto the input's samples
                fold_ext(buf, gout, he, we, uy0, ux0, ho, wo, umode)
                gather_at(buf, gout, ho, wo, y[p], uy0, ux0)
                continue
        gather_out(buf, gout, ho, wo, y[p], 0)


_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0)}
_NO_MASK = np.zeros((1, 1), np.uint8)  # read by no mode that is not given a mask
_NO_DPAR = np.zeros((1, 2))  # written by MODE_RECOMPUTE only

SCRATCH_BUDGET = 64 << 20  # bytes of scratch kept for the next identical launch
_SCRATCH: OrderedDict[tuple, tuple[Plan, np.ndarray]] = OrderedDict()
_scratch_bytes = 0
_SCRATCH_LOCK = threading.Lock()


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


def launch(mode, x, y, plan: Plan, tcoef, dims, prm, *, xf=None, bias=None, nchan=1,
           mask=None, save=False, gfin=None, gfmid=None, jr=None, act=0, pa=None, pb=None,
           dpar=None, codes=32):
    """:func:`plane_kernel` of ``mode`` on the planes ``x [P, ·]`` into ``y [P, ·]`` with
    ``plan``'s buffers and jobs: the arguments a mode does not use default to shared constants
    (no mode writes them), and each thread gets a zeroed scratch (:func:`_scratch_for`) and
    ``codes`` bytes for branch codes. Every entry point launches through here: a small call's
    Python costs more than its arithmetic."""
    empty = _EMPTY[x.dtype]
    nthreads = numba.get_num_threads()
    plane_kernel(
        mode, x, y, x if xf is None else xf, empty if bias is None else bias, nchan,
        _NO_MASK if mask is None else mask, save, dims, plan.gin, plan.gmid, plan.gout,
        plan.gin if gfin is None else gfin, plan.gmid if gfmid is None else gfmid, plan.jobs,
        plan.toff, tcoef, plan.jr if jr is None else jr, act, prm,
        empty if pa is None else pa, empty if pb is None else pb,
        _NO_DPAR if dpar is None else dpar, _scratch_for(plan, (mode, dims), nthreads, x.dtype),
        np.zeros((nthreads, codes), np.uint8), runner_address(x.dtype),
    )
