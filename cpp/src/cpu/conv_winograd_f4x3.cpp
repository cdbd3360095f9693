// Winograd F(4x4, 3x3) driver: every 4x4 output tile is computed from a 6x6 input tile as
//   Y = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A,
// so the channel sum becomes 36 independent GEMMs in the transform domain, 2.25 multiplies per output instead of 9.
//
// Flow of one call:
//   1. filter transform  w -> U[36][Cin][Cout]                              (parallel over input channels)
//   2. pack the input into 16-channel blocks with the padding applied (xb)  (parallel over image x block)
//      so that tiles at the border need no special cases and every tile load is 16 contiguous channels.
//   3. per block of tiles: input transform -> V[36][tiles][Cp], 36 GEMMs M_e = V_e * U_e through
//      sgemm_batched, output transform (+ bias) straight into NCHW y.
// Few channels: small blocks whose V and M stay in L2, each thread running whole blocks in its own workspace slot
// (no synchronisation). Many channels: large blocks run one after the other, each phase parallel inside, so the
// GEMMs re-pack U rarely. Details and measurements at make_plan.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "cpu/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

using namespace winograd;

struct Kernels {
  FilterFn filter;
  PackFn pack;
  InputFn input;
  OutputFn output;
};
const Kernels kScalarK{filter_transform__scalar, pack_input__scalar, input_transform__scalar,
                       output_transform__scalar};
const Kernels kAvx2K{filter_transform__avx2, pack_input__avx2, input_transform__avx2, output_transform__avx2};
const Kernels kAvx512K{filter_transform__avx512, pack_input__avx512, input_transform__avx512,
                       output_transform__avx512};

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }

// Workspace slots are sized for the machine, not for set_num_threads, so the size asked for at plan time still
// fits if the thread count changes before the run; more threads than slots just leaves some idle.
int64_t max_slots() {
  static const int64_t n = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 256);
  return n;
}

Geometry make_geometry(int64_t N, int64_t Cin, int64_t Cout, int64_t H, int64_t W, int64_t pad_h, int64_t pad_w,
                       int64_t out_h, int64_t out_w) {
  Geometry g{N, Cin, Cout, H, W, pad_h, pad_w, out_h, out_w, 0, 0, 0, 0, 0, 0, 0, 0};
  g.TH = cdiv(out_h, kTile);
  g.TW = cdiv(out_w, kTile);
  g.Hp = kTile * g.TH + 2;
  g.Wp = kTile * g.TW + 2;
  g.CB = cdiv(Cin, kLanes);
  g.Cp = g.CB * kLanes;
  g.KB = cdiv(Cout, kLanes);
  g.Kp = g.KB * kLanes;
  return g;
}

struct Plan {
  Geometry g;
  int64_t tiles, block, nblocks, slots;
  // One tile block and a large U: the filter transform writes GEMM B panels straight into per-thread buffers and
  // the driver runs the macro-kernels itself, so U never exists (make_plan, run_fused).
  bool fused;
  bool per_thread;  // whole blocks per thread, one workspace slot each (see make_plan)
  int64_t u_floats, xb_floats, slot_floats;  // each a multiple of 16 floats, so every buffer stays 64-byte aligned
  size_t bytes() const { return size_t(u_floats + xb_floats + slots * slot_floats) * sizeof(float); }
};

// Blocking. Two costs pull in opposite directions:
//  - V and M of one block (36 * block * (Cp + Kp) floats) should stay in L2 between the transform that writes
//    them and the GEMM that reads them, which favours small blocks;
//  - the GEMM re-packs every U_e (Cin x Cout) once per block, which costs about as much as a 48-tile block's
//    products once U_e outgrows L1/L2.
// Measured on one core (N = 8): 64 channels ran best with ~48-tile blocks (V, M in L2, U_e is 16 KiB); from 128
// channels up, blocks of ~400 tiles beat 48-tile ones by 1.1x (128) to 1.6x (512), V/M streaming from L3 being
// the smaller cost (it scales with Cin + Cout, the products with Cin * Cout). So:
//  - small U_e: L2-sized blocks, several per thread, each thread running whole blocks in its own slot;
//  - large U_e: blocks of up to 480 tiles (the GEMM's row block), run one after the other, every phase parallel
//    inside (the GEMMs over the 36 elements), and a single slot, since these blocks are tens of MiB.
// Block sizes are multiples of 12, which fill the AVX-512 micro-kernel's rows (and the AVX2 one's 6).
constexpr int64_t kUBlockBytes = int64_t(10) << 20;

