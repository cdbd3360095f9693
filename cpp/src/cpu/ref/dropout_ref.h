// Dropout masks from a counter-based hash: mask entry i of step `step` under `seed` is a pure function of
// (seed, step, i), so any split over threads gives the same mask, and a compiled graph draws a new mask each step.
#pragma once
#include <cstdint>

namespace fastconv::ref {

// splitmix64's finaliser: a bijection on 64 bits with full avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct DropoutParams {
  uint64_t seed = 0, step = 0;
  float p = 0.5f;
  int64_t entries = 0;  // mask entries: every element (dropout) or every (n, c) channel (dropout2d)
  int64_t inner = 1;    // elements sharing one mask entry
  // Entry i is kept when the top 32 bits of its hash are >= threshold = p * 2^32 (p = 1: never).
  uint64_t threshold() const { return uint64_t(double(p) * 4294967296.0); }
  float scale() const { return p < 1.f ? 1.f / (1.f - p) : 0.f; }
  uint64_t stream() const { return mix64(seed ^ mix64(step + 0x9E3779B97F4A7C15ull)); }
};

inline bool dropout_keep(uint64_t stream, uint64_t threshold, int64_t i) {
  return (mix64(stream + uint64_t(i) * 0x9E3779B97F4A7C15ull) >> 32) >= threshold;
}

// Entries [e0, e1): y = x * mask * scale, mask[e] in {0, 1}.
void dropout(const DropoutParams& p, const float* x, float* y, uint8_t* mask, int64_t e0, int64_t e1);
// dx = grad * mask * scale
void dropout_backward(const DropoutParams& p, const float* grad, const uint8_t* mask, float* dx, int64_t e0,
                      int64_t e1);

}  // namespace fastconv::ref
