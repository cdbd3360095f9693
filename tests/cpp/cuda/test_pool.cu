// The pooling kernels (cuda/pool.cu) against the CPU reference (cpu/ref/pool_ref.h): max/min pooling with ties,
// NaN and empty windows, average pooling with every divisor rule, its backward, index scatter/gather (max-pool
// backward, max-unpool), adaptive pooling incl. global; 1-D/2-D/3-D shapes with padding, end pads, stride,
// dilation, ceil-mode-like extents, odd sizes, sizes past the block and past the grid cap.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/pool_ref.h"
#include "launch.cuh"
#include "pool.cuh"

namespace {

using fastconv::ref::AdaptiveParams;
using fastconv::ref::PoolParams;

using fc_test::DeviceBuffer;

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// |got - want| <= 1e-5 max(1, |want|); NaN must match NaN, infinities must match exactly.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) && std::isnan(g)) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g == w) continue;
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
    }
    if (!(std::fabs(double(g) - double(w)) <= 1e-5 * std::max(1.0, std::fabs(double(w)))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w;
  }
  return ::testing::AssertionSuccess();
}

// Bit-for-bit (the scatter claims the reference's exact order); NaN payloads aside.
::testing::AssertionResult same_bits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

// Values from a small set so windows have ties; `nan_every` > 0 plants NaN (and -inf) now and then.
std::vector<float> tie_inputs(int64_t n, uint32_t seed, int nan_every) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(-4, 4);
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = float(u(rng)) * 0.5f;
    if (nan_every > 0 && rng() % unsigned(nan_every) == 0)
      x[i] = (rng() & 1) ? std::numeric_limits<float>::quiet_NaN() : -std::numeric_limits<float>::infinity();
  }
  return x;
}

std::vector<float> uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> x(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (float& v : x) v = u(rng);
  return x;
}

struct Axis {
  int64_t in, k, s, p, d;
  int64_t pe_extra = 0;  // end pad beyond p (ONNX-style asymmetric pads)
  bool ceil = false;     // torch ceil_mode: the last window may start in the padding... but not past it
};

PoolParams make(const Axis (&ax)[3]) {
  PoolParams p;
  for (int a = 0; a < 3; ++a) {
    const Axis& x = ax[a];
    p.in[a] = x.in;
    p.k[a] = x.k;
    p.s[a] = x.s;
    p.p[a] = x.p;
    p.d[a] = x.d;
    p.pe[a] = x.p + x.pe_extra;
    const int64_t span = x.in + x.p + p.pe[a] - x.d * (x.k - 1) - 1;
    int64_t out = span < 0 ? 0 : (x.ceil ? (span + x.s - 1) / x.s : span / x.s) + 1;
    if (x.ceil && out > 0 && (out - 1) * x.s >= x.in + x.p) --out;  // torch's rule
    p.out[a] = out;
  }
  return p;
}

std::string describe(const PoolParams& p) {
  std::string s;
  for (int a = 0; a < 3; ++a)
    s += "[in " + std::to_string(p.in[a]) + " out " + std::to_string(p.out[a]) + " k " + std::to_string(p.k[a]) +
         " s " + std::to_string(p.s[a]) + " p " + std::to_string(p.p[a]) + "/" + std::to_string(p.pe[a]) + " d " +
         std::to_string(p.d[a]) + "]";
  return s;
}

const Axis kOne{1, 1, 1, 0, 1};

