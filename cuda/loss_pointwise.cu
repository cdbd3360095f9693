// Element-wise losses, triplet margin loss and cosine similarity. The per-element math mirrors ref::pointwise_value
// / ref::pointwise_grad (double, rounded to float where the reference rounds, float products in the same order),
// so most results are bit-identical to the reference. Triplet rows ([N, D], D contiguous) go to a warp each;
// cosine vectors ([O, D, I], D strided by I) to a thread when I >= 32, else a warp. Gradients are gathers.
#include <math.h>

#include "launch.cuh"
#include "loss.cuh"
#include "rowreduce.cuh"

namespace fastconv::cuda {
namespace {

using namespace rowreduce;
using ref::PointwiseLoss;
using ref::Reduction;

// The reference's std::max(a, b), a < b ? b : a: a NaN `a` stays NaN (fmax would drop it).
__device__ __forceinline__ double dmax(double a, double b) { return a < b ? b : a; }
__device__ __forceinline__ double softplus_(double z) { return dmax(z, 0.0) + log1p(exp(-fabs(z))); }
__device__ __forceinline__ double sign_(double d) { return double((d > 0) - (d < 0)); }

__device__ float pw_value(PointwiseLoss kind, double b, float xf, float tf, float pwf) {
  const double x = xf, t = tf, d = x - t, z = fabs(d);
  switch (kind) {
    case PointwiseLoss::mse: return float(d * d);
    case PointwiseLoss::l1: return float(z);
    case PointwiseLoss::smooth_l1: return float(b == 0 ? z : (z < b ? 0.5 * d * d / b : z - 0.5 * b));
    case PointwiseLoss::huber: return float(z < b ? 0.5 * d * d : b * (z - 0.5 * b));
    case PointwiseLoss::bce: return float((t - 1) * dmax(log1p(-x), -100.0) - t * dmax(log(x), -100.0));
    case PointwiseLoss::bce_logits: {
      const double pw = pwf;
      return float(pw * t * softplus_(-x) + (1 - t) * softplus_(x));
    }
  }
  return 0.f;
}

__device__ float pw_grad(PointwiseLoss kind, double b, bool wrt_target, float xf, float tf, float pwf) {
  const double x = xf, t = tf, d = x - t;
  const double flip = wrt_target ? -1.0 : 1.0;
  switch (kind) {
    case PointwiseLoss::mse: return float(flip * 2 * d);
    case PointwiseLoss::l1: return float(flip * sign_(d));
    case PointwiseLoss::smooth_l1: return float(flip * (b == 0 ? sign_(d) : (d <= -b ? -1.0 : d >= b ? 1.0 : d / b)));
    case PointwiseLoss::huber: return float(flip * (d <= -b ? -b : d >= b ? b : d));
    case PointwiseLoss::bce:
      if (wrt_target) return float(log1p(-x) - log(x));
      return float((x - t) / dmax((1 - x) * x, 1e-12));
    case PointwiseLoss::bce_logits: {
      const double pw = pwf;
      if (wrt_target) return float(pw * softplus_(-x) - softplus_(x));
      const double s = 1 / (1 + exp(-x));
      return float(s * (pw * t + 1 - t) - pw * t);
    }
  }
  return 0.f;
}

// none: out[i]; else per-block partials of the losses and (mean_by_weight) of the weights.
__global__ void pointwise_forward_kernel(PointwiseLoss kind, double beta, const float* x, const float* t,
                                         const float* w, const float* pw, int64_t n, float* out, double* part,
                                         bool none, bool sum_w) {
  double acc = 0, acc_w = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = (w ? w[i] : 1.f) * pw_value(kind, beta, x[i], t[i], pw ? pw[i] : 1.f);
    if (none) out[i] = v;
    acc += v;
    if (sum_w) acc_w += w[i];
  }
  if (!none) block_partials(acc, acc_w, part);
}

__global__ void weight_total_kernel(const float* w, int64_t n, double* part) {
  double acc = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    acc += w[i];
  block_partials(0.0, acc, part);
}

// denom: the device-side sum of the weights ('mean' by weight), or null and `scale` is the factor.
__global__ void pointwise_backward_kernel(PointwiseLoss kind, double beta, bool wrt_target, const float* g,
                                          int64_t g_stride, float scale, const double* denom, const float* x,
                                          const float* t, const float* w, const float* pw, int64_t n, float* dx) {
  const float sc = denom ? float(1.0 / *denom) : scale;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = g[i * g_stride] * sc * (w ? w[i] : 1.f) * pw_grad(kind, beta, wrt_target, x[i], t[i], pw ? pw[i] : 1.f);
}

// ---- triplet ----

struct TripletDev {
  int64_t N, D;
  double margin, p, eps;
  bool swap;
};

__device__ __forceinline__ double pterm(const TripletDev& q, float u, float v) {
  return pow(fabs(double(u) - double(v) + q.eps), q.p);
}

// The row's three distances (dpn only with swap), reduced over the warp.
__device__ void triplet_distances(const TripletDev& q, const float* a, const float* p, const float* n, int lane,
                                  double& dap, double& dan, double& dpn) {
  double sap = 0, san = 0, spn = 0;
  for (int64_t k = lane; k < q.D; k += 32) {
    sap += pterm(q, a[k], p[k]);
    san += pterm(q, a[k], n[k]);
    if (q.swap) spn += pterm(q, p[k], n[k]);
  }
  sap = warp_allreduce(sap, Sum());
  san = warp_allreduce(san, Sum());
  if (q.swap) spn = warp_allreduce(spn, Sum());
  dap = pow(sap, 1.0 / q.p);
  dan = pow(san, 1.0 / q.p);
  dpn = q.swap ? pow(spn, 1.0 / q.p) : 0.0;
}

__global__ void triplet_forward_kernel(TripletDev q, const float* a, const float* pos, const float* neg, float* out,
                                       double* part, bool none) {
  using Grp = Group<32>;
  const int lane = Grp::lane();
  double acc = 0;
  for (int64_t i = Grp::first_row(); i < q.N; i += Grp::row_stride()) {
    const int64_t o = i * q.D;
    double dap, dan, dpn;
    triplet_distances(q, a + o, pos + o, neg + o, lane, dap, dan, dpn);
    if (q.swap) dan = dpn < dan ? dpn : dan;  // std::min(dan, dpn), NaN handling included
    const double l = dmax(q.margin + dap - dan, 0.0);
    if (lane == 0) {
      if (none) out[i] = float(l);
      acc += l;
    }
  }
  if (!none) block_partials(acc, 0.0, part);
}

// coef * d||u - v + eps||_p / du at one element (the reference's pdist_grad term).
__device__ __forceinline__ double pgrad(const TripletDev& q, float u, float v, double coef, double dist_pm1) {
  const double e = double(u) - double(v) + q.eps;
  return coef * sign_(e) * pow(fabs(e), q.p - 1.0) / dist_pm1;
}

__global__ void triplet_backward_kernel(TripletDev q, const float* g, double scale, bool none, const float* a,
                                        const float* pos, const float* neg, float* da, float* dp, float* dn) {
  using Grp = Group<32>;
  const int lane = Grp::lane();
  for (int64_t i = Grp::first_row(); i < q.N; i += Grp::row_stride()) {
    const int64_t o = i * q.D;
    const float *ai = a + o, *pi = pos + o, *ni = neg + o;
    double dap, dan, dpn;
    triplet_distances(q, ai, pi, ni, lane, dap, dan, dpn);
    const bool swapped = q.swap && dpn < dan;
    const bool active = q.margin + dap - (swapped ? dpn : dan) > 0;
    const double gi = none ? double(g[i]) : double(g[0]) * scale;
    const double pap = pow(dap, q.p - 1.0), pan = pow(dan, q.p - 1.0), ppn = pow(dpn, q.p - 1.0);
    for (int64_t k = lane; k < q.D; k += 32) {
      // accumulated in float in the reference's order: (a, p) first, then (a, n) or (p, n)
      float va = 0.f, vp = 0.f, vn = 0.f;
      if (active) {
        if (dap != 0) {
          const float gk = float(pgrad(q, ai[k], pi[k], gi, pap));
          va += gk;
          vp -= gk;
        }
        if (swapped) {
          if (dpn != 0) {
            const float gk = float(pgrad(q, pi[k], ni[k], -gi, ppn));
            vp += gk;
            vn -= gk;
          }
        } else if (dan != 0) {
          const float gk = float(pgrad(q, ai[k], ni[k], -gi, pan));
          va += gk;
          vn -= gk;
        }
      }
      if (da) da[o + k] = va;
      if (dp) dp[o + k] = vp;
      if (dn) dn[o + k] = vn;
    }
  }
}

// ---- cosine similarity ----

template <int G>
__device__ void cosine_sums(const float* x1, const float* x2, int64_t base, int64_t D, int64_t I, int lane,
                            double& dot, double& s1, double& s2) {
  dot = s1 = s2 = 0;
  for (int64_t d = lane; d < D; d += G) {
    const double a = x1[base + d * I], b = x2[base + d * I];
    dot += a * b;
    s1 += a * a;
    s2 += b * b;
  }
  dot = Group<G>::all(dot, Sum());
  s1 = Group<G>::all(s1, Sum());
  s2 = Group<G>::all(s2, Sum());
}

template <int G>
__global__ void cosine_forward_kernel(const float* x1, const float* x2, float* out, int64_t O, int64_t D, int64_t I,
                                      double eps) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  for (int64_t r = Grp::first_row(); r < O * I; r += Grp::row_stride()) {
    const int64_t base = (r / I) * D * I + r % I;
    double dot, s1, s2;
    cosine_sums<G>(x1, x2, base, D, I, lane, dot, s1, s2);
    if (lane == 0) out[r] = float(dot / (dmax(sqrt(s1), eps) * dmax(sqrt(s2), eps)));
  }
}

