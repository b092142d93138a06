// Host side of the bandlimit extension: ATen tensors in, argument checks, dtype dispatch, tile
// and shared-memory planning, then the raw-pointer launchers of the .cu files (launch.h); and the
// Python bindings. The only translation unit that includes ATen/torch headers. The CPU emulation
// build (emulate_ext.cpp) compiles this same file with BL_EMULATE.
#include <torch/extension.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "launch.h"

#ifdef BL_EMULATE
static constexpr bool kEmulated = true;
#define BL_CHECK_DEVICE(t, name) \
  TORCH_CHECK((t).device().is_cpu(), name, " must be a CPU tensor in the emulation build, got ", (t).device())
#define BL_DEVICE_INDEX(t) 0
#else
static constexpr bool kEmulated = false;
#define BL_CHECK_DEVICE(t, name) \
  TORCH_CHECK((t).device().is_cuda(), name, " must be a CUDA tensor, got one on ", (t).device())
#define BL_DEVICE_INDEX(t) static_cast<int>((t).device().index())
#endif

namespace bl {
namespace {

using c10::optional;

bool is_float_dtype(const at::Tensor& t) {
  auto s = t.scalar_type();
  return s == at::kFloat || s == at::kDouble || s == at::kHalf || s == at::kBFloat16;
}

// Filters are read in the accumulation precision: float32, or float64 for float64 data.
at::ScalarType acc_dtype(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

at::Tensor filter_as(const optional<at::Tensor>& f, const at::Tensor& x, const char* name,
                     int64_t ndim) {
  TORCH_CHECK(f.has_value() && f->defined(), name, " is required");
  TORCH_CHECK(f->dim() == ndim, name, " must have ", ndim, " dimension(s), got shape ", f->sizes());
  TORCH_CHECK(f->numel() >= 1, name, " must have at least one tap");
  TORCH_CHECK(f->device() == x.device(), name, " must be on x's device ", x.device(), ", got ",
              f->device());
  return f->to(acc_dtype(x)).contiguous();
}

int64_t out_len(int64_t len, int64_t up, int64_t down, int64_t p0, int64_t p1, int64_t taps) {
  const int64_t n = len * up + p0 + p1 - taps;
  return (n >= 0 ? n / down : -((-n + down - 1) / down)) + 1;
}

// Factors and paddings travel to the kernels as 32-bit ints: refuse what a cast would wrap.
void check_int_args(const char* op, std::initializer_list<const std::vector<int64_t>*> lists) {
  for (const auto* list : lists)
    for (int64_t v : *list)
      TORCH_CHECK(v > -(int64_t(1) << 30) && v < (int64_t(1) << 30), op,
                  ": factors and paddings must be below 2^30 in magnitude, got ", v);
}

// The test knob `block_threads` (0: the launcher's default): at most CUDA's 1024 per block.
int threads_arg(int64_t block_threads, const char* op) {
  TORCH_CHECK(block_threads >= 0 && block_threads <= 1024, op,
              ": block_threads must be in [0, 1024] (0: the default), got ", block_threads);
  return static_cast<int>(block_threads);
}

// The storage type of a dtype and its accumulator, for the launchers' template arguments.
template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

}  // namespace

// ------------------------------------------------------------------------------------------
// upfirdn

at::Tensor upfirdn(const at::Tensor& x_in, const optional<at::Tensor>& fx,
                   const optional<at::Tensor>& fy, const optional<at::Tensor>& f2d,
                   std::vector<int64_t> up, std::vector<int64_t> down, std::vector<int64_t> pad,
                   int64_t block_threads) {
  BL_CHECK_DEVICE(x_in, "upfirdn: x");
  TORCH_CHECK(x_in.dim() == 4, "upfirdn: x must have shape [N, C, H, W], got ", x_in.sizes());
  TORCH_CHECK(is_float_dtype(x_in), "upfirdn: x must be float16/bfloat16/float32/float64, got ",
              x_in.scalar_type());
  TORCH_CHECK(up.size() == 2 && down.size() == 2 && pad.size() == 4,
              "upfirdn: up and down must be (x, y) pairs and pad (x0, x1, y0, y1)");
  TORCH_CHECK(up[0] >= 1 && up[1] >= 1 && down[0] >= 1 && down[1] >= 1,
              "upfirdn: factors must be >= 1, got up=", at::IntArrayRef(up), " down=",
              at::IntArrayRef(down));
  check_int_args("upfirdn", {&up, &down, &pad});
  const int threads = threads_arg(block_threads, "upfirdn");
  TORCH_CHECK(x_in.size(2) < (int64_t(1) << 30) && x_in.size(3) < (int64_t(1) << 30),
              "upfirdn: H and W must be < 2^30");
  const at::Tensor x = x_in.contiguous();
  const bool separable = !(f2d.has_value() && f2d->defined());
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  at::Tensor fxt, fyt, f2t;
  int64_t kw, kh;
  if (separable) {
    fxt = filter_as(fx, x, "upfirdn: fx", 1);
    fyt = filter_as(fy, x, "upfirdn: fy", 1);
    kw = fxt.size(0);
    kh = fyt.size(0);
  } else {
    f2t = filter_as(f2d, x, "upfirdn: f2d", 2);
    kh = f2t.size(0);
    kw = f2t.size(1);
  }
  const int64_t wo = out_len(w, up[0], down[0], pad[0], pad[1], kw);
  const int64_t ho = out_len(h, up[1], down[1], pad[2], pad[3], kh);
  TORCH_CHECK(wo >= 1 && ho >= 1, "upfirdn: output size would be ", ho, "x", wo, " for input ", h,
              "x", w, "; expected at least 1x1");
  TORCH_CHECK(ho < (int64_t(1) << 30) && wo < (int64_t(1) << 30),
              "upfirdn: output H and W must be < 2^30");
  at::Tensor y = at::empty({n, c, ho, wo}, x.options());
  if (n * c == 0) return y;
  auto args = [&](const at::Tensor& in, const at::Tensor& f, at::Tensor& out, int64_t fkh,
                  int64_t fkw, int ux, int uy, int dx, int dy, int px0, int py0) {
    UpfirdnArgs a{};
    a.x = in.data_ptr();
    a.f = f.data_ptr();
    a.y = out.data_ptr();
    a.planes = n * c;
    a.h = static_cast<int>(in.size(2));
    a.w = static_cast<int>(in.size(3));
    a.kh = static_cast<int>(fkh);
    a.kw = static_cast<int>(fkw);
    a.ux = ux;
    a.uy = uy;
    a.dx = dx;
    a.dy = dy;
    a.px0 = px0;
    a.py0 = py0;
    a.ho = static_cast<int>(out.size(2));
    a.wo = static_cast<int>(out.size(3));
    a.device = BL_DEVICE_INDEX(in);
    a.block_threads = threads;
    return a;
  };
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "bl_upfirdn", [&] {
    using acc = acc_t<scalar_t>;
    if (separable) {
      // x pass into an accumulator-precision intermediate, then the y pass.
      at::Tensor tmp = at::empty({n, c, h, wo}, x.options().dtype(acc_dtype(x)));
      launch_upfirdn<scalar_t, acc>(args(x, fxt, tmp, 1, kw, static_cast<int>(up[0]), 1,
                                         static_cast<int>(down[0]), 1, static_cast<int>(pad[0]),
                                         0));
      launch_upfirdn<acc, scalar_t>(args(tmp, fyt, y, kh, 1, 1, static_cast<int>(up[1]), 1,
                                         static_cast<int>(down[1]), 0, static_cast<int>(pad[2])));
    } else {
      launch_upfirdn<scalar_t, scalar_t>(
          args(x, f2t, y, kh, kw, static_cast<int>(up[0]), static_cast<int>(up[1]),
               static_cast<int>(down[0]), static_cast<int>(down[1]), static_cast<int>(pad[0]),
               static_cast<int>(pad[2])));
    }
  });
  return y;
}

// ------------------------------------------------------------------------------------------
// bias_act

at::Tensor bias_act(const at::Tensor& x_in, const optional<at::Tensor>& b_in, int64_t dim,
                    int64_t act, double alpha, double gain, double clamp, int64_t block_threads) {
  BL_CHECK_DEVICE(x_in, "bias_act: x");
  TORCH_CHECK(is_float_dtype(x_in), "bias_act: x must be float16/bfloat16/float32/float64, got ",
              x_in.scalar_type());
  TORCH_CHECK(act >= 0 && act <= kLastBiasAct, "bias_act: unknown activation code ", act);
  const int threads = threads_arg(block_threads, "bias_act");
  const at::Tensor x = x_in.contiguous();
  at::Tensor b;
  int64_t channels = 1, inner = 1;
  if (b_in.has_value() && b_in->defined()) {
    TORCH_CHECK(dim >= 0 && dim < x.dim(), "bias_act: dim must index an axis of x (ndim ",
                x.dim(), "), got ", dim);
    TORCH_CHECK(b_in->dim() == 1 && b_in->size(0) == x.size(dim), "bias_act: b must have shape [",
                x.size(dim), "], got ", b_in->sizes());
    TORCH_CHECK(b_in->device() == x.device(), "bias_act: b must be on x's device ", x.device());
    b = b_in->to(x.scalar_type()).contiguous();
    channels = x.size(dim);
    for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.size(d);
  }
  at::Tensor y = at::empty_like(x);
  if (x.numel() == 0) return y;
  BiasActArgs a{};
  a.x = x.data_ptr();
  a.b = b.defined() ? b.data_ptr() : nullptr;
  a.y = y.data_ptr();
  a.total = x.numel();
  a.channels = channels;
  a.inner = std::max<int64_t>(inner, 1);
  a.act = static_cast<int>(act);
  a.alpha = alpha;
  a.gain = gain;
  a.clamp = clamp;
  a.device = BL_DEVICE_INDEX(x);
  a.block_threads = threads;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "bl_bias_act",
                                  [&] { launch_bias_act<scalar_t>(a); });
  return y;
}

