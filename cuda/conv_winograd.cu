// Winograd F(2x2, 3x3) convolution on the device (Lavin & Gray): each 2x2 output tile is A^T [(G g G^T) .* (B^T d B)] A
// with d the tile's 4x4 input patch, so the 36 multiplies of a direct 2x2x3x3 tile become 16, done as 16 GEMMs
// over channels (one per transform-domain element, our strided-batched SGEMM from cuda/gemm.cuh):
//   filter   U[e][co][ci] = (G g G^T)[e]          one thread per (co, ci)
//   input    V[e][ci][t]  = (B^T d B)[e]          one thread per (ci, tile), padding read as zeros
//   product  M[e] = U[e] V[e]                     [Cout x Cin] x [Cin x tiles], 16 GEMMs
//   output   y tile = A^T M[.][co][t] A (+ bias)  one thread per (co, tile), tiles cut at the output's edge
// Backward data is the same pipeline on dy with the filters channel-transposed and rotated by 180 degrees, and
// padding 2 - pad (negative padding just starts the tiles inside). Images are processed in chunks so that V and M
// stay under kChunkBytes, whatever the batch. F(2x2) rather than F(4x4): its transforms have coefficients 0, +-1
// and 1/2 only, so the FP32 error stays within a small factor of the direct sum's (F(4x4)'s grows ~10x more).
#include "conv_winograd.cuh"

#include <algorithm>

#include "fastconv/error.h"
#include "gemm.cuh"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

using cpu::ConvParams;

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;
constexpr int64_t kChunkBytes = int64_t(64) << 20;  // V + M of one chunk of images

// One Winograd convolution: the forward one, or backward data as a forward convolution of dy.
struct Geo {
  int64_t N, Cin, Cout, H, W, pad_h, pad_w, out_h, out_w, TH, TW;
};

Geo forward_geo(const ConvParams& p) {
  return {p.N, p.C, p.K, p.in[1], p.in[2], p.pad[1], p.pad[2], p.out[1], p.out[2], (p.out[1] + 1) / 2,
          (p.out[2] + 1) / 2};
}
Geo data_geo(const ConvParams& p) {
  return {p.N, p.K, p.C, p.out[1], p.out[2], 2 - p.pad[1], 2 - p.pad[2], p.in[1], p.in[2], (p.in[1] + 1) / 2,
          (p.in[2] + 1) / 2};
}
int64_t chunk_images(const Geo& g, int64_t chunk) {  // images per chunk
  if (chunk > 0) return std::min(chunk, std::max<int64_t>(g.N, 1));
  const int64_t per_image = 16 * (g.Cin + g.Cout) * g.TH * g.TW * int64_t(sizeof(float));
  return std::max<int64_t>(1, std::min<int64_t>(g.N, kChunkBytes / std::max<int64_t>(per_image, 1)));
}

dim3 grid_for(int64_t n) { return dim3(unsigned(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks))); }

// U[e][co][ci] = (G g G^T)[e], G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. `rotated`: g[r][s] is
// w[ci][co][2 - r][2 - s] (w [Cin][Cout][3][3]: backward data), else w[co][ci][r][s].
__global__ void filter_transform_kernel(Geo g, const float* __restrict__ w, float* __restrict__ U, bool rotated) {
  const int64_t n = g.Cout * g.Cin, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t co = i / g.Cin, ci = i % g.Cin;
    float f[3][3], t[4][3];
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s)
        f[r][s] = rotated ? w[(ci * g.Cout + co) * 9 + (2 - r) * 3 + (2 - s)] : w[(co * g.Cin + ci) * 9 + r * 3 + s];
    for (int s = 0; s < 3; ++s) {
      t[0][s] = f[0][s];
      t[1][s] = 0.5f * (f[0][s] + f[1][s] + f[2][s]);
      t[2][s] = 0.5f * (f[0][s] - f[1][s] + f[2][s]);
      t[3][s] = f[2][s];
    }
    for (int r = 0; r < 4; ++r) {
      const float u[4] = {t[r][0], 0.5f * (t[r][0] + t[r][1] + t[r][2]), 0.5f * (t[r][0] - t[r][1] + t[r][2]),
                          t[r][2]};
      for (int s = 0; s < 4; ++s) U[(r * 4 + s) * n + i] = u[s];
    }
  }
}

// V[e][ci][t] = (B^T d B)[e] for tiles t of images [n0, n0 + nb), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
__global__ void input_transform_kernel(Geo g, const float* __restrict__ x, float* __restrict__ V, int64_t n0,
                                       int64_t nb) {
  const int64_t tiles = nb * g.TH * g.TW, n = g.Cin * tiles, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t ci = i / tiles, t = i % tiles, img = n0 + t / (g.TH * g.TW);
    const int64_t h0 = 2 * (t / g.TW % g.TH) - g.pad_h, w0 = 2 * (t % g.TW) - g.pad_w;
    const float* xc = x + (img * g.Cin + ci) * g.H * g.W;
    float d[4][4], b[4][4];
    for (int r = 0; r < 4; ++r)
      for (int s = 0; s < 4; ++s) {
        const int64_t h = h0 + r, w = w0 + s;
        d[r][s] = h >= 0 && h < g.H && w >= 0 && w < g.W ? xc[h * g.W + w] : 0.f;
      }
    for (int s = 0; s < 4; ++s) {
      b[0][s] = d[0][s] - d[2][s];
      b[1][s] = d[1][s] + d[2][s];
      b[2][s] = d[2][s] - d[1][s];
      b[3][s] = d[1][s] - d[3][s];
    }
    for (int r = 0; r < 4; ++r) {
      const float v[4] = {b[r][0] - b[r][2], b[r][1] + b[r][2], b[r][2] - b[r][1], b[r][1] - b[r][3]};
      for (int s = 0; s < 4; ++s) V[(r * 4 + s) * n + i] = v[s];
    }
  }
}

