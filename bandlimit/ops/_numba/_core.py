"""Numba building blocks: the tap loops, data movement between planes and polyphase buffers, and
the activation with its branch codes.

* :func:`gsum` is the only arithmetic loop of the FIR stages: ``out[m] = Σ_j g_j · a[off_j + m]``
  over one long contiguous range (a whole phase plane, see :mod:`._plan`). It is written out for
  1…8 taps (one load per tap and one store per output element, so LLVM keeps the sum in
  registers and vectorises); longer filters add blocks of 8 taps.
* :func:`job_runner` compiles the job loop around it once per dtype as a C callback. The kernels
  call it through a function pointer, which keeps its large vectorised code out of each kernel's
  compilation; they receive its address as an integer (:func:`runner_address`): numba types a
  function argument in Python on every call (≈ 7 µs), an integer in C.

Everything is compiled with ``fastmath`` minus ``nnan``/``ninf`` (NaN and Inf propagate as in the
reference) and without bounds checks (the plans keep every access inside the scratch array).
"""

from __future__ import annotations

import hashlib
import os
import traceback
import warnings
from pathlib import Path
from typing import Literal, TypedDict

import numba
import numpy as np
from llvmlite import ir
from numba import carray, cfunc, types
from numba.extending import intrinsic, register_jitable


def _cache_probe() -> int:
    return 0


def _cache_dir() -> Path | None:
    """Where numba caches this package's kernels: beside the sources if writable, else a
    per-user directory, or ``NUMBA_CACHE_DIR``'s (the same for every module of this folder).
    None where it finds none (a read-only install with no writable home: serverless functions,
    locked-down containers), where ``@njit(cache=True)`` raises at decoration time: at
    ``import bandlimit``."""
    try:
        probe = numba.njit(cache=True)(_cache_probe)  # (the same locator search; compiles nothing)
    except RuntimeError:
        return None
    where = probe._cache.cache_path  # type: ignore[attr-defined]
    return Path(where) if where else None


def _drop_stale_disk_cache(cache: Path | None) -> None:
    """Numba keys a cached kernel on its own source file only (path, mtime, size), but these
    kernels compile in helpers from every module of this package: after a change to a helper
    module (an edit, an upgrade that leaves the kernel's file as it was), the old machine code
    would load. So this package's cache is dropped whenever any module here changed (one hash
    of them all, stored with the cache; ≈ 1 ms at import), wherever numba keeps it."""
    if cache is None:
        return
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(
        b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in sorted(here.glob("*.py")))
    ).hexdigest()
    stamp = cache / "bandlimit-numba-sources.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        drop_cached_kernels(cache)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:  # read-only: numba cannot write a cache there either
        pass


def drop_cached_kernels(cache: Path) -> None:
    """Delete this package's cached kernels (numba's index and data files) in ``cache``."""
    for old in cache.glob("*.nb[ic]"):
        old.unlink(missing_ok=True)


_CACHE_READS = {"load_overload", "_load_overload", "load", "_load_index", "_load_data",
                "rebuild"}  # numba.core.caching's functions that read a cached kernel