// ------------------------------------------------------------------------------------------
// filtered activation (the kernel and its design: filtered_act.cu)

namespace {

struct Filter {
  at::Tensor x, y;  // separable: the x and y taps; 2-D: [ky, kx] flattened (twice)
  int kx, ky;
  bool separable;
};

Filter make_filter(const at::Tensor& x, const optional<at::Tensor>& fx,
                   const optional<at::Tensor>& fy, const optional<at::Tensor>& f2d,
                   const char* what) {
  Filter f;
  f.separable = !(f2d.has_value() && f2d->defined());
  if (f.separable) {
    at::Tensor a = filter_as(fx, x, what, 1), b = filter_as(fy, x, what, 1);
    f.kx = static_cast<int>(a.size(0));
    f.ky = static_cast<int>(b.size(0));
    f.x = a;
    f.y = b;
  } else {
    at::Tensor a = filter_as(f2d, x, what, 2);
    f.ky = static_cast<int>(a.size(0));
    f.kx = static_cast<int>(a.size(1));
    f.x = f.y = a.reshape({-1}).contiguous();
  }
  return f;
}

// Tile extents and shared-memory layout for the current tow x toh tile in strips of tsh rows
// (tsh = toh: one strip); returns the bytes needed.
// In 64 bits: a wide tile times a large factor can pass 2^31 before the loop below shrinks it
// (32-bit wrap-around gave a small or negative size, i.e. a launch whose shared-memory accesses
// run past the allocation). g's extents and offsets are set only for a layout that fits `limit`.
int64_t layout(FaGeom& g, int64_t acc_size, int64_t limit, bool staged_mask) {
  const bool strips = g.tsh < g.toh;
  const int64_t tiw = int64_t(g.tow - 1) * g.dbx + g.kbx;
  const int64_t tih = int64_t(g.tsh - 1) * g.dby + g.kby;
  const int64_t txw = (tiw + g.kax - 2) / g.uax + 2;
  const int64_t txh = (tih + g.kay - 2) / g.uay + 2;
  // Staged mask codes (forward with a mask): a byte per sample, rows shifted by up to 15 columns so
  // that mask words start at multiples of 16 bytes, and long enough for the last word's 16-byte
  // load. With a separable stage A they live in the input tile's storage (free by then).
  const int64_t mstride = (tiw + 30 + 15) / 16 * 16;
  const int64_t szm = staged_mask ? (tih * mstride + acc_size - 1) / acc_size : 0;
  // Stage B's x-pass output: in the input tile's storage, or (strips) its own.
  const int64_t sz2 = g.sep_b ? tih * g.tow : 0;
  const int64_t szx = std::max({txh * txw, strips ? int64_t(0) : sz2, g.sep_a ? szm : int64_t(0)});
  // si's and st1's rows at multiples of 4 words (16 bytes in float32): stage B's fast passes
  // read fours, stage A's blocked y pass pairs; kSiSpare words after the last row for the
  // blocked stage B passes' reads past their last window.
  const int64_t siw = (tiw + 3) / 4 * 4;
  const int64_t szt1 = g.sep_a ? txh * siw : 0;
  const int64_t szi = tih * siw + kSiSpare;
  const int64_t nfa = g.sep_a ? g.kax + g.kay : int64_t(g.kax) * g.kay;
  const int64_t nfb = g.sep_b ? g.kbx + g.kby : int64_t(g.kbx) * g.kby;
  // Every array at a multiple of 4 elements (16 bytes in float32): the fast kernels read stage
  // B's samples in pairs and 2-D taps in fours (filtered_act_kernel.cuh, kPairs).
  auto up4 = [](int64_t n) { return (n + 3) / 4 * 4; };
  const int64_t off_t1 = up4(szx), off_i = off_t1 + up4(szt1), off_fa = off_i + up4(szi);
  const int64_t off_fb = off_fa + up4(nfa);
  const int64_t off_m = g.sep_a ? 0 : off_fb + up4(nfb);
  const int64_t end = g.sep_a ? off_fb + nfb : off_m + szm;
  const int64_t off_2 = strips ? up4(end) : 0;
  const int64_t body = strips ? off_2 + sz2 : end;
  // The backward's reduction of the parameter gradients (mode 2, snake): nred accumulators, run
  // after a plane's last strip, when only the filters (from off_fa) are still live: over the
  // tiles' arrays where they are large enough (nearly always), else after everything, so that
  // it costs no tile size.
  const bool overlay = g.nred <= off_fa;
  const int64_t off_r = overlay ? 0 : up4(body);
  const int64_t elems = overlay ? body : off_r + g.nred;
  if (elems * acc_size > limit) return elems * acc_size;
  g.tiw = static_cast<int>(tiw);
  g.tih = static_cast<int>(tih);
  g.txw = static_cast<int>(txw);
  g.txh = static_cast<int>(txh);
  g.off_t1 = static_cast<int>(off_t1);
  g.off_i = static_cast<int>(off_i);
  g.off_fa = static_cast<int>(off_fa);
  g.off_fb = static_cast<int>(off_fb);
  g.off_m = static_cast<int>(off_m);
  g.off_2 = static_cast<int>(off_2);
  g.off_r = static_cast<int>(off_r);
  g.mstride = static_cast<int>(mstride);
  g.siw = static_cast<int>(siw);
  return elems * acc_size;
}

// Whether a tile may run in strips of tsh output rows: a separable stage B (its x pass keeps the
// rows strips share), no replicate extension (it reads edge samples across the tile), kb >= db,
// and the kept rows apart from the ones they are copied from. (A last tile's strips past the
// plane still run: the tile computes all its rows, as a one-strip tile does, so the mask comes
// out the same.)
bool can_strip(const FaGeom& g, int tsh) {
  return g.sep_b && g.ext_b == 0 && g.kby >= g.dby && int64_t(tsh) * g.dby >= g.kby - g.dby;
}

// A model of the work of one launch, in instructions: per sample of each stage, counted in the
// SASS of the T forward's fast kernel (u4k24 -> d2k12, sessions 19-20; benchmarks/README.md):
// the input tile 33, stage A's x pass 12, its y pass with the pointwise step 24, stage B's x
// pass 24, its y pass 37 per output; and a block-wide barrier's worth per strip. Every block
// computes its whole tile, so the plane's work is the tile count times a tile's.
double launch_work(const FaGeom& g) {
  const int64_t tiles =
      ((int64_t(g.wo) + g.tow - 1) / g.tow) * ((int64_t(g.ho) + g.toh - 1) / g.toh);
  const int64_t tiw = int64_t(g.tow - 1) * g.dbx + g.kbx;
  const int64_t txw = (tiw + g.kax - 2) / g.uax + 2;
  double work = 0;
  for (int s0 = 0; s0 < g.toh; s0 += g.tsh) {
    const int s1 = std::min(s0 + g.tsh, g.toh);
    const int64_t rows = int64_t(s1 - 1) * g.dby + g.kby - (s0 == 0 ? 0 : int64_t(s0) * g.dby +
                                                                        g.kby - g.dby);
    const int64_t txh = (rows + g.kay - 2) / g.uay + 2;
    work += 33.0 * txh * txw + (g.sep_a ? 12.0 * txh * tiw : 0.0) + 24.0 * rows * tiw +
            24.0 * rows * g.tow + 37.0 * (s1 - s0) * g.tow + 2048.0;
  }
  return work * double(tiles);
}

// The number of tiles of `side` needed for n, split evenly: each tile as small as that count
// allows (every block computes its whole tile, so a last tile reaching far past the plane is
// wasted work: a 36-sample side in 32-sample tiles computed 64, in two of 18 it computes 36).
int even_tile(int side, int64_t n) {
  const int64_t tiles = (n + side - 1) / side;
  return static_cast<int>((n + tiles - 1) / tiles);
}

// Sets g's output tile (and layout) for one block's shared memory `limit`; returns the bytes of
// shared memory the launch takes. Needs g's sizes, factors, taps, separability and ext_b.
//
// One strip (the tile as a whole): up to 32 x 32 (or max_tile), shrunk along its longer side
// until it fits -- in steps of 1/16 of the side, not by halving, so the tile that fits stays as
// large (and as square) as it can: computed intermediate samples per kept one grow as the tile
// shrinks -- then evened out over the plane (the same tile count, no tile larger).
//
// Strips (`strip_rows` 0: the planner's choice; > 0: strips of that many output rows of the
// one-strip tile, for tests; < 0: one strip): a tall tile run as strips computes each
// intermediate row once while holding only a strip's rows, so its halo rows are few where a
// tile that fits 48 KB has many (the up-4 layers' backward: 14 x 15 tiles computed 1.8
// intermediate samples per kept one). The planner takes, over tile widths up to twice the cap
// and the tallest strip that fits each, the layout of least launch_work, if 5 % below the
// one-strip tile's; at most 8 strips per tile, fewer while the grid has under 1024 blocks
// (`planes`: the grid's planes, 0: many). The model leaves out occupancy, so strips take no
// more shared memory than the one-strip tile or 5/6 of the limit, whichever is more (40 KB of
// 48: 5 blocks of 128 threads per SM on an H100 / H200, where 48 KB gives 4).
int64_t plan_tile(FaGeom& g, int64_t acc_size, int64_t limit, bool staged_mask,
                  int64_t max_tile, int64_t strip_rows = -1, int64_t planes = 0) {
  const int64_t cap = max_tile > 0 ? max_tile : 32;
  // A single-row plane (1-D signals as H = 1): a wide tile instead, so a block's threads have
  // work (its shared memory is still bounded by the shrinking below).
  const int64_t capw = (max_tile <= 0 && g.ho == 1) ? 1024 : cap;
  g.tow = static_cast<int>(std::min<int64_t>(capw, g.wo));
  g.toh = g.tsh = static_cast<int>(std::min<int64_t>(cap, g.ho));
  int64_t smem = layout(g, acc_size, limit, staged_mask);
  while (smem > limit && (g.tow > 1 || g.toh > 1)) {
    int& side = g.tow >= g.toh ? g.tow : g.toh;
    side -= std::max(1, side / 16);
    g.tsh = g.toh;
    smem = layout(g, acc_size, limit, staged_mask);
  }
  TORCH_CHECK(smem <= limit, "filtered_act: the filters are too large for one block's "
              "shared memory (", smem, " bytes needed for a 1x1 output tile, limit ", limit,
              ")");
  const int tow = even_tile(g.tow, g.wo), toh = even_tile(g.toh, g.ho);
  if (tow != g.tow || toh != g.toh) {
    // Smaller tiles, so smaller arrays -- but snake's reduction overlays them only while they
    // are large enough (layout), so the evened tile may not fit where the larger one did.
    FaGeom c = g;
    c.tow = tow;
    c.toh = c.tsh = toh;
    const int64_t bytes = layout(c, acc_size, limit, staged_mask);
    if (bytes <= limit) {
      g = c;
      smem = bytes;
    }
  }
  if (strip_rows > 0) {  // forced strips of the one-strip tile, where they may run and fit
    FaGeom c = g;
    c.tsh = static_cast<int>(std::min<int64_t>(strip_rows, g.toh));
    if (c.tsh < c.toh && can_strip(c, c.tsh)) {
      const int64_t bytes = layout(c, acc_size, limit, staged_mask);
      if (bytes <= limit) {
        g = c;
        return bytes;
      }
    }
    return smem;
  }
  if (strip_rows < 0 || g.ho == 1 || !can_strip(g, 1 << 20)) return smem;
  constexpr int kMaxStrips = 8;
  constexpr int64_t kMinBlocks = 1024;  // about 8 per SM on a large GPU
  const int64_t capx = std::min<int64_t>(max_tile > 0 ? cap : 2 * cap, g.wo);
  limit = std::min(limit, std::max(smem, limit * 5 / 6));
  FaGeom best = g;
  int64_t best_smem = smem;
  double best_work = 0.95 * launch_work(g);
  for (int64_t w = capx; w >= 1; w -= std::max<int64_t>(1, w / 8)) {
    FaGeom c = g;
    c.tow = even_tile(static_cast<int>(w), g.wo);
    c.tsh = static_cast<int>(std::min<int64_t>(cap, g.ho));
    c.toh = c.tsh + 1;  // strips: the layout depends on tsh only
    int64_t bytes = layout(c, acc_size, limit, staged_mask);
    while (bytes > limit && c.tsh > 1) {
      c.tsh -= std::max(1, c.tsh / 16);
      c.toh = c.tsh + 1;
      bytes = layout(c, acc_size, limit, staged_mask);
    }
    if (bytes > limit || !can_strip(c, c.tsh)) continue;
    const int64_t tiles_x = (g.wo + c.tow - 1) / c.tow;
    int strips = static_cast<int>(std::min<int64_t>(kMaxStrips, (g.ho + c.tsh - 1) / c.tsh));
    for (; strips >= 2; --strips) {
      c.toh = even_tile(c.tsh * strips, g.ho);
      if (planes <= 0 || planes * tiles_x * ((g.ho + c.toh - 1) / c.toh) >= kMinBlocks) break;
    }
    if (strips < 2 || c.toh <= c.tsh || int64_t(c.toh - 1) * g.dby + g.kby >= (int64_t(1) << 31))
      continue;
    const double work = launch_work(c);
    if (work < best_work) {
      best_smem = bytes;  // c's layout, set for tsh above (toh does not change it)
      best = c;
      best_work = work;
    }
  }
  g = best;
  return best_smem;
}

// Stage B on tensor cores (fir_rows_mma: a separable stage B's x pass; fir_2d_mma: a full 2-D
// filter down by 2, StyleGAN3-R's; filtered_act_kernel.cuh). The knob `mma`: 1 where it
// applies, 0 never, -1 the default: off unless $BANDLIMIT_CUDA_MMA=1, until it has been timed on
// a GPU (benchmarks/README.md). It applies to StyleGAN3's kernels (the leaky-ReLU forward and
// the mask backward) on float16 / bfloat16 storage under a fast 2-D spec, on a device with the
// instruction, in blocks of whole warps.
bool use_mma(int64_t mma, const at::Tensor& x, const FaGeom& g, bool save_u, bool fast,
             int block, int device) {
  if (mma == 0) return false;
  if (mma < 0) {
    const char* env = std::getenv("BANDLIMIT_CUDA_MMA");
    if (env == nullptr || std::string(env) != "1") return false;
  }
  const bool half = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  // (the 1-D spec's y axis is trivial: a row per plane would fill 1 of an mma's 16 rows)
  const bool two_d = fast_spec_index(g, false) >= 0 && g.dby > 1;
  // (a forward that saves u runs the general epilogue, which has no tensor-core kernel)
  const bool lrelu_or_mask = (g.mode == 0 && g.act == kLrelu && !save_u) || g.mode == 1;
  const bool stage_b = g.sep_b || (g.dbx == 2 && g.dby == 2);
  return half && fast && two_d && lrelu_or_mask && stage_b && (kEmulated || block % 32 == 0) &&
         mma_supported(device);
}

}  // namespace

