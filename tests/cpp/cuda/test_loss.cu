// The loss kernels (cuda/loss_ce.cu, cuda/loss_pointwise.cu) against the CPU reference (cpu/ref/loss_ref.h):
// cross entropy with class and probability targets, class weights, label smoothing, ignore_index and invalid
// targets, every reduction, logits of +-1e4, class counts 1, 3, 33, 1000, a thread or a warp per position; nll;
// the element-wise losses, triplet margin and cosine similarity. Reduced results are also checked bit-for-bit
// between two runs (fixed-order reductions).
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
#include "cpu/ref/loss_ref.h"
#include "fastconv/error.h"
#include "launch.cuh"
#include "loss.cuh"

namespace {

using fastconv::ref::CrossEntropyParams;
using fastconv::ref::Reduction;

using fc_test::DeviceBuffer;

// Device workspace of exactly `bytes` (so ASan sees an overrun; null when 0, as a caller may pass), pre-filled
// with garbage.
struct Workspace {
  DeviceBuffer<double> buf;
  bool empty;
  explicit Workspace(size_t bytes)
      : buf(std::vector<double>(bytes / sizeof(double), -123.25)), empty(bytes == 0) {}
  void* get() { return empty ? nullptr : buf.p; }
};

void sync() { fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

const char* red_name(Reduction r) { return r == Reduction::none ? "none" : r == Reduction::mean ? "mean" : "sum"; }

// |got - want| <= 1e-5 max(1, |want|); NaN and infinities must match exactly.
::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, double tol = 1e-5) {
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
    const double err = std::fabs(double(g) - double(w));
    if (!(err <= tol * std::max(1.0, std::fabs(double(w)))))
      return ::testing::AssertionFailure() << "at " << i << ": got " << g << ", want " << w << " (err " << err << ")";
  }
  return ::testing::AssertionSuccess();
}

