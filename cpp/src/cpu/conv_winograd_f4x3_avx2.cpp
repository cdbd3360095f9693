// Winograd F(4x4, 3x3) transforms with AVX2: the 16-channel blocks are handled as two 8-lane halves; otherwise
// the same vertical arithmetic as the AVX-512 file (matrices in conv_winograd_f4x3_scalar.cpp).
#include <immintrin.h>

#include <cstdint>

#include "cpu/conv_winograd.h"

namespace fastconv::cpu::winograd {
namespace {

constexpr int L = kLanes;

inline __m256i lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline void bt6(const __m256 d[6], __m256 r[6]) {
  const __m256 four = _mm256_set1_ps(4.f), five = _mm256_set1_ps(5.f), two = _mm256_set1_ps(2.f);
  const __m256 t1 = _mm256_fnmadd_ps(four, d[2], d[4]), t2 = _mm256_fnmadd_ps(four, d[1], d[3]);
  const __m256 t3 = _mm256_sub_ps(d[4], d[2]), t4 = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
  r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
  r[1] = _mm256_add_ps(t1, t2);
  r[2] = _mm256_sub_ps(t1, t2);
  r[3] = _mm256_add_ps(t3, t4);
  r[4] = _mm256_sub_ps(t3, t4);
  r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

inline void at6(const __m256 m[6], __m256 r[4]) {
  const __m256 s1 = _mm256_add_ps(m[1], m[2]), d1 = _mm256_sub_ps(m[1], m[2]);
  const __m256 s2 = _mm256_add_ps(m[3], m[4]), d2 = _mm256_sub_ps(m[3], m[4]);
  r[0] = _mm256_add_ps(_mm256_add_ps(m[0], s1), s2);
  r[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d2, d1);
  r[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s2, s1);
  r[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d2, d1), m[5]);
}

inline void g3(__m256 g0, __m256 g1, __m256 g2, __m256 u[6]) {
  const __m256 s = _mm256_add_ps(g0, g2), q0 = _mm256_mul_ps(g0, _mm256_set1_ps(1.f / 24)),
               q2 = _mm256_mul_ps(g2, _mm256_set1_ps(1.f / 6)), q1 = _mm256_mul_ps(g1, _mm256_set1_ps(1.f / 12));
  u[0] = _mm256_mul_ps(g0, _mm256_set1_ps(1.f / 4));
  u[1] = _mm256_mul_ps(_mm256_add_ps(s, g1), _mm256_set1_ps(-1.f / 6));
  u[2] = _mm256_mul_ps(_mm256_sub_ps(s, g1), _mm256_set1_ps(-1.f / 6));
  u[3] = _mm256_add_ps(_mm256_add_ps(q0, q2), q1);
  u[4] = _mm256_sub_ps(_mm256_add_ps(q0, q2), q1);
  u[5] = g2;
}

// In place: r[i] lane j  ->  r[j] lane i.
inline void transpose8(__m256 r[8]) {
  __m256 t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i + q], 128-bit lane l, holds rows 4i..4i+3 of column 4l + q.
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x20);
    t[4 + q] = _mm256_permute2f128_ps(r[q], r[4 + q], 0x31);
  }
  for (int i = 0; i < 8; ++i) r[i] = t[i];
}

inline void store4(float* p, __m128 x, int64_t cols) {
  if (cols >= 4)
    _mm_storeu_ps(p, x);
  else
    _mm_maskstore_ps(p, _mm_cmpgt_epi32(_mm_set1_epi32(int32_t(cols)), _mm_setr_epi32(0, 1, 2, 3)), x);
}

}  // namespace

void filter_transform__avx2(const FilterArgs* a) {
  const int64_t stride = a->transposed ? 9 : a->Cin * 9;
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int32_t(stride)));
  // Output channels innermost: the 36 planes of U are then written as 36 sequential streams. (With input
  // channels innermost every store lands on a new page, several times slower for large Cin x Cout.)
  for (int64_t ci = a->ci0; ci < a->ci1; ++ci)
    for (int64_t co = a->co0; co < a->co1; co += 8) {
      const __m256i m = lanes(a->co1 - co);
      const float* base = a->transposed ? a->w + (ci * a->Cout + co) * 9 : a->w + (co * a->Cin + ci) * 9;
      __m256 g[9];
      for (int k = 0; k < 9; ++k)
        g[k] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base + (a->transposed ? 8 - k : k), idx,
                                        _mm256_castsi256_ps(m), 4);
      __m256 t[3][6], u[6];
      for (int j = 0; j < 3; ++j) g3(g[j], g[3 + j], g[6 + j], t[j]);
      for (int i = 0; i < 6; ++i) {
        g3(t[0][i], t[1][i], t[2][i], u);
        for (int j = 0; j < 6; ++j)
          _mm256_maskstore_ps(a->U + (i * 6 + j) * a->u_plane + (ci - a->u_ci0) * a->u_row + (co - a->co0), m, u[j]);
      }
    }
}