std::vector<at::Tensor> filtered_act(
    const at::Tensor& x_in, const optional<at::Tensor>& b_in, const optional<at::Tensor>& fax,
    const optional<at::Tensor>& fay, const optional<at::Tensor>& fa2d,
    const optional<at::Tensor>& fbx, const optional<at::Tensor>& fby,
    const optional<at::Tensor>& fb2d, std::vector<int64_t> up_a, std::vector<int64_t> pad_a,
    std::vector<int64_t> inter_hw, std::vector<int64_t> down_b, std::vector<int64_t> pad_b,
    std::vector<int64_t> out_hw, int64_t mode, int64_t act, double alpha, double gain,
    double clamp, bool save_mask, const optional<at::Tensor>& mask_in, int64_t max_tile,
    int64_t block_threads, const optional<at::Tensor>& pa_in, const optional<at::Tensor>& pb_in,
    bool fast, int64_t ext_b, int64_t smem_limit, int64_t strip_rows, bool reverse_filters,
    int64_t ext_a, std::vector<int64_t> ext_a_pad, bool save_u, std::vector<int64_t> fold_pad,
    int64_t mma, int64_t max_grid_y) {
  BL_CHECK_DEVICE(x_in, "filtered_act: x");
  TORCH_CHECK(x_in.dim() == 4, "filtered_act: x must have shape [N, C, H, W], got ", x_in.sizes());
  TORCH_CHECK(is_float_dtype(x_in),
              "filtered_act: x must be float16/bfloat16/float32/float64, got ", x_in.scalar_type());
  TORCH_CHECK(up_a.size() == 2 && pad_a.size() == 2 && inter_hw.size() == 2 &&
                  down_b.size() == 2 && pad_b.size() == 2 && out_hw.size() == 2,
              "filtered_act: up_a, pad_a, inter_hw, down_b, pad_b and out_hw must be pairs");
  TORCH_CHECK(up_a[0] >= 1 && up_a[1] >= 1 && down_b[0] >= 1 && down_b[1] >= 1,
              "filtered_act: factors must be >= 1");
  check_int_args("filtered_act", {&up_a, &pad_a, &down_b, &pad_b});
  const int threads = threads_arg(block_threads, "filtered_act");
  TORCH_CHECK(inter_hw[0] >= 1 && inter_hw[1] >= 1 && out_hw[0] >= 1 && out_hw[1] >= 1,
              "filtered_act: intermediate and output sizes must be >= 1, got ",
              at::IntArrayRef(inter_hw), " and ", at::IntArrayRef(out_hw));
  TORCH_CHECK(mode >= 0 && mode <= 2, "filtered_act: mode must be 0 (forward), 1 (backward "
              "reading the mask) or 2 (backward reading u), got ", mode);
  TORCH_CHECK(act >= 0 && act <= kLastAct, "filtered_act: unknown activation code ", act);
  TORCH_CHECK(mode != 1 || act <= 2,
              "filtered_act: the mask backward needs a piecewise-linear act (linear/relu/lrelu)");
  TORCH_CHECK(!save_u || (mode == 0 && !save_mask),
              "filtered_act: save_u is the forward's, without a mask");
  TORCH_CHECK(mma >= -1 && mma <= 1, "filtered_act: mma must be -1 (the default), 0 (off) or 1 "
              "(on where it applies), got ", mma);
  TORCH_CHECK(fold_pad.size() == 4, "filtered_act: fold_pad must be (x0, x1, y0, y1)");
  check_int_args("filtered_act", {&fold_pad});
  for (int64_t e : fold_pad)
    TORCH_CHECK(e >= 0 && (mode == 2 || e == 0), "filtered_act: fold_pad must be >= 0 (and 0 "
                "except in mode 2), got ", at::IntArrayRef(fold_pad));
  TORCH_CHECK(ext_b == 0 || ext_b == 1, "filtered_act: ext_b must be 0 (zeros) or 1 (replicate), "
              "got ", ext_b);
  TORCH_CHECK(ext_b == 0 || (mode == 0 && !save_mask),  // mode 2 folds it back (fold_pad)
              "filtered_act: the replicate extension (ext_b = 1) is forward-only, without a mask");
  TORCH_CHECK(ext_a >= 0 && ext_a <= 2, "filtered_act: ext_a must be 0 (none), 1 (replicate) or "
              "2 (circular), got ", ext_a);
  TORCH_CHECK(ext_a_pad.size() == 4, "filtered_act: ext_a_pad must be (x0, x1, y0, y1)");
  check_int_args("filtered_act", {&ext_a_pad});
  for (int64_t e : ext_a_pad)
    TORCH_CHECK(e >= 0 && (ext_a != 0 || e == 0), "filtered_act: ext_a_pad must be >= 0 (and 0 "
                "without an extension), got ", at::IntArrayRef(ext_a_pad));
  TORCH_CHECK(ext_a == 0 || mode == 0, "filtered_act: the input extension (ext_a) is forward-only");
  TORCH_CHECK(ext_a == 0 || (x_in.size(2) >= 1 && x_in.size(3) >= 1),
              "filtered_act: extending the input (ext_a) needs a plane with samples, got ",
              x_in.sizes());
  for (int64_t v : {x_in.size(2) + ext_a_pad[2] + ext_a_pad[3],
                    x_in.size(3) + ext_a_pad[0] + ext_a_pad[1], inter_hw[0], inter_hw[1],
                    out_hw[0], out_hw[1]})
    TORCH_CHECK(v < (int64_t(1) << 30), "filtered_act: plane sizes must be < 2^30");
  const at::Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1);
  at::Tensor b;
  if (b_in.has_value() && b_in->defined()) {
    TORCH_CHECK(b_in->dim() == 1 && b_in->size(0) == c, "filtered_act: b must have shape [", c,
                "], got ", b_in->sizes());
    TORCH_CHECK(b_in->device() == x.device(), "filtered_act: b must be on x's device ",
                x.device());
    b = b_in->to(x.scalar_type()).contiguous();
  }
  // snake's alpha / snakebeta's alpha and beta: per-channel, read in the accumulation type.
  const bool has_pa = pa_in.has_value() && pa_in->defined();
  const bool has_pb = pb_in.has_value() && pb_in->defined();
  TORCH_CHECK(has_pa == (act == kSnake || act == kSnakeBeta) && has_pb == (act == kSnakeBeta),
              "filtered_act: snake needs pa (alpha) and snakebeta pa and pb (alpha, beta); the "
              "other activations take neither (act code ", act, ", pa ",
              has_pa ? "given" : "None", ", pb ", has_pb ? "given" : "None", ")");
  auto channel_param = [&](const optional<at::Tensor>& t, const char* name) {
    TORCH_CHECK(t->dim() == 1 && t->size(0) == c, "filtered_act: ", name, " must have shape [",
                c, "], got ", t->sizes());
    TORCH_CHECK(t->device() == x.device(), "filtered_act: ", name, " must be on x's device ",
                x.device(), ", got ", t->device());
    TORCH_CHECK(is_float_dtype(*t), "filtered_act: ", name, " must be floating point, got ",
                t->scalar_type());
    return t->to(acc_dtype(x)).contiguous();
  };
  const at::Tensor pa = has_pa ? channel_param(pa_in, "pa") : at::Tensor();
  const at::Tensor pb = has_pb ? channel_param(pb_in, "pb") : at::Tensor();
  const Filter fa = make_filter(x, fax, fay, fa2d, "filtered_act: stage A filter");
  const Filter fb = make_filter(x, fbx, fby, fb2d, "filtered_act: stage B filter");

  FaGeom g{};
  g.planes = n * c;
  g.channels = static_cast<int>(std::max<int64_t>(c, 1));
  g.sh = static_cast<int>(x.size(2));
  g.sw = static_cast<int>(x.size(3));
  g.ext_a = static_cast<int>(ext_a);
  g.eax0 = static_cast<int>(ext_a_pad[0]);
  g.eay0 = static_cast<int>(ext_a_pad[2]);
  g.h = static_cast<int>(x.size(2) + ext_a_pad[2] + ext_a_pad[3]);
  g.w = static_cast<int>(x.size(3) + ext_a_pad[0] + ext_a_pad[1]);
  g.hi = static_cast<int>(inter_hw[0]);
  g.wi = static_cast<int>(inter_hw[1]);
  g.ho = static_cast<int>(out_hw[0]);
  g.wo = static_cast<int>(out_hw[1]);
  g.uax = static_cast<int>(up_a[0]);
  g.uay = static_cast<int>(up_a[1]);
  g.pax = static_cast<int>(pad_a[0]);
  g.pay = static_cast<int>(pad_a[1]);
  g.kax = fa.kx;
  g.kay = fa.ky;
  g.sep_a = fa.separable ? 1 : 0;
  g.dbx = static_cast<int>(down_b[0]);
  g.dby = static_cast<int>(down_b[1]);
  g.pbx = static_cast<int>(pad_b[0]);
  g.pby = static_cast<int>(pad_b[1]);
  g.kbx = fb.kx;
  g.kby = fb.ky;
  g.sep_b = fb.separable ? 1 : 0;
  g.ext_b = static_cast<int>(ext_b);
  g.mode = static_cast<int>(mode);
  g.rev = reverse_filters ? 1 : 0;
  g.act = static_cast<int>(act);
  g.mask_words = (g.wi + 15) / 16;
  g.efx0 = static_cast<int>(fold_pad[0]);
  g.efx1 = static_cast<int>(fold_pad[1]);
  g.efy0 = static_cast<int>(fold_pad[2]);
  g.efy1 = static_cast<int>(fold_pad[3]);
  g.fold = (g.efx0 | g.efx1 | g.efy0 | g.efy1) != 0 ? 1 : 0;
  // Replicate: every tile that reaches past an edge must hold the edge sample itself, which
  // holds when stage B's leading padding and the trailing padding it uses are below its taps.
  TORCH_CHECK(ext_b == 0 || (g.pbx < g.kbx && g.pby < g.kby &&
                             int64_t(g.wo - 1) * g.dbx - g.pbx < g.wi &&
                             int64_t(g.ho - 1) * g.dby - g.pby < g.hi),
              "filtered_act: the replicate extension needs stage B paddings below its taps, got "
              "leading (", g.pbx, ", ", g.pby, ") for taps (", g.kbx, ", ", g.kby, "), or a last output "
              "window past the plane");

  at::Tensor y = at::empty({n, c, g.ho, g.wo}, x.options());
  at::Tensor mask, u;
  const auto acc_options = x.options().dtype(acc_dtype(x));
  if (mode == 0) {
    mask = save_mask ? at::zeros({g.planes, g.hi, g.mask_words}, x.options().dtype(at::kInt))
                     : at::zeros({0}, x.options().dtype(at::kInt));
    // The tile owning a sample writes it if it computes it: every sample, when the output
    // windows cover the plane (no gaps between them, none before the first or after the last:
    // StyleGAN3's and BigVGAN's layers), so no zero fill; else zeros where no output reads, whose
    // gradient is 0 (and 0 * act'(0) stays 0). The emulation fills NaN first, which a sample
    // left unwritten would pass on.
    auto covers = [](int64_t n, int64_t no, int64_t d, int64_t p0, int64_t k) {
      return k >= d && p0 >= 0 && (no - 1) * d - p0 + k >= n;
    };
    const bool covered = covers(g.wi, g.wo, g.dbx, g.pbx, g.kbx) &&
                         covers(g.hi, g.ho, g.dby, g.pby, g.kby);
    if (save_u) {
      u = covered ? at::empty({g.planes, g.hi, g.wi}, acc_options)
                  : at::zeros({g.planes, g.hi, g.wi}, acc_options);
      if (covered && kEmulated) u.fill_(std::numeric_limits<double>::quiet_NaN());
    }
  } else {
    // What the backward reads, passed as the mask argument: the mask (mode 1) or u (mode 2),
    // [planes, hi, cols] of `type`.
    auto saved = [&](const char* name, at::ScalarType type, const char* type_name,
                     int64_t cols) {
      TORCH_CHECK(mask_in.has_value() && mask_in->defined(), "filtered_act: backward needs ",
                  mode == 1 ? "the mask" : "u (the mask argument)");
      const at::Tensor t = *mask_in;
      BL_CHECK_DEVICE(t, name);
      TORCH_CHECK(t.device() == x.device(), name, " must be on x's device ", x.device(),
                  ", got ", t.device());
      TORCH_CHECK(t.scalar_type() == type && t.is_contiguous() && t.dim() == 3 &&
                      t.size(0) == g.planes && t.size(1) == g.hi && t.size(2) == cols,
                  name, " must be a contiguous ", type_name, " tensor of shape [", g.planes,
                  ", ", g.hi, ", ", cols, "], got ", t.scalar_type(), " ", t.sizes());
      return t;
    };
    if (mode == 1)
      mask = saved("filtered_act: mask", at::kInt, "int32", g.mask_words);
    else
      u = saved("filtered_act: u", acc_dtype(x), c10::toString(acc_dtype(x)), g.wi);
  }
  // mode 2 with snake / snakebeta: the gradients of alpha and beta, [2, C].
  const bool param_sums = mode == 2 && has_pa;
  auto outputs = [&](const at::Tensor& sums) -> std::vector<at::Tensor> {
    if (mode == 0) return {y, save_u ? u : mask};
    if (mode == 1) return {y, mask};
    return {y, param_sums ? sums : at::zeros({0}, acc_options)};
  };
  if (g.planes == 0) return outputs(at::zeros({2, c}, acc_options));
  // 128 threads: on the first GPU run (H200) 3-18 % faster than 256 on every probe layer
  // (fewer threads idle at each stage's barrier); benchmarks/README.md.
  const int block = threads > 0 ? threads : 128;
  g.nred = param_sums ? 2 * block : 0;

  const int64_t acc_size = x.scalar_type() == at::kDouble ? 8 : 4;
  // Shared memory per block: the portable 48 KB unless the caller opts in to more (the test and
  // benchmark knob `smem_limit`: larger tiles, less halo work, fewer blocks per SM).
  int64_t limit = kDefaultSmemBytes;
  if (smem_limit != 0) {
    const int64_t most = smem_opt_in_max(BL_DEVICE_INDEX(x));
    TORCH_CHECK(smem_limit >= 1024 && smem_limit <= most, "filtered_act: smem_limit must be 0 "
                "(the default 48 KB) or in [1024, ", most, "] bytes on this device, got ",
                smem_limit);
    limit = smem_limit;
  }
  const int64_t smem = plan_tile(g, acc_size, limit, mode == 0 && save_mask, max_tile,
                                 strip_rows, g.planes);
  TORCH_CHECK(smem <= limit, "filtered_act: internal error: a tile plan of ", smem,
              " bytes of shared memory, past the limit of ", limit);
  FaArgs a{};
  g.tiles_x = (g.wo + g.tow - 1) / g.tow;
  g.tiles_y = (g.ho + g.toh - 1) / g.toh;
  // More tile rows than grid.y holds (a tall, narrow plane: 2^21 rows of 32-row tiles): the
  // tiles go into grid.x, row after row. (max_grid_y: CUDA's 65535; smaller in tests.)
  TORCH_CHECK(max_grid_y >= 1 && max_grid_y <= 65535,
              "filtered_act: max_grid_y must be in [1, 65535], got ", max_grid_y);
  g.flat_tiles = g.tiles_y > max_grid_y ? 1 : 0;
  a.grid_x = g.flat_tiles ? g.tiles_x * g.tiles_y : g.tiles_x;
  a.grid_y = g.flat_tiles ? 1 : g.tiles_y;
  a.grid_z = std::min<int64_t>(g.planes, 65535);
  TORCH_CHECK(a.grid_x < (int64_t(1) << 31),
              "filtered_act: output too large: ", g.tiles_x * g.tiles_y, " tiles of ", g.toh,
              " x ", g.tow, " samples per plane, more than a CUDA grid holds (2^31 - 1)");
  a.x = x.data_ptr();
  a.bias = b.defined() ? b.data_ptr() : nullptr;
  a.fa = fa.x.data_ptr();
  a.fay = fa.y.data_ptr();
  a.fb = fb.x.data_ptr();
  a.fby = fb.y.data_ptr();
  a.pa = has_pa ? pa.data_ptr() : nullptr;
  a.pb = has_pb ? pb.data_ptr() : nullptr;
  a.y = y.data_ptr();
  a.mask = (mode == 1 || (mode == 0 && save_mask))
               ? reinterpret_cast<uint32_t*>(mask.data_ptr<int32_t>())
               : nullptr;
  a.u = u.defined() ? u.data_ptr() : nullptr;
  at::Tensor psum;
  if (param_sums) psum = at::empty({g.planes, g.tiles_y, g.tiles_x, 2}, acc_options);
  a.psum = param_sums ? psum.data_ptr() : nullptr;
  a.g = g;
  a.alpha = alpha;
  a.gain = gain;
  a.clamp = clamp;
  a.block_threads = block;
  a.smem_bytes = smem;
  a.device = BL_DEVICE_INDEX(x);
  a.fast = fast ? 1 : 0;
  a.g.mma = use_mma(mma, x, a.g, a.u != nullptr, fast, block, a.device) ? 1 : 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "bl_filtered_act",
                                  [&] { launch_filtered_act<scalar_t>(a); });
  // Per channel, summed over the batch and the tiles in a fixed order (deterministic).
  return outputs(param_sums ? psum.view({n, c, -1, 2}).sum(at::IntArrayRef{0, 2}).t().contiguous()
                            : at::Tensor());
}

