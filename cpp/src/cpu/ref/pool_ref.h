// Naive reference kernels for pooling: they define the semantics (PyTorch's, including index order, ties and NaN).
// Every kernel works on a range of planes [p0, p1) (a plane = one (n, c) slice) so callers can split across
// threads; 1-D and 2-D pooling are 3-D pooling with size-1 leading spatial dims.
#pragma once
#include <cstdint>

namespace fastconv::ref {

struct PoolParams {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};  // spatial sizes (D, H, W)
  int64_t k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, p[3] = {0, 0, 0}, d[3] = {1, 1, 1};
  int64_t pe[3] = {0, 0, 0};  // end pads: where count_include_pad stops counting (torch: = p; ONNX: its own)
  bool count_include_pad = true;  // avg only
  int64_t divisor_override = 0;   // avg only; 0 = none
  int64_t in_plane() const { return in[0] * in[1] * in[2]; }
  int64_t out_plane() const { return out[0] * out[1] * out[2]; }
};

// y = max (or min) over each window; idx = flat index of the winner in its input plane. Scan order D, H, W;
// the first extreme wins ties and the last NaN wins (NaN propagates), as in PyTorch.
void max_pool(const PoolParams& p, const float* x, float* y, int64_t* idx, bool min, int64_t p0, int64_t p1);
// avg: the mean over the window's dilated taps; count_include_pad counts the taps in [-p, in + pe), else in [0, in).
void avg_pool(const PoolParams& p, const float* x, float* y, int64_t p0, int64_t p1);
// gx (input-shaped, overwritten) = the transpose of avg_pool applied to gy.
void avg_pool_backward(const PoolParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);
// The divisor avg_pool uses for output (od, oh, ow); shared with the fast kernels so they agree exactly.
int64_t avg_pool_divisor(const PoolParams& p, int64_t od, int64_t oh, int64_t ow);

// Per-plane scatter / gather through saved indices. dst planes have dst_plane elements, src planes src_plane.
// scatter: dst (overwritten with zeros first) [plane, idx[i]] (+)= src[plane, i]; out-of-range indices are skipped.
void index_scatter(int64_t src_plane, int64_t dst_plane, const float* src, const int64_t* idx, float* dst,
                   bool accumulate, int64_t p0, int64_t p1);
// gather: dst[plane, i] = src[plane, idx[i]] (0 for an out-of-range index); dst planes have idx_plane elements.
void index_gather(int64_t idx_plane, int64_t src_plane, const float* src, const int64_t* idx, float* dst,
                  int64_t p0, int64_t p1);

// Adaptive pooling over H, W: window i covers [floor(i*in/out), ceil((i+1)*in/out)).
struct AdaptiveParams {
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
};
inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }
void adaptive_avg_pool2d(const AdaptiveParams& p, const float* x, float* y, int64_t p0, int64_t p1);
void adaptive_avg_pool2d_backward(const AdaptiveParams& p, const float* gy, float* gx, int64_t p0, int64_t p1);
void adaptive_max_pool2d(const AdaptiveParams& p, const float* x, float* y, int64_t* idx, int64_t p0, int64_t p1);

}  // namespace fastconv::ref
