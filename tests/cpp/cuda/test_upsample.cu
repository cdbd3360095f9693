// The upsampling kernels (cuda/upsample.cu) against the CPU reference (cpu/ref/upsample_ref.h), forward and
// backward, every UpsampleMode: up- and down-sampling by integer and non-integer factors, the 2x nearest fast
// path, identity sizes, explicit scale factors whose 1/scale differs from in/out, align_corners with out = 1,
// 1-D (H = 1) planes, widths past the block size, and more elements than the grid cap covers in one step.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/upsample_ref.h"
#include "launch.cuh"
#include "upsample.cuh"

namespace {

using fastconv::ref::UpsampleMode;
using fastconv::ref::UpsampleParams;

using fc_test::DeviceBuffer;

// |got - want| <= 1e-5 max(1, |want|); NaN must match NaN.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    if (!(std::fabs(double(g) - double(w)) <= 1e-5 * std::max(1.0, std::fabs(double(w)))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (float& v : x) v = u(rng);
  return x;
}

struct Shape {
  int64_t in_h, in_w, out_h, out_w;
  double scale_h = 0, scale_w = 0;
};

// Shapes for the interpolating modes (any in/out); bed_of_nails gets integer multiples only (its definition).
const Shape kShapes[] = {
    {1, 1, 1, 1},    {1, 1, 5, 3},        {3, 5, 6, 10},          {3, 5, 7, 11},     {5, 7, 3, 4},
    {4, 4, 4, 4},    {6, 5, 2, 1},        {4, 4, 10, 10, 2.5, 2.5}, {3, 5, 7, 12, 2.3, 2.45},
    {1, 300, 1, 601}, {1, 9, 1, 4},       {7, 3, 21, 9, 3.0, 3.0}, {2, 3, 5, 8, 0, 2.7},
};
const Shape kNailShapes[] = {{1, 1, 1, 1}, {1, 1, 4, 4}, {3, 5, 6, 10}, {2, 3, 6, 3}, {1, 7, 1, 21}, {4, 2, 8, 6}};

struct ModeCase {
  const char* name;
  UpsampleMode mode;
  bool align;
};
const ModeCase kModes[] = {{"nearest", UpsampleMode::nearest, false},
                           {"nearest_exact", UpsampleMode::nearest_exact, false},
                           {"linear", UpsampleMode::linear, false},
                           {"linear_align", UpsampleMode::linear, true},
                           {"bed_of_nails", UpsampleMode::bed_of_nails, false}};

