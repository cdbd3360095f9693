// Winograd F(4x4, 3x3) transforms with AVX-512: one zmm holds the 16 channels of a block, so every transform is
// plain vertical arithmetic (matrices in conv_winograd_f4x3_scalar.cpp); only the NCHW <-> blocked edges need
// register transposes.
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own _mm512_undefined_ps (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv_winograd.h"

namespace fastconv::cpu::winograd {
namespace {

constexpr int L = kLanes;

inline __mmask16 lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// B^T d for six vectors (one tile column or row).
inline void bt6(const __m512 d[6], __m512 r[6]) {
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  const __m512 t1 = _mm512_fnmadd_ps(four, d[2], d[4]), t2 = _mm512_fnmadd_ps(four, d[1], d[3]);
  const __m512 t3 = _mm512_sub_ps(d[4], d[2]), t4 = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  r[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  r[1] = _mm512_add_ps(t1, t2);
  r[2] = _mm512_sub_ps(t1, t2);
  r[3] = _mm512_add_ps(t3, t4);
  r[4] = _mm512_sub_ps(t3, t4);
  r[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

// A^T m: six vectors in, four out.
inline void at6(const __m512 m[6], __m512 r[4]) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  r[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), s2);
  r[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d2, d1);
  r[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), s2, s1);
  r[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), d2, d1), m[5]);
}

// G g for three vectors.
inline void g3(__m512 g0, __m512 g1, __m512 g2, __m512 u[6]) {
  const __m512 s = _mm512_add_ps(g0, g2), q0 = _mm512_mul_ps(g0, _mm512_set1_ps(1.f / 24)),
               q2 = _mm512_mul_ps(g2, _mm512_set1_ps(1.f / 6)), q1 = _mm512_mul_ps(g1, _mm512_set1_ps(1.f / 12));
  u[0] = _mm512_mul_ps(g0, _mm512_set1_ps(1.f / 4));
  u[1] = _mm512_mul_ps(_mm512_add_ps(s, g1), _mm512_set1_ps(-1.f / 6));
  u[2] = _mm512_mul_ps(_mm512_sub_ps(s, g1), _mm512_set1_ps(-1.f / 6));
  u[3] = _mm512_add_ps(_mm512_add_ps(q0, q2), q1);
  u[4] = _mm512_sub_ps(_mm512_add_ps(q0, q2), q1);
  u[5] = g2;
}

// In place: r[i] lane j  ->  r[j] lane i.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // r[4i + q], 128-bit lane l, now holds rows 4i..4i+3 of column 4l + q.
  for (int q = 0; q < 4; ++q) {
    const __m512 a = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x44), b = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x44);
    const __m512 c = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xEE), d = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xEE);
    t[q] = _mm512_shuffle_f32x4(a, b, 0x88);
    t[4 + q] = _mm512_shuffle_f32x4(a, b, 0xDD);
    t[8 + q] = _mm512_shuffle_f32x4(c, d, 0x88);
    t[12 + q] = _mm512_shuffle_f32x4(c, d, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// v with 128-bit lane l replaced by x. The intrinsic needs an immediate; a loop variable only becomes one when the
// optimiser unrolls the loop (the -O2 sanitizer build does not, and failed to compile).
inline __m512 insert_lane(__m512 v, __m128 x, int l) {
  switch (l) {
    case 0: return _mm512_insertf32x4(v, x, 0);
    case 1: return _mm512_insertf32x4(v, x, 1);
    case 2: return _mm512_insertf32x4(v, x, 2);
    default: return _mm512_insertf32x4(v, x, 3);
  }
}

// Stores the first `cols` floats of 128-bit lane l of v.
template <int l>
inline void store_lane(float* p, __m512 v, int64_t cols) {
  const __m128 x = _mm512_extractf32x4_ps(v, l);
  if (cols >= 4)
    _mm_storeu_ps(p, x);
  else
    _mm_mask_storeu_ps(p, __mmask8((1u << cols) - 1), x);
}

}  // namespace

constexpr int64_t kAhead = 8;  // input channels

