// The C++ Model alone: made from graphs (make_model), run at the traced and at other batch sizes (replay, with the
// reshape rule of docs/model_format.md), trained (build_training appended per shape), saved and loaded again.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "api/model_file.h"
#include "api/model_impl.h"
#include "io/safetensors.h"
#include "fastconv/error.h"
#include "fastconv/model.h"

using namespace fastconv;

namespace {

// y = reshape(x, (N, 3)) @ w^T + b, loss = mean((y - t)^2): x is traced as [4, 1, 3] so the reshape records the
// batch size 4, which a different batch must replace.
struct Linear {
  Tensor w = Tensor::empty({2, 3}), b = Tensor::empty({2});
  Linear() {
    const float wv[6] = {0.5f, -1, 0.25f, 1, 0.5f, -0.5f}, bv[2] = {0.1f, -0.2f};
    std::copy(wv, wv + 6, w.data<float>());
    std::copy(bv, bv + 2, b.data<float>());
  }
  void forward(const float* x, int n, double* y) const {
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < 2; ++o) {
        double s = b.data<float>()[o];
        for (int k = 0; k < 3; ++k) s += double(x[i * 3 + k]) * w.data<float>()[o * 3 + k];
        y[i * 2 + o] = s;
      }
  }
};

ModelGraphs linear_graphs(const Linear& m, bool train, double lr) {
  ModelGraphs g;
  auto build = [&](Graph& gr, ValueId* x, ValueId* pw, ValueId* pb) {
    *x = gr.input("x", {{4, 1, 3}});
    *pw = gr.param("weight", m.w);
    *pb = gr.param("bias", m.b);
    const ValueId flat = gr.add1("reshape", {*x}, {{"shape", std::vector<int64_t>{4, 3}}}, "flatten");
    return gr.add1("linear", {flat, *pw, *pb}, {}, "fc");
  };
  ValueId x, pw, pb;
  g.predict = std::make_shared<Graph>();
  g.predict_outputs = {{"output", build(*g.predict, &x, &pw, &pb)}};
  g.predict_x = x;
  g.state_dict = {{"weight", m.w}, {"bias", m.b}};
  if (train) {
    g.train = std::make_shared<Graph>();
    const ValueId y = build(*g.train, &x, &pw, &pb);
    g.train_x = x;
    g.train_y = g.train->input("y", {{4, 2}});
    const ValueId d = g.train->add1("sub", {y, g.train_y});
    g.spec.loss = g.train->add1("mean", {g.train->add1("mul", {d, d})}, {}, "loss");
    g.spec.optimizer = "sgd";
    ParamGroupSpec grp;
    grp.params = {{pw, "0"}, {pb, "1"}};
    grp.hyper = Attrs{{"momentum", 0.9}};
    g.spec.groups = {grp};
    g.state = std::make_shared<OptimizerState>();
    g.state->set_lr(0, lr);
  }
  return g;
}

Tensor filled(const Shape& s, float start, float step) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + step * float(i % 7) - 0.1f * float(i / 7);
  return t;
}

}  // namespace

TEST(Model, PredictsAtTheTracedAndOtherBatchSizes) {
  Linear m;
  Model model = make_model(linear_graphs(m, false, 0), {});
  EXPECT_EQ(model.input_shape(), (Shape{4, 1, 3}));
  EXPECT_EQ(model.output_names(), std::vector<std::string>{"output"});
  EXPECT_FALSE(model.trainable());
  for (int n : {4, 1, 7, 4}) {
    Tensor x = filled({n, 1, 3}, -1, 0.3f);
    double ref[14];
    m.forward(x.data<float>(), n, ref);
    Tensor y = model.predict(x);
    ASSERT_EQ(y.shape(), (Shape{n, 2}));
    for (int i = 0; i < 2 * n; ++i) EXPECT_NEAR(y.data<float>()[i], ref[i], 1e-6) << "batch " << n << " at " << i;
    Tensor yb = model.predict(x.data<float>(), x.shape());  // borrowed buffer
    for (int i = 0; i < 2 * n; ++i) EXPECT_EQ(yb.data<float>()[i], y.data<float>()[i]);
  }
  EXPECT_THROW(model.predict(filled({4, 1, 5}, 0, 1)), Error);  // the shape rule refuses 5 features
  EXPECT_THROW(model.train_step(filled({4, 1, 3}, 0, 1), filled({4, 2}, 0, 1)), Error);  // not trainable
}

