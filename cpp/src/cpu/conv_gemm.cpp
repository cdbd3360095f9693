// Convolution as GEMM: im2col_gemm (general) and gemm_1x1 (no column matrix at all). Per image and group:
//   forward          Y_g [Kg, OV]      = W_g [Kg, Cg*KV] x col [Cg*KV, OV]
//   backward data    col               = W_g^T x dY_g, then col2im into dX
//   backward weight  dW_g [Kg, Cg*KV] += dY_g x col^T   (summed over the batch)
// For 1x1 stride-1 unpadded convolutions col is the input itself (Cg x HW in NCHW), so no copy is made.
#include <algorithm>
#include <cstring>

#include "cpu/conv_gemm.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

constexpr int64_t kMaxScratchFloats = int64_t(64) << 20 >> 2;  // 64 MiB for all slots together
// One slot's scratch beyond 4 MiB (a weight-gradient partial of a 512x512x3x3 layer is 9 MiB) would grow the
// arena by that much per thread while the single-image GEMM is large enough to thread on its own.
constexpr int64_t kMaxSlotFloats = int64_t(4) << 20 >> 2;

// Runs f(n, slot) for every image: round-robin over `slots` parallel workers, or in order on the caller's thread
// (where the GEMM itself is threaded).
template <class F>
void for_images(int64_t N, int64_t slots, const F& f) {
  if (slots <= 1) {
    for (int64_t n = 0; n < N; ++n) f(n, int64_t(0));
    return;
  }
  parallel_for(slots, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s)
      for (int64_t n = s; n < N; n += slots) f(n, s);
  });
}

int64_t weight_floats(const ConvParams& p) { return p.K * group_in(p) * k_vol(p); }

// Weight gradients sum over the batch. Image n adds into accumulation group n mod G, in increasing n, and the groups
// are summed in order 0..G-1 at the end. G depends on the problem only, never on the thread count (the slots only
// say how many groups run at once), so a weight gradient is bit-identical on any number of threads; with one
// partial per thread, as before, the rounding of the sum changed with the thread count.
constexpr int64_t kWeightGroups = 8;

int64_t weight_groups(const ConvParams& p) {
  const int64_t wf = weight_floats(p), g = std::min<int64_t>(p.N, kWeightGroups);
  if (g < 2 || wf > kMaxSlotFloats || g * wf > kMaxScratchFloats / 2) return 1;
  return g;
}

// f(n, group, worker) for every image: groups round-robin over min(workers, groups) parallel workers, each worker's
// groups one after another (so a worker's scratch serves one image at a time).
template <class F>
void for_groups(int64_t N, int64_t groups, int64_t workers, const F& f) {
  workers = std::max<int64_t>(1, std::min(workers, groups));
  auto run = [&](int64_t s) {
    for (int64_t g = s; g < groups; g += workers)
      for (int64_t n = g; n < N; n += groups) f(n, g, s);
  };
  if (workers == 1) return run(0);
  parallel_for(workers, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s) run(s);
  });
}

int64_t weight_workers(const ConvParams& p, int64_t slots) { return std::min(slots, weight_groups(p)); }

// Batched columns below this many output positions per image, aiming at this many GEMM columns per chunk (512
// measured level with 1024 on ResNet-18/VGG-11 steps at half the column scratch; per-image slots at >= 256
// positions measured level with batching, so the threshold only catches the narrow GEMMs).
constexpr int64_t kBatchBelowCols = 256;
constexpr int64_t kBatchTargetCols = 512;

// Per image of a chunk: its columns [Cg*KV, OV] plus its slice of the staged GEMM output / gathered dY [Kg, OV].
int64_t chunk_floats(const ConvParams& p) { return (group_in(p) * k_vol(p) + group_out(p)) * out_vol(p); }

// dst[k, j*OV + o] = y[n0 + j, g*Kg + k, o]: one group's dY of `c` images side by side (row stride c*OV).
void gather_chunk(const ConvParams& p, const float* y, int64_t n0, int64_t c, int64_t g, float* dst) {
  const int64_t Kg = group_out(p), ov = out_vol(p), cols = c * ov;
  parallel_for(Kg * c, std::max<int64_t>(1, 4096 / ov), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t k = i / c, j = i % c;
      std::memcpy(dst + k * cols + j * ov, y + ((n0 + j) * p.K + g * Kg + k) * ov, sizeof(float) * size_t(ov));
    }
  });
}

