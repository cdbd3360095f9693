// FP32 SGEMM: one 256-thread block per 64x64 tile of C (grid-stride over the tiles of every batch entry), K walked in
// 16-deep slices staged in shared memory, each thread owning a 4x4 micro tile of C. The micro tile is strided (rows
// ty + 16 i, columns tx + 16 j) so that shared-memory reads of B and the stores of C are consecutive across a
// half-warp. Loads are bounds-guarded and zero-filled, so any M, N, K and leading dimension work. Every element of
// C is one thread's fma chain over k in order: deterministic, no split-K.
// This is the correct-first version; tensor cores come with part 2 of the CUDA work.
#include "gemm.cuh"

#include "fastconv/error.h"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kTX = 16, kTY = 16;  // threads along N and M
constexpr int kThreads = kTX * kTY;
constexpr int kMicro = 4;  // kBM / kTY == kBN / kTX
constexpr int kPad = 4;    // keeps rows 16-byte aligned and spreads the transposed stores over banks
constexpr int64_t kMaxBlocks = 16384;

static_assert(kBM == kTY * kMicro && kBN == kTX * kMicro, "micro tile must cover the block tile");
static_assert((kBM * kBK) % kThreads == 0 && (kBN * kBK) % kThreads == 0, "tile loads must split evenly");

template <bool TA, bool TB>
__global__ void __launch_bounds__(kThreads)
    sgemm_kernel(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A,
                 int64_t lda, int64_t stride_a, const float* __restrict__ B, int64_t ldb, int64_t stride_b,
                 float beta, float* __restrict__ C, int64_t ldc, int64_t stride_c) {
  __shared__ float As[kBK][kBM + kPad];  // As[k][m] = op(A)[m0 + m][k0 + k]
  __shared__ float Bs[kBK][kBN + kPad];  // Bs[k][n] = op(B)[k0 + k][n0 + n]
  const int tid = int(threadIdx.x), tx = tid % kTX, ty = tid / kTX;
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kBN - 1) / kBN;
  const int64_t tiles = batch * tiles_m * tiles_n;
  // Every thread of a block walks the same tiles, so the barriers below are uniform.
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t tn = t % tiles_n, tm = (t / tiles_n) % tiles_m, b = t / (tiles_n * tiles_m);
    const int64_t m0 = tm * kBM, n0 = tn * kBN;
    const float* Ab = A + b * stride_a;
    const float* Bb = B + b * stride_b;
    float acc[kMicro][kMicro] = {};
    for (int64_t k0 = 0; k0 < K; k0 += kBK) {
      // Consecutive threads read consecutive addresses of the stored matrix: along k for A, along m for A^T.
#pragma unroll
      for (int r = 0; r < kBM * kBK / kThreads; ++r) {
        const int idx = tid + r * kThreads;
        const int mm = TA ? idx % kBM : idx / kBK, kk = TA ? idx / kBM : idx % kBK;
        const int64_t m = m0 + mm, k = k0 + kk;
        As[kk][mm] = m < M && k < K ? (TA ? Ab[k * lda + m] : Ab[m * lda + k]) : 0.f;
      }
#pragma unroll
      for (int r = 0; r < kBN * kBK / kThreads; ++r) {
        const int idx = tid + r * kThreads;
        const int nn = TB ? idx / kBK : idx % kBN, kk = TB ? idx % kBK : idx / kBN;
        const int64_t n = n0 + nn, k = k0 + kk;
        Bs[kk][nn] = n < N && k < K ? (TB ? Bb[n * ldb + k] : Bb[k * ldb + n]) : 0.f;
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a[kMicro], bv[kMicro];
#pragma unroll
        for (int i = 0; i < kMicro; ++i) a[i] = As[kk][ty + kTY * i];
#pragma unroll
        for (int j = 0; j < kMicro; ++j) bv[j] = Bs[kk][tx + kTX * j];
#pragma unroll
        for (int i = 0; i < kMicro; ++i)
#pragma unroll
          for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
      }
      __syncthreads();  // the next slice overwrites As and Bs
    }
    float* Cb = C + b * stride_c;
#pragma unroll
    for (int i = 0; i < kMicro; ++i) {
      const int64_t m = m0 + ty + kTY * i;
      if (m >= M) continue;
#pragma unroll
      for (int j = 0; j < kMicro; ++j) {
        const int64_t n = n0 + tx + kTX * j;
        if (n >= N) continue;
        float* c = Cb + m * ldc + n;
        const float prev = beta == 0.f ? 0.f : beta * *c;  // beta == 0: C is never read (it may hold NaN)
        *c = alpha * acc[i][j] + prev;
      }
    }
  }
}

template <bool TA, bool TB>
void run(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, int64_t sa,
         const float* B, int64_t ldb, int64_t sb, float beta, float* C, int64_t ldc, int64_t sc, cudaStream_t s) {
  const int64_t tiles = batch * ((M + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
  const unsigned grid = unsigned(tiles < kMaxBlocks ? tiles : kMaxBlocks);
  launch("sgemm__cuda", sgemm_kernel<TA, TB>, dim3(grid), dim3(kThreads), 0, s, batch, M, N, K, alpha, A, lda, sa, B,
         ldb, sb, beta, C, ldc, sc);
}

}  // namespace

void sgemm_strided_batched__cuda(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                                 float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B,
                                 int64_t ldb, int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                                 cudaStream_t stream) {
  FC_CHECK(batch >= 0 && M >= 0 && N >= 0 && K >= 0, Value, "sgemm__cuda: negative size (batch ", batch, ", M ", M,
           ", N ", N, ", K ", K, ")");
  if (batch == 0 || M == 0 || N == 0) return;
  FC_CHECK(ldc >= N && lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N), Value,
           "sgemm__cuda: leading dimension too small (lda ", lda, ", ldb ", ldb, ", ldc ", ldc, " for M ", M, ", N ",
           N, ", K ", K, ")");
  auto go = [&](auto kernel_run) {
    kernel_run(batch, M, N, K, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc, stride_c, stream);
  };
  if (trans_a) trans_b ? go(run<true, true>) : go(run<true, false>);
  else trans_b ? go(run<false, true>) : go(run<false, false>);
}

void sgemm__cuda(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream) {
  sgemm_strided_batched__cuda(1, trans_a, trans_b, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, stream);
}

}  // namespace fastconv::cuda
