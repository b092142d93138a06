// Warp-level matrix multiply-add on tensor cores for the half-precision FIR passes: PTX
// `mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32` (sm_80 and later), D = A B + C
// with A 16 x 16 and B 16 x 8 in the storage's half type and C, D 16 x 8 in float32.
//
// Each of a warp's 32 lanes holds a fragment of every matrix (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"; g = lane / 4, t = lane % 4):
//   A: 4 registers of two halves: (row g, cols 2t, 2t+1), (row g+8, cols 2t, 2t+1),
//      (row g, cols 2t+8, 2t+9), (row g+8, cols 2t+8, 2t+9)   [lower column in the low half]
//   B: 2 registers: (rows 2t, 2t+1, col g), (rows 2t+8, 2t+9, col g)
//   C, D: 4 floats: (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1)
// The loaders below place elements by these rules; `mma_probe` (binding.cpp) multiplies given
// matrices through them, so a GPU test checks the rules against the hardware and the emulation
// test against a matmul.
//
// Emulation (BL_EMULATE): one emulated thread plays a whole warp. Fragments therefore hold
// kLanes = 32 lanes' registers in the emulation and 1 on a GPU, and per-lane code runs in a loop
// `for (li = 0; li < kLanes; ++li)` over lane_of(li); mma_16816 computes the product from the
// fragments of all 32 lanes, unpacked by its own reading of the rules above (so a loader that
// places an element wrongly gives a wrong product, in the emulation too).
#pragma once

#include <cstdint>
#include <type_traits>

#include "common.h"

#ifndef BL_EMULATE
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

namespace bl {

#ifdef BL_EMULATE
constexpr int kLanes = 32;
#else
constexpr int kLanes = 1;
#endif

// The lane that this thread's li-th fragment slot belongs to.
BL_HD int lane_of(int li) {
#ifdef BL_EMULATE
  return li;
#else
  (void)li;
  return static_cast<int>(threadIdx.x) & 31;
#endif
}

// This thread's warp among the block's whole warps (a GPU's partial last warp takes no part:
// warp >= warps), and their number. In the emulation every thread is a warp.
struct WarpSlot {
  int warp, warps;
};
BL_HD WarpSlot warp_slot(int tid, int nt) {
#ifdef BL_EMULATE
  return {tid, nt};
#else
  return {tid >> 5, nt >> 5};
#endif
}

template <int N>
struct LaneRegs {  // N 32-bit registers of each lane this thread holds
  uint32_t r[kLanes][N];
};
struct LaneAcc {  // the 4 float32 accumulators of each lane this thread holds
  float v[kLanes][4];
};

// Two float32 values rounded to nearest (even) in the mma's input type, `lo` in the low half.
template <typename half_t>
BL_HD uint32_t pack_half2(float lo, float hi) {
  static_assert(std::is_same_v<half_t, c10::Half> || std::is_same_v<half_t, c10::BFloat16>,
                "tensor-core passes take float16 or bfloat16");
#ifdef BL_EMULATE
  const uint32_t l = half_t(lo).x, h = half_t(hi).x;
  return l | (h << 16);
#else
  uint32_t bits;
  if constexpr (std::is_same_v<half_t, c10::Half>) {
    const __half2 v = __floats2half2_rn(lo, hi);
    memcpy(&bits, &v, sizeof bits);
  } else {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    memcpy(&bits, &v, sizeof bits);
  }
  return bits;
#endif
}

#ifdef BL_EMULATE
template <typename half_t>
inline float unpack_half(uint32_t reg, int which) {
  half_t v;
  v.x = static_cast<uint16_t>(which == 0 ? reg & 0xFFFFu : reg >> 16);
  return static_cast<float>(v);
}
#endif

// d += a b over the warp (all 32 lanes must call it together on a GPU).
template <typename half_t>
__device__ __forceinline__ void mma_16816(LaneAcc& d, const LaneRegs<4>& a, const LaneRegs<2>& b) {
#ifdef BL_EMULATE
  // Unpack the warp's fragments into the matrices (the PTX rules, read independently of the
  // loaders), multiply in float32 (the products of two halves are exact), repack.
  float am[16][16], bm[16][8], cm[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 8; ++i) {
      const int row = (i < 2 || (i >= 4 && i < 6)) ? g : g + 8;
      const int col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
      am[row][col] = unpack_half<half_t>(a.r[lane][i / 2], i & 1);
    }
    for (int i = 0; i < 4; ++i) bm[2 * t + (i & 1) + (i >= 2 ? 8 : 0)][g] =
        unpack_half<half_t>(b.r[lane][i / 2], i & 1);
    for (int i = 0; i < 4; ++i) cm[i < 2 ? g : g + 8][2 * t + (i & 1)] = d.v[lane][i];
  }
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      float s = cm[m][n];
      for (int k = 0; k < 16; ++k) s += am[m][k] * bm[k][n];
      cm[m][n] = s;
    }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; ++i) d.v[lane][i] = cm[i < 2 ? g : g + 8][2 * t + (i & 1)];
  }
