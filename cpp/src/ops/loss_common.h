// Helpers shared by the loss ops' registration files (loss_class.cpp, loss_pointwise.cpp, loss_pair.cpp); internal
// to ops/, not an interface of the other backends (those use ops/loss.h).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cpu/ref/loss_ref.h"
#include "ops/common.h"
#include "ops/loss.h"

namespace fastconv {
namespace loss_detail {

using ref::Reduction;

inline Reduction reduction_of(const OpCall& c) {
  const std::string r = c.attr().get_str("reduction", "mean");
  if (r == "none") return Reduction::none;
  if (r == "mean") return Reduction::mean;
  FC_CHECK(r == "sum", Value, c.op, ": argument 'reduction' must be 'none', 'mean' or 'sum', got '", r, "'");
  return Reduction::sum;
}

// Scales the upstream gradient of a reduced loss: 1 element for mean/sum, one per position for none.
inline float grad_scale(Reduction r, double denom) { return r == Reduction::mean ? float(1.0 / denom) : 1.f; }

// An op of this family with its one CPU kernel ("ref"), registered together.
struct LossOp {
  std::string name;
  int min_inputs, max_inputs;
  std::function<std::vector<TensorDesc>(const OpCall&)> infer;
  std::function<Prepared(const KernelCall&)> prepare;
  std::function<std::vector<ValueId>(BackwardCall&)> backward;
  bool side_effects;
  int inplace_input;
  std::function<std::vector<IndexInput>(const OpCall&)> index_inputs = nullptr;
};
inline void add_op(Registry& r, KernelTable& k, AttrNames attrs, LossOp d) {
  r.add({d.name, d.min_inputs, d.max_inputs, d.infer, d.backward, d.side_effects, d.inplace_input, false,
         d.index_inputs},
        std::move(attrs));
  add_cpu_kernel(k, d.name, "loss", "ref", 0, d.prepare);
}

void register_pointwise_losses(Registry& r, KernelTable& k);
void register_pair_losses(Registry& r, KernelTable& k);  // triplet_margin_loss, cosine_similarity

}  // namespace loss_detail
}  // namespace fastconv
