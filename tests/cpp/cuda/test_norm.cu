// The normalization kernels (cuda/norm.cu, cuda/norm_row.cu) against the CPU reference (cpu/ref/norm_ref.h):
// batch norm training/eval forward and backward (running stats included), group/layer norm, local response norm,
// over odd shapes, size-1 and empty dimensions, shapes past one reduction chunk (4096 values) and a far-from-zero
// mean; and run-to-run bit identity of the reductions.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/norm_ref.h"
#include "launch.cuh"
#include "norm.cuh"

namespace {

namespace ref = fastconv::ref;
namespace fc = fastconv::cuda;

using fc_test::DeviceBuffer;

void sync() { fc::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

std::vector<float> randv(int64_t n, uint32_t seed, float lo = -2.f, float hi = 2.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, double tol = 1e-5) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= tol * std::max(1.0, std::fabs(double(want[i])))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

struct BnShape {
  int64_t N, C, S;
  float offset;  // added to x: a mean far from zero
};
// 3*2*1500 = 9000 values a channel: three chunks, the last partial. S = 1 (channel = column): N past one
// 64-row chunk, C past one 256-channel tile.
const BnShape kBnShapes[] = {{1, 1, 1, 0.f},  {2, 3, 5, 0.f},   {0, 3, 4, 0.f},    {3, 2, 1500, 100.f},
                             {5, 7, 13, 0.f}, {1, 4, 257, 3.f}, {17, 1, 1, -5.f}, {2, 300, 3, 0.f},
                             {150, 37, 1, 2.f}, {130, 300, 1, 0.f}};

TEST(CudaNorm, BatchNormForwardBackwardMatchReference) {
  for (const BnShape& sh : kBnShapes)
    for (int mode = 0; mode < 4; ++mode) {  // bit 0: training; bit 1: affine and running stats given
      const bool training = mode & 1, full = mode & 2;
      if (!training && !full) continue;  // eval needs the running stats
      SCOPED_TRACE("N=" + std::to_string(sh.N) + " C=" + std::to_string(sh.C) + " S=" + std::to_string(sh.S) +
                   " mode=" + std::to_string(mode));
      ref::BatchNormParams p;
      p.N = sh.N, p.C = sh.C, p.S = sh.S, p.training = training, p.momentum = 0.3f, p.eps = 1e-5f;
      const int64_t n = sh.N * sh.C * sh.S;
      std::vector<float> x = randv(n, 11u + uint32_t(n)), g = randv(n, 12u + uint32_t(n));
      for (float& v : x) v += sh.offset;
      const std::vector<float> w = randv(sh.C, 3u, 0.5f, 1.5f), b = randv(sh.C, 4u);
      std::vector<float> rm = randv(sh.C, 5u), rv = randv(sh.C, 6u, 0.5f, 2.f);
      const size_t un = static_cast<size_t>(n), uc = static_cast<size_t>(sh.C);
      std::vector<float> y(un), sm(uc), si(uc), rm_ref = rm, rv_ref = rv;
      ref::batch_norm(p, x.data(), full ? w.data() : nullptr, full ? b.data() : nullptr,
                      full ? rm_ref.data() : nullptr, full ? rv_ref.data() : nullptr, y.data(), sm.data(), si.data());
      std::vector<float> dx(un), dw(uc), db(uc);
      ref::batch_norm_backward(p, g.data(), x.data(), full ? w.data() : nullptr, sm.data(), si.data(), dx.data(),
                               dw.data(), db.data());

      DeviceBuffer<float> dx_(x), dg(g), dwt(w), dbs(b), drm(rm), drv(rv), dy(un), dsm(uc), dsi(uc), ddx(un), ddw(uc),
          ddb(uc);
      DeviceBuffer<char> ws(std::max(fc::batch_norm_forward_workspace_bytes(p),
                                     fc::batch_norm_backward_workspace_bytes(p)));
      fc::batch_norm_forward__cuda(p, dx_.p, full ? dwt.p : nullptr, full ? dbs.p : nullptr, full ? drm.p : nullptr,
                                   full ? drv.p : nullptr, dy.p, dsm.p, dsi.p, ws.p, nullptr);
      sync();
      EXPECT_TRUE(close(dy.download(), y)) << "y";
      EXPECT_TRUE(close(dsm.download(), sm)) << "save_mean";
      EXPECT_TRUE(close(dsi.download(), si)) << "save_invstd";
      if (full) {
        EXPECT_TRUE(close(drm.download(), rm_ref)) << "running_mean";
        EXPECT_TRUE(close(drv.download(), rv_ref)) << "running_var";
      }
      // the backward from the reference's saved statistics, so its check does not depend on the forward's
      dsm.upload(sm);
      dsi.upload(si);
      fc::batch_norm_backward__cuda(p, dg.p, dx_.p, full ? dwt.p : nullptr, dsm.p, dsi.p, ddx.p, ddw.p, ddb.p, ws.p,
                                    nullptr);
      sync();
      EXPECT_TRUE(close(ddx.download(), dx)) << "dx";
      // sums of up to 9000 O(1) terms: relative to the sum's scale
      EXPECT_TRUE(close(ddw.download(), dw, 1e-5)) << "dweight";
      EXPECT_TRUE(close(ddb.download(), db, 1e-5)) << "dbias";
    }
}

TEST(CudaNorm, BatchNormBackwardNullOutputs) {
  ref::BatchNormParams p;
  p.N = 3, p.C = 4, p.S = 7, p.training = true;
  const int64_t n = 84;
  const std::vector<float> x = randv(n, 1u), g = randv(n, 2u), sm = randv(4, 3u), si = randv(4, 4u, 0.5f, 2.f);
  std::vector<float> dx(n), dw(4), db(4);
  ref::batch_norm_backward(p, g.data(), x.data(), nullptr, sm.data(), si.data(), dx.data(), dw.data(), db.data());
  DeviceBuffer<float> dx_(x), dg(g), dsm(sm), dsi(si), ddx(n), ddw(4);
  DeviceBuffer<char> ws(fc::batch_norm_backward_workspace_bytes(p));
  fc::batch_norm_backward__cuda(p, dg.p, dx_.p, nullptr, dsm.p, dsi.p, ddx.p, nullptr, nullptr, ws.p, nullptr);
  fc::batch_norm_backward__cuda(p, dg.p, dx_.p, nullptr, dsm.p, dsi.p, nullptr, ddw.p, nullptr, ws.p, nullptr);
  sync();
  EXPECT_TRUE(close(ddx.download(), dx));
  EXPECT_TRUE(close(ddw.download(), dw));
}

TEST(CudaNorm, BatchNormIsBitReproducible) {
  ref::BatchNormParams p;
  p.N = 4, p.C = 3, p.S = 2100, p.training = true;
  const int64_t n = p.N * p.C * p.S;
  const std::vector<float> x = randv(n, 8u), g = randv(n, 9u);
  DeviceBuffer<float> dx_(x), dg(g), dy(n), dsm(3), dsi(3), ddx(n), ddw(3), ddb(3);
  DeviceBuffer<char> ws(fc::batch_norm_backward_workspace_bytes(p));
  std::vector<float> first;
  for (int rep = 0; rep < 2; ++rep) {
    fc::batch_norm_forward__cuda(p, dx_.p, nullptr, nullptr, nullptr, nullptr, dy.p, dsm.p, dsi.p, ws.p, nullptr);
    fc::batch_norm_backward__cuda(p, dg.p, dx_.p, nullptr, dsm.p, dsi.p, ddx.p, ddw.p, ddb.p, ws.p, nullptr);
    sync();
    std::vector<float> all = dy.download();
    for (auto* b : {&dsm, &dsi, &ddx, &ddw, &ddb}) {
      const std::vector<float> v = b->download();
      all.insert(all.end(), v.begin(), v.end());
    }
    if (rep == 0) first = all;
    else EXPECT_EQ(all, first);
  }
}

// Training forward and backward captured into one CUDA graph (the launchers are capture-safe) and replayed twice:
// the running stats move twice, the other outputs are the reference's.
TEST(CudaNorm, BatchNormCapturesIntoAGraph) {
  ref::BatchNormParams p;
  p.N = 3, p.C = 5, p.S = 70, p.training = true, p.momentum = 0.2f;
  const int64_t n = p.N * p.C * p.S;
  const std::vector<float> x = randv(n, 41u), g = randv(n, 42u), w = randv(5, 43u), b = randv(5, 44u);
  std::vector<float> rm = randv(5, 45u), rv = randv(5, 46u, 0.5f, 2.f), y(n), sm(5), si(5), dx(n), dw(5), db(5);
  DeviceBuffer<float> dx_(x), dg(g), dwt(w), dbs(b), drm(rm), drv(rv), dy(n), dsm(5), dsi(5), ddx(n), ddw(5), ddb(5);
  DeviceBuffer<char> ws(
      std::max(fc::batch_norm_forward_workspace_bytes(p), fc::batch_norm_backward_workspace_bytes(p)));
  cudaStream_t s;
  fc::check(cudaStreamCreate(&s), "stream");
  fc::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin");
  fc::batch_norm_forward__cuda(p, dx_.p, dwt.p, dbs.p, drm.p, drv.p, dy.p, dsm.p, dsi.p, ws.p, s);
  fc::batch_norm_backward__cuda(p, dg.p, dx_.p, dwt.p, dsm.p, dsi.p, ddx.p, ddw.p, ddb.p, ws.p, s);
  cudaGraph_t graph;
  fc::check(cudaStreamEndCapture(s, &graph), "end");
  cudaGraphExec_t exec;
  fc::check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int r = 0; r < 2; ++r) {
    fc::check(cudaGraphLaunch(exec, s), "graph launch");
    ref::batch_norm(p, x.data(), w.data(), b.data(), rm.data(), rv.data(), y.data(), sm.data(), si.data());
  }
  ref::batch_norm_backward(p, g.data(), x.data(), w.data(), sm.data(), si.data(), dx.data(), dw.data(), db.data());
  fc::check(cudaStreamSynchronize(s), "sync");
  EXPECT_TRUE(close(dy.download(), y)) << "y";
  EXPECT_TRUE(close(drm.download(), rm)) << "running_mean";
  EXPECT_TRUE(close(drv.download(), rv)) << "running_var";
  EXPECT_TRUE(close(ddx.download(), dx)) << "dx";
  EXPECT_TRUE(close(ddw.download(), dw)) << "dweight";
  EXPECT_TRUE(close(ddb.download(), db)) << "dbias";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

struct RowShape {
  int64_t M, D, G, inner;
};
// layer norm (G = 1, inner = 1) and group norm (rows = N * G, inner = spatial); D past the block size; a group's
// values past one chunk (M/G rows * inner = 3 * 2000 = 6000); layer norm's columns past one 64-row chunk.
const RowShape kRowShapes[] = {{1, 1, 1, 1},   {3, 5, 1, 1},     {7, 300, 1, 1}, {0, 4, 1, 1},   {6, 12, 3, 4},
                               {4, 9, 2, 3},   {2, 1, 2, 1},     {9, 4000, 3, 2000}, {5, 257, 1, 257}, {33, 2, 1, 1},
                               {150, 300, 1, 1}, {131, 5, 2, 1}};

TEST(CudaNorm, RowNormForwardBackwardMatchReference) {
  for (const RowShape& sh : kRowShapes)
    for (int affine = 0; affine < 2; ++affine) {
      SCOPED_TRACE("M=" + std::to_string(sh.M) + " D=" + std::to_string(sh.D) + " G=" + std::to_string(sh.G) +
                   " inner=" + std::to_string(sh.inner) + " affine=" + std::to_string(affine));
      ref::RowNormParams p;
      p.M = sh.M, p.D = sh.D, p.G = sh.G, p.inner = sh.inner;
      const int64_t n = sh.M * sh.D, A = p.affine_size();
      std::vector<float> x = randv(n, 21u + uint32_t(n), -3.f, 5.f), g = randv(n, 22u + uint32_t(n));
      const std::vector<float> w = randv(A, 23u, 0.5f, 1.5f), b = randv(A, 24u);
      const float* wp = affine ? w.data() : nullptr;
      std::vector<float> y(n), mean(sh.M), rstd(sh.M), dx(n), dw(A), db(A);
      ref::row_norm(p, x.data(), wp, affine ? b.data() : nullptr, y.data(), mean.data(), rstd.data());
      ref::row_norm_backward(p, g.data(), x.data(), wp, mean.data(), rstd.data(), dx.data(), dw.data(), db.data());

      DeviceBuffer<float> dx_(x), dg(g), dwt(w), dbs(b), dy(n), dmean(sh.M), drstd(sh.M), ddx(n), ddw(A), ddb(A);
      DeviceBuffer<char> ws(fc::row_norm_backward_workspace_bytes(p));
      fc::row_norm_forward__cuda(p, dx_.p, affine ? dwt.p : nullptr, affine ? dbs.p : nullptr, dy.p, dmean.p,
                                 drstd.p, nullptr);
      sync();
      EXPECT_TRUE(close(dy.download(), y)) << "y";
      EXPECT_TRUE(close(dmean.download(), mean)) << "mean";
      EXPECT_TRUE(close(drstd.download(), rstd)) << "rstd";
      dmean.upload(mean);
      drstd.upload(rstd);
      fc::row_norm_backward__cuda(p, dg.p, dx_.p, affine ? dwt.p : nullptr, dmean.p, drstd.p, ddx.p, ddw.p, ddb.p,
                                  ws.p, nullptr);
      sync();
      EXPECT_TRUE(close(ddx.download(), dx)) << "dx";
      EXPECT_TRUE(close(ddw.download(), dw)) << "dweight";
      EXPECT_TRUE(close(ddb.download(), db)) << "dbias";
    }
}

TEST(CudaNorm, LocalResponseNormMatchesReference) {
  struct Shape {
    int64_t N, C, S, size;
  };
  const Shape shapes[] = {{1, 1, 1, 1}, {2, 5, 3, 2}, {3, 7, 11, 5}, {1, 4, 300, 9}, {0, 3, 3, 3}, {2, 6, 1, 4}};
  for (const Shape& sh : shapes) {
    SCOPED_TRACE("N=" + std::to_string(sh.N) + " C=" + std::to_string(sh.C) + " S=" + std::to_string(sh.S) +
                 " size=" + std::to_string(sh.size));
    ref::LrnParams p;
    p.N = sh.N, p.C = sh.C, p.S = sh.S, p.size = sh.size, p.alpha = 0.3f, p.beta = 0.75f, p.k = 2.f;
    const int64_t n = sh.N * sh.C * sh.S;
    const std::vector<float> x = randv(n, 31u + uint32_t(n), -3.f, 3.f), g = randv(n, 32u + uint32_t(n));
    std::vector<float> y(n), scale(n), dx(n);
    ref::local_response_norm(p, x.data(), y.data(), scale.data(), 0, sh.N);
    ref::local_response_norm_backward(p, g.data(), x.data(), y.data(), scale.data(), dx.data(), 0, sh.N);
    DeviceBuffer<float> dx_(x), dg(g), dy(n), dsc(n), ddx(n);
    fc::local_response_norm_forward__cuda(p, dx_.p, dy.p, dsc.p, nullptr);
    sync();
    EXPECT_TRUE(close(dy.download(), y)) << "y";
    EXPECT_TRUE(close(dsc.download(), scale)) << "scale";
    dy.upload(y);
    dsc.upload(scale);
    fc::local_response_norm_backward__cuda(p, dg.p, dx_.p, dy.p, dsc.p, ddx.p, nullptr);
    sync();
    EXPECT_TRUE(close(ddx.download(), dx)) << "dx";
  }
}

}  // namespace
