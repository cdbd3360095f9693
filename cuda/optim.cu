// Optimizer update kernels (grid-stride, element-wise) and the two grad-norm reductions. The float32 arithmetic is
// written with the _rn intrinsics under nvcc: they forbid the FMA contraction nvcc would otherwise apply, which
// would round differently from the reference's separate multiply and add. sqrtf and '/' are IEEE-rounded by default.
#include "optim.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
constexpr int64_t kChunk = 4096;

#ifdef FASTCONV_CUDA_EMU
__device__ __forceinline__ float mul(float a, float b) { return a * b; }
__device__ __forceinline__ float add(float a, float b) { return a + b; }
__device__ __forceinline__ float sub(float a, float b) { return a - b; }
#else
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
#endif

// The device coefficient replaces the host's grad scale but keeps its sign: maximize steps along -grad, clipped
// or not (the CPU's sign * coefficient, exactly).
__device__ __forceinline__ float device_scale(float gs, const float* d_gs) {
  if (!d_gs) return gs;
  return gs < 0 ? -*d_gs : *d_gs;
}

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

__global__ void sgd_kernel(float* param, const float* grad, float* buf, int64_t n, float lr, float wd, float mom,
                           float damp, bool has_wd, bool has_mom, bool nesterov, bool first, float gs,
                           const float* d_gs, StepScalars dev) {
  const float scale = device_scale(gs, d_gs);
  if (dev.lr) lr = float(*dev.lr);
  if (dev.step) first = *dev.step == 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float d = mul(grad[i], scale);
    if (has_wd) d = add(d, mul(wd, param[i]));
    if (has_mom) {
      const float b = first ? d : add(mul(buf[i], mom), mul(damp, d));
      buf[i] = b;
      d = nesterov ? add(d, mul(mom, b)) : b;
    }
    param[i] = sub(param[i], mul(lr, d));
  }
}

struct AdamScalars {
  float b1c, b2, b2c, wd, eps, bc2, step, decay;
};

// The host's arithmetic of ops/optim.cpp, in double: t = step + 1, step size -(lr / (1 - beta1^t)).
__device__ void adam_scalars_from(const StepScalars& dev, double beta1, double beta2, double wd, AdamScalars* k) {
  const double lr = *dev.lr, t = double(*dev.step + 1);
  k->bc2 = float(sqrt(1.0 - pow(beta2, t)));
  k->step = float(-(lr / (1.0 - pow(beta1, t))));
  k->decay = float(1.0 - lr * wd);
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, float* vmax, int64_t n,
                            AdamScalars k, bool has_wd, bool decoupled, bool amsgrad, float gs, const float* d_gs,
                            StepScalars dev, double beta1, double beta2, double wd) {
  const float scale = device_scale(gs, d_gs);
  if (dev.lr) adam_scalars_from(dev, beta1, beta2, wd, &k);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float g = mul(grad[i], scale);
    if (decoupled) param[i] = mul(param[i], k.decay);
    else if (has_wd) g = add(g, mul(k.wd, param[i]));
    const float mi = add(m[i], mul(k.b1c, sub(g, m[i])));
    m[i] = mi;
    const float vi = add(mul(v[i], k.b2), mul(mul(k.b2c, g), g));
    v[i] = vi;
    float s = vi;
    if (amsgrad) {
      const float vm = vmax[i];
      s = vm < vi ? vi : vm;  // std::max(vmax, v)
      vmax[i] = s;
    }
    const float denom = add(sqrtf(s) / k.bc2, k.eps);
    param[i] = add(param[i], mul(k.step, mi / denom));
  }
}

__global__ void rmsprop_kernel(float* param, const float* grad, float* sq, float* buf, float* gavg, int64_t n, float a,
                               float ac, float wd, float eps, float lr, float mom, bool has_wd, bool centered,
                               bool has_mom, float gs, const float* d_gs, StepScalars dev) {
  const float scale = device_scale(gs, d_gs);
  if (dev.lr) lr = float(*dev.lr);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float g = mul(grad[i], scale);
    if (has_wd) g = add(g, mul(wd, param[i]));
    const float si = add(mul(sq[i], a), mul(mul(ac, g), g));
    sq[i] = si;
    float avg;
    if (centered) {
      const float ga = add(gavg[i], mul(ac, sub(g, gavg[i])));
      gavg[i] = ga;
      avg = sqrtf(sub(si, mul(ga, ga)));
    } else {
      avg = sqrtf(si);
    }
    avg = add(avg, eps);
    if (has_mom) {
      const float b = add(mul(buf[i], mom), g / avg);
      buf[i] = b;
      param[i] = sub(param[i], mul(lr, b));
    } else {
      param[i] = sub(param[i], mul(lr, g / avg));
    }
  }
}

