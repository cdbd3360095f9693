#include "cpu/ref/pool_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fastconv::ref {

namespace {
// First in-bounds tap of a dilated window starting at `start` (possibly negative), and one past the last tap.
inline void window(int64_t o, int64_t axis, const PoolParams& p, int64_t* lo, int64_t* hi) {
  int64_t start = o * p.s[axis] - p.p[axis];
  int64_t end = std::min(start + (p.k[axis] - 1) * p.d[axis] + 1, p.in[axis]);
  // Jump straight to the first tap at or after 0: a step at a time would take `padding` steps.
  if (start < 0) start += (-start + p.d[axis] - 1) / p.d[axis] * p.d[axis];
  *lo = start;
  *hi = end;
}
}  // namespace

void max_pool(const PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0, int64_t p1) {
  const int64_t H = p.in[1], W = p.in[2];
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * p.in_plane();
    int64_t o = pl * p.out_plane();
    for (int64_t od = 0; od < p.out[0]; ++od) {
      int64_t d0, d1;
      window(od, 0, p, &d0, &d1);
      for (int64_t oh = 0; oh < p.out[1]; ++oh) {
        int64_t h0, h1;
        window(oh, 1, p, &h0, &h1);
        for (int64_t ow = 0; ow < p.out[2]; ++ow, ++o) {
          int64_t w0, w1;
          window(ow, 2, p, &w0, &w1);
          // min pooling is max pooling of -x: compare negated values so ties and NaN behave identically.
          float best = -std::numeric_limits<float>::infinity();
          int64_t bi = (d0 * H + h0) * W + w0;
          for (int64_t id = d0; id < d1; id += p.d[0])
            for (int64_t ih = h0; ih < h1; ih += p.d[1])
              for (int64_t iw = w0; iw < w1; iw += p.d[2]) {
                int64_t i = (id * H + ih) * W + iw;
                float v = min ? -xp[i] : xp[i];
                if (v > best || std::isnan(v)) {
                  best = v;
                  bi = i;
                }
              }
          y[o] = min ? -best : best;
          idx[o] = bi;
        }
      }
    }
  }
}

int64_t avg_pool_divisor(const PoolParams& p, int64_t od, int64_t oh, int64_t ow) {
  if (p.divisor_override) return p.divisor_override;
  const int64_t o[3] = {od, oh, ow};
  int64_t n = 1;
  for (int a = 0; a < 3; ++a) {
    int64_t start = o[a] * p.s[a] - p.p[a];
    int64_t end = std::min(start + p.k[a], p.in[a] + p.p[a]);
    if (!p.count_include_pad) {
      start = std::max<int64_t>(start, 0);
      end = std::min(end, p.in[a]);
    }
    n *= end - start;
  }
  return n;
}

namespace {
// Clipped window [lo, hi) of an undilated avg-pool window.
inline void avg_window(int64_t o, int64_t axis, const PoolParams& p, int64_t* lo, int64_t* hi) {
  int64_t start = o * p.s[axis] - p.p[axis];
  *lo = std::max<int64_t>(start, 0);
  *hi = std::min(start + p.k[axis], p.in[axis]);
}
}  // namespace

void avg_pool(const PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  const int64_t H = p.in[1], W = p.in[2];
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * p.in_plane();
    int64_t o = pl * p.out_plane();
    for (int64_t od = 0; od < p.out[0]; ++od)
      for (int64_t oh = 0; oh < p.out[1]; ++oh)
        for (int64_t ow = 0; ow < p.out[2]; ++ow, ++o) {
          int64_t d0, d1, h0, h1, w0, w1;
          avg_window(od, 0, p, &d0, &d1);
          avg_window(oh, 1, p, &h0, &h1);
          avg_window(ow, 2, p, &w0, &w1);
          double sum = 0;
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) sum += xp[(id * H + ih) * W + iw];
          y[o] = float(sum / double(avg_pool_divisor(p, od, oh, ow)));
        }
  }
}

