// AVX-512 SGEMM: a 12x32 register tile (24 zmm accumulators, 2 B vectors, 1 broadcast register) and a packer
// for the transposing case of A. Compiled with -mavx512f/bw/vl/dq; everything but the exported kernels has
// internal linkage so no AVX-512 code can be merged into baseline callers.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {
namespace {

constexpr int MR = kMrAvx512, NR = kNrAvx512, VEC = kVecAvx512, NVMAX = NR / VEC;

// One M x (NV*16) tile of C over the whole packed depth kc. M and NV are compile-time so the accumulators stay
// in registers; rows past M are never touched (edge strips run a shorter tile rather than multiplying zeros).
template <int M, int NV>
void tile(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c, int64_t ldc,
          __mmask16 last, float alpha, float beta) {
  __m512 acc[M][NV];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  // C is needed only after the k loop; start its misses now so the epilogue does not stall on them.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NV * VEC - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * VEC);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NV * VEC;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : __mmask16(0xFFFF);
      __m512 r = _mm512_mul_ps(acc[i][v], va);
      if (beta == 1.f)
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk, ci + v * VEC));
      else if (beta != 0.f)
        r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, ci + v * VEC), r);
      _mm512_mask_storeu_ps(ci + v * VEC, mk, r);
    }
  }
}

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, __mmask16, float, float);

template <int M>
struct Row {
  static constexpr TileFn fns[NVMAX] = {tile<M, 1>, tile<M, 2>};
};
constexpr const TileFn* kTiles[MR + 1] = {nullptr,    Row<1>::fns,  Row<2>::fns, Row<3>::fns, Row<4>::fns,
                                          Row<5>::fns, Row<6>::fns,  Row<7>::fns, Row<8>::fns, Row<9>::fns,
                                          Row<10>::fns, Row<11>::fns, Row<12>::fns};

// In-lane 4x4 transpose: lane h of o[t] holds (r0,r1,r2,r3)[4h+t]. (The all-ones maskz forms compile to the
// plain unpacks but avoid GCC 12's spurious -Wmaybe-uninitialized from _mm512_undefined_ps.)
inline void transpose4(__m512 r0, __m512 r1, __m512 r2, __m512 r3, __m512 o[4]) {
  const __mmask16 all = 0xFFFF;
  const __m512d t0 = _mm512_castps_pd(_mm512_maskz_unpacklo_ps(all, r0, r1));
  const __m512d t1 = _mm512_castps_pd(_mm512_maskz_unpackhi_ps(all, r0, r1));
  const __m512d t2 = _mm512_castps_pd(_mm512_maskz_unpacklo_ps(all, r2, r3));
  const __m512d t3 = _mm512_castps_pd(_mm512_maskz_unpackhi_ps(all, r2, r3));
  o[0] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, t0, t2));
  o[1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, t0, t2));
  o[2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, t1, t3));
  o[3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, t1, t3));
}

// _mm512_extractf32x4_ps is built on _mm_undefined_ps, which GCC 12 flags as maybe-uninitialized once inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <int H>
inline void store_lane(float* d, const __m512 o[3][4], int kmax) {
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
    if (4 * H + t >= kmax) return;
#pragma GCC unroll 3
    for (int g = 0; g < 3; ++g) _mm_storeu_ps(d + (4 * H + t) * MR + 4 * g, _mm512_extractf32x4_ps(o[g][t], H));
  }
}

// 12 rows x 16 k of row-major A become 16 k-slices of 12: three in-lane 4x4 transposes, then each 128-bit lane
// is stored straight to its slot (store-form extracts use no shuffle port).
void pack_strip_rows(const float* a, int64_t lda, int m, int64_t kc, float* d) {
  for (int64_t k0 = 0; k0 < kc; k0 += 16, d += 16 * MR) {
    const int kr = kc - k0 < 16 ? int(kc - k0) : 16;
    const __mmask16 mk = __mmask16((1u << kr) - 1);
    __m512 x[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) x[i] = i < m ? _mm512_maskz_loadu_ps(mk, a + i * lda + k0) : _mm512_setzero_ps();
    __m512 o[3][4];
#pragma GCC unroll 3
    for (int g = 0; g < 3; ++g) transpose4(x[4 * g], x[4 * g + 1], x[4 * g + 2], x[4 * g + 3], o[g]);
    store_lane<0>(d, o, kr);
    store_lane<1>(d, o, kr);
    store_lane<2>(d, o, kr);
    store_lane<3>(d, o, kr);
  }
}
#pragma GCC diagnostic pop

}  // namespace

void sgemm_macro_12x32__avx512(const MacroArgs* p) {
  const int64_t kc = p->kc, ldc = p->ldc;
  for (int64_t j = 0; j < p->nc; j += NR) {
    const int n = p->nc - j < NR ? int(p->nc - j) : NR;
    const int nv = (n + VEC - 1) / VEC;
    const __mmask16 last = __mmask16(n % VEC ? (1u << (n % VEC)) - 1 : 0xFFFFu);
    const float* b = p->b + j * kc;
    float* c = p->c + j;
    int64_t i = 0;
    if (nv == NVMAX)  // the hot path, called directly so it can be inlined
      for (; i + MR <= p->mc; i += MR) tile<MR, NVMAX>(kc, p->a + i * kc, b, c + i * ldc, ldc, last, p->alpha, p->beta);
    for (; i < p->mc; i += MR) {
      const int m = p->mc - i < MR ? int(p->mc - i) : MR;
      kTiles[m][nv - 1](kc, p->a + i * kc, b, c + i * ldc, ldc, last, p->alpha, p->beta);
    }
  }
}

void sgemm_pack_a_12__avx512(const PackAArgs* p) {
  for (int64_t r = 0; r < p->mc; r += MR) {
    const int m = p->mc - r < MR ? int(p->mc - r) : MR;
    float* d = p->dst + r * p->kc;
    if (!p->trans) {
      pack_strip_rows(p->a + r * p->lda, p->lda, m, p->kc, d);
    } else {  // A^T: each k-slice is already contiguous in memory
      const __mmask16 mk = __mmask16((1u << m) - 1);
      for (int64_t k = 0; k < p->kc; ++k)
        _mm512_mask_storeu_ps(d + k * MR, 0x0FFF, _mm512_maskz_loadu_ps(mk, p->a + k * p->lda + r));
    }
  }
}

}  // namespace fastconv::cpu::gemm
