// Data-parallel gradient averaging as graph nodes (fastconv.distributed). The training-program builder
// (graph/train.cpp) puts a bucket of gradients through
//   allreduce_start(g1, ..., gk) -> packed [sum of sizes]   copies them into one buffer, starts its in-place sum
//   allreduce_wait(packed; dims, ranks) -> g1', ..., gk'    waits for the sum, hands back the averages (sum / ranks)
// and the fusion pass's scheduling (graph/fuse.cpp) moves each start right after its last gradient and each wait
// after the next bucket's start, so the sum travels while the backward pass goes on. The packed buffer lives in
// the arena from start to wait: the planner keeps it, and the communicator writes it meanwhile.
#include <cstring>

#include "dist/comm.h"
#include "ops/common.h"
#include "ops/op.h"

namespace fastconv {
namespace {

std::vector<TensorDesc> infer_start(const OpCall& c) {
  FC_CHECK(!c.in.empty(), Value, c.op, ": expected at least one gradient");
  int64_t n = 0;
  for (size_t i = 0; i < c.in.size(); ++i) {
    expect_dtype(c, i, DType::f32, "grad");
    n += shape_numel(c.in[i].shape);
  }
  return {{{n}, DType::f32}};
}

// dims: every output's dims one after another; ranks: how many dims each output has.
std::vector<Shape> wait_shapes(const OpCall& c) {
  const std::vector<int64_t> dims = c.attr().get_int_list("dims"), ranks = c.attr().get_int_list("ranks");
  std::vector<Shape> out;
  size_t at = 0;
  for (int64_t r : ranks) {
    FC_CHECK(r >= 0 && at + size_t(r) <= dims.size(), Value, c.op, ": attributes 'dims' and 'ranks' disagree");
    out.emplace_back(dims.begin() + int64_t(at), dims.begin() + int64_t(at) + r);
    at += size_t(r);
  }
  FC_CHECK(at == dims.size(), Value, c.op, ": attributes 'dims' and 'ranks' disagree");
  return out;
}

std::vector<TensorDesc> infer_wait(const OpCall& c) {
  expect_inputs(c, 1);
  expect_dtype(c, 0, DType::f32, "packed");
  std::vector<TensorDesc> out;
  int64_t n = 0;
  for (Shape& s : wait_shapes(c)) {
    n += shape_numel(s);
    out.push_back({std::move(s), DType::f32});
  }
  FC_CHECK(n == shape_numel(c.in[0].shape), Value, c.op, ": the outputs hold ", n, " floats but the packed input ",
           shape_str(c.in[0].shape));
  return out;
}

Prepared prepare_start(const KernelCall&) {
  return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            float* p = fptr_mut(out[0]);
            for (const Tensor& g : in) {
              std::memcpy(p, fptr(g), size_t(g.numel()) * sizeof(float));
              p += g.numel();
            }
            dist::allreduce_sum_start_at(fptr_mut(out[0]), out[0].numel());
          },
          0, ""};
}

Prepared prepare_wait(const KernelCall&) {
  return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            dist::wait_for(fptr(in[0]));
            const float scale = 1.f / float(dist::world_size());
            const float* p = fptr(in[0]);
            for (const Tensor& g : out) {
              float* d = fptr_mut(g);
              for (int64_t i = 0, n = g.numel(); i < n; ++i) d[i] = p[i] * scale;
              p += g.numel();
            }
          },
          0, ""};
}

}  // namespace

void register_dist_ops(Registry& r, KernelTable& k) {
  r.add({"allreduce_start", 1, -1, infer_start, nullptr, true, -1}, {});
  r.add({"allreduce_wait", 1, 1, infer_wait, nullptr, true, -1}, {"dims", "ranks"});
  add_cpu_kernel(k, "allreduce_start", "dist", "ref", 0, prepare_start);
  add_cpu_kernel(k, "allreduce_wait", "dist", "ref", 0, prepare_wait);
  r.set_role(Role::allreduce_start, "allreduce_start");
  r.set_role(Role::allreduce_wait, "allreduce_wait");
}

}  // namespace fastconv