#elif defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  float* c = d.v[0];
  const uint32_t* x = a.r[0];
  const uint32_t* y = b.r[0];
  if constexpr (std::is_same_v<half_t, c10::Half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(x[0]), "r"(x[1]), "r"(x[2]), "r"(x[3]), "r"(y[0]), "r"(y[1]));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(x[0]), "r"(x[1]), "r"(x[2]), "r"(x[3]), "r"(y[0]), "r"(y[1]));
  }
#else
  // Older GPUs have no such instruction; the host never enables these passes there (mma_ok).
  (void)d, (void)a, (void)b;
  __trap();
#endif
}

// Lane `lane`'s A fragment of a 16 x 16 block of half-precision rows: row g of the block at
// lo + c, row g + 8 at hi + c, for columns c = 2t, 2t + 1, 2t + 8, 2t + 9 (lo, hi 4-byte aligned:
// a pair of columns is one 32-bit word, already in the fragment's packing). `valid(c)` false: the
// pair (c, c + 1) reads as zeros (columns past the data, which could hold a stale NaN that
// 0 * NaN would spread over the row).
template <typename half_t, typename Valid>
BL_HD void load_a_rows(uint32_t* a, const half_t* lo, const half_t* hi, int lane, Valid valid) {
  const int t = lane & 3;
  BL_UNROLL
  for (int h = 0; h < 2; ++h) {
    const int c = 2 * t + 8 * h;
    const bool ok = valid(c);
    a[2 * h] = ok ? load_vec<uint32_t>(lo + c) : 0u;
    a[2 * h + 1] = ok ? load_vec<uint32_t>(hi + c) : 0u;
  }
}

// Lane `lane`'s B fragment of a 16 x 8 matrix given by pairs of rows: pair(k, n) returns the
// elements (k, n) and (k + 1, n) as an F2, for k = 2t and 2t + 8 (even) and n = g.
template <typename half_t, typename Pair>
BL_HD void load_b(uint32_t* b, int lane, Pair pair) {
  const int g = lane >> 2, t = lane & 3;
  BL_UNROLL
  for (int h = 0; h < 2; ++h) {
    const F2 v = pair(2 * t + 8 * h, g);
    b[h] = pack_half2<half_t>(v.x, v.y);
  }
}

// Lane `lane`'s B fragments of a FIR pass down by D (even) through K (even) taps f: the banded
// blocks B_s[kk][n] = f[16 s + kk - D n] for s < KS, zero off the taps. A pair of rows (kk even)
// holds consecutive taps starting at an even one: one 64-bit load (f 8-byte aligned), in or past
// the taps as a whole.
template <typename half_t, int D, int K, int KS>
BL_HD void load_banded_b(LaneRegs<2>* b, int li, int lane, const float* f) {
  static_assert(D % 2 == 0 && K % 2 == 0, "pairs of taps need an even factor and tap count");
  BL_UNROLL
  for (int s = 0; s < KS; ++s)
    load_b<half_t>(b[s].r[li], lane, [&](int kk, int n) {
      const int k = 16 * s + kk - D * n;
      return k >= 0 && k < K ? load_vec<F2>(f + k) : F2{0.f, 0.f};
    });
}

// The (row, col) of lane `lane`'s accumulator i.
BL_HD int acc_row(int lane, int i) { return (lane >> 2) + (i >= 2 ? 8 : 0); }
BL_HD int acc_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

}  // namespace bl
