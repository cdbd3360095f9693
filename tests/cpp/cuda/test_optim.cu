// The optimizer kernels (cuda/optim.cu) against cpu/ref/optim_ref.h over three successive steps (so the state
// buffers are exercised), every option combination, sizes around the block size, the device grad-scale pointer
// (with the maximize sign too), the device lr and step index (Adagrad's lr_decay and first step); and
// sum_squares / max_abs against the reference, including NaN (skipped by max_abs), sizes around the 4096-value
// chunk and more chunks than the final block has threads.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "cpu/ref/optim_ref.h"
#include "launch.cuh"
#include "optim.cuh"

namespace {

namespace ref = fastconv::ref;
namespace fc = fastconv::cuda;

using fc_test::DeviceBuffer;

void sync() { fc::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

std::vector<float> randv(int64_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i]));
    if (!(err <= 1e-6 * std::max(std::fabs(double(want[i])), 1e-6)))
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  }
  return ::testing::AssertionSuccess();
}

const int64_t kSizes[] = {0, 1, 257, 5003};

TEST(CudaOptim, SgdMatchesReference) {
  for (int64_t n : kSizes)
    for (int cfg = 0; cfg < 16; ++cfg) {
      const double mom = (cfg & 1) ? 0.9 : 0.0, damp = (cfg & 2) ? 0.1 : 0.0, wd = (cfg & 4) ? 1e-2 : 0.0;
      const bool nesterov = (cfg & 8) && mom != 0, dev_gs = cfg & 8;
      const float sign = (cfg & 2) ? -1.f : 1.f;  // maximize: the reference scales by -coefficient
      SCOPED_TRACE("n=" + std::to_string(n) + " cfg=" + std::to_string(cfg));
      std::vector<float> w = randv(n, 1u), buf(static_cast<size_t>(n), 0.f);
      DeviceBuffer<float> dw(w), dbuf(buf), dg(static_cast<size_t>(n)), dgs(std::vector<float>{0.75f});
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> g = randv(n, 10u + uint32_t(step));
        const float gs = sign * (dev_gs ? 0.75f : (step == 1 ? 0.5f : 1.f));
        ref::SgdParams p{0.05, mom, damp, wd, nesterov, step == 0, gs};
        ref::sgd_update(p, w.data(), g.data(), mom != 0 ? buf.data() : nullptr, 0, n);
        dg.upload(g);
        ref::SgdParams q = p;
        if (dev_gs) q.grad_scale = sign * 3.f;  // only its sign counts next to the device value
        fc::sgd_update__cuda(q, dw.p, dg.p, mom != 0 ? dbuf.p : nullptr, n, nullptr, dev_gs ? dgs.p : nullptr);
      }
      sync();
      EXPECT_TRUE(close(dw.download(), w)) << "param";
      EXPECT_TRUE(close(dbuf.download(), buf)) << "buf";
    }
}

TEST(CudaOptim, AdamMatchesReference) {
  for (int64_t n : kSizes)
    for (int cfg = 0; cfg < 16; ++cfg) {
      const bool amsgrad = cfg & 1, decoupled = cfg & 2, dev_gs = cfg & 8;
      const double wd = (cfg & 4) ? 1e-2 : 0.0, b1 = 0.9, b2 = 0.999;
      SCOPED_TRACE("n=" + std::to_string(n) + " cfg=" + std::to_string(cfg));
      std::vector<float> w = randv(n, 2u), m(static_cast<size_t>(n), 0.f), v(m), vmax(m);
      DeviceBuffer<float> dw(w), dm(m), dv(v), dvmax(vmax), dg(static_cast<size_t>(n)),
          dgs(std::vector<float>{0.75f});
      for (int step = 1; step <= 3; ++step) {
        const std::vector<float> g = randv(n, 20u + uint32_t(step), -3.f, 3.f);
        ref::AdamParams p{1e-3, b1, b2, 1e-8, wd, 1 - std::pow(b1, step), std::sqrt(1 - std::pow(b2, step)),
                          amsgrad, decoupled, dev_gs ? 0.75f : (step == 2 ? 0.5f : 1.f)};
        ref::adam_update(p, w.data(), g.data(), m.data(), v.data(), amsgrad ? vmax.data() : nullptr, 0, n);
        dg.upload(g);
        fc::adam_update__cuda(p, dw.p, dg.p, dm.p, dv.p, amsgrad ? dvmax.p : nullptr, n, nullptr,
                              dev_gs ? dgs.p : nullptr);
      }
      sync();
      EXPECT_TRUE(close(dw.download(), w)) << "param";
      EXPECT_TRUE(close(dm.download(), m)) << "exp_avg";
      EXPECT_TRUE(close(dv.download(), v)) << "exp_avg_sq";
      if (amsgrad) EXPECT_TRUE(close(dvmax.download(), vmax)) << "max_exp_avg_sq";
    }
}

