#include "cpu/ref/fold_ref.h"

#include <algorithm>

namespace fastconv::ref {
namespace {

// f(column offset, input offset or -1 for padding) for every element of image n's column matrix.
template <class F>
void for_each_tap(const FoldParams& p, int64_t n, F f) {
  const int64_t L = p.oh * p.ow;
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t i = 0; i < p.kh; ++i)
      for (int64_t j = 0; j < p.kw; ++j) {
        const int64_t row = (c * p.kh + i) * p.kw + j;
        for (int64_t bh = 0; bh < p.oh; ++bh)
          for (int64_t bw = 0; bw < p.ow; ++bw) {
            const int64_t h = bh * p.sh - p.ph + i * p.dh, w = bw * p.sw - p.pw + j * p.dw;
            const bool inside = h >= 0 && h < p.H && w >= 0 && w < p.W;
            f((n * p.C * p.kh * p.kw + row) * L + bh * p.ow + bw, inside ? ((n * p.C + c) * p.H + h) * p.W + w : -1);
          }
      }
}

}  // namespace

void unfold(const FoldParams& p, const float* x, float* col, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) for_each_tap(p, n, [&](int64_t o, int64_t s) { col[o] = s < 0 ? 0.f : x[s]; });
}

void fold(const FoldParams& p, const float* col, float* x, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; ++n) {
    std::fill(x + n * p.C * p.H * p.W, x + (n + 1) * p.C * p.H * p.W, 0.f);
    for_each_tap(p, n, [&](int64_t o, int64_t s) {
      if (s >= 0) x[s] += col[o];
    });
  }
}

}  // namespace fastconv::ref
