// Convolution through the one SGEMM (cpu/gemm/gemm.h): im2col/col2im for the general case ("im2col_gemm") and
// direct GEMMs on NCHW for 1x1 stride-1 unpadded convolutions ("gemm_1x1"), forward and both backward passes.
//
// Batch parallelism: with `slots` > 1, that many images are processed side by side, each slot with its own
// scratch and a single-threaded GEMM (nested parallel_for runs serially); with slots == 1 the images run one after
// another through the threaded GEMM. The plan functions pick the count once, at prepare time.
// Batched columns (im2col_gemm, `chunk` > 1): with few output positions per image a per-image GEMM is too narrow
// (ResNet layer4 at 2x2: N = 4) and re-packs the whole weight matrix per image, so `chunk` images share one column
// matrix [Cg*KV, chunk*OV] and one threaded GEMM; the result is scattered back to NCHW (with the epilogue).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/conv_params.h"
#include "cpu/gemm/gemm.h"

namespace fastconv::cpu {

enum class ConvPass { forward, backward_data, backward_weight };

// How the batch runs: `slots` images side by side, or `chunk` images per batched GEMM (never both), and the
// products' GEMM plan (ISA tile, thread count: 1 inside slots). Made once, at prepare time; the workspace size
// below includes every GEMM's scratch, one per slot.
struct GemmPlan {
  int64_t slots = 1;
  int64_t chunk = 1;
  GemmContext gemm;
};
GemmPlan conv_gemm_plan(int64_t slots, int64_t chunk, Isa isa, int threads);

// Slots for a pass whose per-slot scratch is `floats_per_slot` floats (the whole scratch stays under a cap).
int64_t conv_gemm_slots(const ConvParams& p, int64_t floats_per_slot, int threads);

// The plans the rules pick: im2col_gemm batches columns for small outputs, else both use slots.
GemmPlan conv_im2col_gemm_plan(const ConvParams& p, ConvPass pass, Isa isa, int threads);
GemmPlan conv_gemm_1x1_plan(const ConvParams& p, ConvPass pass, Isa isa, int threads);

// Scratch for one pass, in bytes (columns, weight-gradient partials and the GEMMs' pack buffers).
size_t conv_im2col_gemm_workspace(const ConvParams& p, ConvPass pass, const GemmPlan& plan);
size_t conv_gemm_1x1_workspace(const ConvParams& p, ConvPass pass, const GemmPlan& plan);

// Fused ops' epilogue, applied to each image's output right after its GEMM while it is still in cache:
// y = relu?(y + residual), in that order (the order of the unfused add and relu nodes, so results are identical).
struct ConvEpilogue {
  const float* residual = nullptr;  // laid out like y, or null
  bool relu = false;
};

// Forward weights packed once for the plan's GEMMs (sgemm_pack_a, per group), for callers that keep them across
// calls (ops/conv_weight_cache.h): `wpack` in the forward kernels, null to pack per call as before. The layout
// depends on the plan's ISA only.
int64_t conv_packed_weight_floats(const ConvParams& p, const GemmPlan& plan);
void conv_pack_weight(const ConvParams& p, const GemmPlan& plan, const float* w, float* wpack);

void conv_im2col_gemm_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                              float* ws, const GemmPlan& plan, const ConvEpilogue& ep = {},
                              const float* wpack = nullptr);
void conv_im2col_gemm_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float* ws,
                                    const GemmPlan& plan);
void conv_im2col_gemm_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                      const GemmPlan& plan);

void conv_gemm_1x1_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                           float* ws, const GemmPlan& plan, const ConvEpilogue& ep = {}, const float* wpack = nullptr);
void conv_gemm_1x1_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float* ws,
                                 const GemmPlan& plan);
void conv_gemm_1x1_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                   const GemmPlan& plan);

// One image's `Cg` channels -> columns [Cg*k_vol, out_vol]; col2im adds columns back into (zeroed) channels.
// `ld`: row stride of col (out_vol for one image; chunk*out_vol when images sit side by side).
void conv_im2col(const ConvParams& p, const float* x, float* col, int64_t ld = 0);
void conv_col2im(const ConvParams& p, const float* col, float* x, int64_t ld = 0);

// db[K] = sum of dy over batch and positions (every algorithm), parallel over channels.
void conv_backward_bias(const ConvParams& p, const float* dy, float* db);
// y[n,k,:] += bias[k] for y of shape [N, K, spatial] (the transposed convolution's bias).
void conv_add_bias(int64_t N, int64_t K, int64_t spatial, const float* bias, float* y);

}  // namespace fastconv::cpu
