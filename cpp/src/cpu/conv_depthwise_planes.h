// The depthwise plane kernels, written once over four row primitives that the including ISA file defines first
// (inside its anonymous namespace, as this file must be included):
//   row_axpy(y, x, a, n, sx):     y[i] += a * x[i*sx]
//   row_scatter(y, sy, x, a, n):  y[i*sy] += a * x[i]
//   row_dot(a, b, n, sb):         sum a[i] * b[i*sb]
//   row_taps(y, rows, wrows, nrows, offs, ntaps, n):
//                                 y[i] += sum_r sum_t wrows[r][t] * rows[r][i + offs[t]]   (all reads in bounds)
// For each kernel tap, the W range whose input is inside the image is computed once per plane, so rows need no
// bounds checks and no padding copies. The stride-1 forward keeps a whole output row segment in registers across
// every tap (row_taps) and handles only the few border columns tap by tap.

constexpr int kMaxTaps = 32;  // per kernel row (kW) and per output row (kD*kH) for the fast paths

template <class RowFn>
inline void for_each_row_tap(const ::fastconv::cpu::ConvParams& p, RowFn&& f) {
  const int64_t W = p.in[2], OW = p.out[2], sw = p.stride[2];
  int64_t los[kMaxTaps], his[kMaxTaps];
  const bool cached = p.k[2] <= kMaxTaps;
  if (cached)
    for (int64_t kw = 0; kw < p.k[2]; ++kw)
      ::fastconv::cpu::conv_valid_range(kw * p.dil[2] - p.pad[2], sw, W, OW, &los[kw], &his[kw]);
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
            if (cached)
              lo = los[kw], hi = his[kw];
            else
              ::fastconv::cpu::conv_valid_range(off, sw, W, OW, &lo, &hi);
            if (lo >= hi) continue;
            f((od * p.out[1] + oh) * OW + lo, (id * p.in[1] + ih) * W + lo * sw + off,
              (kd * p.k[1] + kh) * p.k[2] + kw, hi - lo);
          }
        }
    }
}

// y[i] += sum_r sum_t wrows[r][t] * rows[r][i + offs[t]] over i < ny, reads outside [0, nx) being zero: the
// columns where every tap is inside go through row_taps, the few border columns tap by tap.
inline void gather_row(float* y, int64_t ny, const float* const* rows, const float* const* wrows, int64_t nr,
                       const int64_t* offs, int64_t ntaps, int64_t nx) {
  int64_t ilo = 0, ihi = ny;
  for (int64_t t = 0; t < ntaps; ++t) {
    int64_t lo, hi;
    ::fastconv::cpu::conv_valid_range(offs[t], 1, nx, ny, &lo, &hi);
    ilo = lo > ilo ? lo : ilo;
    ihi = hi < ihi ? hi : ihi;
  }
  if (ihi < ilo) ihi = ilo;
  auto border = [&](int64_t i) {
    float s = 0;
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t t = 0; t < ntaps; ++t) {
        const int64_t j = i + offs[t];
        if (j >= 0 && j < nx) s += wrows[r][t] * rows[r][j];
      }
    y[i] += s;
  };
  for (int64_t i = 0; i < ilo; ++i) border(i);
  for (int64_t i = ihi; i < ny; ++i) border(i);
  if (ihi > ilo && nr > 0) {
    const float* shifted[kMaxTaps];
    for (int64_t r = 0; r < nr; ++r) shifted[r] = rows[r] + ilo;
    row_taps(y + ilo, shifted, wrows, nr, offs, ntaps, ihi - ilo);
  }
}

inline void dw_forward_plane(const ::fastconv::cpu::ConvParams& p, const float* x, const float* w, float bias,
                             float* y) {
  const int64_t ov = p.out[0] * p.out[1] * p.out[2];
  for (int64_t o = 0; o < ov; ++o) y[o] = bias;
  const int64_t sw = p.stride[2], KW = p.k[2], OW = p.out[2], W = p.in[2];
  if (sw != 1 || KW > kMaxTaps || p.k[0] * p.k[1] > kMaxTaps) {
    for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) { row_axpy(y + yo, x + xo, w[t], n, sw); });
    return;
  }
  int64_t offs[kMaxTaps];
  for (int64_t kw = 0; kw < KW; ++kw) offs[kw] = kw * p.dil[2] - p.pad[2];
  const float* rows[kMaxTaps];
  const float* wrows[kMaxTaps];
  for (int64_t od = 0; od < p.out[0]; ++od)
    for (int64_t oh = 0; oh < p.out[1]; ++oh) {
      int64_t nr = 0;
      for (int64_t kd = 0; kd < p.k[0]; ++kd) {
        const int64_t id = od * p.stride[0] - p.pad[0] + kd * p.dil[0];
        if (id < 0 || id >= p.in[0]) continue;
        for (int64_t kh = 0; kh < p.k[1]; ++kh) {
          const int64_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dil[1];
          if (ih < 0 || ih >= p.in[1]) continue;
          rows[nr] = x + (id * p.in[1] + ih) * W;
          wrows[nr++] = w + (kd * p.k[1] + kh) * KW;
        }
      }
      gather_row(y + (od * p.out[1] + oh) * OW, OW, rows, wrows, nr, offs, KW, W);
    }
}

// The data gradient at W-stride 1 is again a correlation along W (taps at p - kw*d) over the output rows that
// each input row feeds, so it takes the same register-blocked path as the forward pass.
inline void dw_backward_data_plane(const ::fastconv::cpu::ConvParams& p, const float* dy, const float* w,
                                   float* dx) {
  const int64_t sw = p.stride[2], KW = p.k[2], OW = p.out[2], W = p.in[2];
  if (sw != 1 || KW > kMaxTaps || p.k[0] * p.k[1] > kMaxTaps) {
    for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) { row_scatter(dx + xo, sw, dy + yo, w[t], n); });
    return;
  }
  int64_t offs[kMaxTaps];
  for (int64_t kw = 0; kw < KW; ++kw) offs[kw] = p.pad[2] - kw * p.dil[2];
  const float* rows[kMaxTaps];
  const float* wrows[kMaxTaps];
  for (int64_t id = 0; id < p.in[0]; ++id)
    for (int64_t ih = 0; ih < p.in[1]; ++ih) {
      int64_t nr = 0;
      for (int64_t kd = 0; kd < p.k[0]; ++kd) {
        const int64_t td = id + p.pad[0] - kd * p.dil[0];  // = od * stride
        if (td < 0 || td % p.stride[0] || td / p.stride[0] >= p.out[0]) continue;
        for (int64_t kh = 0; kh < p.k[1]; ++kh) {
          const int64_t th = ih + p.pad[1] - kh * p.dil[1];
          if (th < 0 || th % p.stride[1] || th / p.stride[1] >= p.out[1]) continue;
          rows[nr] = dy + (td / p.stride[0] * p.out[1] + th / p.stride[1]) * OW;
          wrows[nr++] = w + (kd * p.k[1] + kh) * KW;
        }
      }
      gather_row(dx + (id * p.in[1] + ih) * W, W, rows, wrows, nr, offs, KW, OW);
    }
}

inline void dw_backward_weight_plane(const ::fastconv::cpu::ConvParams& p, const float* dy, const float* x,
                                     float* dw) {
  const int64_t sw = p.stride[2];
  for_each_row_tap(p, [&](int64_t yo, int64_t xo, int64_t t, int64_t n) { dw[t] += row_dot(dy + yo, x + xo, n, sw); });
}