// im2col of `c` images side by side into col [Cg*KV, c*OV]; images split over threads (their rows are short).
void im2col_chunk(const ConvParams& p, const float* x, int64_t n0, int64_t c, int64_t g, float* col) {
  const int64_t Cg = group_in(p), ov = out_vol(p), iv = in_vol(p);
  parallel_for(c, 1, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) conv_im2col(p, x + ((n0 + j) * p.C + g * Cg) * iv, col + j * ov, c * ov);
  });
}

// Sums the weight-gradient partials of groups 1.. (group 0 wrote dw itself) and zeroes dw for an empty batch.
void reduce_partials(const ConvParams& p, float* dw, const float* partials, int64_t slots) {
  const int64_t wf = weight_floats(p);
  if (p.N == 0) {
    std::memset(dw, 0, sizeof(float) * size_t(wf));
    return;
  }
  const int64_t used = std::min(slots, p.N);
  if (used <= 1) return;
  parallel_for(wf, 4096, [&](int64_t b, int64_t e) {
    for (int64_t s = 1; s < used; ++s) {
      const float* src = partials + (s - 1) * wf;
      for (int64_t i = b; i < e; ++i) dw[i] += src[i];
    }
  });
}

// Split over threads when images run one after another (serial inside the per-slot workers): at batch 1 a
// layer1 output (256 x 56 x 56) took one core for ~0.3 ms while the other idled.
void fill_bias(const float* bias, int64_t rows, int64_t cols, float* y) {
  parallel_for(rows, std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) std::fill(y + r * cols, y + (r + 1) * cols, bias[r]);
  });
}

// n floats of y starting at element `off`; relu keeps NaN as torch does. Split over threads when images run one
// after another (inside the per-slot workers the nested parallel_for runs serially).
void apply_epilogue(const ConvEpilogue& ep, float* y, int64_t off, int64_t n) {
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    float* yp = y + off;
    if (ep.residual) {
      const float* r = ep.residual + off;
      for (int64_t i = b; i < e; ++i) yp[i] += r[i];
    }
    if (ep.relu)
      for (int64_t i = b; i < e; ++i) yp[i] = yp[i] < 0.f ? 0.f : yp[i];
  });
}

int64_t round_up16(int64_t n) { return (n + 15) / 16 * 16; }

int64_t im2col_slot_floats(const ConvParams& p, ConvPass pass) {
  const int64_t col = group_in(p) * k_vol(p) * out_vol(p);
  return col + (pass == ConvPass::backward_weight ? weight_floats(p) : 0);
}

int64_t gemm_1x1_slot_floats(const ConvParams& p, ConvPass pass) {
  return pass == ConvPass::backward_weight ? weight_floats(p) : 0;
}

// The 1x1 weight gradient as dW^T = X dY^T when there are more input than output channels: the larger operand
// is then GEMM's A, which a narrow product reads in place instead of packing it (gemm.cpp, kDirectMaxN).
bool wgrad_transposed(const ConvParams& p) { return group_in(p) > group_out(p); }

// Columns and weight-gradient partials, before the GEMM scratch. Backward weight: a column matrix per worker
// (plan.slots, see weight_plan_slots) and partials for accumulation groups 1.. (group 0 accumulates into dw).
int64_t im2col_floats(const ConvParams& p, ConvPass pass, const GemmPlan& plan) {
  if (plan.chunk > 1) return chunk_floats(p) * plan.chunk;
  const int64_t col = group_in(p) * k_vol(p) * out_vol(p);
  const int64_t partials = pass == ConvPass::backward_weight ? weight_floats(p) * (weight_groups(p) - 1) : 0;
  return col * plan.slots + partials;
}

// One partial per accumulation group beyond the first; transposed partials need one for group 0 too (it cannot
// accumulate into dw).
int64_t gemm_1x1_floats(const ConvParams& p, ConvPass pass, const GemmPlan&) {
  if (pass != ConvPass::backward_weight) return 0;
  const int64_t g = weight_groups(p);
  return weight_floats(p) * (wgrad_transposed(p) ? g : g - 1);
}

