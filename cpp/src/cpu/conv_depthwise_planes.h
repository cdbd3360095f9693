// The depthwise plane kernels, written once over three row primitives that the including ISA file defines first
// (inside its anonymous namespace, as this file must be included):
//   row_axpy(y, x, a, n, sx):     y[i] += a * x[i*sx]
//   row_scatter(y, sy, x, a, n):  y[i*sy] += a * x[i]
//   row_dot(a, b, n, sb):         sum a[i] * b[i*sb]
// For each output row and kernel tap, the W range whose input is inside the image is computed once, so the rows
// need no bounds checks and no padding copies.

template <class RowFn>
inline void for_each_row_tap(const ::fastconv::cpu::ConvParams& p, RowFn&& f) {
  const int64_t W = p.in[2], OW = p.out[2], sw = p.stride[2];
  for (int64_t od = 0; od < p.out[0]; ++od)
    for (int64_t kd = 0; kd < p.k[0]; ++kd) {
      const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
      if (id < 0 || id >= p.in[0]) continue;
      for (int64_t oh = 0; oh < p.out[1]; ++oh)
        for (int64_t kh = 0; kh < p.k[1]; ++kh) {
          const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
          if (ih < 0 || ih >= p.in[1]) continue;
          for (int64_t kw = 0; kw < p.k[2]; ++kw) {
            const int64_t off = kw * p.dil[2] - p.pad[2];
            int64_t lo, hi;
            ::fastconv::cpu::conv_valid_range(off, sw, W, OW, &lo, &hi);
            if (lo >= hi) continue;
            f((od * p.out[1] + oh) * OW + lo, (id * p.in[1] + ih) * W + lo * sw + off,
              (kd * p.k[1] + kh) * p.k[2] + kw, hi - lo);
          }
        }
    }
}

inline void dw_forward_plane(const ::fastconv::cpu::ConvParams& p, const float* x, const float* w, float bias,
                             float* y) {
  const int64_t ov = p.out[0] * p.out[1] * p.out[2];
  for (int64_t o = 0; o < ov; ++o) y[o] = bias;
  const int64_t sw = p.stride[2];
  for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) { row_axpy(y + yo, x + xo, w[t], n, sw); });
}

inline void dw_backward_data_plane(const ::fastconv::cpu::ConvParams& p, const float* dy, const float* w,
                                   float* dx) {
  const int64_t sw = p.stride[2];
  for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) {
    row_scatter(dx + xo, sw, dy + yo, w[t], n);
  });
}

inline void dw_backward_weight_plane(const ::fastconv::cpu::ConvParams& p, const float* dy, const float* x,
                                     float* dw) {
  const int64_t sw = p.stride[2];
  for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) { dw[t] += row_dot(dy + yo, x + xo, n, sw); });
}
