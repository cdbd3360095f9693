// Packed forward weights kept across calls (docs/inference.md, "Packed weights"). A compiled node whose weight is
// stable (a parameter or constant no step of its program writes, or a folded constant: RunContext::stable_inputs)
// packs it once for its GEMMs and reuses the packed copy while the weight's storage keeps its version; any write
// fastconv makes or is told about bumps that version (the fold prologue bumps its outputs when it recomputes them),
// so a changed weight is repacked before use, never served stale. Eager calls and weights computed in the step
// (arena values, whose versions nobody bumps) are never cached.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "backend/kernel.h"
#include "cpu/conv_gemm.h"
#include "fastconv/tensor.h"

namespace fastconv::conv {

class PackedWeightCache {
 public:
  using Pack = std::function<void(const float* w, float* dst)>;
  // The packed copy of `w` (`floats` long, 64-byte aligned), packing it first when `w`'s storage, data or version
  // differ from the last call's. Safe to call from several contexts at once; the returned buffer stays valid for
  // as long as the caller holds it, even if another call repacks meanwhile.
  std::shared_ptr<const float> get(const Tensor& w, int64_t floats, const Pack& pack);
  uint64_t packs() const { return packs_; }  // how many times it packed (tests)

 private:
  std::mutex mu_;
  std::weak_ptr<Storage> storage_;
  const void* data_ = nullptr;
  uint64_t version_ = 0;
  std::shared_ptr<const float> buf_;
  uint64_t packs_ = 0;
};

// A forward GEMM conv's packed weights, for the prepared kernel to capture: `get` returns them for a stable
// weight (input 1) and null otherwise (the kernel then packs per call). Copies share one cache.
struct ForwardWeights {
  cpu::ConvParams p;
  cpu::GemmPlan plan;
  std::shared_ptr<PackedWeightCache> cache;  // null: this conv never uses packed weights
  std::shared_ptr<const float> get(const Tensor& w, const RunContext& ctx) const;
};
// Packed weights pay off where A is packed per call: more output channels than a short product takes
// (gemm.cpp's kShortMaxM rows read A packed anyway, but pack it into L2-sized slices), any batch.
ForwardWeights forward_weights(const cpu::ConvParams& p, const cpu::GemmPlan& plan);

}  // namespace fastconv::conv