std::vector<float> uniform(size_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

// ---- cross entropy / nll --------------------------------------------------------------------------------------

struct CeShape {
  int64_t N, C, S;
};
// S >= 32: a thread a position; S < 32: a warp (lanes over the classes, S apart).
const CeShape kCeShapes[] = {{1, 1, 1}, {4, 3, 1}, {5, 33, 1}, {3, 1000, 1}, {2, 3, 7},
                             {2, 5, 33}, {3, 1, 40}, {1, 33, 35}, {0, 5, 1}};

struct CeData {
  std::vector<float> x, tprob, w;
  std::vector<int64_t> tidx;
};

// Logits in [-5, 5] (position 0 at +-1e4), targets in [0, C) with every 3rd position `ignore` (when it is not a
// class; ignore = 1 marks class 1 instead), probability targets normalized per position, weights in [0.2, 2].
CeData ce_data(const CeShape& sh, int64_t ignore, uint32_t seed) {
  const int64_t P = sh.N * sh.S;
  CeData d;
  d.x = uniform(size_t(P * sh.C), -5.f, 5.f, seed);
  for (int64_t c = 0; c < sh.C && P > 0; ++c) d.x[size_t(c * sh.S)] = c % 2 ? -1e4f : 1e4f - float(c);
  d.w = uniform(size_t(sh.C), 0.2f, 2.f, seed + 1);
  d.tprob = uniform(size_t(P * sh.C), 0.f, 1.f, seed + 2);
  for (int64_t i = 0; i < P; ++i) {
    const int64_t n = i / sh.S, s = i % sh.S;
    double t = 0;
    for (int64_t c = 0; c < sh.C; ++c) t += d.tprob[size_t((n * sh.C + c) * sh.S + s)];
    for (int64_t c = 0; c < sh.C; ++c) d.tprob[size_t((n * sh.C + c) * sh.S + s)] /= float(t);
  }
  std::mt19937 rng(seed + 3);
  std::uniform_int_distribution<int64_t> cls(0, sh.C - 1);
  d.tidx.resize(size_t(P));
  for (int64_t i = 0; i < P; ++i) d.tidx[size_t(i)] = (i % 3 == 1 && ignore < 0) ? ignore : cls(rng);
  return d;
}

// One cross entropy configuration: forward (loss, lse), backward, target backward (probabilities) vs the ref.
void check_ce(const CeShape& sh, const CeData& d, CrossEntropyParams p, bool weighted, bool probs) {
  const int64_t P = sh.N * sh.S, n = P * sh.C;
  const size_t out_n = p.reduction == Reduction::none ? size_t(P) : 1;
  const float* w = weighted ? d.w.data() : nullptr;
  const int64_t* ti = probs ? nullptr : d.tidx.data();
  const float* tp = probs ? d.tprob.data() : nullptr;
  std::vector<float> out_ref(out_n, -1.f), lse_ref(size_t(2 * P)), dx_ref(static_cast<size_t>(n)),
      dt_ref(static_cast<size_t>(n));
  const std::vector<float> g = uniform(out_n, -2.f, 2.f, 11u);
  fastconv::ref::cross_entropy(p, d.x.data(), ti, tp, w, out_ref.data(), lse_ref.data());
  fastconv::ref::cross_entropy_backward(p, g.data(), d.x.data(), ti, tp, w, lse_ref.data(), dx_ref.data());
  if (probs) fastconv::ref::cross_entropy_target_backward(p, g.data(), d.x.data(), w, lse_ref.data(), dt_ref.data());

  DeviceBuffer<float> dxin(d.x), dtp(d.tprob), dw(d.w), dg(g), dout(std::vector<float>(out_n, -7.f)),
      dlse(std::vector<float>(size_t(2 * P), -7.f)), ddx(std::vector<float>(size_t(n), -7.f)),
      ddt(std::vector<float>(size_t(n), -7.f));
  DeviceBuffer<int64_t> dti(d.tidx);
  Workspace wf(fastconv::cuda::cross_entropy_workspace_bytes(p)),
      wb(fastconv::cuda::cross_entropy_backward_workspace_bytes(p));
  const float* dwp = weighted ? dw.p : nullptr;
  const int64_t* dtip = probs ? nullptr : dti.p;
  const float* dtpp = probs ? dtp.p : nullptr;
  fastconv::cuda::cross_entropy_forward__cuda(p, dxin.p, dtip, dtpp, dwp, dout.p, dlse.p, wf.get(), nullptr);
  // the backward reads the reference's lse, so a forward lse error shows up once, below
  DeviceBuffer<float> dlse_ref(lse_ref);
  fastconv::cuda::cross_entropy_backward__cuda(p, dg.p, dxin.p, dtip, dtpp, dwp, dlse_ref.p, ddx.p, wb.get(),
                                               nullptr);
  if (probs)
    fastconv::cuda::cross_entropy_target_backward__cuda(p, dg.p, dxin.p, dwp, dlse_ref.p, ddt.p, nullptr);
  sync();
  EXPECT_TRUE(close(dout.download(), out_ref)) << "loss";
  const std::vector<float> lse = dlse.download();
  for (int64_t i = 0; i < P; ++i) EXPECT_EQ(lse[size_t(i)], lse_ref[size_t(i)]) << "lse max at " << i;
  EXPECT_TRUE(close(lse, lse_ref)) << "lse";
  EXPECT_TRUE(close(ddx.download(), dx_ref)) << "dx";
  if (probs) EXPECT_TRUE(close(ddt.download(), dt_ref)) << "dtarget";
}

void ce_sweep(bool probs) {
  uint32_t seed = 100;
  for (const CeShape& sh : kCeShapes)
    for (int64_t ignore : {int64_t(-100), int64_t(1)}) {
      if (probs && ignore != -100) continue;
      const CeData d = ce_data(sh, ignore, seed++);
      for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
        for (bool weighted : {false, true})
          for (float eps : {0.f, 0.1f}) {
            SCOPED_TRACE("N=" + std::to_string(sh.N) + " C=" + std::to_string(sh.C) + " S=" + std::to_string(sh.S) +
                         " ignore=" + std::to_string(ignore) + " " + red_name(r) + (weighted ? " weighted" : "") +
                         " eps=" + std::to_string(eps));
            CrossEntropyParams p;
            p.N = sh.N, p.C = sh.C, p.S = sh.S, p.ignore_index = ignore, p.label_smoothing = eps, p.reduction = r;
            check_ce(sh, d, p, weighted, probs);
          }
    }
}

TEST(CudaLoss, CrossEntropyClassTargetsMatchReference) { ce_sweep(false); }
TEST(CudaLoss, CrossEntropyProbabilityTargetsMatchReference) { ce_sweep(true); }

// Out-of-range targets (C, -5) make their positions NaN (loss and gradient) and a reduced loss NaN; a batch whose
// positions are all ignored has a 'mean' of 0/0 = NaN and zero gradients.
TEST(CudaLoss, CrossEntropyInvalidAndAllIgnoredTargets) {
  const CeShape sh{3, 4, 2};
  for (int variant = 0; variant < 2; ++variant) {
    CeData d = ce_data(sh, -100, 7u);
    for (size_t i = 0; i < d.tidx.size(); ++i)
      d.tidx[i] = variant == 0 ? (i == 1 ? 4 : i == 4 ? -5 : d.tidx[i]) : -100;
    for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
      SCOPED_TRACE(std::string(variant ? "all ignored " : "invalid ") + red_name(r));
      CrossEntropyParams p;
      p.N = sh.N, p.C = sh.C, p.S = sh.S, p.reduction = r;
      check_ce(sh, d, p, true, false);
      std::vector<float> out(r == Reduction::none ? 6 : 1);
      fastconv::ref::cross_entropy(p, d.x.data(), d.tidx.data(), nullptr, nullptr, out.data(),
                                   std::vector<float>(12).data());
      if (r == Reduction::mean || (variant == 0 && r == Reduction::sum)) EXPECT_TRUE(std::isnan(out[0]));
    }
  }
}

