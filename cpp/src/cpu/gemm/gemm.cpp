// SGEMM driver: GotoBLAS/BLIS blocking around the per-ISA register tiles in gemm_<isa>.cpp.
//
// Loop nest for one rectangular region of C (run_region):
//   jc: NC columns  -> pc: KC depth -> ic: MC rows (A block packed, stays in L2)
//     -> jr: one NR panel of B, packed just in time on the first ic pass (so it is read while hot) and reused
//        from the B buffer by later ic passes -> ir: the macro-kernel walks MR strips with the panel in L1.
// Threads take whole regions (a grid over M x N, or K slices when C is tiny), so the only synchronisation is
// the fork-join of parallel_for and every task packs into its own thread-local buffers.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu/gemm/microkernel.h"
#include "cpu/gemm/pack.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

using gemm::MacroArgs;
using gemm::PackAArgs;

struct Config {
  int mr, nr, vec;
  gemm::MacroFn macro;
  gemm::PackAFn pack_a;
  int64_t kc, mc, nc;  // cache blocking: kc*nr floats of B panel in L1, mc*kc of A in L2
};

// KC: the 12x32 B panel (kc*128 bytes) should take at most ~2/3 of the 48 KiB L1d, A streams past it.
// MC: the A block (mc*kc*4 bytes) about a quarter of the 2 MiB L2, leaving room for the B panels and C.
const Config kAvx512{gemm::kMrAvx512, gemm::kNrAvx512, gemm::kVecAvx512, gemm::sgemm_macro_12x32__avx512,
                     gemm::sgemm_pack_a_12__avx512, 256, 480, 3072};
const Config kAvx2{gemm::kMrAvx2, gemm::kNrAvx2, gemm::kVecAvx2, gemm::sgemm_macro_6x16__avx2,
                   [](const PackAArgs* p) { gemm::pack_a_generic(p, gemm::kMrAvx2); }, 256, 384, 3072};
const Config kScalar{gemm::kMrScalar, gemm::kNrScalar, gemm::kVecScalar, gemm::sgemm_macro_4x16__scalar,
                     [](const PackAArgs* p) { gemm::pack_a_generic(p, gemm::kMrScalar); }, 256, 256, 2048};

Config current_config() {
  Config c = *pick_isa(&kScalar, &kAvx2, &kAvx512);
  // Development knobs for tuning sweeps.
  if (const char* v = std::getenv("FC_GEMM_KC")) c.kc = std::atoll(v);
  if (const char* v = std::getenv("FC_GEMM_MC")) c.mc = std::atoll(v);
  if (const char* v = std::getenv("FC_GEMM_NC")) c.nc = std::atoll(v);
  return c;
}

// Grow-only, 64-byte aligned scratch owned by one thread; never shrinks, so steady-state calls allocate nothing.
class Scratch {
 public:
  ~Scratch() { std::free(p_); }
  float* get(int64_t n) {
    const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) & ~size_t(63);
    if (bytes > cap_) {
      std::free(p_);
      p_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p_) throw std::bad_alloc();
      cap_ = bytes;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};
thread_local Scratch t_pack_a, t_pack_b;

struct Problem {
  bool ta, tb;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
  const float* a_at(int64_t i, int64_t k) const { return ta ? A + k * lda + i : A + i * lda + k; }
  const float* b_at(int64_t k, int64_t j) const { return tb ? B + j * ldb + k : B + k * ldb + j; }
};

int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return cdiv(a, b) * b; }
// Splits `len` into equal blocks of at most `cap` (rounded up to `unit`), so edges are not left with slivers.
int64_t even_step(int64_t len, int64_t cap, int64_t unit) { return round_up(cdiv(len, cdiv(len, cap)), unit); }

void scale_c(float beta, float* c, int64_t ldc, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    float* r = c + i * ldc;
    if (beta == 0.f)
      std::memset(r, 0, n * sizeof(float));
    else if (beta != 1.f)
      for (int64_t j = 0; j < n; ++j) r[j] *= beta;
  }
}

// C[m0:m1, n0:n1] (over depth k0:k1, first block using `beta`) with the loop nest described at the top.
void run_region(const Problem& P, const Config& cfg, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t k0,
                int64_t k1, float beta) {
  const int64_t kc_step = even_step(k1 - k0, cfg.kc, 1);
  const int64_t mc_step = even_step(m1 - m0, cfg.mc, cfg.mr);
  const int64_t nc_step = even_step(n1 - n0, cfg.nc, cfg.nr);
  for (int64_t jc = n0; jc < n1; jc += nc_step) {
    const int64_t nc = std::min(nc_step, n1 - jc);
    for (int64_t pc = k0; pc < k1; pc += kc_step) {
      const int64_t kc = std::min(kc_step, k1 - pc);
      const float beta_k = pc == k0 ? beta : 1.f;
      float* bbuf = t_pack_b.get(kc * round_up(nc, cfg.nr));
      float* abuf = t_pack_a.get(kc * std::min(round_up(m1 - m0, cfg.mr), mc_step));
      for (int64_t ic = m0; ic < m1; ic += mc_step) {
        const int64_t mc = std::min(mc_step, m1 - ic);
        const PackAArgs pa{P.a_at(ic, pc), P.lda, mc, kc, P.ta, abuf};
        cfg.pack_a(&pa);
        for (int64_t jr = 0; jr < nc; jr += cfg.nr) {
          const int64_t nr = std::min<int64_t>(cfg.nr, nc - jr);
          float* bp = bbuf + jr * kc;
          if (ic == m0) gemm::pack_b(P.tb, P.b_at(pc, jc + jr), P.ldb, kc, nr, cfg.nr, cfg.vec, bp);
          const MacroArgs ma{abuf, bp, P.C + ic * P.ldc + jc + jr, P.ldc, mc, nr, kc, P.alpha, beta_k};
          cfg.macro(&ma);
        }
      }
    }
  }
}

