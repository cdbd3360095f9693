// cpu::sgemm_prepacked_a (A packed once by sgemm_pack_a) against the double-accumulating reference, at every ISA
// level the CPU has, planned for 1 and 2 threads: grids, k splits (which read the unpacked A), narrow and short
// products that the unpacked path would run in place, edge strips, beta 0 (C NaN-filled) and 1.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "cpu/ref/gemm_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/tensor.h"

namespace fastconv {
namespace {

std::vector<float> random_vec(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

struct Aligned {
  explicit Aligned(size_t floats) : p(static_cast<float*>(aligned_alloc64(std::max<size_t>(64, floats * 4)))) {}
  ~Aligned() { aligned_free64(p); }
  float* p;
};

void check(Isa isa, int threads, int64_t M, int64_t N, int64_t K, float beta) {
  SCOPED_TRACE(std::string(isa_name(isa)) + " threads " + std::to_string(threads) + " " + std::to_string(M) + "x" +
               std::to_string(N) + "x" + std::to_string(K) + " beta " + std::to_string(beta));
  const cpu::GemmContext g0 = cpu::gemm_context(isa, threads);
  const int64_t lda = K + 3;  // rows not contiguous: the packer must follow lda
  auto A = random_vec(size_t(M * lda), 1), B = random_vec(size_t(K * N), 2), C = random_vec(size_t(M * N), 3);
  if (beta == 0.f) std::fill(C.begin(), C.end(), std::numeric_limits<float>::quiet_NaN());
  auto R = C;
  Aligned packed(size_t(cpu::sgemm_packed_a_floats(g0, M, K)));
  cpu::sgemm_pack_a(g0, M, K, A.data(), lda, packed.p);
  const size_t bytes = cpu::sgemm_scratch_bytes(g0, false, false, M, N, K);
  Aligned scratch(bytes / 4);
  const cpu::GemmContext g = cpu::with_scratch(g0, scratch.p, bytes);
  cpu::sgemm_prepacked_a(g, M, N, K, A.data(), lda, packed.p, B.data(), N, beta, C.data(), N);
  ref::sgemm(false, false, M, N, K, 1.f, A.data(), lda, B.data(), N, beta, R.data(), N);
  double err = 0, norm = 0;
  for (size_t i = 0; i < C.size(); ++i) {
    ASSERT_FALSE(std::isnan(C[i])) << "at " << i;
    err += (double(C[i]) - R[i]) * (double(C[i]) - R[i]);
    norm += double(R[i]) * R[i];
  }
  EXPECT_LE(std::sqrt(err / norm), 1e-5);
}

TEST(GemmPrepacked, MatchesReference) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (int(isa) > int(cpu_features().best)) continue;
    for (int threads : {1, 2})
      for (float beta : {0.f, 1.f}) {
        check(isa, threads, 2048 / 8, 49, 1024, beta);  // narrow (read in place unpacked), several depth blocks
        check(isa, threads, 77, 196, 300, beta);         // edge strips, one depth block
        check(isa, threads, 24, 64, 4096, beta);         // k split (few tiles, long K): the unpacked A
        check(isa, threads, 130, 800, 64, beta);         // grid over M and N, several column blocks
        check(isa, threads, 40, 300, 256, beta);         // a short product on the unpacked path
      }
  }
}

}  // namespace
}  // namespace fastconv
