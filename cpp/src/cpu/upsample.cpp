#include "cpu/upsample.h"

#include <algorithm>
#include <cstring>

namespace fastconv::cpu {

using ref::UpsampleMode;

UpsampleTables make_upsample_tables(const ref::UpsampleParams& p) {
  UpsampleTables t;
  t.p = p;
  auto axis = [&](int64_t in, int64_t out, double scale, std::vector<int64_t>& i0, std::vector<int64_t>& i1,
                  std::vector<float>& a, std::vector<float>& b) {
    i0.resize(size_t(out));
    i1.resize(size_t(out));
    a.assign(size_t(out), 1.f);
    b.assign(size_t(out), 0.f);
    for (int64_t o = 0; o < out; ++o) {
      if (p.mode == UpsampleMode::linear) {
        ref::linear_source(o, in, out, scale, p.align_corners, &i0[size_t(o)], &i1[size_t(o)], &a[size_t(o)],
                           &b[size_t(o)]);
      } else if (p.mode == UpsampleMode::bed_of_nails) {
        i0[size_t(o)] = i1[size_t(o)] = o * in / out;  // unused: bed_of_nails has its own loops
      } else {
        i0[size_t(o)] = i1[size_t(o)] = ref::nearest_source(p.mode, o, in, out, scale);
      }
    }
  };
  axis(p.in_h, p.out_h, p.scale_h, t.h0, t.h1, t.ha, t.hb);
  axis(p.in_w, p.out_w, p.scale_w, t.w0, t.w1, t.wa, t.wb);
  return t;
}

void upsample_tables(const UpsampleTables& t, const float* x, float* y, int64_t p0, int64_t p1) {
  const ref::UpsampleParams& p = t.p;
  const int64_t IW = p.in_w, OW = p.out_w, ip = p.in_h * IW, op = p.out_h * OW;
  const int64_t* w0 = t.w0.data();
  const int64_t* w1 = t.w1.data();
  const float* wa = t.wa.data();
  const float* wb = t.wb.data();
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* xp = x + pl * ip;
    float* yp = y + pl * op;
    if (p.mode == UpsampleMode::bed_of_nails) {
      const int64_t fh = p.out_h / p.in_h, fw = OW / IW;
      std::memset(yp, 0, sizeof(float) * size_t(op));
      for (int64_t ih = 0; ih < p.in_h; ++ih) {
        float* yr = yp + ih * fh * OW;
        for (int64_t iw = 0; iw < IW; ++iw) yr[iw * fw] = xp[ih * IW + iw];
      }
      continue;
    }
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const float* r0 = xp + t.h0[size_t(oh)] * IW;
      float* yr = yp + oh * OW;
      if (p.mode != UpsampleMode::linear) {
        for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = r0[w0[ow]];
        continue;
      }
      const float* r1 = xp + t.h1[size_t(oh)] * IW;
      const float a = t.ha[size_t(oh)], b = t.hb[size_t(oh)];
      for (int64_t ow = 0; ow < OW; ++ow)
        yr[ow] = a * (wa[ow] * r0[w0[ow]] + wb[ow] * r0[w1[ow]]) + b * (wa[ow] * r1[w0[ow]] + wb[ow] * r1[w1[ow]]);
    }
  }
}

void upsample_tables_backward(const UpsampleTables& t, const float* gy, float* gx, int64_t p0, int64_t p1) {
  const ref::UpsampleParams& p = t.p;
  const int64_t IW = p.in_w, OW = p.out_w, ip = p.in_h * IW, op = p.out_h * OW;
  const int64_t* w0 = t.w0.data();
  const int64_t* w1 = t.w1.data();
  const float* wa = t.wa.data();
  const float* wb = t.wb.data();
  for (int64_t pl = p0; pl < p1; ++pl) {
    const float* gp = gy + pl * op;
    float* xp = gx + pl * ip;
    if (p.mode == UpsampleMode::bed_of_nails) {
      const int64_t fh = p.out_h / p.in_h, fw = OW / IW;
      for (int64_t ih = 0; ih < p.in_h; ++ih) {
        const float* gr = gp + ih * fh * OW;
        for (int64_t iw = 0; iw < IW; ++iw) xp[ih * IW + iw] = gr[iw * fw];
      }
      continue;
    }
    std::memset(xp, 0, sizeof(float) * size_t(ip));
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      float* r0 = xp + t.h0[size_t(oh)] * IW;
      const float* gr = gp + oh * OW;
      if (p.mode != UpsampleMode::linear) {
        for (int64_t ow = 0; ow < OW; ++ow) r0[w0[ow]] += gr[ow];
        continue;
      }
      float* r1 = xp + t.h1[size_t(oh)] * IW;
      const float a = t.ha[size_t(oh)], b = t.hb[size_t(oh)];
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float g = gr[ow];
        r0[w0[ow]] += a * wa[ow] * g;
        r0[w1[ow]] += a * wb[ow] * g;
        r1[w0[ow]] += b * wa[ow] * g;
        r1[w1[ow]] += b * wb[ow] * g;
      }
    }
  }
}

}  // namespace fastconv::cpu
