// Upsampling kernels: grid-stride loops over int64 flat indices covering every plane; forward one thread per
// output, backward one thread per input (gather). Source indices and weights are computed exactly as
// cpu/ref/upsample_ref.cpp does, in float, with explicit round-to-nearest multiplies and adds so that nvcc cannot
// contract them into FMAs (which would move a source index or a weight by an ulp).
#include "upsample.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::UpsampleMode;
using ref::UpsampleParams;

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

// Plain IEEE operations under the emulator (host code without FMA contraction), uncontractable ones under nvcc.
__device__ __forceinline__ float mul_rn(float a, float b) {
#ifdef FASTCONV_CUDA_EMU
  return a * b;
#else
  return __fmul_rn(a, b);
#endif
}
__device__ __forceinline__ float add_rn(float a, float b) {
#ifdef FASTCONV_CUDA_EMU
  return a + b;
#else
  return __fadd_rn(a, b);
#endif
}

// PyTorch's compute_scales_value<float>.
__device__ __forceinline__ float scale_value(double scale, int64_t in, int64_t out) {
  return scale > 0 ? float(1.0 / scale) : float(in) / float(out);
}

__device__ __forceinline__ int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ref::nearest_source.
template <UpsampleMode M>
__device__ __forceinline__ int64_t nearest_src(int64_t o, int64_t in, int64_t out, double scale) {
  if (out == in) return o;
  if constexpr (M == UpsampleMode::nearest_exact) {
    const float s = scale_value(scale, in, out);
    return min64(int64_t(floorf(mul_rn(float(o) + 0.5f, s))), in - 1);
  } else {
    if (out == 2 * in) return o >> 1;
    const float s = scale_value(scale, in, out);
    return min64(int64_t(floorf(mul_rn(float(o), s))), in - 1);
  }
}

// ref::linear_source.
struct Taps {
  int64_t i0, i1;
  float w0, w1;
};
__device__ __forceinline__ Taps linear_src(int64_t o, int64_t in, int64_t out, double scale, bool align) {
  float s;
  if (align) s = out > 1 ? float(in - 1) / float(out - 1) : 0.f;
  else s = scale_value(scale, in, out);
  float src = align ? mul_rn(s, float(o)) : mul_rn(s, float(o) + 0.5f) - 0.5f;
  if (src < 0) src = 0;
  const int64_t a = min64(int64_t(floorf(src)), in - 1);
  const float l = fminf(fmaxf(src - float(a), 0.f), 1.f);
  return {a, a + (a < in - 1 ? 1 : 0), 1.f - l, l};
}

// The monotonic (non-decreasing in o) key of the output -> source map along one axis: the source index for the
// nearest modes, the first tap for linear. Output o reads input i only if key(o) is i (nearest) or i-1 or i
// (linear), so the outputs reading i form one contiguous range found by two binary searches.
template <UpsampleMode M>
__device__ __forceinline__ int64_t key(int64_t o, int64_t in, int64_t out, double scale, bool align) {
  if constexpr (M == UpsampleMode::linear) return linear_src(o, in, out, scale, align).i0;
  else return nearest_src<M>(o, in, out, scale);
}

// First o in [0, out) with key(o) >= v, or out.
template <UpsampleMode M>
__device__ int64_t lower_bound(int64_t v, int64_t in, int64_t out, double scale, bool align) {
  int64_t lo = 0, hi = out;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (key<M>(mid, in, out, scale, align) >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// Outputs [*o0, *o1) along one axis that read input i.
template <UpsampleMode M>
__device__ __forceinline__ void readers(int64_t i, int64_t in, int64_t out, double scale, bool align, int64_t fac,
                                        int64_t* o0, int64_t* o1) {
  if constexpr (M == UpsampleMode::bed_of_nails) {
    *o0 = i * fac;
    *o1 = fac > 0 && *o0 < out ? *o0 + 1 : *o0;
  } else if constexpr (M == UpsampleMode::linear) {
    *o0 = lower_bound<M>(i - 1, in, out, scale, align);
    *o1 = lower_bound<M>(i + 1, in, out, scale, align);
  } else {
    *o0 = lower_bound<M>(i, in, out, scale, align);
    *o1 = lower_bound<M>(i + 1, in, out, scale, align);
  }
}

template <UpsampleMode M>
__global__ void upsample_kernel(UpsampleParams p, const float* x, float* y, int64_t n, int64_t fh, int64_t fw) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t ip = p.in_h * p.in_w;
  for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < n; o += stride) {
    const int64_t t = o / p.out_w, ow = o - t * p.out_w, oh = t % p.out_h, pl = t / p.out_h;
    const float* xp = x + pl * ip;
    float acc = 0.f;  // the reference zero-fills y and adds each tap: 0 + 1 * (-0) is +0, as there
    if constexpr (M == UpsampleMode::linear) {
      const Taps h = linear_src(oh, p.in_h, p.out_h, p.scale_h, p.align_corners);
      const Taps w = linear_src(ow, p.in_w, p.out_w, p.scale_w, p.align_corners);
      acc = add_rn(acc, mul_rn(mul_rn(h.w0, w.w0), xp[h.i0 * p.in_w + w.i0]));
      acc = add_rn(acc, mul_rn(mul_rn(h.w0, w.w1), xp[h.i0 * p.in_w + w.i1]));
      acc = add_rn(acc, mul_rn(mul_rn(h.w1, w.w0), xp[h.i1 * p.in_w + w.i0]));
      acc = add_rn(acc, mul_rn(mul_rn(h.w1, w.w1), xp[h.i1 * p.in_w + w.i1]));
    } else if constexpr (M == UpsampleMode::bed_of_nails) {
      if (fh > 0 && fw > 0 && oh % fh == 0 && ow % fw == 0) {
        const int64_t ih = oh / fh, iw = ow / fw;
        if (ih < p.in_h && iw < p.in_w) acc = add_rn(acc, mul_rn(1.f, xp[ih * p.in_w + iw]));
      }
    } else {
      const int64_t ih = nearest_src<M>(oh, p.in_h, p.out_h, p.scale_h);
      const int64_t iw = nearest_src<M>(ow, p.in_w, p.out_w, p.scale_w);
      acc = add_rn(acc, mul_rn(1.f, xp[ih * p.in_w + iw]));
    }
    y[o] = acc;
  }
}

