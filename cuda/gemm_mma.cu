// Tensor-core GEMMs (gemm.cuh, precision tf32 / bf16; sm_80+): FP32 in memory, operands rounded to TF32 or BF16
// in registers on their way from shared memory to the mma, FP32 accumulation. One 256-thread block per 128x128
// tile of C (grid-stride over the tiles of every batch entry), 8 warps as 2 x 4, each warp a 64x32 tile of
// 4 x 4 m16n8 accumulators. K is walked in 16-deep slices through a two-stage cp.async pipeline: slice k+1 is
// copied global -> shared while slice k is multiplied.
// Shared memory mirrors the stored layout of each operand (cp.async copies bytes, it cannot transpose or convert):
// an operand stored along k (A untransposed, B transposed) is kept as rows of k, and its TF32 fragments come from
// ldmatrix (a 16-bit 8x8 matrix is an 8x4 matrix of floats, which is exactly a tf32 fragment); an operand stored
// along m / n is kept k-major and its fragments are gathered with scalar loads (ldmatrix .trans would swap the
// 16-bit halves of the floats). BF16 fragments pack two floats into one bf16x2 register, so they are always
// gathered with scalar loads: ldmatrix would need BF16 in shared memory, i.e. converting before the copy.
// Copies are 16 bytes (cg, zero-filling past M, N, K) where leading dimension, batch stride and base are multiples
// of 4 floats, else 4 bytes each, so any shape, leading dimension and transpose works. Each element's k order is
// fixed (slices in order, the mma's own order within one): deterministic, no split-K.
#include <cstdint>

#include "gemm.cuh"
#include "launch.cuh"
#include "mma.cuh"

namespace fastconv::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 16;
constexpr int kWarpsM = 2, kWarpsN = 4, kThreads = 32 * kWarpsM * kWarpsN;
constexpr int kMT = kBM / kWarpsM / 16, kNT = kBN / kWarpsN / 8;  // mma tiles a warp: 4 x 4
constexpr int kKPad = 4;   // rows of k: 80 bytes apart, so the 8 rows of an ldmatrix hit distinct banks
constexpr int kMNPad = 8;  // rows of m / n: 136 floats, so a fragment's (k = t, m = g) gather is conflict-free
constexpr int kTileFloats = kBM * (kBK + kKPad);
constexpr int64_t kMaxBlocks = 16384;
static_assert(kBM == kBN && kTileFloats >= kBK * (kBM + kMNPad), "one stage buffer fits either layout");

// An operand's tile in shared memory: rows of k when the stored matrix runs along k (KC), else rows of m / n.
template <bool KC>
struct Tile {
  static constexpr int ld = KC ? kBK + kKPad : kBM + kMNPad;
  __device__ static int at(int mn, int k) { return KC ? mn * ld + k : k * ld + mn; }
};

// Queues the copy of one operand's slice: rows mn0.., k0.. of op(X) (MN x K), stored at p with row stride ld.
template <bool KC>
__device__ __forceinline__ void issue(float* s, const float* p, int64_t ld, int64_t mn0, int64_t k0, int64_t MN,
                                      int64_t K, bool vec, int tid) {
  constexpr int inner = KC ? kBK : kBM, outer = KC ? kBM : kBK, chunks = inner * outer / 4;
  static_assert(chunks % kThreads == 0, "slice copies must split evenly");
  const int64_t row0 = KC ? mn0 : k0, col0 = KC ? k0 : mn0, rows = KC ? MN : K, cols = KC ? K : MN;
#pragma unroll
  for (int r = 0; r < chunks / kThreads; ++r) {
    const int c = tid + r * kThreads, o = c / (inner / 4), i = c % (inner / 4) * 4;
    float* dst = s + o * Tile<KC>::ld + i;
    const int64_t row = row0 + o, col = col0 + i;
    const int64_t left = cols - col, valid = row >= rows || left <= 0 ? 0 : left > 4 ? 4 : left;
    const float* src = p + (valid > 0 ? row * ld + col : 0);  // nothing is read for 0 bytes; p stays valid
    if (vec) {
      mma::cp_async_cg16(dst, src, int(valid) * 4);
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) mma::cp_async_ca4(dst + j, j < valid ? src + j : p, j < valid ? 4 : 0);
    }
  }
}

