// cpu::sgemm / sgemm_batched against the double-accumulating reference, at every ISA level the CPU has, planned
// for one and two threads; every call gets exactly the scratch sgemm_scratch_bytes asks for, NaN-filled, with a
// guard after it that must stay untouched. Plans stay correct when the pool has more or fewer threads than
// they were made for.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/ref/gemm_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv {
namespace {

constexpr float kSentinel = -12345.f;

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A 64-byte aligned scratch of exactly `bytes` (NaN: the kernel must write before it reads) and a guard after it.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes), buf_(bytes / 4 + 16 + kGuard, std::nanf("")) {
    base_ = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf_.data()) + 63) & ~uintptr_t(63));
    for (size_t i = 0; i < kGuard; ++i) base_[bytes / 4 + i] = kSentinel;
  }
  cpu::GemmContext ctx(const cpu::GemmContext& g) const { return cpu::with_scratch(g, base_, bytes_); }
  bool guard_intact() const {
    for (size_t i = 0; i < kGuard; ++i)
      if (base_[bytes_ / 4 + i] != kSentinel) return false;
    return true;
  }

 private:
  static constexpr size_t kGuard = 64;
  size_t bytes_;
  std::vector<float> buf_;
  float* base_;
};

// The plan the tests run with: the active ISA level, planned for the pool's thread count unless told otherwise.
cpu::GemmContext plan(int threads = 0) { return cpu::gemm_context(active_isa(), threads ? threads : get_num_threads()); }

struct Case {
  int64_t M, N, K;
  bool ta = false, tb = false;
  float alpha = 1.f, beta = 0.f;
  int64_t pad = 0;  // extra elements on every leading dimension
};

std::string describe(const Case& c) {
  return std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) + " ta=" +
         std::to_string(c.ta) + " tb=" + std::to_string(c.tb) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta) + " pad=" + std::to_string(c.pad);
}

// Runs one case and checks the relative Frobenius error, that beta == 0 ignores NaN in C and that padding
// columns of C (between N and ldc) are never written.
void check(const Case& c, uint32_t seed = 1, int planned_threads = 0) {
  SCOPED_TRACE(describe(c) + " planned threads " + std::to_string(planned_threads));
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  auto A = random_vec(size_t(std::max<int64_t>(1, a_rows * lda)), seed);
  auto B = random_vec(size_t(std::max<int64_t>(1, b_rows * ldb)), seed + 1);
  auto C0 = random_vec(size_t(std::max<int64_t>(1, c.M * ldc)), seed + 2);
  for (int64_t i = 0; i < c.M; ++i)
    for (int64_t j = c.N; j < ldc; ++j) C0[i * ldc + j] = kSentinel;
  if (c.beta == 0.f)
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) C0[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
  auto C = C0, R = C0;
  const cpu::GemmContext g = plan(planned_threads);
  const Scratch ws(cpu::sgemm_scratch_bytes(g, c.ta, c.tb, c.M, c.N, c.K));
  cpu::sgemm(ws.ctx(g), c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  EXPECT_TRUE(ws.guard_intact()) << "scratch overrun";
  ref::sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, R.data(), ldc);
  double err = 0, norm = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      const double d = double(C[i * ldc + j]) - R[i * ldc + j];
      ASSERT_FALSE(std::isnan(C[i * ldc + j])) << "at " << i << "," << j;
      err += d * d;
      norm += double(R[i * ldc + j]) * R[i * ldc + j];
    }
    for (int64_t j = c.N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], kSentinel) << "padding written at " << i << "," << j;
  }
  if (norm == 0)
    EXPECT_EQ(err, 0);
  else
    EXPECT_LE(std::sqrt(err / norm), 1e-5);
}