// Output channels per block of backward-weight's Macc (36 C x K matrices, 36 MiB at 512 x 512): all of them,
// unless blocking is allowed and the whole would exceed kUBlockBytes; then even blocks of whole GEMM panels.
int64_t u_block_channels(const Geometry& g, bool allowed) {
  const int64_t per_channel = kPoints * g.Cin * int64_t(sizeof(float));
  if (!allowed || per_channel * g.Cout <= kUBlockBytes) return g.Cout;
  const int64_t most = std::max<int64_t>(32, kUBlockBytes / per_channel), parts = cdiv(g.Cout, most);
  return std::min(g.Cout, round_up(cdiv(g.Cout, parts), 32));
}

// The fused path's depth blocks over Cin (even, at most kFusedKc) and its scratch in place of U: the packed A of
// all 36 products, then one B-panel buffer (36 x kc x 32) per possible thread. Sized for the widest tile of any ISA
// (MR 12, NR 32), so a later set_isa cannot outgrow it.
constexpr int64_t kFusedKc = 256, kMaxMr = 12, kMaxNr = 32, kFusedMaxTiles = 64;
int64_t fused_kc(int64_t Cin) { return cdiv(Cin, cdiv(Cin, kFusedKc)); }
int64_t fused_floats(const Geometry& g, int64_t tiles) {
  const int64_t a = kPoints * round_up(tiles, kMaxMr) * g.Cin;
  return round_up(a, 16) + max_slots() * round_up(kPoints * fused_kc(g.Cin) * kMaxNr, 16);
}

// The fused weight gradient: packed A (V_e^T, Cin x tiles) and B (Wt_e, tiles x Cout) of all 36 products, then
// per thread the 36 C tiles of one (kFusedWRows input channels x 32 output channels) block.
constexpr int64_t kFusedWRows = 48, kFusedMinCK = 128 * 128;
int64_t fused_weight_floats(const Geometry& g, int64_t tiles) {
  const int64_t a = round_up(kPoints * round_up(g.Cin, kMaxMr) * tiles, 16);
  const int64_t b = round_up(kPoints * round_up(g.Cout, kMaxNr) * tiles, 16);
  return a + b + max_slots() * round_up(kPoints * kFusedWRows * kMaxNr, 16);
}

// Up to how many tiles the forward/data pass takes the fused path. Its cost is re-reading the packed V of all 36
// products once per 32-channel panel (from L3); the packed path's is writing U and streaming it back. With a 2 MiB
// L2 the packed path won from 128 tiles on (256^2 at 14x14: fused 0.8x); with 1 MiB (Zen 4), where U_e's B blocks
// no longer stay in L2 beside the A block, fused won at 128 tiles (VGG conv3_2, batch 8: 0.92x the time, per-round
// median of 10 interleaved runs) and lost at 392 (128^2 at 28x28).
int64_t fused_max_tiles() {
  static const int64_t n = cpu_features().l2_bytes < (2l << 20) ? 2 * kFusedMaxTiles : kFusedMaxTiles;
  return n;
}

