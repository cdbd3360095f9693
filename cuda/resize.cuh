// Host side of resize on the device (cuda/resize.cu), the semantics of ref::resize_axis / resize_axis_backward
// (cpu/ref/resize_ref.h): one axis of a tensor seen as [outer, in, inner] -> [outer, out, inner] at a time, from
// the taps the host computed (ref::resize_axis_taps), uploaded once into device memory. The backward pass is a
// gather as well: the upload also holds, for every input index, the (output index, weight) pairs that reach it in
// the reference's (output, tap) order, so no atomics and the reference's float sums.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "cpu/ref/resize_ref.h"

namespace fastconv::cuda {

// One axis's tables, device pointers into ResizeTables::memory.
struct ResizeAxisDevice {
  int64_t outer = 1, in = 1, out = 1, inner = 1;
  int taps = 1;
  float extrapolation_value = 0.f;
  const int64_t* idx = nullptr;   // out * taps source indices
  const double* w = nullptr;      // out * taps weights
  const uint8_t* extrap = nullptr;  // out flags: the output is the extrapolation value
  const int64_t* start = nullptr;   // in + 1 offsets into src / wt (the transposed taps of each input index)
  const int64_t* src = nullptr;     // output indices
  const float* wt = nullptr;        // their weights
};

struct ResizeTables {
  std::vector<ResizeAxisDevice> axes;
  std::shared_ptr<void> memory;  // one allocation on the device, freed with the last copy of this
};

// Uploads the tables of `axes` to device `device` (synchronously: call it when preparing, never while capturing).
ResizeTables resize_upload(const std::vector<ref::ResizeAxis>& axes, int device);

// y = the resize of x along axis a (ref::resize_axis over every outer row); gx (overwritten) = its transpose
// applied to gy (ref::resize_axis_backward). Device pointers; queued on `stream`.
void resize_axis__cuda(const ResizeAxisDevice& a, const float* x, float* y, cudaStream_t stream);
void resize_axis_backward__cuda(const ResizeAxisDevice& a, const float* gy, float* gx, cudaStream_t stream);

}  // namespace fastconv::cuda
