#include "cpu/ref/conv_ref.h"

#include <cstring>
#include <vector>

namespace fastconv::ref {
using namespace fastconv::cpu;  // ConvParams and its size helpers
namespace {

// Visits every (output position, kernel tap, input position) triple of one (image, out channel, in channel) pair
// whose input position is inside the input: the 7-loop definition, shared by the three passes.
template <class F>
void for_each_tap(const cpu::ConvParams& p, F&& f) {
  for (int64_t od = 0; od < p.out[0]; ++od)
    for (int64_t oh = 0; oh < p.out[1]; ++oh)
      for (int64_t ow = 0; ow < p.out[2]; ++ow)
        for (int64_t kd = 0; kd < p.k[0]; ++kd)
          for (int64_t kh = 0; kh < p.k[1]; ++kh)
            for (int64_t kw = 0; kw < p.k[2]; ++kw) {
              const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
              const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
              const int64_t iw = ow * p.stride[2] - p.pad[2] + kw * p.dil[2];
              if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1] || iw < 0 || iw >= p.in[2]) continue;
              f((od * p.out[1] + oh) * p.out[2] + ow, (kd * p.k[1] + kh) * p.k[2] + kw,
                (id * p.in[1] + ih) * p.in[2] + iw);
            }
}

}  // namespace

void conv_forward(const cpu::ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const int64_t Cg = group_in(p), Kg = group_out(p), iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) {
      const int64_t g = k / Kg;
      std::vector<double> acc(static_cast<size_t>(ov));
      for (int64_t o = 0; o < ov; ++o) acc[o] = bias ? bias[k] : 0.0;
      for (int64_t c = 0; c < Cg; ++c) {
        const float* xc = x + (n * p.C + g * Cg + c) * iv;
        const float* wc = w + (k * Cg + c) * kv;
        for_each_tap(p, [&](int64_t o, int64_t t, int64_t i) { acc[o] += double(xc[i]) * wc[t]; });
      }
      float* yk = y + (n * p.K + k) * ov;
      for (int64_t o = 0; o < ov; ++o) yk[o] = float(acc[o]);
    }
}

void conv_backward_data(const cpu::ConvParams& p, const float* dy, const float* w, float* dx) {
  const int64_t Cg = group_in(p), Kg = group_out(p), iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  // An empty batch may come with a null dx: memset(nullptr, 0, 0) is still undefined behaviour (UBSan says so).
  if (p.N * p.C * iv > 0) std::memset(dx, 0, sizeof(float) * size_t(p.N * p.C * iv));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) {
      const int64_t g = k / Kg;
      const float* dyk = dy + (n * p.K + k) * ov;
      for (int64_t c = 0; c < Cg; ++c) {
        float* dxc = dx + (n * p.C + g * Cg + c) * iv;
        const float* wc = w + (k * Cg + c) * kv;
        for_each_tap(p, [&](int64_t o, int64_t t, int64_t i) { dxc[i] += dyk[o] * wc[t]; });
      }
    }
}

void conv_backward_weight(const cpu::ConvParams& p, const float* dy, const float* x, float* dw) {
  const int64_t Cg = group_in(p), Kg = group_out(p), iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  for (int64_t k = 0; k < p.K; ++k) {
    const int64_t g = k / Kg;
    for (int64_t c = 0; c < Cg; ++c) {
      std::vector<double> acc(size_t(kv), 0.0);
      for (int64_t n = 0; n < p.N; ++n) {
        const float* dyk = dy + (n * p.K + k) * ov;
        const float* xc = x + (n * p.C + g * Cg + c) * iv;
        for_each_tap(p, [&](int64_t o, int64_t t, int64_t i) { acc[t] += double(dyk[o]) * xc[i]; });
      }
      for (int64_t t = 0; t < kv; ++t) dw[(k * Cg + c) * kv + t] = float(acc[t]);
    }
  }
}

void conv_backward_bias(const cpu::ConvParams& p, const float* dy, float* db) {
  const int64_t ov = out_vol(p);
  for (int64_t k = 0; k < p.K; ++k) {
    double s = 0;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t o = 0; o < ov; ++o) s += dy[(n * p.K + k) * ov + o];
    db[k] = float(s);
  }
}

}  // namespace fastconv::ref
