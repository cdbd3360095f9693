// Row norm (group/layer norm, ref::row_norm) and local response norm (ref::local_response_norm) kernels.
// Row statistics: one block a row, two passes (mean, then centred squares) in double like the reference, each a
// thread-strided sum and a fixed shared-memory tree. Affine gradients: affine index a gathers the values of the
// rows of its group (r % G == a / (D / inner)) at columns [(a % (D / inner)) * inner, + inner); these are cut into
// fixed chunks of kChunk values, one block a (a, chunk) summing into the workspace, and one thread an index adds
// its chunks in order: deterministic, no atomics. With inner == 1 (layer norm) an index's values are one column, so
// there a thread takes a column and sums kRows rows of it serially: the block's loads of a row are coalesced.
#include "launch.cuh"
#include "norm.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
constexpr int64_t kChunk = 4096;
constexpr int64_t kRows = 64;  // rows a column chunk (inner == 1)

unsigned capped(int64_t blocks) { return unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks); }
unsigned blocks_of(int64_t n) { return capped((n + kThreads - 1) / kThreads); }

__device__ double block_sum(double v, double* sh) {
  const unsigned t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (unsigned h = kThreads / 2; h > 0; h /= 2) {
    if (t < h) sh[t] += sh[t + h];
    __syncthreads();
  }
  v = sh[0];
  __syncthreads();
  return v;
}

__device__ __forceinline__ int64_t affine_of(int64_t r, int64_t j, int64_t G, int64_t per_group, int64_t inner) {
  return (r % G) * per_group + j / inner;
}

__global__ void row_norm_fwd_kernel(const float* x, const float* weight, const float* bias, float* y, float* mean,
                                    float* rstd, int64_t M, int64_t D, int64_t G, int64_t inner, float eps) {
  __shared__ double sh[kThreads];
  const int64_t per_group = D / inner;
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const float* xr = x + r * D;
    double s = 0;
    for (int64_t j = threadIdx.x; j < D; j += kThreads) s += xr[j];
    s = block_sum(s, sh);
    const double mu = D ? s / double(D) : 0.0;
    double ss = 0;
    for (int64_t j = threadIdx.x; j < D; j += kThreads) ss += (xr[j] - mu) * (xr[j] - mu);
    ss = block_sum(ss, sh);
    const double rs = 1.0 / sqrt((D ? ss / double(D) : 0.0) + double(eps));
    if (threadIdx.x == 0) {
      mean[r] = float(mu);
      rstd[r] = float(rs);
    }
    for (int64_t j = threadIdx.x; j < D; j += kThreads) {
      const int64_t a = affine_of(r, j, G, per_group, inner);
      y[r * D + j] = float((xr[j] - mu) * rs * (weight ? double(weight[a]) : 1.0) + (bias ? double(bias[a]) : 0.0));
    }
  }
}

__global__ void row_norm_dx_kernel(const float* grad, const float* x, const float* weight, const float* mean,
                                   const float* rstd, float* dx, int64_t M, int64_t D, int64_t G, int64_t inner) {
  __shared__ double sh[kThreads];
  const int64_t per_group = D / inner;
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const double mu = mean[r], rs = rstd[r];
    double s1 = 0, s2 = 0;
    for (int64_t j = threadIdx.x; j < D; j += kThreads) {
      const int64_t k = r * D + j;
      const double xh = (x[k] - mu) * rs,
                   dxh = grad[k] * (weight ? double(weight[affine_of(r, j, G, per_group, inner)]) : 1.0);
      s1 += dxh;
      s2 += dxh * xh;
    }
    s1 = block_sum(s1, sh);
    s2 = block_sum(s2, sh);
    for (int64_t j = threadIdx.x; j < D; j += kThreads) {
      const int64_t k = r * D + j;
      const double xh = (x[k] - mu) * rs,
                   dxh = grad[k] * (weight ? double(weight[affine_of(r, j, G, per_group, inner)]) : 1.0);
      dx[k] = float(rs * (dxh - (s1 + xh * s2) / double(D)));
    }
  }
}

// Rows of group g: g, g + G, ... below M.
__device__ __forceinline__ int64_t rows_of_group(int64_t g, int64_t M, int64_t G) {
  return M > g ? (M - g + G - 1) / G : 0;
}

