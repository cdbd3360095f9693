// Byte movers. A row kernel (rows of a source placed at an offset inside the rows of a destination, zeros around:
// cat's, slice's and slice_backward's [outer, n, inner] views) and a permute kernel (the output walked in order, the
// input through per-axis strides: permute, channel_shuffle, pixel_(un)shuffle) serve every op; a permute whose
// innermost output axis walks the input with a stride takes a shared-memory tiled transpose instead, so that its
// reads are coalesced too. All move units of U, the widest of 16/8/4/2/1 bytes that every address, row size, offset
// and stride is a multiple of, so a float tensor with a contiguous inner run moves 16 bytes a thread.
#include "shape_ops.cuh"

#include <cstdint>

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxBlocks = 4096;
constexpr int kMaxAxes = 9;  // 8 tensor axes and the bytes of an element
constexpr unsigned kTile = 32, kTileRows = 8;

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < int64_t(kMaxBlocks) ? blocks : int64_t(kMaxBlocks)));
}

// The widest unit (bytes) dividing every quantity OR-ed into `bits`.
int64_t unit_for(uint64_t bits) {
  int64_t w = 16;
  while (w > 1 && (bits & uint64_t(w - 1))) w /= 2;
  return w;
}

uint64_t addr(const void* p) { return uint64_t(reinterpret_cast<uintptr_t>(p)); }

// dst[r * dst_stride + c], c < dst_row, = src[r * src_stride + c - off] where 0 <= c - off < src_row, else 0.
template <class U>
__global__ void rows_kernel(const U* src, int64_t src_stride, int64_t src_row, U* dst, int64_t dst_stride,
                            int64_t dst_row, int64_t off, int64_t rows) {
  const int64_t n = rows * dst_row, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t r = i / dst_row, c = i - r * dst_row, k = c - off;
    U v{};
    if (k >= 0 && k < src_row) v = src[r * src_stride + k];
    dst[r * dst_stride + c] = v;
  }
}

// Everything in bytes; the launcher picks the unit.
void rows_copy(const void* src, int64_t src_stride, int64_t src_row, void* dst, int64_t dst_stride, int64_t dst_row,
               int64_t off, int64_t rows, cudaStream_t s) {
  if (rows <= 0 || dst_row <= 0) return;
  const int64_t w = unit_for(addr(src) | addr(dst) | uint64_t(src_stride) | uint64_t(src_row) | uint64_t(dst_stride) |
                             uint64_t(dst_row) | uint64_t(off));
  const int64_t n = rows * (dst_row / w);
  const dim3 g = grid_for(n), b(kThreads);
#define FC_ROWS(U)                                                                                               \
  launch("rows_copy__cuda", rows_kernel<U>, g, b, 0, s, static_cast<const U*>(src), src_stride / w, src_row / w, \
         static_cast<U*>(dst), dst_stride / w, dst_row / w, off / w, rows)
  switch (w) {
    case 16: FC_ROWS(uint4); break;
    case 8: FC_ROWS(uint2); break;
    case 4: FC_ROWS(unsigned); break;
    case 2: FC_ROWS(unsigned short); break;
    default: FC_ROWS(unsigned char); break;
  }
#undef FC_ROWS
}

// Output axes (row-major, contiguous) with the input stride of each, in units.
struct PermutePlan {
  int rank = 0;
  int64_t size[kMaxAxes] = {}, stride[kMaxAxes] = {};
};

template <class U>
__global__ void permute_kernel(PermutePlan p, const U* x, U* y, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    int64_t rem = i, off = 0;
    for (int d = p.rank - 1; d > 0; --d) {
      const int64_t q = rem / p.size[d];
      off += (rem - q * p.size[d]) * p.stride[d];
      rem = q;
    }
    y[i] = x[off + rem * p.stride[0]];
  }
}

// A transpose through shared memory: output axis k is the input's contiguous one, the last output axis j (contiguous
// in the output) walks the input with a stride. A block moves a kTile x kTile tile of (k, j) at a time, reading
// along k and writing along j, so both sides are coalesced. Grid-stride over the tiles (uniform per block).
struct TilePlan {
  PermutePlan p;
  int k = -1;
  int64_t ostride[kMaxAxes] = {};
  int64_t tiles_k = 0, tiles_j = 0, tiles = 0;
};

