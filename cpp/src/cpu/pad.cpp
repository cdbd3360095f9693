#include "cpu/pad.h"

#include <algorithm>
#include <cstring>

namespace fastconv::cpu {
namespace {

using ref::PadMode;
using ref::PadParams;

// The last padded dim: output columns [lo, hi) copy input columns [lo - before, hi - before) directly.
struct RowGeom {
  int last;
  int64_t n, on, before, lo, hi, rows_per_plane;
};
RowGeom row_geom(const PadParams& p) {
  RowGeom g;
  g.last = p.nd - 1;
  g.n = p.in[g.last];
  g.on = p.out[g.last];
  g.before = p.before[g.last];
  ref::pad_direct_range(p, g.last, &g.lo, &g.hi);
  g.rows_per_plane = g.on ? p.out_plane() / g.on : 0;
  return g;
}

// Source row (within its plane) of output row `r` of a plane, or -1 where constant mode fills the whole row.
int64_t source_row(const PadParams& p, int64_t r) {
  int64_t src = 0, stride = 1;
  for (int d = p.nd - 2; d >= 0; --d) {
    const int64_t o = r % p.out[d];
    r /= p.out[d];
    const int64_t s = ref::pad_source(p, d, o);
    if (s < 0) return -1;
    src += s * stride;
    stride *= p.in[d];
  }
  return src;
}

}  // namespace

int64_t pad_rows_count(const PadParams& p, int64_t planes) { return planes * row_geom(p).rows_per_plane; }

void pad__rows(const PadParams& p, const float* x, float* y, int64_t r0, int64_t r1) {
  const RowGeom g = row_geom(p);
  const int64_t ip = p.in_plane();
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t plane = r / g.rows_per_plane, sr = source_row(p, r % g.rows_per_plane);
    float* yr = y + r * g.on;
    if (sr < 0) {
      std::fill(yr, yr + g.on, p.value);
      continue;
    }
    const float* xr = x + plane * ip + sr * g.n;
    for (int64_t o = 0; o < g.lo; ++o) {
      const int64_t s = ref::pad_source(p, g.last, o);
      yr[o] = s < 0 ? p.value : xr[s];
    }
    if (g.hi > g.lo) std::memcpy(yr + g.lo, xr + (g.lo - g.before), size_t(g.hi - g.lo) * sizeof(float));
    for (int64_t o = g.hi; o < g.on; ++o) {
      const int64_t s = ref::pad_source(p, g.last, o);
      yr[o] = s < 0 ? p.value : xr[s];
    }
  }
}

void pad_backward__rows(const PadParams& p, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const RowGeom g = row_geom(p);
  const int64_t ip = p.in_plane(), op = p.out_plane();
  for (int64_t pl = p0; pl < p1; ++pl) {
    float* gp = gx + pl * ip;
    std::fill(gp, gp + ip, 0.f);
    for (int64_t r = 0; r < g.rows_per_plane; ++r) {
      const int64_t sr = source_row(p, r);
      if (sr < 0) continue;
      const float* gr = gy + pl * op + r * g.on;
      float* xr = gp + sr * g.n;
      for (int64_t o = 0; o < g.lo; ++o) {
        const int64_t s = ref::pad_source(p, g.last, o);
        if (s >= 0) xr[s] += gr[o];
      }
      float* mid = xr + (g.lo - g.before);
      for (int64_t o = g.lo; o < g.hi; ++o) mid[o - g.lo] += gr[o];
      for (int64_t o = g.hi; o < g.on; ++o) {
        const int64_t s = ref::pad_source(p, g.last, o);
        if (s >= 0) xr[s] += gr[o];
      }
    }
  }
}

}  // namespace fastconv::cpu
