#include "cpu/dropout.h"

#include <algorithm>

#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {
// Mask entries per task: about 32K elements of work whatever `inner` is.
int64_t grain(const ref::DropoutParams& p) { return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.inner)); }
}  // namespace

void dropout__parallel(const ref::DropoutParams& p, const float* x, float* y, uint8_t* mask) {
  const uint64_t s = p.stream(), t = p.threshold();
  const float scale = p.scale();
  parallel_for(p.entries, grain(p), [&](int64_t e0, int64_t e1) {
    if (p.inner == 1) {  // element-wise: branch-free so the loop stays tight
      for (int64_t e = e0; e < e1; ++e) {
        const bool keep = ref::dropout_keep(s, t, e);
        mask[e] = uint8_t(keep);
        y[e] = x[e] * (keep ? scale : 0.f);
      }
      return;
    }
    for (int64_t e = e0; e < e1; ++e) {
      const bool keep = ref::dropout_keep(s, t, e);
      mask[e] = uint8_t(keep);
      const float k = keep ? scale : 0.f;
      for (int64_t i = e * p.inner; i < (e + 1) * p.inner; ++i) y[i] = x[i] * k;
    }
  });
}

void dropout_backward__parallel(const ref::DropoutParams& p, const float* grad, const uint8_t* mask, float* dx) {
  const float scale = p.scale();
  parallel_for(p.entries, grain(p), [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      const float k = mask[e] ? scale : 0.f;
      for (int64_t i = e * p.inner; i < (e + 1) * p.inner; ++i) dx[i] = grad[i] * k;
    }
  });
}

}  // namespace fastconv::cpu
