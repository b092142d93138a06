// Host emulation of the small CUDA subset that the kernels in this directory use.
//
// Used ONLY by the CPU test build (emulate_ext.cpp): the very same kernel sources are compiled by
// g++ and run on CPU tensors, so their index arithmetic, tiling, halo and mask logic can be tested
// without a GPU. A launch runs the grid's blocks one after another (two at a time in the race-check
// build, below), in reverse order (a GPU promises no order, so nothing may depend on the natural
// one); the threads of a block are real std::threads that meet at a barrier for every
// __syncthreads(), so a block with blockDim > 1 exercises the barrier placement. Shared memory
// is filled with 0xFF bytes (a NaN pattern) before every block, so reading a shared value that
// was never written shows up as NaN; so does a read just before or past the dynamic allocation,
// and a write there is an error. A launch that breaks one of CUDA's limits (below) is refused,
// as a GPU refuses it, instead of quietly running.
//
// Races and bounds: a plain build runs a racy schedule only by chance and checks no global-memory
// bounds. The checking builds (BANDLIMIT_EMULATION_SANITIZER, _build.py;
// tests/ops/test_cuda_sanitizers.py) close that. 'thread' compiles this under ThreadSanitizer
// and runs two blocks at a time (BL_EMULATE_TEAMS), so any two threads, of one block or of two
// blocks adjacent along an axis, that touch the same shared or global memory without a barrier
// or an atomic between them are reported (ThreadSanitizer checks happens-before, so a race need
// not strike to be seen).
// 'address' (AddressSanitizer and UBSan) reports any access past a tensor's storage or the guard
// bytes, and undefined behaviour such as a signed overflow in index arithmetic.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
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
#define __noinline__ __attribute__((noinline))
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
// A block's __syncthreads(): a sense-reversing barrier on two atomics of its own. Every arrival
// happens before every departure of the same phase, and nothing a thread does between barriers is
// ordered otherwise, so the race check sees exactly what __syncthreads() promises. (std::barrier
// waits through a pool shared by every barrier of the process, and a mutex-based one lets a late
// waiter take the mutex after the next phase's arrivals: both order accesses that
// __syncthreads() does not, hiding races.)
class Barrier {
 public:
  explicit Barrier(unsigned int n) : n_(n) {}
  void arrive_and_wait() {
    // The phase cannot advance before this thread arrives, so reading it first is safe.
    const unsigned int phase = phase_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      arrived_.store(0, std::memory_order_relaxed);
      phase_.store(phase + 1, std::memory_order_release);
      return;
    }
    while (phase_.load(std::memory_order_acquire) == phase) std::this_thread::yield();
  }

 private:
  const unsigned int n_;
  std::atomic<unsigned int> arrived_{0};
  std::atomic<unsigned int> phase_{0};
};

inline thread_local Barrier* tls_barrier = nullptr;

// Set by a vector load (common.h, load_vec) from shared memory misaligned for its width, which
// would fault on a GPU; the launch then fails after the kernel (a throw mid-kernel would leave
// the block's other threads waiting at a barrier).
inline std::atomic<bool> misaligned_load{false};

inline void syncthreads() {
  if (tls_barrier != nullptr) tls_barrier->arrive_and_wait();
}