Plan make_plan(const Geometry& g) {
  Plan p{g, g.N * g.TH * g.TW, 0, 0, 0, false, false, 0, 0, 0};
  if (p.tiles <= 0 || g.Cin <= 0 || g.Cout <= 0) return p;
  p.per_thread = g.Cin * g.Cout * int64_t(sizeof(float)) < (int64_t(64) << 10);
  const int64_t per_tile = kPoints * (g.Cp + g.Kp) * int64_t(sizeof(float));
  int64_t b = p.per_thread ? std::clamp<int64_t>((int64_t(1) << 20) / per_tile / 12 * 12, 48, 480) : 480;
  // Tuning knob, read once so a plan's workspace size cannot change under it.
  static const int64_t forced = std::getenv("FC_WINO_TILES") ? std::atoll(std::getenv("FC_WINO_TILES")) : 0;
  if (forced > 0) b = forced;
  // Even blocks, so the last one is not a sliver.
  p.block = b >= p.tiles ? p.tiles : std::min(p.tiles, round_up(cdiv(p.tiles, cdiv(p.tiles, b)), 12));
  p.nblocks = cdiv(p.tiles, p.block);
  p.slots = p.per_thread ? std::min(p.nblocks, max_slots()) : 1;
  // Few tiles: each transformed C x K matrix then serves only a few GEMM rows (32 for VGG conv4_2 at batch 8), so
  // writing all 36 of them (36 MiB at 512 x 512, also VGG-11's peak scratch) and reading them back costs more than
  // the products. The fused path keeps the transformed filters of one 32-channel panel in L2 instead. Measured
  // against the packed GEMMs: 512^2 with 32 tiles forward 1.6x faster, 256^2 with 16 tiles 1.35x; level at 64
  // tiles (128^2); slower from 128 tiles on (256^2 at 14x14, 128^2 at 28x28: 0.8x).
  p.fused = !p.per_thread && p.nblocks == 1 && p.tiles <= fused_max_tiles();
  p.u_floats = p.fused ? fused_floats(g, p.block) : round_up(kPoints * g.Cin * g.Cout, 16);
  p.xb_floats = g.N * g.CB * g.Hp * g.Wp * kLanes;
  p.slot_floats = kPoints * p.block * (g.Cp + g.Kp);
  return p;
}

Geometry forward_geometry(const WinogradParams& p) {
  return make_geometry(p.N, p.C, p.K, p.H, p.W, p.pad_h, p.pad_w, p.out_h, p.out_w);
}
// conv_transpose with padding p == conv with the flipped kernel and padding 2 - p (stride 1).
Geometry backward_geometry(const WinogradParams& p) {
  return make_geometry(p.N, p.K, p.C, p.out_h, p.out_w, 2 - p.pad_h, 2 - p.pad_w, p.H, p.W);
}

void fill_bias(const Geometry& g, const float* bias, float* y) {
  const int64_t plane = g.out_h * g.out_w;
  parallel_for(g.N * g.Cout, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::fill(y + i * plane, y + (i + 1) * plane, bias ? bias[i % g.Cout] : 0.f);
  });
}

// xb from NCHW x: every (image, 16-channel block) plane with the padding applied, in parallel.
void pack_input(const Geometry& g, const Kernels& K, const float* x, float* xb) {
  parallel_for(g.N * g.CB, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / g.CB, cb = i % g.CB;
      const PackArgs a{x + (n * g.Cin + cb * kLanes) * g.H * g.W, xb + i * g.Hp * g.Wp * kLanes,
                       std::min<int64_t>(kLanes, g.Cin - cb * kLanes), g.H, g.W, g.Hp, g.Wp, g.pad_h, g.pad_w};
      K.pack(&a);
    }
  });
}

// V rows of the nt tiles from t0 (one block), in parallel over (tile, channel block).
void transform_inputs(const Geometry& g, const Kernels& K, const float* xb, float* V, int64_t t0, int64_t nt,
                      int64_t sv) {
  parallel_for(nt * g.CB, 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e;) {  // runs of whole channel-block ranges within one tile
      const int64_t t = i / g.CB, cb0 = i % g.CB, cb1 = std::min(g.CB, cb0 + (e - i));
      const InputArgs ia{&g, xb, V, t0, t0 + t, t0 + t + 1, cb0, cb1, sv};
      K.input(&ia);
      i += cb1 - cb0;
    }
  });
}