std::vector<PoolParams> pool_cases() {
  std::vector<PoolParams> v;
  // 1-D (W only)
  v.push_back(make({kOne, kOne, {1, 1, 1, 0, 1}}));
  v.push_back(make({kOne, kOne, {17, 3, 2, 1, 1}}));
  v.push_back(make({kOne, kOne, {300, 4, 1, 2, 3}}));  // past the block size
  v.push_back(make({kOne, kOne, {10, 3, 3, 1, 1, 0, true}}));
  // 2-D
  v.push_back(make({kOne, {7, 3, 2, 1, 1}, {9, 3, 2, 1, 1}}));
  v.push_back(make({kOne, {8, 2, 2, 0, 1}, {8, 2, 2, 0, 1}}));
  v.push_back(make({kOne, {11, 3, 2, 1, 2}, {13, 2, 3, 1, 2, 0, true}}));
  v.push_back(make({kOne, {5, 5, 1, 2, 1}, {6, 4, 1, 2, 1, 1}}));  // k > in, end pad beyond p
  v.push_back(make({kOne, {5, 2, 2, 0, 1, 3}, {4, 3, 1, 1, 1}}));  // end pad leaves fully-outside windows
  v.push_back(make({kOne, {6, 3, 3, 1, 1, 0, true}, {7, 2, 2, 1, 3, 0, true}}));
  // 3-D
  v.push_back(make({{4, 2, 2, 0, 1}, {5, 3, 2, 1, 1}, {6, 3, 1, 1, 1}}));
  v.push_back(make({{5, 3, 1, 1, 2}, {3, 1, 1, 0, 1}, {7, 2, 3, 1, 1, 1, true}}));
  return v;
}

const int64_t kPlanes[] = {0, 1, 3};

TEST(CudaPool, DivisorMatchesReference) {
  int checked = 0;
  for (PoolParams p : pool_cases())
    for (int mode = 0; mode < 3; ++mode) {
      p.count_include_pad = mode == 1;
      p.divisor_override = mode == 2 ? 5 : 0;
      for (int64_t od = 0; od < p.out[0]; ++od)
        for (int64_t oh = 0; oh < p.out[1]; ++oh)
          for (int64_t ow = 0; ow < p.out[2]; ++ow, ++checked)
            ASSERT_EQ(fastconv::cuda::avg_pool_divisor_hd(p, od, oh, ow),
                      fastconv::ref::avg_pool_divisor(p, od, oh, ow))
                << describe(p) << " mode " << mode;
    }
  EXPECT_GT(checked, 1000);
}

TEST(CudaPool, MaxAndMinMatchReference) {
  for (const PoolParams& p : pool_cases())
    for (int64_t planes : kPlanes)
      for (int nan_every : {0, 7})
        for (bool mn : {false, true}) {
          SCOPED_TRACE(describe(p) + " planes " + std::to_string(planes) + (mn ? " min" : " max") +
                       (nan_every ? " nan" : ""));
          const std::vector<float> x = tie_inputs(planes * p.in_plane(), 11u + uint32_t(planes), nan_every);
          const size_t no = size_t(planes * p.out_plane());
          std::vector<float> y_ref(no);
          std::vector<int64_t> i_ref(no);
          fastconv::ref::max_pool(p, x.data(), y_ref.data(), i_ref.data(), mn, 0, planes);
          DeviceBuffer<float> dx(x), dy(no);
          DeviceBuffer<int64_t> di(std::vector<int64_t>(no, -7));
          fastconv::cuda::max_pool_forward__cuda(p, dx.p, dy.p, di.p, mn, planes, nullptr);
          sync();
          EXPECT_TRUE(same_bits(dy.download(), y_ref));
          EXPECT_EQ(di.download(), i_ref);
        }
}

TEST(CudaPool, AvgForwardAndBackwardMatchReference) {
  for (PoolParams p : pool_cases())
    for (int mode = 0; mode < 3; ++mode)
      for (int64_t planes : kPlanes) {
        p.count_include_pad = mode == 1;
        p.divisor_override = mode == 2 ? 3 : 0;
        SCOPED_TRACE(describe(p) + " planes " + std::to_string(planes) + " mode " + std::to_string(mode));
        const std::vector<float> x = uniform(planes * p.in_plane(), 21u + uint32_t(planes));
        const std::vector<float> gy = uniform(planes * p.out_plane(), 22u + uint32_t(planes));
        const size_t ni = x.size(), no = gy.size();
        std::vector<float> y_ref(no), gx_ref(ni);
        fastconv::ref::avg_pool(p, x.data(), y_ref.data(), 0, planes);
        fastconv::ref::avg_pool_backward(p, gy.data(), gx_ref.data(), 0, planes);
        DeviceBuffer<float> dx(x), dgy(gy), dy(std::vector<float>(no, 9.f)), dgx(std::vector<float>(ni, 9.f));
        fastconv::cuda::avg_pool_forward__cuda(p, dx.p, dy.p, planes, nullptr);
        fastconv::cuda::avg_pool_backward__cuda(p, dgy.p, dgx.p, planes, nullptr);
        sync();
        EXPECT_TRUE(close(dy.download(), y_ref)) << "forward";
        EXPECT_TRUE(close(dgx.download(), gx_ref)) << "backward";
      }
}

