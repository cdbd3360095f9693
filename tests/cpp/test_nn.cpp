// fastconv/nn.h on its own: initialisation (torch's bounds, seeded), state_dict names, argument errors, and a
// compiled Model that predicts what a float64 reference computes and trains (the graphs themselves are compared
// with Python's tracer in tests/test_cpp_nn.py).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "fastconv/error.h"
#include "fastconv/nn.h"

using namespace fastconv;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Nn, KaimingUniformBoundsAndSpreadAsTorch) {
  nn::manual_seed(1);
  nn::Conv2d conv(8, 16, 3);  // fan_in 72: U(-1/sqrt(72), 1/sqrt(72)) for weight and bias
  const double bound = 1 / std::sqrt(72.0);
  double sum = 0, sq = 0, mx = 0;
  const float* w = conv.weight.data<float>();
  const int64_t n = conv.weight.numel();
  for (int64_t i = 0; i < n; ++i) {
    sum += w[i];
    sq += double(w[i]) * w[i];
    mx = std::max(mx, std::fabs(double(w[i])));
  }
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.95 * bound);
  EXPECT_NEAR(sum / n, 0.0, 0.1 * bound);
  EXPECT_NEAR(sq / n, bound * bound / 3, 0.15 * bound * bound / 3);  // variance of U(-b, b)
  for (int64_t i = 0; i < 16; ++i) EXPECT_LE(std::fabs(conv.bias.data<float>()[i]), bound);
  nn::Linear fc(10, 4);
  for (int64_t i = 0; i < 40; ++i) EXPECT_LE(std::fabs(fc.weight.data<float>()[i]), 1 / std::sqrt(10.0));
}

TEST(Nn, ManualSeedReproducesAModel) {
  nn::manual_seed(7);
  nn::Linear a(5, 3);
  nn::Dropout da;
  nn::manual_seed(7);
  nn::Linear b(5, 3);
  nn::Dropout db;
  nn::Linear c(5, 3);
  for (int64_t i = 0; i < 15; ++i) EXPECT_EQ(a.weight.data<float>()[i], b.weight.data<float>()[i]);
  EXPECT_EQ(da.seed, db.seed);
  EXPECT_NE(a.weight.data<float>()[0], c.weight.data<float>()[0]);
}

TEST(Nn, StateDictNamesAsPython) {
  nn::Sequential net{nn::Sequential{nn::Conv2d(1, 2, 3, 1, 0, 1, 1, false), nn::BatchNorm2d(2)}, nn::ReLU(),
                     nn::Flatten(), nn::Linear(2, 2)};
  std::vector<std::string> names;
  for (const auto& [n, t] : net.state_dict()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0.0.weight", "0.1.weight", "0.1.bias", "0.1.running_mean",
                                             "0.1.running_var", "0.1.num_batches_tracked", "3.weight", "3.bias"}));
  EXPECT_EQ(net.named_parameters().size(), 5u);
  EXPECT_EQ(net.state_dict()[5].second.dtype(), DType::i64);
}

