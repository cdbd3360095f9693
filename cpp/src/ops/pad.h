// Attribute parsing of pad, shared by every backend's kernels (ops/pad.cpp, ops/cuda/).
#pragma once
#include <string>

#include "cpu/ref/pad_ref.h"
#include "ops/op.h"

namespace fastconv {

struct PadCfg {
  ref::PadParams p;
  int64_t planes = 1;  // the leading dims before the padded ones
  Shape out;
};
// pad's attributes (pad, mode, value) on input shape `in`, validated.
PadCfg pad_cfg(const std::string& op, const Attrs& attrs, const Shape& in);

}  // namespace fastconv
