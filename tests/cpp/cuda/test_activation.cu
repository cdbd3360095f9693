// The activation kernels (cuda/activation.cu) against the CPU reference (cpu/ref/activation_ref.h, relu in
// eltwise_ref.h) for every ActKind, forward and backward, over sizes around the block size and the grid-stride
// step, on inputs that hit every kind's breakpoints, large magnitudes and NaN.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "activation.cuh"
#include "cpu/ref/activation_ref.h"
#include "cpu/ref/eltwise_ref.h"
#include "fastconv/error.h"
#include "launch.cuh"

namespace {

using fastconv::ref::ActKind;
using fastconv::ref::ActParams;

using fc_test::DeviceBuffer;

const int64_t kSizes[] = {0, 1, 255, 256, 257, 10007};

struct Case {
  const char* name;
  ActParams p;
};

// torch's defaults, and a second parameter set where the op has scalars.
std::vector<Case> cases() {
  return {
      {"leaky_relu", {ActKind::leaky_relu, 0.01f, 0.f}},    {"leaky_relu_neg", {ActKind::leaky_relu, -0.3f, 0.f}},
      {"elu", {ActKind::elu, 1.f, 0.f}},                    {"elu_a0.5", {ActKind::elu, 0.5f, 0.f}},
      {"sigmoid", {ActKind::sigmoid, 0.f, 0.f}},            {"tanh", {ActKind::tanh, 0.f, 0.f}},
      {"threshold", {ActKind::threshold, 0.5f, -2.f}},      {"threshold0", {ActKind::threshold, 0.f, 0.f}},
      {"hardtanh", {ActKind::hardtanh, -1.f, 1.f}},         {"hardtanh_wide", {ActKind::hardtanh, -2.5f, 4.f}},
      {"gelu", {ActKind::gelu, 0.f, 0.f}},                  {"gelu_tanh", {ActKind::gelu_tanh, 0.f, 0.f}},
      {"softplus", {ActKind::softplus, 1.f, 20.f}},         {"softplus_b2_t5", {ActKind::softplus, 2.f, 5.f}},
      {"hardsigmoid", {ActKind::hardsigmoid, 0.f, 0.f}},    {"hardswish", {ActKind::hardswish, 0.f, 0.f}},
      {"silu", {ActKind::silu, 0.f, 0.f}},                  {"mish", {ActKind::mish, 0.f, 0.f}},
      {"selu", {ActKind::selu, 1.6732632423543772f, 1.0507009873554805f}},
      {"pow2", {ActKind::pow, 2.f, 0.f}},                   {"pow3", {ActKind::pow, 3.f, 0.f}},
      {"pow_half", {ActKind::pow, 0.5f, 0.f}},              {"pow_m1.5", {ActKind::pow, -1.5f, 0.f}},
      {"pow0", {ActKind::pow, 0.f, 0.f}},
  };
}

// Breakpoints (0, +-3, the op's scalars and their float neighbours), large magnitudes, NaN; then fixed-seed
// uniform values in [-6, 6].
std::vector<float> inputs(const ActParams& p, int64_t n, uint32_t seed) {
  std::vector<float> special = {0.f, -0.f, 3.f, -3.f, 30.f, -30.f, 20.f, -20.f, 1e-3f, -1e-3f, 1e-20f, -1e-20f,
                                std::numeric_limits<float>::quiet_NaN(), 0.75f, -0.75f, 1.f, -1.f};
  for (float v : {0.f, 3.f, -3.f, p.a, p.b, p.b / (p.a != 0.f ? p.a : 1.f)}) {
    special.push_back(v);
    special.push_back(std::nextafter(v, 1e30f));
    special.push_back(std::nextafter(v, -1e30f));
  }
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-6.f, 6.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = size_t(i) < special.size() ? special[size_t(i)] : u(rng);
  // spread the special values over the buffer so they also land in later blocks and grid-stride steps
  if (n > 1) {
    std::uniform_int_distribution<int64_t> pos(0, n - 1);
    for (size_t i = 0; i < special.size() && int64_t(i) < n; ++i) std::swap(x[i], x[size_t(pos(rng))]);
  }
  return x;
}

// |got - ref| <= 1e-5 max(|ref|, 1e-6) + abs_tol. abs_tol is 0, a purely relative bound, except for the backward
// of gelu, gelu_tanh, silu and mish (1e-6): their derivatives cross zero away from x = 0 (gelu' near -0.75, silu'
// near -1.28, mish' near -1.19), where the sum of O(1) terms cancels, so the float rounding of those terms
// (~6e-8 each) is an absolute error that no FP32 evaluation keeps relative to the tiny result (measured under the
// emulator: up to 2.6e-4 relative there, ~1e-7 absolute). Everywhere else the error is a few ulps (<= 2e-6
// relative, measured).
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 double abs_tol = 0.0) {
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    if (std::isinf(w) && g == w) continue;
    const double err = std::fabs(double(g) - double(w));
    if (!(err <= 1e-5 * std::max(std::fabs(double(w)), 1e-6) + abs_tol))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w << " (err " << err << ")";
  }
  return ::testing::AssertionSuccess();
}

