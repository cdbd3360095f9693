// im2col / col2im for N-d convolutions (1-D and 2-D are 3-D with unit leading axes). Row (c, kd, kh, kw) of the
// column matrix holds, for every output position, the input value that kernel tap multiplies (0 in the padding).
// The valid output range along W is computed once per row so the inner loop is a plain copy (memcpy at stride 1).
#include <algorithm>
#include <cstring>

#include "cpu/conv_gemm.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

// Small 2-D maps (ResNet's 8x8, 4x4, 2x2 layers): rows of 2-8 elements make the row-wise copy all overhead, so
// one table of source offsets per (tap, output position) drives a plain gather for every channel. Padding taps
// point one past the plane, at a zero kept there in a per-channel staging copy.
constexpr int64_t kTableMaxOut = 256, kTableMaxIn = 4096;

bool use_table(const ConvParams& p) {
  // Depth padding can give a 1-deep input several output planes, or put its one output plane in the padding
  // (conv_transpose3d with stride 3, padding 1, output_padding 2 reads depth -1): only true 2-D problems take it.
  return p.in[0] == 1 && p.k[0] == 1 && p.out[0] == 1 && p.pad[0] == 0 && out_vol(p) <= kTableMaxOut &&
         in_vol(p) < kTableMaxIn &&
         k_vol(p) * out_vol(p) <= 16 * kTableMaxOut;
}

void build_table(const ConvParams& p, int32_t* tab) {
  const int64_t iv = in_vol(p);
  for (int64_t kh = 0; kh < p.k[1]; ++kh)
    for (int64_t kw = 0; kw < p.k[2]; ++kw)
      for (int64_t oh = 0; oh < p.out[1]; ++oh)
        for (int64_t ow = 0; ow < p.out[2]; ++ow) {
          const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
          const int64_t iw = ow * p.stride[2] - p.pad[2] + kw * p.dil[2];
          const bool in = ih >= 0 && ih < p.in[1] && iw >= 0 && iw < p.in[2];
          *tab++ = int32_t(in ? ih * p.in[2] + iw : iv);
        }
}

template <bool kAdd>
void table_rows(const ConvParams& p, const float* xin, float* colbuf, const float* colin, float* xout, int64_t ld) {
  const int64_t kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  if (ld <= 0) ld = ov;
  int32_t tab[16 * kTableMaxOut];
  build_table(p, tab);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / (kv * ov));
  parallel_for(group_in(p), grain, [&](int64_t b, int64_t e) {
    float plane[kTableMaxIn + 1];
    for (int64_t c = b; c < e; ++c) {
      if (kAdd) {
        std::fill(plane, plane + iv + 1, 0.f);
        for (int64_t t = 0; t < kv; ++t) {
          const float* src = colin + (c * kv + t) * ld;
          const int32_t* tt = tab + t * ov;
          for (int64_t o = 0; o < ov; ++o) plane[tt[o]] += src[o];
        }
        float* dst = xout + c * iv;
        for (int64_t i = 0; i < iv; ++i) dst[i] += plane[i];
      } else {
        std::memcpy(plane, xin + c * iv, sizeof(float) * size_t(iv));
        plane[iv] = 0.f;
        for (int64_t t = 0; t < kv; ++t) {
          float* dst = colbuf + (c * kv + t) * ld;
          const int32_t* tt = tab + t * ov;
          for (int64_t o = 0; o < ov; ++o) dst[o] = plane[tt[o]];
        }
      }
    }
  });
}

// Rows are independent: split them across threads when the caller is not already parallel over images.
template <bool kAdd>
void im2col_rows(const ConvParams& p, const float* xin, float* colbuf, const float* colin, float* xout, int64_t ld) {
  const int64_t kv = k_vol(p), ov = out_vol(p), iv = in_vol(p);
  if (ld <= 0) ld = ov;
  const int64_t rows = group_in(p) * kv;
  // col2im rows of the same channel write the same input plane: split by channel there.
  const int64_t units = kAdd ? group_in(p) : rows;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, kAdd ? kv * ov : ov));
  parallel_for(units, grain, [&](int64_t b, int64_t e) {
    const int64_t r0 = kAdd ? b * kv : b, r1 = kAdd ? e * kv : e;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / kv, t = r % kv;
      const int64_t kd = t / (p.k[1] * p.k[2]), kh = t / p.k[2] % p.k[1], kw = t % p.k[2];
      const int64_t offw = kw * p.dil[2] - p.pad[2], sw = p.stride[2];
      int64_t lo, hi;
      conv_valid_range(offw, sw, p.in[2], p.out[2], &lo, &hi);
      for (int64_t od = 0; od < p.out[0]; ++od) {
        const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
        for (int64_t oh = 0; oh < p.out[1]; ++oh) {
          const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
          const int64_t o = r * ld + (od * p.out[1] + oh) * p.out[2];
          const bool inside = id >= 0 && id < p.in[0] && ih >= 0 && ih < p.in[1];
          const int64_t xo = c * iv + (id * p.in[1] + ih) * p.in[2] + offw;
          if (kAdd) {
            if (!inside) continue;
            const float* src = colin + o;
            float* dst = xout + xo;
            if (sw == 1)
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
            else if (sw == 2)  // a literal stride vectorises (ResNet's downsampling layers)
              for (int64_t ow = lo; ow < hi; ++ow) dst[2 * ow] += src[ow];
            else
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow * sw] += src[ow];
          } else {
            float* dst = colbuf + o;
            if (!inside) {
              std::memset(dst, 0, sizeof(float) * size_t(p.out[2]));
              continue;
            }
            const float* src = xin + xo;
            // The padded edges are a few elements: inline stores, not memset calls (~30% of a short row).
            for (int64_t ow = 0; ow < lo; ++ow) dst[ow] = 0.f;
            if (sw == 1)
              std::memcpy(dst + lo, src + lo, sizeof(float) * size_t(hi - lo));
            else if (sw == 2)
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[2 * ow];
            else
              for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * sw];
            for (int64_t ow = hi; ow < p.out[2]; ++ow) dst[ow] = 0.f;
          }
        }
      }
    }
  });
}

}  // namespace

void conv_im2col(const ConvParams& p, const float* x, float* col, int64_t ld) {
  if (use_table(p)) return table_rows<false>(p, x, col, nullptr, nullptr, ld);
  im2col_rows<false>(p, x, col, nullptr, nullptr, ld);
}

void conv_col2im(const ConvParams& p, const float* col, float* x, int64_t ld) {
  if (use_table(p)) return table_rows<true>(p, nullptr, nullptr, col, x, ld);
  im2col_rows<true>(p, nullptr, nullptr, col, x, ld);
}

}  // namespace fastconv::cpu
