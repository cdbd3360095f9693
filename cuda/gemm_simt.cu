// Exact-FP32 SIMT SGEMM (gemm.cuh): one block per BM x BN tile of C (grid-stride over the tiles of every batch
// entry), each thread an 8x8 register micro tile, K walked in 8-deep slices through double-buffered shared memory:
// the next slice is loaded from global memory into registers while the current one is multiplied, then stored
// into the other buffer, so one barrier per slice suffices. Shared tiles are k-major (As[k][m], Bs[k][n]) so a
// thread reads its 8 rows and 8 columns as two float4 each; its micro tile is split in two 4-wide halves BM/2 (BN/2)
// apart, which keeps those float4 reads of a warp on distinct banks. Global loads are float4 where the leading
// dimension, batch stride and base are multiples of 4 floats and the 4 elements are in range, else scalar and
// bounds-guarded (zeros past M, N, K), so any shape, leading dimension and transpose works.
// Every element of C is one thread's fma chain over k in order: deterministic, no split-K.
// Instantiated as 128x128 (256 threads) and 64x64 (64 threads; for problems with few big tiles).
#include <cstdint>

#include "gemm.cuh"
#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr int kBK = 8, kMicro = 8;
constexpr int64_t kMaxBlocks = 16384;

// Four consecutive elements of row `row` starting at column `col` of a rows x cols matrix (row stride ld),
// zeros outside it.
__device__ __forceinline__ float4 load4(const float* __restrict__ p, int64_t row, int64_t col, int64_t rows,
                                        int64_t cols, int64_t ld, bool vec) {
  if (row >= rows) return make_float4(0.f, 0.f, 0.f, 0.f);
  const float* r = p + row * ld;
  if (vec && col + 3 < cols) return *reinterpret_cast<const float4*>(r + col);
  float v[4];
#pragma unroll
  for (int j = 0; j < 4; ++j) v[j] = col + j < cols ? r[col + j] : 0.f;
  return make_float4(v[0], v[1], v[2], v[3]);
}

template <int BM, int BN, bool TA, bool TB>
__global__ void __launch_bounds__((BM / kMicro) * (BN / kMicro))
    sgemm_simt_kernel(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A,
                      int64_t lda, int64_t stride_a, bool vec_a, const float* __restrict__ B, int64_t ldb,
                      int64_t stride_b, bool vec_b, float beta, float* __restrict__ C, int64_t ldc,
                      int64_t stride_c) {
  constexpr int kThreads = (BM / kMicro) * (BN / kMicro);
  constexpr int kLoadsA = BM * kBK / 4 / kThreads, kLoadsB = BN * kBK / 4 / kThreads;  // float4 chunks a thread
  static_assert(kLoadsA >= 1 && kLoadsB >= 1 && BM * kBK / 4 % kThreads == 0 && BN * kBK / 4 % kThreads == 0,
                "tile loads must split evenly");
  __shared__ __align__(16) float As[2][kBK][BM + 4];  // +4: rows stay 16-byte aligned, transposed stores spread
  __shared__ __align__(16) float Bs[2][kBK][BN + 4];
  const int tid = int(threadIdx.x), tx = tid % (BN / kMicro), ty = tid / (BN / kMicro);
  const int64_t tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN, tiles = batch * tiles_m * tiles_n;
  const int64_t k_tiles = (K + kBK - 1) / kBK;

  // Every thread of a block walks the same tiles and slices, so the barriers below are uniform.
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int64_t tn = t % tiles_n, tm = (t / tiles_n) % tiles_m, b = t / (tiles_n * tiles_m);
    const int64_t m0 = tm * BM, n0 = tn * BN;
    const float* Ab = A + b * stride_a;
    const float* Bb = B + b * stride_b;
    float4 ra[kLoadsA], rb[kLoadsB];

    // Chunk c of a slice: op(A) is M x K; stored untransposed its rows run along k (2 chunks a row of the
    // slice), transposed along m (BM / 4 chunks a row).
    auto fetch = [&](int64_t k0) {
#pragma unroll
      for (int r = 0; r < kLoadsA; ++r) {
        const int c = tid + r * kThreads;
        ra[r] = TA ? load4(Ab, k0 + c / (BM / 4), m0 + c % (BM / 4) * 4, K, M, lda, vec_a)
                   : load4(Ab, m0 + c / 2, k0 + c % 2 * 4, M, K, lda, vec_a);
      }
#pragma unroll
      for (int r = 0; r < kLoadsB; ++r) {
        const int c = tid + r * kThreads;
        rb[r] = TB ? load4(Bb, n0 + c / 2, k0 + c % 2 * 4, N, K, ldb, vec_b)
                   : load4(Bb, k0 + c / (BN / 4), n0 + c % (BN / 4) * 4, K, N, ldb, vec_b);
      }
    };
    auto stash = [&](int buf) {
#pragma unroll
      for (int r = 0; r < kLoadsA; ++r) {
        const int c = tid + r * kThreads;
        if (TA) {
          *reinterpret_cast<float4*>(&As[buf][c / (BM / 4)][c % (BM / 4) * 4]) = ra[r];
        } else {
          const int m = c / 2, k = c % 2 * 4;
          As[buf][k][m] = ra[r].x, As[buf][k + 1][m] = ra[r].y, As[buf][k + 2][m] = ra[r].z,
          As[buf][k + 3][m] = ra[r].w;
        }
      }
#pragma unroll
      for (int r = 0; r < kLoadsB; ++r) {
        const int c = tid + r * kThreads;
        if (TB) {
          const int n = c / 2, k = c % 2 * 4;
          Bs[buf][k][n] = rb[r].x, Bs[buf][k + 1][n] = rb[r].y, Bs[buf][k + 2][n] = rb[r].z,
          Bs[buf][k + 3][n] = rb[r].w;
        } else {
          *reinterpret_cast<float4*>(&Bs[buf][c / (BN / 4)][c % (BN / 4) * 4]) = rb[r];
        }
      }
    };

    float acc[kMicro][kMicro] = {};
    if (k_tiles > 0) {
      fetch(0);
      stash(0);
    }
    __syncthreads();
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      const int cur = int(kt & 1);
      const bool more = kt + 1 < k_tiles;
      if (more) fetch((kt + 1) * kBK);  // in flight while this slice is multiplied
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float a[kMicro], bv[kMicro];
        const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][kk][ty * 4]);
        const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][kk][BM / 2 + ty * 4]);
        const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][kk][tx * 4]);
        const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][kk][BN / 2 + tx * 4]);
        a[0] = a0.x, a[1] = a0.y, a[2] = a0.z, a[3] = a0.w, a[4] = a1.x, a[5] = a1.y, a[6] = a1.z, a[7] = a1.w;
        bv[0] = b0.x, bv[1] = b0.y, bv[2] = b0.z, bv[3] = b0.w, bv[4] = b1.x, bv[5] = b1.y, bv[6] = b1.z,
        bv[7] = b1.w;
