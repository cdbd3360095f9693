// The kernel table: every kernel is registered for (op, backend, input dtype, algorithm). Each entry says whether
// it can run a call (`applies`), whether the rules would pick it (`preferred`: e.g. Winograd only where its
// transforms pay), and how to prepare it (`prepare`: parse the call once into a closure over POD params, the
// scratch it needs and the label the schedule shows). Choice happens once per compiled node: the algorithm an
// override names (KernelOptions) where it applies, else the highest-priority entry that applies and is preferred.
// Ops (ops/*.cpp) register their kernels here next to their shape and backward rules; graph/ never names a kernel.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "fastconv/attrs.h"
#include "fastconv/graph.h"
#include "fastconv/tensor.h"

namespace fastconv {

struct OpCall {
  const std::string& op;
  const Attrs& attrs;
  const std::vector<TensorDesc>& in;
  AttrReader attr() const { return AttrReader(op, attrs); }
};

struct RunContext {
  void* workspace = nullptr;  // the planned scratch of this node (64-byte aligned), workspace_bytes long
  size_t workspace_bytes = 0;
  void* stream = nullptr;  // device kernels: the cudaStream_t to launch on (capture-safe: no allocation, no sync)
  // Bit i: input i is stable between calls, i.e. its storage's version moves whenever its bytes do (a parameter or
  // constant that no step of the program writes, or a folded constant). Kernels may then keep data derived from it
  // by version (ops/conv_weight_cache.h). 0 for eager calls and the fold prologue.
  uint32_t stable_inputs = 0;
};

using KernelFn = std::function<void(const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&)>;

struct Prepared {
  KernelFn run;
  size_t workspace_bytes = 0;
  std::string algo;  // shown in schedule dumps: "im2col_gemm", "winograd_f4x3 +relu", ...; empty: the entry's algo
};

// Algorithm overrides and tuning values, the one mechanism for forcing kernels: the FASTCONV_ALGO environment
// variable ("conv=winograd_f4x3,norm=ref,conv.winograd_fused_tiles=64") merged with CompileOptions::algo, which
// wins. A key without a dot names an op, an op family or "*" (every op): its value is an algorithm, used where that
// algorithm applies (elsewhere the rules decide). A key with a dot ("family.name") is a tuning value an op family
// reads in prepare.
class KernelOptions {
 public:
  KernelOptions() = default;
  static KernelOptions from_env();                                  // FASTCONV_ALGO; errors name the variable
  static KernelOptions parse(const std::string& spec, const std::string& source);
  void set(const std::string& key, const std::string& value);
  void merge(const KernelOptions& o);  // o's entries win
  // The algorithm forced for op `op` of family `family`: the op's own entry, else the family's, else "*".
  const std::string* algo_for(const std::string& op, const std::string& family) const;
  int64_t get_int(const std::string& key, int64_t dflt) const;  // a tuning value; errors name the key
  const std::map<std::string, std::string>& items() const { return m_; }
  std::string str() const;  // "conv=ref, norm=ref": stable, for cache keys and messages
  bool empty() const { return m_.empty(); }
  std::string source;       // where the entries came from, for error messages
  // CompileOptions::precision ("fp32", "tf32", "bf16"; checked by the Executable): the GEMM-based kernels that have
  // tensor-core paths read it in prepare and say so in their schedule label; every other kernel ignores it.
  std::string precision = "fp32";

 private:
  std::map<std::string, std::string> m_;
};

struct KernelCall : OpCall {
  const std::vector<TensorDesc>& out;
  Device device;
  const std::string& backend;
  const KernelOptions& options;
};

struct KernelDef {
  std::string op;
  std::string backend = "cpu";
  std::string family;  // the override key shared by related ops ("conv", "norm", ...); defaults to the op name
  std::string algo;    // what overrides name and the schedule shows ("ref", "im2col_gemm", ...)
  int priority = 0;    // among entries that apply and are preferred, the highest wins
  std::function<Prepared(const KernelCall&)> prepare;
  std::function<bool(const KernelCall&)> applies;    // null: any call the shape rule accepted
  std::function<bool(const KernelCall&)> preferred;  // null: yes
  std::vector<DType> dtypes;                         // input 0's dtype; empty: any
};

class KernelTable {
 public:
  // The table every op family filled in (defined in ops/registry.cpp, which lists the families).
  static KernelTable& global();
  void add(KernelDef k);
  // Copies to backend `to` every kernel of backend `from` whose algorithm is in `algos`; with no algos, the
  // reference set: each op's "ref" kernel, or its only/lowest-priority one where it has none (copies, reductions).
  int copy_backend(const std::string& from, const std::string& to, const std::vector<std::string>& algos);
  bool has(const std::string& op, const std::string& backend) const;
  // The entry for the call (see the top of this file); NotImplementedError naming op and backend when none applies.
  const KernelDef& select(const KernelCall& c) const;
  // select + prepare; the label defaults to the entry's algorithm.
  Prepared prepare(const KernelCall& c) const;
  std::vector<std::string> algos(const std::string& family_or_op, const std::string& backend) const;
  std::vector<std::string> backends() const;
  // Every key of `o` names an op, a family or '*', and every algorithm it forces exists: a typo is an error that
  // lists what there is, not a silent fallback to the rules.
  void validate(const KernelOptions& o) const;

 private:
  std::vector<const KernelDef*> entries(const std::string& op, const std::string& backend) const;
  mutable std::shared_mutex mu_;                     // tests register backends while other threads compile
  std::vector<std::unique_ptr<KernelDef>> kernels_;  // stable addresses: select() hands out references
};

}  // namespace fastconv
