// The Model: programs compiled per input shape from its graphs (replayed for each new shape), inference and
// training steps, the optimizer's state. Files are model_load.cpp's.
#include <algorithm>

#include "api/model_state.h"
#include "api/replay.h"
#include "fastconv/error.h"
#include "fastconv/parallel.h"

namespace fastconv {

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

void check_input(const Tensor& x, const char* arg, const char* who) {
  FC_CHECK(x.defined(), Value, who, ": argument '", arg, "' is an undefined tensor");
  FC_CHECK(x.dim() >= 1, Value, who, ": argument '", arg, "' needs a batch dimension, got shape ",
           shape_str(x.shape()));
}

// Every input a graph's nodes read must be one the Model binds (an unbound input would run on no data).
void check_inputs(const Graph& g, const std::vector<ValueId>& bound, const char* what) {
  for (int i = 0; i < g.num_nodes(); ++i)
    for (ValueId v : g.node(i).inputs)
      FC_CHECK(g.value(v).kind != ValueKind::Input || std::find(bound.begin(), bound.end(), v) != bound.end(),
               Value, "make_model: node ", i, " (", g.node(i).op, ") of the ", what, " reads input '",
               g.value(v).name, "' (value %", v, "), which is not the model's input");
}

}  // namespace

CompileOptions Model::Impl::compile_options() const {
  CompileOptions o;
  o.device = options.device;
  o.fuse = true;  // Python's compile default
  return o;
}

Model::Impl::Program Model::Impl::predict_program(const Shape& x_shape) const {
  std::lock_guard<std::mutex> lock(predict_mu);
  for (auto it = predict_cache.begin(); it != predict_cache.end(); ++it)
    if (it->x_shape == x_shape) {
      predict_cache.splice(predict_cache.begin(), predict_cache, it);
      return predict_cache.front();
    }
  const Graph& src = *g.predict;
  ReplayOptions ro;
  ro.inputs[g.predict_x] = {x_shape, src.value(g.predict_x).desc.dtype};
  ro.old_batch = src.value(g.predict_x).desc.shape.at(0);
  ro.new_batch = x_shape.at(0);
  ro.tensors = device_tensors.empty() ? nullptr : &device_tensors;
  ro.what = "predict graph";
  Replayed r = replay_graph(src, ro);
  Program p;
  p.x_shape = x_shape;
  p.x = r.at(g.predict_x, "predict input");
  for (const auto& [name, id] : g.predict_outputs) p.outputs.push_back(r.at(id, "predict output"));
  p.exe = std::make_shared<Executable>(r.graph, p.outputs, compile_options());
  if (predict_cache.size() >= kMaxPrograms) predict_cache.pop_back();
  predict_cache.push_front(std::move(p));
  return predict_cache.front();
}

