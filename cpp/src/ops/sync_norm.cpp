// sync_batch_norm (fastconv.nn.SyncBatchNorm in training mode under several ranks): batch_norm whose statistics
// are those of the global batch, the union of every rank's batch. Same inputs, outputs and attributes as
// batch_norm (ops/norm.cpp); the kernels add blocking sums over the ranks through the process's communicator:
//   forward:  [sum x per channel, count] -> global mean; then [sum (x - mean)^2] -> global biased variance
//   backward: [sum g, sum g * (x - mean)] per channel -> dx with the global batch's terms
// Two passes, as batch_norm's kernels, rather than one sum of squares: float sums of x^2 cancel badly when
// |mean| >> std. dweight and dbias stay this rank's sums: DistributedDataParallel averages them like any gradient
// (each rank's loss is its own shard's mean, so dx here is world_size times the global batch's share, and the
// average over the ranks of what flows back is exactly the one-process gradient, torch's SyncBatchNorm).
// Every rank runs the same schedule, so the collectives pair up in order with the gradient buckets'.
#include <algorithm>
#include <cmath>
#include <vector>

#include "dist/comm.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/norm.h"

namespace fastconv {
namespace {

void sum_over_ranks(std::vector<float>& v) {
  dist::wait(dist::allreduce_sum_start(v.data(), int64_t(v.size())));
}

const float* opt(const std::vector<Tensor>& in, int i) { return i < 0 ? nullptr : fptr(in[size_t(i)]); }

int64_t channel_grain(const ref::BatchNormParams& p) {
  return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, p.N * p.S));
}

// sum over channel c's values of f(x), f applied per value; float runs folded into double per run.
template <class F>
double channel_sum(const ref::BatchNormParams& p, const float* x, int64_t c, F f) {
  double s = 0;
  for (int64_t n = 0; n < p.N; ++n) {
    const float* r = x + (n * p.C + c) * p.S;
    float a = 0.f;
    for (int64_t i = 0; i < p.S; ++i) a += f(r[i], n * p.C * p.S + c * p.S + i);
    s += a;
  }
  return s;
}

Prepared prepare_sync_batch_norm(const KernelCall& c) {
  const Slots s = slots(c.attr(), true);
  const ref::BatchNormParams p = bn_params(c, 0);
  FC_CHECK(p.training, Value, c.op, ": only for training mode (evaluation uses batch_norm with running statistics)");
  const int64_t grain = channel_grain(p);
  return {[p, s, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *x = fptr(in[0]), *w = opt(in, s.weight), *b = opt(in, s.bias);
            float *y = fptr_mut(out[0]), *sm = fptr_mut(out[1]), *si = fptr_mut(out[2]);
            const int64_t C = p.C;
            std::vector<float> buf(size_t(C) + 1);
            parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
              for (int64_t ch = c0; ch < c1; ++ch)
                buf[size_t(ch)] = float(channel_sum(p, x, ch, [](float v, int64_t) { return v; }));
            });
            buf[size_t(C)] = float(p.N * p.S);
            sum_over_ranks(buf);
            const double M = buf[size_t(C)];
            for (int64_t ch = 0; ch < C; ++ch) sm[ch] = float(double(buf[size_t(ch)]) / M);
            buf.resize(size_t(C));
            parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
              for (int64_t ch = c0; ch < c1; ++ch) {
                const float m = sm[ch];
                buf[size_t(ch)] = float(channel_sum(p, x, ch, [m](float v, int64_t) { return (v - m) * (v - m); }));
              }
            });
            sum_over_ranks(buf);
            float *rm = s.running_mean < 0 ? nullptr : fptr_mut(in[size_t(s.running_mean)]);
            float *rv = s.running_var < 0 ? nullptr : fptr_mut(in[size_t(s.running_var)]);
            for (int64_t ch = 0; ch < C; ++ch) {
              const double ss = buf[size_t(ch)];
              si[ch] = float(1.0 / std::sqrt(ss / M + p.eps));
              if (rm) rm[ch] = float((1 - p.momentum) * rm[ch] + p.momentum * double(sm[ch]));
              const double dof = p.running_var_unbiased ? M - 1 : M;
              if (rv && dof > 0) rv[ch] = float((1 - p.momentum) * rv[ch] + p.momentum * ss / dof);
            }
            parallel_for(p.N * C, grain, [&](int64_t r0, int64_t r1) {
              for (int64_t r = r0; r < r1; ++r) {
                const int64_t ch = r % C;
                const float sc = si[ch] * (w ? w[ch] : 1.f), m = sm[ch], bb = b ? b[ch] : 0.f;
                for (int64_t i = 0; i < p.S; ++i) y[r * p.S + i] = (x[r * p.S + i] - m) * sc + bb;
              }
            });
          },
          0, "sync"};
}

