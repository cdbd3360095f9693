// Winograd F(4x4, 3x3) forward and backward-data against direct float64 convolutions written here, at every ISA
// level the CPU has, with one and two threads (two threads and many tiles take the per-thread block path, the
// rest the phase-parallel path).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/conv_winograd.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv {
namespace {

using cpu::WinogradParams;

std::vector<float> random_vec(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(size_t(std::max<int64_t>(n, 1)));
  for (auto& x : v) x = dist(rng);
  return v;
}

// y[n,k,oh,ow] = bias[k] + sum_{c,i,j} x[n,c,oh+i-pad_h,ow+j-pad_w] w[k,c,i,j]
// Only channels k % k_step == 0 are computed (the rest stay NaN and are skipped by rel_err), to keep big cases cheap.
std::vector<double> ref_forward(const WinogradParams& p, const std::vector<float>& x, const std::vector<float>& w,
                                const float* bias, int64_t k_step = 1) {
  std::vector<double> y(size_t(p.N * p.K * p.out_h * p.out_w), std::nan(""));
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; k += k_step)
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          double s = bias ? bias[k] : 0.0;
          for (int64_t c = 0; c < p.C; ++c)
            for (int64_t i = 0; i < 3; ++i) {
              const int64_t h = oh + i - p.pad_h;
              if (h < 0 || h >= p.H) continue;
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ww = ow + j - p.pad_w;
                if (ww < 0 || ww >= p.W) continue;
                s += double(x[((n * p.C + c) * p.H + h) * p.W + ww]) * double(w[((k * p.C + c) * 3 + i) * 3 + j]);
              }
            }
          y[((n * p.K + k) * p.out_h + oh) * p.out_w + ow] = s;
        }
  return y;
}

// The adjoint of ref_forward in x: dx[n,c,h,w] = sum over every (k, oh, ow, i, j) that read x[n,c,h,w].
std::vector<double> ref_backward_data(const WinogradParams& p, const std::vector<float>& dy,
                                      const std::vector<float>& w) {
  std::vector<double> dx(size_t(p.N * p.C * p.H * p.W), 0.0);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t oh = 0; oh < p.out_h; ++oh)
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          const double g = dy[((n * p.K + k) * p.out_h + oh) * p.out_w + ow];
          for (int64_t c = 0; c < p.C; ++c)
            for (int64_t i = 0; i < 3; ++i) {
              const int64_t h = oh + i - p.pad_h;
              if (h < 0 || h >= p.H) continue;
              for (int64_t j = 0; j < 3; ++j) {
                const int64_t ww = ow + j - p.pad_w;
                if (ww < 0 || ww >= p.W) continue;
                dx[((n * p.C + c) * p.H + h) * p.W + ww] += g * double(w[((k * p.C + c) * 3 + i) * 3 + j]);
              }
            }
        }
  return dx;
}

// The adjoint of ref_forward in w: dw[k,c,i,j] = sum_{n,oh,ow} dy[n,k,oh,ow] x[n,c,oh+i-pad_h,ow+j-pad_w].
std::vector<double> ref_backward_weight(const WinogradParams& p, const std::vector<float>& x,
                                        const std::vector<float>& dy) {
  std::vector<double> dw(size_t(p.K * p.C * 9), 0.0);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k)
      for (int64_t c = 0; c < p.C; ++c)
        for (int64_t i = 0; i < 3; ++i)
          for (int64_t j = 0; j < 3; ++j) {
            double acc = 0;
            for (int64_t oh = 0; oh < p.out_h; ++oh) {
              const int64_t h = oh + i - p.pad_h;
              if (h < 0 || h >= p.H) continue;
              for (int64_t ow = 0; ow < p.out_w; ++ow) {
                const int64_t ww = ow + j - p.pad_w;
                if (ww < 0 || ww >= p.W) continue;
                acc += double(dy[((n * p.K + k) * p.out_h + oh) * p.out_w + ow]) *
                       double(x[((n * p.C + c) * p.H + h) * p.W + ww]);
              }
            }
            dw[((k * p.C + c) * 3 + i) * 3 + j] += acc;
          }
  return dw;
}

double max_weight_err = 0;  // the largest backward-weight error seen, printed at the end of each test

double rel_err(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(ref[i])) continue;
    const double d = double(got[i]) - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (int(i) <= int(cpu_features().best)) v.push_back(i);
  return v;
}

// Restores the ISA level and thread count a test changed.
struct Restore {
  Isa isa = active_isa();
  int threads = get_num_threads();
  ~Restore() {
    set_isa(isa);
    set_num_threads(threads);
  }
};

WinogradParams make(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t pad) {
  return {N, C, H, W, K, pad, pad, H + 2 * pad - 2, W + 2 * pad - 2};
}

