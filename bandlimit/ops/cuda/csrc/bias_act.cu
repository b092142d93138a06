// bias_act forward: y = clamp(act(x + b) * gain, -clamp, clamp), elementwise.
//
// x is viewed as [outer, C, inner] (C = the bias axis); the bias of element i is b[(i / inner) % C].
// The backward is the activation's derivative written with PyTorch ops (bandlimit/ops/cuda/_ops.py),
// so that double backward composes.
#include "common.h"
#include "launch.h"

namespace bl {

template <typename scalar_t, typename acc_t>
__global__ void bias_act_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ b,
                                scalar_t* __restrict__ y, int64_t total, int64_t channels,
                                int64_t inner, int act, acc_t alpha, acc_t gain, acc_t clamp) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += stride) {
    acc_t v = static_cast<acc_t>(x[i]);
    if (b != nullptr) v += static_cast<acc_t>(b[(i / inner) % channels]);
    v = activate<acc_t>(act, v, alpha) * gain;
    if (clamp >= acc_t(0)) v = v > clamp ? clamp : (v < -clamp ? -clamp : v);
    y[i] = static_cast<scalar_t>(v);
  }
}

template <typename scalar_t>
void launch_bias_act(const BiasActArgs& a) {
  using acc_t = acc_of<scalar_t>;
  if (a.total == 0) return;
  BL_DEVICE_GUARD(a.device);
  const int64_t threads = a.block_threads > 0 ? a.block_threads : 256;
  const int64_t blocks = std::min<int64_t>((a.total + threads - 1) / threads, int64_t(1) << 20);
  auto kernel = &bias_act_kernel<scalar_t, acc_t>;
  BL_LAUNCH(kernel, dim3(static_cast<unsigned>(blocks)), dim3(static_cast<unsigned>(threads)), 0,
            static_cast<const scalar_t*>(a.x), static_cast<const scalar_t*>(a.b),
            static_cast<scalar_t*>(a.y), a.total, a.channels, a.inner, a.act,
            static_cast<acc_t>(a.alpha), static_cast<acc_t>(a.gain), static_cast<acc_t>(a.clamp));
}

template void launch_bias_act<c10::Half>(const BiasActArgs&);
template void launch_bias_act<c10::BFloat16>(const BiasActArgs&);
template void launch_bias_act<float>(const BiasActArgs&);
template void launch_bias_act<double>(const BiasActArgs&);

}  // namespace bl
