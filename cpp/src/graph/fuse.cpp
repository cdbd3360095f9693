// Fusion passes: pattern rewrites on the whole compiled graph (forward + backward + updates), run after autodiff
// and before planning. The patterns are registered by the op families (Registry::fusions(); the conv and batch-norm
// ones live in ops/fused_patterns.cpp) and each is applied only where the target backend has kernels for the fused
// ops it emits. Each pattern is one sweep over the live nodes; a pattern fires only when its intermediates have
// exactly one consumer (the next node of the pattern) and are not graph outputs, so nothing another node reads
// disappears. The fused node takes the place of one pattern node, chosen so that all of its inputs are computed
// before it and all readers of its outputs come after it; the planner then sees fused nodes like any other, and
// the intermediates, produced by nothing, are never planned.
// Not a fusion but a reorder for memory, and named by no op: optimizer updates (side effects, no outputs) move up
// to right after their gradient.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "backend/kernel.h"
#include "fastconv/graph.h"
#include "graph/dce.h"
#include "graph/rewrite.h"
#include "ops/op.h"

namespace fastconv {
namespace {

// Updates early: a node with side effects and no outputs (an optimizer update) moves up to just after the last
// node it must follow: the producers of its computed inputs (the gradient, a clipping coefficient) and every other
// node that reads its private state (the parameter and its slots: forward and backward nodes read the old weights).
// State that several update nodes share (the [lr, step] tensor) is only read by them. Each gradient then dies at
// its update instead of living until the end of the backward pass, which is where a training step peaks.
int schedule_updates_early(Rewriter& r, const Registry& reg) {
  r.index();
  const int n = int(r.nodes.size());
  auto is_update = [&](const Node& x) { return x.outputs.empty() && reg.get(x.op).side_effects; };
  std::map<ValueId, int> update_readers;
  for (const Node& x : r.nodes)
    if (is_update(x))
      for (ValueId v : std::set<ValueId>(x.inputs.begin(), x.inputs.end())) ++update_readers[v];
  std::vector<int> after(size_t(n), -2);  // update position -> the position it follows (-1: the start)
  int moved = 0;
  for (int i = 0; i < n; ++i) {
    const Node& u = r.nodes[size_t(i)];
    if (!is_update(u)) continue;
    int last = -1;
    for (ValueId v : u.inputs) {
      if (r.g->value(v).kind == ValueKind::Computed) {
        last = std::max(last, r.producer_of(v));
      } else if (r.g->value(v).kind == ValueKind::Param && update_readers[v] == 1) {
        for (int c : r.consumers[v])
          if (c != i) last = std::max(last, c);
      }
    }
    if (last >= i - 1) continue;  // stays where it is (a later reader of its state, or nothing to gain)
    after[size_t(i)] = last;      // a non-update node, or -1
    ++moved;
  }
  if (!moved) return 0;
  std::vector<Node> out;
  std::vector<std::vector<int>> follow(size_t(n) + 1);
  for (int i = 0; i < n; ++i)
    if (after[size_t(i)] != -2) follow[size_t(after[size_t(i)] + 1)].push_back(i);
  for (int u : follow[0]) out.push_back(r.nodes[size_t(u)]);
  for (int i = 0; i < n; ++i) {
    if (after[size_t(i)] != -2) continue;
    out.push_back(r.nodes[size_t(i)]);
    for (int u : follow[size_t(i) + 1]) out.push_back(r.nodes[size_t(u)]);
  }
  r.nodes = std::move(out);
  return moved;
}


// Gradient buckets in flight (ops/dist.cpp): each allreduce_start moves up to right after the last node producing
// one of its gradients, and each bucket's wait to right after the next bucket's start, so that a sum travels while
// the backward pass computes the next bucket; the last wait stays where it was built, after the backward pass.
// The updates that read a bucket then move up behind its wait (schedule_updates_early).
int schedule_allreduce(Rewriter& r, const Registry& reg) {
  const std::string& start_op = reg.role(Role::allreduce_start);
  const std::string& wait_op = reg.role(Role::allreduce_wait);
  r.index();
  const int n = int(r.nodes.size());
  std::vector<int> starts, waits;
  for (int i = 0; i < n; ++i) {
    const Node& x = r.nodes[size_t(i)];
    if (x.op != start_op) continue;
    const auto& readers = r.consumers[x.outputs[0]];
    if (readers.size() != 1 || r.nodes[size_t(readers[0])].op != wait_op) return 0;  // not the builder's shape
    starts.push_back(i);
    waits.push_back(readers[0]);
  }
  if (starts.empty()) return 0;
  const size_t k = starts.size();
  std::vector<int> anchor(k, -1);
  for (size_t b = 0; b < k; ++b) {
    for (ValueId v : r.nodes[size_t(starts[b])].inputs) anchor[b] = std::max(anchor[b], r.producer_of(v));
    if (b) anchor[b] = std::max(anchor[b], anchor[b - 1]);  // buckets leave in order
  }
  // (anchor, order key, node): start b has key 2b; wait b, after start b + 1, key 2b + 3. The last wait stays.
  std::vector<std::tuple<int, size_t, int>> moved;
  std::vector<char> is_moved(size_t(n), 0);
  for (size_t b = 0; b < k; ++b) {
    moved.emplace_back(anchor[b], 2 * b, starts[b]);
    is_moved[size_t(starts[b])] = 1;
    if (b + 1 < k) {
      moved.emplace_back(anchor[b + 1], 2 * b + 3, waits[b]);
      is_moved[size_t(waits[b])] = 1;
    }
  }
  std::sort(moved.begin(), moved.end());
  std::vector<Node> out;
  size_t m = 0;
  auto emit_anchored = [&](int pos) {
    for (; m < moved.size() && std::get<0>(moved[m]) == pos; ++m) out.push_back(r.nodes[size_t(std::get<2>(moved[m]))]);
  };
  emit_anchored(-1);
  for (int i = 0; i < n; ++i) {
    if (is_moved[size_t(i)]) continue;
    out.push_back(r.nodes[size_t(i)]);
    emit_anchored(i);
  }
  FC_CHECK(out.size() == r.nodes.size(), Runtime, "fuse: allreduce scheduling lost nodes");
  r.nodes = std::move(out);
  return int(moved.size());
}

}  // namespace

int FuseStats::total() const {
  int n = 0;
  for (const FusionPattern& p : Registry::global().fusions()) n += get(p.name);
  return n;
}

FuseStats empty_fuse_stats() {
  FuseStats st;
  for (const FusionPattern& p : Registry::global().fusions()) {
    st.counts[p.name] = 0;
    for (const std::string& extra : p.stats) st.counts[extra] = 0;
  }
  st.counts["early_updates"] = 0;
  st.counts["allreduce_scheduled"] = 0;
  return st;
}

std::shared_ptr<Graph> fuse_graph(const Graph& src, const std::vector<ValueId>& outputs, FuseStats* stats,
                                  const std::string& backend) {
  const Registry& reg = Registry::global();
  Rewriter r;
  r.g = std::make_shared<Graph>(src);
  r.outputs.insert(outputs.begin(), outputs.end());

  // Dead nodes would count as consumers and block patterns: drop them first (the executor's rule).
  const std::vector<char> keep = live_nodes(src, outputs);
  for (int i = 0; i < src.num_nodes(); ++i)
    if (keep[size_t(i)]) r.nodes.push_back(src.node(i));

  FuseStats st = empty_fuse_stats();
  const KernelTable& kernels = KernelTable::global();
  for (const FusionPattern& p : reg.fusions()) {
    bool runs = true;  // a backend without the fused kernels keeps the unfused nodes
    for (const std::string& op : p.emits) runs = runs && kernels.has(op, backend);
    if (!runs) continue;
    st.counts[p.name] = r.sweep([&](int i, Rewriter::Edit* e) { return p.match(r, i, e); });
    if (p.count) p.count(r.nodes, st.counts);
  }
  st.counts["allreduce_scheduled"] = schedule_allreduce(r, reg);
  st.counts["early_updates"] = schedule_updates_early(r, reg);
  // Fused nodes go through their attribute check and shape rules: a rewrite that changed a value's shape is a bug
  // here, not later.
  for (const Node& n : r.nodes) {
    std::vector<TensorDesc> in;
    for (ValueId v : n.inputs) in.push_back(r.g->value(v).desc);
    check_attrs(reg.get(n.op), n.attrs);  // patterns build nodes without Graph::add
    const std::vector<TensorDesc> out = reg.get(n.op).infer(OpCall{n.op, n.attrs, in});
    FC_CHECK(out.size() == n.outputs.size(), Runtime, "fuse: ", n.op, " gives ", out.size(), " outputs, node has ",
             n.outputs.size());
    for (size_t k = 0; k < out.size(); ++k)
      FC_CHECK(out[k] == r.g->value(n.outputs[k]).desc, Runtime, "fuse: ", n.op, " output ", k, " is ",
               desc_str(out[k]), " but the value it replaces is ", desc_str(r.g->value(n.outputs[k]).desc));
  }
  r.g->set_nodes(std::move(r.nodes));
  if (stats) *stats = st;
  return r.g;
}

}  // namespace fastconv
