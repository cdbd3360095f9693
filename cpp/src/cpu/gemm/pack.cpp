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

// B^T panel: NR source rows, each contiguous over k.
template <int NR>
void pack_bt_full_panel(const float* b, int64_t ldb, int64_t kc, float* d) {
  for (int j = 0; j < NR; ++j) {
    const float* s = b + j * ldb;
    for (int64_t k = 0; k < kc; ++k) d[k * NR + j] = s[k];
  }
}

void pack_bt_edge_panel(const float* b, int64_t ldb, int64_t kc, int w, int wp, float* d) {
  for (int64_t k = 0; k < kc; ++k) {
    float* dk = d + k * wp;
    for (int j = 0; j < w; ++j) dk[j] = b[j * ldb + k];
    for (int j = w; j < wp; ++j) dk[j] = 0.f;
  }
}

// Row-major B: sweep source rows across all panels (k outer). Touching each source page once per row instead
// of once per row per panel matters: rows are ldb apart, and TLB walks (nested ones, under a hypervisor) were
// the main cost of panel-at-a-time packing.
template <int NR>
void pack_b_rows(const float* b, int64_t ldb, int64_t kc, int64_t nc, int vec, float* dst) {
  const int64_t full = nc / NR * NR;
  const int w = int(nc - full), wp = (w + vec - 1) / vec * vec;
  for (int64_t k = 0; k < kc; ++k) {
    const float* s = b + k * ldb;
    for (int64_t j = 0; j < full; j += NR) std::memcpy(dst + j * kc + k * NR, s + j, NR * sizeof(float));
    if (w) {
      float* d = dst + full * kc + k * wp;
      std::memcpy(d, s + full, w * sizeof(float));
      for (int j = w; j < wp; ++j) d[j] = 0.f;
    }
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

void pack_b_generic(const PackBArgs* p, int nr, int vec) {
  const bool trans = p->trans;
  const float* b = p->b;
  const int64_t ldb = p->ldb, kc = p->kc, nc = p->nc;
  float* dst = p->dst;
  if (!trans) {
    if (nr == 32) return pack_b_rows<32>(b, ldb, kc, nc, vec, dst);
    if (nr == 16) return pack_b_rows<16>(b, ldb, kc, nc, vec, dst);
    if (nr == 8) return pack_b_rows<8>(b, ldb, kc, nc, vec, dst);
  }
  for (int64_t j = 0; j < nc; j += nr) {
    const float* src = trans ? b + j * ldb : b + j;
    float* d = dst + j * kc;
    const int w = nc - j < nr ? int(nc - j) : nr, wp = (w + vec - 1) / vec * vec;
    if (!trans)  // tile widths without a specialisation above
      for (int64_t k = 0; k < kc; ++k) {
        std::memcpy(d + k * wp, src + k * ldb, w * sizeof(float));
        for (int jj = w; jj < wp; ++jj) d[k * wp + jj] = 0.f;
      }
    else if (w == nr && nr == 32)
      pack_bt_full_panel<32>(src, ldb, kc, d);
    else if (w == nr && nr == 16)
      pack_bt_full_panel<16>(src, ldb, kc, d);
    else if (w == nr && nr == 8)
      pack_bt_full_panel<8>(src, ldb, kc, d);
    else
      pack_bt_edge_panel(src, ldb, kc, w, wp, d);
  }
}

}  // namespace fastconv::cpu::gemm
