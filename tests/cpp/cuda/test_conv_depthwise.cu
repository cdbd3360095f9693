// The direct depthwise convolution kernels (cuda/conv_depthwise.cu) against ref::conv_forward,
// conv_backward_data, conv_backward_weight and conv_backward_bias (cpu/ref/conv_ref.h): 1-, 2- and 3-D, channel
// multipliers 1 to 3, strides, padding, dilation, rectangular kernels, kernels larger than the input, output sizes
// below and above the natural ones (far-side padding), size-1 images, grids past their caps, with and without bias.
//
// Tolerance: |got - ref| <= 1e-5 * bound, bound being the same reference on the absolute values of the inputs
// (sum of |x| |w| over the taps, plus |bias|). The kernels accumulate a few dozen terms in float (forward,
// backward-data) or thousands in double (weight, bias), both far inside it; a missed, extra or misplaced tap
// misses it by orders of magnitude.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "conv_check.cuh"
#include "conv_depthwise.cuh"
#include "device_buffer.cuh"
#include "cpu/conv_params.h"
#include "cpu/ref/conv_ref.h"
#include "fastconv/error.h"
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

// Depthwise: one group per input channel, `mult` output channels each.
ConvParams make(int64_t N, int64_t C, int64_t mult, Axis d, Axis h, Axis w) {
  return fc_test::conv_params(N, C, C * mult, C, d, h, w);
}

const Axis kOne = fc_test::kUnit;

std::vector<ConvParams> geometries() {
  return {
      make(2, 3, 1, kOne, {7, 3, 1, 1}, {9, 3, 1, 1}),                     // 3x3 same
      make(2, 3, 1, kOne, {8, 3, 2, 1}, {7, 3, 2, 1}),                     // stride 2
      make(1, 2, 1, kOne, {7, 3, 1, 2, 2}, {6, 3, 1, 2, 2}),               // dilation 2
      make(2, 2, 2, kOne, {11, 5, 2, 2}, {13, 5, 2, 2}),                   // 5x5 s2, multiplier 2
      make(1, 3, 3, kOne, {6, 1, 1, 0}, {10, 3, 2, 1}),                    // 1x3, stride 1x2, multiplier 3
      make(2, 2, 1, kOne, {4, 2, 3, 0}, {9, 3, 3, 0}),                     // stride past the kernel
      make(1, 2, 1, kOne, {3, 5, 1, 2}, {3, 5, 1, 2}),                     // kernel larger than the input
      make(1, 2, 1, kOne, {7, 3, 1, 1, 1, -2}, {8, 3, 2, 1, 1, -1}),       // fewer outputs than natural
      make(1, 2, 2, kOne, {6, 3, 1, 0, 1, 2}, {5, 2, 1, 0, 1, 1}),         // far-side padding ('same', even k)
      make(3, 1, 1, kOne, {1, 3, 1, 1}, {1, 3, 1, 1}),                     // 1x1 image
      make(2, 3, 1, kOne, {5, 1, 2}, {6, 1, 2}),                           // 1x1 kernel, stride 2
      make(2, 3, 2, kOne, kOne, {17, 5, 2, 2}),                            // 1-D
      make(1, 2, 2, {5, 3, 1, 1}, {6, 3, 2, 1}, {7, 3, 1, 2, 2}),          // 3-D
      make(2, 1, 1, {4, 2, 2, 1, 1}, {5, 3, 1, 0, 2}, {5, 1, 1}),          // 3-D, mixed
      make(1, 5, 1, kOne, {23, 3, 1, 1}, {19, 3, 1, 1}),                   // several blocks of threads
  };
}

std::vector<float> random(size_t n, uint32_t seed) { return fc_test::uniform_data(n, seed); }

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 const std::vector<float>& bound) {
  return fc_test::close(got, want, bound, 1e-5);
}

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// Every pass of one geometry; the outputs start as garbage (1e30) so a pass that skips an element fails.
enum Pass : unsigned { kForward = 1, kData = 2, kWeight = 4, kBias = 8, kAll = 15 };

