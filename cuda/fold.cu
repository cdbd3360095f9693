// unfold (im2col) and fold (col2im): one thread per output element, grid-stride over int64 indices. unfold writes
// the column matrix in its own order (consecutive threads, consecutive block positions), fold gathers: an image
// element (h, w) receives tap (i, j) from block (bh, bw) exactly when h + ph - i dh = bh sh and
// w + pw - j dw = bw sw with the block inside [0, oh) x [0, ow), so each thread walks its taps and solves for the
// block instead of scattering with atomics.
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

}  // namespace fastconv::cuda
