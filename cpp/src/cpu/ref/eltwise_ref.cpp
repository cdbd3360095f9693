#include "cpu/ref/eltwise_ref.h"

#include <cstddef>

namespace fastconv::ref {

namespace {
// Visits every index of an N-D space in row-major order, tracking two strided offsets.
template <class F>
void for_each_index(int ndim, const int64_t* shape, const int64_t* sa, const int64_t* sb, F f) {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= shape[d];
  int64_t idx[kMaxDims] = {};
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (int d = ndim - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        oa += sa[d];
        ob += sb[d];
        break;
      }
      oa -= sa[d] * (shape[d] - 1);
      ob -= sb[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}
}  // namespace

void binary(BinaryOp op, const BroadcastParams& p, const float* a, const float* b, float* out) {
  for_each_index(p.ndim, p.shape, p.stride_a, p.stride_b, [&](int64_t i, int64_t ia, int64_t ib) {
    float x = a[ia], y = b[ib];
    switch (op) {
      case BinaryOp::add: out[i] = x + y; break;
      case BinaryOp::sub: out[i] = x - y; break;
      case BinaryOp::mul: out[i] = x * y; break;
      case BinaryOp::div: out[i] = x / y; break;
    }
  });
}

void sum_to(const ReduceParams& p, const float* x, float* out, int64_t out_numel, double* acc) {
  for (int64_t i = 0; i < out_numel; ++i) acc[i] = 0.0;
  int64_t contiguous[kMaxDims];
  for (int d = 0; d < p.ndim; ++d) contiguous[d] = 0;  // the x offset is the visit counter itself
  for_each_index(p.ndim, p.shape, p.stride_out, contiguous,
                 [&](int64_t i, int64_t io, int64_t) { acc[io] += double(x[i]); });
  for (int64_t i = 0; i < out_numel; ++i) out[i] = float(acc[i]);
}

void relu(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.f ? 0.f : x[i];  // NaN propagates, as in PyTorch
}

void relu_backward(const float* grad, const float* y, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.f ? grad[i] : 0.f;
}

}  // namespace fastconv::ref
