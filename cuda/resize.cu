// resize, one axis a launch: one thread per output element (forward: its taps, summed in double as the reference
// does) or per input element (backward: the transposed taps that reach it, summed in float in the reference's
// scatter order), grid-stride over int64 flat indices.
#include "resize.cuh"

#include <cstring>

#include "fastconv/cuda.h"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

__global__ void resize_axis_kernel(ResizeAxisDevice a, const float* __restrict__ x, float* __restrict__ y,
                                   int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t i = e % a.inner, j = (e / a.inner) % a.out, o = e / (a.inner * a.out);
    if (a.extrap[j]) {
      y[e] = a.extrapolation_value;
      continue;
    }
    const float* xo = x + o * a.in * a.inner + i;
    const int64_t* idx = a.idx + j * a.taps;
    const double* w = a.w + j * a.taps;
    double acc = 0;
    for (int t = 0; t < a.taps; ++t) acc += w[t] * double(xo[idx[t] * a.inner]);
    y[e] = float(acc);
  }
}

__global__ void resize_axis_backward_kernel(ResizeAxisDevice a, const float* __restrict__ gy,
                                            float* __restrict__ gx, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t i = e % a.inner, q = (e / a.inner) % a.in, o = e / (a.inner * a.in);
    const float* go = gy + o * a.out * a.inner + i;
    float s = 0.f;
    for (int64_t k = a.start[q]; k < a.start[q + 1]; ++k) s += a.wt[k] * go[a.src[k] * a.inner];
    gx[e] = s;
  }
}

// Appends `count` values of `v` to the upload, 8-byte aligned; returns their offset.
template <class T>
size_t put(std::vector<unsigned char>& buf, const T* v, size_t count) {
  const size_t at = (buf.size() + 7) / 8 * 8;
  buf.resize(at + count * sizeof(T));
  if (count) std::memcpy(buf.data() + at, v, count * sizeof(T));
  return at;
}

}  // namespace

ResizeTables resize_upload(const std::vector<ref::ResizeAxis>& axes, int device) {
  std::vector<unsigned char> buf;
  struct Offsets {
    size_t idx, w, extrap, start, src, wt;
  };
  std::vector<Offsets> at;
  for (const ref::ResizeAxis& a : axes) {
    // The transposed taps: every (output j, tap t) with a non-zero weight and no extrapolation, bucketed by its
    // source index, each bucket in (j, t) order (the order ref::resize_axis_backward adds them in).
    std::vector<int64_t> start(size_t(a.in) + 1, 0);
    for (int64_t j = 0; j < a.out; ++j)
      for (int64_t t = 0; !a.extrap[size_t(j)] && t < a.taps; ++t)
        if (a.w[size_t(j * a.taps + t)] != 0) ++start[size_t(a.idx[size_t(j * a.taps + t)]) + 1];
    for (size_t q = 0; q < size_t(a.in); ++q) start[q + 1] += start[q];
    std::vector<int64_t> src(size_t(start.back())), fill(start.begin(), start.end() - 1);
    std::vector<float> wt(src.size());
    for (int64_t j = 0; j < a.out; ++j)
      for (int64_t t = 0; !a.extrap[size_t(j)] && t < a.taps; ++t) {
        const size_t k = size_t(j * a.taps + t);
        if (a.w[k] == 0) continue;
        const size_t slot = size_t(fill[size_t(a.idx[k])]++);
        src[slot] = j;
        wt[slot] = float(a.w[k]);
      }
    Offsets o;
    o.idx = put(buf, a.idx.data(), a.idx.size());
    o.w = put(buf, a.w.data(), a.w.size());
    o.start = put(buf, start.data(), start.size());
    o.src = put(buf, src.data(), src.size());
    o.wt = put(buf, wt.data(), wt.size());
    o.extrap = put(buf, a.extrap.data(), a.extrap.size());
    at.push_back(o);
  }
  ResizeTables r;
  if (buf.empty()) return r;
  void* mem = fastconv::cuda::malloc(buf.size(), device);
  r.memory = std::shared_ptr<void>(mem, [](void* p) { fastconv::cuda::free(p); });
  fastconv::cuda::memcpy(mem, buf.data(), buf.size(), Copy::HostToDevice);
  const unsigned char* base = static_cast<const unsigned char*>(mem);
  for (size_t k = 0; k < axes.size(); ++k) {
    const ref::ResizeAxis& a = axes[k];
    ResizeAxisDevice d;
    d.outer = a.outer, d.in = a.in, d.out = a.out, d.inner = a.inner, d.taps = a.taps;
    d.extrapolation_value = float(a.extrapolation_value);
    d.idx = reinterpret_cast<const int64_t*>(base + at[k].idx);
    d.w = reinterpret_cast<const double*>(base + at[k].w);
    d.extrap = base + at[k].extrap;
    d.start = reinterpret_cast<const int64_t*>(base + at[k].start);
    d.src = reinterpret_cast<const int64_t*>(base + at[k].src);
    d.wt = reinterpret_cast<const float*>(base + at[k].wt);
    r.axes.push_back(d);
  }
  return r;
}

void resize_axis__cuda(const ResizeAxisDevice& a, const float* x, float* y, cudaStream_t stream) {
  const int64_t n = a.outer * a.out * a.inner;
  if (n <= 0) return;
  launch("resize_axis__cuda", resize_axis_kernel, grid_for(n), dim3(kThreads), 0, stream, a, x, y, n);
}

void resize_axis_backward__cuda(const ResizeAxisDevice& a, const float* gy, float* gx, cudaStream_t stream) {
  const int64_t n = a.outer * a.in * a.inner;
  if (n <= 0) return;
  launch("resize_axis_backward__cuda", resize_axis_backward_kernel, grid_for(n), dim3(kThreads), 0, stream, a, gy,
         gx, n);
}

}  // namespace fastconv::cuda