// y's 2x2 tile = A^T M A (+ bias[co]), A^T = [1 1 1 0; 0 1 -1 -1]; M[e][co][t] for the chunk's tiles.
__global__ void output_transform_kernel(Geo g, const float* __restrict__ M, const float* __restrict__ bias,
                                        float* __restrict__ y, int64_t n0, int64_t nb) {
  const int64_t tiles = nb * g.TH * g.TW, n = g.Cout * tiles, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t co = i / tiles, t = i % tiles, img = n0 + t / (g.TH * g.TW);
    const int64_t h0 = 2 * (t / g.TW % g.TH), w0 = 2 * (t % g.TW);
    float m[4][4], a[2][4];
    for (int e = 0; e < 16; ++e) m[e / 4][e % 4] = M[e * n + i];
    for (int s = 0; s < 4; ++s) {
      a[0][s] = m[0][s] + m[1][s] + m[2][s];
      a[1][s] = m[1][s] - m[2][s] - m[3][s];
    }
    const float b = bias ? bias[co] : 0.f;
    float* yc = y + (img * g.Cout + co) * g.out_h * g.out_w;
    for (int r = 0; r < 2; ++r) {
      const float o[2] = {a[r][0] + a[r][1] + a[r][2], a[r][1] - a[r][2] - a[r][3]};
      for (int s = 0; s < 2; ++s)
        if (h0 + r < g.out_h && w0 + s < g.out_w) yc[(h0 + r) * g.out_w + w0 + s] = o[s] + b;
    }
  }
}

void run(const Geo& g, const float* in, const float* w, bool rotated, const float* bias, float* out,
         void* workspace, cudaStream_t stream, int64_t chunk) {
  if (g.N == 0 || g.Cout == 0 || g.out_h == 0 || g.out_w == 0) return;
  FC_CHECK(workspace != nullptr, Value, "conv_winograd_f2x3__cuda: workspace is null");
  const int64_t nb = chunk_images(g, chunk), wt = g.Cout * g.Cin;
  float* U = static_cast<float*>(workspace);
  float* V = U + 16 * wt;
  float* Mm = V + 16 * g.Cin * nb * g.TH * g.TW;
  launch("conv_winograd_f2x3_filter__cuda", filter_transform_kernel, grid_for(wt), dim3(kThreads), 0, stream, g, w,
         U, rotated);
  for (int64_t n0 = 0; n0 < g.N; n0 += nb) {
    const int64_t cnt = std::min(nb, g.N - n0), T = cnt * g.TH * g.TW;
    launch("conv_winograd_f2x3_input__cuda", input_transform_kernel, grid_for(g.Cin * T), dim3(kThreads), 0, stream,
           g, in, V, n0, cnt);
    sgemm_strided_batched__cuda(16, false, false, g.Cout, T, g.Cin, 1.f, U, g.Cin, wt, V, T, g.Cin * T, 0.f, Mm, T,
                                g.Cout * T, stream);
    launch("conv_winograd_f2x3_output__cuda", output_transform_kernel, grid_for(g.Cout * T), dim3(kThreads), 0,
           stream, g, Mm, bias, out, n0, cnt);
  }
}

void check_params(const ConvParams& p, const char* what) {
  FC_CHECK(conv_winograd_f2x3_applies(p), Value, what, ": expected a 2-D 3x3 convolution with stride 1, dilation 1 "
           "and groups 1, got kernel ", p.k[0], "x", p.k[1], "x", p.k[2], ", stride ", p.stride[1], "x", p.stride[2],
           ", dilation ", p.dil[1], "x", p.dil[2], ", groups ", p.groups);
}

}  // namespace

bool conv_winograd_f2x3_applies(const ConvParams& p) {
  return p.in[0] == 1 && p.k[0] == 1 && p.out[0] == 1 && p.k[1] == 3 && p.k[2] == 3 && p.stride[1] == 1 &&
         p.stride[2] == 1 && p.dil[1] == 1 && p.dil[2] == 1 && p.groups == 1 && p.C > 0 && p.K > 0;
}

size_t conv_winograd_f2x3_workspace_bytes(const ConvParams& p, int64_t chunk) {
  if (!conv_winograd_f2x3_applies(p)) return 0;
  size_t most = 0;
  for (const Geo& g : {forward_geo(p), data_geo(p)}) {
    const int64_t tiles = chunk_images(g, chunk) * g.TH * g.TW;
    most = std::max(most, size_t(16 * (g.Cout * g.Cin + (g.Cin + g.Cout) * tiles)));
  }
  return most * sizeof(float);
}

void conv_winograd_f2x3_forward__cuda(const ConvParams& p, const float* x, const float* w, const float* bias,
                                      float* y, void* workspace, cudaStream_t stream, int64_t chunk) {
  check_params(p, "conv_winograd_f2x3_forward__cuda");
  run(forward_geo(p), x, w, false, bias, y, workspace, stream, chunk);
}

void conv_winograd_f2x3_backward_data__cuda(const ConvParams& p, const float* dy, const float* w,
                                            const float* bias_after, float* dx, void* workspace,
                                            cudaStream_t stream, int64_t chunk) {
  check_params(p, "conv_winograd_f2x3_backward_data__cuda");
  run(data_geo(p), dy, w, true, bias_after, dx, workspace, stream, chunk);
}

}  // namespace fastconv::cuda
