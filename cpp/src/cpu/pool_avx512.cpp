// 2-D max/min/avg pooling with AVX-512: 16 output columns per vector. Horizontal stride 2 deinterleaves two
// contiguous loads with one permute, so a 2x2/s2 or 3x3/s2 window costs 2 loads per tap row instead of a gather.
// Only columns whose whole window lies inside the row are vectorised (the last few through a masked vector); the
// border columns take the scalar path, which follows the reference kernel step for step (same scan order, ties, NaN).
// GCC 12 warns (falsely) about the undefined upper half inside _mm512_castsi512_si256/_mm512_cvtepi32_epi64.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/pool.h"
#include "cpu/pool_scalar_parts.h"

namespace fastconv::cpu {
namespace {

// The first n (1..16) taps at columns col + j*sw of one row (sw is 1 or 2); never reads past col + (n-1)*sw, so
// a row's last interior columns, fewer than 16, still take the vector path (e.g. 3x3/s2 on a 32-wide map has 15).
struct TapMasks {
  __mmask16 lanes, a, b;  // output lanes; elements of the first and second 16-float load (sw == 2)
};
inline TapMasks tap_masks(int64_t n, int64_t sw) {
  const uint32_t span = uint32_t((n - 1) * sw + 1);  // elements from the first tap to the last
  const uint32_t all = span >= 32 ? 0xFFFFFFFFu : (1u << span) - 1;
  return {__mmask16((1u << n) - 1), __mmask16(all & 0xFFFF), __mmask16(all >> 16)};
}
inline __m512 load_taps(const float* row, int64_t col, int64_t sw, __m512i even, const TapMasks& m) {
  if (sw == 1) return _mm512_maskz_loadu_ps(m.lanes, row + col);
  const __m512 a = _mm512_maskz_loadu_ps(m.a, row + col);
  const __m512 b = _mm512_maskz_loadu_ps(m.b, row + col + 16);
  return _mm512_permutex2var_ps(a, even, b);
}

template <bool kMin>
void max_row_vec(const Geo& g, const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float* y,
                 int64_t* idx) {
  const TapMasks tm = tap_masks(n, g.sw);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i lane = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(int32_t(g.sw)));
  const int64_t c0 = ow * g.sw - g.pw;
  __m512 best = _mm512_set1_ps(kMin ? INFINITY : -INFINITY);
  __m512i bi = _mm512_add_epi32(lane, _mm512_set1_epi32(int32_t(h0 * g.W + c0)));
  for (int64_t ih = h0; ih < h1; ih += g.dh) {
    const float* row = xp + ih * g.W;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t col = c0 + kw * g.dw;
      const __m512 v = load_taps(row, col, g.sw, even, tm);
      // min pooling: "-v > -best" is "v < best"; NaN always takes the slot (the last NaN wins, as in PyTorch).
      const __mmask16 m = _mm512_cmp_ps_mask(v, best, kMin ? _CMP_LT_OQ : _CMP_GT_OQ) |
                          _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      best = _mm512_mask_mov_ps(best, m, v);
      bi = _mm512_mask_mov_epi32(bi, m, _mm512_add_epi32(lane, _mm512_set1_epi32(int32_t(ih * g.W + col))));
    }
  }
  _mm512_mask_storeu_ps(y, tm.lanes, best);
  _mm512_mask_storeu_epi64(idx, __mmask8(tm.lanes), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(bi)));
  _mm512_mask_storeu_epi64(idx + 8, __mmask8(tm.lanes >> 8), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(bi, 1)));
}


}  // namespace

void max_pool2d__avx512(const ref::PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0,
                        int64_t p1) {
  const Geo g = geometry(p);
  max_pool_planes<16>(g, x, y, idx, min, p0, p1,
                      [&](const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float* yr, int64_t* ir) {
                        if (min) max_row_vec<true>(g, xp, h0, h1, ow, n, yr, ir);
                        else max_row_vec<false>(g, xp, h0, h1, ow, n, yr, ir);
                      });
}

void avg_pool2d__avx512(const ref::PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  const Geo g = geometry(p);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  avg_pool_planes<16>(p, g, x, y, p0, p1,
                      [&](const float* xp, int64_t h0, int64_t h1, int64_t ow, int64_t n, float inv, float* yr) {
                        const TapMasks tm = tap_masks(n, g.sw);
                        __m512 s = _mm512_setzero_ps();
                        const int64_t c0 = ow * g.sw - g.pw;
                        for (int64_t ih = h0; ih < h1; ++ih)
                          for (int64_t kw = 0; kw < g.kw; ++kw)
                            s = _mm512_add_ps(s, load_taps(xp + ih * g.W, c0 + kw, g.sw, even, tm));
                        _mm512_mask_storeu_ps(yr, tm.lanes, _mm512_mul_ps(s, _mm512_set1_ps(inv)));
                      });
}

void avg_pool2d_backward__avx512(const ref::PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const Geo g = geometry(p);
  // Spreading 16 gradients to columns col + 2j: interleave them with zeros and add two contiguous vectors.
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 16, 2, 16, 3, 16, 4, 16, 5, 16, 6, 16, 7, 16);
  const __m512i hi_idx = _mm512_setr_epi32(8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15, 16);
  const __m512 zero = _mm512_setzero_ps();
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
      if (ow + 16 <= g.ow_hi) {
        const __m512 inv = _mm512_set1_ps(1.f / float(ref::avg_pool_divisor(p, 0, oh, ow)));
        for (; ow + 16 <= g.ow_hi; ow += 16) {
          const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(gr + ow), inv);
          const int64_t c0 = ow * g.sw - g.pw;
          for (int64_t ih = h0; ih < h1; ++ih) {
            float* row = gp + ih * g.W;
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              float* dst = row + c0 + kw;
              if (g.sw == 1) {
                _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), v));
              } else {
                _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), _mm512_permutex2var_ps(v, lo_idx, zero)));
                const __m512 hi = _mm512_maskz_loadu_ps(0x7FFF, dst + 16);
                _mm512_mask_storeu_ps(dst + 16, 0x7FFF, _mm512_add_ps(hi, _mm512_permutex2var_ps(v, hi_idx, zero)));
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
