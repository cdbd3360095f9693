// Cross entropy and nll kernels. One loss position (n, s) is a row of C values S apart; a thread takes a row when
// S >= 32 (neighbouring threads read neighbouring positions), a warp otherwise (lanes split the classes). The math
// is the reference's, in double (exp and log included: the losses are small next to the layers before them, and
// double keeps logits of 1e4 exact where float would keep ~3 decimals of the log-sum); only the max, the saved
// lse and the outputs are float. Gradients are gathers: each row writes its own C values, no atomics.
#include <math.h>

#include "launch.cuh"
#include "loss.cuh"
#include "rowreduce.cuh"

namespace fastconv::cuda {
namespace {

using namespace rowreduce;
using ref::CrossEntropyParams;
using ref::Reduction;

__device__ __forceinline__ double class_weight(const float* w, int64_t c) { return w ? double(w[c]) : 1.0; }

int group_for(int64_t S) { return S >= 32 ? 1 : 32; }

template <int G>
__global__ void ce_forward_kernel(const float* x, const int64_t* tidx, const float* tprob, const float* w,
                                  float* out, float* lse, double* part, int64_t P, int64_t C, int64_t S,
                                  int64_t ignore, double eps, bool none) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  double acc = 0, acc_w = 0;
  for (int64_t i = Grp::first_row(); i < P; i += Grp::row_stride()) {
    const int64_t base = (i / S) * C * S + i % S;
    const float* xr = x + base;
    float m = -INFINITY;
    for (int64_t c = lane; c < C; c += G) m = Max()(m, xr[c * S]);
    m = Grp::all(m, Max());
    double z = 0;
    for (int64_t c = lane; c < C; c += G) z += exp(double(xr[c * S]) - double(m));
    z = Grp::all(z, Sum());
    const double logz = log(z), l = double(m) + logz;
    double smooth = 0, nll = 0;  // -sum_c w_c log_softmax_c, and the same weighted by the target probabilities
    if (eps > 0 || tprob) {
      for (int64_t c = lane; c < C; c += G) {
        const double wc = class_weight(w, c), lc = l - double(xr[c * S]);
        if (eps > 0) smooth += wc * lc;
        if (tprob) nll += wc * double(tprob[base + c * S]) * lc;
      }
      if (eps > 0) smooth = Grp::all(smooth, Sum());  // eps and tprob are the same for the whole grid
      if (tprob) nll = Grp::all(nll, Sum());
    }
    double loss, weight;
    if (tprob) {
      loss = (1 - eps) * nll + eps / double(C) * smooth;
      weight = 1;
    } else {
      const int64_t y = tidx[i];
      if (y == ignore) {
        loss = 0;
        weight = 0;
      } else if (y < 0 || y >= C) {
        loss = weight = double(NAN);
      } else {
        weight = class_weight(w, y);
        loss = (1 - eps) * weight * (l - double(xr[y * S])) + eps / double(C) * smooth;
      }
    }
    if (lane == 0) {
      lse[i] = m;
      lse[P + i] = float(logz);
      if (none) out[i] = float(loss);
      acc += loss;
      acc_w += weight;
    }
  }
  if (!none) block_partials(acc, acc_w, part);
}

// wsum: the device-side 'mean' denominator (class targets), or null and `scale` holds the factor.
template <int G>
__global__ void ce_backward_kernel(const float* g, const float* x, const int64_t* tidx, const float* tprob,
                                   const float* w, const float* lse, float* dx, const double* wsum, double scale,
                                   int64_t P, int64_t C, int64_t S, int64_t ignore, double eps, bool none) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  const double sc = wsum ? 1.0 / *wsum : scale;
  double wall = 0;
  for (int64_t c = lane; c < C; c += G) wall += class_weight(w, c);
  wall = Grp::all(wall, Sum());
  const double epsc = eps / double(C);
  for (int64_t i = Grp::first_row(); i < P; i += Grp::row_stride()) {
    const int64_t base = (i / S) * C * S + i % S;
    const double gi = none ? double(g[i]) : double(g[0]) * sc;
    double Q, wy = 0;
    int64_t y = -1;
    if (tprob) {
      double wt = 0;
      for (int64_t c = lane; c < C; c += G) wt += class_weight(w, c) * double(tprob[base + c * S]);
      Q = (1 - eps) * Grp::all(wt, Sum()) + epsc * wall;
    } else {
      y = tidx[i];
      if (y == ignore || y < 0 || y >= C) {  // the whole group sees the same y
        const float v = y == ignore ? 0.f : NAN;
        for (int64_t c = lane; c < C; c += G) dx[base + c * S] = v;
        continue;
      }
      wy = class_weight(w, y);
      Q = (1 - eps) * wy + epsc * wall;
    }
    const double m = lse[i], logz = lse[P + i];
    for (int64_t c = lane; c < C; c += G) {
      const int64_t k = base + c * S;
      double q = epsc * class_weight(w, c);
      if (tprob) q += (1 - eps) * class_weight(w, c) * double(tprob[k]);
      if (c == y) q += (1 - eps) * wy;
      dx[k] = float(gi * (Q * exp(double(x[k]) - m - logz) - q));
    }
  }
}

