// Naive reference kernels for upsampling / interpolation over the last two dims (H, W; H = 1 for 3-D input).
// They define the semantics: PyTorch's index and weight rules for 'nearest', 'nearest-exact' and
// 'linear'/'bilinear' (computed in float, as PyTorch does for float32), and the 'bed_of_nails' extension.
// Every kernel works on a range of planes [p0, p1) so callers can split across threads.
#pragma once
#include <cstdint>

namespace fastconv::ref {

enum class UpsampleMode { nearest, nearest_exact, linear, bed_of_nails };

struct UpsampleParams {
  UpsampleMode mode = UpsampleMode::nearest;
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  double scale_h = 0, scale_w = 0;  // the user's scale_factor as PyTorch hands it to its kernels; 0 = none
  bool align_corners = false;       // linear only
};

// Source index of output index o along one axis (nearest modes).
int64_t nearest_source(UpsampleMode mode, int64_t o, int64_t in, int64_t out, double scale);
// Linear: the two source taps and their weights for output index o along one axis.
void linear_source(int64_t o, int64_t in, int64_t out, double scale, bool align_corners, int64_t* i0, int64_t* i1,
                   float* w0, float* w1);

void upsample(const UpsampleParams& p, const float* x, float* y, int64_t p0, int64_t p1);
// gx (input-shaped, overwritten) = the transpose of upsample applied to gy.
void upsample_backward(const UpsampleParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);

}  // namespace fastconv::ref
