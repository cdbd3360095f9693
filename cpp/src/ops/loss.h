// Attribute parsing of the class losses, shared by every backend's kernels (ops/loss_*.cpp, ops/cuda/loss.cpp).
#pragma once
#include "cpu/ref/loss_ref.h"
#include <string>
#include <vector>

#include "ops/op.h"

namespace fastconv {

// A cross_entropy / nll_loss call: the params, whether the target holds probabilities (float32) rather than class
// indices (int64), and whether a class weight is given.
struct CeCall {
  ref::CrossEntropyParams p;
  bool prob = false, weighted = false;
};
CeCall cross_entropy_call(const OpCall& c);           // inputs: input, target, [weight]
CeCall cross_entropy_backward_call(const OpCall& c);  // inputs: grad, input, target, lse, [weight]
CeCall nll_loss_call(const OpCall& c);                // inputs: input, target, [weight]
CeCall nll_loss_backward_call(const OpCall& c);       // inputs: grad, input, target, [weight]

// An element-wise loss call (mse_loss, l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy(_with_logits), or
// their `_backward`), its loss inputs starting at `first` (0 forward, 1 backward: after the grad).
struct PointwiseCall {
  ref::PointwiseParams p;
  ref::Reduction reduction = ref::Reduction::mean;
  bool mean_by_weight = false;
  int weight_at = -1, pos_weight_at = -1;  // input positions counted from the first loss input
};
PointwiseCall pointwise_loss_call(const OpCall& c, size_t first);
std::vector<std::string> pointwise_loss_names();

// triplet_margin_loss (anchor, positive, negative from `first`) and cosine_similarity (x1, x2 from `first`; *out,
// when not null, gets the output shape).
ref::TripletParams triplet_params(const OpCall& c, size_t first);
ref::CosineParams cosine_params(const OpCall& c, size_t first, Shape* out);

}  // namespace fastconv
