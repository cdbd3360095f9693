// A backend added from outside the engine: its own kernels in the table, no edit in graph/ or in any op's rules.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "backend/backend.h"
#include "fastconv/graph.h"
#include "ops/op.h"

using namespace fastconv;

namespace {

std::atomic<int> g_toy_calls{0};

// relu as y = max(x, 0) counted per call, and scale as alpha * x + beta: the toy backend's only kernels.
void register_toy_backend() {
  static bool done = false;
  if (done) return;
  done = true;
  Backend::add(std::make_shared<Backend>("toy", DeviceType::CPU));
  KernelDef relu;
  relu.op = "relu";
  relu.backend = "toy";
  relu.algo = "toy_relu";
  relu.prepare = [](const KernelCall&) -> Prepared {
    return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              ++g_toy_calls;
              const float* x = in[0].data<const float>();
              float* y = out[0].data<float>();
              for (int64_t i = 0; i < out[0].numel(); ++i) y[i] = x[i] > 0 ? x[i] : 0.f;
            },
            0, ""};
  };
  KernelTable::global().add(relu);
  KernelDef scale;
  scale.op = "scale";
  scale.backend = "toy";
  scale.algo = "toy_scale";
  scale.prepare = [](const KernelCall& c) -> Prepared {
    const float a = float(c.attr().get_float("alpha", 1.0)), b = float(c.attr().get_float("beta", 0.0));
    return {[a, b](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
              ++g_toy_calls;
              for (int64_t i = 0; i < out[0].numel(); ++i) out[0].data<float>()[i] = a * in[0].data<float>()[i] + b;
            },
            0, ""};
  };
  KernelTable::global().add(scale);
}

}  // namespace

TEST(Backend, ToyBackendRunsItsOwnKernels) {
  register_toy_backend();
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{2, 3}});
  ValueId y = g->add1("scale", {g->add1("relu", {x})}, {{"alpha", 2.0}, {"beta", 1.0}});
  CompileOptions o;
  o.backend = "toy";
  Executable exe(g, {y}, o);
  EXPECT_NE(exe.schedule_str().find("relu <toy_relu>"), std::string::npos) << exe.schedule_str();
  EXPECT_NE(exe.schedule_str().find("scale <toy_scale>"), std::string::npos) << exe.schedule_str();
  Tensor xt = Tensor::empty({2, 3});
  const float xv[6] = {-1, 2, -3, 4, 0.5f, -0.25f};
  for (int i = 0; i < 6; ++i) xt.data<float>()[i] = xv[i];
  const int before = g_toy_calls;
  exe.set_input(x, xt);
  exe.run();
  EXPECT_EQ(g_toy_calls - before, 2);
  Tensor out = exe.output(y);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(out.data<float>()[i], 2.f * std::max(xv[i], 0.f) + 1.f);
}

TEST(Backend, MissingKernelIsACompileTimeErrorNamingOpAndBackend) {
  register_toy_backend();
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{4}});
  ValueId y = g->add1("sigmoid", {x}, {}, "head.act");
  CompileOptions o;
  o.backend = "toy";
  try {
    Executable exe(g, {y}, o);
    FAIL() << "compiled an op the backend has no kernel for";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::NotImplemented);
    EXPECT_NE(m.find("in layer 'head.act': sigmoid: backend 'toy' has no kernel for this op"), std::string::npos)
        << m;
    EXPECT_NE(m.find("kernels exist on: cpu"), std::string::npos) << m;
  }
}

TEST(Backend, OverridesForceAnAlgorithmWhereItApplies) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{1, 4, 8, 8}});
  ValueId w = g->input("w", {{4, 4, 3, 3}});
  ValueId y = g->add1("conv2d", {x, w}, {{"padding", int64_t(1)}});
  CompileOptions o;
  o.algo = {{"conv", "im2col_gemm"}};
  EXPECT_NE(Executable(g, {y}, o).schedule_str().find("conv2d <im2col_gemm>"), std::string::npos);
  o.algo = {{"conv", "gemm_1x1"}};  // does not apply to a 3x3 conv: the rules decide
  const std::string rules = Executable(g, {y}, o).schedule_str();
  EXPECT_EQ(rules.find("gemm_1x1"), std::string::npos) << rules;
  o.algo = {{"conv", "no_such_algo"}};
  EXPECT_THROW(Executable(g, {y}, o), Error);
}