// Weight gradients run min(slots, accumulation groups) workers (for_groups): the plan's slots are those workers,
// so each has its own columns and GEMM scratch, and its products are single-threaded only when workers run side
// by side.
int64_t weight_plan_slots(const ConvParams& p, ConvPass pass, int64_t slots) {
  return pass == ConvPass::backward_weight ? weight_workers(p, slots) : slots;
}

// The largest scratch of the products a pass runs: one shape per (image, group), or with batched columns the
// full chunk and the last, shorter one.
size_t gemm_slot_bytes(const ConvParams& p, ConvPass pass, const GemmPlan& plan, bool im2col) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = im2col ? k_vol(p) : 1, ov = out_vol(p);
  const int64_t full = plan.chunk > 1 ? std::min(plan.chunk, p.N) : 1, last = plan.chunk > 1 ? p.N % plan.chunk : 0;
  size_t most = 0;
  for (int64_t c : {full, last}) {
    if (c <= 0) continue;
    const int64_t cols = c * ov;
    size_t b = 0;
    if (pass == ConvPass::forward)
      b = sgemm_scratch_bytes(plan.gemm, false, false, Kg, cols, Cg * kv);
    else if (pass == ConvPass::backward_data)
      b = sgemm_scratch_bytes(plan.gemm, true, false, Cg * kv, cols, Kg);
    else if (!im2col && wgrad_transposed(p))
      b = sgemm_scratch_bytes(plan.gemm, false, true, Cg, Kg, cols);
    else
      b = sgemm_scratch_bytes(plan.gemm, false, true, Kg, Cg * kv, cols);
    most = std::max(most, b);
  }
  return most;
}

// One GEMM scratch per slot (a single one when the images run in order or in chunks through threaded GEMMs).
int64_t gemm_slots(const GemmPlan& plan) { return plan.chunk > 1 ? 1 : plan.slots; }
size_t gemm_scratch_bytes(const ConvParams& p, ConvPass pass, const GemmPlan& plan, bool im2col) {
  return size_t(gemm_slots(plan)) * gemm_slot_bytes(p, pass, plan, im2col);
}

// Each slot's GEMM context, its scratch after the pass's own floats in ws.
struct SlotGemms {
  GemmContext g;
  char* base;
  size_t slot;
  GemmContext operator[](int64_t s) const { return with_scratch(g, base + size_t(s) * slot, slot); }
};
SlotGemms slot_gemms(const ConvParams& p, ConvPass pass, const GemmPlan& plan, bool im2col, float* ws) {
  const int64_t own = im2col ? im2col_floats(p, pass, plan) : gemm_1x1_floats(p, pass, plan);
  return {plan.gemm, reinterpret_cast<char*>(ws + round_up16(own)), gemm_slot_bytes(p, pass, plan, im2col)};
}

int64_t packed_group_floats(const ConvParams& p, const GemmPlan& plan) {
  return round_up16(sgemm_packed_a_floats(plan.gemm, group_out(p), group_in(p) * k_vol(p)));
}

// Y_g = W_g x col (+ beta Y_g), from the packed weights when the caller has them.
void forward_product(const ConvParams& p, const GemmPlan& plan, const GemmContext& g, int64_t grp, const float* w,
                     const float* wpack, const float* col, int64_t cols, float beta, float* y) {
  const int64_t Kg = group_out(p), Kd = group_in(p) * k_vol(p);
  const float* wg = w + grp * Kg * Kd;
  if (wpack)
    sgemm_prepacked_a(g, Kg, cols, Kd, wg, Kd, wpack + grp * packed_group_floats(p, plan), col, cols, beta, y, cols);
  else
    sgemm(g, false, false, Kg, cols, Kd, 1.f, wg, Kd, col, cols, beta, y, cols);
}

}  // namespace

int64_t conv_packed_weight_floats(const ConvParams& p, const GemmPlan& plan) {
  return p.groups * packed_group_floats(p, plan);
}

void conv_pack_weight(const ConvParams& p, const GemmPlan& plan, const float* w, float* wpack) {
  const int64_t Kg = group_out(p), Kd = group_in(p) * k_vol(p);
  for (int64_t g = 0; g < p.groups; ++g)
    sgemm_pack_a(plan.gemm, Kg, Kd, w + g * Kg * Kd, Kd, wpack + g * packed_group_floats(p, plan));
}

