// Attribute parsing of the activation ops, shared by every backend's kernels (ops/activation.cpp, ops/cuda/).
#pragma once
#include "cpu/ref/activation_ref.h"
#include "ops/op.h"

namespace fastconv {

// The ActParams of a point-wise activation op or its `_backward` (leaky_relu, elu, ..., relu6 as hardtanh(0, 6));
// validates the op's attributes.
ref::ActParams act_params(const OpCall& c);
// prelu(input, weight): the [outer, C, inner] view and whether the weight is shared; validates the weight's shape.
ref::PreluParams prelu_params(const OpCall& c);
// softmax / log_softmax (and their backwards) over `dim` as [outer, dim, inner].
ref::SoftmaxParams softmax_params(const OpCall& c);

}  // namespace fastconv
