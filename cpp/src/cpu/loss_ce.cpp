// cross_entropy driver: threads over rows ([N, C]) or position blocks ([N, C, spatial]), the ISA block kernels for
// the exp-heavy passes over classes, and the per-position target/weight/ignore_index logic of ref::cross_entropy.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu/loss.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

constexpr int64_t kSBlock = 512;  // positions per task in the strided layout: [C, 512] floats stream through L2
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// fn(n, s0, s1) over every position, split across the pool.
template <class F>
void for_blocks(const ref::CrossEntropyParams& p, const F& fn) {
  if (p.S == 1) {
    parallel_for(p.N, std::max<int64_t>(1, 8192 / std::max<int64_t>(p.C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) fn(n, int64_t(0), int64_t(1));
    });
    return;
  }
  const int64_t nb = (p.S + kSBlock - 1) / kSBlock;
  parallel_for(p.N * nb, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / nb, s0 = (i % nb) * kSBlock;
      fn(n, s0, std::min(p.S, s0 + kSBlock));
    }
  });
}

double weight_total(const float* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += w ? double(w[c]) : 1.0;
  return s;
}

bool valid(const ref::CrossEntropyParams& p, int64_t y) { return y >= 0 && y < p.C; }

}  // namespace

CeKernels ce_kernels() {
  return {pick_isa<CeBlockFn>(nullptr, cross_entropy_stats__avx2, cross_entropy_stats__avx512),
          pick_isa<CeBlockFn>(nullptr, cross_entropy_grad__avx2, cross_entropy_grad__avx512)};
}

size_t cross_entropy_workspace(const ref::CrossEntropyParams& p) {
  return size_t(5 * std::max<int64_t>(p.N * p.S, 1)) * sizeof(float);
}

void cross_entropy(const CeKernels& k, const ref::CrossEntropyParams& p, const float* x, const int64_t* tidx,
                   const float* tprob, const float* w, float* out, float* lse, float* ws) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const float eps = p.label_smoothing, wall = float(weight_total(w, C));
  float *A = ws, *B = ws + P, *T = ws + 2 * P, *L = ws + 3 * P, *D = ws + 4 * P;
  for_blocks(p, [&](int64_t n, int64_t s0, int64_t s1) {
    CeBlock blk;
    blk.x = x + n * C * S;
    blk.t = tprob ? tprob + n * C * S : nullptr;
    blk.w = w;
    blk.C = C;
    blk.S = S;
    blk.s0 = s0;
    blk.s1 = s1;
    blk.max = lse + n * S;
    blk.logz = lse + P + n * S;
    blk.wx = eps > 0 ? A + n * S : nullptr;
    blk.wtx = tprob ? B + n * S : nullptr;
    blk.wt = tprob ? T + n * S : nullptr;
    k.stats(blk);
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t i = n * S + s;
      const float logz = lse[P + i];
      const float smooth = eps > 0 ? wall * logz - A[i] : 0.f;  // -sum_c w_c log_softmax_c
      float l, d = 1.f;
      if (tprob) {
        l = (1 - eps) * (T[i] * logz - B[i]) + eps / float(C) * smooth;
      } else {
        const int64_t y = tidx[i];
        if (y == p.ignore_index) {
          l = d = 0.f;
        } else if (!valid(p, y)) {
          l = d = kNaN;
        } else {
          d = w ? w[y] : 1.f;
          l = (1 - eps) * d * ((lse[i] - x[(n * C + y) * S + s]) + logz) + eps / float(C) * smooth;
        }
      }
      (p.reduction == ref::Reduction::none ? out : L)[i] = l;
      D[i] = d;
    }
  });
  if (p.reduction == ref::Reduction::none) return;
  double total = 0, denom = 0;  // in position order: the same result on any thread count
  for (int64_t i = 0; i < P; ++i) {
    total += L[i];
    denom += D[i];
  }
  out[0] = float(p.reduction == ref::Reduction::mean ? total / denom : total);
}

void cross_entropy_backward(const CeKernels& k, const ref::CrossEntropyParams& p, const float* g, const float* x,
                            const int64_t* tidx, const float* tprob, const float* w, const float* lse, float* dx,
                            float* ws) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const float eps = p.label_smoothing, wall = float(weight_total(w, C));
  const double denom = ref::cross_entropy_weight_sum(p, tidx, w);
  const float scale = p.reduction == ref::Reduction::mean ? float(1.0 / denom) : 1.f;
  float *alpha = ws, *gg = ws + P, *T = ws + 2 * P;
  for_blocks(p, [&](int64_t n, int64_t s0, int64_t s1) {
    if (tprob) {
      for (int64_t s = s0; s < s1; ++s) T[n * S + s] = 0.f;
      for (int64_t c = 0; c < C; ++c) {
        const float wc = w ? w[c] : 1.f, *t = tprob + (n * C + c) * S;
        for (int64_t s = s0; s < s1; ++s) T[n * S + s] += wc * t[s];
      }
    }
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t i = n * S + s;
      const float gi = p.reduction == ref::Reduction::none ? g[i] : g[0] * scale;
      gg[i] = gi;
      if (tprob) {
        alpha[i] = gi * ((1 - eps) * T[i] + eps / float(C) * wall);
      } else {
        const int64_t y = tidx[i];
        if (y == p.ignore_index) {
          alpha[i] = gg[i] = 0.f;
        } else if (!valid(p, y)) {
          alpha[i] = kNaN;
        } else {
          alpha[i] = gi * ((1 - eps) * (w ? w[y] : 1.f) + eps / float(C) * wall);
        }
      }
    }
    CeBlock blk;
    blk.x = x + n * C * S;
    blk.t = tprob ? tprob + n * C * S : nullptr;
    blk.w = w;
    blk.C = C;
    blk.S = S;
    blk.s0 = s0;
    blk.s1 = s1;
    blk.alpha = alpha + n * S;
    blk.g = gg + n * S;
    blk.max_in = lse + n * S;
    blk.logz_in = lse + P + n * S;
    blk.eps_c = eps / float(C);
    blk.one_minus_eps = 1 - eps;
    blk.dx = dx + n * C * S;
    k.grad(blk);
    if (!tprob)  // the one-hot part of q: only the target class
      for (int64_t s = s0; s < s1; ++s) {
        const int64_t i = n * S + s, y = tidx[i];
        if (y != p.ignore_index && valid(p, y)) dx[(n * C + y) * S + s] -= gg[i] * (1 - eps) * (w ? w[y] : 1.f);
      }
  });
}

}  // namespace fastconv::cpu
