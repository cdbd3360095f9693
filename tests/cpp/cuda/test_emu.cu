// The CUDA execution model as our kernels rely on it: barriers, shared memory, warp collectives, atomics across
// concurrently running blocks, dynamic shared memory, launch checks, graph capture. Every expected value is
// computed on the host in plain C++. The tests of planted bugs (divergence, bad masks) run only on the emulator:
// on a GPU those kernels are undefined behaviour, not a reported error.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fastconv/error.h"
#include "launch.cuh"

namespace {

using fastconv::cuda::launch;

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) { fastconv::cuda::check(cudaMalloc(&p, n * sizeof(T)), "cudaMalloc"); }
  explicit DeviceBuffer(const std::vector<T>& h) : DeviceBuffer(h.size()) { upload(h); }
  ~DeviceBuffer() { cudaFree(p); }
  void upload(const std::vector<T>& h) {
    fastconv::cuda::check(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    fastconv::cuda::check(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
};

std::string launch_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const fastconv::Error& e) {
    return e.what();
  }
  return "";
}

// A 32x32 tile transpose through shared memory: wrong without the barrier.
__global__ void transpose_kernel(const float* in, float* out, int rows, int cols) {
  __shared__ float tile[32][33];
  const int x = blockIdx.x * 32 + threadIdx.x, y = blockIdx.y * 32 + threadIdx.y;
  if (x < cols && y < rows) tile[threadIdx.y][threadIdx.x] = in[y * cols + x];
  __syncthreads();
  const int tx = blockIdx.y * 32 + threadIdx.x, ty = blockIdx.x * 32 + threadIdx.y;
  if (tx < rows && ty < cols) out[ty * rows + tx] = tile[threadIdx.x][threadIdx.y];
}

TEST(CudaEmu, SharedMemoryTransposeWithBarrier) {
  const int rows = 45, cols = 70;
  std::vector<float> h(rows * cols);
  std::iota(h.begin(), h.end(), 0.f);
  DeviceBuffer<float> in(h), out(h.size());
  launch("transpose_kernel", transpose_kernel, dim3((cols + 31) / 32, (rows + 31) / 32), dim3(32, 32), 0, nullptr,
         in.p, out.p, rows, cols);
  const std::vector<float> got = out.download();
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) ASSERT_EQ(got[c * rows + r], h[r * cols + c]) << r << "," << c;
}

// Block sum: warp shuffles, then one value per warp through shared memory.
__global__ void block_sum_kernel(const int* in, int* out, int n) {
  __shared__ int partial[32];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  int v = i < n ? in[i] : 0;
  for (int off = 16; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x / 32) ? partial[lane] : 0;
    for (int off = 1; off < 32; off *= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

TEST(CudaEmu, WarpShuffleReductionsAreExact) {
  const int n = 1000, threads = 256, blocks = (n + threads - 1) / threads;
  std::vector<int> h(n);
  std::mt19937 rng(7);
  for (int& v : h) v = int(rng() % 2001) - 1000;
  DeviceBuffer<int> in(h), out(blocks);
  launch("block_sum_kernel", block_sum_kernel, dim3(blocks), dim3(threads), 0, nullptr, in.p, out.p, n);
  const std::vector<int> got = out.download();
  for (int b = 0; b < blocks; ++b) {
    int want = 0;
    for (int i = b * threads; i < std::min(n, (b + 1) * threads); ++i) want += h[i];
    EXPECT_EQ(got[b], want) << "block " << b;
  }
}

// Every shuffle flavour and width against its definition in the CUDA programming guide.
__global__ void shuffle_kernel(int* out, int width) {
  const int lane = threadIdx.x;
  const int v = lane * 10;
  out[lane * 5 + 0] = __shfl_sync(0xffffffffu, v, 3, width);
  out[lane * 5 + 1] = __shfl_up_sync(0xffffffffu, v, 2, width);
  out[lane * 5 + 2] = __shfl_down_sync(0xffffffffu, v, 5, width);
  out[lane * 5 + 3] = __shfl_xor_sync(0xffffffffu, v, 6, width);
  out[lane * 5 + 4] = int(__ballot_sync(0xffffffffu, lane % 3 == 0) & 0x7fffffff);
}

TEST(CudaEmu, ShuffleFlavoursFollowTheProgrammingGuide) {
  for (int width : {32, 16, 8}) {
    DeviceBuffer<int> out(32 * 5);
    launch("shuffle_kernel", shuffle_kernel, dim3(1), dim3(32), 0, nullptr, out.p, width);
    const std::vector<int> got = out.download();
    int ballot = 0;
    for (int l = 0; l < 31; ++l) ballot |= (l % 3 == 0) << l;
    for (int l = 0; l < 32; ++l) {
      const int seg = l / width * width;
      EXPECT_EQ(got[l * 5 + 0], (seg + 3 % width) * 10) << l;
      EXPECT_EQ(got[l * 5 + 1], (l - 2 >= seg ? l - 2 : l) * 10) << l;
      EXPECT_EQ(got[l * 5 + 2], (l + 5 < seg + width ? l + 5 : l) * 10) << l;
      EXPECT_EQ(got[l * 5 + 3], ((l ^ 6) < seg + width ? l ^ 6 : l) * 10) << l;
      EXPECT_EQ(got[l * 5 + 4], ballot) << l;
    }
  }
}

// Atomics from many blocks at once (the blocks run in parallel on the thread pool).
__global__ void histogram_kernel(const int* in, int n, int* bins, float* total) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    atomicAdd(&bins[in[i]], 1);
    atomicAdd(total, 0.5f);
  }
}

