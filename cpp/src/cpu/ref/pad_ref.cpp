#include "cpu/ref/pad_ref.h"

#include <algorithm>

namespace fastconv::ref {
namespace {

// Calls f(output offset, input offset or -1) for every element of one plane, in output order.
template <class F>
void for_each_mapped(const PadParams& p, F f) {
  const int64_t n = p.out_plane();
  int64_t idx[kMaxDims] = {};
  for (int64_t o = 0; o < n; ++o) {
    int64_t src = 0;
    for (int d = 0; d < p.nd && src >= 0; ++d) {
      const int64_t s = pad_source(p, d, idx[d]);
      src = s < 0 ? -1 : src * p.in[d] + s;
    }
    f(o, src);
    for (int d = p.nd - 1; d >= 0; --d) {
      if (++idx[d] < p.out[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void pad(const PadParams& p, const float* x, float* y, int64_t p0, int64_t p1) {
  const int64_t ip = p.in_plane(), op = p.out_plane();
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * ip;
    float* yp = y + pl * op;
    for_each_mapped(p, [&](int64_t o, int64_t s) { yp[o] = s < 0 ? p.value : xp[s]; });
  }
}

void pad_backward(const PadParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const int64_t ip = p.in_plane(), op = p.out_plane();
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* gp = gx + pl * ip;
    const float* g = gy + pl * op;
    std::fill(gp, gp + ip, 0.f);
    for_each_mapped(p, [&](int64_t o, int64_t s) {
      if (s >= 0) gp[s] += g[o];
    });
  }
}

}  // namespace fastconv::ref
