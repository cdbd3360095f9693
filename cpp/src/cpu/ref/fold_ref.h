// Naive reference kernels for unfold (im2col) and fold (col2im), torch.nn.functional's layout: the column matrix of
// image n is [C * kh * kw, L] with row (c, i, j) holding, for each of the L = oh * ow block positions, the input
// value kernel tap (i, j) of channel c sees there (0 in the padding). fold sums overlapping blocks back.
#pragma once
#include <cstdint>

namespace fastconv::ref {

struct FoldParams {
  int64_t N = 0, C = 0, H = 0, W = 0;  // image batch, channels, spatial size
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t oh = 0, ow = 0;  // block positions along H and W (L = oh * ow)
};

// Images [n0, n1).
void unfold(const FoldParams& p, const float* x, float* col, int64_t n0, int64_t n1);
// x (overwritten) = sum of every column entry at the input position it was taken from.
void fold(const FoldParams& p, const float* col, float* x, int64_t n0, int64_t n1);

}  // namespace fastconv::ref
