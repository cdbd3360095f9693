// A typed device allocation for the CUDA kernel tests: made from a size or a host vector, copied back with
// download(); a zero-element buffer still holds one element, so its pointer is a real allocation.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

#include "launch.cuh"

namespace fc_test {

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    fastconv::cuda::check(cudaMalloc(&p, (n ? n : 1) * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceBuffer(const std::vector<T>& h) : DeviceBuffer(h.size()) { upload(h); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void upload(const std::vector<T>& h) {
    if (n) fastconv::cuda::check(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    if (n) fastconv::cuda::check(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
};

}  // namespace fc_test
