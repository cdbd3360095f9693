// AVX-512 SGEMM: a 12x32 register tile (24 zmm accumulators, 2 B vectors, 1 broadcast register) and packers,
// plus C^T tiles for short products (M <= 64) that read B in place.
// 12x32 keeps 2 FMA ports busy through the 4-cycle FMA latency with 14 loads per 24 FMAs; 8x48, 14x32 and 6x64
// measured within noise of it, and 12 rows suit the M = 64..512 of convolution GEMMs (64 = 5 strips + 4 rows).
// Compiled with -mavx512f/bw/vl/dq; everything but the exported kernels has internal linkage so no AVX-512 code
// can be merged into baseline callers.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {
namespace {

constexpr int MR = kMrAvx512, NR = kNrAvx512, VEC = kVecAvx512, NVMAX = NR / VEC;

// The first n lanes of a vector (none for n <= 0, all for n >= 16): masks for row and column remainders.
inline __mmask16 first_lanes(int64_t n) { return __mmask16(n >= VEC ? 0xFFFFu : n > 0 ? (1u << n) - 1 : 0u); }
constexpr int64_t kTailK = 32;  // k iterations (~400 cycles) left when C is pulled into L1

// One M x (NV*16) tile of C over the whole packed depth kc. M and NV are compile-time so the accumulators stay
// in registers; rows past M are never touched (edge strips run a shorter tile rather than multiplying zeros).
// A is a packed strip ([k][MR]) or, with Direct, its M source rows lda apart and contiguous along k (each row's
// cache lines serve 16 k-steps; the M row pointers fit in general registers).
template <int M, int NV, bool Direct>
void tile(int64_t kc, const float* __restrict a, int64_t lda, const float* __restrict b, float* __restrict c,
          int64_t ldc, __mmask16 last, float alpha, float beta) {
  __m512 acc[M][NV];
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  // C is needed only after the k loop. Its rows are ldc apart and often share L1 sets (ldc a multiple of 1 KiB),
  // so lines fetched into L1 now would be evicted by the A/B streams: ask for L2 now and L1 near the end.
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T1);
  auto step = [&](int64_t k) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + k * (NV * VEC) + v * VEC);
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
      const __m512 ai = _mm512_set1_ps(Direct ? a[i * lda + k] : a[k * MR + i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  };
  const int64_t k_tail = kc > kTailK ? kc - kTailK : 0;
#pragma GCC unroll 4
  for (int64_t k = 0; k < k_tail; ++k) step(k);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NV * VEC - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = k_tail; k < kc; ++k) step(k);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < M; ++i) {
    float* ci = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 mk = v == NV - 1 ? last : __mmask16(0xFFFF);
      __m512 r = alpha == 1.f ? acc[i][v] : _mm512_mul_ps(acc[i][v], va);
      if (beta == 1.f)
        r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk, ci + v * VEC));
      else if (beta != 0.f)
        r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, ci + v * VEC), r);
      _mm512_mask_storeu_ps(ci + v * VEC, mk, r);
    }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, __mmask16, float, float);

template <int M, bool D>
struct Row {
  static constexpr TileFn fns[NVMAX] = {tile<M, 1, D>, tile<M, 2, D>};
};
template <bool D>
constexpr const TileFn* kTiles[MR + 1] = {nullptr,          Row<1, D>::fns,  Row<2, D>::fns,  Row<3, D>::fns,
                                          Row<4, D>::fns,   Row<5, D>::fns,  Row<6, D>::fns,  Row<7, D>::fns,
                                          Row<8, D>::fns,   Row<9, D>::fns,  Row<10, D>::fns, Row<11, D>::fns,
                                          Row<12, D>::fns};

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
inline void store_lane(float* d, int64_t width, const __m512 o[4], int kmax) {
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t)
    if (4 * H + t < kmax) _mm_storeu_ps(d + (4 * H + t) * width, _mm512_extractf32x4_ps(o[t], H));
}

