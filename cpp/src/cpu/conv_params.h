// The geometry of one convolution, shared by every conv kernel (reference, im2col+GEMM, 1x1 GEMM, depthwise).
// Plain old data so that ISA translation units may include it. 1-D and 2-D convolutions are 3-D ones with
// leading spatial sizes of 1, so every kernel has one N-d code path.
#pragma once
#include <cstdint>

namespace fastconv::cpu {

struct ConvParams {
  int64_t N = 0, C = 0, K = 0, groups = 1;  // batch, input channels, output channels
  // Spatial axes (D, H, W); unused leading axes have size 1, kernel 1, stride 1, pad 0, dilation 1.
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
  // Zero padding before the first element of each axis. The far side is implied by `out` (and may differ:
  // padding='same' with an even kernel, transposed-conv output_padding); kernels bounds-check every read.
  int64_t pad[3] = {0, 0, 0};
};

// Internal linkage: ISA translation units (*_avx512.cpp) get their own copies, so the linker cannot merge an
// AVX-512 build of a helper into baseline code (docs/kernels.md).
namespace {
inline int64_t in_vol(const ConvParams& p) { return p.in[0] * p.in[1] * p.in[2]; }
inline int64_t out_vol(const ConvParams& p) { return p.out[0] * p.out[1] * p.out[2]; }
inline int64_t k_vol(const ConvParams& p) { return p.k[0] * p.k[1] * p.k[2]; }
inline int64_t group_in(const ConvParams& p) { return p.C / p.groups; }    // input channels per group
inline int64_t group_out(const ConvParams& p) { return p.K / p.groups; }   // output channels per group

// Output positions o in [lo, hi) of one axis whose input index o*stride + offset lies in [0, n_in).
inline void conv_valid_range(int64_t offset, int64_t stride, int64_t n_in, int64_t n_out, int64_t* lo,
                             int64_t* hi) {
  int64_t l = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t h = n_in - 1 - offset < 0 ? 0 : (n_in - 1 - offset) / stride + 1;
  if (h > n_out) h = n_out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}
}  // namespace

}  // namespace fastconv::cpu