// Logits of +-1e4: finite losses and gradients equal to the reference's (the lse is kept as max and log-sum).
TEST(CudaLoss, CrossEntropyExtremeLogits) {
  const CeShape sh{2, 3, 1};
  CeData d = ce_data(sh, -100, 9u);
  d.x = {1e4f, -1e4f, 1e4f, -1e4f, 1e4f, -1e4f};
  d.tidx = {0, 0};
  CrossEntropyParams p;
  p.N = 2, p.C = 3, p.S = 1, p.reduction = Reduction::none;
  check_ce(sh, d, p, false, false);
  DeviceBuffer<float> dxin(d.x), dout(2), dlse(4), ddx(6), dg(std::vector<float>{1.f, 1.f});
  DeviceBuffer<int64_t> dti(d.tidx);
  fastconv::cuda::cross_entropy_forward__cuda(p, dxin.p, dti.p, nullptr, nullptr, dout.p, dlse.p, nullptr, nullptr);
  fastconv::cuda::cross_entropy_backward__cuda(p, dg.p, dxin.p, dti.p, nullptr, nullptr, dlse.p, ddx.p, nullptr,
                                               nullptr);
  sync();
  const std::vector<float> out = dout.download(), dx = ddx.download();
  EXPECT_EQ(out[0], float(std::log(2.0)));  // two logits of 1e4, one the target's: -log(1/2)
  EXPECT_EQ(out[1], 2e4f);                  // the target at -1e4 against one at 1e4 (e^-2e4 vanishes)
  const std::vector<float> dx_want = {-0.5f, 0.f, 0.5f, -1.f, 1.f, 0.f};
  EXPECT_EQ(dx, dx_want);
}

void check_nll(const CeShape& sh, const CeData& d, CrossEntropyParams p, bool weighted) {
  const int64_t P = sh.N * sh.S, n = P * sh.C;
  const size_t out_n = p.reduction == Reduction::none ? size_t(P) : 1;
  const float* w = weighted ? d.w.data() : nullptr;
  std::vector<float> out_ref(out_n, -1.f), dx_ref(static_cast<size_t>(n));
  const std::vector<float> g = uniform(out_n, -2.f, 2.f, 12u);
  fastconv::ref::nll_loss(p, d.x.data(), d.tidx.data(), w, out_ref.data());
  fastconv::ref::nll_loss_backward(p, g.data(), d.tidx.data(), w, dx_ref.data());
  DeviceBuffer<float> dxin(d.x), dw(d.w), dg(g), dout(std::vector<float>(out_n, -7.f)),
      ddx(std::vector<float>(size_t(n), -7.f));
  DeviceBuffer<int64_t> dti(d.tidx);
  Workspace wf(fastconv::cuda::nll_loss_workspace_bytes(p)), wb(fastconv::cuda::nll_loss_backward_workspace_bytes(p));
  fastconv::cuda::nll_loss_forward__cuda(p, dxin.p, dti.p, weighted ? dw.p : nullptr, dout.p, wf.get(), nullptr);
  fastconv::cuda::nll_loss_backward__cuda(p, dg.p, dti.p, weighted ? dw.p : nullptr, ddx.p, wb.get(), nullptr);
  sync();
  EXPECT_TRUE(close(dout.download(), out_ref)) << "loss";
  EXPECT_TRUE(close(ddx.download(), dx_ref)) << "dx";
}