// Transposing pack: `rows` rows of a row-major source (row stride ld, contiguous along k) become k-slices of
// `width` floats, rows..width-1 zero. Per 4 rows x 16 k: an in-lane 4x4 transpose, then every 128-bit lane is
// stored straight to its slice (store-form extracts need no shuffle port), ~0.13 cycles per element.
// Four source rows at a time along 64 k: sequential runs the hardware prefetcher follows, while the destination
// lines being filled (64 k x width) stay in L1 until complete. (Walking all rows per 16-k step touched up to 256
// rows per step, one line each, which the prefetcher cannot track: the 1x1 weight gradient's X^T pack cost 20% of
// that GEMM on Zen 4; walking the whole depth per 4 rows revisited each destination line width/4 times after it
// had left L1: 64x256x3136 NT ~5% slower than with 64-k chunks.)
constexpr int64_t kPackChunk = 64;
void pack_transposed(const float* s, int64_t ld, int rows, int width, int64_t kc, float* d) {
  for (int64_t c0 = 0; c0 < kc; c0 += kPackChunk)
    for (int g = 0; g < width; g += 4)
      for (int64_t k0 = c0; k0 < std::min(kc, c0 + kPackChunk); k0 += 16) {
        const int kr = kc - k0 < 16 ? int(kc - k0) : 16;
        const __mmask16 mk = __mmask16((1u << kr) - 1);
        __m512 x[4], o[4];
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t)
          x[t] = g + t < rows ? _mm512_maskz_loadu_ps(mk, s + (g + t) * ld + k0) : _mm512_setzero_ps();
        transpose4(x[0], x[1], x[2], x[3], o);
        float* dk = d + k0 * width + g;
        store_lane<0>(dk, width, o, kr);
        store_lane<1>(dk, width, o, kr);
        store_lane<2>(dk, width, o, kr);
        store_lane<3>(dk, width, o, kr);
      }
}
#pragma GCC diagnostic pop

// ---- Short products (M <= 64): C^T tiles, B read in place --------------------------------------------------
// All of C's M rows fit in NV vectors, so a tile spans every row and NC = 24/NV columns: A is packed as k-slices
// [kc][NV*16] (it is small), B's NC values of row k are broadcast straight from memory and each B element is
// loaded exactly once. Nothing of the wide operand is packed (a packed B element would serve only M/16 FMAs, as
// much work as packing it). Accumulator acc[i][v] holds rows 16v.. of column i; the store transposes 4 columns
// at a time (transpose4), so C is written along its rows.
template <int NV>
constexpr int kShortCols = 24 / NV;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // _mm512_extractf32x4_ps, as for store_lane above
// How a tile combines with C: C not read (beta == 0), C added (beta == 1), or beta * C added.
enum class BetaMode { zero, one, scaled };

// Stores `cols` (1..4) consecutive floats of r at d, after adding beta * d per `B`. Two columns (the second
// group of a 6-column tile) take a 64-bit store; 1 and 3 (edge tiles only) a masked one.
template <BetaMode B>
inline void store_row(float* d, __m128 r, int cols, __m128 vb) {
  if (cols == 4) {
    if (B == BetaMode::one) r = _mm_add_ps(r, _mm_loadu_ps(d));
    if (B == BetaMode::scaled) r = _mm_fmadd_ps(vb, _mm_loadu_ps(d), r);
    _mm_storeu_ps(d, r);
  } else if (cols == 2) {
    auto* d2 = reinterpret_cast<__m64*>(d);
    if (B == BetaMode::one) r = _mm_add_ps(r, _mm_loadl_pi(_mm_setzero_ps(), d2));
    if (B == BetaMode::scaled) r = _mm_fmadd_ps(vb, _mm_loadl_pi(_mm_setzero_ps(), d2), r);
    _mm_storel_pi(d2, r);
  } else {
    const __mmask8 mk = __mmask8((1u << cols) - 1);
    if (B == BetaMode::one) r = _mm_add_ps(r, _mm_maskz_loadu_ps(mk, d));
    if (B == BetaMode::scaled) r = _mm_fmadd_ps(vb, _mm_maskz_loadu_ps(mk, d), r);
    _mm_mask_storeu_ps(d, mk, r);
  }
}