// The kernel filtered_act launches for these factors and taps (x, y pairs): a fast spec's name
// or "generic".
namespace {

// The factors and taps of a geometry given as (x, y) pairs, checked (the other fields zero).
FaGeom stage_geom(const char* op, std::vector<int64_t> up_a, std::vector<int64_t> taps_a,
                  std::vector<int64_t> down_b, std::vector<int64_t> taps_b) {
  TORCH_CHECK(up_a.size() == 2 && taps_a.size() == 2 && down_b.size() == 2 && taps_b.size() == 2,
              op, ": every argument is an (x, y) pair");
  check_int_args(op, {&up_a, &taps_a, &down_b, &taps_b});
  FaGeom g{};
  g.uax = static_cast<int>(up_a[0]);
  g.uay = static_cast<int>(up_a[1]);
  g.kax = static_cast<int>(taps_a[0]);
  g.kay = static_cast<int>(taps_a[1]);
  g.dbx = static_cast<int>(down_b[0]);
  g.dby = static_cast<int>(down_b[1]);
  g.kbx = static_cast<int>(taps_b[0]);
  g.kby = static_cast<int>(taps_b[1]);
  return g;
}

}  // namespace

at::Tensor mma_probe(const at::Tensor& a, const at::Tensor& b, const at::Tensor& c, bool bf16) {
  for (const auto* t : {&a, &b, &c}) {
    BL_CHECK_DEVICE(*t, "mma_probe: a, b and c");
    TORCH_CHECK(t->scalar_type() == at::kFloat && t->device() == a.device(),
                "mma_probe: a, b and c must be float32 tensors on one device");
  }
  TORCH_CHECK(a.sizes() == at::IntArrayRef({16, 16}) && b.sizes() == at::IntArrayRef({16, 8}) &&
                  c.sizes() == at::IntArrayRef({16, 8}),
              "mma_probe: a must be [16, 16], b and c [16, 8], got ", a.sizes(), ", ", b.sizes(),
              ", ", c.sizes());
  const int device = BL_DEVICE_INDEX(a);
  TORCH_CHECK(mma_supported(device), "mma_probe: no tensor-core mma.m16n8k16 here: the device "
              "needs compute capability 8.0 or later, and the extension code for it too (a "
              "build for an older architecture, e.g. TORCH_CUDA_ARCH_LIST=\"7.5+PTX\", has none)");
  const at::Tensor ac = a.contiguous(), bc = b.contiguous(), cc = c.contiguous();
  at::Tensor d = at::empty({16, 8}, a.options());
  launch_mma_probe(ac.data_ptr<float>(), bc.data_ptr<float>(), cc.data_ptr<float>(),
                   d.data_ptr<float>(), bf16, device);
  return d;
}

