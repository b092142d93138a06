// Fused filtered activation: upfirdn (stage A) -> pointwise -> upfirdn (stage B), one pass.
//
// One thread block computes a tile of toh x tow output samples of one plane (planes stride over
// gridDim.z). Everything between the input read and the output write stays in shared memory:
//
//   1. sx  <- input tile with halo (+ bias), zeros outside the plane (= zero padding); with
//             ext_a, the input extended by replicated or wrapped samples first
//   2. st1 <- stage A along x (separable only: polyphase, up = uax)
//      si  <- stage A along y (or the full 2-D polyphase filter), then pointwise:
//               mode 0 (forward):  a = clamp(act(s) * gain), any act of common.h (snake /
//                                  snakebeta with per-channel alpha / beta: pa, pb indexed by
//                                  plane % channels); stage the 2-bit branch code (smask)
//               mode 1 (backward): a = s * d, d = 0 if clamped, else gain * (alpha if s < 0 else 1)
//               mode 2 (backward of any act): s stored, then a pass of its own (2b') reads u,
//                                  the forward's pre-activation, and applies gain * act'(u)
//             (the forward writes u when asked, each sample by the tile owning it, see below)
//             intermediate samples outside [0, hi) x [0, wi) are zeros (stage B's zero padding),
//             or, with ext_b = 1, copies of the nearest edge sample (replicate; forward only)
//      mask <- (forward with a mask) the staged codes packed into 32-bit words
//   3. st2 <- stage B along x (separable; st2 reuses sx's storage), then y -> output
//      (or the full 2-D filter) -- downsampling by dbx/dby, so only kept samples are computed.
//
// A tall tile may run as strips of output rows (steps 1-3 per strip, st2 in storage of its own
// keeping the intermediate rows a strip shares with the next): each intermediate row is
// computed once per tile, in the shared memory of a strip. See the strip loop below.
//
// The backward of the forward pipeline is the same structure transposed (stage A = fd reversed
// upsampling by `down`, stage B = fu reversed downsampling by `up`, see _params.transpose_stage),
// so one kernel serves both directions. The forward's mask: 2 bits per intermediate sample
// (bit 0: s < 0, bit 1: |a| > clamp), 16 samples per 32-bit word, rows of mask_words words.
// Each intermediate sample is written by exactly one block (the tile whose [o0*db - pb,
// (o0 + to)*db - pb) range holds it; the first/last tile also own everything before/after), with
// atomicOr because neighbouring tiles share words. Samples no output reads are never written;
// their gradient is zero, so their mask value does not matter (the mask is zero-initialised).
// The codes are staged as bytes in shared memory and packed into one atomicOr per word (2c).
// (Before: one global atomicOr per sample with a nonzero code, on which the 16 lanes sharing a
// word serialise -- about 5 % of the forward on the first GPU run -- and whose address
// arithmetic sat in the hot loop.)
//
// Every loop is block-strided over threadIdx.x (Walk2: no division per step) and separated by
// __syncthreads(): the logic does not depend on blockDim (the CPU emulation runs it with 1 and
// with several threads). Bounds are tile-local ints, computed once per block. The pointwise step
// is a compile-time epilogue (Epi: leaky-ReLU forward, mask backward, or any activation), so the
// hot loops carry no activation switch.
//
// Specialisation: the kernel is a template over a FaSpec, the factors and taps as compile-time
// constants (0: read from FaGeom at run time). With constants every filter loop has a fixed trip
// count, so nvcc unrolls it and folds the polyphase index arithmetic; with separable filters the
// fast instantiations also block their loops (taps in registers, one loaded window of samples
// serving several outputs: see stages 2a, 2b, 3; with float32 accumulation stage B reads its
// samples in pairs and 2-D taps in fours), summing in the generic loops' order. The
// generic instantiation (all 0) serves every other geometry. The fast specs and their
// selection: filtered_act_fast.cu.
#pragma once

#include "common.h"
#include "launch.h"
#include "mma.h"

namespace bl {

// Stage A up-factor / taps, stage B down-factor / taps along x; the same along y, or, with ONE_D,
// a trivial y axis (factors 1, one tap: 1-D signals stored as H = 1). 0: the run-time value.
template <int UA_, int KA_, int DB_, int KB_, bool ONE_D_ = false>
struct FaSpec {
  static constexpr int UA = UA_, KA = KA_, DB = DB_, KB = KB_;
  static constexpr bool ONE_D = ONE_D_;
  static constexpr bool GENERIC = UA_ == 0;
  static_assert(GENERIC || (UA_ > 0 && KA_ % (UA_ > 0 ? UA_ : 1) == 0 && DB_ > 0 && KB_ > 0),
                "a fast spec needs all of its constants, taps a multiple of the up-factor");
};
using GenericSpec = FaSpec<0, 0, 0, 0>;

// Taps of one polyphase phase starting at tap k0 < u: a constant in a fast spec.
template <class S>
BL_HD int phase_taps(int k0, int u, int k) {
  if constexpr (!S::GENERIC) return S::KA / S::UA;
  return (k - k0 + u - 1) / u;
}

// Blocked polyphase up-sampling (fast specs): units of U consecutive outputs, one of each phase,
// start at phase-0 positions. The first unit's tile-local start (<= 0; before the tile when the
// tile starts mid-unit), for the up-sampled index q0 under tap 0 at tile-local 0.
template <int U>
BL_HD int first_unit_start(int64_t q0) {
  const int s0 = static_cast<int>(pos_mod(-q0, U));
  return s0 == 0 ? 0 : s0 - U;
}

// Output m of a unit from its window v of T + 1 samples: phase 0 uses taps 0, U, ... on v[0..T),
// phase U - m (m > 0) taps U - m, 2U - m, ... on v[1..T] -- the generic loop's sum, in its order.
template <int U, int T, typename acc_t>
BL_HD acc_t unit_output(const acc_t* f, const acc_t* v, int m) {
  const int k0 = m == 0 ? 0 : U - m, o = m == 0 ? 0 : 1;
  acc_t acc = acc_t(0);
  BL_UNROLL
  for (int j = 0; j < T; ++j) acc += f[k0 + U * j] * v[o + j];
  return acc;
}

// v[0, 4 N) <- p[0, 4 N), read as N fours (float32 shared memory, p 16-byte aligned).
template <int N>
BL_HD void load_fours(const float* p, float* v) {
  BL_UNROLL
  for (int q = 0; q < N; ++q) {
    const F4 w = load_vec<F4>(p + 4 * q);
    v[4 * q] = w.x;
    v[4 * q + 1] = w.y;
    v[4 * q + 2] = w.z;
    v[4 * q + 3] = w.w;
  }
}

// The pointwise step between the stages, a compile-time choice of the launcher (so the hot loop
// carries no activation switch): the forward with g.act read at run time, the forward with leaky
// ReLU (StyleGAN3's), or the backward (mode 1, the mask's branch bits).
// kEpiGradU: the backward of any activation, reading the forward's pre-activation u (mode 2):
// stage A stores the gradient g, then a pass of its own (2b') applies the derivative.
enum Epi : int { kEpiAct = 0, kEpiLrelu = 1, kEpiGrad = 2, kEpiGradU = 3 };

// Stage A's output at intermediate sample (jy, jx) of the plane (any position, also outside it),
// straight from the input plane xp in global memory: the generic polyphase loops, taps as staged
// in sfa. For the few samples the backward folds (below). Inlined: as a call, the kernel's
// parameters would go to local memory (their address taken) and the live registers be saved,
// which took the kernel from 80 to 200 registers and a 256-byte stack frame (ptxas, sm_90).
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t stage_a_at(const scalar_t* __restrict__ xp,
                                            const acc_t* __restrict__ sfa, const FaGeom& g,
                                            int uax, int uay, int kax, int kay, int64_t jy,
                                            int64_t jx) {
  const int64_t qy = jy - g.pay, qx = jx - g.pax;
  const int ky0 = static_cast<int>(pos_mod(-qy, uay)), kx0 = static_cast<int>(pos_mod(-qx, uax));
  const int64_t yi = (qy + ky0) / uay, xi = (qx + kx0) / uax;  // exact divisions
  acc_t s = acc_t(0);
  int64_t row = yi;
  for (int ky = ky0; ky < kay; ky += uay, ++row) {
    if (row < 0 || row >= g.h) continue;
    int64_t col = xi;
    for (int kx = kx0; kx < kax; kx += uax, ++col) {
      if (col < 0 || col >= g.w) continue;
      const acc_t f = g.sep_a ? sfa[kax + ky] * sfa[kx] : sfa[ky * kax + kx];
      s += f * static_cast<acc_t>(xp[row * g.w + col]);
    }
  }
  return s;
}

// The backward's fold of the forward's replicate extension (g.fold): the gradient at the
// extension's samples that copy edge sample (gy, gx) of the intermediate plane -- the rectangle
// from the edge out to the extension's end, less the sample itself.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t fold_extension(const scalar_t* __restrict__ xp,
                                                const acc_t* __restrict__ sfa, const FaGeom& g,
                                                int uax, int uay, int kax, int kay, int64_t gy,
                                                int64_t gx) {
  const int64_t y0 = gy == 0 ? -g.efy0 : gy, y1 = gy == g.hi - 1 ? gy + g.efy1 : gy;
  const int64_t x0 = gx == 0 ? -g.efx0 : gx, x1 = gx == g.wi - 1 ? gx + g.efx1 : gx;
  acc_t s = acc_t(0);
  for (int64_t jy = y0; jy <= y1; ++jy)
    for (int64_t jx = x0; jx <= x1; ++jx)
      if (jy != gy || jx != gx) s += stage_a_at(xp, sfa, g, uax, uay, kax, kay, jy, jx);
  return s;
}

