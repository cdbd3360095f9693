// The softmax kernels (cuda/softmax.cu) against the CPU reference (ref::softmax / ref::softmax_backward in
// cpu/ref/activation_ref.h): every group size (a thread per row when inner >= 32, a warp, the block for long rows),
// odd and size-1 axes, strided rows, row counts past the grid cap, logits of +-1e4, -inf entries and NaN rows.
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
#include "cpu/ref/activation_ref.h"
#include "fastconv/error.h"
#include "launch.cuh"
#include "softmax.cuh"

namespace {

using fastconv::ref::SoftmaxParams;

using fc_test::DeviceBuffer;

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// |got - want| <= 1e-5 max(1, |want|); NaN and infinities must match exactly.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g == w) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    const double err = std::fabs(double(g) - double(w));
    if (!(err <= 1e-5 * std::max(1.0, std::fabs(double(w)))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w << " (err " << err << ")";
  }
  return ::testing::AssertionSuccess();
}

// Uniform logits in [-8, 8]; with `special`, row 0 holds +-1e4 logits, row 1 a NaN, row 2 a -inf entry.
std::vector<float> logits(const SoftmaxParams& p, uint32_t seed, bool special) {
  const int64_t n = p.outer * p.dim * p.inner;
  std::vector<float> x(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-8.f, 8.f);
  for (float& v : x) v = u(rng);
  if (!special || n == 0) return x;
  auto at = [&](int64_t o, int64_t d) -> float& { return x[size_t((o * p.dim + d) * p.inner)]; };
  const int64_t rows = p.outer;
  for (int64_t d = 0; d < p.dim && rows > 0; ++d) at(0, d) = (d % 3 == 0) ? 1e4f : (d % 3 == 1 ? -1e4f : 1e4f - 3.f);
  if (rows > 1) at(1, p.dim / 2) = std::numeric_limits<float>::quiet_NaN();
  if (rows > 2 && p.dim > 1) at(2, p.dim - 1) = -std::numeric_limits<float>::infinity();
  return x;
}

struct Shape {
  int64_t outer, dim, inner;
};

// inner >= 32: a thread a row; dim >= 2048 with inner < 32: the block; else a warp.
const Shape kShapes[] = {{1, 1, 1},   {3, 1, 5},    {2, 3, 1},     {4, 33, 1},  {3, 1000, 1}, {2, 2049, 1},
                         {1, 3001, 3}, {2, 5, 32},  {3, 7, 33},    {2, 33, 3},  {5, 2, 1},    {0, 4, 3},
                         {2, 0, 3},   {1, 3, 1000}};

void check_shape(const Shape& sh, bool log, bool special) {
  const SoftmaxParams p{sh.outer, sh.dim, sh.inner, log};
  SCOPED_TRACE(std::string(log ? "log_softmax" : "softmax") + " outer=" + std::to_string(sh.outer) + " dim=" +
               std::to_string(sh.dim) + " inner=" + std::to_string(sh.inner) + (special ? " special" : ""));
  const size_t n = size_t(sh.outer * sh.dim * sh.inner);
  const std::vector<float> x = logits(p, 17u + uint32_t(n), special);
  std::vector<float> y_ref(n), g(n), dx_ref(n);
  std::mt19937 rng(3u + uint32_t(n));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& v : g) v = u(rng);
  fastconv::ref::softmax(p, x.data(), y_ref.data(), 0, sh.outer);
  fastconv::ref::softmax_backward(p, g.data(), y_ref.data(), dx_ref.data(), 0, sh.outer);
  DeviceBuffer<float> dx_(x), dyr(y_ref), dg(g), dy(std::vector<float>(n, -7.f)), ddx(std::vector<float>(n, -7.f));
  fastconv::cuda::softmax_forward__cuda(p, dx_.p, dy.p, nullptr);
  fastconv::cuda::softmax_backward__cuda(p, dg.p, dyr.p, ddx.p, nullptr);
  sync();
  const std::vector<float> y = dy.download();
  EXPECT_TRUE(close(y, y_ref)) << "forward";
  EXPECT_TRUE(close(ddx.download(), dx_ref)) << "backward";
  if (special && sh.outer > 0) {  // the +-1e4 row: finite, and exact where the reference is exact
    for (int64_t d = 0; d < sh.dim; ++d) {
      const float v = y[size_t(d * sh.inner)];
      EXPECT_TRUE(std::isfinite(v)) << "1e4 row, d=" << d << ": " << v;
      if (d % 3 == 1) EXPECT_EQ(v, log ? y_ref[size_t(d * sh.inner)] : 0.f) << d;
    }
  }
}

