#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

#include "fastconv/export.h"

namespace fastconv {

// float32 is the compute type today; f16/bf16 are reserved so storage and serialisation already carry them.
enum class DType : uint8_t { f32 = 0, f16, bf16, f64, i64, i32, u8, boolean };

FASTCONV_API size_t dtype_size(DType t);
FASTCONV_API const char* dtype_name(DType t);
FASTCONV_API DType dtype_from_name(const std::string& name);  // throws TypeError naming the unknown dtype
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

enum class DeviceType : uint8_t { CPU = 0, CUDA = 1 };

struct FASTCONV_API Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  bool is_cpu() const { return type == DeviceType::CPU; }
  std::string str() const;
  static Device parse(const std::string& s);  // "cpu", "cuda", "cuda:1"
};
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace fastconv