// Max-pool backward = scatter of gy through the forward's indices (overlapping windows: k > s, so one input wins
// several windows); max-unpool = scatter without accumulation.
TEST(CudaPool, MaxPoolBackwardThroughIndexScatter) {
  for (const PoolParams& p : pool_cases())
    for (int64_t planes : kPlanes)
      for (bool acc : {true, false}) {
        SCOPED_TRACE(describe(p) + " planes " + std::to_string(planes) + (acc ? " accumulate" : " unpool"));
        const std::vector<float> x = tie_inputs(planes * p.in_plane(), 31u, 0);
        const size_t no = size_t(planes * p.out_plane()), ni = x.size();
        std::vector<float> y(no), gy = uniform(int64_t(no), 32u), gx_ref(ni);
        std::vector<int64_t> idx(no);
        fastconv::ref::max_pool(p, x.data(), y.data(), idx.data(), false, 0, planes);
        fastconv::ref::index_scatter(p.out_plane(), p.in_plane(), gy.data(), idx.data(), gx_ref.data(), acc, 0,
                                     planes);
        DeviceBuffer<float> dgy(gy), dgx(std::vector<float>(ni, 9.f));
        DeviceBuffer<int64_t> di(idx);
        fastconv::cuda::index_scatter__cuda(p.out_plane(), p.in_plane(), dgy.p, di.p, dgx.p, acc, planes, nullptr);
        sync();
        EXPECT_TRUE(same_bits(dgx.download(), gx_ref));
      }
}

// Arbitrary indices: duplicates inside one 256-entry tile and across tiles, out-of-range ones (negative and past
// the plane), a src plane shorter than a tile, a dst plane of one element, more planes than the 1024-block grid.
TEST(CudaPool, IndexScatterAndGatherMatchReference) {
  struct Shape {
    int64_t planes, src_plane, dst_plane;
  };
  const Shape shapes[] = {{0, 5, 5},   {1, 1, 1},     {2, 0, 7},   {3, 5, 1},  {2, 700, 37},
                          {1, 1000, 2000}, {3, 257, 300}, {1030, 3, 2}};
  for (const Shape& sh : shapes)
    for (bool acc : {true, false}) {
      SCOPED_TRACE("planes " + std::to_string(sh.planes) + " src " + std::to_string(sh.src_plane) + " dst " +
                   std::to_string(sh.dst_plane) + (acc ? " accumulate" : ""));
      const int64_t ns = sh.planes * sh.src_plane, nd = sh.planes * sh.dst_plane;
      std::mt19937 rng(41u + uint32_t(ns));
      std::uniform_int_distribution<int64_t> ui(-2, sh.dst_plane + 1);
      std::vector<int64_t> idx(static_cast<size_t>(ns));
      for (int64_t& v : idx) v = ui(rng);
      const std::vector<float> src = uniform(ns, 42u);
      std::vector<float> dst_ref(static_cast<size_t>(nd));
      fastconv::ref::index_scatter(sh.src_plane, sh.dst_plane, src.data(), idx.data(), dst_ref.data(), acc, 0,
                                   sh.planes);
      DeviceBuffer<float> dsrc(src), ddst(std::vector<float>(static_cast<size_t>(nd), 9.f));
      DeviceBuffer<int64_t> didx(idx);
      fastconv::cuda::index_scatter__cuda(sh.src_plane, sh.dst_plane, dsrc.p, didx.p, ddst.p, acc, sh.planes,
                                          nullptr);
      sync();
      EXPECT_TRUE(same_bits(ddst.download(), dst_ref)) << "scatter";

      // gather: idx planes of src_plane entries reading dst-shaped planes
      std::vector<float> g_ref(static_cast<size_t>(ns));
      fastconv::ref::index_gather(sh.src_plane, sh.dst_plane, dst_ref.data(), idx.data(), g_ref.data(), 0, sh.planes);
      DeviceBuffer<float> dg(std::vector<float>(static_cast<size_t>(ns), 9.f));
      fastconv::cuda::index_gather__cuda(sh.src_plane, sh.dst_plane, ddst.p, didx.p, dg.p, sh.planes, nullptr);
      sync();
      EXPECT_TRUE(same_bits(dg.download(), g_ref)) << "gather";
    }
}

