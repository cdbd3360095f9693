// Activation kernels: element-wise, grid-stride loops over int64 indices, one kernel instance per ActKind.
// FP32 math, written so that it stays within a few ulps of the double-precision reference everywhere, also where
// the naive float formula cancels: gelu through erfc, gelu_tanh's 1 + tanh(u) as 2 sigmoid(2u) and 1 - tanh^2(u)
// as 4 sigmoid(2u) sigmoid(-2u), silu's 1 - sigmoid(x) as sigmoid(-x), tanh's 1 - y^2 as one fma, hardswish' x/3 + 1/2 as (x + 1.5)/3.
// NaN behaves as in the reference: every comparison is written the same way round.
#include "activation.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::ActKind;
using ref::ActParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;

__device__ __forceinline__ float sigmoidf_(float x) { return 1.f / (1.f + expf(-x)); }

__device__ __forceinline__ float hardsigmoidf_(float x) {
  return isnan(x) ? x : fminf(fmaxf(x + 3.f, 0.f), 6.f) / 6.f;
}

template <ActKind K>
__device__ __forceinline__ float act_fwd(float x, float a, float b) {
  if constexpr (K == ActKind::leaky_relu) return x > 0.f ? x : x * a;
  else if constexpr (K == ActKind::elu) return x > 0.f ? x : a * expm1f(x);
  else if constexpr (K == ActKind::sigmoid) return sigmoidf_(x);
  else if constexpr (K == ActKind::tanh) return tanhf(x);
  else if constexpr (K == ActKind::threshold) return x <= a ? b : x;
  else if constexpr (K == ActKind::hardtanh) return isnan(x) ? x : (x < a ? a : (x > b ? b : x));
  else if constexpr (K == ActKind::gelu) return 0.5f * x * erfcf(-x * 0.70710678118654752f);
  else if constexpr (K == ActKind::gelu_tanh) {
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    return x / (1.f + expf(-2.f * u));  // 0.5 x (1 + tanh u)
  } else if constexpr (K == ActKind::softplus) return x * a > b ? x : log1pf(expf(x * a)) / a;
  else if constexpr (K == ActKind::hardsigmoid) return hardsigmoidf_(x);
  else if constexpr (K == ActKind::hardswish) return x * hardsigmoidf_(x);
  else if constexpr (K == ActKind::silu) return x / (1.f + expf(-x));
  else if constexpr (K == ActKind::mish) return x * tanhf(log1pf(expf(x)));
  else if constexpr (K == ActKind::pow) return powf(x, a);
  else return b * (x > 0.f ? x : a * expm1f(x));  // selu
}

// f'(s), s = y for sigmoid/tanh and x otherwise.
template <ActKind K>
__device__ __forceinline__ float act_grad(float s, float a, float b) {
  if constexpr (K == ActKind::leaky_relu) return s > 0.f ? 1.f : a;
  else if constexpr (K == ActKind::elu) return s > 0.f ? 1.f : a * expf(s);
  else if constexpr (K == ActKind::sigmoid) return s * (1.f - s);
  else if constexpr (K == ActKind::tanh) return fmaf(-s, s, 1.f);
  else if constexpr (K == ActKind::threshold) return s > a ? 1.f : 0.f;
  else if constexpr (K == ActKind::hardtanh) return s > a && s < b ? 1.f : 0.f;
  else if constexpr (K == ActKind::gelu) {
    const float cdf = 0.5f * erfcf(-s * 0.70710678118654752f);
    return cdf + s * expf(-0.5f * s * s) * 0.3989422804014327f;
  } else if constexpr (K == ActKind::gelu_tanh) {
    const float u = 0.7978845608028654f * (s + 0.044715f * s * s * s);
    const float sp = 1.f / (1.f + expf(-2.f * u)), sm = 1.f / (1.f + expf(2.f * u));  // (1 +- tanh u) / 2
    return sp + 2.f * s * sp * sm * 0.7978845608028654f * (1.f + 3.f * 0.044715f * s * s);
  } else if constexpr (K == ActKind::softplus) {
    const float z = s * a;
    return z > b ? 1.f : 1.f / (1.f + expf(-z));
  } else if constexpr (K == ActKind::hardsigmoid) return s > -3.f && s < 3.f ? 1.f / 6.f : 0.f;
  else if constexpr (K == ActKind::hardswish) return s <= -3.f ? 0.f : (s < 3.f ? (s + 1.5f) / 3.f : 1.f);
  else if constexpr (K == ActKind::silu) {
    const float sp = 1.f / (1.f + expf(-s)), sm = 1.f / (1.f + expf(s));
    return sp * (1.f + s * sm);
  } else if constexpr (K == ActKind::mish) {
    const float t = tanhf(log1pf(expf(s))), sg = 1.f / (1.f + expf(-s));
    return t + s * sg * fmaf(-t, t, 1.f);
  } else if constexpr (K == ActKind::pow) return a == 0.f ? 0.f : a * powf(s, a - 1.f);  // torch: 0 for a = 0
  else return s > 0.f ? b : b * a * expf(s);  // selu
}

