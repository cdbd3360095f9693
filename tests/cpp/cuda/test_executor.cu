// The device executor (graph/context.cpp with the "cuda" backend's StepQueue): a compiled graph runs its kernels
// on a stream of its own, the first run directly, the second captured as a CUDA Graph and replayed, every later
// one replayed; host inputs are copied into the graph's slots on that stream. Results against the same graph on
// the CPU, run after run with new inputs (a replay that read stale addresses or skipped the input copy fails).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "fastconv/cuda.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"

using namespace fastconv;

namespace {

Tensor random_tensor(const Shape& s, uint32_t seed) {
  Tensor t = Tensor::empty(s);
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 2.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

struct Built {
  std::shared_ptr<Graph> g;
  ValueId x, grad, y, dx;
};

// y = reshape(relu(sigmoid(leaky_relu(x)))), dx = sigmoid_backward(grad, sigmoid output): odd sizes, a view.
Built build() {
  Built b;
  b.g = std::make_shared<Graph>();
  Graph& g = *b.g;
  b.x = g.input("x", {{3, 5, 67}});
  b.grad = g.input("grad", {{3, 5, 67}});
  ValueId a = g.add1("leaky_relu", {b.x}, {{"negative_slope", 0.2}});
  ValueId s = g.add1("sigmoid", {a});
  b.y = g.add1("reshape", {g.add1("relu", {s})}, {{"shape", Shape{15, 67}}});
  b.dx = g.add1("sigmoid_backward", {b.grad, s});
  return b;
}

double max_rel_err(const Tensor& got, const Tensor& want) {
  double e = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.data<float>()[i], d = std::fabs(double(got.data<float>()[i]) - w);
    e = std::max(e, d / std::max(1.0, std::fabs(w)));
  }
  return e;
}

}  // namespace

TEST(DeviceExecutor, ReplaysACapturedGraphWithNewInputsEachRun) {
  ASSERT_TRUE(cuda::is_available());
  Built cpu = build(), dev = build();
  Executable on_cpu(cpu.g, {cpu.y, cpu.dx});
  CompileOptions o;
  o.device = Device::parse("cuda:0");
  Executable on_dev(dev.g, {dev.y, dev.dx}, o);
  EXPECT_EQ(on_dev.backend(), "cuda");
  EXPECT_TRUE(on_dev.fixed_io());
  const std::vector<const void*> before = on_dev.step_addresses();
  for (int run = 0; run < 4; ++run) {
    const Tensor x = random_tensor({3, 5, 67}, 10 + run), gr = random_tensor({3, 5, 67}, 100 + run);
    on_cpu.set_input(cpu.x, x);
    on_cpu.set_input(cpu.grad, gr);
    on_cpu.run();
    on_dev.set_input(dev.x, x);  // host tensors: copied into the device slots on the graph's stream
    on_dev.set_input(dev.grad, gr);
    on_dev.run();
    EXPECT_EQ(on_dev.last_run_replayed(), run >= 1) << "run " << run;
    const Tensor y = on_dev.output(dev.y), dx = on_dev.output(dev.dx);
    EXPECT_FALSE(y.device().is_cpu());
    EXPECT_EQ(y.shape(), (Shape{15, 67}));
    EXPECT_LE(max_rel_err(y.to(Device()), on_cpu.output(cpu.y)), 1e-6) << "run " << run;
    EXPECT_LE(max_rel_err(dx.to(Device()), on_cpu.output(cpu.dx)), 1e-6) << "run " << run;
  }
  EXPECT_EQ(on_dev.step_addresses(), before);  // fixed I/O: what the graph captured stays valid
}

TEST(DeviceExecutor, ConcurrentCallsEachCaptureTheirOwnContext) {
  Built dev = build(), cpu = build();
  CompileOptions o;
  o.device = Device::parse("cuda:0");
  Executable on_dev(dev.g, {dev.y}, o);
  Executable on_cpu(cpu.g, {cpu.y});
  ASSERT_FALSE(on_dev.stateful());
  std::vector<std::thread> threads;
  std::vector<double> err(3, 1.0);
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      double worst = 0;
      for (int run = 0; run < 3; ++run) {
        const Tensor x = random_tensor({3, 5, 67}, 1000 * t + run), gr = random_tensor({3, 5, 67}, 7);
        const Tensor want = on_cpu.call({{cpu.x, x}, {cpu.grad, gr}}, {cpu.y})[0];
        const Tensor got = on_dev.call({{dev.x, x}, {dev.grad, gr}}, {dev.y})[0].to(Device());
        worst = std::max(worst, max_rel_err(got, want));
      }
      err[size_t(t)] = worst;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 3; ++t) EXPECT_LE(err[size_t(t)], 1e-6) << "thread " << t;
}

TEST(DeviceExecutor, AnOpWithoutACudaKernelIsRefusedAtCompileTimeNamingIt) {
  // conv_bn_fold is made by the CPU's inference fusion only; every op a model reaches on the device has an entry
  // now, so the refusal is checked on a graph that names it directly.
  auto g = std::make_shared<Graph>();
  ValueId w = g->input("w", {{3, 2, 1, 1}}), m = g->input("m", {{3}}), v = g->input("v", {{3}});
  std::vector<ValueId> d =
      g->add("conv_bn_fold", {w, m, v}, {{"has_bias", false}, {"has_conv_bias", false}, {"has_weight", false}});
  CompileOptions o;
  o.device = Device::parse("cuda:0");
  try {
    Executable exe(g, {d[0], d[1]}, o);
    FAIL() << "compiled a graph with no CUDA kernel for conv_bn_fold";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("conv_bn_fold"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

TEST(DeviceAllocator, FreedBlocksAreReusedForTheSameSizeAndReleasedByEmptyCache) {
  cuda::empty_cache();
  const Device d = Device::parse("cuda:0");
  void* first;
  {
    Tensor a = Tensor::empty({1000}, DType::f32, d);
    first = a.data_ptr();
  }
  EXPECT_EQ(cuda::cached_bytes(), 4000u);
  Tensor b = Tensor::empty({1000}, DType::f32, d);  // same size: the cached block
  EXPECT_EQ(b.data_ptr(), first);
  EXPECT_EQ(cuda::cached_bytes(), 0u);
  Tensor c = Tensor::empty({1001}, DType::f32, d);  // another size: a block of its own (never a larger one)
  EXPECT_NE(c.data_ptr(), first);
  c = Tensor();
  EXPECT_EQ(cuda::cached_bytes(), 4004u);
  EXPECT_EQ(cuda::empty_cache(), 4004u);
  EXPECT_EQ(cuda::cached_bytes(), 0u);
  // A reused block holds its last user's bytes: zeros() still writes its zeros.
  b.copy_from(Tensor::full({1000}, 7.f));
  b = Tensor();
  const Tensor z = Tensor::zeros({1000}, DType::f32, d).to(Device());
  for (int64_t i = 0; i < z.numel(); ++i) ASSERT_EQ(z.data<float>()[i], 0.f) << i;
}
