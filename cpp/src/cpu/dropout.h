// Dropout split over the thread pool; the mask is the reference's hash (cpu/ref/dropout_ref.h), so the result
// does not depend on the thread count.
#pragma once
#include <cstdint>

#include "cpu/ref/dropout_ref.h"

namespace fastconv::cpu {

void dropout__parallel(const ref::DropoutParams& p, const float* x, float* y, uint8_t* mask);
void dropout_backward__parallel(const ref::DropoutParams& p, const float* grad, const uint8_t* mask, float* dx);

}  // namespace fastconv::cpu
