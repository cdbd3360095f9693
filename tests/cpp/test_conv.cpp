// Convolution kernels against the naive reference (cpu/ref/conv_ref), pass by pass, for every algorithm that
// applies to a shape, every ISA level the CPU has for the depthwise kernels, and one and two threads; plus the op
// level (shape rule errors, run_op) through the registry.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cpu/conv_depthwise.h"
#include "cpu/conv_gemm.h"
#include "cpu/ref/conv_ref.h"
#include "fastconv/cpu_features.h"
#include "fastconv/error.h"
#include "fastconv/parallel.h"
#include "ops/op.h"

namespace fastconv {
namespace {

using cpu::ConvParams;
using cpu::ConvPass;

std::vector<float> rnd(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

double rel(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * double(a[i] - b[i]), den += double(b[i]) * b[i];
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// 2-D params: N, C, K, groups, H, W, kh, kw, stride, pad, dilation; out computed as torch does.
ConvParams make(int64_t N, int64_t C, int64_t K, int64_t g, int64_t H, int64_t W, int64_t kh, int64_t kw, int64_t s,
                int64_t pad, int64_t d) {
  ConvParams p;
  p.N = N, p.C = C, p.K = K, p.groups = g;
  p.in[1] = H, p.in[2] = W, p.k[1] = kh, p.k[2] = kw;
  for (int a = 1; a < 3; ++a) {
    p.stride[a] = s, p.pad[a] = pad, p.dil[a] = d;
    p.out[a] = (p.in[a] + 2 * pad - d * (p.k[a] - 1) - 1) / s + 1;
  }
  return p;
}

struct Buffers {
  std::vector<float> x, w, b, dy;
  explicit Buffers(const ConvParams& p)
      : x(rnd(p.N * p.C * cpu::in_vol(p), 1)),
        w(rnd(p.K * cpu::group_in(p) * cpu::k_vol(p), 2)),
        b(rnd(p.K, 3)),
        dy(rnd(p.N * p.K * cpu::out_vol(p), 4)) {}
};

// Runs one algorithm's three passes and compares each with the reference.
template <class Fwd, class Bd, class Bw>
void check_all(const ConvParams& p, Fwd fwd, Bd bd, Bw bw, const std::string& what) {
  Buffers B(p);
  const size_t yn = size_t(p.N * p.K * cpu::out_vol(p)), xn = B.x.size(), wn = B.w.size();
  std::vector<float> y_ref(yn), y(yn, NAN), dx_ref(xn), dx(xn, NAN), dw_ref(wn), dw(wn, NAN);
  ref::conv_forward(p, B.x.data(), B.w.data(), B.b.data(), y_ref.data());
  ref::conv_backward_data(p, B.dy.data(), B.w.data(), dx_ref.data());
  ref::conv_backward_weight(p, B.dy.data(), B.x.data(), dw_ref.data());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    fwd(B, y.data());
    bd(B, dx.data());
    bw(B, dw.data());
    EXPECT_LE(rel(y, y_ref), 1e-5) << what << " forward, threads " << threads;
    EXPECT_LE(rel(dx, dx_ref), 1e-5) << what << " backward data, threads " << threads;
    EXPECT_LE(rel(dw, dw_ref), 1e-5) << what << " backward weight, threads " << threads;
  }
  set_num_threads(2);
}

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (int(i) <= int(cpu_features().best)) v.push_back(i);
  return v;
}

// A 64-byte aligned workspace, as the planner gives (the GEMM packs into it with aligned stores).
struct Workspace {
  std::vector<float> buf;
  float* p;
  explicit Workspace(size_t bytes) : buf(bytes / 4 + 16, std::nanf("")) {
    p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
  }
};

// The largest workspace of the three passes for a plan (every pass runs in the same buffer here).
size_t max_workspace(const ConvParams& p, const cpu::GemmPlan& plan, bool im2col) {
  size_t most = 0;
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_weight})
    most = std::max(most, im2col ? cpu::conv_im2col_gemm_workspace(p, pass, plan)
                                 : cpu::conv_gemm_1x1_workspace(p, pass, plan));
  return most;
}

// The GEMM plans are made for two threads while check_all runs on pools of one and two.
TEST(Conv, Im2colGemmMatchesReference) {
  for (Isa isa : isas())
  for (const ConvParams& p : {make(3, 4, 6, 2, 9, 11, 3, 2, 2, 1, 2), make(1, 3, 5, 1, 7, 7, 3, 3, 1, 1, 1),
                              make(4, 2, 2, 1, 5, 19, 2, 3, 3, 0, 1), make(0, 2, 2, 1, 5, 5, 3, 3, 1, 0, 1)}) {
    // Slots side by side, and batched columns with chunks that do and do not divide the batch.
    const int64_t two = std::max<int64_t>(1, std::min<int64_t>(p.N, 2));
    for (cpu::GemmPlan slots : {cpu::conv_gemm_plan(1, 1, isa, 2), cpu::conv_gemm_plan(two, 1, isa, 2),
                                cpu::conv_gemm_plan(1, 2, isa, 2), cpu::conv_gemm_plan(1, 3, isa, 2)}) {
      const Workspace ws(max_workspace(p, slots, true));
      check_all(
          p, [&](Buffers& B, float* y) { cpu::conv_im2col_gemm_forward(p, B.x.data(), B.w.data(), B.b.data(), y, ws.p, slots); },
          [&](Buffers& B, float* dx) { cpu::conv_im2col_gemm_backward_data(p, B.dy.data(), B.w.data(), dx, ws.p, slots); },
          [&](Buffers& B, float* dw) { cpu::conv_im2col_gemm_backward_weight(p, B.dy.data(), B.x.data(), dw, ws.p, slots); },
          std::string("im2col_gemm ") + isa_name(isa) + " slots=" + std::to_string(slots.slots) +
              " chunk=" + std::to_string(slots.chunk));
    }
  }
}

