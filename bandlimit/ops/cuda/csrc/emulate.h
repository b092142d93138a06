// Host emulation of the small CUDA subset that the kernels in this directory use.
//
// Used ONLY by the CPU test build (emulate_ext.cpp): the very same kernel sources are compiled by
// g++ and run on CPU tensors, so their index arithmetic, tiling, halo and mask logic can be tested
// without a GPU. A launch runs the grid's blocks one after another, in reverse order (a GPU
// promises no order, so nothing may depend on the natural one); the threads of a block are real
// std::threads that meet at a std::barrier for every __syncthreads(), so a block with
// blockDim > 1 exercises the barrier placement (races can still go unnoticed: this is a check,
// not a proof; and blocks never overlap, so inter-block races are not exercised at all). Shared
// memory is filled with 0xFF bytes (a NaN pattern) before every block, so reading a shared value
// that was never written shows up as NaN; so does a read just before or past the dynamic
// allocation, and a write there is an error. A launch that breaks one of CUDA's limits (below) is refused, as a
// GPU refuses it, instead of quietly running.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

// Set by a vector load (common.h, load_vec) from shared memory misaligned for its width, which
// would fault on a GPU; the launch then fails after the kernel (a throw mid-kernel would leave
// the block's other threads waiting at a barrier).
inline std::atomic<bool> misaligned_load{false};

inline void syncthreads() {
  if (tls_barrier != nullptr) tls_barrier->arrive_and_wait();
}

inline unsigned int atomic_or(unsigned int* addr, unsigned int v) {
  return std::atomic_ref<unsigned int>(*addr).fetch_or(v);
}

// CUDA's launch limits (compute capability 3.0 and later, sm_90 included). A kernel launched past
// one of them does not run on a GPU (C10_CUDA_KERNEL_LAUNCH_CHECK raises); dynamic shared memory
// above 48 KB needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize) first,
// emulated by BL_SMEM_OPT_IN setting tls_smem_opt_in for the next launch (up to sm_90's 227 KB).
constexpr unsigned int kMaxThreadsPerBlock = 1024, kMaxBlockDimZ = 64;
constexpr unsigned int kMaxGridDimX = 0x7FFFFFFFu, kMaxGridDimYZ = 65535;
constexpr std::size_t kMaxDynamicSmem = 48 * 1024, kMaxDynamicSmemOptIn = 227 * 1024;
inline thread_local bool tls_smem_opt_in = false;
constexpr std::size_t kSmemGuard = 256;  // NaN bytes before and after the allocation

inline void check_launch(dim3 grid, dim3 block, std::size_t smem_bytes) {
  const bool opt_in = std::exchange(tls_smem_opt_in, false);  // first: a throw below clears it
  auto str = [](dim3 d) {
    return "(" + std::to_string(d.x) + ", " + std::to_string(d.y) + ", " + std::to_string(d.z) +
           ")";
  };
  const unsigned long long threads = 1ull * block.x * block.y * block.z;
  if (threads == 0 || threads > kMaxThreadsPerBlock || block.z > kMaxBlockDimZ)
    throw std::runtime_error("emulated launch: blockDim " + str(block) + " is past CUDA's limits");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > kMaxGridDimX ||
      grid.y > kMaxGridDimYZ || grid.z > kMaxGridDimYZ)
    throw std::runtime_error("emulated launch: gridDim " + str(grid) +
                             " is past CUDA's limits (y and z at most 65535)");
  if (smem_bytes > (opt_in ? kMaxDynamicSmemOptIn : kMaxDynamicSmem))
    throw std::runtime_error("emulated launch: " + std::to_string(smem_bytes) +
                             " bytes of dynamic shared memory, past the " +
                             (opt_in ? "227 KB opt-in" : "48 KB default") + " limit");
}

// Runs kernel(args...) over grid x block. Every thread walks the blocks in the same order and
// meets the others at a barrier before and after each block (the shared buffer is reused).
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, std::size_t smem_bytes, void (*kernel)(P...), A... args) {
  check_launch(grid, block, smem_bytes);
  const unsigned int nthreads = block.x * block.y * block.z;
  std::vector<unsigned char> smem(kSmemGuard + smem_bytes + kSmemGuard);
  // Thread 0 checks the guards of the block that just ran (all threads are past its last
  // barrier) before it refills the buffer; the other threads learn of an overflow at the next
  // barrier.
  auto guard_intact = [&] {
    auto nan = [](unsigned char c) { return c == 0xFF; };
    const auto end = smem.begin() + static_cast<std::ptrdiff_t>(kSmemGuard + smem_bytes);
    return std::all_of(smem.begin(), smem.begin() + kSmemGuard, nan) &&
           std::all_of(end, smem.end(), nan);
  };
  bool overflow = false;
  auto overflow_error = [&](dim3 b) {
    return std::runtime_error("emulated kernel wrote outside its " +
                              std::to_string(smem_bytes) + " bytes of dynamic shared memory "
                              "(block (" + std::to_string(b.x) + ", " + std::to_string(b.y) +
                              ", " + std::to_string(b.z) + "))");
  };
  std::barrier<> bar(static_cast<std::ptrdiff_t>(nthreads));
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&](unsigned int t) {
    tls_thread_idx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    tls_block_dim = block;
    tls_grid_dim = grid;
    tls_smem = smem.data() + kSmemGuard;
    tls_barrier = nthreads > 1 ? &bar : nullptr;
    try {
      bool first = true;
      dim3 last;
      for (unsigned int bz = grid.z; bz-- > 0;)
        for (unsigned int by = grid.y; by-- > 0;)
          for (unsigned int bx = grid.x; bx-- > 0;) {
            if (t == 0) {
              overflow = !first && !guard_intact();
              std::memset(smem.data(), 0xFF, smem.size());
            }
            syncthreads();
            if (overflow) {
              if (t == 0) throw overflow_error(last);
              return;
            }
            first = false;
            last = tls_block_idx = dim3(bx, by, bz);
            kernel(static_cast<P>(args)...);
            syncthreads();
          }
      if (t == 0 && !guard_intact()) throw overflow_error(last);
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
  if (misaligned_load.exchange(false))
    throw std::runtime_error("emulated kernel made a vector load from misaligned shared memory");
}

}  // namespace bl_emu

#define threadIdx (::bl_emu::tls_thread_idx)
#define blockIdx (::bl_emu::tls_block_idx)
#define blockDim (::bl_emu::tls_block_dim)
#define gridDim (::bl_emu::tls_grid_dim)
#define __syncthreads() ::bl_emu::syncthreads()
#define atomicOr(addr, v) ::bl_emu::atomic_or((addr), (v))
