// Host launchers of the loss kernels (cuda/loss_ce.cu: cross entropy and nll; cuda/loss_pointwise.cu: element-wise
// losses, triplet margin, cosine similarity). Their semantics are the CPU reference's (cpu/ref/loss_ref.h), whose
// Params structs they take; they compute in double where the reference does, so they agree with it to float
// rounding. Pointers are device pointers. Reduced losses ('mean', 'sum') are one float; their sums are
// deterministic: per-block partial sums in double in a fixed assignment of rows to blocks (a function of the shape
// alone), then one block adds the partials in block order. The 'mean' denominators that depend on data (the class
// weights of the targets, the element weights) are summed on the device the same way: no launcher reads device
// memory, allocates or synchronizes, so all are CUDA-Graph capture-safe. `workspace` is device memory of at least
// the matching *_workspace_bytes (0 means it may be null), 8-byte aligned; it holds no state between calls.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "cpu/ref/loss_ref.h"

namespace fastconv::cuda {

// ---- cross entropy, nll (cuda/loss_ce.cu) ---------------------------------------------------------------------

// ref::cross_entropy: x [N, C, S]; class-index targets tidx [N, S] (ignore_index rows give 0 and weigh 0,
// out-of-range ones NaN) or probability targets tprob [N, C, S], exactly one non-null; w [C] or null; label
// smoothing. out [N, S] for Reduction::none, else one element ('mean': divided by the summed target weights, N*S
// for probability targets; 0/0 = NaN when empty). lse [2, N, S] receives the row max and log sum exp(x - max).
size_t cross_entropy_workspace_bytes(const ref::CrossEntropyParams& p);
void cross_entropy_forward__cuda(const ref::CrossEntropyParams& p, const float* x, const int64_t* tidx,
                                 const float* tprob, const float* w, float* out, float* lse, void* workspace,
                                 cudaStream_t stream);
// ref::cross_entropy_backward: dx [N, C, S] = g * (Q softmax - q) from the forward's lse; g is [N, S] for
// Reduction::none, else one element.
size_t cross_entropy_backward_workspace_bytes(const ref::CrossEntropyParams& p);
void cross_entropy_backward__cuda(const ref::CrossEntropyParams& p, const float* g, const float* x,
                                  const int64_t* tidx, const float* tprob, const float* w, const float* lse,
                                  float* dx, void* workspace, cudaStream_t stream);
// ref::cross_entropy_target_backward: dt [N, C, S] = -g w_c (1 - eps) log_softmax(x) (probability targets).
void cross_entropy_target_backward__cuda(const ref::CrossEntropyParams& p, const float* g, const float* x,
                                         const float* w, const float* lse, float* dt, cudaStream_t stream);

// ref::nll_loss on log-probabilities x [N, C, S] (label_smoothing unused).
size_t nll_loss_workspace_bytes(const ref::CrossEntropyParams& p);
void nll_loss_forward__cuda(const ref::CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* w,
                            float* out, void* workspace, cudaStream_t stream);
// ref::nll_loss_backward: dx [N, C, S], -g w_y at the target class, 0 elsewhere (NaN rows for invalid targets).
size_t nll_loss_backward_workspace_bytes(const ref::CrossEntropyParams& p);
void nll_loss_backward__cuda(const ref::CrossEntropyParams& p, const float* g, const int64_t* tidx, const float* w,
                             float* dx, void* workspace, cudaStream_t stream);

// ---- element-wise losses (cuda/loss_pointwise.cu) -------------------------------------------------------------

// out[i] = w[i] l(x[i], t[i]) (ref::pointwise_loss) for Reduction::none; else their sum, divided for 'mean' by n,
// or by sum(w) when mean_by_weight (torch's weighted mse/l1; the op layer's rule), summed in double. w and pw
// (pos_weight, bce_logits) may be null.
size_t pointwise_loss_workspace_bytes(ref::Reduction r, int64_t n);
void pointwise_loss_forward__cuda(const ref::PointwiseParams& p, ref::Reduction r, bool mean_by_weight,
                                  const float* x, const float* t, const float* w, const float* pw, int64_t n,
                                  float* out, void* workspace, cudaStream_t stream);
// ref::pointwise_loss_backward with the op layer's g_stride (1 for none, else 0) and scale (float(1 / denom) for
// 'mean', denom = n or sum(w) as above, else 1): dx[i] = g * scale * w[i] * dl/d(x or t).
size_t pointwise_loss_backward_workspace_bytes(ref::Reduction r, bool mean_by_weight, int64_t n);
void pointwise_loss_backward__cuda(const ref::PointwiseParams& p, ref::Reduction r, bool mean_by_weight,
                                   bool wrt_target, const float* g, const float* x, const float* t, const float* w,
                                   const float* pw, int64_t n, float* dx, void* workspace, cudaStream_t stream);

// ---- triplet margin loss, cosine similarity (cuda/loss_pointwise.cu) ------------------------------------------

// ref::triplet_margin_loss on rows of [N, D]: out [N] (none) or one element ('mean' over N).
size_t triplet_margin_loss_workspace_bytes(const ref::TripletParams& q);
void triplet_margin_loss_forward__cuda(const ref::TripletParams& q, const float* a, const float* pos,
                                       const float* neg, float* out, void* workspace, cudaStream_t stream);
// ref::triplet_margin_loss_backward: da, dp, dn [N, D] (any may be null); g [N] (none) or one element.
void triplet_margin_loss_backward__cuda(const ref::TripletParams& q, const float* g, const float* a,
                                        const float* pos, const float* neg, float* da, float* dp, float* dn,
                                        cudaStream_t stream);

// ref::cosine_similarity over the middle axis of [O, D, I]: out [O, I].
void cosine_similarity_forward__cuda(const ref::CosineParams& q, const float* x1, const float* x2, float* out,
                                     cudaStream_t stream);
// ref::cosine_similarity_backward: d1, d2 [O, D, I] (either may be null) from g [O, I].
void cosine_similarity_backward__cuda(const ref::CosineParams& q, const float* g, const float* x1, const float* x2,
                                      float* d1, float* d2, cudaStream_t stream);

namespace loss_detail {
// Adds up `blocks` pairs of double partials (part[2b], part[2b + 1]) in block order in one block. When `out`:
// out[0] = float(r == mean ? s0 / (denom_from_part ? s1 : denom) : s0). When `sum1`: *sum1 = s1.
void finish_partials(const char* name, const double* part, unsigned blocks, ref::Reduction r, bool denom_from_part,
                     double denom, float* out, double* sum1, cudaStream_t stream);
// Bytes for one double result slot (padded to 16) and `blocks` pairs of partials after it.
inline size_t partial_bytes(unsigned blocks) { return (2 + 2 * size_t(blocks)) * sizeof(double); }
}  // namespace loss_detail

}  // namespace fastconv::cuda
