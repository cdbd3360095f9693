#include "cpu/ref/activation_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fastconv::ref {
namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654, kGeluC = 0.044715;

// relu6(x + 3) / 6; NaN stays NaN.
double hardsigmoid(double x) { return std::isnan(x) ? x : std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }

// Computed in double so the reference is accurate well past float32 rounding.
double act1(const ActParams& p, double x) {
  switch (p.kind) {
    case ActKind::leaky_relu: return x > 0 ? x : x * p.a;
    case ActKind::elu: return x > 0 ? x : p.a * std::expm1(x);
    case ActKind::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case ActKind::tanh: return std::tanh(x);
    case ActKind::threshold: return x <= p.a ? double(p.b) : x;  // NaN is not <= anything: it stays
    case ActKind::hardtanh: return std::isnan(x) ? x : (x < p.a ? p.a : (x > p.b ? p.b : x));
    case ActKind::gelu: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case ActKind::gelu_tanh: return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + kGeluC * x * x * x)));
    case ActKind::softplus:  // torch reverts to the identity where beta*x > threshold
      return x * p.a > p.b ? x : std::log1p(std::exp(x * p.a)) / p.a;
    case ActKind::hardsigmoid: return hardsigmoid(x);
    case ActKind::hardswish: return x * hardsigmoid(x);
    case ActKind::silu: return x / (1.0 + std::exp(-x));
    case ActKind::mish: return x * std::tanh(std::log1p(std::exp(x)));  // torch's mish: no softplus threshold
    case ActKind::selu: return p.b * (x > 0 ? x : p.a * std::expm1(x));
    case ActKind::pow: return std::pow(x, double(p.a));
  }
  return x;
}

double grad1(const ActParams& p, double s) {  // s = y or x, see act_backward_uses_output
  switch (p.kind) {
    case ActKind::leaky_relu: return s > 0 ? 1.0 : p.a;
    case ActKind::elu: return s > 0 ? 1.0 : p.a * std::exp(s);
    case ActKind::sigmoid: return s * (1.0 - s);
    case ActKind::tanh: return 1.0 - s * s;
    case ActKind::threshold: return s > p.a ? 1.0 : 0.0;
    case ActKind::hardtanh: return s > p.a && s < p.b ? 1.0 : 0.0;
    case ActKind::gelu: {
      double cdf = 0.5 * (1.0 + std::erf(s / std::sqrt(2.0)));
      return cdf + s * std::exp(-0.5 * s * s) / std::sqrt(2.0 * M_PI);
    }
    case ActKind::gelu_tanh: {
      double u = kSqrt2OverPi * (s + kGeluC * s * s * s), t = std::tanh(u);
      return 0.5 * (1.0 + t) + 0.5 * s * (1.0 - t * t) * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * s * s);
    }
    case ActKind::softplus: {
      double z = s * p.a;
      return z > p.b ? 1.0 : 1.0 / (1.0 + std::exp(-z));
    }
    // torch's derivative conventions at the kinks: hardsigmoid 1/6 strictly inside (-3, 3); hardswish 0 up to
    // -3, x/3 + 1/2 on (-3, 3), 1 from 3 on (and for NaN, as its comparisons fall through).
    case ActKind::hardsigmoid: return s > -3.0 && s < 3.0 ? 1.0 / 6.0 : 0.0;
    case ActKind::hardswish: return s <= -3.0 ? 0.0 : (s < 3.0 ? s / 3.0 + 0.5 : 1.0);
    case ActKind::silu: {
      const double sg = 1.0 / (1.0 + std::exp(-s));
      return sg * (1.0 + s * (1.0 - sg));
    }
    case ActKind::mish: {
      const double t = std::tanh(std::log1p(std::exp(s))), sg = 1.0 / (1.0 + std::exp(-s));
      return t + s * sg * (1.0 - t * t);
    }
    case ActKind::selu: return s > 0 ? double(p.b) : double(p.b) * p.a * std::exp(s);
    // torch: exponent 0 has gradient 0 everywhere (not 0 * 0^-1 = NaN at 0).
    case ActKind::pow: return p.a == 0.f ? 0.0 : double(p.a) * std::pow(s, double(p.a) - 1.0);
  }
  return 1.0;
}

}  // namespace

void activation(const ActParams& p, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(act1(p, double(x[i])));
}

void activation_backward(const ActParams& p, const float* grad, const float* saved, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = float(double(grad[i]) * grad1(p, double(saved[i])));
}

void prelu(const PreluParams& p, const float* x, const float* w, float* y, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    const float a = w[p.shared ? 0 : c];
    for (int64_t o = 0; o < p.outer; ++o) {
      const int64_t base = (o * p.C + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) {
        const float v = x[base + i];
        y[base + i] = v > 0 ? v : a * v;  // NaN * a stays NaN
      }
    }
  }
}

void prelu_backward(const PreluParams& p, const float* g, const float* x, const float* w, float* dx, double* dw_part,
                    int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    const float a = w[p.shared ? 0 : c];
    double s = 0;
    for (int64_t o = 0; o < p.outer; ++o) {
      const int64_t base = (o * p.C + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i) {
        const float v = x[base + i], gi = g[base + i];
        dx[base + i] = v > 0 ? gi : a * gi;
        if (!(v > 0)) s += double(gi) * double(v);
      }
    }
    dw_part[c] = s;
  }
}

void softmax(const SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const float* xr = x + o * p.dim * p.inner + i;
      float* yr = y + o * p.dim * p.inner + i;
      double mx = -std::numeric_limits<double>::infinity();
      bool nan = false;
      for (int64_t d = 0; d < p.dim; ++d) {
        nan = nan || std::isnan(xr[d * p.inner]);
        mx = std::fmax(mx, double(xr[d * p.inner]));
      }
      double sum = 0;
      for (int64_t d = 0; d < p.dim; ++d) sum += std::exp(double(xr[d * p.inner]) - mx);
      const double lse = mx + std::log(sum);  // a NaN anywhere in the row makes the whole row NaN, as in torch
      for (int64_t d = 0; d < p.dim; ++d) {
        double v = double(xr[d * p.inner]) - lse;
        if (nan) v = std::numeric_limits<double>::quiet_NaN();
        yr[d * p.inner] = float(p.log ? v : std::exp(v));
      }
    }
}

void softmax_backward(const SoftmaxParams& p, const float* grad, const float* y, float* dx, int64_t o0, int64_t o1) {
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t i = 0; i < p.inner; ++i) {
      const int64_t base = o * p.dim * p.inner + i;
      double s = 0;
      for (int64_t d = 0; d < p.dim; ++d) {
        int64_t k = base + d * p.inner;
        s += p.log ? double(grad[k]) : double(grad[k]) * double(y[k]);
      }
      for (int64_t d = 0; d < p.dim; ++d) {
        int64_t k = base + d * p.inner;
        dx[k] = float(p.log ? double(grad[k]) - std::exp(double(y[k])) * s : double(y[k]) * (double(grad[k]) - s));
      }
    }
}

}  // namespace fastconv::ref
