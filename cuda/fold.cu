// unfold (im2col) and fold (col2im): one thread per output element, grid-stride over int64 indices. unfold writes
// the column matrix in its own order (consecutive threads, consecutive block positions), fold gathers: an image
// element (h, w) receives tap (i, j) from block (bh, bw) exactly when h + ph - i dh = bh sh and
// w + pw - j dw = bw sw with the block inside [0, oh) x [0, ow), so each thread walks its taps and solves for the
// block instead of scattering with atomics. The convolution's column matrices (conv_unfold / conv_fold) are the same
// two kernels over three spatial axes (cpu::ConvParams: depth, height, width), one image at a time.
#include "fold.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using ref::FoldParams;

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

// Element `begin + i` of the whole batch's column matrix for i < n: (n, c, i, j, bh, bw) from the innermost out.
__global__ void unfold_kernel(FoldParams p, const float* __restrict__ x, float* __restrict__ col, int64_t begin,
                              int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t o = begin + e;
    const int64_t bw = o % p.ow, bh = (o / p.ow) % p.oh;
    const int64_t r = o / (p.ow * p.oh);  // (n * C + c) * kh * kw + i * kw + j
    const int64_t j = r % p.kw, i = (r / p.kw) % p.kh, nc = r / (p.kw * p.kh);
    const int64_t h = bh * p.sh - p.ph + i * p.dh, w = bw * p.sw - p.pw + j * p.dw;
    col[o] = h >= 0 && h < p.H && w >= 0 && w < p.W ? x[(nc * p.H + h) * p.W + w] : 0.f;
  }
}

__global__ void fold_kernel(FoldParams p, const float* __restrict__ col, float* __restrict__ x, int64_t begin,
                            int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t L = p.oh * p.ow;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t o = begin + e;
    const int64_t w = o % p.W, h = (o / p.W) % p.H, nc = o / (p.W * p.H);
    const float* cn = col + nc * p.kh * p.kw * L;
    float s = 0.f;
    for (int64_t i = 0; i < p.kh; ++i) {
      const int64_t th = h + p.ph - i * p.dh;  // bh * sh; falls as i grows
      if (th < 0) break;
      if (th % p.sh != 0 || th / p.sh >= p.oh) continue;
      const int64_t bh = th / p.sh;
      for (int64_t j = 0; j < p.kw; ++j) {
        const int64_t tw = w + p.pw - j * p.dw;
        if (tw < 0) break;
        if (tw % p.sw != 0 || tw / p.sw >= p.ow) continue;
        s += cn[(i * p.kw + j) * L + bh * p.ow + tw / p.sw];
      }
    }
    x[o] = s;
  }
}

// Element e < n of one image's column matrix [C * kd * kh * kw, od * oh * ow]: (c, a, i, j, bd, bh, bw).
__global__ void conv_unfold_kernel(cpu::ConvParams p, const float* __restrict__ x, float* __restrict__ col,
                                   int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    int64_t r = e;
    const int64_t bw = r % p.out[2], bh = (r /= p.out[2]) % p.out[1], bd = (r /= p.out[1]) % p.out[0];
    r /= p.out[0];
    const int64_t j = r % p.k[2], i = (r /= p.k[2]) % p.k[1], a = (r /= p.k[1]) % p.k[0], c = r / p.k[0];
    const int64_t d = bd * p.stride[0] - p.pad[0] + a * p.dil[0], h = bh * p.stride[1] - p.pad[1] + i * p.dil[1],
                  w = bw * p.stride[2] - p.pad[2] + j * p.dil[2];
    const bool inside = d >= 0 && d < p.in[0] && h >= 0 && h < p.in[1] && w >= 0 && w < p.in[2];
    col[e] = inside ? x[((c * p.in[0] + d) * p.in[1] + h) * p.in[2] + w] : 0.f;
  }
}

// The block along one axis whose tap t reaches position q (q + pad - t * dil = b * stride), or -1; -2 once no
// later tap can reach it (the offset only falls as t grows).
__device__ __forceinline__ int64_t tap_block(int64_t q, int64_t t, const cpu::ConvParams& p, int ax) {
  const int64_t s = q + p.pad[ax] - t * p.dil[ax];
  if (s < 0) return -2;
  return s % p.stride[ax] == 0 && s / p.stride[ax] < p.out[ax] ? s / p.stride[ax] : -1;
}

// Element e < n of one image [C, D, H, W]: the sum of its taps in (a, i, j) order, in float.
__global__ void conv_fold_kernel(cpu::ConvParams p, const float* __restrict__ col, float* __restrict__ x, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t L = p.out[0] * p.out[1] * p.out[2];
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    int64_t r = e;
    const int64_t w = r % p.in[2], h = (r /= p.in[2]) % p.in[1], d = (r /= p.in[1]) % p.in[0], c = r / p.in[0];
    const float* cc = col + c * p.k[0] * p.k[1] * p.k[2] * L;
    float sum = 0.f;
    for (int64_t a = 0; a < p.k[0]; ++a) {
      const int64_t bd = tap_block(d, a, p, 0);
      if (bd == -2) break;
      if (bd < 0) continue;
      for (int64_t i = 0; i < p.k[1]; ++i) {
        const int64_t bh = tap_block(h, i, p, 1);
        if (bh == -2) break;
        if (bh < 0) continue;
        for (int64_t j = 0; j < p.k[2]; ++j) {
          const int64_t bw = tap_block(w, j, p, 2);
          if (bw == -2) break;
          if (bw < 0) continue;
          sum += cc[((a * p.k[1] + i) * p.k[2] + j) * L + (bd * p.out[1] + bh) * p.out[2] + bw];
        }
      }
    }
    x[e] = sum;
  }
}

}  // namespace

void unfold__cuda(const FoldParams& p, const float* x, float* col, int64_t n0, int64_t n1, cudaStream_t stream) {
  const int64_t per_image = p.C * p.kh * p.kw * p.oh * p.ow;
  if (n1 <= n0 || per_image <= 0) return;
  const int64_t n = (n1 - n0) * per_image;
  launch("unfold__cuda", unfold_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, col, n0 * per_image, n);
}

void fold__cuda(const FoldParams& p, const float* col, float* x, int64_t n0, int64_t n1, cudaStream_t stream) {
  const int64_t per_image = p.C * p.H * p.W;
  if (n1 <= n0 || per_image <= 0) return;
  const int64_t n = (n1 - n0) * per_image;
  launch("fold__cuda", fold_kernel, grid_for(n), dim3(kThreads), 0, stream, p, col, x, n0 * per_image, n);
}

void conv_unfold__cuda(const cpu::ConvParams& p, const float* x, float* col, cudaStream_t stream) {
  const int64_t n = p.C * p.k[0] * p.k[1] * p.k[2] * p.out[0] * p.out[1] * p.out[2];
  if (n <= 0) return;
  launch("conv_unfold__cuda", conv_unfold_kernel, grid_for(n), dim3(kThreads), 0, stream, p, x, col, n);
}

void conv_fold__cuda(const cpu::ConvParams& p, const float* col, float* x, cudaStream_t stream) {
  const int64_t n = p.C * p.in[0] * p.in[1] * p.in[2];
  if (n <= 0) return;
  launch("conv_fold__cuda", conv_fold_kernel, grid_for(n), dim3(kThreads), 0, stream, p, col, x, n);
}

}  // namespace fastconv::cuda
