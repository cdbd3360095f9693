#include "cpu/norm.h"

#include <algorithm>
#include <cmath>

namespace fastconv::cpu {
namespace {

constexpr int64_t kBlock = 64;  // channels per block on the [N, C] path (stack accumulators)

// Float partial sums over a contiguous run (vectorisable), folded into double by the callers per run.
inline float run_sum(const float* x, int64_t n) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return s;
}
inline float run_sqdev(const float* x, int64_t n, float mean) {
  float s = 0.f;
  for (int64_t i = 0; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

void finish_stats(const ref::BatchNormParams& p, int64_t c, double mean, double ss, float* running_mean,
                  float* running_var, float* save_mean, float* save_invstd) {
  const int64_t M = p.N * p.S;
  save_mean[c] = float(mean);
  save_invstd[c] = float(1.0 / std::sqrt((M ? ss / double(M) : 0.0) + p.eps));
  if (running_mean && M > 0) running_mean[c] = float((1 - p.momentum) * running_mean[c] + p.momentum * mean);
  const int64_t dof = p.running_var_unbiased ? M - 1 : M;
  if (running_var && dof > 0) running_var[c] = float((1 - p.momentum) * running_var[c] + p.momentum * ss / double(dof));
}

}  // namespace

void batch_norm__channels(const ref::BatchNormParams& p, const float* x, const float* weight, const float* bias,
                          float* running_mean, float* running_var, float* y, float* save_mean, float* save_invstd,
                          int64_t c0, int64_t c1) {
  const int64_t N = p.N, C = p.C, S = p.S, M = N * S;
  if (p.training) {
    if (S == 1) {  // [N, C]: walk rows, a block of channels at a time, so loads stay contiguous
      for (int64_t cb = c0; cb < c1; cb += kBlock) {
        const int64_t w = std::min(kBlock, c1 - cb);
        double s[kBlock] = {}, ss[kBlock] = {};
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < w; ++j) s[j] += x[n * C + cb + j];
        for (int64_t j = 0; j < w; ++j) s[j] = M ? s[j] / double(M) : 0.0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = 0; j < w; ++j) {
            double d = x[n * C + cb + j] - s[j];
            ss[j] += d * d;
          }
        for (int64_t j = 0; j < w; ++j) finish_stats(p, cb + j, s[j], ss[j], running_mean, running_var, save_mean,
                                                     save_invstd);
      }
    } else {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0, ss = 0;
        for (int64_t n = 0; n < N; ++n) s += run_sum(x + (n * C + c) * S, S);
        const double mean = M ? s / double(M) : 0.0;
        for (int64_t n = 0; n < N; ++n) ss += run_sqdev(x + (n * C + c) * S, S, float(mean));
        finish_stats(p, c, mean, ss, running_mean, running_var, save_mean, save_invstd);
      }
    }
  } else {
    for (int64_t c = c0; c < c1; ++c) {
      save_mean[c] = running_mean[c];
      save_invstd[c] = float(1.0 / std::sqrt(double(running_var[c]) + p.eps));
    }
  }
  // (x - mean) * scale + bias: folding the mean into the shift would cancel badly when |mean| >> std
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = c0; c < c1; ++c) {
      const float sc = save_invstd[c] * (weight ? weight[c] : 1.f), m = save_mean[c], b = bias ? bias[c] : 0.f;
      const float* xr = x + (n * C + c) * S;
      float* yr = y + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) yr[i] = (xr[i] - m) * sc + b;
    }
}

void batch_norm_backward__channels(const ref::BatchNormParams& p, const float* grad, const float* x,
                                   const float* weight, const float* save_mean, const float* save_invstd, float* dx,
                                   float* dweight, float* dbias, int64_t c0, int64_t c1) {
  const int64_t N = p.N, C = p.C, S = p.S, M = N * S;
  for (int64_t cb = c0; cb < c1; cb += kBlock) {
    const int64_t w = std::min(kBlock, c1 - cb);
    double sg[kBlock] = {}, sgx[kBlock] = {};  // sum g, sum g * (x - mean)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t c = cb + j;
        const float* g = grad + (n * C + c) * S;
        const float* xr = x + (n * C + c) * S;
        const float m = save_mean[c];
        float a = 0.f, b = 0.f;
        for (int64_t i = 0; i < S; ++i) {
          a += g[i];
          b += g[i] * (xr[i] - m);
        }
        sg[j] += a;
        sgx[j] += b;
      }
    float k1[kBlock], k2[kBlock], k3[kBlock];  // dx = g * k1 - (x - mean) * k2 - k3
    for (int64_t j = 0; j < w; ++j) {
      const int64_t c = cb + j;
      const double is = save_invstd[c], wt = weight ? weight[c] : 1.0;
      if (dweight) dweight[c] = float(sgx[j] * is);
      if (dbias) dbias[c] = float(sg[j]);
      k1[j] = float(wt * is);
      k2[j] = p.training && M ? float(wt * is * is * is * sgx[j] / double(M)) : 0.f;
      k3[j] = p.training && M ? float(wt * is * sg[j] / double(M)) : 0.f;
    }
    if (!dx) continue;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t c = cb + j, off = (n * C + c) * S;
        const float m = save_mean[c], a = k1[j], b = k2[j], d = k3[j];
        for (int64_t i = 0; i < S; ++i) dx[off + i] = grad[off + i] * a - (x[off + i] - m) * b - d;
      }
  }
}

