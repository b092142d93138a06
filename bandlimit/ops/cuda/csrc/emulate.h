// Host emulation of the small CUDA subset that the kernels in this directory use.
//
// Used ONLY by the CPU test build (emulate_ext.cpp): the very same kernel sources are compiled by
// g++ and run on CPU tensors, so their index arithmetic, tiling, halo and mask logic can be tested
// without a GPU. A launch runs the grid's blocks one after another; the threads of a block are
// real std::threads that meet at a std::barrier for every __syncthreads(), so a block with
// blockDim > 1 exercises the barrier placement (races can still go unnoticed: this is a check,
// not a proof). Shared memory is filled with 0xFF bytes (a NaN pattern) before every block, so
// reading a shared value that was never written shows up as NaN.
#pragma once

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

namespace bl_emu {

inline thread_local dim3 tls_thread_idx;
inline thread_local dim3 tls_block_idx;
inline thread_local dim3 tls_block_dim;
inline thread_local dim3 tls_grid_dim;
inline thread_local unsigned char* tls_smem = nullptr;
inline thread_local std::barrier<>* tls_barrier = nullptr;

inline void syncthreads() {
  if (tls_barrier != nullptr) tls_barrier->arrive_and_wait();
}

inline unsigned int atomic_or(unsigned int* addr, unsigned int v) {
  return std::atomic_ref<unsigned int>(*addr).fetch_or(v);
}

// Runs kernel(args...) over grid x block. Every thread walks the blocks in the same order and
// meets the others at a barrier before and after each block (the shared buffer is reused).
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, std::size_t smem_bytes, void (*kernel)(P...), A... args) {
  const unsigned int nthreads = block.x * block.y * block.z;
  std::vector<unsigned char> smem(smem_bytes + 16);
  std::barrier<> bar(static_cast<std::ptrdiff_t>(nthreads));
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&](unsigned int t) {
    tls_thread_idx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    tls_block_dim = block;
    tls_grid_dim = grid;
    tls_smem = smem.data();
    tls_barrier = nthreads > 1 ? &bar : nullptr;
    try {
      for (unsigned int bz = 0; bz < grid.z; ++bz)
        for (unsigned int by = 0; by < grid.y; ++by)
          for (unsigned int bx = 0; bx < grid.x; ++bx) {
            if (t == 0) std::memset(smem.data(), 0xFF, smem.size());
            syncthreads();
            tls_block_idx = dim3(bx, by, bz);
            kernel(static_cast<P>(args)...);
            syncthreads();
          }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      error = std::current_exception();
    }
    tls_barrier = nullptr;
  };
  if (nthreads == 1) {
    worker(0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned int t = 0; t < nthreads; ++t) pool.emplace_back(worker, t);
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace bl_emu

#define threadIdx (::bl_emu::tls_thread_idx)
#define blockIdx (::bl_emu::tls_block_idx)
#define blockDim (::bl_emu::tls_block_dim)
#define gridDim (::bl_emu::tls_grid_dim)
#define __syncthreads() ::bl_emu::syncthreads()
#define atomicOr(addr, v) ::bl_emu::atomic_or((addr), (v))
