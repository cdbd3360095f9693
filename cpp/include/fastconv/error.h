// Errors that cross the API. Every message says what was wrong, the value seen and what was expected;
// the bindings map ErrorKind to the matching Python exception.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

#include "fastconv/export.h"

namespace fastconv {

enum class ErrorKind { Value, Type, Index, Runtime, NotImplemented };

class FASTCONV_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

template <class... A>
[[noreturn]] void fail(ErrorKind kind, const A&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(kind, os.str());
}

}  // namespace fastconv

// FC_CHECK(cond, Value, "conv2d: input has ", c, " channels but weight expects ", w);
#define FC_CHECK(cond, kind, ...)                                             \
  do {                                                                        \
    if (!(cond)) ::fastconv::fail(::fastconv::ErrorKind::kind, __VA_ARGS__); \
  } while (0)
