// The element-wise kernels (cuda/eltwise.cu) against the CPU reference (ref::binary, and the formulas of
// ops/eltwise.cpp for scale / fill_like / broadcast_to): same shape, scalar and per-channel operands, both sides
// broadcast, rank 8, empty and 0-d spaces, sizes past the grid cap; inputs with zeros, infinities and NaN. One
// FP32 operation an element, so results must be bit-identical.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/eltwise_ref.h"
#include "eltwise.cuh"
#include "launch.cuh"

namespace {

using fastconv::ref::BinaryOp;
using fastconv::ref::BroadcastParams;
using Shape = std::vector<int64_t>;

using fc_test::DeviceBuffer;

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// As ops/common.cpp's broadcast_shapes / broadcast_strides.
Shape broadcast(const Shape& a, const Shape& b) {
  const size_t n = std::max(a.size(), b.size());
  Shape o(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())], db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    o[i] = da == 1 ? db : da;
  }
  return o;
}
Shape strides(const Shape& in, const Shape& out) {
  Shape cs(in.size()), st(out.size(), 0);
  for (int64_t i = int64_t(in.size()) - 1, s = 1; i >= 0; --i) cs[size_t(i)] = s, s *= in[size_t(i)];
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 && out[off + i] != 1 ? 0 : cs[i];
  return st;
}
BroadcastParams params(const Shape& a, const Shape& b, const Shape& o) {
  BroadcastParams p;
  p.ndim = int(o.size());
  const Shape sa = strides(a, o), sb = strides(b, o);
  for (size_t i = 0; i < o.size(); ++i) p.shape[i] = o[i], p.stride_a[i] = sa[i], p.stride_b[i] = sb[i];
  return p;
}

// Fixed-seed values with zeros of both signs, infinities and NaN sprinkled in (they make div hit every IEEE case).
std::vector<float> values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-4.f, 4.f);
  const float special[] = {0.f, -0.f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(), 1e-38f, 3e38f};
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i % 11 == 5 ? special[(i / 11) % 7] : u(rng);
  return v;
}

::testing::AssertionResult identical(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (got[i] != want[i]) return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

struct Pair {
  Shape a, b;
};

TEST(CudaEltwise, BinaryMatchesReference) {
  const Pair pairs[] = {
      {{257}, {257}},
      {{3, 5, 7}, {3, 5, 7}},
      {{1000}, {}},
      {{}, {4, 3}},
      {{}, {}},
      {{1}, {1}},
      {{2, 3, 4, 5}, {3, 1, 1}},         // per-channel
      {{4, 1, 6}, {1, 5, 1}},            // both broadcast
      {{7, 1}, {1, 9}},                  // outer product
      {{2, 1, 3, 1, 2, 3, 1, 2}, {1, 4, 3, 2, 1, 3, 2, 1}},  // rank 8
      {{0, 3}, {3}},
      {{5, 0}, {1}},
      {{3, 1, 257}, {1, 2, 1}},
      {{1, 33}, {31, 33}},
  };
  const BinaryOp ops[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div};
  for (const Pair& pr : pairs) {
    const Shape o = broadcast(pr.a, pr.b);
    const BroadcastParams p = params(pr.a, pr.b, o);
    const std::vector<float> a = values(numel(pr.a), 1u + uint32_t(numel(pr.a))), b = values(numel(pr.b), 77u);
    DeviceBuffer<float> da(a), db(b), dout(size_t(numel(o)));
    for (BinaryOp op : ops) {
      SCOPED_TRACE(str(pr.a) + " op " + str(pr.b) + " #" + std::to_string(int(op)));
      std::vector<float> want(size_t(numel(o)));
      fastconv::ref::binary(op, p, a.data(), b.data(), want.data());
      fastconv::cuda::binary__cuda(op, p, da.p, db.p, dout.p, nullptr);
      sync();
      EXPECT_TRUE(identical(dout.download(), want));
    }
  }
}

// A broadcast space past 4096 blocks of 256 that does not collapse (each thread takes several grid-stride steps).
TEST(CudaEltwise, BinaryGridStridePastTheCap) {
  for (const Pair& pr : {Pair{{4097 * 64, 4}, {4}}}) {
    const Shape o = broadcast(pr.a, pr.b);
    const BroadcastParams p = params(pr.a, pr.b, o);
    const std::vector<float> x = values(numel(pr.a), 3u), y = values(numel(pr.b), 4u);
    std::vector<float> want(size_t(numel(o)));
    fastconv::ref::binary(BinaryOp::sub, p, x.data(), y.data(), want.data());
    DeviceBuffer<float> dx(x), dy(y), dout(want.size());
    fastconv::cuda::binary__cuda(BinaryOp::sub, p, dx.p, dy.p, dout.p, nullptr);
    sync();
    EXPECT_TRUE(identical(dout.download(), want)) << str(pr.a) << " - " << str(pr.b);
  }
}

TEST(CudaEltwise, ScaleAndFill) {
  for (int64_t n : {int64_t(0), int64_t(1), int64_t(255), int64_t(257), int64_t(10007)}) {
    SCOPED_TRACE("n=" + std::to_string(n));
    const std::vector<float> x = values(n, 9u + uint32_t(n));
    DeviceBuffer<float> dx(x), dy(static_cast<size_t>(n));
    for (const auto& ab : {std::pair<float, float>{-1.f, 0.f}, {0.37f, 0.f}, {1.7f, -0.3f}}) {
      std::vector<float> want(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) want[size_t(i)] = ab.first * x[size_t(i)] + ab.second;  // ops/eltwise.cpp
      fastconv::cuda::scale__cuda(ab.first, ab.second, dx.p, dy.p, n, nullptr);
      sync();
      EXPECT_TRUE(identical(dy.download(), want)) << "alpha " << ab.first << " beta " << ab.second;
    }
    fastconv::cuda::fill__cuda(-2.5f, dy.p, n, nullptr);
    sync();
    EXPECT_TRUE(identical(dy.download(), std::vector<float>(size_t(n), -2.5f)));
  }
}

TEST(CudaEltwise, BroadcastToMatchesReference) {
  const Pair pairs[] = {{{3, 1, 5}, {2, 3, 4, 5}}, {{}, {7, 3}}, {{1}, {1}}, {{4, 1}, {4, 300}},
                        {{1, 6, 1, 2}, {3, 6, 5, 2}}, {{2, 3}, {2, 3}}, {{3}, {0, 3}}};
  const float zero = 0.f;
  for (const Pair& pr : pairs) {
    SCOPED_TRACE(str(pr.a) + " -> " + str(pr.b));
    BroadcastParams p = params(pr.a, {}, pr.b);
    for (int d = 0; d < p.ndim; ++d) p.stride_b[d] = 0;
    const std::vector<float> x = values(numel(pr.a), 5u);
    std::vector<float> want(size_t(numel(pr.b)));
    fastconv::ref::binary(BinaryOp::add, p, x.data(), &zero, want.data());  // as the CPU op's ref kernel
    DeviceBuffer<float> dx(x), dout(want.size());
    fastconv::cuda::broadcast_to__cuda(p, dx.p, dout.p, nullptr);
    sync();
    EXPECT_TRUE(identical(dout.download(), want));
  }
}

}  // namespace
