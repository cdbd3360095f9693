// The public C++ API as a user sees it: this program includes only fastconv/fastconv.h and links only
// libfastconv.so (no internal headers, no engine objects), so every call here also checks that the function is
// exported. Expected values are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fastconv/fastconv.h"

using namespace fastconv;

namespace {

Tensor from_values(const Shape& shape, const std::vector<float>& v) {
  Tensor t = Tensor::empty(shape);
  EXPECT_EQ(size_t(t.numel()), v.size());
  std::memcpy(t.data<float>(), v.data(), v.size() * sizeof(float));
  return t;
}

std::vector<float> values(const Tensor& t) {
  Tensor c = t.contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

ErrorKind kind_of(const std::function<void()>& f, std::string* msg = nullptr) {
  try {
    f();
  } catch (const Error& e) {  // fastconv::Error's typeinfo crosses the library boundary
    if (msg) *msg = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no fastconv::Error thrown";
  return ErrorKind::Runtime;
}

}  // namespace

TEST(PublicApi, VersionIsTheProjects) { EXPECT_STREQ(version(), FASTCONV_EXPECTED_VERSION); }

TEST(PublicApi, ErrorsAreCatchableAsFastconvErrorAndAsStdRuntimeError) {
  std::string msg;
  EXPECT_EQ(kind_of([] { Tensor::empty({2, -1}); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  EXPECT_THROW(dtype_from_name("float7"), std::runtime_error);
  EXPECT_EQ(kind_of([] { dtype_from_name("float7"); }, &msg), ErrorKind::Type);
  EXPECT_NE(msg.find("float7"), std::string::npos) << msg;
}

TEST(PublicApi, ShapesAndDtypes) {
  EXPECT_EQ(shape_str({8, 4, 3, 3}), "[8, 4, 3, 3]");
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Shape{12, 4, 1}));
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_STREQ(dtype_name(DType::f32), "float32");
  EXPECT_EQ(dtype_from_name("int64"), DType::i64);
  Device d = Device::parse("cuda:1");
  EXPECT_EQ(d.type, DeviceType::CUDA);
  EXPECT_EQ(d.index, 1);
  EXPECT_EQ(Device::parse("cpu").str(), "cpu");
  EXPECT_EQ(desc_str({{8, 3}, DType::f32}), "float32[8, 3]");
}

TEST(PublicApi, Attrs) {
  Attrs a{{"stride", int64_t(2)}, {"padding", std::string("same")}};
  EXPECT_EQ(a.str(), "padding='same', stride=2");  // keys in order
  EXPECT_EQ(attr_value_str(std::vector<int64_t>{1, 2}), "(1, 2)");
  AttrReader r("conv2d", a);
  EXPECT_EQ(r.get_ints("stride", 2), (std::vector<int64_t>{2, 2}));  // PyTorch's stride=2
  EXPECT_EQ(r.get_int("groups", 1), 1);
  EXPECT_EQ(r.get_str("padding"), "same");
  std::string msg;
  EXPECT_EQ(kind_of([&] { r.get_int("padding"); }, &msg), ErrorKind::Type);
  EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("padding"), std::string::npos) << msg;
}

TEST(PublicApi, IsaAndThreads) {
  const Isa before = active_isa();
  EXPECT_EQ(parse_isa(isa_name(before)), before);
  EXPECT_LE(int(before), int(cpu_features().best));
  set_isa(Isa::scalar);
  EXPECT_EQ(active_isa(), Isa::scalar);
  set_isa(before);
  EXPECT_EQ(kind_of([] { parse_isa("sse9"); }), ErrorKind::Value);

  const int threads = get_num_threads();
  set_num_threads(2);
  EXPECT_EQ(get_num_threads(), 2);
  std::atomic<int64_t> sum{0};
  parallel_for(1000, 10, [&](int64_t b, int64_t e) {
    int64_t s = 0;
    for (int64_t i = b; i < e; ++i) s += i;
    sum += s;
  });
  EXPECT_EQ(sum.load(), 999 * 1000 / 2);
  set_num_threads(threads);
}

TEST(PublicApi, CudaQueriesAreConsistent) {
  if (cuda::emulated()) EXPECT_TRUE(cuda::compiled());
  if (!cuda::compiled()) EXPECT_FALSE(cuda::is_available());
  if (!cuda::is_available()) {
    EXPECT_EQ(kind_of([] { cuda::malloc(16, 0); }), ErrorKind::Runtime);
  } else {
    EXPECT_GE(cuda::device_count(), 1);
    void* p = cuda::malloc(256, 0);
    cuda::memset_zero(p, 256);
    float host[64] = {1.f};
    cuda::memcpy(host, p, sizeof host, cuda::Copy::DeviceToHost);
    EXPECT_EQ(host[0], 0.f);
    cuda::free(p);
    EXPECT_GE(cuda::cached_bytes(), 256u);
    cuda::empty_cache();
    EXPECT_EQ(cuda::cached_bytes(), 0u);
  }
}

TEST(PublicApi, TensorsAndMemory) {
  void* p = aligned_alloc64(100);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  aligned_free64(p);
  const size_t base = allocated_bytes();
  Tensor t = from_values({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_GE(allocated_bytes(), base + 24);
  EXPECT_GE(max_allocated_bytes(), allocated_bytes());
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_TRUE(t.is_contiguous());
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  EXPECT_EQ(r.data_ptr(), t.data_ptr());  // a view
  // The transpose of [[1, 2, 3], [4, 5, 6]] as a strided view: [[1, 4], [2, 5], [3, 6]].
  Tensor tr(t.storage(), 0, {3, 2}, {1, 3}, DType::f32);
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(values(tr), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor c = t.clone();
  c.fill_(7.f);
  EXPECT_EQ(values(t)[0], 1.f);  // a copy
  EXPECT_EQ(values(c), (std::vector<float>(6, 7.f)));
  Tensor e = Tensor::empty({3, 2});
  e.copy_from(tr);  // strided source
  EXPECT_EQ(values(e), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  Tensor d = t.to(DType::f64);
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.data<double>()[5], 6.0);
  EXPECT_EQ(values(Tensor::full({2}, 2.5f)), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(values(Tensor::zeros({3})), (std::vector<float>{0, 0, 0}));
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), "Tensor(shape=[2, 3], dtype=float32, device=cpu)");

  float buf[4] = {1, 2, 3, 4};
  int released = 0;
  {
    std::shared_ptr<void> owner(nullptr, [&](void*) { ++released; });
    Tensor b = Tensor::from_blob(buf, {4}, {1}, DType::f32, Device{}, owner);
    EXPECT_EQ(b.data<float>(), buf);
  }
  EXPECT_EQ(released, 1);
  release_cached_memory();
  EXPECT_EQ(cached_memory_bytes(), 0u);
}

TEST(PublicApi, GraphBackwardAndExecutable) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{4}});
  ValueId loss = g->add1("sum", {g->add1("relu", {x})});
  ValueId dx = append_backward(*g, loss, {x})[0];
  EXPECT_EQ(g->value(x).kind, ValueKind::Input);
  EXPECT_GT(g->num_nodes(), 2);
  EXPECT_NE(g->dump().find("relu"), std::string::npos);
  FuseStats stats = empty_fuse_stats();
  EXPECT_EQ(stats.total(), 0);
  auto fused = fuse_graph(*g, {loss, dx}, &stats);
  EXPECT_LE(fused->num_nodes(), g->num_nodes());
  Executable exe(g, {loss, dx});
  exe.set_input(x, from_values({4}, {-1, 2, -3, 4}));
  exe.run();
  // sum(relu(x)) = 2 + 4; d/dx = 1 where x > 0.
  EXPECT_EQ(values(exe.output(loss)), (std::vector<float>{6}));
  EXPECT_EQ(values(exe.output(dx)), (std::vector<float>{0, 1, 0, 1}));
  auto outs = exe.call({{x, from_values({4}, {1, 1, -1, 0.5f})}}, {loss});
  EXPECT_EQ(values(outs[0]), (std::vector<float>{2.5f}));
  EXPECT_GT(exe.peak_bytes(), 0u);
  EXPECT_EQ(exe.steps_run(), 2u);
  EXPECT_EQ(kind_of([&] { g->add1("no_such_op", {x}); }), ErrorKind::Value);
  EXPECT_FALSE(is_anomaly_enabled());
}

TEST(PublicApi, OneSgdStepByBuildTraining) {
  // loss = sum(w * x) with w = [1, 2], x = [3, 4]: loss 11, d loss / d w = x, so lr 0.5 gives w = [-0.5, 0].
  Tensor w = from_values({2}, {1, 2});
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{2}});
  ValueId pw = g->param("w", w);
  ValueId loss = g->add1("sum", {g->add1("mul", {pw, x})});
  TrainSpec spec;
  spec.loss = loss;
  spec.optimizer = "sgd";
  ParamGroupSpec grp;
  grp.params = {{pw, "w"}};
  spec.groups = {grp};
  OptimizerState state;
  state.set_lr(0, 0.5);
  TrainGraph tg = build_training(*g, spec, &state);
  ASSERT_EQ(tg.grads.size(), 1u);
  Executable exe(g, {loss, tg.grads[0]});
  exe.set_input(x, from_values({2}, {3, 4}));
  exe.run();
  EXPECT_EQ(values(exe.output(loss)), (std::vector<float>{11}));
  EXPECT_EQ(values(exe.output(tg.grads[0])), (std::vector<float>{3, 4}));
  EXPECT_EQ(values(w), (std::vector<float>{-0.5f, 0.f}));
  EXPECT_EQ(state.steps(), 1);
  EXPECT_EQ(state.num_groups(), 1u);
}

