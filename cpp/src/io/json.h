// A small JSON document model: what model files store their graphs and architecture in (docs/model_format.md).
// Parsing is defensive: every malformed input is a ValueError saying what and where (byte offset), nesting is
// bounded, numbers that do not fit are refused; no input can crash it or make it allocate more than a small
// multiple of its own size.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastconv::json {

enum class Type { Null, Bool, Int, Float, String, Array, Object };
const char* type_name(Type t);  // "null", "bool", "integer", "number", "string", "array", "object"

class Value {
 public:
  Value() = default;  // null
  Value(bool b);
  Value(int v);
  Value(int64_t v);
  Value(double v);
  Value(std::string s);
  Value(const char* s);
  static Value array();
  static Value object();
  // Whole containers at once (what the parser uses; set() would look every key up). object_from's keys must be
  // unique: it does not check.
  static Value array_from(std::vector<Value> items);
  static Value object_from(std::vector<std::pair<std::string, Value>> members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_array() const { return type_ == Type::Array; }

  // Accessors throw ValueError("<where>: expected <type>, got <type>") on a type mismatch; `where` names the field
  // for the message (callers pass "graph.nodes[3].op").
  bool as_bool(const std::string& where = "value") const;
  int64_t as_int(const std::string& where = "value") const;      // an integer literal only
  double as_float(const std::string& where = "value") const;     // a number literal, integer or not
  const std::string& as_string(const std::string& where = "value") const;
  const std::vector<Value>& items(const std::string& where = "value") const;  // array elements
  const std::vector<std::pair<std::string, Value>>& members(const std::string& where = "value") const;  // object

  // Building. push: arrays; set: objects (replaces an existing key, else appends; order is kept).
  Value& push(Value v);
  Value& set(const std::string& key, Value v);
  // Objects: the member, or nullptr / a ValueError("<where>: missing field '<key>'").
  const Value* find(const std::string& key) const;
  const Value& at(const std::string& key, const std::string& where = "value") const;

 private:
  Type type_ = Type::Null;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::vector<Value> arr_;
  std::vector<std::pair<std::string, Value>> obj_;
};

// Parses one JSON text (RFC 8259; UTF-8 checked; duplicate object keys refused). Errors are ValueErrors
// "<what>: <problem> at byte <n>". Integer literals that fit int64 become Int, other numbers Float (a literal too
// large for a double is refused). Nesting deeper than max_depth arrays/objects is refused.
Value parse(std::string_view text, const std::string& what = "JSON", int max_depth = 64);

// Compact text (no spaces). Floats are written so they parse back to the same double and always read as floats
// ("1.0", not "1"); a non-finite float is a ValueError (callers encode inf/nan themselves).
std::string dump(const Value& v);

}  // namespace fastconv::json
