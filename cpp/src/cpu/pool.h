// Fast 2-D pooling kernels (NCHW, vectorised over output width), one per instruction set; ops/pool_window.cpp picks one
// with pick_isa and falls back to the reference kernel for shapes they do not take (see pool2d_fast_ok).
#pragma once
#include <cstdint>

#include "cpu/ref/pool_ref.h"

namespace fastconv::cpu {

using MaxPoolKernel = void (*)(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0,
                               int64_t p1);
using AvgPoolKernel = void (*)(const ref::PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1);

// The vector kernels read output columns ow*stride + kw*dilation as one or two contiguous loads, so they take
// horizontal strides 1 and 2 only, 2-D pooling (depth 1), and planes indexable in int32.
inline bool pool2d_fast_ok(const ref::PoolParams& p) {
  return p.in[0] == 1 && p.out[0] == 1 && (p.s[2] == 1 || p.s[2] == 2) && p.in[1] * p.in[2] < (int64_t(1) << 31);
}

void max_pool2d__avx512(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0,
                        int64_t p1);
void max_pool2d__avx2(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0,
                      int64_t p1);
void avg_pool2d__avx512(const ref::PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1);
void avg_pool2d__avx2(const ref::PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1);

// Backward of avg_pool2d (count and divisor as the forward): gx overwritten.
void avg_pool2d_backward__avx512(const ref::PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);
void avg_pool2d_backward__avx2(const ref::PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);

}  // namespace fastconv::cpu
