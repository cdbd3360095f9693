// Reverse-mode autodiff as graph rewriting: each op's backward rule appends nodes; gradients that reach one
// value from several uses are summed with `add` nodes. Nothing is computed here.
#include <map>

#include "fastconv/graph.h"
#include "ops/op.h"

namespace fastconv {

std::vector<ValueId> append_backward(Graph& g, ValueId loss, const std::vector<ValueId>& wrt, ValueId seed) {
  const TensorDesc loss_desc = g.value(loss).desc;
  if (seed == kNoValue) {
    FC_CHECK(shape_numel(loss_desc.shape) == 1, Value, "backward: the loss must have exactly one element, got shape ",
             shape_str(loss_desc.shape), " (reduce it with sum() or mean() first)");
    seed = g.add1(Registry::global().role(Role::fill_like), {loss}, {{"value", 1.0}});
  }
  const int n_fwd = g.num_nodes();

  // Values that depend on some wrt value: only their nodes need backward rules.
  std::vector<char> depends(static_cast<size_t>(g.num_values()), 0);
  for (ValueId w : wrt) {
    g.value(w);  // validates the id
    depends[size_t(w)] = 1;
  }
  for (int i = 0; i < n_fwd; ++i) {
    const Node& n = g.node(i);
    bool any = false;
    for (ValueId v : n.inputs) any = any || depends[size_t(v)];
    if (any)
      for (ValueId v : n.outputs) depends[size_t(v)] = 1;
  }

  std::map<ValueId, ValueId> grad;
  grad[loss] = seed;
  const std::string& add_op = Registry::global().role(Role::accumulate);
  auto accumulate = [&](ValueId v, ValueId gv) {
    auto it = grad.find(v);
    if (it == grad.end())
      grad[v] = gv;
    else
      it->second = g.add1(add_op, {it->second, gv});
  };

  for (int i = n_fwd - 1; i >= 0; --i) {
    Node node = g.node(i);  // copy: rules add nodes, which may reallocate the node list
    BackwardCall call{g, node, {}, {}};
    bool any_out = false;
    for (ValueId o : node.outputs) {
      auto it = grad.find(o);
      call.grad_out.push_back(it == grad.end() ? kNoValue : it->second);
      any_out = any_out || it != grad.end();
    }
    bool any_in = false;
    for (ValueId v : node.inputs) {
      call.needs_grad.push_back(depends[size_t(v)] != 0);
      any_in = any_in || depends[size_t(v)];
    }
    if (!any_out || !any_in) continue;
    const OpDef& def = Registry::global().get(node.op);
    FC_CHECK(def.backward != nullptr, NotImplemented, "backward: op '", node.op, "'",
             node.scope.empty() ? "" : " in layer '" + node.scope + "'", " is not differentiable");
    std::string saved_scope = g.current_scope;
    g.current_scope = node.scope;
    std::vector<ValueId> gin = def.backward(call);
    g.current_scope = saved_scope;
    FC_CHECK(gin.size() == node.inputs.size(), Runtime, "backward rule of '", node.op, "' returned ", gin.size(),
             " gradients for ", node.inputs.size(), " inputs");
    for (size_t k = 0; k < gin.size(); ++k) {
      if (gin[k] == kNoValue || !call.needs_grad[k]) continue;
      FC_CHECK(g.value(gin[k]).desc.shape == g.value(node.inputs[k]).desc.shape, Runtime, "backward rule of '",
               node.op, "' gave a gradient of shape ", shape_str(g.value(gin[k]).desc.shape), " for input ", k,
               " of shape ", shape_str(g.value(node.inputs[k]).desc.shape));
      accumulate(node.inputs[k], gin[k]);
    }
  }

  std::vector<ValueId> out;
  for (ValueId w : wrt) {
    auto it = grad.find(w);
    if (it != grad.end()) {
      out.push_back(it->second);
    } else {
      const ValueId z = g.add1(Registry::global().role(Role::fill_like), {w}, {{"value", 0.0}});
      out.push_back(z);  // a node, not a host constant: it is made on the device the graph runs on
    }
  }
  return out;
}

}  // namespace fastconv