TEST(CudaOptim, RmspropMatchesReference) {
  for (int64_t n : kSizes)
    for (int cfg = 0; cfg < 16; ++cfg) {
      const bool centered = cfg & 1, dev_gs = cfg & 8;
      const double mom = (cfg & 2) ? 0.9 : 0.0, wd = (cfg & 4) ? 1e-2 : 0.0;
      SCOPED_TRACE("n=" + std::to_string(n) + " cfg=" + std::to_string(cfg));
      std::vector<float> w = randv(n, 3u), sq(static_cast<size_t>(n), 0.f), buf(sq), gavg(sq);
      DeviceBuffer<float> dw(w), dsq(sq), dbuf(buf), dgavg(gavg), dg(static_cast<size_t>(n)),
          dgs(std::vector<float>{0.75f});
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> g = randv(n, 30u + uint32_t(step), -2.f, 2.f);
        ref::RmspropParams p{1e-2, 0.99, 1e-8, wd, mom, centered, dev_gs ? 0.75f : (step == 1 ? 0.5f : 1.f)};
        ref::rmsprop_update(p, w.data(), g.data(), sq.data(), mom != 0 ? buf.data() : nullptr,
                            centered ? gavg.data() : nullptr, 0, n);
        dg.upload(g);
        fc::rmsprop_update__cuda(p, dw.p, dg.p, dsq.p, mom != 0 ? dbuf.p : nullptr, centered ? dgavg.p : nullptr, n,
                                 nullptr, dev_gs ? dgs.p : nullptr);
      }
      sync();
      EXPECT_TRUE(close(dw.download(), w)) << "param";
      EXPECT_TRUE(close(dsq.download(), sq)) << "square_avg";
      EXPECT_TRUE(close(dbuf.download(), buf)) << "buf";
      EXPECT_TRUE(close(dgavg.download(), gavg)) << "grad_avg";
    }
}

TEST(CudaOptim, AdadeltaMatchesReference) {
  for (int64_t n : kSizes)
    for (int cfg = 0; cfg < 8; ++cfg) {
      const bool dev_gs = cfg & 1, dev_lr = cfg & 4;
      const double wd = (cfg & 2) ? 1e-2 : 0.0;
      const float sign = (cfg & 4) ? -1.f : 1.f;  // maximize
      SCOPED_TRACE("n=" + std::to_string(n) + " cfg=" + std::to_string(cfg));
      std::vector<float> w = randv(n, 4u), sq(static_cast<size_t>(n), 0.f), acc(sq);
      DeviceBuffer<float> dw(w), dsq(sq), dacc(acc), dg(static_cast<size_t>(n)), dgs(std::vector<float>{0.75f});
      DeviceBuffer<double> dlr(std::vector<double>{0.7});
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> g = randv(n, 50u + uint32_t(step), -2.f, 2.f);
        ref::AdadeltaParams p{0.7, 0.9, 1e-6, wd, sign * (dev_gs ? 0.75f : (step == 1 ? 0.5f : 1.f))};
        ref::adadelta_update(p, w.data(), g.data(), sq.data(), acc.data(), 0, n);
        dg.upload(g);
        ref::AdadeltaParams q = p;
        if (dev_lr) q.lr = 99.0;  // the device value wins
        fc::StepScalars dev;
        dev.lr = dev_lr ? dlr.p : nullptr;
        fc::adadelta_update__cuda(q, dw.p, dg.p, dsq.p, dacc.p, n, nullptr, dev_gs ? dgs.p : nullptr, dev);
      }
      sync();
      EXPECT_TRUE(close(dw.download(), w)) << "param";
      EXPECT_TRUE(close(dsq.download(), sq)) << "square_avg";
      EXPECT_TRUE(close(dacc.download(), acc)) << "acc_delta";
    }
}

