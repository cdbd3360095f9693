#include "ops/common.h"

#include <algorithm>

#include "fastconv/parallel.h"

namespace fastconv {

Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FC_CHECK(da == db || da == 1 || db == 1, Value, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  FC_CHECK(n <= size_t(ref::kMaxDims), Value, op, ": at most ", ref::kMaxDims, " dimensions are supported, got ", n);
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  Shape cs = contiguous_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[off + i] = in[i] == 1 && out[off + i] != 1 ? 0 : cs[i];
  return st;
}

ref::ReduceParams reduce_params(const Shape& in, const Shape& out) {
  ref::ReduceParams p;
  p.ndim = static_cast<int>(in.size());
  std::vector<int64_t> st = broadcast_strides(out, in);
  for (size_t i = 0; i < in.size(); ++i) {
    p.shape[i] = in[i];
    p.stride_out[i] = st[i];
  }
  return p;
}

int64_t normalize_axis(const std::string& op, int64_t axis, int64_t rank) {
  FC_CHECK(axis >= -rank && axis < rank, Index, op, ": dim ", axis, " is out of range for a ", rank,
           "-D input (expected ", -rank, " to ", rank - 1, ")");
  return axis < 0 ? axis + rank : axis;
}

namespace {
constexpr int64_t kChunk = 1 << 15;  // 128 KiB of floats: fits L2 with room for the output
}

void parallel_unary(void (*k)(const float*, float*, int64_t), const float* x, float* y, int64_t n) {
  parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t b, int64_t e) {
    int64_t lo = b * kChunk, hi = std::min(n, e * kChunk);
    k(x + lo, y + lo, hi - lo);
  });
}

void parallel_binary(void (*k)(const float*, const float*, float*, int64_t), const float* a, const float* b, float* y,
                     int64_t n) {
  parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t lo_c, int64_t hi_c) {
    int64_t lo = lo_c * kChunk, hi = std::min(n, hi_c * kChunk);
    k(a + lo, b + lo, y + lo, hi - lo);
  });
}

void add_cpu_kernel(KernelTable& t, const std::string& op, const std::string& family, const std::string& algo,
                    int priority, PrepareFn prepare, CallPredicate applies) {
  KernelDef k;
  k.op = op;
  k.backend = "cpu";
  k.family = family;
  k.algo = algo;
  k.priority = priority;
  k.prepare = std::move(prepare);
  k.applies = std::move(applies);
  t.add(std::move(k));
}

void add_cpu_kernels(KernelTable& t, const std::string& op, const std::string& family, PrepareFn vec, PrepareFn ref) {
  add_cpu_kernel(t, op, family, "vec", 10, std::move(vec));
  add_cpu_kernel(t, op, family, "ref", 0, std::move(ref));
}

}  // namespace fastconv
