// cross_entropy block kernels for AVX-512 (16 lanes, masked tails). The algorithm is in loss_ce_kernels.inc.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "cpu/loss.h"

// GCC 12 flags its own AVX-512 intrinsics (_mm512_undefined_ps in max/min/scalef) as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace fastconv::cpu {
namespace {

using V = __m512;
constexpr int64_t kW = 16;

inline __mmask16 lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }
inline V vset(float a) { return _mm512_set1_ps(a); }
inline V vload_part(const float* p, int64_t n, float fill) {
  return n >= 16 ? _mm512_loadu_ps(p) : _mm512_mask_loadu_ps(vset(fill), lanes(n), p);
}
inline void vstore_part(float* p, V v, int64_t n) {
  if (n >= 16)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, lanes(n), v);
}
inline V vadd(V a, V b) { return _mm512_add_ps(a, b); }
inline V vsub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V vmul(V a, V b) { return _mm512_mul_ps(a, b); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vmax(V a, V b) { return _mm512_max_ps(a, b); }
inline float vhsum(V a) { return _mm512_reduce_add_ps(a); }
inline float vhmax(V a) { return _mm512_reduce_max_ps(a); }

// exp(x): x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (Cephes expf coefficients), times 2^n.
// Below -87.3 the result is flushed to 0 (so -inf gives 0); NaN propagates through the polynomial.
inline V vexp(V x) {
  const V lo = vset(-87.3f), hi = vset(88.7f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_min_ps(hi, _mm512_max_ps(lo, x));  // operand order keeps NaN (max/min return the 2nd on NaN)
  const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, vset(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  V r = _mm512_fnmadd_ps(n, vset(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, vset(-2.12194440e-4f), r);
  V p = vset(1.9875691500e-4f);
  p = vfma(p, r, vset(1.3981999507e-3f));
  p = vfma(p, r, vset(8.3334519073e-3f));
  p = vfma(p, r, vset(4.1665795894e-2f));
  p = vfma(p, r, vset(1.6666665459e-1f));
  p = vfma(p, r, vset(5.0000001201e-1f));
  p = vfma(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, vset(1.f)));
  const V y = _mm512_scalef_ps(p, n);
  return _mm512_mask_mov_ps(y, under, _mm512_setzero_ps());
}

#include "cpu/loss_ce_kernels.inc"

}  // namespace

void cross_entropy_stats__avx512(const CeBlock& b) { b.S == 1 ? ce_stats_row(b) : ce_stats_cols(b); }
void cross_entropy_grad__avx512(const CeBlock& b) { b.S == 1 ? ce_grad_row(b) : ce_grad_cols(b); }

}  // namespace fastconv::cpu
