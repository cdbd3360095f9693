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

struct MacroArgs {
  const float* a;  // packed A block (mc x kc)
  const float* b;  // packed B block (kc x nc)
  float* c;        // C block (mc x nc), row stride ldc
  int64_t ldc, mc, nc, kc;
  float alpha, beta;  // C = alpha*A*B + beta*C; beta == 0: C is not read
};
using MacroFn = void (*)(const MacroArgs*);

// Packs op(A)[0:mc, 0:kc] (a points at its first element) into the A-block layout above.
struct PackAArgs {
  const float* a;
  int64_t lda, mc, kc;
  bool trans;
  float* dst;
  // Floats from each source element to the same element of the block packed next (0: none). Packers that honour
  // it prefetch that block's lines while reading this one, so the next pack finds its source in L2 rather than
  // waiting on memory after a block of arithmetic (operands streamed from memory: 1x1 conv gradients).
  int64_t ahead = 0;
};
using PackAFn = void (*)(const PackAArgs*);

// Packs op(B)[0:kc, 0:nc] (b points at its first element; trans: B is stored N x K) into the B-block layout.
struct PackBArgs {
  const float* b;
  int64_t ldb, kc, nc;
  bool trans;
  float* dst;
  int64_t ahead = 0;  // as in PackAArgs
};
using PackBFn = void (*)(const PackBArgs*);

// Register tiles: MR rows of C (broadcast from A) x NR columns (vector loads from B). `Vec` is the SIMD width,
// the granule that the last B panel is padded to.
constexpr int kMrAvx512 = 12, kNrAvx512 = 32, kVecAvx512 = 16;
constexpr int kMrAvx2 = 6, kNrAvx2 = 16, kVecAvx2 = 8;
constexpr int kMrScalar = 4, kNrScalar = 8, kVecScalar = 8;

void sgemm_macro_12x32__avx512(const MacroArgs* args);
void sgemm_pack_a_12__avx512(const PackAArgs* args);
void sgemm_pack_b_32__avx512(const PackBArgs* args);
void sgemm_macro_6x16__avx2(const MacroArgs* args);
void sgemm_macro_4x8__scalar(const MacroArgs* args);

}  // namespace fastconv::cpu::gemm
