// The static graph: values with static shapes, nodes = ops with attributes. Built by the Python tracer or by C++
// code; compiled (autodiff, dead-code removal, memory plan, kernel choice) into an Executable whose run() is a
// flat loop over prepared kernels.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fastconv/attrs.h"
#include "fastconv/export.h"
#include "fastconv/tensor.h"

namespace fastconv {

using ValueId = int32_t;
constexpr ValueId kNoValue = -1;

struct TensorDesc {
  Shape shape;
  DType dtype = DType::f32;
  bool operator==(const TensorDesc& o) const { return shape == o.shape && dtype == o.dtype; }
  size_t nbytes() const { return static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype); }
};
FASTCONV_API std::string desc_str(const TensorDesc& d);  // "float32[8, 3, 32, 32]"

enum class ValueKind { Input, Param, Const, Computed };

struct Value {
  TensorDesc desc;
  ValueKind kind = ValueKind::Computed;
  std::string name;
  int producer = -1;    // node index for Computed values
  int out_index = 0;
  Tensor data;          // Param/Const: the storage it lives in (shared with the owner, e.g. a NumPy array)
  bool requires_grad = false;
};

struct Node {
  std::string op;
  Attrs attrs;
  std::vector<ValueId> inputs, outputs;
  std::string scope;  // layer name from the tracer, used in errors and dumps
};

class FASTCONV_API Graph {
 public:
  ValueId input(const std::string& name, const TensorDesc& desc);
  ValueId param(const std::string& name, const Tensor& data, bool requires_grad = true);
  ValueId constant(const Tensor& data, const std::string& name = "");
  // Adds a node, running the op's shape rule now; errors name the scope (layer) and op.
  std::vector<ValueId> add(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs = {},
                           const std::string& scope = "");
  ValueId add1(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs = {},
               const std::string& scope = "");

  const Value& value(ValueId id) const;
  Value& value(ValueId id);
  const Node& node(int i) const { return nodes_.at(static_cast<size_t>(i)); }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_values() const { return static_cast<int>(values_.size()); }
  std::string dump() const;

  // Rewriting, for graph passes (fuse.cpp): a new computed value with no producer yet, and a new node list whose
  // outputs' producers are re-derived. Existing value ids never change, so callers' ids stay valid.
  ValueId add_value(const TensorDesc& desc);
  void set_nodes(std::vector<Node> nodes);

  // The scope given to nodes that add() creates without one (backward rules inherit their forward node's).
  std::string current_scope;
  // Values that builders create once per graph and find again by a key (the step counter: train.h).
  ValueId memo(const std::string& key) const;  // kNoValue if absent
  void set_memo(const std::string& key, ValueId v);

 private:
  ValueId new_value(Value v);
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::map<std::string, ValueId> memo_;
};

// Appends the backward pass of `loss` (a scalar) to g and returns d loss / d wrt[i] for each i
// (a zeros constant where wrt[i] does not influence loss). `seed` is d(out)/d(loss); default 1.
FASTCONV_API std::vector<ValueId> append_backward(Graph& g, ValueId loss, const std::vector<ValueId>& wrt,
                                                  ValueId seed = kNoValue);

struct CompileOptions {
  Device device;
  std::string backend;      // who runs it (kernel table + runtime); empty: "cpu" or "cuda" for `device`
  bool plan_memory = true;  // false: every value gets its own buffer (debugging)
  bool fuse = false;        // run the fusion passes (fuse_graph) before planning
  int fixed_io = -1;        // copy inputs into slots of their own: 1 yes, 0 no (borrow), -1 the backend's choice
  // Folded constants (docs/inference.md): on the CPU, pure steps that read only parameters and constants (the
  // bn_fold fusion's conv_bn_fold, a reshape of a weight, ...) run before a step only when a weight version they
  // read moved, into buffers of their own; false runs them in every step like any other.
  bool fold_constants = true;
  // Algorithm overrides and tuning values, merged over the FASTCONV_ALGO environment variable (these win):
  // {"conv": "winograd_f4x3"} forces an algorithm of an op family (or of one op, or "*" for all) where it
  // applies; {"conv.winograd_fused_tiles": "64"} sets a family's tuning value. See docs/design.md.
  std::map<std::string, std::string> algo;
  // What GEMM products are computed from (docs/cuda.md, "Precision"): "fp32" (exact FP32, the default), "tf32" or
  // "bf16" (tensor cores: operands rounded to TF32 / BF16, FP32 accumulation; activations, weights, optimizer
  // state and every other op stay FP32). Only device='cuda' has the reduced precisions: on the CPU they are a
  // NotImplementedError, an unknown name a ValueError.
  std::string precision = "fp32";
};

