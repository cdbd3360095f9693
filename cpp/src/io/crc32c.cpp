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

// Combining CRCs of adjacent pieces (zlib's crc32_combine, for this polynomial): crc(A || B) is crc(A) times
// x^(8 len(B)) modulo P, plus crc(B). Multiplication is in GF(2)[x] on the reflected representation.
constexpr uint32_t kPoly = 0x82F63B78u;
uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}
uint32_t x8nmodp(size_t n) {  // x^(8n) mod P by squaring
  uint32_t result = 1u << 31, sq = 1u << 23;  // x^0; x^8
  while (n) {
    if (n & 1) result = multmodp(sq, result);
    sq = multmodp(sq, sq);
    n >>= 1;
  }
  return result;
}

#ifdef FASTCONV_CRC_HW
// The instruction has a 3-cycle latency and 1-cycle throughput: one dependent chain runs at a third of the
// unit's speed, so large buffers go as three independent chains over thirds of the buffer, combined at the end.
__attribute__((target("sse4.2"))) uint32_t update_hw(uint32_t c, const unsigned char* p, size_t n) {
  if (n >= 768) {
    size_t third = n / 3 / 8 * 8;
    const unsigned char *p1 = p + third, *p2 = p + 2 * third;
    uint64_t s0 = c, s1 = 0xFFFFFFFFu, s2 = 0xFFFFFFFFu;
    for (size_t i = 0; i < third; i += 8) {
      uint64_t w0, w1, w2;
      std::memcpy(&w0, p + i, 8);
      std::memcpy(&w1, p1 + i, 8);
      std::memcpy(&w2, p2 + i, 8);
      s0 = _mm_crc32_u64(s0, w0);
      s1 = _mm_crc32_u64(s1, w1);
      s2 = _mm_crc32_u64(s2, w2);
    }
    uint32_t shift = x8nmodp(third);
    uint32_t crc = ~static_cast<uint32_t>(s0);
    crc = multmodp(shift, crc) ^ ~static_cast<uint32_t>(s1);
    crc = multmodp(shift, crc) ^ ~static_cast<uint32_t>(s2);
    c = ~crc;
    p += 3 * third;
    n -= 3 * third;
  }
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