std::vector<AdaptiveParams> adaptive_cases() {
  return {{1, 1, 1, 1},  {7, 9, 1, 1},  {7, 9, 3, 4},   {5, 5, 5, 5},  {4, 6, 7, 9},
          {10, 13, 4, 5}, {3, 300, 2, 7}, {17, 1, 5, 1}, {9, 8, 2, 3}};
}

std::string describe(const AdaptiveParams& p) {
  return std::to_string(p.in_h) + "x" + std::to_string(p.in_w) + " -> " + std::to_string(p.out_h) + "x" +
         std::to_string(p.out_w);
}

TEST(CudaPool, AdaptiveMatchesReference) {
  for (const AdaptiveParams& p : adaptive_cases())
    for (int64_t planes : kPlanes) {
      SCOPED_TRACE(describe(p) + " planes " + std::to_string(planes));
      const int64_t ni = planes * p.in_h * p.in_w, no = planes * p.out_h * p.out_w;
      const std::vector<float> x = uniform(ni, 51u), gy = uniform(no, 52u), xt = tie_inputs(ni, 53u, 9);
      std::vector<float> y_ref(static_cast<size_t>(no)), gx_ref(static_cast<size_t>(ni)), m_ref(static_cast<size_t>(no));
      std::vector<int64_t> i_ref(static_cast<size_t>(no));
      fastconv::ref::adaptive_avg_pool2d(p, x.data(), y_ref.data(), 0, planes);
      fastconv::ref::adaptive_avg_pool2d_backward(p, gy.data(), gx_ref.data(), 0, planes);
      fastconv::ref::adaptive_max_pool2d(p, xt.data(), m_ref.data(), i_ref.data(), 0, planes);
      DeviceBuffer<float> dx(x), dgy(gy), dxt(xt), dy(std::vector<float>(static_cast<size_t>(no), 9.f)),
          dgx(std::vector<float>(static_cast<size_t>(ni), 9.f)), dm(std::vector<float>(static_cast<size_t>(no), 9.f));
      DeviceBuffer<int64_t> di(std::vector<int64_t>(static_cast<size_t>(no), -7));
      fastconv::cuda::adaptive_avg_pool2d_forward__cuda(p, dx.p, dy.p, planes, nullptr);
      fastconv::cuda::adaptive_avg_pool2d_backward__cuda(p, dgy.p, dgx.p, planes, nullptr);
      fastconv::cuda::adaptive_max_pool2d_forward__cuda(p, dxt.p, dm.p, di.p, planes, nullptr);
      sync();
      EXPECT_TRUE(close(dy.download(), y_ref)) << "avg forward";
      EXPECT_TRUE(close(dgx.download(), gx_ref)) << "avg backward";
      EXPECT_TRUE(same_bits(dm.download(), m_ref)) << "max";
      EXPECT_EQ(di.download(), i_ref) << "max indices";
    }
}

