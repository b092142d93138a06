"""Planning (plain Python, cached): polyphase layouts, buffer geometry and the job lists.

Every stage along one axis is ``y[o] = Σ_k f[k] · xp[o·d + k]`` (``xp``: the input zero-inserted
by ``u`` and padded by ``p0`` in front), i.e. the correlation-form upfirdn. Outputs are split into
``Q`` classes ``o = Q·m + c``: inside a class only the taps ``k ≡ p0 − c·d (mod u)`` meet real
samples, and they meet input samples ``n = Φ·m + e_j`` with ``Φ = Q·d/u``. Storing the input as
``Φ`` phases (``n % Φ``) and the output as ``Q`` phases makes every tap a constant offset: a whole
output phase plane — all its rows at once — is one long gather-sum
``out[i] = Σ_j g_j · in[off_j + i]`` (a *job*). Inserted zeros are never multiplied, and there is
one inner loop per job, not one per row.

Chains: the forward of the fused filtered activation keeps ``L = lcm(up, down)`` phases per axis in
its activation buffer (the up stage writes ``L`` classes, the down stage reads them as ``L``
phases); the backward runs the transposed stages (reversed filter, ``up' = down``, ``down' = up``,
``p0' = K − 1 − p0``) through the same kind of buffer.

Buffers are sets of phase planes ``[rows, stride]`` (one common stride per kernel) inside one
per-thread scratch array; positions that hold no sample are zero padding. A stage that reads
outside its input reads those zeros, so no loop has a bounds check or a border case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

ALIGN = 16  # row stride granularity, in samples (64 bytes of float32)


def count(length: int, phases: int, f: int) -> int:
    """Number of samples ``n < length`` with ``n % phases == f``."""
    return (length - f + phases - 1) // phases if f < length else 0


class Axis:
    """The layouts of one axis along a chain of stages, and each stage's tap table."""

    def __init__(self, length: int, phases: int):
        # per layout: [phases, length, lowest position read, one past the highest]
        self.lay = [[phases, length, 0, count(length, phases, 0)]]
        self.stages: list[list[tuple[int, list[tuple[int, int, int]]]]] = []

    def add(self, k_taps: int, u: int, d: int, p0: int, lout: int, q: int) -> int:
        """Append a stage producing ``lout`` samples in ``q`` phases; returns its layout index."""
        ph_in = self.lay[-1][0]
        if (q * d) % u or q * d // u != ph_in:
            raise AssertionError("inconsistent polyphase layout")  # a planning bug, not user input
        lo, hi = self.lay[-1][2], self.lay[-1][3]
        classes = []
        for c in range(q):
            mc = count(lout, q, c)
            kc = (p0 - c * d) % u
            ec = (c * d + kc - p0) // u
            taps = []
            for j, k in enumerate(range(kc, k_taps, u)):
                e = ec + j
                taps.append((k, e % ph_in, e // ph_in))
                if mc:
                    lo = min(lo, e // ph_in)
                    hi = max(hi, e // ph_in + mc)
            classes.append((mc, taps))
        self.lay[-1][2:] = [lo, hi]
        self.lay.append([q, lout, 0, count(lout, q, 0)])
        self.stages.append(classes)
        return len(self.lay) - 1

    def phases(self, i: int) -> int:
        return self.lay[i][0]

    def length(self, i: int) -> int:
        return self.lay[i][1]

    def t0(self, i: int) -> int:
        """Position of sample 0 is ``−t0``: room for the zero padding that readers reach into."""
        return min(0, self.lay[i][2])

    def npos(self, i: int) -> int:
        return self.lay[i][3] - self.t0(i)


@dataclass
class Plan:
    geoms: list  # per buffer: (base, phy, phx, rows, stride, t0y, t0x)
    jobs: np.ndarray  # [n_jobs, 4]: o0, n, first tap, n taps
    toff: np.ndarray  # [n_taps] input offsets
    tidx: np.ndarray  # [n_taps] index into the concatenated filter vector
    marks: list  # job index at each mark (and at the end)
    size: int  # scratch elements per thread
    gin: tuple  # geometry of the input buffer
    gmid: tuple  # geometry of the marked (activation) buffer, or of the input
    gout: tuple  # geometry of the output buffer

    @cached_property
    def jr(self) -> np.ndarray:
        """The kernels' job-range marks: the end of the jobs before the activation, the end of
        all (see :mod:`._kernel`)."""
        return np.array([self.marks[0], self.jobs.shape[0], 0, 0], np.int64)


class Builder:
    """Collects buffers and stages of one kernel, then lays them out in a scratch array."""

    def __init__(self, ax: Axis, ay: Axis):
        self.ax, self.ay = ax, ay
        self.bufs: list[tuple[int, int]] = []  # (y layout, x layout)
        self.ops: list[tuple] = []

    def buffer(self, iy: int, ix: int) -> int:
        self.bufs.append((iy, ix))
        return len(self.bufs) - 1

    def hstage(self, bin_: int, bout: int, sx: int, cbase: int) -> None:
        self.ops.append(("h", bin_, bout, sx, cbase))

    def vstage(self, bin_: int, bout: int, sy: int, cbase: int) -> None:
        self.ops.append(("v", bin_, bout, sy, cbase))

    def fstage(self, bin_: int, bout: int, sy: int, sx: int, cbase: int, kw: int) -> None:
        self.ops.append(("f", bin_, bout, sy, sx, cbase, kw))

    def mark(self) -> None:
        self.ops.append(("mark",))

    def build(self, src: int, out: int, mid: int | None = None) -> Plan:
        ax, ay = self.ax, self.ay
        # rows start on 64-byte boundaries (float32), so the vertical stages' loads are as aligned
        # as their output, and the activation can run whole vectors to the end of a row
        stride = -(-max(ax.npos(ix) for _, ix in self.bufs) // ALIGN) * ALIGN
        geoms, base = [], 0
        for iy, ix in self.bufs:
            rows = ay.npos(iy)
            geoms.append((base, ay.phases(iy), ax.phases(ix), rows, stride, ay.t0(iy), ax.t0(ix)))
            base += ay.phases(iy) * ax.phases(ix) * rows * stride
        jobs: list[tuple[int, int, int, int]] = []
        toff: list[int] = []
        tidx: list[int] = []
        marks = []

        def job(o0, n, taps):
            jobs.append((o0, n, len(toff), len(taps)))
            for off, ci in taps:
                toff.append(off)
                tidx.append(ci)

        for op in self.ops:
            if op[0] == "mark":
                marks.append(len(jobs))
                continue
            gi, go = geoms[op[1]], geoms[op[2]]
            bi, phyi, phxi, rowsi, _, t0yi, t0xi = gi
            bo, _, phxo, rowso, _, t0yo, t0xo = go
            psi, pso = rowsi * stride, rowso * stride
            if op[0] == "h":  # along x, row by row: the rows are the input buffer's
                _, _, _, sx, cbase = op
                ly = ay.length(self.bufs[op[1]][0])
                for fy in range(phyi):
                    nrows = count(ly, phyi, fy)
                    if nrows == 0:
                        continue
                    r0 = -t0yi
                    for c, (mc, taps) in enumerate(ax.stages[sx]):
                        if mc == 0:
                            continue
                        o0 = bo + (fy * phxo + c) * pso + r0 * stride - t0xo
                        job(
                            o0,
                            (nrows - 1) * stride + mc,
                            [
                                (bi + (fy * phxi + rho) * psi + r0 * stride + dlt - t0xi, cbase + k)
                                for k, rho, dlt in taps
                            ],
                        )
            elif op[0] == "v":  # along y: whole rows
                _, _, _, sy, cbase = op
                lx = ax.length(self.bufs[op[1]][1])
                for fx in range(phxi):
                    if count(lx, phxi, fx) == 0:
                        continue
                    for c, (mc, taps) in enumerate(ay.stages[sy]):
                        if mc == 0:
                            continue
                        o0 = bo + (c * phxo + fx) * pso - t0yo * stride
                        job(
                            o0,
                            mc * stride,
                            [
                                (bi + (rho * phxi + fx) * psi + (dlt - t0yi) * stride, cbase + k)
                                for k, rho, dlt in taps
                            ],
                        )
            else:  # full 2-D filter: every (y tap, x tap) pair is one offset
                _, _, _, sy, sx, cbase, kw = op
                for cy, (my, ytaps) in enumerate(ay.stages[sy]):
                    for cx, (mx, xtaps) in enumerate(ax.stages[sx]):
                        if my == 0 or mx == 0:
                            continue
                        o0 = bo + (cy * phxo + cx) * pso - t0yo * stride - t0xo
                        job(
                            o0,
                            (my - 1) * stride + mx,
                            [
                                (
                                    bi + (ry * phxi + rx) * psi + (dy - t0yi) * stride + dx - t0xi,
                                    cbase + ky * kw + kx,
                                )
                                for ky, ry, dy in ytaps
                                for kx, rx, dx in xtaps
                            ],
                        )
        marks.append(len(jobs))
        size = base + stride  # one spare row: long reads never leave the array
        return Plan(
            geoms=geoms,
            jobs=np.array(jobs, np.int64).reshape(-1, 4),
            toff=np.array(toff, np.int64),
            tidx=np.array(tidx, np.int64),
            marks=marks,
            size=size,
            gin=geoms[src],
            gmid=geoms[src if mid is None else mid],
            gout=geoms[out],
        )


def scratch(nthreads: int, size: int, dtype) -> np.ndarray:
    """Zeroed per-thread scratch ``[nthreads, size]`` whose rows start on 64-byte boundaries."""
    itemsize = np.dtype(dtype).itemsize
    size = -(-size // ALIGN) * ALIGN
    raw = np.zeros(nthreads * size + 64 // itemsize, dtype)
    skip = (-raw.ctypes.data % 64) // itemsize
    return raw[skip : skip + nthreads * size].reshape(nthreads, size)


def lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


SKIP_IDENTITY_Y = True  # (False: plan identity y stages as one-tap copies, for tests)


def y_moves_nothing(kh: int, up: tuple, down: tuple, pad: tuple) -> bool:
    """One y tap, y factors 1, no y padding: the y stage only scales each row (1-D signals),
    so rows never mix."""
    return kh == 1 and up[1] == down[1] == 1 and pad[2] == pad[3] == 0


def identity_y(kh: int, up: tuple, down: tuple, pad: tuple, fy) -> bool:
    """The y stage is the identity (:func:`y_moves_nothing`, its tap ``fy[0]`` exactly 1); a
    plan with ``skip_y`` then has no y stage at all (not even a copy)."""
    return SKIP_IDENTITY_Y and y_moves_nothing(kh, up, down, pad) and float(fy[0]) == 1.0


@lru_cache(maxsize=256)
def plan_upfirdn(h, w, kh, kw, full, up, down, pad, skip_y=False) -> tuple[Plan, int, int]:
    """Plan of a plain upfirdn: staged input → (x stage, y stage | 2-D stage) → output.

    Coefficient indices refer to ``concat(fx, fy)`` (separable) or ``f2d.ravel()`` (full).
    ``skip_y``: the y stage is the identity (:func:`identity_y`) and is left out.
    Returns ``(plan, ho, wo)``; the plan's buffers are [input, …, output].
    """
    (ux, uy), (dx, dy), (px0, px1, py0, py1) = up, down, pad
    wo = (w * ux + px0 + px1 - kw) // dx + 1
    ho = (h * uy + py0 + py1 - kh) // dy + 1
    gx, gy = math.gcd(ux, dx), math.gcd(uy, dy)
    ax, ay = Axis(w, dx // gx), Axis(h, dy // gy)
    lx = ax.add(kw, ux, dx, px0, wo, ux // gx)
    b = Builder(ax, ay)
    src = b.buffer(0, 0)
    if skip_y and not full:
        out = b.buffer(0, lx)
        b.hstage(src, out, 0, 0)
        return b.build(src, out), ho, wo
    ly = ay.add(kh, uy, dy, py0, ho, uy // gy)
    if full:
        out = b.buffer(ly, lx)
        b.fstage(src, out, 0, 0, 0, kw)
    else:
        # multiply-adds: a polyphase stage costs about K/up per output
        x_first = h * wo * kw / ux + ho * wo * kh / uy
        y_first = ho * w * kh / uy + ho * wo * kw / ux
        if x_first <= y_first:
            mid = b.buffer(0, lx)
            out = b.buffer(ly, lx)
            b.hstage(src, mid, 0, 0)
            b.vstage(mid, out, 0, kw)
        else:
            mid = b.buffer(ly, 0)
            out = b.buffer(ly, lx)
            b.vstage(src, mid, 0, kw)
            b.hstage(mid, out, 0, 0)
    return b.build(src, out), ho, wo


def read_extent(lo: int, k: int, d: int) -> int:
    """Samples of the up-sampled signal that a down stage of ``k`` taps and factor ``d`` reads."""
    return (lo - 1) * d + k


@lru_cache(maxsize=256)
def plan_filtered(
    h, w, ku, kd, fu_full, fd_full, up, down, pad, backward, full=False, skip_y=False
) -> tuple:
    """Plan of the fused filtered activation (forward or backward) on one ``[h, w]`` plane.

    ``ku = (kuw, kuh)``, ``kd = (kdw, kdh)``. Coefficient indices refer to
    ``concat(fu parts, fd parts)`` with parts ``(fx, fy)`` (separable) or ``f2d.ravel()``; the
    backward uses the reversed filters in the same order. Returns ``(plan, hr, wr, ho, wo)``
    where ``[hr, wr]`` is the part of the up-sampled image that the down stage reads; the plan's
    buffers are [input, …, activation buffer, …, output] and ``plan.marks[0]`` ends the jobs that
    run before the activation. With ``full``, ``[hr, wr]`` is the whole up-sampled image (its
    padding by the down stage is then written around it, see :mod:`._smooth`). ``skip_y``: both
    filters' y stages are the identity (:func:`identity_y`) and are left out.
    """
    (ux, uy), (dx, dy), (px0, px1, py0, py1) = up, down, pad
    (kuw, kuh), (kdw, kdh) = ku, kd
    hu = h * uy + py0 + py1 - kuh + 1
    wu = w * ux + px0 + px1 - kuw + 1
    ho = (hu - kdh) // dy + 1
    wo = (wu - kdw) // dx + 1
    hr, wr = (hu, wu) if full else (read_extent(ho, kdh, dy), read_extent(wo, kdw, dx))
    lx, ly = lcm(ux, dx), lcm(uy, dy)
    nu = kuw + kuh if not fu_full else kuw * kuh  # coefficient block sizes
    if skip_y:
        if fu_full or fd_full or (kuh, kdh, uy, dy, py0, py1) != (1, 1, 1, 1, 0, 0):
            raise AssertionError("skip_y needs identity y stages")  # a caller's bug
        # each stage along x alone; every buffer keeps the input's rows (one y phase)
        if not backward:
            ax, ay = Axis(w, lx // ux), Axis(h, 1)
            ux1 = ax.add(kuw, ux, 1, px0, wr, lx)
            dx1 = ax.add(kdw, 1, dx, 0, wo, lx // dx)
            b = Builder(ax, ay)
            src = b.buffer(0, 0)
            ubuf = b.buffer(0, ux1)
            b.hstage(src, ubuf, 0, 0)
            b.mark()
            out = b.buffer(0, dx1)
            b.hstage(ubuf, out, 1, nu)
        else:
            ax, ay = Axis(wo, lx // dx), Axis(ho, 1)
            ux1 = ax.add(kdw, dx, 1, kdw - 1, wr, lx)
            dx1 = ax.add(kuw, 1, ux, kuw - 1 - px0, w, lx // ux)
            b = Builder(ax, ay)
            src = b.buffer(0, 0)
            ubuf = b.buffer(0, ux1)
            b.hstage(src, ubuf, 0, nu)
            b.mark()
            out = b.buffer(0, dx1)
            b.hstage(ubuf, out, 1, 0)
        return b.build(src, out, ubuf), hr, wr, ho, wo
    if not backward:
        ax, ay = Axis(w, lx // ux), Axis(h, ly // uy)
        ux1 = ax.add(kuw, ux, 1, px0, wr, lx)
        uy1 = ay.add(kuh, uy, 1, py0, hr, ly)
        dx1 = ax.add(kdw, 1, dx, 0, wo, lx // dx)
        dy1 = ay.add(kdh, 1, dy, 0, ho, ly // dy)
        b = Builder(ax, ay)
        src = b.buffer(0, 0)
        ubuf = b.buffer(uy1, ux1)
        if fu_full:
            b.fstage(src, ubuf, 0, 0, 0, kuw)
        else:
            t1 = b.buffer(0, ux1)
            b.hstage(src, t1, 0, 0)
            b.vstage(t1, ubuf, 0, kuw)
        b.mark()
        out = b.buffer(dy1, dx1)
        if fd_full:
            b.fstage(ubuf, out, 1, 1, nu, kdw)
        else:
            d1 = b.buffer(uy1, dx1)
            b.hstage(ubuf, d1, 1, nu)
            b.vstage(d1, out, 1, nu + kdw)
    else:
        # transposed stages: reversed filter, up' = d, down' = u, p0' = K − 1 − p0
        ax, ay = Axis(wo, lx // dx), Axis(ho, ly // dy)
        ux1 = ax.add(kdw, dx, 1, kdw - 1, wr, lx)
        uy1 = ay.add(kdh, dy, 1, kdh - 1, hr, ly)
        dx1 = ax.add(kuw, 1, ux, kuw - 1 - px0, w, lx // ux)
        dy1 = ay.add(kuh, 1, uy, kuh - 1 - py0, h, ly // uy)
        b = Builder(ax, ay)
        src = b.buffer(0, 0)
        ubuf = b.buffer(uy1, ux1)
        if fd_full:
            b.fstage(src, ubuf, 0, 0, nu, kdw)
        else:
            t1 = b.buffer(0, ux1)
            b.hstage(src, t1, 0, nu)
            b.vstage(t1, ubuf, 0, nu + kdw)
        b.mark()
        out = b.buffer(dy1, dx1)
        if fu_full:
            b.fstage(ubuf, out, 1, 1, 0, kuw)
        else:
            t2 = b.buffer(dy1, ux1)
            b.vstage(ubuf, t2, 1, kuw)
            b.hstage(t2, out, 1, 0)
    return b.build(src, out, ubuf), hr, wr, ho, wo


def _shift(geom: tuple, by: int) -> tuple:
    return (geom[0] + by, *geom[1:])


@lru_cache(maxsize=256)
def plan_recompute(h, w, ku, kd, fu_full, fd_full, up, down, pad, full, skip_y=False) -> tuple:
    """The backward plan followed, in the same scratch, by the forward plan's up-stage jobs (which
    recompute ``u`` from ``x``). Arguments as :func:`plan_filtered`.

    Returns ``(plan, jr, gfin, gfmid, tidx_f, hr, wr, ho, wo)``: the backward plan with the
    forward jobs appended (``plan.size`` covers both), the job marks
    ``jr = (end of T_down, end of backward, start and end of the forward up stage)``, the
    forward input and activation geometries, and the forward jobs' coefficient indices (into the
    forward coefficient vector; the backward's come first in ``tcoef``).
    """
    args = (h, w, ku, kd, fu_full, fd_full, up, down, pad)
    pb, hr, wr, ho, wo = plan_filtered(*args, True, full, skip_y)
    pf = plan_filtered(*args, False, full, skip_y)[0]
    shift = -(-pb.size // ALIGN) * ALIGN
    nf = pf.marks[0]
    jobs_f = pf.jobs[:nf].copy()
    ntap_f = int(jobs_f[-1, 2] + jobs_f[-1, 3]) if nf else 0
    jobs_f[:, 0] += shift
    jobs_f[:, 2] += pb.toff.shape[0]
    nb = pb.jobs.shape[0]
    plan = Plan(
        geoms=pb.geoms,
        jobs=np.concatenate([pb.jobs, jobs_f]),
        toff=np.concatenate([pb.toff, pf.toff[:ntap_f] + shift]),
        tidx=pb.tidx,
        marks=pb.marks,
        size=shift + pf.size,
        gin=pb.gin,
        gmid=pb.gmid,
        gout=pb.gout,
    )
    jr = np.array([pb.marks[0], nb, nb, nb + nf], np.int64)
    return plan, jr, _shift(pf.gin, shift), _shift(pf.gmid, shift), pf.tidx[:ntap_f], hr, wr, ho, wo
