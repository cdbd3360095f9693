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

#include "cpu/ref/loss_ref.h"
#include "fastconv/error.h"
#include "launch.cuh"
#include "loss.cuh"

namespace {

using fastconv::ref::CrossEntropyParams;
using fastconv::ref::Reduction;

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    fastconv::cuda::check(cudaMalloc(&p, (n ? n : 1) * sizeof(T)), "cudaMalloc");
  }
  explicit DeviceBuffer(const std::vector<T>& h) : DeviceBuffer(h.size()) { upload(h); }
  ~DeviceBuffer() { cudaFree(p); }
  void upload(const std::vector<T>& h) {
    if (n) fastconv::cuda::check(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    if (n) fastconv::cuda::check(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
};

// Device workspace of `bytes` (null when 0, as a caller may pass), pre-filled with garbage.
struct Workspace {
  DeviceBuffer<double> buf;
  explicit Workspace(size_t bytes) : buf(std::vector<double>(bytes / sizeof(double) + 1, -123.25)) {
    empty = bytes == 0;
  }
  bool empty;
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
  std::vector<float> out_ref(out_n, -1.f), lse_ref(size_t(2 * P)), dx_ref(static_cast<size_t>(n)), dt_ref(static_cast<size_t>(n));
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
  const CeShape sh{3001, 3, 1};
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

}  // namespace