// A filter's taps into shared memory: a separable filter's x taps then its y taps (two arrays
// in global memory, so the host needs no concatenation), a 2-D filter's [ky, kx] taps; `rev`
// reverses every axis (the transposed stages of the backward: no reversed copies on the host).
template <typename acc_t>
__device__ __forceinline__ void stage_taps(acc_t* __restrict__ s, const acc_t* __restrict__ fx,
                                           const acc_t* __restrict__ fy, int sep, int kx, int ky,
                                           int rev, int tid, int nt) {
  const int n = sep ? kx + ky : kx * ky;
  for (int k = tid; k < n; k += nt) {
    if (!sep)
      s[k] = fx[rev ? n - 1 - k : k];
    else if (k < kx)
      s[k] = fx[rev ? kx - 1 - k : k];
    else
      s[k] = fy[rev ? n - 1 - k : k - kx];
  }
}

// Stage B's x pass on tensor cores (float16 / bfloat16 storage, the kernel's MMA; mma.h):
// out[r][j] = sum_k f[k] in[r][D j + k] for r < rows, j < outs, where in's first cols_in columns
// hold data. As matrix products: 16 rows x 8 outputs at a time, from the 16 x 16 blocks of in at
// column D j0 + 16 s (s < KS: the 8 outputs' windows, 7 D + K columns) times the filter's banded
// 16 x 8 blocks B_s[kk][n] = f[16 s + kk - D n] (zero off the taps), the same for every block, so
// they stay in registers. `in` holds the samples in the storage's half type (the MMA kernels
// keep the intermediate tile so: rounded as the 'ref' path's convolutions in that dtype round
// theirs; a pair of samples is one word of a fragment) and the sums are float32; the taps round
// to the half type too.
//
// Each warp takes a contiguous range of the blocks in row-major order, so its rows' offsets are
// set once per row of blocks; a block reaching past cols_in (the last of a row, at most two)
// reads those columns as zeros (stale words there could be NaN, which 0 * NaN would spread over
// the row), and rows past `rows` read the last row (their outputs are dropped). Not inlined:
// inlined, it raised the kernels' registers (ptxas, sm_90: the any-act forward's 94-96 to
// 128-136, when every half-precision kernel carried it), and a call per strip costs nothing.
template <typename half_t, int D, int K>
__device__ __noinline__ void fir_rows_mma(const half_t* __restrict__ in, int ld_in, int cols_in,
                                          float* __restrict__ out, int ld_out, int rows,
                                          int outs, const float* __restrict__ f, int tid,
                                          int nt) {
  constexpr int KS = (7 * D + K + 15) / 16;
  const WarpSlot ws = warp_slot(tid, nt);
  if (ws.warp >= ws.warps) return;
  LaneRegs<2> b[KS];
  for (int li = 0; li < kLanes; ++li) load_banded_b<half_t, D, K, KS>(b, li, lane_of(li), f);
  const int col_blocks = (outs + 7) / 8, blocks = (rows + 15) / 16 * col_blocks;
  // Blocks whose columns all lie in the data (c0 + 16 KS <= cols_in) and outputs in the row.
  const int fit = cols_in >= 16 * KS ? (cols_in - 16 * KS) / (8 * D) + 1 : 0;
  const int whole_cols = fit < outs / 8 ? fit : outs / 8;
  const int first = static_cast<int>(int64_t(blocks) * ws.warp / ws.warps);
  const int last = static_cast<int>(int64_t(blocks) * (ws.warp + 1) / ws.warps);
  // Row by row of blocks: this lane's rows g and g + 8 (offsets into in and out at column and
  // output 0; rows past `rows` read the last row and store nothing), the row's blocks [c0, c1)
  // of the warp's range, the whole ones in a loop without column checks.
  for (int i = first; i < last;) {
    const int rb = i / col_blocks, c0 = i % col_blocks;
    const int c1 = last - i < col_blocks - c0 ? c0 + (last - i) : col_blocks;
    i += c1 - c0;
    int src[kLanes][2], dst[kLanes][2];
    bool row_ok[kLanes][2];
    for (int li = 0; li < kLanes; ++li) {
      const int lane = lane_of(li);
      for (int h = 0; h < 2; ++h) {
        const int r = 16 * rb + acc_row(lane, 2 * h);  // (A's rows are the accumulators')
        row_ok[li][h] = r < rows;
        src[li][h] = (r < rows ? r : rows - 1) * ld_in;
        dst[li][h] = r * ld_out + acc_col(lane, 0);
      }
    }
    auto block = [&](int cb, auto whole) {
      LaneAcc acc{};
      BL_UNROLL
      for (int s = 0; s < KS; ++s) {  // one 16-column step at a time: fewer live registers
        LaneRegs<4> a;
        const int col = D * 8 * cb + 16 * s;
        for (int li = 0; li < kLanes; ++li) {
          const half_t* lo = in + src[li][0] + col;
          const half_t* hi = in + src[li][1] + col;
          if constexpr (decltype(whole)::value)
            load_a_rows<half_t>(a.r[li], lo, hi, lane_of(li), [](int) { return true; });
          else
            load_a_rows<half_t>(a.r[li], lo, hi, lane_of(li),
                                [&](int c) { return col + c < cols_in; });
        }
        mma_16816<half_t>(acc, a, b[s]);
      }
      for (int li = 0; li < kLanes; ++li) {
        const int j = 8 * cb + acc_col(lane_of(li), 0);
        for (int h = 0; h < 2; ++h) {
          if (!row_ok[li][h]) continue;
          float* o = out + dst[li][h] + 8 * cb;
          if (decltype(whole)::value || j < outs) o[0] = acc.v[li][2 * h];
          if (decltype(whole)::value || j + 1 < outs) o[1] = acc.v[li][2 * h + 1];
        }
      }
    };
    const int cw = c1 < whole_cols ? c1 : whole_cols;
    for (int cb = c0; cb < cw; ++cb) block(cb, std::true_type{});
    for (int cb = cw > c0 ? cw : c0; cb < c1; ++cb) block(cb, std::false_type{});
  }
}

