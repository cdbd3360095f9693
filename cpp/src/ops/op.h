// The op contract. One op = a name, a shape rule (validates, throws user-facing errors), a backward rule that
// *emits graph nodes*, and traits the graph passes read. Its kernels live in the kernel table (backend/kernel.h),
// registered by the same family per (backend, dtype, algorithm). Families register in registry.cpp, one line each.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/kernel.h"
#include "fastconv/attrs.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"
#include "fastconv/ops.h"
#include "fastconv/tensor.h"
#include "graph/rewrite.h"

namespace fastconv {

struct BackwardCall {
  Graph& g;
  const Node& node;                     // the forward node (copy; the graph may grow while the rule runs)
  std::vector<ValueId> grad_out;        // one per output; kNoValue where no gradient flows
  std::vector<bool> needs_grad;         // one per input
  AttrReader attr() const { return AttrReader(node.op, node.attrs); }
  ValueId in(size_t i) const { return node.inputs.at(i); }
  ValueId out(size_t i) const { return node.outputs.at(i); }
  // By value: rules add nodes, and adding may move the value table under a reference.
  TensorDesc desc(ValueId v) const { return g.value(v).desc; }
};

// An integer input whose values index something (class labels): the executor checks graph inputs that feed it
// before a step starts, so a bad label is an IndexError and the step changes nothing. A shape rule never sees
// values; kernels turn an out-of-range index into NaN, never into an out-of-bounds read.
struct IndexInput {
  size_t input;            // position among the op's inputs (int64)
  std::string arg;         // its argument name: "target"
  int64_t lo, hi;          // valid values are [lo, hi) ...
  bool has_ignore = false;  // ... or `ignore`
  int64_t ignore = 0;
  std::string what;  // "class indices"
};

struct OpDef {
  std::string name;
  int min_inputs = 1, max_inputs = 1;  // max_inputs = -1: variadic
  std::function<std::vector<TensorDesc>(const OpCall&)> infer;
  // Returns one gradient value per input (kNoValue for none). Null: the op is not differentiable.
  std::function<std::vector<ValueId>(BackwardCall&)> backward;
  bool side_effects = false;  // writes state (running stats, optimizer updates): never removed as dead code
  int inplace_input = -1;     // output 0 may reuse this input's buffer when the input dies at this node
  bool view = false;          // output 0 is input 0's bytes unchanged (reshape): the planner aliases, no copy
  std::function<std::vector<IndexInput>(const OpCall&)> index_inputs = nullptr;  // null: no input holds indices
  // The attribute names the op accepts, sorted: what its shape rule, kernels and backward rule read, including
  // those graph passes set (has_bias, input_shape, ...). Registry::add sets it; any other name is a ValueError.
  std::vector<std::string> attrs = {};
};

// A family's declaration of the attribute names one op accepts; {} for an op without attributes.
using AttrNames = std::vector<std::string>;

// ValueError unless every attribute in `attrs` is one `def` accepts: names the op, the attribute, the closest
// accepted name (edit distance) and the whole list. Graph::add, run_op and the fusion pass call it.
void check_attrs(const OpDef& def, const Attrs& attrs);
// `base` and `more`: a backward op's list is usually its forward's plus what the backward rule adds.
inline AttrNames attr_names_plus(AttrNames base, const AttrNames& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

// Ops the graph passes need by what they do, not by name: families say which of their ops plays each role.
enum class Role {
  accumulate,         // (a, b) -> a + b: autodiff sums the gradients that reach one value
  fill_like,          // (x; value) -> x's shape filled with `value`: the seed of a backward pass
  clip_grad_coef,     // (grads...; max_norm, norm_type) -> [1] coefficient (torch's clip_grad_norm_)
  counter_increment,  // (int64 counter) -> its old value; counter + 1 written in place: steps, num_batches_tracked
  allreduce_start,    // (grads...) -> packed: starts averaging a gradient bucket over the ranks (ops/dist.cpp)
  allreduce_wait,     // (packed) -> grads...: waits for it
};

// An optimizer as the training-program builder (graph/train.cpp) sees it: the update op applied to each parameter
// and the state slots it keeps per parameter, both derived from the group's hyperparameters. The update op takes
// (param, grad, lr [1] float64, step index [1] int64 (0 on the first step), slots..., [clip coefficient]) and writes
// param and slots in place.
struct OptimizerDef {
  std::string name;  // "sgd", "adam", "adamw", "rmsprop"
  std::string update_op;
  std::function<std::vector<std::string>(const AttrReader& hyper)> slots;
  std::function<Attrs(const AttrReader& hyper)> attrs;  // the update node's attributes; validates the hyperparameters
};

class Registry {
 public:
  static Registry& global();
  // Every op declares the attributes it accepts: there is no overload without the list.
  void add(OpDef def, AttrNames attrs);
  const OpDef& get(const std::string& name) const;  // throws ValueError listing close names
  bool has(const std::string& name) const;
  std::vector<std::string> names() const;

  void set_role(Role role, const std::string& op);
  const std::string& role(Role role) const;
  void add_optimizer(OptimizerDef def);
  const OptimizerDef& optimizer(const std::string& name) const;  // ValueError listing the known ones
  // Fusion patterns, applied by graph/fuse.cpp in registration order.
  void add_fusion(FusionPattern p) { fusions_.push_back(std::move(p)); }
  const std::vector<FusionPattern>& fusions() const { return fusions_; }

 private:
  std::vector<OpDef> ops_;
  std::map<Role, std::string> roles_;
  std::vector<OptimizerDef> optimizers_;
  std::vector<FusionPattern> fusions_;
};

// Shape-rule helpers shared by families.
void expect_inputs(const OpCall& c, size_t n);
void expect_dtype(const OpCall& c, size_t i, DType t, const char* arg);
void expect_rank(const OpCall& c, size_t i, int64_t rank, const char* arg, const char* layout);

// run_op (eager mode: one op on concrete tensors) is public: fastconv/ops.h.

}  // namespace fastconv