// part[2 * (a * nchunk + q) + {0, 1}] = sums of grad * xhat and of grad over chunk q of affine index a's values.
__global__ void row_norm_affine_partial_kernel(const float* grad, const float* x, const float* mean,
                                               const float* rstd, double* part, int64_t M, int64_t D, int64_t G,
                                               int64_t inner, int64_t A, int64_t nchunk) {
  __shared__ double sa[kThreads], sb[kThreads];
  const int64_t per_group = D / inner, items = A * nchunk;
  for (int64_t it = blockIdx.x; it < items; it += gridDim.x) {
    const int64_t a = it / nchunk, g = a / per_group, col0 = (a % per_group) * inner;
    const int64_t L = rows_of_group(g, M, G) * inner, t0 = (it % nchunk) * kChunk,
                  t1 = t0 + kChunk < L ? t0 + kChunk : L;
    double sw = 0, sbias = 0;
    for (int64_t t = t0 + threadIdx.x; t < t1; t += kThreads) {
      const int64_t tr = t / inner, r = g + G * tr, k = r * D + col0 + (t - tr * inner);
      const double gv = grad[k], xh = (x[k] - double(mean[r])) * double(rstd[r]);
      sw += gv * xh;
      sbias += gv;
    }
    sw = block_sum(sw, sa);
    sbias = block_sum(sbias, sb);
    if (threadIdx.x == 0) {
      part[2 * it] = sw;
      part[2 * it + 1] = sbias;
    }
  }
}

// inner == 1: item (g, q, tile); thread j of the tile sums column j over rows g + G t, t in [q kRows, + kRows), in
// row order, into part[2 * (a * nchunk + q)], a = g * D + j.
__global__ void row_norm_affine_column_kernel(const float* grad, const float* x, const float* mean, const float* rstd,
                                              double* part, int64_t M, int64_t D, int64_t G, int64_t nchunk) {
  const int64_t tiles = (D + kThreads - 1) / kThreads, items = G * nchunk * tiles;
  for (int64_t it = blockIdx.x; it < items; it += gridDim.x) {
    const int64_t g = it / (nchunk * tiles), q = (it / tiles) % nchunk, j = (it % tiles) * kThreads + threadIdx.x;
    if (j >= D) continue;
    const int64_t R = rows_of_group(g, M, G), t1 = (q + 1) * kRows < R ? (q + 1) * kRows : R;
    double sw = 0, sb = 0;
    for (int64_t t = q * kRows; t < t1; ++t) {
      const int64_t r = g + G * t, k = r * D + j;
      const double gv = grad[k];
      sw += gv * ((x[k] - double(mean[r])) * double(rstd[r]));
      sb += gv;
    }
    const int64_t a = g * D + j;
    part[2 * (a * nchunk + q)] = sw;
    part[2 * (a * nchunk + q) + 1] = sb;
  }
}

__global__ void row_norm_affine_combine_kernel(const double* part, int64_t A, int64_t nchunk, float* dweight,
                                               float* dbias) {
  for (int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; a < A; a += int64_t(gridDim.x) * blockDim.x) {
    double sw = 0, sb = 0;
    for (int64_t q = 0; q < nchunk; ++q) {
      sw += part[2 * (a * nchunk + q)];
      sb += part[2 * (a * nchunk + q) + 1];
    }
    if (dweight) dweight[a] = float(sw);
    if (dbias) dbias[a] = float(sb);
  }
}

int64_t affine_chunks(const ref::RowNormParams& p) {
  const int64_t rows = p.G > 0 ? (p.M + p.G - 1) / p.G : 0;  // the most rows a group has
  if (p.inner == 1) return (rows + kRows - 1) / kRows;
  return (rows * p.inner + kChunk - 1) / kChunk;
}

// The window of channel c is [c - size/2, c + (size-1)/2] (ref lo_of / hi_of).
__global__ void lrn_fwd_kernel(const float* x, float* y, float* scale, int64_t n, int64_t C, int64_t S, int64_t size,
                               double alpha_over_size, double k0, double neg_beta) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const int64_t c = (k / S) % C, base = k - c * S;  // base: element (n, 0, i)
    double s = 0;
    for (int64_t j = c - size / 2; j <= c + (size - 1) / 2; ++j)
      if (j >= 0 && j < C) s += double(x[base + j * S]) * x[base + j * S];
    const double d = k0 + alpha_over_size * s;
    scale[k] = float(d);
    y[k] = float(x[k] * pow(d, neg_beta));
  }
}