// Global pooling is adaptive pooling to 1x1: the plane mean / max (first max wins) and a backward that spreads
// gy / (H W) evenly.
TEST(CudaPool, GlobalPoolingIsAdaptiveOneByOne) {
  const AdaptiveParams p{6, 11, 1, 1};
  const int64_t planes = 5, hw = 66;
  std::vector<float> x(static_cast<size_t>(planes * hw));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 13) - 6);
  std::vector<float> gy = {1.f, -2.f, 66.f, 0.5f, 3.f};
  DeviceBuffer<float> dx(x), dgy(gy), dy(static_cast<size_t>(planes)), dm(static_cast<size_t>(planes)), dgx(static_cast<size_t>(planes * hw));
  DeviceBuffer<int64_t> di(static_cast<size_t>(planes));
  fastconv::cuda::adaptive_avg_pool2d_forward__cuda(p, dx.p, dy.p, planes, nullptr);
  fastconv::cuda::adaptive_max_pool2d_forward__cuda(p, dx.p, dm.p, di.p, planes, nullptr);
  fastconv::cuda::adaptive_avg_pool2d_backward__cuda(p, dgy.p, dgx.p, planes, nullptr);
  sync();
  const std::vector<float> y = dy.download(), m = dm.download(), gx = dgx.download();
  const std::vector<int64_t> idx = di.download();
  for (int64_t pl = 0; pl < planes; ++pl) {
    double sum = 0;
    float best = -1e30f;
    int64_t bi = -1;
    for (int64_t i = 0; i < hw; ++i) {
      const float v = x[size_t(pl * hw + i)];
      sum += v;
      if (v > best) best = v, bi = i;
    }
    EXPECT_NEAR(y[size_t(pl)], sum / double(hw), 1e-6) << pl;
    EXPECT_EQ(m[size_t(pl)], best) << pl;
    EXPECT_EQ(idx[size_t(pl)], bi) << pl;
    for (int64_t i = 0; i < hw; ++i) EXPECT_EQ(gx[size_t(pl * hw + i)], gy[size_t(pl)] / float(hw)) << pl << " " << i;
  }
}

// Past the 4096 x 256 grid cap, so threads take more than one grid-stride step (k = 1 keeps the emulator quick);
// one output-indexed and one input-indexed kernel (the avg forward loops as max does).
TEST(CudaPool, GridStrideCoversPastTheGridCap) {
  const PoolParams p = make({kOne, {33, 1, 1, 0, 1}, {32, 1, 1, 0, 1}});
  const int64_t planes = 1000;  // 1000 * 33 * 32 = 1.056e6 > 4096 * 256
  const std::vector<float> x = uniform(planes * p.in_plane(), 61u);
  const size_t n = x.size();
  std::vector<float> y_ref(n), g_ref(n);
  std::vector<int64_t> i_ref(n);
  fastconv::ref::max_pool(p, x.data(), y_ref.data(), i_ref.data(), false, 0, planes);
  fastconv::ref::avg_pool_backward(p, x.data(), g_ref.data(), 0, planes);
  DeviceBuffer<float> dx(x), dy(n), dg(n);
  DeviceBuffer<int64_t> di(n);
  fastconv::cuda::max_pool_forward__cuda(p, dx.p, dy.p, di.p, false, planes, nullptr);
  fastconv::cuda::avg_pool_backward__cuda(p, dx.p, dg.p, planes, nullptr);
  sync();
  EXPECT_TRUE(same_bits(dy.download(), y_ref));
  EXPECT_EQ(di.download(), i_ref);
  EXPECT_TRUE(close(dg.download(), g_ref));
}

