// Host launchers of the pad kernels (cuda/pad.cu): torch.nn.functional.pad's constant / reflect / replicate /
// circular modes with negative pads cropping, exactly as ref::pad / ref::pad_backward (cpu/ref/pad_ref.h), whose
// PadParams they take: the last p.nd dims are padded, the dims before them are `planes` independent planes (the
// op's PadCfg::planes). Pointers are device pointers; empty tensors launch nothing; capture-safe.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cpu/ref/pad_ref.h"

namespace fastconv::cuda {

// y = pad(x): every output element gathers its source (ref::pad_source) or p.value.
void pad_forward__cuda(const ref::PadParams& p, int64_t planes, const float* x, float* y, cudaStream_t stream);

// gx (input-shaped, overwritten) = the sum of gy over every output element each input element was copied to. A
// gather: each input element enumerates its (at most 3 runs a dim of) output positions and adds them in output
// order, in float, as the reference does, so the result is bit-identical to ref::pad_backward and deterministic.
void pad_backward__cuda(const ref::PadParams& p, int64_t planes, const float* gy, float* gx, cudaStream_t stream);

}  // namespace fastconv::cuda
