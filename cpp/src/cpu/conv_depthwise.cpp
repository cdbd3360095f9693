// Depthwise drivers (planes split across threads) and the scalar plane kernels.
#include "cpu/conv_depthwise.h"

#include <algorithm>
#include <cstring>

#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

inline void row_axpy(float* y, const float* x, float a, int64_t n, int64_t sx) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i * sx];
}
inline void row_scatter(float* y, int64_t sy, const float* x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i * sy] += a * x[i];
}
inline float row_dot(const float* a, const float* b, int64_t n, int64_t sb) {
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i * sb];
  return s;
}

inline void row_taps(float* y, const float* const* rows, const float* const* wrows, int64_t nrows,
                     const int64_t* offs, int64_t ntaps, int64_t n) {
  for (int64_t r = 0; r < nrows; ++r)
    for (int64_t t = 0; t < ntaps; ++t) {
      const float a = wrows[r][t];
      const float* x = rows[r] + offs[t];
      for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
    }
}

#include "cpu/conv_depthwise_planes.h"

// Planes per task: enough work (~32K multiply-adds) to amortise scheduling.
int64_t plane_grain(const ConvParams& p) {
  return std::max<int64_t>(1, (int64_t(1) << 15) / std::max<int64_t>(1, out_vol(p) * k_vol(p)));
}

}  // namespace

void conv_depthwise_forward__scalar(const ConvParams& p, const float* x, const float* w, float bias, float* y) {
  dw_forward_plane(p, x, w, bias, y);
}
void conv_depthwise_backward_data__scalar(const ConvParams& p, const float* dy, const float* w, float* dx) {
  dw_backward_data_plane(p, dy, w, dx);
}
void conv_depthwise_backward_weight__scalar(const ConvParams& p, const float* dy, const float* x, float* dw) {
  dw_backward_weight_plane(p, dy, x, dw);
}

DepthwiseKernels depthwise_kernels(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return {conv_depthwise_forward__avx512, conv_depthwise_backward_data__avx512,
              conv_depthwise_backward_weight__avx512};
    case Isa::avx2:
      return {conv_depthwise_forward__avx2, conv_depthwise_backward_data__avx2, conv_depthwise_backward_weight__avx2};
    default:
      return {conv_depthwise_forward__scalar, conv_depthwise_backward_data__scalar,
              conv_depthwise_backward_weight__scalar};
  }
}

void conv_depthwise_forward(const DepthwiseKernels& kn, const ConvParams& p, const float* x, const float* w,
                            const float* bias, float* y) {
  const int64_t mult = p.K / p.C, iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  parallel_for(p.N * p.K, plane_grain(p), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / p.K, k = i % p.K;
      kn.forward(p, x + (n * p.C + k / mult) * iv, w + k * kv, bias ? bias[k] : 0.f, y + i * ov);
    }
  });
}

void conv_depthwise_backward_data(const DepthwiseKernels& kn, const ConvParams& p, const float* dy, const float* w,
                                  float* dx) {
  const int64_t mult = p.K / p.C, iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  parallel_for(p.N * p.C, std::max<int64_t>(1, plane_grain(p) / mult), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / p.C, c = i % p.C;
      float* dxp = dx + i * iv;
      std::memset(dxp, 0, sizeof(float) * size_t(iv));
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t k = c * mult + m;
        kn.backward_data(p, dy + (n * p.K + k) * ov, w + k * kv, dxp);
      }
    }
  });
}

void conv_depthwise_backward_weight(const DepthwiseKernels& kn, const ConvParams& p, const float* dy, const float* x,
                                    float* dw) {
  const int64_t mult = p.K / p.C, iv = in_vol(p), ov = out_vol(p), kv = k_vol(p);
  parallel_for(p.K, 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      float* dwk = dw + k * kv;
      std::memset(dwk, 0, sizeof(float) * size_t(kv));
      for (int64_t n = 0; n < p.N; ++n) kn.backward_weight(p, dy + (n * p.K + k) * ov, x + (n * p.C + k / mult) * iv, dwk);
    }
  });
}

}  // namespace fastconv::cpu
