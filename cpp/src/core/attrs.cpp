#include "fastconv/attrs.h"

#include <cmath>
#include <sstream>

#include "core/attr_log.h"
#include "fastconv/error.h"

namespace fastconv {

std::string attr_value_str(const AttrValue& v) {
  std::ostringstream os;
  os.precision(9);
  auto list = [&os](const auto& xs) {
    os << '(';
    for (size_t i = 0; i < xs.size(); ++i) os << (i ? ", " : "") << xs[i];
    os << (xs.size() == 1 ? ",)" : ")");
  };
  if (auto p = std::get_if<int64_t>(&v)) os << *p;
  else if (auto d = std::get_if<double>(&v)) os << *d;
  else if (auto b = std::get_if<bool>(&v)) os << (*b ? "True" : "False");
  else if (auto s = std::get_if<std::string>(&v)) os << '\'' << *s << '\'';
  else if (auto il = std::get_if<std::vector<int64_t>>(&v)) list(*il);
  else if (auto fl = std::get_if<std::vector<double>>(&v)) list(*fl);
  return os.str();
}

std::string Attrs::str() const {
  std::string out;
  for (const auto& [k, v] : m_) {
    if (!out.empty()) out += ", ";
    out += k + "=" + attr_value_str(v);
  }
  return out;
}

namespace {
thread_local AttrReadLog* t_log = nullptr;
}

AttrReadLog::AttrReadLog() : outer_(t_log) { t_log = this; }
AttrReadLog::~AttrReadLog() { t_log = outer_; }
void note_attr_read(const std::string& name) {
  if (t_log) t_log->add(name);
}

void AttrReader::bad(const std::string& k, const char* expected) const {
  const AttrValue* v = a_.find(k);
  if (!v) fail(ErrorKind::Value, op_, ": missing argument '", k, "' (expected ", expected, ")");
  fail(ErrorKind::Type, op_, ": argument '", k, "' must be ", expected, ", got ", attr_value_str(*v));
}

int64_t AttrReader::get_int(const std::string& k) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v) {
    if (auto p = std::get_if<int64_t>(v)) return *p;
    if (auto b = std::get_if<bool>(v)) return *b;
  }
  bad(k, "an int");
}
int64_t AttrReader::get_int(const std::string& k, int64_t dflt) const {
  note_attr_read(k);
  return has(k) ? get_int(k) : dflt;
}

double AttrReader::get_float(const std::string& k) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v) {
    if (auto d = std::get_if<double>(v)) return *d;
    if (auto p = std::get_if<int64_t>(v)) return double(*p);
  }
  bad(k, "a number");
}
double AttrReader::get_float(const std::string& k, double dflt) const {
  note_attr_read(k);
  return has(k) ? get_float(k) : dflt;
}

bool AttrReader::get_bool(const std::string& k, bool dflt) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (!v) return dflt;
  if (auto b = std::get_if<bool>(v)) return *b;
  if (auto p = std::get_if<int64_t>(v); p && (*p == 0 || *p == 1)) return *p;
  bad(k, "a bool");
}

std::string AttrReader::get_str(const std::string& k) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v)
    if (auto s = std::get_if<std::string>(v)) return *s;
  bad(k, "a string");
}
std::string AttrReader::get_str(const std::string& k, const std::string& dflt) const {
  note_attr_read(k);
  return has(k) ? get_str(k) : dflt;
}

std::vector<int64_t> AttrReader::get_ints(const std::string& k, size_t n) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v) {
    if (auto p = std::get_if<int64_t>(v)) return std::vector<int64_t>(n, *p);
    if (auto l = std::get_if<std::vector<int64_t>>(v)) {
      if (l->size() == n) return *l;
      if (l->size() == 1) return std::vector<int64_t>(n, (*l)[0]);
    }
  }
  std::string expected = "an int or a tuple of " + std::to_string(n) + " ints";
  bad(k, expected.c_str());
}
std::vector<int64_t> AttrReader::get_ints(const std::string& k, size_t n, int64_t dflt) const {
  note_attr_read(k);
  return has(k) ? get_ints(k, n) : std::vector<int64_t>(n, dflt);
}

std::vector<int64_t> AttrReader::get_int_list(const std::string& k) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v) {
    if (auto p = std::get_if<int64_t>(v)) return {*p};
    if (auto l = std::get_if<std::vector<int64_t>>(v)) return *l;
  }
  bad(k, "an int or a tuple of ints");
}

std::vector<double> AttrReader::get_float_list(const std::string& k) const {
  note_attr_read(k);
  const AttrValue* v = a_.find(k);
  if (v) {
    if (auto d = std::get_if<double>(v)) return {*d};
    if (auto p = std::get_if<int64_t>(v)) return {double(*p)};
    if (auto l = std::get_if<std::vector<double>>(v)) return *l;
    if (auto il = std::get_if<std::vector<int64_t>>(v)) return std::vector<double>(il->begin(), il->end());
  }
  bad(k, "a number or a tuple of numbers");
}

}  // namespace fastconv
