#include "cpu/ref/loss_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fastconv::ref {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double class_weight(const float* w, int64_t c) { return w ? double(w[c]) : 1.0; }

double weight_total(const float* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += class_weight(w, c);
  return s;
}

// The factor d(total)/d(loss_i) for a reduced loss: 1 for sum, 1/denominator for mean.
double reduce_scale(Reduction r, double denom) { return r == Reduction::mean ? 1.0 / denom : 1.0; }

// Per-position losses go straight to `out` (reduction none) or into one double sum written at the end.
struct Reducer {
  Reduction r;
  float* out;
  double total = 0;
  void put(int64_t i, double l) {
    if (r == Reduction::none)
      out[i] = float(l);
    else
      total += l;
  }
  void finish(double denom) {  // 0/0 = NaN for an empty mean, as in torch
    if (r != Reduction::none) out[0] = float(r == Reduction::mean ? total / denom : total);
  }
};

}  // namespace

double cross_entropy_weight_sum(const CrossEntropyParams& p, const int64_t* tidx, const float* w) {
  if (!tidx) return double(p.N * p.S);
  double s = 0;
  for (int64_t i = 0; i < p.N * p.S; ++i) {
    int64_t y = tidx[i];
    if (y == p.ignore_index) continue;
    s += (y >= 0 && y < p.C) ? class_weight(w, y) : kNaN;
  }
  return s;
}

void cross_entropy(const CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* tprob,
                   const float* w, float* out, float* lse_out) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const double eps = p.label_smoothing;
  Reducer red{p.reduction, out};
  for (int64_t i = 0; i < P; ++i) {
    const int64_t n = i / S, s = i % S;
    auto X = [&](int64_t c) { return double(x[(n * C + c) * S + s]); };
    double m = -std::numeric_limits<double>::infinity(), z = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, X(c));
    for (int64_t c = 0; c < C; ++c) z += std::exp(X(c) - m);
    const double lse = m + std::log(z);
    lse_out[i] = float(m);  // saved as max and log z: their float sum would lose log z's digits for big logits
    lse_out[P + i] = float(std::log(z));
    double smooth = 0;  // -sum_c w_c log_softmax_c
    if (eps > 0)
      for (int64_t c = 0; c < C; ++c) smooth += class_weight(w, c) * (lse - X(c));
    if (tprob) {
      double nll = 0;
      for (int64_t c = 0; c < C; ++c) nll += class_weight(w, c) * double(tprob[(n * C + c) * S + s]) * (lse - X(c));
      red.put(i, (1 - eps) * nll + eps / double(C) * smooth);
    } else {
      const int64_t y = tidx[i];
      if (y == p.ignore_index)
        red.put(i, 0);
      else if (y < 0 || y >= C)
        red.put(i, kNaN);
      else
        red.put(i, (1 - eps) * class_weight(w, y) * (lse - X(y)) + eps / double(C) * smooth);
    }
  }
  red.finish(cross_entropy_weight_sum(p, tidx, w));
}

void cross_entropy_backward(const CrossEntropyParams& p, const float* g, const float* x, const int64_t* tidx,
                            const float* tprob, const float* w, const float* lse, float* dx) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const double eps = p.label_smoothing, wall = weight_total(w, C);
  const double scale = reduce_scale(p.reduction, cross_entropy_weight_sum(p, tidx, w));
  for (int64_t i = 0; i < P; ++i) {
    const int64_t n = i / S, s = i % S;
    const double gi = p.reduction == Reduction::none ? double(g[i]) : double(g[0]) * scale;
    auto at = [&](int64_t c) { return (n * C + c) * S + s; };
    double Q = 0, wy = 0;
    int64_t y = -1;
    if (tprob) {
      for (int64_t c = 0; c < C; ++c) Q += class_weight(w, c) * double(tprob[at(c)]);
      Q = (1 - eps) * Q + eps / double(C) * wall;
    } else {
      y = tidx[i];
      if (y == p.ignore_index) {
        for (int64_t c = 0; c < C; ++c) dx[at(c)] = 0.f;
        continue;
      }
      if (y < 0 || y >= C) {
        for (int64_t c = 0; c < C; ++c) dx[at(c)] = float(kNaN);
        continue;
      }
      wy = class_weight(w, y);
      Q = (1 - eps) * wy + eps / double(C) * wall;
    }
    for (int64_t c = 0; c < C; ++c) {
      double q = eps / double(C) * class_weight(w, c);
      if (tprob) q += (1 - eps) * class_weight(w, c) * double(tprob[at(c)]);
      if (c == y) q += (1 - eps) * wy;
      dx[at(c)] = float(gi * (Q * std::exp(double(x[at(c)]) - double(lse[i]) - double(lse[P + i])) - q));
    }
  }
}