std::string filtered_act_kernel_name(std::vector<int64_t> up_a, std::vector<int64_t> taps_a,
                                std::vector<int64_t> down_b, std::vector<int64_t> taps_b,
                                bool is_double) {
  const FaGeom g = stage_geom("filtered_act_kernel_name", up_a, taps_a, down_b, taps_b);
  return fast_spec_name(fast_spec_index(g, is_double));
}

// The plan filtered_act launches with for this geometry (tests, benchmarks): [tow, toh, tsh,
// bytes, launch_work]. Factors and taps are (x, y) pairs (a 2-D filter's taps as (kx, ky), with
// sep false); out_hw is (height, width); planes: N * C (0: many); ext_b as filtered_act's (a
// replicate extension of the intermediate plane runs one-strip tiles); param_threads: the block
// size of a backward reading u for snake / snakebeta, whose parameter sums need 2 accumulators
// per thread (0: none).
std::vector<int64_t> filtered_act_plan(std::vector<int64_t> up_a, std::vector<int64_t> taps_a,
                                       bool sep_a, std::vector<int64_t> down_b,
                                       std::vector<int64_t> taps_b, bool sep_b,
                                       std::vector<int64_t> out_hw, bool is_double,
                                       bool save_mask, int64_t max_tile, int64_t smem_limit,
                                       int64_t strip_rows, int64_t planes, int64_t ext_b,
                                       int64_t param_threads) {
  FaGeom g = stage_geom("filtered_act_plan", up_a, taps_a, down_b, taps_b);
  TORCH_CHECK(ext_b == 0 || ext_b == 1, "filtered_act_plan: ext_b must be 0 or 1, got ", ext_b);
  TORCH_CHECK(param_threads >= 0 && param_threads <= 1024, "filtered_act_plan: param_threads "
              "must be in [0, 1024], got ", param_threads);
  g.nred = static_cast<int>(2 * param_threads);  // snake's reduction in the backward (mode 2)
  g.ext_b = static_cast<int>(ext_b);
  TORCH_CHECK(out_hw.size() == 2, "filtered_act_plan: every argument is a pair");
  check_int_args("filtered_act_plan", {&out_hw});
  TORCH_CHECK(out_hw[0] >= 1 && out_hw[1] >= 1, "filtered_act_plan: out_hw must be >= 1, got ",
              at::IntArrayRef(out_hw));
  g.sep_a = sep_a ? 1 : 0;
  g.sep_b = sep_b ? 1 : 0;
  g.ho = static_cast<int>(out_hw[0]);
  g.wo = static_cast<int>(out_hw[1]);
  const int64_t smem = plan_tile(g, is_double ? 8 : 4,
                                 smem_limit > 0 ? smem_limit : kDefaultSmemBytes, save_mask,
                                 max_tile, strip_rows, planes);
  return {g.tow, g.toh, g.tsh, smem, static_cast<int64_t>(launch_work(g))};
}

}  // namespace bl

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "bandlimit fused resampling kernels";
  m.attr("EMULATED") = kEmulated;
  m.attr("ABI_VERSION") = 8;