__global__ void adadelta_kernel(float* param, const float* grad, float* sq, float* acc, int64_t n, float rho,
                                float rc, float wd, float eps, float lr, bool has_wd, float gs, const float* d_gs,
                                StepScalars dev) {
  const float scale = device_scale(gs, d_gs);
  if (dev.lr) lr = float(*dev.lr);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float g = mul(grad[i], scale);
    if (has_wd) g = add(g, mul(wd, param[i]));
    const float si = add(mul(sq[i], rho), mul(mul(rc, g), g));
    sq[i] = si;
    const float delta = mul(sqrtf(add(acc[i], eps)) / sqrtf(add(si, eps)), g);
    acc[i] = add(mul(acc[i], rho), mul(mul(rc, delta), delta));
    param[i] = sub(param[i], mul(lr, delta));
  }
}

// step: -clr as a float; with dev.step, clr = lr / (1 + step_index * lr_decay) in double, as on the host.
__global__ void adagrad_kernel(float* param, const float* grad, float* sum, int64_t n, float wd, float eps,
                               float init, float step, bool first, double lr_decay, bool has_wd, float gs,
                               const float* d_gs, StepScalars dev) {
  const float scale = device_scale(gs, d_gs);
  if (dev.lr && dev.step) {
    step = float(-(*dev.lr / (1.0 + double(*dev.step) * lr_decay)));
    first = *dev.step == 0;
  }
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float g = mul(grad[i], scale);
    if (has_wd) g = add(g, mul(wd, param[i]));
    const float s = add(first ? init : sum[i], mul(g, g));
    sum[i] = s;
    param[i] = add(param[i], mul(step, g) / add(sqrtf(s), eps));
  }
}

// kMax: part[q] = max of |x| over chunk q (NaN skipped); else the sum of x^2 in double.
template <bool kMax>
__global__ void reduce_partial_kernel(const float* x, int64_t n, int64_t nchunk, double* part) {
  __shared__ double sh[kThreads];
  const unsigned t = threadIdx.x;
  for (int64_t q = blockIdx.x; q < nchunk; q += gridDim.x) {
    const int64_t j1 = (q + 1) * kChunk < n ? (q + 1) * kChunk : n;
    double s = 0;
    for (int64_t j = q * kChunk + t; j < j1; j += kThreads) {
      const double v = x[j];
      if constexpr (kMax) {
        const double a = fabs(v);
        if (s < a) s = a;
      } else {
        s += v * v;
      }
    }
    sh[t] = s;
    __syncthreads();
    for (unsigned h = kThreads / 2; h > 0; h /= 2) {
      if (t < h) {
        if constexpr (kMax) sh[t] = sh[t] < sh[t + h] ? sh[t + h] : sh[t];
        else sh[t] += sh[t + h];
      }
      __syncthreads();
    }
    if (t == 0) part[q] = sh[0];
    __syncthreads();
  }
}

// One block: thread t combines parts t, t + kThreads, ... in order, then the fixed tree.
template <bool kMax>
__global__ void reduce_final_kernel(const double* part, int64_t nchunk, double* out) {
  __shared__ double sh[kThreads];
  const unsigned t = threadIdx.x;
  double s = 0;
  for (int64_t q = t; q < nchunk; q += kThreads) {
    if constexpr (kMax) s = s < part[q] ? part[q] : s;
    else s += part[q];
  }
  sh[t] = s;
  __syncthreads();
  for (unsigned h = kThreads / 2; h > 0; h /= 2) {
    if (t < h) {
      if constexpr (kMax) sh[t] = sh[t] < sh[t + h] ? sh[t + h] : sh[t];
      else sh[t] += sh[t + h];
    }
    __syncthreads();
  }
  if (t == 0) *out = sh[0];
}

// ops/optim.cpp's clip_grad_coef on the host, one thread: the same double accumulation and float32 formula.
__global__ void clip_coef_kernel(const double* parts, int count, bool inf, double max_norm, float* coef) {
  double acc = 0;
  for (int i = 0; i < count; ++i) acc = inf ? (acc < parts[i] ? parts[i] : acc) : acc + parts[i];
  const float total = float(inf ? acc : sqrt(acc));
  const float c = float(max_norm) / (total + 1e-6f);
  *coef = c < 1.f ? c : 1.f;
}

__global__ void counter_kernel(int64_t* counter, int64_t* before) {
  const int64_t v = *counter;
  *before = v;
  *counter = v + 1;
}

int64_t chunks(int64_t n) { return n > 0 ? (n + kChunk - 1) / kChunk : 0; }

template <bool kMax>
void reduce(const char* name, const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream) {
  const int64_t nchunk = chunks(n);
  double* part = static_cast<double*>(workspace);
  if (nchunk > 0)
    launch(name, reduce_partial_kernel<kMax>, dim3(unsigned(nchunk < kMaxBlocks ? nchunk : kMaxBlocks)),
           dim3(kThreads), 0, stream, x, n, nchunk, part);
  launch(name, reduce_final_kernel<kMax>, dim3(1), dim3(kThreads), 0, stream, part, nchunk, out);
}

}  // namespace

