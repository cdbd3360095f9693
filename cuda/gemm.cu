// The GEMM entry points (gemm.cuh): argument checks, then the kernel for the precision and shape. The kernels live
// in gemm_simt.cu (exact FP32) and gemm_mma.cu (tensor cores, TF32 / BF16).
#include "gemm.cuh"

#include "fastconv/error.h"

namespace fastconv::cuda {
namespace {

// Below this many 128x128 tiles the big tiles leave most of an H100's 132 SMs idle; 64x64 tiles give each SM
// work four times sooner. A rule of thumb until bench/gpu_check.sh can time the two.
constexpr int64_t kSmallTileThreshold = 132;

void check_args(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                int64_t ldb, int64_t ldc) {
  FC_CHECK(batch >= 0 && M >= 0 && N >= 0 && K >= 0, Value, "sgemm__cuda: negative size (batch ", batch, ", M ", M,
           ", N ", N, ", K ", K, ")");
  if (batch == 0 || M == 0 || N == 0) return;
  FC_CHECK(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N), Value,
           "sgemm__cuda: leading dimension too small (lda ", lda, ", ldb ", ldb, ", ldc ", ldc, " for M ", M, ", N ",
           N, ", K ", K, ")");
}

}  // namespace

void sgemm_strided_batched__cuda_kernel(GemmKernel kernel, int64_t batch, bool trans_a, bool trans_b, int64_t M,
                                        int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                                        int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                                        float* C, int64_t ldc, int64_t stride_c, cudaStream_t stream) {
  check_args(batch, trans_a, trans_b, M, N, K, lda, ldb, ldc);
  if (batch == 0 || M == 0 || N == 0) return;
  const GemmArgs g{batch, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                   stride_c};
  switch (kernel) {
    case GemmKernel::simt_128x128: launch_gemm_simt(g, false, stream); break;
    case GemmKernel::simt_64x64: launch_gemm_simt(g, true, stream); break;
    case GemmKernel::mma_tf32: launch_gemm_mma(g, false, stream); break;
    case GemmKernel::mma_bf16: launch_gemm_mma(g, true, stream); break;
  }
}

void sgemm_strided_batched__cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                                 int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                                 cudaStream_t stream, GemmPrecision precision) {
  GemmKernel kernel = GemmKernel::mma_tf32;
  if (precision == GemmPrecision::bf16) {
    kernel = GemmKernel::mma_bf16;
  } else if (precision == GemmPrecision::fp32) {
    const int64_t tiles = batch * ((M + 127) / 128) * ((N + 127) / 128);
    kernel = tiles < kSmallTileThreshold ? GemmKernel::simt_64x64 : GemmKernel::simt_128x128;
  }
  sgemm_strided_batched__cuda_kernel(kernel, batch, trans_a, trans_b, M, N, K, alpha, A, lda, stride_a, B, ldb,
                                     stride_b, beta, C, ldc, stride_c, stream);
}

void sgemm__cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream,
                 GemmPrecision precision) {
  sgemm_strided_batched__cuda(1, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, stream,
                              precision);
}

}  // namespace fastconv::cuda
