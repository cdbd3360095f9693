// TEMPORARY: a minimal safetensors reader/writer (no checksum, few checks) so branch model links and tests before
// branch io lands safetensors.cpp. Every function is a weak symbol: io's definitions replace them at link time;
// delete this file once io is merged.
#include <cstring>
#include <fstream>
#include <sstream>

#include "fastconv/error.h"
#include "io/json.h"
#include "io/safetensors.h"

namespace fastconv::io {
static const char* code(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::boolean: return "BOOL";
    default: return "F16";
  }
}
static DType from_code(const std::string& c) {
  if (c == "F32") return DType::f32;
  if (c == "F64") return DType::f64;
  if (c == "I64") return DType::i64;
  if (c == "I32") return DType::i32;
  if (c == "U8") return DType::u8;
  if (c == "BOOL") return DType::boolean;
  if (c == "F16") return DType::f16;
  fail(ErrorKind::Value, "stub: dtype ", c);
}
__attribute__((weak)) SafetensorsFile parse_safetensors(const void* data, size_t n, const std::string& source) {
  const char* p = static_cast<const char*>(data);
  FC_CHECK(n >= 8, Value, "fastconv.load: ", source, ": truncated");
  uint64_t hl;
  std::memcpy(&hl, p, 8);
  FC_CHECK(hl <= n - 8, Value, "fastconv.load: ", source, ": truncated header");
  json::Value h = json::parse(std::string_view(p + 8, hl), "header");
  SafetensorsFile f;
  const char* base = p + 8 + hl;
  size_t avail = n - 8 - hl;
  for (const auto& [k, v] : h.members()) {
    if (k == "__metadata__") {
      for (const auto& [mk, mv] : v.members()) f.metadata[mk] = mv.as_string();
      continue;
    }
    Shape s;
    for (const auto& d : v.at("shape").items()) s.push_back(d.as_int());
    const auto& off = v.at("data_offsets").items();
    size_t b = size_t(off.at(0).as_int()), e = size_t(off.at(1).as_int());
    FC_CHECK(b <= e && e <= avail, Value, "stub: offsets");
    Tensor t = Tensor::empty(s, from_code(v.at("dtype").as_string()));
    FC_CHECK(t.nbytes() == e - b, Value, "stub: size");
    std::memcpy(t.data_ptr(), base + b, e - b);
    f.tensors.emplace_back(k, t);
  }
  return f;
}
__attribute__((weak)) SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FC_CHECK(in, Value, "fastconv.load: ", path, ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return parse_safetensors(s.data(), s.size(), path);
}
__attribute__((weak)) void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json::Value h = json::Value::object(), m = json::Value::object();
  for (const auto& [k, v] : metadata) m.set(k, json::Value(v));
  h.set("__metadata__", m);
  std::string data;
  for (const auto& [k, t] : tensors) {
    Tensor c = t.to(Device{}).contiguous();
    json::Value e = json::Value::object(), sh = json::Value::array(), off = json::Value::array();
    for (int64_t d : c.shape()) sh.push(json::Value(d));
    off.push(json::Value(int64_t(data.size())));
    data.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
    off.push(json::Value(int64_t(data.size())));
    e.set("dtype", json::Value(code(c.dtype())));
    e.set("shape", sh);
    e.set("data_offsets", off);
    h.set(k, e);
  }
  std::string hs = json::dump(h);
  uint64_t hl = hs.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&hl), 8);
  out << hs << data;
}
}  // namespace fastconv::io
