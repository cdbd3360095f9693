// Pooling kernels: one thread per output element (forward) or per input element (backward, gather form), grid-
// stride loops over int64 flat indices covering every plane. Each thread repeats the reference's loops for its
// element in the reference's order (double sums for averages, float accumulation in output order for the
// backward passes), so results agree with cpu/ref/pool_ref.cpp bitwise, not just to a tolerance.
#include "pool.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::AdaptiveParams;
using ref::PoolParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;
// A scatter block owns whole planes for the kernel's life; 1024 blocks of 256 already fill an H100 (132 SMs x 8).
constexpr unsigned kMaxScatterBlocks = 1024;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// ref's window(): first in-bounds tap of the dilated window and the clipped end (not a tap boundary).
__device__ __forceinline__ void max_window(int64_t o, int a, const PoolParams& p, int64_t* lo, int64_t* hi) {
  int64_t start = o * p.s[a] - p.p[a];
  int64_t end = start + (p.k[a] - 1) * p.d[a] + 1;
  if (end > p.in[a]) end = p.in[a];
  if (start < 0) start += (-start + p.d[a] - 1) / p.d[a] * p.d[a];
  *lo = start;
  *hi = end;
}

// ref's avg_window(): the taps inside [0, in) are lo, lo + d, ... below hi.
__device__ __forceinline__ void avg_window(int64_t o, int a, const PoolParams& p, int64_t* lo, int64_t* hi) {
  const int64_t start = o * p.s[a] - p.p[a];
  int64_t j0, j1;
  pool_taps_in(start, p.k[a], p.d[a], 0, p.in[a], &j0, &j1);
  *lo = start + j0 * p.d[a];
  *hi = start + j1 * p.d[a];
}

// Outputs [*o0, *o1) along axis a whose window could hold input position i (i = o*s - p + j*d, 0 <= j < k);
// the caller still checks that (i + p - o*s) is a multiple of d.
__device__ __forceinline__ void covering(int64_t i, int a, const PoolParams& p, int64_t* o0, int64_t* o1) {
  const int64_t t = i + p.p[a], s = p.s[a];
  if (t < 0) {
    *o0 = *o1 = 0;
    return;
  }
  const int64_t num = t - (p.k[a] - 1) * p.d[a];
  *o0 = num <= 0 ? 0 : (num + s - 1) / s;
  const int64_t hi = t / s + 1;
  *o1 = hi < p.out[a] ? hi : p.out[a];
}

template <bool kMin>
__global__ void max_pool_kernel(PoolParams p, const float* x, float* y, int64_t* idx, int64_t n) {
  const int64_t OD = p.out[0], OH = p.out[1], OW = p.out[2], H = p.in[1], W = p.in[2];
  const int64_t ip = p.in[0] * H * W;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    int64_t t = o / OW;
    const int64_t ow = o - t * OW, oh = t % OH;
    t /= OH;
    const int64_t od = t % OD, pl = t / OD;
    int64_t d0, d1, h0, h1, w0, w1;
    max_window(od, 0, p, &d0, &d1);
    max_window(oh, 1, p, &h0, &h1);
    max_window(ow, 2, p, &w0, &w1);
    const float* xp = x + pl * ip;
    // min pooling is max pooling of -x, so ties and NaN behave identically (as in the reference).
    float best = neg_inf();
    int64_t bi = (d0 * H + h0) * W + w0;
    for (int64_t id = d0; id < d1; id += p.d[0])
      for (int64_t ih = h0; ih < h1; ih += p.d[1])
        for (int64_t iw = w0; iw < w1; iw += p.d[2]) {
          const int64_t i = (id * H + ih) * W + iw;
          const float v = kMin ? -xp[i] : xp[i];
          if (v > best || isnan(v)) {
            best = v;
            bi = i;
          }
        }
    y[o] = kMin ? -best : best;
    idx[o] = bi;
  }
}

