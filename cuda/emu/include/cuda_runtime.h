// The CUDA emulator's stand-in for <cuda_runtime.h> (FASTCONV_CUDA=EMU): what our .cu files use of the CUDA
// language and runtime, so the same sources that nvcc compiles build as C++ and run on the CPU. Each CUDA thread
// is a fiber (cuda/emu/fiber.cpp), so barriers, warp shuffles and shared memory behave as on a GPU, one block per
// OS thread at a time. docs/cuda.md says what the emulation cannot show.
#pragma once
#define FASTCONV_CUDA_EMU 1

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- qualifiers ---------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One OS thread runs all fibers of a block, and a block runs to its end before the next starts on that thread.
#define __shared__ static thread_local

// ---- vector types -------------------------------------------------------------------------------------------
#define FC_EMU_VEC2(T, N, A) struct alignas(A) N##2 { T x, y; };
#define FC_EMU_VEC3(T, N) struct N##3 { T x, y, z; };
#define FC_EMU_VEC4(T, N, A) struct alignas(A) N##4 { T x, y, z, w; };
FC_EMU_VEC2(float, float, 8) FC_EMU_VEC3(float, float) FC_EMU_VEC4(float, float, 16)
FC_EMU_VEC2(int, int, 8) FC_EMU_VEC3(int, int) FC_EMU_VEC4(int, int, 16)
FC_EMU_VEC2(unsigned, uint, 8) FC_EMU_VEC3(unsigned, uint) FC_EMU_VEC4(unsigned, uint, 16)
FC_EMU_VEC2(double, double, 16)
#undef FC_EMU_VEC2
#undef FC_EMU_VEC3
#undef FC_EMU_VEC4
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) { return {x, y, z}; }

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

// ---- runtime types ------------------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorIllegalState = 401,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureUnmatched = 903,
  cudaErrorStreamCaptureImplicit = 906,
};
using cudaError = cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
#define cudaStreamDefault 0x0
#define cudaStreamNonBlocking 0x1
#define cudaEventDefault 0x0
#define cudaEventDisableTiming 0x2

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem, sharedMemPerBlock, sharedMemPerBlockOptin, sharedMemPerMultiprocessor;
  int regsPerBlock, warpSize, maxThreadsPerBlock, maxThreadsDim[3], maxGridSize[3];
  int multiProcessorCount, maxThreadsPerMultiProcessor, major, minor, l2CacheSize, clockRate;
};

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

// ---- runtime API (cuda/emu/runtime.cpp) ---------------------------------------------------------------------
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** p, size_t nbytes);
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t nbytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t nbytes, cudaMemcpyKind kind, cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t nbytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t nbytes, cudaStream_t s = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t cudaFuncSetAttribute(const void* fn, cudaFuncAttribute attr, int value);
template <class T>
cudaError_t cudaMalloc(T** p, size_t nbytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), nbytes);
}
template <class T>
cudaError_t cudaFuncSetAttribute(T* fn, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(fn), attr, value);
}

// ---- the execution model (cuda/emu/fiber.cpp) ---------------------------------------------------------------
namespace fc_emu {
struct BlockInfo {
  uint3 idx;
  dim3 dim, grid;
  unsigned char* dynamic_smem;
};
const uint3& thread_idx();
const BlockInfo& block();
unsigned lane_id();

void syncthreads(const char* file, int line);
int syncthreads_count(int pred, const char* file, int line);
void syncwarp(unsigned mask, const char* file, int line);
// mode: 0 idx, 1 up, 2 down, 3 xor
void shfl(unsigned mask, const void* in, void* out, size_t n, int mode, int arg, int width, const char* file, int line);
// Each lane in mask gives n (<= 32) bytes and gets every lane's: lane l's at out + l * n (cuda/mma.cuh).
void exchange(unsigned mask, const void* in, size_t n, void* out, const char* file, int line);
// mode: 0 ballot, 1 any, 2 all
unsigned vote(unsigned mask, int pred, int mode, const char* file, int line);
unsigned active_mask();
[[noreturn]] void trap(const char* what, const char* file, int line);

// A launch: the kernel's arguments are converted to its parameter types once, and every thread calls it with
// them (a captured launch keeps them for each replay, as a CUDA Graph does).
using Thunk = void (*)(const void* closure);
cudaError_t launch_closure(const char* name, const void* fn, dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                           Thunk thunk, std::shared_ptr<const void> closure);
template <class... P, class... A>
cudaError_t launch(const char* name, void (*k)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t s,
                   A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  struct Closure {
    void (*k)(P...);
    std::tuple<std::decay_t<P>...> args;
  };
  auto c = std::make_shared<const Closure>(Closure{k, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)});
  Thunk thunk = [](const void* p) {
    const Closure* cl = static_cast<const Closure*>(p);
    std::apply(cl->k, cl->args);
  };
  return launch_closure(name, reinterpret_cast<const void*>(k), grid, block, smem, s, thunk, std::move(c));
}
// The message of the last failed launch on this thread ("" when it gave none): the kernel and what went wrong.
const char* last_error_detail();

