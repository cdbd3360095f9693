// resize on the device (cuda/resize.cu) against ref::resize_axis and ref::resize_axis_backward
// (cpu/ref/resize_ref.h), one axis of [outer, in, inner] at a time, on taps from ref::resize_axis_taps: every mode
// (nearest with each rounding mode, linear, cubic with exclude_outside), antialiased downsampling, every coordinate
// transformation including tf_crop_and_resize with its extrapolated outputs, up- and downsampling by odd factors,
// inner and outer extents of 1 and more, a length-1 axis, and an axis resized to 0. The backward pass reaches each
// input through the transposed taps the upload builds; both passes must agree with the reference to 1e-5 relative
// error (the forward sums in double as the reference does, the backward in float in the reference's order).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "conv_check.cuh"
#include "cpu/ref/resize_ref.h"
#include "device_buffer.cuh"
#include "launch.cuh"
#include "resize.cuh"

namespace {

namespace ref = fastconv::ref;
using fc_test::DeviceBuffer;
using M = ref::ResizeMode;
using C = ref::ResizeCoord;
using R = ref::ResizeNearest;

std::vector<float> random(size_t n, uint32_t seed) { return fc_test::uniform_data(n, seed); }

// ||got - want|| <= 1e-5 ||want||, and every element finite where the reference is.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  double err = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = double(got[i]) - double(want[i]);
    if (!std::isfinite(got[i])) return ::testing::AssertionFailure() << "at " << i << ": got " << got[i];
    err += d * d;
    norm += double(want[i]) * double(want[i]);
  }
  if (!(std::sqrt(err) <= 1e-5 * std::sqrt(norm) + 1e-30))
    return ::testing::AssertionFailure() << "relative error " << std::sqrt(err / (norm ? norm : 1));
  return ::testing::AssertionSuccess();
}

struct Case {
  ref::ResizeSpec spec;
  int64_t outer, in, out, inner;
  double scale = 0, roi0 = 0, roi1 = 1;  // scale 0: out / in
  std::string name;
};

ref::ResizeSpec spec(M m, C c, R r = R::round_prefer_floor, bool aa = false, bool excl = false) {
  ref::ResizeSpec s;
  s.mode = m, s.coord = c, s.nearest = r, s.antialias = aa, s.exclude_outside = excl;
  s.extrapolation_value = -2.5;
  return s;
}

std::vector<Case> cases() {
  return {
      {spec(M::nearest, C::half_pixel), 3, 5, 11, 2, 0, 0, 1, "nearest up 11/5"},
      {spec(M::nearest, C::asymmetric, R::floor), 2, 9, 4, 3, 0, 0, 1, "nearest floor down"},
      {spec(M::nearest, C::align_corners, R::ceil), 1, 7, 13, 1, 0, 0, 1, "nearest ceil align_corners"},
      {spec(M::nearest, C::half_pixel, R::round_prefer_ceil), 4, 6, 9, 1, 0, 0, 1, "nearest prefer ceil"},
      {spec(M::linear, C::half_pixel), 2, 7, 12, 3, 0, 0, 1, "linear up"},
      {spec(M::linear, C::pytorch_half_pixel), 3, 9, 1, 2, 0, 0, 1, "linear to 1"},
      {spec(M::linear, C::align_corners), 1, 1, 5, 4, 0, 0, 1, "linear from 1"},
      {spec(M::linear, C::half_pixel, R::round_prefer_floor, true), 2, 17, 5, 3, 0, 0, 1, "linear antialias down"},
      {spec(M::cubic, C::half_pixel), 2, 6, 11, 2, 0, 0, 1, "cubic up"},
      {spec(M::cubic, C::half_pixel_symmetric, R::round_prefer_floor, false, true), 3, 8, 13, 1, 0, 0, 1,
       "cubic exclude_outside"},
      {spec(M::cubic, C::asymmetric, R::round_prefer_floor, true), 1, 19, 6, 5, 0, 0, 1, "cubic antialias down"},
      {spec(M::linear, C::tf_crop_and_resize), 2, 8, 7, 3, 0, 0.2, 1.3, "tf_crop_and_resize extrapolates"},
      {spec(M::nearest, C::tf_crop_and_resize), 3, 5, 9, 2, 0, -0.4, 0.9, "tf_crop nearest extrapolates"},
      {spec(M::linear, C::half_pixel), 2, 5, 8, 1, 2.5, 0, 1, "linear given scale"},
      {spec(M::linear, C::half_pixel), 3, 4, 0, 2, 0, 0, 1, "to zero"},
      {spec(M::linear, C::half_pixel), 37, 23, 41, 3, 0, 0, 1, "several blocks of threads"},
  };
}

TEST(CudaResize, AxisForwardAndBackwardMatchReference) {
  uint32_t seed = 1;
  for (const Case& k : cases()) {
    SCOPED_TRACE(k.name);
    const double scale = k.scale > 0 ? k.scale : double(k.out) / double(k.in);
    ref::ResizeAxis a = ref::resize_axis_taps(k.spec, k.in, k.out, scale, k.roi0, k.roi1);
    a.outer = k.outer, a.inner = k.inner;
    const fastconv::cuda::ResizeTables t = fastconv::cuda::resize_upload({a}, 0);
    ASSERT_EQ(t.axes.size(), 1u);
    const size_t nx = size_t(k.outer * k.in * k.inner), ny = size_t(k.outer * k.out * k.inner);
    const std::vector<float> x = random(nx, seed++), gy = random(ny, seed++);
    std::vector<float> y(ny), gx(nx);
    ref::resize_axis(a, x.data(), y.data(), 0, k.outer);
    ref::resize_axis_backward(a, gy.data(), gx.data(), 0, k.outer);
    DeviceBuffer<float> dx(x), dgy(gy), dy(std::vector<float>(ny, 1e30f)), dgx(std::vector<float>(nx, 1e30f));
    fastconv::cuda::resize_axis__cuda(t.axes[0], dx.p, dy.p, nullptr);
    fastconv::cuda::resize_axis_backward__cuda(t.axes[0], dgy.p, dgx.p, nullptr);
    fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    EXPECT_TRUE(close(dy.download(), y)) << "forward";
    EXPECT_TRUE(close(dgx.download(), gx)) << "backward";
  }
}

// Two axes in one upload: each keeps its own tables.
TEST(CudaResize, UploadKeepsEveryAxisApart) {
  ref::ResizeAxis a = ref::resize_axis_taps(spec(M::cubic, C::half_pixel), 5, 8, 8.0 / 5, 0, 1);
  ref::ResizeAxis b = ref::resize_axis_taps(spec(M::nearest, C::asymmetric, R::floor), 7, 3, 3.0 / 7, 0, 1);
  a.outer = 2, a.inner = 7;   // [2, 5, 7] -> [2, 8, 7]
  b.outer = 16, b.inner = 1;  // [2 * 8, 7, 1] -> [16, 3, 1]
  const fastconv::cuda::ResizeTables t = fastconv::cuda::resize_upload({a, b}, 0);
  const std::vector<float> x = random(70, 9);
  std::vector<float> mid(112), y(48);
  ref::resize_axis(a, x.data(), mid.data(), 0, 2);
  ref::resize_axis(b, mid.data(), y.data(), 0, 16);
  DeviceBuffer<float> dx(x), dmid(112), dy(48);
  fastconv::cuda::resize_axis__cuda(t.axes[0], dx.p, dmid.p, nullptr);
  fastconv::cuda::resize_axis__cuda(t.axes[1], dmid.p, dy.p, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  EXPECT_TRUE(close(dy.download(), y));
}

}  // namespace
