// Vectorised cross_entropy: per-ISA block kernels (loss_avx2.cpp, loss_avx512.cpp) that do the exp-heavy work
// over classes, and a driver (loss_ce.cpp) that splits positions across threads and does the per-position
// bookkeeping (targets, weights, ignore_index, reduction) with the semantics of ref::cross_entropy.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/ref/loss_ref.h"

namespace fastconv::cpu {

// One sample's [C, S] block and the positions [s0, s1) of it a kernel handles. Two layouts share it: S == 1
// (rows of [N, C]: vectorised over classes) and S > 1 ([N, C, H, W]: vectorised over positions, classes strided).
struct CeBlock {
  const float* x = nullptr;  // [C, S]
  const float* t = nullptr;  // probability targets [C, S], or null
  const float* w = nullptr;  // class weights [C], or null
  int64_t C = 0, S = 1, s0 = 0, s1 = 1;
  // stats: per position s (arrays indexed by s). wx/wtx/wt may be null when not needed. The log-sum-exp is kept
  // as max + logz, never added up: in float, x - (max + logz) loses the digits of logz once |x| ~ 1e4, while
  // (x - max) - logz keeps them.
  float* max = nullptr;   // max_c x_c
  float* logz = nullptr;  // log sum_c exp(x_c - max)
  float* wx = nullptr;    // sum_c w_c (x_c - max)
  float* wtx = nullptr;   // sum_c w_c t_c (x_c - max)
  float* wt = nullptr;    // sum_c w_c t_c
  // grad: dx[c, s] = alpha[s] * exp((x[c, s] - max[s]) - logz[s]) - w_c * g[s] * (eps_c + one_minus_eps * t[c, s])
  const float* alpha = nullptr;
  const float* g = nullptr;
  const float* max_in = nullptr;
  const float* logz_in = nullptr;
  float eps_c = 0.f, one_minus_eps = 1.f;
  float* dx = nullptr;
};
using CeBlockFn = void (*)(const CeBlock&);

void cross_entropy_stats__avx2(const CeBlock& b);
void cross_entropy_stats__avx512(const CeBlock& b);
void cross_entropy_grad__avx2(const CeBlock& b);
void cross_entropy_grad__avx512(const CeBlock& b);

struct CeKernels {
  CeBlockFn stats = nullptr, grad = nullptr;  // null at the scalar level: callers use ref::
};
CeKernels ce_kernels();  // for the active ISA

size_t cross_entropy_workspace(const ref::CrossEntropyParams& p);
void cross_entropy(const CeKernels& k, const ref::CrossEntropyParams& p, const float* x, const int64_t* tidx,
                   const float* tprob, const float* w, float* out, float* lse, float* ws);
void cross_entropy_backward(const CeKernels& k, const ref::CrossEntropyParams& p, const float* g, const float* x,
                            const int64_t* tidx, const float* tprob, const float* w, const float* lse, float* dx,
                            float* ws);

}  // namespace fastconv::cpu
