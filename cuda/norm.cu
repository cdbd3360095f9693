// Batch norm kernels (ref::batch_norm / batch_norm_backward). The per-channel sums are two-level: a block sums one
// fixed chunk of kChunk values of one channel (thread-strided, then a shared-memory tree, all in double) into the
// workspace, and one thread a channel adds its chunks in order. Chunks depend on the shape only, so the result does
// not depend on the grid. The forward sums d = x - x0 and d^2 with x0 the channel's first value: the centred sum of
// squares S2 - S1^2/M then loses nothing to cancellation unless the batch is far from its first value in units of
// its spread, and matches the reference's two-pass sum to ~1e-12 relative. With S == 1 (BatchNorm1d on [N, C])
// a channel is a column of x, so there a thread takes a channel and sums kRows rows of it serially (chunk q = rows
// [q kRows, + kRows)): a block's loads of a row are coalesced.
#include "norm.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
constexpr int64_t kChunk = 4096;
constexpr int64_t kRows = 64;

unsigned capped(int64_t blocks) { return unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks); }

int64_t chunks_of(const ref::BatchNormParams& p) {
  if (p.S == 1) return (p.N + kRows - 1) / kRows;
  const int64_t M = p.N * p.S;
  return (M + kChunk - 1) / kChunk;
}

// Sum of a and b over the block, fixed tree; every thread gets the totals. Callers are block-uniform.
__device__ void block_sum2(double& a, double& b, double* sa, double* sb) {
  const unsigned t = threadIdx.x;
  sa[t] = a;
  sb[t] = b;
  __syncthreads();
  for (unsigned h = kThreads / 2; h > 0; h /= 2) {
    if (t < h) {
      sa[t] += sa[t + h];
      sb[t] += sb[t + h];
    }
    __syncthreads();
  }
  a = sa[0];
  b = sb[0];
  __syncthreads();  // sa/sb are reused by the next call
}

// part[2 * (c * nchunk + q) + {0, 1}]: forward: sum of d and of d^2, d = x - x[channel c, 0];
// backward: sum of g and of g * (x - mean) * invstd (the reference's sg and sgx).
template <bool kBackward>
__global__ void bn_partial_kernel(const float* x, const float* g, const float* save_mean, const float* save_invstd,
                                  double* part, int64_t N, int64_t C, int64_t S, int64_t nchunk) {
  __shared__ double sa[kThreads], sb[kThreads];
  const int64_t M = N * S, items = C * nchunk;
  for (int64_t it = blockIdx.x; it < items; it += gridDim.x) {
    const int64_t c = it / nchunk, j0 = (it % nchunk) * kChunk, j1 = j0 + kChunk < M ? j0 + kChunk : M;
    double a = 0, b = 0;
    const double mu = kBackward ? double(save_mean[c]) : double(x[c * S]);
    const double is = kBackward ? double(save_invstd[c]) : 1.0;
    for (int64_t j = j0 + threadIdx.x; j < j1; j += kThreads) {
      const int64_t n = j / S, k = (n * C + c) * S + (j - n * S);
      if constexpr (kBackward) {
        const double gv = g[k];
        a += gv;
        b += gv * (double(x[k]) - mu) * is;
      } else {
        const double d = double(x[k]) - mu;
        a += d;
        b += d * d;
      }
    }
    block_sum2(a, b, sa, sb);
    if (threadIdx.x == 0) {
      part[2 * it] = a;
      part[2 * it + 1] = b;
    }
  }
}

// S == 1: item (q, tile); thread c of the tile sums rows [q kRows, + kRows) of column c in order, into the same
// part layout as bn_partial_kernel.
template <bool kBackward>
__global__ void bn_column_partial_kernel(const float* x, const float* g, const float* save_mean,
                                         const float* save_invstd, double* part, int64_t N, int64_t C,
                                         int64_t nchunk) {
  const int64_t tiles = (C + kThreads - 1) / kThreads, items = nchunk * tiles;
  for (int64_t it = blockIdx.x; it < items; it += gridDim.x) {
    const int64_t q = it / tiles, c = (it % tiles) * kThreads + threadIdx.x;
    if (c >= C) continue;
    const int64_t n1 = (q + 1) * kRows < N ? (q + 1) * kRows : N;
    const double mu = kBackward ? double(save_mean[c]) : double(x[c]);
    const double is = kBackward ? double(save_invstd[c]) : 1.0;
    double a = 0, b = 0;
    for (int64_t n = q * kRows; n < n1; ++n) {
      const int64_t k = n * C + c;
      if constexpr (kBackward) {
        const double gv = g[k];
        a += gv;
        b += gv * (double(x[k]) - mu) * is;
      } else {
        const double d = double(x[k]) - mu;
        a += d;
        b += d * d;
      }
    }
    part[2 * (c * nchunk + q)] = a;
    part[2 * (c * nchunk + q) + 1] = b;
  }
}