#pragma unroll
        for (int i = 0; i < kMicro; ++i)
#pragma unroll
          for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(a[i], bv[j], acc[i][j]);
      }
      if (more) stash(cur ^ 1);  // the other buffer: every thread finished reading it before the last barrier
      __syncthreads();
    }

    float* Cb = C + b * stride_c;
#pragma unroll
    for (int i = 0; i < kMicro; ++i) {
      const int64_t m = m0 + (i < 4 ? ty * 4 + i : BM / 2 + ty * 4 + i - 4);
      if (m >= M) continue;
#pragma unroll
      for (int j = 0; j < kMicro; ++j) {
        const int64_t n = n0 + (j < 4 ? tx * 4 + j : BN / 2 + tx * 4 + j - 4);
        if (n >= N) continue;
        float* c = Cb + m * ldc + n;
        const float prev = beta == 0.f ? 0.f : beta * *c;  // beta == 0: C is never read (it may hold NaN)
        *c = alpha * acc[i][j] + prev;
      }
    }
  }
}

bool aligned4(const float* p, int64_t ld, int64_t stride) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && stride % 4 == 0;
}

template <int BM, int BN, bool TA, bool TB>
void run(const char* name, const GemmArgs& g, cudaStream_t s) {
  const int64_t tiles = g.batch * ((g.M + BM - 1) / BM) * ((g.N + BN - 1) / BN);
  const unsigned grid = unsigned(tiles < kMaxBlocks ? tiles : kMaxBlocks);
  launch(name, sgemm_simt_kernel<BM, BN, TA, TB>, dim3(grid), dim3((BM / kMicro) * (BN / kMicro)), 0, s, g.batch,
         g.M, g.N, g.K, g.alpha, g.A, g.lda, g.sa, aligned4(g.A, g.lda, g.sa), g.B, g.ldb, g.sb,
         aligned4(g.B, g.ldb, g.sb), g.beta, g.C, g.ldc, g.sc);
}

template <int BM, int BN>
void run_tiles(const char* name, const GemmArgs& g, cudaStream_t s) {
  if (g.ta) g.tb ? run<BM, BN, true, true>(name, g, s) : run<BM, BN, true, false>(name, g, s);
  else g.tb ? run<BM, BN, false, true>(name, g, s) : run<BM, BN, false, false>(name, g, s);
}

}  // namespace

void launch_gemm_simt(const GemmArgs& g, bool small_tiles, cudaStream_t stream) {
  if (small_tiles) run_tiles<64, 64>("sgemm__cuda_simt64", g, stream);
  else run_tiles<128, 128>("sgemm__cuda_simt128", g, stream);
}

}  // namespace fastconv::cuda
