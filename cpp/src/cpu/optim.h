// Vectorisable optimizer updates: the reference formulas (cpu/ref/optim_ref.h) with the per-element branches
// hoisted into template parameters, so each configuration is one straight loop over restrict pointers. Same
// operations in the same order as the reference, so the results are identical to it.
#pragma once
#include <cstdint>

#include "cpu/ref/optim_ref.h"

namespace fastconv::cpu {

void sgd_update(const ref::SgdParams& p, float* param, const float* grad, float* buf, int64_t b, int64_t e);
void adam_update(const ref::AdamParams& p, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                 float* max_exp_avg_sq, int64_t b, int64_t e);
void rmsprop_update(const ref::RmspropParams& p, float* param, const float* grad, float* square_avg, float* buf,
                    float* grad_avg, int64_t b, int64_t e);
void adadelta_update(const ref::AdadeltaParams& p, float* param, const float* grad, float* square_avg,
                     float* acc_delta, int64_t b, int64_t e);
void adagrad_update(const ref::AdagradParams& p, float* param, const float* grad, float* sum, int64_t b, int64_t e);

}  // namespace fastconv::cpu
