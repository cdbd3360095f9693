#include "cpu/ref/upsample_ref.h"

#include <algorithm>
#include <cmath>

namespace fastconv::ref {

namespace {
// PyTorch's compute_scales_value<float>: 1/scale_factor when one was given, else in/out.
inline float scale_value(double scale, int64_t in, int64_t out) {
  return scale > 0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
}
}  // namespace

int64_t nearest_source(UpsampleMode mode, int64_t o, int64_t in, int64_t out, double scale) {
  if (out == in) return o;
  if (mode == UpsampleMode::nearest_exact) {
    const float s = scale_value(scale, in, out);
    return std::min(static_cast<int64_t>(std::floor((static_cast<float>(o) + 0.5f) * s)), in - 1);
  }
  if (out == 2 * in) return o >> 1;
  const float s = scale_value(scale, in, out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * s)), in - 1);
}

void linear_source(int64_t o, int64_t in, int64_t out, double scale, bool align_corners, int64_t* i0, int64_t* i1,
                   float* w0, float* w1) {
  float s;
  if (align_corners) s = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  else s = scale_value(scale, in, out);
  float src = align_corners ? s * static_cast<float>(o) : s * (static_cast<float>(o) + 0.5f) - 0.5f;
  if (src < 0) src = 0;
  const int64_t a = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
  const float l = std::min(std::max(src - static_cast<float>(a), 0.f), 1.f);
  *i0 = a;
  *i1 = a + (a < in - 1 ? 1 : 0);
  *w0 = 1.f - l;
  *w1 = l;
}

namespace {
// Visits every (output element, source element, weight) triple of one plane; forward and backward share it.
template <class F>
void for_each_tap(const UpsampleParams& p, F f) {
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      const int64_t o = oh * p.out_w + ow;
      switch (p.mode) {
        case UpsampleMode::nearest:
        case UpsampleMode::nearest_exact: {
          const int64_t ih = nearest_source(p.mode, oh, p.in_h, p.out_h, p.scale_h);
          const int64_t iw = nearest_source(p.mode, ow, p.in_w, p.out_w, p.scale_w);
          f(o, ih * p.in_w + iw, 1.f);
          break;
        }
        case UpsampleMode::linear: {
          int64_t h0, h1, w0, w1;
          float a0, a1, b0, b1;
          linear_source(oh, p.in_h, p.out_h, p.scale_h, p.align_corners, &h0, &h1, &a0, &a1);
          linear_source(ow, p.in_w, p.out_w, p.scale_w, p.align_corners, &w0, &w1, &b0, &b1);
          f(o, h0 * p.in_w + w0, a0 * b0);
          f(o, h0 * p.in_w + w1, a0 * b1);
          f(o, h1 * p.in_w + w0, a1 * b0);
          f(o, h1 * p.in_w + w1, a1 * b1);
          break;
        }
        case UpsampleMode::bed_of_nails: {
          // Each input value sits at the top-left of its (out/in)-sized block; the rest of the block is zero.
          const int64_t fh = p.out_h / p.in_h, fw = p.out_w / p.in_w;
          if (oh % fh == 0 && ow % fw == 0) f(o, (oh / fh) * p.in_w + ow / fw, 1.f);
          break;
        }
      }
    }
  }
}
}  // namespace

void upsample(const UpsampleParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  const int64_t ip = p.in_h * p.in_w, op = p.out_h * p.out_w;
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * ip;
    float* yp = y + pl * op;
    std::fill(yp, yp + op, 0.f);
    for_each_tap(p, [&](int64_t o, int64_t i, float w) { yp[o] += w * xp[i]; });
  }
}

void upsample_backward(const UpsampleParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const int64_t ip = p.in_h * p.in_w, op = p.out_h * p.out_w;
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* gp = gy + pl * op;
    float* xp = gx + pl * ip;
    std::fill(xp, xp + ip, 0.f);
    for_each_tap(p, [&](int64_t o, int64_t i, float w) { xp[i] += w * gp[o]; });
  }
}

}  // namespace fastconv::ref