// What the fusion passes did: rewrites per pattern name ("bn_fold", "conv_epilogue", "bn_relu", ...: the patterns
// the op families register), finer counts some patterns add ("conv_residual", "bn_add_relu"), and "early_updates"
// (optimizer updates moved up to right after their gradient: a reorder, not a fusion). Every name is present.
struct FASTCONV_API FuseStats {
  std::map<std::string, int> counts;
  int get(const std::string& name) const {
    auto it = counts.find(name);
    return it == counts.end() ? 0 : it->second;
  }
  int total() const;  // fusions (the patterns' own counts)
};
FASTCONV_API FuseStats empty_fuse_stats();

// Returns a rewritten copy of g (same value ids) with fused nodes; dead nodes (for `outputs`) are dropped. A
// pattern is fused only when its intermediates are used by nothing else and are not outputs, and only where
// `backend` has kernels for the ops it makes.
FASTCONV_API std::shared_ptr<Graph> fuse_graph(const Graph& g, const std::vector<ValueId>& outputs,
                                               FuseStats* stats = nullptr, const std::string& backend = "cpu");

// One arena buffer. Values that share it (views, in-place outputs) are not listed: their bytes are the root's.
struct PlannedBuffer {
  ValueId value;       // kNoValue for kernel scratch
  int node;            // scratch: the node that uses it
  size_t offset, size;
  int first, last;     // schedule positions where it is live
};

// A compiled graph: a flat schedule of prepared kernels and a memory plan, immutable once built. Running it needs
// an execution context (arena, bound inputs, output buffers); the Executable keeps a small pool of them, so:
//  - call() is safe from several threads at once. Programs without side effects (inference) run concurrently,
//    each call in a context of its own (up to max_contexts(), then callers wait); programs with side effects
//    (training steps, batch-norm statistics, optimizer updates) run one call at a time, in call order.
//  - set_input()/run()/output() drive one default context, for single-threaded use (C++ tests, tools).
// A step allocates nothing: the arena, every kernel's scratch and the output buffers exist before it starts.
// Inputs are borrowed for the step (no copy), or, with fixed I/O (CompileOptions::fixed_io, the default where the
// backend needs fixed addresses), copied into slots of their own; outputs are copied out, or handed over (take):
// the output's buffer goes to the caller and the context gets a new one at that point, outside the step.
// Anomaly detection (torch.autograd.set_detect_anomaly's role): while on, every compiled step checks each
// floating-point output of every node and stops at the first NaN or infinity, naming the node and its layer; costs a
// pass over every value, so it is off by default. Process-wide; read when a run starts.
FASTCONV_API void set_detect_anomaly(bool on);
FASTCONV_API bool is_anomaly_enabled();

class FASTCONV_API Executable {
 public:
  Executable(std::shared_ptr<Graph> graph, std::vector<ValueId> outputs, CompileOptions opts = {});
  ~Executable();

  // One step: binds `inputs` (value id -> tensor matching the input's declared desc), runs, and returns the
  // requested outputs (each handed over where its buffer is its own, else copied).
  std::vector<Tensor> call(const std::vector<std::pair<ValueId, Tensor>>& inputs, const std::vector<ValueId>& outputs);

  void set_input(ValueId id, const Tensor& t);  // default context: borrowed (or copied with fixed I/O) until run()
  void run();
  // The value, safe to keep across runs: the first call after a run() hands over the output's own buffer (an
  // output that shares no bytes with other values has a buffer of its own), any other call returns a copy.
  Tensor output(ValueId id) const;
  Tensor output_view(ValueId id) const;  // where the value lives now in the default context, valid until run()
  // The data pointers every step of the default context reads and writes, in schedule order (tests check that
  // fixed I/O replays with the same addresses).
  std::vector<const void*> step_addresses() const;
  // Whether the default context's last run() replayed a captured CUDA Graph (device backends; never on the CPU).
  bool last_run_replayed() const;

