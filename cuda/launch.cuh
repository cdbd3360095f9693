// One way to launch a kernel and check it, for nvcc and for the emulator (FASTCONV_CUDA=EMU) alike:
//   fastconv::cuda::launch("relu__cuda", relu_kernel<float>, grid, block, smem_bytes, stream, x, y, n);
// A failed launch throws fastconv::Error naming the kernel (under the emulator also what went wrong in it:
// barrier divergence, a bad warp mask, a launch configuration a GPU rejects).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <tuple>
#include <utility>

// The launch's dynamic shared memory as a T* (extern __shared__ under nvcc).
#ifdef FASTCONV_CUDA_EMU
#define FC_DYNAMIC_SMEM(T, name) FC_EMU_DYNAMIC_SMEM(T, name)
#else
#define FC_DYNAMIC_SMEM(T, name)                               \
  extern __shared__ __align__(16) unsigned char fc_dyn_smem_[]; \
  T* name = reinterpret_cast<T*>(fc_dyn_smem_)
#endif

namespace fastconv::cuda {

// Throws fastconv::Error (RuntimeError) for a failed CUDA call: "CUDA error in <what>: <name> (<string>)".
void check(cudaError_t e, const char* what);
[[noreturn]] void launch_failed(const char* kernel, cudaError_t e, const char* detail);

inline unsigned blocks_for(long long n, unsigned threads) { return unsigned((n + threads - 1) / threads); }

template <class... P, class... A>
void launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            A&&... args) {
#ifdef FASTCONV_CUDA_EMU
  const cudaError_t e = fc_emu::launch(name, kernel, grid, block, smem, stream, std::forward<A>(args)...);
  if (e != cudaSuccess) {
    cudaGetLastError();
    launch_failed(name, e, fc_emu::last_error_detail());
  }
#else
  std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
  void* ptrs[sizeof...(P) + 1] = {};
  std::apply([&](auto&... p) {
    size_t i = 0;
    ((ptrs[i++] = static_cast<void*>(&p)), ...);
  }, params);
  cudaError_t e = cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, block, ptrs, smem, stream);
  const cudaError_t later = cudaGetLastError();  // also clears it
  if (e == cudaSuccess) e = later;
  if (e != cudaSuccess) launch_failed(name, e, "");
#endif
}

}  // namespace fastconv::cuda
