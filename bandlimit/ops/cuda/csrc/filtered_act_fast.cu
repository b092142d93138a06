// Fast specialisations of the fused filtered activation: the geometries of StyleGAN3 (filter_size
// 6) and of BigVGAN's 1-D activations, with factors and taps as compile-time constants.
//
//   spec                      serves
//   u2/12 -> d2/12            T and R layers with up 2 (forward and backward; R's 12x12 radial
//                             down filter and, transposed, its full up filter: the 2-D loops);
//                             alias-free-torch / BigVGAN 1-D (ONE_D)
//   u4/24 -> d2/12            T and R layers with up 4 (forward)
//   u2/12 -> d4/24            their backward (fd transposed up by 2, fu transposed down by 4)
//
// Separable or full 2-D filters at either stage are a run-time (block-uniform) branch of the same
// instantiation. With separable filters the fast kernels also block their loops (see
// filtered_act_kernel.cuh): stage A computes the `up` phases of one input window per thread,
// stage B's vertical pass two outputs per column window, taps in registers; a full 2-D stage A
// filter is blocked over the up x up phases of one window. Each spec is instantiated for the
// three epilogues (filtered_act_kernel.cuh, Epi). ptxas (sm_90, nvcc 13.0): 32-80 registers, no
// spills (the launch caps the block at what the registers allow). float64 always takes the
// generic kernel (it exists for checking, not speed), and so does everything unmatched: other
// factors or taps, anisotropic factors, ToRGB's 1 -> 1.
#include "filtered_act_kernel.cuh"

namespace bl {

namespace {

using SpecU2D2 = FaSpec<2, 12, 2, 12>;
using SpecU4D2 = FaSpec<4, 24, 2, 12>;
using SpecU2D4 = FaSpec<2, 12, 4, 24>;
using SpecU2D2Line = FaSpec<2, 12, 2, 12, true>;

template <class S>
bool matches(const FaGeom& g) {
  const bool x = g.uax == S::UA && g.kax == S::KA && g.dbx == S::DB && g.kbx == S::KB;
  if (S::ONE_D) return x && g.uay == 1 && g.kay == 1 && g.dby == 1 && g.kby == 1;
  return x && g.uay == S::UA && g.kay == S::KA && g.dby == S::DB && g.kby == S::KB;
}

}  // namespace

int fast_spec_index(const FaGeom& g, bool is_double) {
  if (is_double) return -1;
  if (matches<SpecU2D2>(g)) return 0;
  if (matches<SpecU4D2>(g)) return 1;
  if (matches<SpecU2D4>(g)) return 2;
  if (matches<SpecU2D2Line>(g)) return 3;
  return -1;
}

const char* fast_spec_name(int index) {
  switch (index) {
    case 0: return "u2k12_d2k12";
    case 1: return "u4k24_d2k12";
    case 2: return "u2k12_d4k24";
    case 3: return "u2k12_d2k12_1d";
    default: return "generic";
  }
}

template <typename scalar_t>
bool launch_filtered_act_fast(const FaArgs& a) {
  if constexpr (std::is_same_v<scalar_t, double>) {
    return false;
  } else {
    switch (fast_spec_index(a.g, false)) {
      case 0: launch_filtered_act_spec<scalar_t, SpecU2D2>(a); return true;
      case 1: launch_filtered_act_spec<scalar_t, SpecU4D2>(a); return true;
      case 2: launch_filtered_act_spec<scalar_t, SpecU2D4>(a); return true;
      case 3: launch_filtered_act_spec<scalar_t, SpecU2D2Line>(a); return true;
      default: return false;
    }
  }
}

template bool launch_filtered_act_fast<c10::Half>(const FaArgs&);
template bool launch_filtered_act_fast<c10::BFloat16>(const FaArgs&);
template bool launch_filtered_act_fast<float>(const FaArgs&);
template bool launch_filtered_act_fast<double>(const FaArgs&);

}  // namespace bl
