// Every GEMM kernel (gemm.cuh's GemmKernel: the SIMT FP32 kernels at both tile sizes, the TF32 and BF16 tensor-core
// kernels) against ref::sgemm (cpu/ref/gemm_ref.h): every transpose combination over M, N, K in
// {1, 7, 33, 65, 129} (below, at and past the 64- and 128-wide tiles and the 8/16-deep slices), leading dimensions
// past the minimum (odd ones too, which take the unvectorised loads), alpha/beta cases (beta == 0 over a NaN-filled
// C), K == 0, strided batches with a shared B, and bit reproducibility. Padding columns of A, B and C hold NaN, so
// a kernel that reads or writes past M, N or K fails.
//
// Tolerance, with bound = |alpha| sum_k |a_ik| |b_kj| + |beta c_ij| (ref::sgemm on the absolute values):
// - FP32: |got - ref| <= 1e-5 * bound. A float fma chain over K terms is within K 2^-24 bound of the exact sum
//   (Higham's gamma_K), 7.7e-6 at K = 129, so this is the worst case of any float accumulation order at these
//   sizes, not a loosened one; a wrong element (a missed or doubled product) misses it by orders of magnitude.
// - TF32 / BF16: each operand is rounded to nearest with unit roundoff u (TF32: 10 stored mantissa bits,
//   u = 2^-11; BF16: 7 stored bits, u = 2^-8), so a product is off by at most (2u + u^2) |a b|; the FP32
//   accumulation (and alpha, beta) add at most (K + 3) 2^-24 (1 + u)^2 of the bound:
//   |got - ref| <= ((2u + u^2) + (K + 3) 2^-24 (1 + u)^2) * bound.
//   And they must NOT be exact FP32: on every product with M N >= 49 and K >= 7, the largest error relative to
//   the bound exceeds 4 (K + 3) 2^-24, which no FP32 accumulation can reach, so a kernel that skipped the
//   rounding (or ran in FP32) fails. Random operands in [-1, 1] put the typical relative error near
//   0.4 u / sqrt(K) per element, several times that threshold.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/gemm_ref.h"
#include "fastconv/error.h"
#include "gemm.cuh"
#include "launch.cuh"

using fastconv::cuda::GemmKernel;

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

const GemmKernel kKernels[] = {GemmKernel::simt_128x128, GemmKernel::simt_64x64, GemmKernel::mma_tf32,
                                GemmKernel::mma_bf16};

const char* kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::simt_128x128: return "simt128";
    case GemmKernel::simt_64x64: return "simt64";
    case GemmKernel::mma_tf32: return "mma_tf32";
    default: return "mma_bf16";
  }
}

bool reduced(GemmKernel k) { return k == GemmKernel::mma_tf32 || k == GemmKernel::mma_bf16; }

// The relative tolerance of the header comment.
double tolerance(GemmKernel k, int64_t K) {
  if (!reduced(k)) return 1e-5;
  const double u = std::ldexp(1.0, k == GemmKernel::mma_tf32 ? -11 : -8);
  return 2 * u + u * u + double(K + 3) * std::ldexp(1.0, -24) * (1 + u) * (1 + u);
}

// Within tolerance(kernel, K) * bound everywhere; for the reduced precisions on big enough products, also
// measurably off exact FP32 somewhere.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                 const std::vector<float>& bound, GemmKernel kernel, int64_t M, int64_t N,
                                 int64_t K) {
  const double tol = tolerance(kernel, K);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    const double err = std::fabs(double(g) - double(w));
    if (!(err <= tol * double(bound[i])))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w << " (err " << err
                                           << ", bound " << bound[i] << ", tolerance " << tol << ")";
    if (bound[i] > 0) worst = std::max(worst, err / double(bound[i]));
  }
  const double fp32_worst = 4 * double(K + 3) * std::ldexp(1.0, -24);
  if (reduced(kernel) && M * N >= 49 && K >= 7 && !(worst > fp32_worst))
    return ::testing::AssertionFailure() << "largest relative error " << worst << " is within exact FP32's "
                                         << fp32_worst << ": the operands were not rounded";
  return ::testing::AssertionSuccess();
}