TEST(CudaSoftmax, SoftmaxMatchesReference) {
  for (const Shape& sh : kShapes) check_shape(sh, false, false);
}

TEST(CudaSoftmax, LogSoftmaxMatchesReference) {
  for (const Shape& sh : kShapes) check_shape(sh, true, false);
}

TEST(CudaSoftmax, LargeLogitsNanAndInfRows) {
  for (const Shape& sh : kShapes)
    for (bool log : {false, true}) check_shape(sh, log, true);
}

// Past the 1024-block cap (cuda/rowreduce.cuh) some groups take a second grid-stride step: 8193 rows of a warp
// each (8 a block), 262145 rows of a thread each.
TEST(CudaSoftmax, WarpRowsPastTheGridCap) { check_shape({8193, 2, 1}, false, true); }
TEST(CudaSoftmax, ThreadRowsPastTheGridCap) { check_shape({1, 2, 262145}, true, false); }

// A row of {1e4, -1e4, 1e4}: exactly {0.5, 0, 0.5} and log {-ln 2, -2e4 - ln 2, -ln 2} (to float precision).
TEST(CudaSoftmax, ExtremeLogitsAreExact) {
  for (int64_t inner : {int64_t(1), int64_t(32)}) {
    const SoftmaxParams p{1, 3, inner, false};
    std::vector<float> x(size_t(3 * inner));
    for (int64_t i = 0; i < inner; ++i) {
      x[size_t(i)] = 1e4f;
      x[size_t(inner + i)] = -1e4f;
      x[size_t(2 * inner + i)] = 1e4f;
    }
    DeviceBuffer<float> dx_(x), dy(x.size()), dl(x.size());
    fastconv::cuda::softmax_forward__cuda(p, dx_.p, dy.p, nullptr);
    fastconv::cuda::softmax_forward__cuda(SoftmaxParams{1, 3, inner, true}, dx_.p, dl.p, nullptr);
    sync();
    const std::vector<float> y = dy.download(), l = dl.download();
    for (int64_t i = 0; i < inner; ++i) {
      EXPECT_EQ(y[size_t(i)], 0.5f);
      EXPECT_EQ(y[size_t(inner + i)], 0.f);
      EXPECT_EQ(y[size_t(2 * inner + i)], 0.5f);
      EXPECT_EQ(l[size_t(i)], -float(std::log(2.0)));
      EXPECT_EQ(l[size_t(inner + i)], float(-2e4 - std::log(2.0)));
      EXPECT_EQ(l[size_t(2 * inner + i)], -float(std::log(2.0)));
    }
  }
}

// Same input twice, same bits: the reductions have a fixed order.
TEST(CudaSoftmax, Deterministic) {
  const SoftmaxParams p{3, 2500, 1, false};
  const std::vector<float> x = logits(p, 5u, false);
  DeviceBuffer<float> dx_(x), a(x.size()), b(x.size());
  fastconv::cuda::softmax_forward__cuda(p, dx_.p, a.p, nullptr);
  fastconv::cuda::softmax_forward__cuda(p, dx_.p, b.p, nullptr);
  sync();
  EXPECT_EQ(a.download(), b.download());
}

}  // namespace
