// Attribute parsing of dropout / dropout2d, shared by every backend's kernels (ops/dropout.cpp, ops/cuda/).
// Inputs: input[, step (int64 [1]: the graph's step counter)]; outputs: y, mask (uint8, an entry per element or
// per (n, c) channel).
#pragma once
#include "cpu/ref/dropout_ref.h"
#include "ops/op.h"

namespace fastconv {

// p, seed and the mask layout for input shape x (the step is read per run).
ref::DropoutParams dropout_params(const OpCall& c, const Shape& x);

}  // namespace fastconv