void check_case(const UpsampleParams& p, int64_t planes, uint32_t seed) {
  const int64_t ni = planes * p.in_h * p.in_w, no = planes * p.out_h * p.out_w;
  std::vector<float> x = uniform(ni, seed), gy = uniform(no, seed + 1);
  if (ni > 2) x[1] = -0.f, x[2] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y_ref(static_cast<size_t>(no)), gx_ref(static_cast<size_t>(ni));
  fastconv::ref::upsample(p, x.data(), y_ref.data(), 0, planes);
  fastconv::ref::upsample_backward(p, gy.data(), gx_ref.data(), 0, planes);
  DeviceBuffer<float> dx(x), dgy(gy), dy(std::vector<float>(static_cast<size_t>(no), 9.f)),
      dgx(std::vector<float>(static_cast<size_t>(ni), 9.f));
  fastconv::cuda::upsample_forward__cuda(p, dx.p, dy.p, planes, nullptr);
  fastconv::cuda::upsample_backward__cuda(p, dgy.p, dgx.p, planes, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const std::vector<float> y = dy.download();
  EXPECT_TRUE(close(y, y_ref)) << "forward";
  EXPECT_TRUE(close(dgx.download(), gx_ref)) << "backward";
  for (size_t i = 0; i < y.size(); ++i)  // the reference's 0 + (-0) is +0: the kernel must not copy the sign
    if (y_ref[i] == 0.f) EXPECT_EQ(std::signbit(y[i]), std::signbit(y_ref[i])) << "sign of zero at " << i;
}

TEST(CudaUpsample, EveryModeMatchesReference) {
  int checked = 0;
  for (const ModeCase& m : kModes) {
    const bool nails = m.mode == UpsampleMode::bed_of_nails;
    const Shape* begin = nails ? std::begin(kNailShapes) : std::begin(kShapes);
    const Shape* end = nails ? std::end(kNailShapes) : std::end(kShapes);
    for (const Shape* s = begin; s != end; ++s)
      for (int64_t planes : {0, 1, 3}) {
        UpsampleParams p;
        p.mode = m.mode;
        p.align_corners = m.align;
        p.in_h = s->in_h, p.in_w = s->in_w, p.out_h = s->out_h, p.out_w = s->out_w;
        p.scale_h = s->scale_h, p.scale_w = s->scale_w;
        SCOPED_TRACE(std::string(m.name) + " " + std::to_string(p.in_h) + "x" + std::to_string(p.in_w) + " -> " +
                     std::to_string(p.out_h) + "x" + std::to_string(p.out_w) + " scale " +
                     std::to_string(p.scale_h) + "," + std::to_string(p.scale_w) + " planes " +
                     std::to_string(planes));
        check_case(p, planes, 7u + uint32_t(checked));
        ++checked;
      }
  }
  EXPECT_EQ(checked, 3 * (4 * int(std::size(kShapes)) + int(std::size(kNailShapes))));
}

TEST(CudaUpsample, EveryModeIsCovered) {
  std::vector<bool> seen(int(UpsampleMode::bed_of_nails) + 1, false);
  for (const ModeCase& m : kModes) seen[size_t(m.mode)] = true;
  for (size_t k = 0; k < seen.size(); ++k) EXPECT_TRUE(seen[k]) << "UpsampleMode " << k << " untested";
}

// 1030 planes of 32 x 32 outputs = 1054720 > 4096 * 256: some forward threads take a second grid-stride step
// (one mode: every mode's kernel is the same loop).
TEST(CudaUpsample, GridStrideCoversPastTheGridCap) {
  UpsampleParams p;
  p.mode = UpsampleMode::nearest;
  p.in_h = 16, p.in_w = 16, p.out_h = 32, p.out_w = 32;
  check_case(p, 1030, 99u);
}

// Both launchers are capture-safe: recorded into a CUDA graph, run only by the graph launch, results unchanged.
TEST(CudaUpsample, LaunchersAreGraphCaptureSafe) {
  UpsampleParams p;
  p.mode = UpsampleMode::linear;
  p.in_h = 3, p.in_w = 5, p.out_h = 7, p.out_w = 11;
  const int64_t planes = 2, ni = planes * 15, no = planes * 77;
  const std::vector<float> x = uniform(ni, 81u), gy = uniform(no, 82u);
  std::vector<float> y_ref(static_cast<size_t>(no)), gx_ref(static_cast<size_t>(ni));
  fastconv::ref::upsample(p, x.data(), y_ref.data(), 0, planes);
  fastconv::ref::upsample_backward(p, gy.data(), gx_ref.data(), 0, planes);
  const std::vector<float> no9(static_cast<size_t>(no), 9.f), ni9(static_cast<size_t>(ni), 9.f);
  DeviceBuffer<float> dx(x), dgy(gy), dy(no9), dgx(ni9);
  cudaStream_t s;
  fastconv::cuda::check(cudaStreamCreate(&s), "stream");
  fastconv::cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin capture");
  fastconv::cuda::upsample_forward__cuda(p, dx.p, dy.p, planes, s);
  fastconv::cuda::upsample_backward__cuda(p, dgy.p, dgx.p, planes, s);
  cudaGraph_t g;
  fastconv::cuda::check(cudaStreamEndCapture(s, &g), "end capture");
  EXPECT_EQ(dy.download(), no9) << "capturing must not run the work";
  cudaGraphExec_t exec;
  fastconv::cuda::check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
  fastconv::cuda::check(cudaGraphLaunch(exec, s), "graph launch");
  fastconv::cuda::check(cudaStreamSynchronize(s), "sync");
  EXPECT_TRUE(close(dy.download(), y_ref));
  EXPECT_TRUE(close(dgx.download(), gx_ref));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

}  // namespace