void check_all(const ConvParams& p, uint32_t seed, unsigned passes = kAll) {
  const std::vector<float> x = random(x_elems(p), seed), w = random(w_elems(p), seed + 1),
                           b = random(size_t(p.K), seed + 2), dy = random(y_elems(p), seed + 3);
  const std::vector<float> ax = abs_of(x), aw = abs_of(w), ab = abs_of(b), ady = abs_of(dy);
  DeviceBuffer<float> dx_in(x), dw_in(w), db_in(b), ddy(dy);
  for (bool with_bias : {false, true}) {
    if (!(passes & kForward)) break;
    SCOPED_TRACE(with_bias ? "forward with bias" : "forward");
    DeviceBuffer<float> y(std::vector<float>(y_elems(p), 1e30f));
    fastconv::cuda::conv_depthwise_forward__cuda(p, dx_in.p, dw_in.p, with_bias ? db_in.p : nullptr, y.p, nullptr);
    sync();
    std::vector<float> want(y_elems(p)), bound(y_elems(p));
    fastconv::ref::conv_forward(p, x.data(), w.data(), with_bias ? b.data() : nullptr, want.data());
    fastconv::ref::conv_forward(p, ax.data(), aw.data(), with_bias ? ab.data() : nullptr, bound.data());
    ASSERT_TRUE(close(y.download(), want, bound));
  }
  if (passes & kData) {
    SCOPED_TRACE("backward data");
    DeviceBuffer<float> dx(std::vector<float>(x_elems(p), 1e30f));
    fastconv::cuda::conv_depthwise_backward_data__cuda(p, ddy.p, dw_in.p, dx.p, nullptr);
    sync();
    std::vector<float> want(x_elems(p)), bound(x_elems(p));
    fastconv::ref::conv_backward_data(p, dy.data(), w.data(), want.data());
    fastconv::ref::conv_backward_data(p, ady.data(), aw.data(), bound.data());
    ASSERT_TRUE(close(dx.download(), want, bound));
  }
  if (passes & kWeight) {
    SCOPED_TRACE("backward weight");
    DeviceBuffer<float> dw(std::vector<float>(w_elems(p), 1e30f));
    fastconv::cuda::conv_depthwise_backward_weight__cuda(p, ddy.p, dx_in.p, dw.p, nullptr);
    sync();
    std::vector<float> want(w_elems(p)), bound(w_elems(p));
    fastconv::ref::conv_backward_weight(p, dy.data(), x.data(), want.data());
    fastconv::ref::conv_backward_weight(p, ady.data(), ax.data(), bound.data());
    ASSERT_TRUE(close(dw.download(), want, bound));
  }
  if (passes & kBias) {
    SCOPED_TRACE("backward bias");
    DeviceBuffer<float> db(std::vector<float>(size_t(p.K), 1e30f));
    fastconv::cuda::conv_backward_bias__cuda(p, ddy.p, db.p, nullptr);
    sync();
    std::vector<float> want(size_t(p.K)), bound(size_t(p.K));
    fastconv::ref::conv_backward_bias(p, dy.data(), want.data());
    fastconv::ref::conv_backward_bias(p, ady.data(), bound.data());
    ASSERT_TRUE(close(db.download(), want, bound));
  }
}

TEST(CudaConvDepthwise, MatchesReference) {
  uint32_t seed = 1;
  for (const ConvParams& p : geometries()) {
    SCOPED_TRACE(describe(p));
    check_all(p, seed);
    seed += 10;
    if (HasFatalFailure()) return;
  }
}

// Forward and backward-data over more than 4096 blocks of 256 elements, weight gradient over more than 4096
// weight elements (the grid caps): the grid-stride loops cover everything.
TEST(CudaConvDepthwise, PastTheGridCapElements) {
  check_all(make(1, 1, 1, kOne, {1025, 1}, {1024, 1}), 77, kForward | kData);  // 1x1: the loop, not the taps
}
TEST(CudaConvDepthwise, PastTheGridCapWeights) {
  check_all(make(1, 520, 1, kOne, {3, 3, 1, 1}, {3, 3, 1, 1}), 78, kWeight);
}

// The weight gradient sums N x out products per element in a fixed tree: the same bits every run.
TEST(CudaConvDepthwise, BackwardWeightReproducible) {
  const ConvParams p = make(4, 3, 2, kOne, {20, 3, 1, 1}, {21, 3, 2, 1});
  DeviceBuffer<float> dy(random(y_elems(p), 5)), x(random(x_elems(p), 6)), dw1(w_elems(p)), dw2(w_elems(p));
  fastconv::cuda::conv_depthwise_backward_weight__cuda(p, dy.p, x.p, dw1.p, nullptr);
  fastconv::cuda::conv_depthwise_backward_weight__cuda(p, dy.p, x.p, dw2.p, nullptr);
  const std::vector<float> a = dw1.download(), b = dw2.download();
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

// An empty batch: forward and backward-data queue nothing, the gradients of w and b are 0.
TEST(CudaConvDepthwise, EmptyBatchAndRejectedParams) {
  const ConvParams p = make(0, 3, 2, kOne, {5, 3, 1, 1}, {5, 3, 1, 1});
  DeviceBuffer<float> none(1), dw(std::vector<float>(w_elems(p), 1e30f)), db(std::vector<float>(6, 1e30f));
  fastconv::cuda::conv_depthwise_forward__cuda(p, none.p, none.p, none.p, none.p, nullptr);
  fastconv::cuda::conv_depthwise_backward_data__cuda(p, none.p, none.p, none.p, nullptr);
  fastconv::cuda::conv_depthwise_backward_weight__cuda(p, none.p, none.p, dw.p, nullptr);
  fastconv::cuda::conv_backward_bias__cuda(p, none.p, db.p, nullptr);
  sync();
  for (float v : dw.download()) ASSERT_EQ(0.f, v);
  for (float v : db.download()) ASSERT_EQ(0.f, v);
  ConvParams grouped = make(1, 4, 1, kOne, {5, 3, 1, 1}, {5, 3, 1, 1});
  grouped.groups = 2;
  EXPECT_THROW(fastconv::cuda::conv_depthwise_forward__cuda(grouped, none.p, none.p, nullptr, none.p, nullptr),
               fastconv::Error);
  ConvParams not_multiple = make(1, 4, 1, kOne, {5, 3, 1, 1}, {5, 3, 1, 1});
  not_multiple.K = 6;
  EXPECT_THROW(fastconv::cuda::conv_depthwise_backward_weight__cuda(not_multiple, none.p, none.p, none.p, nullptr),
               fastconv::Error);
}

}  // namespace