TEST(CudaEmu, AtomicsAreCorrectAcrossConcurrentBlocks) {
  const int n = 20000;
  std::vector<int> h(n);
  std::mt19937 rng(3);
  for (int& v : h) v = int(rng() % 7);
  std::vector<int> want(7, 0);
  for (int v : h) ++want[v];
  DeviceBuffer<int> in(h), bins(std::vector<int>(7, 0));
  DeviceBuffer<float> total(std::vector<float>{0.f});
  launch("histogram_kernel", histogram_kernel, dim3(64), dim3(128), 0, nullptr, in.p, n, bins.p, total.p);
  EXPECT_EQ(bins.download(), want);
  EXPECT_EQ(total.download()[0], 0.5f * n);  // sums of halves are exact in float up to 2^24
}

__global__ void dynamic_smem_kernel(const float* in, float* out, int n) {
  FC_DYNAMIC_SMEM(float, buf);
  for (int i = threadIdx.x; i < n; i += blockDim.x) buf[i] = in[i];
  __syncthreads();
  for (int i = threadIdx.x; i < n; i += blockDim.x) out[i] = buf[n - 1 - i];
}

TEST(CudaEmu, DynamicSharedMemoryAndItsLimit) {
  const int n = 5000;
  std::vector<float> h(n);
  std::iota(h.begin(), h.end(), 1.f);
  DeviceBuffer<float> in(h), out(n);
  launch("dynamic_smem_kernel", dynamic_smem_kernel, dim3(1), dim3(96), n * sizeof(float), nullptr, in.p, out.p, n);
  std::vector<float> rev(h.rbegin(), h.rend());
  EXPECT_EQ(out.download(), rev);

  // 64 KiB needs the opt-in attribute, as on a GPU.
  const int big = 16384;
  std::vector<float> hb(big, 2.f);
  DeviceBuffer<float> inb(hb), outb(big);
  const std::string err = launch_error([&] {
    launch("dynamic_smem_kernel", dynamic_smem_kernel, dim3(1), dim3(128), big * sizeof(float), nullptr, inb.p,
           outb.p, big);
  });
  EXPECT_NE(err.find("dynamic_smem_kernel"), std::string::npos) << err;
  fastconv::cuda::check(
      cudaFuncSetAttribute(dynamic_smem_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, big * 4), "attr");
  launch("dynamic_smem_kernel", dynamic_smem_kernel, dim3(1), dim3(128), big * sizeof(float), nullptr, inb.p,
         outb.p, big);
  EXPECT_EQ(outb.download(), hb);
}

__global__ void scale_kernel(float* x, int n, float s) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= s;
}

TEST(CudaEmu, LaunchConfigurationsAGpuRejects) {
  DeviceBuffer<float> x(4);
  for (dim3 block : {dim3(2048), dim3(32, 32, 2), dim3(1, 1, 65), dim3(0)}) {
    const std::string err =
        launch_error([&] { launch("scale_kernel", scale_kernel, dim3(1), block, 0, nullptr, x.p, 4, 2.f); });
    EXPECT_NE(err.find("scale_kernel"), std::string::npos) << err;
    EXPECT_NE(err.find("cudaErrorInvalidConfiguration"), std::string::npos) << err;
  }
  const std::string err = launch_error(
      [&] { launch("scale_kernel", scale_kernel, dim3(1, 70000), dim3(32), 0, nullptr, x.p, 4, 2.f); });
  EXPECT_NE(err.find("grid"), std::string::npos) << err;
}

