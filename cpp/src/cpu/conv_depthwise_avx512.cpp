// Depthwise plane kernels for AVX-512: 16-wide FMA rows with masked tails (unit W stride; strided rows are scalar).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv_depthwise.h"

namespace fastconv::cpu {
namespace {

inline __mmask16 tail_mask(int64_t r) { return __mmask16((1u << r) - 1u); }

inline void row_axpy(float* y, const float* x, float a, int64_t n, int64_t sx) {
  if (sx != 1) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i * sx];
    return;
  }
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m,
                          _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

inline void row_scatter(float* y, int64_t sy, const float* x, float a, int64_t n) {
  if (sy == 1) return row_axpy(y, x, a, n, 1);
  for (int64_t i = 0; i < n; ++i) y[i * sy] += a * x[i];
}

inline float row_dot(const float* a, const float* b, int64_t n, int64_t sb) {
  if (sb != 1) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += a[i] * b[i * sb];
    return s;
  }
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// NC accumulators of 16 columns each stay in registers across every tap: one load and one FMA per tap and vector.
template <int NC>
inline void taps_block(float* y, const float* const* rows, const float* const* wrows, int64_t nrows,
                       const int64_t* offs, int64_t ntaps, int64_t i, int64_t n) {
  __mmask16 m[NC];
  __m512 acc[NC];
  for (int c = 0; c < NC; ++c) {
    const int64_t left = n - i - 16 * c;
    m[c] = left >= 16 ? __mmask16(0xFFFF) : tail_mask(left);
    acc[c] = _mm512_maskz_loadu_ps(m[c], y + i + 16 * c);
  }
  for (int64_t r = 0; r < nrows; ++r)
    for (int64_t t = 0; t < ntaps; ++t) {
      const __m512 a = _mm512_set1_ps(wrows[r][t]);
      const float* x = rows[r] + offs[t] + i;
      for (int c = 0; c < NC; ++c) acc[c] = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m[c], x + 16 * c), acc[c]);
    }
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(y + i + 16 * c, m[c], acc[c]);
}

inline void row_taps(float* y, const float* const* rows, const float* const* wrows, int64_t nrows,
                     const int64_t* offs, int64_t ntaps, int64_t n) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) taps_block<4>(y, rows, wrows, nrows, offs, ntaps, i, n);
  const int64_t left = n - i;
  if (left > 32) taps_block<3>(y, rows, wrows, nrows, offs, ntaps, i, n);
  else if (left > 16) taps_block<2>(y, rows, wrows, nrows, offs, ntaps, i, n);
  else if (left > 0) taps_block<1>(y, rows, wrows, nrows, offs, ntaps, i, n);
}

#include "cpu/conv_depthwise_planes.h"

}  // namespace

void conv_depthwise_forward__avx512(const ConvParams& p, const float* x, const float* w, float bias, float* y) {
  dw_forward_plane(p, x, w, bias, y);
}
void conv_depthwise_backward_data__avx512(const ConvParams& p, const float* dy, const float* w, float* dx) {
  dw_backward_data_plane(p, dy, w, dx);
}
void conv_depthwise_backward_weight__avx512(const ConvParams& p, const float* dy, const float* x, float* dw) {
  dw_backward_weight_plane(p, dy, x, dw);
}

}  // namespace fastconv::cpu