void avg_pool_backward(const PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const int64_t H = p.in[1], W = p.in[2];
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* gp = gx + pl * p.in_plane();
    std::fill(gp, gp + p.in_plane(), 0.f);
    int64_t o = pl * p.out_plane();
    for (int64_t od = 0; od < p.out[0]; ++od)
      for (int64_t oh = 0; oh < p.out[1]; ++oh)
        for (int64_t ow = 0; ow < p.out[2]; ++ow, ++o) {
          int64_t d0, d1, h0, h1, w0, w1;
          avg_window(od, 0, p, &d0, &d1);
          avg_window(oh, 1, p, &h0, &h1);
          avg_window(ow, 2, p, &w0, &w1);
          const float g = gy[o] / float(avg_pool_divisor(p, od, oh, ow));
          for (int64_t id = d0; id < d1; ++id)
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) gp[(id * H + ih) * W + iw] += g;
        }
  }
}

void index_scatter(int64_t src_plane, int64_t dst_plane, const float* src, const int64_t* idx, float* dst,
                   bool accumulate, int64_t p0, int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* d = dst + pl * dst_plane;
    std::fill(d, d + dst_plane, 0.f);
    const float* s = src + pl * src_plane;
    const int64_t* ix = idx + pl * src_plane;
    for (int64_t i = 0; i < src_plane; ++i) {
      const int64_t j = ix[i];
      if (j < 0 || j >= dst_plane) continue;
      if (accumulate) d[j] += s[i];
      else d[j] = s[i];
    }
  }
}

void index_gather(int64_t idx_plane, int64_t src_plane, const float* src, const int64_t* idx, float* dst,
                  int64_t p0, int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* s = src + pl * src_plane;
    const int64_t* ix = idx + pl * idx_plane;
    float* d = dst + pl * idx_plane;
    for (int64_t i = 0; i < idx_plane; ++i) d[i] = (ix[i] >= 0 && ix[i] < src_plane) ? s[ix[i]] : 0.f;
  }
}

void adaptive_avg_pool2d(const AdaptiveParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * p.in_h * p.in_w;
    float* yp = y + pl * p.out_h * p.out_w;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, p.in_h, p.out_h), h1 = adaptive_end(oh, p.in_h, p.out_h);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, p.in_w, p.out_w), w1 = adaptive_end(ow, p.in_w, p.out_w);
        double sum = 0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * p.in_w + iw];
        yp[oh * p.out_w + ow] = float(sum / double((h1 - h0) * (w1 - w0)));
      }
    }
  }
}

void adaptive_avg_pool2d_backward(const AdaptiveParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* gp = gx + pl * p.in_h * p.in_w;
    const float* g = gy + pl * p.out_h * p.out_w;
    std::fill(gp, gp + p.in_h * p.in_w, 0.f);
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, p.in_h, p.out_h), h1 = adaptive_end(oh, p.in_h, p.out_h);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, p.in_w, p.out_w), w1 = adaptive_end(ow, p.in_w, p.out_w);
        const float v = g[oh * p.out_w + ow] / float((h1 - h0) * (w1 - w0));
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) gp[ih * p.in_w + iw] += v;
      }
    }
  }
}

void adaptive_max_pool2d(const AdaptiveParams& p, const float* x, float* y, int64_t* idx, int64_t p0, int64_t p1) {
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * p.in_h * p.in_w;
    const int64_t o = pl * p.out_h * p.out_w;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t h0 = adaptive_start(oh, p.in_h, p.out_h), h1 = adaptive_end(oh, p.in_h, p.out_h);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        const int64_t w0 = adaptive_start(ow, p.in_w, p.out_w), w1 = adaptive_end(ow, p.in_w, p.out_w);
        float best = -std::numeric_limits<float>::infinity();
        int64_t bi = h0 * p.in_w + w0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            const float v = xp[ih * p.in_w + iw];
            if (v > best || std::isnan(v)) {
              best = v;
              bi = ih * p.in_w + iw;
            }
          }
        y[o + oh * p.out_w + ow] = best;
        idx[o + oh * p.out_w + ow] = bi;
      }
    }
  }
}

}  // namespace fastconv::ref
