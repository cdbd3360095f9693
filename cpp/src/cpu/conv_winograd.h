// Winograd F(4x4, 3x3) convolution (stride 1, dilation 1, groups 1) for the CPU.
//
// The public part is the POD interface the conv op calls (algorithm `winograd_f4x3`). The `winograd` namespace
// below it is the contract between the driver (conv_winograd_f4x3.cpp) and the per-ISA transform kernels: POD
// argument structs and plain function declarations only, so nothing compiled with -mavx512f leaks into baseline
// code through this header (docs/kernels.md).
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastconv {
enum class Isa;  // fastconv/cpu_features.h (not included: ISA files include this header)
}

namespace fastconv::cpu {

struct GemmConfig;  // cpu/gemm/gemm.h

// x: [N, C, H, W], w: [K, C, 3, 3], y: [N, K, out_h, out_w], all contiguous float32.
// Any padding (including 0 or larger than 2) is allowed; out_h/out_w are the output size the caller wants
// (normally H + 2*pad_h - 2), each >= 1 unless N == 0.
struct WinogradParams {
  int64_t N, C, H, W, K, pad_h, pad_w, out_h, out_w;
};

enum class WinogradPass { forward, backward_data, backward_weight };

// What a plan depends on besides the shapes, resolved in prepare.
struct WinogradConfig {
  Isa isa{};
  int threads = 1;           // workspace slots and task counts are planned for this many
  int64_t block_tiles = 0;   // forward/data tiles per block; 0: the rules (option conv.winograd_fused_tiles)
  long l2_bytes = 2l << 20;  // per-core L2 (cpu_features().l2_bytes)
};

namespace winograd {

constexpr int kAlpha = 6;             // input tile edge (m + r - 1)
constexpr int kTile = 4;              // output tile edge m
constexpr int kPoints = 36;           // transform-domain elements per tile; one GEMM each
constexpr int kLanes = 16;            // channels per block in every internal layout, whatever the ISA width

// Fused paths (conv_winograd_f4x3_plan.cpp has the rules): depth blocks over Cin of at most kFusedKc, buffers
// sized for the widest GEMM tile of any ISA (MR 12, NR 32), weight-gradient blocks of kFusedWRows input channels.
constexpr int64_t kFusedKc = 256, kMaxMr = 12, kMaxNr = 32, kFusedWRows = 48;

// One convolution as the kernels see it (backward-data is a forward convolution with Cin = K, Cout = C).
// Internal layouts (channel blocks of kLanes, zero-filled past the real channel count):
//   xb: [N][CB][Hp][Wp][16]  input with its padding applied: xb row r, column s = x[r - pad_h][s - pad_w] or 0
//   U:  [36][Cin][Cout]      transformed filters, the B operand of the GEMMs
//   V:  [36][tiles][Cp]      transformed input for one block of tiles, the A operand (row stride Cp)
//   M:  [36][tiles][Kp]      transform-domain products, row stride Kp (lanes past Cout hold garbage)
// Tile t (global) covers output rows 4*th.. and columns 4*tw.. of image n, t = (n*TH + th)*TW + tw.
struct Geometry {
  int64_t N, Cin, Cout, H, W, pad_h, pad_w, out_h, out_w;
  int64_t TH, TW, Hp, Wp, CB, Cp, KB, Kp;
};

// Where global tile t sits (image n, tile row th, tile column tw) and how many of its 4 output rows and columns lie
// inside the output. Internal linkage, like every helper the ISA files share (see the top of this file).
struct TilePos {
  int64_t n, th, tw, rows, cols;
};
namespace {
inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }
inline int64_t fused_kc(int64_t Cin) { return cdiv(Cin, cdiv(Cin, kFusedKc)); }  // even depth blocks
inline TilePos tile_pos(const Geometry& g, int64_t t) {
  const int64_t th = t / g.TW % g.TH, tw = t % g.TW;
  const int64_t rows = g.out_h - kTile * th < kTile ? g.out_h - kTile * th : kTile;
  const int64_t cols = g.out_w - kTile * tw < kTile ? g.out_w - kTile * tw : kTile;
  return {t / (g.TH * g.TW), th, tw, rows, cols};
}
}  // namespace

// U[:, ci0:ci1, co0:co1]: (e, ci, co) goes to U + e*u_plane + (ci - u_ci0)*u_row + (co - co0). The whole U is
// u_ci0 = 0, u_row = Cout, u_plane = Cin*Cout; one packed GEMM B panel is u_ci0 = ci0, u_row = its padded width,
// u_plane = (ci1 - ci0)*u_row. w is [Cout][Cin][3][3], or with `transposed` (backward-data) [Cin][Cout][3][3] read
// rotated by 180 degrees.
struct FilterArgs {
  const float* w;
  float* U;
  int64_t Cin, Cout, ci0, ci1;
  bool transposed;
  int64_t co0, co1, u_ci0, u_row, u_plane;
};

// One (image, channel block) plane of xb from NCHW x.
struct PackArgs {
  const float* x;  // first channel of the block in image n
  float* xb;       // its Hp x Wp x 16 plane
  int64_t channels;  // valid channels in this block (<= 16); the rest are zero-filled
  int64_t H, W, Hp, Wp, pad_h, pad_w;
};

// V rows for tiles [t0, t1) (global indices) of the block starting at tile `base`, channel blocks [cb0, cb1).
struct InputArgs {
  const Geometry* g;
  const float* xb;
  float* V;
  int64_t base, t0, t1, cb0, cb1, stride_e;  // stride_e: floats between consecutive transform-domain elements
};

// y for tiles [t0, t1) of the block starting at `base`, output-channel blocks [kb0, kb1), plus bias if non-null.
struct OutputArgs {
  const Geometry* g;
  const float* M;
  const float* bias;
  float* y;
  int64_t base, t0, t1, kb0, kb1, stride_e;
};

// Backward-weight: Wt rows for tiles [t0, t1) of the block starting at `base`, output-channel blocks [kb0, kb1):
// Wt[e][t - base][k] = (A dY A^T)[e] of dy's 4x4 tile (zero past out_h/out_w and past Cout), row stride Kp.
struct GradOutArgs {
  const Geometry* g;
  const float* dy;  // [N][Cout][out_h][out_w]
  float* Wt;
  int64_t base, t0, t1, kb0, kb1, stride_e;
};

using FilterFn = void (*)(const FilterArgs*);
using PackFn = void (*)(const PackArgs*);
using InputFn = void (*)(const InputArgs*);
using OutputFn = void (*)(const OutputArgs*);
using GradOutFn = void (*)(const GradOutArgs*);

// The weight gradient's filter adjoint G^T m G: dw[l][c][3][3] for lanes l < n (n <= kLanes, consecutive output
// channels, dw_stride floats apart) from the 36 transform-domain values m[e * plane + l].
struct AdjointArgs {
  const float* m;
  int64_t plane, n;
  float* dw;
  int64_t dw_stride;
};
using AdjointFn = void (*)(const AdjointArgs*);

void filter_transform__scalar(const FilterArgs*);
void pack_input__scalar(const PackArgs*);
void input_transform__scalar(const InputArgs*);
void output_transform__scalar(const OutputArgs*);
void gradout_transform__scalar(const GradOutArgs*);
void filter_adjoint__scalar(const AdjointArgs*);
void filter_transform__avx2(const FilterArgs*);
void pack_input__avx2(const PackArgs*);
void input_transform__avx2(const InputArgs*);
void output_transform__avx2(const OutputArgs*);
void filter_transform__avx512(const FilterArgs*);
void pack_input__avx512(const PackArgs*);
void input_transform__avx512(const InputArgs*);
void output_transform__avx512(const OutputArgs*);
void gradout_transform__avx512(const GradOutArgs*);
void filter_adjoint__avx512(const AdjointArgs*);

}  // namespace winograd
// Everything a pass needs at run time, fixed by winograd_f4x3_plan: geometry, blocking, kernels of the chosen
// instruction set, thread count, workspace layout. Tasks are per workspace slot (never per pool thread), so the
// plan stays correct when the pool's size changes after it was made.
struct WinogradPlan {
  WinogradPass pass = WinogradPass::forward;
  winograd::Geometry g{};
  int threads = 1;
  const GemmConfig* gemm = nullptr;
  winograd::FilterFn filter = nullptr;
  winograd::PackFn pack = nullptr;
  winograd::InputFn input = nullptr;
  winograd::OutputFn output = nullptr;
  winograd::GradOutFn gradout = nullptr;
  winograd::AdjointFn adjoint = nullptr;
  int64_t tiles = 0, block = 0, nblocks = 0, slots = 1;
  // Forward/data: one tile block and a large U: the filter transform writes GEMM B panels straight into
  // per-thread buffers and the driver runs the macro-kernels itself, so U never exists. Weight: few tiles, so the
  // products and the adjoint run per (input-channel block, output panel) with no Macc at all.
  bool fused = false;
  bool whole_blocks = false;  // forward/data: each slot runs whole blocks in its own V, M and GEMM scratch
  // Workspace layout in floats, each a multiple of 16 (64-byte aligned buffers).
  //   forward/data: [U or fused scratch: u][xb][slots x (V, M, GEMM scratch): slot]
  //   weight:       [xb][V][Wt][Macc or fused scratch: m][GEMM scratch: gemm]
  int64_t u_floats = 0, xb_floats = 0, slot_floats = 0, v_floats = 0, w_floats = 0, m_floats = 0, gemm_floats = 0;
  int64_t kblock = 0;  // weight: output channels per Macc block
  size_t bytes() const;
};

