// The sum reductions (cuda/reduce.cu) against ref::sum_to: bias-gradient style (keep the channel), keep the
// outer or the inner axes, alternating kept/reduced axes, rank 8, 0-d, nothing reduced, empty inputs and outputs,
// sum_to to a lower rank, and every path of the kernel (sequential per output, one block per output, several
// slices per output with the partials pass, more work items than the grid cap). The result must be within 1e-6
// relative of the reference (both sum in double), reproducible bit for bit, and mean as ops/reduce.cpp scales it.
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
#include "cpu/ref/eltwise_ref.h"
#include "launch.cuh"
#include "reduce.cuh"

namespace {

using fastconv::ref::ReduceParams;
using Shape = std::vector<int64_t>;

using fc_test::DeviceBuffer;

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

// As ops/common.cpp's reduce_params(in, out): out's broadcast strides over in's axes.
ReduceParams params(const Shape& in, const Shape& out) {
  ReduceParams p;
  p.ndim = int(in.size());
  Shape cs(out.size());
  for (int64_t i = int64_t(out.size()) - 1, s = 1; i >= 0; --i) cs[size_t(i)] = s, s *= out[size_t(i)];
  const size_t off = in.size() - out.size();
  for (size_t i = 0; i < in.size(); ++i) {
    p.shape[i] = in[i];
    p.stride_out[i] = i < off ? 0 : (out[i - off] == 1 && in[i] != 1 ? 0 : cs[i - off]);
  }
  return p;
}

// The keepdim shape of reducing `in` over the axes in `mask` (bit d set: axis d reduced).
Shape keep(const Shape& in, unsigned mask) {
  Shape k = in;
  for (size_t d = 0; d < in.size(); ++d)
    if (mask >> d & 1u) k[d] = 1;
  return k;
}

std::vector<float> values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 3.f);  // not centred: sums do not cancel to nothing
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

struct Case {
  Shape in, out;  // out: the sum_to target (same rank with 1s, or lower rank)
};

void check_case(const Case& c, float scale, bool repeat = true) {
  const ReduceParams p = params(c.in, c.out);
  const int64_t n = numel(c.in), m = numel(c.out);
  const std::vector<float> x = values(n, 11u + uint32_t(n));
  std::vector<float> want(static_cast<size_t>(m));
  std::vector<double> acc(static_cast<size_t>(m));
  fastconv::ref::sum_to(p, x.data(), want.data(), m, acc.data());
  if (scale != 1.f)
    for (float& v : want) v *= scale;  // ops/reduce.cpp's mean
  // |x| summed per output bounds the double rounding of either order
  std::vector<float> ax(x.size());
  for (size_t i = 0; i < x.size(); ++i) ax[i] = std::fabs(x[i]);
  std::vector<float> mag(static_cast<size_t>(m));
  fastconv::ref::sum_to(p, ax.data(), mag.data(), m, acc.data());

  const size_t ws = fastconv::cuda::sum_to_workspace_bytes(p, m);
  DeviceBuffer<float> dx(x), dout(static_cast<size_t>(m));
  DeviceBuffer<double> dws((ws + sizeof(double) - 1) / sizeof(double));
  fastconv::cuda::reduce_sum__cuda(p, dx.p, dout.p, m, scale, ws ? dws.p : nullptr, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const std::vector<float> got = dout.download();
  for (int64_t i = 0; i < m; ++i) {
    const double w = want[size_t(i)], g = got[size_t(i)];
    if (std::isnan(w)) {
      EXPECT_TRUE(std::isnan(g)) << "at " << i;
      continue;
    }
    ASSERT_LE(std::fabs(g - w), 1e-6 * std::fabs(w) + 1e-12 * std::fabs(double(mag[size_t(i)]) * scale))
        << "at " << i << ": got " << g << ", want " << w;
  }
  if (!repeat) return;
  // reproducible: a second run gives the same bits
  fastconv::cuda::reduce_sum__cuda(p, dx.p, dout.p, m, scale, ws ? dws.p : nullptr, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const std::vector<float> again = dout.download();
  for (int64_t i = 0; i < m; ++i)
    if (!std::isnan(got[size_t(i)])) ASSERT_EQ(got[size_t(i)], again[size_t(i)]) << "at " << i;
}

std::vector<Case> cases() {
  std::vector<Case> cs;
  auto k = [&](const Shape& in, unsigned mask) { cs.push_back({in, keep(in, mask)}); };
  k({2, 3, 4, 5}, 0b1101);         // bias gradient of [N, C, H, W]: sequential, R = 40
  k({4, 16, 33, 33}, 0b1101);      // the same, long: one block per channel
  k({3, 300, 7}, 0b010);           // middle axis, R = 300: one block per output
  k({1, 70000}, 0b11);             // everything: several slices and the partials pass
  k({5, 20000}, 0b10);             // rows: 3 slices each
  k({20000, 5}, 0b01);             // columns
  k({2, 3, 2, 3, 2, 3}, 0b010101); // alternating
  k({2, 3, 2, 3, 2, 3}, 0b101010);
  k({2, 1, 3, 2, 1, 3, 2, 2}, 0b10010110);  // rank 8
  k({}, 0);                        // 0-d
  k({3, 4}, 0);                    // nothing reduced
  k({1, 1, 7}, 0b011);             // only size-1 axes "reduced"
  k({257}, 0b1);
  k({37, 100}, 0b10);              // innermost reduced, 33..256 elements: one warp an output
  k({6, 40, 9}, 0b101);            // the same over two reduced axes
  k({5, 33}, 0b10);
  k({7, 32}, 0b10);                // 32: sequential
  k({0, 5}, 0b01);                 // empty input: zeros (sum), NaN (mean)
  k({3, 0}, 0b01);                 // empty output
  cs.push_back({{4, 3, 5}, {3, 1}});     // sum_to to a lower rank
  cs.push_back({{6, 2, 300}, {300}});
  cs.push_back({{9, 7}, {}});
  return cs;
}

TEST(CudaReduce, SumToMatchesReference) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(str(c.in) + " -> " + str(c.out));
    check_case(c, 1.f);
  }
}

