// The FP32 GEMM kernels (cuda/gemm.cu) against ref::sgemm (cpu/ref/gemm_ref.h): every transpose combination over
// M, N, K in {1, 7, 63, 65, 130} (below, at and past the 64x64x16 tiles), leading dimensions past the minimum,
// alpha/beta cases (beta == 0 over a NaN-filled C), K == 0, strided batches with a shared B, and bit
// reproducibility. Padding columns of A, B and C hold NaN, so a kernel that reads or writes past M, N or K fails.
//
// Tolerance: |got - ref| <= 1e-5 * bound, bound = |alpha| sum_k |a_ik| |b_kj| + |beta c_ij| (ref::sgemm on the
// absolute values). A float fma chain over K terms is within K * 2^-24 * bound of the exact sum (Higham's
// gamma_K), 7.8e-6 at K = 130, so this is the worst-case error of any float accumulation order at these sizes,
// not a loosened one; a wrong element (a missed or doubled product) misses it by orders of magnitude.
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
#include "cpu/ref/gemm_ref.h"
#include "fastconv/error.h"
#include "gemm.cuh"
#include "launch.cuh"

namespace {

using fc_test::DeviceBuffer;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// rows x ld, the first `cols` of each row uniform in [-1, 1], the rest NaN.
std::vector<float> matrix(int64_t rows, int64_t cols, int64_t ld, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> m(size_t(rows * ld), kNaN);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m[size_t(r * ld + c)] = u(rng);
  return m;
}

// `count` matrices `stride` apart (NaN in the gaps).
std::vector<float> batched(int64_t count, int64_t stride, int64_t rows, int64_t cols, int64_t ld, std::mt19937& rng) {
  std::vector<float> v(size_t((count - 1) * stride + rows * ld), kNaN);
  for (int64_t b = 0; b < count; ++b) {
    const std::vector<float> m = matrix(rows, cols, ld, rng);
    std::copy(m.begin(), m.end(), v.begin() + b * stride);
  }
  return v;
}

std::vector<float> abs_of(std::vector<float> v) {
  for (float& x : v) x = std::isnan(x) ? x : std::fabs(x);
  return v;
}

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 const std::vector<float>& bound) {
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    const double err = std::fabs(double(g) - double(w));
    if (!(err <= 1e-5 * double(bound[i])))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w << " (err " << err
                                           << ", bound " << bound[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

struct Shape {
  bool ta, tb;
  int64_t M, N, K;
  int64_t pad = 0;  // leading dimensions exceed the minimum by this
};

// One product: C (ldc = N + pad, NaN in the padding; all NaN when beta == 0) against ref::sgemm.
::testing::AssertionResult check(const Shape& s, float alpha, float beta, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
  const int64_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
  const int64_t lda = a_cols + s.pad, ldb = b_cols + s.pad, ldc = s.N + s.pad;
  const std::vector<float> A = matrix(a_rows, a_cols, lda, rng), B = matrix(b_rows, b_cols, ldb, rng);
  std::vector<float> C = beta == 0.f ? std::vector<float>(size_t(s.M * ldc), kNaN) : matrix(s.M, s.N, ldc, rng);
  DeviceBuffer<float> dA(A), dB(B), dC(C);
  fastconv::cuda::sgemm__cuda(s.ta, s.tb, s.M, s.N, s.K, alpha, dA.p, lda, dB.p, ldb, beta, dC.p, ldc, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<float> want = C, bound = abs_of(C);
  fastconv::ref::sgemm(s.ta, s.tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc);
  fastconv::ref::sgemm(s.ta, s.tb, s.M, s.N, s.K, std::fabs(alpha), abs_of(A).data(), lda, abs_of(B).data(), ldb,
                       std::fabs(beta), bound.data(), ldc);
  return close(dC.download(), want, bound);
}

std::string name(const Shape& s, float alpha, float beta) {
  return std::string(s.ta ? "T" : "N") + (s.tb ? "T" : "N") + " M=" + std::to_string(s.M) +
         " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) + " pad=" + std::to_string(s.pad) +
         " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta);
}

const int64_t kDims[] = {1, 7, 63, 65, 130};

// Every M, N, K of kDims for one transpose combination, alpha 1 and beta 0 over a NaN C; lda/ldb/ldc padded on
// every other shape.
void all_shapes(bool ta, bool tb) {
  uint32_t seed = 1;
  for (int64_t M : kDims)
    for (int64_t N : kDims)
      for (int64_t K : kDims) {
        const Shape s{ta, tb, M, N, K, int64_t(seed % 2 ? 3 : 0)};
        SCOPED_TRACE(name(s, 1.f, 0.f));
        ASSERT_TRUE(check(s, 1.f, 0.f, seed++));
      }
}

TEST(CudaGemm, AllShapesNN) { all_shapes(false, false); }
TEST(CudaGemm, AllShapesNT) { all_shapes(false, true); }
TEST(CudaGemm, AllShapesTN) { all_shapes(true, false); }
TEST(CudaGemm, AllShapesTT) { all_shapes(true, true); }

TEST(CudaGemm, AlphaBeta) {
  const float ab[][2] = {{0.5f, -1.5f}, {-2.f, 1.f}, {0.f, 2.f}, {0.f, 0.f}, {1.f, 1.f}, {3.f, 0.f}};
  const Shape shapes[] = {{false, false, 65, 63, 130, 5}, {true, false, 7, 130, 65, 1}, {false, true, 130, 1, 7, 2},
                          {true, true, 63, 65, 1, 0}};
  uint32_t seed = 100;
  for (const Shape& s : shapes)
    for (const auto& v : ab) {
      SCOPED_TRACE(name(s, v[0], v[1]));
      ASSERT_TRUE(check(s, v[0], v[1], seed++));
    }
}

// K == 0: C = beta * C (beta == 0 overwrites the NaN with 0).
TEST(CudaGemm, EmptyK) {
  for (bool ta : {false, true})
    for (float beta : {0.f, 1.5f}) {
      const Shape s{ta, !ta, 65, 7, 0, 2};
      SCOPED_TRACE(name(s, 1.f, beta));
      ASSERT_TRUE(check(s, 1.f, beta, 7));
    }
}

TEST(CudaGemm, EmptyMOrNQueuesNothing) {
  DeviceBuffer<float> d(1);
  fastconv::cuda::sgemm__cuda(false, false, 0, 5, 5, 1.f, d.p, 5, d.p, 5, 0.f, d.p, 5, nullptr);
  fastconv::cuda::sgemm__cuda(false, false, 5, 0, 5, 1.f, d.p, 5, d.p, 1, 0.f, d.p, 1, nullptr);
  fastconv::cuda::sgemm_strided_batched__cuda(0, false, false, 5, 5, 5, 1.f, d.p, 5, 0, d.p, 5, 0, 0.f, d.p, 5, 0,
                                              nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  EXPECT_THROW(fastconv::cuda::sgemm__cuda(false, false, 5, 5, 5, 1.f, d.p, 4, d.p, 5, 0.f, d.p, 5, nullptr),
               fastconv::Error);
}

// batch 3 with gaps between the matrices, B shared (stride 0) in one case; each entry against ref::sgemm.
TEST(CudaGemm, StridedBatched) {
  for (bool shared_b : {false, true})
    for (bool ta : {false, true}) {
      const int64_t batch = 3, M = 65, N = 7, K = 63, pad = 2;
      const bool tb = ta;
      SCOPED_TRACE(std::string(ta ? "T" : "N") + (shared_b ? " shared B" : ""));
      std::mt19937 rng(uint32_t(11 + 2 * ta + shared_b));
      const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K, b_rows = tb ? N : K, b_cols = tb ? K : N;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
      const int64_t sa = a_rows * lda + 5, sb = shared_b ? 0 : b_rows * ldb + 3, sc = M * ldc + 9;
      const std::vector<float> A = batched(batch, sa, a_rows, a_cols, lda, rng),
                               B = batched(shared_b ? 1 : batch, sb, b_rows, b_cols, ldb, rng),
                               C = batched(batch, sc, M, N, ldc, rng);
      std::vector<float> want = C, bound = abs_of(C);
      const float alpha = 0.75f, beta = -0.5f;
      DeviceBuffer<float> dA(A), dB(B), dC(C);
      fastconv::cuda::sgemm_strided_batched__cuda(batch, ta, tb, M, N, K, alpha, dA.p, lda, sa, dB.p, ldb, sb, beta,
                                                  dC.p, ldc, sc, nullptr);
      fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const std::vector<float> absA = abs_of(A), absB = abs_of(B);
      for (int64_t b = 0; b < batch; ++b) {
        fastconv::ref::sgemm(ta, tb, M, N, K, alpha, A.data() + b * sa, lda, B.data() + b * sb, ldb, beta,
                             want.data() + b * sc, ldc);
        fastconv::ref::sgemm(ta, tb, M, N, K, std::fabs(alpha), absA.data() + b * sa, lda, absB.data() + b * sb, ldb,
                             std::fabs(beta), bound.data() + b * sc, ldc);
      }
      ASSERT_TRUE(close(dC.download(), want, bound));
    }
}

// Same inputs, same bits: each element's sum has one fixed order.
TEST(CudaGemm, Reproducible) {
  std::mt19937 rng(5);
  const int64_t M = 130, N = 65, K = 130;
  const std::vector<float> A = matrix(M, K, K, rng), B = matrix(K, N, N, rng);
  DeviceBuffer<float> dA(A), dB(B), c1(size_t(M * N)), c2(size_t(M * N));
  fastconv::cuda::sgemm__cuda(false, false, M, N, K, 1.f, dA.p, K, dB.p, N, 0.f, c1.p, N, nullptr);
  fastconv::cuda::sgemm__cuda(false, false, M, N, K, 1.f, dA.p, K, dB.p, N, 0.f, c2.p, N, nullptr);
  const std::vector<float> h1 = c1.download(), h2 = c2.download();
  EXPECT_EQ(0, std::memcmp(h1.data(), h2.data(), h1.size() * sizeof(float)));
}

}  // namespace
