// Dropout kernels: one thread an element (grid-stride), each hashing its own entry, so dropout2d's wide entries
// parallelise too; the first element of an entry writes the mask byte. The hash is ref::mix64 / ref::dropout_keep
// and DropoutParams::stream, copied operation for operation (the reference's are host-only inline functions);
// test_dropout.cu checks the masks bit for bit against the reference.
#include "dropout.cuh"

#include "launch.cuh"

namespace fastconv::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kMaxBlocks = 4096;

__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ uint64_t stream_of(uint64_t seed, uint64_t step) {
  return mix64(seed ^ mix64(step + 0x9E3779B97F4A7C15ull));
}

__device__ __forceinline__ bool keep(uint64_t stream, uint64_t threshold, int64_t e) {
  return (mix64(stream + uint64_t(e) * 0x9E3779B97F4A7C15ull) >> 32) >= threshold;
}

__global__ void dropout_fwd_kernel(const float* x, float* y, uint8_t* mask, int64_t n, int64_t inner, uint64_t seed,
                                   uint64_t step, const uint64_t* d_step, uint64_t threshold, float scale) {
  const uint64_t s = stream_of(seed, d_step ? *d_step : step);
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const int64_t e = inner == 1 ? i : i / inner;
    const bool k = keep(s, threshold, e);
    if (inner == 1 || i == e * inner) mask[e] = k ? 1 : 0;
    y[i] = x[i] * (k ? scale : 0.f);  // a multiply, as the reference: a dropped NaN/inf stays NaN
  }
}

__global__ void dropout_bwd_kernel(const float* g, const uint8_t* mask, float* dx, int64_t n, int64_t inner,
                                   float scale) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = g[i] * (mask[inner == 1 ? i : i / inner] ? scale : 0.f);
}

dim3 grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return dim3(unsigned(blocks < kMaxBlocks ? blocks : kMaxBlocks));
}

}  // namespace

void dropout_forward__cuda(const ref::DropoutParams& p, const float* x, float* y, uint8_t* mask, cudaStream_t stream,
                           const uint64_t* d_step) {
  const int64_t n = p.entries * p.inner;
  if (n <= 0) return;
  launch("dropout_forward__cuda", dropout_fwd_kernel, grid_for(n), dim3(kThreads), 0, stream, x, y, mask, n, p.inner,
         p.seed, p.step, d_step, p.threshold(), p.scale());
}

void dropout_backward__cuda(const ref::DropoutParams& p, const float* grad, const uint8_t* mask, float* dx,
                            cudaStream_t stream) {
  const int64_t n = p.entries * p.inner;
  if (n <= 0) return;
  launch("dropout_backward__cuda", dropout_bwd_kernel, grid_for(n), dim3(kThreads), 0, stream, grad, mask, dx, n,
         p.inner, p.scale());
}

}  // namespace fastconv::cuda