void cross_entropy_target_backward(const CrossEntropyParams& p, const float* g, const float* x, const float* w,
                                   const float* lse, float* dt) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const double scale = reduce_scale(p.reduction, double(P));
  for (int64_t i = 0; i < P; ++i) {
    const int64_t n = i / S, s = i % S;
    const double gi = p.reduction == Reduction::none ? double(g[i]) : double(g[0]) * scale;
    for (int64_t c = 0; c < C; ++c) {
      const int64_t k = (n * C + c) * S + s;
      const double log_softmax = double(x[k]) - double(lse[i]) - double(lse[P + i]);
      dt[k] = float(-gi * class_weight(w, c) * (1 - double(p.label_smoothing)) * log_softmax);
    }
  }
}

void nll_loss(const CrossEntropyParams& p, const float* x, const int64_t* tidx, const float* w, float* out) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  Reducer red{p.reduction, out};
  for (int64_t i = 0; i < P; ++i) {
    const int64_t y = tidx[i], n = i / S, s = i % S;
    if (y == p.ignore_index)
      red.put(i, 0);
    else if (y < 0 || y >= C)
      red.put(i, kNaN);
    else
      red.put(i, -class_weight(w, y) * double(x[(n * C + y) * S + s]));
  }
  red.finish(cross_entropy_weight_sum(p, tidx, w));
}

void nll_loss_backward(const CrossEntropyParams& p, const float* g, const int64_t* tidx, const float* w, float* dx) {
  const int64_t C = p.C, S = p.S, P = p.N * p.S;
  const double scale = reduce_scale(p.reduction, cross_entropy_weight_sum(p, tidx, w));
  for (int64_t k = 0; k < P * C; ++k) dx[k] = 0.f;
  for (int64_t i = 0; i < P; ++i) {
    const int64_t y = tidx[i], n = i / S, s = i % S;
    const double gi = p.reduction == Reduction::none ? double(g[i]) : double(g[0]) * scale;
    if (y == p.ignore_index) continue;
    if (y < 0 || y >= C) {
      for (int64_t c = 0; c < C; ++c) dx[(n * C + c) * S + s] = float(kNaN);
      continue;
    }
    dx[(n * C + y) * S + s] = float(-gi * class_weight(w, y));
  }
}

// ---- element-wise losses ----

namespace {
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))); }
double sign(double d) { return double((d > 0) - (d < 0)); }
}  // namespace

float pointwise_value(const PointwiseParams& p, float xf, float tf, float pwf) {
  const double x = xf, t = tf, d = x - t, z = std::fabs(d), b = p.beta;
  switch (p.kind) {
    case PointwiseLoss::mse: return float(d * d);
    case PointwiseLoss::l1: return float(z);
    case PointwiseLoss::smooth_l1: return float(b == 0 ? z : (z < b ? 0.5 * d * d / b : z - 0.5 * b));
    case PointwiseLoss::huber: return float(z < b ? 0.5 * d * d : b * (z - 0.5 * b));
    case PointwiseLoss::bce:  // torch clamps each log at -100 so a saturated prediction gives a finite loss
      return float((t - 1) * std::max(std::log1p(-x), -100.0) - t * std::max(std::log(x), -100.0));
    case PointwiseLoss::bce_logits: {
      const double pw = pwf;  // -[pw t log s(x) + (1-t) log(1-s(x))] = pw t softplus(-x) + (1-t) softplus(x)
      return float(pw * t * softplus(-x) + (1 - t) * softplus(x));
    }
  }
  return 0.f;
}

