// A backend: who runs a compiled graph. It names its kernels in the kernel table (KernelDef::backend), owns the
// memory of its device (allocate, copy, synchronize) and runs the executor's step list. "cpu" is built in; "cuda"
// exists when the CUDA sources are compiled in; more can be added at run time (a test registers "cpu-ref", which
// has only the reference kernels), with no edit in graph/ or in any op's shape or backward rule.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/kernel.h"

namespace fastconv {

// How an execution context issues a compiled step's kernels (one queue per context). The CPU's runs them at once;
// CUDA's issues them on a stream of the context's own and, once a step has run with the same argument addresses,
// captures it as a CUDA Graph and replays that from then on: one launch per step instead of one per kernel.
class StepQueue {
 public:
  virtual ~StepQueue() = default;
  virtual void* stream() const { return nullptr; }  // a cudaStream_t for device kernels (RunContext::stream)
  // Runs launch(arg), which issues every kernel of the step on stream(), or replays what it issued before.
  // `version` changes whenever an argument address may have changed; `capturable` false always runs launch.
  // A plain function and its argument rather than a std::function: the step allocates nothing.
  using LaunchFn = void (*)(void* arg);
  virtual void run(LaunchFn launch, void* arg, uint64_t version, bool capturable) { launch(arg); }
  // An ordered copy on the queue; a pointer is host memory where its flag says so, else this backend's device.
  virtual void copy(void* dst, bool dst_host, const void* src, bool src_host, size_t nbytes);
  virtual void synchronize() {}
  virtual bool replayed() const { return false; }  // the last run() was a graph replay
};

class Backend {
 public:
  Backend(std::string name, DeviceType device) : name_(std::move(name)), device_(device) {}
  virtual ~Backend() = default;
  const std::string& name() const { return name_; }
  DeviceType device_type() const { return device_; }

  // Whether the kernel table has a kernel of this backend that applies to the call.
  bool supports(const KernelCall& c) const;
  virtual std::shared_ptr<Storage> allocate(size_t nbytes, Device d) const;
  // dst and src on this backend's device (host memory for copies in and out: see Tensor::copy_from).
  virtual void copy(void* dst, const void* src, size_t nbytes) const;
  virtual void synchronize() const {}
  virtual std::unique_ptr<StepQueue> make_queue() const { return std::make_unique<StepQueue>(); }
  // Whether compiled steps must replay with the same addresses every run (CUDA Graph capture): inputs are then
  // copied into slots of their own and outputs copied out, never rebound (CompileOptions::fixed_io overrides).
  virtual bool needs_fixed_addresses() const { return false; }

  static void add(std::shared_ptr<Backend> b);  // replaces a backend of the same name
  static const Backend& get(const std::string& name);  // ValueError listing the registered ones
  static std::vector<std::string> names();
  // The backend for a device when none is named: "cpu" or "cuda".
  static const std::string& default_for(Device d);
  // A backend on the CPU whose kernels are those of `base` with an algorithm in `algos`, or with no algos the
  // reference set (KernelTable::copy_backend): "cpu-ref" runs every op through its reference kernel. Returns the
  // number of kernels it got.
  static int derive(const std::string& name, const std::string& base, const std::vector<std::string>& algos);

 private:
  std::string name_;
  DeviceType device_;
};

}  // namespace fastconv