template <UpsampleMode M>
__global__ void upsample_backward_kernel(UpsampleParams p, const float* gy, float* gx, int64_t n, int64_t fh,
                                         int64_t fw) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t op = p.out_h * p.out_w;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t t = i / p.in_w, iw = i - t * p.in_w, ih = t % p.in_h, pl = t / p.in_h;
    int64_t h0, h1, w0, w1;
    readers<M>(ih, p.in_h, p.out_h, p.scale_h, p.align_corners, fh, &h0, &h1);
    readers<M>(iw, p.in_w, p.out_w, p.scale_w, p.align_corners, fw, &w0, &w1);
    const float* g = gy + pl * op;
    float acc = 0.f;
    for (int64_t oh = h0; oh < h1; ++oh) {
      if constexpr (M == UpsampleMode::linear) {
        const Taps th = linear_src(oh, p.in_h, p.out_h, p.scale_h, p.align_corners);
        for (int64_t ow = w0; ow < w1; ++ow) {
          const Taps tw = linear_src(ow, p.in_w, p.out_w, p.scale_w, p.align_corners);
          const float v = g[oh * p.out_w + ow];
          // the four taps in the reference's order; at the border two of them can be this same input
          if (th.i0 == ih && tw.i0 == iw) acc = add_rn(acc, mul_rn(mul_rn(th.w0, tw.w0), v));
          if (th.i0 == ih && tw.i1 == iw) acc = add_rn(acc, mul_rn(mul_rn(th.w0, tw.w1), v));
          if (th.i1 == ih && tw.i0 == iw) acc = add_rn(acc, mul_rn(mul_rn(th.w1, tw.w0), v));
          if (th.i1 == ih && tw.i1 == iw) acc = add_rn(acc, mul_rn(mul_rn(th.w1, tw.w1), v));
        }
      } else {
        for (int64_t ow = w0; ow < w1; ++ow) acc = add_rn(acc, mul_rn(1.f, g[oh * p.out_w + ow]));
      }
    }
    gx[i] = acc;
  }
}

template <UpsampleMode M>
void fwd(const UpsampleParams& p, const float* x, float* y, int64_t n, cudaStream_t s) {
  const int64_t fh = p.in_h > 0 ? p.out_h / p.in_h : 0, fw = p.in_w > 0 ? p.out_w / p.in_w : 0;
  launch("upsample_forward__cuda", upsample_kernel<M>, grid_for(n), dim3(kThreads), 0, s, p, x, y, n, fh, fw);
}

template <UpsampleMode M>
void bwd(const UpsampleParams& p, const float* gy, float* gx, int64_t n, cudaStream_t s) {
  const int64_t fh = p.in_h > 0 ? p.out_h / p.in_h : 0, fw = p.in_w > 0 ? p.out_w / p.in_w : 0;
  launch("upsample_backward__cuda", upsample_backward_kernel<M>, grid_for(n), dim3(kThreads), 0, s, p, gy, gx, n,
         fh, fw);
}

#define FC_UPSAMPLE_DISPATCH(FN, ...)                                                      \
  switch (p.mode) {                                                                        \
    case UpsampleMode::nearest: return FN<UpsampleMode::nearest>(__VA_ARGS__);             \
    case UpsampleMode::nearest_exact: return FN<UpsampleMode::nearest_exact>(__VA_ARGS__); \
    case UpsampleMode::linear: return FN<UpsampleMode::linear>(__VA_ARGS__);               \
    case UpsampleMode::bed_of_nails: return FN<UpsampleMode::bed_of_nails>(__VA_ARGS__);   \
  }

}  // namespace

void upsample_forward__cuda(const UpsampleParams& p, const float* x, float* y, int64_t planes, cudaStream_t stream) {
  const int64_t n = planes * p.out_h * p.out_w;
  if (n <= 0) return;
  FC_UPSAMPLE_DISPATCH(fwd, p, x, y, n, stream)
}

void upsample_backward__cuda(const UpsampleParams& p, const float* gy, float* gx, int64_t planes,
                             cudaStream_t stream) {
  const int64_t n = planes * p.in_h * p.in_w;
  if (n <= 0) return;
  FC_UPSAMPLE_DISPATCH(bwd, p, gy, gx, n, stream)
}

}  // namespace fastconv::cuda
