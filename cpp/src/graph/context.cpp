// Running an Executable: execution contexts (made once, pooled), binding inputs, the step loop, outputs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "backend/backend.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"
#include "graph/executor_impl.h"

namespace fastconv {

std::unique_ptr<Executable::Context> Executable::make_context() const {
  const Graph& g = *graph_;
  const Backend& backend = Backend::get(backend_);
  auto c = std::make_unique<Context>();
  c->queue = backend.make_queue();
  c->arena = backend.allocate(peak_bytes_, opts_.device);
  c->views.resize(size_t(g.num_values()));
  for (int v = 0; v < g.num_values(); ++v) {
    const Value& val = g.value(v);
    if (val.kind == ValueKind::Param || val.kind == ValueKind::Const) {
      c->views[size_t(v)] = val.data;
    } else if (fold_ && fold_->buffers[size_t(v)].defined()) {
      c->views[size_t(v)] = fold_->buffers[size_t(v)];
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
  ++c.version;
  c.views[size_t(v)] = t;
  for (const Binding::Use& u : bindings_[size_t(binding_of_[size_t(v)])].uses)
    (u.output ? c.out : c.in)[u.step][u.slot] = t;
}

namespace {
std::atomic<bool> g_anomaly{false};

// The flat index of the first NaN or infinity in t (a contiguous float tensor on the host), or -1.
template <typename T>
int64_t first_nonfinite(const Tensor& t) {
  const T* p = t.data<const T>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

std::string index_str(const Shape& s, int64_t i) {
  std::string at;
  for (int64_t d = int64_t(s.size()) - 1; d >= 0; --d) {
    at = std::to_string(i % s[size_t(d)]) + (at.empty() ? "" : ", ") + at;
    i /= s[size_t(d)];
  }
  return "[" + at + "]";
}
}  // namespace

// A scan of the labels (a few microseconds for a batch of segmentation maps) buys a step that either runs whole or
// changes nothing: an out-of-range label fails here, before a weight, a running statistic or a counter moves.
void Executable::check_indices(ValueId id, const Tensor& t) const {
  for (const IndexCheck& k : index_checks_) {
    if (k.value != id) continue;
    FC_CHECK(t.device().is_cpu(), NotImplemented, k.op, ": index inputs on ", t.device().str(),
             " are not checked yet; pass them from the host");
    const Tensor c = t.contiguous();
    const int64_t* p = c.data<const int64_t>();
    const IndexInput& r = k.range;
    const uint64_t span = uint64_t(r.hi - r.lo);
    const int64_t n = c.numel();
    bool bad = false;  // branch-free first pass (it vectorises): the common case is a clean batch
    for (int64_t i = 0; i < n; ++i)
      bad |= (uint64_t(p[i] - r.lo) >= span) & !(r.has_ignore & (p[i] == r.ignore));
    if (!bad) continue;
    for (int64_t i = 0; i < n; ++i) {
      if ((p[i] >= r.lo && p[i] < r.hi) || (r.has_ignore && p[i] == r.ignore)) continue;
      fail(ErrorKind::Index, k.op, ": argument '", r.arg, "' (input '", graph_->value(id).name, "') holds ", p[i],
           " at ", index_str(c.shape(), i), ", out of bounds: expected ", r.what, " in [", r.lo, ", ", r.hi, ")",
           r.has_ignore ? " or ignore_index=" + std::to_string(r.ignore) : std::string(),
           "; nothing was run or updated");
    }
  }
}

void Executable::bind_input(Context& c, ValueId id, const Tensor& t) const {
  FC_CHECK(id >= 0 && id < graph_->num_values(), Value, "set_input: value %", id, " does not exist");
  const Value& v = graph_->value(id);
  FC_CHECK(v.kind == ValueKind::Input, Value, "set_input: value %", id, " is not a graph input");
  FC_CHECK(t.defined() && t.shape() == v.desc.shape && t.dtype() == v.desc.dtype, Value, "set_input: input '",
           v.name, "' was compiled for ", desc_str(v.desc), " but got ",
           t.defined() ? desc_str({t.shape(), t.dtype()}) : std::string("an undefined tensor"));
  // A device graph with fixed I/O copies its inputs into its own slots anyway, so they may come from the host.
  const bool from_host = fixed_io_ && t.device().is_cpu() && !opts_.device.is_cpu();
  FC_CHECK(t.device() == opts_.device || from_host, Value, "set_input: input '", v.name, "' is on ",
           t.device().str(), " but the graph runs on ", opts_.device.str());
  check_indices(id, t);
  const int b = binding_of_[size_t(id)];
  if (b < 0) {  // no live node reads it; it may still be asked for as an output
    c.views[size_t(id)] = t.contiguous();
    return;
  }
  if (fixed_io_) {  // the slot keeps its address: every run reads the same bytes
    const Tensor src = t.contiguous();
    if (opts_.device.is_cpu())
      c.slots[size_t(b)].copy_from(src);
    else
      c.queue->copy(c.slots[size_t(b)].data_ptr(), false, src.data_ptr(), from_host, src.nbytes());
  } else {
    rebind(c, id, t.contiguous());
  }
  c.bound[size_t(b)] = 1;
}


void set_detect_anomaly(bool on) { g_anomaly.store(on); }
bool is_anomaly_enabled() { return g_anomaly.load(); }

// Step `step` (or, for step == steps_.size(), the graph inputs) has just run: fail at its first non-finite output.
void Executable::check_finite(const Context& c, size_t step) const {
  const bool inputs = step == steps_.size();
  const std::vector<ValueId>& ids = inputs ? std::vector<ValueId>() : steps_[step].out;
  std::vector<std::pair<ValueId, Tensor>> vals;
  if (inputs) {
    for (const Binding& b : bindings_)
      if (graph_->value(b.value).kind == ValueKind::Input) vals.push_back({b.value, c.views[size_t(b.value)]});
    for (ValueId v = 0; v < graph_->num_values(); ++v)
      if (graph_->value(v).kind == ValueKind::Param || graph_->value(v).kind == ValueKind::Const)
        vals.push_back({v, graph_->value(v).data});
  } else {
    for (size_t k = 0; k < ids.size(); ++k) vals.push_back({ids[k], c.out[step][k]});
  }
  for (size_t k = 0; k < vals.size(); ++k) {
    const Tensor& t = vals[k].second;
    if (!t.defined() || (t.dtype() != DType::f32 && t.dtype() != DType::f64)) continue;
    FC_CHECK(t.device().is_cpu(), NotImplemented, "anomaly detection reads values on the host; ", t.device().str(),
             " is not supported yet");
    const Tensor h = t.contiguous();
    const int64_t i = h.dtype() == DType::f32 ? first_nonfinite<float>(h) : first_nonfinite<double>(h);
    if (i < 0) continue;
    const double x = h.dtype() == DType::f32 ? double(h.data<const float>()[i]) : h.data<const double>()[i];
    const std::string what = std::isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf";
    if (inputs)
      fail(ErrorKind::Runtime, "anomaly detection: ",
           graph_->value(vals[k].first).kind == ValueKind::Input ? "input '" : "parameter '",
           graph_->value(vals[k].first).name, "' holds ", what, " at ", index_str(h.shape(), i),
           " before any node ran");
    const Node& n = graph_->node(steps_[step].node);
    fail(ErrorKind::Runtime, "anomaly detection: node [", step, "] ", n.op,
         n.scope.empty() ? std::string() : " in layer '" + n.scope + "'", " produced ", what, " in output ", k,
         " at ", index_str(h.shape(), i), " (its inputs were finite); later nodes of this step did not run");
  }
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
  step_.fetch_add(1);
  const bool prof = profiling_.load(), anomaly = g_anomaly.load();
  if (anomaly) check_finite(c, steps_.size());
  if (fold_) fold_acquire(c, prof, anomaly);
  // When the steps are done (or one failed): the folded constants may be recomputed again, and what this program
  // wrote (updates, running statistics, counters) gets a new version, however far it got.
  struct Done {
    const Executable* e;
    ~Done() {
      if (e->fold_) e->fold_release();
      for (const auto& st : e->written_) st->bump_version();
    }
  } done{this};
  auto launch = [&] {
    RunContext ctx;
    ctx.stream = c.queue->stream();
    char* arena = static_cast<char*>(c.arena->data());
    for (size_t i = 0; i < steps_.size(); ++i) {
      const Step& s = steps_[i];
      if (s.folded) continue;  // fold_acquire ran it, or its result is current
      ctx.workspace = s.prepared.workspace_bytes ? arena + s.ws_offset : nullptr;
      ctx.workspace_bytes = s.prepared.workspace_bytes;
      ctx.stable_inputs = s.stable_in;
      if (!prof) {
        s.prepared.run(c.in[i], c.out[i], ctx);
        if (anomaly) check_finite(c, i);
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      s.prepared.run(c.in[i], c.out[i], ctx);
      c.queue->synchronize();  // device kernels are asynchronous: a step's time includes its kernels
      Step& m = const_cast<Step&>(s);  // profiling runs hold serial_mu_: nobody else touches the counters
      m.prof_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++m.prof_calls;
    }
  };
  // Profiling and anomaly checks look at every step as it finishes: no graph replay for them.
  c.queue->run([](void* f) { (*static_cast<decltype(launch)*>(f))(); }, &launch, c.version, !prof && !anomaly);
  c.queue->synchronize();
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
  if (v.device().is_cpu()) {
    out.copy_from(v);
  } else {
    c.queue->copy(out.data_ptr(), false, v.data_ptr(), false, v.nbytes());
    c.queue->synchronize();
  }
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

// The readers/writer gate of FoldCache (executor_impl.h). The versions are read before the bytes: a write that
// lands during the recomputation bumps a version after it, so the next call recomputes again.
void Executable::fold_acquire(Context& c, bool prof, bool anomaly) const {
  FoldCache& f = *fold_;
  std::unique_lock<std::mutex> lock(f.mu);
  f.cv.wait(lock, [&] { return !f.writing; });
  bool fresh = f.valid;
  for (size_t k = 0; fresh && k < f.deps.size(); ++k) fresh = f.deps[k]->version() == f.seen[k];
  if (fresh) {
    ++f.readers;
    return;
  }
  f.writing = true;
  f.cv.wait(lock, [&] { return f.readers == 0; });
  for (size_t k = 0; k < f.deps.size(); ++k) f.seen[k] = f.deps[k]->version();
  f.valid = false;
  lock.unlock();
  try {
    RunContext ctx;
    ctx.stream = c.queue->stream();
    for (size_t i : f.steps) {
      const Step& s = steps_[i];
      ctx.workspace = s.prepared.workspace_bytes ? f.scratch->data() : nullptr;
      ctx.workspace_bytes = s.prepared.workspace_bytes;
      const auto t0 = std::chrono::steady_clock::now();
      s.prepared.run(c.in[i], c.out[i], ctx);
      c.queue->synchronize();
      if (prof) {  // profiling runs hold serial_mu_
        Step& m = const_cast<Step&>(s);
        m.prof_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ++m.prof_calls;
      }
      if (anomaly) check_finite(c, i);
    }
  } catch (...) {
    lock.lock();
    f.writing = false;
    lock.unlock();
    f.cv.notify_all();
    throw;
  }
  // The recomputed constants have new bytes: a new version, so that what kernels derived from them (packed
  // weights, RunContext::stable_inputs) is derived again.
  for (size_t i : f.steps)
    for (const Tensor& t : c.out[i])
      if (t.defined()) t.storage()->bump_version();
  lock.lock();
  f.valid = true;
  f.writing = false;
  ++f.readers;
  f.runs.fetch_add(1);
  lock.unlock();
  f.cv.notify_all();
}

void Executable::fold_release() const {
  FoldCache& f = *fold_;
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(f.mu);
    last = --f.readers == 0;
  }
  if (last) f.cv.notify_all();
}

int Executable::folded_steps() const { return fold_ ? int(fold_->steps.size()) : 0; }

uint64_t Executable::fold_runs() const { return fold_ ? fold_->runs.load() : 0; }

void Executable::weights_changed() const {
  for (int v = 0; v < graph_->num_values(); ++v) {
    const Value& val = graph_->value(v);
    if ((val.kind == ValueKind::Param || val.kind == ValueKind::Const) && val.data.defined())
      val.data.storage()->bump_version();
  }
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

bool Executable::last_run_replayed() const { return default_ && default_->queue->replayed(); }

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
    out.push_back({i++, n.op, s.prepared.algo, n.scope, s.prof_ms, s.prof_calls, s.folded});
  }
  return out;
}

}  // namespace fastconv