// C[0:m, 0:cols] over depth kc; b is row-major with stride ldb and holds (at least) kShortCols<NV> readable
// columns. pf: where the tile kShortCols * 2 to the right starts, prefetched one line per k (B rows are ldb apart,
// too many streams for the hardware prefetcher).
template <int NV, BetaMode B, bool CCols>
void short_tile(int64_t kc, const float* __restrict a, const float* __restrict b, int64_t ldb, float* c,
                int64_t ldc, int m, int cols, float alpha, float beta, const float* pf) {
  constexpr int NC = kShortCols<NV>;
  __m512 acc[NC][NV];
#pragma GCC unroll 24
  for (int i = 0; i < NC; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m512 av[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) av[v] = _mm512_load_ps(a + k * (NV * VEC) + v * VEC);
    const float* bk = b + k * ldb;
    if (pf) _mm_prefetch(reinterpret_cast<const char*>(pf + k * ldb), _MM_HINT_T0);
#pragma GCC unroll 24
    for (int i = 0; i < NC; ++i) {
      const __m512 bi = _mm512_set1_ps(bk[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(av[v], bi, acc[i][v]);
    }
  }
  if (alpha != 1.f) {
    const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 24
    for (int i = 0; i < NC; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_mul_ps(acc[i][v], va);
  }
  if (CCols) {  // C stored by columns (the caller's C^T): each accumulator is a run of one column
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 24
    for (int i = 0; i < NC; ++i) {
      if (i >= cols) break;
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        const int rows = m - 16 * v < 16 ? m - 16 * v : 16;
        const __mmask16 mk = first_lanes(rows);
        float* d = c + i * ldc + 16 * v;
        __m512 r = acc[i][v];
        if (B == BetaMode::one) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mk, d));
        if (B == BetaMode::scaled) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, d), r);
        _mm512_mask_storeu_ps(d, mk, r);
      }
    }
    return;
  }
  // Four columns at a time: after transpose4, 128-bit lane h of o[t] is row 16v + 4h + t of those columns.
  const __m128 vb = _mm_set1_ps(beta);
  const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 6
  for (int g = 0; g < NC; g += 4) {
    const int cg = cols - g < 4 ? cols - g : 4;
    if (cg <= 0) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 o[4];
      transpose4(acc[g][v], g + 1 < NC ? acc[g + 1][v] : zero, g + 2 < NC ? acc[g + 2][v] : zero,
                 g + 3 < NC ? acc[g + 3][v] : zero, o);
      const int rows = m - 16 * v < 16 ? m - 16 * v : 16;
      float* cv = c + 16 * v * ldc + g;
      if (rows == 16) {
#pragma GCC unroll 4
        for (int h = 0; h < 4; ++h)
#pragma GCC unroll 4
          for (int t = 0; t < 4; ++t)
            store_row<B>(cv + (4 * h + t) * ldc, _mm512_extractf32x4_ps(o[t], h), cg, vb);
      } else {  // the last rows of an M that is not a multiple of 16
        alignas(64) float t4[4][VEC];
        for (int t = 0; t < 4; ++t) _mm512_store_ps(t4[t], o[t]);
        for (int r = 0; r < rows; ++r) store_row<B>(cv + r * ldc, _mm_load_ps(&t4[r % 4][4 * (r / 4)]), cg, vb);
      }
    }
  }
}

#pragma GCC diagnostic pop

template <int NV, BetaMode B, bool CCols>
void short_product(const ShortArgs* p) {
  constexpr int NC = kShortCols<NV>;
  const int64_t kc = p->kc, n = p->n, full = n / NC * NC, c_step = CCols ? p->ldc : 1;
  for (int64_t j = 0; j < full; j += NC)
    short_tile<NV, B, CCols>(kc, p->a, p->b + j, p->ldb, p->c + j * c_step, p->ldc, int(p->m), NC, p->alpha,
                             p->beta, j + 2 * NC < n ? p->b + j + 2 * NC : nullptr);
  if (full < n) {  // the last columns, copied with zero padding so the tile reads nothing past column n
    const int cols = int(n - full);
    float* e = p->edge;
    const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols - VEC);
    // Rows in order: a 16-float store that runs into row k+1 is overwritten by that row's own.
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = p->b + k * p->ldb + full;
      _mm512_storeu_ps(e + k * NC, _mm512_maskz_loadu_ps(m0, src));
      if (NC > VEC) _mm512_mask_storeu_ps(e + k * NC + VEC, 0x00FF, _mm512_maskz_loadu_ps(m1, src + VEC));
    }
    short_tile<NV, B, CCols>(kc, p->a, e, NC, p->c + full * c_step, p->ldc, int(p->m), cols, p->alpha, p->beta,
                             nullptr);
  }
}

template <bool Direct>
void macro(const MacroArgs* p) {
  const int64_t kc = p->kc, ldc = p->ldc, lda = p->lda;
  PrefetchCursor pf(p->next, p->nnext, (p->mc + MR - 1) / MR * ((p->nc + NR - 1) / NR));
  // Strips outer, panels inner: the A strip stays in L1, B panels stream from L2, and C is walked along its rows
  // (walking down C instead costs a TLB miss per row when ldc is large).
  for (int64_t i = 0; i < p->mc; i += MR) {
    const int m = p->mc - i < MR ? int(p->mc - i) : MR;
    const float* a = p->a + i * (Direct ? lda : kc);
    float* c = p->c + i * ldc;
    int64_t j = 0;
    if (m == MR)  // the hot path, called directly so it can be inlined
      for (; j + NR <= p->nc; j += NR) {
        pf.step();
        tile<MR, NVMAX, Direct>(kc, a, lda, p->b + j * kc, c + j, ldc, 0xFFFF, p->alpha, p->beta);
      }
    for (; j < p->nc; j += NR) {
      pf.step();
      const int n = p->nc - j < NR ? int(p->nc - j) : NR;
      const __mmask16 last = __mmask16(n % VEC ? (1u << (n % VEC)) - 1 : 0xFFFFu);
      kTiles<Direct>[m][(n + VEC - 1) / VEC - 1](kc, a, lda, p->b + j * kc, c + j, ldc, last, p->alpha, p->beta);
    }
  }
}

