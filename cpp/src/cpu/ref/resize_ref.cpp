#include "cpu/ref/resize_ref.h"

#include <algorithm>
#include <cmath>

namespace fastconv::ref {

namespace {

// Source coordinate of output index y (onnx's _compute_x_ori); *extrap is set where tf_crop_and_resize falls
// outside the input.
double source_coord(const ResizeSpec& s, double y, int64_t in, int64_t out, double scale, double r0, double r1,
                    bool* extrap) {
  const double out_w = scale * double(in);  // the real-valued output length the transformations are defined on
  *extrap = false;
  switch (s.coord) {
    case ResizeCoord::align_corners: return out_w == 1 ? 0.0 : y * double(in - 1) / (out_w - 1);
    case ResizeCoord::asymmetric: return y / scale;
    case ResizeCoord::tf_crop_and_resize: {
      // The roi products are float32, as onnx's reference computes them (float32 roi times a Python int), so
      // that exact ties round the same way.
      const float rd = float(r1) - float(r0), start = float(r0) * float(in - 1);
      double x = out_w == 1 ? double(rd * float(in - 1) / 2.f) : y * double(rd) * double(in - 1) / (out_w - 1);
      x += double(start);
      *extrap = x < 0 || x > double(in - 1);
      return x;
    }
    case ResizeCoord::pytorch_half_pixel: return out_w == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
    case ResizeCoord::half_pixel_symmetric: {
      const double adjustment = double(out) / out_w, center = double(in) / 2;
      return center * (1 - adjustment) + (y + 0.5) / scale - 0.5;
    }
    case ResizeCoord::half_pixel:
    default: return (y + 0.5) / scale - 0.5;
  }
}

double cubic_weight(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

// The weights of the taps for fractional position `ratio` in (0, 1] (onnx's *_coeffs functions).
void coefficients(const ResizeSpec& s, double ratio, double scale, std::vector<double>* c) {
  c->clear();
  switch (s.mode) {
    case ResizeMode::nearest: {
      bool right;
      if (ratio == std::floor(ratio)) {
        right = true;
      } else {
        switch (s.nearest) {
          case ResizeNearest::round_prefer_floor: right = ratio > 0.5; break;
          case ResizeNearest::round_prefer_ceil: right = ratio >= 0.5; break;
          case ResizeNearest::floor: right = false; break;
          default: right = true;
        }
      }
      c->push_back(right ? 0.0 : 1.0);
      c->push_back(right ? 1.0 : 0.0);
      return;
    }
    case ResizeMode::linear: {
      if (!s.antialias) {
        c->push_back(1 - ratio);
        c->push_back(ratio);
        return;
      }
      const double sc = std::min(scale, 1.0);
      const int64_t start = int64_t(std::floor(-1 / sc)) + 1, footprint = 2 - 2 * start;
      double sum = 0;
      for (int64_t i = 0; i < footprint; ++i) {
        const double v = std::clamp(1 - std::fabs((double(start + i) - ratio) * sc), 0.0, 1.0);
        c->push_back(v);
        sum += v;
      }
      for (double& v : *c) v /= sum;
      return;
    }
    case ResizeMode::cubic: {
      const double a = s.cubic_a;
      if (!s.antialias) {
        const double r = ratio, q = 1 - ratio;
        c->push_back(((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a);
        c->push_back(((a + 2) * r - (a + 3)) * r * r + 1);
        c->push_back(((a + 2) * q - (a + 3)) * q * q + 1);
        c->push_back(((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a);
        return;
      }
      const double sc = std::min(scale, 1.0);
      const int64_t i0 = int64_t(std::floor(-2 / sc)) + 1, i1 = 2 - i0;
      double sum = 0;
      for (int64_t i = i0; i < i1; ++i) {
        const double v = cubic_weight(sc * (double(i) - ratio), a);
        c->push_back(v);
        sum += v;
      }
      for (double& v : *c) v /= sum;
      return;
    }
  }
}

}  // namespace

ResizeAxis resize_axis_taps(const ResizeSpec& s, int64_t in, int64_t out, double scale, double roi_start,
                            double roi_end) {
  ResizeAxis a;
  a.in = in, a.out = out;
  a.extrapolation_value = s.extrapolation_value;
  std::vector<double> c;
  coefficients(s, 0.5, scale, &c);  // the tap count depends on the mode and scale only
  const int n = int(c.size());
  a.taps = n;
  a.idx.resize(size_t(out) * size_t(n));
  a.w.resize(size_t(out) * size_t(n));
  a.extrap.assign(size_t(out), 0);
  const int pad = (n + 1) / 2;
  for (int64_t y = 0; y < out; ++y) {
    bool ex = false;
    const double x = source_coord(s, double(y), in, out, scale, roi_start, roi_end, &ex);
    a.extrap[size_t(y)] = ex;
    const double fl = std::floor(x);
    coefficients(s, x == fl ? 1.0 : x - fl, scale, &c);
    // The n indices nearest to x, ties to the smaller ones (onnx's _get_neighbor_idxes on the edge-padded axis).
    const double xp = x + pad, p = std::floor(xp), frac = xp - p;
    const int64_t offset = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1)
                                      : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    const int64_t start = int64_t(p) + offset - pad;
    double sum = 0;
    for (int t = 0; t < n; ++t) {
      const int64_t i = start + t;
      if (s.exclude_outside && (i < 0 || i >= in)) c[size_t(t)] = 0;
      sum += c[size_t(t)];
    }
    for (int t = 0; t < n; ++t) {
      const size_t k = size_t(y) * size_t(n) + size_t(t);
      a.idx[k] = std::clamp<int64_t>(start + t, 0, in - 1);  // edge padding
      a.w[k] = s.exclude_outside && sum != 0 ? c[size_t(t)] / sum : c[size_t(t)];
    }
  }
  return a;
}

void resize_axis(const ResizeAxis& a, const float* x, float* y, int64_t o0, int64_t o1) {
  const int64_t n = a.taps, inner = a.inner;
  for (int64_t o = o0; o < o1; ++o) {
    const float* xo = x + o * a.in * inner;
    float* yo = y + o * a.out * inner;
    for (int64_t j = 0; j < a.out; ++j) {
      float* yj = yo + j * inner;
      if (a.extrap[size_t(j)]) {
        std::fill(yj, yj + inner, float(a.extrapolation_value));
        continue;
      }
      const int64_t* idx = a.idx.data() + j * n;
      const double* w = a.w.data() + j * n;
      for (int64_t i = 0; i < inner; ++i) {
        double acc = 0;
        for (int64_t t = 0; t < n; ++t) acc += w[t] * double(xo[idx[t] * inner + i]);
        yj[i] = float(acc);
      }
    }
  }
}

void resize_axis_backward(const ResizeAxis& a, const float* gy, float* gx, int64_t o0, int64_t o1) {
  const int64_t n = a.taps, inner = a.inner;
  for (int64_t o = o0; o < o1; ++o) {
    float* gxo = gx + o * a.in * inner;
    const float* gyo = gy + o * a.out * inner;
    std::fill(gxo, gxo + a.in * inner, 0.f);
    for (int64_t j = 0; j < a.out; ++j) {
      if (a.extrap[size_t(j)]) continue;  // a constant: no gradient
      const int64_t* idx = a.idx.data() + j * n;
      const double* w = a.w.data() + j * n;
      for (int64_t t = 0; t < n; ++t) {
        if (w[t] == 0) continue;
        float* dst = gxo + idx[t] * inner;
        const float* src = gyo + j * inner;
        const float wt = float(w[t]);
        for (int64_t i = 0; i < inner; ++i) dst[i] += wt * src[i];
      }
    }
  }
}

}  // namespace fastconv::ref