GemmPlan conv_gemm_plan(int64_t slots, int64_t chunk, Isa isa, int threads) {
  return {std::max<int64_t>(1, slots), std::max<int64_t>(1, chunk), gemm_context(isa, slots > 1 ? 1 : threads)};
}

int64_t conv_gemm_slots(const ConvParams& p, int64_t floats_per_slot, int threads) {
  if (threads <= 1 || p.N < threads) return 1;
  if (floats_per_slot * threads > kMaxScratchFloats || floats_per_slot > kMaxSlotFloats) return 1;
  return threads;
}

GemmPlan conv_im2col_gemm_plan(const ConvParams& p, ConvPass pass, Isa isa, int threads) {
  const int64_t ov = out_vol(p);
  if (p.N > 1 && ov > 0 && ov < kBatchBelowCols) {
    const int64_t want = (kBatchTargetCols + ov - 1) / ov;
    const int64_t fit = std::max<int64_t>(1, kMaxScratchFloats / chunk_floats(p));
    const int64_t chunk = std::min({p.N, want, fit});
    if (chunk > 1) return conv_gemm_plan(1, chunk, isa, threads);
  }
  const int64_t slots = conv_gemm_slots(p, im2col_slot_floats(p, pass), threads);
  return conv_gemm_plan(weight_plan_slots(p, pass, slots), 1, isa, threads);
}

GemmPlan conv_gemm_1x1_plan(const ConvParams& p, ConvPass pass, Isa isa, int threads) {
  const int64_t slots = conv_gemm_slots(p, gemm_1x1_slot_floats(p, pass), threads);
  return conv_gemm_plan(weight_plan_slots(p, pass, slots), 1, isa, threads);
}

size_t conv_im2col_gemm_workspace(const ConvParams& p, ConvPass pass, const GemmPlan& plan) {
  return sizeof(float) * size_t(round_up16(im2col_floats(p, pass, plan))) + gemm_scratch_bytes(p, pass, plan, true);
}

size_t conv_gemm_1x1_workspace(const ConvParams& p, ConvPass pass, const GemmPlan& plan) {
  return sizeof(float) * size_t(round_up16(gemm_1x1_floats(p, pass, plan))) +
         gemm_scratch_bytes(p, pass, plan, false);
}

void conv_im2col_gemm_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                              float* ws, const GemmPlan& plan, const ConvEpilogue& ep, const float* wpack) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const SlotGemms gemms = slot_gemms(p, ConvPass::forward, plan, true, ws);
  if (plan.chunk > 1) {
    float* col = ws;
    float* stage = ws + Cg * kv * ov * plan.chunk;
    for (int64_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
      const int64_t c = std::min(plan.chunk, p.N - n0), cols = c * ov;
      for (int64_t g = 0; g < p.groups; ++g) {
        im2col_chunk(p, x, n0, c, g, col);
        forward_product(p, plan, gemms[0], g, w, wpack, col, cols, 0.f, stage);
        // Scatter to NCHW with bias, residual and relu in the order of the unfused nodes.
        parallel_for(Kg * c, std::max<int64_t>(1, 4096 / ov), [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) {
            const int64_t k = i / c, j = i % c;
            const int64_t off = ((n0 + j) * p.K + g * Kg + k) * ov;
            const float* src = stage + k * cols + j * ov;
            float* dst = y + off;
            if (bias) {
              const float bv = bias[g * Kg + k];
              for (int64_t o = 0; o < ov; ++o) dst[o] = bv + src[o];
            } else {
              std::memcpy(dst, src, sizeof(float) * size_t(ov));
            }
            if (ep.residual)
              for (int64_t o = 0; o < ov; ++o) dst[o] += ep.residual[off + o];
            if (ep.relu)
              for (int64_t o = 0; o < ov; ++o) dst[o] = dst[o] < 0.f ? 0.f : dst[o];
          }
        });
      }
    }
    return;
  }
  const int64_t slots = plan.slots;
  const int64_t colf = Cg * kv * ov;
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* col = ws + s * colf;
    for (int64_t g = 0; g < p.groups; ++g) {
      conv_im2col(p, x + (n * p.C + g * Cg) * iv, col);
      float* yg = y + (n * p.K + g * Kg) * ov;
      if (bias) fill_bias(bias + g * Kg, Kg, ov, yg);
      forward_product(p, plan, gemms[s], g, w, wpack, col, ov, bias ? 1.f : 0.f, yg);
    }
    if (ep.residual || ep.relu) apply_epilogue(ep, y, n * p.K * ov, p.K * ov);
  });
}

