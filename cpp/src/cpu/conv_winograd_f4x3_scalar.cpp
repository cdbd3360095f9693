// Portable Winograd F(4x4, 3x3) transforms (the fallback when no AVX2 is available, and the plain statement of
// the matrices that the AVX2/AVX-512 files vectorise). Lavin & Gray, interpolation points 0, +-1, +-2, inf:
//
//   B^T = | 4  0 -5  0  1  0 |    G = |  1/4     0     0  |    A^T = | 1  1  1  1  1  0 |
//         | 0 -4 -4  1  1  0 |        | -1/6  -1/6  -1/6 |          | 0  1 -1  2 -2  0 |
//         | 0  4 -4 -1  1  0 |        | -1/6   1/6  -1/6 |          | 0  1  1  4  4  0 |
//         | 0 -2 -1  2  1  0 |        |  1/24  1/12  1/6 |          | 0  1 -1  8 -8  1 |
//         | 0  2 -1 -2  1  0 |        |  1/24 -1/12  1/6 |
//         | 0  4  0 -5  0  1 |        |   0     0     1  |
//
// Every function works on whole 16-channel blocks (arrays of kLanes floats) so the compiler can vectorise them
// with baseline SSE.
#include <cstring>

#include "cpu/conv_winograd.h"

namespace fastconv::cpu::winograd {
namespace {

constexpr int L = kLanes;

// B^T applied to six 16-lane vectors d[0..5] spaced `ds` floats apart, results spaced `rs` apart.
inline void bt6(const float* d, int64_t ds, float* r, int64_t rs) {
  for (int c = 0; c < L; ++c) {
    const float d0 = d[c], d1 = d[ds + c], d2 = d[2 * ds + c], d3 = d[3 * ds + c], d4 = d[4 * ds + c],
                d5 = d[5 * ds + c];
    const float t1 = d4 - 4.f * d2, t2 = d3 - 4.f * d1, t3 = d4 - d2, t4 = 2.f * (d3 - d1);
    r[c] = 4.f * d0 - 5.f * d2 + d4;
    r[rs + c] = t1 + t2;
    r[2 * rs + c] = t1 - t2;
    r[3 * rs + c] = t3 + t4;
    r[4 * rs + c] = t3 - t4;
    r[5 * rs + c] = 4.f * d1 - 5.f * d3 + d5;
  }
}

// A^T applied to six 16-lane vectors m[0..5] spaced `ms` apart, four results spaced `rs` apart.
inline void at6(const float* m, int64_t ms, float* r, int64_t rs) {
  for (int c = 0; c < L; ++c) {
    const float m0 = m[c], m1 = m[ms + c], m2 = m[2 * ms + c], m3 = m[3 * ms + c], m4 = m[4 * ms + c],
                m5 = m[5 * ms + c];
    const float s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4;
    r[c] = m0 + s1 + s2;
    r[rs + c] = d1 + 2.f * d2;
    r[2 * rs + c] = s1 + 4.f * s2;
    r[3 * rs + c] = d1 + 8.f * d2 + m5;
  }
}

// A applied to four 16-lane vectors y[0..3] spaced `ys` apart (the adjoint of at6), six results spaced `rs` apart.
inline void a4(const float* y, int64_t ys, float* r, int64_t rs) {
  for (int c = 0; c < L; ++c) {
    const float y0 = y[c], y1 = y[ys + c], y2 = y[2 * ys + c], y3 = y[3 * ys + c];
    const float s1 = y0 + y2, d1 = y1 + y3, s2 = y0 + 4.f * y2, d2 = 2.f * y1 + 8.f * y3;
    r[c] = y0;
    r[rs + c] = s1 + d1;
    r[2 * rs + c] = s1 - d1;
    r[3 * rs + c] = s2 + d2;
    r[4 * rs + c] = s2 - d2;
    r[5 * rs + c] = y3;
  }
}

inline void g3(float g0, float g1, float g2, float* u, int stride) {
  u[0] = g0 * (1.f / 4);
  u[stride] = -(g0 + g1 + g2) * (1.f / 6);
  u[2 * stride] = -(g0 - g1 + g2) * (1.f / 6);
  u[3 * stride] = g0 * (1.f / 24) + g1 * (1.f / 12) + g2 * (1.f / 6);
  u[4 * stride] = g0 * (1.f / 24) - g1 * (1.f / 12) + g2 * (1.f / 6);
  u[5 * stride] = g2;
}

}  // namespace

void filter_transform__scalar(const FilterArgs* a) {
  for (int64_t ci = a->ci0; ci < a->ci1; ++ci)
    for (int64_t co = a->co0; co < a->co1; ++co) {
      float g[9];
      for (int k = 0; k < 9; ++k)
        g[k] = a->transposed ? a->w[(ci * a->Cout + co) * 9 + 8 - k] : a->w[(co * a->Cin + ci) * 9 + k];
      float t[6][3], u[6][6];
      for (int j = 0; j < 3; ++j) g3(g[j], g[3 + j], g[6 + j], &t[0][j], 3);
      for (int i = 0; i < 6; ++i) g3(t[i][0], t[i][1], t[i][2], &u[i][0], 1);
      const int64_t off = (ci - a->u_ci0) * a->u_row + (co - a->co0);
      for (int e = 0; e < kPoints; ++e) a->U[e * a->u_plane + off] = u[e / 6][e % 6];
    }
}

void pack_input__scalar(const PackArgs* a) {
  for (int64_t r = 0; r < a->Hp; ++r) {
    const int64_t h = r - a->pad_h;
    for (int64_t s = 0; s < a->Wp; ++s) {
      const int64_t w = s - a->pad_w;
      float* dst = a->xb + (r * a->Wp + s) * L;
      const bool inside = h >= 0 && h < a->H && w >= 0 && w < a->W;
      for (int c = 0; c < L; ++c) dst[c] = inside && c < a->channels ? a->x[(c * a->H + h) * a->W + w] : 0.f;
    }
  }
}

void input_transform__scalar(const InputArgs* a) {
  const Geometry& g = *a->g;
  alignas(64) float tmp[kAlpha * kAlpha * L];
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const int64_t n = t / (g.TH * g.TW), th = t / g.TW % g.TH, tw = t % g.TW;
    for (int64_t cb = a->cb0; cb < a->cb1; ++cb) {
      const float* d = a->xb + (((n * g.CB + cb) * g.Hp + kTile * th) * g.Wp + kTile * tw) * L;
      for (int j = 0; j < kAlpha; ++j) bt6(d + j * L, g.Wp * L, tmp + j * L, kAlpha * L);  // columns
      float* v = a->V + (t - a->base) * g.Cp + cb * L;
      for (int i = 0; i < kAlpha; ++i) bt6(tmp + i * kAlpha * L, L, v + i * kAlpha * a->stride_e, a->stride_e);
    }
  }
}

