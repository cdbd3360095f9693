// Vector exp / expm1 for the activation kernels, included only by *_avx2.cpp / *_avx512.cpp files. Everything is
// in an anonymous namespace and guarded by the ISA macros, so each translation unit gets its own copy compiled for
// its own instruction set (docs/kernels.md: no shared inline code across ISA files).
//
// Cephes-style: x = n ln2 + r with |r| <= ln2/2, exp(r) = 1 + r + r^2 P(r) (degree-5 P), then scale by 2^n.
// Max relative error ~1.5e-7 over the float range. NaN propagates: the clamps put x second in min/max, which
// returns the second operand when either is NaN.
#pragma once
#include <immintrin.h>

namespace {

constexpr float kExpHi = 88.7228f, kExpLo = -103.9f;  // beyond: +inf (handled by clamp+scale) and 0
constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

#if defined(__AVX512F__)
// q = exp(r) - 1 for the reduced argument r, and n: exp(x) = (q + 1) * 2^n.
inline __m512 exp_reduce512(__m512 x, __m512* n) {
  x = _mm512_max_ps(_mm512_set1_ps(kExpLo), _mm512_min_ps(_mm512_set1_ps(kExpHi), x));
  *n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  return _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r);
}
inline __m512 vexp512(__m512 x) {
  __m512 n, q = exp_reduce512(x, &n);
  return _mm512_mask_scalef_ps(_mm512_setzero_ps(), __mmask16(0xFFFF), _mm512_add_ps(q, _mm512_set1_ps(1.f)), n);  // scalef handles over/underflow
}
// expm1 without cancellation near 0: there n = 0 and the result is q itself.
inline __m512 vexpm1_512(__m512 x) {
  __m512 n, q = exp_reduce512(x, &n);
  __m512 t = _mm512_mask_scalef_ps(_mm512_setzero_ps(), __mmask16(0xFFFF), _mm512_set1_ps(1.f), n);
  return _mm512_fmadd_ps(q, t, _mm512_sub_ps(t, _mm512_set1_ps(1.f)));
}
#endif

#if defined(__AVX2__)
inline __m256 exp_reduce256(__m256 x, __m256i* n) {
  x = _mm256_max_ps(_mm256_set1_ps(kExpLo), _mm256_min_ps(_mm256_set1_ps(kExpHi), x));
  __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  *n = _mm256_cvtps_epi32(nf);
  return _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r);
}
// 2^n for n in [-126, 127] built from the exponent bits.
inline __m256 pow2i256(__m256i n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}
// n spans [-150, 128]: two factors 2^(n/2) and 2^(n - n/2) keep each one a normal float, and the product
// rounds into the subnormals the way exp does.
inline __m256 vexp256(__m256 x) {
  __m256i n;
  __m256 y = _mm256_add_ps(exp_reduce256(x, &n), _mm256_set1_ps(1.f));
  __m256i h = _mm256_srai_epi32(n, 1);
  return _mm256_mul_ps(_mm256_mul_ps(y, pow2i256(h)), pow2i256(_mm256_sub_epi32(n, h)));
}
inline __m256 vexpm1_256(__m256 x) {
  __m256i n;
  __m256 q = exp_reduce256(x, &n);
  n = _mm256_max_epi32(n, _mm256_set1_epi32(-126));  // below, t = 2^-126 already makes t - 1 == -1
  __m256 t = pow2i256(n);
  return _mm256_fmadd_ps(q, t, _mm256_sub_ps(t, _mm256_set1_ps(1.f)));
}
#endif

}  // namespace
