// The CUDA runtime API as the emulator provides it: device memory is host memory (exact-size allocations, so
// AddressSanitizer sees a kernel's out-of-bounds access), streams run their work in order as it is issued, a
// capturing stream records launches and copies into a graph that a graph launch replays, and launches are checked
// against what a GPU (sm_90) accepts before any thread runs. Errors are kept per host thread, like CUDA's.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_runtime.h"
#include "emu_internal.h"
#include "fastconv/parallel.h"

struct CUstream_st {
  bool capturing = false, invalidated = false;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::vector<std::function<cudaError_t()>> captured;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
};
struct CUgraph_st {
  std::vector<std::function<cudaError_t()>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::function<cudaError_t()>> nodes;
};

namespace {

constexpr size_t kTotalMemory = size_t(16) << 30;  // what the emulated device reports
constexpr size_t kSmemDefault = 48 << 10, kSmemOptin = 232448;  // sm_90: 48 KiB, 227 KiB with the attribute

thread_local cudaError_t t_error = cudaSuccess;
thread_local std::string t_detail;

std::mutex g_mu;
std::map<uintptr_t, size_t> g_allocs;  // device allocations: start -> bytes
size_t g_used = 0;
std::unordered_map<const void*, int> g_smem_limit;  // cudaFuncAttributeMaxDynamicSharedMemorySize per kernel
int g_global_captures = 0;  // streams capturing in global mode: synchronous calls are then refused

cudaError_t fail(cudaError_t e, std::string detail) {
  t_error = e;
  t_detail = std::move(detail);
  return e;
}

// A synchronous call (or one on the legacy stream) while a stream captures in global mode: refused, as CUDA does,
// and the capture is invalidated. This is how the emulator catches step code that is not capture-safe.
std::vector<CUstream_st*> g_capturing;

cudaError_t capture_guard(const char* what) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_global_captures == 0) return cudaSuccess;
  for (CUstream_st* s : g_capturing) s->invalidated = true;
  return fail(cudaErrorStreamCaptureUnsupported,
              std::string(what) + " is not permitted while a stream is being captured (cudaStreamCaptureModeGlobal)");
}

bool in_device_memory(const void* p, size_t n) {
  std::lock_guard<std::mutex> lock(g_mu);
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = g_allocs.upper_bound(a);
  if (it == g_allocs.begin()) return false;
  --it;
  return a >= it->first && a + n <= it->first + it->second;
}

cudaError_t check_copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection, "cudaMemcpy: kind " + std::to_string(int(kind)));
  if (n == 0) return cudaSuccess;
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_dev && !in_device_memory(dst, n))
    return fail(cudaErrorInvalidValue, "cudaMemcpy: the destination range of " + std::to_string(n) +
                                           " bytes is not inside one device allocation");
  if (src_dev && !in_device_memory(src, n))
    return fail(cudaErrorInvalidValue,
                "cudaMemcpy: the source range of " + std::to_string(n) + " bytes is not inside one device allocation");
  return cudaSuccess;
}

std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

cudaError_t check_config(const char* name, const void* fn, dim3 g, dim3 b, size_t smem) {
  const std::string k = std::string("kernel '") + name + "': ";
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z)
    return fail(cudaErrorInvalidConfiguration, k + "grid " + dims(g) + " block " + dims(b) + " has a zero dimension");
  if (uint64_t(b.x) * b.y * b.z > 1024 || b.x > 1024 || b.y > 1024 || b.z > 64)
    return fail(cudaErrorInvalidConfiguration, k + "block " + dims(b) +
                                                   " exceeds what a GPU allows (1024 threads, 1024 x 1024 x 64)");
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    return fail(cudaErrorInvalidConfiguration, k + "grid " + dims(g) + " exceeds (2^31-1, 65535, 65535)");
  size_t limit = kSmemDefault;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_smem_limit.find(fn);
    if (it != g_smem_limit.end()) limit = size_t(it->second);
  }
  if (smem > limit)
    return fail(cudaErrorInvalidValue,
                k + std::to_string(smem) + " bytes of dynamic shared memory exceed the kernel's limit of " +
                    std::to_string(limit) +
                    (limit == kSmemDefault ? " (raise it with cudaFuncSetAttribute(..., "
                                             "cudaFuncAttributeMaxDynamicSharedMemorySize, n), up to 232448)"
                                           : ""));
  return cudaSuccess;
}