template <ActKind K>
__global__ void act_forward_kernel(const float* x, float* y, int64_t n, float a, float b) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = act_fwd<K>(x[i], a, b);
}

template <ActKind K>
__global__ void act_backward_kernel(const float* g, const float* s, float* dx, int64_t n, float a, float b) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float d = act_grad<K>(s[i], a, b);
    // hardsigmoid's 1/6 as a division, one rounding as in the reference's float(grad * (1/6 in double)).
    if constexpr (K == ActKind::hardsigmoid) dx[i] = d != 0.f ? g[i] / 6.f : g[i] * 0.f;
    else dx[i] = g[i] * d;
  }
}

__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = x[i] < 0.f ? 0.f : x[i];
}

__global__ void relu_backward_kernel(const float* g, const float* y, float* dx, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dx[i] = y[i] > 0.f ? g[i] : 0.f;
}

__global__ void prelu_forward_kernel(const float* x, const float* w, float* y, int64_t n, int64_t C, int64_t inner,
                                     bool shared) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float a = w[shared ? 0 : (i / inner) % C], v = x[i];
    y[i] = v > 0.f ? v : a * v;
  }
}

__global__ void prelu_dx_kernel(const float* g, const float* x, const float* w, float* dx, int64_t n, int64_t C,
                                int64_t inner, bool shared) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float a = w[shared ? 0 : (i / inner) % C];
    dx[i] = x[i] > 0.f ? g[i] : a * g[i];
  }
}

// One block a channel (grid-stride over channels): each thread sums its share in double, then a tree in shared
// memory. Every thread of a block walks the same channels, so the barriers are uniform.
__global__ void prelu_dw_kernel(const float* g, const float* x, double* dw_part, int64_t outer, int64_t C,
                                int64_t inner) {
  __shared__ double part[kThreads];
  const int64_t m = outer * inner;
  for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
    double s = 0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
      const int64_t k = ((j / inner) * C + c) * inner + j % inner;
      const float v = x[k];
      if (!(v > 0.f)) s += double(g[k]) * double(v);
    }
    part[threadIdx.x] = s;
    __syncthreads();
    for (unsigned h = kThreads / 2; h > 0; h /= 2) {
      if (threadIdx.x < h) part[threadIdx.x] += part[threadIdx.x + h];
      __syncthreads();
    }
    if (threadIdx.x == 0) dw_part[c] = part[0];
    __syncthreads();  // part is reused for the next channel
  }
}

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

template <ActKind K>
void fwd(const ActParams& p, const float* x, float* y, int64_t n, cudaStream_t s) {
  launch("activation_forward__cuda", act_forward_kernel<K>, grid_for(n), dim3(kThreads), 0, s, x, y, n, p.a, p.b);
}

template <ActKind K>
void bwd(const ActParams& p, const float* g, const float* sv, float* dx, int64_t n, cudaStream_t s) {
  launch("activation_backward__cuda", act_backward_kernel<K>, grid_for(n), dim3(kThreads), 0, s, g, sv, dx, n, p.a,
         p.b);
}

