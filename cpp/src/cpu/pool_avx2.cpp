// 2-D max/min/avg pooling with AVX2: 8 output columns per vector; the same scheme as pool_avx512.cpp (stride-2
// columns come from two loads and a shuffle+permute deinterleave; the last interior columns of a row take a masked
// vector; border columns go scalar).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/pool.h"
#include "cpu/pool_scalar_parts.h"

namespace fastconv::cpu {
namespace {

// The first n (1..8) taps at columns col + j*sw (sw is 1 or 2) of one row; never reads past col + (n-1)*sw, so
// rows with fewer than 8 interior columns left still take the vector path (masked).
struct TapMasks {
  __m256i lanes, a, b;  // output lanes; elements of the first and second 8-float load (sw == 2)
};
inline __m256i first_n(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline TapMasks tap_masks(int64_t n, int64_t sw) {
  const int64_t span = (n - 1) * sw + 1;  // elements from the first tap to the last
  return {first_n(n), first_n(span), first_n(span - 8)};
}
inline __m256 load_taps(const float* row, int64_t col, int64_t sw, const TapMasks& m) {
  if (sw == 1) return _mm256_maskload_ps(row + col, m.lanes);
  const __m256 a = _mm256_maskload_ps(row + col, m.a);
  const __m256 b = _mm256_maskload_ps(row + col + 8, m.b);
  const __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

template <bool kMin>
void max_row_vec(const Geo& g, const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float* y,
                 int64_t* idx) {
  const TapMasks tm = tap_masks(n, g.sw);
  const __m256i lane = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int32_t(g.sw)));
  const int64_t c0 = ow * g.sw - g.pw;
  __m256 best = _mm256_set1_ps(kMin ? INFINITY : -INFINITY);
  __m256i bi = _mm256_add_epi32(lane, _mm256_set1_epi32(int32_t(h0 * g.W + c0)));
  for (int64_t ih = h0; ih < h1; ih += g.dh) {
    const float* row = xp + ih * g.W;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t col = c0 + kw * g.dw;
      const __m256 v = load_taps(row, col, g.sw, tm);
      const __m256 m = _mm256_or_ps(_mm256_cmp_ps(v, best, kMin ? _CMP_LT_OQ : _CMP_GT_OQ),
                                    _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      best = _mm256_blendv_ps(best, v, m);
      const __m256i cand = _mm256_add_epi32(lane, _mm256_set1_epi32(int32_t(ih * g.W + col)));
      bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(cand), m));
    }
  }
  _mm256_maskstore_ps(y, tm.lanes, best);
  const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(tm.lanes));
  const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(tm.lanes, 1));
  _mm256_maskstore_epi64(reinterpret_cast<long long*>(idx), lo, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(bi)));
  _mm256_maskstore_epi64(reinterpret_cast<long long*>(idx + 4), hi,
                         _mm256_cvtepi32_epi64(_mm256_extracti128_si256(bi, 1)));
}


}  // namespace

void max_pool2d__avx2(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0,
                      int64_t p1) {
  const Geo g = geometry(p);
  max_pool_planes<8>(g, x, y, idx, min, p0, p1,
                     [&](const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float* yr, int64_t* ir) {
                       if (min) max_row_vec<true>(g, xp, h0, h1, ow, n, yr, ir);
                       else max_row_vec<false>(g, xp, h0, h1, ow, n, yr, ir);
                     });
}

void avg_pool2d__avx2(const ref::PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  const Geo g = geometry(p);
  avg_pool_planes<8>(p, g, x, y, p0, p1,
                     [&](const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float inv, float* yr) {
                       const TapMasks tm = tap_masks(n, g.sw);
                       __m256 s = _mm256_setzero_ps();
                       const int64_t c0 = ow * g.sw - g.pw;
                       for (int64_t ih = h0; ih < h1; ++ih)
                         for (int64_t kw = 0; kw < g.kw; ++kw)
                           s = _mm256_add_ps(s, load_taps(xp + ih * g.W, c0 + kw, g.sw, tm));
                       _mm256_maskstore_ps(yr, tm.lanes, _mm256_mul_ps(s, _mm256_set1_ps(inv)));
                     });
}

void avg_pool2d_backward__avx2(const ref::PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const Geo g = geometry(p);
  const __m256i m7 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* gp = gx + pl * g.H * g.W;
    const float* gr0 = gy + pl * g.OH * g.OW;
    std::memset(gp, 0, sizeof(float) * size_t(g.H * g.W));
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      int64_t h0 = oh * g.sh - g.ph, h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H;
      if (h0 < 0) h0 = 0;
      const float* gr = gr0 + oh * g.OW;
      auto point = [&](int64_t ow) {
        int64_t w0 = ow * g.sw - g.pw, w1 = w0 + g.kw < g.W ? w0 + g.kw : g.W;
        if (w0 < 0) w0 = 0;
        const float v = gr[ow] / float(ref::avg_pool_divisor(p, 0, oh, ow));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) gp[ih * g.W + iw] += v;
      };
      int64_t ow = 0;
      for (; ow < g.ow_lo; ++ow) point(ow);
      if (ow + 8 <= g.ow_hi) {
        const __m256 inv = _mm256_set1_ps(1.f / float(ref::avg_pool_divisor(p, 0, oh, ow)));
        for (; ow + 8 <= g.ow_hi; ow += 8) {
          const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(gr + ow), inv);
          // Interleave with zeros (v0 0 v1 0 ...) so stride-2 columns take two contiguous adds.
          const __m256 lo = _mm256_permute2f128_ps(_mm256_unpacklo_ps(v, zero), _mm256_unpackhi_ps(v, zero), 0x20);
          const __m256 hi = _mm256_permute2f128_ps(_mm256_unpacklo_ps(v, zero), _mm256_unpackhi_ps(v, zero), 0x31);
          const int64_t c0 = ow * g.sw - g.pw;
          for (int64_t ih = h0; ih < h1; ++ih) {
            float* row = gp + ih * g.W;
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              float* dst = row + c0 + kw;
              if (g.sw == 1) {
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), v));
              } else {
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), lo));
                _mm256_maskstore_ps(dst + 8, m7, _mm256_add_ps(_mm256_maskload_ps(dst + 8, m7), hi));
              }
            }
          }
        }
      }
      for (; ow < g.OW; ++ow) point(ow);
    }
  }
}

}  // namespace fastconv::cpu
