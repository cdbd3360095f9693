// Shared between the SGEMM driver (baseline code) and the per-ISA kernel files: POD types and plain function
// declarations only, so that nothing compiled with -mavx512f can leak into baseline code through this header.
//
// Packed layouts (written by pack.cpp or by an ISA's own packer, read by the macro-kernels):
//   A block: ceil(mc/MR) strips; strip s starts at a + s*MR*kc and holds rows s*MR.. as [k][MR] (rows past mc
//            are zero).
//   B block: ceil(nc/NR) panels; panel p starts at b + p*NR*kc and holds columns p*NR.. as [k][w], where w = NR
//            for every panel but the last, whose width is the remaining column count rounded up to the ISA's
//            vector width (zero-padded).
#pragma once
#include <cstdint>

namespace fastconv::cpu::gemm {

// A strided 2-D byte region of a source matrix: `rows` runs of `row_bytes`, `ld_bytes` apart.
struct PrefetchRegion {
  const char* base = nullptr;
  int64_t rows = 0, row_bytes = 0, ld_bytes = 0;
};

// Walks the cache lines of up to two regions (the sources of the next A and B blocks), a share of them before each
// register tile, so that data streamed from memory arrives in L2 while this block is being multiplied instead of
// stalling the next pack (1x1 convolution gradients stream 25 MiB operands: ~20% of their time was such stalls).
class PrefetchCursor {
 public:
  PrefetchCursor(const PrefetchRegion* regions, int n, int64_t tiles) : r_(regions), n_(n) {
    int64_t lines = 0;
    for (int i = 0; i < n; ++i) lines += regions[i].rows * (regions[i].row_bytes / 64 + 2);
    per_tile_ = tiles > 0 ? (lines + tiles - 1) / tiles : 0;
    skip_empty();
  }
  void step() {
    for (int64_t i = 0; i < per_tile_ && k_ < n_; ++i) {
      __builtin_prefetch(line_, 0, 2);  // prefetcht1: into L2 (and L3), not L1
      line_ += 64;
      if (line_ >= end_) next_row();
    }
  }

 private:
  void start_row() {
    const char* s = r_[k_].base + row_ * r_[k_].ld_bytes;
    line_ = reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(s) & ~uintptr_t(63));
    end_ = s + r_[k_].row_bytes;
  }
  void next_row() {
    if (++row_ < r_[k_].rows) return start_row();
    row_ = 0;
    ++k_;
    skip_empty();
  }
  void skip_empty() {
    while (k_ < n_ && (!r_[k_].base || r_[k_].rows <= 0 || r_[k_].row_bytes <= 0)) ++k_;
    if (k_ < n_) start_row();
  }
  const PrefetchRegion* r_;
  int n_, k_ = 0;
  int64_t row_ = 0, per_tile_ = 0;
  const char *line_ = nullptr, *end_ = nullptr;
};

struct MacroArgs {
  const float* a;  // packed A block (mc x kc), or with `lda` > 0 the A rows themselves
  const float* b;  // packed B block (kc x nc)
  float* c;        // C block (mc x nc), row stride ldc
  int64_t ldc, mc, nc, kc;
  float alpha, beta;  // C = alpha*A*B + beta*C; beta == 0: C is not read
  const PrefetchRegion* next = nullptr;  // regions to prefetch while this block runs (PrefetchCursor)
  int nnext = 0;
  // > 0: A is not packed but read in place, row i at a + i*lda, contiguous along k. Only macro-kernels the
  // driver marks `direct` accept it.
  int64_t lda = 0;
};
using MacroFn = void (*)(const MacroArgs*);

// Packs op(A)[0:mc, 0:kc] (a points at its first element) into the A-block layout above.
struct PackAArgs {
  const float* a;
  int64_t lda, mc, kc;
  bool trans;
  float* dst;
};
using PackAFn = void (*)(const PackAArgs*);

// Packs op(B)[0:kc, 0:nc] (b points at its first element; trans: B is stored N x K) into the B-block layout.
struct PackBArgs {
  const float* b;
  int64_t ldb, kc, nc;
  bool trans;
  float* dst;
};
using PackBFn = void (*)(const PackBArgs*);

// Short products (M <= kShortMaxM): C[0:m, 0:n] = alpha * op(A) B + beta C, op(A) packed as k-slices [kc][w]
// (w = m rounded up to the vector width, rows past m zero) and B read in place (row k at b + k*ldb, along n).
// `edge`: scratch of kc * 24 floats for the last, partial column block.
struct ShortArgs {
  const float* a;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc, m, n, kc;
  float alpha, beta;
  float* edge;
  bool c_cols = false;  // C stored by columns: element (i, j) at c + j*ldc + i
};
using ShortFn = void (*)(const ShortArgs*);
constexpr int64_t kShortMaxM = 64;

// Register tiles: MR rows of C (broadcast from A) x NR columns (vector loads from B). `Vec` is the SIMD width,
// the granule that the last B panel is padded to.
constexpr int kMrAvx512 = 12, kNrAvx512 = 32, kVecAvx512 = 16;
constexpr int kMrAvx2 = 6, kNrAvx2 = 16, kVecAvx2 = 8;
constexpr int kMrScalar = 4, kNrScalar = 8, kVecScalar = 8;

void sgemm_macro_12x32__avx512(const MacroArgs* args);
void sgemm_pack_a_12__avx512(const PackAArgs* args);
void sgemm_pack_b_32__avx512(const PackBArgs* args);
void sgemm_short__avx512(const ShortArgs* args);
void sgemm_pack_short_a__avx512(const PackAArgs* args);  // op(A) as k-slices [kc][round_up(mc, 16)], mc <= 64
void sgemm_macro_6x16__avx2(const MacroArgs* args);
void sgemm_macro_4x8__scalar(const MacroArgs* args);

}  // namespace fastconv::cpu::gemm