TEST(Nn, BadArgumentsNameTheLayerAndArgument) {
  EXPECT_NE(error_of([] { nn::Conv2d(3, 4, 3, 1, 0, 1, 2); }).find("in_channels (3) must be divisible by groups (2)"),
            std::string::npos);
  EXPECT_NE(error_of([] { nn::Conv2d(3, 4, 0); }).find("Conv2d: argument 'kernel_size'"), std::string::npos);
  EXPECT_NE(error_of([] { nn::MaxPool2d(2, std::nullopt, 2); }).find("padding"), std::string::npos);
  EXPECT_NE(error_of([] { nn::Dropout(1.5); }).find("between 0 and 1, but got 1.5"), std::string::npos);
  EXPECT_NE(error_of([] { nn::SGD(-1); }).find("Invalid learning rate"), std::string::npos);
  nn::Sequential net{nn::Flatten(), nn::Linear(5, 2)};
  EXPECT_NE(error_of([&] { nn::compile(net, {2, 4}); }).find("in_features=5"), std::string::npos);
  EXPECT_NE(error_of([&] { nn::compile(net, {2, 5}, "hinge", nn::SGD(0.1)); }).find("unknown loss 'hinge'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { nn::compile(net, {2, 5}, "mse"); }).find("a loss needs an optimizer"), std::string::npos);
}

TEST(Nn, AdadeltaAndAdagradTakeTorchsArguments) {
  EXPECT_NE(error_of([] { nn::Adadelta(1.0, 1.5); }).find("Adadelta: Invalid rho value: 1.5"), std::string::npos);
  EXPECT_NE(error_of([] { nn::Adadelta(-1); }).find("Invalid learning rate"), std::string::npos);
  EXPECT_NE(error_of([] { nn::Adagrad(0.1, -0.5); }).find("Adagrad: Invalid lr_decay value: -0.5"),
            std::string::npos);
  EXPECT_NE(error_of([] { nn::Adagrad(0.1, 0, 0, -1); }).find("Invalid initial_accumulator_value value: -1"),
            std::string::npos);
  const nn::Optimizer d = nn::Adadelta();
  EXPECT_EQ(d.kind, "adadelta");
  EXPECT_EQ(d.lr, 1.0);
  EXPECT_EQ(AttrReader("t", d.hyper).get_float("rho"), 0.9);
  EXPECT_EQ(AttrReader("t", d.hyper).get_float("eps"), 1e-6);
  // Adagrad's first step from a zero sum moves every weight by lr * g / (|g| + eps): lr against the gradient's sign
  // (maximize: along it), whatever the gradient's size.
  for (bool maximize : {false, true}) {
    nn::manual_seed(5);
    nn::Linear lin(3, 2);
    nn::Sequential net{lin};
    Model m = nn::compile(net, {4, 3}, "mse", nn::Adagrad(0.05, 0, 0, 0, 1e-10, maximize));
    Tensor x = Tensor::empty({4, 3});
    for (int i = 0; i < 12; ++i) x.data<float>()[i] = float(i % 5) - 2.2f;
    std::vector<float> w0(lin.weight.data<float>(), lin.weight.data<float>() + 6);
    const float loss0 = m.train_step(x, Tensor::full({4, 2}, 3.f));
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(std::fabs(lin.weight.data<float>()[i] - w0[i]), 0.05, 1e-6) << i;
    const float loss1 = m.train_step(x, Tensor::full({4, 2}, 3.f));
    EXPECT_EQ(loss1 < loss0, !maximize);
  }
}

TEST(Nn, CompiledModelPredictsTheReferenceAndTrains) {
  nn::manual_seed(3);
  nn::Linear lin(3, 2);
  nn::Sequential net{lin, nn::ReLU()};
  Model m = nn::compile(net, {4, 3}, "mse", nn::SGD(0.1));
  Tensor x = Tensor::empty({5, 3});  // another batch size than traced
  for (int i = 0; i < 15; ++i) x.data<float>()[i] = float(i % 4) - 1.5f + 0.1f * float(i);
  Tensor y = m.predict(x);
  ASSERT_EQ(y.shape(), (Shape{5, 2}));
  for (int i = 0; i < 5; ++i)
    for (int o = 0; o < 2; ++o) {
      double s = lin.bias.data<float>()[o];
      for (int k = 0; k < 3; ++k) s += double(x.data<float>()[i * 3 + k]) * lin.weight.data<float>()[o * 3 + k];
      EXPECT_NEAR(y.data<float>()[i * 2 + o], std::max(s, 0.0), 1e-5);
    }
  // One SGD step on mse without the ReLU, against the float64 gradient: w -= lr * 2 (y - t) x / (N * 2).
  nn::Sequential plain{lin};
  Model mt = nn::compile(plain, {4, 3}, "mse", nn::SGD(0.1));
  Tensor t = Tensor::full({5, 2}, 1.f);
  double w0[6], b0[2], gw[6] = {0}, gb[2] = {0}, loss = 0;
  for (int i = 0; i < 6; ++i) w0[i] = lin.weight.data<float>()[i];
  for (int i = 0; i < 2; ++i) b0[i] = lin.bias.data<float>()[i];
  for (int i = 0; i < 5; ++i)
    for (int o = 0; o < 2; ++o) {
      double s = b0[o];
      for (int k = 0; k < 3; ++k) s += double(x.data<float>()[i * 3 + k]) * w0[o * 3 + k];
      const double d = s - 1.0;
      loss += d * d / 10;
      gb[o] += 2 * d / 10;
      for (int k = 0; k < 3; ++k) gw[o * 3 + k] += 2 * d / 10 * x.data<float>()[i * 3 + k];
    }
  const float first = mt.train_step(x, t);
  EXPECT_NEAR(first, loss, 1e-5 * loss);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(lin.weight.data<float>()[i], w0[i] - 0.1 * gw[i], 1e-6);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(lin.bias.data<float>()[i], b0[i] - 0.1 * gb[i], 1e-6);
  float last = first;
  for (int i = 0; i < 30; ++i) last = mt.train_step(x, t);
  EXPECT_LT(last, 0.5f * first);
  EXPECT_EQ(mt.steps(), 31);
  EXPECT_EQ(mt.parameter("0.weight").data_ptr(), lin.weight.data_ptr());  // the module's own tensors trained
}

// Folded batch norm (docs/inference.md): a raw write into a state_dict tensor is seen after weights_changed(), and
// the prediction then equals a float64 reference of the new weights (conv 1x1 -> batch norm with running stats).
TEST(Nn, ModelWeightsChangedRecomputesFoldedBatchNorm) {
  nn::manual_seed(5);
  nn::Conv2d conv(2, 2, 1);
  nn::BatchNorm2d bn(2);
  nn::Sequential net{conv, bn};
  Model m = nn::compile(net, {1, 2, 1, 1});
  Tensor x = Tensor::empty({1, 2, 1, 1});
  x.data<float>()[0] = 0.5f, x.data<float>()[1] = -1.25f;
  auto reference = [&](int k) {
    double z = conv.bias.data<float>()[k];
    for (int c = 0; c < 2; ++c) z += double(conv.weight.data<float>()[k * 2 + c]) * x.data<float>()[c];
    const double mean = bn.running_mean.data<float>()[k], var = bn.running_var.data<float>()[k];
    return (z - mean) / std::sqrt(var + 1e-5) * bn.weight.data<float>()[k] + bn.bias.data<float>()[k];
  };
  Tensor y = m.predict(x);
  for (int k = 0; k < 2; ++k) EXPECT_NEAR(y.data<float>()[k], reference(k), 1e-5);
  const float before = y.data<float>()[0];
  bn.running_var.data<float>()[0] = 4.f;  // raw writes
  conv.weight.data<float>()[1] = 2.f;
  m.weights_changed();
  y = m.predict(x);
  for (int k = 0; k < 2; ++k) EXPECT_NEAR(y.data<float>()[k], reference(k), 1e-5);
  EXPECT_GT(std::abs(reference(0) - before), 1e-3);  // the weights moved: a stale fold would fail the check above
}
