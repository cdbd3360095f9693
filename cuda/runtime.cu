// CUDA runtime glue: device queries, allocation, copies. Errors become fastconv::Error with the CUDA message.
#include <cuda_runtime.h>

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

void* malloc(size_t nbytes, int device) {
  require_available();
  check(cudaSetDevice(device), "cudaSetDevice");
  void* p = nullptr;
  check(cudaMalloc(&p, nbytes ? nbytes : 1), "cudaMalloc");
  return p;
}

void free(void* p) {
  if (p) cudaFree(p);
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