TEST(CudaLoss, NllLossMatchesReference) {
  uint32_t seed = 300;
  for (const CeShape& sh : kCeShapes)
    for (int64_t ignore : {int64_t(-100), int64_t(1)}) {
      CeData d = ce_data(sh, ignore, seed++);
      if (!d.tidx.empty()) d.tidx[0] = sh.C;  // one invalid target: a NaN position
      for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
        for (bool weighted : {false, true}) {
          SCOPED_TRACE("N=" + std::to_string(sh.N) + " C=" + std::to_string(sh.C) + " S=" + std::to_string(sh.S) +
                       " ignore=" + std::to_string(ignore) + " " + red_name(r) + (weighted ? " weighted" : ""));
          CrossEntropyParams p;
          p.N = sh.N, p.C = sh.C, p.S = sh.S, p.ignore_index = ignore, p.reduction = r;
          check_nll(sh, d, p, weighted);
          if (sh.N * sh.S > 1) {  // and without the invalid target, so reduced values are finite too
            CeData v = d;
            v.tidx[0] = 0;
            check_nll(sh, v, p, weighted);
          }
        }
    }
}

// Past the 1024-block cap (8193 positions of a warp each, 262145 of a thread each) with a 'mean': grid-stride
// steps and the partial sums of every block.
TEST(CudaLoss, CrossEntropyPastTheGridCap) {
  for (const CeShape& sh : {CeShape{8193, 2, 1}, CeShape{1, 2, 262145}}) {
    SCOPED_TRACE("N=" + std::to_string(sh.N) + " S=" + std::to_string(sh.S));
    const CeData d = ce_data(sh, -100, 21u);
    CrossEntropyParams p;
    p.N = sh.N, p.C = sh.C, p.S = sh.S, p.reduction = Reduction::mean;
    const int64_t P = sh.N * sh.S;
    std::vector<float> out_ref(1), lse_ref(size_t(2 * P));
    fastconv::ref::cross_entropy(p, d.x.data(), d.tidx.data(), nullptr, d.w.data(), out_ref.data(), lse_ref.data());
    DeviceBuffer<float> dxin(d.x), dw(d.w), a(1), dlse(size_t(2 * P));
    DeviceBuffer<int64_t> dti(d.tidx);
    Workspace ws(fastconv::cuda::cross_entropy_workspace_bytes(p));
    fastconv::cuda::cross_entropy_forward__cuda(p, dxin.p, dti.p, nullptr, dw.p, a.p, dlse.p, ws.get(), nullptr);
    sync();
    EXPECT_TRUE(close(a.download(), out_ref));
    EXPECT_TRUE(close(dlse.download(), lse_ref));
  }
}

// The same inputs give the same bits, over many blocks of partial sums (the reductions have a fixed order).
TEST(CudaLoss, ReducedLossesAreDeterministic) {
  const CeShape sh{1201, 3, 1};
  const CeData d = ce_data(sh, -100, 22u);
  CrossEntropyParams p;
  p.N = sh.N, p.C = sh.C, p.S = sh.S, p.label_smoothing = 0.1f, p.reduction = Reduction::mean;
  DeviceBuffer<float> dxin(d.x), dw(d.w), a(1), b(1), dlse(size_t(2 * sh.N)), ga(size_t(3 * sh.N)),
      gb(size_t(3 * sh.N)), g(std::vector<float>{0.75f});
  DeviceBuffer<int64_t> dti(d.tidx);
  Workspace ws(fastconv::cuda::cross_entropy_workspace_bytes(p)),
      wb(fastconv::cuda::cross_entropy_backward_workspace_bytes(p));
  for (int run = 0; run < 2; ++run) {
    fastconv::cuda::cross_entropy_forward__cuda(p, dxin.p, dti.p, nullptr, dw.p, run ? b.p : a.p, dlse.p, ws.get(),
                                                nullptr);
    fastconv::cuda::cross_entropy_backward__cuda(p, g.p, dxin.p, dti.p, nullptr, dw.p, dlse.p, run ? gb.p : ga.p,
                                                 wb.get(), nullptr);
  }
  sync();
  EXPECT_EQ(a.download(), b.download());
  EXPECT_EQ(ga.download(), gb.download());
}