void filter_transform__avx512(const FilterArgs* a) {
  // Vector lanes are 16 consecutive output channels; their filters are a constant stride apart in either layout.
  const int64_t stride = a->transposed ? 9 : a->Cin * 9;
  // Output channels innermost: the 36 planes of U are then written as 36 sequential streams. (With input
  // channels innermost every store lands on a new page, several times slower for large Cin x Cout.)
  for (int64_t ci = a->ci0; ci < a->ci1; ++ci)
    for (int64_t co = a->co0; co < a->co1; co += L) {
      const __mmask16 m = lanes(a->co1 - co);
      const float* base = a->transposed ? a->w + (ci * a->Cout + co) * 9 : a->w + (co * a->Cin + ci) * 9;
      // The taps are read from memory once per pass, and their addresses jump by Cin*9 (or Cout*9) floats per
      // step, which no hardware prefetcher follows: each group waited on ~9 cache misses (2.1 of VGG conv4_2's 6 ms
      // forward on Zen 4). Ask for the lines kAhead input channels ahead.
      const int nl = int(a->co1 - co < L ? a->co1 - co : L);
      if (ci + kAhead < a->ci1) {
        const float* nb = a->transposed ? base + kAhead * a->Cout * 9 : base + kAhead * 9;
        if (a->transposed)  // the group's taps are 16 x 9 contiguous floats
          for (int q = 0; q <= 9 * nl / 16; ++q) _mm_prefetch(reinterpret_cast<const char*>(nb + 16 * q), _MM_HINT_T0);
        else
          for (int l = 0; l < nl; ++l) _mm_prefetch(reinterpret_cast<const char*>(nb + l * stride), _MM_HINT_T0);
      }
      // Each filter's 9 taps are contiguous: 16 short loads and a register transpose instead of 9 gathers (with
      // the prefetch above, the transform took ~0.75x the time of gathers on Zen 4).
      __m512 r[16], g[9];
      for (int l = 0; l < L; ++l) r[l] = l < nl ? _mm512_maskz_loadu_ps(0x1FF, base + l * stride) : _mm512_setzero_ps();
      transpose16(r);
      for (int k = 0; k < 9; ++k) g[k] = r[a->transposed ? 8 - k : k];
      __m512 t[3][6], u[6];
      for (int j = 0; j < 3; ++j) g3(g[j], g[3 + j], g[6 + j], t[j]);
      for (int i = 0; i < 6; ++i) {
        g3(t[0][i], t[1][i], t[2][i], u);
        for (int j = 0; j < 6; ++j)
          _mm512_mask_storeu_ps(a->U + (i * 6 + j) * a->u_plane + (ci - a->u_ci0) * a->u_row + (co - a->co0), m,
                                u[j]);
      }
    }
}

void pack_input__avx512(const PackArgs* a) {
  const int64_t row = a->Wp * L;
  // Source columns that land inside the padded plane; everything else is padding.
  const int64_t w_lo = a->pad_w < 0 ? -a->pad_w : 0;
  const int64_t w_hi = a->W < a->Wp - a->pad_w ? a->W : a->Wp - a->pad_w;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < a->Hp; ++r) {
    float* dst = a->xb + r * row;
    const int64_t h = r - a->pad_h;
    if (h < 0 || h >= a->H || w_lo >= w_hi) {
      for (int64_t s = 0; s < a->Wp; ++s) _mm512_store_ps(dst + s * L, zero);
      continue;
    }
    for (int64_t s = 0; s < w_lo + a->pad_w; ++s) _mm512_store_ps(dst + s * L, zero);
    for (int64_t s = w_hi + a->pad_w; s < a->Wp; ++s) _mm512_store_ps(dst + s * L, zero);
    const float* src = a->x + h * a->W;
    for (int64_t w0 = w_lo; w0 < w_hi; w0 += L) {
      const int64_t n = w_hi - w0 < L ? w_hi - w0 : L;
      const __mmask16 m = lanes(n);
      __m512 v[16];
      for (int c = 0; c < L; ++c)
        v[c] = c < a->channels ? _mm512_maskz_loadu_ps(m, src + c * a->H * a->W + w0) : zero;
      transpose16(v);
      float* d = dst + (w0 + a->pad_w) * L;
      for (int64_t j = 0; j < n; ++j) _mm512_store_ps(d + j * L, v[j]);
    }
  }
}