void row_norm__rows(const ref::RowNormParams& p, const float* x, const float* weight, const float* bias, float* y,
                    float* mean, float* rstd, int64_t r0, int64_t r1) {
  const int64_t D = p.D, per_group = p.inner ? D / p.inner : 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    double s = 0;
    for (int64_t j = 0; j < D; j += 4096) s += run_sum(xr + j, std::min<int64_t>(4096, D - j));
    const float mu = D ? float(s / double(D)) : 0.f;
    double ss = 0;
    for (int64_t j = 0; j < D; j += 4096) ss += run_sqdev(xr + j, std::min<int64_t>(4096, D - j), mu);
    const float rs = float(1.0 / std::sqrt((D ? ss / double(D) : 0.0) + p.eps));
    mean[r] = mu;
    rstd[r] = rs;
    const int64_t abase = (r % p.G) * per_group;
    for (int64_t k = 0; k < per_group; ++k) {  // a run of `inner` values shares one affine entry
      const float sc = rs * (weight ? weight[abase + k] : 1.f), b = bias ? bias[abase + k] : 0.f;
      for (int64_t i = k * p.inner; i < (k + 1) * p.inner; ++i) yr[i] = (xr[i] - mu) * sc + b;
    }
  }
}

void row_norm_backward_dx__rows(const ref::RowNormParams& p, const float* grad, const float* x, const float* weight,
                                const float* mean, const float* rstd, float* dx, int64_t r0, int64_t r1) {
  const int64_t D = p.D, per_group = p.inner ? D / p.inner : 0;
  for (int64_t r = r0; r < r1; ++r) {
    const float *xr = x + r * D, *g = grad + r * D;
    float* d = dx + r * D;
    const float mu = mean[r], rs = rstd[r];
    const int64_t abase = (r % p.G) * per_group;
    double s1 = 0, s2 = 0;  // sum dxhat, sum dxhat * (x - mean)
    for (int64_t k = 0; k < per_group; ++k) {
      const float w = weight ? weight[abase + k] : 1.f;
      float a = 0.f, b = 0.f;
      for (int64_t i = k * p.inner; i < (k + 1) * p.inner; ++i) {
        a += g[i];
        b += g[i] * (xr[i] - mu);
      }
      s1 += double(a) * w;
      s2 += double(b) * w;
    }
    // dx = rs * (dxhat - s1/D - xhat * s2 * rs / D)
    const float c1 = D ? float(s1 / double(D)) : 0.f, c2 = D ? float(s2 * rs * rs / double(D)) : 0.f;
    for (int64_t k = 0; k < per_group; ++k) {
      const float w = weight ? weight[abase + k] : 1.f;
      for (int64_t i = k * p.inner; i < (k + 1) * p.inner; ++i) d[i] = rs * (g[i] * w - c1 - (xr[i] - mu) * c2);
    }
  }
}

void row_norm_backward_affine(const ref::RowNormParams& p, const float* grad, const float* x, const float* mean,
                              const float* rstd, float* dweight, float* dbias, int64_t a0, int64_t a1) {
  const int64_t per_group = p.inner ? p.D / p.inner : 0;
  if (per_group == 0) return;
  for (int64_t a = a0; a < a1; ++a) {
    if (dweight) dweight[a] = 0.f;
    if (dbias) dbias[a] = 0.f;
  }
  // Entries of one group are contiguous within a row: walk rows, then the block's entries.
  for (int64_t r = 0; r < p.M; ++r) {
    const int64_t gi = r % p.G, lo = std::max(a0, gi * per_group), hi = std::min(a1, (gi + 1) * per_group);
    if (lo >= hi) continue;
    const float mu = mean[r], rs = rstd[r];
    for (int64_t a = lo; a < hi; ++a) {
      const int64_t off = r * p.D + (a - gi * per_group) * p.inner;
      float sw = 0.f, sb = 0.f;
      for (int64_t i = 0; i < p.inner; ++i) {
        sw += grad[off + i] * (x[off + i] - mu);
        sb += grad[off + i];
      }
      if (dweight) dweight[a] += sw * rs;
      if (dbias) dbias[a] += sb;
    }
  }
}

}  // namespace fastconv::cpu