struct Shape {
  bool ta, tb;
  int64_t M, N, K;
  int64_t pad = 0;  // leading dimensions exceed the minimum by this
};

void gemm(GemmKernel kernel, const Shape& s, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
          float beta, float* C, int64_t ldc) {
  fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, 1, s.ta, s.tb, s.M, s.N, s.K, alpha, A, lda, 0, B, ldb,
                                                     0, beta, C, ldc, 0, nullptr);
}

// One product: C (ldc = N + pad, NaN in the padding; all NaN when beta == 0) against ref::sgemm.
::testing::AssertionResult check(GemmKernel kernel, const Shape& s, float alpha, float beta, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
  const int64_t b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
  const int64_t lda = a_cols + s.pad, ldb = b_cols + s.pad, ldc = s.N + s.pad;
  const std::vector<float> A = matrix(a_rows, a_cols, lda, rng), B = matrix(b_rows, b_cols, ldb, rng);
  std::vector<float> C = beta == 0.f ? std::vector<float>(size_t(s.M * ldc), kNaN) : matrix(s.M, s.N, ldc, rng);
  DeviceBuffer<float> dA(A), dB(B), dC(C);
  gemm(kernel, s, alpha, dA.p, lda, dB.p, ldb, beta, dC.p, ldc);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::vector<float> want = C, bound = abs_of(C);
  fastconv::ref::sgemm(s.ta, s.tb, s.M, s.N, s.K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc);
  fastconv::ref::sgemm(s.ta, s.tb, s.M, s.N, s.K, std::fabs(alpha), abs_of(A).data(), lda, abs_of(B).data(), ldb,
                       std::fabs(beta), bound.data(), ldc);
  return close(dC.download(), want, bound, kernel, alpha == 0.f ? 0 : s.M, s.N, s.K);
}

std::string name(GemmKernel kernel, const Shape& s, float alpha, float beta) {
  return std::string(kernel_name(kernel)) + " " + (s.ta ? "T" : "N") + (s.tb ? "T" : "N") +
         " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K) +
         " pad=" + std::to_string(s.pad) + " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta);
}

const int64_t kDims[] = {1, 7, 33, 65, 129};