TEST(PublicApi, RunOpEagerly) {
  auto y = run_op("add", {from_values({3}, {1, 2, 3}), from_values({3}, {10, 20, 30})});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(values(y[0]), (std::vector<float>{11, 22, 33}));
  EXPECT_EQ(values(run_op("relu", {from_values({4}, {-2, 0, 0.5f, 3})})[0]), (std::vector<float>{0, 0, 0.5f, 3}));
  // conv2d of x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] with w = [[1, 0], [0, -1]] (no padding, stride 1):
  // out[i][j] = x[i][j] - x[i+1][j+1] = -4 everywhere, 2x2.
  Tensor x = from_values({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = from_values({1, 1, 2, 2}, {1, 0, 0, -1});
  auto c = run_op("conv2d", {x, w});
  EXPECT_EQ(c[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(c[0]), (std::vector<float>{-4, -4, -4, -4}));
  // padding 1, stride 2: out[i][j] = xp[2i][2j] - xp[2i+1][2j+1] with xp the zero-padded 5x5 (xp[r][c] =
  // x[r-1][c-1]), a 2x2 output: [[0 - 1, 0 - 3], [0 - 7, 5 - 9]].
  auto s = run_op("conv2d", {x, w}, Attrs{{"padding", int64_t(1)}, {"stride", int64_t(2)}});
  EXPECT_EQ(s[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(values(s[0]), (std::vector<float>{-1, -3, -7, -4}));
  std::string msg;
  EXPECT_EQ(kind_of([&] { run_op("add", {x}); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("add"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([&] { run_op("not_an_op", {x}); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("not_an_op"), std::string::npos) << msg;
}

TEST(PublicApi, ToDlpackViewsTheTensorAndKeepsItAlive) {
  Tensor t = from_values({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor tr(t.storage(), 4, {2, 2}, {1, 3}, DType::f32);  // offset one float: [[2, 5], [3, 6]]
  DLManagedTensor* m = to_dlpack(tr);
  const DLTensor& d = m->dl_tensor;
  EXPECT_EQ(d.device.device_type, kDLCPU);
  EXPECT_EQ(d.ndim, 2);
  EXPECT_EQ(d.dtype.code, kDLFloat);
  EXPECT_EQ(d.dtype.bits, 32);
  EXPECT_EQ(d.dtype.lanes, 1);
  EXPECT_EQ(d.shape[0], 2);
  EXPECT_EQ(d.shape[1], 2);
  EXPECT_EQ(d.strides[0], 1);
  EXPECT_EQ(d.strides[1], 3);
  const float* p = static_cast<const float*>(d.data) + d.byte_offset / 4;
  EXPECT_EQ(p, t.data<float>() + 1);
  t = Tensor();
  tr = Tensor();  // the DLManagedTensor alone keeps the memory now
  EXPECT_EQ(p[0], 2.f);
  EXPECT_EQ(p[1], 3.f);
  EXPECT_EQ(p[3], 5.f);
  m->deleter(m);
  EXPECT_EQ(kind_of([] { to_dlpack(Tensor()); }), ErrorKind::Value);
  Tensor i = Tensor::zeros({1}, DType::i64);
  DLManagedTensor* mi = to_dlpack(i);
  EXPECT_EQ(mi->dl_tensor.dtype.code, kDLInt);
  EXPECT_EQ(mi->dl_tensor.dtype.bits, 64);
  mi->deleter(mi);
}

namespace {
// A producer's tensor, as NumPy or torch would hand it over: a 3x2 float64 buffer seen transposed (2x3).
struct Producer {
  double buf[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3}, strides[2] = {1, 2};
  int deleted = 0;
  DLManagedTensor m{};
  DLManagedTensor* make() {
    m.dl_tensor.data = buf;
    m.dl_tensor.device = {kDLCPU, 0};
    m.dl_tensor.ndim = 2;
    m.dl_tensor.dtype = {kDLFloat, 64, 1};
    m.dl_tensor.shape = shape;
    m.dl_tensor.strides = strides;
    m.dl_tensor.byte_offset = 0;
    m.manager_ctx = this;
    m.deleter = [](DLManagedTensor* self) { ++static_cast<Producer*>(self->manager_ctx)->deleted; };
    return &m;
  }
};
}  // namespace

TEST(PublicApi, FromDlpackViewsTheProducersMemoryAndCallsItsDeleterOnce) {
  Producer pr;
  {
    Tensor t = from_dlpack(pr.make());
    EXPECT_EQ(t.dtype(), DType::f64);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.strides(), (Shape{1, 2}));
    EXPECT_EQ(t.data<double>(), pr.buf);  // no copy
    Tensor f = t.to(DType::f32);           // [[1, 3, 5], [2, 4, 6]]
    EXPECT_EQ(values(f), (std::vector<float>{1, 3, 5, 2, 4, 6}));
    Tensor view = t.contiguous();
    EXPECT_EQ(pr.deleted, 0);
  }
  EXPECT_EQ(pr.deleted, 1);

  // No strides means row-major; byte_offset moves the start.
  Producer row;
  DLManagedTensor* m = row.make();
  m->dl_tensor.strides = nullptr;
  m->dl_tensor.ndim = 1;
  row.shape[0] = 4;
  m->dl_tensor.byte_offset = 2 * sizeof(double);
  {
    Tensor t = from_dlpack(m);
    EXPECT_EQ(t.strides(), (Shape{1}));
    EXPECT_EQ(t.data<double>()[0], 3.0);
    EXPECT_EQ(t.data<double>()[3], 6.0);
  }
  EXPECT_EQ(row.deleted, 1);
}

TEST(PublicApi, FromDlpackRejectsWhatItCannotViewAndLeavesItToTheCaller) {
  Producer pr;
  std::string msg;
  DLManagedTensor* m = pr.make();
  m->dl_tensor.dtype = {kDLFloat, 32, 4};
  EXPECT_EQ(kind_of([&] { from_dlpack(m); }, &msg), ErrorKind::Type);
  EXPECT_NE(msg.find("lanes=4"), std::string::npos) << msg;
  m->dl_tensor.dtype = {kDLFloat, 8, 1};
  EXPECT_EQ(kind_of([&] { from_dlpack(m); }, &msg), ErrorKind::Type);
  EXPECT_NE(msg.find("bits 8"), std::string::npos) << msg;
  m = pr.make();
  m->dl_tensor.device = {7, 0};  // kDLOpenCL
  EXPECT_EQ(kind_of([&] { from_dlpack(m); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("device type 7"), std::string::npos) << msg;
  for (int id : {-1, 5}) {  // CUDA devices this machine does not have (the CI builds see none or the emulator's one)
    m = pr.make();
    m->dl_tensor.device = {kDLCUDA, id};
    EXPECT_EQ(kind_of([&] { from_dlpack(m); }, &msg), ErrorKind::Value);
    EXPECT_NE(msg.find("CUDA device " + std::to_string(id) + ","), std::string::npos) << msg;
  }
  m = pr.make();
  pr.shape[1] = -3;
  EXPECT_EQ(kind_of([&] { from_dlpack(m); }), ErrorKind::Value);
  pr.shape[1] = 3;
  m->dl_tensor.ndim = -1;
  EXPECT_EQ(kind_of([&] { from_dlpack(m); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("ndim"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([] { from_dlpack(nullptr); }), ErrorKind::Value);
  EXPECT_EQ(pr.deleted, 0);  // never taken
}

TEST(PublicApi, TheRestOfTheExecutableAndTrainingApiLinks) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{3}});
  ValueId c = g->constant(from_values({3}, {1, 1, 1}), "ones");
  ValueId y = g->add1("add", {x, c}, {}, "layer0");
  EXPECT_EQ(g->node(0).scope, "layer0");
  EXPECT_EQ(g->memo("nothing"), kNoValue);
  ValueId step = step_counter(*g);
  EXPECT_EQ(step_counter(*g), step);  // made once per graph
  Executable exe(g, {y, step});
  exe.set_profiling(true);
  exe.set_input(x, from_values({3}, {1, 2, 3}));
  exe.run();
  EXPECT_EQ(values(exe.output_view(y)), (std::vector<float>{2, 3, 4}));
  EXPECT_EQ(exe.output(step).data<int64_t>()[0], 0);  // the first run's index
  exe.run();
  EXPECT_EQ(exe.output(step).data<int64_t>()[0], 1);
  EXPECT_TRUE(exe.stateful());
  EXPECT_FALSE(exe.last_run_replayed());
  EXPECT_FALSE(exe.step_addresses().empty());
  EXPECT_NE(exe.schedule_str().find("add"), std::string::npos);
  auto prof = exe.profile();
  ASSERT_FALSE(prof.empty());
  EXPECT_EQ(prof[0].calls, 2u);
  set_detect_anomaly(true);
  EXPECT_TRUE(is_anomaly_enabled());
  set_detect_anomaly(false);

  OptimizerState st;
  st.set_steps(5);
  EXPECT_EQ(st.steps(), 5);
  st.set_lr(1, 0.25);
  EXPECT_EQ(st.lr(1).data<double>()[0], 0.25);
  Tensor slot = st.slot("w", "momentum_buffer", {{2, 2}, DType::f32});
  EXPECT_EQ(values(slot), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(st.slots().at("w").count("momentum_buffer"), 1u);
  auto s = Storage::allocate(64, Device{});
  EXPECT_EQ(s->nbytes(), 64u);
  void* p = cached_alloc64(1 << 20);
  cached_free64(p, 1 << 20);
  reset_max_allocated_bytes();
  EXPECT_EQ(max_allocated_bytes(), allocated_bytes());
  if (cuda::is_available()) EXPECT_FALSE(cuda::device_name(0).empty());
}
