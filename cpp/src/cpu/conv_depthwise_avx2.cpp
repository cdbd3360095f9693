// Depthwise plane kernels for AVX2: 8-wide FMA rows, scalar tails (unit W stride; strided rows are scalar).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv_depthwise.h"

namespace fastconv::cpu {
namespace {

inline void row_axpy(float* y, const float* x, float a, int64_t n, int64_t sx) {
  int64_t i = 0;
  if (sx == 1) {
    const __m256 va = _mm256_set1_ps(a);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i * sx];
}

inline void row_scatter(float* y, int64_t sy, const float* x, float a, int64_t n) {
  if (sy == 1) return row_axpy(y, x, a, n, 1);
  for (int64_t i = 0; i < n; ++i) y[i * sy] += a * x[i];
}

inline float row_dot(const float* a, const float* b, int64_t n, int64_t sb) {
  int64_t i = 0;
  float s = 0;
  if (sb == 1) {
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    s = _mm_cvtss_f32(h);
  }
  for (; i < n; ++i) s += a[i] * b[i * sb];
  return s;
}

// Two accumulators of 8 columns stay in registers across every tap; the last < 16 columns go through row_axpy.
inline void row_taps(float* y, const float* const* rows, const float* const* wrows, int64_t nrows,
                     const int64_t* offs, int64_t ntaps, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 a0 = _mm256_loadu_ps(y + i), a1 = _mm256_loadu_ps(y + i + 8);
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t t = 0; t < ntaps; ++t) {
        const __m256 w = _mm256_set1_ps(wrows[r][t]);
        const float* x = rows[r] + offs[t] + i;
        a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x), a0);
        a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
      }
    _mm256_storeu_ps(y + i, a0);
    _mm256_storeu_ps(y + i + 8, a1);
  }
  if (i < n)
    for (int64_t r = 0; r < nrows; ++r)
      for (int64_t t = 0; t < ntaps; ++t) row_axpy(y + i, rows[r] + offs[t] + i, wrows[r][t], n - i, 1);
}

#include "cpu/conv_depthwise_planes.h"

}  // namespace

void conv_depthwise_forward__avx2(const ConvParams& p, const float* x, const float* w, float bias, float* y) {
  dw_forward_plane(p, x, w, bias, y);
}
void conv_depthwise_backward_data__avx2(const ConvParams& p, const float* dy, const float* w, float* dx) {
  dw_backward_data_plane(p, dy, w, dx);
}
void conv_depthwise_backward_weight__avx2(const ConvParams& p, const float* dy, const float* x, float* dw) {
  dw_backward_weight_plane(p, dy, x, dw);
}

}  // namespace fastconv::cpu