TEST(Model, TrainStepsFollowSgdMomentumAtAnyBatchSize) {
  Linear m, ref;
  Model model = make_model(linear_graphs(m, true, 0.05), {});
  ASSERT_TRUE(model.trainable());
  EXPECT_DOUBLE_EQ(model.lr(), 0.05);
  double rw[8], buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 6; ++i) rw[i] = ref.w.data<float>()[i];
  for (int i = 0; i < 2; ++i) rw[6 + i] = ref.b.data<float>()[i];
  for (int step = 0; step < 6; ++step) {
    const int n = step % 2 ? 3 : 4;
    Tensor x = filled({n, 1, 3}, 0.2f * float(step) - 1, 0.4f), t = filled({n, 2}, 0.5f, -0.3f);
    // the reference: loss and gradients in double from the reference weights
    double y[14], g[8] = {0, 0, 0, 0, 0, 0, 0, 0}, loss = 0;
    for (int i = 0; i < 6; ++i) ref.w.data<float>()[i] = float(rw[i]);
    for (int i = 0; i < 2; ++i) ref.b.data<float>()[i] = float(rw[6 + i]);
    ref.forward(x.data<float>(), n, y);
    for (int i = 0; i < n; ++i)
      for (int o = 0; o < 2; ++o) {
        const double d = y[i * 2 + o] - t.data<float>()[i * 2 + o];
        loss += d * d / (2 * n);
        for (int k = 0; k < 3; ++k) g[o * 3 + k] += d / n * x.data<float>()[i * 3 + k];
        g[6 + o] += d / n;
      }
    const float got = model.train_step(x, t);
    EXPECT_NEAR(got, loss, 1e-5 * std::max(1.0, loss)) << "step " << step;
    for (int i = 0; i < 8; ++i) {
      buf[i] = step == 0 ? g[i] : 0.9 * buf[i] + g[i];
      rw[i] -= 0.05 * buf[i];
    }
    EXPECT_EQ(model.steps(), step + 1);
  }
  const Tensor w = model.parameter("weight");
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(w.data<float>()[i], rw[i], 1e-5);
  EXPECT_EQ(w.data_ptr(), m.w.data_ptr());  // the model's own tensors
  model.set_lr(0);
  model.train_step(filled({4, 1, 3}, 0, 1), filled({4, 2}, 1, 1));
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(w.data<float>()[i], rw[i], 1e-5);  // lr 0: nothing moves
  try {
    model.parameter("wieght");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'weight'"), std::string::npos) << e.what();
  }
}

namespace {

std::string temp_path(const char* name) {
  return (std::string(::testing::TempDir()) + "fastconv_test_model_" + name + ".safetensors");
}

}  // namespace

TEST(ModelFile, SaveLoadKeepsWeightsOptimizerStateAndRebatches) {
  Linear m;
  Model a = make_model(linear_graphs(m, true, 0.05), {});
  for (int s = 0; s < 3; ++s) a.train_step(filled({4, 1, 3}, float(s), 0.3f), filled({4, 2}, 0, 0.2f));
  const std::string path = temp_path("roundtrip");
  a.save(path);
  Model b = Model::load(path);
  EXPECT_EQ(b.steps(), 3);
  EXPECT_DOUBLE_EQ(b.lr(), 0.05);
  EXPECT_TRUE(b.trainable());
  EXPECT_EQ(b.input_shape(), (Shape{4, 1, 3}));
  const NamedTensors sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sb.size(), 2u);
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sb[i].first, sa[i].first);
    EXPECT_NE(sb[i].second.data_ptr(), sa[i].second.data_ptr());  // its own copy
    for (int64_t k = 0; k < sa[i].second.numel(); ++k)
      EXPECT_EQ(sb[i].second.data<float>()[k], sa[i].second.data<float>()[k]);
  }
  // Both continue alike, at a batch size the file was not traced with: momentum buffers came along (a fresh
  // momentum would step differently, which the SGD test above pins down).
  for (int s = 0; s < 3; ++s) {
    Tensor x = filled({3, 1, 3}, -float(s), 0.5f), t = filled({3, 2}, 1, -0.1f);
    EXPECT_EQ(a.train_step(x, t), b.train_step(x, t)) << "step " << s;
    Tensor pa = a.predict(x), pb = b.predict(x);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(pa.data<float>()[i], pb.data<float>()[i]);
  }
  std::remove(path.c_str());
}

TEST(ModelFile, RefusesFilesWithoutAGraphOrWithCorruptBytes) {
  const std::string path = temp_path("nograph");
  io::write_safetensors(path, {{"weight", Tensor::zeros({2, 3})}}, {{"format", "fastconv"}});
  try {
    Model::load(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(std::string(e.what()).find("has no traced graph: save it from Python with "
                                         "fastconv.save(compiled_model, path)"),
              std::string::npos)
        << e.what();
  }
  std::remove(path.c_str());
  const char junk[] = "\x10\0\0\0\0\0\0\0{\"a\": [1, 2}    ";
  EXPECT_THROW(load_model_bytes(junk, sizeof junk - 1, "junk", {}), Error);
  EXPECT_THROW(load_model_bytes(junk, 3, "short", {}), Error);
}
