// Reference kernels for the channel/space permutations: pixel_shuffle (depth to space), its inverse
// pixel_unshuffle, and channel_shuffle (ShuffleNet). Each output element is one input element: byte movers.
#pragma once
#include <cstdint>

namespace fastconv::ref {

// pixel_shuffle: [outer, C*r*r, H, W] -> [outer, C, H*r, W*r] with y[o, c, h*r+i, w*r+j] = x[o, c*r*r+i*r+j, h, w].
// `inverse` runs pixel_unshuffle, the same map read the other way (x in the large layout). Planes [o0, o1).
struct PixelShuffleParams {
  int64_t outer = 0, C = 0, H = 0, W = 0, r = 1;  // C of the [C, H*r, W*r] side; H, W of the [C*r*r, H, W] side
};
void pixel_shuffle(const PixelShuffleParams& p, const float* x, float* y, bool inverse, int64_t o0, int64_t o1);

// channel_shuffle: [outer, g * k, inner] -> y[o, j * g + i] = x[o, i * k + j] (channels as a g x k matrix,
// transposed). Planes [o0, o1).
struct ChannelShuffleParams {
  int64_t outer = 0, groups = 1, per_group = 0, inner = 1;
};
void channel_shuffle(const ChannelShuffleParams& p, const float* x, float* y, int64_t o0, int64_t o1);

}  // namespace fastconv::ref
