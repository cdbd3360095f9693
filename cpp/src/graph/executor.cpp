// Building an Executable: dead-code removal, schedule, liveness, buffer sharing (views, in-place), the memory
// plan and kernel choice. Everything here runs once; graph/context.cpp runs the result.
#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "backend/backend.h"
#include "fastconv/graph.h"
#include "graph/dce.h"
#include "graph/executor_impl.h"
#include "graph/plan.h"
#include "ops/op.h"

namespace fastconv {

Executable::~Executable() = default;

Executable::Executable(std::shared_ptr<Graph> graph, std::vector<ValueId> outputs, CompileOptions opts)
    : graph_(std::move(graph)), outputs_(std::move(outputs)), opts_(opts) {
  backend_ = opts_.backend.empty() ? Backend::default_for(opts_.device) : opts_.backend;
  const Backend& backend = Backend::get(backend_);
  FC_CHECK(backend.device_type() == opts_.device.type, Value, "backend '", backend_, "' runs on ",
           backend.device_type() == DeviceType::CPU ? "cpu" : "cuda", " memory but the graph is compiled for ",
           opts_.device.str());
  fixed_io_ = opts_.fixed_io < 0 ? backend.needs_fixed_addresses() : opts_.fixed_io > 0;
  KernelOptions kopts = KernelOptions::from_env();
  KernelOptions given;
  given.source = "CompileOptions.algo";
  for (const auto& [k, v] : opts_.algo) given.set(k, v);
  kopts.merge(given);
  if (!kopts.empty()) KernelTable::global().validate(kopts);
  FC_CHECK(opts_.precision == "fp32" || opts_.precision == "tf32" || opts_.precision == "bf16", Value,
           "compile: argument 'precision' is '", opts_.precision, "'; expected 'fp32', 'tf32' or 'bf16'");
  FC_CHECK(opts_.precision == "fp32" || backend.device_type() == DeviceType::CUDA, NotImplemented,
           "compile: precision='", opts_.precision, "' needs device='cuda' (tensor-core GEMMs); on ",
           opts_.device.str(), " only precision='fp32' is supported");
  kopts.precision = opts_.precision;
  fuse_stats_ = empty_fuse_stats();
  if (opts_.fuse) graph_ = fuse_graph(*graph_, outputs_, &fuse_stats_, backend_);
  Graph& g = *graph_;
  const Registry& reg = Registry::global();
  const int nv = g.num_values(), nn = g.num_nodes();

  // Schedule = live nodes in graph order (the graph is built in topological order).
  const std::vector<char> live_n = live_nodes(g, outputs_);
  std::vector<int> pos_of(size_t(nn), -1);
  for (int i = 0; i < nn; ++i)
    if (live_n[size_t(i)]) {
      pos_of[size_t(i)] = static_cast<int>(steps_.size());
      Step s;
      s.node = i;
      s.in = g.node(i).inputs;
      s.out = g.node(i).outputs;
      stateful_ = stateful_ || reg.get(g.node(i).op).side_effects;
      steps_.push_back(std::move(s));
    }
  const int end = static_cast<int>(steps_.size());

  // Liveness of computed values; kernel scratch lives only during its step.
  std::vector<int> first(size_t(nv), -1), last(size_t(nv), -1);
  for (const Step& s : steps_) {
    int p = pos_of[size_t(s.node)];
    for (ValueId o : s.out) first[size_t(o)] = last[size_t(o)] = p;
    for (ValueId v : s.in) last[size_t(v)] = std::max(last[size_t(v)], p);
  }
  std::vector<char> is_output(size_t(nv), 0);
  for (ValueId o : outputs_) last[size_t(o)] = end, is_output[size_t(o)] = 1;

  // Folded constants (docs/inference.md), decided before planning so that their outputs stay out of the arena: a
  // pure step whose inputs are parameters, constants or folded outputs, none of its outputs a graph output. A step
  // reading state this program's own side-effect steps write is not folded: in-line, it might read the value
  // before or after the write depending on its place, and the prologue always runs first. The storages those
  // steps write are bumped after every run, so that other programs' folds see the update.
  std::vector<char> folded(size_t(nv), 0);
  {
    std::vector<char> written(size_t(nv), 0);
    std::set<const Storage*> known;
    for (const Step& s : steps_) {
      const Node& n = g.node(s.node);
      if (!reg.get(n.op).side_effects) continue;
      // batch_norm has side effects as an op, but in eval mode (training=false) it writes nothing
      const bool writes = !n.attrs.has("training") || AttrReader(n.op, n.attrs).get_bool("training", true);
      for (ValueId v : n.inputs) {
        const Value& val = g.value(v);
        if (val.kind != ValueKind::Param && val.kind != ValueKind::Const) continue;
        written[size_t(v)] = 1;
        if (writes && val.data.defined() && known.insert(val.data.storage().get()).second)
          written_.push_back(val.data.storage());
      }
    }
    if (opts_.fold_constants && opts_.device.is_cpu())
      for (Step& s : steps_) {
        const Node& n = g.node(s.node);
        if (reg.get(n.op).side_effects || n.inputs.empty() || n.outputs.empty()) continue;
        bool ok = true;
        for (ValueId v : n.inputs) {
          const ValueKind k = g.value(v).kind;
          ok = ok && (((k == ValueKind::Param || k == ValueKind::Const) && !written[size_t(v)]) || folded[size_t(v)]);
        }
        for (ValueId o : n.outputs) ok = ok && !is_output[size_t(o)];
        if (!ok) continue;
        s.folded = true;
        for (ValueId o : n.outputs) folded[size_t(o)] = 1;
      }
    // Inputs whose versions track their bytes (RunContext::stable_inputs): what a fold may read. Device programs
    // have no fold and leave them 0.
    if (opts_.device.is_cpu())
      for (Step& s : steps_) {
        const Node& n = g.node(s.node);
        for (size_t j = 0; j < n.inputs.size() && j < 32; ++j) {
          const ValueId v = n.inputs[j];
          const ValueKind k = g.value(v).kind;
          if (((k == ValueKind::Param || k == ValueKind::Const) && !written[size_t(v)]) || folded[size_t(v)])
            s.stable_in |= uint32_t(1) << j;
        }
      }
  }

  // Buffer sharing (planned mode only): a value joins the buffer of another ("root") when
  //  - its op is a view (reshape): same bytes, no copy; the root then lives as long as its longest-lived alias;
  //  - its op may write output 0 over input `inplace_input` and that input's buffer dies at this node.
  root_.resize(size_t(nv));
  for (int v = 0; v < nv; ++v) root_[size_t(v)] = v;
  std::vector<int> group_last = last;
  auto is_planned = [&](ValueId v) {
    return g.value(v).kind == ValueKind::Computed && first[size_t(v)] >= 0 && !folded[size_t(v)];
  };
  if (opts_.plan_memory) {
    for (const Step& s : steps_) {
      const Node& n = g.node(s.node);
      const OpDef& def = reg.get(n.op);
      if (n.outputs.empty() || n.inputs.empty()) continue;
      const int p = pos_of[size_t(s.node)];
      const ValueId o = n.outputs[0];
      // An output gets a buffer of its own rather than sharing an arena buffer: the kernel then writes straight
      // into the memory handed to the caller.
      if (is_output[size_t(o)]) continue;
      const size_t ob = g.value(o).desc.nbytes();
      if (def.view) {
        const ValueId v = n.inputs[0];
        if (!is_planned(v) || g.value(v).desc.nbytes() != ob) continue;
        const ValueId r = root_[size_t(v)];
        root_[size_t(o)] = r;
        group_last[size_t(r)] = std::max(group_last[size_t(r)], last[size_t(o)]);
        ++aliased_;
      } else if (def.inplace_input >= 0 && size_t(def.inplace_input) < n.inputs.size()) {
        const ValueId v = n.inputs[size_t(def.inplace_input)];
        if (!is_planned(v) || g.value(v).desc.nbytes() != ob) continue;
        const ValueId r = root_[size_t(v)];
        if (group_last[size_t(r)] != p) continue;  // someone still reads the input's bytes after this node
        root_[size_t(o)] = r;
        group_last[size_t(r)] = std::max(p, last[size_t(o)]);
        ++inplace_;
      }
    }
  }

  // Outputs that no other value shares bytes with live outside the arena, in a buffer of their own per context,
  // which can be handed to the caller without a copy (a clone of a 25 MiB gradient cost 2-3 ms per call).
  own_buffer_.assign(size_t(nv), 0);
  for (ValueId o : outputs_) own_buffer_[size_t(o)] = is_planned(o) && root_[size_t(o)] == o;
  for (int v = 0; v < nv; ++v)
    if (root_[size_t(v)] != v) own_buffer_[size_t(root_[size_t(v)])] = 0;

  std::vector<Interval> iv;
  for (int v = 0; v < nv; ++v) {
    const Value& val = g.value(v);
    if (!is_planned(v) || own_buffer_[size_t(v)]) continue;
    naive_bytes_ += (val.desc.nbytes() + 63) / 64 * 64;
    if (root_[size_t(v)] != v) continue;
    iv.push_back({val.desc.nbytes(), first[size_t(v)], group_last[size_t(v)]});
    plan_.push_back({v, val.producer, 0, val.desc.nbytes(), first[size_t(v)], group_last[size_t(v)]});
  }
  size_t fold_scratch = 0;
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
    if (const auto& ix = reg.get(n.op).index_inputs)
      for (IndexInput r : ix(OpCall{n.op, n.attrs, in}))
        if (r.input < n.inputs.size() && g.value(n.inputs[r.input]).kind == ValueKind::Input &&
            in[r.input].dtype == DType::i64)
          index_checks_.push_back({n.inputs[r.input], n.op, std::move(r)});
    if (s.prepared.workspace_bytes && s.folded) {
      fold_scratch = std::max(fold_scratch, s.prepared.workspace_bytes);
    } else if (s.prepared.workspace_bytes) {
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
  arena_offset_.assign(size_t(nv), -1);
  for (const PlannedBuffer& b : plan_)
    if (b.value != kNoValue) arena_offset_[size_t(b.value)] = int64_t(b.offset);
  for (int v = 0; v < nv; ++v)
    if (is_planned(v) && !own_buffer_[size_t(v)]) arena_offset_[size_t(v)] = arena_offset_[size_t(root_[size_t(v)])];
  for (const PlannedBuffer& b : plan_)
    if (b.value == kNoValue) steps_[size_t(pos_of[size_t(b.node)])].ws_offset = b.offset;

  if (std::any_of(steps_.begin(), steps_.end(), [](const Step& s) { return s.folded; })) {
    fold_ = std::make_unique<FoldCache>();
    FoldCache& f = *fold_;
    std::set<const Storage*> known;
    for (size_t i = 0; i < steps_.size(); ++i) {
      if (!steps_[i].folded) continue;
      f.steps.push_back(i);
      for (ValueId v : steps_[i].in) {
        const Value& val = g.value(v);
        if ((val.kind == ValueKind::Param || val.kind == ValueKind::Const) && val.data.defined() &&
            known.insert(val.data.storage().get()).second)
          f.deps.push_back(val.data.storage());
      }
    }
    f.seen.assign(f.deps.size(), 0);
    f.buffers.resize(size_t(nv));
    for (int v = 0; v < nv; ++v)
      if (folded[size_t(v)]) {
        const TensorDesc& d = g.value(v).desc;
        f.buffers[size_t(v)] =
            Tensor(backend.allocate(d.nbytes(), opts_.device), 0, d.shape, contiguous_strides(d.shape), d.dtype);
      }
    f.scratch_bytes = fold_scratch;
    if (fold_scratch) f.scratch = backend.allocate(fold_scratch, opts_.device);
  }

  for (int v = 0; v < nv; ++v) {
    const Value& val = g.value(v);
    if (val.kind == ValueKind::Param || val.kind == ValueKind::Const)
      FC_CHECK(val.data.device() == opts_.device, Value, "value '", val.name, "' lives on ", val.data.device().str(),
               " but the graph is compiled for ", opts_.device.str());
  }

  // Values whose tensor changes between runs (inputs, handed-over outputs) and where they appear in steps.
  binding_of_.assign(size_t(nv), -1);
  auto binding = [&](ValueId v) -> Binding& {
    if (binding_of_[size_t(v)] < 0) {
      binding_of_[size_t(v)] = int(bindings_.size());
      bindings_.push_back({v, {}});
    }
    return bindings_[size_t(binding_of_[size_t(v)])];
  };
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& s = steps_[i];
    for (size_t k = 0; k < s.in.size(); ++k) {
      const ValueId v = s.in[k];
      if (g.value(v).kind == ValueKind::Input || own_buffer_[size_t(v)]) binding(v).uses.push_back({i, false, k});
    }
    for (size_t k = 0; k < s.out.size(); ++k)
      if (own_buffer_[size_t(s.out[k])]) binding(s.out[k]).uses.push_back({i, true, k});
  }
  for (int v = 0; v < nv; ++v)
    if (own_buffer_[size_t(v)] || (fixed_io_ && g.value(v).kind == ValueKind::Input && binding_of_[size_t(v)] >= 0))
      io_bytes_ += g.value(v).desc.nbytes();

  max_contexts_ = stateful_ ? 1 : std::max(2, int(std::thread::hardware_concurrency()));
}

std::string Executable::schedule_str() const {
  std::ostringstream os;
  os << "schedule: " << steps_.size() << " steps, arena " << peak_bytes_ << " bytes on " << opts_.device.str();
  if (backend_ != Backend::default_for(opts_.device)) os << " (backend " << backend_ << ")";
  if (opts_.precision != "fp32") os << ", precision " << opts_.precision;
  os << "\n";
  int i = 0;
  const Registry& reg = Registry::global();
  for (const Step& s : steps_) {
    const Node& n = graph_->node(s.node);
    os << "  [" << i++ << "] " << n.op;
    if (!s.prepared.algo.empty()) os << " <" << s.prepared.algo << ">";
    if (s.folded) os << " [folded]";
    os << " (";
    for (size_t k = 0; k < n.inputs.size(); ++k) os << (k ? ", " : "") << "%" << n.inputs[k];
    os << ") -> ";
    for (size_t k = 0; k < n.outputs.size(); ++k)
      os << (k ? ", " : "") << "%" << n.outputs[k] << ":" << desc_str(graph_->value(n.outputs[k]).desc);
    if (s.prepared.workspace_bytes) os << "  scratch " << s.prepared.workspace_bytes << "B";
    if (!n.outputs.empty()) {
      const ValueId o = n.outputs[0];
      for (ValueId v : n.inputs)
        if (graph_->value(v).kind == ValueKind::Computed && root_[size_t(o)] != o && root_[size_t(o)] == root_[size_t(v)]) {
          os << (reg.get(n.op).view ? "  [view of %" : "  [in-place on %") << v << "]";
          break;
        }
    }
    if (!n.scope.empty()) os << "  # " << n.scope;
    os << "\n";
  }
  return os.str();
}

}  // namespace fastconv
