// Implicit-GEMM convolution (CUTLASS's fprop / dgrad / wgrad), exact FP32. One kernel template runs all three: a
// block computes a 64x64 tile of one group's GEMM, 256 threads, 4x4 results each, stepping through the reduction
// 8 at a time; each step gathers the A and B tiles straight from the NCHW tensors into shared memory, with
// padding, stride, dilation and groups resolved in the index math (out-of-range taps read as 0), so no column
// matrix exists. Only the gather differs between the passes (Problem<P> below):
//   fprop  A[m = (n, o), kk = (c, t)] = x[n, c, o*s - p + t*d]         B[kk, j = k] = w[k, c, t]
//   dgrad  A[m = (n, i), kk = (k, t)] = dy[n, k, (i + p - t*d) / s]     B[kk, j = c] = w[k, c, t]
//          (0 where the division is not exact or lands outside: the gather form of the transposed conv)
//   wgrad  A[m = k, kk = (n, o)] = dy[n, k, o]                          B[kk, j = (c, t)] = x[n, c, o*s - p + t*d]
// Every thread accumulates its results in reduction order, so results are reproducible. wgrad's reduction (N*out)
// is long and its output small, so it is split over blocks (blockIdx.z = split * G + g), each writing a partial
// tile into the workspace; a second kernel adds the partials in split order (no float atomics). dgrad with a
// stride reads mostly zeros (a fraction 1/s of the taps contribute per axis); the selection rule
// (ops/cuda/conv_implicit.cpp) leaves those to im2col_gemm.
#include "conv_implicit_gemm.cuh"

#include <algorithm>
#include <climits>

#include "fastconv/error.h"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using cpu::ConvParams;

constexpr int kBM = 64, kBN = 64, kBK = 8, kThreads = 256;  // 16 x 16 threads, rows tx + 16i, columns ty + 16j
constexpr int kMaxSplits = 64;
constexpr int kTargetBlocks = 264;  // wgrad splits until about two blocks per SM of an H100 (132 SMs)
constexpr int kMinSplitLen = 512;   // ... but keeps at least this many reduction elements per split

struct Geo {  // 32-bit index math; conv_implicit_gemm_applies checks every extent fits
  int N, C, K, G, Cg, Kg;
  int in[3], out[3], k[3], stride[3], pad[3], dil[3];
  int ivol, ovol, kvol;
  int M, Ncols, Kdim;  // one group's GEMM
  int kchunk;          // reduction elements per block (wgrad splits; else all of Kdim)
};

__device__ __forceinline__ void split3(int i, const int* e, int* d) {
  d[2] = i % e[2];
  i /= e[2];
  d[1] = i % e[1];
  d[0] = i / e[1];
}

// Flat offset of x[n][ch][o*s - p + t*d] for output position o and tap t, or -1 where the tap is padding.
__device__ __forceinline__ int input_at(const Geo& q, int n, int ch, const int* o, const int* t) {
  int off = n * q.C + ch;
  for (int a = 0; a < 3; ++a) {
    const int i = o[a] * q.stride[a] - q.pad[a] + t[a] * q.dil[a];
    if (i < 0 || i >= q.in[a]) return -1;
    off = off * q.in[a] + i;
  }
  return off;
}

template <ImplicitPass P>
struct Problem;

template <>
struct Problem<ImplicitPass::fprop> {  // a_src x, b_src w, out y, bias over K
  static constexpr bool kAlongM = true;  // consecutive m: consecutive x elements, so threads go along m
  __device__ static float a(const Geo& q, const float* x, int g, int m, int kk) {
    int o[3], t[3];
    split3(m % q.ovol, q.out, o);
    split3(kk % q.kvol, q.k, t);
    const int off = input_at(q, m / q.ovol, g * q.Cg + kk / q.kvol, o, t);
    return off < 0 ? 0.f : x[off];
  }
  __device__ static float b(const Geo& q, const float* w, int g, int kk, int j) {
    return w[(g * q.Kg + j) * (q.Cg * q.kvol) + kk];
  }
  __device__ static void store(const Geo& q, float* y, const float* bias, int g, int, int m, int j, float v) {
    const int k = g * q.Kg + j;
    y[((m / q.ovol) * q.K + k) * q.ovol + m % q.ovol] = bias ? v + bias[k] : v;
  }
};

