// The layers: each records exactly the ops and attributes Python's fastconv.nn layer records
// (python/fastconv/nn/*.py through python/fastconv/functional/*.py), in eval and in train mode, and initialises
// its parameters as Python (torch) does.
#include <cmath>

#include "api/nn_internal.h"
#include "fastconv/error.h"

namespace fastconv::nn {

using detail::json_num;
using detail::json_size;
using detail::pair;
using detail::size_attr;

namespace {

void check_size(const char* layer, const char* arg, const Size2& s, int64_t lo) {
  FC_CHECK(s.h >= lo && s.w >= lo, Value, layer, ": argument '", arg, "' must be ", lo == 0 ? "non-negative" : "positive",
           " ints, got ", s.scalar ? std::to_string(s.h) : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")");
}

void check_int(const char* layer, const char* arg, int64_t v, int64_t lo) {
  FC_CHECK(v >= lo, Value, layer, ": argument '", arg, "' must be an int >= ", lo, ", got ", v);
}

bool is_one(const Size2& s, int64_t v) { return s.scalar && s.h == v; }

const Shape& shape_of(Tracer& t, ValueId x) { return t.graph().value(x).desc.shape; }

// torch's default for weights: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases the same.
void init_weight_bias(Tensor& w, Tensor& b, int64_t fan_in) {
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(double(fan_in)) : 0.0;
  detail::uniform_(w, bound);
  if (b.defined()) detail::uniform_(b, bound);
}

}  // namespace

// ---- Conv2d -----------------------------------------------------------------------------------------------------
Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Size2 stride, Size2 padding,
               Size2 dilation, int64_t groups, bool has_bias)
    : in_(in_channels), out_(out_channels), groups_(groups), k_(kernel_size), s_(stride), p_(padding), d_(dilation) {
  check_int("Conv2d", "in_channels", in_, 1);
  check_int("Conv2d", "out_channels", out_, 1);
  check_int("Conv2d", "groups", groups_, 1);
  FC_CHECK(in_ % groups_ == 0, Value, "Conv2d: in_channels (", in_, ") must be divisible by groups (", groups_, ")");
  FC_CHECK(out_ % groups_ == 0, Value, "Conv2d: out_channels (", out_, ") must be divisible by groups (", groups_,
           ")");
  check_size("Conv2d", "kernel_size", k_, 1);
  check_size("Conv2d", "stride", s_, 1);
  check_size("Conv2d", "padding", p_, 0);
  check_size("Conv2d", "dilation", d_, 1);
  weight = Tensor::empty({out_, in_ / groups_, k_.h, k_.w});
  params_.emplace_back("weight", weight);
  if (has_bias) {
    bias = Tensor::empty({out_});
    params_.emplace_back("bias", bias);
  }
  init_weight_bias(weight, bias, (in_ / groups_) * k_.h * k_.w);
}

ValueId Conv2d::forward(Tracer& t, ValueId x) {
  std::vector<ValueId> in{x, t.bind("weight", weight, true)};
  if (bias.defined()) in.push_back(t.bind("bias", bias, true));
  return t.add1("conv2d", in,
                {{"stride", pair(s_)}, {"dilation", pair(d_)}, {"groups", groups_}, {"padding", pair(p_)}});
}

std::string Conv2d::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (!is_one(s_, 1)) kw.emplace_back("stride", json_size(s_));
  if (!is_one(p_, 0)) kw.emplace_back("padding", json_size(p_));
  if (!is_one(d_, 1)) kw.emplace_back("dilation", json_size(d_));
  if (groups_ != 1) kw.emplace_back("groups", std::to_string(groups_));
  if (!bias.defined()) kw.emplace_back("bias", "false");
  return detail::json_arguments({std::to_string(in_), std::to_string(out_), json_size(k_)}, kw);
}

// ---- BatchNorm2d ------------------------------------------------------------------------------------------------
BatchNorm2d::BatchNorm2d(int64_t num_features, double eps, double momentum)
    : n_(num_features), eps_(eps), momentum_(momentum) {
  check_int("BatchNorm2d", "num_features", n_, 1);
  FC_CHECK(eps > 0 && std::isfinite(eps), Value, "BatchNorm2d: argument 'eps' must be a positive number, got ", eps);
  FC_CHECK(momentum >= 0 && momentum <= 1, Value, "BatchNorm2d: argument 'momentum' must be in [0, 1], got ",
           momentum);
  weight = Tensor::full({n_}, 1.f);
  bias = Tensor::zeros({n_});
  running_mean = Tensor::zeros({n_});
  running_var = Tensor::full({n_}, 1.f);
  num_batches_tracked = Tensor::zeros({}, DType::i64);
  params_ = {{"weight", weight}, {"bias", bias}};
  buffers_ = {{"running_mean", running_mean}, {"running_var", running_var},
              {"num_batches_tracked", num_batches_tracked}};
}