class GemmTest : public ::testing::TestWithParam<std::tuple<Isa, int>> {
 protected:
  void SetUp() override {
    const Isa isa = std::get<0>(GetParam());
    if (int(isa) > int(cpu_features().best)) GTEST_SKIP() << "CPU lacks " << isa_name(isa);
    saved_isa_ = active_isa();
    saved_threads_ = get_num_threads();
    set_isa(isa);
    set_num_threads(std::get<1>(GetParam()));
  }
  void TearDown() override {
    if (saved_threads_ == 0) return;  // skipped
    set_isa(saved_isa_);
    set_num_threads(saved_threads_);
  }
  Isa saved_isa_ = Isa::scalar;
  int saved_threads_ = 0;
};

TEST_P(GemmTest, TinyAndOddShapes) {
  const int64_t sizes[][3] = {{1, 1, 1},  {1, 1, 7},   {2, 3, 4},    {7, 5, 3},    {5, 7, 1},    {12, 32, 16},
                              {13, 33, 17}, {11, 31, 15}, {6, 16, 8},  {25, 65, 129}, {1, 100, 50}, {100, 1, 50},
                              {37, 47, 300}, {24, 17, 513}};
  for (auto& s : sizes)
    for (int t = 0; t < 4; ++t) check({s[0], s[1], s[2], bool(t & 1), bool(t & 2)});
}

TEST_P(GemmTest, AlphaBeta) {
  const float ab[][2] = {{1.f, 0.f}, {2.5f, 0.f}, {1.f, 1.f}, {-0.5f, 0.75f}, {0.f, 0.5f}, {0.f, 0.f}, {1.f, -2.f}};
  for (auto& v : ab)
    for (int t = 0; t < 4; ++t) check({29, 45, 67, bool(t & 1), bool(t & 2), v[0], v[1]});
}

TEST_P(GemmTest, ZeroK) {
  check({9, 13, 0, false, false, 1.f, 0.f});    // C = 0 (NaN ignored)
  check({9, 13, 0, false, false, 1.f, 0.5f});   // C = 0.5 C
  check({9, 13, 0, true, true, 2.f, 1.f, 3});   // C unchanged
  check({0, 13, 5});                            // empty: nothing to do
  check({9, 0, 5});
}

TEST_P(GemmTest, LeadingDimensions) {
  for (int t = 0; t < 4; ++t) {
    check({19, 37, 23, bool(t & 1), bool(t & 2), 1.f, 0.f, 5});
    check({64, 70, 300, bool(t & 1), bool(t & 2), 0.5f, 1.f, 17});
  }
}

// Narrow products (N <= 128) read A in place on AVX-512 instead of packing it: several depth and row blocks, edge
// strips of 1..11 rows, edge panels, padded lda, alpha/beta, and 129 columns (packed again) for contrast.
TEST_P(GemmTest, NarrowProductsReadAInPlace) {
  for (int64_t n : {1, 17, 32, 64, 100, 128, 129})
    for (int t = 0; t < 4; ++t) check({263, n, 901, bool(t & 1), bool(t & 2), 0.5f, t == 3 ? 1.f : 0.f, 3});
  check({256, 64, 3136, false, true, 1.f, 1.f});
}

// Short products (M <= 64, B not transposed, N >= 96) run C^T tiles over B read in place on AVX-512: every
// vector count (M 1..64), column edges (N not a multiple of 24/12/8/6), several depth blocks (K > 256) with
// alpha/beta, padded leading dimensions; M = 65 and transposed B (packed paths) for contrast.
TEST_P(GemmTest, ShortProducts) {
  for (int64_t m : {1, 5, 16, 17, 31, 32, 33, 48, 49, 63, 64, 65})
    for (int t = 0; t < 4; ++t) check({m, 96 + 7 * m, 300 + 50 * (m % 3), bool(t & 1), bool(t & 2), 1.5f, t == 2 ? 1.f : 0.f, 3});
  for (int64_t n = 96; n < 96 + 24; ++n) check({7, n, 45, false, false}, uint32_t(n));  // every edge width
  check({64, 3136, 256, true, false});
  check({64, 1000, 1200, false, false, 1.f, -0.5f});
  // Transposed A with narrow C runs as the short product C^T = op(B)^T A, stored by columns.
  for (int64_t n : {1, 13, 33, 64})
    for (int t = 0; t < 2; ++t) check({301, n, 517, true, bool(t), 0.5f, t ? 1.f : 0.f, 3});
  check({4608, 64, 512, true, false});
}

