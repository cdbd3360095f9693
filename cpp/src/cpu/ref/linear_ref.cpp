#include "cpu/ref/linear_ref.h"

namespace fastconv::ref {

void linear(const float* x, const float* w, const float* b, int64_t M, int64_t N, int64_t K, float* y) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = b ? double(b[n]) : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(x[m * K + k]) * w[n * K + k];
      y[m * N + n] = float(s);
    }
}

void linear_grad_input(const float* dy, const float* w, int64_t M, int64_t N, int64_t K, float* dx) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) s += double(dy[m * N + n]) * w[n * K + k];
      dx[m * K + k] = float(s);
    }
}

void linear_grad_weight(const float* dy, const float* x, int64_t M, int64_t N, int64_t K, float* dw) {
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      double s = 0;
      for (int64_t m = 0; m < M; ++m) s += double(dy[m * N + n]) * x[m * K + k];
      dw[n * K + k] = float(s);
    }
}

}  // namespace fastconv::ref
