// The one SGEMM every matrix-shaped kernel calls. Row-major.
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(A) = A (stored M x K, row stride lda) or, with trans_a, A^T (A stored K x M, row stride lda); same for B.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
#pragma once
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// `batch` independent GEMMs with fixed element strides between consecutive A, B and C matrices
// (Winograd transform-domain products, grouped convolution).
void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                   float beta, float* C, int64_t ldc, int64_t stride_c);

// The active ISA level's register tile with its packers and macro-kernel, for callers that drive the blocking
// loops themselves because they produce B in packed form (Winograd fuses its filter transform into B's packing).
// Layouts as in microkernel.h; B panels are [kc][round_up(width, vec)], width <= nr.
struct SgemmKernels {
  int mr, nr, vec;
  gemm::PackAFn pack_a;
  gemm::PackBFn pack_b;
  gemm::MacroFn macro;
};
SgemmKernels sgemm_kernels();

}  // namespace fastconv::cpu
