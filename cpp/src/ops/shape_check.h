// Checked size arithmetic for shape rules. Sizes are computed in 128 bits, so no intermediate (2 * padding,
// dilation * (kernel - 1), out * in) can wrap, and are narrowed to int64 only through these checks: a size that no
// tensor could have is a ValueError naming the op, the arguments and their values, before anything allocates. The
// bounds also keep the kernels' own index arithmetic (o * stride - pad + k * dilation) inside int64.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fastconv/tensor.h"

namespace fastconv {

using wide = __int128;

// The most elements one tensor may have (2**60: 2**62 bytes of float32), and the largest extent (padded input,
// dilated window) along one axis.
constexpr int64_t kMaxElements = int64_t(1) << 60;
constexpr int64_t kMaxExtent = int64_t(1) << 60;

std::string wide_str(wide v);
// "(2147483647, 2147483647)"
std::string ints_str(const std::vector<int64_t>& v);

// `v` as a size in [0, kMaxExtent]; `what` names the size ("output size along axis 2"), `because` the arguments
// it came from ("padding=(2147483647,) and dilation=(1,)").
int64_t checked_extent(const std::string& op, wide v, const std::string& what, const std::string& because);
// Throws unless `shape` has at most kMaxElements elements; returns the count.
int64_t checked_numel(const std::string& op, const Shape& shape, const std::string& what,
                      const std::string& because);

}  // namespace fastconv