TEST(CudaActivation, ForwardAndBackwardMatchReference) {
  int checked = 0;
  for (const Case& c : cases()) {
    for (int64_t n : kSizes) {
      SCOPED_TRACE(std::string(c.name) + " n=" + std::to_string(n));
      const std::vector<float> x = inputs(c.p, n, 1234u + uint32_t(n));
      std::vector<float> g(static_cast<size_t>(n)), y_ref(static_cast<size_t>(n)), dx_ref(static_cast<size_t>(n));
      std::mt19937 rng(99u + uint32_t(n));
      std::uniform_real_distribution<float> u(-2.f, 2.f);
      for (float& v : g) v = u(rng);
      fastconv::ref::activation(c.p, x.data(), y_ref.data(), n);
      const std::vector<float>& saved = fastconv::ref::act_backward_uses_output(c.p.kind) ? y_ref : x;
      fastconv::ref::activation_backward(c.p, g.data(), saved.data(), dx_ref.data(), n);

      DeviceBuffer<float> dx_(x), dg(g), ds(saved), dy(static_cast<size_t>(n)), ddx(static_cast<size_t>(n));
      fastconv::cuda::activation_forward__cuda(c.p, dx_.p, dy.p, n, nullptr);
      fastconv::cuda::activation_backward__cuda(c.p, dg.p, ds.p, ddx.p, n, nullptr);
      fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      EXPECT_TRUE(close(dy.download(), y_ref)) << "forward";
      const ActKind k = c.p.kind;
      const bool cancels = k == ActKind::gelu || k == ActKind::gelu_tanh || k == ActKind::silu || k == ActKind::mish;
      EXPECT_TRUE(close(ddx.download(), dx_ref, cancels ? 1e-6 : 0.0)) << "backward";
      ++checked;
    }
  }
  EXPECT_EQ(checked, int(cases().size() * std::size(kSizes)));
}

TEST(CudaActivation, EveryKindIsCovered) {
  std::vector<bool> seen(int(ActKind::pow) + 1, false);
  for (const Case& c : cases()) seen[size_t(c.p.kind)] = true;
  for (size_t k = 0; k < seen.size(); ++k) EXPECT_TRUE(seen[k]) << "ActKind " << k << " untested";
}

TEST(CudaActivation, ReluMatchesReference) {
  for (int64_t n : kSizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = inputs(ActParams{}, n, 7u + uint32_t(n));
    std::vector<float> g(static_cast<size_t>(n), 1.5f), y_ref(static_cast<size_t>(n)), dx_ref(static_cast<size_t>(n));
    for (size_t i = 0; i < g.size(); ++i) g[i] = float(int(i % 7) - 3);
    fastconv::ref::relu(x.data(), y_ref.data(), n);
    fastconv::ref::relu_backward(g.data(), y_ref.data(), dx_ref.data(), n);
    DeviceBuffer<float> dx_(x), dg(g), dyr(y_ref), dy(static_cast<size_t>(n)), ddx(static_cast<size_t>(n));
    fastconv::cuda::relu_forward__cuda(dx_.p, dy.p, n, nullptr);
    fastconv::cuda::relu_backward__cuda(dg.p, dyr.p, ddx.p, n, nullptr);
    fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const std::vector<float> y = dy.download(), dx = ddx.download();
    for (size_t i = 0; i < y.size(); ++i) {
      if (std::isnan(y_ref[i])) EXPECT_TRUE(std::isnan(y[i])) << i;
      else EXPECT_EQ(y[i], y_ref[i]) << i;
      EXPECT_EQ(dx[i], dx_ref[i]) << i;
    }
  }
}

