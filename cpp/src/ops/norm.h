// Attribute parsing of the normalization ops, shared by every backend's kernels (ops/norm.cpp, ops/cuda/norm.cpp).
#pragma once
#include "cpu/ref/norm_ref.h"
#include "ops/op.h"

namespace fastconv {

// Positions of the optional inputs after input 0 (-1 = absent); `first` is where they start.
struct Slots {
  int running_mean = -1, running_var = -1, weight = -1, bias = -1, count = 1;
};
Slots slots(const AttrReader& a, bool with_running, int first = 1);
// batch_norm (x at input x_index: 0 forward, 1 backward) as [N, C, S].
ref::BatchNormParams bn_params(const OpCall& c, size_t x_index);
// group_norm / layer_norm as rows; *affine = the shape of weight and bias.
ref::RowNormParams row_params(const OpCall& c, size_t x_index, Shape* affine);
ref::LrnParams lrn_params(const OpCall& c);
// Shape inference of batch_norm and batch_norm_backward, which sync_batch_norm (ops/sync_norm.cpp) shares.
std::vector<TensorDesc> infer_batch_norm(const OpCall& c);
std::vector<TensorDesc> infer_batch_norm_backward(const OpCall& c);
// The backward rule of batch_norm and sync_batch_norm: `backward_op` (their backward ops take the same inputs) gives
// dx, dweight, dbias.
std::vector<ValueId> batch_norm_backward_rule(BackwardCall& b, const std::string& backward_op);
// What batch_norm reads (and batch_norm_backward and the fused batch_norm_relu ops, which take its attributes).
AttrNames batch_norm_attrs();

}  // namespace fastconv
