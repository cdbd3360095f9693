#include "graph/plan.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace fastconv {

std::vector<size_t> plan_offsets(const std::vector<Interval>& iv, size_t* peak) {
  auto align = [](size_t n) { return (n + 63) / 64 * 64; };
  std::vector<size_t> order(iv.size()), off(iv.size(), 0);
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return iv[a].size > iv[b].size; });
  std::vector<size_t> placed;
  *peak = 0;
  for (size_t i : order) {
    size_t need = align(iv[i].size);
    // Occupied ranges among already-placed buffers live at the same time, sorted by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed)
      if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last) busy.push_back({off[j], off[j] + align(iv[j].size)});
    std::sort(busy.begin(), busy.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, cursor = 0;
    for (auto [b, e] : busy) {
      if (b > cursor && b - cursor >= need && b - cursor < best_gap) {
        best = cursor;
        best_gap = b - cursor;
      }
      cursor = std::max(cursor, e);
    }
    off[i] = best != SIZE_MAX ? best : cursor;
    *peak = std::max(*peak, off[i] + need);
    placed.push_back(i);
  }
  return off;
}

}  // namespace fastconv
