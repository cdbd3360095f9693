// nn's base pieces: the seeded stream, the Tracer, Module's tensor bookkeeping, Sequential, architecture JSON.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>

#include "api/nn_internal.h"
#include "fastconv/error.h"

namespace fastconv::nn {

namespace {

std::mutex g_seed_mu;
uint64_t g_base = 0x5eed5eed5eed5eedULL, g_count = 0;

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void prefix_into(NamedTensors& out, const std::string& prefix, const NamedTensors& items) {
  for (const auto& [n, t] : items) out.emplace_back(prefix.empty() ? n : prefix + "." + n, t);
}

void collect(const Module& m, const std::string& prefix, bool buffers, NamedTensors& out) {
  prefix_into(out, prefix, m.parameters_here());
  if (buffers) prefix_into(out, prefix, m.buffers_here());
  for (const auto& [name, child] : m.children())
    collect(*child, prefix.empty() ? name : prefix + "." + name, buffers, out);
}

}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_seed_mu);
  g_base = seed;
  g_count = 0;
}

namespace detail {

uint64_t next_seed() {
  std::lock_guard<std::mutex> lock(g_seed_mu);
  uint64_t s = g_base + 0x632be59bd9b4e019ULL * ++g_count;
  return splitmix64(s);
}

void uniform_(Tensor& t, double bound) {
  uint64_t s = next_seed();
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double u = double(splitmix64(s) >> 11) * 0x1.0p-53;  // [0, 1)
    p[i] = float(-bound + 2 * bound * u);
  }
}

std::string json_num(double v) {
  FC_CHECK(std::isfinite(v), Value, "architecture: a layer argument is not finite (", v, ")");
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);  // the shortest form that reads back as v (0.3, not 0.2999...)
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

std::string json_size(const Size2& s, bool none_for_negative) {
  auto one = [&](int64_t v) { return none_for_negative && v < 0 ? std::string("null") : std::to_string(v); };
  if (s.scalar) return one(s.h);
  return "{\"__tuple__\":[" + one(s.h) + "," + one(s.w) + "]}";
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string json_arguments(const std::vector<std::string>& args,
                           const std::vector<std::pair<std::string, std::string>>& kwargs) {
  std::string s = "\"args\":[";
  for (size_t i = 0; i < args.size(); ++i) s += (i ? "," : "") + args[i];
  s += "],\"kwargs\":[";
  for (size_t i = 0; i < kwargs.size(); ++i) s += (i ? ",[" : "[") + json_str(kwargs[i].first) + "," + kwargs[i].second + "]";
  return s + "]";
}

AttrValue size_attr(const Size2& s) {
  if (s.scalar) return s.h;
  return std::vector<int64_t>{s.h, s.w};
}

std::vector<int64_t> pair(const Size2& s) { return {s.h, s.w}; }

}  // namespace detail

// ---- Tracer -----------------------------------------------------------------------------------------------------
ValueId Tracer::bind(const std::string& name, const Tensor& t, bool trainable) {
  for (const auto& [ptr, v] : bound_)
    if (ptr == t.data_ptr()) return v;
  const ValueId v = graph_.param(scope_.empty() ? name : scope_ + "." + name, t, trainable);
  bound_.emplace_back(t.data_ptr(), v);
  return v;
}

ValueId Tracer::add1(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs) {
  return graph_.add1(op, inputs, attrs, scope_);
}

std::vector<ValueId> Tracer::add(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs) {
  return graph_.add(op, inputs, attrs, scope_);
}

ValueId Tracer::step() { return step_counter(graph_, state_ ? state_->step() : Tensor()); }

// ---- Module -----------------------------------------------------------------------------------------------------
std::string Module::architecture() const {
  return "{\"class\":" + detail::json_str(class_key()) + ",\"training\":" + (training_ ? "true" : "false") + "," +
         arch_arguments() + "}";
}

Module& Module::train(bool on) {
  training_ = on;
  return *this;
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect(*this, "", false, out);
  return out;
}

NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect(*this, "", true, out);
  return out;
}

void Module::load_state_dict(const NamedTensors& tensors) {
  NamedTensors mine = state_dict();
  std::set<std::string> known;
  for (const auto& [name, dst] : mine) {
    known.insert(name);
    const Tensor* src = nullptr;
    for (const auto& [n, t] : tensors)
      if (n == name) src = &t;
    FC_CHECK(src != nullptr, Value, "load_state_dict: missing key '", name, "'");
    FC_CHECK(src->shape() == dst.shape(), Value, "load_state_dict: '", name, "' has shape ",
             shape_str(src->shape()), " but the module expects ", shape_str(dst.shape()));
    Tensor d = dst;
    d.copy_from(*src);
  }
  for (const auto& [n, t] : tensors)
    FC_CHECK(known.count(n), Value, "load_state_dict: unexpected key '", n, "' (the module has no such tensor)");
}

AnyModule::AnyModule(std::shared_ptr<Module> m) : ptr_(std::move(m)) {
  FC_CHECK(ptr_ != nullptr, Value, "Sequential: a module is null");
}

// ---- Sequential -------------------------------------------------------------------------------------------------
Sequential::Sequential(std::initializer_list<AnyModule> modules) {
  for (const AnyModule& m : modules) append(m);
}

Sequential& Sequential::append(AnyModule m) {
  items_.emplace_back(std::to_string(items_.size()), m.ptr());
  return *this;
}

Module& Sequential::operator[](size_t i) const {
  FC_CHECK(i < items_.size(), Index, "Sequential: index ", i, " is out of range for a Sequential of length ",
           items_.size());
  return *items_[i].second;
}

ValueId Sequential::forward(Tracer& t, ValueId x) {
  for (auto& [name, m] : items_) x = t.in_scope(name, [&] { return m->forward(t, x); });
  return x;
}

Module& Sequential::train(bool on) {
  training_ = on;
  for (auto& [name, m] : items_) m->train(on);
  return *this;
}

std::string Sequential::architecture() const {
  std::string s = "{\"class\":" + detail::json_str(class_key()) + ",\"training\":" + (training_ ? "true" : "false") +
                  ",\"children\":[";
  for (size_t i = 0; i < items_.size(); ++i)
    s += (i ? ",[" : "[") + detail::json_str(items_[i].first) + "," + items_[i].second->architecture() + "]";
  return s + "]}";
}

}  // namespace fastconv::nn