cudaError_t run_launch(const fc_emu::LaunchInfo& L) {
  const int64_t nblocks = int64_t(L.grid.x) * L.grid.y * L.grid.z;
  std::mutex mu;
  int64_t first_bad = -1;
  std::string first_error;
  std::atomic<bool> failed{false};
  fastconv::parallel_for(nblocks, 1, [&](int64_t b0, int64_t b1) {
    // Exactly the launch's dynamic shared memory, so ASan reports an access past its end.
    unsigned char* smem = static_cast<unsigned char*>(std::aligned_alloc(128, (L.smem + 127) / 128 * 128 + 128));
    for (int64_t i = b0; i < b1 && !failed.load(std::memory_order_relaxed); ++i) {
      const uint3 idx{unsigned(i % L.grid.x), unsigned(i / L.grid.x % L.grid.y),
                      unsigned(i / (int64_t(L.grid.x) * L.grid.y))};
      std::string err = fc_emu::run_block(L, idx, L.smem ? smem : nullptr);
      if (!err.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_bad < 0 || i < first_bad) first_bad = i, first_error = std::move(err);
        failed = true;
      }
    }
    std::free(smem);
  });
  if (first_bad >= 0)
    return fail(cudaErrorLaunchFailure, std::string("kernel '") + L.name + "' " + dims(L.grid) + " x " +
                                            dims(L.block) + ": " + first_error);
  return cudaSuccess;
}

CUstream_st* capturing(cudaStream_t s) { return s && s->capturing ? s : nullptr; }

}  // namespace

namespace fc_emu {

const char* last_error_detail() { return t_detail.c_str(); }

cudaError_t launch_closure(const char* name, const void* fn, dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                           Thunk thunk, std::shared_ptr<const void> closure) {
  if (cudaError_t e = check_config(name, fn, grid, block, smem)) return e;
  if (CUstream_st* cs = capturing(s)) {
    cs->captured.push_back([=]() {
      return run_launch(LaunchInfo{name, grid, block, smem, thunk, closure.get()});
    });
    return cudaSuccess;
  }
  if (!s)
    if (cudaError_t e = capture_guard("a launch on the legacy default stream")) return e;
  return run_launch(LaunchInfo{name, grid, block, smem, thunk, closure.get()});
}

}  // namespace fc_emu

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnmatched: return "cudaErrorStreamCaptureUnmatched";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    default: return cudaGetErrorName(e);
  }
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = t_error;
  t_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return t_error; }

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice, "device " + std::to_string(device));
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "fastconv CUDA emulator (CPU)");
  p->totalGlobalMem = kTotalMemory;
  p->sharedMemPerBlock = kSmemDefault;
  p->sharedMemPerBlockOptin = kSmemOptin;
  p->sharedMemPerMultiprocessor = 233472;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->multiProcessorCount = fastconv::get_num_threads();
  p->maxThreadsPerMultiProcessor = 2048;
  p->major = 9, p->minor = 0;
  p->l2CacheSize = 50 << 20;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice, "device " + std::to_string(device));
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return capture_guard("cudaDeviceSynchronize"); }

cudaError_t cudaMalloc(void** p, size_t nbytes) {
  *p = nullptr;
  if (cudaError_t e = capture_guard("cudaMalloc")) return e;
  if (nbytes == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_used + nbytes > kTotalMemory)
    return fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(nbytes) + " bytes: the emulated " +
                                               "device has " + std::to_string(kTotalMemory - g_used) + " left");
  void* q = nullptr;
  if (posix_memalign(&q, 256, nbytes) != 0)
    return fail(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(nbytes) + " bytes");
  g_allocs[reinterpret_cast<uintptr_t>(q)] = nbytes;
  g_used += nbytes;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  if (cudaError_t e = capture_guard("cudaFree")) return e;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_allocs.end()) return fail(cudaErrorInvalidValue, "cudaFree of a pointer cudaMalloc did not return");
  g_used -= it->second;
  g_allocs.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t nbytes) {
  *p = std::malloc(nbytes ? nbytes : 1);
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaMallocHost");
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard<std::mutex> lock(g_mu);
  *free_bytes = kTotalMemory - g_used;
  *total_bytes = kTotalMemory;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind) {
  if (cudaError_t e = capture_guard("cudaMemcpy")) return e;
  if (cudaError_t e = check_copy(dst, src, nbytes, kind)) return e;
  if (nbytes) std::memmove(dst, src, nbytes);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind, cudaStream_t s) {
  if (cudaError_t e = check_copy(dst, src, nbytes, kind)) return e;
  if (CUstream_st* cs = capturing(s)) {
    cs->captured.push_back([=]() {
      if (nbytes) std::memmove(dst, src, nbytes);
      return cudaSuccess;
    });
    return cudaSuccess;
  }
  if (!s)
    if (cudaError_t e = capture_guard("cudaMemcpyAsync on the legacy default stream")) return e;
  if (nbytes) std::memmove(dst, src, nbytes);
  return cudaSuccess;
}

