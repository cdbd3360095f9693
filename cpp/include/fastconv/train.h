// Training programs, built in C++: a graph holding the forward pass and its scalar loss, plus a TrainSpec (which
// parameters to train, how, with clipping), becomes one graph with the backward pass, gradient clipping and the
// optimizer updates appended. Optimizer state (step counter, learning rates, per-parameter slots) lives in an
// OptimizerState, shared by every program one optimizer drives (one per input shape): the step counter and the
// learning rates are device tensors the kernels read, so a step never reads tensor data on the host.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fastconv/attrs.h"
#include "fastconv/export.h"
#include "fastconv/graph.h"

namespace fastconv {

class FASTCONV_API OptimizerState {
 public:
  explicit OptimizerState(Device device = {});
  Tensor step() const { return step_; }  // int64 [1]: steps taken
  int64_t steps() const;                 // its value, read on the host (between steps only)
  void set_steps(int64_t n);
  Tensor lr(size_t group);               // float64 [1], 0 until set
  void set_lr(size_t group, double lr);  // from the host, between steps (schedules)
  size_t num_groups() const;
  // The state tensor `slot` of the parameter with key `key`, made as zeros shaped like the parameter on first use.
  Tensor slot(const std::string& key, const std::string& slot, const TensorDesc& like);
  // Every slot made so far, by key then slot name.
  std::map<std::string, std::map<std::string, Tensor>> slots() const;

 private:
  Device device_;
  Tensor step_;
  std::vector<Tensor> lr_;
  std::map<std::string, std::map<std::string, Tensor>> slots_;
  mutable std::mutex mu_;
};

struct ParamGroupSpec {
  // The parameters (Param values of the graph) and each one's key in the OptimizerState.
  std::vector<std::pair<ValueId, std::string>> params;
  Attrs hyper;  // the optimizer's hyperparameters by torch's names (momentum, betas, eps, weight_decay, ...)
};

struct TrainSpec {
  ValueId loss = kNoValue;  // a one-element value of the graph
  std::string optimizer;    // "sgd", "adam", "adamw", "rmsprop"; empty: gradients only, no updates
  std::vector<ParamGroupSpec> groups;
  double clip_grad_norm = 0;  // > 0: torch.nn.utils.clip_grad_norm_ with this max_norm
  double clip_norm_type = 2;  // 2 or inf
  // > 0: data-parallel training (fastconv.distributed): the gradients are averaged over the ranks, in buckets of
  // about this many bytes filled in the order the backward pass completes them, before clipping and updates.
  int64_t allreduce_bucket_bytes = 0;
  // Non-empty: the gradients are already values of the graph (inputs fed by the eager loop's backward(), one per
  // parameter in the groups' order); no backward pass is appended and `loss` is not read.
  std::vector<ValueId> given_grads;
};

struct TrainGraph {
  std::vector<ValueId> grads;  // d loss / d param, in the order of the groups' params
  ValueId step = kNoValue;     // this run's step index: the counter's value before its increment (0 first)
  int buckets = 0;             // allreduce buckets (spec.allreduce_bucket_bytes > 0)
};

// Appends backward, clipping and updates for `spec` to g; state is required when spec names an optimizer.
FASTCONV_API TrainGraph build_training(Graph& g, const TrainSpec& spec, OptimizerState* state);

// The graph's step counter: this run's step index, the value of `counter` (an int64 [1] tensor; a fresh one when
// undefined) before the run increments it. Made once per graph; later calls return the same value (and must name
// the same tensor).
FASTCONV_API ValueId step_counter(Graph& g, const Tensor& counter = Tensor());

}  // namespace fastconv
