#include <sstream>

#include "fastconv/graph.h"
#include "ops/op.h"

namespace fastconv {

std::string desc_str(const TensorDesc& d) { return std::string(dtype_name(d.dtype)) + shape_str(d.shape); }

ValueId Graph::new_value(Value v) {
  values_.push_back(std::move(v));
  return static_cast<ValueId>(values_.size() - 1);
}

ValueId Graph::input(const std::string& name, const TensorDesc& desc) {
  Value v;
  v.desc = desc;
  v.kind = ValueKind::Input;
  v.name = name;
  return new_value(std::move(v));
}

ValueId Graph::param(const std::string& name, const Tensor& data, bool requires_grad) {
  FC_CHECK(data.defined() && data.is_contiguous(), Value, "param '", name, "': needs a defined contiguous tensor");
  Value v;
  v.desc = {data.shape(), data.dtype()};
  v.kind = ValueKind::Param;
  v.name = name;
  v.data = data;
  v.requires_grad = requires_grad;
  return new_value(std::move(v));
}

ValueId Graph::constant(const Tensor& data, const std::string& name) {
  Value v;
  v.desc = {data.shape(), data.dtype()};
  v.kind = ValueKind::Const;
  v.name = name;
  v.data = data.contiguous();
  return new_value(std::move(v));
}

const Value& Graph::value(ValueId id) const {
  FC_CHECK(id >= 0 && id < num_values(), Index, "graph: value id ", id, " does not exist (graph has ", num_values(),
           " values)");
  return values_[static_cast<size_t>(id)];
}
Value& Graph::value(ValueId id) { return const_cast<Value&>(static_cast<const Graph*>(this)->value(id)); }

std::vector<ValueId> Graph::add(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs,
                                const std::string& scope_in) {
  const std::string& scope = scope_in.empty() ? current_scope : scope_in;
  const OpDef& def = Registry::global().get(op);
  std::vector<TensorDesc> in;
  for (ValueId id : inputs) in.push_back(value(id).desc);
  std::vector<TensorDesc> out;
  try {
    check_attrs(def, attrs);
    FC_CHECK(int(in.size()) >= def.min_inputs && (def.max_inputs < 0 || int(in.size()) <= def.max_inputs), Value,
             op, ": got ", in.size(), " inputs, expected ", def.min_inputs,
             def.max_inputs == def.min_inputs ? "" : " or more");
    out = def.infer(OpCall{op, attrs, in});
  } catch (const Error& e) {
    if (scope.empty()) throw;
    throw Error(e.kind(), "in layer '" + scope + "': " + e.what());
  }
  Node n;
  n.op = op;
  n.attrs = attrs;
  n.inputs = inputs;
  n.scope = scope;
  int idx = static_cast<int>(nodes_.size());
  for (size_t i = 0; i < out.size(); ++i) {
    Value v;
    v.desc = out[i];
    v.producer = idx;
    v.out_index = static_cast<int>(i);
    n.outputs.push_back(new_value(std::move(v)));
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().outputs;
}

ValueId Graph::add1(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs,
                    const std::string& scope) {
  auto out = add(op, inputs, attrs, scope);
  FC_CHECK(!out.empty(), Runtime, op, ": produced no output");
  return out[0];
}

ValueId Graph::memo(const std::string& key) const {
  auto it = memo_.find(key);
  return it == memo_.end() ? kNoValue : it->second;
}

void Graph::set_memo(const std::string& key, ValueId v) {
  value(v);  // validates the id
  memo_[key] = v;
}

ValueId Graph::add_value(const TensorDesc& desc) {
  Value v;
  v.desc = desc;
  return new_value(std::move(v));
}

void Graph::set_nodes(std::vector<Node> nodes) {
  nodes_ = std::move(nodes);
  for (Value& v : values_)
    if (v.kind == ValueKind::Computed) v.producer = -1;  // values of removed nodes are produced by nothing
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (size_t k = 0; k < nodes_[i].outputs.size(); ++k) {
      Value& v = value(nodes_[i].outputs[k]);
      v.producer = static_cast<int>(i);
      v.out_index = static_cast<int>(k);
    }
}

std::string Graph::dump() const {
  std::ostringstream os;
  for (int i = 0; i < num_values(); ++i) {
    const Value& v = values_[size_t(i)];
    if (v.kind == ValueKind::Computed) continue;
    const char* k = v.kind == ValueKind::Input ? "input" : v.kind == ValueKind::Param ? "param" : "const";
    os << "%" << i << " = " << k << " " << desc_str(v.desc) << (v.name.empty() ? "" : "  # " + v.name) << "\n";
  }
  for (const Node& n : nodes_) {
    for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << "%" << n.outputs[i];
    os << " = " << n.op << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) os << (i ? ", " : "") << "%" << n.inputs[i];
    if (!n.attrs.items().empty()) os << "; " << n.attrs.str();
    os << ") -> ";
    for (size_t i = 0; i < n.outputs.size(); ++i) os << (i ? ", " : "") << desc_str(values_[size_t(n.outputs[i])].desc);
    if (!n.scope.empty()) os << "  # " << n.scope;
    os << "\n";
  }
  return os.str();
}

}  // namespace fastconv
