// SGEMM's K split (a tiny C, a long K) is decided and sliced from the shape alone: a plan for 1, 2 or 3 threads
// gives bit-identical results, at every ISA level the CPU has, and they match the double-accumulating reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/ref/gemm_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// C = op(A) op(B) + beta C planned for `threads` and run on a pool of that size, with exactly the scratch asked for.
std::vector<float> run(Isa isa, int threads, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float beta,
                       const std::vector<float>& A, const std::vector<float>& B, std::vector<float> C) {
  const int saved = get_num_threads();
  set_num_threads(threads);
  const cpu::GemmContext g = cpu::gemm_context(isa, threads);
  const size_t bytes = cpu::sgemm_scratch_bytes(g, ta, tb, M, N, K);
  std::vector<float> buf(bytes / 4 + 16);
  float* base = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
  cpu::sgemm(cpu::with_scratch(g, base, bytes), ta, tb, M, N, K, 1.f, A.data(), ta ? M : K, B.data(), tb ? K : N,
             beta, C.data(), N);
  set_num_threads(saved);
  return C;
}

TEST(GemmKSplit, TallKSmallOutputDoesNotDependOnTheThreadCount) {
  const int64_t shapes[][3] = {{8, 40, 16384}, {16, 32, 12000}, {3, 100, 20000}, {10, 64, 9000}};
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (int(isa) > int(cpu_features().best)) continue;
    for (auto& s : shapes)
      for (int tr = 0; tr < 4; ++tr)
        for (float beta : {0.f, 1.f}) {
          const int64_t M = s[0], N = s[1], K = s[2];
          const bool ta = tr & 1, tb = tr & 2;
          SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::to_string(M) + "x" + std::to_string(N) + "x" +
                       std::to_string(K) + " ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) +
                       " beta=" + std::to_string(beta));
          const auto A = random_vec(size_t(M * K), 1), B = random_vec(size_t(K * N), 2);
          const auto C0 = random_vec(size_t(M * N), 3);
          const auto c1 = run(isa, 1, ta, tb, M, N, K, beta, A, B, C0);
          const auto c2 = run(isa, 2, ta, tb, M, N, K, beta, A, B, C0);
          const auto c3 = run(isa, 3, ta, tb, M, N, K, beta, A, B, C0);
          EXPECT_EQ(std::memcmp(c1.data(), c2.data(), c1.size() * 4), 0) << "1 vs 2 threads";
          EXPECT_EQ(std::memcmp(c1.data(), c3.data(), c1.size() * 4), 0) << "1 vs 3 threads";
          auto R = C0;
          ref::sgemm(ta, tb, M, N, K, 1.f, A.data(), ta ? M : K, B.data(), tb ? K : N, beta, R.data(), N);
          double err = 0, norm = 0;
          for (size_t i = 0; i < R.size(); ++i) {
            err += (double(c1[i]) - R[i]) * (double(c1[i]) - R[i]);
            norm += double(R[i]) * R[i];
          }
          EXPECT_LE(std::sqrt(err / norm), 1e-5);
        }
  }
}

}  // namespace
}  // namespace fastconv
