#include "cpu/ref/norm_ref.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fastconv::ref {

void batch_norm(const BatchNormParams& p, const float* x, const float* weight, const float* bias, float* running_mean,
                float* running_var, float* y, float* save_mean, float* save_invstd) {
  const int64_t M = p.N * p.S;
  for (int64_t c = 0; c < p.C; ++c) {
    double mean, invstd;
    if (p.training) {
      double s = 0, ss = 0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < p.S; ++i) s += x[(n * p.C + c) * p.S + i];
      mean = M ? s / double(M) : 0.0;
      for (int64_t n = 0; n < p.N; ++n)
        for (int64_t i = 0; i < p.S; ++i) {
          double d = x[(n * p.C + c) * p.S + i] - mean;
          ss += d * d;
        }
      const double var = M ? ss / double(M) : 0.0;
      invstd = 1.0 / std::sqrt(var + p.eps);
      if (running_mean && M > 0) running_mean[c] = float((1 - p.momentum) * running_mean[c] + p.momentum * mean);
      const int64_t dof = p.running_var_unbiased ? M - 1 : M;
      if (running_var && dof > 0)
        running_var[c] = float((1 - p.momentum) * running_var[c] + p.momentum * ss / double(dof));
    } else {
      mean = running_mean[c];
      invstd = 1.0 / std::sqrt(double(running_var[c]) + p.eps);
    }
    save_mean[c] = float(mean);
    save_invstd[c] = float(invstd);
    const double w = weight ? weight[c] : 1.0, b = bias ? bias[c] : 0.0;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t i = 0; i < p.S; ++i) {
        int64_t k = (n * p.C + c) * p.S + i;
        y[k] = float((x[k] - mean) * invstd * w + b);
      }
  }
}

void batch_norm_backward(const BatchNormParams& p, const float* grad, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, float* dx, float* dweight, float* dbias) {
  const int64_t M = p.N * p.S;
  for (int64_t c = 0; c < p.C; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c], w = weight ? weight[c] : 1.0;
    double sg = 0, sgx = 0;  // sum(g), sum(g * xhat)
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t i = 0; i < p.S; ++i) {
        int64_t k = (n * p.C + c) * p.S + i;
        sg += grad[k];
        sgx += grad[k] * (x[k] - mean) * invstd;
      }
    if (dweight) dweight[c] = float(sgx);
    if (dbias) dbias[c] = float(sg);
    if (!dx) continue;
    for (int64_t n = 0; n < p.N; ++n)
      for (int64_t i = 0; i < p.S; ++i) {
        int64_t k = (n * p.C + c) * p.S + i;
        double v = grad[k];
        if (p.training) v -= (sg + (x[k] - mean) * invstd * sgx) / double(M);
        dx[k] = float(v * w * invstd);
      }
  }
}

void row_norm(const RowNormParams& p, const float* x, const float* weight, const float* bias, float* y, float* mean,
              float* rstd) {
  const int64_t per_group = p.inner ? p.D / p.inner : 0;
  for (int64_t r = 0; r < p.M; ++r) {
    const float* xr = x + r * p.D;
    double s = 0, ss = 0;
    for (int64_t j = 0; j < p.D; ++j) s += xr[j];
    const double mu = p.D ? s / double(p.D) : 0.0;
    for (int64_t j = 0; j < p.D; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
    const double rs = 1.0 / std::sqrt((p.D ? ss / double(p.D) : 0.0) + p.eps);
    mean[r] = float(mu);
    rstd[r] = float(rs);
    for (int64_t j = 0; j < p.D; ++j) {
      int64_t a = (r % p.G) * per_group + j / p.inner;
      y[r * p.D + j] = float((xr[j] - mu) * rs * (weight ? weight[a] : 1.0) + (bias ? bias[a] : 0.0));
    }
  }
}

void row_norm_backward(const RowNormParams& p, const float* grad, const float* x, const float* weight,
                       const float* mean, const float* rstd, float* dx, float* dweight, float* dbias, double* acc) {
  const int64_t per_group = p.inner ? p.D / p.inner : 0, A = p.affine_size();
  std::vector<double> own(acc ? 0 : size_t(2 * A));
  if (!acc) acc = own.data();
  double* dw = acc;
  double* db = acc + A;
  std::fill(acc, acc + 2 * A, 0.0);
  for (int64_t r = 0; r < p.M; ++r) {
    const double mu = mean[r], rs = rstd[r];
    double s1 = 0, s2 = 0;  // mean of dxhat and of dxhat * xhat, times D
    for (int64_t j = 0; j < p.D; ++j) {
      int64_t k = r * p.D + j, a = (r % p.G) * per_group + j / p.inner;
      double xh = (x[k] - mu) * rs, dxh = grad[k] * (weight ? weight[a] : 1.0);
      s1 += dxh;
      s2 += dxh * xh;
      dw[a] += grad[k] * xh;
      db[a] += grad[k];
    }
    if (!dx) continue;
    for (int64_t j = 0; j < p.D; ++j) {
      int64_t k = r * p.D + j, a = (r % p.G) * per_group + j / p.inner;
      double xh = (x[k] - mu) * rs, dxh = grad[k] * (weight ? weight[a] : 1.0);
      dx[k] = float(rs * (dxh - (s1 + xh * s2) / double(p.D)));
    }
  }
  for (int64_t a = 0; a < A; ++a) {
    if (dweight) dweight[a] = float(dw[a]);
    if (dbias) dbias[a] = float(db[a]);
  }
}

namespace {
// Channels whose window holds channel c: the forward window of c is [c - size/2, c + (size-1)/2].
inline int64_t lo_of(const LrnParams& p, int64_t c) { return c - p.size / 2; }
inline int64_t hi_of(const LrnParams& p, int64_t c) { return c + (p.size - 1) / 2; }
}  // namespace

void local_response_norm(const LrnParams& p, const float* x, float* y, float* scale, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t i = 0; i < p.S; ++i) {
        double s = 0;
        for (int64_t j = lo_of(p, c); j <= hi_of(p, c); ++j)
          if (j >= 0 && j < p.C) s += double(x[(n * p.C + j) * p.S + i]) * x[(n * p.C + j) * p.S + i];
        const int64_t k = (n * p.C + c) * p.S + i;
        const double d = p.k + p.alpha / double(p.size) * s;
        scale[k] = float(d);
        y[k] = float(x[k] * std::pow(d, -double(p.beta)));
      }
}

// dx_i = g_i scale_i^-beta - 2 alpha beta / size * x_i * sum over windows c containing i of g_c y_c / scale_c.
void local_response_norm_backward(const LrnParams& p, const float* grad, const float* x, const float* y,
                                  const float* scale, float* dx, int64_t n0, int64_t n1) {
  const double coef = 2.0 * p.alpha * p.beta / double(p.size);
  for (int64_t n = n0; n < n1; ++n)
    for (int64_t i = 0; i < p.C; ++i)
      for (int64_t s = 0; s < p.S; ++s) {
        double acc = 0;
        // c's window [c - size/2, c + (size-1)/2] contains i  <=>  c in [i - (size-1)/2, i + size/2]
        for (int64_t c = i - (p.size - 1) / 2; c <= i + p.size / 2; ++c)
          if (c >= 0 && c < p.C) {
            int64_t k = (n * p.C + c) * p.S + s;
            acc += double(grad[k]) * y[k] / scale[k];
          }
        const int64_t k = (n * p.C + i) * p.S + s;
        dx[k] = float(grad[k] * std::pow(double(scale[k]), -double(p.beta)) - coef * x[k] * acc);
      }
}

}  // namespace fastconv::ref