// Per-block sums of the target class weights (NaN for out-of-range targets, nothing for ignored ones).
__global__ void weight_sum_kernel(const int64_t* tidx, const float* w, double* part, int64_t P, int64_t C,
                                  int64_t ignore) {
  double acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < P; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = tidx[i];
    if (y != ignore) acc += (y >= 0 && y < C) ? class_weight(w, y) : double(NAN);
  }
  block_partials(0.0, acc, part);
}

__global__ void ce_target_backward_kernel(const float* g, const float* x, const float* w, const float* lse,
                                          float* dt, double scale, int64_t P, int64_t C, int64_t S, double eps,
                                          bool none) {
  const int64_t total = P * C;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = k % S, c = (k / S) % C, i = (k / (S * C)) * S + s;
    const double gi = none ? double(g[i]) : double(g[0]) * scale;
    const double log_softmax = double(x[k]) - double(lse[i]) - double(lse[P + i]);
    dt[k] = float(-gi * class_weight(w, c) * (1 - eps) * log_softmax);
  }
}

__global__ void nll_forward_kernel(const float* x, const int64_t* tidx, const float* w, float* out, double* part,
                                   int64_t P, int64_t C, int64_t S, int64_t ignore, bool none) {
  double acc = 0, acc_w = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < P; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t y = tidx[i];
    double loss = 0, weight = 0;
    if (y == ignore) {
    } else if (y < 0 || y >= C) {
      loss = weight = double(NAN);
    } else {
      weight = class_weight(w, y);
      loss = -weight * double(x[((i / S) * C + y) * S + i % S]);
    }
    if (none) out[i] = float(loss);
    acc += loss;
    acc_w += weight;
  }
  if (!none) block_partials(acc, acc_w, part);
}

__global__ void nll_backward_kernel(const float* g, const int64_t* tidx, const float* w, float* dx,
                                    const double* wsum, double scale, int64_t P, int64_t C, int64_t S,
                                    int64_t ignore, bool none) {
  const double sc = wsum ? 1.0 / *wsum : scale;
  const int64_t total = P * C;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < total;
       k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = k % S, c = (k / S) % C, i = (k / (S * C)) * S + s;
    const int64_t y = tidx[i];
    float v = 0.f;
    if (y == ignore) {
    } else if (y < 0 || y >= C) {
      v = NAN;
    } else if (c == y) {
      const double gi = none ? double(g[i]) : double(g[0]) * sc;
      v = float(-gi * class_weight(w, y));
    }
    dx[k] = v;
  }
}

__global__ void finish_partials_kernel(const double* part, unsigned blocks, bool mean, bool denom_from_part,
                                       double denom, float* out, double* sum1) {
  double a = 0, b = 0;
  for (unsigned j = threadIdx.x; j < blocks; j += blockDim.x) {
    a += part[2 * size_t(j)];
    b += part[2 * size_t(j) + 1];
  }
  a = block_allreduce(a, Sum());
  b = block_allreduce(b, Sum());
  if (threadIdx.x == 0) {
    if (out) out[0] = float(mean ? a / (denom_from_part ? b : denom) : a);
    if (sum1) *sum1 = b;
  }
}

double* ws_result(void* ws) { return static_cast<double*>(ws); }
double* ws_part(void* ws) { return static_cast<double*>(ws) + 2; }

// Writes the device-side sum of the target weights into ws_result(ws).
void weight_sum(const char* name, const CrossEntropyParams& p, const int64_t* tidx, const float* w, void* ws,
                cudaStream_t stream) {
  const int64_t P = p.N * p.S;
  const unsigned blocks = blocks_for_rows(P, 1);
  if (P > 0)
    launch(name, weight_sum_kernel, dim3(blocks), dim3(kThreads), 0, stream, tidx, w, ws_part(ws), P, p.C,
           p.ignore_index);
  loss_detail::finish_partials(name, ws_part(ws), P > 0 ? blocks : 0, Reduction::sum, false, 1.0, nullptr,
                               ws_result(ws), stream);
}

dim3 elementwise_grid(int64_t n) { return dim3(blocks_for_rows(n, 1)); }

}  // namespace

namespace loss_detail {
void finish_partials(const char* name, const double* part, unsigned blocks, Reduction r, bool denom_from_part,
                     double denom, float* out, double* sum1, cudaStream_t stream) {
  launch(name, finish_partials_kernel, dim3(1), dim3(kThreads), 0, stream, part, blocks, r == Reduction::mean,
         denom_from_part, denom, out, sum1);
}
}  // namespace loss_detail

size_t cross_entropy_workspace_bytes(const CrossEntropyParams& p) {
  if (p.reduction == Reduction::none) return 0;
  return loss_detail::partial_bytes(blocks_for_rows(p.N * p.S, group_for(p.S)));
}

