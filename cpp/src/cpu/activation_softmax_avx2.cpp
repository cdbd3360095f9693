// softmax / log_softmax and their backward, AVX2 (same structure as the AVX-512 file; partial vectors go
// through small stack buffers since AVX2 has no masked float loads/stores with a fill value).
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/activation.h"
#include "cpu/activation_vmath.h"

namespace fastconv::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// k lanes from p (k <= 8), the others `fill`.
inline __m256 load_part(const float* p, int64_t k, float fill) {
  if (k >= 8) return _mm256_loadu_ps(p);
  alignas(32) float b[8];
  for (int i = 0; i < 8; ++i) b[i] = fill;
  std::memcpy(b, p, size_t(k) * sizeof(float));
  return _mm256_load_ps(b);
}
inline void store_part(float* p, __m256 v, int64_t k) {
  if (k >= 8) return _mm256_storeu_ps(p, v);
  alignas(32) float b[8];
  _mm256_store_ps(b, v);
  std::memcpy(p, b, size_t(k) * sizeof(float));
}
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

void softmax_row(const float* x, float* y, int64_t D, bool log) {
  __m256 vm = _mm256_set1_ps(kNegInf);
  for (int64_t d = 0; d < D; d += 8) vm = _mm256_max_ps(vm, load_part(x + d, D - d, kNegInf));
  const __m256 m = _mm256_set1_ps(hmax(vm));
  __m256 vs = _mm256_setzero_ps();
  for (int64_t d = 0; d < D; d += 8) {
    __m256 e = vexp256(_mm256_sub_ps(load_part(x + d, D - d, kNegInf), m));  // padding: exp(-inf) = 0
    if (!log) store_part(y + d, e, D - d);
    vs = _mm256_add_ps(vs, e);
  }
  const float s = hsum(vs);
  if (log) {
    // (x - max) - log(sum), never x - (max + log(sum)): at logits of 1e4 the float sum max + log(sum) keeps only
    // ~3 decimals of log(sum).
    const __m256 ls = _mm256_set1_ps(std::log(s));
    for (int64_t d = 0; d < D; d += 8)
      store_part(y + d, _mm256_sub_ps(_mm256_sub_ps(load_part(x + d, D - d, 0.f), m), ls), D - d);
  } else {
    const __m256 inv = _mm256_set1_ps(1.f / s);
    for (int64_t d = 0; d < D; d += 8) store_part(y + d, _mm256_mul_ps(load_part(y + d, D - d, 0.f), inv), D - d);
  }
}

void softmax_cols(const float* x, float* y, int64_t D, int64_t I, int64_t k, bool log) {
  __m256 vm = _mm256_set1_ps(kNegInf);
  for (int64_t d = 0; d < D; ++d) vm = _mm256_max_ps(vm, load_part(x + d * I, k, 0.f));
  __m256 vs = _mm256_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    __m256 e = vexp256(_mm256_sub_ps(load_part(x + d * I, k, 0.f), vm));
    if (!log) store_part(y + d * I, e, k);
    vs = _mm256_add_ps(vs, e);
  }
  if (log) {
    alignas(32) float s[8];
    _mm256_store_ps(s, vs);
    for (float& v : s) v = std::log(v);
    const __m256 ls = _mm256_load_ps(s);  // (x - max) - log(sum), as in softmax_row
    for (int64_t d = 0; d < D; ++d)
      store_part(y + d * I, _mm256_sub_ps(_mm256_sub_ps(load_part(x + d * I, k, 0.f), vm), ls), k);
  } else {
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.f), vs);
    for (int64_t d = 0; d < D; ++d) store_part(y + d * I, _mm256_mul_ps(load_part(y + d * I, k, 0.f), inv), k);
  }
}

// row: D contiguous elements, 8 at a time; else D strided vectors of k lanes at stride I.
void softmax_backward_block(const float* g, const float* y, float* dx, int64_t D, int64_t I, int64_t k, bool log,
                            bool row) {
  const int64_t n = row ? (D + 7) / 8 : D, step = row ? 8 : I;
  auto lanes = [&](int64_t j) { return row ? D - j * 8 : k; };
  __m256 vs = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; ++j) {
    __m256 gv = load_part(g + j * step, lanes(j), 0.f);
    vs = log ? _mm256_add_ps(vs, gv) : _mm256_fmadd_ps(gv, load_part(y + j * step, lanes(j), 0.f), vs);
  }
  const __m256 s = row ? _mm256_set1_ps(hsum(vs)) : vs;
  for (int64_t j = 0; j < n; ++j) {
    __m256 gv = load_part(g + j * step, lanes(j), 0.f), yv = load_part(y + j * step, lanes(j), 0.f);
    __m256 r = log ? _mm256_fnmadd_ps(vexp256(yv), s, gv) : _mm256_mul_ps(yv, _mm256_sub_ps(gv, s));
    store_part(dx + j * step, r, lanes(j));
  }
}

}  // namespace

void softmax__avx2(const ref::SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1) {
  const int64_t D = p.dim, I = p.inner;
  for (int64_t o = o0; o < o1; ++o) {
    const float* xo = x + o * D * I;
    float* yo = y + o * D * I;
    if (I == 1) {
      softmax_row(xo, yo, D, p.log);
    } else {
      for (int64_t i = 0; i < I; i += 8) softmax_cols(xo + i, yo + i, D, I, I - i, p.log);
    }
  }
}

void softmax_backward__avx2(const ref::SoftmaxParams& p, const float* g, const float* y, float* dx, int64_t o0,
                            int64_t o1) {
  const int64_t D = p.dim, I = p.inner;
  for (int64_t o = o0; o < o1; ++o) {
    const int64_t off = o * D * I;
    if (I == 1) {
      softmax_backward_block(g + off, y + off, dx + off, D, 1, 8, p.log, true);
    } else {
      for (int64_t i = 0; i < I; i += 8)
        softmax_backward_block(g + off + i, y + off + i, dx + off + i, D, I, I - i, p.log, false);
    }
  }
}

}  // namespace fastconv::cpu
