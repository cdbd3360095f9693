// Reference kernels for `resize`, ONNX Resize's semantics: separable, one axis at a time, each output index a
// weighted sum of a few input indices ("taps") along that axis. The taps define every mode: nearest (with its
// rounding modes), linear, cubic (coefficient a, exclude_outside), antialiased linear/cubic when downsampling, and
// every coordinate transformation (half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners,
// asymmetric, tf_crop_and_resize with its extrapolation value). Coordinates and weights are computed in double, as
// onnx's own reference does; the sums accumulate in double.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastconv::ref {

enum class ResizeMode { nearest, linear, cubic };
enum class ResizeCoord { half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
                         tf_crop_and_resize };
enum class ResizeNearest { round_prefer_floor, round_prefer_ceil, floor, ceil };

struct ResizeSpec {
  ResizeMode mode = ResizeMode::nearest;
  ResizeCoord coord = ResizeCoord::half_pixel;
  ResizeNearest nearest = ResizeNearest::round_prefer_floor;
  double cubic_a = -0.75, extrapolation_value = 0.0;
  bool exclude_outside = false, antialias = false;
};

// One resized axis of a tensor seen as [outer, in, inner] -> [outer, out, inner].
struct ResizeAxis {
  int64_t outer = 1, in = 1, out = 1, inner = 1;
  int taps = 1;
  std::vector<int64_t> idx;     // out * taps source indices, clamped into [0, in)
  std::vector<double> w;        // out * taps weights
  std::vector<uint8_t> extrap;  // out flags: the output is the extrapolation value (tf_crop_and_resize)
  double extrapolation_value = 0.0;
};

// The taps of one axis: `scale` is the factor the coordinate transformation divides by (the given scale, or
// out/in when sizes were given); roi_start/roi_end are used by tf_crop_and_resize only.
ResizeAxis resize_axis_taps(const ResizeSpec& s, int64_t in, int64_t out, double scale, double roi_start,
                            double roi_end);

// y[o, j, i] = sum_t w[j, t] * x[o, idx[j, t], i] for outer rows [o0, o1).
void resize_axis(const ResizeAxis& a, const float* x, float* y, int64_t o0, int64_t o1);
// The transpose: gx (overwritten) [o, idx[j, t], i] += w[j, t] * gy[o, j, i] for outer rows [o0, o1).
void resize_axis_backward(const ResizeAxis& a, const float* gy, float* gx, int64_t o0, int64_t o1);

}  // namespace fastconv::ref