// Several KC/MC/NC blocks, both grid splits and the K-split path for a tiny C.
TEST_P(GemmTest, Large) {
  for (int t = 0; t < 4; ++t) check({300, 500, 700, bool(t & 1), bool(t & 2), 1.f, 0.f});
  check({300, 500, 700, false, false, 0.5f, -1.f, 3});
  check({1000, 40, 300});
  check({40, 1000, 300, true, false});
  check({5, 7, 5000, false, true, 1.f, 0.5f});
  check({3, 20, 20000});
}

TEST_P(GemmTest, Batched) {
  struct B {
    int64_t batch, M, N, K;
    bool ta, tb;
    float alpha, beta;
  };
  const B cases[] = {{1, 7, 9, 11, false, false, 1.f, 0.f},   {5, 16, 16, 16, false, true, 1.f, 1.f},
                     {3, 33, 20, 70, true, false, 2.f, 0.f},  {16, 4, 36, 64, true, true, 1.f, 0.5f},
                     {2, 200, 150, 90, false, false, 1.f, 0.f}, {4, 8, 8, 0, false, false, 1.f, 0.5f}};
  for (const B& c : cases) {
    SCOPED_TRACE(std::to_string(c.batch) + " x " + describe({c.M, c.N, c.K, c.ta, c.tb, c.alpha, c.beta}));
    const int64_t lda = (c.ta ? c.M : c.K) + 2, ldb = (c.tb ? c.K : c.N) + 1, ldc = c.N + 3;
    const int64_t sa = (c.ta ? c.K : c.M) * lda + 5, sb = (c.tb ? c.N : c.K) * ldb + 7, sc = c.M * ldc + 4;
    auto A = random_vec(size_t(sa * c.batch + 1), 11), Bm = random_vec(size_t(sb * c.batch + 1), 12);
    auto C = random_vec(size_t(sc * c.batch + 1), 13);
    auto R = C;
    const cpu::GemmContext g = plan();
    const Scratch ws(cpu::sgemm_batched_scratch_bytes(g, c.batch, c.ta, c.tb, c.M, c.N, c.K));
    cpu::sgemm_batched(ws.ctx(g), c.batch, c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, sa, Bm.data(), ldb, sb,
                       c.beta, C.data(), ldc, sc);
    EXPECT_TRUE(ws.guard_intact()) << "scratch overrun";
    for (int64_t i = 0; i < c.batch; ++i)
      ref::sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data() + i * sa, lda, Bm.data() + i * sb, ldb, c.beta,
                 R.data() + i * sc, ldc);
    double err = 0, norm = 0;
    for (size_t i = 0; i < C.size(); ++i) {
      err += (double(C[i]) - R[i]) * (double(C[i]) - R[i]);
      norm += double(R[i]) * R[i];
    }
    EXPECT_LE(std::sqrt(err / norm), 1e-5);
  }
}

// A plan made for 1, 2 or 4 threads, run on a pool of another size (set_num_threads between prepare and run):
// every schedule (one region, the grid with one and two tasks per thread, the K split) still covers C exactly
// once and stays inside its scratch.
TEST_P(GemmTest, PlanForOtherThreadCounts) {
  for (int planned : {1, 2, 4}) {
    check({160, 200, 150}, 1, planned);                        // grid (just over the threading threshold)
    check({5, 7, 5000, false, true, 1.f, 0.5f}, 3, planned);  // K split
    check({64, 600, 128}, 4, planned);                         // short products in each region
  }
}

