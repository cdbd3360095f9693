// Attribute parsing of the class losses, shared by every backend's kernels (ops/loss.cpp, ops/cuda/loss.cpp).
#pragma once
#include "cpu/ref/loss_ref.h"
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

}  // namespace fastconv
