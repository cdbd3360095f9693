// Attribute parsing of unfold and fold, shared by every backend's kernels (ops/fold.cpp, ops/cuda/fold.cpp).
#pragma once
#include "cpu/ref/fold_ref.h"
#include "ops/op.h"

namespace fastconv {

// unfold(input [N, C, H, W]; kernel_size, dilation, padding, stride) and fold(input [N, C*kh*kw, L]; output_size,
// kernel_size, ...): the validated geometry of the call.
ref::FoldParams unfold_params(const OpCall& c);
ref::FoldParams fold_params(const OpCall& c);

}  // namespace fastconv
