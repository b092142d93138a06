"""The one parallel kernel behind every entry point (one compilation per dtype).

``mode`` selects the per-plane pipeline; everything else is data (see :mod:`._plan`):

* ``MODE_UPFIRDN``: stage the input plane, run all jobs, gather the output plane.
* ``MODE_FORWARD``: stage ``x + b``, run the up-stage jobs, activation (+ branch codes, packed into
  the mask), run the down-stage jobs, gather ``y``.
* ``MODE_BACKWARD``: unpack the codes, stage ``dy``, run the transposed down-stage jobs, multiply by
  the activation's derivative (zeroing every non-sample position), run the transposed up-stage
  jobs, gather ``dx``.

Sharing one kernel (rather than one per entry point) keeps the cold compile time of the test suite
down: Numba compiles each parallel kernel, with every helper it calls, separately.

Smooth activations (a later addition) fit the same structure: the forward applies them in
:func:`._core.act_fwd` (per row segment, chosen outside the element loop) without saving codes,
and the backward recomputes ``u`` by running the forward plan's up-stage jobs (``0 … marks[0]``)
from ``x`` into that plan's activation buffer, then multiplies ``du`` by ``act'(u)`` sample by
sample (both buffers hold the same samples; only their zero margins differ).
"""

from __future__ import annotations

import numba
from numba import njit, prange

from bandlimit.ops._numba._core import (
    PJIT,
    act_bwd,
    act_fwd,
    gather_out,
    pack_codes,
    run_jobs,
    stage_in,
    unpack_codes,
)

MODE_UPFIRDN = 0
MODE_FORWARD = 1
MODE_BACKWARD = 2


@njit(**PJIT)
def plane_kernel(
    mode,
    x,
    y,
    bias,
    nchan,
    mask,
    save,
    dims,
    gin,
    gmid,
    gout,
    jobs,
    toff,
    tcoef,
    jmid,
    act,
    prm,
    scr,
    cscr,
    runner,
):
    """Run the ``mode`` pipeline on every plane ``x[p]`` (flat ``[h·w]``) into ``y[p]``.

    ``dims = (h, w, ho, wo, hr, wr)``: input, output and activation-buffer sample counts.
    ``prm``: forward ``(gain, alpha, clamp, 0)``, backward ``(gain, gain·slope, 0, 0)``.
    """
    h, w, ho, wo, hr, wr = dims
    nj = jobs.shape[0]
    nq = mask.shape[1]
    zero = prm[3]
    for p in prange(x.shape[0]):
        tid = numba.get_thread_id()
        buf = scr[tid]
        codes = cscr[tid]
        if mode == MODE_UPFIRDN:
            stage_in(x[p], 0, h, w, zero, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, nj)
        elif mode == MODE_FORWARD:
            b = bias[p % nchan] if bias.shape[0] > 0 else zero
            stage_in(x[p], 0, h, w, b, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jmid)
            act_fwd(buf, gmid, hr, wr, codes, save, act, prm[0], prm[1], prm[2], zero)
            if save:
                pack_codes(codes, mask[p], nq)
            run_jobs(runner, buf, jobs, toff, tcoef, jmid, nj)
        else:
            unpack_codes(mask[p], codes, nq)
            stage_in(x[p], 0, h, w, zero, buf, gin)
            run_jobs(runner, buf, jobs, toff, tcoef, 0, jmid)
            act_bwd(buf, gmid, hr, wr, codes, prm[0], prm[1], zero)
            run_jobs(runner, buf, jobs, toff, tcoef, jmid, nj)
        gather_out(buf, gout, ho, wo, y[p], 0)