TEST(CudaReduce, MeanMatchesReference) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(str(c.in) + " -> " + str(c.out));
    const int64_t kept = numel(c.out), count = kept ? numel(c.in) / kept : 0;
    check_case(c, count ? 1.f / float(count) : std::numeric_limits<float>::quiet_NaN());
  }
}

// More (output, slice) blocks than the 4096-block grid, more outputs than 4096 x 256 threads, more outputs than
// 4096 x 8 warps (sum only: the emulator is slow at this size).
TEST(CudaReduce, PastTheGridCap) {
  for (const Case& c : {Case{{4097, 257}, {4097, 1}}, Case{{2, 1048600}, {1, 1048600}},
                        Case{{32769, 33}, {32769, 1}}}) {
    SCOPED_TRACE(str(c.in) + " -> " + str(c.out));
    check_case(c, 1.f, false);
  }
}

TEST(CudaReduce, WorkspaceOnlyForSlicedReductions) {
  EXPECT_EQ(fastconv::cuda::sum_to_workspace_bytes(params({2, 3, 4, 5}, {1, 3, 1, 1}), 3), 0u);
  EXPECT_EQ(fastconv::cuda::sum_to_workspace_bytes(params({3, 300, 7}, {3, 1, 7}), 21), 0u);
  EXPECT_GT(fastconv::cuda::sum_to_workspace_bytes(params({1, 70000}, {1, 1}), 1), 0u);
  EXPECT_GT(fastconv::cuda::sum_to_workspace_bytes(params({5, 20000}, {5, 1}), 5), 0u);
}

TEST(CudaReduce, SumToLauncher) {
  const Shape in{4, 6, 300}, out{1, 6, 1};
  const ReduceParams p = params(in, out);
  const std::vector<float> x = values(numel(in), 2u);
  std::vector<float> want(6);
  std::vector<double> acc(6);
  fastconv::ref::sum_to(p, x.data(), want.data(), 6, acc.data());
  DeviceBuffer<float> dx(x), dout(6);
  DeviceBuffer<double> dws(fastconv::cuda::sum_to_workspace_bytes(p, 6) / sizeof(double) + 1);
  fastconv::cuda::sum_to__cuda(p, dx.p, dout.p, 6, dws.p, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  const std::vector<float> got = dout.download();
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(got[size_t(i)], want[size_t(i)], 1e-6 * std::fabs(want[size_t(i)])) << i;
}

}  // namespace