template <int G>
__global__ void cosine_backward_kernel(const float* g, const float* x1, const float* x2, float* d1, float* d2,
                                       int64_t O, int64_t D, int64_t I, double eps) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  for (int64_t r = Grp::first_row(); r < O * I; r += Grp::row_stride()) {
    const int64_t base = (r / I) * D * I + r % I;
    double dot, s1, s2;
    cosine_sums<G>(x1, x2, base, D, I, lane, dot, s1, s2);
    // torch clamps the norms without recording the clamp: the norm's own gradient x/||x|| flows unclamped
    const double r1 = sqrt(s1), r2 = sqrt(s2), n1 = dmax(r1, eps), n2 = dmax(r2, eps);
    const double gi = g[r], s = dot / (n1 * n2);
    for (int64_t d = lane; d < D; d += G) {
      const int64_t k = base + d * I;
      const double a = x1[k], b = x2[k];
      if (d1) d1[k] = float(gi * (b / (n1 * n2) - (r1 > 0 ? s / n1 * a / r1 : 0.0)));
      if (d2) d2[k] = float(gi * (a / (n1 * n2) - (r2 > 0 ? s / n2 * b / r2 : 0.0)));
    }
  }
}

double* ws_result(void* ws) { return static_cast<double*>(ws); }
double* ws_part(void* ws) { return static_cast<double*>(ws) + 2; }