template <>
struct Problem<ImplicitPass::dgrad> {  // a_src dy, b_src w, out dx, bias (conv_transpose's) over C
  static constexpr bool kAlongM = true;
  __device__ static float a(const Geo& q, const float* dy, int g, int m, int kk) {
    int i[3], t[3];
    split3(m % q.ivol, q.in, i);
    split3(kk % q.kvol, q.k, t);
    int off = (m / q.ivol) * q.K + g * q.Kg + kk / q.kvol;
    for (int a = 0; a < 3; ++a) {
      const int num = i[a] + q.pad[a] - t[a] * q.dil[a];
      if (num < 0 || num % q.stride[a] != 0 || num / q.stride[a] >= q.out[a]) return 0.f;
      off = off * q.out[a] + num / q.stride[a];
    }
    return dy[off];
  }
  __device__ static float b(const Geo& q, const float* w, int g, int kk, int j) {
    return w[((g * q.Kg + kk / q.kvol) * q.Cg + j) * q.kvol + kk % q.kvol];
  }
  __device__ static void store(const Geo& q, float* dx, const float* bias, int g, int, int m, int j, float v) {
    const int c = g * q.Cg + j;
    dx[((m / q.ivol) * q.C + c) * q.ivol + m % q.ivol] = bias ? v + bias[c] : v;
  }
};

template <>
struct Problem<ImplicitPass::wgrad> {  // a_src dy, b_src x, out dw or the split partials
  static constexpr bool kAlongM = false;  // consecutive kk: consecutive dy (and x) elements
  __device__ static float a(const Geo& q, const float* dy, int g, int m, int kk) {
    return dy[((kk / q.ovol) * q.K + g * q.Kg + m) * q.ovol + kk % q.ovol];
  }
  __device__ static float b(const Geo& q, const float* x, int g, int kk, int j) {
    int o[3], t[3];
    split3(kk % q.ovol, q.out, o);
    split3(j % q.kvol, q.k, t);
    const int off = input_at(q, kk / q.ovol, g * q.Cg + j / q.kvol, o, t);
    return off < 0 ? 0.f : x[off];
  }
  __device__ static void store(const Geo& q, float* dw, const float*, int g, int split, int m, int j, float v) {
    dw[((split * q.K) + g * q.Kg + m) * (q.Cg * q.kvol) + j] = v;
  }
};

template <ImplicitPass P>
__global__ void __launch_bounds__(kThreads)
    implicit_gemm_kernel(Geo q, const float* __restrict__ a_src, const float* __restrict__ b_src,
                         const float* __restrict__ bias, float* __restrict__ out) {
  // +1: the K-major gathers store 8 consecutive kk of one column; the padding spreads them over banks.
  __shared__ float As[kBK][kBM + 1];
  __shared__ float Bs[kBK][kBN + 1];
  const int tid = int(threadIdx.x), tx = tid % 16, ty = tid / 16;
  const int m0 = int(blockIdx.x) * kBM, n0 = int(blockIdx.y) * kBN;
  const int split = int(blockIdx.z) / q.G, g = int(blockIdx.z) % q.G;
  const int k_begin = split * q.kchunk, k_end = min(q.Kdim, k_begin + q.kchunk);
  float acc[4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += kBK) {
    for (int e = tid; e < kBM * kBK; e += kThreads) {
      const int mm = Problem<P>::kAlongM ? e % kBM : e / kBK, kk = Problem<P>::kAlongM ? e / kBM : e % kBK;
      const int m = m0 + mm, kx = k0 + kk;
      As[kk][mm] = m < q.M && kx < k_end ? Problem<P>::a(q, a_src, g, m, kx) : 0.f;
    }
    for (int e = tid; e < kBN * kBK; e += kThreads) {
      const int nn = e / kBK, kk = e % kBK, j = n0 + nn, kx = k0 + kk;
      Bs[kk][nn] = j < q.Ncols && kx < k_end ? Problem<P>::b(q, b_src, g, kx, j) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][tx + 16 * i], bv[i] = Bs[kk][ty + 16 * i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + tx + 16 * i, n = n0 + ty + 16 * j;
      if (m < q.M && n < q.Ncols) Problem<P>::store(q, out, bias, g, split, m, n, acc[i][j]);
    }
}

// dw[i] = sum over splits s, in order, of part[s * n + i].
__global__ void sum_splits_kernel(const float* __restrict__ part, float* __restrict__ dw, int n, int splits) {
  const int stride = int(gridDim.x * blockDim.x);
  for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += stride) {
    float s = part[i];
    for (int k = 1; k < splits; ++k) s += part[int64_t(k) * n + i];
    dw[i] = s;
  }
}

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The GEMM of `pass` and, for wgrad, the split of its reduction; all in int64 so applies() can check the extents.
struct Shape64 {
  int64_t M, Ncols, Kdim, splits, kchunk;
};

