// permute(input, dims): torch.permute / ONNX Transpose. Output axis i is input axis dims[i]. A byte mover, so it
// works for every dtype; its gradient is the inverse permutation.
#include <algorithm>
#include <cstring>
#include <sstream>

#include "fastconv/parallel.h"
#include "ops/common.h"

namespace fastconv {
namespace {

constexpr int kMaxRank = 8;

std::vector<int64_t> permute_dims(const OpCall& c) {
  const int64_t rank = int64_t(c.in[0].shape.size());
  std::vector<int64_t> d = c.attr().get_int_list("dims");
  std::ostringstream given;
  for (size_t i = 0; i < d.size(); ++i) given << (i ? ", " : "") << d[i];
  FC_CHECK(int64_t(d.size()) == rank, Value, c.op, ": argument 'dims' (", given.str(), ") must name every one of the ",
           rank, " dimensions of the input of shape ", shape_str(c.in[0].shape));
  FC_CHECK(rank <= kMaxRank, Value, c.op, ": inputs of rank up to ", kMaxRank, " are supported, got ", rank);
  std::vector<bool> seen(size_t(rank), false);
  for (int64_t& a : d) {
    FC_CHECK(a >= -rank && a < rank, Index, c.op, ": dimension ", a, " in 'dims' (", given.str(),
             ") is out of range for a ", rank, "-D input");
    if (a < 0) a += rank;
    FC_CHECK(!seen[size_t(a)], Value, c.op, ": argument 'dims' (", given.str(), ") repeats dimension ", a);
    seen[size_t(a)] = true;
  }
  return d;
}

std::vector<TensorDesc> infer_permute(const OpCall& c) {
  expect_inputs(c, 1);
  const std::vector<int64_t> d = permute_dims(c);
  Shape out;
  for (int64_t a : d) out.push_back(c.in[0].shape[size_t(a)]);
  return {{out, c.in[0].dtype}};
}

// The copy as nested loops over output axes, with the input stride each output axis walks. Adjacent axes that
// stay adjacent are merged first, and the innermost run is copied with memcpy when it is contiguous in both.
struct PermutePlan {
  int rank = 0;
  int64_t size[kMaxRank] = {}, in_stride[kMaxRank] = {};  // in elements
  int64_t esize = 1;
};

PermutePlan plan_permute(const Shape& in, const std::vector<int64_t>& d, size_t esize) {
  const int r = int(in.size());
  int64_t stride[kMaxRank];
  for (int i = r - 1, s = 1; i >= 0; --i) stride[i] = s, s *= int(in[size_t(i)]);
  PermutePlan p;
  p.esize = int64_t(esize);
  for (int i = 0; i < r; ++i) {
    const int64_t n = in[size_t(d[size_t(i)])], st = stride[d[size_t(i)]];
    if (n == 1) continue;
    if (p.rank > 0 && p.in_stride[p.rank - 1] == st * n) {  // this axis continues the previous one
      p.size[p.rank - 1] *= n;
      p.in_stride[p.rank - 1] = st;
      continue;
    }
    p.size[p.rank] = n, p.in_stride[p.rank] = st, ++p.rank;
  }
  if (p.rank == 0) p.size[0] = 1, p.in_stride[0] = 1, p.rank = 1;
  return p;
}

void run_permute(const PermutePlan& p, const char* x, char* y) {
  const int last = p.rank - 1;
  const int64_t inner = p.size[last], es = p.esize;
  int64_t outer = 1;
  for (int i = 0; i < last; ++i) outer *= p.size[i];
  const bool contiguous = p.in_stride[last] == 1;
  parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t rem = o, off = 0;
      for (int i = last - 1; i >= 0; --i) off += (rem % p.size[i]) * p.in_stride[i], rem /= p.size[i];
      char* dst = y + o * inner * es;
      const char* src = x + off * es;
      if (contiguous) {
        std::memcpy(dst, src, size_t(inner * es));
      } else {
        const int64_t st = p.in_stride[last] * es;
        for (int64_t j = 0; j < inner; ++j) std::memcpy(dst + j * es, src + j * st, size_t(es));
      }
    }
  });
}

Prepared prepare_permute(const KernelCall& c) {
  const PermutePlan p = plan_permute(c.in[0].shape, permute_dims(c), dtype_size(c.in[0].dtype));
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            if (out[0].numel() == 0) return;
            run_permute(p, static_cast<const char*>(in[0].data_ptr()), static_cast<char*>(out[0].data_ptr()));
          },
          0, "copy"};
}

std::vector<ValueId> backward_permute(BackwardCall& b) {
  if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
  std::vector<TensorDesc> in{b.desc(b.in(0))};
  const std::vector<int64_t> d = permute_dims(OpCall{b.node.op, b.node.attrs, in});
  std::vector<int64_t> inv(d.size());
  for (size_t i = 0; i < d.size(); ++i) inv[size_t(d[i])] = int64_t(i);
  return {b.g.add1("permute", {b.grad_out[0]}, {{"dims", inv}})};
}

}  // namespace

void register_permute_ops(Registry& r, KernelTable& k) {
  r.add({"permute", 1, 1, infer_permute, backward_permute, false, -1}, {"dims"});
  add_cpu_kernel(k, "permute", "shape", "copy", 0, prepare_permute);
}

}  // namespace fastconv