void conv_im2col_gemm_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float* ws,
                                    const GemmPlan& plan) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const SlotGemms gemms = slot_gemms(p, ConvPass::backward_data, plan, true, ws);
  if (plan.chunk > 1) {
    float* col = ws;
    float* dyc = ws + Cg * kv * ov * plan.chunk;
    for (int64_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
      const int64_t c = std::min(plan.chunk, p.N - n0), cols = c * ov;
      for (int64_t g = 0; g < p.groups; ++g) {
        gather_chunk(p, dy, n0, c, g, dyc);
        sgemm(gemms[0], true, false, Cg * kv, cols, Kg, 1.f, w + g * Kg * Cg * kv, Cg * kv, dyc, cols, 0.f, col, cols);
        parallel_for(c, 1, [&](int64_t b, int64_t e) {
          for (int64_t j = b; j < e; ++j) {
            float* dxg = dx + ((n0 + j) * p.C + g * Cg) * iv;
            std::memset(dxg, 0, sizeof(float) * size_t(Cg * iv));
            conv_col2im(p, col + j * ov, dxg, cols);
          }
        });
      }
    }
    return;
  }
  const int64_t slots = plan.slots;
  const int64_t colf = Cg * kv * ov;
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* col = ws + s * colf;
    for (int64_t g = 0; g < p.groups; ++g) {
      sgemm(gemms[s], true, false, Cg * kv, ov, Kg, 1.f, w + g * Kg * Cg * kv, Cg * kv,
            dy + (n * p.K + g * Kg) * ov, ov, 0.f, col, ov);
      float* dxg = dx + (n * p.C + g * Cg) * iv;
      std::memset(dxg, 0, sizeof(float) * size_t(Cg * iv));
      conv_col2im(p, col, dxg);
    }
  });
}

void conv_im2col_gemm_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                      const GemmPlan& plan) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const SlotGemms gemms = slot_gemms(p, ConvPass::backward_weight, plan, true, ws);
  if (plan.chunk > 1) {
    float* col = ws;
    float* dyc = ws + Cg * kv * ov * plan.chunk;
    if (p.N == 0) std::memset(dw, 0, sizeof(float) * size_t(weight_floats(p)));
    for (int64_t n0 = 0; n0 < p.N; n0 += plan.chunk) {
      const int64_t c = std::min(plan.chunk, p.N - n0), cols = c * ov;
      for (int64_t g = 0; g < p.groups; ++g) {
        im2col_chunk(p, x, n0, c, g, col);
        gather_chunk(p, dy, n0, c, g, dyc);
        sgemm(gemms[0], false, true, Kg, Cg * kv, cols, 1.f, dyc, cols, col, cols, n0 == 0 ? 0.f : 1.f,
              dw + g * Kg * Cg * kv, Cg * kv);
      }
    }
    return;
  }
  const int64_t groups = weight_groups(p), workers = plan.slots;  // weight_plan_slots
  const int64_t colf = Cg * kv * ov, wf = weight_floats(p);
  float* partials = ws + workers * colf;
  for_groups(p.N, groups, workers, [&](int64_t n, int64_t a, int64_t s) {
    float* col = ws + s * colf;
    float* acc = a == 0 ? dw : partials + (a - 1) * wf;
    const float beta = n == a ? 0.f : 1.f;  // the group's first image
    for (int64_t g = 0; g < p.groups; ++g) {
      conv_im2col(p, x + (n * p.C + g * Cg) * iv, col);
      sgemm(gemms[s], false, true, Kg, Cg * kv, ov, 1.f, dy + (n * p.K + g * Kg) * ov, ov, col, ov, beta,
            acc + g * Kg * Cg * kv, Cg * kv);
    }
  });
  reduce_partials(p, dw, partials, groups);
}