__global__ void avg_pool_kernel(PoolParams p, const float* x, float* y, int64_t n) {
  const int64_t OD = p.out[0], OH = p.out[1], OW = p.out[2], H = p.in[1], W = p.in[2];
  const int64_t ip = p.in[0] * H * W;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    int64_t t = o / OW;
    const int64_t ow = o - t * OW, oh = t % OH;
    t /= OH;
    const int64_t od = t % OD, pl = t / OD;
    int64_t d0, d1, h0, h1, w0, w1;
    avg_window(od, 0, p, &d0, &d1);
    avg_window(oh, 1, p, &h0, &h1);
    avg_window(ow, 2, p, &w0, &w1);
    const float* xp = x + pl * ip;
    double sum = 0;
    for (int64_t id = d0; id < d1; id += p.d[0])
      for (int64_t ih = h0; ih < h1; ih += p.d[1])
        for (int64_t iw = w0; iw < w1; iw += p.d[2]) sum += xp[(id * H + ih) * W + iw];
    y[o] = float(sum / double(avg_pool_divisor_hd(p, od, oh, ow)));
  }
}

// Gather: input element (id, ih, iw) adds the share of every output whose window holds it, outputs visited in
// increasing flat order as the reference's scatter visits them.
__global__ void avg_pool_backward_kernel(PoolParams p, const float* gy, float* gx, int64_t n) {
  const int64_t OD = p.out[0], OH = p.out[1], OW = p.out[2], D = p.in[0], H = p.in[1], W = p.in[2];
  const int64_t op = OD * OH * OW;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t t = i / W;
    const int64_t iw = i - t * W, ih = t % H;
    t /= H;
    const int64_t id = t % D, pl = t / D;
    int64_t a0, a1, b0, b1, c0, c1;
    covering(id, 0, p, &a0, &a1);
    covering(ih, 1, p, &b0, &b1);
    covering(iw, 2, p, &c0, &c1);
    const float* g = gy + pl * op;
    float acc = 0.f;
    for (int64_t od = a0; od < a1; ++od) {
      if ((id + p.p[0] - od * p.s[0]) % p.d[0]) continue;
      for (int64_t oh = b0; oh < b1; ++oh) {
        if ((ih + p.p[1] - oh * p.s[1]) % p.d[1]) continue;
        for (int64_t ow = c0; ow < c1; ++ow) {
          if ((iw + p.p[2] - ow * p.s[2]) % p.d[2]) continue;
          acc += g[(od * OH + oh) * OW + ow] / float(avg_pool_divisor_hd(p, od, oh, ow));
        }
      }
    }
    gx[i] = acc;
  }
}

// One block per plane (see index_scatter__cuda in pool.cuh for why). blockDim.x must be kThreads.
__global__ void index_scatter_kernel(int64_t src_plane, int64_t dst_plane, const float* src, const int64_t* idx,
                                     float* dst, bool accumulate, int64_t planes) {
  __shared__ int64_t sidx[kThreads];
  const unsigned t = threadIdx.x;
  for (int64_t pl = blockIdx.x; pl < planes; pl += gridDim.x) {
    float* d = dst + pl * dst_plane;
    for (int64_t j = t; j < dst_plane; j += blockDim.x) d[j] = 0.f;
    __syncthreads();
    const float* s = src + pl * src_plane;
    const int64_t* ix = idx + pl * src_plane;
    for (int64_t base = 0; base < src_plane; base += kThreads) {
      const unsigned cnt = unsigned(src_plane - base < int64_t(kThreads) ? src_plane - base : int64_t(kThreads));
      int64_t j = -1;
      if (t < cnt) {
        j = ix[base + t];
        if (j < 0 || j >= dst_plane) j = -1;
      }
      sidx[t] = j;
      __syncthreads();
      if (j >= 0) {
        bool first = true;
        for (unsigned u = 0; u < t && first; ++u) first = sidx[u] != j;
        if (first) {  // this thread owns d[j] for the tile: apply the tile's entries for j in order
          if (accumulate) {
            float acc = d[j];
            for (unsigned u = t; u < cnt; ++u)
              if (sidx[u] == j) acc += s[base + u];
            d[j] = acc;
          } else {
            unsigned last = t;
            for (unsigned u = t + 1; u < cnt; ++u)
              if (sidx[u] == j) last = u;
            d[j] = s[base + last];
          }
        }
      }
      __syncthreads();  // d[] of this tile is final before the next tile reads it; sidx is reused
    }
  }
}

