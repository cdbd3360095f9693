// Softmax kernels: one row (the `dim` values of one (outer, inner) pair, `inner` apart) per group of threads, a
// thread when inner >= 32 (neighbouring threads then read neighbouring columns), else a warp, or the whole block
// for rows of 2048 values and more. Two passes over the row for the max and the sum of exp(x - max), a third that
// writes; the reductions are fixed-order trees (cuda/rowreduce.cuh), so results do not depend on timing.
#include "softmax.cuh"

#include <math.h>

#include "launch.cuh"
#include "rowreduce.cuh"

namespace fastconv::cuda {
namespace {

using namespace rowreduce;

template <int G, bool Log>
__global__ void softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t dim, int64_t inner) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  for (int64_t r = Grp::first_row(); r < rows; r += Grp::row_stride()) {
    const int64_t base = (r / inner) * dim * inner + r % inner;
    const float* xr = x + base;
    float* yr = y + base;
    float m = -INFINITY;
    for (int64_t d = lane; d < dim; d += G) m = NanMax()(m, xr[d * inner]);
    m = Grp::all(m, NanMax());  // NaN max: every x - m below is NaN, the whole row too
    float s = 0.f;
    for (int64_t d = lane; d < dim; d += G) s += expf(xr[d * inner] - m);
    s = Grp::all(s, Sum());  // >= 1 (the max's own term) unless NaN
    if constexpr (Log) {
      const float ls = logf(s);
      for (int64_t d = lane; d < dim; d += G) yr[d * inner] = (xr[d * inner] - m) - ls;
    } else {
      for (int64_t d = lane; d < dim; d += G) yr[d * inner] = expf(xr[d * inner] - m) / s;
    }
  }
}

template <int G, bool Log>
__global__ void softmax_backward_kernel(const float* g, const float* y, float* dx, int64_t rows, int64_t dim,
                                        int64_t inner) {
  using Grp = Group<G>;
  const int lane = Grp::lane();
  for (int64_t r = Grp::first_row(); r < rows; r += Grp::row_stride()) {
    const int64_t base = (r / inner) * dim * inner + r % inner;
    float s = 0.f;
    for (int64_t d = lane; d < dim; d += G) {
      const int64_t k = base + d * inner;
      s += Log ? g[k] : g[k] * y[k];
    }
    s = Grp::all(s, Sum());
    for (int64_t d = lane; d < dim; d += G) {
      const int64_t k = base + d * inner;
      dx[k] = Log ? g[k] - expf(y[k]) * s : y[k] * (g[k] - s);
    }
  }
}

template <int G>
void run(const ref::SoftmaxParams& p, bool backward, const float* a, const float* b, float* out,
         cudaStream_t stream) {
  const int64_t rows = p.outer * p.inner;
  const dim3 grid(blocks_for_rows(rows, G)), block(kThreads);
  if (!backward) {
    launch("softmax_forward__cuda", p.log ? softmax_forward_kernel<G, true> : softmax_forward_kernel<G, false>,
           grid, block, 0, stream, a, out, rows, p.dim, p.inner);
  } else {
    launch("softmax_backward__cuda", p.log ? softmax_backward_kernel<G, true> : softmax_backward_kernel<G, false>,
           grid, block, 0, stream, a, b, out, rows, p.dim, p.inner);
  }
}

void dispatch(const ref::SoftmaxParams& p, bool backward, const float* a, const float* b, float* out,
              cudaStream_t stream) {
  if (p.outer <= 0 || p.dim <= 0 || p.inner <= 0) return;
  if (p.inner >= 32) run<1>(p, backward, a, b, out, stream);
  else if (p.dim >= 2048) run<kBlock>(p, backward, a, b, out, stream);
  else run<32>(p, backward, a, b, out, stream);
}

}  // namespace

void softmax_forward__cuda(const ref::SoftmaxParams& p, const float* x, float* y, cudaStream_t stream) {
  dispatch(p, false, x, nullptr, y, stream);
}

void softmax_backward__cuda(const ref::SoftmaxParams& p, const float* grad, const float* y, float* dx,
                            cudaStream_t stream) {
  dispatch(p, true, grad, y, dx, stream);
}

}  // namespace fastconv::cuda
