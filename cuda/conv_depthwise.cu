// Direct depthwise convolution: groups == C, channel multiplier m = K / C (output channel k reads input channel
// k / m and has one filter plane w[k]). Forward and backward-data are one thread per output element (grid-stride,
// int64 indices) walking the taps; backward-data is the gather form: input position i receives tap t from output
// position o exactly when o * stride = i + pad - t * dil, so it solves for o per tap instead of scattering. The
// weight and bias gradients are reductions over N x out, one block per result element, double partials in a
// fixed-shape tree: no atomics, the same bits every run.
#include "conv_depthwise.cuh"

#include "fastconv/error.h"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using cpu::ConvParams;

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}
dim3 grid_of(int64_t blocks) { return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks)); }

__device__ __forceinline__ int64_t ivol(const ConvParams& p) { return p.in[0] * p.in[1] * p.in[2]; }
__device__ __forceinline__ int64_t ovol(const ConvParams& p) { return p.out[0] * p.out[1] * p.out[2]; }
__device__ __forceinline__ int64_t kvol(const ConvParams& p) { return p.k[0] * p.k[1] * p.k[2]; }

// Sum of every thread's v in a fixed tree; the result is valid in thread 0. All threads must call it.
__device__ double block_sum(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (unsigned h = kThreads / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
    __syncthreads();
  }
  const double s = part[0];
  __syncthreads();  // part is reused by the caller's next element
  return s;
}

__global__ void dw_forward_kernel(ConvParams p, const float* __restrict__ x, const float* __restrict__ w,
                                  const float* __restrict__ bias, float* __restrict__ y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t iv = ivol(p), ov = ovol(p), kv = kvol(p), mult = p.K / p.C;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t o = e % ov, nk = e / ov, k = nk % p.K, b = nk / p.K;
    const int64_t ow = o % p.out[2], oh = (o / p.out[2]) % p.out[1], od = o / (p.out[2] * p.out[1]);
    const float* xc = x + (b * p.C + k / mult) * iv;
    const float* wk = w + k * kv;
    float s = bias ? bias[k] : 0.f;
    for (int64_t kd = 0; kd < p.k[0]; ++kd) {
      const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
      if (id < 0 || id >= p.in[0]) continue;
      for (int64_t kh = 0; kh < p.k[1]; ++kh) {
        const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
        if (ih < 0 || ih >= p.in[1]) continue;
        for (int64_t kw = 0; kw < p.k[2]; ++kw) {
          const int64_t iw = ow * p.stride[2] - p.pad[2] + kw * p.dil[2];
          if (iw < 0 || iw >= p.in[2]) continue;
          s = fmaf(xc[(id * p.in[1] + ih) * p.in[2] + iw], wk[(kd * p.k[1] + kh) * p.k[2] + kw], s);
        }
      }
    }
    y[e] = s;
  }
}

// Output index o along one axis that tap t of input index i comes from, or -1.
__device__ __forceinline__ int64_t source(int64_t i, int64_t t, int64_t pad, int64_t dil, int64_t stride,
                                          int64_t n_out) {
  const int64_t s = i + pad - t * dil;
  return s < 0 || s % stride != 0 || s / stride >= n_out ? -1 : s / stride;
}

// Taps walked from the last to the first, so output positions come in ascending order, the reference's order of
// accumulation for each output channel.
__global__ void dw_backward_data_kernel(ConvParams p, const float* __restrict__ dy, const float* __restrict__ w,
                                        float* __restrict__ dx, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t iv = ivol(p), ov = ovol(p), kv = kvol(p), mult = p.K / p.C;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t i = e % iv, nc = e / iv, c = nc % p.C, b = nc / p.C;
    const int64_t iw = i % p.in[2], ih = (i / p.in[2]) % p.in[1], id = i / (p.in[2] * p.in[1]);
    float s = 0.f;
    for (int64_t j = 0; j < mult; ++j) {
      const int64_t k = c * mult + j;
      const float* dyk = dy + (b * p.K + k) * ov;
      const float* wk = w + k * kv;
      for (int64_t kd = p.k[0] - 1; kd >= 0; --kd) {
        const int64_t od = source(id, kd, p.pad[0], p.dil[0], p.stride[0], p.out[0]);
        if (od < 0) continue;
        for (int64_t kh = p.k[1] - 1; kh >= 0; --kh) {
          const int64_t oh = source(ih, kh, p.pad[1], p.dil[1], p.stride[1], p.out[1]);
          if (oh < 0) continue;
          for (int64_t kw = p.k[2] - 1; kw >= 0; --kw) {
            const int64_t ow = source(iw, kw, p.pad[2], p.dil[2], p.stride[2], p.out[2]);
            if (ow < 0) continue;
            s = fmaf(dyk[(od * p.out[1] + oh) * p.out[2] + ow], wk[(kd * p.k[1] + kh) * p.k[2] + kw], s);
          }
        }
      }
    }
    dx[e] = s;
  }
}

