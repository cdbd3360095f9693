// Host launchers of the GEMM kernels (cuda/gemm.cu dispatches to cuda/gemm_simt.cu and cuda/gemm_mma.cu).
// Row-major, the contract of ref::sgemm (cpu/ref/gemm_ref.h) and cpu::sgemm (cpu/gemm/gemm.h):
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(A) = A (stored M x K, row stride lda) or, with trans_a, A^T (A stored K x M, row stride lda); same for B.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored). K == 0 gives C = beta * C.
// Each element of C is summed in a fixed order (no split-K), so results are bit-reproducible run to run.
// Pointers are device pointers; M, N or batch of 0 queue nothing; the work is queued on `stream`.
//
// precision says what the products are computed from; A, B and C are float in memory whatever it is:
//   fp32  exact FP32 (SIMT fma chains; the default, and what every existing caller gets)
//   tf32  tensor cores (sm_80+): A and B rounded to TF32 (10 mantissa bits, cvt.rna), FP32 accumulation
//   bf16  tensor cores (sm_80+): A and B rounded to BF16 (7 mantissa bits, nearest even), FP32 accumulation
// The reduced precisions trade accuracy for speed: an element's error is up to about 2 u sum_k |a_ik b_kj| with
// u = 2^-11 (tf32) or 2^-8 (bf16), against K 2^-24 for fp32 (tests/cpp/cuda/test_gemm.cu derives the bounds).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace fastconv::cuda {

enum class GemmPrecision { fp32, tf32, bf16 };

void sgemm__cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream,
                 GemmPrecision precision = GemmPrecision::fp32);

// `batch` independent GEMMs, matrix b at A + b * stride_a, B + b * stride_b, C + b * stride_c (element strides;
// a stride of 0 shares one A or B across the batch). Same as cpu::sgemm_batched (grouped convolution, Winograd).
void sgemm_strided_batched__cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                                 int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                                 cudaStream_t stream, GemmPrecision precision = GemmPrecision::fp32);

// The kernels themselves, for tests and benchmarks that must run one in particular (the entry points above pick
// by precision and shape). Same arguments and checks as sgemm_strided_batched__cuda.
enum class GemmKernel {
  simt_128x128,  // sgemm__cuda_simt128: fp32, 128x128 block tiles
  simt_64x64,    // sgemm__cuda_simt64: fp32, 64x64 block tiles, for problems with few 128x128 tiles
  mma_tf32,      // sgemm__cuda_mma_tf32
  mma_bf16,      // sgemm__cuda_mma_bf16
};
void sgemm_strided_batched__cuda_kernel(GemmKernel kernel, int64_t batch, bool trans_a, bool trans_b, int64_t M,
                                        int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                                        int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                                        float* C, int64_t ldc, int64_t stride_c, cudaStream_t stream);

// One GEMM problem, as the kernel files take it (cuda/gemm_simt.cu, cuda/gemm_mma.cu); arguments already checked.
struct GemmArgs {
  int64_t batch;
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda, sa;
  const float* B;
  int64_t ldb, sb;
  float beta;
  float* C;
  int64_t ldc, sc;
};
void launch_gemm_simt(const GemmArgs& g, bool small_tiles, cudaStream_t stream);
void launch_gemm_mma(const GemmArgs& g, bool bf16, cudaStream_t stream);

}  // namespace fastconv::cuda