inline unsigned int atomic_or(unsigned int* addr, unsigned int v) {
  // Relaxed, as CUDA's atomicOr: no ordering between blocks that the race check could rely on.
  return std::atomic_ref<unsigned int>(*addr).fetch_or(v, std::memory_order_relaxed);
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

// Blocks that run at the same time, each on its own team of threads with its own shared memory.
// The race-check build (BL_EMULATE_TEAMS=2 under ThreadSanitizer, _build.py) runs two, so that
// two blocks writing the same global memory without an atomic are reported; otherwise blocks
// run one after another. A team's own blocks run in order, so ThreadSanitizer never checks them
// against each other: with two teams, blocks adjacent along an axis are checked, diagonal
// neighbours are not.
#ifndef BL_EMULATE_TEAMS
#define BL_EMULATE_TEAMS 1
#endif

// Runs kernel(args...) over grid x block. Block (x, y, z) runs on team (x + y + z) mod teams;
// every thread of a team walks that team's blocks in the same (reversed) order and meets the
// others at a barrier before and after each block (the team's shared buffer is reused).
template <typename... P, typename... A>
void launch(dim3 grid, dim3 block, std::size_t smem_bytes, void (*kernel)(P...), A... args) {
  check_launch(grid, block, smem_bytes);
  const unsigned int nthreads = block.x * block.y * block.z;
  const unsigned long long nblocks = 1ull * grid.x * grid.y * grid.z;
  const unsigned int teams =
      static_cast<unsigned int>(std::min<unsigned long long>(BL_EMULATE_TEAMS, nblocks));
  struct Team {
    std::vector<unsigned char> smem;
    Barrier bar;
    bool overflow = false;
    Team(std::size_t bytes, unsigned int n) : smem(bytes), bar(n) {}
  };
  std::vector<std::unique_ptr<Team>> team_state;
  for (unsigned int k = 0; k < teams; ++k)
    team_state.push_back(std::make_unique<Team>(kSmemGuard + smem_bytes + kSmemGuard, nthreads));
  // Thread 0 of a team checks the guards of the block that just ran (all its threads are past
  // that block's last barrier) before it refills the buffer; the team's other threads learn of
  // an overflow at the next barrier.
  auto guard_intact = [&](const std::vector<unsigned char>& smem) {
    auto nan = [](unsigned char c) { return c == 0xFF; };
    const auto end = smem.begin() + static_cast<std::ptrdiff_t>(kSmemGuard + smem_bytes);
    return std::all_of(smem.begin(), smem.begin() + kSmemGuard, nan) &&
           std::all_of(end, smem.end(), nan);
  };
  auto overflow_error = [&](dim3 b) {
    return std::runtime_error("emulated kernel wrote outside its " +
                              std::to_string(smem_bytes) + " bytes of dynamic shared memory "
                              "(block (" + std::to_string(b.x) + ", " + std::to_string(b.y) +
                              ", " + std::to_string(b.z) + "))");
  };
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&](unsigned int team, unsigned int t) {
    Team& ts = *team_state[team];
    tls_thread_idx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
    tls_block_dim = block;
    tls_grid_dim = grid;
    tls_smem = ts.smem.data() + kSmemGuard;
    tls_barrier = nthreads > 1 ? &ts.bar : nullptr;
    try {
      bool first = true;
      dim3 last;
      const unsigned long long plane = 1ull * grid.x * grid.y;
      for (unsigned long long k = nblocks; k-- > 0;) {
        const dim3 b(static_cast<unsigned int>(k % grid.x),
                     static_cast<unsigned int>(k / grid.x % grid.y),
                     static_cast<unsigned int>(k / plane));
        if ((1ull * b.x + b.y + b.z) % teams != team) continue;
        if (t == 0) {
          ts.overflow = !first && !guard_intact(ts.smem);
          std::memset(ts.smem.data(), 0xFF, ts.smem.size());
        }
        syncthreads();
        if (ts.overflow) {
          if (t == 0) throw overflow_error(last);
          return;
        }
        first = false;
        last = tls_block_idx = b;
        kernel(static_cast<P>(args)...);
        syncthreads();
      }
      if (t == 0 && !first && !guard_intact(ts.smem)) throw overflow_error(last);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      error = std::current_exception();
    }
    tls_barrier = nullptr;
  };
  if (nthreads == 1 && teams == 1) {
    worker(0, 0);
  } else {
    std::vector<std::thread> pool;
    for (unsigned int team = 0; team < teams; ++team)
      for (unsigned int t = 0; t < nthreads; ++t) pool.emplace_back(worker, team, t);
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
  if (misaligned_load.exchange(false))
    throw std::runtime_error("emulated kernel made a vector load from misaligned shared memory");
}

// The race check's self-test (tests/ops/test_cuda_sanitizers.py): a 2 x 2 grid of two-thread
// blocks. Thread 0 writes a shared word that thread 1 reads, with or without a barrier between;
// thread 1 adds it to its block's slot of `out`, or, unless own_slot, to its column's slot, which
// the column's two blocks (neighbours along y) then share. The race-check build must report the
// missing barrier and the shared slots, and only them.
inline void race_probe_kernel(float* out, bool barrier, bool own_slot) {
  float* word = reinterpret_cast<float*>(tls_smem);
  const unsigned int block = tls_block_idx.x + 2 * tls_block_idx.y;
  if (tls_thread_idx.x == 0) *word = 1.0f + static_cast<float>(block);
  if (barrier) syncthreads();
  if (tls_thread_idx.x == 1) out[own_slot ? block : tls_block_idx.x] += *word;
}

inline std::vector<float> race_probe(bool barrier, bool own_slot) {
  std::vector<float> out(4, 0.0f);
  launch(dim3(2, 2), dim3(2), sizeof(float), race_probe_kernel, out.data(), barrier, own_slot);
  return out;
}

// The bounds check's self-test: one thread sums a heap array of four floats, or five (one past
// its end, which the AddressSanitizer build must report).
inline void bounds_probe_kernel(const float* in, float* out, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += in[i];
  *out = sum;
}

inline float bounds_probe(bool past_end) {
  std::vector<float> in(4, 1.0f);
  float out = 0.0f;
  launch(dim3(1), dim3(1), 0, bounds_probe_kernel, static_cast<const float*>(in.data()), &out,
         past_end ? 5 : 4);
  return out;
}

// The undefined-behaviour check's self-test: an int index one past INT_MAX (signed overflow), or
// up to it.
inline void overflow_probe_kernel(int base, int* out) {
  *out = base + static_cast<int>(tls_thread_idx.x) + 1;
}

inline int overflow_probe(bool overflow) {
  int out = 0;
  launch(dim3(1), dim3(1), 0, overflow_probe_kernel,
         std::numeric_limits<int>::max() - (overflow ? 0 : 1), &out);
  return out;
}

}  // namespace bl_emu

#define threadIdx (::bl_emu::tls_thread_idx)
#define blockIdx (::bl_emu::tls_block_idx)
#define blockDim (::bl_emu::tls_block_dim)
#define gridDim (::bl_emu::tls_grid_dim)
#define __syncthreads() ::bl_emu::syncthreads()
#define atomicOr(addr, v) ::bl_emu::atomic_or((addr), (v))