#ifdef BL_EMULATE
  m.def("race_probe", &bl_emu::race_probe, "the race check's self-test (emulate.h)",
        py::arg("barrier"), py::arg("own_slot"));
  m.def("bounds_probe", &bl_emu::bounds_probe, "the bounds check's self-test (emulate.h)",
        py::arg("past_end"));
  m.def("overflow_probe", &bl_emu::overflow_probe,
        "the undefined-behaviour check's self-test (emulate.h)", py::arg("overflow"));
#endif
  m.def("upfirdn", &bl::upfirdn, "upfirdn2d (separable or 2-D filter)", py::arg("x"),
        py::arg("fx"), py::arg("fy"), py::arg("f2d"), py::arg("up"), py::arg("down"),
        py::arg("pad"), py::arg("block_threads") = 0);
  m.def("bias_act", &bl::bias_act, "bias + activation + gain + clamp (forward)", py::arg("x"),
        py::arg("b"), py::arg("dim"), py::arg("act"), py::arg("alpha"), py::arg("gain"),
        py::arg("clamp"), py::arg("block_threads") = 0);
  m.def("filtered_act", &bl::filtered_act,
        "fused upfirdn -> pointwise -> upfirdn (mode 0: forward [+ mask or u], 1: mask backward, "
        "2: backward reading u)",
        py::arg("x"), py::arg("b"), py::arg("fax"), py::arg("fay"), py::arg("fa2d"),
        py::arg("fbx"), py::arg("fby"), py::arg("fb2d"), py::arg("up_a"), py::arg("pad_a"),
        py::arg("inter_hw"), py::arg("down_b"), py::arg("pad_b"), py::arg("out_hw"),
        py::arg("mode"), py::arg("act"), py::arg("alpha"), py::arg("gain"), py::arg("clamp"),
        py::arg("save_mask"), py::arg("mask"), py::arg("max_tile") = 0,
        py::arg("block_threads") = 0, py::arg("pa") = py::none(), py::arg("pb") = py::none(),
        py::arg("fast") = true, py::arg("ext_b") = 0, py::arg("smem_limit") = 0,
        py::arg("strip_rows") = 0, py::arg("reverse_filters") = false, py::arg("ext_a") = 0,
        py::arg("ext_a_pad") = std::vector<int64_t>{0, 0, 0, 0}, py::arg("save_u") = false,
        py::arg("fold_pad") = std::vector<int64_t>{0, 0, 0, 0}, py::arg("mma") = -1,
        py::arg("max_grid_y") = 65535);
  m.def("mma_probe", &bl::mma_probe,
        "D = A B + C through one warp's tensor-core fragments (A, B rounded to float16, or "
        "bfloat16 with bf16=True): the fragment layout's check", py::arg("a"), py::arg("b"),
        py::arg("c"), py::arg("bf16"));
  m.def("filtered_act_plan", &bl::filtered_act_plan,
        "filtered_act's plan: [tow, toh, tsh, bytes, modelled work of one plane]",
        py::arg("up_a"), py::arg("taps_a"), py::arg("sep_a"), py::arg("down_b"),
        py::arg("taps_b"), py::arg("sep_b"), py::arg("out_hw"), py::arg("is_double"),
        py::arg("save_mask"), py::arg("max_tile") = 0, py::arg("smem_limit") = 0,
        py::arg("strip_rows") = 0, py::arg("planes") = 0, py::arg("ext_b") = 0,
        py::arg("param_threads") = 0);
  m.def("filtered_act_kernel_name", &bl::filtered_act_kernel_name,
        "the kernel filtered_act launches for these factors and taps: a fast spec or 'generic'",
        py::arg("up_a"), py::arg("taps_a"), py::arg("down_b"), py::arg("taps_b"),
        py::arg("is_double"));
}
