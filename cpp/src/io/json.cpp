// JSON parser and writer for model files (json.h). The parser is a recursive descent over bytes with an explicit
// depth bound (so recursion is bounded too); numbers and floats go through <charconv>, which is locale-independent
// (a Python process may have set LC_NUMERIC, and strtod/printf would then read and write "1,5").
#include "json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <numeric>

#include "fastconv/error.h"

namespace fastconv::json {

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Int: return "integer";
    case Type::Float: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

Value::Value(bool b) : type_(Type::Bool), b_(b) {}
Value::Value(int v) : type_(Type::Int), i_(v) {}
Value::Value(int64_t v) : type_(Type::Int), i_(v) {}
Value::Value(double v) : type_(Type::Float), f_(v) {}
Value::Value(std::string s) : type_(Type::String), s_(std::move(s)) {}
Value::Value(const char* s) : type_(Type::String), s_(s) {}

Value Value::array() {
  Value v;
  v.type_ = Type::Array;
  return v;
}
Value Value::object() {
  Value v;
  v.type_ = Type::Object;
  return v;
}

namespace {
[[noreturn]] void mismatch(const std::string& where, const char* expected, Type got) {
  fail(ErrorKind::Value, where, ": expected ", expected, ", got ", type_name(got));
}
}  // namespace

bool Value::as_bool(const std::string& where) const {
  if (type_ != Type::Bool) mismatch(where, "bool", type_);
  return b_;
}
int64_t Value::as_int(const std::string& where) const {
  if (type_ != Type::Int) mismatch(where, "integer", type_);
  return i_;
}
double Value::as_float(const std::string& where) const {
  if (type_ == Type::Int) return static_cast<double>(i_);
  if (type_ != Type::Float) mismatch(where, "number", type_);
  return f_;
}
const std::string& Value::as_string(const std::string& where) const {
  if (type_ != Type::String) mismatch(where, "string", type_);
  return s_;
}
const std::vector<Value>& Value::items(const std::string& where) const {
  if (type_ != Type::Array) mismatch(where, "array", type_);
  return arr_;
}
const std::vector<std::pair<std::string, Value>>& Value::members(const std::string& where) const {
  if (type_ != Type::Object) mismatch(where, "object", type_);
  return obj_;
}

Value& Value::push(Value v) {
  if (type_ != Type::Array) mismatch("value", "array", type_);
  arr_.push_back(std::move(v));
  return arr_.back();
}
Value& Value::set(const std::string& key, Value v) {
  if (type_ != Type::Object) mismatch("value", "object", type_);
  for (auto& m : obj_)
    if (m.first == key) return m.second = std::move(v);
  obj_.emplace_back(key, std::move(v));
  return obj_.back().second;
}
const Value* Value::find(const std::string& key) const {
  if (type_ != Type::Object) mismatch("value", "object", type_);
  for (auto& m : obj_)
    if (m.first == key) return &m.second;
  return nullptr;
}
const Value& Value::at(const std::string& key, const std::string& where) const {
  if (type_ != Type::Object) mismatch(where, "object", type_);
  for (auto& m : obj_)
    if (m.first == key) return m.second;
  fail(ErrorKind::Value, where, ": missing field '", key, "'");
}

// ---- parsing -------------------------------------------------------------------------------------------------
namespace {

// A key or string quoted for an error message: at most 64 bytes (cut before a UTF-8 continuation byte).
std::string quoted(const std::string& s) {
  size_t n = s.size();
  if (n > 64) {
    n = 64;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  }
  return "'" + s.substr(0, n) + (n < s.size() ? "...'" : "'");
}

class Parser {
 public:
  Parser(std::string_view text, const std::string& what, int max_depth)
      : p_(text.data()), n_(text.size()), what_(what), max_depth_(max_depth) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (pos_ < n_) error("unexpected ", describe(pos_), " after the JSON value");
    return v;
  }

 private:
  template <class... A>
  [[noreturn]] void error_at(size_t at, const A&... parts) {
    fail(ErrorKind::Value, what_, ": ", parts..., " at byte ", at);
  }
  template <class... A>
  [[noreturn]] void error(const A&... parts) {
    error_at(pos_, parts...);
  }