ValueId BatchNorm2d::forward(Tracer& t, ValueId x) {
  const Shape& s = shape_of(t, x);
  FC_CHECK(s.size() == 4, Value, "BatchNorm2d: expected 4D input (got ", s.size(), "D input)");
  FC_CHECK(s[1] == n_, Value, "BatchNorm2d: input has ", s[1], " channels (shape ", shape_str(s),
           ") but the layer was built for num_features=", n_);
  if (t.training()) t.add1("counter_increment", {t.bind("num_batches_tracked", num_batches_tracked, false)});
  const ValueId rm = t.bind("running_mean", running_mean, false), rv = t.bind("running_var", running_var, false);
  const ValueId w = t.bind("weight", weight, true), b = t.bind("bias", bias, true);
  return t.add("batch_norm", {x, rm, rv, w, b},
               {{"training", t.training()}, {"momentum", momentum_}, {"eps", eps_}, {"has_running", true},
                {"has_weight", true}, {"has_bias", true}})[0];
}

std::string BatchNorm2d::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (eps_ != 1e-5) kw.emplace_back("eps", json_num(eps_));
  if (momentum_ != 0.1) kw.emplace_back("momentum", json_num(momentum_));
  return detail::json_arguments({std::to_string(n_)}, kw);
}

// ---- Linear -----------------------------------------------------------------------------------------------------
Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias) : in_(in_features), out_(out_features) {
  check_int("Linear", "in_features", in_, 1);
  check_int("Linear", "out_features", out_, 1);
  weight = Tensor::empty({out_, in_});
  params_.emplace_back("weight", weight);
  if (has_bias) {
    bias = Tensor::empty({out_});
    params_.emplace_back("bias", bias);
  }
  init_weight_bias(weight, bias, in_);
}

ValueId Linear::forward(Tracer& t, ValueId x) {
  const Shape& s = shape_of(t, x);
  FC_CHECK(!s.empty() && s.back() == in_, Value, "Linear: input has ", s.empty() ? 0 : s.back(),
           " features (shape ", shape_str(s), ") but the layer expects in_features=", in_);
  std::vector<ValueId> in{x, t.bind("weight", weight, true)};
  if (bias.defined()) in.push_back(t.bind("bias", bias, true));
  return t.add1("linear", in);
}

std::string Linear::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (!bias.defined()) kw.emplace_back("bias", "false");
  return detail::json_arguments({std::to_string(in_), std::to_string(out_)}, kw);
}

// ---- ReLU -------------------------------------------------------------------------------------------------------
ValueId ReLU::forward(Tracer& t, ValueId x) { return t.add1("relu", {x}); }

// ---- pooling ----------------------------------------------------------------------------------------------------
namespace {
void check_window(const char* layer, const Size2& k, const Size2& s, const Size2& p) {
  check_size(layer, "kernel_size", k, 1);
  check_size(layer, "stride", s, 1);
  check_size(layer, "padding", p, 0);
  FC_CHECK(p.h <= k.h / 2 && p.w <= k.w / 2, Value, layer,
           ": argument 'padding' must be at most half of kernel_size, got padding=", json_size(p),
           " and kernel_size=", json_size(k));
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel_size, std::optional<Size2> stride, Size2 padding)
    : k_(kernel_size), s_(stride.value_or(kernel_size)), p_(padding), stride_given_(stride.has_value()) {
  check_window("MaxPool2d", k_, s_, p_);
}

ValueId MaxPool2d::forward(Tracer& t, ValueId x) {
  return t.add("max_pool2d", {x},
               {{"kernel_size", size_attr(k_)}, {"stride", size_attr(s_)}, {"dilation", int64_t(1)},
                {"ceil_mode", false}, {"padding", size_attr(p_)}})[0];
}

std::string MaxPool2d::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (stride_given_) kw.emplace_back("stride", json_size(s_));
  if (!is_one(p_, 0)) kw.emplace_back("padding", json_size(p_));
  return detail::json_arguments({json_size(k_)}, kw);
}

