// The training-program builder. It names no op: the update op and slots come from the optimizer's registry entry
// (ops/optim.cpp), clipping and counting from registry roles.
#include "fastconv/train.h"

#include <algorithm>

#include "ops/op.h"

namespace fastconv {

OptimizerState::OptimizerState(Device device) : device_(device), step_(Tensor::zeros({1}, DType::i64, device)) {}

int64_t OptimizerState::steps() const { return step_.data<const int64_t>()[0]; }

void OptimizerState::set_steps(int64_t n) {
  FC_CHECK(n >= 0, Value, "OptimizerState: the step count must be >= 0, got ", n);
  step_.data<int64_t>()[0] = n;
}

Tensor OptimizerState::lr(size_t group) {
  std::lock_guard<std::mutex> lock(mu_);
  while (lr_.size() <= group) lr_.push_back(Tensor::zeros({1}, DType::f64, device_));
  return lr_[group];
}

void OptimizerState::set_lr(size_t group, double v) {
  FC_CHECK(v >= 0, Value, "OptimizerState: learning rate must be >= 0, got ", v);
  lr(group).data<double>()[0] = v;
}

size_t OptimizerState::num_groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lr_.size();
}

Tensor OptimizerState::slot(const std::string& key, const std::string& slot, const TensorDesc& like) {
  std::lock_guard<std::mutex> lock(mu_);
  Tensor& t = slots_[key][slot];
  if (!t.defined()) {
    t = Tensor::zeros(like.shape, like.dtype, device_);
  } else {
    FC_CHECK(t.shape() == like.shape && t.dtype() == like.dtype, Value, "optimizer state '", key, ".", slot,
             "' holds ", desc_str({t.shape(), t.dtype()}), " but the parameter is ", desc_str(like),
             " (was the parameter replaced? make a new optimizer)");
  }
  return t;
}

std::map<std::string, std::map<std::string, Tensor>> OptimizerState::slots() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_;
}

ValueId step_counter(Graph& g, const Tensor& counter) {
  const ValueId have = g.memo("step");
  if (have != kNoValue) {
    const Value& c = g.value(g.node(g.value(have).producer).inputs[0]);
    FC_CHECK(!counter.defined() || c.data.data_ptr() == counter.data_ptr(), Value,
             "step_counter: this graph already counts steps in another tensor (one counter per graph)");
    return have;
  }
  Tensor t = counter.defined() ? counter : Tensor::zeros({1}, DType::i64);
  const ValueId state = g.param("step_counter", t, false);
  const ValueId step = g.add1(Registry::global().role(Role::counter_increment), {state}, {}, "step");
  g.set_memo("step", step);
  return step;
}

namespace {

// Replaces each gradient by its average over the ranks: buckets of gradients in the order the backward pass
// completes them (their producers' order), each one allreduce_start -> allreduce_wait. Returns the bucket count.
int average_over_ranks(Graph& g, const TrainSpec& spec, std::vector<ValueId>& grads) {
  const Registry& reg = Registry::global();
  std::vector<size_t> order(grads.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return g.value(grads[a]).producer < g.value(grads[b]).producer; });
  const std::string saved = g.current_scope;
  int buckets = 0;
  for (size_t at = 0; at < order.size();) {
    std::vector<size_t> bucket;
    int64_t bytes = 0;
    while (at < order.size() && (bucket.empty() || bytes < spec.allreduce_bucket_bytes)) {
      bytes += shape_numel(g.value(grads[order[at]]).desc.shape) * int64_t(sizeof(float));
      bucket.push_back(order[at++]);
    }
    std::vector<ValueId> in;
    std::vector<int64_t> dims, ranks;
    for (size_t i : bucket) {
      in.push_back(grads[i]);
      const Shape& s = g.value(grads[i]).desc.shape;
      dims.insert(dims.end(), s.begin(), s.end());
      ranks.push_back(int64_t(s.size()));
    }
    g.current_scope = "allreduce:bucket" + std::to_string(buckets++);
    const ValueId packed = g.add1(reg.role(Role::allreduce_start), in);
    const std::vector<ValueId> avg = g.add(reg.role(Role::allreduce_wait), {packed}, {{"dims", dims}, {"ranks", ranks}});
    for (size_t j = 0; j < bucket.size(); ++j) grads[bucket[j]] = avg[j];
  }
  g.current_scope = saved;
  return buckets;
}

}  // namespace