// ---- element-wise losses ---------------------------------------------------------------------------------------

using fastconv::ref::PointwiseLoss;
using fastconv::ref::PointwiseParams;

struct PwCase {
  const char* name;
  PointwiseParams p;
};
const PwCase kPwCases[] = {
    {"mse", {PointwiseLoss::mse, 1.f}},          {"l1", {PointwiseLoss::l1, 1.f}},
    {"smooth_l1", {PointwiseLoss::smooth_l1, 1.f}}, {"smooth_l1_b0", {PointwiseLoss::smooth_l1, 0.f}},
    {"smooth_l1_b0.5", {PointwiseLoss::smooth_l1, 0.5f}}, {"huber", {PointwiseLoss::huber, 1.f}},
    {"huber_d2", {PointwiseLoss::huber, 2.f}},   {"bce", {PointwiseLoss::bce, 1.f}},
    {"bce_logits", {PointwiseLoss::bce_logits, 1.f}},
};

// Inputs in [-3, 3] (probabilities in [0, 1] with exact 0 and 1 for bce) with ties x == t and gaps of exactly
// +-beta; targets likewise; weights in [0, 2]; pos_weight in [0.5, 3].
struct PwData {
  std::vector<float> x, t, w, pw;
};
PwData pw_data(const PointwiseParams& p, int64_t n, uint32_t seed) {
  const bool prob = p.kind == PointwiseLoss::bce;
  PwData d;
  d.x = uniform(size_t(n), prob ? 0.f : -3.f, prob ? 1.f : 3.f, seed);
  d.t = uniform(size_t(n), prob ? 0.f : -3.f, prob ? 1.f : 3.f, seed + 1);
  d.w = uniform(size_t(n), 0.f, 2.f, seed + 2);
  d.pw = uniform(size_t(n), 0.5f, 3.f, seed + 3);
  for (int64_t i = 0; i < n; ++i) {
    if (prob) {
      if (i % 7 == 0) d.x[size_t(i)] = 0.f;
      if (i % 7 == 1) d.x[size_t(i)] = 1.f;
      if (i % 5 == 2) d.t[size_t(i)] = float(i % 2);
    } else {
      if (i % 7 == 0) d.t[size_t(i)] = d.x[size_t(i)];
      if (i % 7 == 3) d.t[size_t(i)] = d.x[size_t(i)] - p.beta;
      if (i % 7 == 4) d.t[size_t(i)] = d.x[size_t(i)] + p.beta;
    }
  }
  return d;
}

