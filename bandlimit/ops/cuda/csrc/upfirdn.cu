// upfirdn2d: zero-insertion upsample, pad/crop, FIR (correlation form), downsample.
//
// Per axis, with input length L, up/down factors u/d, leading pad p0 and a K-tap filter f in
// correlation form:  y[o] = sum_k f[k] * xu[o*d + k - p0],  xu[q] = x[q/u] if q % u == 0 else 0.
// Only the taps with (o*d + k - p0) % u == 0 touch a real sample (polyphase): they start at
// k0 = (p0 - o*d) mod u and step by u, and the input index then advances by one per tap.
// A separable filter runs as two launches (x then y, binding.cpp) through a float32/float64
// intermediate. One thread per output sample, grid-stride loop, a 32-bit flat index where it fits.
#include "common.h"
#include "launch.h"

namespace bl {

// index_t: int when planes * ho * wo < 2^31 (the usual case: a 32-bit division by a run-time
// value is several times cheaper than a 64-bit one), else int64_t.
template <typename in_t, typename out_t, typename acc_t, typename index_t>
__global__ void upfirdn_kernel(const in_t* __restrict__ x, const acc_t* __restrict__ f,
                               out_t* __restrict__ y, int64_t planes, int h, int w, int kh, int kw,
                               int ux, int uy, int dx, int dy, int px0, int py0, int ho, int wo) {
  const index_t total = static_cast<index_t>(planes * ho * wo);
  const index_t stride = static_cast<index_t>(blockDim.x) * gridDim.x;
  for (index_t i = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    const int ox = static_cast<int>(i % wo);
    const index_t t = i / wo;
    const int oy = static_cast<int>(t % ho);
    const index_t p = t / ho;
    const in_t* xp = x + static_cast<int64_t>(p) * h * w;
    const int64_t qx = static_cast<int64_t>(ox) * dx - px0;  // upsampled index of tap 0
    const int64_t qy = static_cast<int64_t>(oy) * dy - py0;
    const int kx0 = static_cast<int>(pos_mod(-qx, ux));
    const int ky0 = static_cast<int>(pos_mod(-qy, uy));
    // The input index of the phase's first tap (exact: a multiple of the factor); each further
    // tap of the phase reads the next input sample.
    const int64_t ix0 = (qx + kx0) / ux, iy0 = (qy + ky0) / uy;
    acc_t s = acc_t(0);
    int64_t iy = iy0;
    for (int ky = ky0; ky < kh; ky += uy, ++iy) {
      if (iy < 0) continue;
      if (iy >= h) break;
      const acc_t* frow = f + ky * kw;
      const in_t* xrow = xp + iy * w;
      int64_t ix = ix0;
      for (int kx = kx0; kx < kw; kx += ux, ++ix) {
        if (ix < 0) continue;
        if (ix >= w) break;
        s += frow[kx] * static_cast<acc_t>(xrow[ix]);
      }
    }
    y[i] = static_cast<out_t>(s);
  }
}

template <typename in_t, typename out_t>
void launch_upfirdn(const UpfirdnArgs& a) {
  using acc_t = acc_of<in_t, out_t>;
  const int64_t total = a.planes * a.ho * a.wo;
  if (total == 0) return;
  BL_DEVICE_GUARD(a.device);
  const int64_t threads = a.block_threads > 0 ? a.block_threads : 256;
  // Grid-stride loop: the grid only needs to fill the GPU, and stays within gridDim.x limits.
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, int64_t(1) << 20);
  const bool narrow = total + threads * blocks < (int64_t(1) << 31);  // i never passes 2^31
  auto kernel = narrow ? &upfirdn_kernel<in_t, out_t, acc_t, int>
                       : &upfirdn_kernel<in_t, out_t, acc_t, int64_t>;
  BL_LAUNCH(kernel, dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(threads)), 0,
            static_cast<const in_t*>(a.x), static_cast<const acc_t*>(a.f),
            static_cast<out_t*>(a.y), a.planes, a.h, a.w, a.kh, a.kw, a.ux, a.uy, a.dx, a.dy,
            a.px0, a.py0, a.ho, a.wo);
}

// 2-D filters (storage -> storage), and the two separable passes (storage -> accumulator ->
// storage); float16/bfloat16 accumulate in float32.
#define BL_UPFIRDN_INSTANCES(T, ACC)                         \
  template void launch_upfirdn<T, T>(const UpfirdnArgs&);    \
  template void launch_upfirdn<T, ACC>(const UpfirdnArgs&);  \
  template void launch_upfirdn<ACC, T>(const UpfirdnArgs&);
BL_UPFIRDN_INSTANCES(c10::Half, float)
BL_UPFIRDN_INSTANCES(c10::BFloat16, float)
template void launch_upfirdn<float, float>(const UpfirdnArgs&);
template void launch_upfirdn<double, double>(const UpfirdnArgs&);

}  // namespace bl