#define FC_ACT_DISPATCH(FN, ...)                                          \
  switch (p.kind) {                                                       \
    case ActKind::leaky_relu: return FN<ActKind::leaky_relu>(__VA_ARGS__);   \
    case ActKind::elu: return FN<ActKind::elu>(__VA_ARGS__);                 \
    case ActKind::sigmoid: return FN<ActKind::sigmoid>(__VA_ARGS__);         \
    case ActKind::tanh: return FN<ActKind::tanh>(__VA_ARGS__);               \
    case ActKind::threshold: return FN<ActKind::threshold>(__VA_ARGS__);     \
    case ActKind::hardtanh: return FN<ActKind::hardtanh>(__VA_ARGS__);       \
    case ActKind::gelu: return FN<ActKind::gelu>(__VA_ARGS__);               \
    case ActKind::gelu_tanh: return FN<ActKind::gelu_tanh>(__VA_ARGS__);     \
    case ActKind::softplus: return FN<ActKind::softplus>(__VA_ARGS__);       \
    case ActKind::hardsigmoid: return FN<ActKind::hardsigmoid>(__VA_ARGS__); \
    case ActKind::hardswish: return FN<ActKind::hardswish>(__VA_ARGS__);     \
    case ActKind::silu: return FN<ActKind::silu>(__VA_ARGS__);               \
    case ActKind::mish: return FN<ActKind::mish>(__VA_ARGS__);               \
    case ActKind::selu: return FN<ActKind::selu>(__VA_ARGS__);               \
    case ActKind::pow: return FN<ActKind::pow>(__VA_ARGS__);                 \
  }

}  // namespace

void activation_forward__cuda(const ActParams& p, const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  FC_ACT_DISPATCH(fwd, p, x, y, n, stream)
}

void activation_backward__cuda(const ActParams& p, const float* grad, const float* saved, float* dx, int64_t n,
                               cudaStream_t stream) {
  if (n <= 0) return;
  FC_ACT_DISPATCH(bwd, p, grad, saved, dx, n, stream)
}

void relu_forward__cuda(const float* x, float* y, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch("relu_forward__cuda", relu_forward_kernel, grid_for(n), dim3(kThreads), 0, stream, x, y, n);
}

void relu_backward__cuda(const float* grad, const float* y, float* dx, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch("relu_backward__cuda", relu_backward_kernel, grid_for(n), dim3(kThreads), 0, stream, grad, y, dx, n);
}

void prelu_forward__cuda(const ref::PreluParams& p, const float* x, const float* w, float* y, cudaStream_t stream) {
  const int64_t n = p.outer * p.C * p.inner;
  if (n <= 0) return;
  launch("prelu_forward__cuda", prelu_forward_kernel, grid_for(n), dim3(kThreads), 0, stream, x, w, y, n, p.C,
         p.inner, p.shared);
}

__global__ void prelu_weight_grad_kernel(const double* part, float* dw, int64_t C, bool shared) {
  if (shared) {  // one thread: the sum in channel order; C is a layer's channel count
    if (blockIdx.x == 0 && threadIdx.x == 0) {
      double s = 0;
      for (int64_t i = 0; i < C; ++i) s += part[i];
      dw[0] = float(s);
    }
    return;
  }
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < C; i += stride) dw[i] = float(part[i]);
}

void prelu_weight_grad__cuda(const double* dw_part, float* dw, int64_t C, bool shared, cudaStream_t stream) {
  if (C <= 0) return;
  launch("prelu_weight_grad__cuda", prelu_weight_grad_kernel, shared ? dim3(1) : grid_for(C), dim3(kThreads), 0,
         stream, dw_part, dw, C, shared);
}

void prelu_backward__cuda(const ref::PreluParams& p, const float* g, const float* x, const float* w, float* dx,
                          double* dw_part, cudaStream_t stream) {
  if (p.C <= 0) return;
  const int64_t n = p.outer * p.C * p.inner;
  if (n > 0)
    launch("prelu_backward__cuda(dx)", prelu_dx_kernel, grid_for(n), dim3(kThreads), 0, stream, g, x, w, dx, n, p.C,
           p.inner, p.shared);
  const unsigned blocks = unsigned(p.C < int64_t(kMaxBlocks) ? p.C : int64_t(kMaxBlocks));
  launch("prelu_backward__cuda(dw)", prelu_dw_kernel, dim3(blocks), dim3(kThreads), 0, stream, g, x, dw_part, p.outer,
         p.C, p.inner);
}

}  // namespace fastconv::cuda