// M[e][:, co0:co0+w] = V_e x U_e[:, co0:co0+w] for every 32-channel panel: V is packed once per (e, depth
// block); per panel, each thread transforms the filters of its output channels straight into packed B panels
// (36 x kc x 32 floats, L2-resident) and runs the macro-kernel on them, depth blocks accumulating with beta = 1.
void run_fused(const Geometry& g, const Kernels& K, const float* w, bool transposed, const float* V, int64_t sv,
               int64_t nt, float* M, int64_t sm, float* scratch) {
  const SgemmKernels gk = sgemm_kernels();
  const int64_t kc = fused_kc(g.Cin), nkb = cdiv(g.Cin, kc), mp = round_up(nt, gk.mr);
  float* apk = scratch;  // [36][Cin] blocks of packed A: (e, depth block at c0) at (e * Cin + c0) * mp
  float* panels = scratch + round_up(kPoints * round_up(nt, kMaxMr) * g.Cin, 16);
  const int64_t panel_floats = round_up(kPoints * kc * kMaxNr, 16);
  parallel_for(kPoints * nkb, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t pt = i / nkb, c0 = i % nkb * kc, kcb = std::min(kc, g.Cin - c0);
      const gemm::PackAArgs pa{V + pt * sv + c0, g.Cp, nt, kcb, false, apk + (pt * g.Cin + c0) * mp};
      gk.pack_a(&pa);
    }
  });
  const int64_t npanels = cdiv(g.Cout, int64_t(gk.nr));
  const int64_t slots = std::min<int64_t>({max_slots(), npanels, get_num_threads()});
  parallel_for(slots, 1, [&](int64_t sb, int64_t se) {
    for (int64_t s = sb; s < se; ++s) {
      float* bp = panels + s * panel_floats;
      for (int64_t p = s; p < npanels; p += slots) {
        const int64_t co0 = p * gk.nr, width = std::min<int64_t>(gk.nr, g.Cout - co0);
        const int64_t row = round_up(width, gk.vec);
        if (row != width) std::fill(bp, bp + kPoints * kc * row, 0.f);  // the padded lanes of the last panel
        for (int64_t c0 = 0; c0 < g.Cin; c0 += kc) {
          const int64_t kcb = std::min(kc, g.Cin - c0);
          const FilterArgs fa{w, bp, g.Cin, g.Cout, c0, c0 + kcb, transposed, co0, co0 + width, c0, row, kcb * row};
          K.filter(&fa);
          for (int64_t pt = 0; pt < kPoints; ++pt) {
            const gemm::MacroArgs ma{apk + (pt * g.Cin + c0) * mp, bp + pt * kcb * row, M + pt * sm + co0, g.Kp, nt,
                                     width, kcb, 1.f, c0 == 0 ? 0.f : 1.f};
            gk.macro(&ma);
          }
        }
      }
    }
  });
}