// One block per weight element (k, tap), grid-stride over K * k_vol; every thread of a block walks the same
// elements, so the barriers in block_sum are uniform.
__global__ void dw_backward_weight_kernel(ConvParams p, const float* __restrict__ dy, const float* __restrict__ x,
                                          float* __restrict__ dw) {
  __shared__ double part[kThreads];
  const int64_t iv = ivol(p), ov = ovol(p), kv = kvol(p), mult = p.K / p.C, m = p.N * ov;
  for (int64_t item = blockIdx.x; item < p.K * kv; item += gridDim.x) {
    const int64_t t = item % kv, k = item / kv;
    const int64_t kw = t % p.k[2], kh = (t / p.k[2]) % p.k[1], kd = t / (p.k[2] * p.k[1]);
    double s = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      const int64_t o = j % ov, b = j / ov;
      const int64_t ow = o % p.out[2], oh = (o / p.out[2]) % p.out[1], od = o / (p.out[2] * p.out[1]);
      const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
      const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
      const int64_t iw = ow * p.stride[2] - p.pad[2] + kw * p.dil[2];
      if (id < 0 || id >= p.in[0] || ih < 0 || ih >= p.in[1] || iw < 0 || iw >= p.in[2]) continue;
      const float xv = x[(b * p.C + k / mult) * iv + (id * p.in[1] + ih) * p.in[2] + iw];
      s += double(dy[(b * p.K + k) * ov + o]) * double(xv);
    }
    s = block_sum(s, part);
    if (threadIdx.x == 0) dw[item] = float(s);
  }
}

__global__ void backward_bias_kernel(ConvParams p, const float* __restrict__ dy, float* __restrict__ db) {
  __shared__ double part[kThreads];
  const int64_t ov = ovol(p), m = p.N * ov;
  for (int64_t k = blockIdx.x; k < p.K; k += gridDim.x) {
    double s = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) s += dy[((j / ov) * p.K + k) * ov + j % ov];
    s = block_sum(s, part);
    if (threadIdx.x == 0) db[k] = float(s);
  }
}

void check_depthwise(const ConvParams& p, const char* what) {
  FC_CHECK(p.C > 0 && p.groups == p.C && p.K % p.C == 0, Value, what, ": not a depthwise convolution (C ", p.C,
           ", K ", p.K, ", groups ", p.groups, "); needs groups == C and K a multiple of C");
}

int64_t volume(const int64_t* v) { return v[0] * v[1] * v[2]; }

}  // namespace

void conv_depthwise_forward__cuda(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
                                  cudaStream_t stream) {
  check_depthwise(p, "conv_depthwise_forward__cuda");
  const int64_t n = p.N * p.K * volume(p.out);
  if (n <= 0) return;
  launch("conv_depthwise_forward__cuda", dw_forward_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, w, bias, y,
         n);
}

void conv_depthwise_backward_data__cuda(const ConvParams& p, const float* dy, const float* w, float* dx,
                                        cudaStream_t stream) {
  check_depthwise(p, "conv_depthwise_backward_data__cuda");
  const int64_t n = p.N * p.C * volume(p.in);
  if (n <= 0) return;
  launch("conv_depthwise_backward_data__cuda", dw_backward_data_kernel, grid_for(n), dim3(kThreads), 0, stream, p, dy,
         w, dx, n);
}

void conv_depthwise_backward_weight__cuda(const ConvParams& p, const float* dy, const float* x, float* dw,
                                          cudaStream_t stream) {
  check_depthwise(p, "conv_depthwise_backward_weight__cuda");
  const int64_t items = p.K * volume(p.k);
  if (items <= 0) return;  // an empty batch still writes dw = 0
  launch("conv_depthwise_backward_weight__cuda", dw_backward_weight_kernel, grid_of(items), dim3(kThreads), 0, stream,
         p, dy, x, dw);
}

void conv_backward_bias__cuda(const ConvParams& p, const float* dy, float* db, cudaStream_t stream) {
  if (p.K <= 0) return;
  launch("conv_backward_bias__cuda", backward_bias_kernel, grid_of(p.K), dim3(kThreads), 0, stream, p, dy, db);
}

}  // namespace fastconv::cuda