__global__ void lrn_bwd_kernel(const float* grad, const float* x, const float* y, const float* scale, float* dx,
                               int64_t n, int64_t C, int64_t S, int64_t size, double coef, double neg_beta) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const int64_t i = (k / S) % C, base = k - i * S;
    double acc = 0;
    for (int64_t c = i - (size - 1) / 2; c <= i + size / 2; ++c)
      if (c >= 0 && c < C) {
        const int64_t q = base + c * S;
        acc += double(grad[q]) * y[q] / scale[q];
      }
    dx[k] = float(grad[k] * pow(double(scale[k]), neg_beta) - coef * x[k] * acc);
  }
}

}  // namespace

void row_norm_forward__cuda(const ref::RowNormParams& p, const float* x, const float* weight, const float* bias,
                            float* y, float* mean, float* rstd, cudaStream_t stream) {
  if (p.M <= 0) return;
  launch("row_norm_forward__cuda", row_norm_fwd_kernel, dim3(capped(p.M)), dim3(kThreads), 0, stream, x, weight, bias,
         y, mean, rstd, p.M, p.D, p.G, p.inner, p.eps);
}

size_t row_norm_backward_workspace_bytes(const ref::RowNormParams& p) {
  return size_t(2 * p.affine_size() * affine_chunks(p)) * sizeof(double);
}

void row_norm_backward__cuda(const ref::RowNormParams& p, const float* grad, const float* x, const float* weight,
                             const float* mean, const float* rstd, float* dx, float* dweight, float* dbias,
                             void* workspace, cudaStream_t stream) {
  if (dx && p.M > 0 && p.D > 0)
    launch("row_norm_backward__cuda(dx)", row_norm_dx_kernel, dim3(capped(p.M)), dim3(kThreads), 0, stream, grad, x,
           weight, mean, rstd, dx, p.M, p.D, p.G, p.inner);
  const int64_t A = p.affine_size();
  if ((!dweight && !dbias) || A <= 0) return;
  const int64_t nchunk = affine_chunks(p);
  double* part = static_cast<double*>(workspace);
  if (nchunk > 0 && p.inner == 1)
    launch("row_norm_backward__cuda(affine columns)", row_norm_affine_column_kernel,
           dim3(capped(p.G * nchunk * ((p.D + kThreads - 1) / kThreads))), dim3(kThreads), 0, stream, grad, x, mean,
           rstd, part, p.M, p.D, p.G, nchunk);
  else if (nchunk > 0)
    launch("row_norm_backward__cuda(affine partial)", row_norm_affine_partial_kernel, dim3(capped(A * nchunk)),
           dim3(kThreads), 0, stream, grad, x, mean, rstd, part, p.M, p.D, p.G, p.inner, A, nchunk);
  launch("row_norm_backward__cuda(affine combine)", row_norm_affine_combine_kernel, dim3(blocks_of(A)),
         dim3(kThreads), 0, stream, part, A, nchunk, dweight, dbias);
}

void local_response_norm_forward__cuda(const ref::LrnParams& p, const float* x, float* y, float* scale,
                                       cudaStream_t stream) {
  const int64_t n = p.N * p.C * p.S;
  if (n <= 0) return;
  launch("local_response_norm_forward__cuda", lrn_fwd_kernel, dim3(blocks_of(n)), dim3(kThreads), 0, stream, x, y,
         scale, n, p.C, p.S, p.size, double(p.alpha) / double(p.size), double(p.k), -double(p.beta));
}

void local_response_norm_backward__cuda(const ref::LrnParams& p, const float* grad, const float* x, const float* y,
                                        const float* scale, float* dx, cudaStream_t stream) {
  const int64_t n = p.N * p.C * p.S;
  if (n <= 0) return;
  const double coef = 2.0 * p.alpha * p.beta / double(p.size);
  launch("local_response_norm_backward__cuda", lrn_bwd_kernel, dim3(blocks_of(n)), dim3(kThreads), 0, stream, grad,
         x, y, scale, dx, n, p.C, p.S, p.size, coef, -double(p.beta));
}

}  // namespace fastconv::cuda