__global__ void index_gather_kernel(int64_t idx_plane, int64_t src_plane, const float* src, const int64_t* idx,
                                    float* dst, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t j = idx[i];
    dst[i] = (j >= 0 && j < src_plane) ? src[(i / idx_plane) * src_plane + j] : 0.f;
  }
}

__device__ __forceinline__ int64_t ad_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ __forceinline__ int64_t ad_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

// Outputs [*o0, *o1) whose adaptive window [start, end) holds input i: o in [floor(i*out/in), ceil((i+1)*out/in)).
__device__ __forceinline__ void ad_covering(int64_t i, int64_t in, int64_t out, int64_t* o0, int64_t* o1) {
  *o0 = (i * out) / in;
  const int64_t hi = ((i + 1) * out + in - 1) / in;
  *o1 = hi < out ? hi : out;
}

__global__ void adaptive_avg_kernel(AdaptiveParams p, const float* x, float* y, int64_t n) {
  const int64_t ip = p.in_h * p.in_w;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    const int64_t t = o / p.out_w, ow = o - t * p.out_w, oh = t % p.out_h, pl = t / p.out_h;
    const int64_t h0 = ad_start(oh, p.in_h, p.out_h), h1 = ad_end(oh, p.in_h, p.out_h);
    const int64_t w0 = ad_start(ow, p.in_w, p.out_w), w1 = ad_end(ow, p.in_w, p.out_w);
    const float* xp = x + pl * ip;
    double sum = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * p.in_w + iw];
    y[o] = float(sum / double((h1 - h0) * (w1 - w0)));
  }
}

__global__ void adaptive_avg_backward_kernel(AdaptiveParams p, const float* gy, float* gx, int64_t n) {
  const int64_t op = p.out_h * p.out_w;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t t = i / p.in_w, iw = i - t * p.in_w, ih = t % p.in_h, pl = t / p.in_h;
    int64_t a0, a1, b0, b1;
    ad_covering(ih, p.in_h, p.out_h, &a0, &a1);
    ad_covering(iw, p.in_w, p.out_w, &b0, &b1);
    const float* g = gy + pl * op;
    float acc = 0.f;
    for (int64_t oh = a0; oh < a1; ++oh) {
      const int64_t h0 = ad_start(oh, p.in_h, p.out_h), h1 = ad_end(oh, p.in_h, p.out_h);
      for (int64_t ow = b0; ow < b1; ++ow) {
        const int64_t w0 = ad_start(ow, p.in_w, p.out_w), w1 = ad_end(ow, p.in_w, p.out_w);
        acc += g[oh * p.out_w + ow] / float((h1 - h0) * (w1 - w0));
      }
    }
    gx[i] = acc;
  }
}

__global__ void adaptive_max_kernel(AdaptiveParams p, const float* x, float* y, int64_t* idx, int64_t n) {
  const int64_t ip = p.in_h * p.in_w;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    const int64_t t = o / p.out_w, ow = o - t * p.out_w, oh = t % p.out_h, pl = t / p.out_h;
    const int64_t h0 = ad_start(oh, p.in_h, p.out_h), h1 = ad_end(oh, p.in_h, p.out_h);
    const int64_t w0 = ad_start(ow, p.in_w, p.out_w), w1 = ad_end(ow, p.in_w, p.out_w);
    const float* xp = x + pl * ip;
    float best = neg_inf();
    int64_t bi = h0 * p.in_w + w0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const float v = xp[ih * p.in_w + iw];
        if (v > best || isnan(v)) {
          best = v;
          bi = ih * p.in_w + iw;
        }
      }
    y[o] = best;
    idx[o] = bi;
  }
}

}  // namespace