// From 2^31 multiply-adds the grid has two tasks per planned thread: planned 2 (4 tasks) on a pool of 3. A full
// reference product would take seconds, so every 7th element of C is checked against a double dot product.
TEST(Gemm, TwoTasksPerThreadOnAnotherPool) {
  const int64_t M = 2048, N = 96, K = 10923;  // M*N*K just over 2^31
  const auto A = random_vec(size_t(M * K), 31), B = random_vec(size_t(K * N), 32);
  std::vector<float> C(size_t(M * N), std::nanf(""));
  const int saved = get_num_threads();
  set_num_threads(3);
  const cpu::GemmContext g = cpu::gemm_context(cpu_features().best, 2);
  const Scratch ws(cpu::sgemm_scratch_bytes(g, false, false, M, N, K));
  cpu::sgemm(ws.ctx(g), false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
  set_num_threads(saved);
  EXPECT_TRUE(ws.guard_intact());
  double err = 0, norm = 0;
  for (int64_t e = 0; e < M * N; e += 7) {
    const int64_t i = e / N, j = e % N;
    double r = 0;
    for (int64_t k = 0; k < K; ++k) r += double(A[size_t(i * K + k)]) * B[size_t(k * N + j)];
    err += (C[size_t(e)] - r) * (C[size_t(e)] - r);
    norm += r * r;
  }
  EXPECT_LE(std::sqrt(err / norm), 1e-5);
}

TEST_P(GemmTest, BatchedPlanForOtherThreadCounts) {
  const int64_t batch = 5, M = 40, N = 70, K = 90;
  auto A = random_vec(size_t(batch * M * K), 21), B = random_vec(size_t(batch * K * N), 22);
  for (int planned : {1, 2, 4}) {
    std::vector<float> C(size_t(batch * M * N), std::nanf("")), R(C.size());
    const cpu::GemmContext g = plan(planned);
    const Scratch ws(cpu::sgemm_batched_scratch_bytes(g, batch, false, false, M, N, K));
    cpu::sgemm_batched(ws.ctx(g), batch, false, false, M, N, K, 1.f, A.data(), K, M * K, B.data(), N, K * N, 0.f,
                       C.data(), N, M * N);
    EXPECT_TRUE(ws.guard_intact());
    for (int64_t i = 0; i < batch; ++i)
      ref::sgemm(false, false, M, N, K, 1.f, A.data() + i * M * K, K, B.data() + i * K * N, N, 0.f,
                 R.data() + i * M * N, N);
    for (size_t i = 0; i < C.size(); ++i) ASSERT_NEAR(C[i], R[i], 1e-4) << "planned " << planned << " at " << i;
  }
}

// Scratch needs grow with the planned thread count, never with the pool's: the convenience entry (bindings,
// benchmarks) is what plans for the pool.
TEST(Gemm, ScratchDependsOnThePlanOnly) {
  const cpu::GemmContext one = cpu::gemm_context(cpu_features().best, 1), four = cpu::gemm_context(cpu_features().best, 4);
  const size_t a = cpu::sgemm_scratch_bytes(one, false, false, 1000, 1000, 1000);
  const size_t b = cpu::sgemm_scratch_bytes(four, false, false, 1000, 1000, 1000);
  EXPECT_GT(a, 0u);
  EXPECT_GT(b, a);  // four tasks, one slot each
  EXPECT_EQ(a % 64, 0u);
  EXPECT_EQ(b % 64, 0u);
  const int saved = get_num_threads();
  set_num_threads(3);
  EXPECT_EQ(cpu::sgemm_scratch_bytes(one, false, false, 1000, 1000, 1000), a);
  set_num_threads(saved);
  EXPECT_EQ(cpu::sgemm_scratch_bytes(one, false, false, 0, 10, 10), 0u);
}

std::string param_name(const ::testing::TestParamInfo<std::tuple<Isa, int>>& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_" + std::to_string(std::get<1>(info.param)) + "threads";
}

INSTANTIATE_TEST_SUITE_P(Isa, GemmTest,
                         ::testing::Combine(::testing::Values(Isa::scalar, Isa::avx2, Isa::avx512),
                                            ::testing::Values(1, 2)),
                         param_name);

}  // namespace
}  // namespace fastconv