// A grid capped at 4096 blocks of 256: n past 4096 * 256 makes every thread take more than one grid-stride step.
TEST(CudaActivation, GridStrideCoversPastTheGridCap) {
  const int64_t n = 4096LL * 256 + 300;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(i % 1000) - 500.f;
  std::vector<float> want(static_cast<size_t>(n));
  const ActParams p{ActKind::leaky_relu, 0.25f, 0.f};
  fastconv::ref::activation(p, x.data(), want.data(), n);
  DeviceBuffer<float> dx_(x), dy(static_cast<size_t>(n));
  fastconv::cuda::activation_forward__cuda(p, dx_.p, dy.p, n, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  EXPECT_EQ(dy.download(), want);
}

TEST(CudaActivation, PreluMatchesReference) {
  struct Shape {
    int64_t outer, C, inner;
    bool shared;
  };
  // C past the 4096-block cap makes a dw block take a second channel.
  const Shape shapes[] = {{0, 3, 5, false}, {2, 3, 0, false}, {1, 1, 1, false}, {2, 3, 257, false},
                          {3, 5, 300, true}, {4, 17, 1, false},  {1, 4100, 2, false}, {2, 1, 10007, true}};
  for (const Shape& sh : shapes) {
    SCOPED_TRACE("outer=" + std::to_string(sh.outer) + " C=" + std::to_string(sh.C) + " inner=" +
                 std::to_string(sh.inner) + (sh.shared ? " shared" : ""));
    const fastconv::ref::PreluParams p{sh.outer, sh.C, sh.inner, sh.shared};
    const int64_t n = sh.outer * sh.C * sh.inner;
    const std::vector<float> x = inputs(ActParams{}, n, 31u + uint32_t(n));
    std::vector<float> w(static_cast<size_t>(sh.C)), g(static_cast<size_t>(n));
    std::mt19937 rng(5u);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (float& v : w) v = u(rng);
    for (float& v : g) v = u(rng);
    std::vector<float> y_ref(static_cast<size_t>(n)), dx_ref(static_cast<size_t>(n));
    std::vector<double> dw_ref(static_cast<size_t>(sh.C), -1.0);
    fastconv::ref::prelu(p, x.data(), w.data(), y_ref.data(), 0, sh.C);
    fastconv::ref::prelu_backward(p, g.data(), x.data(), w.data(), dx_ref.data(), dw_ref.data(), 0, sh.C);

    DeviceBuffer<float> dx_(x), dw(w), dg(g), dy(static_cast<size_t>(n)), ddx(static_cast<size_t>(n));
    DeviceBuffer<double> ddw(std::vector<double>(static_cast<size_t>(sh.C), -7.0));
    fastconv::cuda::prelu_forward__cuda(p, dx_.p, dw.p, dy.p, nullptr);
    fastconv::cuda::prelu_backward__cuda(p, dg.p, dx_.p, dw.p, ddx.p, ddw.p, nullptr);
    fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    const std::vector<float> y = dy.download(), dx = ddx.download();
    const std::vector<double> dwp = ddw.download();
    for (size_t i = 0; i < y.size(); ++i) {  // one float multiply each: exact agreement
      if (std::isnan(y_ref[i])) EXPECT_TRUE(std::isnan(y[i])) << i;
      else EXPECT_EQ(y[i], y_ref[i]) << i;
      if (std::isnan(dx_ref[i])) EXPECT_TRUE(std::isnan(dx[i])) << i;
      else EXPECT_EQ(dx[i], dx_ref[i]) << i;
    }
    // float * float is exact in double, so the sums differ only by the order of double additions.
    for (size_t c = 0; c < dwp.size(); ++c) {
      if (std::isnan(dw_ref[c])) {
        EXPECT_TRUE(std::isnan(dwp[c])) << c;
        continue;
      }
      EXPECT_NEAR(dwp[c], dw_ref[c], 1e-12 * (1.0 + std::fabs(dw_ref[c]) * double(sh.outer * sh.inner))) << c;
    }
  }
}

}  // namespace
