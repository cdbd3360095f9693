// The implicit-GEMM convolutions (cuda/conv_implicit_gemm.cu) against ref::conv_forward, conv_backward_data and
// conv_backward_weight (cpu/ref/conv_ref.h): 1-, 2- and 3-D, odd sizes, padding (also far-side and negative extra
// outputs), stride 2, dilation 2, groups 2 and 3, batch 3, channel counts that are not tile multiples (K 70 spans
// two column tiles), kernels larger than the input, with and without bias; wgrad with one and with several splits.
// Tolerance 1e-5 of the |x| |w| bound (conv_check.cuh): the kernels accumulate in float in a fixed order.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstring>

#include "conv_check.cuh"
#include "conv_implicit_gemm.cuh"
#include "cpu/ref/conv_ref.h"
#include "device_buffer.cuh"
#include "fastconv/error.h"
#include "launch.cuh"

namespace {

using namespace fc_test;
using fastconv::cuda::ImplicitPass;

std::vector<ConvParams> geometries() {
  return {
      conv_params(2, 3, 5, 1, kUnit, {7, 3, 1, 1}, {9, 3, 1, 1}),             // 3x3 same, odd sizes
      conv_params(3, 4, 6, 2, kUnit, {8, 3, 2, 1}, {7, 3, 2, 1}),             // stride 2, groups 2, batch 3
      conv_params(1, 3, 4, 1, kUnit, {9, 3, 1, 2, 2}, {8, 3, 1, 2, 2}),       // dilation 2
      conv_params(1, 6, 9, 3, kUnit, {11, 5, 2, 2}, {10, 5, 1, 2}),           // 5x5, groups 3
      conv_params(2, 5, 70, 1, kUnit, {6, 1}, {5, 3, 1, 1}),                  // 1x3, K spans two tiles
      conv_params(1, 2, 3, 1, kUnit, {3, 5, 1, 2}, {3, 5, 1, 2}),             // kernel larger than the input
      conv_params(1, 2, 3, 1, kUnit, {7, 3, 1, 1, 1, -2}, {8, 3, 2, 1, 1, -1}),  // fewer outputs than natural
      conv_params(1, 2, 2, 1, kUnit, {6, 2, 1, 0, 1, 1}, {5, 2, 1, 0, 1, 1}),    // far-side padding (even k)
      conv_params(2, 9, 4, 1, kUnit, {5, 1}, {6, 1}),                         // 1x1
      conv_params(2, 4, 4, 2, kUnit, {5, 1, 2}, {6, 1, 2}),                   // 1x1 stride 2, groups 2
      conv_params(2, 3, 4, 1, kUnit, kUnit, {17, 5, 2, 2}),                   // 1-D
      conv_params(1, 2, 4, 2, {5, 3, 1, 1}, {6, 3, 2, 1}, {7, 3, 1, 2, 2}),   // 3-D, groups 2
      conv_params(2, 3, 2, 1, {4, 2, 2, 1, 1}, {5, 3, 1, 0, 2}, {5, 1, 1}),   // 3-D, mixed
      conv_params(3, 2, 3, 1, kUnit, {23, 3, 1, 1}, {19, 3, 1, 1}),           // wgrad splits its reduction
  };
}

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// Every pass of one geometry; outputs start as garbage (1e30) so that a result never written fails.
void check_all(const ConvParams& p, uint32_t seed) {
  ASSERT_TRUE(fastconv::cuda::conv_implicit_gemm_applies(p));
  const std::vector<float> x = uniform_data(x_elems(p), seed), w = uniform_data(w_elems(p), seed + 1),
                           b = uniform_data(size_t(p.K), seed + 2), bc = uniform_data(size_t(p.C), seed + 3),
                           dy = uniform_data(y_elems(p), seed + 4);
  const std::vector<float> ax = abs_of(x), aw = abs_of(w), ab = abs_of(b), abc = abs_of(bc), ady = abs_of(dy);
  DeviceBuffer<float> dx_in(x), dw_in(w), db(b), dbc(bc), ddy(dy);
  for (bool bias : {false, true}) {
    SCOPED_TRACE(bias ? "fprop with bias" : "fprop");
    DeviceBuffer<float> y(std::vector<float>(y_elems(p), 1e30f));
    fastconv::cuda::conv_implicit_gemm_fprop__cuda(p, dx_in.p, dw_in.p, bias ? db.p : nullptr, y.p, nullptr);
    sync();
    std::vector<float> want(y_elems(p)), bound(y_elems(p));
    fastconv::ref::conv_forward(p, x.data(), w.data(), bias ? b.data() : nullptr, want.data());
    fastconv::ref::conv_forward(p, ax.data(), aw.data(), bias ? ab.data() : nullptr, bound.data());
    ASSERT_TRUE(close(y.download(), want, bound, 1e-5));
  }
  for (bool bias : {false, true}) {  // the bias of conv_transpose, added to dx per input channel
    SCOPED_TRACE(bias ? "dgrad with bias" : "dgrad");
    DeviceBuffer<float> dx(std::vector<float>(x_elems(p), 1e30f));
    fastconv::cuda::conv_implicit_gemm_dgrad__cuda(p, ddy.p, dw_in.p, bias ? dbc.p : nullptr, dx.p, nullptr);
    sync();
    std::vector<float> want(x_elems(p)), bound(x_elems(p));
    fastconv::ref::conv_backward_data(p, dy.data(), w.data(), want.data());
    fastconv::ref::conv_backward_data(p, ady.data(), aw.data(), bound.data());
    const size_t plane = x_elems(p) / size_t(p.N * p.C);
    for (size_t i = 0; bias && i < want.size(); ++i) want[i] += bc[i / plane % size_t(p.C)],
                                                      bound[i] += abc[i / plane % size_t(p.C)];
    ASSERT_TRUE(close(dx.download(), want, bound, 1e-5));
  }
  {
    SCOPED_TRACE("wgrad");
    DeviceBuffer<float> dw(std::vector<float>(w_elems(p), 1e30f));
    const size_t ws = fastconv::cuda::conv_implicit_gemm_workspace_bytes(p, ImplicitPass::wgrad);
    DeviceBuffer<float> work(std::vector<float>(ws / sizeof(float), 1e30f));
    fastconv::cuda::conv_implicit_gemm_wgrad__cuda(p, ddy.p, dx_in.p, dw.p, ws ? work.p : nullptr, nullptr);
    sync();
    std::vector<float> want(w_elems(p)), bound(w_elems(p));
    fastconv::ref::conv_backward_weight(p, dy.data(), x.data(), want.data());
    fastconv::ref::conv_backward_weight(p, ady.data(), ax.data(), bound.data());
    ASSERT_TRUE(close(dw.download(), want, bound, 1e-5));
  }
}

TEST(CudaConvImplicitGemm, MatchesReference) {
  uint32_t seed = 1;
  for (const ConvParams& p : geometries()) {
    SCOPED_TRACE(describe(p));
    check_all(p, seed);
    seed += 10;
    if (HasFatalFailure()) return;
  }
}

// The last geometry's reduction (3 x 19 x 19 = 1083) is split; a small one is not (no workspace).
TEST(CudaConvImplicitGemm, WgradSplitsOnlyLongReductions) {
  const std::vector<ConvParams> g = geometries();
  EXPECT_GT(fastconv::cuda::conv_implicit_gemm_workspace_bytes(g.back(), ImplicitPass::wgrad), 0u);
  EXPECT_EQ(fastconv::cuda::conv_implicit_gemm_workspace_bytes(g[0], ImplicitPass::wgrad), 0u);
  EXPECT_EQ(fastconv::cuda::conv_implicit_gemm_workspace_bytes(g.back(), ImplicitPass::fprop), 0u);
}

// Split partials are added in split order: the same bits every run.
TEST(CudaConvImplicitGemm, WgradReproducible) {
  const ConvParams p = conv_params(4, 3, 5, 1, kUnit, {20, 3, 1, 1}, {21, 3, 2, 1});
  const size_t ws = fastconv::cuda::conv_implicit_gemm_workspace_bytes(p, ImplicitPass::wgrad);
  ASSERT_GT(ws, 0u);
  DeviceBuffer<float> dy(uniform_data(y_elems(p), 5)), x(uniform_data(x_elems(p), 6)), dw1(w_elems(p)),
      dw2(w_elems(p)), work(ws / sizeof(float));
  fastconv::cuda::conv_implicit_gemm_wgrad__cuda(p, dy.p, x.p, dw1.p, work.p, nullptr);
  fastconv::cuda::conv_implicit_gemm_wgrad__cuda(p, dy.p, x.p, dw2.p, work.p, nullptr);
  const std::vector<float> a = dw1.download(), b = dw2.download();
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

// An empty batch: fprop and dgrad queue nothing, the weight gradient is 0; bad groups are refused by name.
TEST(CudaConvImplicitGemm, EmptyBatchAndRejectedParams) {
  const ConvParams p = conv_params(0, 4, 6, 2, kUnit, {5, 3, 1, 1}, {5, 3, 1, 1});
  DeviceBuffer<float> none(1), dw(std::vector<float>(w_elems(p), 1e30f));
  fastconv::cuda::conv_implicit_gemm_fprop__cuda(p, none.p, none.p, nullptr, none.p, nullptr);
  fastconv::cuda::conv_implicit_gemm_dgrad__cuda(p, none.p, none.p, nullptr, none.p, nullptr);
  fastconv::cuda::conv_implicit_gemm_wgrad__cuda(p, none.p, none.p, dw.p, nullptr, nullptr);
  sync();
  for (float v : dw.download()) ASSERT_EQ(0.f, v);
  ConvParams bad = conv_params(1, 4, 6, 1, kUnit, {5, 3, 1, 1}, {5, 3, 1, 1});
  bad.groups = 3;
  EXPECT_FALSE(fastconv::cuda::conv_implicit_gemm_applies(bad));
  try {
    fastconv::cuda::conv_implicit_gemm_fprop__cuda(bad, none.p, none.p, nullptr, none.p, nullptr);
    FAIL() << "no error";
  } catch (const fastconv::Error& e) {
    EXPECT_NE(std::string(e.what()).find("groups 3"), std::string::npos) << e.what();
  }
}

}  // namespace
