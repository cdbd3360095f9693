// Records the attribute names AttrReader is asked for on this thread while one AttrReadLog lives: the registry
// self-test (tests/cpp/test_attrs.cpp) checks that every name a shape rule reads is one its op declares. No log:
// a reader costs one null test.
#pragma once
#include <set>
#include <string>

namespace fastconv {

class AttrReadLog {
 public:
  AttrReadLog();
  ~AttrReadLog();
  AttrReadLog(const AttrReadLog&) = delete;
  AttrReadLog& operator=(const AttrReadLog&) = delete;
  const std::set<std::string>& names() const { return names_; }
  void clear() { names_.clear(); }
  void add(const std::string& name) { names_.insert(name); }

 private:
  std::set<std::string> names_;
  AttrReadLog* outer_;
};

void note_attr_read(const std::string& name);  // called by AttrReader

}  // namespace fastconv