// Every M, N, K of kDims for one transpose combination and every kernel, alpha 1 and beta 0 over a NaN C;
// leading dimensions padded by 4 (vectorised loads) or 3 (scalar loads) or not at all, in turn.
void all_shapes(bool ta, bool tb) {
  for (GemmKernel kernel : kKernels) {
    uint32_t seed = 1;
    for (int64_t M : kDims)
      for (int64_t N : kDims)
        for (int64_t K : kDims) {
          const Shape s{ta, tb, M, N, K, int64_t(seed % 3 == 0 ? 0 : seed % 3 == 1 ? 3 : 4)};
          SCOPED_TRACE(name(kernel, s, 1.f, 0.f));
          ASSERT_TRUE(check(kernel, s, 1.f, 0.f, seed++));
        }
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
  for (GemmKernel kernel : kKernels) {
    uint32_t seed = 100;
    for (const Shape& s : shapes)
      for (const auto& v : ab) {
        SCOPED_TRACE(name(kernel, s, v[0], v[1]));
        ASSERT_TRUE(check(kernel, s, v[0], v[1], seed++));
      }
  }
}

// K == 0: C = beta * C (beta == 0 overwrites the NaN with 0).
TEST(CudaGemm, EmptyK) {
  for (GemmKernel kernel : kKernels)
    for (bool ta : {false, true})
      for (float beta : {0.f, 1.5f}) {
        const Shape s{ta, !ta, 65, 7, 0, 2};
        SCOPED_TRACE(name(kernel, s, 1.f, beta));
        ASSERT_TRUE(check(kernel, s, 1.f, beta, 7));
      }
}

TEST(CudaGemm, EmptyMOrNQueuesNothing) {
  DeviceBuffer<float> d(1);
  fastconv::cuda::sgemm__cuda(false, false, 0, 5, 5, 1.f, d.p, 5, d.p, 5, 0.f, d.p, 5, nullptr);
  fastconv::cuda::sgemm__cuda(false, false, 5, 0, 5, 1.f, d.p, 5, d.p, 1, 0.f, d.p, 1, nullptr);
  fastconv::cuda::sgemm_strided_batched__cuda(0, false, false, 5, 5, 5, 1.f, d.p, 5, 0, d.p, 5, 0, 0.f, d.p, 5, 0,
                                              nullptr);
  for (GemmKernel kernel : kKernels)
    fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, 1, false, false, 0, 5, 5, 1.f, d.p, 5, 0, d.p, 5, 0,
                                                       0.f, d.p, 5, 0, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  EXPECT_THROW(fastconv::cuda::sgemm__cuda(false, false, 5, 5, 5, 1.f, d.p, 4, d.p, 5, 0.f, d.p, 5, nullptr),
               fastconv::Error);
  for (GemmKernel kernel : kKernels)
    EXPECT_THROW(fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, 1, true, false, 5, 5, 5, 1.f, d.p, 4, 0,
                                                                    d.p, 5, 0, 0.f, d.p, 5, 0, nullptr),
                 fastconv::Error);
}

// batch 3 with gaps between the matrices, B shared (stride 0) in one case, strides that are and are not multiples
// of 4 floats; each entry against ref::sgemm.
TEST(CudaGemm, StridedBatched) {
  for (GemmKernel kernel : kKernels)
    for (bool shared_b : {false, true})
      for (bool ta : {false, true}) {
        const int64_t batch = 3, M = 65, N = 7, K = 63, pad = shared_b ? 1 : 2;
        const bool tb = ta;
        SCOPED_TRACE(std::string(kernel_name(kernel)) + " " + (ta ? "T" : "N") + (shared_b ? " shared B" : ""));
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
        fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, batch, ta, tb, M, N, K, alpha, dA.p, lda, sa, dB.p,
                                                           ldb, sb, beta, dC.p, ldc, sc, nullptr);
        fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
        const std::vector<float> absA = abs_of(A), absB = abs_of(B);
        for (int64_t b = 0; b < batch; ++b) {
          fastconv::ref::sgemm(ta, tb, M, N, K, alpha, A.data() + b * sa, lda, B.data() + b * sb, ldb, beta,
                               want.data() + b * sc, ldc);
          fastconv::ref::sgemm(ta, tb, M, N, K, std::fabs(alpha), absA.data() + b * sa, lda, absB.data() + b * sb,
                               ldb, std::fabs(beta), bound.data() + b * sc, ldc);
        }
        ASSERT_TRUE(close(dC.download(), want, bound, kernel, M, N, K));
      }
}