void conv_gemm_1x1_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                           float* ws, const GemmPlan& plan, const ConvEpilogue& ep, const float* wpack) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p);
  const SlotGemms gemms = slot_gemms(p, ConvPass::forward, plan, false, ws);
  for_images(p.N, plan.slots, [&](int64_t n, int64_t s) {
    for (int64_t g = 0; g < p.groups; ++g) {
      float* yg = y + (n * p.K + g * Kg) * hw;
      if (bias) fill_bias(bias + g * Kg, Kg, hw, yg);
      forward_product(p, plan, gemms[s], g, w, wpack, x + (n * p.C + g * Cg) * hw, hw, bias ? 1.f : 0.f, yg);
    }
    if (ep.residual || ep.relu) apply_epilogue(ep, y, n * p.K * hw, p.K * hw);
  });
}

void conv_gemm_1x1_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float* ws,
                                 const GemmPlan& plan) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p);
  const SlotGemms gemms = slot_gemms(p, ConvPass::backward_data, plan, false, ws);
  for_images(p.N, plan.slots, [&](int64_t n, int64_t s) {
    for (int64_t g = 0; g < p.groups; ++g)
      sgemm(gemms[s], true, false, Cg, hw, Kg, 1.f, w + g * Kg * Cg, Cg, dy + (n * p.K + g * Kg) * hw, hw, 0.f,
            dx + (n * p.C + g * Cg) * hw, hw);
  });
}

void conv_gemm_1x1_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                   const GemmPlan& plan) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p), wf = weight_floats(p);
  const int64_t groups = weight_groups(p), workers = plan.slots;  // see kWeightGroups, weight_plan_slots
  const SlotGemms gemms = slot_gemms(p, ConvPass::backward_weight, plan, false, ws);
  if (!wgrad_transposed(p)) {
    for_groups(p.N, groups, workers, [&](int64_t n, int64_t a, int64_t s) {
      float* acc = a == 0 ? dw : ws + (a - 1) * wf;
      const float beta = n == a ? 0.f : 1.f;
      for (int64_t g = 0; g < p.groups; ++g)
        sgemm(gemms[s], false, true, Kg, Cg, hw, 1.f, dy + (n * p.K + g * Kg) * hw, hw, x + (n * p.C + g * Cg) * hw, hw,
              beta, acc + g * Kg * Cg, Cg);
    });
    reduce_partials(p, dw, ws, groups);
    return;
  }
  // Every group's partial is [groups][Cg][Kg]; dw[g][k][c] is their sum, transposed.
  for_groups(p.N, groups, workers, [&](int64_t n, int64_t a, int64_t s) {
    const float beta = n == a ? 0.f : 1.f;
    for (int64_t g = 0; g < p.groups; ++g)
      sgemm(gemms[s], false, true, Cg, Kg, hw, 1.f, x + (n * p.C + g * Cg) * hw, hw, dy + (n * p.K + g * Kg) * hw, hw,
            beta, ws + a * wf + g * Cg * Kg, Kg);
  });
  const int64_t used = std::min(groups, p.N);
  parallel_for(p.groups * Kg, std::max<int64_t>(1, 4096 / Cg), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t g = r / Kg, k = r % Kg;
      float* d = dw + r * Cg;
      for (int64_t c = 0; c < Cg; ++c) {
        float v = 0.f;
        for (int64_t s = 0; s < used; ++s) v += ws[s * wf + (g * Cg + c) * Kg + k];
        d[c] = v;
      }
    }
  });
}

void conv_backward_bias(const ConvParams& p, const float* dy, float* db) {
  const int64_t ov = out_vol(p);
  parallel_for(p.K, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      // In double throughout: the sum cancels to far below its terms when dy has mixed signs, and a float partial
      // per image then lost 1e-4 of it (a conv_transpose case of test_conv.py).
      double s = 0;
      for (int64_t n = 0; n < p.N; ++n) {
        const float* r = dy + (n * p.K + k) * ov;
        double part[4] = {0, 0, 0, 0};
        int64_t o = 0;
        for (; o + 4 <= ov; o += 4)
          for (int j = 0; j < 4; ++j) part[j] += r[o + j];
        for (; o < ov; ++o) part[0] += r[o];
        s += (part[0] + part[1]) + (part[2] + part[3]);
      }
      db[k] = float(s);
    }
  });
}

void conv_add_bias(int64_t N, int64_t K, int64_t spatial, const float* bias, float* y) {
  parallel_for(N * K, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, spatial)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float v = bias[i % K];
      float* r = y + i * spatial;
      for (int64_t o = 0; o < spatial; ++o) r[o] += v;
    }
  });
}

}  // namespace fastconv::cpu
