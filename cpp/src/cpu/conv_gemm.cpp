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

// Sums the per-slot weight-gradient partials (slot 0 wrote dw itself) and zeroes dw for an empty batch.
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

void fill_bias(const float* bias, int64_t rows, int64_t cols, float* y) {
  for (int64_t r = 0; r < rows; ++r) std::fill(y + r * cols, y + (r + 1) * cols, bias[r]);
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

}  // namespace

int64_t conv_gemm_slots(const ConvParams& p, int64_t floats_per_slot) {
  const int64_t threads = get_num_threads();
  if (threads <= 1 || p.N < threads) return 1;
  if (floats_per_slot * threads > kMaxScratchFloats || floats_per_slot > kMaxSlotFloats) return 1;
  return threads;
}

int64_t conv_im2col_gemm_slot_floats(const ConvParams& p, ConvPass pass) {
  const int64_t col = group_in(p) * k_vol(p) * out_vol(p);
  return col + (pass == ConvPass::backward_weight ? weight_floats(p) : 0);
}

int64_t conv_gemm_1x1_slot_floats(const ConvParams& p, ConvPass pass) {
  return pass == ConvPass::backward_weight ? weight_floats(p) : 0;
}

// Backward weight: a column matrix per slot, but weight partials only for slots 1.. (slot 0 accumulates into dw).
size_t conv_im2col_gemm_workspace(const ConvParams& p, ConvPass pass, int64_t slots) {
  const int64_t col = group_in(p) * k_vol(p) * out_vol(p);
  const int64_t partials = pass == ConvPass::backward_weight ? weight_floats(p) * (slots - 1) : 0;
  return sizeof(float) * size_t(col * slots + partials);
}

size_t conv_gemm_1x1_workspace(const ConvParams& p, ConvPass pass, int64_t slots) {
  return sizeof(float) * size_t(conv_gemm_1x1_slot_floats(p, pass) * (slots - 1));
}

void conv_im2col_gemm_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                              float* ws, int64_t slots, const ConvEpilogue& ep) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const int64_t colf = Cg * kv * ov;
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* col = ws + s * colf;
    for (int64_t g = 0; g < p.groups; ++g) {
      conv_im2col(p, x + (n * p.C + g * Cg) * iv, col);
      float* yg = y + (n * p.K + g * Kg) * ov;
      if (bias) fill_bias(bias + g * Kg, Kg, ov, yg);
      sgemm(false, false, Kg, ov, Cg * kv, 1.f, w + g * Kg * Cg * kv, Cg * kv, col, ov, bias ? 1.f : 0.f, yg, ov);
    }
    if (ep.residual || ep.relu) apply_epilogue(ep, y, n * p.K * ov, p.K * ov);
  });
}

void conv_im2col_gemm_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float* ws,
                                    int64_t slots) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const int64_t colf = Cg * kv * ov;
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* col = ws + s * colf;
    for (int64_t g = 0; g < p.groups; ++g) {
      sgemm(true, false, Cg * kv, ov, Kg, 1.f, w + g * Kg * Cg * kv, Cg * kv, dy + (n * p.K + g * Kg) * ov, ov,
            0.f, col, ov);
      float* dxg = dx + (n * p.C + g * Cg) * iv;
      std::memset(dxg, 0, sizeof(float) * size_t(Cg * iv));
      conv_col2im(p, col, dxg);
    }
  });
}

void conv_im2col_gemm_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                      int64_t slots) {
  const int64_t Cg = group_in(p), Kg = group_out(p), kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  const int64_t colf = Cg * kv * ov, wf = weight_floats(p);
  float* partials = ws + slots * colf;
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* col = ws + s * colf;
    float* acc = s == 0 ? dw : partials + (s - 1) * wf;
    const float beta = n == s ? 0.f : 1.f;  // the slot's first image
    for (int64_t g = 0; g < p.groups; ++g) {
      conv_im2col(p, x + (n * p.C + g * Cg) * iv, col);
      sgemm(false, true, Kg, Cg * kv, ov, 1.f, dy + (n * p.K + g * Kg) * ov, ov, col, ov, beta,
            acc + g * Kg * Cg * kv, Cg * kv);
    }
  });
  reduce_partials(p, dw, partials, slots);
}

void conv_gemm_1x1_forward(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                           float*, int64_t slots, const ConvEpilogue& ep) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p);
  for_images(p.N, slots, [&](int64_t n, int64_t) {
    for (int64_t g = 0; g < p.groups; ++g) {
      float* yg = y + (n * p.K + g * Kg) * hw;
      if (bias) fill_bias(bias + g * Kg, Kg, hw, yg);
      sgemm(false, false, Kg, hw, Cg, 1.f, w + g * Kg * Cg, Cg, x + (n * p.C + g * Cg) * hw, hw, bias ? 1.f : 0.f,
            yg, hw);
    }
    if (ep.residual || ep.relu) apply_epilogue(ep, y, n * p.K * hw, p.K * hw);
  });
}

void conv_gemm_1x1_backward_data(const ConvParams& p, const float* dy, const float* w, float* dx, float*,
                                 int64_t slots) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p);
  for_images(p.N, slots, [&](int64_t n, int64_t) {
    for (int64_t g = 0; g < p.groups; ++g)
      sgemm(true, false, Cg, hw, Kg, 1.f, w + g * Kg * Cg, Cg, dy + (n * p.K + g * Kg) * hw, hw, 0.f,
            dx + (n * p.C + g * Cg) * hw, hw);
  });
}

void conv_gemm_1x1_backward_weight(const ConvParams& p, const float* dy, const float* x, float* dw, float* ws,
                                   int64_t slots) {
  const int64_t Cg = group_in(p), Kg = group_out(p), hw = out_vol(p), wf = weight_floats(p);
  for_images(p.N, slots, [&](int64_t n, int64_t s) {
    float* acc = s == 0 ? dw : ws + (s - 1) * wf;
    const float beta = n == s ? 0.f : 1.f;
    for (int64_t g = 0; g < p.groups; ++g)
      sgemm(false, true, Kg, Cg, hw, 1.f, dy + (n * p.K + g * Kg) * hw, hw, x + (n * p.C + g * Cg) * hw, hw, beta,
            acc + g * Kg * Cg, Cg);
  });
  reduce_partials(p, dw, ws, slots);
}

void conv_backward_bias(const ConvParams& p, const float* dy, float* db) {
  const int64_t ov = out_vol(p);
  parallel_for(p.K, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      double s = 0;  // long sums (batch x positions) in double: the result matches a float64 reference
      for (int64_t n = 0; n < p.N; ++n) {
        const float* r = dy + (n * p.K + k) * ov;
        float part = 0;
        for (int64_t o = 0; o < ov; ++o) part += r[o];
        s += part;
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