  std::string describe(size_t at) const {
    if (at >= n_) return "end of input";
    unsigned char c = static_cast<unsigned char>(p_[at]);
    char buf[32];
    if (c >= 0x20 && c < 0x7F)
      std::snprintf(buf, sizeof buf, "character '%c'", c);
    else
      std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
    return buf;
  }

  void skip_ws() {
    while (pos_ < n_ && (p_[pos_] == ' ' || p_[pos_] == '\t' || p_[pos_] == '\n' || p_[pos_] == '\r')) ++pos_;
  }

  void expect_word(const char* w) {
    size_t len = std::strlen(w);
    for (size_t i = 0; i < len; ++i)
      if (pos_ + i >= n_ || p_[pos_ + i] != w[i]) error_at(pos_ + i, "unexpected ", describe(pos_ + i), " in literal '", w, "'");
    pos_ += len;
  }

  Value value(int depth) {
    if (pos_ >= n_) error("unexpected end of input, expected a value");
    switch (p_[pos_]) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value(string());
      case 't': expect_word("true"); return Value(true);
      case 'f': expect_word("false"); return Value(false);
      case 'n': expect_word("null"); return Value();
      default:
        if (p_[pos_] == '-' || (p_[pos_] >= '0' && p_[pos_] <= '9')) return number();
        error("unexpected ", describe(pos_), ", expected a value");
    }
  }

  void enter(int depth) {
    if (depth > max_depth_) error("arrays and objects nest deeper than ", max_depth_, " levels");
  }

  Value array(int depth) {
    enter(depth);
    ++pos_;  // '['
    Value v = Value::array();
    std::vector<Value> items;
    skip_ws();
    if (pos_ < n_ && p_[pos_] == ']') {
      ++pos_;
      return v;
    }
    for (;;) {
      skip_ws();
      items.push_back(value(depth));
      skip_ws();
      if (pos_ < n_ && p_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < n_ && p_[pos_] == ']') {
        ++pos_;
        break;
      }
      error("unexpected ", describe(pos_), ", expected ',' or ']' in an array");
    }
    items.shrink_to_fit();  // bounds memory to the element count, not the growth policy's up-to-2x
    return Value::array_from(std::move(items));
  }

