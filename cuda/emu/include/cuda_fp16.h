// The CUDA emulator's __half: IEEE binary16 storage, arithmetic in float, conversions rounding to nearest even.
#pragma once
#include "cuda_runtime.h"

struct __half {
  uint16_t bits;
};
namespace fc_emu {
inline uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));  // inf, NaN
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: inf
  if (ax < 0x38800000u) {                                  // subnormal half (or zero): scale and round
    float a;
    std::memcpy(&a, &ax, 4);
    return uint16_t(sign | uint32_t(nearbyintf(a * 16777216.0f)));  // 2^24 = one subnormal ulp
  }
  const uint32_t mant = ax + 0x0fffu + ((ax >> 13) & 1u);  // round to nearest even at bit 13
  return uint16_t(sign | ((mant - 0x38000000u) >> 13));
}
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t x;
  if (e == 0) {
    const float v = float(m) / 16777216.0f;
    std::memcpy(&x, &v, 4);
    x |= sign;
  } else if (e == 31) {
    x = sign | 0x7f800000u | (m << 13);
  } else {
    x = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
}  // namespace fc_emu
inline __half __float2half(float f) { return {fc_emu::float_to_half_bits(f)}; }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline float __half2float(__half h) { return fc_emu::half_bits_to_float(h.bits); }
inline __half operator+(__half a, __half b) { return __float2half(__half2float(a) + __half2float(b)); }
inline __half operator-(__half a, __half b) { return __float2half(__half2float(a) - __half2float(b)); }
inline __half operator*(__half a, __half b) { return __float2half(__half2float(a) * __half2float(b)); }
inline __half operator/(__half a, __half b) { return __float2half(__half2float(a) / __half2float(b)); }