template <class U>
__global__ void permute_tiled_kernel(TilePlan t, const U* x, U* y) {
  __shared__ U tile[kTile][kTile + 1];  // +1: the column reads hit distinct banks
  const int j = t.p.rank - 1, k = t.k;
  const int64_t nk = t.p.size[k], nj = t.p.size[j], sj = t.p.stride[j], ok = t.ostride[k];
  for (int64_t w = blockIdx.x; w < t.tiles; w += gridDim.x) {
    int64_t rem = w / t.tiles_j;
    const int64_t j0 = (w - rem * t.tiles_j) * kTile;
    const int64_t tk = rem % t.tiles_k;
    rem /= t.tiles_k;
    const int64_t k0 = tk * kTile;
    int64_t in_off = 0, out_off = 0;  // the other axes, row-major
    for (int d = j - 1; d >= 0; --d) {
      if (d == k) continue;
      const int64_t q = rem / t.p.size[d], i = rem - q * t.p.size[d];
      in_off += i * t.p.stride[d];
      out_off += i * t.ostride[d];
      rem = q;
    }
    for (unsigned r = threadIdx.y; r < kTile; r += blockDim.y) {
      const int64_t jj = j0 + r, kk = k0 + threadIdx.x;
      if (jj < nj && kk < nk) tile[r][threadIdx.x] = x[in_off + kk + jj * sj];
    }
    __syncthreads();
    for (unsigned r = threadIdx.y; r < kTile; r += blockDim.y) {
      const int64_t kk = k0 + r, jj = j0 + threadIdx.x;
      if (jj < nj && kk < nk) y[out_off + kk * ok + jj] = tile[threadIdx.x][r];
    }
    __syncthreads();  // the tile is reused by the next one
  }
}

// y (contiguous over the output axes size[0..rank)) = x read through in_stride (elements of esize bytes).
void permute_axes(int rank, const int64_t* size, const int64_t* in_stride, int64_t esize, const void* x, void* y,
                  cudaStream_t s) {
  for (int i = 0; i < rank; ++i)
    if (size[i] == 0) return;
  // Axes in bytes, size-1 axes dropped, an axis merged into the previous one where it continues it, and the bytes of
  // an element as a last axis of stride 1 (so a contiguous inner run becomes one long byte axis).
  PermutePlan p;
  auto add = [&p](int64_t n, int64_t st) {
    if (n == 1) return;
    if (p.rank > 0 && p.stride[p.rank - 1] == st * n) {
      p.size[p.rank - 1] *= n;
      p.stride[p.rank - 1] = st;
      return;
    }
    p.size[p.rank] = n, p.stride[p.rank] = st, ++p.rank;
  };
  for (int i = 0; i < rank; ++i) add(size[i], in_stride[i] * esize);
  add(esize, 1);
  if (p.rank == 0) p.size[0] = 1, p.stride[0] = 1, p.rank = 1;  // one element of one byte
  // The last axis has stride 1 (the bytes of an element come last); the unit must divide its size, every other
  // stride and the addresses.
  uint64_t bits = addr(x) | addr(y) | uint64_t(p.size[p.rank - 1]);
  for (int i = 0; i < p.rank - 1; ++i) bits |= uint64_t(p.stride[i]);
  const int64_t w = unit_for(bits);
  p.size[p.rank - 1] /= w;
  for (int i = 0; i < p.rank - 1; ++i) p.stride[i] /= w;
  TilePlan t;  // in units now; the axes that became one unit wide dropped
  for (int i = 0; i < p.rank; ++i)
    if (p.size[i] != 1) t.p.size[t.p.rank] = p.size[i], t.p.stride[t.p.rank] = p.stride[i], ++t.p.rank;
  if (t.p.rank == 0) t.p.size[0] = 1, t.p.stride[0] = 1, t.p.rank = 1;
  const int last = t.p.rank - 1;
  int64_t n = 1;
  for (int i = last; i >= 0; --i) t.ostride[i] = n, n *= t.p.size[i];
  // The innermost output axis walks the input with a stride while another one walks it contiguously: a tile.
  if (t.p.stride[last] != 1)
    for (int i = 0; i < last; ++i)
      if (t.p.stride[i] == 1) t.k = i;
  if (t.k >= 0) {
    t.tiles_k = (t.p.size[t.k] + kTile - 1) / kTile;
    t.tiles_j = (t.p.size[last] + kTile - 1) / kTile;
    t.tiles = n / (t.p.size[t.k] * t.p.size[last]) * t.tiles_k * t.tiles_j;
    const dim3 g(unsigned(t.tiles < int64_t(kMaxBlocks) ? t.tiles : int64_t(kMaxBlocks))), b(kTile, kTileRows);
#define FC_PERMUTE(U) \
  launch("permute_tiled__cuda", permute_tiled_kernel<U>, g, b, 0, s, t, static_cast<const U*>(x), static_cast<U*>(y))
    switch (w) {
      case 16: FC_PERMUTE(uint4); break;
      case 8: FC_PERMUTE(uint2); break;
      case 4: FC_PERMUTE(unsigned); break;
      case 2: FC_PERMUTE(unsigned short); break;
      default: FC_PERMUTE(unsigned char); break;
    }
#undef FC_PERMUTE
    return;
  }
  const dim3 g = grid_for(n), b(kThreads);
#define FC_PERMUTE(U) \
  launch("permute__cuda", permute_kernel<U>, g, b, 0, s, t.p, static_cast<const U*>(x), static_cast<U*>(y), n)
  switch (w) {
    case 16: FC_PERMUTE(uint4); break;
    case 8: FC_PERMUTE(uint2); break;
    case 4: FC_PERMUTE(unsigned); break;
    case 2: FC_PERMUTE(unsigned short); break;
    default: FC_PERMUTE(unsigned char); break;
  }
#undef FC_PERMUTE
}

}  // namespace

