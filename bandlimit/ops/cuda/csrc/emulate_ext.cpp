// CPU emulation build: the CUDA kernel sources of this directory compiled by the host compiler
// (see emulate.h). For tests only; bandlimit never dispatches to it.
#define BL_EMULATE 1
#include "upfirdn.cu"
#include "bias_act.cu"
#include "filtered_act.cu"
#include "filtered_act_fast.cu"
#include "binding.cpp"