def read_from_numba_cache(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while numba read a cached kernel (a truncated or corrupted file
    gives an UnpicklingError, an EOFError or LLVM's bitcode errors), not while it wrote one (a
    full disk: dropping the cache would not help)."""
    frames = [f.name for f in traceback.extract_tb(exc.__traceback__)
              if "numba/core/caching" in f.filename.replace("\\", "/")]  # fmt: skip
    return (any(name in _CACHE_READS for name in frames)
            and not any(name.lstrip("_").startswith("save") for name in frames))  # fmt: skip


def recover_from_corrupt_cache(exc: BaseException) -> bool:
    """After ``exc``: if numba failed reading this package's cache, drop the cache (the caller
    then retries: numba recompiles) and say so; False for any other error. A cache that cannot
    be dropped is a RuntimeError naming the directory."""
    if CACHE_DIR is None or not read_from_numba_cache(exc):
        return False
    why = f"{type(exc).__name__}: {str(exc)[:200]}"
    try:
        drop_cached_kernels(CACHE_DIR)
    except OSError as failed:
        raise RuntimeError(
            f"bandlimit: numba's cache of its kernels in {CACHE_DIR} cannot be read ({why}) "
            f"nor removed ({failed.strerror or failed}): delete the *.nbi and *.nbc files there"
        ) from exc
    warnings.warn(
        f"bandlimit: numba's cache of its kernels in {CACHE_DIR} could not be read ({why}); "
        f"removed it, the kernels compile again",
        RuntimeWarning,
        stacklevel=2,
    )
    return True


CACHE_DIR = _cache_dir()
_drop_stale_disk_cache(CACHE_DIR)
DISK_CACHE = CACHE_DIR is not None

# fastmath without nnan/ninf: sums may be reassociated and contracted to FMAs, but NaN/Inf inputs
# still produce NaN/Inf outputs exactly like the PyTorch reference.
FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}


class JitOptions(TypedDict, total=False):
    """The options of :data:`JIT` (typed, so that ``@njit(**JIT)`` type-checks)."""

    cache: bool
    nogil: bool
    fastmath: set[str]
    boundscheck: bool
    error_model: Literal["python", "numpy"]
    parallel: bool


JIT = JitOptions(
    cache=DISK_CACHE, nogil=True, fastmath=FASTMATH, boundscheck=False, error_model="numpy"
)
PJIT = JitOptions(**JIT, parallel=True)


def helper(fn):
    """Compile ``fn`` into the jitted functions that call it.

    A plain ``@njit`` callee gets one specialisation *per literal argument pattern* (a call with a
    constant ``0`` or ``False`` compiles it again), which made each kernel take 20 s to compile.
    ``register_jitable`` types calls with non-literal types first, so each helper is compiled once
    per dtype, and is cached on disk as part of the kernel that calls it.
    """
    opts = {k: v for k, v in JIT.items() if k != "cache"}
    return register_jitable(**opts)(fn)


def inline_helper(fn):
    """:func:`helper`, inlined at the Numba IR level: a short loop called once per row segment
    pays no call and no repeated loop setup."""
    opts = {k: v for k, v in JIT.items() if k != "cache"}
    return register_jitable(inline="always", **opts)(fn)


ACT_LINEAR = 0
ACT_RELU = 1
ACT_LRELU = 2
ACT_CODES = {"linear": ACT_LINEAR, "relu": ACT_RELU, "lrelu": ACT_LRELU}

# Mask codes (2 bits): the branch the activation took at one upsampled sample.
CODE_PASS = 0  # gradient × gain
CODE_NEG = 1  # gradient × gain · alpha (negative side)
CODE_CLAMP = 2  # gradient 0 (clamped)


# ------------------------------------------------------------------------------------------------
# Gather-sum blocks: o[m] (+)= Σ_j g_j · a_j[m], m < n.  (Written out so that LLVM vectorises.)


@helper
def _first(o, a, ab, offs, g, b, n):
    """``o[m] = Σ_{i<b} g[i] · a[ab + offs[i] + m]`` for ``m < n`` (1 ≤ b ≤ 8)."""
    if b == 1:
        a0 = a[ab + offs[0] :]
        g0 = g[0]
        for m in range(n):
            o[m] = g0 * a0[m]
    elif b == 2:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        g0, g1 = g[0], g[1]
        for m in range(n):
            o[m] = g0 * a0[m] + g1 * a1[m]
    elif b == 3:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        g0, g1, g2 = g[0], g[1], g[2]
        for m in range(n):
            o[m] = g0 * a0[m] + g1 * a1[m] + g2 * a2[m]
    elif b == 4:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        a3 = a[ab + offs[3] :]
        g0, g1, g2, g3 = g[0], g[1], g[2], g[3]
        for m in range(n):
            o[m] = g0 * a0[m] + g1 * a1[m] + g2 * a2[m] + g3 * a3[m]
    elif b == 5:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        a3 = a[ab + offs[3] :]
        a4 = a[ab + offs[4] :]
        g0, g1, g2, g3, g4 = g[0], g[1], g[2], g[3], g[4]
        for m in range(n):
            o[m] = g0 * a0[m] + g1 * a1[m] + g2 * a2[m] + g3 * a3[m] + g4 * a4[m]
    elif b == 6:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        a3 = a[ab + offs[3] :]
        a4 = a[ab + offs[4] :]
        a5 = a[ab + offs[5] :]
        g0, g1, g2, g3, g4, g5 = g[0], g[1], g[2], g[3], g[4], g[5]
        for m in range(n):
            o[m] = g0 * a0[m] + g1 * a1[m] + g2 * a2[m] + g3 * a3[m] + g4 * a4[m] + g5 * a5[m]
    elif b == 7:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        a3 = a[ab + offs[3] :]
        a4 = a[ab + offs[4] :]
        a5 = a[ab + offs[5] :]
        a6 = a[ab + offs[6] :]
        g0, g1, g2, g3, g4, g5, g6 = g[0], g[1], g[2], g[3], g[4], g[5], g[6]
        for m in range(n):
            o[m] = (
                g0 * a0[m]
                + g1 * a1[m]
                + g2 * a2[m]
                + g3 * a3[m]
                + g4 * a4[m]
                + g5 * a5[m]
                + g6 * a6[m]
            )
    else:
        a0 = a[ab + offs[0] :]
        a1 = a[ab + offs[1] :]
        a2 = a[ab + offs[2] :]
        a3 = a[ab + offs[3] :]
        a4 = a[ab + offs[4] :]
        a5 = a[ab + offs[5] :]
        a6 = a[ab + offs[6] :]
        a7 = a[ab + offs[7] :]
        g0, g1, g2, g3, g4, g5, g6, g7 = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
        for m in range(n):
            o[m] = (
                g0 * a0[m]
                + g1 * a1[m]
                + g2 * a2[m]
                + g3 * a3[m]
                + g4 * a4[m]
                + g5 * a5[m]
                + g6 * a6[m]
                + g7 * a7[m]
            )


@helper
def _more8(o, a, ab, offs, g, n):
    """``o[m] += Σ_{i<8} g[i] · a[ab + offs[i] + m]`` for ``m < n``."""
    a0 = a[ab + offs[0] :]
    a1 = a[ab + offs[1] :]
    a2 = a[ab + offs[2] :]
    a3 = a[ab + offs[3] :]
    a4 = a[ab + offs[4] :]
    a5 = a[ab + offs[5] :]
    a6 = a[ab + offs[6] :]
    a7 = a[ab + offs[7] :]
    g0, g1, g2, g3, g4, g5, g6, g7 = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
    for m in range(n):
        o[m] += (
            g0 * a0[m]
            + g1 * a1[m]
            + g2 * a2[m]
            + g3 * a3[m]
            + g4 * a4[m]
            + g5 * a5[m]
            + g6 * a6[m]
            + g7 * a7[m]
        )


@helper
def gsum(out, o0, a, ab, offs, g, nt, n):
    """``out[o0 + m] = Σ_{j<nt} g[j] · a[ab + offs[j] + m]`` for ``m < n`` (zeros if ``nt == 0``).

    The first ``nt mod 8`` (or 8) taps overwrite, further blocks of 8 accumulate.
    """
    if n <= 0:
        return
    o = out[o0 : o0 + n]
    if nt == 0:
        o[:] = 0
        return
    r = nt - ((nt - 1) >> 3 << 3)  # 1 … 8
    _first(o, a, ab, offs, g, r, n)
    for j in range(r, nt, 8):
        _more8(o, a, ab, offs[j:], g[j:], n)


# ------------------------------------------------------------------------------------------------
# Job execution: one job = one output phase plane computed as a single long gather-sum.


def _run_jobs(bufp, nbuf, jobsp, njobs, toffp, tcoefp, ntaps, j0, j1):
    """Run jobs ``j0 … j1−1`` on the scratch ``buf``: ``jobs[i] = (o0, n, ts, nt)`` means
    ``buf[o0 + m] = Σ_{t<nt} tcoef[ts+t] · buf[toff[ts+t] + m]`` for ``m < n``."""
    buf = carray(bufp, (nbuf,))
    jobs = carray(jobsp, (njobs, 4))
    toff = carray(toffp, (ntaps,))
    tcoef = carray(tcoefp, (ntaps,))
    for i in range(j0, j1):
        o0 = jobs[i, 0]
        n = jobs[i, 1]
        ts = jobs[i, 2]
        nt = jobs[i, 3]
        gsum(buf, o0, buf, 0, toff[ts : ts + nt], tcoef[ts : ts + nt], nt, n)


_RUNNERS: dict = {}
_uncached_warned = False


def _warn_if_uncached() -> None:
    global _uncached_warned
    if DISK_CACHE or _uncached_warned:
        return
    _uncached_warned = True
    from bandlimit.ops._dispatch import user_stacklevel

    given = os.environ.get("NUMBA_CACHE_DIR")
    where = (f"NUMBA_CACHE_DIR={given!r} is not writable, nor are the installed package and the "
             f"home directory" if given else
             "the installed package and the home directory are read-only")  # fmt: skip
    warnings.warn(
        f"bandlimit: numba finds no writable directory to cache its kernels in ({where}), so "
        f"they compile in every process (about 15-30 s at the first call of each dtype). Set "
        f"the environment variable NUMBA_CACHE_DIR to a writable directory to keep them (this "
        f"warning is shown once)",
        RuntimeWarning,
        stacklevel=user_stacklevel(),
    )


def job_runner(dtype: np.dtype):
    """The compiled :func:`_run_jobs` for ``dtype``: a C callback the kernels receive as argument.

    Calling it through a function pointer keeps its (large, vectorised) code out of every kernel:
    it is compiled — or loaded from the disk cache — once per dtype, on first use.
    """
    dtype = np.dtype(dtype)
    if dtype not in _RUNNERS:
        _warn_if_uncached()
        ft = numba.from_dtype(dtype)
        i64 = types.int64
        sig = types.void(
            types.CPointer(ft),
            i64,
            types.CPointer(i64),
            i64,
            types.CPointer(i64),
            types.CPointer(ft),
            i64,
            i64,
            i64,
        )
        # setdefault: a second thread compiling the same dtype keeps the first one's runner,
        # whose address may already be in use (numba's stubs omit cfunc's boundscheck option)
        try:
            runner = cfunc(sig, **JIT)(_run_jobs)  # type: ignore[misc]
        except Exception as exc:
            if not recover_from_corrupt_cache(exc):
                raise
            runner = cfunc(sig, **JIT)(_run_jobs)  # type: ignore[misc]
        _RUNNERS.setdefault(dtype, runner)
    return _RUNNERS[dtype]


def runner_address(dtype: np.dtype) -> int:
    """The address of :func:`job_runner` for ``dtype``, the ``runner`` argument of the kernels
    (which call it through :func:`call_runner`; it must match the dtype of their scratch)."""
    return job_runner(dtype).address


@intrinsic
def call_runner(typingctx, addr, bufp, nbuf, jobsp, njobs, toffp, tcoefp, ntaps, j0, j1):
    """Call the job runner at address ``addr`` (an int64) with the remaining arguments, which
    have the C types of its signature (:func:`job_runner`). The address is untyped: the
    scratch and coefficients must be of one dtype, the runner's (checked here while typing)."""
    if bufp != tcoefp or not isinstance(addr, types.Integer):
        raise numba.core.errors.TypingError(
            f"call_runner: scratch {bufp} and coefficients {tcoefp} must be of one dtype, the "
            f"address an integer (got {addr})"
        )
    sig = types.void(addr, bufp, nbuf, jobsp, njobs, toffp, tcoefp, ntaps, j0, j1)

    def codegen(context, builder, signature, args):
        params = [context.get_value_type(t) for t in signature.args[1:]]
        fn = builder.inttoptr(args[0], ir.FunctionType(ir.VoidType(), params).as_pointer())
        builder.call(fn, args[1:])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dptr(typingctx, arr):
    """Data pointer of an array, typed ``CPointer(dtype)`` (to call :func:`job_runner`)."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(arr)(context, builder, args[0]).data

    return sig, codegen


@helper
def run_jobs(runner, buf, jobs, toff, tcoef, j0, j1):
    call_runner(
        runner,
        dptr(buf),
        np.int64(buf.shape[0]),
        dptr(jobs),
        np.int64(jobs.shape[0]),
        dptr(toff),
        dptr(tcoef),
        np.int64(toff.shape[0]),
        np.int64(j0),
        np.int64(j1),
    )


# ------------------------------------------------------------------------------------------------
# Moving data between natural [h, w] planes and polyphase buffers.
#
# A buffer geometry ``geom = (base, phy, phx, rows, stride, t0y, t0x)`` stores sample (y, x) in
# phase plane (y % phy, x % phx) at row y // phy − t0y, column x // phx − t0x; plane (fy, fx)
# starts at base + (fy·phx + fx)·rows·stride.
#
# Zero padding: staging writes samples only, so a staged buffer's other positions keep the zeros
# the scratch was allocated with, for every plane. Jobs write whole row spans, which leaves
# arbitrary values between the rows' samples of their outputs, but only the up-stage transposes of
# the backward read such positions as padding, and :func:`act_bwd` zeroes them first. Rows outside
# a buffer's samples are never written.


TILE = 64  # samples per phase in a tile of the strided copies below


@helper
def stage_in(src, s0, h, w, add, buf, geom):
    """Scatter the natural plane ``src[s0 : s0 + h·w]`` (+ ``add``) into the buffer ``geom``."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x
        sr = s0 + y * w
        if phx == 1:
            dst = buf[rb : rb + w]
            sv = src[sr : sr + w]
            for i in range(w):
                dst[i] = sv[i] + add
        elif phx == 2:  # written out: the pair of strided loads vectorises as one interleaved load
            h2 = w >> 1
            e = buf[rb : rb + h2 + 1]
            o = buf[rb + psz : rb + psz + h2 + 1]
            sv = src[sr : sr + w]
            for i in range(h2):
                e[i] = sv[2 * i] + add
                o[i] = sv[2 * i + 1] + add
            if w & 1:
                e[h2] = sv[w - 1] + add
        else:
            # In tiles of TILE samples per phase: one pass per phase over the whole row would
            # read a new cache line per sample (a stride of phx), phx times over; a tile's
            # phx · TILE samples stay in cache across its phases.
            for i0 in range(0, (w + phx - 1) // phx, TILE):
                for fx in range(min(phx, w)):
                    i1 = min((w - fx + phx - 1) // phx, i0 + TILE)
                    d0 = rb + fx * psz
                    for i in range(i0, i1):
                        buf[d0 + i] = src[sr + fx + i * phx] + add


@helper
def gather_out(buf, geom, h, w, dst, d0):
    """Gather the samples of an ``[h, w]`` signal held in buffer ``geom`` into natural order."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x
        dr = d0 + y * w
        if phx == 1:
            dv = dst[dr : dr + w]
            sv = buf[rb : rb + w]
            for i in range(w):
                dv[i] = sv[i]
        elif phx == 2:
            h2 = w >> 1
            e = buf[rb : rb + h2 + 1]
            o = buf[rb + psz : rb + psz + h2 + 1]
            dv = dst[dr : dr + w]
            for i in range(h2):
                dv[2 * i] = e[i]
                dv[2 * i + 1] = o[i]
            if w & 1:
                dv[w - 1] = e[h2]
        else:  # tiled as in stage_in
            for i0 in range(0, (w + phx - 1) // phx, TILE):
                for fx in range(min(phx, w)):
                    i1 = min((w - fx + phx - 1) // phx, i0 + TILE)
                    s0 = rb + fx * psz
                    for i in range(i0, i1):
                        dst[dr + fx + i * phx] = buf[s0 + i]


# ------------------------------------------------------------------------------------------------
# Activation on the samples of a polyphase buffer, one contiguous segment (one phase-plane row)
# at a time. The branch codes of sample (y, x) go to ``codes[y·w + cb[x % phx] + x // phx]``
# (rows natural, phases of a row concatenated); that compact order is what the mask packs.


@inline_helper
def _act_seg(seg, cs, n, save, act, gain, alpha, clamp, zero):
    """``seg ← clamp(act(seg) · gain)`` and, with ``save``, the branch codes into ``cs``.

    The activation and ``save`` are chosen outside the element loops; inside, every branch is a
    plain assignment that LLVM turns into a select, so the loops vectorise.
    """
    if act == ACT_LINEAR:
        if save:
            for i in range(n):
                a = seg[i] * gain
                c = np.uint8(CODE_PASS)
                if a > clamp:
                    a = clamp
                    c = np.uint8(CODE_CLAMP)
                if a < -clamp:
                    a = -clamp
                    c = np.uint8(CODE_CLAMP)
                seg[i] = a
                cs[i] = c
        else:
            for i in range(n):
                a = seg[i] * gain
                a = clamp if a > clamp else a
                seg[i] = -clamp if a < -clamp else a
    elif act == ACT_RELU:
        if save:
            for i in range(n):
                v = seg[i]
                a = v * gain
                c = np.uint8(CODE_PASS)
                if v < 0:
                    a = zero  # exactly 0 on the negative side (also for −Inf); NaN stays NaN
                    c = np.uint8(CODE_NEG)
                if a > clamp:
                    a = clamp
                    c = np.uint8(CODE_CLAMP)
                if a < -clamp:
                    a = -clamp
                    c = np.uint8(CODE_CLAMP)
                seg[i] = a
                cs[i] = c
        else:
            for i in range(n):
                v = seg[i]
                a = zero if v < 0 else v * gain
                a = clamp if a > clamp else a
                seg[i] = -clamp if a < -clamp else a
    else:
        if save:
            for i in range(n):
                v = seg[i]
                a = v * gain
                c = np.uint8(CODE_PASS)
                if v < 0:
                    a = v * alpha * gain
                    c = np.uint8(CODE_NEG)
                if a > clamp:
                    a = clamp
                    c = np.uint8(CODE_CLAMP)
                if a < -clamp:
                    a = -clamp
                    c = np.uint8(CODE_CLAMP)
                seg[i] = a
                cs[i] = c
        else:
            for i in range(n):
                v = seg[i]
                a = (v * alpha if v < 0 else v) * gain
                a = clamp if a > clamp else a
                seg[i] = -clamp if a < -clamp else a


@helper
def act_fwd(buf, geom, h, w, codes, save, act, gain, alpha, clamp, zero):
    """``a = clamp(act(u) · gain)`` in place on the ``[h, w]`` samples of buffer ``geom``.

    Each row segment is extended to a multiple of 16 within its row (shorter scalar remainder of
    the vector loop): the extra positions hold no sample and are never read as data, and their
    codes land where the next segment's codes (written later) or the 32-byte slack of ``codes`` go.

    Without codes, each phase plane's sample rows go as one run, the positions between the rows
    included (a few long loops instead of two short ones a row): those hold either zero padding,
    which these activations keep zero, or values the up stage's jobs left there, which no later
    stage reads as data.
    """
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    room = stride + t0x
    # one call site of the inlined _act_seg (a second one made numba's IR inliner warn)
    for y in range(h if save else min(phy, h)):
        cb = y * w
        for fx in range(min(phx, w)):
            if save:  # row y's phase fx
                cnt = (w - fx + phx - 1) // phx
                n = min((cnt + 15) >> 4 << 4, room)
                s0 = base + (y % phy) * phx * psz + (y // phy - t0y) * stride - t0x + fx * psz
            else:  # all the sample rows of phase plane (y, fx)
                cnt = 0
                n = (h - y + phy - 1) // phy * stride
                s0 = base + (y * phx + fx) * psz - t0y * stride
            _act_seg(buf[s0 : s0 + n], codes[cb : cb + n], n, save, act, gain, alpha, clamp, zero)
            cb += cnt


@helper
def act_bwd(buf, geom, h, w, codes, s_pass, s_neg, zero):
    """``du ← du · act'`` on the samples (codes: × s_pass, × s_neg, 0); every other position of
    those rows is zeroed, so that the next stages see exact zero padding."""
    base, phy, phx, rows, stride, t0y, t0x = geom
    psz = rows * stride
    for y in range(h):
        rb = base + (y % phy) * phx * psz + (y // phy - t0y) * stride
        cb = y * w
        for fx in range(phx):
            cnt = (w - fx + phx - 1) // phx if fx < w else 0
            r0 = rb + fx * psz
            buf[r0 : r0 - t0x] = zero
            seg = buf[r0 - t0x : r0 - t0x + cnt]
            cs = codes[cb : cb + cnt]
            for i in range(cnt):
                # selects, not a table lookup, so the loop vectorises; clamped gives exactly 0
                c = cs[i]
                sc = s_pass
                if c == CODE_NEG:
                    sc = s_neg
                g = seg[i] * sc
                if c == CODE_CLAMP:
                    g = zero
                seg[i] = g
            buf[r0 - t0x + cnt : r0 + stride] = zero
            cb += cnt


@helper
def pack_codes(codes, mask, nq):
    """4 codes per byte: byte i holds codes i, i+nq, i+2nq, i+3nq (bits 0-1, 2-3, 4-5, 6-7)."""
    c0 = codes[0:nq]
    c1 = codes[nq : 2 * nq]
    c2 = codes[2 * nq : 3 * nq]
    c3 = codes[3 * nq : 4 * nq]
    for i in range(nq):
        mask[i] = c0[i] | (c1[i] << 2) | (c2[i] << 4) | (c3[i] << 6)


@helper
def unpack_codes(mask, codes, nq):
    c0 = codes[0:nq]
    c1 = codes[nq : 2 * nq]
    c2 = codes[2 * nq : 3 * nq]
    c3 = codes[3 * nq : 4 * nq]
    for i in range(nq):
        b = mask[i]
        c0[i] = b & 3
        c1[i] = (b >> 2) & 3
        c2[i] = (b >> 4) & 3
        c3[i] = (b >> 6) & 3