Shape64 gemm_shape(const ConvParams& p, ImplicitPass pass) {
  const int64_t G = p.groups, Cg = p.C / G, Kg = p.K / G, kv = cpu::k_vol(p);
  const int64_t iv = cpu::in_vol(p), ov = cpu::out_vol(p);
  Shape64 s{};
  if (pass == ImplicitPass::fprop) s = {p.N * ov, Kg, Cg * kv, 1, 0};
  if (pass == ImplicitPass::dgrad) s = {p.N * iv, Cg, Kg * kv, 1, 0};
  if (pass == ImplicitPass::wgrad) {
    s = {Kg, Cg * kv, p.N * ov, 1, 0};
    const int64_t tiles = cdiv(s.M, kBM) * cdiv(s.Ncols, kBN) * G;
    const int64_t want = std::min(cdiv(s.Kdim, kMinSplitLen), cdiv(kTargetBlocks, std::max<int64_t>(tiles, 1)));
    s.splits = std::max<int64_t>(1, std::min<int64_t>(want, kMaxSplits));
  }
  s.kchunk = cdiv(cdiv(s.Kdim, s.splits), kBK) * kBK;
  if (s.kchunk > 0) s.splits = cdiv(s.Kdim, s.kchunk);  // no empty split
  if (s.splits < 1) s.splits = 1;
  return s;
}

Geo make_geo(const ConvParams& p, ImplicitPass pass) {
  const Shape64 s = gemm_shape(p, pass);
  Geo q{};
  q.N = int(p.N), q.C = int(p.C), q.K = int(p.K), q.G = int(p.groups), q.Cg = int(p.C / p.groups),
  q.Kg = int(p.K / p.groups);
  for (int a = 0; a < 3; ++a) {
    q.in[a] = int(p.in[a]), q.out[a] = int(p.out[a]), q.k[a] = int(p.k[a]);
    q.stride[a] = int(p.stride[a]), q.pad[a] = int(p.pad[a]), q.dil[a] = int(p.dil[a]);
  }
  q.ivol = int(cpu::in_vol(p)), q.ovol = int(cpu::out_vol(p)), q.kvol = int(cpu::k_vol(p));
  q.M = int(s.M), q.Ncols = int(s.Ncols), q.Kdim = int(s.Kdim), q.kchunk = int(s.kchunk);
  return q;
}

void check_params(const ConvParams& p, const char* what) {
  FC_CHECK(conv_implicit_gemm_applies(p), Value, what, ": cannot run N ", p.N, " C ", p.C, " K ", p.K, " groups ",
           p.groups, " (expected groups dividing C and K, and every tensor under 2^31 elements)");
}