__device__ __forceinline__ uint32_t tf32(float x) { return mma::cvt_tf32(x); }
__device__ __forceinline__ uint32_t tf32_bits(uint32_t b) { return mma::cvt_tf32(__uint_as_float(b)); }

template <bool TA, bool TB, bool BF16>
__global__ void __launch_bounds__(kThreads)
    sgemm_mma_kernel(int64_t batch, int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A,
                     int64_t lda, int64_t stride_a, bool vec_a, const float* __restrict__ B, int64_t ldb,
                     int64_t stride_b, bool vec_b, float beta, float* __restrict__ C, int64_t ldc,
                     int64_t stride_c) {
  constexpr bool kca = !TA, kcb = TB;  // operands stored along k
  using TileA = Tile<kca>;
  using TileB = Tile<kcb>;
  __shared__ __align__(16) float smem[2][2][kTileFloats];  // [stage][A, B]
  const int tid = int(threadIdx.x), lane = tid % 32, warp = tid / 32, g = lane / 4, t = lane % 4;
  const int wm = warp % kWarpsM * (kBM / kWarpsM), wn = warp / kWarpsM * (kBN / kWarpsN);
  const int64_t tiles_m = (M + kBM - 1) / kBM, tiles_n = (N + kBN - 1) / kBN, tiles = batch * tiles_m * tiles_n;
  const int64_t k_tiles = (K + kBK - 1) / kBK;

  // Every thread of a block walks the same tiles and slices, so the barriers below are uniform.
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t tn = tile % tiles_n, tm = (tile / tiles_n) % tiles_m, b = tile / (tiles_n * tiles_m);
    const int64_t m0 = tm * kBM, n0 = tn * kBN;
    const float* Ab = A + b * stride_a;
    const float* Bb = B + b * stride_b;
    auto stage = [&](int s, int64_t k0) {
      issue<kca>(smem[s][0], Ab, lda, m0, k0, M, K, vec_a, tid);
      issue<kcb>(smem[s][1], Bb, ldb, n0, k0, N, K, vec_b, tid);
    };
    float acc[kMT][kNT][4] = {};
    if (k_tiles > 0) stage(0, 0);
    mma::cp_async_commit();
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      if (kt + 1 < k_tiles) stage(int((kt + 1) & 1), (kt + 1) * kBK);
      mma::cp_async_commit();    // possibly empty: the wait below always leaves exactly the newest group
      mma::cp_async_wait<1>();   // this thread's copies of slice kt have landed ...
      __syncthreads();           // ... and everyone else's
      const float* As = smem[kt & 1][0];
      const float* Bs = smem[kt & 1][1];
      auto a_at = [&](int m, int k) { return As[TileA::at(m, k)]; };
      auto b_at = [&](int k, int n) { return Bs[TileB::at(n, k)]; };
#pragma unroll
      for (int kk = 0; kk < kBK; kk += BF16 ? 16 : 8) {
        uint32_t af[kMT][4], bf[kNT][2];
#pragma unroll
        for (int i = 0; i < kMT; ++i) {
          const int m = wm + i * 16;
          if (BF16) {  // a0,a1 (g, 2t..) a2,a3 (g+8, 2t..) a4,a5 (g, 2t+8..) a6,a7 (g+8, 2t+8..)
#pragma unroll
            for (int r = 0; r < 4; ++r) {
              const int row = m + g + (r % 2) * 8, k = kk + 2 * t + (r / 2) * 8;
              af[i][r] = mma::pack_bf16x2(a_at(row, k), a_at(row, k + 1));
            }
          } else if (kca) {  // matrices: rows 0-7 / 8-15 of k kk..kk+3, then the same of kk+4..kk+7
            mma::ldmatrix_x4(af[i], As + TileA::at(m + lane % 16, kk + lane / 16 * 4));
#pragma unroll
            for (int r = 0; r < 4; ++r) af[i][r] = tf32_bits(af[i][r]);
          } else {  // a0 (g, t) a1 (g+8, t) a2 (g, t+4) a3 (g+8, t+4)
#pragma unroll
            for (int r = 0; r < 4; ++r) af[i][r] = tf32(a_at(m + g + (r % 2) * 8, kk + t + (r / 2) * 4));
          }
        }
#pragma unroll
        for (int j = 0; j < kNT; ++j) {
          const int n = wn + j * 8;
          if (BF16) {  // b0,b1 (2t.., g) b2,b3 (2t+8.., g)
#pragma unroll
            for (int r = 0; r < 2; ++r) bf[j][r] = mma::pack_bf16x2(b_at(kk + 2 * t + r * 8, n + g),
                                                                    b_at(kk + 2 * t + r * 8 + 1, n + g));
          } else if (kcb) {  // two n tiles at once: matrices (n 0-7, k kk..), (n 0-7, kk+4..), then n 8-15
            if (j % 2 == 0) {
              uint32_t r4[4];
              mma::ldmatrix_x4(r4, Bs + TileB::at(n + lane / 16 * 8 + lane % 8, kk + lane / 8 % 2 * 4));
              bf[j][0] = tf32_bits(r4[0]), bf[j][1] = tf32_bits(r4[1]);
              bf[j + 1][0] = tf32_bits(r4[2]), bf[j + 1][1] = tf32_bits(r4[3]);
            }
          } else {  // b0 (t, g) b1 (t+4, g)
            bf[j][0] = tf32(b_at(kk + t, n + g)), bf[j][1] = tf32(b_at(kk + t + 4, n + g));
          }
        }
#pragma unroll
        for (int i = 0; i < kMT; ++i)
#pragma unroll
          for (int j = 0; j < kNT; ++j) {
            if (BF16) mma::mma_m16n8k16_bf16(acc[i][j], af[i], bf[j], acc[i][j]);
            else mma::mma_m16n8k8_tf32(acc[i][j], af[i], bf[j], acc[i][j]);
          }
      }
      __syncthreads();  // the next slice's copies overwrite the stage just read
    }
    mma::cp_async_wait<0>();

    float* Cb = C + b * stride_c;
