// The dropout kernels (cuda/dropout.cu) against ref::dropout / dropout_backward: masks, outputs and gradients bit
// for bit (each is one float multiply), over p = 0, 0.3, 0.5, 1, per-element and per-channel (inner > 1) entries,
// several seeds and steps, the device step counter, and a size past the grid cap.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/dropout_ref.h"
#include "dropout.cuh"
#include "launch.cuh"

namespace {

namespace ref = fastconv::ref;
namespace fc = fastconv::cuda;

using fc_test::DeviceBuffer;

std::vector<float> randv(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  if (n > 3) v[1] = std::numeric_limits<float>::quiet_NaN(), v[2] = std::numeric_limits<float>::infinity();
  return v;
}

void expect_same(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(got[i])) << what << " at " << i;
    else EXPECT_EQ(got[i], want[i]) << what << " at " << i;
  }
}

// Runs the kernels and the reference on one case; returns the mask.
std::vector<uint8_t> check_case(const ref::DropoutParams& p, bool device_step) {
  const int64_t n = p.entries * p.inner;
  const std::vector<float> x = randv(n, 1u + uint32_t(n)), g = randv(n, 2u + uint32_t(n));
  std::vector<float> y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  std::vector<uint8_t> mask(static_cast<size_t>(p.entries), 7);
  ref::dropout(p, x.data(), y.data(), mask.data(), 0, p.entries);
  ref::dropout_backward(p, g.data(), mask.data(), dx.data(), 0, p.entries);

  DeviceBuffer<float> dx_(x), dg(g), dy(static_cast<size_t>(n)), ddx(static_cast<size_t>(n));
  DeviceBuffer<uint8_t> dm(std::vector<uint8_t>(static_cast<size_t>(p.entries), 7));
  DeviceBuffer<uint64_t> dstep(std::vector<uint64_t>{p.step});
  ref::DropoutParams q = p;
  if (device_step) q.step = p.step + 12345;  // must be ignored in favour of the counter
  fc::dropout_forward__cuda(q, dx_.p, dy.p, dm.p, nullptr, device_step ? dstep.p : nullptr);
  fc::check(cudaDeviceSynchronize(), "sync");
  const std::vector<uint8_t> got = dm.download();
  EXPECT_EQ(got, mask) << "mask";
  expect_same(dy.download(), y, "y");
  fc::dropout_backward__cuda(p, dg.p, dm.p, ddx.p, nullptr);
  fc::check(cudaDeviceSynchronize(), "sync");
  expect_same(ddx.download(), dx, "dx");
  return got;
}

TEST(CudaDropout, MasksAndOutputsMatchReferenceBitForBit) {
  const float ps[] = {0.f, 0.3f, 0.5f, 1.f};
  const int64_t entries[] = {0, 1, 255, 257, 5003};
  const int64_t inners[] = {1, 7};
  for (float pr : ps)
    for (int64_t e : entries)
      for (int64_t inner : inners)
        for (uint64_t seed : {0ull, 0xDEADBEEFCAFEull})
          for (int dev = 0; dev < (seed == 0 ? 2 : 1); ++dev) {  // the device step: once per shape
            SCOPED_TRACE("p=" + std::to_string(pr) + " entries=" + std::to_string(e) + " inner=" +
                         std::to_string(inner) + " seed=" + std::to_string(seed) + " dev=" + std::to_string(dev));
            ref::DropoutParams p;
            p.seed = seed, p.step = 3 + seed % 5, p.p = pr, p.entries = e, p.inner = inner;
            const std::vector<uint8_t> m = check_case(p, dev == 1);
            if (e == 5003 && pr == 0.5f) {  // the mask is not degenerate
              int64_t kept = 0;
              for (uint8_t v : m) kept += v;
              EXPECT_GT(kept, 2200);
              EXPECT_LT(kept, 2800);
            }
          }
}

TEST(CudaDropout, StepChangesTheMask) {
  ref::DropoutParams p;
  p.seed = 42, p.p = 0.5f, p.entries = 1000;
  p.step = 1;
  const std::vector<uint8_t> a = check_case(p, true);
  p.step = 2;
  const std::vector<uint8_t> b = check_case(p, true);
  EXPECT_NE(a, b);
}

// 4096 blocks of 256 threads: past that every thread takes a second grid-stride step.
TEST(CudaDropout, GridStridePastTheGridCap) {
  ref::DropoutParams p;
  p.seed = 9, p.step = 1, p.p = 0.25f, p.entries = 4096LL * 256 + 300;
  check_case(p, false);
}

// Captured once into a CUDA graph with the device step counter: each replay after the counter moves draws the
// reference's mask for that step (the launcher is capture-safe: no allocation, no synchronisation, no host read).
TEST(CudaDropout, GraphReplayFollowsTheDeviceStep) {
  ref::DropoutParams p;
  p.seed = 77, p.step = 0, p.p = 0.4f, p.entries = 600, p.inner = 3;
  const int64_t n = p.entries * p.inner;
  const std::vector<float> x = randv(n, 5u);
  DeviceBuffer<float> dx_(x), dy(static_cast<size_t>(n));
  DeviceBuffer<uint8_t> dm(static_cast<size_t>(p.entries));
  DeviceBuffer<uint64_t> dstep(std::vector<uint64_t>{0});
  cudaStream_t s;
  fc::check(cudaStreamCreate(&s), "stream");
  fc::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
  fc::dropout_forward__cuda(p, dx_.p, dy.p, dm.p, s, dstep.p);
  cudaGraph_t g;
  fc::check(cudaStreamEndCapture(s, &g), "end");
  cudaGraphExec_t exec;
  fc::check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
  for (uint64_t step : {5ull, 6ull}) {
    dstep.upload(std::vector<uint64_t>{step});
    fc::check(cudaGraphLaunch(exec, s), "graph launch");
    fc::check(cudaStreamSynchronize(s), "sync");
    ref::DropoutParams q = p;
    q.step = step;
    std::vector<float> y(static_cast<size_t>(n));
    std::vector<uint8_t> mask(static_cast<size_t>(p.entries));
    ref::dropout(q, x.data(), y.data(), mask.data(), 0, p.entries);
    EXPECT_EQ(dm.download(), mask) << "step " << step;
    expect_same(dy.download(), y, "y");
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

}  // namespace
