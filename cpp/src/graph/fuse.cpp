// Fusion passes: pattern rewrites on the whole compiled graph (forward + backward + updates), run after autodiff
// and before planning. Each pass is one sweep over the live nodes; a pattern fires only when its intermediates
// have exactly one consumer (the next node of the pattern) and are not graph outputs, so nothing another node reads
// disappears. The fused node takes the place of one pattern node, chosen so that all of its inputs are computed
// before it and all readers of its outputs come after it; the planner then sees fused nodes like any other, and
// the intermediates, produced by nothing, are never planned.
//   1. bn fold (inference):  conv -> batch_norm(eval)      => conv_bn_fold(w, b, bn params) -> (w', b'); conv
//   2. conv epilogue:        conv -> [add residual] -> [relu] => conv*d_fused
//   3. bn + relu:            batch_norm -> [add residual] -> relu => batch_norm_relu / batch_norm_add_relu
//   4. backward:             relu_backward -> batch_norm_backward => batch_norm_relu_backward
//   5. not a fusion but a reorder for memory: optimizer updates move up to right after their gradient.
// The fold's new weights are computed by a node at run time (a pass over the weights, cheap next to the conv)
// rather than baked into constants: a compiled inference program stays correct when training updates the
// parameters it was compiled with.
#include <algorithm>
#include <map>
#include <set>

#include "fastconv/graph.h"
#include "graph/dce.h"
#include "ops/op.h"