std::string describe(const WinogradParams& p) {
  return "N=" + std::to_string(p.N) + " C=" + std::to_string(p.C) + " H=" + std::to_string(p.H) +
         " W=" + std::to_string(p.W) + " K=" + std::to_string(p.K) + " pad=" + std::to_string(p.pad_h) + "," +
         std::to_string(p.pad_w);
}

// FC_TEST_VERBOSE=1 prints every error, for the accuracy table in the report.
void report(const char* what, const WinogradParams& p, Isa isa, int threads, double err) {
  if (std::getenv("FC_TEST_VERBOSE"))
    std::printf("%s %s %s threads=%d rel_err=%.3g\n", what, describe(p).c_str(), isa_name(isa), threads, err);
}

// Workspace and output start as NaN so a kernel that reads scratch it never wrote, or skips an output, fails.
std::vector<float> nan_vec(size_t n) { return std::vector<float>(std::max<size_t>(n, 1), std::nanf("")); }

// The plan for one pass as the conv op makes it, for an ISA level, a thread count and an L2 size.
cpu::WinogradPlan plan(const WinogradParams& p, cpu::WinogradPass pass, Isa isa, int threads,
                       long l2 = cpu_features().l2_bytes) {
  return cpu::winograd_f4x3_plan(p, pass, {isa, threads, 0, l2});
}

// Runs `call(plan, out, workspace)` at every ISA the CPU has with plans for 1-3 threads (on pools of 1, 3 and 2
// threads: the plan must not depend on the pool), each time with NaN-filled output and a 64-byte-aligned
// NaN-filled workspace of exactly the plan's size (as the planner gives) followed by a guard that must stay
// untouched, and checks the output against `ref`. Both L2 sizes the rules distinguish. Returns the largest error.
template <class Call>
double sweep(const char* what, const WinogradParams& p, cpu::WinogradPass pass, const std::vector<double>& ref,
             double tol, Call call) {
  double worst = 0;
  Restore restore;
  constexpr float kGuard = -4242.f;
  for (Isa isa : isas())
    for (long l2 : {1l << 20, 2l << 20})
    for (int threads : {1, 2, 3}) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " threads=" + std::to_string(threads) + " l2=" + std::to_string(l2));
      set_num_threads(threads == 2 ? 3 : threads == 3 ? 2 : 1);
      const cpu::WinogradPlan pl = plan(p, pass, isa, threads, l2);
      if (l2 > (1l << 20) && pl.fused == plan(p, pass, isa, threads, 1l << 20).fused) continue;  // same path
      const size_t floats = cpu::winograd_f4x3_workspace_bytes(pl) / sizeof(float);
      auto ws = nan_vec(floats + 16 + 16);
      float* aligned = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(ws.data()) + 63) & ~uintptr_t(63));
      std::fill(aligned + floats, aligned + floats + 16, kGuard);
      auto out = nan_vec(ref.size());
      call(pl, out.data(), static_cast<void*>(aligned));
      for (size_t i = 0; i < 16; ++i) EXPECT_EQ(aligned[floats + i], kGuard) << "workspace overrun";
      const double err = rel_err(out, ref);
      report(what, p, isa, threads, err);
      worst = std::max(worst, err);
      EXPECT_LE(err, tol);
      EXPECT_TRUE(std::isfinite(err));
    }
  return worst;
}

// nonneg: inputs in [0, 1) like post-ReLU activations, whose non-zero mean is the harder case for the transforms.
void check_forward(const WinogradParams& p, bool with_bias, bool nonneg = false, int64_t k_step = 1,
                   double tol = 1e-4) {
  SCOPED_TRACE(describe(p) + (with_bias ? " bias" : "") + (nonneg ? " nonneg" : ""));
  auto x = random_vec(p.N * p.C * p.H * p.W, 11);
  const auto w = random_vec(p.K * p.C * 9, 12);
  if (nonneg)
    for (auto& v : x) v = 0.5f * (v + 1.f);
  const auto b = random_vec(p.K, 13);
  const auto ref = ref_forward(p, x, w, with_bias ? b.data() : nullptr, k_step);
  sweep("forward", p, cpu::WinogradPass::forward, ref, tol, [&](const cpu::WinogradPlan& pl, float* y, void* ws) {
    cpu::winograd_f4x3_forward(pl, x.data(), w.data(), with_bias ? b.data() : nullptr, y, ws);
  });
}

void check_backward(const WinogradParams& p, double tol = 1e-4) {
  SCOPED_TRACE(describe(p) + " backward_data");
  const auto dy = random_vec(p.N * p.K * p.out_h * p.out_w, 21), w = random_vec(p.K * p.C * 9, 22);
  const auto ref = ref_backward_data(p, dy, w);
  sweep("backward_data", p, cpu::WinogradPass::backward_data, ref, tol,
        [&](const cpu::WinogradPlan& pl, float* dx, void* ws) {
          cpu::winograd_f4x3_backward_data(pl, dy.data(), w.data(), dx, ws);
  });
}