template <class T>
T shfl_as(unsigned mask, T v, int mode, int arg, int width, const char* file, int line) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 16, "shuffle of an unsupported type");
  T out;
  shfl(mask, &v, &out, sizeof(T), mode, arg, width, file, line);
  return out;
}
}  // namespace fc_emu

#define threadIdx (::fc_emu::thread_idx())
#define blockIdx (::fc_emu::block().idx)
#define blockDim (::fc_emu::block().dim)
#define gridDim (::fc_emu::block().grid)
#define __syncthreads() ::fc_emu::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(p) ::fc_emu::syncthreads_count((p), __FILE__, __LINE__)
#define __syncthreads_or(p) (::fc_emu::syncthreads_count((p), __FILE__, __LINE__) != 0)
#define __syncthreads_and(p) \
  (::fc_emu::syncthreads_count((p), __FILE__, __LINE__) == int(blockDim.x * blockDim.y * blockDim.z))
#define __syncwarp(...) ::fc_emu::syncwarp(::fc_emu::mask_or_full(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_sync(m, v, l, ...) ::fc_emu::shfl_as((m), (v), 0, (l), ::fc_emu::width_or_32(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_up_sync(m, v, d, ...) ::fc_emu::shfl_as((m), (v), 1, (d), ::fc_emu::width_or_32(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_down_sync(m, v, d, ...) ::fc_emu::shfl_as((m), (v), 2, (d), ::fc_emu::width_or_32(__VA_ARGS__), __FILE__, __LINE__)
#define __shfl_xor_sync(m, v, x, ...) ::fc_emu::shfl_as((m), (v), 3, (x), ::fc_emu::width_or_32(__VA_ARGS__), __FILE__, __LINE__)
#define __ballot_sync(m, p) ::fc_emu::vote((m), (p), 0, __FILE__, __LINE__)
#define __any_sync(m, p) int(::fc_emu::vote((m), (p), 1, __FILE__, __LINE__))
#define __all_sync(m, p) int(::fc_emu::vote((m), (p), 2, __FILE__, __LINE__))
#define __activemask() ::fc_emu::active_mask()
#define __trap() ::fc_emu::trap("__trap()", __FILE__, __LINE__)
constexpr int warpSize = 32;
namespace fc_emu {
inline unsigned mask_or_full() { return 0xffffffffu; }
inline unsigned mask_or_full(unsigned m) { return m; }
inline int width_or_32() { return 32; }
inline int width_or_32(int w) { return w; }
}  // namespace fc_emu

// The dynamic shared memory of the launch (extern __shared__ under nvcc): cuda/launch.cuh's FC_DYNAMIC_SMEM.
#define FC_EMU_DYNAMIC_SMEM(T, name) T* name = reinterpret_cast<T*>(::fc_emu::block().dynamic_smem)

// ---- memory fences and atomics (blocks run in parallel on several OS threads: these are real atomics) -------
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
namespace fc_emu {
template <class T, class F>
T atomic_update(T* p, F f) {  // compare-and-swap on the bits, for float/double and the operations GCC lacks
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits* bp = reinterpret_cast<Bits*>(p);
  Bits old_bits = __atomic_load_n(bp, __ATOMIC_RELAXED), new_bits;
  T old_v;
  do {
    std::memcpy(&old_v, &old_bits, sizeof(T));
    const T nv = f(old_v);
    std::memcpy(&new_bits, &nv, sizeof(T));
  } while (!__atomic_compare_exchange_n(bp, &old_bits, new_bits, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  return old_v;
}
}  // namespace fc_emu
inline float atomicAdd(float* p, float v) { return fc_emu::atomic_update(p, [v](float o) { return o + v; }); }
inline double atomicAdd(double* p, double v) { return fc_emu::atomic_update(p, [v](double o) { return o + v; }); }
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}
inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
inline float atomicExch(float* p, float v) { return fc_emu::atomic_update(p, [v](float) { return v; }); }
inline int atomicMax(int* p, int v) { return fc_emu::atomic_update(p, [v](int o) { return o > v ? o : v; }); }
inline int atomicMin(int* p, int v) { return fc_emu::atomic_update(p, [v](int o) { return o < v ? o : v; }); }
inline unsigned atomicMax(unsigned* p, unsigned v) {
  return fc_emu::atomic_update(p, [v](unsigned o) { return o > v ? o : v; });
}
inline unsigned atomicMin(unsigned* p, unsigned v) {
  return fc_emu::atomic_update(p, [v](unsigned o) { return o < v ? o : v; });
}
inline int atomicAnd(int* p, int v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
inline int atomicOr(int* p, int v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAnd(unsigned* p, unsigned v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }
inline int atomicCAS(int* p, int cmp, int v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return cmp;
}
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return cmp;
}
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long cmp, unsigned long long v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return cmp;
}

// ---- device functions and intrinsics ------------------------------------------------------------------------
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
template <class T>
inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline int __float2int_rn(float x) { return int(nearbyintf(x)); }
inline int __float2int_rd(float x) { return int(floorf(x)); }
inline int __float2int_rz(float x) { return int(x); }
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz(unsigned(v)); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline int __mul24(int a, int b) { return a * b; }
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }
