// The vectorised SGD update against the reference formulas: bit-identical parameters and momentum buffers for
// every configuration (weight decay, momentum, dampening, nesterov, first step, clipping scale), on a length that
// leaves a vector tail and on sub-ranges as the thread pool hands them out.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fastconv