void input_transform__avx512(const InputArgs* a) {
  const Geometry& g = *a->g;
  const int64_t rs = g.Wp * L;
  __m512 tmp[6][6];
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const int64_t n = t / (g.TH * g.TW), th = t / g.TW % g.TH, tw = t % g.TW;
    for (int64_t cb = a->cb0; cb < a->cb1; ++cb) {
      const float* d = a->xb + (((n * g.CB + cb) * g.Hp + kTile * th) * g.Wp + kTile * tw) * L;
      for (int j = 0; j < 6; ++j) {
        __m512 col[6], r[6];
        for (int i = 0; i < 6; ++i) col[i] = _mm512_load_ps(d + i * rs + j * L);
        bt6(col, r);
        for (int i = 0; i < 6; ++i) tmp[i][j] = r[i];
      }
      float* v = a->V + (t - a->base) * g.Cp + cb * L;
      for (int i = 0; i < 6; ++i) {
        __m512 r[6];
        bt6(tmp[i], r);
        for (int j = 0; j < 6; ++j) _mm512_store_ps(v + (i * 6 + j) * a->stride_e, r[j]);
      }
    }
  }
}

void output_transform__avx512(const OutputArgs* a) {
  const Geometry& g = *a->g;
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const auto [n, th, tw, rows, cols] = tile_pos(g, t);
    for (int64_t kb = a->kb0; kb < a->kb1; ++kb) {
      const int64_t kn = g.Cout - kb * L < L ? g.Cout - kb * L : L;
      const __m512 bias = a->bias ? _mm512_maskz_loadu_ps(lanes(kn), a->bias + kb * L) : _mm512_setzero_ps();
      const float* m = a->M + (t - a->base) * g.Kp + kb * L;
      __m512 tmp[4][6];
      for (int j = 0; j < 6; ++j) {
        __m512 col[6], r[4];
        for (int i = 0; i < 6; ++i) col[i] = _mm512_load_ps(m + (i * 6 + j) * a->stride_e);
        at6(col, r);
        for (int i = 0; i < 4; ++i) tmp[i][j] = r[i];
      }
      float* y0 = a->y + ((n * g.Cout + kb * L) * g.out_h + kTile * th) * g.out_w + kTile * tw;
      const int64_t kstride = g.out_h * g.out_w;
      for (int i = 0; i < rows; ++i) {
        __m512 o[4];
        at6(tmp[i], o);
        for (int j = 0; j < 4; ++j) o[j] = _mm512_add_ps(o[j], bias);
        // 4 pixels x 16 channels -> per channel 4 contiguous pixels: lane l of u[q] is channel 4l + q.
        const __m512 t0 = _mm512_unpacklo_ps(o[0], o[1]), t1 = _mm512_unpackhi_ps(o[0], o[1]);
        const __m512 t2 = _mm512_unpacklo_ps(o[2], o[3]), t3 = _mm512_unpackhi_ps(o[2], o[3]);
        __m512 u[4];
        u[0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        u[1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        u[2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
        u[3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
        float* yr = y0 + i * g.out_w;
        for (int q = 0; q < 4; ++q) {
          if (q < kn) store_lane<0>(yr + q * kstride, u[q], cols);
          if (4 + q < kn) store_lane<1>(yr + (4 + q) * kstride, u[q], cols);
          if (8 + q < kn) store_lane<2>(yr + (8 + q) * kstride, u[q], cols);
          if (12 + q < kn) store_lane<3>(yr + (12 + q) * kstride, u[q], cols);
        }
      }
    }
  }
}

// Backward-weight's A dY A^T (the adjoint of the output transform): per row of the 4x4 dy tile, 4 pixels of 16
// channels come in through the same in-lane 4x4 transpose output_transform uses (it is its own inverse).
void gradout_transform__avx512(const GradOutArgs* a) {
  const Geometry& g = *a->g;
  const int64_t kstride = g.out_h * g.out_w;
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const auto [n, th, tw, rows, cols] = tile_pos(g, t);
    const __mmask8 cm = __mmask8((1u << cols) - 1);
    for (int64_t kb = a->kb0; kb < a->kb1; ++kb) {
      const int64_t kn = g.Cout - kb * L < L ? g.Cout - kb * L : L;
      const float* y0 = a->dy + ((n * g.Cout + kb * L) * g.out_h + kTile * th) * g.out_w + kTile * tw;
      __m512 d[4][4];  // d[i][j]: pixel (i, j) of the tile, lanes = channels
      for (int i = 0; i < 4; ++i) {
        if (i >= rows) {
          for (int j = 0; j < 4; ++j) d[i][j] = _mm512_setzero_ps();
          continue;
        }
        const float* yr = y0 + i * g.out_w;
        __m512 u[4];
        for (int q = 0; q < 4; ++q) {
          __m512 v = _mm512_setzero_ps();
          for (int l = 0; l < 4; ++l) {
            const int64_t c = 4 * l + q;
            if (c >= kn) continue;
            const __m128 x = _mm_maskz_loadu_ps(cm, yr + c * kstride);
            v = insert_lane(v, x, l);
          }
          u[q] = v;
        }
        const __m512 t0 = _mm512_unpacklo_ps(u[0], u[1]), t1 = _mm512_unpackhi_ps(u[0], u[1]);
        const __m512 t2 = _mm512_unpacklo_ps(u[2], u[3]), t3 = _mm512_unpackhi_ps(u[2], u[3]);
        d[i][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        d[i][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        d[i][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
        d[i][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
      }
      // A applied to columns, then to rows (A = the 6x4 matrix of a4 in conv_winograd_f4x3_scalar.cpp).
      const __m512 two = _mm512_set1_ps(2.f), four = _mm512_set1_ps(4.f), eight = _mm512_set1_ps(8.f);
      auto a4 = [&](__m512 y0v, __m512 y1, __m512 y2, __m512 y3, __m512 r[6]) {
        const __m512 s1 = _mm512_add_ps(y0v, y2), d1 = _mm512_add_ps(y1, y3);
        const __m512 s2 = _mm512_fmadd_ps(four, y2, y0v), d2 = _mm512_fmadd_ps(eight, y3, _mm512_mul_ps(two, y1));
        r[0] = y0v;
        r[1] = _mm512_add_ps(s1, d1);
        r[2] = _mm512_sub_ps(s1, d1);
        r[3] = _mm512_add_ps(s2, d2);
        r[4] = _mm512_sub_ps(s2, d2);
        r[5] = y3;
      };
      __m512 tmp[6][4];
      for (int j = 0; j < 4; ++j) {
        __m512 r[6];
        a4(d[0][j], d[1][j], d[2][j], d[3][j], r);
        for (int i = 0; i < 6; ++i) tmp[i][j] = r[i];
      }
      float* w = a->Wt + (t - a->base) * g.Kp + kb * L;
      for (int i = 0; i < 6; ++i) {
        __m512 r[6];
        a4(tmp[i][0], tmp[i][1], tmp[i][2], tmp[i][3], r);
        for (int j = 0; j < 6; ++j) _mm512_store_ps(w + (i * 6 + j) * a->stride_e, r[j]);
      }
    }
  }
}

namespace {
// m -> m G on vectors (see filter_adjoint__scalar for the formulas).
inline void g_apply(const __m512 v[6], __m512 o[3]) {
  const __m512 p = _mm512_add_ps(v[1], v[2]), q = _mm512_add_ps(v[3], v[4]);
  o[0] = _mm512_fmadd_ps(q, _mm512_set1_ps(1.f / 24),
                         _mm512_fnmadd_ps(p, _mm512_set1_ps(1.f / 6), _mm512_mul_ps(v[0], _mm512_set1_ps(0.25f))));
  o[1] = _mm512_fmadd_ps(_mm512_sub_ps(v[3], v[4]), _mm512_set1_ps(1.f / 12),
                         _mm512_mul_ps(_mm512_sub_ps(v[2], v[1]), _mm512_set1_ps(1.f / 6)));
  o[2] = _mm512_fmadd_ps(_mm512_sub_ps(q, p), _mm512_set1_ps(1.f / 6), v[5]);
}
}  // namespace

// Lanes are output channels: 36 vector loads, the adjoint in registers, then a transpose so that each channel's 9
// taps (contiguous in dw) go out as one masked store instead of 9 scalar ones.
void filter_adjoint__avx512(const AdjointArgs* a) {
  const __mmask16 m = lanes(a->n);
  __m512 t[6][3];
  for (int i = 0; i < 6; ++i) {
    __m512 v[6];
    for (int j = 0; j < 6; ++j) v[j] = _mm512_maskz_loadu_ps(m, a->m + (i * 6 + j) * a->plane);
    g_apply(v, t[i]);
  }
  __m512 r[16];
  for (int s = 0; s < 3; ++s) {
    const __m512 v[6] = {t[0][s], t[1][s], t[2][s], t[3][s], t[4][s], t[5][s]};
    __m512 o[3];
    g_apply(v, o);
    for (int q = 0; q < 3; ++q) r[q * 3 + s] = o[q];
  }
  for (int k = 9; k < 16; ++k) r[k] = _mm512_setzero_ps();
  transpose16(r);
  for (int64_t l = 0; l < a->n; ++l) _mm512_mask_storeu_ps(a->dw + l * a->dw_stride, 0x1FF, r[l]);
}

}  // namespace fastconv::cpu::winograd
