// The vectorised optimizer updates (SGD, Adam/AdamW, RMSprop, Adadelta, Adagrad) against the reference formulas:
// bit-identical parameters and state buffers for every configuration (weight decay, momentum, dampening, nesterov,
// first step, AdamW, amsgrad, centered, Adagrad's first step, clipping and maximize scale), on a length that leaves
// a vector tail and on sub-ranges as the thread pool hands them out.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/optim.h"
#include "cpu/ref/optim_ref.h"

namespace fastconv {
namespace {

TEST(Optim, SgdVectorisedMatchesReferenceBitForBit) {
  const int64_t n = 1037;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist;
  std::vector<float> w0(n), g(n), b0(n);
  for (int64_t i = 0; i < n; ++i) w0[i] = dist(rng), g[i] = dist(rng), b0[i] = dist(rng);
  int configs = 0;
  for (double wd : {0.0, 0.01})
    for (double mom : {0.0, 0.9})
      for (double damp : {0.0, 0.3})
        for (bool nesterov : {false, true})
          for (bool first : {false, true})
            for (float scale : {1.0f, 0.37f}) {
              if (mom == 0 && (nesterov || first || damp != 0)) continue;
              const ref::SgdParams p{0.05, mom, damp, wd, nesterov, first, scale};
              std::vector<float> wr = w0, br = b0, wf = w0, bf = b0;
              ref::sgd_update(p, wr.data(), g.data(), br.data(), 0, n);
              cpu::sgd_update(p, wf.data(), g.data(), bf.data(), 0, 500);
              cpu::sgd_update(p, wf.data(), g.data(), bf.data(), 500, n);
              SCOPED_TRACE(testing::Message() << "wd " << wd << " momentum " << mom << " dampening " << damp
                                              << " nesterov " << nesterov << " first " << first << " scale " << scale);
              EXPECT_EQ(0, std::memcmp(wr.data(), wf.data(), sizeof(float) * n));
              EXPECT_EQ(0, std::memcmp(br.data(), bf.data(), sizeof(float) * n));
              ++configs;
            }
  EXPECT_EQ(configs, 2 * (2 + 2 * 2 * 2 * 2));  // weight decay x (plain SGD, or momentum variants) x scale
}

// Buffers of one optimizer state, filled from a seed; state buffers stay positive where a sqrt reads them.
struct State {
  std::vector<float> w, g, s1, s2, s3;
  explicit State(int64_t n) : w(n), g(n), s1(n), s2(n), s3(n) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist;
    for (int64_t i = 0; i < n; ++i) {
      w[i] = dist(rng), g[i] = dist(rng), s1[i] = 0.1f * dist(rng);
      s2[i] = 0.01f + std::abs(dist(rng)), s3[i] = 0.01f + std::abs(dist(rng));
    }
  }
  bool operator==(const State& o) const {
    auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
      return std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
    };
    return same(w, o.w) && same(s1, o.s1) && same(s2, o.s2) && same(s3, o.s3);
  }
};

TEST(Optim, AdamVectorisedMatchesReferenceBitForBit) {
  const int64_t n = 1037;
  for (bool decoupled : {false, true})
    for (double wd : {0.0, 0.05})
      for (bool amsgrad : {false, true})
        for (float scale : {1.0f, 0.37f}) {
          ref::AdamParams p{0.02, 0.8, 0.9, 1e-6, wd, 1 - 0.8 * 0.8, std::sqrt(1 - 0.9 * 0.9), amsgrad, decoupled,
                            scale};
          State r(n), f(n);
          ref::adam_update(p, r.w.data(), r.g.data(), r.s1.data(), r.s2.data(), r.s3.data(), 0, n);
          cpu::adam_update(p, f.w.data(), f.g.data(), f.s1.data(), f.s2.data(), f.s3.data(), 0, 333);
          cpu::adam_update(p, f.w.data(), f.g.data(), f.s1.data(), f.s2.data(), f.s3.data(), 333, n);
          EXPECT_TRUE(r == f) << "decoupled " << decoupled << " wd " << wd << " amsgrad " << amsgrad << " scale "
                              << scale;
        }
}

TEST(Optim, RmspropVectorisedMatchesReferenceBitForBit) {
  const int64_t n = 1037;
  for (double wd : {0.0, 0.01})
    for (double mom : {0.0, 0.5})
      for (bool centered : {false, true})
        for (float scale : {1.0f, 0.37f}) {
          ref::RmspropParams p{0.01, 0.9, 1e-8, wd, mom, centered, scale};
          State r(n), f(n);
          // s3 (the centred average) stays below sqrt(square_avg) so the centred variance is positive.
          for (int64_t i = 0; i < n; ++i) r.s3[i] = f.s3[i] = 0.1f * std::sqrt(r.s2[i]);
          ref::rmsprop_update(p, r.w.data(), r.g.data(), r.s2.data(), r.s1.data(), r.s3.data(), 0, n);
          cpu::rmsprop_update(p, f.w.data(), f.g.data(), f.s2.data(), f.s1.data(), f.s3.data(), 0, 333);
          cpu::rmsprop_update(p, f.w.data(), f.g.data(), f.s2.data(), f.s1.data(), f.s3.data(), 333, n);
          EXPECT_TRUE(r == f) << "wd " << wd << " momentum " << mom << " centered " << centered << " scale "
                              << scale;
        }
}

TEST(Optim, AdadeltaVectorisedMatchesReferenceBitForBit) {
  const int64_t n = 1037;
  for (double wd : {0.0, 0.05})
    for (float scale : {1.0f, 0.37f, -1.0f}) {
      const ref::AdadeltaParams p{0.9, 0.8, 1e-6, wd, scale};
      State r(n), f(n);
      ref::adadelta_update(p, r.w.data(), r.g.data(), r.s2.data(), r.s3.data(), 0, n);
      cpu::adadelta_update(p, f.w.data(), f.g.data(), f.s2.data(), f.s3.data(), 0, 333);
      cpu::adadelta_update(p, f.w.data(), f.g.data(), f.s2.data(), f.s3.data(), 333, n);
      EXPECT_TRUE(r == f) << "wd " << wd << " scale " << scale;
      EXPECT_FALSE(r == State(n)) << "the update changed nothing";
    }
}

TEST(Optim, AdagradVectorisedMatchesReferenceBitForBit) {
  const int64_t n = 1037;
  for (double wd : {0.0, 0.05})
    for (bool first : {false, true})
      for (float scale : {1.0f, 0.37f, -1.0f}) {
        const ref::AdagradParams p{0.05, 0.1, wd, 1e-10, 0.3, 0.05 / (1 + 2 * 0.1), first, scale};
        State r(n), f(n);
        ref::adagrad_update(p, r.w.data(), r.g.data(), r.s2.data(), 0, n);
        cpu::adagrad_update(p, f.w.data(), f.g.data(), f.s2.data(), 0, 333);
        cpu::adagrad_update(p, f.w.data(), f.g.data(), f.s2.data(), 333, n);
        EXPECT_TRUE(r == f) << "wd " << wd << " first " << first << " scale " << scale;
        // the first step starts the sum from initial_accumulator_value, later ones from the state
        const State s0(n);
        const float g0 = s0.g[0] * scale + float(wd) * s0.w[0];
        EXPECT_EQ(r.s2[0], (first ? 0.3f : s0.s2[0]) + g0 * g0);
      }
}

}  // namespace
}  // namespace fastconv
