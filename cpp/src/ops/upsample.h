// Attribute parsing of interpolate, shared by every backend's kernels (ops/upsample.cpp, ops/cuda/).
#pragma once
#include <string>

#include "cpu/ref/upsample_ref.h"
#include "ops/op.h"

namespace fastconv {

struct UpCfg {
  ref::UpsampleParams p;
  Shape out_shape;
  int64_t planes = 0;  // the (n, c) slices
};
// interpolate's attributes (mode, size or scale_factor, align_corners) on input shape `in`, validated.
UpCfg upsample_cfg(const std::string& op, const Attrs& attrs, const Shape& in);

}  // namespace fastconv
