// Naive reference kernels for pad (torch.nn.functional.pad): they define the semantics. The last `nd` dims are
// padded; the dims before them are independent "planes", the unit the kernels split over threads.
#pragma once
#include <cstdint>

#include "cpu/ref/eltwise_ref.h"

namespace fastconv::ref {

enum class PadMode : int32_t { constant, reflect, replicate, circular };

struct PadParams {
  PadMode mode = PadMode::constant;
  float value = 0.f;  // constant mode only
  int nd = 0;         // padded dims (the last nd of the input)
  int64_t in[kMaxDims] = {}, out[kMaxDims] = {};
  int64_t before[kMaxDims] = {}, after[kMaxDims] = {};  // elements added at each end (negative: cropped)
  int64_t in_plane() const {
    int64_t n = 1;
    for (int i = 0; i < nd; ++i) n *= in[i];
    return n;
  }
  int64_t out_plane() const {
    int64_t n = 1;
    for (int i = 0; i < nd; ++i) n *= out[i];
    return n;
  }
};

// Source index along padded dim d for output index o, or -1 where constant mode fills with `value`. As torch,
// circular mode crops first (negative pads) and wraps around what is kept; the other modes pad, then crop.
inline int64_t pad_source(const PadParams& p, int d, int64_t o) {
  int64_t n = p.in[d];
  if (p.mode == PadMode::circular) {
    const int64_t crop = p.before[d] < 0 ? -p.before[d] : 0;
    n -= crop + (p.after[d] < 0 ? -p.after[d] : 0);
    const int64_t s = o - (p.before[d] > 0 ? p.before[d] : 0);
    return crop + ((s % n) + n) % n;
  }
  const int64_t s = o - p.before[d];
  if (s >= 0 && s < n) return s;
  switch (p.mode) {
    case PadMode::reflect: return s < 0 ? -s : 2 * (n - 1) - s;  // the shape rule keeps pads < n: one bounce
    case PadMode::replicate: return s < 0 ? 0 : n - 1;
    default: return -1;
  }
}

// Output positions [lo, hi) of padded dim d whose source is o - before[d]: a plain copy of the input.
inline void pad_direct_range(const PadParams& p, int d, int64_t* lo, int64_t* hi) {
  int64_t start = p.before[d], len = p.in[d];
  if (p.mode == PadMode::circular) {
    start = start > 0 ? start : 0;
    len -= (p.before[d] < 0 ? -p.before[d] : 0) + (p.after[d] < 0 ? -p.after[d] : 0);
  }
  *lo = start < 0 ? 0 : (start > p.out[d] ? p.out[d] : start);
  *hi = start + len < *lo ? *lo : (start + len > p.out[d] ? p.out[d] : start + len);
}

// y (planes [p0, p1) of the output) from x.
void pad(const PadParams& p, const float* x, float* y, int64_t p0, int64_t p1);
// gx (input-shaped, overwritten) = the sum of gy over every output element each input element was copied to.
void pad_backward(const PadParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);

}  // namespace fastconv::ref
