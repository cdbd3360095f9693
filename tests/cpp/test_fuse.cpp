// fuse_graph on graphs built in C++: each pattern fires (and keeps value ids), results equal the unfused graph,
// an intermediate that is an output blocks fusion, and the fused plan keeps live buffers apart.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fastconv/graph.h"
#include "ops/op.h"

using namespace fastconv;

namespace {

Tensor random(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  Tensor t = Tensor::empty(s);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(gen);
  return t;
}

double rel(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double d = double(a.data<float>()[i]) - b.data<float>()[i];
    num += d * d;
    den += double(b.data<float>()[i]) * b.data<float>()[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

bool has_op(const Graph& g, const std::string& op) {
  for (int i = 0; i < g.num_nodes(); ++i)
    if (g.node(i).op == op) return true;
  return false;
}

// x -> conv(w, b) -> batch_norm(mode) -> relu -> conv(w2) + x -> relu; outputs: y (and `extra` if given).
struct Net {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  ValueId x, w, w2, z, h, y, loss = kNoValue;
  std::vector<ValueId> grads;
  explicit Net(bool training, bool backward) {
    x = g->input("x", {{2, 4, 6, 6}});
    w = g->param("w", random({4, 4, 3, 3}, 1));
    ValueId b = g->param("b", random({4}, 2));
    ValueId rm = g->param("rm", random({4}, 3), false), rv = g->param("rv", random({4}, 4, 0.5f, 2.f), false);
    ValueId gamma = g->param("gamma", random({4}, 5)), beta = g->param("beta", random({4}, 6));
    w2 = g->param("w2", random({4, 4, 3, 3}, 7));
    z = g->add1("conv2d", {x, w, b}, {{"padding", int64_t(1)}});
    Attrs bn{{"has_running", true}, {"has_weight", true}, {"has_bias", true}, {"training", training}};
    h = g->add1("relu", {g->add("batch_norm", {z, rm, rv, gamma, beta}, bn)[0]});
    ValueId c2 = g->add1("conv2d", {h, w2}, {{"padding", int64_t(1)}});
    y = g->add1("relu", {g->add1("add", {c2, x})});
    if (backward) {
      loss = g->add1("sum", {y});
      grads = append_backward(*g, loss, {w, w2, gamma});
    }
  }
};

std::vector<Tensor> run(const Net& n, const std::vector<ValueId>& outs, bool fuse, FuseStats* st = nullptr,
                        Executable** keep = nullptr) {
  CompileOptions o;
  o.fuse = fuse;
  auto* e = new Executable(n.g, outs, o);
  e->set_input(n.x, random({2, 4, 6, 6}, 9));
  e->run();
  std::vector<Tensor> r;
  for (ValueId v : outs) r.push_back(e->output(v));
  if (st) *st = e->fuse_stats();
  if (keep)
    *keep = e;
  else
    delete e;
  return r;
}

}  // namespace

TEST(Fuse, InferenceFoldsBnAndFusesEpiloguesWithSameResults) {
  Net n(false, false);
  FuseStats st;
  auto plain = run(n, {n.y}, false), fused = run(n, {n.y}, true, &st);
  EXPECT_EQ(st.get("bn_fold"), 1);
  EXPECT_EQ(st.get("conv_epilogue"), 2);  // conv(folded)+relu, conv+add+relu
  EXPECT_EQ(st.get("conv_residual"), 1);
  EXPECT_LE(rel(fused[0], plain[0]), 1e-5);
  auto g = fuse_graph(*n.g, {n.y});
  EXPECT_TRUE(has_op(*g, "conv_bn_fold"));
  EXPECT_FALSE(has_op(*g, "batch_norm"));
  EXPECT_FALSE(has_op(*n.g, "conv2d_fused"));  // the source graph is untouched
}

TEST(Fuse, TrainingFusesBnReluForwardAndBackwardWithSameGradients) {
  Net n(true, true);
  std::vector<ValueId> outs{n.loss, n.grads[0], n.grads[1], n.grads[2]};
  FuseStats st;
  auto plain = run(n, outs, false), fused = run(n, outs, true, &st);
  EXPECT_EQ(st.get("bn_fold"), 0);
  EXPECT_EQ(st.get("bn_relu"), 1);
  EXPECT_EQ(st.get("bn_relu_backward"), 1);
  EXPECT_EQ(st.get("conv_residual"), 1);
  for (size_t i = 0; i < outs.size(); ++i) EXPECT_LE(rel(fused[i], plain[i]), 1e-5) << i;
}

TEST(Fuse, IntermediateThatIsAnOutputBlocksFusion) {
  Net n(false, false);
  FuseStats st;
  auto plain = run(n, {n.y, n.z}, false), fused = run(n, {n.y, n.z}, true, &st);
  EXPECT_EQ(st.get("bn_fold"), 0);        // z (the conv output) is an output
  EXPECT_EQ(st.get("conv_residual"), 1);  // the second conv's chain is still free
  EXPECT_LE(rel(fused[0], plain[0]), 1e-5);
  EXPECT_LE(rel(fused[1], plain[1]), 1e-5);
}

TEST(Fuse, FusedPlanKeepsLiveBuffersApart) {
  Net n(true, true);
  Executable* e = nullptr;
  run(n, {n.loss, n.grads[0]}, true, nullptr, &e);
  const auto& plan = e->plan();
  for (size_t i = 0; i < plan.size(); ++i)
    for (size_t j = i + 1; j < plan.size(); ++j) {
      const PlannedBuffer &a = plan[i], &b = plan[j];
      if (a.first <= b.last && b.first <= a.last)
        EXPECT_TRUE(a.offset + a.size <= b.offset || b.offset + b.size <= a.offset) << i << " " << j;
    }
  EXPECT_TRUE(has_op(e->graph(), "batch_norm_relu_backward"));
  delete e;
}

// Folded constants (docs/inference.md): conv_bn_fold runs once per weight version; a write through copy_from is
// seen, a raw write only after weights_changed(); results equal an unfolded executable run on the new weights.
TEST(Fuse, FoldedBnRunsOncePerWeightVersion) {
  Net n(false, false);
  CompileOptions o;
  o.fuse = true;
  Executable e(n.g, {n.y}, o);
  CompileOptions off = o;
  off.fold_constants = false;
  auto reference = [&] {  // inline folds: no cache to be stale
    Executable r(n.g, {n.y}, off);
    EXPECT_EQ(r.folded_steps(), 0);
    r.set_input(n.x, random({2, 4, 6, 6}, 9));
    r.run();
    return r.output(n.y);
  };
  auto ours = [&] {
    e.set_input(n.x, random({2, 4, 6, 6}, 9));
    e.run();
    return e.output(n.y);
  };
  ASSERT_EQ(e.folded_steps(), 1);
  EXPECT_LE(rel(ours(), reference()), 1e-5);
  ours();
  EXPECT_EQ(e.fold_runs(), 1u);
  Tensor w = n.g->value(n.w).data;
  w.copy_from(random({4, 4, 3, 3}, 11));  // bumps the version
  EXPECT_LE(rel(ours(), reference()), 1e-5);
  EXPECT_EQ(e.fold_runs(), 2u);
  w.data<float>()[0] += 5.f;  // raw write: not seen until told
  const Tensor stale = ours();
  EXPECT_EQ(e.fold_runs(), 2u);
  EXPECT_GT(rel(stale, reference()), 1e-4);
  e.weights_changed();
  EXPECT_LE(rel(ours(), reference()), 1e-5);
  EXPECT_EQ(e.fold_runs(), 3u);
}