void check_pointwise(const PwCase& c, int64_t n, Reduction r, bool weighted, bool by_weight, bool with_pw) {
  const PwData d = pw_data(c.p, n, 40u + uint32_t(n));
  const float* w = weighted ? d.w.data() : nullptr;
  const float* pw = with_pw ? d.pw.data() : nullptr;
  const bool none = r == Reduction::none;
  // the op layer's reduction (ops/loss_pointwise.cpp): double sums, 'mean' by n or by sum(w)
  std::vector<float> per(static_cast<size_t>(n)), out_ref;
  fastconv::ref::pointwise_loss(c.p, d.x.data(), d.t.data(), w, pw, n, per.data());
  double s = 0, sw = 0;
  for (int64_t i = 0; i < n; ++i) {
    s += per[size_t(i)];
    if (w) sw += w[i];
  }
  const bool mbw = by_weight && weighted && r == Reduction::mean;
  const double denom = mbw ? sw : double(n);
  if (none) out_ref = per;
  else out_ref = {float(r == Reduction::mean ? s / denom : s)};
  const std::vector<float> g = uniform(none ? size_t(n) : 1, -2.f, 2.f, 5u);
  const float scale = r == Reduction::mean ? float(1.0 / denom) : 1.f;
  std::vector<float> dx_ref(static_cast<size_t>(n)), dt_ref(static_cast<size_t>(n));
  fastconv::ref::pointwise_loss_backward(c.p, false, g.data(), none ? 1 : 0, scale, d.x.data(), d.t.data(), w, pw, n,
                                         dx_ref.data());
  fastconv::ref::pointwise_loss_backward(c.p, true, g.data(), none ? 1 : 0, scale, d.x.data(), d.t.data(), w, pw, n,
                                         dt_ref.data());

  DeviceBuffer<float> dxin(d.x), dtin(d.t), dw(d.w), dpw(d.pw), dg(g), dout(out_ref.size()),
      ddx(static_cast<size_t>(n)), ddt(static_cast<size_t>(n));
  const float* dwp = weighted ? dw.p : nullptr;
  const float* dpwp = with_pw ? dpw.p : nullptr;
  Workspace wf(fastconv::cuda::pointwise_loss_workspace_bytes(r, n)),
      wb(fastconv::cuda::pointwise_loss_backward_workspace_bytes(r, by_weight, n));
  fastconv::cuda::pointwise_loss_forward__cuda(c.p, r, by_weight, dxin.p, dtin.p, dwp, dpwp, n, dout.p, wf.get(),
                                               nullptr);
  fastconv::cuda::pointwise_loss_backward__cuda(c.p, r, by_weight, false, dg.p, dxin.p, dtin.p, dwp, dpwp, n, ddx.p,
                                                wb.get(), nullptr);
  fastconv::cuda::pointwise_loss_backward__cuda(c.p, r, by_weight, true, dg.p, dxin.p, dtin.p, dwp, dpwp, n, ddt.p,
                                                wb.get(), nullptr);
  sync();
  EXPECT_TRUE(close(dout.download(), out_ref)) << "loss";
  EXPECT_TRUE(close(ddx.download(), dx_ref)) << "d input";
  EXPECT_TRUE(close(ddt.download(), dt_ref)) << "d target";
}

TEST(CudaLoss, PointwiseLossesMatchReference) {
  // n = 3001 (12 blocks of partial sums) for two kinds only: the reduction code is the same for every kind.
  for (const PwCase& c : kPwCases)
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(257), int64_t(3001)})
      for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
        for (int wmode = 0; wmode < 3; ++wmode) {  // unweighted, weighted mean by n, weighted mean by sum(w)
          if (n == 3001 && c.p.kind != PointwiseLoss::mse && c.p.kind != PointwiseLoss::bce_logits) continue;
          const bool with_pw = c.p.kind == PointwiseLoss::bce_logits && wmode != 1;
          SCOPED_TRACE(std::string(c.name) + " n=" + std::to_string(n) + " " + red_name(r) + " wmode=" +
                       std::to_string(wmode) + (with_pw ? " pos_weight" : ""));
          check_pointwise(c, n, r, wmode > 0, wmode == 2, with_pw);
        }
}

// ---- triplet margin loss ---------------------------------------------------------------------------------------

using fastconv::ref::TripletParams;

void check_triplet(TripletParams q, bool all_grads, uint32_t seed) {
  const size_t n = size_t(q.N * q.D), out_n = q.reduction == Reduction::none ? size_t(q.N) : 1;
  const std::vector<float> a = uniform(n, -1.f, 1.f, seed), p = uniform(n, -1.f, 1.f, seed + 1),
                           ng = uniform(n, -1.f, 1.f, seed + 2), g = uniform(out_n, -2.f, 2.f, seed + 3);
  std::vector<float> out_ref(out_n), da_ref(n), dp_ref(n), dn_ref(n);
  fastconv::ref::triplet_margin_loss(q, a.data(), p.data(), ng.data(), out_ref.data());
  fastconv::ref::triplet_margin_loss_backward(q, g.data(), a.data(), p.data(), ng.data(), da_ref.data(),
                                              all_grads ? dp_ref.data() : nullptr, dn_ref.data());
  DeviceBuffer<float> da_(a), dp_(p), dn_(ng), dg(g), dout(out_n), dda(std::vector<float>(n, -7.f)),
      ddp(std::vector<float>(n, -7.f)), ddn(std::vector<float>(n, -7.f));
  Workspace ws(fastconv::cuda::triplet_margin_loss_workspace_bytes(q));
  fastconv::cuda::triplet_margin_loss_forward__cuda(q, da_.p, dp_.p, dn_.p, dout.p, ws.get(), nullptr);
  fastconv::cuda::triplet_margin_loss_backward__cuda(q, dg.p, da_.p, dp_.p, dn_.p, dda.p, all_grads ? ddp.p : nullptr,
                                                     ddn.p, nullptr);
  sync();
  EXPECT_TRUE(close(dout.download(), out_ref)) << "loss";
  EXPECT_TRUE(close(dda.download(), da_ref)) << "d anchor";
  if (all_grads) EXPECT_TRUE(close(ddp.download(), dp_ref)) << "d positive";
  else EXPECT_EQ(ddp.download(), std::vector<float>(n, -7.f)) << "d positive (null) written";
  EXPECT_TRUE(close(ddn.download(), dn_ref)) << "d negative";
}