void run(const Geometry& g, const float* x, const float* w, bool transposed, const float* bias, float* y,
         void* workspace) {
  if (g.N <= 0 || g.Cout <= 0 || g.out_h <= 0 || g.out_w <= 0) return;
  if (g.Cin <= 0) return fill_bias(g, bias, y);
  const Plan P = make_plan(g);
  const Kernels K = *pick_isa(&kScalarK, &kAvx2K, &kAvx512K);
  float* U = static_cast<float*>(workspace);
  float* xb = U + P.u_floats;
  float* slots = xb + P.xb_floats;

  // Ranges of input channels: each task then writes whole rows of the 36 planes (sequential streams).
  if (!P.fused)
    parallel_for(g.Cin, std::max<int64_t>(1, 4096 / g.Cout), [&](int64_t b, int64_t e) {
      const FilterArgs a{w, U, g.Cin, g.Cout, b, e, transposed, 0, g.Cout, 0, g.Cout, g.Cin * g.Cout};
      K.filter(&a);
    });
  pack_input(g, K, x, xb);

  const int64_t sv = P.block * g.Cp, sm = P.block * g.Kp;  // per-element strides of V and M
  auto gemm = [&](float* V, float* M, int64_t nt) {
    sgemm_batched(kPoints, false, false, nt, g.Cout, g.Cin, 1.f, V, g.Cp, sv, U, g.Cout, g.Cin * g.Cout, 0.f, M,
                  g.Kp, sm);
  };
  const int threads = get_num_threads();
  // Whole blocks per thread only when they share out evenly enough, and when sgemm_batched, called inside the
  // parallel region, takes its one-product-per-thread path (gemm.cpp: batch >= 2 * threads, or >= threads for
  // products under 16M multiply-adds); otherwise it would cut every product into regions that re-pack the same
  // panels. Else parallelise inside each phase.
  const bool balanced = P.nblocks >= 2 * threads || P.nblocks % threads == 0;
  const bool whole_products =
      kPoints >= 2 * threads || (kPoints >= threads && P.block * g.Cin * g.Cout < (int64_t(16) << 20));
  if (P.per_thread && threads > 1 && balanced && whole_products) {
    std::atomic<int64_t> next{0};
    parallel_for(P.slots, 1, [&](int64_t sb, int64_t se) {
      for (int64_t s = sb; s < se; ++s) {
        float* V = slots + s * P.slot_floats;
        float* M = V + kPoints * sv;
        for (int64_t blk; (blk = next.fetch_add(1, std::memory_order_relaxed)) < P.nblocks;) {
          const int64_t t0 = blk * P.block, t1 = std::min(P.tiles, t0 + P.block);
          const InputArgs ia{&g, xb, V, t0, t0, t1, 0, g.CB, sv};
          K.input(&ia);
          gemm(V, M, t1 - t0);
          const OutputArgs oa{&g, M, bias, y, t0, t0, t1, 0, g.KB, sm};
          K.output(&oa);
        }
      }
    });
    return;
  }
  float* V = slots;
  float* M = V + kPoints * sv;
  for (int64_t t0 = 0; t0 < P.tiles; t0 += P.block) {
    const int64_t t1 = std::min(P.tiles, t0 + P.block), nt = t1 - t0;
    transform_inputs(g, K, xb, V, t0, nt, sv);
    if (P.fused)
      run_fused(g, K, w, transposed, V, sv, nt, M, sm, U);
    else
      gemm(V, M, nt);
    parallel_for(nt * g.KB, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e;) {
        const int64_t t = i / g.KB, kb0 = i % g.KB, kb1 = std::min(g.KB, kb0 + (e - i));
        const OutputArgs oa{&g, M, bias, y, t0, t0 + t, t0 + t + 1, kb0, kb1, sm};
        K.output(&oa);
        i += kb1 - kb0;
      }
    });
  }
}

// Backward-weight: dU_e = sum over tiles V_e^T Wt_e, a GEMM whose reduction runs over tiles, so tiles go in blocks
// (bounded V and Wt) accumulated into one Macc[36][C][K] with beta = 1; each phase is parallel inside (the GEMMs
// over the 36 elements and their rows).
struct WeightPlan {
  Geometry g;
  int64_t tiles, block, v_floats, w_floats, m_floats, xb_floats;
  int64_t kblock;  // output channels per Macc block (Cout, or fewer with one tile block and a large Macc)
  bool fused;      // few tiles: products and adjoint per (input-channel block, output panel), no Macc at all
  size_t bytes() const { return size_t(xb_floats + v_floats + w_floats + m_floats) * sizeof(float); }
};

WeightPlan make_weight_plan(const WinogradParams& p) {
  const Geometry g = forward_geometry(p);
  WeightPlan w{g, g.N * g.TH * g.TW, 0, 0, 0, 0, 0, g.Cout, false};
  if (w.tiles <= 0 || g.Cin <= 0 || g.Cout <= 0) return w;
  // V and Wt of a block around 4 MiB (they are written then streamed once by the GEMM); at least 96 tiles so the
  // GEMM's reduction amortises reading and writing Macc.
  const int64_t per_tile = kPoints * (g.Cp + g.Kp) * int64_t(sizeof(float));
  const int64_t b = std::clamp<int64_t>((int64_t(4) << 20) / per_tile / 16 * 16, 96, 768);
  w.block = b >= w.tiles ? w.tiles : round_up(cdiv(w.tiles, cdiv(w.tiles, b)), 16);
  w.block = std::min(w.block, w.tiles);
  w.v_floats = kPoints * w.block * g.Cp;
  w.w_floats = kPoints * w.block * g.Kp;
  // Macc is as large as the forward's U (36 MiB at 512 x 512); with a single tile block nothing is accumulated
  // across blocks, so it is built, reduced to dw and dropped one block of output channels at a time (make_plan).
  w.kblock = u_block_channels(g, w.tiles == w.block);
  w.m_floats = round_up(kPoints * g.Cin * w.kblock, 16);
  // Few tiles: each product has a depth of only `tiles`, so writing Macc (36 C x K matrices) and reading it back
  // for the adjoint cost more than the products. Fused instead, with packed copies of V and Wt in its place.
  w.fused = w.tiles == w.block && w.tiles <= kFusedMaxTiles && g.Cin * g.Cout >= kFusedMinCK;
  if (w.fused) w.m_floats = fused_weight_floats(g, w.tiles);
  w.xb_floats = g.N * g.CB * g.Hp * g.Wp * kLanes;
  return w;
}

