#include "api/replay.h"

#include "fastconv/error.h"

namespace fastconv {

ValueId Replayed::at(ValueId old, const char* role) const {
  FC_CHECK(old >= 0 && size_t(old) < map.size() && map[size_t(old)] != kNoValue, Value, "replay: the ", role,
           " (value %", old, ") is not part of the replayed graph");
  return map[size_t(old)];
}

namespace {

// The traced batch size baked into a reshape's target (nn.Flatten records reshape(shape=(N, 256))) follows the
// input's new batch size, when the reshaped value's first dimension is that batch size.
Attrs rebatch(const Node& n, const Graph& g, const std::vector<ValueId>& in, const ReplayOptions& opt) {
  if (n.op != "reshape" || opt.old_batch < 0 || opt.new_batch < 0 || opt.old_batch == opt.new_batch) return n.attrs;
  const AttrValue* a = n.attrs.find("shape");
  if (a == nullptr || in.size() != 1) return n.attrs;
  const Shape& src = g.value(in[0]).desc.shape;
  std::vector<int64_t> s;
  if (const auto* v = std::get_if<std::vector<int64_t>>(a)) s = *v;
  else if (const auto* i = std::get_if<int64_t>(a)) s = {*i};
  else return n.attrs;
  if (s.empty() || s[0] != opt.old_batch || src.empty() || src[0] != opt.new_batch) return n.attrs;
  s[0] = opt.new_batch;
  Attrs out = n.attrs;
  out.set("shape", s);
  return out;
}

}  // namespace

Replayed replay_graph(const Graph& src, const ReplayOptions& opt) {
  const int nn = opt.num_nodes < 0 ? src.num_nodes() : opt.num_nodes;
  FC_CHECK(nn <= src.num_nodes(), Value, "replay: ", opt.what, " has ", src.num_nodes(), " nodes, asked for ", nn);
  // The values the prefix reaches: its nodes' inputs and outputs, and every input of the graph.
  std::vector<char> used(size_t(src.num_values()), 0);
  for (int i = 0; i < nn; ++i) {
    for (ValueId v : src.node(i).inputs) used[size_t(v)] = 1;
    for (ValueId v : src.node(i).outputs) used[size_t(v)] = 1;
  }
  Replayed r;
  r.graph = std::make_shared<Graph>();
  Graph& g = *r.graph;
  r.map.assign(size_t(src.num_values()), kNoValue);
  for (ValueId id = 0; id < src.num_values(); ++id) {
    const Value& v = src.value(id);
    if (v.kind == ValueKind::Computed || (!used[size_t(id)] && v.kind != ValueKind::Input)) continue;
    Tensor data = v.data;
    if (opt.tensors != nullptr && data.defined()) {
      auto it = opt.tensors->find(data.data_ptr());
      if (it != opt.tensors->end()) data = it->second;
    }
    if (v.kind == ValueKind::Input) {
      auto it = opt.inputs.find(id);
      r.map[size_t(id)] = g.input(v.name, it == opt.inputs.end() ? v.desc : it->second);
    } else if (v.kind == ValueKind::Param) {
      r.map[size_t(id)] = g.param(v.name, data, v.requires_grad);
    } else {
      r.map[size_t(id)] = g.constant(data, v.name);
    }
  }
  g.current_scope.clear();
  for (int i = 0; i < nn; ++i) {
    const Node& n = src.node(i);
    std::vector<ValueId> in;
    for (ValueId v : n.inputs) {
      FC_CHECK(r.map[size_t(v)] != kNoValue, Value, opt.what, ": node ", i, " (", n.op, ", layer '", n.scope,
               "') reads value %", v, ", which no earlier node makes");
      in.push_back(r.map[size_t(v)]);
    }
    std::vector<ValueId> out;
    try {
      out = g.add(n.op, in, rebatch(n, g, in, opt), n.scope);
    } catch (const Error& e) {
      throw Error(e.kind(), opt.what + ": node " + std::to_string(i) + " (" + n.op + ", layer '" + n.scope +
                                "'): " + e.what());
    }
    FC_CHECK(out.size() == n.outputs.size(), Value, opt.what, ": node ", i, " (", n.op, ") made ", out.size(),
             " outputs, the graph records ", n.outputs.size());
    for (size_t k = 0; k < out.size(); ++k) r.map[size_t(n.outputs[k])] = out[k];
  }
  // Memo keys (the step counter) are copied when their value was replayed.
  for (const char* key : {"step"}) {
    const ValueId m = src.memo(key);
    if (m != kNoValue && r.map[size_t(m)] != kNoValue) g.set_memo(key, r.map[size_t(m)]);
  }
  return r;
}

}  // namespace fastconv
