// Naive reference kernels for the loss family: they define the semantics (torch.nn.functional's), accumulate in
// double, and are what the scalar ISA level runs. Layout convention: a class-structured input is [N, C, S] (S =
// product of the spatial dims, 1 for [N, C]); per-position values (targets, lse, unreduced losses) are [N, S].
//
// Targets that are out of range (class index not in [0, C) and not ignore_index) cannot be reported from a kernel:
// they make that position's loss and gradient NaN, so a bad label shows up in the loss instead of reading memory
// out of bounds. The eager Python wrappers check index ranges on NumPy targets before calling.
#pragma once
#include <cstdint>

namespace fastconv::ref {

enum class Reduction { none = 0, mean = 1, sum = 2 };

struct CrossEntropyParams {
  int64_t N = 0, C = 0, S = 1;
  int64_t ignore_index = -100;
  float label_smoothing = 0.f;
  Reduction reduction = Reduction::mean;
};

// Class-index targets (`tidx`, [N, S]) or probability targets (`tprob`, [N, C, S]); exactly one is non-null.
// `w` is [C] or null. `out` is [N, S] for reduction none, else one element. `lse` ([2, N, S]) is the saved
// log-sum-exp over classes that the backward reads, as max_c x_c (first N*S) and log sum_c exp(x_c - max) (next
// N*S): added up in float it would keep only ~3 decimals of the log-sum at logits of 1e4.
void cross_entropy(const CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* tprob,
                   const float* w, float* out, float* lse);
// dx = g * (Q * softmax - q) per position (q = the smoothed, weighted target distribution, Q = sum q).
void cross_entropy_backward(const CrossEntropyParams& p, const float* g, const float* x, const int64_t* tidx,
                            const float* tprob, const float* w, const float* lse, float* dx);
// Gradient w.r.t. probability targets: dt = -g * w_c * (1 - eps) * log_softmax(x).
void cross_entropy_target_backward(const CrossEntropyParams& p, const float* g, const float* x, const float* w,
                                   const float* lse, float* dt);
// Sum over positions of the weight of the target class (the 'mean' denominator); NaN for invalid targets.
double cross_entropy_weight_sum(const CrossEntropyParams& p, const int64_t* tidx, const float* w);

// nll_loss on log-probabilities x [N, C, S].
void nll_loss(const CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* w, float* out);
void nll_loss_backward(const CrossEntropyParams& p, const float* g, const int64_t* tidx, const float* w, float* dx);

// Element-wise losses l(x, t) with optional element weight w and pos_weight pw (same shape as x).
enum class PointwiseLoss { mse, l1, smooth_l1, huber, bce, bce_logits };
struct PointwiseParams {
  PointwiseLoss kind = PointwiseLoss::mse;
  float beta = 1.f;  // smooth_l1's beta, huber's delta
};
float pointwise_value(const PointwiseParams& p, float x, float t, float pw);
// d l / d x (wrt_target false) or d l / d t (true), without the weight factor.
float pointwise_grad(const PointwiseParams& p, bool wrt_target, float x, float t, float pw);
// out[i] = w[i] * l(x[i], t[i]) for i in [0, n) (w, pw may be null).
void pointwise_loss(const PointwiseParams& p, const float* x, const float* t, const float* w, const float* pw,
                    int64_t n, float* out);
// dx[i] = g[i * g_stride] * scale * w[i] * dl/d(x or t).
void pointwise_loss_backward(const PointwiseParams& p, bool wrt_target, const float* g, int64_t g_stride, float scale,
                             const float* x, const float* t, const float* w, const float* pw, int64_t n, float* dx);

// Triplet margin loss on rows of [N, D]: d(u, v) = ||u - v + eps||_p, loss = max(margin + d(a,p) - d(a,n'), 0)
// where d(a,n') = min(d(a,n), d(p,n)) with swap. out is [N] (none) or one element.
struct TripletParams {
  int64_t N = 0, D = 0;
  float margin = 1.f, p = 2.f, eps = 1e-6f;
  bool swap = false;
  Reduction reduction = Reduction::mean;
};
void triplet_margin_loss(const TripletParams& q, const float* a, const float* pos, const float* neg, float* out);
// Gradients for all three inputs (any may be null).
void triplet_margin_loss_backward(const TripletParams& q, const float* g, const float* a, const float* pos,
                                  const float* neg, float* da, float* dp, float* dn);

// cosine_similarity over the middle axis of [O, D, I] (torch 2.x: each vector divided by max(||v||, eps)).
struct CosineParams {
  int64_t O = 0, D = 0, I = 1;
  float eps = 1e-8f;
};
void cosine_similarity(const CosineParams& q, const float* x1, const float* x2, float* out);
void cosine_similarity_backward(const CosineParams& q, const float* g, const float* x1, const float* x2, float* d1,
                                float* d2);

}  // namespace fastconv::ref
