// The im2col + GEMM convolutions (cuda/conv.cu, with the column matrices of cuda/fold.cu) against
// ref::conv_forward, conv_backward_data and conv_backward_weight (cpu/ref/conv_ref.h): 1-, 2- and 3-D, groups 1
// to 3 (3-D grouped, non-depthwise, included), strides, padding, dilation, rectangular and odd sizes, kernels
// larger than the input, output sizes below and above the natural ones, the 1x1 direct GEMM, 3-D with a unit depth
// kernel, with and without bias; and flip_taps__cuda against reversing the taps on the host.
//
// Tolerance: |got - ref| <= 1e-5 * bound, bound being the same reference on the absolute values of the inputs
// (sum of |x| |w| over the taps, plus |bias|). The GEMM sums in float; a missed, extra or misplaced tap misses the
// bound by orders of magnitude.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "conv.cuh"
#include "conv_check.cuh"
#include "cpu/conv_params.h"
#include "cpu/ref/conv_ref.h"
#include "device_buffer.cuh"
#include "launch.cuh"

namespace {

using fastconv::cpu::ConvParams;

using fc_test::DeviceBuffer;

using fc_test::Axis;
using fc_test::abs_of;
using fc_test::describe;
using fc_test::w_elems;
using fc_test::x_elems;
using fc_test::y_elems;

ConvParams make(int64_t N, int64_t C, int64_t K, int64_t groups, Axis d, Axis h, Axis w) {
  return fc_test::conv_params(N, C, K, groups, d, h, w);
}

const Axis kOne = fc_test::kUnit;

std::vector<ConvParams> geometries() {
  return {
      make(2, 3, 5, 1, kOne, {7, 3, 1, 1}, {9, 3, 1, 1}),                  // 2-D 3x3 same
      make(2, 4, 6, 2, kOne, {7, 3, 1, 2, 2}, {9, 3, 2, 2, 2}),            // 2-D grouped, dilation, stride
      make(2, 3, 7, 1, kOne, {5, 1}, {6, 1}),                              // 1x1: the GEMM on x itself
      make(2, 3, 4, 1, kOne, kOne, {11, 5, 2, 2}),                         // 1-D
      make(2, 3, 4, 1, {5, 3, 1, 1}, {6, 3, 2, 1}, {7, 3, 1, 0}),          // 3-D
      make(2, 4, 6, 2, {5, 3, 1, 1}, {6, 3, 2, 1}, {7, 2, 1, 1}),          // 3-D grouped
      make(1, 6, 9, 3, {4, 2, 2, 1, 1}, {5, 3, 1, 0, 2}, {6, 3, 2, 2, 2}), // 3-D, 3 groups, stride/dilation mixed
      make(2, 4, 2, 2, {7, 3, 2, 1, 1, -1}, {5, 2, 1, 0, 1, 1}, {3, 1}),   // 3-D grouped, out below / above natural
      make(1, 4, 4, 2, {3, 5, 1, 2}, {3, 5, 1, 2}, {2, 3, 1, 1}),          // 3-D grouped, kernel larger than input
      make(3, 2, 6, 2, {5, 1}, {4, 3, 1, 1}, {4, 3, 1, 1}),                // 3-D with a unit depth kernel, Cg = 1
      make(2, 6, 4, 2, {3, 2, 3, 0}, {5, 2, 3, 0}, {7, 2, 3, 0}),          // strides past the kernel: gaps
      make(1, 2, 2, 2, {1, 1}, {1, 1}, {1, 1}),                            // 1x1x1 image, grouped
      make(1, 4, 6, 2, {9, 3, 1, 1}, {11, 3, 1, 1}, {13, 3, 1, 1}),        // several blocks of threads
  };
}

std::vector<float> random(size_t n, uint32_t seed) { return fc_test::uniform_data(n, seed); }

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 const std::vector<float>& bound) {
  return fc_test::close(got, want, bound, 1e-5);
}

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// Every pass of one geometry; the outputs start as garbage (1e30) so a pass that skips an element fails.
void check_all(const ConvParams& p, uint32_t seed) {
  ASSERT_TRUE(fastconv::cuda::conv_gemm_applies(p));
  const std::vector<float> x = random(x_elems(p), seed), w = random(w_elems(p), seed + 1),
                           b = random(size_t(p.K), seed + 2), dy = random(y_elems(p), seed + 3);
  const std::vector<float> ax = abs_of(x), aw = abs_of(w), ab = abs_of(b), ady = abs_of(dy);
  DeviceBuffer<float> dx_in(x), dw_in(w), db_in(b), ddy(dy);
  DeviceBuffer<char> ws(fastconv::cuda::conv_gemm_workspace_bytes(p));
  for (bool with_bias : {false, true}) {
    SCOPED_TRACE(with_bias ? "forward with bias" : "forward");
    DeviceBuffer<float> y(std::vector<float>(y_elems(p), 1e30f));
    fastconv::cuda::conv_gemm_forward__cuda(p, dx_in.p, dw_in.p, with_bias ? db_in.p : nullptr, y.p, ws.p,
                                            nullptr);
    sync();
    std::vector<float> want(y_elems(p)), bound(y_elems(p));
    fastconv::ref::conv_forward(p, x.data(), w.data(), with_bias ? b.data() : nullptr, want.data());
    fastconv::ref::conv_forward(p, ax.data(), aw.data(), with_bias ? ab.data() : nullptr, bound.data());
    ASSERT_TRUE(close(y.download(), want, bound));
  }
  {
    SCOPED_TRACE("backward data");
    DeviceBuffer<float> dx(std::vector<float>(x_elems(p), 1e30f));
    fastconv::cuda::conv_gemm_backward_data__cuda(p, ddy.p, dw_in.p, nullptr, dx.p, ws.p, nullptr);
    sync();
    std::vector<float> want(x_elems(p)), bound(x_elems(p));
    fastconv::ref::conv_backward_data(p, dy.data(), w.data(), want.data());
    fastconv::ref::conv_backward_data(p, ady.data(), aw.data(), bound.data());
    ASSERT_TRUE(close(dx.download(), want, bound));
  }
  {
    SCOPED_TRACE("backward weight");
    DeviceBuffer<float> dw(std::vector<float>(w_elems(p), 1e30f));
    fastconv::cuda::conv_gemm_backward_weight__cuda(p, ddy.p, dx_in.p, dw.p, ws.p, nullptr);
    sync();
    std::vector<float> want(w_elems(p)), bound(w_elems(p));
    fastconv::ref::conv_backward_weight(p, dy.data(), x.data(), want.data());
    fastconv::ref::conv_backward_weight(p, ady.data(), ax.data(), bound.data());
    ASSERT_TRUE(close(dw.download(), want, bound));
  }
}