// Batch strides that are multiples of 4 floats with 16-byte aligned bases: the vectorised and cp.async 16-byte
// paths across batch entries (the test above has odd strides, so it takes the scalar ones).
TEST(CudaGemm, StridedBatchedAligned) {
  for (GemmKernel kernel : kKernels)
    for (bool ta : {false, true}) {
      const int64_t batch = 2, M = 129, N = 33, K = 65, lda = ta ? 132 : 68, ldb = 36, ldc = 36;
      SCOPED_TRACE(std::string(kernel_name(kernel)) + (ta ? " TN" : " NN"));
      std::mt19937 rng(uint32_t(21 + ta));
      const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;
      const int64_t sa = a_rows * lda + 4, sb = K * ldb + 8, sc = M * ldc + 12;
      const std::vector<float> A = batched(batch, sa, a_rows, a_cols, lda, rng), B = batched(batch, sb, K, N, ldb, rng),
                               C = batched(batch, sc, M, N, ldc, rng);
      std::vector<float> want = C, bound = abs_of(C);
      DeviceBuffer<float> dA(A), dB(B), dC(C);
      fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, batch, ta, false, M, N, K, 1.f, dA.p, lda, sa, dB.p,
                                                         ldb, sb, 1.f, dC.p, ldc, sc, nullptr);
      fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
      const std::vector<float> absA = abs_of(A), absB = abs_of(B);
      for (int64_t b = 0; b < batch; ++b) {
        fastconv::ref::sgemm(ta, false, M, N, K, 1.f, A.data() + b * sa, lda, B.data() + b * sb, ldb, 1.f,
                             want.data() + b * sc, ldc);
        fastconv::ref::sgemm(ta, false, M, N, K, 1.f, absA.data() + b * sa, lda, absB.data() + b * sb, ldb, 1.f,
                             bound.data() + b * sc, ldc);
      }
      ASSERT_TRUE(close(dC.download(), want, bound, kernel, M, N, K));
    }
}

// Same inputs, same bits: each element's sum has one fixed order.
TEST(CudaGemm, Reproducible) {
  std::mt19937 rng(5);
  const int64_t M = 130, N = 65, K = 130;
  const std::vector<float> A = matrix(M, K, K, rng), B = matrix(K, N, N, rng);
  DeviceBuffer<float> dA(A), dB(B), c1(size_t(M * N)), c2(size_t(M * N));
  for (GemmKernel kernel : kKernels) {
    SCOPED_TRACE(kernel_name(kernel));
    for (float* c : {c1.p, c2.p})
      fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, 1, false, false, M, N, K, 1.f, dA.p, K, 0, dB.p, N,
                                                         0, 0.f, c, N, 0, nullptr);
    const std::vector<float> h1 = c1.download(), h2 = c2.download();
    EXPECT_EQ(0, std::memcmp(h1.data(), h2.data(), h1.size() * sizeof(float)));
  }
}

// The precision argument picks the kernel: same bits as the forced kernel (fp32 at this size: the 64x64 tiles).
TEST(CudaGemm, PrecisionSelectsTheKernel) {
  std::mt19937 rng(8);
  const int64_t M = 70, N = 40, K = 50;
  const std::vector<float> A = matrix(M, K, K, rng), B = matrix(K, N, N, rng);
  DeviceBuffer<float> dA(A), dB(B), c1(size_t(M * N)), c2(size_t(M * N));
  const std::pair<fastconv::cuda::GemmPrecision, GemmKernel> cases[] = {
      {fastconv::cuda::GemmPrecision::fp32, GemmKernel::simt_64x64},
      {fastconv::cuda::GemmPrecision::tf32, GemmKernel::mma_tf32},
      {fastconv::cuda::GemmPrecision::bf16, GemmKernel::mma_bf16}};
  std::vector<std::vector<float>> results;
  for (const auto& [precision, kernel] : cases) {
    SCOPED_TRACE(kernel_name(kernel));
    fastconv::cuda::sgemm__cuda(false, false, M, N, K, 1.f, dA.p, K, dB.p, N, 0.f, c1.p, N, nullptr, precision);
    fastconv::cuda::sgemm_strided_batched__cuda_kernel(kernel, 1, false, false, M, N, K, 1.f, dA.p, K, 0, dB.p, N, 0,
                                                       0.f, c2.p, N, 0, nullptr);
    const std::vector<float> h1 = c1.download(), h2 = c2.download();
    EXPECT_EQ(0, std::memcmp(h1.data(), h2.data(), h1.size() * sizeof(float)));
    results.push_back(h1);
  }
  // and the three differ from one another (rounding differently)
  EXPECT_NE(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(results[1].data(), results[2].data(), results[1].size() * sizeof(float)));
}

}  // namespace
