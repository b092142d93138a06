// Device-side helpers of the bandlimit kernels, deliberately free of ATen headers: the .cu
// translation units include only this, c10's small Half/BFloat16 headers and (CUDA build) c10's
// stream/guard/launch-check headers, which keeps nvcc fast. Compiled by nvcc for the extension
// and by g++ (BL_EMULATE, emulate.h) for the CPU emulation test build.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "launch.h"

#ifdef BL_EMULATE
#include "emulate.h"
#define BL_DYN_SMEM(name) unsigned char* name = ::bl_emu::tls_smem
#define BL_LAUNCH(kernel, grid, block, smem, ...) \
  ::bl_emu::launch(grid, block, smem, kernel, __VA_ARGS__)
#define BL_DEVICE_GUARD(index) (void)(index)
#define BL_SMEM_OPT_IN(kernel, device) \
  (void)(kernel), (void)(device), ::bl_emu::tls_smem_opt_in = true
#else
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#define BL_DYN_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
namespace bl {
// The block size, capped at what this kernel can launch with (its registers per thread decide;
// the compiler's choice may change between nvcc versions): every kernel loops block- or
// grid-strided, so fewer threads compute the same result. Up to 256 threads always launch (even
// at 255 registers per thread), so the default blocks skip the attribute query.
template <typename Kernel>
inline dim3 fit_block(Kernel kernel, dim3 block) {
  if (block.x <= 256) return block;
  cudaFuncAttributes attr;
  C10_CUDA_CHECK(cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(kernel)));
  if (block.x > static_cast<unsigned>(attr.maxThreadsPerBlock))
    block.x = static_cast<unsigned>(attr.maxThreadsPerBlock);
  return block;
}
}  // namespace bl
// Launch on the current stream of the current device (set by BL_DEVICE_GUARD) and check it.
#define BL_LAUNCH(kernel, grid, block, smem, ...)                                            \
  do {                                                                                       \
    kernel<<<grid, ::bl::fit_block(kernel, block), smem,                                     \
             c10::cuda::getCurrentCUDAStream()>>>(__VA_ARGS__);                              \
    C10_CUDA_KERNEL_LAUNCH_CHECK();                                                          \
  } while (0)
#define BL_DEVICE_GUARD(index) \
  const c10::cuda::CUDAGuard bl_device_guard_(static_cast<c10::DeviceIndex>(index))
// Lets `kernel` launch with more than the default 48 KB of dynamic shared memory on `device`
// (the current one). Always the most it can have (the device's opt-in maximum less the kernel's
// static shared memory): one value whichever thread or stream sets it, so concurrent launches
// cannot undo each other's setting.
#define BL_SMEM_OPT_IN(kernel, device)                                                     \
  do {                                                                                     \
    cudaFuncAttributes bl_attr_;                                                           \
    C10_CUDA_CHECK(cudaFuncGetAttributes(&bl_attr_, reinterpret_cast<const void*>(kernel))); \
    C10_CUDA_CHECK(cudaFuncSetAttribute(                                                   \
        reinterpret_cast<const void*>(kernel), cudaFuncAttributeMaxDynamicSharedMemorySize, \
        static_cast<int>(::bl::smem_opt_in_max(device) -                                   \
                         static_cast<int64_t>(bl_attr_.sharedSizeBytes))));                 \
  } while (0)
#endif

#define BL_HD __host__ __device__ __forceinline__

// Full unrolling of a loop with a compile-time trip count (the emulation leaves it to g++).
#ifdef BL_EMULATE
#define BL_UNROLL
#else
#define BL_UNROLL _Pragma("unroll")
#endif

