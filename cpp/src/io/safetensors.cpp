// safetensors reading and writing (safetensors.h). The reader checks what Python's loader checked, with its
// messages (tests/test_io*.py, tests/fuzz match them), then the CRC-32C of the data section when the file has one.
// The file is read whole in one go; the header JSON is parsed with json.h's bounds; tensors are views into that
// one buffer, so nothing is allocated beyond the file's own size before the checks pass.
#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "fastconv/error.h"
#include "json.h"

namespace fastconv::io {
namespace {

constexpr const char* kChecksumKey = "fastconv.checksum";
constexpr size_t kMaxDims = 32;
constexpr int64_t kMaxElements = int64_t(1) << 60;

struct Code {
  const char* name;
  size_t size;
  bool has_dtype;
  DType dtype;
};
const Code kCodes[] = {{"F32", 4, true, DType::f32}, {"F64", 8, true, DType::f64},  {"F16", 2, true, DType::f16},
                       {"I64", 8, true, DType::i64}, {"I32", 4, true, DType::i32},  {"I16", 2, false, DType::f32},
                       {"I8", 1, false, DType::f32}, {"U8", 1, true, DType::u8},    {"BOOL", 1, true, DType::boolean}};

const Code* find_code(const std::string& s) {
  for (const Code& c : kCodes)
    if (s == c.name) return &c;
  return nullptr;
}

// Python's repr of a JSON value (the old loader's messages showed `{x!r}`): lists "[1, 2]", strings 'a'.
void py_repr(const json::Value& v, std::string& out, int depth = 0) {
  if (out.size() > 200) return;  // messages quote the start of a hostile value, not all of it
  switch (v.type()) {
    case json::Type::Null: out += "None"; return;
    case json::Type::Bool: out += v.as_bool() ? "True" : "False"; return;
    case json::Type::Int: out += std::to_string(v.as_int()); return;
    case json::Type::Float: {
      char buf[40];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_float());
      std::string t(buf, r.ptr);
      if (t.find_first_of(".en") == std::string::npos) t += ".0";
      out += t;
      return;
    }
    case json::Type::String: out += "'" + v.as_string().substr(0, 100) + "'"; return;
    case json::Type::Array: {
      if (depth > 4) {
        out += "[...]";
        return;
      }
      out += '[';
      bool first = true;
      for (auto& x : v.items()) {
        if (!first) out += ", ";
        first = false;
        py_repr(x, out, depth + 1);
        if (out.size() > 200) {
          out += ", ...";
          break;
        }
      }
      out += ']';
      return;
    }
    case json::Type::Object: {
      if (depth > 4) {
        out += "{...}";
        return;
      }
      out += '{';
      bool first = true;
      for (auto& m : v.members()) {
        if (!first) out += ", ";
        first = false;
        out += "'" + m.first.substr(0, 100) + "': ";
        py_repr(m.second, out, depth + 1);
        if (out.size() > 200) {
          out += ", ...";
          break;
        }
      }
      out += '}';
      return;
    }
  }
}
std::string repr(const json::Value& v) {
  std::string s;
  py_repr(v, s);
  return s;
}
std::string shape_repr(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

struct Header {
  size_t length = 0;  // N
  std::vector<std::pair<std::string, json::Value>> entries;
  std::map<std::string, std::string> metadata;
};

// The 8-byte length and the JSON after it. `file_size` is the whole file's (only `bytes` of it may be at hand:
// read_metadata reads the header alone).
Header parse_header(const unsigned char* p, size_t available, size_t file_size, const std::string& src) {
  auto bad = [&](const auto&... parts) { fail(ErrorKind::Value, "fastconv.load: ", src, ": ", parts...); };
  if (file_size < 8)
    bad("file is ", file_size, " bytes, too short for a safetensors header (truncated or not a model file)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | p[i];
  if (n == 0 || n > file_size - 8)
    bad("header length ", n, " does not fit in a file of ", file_size, " bytes (truncated or corrupt)");
  FC_CHECK(available >= 8 + n, Runtime, "fastconv.load: ", src, ": header not read");
  json::Value root;
  try {
    root = json::parse(std::string_view(reinterpret_cast<const char*>(p + 8), n), "header");
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.find("nest deeper than") != std::string::npos)
      bad("header nests JSON arrays or objects too deeply to parse (", msg, ")");
    bad("header is not valid UTF-8 JSON (", msg, ")");
  }
  if (!root.is_object()) bad("header is not a JSON object");
  Header h;
  h.length = n;
  const json::Value* meta = nullptr;
  auto& members = root.members();
  h.entries.reserve(members.size());
  for (auto& m : members) {
    if (m.first == "__metadata__")
      meta = &m.second;
    else
      h.entries.emplace_back(m.first, m.second);
  }
  if (meta && !meta->is_null()) {
    if (!meta->is_object()) bad("__metadata__ must map strings to strings");
    for (auto& m : meta->members()) {
      if (m.second.type() != json::Type::String) bad("__metadata__ must map strings to strings");
      h.metadata.emplace(m.first, m.second.as_string());
    }
  }
  return h;
}

std::string hex8(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

void verify_checksum(const std::map<std::string, std::string>& meta, const unsigned char* data, size_t n,
                     const std::string& src) {
  auto it = meta.find(kChecksumKey);
  if (it == meta.end()) return;  // written before checksums existed
  const std::string& v = it->second;
  bool ok = v.size() == 15 && v.compare(0, 7, "crc32c:") == 0 &&
            std::all_of(v.begin() + 7, v.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  std::string shown = v.substr(0, 40);
  FC_CHECK(ok, Value, "fastconv.load: ", src, ": __metadata__ field '", kChecksumKey, "' is '", shown,
           "', expected 'crc32c:<8 lowercase hex digits>' (the file is corrupt)");
  uint32_t want = static_cast<uint32_t>(std::stoul(v.substr(7), nullptr, 16));
  uint32_t got = crc32c(data, n);
  FC_CHECK(got == want, Value, "fastconv.load: ", src, ": data checksum mismatch: the header records ", v,
           " but the ", n, "-byte data section has crc32c:", hex8(got),
           "; the file is corrupt (damaged on disk or in transfer, or changed after it was written)");
}

}  // namespace

size_t dtype_code_size(const std::string& code) {
  const Code* c = find_code(code);
  return c ? c->size : 0;
}

std::shared_ptr<Storage> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  int bad_stat = ::fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
  if (bad_stat) {
    int e = bad_stat;
    ::close(fd);
    errno = e;
    return nullptr;
  }
  size_t size = static_cast<size_t>(st.st_size);
  // Never an empty buffer: Storage wants a pointer, and the parser reports the length problem itself.
  auto buf = Storage::allocate(std::max<size_t>(size, 64), Device{});
  auto* p = static_cast<unsigned char*>(buf->data());
  size_t got = 0;
  while (got < size) {  // read() returns at most ~2 GiB at a time
    ssize_t r = ::read(fd, p + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return nullptr;
    }
    if (r == 0) break;  // shrank while reading: parse what is there
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  // The size that counts is what was read (the allocation is at least 64 bytes): a Storage of that size that
  // borrows the bytes and keeps the allocation alive.
  auto keep = buf;
  return std::make_shared<Storage>(p, got, Device{}, [keep](void*) {});
}

SafetensorsFile parse_safetensors(std::shared_ptr<Storage> buffer, const std::string& src) {
  auto bad = [&](const auto&... parts) { fail(ErrorKind::Value, "fastconv.load: ", src, ": ", parts...); };
  const auto* p = static_cast<const unsigned char*>(buffer->data());
  size_t size = buffer->nbytes();
  Header h = parse_header(p, size, size, src);
  size_t data_at = 8 + h.length;
  size_t data_len = size - data_at;

  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  out.raw.reserve(h.entries.size());
  std::vector<std::tuple<int64_t, int64_t, const std::string*>> spans;
  spans.reserve(h.entries.size());
  for (auto& [name, e] : h.entries) {
    if (!e.is_object() || e.members().size() != 3 || !e.find("dtype") || !e.find("shape") || !e.find("data_offsets"))
      bad("entry '", name, "' must have exactly dtype, shape and data_offsets");
    const json::Value& dt = e.at("dtype");
    const Code* code = dt.type() == json::Type::String ? find_code(dt.as_string()) : nullptr;
    if (!code) bad("tensor '", name, "' has unknown dtype ", repr(dt));
    const json::Value& sh = e.at("shape");
    bool shape_ok = sh.is_array() && sh.items().size() <= kMaxDims;
    Shape shape;
    if (shape_ok) {
      for (auto& d : sh.items()) {
        if (d.type() != json::Type::Int || d.as_int() < 0 || d.as_int() > kMaxElements) {
          shape_ok = false;
          break;
        }
        shape.push_back(d.as_int());
      }
    }
    if (!shape_ok)
      bad("tensor '", name, "' has an invalid shape ", repr(sh), " (expected at most ", kMaxDims,
          " non-negative sizes)");
    int64_t nonzero = 1;
    bool zero = false;
    for (int64_t d : shape) {
      if (d == 0) {
        zero = true;
        continue;
      }
      if (nonzero > kMaxElements / d) bad("tensor '", name, "' has shape ", shape_repr(shape),
                                          ", more elements than any tensor can hold");
      nonzero *= d;
    }
    const json::Value& offs = e.at("data_offsets");
    if (!offs.is_array() || offs.items().size() != 2 || offs.items()[0].type() != json::Type::Int ||
        offs.items()[1].type() != json::Type::Int)
      bad("tensor '", name, "' has invalid data_offsets ", repr(offs));
    int64_t b = offs.items()[0].as_int(), end = offs.items()[1].as_int();
    uint64_t need = zero ? 0 : static_cast<uint64_t>(nonzero) * code->size;  // <= 2^63: no overflow
    if (!(0 <= b && b <= end && static_cast<uint64_t>(end) <= data_len))
      bad("tensor '", name, "' data_offsets [", b, ", ", end, "] are outside the ", data_len,
          "-byte data section (truncated file?)");
    if (static_cast<uint64_t>(end - b) != need)
      bad("tensor '", name, "' has ", end - b, " bytes but dtype ", code->name, " shape ", shape_repr(shape),
          " needs ", need);
    spans.emplace_back(b, end, &name);
    RawTensor r;
    r.name = name;
    r.dtype = code->name;
    r.shape = std::move(shape);
    r.offset = data_at + static_cast<size_t>(b);
    r.nbytes = static_cast<size_t>(need);
    out.raw.push_back(std::move(r));
  }
  std::sort(spans.begin(), spans.end(), [](const auto& x, const auto& y) {
    return std::tie(std::get<0>(x), std::get<1>(x), *std::get<2>(x)) <
           std::tie(std::get<0>(y), std::get<1>(y), *std::get<2>(y));
  });
  int64_t pos = 0;
  for (auto& [b, end, name] : spans) {
    if (b != pos)
      bad("tensor '", *name, "' starts at byte ", b, " but the previous tensor ends at ", pos,
          " (overlapping or gapped data)");
    pos = end;
  }
  if (static_cast<size_t>(pos) != data_len) bad(data_len - static_cast<size_t>(pos), " trailing bytes after the last tensor");
  verify_checksum(out.metadata, p + data_at, data_len, src);

  for (const RawTensor& r : out.raw) {
    const Code* code = find_code(r.dtype);
    if (!code->has_dtype) continue;
    Shape strides = contiguous_strides(r.shape);
    auto* at = static_cast<unsigned char*>(buffer->data()) + r.offset;
    if (reinterpret_cast<uintptr_t>(at) % code->size == 0) {
      out.tensors.emplace_back(r.name, Tensor(buffer, static_cast<int64_t>(r.offset), r.shape, strides, code->dtype));
    } else {  // a foreign writer's odd layout: kernels expect element-aligned data
      Tensor t = Tensor::empty(r.shape, code->dtype);
      if (r.nbytes) std::memcpy(t.data_ptr(), at, r.nbytes);
      out.tensors.emplace_back(r.name, std::move(t));
    }
  }
  out.buffer = std::move(buffer);
  return out;
}

SafetensorsFile parse_safetensors(const void* data, size_t nbytes, const std::string& source) {
  auto buf = Storage::allocate(std::max<size_t>(nbytes, 64), Device{});
  if (nbytes) std::memcpy(buf->data(), data, nbytes);
  auto keep = buf;
  return parse_safetensors(std::make_shared<Storage>(buf->data(), nbytes, Device{}, [keep](void*) {}), source);
}

SafetensorsFile read_safetensors(const std::string& path) {
  auto buf = read_file(path);
  FC_CHECK(buf, Value, "fastconv.load: ", path, ": cannot read the file (", std::strerror(errno), ")");
  return parse_safetensors(std::move(buf), path);
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  FC_CHECK(fd >= 0, Value, "fastconv.load: ", path, ": cannot read the file (", std::strerror(errno), ")");
  struct stat st;
  std::vector<unsigned char> head;
  size_t size = 0;
  if (::fstat(fd, &st) == 0) size = static_cast<size_t>(st.st_size);
  unsigned char len8[8] = {0};
  ssize_t r = size >= 8 ? ::pread(fd, len8, 8, 0) : 0;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len8[i];
  if (r == 8 && n > 0 && n <= size - 8) {  // else parse_header reports the length problem
    head.resize(8 + n);
    size_t got = 0;
    while (got < head.size()) {
      ssize_t k = ::pread(fd, head.data() + got, head.size() - got, static_cast<off_t>(got));
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      got += static_cast<size_t>(k);
    }
    head.resize(got);
  } else {
    head.assign(len8, len8 + 8);
  }
  ::close(fd);
  return parse_header(head.data(), head.size(), size, path).metadata;
}

void write_safetensors_raw(const std::string& path, const std::vector<RawView>& tensors,
                           const std::map<std::string, std::string>& metadata) {
  FC_CHECK(!metadata.count(kChecksumKey), Value, "save: metadata key '", kChecksumKey,
           "' is reserved (the writer computes it from the data)");
  json::Value header = json::Value::object();
  json::Value meta = json::Value::object();
  std::vector<std::pair<std::string, json::Value>> meta_members;
  for (auto& [k, v] : metadata) meta_members.emplace_back(k, json::Value(v));
  std::vector<std::pair<std::string, json::Value>> members;
  members.reserve(tensors.size() + 1);
  members.emplace_back("__metadata__", json::Value());  // filled once the checksum is known
  std::vector<const std::string*> names;
  uint32_t crc = 0;
  int64_t offset = 0;
  for (const RawView& t : tensors) {
    const Code* code = find_code(t.dtype);
    FC_CHECK(code, Value, "save: tensor '", t.name, "' has unknown dtype code '", t.dtype, "'");
    FC_CHECK(t.name != "__metadata__", Value, "save: a tensor cannot be named '__metadata__' (the header's key)");
    int64_t numel = shape_numel(t.shape);
    FC_CHECK(t.nbytes == static_cast<size_t>(numel) * code->size, Value, "save: tensor '", t.name, "' has ",
             t.nbytes, " bytes but dtype ", t.dtype, " shape ", shape_repr(t.shape), " needs ",
             static_cast<size_t>(numel) * code->size);
    json::Value e = json::Value::object();
    e.set("dtype", code->name);
    json::Value sh = json::Value::array();
    for (int64_t d : t.shape) sh.push(d);
    e.set("shape", std::move(sh));
    json::Value offs = json::Value::array();
    offs.push(offset);
    offs.push(offset + static_cast<int64_t>(t.nbytes));
    e.set("data_offsets", std::move(offs));
    members.emplace_back(t.name, std::move(e));
    names.push_back(&t.name);
    crc = crc32c(t.data, t.nbytes, crc);
    offset += static_cast<int64_t>(t.nbytes);
  }
  std::sort(names.begin(), names.end(), [](auto* a, auto* b) { return *a < *b; });
  for (size_t i = 1; i < names.size(); ++i)
    FC_CHECK(*names[i] != *names[i - 1], Value, "save: tensor name '", *names[i], "' appears twice");
  meta_members.emplace_back(kChecksumKey, json::Value("crc32c:" + hex8(crc)));
  members[0].second = json::Value::object_from(std::move(meta_members));
  std::string hj = json::dump(json::Value::object_from(std::move(members)));
  hj.append((8 - hj.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned

  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  FC_CHECK(f, Runtime, "save: cannot write ", tmp, " (", std::strerror(errno), ")");
  unsigned char len8[8];
  uint64_t n = hj.size();
  for (int i = 0; i < 8; ++i) len8[i] = static_cast<unsigned char>(n >> (8 * i));
  bool ok = std::fwrite(len8, 1, 8, f) == 8 && std::fwrite(hj.data(), 1, hj.size(), f) == hj.size();
  for (const RawView& t : tensors)
    if (ok && t.nbytes) ok = std::fwrite(t.data, 1, t.nbytes, f) == t.nbytes;
  int err = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    fail(ErrorKind::Runtime, "save: writing ", path, " failed (", std::strerror(err), ")");
  }
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<Tensor> host;
  std::vector<RawView> views;
  host.reserve(tensors.size());
  for (auto& [name, t] : tensors) {
    FC_CHECK(t.defined(), Value, "save: tensor '", name, "' is undefined");
    Tensor h = t.to(Device{}).contiguous();
    host.push_back(h);
    const char* code = nullptr;
    for (const Code& c : kCodes)
      if (c.has_dtype && c.dtype == h.dtype()) code = c.name;
    FC_CHECK(code, Type, "save: tensor '", name, "' has unsupported dtype ", dtype_name(h.dtype()));
    views.push_back({name, code, h.shape(), h.numel() ? h.data_ptr() : nullptr, h.nbytes()});
  }
  write_safetensors_raw(path, views, metadata);
}

}  // namespace fastconv::io
