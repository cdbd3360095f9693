// Host launchers of the upsampling kernels (cuda/upsample.cu). Semantics are the CPU reference's
// (cpu/ref/upsample_ref.h: PyTorch's index and weight rules, computed in float), whose UpsampleParams they take:
// each launcher does what the ref function does for planes [0, planes) (a plane = one (n, c) slice of H x W,
// contiguous). Pointers are device pointers; planes may be 0 (no launch); the work is queued on `stream`; no
// allocation, no synchronization (capture-safe).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/upsample_ref.h"

namespace fastconv::cuda {

// ref::upsample, every UpsampleMode (nearest, nearest_exact, linear with or without align_corners,
// bed_of_nails). One thread per output element, its taps added in the reference's order with the reference's
// float roundings (no FMA contraction), so the result is the reference's bit for bit. bed_of_nails needs
// out a multiple of in on each axis, as the reference does (there a tap outside the input is skipped instead of
// read).
void upsample_forward__cuda(const ref::UpsampleParams& p, const float* x, float* y, int64_t planes,
                            cudaStream_t stream);
// ref::upsample_backward as a gather, deterministic and atomic-free: each input element finds, per axis by
// binary search over the monotonic output -> source map, the outputs that read it and adds their
// weight * gy in increasing output order and the reference's tap order, i.e. the reference's float sum.
void upsample_backward__cuda(const ref::UpsampleParams& p, const float* gy, float* gx, int64_t planes,
                             cudaStream_t stream);

}  // namespace fastconv::cuda