namespace bl {

// Accumulation type: float32, or float64 when either side is float64.
template <typename A, typename B = A>
using acc_of = std::conditional_t<std::is_same_v<A, double> || std::is_same_v<B, double>, double,
                                  float>;

BL_HD int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

BL_HD int64_t pos_mod(int64_t a, int64_t b) {
  int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// The sample of a plane of n samples that position i of its extension holds: replicate (mode 1)
// repeats the edge sample, circular (mode 2) wraps around.
BL_HD int64_t extended_index(int64_t i, int64_t n, int mode) {
  if (mode == 1) return i < 0 ? 0 : (i >= n ? n - 1 : i);
  return pos_mod(i, n);
}

// A block-strided walk (flat index i = start, start + step, ...) over a row-major index space
// with `cols` columns, carrying the (row, col) of i instead of dividing at every step (an int
// division by a run-time value costs about twenty instructions). Loop while r < rows.
struct Walk2 {
  int i, r, c;
  int step, dr, dc, cols;
  BL_HD Walk2(int start, int step_, int cols_)
      : i(start), r(cols_ > 0 ? start / cols_ : INT32_MAX), c(cols_ > 0 ? start % cols_ : 0),
        step(step_), dr(cols_ > 0 ? step_ / cols_ : 0), dc(cols_ > 0 ? step_ % cols_ : 0),
        cols(cols_) {}
  BL_HD void next() {
    i += step;
    r += dr;
    c += dc;
    if (c >= cols) {
      c -= cols;
      ++r;
    }
  }
};

// Two / four consecutive float32 (or 16 bytes) from 8- / 16-byte aligned shared memory in one
// load instruction (LDS.64 / LDS.128: half / a quarter of the load instructions, and a stride-2
// read across a warp without bank conflicts). The emulation copies, which avoids type punning on
// the host.
struct alignas(8) F2 {
  float x, y;
};
struct alignas(16) F4 {
  float x, y, z, w;
};
struct alignas(16) U4 {  // 16 bytes as four words (the staged mask codes)
  uint32_t x, y, z, w;
};
template <typename V, typename E>
BL_HD V load_vec(const E* p) {
#ifdef BL_EMULATE
  const auto offset = reinterpret_cast<const unsigned char*>(p) - ::bl_emu::tls_smem;
  if (offset % static_cast<std::ptrdiff_t>(sizeof(V)) != 0) ::bl_emu::misaligned_load = true;
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
#else
  return *reinterpret_cast<const V*>(p);
#endif
}

// Math in the accumulation type with the C functions of the right precision, which exist both in
// CUDA device code and on the host.
BL_HD float exp_(float v) { return expf(v); }
BL_HD double exp_(double v) { return exp(v); }
BL_HD float expm1_(float v) { return expm1f(v); }
BL_HD double expm1_(double v) { return expm1(v); }
BL_HD float log1p_(float v) { return log1pf(v); }
BL_HD double log1p_(double v) { return log1p(v); }
BL_HD float tanh_(float v) { return tanhf(v); }
BL_HD double tanh_(double v) { return tanh(v); }
BL_HD float abs_(float v) { return fabsf(v); }
BL_HD double abs_(double v) { return fabs(v); }
BL_HD float erf_(float v) { return erff(v); }
BL_HD double erf_(double v) { return erf(v); }
BL_HD float sin_(float v) { return sinf(v); }
BL_HD double sin_(double v) { return sin(v); }

// Added to snake's / snakebeta's denominator (alpha or beta), as BigVGAN does.
constexpr double kSnakeEps = 1e-9;

// The activation codes (enum Act) are in launch.h: the host code checks them too.

// act(v). `alpha`: lrelu's slope, or snake's per-channel frequency; `inv`: 1 / (alpha + eps)
// (snake) or 1 / (beta + eps) (snakebeta), precomputed once per plane; unused by the others.
template <typename T>
BL_HD T activate(int act, T v, T alpha, T inv = T(0)) {
  // SELU's fixed constants (Klambauer et al. 2017), as torch.nn.functional.selu uses them.
  const T selu_alpha = T(1.6732632423543772848170429916717);
  const T selu_scale = T(1.0507009873554804934193349852946);
  switch (act) {
    case kRelu: return v > T(0) ? v : T(0);
    case kLrelu: return v < T(0) ? v * alpha : v;
    case kTanh: return tanh_(v);
    case kSigmoid: return T(1) / (T(1) + exp_(-v));
    case kElu: return v > T(0) ? v : expm1_(v);
    case kSelu: return selu_scale * (v > T(0) ? v : selu_alpha * expm1_(v));
    case kSoftplus: return v > T(20) ? v : log1p_(exp_(v));  // torch's threshold=20
    case kSwish: return v / (T(1) + exp_(-v));
    case kGelu: return T(0.5) * v * (T(1) + erf_(v * T(0.70710678118654752440084436210485)));
    case kGeluTanh: {
      // sqrt(2/pi) (v + 0.044715 v^3), the constants of torch's approximate='tanh'
      const T z = T(0.79788456080286535587989211986876) * (v + T(0.044715) * v * v * v);
      return T(0.5) * v * (T(1) + tanh_(z));
    }
    case kSnake:
    case kSnakeBeta: {
      const T s = sin_(alpha * v);
      return v + s * s * inv;
    }
    default: return v;  // kLinear
  }
}

// d act(v) / dv, the derivatives of bandlimit.ops._activations (Activation.grad): relu / lrelu
// take the positive branch at 0 and at NaN (the sign mask's convention), so do elu / selu (as
// PyTorch's backward); tanh, sigmoid, swish and gelu_tanh in forms without cancellation.
template <typename T>
BL_HD T activation_grad(int act, T v, T alpha, T inv = T(0)) {
  const T one = T(1);
  switch (act) {
    case kRelu: return v < T(0) ? T(0) : one;
    case kLrelu: return v < T(0) ? alpha : one;
    case kTanh: {  // 1 - tanh^2 = 4e / (1 + e)^2, e = exp(-2|v|)
      const T e = exp_(-T(2) * abs_(v)), r = one + e;
      return T(4) * e / (r * r);
    }
    case kSigmoid: {  // s (1 - s) = e / (1 + e)^2, e = exp(-|v|)
      const T e = exp_(-abs_(v)), r = one + e;
      return e / (r * r);
    }
    case kElu: return v <= T(0) ? exp_(v) : one;
    case kSelu:
      return T(1.0507009873554804934193349852946) *
             (v <= T(0) ? T(1.6732632423543772848170429916717) * exp_(v) : one);
    case kSoftplus: return v > T(20) ? one : one / (one + exp_(-v));  // v itself above 20
    case kSwish: {  // s + v s (1 - s), s(+-v) from e = exp(-|v|)
      const T e = exp_(-abs_(v)), r = one / (one + e);
      const T sp = v > T(0) ? r : e * r, sn = v > T(0) ? e * r : r;
      return sp * (one + v * sn);
    }
    case kGelu:  // Phi(v) + v phi(v)
      return T(0.5) * (one + erf_(v * T(0.70710678118654752440084436210485))) +
             v * exp_(T(-0.5) * v * v) * T(0.39894228040143267793994605993438);
    case kGeluTanh: {  // s(2z) + 2 v s(2z) s(-2z) z', z = sqrt(2/pi) (v + 0.044715 v^3)
      const T k = T(0.79788456080286535587989211986876), c = T(0.044715);
      const T z = k * (v + c * v * v * v);
      const T s = one / (one + exp_(-T(2) * z));
      const T e = exp_(-T(2) * abs_(z)), r = one + e;
      return s + T(2) * v * (e / (r * r)) * k * (one + T(3) * c * v * v);
    }
    case kSnake:
    case kSnakeBeta: return one + alpha * sin_(T(2) * alpha * v) * inv;
    default: return one;  // kLinear
  }
}

// Snake's / snakebeta's parameter derivatives at v: d/dalpha into *da and (snakebeta) d/dbeta
// into *db, with inv = 1 / (alpha + eps) (snake) or 1 / (beta + eps) (snakebeta).
template <typename T>
BL_HD void snake_param_grads(int act, T v, T alpha, T inv, T* da, T* db) {
  const T s = sin_(alpha * v), s2 = s * s * inv * inv;
  const T a = v * sin_(T(2) * alpha * v) * inv;
  *da = act == kSnake ? a - s2 : a;
  *db = act == kSnake ? T(0) : -s2;
}

}  // namespace bl
