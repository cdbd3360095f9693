// From a module to a Model: the optimizers by torch's names, the losses by Python compile's names, tracing in eval
// mode (predict) and train mode (forward + loss, as python/fastconv/compile.py records them), make_model.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "api/model_impl.h"
#include "api/nn_internal.h"
#include "fastconv/error.h"

namespace fastconv::nn {

namespace {

void check_lr(const char* who, double lr) {
  FC_CHECK(lr >= 0 && std::isfinite(lr), Value, who, ": Invalid learning rate: ", lr);
}
void check_nonneg(const char* who, const char* arg, double v) {
  FC_CHECK(v >= 0 && std::isfinite(v), Value, who, ": Invalid ", arg, " value: ", v);
}

Optimizer adam_like(const char* who, const char* kind, double lr, std::pair<double, double> betas, double eps,
                    double weight_decay, bool amsgrad) {
  check_lr(who, lr);
  check_nonneg(who, "epsilon", eps);
  check_nonneg(who, "weight_decay", weight_decay);
  FC_CHECK(betas.first >= 0 && betas.first < 1, Value, who, ": Invalid beta parameter at index 0: ", betas.first);
  FC_CHECK(betas.second >= 0 && betas.second < 1, Value, who, ": Invalid beta parameter at index 1: ",
           betas.second);
  return {kind, lr,
          Attrs{{"betas", std::vector<double>{betas.first, betas.second}}, {"eps", eps},
                {"weight_decay", weight_decay}, {"amsgrad", amsgrad}}};
}

struct LossDef {
  const char* op;
  bool class_labels;  // int64 targets [N, ...] (the output without its class dimension); else float, output-shaped
};

LossDef loss_def(const std::string& name) {
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (key == "cross_entropy" || key == "categorical_crossentropy" || key == "sparse_categorical_crossentropy")
    return {"cross_entropy", true};
  if (key == "nll") return {"nll_loss", true};
  if (key == "mse" || key == "mean_squared_error") return {"mse_loss", false};
  if (key == "l1") return {"l1_loss", false};
  if (key == "bce") return {"binary_cross_entropy", false};
  if (key == "bce_with_logits") return {"binary_cross_entropy_with_logits", false};
  fail(ErrorKind::Value, "compile: unknown loss '", name,
       "'; expected one of 'bce', 'bce_with_logits', 'categorical_crossentropy', 'cross_entropy', 'l1', "
       "'mean_squared_error', 'mse', 'nll', 'sparse_categorical_crossentropy'");
}

Attrs loss_attrs(const LossDef& d) {
  if (std::string(d.op) == "cross_entropy")
    return {{"ignore_index", int64_t(-100)}, {"reduction", std::string("mean")}, {"label_smoothing", 0.0}};
  if (std::string(d.op) == "nll_loss") return {{"ignore_index", int64_t(-100)}, {"reduction", std::string("mean")}};
  return {{"reduction", std::string("mean")}};  // no has_weight/has_pos_weight: no optional inputs (as Python)
}

// Restores the module's training flag however tracing ends.
struct ModeGuard {
  Module& m;
  bool was;
  ~ModeGuard() { m.train(was); }
};

}  // namespace

Optimizer SGD(double lr, double momentum, double weight_decay, bool nesterov, double dampening) {
  check_lr("SGD", lr);
  check_nonneg("SGD", "momentum", momentum);
  check_nonneg("SGD", "weight_decay", weight_decay);
  FC_CHECK(!nesterov || (momentum > 0 && dampening == 0), Value,
           "SGD: Nesterov momentum requires a momentum and zero dampening");
  return {"sgd", lr,
          Attrs{{"momentum", momentum}, {"dampening", dampening}, {"weight_decay", weight_decay},
                {"nesterov", nesterov}, {"maximize", false}}};
}

Optimizer Adam(double lr, std::pair<double, double> betas, double eps, double weight_decay, bool amsgrad) {
  return adam_like("Adam", "adam", lr, betas, eps, weight_decay, amsgrad);
}

Optimizer AdamW(double lr, std::pair<double, double> betas, double eps, double weight_decay, bool amsgrad) {
  return adam_like("AdamW", "adamw", lr, betas, eps, weight_decay, amsgrad);
}

Optimizer RMSprop(double lr, double alpha, double eps, double weight_decay, double momentum, bool centered) {
  check_lr("RMSprop", lr);
  check_nonneg("RMSprop", "alpha", alpha);
  check_nonneg("RMSprop", "epsilon", eps);
  check_nonneg("RMSprop", "weight_decay", weight_decay);
  check_nonneg("RMSprop", "momentum", momentum);
  return {"rmsprop", lr,
          Attrs{{"alpha", alpha}, {"eps", eps}, {"weight_decay", weight_decay}, {"momentum", momentum},
                {"centered", centered}}};
}

Optimizer Adadelta(double lr, double rho, double eps, double weight_decay, bool maximize) {
  check_lr("Adadelta", lr);
  FC_CHECK(rho >= 0 && rho <= 1, Value, "Adadelta: Invalid rho value: ", rho);
  check_nonneg("Adadelta", "epsilon", eps);
  check_nonneg("Adadelta", "weight_decay", weight_decay);
  return {"adadelta", lr, Attrs{{"rho", rho}, {"eps", eps}, {"weight_decay", weight_decay}, {"maximize", maximize}}};
}

Optimizer Adagrad(double lr, double lr_decay, double weight_decay, double initial_accumulator_value, double eps,
                  bool maximize) {
  check_lr("Adagrad", lr);
  check_nonneg("Adagrad", "lr_decay", lr_decay);
  check_nonneg("Adagrad", "weight_decay", weight_decay);
  check_nonneg("Adagrad", "initial_accumulator_value", initial_accumulator_value);
  check_nonneg("Adagrad", "epsilon", eps);
  return {"adagrad", lr,
          Attrs{{"lr_decay", lr_decay}, {"weight_decay", weight_decay},
                {"initial_accumulator_value", initial_accumulator_value}, {"eps", eps}, {"maximize", maximize}}};
}

Traced trace(Module& module, const Shape& input_shape, const std::string& loss,
             const std::optional<Optimizer>& optimizer, const TrainOptions& train) {
  FC_CHECK(!input_shape.empty(), Value, "compile: argument 'input_shape' needs a batch dimension, got []");
  for (int64_t d : input_shape)
    FC_CHECK(d >= 1, Value, "compile: argument 'input_shape' must hold positive sizes, got ", shape_str(input_shape));
  FC_CHECK(loss.empty() == !optimizer.has_value(), Value, "compile: ",
           loss.empty() ? "an optimizer needs a loss" : "a loss needs an optimizer",
           " (give both to train the model, neither for inference only)");
  FC_CHECK(train.clip_grad_norm >= 0, Value, "compile: clip_grad_norm must be >= 0, got ", train.clip_grad_norm);
  ModeGuard guard{module, module.is_training()};
  Traced out;
  module.eval();
  out.predict = std::make_shared<Graph>();
  out.predict_x = out.predict->input("x", {input_shape, DType::f32});
  {
    Tracer t(*out.predict, false);
    out.predict_out = module.forward(t, out.predict_x);
  }
  if (!optimizer) return out;

  const LossDef def = loss_def(loss);
  module.train(true);
  out.state = std::make_shared<OptimizerState>();
  out.state->set_lr(0, optimizer->lr);
  out.train = std::make_shared<Graph>();
  Graph& g = *out.train;
  out.train_x = g.input("x", {input_shape, DType::f32});
  Tracer t(g, true, out.state);
  const ValueId y_hat = module.forward(t, out.train_x);
  Shape ys = g.value(y_hat).desc.shape;
  if (def.class_labels && ys.size() >= 2) ys.erase(ys.begin() + 1);
  out.train_y = g.input("y", {ys, def.class_labels ? DType::i64 : DType::f32});
  out.spec.loss = g.add(def.op, {y_hat, out.train_y}, loss_attrs(def), "loss")[0];
  out.spec.optimizer = optimizer->kind;
  out.spec.clip_grad_norm = train.clip_grad_norm;
  out.spec.clip_norm_type = train.clip_norm_type;
  ParamGroupSpec grp;
  grp.hyper = optimizer->hyper;
  // Keys as Python's optimizer: each parameter's index in parameters() order; parameters forward never read are
  // left out, as Python leaves out unbound ones.
  const NamedTensors params = module.named_parameters();
  for (size_t i = 0; i < params.size(); ++i)
    for (const auto& [ptr, v] : t.bound())
      if (ptr == params[i].second.data_ptr()) grp.params.emplace_back(v, std::to_string(i));
  out.spec.groups = {grp};
  return out;
}

Model compile(Module& module, const Shape& input_shape, const std::string& loss,
              const std::optional<Optimizer>& optimizer, const ModelOptions& options, const TrainOptions& train) {
  Traced tr = trace(module, input_shape, loss, optimizer, train);
  ModelGraphs g;
  g.predict = tr.predict;
  g.predict_x = tr.predict_x;
  g.predict_outputs = {{"output", tr.predict_out}};
  g.train = tr.train;
  g.train_x = tr.train_x;
  g.train_y = tr.train_y;
  g.spec = tr.spec;
  g.state = tr.state;
  g.state_dict = module.state_dict();
  g.architecture = module.architecture();
  return make_model(std::move(g), options);
}

}  // namespace fastconv::nn
