// Table-driven upsampling: the per-axis source indices and weights are computed once when the op is prepared
// (not per element, as the reference does), so the kernels only gather and blend. Same results as the reference
// (same float index/weight rules; the two bilinear row blends are summed in a fixed order).
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/ref/upsample_ref.h"

namespace fastconv::cpu {

struct UpsampleTables {
  ref::UpsampleParams p;
  std::vector<int64_t> h0, h1, w0, w1;  // per output row / column: source taps (h1 == h0 for nearest)
  std::vector<float> ha, hb, wa, wb;    // their weights (linear only)
};

UpsampleTables make_upsample_tables(const ref::UpsampleParams& p);
void upsample_tables(const UpsampleTables& t, const float* x, float* y, int64_t p0, int64_t p1);
void upsample_tables_backward(const UpsampleTables& t, const float* gy, float* gx, int64_t p0, int64_t p1);

}  // namespace fastconv::cpu
