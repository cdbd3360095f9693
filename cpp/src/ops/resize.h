// Attribute parsing of resize, shared by every backend's kernels (ops/resize.cpp, ops/cuda/resize.cpp).
#pragma once
#include <string>
#include <vector>

#include "cpu/ref/resize_ref.h"
#include "ops/op.h"

namespace fastconv {

struct ResizeCfg {
  ref::ResizeSpec spec;
  Shape out;
  std::vector<ref::ResizeAxis> axes;  // the resized axes, in increasing order, with their outer/inner extents
};
// resize's attributes (sizes, scales, mode, coordinate_transformation_mode, ...) on input shape `in`, validated,
// and the taps of every axis that changes.
ResizeCfg resize_cfg(const std::string& op, const Attrs& attrs, const Shape& in);

}  // namespace fastconv