void pack_input__avx2(const PackArgs* a) {
  const int64_t row = a->Wp * L;
  const int64_t w_lo = a->pad_w < 0 ? -a->pad_w : 0;
  const int64_t w_hi = a->W < a->Wp - a->pad_w ? a->W : a->Wp - a->pad_w;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t r = 0; r < a->Hp; ++r) {
    float* dst = a->xb + r * row;
    const int64_t h = r - a->pad_h;
    const bool empty = h < 0 || h >= a->H || w_lo >= w_hi;
    for (int64_t s = 0; s < a->Wp; ++s)
      if (empty || s < w_lo + a->pad_w || s >= w_hi + a->pad_w) {
        _mm256_store_ps(dst + s * L, zero);
        _mm256_store_ps(dst + s * L + 8, zero);
      }
    if (empty) continue;
    const float* src = a->x + h * a->W;
    for (int64_t w0 = w_lo; w0 < w_hi; w0 += 8) {
      const int64_t n = w_hi - w0 < 8 ? w_hi - w0 : 8;
      const __m256i m = lanes(n);
      float* d = dst + (w0 + a->pad_w) * L;
      for (int half = 0; half < 2; ++half) {
        __m256 v[8];
        for (int c = 0; c < 8; ++c) {
          const int64_t ch = half * 8 + c;
          v[c] = ch < a->channels ? _mm256_maskload_ps(src + ch * a->H * a->W + w0, m) : zero;
        }
        transpose8(v);
        for (int64_t j = 0; j < n; ++j) _mm256_store_ps(d + j * L + half * 8, v[j]);
      }
    }
  }
}

void input_transform__avx2(const InputArgs* a) {
  const Geometry& g = *a->g;
  const int64_t rs = g.Wp * L;
  __m256 tmp[6][6];
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const int64_t n = t / (g.TH * g.TW), th = t / g.TW % g.TH, tw = t % g.TW;
    for (int64_t cb = a->cb0; cb < a->cb1; ++cb)
      for (int half = 0; half < 2; ++half) {
        const float* d = a->xb + (((n * g.CB + cb) * g.Hp + kTile * th) * g.Wp + kTile * tw) * L + half * 8;
        for (int j = 0; j < 6; ++j) {
          __m256 col[6], r[6];
          for (int i = 0; i < 6; ++i) col[i] = _mm256_load_ps(d + i * rs + j * L);
          bt6(col, r);
          for (int i = 0; i < 6; ++i) tmp[i][j] = r[i];
        }
        float* v = a->V + (t - a->base) * g.Cp + cb * L + half * 8;
        for (int i = 0; i < 6; ++i) {
          __m256 r[6];
          bt6(tmp[i], r);
          for (int j = 0; j < 6; ++j) _mm256_store_ps(v + (i * 6 + j) * a->stride_e, r[j]);
        }
      }
  }
}

void output_transform__avx2(const OutputArgs* a) {
  const Geometry& g = *a->g;
  const int64_t kstride = g.out_h * g.out_w;
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const auto [n, th, tw, rows, cols] = tile_pos(g, t);
    for (int64_t kb = a->kb0; kb < a->kb1; ++kb)
      for (int half = 0; half < 2; ++half) {
        const int64_t k0 = kb * L + half * 8, kn = g.Cout - k0 < 8 ? g.Cout - k0 : 8;
        if (kn <= 0) break;
        const __m256 bias = a->bias ? _mm256_maskload_ps(a->bias + k0, lanes(kn)) : _mm256_setzero_ps();
        const float* m = a->M + (t - a->base) * g.Kp + k0;
        __m256 tmp[4][6];
        for (int j = 0; j < 6; ++j) {
          __m256 col[6], r[4];
          for (int i = 0; i < 6; ++i) col[i] = _mm256_load_ps(m + (i * 6 + j) * a->stride_e);
          at6(col, r);
          for (int i = 0; i < 4; ++i) tmp[i][j] = r[i];
        }
        float* y0 = a->y + ((n * g.Cout + k0) * g.out_h + kTile * th) * g.out_w + kTile * tw;
        for (int i = 0; i < rows; ++i) {
          __m256 o[4];
          at6(tmp[i], o);
          for (int j = 0; j < 4; ++j) o[j] = _mm256_add_ps(o[j], bias);
          const __m256 t0 = _mm256_unpacklo_ps(o[0], o[1]), t1 = _mm256_unpackhi_ps(o[0], o[1]);
          const __m256 t2 = _mm256_unpacklo_ps(o[2], o[3]), t3 = _mm256_unpackhi_ps(o[2], o[3]);
          // Lane l of u[q] is channel 4l + q with its 4 pixels.
          const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                               _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE)};
          float* yr = y0 + i * g.out_w;
          for (int q = 0; q < 4; ++q) {
            if (q < kn) store4(yr + q * kstride, _mm256_castps256_ps128(u[q]), cols);
            if (4 + q < kn) store4(yr + (4 + q) * kstride, _mm256_extractf128_ps(u[q], 1), cols);
          }
        }
      }
  }
}

}  // namespace fastconv::cpu::winograd
