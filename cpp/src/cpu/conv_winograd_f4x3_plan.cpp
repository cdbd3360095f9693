// Winograd F(4x4, 3x3) plans: blocking, paths, workspace layout and kernels for one pass, fixed at prepare time
// so that the drivers (conv_winograd_f4x3.cpp) read no global state and allocate nothing.
#include <algorithm>

#include "cpu/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/cpu_features.h"

namespace fastconv::cpu {
namespace {

using namespace winograd;

int64_t floats16(int64_t n) { return round_up(n, 16); }

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

Geometry forward_geometry(const WinogradParams& p) {
  return make_geometry(p.N, p.C, p.K, p.H, p.W, p.pad_h, p.pad_w, p.out_h, p.out_w);
}
// conv_transpose with padding p == conv with the flipped kernel and padding 2 - p (stride 1).
Geometry backward_geometry(const WinogradParams& p) {
  return make_geometry(p.N, p.K, p.C, p.out_h, p.out_w, 2 - p.pad_h, 2 - p.pad_w, p.H, p.W);
}

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

// The fused path's scratch in place of U: the packed A of all 36 products, then one B-panel buffer
// (36 x kc x 32) per thread.
constexpr int64_t kFusedMaxTiles = 64;
int64_t fused_floats(const Geometry& g, int64_t tiles, int threads) {
  const int64_t a = kPoints * round_up(tiles, kMaxMr) * g.Cin;
  return floats16(a) + threads * floats16(kPoints * fused_kc(g.Cin) * kMaxNr);
}

// The fused weight gradient: packed A (V_e^T, Cin x tiles) and B (Wt_e, tiles x Cout) of all 36 products, then
// per thread the 36 C tiles of one (kFusedWRows input channels x 32 output channels) block.
constexpr int64_t kFusedMinCK = 128 * 128;
int64_t fused_weight_floats(const Geometry& g, int64_t tiles, int threads) {
  const int64_t a = floats16(kPoints * round_up(g.Cin, kMaxMr) * tiles);
  const int64_t b = floats16(kPoints * round_up(g.Cout, kMaxNr) * tiles);
  return a + b + threads * floats16(kPoints * kFusedWRows * kMaxNr);
}

// Up to how many tiles the forward/data pass takes the fused path. Its cost is re-reading the packed V of all 36
// products once per 32-channel panel (from L3); the packed path's is writing U and streaming it back. With a 2 MiB
// L2 the packed path won from 128 tiles on (256^2 at 14x14: fused 0.8x); with 1 MiB (Zen 4), where U_e's B blocks
// no longer stay in L2 beside the A block, fused won at 128 tiles (VGG conv3_2, batch 8: 0.92x the time, per-round
// median of 10 interleaved runs) and lost at 392 (128^2 at 28x28).
int64_t fused_max_tiles(long l2_bytes) { return l2_bytes < (2l << 20) ? 2 * kFusedMaxTiles : kFusedMaxTiles; }

void pick_kernels(Isa isa, WinogradPlan* P) {
  switch (isa) {
    case Isa::avx512:
      P->filter = filter_transform__avx512, P->pack = pack_input__avx512, P->input = input_transform__avx512;
      P->output = output_transform__avx512, P->gradout = gradout_transform__avx512;
      P->adjoint = filter_adjoint__avx512;
      return;
    case Isa::avx2:  // the dY transform and the adjoint have no AVX2 builds: the scalar ones run
      P->filter = filter_transform__avx2, P->pack = pack_input__avx2, P->input = input_transform__avx2;
      P->output = output_transform__avx2, P->gradout = gradout_transform__scalar;
      P->adjoint = filter_adjoint__scalar;
      return;
    default:
      P->filter = filter_transform__scalar, P->pack = pack_input__scalar, P->input = input_transform__scalar;
      P->output = output_transform__scalar, P->gradout = gradout_transform__scalar;
      P->adjoint = filter_adjoint__scalar;
  }
}

void plan_forward(const WinogradConfig& cfg, WinogradPlan& p) {
  const Geometry& g = p.g;
  const int threads = p.threads;
  const bool small_u = g.Cin * g.Cout * int64_t(sizeof(float)) < (int64_t(64) << 10);
  const int64_t per_tile = kPoints * (g.Cp + g.Kp) * int64_t(sizeof(float));
  int64_t b = small_u ? std::clamp<int64_t>((int64_t(1) << 20) / per_tile / 12 * 12, 48, 480) : 480;
  if (cfg.block_tiles > 0) b = cfg.block_tiles;
  // Even blocks, so the last one is not a sliver.
  p.block = b >= p.tiles ? p.tiles : std::min(p.tiles, round_up(cdiv(p.tiles, cdiv(p.tiles, b)), 12));
  p.nblocks = cdiv(p.tiles, p.block);
  // Whole blocks per slot only when they share out evenly enough, and when the batched GEMM, called inside the
  // parallel region, takes its one-product-per-task path (gemm.cpp: batch >= 2 * threads, or >= threads for
  // products under 16M multiply-adds); otherwise it would cut every product into regions that re-pack the same
  // panels. Else every phase is parallel inside.
  const bool balanced = p.nblocks >= 2 * threads || p.nblocks % threads == 0;
  const bool whole_products =
      kPoints >= 2 * threads || (kPoints >= threads && p.block * g.Cin * g.Cout < (int64_t(16) << 20));
  p.whole_blocks = small_u && threads > 1 && balanced && whole_products;
  p.slots = p.whole_blocks ? std::min<int64_t>(p.nblocks, threads) : 1;
  // Few tiles: each transformed C x K matrix then serves only a few GEMM rows (32 for VGG conv4_2 at batch 8), so
  // writing all 36 of them (36 MiB at 512 x 512, also VGG-11's peak scratch) and reading them back costs more than
  // the products. The fused path keeps the transformed filters of one 32-channel panel in L2 instead. Measured
  // against the packed GEMMs: 512^2 with 32 tiles forward 1.6x faster, 256^2 with 16 tiles 1.35x; level at 64
  // tiles (128^2); slower from 128 tiles on (256^2 at 14x14, 128^2 at 28x28: 0.8x).
  p.fused = !small_u && p.nblocks == 1 && p.tiles <= fused_max_tiles(cfg.l2_bytes);
  p.u_floats = p.fused ? fused_floats(g, p.block, threads) : floats16(kPoints * g.Cin * g.Cout);
  p.xb_floats = g.N * g.CB * g.Hp * g.Wp * kLanes;
  // The 36 products M_e = V_e U_e of one block: single-threaded inside a slot, else threaded (the last block may
  // be shorter, and scratch needs are not monotone in the row count of a threaded product).
  size_t gemm = 0;
  if (!p.fused) {
    const GemmContext gc = gemm_context(cfg.isa, p.whole_blocks ? 1 : threads);
    for (int64_t nt : {p.block, p.tiles - (p.nblocks - 1) * p.block})
      gemm = std::max(gemm, sgemm_batched_scratch_bytes(gc, kPoints, false, false, nt, g.Cout, g.Cin));
  }
  p.gemm_floats = int64_t(gemm / sizeof(float));
  p.slot_floats = kPoints * p.block * (g.Cp + g.Kp) + p.gemm_floats;
}

// Backward-weight: dU_e = sum over tiles V_e^T Wt_e, a GEMM whose reduction runs over tiles, so tiles go in blocks
// (bounded V and Wt) accumulated into one Macc[36][C][K] with beta = 1.
void plan_weight(const WinogradConfig& cfg, WinogradPlan& w) {
  const Geometry& g = w.g;
  // V and Wt of a block around 4 MiB (they are written then streamed once by the GEMM); at least 96 tiles so the
  // GEMM's reduction amortises reading and writing Macc.
  const int64_t per_tile = kPoints * (g.Cp + g.Kp) * int64_t(sizeof(float));
  const int64_t b = std::clamp<int64_t>((int64_t(4) << 20) / per_tile / 16 * 16, 96, 768);
  w.block = b >= w.tiles ? w.tiles : round_up(cdiv(w.tiles, cdiv(w.tiles, b)), 16);
  w.block = std::min(w.block, w.tiles);
  w.nblocks = cdiv(w.tiles, w.block);
  w.v_floats = kPoints * w.block * g.Cp;
  w.w_floats = kPoints * w.block * g.Kp;
  // Macc is as large as the forward's U (36 MiB at 512 x 512); with a single tile block nothing is accumulated
  // across blocks, so it is built, reduced to dw and dropped one block of output channels at a time.
  w.kblock = u_block_channels(g, w.tiles == w.block);
  w.m_floats = floats16(kPoints * g.Cin * w.kblock);
  // Few tiles: each product has a depth of only `tiles`, so writing Macc (36 C x K matrices) and reading it back
  // for the adjoint cost more than the products. Fused instead, with packed copies of V and Wt in its place.
  w.fused = w.tiles == w.block && w.tiles <= kFusedMaxTiles && g.Cin * g.Cout >= kFusedMinCK;
  if (w.fused) w.m_floats = fused_weight_floats(g, w.tiles, w.threads);
  w.xb_floats = g.N * g.CB * g.Hp * g.Wp * kLanes;
  size_t gemm = 0;
  if (!w.fused) {
    const GemmContext gc = gemm_context(cfg.isa, w.threads);
    for (int64_t nt : {w.block, w.tiles - (w.nblocks - 1) * w.block})
      for (int64_t kn : {w.kblock, g.Cout % w.kblock})
        if (kn > 0) gemm = std::max(gemm, sgemm_batched_scratch_bytes(gc, kPoints, true, false, g.Cin, kn, nt));
  }
  w.gemm_floats = int64_t(gemm / sizeof(float));
}

}  // namespace

size_t WinogradPlan::bytes() const {
  const int64_t f = pass == WinogradPass::backward_weight ? xb_floats + v_floats + w_floats + m_floats + gemm_floats
                                                          : u_floats + xb_floats + slots * slot_floats;
  return size_t(f) * sizeof(float);
}

WinogradPlan winograd_f4x3_plan(const WinogradParams& p, WinogradPass pass, const WinogradConfig& cfg) {
  WinogradPlan P;
  P.pass = pass;
  P.g = pass == WinogradPass::backward_data ? backward_geometry(p) : forward_geometry(p);
  P.threads = std::max(1, cfg.threads);
  P.gemm = gemm_config(cfg.isa);
  pick_kernels(cfg.isa, &P);
  const Geometry& g = P.g;
  P.tiles = g.N * g.TH * g.TW;
  if (P.tiles <= 0 || g.Cin <= 0 || g.Cout <= 0) return P;  // nothing to compute: no workspace
  if (pass == WinogradPass::backward_weight)
    plan_weight(cfg, P);
  else
    plan_forward(cfg, P);
  return P;
}

}  // namespace fastconv::cpu
