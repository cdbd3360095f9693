// Element-wise arithmetic: grid-stride loops over int64 output indices. Broadcast index spaces are collapsed on the
// host first (size-1 axes dropped, adjacent axes merged where both operands walk them contiguously), so the common
// cases (same shape, a scalar or a per-channel operand) take few or no divisions per element.
#include "eltwise.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::BinaryOp;
using ref::BroadcastParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

int64_t numel(const BroadcastParams& p) {
  int64_t n = 1;
  for (int d = 0; d < p.ndim; ++d) n *= p.shape[d];
  return n;
}

// The same index space with size-1 axes dropped and mergeable neighbours merged; ndim 0 (one element) becomes 1.
BroadcastParams collapse(const BroadcastParams& in) {
  BroadcastParams p;
  for (int d = 0; d < in.ndim; ++d) {
    if (in.shape[d] == 1) continue;
    const int k = p.ndim - 1;
    if (k >= 0 && p.stride_a[k] == in.stride_a[d] * in.shape[d] && p.stride_b[k] == in.stride_b[d] * in.shape[d]) {
      p.shape[k] *= in.shape[d];
      p.stride_a[k] = in.stride_a[d];
      p.stride_b[k] = in.stride_b[d];
      continue;
    }
    p.shape[p.ndim] = in.shape[d];
    p.stride_a[p.ndim] = in.stride_a[d];
    p.stride_b[p.ndim] = in.stride_b[d];
    ++p.ndim;
  }
  if (p.ndim == 0) p.ndim = 1, p.shape[0] = 1, p.stride_a[0] = 0, p.stride_b[0] = 0;
  return p;
}

template <BinaryOp OP>
__device__ __forceinline__ float apply(float x, float y) {
  if constexpr (OP == BinaryOp::add) return x + y;
  else if constexpr (OP == BinaryOp::sub) return x - y;
  else if constexpr (OP == BinaryOp::mul) return x * y;
  else return x / y;
}

template <BinaryOp OP>
__global__ void binary_same_kernel(const float* a, const float* b, float* out, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) out[i] = apply<OP>(a[i], b[i]);
}

// One operand a single value (stride 0 over the whole space): `scalar_is_b` says which.
template <BinaryOp OP>
__global__ void binary_scalar_kernel(const float* a, const float* b, float* out, int64_t n, bool scalar_is_b) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const float s = scalar_is_b ? b[0] : a[0];
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = scalar_is_b ? apply<OP>(a[i], s) : apply<OP>(s, b[i]);
}

template <BinaryOp OP>
__global__ void binary_bcast_kernel(BroadcastParams p, const float* a, const float* b, float* out, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int d = p.ndim - 1; d > 0; --d) {
      const int64_t q = rem / p.shape[d], idx = rem - q * p.shape[d];
      ia += idx * p.stride_a[d];
      ib += idx * p.stride_b[d];
      rem = q;
    }
    ia += rem * p.stride_a[0];
    ib += rem * p.stride_b[0];
    out[i] = apply<OP>(a[ia], b[ib]);
  }
}

__global__ void broadcast_kernel(BroadcastParams p, const float* x, float* out, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t rem = i, ix = 0;
    for (int d = p.ndim - 1; d > 0; --d) {
      const int64_t q = rem / p.shape[d];
      ix += (rem - q * p.shape[d]) * p.stride_a[d];
      rem = q;
    }
    out[i] = x[ix + rem * p.stride_a[0]];
  }
}

// Two roundings, as the reference's alpha * x + beta: no fma contraction, so results are bit-identical.
__device__ __forceinline__ float mul_add_rn(float a, float x, float b) {
#ifdef FASTCONV_CUDA_EMU
  const float ax = a * x;  // the emulator's host build: plain C++ operations are already rounded one by one
  return ax + b;
#else
  return __fadd_rn(__fmul_rn(a, x), b);
#endif
}

__global__ void scale_kernel(float alpha, float beta, const float* x, float* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = mul_add_rn(alpha, x[i], beta);
}

__global__ void fill_kernel(float value, float* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = value;
}

template <BinaryOp OP>
void binary_op(const BroadcastParams& in, const float* a, const float* b, float* out, cudaStream_t s) {
  const int64_t n = numel(in);
  if (n == 0) return;
  const BroadcastParams p = collapse(in);
  const dim3 g = grid_for(n), blk(kThreads);
  if (p.ndim == 1 && p.stride_a[0] == 1 && p.stride_b[0] == 1)
    launch("binary_same__cuda", binary_same_kernel<OP>, g, blk, 0, s, a, b, out, n);
  else if (p.ndim == 1 && p.stride_a[0] == 1 && p.stride_b[0] == 0)
    launch("binary_scalar__cuda", binary_scalar_kernel<OP>, g, blk, 0, s, a, b, out, n, true);
  else if (p.ndim == 1 && p.stride_a[0] == 0 && p.stride_b[0] == 1)
    launch("binary_scalar__cuda", binary_scalar_kernel<OP>, g, blk, 0, s, a, b, out, n, false);
  else
    launch("binary_bcast__cuda", binary_bcast_kernel<OP>, g, blk, 0, s, p, a, b, out, n);
}

}  // namespace

void binary__cuda(BinaryOp op, const BroadcastParams& p, const float* a, const float* b, float* out,
                  cudaStream_t stream) {
  switch (op) {
    case BinaryOp::add: binary_op<BinaryOp::add>(p, a, b, out, stream); break;
    case BinaryOp::sub: binary_op<BinaryOp::sub>(p, a, b, out, stream); break;
    case BinaryOp::mul: binary_op<BinaryOp::mul>(p, a, b, out, stream); break;
    case BinaryOp::div: binary_op<BinaryOp::div>(p, a, b, out, stream); break;
  }
}

void scale__cuda(float alpha, float beta, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch("scale__cuda", scale_kernel, grid_for(n), dim3(kThreads), 0, stream, alpha, beta, x, y, n);
}

void fill__cuda(float value, float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch("fill__cuda", fill_kernel, grid_for(n), dim3(kThreads), 0, stream, value, y, n);
}

void broadcast_to__cuda(const BroadcastParams& in, const float* x, float* out, cudaStream_t stream) {
  const int64_t n = numel(in);
  if (n == 0) return;
  BroadcastParams q = in;
  for (int d = 0; d < q.ndim; ++d) q.stride_b[d] = q.stride_a[d];  // collapse by the input's strides alone
  const BroadcastParams p = collapse(q);
  launch("broadcast_to__cuda", broadcast_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, out, n);
}

}  // namespace fastconv::cuda