// inputs: grad, x, [weight], save_mean, save_invstd -> dx, dweight, dbias (this rank's sums)
Prepared prepare_sync_batch_norm_backward(const KernelCall& c) {
  const Slots s = slots(c.attr(), false, 2);
  const ref::BatchNormParams p = bn_params(c, 1);
  const int64_t grain = channel_grain(p);
  return {[p, s, grain](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float *g = fptr(in[0]), *x = fptr(in[1]), *w = opt(in, s.weight);
            const float *sm = fptr(in[size_t(s.count)]), *si = fptr(in[size_t(s.count + 1)]);
            float *dx = fptr_mut(out[0]), *dw = fptr_mut(out[1]), *db = fptr_mut(out[2]);
            const int64_t C = p.C;
            std::vector<float> buf(size_t(2 * C) + 1);  // sum g, then sum g * (x - mean), then the count
            parallel_for(C, grain, [&](int64_t c0, int64_t c1) {
              for (int64_t ch = c0; ch < c1; ++ch) {
                const float m = sm[ch];
                const double sg = channel_sum(p, x, ch, [g](float, int64_t k) { return g[k]; });
                const double sgx = channel_sum(p, x, ch, [g, m](float v, int64_t k) { return g[k] * (v - m); });
                db[ch] = float(sg);
                dw[ch] = float(sgx * si[ch]);
                buf[size_t(ch)] = float(sg);
                buf[size_t(C + ch)] = float(sgx);
              }
            });
            buf[size_t(2 * C)] = float(p.N * p.S);
            sum_over_ranks(buf);
            const double M = buf[size_t(2 * C)];
            parallel_for(p.N * C, grain, [&](int64_t r0, int64_t r1) {
              for (int64_t r = r0; r < r1; ++r) {  // dx = g * k1 - (x - mean) * k2 - k3, as batch_norm's
                const int64_t ch = r % C;
                const double is = si[ch], wt = w ? w[ch] : 1.0;
                const float k1 = float(wt * is), k2 = float(wt * is * is * is * buf[size_t(C + ch)] / M),
                            k3 = float(wt * is * buf[size_t(ch)] / M), m = sm[ch];
                for (int64_t i = 0; i < p.S; ++i) {
                  const int64_t k = r * p.S + i;
                  dx[k] = g[k] * k1 - (x[k] - m) * k2 - k3;
                }
              }
            });
          },
          0, "sync"};
}

std::vector<ValueId> backward_sync_batch_norm(BackwardCall& b) {
  return batch_norm_backward_rule(b, "sync_batch_norm_backward");
}

}  // namespace

void register_sync_norm_ops(Registry& r, KernelTable& k) {
  // Both talk to the other ranks: side effects, so neither is dropped or merged on one rank and not another.
  r.add({"sync_batch_norm", 1, 5, infer_batch_norm, backward_sync_batch_norm, true, -1}, batch_norm_attrs());
  r.add({"sync_batch_norm_backward", 4, 5, infer_batch_norm_backward, nullptr, true, -1}, batch_norm_attrs());
  add_cpu_kernel(k, "sync_batch_norm", "dist", "sync", 0, prepare_sync_batch_norm);
  add_cpu_kernel(k, "sync_batch_norm_backward", "dist", "sync", 0, prepare_sync_batch_norm_backward);
}

}  // namespace fastconv