// Lanes of the filter adjoint (winograd::filter_adjoint__*) run over output channels k, which are contiguous in
// Macc[e][c][k], so its 36 loads per lane are 36 sequential streams; reading one (c, k) at a time instead strides by
// C*K floats per load (39 ms of a 42 ms 512-channel weight gradient went there).
constexpr int64_t kAdjLanes = kLanes;

AdjointFn pick_adjoint() { return pick_isa<AdjointFn>(filter_adjoint__scalar, nullptr, filter_adjoint__avx512); }

// dw for output channels [co0, co0 + kn) from their Macc block [36][Cin][kn].
void adjoint_block(const Geometry& g, const float* Macc, int64_t co0, int64_t kn, float* dw) {
  const int64_t plane = g.Cin * kn, kblocks = cdiv(kn, kAdjLanes);
  const AdjointFn adjoint = pick_adjoint();
  parallel_for(g.Cin * kblocks, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t c = i / kblocks, k0 = i % kblocks * kAdjLanes;
      const AdjointArgs aa{Macc + c * kn + k0, plane, std::min(kAdjLanes, kn - k0), dw + ((co0 + k0) * g.Cin + c) * 9,
                           g.Cin * 9};
      adjoint(&aa);
    }
  });
}

// dw from V [36][nt][Cp] and Wt [36][nt][Kp] of a single tile block: V_e^T and Wt_e are packed once; then per
// (48 input channels, 32-channel output panel) block, the 36 products go into a thread's buffer [36][48][row]
// (L2-resident) and are reduced to dw by the adjoint right away.
void fused_weight(const Geometry& g, const float* V, int64_t sv, const float* Wt, int64_t sw, int64_t nt, float* dw,
                  float* scratch) {
  const SgemmKernels gk = sgemm_kernels();
  const int64_t ma = round_up(g.Cin, int64_t(gk.mr)), nb = round_up(g.Cout, int64_t(gk.nr));
  float* apk = scratch;  // per e: ma x nt as MR-row strips
  float* bpk = apk + round_up(kPoints * round_up(g.Cin, kMaxMr) * nt, 16);  // per e: panels of NR x nt
  float* bufs = bpk + round_up(kPoints * round_up(g.Cout, kMaxNr) * nt, 16);
  const int64_t buf_floats = round_up(kPoints * kFusedWRows * kMaxNr, 16);
  parallel_for(kPoints, 1, [&](int64_t b, int64_t e) {
    for (int64_t pt = b; pt < e; ++pt) {
      const gemm::PackAArgs pa{V + pt * sv, g.Cp, g.Cin, nt, true, apk + pt * ma * nt};
      gk.pack_a(&pa);
      const gemm::PackBArgs pb{Wt + pt * sw, g.Kp, nt, g.Cout, false, bpk + pt * nb * nt};
      gk.pack_b(&pb);
    }
  });
  const int64_t cblocks = cdiv(g.Cin, kFusedWRows), npanels = cdiv(g.Cout, int64_t(gk.nr));
  const AdjointFn adjoint = pick_adjoint();
  const int64_t units = cblocks * npanels;
  const int64_t slots = std::min<int64_t>({max_slots(), units, get_num_threads()});
  parallel_for(slots, 1, [&](int64_t sb, int64_t se) {
    for (int64_t s = sb; s < se; ++s) {
      float* buf = bufs + s * buf_floats;
      for (int64_t u = s; u < units; u += slots) {
        const int64_t c0 = u / npanels * kFusedWRows, co0 = u % npanels * gk.nr;
        const int64_t rows = std::min(kFusedWRows, g.Cin - c0), width = std::min<int64_t>(gk.nr, g.Cout - co0);
        const int64_t plane = kFusedWRows * gk.nr;
        for (int64_t pt = 0; pt < kPoints; ++pt) {
          const gemm::MacroArgs m{apk + pt * ma * nt + c0 * nt, bpk + pt * nb * nt + co0 * nt, buf + pt * plane, gk.nr,
                                  rows, width, nt, 1.f, 0.f};
          gk.macro(&m);
        }
        for (int64_t c = 0; c < rows; ++c)
          for (int64_t k0 = 0; k0 < width; k0 += kAdjLanes) {
            const AdjointArgs aa{buf + c * gk.nr + k0, plane, std::min(kAdjLanes, width - k0),
                                 dw + ((co0 + k0) * g.Cin + c0 + c) * 9, g.Cin * 9};
            adjoint(&aa);
          }
      }
    }
  });
}

}  // namespace

