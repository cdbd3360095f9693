// Running an Executable: execution contexts (made once, pooled), binding inputs, the step loop, outputs.
#include <algorithm>
#include <chrono>

#include "backend/backend.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"
#include "graph/executor_impl.h"

namespace fastconv {

std::unique_ptr<Executable::Context> Executable::make_context() const {
  const Graph& g = *graph_;
  const Backend& backend = Backend::get(backend_);
  auto c = std::make_unique<Context>();
  c->arena = backend.allocate(peak_bytes_, opts_.device);
  c->views.resize(size_t(g.num_values()));
  for (int v = 0; v < g.num_values(); ++v) {
    const Value& val = g.value(v);
    if (val.kind == ValueKind::Param || val.kind == ValueKind::Const) {
      c->views[size_t(v)] = val.data;
    } else if (arena_offset_[size_t(v)] >= 0) {
      c->views[size_t(v)] = Tensor(c->arena, arena_offset_[size_t(v)], val.desc.shape,
                                   contiguous_strides(val.desc.shape), val.desc.dtype);
    }
  }
  c->slots.resize(bindings_.size());
  c->handed_out.assign(bindings_.size(), 0);
  c->next.resize(bindings_.size());
  c->bound.assign(bindings_.size(), 0);
  for (size_t b = 0; b < bindings_.size(); ++b) {
    const ValueId v = bindings_[b].value;
    const TensorDesc& d = g.value(v).desc;
    if (own_buffer_[size_t(v)] || fixed_io_) {
      c->slots[b] = Tensor(backend.allocate(d.nbytes(), opts_.device), 0, d.shape, contiguous_strides(d.shape), d.dtype);
      c->views[size_t(v)] = c->slots[b];
    }
  }
  c->in.resize(steps_.size());
  c->out.resize(steps_.size());
  for (size_t i = 0; i < steps_.size(); ++i) {
    for (ValueId v : steps_[i].in) c->in[i].push_back(c->views[size_t(v)]);
    for (ValueId v : steps_[i].out) c->out[i].push_back(c->views[size_t(v)]);
  }
  return c;
}

Executable::Context* Executable::acquire() const {
  std::unique_lock<std::mutex> lock(pool_mu_);
  for (;;) {
    if (!idle_.empty()) {
      Context* c = idle_.back().release();
      idle_.pop_back();
      return c;
    }
    if (contexts_ < max_contexts_) {
      ++contexts_;
      lock.unlock();
      try {
        return make_context().release();
      } catch (...) {
        std::lock_guard<std::mutex> relock(pool_mu_);
        --contexts_;
        throw;
      }
    }
    pool_cv_.wait(lock);
  }
}

void Executable::release(Context* c) const {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    idle_.emplace_back(c);
  }
  pool_cv_.notify_one();
}

void Executable::rebind(Context& c, ValueId v, const Tensor& t) const {
  c.views[size_t(v)] = t;
  for (const Binding::Use& u : bindings_[size_t(binding_of_[size_t(v)])].uses)
    (u.output ? c.out : c.in)[u.step][u.slot] = t;
}

void Executable::bind_input(Context& c, ValueId id, const Tensor& t) const {
  FC_CHECK(id >= 0 && id < graph_->num_values(), Value, "set_input: value %", id, " does not exist");
  const Value& v = graph_->value(id);
  FC_CHECK(v.kind == ValueKind::Input, Value, "set_input: value %", id, " is not a graph input");
  FC_CHECK(t.defined() && t.shape() == v.desc.shape && t.dtype() == v.desc.dtype, Value, "set_input: input '",
           v.name, "' was compiled for ", desc_str(v.desc), " but got ",
           t.defined() ? desc_str({t.shape(), t.dtype()}) : std::string("an undefined tensor"));
  FC_CHECK(t.device() == opts_.device, Value, "set_input: input '", v.name, "' is on ", t.device().str(),
           " but the graph runs on ", opts_.device.str());
  const int b = binding_of_[size_t(id)];
  if (b < 0) {  // no live node reads it; it may still be asked for as an output
    c.views[size_t(id)] = t.contiguous();
    return;
  }
  if (fixed_io_) {
    c.slots[size_t(b)].copy_from(t);  // the slot keeps its address: every run reads the same bytes
  } else {
    rebind(c, id, t.contiguous());
  }
  c.bound[size_t(b)] = 1;
}

