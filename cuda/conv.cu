// Convolution as im2col + GEMM on the device (the CPU's conv_im2col.cpp, without its blocking), over one, two or
// three spatial axes and any groups: per image, the column matrix [C * kvol, L] of that image (cuda/fold.cu) goes
// into the workspace and one strided-batched SGEMM over the groups multiplies it with the weights. A 1x1, stride-1,
// unpadded convolution is the GEMM on x itself. Backward data is the transposed product into the column matrix and
// a fold (col2im, a gather: no atomics); backward weight adds the images' products in image order (beta = 1 after
// the first), so every result is reproducible.
#include "conv.cuh"

#include "fold.cuh"
#include "gemm.cuh"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

int64_t kvol(const cpu::ConvParams& p) { return p.k[0] * p.k[1] * p.k[2]; }
int64_t out_len(const cpu::ConvParams& p) { return p.out[0] * p.out[1] * p.out[2]; }
int64_t in_len(const cpu::ConvParams& p) { return p.in[0] * p.in[1] * p.in[2]; }

bool pointwise(const cpu::ConvParams& p) {  // the column matrix is x itself
  for (int i = 0; i < 3; ++i)
    if (p.k[i] != 1 || p.stride[i] != 1 || p.pad[i] != 0 || p.in[i] != p.out[i]) return false;
  return true;
}

// w_out[q, t] = w[q, kv - 1 - t]: every kernel's taps reversed (w and w_out distinct).
__global__ void flip_taps_kernel(const float* __restrict__ w, float* __restrict__ w_out, int64_t n, int64_t kv) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    w_out[i] = w[(i / kv) * kv + (kv - 1 - i % kv)];
}

__global__ void bias_add_kernel(float* y, const float* __restrict__ b, int64_t n, int64_t C, int64_t inner) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] += b[(i / inner) % C];
}

}  // namespace

bool conv_gemm_applies(const cpu::ConvParams& p) {
  return p.groups >= 1 && p.C % p.groups == 0 && p.K % p.groups == 0;
}

size_t conv_gemm_workspace_bytes(const cpu::ConvParams& p) {
  return pointwise(p) ? 0 : size_t(p.C * kvol(p) * out_len(p)) * sizeof(float);
}

void bias_add__cuda(float* y, const float* bias, int64_t outer, int64_t C, int64_t inner, cudaStream_t stream) {
  const int64_t n = outer * C * inner;
  if (n == 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  launch("bias_add__cuda", bias_add_kernel, dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks)),
         dim3(kThreads), 0, stream, y, bias, n, C, inner);
}

void flip_taps__cuda(const float* w, float* w_out, int64_t kernels, int64_t kv, cudaStream_t stream) {
  const int64_t n = kernels * kv;
  if (n <= 0) return;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  launch("flip_taps__cuda", flip_taps_kernel, dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks)),
         dim3(kThreads), 0, stream, w, w_out, n, kv);
}

void conv_gemm_forward__cuda(const cpu::ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                             void* workspace, cudaStream_t stream, GemmPrecision precision) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, kk = Cg * kvol(p), L = out_len(p);
  const bool direct = pointwise(p);
  float* col = static_cast<float*>(workspace);
  for (int64_t n = 0; n < p.N; ++n) {
    const float* xn = x + n * p.C * in_len(p);
    if (!direct) conv_unfold__cuda(p, xn, col, stream);
    // Y_n[g] [Kg, L] = W[g] [Kg, kk] * col[g] [kk, L]
    sgemm_strided_batched__cuda(G, false, false, Kg, L, kk, 1.f, w, kk, Kg * kk, direct ? xn : col, L, kk * L, 0.f,
                                y + n * p.K * L, L, Kg * L, stream, precision);
  }
  if (bias) bias_add__cuda(y, bias, p.N, p.K, L, stream);
}

void conv_gemm_backward_data__cuda(const cpu::ConvParams& p, const float* dy, const float* w, const float* bias_after,
                                   float* dx, void* workspace, cudaStream_t stream,
                                   GemmPrecision precision) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, kk = Cg * kvol(p), L = out_len(p);
  const bool direct = pointwise(p);
  float* col = static_cast<float*>(workspace);
  for (int64_t n = 0; n < p.N; ++n) {
    float* dxn = dx + n * p.C * in_len(p);
    // col[g] [kk, L] = W[g]^T [kk, Kg] * dY_n[g] [Kg, L]
    sgemm_strided_batched__cuda(G, true, false, kk, L, Kg, 1.f, w, kk, Kg * kk, dy + n * p.K * L, L, Kg * L, 0.f,
                                direct ? dxn : col, L, kk * L, stream, precision);
    if (!direct) conv_fold__cuda(p, col, dxn, stream);
  }
  if (bias_after) bias_add__cuda(dx, bias_after, p.N, p.C, in_len(p), stream);
}

void conv_gemm_backward_weight__cuda(const cpu::ConvParams& p, const float* dy, const float* x, float* dw,
                                     void* workspace, cudaStream_t stream, GemmPrecision precision) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, kk = Cg * kvol(p), L = out_len(p);
  const bool direct = pointwise(p);
  float* col = static_cast<float*>(workspace);
  if (p.N == 0) {  // no images: the gradient is zero
    sgemm_strided_batched__cuda(G, false, true, Kg, kk, 0, 1.f, dy, 1, 0, x, 1, 0, 0.f, dw, kk, Kg * kk, stream);
    return;
  }
  for (int64_t n = 0; n < p.N; ++n) {
    const float* xn = x + n * p.C * in_len(p);
    if (!direct) conv_unfold__cuda(p, xn, col, stream);
    // dW[g] [Kg, kk] (+)= dY_n[g] [Kg, L] * col[g]^T [L, kk]
    sgemm_strided_batched__cuda(G, false, true, Kg, kk, L, 1.f, dy + n * p.K * L, L, Kg * L, direct ? xn : col, L,
                                kk * L, n == 0 ? 0.f : 1.f, dw, kk, Kg * kk, stream, precision);
  }
}

}  // namespace fastconv::cuda