// The rules batch columns for narrow outputs (ResNet layer4 at 2x2: 16 images share one GEMM of 64 columns) and
// keep per-image slots for wide ones.
TEST(Conv, Im2colPlanBatchesSmallOutputs) {
  const ConvParams l4 = make(16, 512, 512, 1, 2, 2, 3, 3, 1, 1, 1);
  const cpu::GemmPlan a = cpu::conv_im2col_gemm_plan(l4, ConvPass::backward_weight, Isa::scalar, 2);
  EXPECT_EQ(a.chunk, 16);
  EXPECT_EQ(a.slots, 1);
  EXPECT_LE(cpu::conv_im2col_gemm_workspace(l4, ConvPass::backward_weight, a), size_t(64) << 20);
  EXPECT_EQ(cpu::conv_im2col_gemm_plan(make(1, 512, 512, 1, 2, 2, 3, 3, 1, 1, 1), ConvPass::forward, Isa::scalar, 2)
                .chunk,
            1);
  const cpu::GemmPlan wide =
      cpu::conv_im2col_gemm_plan(make(16, 64, 64, 1, 32, 32, 3, 3, 1, 1, 1), ConvPass::forward, Isa::scalar, 2);
  EXPECT_EQ(wide.chunk, 1);
  EXPECT_EQ(wide.slots, 2);
  EXPECT_EQ(wide.gemm.threads, 1);  // single-threaded products inside the slots
}

TEST(Conv, Gemm1x1MatchesReference) {
  // More input than output channels takes the transposed weight gradient (per-slot dW^T partials), also with a
  // slot left idle (N = 1) and with an empty batch; fewer takes the direct one.
  for (const ConvParams& p : {make(3, 8, 6, 2, 5, 7, 1, 1, 1, 0, 1), make(5, 3, 16, 1, 4, 33, 1, 1, 1, 0, 1),
                              make(1, 40, 7, 1, 6, 9, 1, 1, 1, 0, 1), make(0, 9, 4, 1, 3, 3, 1, 1, 1, 0, 1)}) {
    for (Isa isa : isas()) {
    const cpu::GemmPlan slots = cpu::conv_gemm_plan(2, 1, isa, 2);
    const Workspace ws(max_workspace(p, slots, false));
    check_all(
        p, [&](Buffers& B, float* y) { cpu::conv_gemm_1x1_forward(p, B.x.data(), B.w.data(), B.b.data(), y, ws.p, slots); },
        [&](Buffers& B, float* dx) { cpu::conv_gemm_1x1_backward_data(p, B.dy.data(), B.w.data(), dx, ws.p, slots); },
        [&](Buffers& B, float* dw) { cpu::conv_gemm_1x1_backward_weight(p, B.dy.data(), B.x.data(), dw, ws.p, slots); },
        std::string("gemm_1x1 ") + isa_name(isa));
    }
  }
}

TEST(Conv, DepthwiseMatchesReferenceAtEveryIsa) {
  const Isa best = cpu_features().best;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) {
    if (int(isa) > int(best)) continue;
    set_isa(isa);
    const cpu::DepthwiseKernels kn = cpu::depthwise_kernels(isa);
    for (const ConvParams& p : {make(2, 4, 8, 4, 9, 37, 3, 3, 1, 1, 1), make(3, 3, 3, 3, 8, 21, 3, 5, 2, 2, 1),
                                make(1, 5, 5, 5, 6, 18, 2, 3, 1, 1, 2)}) {
      check_all(
          p, [&](Buffers& B, float* y) { cpu::conv_depthwise_forward(kn, p, B.x.data(), B.w.data(), B.b.data(), y); },
          [&](Buffers& B, float* dx) { cpu::conv_depthwise_backward_data(kn, p, B.dy.data(), B.w.data(), dx); },
          [&](Buffers& B, float* dw) { cpu::conv_depthwise_backward_weight(kn, p, B.dy.data(), B.x.data(), dw); },
          std::string("depthwise ") + isa_name(isa));
    }
  }
  set_isa(best);
}

TEST(Conv, ShapeRuleErrorsNameTheArgument) {
  Tensor x = Tensor::empty({2, 3, 8, 8}, DType::f32), w = Tensor::empty({8, 4, 3, 3}, DType::f32);
  try {
    run_op("conv2d", {x, w}, {});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_STREQ(e.what(), "conv2d: input has 3 channels but weight expects 4 (weight shape [8, 4, 3, 3])");
  }
  Tensor w3 = Tensor::empty({4, 3, 3, 3}, DType::f32);
  auto y = run_op("conv2d", {x, w3}, Attrs{{"padding", std::string("same")}});
  EXPECT_EQ(y.at(0).shape(), (Shape{2, 4, 8, 8}));
  EXPECT_THROW(run_op("conv2d", {x, w3}, Attrs{{"padding", std::string("same")}, {"stride", int64_t(2)}}), Error);
}

}  // namespace
}  // namespace fastconv
