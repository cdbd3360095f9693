// CUDA runtime glue: device queries, allocation, copies. Errors become fastconv::Error with the CUDA message.
#include <cuda_runtime.h>

#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "fastconv/cuda.h"
#include "fastconv/error.h"
#include "launch.cuh"

namespace fastconv::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    fail(ErrorKind::Runtime, "CUDA error in ", what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

void launch_failed(const char* kernel, cudaError_t e, const char* detail) {
  fail(ErrorKind::Runtime, "CUDA kernel '", kernel, "' failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e),
       ")", detail && *detail ? ": " : "", detail ? detail : "");
}

namespace {
void require_available() {
  FC_CHECK(is_available(), Runtime,
           "no usable CUDA device: no NVIDIA driver is loaded or no GPU is visible (fastconv.cuda.is_available() is "
           "False); use device='cpu'");
}
cudaStream_t as_stream(Stream s) { return static_cast<cudaStream_t>(s); }
cudaMemcpyKind as_kind(Copy kind) {
  return kind == Copy::HostToDevice   ? cudaMemcpyHostToDevice
         : kind == Copy::DeviceToHost ? cudaMemcpyDeviceToHost
                                      : cudaMemcpyDeviceToDevice;
}
}  // namespace

bool compiled() { return true; }

bool emulated() {
#ifdef FASTCONV_CUDA_EMU
  return true;
#else
  return false;
#endif
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later calls are not poisoned
    return 0;
  }
  return n;
}

bool is_available() { return device_count() > 0; }

std::string device_name(int index) {
  require_available();
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
  return p.name;
}

namespace {

// The caching device allocator. cudaFree synchronises the whole device and cudaMalloc costs tens of microseconds,
// and a compiled model's calls allocate their output buffers every call, so freed blocks are kept and handed out
// again for a request of the same device and exactly the same size. Exact sizes also keep the emulator's memcheck
// exact: a block is never larger than what its user asked for, so AddressSanitizer still stops an access one
// element past it. Reuse is safe because the engine synchronises the work that used a buffer before releasing it
// (an executor call ends with its stream synchronised; copies to and from tensors are synchronous).
struct DeviceCache {
  std::mutex mu;
  std::unordered_map<void*, std::pair<int, size_t>> live;  // block -> (device, bytes)
  std::multimap<std::pair<int, size_t>, void*> idle;       // (device, bytes) -> block
  size_t idle_bytes = 0;
};
DeviceCache& cache() {
  static DeviceCache* c = new DeviceCache();  // never destroyed: tensors may be freed after static teardown
  return *c;
}

size_t release_idle(DeviceCache& c) {  // c.mu held
  size_t freed = 0;
  for (auto& [key, p] : c.idle) {
    cudaFree(p);
    freed += key.second;
  }
  c.idle.clear();
  c.idle_bytes = 0;
  return freed;
}

}  // namespace

void* malloc(size_t nbytes, int device) {
  require_available();
  const size_t n = nbytes ? nbytes : 1;
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  void* p = nullptr;
  auto it = c.idle.find({device, n});
  if (it != c.idle.end()) {
    p = it->second;
    c.idle.erase(it);
    c.idle_bytes -= n;
  } else {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaError_t e = cudaMalloc(&p, n);
    if (e == cudaErrorMemoryAllocation && !c.idle.empty()) {  // the cache may hold what the device lacks
      cudaGetLastError();
      release_idle(c);
      e = cudaMalloc(&p, n);
    }
    if (e != cudaSuccess) cudaGetLastError();
    FC_CHECK(e != cudaErrorMemoryAllocation, Runtime, "CUDA out of memory: could not allocate ", n,
             " bytes on cuda:", device);
    check(e, "cudaMalloc");
  }
  c.live[p] = {device, n};
  return p;
}

void free(void* p) {
  if (!p) return;
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.live.find(p);
  if (it == c.live.end()) {  // not ours: hand it back as it came
    cudaFree(p);
    return;
  }
  c.idle.emplace(it->second, p);
  c.idle_bytes += it->second.second;
  c.live.erase(it);
}

size_t empty_cache() {
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return release_idle(c);
}

size_t cached_bytes() {
  DeviceCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.idle_bytes;
}

void memcpy(void* dst, const void* src, size_t nbytes, Copy kind) {
  check(cudaMemcpy(dst, src, nbytes, as_kind(kind)), "cudaMemcpy");
}

void memset_zero(void* p, size_t nbytes) { check(cudaMemset(p, 0, nbytes), "cudaMemset"); }

Stream stream_create() {
  require_available();
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  return s;
}

void stream_destroy(Stream s) {
  if (s) cudaStreamDestroy(as_stream(s));
}

void stream_synchronize(Stream s) { check(cudaStreamSynchronize(as_stream(s)), "cudaStreamSynchronize"); }

void memcpy_async(void* dst, const void* src, size_t nbytes, Copy kind, Stream s) {
  if (nbytes) check(cudaMemcpyAsync(dst, src, nbytes, as_kind(kind), as_stream(s)), "cudaMemcpyAsync");
}

void capture_begin(Stream s) {
  check(cudaStreamBeginCapture(as_stream(s), cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
}

GraphExec capture_end(Stream s) {
  cudaGraph_t g = nullptr;
  check(cudaStreamEndCapture(as_stream(s), &g), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
  cudaGraphDestroy(g);
  check(e, "cudaGraphInstantiate");
  return exec;
}

void graph_launch(GraphExec g, Stream s) {
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(g), as_stream(s)), "cudaGraphLaunch");
}

void graph_destroy(GraphExec g) {
  if (g) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(g));
}

}  // namespace fastconv::cuda
