// Attribute parsing of the pooling ops, shared by every backend's kernels (ops/pool_*.cpp, ops/cuda/pool.cpp).
#pragma once
#include <string>

#include "cpu/ref/pool_ref.h"
#include "ops/op.h"

namespace fastconv {

// A fixed-window pooling call (max/min/avg, 1-3 spatial dims) on input shape `in`, validated.
struct PoolCfg {
  ref::PoolParams p;
  Shape out_shape;
  int64_t planes = 0;  // the (n, c) slices
};
PoolCfg pool_cfg(const std::string& op, const Attrs& attrs, const Shape& in, int nd, bool is_max);
// An adaptive pooling call (2-D) on input shape `in`; sets *out_shape.
ref::AdaptiveParams adaptive_cfg(const OpCall& c, const Shape& in, Shape* out_shape);
// The backward ops' `input_shape` attribute (the forward input's shape), size-checked.
Shape input_shape_attr(const OpCall& c);
int64_t spatial_numel(const Shape& s, int nd);  // the product of the last nd dims

}  // namespace fastconv
