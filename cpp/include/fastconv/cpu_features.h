// Runtime CPU feature detection and the instruction-set level kernels are picked for.
#pragma once
#include <string>

#include "fastconv/export.h"

namespace fastconv {

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

struct FASTCONV_API CpuFeatures {
  std::string vendor, brand;
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // the OS saves the wide registers (XGETBV)
  Isa best = Isa::scalar;                  // highest level both CPU and OS support
  // Per-core L2 size (glibc's reading of CPUID; 2 MiB when unknown): blocking choices that trade re-reading data
  // from L3 against writing it out depend on it (conv_winograd_f4x3.cpp).
  long l2_bytes = 2l << 20;
};

FASTCONV_API const CpuFeatures& cpu_features();
FASTCONV_API const char* isa_name(Isa isa);
FASTCONV_API Isa parse_isa(const std::string& name);  // throws ValueError for an unknown name

// The level kernels use. Starts at FASTCONV_ISA when set (error if the CPU lacks it), else the best found.
FASTCONV_API Isa active_isa();
FASTCONV_API void set_isa(Isa isa);  // throws when the CPU cannot run `isa`

// Picks one of three implementations of a kernel for the active level.
template <class F>
F pick_isa(F scalar, F avx2, F avx512) {
  switch (active_isa()) {
    case Isa::avx512: return avx512 ? avx512 : (avx2 ? avx2 : scalar);
    case Isa::avx2: return avx2 ? avx2 : scalar;
    default: return scalar;
  }
}

}  // namespace fastconv
