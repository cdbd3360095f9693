// AVX2+FMA SGEMM: a 6x16 register tile (12 ymm accumulators, 2 B vectors, 1 broadcast: 15 of 16 registers).
// Compiled with -mavx2 -mfma; everything but the exported kernel has internal linkage (see gemm_avx512.cpp).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {
namespace {

constexpr int MR = kMrAvx2, NR = kNrAvx2, VEC = kVecAvx2, NVMAX = NR / VEC;
constexpr int64_t kTailK = 48;  // k iterations (~300 cycles) left when C is pulled into L1

alignas(32) constexpr int32_t kMaskSrc[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// Same scheme as the AVX-512 tile; the last vector of a row uses a lane mask (maskload/maskstore never touch
// memory outside it, so the edge of C is safe).
template <int M, int NV>
void tile(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
          int n_last, float alpha, float beta) {
  __m256 acc[M][NV];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  // C: into L2 now, into L1 a few hundred cycles before the epilogue (see gemm_avx512.cpp).
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T1);
  auto step = [&](int64_t k) {
    __m256 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + k * (NV * VEC) + v * VEC);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + k * MR + i);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  };
  const int64_t k_tail = kc > kTailK ? kc - kTailK : 0;
#pragma GCC unroll 4
  for (int64_t k = 0; k < k_tail; ++k) step(k);
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NV * VEC - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = k_tail; k < kc; ++k) step(k);
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256i full = _mm256_set1_epi32(-1);
  const __m256i tail = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskSrc + 8 - n_last));
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      const __m256i mk = v == NV - 1 ? tail : full;
      __m256 r = alpha == 1.f ? acc[i][v] : _mm256_mul_ps(acc[i][v], va);
      if (beta == 1.f)
        r = _mm256_add_ps(r, _mm256_maskload_ps(ci + v * VEC, mk));
      else if (beta != 0.f)
        r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + v * VEC, mk), r);
      _mm256_maskstore_ps(ci + v * VEC, mk, r);
    }
  }
}

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int, float, float);

template <int M>
struct Row {
  static constexpr TileFn fns[NVMAX] = {tile<M, 1>, tile<M, 2>};
};
constexpr const TileFn* kTiles[MR + 1] = {nullptr,     Row<1>::fns, Row<2>::fns, Row<3>::fns,
                                          Row<4>::fns, Row<5>::fns, Row<6>::fns};

}  // namespace

void sgemm_macro_6x16__avx2(const MacroArgs* p) {
  const int64_t kc = p->kc, ldc = p->ldc;
  PrefetchCursor pf(p->next, p->nnext, (p->mc + MR - 1) / MR * ((p->nc + NR - 1) / NR));
  // Strips outer, panels inner (see gemm_avx512.cpp).
  for (int64_t i = 0; i < p->mc; i += MR) {
    const int m = p->mc - i < MR ? int(p->mc - i) : MR;
    const float* a = p->a + i * kc;
    float* c = p->c + i * ldc;
    int64_t j = 0;
    if (m == MR)
      for (; j + NR <= p->nc; j += NR) {
        pf.step();
        tile<MR, NVMAX>(kc, a, p->b + j * kc, c + j, ldc, VEC, p->alpha, p->beta);
      }
    for (; j < p->nc; j += NR) {
      pf.step();
      const int n = p->nc - j < NR ? int(p->nc - j) : NR, nv = (n + VEC - 1) / VEC;
      kTiles[m][nv - 1](kc, a, p->b + j * kc, c + j, ldc, n - (nv - 1) * VEC, p->alpha, p->beta);
    }
  }
}

}  // namespace fastconv::cpu::gemm