  Value object(int depth) {
    enter(depth);
    ++pos_;  // '{'
    Value v = Value::object();
    std::vector<std::pair<std::string, Value>> members;
    std::vector<size_t> key_at;
    skip_ws();
    if (pos_ < n_ && p_[pos_] == '}') {
      ++pos_;
      return v;
    }
    for (;;) {
      skip_ws();
      if (pos_ >= n_ || p_[pos_] != '"') error("unexpected ", describe(pos_), ", expected a string key in an object");
      key_at.push_back(pos_);
      std::string key = string();
      skip_ws();
      if (pos_ >= n_ || p_[pos_] != ':') error("unexpected ", describe(pos_), ", expected ':' after an object key");
      ++pos_;
      skip_ws();
      members.emplace_back(std::move(key), value(depth));
      skip_ws();
      if (pos_ < n_ && p_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < n_ && p_[pos_] == '}') {
        ++pos_;
        break;
      }
      error("unexpected ", describe(pos_), ", expected ',' or '}' in an object");
    }
    // Duplicates by sorting indices (n log n; a hash set could be driven quadratic by chosen keys). The message
    // names the later occurrence, the one a streaming reader would have rejected.
    std::vector<size_t> order(members.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return members[a].first < members[b].first; });
    size_t dup = members.size();
    for (size_t i = 1; i < order.size(); ++i)
      if (members[order[i]].first == members[order[i - 1]].first) dup = std::min(dup, order[i]);
    if (dup < members.size()) error_at(key_at[dup], "duplicate object key ", quoted(members[dup].first));
    // Value::set would be quadratic (it looks each key up); the keys are known unique here.
    members.shrink_to_fit();
    return Value::object_from(std::move(members));
  }

  uint32_t hex4() {
    uint32_t u = 0;
    for (int i = 0; i < 4; ++i) {
      if (pos_ >= n_) error("unexpected end of input in a \\u escape");
      char c = p_[pos_];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) error("invalid hex digit ", describe(pos_), " in a \\u escape");
      u = u * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return u;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // One UTF-8 sequence starting at pos_ (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
  void utf8_sequence(std::string& out) {
    size_t start = pos_;
    unsigned char c = static_cast<unsigned char>(p_[pos_]);
    int len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
    else error("invalid UTF-8 byte 0x", hex2(c), " in a string");
    for (int i = 1; i < len; ++i) {
      if (start + i >= n_) error_at(start, "truncated UTF-8 sequence in a string");
      unsigned char d = static_cast<unsigned char>(p_[start + i]);
      if ((d & 0xC0) != 0x80) error_at(start, "invalid UTF-8 sequence in a string");
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      error_at(start, "invalid UTF-8 sequence in a string (overlong, surrogate or above U+10FFFF)");
    out.append(p_ + start, static_cast<size_t>(len));
    pos_ = start + static_cast<size_t>(len);
  }

  static std::string hex2(unsigned char c) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02x", c);
    return buf;
  }

  std::string string() {
    size_t open = pos_;
    ++pos_;  // '"'
    std::string out;
    for (;;) {
      if (pos_ >= n_) error_at(open, "unterminated string");
      unsigned char c = static_cast<unsigned char>(p_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) error("unescaped control character 0x", hex2(c), " in a string");
      if (c >= 0x80) {
        utf8_sequence(out);
        continue;
      }
      if (c != '\\') {
        // A run of plain ASCII at once: strings dominate headers, and byte-wise appends are slow.
        size_t run = pos_;
        while (run < n_) {
          unsigned char r = static_cast<unsigned char>(p_[run]);
          if (r == '"' || r == '\\' || r < 0x20 || r >= 0x80) break;
          ++run;
        }
        out.append(p_ + pos_, run - pos_);
        pos_ = run;
        continue;
      }
      size_t esc = pos_;
      ++pos_;
      if (pos_ >= n_) error_at(open, "unterminated string");
      char e = p_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t u = hex4();
          if (u >= 0xDC00 && u <= 0xDFFF) error_at(esc, "lone low surrogate \\u", hex4s(u), " in a string");
          if (u >= 0xD800 && u <= 0xDBFF) {
            if (pos_ + 1 >= n_ || p_[pos_] != '\\' || p_[pos_ + 1] != 'u')
              error_at(esc, "high surrogate \\u", hex4s(u), " not followed by a low surrogate");
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF)
              error_at(esc, "high surrogate \\u", hex4s(u), " not followed by a low surrogate");
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, u);
          break;
        }
        default: error_at(esc, "invalid escape ", describe(esc + 1), " in a string");
      }
    }
  }

  static std::string hex4s(uint32_t u) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04X", u);
    return buf;
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }

  Value number() {
    size_t start = pos_;
    if (p_[pos_] == '-') ++pos_;
    if (pos_ >= n_ || !digit(p_[pos_])) error("invalid number: expected a digit, got ", describe(pos_));
    if (p_[pos_] == '0') {
      ++pos_;
      if (pos_ < n_ && digit(p_[pos_])) error_at(start, "invalid number: leading zero");
    } else {
      while (pos_ < n_ && digit(p_[pos_])) ++pos_;
    }
    bool is_float = false;
    if (pos_ < n_ && p_[pos_] == '.') {
      is_float = true;
      ++pos_;
      if (pos_ >= n_ || !digit(p_[pos_])) error("invalid number: expected a digit after '.', got ", describe(pos_));
      while (pos_ < n_ && digit(p_[pos_])) ++pos_;
    }
    if (pos_ < n_ && (p_[pos_] == 'e' || p_[pos_] == 'E')) {
      is_float = true;
      ++pos_;
      if (pos_ < n_ && (p_[pos_] == '+' || p_[pos_] == '-')) ++pos_;
      if (pos_ >= n_ || !digit(p_[pos_])) error("invalid number: expected a digit in the exponent, got ", describe(pos_));
      while (pos_ < n_ && digit(p_[pos_])) ++pos_;
    }
    const char* b = p_ + start;
    const char* e = p_ + pos_;
    if (!is_float) {
      int64_t i = 0;
      auto r = std::from_chars(b, e, i);
      if (r.ec == std::errc() && r.ptr == e) return Value(i);
      // Too large for int64: a float, as the header promises (checked for range below).
    }
    double d = 0;
    auto r = std::from_chars(b, e, d);
    if (r.ec == std::errc() && r.ptr == e) return Value(d);
    if (r.ec == std::errc::result_out_of_range && underflows(b, e)) return Value(*b == '-' ? -0.0 : 0.0);
    error_at(start, "number ", std::string(b, std::min<size_t>(e - b, 40)), (e - b > 40 ? "..." : ""),
             " is too large for a double");
  }

  // Whether a literal out of double's range is tiny (rounds to zero) rather than huge: the decimal exponent of
  // its first significant digit is negative. The exponent saturates, so "1e99999999999999999999" is handled.
  static bool underflows(const char* b, const char* e) {
    const char* p = b;
    if (*p == '-') ++p;
    int64_t lead = 0;  // position of the first nonzero digit relative to the decimal point
    bool seen = false, frac = false;
    int64_t int_digits = 0, frac_zeros = 0;
    for (; p < e && *p != 'e' && *p != 'E'; ++p) {
      if (*p == '.') {
        frac = true;
        continue;
      }
      if (!seen && *p != '0') seen = true;
      if (!frac && seen) ++int_digits;
      if (frac && !seen) ++frac_zeros;
    }
    if (!seen) return true;  // all zeros
    lead = int_digits > 0 ? int_digits : -frac_zeros;
    int64_t ex = 0;
    if (p < e) {
      ++p;
      bool neg = false;
      if (*p == '+' || *p == '-') neg = (*p++ == '-');
      for (; p < e; ++p) ex = std::min<int64_t>(ex * 10 + (*p - '0'), int64_t(1) << 40);
      if (neg) ex = -ex;
    }
    return lead + ex <= 0;
  }

  const char* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& what_;
  int max_depth_;
};

}  // namespace