void output_transform__scalar(const OutputArgs* a) {
  const Geometry& g = *a->g;
  alignas(64) float tmp[kTile * kAlpha * L], o[kTile * kTile * L];
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const auto [n, th, tw, rows, cols] = tile_pos(g, t);
    for (int64_t kb = a->kb0; kb < a->kb1; ++kb) {
      const float* m = a->M + (t - a->base) * g.Kp + kb * L;
      for (int j = 0; j < kAlpha; ++j) at6(m + j * a->stride_e, kAlpha * a->stride_e, tmp + j * L, kAlpha * L);
      for (int i = 0; i < kTile; ++i) at6(tmp + i * kAlpha * L, L, o + i * kTile * L, L);
      const int64_t kn = g.Cout - kb * L < L ? g.Cout - kb * L : L;
      for (int64_t c = 0; c < kn; ++c) {
        const int64_t k = kb * L + c;
        const float b = a->bias ? a->bias[k] : 0.f;
        float* y = a->y + ((n * g.Cout + k) * g.out_h + kTile * th) * g.out_w + kTile * tw;
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) y[i * g.out_w + j] = o[(i * kTile + j) * L + c] + b;
      }
    }
  }
}

void gradout_transform__scalar(const GradOutArgs* a) {
  const Geometry& g = *a->g;
  alignas(64) float d[kTile * kTile * L], tmp[kAlpha * kTile * L];
  for (int64_t t = a->t0; t < a->t1; ++t) {
    const auto [n, th, tw, rows, cols] = tile_pos(g, t);
    for (int64_t kb = a->kb0; kb < a->kb1; ++kb) {
      const int64_t kn = g.Cout - kb * L < L ? g.Cout - kb * L : L;
      std::memset(d, 0, sizeof(d));
      for (int64_t c = 0; c < kn; ++c) {
        const float* y = a->dy + ((n * g.Cout + kb * L + c) * g.out_h + kTile * th) * g.out_w + kTile * tw;
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) d[(i * kTile + j) * L + c] = y[i * g.out_w + j];
      }
      for (int j = 0; j < kTile; ++j) a4(d + j * L, kTile * L, tmp + j * L, kTile * L);  // columns
      float* w = a->Wt + (t - a->base) * g.Kp + kb * L;
      for (int i = 0; i < kAlpha; ++i) a4(tmp + i * kTile * L, L, w + i * kAlpha * a->stride_e, a->stride_e);
    }
  }
}

// G^T m G for the 6x6 m of every lane (the adjoint of filter_transform's G g G^T). Applied once to rows and once to
// columns, m -> m G exploits G's structure:
//   o0 = m0/4 - (m1+m2)/6 + (m3+m4)/24,  o1 = (m2-m1)/6 + (m3-m4)/12,  o2 = (m3+m4-m1-m2)/6 + m5.
namespace {
inline void g_apply(const float* v0, const float* v1, const float* v2, const float* v3, const float* v4,
                    const float* v5, int64_t n, float* o0, float* o1, float* o2) {
  for (int64_t l = 0; l < n; ++l) {
    const float p = v1[l] + v2[l], q = v3[l] + v4[l];
    o0[l] = v0[l] * 0.25f - p * (1.f / 6) + q * (1.f / 24);
    o1[l] = (v2[l] - v1[l]) * (1.f / 6) + (v3[l] - v4[l]) * (1.f / 12);
    o2[l] = (q - p) * (1.f / 6) + v5[l];
  }
}
}  // namespace

void filter_adjoint__scalar(const AdjointArgs* a) {
  const int64_t plane = a->plane, n = a->n;
  alignas(64) float t[6][3][L], o[3][3][L];
  for (int i = 0; i < 6; ++i) {
    const float* r = a->m + i * 6 * plane;
    g_apply(r, r + plane, r + 2 * plane, r + 3 * plane, r + 4 * plane, r + 5 * plane, n, t[i][0], t[i][1],
            t[i][2]);
  }
  for (int s = 0; s < 3; ++s)
    g_apply(t[0][s], t[1][s], t[2][s], t[3][s], t[4][s], t[5][s], n, o[0][s], o[1][s], o[2][s]);
  for (int64_t l = 0; l < n; ++l)
    for (int r = 0; r < 3; ++r)
      for (int s = 0; s < 3; ++s) a->dw[l * a->dw_stride + r * 3 + s] = o[r][s][l];
}

}  // namespace fastconv::cpu::winograd
