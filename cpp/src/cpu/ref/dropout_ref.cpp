#include "cpu/ref/dropout_ref.h"

namespace fastconv::ref {

void dropout(const DropoutParams& p, const float* x, float* y, uint8_t* mask, int64_t e0, int64_t e1) {
  const uint64_t s = p.stream(), t = p.threshold();
  const float scale = p.scale();
  for (int64_t e = e0; e < e1; ++e) {
    const bool keep = dropout_keep(s, t, e);
    mask[e] = keep ? 1 : 0;
    for (int64_t i = e * p.inner; i < (e + 1) * p.inner; ++i) y[i] = x[i] * (keep ? scale : 0.f);  // multiply, as torch: a dropped NaN/inf gives NaN
  }
}

void dropout_backward(const DropoutParams& p, const float* grad, const uint8_t* mask, float* dx, int64_t e0,
                      int64_t e1) {
  const float scale = p.scale();
  for (int64_t e = e0; e < e1; ++e)
    for (int64_t i = e * p.inner; i < (e + 1) * p.inner; ++i) dx[i] = grad[i] * (mask[e] ? scale : 0.f);
}

}  // namespace fastconv::ref
