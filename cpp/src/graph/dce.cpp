#include "graph/dce.h"

#include "ops/op.h"

namespace fastconv {

std::vector<char> live_nodes(const Graph& g, const std::vector<ValueId>& outputs) {
  const Registry& reg = Registry::global();
  std::vector<char> live_v(size_t(g.num_values()), 0), live_n(size_t(g.num_nodes()), 0);
  for (ValueId o : outputs) {
    g.value(o);  // validates the id
    live_v[size_t(o)] = 1;
  }
  for (int i = g.num_nodes() - 1; i >= 0; --i) {
    const Node& n = g.node(i);
    bool keep = reg.get(n.op).side_effects;
    for (ValueId o : n.outputs) keep = keep || live_v[size_t(o)];
    if (!keep) continue;
    live_n[size_t(i)] = 1;
    for (ValueId v : n.inputs) live_v[size_t(v)] = 1;
  }
  return live_n;
}

}  // namespace fastconv
