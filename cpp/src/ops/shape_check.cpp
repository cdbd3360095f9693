#include "ops/shape_check.h"

#include <algorithm>
#include <sstream>

#include "fastconv/error.h"

namespace fastconv {

std::string wide_str(wide v) {
  if (v == 0) return "0";
  const bool neg = v < 0;
  std::string s;
  while (v != 0) {
    const int d = int(v % 10);
    s.push_back(char('0' + (d < 0 ? -d : d)));
    v /= 10;
  }
  if (neg) s.push_back('-');
  std::reverse(s.begin(), s.end());
  return s;
}

std::string ints_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

int64_t checked_extent(const std::string& op, wide v, const std::string& what, const std::string& because) {
  FC_CHECK(v >= 0 && v <= kMaxExtent, Value, op, ": ", what, " would be ", wide_str(v), ", outside [0, 2**60] (",
           "no tensor can be that large); from ", because);
  return int64_t(v);
}

int64_t checked_numel(const std::string& op, const Shape& shape, const std::string& what,
                      const std::string& because) {
  wide n = 1;
  bool empty = false;
  for (int64_t d : shape) {
    FC_CHECK(d >= 0, Value, op, ": ", what, " ", shape_str(shape), " has a negative size; from ", because);
    empty = empty || d == 0;
  }
  if (empty) return 0;
  for (int64_t d : shape) {
    n *= d;
    FC_CHECK(n <= kMaxElements, Value, op, ": ", what, " ", shape_str(shape), " has more than 2**60 elements ",
             "(no tensor can be that large); from ", because);
  }
  return int64_t(n);
}

}  // namespace fastconv
