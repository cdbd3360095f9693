// The Winograd F(2x2, 3x3) convolution (cuda/conv_winograd.cu) against ref::conv_forward and conv_backward_data
// (cpu/ref/conv_ref.h): padding 0, 1, 2 and 3 (backward data then runs with negative padding), odd sizes that cut
// the last tiles, far-side padding and fewer outputs than natural, 1-row images, batch 3, channel counts of no
// particular multiple, with and without bias, images in one chunk and in several.
//
// Tolerance 1e-4 of the |x| |w| bound (conv_check.cuh) instead of the direct kernels' 1e-5: the transforms add
// and subtract up to 16 inputs (and halve) before the product and 9 products after it, so each output is a sum of
// terms several times larger than its direct ones, whose rounding errors cancel only in exact arithmetic; the
// error is a small multiple of the direct sum's, well inside 1e-4, while a wrong tap or tile misses by O(1).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "conv_check.cuh"
#include "conv_winograd.cuh"
#include "cpu/ref/conv_ref.h"
#include "device_buffer.cuh"
#include "fastconv/error.h"
#include "launch.cuh"

namespace {

using namespace fc_test;

std::vector<ConvParams> geometries() {
  return {
      conv_params(2, 3, 5, 1, kUnit, {7, 3, 1, 1}, {9, 3, 1, 1}),              // same, odd sizes: cut tiles
      conv_params(3, 4, 6, 1, kUnit, {8, 3, 1, 0}, {6, 3, 1, 0}),              // valid, batch 3
      conv_params(1, 5, 3, 1, kUnit, {5, 3, 1, 2}, {6, 3, 1, 2}),              // pad 2: dgrad pad 0
      conv_params(1, 2, 3, 1, kUnit, {4, 3, 1, 3}, {5, 3, 1, 3}),              // pad 3: dgrad pad -1
      conv_params(1, 3, 2, 1, kUnit, {7, 3, 1, 1, 1, -2}, {8, 3, 1, 1, 1, 1}),  // fewer / more outputs
      conv_params(2, 3, 4, 1, kUnit, {1, 3, 1, 1}, {9, 3, 1, 1}),              // one-row images
      conv_params(1, 17, 19, 1, kUnit, {6, 3, 1, 1}, {5, 3, 1, 1}),            // more channels
  };
}

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void check_both(const ConvParams& p, uint32_t seed, int64_t chunk) {
  ASSERT_TRUE(fastconv::cuda::conv_winograd_f2x3_applies(p));
  const std::vector<float> x = uniform_data(x_elems(p), seed), w = uniform_data(w_elems(p), seed + 1),
                           b = uniform_data(size_t(p.K), seed + 2), bc = uniform_data(size_t(p.C), seed + 3),
                           dy = uniform_data(y_elems(p), seed + 4);
  const std::vector<float> ax = abs_of(x), aw = abs_of(w), ab = abs_of(b), abc = abs_of(bc), ady = abs_of(dy);
  DeviceBuffer<float> dx_in(x), dw_in(w), db(b), dbc(bc), ddy(dy);
  DeviceBuffer<float> work(fastconv::cuda::conv_winograd_f2x3_workspace_bytes(p, chunk) / sizeof(float));
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "forward with bias" : "forward");
    DeviceBuffer<float> y(std::vector<float>(y_elems(p), 1e30f));
    fastconv::cuda::conv_winograd_f2x3_forward__cuda(p, dx_in.p, dw_in.p, bias ? db.p : nullptr, y.p, work.p,
                                                     nullptr, chunk);
    sync();
    std::vector<float> want(y_elems(p)), bound(y_elems(p));
    fastconv::ref::conv_forward(p, x.data(), w.data(), bias ? b.data() : nullptr, want.data());
    fastconv::ref::conv_forward(p, ax.data(), aw.data(), bias ? ab.data() : nullptr, bound.data());
    ASSERT_TRUE(close(y.download(), want, bound, 1e-4));
  }
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "backward data with bias" : "backward data");
    DeviceBuffer<float> dx(std::vector<float>(x_elems(p), 1e30f));
    fastconv::cuda::conv_winograd_f2x3_backward_data__cuda(p, ddy.p, dw_in.p, bias ? dbc.p : nullptr, dx.p, work.p,
                                                           nullptr, chunk);
    sync();
    std::vector<float> want(x_elems(p)), bound(x_elems(p));
    fastconv::ref::conv_backward_data(p, dy.data(), w.data(), want.data());
    fastconv::ref::conv_backward_data(p, ady.data(), aw.data(), bound.data());
    const size_t plane = x_elems(p) / size_t(p.N * p.C);
    for (size_t i = 0; bias && i < want.size(); ++i)
      want[i] += bc[i / plane % size_t(p.C)], bound[i] += abc[i / plane % size_t(p.C)];
    ASSERT_TRUE(close(dx.download(), want, bound, 1e-4));
  }
}

TEST(CudaConvWinograd, MatchesReference) {
  uint32_t seed = 1;
  for (const ConvParams& p : geometries()) {
    SCOPED_TRACE(describe(p));
    check_both(p, seed, 0);
    seed += 10;
    if (HasFatalFailure()) return;
  }
}

// Batch 3 in chunks of 2 and 1 image: the chunk offsets, and a smaller workspace than one chunk of 3.
TEST(CudaConvWinograd, ImagesInChunks) {
  const ConvParams p = conv_params(3, 4, 6, 1, kUnit, {7, 3, 1, 1}, {5, 3, 1, 1});
  EXPECT_LT(fastconv::cuda::conv_winograd_f2x3_workspace_bytes(p, 2),
            fastconv::cuda::conv_winograd_f2x3_workspace_bytes(p, 3));
  check_both(p, 99, 2);
}

TEST(CudaConvWinograd, RejectsOtherGeometries) {
  ConvParams strided = conv_params(1, 2, 2, 1, kUnit, {7, 3, 2, 1}, {7, 3, 2, 1});
  ConvParams grouped = conv_params(1, 2, 2, 2, kUnit, {7, 3, 1, 1}, {7, 3, 1, 1});
  ConvParams five = conv_params(1, 2, 2, 1, kUnit, {7, 5, 1, 1}, {7, 5, 1, 1});
  DeviceBuffer<float> none(1);
  for (const ConvParams& p : {strided, grouped, five}) {
    EXPECT_FALSE(fastconv::cuda::conv_winograd_f2x3_applies(p));
    EXPECT_THROW(
        fastconv::cuda::conv_winograd_f2x3_forward__cuda(p, none.p, none.p, nullptr, none.p, none.p, nullptr),
        fastconv::Error);
  }
}

}  // namespace
