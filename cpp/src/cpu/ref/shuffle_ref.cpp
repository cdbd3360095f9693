#include "cpu/ref/shuffle_ref.h"

#include <cstring>

namespace fastconv::ref {

void pixel_shuffle(const PixelShuffleParams& p, const float* x, float* y, bool inverse, int64_t o0, int64_t o1) {
  const int64_t r = p.r, plane = p.C * r * r * p.H * p.W, Wr = p.W * r;
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t c = 0; c < p.C; ++c)
      for (int64_t i = 0; i < r; ++i)
        for (int64_t j = 0; j < r; ++j) {
          const int64_t deep = o * plane + ((c * r + i) * r + j) * p.H * p.W;  // channel c*r*r + i*r + j
          for (int64_t h = 0; h < p.H; ++h)
            for (int64_t w = 0; w < p.W; ++w) {
              const int64_t d = deep + h * p.W + w, s = o * plane + (c * p.H * r + h * r + i) * Wr + w * r + j;
              if (inverse) y[d] = x[s];
              else y[s] = x[d];
            }
        }
}

void channel_shuffle(const ChannelShuffleParams& p, const float* x, float* y, int64_t o0, int64_t o1) {
  const int64_t C = p.groups * p.per_group;
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t i = 0; i < p.groups; ++i)
      for (int64_t j = 0; j < p.per_group; ++j)
        std::memcpy(y + (o * C + j * p.groups + i) * p.inner, x + (o * C + i * p.per_group + j) * p.inner,
                    size_t(p.inner) * sizeof(float));
}

}  // namespace fastconv::ref