// Stage B with a full 2-D filter on tensor cores (StyleGAN3-R's radial down filter; the MMA
// kernels): out[y][x] = sum_{ky, kx} f[ky K + kx] in[D y + ky][D x + kx] for y < rows, x < outs,
// the output (ld_out apart, the storage's type) straight to global memory. Each tap row ky is a
// pass along x as in fir_rows_mma, whose A rows are D y + ky for 16 output rows and whose B
// blocks are tap row ky's; the K passes accumulate in the same float32 registers. Tap rows run
// outside, a warp's blocks inside (up to kMaxBlocks at a time, their accumulators in
// registers), so each tap row's B fragments are built once per round of blocks, from the
// float32 taps rounded to the half type. Columns past cols_in as in fir_rows_mma. Two blocks
// at a time: four raised the kernels' registers from 72 to 98-110 (ptxas, sm_90), two to 80-85.
template <typename half_t, typename scalar_t, int D, int K>
__device__ __noinline__ void fir_2d_mma(const half_t* __restrict__ in, int ld_in, int rows_in,
                                        int cols_in, scalar_t* __restrict__ out, int64_t ld_out,
                                        int rows, int outs, const float* __restrict__ f, int tid,
                                        int nt) {
  constexpr int KS = (7 * D + K + 15) / 16, kMaxBlocks = 2;
  const WarpSlot ws = warp_slot(tid, nt);
  if (ws.warp >= ws.warps) return;
  const int col_blocks = (outs + 7) / 8, blocks = (rows + 15) / 16 * col_blocks;
  const int first = static_cast<int>(int64_t(blocks) * ws.warp / ws.warps);
  const int last = static_cast<int>(int64_t(blocks) * (ws.warp + 1) / ws.warps);
  for (int b0 = first; b0 < last; b0 += kMaxBlocks) {
    const int nb = last - b0 < kMaxBlocks ? last - b0 : kMaxBlocks;
    int rb[kMaxBlocks], cb[kMaxBlocks];
    bool whole[kMaxBlocks];  // every column in the data (warp-uniform)
    const half_t* src[kMaxBlocks][kLanes][2];  // rows g, g + 8 at tap row 0, the block's column 0
    BL_UNROLL
    for (int q = 0; q < kMaxBlocks; ++q) {
      rb[q] = (b0 + q) / col_blocks;
      cb[q] = (b0 + q) % col_blocks;
      whole[q] = D * 8 * cb[q] + 16 * KS <= cols_in;
      for (int li = 0; li < kLanes; ++li) {
        for (int h = 0; h < 2; ++h) {
          // An output row past `rows` reads the last one's (its result is dropped), so every
          // row read, D y + ky <= D (rows - 1) + K - 1, lies in the data.
          const int y = 16 * rb[q] + acc_row(lane_of(li), 2 * h);
          src[q][li][h] = in + D * (y < rows ? y : rows - 1) * ld_in + D * 8 * cb[q];
        }
      }
    }
    LaneAcc acc[kMaxBlocks] = {};
    for (int ky = 0; ky < K; ++ky) {
      LaneRegs<2> b[KS];
      for (int li = 0; li < kLanes; ++li)
        load_banded_b<half_t, D, K, KS>(b, li, lane_of(li), f + ky * K);
      BL_UNROLL
      for (int q = 0; q < kMaxBlocks; ++q) {
        if (q >= nb) break;  // (warp-uniform)
        BL_UNROLL
        for (int s = 0; s < KS; ++s) {
          const int col = D * 8 * cb[q] + 16 * s;
          LaneRegs<4> a;
          for (int li = 0; li < kLanes; ++li) {
            const half_t* lo = src[q][li][0] + ky * ld_in + 16 * s;
            const half_t* hi = src[q][li][1] + ky * ld_in + 16 * s;
            if (whole[q])
              load_a_rows<half_t>(a.r[li], lo, hi, lane_of(li), [](int) { return true; });
            else
              load_a_rows<half_t>(a.r[li], lo, hi, lane_of(li),
                                  [&](int c) { return col + c < cols_in; });
          }
          mma_16816<half_t>(acc[q], a, b[s]);
        }
      }
    }
    for (int q = 0; q < nb; ++q) {
      for (int li = 0; li < kLanes; ++li) {
        const int lane = lane_of(li);
        const int x = 8 * cb[q] + acc_col(lane, 0);
        for (int h = 0; h < 2; ++h) {
          const int y = 16 * rb[q] + acc_row(lane, 2 * h);
          if (y >= rows) continue;
          scalar_t* o = out + int64_t(y) * ld_out + x;
          if (x < outs) o[0] = static_cast<scalar_t>(acc[q].v[li][2 * h]);
          if (x + 1 < outs) o[1] = static_cast<scalar_t>(acc[q].v[li][2 * h + 1]);
        }
      }
    }
  }
}

// The kernels that may run stage B's x pass on tensor cores (MMA): half storage, the 2-D fast
// specs, StyleGAN3's leaky-ReLU forward and its mask backward (each MMA kernel is one more
// instantiation: 12 of them add about 15 s of CPU to the build).
template <typename scalar_t, class S, int EPI>
constexpr bool kMmaCapable = !S::GENERIC && !S::ONE_D && (EPI == kEpiLrelu || EPI == kEpiGrad) &&
                             (std::is_same_v<scalar_t, c10::Half> ||
                              std::is_same_v<scalar_t, c10::BFloat16>);

