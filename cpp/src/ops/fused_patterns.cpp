// The fusion patterns of the conv and batch-norm families, registered with the op registry and applied by
// graph/fuse.cpp (which names no op) where the backend has the fused kernels (ops/fused.cpp):
//   bn_fold (inference):   conv -> batch_norm(eval)      => conv_bn_fold(w, b, bn params) -> (w', b'); conv
//   conv_epilogue:         conv -> [add residual] -> [relu] => conv*d_fused
//   bn_relu:               batch_norm -> [add residual] -> relu => batch_norm_relu / batch_norm_add_relu
//   bn_relu_backward:      relu_backward -> batch_norm_backward => batch_norm_relu_backward
// The fold's new weights are computed by a node at run time (a pass over the weights, cheap next to the conv)
// rather than baked into constants: a compiled inference program stays correct when training updates the
// parameters it was compiled with.
#include <algorithm>

#include "ops/op.h"

namespace fastconv {
namespace {

bool is_conv(const std::string& op) { return op == "conv1d" || op == "conv2d" || op == "conv3d"; }

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

}  // namespace

void register_fusion_patterns(Registry& r) {
  r.add_fusion({"bn_fold", {"conv_bn_fold"}, match_bn_fold, {}, nullptr});
  r.add_fusion({"conv_epilogue",
                {"conv1d_fused", "conv2d_fused", "conv3d_fused"},
                match_conv_epilogue,
                {"conv_residual"},
                [](const std::vector<Node>& nodes, std::map<std::string, int>& st) {
                  for (const Node& n : nodes)
                    st["conv_residual"] += n.op.size() > 6 && is_conv(n.op.substr(0, 6)) &&
                                           reader(n).get_bool("has_residual", false);
                }});
  r.add_fusion({"bn_relu",
                {"batch_norm_relu", "batch_norm_add_relu"},
                match_bn_relu,
                {"bn_add_relu"},
                [](const std::vector<Node>& nodes, std::map<std::string, int>& st) {
                  for (const Node& n : nodes) st["bn_add_relu"] += n.op == "batch_norm_add_relu";
                }});
  r.add_fusion({"bn_relu_backward", {"batch_norm_relu_backward"}, match_bn_relu_backward, {}, nullptr});
}

}  // namespace fastconv