  size_t peak_bytes() const { return peak_bytes_; }  // the arena: planned values and kernel scratch
  // What the arena would need with one buffer per value (no reuse, no in-place, no views): for memory reports.
  // Neither counts inputs and outputs, which live in buffers of their own.
  size_t naive_bytes() const { return naive_bytes_; }
  size_t io_bytes() const { return io_bytes_; }   // a context's output buffers (+ input slots with fixed I/O)
  int inplace_count() const { return inplace_; }  // outputs written over a dying input's buffer
  int alias_count() const { return aliased_; }    // view outputs (reshape) sharing their input's bytes
  bool stateful() const { return stateful_; }     // has side effects: calls run one at a time
  bool fixed_io() const { return fixed_io_; }
  int max_contexts() const { return max_contexts_; }
  const std::vector<PlannedBuffer>& plan() const { return plan_; }
  const Graph& graph() const { return *graph_; }  // the compiled (fused, when opts.fuse) graph
  const FuseStats& fuse_stats() const { return fuse_stats_; }
  std::string schedule_str() const;
  const std::string& backend() const { return backend_; }
  const std::string& precision() const { return opts_.precision; }  // CompileOptions::precision
  uint64_t steps_run() const { return step_.load(); }
  // Per-step wall time, accumulated over runs while profiling is on (off by default: no clock reads; while on,
  // calls run one at a time).
  struct StepProfile {
    int step;
    std::string op, algo, scope;
    double total_ms;
    uint64_t calls;
    bool folded;  // a folded-constant step: its calls count recomputations, not runs
  };
  void set_profiling(bool on);
  std::vector<StepProfile> profile() const;

  // Folded constants (CompileOptions::fold_constants; docs/inference.md). The prologue (the folded steps) runs at
  // the start of a step when the version of a parameter or constant it reads changed since it last ran (or never
  // ran), while no other call of this executable is running; calls then share its results.
  int folded_steps() const;
  uint64_t fold_runs() const;  // how many times the prologue ran
  // Tells the executable (and every other one sharing these tensors) that its parameters or constants were written
  // behind fastconv's back (through a raw pointer or a NumPy view): bumps the version of each of their storages.
  void weights_changed() const;

 private:
  struct Step;
  struct Context;
  struct Binding;  // where a value that changes between runs appears in the steps' argument lists
  struct IndexCheck;  // an input holding indices (class labels), checked before a step starts
  struct FoldCache;   // the folded steps, their buffers and the versions they were computed from
  std::unique_ptr<Context> make_context() const;
  Context* acquire() const;
  void release(Context* c) const;
  void bind_input(Context& c, ValueId id, const Tensor& t) const;
  void check_indices(ValueId id, const Tensor& t) const;
  void check_finite(const Context& c, size_t step) const;
  void execute(Context& c) const;
  Tensor take(Context& c, ValueId id) const;
  void rebind(Context& c, ValueId v, const Tensor& t) const;
  void fold_acquire(Context& c, bool prof, bool anomaly) const;  // recomputes if stale; then counts as a reader
  void fold_release() const;

  std::shared_ptr<Graph> graph_;
  std::vector<ValueId> outputs_;
  CompileOptions opts_;
  std::string backend_;
  std::vector<Step> steps_;
  std::vector<PlannedBuffer> plan_;
  std::vector<int64_t> arena_offset_;  // per value: byte offset of its (root's) bytes in the arena, -1 if none
  std::vector<ValueId> root_;          // per value: the value whose bytes it shares (itself if none)
  std::vector<char> own_buffer_;       // per value: an output with a buffer of its own
  std::vector<Binding> bindings_;      // inputs and own-buffer outputs
  std::vector<int> binding_of_;        // per value: index into bindings_, -1
  std::vector<IndexCheck> index_checks_;
  size_t peak_bytes_ = 0, naive_bytes_ = 0, io_bytes_ = 0;
  int inplace_ = 0, aliased_ = 0;
  bool stateful_ = false, fixed_io_ = false;
  int max_contexts_ = 1;
  FuseStats fuse_stats_;
  std::unique_ptr<FoldCache> fold_;                 // null: nothing folded
  std::vector<std::shared_ptr<Storage>> written_;   // storages stateful steps write: bumped after each run

  mutable std::atomic<uint64_t> step_{0};
  mutable std::atomic<bool> profiling_{false};
  mutable std::mutex serial_mu_;  // held for the whole call by stateful programs and while profiling
  mutable std::mutex pool_mu_;
  mutable std::condition_variable pool_cv_;
  mutable std::vector<std::unique_ptr<Context>> idle_;
  mutable int contexts_ = 0;
  Context& default_context() const;
  mutable std::unique_ptr<Context> default_;  // set_input/run/output, made on first use
};

}  // namespace fastconv
