// Normalization kernels split for the thread pool (baseline ISA; the loops are written so the compiler
// vectorises the contiguous inner runs). ops/norm.cpp picks these or the cpu/ref ones (FASTCONV_ALGO=norm=ref forces those).
#pragma once
#include <cstdint>

#include "cpu/ref/norm_ref.h"

namespace fastconv::cpu {

// Channels [c0, c1): statistics, running-stat update and the normalised output in two passes over x.
void batch_norm__channels(const ref::BatchNormParams& p, const float* x, const float* weight, const float* bias,
                          float* running_mean, float* running_var, float* y, float* save_mean, float* save_invstd,
                          int64_t c0, int64_t c1);
// Channels [c0, c1): dbias, dweight and dx fused (one reduction pass, one output pass).
void batch_norm_backward__channels(const ref::BatchNormParams& p, const float* grad, const float* x,
                                   const float* weight, const float* save_mean, const float* save_invstd, float* dx,
                                   float* dweight, float* dbias, int64_t c0, int64_t c1);

// group_norm / layer_norm rows [r0, r1).
void row_norm__rows(const ref::RowNormParams& p, const float* x, const float* weight, const float* bias, float* y,
                    float* mean, float* rstd, int64_t r0, int64_t r1);
void row_norm_backward_dx__rows(const ref::RowNormParams& p, const float* grad, const float* x, const float* weight,
                                const float* mean, const float* rstd, float* dx, int64_t r0, int64_t r1);
// dweight / dbias entries [a0, a1) (sums over every row that uses them); either output may be null.
void row_norm_backward_affine(const ref::RowNormParams& p, const float* grad, const float* x, const float* mean,
                              const float* rstd, float* dweight, float* dbias, int64_t a0, int64_t a1);

}  // namespace fastconv::cpu
