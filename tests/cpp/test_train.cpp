// Training driven from C++ alone: a forward graph with its loss, a TrainSpec, and steps that need nothing from the
// host but the batch (the learning rate and step counter are device tensors the program reads and updates).
#include <gtest/gtest.h>

#include <cmath>

#include "fastconv/graph.h"
#include "fastconv/error.h"
#include "fastconv/train.h"

using namespace fastconv;

namespace {

// loss = mean((x w^T - t)^2) for a 2x3 weight, its gradient by hand.
struct Problem {
  float x[4 * 3] = {1, 2, 0.5f, -1, 0, 1, 2, 1, -1, 0.5f, -0.5f, 1};
  float t[4 * 2] = {1, 0, 0, 1, 1, 1, -1, 0};
};

double loss_and_grad(const float* w, const Problem& pr, double* gw) {
  double loss = 0;
  for (int i = 0; i < 6; ++i) gw[i] = 0;
  for (int n = 0; n < 4; ++n)
    for (int o = 0; o < 2; ++o) {
      double y = 0;
      for (int k = 0; k < 3; ++k) y += double(pr.x[n * 3 + k]) * w[o * 3 + k];
      const double d = y - pr.t[n * 2 + o];
      loss += d * d / 8;
      for (int k = 0; k < 3; ++k) gw[o * 3 + k] += 2 * d * pr.x[n * 3 + k] / 8;
    }
  return loss;
}

}  // namespace

TEST(Train, SgdMomentumStepsMatchTheFormulaAndCountThemselves) {
  Problem pr;
  Tensor w = Tensor::zeros({2, 3});
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{4, 3}}), t = g->input("t", {{4, 2}});
  ValueId pw = g->param("w", w);
  ValueId d = g->add1("sub", {g->add1("linear", {x, pw}), t});
  ValueId loss = g->add1("mean", {g->add1("mul", {d, d})});
  TrainSpec spec;
  spec.loss = loss;
  spec.optimizer = "sgd";
  ParamGroupSpec grp;
  grp.params = {{pw, "w"}};
  grp.hyper = Attrs{{"momentum", 0.9}};
  spec.groups = {grp};
  OptimizerState state;
  state.set_lr(0, 0.1);
  build_training(*g, spec, &state);
  Executable exe(g, {loss});
  Tensor xt = Tensor::empty({4, 3}), tt = Tensor::empty({4, 2});
  std::copy(pr.x, pr.x + 12, xt.data<float>());
  std::copy(pr.t, pr.t + 8, tt.data<float>());
  exe.set_input(x, xt);
  exe.set_input(t, tt);
  double ref_w[6] = {0, 0, 0, 0, 0, 0}, buf[6] = {0, 0, 0, 0, 0, 0}, gw[6];
  float ref_wf[6];
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    for (int i = 0; i < 6; ++i) ref_wf[i] = float(ref_w[i]);
    const double ref_loss = loss_and_grad(ref_wf, pr, gw);
    exe.run();
    const double got = exe.output(loss).data<float>()[0];
    EXPECT_NEAR(got, ref_loss, 1e-5 * std::max(1.0, ref_loss)) << "step " << step;
    for (int i = 0; i < 6; ++i) {  // torch.optim.SGD: buf = g on the first step, then 0.9 buf + g
      buf[i] = step == 0 ? gw[i] : 0.9 * buf[i] + gw[i];
      ref_w[i] -= 0.1 * buf[i];
    }
    if (step == 0) first = got;
    last = got;
    EXPECT_EQ(state.steps(), step + 1);
  }
  EXPECT_LT(last, 0.5 * first);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(w.data<float>()[i], ref_w[i], 1e-4);
  // A schedule changes the rate between steps without recompiling: lr 0 freezes the weights.
  state.set_lr(0, 0.0);
  const float before = w.data<float>()[0];
  exe.run();
  EXPECT_EQ(w.data<float>()[0], before);
}

TEST(Train, StepCounterIsOnePerGraphAndNamesItsTensor) {
  Graph g;
  Tensor c = Tensor::zeros({1}, DType::i64);
  ValueId a = step_counter(g, c);
  EXPECT_EQ(step_counter(g, c), a);
  EXPECT_EQ(step_counter(g), a);
  EXPECT_THROW(step_counter(g, Tensor::zeros({1}, DType::i64)), Error);
}
