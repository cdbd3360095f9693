// Scalar parts of the 2-D pooling kernels shared by pool_avx2.cpp and pool_avx512.cpp: window geometry, the
// per-point max/avg that border columns use (following the reference kernel step for step: same scan order, ties,
// NaN), and the plane/row walk that hands interior columns to the ISA file's vector body. Internal linkage on purpose: each ISA file compiles its own copy, so the linker can never
// merge an AVX-512 build of these helpers into code that runs elsewhere (docs/kernels.md).
#pragma once
#include <cmath>
#include <cstdint>

#include "cpu/ref/pool_ref.h"

namespace fastconv::cpu {
namespace {

struct Geo {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t ow_lo, ow_hi;  // output columns whose window is fully inside [0, W)
};

Geo geometry(const ref::PoolParams& p) {
  Geo g{p.in[1], p.in[2], p.out[1], p.out[2], p.k[1], p.k[2], p.s[1], p.s[2], p.p[1], p.p[2], p.d[1], p.d[2], 0, 0};
  g.ow_lo = (g.pw + g.sw - 1) / g.sw;
  const int64_t num = g.W - 1 - (g.kw - 1) * g.dw + g.pw;
  g.ow_hi = num >= 0 ? num / g.sw + 1 : 0;
  if (g.ow_hi > g.OW) g.ow_hi = g.OW;
  if (g.ow_lo > g.ow_hi) g.ow_lo = g.ow_hi;
  return g;
}

// First in-bounds tap and end of a dilated window (as the reference).
inline void span(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t d, int64_t n, int64_t* lo, int64_t* hi) {
  int64_t start = o * s - pad;
  int64_t end = start + (k - 1) * d + 1;
  *hi = end < n ? end : n;
  if (start < 0) start += (-start + d - 1) / d * d;  // not a step at a time: padding may be huge
  *lo = start;
}

inline void max_point(const Geo& g, const float* xp, int64_t oh, int64_t ow, bool min, float* y, int64_t* idx) {
  int64_t h0, h1, w0, w1;
  span(oh, g.sh, g.ph, g.kh, g.dh, g.H, &h0, &h1);
  span(ow, g.sw, g.pw, g.kw, g.dw, g.W, &w0, &w1);
  float best = -INFINITY;
  int64_t bi = h0 * g.W + w0;
  for (int64_t ih = h0; ih < h1; ih += g.dh)
    for (int64_t iw = w0; iw < w1; iw += g.dw) {
      const float v = min ? -xp[ih * g.W + iw] : xp[ih * g.W + iw];
      if (v > best || std::isnan(v)) {
        best = v;
        bi = ih * g.W + iw;
      }
    }
  *y = min ? -best : best;
  *idx = bi;
}

inline float avg_point(const ref::PoolParams& p, const Geo& g, const float* xp, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H, w1 = w0 + g.kw < g.W ? w0 + g.kw : g.W;
  if (h0 < 0) h0 = 0;
  if (w0 < 0) w0 = 0;
  float s = 0.f;
  for (int64_t ih = h0; ih < h1; ++ih)
    for (int64_t iw = w0; iw < w1; ++iw) s += xp[ih * g.W + iw];
  return s / float(ref::avg_pool_divisor(p, 0, oh, ow));
}

// Max/min pooling over planes [p0, p1): border columns scalar, interior columns in groups of up to kWidth
// (the last group narrower) through vec(xp, h0, h1, ow, n, y, idx) of the including ISA file.
template <int kWidth, class Vec>
void max_pool_planes(const Geo& g, const float* x, float* y, int64_t* idx, bool min, int64_t p0, int64_t p1,
                     const Vec& vec) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * g.H * g.W;
    float* yp = y + pl * g.OH * g.OW;
    int64_t* ip = idx + pl * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      int64_t h0, h1;
      span(oh, g.sh, g.ph, g.kh, g.dh, g.H, &h0, &h1);
      float* yr = yp + oh * g.OW;
      int64_t* ir = ip + oh * g.OW;
      int64_t ow = 0;
      for (; ow < g.ow_lo; ++ow) max_point(g, xp, oh, ow, min, yr + ow, ir + ow);
      for (int64_t n; ow < g.ow_hi; ow += n) {
        n = g.ow_hi - ow < kWidth ? g.ow_hi - ow : kWidth;
        vec(xp, h0, h1, ow, n, yr + ow, ir + ow);
      }
      for (; ow < g.OW; ++ow) max_point(g, xp, oh, ow, min, yr + ow, ir + ow);
    }
  }
}

// Average pooling over planes [p0, p1), walked like max_pool_planes; vec(xp, h0, h1, ow, n, inv, y) gets the
// row's one divisor as 1/divisor (interior windows are never clipped horizontally).
template <int kWidth, class Vec>
void avg_pool_planes(const ref::PoolParams& p, const Geo& g, const float* x, float* y, int64_t p0, int64_t p1,
                     const Vec& vec) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * g.H * g.W;
    float* yp = y + pl * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      int64_t h0 = oh * g.sh - g.ph, h1 = h0 + g.kh < g.H ? h0 + g.kh : g.H;
      if (h0 < 0) h0 = 0;
      float* yr = yp + oh * g.OW;
      int64_t ow = 0;
      for (; ow < g.ow_lo; ++ow) yr[ow] = avg_point(p, g, xp, oh, ow);
      if (ow < g.ow_hi) {
        const float inv = 1.f / float(ref::avg_pool_divisor(p, 0, oh, ow));
        for (int64_t n; ow < g.ow_hi; ow += n) {
          n = g.ow_hi - ow < kWidth ? g.ow_hi - ow : kWidth;
          vec(xp, h0, h1, ow, n, inv, yr + ow);
        }
      }
      for (; ow < g.OW; ++ow) yr[ow] = avg_point(p, g, xp, oh, ow);
    }
  }
}

}  // namespace
}  // namespace fastconv::cpu