AvgPool2d::AvgPool2d(Size2 kernel_size, std::optional<Size2> stride, Size2 padding, bool ceil_mode,
                     bool count_include_pad)
    : k_(kernel_size), s_(stride.value_or(kernel_size)), p_(padding), stride_given_(stride.has_value()),
      ceil_(ceil_mode), count_pad_(count_include_pad) {
  check_window("AvgPool2d", k_, s_, p_);
}

ValueId AvgPool2d::forward(Tracer& t, ValueId x) {
  return t.add1("avg_pool2d", {x},
                {{"kernel_size", size_attr(k_)}, {"stride", size_attr(s_)}, {"ceil_mode", ceil_},
                 {"count_include_pad", count_pad_}, {"dilation", int64_t(1)}, {"padding", size_attr(p_)}});
}

std::string AvgPool2d::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (stride_given_) kw.emplace_back("stride", json_size(s_));
  if (!is_one(p_, 0)) kw.emplace_back("padding", json_size(p_));
  if (ceil_) kw.emplace_back("ceil_mode", "true");
  if (!count_pad_) kw.emplace_back("count_include_pad", "false");
  return detail::json_arguments({json_size(k_)}, kw);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : o_(output_size) {
  FC_CHECK((o_.h >= 1 || (o_.h == -1 && !o_.scalar)) && (o_.w >= 1 || (o_.w == -1 && !o_.scalar)), Value,
           "AdaptiveAvgPool2d: argument 'output_size' must be a positive int or a pair of positive ints (-1: keep "
           "that input size), got ", json_size(o_));
}

ValueId AdaptiveAvgPool2d::forward(Tracer& t, ValueId x) {
  return t.add1("adaptive_avg_pool2d", {x}, {{"output_size", size_attr(o_)}});
}

std::string AdaptiveAvgPool2d::arch_arguments() const {
  return detail::json_arguments({json_size(o_, true)}, {});
}

// ---- Flatten ----------------------------------------------------------------------------------------------------
Flatten::Flatten(int64_t start_dim, int64_t end_dim) : start_(start_dim), end_(end_dim) {}

ValueId Flatten::forward(Tracer& t, ValueId x) {
  const Shape s = shape_of(t, x);
  const int64_t n = int64_t(s.size());
  if (n == 0) return t.add1("reshape", {x}, {{"shape", std::vector<int64_t>{1}}});
  const int64_t a = start_ < 0 ? start_ + n : start_, e = end_ < 0 ? end_ + n : end_;
  FC_CHECK(0 <= a && a < n && 0 <= e && e < n && a <= e, Index, "Flatten: start_dim=", start_, ", end_dim=", end_,
           " are out of range for a ", n, "-D input of shape ", shape_str(s));
  std::vector<int64_t> shape(s.begin(), s.begin() + a);
  int64_t prod = 1;
  for (int64_t i = a; i <= e; ++i) prod *= s[size_t(i)];
  shape.push_back(prod);
  shape.insert(shape.end(), s.begin() + e + 1, s.end());
  return t.add1("reshape", {x}, {{"shape", shape}});
}

std::string Flatten::arch_arguments() const {
  std::vector<std::pair<std::string, std::string>> kw;
  if (start_ != 1) kw.emplace_back("start_dim", std::to_string(start_));
  if (end_ != -1) kw.emplace_back("end_dim", std::to_string(end_));
  return detail::json_arguments({}, kw);
}

// ---- Dropout ----------------------------------------------------------------------------------------------------
Dropout::Dropout(double p) : seed(int64_t(detail::next_seed() & 0x7FFFFFFFFFFFFFFFULL)), p_(p) {
  FC_CHECK(p >= 0 && p <= 1, Value, "Dropout: dropout probability has to be between 0 and 1, but got ", p);
}

ValueId Dropout::forward(Tracer& t, ValueId x) {
  if (!t.training()) return x;  // the identity, as torch
  const ValueId step = t.step();
  return t.add("dropout", {x, step}, {{"p", p_}, {"seed", seed}})[0];
}

std::string Dropout::arch_arguments() const { return detail::json_arguments({json_num(p_)}, {}); }

}  // namespace fastconv::nn