template <typename scalar_t, typename acc_t, class S, int EPI, bool MMA>
__global__ void filtered_act_kernel(const scalar_t* __restrict__ x,
                                    const scalar_t* __restrict__ bias,
                                    const acc_t* __restrict__ fa, const acc_t* __restrict__ fay,
                                    const acc_t* __restrict__ fb, const acc_t* __restrict__ fby,
                                    const acc_t* __restrict__ pa, const acc_t* __restrict__ pb,
                                    scalar_t* __restrict__ y, uint32_t* __restrict__ mask,
                                    acc_t* __restrict__ ubuf, acc_t* __restrict__ psum,
                                    FaGeom g, acc_t alpha, acc_t gain, acc_t clamp) {
  BL_DYN_SMEM(smem_raw);
  acc_t* sx = reinterpret_cast<acc_t*>(smem_raw);
  acc_t* st1 = sx + g.off_t1;
  // The intermediate tile: in the storage's half type in the MMA kernels (the tensor cores read
  // it so; the same rounding, done once per sample), else in the accumulation type.
  using si_t = std::conditional_t<MMA, scalar_t, acc_t>;
  si_t* si = reinterpret_cast<si_t*>(sx + g.off_i);
  // Its row stride: g.siw, or in the MMA kernels (half the bytes per sample, so up to 2 siw
  // fits the layout) one that spreads a warp's fragment loads over all 32 banks: 8 rows of 4
  // words each, rows an odd multiple of 4 words apart -- for the x pass (consecutive rows)
  // sis = 8 (mod 16) halves, for the 2-D pass (every other row) sis = 4 (mod 8).
  auto round_up_to = [](int v, int m, int r) { return v + ((r - v) % m + m) % m; };
  const int sis = !MMA ? g.siw
                       : (g.sep_b ? round_up_to(g.tiw, 16, 8) : round_up_to(g.tiw, 8, 4));
  acc_t* sfa = sx + g.off_fa;
  acc_t* sfb = sx + g.off_fb;
  // Staged mask codes: one byte per intermediate sample (with a separable stage A, in the input
  // tile's storage, free between stage A's x pass and stage B's).
  uint8_t* smask = reinterpret_cast<uint8_t*>(sx + g.off_m);
  const int tid = static_cast<int>(threadIdx.x);
  const int nt = static_cast<int>(blockDim.x);
  // The geometry's factors and taps: compile-time constants in a fast spec (which the host
  // selected only for a matching g).
  constexpr bool kFast = !S::GENERIC;
  const int uax = kFast ? S::UA : g.uax, kax = kFast ? S::KA : g.kax;
  const int dbx = kFast ? S::DB : g.dbx, kbx = kFast ? S::KB : g.kbx;
  const int uay = kFast ? (S::ONE_D ? 1 : S::UA) : g.uay;
  const int kay = kFast ? (S::ONE_D ? 1 : S::KA) : g.kay;
  const int dby = kFast ? (S::ONE_D ? 1 : S::DB) : g.dby;
  const int kby = kFast ? (S::ONE_D ? 1 : S::KB) : g.kby;
  using SY = std::conditional_t<S::ONE_D, FaSpec<1, 1, 1, 1>, S>;
  // Stage B reads its samples in pairs or fours: float32 accumulation and even factor and taps,
  // so with the host's layout (every shared array at a multiple of 4 words, si's rows siw words
  // apart, a multiple of 4) every stage B row and tap row starts at a multiple of 4 words, every
  // output's window at an even word, and with a factor that is a multiple of 4 (or every other
  // output's, with factor 2) at a multiple of 4 words.
  constexpr bool kPairs = kFast && std::is_same_v<acc_t, float> && S::DB % 2 == 0 &&
                          S::KB % 2 == 0;
  // A full 2-D stage A filter is read in fours (rows of taps a multiple of 4 long).
  constexpr bool kQuadTapsA = kFast && std::is_same_v<acc_t, float> && S::KA % 4 == 0;
  // MMA: stage B's separable x pass on tensor cores (fir_rows_mma), a separate instantiation
  // (the launcher's choice, g.mma), so the other kernels keep their registers.
  static_assert(!MMA || kMmaCapable<scalar_t, S, EPI>, "no tensor-core kernel of this kind");

  // Filters to shared memory once per block (visible after the first barrier below).
  stage_taps(sfa, fa, fay, g.sep_a, kax, kay, g.rev, tid, nt);
  stage_taps(sfb, fb, fby, g.sep_b, kbx, kby, g.rev, tid, nt);

  // This block's output tile (see FaGeom::flat_tiles).
  const int64_t tx = g.flat_tiles ? static_cast<int64_t>(blockIdx.x) % g.tiles_x : blockIdx.x;
  const int64_t ty = g.flat_tiles ? static_cast<int64_t>(blockIdx.x) / g.tiles_x : blockIdx.y;
  const int64_t o0x = tx * g.tow;
  const int64_t o0y = ty * g.toh;
  const int64_t i0x = o0x * dbx - g.pbx;  // intermediate index of tile-local 0
  const int64_t i0t = o0y * dby - g.pby;  // ... of the tile's first row (a strip's: i0y below)
  const int64_t x0x = floor_div(i0x - g.pax, uax);  // input index of tile-local 0
  // Tile-local bounds, so the loops compare ints: the input plane's samples [ux0, ux1) of the
  // input tile's columns, the intermediate plane's [vx0, vx1) x [vyt0, vyt1) of the tile's
  // intermediate samples (outside: stage B's padding), and the intermediate samples whose mask
  // bits this tile writes, lx < mx1, ly < myt1 (a tile owns [0, to * db) from its start; the
  // last one everything after, the first everything before -- which lies before tile-local 0).
  // Rows: tile-local, made strip-local in the strip loop below.
  auto local = [](int64_t v, int64_t lo, int64_t hi) {
    return static_cast<int>(v < lo ? lo : (v > hi ? hi : v));
  };
  const int tiht = (g.toh - 1) * dby + kby;  // the tile's intermediate rows (host: fits an int)
  const int ux0 = local(-x0x, 0, g.txw), ux1 = local(g.w - x0x, ux0, g.txw);
  const int vx0 = local(-i0x, 0, g.tiw), vx1 = local(g.wi - i0x, vx0, g.tiw);
  const int vyt0 = local(-i0t, 0, tiht), vyt1 = local(g.hi - i0t, vyt0, tiht);
  const int mx1 = tx + 1 == g.tiles_x ? g.tiw : local(int64_t(g.tow) * dbx, 0, g.tiw);
  const int myt1 = ty + 1 == g.tiles_y ? tiht : local(int64_t(g.toh) * dby, 0, tiht);
  // The output samples of this tile inside the output plane: lx < tox, ly < toyt.
  const int tox = local(g.wo - o0x, 0, g.tow), toyt = local(g.ho - o0y, 0, g.toh);
  // Words per mask row: (wi + 15) / 16 < 2^27, so a row offset is one 32 x 32 -> 64-bit multiply.
  const int mask_w = static_cast<int>(g.mask_words);
  // [lo, hi) as one unsigned comparison.
  auto within = [](int v, int lo, int hi) {
    return static_cast<unsigned>(v - lo) < static_cast<unsigned>(hi - lo);
  };

  // Staged mask bytes: sample lx of a row at column lx + mshift, so a mask word's 16 samples
  // start at a multiple of 16 bytes (mbase = i0x - mshift is a multiple of 16).
  const bool staged = (EPI == kEpiAct || EPI == kEpiLrelu) && mask != nullptr;
  const int mshift = static_cast<int>(pos_mod(i0x, 16));
  // The backward's derivative for code bits 0 (s >= 0) / 1 (s < 0); 0 when clamped (bit 1).
  const acc_t d_pos = gain, d_neg = alpha * gain;
  // Stage B's x pass output: in the input tile's storage (free by then) when the tile is one
  // strip; else its own, so that the rows the next strip shares survive (off_2 > 0).
  acc_t* st2 = sx + g.off_2;

  for (int64_t p = blockIdx.z; p < g.planes; p += gridDim.z) {
    const scalar_t* xp = x + p * g.sh * g.sw;
    uint32_t* mplane = mask != nullptr ? mask + p * g.hi * g.mask_words : nullptr;
    const acc_t bv = bias != nullptr ? static_cast<acc_t>(bias[p % g.channels]) : acc_t(0);
    // Per-channel activation parameters (snake: pa = alpha; snakebeta: pa = alpha, pb = beta):
    // the frequency and the reciprocal of the denominator, once per plane.
    acc_t al = alpha, inv = acc_t(0);
    if ((EPI == kEpiAct || EPI == kEpiGradU) && pa != nullptr) {
      const int64_t ch = p % g.channels;
      al = pa[ch];
      inv = acc_t(1) / ((pb != nullptr ? pb[ch] : al) + acc_t(kSnakeEps));
    }
    // mode 2, snake / snakebeta: this thread's sums of g * d act / d alpha (beta) over the
    // samples its tile owns, reduced over the block after the plane (psum).
    acc_t psa = acc_t(0), psb = acc_t(0);

    // Strips of tsh output rows, top to bottom (one strip: the whole tile). Strip k's outputs
    // [s0, s1) read the intermediate rows [s0 * db, (s1 - 1) * db + kb) (tile-local), whose
    // first kb - db were computed by the strip before: stage B's x pass keeps them (st2 rows
    // [0, kb - db), moved up after each strip), and the strip computes only the rest, [r0, r1).
    // So a tall tile computes each intermediate row once, as a tall one-strip tile does, in the
    // shared memory of a strip-sized one. Below, every row bound is strip-local.
    for (int s0 = 0; s0 < g.toh; s0 += g.tsh) {
      const int s1 = s0 + g.tsh < g.toh ? s0 + g.tsh : g.toh;
      const int a0 = s0 * dby;                    // the tile row of st2's row 0
      const int r0 = s0 == 0 ? 0 : a0 + kby - dby, r1 = (s1 - 1) * dby + kby;
      const int tih = r1 - r0, rows2 = r1 - a0, off2 = r0 - a0;
      const int64_t i0y = i0t + r0;                // intermediate index of strip-local row 0
      const int64_t x0y = floor_div(i0y - g.pay, uay);  // input index of strip-local row 0
      const int txh = (tih + kay - 2) / uay + 2;   // input rows (host: <= g.txh, the layout's)
      const int uy0 = local(-x0y, 0, txh), uy1 = local(g.h - x0y, uy0, txh);
      const int vy0 = local(int64_t(vyt0) - r0, 0, tih), vy1 = local(int64_t(vyt1) - r0, vy0, tih);
      const int my1 = local(int64_t(myt1) - r0, 0, tih);
      const int toy = local(int64_t(toyt) - s0, 0, s1 - s0);
      // The mask word of strip-local (ly, lx): moff0 + ly * mask_w + ((mshift + lx) >> 4), the
      // bits at 2 * ((mshift + lx) & 15).
      const int64_t moff0 = i0y * g.mask_words + (i0x - mshift) / 16;  // exact division
      // u of strip-local (ly, lx): uoff0 + ly * wi + lx.
      const int64_t uoff0 = (p * g.hi + i0y) * g.wi + i0x;

      // 1. Input tile with halo: of the plane, or of its extension (ext_a; the extension of
      //    v = x + b, as the reference extends it, so the bias is added to every copy).
      if (g.ext_a == 0) {
        for (Walk2 it(tid, nt, g.txw); it.r < txh; it.next()) {
          acc_t v = acc_t(0);
          if (within(it.r, uy0, uy1) && within(it.c, ux0, ux1))
            v = static_cast<acc_t>(xp[(x0y + it.r) * g.w + (x0x + it.c)]) + bv;
          sx[it.i] = v;
        }
      } else {
        for (Walk2 it(tid, nt, g.txw); it.r < txh; it.next()) {
          acc_t v = acc_t(0);
          if (within(it.r, uy0, uy1) && within(it.c, ux0, ux1)) {
            const int64_t sy = extended_index(x0y + it.r - g.eay0, g.sh, g.ext_a);
            const int64_t sc = extended_index(x0x + it.c - g.eax0, g.sw, g.ext_a);
            v = static_cast<acc_t>(xp[sy * g.sw + sc]) + bv;
          }
          sx[it.i] = v;
        }
      }
      __syncthreads();

      // 2a. Stage A along x (separable): rows of the input tile -> st1 [txh, tiw] (rows siw
      // apart, an even number of words: the blocked y pass reads column pairs).
      if (g.sep_a) {
        if constexpr (kFast) {
          // Blocked: a thread computes `up` neighbours, one of each phase, from one window of
          // T + 1 loaded samples (the generic loop loads T samples and T taps per output). The
          // taps live in registers. Units start at phase-0 positions; the first may start
          // before the tile (its outputs there are skipped; its window starts at sample 0).
          constexpr int U = S::UA, T = S::KA / S::UA;
          acc_t f[S::KA];
          BL_UNROLL
          for (int k = 0; k < S::KA; ++k) f[k] = sfa[k];
          const int64_t q0 = i0x - g.pax;  // upsampled index under tap 0 at tile-local 0
          const int l0 = first_unit_start<U>(q0);
          const int units = (g.tiw - l0 + U - 1) / U;
          const int xb0 = static_cast<int>((q0 + l0) / U - x0x);  // exact division
          for (Walk2 it(tid, nt, units); it.r < txh; it.next()) {
            const int l = l0 + it.c * U;
            const acc_t* row = sx + it.r * g.txw + xb0 + it.c;
            acc_t v[T + 1];
            BL_UNROLL
            for (int j = 0; j <= T; ++j) v[j] = row[j];
            acc_t* out = st1 + it.r * g.siw + l;
            if (l >= 0 && l + U <= g.tiw) {  // a whole unit (all but a first and a last column)
              BL_UNROLL
              for (int m = 0; m < U; ++m) out[m] = unit_output<U, T>(f, v, m);
            } else {
              BL_UNROLL
              for (int m = 0; m < U; ++m) {
                if (l + m < 0 || l + m >= g.tiw) continue;
                out[m] = unit_output<U, T>(f, v, m);
              }
            }
          }
        } else {
          for (Walk2 it(tid, nt, g.tiw); it.r < txh; it.next()) {
            const int64_t q = i0x + it.c - g.pax;  // upsampled index under tap 0
            const int k0 = static_cast<int>(pos_mod(-q, uax));
            const int xi = static_cast<int>((q + k0) / uax - x0x);  // exact division
            const acc_t* row = sx + it.r * g.txw + xi;
            const acc_t* f = sfa + k0;
            const int nk = phase_taps<S>(k0, uax, kax);
            acc_t acc = acc_t(0);
            for (int j = 0; j < nk; ++j) acc += f[j * uax] * row[j];
            st1[it.r * g.siw + it.c] = acc;
          }
        }
        __syncthreads();
      }

      // 2b. Stage A along y (or full 2-D), then the pointwise step -> si [tih, tiw].
      // The pointwise step of intermediate sample (ly, lx) whose filtered value is s.
      // `interior` (std::true_type): the caller knows the whole tile lies in the plane. The
      // backward (kEpiGrad) reads the sample's code from mask word `mword`, which finish_at
      // computes and a blocked caller steps instead (fewer 64-bit address computations).
      auto mask_word = [&](int ly, int lx) {
        return mplane + moff0 + int64_t(ly) * mask_w + ((mshift + lx) >> 4);
      };
      auto finish_at = [&](int ly, int lx, acc_t s, auto interior, const uint32_t* mword) {
        acc_t out = acc_t(0);
        if (decltype(interior)::value || (within(ly, vy0, vy1) && within(lx, vx0, vx1))) {
          if constexpr (EPI == kEpiGrad) {
            const uint32_t code = (*mword >> (2 * ((mshift + lx) & 15))) & 3u;
            out = s * ((code & 2u) ? acc_t(0) : ((code & 1u) ? d_neg : d_pos));
          } else if constexpr (EPI == kEpiGradU) {
            out = s;  // the derivative: pass 2b'
          } else {
            const int act = EPI == kEpiLrelu ? int(kLrelu) : g.act;
            acc_t a = activate<acc_t>(act, s, al, inv) * gain;
            uint32_t code = s < acc_t(0) ? 1u : 0u;
            if (clamp >= acc_t(0) && abs_(a) > clamp) {
              a = a > acc_t(0) ? clamp : -clamp;
              code |= 2u;
            }
            out = a;
            if (staged) smask[ly * g.mstride + lx + mshift] = static_cast<uint8_t>(code);
            // u for the backward (mode 2): each sample by the one tile that owns it, as the mask.
            // (Never in the leaky-ReLU epilogue: the launcher gives a forward saving u to kEpiAct.)
            if (EPI == kEpiAct && ubuf != nullptr && ly < my1 && lx < mx1)
              ubuf[uoff0 + int64_t(ly) * g.wi + lx] = s;
          }
        }
        si[ly * sis + lx] = static_cast<si_t>(out);
      };
      auto finish = [&](int ly, int lx, acc_t s, auto interior) {
        finish_at(ly, lx, s, interior, EPI == kEpiGrad ? mask_word(ly, lx) : nullptr);
      };
      auto stage_a_y = [&]() {
        for (Walk2 it(tid, nt, g.tiw); it.r < tih; it.next()) {
          const int ly = it.r, lx = it.c;
          const int64_t qy = i0y + ly - g.pay;
          const int ky0 = static_cast<int>(pos_mod(-qy, uay));
          const int yi = static_cast<int>((qy + ky0) / uay - x0y);
          const int nky = phase_taps<SY>(ky0, uay, kay);
          acc_t s = acc_t(0);
          if (g.sep_a) {
            const acc_t* fy = sfa + kax + ky0;
            const acc_t* col = st1 + yi * g.siw + lx;
            BL_UNROLL
            for (int j = 0; j < nky; ++j) s += fy[j * uay] * col[j * g.siw];
          } else {
            const int64_t qx = i0x + lx - g.pax;
            const int kx0 = static_cast<int>(pos_mod(-qx, uax));
            const int xi0 = static_cast<int>((qx + kx0) / uax - x0x);
            const int nkx = phase_taps<S>(kx0, uax, kax);
            BL_UNROLL
            for (int j = 0; j < nky; ++j) {
              const acc_t* frow = sfa + (ky0 + j * uay) * kax + kx0;
              const acc_t* xrow = sx + (yi + j) * g.txw + xi0;
              BL_UNROLL
              for (int i = 0; i < nkx; ++i) s += frow[i * uax] * xrow[i];
            }
          }
          finish(ly, lx, s, std::false_type{});
        }
      };
      if constexpr (kFast && !S::ONE_D) {
        if (g.sep_a) {
          // Blocked as along x: `up` vertical neighbours from one column window of T + 1
          // samples, and for two neighbouring columns at once: the windows read as pairs
          // (LDS.64; consecutive threads take consecutive pairs: no bank conflicts), so a
          // window's loads, addresses and loop step serve twice the samples.
          static_assert(std::is_same_v<acc_t, float>, "fast specs accumulate in float32");
          constexpr int U = S::UA, T = S::KA / S::UA;
          acc_t f[S::KA];
          BL_UNROLL
          for (int k = 0; k < S::KA; ++k) f[k] = sfa[S::KA + k];
          const int64_t q0 = i0y - g.pay;
          const int l0 = first_unit_start<U>(q0);
          const int units = (tih - l0 + U - 1) / U;
          const int yb0 = static_cast<int>((q0 + l0) / U - x0y);  // exact division
          auto blocked = [&](auto interior) {
            for (Walk2 it(tid, nt, (g.tiw + 1) / 2); it.r < units; it.next()) {
              const int l = l0 + it.r * U, lx = 2 * it.c;
              const bool both = lx + 1 < g.tiw;  // (else the pair's second column is padding)
              const acc_t* col = st1 + (yb0 + it.r) * g.siw + lx;
              acc_t va[T + 1], vb[T + 1];
              BL_UNROLL
              for (int j = 0; j <= T; ++j, col += g.siw) {
                const F2 w = load_vec<F2>(col);
                va[j] = w.x;
                vb[j] = w.y;
              }
              // The backward's mask words of the unit's first row (a row further: mask_w on;
              // the second column's: the same word, or the next one at a word boundary).
              const uint32_t* mw = EPI == kEpiGrad ? mask_word(l, lx) : nullptr;
              const int dw = ((mshift + lx) & 15) == 15 ? 1 : 0;
              auto emit = [&](int m) {
                const bool grad = EPI == kEpiGrad;  // (else no mask: no pointer arithmetic)
                const uint32_t* mwm = grad ? mw + m * mask_w : nullptr;  // (m < U: in an int)
                finish_at(l + m, lx, unit_output<U, T>(f, va, m), interior, mwm);
                if (both)
                  finish_at(l + m, lx + 1, unit_output<U, T>(f, vb, m), interior,
                            grad ? mwm + dw : nullptr);
              };
              if (l >= 0 && l + U <= tih) {  // a whole unit (all but a first and a last row)
                BL_UNROLL
                for (int m = 0; m < U; ++m) emit(m);
              } else {
                BL_UNROLL
                for (int m = 0; m < U; ++m) {
                  if (l + m < 0 || l + m >= tih) continue;
                  emit(m);
                }
              }
            }
          };
          // Most tiles of a large plane lie wholly inside it: their loop has no bounds checks.
          if (vx0 == 0 && vx1 == g.tiw && vy0 == 0 && vy1 == tih)
            blocked(std::true_type{});
          else
            blocked(std::false_type{});
        } else if constexpr (kQuadTapsA) {
          // Full 2-D filter, blocked: a thread computes the up x up phases of one input window
          // of (T + 1)^2 samples held in registers, reading each tap row once per output row as
          // fours (the up phases along x share it); the generic loop's summation order.
          constexpr int U = S::UA, T = S::KA / S::UA, K = S::KA;
          const int64_t qx0 = i0x - g.pax, qy0 = i0y - g.pay;
          const int lx0 = first_unit_start<U>(qx0), ly0 = first_unit_start<U>(qy0);
          const int units_x = (g.tiw - lx0 + U - 1) / U, units_y = (tih - ly0 + U - 1) / U;
          const int xb0 = static_cast<int>((qx0 + lx0) / U - x0x);  // exact divisions
          const int yb0 = static_cast<int>((qy0 + ly0) / U - x0y);
          for (Walk2 it(tid, nt, units_x); it.r < units_y; it.next()) {
            const int ly = ly0 + it.r * U, lx = lx0 + it.c * U;
            const acc_t* win = sx + (yb0 + it.r) * g.txw + xb0 + it.c;
            acc_t v[T + 1][T + 1];
            BL_UNROLL
            for (int j = 0; j <= T; ++j) {
              BL_UNROLL
              for (int i = 0; i <= T; ++i) v[j][i] = win[j * g.txw + i];
            }
            BL_UNROLL
            for (int my = 0; my < U; ++my) {
              if (ly + my < 0 || ly + my >= tih) continue;
              const int k0y = my == 0 ? 0 : U - my, oy = my == 0 ? 0 : 1;
              acc_t acc[U];
              BL_UNROLL
              for (int mx = 0; mx < U; ++mx) acc[mx] = acc_t(0);
              BL_UNROLL
              for (int j = 0; j < T; ++j) {
                const acc_t* frow = sfa + (k0y + U * j) * K;
                acc_t t[K];
                BL_UNROLL
                for (int q = 0; q < K; q += 4) {
                  const F4 w = load_vec<F4>(frow + q);
                  t[q] = w.x;
                  t[q + 1] = w.y;
                  t[q + 2] = w.z;
                  t[q + 3] = w.w;
                }
                BL_UNROLL
                for (int mx = 0; mx < U; ++mx) {
                  const int k0x = mx == 0 ? 0 : U - mx, ox = mx == 0 ? 0 : 1;
                  BL_UNROLL
                  for (int i = 0; i < T; ++i) acc[mx] += t[k0x + U * i] * v[oy + j][ox + i];
                }
              }
              BL_UNROLL
              for (int mx = 0; mx < U; ++mx)
                if (lx + mx >= 0 && lx + mx < g.tiw)
                  finish(ly + my, lx + mx, acc[mx], std::false_type{});
            }
          }
        } else {
          stage_a_y();
        }
      } else {
        stage_a_y();
      }
      __syncthreads();

      // 2b'. The backward reading u (mode 2): g <- g * gain * act'(u) at the samples in the plane
      // (0 where |act(u) * gain| > clamp), after adding the gradient of the extension's copies
      // of an edge sample (g.fold); the sums of the parameter gradients over owned samples.
      if constexpr (EPI == kEpiGradU) {
        for (Walk2 it(tid, nt, g.tiw); it.r < tih; it.next()) {
          if (!within(it.r, vy0, vy1) || !within(it.c, vx0, vx1)) continue;
          const int64_t gy = i0y + it.r, gx = i0x + it.c;
          acc_t s = si[it.r * sis + it.c];
          if (g.fold && ((gx == 0 && g.efx0 > 0) || (gx == g.wi - 1 && g.efx1 > 0) ||
                         (gy == 0 && g.efy0 > 0) || (gy == g.hi - 1 && g.efy1 > 0)))
            s += fold_extension(xp, sfa, g, uax, uay, kax, kay, gy, gx);
          const acc_t v = ubuf[uoff0 + int64_t(it.r) * g.wi + it.c];
          acc_t gg = s * gain;
          if (clamp >= acc_t(0) && abs_(activate<acc_t>(g.act, v, al, inv) * gain) > clamp)
            gg = acc_t(0);
          si[it.r * sis + it.c] = gg * activation_grad<acc_t>(g.act, v, al, inv);
          if (psum != nullptr && it.r < my1 && it.c < mx1) {
            acc_t da, db;
            snake_param_grads<acc_t>(g.act, v, al, inv, &da, &db);
            psa += gg * da;
            psb += gg * db;
          }
        }
        __syncthreads();
      }

      // 2c. Staged mask: each word of the samples this tile owns (in the plane, ly < my1, lx < mx1)
      // packed from its 16 bytes (one 16-byte load) and written with one atomicOr, if nonzero.
      // Bytes outside the owned range (stale, or never written) are masked off.
      if (staged) {
        const int cx1 = vx1 < mx1 ? vx1 : mx1, cy1 = vy1 < my1 ? vy1 : my1;
        const int gx0 = static_cast<int>(i0x) + vx0, gx1 = static_cast<int>(i0x) + cx1;
        const int w0 = gx0 >> 4, nw = cx1 > vx0 ? ((gx1 - 1) >> 4) - w0 + 1 : 0;
        const int mbase = static_cast<int>(i0x) - mshift;
        for (Walk2 it(tid, nt, nw); it.r < cy1 - vy0; it.next()) {
          const int ly = vy0 + it.r, word = w0 + it.c;
          const int col = word * 16 - mbase;  // the word's first staged byte: a multiple of 16
          const U4 q = load_vec<U4>(smask + ly * g.mstride + col);
          // Four codes (bytes 0..3 of a little-endian word) -> 8 bits.
          auto pack = [](uint32_t u) {
            return (u & 0x3u) | ((u >> 6) & 0xCu) | ((u >> 12) & 0x30u) | ((u >> 18) & 0xC0u);
          };
          uint32_t bits = pack(q.x) | (pack(q.y) << 8) | (pack(q.z) << 16) | (pack(q.w) << 24);
          const int lo = gx0 - word * 16 > 0 ? gx0 - word * 16 : 0;
          const int hi = gx1 - word * 16 < 16 ? gx1 - word * 16 : 16;
          if (hi - lo < 16) bits &= ((1u << (2 * (hi - lo))) - 1u) << (2 * lo);
          if (bits != 0u) atomicOr(mplane + moff0 + int64_t(ly) * mask_w + (col >> 4), bits);
        }
        __syncthreads();  // stage B's x pass overwrites the staged bytes (st2 = sx)
      }

      // 2d. Replicate extension (forward only): a sample outside the intermediate plane copies the
      // nearest sample inside, which lies in this tile (the host checks that stage B's padding is
      // below its taps: then any tile reaching past an edge also holds the edge sample). Reads only
      // in-plane samples and writes only outside ones, so one pass needs no further ordering.
      if ((EPI == kEpiAct || EPI == kEpiLrelu) && g.ext_b == 1) {
        for (Walk2 it(tid, nt, g.tiw); it.r < tih; it.next()) {
          if (within(it.r, vy0, vy1) && within(it.c, vx0, vx1)) continue;
          const int cy = it.r < vy0 ? vy0 : (it.r >= vy1 ? vy1 - 1 : it.r);
          const int cx = it.c < vx0 ? vx0 : (it.c >= vx1 ? vx1 - 1 : it.c);
          si[it.r * sis + it.c] = si[cy * sis + cx];
        }
        __syncthreads();
      }

      // 3. Stage B (downsampling), straight to the output (yt: the tile's first output sample).
      scalar_t* yt = y + p * g.ho * g.wo + (o0y + s0) * g.wo + o0x;
      if (g.sep_b) {
        // Along x: on tensor cores (MMA); else fast, the taps in registers.
        if constexpr (MMA) {
          fir_rows_mma<scalar_t, S::DB, S::KB>(si, sis, g.tiw, st2 + off2 * g.tow, g.tow, tih,
                                               g.tow, sfb, tid, nt);
        } else if constexpr (kFast && kPairs && S::DB == 2) {
          // Blocked (down by 2: StyleGAN3's forward, BigVGAN's): a thread computes O = 4
          // neighbouring outputs from one window of 2 (O - 1) + taps samples read in fours, 8
          // words further per thread (a warp reads contiguous 16-byte pieces: no bank conflicts;
          // single outputs read at a stride of 2 words would conflict 2 ways): 1.25 loads per
          // output. The last four may run a few words past the window, into the next row or
          // si's spare words; those samples are unused. (A unit starts at c0 <= tow - 1 and a
          // row is tiw = 2 (tow - 1) + K long, so a read ends at most 4 NV - K words past it.)
          constexpr int K = S::KB, O = 4, NV = (2 * (O - 1) + K + 3) / 4;
          static_assert(4 * NV - K <= kSiSpare, "stage B's x pass reads past si's spare words");
          acc_t f[K];
          BL_UNROLL
          for (int k = 0; k < K; ++k) f[k] = sfb[k];
          const int units = (g.tow + O - 1) / O;
          for (Walk2 it(tid, nt, units); it.r < tih; it.next()) {
            const int c0 = O * it.c;
            const acc_t* row = si + it.r * sis + 2 * c0;
            acc_t v[4 * NV];
            load_fours<NV>(row, v);
            acc_t* out = st2 + (off2 + it.r) * g.tow + c0;
            BL_UNROLL
            for (int o = 0; o < O; ++o) {
              acc_t s = acc_t(0);
              BL_UNROLL
              for (int k = 0; k < K; ++k) s += f[k] * v[2 * o + k];
              if (o == 0 || c0 + o < g.tow) out[o] = s;
            }
          }
        } else if constexpr (kFast) {
          acc_t f[S::KB];
          BL_UNROLL
          for (int k = 0; k < S::KB; ++k) f[k] = sfb[k];
          for (Walk2 it(tid, nt, g.tow); it.r < tih; it.next()) {
            const acc_t* row = si + it.r * sis + it.c * S::DB;
            acc_t s = acc_t(0);
            if constexpr (kPairs && S::DB % 4 == 0 && S::KB % 4 == 0) {
              // Fours (the backward's down-by-4 pass): a warp reads 16 contiguous bytes per
              // thread, where single words at a 4-word stride would conflict 4 ways.
              BL_UNROLL
              for (int k = 0; k < S::KB; k += 4) {
                const F4 v = load_vec<F4>(row + k);
                s += f[k] * v.x;
                s += f[k + 1] * v.y;
                s += f[k + 2] * v.z;
                s += f[k + 3] * v.w;
              }
            } else if constexpr (kPairs) {
              // Pairs (even factors other than 2, 4k): the window starts at an even word.
              BL_UNROLL
              for (int k = 0; k < S::KB; k += 2) {
                const F2 v = load_vec<F2>(row + k);
                s += f[k] * v.x;
                s += f[k + 1] * v.y;
              }
            } else {
              BL_UNROLL
              for (int k = 0; k < S::KB; ++k) s += f[k] * row[k];
            }
            st2[off2 * g.tow + it.i] = s;
          }
        } else {
          for (Walk2 it(tid, nt, g.tow); it.r < tih; it.next()) {
            const acc_t* row = si + it.r * sis + it.c * dbx;
            acc_t s = acc_t(0);
            for (int k = 0; k < kbx; ++k) s += sfb[k] * row[k];
            st2[off2 * g.tow + it.i] = s;
          }
        }
        __syncthreads();
        // Along y. Fast (2-D): a thread computes R vertically adjacent outputs from one column
        // window of (R - 1)·down + taps samples, taps in registers.
        if constexpr (kFast && !S::ONE_D) {
          constexpr int D = S::DB, K = S::KB, R = 2, W = (R - 1) * D + K;
          acc_t f[K];
          BL_UNROLL
          for (int k = 0; k < K; ++k) f[k] = sfb[K + k];
          const int units = (toy + R - 1) / R;
          for (Walk2 it(tid, nt, g.tow); it.r < units; it.next()) {
            const int lx = it.c, ly0 = it.r * R;
            if (lx >= tox) continue;
            const acc_t* col = st2 + (ly0 * D) * g.tow + lx;
            acc_t v[W];
            if (ly0 * D + W <= rows2) {  // the whole window in st2 (all but a last odd row)
              BL_UNROLL
              for (int j = 0; j < W; ++j, col += g.tow) v[j] = *col;
            } else {  // st2 rows past the tile: read only by outputs past it
              const int rows = rows2 - ly0 * D;
              BL_UNROLL
              for (int j = 0; j < W; ++j) v[j] = j < rows ? col[j * g.tow] : acc_t(0);
            }
            scalar_t* out = yt + int64_t(ly0) * g.wo + lx;
            BL_UNROLL
            for (int i = 0; i < R; ++i) {
              if (ly0 + i >= toy) break;
              acc_t s = acc_t(0);
              BL_UNROLL
              for (int k = 0; k < K; ++k) s += f[k] * v[i * D + k];
              out[int64_t(i) * g.wo] = static_cast<scalar_t>(s);
            }
          }
        } else {
          for (Walk2 it(tid, nt, g.tow); it.r < toy; it.next()) {
            const int ly = it.r, lx = it.c;
            if (lx >= tox) continue;
            const acc_t* fy = sfb + kbx;
            const acc_t* col = st2 + (ly * dby) * g.tow + lx;
            acc_t s = acc_t(0);
            BL_UNROLL
            for (int k = 0; k < kby; ++k) s += fy[k] * col[k * g.tow];
            yt[int64_t(ly) * g.wo + lx] = static_cast<scalar_t>(s);
          }
        }
      } else if constexpr (MMA && S::DB == 2) {
        // Full 2-D filter on tensor cores (StyleGAN3-R's forward).
        fir_2d_mma<scalar_t, scalar_t, S::DB, S::KB>(si, sis, tih, g.tiw, yt, g.wo, toy, tox,
                                                     sfb, tid, nt);
      } else if constexpr (kFast && kPairs && !S::ONE_D && S::KB % 4 == 0 && S::DB == 2) {
        // Full 2-D filter, down by 2 (StyleGAN3-R's forward), blocked as stage B's x pass: a
        // thread computes two neighbouring outputs from one window of 2 + taps samples per tap
        // row, read in fours (a warp reads contiguous 16-byte pieces), the taps in fours (a
        // broadcast): 3.5 load instructions per output and tap row where one output per thread
        // took 9, and about 40 % fewer shared-memory wavefronts; each sum in the generic loop's
        // order. The last four may run 2 words past the window, into the next row or si's spare
        // words; those samples are unused.
        constexpr int K = S::KB, NV = (2 + K + 3) / 4;
        static_assert(4 * NV - K <= kSiSpare, "stage B's 2-D pass reads past si's spare words");
        const int units = (tox + 1) / 2;
        for (Walk2 it(tid, nt, units); it.r < toy; it.next()) {
          const int ly = it.r, c0 = 2 * it.c;
          acc_t s0 = acc_t(0), s1 = acc_t(0);
          for (int ky = 0; ky < K; ++ky) {
            const acc_t* frow = sfb + ky * K;
            const acc_t* row = si + (ly * 2 + ky) * sis + 2 * c0;
            acc_t v[4 * NV];
            load_fours<NV>(row, v);
            BL_UNROLL
            for (int kx = 0; kx < K; kx += 4) {
              const F4 t = load_vec<F4>(frow + kx);
              s0 += t.x * v[kx];
              s0 += t.y * v[kx + 1];
              s0 += t.z * v[kx + 2];
              s0 += t.w * v[kx + 3];
              s1 += t.x * v[kx + 2];
              s1 += t.y * v[kx + 3];
              s1 += t.z * v[kx + 4];
              s1 += t.w * v[kx + 5];
            }
          }
          scalar_t* out = yt + int64_t(ly) * g.wo + c0;
          out[0] = static_cast<scalar_t>(s0);
          if (c0 + 1 < tox) out[1] = static_cast<scalar_t>(s1);
        }
      } else if constexpr (!MMA && kFast && kPairs && !S::ONE_D && S::KB % 4 == 0) {
        // Full 2-D filter, fast: samples in pairs and taps in fours (a warp-wide broadcast), a
        // third of the generic loop's load instructions, in its summation order.
        for (Walk2 it(tid, nt, g.tow); it.r < toy; it.next()) {
          const int ly = it.r, lx = it.c;
          if (lx >= tox) continue;
          acc_t s = acc_t(0);
          for (int ky = 0; ky < S::KB; ++ky) {
            const acc_t* frow = sfb + ky * S::KB;
            const acc_t* row = si + (ly * S::DB + ky) * sis + lx * S::DB;
            BL_UNROLL
            for (int kx = 0; kx < S::KB; kx += 4) {
              const F4 t = load_vec<F4>(frow + kx);
              const F2 a = load_vec<F2>(row + kx), b = load_vec<F2>(row + kx + 2);
              s += t.x * a.x;
              s += t.y * a.y;
              s += t.z * b.x;
              s += t.w * b.y;
            }
          }
          yt[int64_t(ly) * g.wo + lx] = static_cast<scalar_t>(s);
        }
      } else {
        for (Walk2 it(tid, nt, g.tow); it.r < toy; it.next()) {
          const int ly = it.r, lx = it.c;
          if (lx >= tox) continue;
          acc_t s = acc_t(0);
          BL_UNROLL
          for (int ky = 0; ky < kby; ++ky) {
            const acc_t* frow = sfb + ky * kbx;
            const si_t* row = si + (ly * dby + ky) * sis + lx * dbx;
            BL_UNROLL
            for (int kx = 0; kx < kbx; ++kx) s += frow[kx] * static_cast<acc_t>(row[kx]);
          }
          yt[int64_t(ly) * g.wo + lx] = static_cast<scalar_t>(s);
        }
      }
      __syncthreads();  // the next strip or plane overwrites sx / st2
      if (s1 < g.toh) {  // the rows the next strip shares to st2's top (host: they do not overlap)
        const int keep = (kby - dby) * g.tow, from = g.tsh * dby * g.tow;
        for (int i = tid; i < keep; i += nt) st2[i] = st2[from + i];
#ifdef BL_EMULATE
        // The emulation poisons the rest (NaN), so a strip reading a row it did not write or keep
        // shows up as NaN, not as a stale value.
        __syncthreads();
        for (int i = keep + tid; i < g.tih * g.tow; i += nt)
          st2[i] = std::numeric_limits<acc_t>::quiet_NaN();
#endif
      }  // (the next strip's stage B writes st2 after the barriers of its stages 1 and 2)
    }  // strips

    // The block's sums of the parameter gradients for this plane: a tree over the threads'
    // sums in shared memory (a fixed order: deterministic), one pair per block and plane; in
    // the storage of the tile's arrays where the host found them large enough (g.off_r).
    if constexpr (EPI == kEpiGradU) {
      if (psum != nullptr) {
        acc_t* red = sx + g.off_r;
        red[tid] = psa;
        red[nt + tid] = psb;
        __syncthreads();
        int half = 1;
        while (2 * half < nt) half *= 2;
        for (int h = half; h > 0; h >>= 1) {
          if (tid < h && tid + h < nt) {
            red[tid] += red[tid + h];
            red[nt + tid] += red[nt + tid + h];
          }
          __syncthreads();
        }
        if (tid == 0) {
          acc_t* o = psum + ((p * g.tiles_y + ty) * g.tiles_x + tx) * 2;
          o[0] = red[0];
          o[1] = red[nt];
        }
        __syncthreads();  // red may overlay the input tile, which the next plane writes
      }
    }
  }
}

