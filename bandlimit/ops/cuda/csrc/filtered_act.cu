// The fused filtered activation's launcher: the fast kernel of a matching spec
// (filtered_act_fast.cu) when allowed, else the generic instantiation of the kernel
// (filtered_act_kernel.cuh), which serves any factors and taps.
#include <array>
#include <atomic>

#include "filtered_act_kernel.cuh"

namespace bl {

template <typename scalar_t>
void launch_filtered_act(const FaArgs& a) {
  if (a.g.planes == 0) return;
  BL_DEVICE_GUARD(a.device);
  if (a.fast && launch_filtered_act_fast<scalar_t>(a)) return;
  launch_filtered_act_spec<scalar_t, GenericSpec>(a);
}

int64_t smem_opt_in_max(int device) {
#ifdef BL_EMULATE
  (void)device;
  return ::bl_emu::kMaxDynamicSmemOptIn;
#else
  int v = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return v;
#endif
}

namespace {

// One warp: A to shared memory in the half type (as the FIR pass reads its tile), A and B through
// the fragments, D out.
template <typename half_t>
__global__ void mma_probe_kernel(const float* __restrict__ a, const float* __restrict__ b,
                                 const float* __restrict__ c, float* __restrict__ d) {
  BL_DYN_SMEM(smem_raw);
  half_t* sa = reinterpret_cast<half_t*>(smem_raw);
  const int tid = static_cast<int>(threadIdx.x), nt = static_cast<int>(blockDim.x);
  for (int i = tid; i < 16 * 16; i += nt) sa[i] = static_cast<half_t>(a[i]);
  __syncthreads();
  LaneRegs<4> fa;
  LaneRegs<2> fb;
  LaneAcc acc;
  for (int li = 0; li < kLanes; ++li) {
    const int lane = lane_of(li), g = lane >> 2;
    load_a_rows<half_t>(fa.r[li], sa + g * 16, sa + (g + 8) * 16, lane, [](int) { return true; });
    load_b<half_t>(fb.r[li], lane,
                   [&](int k, int n) { return F2{b[k * 8 + n], b[(k + 1) * 8 + n]}; });
    for (int i = 0; i < 4; ++i) acc.v[li][i] = c[acc_row(lane, i) * 8 + acc_col(lane, i)];
  }
  mma_16816<half_t>(acc, fa, fb);
  for (int li = 0; li < kLanes; ++li) {
    const int lane = lane_of(li);
    for (int i = 0; i < 4; ++i) d[acc_row(lane, i) * 8 + acc_col(lane, i)] = acc.v[li][i];
  }
}

}  // namespace

bool mma_supported(int device) {
#ifdef BL_EMULATE
  (void)device;
  return true;
#else
  // Asked on every half-precision launch and fixed for the process (the device, and the code
  // loaded for it), so cached per device: 0 unknown, 1 yes, -1 no.
  static std::array<std::atomic<int8_t>, 64> known{};
  const bool cacheable = device >= 0 && device < static_cast<int>(known.size());
  if (cacheable) {
    const int8_t k = known[device].load(std::memory_order_relaxed);
    if (k != 0) return k > 0;
  }
  int major = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  bool ok = major >= 8;
  if (ok) {
    // The code loaded for the device must have been compiled for the instruction too: a build
    // for an older architecture (TORCH_CUDA_ARCH_LIST="7.5+PTX", JIT-compiled for this GPU) has
    // mma_16816 as a trap (mma.h), which would lose the CUDA context.
    BL_DEVICE_GUARD(device);
    cudaFuncAttributes attr{};
    C10_CUDA_CHECK(cudaFuncGetAttributes(&attr, mma_probe_kernel<c10::Half>));
    ok = attr.ptxVersion >= 80;
  }
  if (cacheable) known[device].store(ok ? 1 : -1, std::memory_order_relaxed);
  return ok;
#endif
}

void launch_mma_probe(const float* a, const float* b, const float* c, float* d, bool bf16,
                      int device) {
  BL_DEVICE_GUARD(device);
  const dim3 block(static_cast<unsigned>(32 / kLanes));  // one warp (one emulated thread)
  const size_t smem = 16 * 16 * sizeof(c10::Half);  // A, in either half type
  if (bf16)
    BL_LAUNCH(mma_probe_kernel<c10::BFloat16>, dim3(1), block, smem, a, b, c, d);
  else
    BL_LAUNCH(mma_probe_kernel<c10::Half>, dim3(1), block, smem, a, b, c, d);
}

template void launch_filtered_act<c10::Half>(const FaArgs&);
template void launch_filtered_act<c10::BFloat16>(const FaArgs&);
template void launch_filtered_act<float>(const FaArgs&);
template void launch_filtered_act<double>(const FaArgs&);

}  // namespace bl