void check_backward_weight(const WinogradParams& p, double tol = 1e-4) {
  SCOPED_TRACE(describe(p) + " backward_weight");
  const auto x = random_vec(p.N * p.C * p.H * p.W, 31), dy = random_vec(p.N * p.K * p.out_h * p.out_w, 32);
  const auto ref = ref_backward_weight(p, x, dy);
  const double worst = sweep("backward_weight", p, cpu::WinogradPass::backward_weight, ref, tol,
                             [&](const cpu::WinogradPlan& pl, float* dw, void* ws) {
                               cpu::winograd_f4x3_backward_weight(pl, x.data(), dy.data(), dw, ws);
                             });
  max_weight_err = std::max(max_weight_err, worst);
}

TEST(Winograd, BackwardWeightSmallAndOddShapes) {
  check_backward_weight(make(1, 1, 4, 4, 1, 0));      // one tile
  check_backward_weight(make(1, 1, 3, 3, 1, 0));      // 1x1 output
  check_backward_weight(make(1, 2, 1, 1, 3, 1));      // 1x1 image, all padding
  check_backward_weight(make(1, 3, 7, 7, 5, 1));      // partial edge tiles
  check_backward_weight(make(3, 5, 6, 9, 7, 0));
  check_backward_weight(make(2, 16, 13, 17, 16, 1));  // exact channel blocks
  check_backward_weight(make(3, 17, 13, 11, 33, 1));  // channel tails on both sides
  check_backward_weight(make(2, 20, 5, 11, 19, 2));   // padding 2
  check_backward_weight(make(1, 4, 9, 8, 6, 3));      // padding 3: all-zero border tiles
  WinogradParams p{2, 6, 9, 10, 5, 0, 1, 7, 10};
  check_backward_weight(p);
  p = {1, 6, 9, 10, 5, 2, 0, 11, 8};
  check_backward_weight(p);
  std::printf("backward_weight max rel err: %.3g\n", max_weight_err);
}

TEST(Winograd, BackwardWeightManyTiles) {
  check_backward_weight(make(3, 64, 37, 29, 64, 1));  // several tile blocks accumulated (beta = 1)
  check_backward_weight(make(2, 33, 45, 51, 47, 2));
  check_backward_weight(make(1, 64, 14, 14, 48, 0));
  check_backward_weight(make(1, 512, 7, 7, 160, 1));
  // Few tiles: the fused path (products and adjoint per 48-channel x 32-channel block); ragged blocks and panels.
  check_backward_weight(make(2, 130, 5, 6, 150, 1));
  // 80 tiles in one block and an 11 MiB Macc: built and reduced in blocks of output channels (2 x 64 here).
  check_backward_weight(make(5, 600, 16, 16, 128, 1));
  std::printf("backward_weight max rel err: %.3g\n", max_weight_err);
}

TEST(Winograd, ForwardSmallAndOddShapes) {
  check_forward(make(1, 1, 4, 4, 1, 0), false);     // one tile, no padding
  check_forward(make(1, 1, 3, 3, 1, 0), true);      // 1x1 output
  check_forward(make(1, 2, 1, 1, 3, 1), true);      // 1x1 image, all padding
  check_forward(make(1, 3, 7, 7, 5, 1), true);      // partial edge tiles
  check_forward(make(3, 5, 6, 9, 7, 0), false);
  check_forward(make(2, 16, 13, 17, 16, 1), true);  // exact channel blocks
  check_forward(make(1, 17, 13, 17, 33, 0), true);  // channel tails on both sides
  check_forward(make(2, 20, 5, 11, 19, 2), true);   // padding 2: output larger than input
  check_forward(make(1, 4, 9, 8, 6, 3), false);     // padding 3: all-zero border tiles
}

TEST(Winograd, ForwardRectangularPadding) {
  WinogradParams p{2, 6, 9, 10, 5, 0, 1, 7, 10};
  check_forward(p, true);
  p = {1, 6, 9, 10, 5, 2, 0, 11, 8};
  check_forward(p, false);
}

TEST(Winograd, ForwardNonNegativeInputs) {
  check_forward(make(1, 64, 20, 20, 32, 1), false, true);
  check_forward(make(1, 512, 7, 7, 64, 1), true, true);
}