TEST(CudaLoss, TripletMarginLossMatchesReference) {
  struct Shape {
    int64_t N, D;
  };
  uint32_t seed = 500;
  for (const Shape& sh : {Shape{1, 1}, Shape{3, 5}, Shape{4, 33}, Shape{2, 100}, Shape{0, 4}, Shape{3, 0}})
    for (float pn : {2.f, 1.f, 3.f, 0.5f})
      for (bool swap : {false, true})
        for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
          TripletParams q;
          q.N = sh.N, q.D = sh.D, q.p = pn, q.swap = swap, q.reduction = r, q.margin = seed % 2 ? 1.f : 0.25f;
          SCOPED_TRACE("N=" + std::to_string(sh.N) + " D=" + std::to_string(sh.D) + " p=" + std::to_string(pn) +
                       (swap ? " swap " : " ") + red_name(r) + " margin=" + std::to_string(q.margin));
          check_triplet(q, seed % 3 != 0, seed);
          ++seed;
        }
}

// ---- cosine similarity -----------------------------------------------------------------------------------------

TEST(CudaLoss, CosineSimilarityMatchesReference) {
  struct Shape {
    int64_t O, D, I;
  };
  // I >= 32: a thread a vector; else a warp. One zero vector (norm 0: the eps clamp, no norm gradient).
  for (const Shape& sh : {Shape{1, 1, 1}, Shape{3, 5, 1}, Shape{2, 33, 1}, Shape{2, 7, 3}, Shape{2, 4, 32},
                          Shape{3, 1000, 1}, Shape{1, 3, 40}, Shape{0, 3, 2}, Shape{2, 0, 3}})
    for (float eps : {1e-8f, 0.5f}) {
      SCOPED_TRACE("O=" + std::to_string(sh.O) + " D=" + std::to_string(sh.D) + " I=" + std::to_string(sh.I) +
                   " eps=" + std::to_string(eps));
      const fastconv::ref::CosineParams q{sh.O, sh.D, sh.I, eps};
      const size_t n = size_t(sh.O * sh.D * sh.I), m = size_t(sh.O * sh.I);
      std::vector<float> x1 = uniform(n, -1.f, 1.f, 61u), x2 = uniform(n, -1.f, 1.f, 62u),
                         g = uniform(m, -2.f, 2.f, 63u);
      if (sh.O > 0 && sh.I > 1)
        for (int64_t d = 0; d < sh.D; ++d) x2[size_t(d * sh.I + 1)] = 0.f;  // vector (0, 1) of x2 is zero
      std::vector<float> out_ref(m), d1_ref(n), d2_ref(n);
      fastconv::ref::cosine_similarity(q, x1.data(), x2.data(), out_ref.data());
      fastconv::ref::cosine_similarity_backward(q, g.data(), x1.data(), x2.data(), d1_ref.data(), d2_ref.data());
      DeviceBuffer<float> dx1(x1), dx2(x2), dg(g), dout(m), dd1(n), dd2(n);
      fastconv::cuda::cosine_similarity_forward__cuda(q, dx1.p, dx2.p, dout.p, nullptr);
      fastconv::cuda::cosine_similarity_backward__cuda(q, dg.p, dx1.p, dx2.p, dd1.p, dd2.p, nullptr);
      sync();
      EXPECT_TRUE(close(dout.download(), out_ref)) << "similarity";
      EXPECT_TRUE(close(dd1.download(), d1_ref)) << "d x1";
      EXPECT_TRUE(close(dd2.download(), d2_ref)) << "d x2";
    }
}