void Executable::execute(Context& c) const {
  const Graph& g = *graph_;
  for (size_t b = 0; b < bindings_.size(); ++b) {
    const ValueId v = bindings_[b].value;
    FC_CHECK(g.value(v).kind != ValueKind::Input || c.bound[b], Value, "run: input '", g.value(v).name, "' (%", v,
             ") was not set; call set_input first");
  }
  for (size_t b = 0; b < bindings_.size(); ++b)  // buffers allocated when the last outputs were handed over
    if (c.next[b].defined()) {
      c.slots[b] = c.next[b];
      rebind(c, bindings_[b].value, c.next[b]);
      c.next[b] = Tensor();
    }
  RunContext ctx;
  step_.fetch_add(1);
  char* arena = static_cast<char*>(c.arena->data());
  const bool prof = profiling_.load();
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    ctx.workspace = s.prepared.workspace_bytes ? arena + s.ws_offset : nullptr;
    ctx.workspace_bytes = s.prepared.workspace_bytes;
    if (!prof) {
      s.prepared.run(c.in[i], c.out[i], ctx);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    s.prepared.run(c.in[i], c.out[i], ctx);
    Step& m = const_cast<Step&>(s);  // profiling runs hold serial_mu_: nobody else touches the counters
    m.prof_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++m.prof_calls;
  }
  for (size_t b = 0; b < bindings_.size(); ++b) c.handed_out[b] = 0;
}

// The value's tensor for the caller: an own-buffer output is handed over (its replacement is allocated now and bound
// when the next run starts, so the run allocates nothing), unless it was handed over already or I/O is fixed;
// else a copy.
Tensor Executable::take(Context& c, ValueId id) const {
  FC_CHECK(std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end(), Value, "output: value %", id,
           " is not an output of this executable");
  const Tensor v = c.views[size_t(id)];
  const int b = id >= 0 ? binding_of_[size_t(id)] : -1;
  if (own_buffer_[size_t(id)] && b >= 0 && !fixed_io_ && !c.handed_out[size_t(b)]) {
    c.handed_out[size_t(b)] = 1;
    const TensorDesc& d = graph_->value(id).desc;
    c.next[size_t(b)] = Tensor(Backend::get(backend_).allocate(d.nbytes(), opts_.device), 0, d.shape,
                               contiguous_strides(d.shape), d.dtype);
    return v;
  }
  Tensor out = Tensor::empty(v.shape(), v.dtype(), v.device());
  if (v.device().is_cpu())
    out.copy_from(v);
  else
    Backend::get(backend_).copy(out.data_ptr(), v.data_ptr(), v.nbytes());
  return out;
}

std::vector<Tensor> Executable::call(const std::vector<std::pair<ValueId, Tensor>>& inputs,
                                     const std::vector<ValueId>& outputs) {
  std::unique_lock<std::mutex> serial(serial_mu_, std::defer_lock);
  if (stateful_ || profiling_.load()) serial.lock();
  Context* c = acquire();
  struct Release {
    const Executable* e;
    Context* c;
    ~Release() { e->release(c); }
  } guard{this, c};
  std::fill(c->bound.begin(), c->bound.end(), 0);
  for (const auto& [id, t] : inputs) bind_input(*c, id, t);
  execute(*c);
  std::vector<Tensor> out;
  out.reserve(outputs.size());
  for (ValueId id : outputs) out.push_back(take(*c, id));
  if (!fixed_io_)  // borrowed inputs belong to the caller: don't keep them alive in an idle context
    for (size_t b = 0; b < bindings_.size(); ++b)
      if (graph_->value(bindings_[b].value).kind == ValueKind::Input) rebind(*c, bindings_[b].value, Tensor());
  return out;
}

Executable::Context& Executable::default_context() const {
  if (!default_) default_ = make_context();  // made on first use: call() never needs it
  return *default_;
}

void Executable::set_input(ValueId id, const Tensor& t) { bind_input(default_context(), id, t); }

void Executable::run() {
  std::lock_guard<std::mutex> serial(serial_mu_);
  execute(default_context());
}

Tensor Executable::output(ValueId id) const { return take(default_context(), id); }

Tensor Executable::output_view(ValueId id) const {
  FC_CHECK(std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end(), Value, "output: value %", id,
           " is not an output of this executable");
  return default_context().views[size_t(id)];
}

std::vector<const void*> Executable::step_addresses() const {
  std::vector<const void*> a;
  const Context& c = default_context();
  for (size_t i = 0; i < steps_.size(); ++i)
    for (const auto* list : {&c.in[i], &c.out[i]})
      for (const Tensor& t : *list) a.push_back(t.defined() ? t.data_ptr() : nullptr);
  return a;
}

void Executable::set_profiling(bool on) {
  std::lock_guard<std::mutex> serial(serial_mu_);
  if (on && !profiling_.load())
    for (Step& s : steps_) s.prof_ms = 0, s.prof_calls = 0;
  profiling_.store(on);
}

std::vector<Executable::StepProfile> Executable::profile() const {
  std::lock_guard<std::mutex> serial(serial_mu_);
  std::vector<StepProfile> out;
  int i = 0;
  for (const Step& s : steps_) {
    const Node& n = graph_->node(s.node);
    out.push_back({i++, n.op, s.prepared.algo, n.scope, s.prof_ms, s.prof_calls});
  }
  return out;
}

}  // namespace fastconv