TEST(Winograd, ForwardNetworkShapes) {
  check_forward(make(2, 64, 56, 56, 64, 1), true);  // enough tiles for several blocks per thread
  check_forward(make(1, 128, 28, 28, 96, 1), false);
  check_forward(make(1, 256, 14, 14, 256, 1), true);
  check_forward(make(1, 512, 7, 7, 512, 1), true);
  check_forward(make(1, 3, 32, 32, 64, 1), true);  // a first layer: few input channels
  // U over 10 MiB with one tile block: transformed and used in blocks of output channels (128 + 72 here).
  check_forward(make(1, 512, 6, 5, 200, 1), true);
  // Large Cin x Cout and more tiles than one block holds: the sequential multi-block path (every 61st channel
  // checked).
  check_forward(make(1, 16, 88, 88, 1024, 1), true, false, 61);
  // 100 tiles in one block: the fused path where L2 is under 2 MiB (fused_max_tiles), the packed one with 2 MiB
  // (sweep runs both).
  check_forward(make(1, 160, 40, 40, 130, 1), true, false, 7);
}

TEST(Winograd, BackwardDataSmallAndOddShapes) {
  check_backward(make(1, 1, 4, 4, 1, 0));
  check_backward(make(1, 3, 7, 7, 5, 1));
  check_backward(make(3, 5, 6, 9, 7, 0));
  check_backward(make(2, 17, 13, 17, 33, 1));
  check_backward(make(1, 2, 1, 1, 3, 1));
  check_backward(make(2, 20, 5, 11, 19, 2));
  check_backward(make(1, 4, 9, 8, 6, 3));  // padding 3: the equivalent convolution crops dy (padding -1)
  WinogradParams p{2, 6, 9, 10, 5, 0, 1, 7, 10};
  check_backward(p);
}

TEST(Winograd, BackwardDataNetworkShapes) {
  check_backward(make(2, 64, 56, 56, 64, 1));
  check_backward(make(1, 256, 14, 14, 128, 1));
  check_backward(make(1, 512, 7, 7, 512, 1));
  check_backward(make(1, 200, 6, 5, 512, 1));  // U blocks of 128 + 72 input channels of the forward conv
  check_backward(make(1, 130, 40, 40, 160, 1));  // 100 tiles: fused with a 1 MiB L2, packed with 2 MiB
}

TEST(Winograd, EmptyBatchDoesNothing) {
  const WinogradParams p = make(0, 8, 7, 7, 8, 1);
  const Isa isa = cpu_features().best;
  const cpu::WinogradPlan f = plan(p, cpu::WinogradPass::forward, isa, 2);
  const cpu::WinogradPlan d = plan(p, cpu::WinogradPass::backward_data, isa, 2);
  const cpu::WinogradPlan w = plan(p, cpu::WinogradPass::backward_weight, isa, 2);
  EXPECT_EQ(cpu::winograd_f4x3_workspace_bytes(f), 0u);
  EXPECT_EQ(cpu::winograd_f4x3_workspace_bytes(d), 0u);
  cpu::winograd_f4x3_forward(f, nullptr, nullptr, nullptr, nullptr, nullptr);
  cpu::winograd_f4x3_backward_data(d, nullptr, nullptr, nullptr, nullptr);
  // an empty batch has a zero weight gradient
  const auto x = random_vec(1, 1);
  std::vector<float> dw(8 * 8 * 9, std::nanf(""));
  auto ws = nan_vec(cpu::winograd_f4x3_workspace_bytes(w) / sizeof(float) + 16);
  cpu::winograd_f4x3_backward_weight(w, x.data(), x.data(), dw.data(), ws.data());
  for (float v : dw) ASSERT_EQ(v, 0.f);
}

// No input channels: the output is the bias (or zero); no output channels: nothing is written.
TEST(Winograd, DegenerateChannels) {
  const WinogradParams p = make(2, 0, 5, 6, 3, 1);
  const Isa isa = cpu_features().best;
  const auto b = random_vec(3, 5);
  const cpu::WinogradPlan f = plan(p, cpu::WinogradPass::forward, isa, 2);
  EXPECT_EQ(cpu::winograd_f4x3_workspace_bytes(f), 0u);
  auto y = nan_vec(size_t(2 * 3 * 5 * 6));
  cpu::winograd_f4x3_forward(f, nullptr, nullptr, b.data(), y.data(), nullptr);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], b[i / 30 % 3]);
  // backward-data of a conv with K = 0: dx = 0
  const WinogradParams q = make(2, 3, 5, 6, 0, 1);
  auto dx = nan_vec(size_t(2 * 3 * 5 * 6));
  cpu::winograd_f4x3_backward_data(plan(q, cpu::WinogradPass::backward_data, isa, 2), nullptr, nullptr, dx.data(),
                                   nullptr);
  for (float v : dx) ASSERT_EQ(v, 0.f);
}

}  // namespace
}  // namespace fastconv
