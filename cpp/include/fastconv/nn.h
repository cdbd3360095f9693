// Building and training networks in C++ with Python's fastconv.nn names (= torch.nn's): layers with the same
// constructor arguments, defaults, initialisation and state_dict names, traced into the same graph ops the Python
// tracer records, and compiled into a fastconv::Model (model.h) that predicts, trains and saves a file Python's
// fastconv.load rebuilds.
//
//   nn::manual_seed(0);
//   nn::Sequential net{nn::Conv2d(1, 8, 3, 1, 1), nn::ReLU(), nn::Flatten(), nn::Linear(8 * 8 * 8, 10)};
//   Model m = nn::compile(net, {32, 1, 8, 8}, "cross_entropy", nn::SGD(0.1, 0.9));
//   float loss = m.train_step(x, y);
//
// Layers hold their tensors by reference (a copied layer shares them), so a Model compiled from a module trains
// the module's own parameters.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/export.h"
#include "fastconv/graph.h"
#include "fastconv/model.h"
#include "fastconv/train.h"

namespace fastconv::nn {

// Seeds the stream that layer initialisation and dropout seeds draw from (Python's fastconv.manual_seed; the same
// seed gives the same C++ model, not the same numbers as Python).
FASTCONV_API void manual_seed(uint64_t seed);

// An int or an (h, w) pair, remembering which was given: pooling layers record the form given, as Python does.
struct Size2 {
  int64_t h = 0, w = 0;
  bool scalar = true;
  Size2(int64_t v) : h(v), w(v), scalar(true) {}  // NOLINT: implicit, as torch's `kernel_size=3`
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_), scalar(false) {}
};

// A forward pass being recorded into a graph: the mode, the module path nodes are scoped by, and each tensor's
// Param value (a tensor is bound once per graph).
class FASTCONV_API Tracer {
 public:
  Tracer(Graph& graph, bool training, std::shared_ptr<OptimizerState> state = nullptr)
      : graph_(graph), training_(training), state_(std::move(state)) {}
  Graph& graph() { return graph_; }
  bool training() const { return training_; }
  const std::string& scope() const { return scope_; }
  // The Param value of `t`, named "<scope>.<name>" the first time it is bound.
  ValueId bind(const std::string& name, const Tensor& t, bool trainable);
  ValueId add1(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs = {});
  std::vector<ValueId> add(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs = {});
  ValueId step();  // this run's step index (the optimizer's step counter): dropout masks differ per step
  // Runs f with `child` appended to the scope ("features" + "0" -> "features.0").
  template <class F>
  auto in_scope(const std::string& child, F&& f) {
    const std::string saved = scope_;
    scope_ = scope_.empty() ? child : scope_ + "." + child;
    struct Restore {
      std::string& s;
      std::string v;
      ~Restore() { s = std::move(v); }
    } restore{scope_, saved};
    return f();
  }
  // The (name, value) of every tensor bound so far, in binding order.
  const std::vector<std::pair<const void*, ValueId>>& bound() const { return bound_; }

 private:
  Graph& graph_;
  bool training_;
  std::shared_ptr<OptimizerState> state_;
  std::string scope_;
  std::vector<std::pair<const void*, ValueId>> bound_;
};

class FASTCONV_API Module {
 public:
  virtual ~Module() = default;
  // Records the layer's ops on x (a value of t's graph) and returns its output.
  virtual ValueId forward(Tracer& t, ValueId x) = 0;
  // Python's class key for the architecture description ("fastconv.nn.conv:Conv2d").
  virtual std::string class_key() const = 0;
  // The architecture description (fastconv.io.architecture's JSON) that fastconv.load rebuilds as a Python Module.
  virtual std::string architecture() const;

  bool is_training() const { return training_; }
  virtual Module& train(bool on = true);
  Module& eval() { return train(false); }

  // Own tensors, in registration order; named_* / state_dict recurse into children with "child." prefixes (as
  // torch: each module's parameters, then its buffers, then its children).
  const NamedTensors& parameters_here() const { return params_; }
  const NamedTensors& buffers_here() const { return buffers_; }
  virtual std::vector<std::pair<std::string, std::shared_ptr<Module>>> children() const { return {}; }
  NamedTensors named_parameters() const;
  NamedTensors state_dict() const;
  // Copies tensors by state_dict name (shapes and dtypes must match; missing or unknown names are errors).
  void load_state_dict(const NamedTensors& tensors);

 protected:
  // The "args"/"kwargs" members of the architecture JSON (without braces): `"args":[...],"kwargs":[...]`.
  virtual std::string arch_arguments() const { return "\"args\":[],\"kwargs\":[]"; }
  NamedTensors params_, buffers_;
  bool training_ = true;
};

// A module held by Sequential: any layer by value (copied; the copy shares its tensors) or a shared_ptr.
class FASTCONV_API AnyModule {
 public:
  template <class M, class = std::enable_if_t<std::is_base_of_v<Module, std::decay_t<M>>>>
  AnyModule(M&& m) : ptr_(std::make_shared<std::decay_t<M>>(std::forward<M>(m))) {}  // NOLINT: implicit
  AnyModule(std::shared_ptr<Module> m);  // NOLINT
  const std::shared_ptr<Module>& ptr() const { return ptr_; }

 private:
  std::shared_ptr<Module> ptr_;
};