Model::Impl::Program& Model::Impl::train_program(const Shape& x_shape, const Shape& y_shape) {
  for (auto it = train_cache.begin(); it != train_cache.end(); ++it)
    if (it->x_shape == x_shape && it->y_shape == y_shape) {
      train_cache.splice(train_cache.begin(), train_cache, it);
      return train_cache.front();
    }
  const Graph& src = *g.train;
  ReplayOptions ro;
  ro.inputs[g.train_x] = {x_shape, src.value(g.train_x).desc.dtype};
  ro.inputs[g.train_y] = {y_shape, src.value(g.train_y).desc.dtype};
  ro.old_batch = src.value(g.train_x).desc.shape.at(0);
  ro.new_batch = x_shape.at(0);
  ro.tensors = device_tensors.empty() ? nullptr : &device_tensors;
  ro.what = "train graph";
  Replayed r = replay_graph(src, ro);
  TrainSpec spec = g.spec;
  spec.loss = r.at(g.spec.loss, "loss");
  for (ParamGroupSpec& grp : spec.groups)
    for (auto& [v, key] : grp.params) v = r.at(v, "trained parameter");
  Program p;
  p.x_shape = x_shape;
  p.y_shape = y_shape;
  p.x = r.at(g.train_x, "train input x");
  p.y = r.at(g.train_y, "train target y");
  p.loss = spec.loss;
  build_training(*r.graph, spec, g.state.get());
  p.exe = std::make_shared<Executable>(r.graph, std::vector<ValueId>{p.loss}, compile_options());
  if (train_cache.size() >= kMaxPrograms) train_cache.pop_back();
  train_cache.push_front(std::move(p));
  return train_cache.front();
}

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Model make_model(ModelGraphs graphs, const ModelOptions& options) {
  FC_CHECK(graphs.predict != nullptr, Value, "make_model: the model has no predict graph");
  const Graph& p = *graphs.predict;
  FC_CHECK(graphs.predict_x >= 0 && graphs.predict_x < p.num_values() &&
               p.value(graphs.predict_x).kind == ValueKind::Input,
           Value, "make_model: predict_x (", graphs.predict_x, ") is not an input of the predict graph");
  FC_CHECK(!p.value(graphs.predict_x).desc.shape.empty(), Value,
           "make_model: the predict input needs a batch dimension, got shape ",
           shape_str(p.value(graphs.predict_x).desc.shape));
  FC_CHECK(!graphs.predict_outputs.empty(), Value, "make_model: the predict graph has no outputs");
  for (const auto& [name, id] : graphs.predict_outputs)
    FC_CHECK(id >= 0 && id < p.num_values(), Value, "make_model: predict output '", name, "' (value %", id,
             ") is not a value of the predict graph (", p.num_values(), " values)");
  check_inputs(p, {graphs.predict_x}, "predict graph");
  if (graphs.train != nullptr) {
    const Graph& t = *graphs.train;
    for (auto [id, role] : {std::pair<ValueId, const char*>{graphs.train_x, "train_x"}, {graphs.train_y, "train_y"}})
      FC_CHECK(id >= 0 && id < t.num_values() && t.value(id).kind == ValueKind::Input, Value, "make_model: ", role,
               " (", id, ") is not an input of the train graph");
    FC_CHECK(!t.value(graphs.train_x).desc.shape.empty(), Value, "make_model: train_x needs a batch dimension");
    check_inputs(t, {graphs.train_x, graphs.train_y}, "train graph");
    FC_CHECK(graphs.spec.loss >= 0 && graphs.spec.loss < t.num_values(), Value, "make_model: the loss (value %",
             graphs.spec.loss, ") is not a value of the train graph");
    FC_CHECK(graphs.spec.optimizer.empty() || graphs.state != nullptr, Value, "make_model: optimizer '",
             graphs.spec.optimizer, "' needs an OptimizerState");
    for (const ParamGroupSpec& grp : graphs.spec.groups)
      for (const auto& [id, key] : grp.params)
        FC_CHECK(id >= 0 && id < t.num_values() && t.value(id).kind == ValueKind::Param, Value,
                 "make_model: trained value %", id, " (key '", key, "') is not a parameter of the train graph");
    if (graphs.state == nullptr) graphs.state = std::make_shared<OptimizerState>();
  }
  if (options.threads > 0) set_num_threads(options.threads);
  auto impl = std::make_shared<Model::Impl>();
  impl->options = options;
  if (!options.device.is_cpu()) {
    // Best effort (no device test runs here): every parameter, buffer and constant gets one device copy that
    // both graphs' replays bind, and the programs are compiled for the device.
    for (const Graph* gr : {graphs.predict.get(), graphs.train.get()}) {
      if (gr == nullptr) continue;
      for (ValueId v = 0; v < gr->num_values(); ++v) {
        const Value& val = gr->value(v);
        if (val.data.defined() && !impl->device_tensors.count(val.data.data_ptr()))
          impl->device_tensors[val.data.data_ptr()] = val.data.to(options.device);
      }
    }
  }
  impl->g = std::move(graphs);
  return Model(std::move(impl));
}

Tensor Model::predict(const Tensor& x) const { return predict_named(x).at(0).second; }

Tensor Model::predict(const float* data, const Shape& shape) const {
  FC_CHECK(data != nullptr || shape_numel(shape) == 0, Value, "Model::predict: argument 'data' is null");
  // Borrowed for the call: the tensor owns nothing (the caller's buffer outlives the call).
  Tensor x = Tensor::from_blob(const_cast<float*>(data), shape, contiguous_strides(shape), DType::f32, Device{},
                               nullptr);
  return predict(x);
}

NamedTensors Model::predict_named(const Tensor& x_in) const {
  check_input(x_in, "x", "Model::predict");
  Tensor x = x_in;
  if (x.dtype() != DType::f32) {
    FC_CHECK(x.dtype() == DType::f64 || x.dtype() == DType::f16, Type,
             "Model::predict: argument 'x' must be a floating-point tensor (float32), got ", dtype_name(x.dtype()));
    x = x.to(DType::f32);
  }
  if (!x.is_contiguous()) x = x.contiguous();
  if (x.device() != impl_->options.device) x = x.to(impl_->options.device);
  Impl::Program p;
  try {
    p = impl_->predict_program(x.shape());
  } catch (const Error& e) {
    throw Error(e.kind(), "Model::predict: input of shape " + shape_str(x.shape()) + " (the model was traced with " +
                              shape_str(input_shape()) + "): " + e.what());
  }
  std::vector<Tensor> outs = p.exe->call({{p.x, x}}, p.outputs);
  NamedTensors named;
  for (size_t i = 0; i < outs.size(); ++i)
    named.emplace_back(impl_->g.predict_outputs[i].first,
                       impl_->options.device.is_cpu() ? outs[i] : outs[i].to(Device{}));
  return named;
}

std::vector<std::string> Model::output_names() const {
  std::vector<std::string> names;
  for (const auto& [name, id] : impl_->g.predict_outputs) names.push_back(name);
  return names;
}