Value Value::array_from(std::vector<Value> items) {
  Value v = array();
  v.arr_ = std::move(items);
  return v;
}
Value Value::object_from(std::vector<std::pair<std::string, Value>> members) {
  Value v = object();
  v.obj_ = std::move(members);
  return v;
}

Value parse(std::string_view text, const std::string& what, int max_depth) {
  return Parser(text, what, max_depth).document();
}

// ---- writing -------------------------------------------------------------------------------------------------
namespace {

void dump_string(const std::string& s, std::string& out) {
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // UTF-8 passes through
        }
    }
  }
  out += '"';
}

void dump_value(const Value& v, std::string& out) {
  switch (v.type()) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Type::Int: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, r.ptr);
      break;
    }
    case Type::Float: {
      double d = v.as_float();
      FC_CHECK(std::isfinite(d), Value, "json::dump: non-finite float ", d,
               " has no JSON form (encode inf/nan as strings)");
      // %.17g's guarantee (the text parses back to the same double), written by to_chars: exact and locale-free.
      char buf[40];
      auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, 17);
      std::string_view t(buf, static_cast<size_t>(r.ptr - buf));
      out.append(t);
      if (t.find_first_of(".eE") == std::string_view::npos) out += ".0";  // always reads back as a float
      break;
    }
    case Type::String: dump_string(v.as_string(), out); break;
    case Type::Array: {
      out += '[';
      bool first = true;
      for (auto& it : v.items()) {
        if (!first) out += ',';
        first = false;
        dump_value(it, out);
      }
      out += ']';
      break;
    }
    case Type::Object: {
      out += '{';
      bool first = true;
      for (auto& m : v.members()) {
        if (!first) out += ',';
        first = false;
        dump_string(m.first, out);
        out += ':';
        dump_value(m.second, out);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string dump(const Value& v) {
  std::string out;
  dump_value(v, out);
  return out;
}

}  // namespace fastconv::json