TEST(CudaConvGemm, MatchesReference) {
  uint32_t seed = 1;
  for (const ConvParams& p : geometries()) {
    SCOPED_TRACE(describe(p));
    check_all(p, seed);
    seed += 10;
    if (HasFatalFailure()) return;
  }
}

TEST(CudaConvGemm, AppliesWhereGroupsDivideTheChannels) {
  EXPECT_TRUE(fastconv::cuda::conv_gemm_applies(make(1, 6, 9, 3, {4, 2}, {4, 2}, {4, 2})));
  EXPECT_FALSE(fastconv::cuda::conv_gemm_applies(make(1, 6, 8, 3, {4, 2}, {4, 2}, {4, 2})));
  EXPECT_FALSE(fastconv::cuda::conv_gemm_applies(make(1, 5, 6, 3, kOne, {4, 2}, {4, 2})));
}

TEST(CudaConvGemm, FlipTapsReversesEveryKernel) {
  for (const int64_t kv : {1, 2, 9, 27}) {
    const int64_t kernels = 7;
    const std::vector<float> w = random(size_t(kernels * kv), uint32_t(kv));
    std::vector<float> want(w.size());
    for (int64_t q = 0; q < kernels; ++q)
      std::reverse_copy(w.begin() + q * kv, w.begin() + (q + 1) * kv, want.begin() + q * kv);
    DeviceBuffer<float> dw(w), out(std::vector<float>(w.size(), 1e30f));
    fastconv::cuda::flip_taps__cuda(dw.p, out.p, kernels, kv, nullptr);
    sync();
    EXPECT_EQ(out.download(), want) << "kv " << kv;
  }
}

}  // namespace