// ---- capture safety ----------------------------------------------------------------------------------------------

// The reduced losses with data-dependent denominators (their device-side weight sums) captured into a CUDA graph and
// replayed: no launcher allocates, synchronizes or reads device memory (each would invalidate the capture), and the
// replay gives the direct run's bits.
TEST(CudaLoss, ReducedLossesAreGraphCaptureSafe) {
  const CeShape sh{5, 33, 1};
  const CeData d = ce_data(sh, -100, 77u);
  CrossEntropyParams p;
  p.N = sh.N, p.C = sh.C, p.S = sh.S, p.label_smoothing = 0.1f, p.reduction = Reduction::mean;
  const PointwiseParams pp{PointwiseLoss::huber, 1.f};
  const int64_t n = int64_t(d.x.size());
  DeviceBuffer<float> dxin(d.x), dw(d.w), g(std::vector<float>{1.5f}), lse(size_t(2 * sh.N));
  DeviceBuffer<int64_t> dti(d.tidx);
  const std::vector<float> t = uniform(size_t(n), -3.f, 3.f, 78u), ew = uniform(size_t(n), 0.f, 2.f, 79u);
  DeviceBuffer<float> dt(t), dew(ew);
  struct Outs {
    DeviceBuffer<float> ce{1}, dce{size_t(5 * 33)}, nll{1}, dnll{size_t(5 * 33)}, pw{1}, dpw{size_t(5 * 33)};
  } direct, captured;
  Workspace w1(fastconv::cuda::cross_entropy_workspace_bytes(p)),
      w2(fastconv::cuda::cross_entropy_backward_workspace_bytes(p)), w3(fastconv::cuda::nll_loss_workspace_bytes(p)),
      w4(fastconv::cuda::nll_loss_backward_workspace_bytes(p)),
      w5(fastconv::cuda::pointwise_loss_workspace_bytes(Reduction::mean, n)),
      w6(fastconv::cuda::pointwise_loss_backward_workspace_bytes(Reduction::mean, true, n));
  auto run = [&](Outs& o, cudaStream_t s) {
    namespace fc = fastconv::cuda;
    fc::cross_entropy_forward__cuda(p, dxin.p, dti.p, nullptr, dw.p, o.ce.p, lse.p, w1.get(), s);
    fc::cross_entropy_backward__cuda(p, g.p, dxin.p, dti.p, nullptr, dw.p, lse.p, o.dce.p, w2.get(), s);
    fc::nll_loss_forward__cuda(p, dxin.p, dti.p, dw.p, o.nll.p, w3.get(), s);
    fc::nll_loss_backward__cuda(p, g.p, dti.p, dw.p, o.dnll.p, w4.get(), s);
    fc::pointwise_loss_forward__cuda(pp, Reduction::mean, true, dxin.p, dt.p, dew.p, nullptr, n, o.pw.p, w5.get(), s);
    fc::pointwise_loss_backward__cuda(pp, Reduction::mean, true, false, g.p, dxin.p, dt.p, dew.p, nullptr, n,
                                      o.dpw.p, w6.get(), s);
  };
  run(direct, nullptr);
  sync();
  cudaStream_t s;
  fastconv::cuda::check(cudaStreamCreate(&s), "stream");
  fastconv::cuda::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), "begin capture");
  run(captured, s);
  cudaGraph_t graph;
  fastconv::cuda::check(cudaStreamEndCapture(s, &graph), "end capture");
  cudaGraphExec_t exec;
  fastconv::cuda::check(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int r = 0; r < 2; ++r) fastconv::cuda::check(cudaGraphLaunch(exec, s), "graph launch");
  fastconv::cuda::check(cudaStreamSynchronize(s), "sync");
  EXPECT_EQ(captured.ce.download(), direct.ce.download());
  EXPECT_EQ(captured.dce.download(), direct.dce.download());
  EXPECT_EQ(captured.nll.download(), direct.nll.download());
  EXPECT_EQ(captured.dnll.download(), direct.dnll.download());
  EXPECT_EQ(captured.pw.download(), direct.pw.download());
  EXPECT_EQ(captured.dpw.download(), direct.dpw.download());
  EXPECT_TRUE(std::isfinite(direct.ce.download()[0]));
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(s);
}

}  // namespace
