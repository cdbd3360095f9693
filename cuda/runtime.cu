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
  cudaMemcpyKind k = kind == Copy::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == Copy::DeviceToHost ? cudaMemcpyDeviceToHost
                                                  : cudaMemcpyDeviceToDevice;
  check(cudaMemcpy(dst, src, nbytes, k), "cudaMemcpy");
}

void memset_zero(void* p, size_t nbytes) { check(cudaMemset(p, 0, nbytes), "cudaMemset"); }

}  // namespace fastconv::cuda