TrainGraph build_training(Graph& g, const TrainSpec& spec, OptimizerState* state) {
  const Registry& reg = Registry::global();
  std::vector<ValueId> wrt;
  for (const ParamGroupSpec& grp : spec.groups)
    for (const auto& [v, key] : grp.params) {
      FC_CHECK(g.value(v).kind == ValueKind::Param, Value, "train: value %", v, " ('", g.value(v).name,
               "') is not a parameter of the graph");
      FC_CHECK(std::find(wrt.begin(), wrt.end(), v) == wrt.end(), Value, "train: parameter '", g.value(v).name,
               "' appears in more than one place of the param groups");
      wrt.push_back(v);
    }
  TrainGraph out;
  const std::string saved_scope = g.current_scope;
  FC_CHECK(spec.optimizer.empty() || state != nullptr, Value, "train: optimizer '", spec.optimizer,
           "' needs an OptimizerState");
  // The counter goes before the backward pass: an update reads the step index, so a counter placed after the
  // backward would hold every update (and every gradient buffer) until the end of the step, where the fusion pass
  // can no longer move them next to their gradients (ResNet-18's arena doubled).
  if (!spec.optimizer.empty()) out.step = step_counter(g, state->step());
  if (!spec.given_grads.empty()) {
    FC_CHECK(spec.given_grads.size() == wrt.size(), Value, "train: ", spec.given_grads.size(),
             " given gradients for ", wrt.size(), " parameters");
    for (size_t i = 0; i < wrt.size(); ++i)
      FC_CHECK(g.value(spec.given_grads[i]).desc.shape == g.value(wrt[i]).desc.shape, Value,
               "train: the gradient of '", g.value(wrt[i]).name, "' has shape ", shape_str(g.value(spec.given_grads[i]).desc.shape), ", the parameter ",
               shape_str(g.value(wrt[i]).desc.shape));
    out.grads = spec.given_grads;
  } else {
    out.grads = wrt.empty() ? std::vector<ValueId>{} : append_backward(g, spec.loss, wrt);
  }
  if (spec.allreduce_bucket_bytes > 0 && !out.grads.empty()) out.buckets = average_over_ranks(g, spec, out.grads);
  if (spec.optimizer.empty()) return out;
  const OptimizerDef& opt = reg.optimizer(spec.optimizer);
  ValueId coef = kNoValue;
  if (spec.clip_grad_norm > 0 && !out.grads.empty()) {
    g.current_scope = "clip_grad_norm";
    coef = g.add1(reg.role(Role::clip_grad_coef), out.grads,
                  {{"max_norm", spec.clip_grad_norm}, {"norm_type", spec.clip_norm_type}});
  }
  size_t k = 0;
  for (size_t gi = 0; gi < spec.groups.size(); ++gi) {
    const ParamGroupSpec& grp = spec.groups[gi];
    const AttrReader hyper(spec.optimizer, grp.hyper);
    Attrs attrs = opt.attrs(hyper);
    attrs.set("clipped", coef != kNoValue);
    const std::vector<std::string> slots = opt.slots(hyper);
    const ValueId lr = g.param("optimizer.param_groups." + std::to_string(gi) + ".lr", state->lr(gi), false);
    for (const auto& [v, key] : grp.params) {
      const std::string name = g.value(v).name;
      std::vector<ValueId> in{v, out.grads[k++], lr, out.step};
      for (const std::string& s : slots)
        in.push_back(g.param(name + "." + s, state->slot(key, s, g.value(v).desc), false));
      if (coef != kNoValue) in.push_back(coef);
      g.current_scope = "optimizer:" + name;
      g.add(opt.update_op, in, attrs);
    }
  }
  g.current_scope = saved_scope;
  return out;
}

}  // namespace fastconv
