// Pad kernels, one thread an element (grid-stride, int64). The backward is the forward map read the other way: along
// each padded dim the output positions whose source is input index i form at most three arithmetic runs (constant:
// the direct copy; replicate: the left edge run, the copy, the right edge run; reflect: the left mirror, the copy,
// the right mirror; circular: every period of the kept part), in increasing order, so the row-major walk over their
// product visits the contributions in the reference's (output) order: the same float sums, no atomics.
#include "pad.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::kMaxDims;
using ref::PadMode;
using ref::PadParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

// ref::pad_source, on the device.
__device__ __forceinline__ int64_t source(const PadParams& p, int d, int64_t o) {
  int64_t n = p.in[d];
  if (p.mode == PadMode::circular) {
    const int64_t crop = p.before[d] < 0 ? -p.before[d] : 0;
    n -= crop + (p.after[d] < 0 ? -p.after[d] : 0);
    const int64_t s = o - (p.before[d] > 0 ? p.before[d] : 0);
    return crop + ((s % n) + n) % n;
  }
  const int64_t s = o - p.before[d];
  if (s >= 0 && s < n) return s;
  if (p.mode == PadMode::reflect) return s < 0 ? -s : 2 * (n - 1) - s;
  if (p.mode == PadMode::replicate) return s < 0 ? 0 : n - 1;
  return -1;
}

__global__ void pad_forward_kernel(PadParams p, int64_t ip, int64_t op, const float* x, float* y, int64_t total) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t pl = i / op;
    int64_t rem = i - pl * op, idx[kMaxDims];
    for (int d = p.nd - 1; d >= 0; --d) {
      const int64_t q = rem / p.out[d];
      idx[d] = rem - q * p.out[d];
      rem = q;
    }
    int64_t src = 0;
    for (int d = 0; d < p.nd && src >= 0; ++d) {
      const int64_t s = source(p, d, idx[d]);
      src = s < 0 ? -1 : src * p.in[d] + s;
    }
    y[i] = src < 0 ? p.value : x[pl * ip + src];
  }
}

// Output positions start, start + step, ... (count of them) along one dim.
struct Run {
  int64_t start, step, count;
};

__device__ __forceinline__ void add_range(Run* r, int& k, int64_t lo, int64_t hi, int64_t O) {
  lo = lo < 0 ? 0 : lo;
  hi = hi > O ? O : hi;
  if (lo < hi) r[k++] = Run{lo, 1, hi - lo};
}

// The runs of output positions along dim d whose source is input index i, in increasing order; returns how many.
__device__ int runs_for(const PadParams& p, int d, int64_t i, Run* r) {
  const int64_t n = p.in[d], O = p.out[d], b = p.before[d];
  int k = 0;
  switch (p.mode) {
    case PadMode::circular: {
      const int64_t crop = b < 0 ? -b : 0, m = n - crop - (p.after[d] < 0 ? -p.after[d] : 0);
      if (m <= 0 || i < crop || i >= crop + m) return 0;  // cropped away
      const int64_t o0 = ((b > 0 ? b : 0) + (i - crop)) % m;  // the first o with (o - max(b, 0)) mod m == i - crop
      if (o0 < O) r[k++] = Run{o0, m, (O - o0 + m - 1) / m};
      return k;
    }
    case PadMode::replicate:
      if (i == 0) add_range(r, k, 0, b, O);
      add_range(r, k, b + i, b + i + 1, O);
      if (i == n - 1) add_range(r, k, b + n, O, O);
      return k;
    case PadMode::reflect:
      if (i > 0) add_range(r, k, b - i, b - i + 1, O);
      add_range(r, k, b + i, b + i + 1, O);
      if (i <= n - 2) add_range(r, k, b + 2 * (n - 1) - i, b + 2 * (n - 1) - i + 1, O);
      return k;
    default:
      add_range(r, k, b + i, b + i + 1, O);
      return k;
  }
}

__global__ void pad_backward_kernel(PadParams p, int64_t ip, int64_t op, const float* gy, float* gx, int64_t total) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t ostride[kMaxDims];
  for (int d = p.nd - 1; d >= 0; --d) ostride[d] = d == p.nd - 1 ? 1 : ostride[d + 1] * p.out[d + 1];
  for (int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; j < total; j += stride) {
    const int64_t pl = j / ip;
    int64_t rem = j - pl * ip;
    Run run[kMaxDims][3];
    int nrun[kMaxDims], ri[kMaxDims];
    int64_t ci[kMaxDims], off = 0;
    bool none = false;
    for (int d = p.nd - 1; d >= 0; --d) {
      const int64_t q = rem / p.in[d], i = rem - q * p.in[d];
      rem = q;
      nrun[d] = runs_for(p, d, i, run[d]);
      none = none || nrun[d] == 0;
      ri[d] = 0, ci[d] = 0;
      if (nrun[d] > 0) off += run[d][0].start * ostride[d];
    }
    float acc = 0.f;
    if (!none) {
      const float* g = gy + pl * op;
      for (;;) {
        acc += g[off];
        int d = p.nd - 1;
        for (; d >= 0; --d) {  // next position in row-major order of the product of the runs
          const Run& cur = run[d][ri[d]];
          if (++ci[d] < cur.count) {
            off += cur.step * ostride[d];
            break;
          }
          off -= (cur.start + (cur.count - 1) * cur.step) * ostride[d];
          ci[d] = 0;
          ri[d] = ri[d] + 1 < nrun[d] ? ri[d] + 1 : 0;
          off += run[d][ri[d]].start * ostride[d];
          if (ri[d] != 0) break;  // moved on to this dim's next run; else carry into the dim before
        }
        if (d < 0) break;
      }
    }
    gx[j] = acc;
  }
}

}  // namespace

void pad_forward__cuda(const PadParams& p, int64_t planes, const float* x, float* y, cudaStream_t stream) {
  const int64_t ip = p.in_plane(), op = p.out_plane(), total = planes * op;
  if (total <= 0) return;
  launch("pad_forward__cuda", pad_forward_kernel, grid_for(total), dim3(kThreads), 0, stream, p, ip, op, x, y, total);
}

void pad_backward__cuda(const PadParams& p, int64_t planes, const float* gy, float* gx, cudaStream_t stream) {
  const int64_t ip = p.in_plane(), op = p.out_plane(), total = planes * ip;
  if (total <= 0) return;
  launch("pad_backward__cuda", pad_backward_kernel, grid_for(total), dim3(kThreads), 0, stream, p, ip, op, gy, gx,
         total);
}

}  // namespace fastconv::cuda