size_t winograd_f4x3_backward_weight_workspace_bytes(const WinogradParams& p) {
  return make_weight_plan(p).bytes();
}

void winograd_f4x3_backward_weight(const WinogradParams& p, const float* x, const float* dy, float* dw,
                                   void* workspace) {
  if (p.K <= 0 || p.C <= 0) return;
  const WeightPlan P = make_weight_plan(p);
  const Geometry& g = P.g;
  if (P.tiles <= 0) {
    std::fill(dw, dw + g.Cout * g.Cin * 9, 0.f);
    return;
  }
  const Kernels K = *pick_isa(&kScalarK, &kAvx2K, &kAvx512K);
  // The dY transform has no AVX2 build (nullptr): AVX2 machines run the scalar one.
  const GradOutFn gradout =
      pick_isa<GradOutFn>(gradout_transform__scalar, nullptr, gradout_transform__avx512);
  float* xb = static_cast<float*>(workspace);
  float* V = xb + P.xb_floats;
  float* Wt = V + P.v_floats;
  float* Macc = Wt + P.w_floats;
  pack_input(g, K, x, xb);
  const int64_t sv = P.block * g.Cp, sw = P.block * g.Kp;
  for (int64_t t0 = 0; t0 < P.tiles; t0 += P.block) {
    const int64_t t1 = std::min(P.tiles, t0 + P.block), nt = t1 - t0;
    transform_inputs(g, K, xb, V, t0, nt, sv);
    parallel_for(nt * g.KB, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e;) {
        const int64_t t = i / g.KB, kb0 = i % g.KB, kb1 = std::min(g.KB, kb0 + (e - i));
        const GradOutArgs ga{&g, dy, Wt, t0, t0 + t, t0 + t + 1, kb0, kb1, sw};
        gradout(&ga);
        i += kb1 - kb0;
      }
    });
    if (P.fused) return fused_weight(g, V, sv, Wt, sw, nt, dw, Macc);
    // Output channels [co0, co0 + kn) of Macc[36][Cin][kn], then (once complete) their dw.
    for (int64_t co0 = 0; co0 < g.Cout; co0 += P.kblock) {
      const int64_t kn = std::min(P.kblock, g.Cout - co0);
      sgemm_batched(kPoints, true, false, g.Cin, kn, nt, 1.f, V, g.Cp, sv, Wt + co0, g.Kp, sw, t0 == 0 ? 0.f : 1.f,
                    Macc, kn, g.Cin * kn);
      if (t1 == P.tiles) adjoint_block(g, Macc, co0, kn, dw);
    }
  }
}

size_t winograd_f4x3_workspace_bytes(const WinogradParams& p) {
  return std::max(make_plan(forward_geometry(p)).bytes(), make_plan(backward_geometry(p)).bytes());
}

void winograd_f4x3_forward(const WinogradParams& p, const float* x, const float* w, const float* bias, float* y,
                           void* workspace) {
  run(forward_geometry(p), x, w, false, bias, y, workspace);
}

void winograd_f4x3_backward_data(const WinogradParams& p, const float* dy, const float* w, float* dx,
                                 void* workspace) {
  run(backward_geometry(p), dy, w, true, nullptr, dx, workspace);
}

}  // namespace fastconv::cpu
