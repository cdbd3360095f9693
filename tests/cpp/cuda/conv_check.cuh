// Shared by the convolution kernel tests (test_conv.cu, test_conv_depthwise.cu, test_conv_implicit_gemm.cu,
// test_conv_winograd.cu): geometries built per axis, deterministic random data (uniform_data, which test_fold.cu and
// test_resize.cu draw from too), and the check against the CPU reference (cpu/ref/conv_ref.h).
//
// Tolerance: |got - ref| <= tol * bound elementwise, bound being the same reference pass run on the absolute
// values of the inputs (sum of |a| |b| over the terms, plus |bias|): rounding error scales with that sum, while a
// missed, extra or misplaced term misses it by orders of magnitude (the data are O(1) and of both signs).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "cpu/conv_params.h"

namespace fc_test {

using fastconv::cpu::ConvParams;

struct Axis {
  int64_t in, k, stride = 1, pad = 0, dil = 1, extra = 0;  // out = natural + extra
};
inline const Axis kUnit{1, 1};

inline ConvParams conv_params(int64_t N, int64_t C, int64_t K, int64_t groups, Axis d, Axis h, Axis w) {
  ConvParams p;
  p.N = N, p.C = C, p.K = K, p.groups = groups;
  const Axis ax[3] = {d, h, w};
  for (int i = 0; i < 3; ++i) {
    p.in[i] = ax[i].in, p.k[i] = ax[i].k, p.stride[i] = ax[i].stride, p.pad[i] = ax[i].pad, p.dil[i] = ax[i].dil;
    p.out[i] = (ax[i].in + 2 * ax[i].pad - ax[i].dil * (ax[i].k - 1) - 1) / ax[i].stride + 1 + ax[i].extra;
  }
  return p;
}

inline std::string describe(const ConvParams& p) {
  std::string s = "N" + std::to_string(p.N) + " C" + std::to_string(p.C) + " K" + std::to_string(p.K) + " G" +
                  std::to_string(p.groups);
  for (int i = 0; i < 3; ++i)
    s += " [in " + std::to_string(p.in[i]) + " k " + std::to_string(p.k[i]) + " s " + std::to_string(p.stride[i]) +
         " p " + std::to_string(p.pad[i]) + " d " + std::to_string(p.dil[i]) + " out " + std::to_string(p.out[i]) +
         "]";
  return s;
}

inline size_t x_elems(const ConvParams& p) { return size_t(p.N * p.C * p.in[0] * p.in[1] * p.in[2]); }
inline size_t y_elems(const ConvParams& p) { return size_t(p.N * p.K * p.out[0] * p.out[1] * p.out[2]); }
inline size_t w_elems(const ConvParams& p) { return size_t(p.K * (p.C / p.groups) * p.k[0] * p.k[1] * p.k[2]); }

inline std::vector<float> uniform_data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

inline std::vector<float> abs_of(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

inline ::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want,
                                        const std::vector<float>& bound, double tol) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= tol * double(bound[i])))
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i] << " (err "
                                           << err << ", bound " << bound[i] << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace fc_test
