// Op attributes: a small typed map. Generic so that graphs serialise to JSON and Python passes kwargs through
// without per-op binding code; each op family reads its attributes with AttrReader, which names the op in errors.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "fastconv/export.h"

namespace fastconv {

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>, std::vector<double>>;

class FASTCONV_API Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> init) : m_(init) {}
  Attrs& set(const std::string& key, AttrValue v) {
    m_[key] = std::move(v);
    return *this;
  }
  bool has(const std::string& key) const { return m_.count(key) != 0; }
  const AttrValue* find(const std::string& key) const {
    auto it = m_.find(key);
    return it == m_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, AttrValue>& items() const { return m_; }
  std::string str() const;  // "stride=(2, 2), padding='same'": stable, used in dumps and cache keys
  bool operator==(const Attrs& o) const { return m_ == o.m_; }

 private:
  std::map<std::string, AttrValue> m_;
};

FASTCONV_API std::string attr_value_str(const AttrValue& v);

// Reads attributes for one op; every error names the op, the argument, the value and what was expected.
class FASTCONV_API AttrReader {
 public:
  AttrReader(const std::string& op, const Attrs& a) : op_(op), a_(a) {}
  bool has(const std::string& k) const { return a_.has(k); }
  int64_t get_int(const std::string& k) const;
  int64_t get_int(const std::string& k, int64_t dflt) const;
  double get_float(const std::string& k) const;
  double get_float(const std::string& k, double dflt) const;
  bool get_bool(const std::string& k, bool dflt) const;
  std::string get_str(const std::string& k) const;
  std::string get_str(const std::string& k, const std::string& dflt) const;
  // An int or a tuple of exactly n ints (PyTorch's `stride=2` or `stride=(2, 1)`).
  std::vector<int64_t> get_ints(const std::string& k, size_t n) const;
  std::vector<int64_t> get_ints(const std::string& k, size_t n, int64_t dflt) const;
  std::vector<int64_t> get_int_list(const std::string& k) const;  // any length; a scalar becomes [v]
  std::vector<double> get_float_list(const std::string& k) const;
  const std::string& op() const { return op_; }

 private:
  [[noreturn]] void bad(const std::string& k, const char* expected) const;
  std::string op_;
  const Attrs& a_;
};

}  // namespace fastconv
