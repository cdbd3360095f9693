// A backend: who runs a compiled graph. It names its kernels in the kernel table (KernelDef::backend), owns the
// memory of its device (allocate, copy, synchronize) and runs the executor's step list. "cpu" is built in; "cuda"
// exists when the CUDA sources are compiled in; more can be added at run time (a test registers "cpu-ref", which
// has only the reference kernels), with no edit in graph/ or in any op's shape or backward rule.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "backend/kernel.h"

namespace fastconv {

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