template <ImplicitPass P>
void run(const char* name, const ConvParams& p, const float* a, const float* b, const float* bias, float* out,
         cudaStream_t stream) {
  const Geo q = make_geo(p, P);
  const int64_t splits = gemm_shape(p, P).splits;
  if (q.M == 0 || q.Ncols == 0) return;
  launch(name, implicit_gemm_kernel<P>, dim3(unsigned(cdiv(q.M, kBM)), unsigned(cdiv(q.Ncols, kBN)),
                                             unsigned(q.G * splits)),
         dim3(kThreads), 0, stream, q, a, b, bias, out);
}

}  // namespace

bool conv_implicit_gemm_applies(const ConvParams& p) {
  if (p.groups < 1 || p.C < 1 || p.K < 1 || p.N < 0 || p.C % p.groups || p.K % p.groups) return false;
  for (int a = 0; a < 3; ++a)
    if (p.stride[a] < 1 || p.dil[a] < 1 || p.k[a] < 1 || p.in[a] < 1 || p.out[a] < 0) return false;
  const int64_t iv = cpu::in_vol(p), ov = cpu::out_vol(p), wsz = p.K * (p.C / p.groups) * cpu::k_vol(p);
  int64_t worst = std::max({p.N * p.C * iv, p.N * p.K * ov, wsz});
  for (ImplicitPass pass : {ImplicitPass::fprop, ImplicitPass::dgrad, ImplicitPass::wgrad}) {
    const Shape64 s = gemm_shape(p, pass);
    worst = std::max({worst, s.M + kBM, s.Ncols + kBN, s.Kdim + s.kchunk, s.splits * wsz});
    if (cdiv(s.Ncols, kBN) > 65535 || p.groups * s.splits > 65535) return false;
  }
  return worst < INT_MAX;
}

size_t conv_implicit_gemm_workspace_bytes(const ConvParams& p, ImplicitPass pass) {
  if (pass != ImplicitPass::wgrad) return 0;
  const int64_t splits = gemm_shape(p, pass).splits;
  return splits > 1 ? size_t(splits * p.K * (p.C / p.groups) * cpu::k_vol(p)) * sizeof(float) : 0;
}

void conv_implicit_gemm_fprop__cuda(const ConvParams& p, const float* x, const float* w, const float* bias,
                                    float* y, cudaStream_t stream) {
  check_params(p, "conv_implicit_gemm_fprop__cuda");
  run<ImplicitPass::fprop>("conv_implicit_gemm_fprop__cuda", p, x, w, bias, y, stream);
}

void conv_implicit_gemm_dgrad__cuda(const ConvParams& p, const float* dy, const float* w, const float* bias_after,
                                    float* dx, cudaStream_t stream) {
  check_params(p, "conv_implicit_gemm_dgrad__cuda");
  run<ImplicitPass::dgrad>("conv_implicit_gemm_dgrad__cuda", p, dy, w, bias_after, dx, stream);
}

void conv_implicit_gemm_wgrad__cuda(const ConvParams& p, const float* dy, const float* x, float* dw,
                                    void* workspace, cudaStream_t stream) {
  check_params(p, "conv_implicit_gemm_wgrad__cuda");
  const int64_t splits = gemm_shape(p, ImplicitPass::wgrad).splits;
  float* part = splits > 1 ? static_cast<float*>(workspace) : dw;
  FC_CHECK(splits == 1 || workspace != nullptr, Value,
           "conv_implicit_gemm_wgrad__cuda: workspace is null, expected conv_implicit_gemm_workspace_bytes = ",
           conv_implicit_gemm_workspace_bytes(p, ImplicitPass::wgrad), " bytes");
  run<ImplicitPass::wgrad>("conv_implicit_gemm_wgrad__cuda", p, dy, x, nullptr, part, stream);
  if (splits > 1) {
    const int n = int(p.K * (p.C / p.groups) * cpu::k_vol(p));
    const unsigned blocks = unsigned(std::min<int64_t>(cdiv(n, 256), 4096));
    launch("conv_implicit_gemm_sum_splits__cuda", sum_splits_kernel, dim3(blocks), dim3(256), 0, stream, part, dw,
           n, int(splits));
  }
}

}  // namespace fastconv::cuda
