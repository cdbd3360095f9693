// Naive reference kernels for element-wise ops and reductions: they define the semantics.
#pragma once
#include <cstdint>

namespace fastconv::ref {

constexpr int kMaxDims = 8;

// out[i] = a[ia] OP b[ib] over an N-D index space, with element strides (0 on broadcast axes).
struct BroadcastParams {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride_a[kMaxDims] = {}, stride_b[kMaxDims] = {};  // out is contiguous
};
enum class BinaryOp { add, sub, mul, div };
void binary(BinaryOp op, const BroadcastParams& p, const float* a, const float* b, float* out);

// out (contiguous, `out_numel` elements) = sum of x over the axes where stride_out is 0; x is contiguous in `shape`.
struct ReduceParams {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride_out[kMaxDims] = {};
};
// Accumulates in double: `acc` holds out_numel doubles (the op's workspace).
void sum_to(const ReduceParams& p, const float* x, float* out, int64_t out_numel, double* acc);

void relu(const float* x, float* y, int64_t n);
void relu_backward(const float* grad, const float* y, float* dx, int64_t n);  // dx = grad * (y > 0)

}  // namespace fastconv::ref