#pragma unroll
    for (int i = 0; i < kMT; ++i)
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int r = 0; r < 4; ++r) {  // c0,c1 (g, 2t..) c2,c3 (g+8, 2t..)
          const int64_t m = m0 + wm + i * 16 + g + (r / 2) * 8, n = n0 + wn + j * 8 + 2 * t + r % 2;
          if (m >= M || n >= N) continue;
          float* c = Cb + m * ldc + n;
          const float prev = beta == 0.f ? 0.f : beta * *c;  // beta == 0: C is never read (it may hold NaN)
          *c = alpha * acc[i][j][r] + prev;
        }
  }
}

bool aligned4(const float* p, int64_t ld, int64_t stride) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && stride % 4 == 0;
}

template <bool TA, bool TB, bool BF16>
void run(const GemmArgs& g, cudaStream_t s) {
  const int64_t tiles = g.batch * ((g.M + kBM - 1) / kBM) * ((g.N + kBN - 1) / kBN);
  const unsigned grid = unsigned(tiles < kMaxBlocks ? tiles : kMaxBlocks);
  launch(BF16 ? "sgemm__cuda_mma_bf16" : "sgemm__cuda_mma_tf32", sgemm_mma_kernel<TA, TB, BF16>, dim3(grid),
         dim3(kThreads), 0, s, g.batch, g.M, g.N, g.K, g.alpha, g.A, g.lda, g.sa, aligned4(g.A, g.lda, g.sa), g.B,
         g.ldb, g.sb, aligned4(g.B, g.ldb, g.sb), g.beta, g.C, g.ldc, g.sc);
}

template <bool BF16>
void run_precision(const GemmArgs& g, cudaStream_t s) {
  if (g.ta) g.tb ? run<true, true, BF16>(g, s) : run<true, false, BF16>(g, s);
  else g.tb ? run<false, true, BF16>(g, s) : run<false, false, BF16>(g, s);
}

}  // namespace

void launch_gemm_mma(const GemmArgs& g, bool bf16, cudaStream_t stream) {
  if (bf16) run_precision<true>(g, stream);
  else run_precision<false>(g, stream);
}

}  // namespace fastconv::cuda
