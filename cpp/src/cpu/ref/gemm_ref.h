#pragma once
#include <cstdint>

namespace fastconv::ref {

// Naive definition of sgemm (same contract as cpu/gemm/gemm.h); accumulates in double.
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace fastconv::ref