TEST(CudaOptim, AdagradMatchesReference) {
  for (int64_t n : kSizes)
    for (int cfg = 0; cfg < 16; ++cfg) {
      const bool dev_gs = cfg & 1, dev_step = cfg & 8;
      const double wd = (cfg & 2) ? 1e-2 : 0.0, lr = 0.05, lr_decay = 0.3, init = (cfg & 4) ? 0.2 : 0.0;
      const float sign = (cfg & 4) ? -1.f : 1.f;
      SCOPED_TRACE("n=" + std::to_string(n) + " cfg=" + std::to_string(cfg));
      std::vector<float> w = randv(n, 5u), sum(static_cast<size_t>(n), 0.f);
      DeviceBuffer<float> dw(w), dsum(sum), dg(static_cast<size_t>(n)), dgs(std::vector<float>{0.75f});
      DeviceBuffer<double> dlr(std::vector<double>{lr});
      DeviceBuffer<int64_t> dstep(std::vector<int64_t>{0});
      for (int step = 0; step < 3; ++step) {
        const std::vector<float> g = randv(n, 60u + uint32_t(step), -2.f, 2.f);
        ref::AdagradParams p{lr, lr_decay, wd, 1e-10, init, lr / (1 + step * lr_decay), step == 0,
                             sign * (dev_gs ? 0.75f : (step == 1 ? 0.5f : 1.f))};
        ref::adagrad_update(p, w.data(), g.data(), sum.data(), 0, n);
        dg.upload(g);
        ref::AdagradParams q = p;
        fc::StepScalars dev;
        if (dev_step) {  // the kernel computes clr and first_step from the device scalars, not q's
          q.clr = 99.0, q.first_step = false;
          dstep.upload(std::vector<int64_t>{step});
          dev.lr = dlr.p, dev.step = dstep.p;
        }
        fc::adagrad_update__cuda(q, dw.p, dg.p, dsum.p, n, nullptr, dev_gs ? dgs.p : nullptr, dev);
      }
      sync();
      EXPECT_TRUE(close(dw.download(), w)) << "param";
      EXPECT_TRUE(close(dsum.download(), sum)) << "sum";
    }
}

TEST(CudaOptim, SumSquaresAndMaxAbsMatchReference) {
  // 269 chunks of 4096: more than the final block's 256 threads.
  const int64_t sizes[] = {0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 269 * 4096 - 7};
  for (int64_t n : sizes) {
    SCOPED_TRACE("n=" + std::to_string(n));
    std::vector<float> x = randv(n, 40u + uint32_t(n), -5.f, 5.f);
    if (n > 4100) x[4099] = -17.f;  // the max in a later chunk
    DeviceBuffer<float> dx_(x);
    DeviceBuffer<char> ws(std::max(fc::sum_squares_workspace_bytes(n), fc::max_abs_workspace_bytes(n)));
    DeviceBuffer<double> out(std::vector<double>{-1.0, -1.0, -1.0});
    fc::sum_squares__cuda(dx_.p, n, out.p, ws.p, nullptr);
    fc::max_abs__cuda(dx_.p, n, out.p + 1, ws.p, nullptr);
    fc::sum_squares__cuda(dx_.p, n, out.p + 2, ws.p, nullptr);
    sync();
    const std::vector<double> got = out.download();
    const double ss = ref::sum_squares(x.data(), 0, n), ma = ref::max_abs(x.data(), 0, n);
    EXPECT_NEAR(got[0], ss, 1e-12 * std::max(1.0, ss));
    EXPECT_EQ(got[1], ma);
    EXPECT_EQ(got[2], got[0]) << "not bit-reproducible";
  }
}

TEST(CudaOptim, MaxAbsSkipsNanSumSquaresPropagatesIt) {
  std::vector<float> x = randv(5000, 7u);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[4500] = std::numeric_limits<float>::quiet_NaN();
  DeviceBuffer<float> dx_(x);
  DeviceBuffer<char> ws(fc::sum_squares_workspace_bytes(5000));
  DeviceBuffer<double> out(2);
  fc::sum_squares__cuda(dx_.p, 5000, out.p, ws.p, nullptr);
  fc::max_abs__cuda(dx_.p, 5000, out.p + 1, ws.p, nullptr);
  sync();
  const std::vector<double> got = out.download();
  EXPECT_TRUE(std::isnan(got[0]));
  EXPECT_TRUE(std::isnan(ref::sum_squares(x.data(), 0, 5000)));
  EXPECT_EQ(got[1], ref::max_abs(x.data(), 0, 5000));
}

}  // namespace