// The launchers are capture-safe (no allocation, no synchronization, no host reads of device memory): every one
// of them recorded into a CUDA graph on a capturing stream, nothing runs until the graph is launched, and the
// replay gives the reference's results.
TEST(CudaPool, LaunchersAreGraphCaptureSafe) {
  const PoolParams p = make({kOne, {7, 3, 2, 1, 1}, {9, 3, 2, 1, 1}});
  const AdaptiveParams a{7, 9, 3, 4};
  const int64_t planes = 2, ni = planes * p.in_plane(), no = planes * p.out_plane(), na = planes * 12;
  const std::vector<float> x = tie_inputs(ni, 71u, 0), gy = uniform(no, 72u), ga = uniform(na, 73u);
  std::vector<float> y_ref(static_cast<size_t>(no)), av_ref(static_cast<size_t>(no)), gx_ref(static_cast<size_t>(ni)), sc_ref(static_cast<size_t>(ni)),
      ga_ref(static_cast<size_t>(no)), ad_ref(static_cast<size_t>(na)), adb_ref(static_cast<size_t>(ni)), am_ref(static_cast<size_t>(na));
  std::vector<int64_t> i_ref(static_cast<size_t>(no)), ai_ref(static_cast<size_t>(na));
  fastconv::ref::max_pool(p, x.data(), y_ref.data(), i_ref.data(), false, 0, planes);
  fastconv::ref::avg_pool(p, x.data(), av_ref.data(), 0, planes);
  fastconv::ref::avg_pool_backward(p, gy.data(), gx_ref.data(), 0, planes);
  fastconv::ref::index_scatter(p.out_plane(), p.in_plane(), gy.data(), i_ref.data(), sc_ref.data(), true, 0, planes);
  fastconv::ref::index_gather(p.out_plane(), p.in_plane(), x.data(), i_ref.data(), ga_ref.data(), 0, planes);
  fastconv::ref::adaptive_avg_pool2d(a, x.data(), ad_ref.data(), 0, planes);
  fastconv::ref::adaptive_avg_pool2d_backward(a, ga.data(), adb_ref.data(), 0, planes);
  fastconv::ref::adaptive_max_pool2d(a, x.data(), am_ref.data(), ai_ref.data(), 0, planes);

  const std::vector<float> no9(static_cast<size_t>(no), 9.f), ni9(static_cast<size_t>(ni), 9.f), na9(static_cast<size_t>(na), 9.f);
  DeviceBuffer<float> dx(x), dgy(gy), dga(ga), dy(no9), dav(no9), dgx(ni9), dsc(ni9), dgg(no9), dad(na9), dadb(ni9),
      dam(na9);
  DeviceBuffer<int64_t> di(static_cast<size_t>(no)), dai(static_cast<size_t>(na));
  cudaStream_t s;
  fastconv::cuda::check(cudaStreamCreate(&s), "stream");
  fastconv::cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin capture");
  fastconv::cuda::max_pool_forward__cuda(p, dx.p, dy.p, di.p, false, planes, s);
  fastconv::cuda::avg_pool_forward__cuda(p, dx.p, dav.p, planes, s);
  fastconv::cuda::avg_pool_backward__cuda(p, dgy.p, dgx.p, planes, s);
  fastconv::cuda::index_scatter__cuda(p.out_plane(), p.in_plane(), dgy.p, di.p, dsc.p, true, planes, s);
  fastconv::cuda::index_gather__cuda(p.out_plane(), p.in_plane(), dx.p, di.p, dgg.p, planes, s);
  fastconv::cuda::adaptive_avg_pool2d_forward__cuda(a, dx.p, dad.p, planes, s);
  fastconv::cuda::adaptive_avg_pool2d_backward__cuda(a, dga.p, dadb.p, planes, s);
  fastconv::cuda::adaptive_max_pool2d_forward__cuda(a, dx.p, dam.p, dai.p, planes, s);
  cudaGraph_t g;
  fastconv::cuda::check(cudaStreamEndCapture(s, &g), "end capture");
  EXPECT_EQ(dy.download(), no9) << "capturing must not run the work";
  cudaGraphExec_t exec;
  fastconv::cuda::check(cudaGraphInstantiate(&exec, g, 0), "instantiate");
  fastconv::cuda::check(cudaGraphLaunch(exec, s), "graph launch");
  fastconv::cuda::check(cudaStreamSynchronize(s), "sync");
  EXPECT_TRUE(same_bits(dy.download(), y_ref));
  EXPECT_EQ(di.download(), i_ref);
  EXPECT_TRUE(close(dav.download(), av_ref));
  EXPECT_TRUE(close(dgx.download(), gx_ref));
  EXPECT_TRUE(same_bits(dsc.download(), sc_ref));
  EXPECT_TRUE(same_bits(dgg.download(), ga_ref));
  EXPECT_TRUE(close(dad.download(), ad_ref));
  EXPECT_TRUE(close(dadb.download(), adb_ref));
  EXPECT_TRUE(same_bits(dam.download(), am_ref));
  EXPECT_EQ(dai.download(), ai_ref);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

}  // namespace