TripletDev triplet_dev(const ref::TripletParams& q) {
  return {q.N, q.D, double(q.margin), double(q.p), double(q.eps), q.swap};
}

}  // namespace

size_t pointwise_loss_workspace_bytes(Reduction r, int64_t n) {
  return r == Reduction::none ? 0 : loss_detail::partial_bytes(blocks_for_rows(n, 1));
}

void pointwise_loss_forward__cuda(const ref::PointwiseParams& p, Reduction r, bool mean_by_weight, const float* x,
                                  const float* t, const float* w, const float* pw, int64_t n, float* out,
                                  void* workspace, cudaStream_t stream) {
  const bool none = r == Reduction::none, by_w = mean_by_weight && w && r == Reduction::mean;
  const unsigned blocks = blocks_for_rows(n, 1);
  double* part = none ? nullptr : ws_part(workspace);
  if (n > 0)
    launch("pointwise_loss_forward__cuda", pointwise_forward_kernel, dim3(blocks), dim3(kThreads), 0, stream, p.kind,
           double(p.beta), x, t, w, pw, n, out, part, none, by_w);
  if (!none)  // empty: 0 ('sum') or 0/0 ('mean')
    loss_detail::finish_partials("pointwise_loss_forward__cuda(finish)", part, n > 0 ? blocks : 0, r, by_w,
                                 double(n), out, nullptr, stream);
}

size_t pointwise_loss_backward_workspace_bytes(Reduction r, bool mean_by_weight, int64_t n) {
  return r == Reduction::mean && mean_by_weight ? loss_detail::partial_bytes(blocks_for_rows(n, 1)) : 0;
}

