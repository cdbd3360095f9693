#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "backend/backend.h"
#include "fastconv/cuda.h"
#include "fastconv/graph.h"
#include "graph/plan.h"
#include "ops/op.h"

namespace fastconv {

struct Executable::Step {
  int node;
  Prepared prepared;
  std::vector<Tensor> in, out;
  size_t ws_offset = 0;
  double prof_ms = 0;
  uint64_t prof_calls = 0;
};

Executable::~Executable() = default;

Executable::Executable(std::shared_ptr<Graph> graph, std::vector<ValueId> outputs, CompileOptions opts)
    : graph_(std::move(graph)), outputs_(std::move(outputs)), opts_(opts) {
  backend_ = opts_.backend.empty() ? Backend::default_for(opts_.device) : opts_.backend;
  const Backend& backend = Backend::get(backend_);
  FC_CHECK(backend.device_type() == opts_.device.type, Value, "backend '", backend_, "' runs on ",
           backend.device_type() == DeviceType::CPU ? "cpu" : "cuda", " memory but the graph is compiled for ",
           opts_.device.str());
  KernelOptions kopts = KernelOptions::from_env();
  KernelOptions given;
  given.source = "CompileOptions.algo";
  for (const auto& [k, v] : opts_.algo) given.set(k, v);
  kopts.merge(given);
  if (!kopts.empty()) KernelTable::global().validate(kopts);
  if (opts_.fuse) graph_ = fuse_graph(*graph_, outputs_, &fuse_stats_);
  Graph& g = *graph_;
  const Registry& reg = Registry::global();
  const int nv = g.num_values(), nn = g.num_nodes();

  // Dead-code removal: keep what the outputs need, plus nodes with side effects and what they need.
  std::vector<char> live_v(size_t(nv), 0), live_n(size_t(nn), 0);
  for (ValueId o : outputs_) {
    g.value(o);  // validates the id
    live_v[size_t(o)] = 1;
  }
  for (int i = nn - 1; i >= 0; --i) {
    const Node& n = g.node(i);
    bool keep = reg.get(n.op).side_effects;
    for (ValueId o : n.outputs) keep = keep || live_v[size_t(o)];
    if (!keep) continue;
    live_n[size_t(i)] = 1;
    for (ValueId v : n.inputs) live_v[size_t(v)] = 1;
  }

  // Schedule = live nodes in graph order (the graph is built in topological order).
  std::vector<int> pos_of(size_t(nn), -1);
  for (int i = 0; i < nn; ++i)
    if (live_n[size_t(i)]) {
      pos_of[size_t(i)] = static_cast<int>(steps_.size());
      Step s;
      s.node = i;
      steps_.push_back(std::move(s));
    }
  const int end = static_cast<int>(steps_.size());

  // Liveness of computed values; kernel scratch lives only during its step.
  std::vector<int> first(size_t(nv), -1), last(size_t(nv), -1);
  for (const Step& s : steps_) {
    const Node& n = g.node(s.node);
    int p = pos_of[size_t(s.node)];
    for (ValueId o : n.outputs) first[size_t(o)] = last[size_t(o)] = p;
    for (ValueId v : n.inputs) last[size_t(v)] = std::max(last[size_t(v)], p);
  }
  std::vector<char> is_output(size_t(nv), 0);
  for (ValueId o : outputs_) last[size_t(o)] = end, is_output[size_t(o)] = 1;

  // Buffer sharing (planned mode only): a value joins the buffer of another ("root") when
  //  - its op is a view (reshape): same bytes, no copy; the root then lives as long as its longest-lived alias;
  //  - its op may write output 0 over input `inplace_input` and that input's buffer dies at this node.
  std::vector<ValueId> root(static_cast<size_t>(nv));
  for (int v = 0; v < nv; ++v) root[size_t(v)] = v;
  std::vector<int> group_last = last;
  auto is_planned = [&](ValueId v) { return g.value(v).kind == ValueKind::Computed && first[size_t(v)] >= 0; };
  if (opts_.plan_memory) {
    for (const Step& s : steps_) {
      const Node& n = g.node(s.node);
      const OpDef& def = reg.get(n.op);
      if (n.outputs.empty() || n.inputs.empty()) continue;
      const int p = pos_of[size_t(s.node)];
      const ValueId o = n.outputs[0];
      // An output gets a buffer of its own (see `fresh_` below) rather than sharing an arena buffer: the kernel
      // then writes straight into the memory handed to the caller.
      if (is_output[size_t(o)]) continue;
      const size_t ob = g.value(o).desc.nbytes();
      if (def.view) {
        const ValueId v = n.inputs[0];
        if (!is_planned(v) || g.value(v).desc.nbytes() != ob) continue;
        const ValueId r = root[size_t(v)];
        root[size_t(o)] = r;
        group_last[size_t(r)] = std::max(group_last[size_t(r)], last[size_t(o)]);
        ++aliased_;
      } else if (def.inplace_input >= 0 && size_t(def.inplace_input) < n.inputs.size()) {
        const ValueId v = n.inputs[size_t(def.inplace_input)];
        if (!is_planned(v) || g.value(v).desc.nbytes() != ob) continue;
        const ValueId r = root[size_t(v)];
        if (group_last[size_t(r)] != p) continue;  // someone still reads the input's bytes after this node
        root[size_t(o)] = r;
        group_last[size_t(r)] = std::max(p, last[size_t(o)]);
        ++inplace_;
      }
    }
  }

  // Outputs that no other value shares bytes with live outside the arena, in a new buffer per run that output()
  // hands over without a copy (a clone of a 25 MiB gradient cost 2-3 ms per call of value_and_grad).
  std::vector<char> fresh(size_t(nv), 0);
  for (ValueId o : outputs_) fresh[size_t(o)] = is_planned(o) && root[size_t(o)] == o;
  for (int v = 0; v < nv; ++v)
    if (root[size_t(v)] != v) fresh[size_t(root[size_t(v)])] = 0;

  std::vector<Interval> iv;
  for (int v = 0; v < nv; ++v) {
    const Value& val = g.value(v);
    if (!is_planned(v) || fresh[size_t(v)]) continue;
    naive_bytes_ += (val.desc.nbytes() + 63) / 64 * 64;
    if (root[size_t(v)] != v) continue;
    iv.push_back({val.desc.nbytes(), first[size_t(v)], group_last[size_t(v)]});
    plan_.push_back({v, val.producer, 0, val.desc.nbytes(), first[size_t(v)], group_last[size_t(v)]});
  }
  for (Step& s : steps_) {
    const Node& n = g.node(s.node);
    std::vector<TensorDesc> in, out;
    for (ValueId v : n.inputs) in.push_back(g.value(v).desc);
    for (ValueId v : n.outputs) out.push_back(g.value(v).desc);
    try {
      s.prepared = KernelTable::global().prepare(KernelCall{{n.op, n.attrs, in}, out, opts_.device, backend_, kopts});
    } catch (const Error& e) {
      if (n.scope.empty()) throw;
      throw Error(e.kind(), "in layer '" + n.scope + "': " + e.what());
    }
    if (s.prepared.workspace_bytes) {
      naive_bytes_ += (s.prepared.workspace_bytes + 63) / 64 * 64;
      int p = pos_of[size_t(s.node)];
      iv.push_back({s.prepared.workspace_bytes, p, p});
      plan_.push_back({kNoValue, s.node, 0, s.prepared.workspace_bytes, p, p});
    }
  }

  if (opts_.plan_memory) {
    std::vector<size_t> off = plan_offsets(iv, &peak_bytes_);
    for (size_t i = 0; i < iv.size(); ++i) plan_[i].offset = off[i];
  } else {
    size_t cursor = 0;
    for (size_t i = 0; i < iv.size(); ++i) {
      plan_[i].offset = cursor;
      cursor += (iv[i].size + 63) / 64 * 64;
    }
    peak_bytes_ = cursor;
  }
  arena_ = Storage::allocate(peak_bytes_, opts_.device);

  views_.resize(size_t(nv));
  for (int v = 0; v < nv; ++v) {
    const Value& val = g.value(v);
    if (val.kind == ValueKind::Param || val.kind == ValueKind::Const) {
      FC_CHECK(val.data.device() == opts_.device, Value, "value '", val.name, "' lives on ", val.data.device().str(),
               " but the graph is compiled for ", opts_.device.str());
      views_[size_t(v)] = val.data;
    }
  }
  std::vector<size_t> offset_of(size_t(nv), 0);
  for (const PlannedBuffer& b : plan_)
    if (b.value != kNoValue) offset_of[size_t(b.value)] = b.offset;
  for (int v = 0; v < nv; ++v) {
    if (!is_planned(v)) continue;
    const TensorDesc& d = g.value(v).desc;
    if (fresh[size_t(v)]) {
      views_[size_t(v)] = Tensor::empty(d.shape, d.dtype, opts_.device);
      continue;
    }
    views_[size_t(v)] =
        Tensor(arena_, int64_t(offset_of[size_t(root[size_t(v)])]), d.shape, contiguous_strides(d.shape), d.dtype);
  }
  for (const PlannedBuffer& b : plan_)
    if (b.value == kNoValue) steps_[size_t(pos_of[size_t(b.node)])].ws_offset = b.offset;
  for (Step& s : steps_) {
    const Node& n = g.node(s.node);
    for (ValueId v : n.outputs) {  // each value has one producer, so one entry per fresh output
      if (fresh[size_t(v)]) fresh_.push_back({v, size_t(&s - steps_.data()), s.out.size(), false});
      s.out.push_back(views_[size_t(v)]);
    }
  }
}

Executable::FreshOutput* Executable::fresh_index(ValueId v) const {
  for (FreshOutput& f : fresh_)  // fresh_ is mutable: output() marks a buffer as handed over
    if (f.value == v) return &f;
  return nullptr;
}

void Executable::set_input(ValueId id, const Tensor& t) {
  const Value& v = graph_->value(id);
  FC_CHECK(v.kind == ValueKind::Input, Value, "set_input: value %", id, " is not a graph input");
  FC_CHECK(t.defined() && t.shape() == v.desc.shape && t.dtype() == v.desc.dtype, Value, "set_input: input '",
           v.name, "' was compiled for ", desc_str(v.desc), " but got ",
           t.defined() ? desc_str({t.shape(), t.dtype()}) : std::string("an undefined tensor"));
  FC_CHECK(t.device() == opts_.device, Value, "set_input: input '", v.name, "' is on ", t.device().str(),
           " but the graph runs on ", opts_.device.str());
  views_[size_t(id)] = t.contiguous();
}

void Executable::run() {
  const Graph& g = *graph_;
  RunContext ctx;
  ctx.step = step_;
  for (FreshOutput& f : fresh_) {  // the caller owns last run's buffer: write this run's into a new one
    if (!f.handed_out) continue;
    const TensorDesc& d = g.value(f.value).desc;
    views_[size_t(f.value)] = steps_[f.step].out[f.slot] = Tensor::empty(d.shape, d.dtype, opts_.device);
    f.handed_out = false;
  }
  for (Step& s : steps_) {
    const Node& n = g.node(s.node);
    s.in.clear();
    for (ValueId v : n.inputs) {
      const Tensor& t = views_[size_t(v)];
      FC_CHECK(t.defined(), Value, "run: input '", g.value(v).name, "' (%", v, ") was not set; call set_input first");
      s.in.push_back(t);
    }
    ctx.workspace = s.prepared.workspace_bytes ? static_cast<char*>(arena_->data()) + s.ws_offset : nullptr;
    ctx.workspace_bytes = s.prepared.workspace_bytes;
    if (!profiling_) {
      s.prepared.run(s.in, s.out, ctx);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    s.prepared.run(s.in, s.out, ctx);
    s.prof_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++s.prof_calls;
  }
  ++step_;
}

void Executable::set_profiling(bool on) {
  if (on && !profiling_)
    for (Step& s : steps_) s.prof_ms = 0, s.prof_calls = 0;
  profiling_ = on;
}

std::vector<Executable::StepProfile> Executable::profile() const {
  std::vector<StepProfile> out;
  int i = 0;
  for (const Step& s : steps_) {
    const Node& n = graph_->node(s.node);
    out.push_back({i++, n.op, s.prepared.algo, n.scope, s.prof_ms, s.prof_calls});
  }
  return out;
}

Tensor Executable::output_view(ValueId id) const {
  FC_CHECK(std::find(outputs_.begin(), outputs_.end(), id) != outputs_.end(), Value, "output: value %", id,
           " is not an output of this executable");
  return views_[size_t(id)];
}

Tensor Executable::output(ValueId id) const {
  Tensor v = output_view(id);
  if (FreshOutput* f = fresh_index(id); f && !f->handed_out) {
    f->handed_out = true;  // the next run() writes elsewhere; asking again before then gets a copy
    return v;
  }
  if (v.device().is_cpu()) return v.clone();
  Tensor out = Tensor::empty(v.shape(), v.dtype(), v.device());
  cuda::memcpy(out.data_ptr(), v.data_ptr(), v.nbytes(), cuda::Copy::DeviceToDevice);
  return out;
}

std::string Executable::schedule_str() const {
  std::ostringstream os;
  os << "schedule: " << steps_.size() << " steps, arena " << peak_bytes_ << " bytes on " << opts_.device.str();
  if (backend_ != Backend::default_for(opts_.device)) os << " (backend " << backend_ << ")";
  os << "\n";
  int i = 0;
  for (const Step& s : steps_) {
    const Node& n = graph_->node(s.node);
    os << "  [" << i++ << "] " << n.op;
    if (!s.prepared.algo.empty()) os << " <" << s.prepared.algo << ">";
    os << " (";
    for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << "%" << n.inputs[k];
    os << ") -> ";
    for (size_t k = 0; k < n.outputs.size(); ++k)
      os << (k ? ", " : "") << "%" << n.outputs[k] << ":" << desc_str(graph_->value(n.outputs[k]).desc);
    if (s.prepared.workspace_bytes) os << "  scratch " << s.prepared.workspace_bytes << "B";
    if (!n.outputs.empty() && !n.inputs.empty()) {
      const void* po = views_[size_t(n.outputs[0])].defined() ? views_[size_t(n.outputs[0])].data_ptr() : nullptr;
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const Tensor& t = views_[size_t(n.inputs[k])];
        if (po && graph_->value(n.inputs[k]).kind == ValueKind::Computed && t.defined() && t.data_ptr() == po) {
          os << (Registry::global().get(n.op).view ? "  [view of %" : "  [in-place on %") << n.inputs[k] << "]";
          break;
        }
      }
    }
    if (!n.scope.empty()) os << "  # " << n.scope;
    os << "\n";
  }
  return os.str();
}

}  // namespace fastconv
