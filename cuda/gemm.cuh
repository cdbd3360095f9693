// Host launchers of the FP32 GEMM kernels (cuda/gemm.cu). Row-major, the contract of ref::sgemm
// (cpu/ref/gemm_ref.h) and cpu::sgemm (cpu/gemm/gemm.h):
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(A) = A (stored M x K, row stride lda) or, with trans_a, A^T (A stored K x M, row stride lda); same for B.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored). K == 0 gives C = beta * C.
// Products are accumulated in float in a fixed order (no split-K), so results are bit-reproducible run to run.
// Pointers are device pointers; M, N or batch of 0 queue nothing; the work is queued on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace fastconv::cuda {

void sgemm__cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream);

// `batch` independent GEMMs, matrix b at A + b * stride_a, B + b * stride_b, C + b * stride_c (element strides;
// a stride of 0 shares one A or B across the batch). Same as cpu::sgemm_batched (grouped convolution, Winograd).
void sgemm_strided_batched__cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                                 int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                                 cudaStream_t stream);

}  // namespace fastconv::cuda