void cross_entropy_forward__cuda(const CrossEntropyParams& p, const float* x, const int64_t* tidx,
                                 const float* tprob, const float* w, float* out, float* lse, void* workspace,
                                 cudaStream_t stream) {
  const int64_t P = p.N * p.S;
  const bool none = p.reduction == Reduction::none;
  const int G = group_for(p.S);
  const unsigned blocks = blocks_for_rows(P, G);
  double* part = none ? nullptr : ws_part(workspace);
  if (P > 0) {
    auto kernel = G == 1 ? ce_forward_kernel<1> : ce_forward_kernel<32>;
    launch("cross_entropy_forward__cuda", kernel, dim3(blocks), dim3(kThreads), 0, stream, x, tidx, tprob, w, out,
           lse, part, P, p.C, p.S, p.ignore_index, double(p.label_smoothing), none);
  }
  if (!none)  // an empty batch still writes its 0 ('sum') or 0/0 ('mean')
    loss_detail::finish_partials("cross_entropy_forward__cuda(finish)", part, P > 0 ? blocks : 0, p.reduction, true,
                                 0.0, out, nullptr, stream);
}

size_t cross_entropy_backward_workspace_bytes(const CrossEntropyParams& p) {
  return p.reduction == Reduction::mean ? loss_detail::partial_bytes(blocks_for_rows(p.N * p.S, 1)) : 0;
}

void cross_entropy_backward__cuda(const CrossEntropyParams& p, const float* g, const float* x, const int64_t* tidx,
                                  const float* tprob, const float* w, const float* lse, float* dx, void* workspace,
                                  cudaStream_t stream) {
  const int64_t P = p.N * p.S;
  if (P <= 0 || p.C <= 0) return;
  const double* wsum = nullptr;
  double scale = 1.0;
  if (p.reduction == Reduction::mean) {
    if (tidx) {
      weight_sum("cross_entropy_backward__cuda(weight_sum)", p, tidx, w, workspace, stream);
      wsum = ws_result(workspace);
    } else {
      scale = 1.0 / double(P);
    }
  }
  const int G = group_for(p.S);
  auto kernel = G == 1 ? ce_backward_kernel<1> : ce_backward_kernel<32>;
  launch("cross_entropy_backward__cuda", kernel, dim3(blocks_for_rows(P, G)), dim3(kThreads), 0, stream, g, x, tidx,
         tprob, w, lse, dx, wsum, scale, P, p.C, p.S, p.ignore_index, double(p.label_smoothing),
         p.reduction == Reduction::none);
}

void cross_entropy_target_backward__cuda(const CrossEntropyParams& p, const float* g, const float* x,
                                         const float* w, const float* lse, float* dt, cudaStream_t stream) {
  const int64_t P = p.N * p.S, total = P * p.C;
  if (total <= 0) return;
  const double scale = p.reduction == Reduction::mean ? 1.0 / double(P) : 1.0;
  launch("cross_entropy_target_backward__cuda", ce_target_backward_kernel, elementwise_grid(total), dim3(kThreads),
         0, stream, g, x, w, lse, dt, scale, P, p.C, p.S, double(p.label_smoothing), p.reduction == Reduction::none);
}

size_t nll_loss_workspace_bytes(const CrossEntropyParams& p) {
  return p.reduction == Reduction::none ? 0 : loss_detail::partial_bytes(blocks_for_rows(p.N * p.S, 1));
}

void nll_loss_forward__cuda(const CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* w,
                            float* out, void* workspace, cudaStream_t stream) {
  const int64_t P = p.N * p.S;
  const bool none = p.reduction == Reduction::none;
  const unsigned blocks = blocks_for_rows(P, 1);
  double* part = none ? nullptr : ws_part(workspace);
  if (P > 0)
    launch("nll_loss_forward__cuda", nll_forward_kernel, dim3(blocks), dim3(kThreads), 0, stream, x, tidx, w, out,
           part, P, p.C, p.S, p.ignore_index, none);
  if (!none)
    loss_detail::finish_partials("nll_loss_forward__cuda(finish)", part, P > 0 ? blocks : 0, p.reduction, true, 0.0,
                                 out, nullptr, stream);
}

size_t nll_loss_backward_workspace_bytes(const CrossEntropyParams& p) {
  return p.reduction == Reduction::mean ? loss_detail::partial_bytes(blocks_for_rows(p.N * p.S, 1)) : 0;
}

void nll_loss_backward__cuda(const CrossEntropyParams& p, const float* g, const int64_t* tidx, const float* w,
                             float* dx, void* workspace, cudaStream_t stream) {
  const int64_t P = p.N * p.S, total = P * p.C;
  if (total <= 0) return;
  const double* wsum = nullptr;
  if (p.reduction == Reduction::mean) {
    weight_sum("nll_loss_backward__cuda(weight_sum)", p, tidx, w, workspace, stream);
    wsum = ws_result(workspace);
  }
  launch("nll_loss_backward__cuda", nll_backward_kernel, elementwise_grid(total), dim3(kThreads), 0, stream, g, tidx,
         w, dx, wsum, 1.0, P, p.C, p.S, p.ignore_index, p.reduction == Reduction::none);
}

}  // namespace fastconv::cuda