namespace fastconv {
namespace {

bool is_conv(const std::string& op) { return op == "conv1d" || op == "conv2d" || op == "conv3d"; }

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

AttrReader reader(const Node& n) { return AttrReader(n.op, n.attrs); }

// 1. conv -> batch_norm(eval): the conv computes with folded weights and writes the batch norm's output.
bool match_bn_fold(Rewriter& r, int j, Rewriter::Edit* e) {
  const Node& bn = r.nodes[size_t(j)];
  if (bn.op != "batch_norm" || reader(bn).get_bool("training", false) || !reader(bn).get_bool("has_running", false))
    return false;
  const ValueId z = bn.inputs[0];
  const int i = r.producer_of(z);
  if (i < 0 || !is_conv(r.nodes[size_t(i)].op) || !r.only_use(z, j)) return false;
  if (!r.unused(bn.outputs[1]) || !r.unused(bn.outputs[2])) return false;
  const Node& conv = r.nodes[size_t(i)];
  std::vector<ValueId> fin{conv.inputs[1]};
  if (conv.inputs.size() > 2) fin.push_back(conv.inputs[2]);
  for (size_t k = 1; k < bn.inputs.size(); ++k) fin.push_back(bn.inputs[k]);
  const TensorDesc wd = r.g->value(conv.inputs[1]).desc;
  const int64_t K = wd.shape[0];
  const ValueId w2 = r.g->add_value(wd), b2 = r.g->add_value({{K}, DType::f32});
  std::vector<ValueId> cin{conv.inputs[0], w2, b2};
  if (!r.fits_at(i, fin, {w2, b2}, {i, j}) || !r.fits_at(i, cin, {bn.outputs[0]}, {i, j})) return false;
  Attrs fa{{"has_conv_bias", conv.inputs.size() > 2},
           {"has_weight", reader(bn).get_bool("has_weight", false)},
           {"has_bias", reader(bn).get_bool("has_bias", false)},
           {"eps", reader(bn).get_float("eps", 1e-5)}};
  e->claimed = {i, j};
  e->at = i;
  e->emit.push_back(r.make("conv_bn_fold", fin, {w2, b2}, fa, bn.scope));
  e->emit.push_back(r.make(conv.op, cin, {bn.outputs[0]}, conv.attrs, conv.scope));
  return true;
}

// 2. conv -> [add(z, residual)] -> [relu] with at least one of the two: one conv*d_fused node.
bool match_conv_epilogue(Rewriter& r, int i, Rewriter::Edit* e) {
  const Node& conv = r.nodes[size_t(i)];
  if (!is_conv(conv.op)) return false;
  ValueId cur = conv.outputs[0], residual = kNoValue;
  const TensorDesc zd = r.g->value(cur).desc;
  std::vector<int> claimed{i};
  auto next_node = [&](ValueId v) -> int {
    auto it = r.consumers.find(v);
    if (it == r.consumers.end() || it->second.size() != 1 || r.outputs.count(v)) return -1;
    return it->second[0];
  };
  int k = next_node(cur);
  if (k >= 0 && r.nodes[size_t(k)].op == "add" && r.nodes[size_t(k)].inputs.size() == 2) {
    const Node& add = r.nodes[size_t(k)];
    const ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
    if (other != cur && r.g->value(other).desc == zd && r.g->value(add.outputs[0]).desc == zd) {
      residual = other;
      cur = add.outputs[0];
      claimed.push_back(k);
      k = next_node(cur);
    }
  }
  bool relu = false;
  if (k >= 0 && r.nodes[size_t(k)].op == "relu") {
    relu = true;
    cur = r.nodes[size_t(k)].outputs[0];
    claimed.push_back(k);
  }
  if (claimed.size() == 1) return false;
  std::vector<ValueId> in = conv.inputs;
  if (residual != kNoValue) in.push_back(residual);
  const int at = claimed.back();
  if (!r.fits_at(at, in, {cur}, claimed)) return false;
  Attrs a = conv.attrs;
  a.set("has_bias", conv.inputs.size() > 2).set("has_residual", residual != kNoValue).set("relu", relu);
  e->claimed = claimed;
  e->at = at;
  e->emit.push_back(r.make(conv.op + "_fused", in, {cur}, a, conv.scope));
  return true;
}

// 3. batch_norm -> [add(u, residual)] -> relu: batch_norm_relu / batch_norm_add_relu write relu's output and the
// batch norm's saved statistics. Placed at the batch norm when the residual exists by then, else at the relu.
bool match_bn_relu(Rewriter& r, int j, Rewriter::Edit* e) {
  const Node& bn = r.nodes[size_t(j)];
  if (bn.op != "batch_norm") return false;
  auto single = [&](ValueId v) -> int {
    auto it = r.consumers.find(v);
    return it == r.consumers.end() || it->second.size() != 1 || r.outputs.count(v) ? -1 : it->second[0];
  };
  std::vector<int> claimed{j};
  std::vector<ValueId> in = bn.inputs;
  ValueId cur = bn.outputs[0];
  int k = single(cur);
  const TensorDesc ud = r.g->value(cur).desc;
  if (k >= 0 && r.nodes[size_t(k)].op == "add" && r.nodes[size_t(k)].inputs.size() == 2) {
    const Node& add = r.nodes[size_t(k)];
    const ValueId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
    if (other == cur || !(r.g->value(other).desc == ud) || !(r.g->value(add.outputs[0]).desc == ud)) return false;
    in.push_back(other);
    claimed.push_back(k);
    cur = add.outputs[0];
    k = single(cur);
  }
  if (k < 0 || r.nodes[size_t(k)].op != "relu") return false;
  claimed.push_back(k);
  std::vector<ValueId> out{r.nodes[size_t(k)].outputs[0], bn.outputs[1], bn.outputs[2]};
  int at = j;
  if (!r.fits_at(at, in, out, claimed)) at = k;
  if (!r.fits_at(at, in, out, claimed)) return false;
  e->claimed = claimed;
  e->at = at;
  e->emit.push_back(r.make(in.size() > bn.inputs.size() ? "batch_norm_add_relu" : "batch_norm_relu", in, out,
                           bn.attrs, bn.scope));
  return true;
}

// 4. relu_backward(g, y) -> batch_norm_backward(du, x, [w], mean, invstd): the mask is applied inside.
bool match_bn_relu_backward(Rewriter& r, int j, Rewriter::Edit* e) {
  const Node& bb = r.nodes[size_t(j)];
  if (bb.op != "batch_norm_backward") return false;
  const ValueId du = bb.inputs[0];
  const int k = r.producer_of(du);
  if (k < 0 || r.nodes[size_t(k)].op != "relu_backward" || !r.only_use(du, j)) return false;
  const Node& rb = r.nodes[size_t(k)];
  std::vector<ValueId> in{rb.inputs[0], rb.inputs[1]};
  in.insert(in.end(), bb.inputs.begin() + 1, bb.inputs.end());
  if (!r.fits_at(j, in, bb.outputs, {j, k})) return false;
  e->claimed = {k, j};
  e->at = j;
  e->emit.push_back(r.make("batch_norm_relu_backward", in, bb.outputs, bb.attrs, bb.scope));
  return true;
}

// 5. Updates early: a node with side effects and no outputs (an optimizer update) moves up to just after the last
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

}  // namespace

std::shared_ptr<Graph> fuse_graph(const Graph& src, const std::vector<ValueId>& outputs, FuseStats* stats) {
  const Registry& reg = Registry::global();
  Rewriter r;
  r.g = std::make_shared<Graph>(src);
  r.outputs.insert(outputs.begin(), outputs.end());

  // Dead nodes would count as consumers and block patterns: drop them first (the executor's rule).
  const std::vector<char> keep = live_nodes(src, outputs);
  for (int i = 0; i < src.num_nodes(); ++i)
    if (keep[size_t(i)]) r.nodes.push_back(src.node(i));

  FuseStats st;
  st.bn_fold = r.sweep([&](int i, Rewriter::Edit* e) { return match_bn_fold(r, i, e); });
  st.conv_epilogue = r.sweep([&](int i, Rewriter::Edit* e) { return match_conv_epilogue(r, i, e); });
  for (const Node& n : r.nodes)
    if (is_conv(n.op.substr(0, 6)) && n.op.size() > 6 && reader(n).get_bool("has_residual", false)) ++st.conv_residual;
  st.bn_relu = r.sweep([&](int i, Rewriter::Edit* e) { return match_bn_relu(r, i, e); });
  for (const Node& n : r.nodes) st.bn_add_relu += n.op == "batch_norm_add_relu";
  st.bn_relu_backward = r.sweep([&](int i, Rewriter::Edit* e) { return match_bn_relu_backward(r, i, e); });
  st.early_updates = schedule_updates_early(r, reg);

  // Fused nodes go through their shape rules: a rewrite that changed a value's shape is a bug here, not later.
  for (const Node& n : r.nodes) {
    std::vector<TensorDesc> in;
    for (ValueId v : n.inputs) in.push_back(r.g->value(v).desc);
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