class FASTCONV_API Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<AnyModule> modules);
  Sequential& append(AnyModule m);  // named "0", "1", ... in order
  size_t size() const { return items_.size(); }
  Module& operator[](size_t i) const;
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.container:Sequential"; }
  std::string architecture() const override;
  Module& train(bool on = true) override;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children() const override { return items_; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> items_;
};

class FASTCONV_API Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride = 1, Size2 padding = 0,
         Size2 dilation = 1, int64_t groups = 1, bool bias = true);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.conv:Conv2d"; }
  Tensor weight, bias;  // bias undefined when bias=false

 protected:
  std::string arch_arguments() const override;

 private:
  int64_t in_, out_, groups_;
  Size2 k_, s_, p_, d_;
};

class FASTCONV_API BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.norm:BatchNorm2d"; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 protected:
  std::string arch_arguments() const override;

 private:
  int64_t n_;
  double eps_, momentum_;
};

class FASTCONV_API Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.linear:Linear"; }
  Tensor weight, bias;

 protected:
  std::string arch_arguments() const override;

 private:
  int64_t in_, out_;
};

class FASTCONV_API ReLU : public Module {
 public:
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.activation:ReLU"; }
};

class FASTCONV_API MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.pool:MaxPool2d"; }

 protected:
  std::string arch_arguments() const override;

 private:
  Size2 k_, s_, p_;
  bool stride_given_;
};

class FASTCONV_API AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, std::optional<Size2> stride = std::nullopt, Size2 padding = 0,
                     bool ceil_mode = false, bool count_include_pad = true);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.pool:AvgPool2d"; }

 protected:
  std::string arch_arguments() const override;

 private:
  Size2 k_, s_, p_;
  bool stride_given_, ceil_, count_pad_;
};

// output_size: an int or (h, w); -1 keeps that input size (Python's None).
class FASTCONV_API AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.pool:AdaptiveAvgPool2d"; }

 protected:
  std::string arch_arguments() const override;

 private:
  Size2 o_;
};

class FASTCONV_API Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.linear:Flatten"; }

 protected:
  std::string arch_arguments() const override;

 private:
  int64_t start_, end_;
};

class FASTCONV_API Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  ValueId forward(Tracer& t, ValueId x) override;
  std::string class_key() const override { return "fastconv.nn.dropout:Dropout"; }
  int64_t seed;  // the mask's seed (drawn from manual_seed's stream); masks also vary with the step

 protected:
  std::string arch_arguments() const override;

 private:
  double p_;
};

// An optimizer by torch's names and defaults: its kind ("sgd", "adam", "adamw", "rmsprop", "adadelta", "adagrad"),
// learning rate and the
// other hyper-parameters by torch's names.
struct Optimizer {
  std::string kind;
  double lr = 1e-3;
  Attrs hyper;
};
FASTCONV_API Optimizer SGD(double lr = 1e-3, double momentum = 0, double weight_decay = 0, bool nesterov = false,
                           double dampening = 0);
FASTCONV_API Optimizer Adam(double lr = 1e-3, std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8,
                            double weight_decay = 0, bool amsgrad = false);
FASTCONV_API Optimizer AdamW(double lr = 1e-3, std::pair<double, double> betas = {0.9, 0.999}, double eps = 1e-8,
                             double weight_decay = 1e-2, bool amsgrad = false);
FASTCONV_API Optimizer RMSprop(double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weight_decay = 0,
                               double momentum = 0, bool centered = false);
FASTCONV_API Optimizer Adadelta(double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weight_decay = 0,
                                bool maximize = false);
FASTCONV_API Optimizer Adagrad(double lr = 1e-2, double lr_decay = 0, double weight_decay = 0,
                               double initial_accumulator_value = 0, double eps = 1e-10, bool maximize = false);

struct TrainOptions {
  double clip_grad_norm = 0;  // > 0: clip the gradients' total norm to this (torch.nn.utils.clip_grad_norm_)
  double clip_norm_type = 2;  // 2 or infinity
};

// The traced graphs of a module: what compile() hands to the Model (exposed for inspection and tests).
struct Traced {
  std::shared_ptr<Graph> predict, train;  // train: null without a loss and an optimizer
  ValueId predict_x = kNoValue, predict_out = kNoValue;
  ValueId train_x = kNoValue, train_y = kNoValue;
  TrainSpec spec;
  std::shared_ptr<OptimizerState> state;
};

// Losses by Python's compile names: "cross_entropy" (int64 class labels), "nll", "mse", "l1", "bce",
// "bce_with_logits" (float targets shaped like the output), and their Keras aliases.
FASTCONV_API Traced trace(Module& module, const Shape& input_shape, const std::string& loss = "",
                          const std::optional<Optimizer>& optimizer = std::nullopt, const TrainOptions& train = {});

// A Model (model.h) over the module's own tensors: predict in eval mode, train_step in train mode (when a loss and
// an optimizer are given), save() writes a file that Python's fastconv.load rebuilds as a Module. The module's
// training flag is left as it was.
FASTCONV_API Model compile(Module& module, const Shape& input_shape, const std::string& loss = "",
                           const std::optional<Optimizer>& optimizer = std::nullopt,
                           const ModelOptions& options = {}, const TrainOptions& train = {});

}  // namespace fastconv::nn
