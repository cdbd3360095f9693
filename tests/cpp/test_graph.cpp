#include <gtest/gtest.h>

#include <cmath>

#include "fastconv/graph.h"
#include "graph/plan.h"
#include "ops/op.h"

using namespace fastconv;

TEST(Graph, ShapeErrorsNameTheLayerAndBothShapes) {
  Graph g;
  ValueId a = g.input("a", {{2, 3}});
  ValueId b = g.input("b", {{4, 3}});
  try {
    g.add("add", {a, b}, {}, "block1.add");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("block1.add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  }
}

TEST(Graph, BackwardOfBroadcastMulMatchesHandDerivative) {
  // loss = sum(relu(x * w)), w broadcast over rows: dloss/dw[j] = sum_i x[i,j] * [x[i,j]*w[j] > 0].
  auto g = std::make_shared<Graph>();
  Tensor w = Tensor::empty({3});
  const float wv[3] = {1.f, -2.f, 0.5f};
  for (int j = 0; j < 3; ++j) w.data<float>()[j] = wv[j];
  ValueId x = g->input("x", {{2, 3}});
  ValueId pw = g->param("w", w);
  ValueId loss = g->add1("sum", {g->add1("relu", {g->add1("mul", {x, pw})})});
  auto grads = append_backward(*g, loss, {x, pw});
  Executable exe(g, {loss, grads[0], grads[1]});
  Tensor xt = Tensor::empty({2, 3});
  const float xv[6] = {1, 2, -3, -1, -2, 4};
  for (int i = 0; i < 6; ++i) xt.data<float>()[i] = xv[i];
  exe.set_input(x, xt);
  exe.run();
  double loss_ref = 0, gw_ref[3] = {0, 0, 0};
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      double p = double(xv[i * 3 + j]) * wv[j];
      if (p > 0) {
        loss_ref += p;
        gw_ref[j] += xv[i * 3 + j];
      }
    }
  EXPECT_NEAR(exe.output(loss).data<float>()[0], loss_ref, 1e-5);
  Tensor gw = exe.output(grads[1]);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(gw.data<float>()[j], gw_ref[j], 1e-5);
}

TEST(Plan, NoTwoLiveBuffersOverlapAndPeakIsTight) {
  std::vector<Interval> iv = {{100, 0, 2}, {200, 1, 3}, {50, 3, 4}, {300, 4, 5}, {64, 0, 5}};
  size_t peak = 0;
  auto off = plan_offsets(iv, &peak);
  for (size_t i = 0; i < iv.size(); ++i) {
    EXPECT_EQ(off[i] % 64, 0u);
    EXPECT_LE(off[i] + iv[i].size, peak);
    for (size_t j = i + 1; j < iv.size(); ++j) {
      bool live_together = iv[i].first <= iv[j].last && iv[j].first <= iv[i].last;
      bool disjoint = off[i] + iv[i].size <= off[j] || off[j] + iv[j].size <= off[i];
      if (live_together) EXPECT_TRUE(disjoint) << i << " vs " << j;
    }
  }
  // Largest simultaneous demand (positions 4-5: 300 + 64 padded, plus the 50 at 4) bounds peak from below.
  EXPECT_GE(peak, 320u + 64u + 64u);
  EXPECT_LE(peak, 100u + 256u + 64u + 320u);
}

TEST(Executor, DeadCodeIsRemovedAndPlannedArenaMatchesPeak) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{1024}});
  ValueId y = g->add1("relu", {x});
  g->add1("scale", {x}, {{"alpha", 2.0}});  // unused: must not be scheduled
  Executable exe(g, {y});
  EXPECT_EQ(exe.plan().size(), 1u);
  EXPECT_EQ(exe.peak_bytes(), 4096u);
  EXPECT_EQ(exe.schedule_str().find("scale"), std::string::npos);
}

TEST(Executor, RunWithoutInputIsAClearError) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("images", {{2}});
  ValueId y = g->add1("relu", {x});
  Executable exe(g, {y});
  try {
    exe.run();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("images"), std::string::npos) << e.what();
  }
}