Shape Model::input_shape() const { return impl_->g.predict->value(impl_->g.predict_x).desc.shape; }

bool Model::trainable() const { return impl_->g.train != nullptr && !impl_->g.spec.optimizer.empty(); }

float Model::train_step(const Tensor& x_in, const Tensor& y_in) {
  FC_CHECK(trainable(), Value, "Model::train_step: this model has no training program (save it from a model "
           "compiled with a loss and an optimizer, or build it with nn::compile)");
  // The optimizer state (step counter, learning rates, slots) is host memory that a device program cannot read;
  // Python's compiled models mirror it per step, the C++ Model does not yet: refused rather than wrong.
  FC_CHECK(impl_->options.device.is_cpu(), NotImplemented, "Model::train_step on device '",
           impl_->options.device.str(), "' is not supported yet (the optimizer state lives on the host); load the "
           "model with device 'cpu' to train it, predict() runs on the device");
  check_input(x_in, "x", "Model::train_step");
  check_input(y_in, "y", "Model::train_step");
  FC_CHECK(x_in.size(0) == y_in.size(0), Value, "Model::train_step: x has ", x_in.size(0), " samples but y has ",
           y_in.size(0));
  const Graph& t = *impl_->g.train;
  const DType ydt = t.value(impl_->g.train_y).desc.dtype;
  Tensor x = x_in.dtype() == DType::f32 ? x_in.contiguous() : x_in.to(DType::f32);
  Tensor y = y_in;
  if (y.dtype() != ydt) {
    const bool want_int = ydt == DType::i64 || ydt == DType::i32;
    const bool have_float = y.dtype() == DType::f32 || y.dtype() == DType::f64 || y.dtype() == DType::f16;
    FC_CHECK(!(want_int && have_float), Type, "Model::train_step: the loss expects integer class labels (",
             dtype_name(ydt), ") as argument 'y', got ", dtype_name(y.dtype()));
    y = y.to(ydt);
  }
  y = y.contiguous();
  const Device dev = impl_->options.device;
  if (x.device() != dev) x = x.to(dev);
  if (y.device() != dev) y = y.to(dev);
  std::lock_guard<std::mutex> lock(impl_->train_mu);
  Impl::Program* pp = nullptr;
  try {
    pp = &impl_->train_program(x.shape(), y.shape());
  } catch (const Error& e) {
    throw Error(e.kind(), "Model::train_step: x of shape " + shape_str(x.shape()) + ", y of shape " +
                              shape_str(y.shape()) + ": " + e.what());
  }
  Impl::Program& p = *pp;
  Tensor loss = p.exe->call({{p.x, x}, {p.y, y}}, {p.loss}).at(0);
  if (!dev.is_cpu()) loss = loss.to(Device{});
  Tensor l = loss.to(DType::f32);
  return l.data<float>()[0];
}

int64_t Model::steps() const { return impl_->g.state ? impl_->g.state->steps() : 0; }

double Model::lr(size_t group) const {
  FC_CHECK(impl_->g.state != nullptr && group < impl_->g.state->num_groups(), Index, "Model::lr: group ", group,
           " does not exist (the optimizer has ", impl_->g.state ? impl_->g.state->num_groups() : 0, " groups)");
  return impl_->g.state->lr(group).to(Device{}).data<double>()[0];
}

void Model::set_lr(double lr, size_t group) {
  FC_CHECK(impl_->g.state != nullptr && group < impl_->g.state->num_groups(), Index, "Model::set_lr: group ",
           group, " does not exist (the optimizer has ", impl_->g.state ? impl_->g.state->num_groups() : 0,
           " groups)");
  std::lock_guard<std::mutex> lock(impl_->train_mu);
  impl_->g.state->set_lr(group, lr);
}

NamedTensors Model::state_dict() const { return impl_->g.state_dict; }

void Model::weights_changed() const {
  for (const auto& [n, t] : impl_->g.state_dict)
    if (t.defined()) t.storage()->bump_version();
  std::lock_guard<std::mutex> lock(impl_->predict_mu);
  for (const Impl::Program& p : impl_->predict_cache) p.exe->weights_changed();
}

Tensor Model::parameter(const std::string& name) const {
  std::vector<std::pair<size_t, std::string>> close;
  for (const auto& [n, t] : impl_->g.state_dict) {
    if (n == name) return t;
    close.emplace_back(edit_distance(n, name), n);
  }
  std::sort(close.begin(), close.end());
  std::string hint;
  for (size_t i = 0; i < close.size() && i < 5; ++i) hint += (i ? ", '" : "'") + close[i].second + "'";
  fail(ErrorKind::Value, "Model::parameter: no parameter or buffer named '", name, "'",
       close.empty() ? std::string(" (the model has none)") : "; closest: " + hint);
}

}  // namespace fastconv
