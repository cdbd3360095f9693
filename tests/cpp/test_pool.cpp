// Fast 2-D pooling kernels against the reference kernels, directly (no graph), at every ISA level the CPU has:
// random shapes and window settings, integer-valued data (many ties) with NaNs, exact values and indices for
// max/min pooling, close values for average pooling and its backward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cpu/pool.h"
#include "cpu/ref/pool_ref.h"
#include "fastconv/cpu_features.h"

namespace fastconv {
namespace {

struct Kernels {
  const char* isa;
  cpu::MaxPoolKernel max;
  cpu::AvgPoolKernel avg, avg_bwd;
};

std::vector<Kernels> available() {
  std::vector<Kernels> ks;
  const Isa best = cpu_features().best;
  if (best >= Isa::avx2)
    ks.push_back({"avx2", cpu::max_pool2d__avx2, cpu::avg_pool2d__avx2, cpu::avg_pool2d_backward__avx2});
  if (best >= Isa::avx512)
    ks.push_back({"avx512", cpu::max_pool2d__avx512, cpu::avg_pool2d__avx512, cpu::avg_pool2d_backward__avx512});
  return ks;
}

// A valid random 2-D configuration (PyTorch's output-size rule, padding <= kernel / 2).
ref::PoolParams random_params(std::mt19937& rng, bool dilate) {
  auto pick = [&](int lo, int hi) { return int64_t(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  for (;;) {
    ref::PoolParams p;
    for (int a = 1; a < 3; ++a) {
      p.k[a] = pick(1, 4);
      p.s[a] = a == 2 ? pick(1, 2) : pick(1, 3);
      p.p[a] = pick(0, int(p.k[a] / 2));
      p.d[a] = dilate ? pick(1, 2) : 1;
      p.in[a] = pick(1, a == 2 ? 70 : 9);
      const bool ceil = pick(0, 1);
      int64_t num = p.in[a] + 2 * p.p[a] - p.d[a] * (p.k[a] - 1) - 1 + (ceil ? p.s[a] - 1 : 0);
      if (num < 0) p.out[a] = 0;
      else p.out[a] = num / p.s[a] + 1;
      if (ceil && p.out[a] > 0 && (p.out[a] - 1) * p.s[a] >= p.in[a] + p.p[a]) --p.out[a];
    }
    p.count_include_pad = pick(0, 1);
    p.divisor_override = pick(0, 3) == 0 ? 5 : 0;
    if (p.out[1] > 0 && p.out[2] > 0) return p;
  }
}

std::string describe(const ref::PoolParams& p) {
  std::string s;
  for (int a = 1; a < 3; ++a)
    s += "in=" + std::to_string(p.in[a]) + " k=" + std::to_string(p.k[a]) + " s=" + std::to_string(p.s[a]) +
         " p=" + std::to_string(p.p[a]) + " d=" + std::to_string(p.d[a]) + " out=" + std::to_string(p.out[a]) + "; ";
  return s;
}

TEST(Pool2dKernels, MaxAndMinMatchReferenceExactly) {
  std::mt19937 rng(7);
  for (const Kernels& k : available()) {
    for (int it = 0; it < 300; ++it) {
      const ref::PoolParams p = random_params(rng, true);
      const int64_t planes = 3, in = p.in[1] * p.in[2], out = p.out[1] * p.out[2];
      std::vector<float> x(size_t(planes * in));
      for (auto& v : x) v = float(std::uniform_int_distribution<int>(-2, 2)(rng));
      if (it % 3 == 0) x[size_t(std::uniform_int_distribution<int64_t>(0, planes * in - 1)(rng))] = NAN;
      for (bool min : {false, true}) {
        std::vector<float> y0(size_t(planes * out)), y1(y0.size());
        std::vector<int64_t> i0(y0.size()), i1(y0.size());
        ref::max_pool(p, x.data(), y0.data(), i0.data(), min, 0, planes);
        k.max(p, x.data(), y1.data(), i1.data(), min, 0, planes);
        for (size_t i = 0; i < y0.size(); ++i) {
          ASSERT_EQ(i0[i], i1[i]) << k.isa << " min=" << min << " at " << i << ": " << describe(p);
          ASSERT_TRUE(y0[i] == y1[i] || (std::isnan(y0[i]) && std::isnan(y1[i])))
              << k.isa << " min=" << min << " at " << i << ": " << describe(p);
        }
      }
    }
  }
}

TEST(Pool2dKernels, AvgForwardAndBackwardMatchReference) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const Kernels& k : available()) {
    for (int it = 0; it < 300; ++it) {
      const ref::PoolParams p = random_params(rng, false);
      const int64_t planes = 2, in = p.in[1] * p.in[2], out = p.out[1] * p.out[2];
      std::vector<float> x(size_t(planes * in)), g(size_t(planes * out));
      for (auto& v : x) v = dist(rng);
      for (auto& v : g) v = dist(rng);
      std::vector<float> y0(g.size()), y1(g.size()), gx0(x.size()), gx1(x.size(), 123.f);
      ref::avg_pool(p, x.data(), y0.data(), 0, planes);
      k.avg(p, x.data(), y1.data(), 0, planes);
      ref::avg_pool_backward(p, g.data(), gx0.data(), 0, planes);
      k.avg_bwd(p, g.data(), gx1.data(), 0, planes);
      for (size_t i = 0; i < y0.size(); ++i)
        ASSERT_NEAR(y0[i], y1[i], 1e-5f) << k.isa << " forward at " << i << ": " << describe(p);
      for (size_t i = 0; i < gx0.size(); ++i)
        ASSERT_NEAR(gx0[i], gx1[i], 1e-5f) << k.isa << " backward at " << i << ": " << describe(p);
    }
  }
}

}  // namespace
}  // namespace fastconv
