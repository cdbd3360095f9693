#include <immintrin.h>

#include <cstring>

#include "cpu/activation.h"
#include "cpu/activation_vmath.h"

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

namespace {

using ref::ActKind;

// The tail goes through a zero-padded stack buffer so the vector code defines every element.
template <class F>
void map1(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float bx[8] = {}, by[8];
    std::memcpy(bx, x + i, size_t(n - i) * sizeof(float));
    _mm256_store_ps(by, f(_mm256_load_ps(bx)));
    std::memcpy(y + i, by, size_t(n - i) * sizeof(float));
  }
}

template <class F>
void map2(const float* a, const float* b, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    alignas(32) float ba[8] = {}, bb[8] = {}, by[8];
    std::memcpy(ba, a + i, size_t(n - i) * sizeof(float));
    std::memcpy(bb, b + i, size_t(n - i) * sizeof(float));
    _mm256_store_ps(by, f(_mm256_load_ps(ba), _mm256_load_ps(bb)));
    std::memcpy(y + i, by, size_t(n - i) * sizeof(float));
  }
}

inline __m256 vabs(__m256 x) { return _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }

inline __m256 vsigmoid(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  __m256 e = vexp256(_mm256_sub_ps(_mm256_setzero_ps(), vabs(x)));  // exp(-|x|) never overflows
  __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
  return _mm256_blendv_ps(s, _mm256_mul_ps(e, s), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// Small |x|: odd polynomial (Cephes tanhf), where (1-e)/(1+e) would lose relative accuracy.
inline __m256 vtanh(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  __m256 ax = vabs(x);
  __m256 e = vexp256(_mm256_mul_ps(ax, _mm256_set1_ps(-2.f)));
  __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  t = _mm256_or_ps(t, _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN))));
  __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  return _mm256_blendv_ps(t, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// relu6(x + 3) / 6, x second in the clamps so NaN passes through.
inline __m256 vhardsigmoid(__m256 x) {
  __m256 t = _mm256_max_ps(_mm256_setzero_ps(), _mm256_add_ps(x, _mm256_set1_ps(3.f)));
  return _mm256_div_ps(_mm256_min_ps(_mm256_set1_ps(6.f), t), _mm256_set1_ps(6.f));
}

}  // namespace

void activation__avx2(const ref::ActParams& p, const float* x, float* y, int64_t n) {
  const __m256 a = _mm256_set1_ps(p.a), b = _mm256_set1_ps(p.b), zero = _mm256_setzero_ps();
  switch (p.kind) {
    case ActKind::leaky_relu:
      return map1(x, y, n, [&](__m256 v) {
        return _mm256_blendv_ps(_mm256_mul_ps(v, a), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
      });
    case ActKind::elu:
      return map1(x, y, n, [&](__m256 v) {
        return _mm256_blendv_ps(_mm256_mul_ps(a, vexpm1_256(v)), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
      });
    case ActKind::sigmoid: return map1(x, y, n, vsigmoid);
    case ActKind::tanh: return map1(x, y, n, vtanh);
    case ActKind::threshold:
      return map1(x, y, n, [&](__m256 v) { return _mm256_blendv_ps(v, b, _mm256_cmp_ps(v, a, _CMP_LE_OQ)); });
    case ActKind::hardtanh:  // x second: NaN passes through both clamps
      return map1(x, y, n, [&](__m256 v) { return _mm256_min_ps(b, _mm256_max_ps(a, v)); });
    case ActKind::hardsigmoid: return map1(x, y, n, vhardsigmoid);
    case ActKind::hardswish: return map1(x, y, n, [&](__m256 v) { return _mm256_mul_ps(v, vhardsigmoid(v)); });
    case ActKind::silu: return map1(x, y, n, [&](__m256 v) { return _mm256_mul_ps(v, vsigmoid(v)); });
    case ActKind::selu:
      return map1(x, y, n, [&](__m256 v) {
        return _mm256_mul_ps(b, _mm256_blendv_ps(_mm256_mul_ps(a, vexpm1_256(v)), v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)));
      });
    default: return ref::activation(p, x, y, n);
  }
}

void activation_backward__avx2(const ref::ActParams& p, const float* grad, const float* s, float* dx, int64_t n) {
  const __m256 a = _mm256_set1_ps(p.a), b = _mm256_set1_ps(p.b), zero = _mm256_setzero_ps(),
               one = _mm256_set1_ps(1.f);
  switch (p.kind) {
    case ActKind::leaky_relu:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        return _mm256_blendv_ps(_mm256_mul_ps(g, a), g, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
      });
    case ActKind::elu:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        return _mm256_blendv_ps(_mm256_mul_ps(g, _mm256_mul_ps(a, vexp256(v))), g, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
      });
    case ActKind::sigmoid:
      return map2(grad, s, dx, n,
                  [&](__m256 g, __m256 v) { return _mm256_mul_ps(g, _mm256_mul_ps(v, _mm256_sub_ps(one, v))); });
    case ActKind::tanh:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) { return _mm256_mul_ps(g, _mm256_fnmadd_ps(v, v, one)); });
    case ActKind::threshold:
      return map2(grad, s, dx, n,
                  [&](__m256 g, __m256 v) { return _mm256_and_ps(g, _mm256_cmp_ps(v, a, _CMP_GT_OQ)); });
    case ActKind::hardtanh:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        return _mm256_and_ps(g, _mm256_and_ps(_mm256_cmp_ps(v, a, _CMP_GT_OQ), _mm256_cmp_ps(v, b, _CMP_LT_OQ)));
      });
    case ActKind::hardsigmoid:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        __m256 in = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(-3.f), _CMP_GT_OQ),
                                  _mm256_cmp_ps(v, _mm256_set1_ps(3.f), _CMP_LT_OQ));
        return _mm256_and_ps(in, _mm256_mul_ps(g, _mm256_set1_ps(1.f / 6.f)));
      });
    case ActKind::hardswish:  // 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on (and for NaN), as torch
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        __m256 mid = _mm256_cmp_ps(v, _mm256_set1_ps(3.f), _CMP_LT_OQ);
        __m256 low = _mm256_cmp_ps(v, _mm256_set1_ps(-3.f), _CMP_LE_OQ);
        __m256 d = _mm256_fmadd_ps(v, _mm256_set1_ps(1.f / 3.f), _mm256_set1_ps(0.5f));
        return _mm256_andnot_ps(low, _mm256_blendv_ps(g, _mm256_mul_ps(g, d), mid));
      });
    case ActKind::silu:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        __m256 sg = vsigmoid(v);
        return _mm256_mul_ps(_mm256_mul_ps(g, sg), _mm256_fmadd_ps(v, _mm256_sub_ps(one, sg), one));
      });
    case ActKind::selu:
      return map2(grad, s, dx, n, [&](__m256 g, __m256 v) {
        __m256 neg = _mm256_mul_ps(_mm256_mul_ps(a, vexp256(v)), g);
        return _mm256_mul_ps(b, _mm256_blendv_ps(neg, g, _mm256_cmp_ps(v, zero, _CMP_GT_OQ)));
      });
    default: return ref::activation_backward(p, grad, s, dx, n);
  }
}

}  // namespace fastconv::cpu
