// The interface between the host code (binding.cpp: ATen tensors, checks, dtype dispatch) and the
// kernels (*.cu: raw pointers, no ATen). One launcher per kernel, explicitly instantiated per
// storage type in its .cu file. `device` is the CUDA device index the launch is guarded to.
#pragma once

#include <cstdint>

namespace bl {

// Activation codes, shared with bandlimit/ops/cuda/_ops.py (ACT_CODES: 0-8, bias_act's table;
// FA_ACT_CODES: all of them, the filtered activation's table).
enum Act : int {
  kLinear = 0,
  kRelu = 1,
  kLrelu = 2,
  kTanh = 3,
  kSigmoid = 4,
  kElu = 5,
  kSelu = 6,
  kSoftplus = 7,
  kSwish = 8,
  kGelu = 9,       // exact: v * Phi(v)
  kGeluTanh = 10,  // tanh approximation (Hendrycks & Gimpel 2016)
  kSnake = 11,     // v + sin^2(alpha v) / (alpha + eps)
  kSnakeBeta = 12, // v + sin^2(alpha v) / (beta + eps)
};
constexpr int kLastBiasAct = kSwish;
constexpr int kLastAct = kSnakeBeta;

struct UpfirdnArgs {
  const void* x;  // [planes, h, w] of in_t
  const void* f;  // [kh, kw] of acc_of<in_t, out_t>, correlation form
  void* y;        // [planes, ho, wo] of out_t
  int64_t planes;
  int h, w, kh, kw, ux, uy, dx, dy, px0, py0, ho, wo;
  int device;
  int block_threads;
};

template <typename in_t, typename out_t>
void launch_upfirdn(const UpfirdnArgs& a);

struct BiasActArgs {
  const void* x;  // [total] of scalar_t
  const void* b;  // [channels] of scalar_t or nullptr
  void* y;
  int64_t total, channels, inner;  // bias of element i: b[(i / inner) % channels]
  int act;
  double alpha, gain, clamp;  // clamp < 0: none
  int device;
  int block_threads;
};

template <typename scalar_t>
void launch_bias_act(const BiasActArgs& a);

// Words of si (the intermediate tile) after its last row: stage B's blocked passes read whole
// fours, a few words past their last window (filtered_act_kernel.cuh checks its reads fit).
constexpr int kSiSpare = 8;

// Dynamic shared memory a block may use without opting in (every GPU since compute capability 3.0).
constexpr int64_t kDefaultSmemBytes = 48 * 1024;

struct FaGeom {
  int64_t planes;
  int channels;
  int h, w;          // input plane (extended by ext_a: the extension's size)
  // Stage A's extension of the input: 0 none (zero padding); 1 replicate, 2 circular: the
  // input, sh x sw samples, extended by whole samples, eax0 / eay0 of them before it.
  int ext_a, eax0, eay0, sh, sw;
  int hi, wi;        // intermediate plane
  int ho, wo;        // output plane
  int uax, uay;      // stage A upsampling factors
  int pax, pay;      // stage A leading padding (the trailing one is implied by hi, wi)
  int kax, kay;      // stage A taps
  int sep_a;         // stage A filter separable (fx taps then fy taps) or 2-D [kay, kax]
  int dbx, dby;      // stage B downsampling factors
  int pbx, pby;      // stage B leading padding
  int kbx, kby;      // stage B taps
  int sep_b;
  int ext_b;         // stage B's extension of the intermediate plane: 0 zeros, 1 replicate
  int tow, toh;      // output tile
  int tsh;           // output rows per strip (toh: the tile is one strip); see the kernel
  int tiw, tih;      // intermediate tile (of a strip): (tow - 1) * dbx + kbx, (tsh - 1) * dby + kby
  int siw;           // its (and st1's) row stride in shared memory: tiw rounded up to 4k
  int txw, txh;      // input tile (of a strip; an upper bound over tiles)
  int off_t1, off_i, off_fa, off_fb;  // shared-memory offsets, in accumulator elements
  int off_2;         // stage B's x-pass output: 0 (the input tile's storage) for one strip
  // Forward with a mask: each sample's 2-bit code goes to a shared byte array (at off_m, rows of
  // mstride bytes, column = tile-local x + (i0x mod 16)), packed into mask words after stage A.
  int off_m, mstride;
  // The backward reading u (mode 2) with snake / snakebeta: a block's per-thread sums of the
  // parameter gradients, 2 x blockDim accumulators at off_r (nred of them; 0: none), reduced
  // after the plane's last strip (0: over the tile's arrays, free by then).
  int off_r, nred;
  // The backward reading u: the forward's replicate extension of the intermediate plane (its
  // ext_b), efx0 / efx1 / efy0 / efy1 samples before / after it along x / y, folded back onto
  // the edge samples they copy (fold = 1).
  int fold, efx0, efx1, efy0, efy1;
  int mode;          // 0 forward, 1 backward reading the mask, 2 backward reading u
  int mma;           // 1: stage B's separable x pass on tensor cores (half storage, fast 2-D specs)
  int rev;           // 1: both filters staged reversed (the backward's transposed stages)
  int act;
  int64_t mask_words;  // 32-bit words per mask row
  // Output tiles along x and y. Tile (tx, ty) is block (x, y), or with flat_tiles (more tile
  // rows than grid.y's 65535 allows: a tall, narrow plane) block x = ty * tiles_x + tx.
  int64_t tiles_x, tiles_y;
  int flat_tiles;
};

struct FaArgs {
  const void* x;     // [planes, sh, sw] of scalar_t (the input, before any extension)
  const void* bias;  // [channels] of scalar_t or nullptr
  const void* fa;    // stage A taps, accumulator type: x taps (separable) or [ky, kx] (2-D)
  const void* fay;   // stage A y taps (separable; unused for 2-D)
  const void* fb;    // stage B taps, likewise
  const void* fby;
  const void* pa;    // [channels] snake alpha, accumulator type, or nullptr
  const void* pb;    // [channels] snakebeta beta, accumulator type, or nullptr
  void* y;           // [planes, ho, wo]
  uint32_t* mask;    // [planes, hi, mask_words] or nullptr
  // u, the forward's pre-activation at the intermediate samples, accumulator type, [planes,
  // hi, wi]: the forward writes it (or nullptr), the backward of mode 2 reads it.
  void* u;
  // mode 2 with snake / snakebeta: [planes, tiles_y, tiles_x, 2] per-block sums of the gradients
  // of alpha and beta (accumulator type), else nullptr.
  void* psum;
  FaGeom g;
  double alpha, gain, clamp;
  int64_t grid_x, grid_y, grid_z;
  int block_threads;
  int64_t smem_bytes;
  int device;
  int fast;          // 1: use the fast kernel of a matching spec (filtered_act_fast.cu)
};

template <typename scalar_t>
void launch_filtered_act(const FaArgs& a);

// The most dynamic shared memory one block may opt in to on this device (sm_90: 227 KB).
int64_t smem_opt_in_max(int device);

// Whether this device has the tensor-core instruction of mma.h (compute capability 8.0 or later;
// the emulation has it).
bool mma_supported(int device);

// D = A B + C for A [16, 16], B [16, 8], C [16, 8] (float32, row-major), A and B rounded to the
// half type (bf16: bfloat16, else float16), through one warp's fragments (mma.h): a check of the
// fragment layout against the hardware (GPU) or a matmul (emulation).
void launch_mma_probe(const float* a, const float* b, const float* c, float* d, bool bf16,
                      int device);

// The fast spec serving g's factors and taps (float64: never), -1 if none; and its name
// ("generic" for -1). Only g's factors and taps are read.
int fast_spec_index(const FaGeom& g, bool is_double);
const char* fast_spec_name(int index);

}  // namespace bl