void sgd_update__cuda(const ref::SgdParams& p, float* param, const float* grad, float* buf, int64_t n,
                      cudaStream_t stream, const float* d_grad_scale, StepScalars dev) {
  if (n <= 0) return;
  launch("sgd_update__cuda", sgd_kernel, grid_for(n), dim3(kThreads), 0, stream, param, grad, buf, n, float(p.lr),
         float(p.weight_decay), float(p.momentum), float(1.0 - p.dampening), p.weight_decay != 0, p.momentum != 0,
         p.nesterov, p.first_step, p.grad_scale, d_grad_scale, dev);
}

void adam_update__cuda(const ref::AdamParams& p, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       float* max_exp_avg_sq, int64_t n, cudaStream_t stream, const float* d_grad_scale,
                       StepScalars dev) {
  if (n <= 0) return;
  const AdamScalars k{float(1.0 - p.beta1), float(p.beta2), float(1.0 - p.beta2), float(p.weight_decay),
                      float(p.eps), float(p.bias_correction2_sqrt), float(-(p.lr / p.bias_correction1)),
                      float(1.0 - p.lr * p.weight_decay)};
  launch("adam_update__cuda", adam_kernel, grid_for(n), dim3(kThreads), 0, stream, param, grad, exp_avg, exp_avg_sq,
         max_exp_avg_sq, n, k, p.weight_decay != 0, p.decoupled, p.amsgrad, p.grad_scale, d_grad_scale, dev, p.beta1,
         p.beta2, p.weight_decay);
}

void rmsprop_update__cuda(const ref::RmspropParams& p, float* param, const float* grad, float* square_avg, float* buf,
                          float* grad_avg, int64_t n, cudaStream_t stream, const float* d_grad_scale,
                          StepScalars dev) {
  if (n <= 0) return;
  launch("rmsprop_update__cuda", rmsprop_kernel, grid_for(n), dim3(kThreads), 0, stream, param, grad, square_avg, buf,
         grad_avg, n, float(p.alpha), float(1.0 - p.alpha), float(p.weight_decay), float(p.eps), float(p.lr),
         float(p.momentum), p.weight_decay != 0, p.centered, p.momentum > 0, p.grad_scale, d_grad_scale, dev);
}

void adadelta_update__cuda(const ref::AdadeltaParams& p, float* param, const float* grad, float* square_avg,
                           float* acc_delta, int64_t n, cudaStream_t stream, const float* d_grad_scale,
                           StepScalars dev) {
  if (n <= 0) return;
  launch("adadelta_update__cuda", adadelta_kernel, grid_for(n), dim3(kThreads), 0, stream, param, grad, square_avg,
         acc_delta, n, float(p.rho), float(1.0 - p.rho), float(p.weight_decay), float(p.eps), float(p.lr),
         p.weight_decay != 0, p.grad_scale, d_grad_scale, dev);
}

void adagrad_update__cuda(const ref::AdagradParams& p, float* param, const float* grad, float* sum, int64_t n,
                          cudaStream_t stream, const float* d_grad_scale, StepScalars dev) {
  if (n <= 0) return;
  launch("adagrad_update__cuda", adagrad_kernel, grid_for(n), dim3(kThreads), 0, stream, param, grad, sum, n,
         float(p.weight_decay), float(p.eps), float(p.initial_accumulator_value), float(-p.clr), p.first_step,
         p.lr_decay, p.weight_decay != 0, p.grad_scale, d_grad_scale, dev);
}

size_t sum_squares_workspace_bytes(int64_t n) { return size_t(chunks(n)) * sizeof(double); }
size_t max_abs_workspace_bytes(int64_t n) { return size_t(chunks(n)) * sizeof(double); }

void sum_squares__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream) {
  reduce<false>("sum_squares__cuda", x, n, out, workspace, stream);
}

void max_abs__cuda(const float* x, int64_t n, double* out, void* workspace, cudaStream_t stream) {
  reduce<true>("max_abs__cuda", x, n, out, workspace, stream);
}

void clip_coef__cuda(const double* parts, int count, bool inf, double max_norm, float* coef, cudaStream_t stream) {
  launch("clip_coef__cuda", clip_coef_kernel, dim3(1), dim3(1), 0, stream, parts, count, inf, max_norm, coef);
}

void counter_increment__cuda(int64_t* counter, int64_t* before, cudaStream_t stream) {
  launch("counter_increment__cuda", counter_kernel, dim3(1), dim3(1), 0, stream, counter, before);
}

}  // namespace fastconv::cuda
