// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized (_mm512_undefined_ps inside intrinsics).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "cpu/activation.h"
#include "cpu/activation_vmath.h"

namespace fastconv::cpu {

void relu__avx512(const float* x, float* y, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_max_ps(zero, _mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_max_ps(zero, _mm512_maskz_loadu_ps(m, x + i)));
  }
}

void relu_backward__avx512(const float* grad, const float* y, float* dx, int64_t n) {
  const __m512 zero = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __mmask16 pos = _mm512_cmp_ps_mask(_mm512_loadu_ps(y + i), zero, _CMP_GT_OQ);
    _mm512_storeu_ps(dx + i, _mm512_maskz_mov_ps(pos, _mm512_loadu_ps(grad + i)));
  }
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    __mmask16 pos = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + i), zero, _CMP_GT_OQ);
    _mm512_mask_storeu_ps(dx + i, m, _mm512_maskz_mov_ps(pos, _mm512_maskz_loadu_ps(m, grad + i)));
  }
}

namespace {

using ref::ActKind;

template <class F>
void map1(const float* x, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(x + i)));
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

template <class F>
void map2(const float* a, const float* b, float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, f(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));
  if (i < n) {
    __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, f(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

inline __m512 vabs(__m512 x) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x),
                                                                           _mm512_set1_epi32(0x7fffffff))); }

inline __m512 vsigmoid(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  __m512 e = vexp512(_mm512_sub_ps(_mm512_setzero_ps(), vabs(x)));  // exp(-|x|) never overflows
  __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_mul_ps(s, neg, e, s);
}

// Small |x|: odd polynomial (Cephes tanhf), where (1-e)/(1+e) would lose relative accuracy.
inline __m512 vtanh(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.f);
  __m512 ax = vabs(x);
  __m512 e = vexp512(_mm512_mul_ps(ax, _mm512_set1_ps(-2.f)));
  __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
  t = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), _mm512_and_si512(_mm512_castps_si512(x),
                                                                                   _mm512_set1_epi32(INT32_MIN))));
  __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.06390887954e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.37397155531e-2f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.33314422036e-1f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.33332819422e-1f));
  __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ), t, small);
}

// relu6(x + 3) / 6, x second in the clamps so NaN passes through.
inline __m512 vhardsigmoid(__m512 x) {
  __m512 t = _mm512_max_ps(_mm512_setzero_ps(), _mm512_add_ps(x, _mm512_set1_ps(3.f)));
  return _mm512_div_ps(_mm512_min_ps(_mm512_set1_ps(6.f), t), _mm512_set1_ps(6.f));
}

}  // namespace

void activation__avx512(const ref::ActParams& p, const float* x, float* y, int64_t n) {
  const __m512 a = _mm512_set1_ps(p.a), b = _mm512_set1_ps(p.b), zero = _mm512_setzero_ps();
  switch (p.kind) {
    case ActKind::leaky_relu:
      return map1(x, y, n, [&](__m512 v) {
        return _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ) ^ 0xFFFF, v, a);
      });
    case ActKind::elu:
      return map1(x, y, n, [&](__m512 v) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), _mm512_mul_ps(a, vexpm1_512(v)), v);
      });
    case ActKind::sigmoid: return map1(x, y, n, vsigmoid);
    case ActKind::tanh: return map1(x, y, n, vtanh);
    case ActKind::threshold:
      return map1(x, y, n, [&](__m512 v) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, a, _CMP_LE_OQ), v, b); });
    case ActKind::hardtanh:  // x second: NaN passes through both clamps
      return map1(x, y, n, [&](__m512 v) { return _mm512_min_ps(b, _mm512_max_ps(a, v)); });
    case ActKind::hardsigmoid: return map1(x, y, n, vhardsigmoid);
    case ActKind::hardswish: return map1(x, y, n, [&](__m512 v) { return _mm512_mul_ps(v, vhardsigmoid(v)); });
    case ActKind::silu: return map1(x, y, n, [&](__m512 v) { return _mm512_mul_ps(v, vsigmoid(v)); });
    case ActKind::selu:
      return map1(x, y, n, [&](__m512 v) {
        return _mm512_mul_ps(b, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ),
                                                     _mm512_mul_ps(a, vexpm1_512(v)), v));
      });
    default: return ref::activation(p, x, y, n);
  }
}

void activation_backward__avx512(const ref::ActParams& p, const float* grad, const float* s, float* dx, int64_t n) {
  const __m512 a = _mm512_set1_ps(p.a), b = _mm512_set1_ps(p.b), zero = _mm512_setzero_ps(),
               one = _mm512_set1_ps(1.f);
  switch (p.kind) {
    case ActKind::leaky_relu:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        return _mm512_mask_mul_ps(g, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ) ^ 0xFFFF, g, a);
      });
    case ActKind::elu:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ),
                                    _mm512_mul_ps(g, _mm512_mul_ps(a, vexp512(v))), g);
      });
    case ActKind::sigmoid:
      return map2(grad, s, dx, n,
                  [&](__m512 g, __m512 v) { return _mm512_mul_ps(g, _mm512_mul_ps(v, _mm512_sub_ps(one, v))); });
    case ActKind::tanh:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) { return _mm512_mul_ps(g, _mm512_fnmadd_ps(v, v, one)); });
    case ActKind::threshold:
      return map2(grad, s, dx, n,
                  [&](__m512 g, __m512 v) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, a, _CMP_GT_OQ), g); });
    case ActKind::hardtanh:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        __mmask16 in = _mm512_cmp_ps_mask(v, a, _CMP_GT_OQ) & _mm512_cmp_ps_mask(v, b, _CMP_LT_OQ);
        return _mm512_maskz_mov_ps(in, g);
      });
    case ActKind::hardsigmoid:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        __mmask16 in = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-3.f), _CMP_GT_OQ) &
                       _mm512_cmp_ps_mask(v, _mm512_set1_ps(3.f), _CMP_LT_OQ);
        return _mm512_maskz_mov_ps(in, _mm512_mul_ps(g, _mm512_set1_ps(1.f / 6.f)));
      });
    case ActKind::hardswish:  // 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on (and for NaN), as torch
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        __mmask16 mid = _mm512_cmp_ps_mask(v, _mm512_set1_ps(3.f), _CMP_LT_OQ);
        __mmask16 low = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-3.f), _CMP_LE_OQ);
        __m512 d = _mm512_fmadd_ps(v, _mm512_set1_ps(1.f / 3.f), _mm512_set1_ps(0.5f));
        return _mm512_maskz_mov_ps(low ^ 0xFFFF, _mm512_mask_mul_ps(g, mid, g, d));
      });
    case ActKind::silu:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        __m512 sg = vsigmoid(v);
        return _mm512_mul_ps(_mm512_mul_ps(g, sg), _mm512_fmadd_ps(v, _mm512_sub_ps(one, sg), one));
      });
    case ActKind::selu:
      return map2(grad, s, dx, n, [&](__m512 g, __m512 v) {
        __m512 neg = _mm512_mul_ps(_mm512_mul_ps(a, vexp512(v)), g);
        return _mm512_mul_ps(b, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), neg, g));
      });
    default: return ref::activation_backward(p, grad, s, dx, n);
  }
}

}  // namespace fastconv::cpu