template <bool kBackward>
void launch_partial(const char* name, const ref::BatchNormParams& p, const float* x, const float* g,
                    const float* save_mean, const float* save_invstd, double* part, int64_t nchunk,
                    cudaStream_t stream) {
  if (p.S == 1)
    launch(name, bn_column_partial_kernel<kBackward>, dim3(capped(nchunk * ((p.C + kThreads - 1) / kThreads))),
           dim3(kThreads), 0, stream, x, g, save_mean, save_invstd, part, p.N, p.C, nchunk);
  else
    launch(name, bn_partial_kernel<kBackward>, dim3(capped(p.C * nchunk)), dim3(kThreads), 0, stream, x, g,
           save_mean, save_invstd, part, p.N, p.C, p.S, nchunk);
}

// One thread a channel: the statistics, the running-stat update (the reference's float/double mix, term by term),
// save_mean/save_invstd, and stats[2c] = mean, stats[2c + 1] = invstd in double for the normalisation.
__global__ void bn_stats_kernel(const double* part, int64_t nchunk, const float* x, int64_t N, int64_t C, int64_t S,
                                bool training, bool unbiased, float momentum, float eps, float* running_mean,
                                float* running_var, float* save_mean, float* save_invstd, double* stats) {
  const int64_t M = N * S;
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double mean, invstd;
    if (training) {
      double s1 = 0, s2 = 0;
      for (int64_t q = 0; q < nchunk; ++q) {
        s1 += part[2 * (c * nchunk + q)];
        s2 += part[2 * (c * nchunk + q) + 1];
      }
      const double dm = M ? s1 / double(M) : 0.0;
      double ss = s2 - s1 * dm;  // sum of (x - mean)^2
      if (ss < 0) ss = 0;
      mean = (M ? double(x[c * S]) : 0.0) + dm;
      const double var = M ? ss / double(M) : 0.0;
      invstd = 1.0 / sqrt(var + double(eps));
      if (running_mean && M > 0)
        running_mean[c] = float(double((1.f - momentum) * running_mean[c]) + double(momentum) * mean);
      const int64_t dof = unbiased ? M - 1 : M;
      if (running_var && dof > 0)
        running_var[c] = float(double((1.f - momentum) * running_var[c]) + double(momentum) * ss / double(dof));
    } else {
      mean = running_mean[c];
      invstd = 1.0 / sqrt(double(running_var[c]) + double(eps));
    }
    save_mean[c] = float(mean);
    save_invstd[c] = float(invstd);
    stats[2 * c] = mean;
    stats[2 * c + 1] = invstd;
  }
}

__global__ void bn_normalize_kernel(const float* x, const float* weight, const float* bias, const double* stats,
                                    float* y, int64_t n, int64_t C, int64_t S) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const int64_t c = (k / S) % C;
    const double w = weight ? double(weight[c]) : 1.0, b = bias ? double(bias[c]) : 0.0;
    y[k] = float((double(x[k]) - stats[2 * c]) * stats[2 * c + 1] * w + b);
  }
}

// One thread a channel: sg and sgx from the chunks, in order; dweight/dbias; sums[2c] = sg, sums[2c + 1] = sgx.
__global__ void bn_grad_sums_kernel(const double* part, int64_t nchunk, int64_t C, float* dweight, float* dbias,
                                    double* sums) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += int64_t(gridDim.x) * blockDim.x) {
    double sg = 0, sgx = 0;
    for (int64_t q = 0; q < nchunk; ++q) {
      sg += part[2 * (c * nchunk + q)];
      sgx += part[2 * (c * nchunk + q) + 1];
    }
    if (dweight) dweight[c] = float(sgx);
    if (dbias) dbias[c] = float(sg);
    sums[2 * c] = sg;
    sums[2 * c + 1] = sgx;
  }
}

