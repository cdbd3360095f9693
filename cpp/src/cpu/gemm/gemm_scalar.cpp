// Portable SGEMM tile for CPUs without AVX2 (and the FASTCONV_ISA=scalar reference path). Plain C++ that the
// compiler vectorizes with whatever the baseline offers (SSE2 on x86-64): 4 rows x 8 columns of accumulators.
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {
namespace {

constexpr int MR = kMrScalar, NR = kNrScalar;

template <int M>
void tile(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc, int n,
          float alpha, float beta) {
  // Fully unrolled so the accumulators live in registers (the compiler turns each row into SIMD adds).
  float acc[M][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
    if (beta == 0.f)
      for (int j = 0; j < n; ++j) ci[j] = alpha * acc[i][j];
    else
      for (int j = 0; j < n; ++j) ci[j] = alpha * acc[i][j] + beta * ci[j];
  }
}

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int, float, float);
constexpr TileFn kTiles[MR + 1] = {nullptr, tile<1>, tile<2>, tile<3>, tile<4>};

}  // namespace

void sgemm_macro_4x8__scalar(const MacroArgs* p) {
  for (int64_t i = 0; i < p->mc; i += MR) {
    const int m = p->mc - i < MR ? int(p->mc - i) : MR;
    for (int64_t j = 0; j < p->nc; j += NR) {
      const int n = p->nc - j < NR ? int(p->nc - j) : NR;
      kTiles[m](p->kc, p->a + i * p->kc, p->b + j * p->kc, p->c + i * p->ldc + j, p->ldc, n, p->alpha, p->beta);
    }
  }
}

}  // namespace fastconv::cpu::gemm