void max_pool_forward__cuda(const PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t planes,
                            cudaStream_t stream) {
  const int64_t n = planes * p.out_plane();
  if (n <= 0) return;
  if (min)
    launch("max_pool_forward__cuda(min)", max_pool_kernel<true>, grid_for(n), dim3(kThreads), 0, stream, p, x, y,
           idx, n);
  else
    launch("max_pool_forward__cuda", max_pool_kernel<false>, grid_for(n), dim3(kThreads), 0, stream, p, x, y, idx,
           n);
}

void avg_pool_forward__cuda(const PoolParams& p, const float* x, float* y, int64_t planes, cudaStream_t stream) {
  const int64_t n = planes * p.out_plane();
  if (n <= 0) return;
  launch("avg_pool_forward__cuda", avg_pool_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, y, n);
}

void avg_pool_backward__cuda(const PoolParams& p, const float* gy, float* gx, int64_t planes, cudaStream_t stream) {
  const int64_t n = planes * p.in_plane();
  if (n <= 0) return;
  launch("avg_pool_backward__cuda", avg_pool_backward_kernel, grid_for(n), dim3(kThreads), 0, stream, p, gy, gx, n);
}

void index_scatter__cuda(int64_t src_plane, int64_t dst_plane, const float* src, const int64_t* idx, float* dst,
                         bool accumulate, int64_t planes, cudaStream_t stream) {
  if (planes <= 0 || dst_plane <= 0) return;
  const unsigned blocks = unsigned(planes < int64_t(kMaxScatterBlocks) ? planes : int64_t(kMaxScatterBlocks));
  launch("index_scatter__cuda", index_scatter_kernel, dim3(blocks), dim3(kThreads), 0, stream, src_plane,
         dst_plane, src, idx, dst, accumulate, planes);
}

void index_gather__cuda(int64_t idx_plane, int64_t src_plane, const float* src, const int64_t* idx, float* dst,
                        int64_t planes, cudaStream_t stream) {
  const int64_t n = planes * idx_plane;
  if (n <= 0) return;
  launch("index_gather__cuda", index_gather_kernel, grid_for(n), dim3(kThreads), 0, stream, idx_plane, src_plane,
         src, idx, dst, n);
}

void adaptive_avg_pool2d_forward__cuda(const AdaptiveParams& p, const float* x, float* y, int64_t planes,
                                       cudaStream_t stream) {
  const int64_t n = planes * p.out_h * p.out_w;
  if (n <= 0) return;
  launch("adaptive_avg_pool2d_forward__cuda", adaptive_avg_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, y,
         n);
}

void adaptive_avg_pool2d_backward__cuda(const AdaptiveParams& p, const float* gy, float* gx, int64_t planes,
                                        cudaStream_t stream) {
  const int64_t n = planes * p.in_h * p.in_w;
  if (n <= 0) return;
  launch("adaptive_avg_pool2d_backward__cuda", adaptive_avg_backward_kernel, grid_for(n), dim3(kThreads), 0, stream,
         p, gy, gx, n);
}

void adaptive_max_pool2d_forward__cuda(const AdaptiveParams& p, const float* x, float* y, int64_t* idx,
                                       int64_t planes, cudaStream_t stream) {
  const int64_t n = planes * p.out_h * p.out_w;
  if (n <= 0) return;
  launch("adaptive_max_pool2d_forward__cuda", adaptive_max_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, y,
         idx, n);
}

}  // namespace fastconv::cuda
