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
  ValueId h = g->add1("scale", {x}, {{"alpha", 3.0}});
  ValueId y = g->add1("relu", {h});
  g->add1("scale", {x}, {{"alpha", 2.0}});  // unused: must not be scheduled
  Executable exe(g, {y});
  // h is the one arena buffer; the output y lives in a buffer of its own.
  ASSERT_EQ(exe.plan().size(), 1u);
  EXPECT_EQ(exe.plan()[0].value, h);
  EXPECT_EQ(exe.peak_bytes(), 4096u);
  EXPECT_EQ(exe.inplace_count(), 0);  // relu must not write y over h: y is handed to the caller
  EXPECT_NE(exe.schedule_str().find("2 steps"), std::string::npos) << exe.schedule_str();
}

// Outputs are written straight into buffers the caller then owns: each run writes a new one, a second output()
// of the same run is an independent copy, and values are right either way.
TEST(Executor, OutputsAreHandedOverWithoutSharing) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{4}});
  ValueId h = g->add1("scale", {x}, {{"alpha", 2.0}});
  ValueId y = g->add1("relu", {h});
  ValueId f = g->add1("flatten", {h});  // an output too, so not a view of h: both get buffers of their own
  Executable exe(g, {y, f, h});
  Tensor in = Tensor::empty({4});
  float* p = in.data<float>();
  p[0] = -1, p[1] = 2, p[2] = -3, p[3] = 4;
  exe.set_input(x, in);
  exe.run();
  Tensor y1 = exe.output(y), y1b = exe.output(y), f1 = exe.output(f);
  EXPECT_NE(y1.data_ptr(), y1b.data_ptr());
  p[1] = 5;
  exe.set_input(x, in);
  exe.run();
  Tensor y2 = exe.output(y), f2 = exe.output(f);
  EXPECT_NE(y1.data_ptr(), y2.data_ptr());
  Tensor h2 = exe.output(h);
  const float y_want1[4] = {0, 4, 0, 8}, y_want2[4] = {0, 10, 0, 8};
  const float h_want1[4] = {-2, 4, -6, 8}, h_want2[4] = {-2, 10, -6, 8};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(y1.data<float>()[i], y_want1[i]);
    EXPECT_EQ(y1b.data<float>()[i], y_want1[i]);
    EXPECT_EQ(f1.data<float>()[i], h_want1[i]);
    EXPECT_EQ(y2.data<float>()[i], y_want2[i]);
    EXPECT_EQ(f2.data<float>()[i], h_want2[i]);
    EXPECT_EQ(h2.data<float>()[i], h_want2[i]);
  }
  EXPECT_EQ(exe.peak_bytes(), 0u);  // every value is an output
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