TEST(CudaEmu, GraphCaptureReplaysTheRecordedWork) {
  const int n = 300;
  std::vector<float> h(n, 1.f);
  DeviceBuffer<float> x(h), y(n);
  cudaStream_t s;
  fastconv::cuda::check(cudaStreamCreate(&s), "stream");
  fastconv::cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
  launch("scale_kernel", scale_kernel, dim3(3), dim3(128), 0, s, x.p, n, 3.f);
  fastconv::cuda::check(cudaMemcpyAsync(y.p, x.p, n * 4, cudaMemcpyDeviceToDevice, s), "copy");
  cudaGraph_t g;
  fastconv::cuda::check(cudaStreamEndCapture(s, &g), "end");
  EXPECT_EQ(x.download(), h) << "capturing must not run the work";
  cudaGraphExec_t exec;
  fastconv::cuda::check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
  for (int r = 0; r < 2; ++r) fastconv::cuda::check(cudaGraphLaunch(exec, s), "graph launch");
  fastconv::cuda::check(cudaStreamSynchronize(s), "sync");
  EXPECT_EQ(y.download(), std::vector<float>(n, 9.f));

  // A synchronous allocation while capturing is refused and invalidates the capture, as on a GPU: this is how the
  // emulator catches step code that is not capture-safe.
  fastconv::cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 64), cudaErrorStreamCaptureUnsupported);
  cudaGetLastError();
  cudaGraph_t g2;
  EXPECT_EQ(cudaStreamEndCapture(s, &g2), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

TEST(CudaEmu, CopiesOutsideDeviceAllocationsAreRefused) {
  DeviceBuffer<float> x(8);
  std::vector<float> h(16);
  EXPECT_EQ(cudaMemcpy(x.p, h.data(), 16 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  cudaGetLastError();
  EXPECT_EQ(cudaMemcpy(h.data(), h.data() + 8, 8 * sizeof(float), cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  cudaGetLastError();
}

#ifdef FASTCONV_CUDA_EMU
// Planted bugs: a GPU hangs or computes garbage; the emulator names the kernel, the block and the barrier.
__global__ void early_exit_before_barrier_kernel(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;  // the bug: threads past n leave, the rest wait for them
  __syncthreads();
  x[i] = 1.f;
}

__global__ void two_barriers_kernel(float* x) {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
  x[threadIdx.x] = 1.f;
}

__global__ void bad_mask_kernel(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0xffffffffu, int(threadIdx.x), 0);
}

__global__ void shuffle_outside_mask_kernel(int* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, int(threadIdx.x), 20);
}

TEST(CudaEmu, PlantedBarrierDivergenceIsReported) {
  DeviceBuffer<float> x(64);
  std::string err = launch_error([&] {
    launch("early_exit_before_barrier_kernel", early_exit_before_barrier_kernel, dim3(2), dim3(64), 0, nullptr, x.p,
           100);
  });
  EXPECT_NE(err.find("early_exit_before_barrier_kernel"), std::string::npos) << err;
  EXPECT_NE(err.find("barrier divergence"), std::string::npos) << err;
  EXPECT_NE(err.find("block (1,0,0)"), std::string::npos) << err;  // block 0 is full and correct
  EXPECT_NE(err.find("test_emu.cu"), std::string::npos) << err;

  err = launch_error([&] { launch("two_barriers_kernel", two_barriers_kernel, dim3(1), dim3(64), 0, nullptr, x.p); });
  EXPECT_NE(err.find("barrier divergence"), std::string::npos) << err;
  EXPECT_NE(err.find("another one"), std::string::npos) << err;
}

TEST(CudaEmu, PlantedWarpMaskBugsAreReported) {
  DeviceBuffer<int> out(32);
  std::string err = launch_error([&] { launch("bad_mask_kernel", bad_mask_kernel, dim3(1), dim3(32), 0, nullptr, out.p); });
  EXPECT_NE(err.find("bad_mask_kernel"), std::string::npos) << err;
  EXPECT_NE(err.find("exited"), std::string::npos) << err;
  err = launch_error([&] {
    launch("shuffle_outside_mask_kernel", shuffle_outside_mask_kernel, dim3(1), dim3(32), 0, nullptr, out.p);
  });
  EXPECT_NE(err.find("not in the mask"), std::string::npos) << err;
  // The emulator is usable after a failed launch.
  DeviceBuffer<int> out5(32 * 5);
  launch("shuffle_kernel", shuffle_kernel, dim3(1), dim3(32), 0, nullptr, out5.p, 32);
  EXPECT_EQ(out5.download()[4 * 5], 3 * 10);
}

__global__ void write_past_end_kernel(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) x[i] = 1.f;  // the bug: <= writes one element past the allocation
}

// Device memory is host memory with exact bounds, so AddressSanitizer is the emulator's memcheck: the CI step that
// builds the EMU tests with ASan runs this; without ASan the write goes unnoticed, and the test says so.
TEST(CudaEmu, PlantedOutOfBoundsWriteIsCaughtUnderAsan) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceBuffer<float> x(100);
        launch("write_past_end_kernel", write_past_end_kernel, dim3(1), dim3(128), 0, nullptr, x.p, 100);
      },
      "heap-buffer-overflow");
#else
  GTEST_SKIP() << "needs the AddressSanitizer build (.ci/run's sanitizer step runs it)";
#endif
}
#endif

}  // namespace