WinogradPlan winograd_f4x3_plan(const WinogradParams& p, WinogradPass pass, const WinogradConfig& cfg);

// Scratch for the plan's pass; it must be 64-byte aligned (aligned vector loads and stores; the planner's
// workspace is).
inline size_t winograd_f4x3_workspace_bytes(const WinogradPlan& plan) { return plan.bytes(); }

// y = conv2d(x, w, stride 1, padding (pad_h, pad_w)) (+ bias[K] if non-null). Weights are transformed on every call.
void winograd_f4x3_forward(const WinogradPlan& plan, const float* x, const float* w, const float* bias, float* y,
                           void* workspace);

// dx[N, C, H, W] = conv_transpose2d(dy[N, K, out_h, out_w], w, padding (pad_h, pad_w)): the gradient of forward's
// x for the same params (the exact adjoint, whatever out_h/out_w), computed as a Winograd convolution of dy with
// the 180-degree-rotated, channel-transposed weights and padding 2 - pad.
void winograd_f4x3_backward_data(const WinogradPlan& plan, const float* dy, const float* w, float* dx,
                                 void* workspace);

// dw[K, C, 3, 3] = the gradient of forward's w for the same params, from x[N, C, H, W] and dy[N, K, out_h, out_w]
// (overwritten, not accumulated): dw = G^T [ sum over tiles (B^T d B) .* (A dY A^T) ] G, the exact adjoint of
// the forward transforms, with the tile sum done by 36 GEMMs whose reduction runs over tiles.
void winograd_f4x3_backward_weight(const WinogradPlan& plan, const float* x, const float* dy, float* dw,
                                   void* workspace);

}  // namespace fastconv::cpu