// Below this many multiply-adds a second thread costs more (wake-up, duplicate packing) than it saves.
constexpr int64_t kParallelMinWork = int64_t(1) << 20;

// Splits C into a tm x tn grid of regions. Each region packs its own copy of the A rows and B columns it needs, so
// splitting M costs an extra pass over B (K*N) and splitting N an extra pass over A (M*K): pick the grid with the
// least duplicate packing among those with enough tasks for dynamic balancing (the cores are shared).
void run_grid(const Problem& P, const Config& cfg, int threads) {
  const int64_t mt = cdiv(P.M, cfg.mr), nt = cdiv(P.N, cfg.nr);
  int64_t want = int64_t(threads) * (std::getenv("FC_GEMM_TPT") ? std::atoi(std::getenv("FC_GEMM_TPT")) : 2);
  want = std::min(want, mt * nt);
  int64_t best_tm = 1, best_tn = want;
  double best_cost = -1;
  for (int64_t tm = 1; tm <= std::min(want, mt); ++tm) {
    const int64_t tn = cdiv(want, tm);
    if (tn > nt) continue;
    const double cost = double(tm) * P.N + double(tn) * P.M;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best_tm = tm, best_tn = tn;
  }
  const int64_t tm = best_tm, tn = best_tn;
  parallel_for(tm * tn, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t im = t / tn, in = t % tn;
      const int64_t m0 = std::min(P.M, mt * im / tm * cfg.mr), m1 = std::min(P.M, mt * (im + 1) / tm * cfg.mr);
      const int64_t n0 = std::min(P.N, nt * in / tn * cfg.nr), n1 = std::min(P.N, nt * (in + 1) / tn * cfg.nr);
      if (m0 < m1 && n0 < n1) run_region(P, cfg, m0, m1, n0, n1, 0, P.K, P.beta);
    }
  });
}

// C too small to share out but K long: each thread reduces a slice of K into its own copy of C.
void run_k_split(const Problem& P, const Config& cfg, int parts) {
  const int64_t mn = P.M * P.N, kstep = round_up(cdiv(P.K, parts), 16);
  parts = int(cdiv(P.K, kstep));
  std::vector<float> partial(size_t(mn) * (parts - 1));
  parallel_for(parts, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t k0 = t * kstep, k1 = std::min(P.K, k0 + kstep);
      if (t == 0) {
        run_region(P, cfg, 0, P.M, 0, P.N, k0, k1, P.beta);
      } else {
        Problem Q = P;
        Q.C = partial.data() + (t - 1) * mn;
        Q.ldc = P.N;
        run_region(Q, cfg, 0, P.M, 0, P.N, k0, k1, 0.f);
      }
    }
  });
  for (int t = 1; t < parts; ++t)
    for (int64_t i = 0; i < P.M; ++i) {
      const float* s = partial.data() + (t - 1) * mn + i * P.N;
      float* c = P.C + i * P.ldc;
      for (int64_t j = 0; j < P.N; ++j) c[j] += s[j];
    }
}

void sgemm_impl(const Problem& P, int threads) {
  if (P.M <= 0 || P.N <= 0) return;
  if (P.K <= 0 || P.alpha == 0.f) return scale_c(P.beta, P.C, P.ldc, P.M, P.N);
  const Config cfg = current_config();
  const int64_t work = P.M * P.N * P.K;
  if (threads <= 1 || work < kParallelMinWork) return run_region(P, cfg, 0, P.M, 0, P.N, 0, P.K, P.beta);
  const int64_t tiles = cdiv(P.M, cfg.mr) * cdiv(P.N, cfg.nr);
  if (tiles < 2 * threads && P.K >= 4 * cfg.kc) return run_k_split(P, cfg, threads);
  run_grid(P, cfg, threads);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_impl(Problem{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc}, get_num_threads());
}

void sgemm_batched(int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                   const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b,
                   float beta, float* C, int64_t ldc, int64_t stride_c) {
  if (batch <= 0) return;
  const int threads = get_num_threads();
  auto one = [&](int64_t i, int th) {
    sgemm_impl(Problem{trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                       C + i * stride_c, ldc},
               th);
  };
  // Whole products per thread avoid duplicate packing and per-product fork-joins; only a batch too short to
  // keep every thread busy is better served by splitting each product.
  if (batch >= 2 * threads || (batch >= threads && M * N * K < 16 * kParallelMinWork)) {
    parallel_for(batch, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) one(i, 1);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i, threads);
  }
}

}  // namespace fastconv::cpu
