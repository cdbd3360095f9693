#include "fastconv/cpu_features.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "fastconv/error.h"

namespace fastconv {
namespace {

uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.vendor = vendor;

  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = c & bit_SSE4_2;
  f.fma = c & bit_FMA;
  f.f16c = c & bit_F16C;
  bool osxsave = c & bit_OSXSAVE;
  bool cpu_avx = c & bit_AVX;
  if (osxsave) {
    uint64_t xcr0 = xgetbv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;        // XMM and YMM state
    f.os_avx512 = (xcr0 & 0xE6) == 0xE6;   // plus opmask and ZMM state
  }
  f.avx = cpu_avx && f.os_avx;
  if (max_leaf >= 7) {
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    f.avx2 = (b & bit_AVX2) && f.os_avx;
    f.avx512f = (b & bit_AVX512F) && f.os_avx512;
    f.avx512bw = (b & bit_AVX512BW) && f.os_avx512;
    f.avx512vl = (b & bit_AVX512VL) && f.os_avx512;
    f.avx512dq = (b & bit_AVX512DQ) && f.os_avx512;
  }
  f.fma = f.fma && f.os_avx;

  unsigned ext_max = __get_cpuid_max(0x80000000, nullptr);
  if (ext_max >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002 + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.brand = brand;
    size_t s = f.brand.find_first_not_of(' ');
    f.brand = s == std::string::npos ? "" : f.brand.substr(s);
  }

  if (const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE); l2 > 0) f.l2_bytes = l2;
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma)
    f.best = Isa::avx512;
  else if (f.avx2 && f.fma)
    f.best = Isa::avx2;
  return f;
}

std::once_flag g_once;
Isa g_active = Isa::scalar;

void check_supported(Isa isa, const char* who) {
  const CpuFeatures& f = cpu_features();
  FC_CHECK(static_cast<int>(isa) <= static_cast<int>(f.best), Value, who, ": this CPU cannot run '", isa_name(isa),
           "' kernels; the highest level it supports is '", isa_name(f.best), "'");
}

void init_active() {
  std::call_once(g_once, [] {
    g_active = cpu_features().best;
    if (const char* env = std::getenv("FASTCONV_ISA")) {
      if (*env) {
        Isa want = parse_isa(env);
        check_supported(want, "FASTCONV_ISA");
        g_active = want;
      }
    }
  });
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

Isa parse_isa(const std::string& name) {
  if (name == "avx512") return Isa::avx512;
  if (name == "avx2") return Isa::avx2;
  if (name == "scalar") return Isa::scalar;
  fail(ErrorKind::Value, "unknown instruction-set level '", name, "'; expected one of 'avx512', 'avx2', 'scalar'");
}

Isa active_isa() {
  init_active();
  return g_active;
}

void set_isa(Isa isa) {
  init_active();
  check_supported(isa, "set_isa");
  g_active = isa;
}

}  // namespace fastconv
