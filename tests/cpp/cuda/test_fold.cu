// unfold__cuda / fold__cuda (cuda/fold.cu) against ref::unfold / ref::fold (cpu/ref/fold_ref.h), compared bit for
// bit: unfold is a copy, and fold adds each element's taps in the reference's order, in float. Geometries: 1x1,
// 3x3 same, strides past the kernel (input positions no block sees), overlapping blocks, dilation, kernels larger
// than the input, rectangular everything, block counts below and above the natural ones (far-side padding), a
// 1x1 image; and image ranges [n0, n1), with NaN outside them that must survive.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "conv_check.cuh"
#include "cpu/ref/fold_ref.h"
#include "device_buffer.cuh"
#include "fold.cuh"
#include "launch.cuh"

namespace {

using fastconv::ref::FoldParams;

using fc_test::DeviceBuffer;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int64_t natural(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d) { return (n + 2 * p - d * (k - 1) - 1) / s + 1; }

// N, C, H, W, kh, kw, sh, sw, ph, pw, dh, dw; oh / ow the natural counts plus extra_h / extra_w.
FoldParams geom(int64_t N, int64_t C, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t extra_h = 0, int64_t extra_w = 0) {
  FoldParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.kh = kh, p.kw = kw, p.sh = sh, p.sw = sw, p.ph = ph, p.pw = pw, p.dh = dh,
  p.dw = dw;
  p.oh = natural(H, kh, sh, ph, dh) + extra_h;
  p.ow = natural(W, kw, sw, pw, dw) + extra_w;
  return p;
}

std::vector<FoldParams> geometries() {
  return {
      geom(2, 3, 7, 9, 1, 1, 1, 1, 0, 0, 1, 1),         // 1x1
      geom(2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1),         // 3x3 same
      geom(1, 2, 8, 7, 2, 2, 3, 3, 0, 0, 1, 1),         // stride past the kernel: gaps
      geom(2, 2, 9, 8, 3, 3, 2, 2, 1, 1, 1, 1),         // overlapping blocks, stride 2
      geom(2, 1, 5, 6, 3, 3, 2, 2, 2, 2, 2, 2),         // dilation 2, pad 2
      geom(1, 2, 3, 3, 5, 5, 1, 1, 2, 2, 1, 1),         // kernel larger than the input
      geom(2, 3, 6, 11, 2, 3, 2, 1, 1, 0, 1, 2),        // rectangular kernel, stride, pad, dilation
      geom(1, 2, 7, 9, 3, 3, 1, 2, 1, 1, 1, 1, -1, -2), // fewer blocks than natural: the far edge unused
      geom(1, 2, 7, 9, 3, 2, 2, 1, 1, 0, 1, 1, 2, 1),   // more blocks than natural: far-side padding
      geom(3, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1),         // 1x1 image
      geom(1, 4, 13, 17, 4, 2, 3, 2, 2, 1, 2, 3),       // several blocks of threads
  };
}

std::string describe(const FoldParams& p) {
  return "N" + std::to_string(p.N) + " C" + std::to_string(p.C) + " " + std::to_string(p.H) + "x" +
         std::to_string(p.W) + " k" + std::to_string(p.kh) + "x" + std::to_string(p.kw) + " s" + std::to_string(p.sh) +
         "x" + std::to_string(p.sw) + " p" + std::to_string(p.ph) + "x" + std::to_string(p.pw) + " d" +
         std::to_string(p.dh) + "x" + std::to_string(p.dw) + " o" + std::to_string(p.oh) + "x" + std::to_string(p.ow);
}

std::vector<float> random(size_t n, uint32_t seed) { return fc_test::uniform_data(n, seed); }

::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  return ::testing::AssertionSuccess();
}

size_t image_elems(const FoldParams& p) { return size_t(p.N * p.C * p.H * p.W); }
size_t col_elems(const FoldParams& p) { return size_t(p.N * p.C * p.kh * p.kw * p.oh * p.ow); }

// The whole batch, then each single image and [1, N) over NaN-filled outputs.
std::vector<std::pair<int64_t, int64_t>> ranges(const FoldParams& p) {
  std::vector<std::pair<int64_t, int64_t>> r = {{0, p.N}};
  if (p.N > 1) r.push_back({1, p.N}), r.push_back({p.N - 1, p.N}), r.push_back({0, 1});
  return r;
}

TEST(CudaFold, UnfoldMatchesReference) {
  uint32_t seed = 1;
  for (const FoldParams& p : geometries())
    for (auto [n0, n1] : ranges(p)) {
      SCOPED_TRACE(describe(p) + " images " + std::to_string(n0) + ".." + std::to_string(n1));
      const std::vector<float> x = random(image_elems(p), seed++);
      std::vector<float> want(col_elems(p), kNaN);
      DeviceBuffer<float> dx(x), dcol(want);
      fastconv::cuda::unfold__cuda(p, dx.p, dcol.p, n0, n1, nullptr);
      fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      fastconv::ref::unfold(p, x.data(), want.data(), n0, n1);
      ASSERT_TRUE(same_bits(dcol.download(), want));
    }
}

TEST(CudaFold, FoldMatchesReference) {
  uint32_t seed = 100;
  for (const FoldParams& p : geometries())
    for (auto [n0, n1] : ranges(p)) {
      SCOPED_TRACE(describe(p) + " images " + std::to_string(n0) + ".." + std::to_string(n1));
      const std::vector<float> col = random(col_elems(p), seed++);
      std::vector<float> want(image_elems(p), kNaN);
      DeviceBuffer<float> dcol(col), dx(want);
      fastconv::cuda::fold__cuda(p, dcol.p, dx.p, n0, n1, nullptr);
      fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      fastconv::ref::fold(p, col.data(), want.data(), n0, n1);
      ASSERT_TRUE(same_bits(dx.download(), want));
    }
}

// Past the grid cap (4096 blocks of 256 threads): the grid-stride loops cover every element.
TEST(CudaFold, PastTheGridCap) {
  const FoldParams p = geom(1, 1, 1030, 1030, 1, 1, 1, 1, 0, 0, 1, 1);
  const std::vector<float> x = random(image_elems(p), 7);
  std::vector<float> want(col_elems(p)), back(image_elems(p));
  DeviceBuffer<float> dx(x), dcol(want.size()), dback(back.size());
  fastconv::cuda::unfold__cuda(p, dx.p, dcol.p, 0, 1, nullptr);
  fastconv::cuda::fold__cuda(p, dcol.p, dback.p, 0, 1, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  fastconv::ref::unfold(p, x.data(), want.data(), 0, 1);
  fastconv::ref::fold(p, want.data(), back.data(), 0, 1);
  ASSERT_TRUE(same_bits(dcol.download(), want));
  ASSERT_TRUE(same_bits(dback.download(), back));
}

// No blocks at all (oh = 0): fold still overwrites the image with zeros; empty ranges queue nothing.
TEST(CudaFold, EmptyCases) {
  FoldParams p = geom(2, 2, 4, 4, 3, 3, 1, 1, 0, 0, 1, 1);
  p.oh = 0;
  DeviceBuffer<float> dx(std::vector<float>(image_elems(p), kNaN)), dcol(1);
  fastconv::cuda::fold__cuda(p, dcol.p, dx.p, 0, p.N, nullptr);
  fastconv::cuda::unfold__cuda(p, dx.p, dcol.p, 0, p.N, nullptr);
  fastconv::cuda::fold__cuda(p, dcol.p, dx.p, 1, 1, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  for (float v : dx.download()) ASSERT_EQ(0.f, v);
}

}  // namespace