void cat__cuda(int64_t outer, int64_t inner_bytes, int count, const void* const* xs, const int64_t* sizes, void* y,
               cudaStream_t stream) {
  int64_t total = 0;
  for (int i = 0; i < count; ++i) total += sizes[i];
  const int64_t out_row = total * inner_bytes;
  int64_t at = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t row = sizes[i] * inner_bytes;
    if (row > 0) rows_copy(xs[i], row, row, static_cast<char*>(y) + at, out_row, row, 0, outer, stream);
    at += row;
  }
}

void slice__cuda(const SliceParams& p, const void* x, void* y, cudaStream_t stream) {
  const int64_t row = p.length * p.inner_bytes;
  rows_copy(static_cast<const char*>(x) + p.start * p.inner_bytes, p.n * p.inner_bytes, row, y, row, row, 0, p.outer,
            stream);
}

void slice_backward__cuda(const SliceParams& p, const void* g, void* gx, cudaStream_t stream) {
  const int64_t row = p.length * p.inner_bytes, out_row = p.n * p.inner_bytes;
  rows_copy(g, row, row, gx, out_row, out_row, p.start * p.inner_bytes, p.outer, stream);
}

void permute__cuda(int rank, const int64_t* shape, const int64_t* dims, size_t esize, const void* x, void* y,
                   cudaStream_t stream) {
  int64_t cs[kMaxAxes] = {}, size[kMaxAxes] = {}, st[kMaxAxes] = {};
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; --i) cs[i] = s, s *= shape[i];
  for (int i = 0; i < rank; ++i) size[i] = shape[dims[i]], st[i] = cs[dims[i]];
  permute_axes(rank, size, st, int64_t(esize), x, y, stream);
}

void channel_shuffle__cuda(const ref::ChannelShuffleParams& p, const float* x, float* y, cudaStream_t stream) {
  // [outer, g, k, inner] -> [outer, k, g, inner]
  const int64_t g = p.groups, k = p.per_group, in = p.inner;
  const int64_t size[4] = {p.outer, k, g, in}, st[4] = {g * k * in, in, k * in, 1};
  permute_axes(4, size, st, sizeof(float), x, y, stream);
}

void pixel_shuffle__cuda(const ref::PixelShuffleParams& p, const float* x, float* y, bool inverse,
                         cudaStream_t stream) {
  const int64_t r = p.r, C = p.C, H = p.H, W = p.W;
  if (!inverse) {  // x [outer, C, r(i), r(j), H, W] -> y [outer, C, H, r(i), W, r(j)]
    const int64_t size[6] = {p.outer, C, H, r, W, r}, st[6] = {C * r * r * H * W, r * r * H * W, W, r * H * W, 1, H * W};
    permute_axes(6, size, st, sizeof(float), x, y, stream);
  } else {  // x [outer, C, H, r(i), W, r(j)] -> y [outer, C, r(i), r(j), H, W]
    const int64_t size[6] = {p.outer, C, r, r, H, W}, st[6] = {C * H * r * W * r, H * r * W * r, W * r, 1, r * W * r, r};
    permute_axes(6, size, st, sizeof(float), x, y, stream);
  }
}

}  // namespace fastconv::cuda
