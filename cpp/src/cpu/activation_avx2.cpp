#include <immintrin.h>

#include "cpu/activation.h"

namespace fastconv::cpu {

void relu__avx2(const float* x, float* y, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];
}

void relu_backward__avx2(const float* grad, const float* y, float* dx, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pos = _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ);
    _mm256_storeu_ps(dx + i, _mm256_and_ps(pos, _mm256_loadu_ps(grad + i)));
  }
  for (; i < n; ++i) dx[i] = y[i] > 0.f ? grad[i] : 0.f;
}

}  // namespace fastconv::cpu
