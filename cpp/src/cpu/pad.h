// Row-wise pad kernels ("rows"): each output row along the last padded dim is one block copy of its source row
// plus the few edge elements, instead of the reference's per-element index mapping. Same semantics as ref::pad.
#pragma once
#include <cstdint>

#include "cpu/ref/pad_ref.h"

namespace fastconv::cpu {

// Number of output rows (all planes) the forward splits over: rows [r0, r1) are independent.
int64_t pad_rows_count(const ref::PadParams& p, int64_t planes);
void pad__rows(const ref::PadParams& p, const float* x, float* y, int64_t r0, int64_t r1);
// Planes [p0, p1): rows of one plane may share a source row (reflect/replicate/circular), so a plane is one task.
void pad_backward__rows(const ref::PadParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);

}  // namespace fastconv::cpu