// One launch of the kernel instantiated for spec S, epilogue EPI and MMA (a.g must match S).
template <typename scalar_t, class S, int EPI, bool MMA>
void launch_filtered_act_kernel(const FaArgs& a) {
  using acc_t = acc_of<scalar_t>;
  auto kernel = &filtered_act_kernel<scalar_t, acc_t, S, EPI, MMA>;
  const dim3 grid(static_cast<unsigned>(a.grid_x), static_cast<unsigned>(a.grid_y),
                  static_cast<unsigned>(a.grid_z));
  const dim3 block(static_cast<unsigned>(a.block_threads));
  if (a.smem_bytes > kDefaultSmemBytes) BL_SMEM_OPT_IN(kernel, a.device);
  BL_LAUNCH(kernel, grid, block, static_cast<size_t>(a.smem_bytes),
            static_cast<const scalar_t*>(a.x), static_cast<const scalar_t*>(a.bias),
            static_cast<const acc_t*>(a.fa), static_cast<const acc_t*>(a.fay),
            static_cast<const acc_t*>(a.fb), static_cast<const acc_t*>(a.fby),
            static_cast<const acc_t*>(a.pa), static_cast<const acc_t*>(a.pb),
            static_cast<scalar_t*>(a.y), a.mask, static_cast<acc_t*>(a.u),
            static_cast<acc_t*>(a.psum), a.g, static_cast<acc_t>(a.alpha),
            static_cast<acc_t>(a.gain), static_cast<acc_t>(a.clamp));
}