float pointwise_grad(const PointwiseParams& p, bool wrt_target, float xf, float tf, float pwf) {
  const double x = xf, t = tf, d = x - t, b = p.beta;
  const double flip = wrt_target ? -1.0 : 1.0;  // the distance losses depend on x - t only
  switch (p.kind) {
    case PointwiseLoss::mse: return float(flip * 2 * d);
    case PointwiseLoss::l1: return float(flip * sign(d));
    case PointwiseLoss::smooth_l1:
      return float(flip * (b == 0 ? sign(d) : (d <= -b ? -1.0 : d >= b ? 1.0 : d / b)));
    case PointwiseLoss::huber: return float(flip * (d <= -b ? -b : d >= b ? b : d));
    case PointwiseLoss::bce:
      if (wrt_target) return float(std::log1p(-x) - std::log(x));  // -logit(x), as torch (unclamped)
      return float((x - t) / std::max((1 - x) * x, 1e-12));
    case PointwiseLoss::bce_logits: {
      const double pw = pwf;
      if (wrt_target) return float(pw * softplus(-x) - softplus(x));
      const double s = 1 / (1 + std::exp(-x));
      return float(s * (pw * t + 1 - t) - pw * t);
    }
  }
  return 0.f;
}

void pointwise_loss(const PointwiseParams& p, const float* x, const float* t, const float* w, const float* pw,
                    int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = (w ? w[i] : 1.f) * pointwise_value(p, x[i], t[i], pw ? pw[i] : 1.f);
}

void pointwise_loss_backward(const PointwiseParams& p, bool wrt_target, const float* g, int64_t g_stride, float scale,
                             const float* x, const float* t, const float* w, const float* pw, int64_t n, float* dx) {
  for (int64_t i = 0; i < n; ++i)
    dx[i] = g[i * g_stride] * scale * (w ? w[i] : 1.f) * pointwise_grad(p, wrt_target, x[i], t[i], pw ? pw[i] : 1.f);
}

// ---- triplet margin loss ----

namespace {
// ||u - v + eps||_p for one row.
double pdist(const TripletParams& q, const float* u, const float* v) {
  double s = 0;
  for (int64_t k = 0; k < q.D; ++k) s += std::pow(std::fabs(double(u[k]) - v[k] + q.eps), double(q.p));
  return std::pow(s, 1.0 / q.p);
}
// acc_u += coef * d||u - v + eps|| / du; acc_v -= the same (either may be null).
void pdist_grad(const TripletParams& q, const float* u, const float* v, double dist, double coef, float* acc_u,
                float* acc_v) {
  if (dist == 0) return;  // torch's norm backward is 0 at 0
  for (int64_t k = 0; k < q.D; ++k) {
    double e = double(u[k]) - v[k] + q.eps;
    double gk = coef * sign(e) * std::pow(std::fabs(e), q.p - 1.0) / std::pow(dist, q.p - 1.0);
    if (acc_u) acc_u[k] += float(gk);
    if (acc_v) acc_v[k] -= float(gk);
  }
}
}  // namespace

void triplet_margin_loss(const TripletParams& q, const float* a, const float* pos, const float* neg, float* out) {
  Reducer red{q.reduction, out};
  for (int64_t i = 0; i < q.N; ++i) {
    const float *ai = a + i * q.D, *pi = pos + i * q.D, *ni = neg + i * q.D;
    double dap = pdist(q, ai, pi), dan = pdist(q, ai, ni);
    if (q.swap) dan = std::min(dan, pdist(q, pi, ni));
    red.put(i, std::max(q.margin + dap - dan, 0.0));
  }
  red.finish(double(q.N));
}

