// softmax / log_softmax and their backward, AVX-512. Rows (inner == 1) reduce along contiguous memory; otherwise
// 16 neighbouring inner positions are reduced together down the strided softmax axis.
// NaN anywhere in a row makes the whole row NaN (as torch): exp(NaN - max) poisons the sum.
// GCC 12's own AVX-512 headers trip -Wmaybe-uninitialized (_mm512_undefined_ps inside intrinsics).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "cpu/activation.h"
#include "cpu/activation_vmath.h"

namespace fastconv::cpu {
namespace {

inline __mmask16 tail_mask(int64_t k) { return k >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << k) - 1); }

void softmax_row(const float* x, float* y, int64_t D, bool log) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vm = ninf;
  for (int64_t d = 0; d < D; d += 16) vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(ninf, tail_mask(D - d), x + d));
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
  __m512 vs = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    __mmask16 k = tail_mask(D - d);
    __m512 e = _mm512_maskz_mov_ps(k, vexp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + d), m)));
    if (!log) _mm512_mask_storeu_ps(y + d, k, e);
    vs = _mm512_add_ps(vs, e);
  }
  const float s = _mm512_reduce_add_ps(vs);
  if (log) {
    // (x - max) - log(sum), never x - (max + log(sum)): at logits of 1e4 the float sum max + log(sum) keeps only
    // ~3 decimals of log(sum) (log_softmax([10000, ..., 10003]) was off by 2.4e-4).
    const __m512 ls = _mm512_set1_ps(std::log(s));
    for (int64_t d = 0; d < D; d += 16) {
      __mmask16 k = tail_mask(D - d);
      _mm512_mask_storeu_ps(y + d, k, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + d), m), ls));
    }
  } else {
    const __m512 inv = _mm512_set1_ps(1.f / s);
    for (int64_t d = 0; d < D; d += 16) {
      __mmask16 k = tail_mask(D - d);
      _mm512_mask_storeu_ps(y + d, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + d), inv));
    }
  }
}

void softmax_cols(const float* x, float* y, int64_t D, int64_t I, __mmask16 k, bool log) {
  __m512 vm = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t d = 0; d < D; ++d) vm = _mm512_max_ps(vm, _mm512_maskz_loadu_ps(k, x + d * I));
  __m512 vs = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    __m512 e = vexp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + d * I), vm));
    if (!log) _mm512_mask_storeu_ps(y + d * I, k, e);
    vs = _mm512_add_ps(vs, e);
  }
  if (log) {
    alignas(64) float s[16];
    _mm512_store_ps(s, vs);
    for (float& v : s) v = std::log(v);
    const __m512 ls = _mm512_load_ps(s);  // (x - max) - log(sum), as in softmax_row
    for (int64_t d = 0; d < D; ++d)
      _mm512_mask_storeu_ps(y + d * I, k, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + d * I), vm), ls));
  } else {
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.f), vs);
    for (int64_t d = 0; d < D; ++d)
      _mm512_mask_storeu_ps(y + d * I, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + d * I), inv));
  }
}

// softmax: dx = y (g - sum g y); log_softmax: dx = g - exp(y) sum g. Columns of width <= 16 at stride I.
void softmax_backward_block(const float* g, const float* y, float* dx, int64_t D, int64_t I, __mmask16 k, bool log,
                            bool row) {
  // row: D contiguous elements walked 16 at a time (I ignored); else D strided vectors of k lanes.
  const int64_t n = row ? (D + 15) / 16 : D, step = row ? 16 : I;
  auto mask = [&](int64_t j) { return row ? tail_mask(D - j * 16) : k; };
  __m512 vs = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; ++j) {
    __mmask16 m = mask(j);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + j * step);
    vs = log ? _mm512_add_ps(vs, gv) : _mm512_fmadd_ps(gv, _mm512_maskz_loadu_ps(m, y + j * step), vs);
  }
  const __m512 s = row ? _mm512_set1_ps(_mm512_reduce_add_ps(vs)) : vs;
  for (int64_t j = 0; j < n; ++j) {
    __mmask16 m = mask(j);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + j * step), yv = _mm512_maskz_loadu_ps(m, y + j * step);
    __m512 r = log ? _mm512_fnmadd_ps(vexp512(yv), s, gv) : _mm512_mul_ps(yv, _mm512_sub_ps(gv, s));
    _mm512_mask_storeu_ps(dx + j * step, m, r);
  }
}

}  // namespace

void softmax__avx512(const ref::SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1) {
  const int64_t D = p.dim, I = p.inner;
  for (int64_t o = o0; o < o1; ++o) {
    const float* xo = x + o * D * I;
    float* yo = y + o * D * I;
    if (I == 1) {
      softmax_row(xo, yo, D, p.log);
    } else {
      for (int64_t i = 0; i < I; i += 16) softmax_cols(xo + i, yo + i, D, I, tail_mask(I - i), p.log);
    }
  }
}

void softmax_backward__avx512(const ref::SoftmaxParams& p, const float* g, const float* y, float* dx, int64_t o0,
                              int64_t o1) {
  const int64_t D = p.dim, I = p.inner;
  for (int64_t o = o0; o < o1; ++o) {
    const int64_t off = o * D * I;
    if (I == 1) {
      softmax_backward_block(g + off, y + off, dx + off, D, 1, 0xFFFF, p.log, true);
    } else {
      for (int64_t i = 0; i < I; i += 16)
        softmax_backward_block(g + off + i, y + off + i, dx + off + i, D, I, tail_mask(I - i), p.log, false);
    }
  }
}

}  // namespace fastconv::cpu