void pointwise_loss_backward__cuda(const ref::PointwiseParams& p, Reduction r, bool mean_by_weight, bool wrt_target,
                                   const float* g, const float* x, const float* t, const float* w, const float* pw,
                                   int64_t n, float* dx, void* workspace, cudaStream_t stream) {
  if (n <= 0) return;
  const double* denom = nullptr;
  float scale = 1.f;
  if (r == Reduction::mean) {
    if (mean_by_weight && w) {
      const unsigned blocks = blocks_for_rows(n, 1);
      launch("pointwise_loss_backward__cuda(weight_sum)", weight_total_kernel, dim3(blocks), dim3(kThreads), 0,
             stream, w, n, ws_part(workspace));
      loss_detail::finish_partials("pointwise_loss_backward__cuda(weight_sum)", ws_part(workspace), blocks,
                                   Reduction::sum, false, 1.0, nullptr, ws_result(workspace), stream);
      denom = ws_result(workspace);
    } else {
      scale = float(1.0 / double(n));
    }
  }
  launch("pointwise_loss_backward__cuda", pointwise_backward_kernel, dim3(blocks_for_rows(n, 1)), dim3(kThreads), 0,
         stream, p.kind, double(p.beta), wrt_target, g, int64_t(r == Reduction::none ? 1 : 0), scale, denom, x, t, w,
         pw, n, dx);
}

size_t triplet_margin_loss_workspace_bytes(const ref::TripletParams& q) {
  return q.reduction == Reduction::none ? 0 : loss_detail::partial_bytes(blocks_for_rows(q.N, 32));
}

void triplet_margin_loss_forward__cuda(const ref::TripletParams& q, const float* a, const float* pos,
                                       const float* neg, float* out, void* workspace, cudaStream_t stream) {
  const bool none = q.reduction == Reduction::none;
  const unsigned blocks = blocks_for_rows(q.N, 32);
  double* part = none ? nullptr : ws_part(workspace);
  if (q.N > 0)
    launch("triplet_margin_loss_forward__cuda", triplet_forward_kernel, dim3(blocks), dim3(kThreads), 0, stream,
           triplet_dev(q), a, pos, neg, out, part, none);
  if (!none)
    loss_detail::finish_partials("triplet_margin_loss_forward__cuda(finish)", part, q.N > 0 ? blocks : 0,
                                 q.reduction, false, double(q.N), out, nullptr, stream);
}

void triplet_margin_loss_backward__cuda(const ref::TripletParams& q, const float* g, const float* a,
                                        const float* pos, const float* neg, float* da, float* dp, float* dn,
                                        cudaStream_t stream) {
  if (q.N <= 0 || q.D <= 0 || (!da && !dp && !dn)) return;
  const double scale = q.reduction == Reduction::mean ? 1.0 / double(q.N) : 1.0;
  launch("triplet_margin_loss_backward__cuda", triplet_backward_kernel, dim3(blocks_for_rows(q.N, 32)),
         dim3(kThreads), 0, stream, triplet_dev(q), g, scale, q.reduction == Reduction::none, a, pos, neg, da, dp,
         dn);
}

void cosine_similarity_forward__cuda(const ref::CosineParams& q, const float* x1, const float* x2, float* out,
                                     cudaStream_t stream) {
  const int64_t rows = q.O * q.I;
  if (rows <= 0) return;
  const int G = q.I >= 32 ? 1 : 32;
  launch("cosine_similarity_forward__cuda", G == 1 ? cosine_forward_kernel<1> : cosine_forward_kernel<32>,
         dim3(blocks_for_rows(rows, G)), dim3(kThreads), 0, stream, x1, x2, out, q.O, q.D, q.I, double(q.eps));
}

void cosine_similarity_backward__cuda(const ref::CosineParams& q, const float* g, const float* x1, const float* x2,
                                      float* d1, float* d2, cudaStream_t stream) {
  const int64_t rows = q.O * q.I;
  if (rows <= 0 || q.D <= 0 || (!d1 && !d2)) return;
  const int G = q.I >= 32 ? 1 : 32;
  launch("cosine_similarity_backward__cuda", G == 1 ? cosine_backward_kernel<1> : cosine_backward_kernel<32>,
         dim3(blocks_for_rows(rows, G)), dim3(kThreads), 0, stream, g, x1, x2, d1, d2, q.O, q.D, q.I,
         double(q.eps));
}

}  // namespace fastconv::cuda