// ... with stage B's x pass on tensor cores where the host asked for it (g.mma).
template <typename scalar_t, class S, int EPI>
void launch_filtered_act_epi(const FaArgs& a) {
  if constexpr (kMmaCapable<scalar_t, S, EPI>) {
    if (a.g.mma) return launch_filtered_act_kernel<scalar_t, S, EPI, true>(a);
  }
  launch_filtered_act_kernel<scalar_t, S, EPI, false>(a);
}

// One launch for spec S, its epilogue picked from the direction and the activation.
template <typename scalar_t, class S>
void launch_filtered_act_spec(const FaArgs& a) {
  if (a.g.mode == 1)
    launch_filtered_act_epi<scalar_t, S, kEpiGrad>(a);
  else if (a.g.mode == 2)
    launch_filtered_act_epi<scalar_t, S, kEpiGradU>(a);
  else if (a.g.act == kLrelu && a.u == nullptr)  // (saving u: the general epilogue)
    launch_filtered_act_epi<scalar_t, S, kEpiLrelu>(a);
  else
    launch_filtered_act_epi<scalar_t, S, kEpiAct>(a);
}

// Launches the fast kernel of the spec matching a.g (filtered_act_fast.cu); false if none does.
template <typename scalar_t>
bool launch_filtered_act_fast(const FaArgs& a);

}  // namespace bl