__global__ void bn_dx_kernel(const float* grad, const float* x, const float* weight, const float* save_mean,
                             const float* save_invstd, const double* sums, float* dx, int64_t n, int64_t C, int64_t S,
                             bool training) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const double M = double(n / C);
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const int64_t c = (k / S) % C;
    const double mean = save_mean[c], invstd = save_invstd[c], w = weight ? double(weight[c]) : 1.0;
    double v = grad[k];
    if (training) v -= (sums[2 * c] + (double(x[k]) - mean) * invstd * sums[2 * c + 1]) / M;
    dx[k] = float(v * w * invstd);
  }
}

}  // namespace

size_t batch_norm_forward_workspace_bytes(const ref::BatchNormParams& p) {
  const int64_t parts = p.training ? 2 * p.C * chunks_of(p) : 0;
  return size_t(parts + 2 * p.C) * sizeof(double);
}

void batch_norm_forward__cuda(const ref::BatchNormParams& p, const float* x, const float* weight, const float* bias,
                              float* running_mean, float* running_var, float* y, float* save_mean, float* save_invstd,
                              void* workspace, cudaStream_t stream) {
  if (p.C <= 0) return;
  const int64_t nchunk = p.training ? chunks_of(p) : 0;
  double* part = static_cast<double*>(workspace);
  double* stats = part + 2 * p.C * nchunk;
  if (nchunk > 0)
    launch_partial<false>("batch_norm_forward__cuda(partial)", p, x, nullptr, nullptr, nullptr, part, nchunk, stream);
  launch("batch_norm_forward__cuda(stats)", bn_stats_kernel, dim3(capped((p.C + kThreads - 1) / kThreads)),
         dim3(kThreads), 0, stream, part, nchunk, x, p.N, p.C, p.S, p.training, p.running_var_unbiased, p.momentum,
         p.eps, running_mean, running_var, save_mean, save_invstd, stats);
  const int64_t n = p.N * p.C * p.S;
  if (n > 0)
    launch("batch_norm_forward__cuda(normalize)", bn_normalize_kernel, dim3(capped((n + kThreads - 1) / kThreads)),
           dim3(kThreads), 0, stream, x, weight, bias, stats, y, n, p.C, p.S);
}

size_t batch_norm_backward_workspace_bytes(const ref::BatchNormParams& p) {
  return size_t(2 * p.C * chunks_of(p) + 2 * p.C) * sizeof(double);
}

void batch_norm_backward__cuda(const ref::BatchNormParams& p, const float* grad, const float* x, const float* weight,
                               const float* save_mean, const float* save_invstd, float* dx, float* dweight,
                               float* dbias, void* workspace, cudaStream_t stream) {
  if (p.C <= 0) return;
  const int64_t nchunk = chunks_of(p), n = p.N * p.C * p.S;
  double* part = static_cast<double*>(workspace);
  double* sums = part + 2 * p.C * nchunk;
  // Eval's dx needs no sums; skip them when nothing else does either.
  if (!dweight && !dbias && (!p.training || !dx)) {
    if (!dx || n == 0) return;
  } else {
    if (nchunk > 0)
      launch_partial<true>("batch_norm_backward__cuda(partial)", p, x, grad, save_mean, save_invstd, part, nchunk,
                           stream);
    launch("batch_norm_backward__cuda(sums)", bn_grad_sums_kernel, dim3(capped((p.C + kThreads - 1) / kThreads)),
           dim3(kThreads), 0, stream, part, nchunk, p.C, dweight, dbias, sums);
  }
  if (dx && n > 0)
    launch("batch_norm_backward__cuda(dx)", bn_dx_kernel, dim3(capped((n + kThreads - 1) / kThreads)), dim3(kThreads),
           0, stream, grad, x, weight, save_mean, save_invstd, sums, dx, n, p.C, p.S, p.training);
}

}  // namespace fastconv::cuda
