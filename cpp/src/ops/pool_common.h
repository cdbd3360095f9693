// Helpers shared by the pooling ops' registration files (pool_window.cpp, pool_adaptive.cpp, pool_unpool.cpp);
// internal to ops/, not an interface of the other backends (those use ops/pool.h).
#pragma once
#include <algorithm>
#include <functional>
#include <sstream>
#include <string>

#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/pool.h"
#include "ops/shape_check.h"

namespace fastconv {
namespace pool_detail {

inline std::string join_x(const int64_t* v, int n) {
  std::ostringstream os;
  for (int i = 0; i < n; ++i) os << (i ? "x" : "") << v[i];
  return os.str();
}
inline std::string tuple_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << ")";
  return os.str();
}

// Rank check shared by every pooling op: nd spatial dims, optionally one channel dim and one batch dim in front.
inline void expect_pool_rank(const std::string& op, const Shape& s, int nd) {
  const size_t r = s.size();
  FC_CHECK(r == size_t(nd + 1) || r == size_t(nd + 2), Value, op, ": expected ", nd + 1, "-D or ", nd + 2,
           "-D input (unbatched or batched), got ", r, "-D input of shape ", shape_str(s));
  for (size_t i = (r == size_t(nd + 2) ? 1 : 0); i < r; ++i)
    FC_CHECK(s[i] > 0, Value, op, ": input of shape ", shape_str(s),
             " has an empty non-batch dimension (only the batch dimension may be 0)");
}

// Splits planes across the pool in chunks of roughly 64K output elements.
template <class F>
void over_planes(int64_t planes, int64_t per_plane, const F& f) {
  parallel_for(planes, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, per_plane)), f);
}

// A pool op and its CPU kernels, registered together: "ref", plus "vec" for the ops with a vectorised 2-D path
// (prepare then gets vec = true and falls back to the reference where the path does not apply).
struct PoolOp {
  std::string name;
  int min_inputs, max_inputs;
  std::function<std::vector<TensorDesc>(const OpCall&)> infer;
  std::function<Prepared(const KernelCall&, bool vec)> prepare;
  std::function<std::vector<ValueId>(BackwardCall&)> backward;
  bool side_effects;
  int inplace_input;
};

inline void add_op(Registry& r, KernelTable& k, AttrNames attrs, PoolOp d, bool vec_path = false) {
  r.add({d.name, d.min_inputs, d.max_inputs, d.infer, d.backward, d.side_effects, d.inplace_input}, std::move(attrs));
  auto prep = d.prepare;
  if (vec_path) add_cpu_kernel(k, d.name, "pool", "vec", 10, [prep](const KernelCall& c) { return prep(c, true); });
  add_cpu_kernel(k, d.name, "pool", "ref", 0, [prep](const KernelCall& c) { return prep(c, false); });
}

// Leading (plane) dims of `s` when its last nd dims are spatial: checked equal between two shapes.
void expect_same_planes(const std::string& op, const Shape& a, const char* an, const Shape& b, const char* bn, int nd);
// <max pool>_backward(grad_out, indices; input_shape) -> grad_input (pool_window.cpp).
void register_index_backward(Registry& r, KernelTable& k, const std::string& name, int nd);
void register_adaptive(Registry& r, KernelTable& k);
void register_unpool(Registry& r, KernelTable& k);

}  // namespace pool_detail
}  // namespace fastconv