cudaError_t cudaMemset(void* p, int value, size_t nbytes) {
  if (cudaError_t e = capture_guard("cudaMemset")) return e;
  if (nbytes && !in_device_memory(p, nbytes))
    return fail(cudaErrorInvalidValue, "cudaMemset: the range is not inside one device allocation");
  if (nbytes) std::memset(p, value, nbytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t nbytes, cudaStream_t s) {
  if (nbytes && !in_device_memory(p, nbytes))
    return fail(cudaErrorInvalidValue, "cudaMemsetAsync: the range is not inside one device allocation");
  if (CUstream_st* cs = capturing(s)) {
    cs->captured.push_back([=]() {
      if (nbytes) std::memset(p, value, nbytes);
      return cudaSuccess;
    });
    return cudaSuccess;
  }
  if (!s)
    if (cudaError_t e = capture_guard("cudaMemsetAsync on the legacy default stream")) return e;
  if (nbytes) std::memset(p, value, nbytes);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy of the default stream");
  if (s->capturing) {
    std::lock_guard<std::mutex> lock(g_mu);
    if (s->mode == cudaStreamCaptureModeGlobal) --g_global_captures;
    g_capturing.erase(std::find(g_capturing.begin(), g_capturing.end(), s));
  }
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capturing) {
    s->invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize of a stream being captured");
  }
  return capture_guard("cudaStreamSynchronize");
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t e, unsigned) {
  return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: null event");
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return fail(cudaErrorStreamCaptureUnsupported, "the legacy default stream cannot be captured");
  if (s->capturing) return fail(cudaErrorIllegalState, "cudaStreamBeginCapture: already capturing");
  std::lock_guard<std::mutex> lock(g_mu);
  s->capturing = true;
  s->invalidated = false;
  s->mode = mode;
  s->captured.clear();
  if (mode == cudaStreamCaptureModeGlobal) ++g_global_captures;
  g_capturing.push_back(s);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
  *g = nullptr;
  if (!s || !s->capturing) return fail(cudaErrorStreamCaptureUnmatched, "cudaStreamEndCapture without a capture");
  {
    std::lock_guard<std::mutex> lock(g_mu);
    s->capturing = false;
    if (s->mode == cudaStreamCaptureModeGlobal) --g_global_captures;
    g_capturing.erase(std::find(g_capturing.begin(), g_capturing.end(), s));
  }
  if (s->invalidated) {
    s->captured.clear();
    return fail(cudaErrorStreamCaptureInvalidated, "the capture was invalidated by a call not permitted during it");
  }
  *g = new CUgraph_st{std::move(s->captured)};
  s->captured.clear();
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  *status = !s || !s->capturing ? cudaStreamCaptureStatusNone
            : s->invalidated     ? cudaStreamCaptureStatusInvalidated
                                 : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return cudaEventCreate(e); }
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: null event");
  if (CUstream_st* cs = capturing(s)) {
    cs->captured.push_back([e]() {
      e->at = std::chrono::steady_clock::now();
      e->recorded = true;
      return cudaSuccess;
    });
    return cudaSuccess;
  }
  e->at = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: null event");
}
cudaError_t cudaEventQuery(cudaEvent_t e) {
  return e ? cudaSuccess : fail(cudaErrorInvalidResourceHandle, "cudaEventQuery: null event");
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a || !b || !a->recorded || !b->recorded)
    return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
  *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long) {
  if (!g) return fail(cudaErrorInvalidValue, "cudaGraphInstantiate: null graph");
  *exec = new CUgraphExec_st{g->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (!exec) return fail(cudaErrorInvalidValue, "cudaGraphLaunch: null graph");
  if (CUstream_st* cs = capturing(s)) {
    cs->captured.insert(cs->captured.end(), exec->nodes.begin(), exec->nodes.end());
    return cudaSuccess;
  }
  for (auto& node : exec->nodes)
    if (cudaError_t e = node()) return e;
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* fn, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;  // a carveout is only a hint
  if (value < 0 || size_t(value) > kSmemOptin)
    return fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                           " bytes of dynamic shared memory exceed the device's 232448");
  std::lock_guard<std::mutex> lock(g_mu);
  g_smem_limit[fn] = value;
  return cudaSuccess;
}
