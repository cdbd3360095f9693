// The memory planner on traced training graphs: no two buffers that are live at the same time overlap, in-place
// reuse and reshape views actually happen, and planned execution gives bit-identical results to unplanned.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "fastconv/graph.h"
#include "fastconv/train.h"
#include "ops/op.h"

using namespace fastconv;

namespace {

Tensor random_tensor(const Shape& s, uint32_t seed) {
  Tensor t = Tensor::empty(s);
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(gen);
  return t;
}

struct Net {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  ValueId x, y, loss;
  std::vector<Tensor> params;
  std::shared_ptr<OptimizerState> state = std::make_shared<OptimizerState>();
};

// A 3-block MLP-like network with element-wise "layers", flattening reshapes, a residual add and an mse loss,
// followed by its backward pass and SGD-with-momentum updates: the shape of a real training step. Uses conv2d too
// when that family is registered.
Net build(int64_t batch) {
  Net n;
  Graph& g = *n.g;
  const int64_t d = 64;
  n.x = g.input("x", {{batch, 4, 4, 4}});
  n.y = g.input("y", {{batch, d}});
  ValueId h = g.add1("reshape", {n.x}, {{"shape", std::vector<int64_t>{batch, d}}}, "flatten");
  std::vector<ValueId> ps;
  for (int b = 0; b < 3; ++b) {
    n.params.push_back(random_tensor({1, d}, 10 + b));
    n.params.push_back(random_tensor({d}, 20 + b));
    ValueId w = g.param("block" + std::to_string(b) + ".w", n.params[n.params.size() - 2]);
    ValueId bias = g.param("block" + std::to_string(b) + ".b", n.params.back());
    ps.push_back(w);
    ps.push_back(bias);
    std::string scope = "block" + std::to_string(b);
    ValueId t = g.add1("relu", {g.add1("add", {g.add1("mul", {h, w}, {}, scope), bias}, {}, scope)}, {}, scope);
    ValueId r = g.add1("reshape", {t}, {{"shape", std::vector<int64_t>{batch, 8, 8}}}, scope);
    r = g.add1("reshape", {g.add1("scale", {r}, {{"alpha", 0.5}}, scope)}, {{"shape", std::vector<int64_t>{batch, d}}},
               scope);
    h = b == 1 ? g.add1("add", {r, h}, {}, scope) : r;  // residual
  }
  ValueId diff = g.add1("sub", {h, n.y}, {}, "loss");
  n.loss = g.add1("mean", {g.add1("mul", {diff, diff}, {}, "loss")}, {}, "loss");
  TrainSpec spec;
  spec.loss = n.loss;
  spec.optimizer = "sgd";
  ParamGroupSpec grp;
  for (ValueId p : ps) grp.params.push_back({p, g.value(p).name});
  grp.hyper = Attrs{{"momentum", 0.9}};
  spec.groups = {grp};
  n.state->set_lr(0, 0.05);
  build_training(g, spec, n.state.get());
  return n;
}

void expect_no_overlap(const Executable& exe) {
  const auto& plan = exe.plan();
  ASSERT_FALSE(plan.empty());
  size_t end = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedBuffer& a = plan[i];
    EXPECT_EQ(a.offset % 64, 0u);
    end = std::max(end, a.offset + a.size);
    for (size_t j = i + 1; j < plan.size(); ++j) {
      const PlannedBuffer& b = plan[j];
      bool live_together = a.first <= b.last && b.first <= a.last;
      bool disjoint = a.offset + a.size <= b.offset || b.offset + b.size <= a.offset;
      EXPECT_TRUE(!live_together || disjoint)
          << "buffers of %" << a.value << " [" << a.first << "," << a.last << "] @" << a.offset << "+" << a.size
          << " and %" << b.value << " [" << b.first << "," << b.last << "] @" << b.offset << "+" << b.size;
    }
  }
  EXPECT_LE(end, exe.peak_bytes());
}

std::vector<float> train(bool plan, int steps, size_t* peak, Executable** keep = nullptr) {
  Net n = build(5);
  CompileOptions o;
  o.plan_memory = plan;
  auto* exe = new Executable(n.g, {n.loss}, o);
  Tensor x = random_tensor({5, 4, 4, 4}, 1), y = random_tensor({5, 64}, 2);
  std::vector<float> out;
  for (int s = 0; s < steps; ++s) {
    exe->set_input(n.x, x);
    exe->set_input(n.y, y);
    exe->run();
    out.push_back(exe->output(n.loss).data<float>()[0]);
  }
  for (const Tensor& p : n.params)
    for (int64_t i = 0; i < p.numel(); ++i) out.push_back(p.data<float>()[i]);
  for (const auto& [key, slots] : n.state->slots())
    for (const auto& [name, t] : slots)
      for (int64_t i = 0; i < t.numel(); ++i) out.push_back(t.data<float>()[i]);
  *peak = exe->peak_bytes();
  if (keep)
    *keep = exe;
  else
    delete exe;
  return out;
}

}  // namespace

TEST(Planner, NoTwoLiveBuffersOverlapOnATrainingGraph) {
  Net n = build(7);
  Executable exe(n.g, {n.loss});
  expect_no_overlap(exe);
  EXPECT_GT(exe.inplace_count(), 3);
  EXPECT_GE(exe.alias_count(), 3);  // flatten and the block reshapes are views
  EXPECT_LT(exe.peak_bytes(), exe.naive_bytes());
  EXPECT_NE(exe.schedule_str().find("[in-place on %"), std::string::npos);
  EXPECT_NE(exe.schedule_str().find("[view of %"), std::string::npos);
}

TEST(Planner, PlannedRunIsBitIdenticalToUnplanned) {
  size_t peak_planned = 0, peak_naive = 0;
  std::vector<float> a = train(true, 4, &peak_planned), b = train(false, 4, &peak_naive);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_LT(peak_planned, peak_naive);
  EXPECT_LT(a[3], a[0]);  // the optimizer steps reduce the loss
}

TEST(Planner, ConvNetPlanHasNoOverlaps) {
  if (!Registry::global().has("conv2d") || !Registry::global().has("max_pool2d"))
    GTEST_SKIP() << "conv2d/max_pool2d not merged yet";
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{2, 3, 16, 16}});
  ValueId h = x;
  std::vector<ValueId> ps;
  int64_t cin = 3;
  for (int b = 0; b < 3; ++b) {
    ValueId w = g->param("conv" + std::to_string(b) + ".weight", random_tensor({8, cin, 3, 3}, 30 + b));
    ps.push_back(w);
    h = g->add1("relu", {g->add1("conv2d", {h, w}, {{"padding", int64_t(1)}})});
    if (b < 2) h = g->add("max_pool2d", {h}, {{"kernel_size", int64_t(2)}})[0];
    cin = 8;
  }
  ValueId loss = g->add1("sum", {g->add1("reshape", {h}, {{"shape", std::vector<int64_t>{2, -1}}})});
  auto grads = append_backward(*g, loss, ps);
  std::vector<ValueId> outs{loss};
  outs.insert(outs.end(), grads.begin(), grads.end());
  Executable exe(g, outs);
  expect_no_overlap(exe);
  EXPECT_LT(exe.peak_bytes(), exe.naive_bytes());
}