void triplet_margin_loss_backward(const TripletParams& q, const float* g, const float* a, const float* pos,
                                  const float* neg, float* da, float* dp, float* dn) {
  const int64_t total = q.N * q.D;
  for (float* d : {da, dp, dn})
    if (d) std::fill(d, d + total, 0.f);
  const double scale = reduce_scale(q.reduction, double(q.N));
  for (int64_t i = 0; i < q.N; ++i) {
    const int64_t o = i * q.D;
    const float *ai = a + o, *pi = pos + o, *ni = neg + o;
    double dap = pdist(q, ai, pi), dan = pdist(q, ai, ni), dpn = q.swap ? pdist(q, pi, ni) : 0;
    bool swapped = q.swap && dpn < dan;
    double dneg = swapped ? dpn : dan;
    if (!(q.margin + dap - dneg > 0)) continue;
    const double gi = q.reduction == Reduction::none ? double(g[i]) : double(g[0]) * scale;
    pdist_grad(q, ai, pi, dap, gi, da ? da + o : nullptr, dp ? dp + o : nullptr);
    if (swapped)
      pdist_grad(q, pi, ni, dpn, -gi, dp ? dp + o : nullptr, dn ? dn + o : nullptr);
    else
      pdist_grad(q, ai, ni, dan, -gi, da ? da + o : nullptr, dn ? dn + o : nullptr);
  }
}

// ---- cosine similarity ----

void cosine_similarity(const CosineParams& q, const float* x1, const float* x2, float* out) {
  for (int64_t o = 0; o < q.O; ++o)
    for (int64_t i = 0; i < q.I; ++i) {
      double dot = 0, s1 = 0, s2 = 0;
      for (int64_t d = 0; d < q.D; ++d) {
        const int64_t k = (o * q.D + d) * q.I + i;
        dot += double(x1[k]) * x2[k];
        s1 += double(x1[k]) * x1[k];
        s2 += double(x2[k]) * x2[k];
      }
      out[o * q.I + i] = float(dot / (std::max(std::sqrt(s1), double(q.eps)) * std::max(std::sqrt(s2), double(q.eps))));
    }
}

void cosine_similarity_backward(const CosineParams& q, const float* g, const float* x1, const float* x2, float* d1,
                                float* d2) {
  for (int64_t o = 0; o < q.O; ++o)
    for (int64_t i = 0; i < q.I; ++i) {
      auto at = [&](int64_t d) { return (o * q.D + d) * q.I + i; };
      double dot = 0, s1 = 0, s2 = 0;
      for (int64_t d = 0; d < q.D; ++d) {
        dot += double(x1[at(d)]) * x2[at(d)];
        s1 += double(x1[at(d)]) * x1[at(d)];
        s2 += double(x2[at(d)]) * x2[at(d)];
      }
      // torch clamps the norms without recording the clamp, so the norm's own gradient x/||x|| flows unclamped.
      const double r1 = std::sqrt(s1), r2 = std::sqrt(s2);
      const double n1 = std::max(r1, double(q.eps)), n2 = std::max(r2, double(q.eps));
      const double gi = g[o * q.I + i], s = dot / (n1 * n2);
      for (int64_t d = 0; d < q.D; ++d) {
        const double a = x1[at(d)], b = x2[at(d)];
        if (d1) d1[at(d)] = float(gi * (b / (n1 * n2) - (r1 > 0 ? s / n1 * a / r1 : 0.0)));
        if (d2) d2[at(d)] = float(gi * (a / (n1 * n2) - (r2 > 0 ? s / n2 * b / r2 : 0.0)));
      }
    }
}

}  // namespace fastconv::ref
