// The fused filtered activation's launcher: the fast kernel of a matching spec
// (filtered_act_fast.cu) when allowed, else the generic instantiation of the kernel
// (filtered_act_kernel.cuh), which serves any factors and taps.
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

template void launch_filtered_act<c10::Half>(const FaArgs&);
template void launch_filtered_act<c10::BFloat16>(const FaArgs&);
template void launch_filtered_act<float>(const FaArgs&);
template void launch_filtered_act<double>(const FaArgs&);

}  // namespace bl
