#include "cpu/gemm/pack.h"

#include <cstring>

namespace fastconv::cpu::gemm {
namespace {

// Tile sizes are template parameters so the inner copies have constant trip counts and strides.
template <int MR>
void pack_a_strips(const PackAArgs* p) {
  const int64_t kc = p->kc, lda = p->lda;
  for (int64_t r = 0; r < p->mc; r += MR) {
    const int m = p->mc - r < MR ? int(p->mc - r) : MR;
    float* d = p->dst + r * kc;
    if (p->trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = p->a + k * lda + r;
        for (int i = 0; i < MR; ++i) d[k * MR + i] = i < m ? s[i] : 0.f;
      }
    } else {
      // Row by row: sequential reads, strided writes that land in a buffer already in L1.
      for (int i = 0; i < m; ++i) {
        const float* s = p->a + (r + i) * lda;
        for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = s[k];
      }
      for (int i = m; i < MR; ++i)
        for (int64_t k = 0; k < kc; ++k) d[k * MR + i] = 0.f;
    }
  }
}

template <int NR>
void pack_b_full_panel(bool trans, const float* b, int64_t ldb, int64_t kc, float* d) {
  if (!trans) {
    for (int64_t k = 0; k < kc; ++k, d += NR) std::memcpy(d, b + k * ldb, NR * sizeof(float));
  } else {
    for (int j = 0; j < NR; ++j) {
      const float* s = b + j * ldb;
      for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = s[k];
    }
  }
}

void pack_b_edge_panel(bool trans, const float* b, int64_t ldb, int64_t kc, int w, int wp, float* d) {
  for (int64_t k = 0; k < kc; ++k) {
    float* dk = d + k * wp;
    if (!trans)
      std::memcpy(dk, b + k * ldb, w * sizeof(float));
    else
      for (int j = 0; j < w; ++j) dk[j] = b[j * ldb + k];
    for (int j = w; j < wp; ++j) dk[j] = 0.f;
  }
}

}  // namespace

void pack_a_generic(const PackAArgs* p, int mr) {
  switch (mr) {
    case 4: return pack_a_strips<4>(p);
    case 6: return pack_a_strips<6>(p);
    case 12: return pack_a_strips<12>(p);
    default: break;
  }
  // Any other tile height: slow but correct.
  for (int64_t r = 0; r < p->mc; r += mr)
    for (int64_t k = 0; k < p->kc; ++k)
      for (int i = 0; i < mr; ++i) {
        const int64_t row = r + i;
        p->dst[r * p->kc + k * mr + i] =
            row < p->mc ? (p->trans ? p->a[k * p->lda + row] : p->a[row * p->lda + k]) : 0.f;
      }
}

void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, int nr, int vec, float* dst) {
  for (int64_t j = 0; j < nc; j += nr) {
    const float* src = trans ? b + j * ldb : b + j;
    float* d = dst + j * kc;
    const int w = nc - j < nr ? int(nc - j) : nr;
    if (w == nr && nr == 32)
      pack_b_full_panel<32>(trans, src, ldb, kc, d);
    else if (w == nr && nr == 16)
      pack_b_full_panel<16>(trans, src, ldb, kc, d);
    else
      pack_b_edge_panel(trans, src, ldb, kc, w, (w + vec - 1) / vec * vec, d);
  }
}

}  // namespace fastconv::cpu::gemm