template <BetaMode B, bool CCols>
void short_by_width(const ShortArgs* p) {
  switch ((p->m + VEC - 1) / VEC) {
    case 1: return short_product<1, B, CCols>(p);
    case 2: return short_product<2, B, CCols>(p);
    case 3: return short_product<3, B, CCols>(p);
    default: return short_product<4, B, CCols>(p);
  }
}

template <bool CCols>
void short_by_beta(const ShortArgs* p) {
  if (p->beta == 0.f) return short_by_width<BetaMode::zero, CCols>(p);
  if (p->beta == 1.f) return short_by_width<BetaMode::one, CCols>(p);
  short_by_width<BetaMode::scaled, CCols>(p);
}

}  // namespace

void sgemm_macro_12x32__avx512(const MacroArgs* p) { p->lda > 0 ? macro<true>(p) : macro<false>(p); }

void sgemm_short__avx512(const ShortArgs* p) { p->c_cols ? short_by_beta<true>(p) : short_by_beta<false>(p); }

void sgemm_pack_short_a__avx512(const PackAArgs* p) {
  const int width = int((p->mc + VEC - 1) / VEC * VEC);
  if (!p->trans) return pack_transposed(p->a, p->lda, int(p->mc), width, p->kc, p->dst);
  for (int64_t k = 0; k < p->kc; ++k)
    for (int v = 0; v < width / VEC; ++v)
      _mm512_store_ps(p->dst + k * width + v * VEC,
                      _mm512_maskz_loadu_ps(first_lanes(p->mc - v * VEC), p->a + k * p->lda + v * VEC));
}

void sgemm_pack_a_12__avx512(const PackAArgs* p) {
  for (int64_t r = 0; r < p->mc; r += MR) {
    const int m = p->mc - r < MR ? int(p->mc - r) : MR;
    float* d = p->dst + r * p->kc;
    if (!p->trans) {
      pack_transposed(p->a + r * p->lda, p->lda, m, MR, p->kc, d);
    } else {  // A^T: each k-slice is already contiguous in memory
      const __mmask16 mk = __mmask16((1u << m) - 1);
      for (int64_t k = 0; k < p->kc; ++k)
        _mm512_mask_storeu_ps(d + k * MR, 0x0FFF, _mm512_maskz_loadu_ps(mk, p->a + k * p->lda + r));
    }
  }
}

void sgemm_pack_b_32__avx512(const PackBArgs* p) {
  const int64_t kc = p->kc, nc = p->nc, ldb = p->ldb, full = nc / NR * NR;
  const int w = int(nc - full), wp = (w + VEC - 1) / VEC * VEC;
  if (p->trans) {  // B^T: panel columns are source rows
    for (int64_t j = 0; j < full; j += NR) pack_transposed(p->b + j * ldb, ldb, NR, NR, kc, p->dst + j * kc);
    if (w) pack_transposed(p->b + full * ldb, ldb, w, wp, kc, p->dst + full * kc);
    return;
  }
  // Row-major B: sweep each source row across all panels, so every source page is touched once per row rather
  // than once per row per panel (TLB walks, nested under a hypervisor, dominated panel-at-a-time packing).
  const __mmask16 m0 = first_lanes(w), m1 = first_lanes(w - VEC);
  for (int64_t k = 0; k < kc; ++k) {
    const float* s = p->b + k * ldb;
    float* d = p->dst + k * NR;
    for (int64_t j = 0; j < full; j += NR, d += NR * kc) {
      _mm512_store_ps(d, _mm512_loadu_ps(s + j));
      _mm512_store_ps(d + VEC, _mm512_loadu_ps(s + j + VEC));
    }
    if (w) {
      float* e = p->dst + full * kc + k * wp;
      _mm512_storeu_ps(e, _mm512_maskz_loadu_ps(m0, s + full));
      if (wp > VEC) _mm512_storeu_ps(e + VEC, _mm512_maskz_loadu_ps(m1, s + full + VEC));
    }
  }
}

}  // namespace fastconv::cpu::gemm
