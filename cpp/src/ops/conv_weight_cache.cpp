#include "ops/conv_weight_cache.h"

namespace fastconv::conv {

std::shared_ptr<const float> PackedWeightCache::get(const Tensor& w, int64_t floats, const Pack& pack) {
  const std::shared_ptr<Storage>& st = w.storage();
  // The version is read before the bytes: a write landing during the pack bumps it afterwards, so the next call
  // packs again (as FoldCache does).
  const uint64_t version = st->version();
  const void* data = w.data<const float>();
  std::lock_guard<std::mutex> lock(mu_);
  if (buf_ && storage_.lock() == st && data_ == data && version_ == version) return buf_;
  float* p = static_cast<float*>(aligned_alloc64(size_t(floats) * sizeof(float)));
  std::shared_ptr<const float> fresh(p, [](const float* q) { aligned_free64(const_cast<float*>(q)); });
  pack(static_cast<const float*>(data), p);
  buf_ = std::move(fresh);
  storage_ = st;
  data_ = data;
  version_ = version;
  ++packs_;
  return buf_;
}

ForwardWeights forward_weights(const cpu::ConvParams& p, const cpu::GemmPlan& plan) {
  ForwardWeights f{p, plan, nullptr};
  if (cpu::group_out(p) > cpu::gemm::kShortMaxM && p.N > 0) f.cache = std::make_shared<PackedWeightCache>();
  return f;
}

std::shared_ptr<const float> ForwardWeights::get(const Tensor& w, const RunContext& ctx) const {
  if (!cache || !(ctx.stable_inputs & 2u)) return nullptr;
  const cpu::ConvParams q = p;
  const cpu::GemmPlan g = plan;
  return cache->get(w, cpu::conv_packed_weight_floats(q, g),
                    [&](const float* src, float* dst) { cpu::conv_pack_weight(q, g, src, dst); });
}

}  // namespace fastconv::conv
