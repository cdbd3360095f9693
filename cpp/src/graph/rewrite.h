// Graph rewriting for fusion patterns: the live nodes in schedule order with their producers and consumers, and
// one sweep that lets a pattern claim nodes and emit their replacement. The graph layer runs the sweeps; the
// patterns themselves are registered by op families (ops/fused_patterns.cpp), so graph/ names no op.
#pragma once
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fastconv/graph.h"

namespace fastconv {

struct Rewriter {
  std::shared_ptr<Graph> g;
  std::set<ValueId> outputs;
  std::vector<Node> nodes;                       // current live nodes, in schedule order
  std::map<ValueId, std::vector<int>> consumers;  // value -> positions of the nodes reading it
  std::map<ValueId, int> producer;                // value -> position of the node producing it

  void index() {
    consumers.clear();
    producer.clear();
    for (int i = 0; i < int(nodes.size()); ++i) {
      for (ValueId v : nodes[size_t(i)].inputs) {
        auto& c = consumers[v];
        if (c.empty() || c.back() != i) c.push_back(i);
      }
      for (ValueId v : nodes[size_t(i)].outputs) producer[v] = i;
    }
  }
  int uses(ValueId v) const {
    auto it = consumers.find(v);
    return it == consumers.end() ? 0 : int(it->second.size());
  }
  // v is read by node `pos` only, and is not an output.
  bool only_use(ValueId v, int pos) const {
    if (outputs.count(v)) return false;
    auto it = consumers.find(v);
    return it != consumers.end() && it->second.size() == 1 && it->second[0] == pos;
  }
  bool unused(ValueId v) const { return !outputs.count(v) && uses(v) == 0; }
  int producer_of(ValueId v) const {
    auto it = producer.find(v);
    return it == producer.end() ? -1 : it->second;
  }
  // A node with `in` and `out` may stand at `pos` once the nodes in `removed` are gone.
  bool fits_at(int pos, const std::vector<ValueId>& in, const std::vector<ValueId>& out,
               const std::vector<int>& removed) const {
    for (ValueId v : in) {  // computed before `pos`, and not by a node of the pattern
      const int p = producer_of(v);
      if (p >= pos || (p >= 0 && std::find(removed.begin(), removed.end(), p) != removed.end())) return false;
    }
    for (ValueId v : out) {
      auto it = consumers.find(v);
      if (it == consumers.end()) continue;
      for (int c : it->second)
        if (c <= pos && std::find(removed.begin(), removed.end(), c) == removed.end()) return false;
    }
    return true;
  }

  // One sweep: `match(pos, &edit)` may claim pattern nodes (positions) and give the replacement nodes emitted at
  // one of them. Claimed positions are not offered to later matches of the same sweep.
  struct Edit {
    std::vector<int> claimed;
    int at = -1;
    std::vector<Node> emit;
  };
  template <class F>
  int sweep(F match) {
    index();
    std::vector<char> taken(nodes.size(), 0);
    std::map<int, std::vector<Node>> emit_at;
    int count = 0;
    for (int i = 0; i < int(nodes.size()); ++i) {
      if (taken[size_t(i)]) continue;
      Edit e;
      if (!match(i, &e)) continue;
      bool free = true;
      for (int c : e.claimed) free = free && !taken[size_t(c)];
      if (!free) continue;
      for (int c : e.claimed) taken[size_t(c)] = 1;
      emit_at[e.at] = std::move(e.emit);
      ++count;
    }
    if (!count) return 0;
    std::vector<Node> out;
    for (int i = 0; i < int(nodes.size()); ++i) {
      auto it = emit_at.find(i);
      if (it != emit_at.end())
        for (Node& n : it->second) out.push_back(std::move(n));
      else if (!taken[size_t(i)])
        out.push_back(std::move(nodes[size_t(i)]));
    }
    nodes = std::move(out);
    return count;
  }

  Node make(const std::string& op, std::vector<ValueId> in, std::vector<ValueId> out, Attrs attrs,
            const std::string& scope) const {
    Node n;
    n.op = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = std::move(attrs);
    n.scope = scope;
    return n;
  }
};

// A fusion pattern: `match(r, pos, &edit)` looks at the node at `pos` and, where the pattern fits, claims its nodes
// and gives the replacement (see Rewriter::sweep). It is applied only where the target backend has kernels for all
// of the ops in `emits`. After its sweep, `count` may add finer statistics (e.g. how many fused convs have a
// residual) under the names in `stats`; the sweep's own count goes under `name`.
struct FusionPattern {
  std::string name;
  std::vector<std::string> emits;
  std::function<bool(Rewriter& r, int pos, Rewriter::Edit* e)> match;
  std::vector<std::string> stats;  // extra statistics the pattern reports (all start at 0)
  std::function<void(const std::vector<Node>& nodes, std::map<std::string, int>& stats)> count;
};

}  // namespace fastconv
