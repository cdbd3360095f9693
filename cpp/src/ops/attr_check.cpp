// Attribute names against each op's declared list. Attributes are a generic map (Python kwargs pass straight
// through), so without this a misspelt name (`strides=2` for conv2d) would be silently ignored and the op would run
// with its default.
#include <algorithm>

#include "ops/op.h"

namespace fastconv {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The accepted name closest to `given`, or "" when none is close enough to be a likely misspelling: within a
// third of the shorter name's length (at least 1), or one name containing the other (`kernel` for `kernel_size`).
std::string closest(const std::string& given, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const std::string& n : names) {
    const size_t d = edit_distance(given, n);
    const size_t limit = std::max<size_t>(1, std::min(given.size(), n.size()) / 3);
    const bool contains = given.size() >= 3 && (n.find(given) != std::string::npos || given.find(n) != std::string::npos);
    if ((d <= limit || contains) && d < best_d) best = n, best_d = d;
  }
  return best;
}

}  // namespace

void check_attrs(const OpDef& def, const Attrs& attrs) {
  for (const auto& item : attrs.items()) {
    const std::string& k = item.first;
    if (std::binary_search(def.attrs.begin(), def.attrs.end(), k)) continue;
    if (def.attrs.empty()) fail(ErrorKind::Value, def.name, ": unknown attribute '", k, "'; ", def.name,
                                " takes no attributes");
    std::string list;
    for (const std::string& n : def.attrs) list += (list.empty() ? "" : ", ") + n;
    const std::string near = closest(k, def.attrs);
    fail(ErrorKind::Value, def.name, ": unknown attribute '", k, "'",
         near.empty() ? std::string() : " (did you mean '" + near + "'?)", "; ", def.name, " accepts: ", list);
  }
}

}  // namespace fastconv
