// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the model file's data checksum. SSE4.2 has an
// instruction for exactly this polynomial; the library's baseline is plain x86-64, so that path is compiled for
// sse4.2 alone (target attribute) and chosen at run time, with a slicing-by-8 table as the fallback.
#include <cstring>

#include "fastconv/cpu_features.h"
#include "safetensors.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#define FASTCONV_CRC_HW 1
#endif

namespace fastconv::io {
namespace {

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
      t[0][i] = c;
    }
    for (int s = 1; s < 8; ++s)
      for (uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};

// The state is the inverted CRC (what the instruction works on).
uint32_t update_sw(uint32_t c, const unsigned char* p, size_t n) {
  static const Tables tb;
  const auto& t = tb.t;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);  // little-endian: the byte order the bitwise definition consumes
    w ^= c;
    c = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
        t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xFF];
  return c;
}

#ifdef FASTCONV_CRC_HW
__attribute__((target("sse4.2"))) uint32_t update_hw(uint32_t c, const unsigned char* p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = _mm_crc32_u64(c64, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c64);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

}  // namespace

// For the tests: each path on its own (crc32c picks one).
uint32_t crc32c_software(const void* data, size_t nbytes, uint32_t crc) {
  return ~update_sw(~crc, static_cast<const unsigned char*>(data), nbytes);
}
bool crc32c_hardware_available() {
#ifdef FASTCONV_CRC_HW
  return cpu_features().sse42;
#else
  return false;
#endif
}
uint32_t crc32c_hardware(const void* data, size_t nbytes, uint32_t crc) {
#ifdef FASTCONV_CRC_HW
  if (crc32c_hardware_available()) return ~update_hw(~crc, static_cast<const unsigned char*>(data), nbytes);
#endif
  return crc32c_software(data, nbytes, crc);
}

uint32_t crc32c(const void* data, size_t nbytes, uint32_t crc) {
  static const bool hw = crc32c_hardware_available();
  return hw ? crc32c_hardware(data, nbytes, crc) : crc32c_software(data, nbytes, crc);
}

}  // namespace fastconv::io
