// Attribute names against each op's declared list. Attributes are a generic map (Python kwargs pass straight
// through), so without this a misspelt name (`strides=2` for conv2d) would be silently ignored and the op would run
// with its default.
#include <algorithm>

#include "ops/op.h"

namespace fastconv {
namespace {

// Insertions, deletions, substitutions and swaps of two neighbours ('dmi' -> 'dim' is one edit), each costing 1.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The accepted name closest to `given`, or "" when none is close enough to be a likely misspelling: within a
// third of the shorter name's length (at least 1), or one name containing the other (`kernel` for `kernel_size`).
std::string closest(const std::string& given, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const std::string& n : names) {
    const size_t d = edit_distance(given, n);
    const size_t limit = std::max<size_t>(1, std::min(given.size(), n.size()) / 3);
    const bool contains =
        given.size() >= 3 && (n.find(given) != std::string::npos || given.find(n) != std::string::npos);
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
