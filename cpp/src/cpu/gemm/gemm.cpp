// SGEMM driver: GotoBLAS/BLIS-style blocking around the per-ISA register tiles in gemm_<isa>.cpp.
//
// Loop nest for one rectangular region of C (run_region):
//   jc: NC columns -> pc: KC depth (B block kc x nc, packed once, lives in L2)
//     -> ic: MC rows (A block packed) -> macro-kernel: ir over MR-row strips (the strip stays in L1)
//        -> jr over NR-column panels of the B block, walking C along its rows.
// On the first strip of a B block its panels are packed in small groups just before use, so the copy of the
// source is interleaved with arithmetic instead of being a separate memory-bound phase.
// Two shapes leave this nest: narrow C (N <= 128) reads A in place instead of packing it, and short C (M <= 64)
// runs C^T tiles over B read in place (run_short): packing the wide operand would cost as much as using it.
// Threads take whole regions (a grid over M x N, or K slices when C is tiny), so the only synchronisation is
// the fork-join of parallel_for. The split (schedule) depends only on the shape, the tile and the planned thread
// count, so sgemm_scratch_bytes computes the same one: every task packs into its own slot of the caller's
// scratch, indexed by the task, never by the thread that runs it. K slices are cut from the shape and the tile
// alone (not the thread count), so a k-split product sums in the same order on 1 thread as on many.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpu/gemm/microkernel.h"
#include "cpu/gemm/pack.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"
#include "fastconv/tensor.h"

namespace fastconv::cpu {

struct GemmConfig {
  int mr, nr, vec;
  gemm::MacroFn macro;
  gemm::PackAFn pack_a;
  gemm::PackBFn pack_b;
  int64_t kc, mc, nc;
  bool direct = false;  // the macro-kernel can read A in place (MacroArgs::lda)
  gemm::ShortFn short_fn = nullptr;  // products of M <= kShortMaxM rows (microkernel.h), if the ISA has them
  gemm::PackAFn pack_short_a = nullptr;
};

namespace {

using gemm::MacroArgs;
using gemm::PackAArgs;
using gemm::PackBArgs;
using Config = GemmConfig;

// Blocking for the 48 KiB L1d / 2 MiB L2 of this class of core: the 12 x kc A strip (18 KiB at kc = 384) stays
// in L1 while kc*32 B panels stream past it; the kc x nc B block (1.1 MiB) fits L2 next to an A block. Sweeps of
// kc 192..512 and nc 512..1024 moved results by only ~3%: the tile, not the blocking, sets the pace here.
const Config kAvx512{gemm::kMrAvx512,
                     gemm::kNrAvx512,
                     gemm::kVecAvx512,
                     gemm::sgemm_macro_12x32__avx512,
                     gemm::sgemm_pack_a_12__avx512,
                     gemm::sgemm_pack_b_32__avx512,
                     384,
                     240,
                     768,
                     true,
                     gemm::sgemm_short__avx512,
                     gemm::sgemm_pack_short_a__avx512};
const Config kAvx2{gemm::kMrAvx2,
                   gemm::kNrAvx2,
                   gemm::kVecAvx2,
                   gemm::sgemm_macro_6x16__avx2,
                   [](const PackAArgs* p) { gemm::pack_a_generic(p, gemm::kMrAvx2); },
                   [](const PackBArgs* p) { gemm::pack_b_generic(p, gemm::kNrAvx2, gemm::kVecAvx2); },
                   256,
                   240,
                   1024};
const Config kScalar{gemm::kMrScalar,
                     gemm::kNrScalar,
                     gemm::kVecScalar,
                     gemm::sgemm_macro_4x8__scalar,
                     [](const PackAArgs* p) { gemm::pack_a_generic(p, gemm::kMrScalar); },
                     [](const PackBArgs* p) { gemm::pack_b_generic(p, gemm::kNrScalar, gemm::kVecScalar); },
                     256,
                     240,
                     1024};

// One task's pack buffers in the caller's scratch: A (or a short product's packed A) and B (or its edge block).
struct Slot {
  float* a;
  float* b;
};

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
  const float* packed_a = nullptr;  // A packed whole by sgemm_pack_a (no trans_a), or null
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

constexpr int64_t kPackGroup = 8;  // B panels packed per step of the first strip
constexpr int64_t kDirectMaxN = 128;

// Whether `rows` rows `ld_bytes` apart spread over the L1 sets (64 sets of 64-byte lines, the 4 KiB way of every
// current x86 L1d), at most six to a set: A rows read in place must stay in L1 next to the B panel's lines. With
// a stride of 4 KiB all twelve share one set and evict each other (256x64x1024 ran 15% slower); six to a set
// (18 KiB stride, a 512x4608 weight) measured ~1.07x the packed path.
bool rows_spread_over_l1_sets(int64_t ld_bytes, int rows) {
  int count[64] = {};
  for (int r = 0; r < rows; ++r)
    if (++count[(int64_t(r) * ld_bytes / 64) % 64] > 6) return false;
  return true;
}

// The source bytes of op(A)[i0:i0+m, p0:p0+k] and of op(B)[p0:p0+k, j0:j0+n], for PrefetchCursor.
gemm::PrefetchRegion a_region(const Problem& P, int64_t i0, int64_t m, int64_t p0, int64_t k) {
  if (m <= 0 || k <= 0) return {};
  const char* s = reinterpret_cast<const char*>(P.a_at(i0, p0));
  const int64_t ld = P.lda * int64_t(sizeof(float));
  return P.ta ? gemm::PrefetchRegion{s, k, m * 4, ld} : gemm::PrefetchRegion{s, m, k * 4, ld};
}
gemm::PrefetchRegion b_region(const Problem& P, int64_t p0, int64_t k, int64_t j0, int64_t n) {
  if (n <= 0 || k <= 0) return {};
  const char* s = reinterpret_cast<const char*>(P.b_at(p0, j0));
  const int64_t ld = P.ldb * int64_t(sizeof(float));
  return P.tb ? gemm::PrefetchRegion{s, n, k * 4, ld} : gemm::PrefetchRegion{s, k, n * 4, ld};
}

// Short products pay a transposing store per tile of 24/NV columns (NV = ceil(M/16)), so they need some depth:
// 64x3136xK TN measured 0.93x the packed path at K = 64, level at 128, 1.25x at 256 (Zen 4).
bool use_short(int64_t m, int64_t n, int64_t k, bool tb) {
  return m <= gemm::kShortMaxM && !tb && n >= 96 && k >= 32 * ((m + 15) / 16);
}

constexpr int64_t kShortKc = 256;  // depth per short-product pass: the packed A ([kc][64], 64 KiB) stays in L2

// C[m0:m1, n0:n1] for m1 - m0 <= kShortMaxM (microkernel.h): A packed per depth block, B read in place. Column
// blocks only when there are several depth blocks, so that C's block stays in cache between them. c_cols: P.C is
// stored by columns (element (i, j) at C + j*ldc + i), for a transposed problem.
void run_short(const Problem& P, const Config& cfg, Slot slot, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
               int64_t k0, int64_t k1, float beta, bool c_cols = false) {
  const int64_t m = m1 - m0, kc_step = even_step(k1 - k0, kShortKc, 1);
  const int64_t nc_step = kc_step >= k1 - k0 ? n1 - n0 : cfg.nc;
  float* abuf = slot.a;  // kc_step x round_up(m, vec)
  float* edge = slot.b;  // kc_step x 24
  for (int64_t jc = n0; jc < n1; jc += nc_step)
    for (int64_t pc = k0; pc < k1; pc += kc_step) {
      const int64_t kc = std::min(kc_step, k1 - pc);
      const PackAArgs pa{P.a_at(m0, pc), P.lda, m, kc, P.ta, abuf};
      cfg.pack_short_a(&pa);
      float* c = c_cols ? P.C + jc * P.ldc + m0 : P.C + m0 * P.ldc + jc;
      const gemm::ShortArgs sa{abuf, P.b_at(pc, jc), P.ldb, c, P.ldc, m, std::min(nc_step, n1 - jc), kc,
                               P.alpha, pc == k0 ? beta : 1.f, edge, c_cols};
      cfg.short_fn(&sa);
    }
}

// C[m0:m1, n0:n1] (over depth k0:k1, first block using `beta`) with the loop nest described at the top.
void run_region(const Problem& P, const Config& cfg, Slot slot, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                int64_t k0, int64_t k1, float beta) {
  // Short regions keep their own path (B read in place, not packed), which beats the packed one there even with A
  // packed ahead of time.
  if (cfg.short_fn && use_short(m1 - m0, n1 - n0, k1 - k0, P.tb))
    return run_short(P, cfg, slot, m0, m1, n0, n1, k0, k1, beta);
  // Narrow C with A stored transposed (a weight's W^T against a few columns): C^T = op(B)^T A is short, reads A
  // in place along its rows and writes C^T by columns, i.e. C by rows.
  if (cfg.short_fn && P.ta && use_short(n1 - n0, m1 - m0, k1 - k0, false)) {
    const Problem T{!P.tb, false, P.N, P.M, P.K, P.alpha, P.B, P.ldb, P.A, P.lda, P.beta, P.C, P.ldc};
    return run_short(T, cfg, slot, n0, n1, m0, m1, k0, k1, beta, true);
  }
  // Packing A costs ~0.3-0.5 cycles per element on Zen 4 (an L2-bound copy: source rows ld apart, write-allocated
  // destination), about as much as its uses when C is narrow (an A element serves N/16 FMAs): the 1x1 weight
  // gradient dW^T = X dY^T (N = 64) spent ~15% of its time packing X. Such products read A in place and pack
  // only B. (Reading a wide B in place instead measured 2x slower: rows ld apart map its panels onto a few L1
  // sets.)
  // A packed ahead of time (sgemm_pack_a): its depth blocks are cut from [0, K) exactly as below, and regions start
  // on whole strips, so every (pc, ic) block is a slice of it and nothing of A is read or packed here.
  const bool pre = P.packed_a && k0 == 0 && k1 == P.K;
  const bool direct = !pre && cfg.direct && !P.ta && n1 - n0 <= kDirectMaxN &&
                      rows_spread_over_l1_sets(P.lda * int64_t(sizeof(float)), cfg.mr);
  const int64_t kc_step = even_step(k1 - k0, cfg.kc, 1);
  const int64_t mc_step = even_step(m1 - m0, cfg.mc, cfg.mr);
  const int64_t nc_step = even_step(n1 - n0, cfg.nc, cfg.nr);
  const int64_t lda = direct ? P.lda : 0;
  const int64_t m_pad = round_up(P.M, cfg.mr);  // rows of each packed depth block
  // The source of an A block: rows of A, or one contiguous run of the packed copy.
  auto next_a = [&](int64_t i0, int64_t m, int64_t p0, int64_t k) {
    if (!pre) return a_region(P, i0, m, p0, k);
    if (m <= 0 || k <= 0) return gemm::PrefetchRegion{};
    const char* s = reinterpret_cast<const char*>(P.packed_a + p0 * m_pad + i0 * k);
    const int64_t bytes = round_up(m, cfg.mr) * k * int64_t(sizeof(float));
    return gemm::PrefetchRegion{s, 1, bytes, bytes};
  };
  for (int64_t jc = n0; jc < n1; jc += nc_step) {
    const int64_t nc = std::min(nc_step, n1 - jc);
    for (int64_t pc = k0; pc < k1; pc += kc_step) {
      const int64_t kc = std::min(kc_step, k1 - pc);
      const float beta_k = pc == k0 ? beta : 1.f;
      float* bbuf = slot.b;                      // kc x round_up(nc, nr)
      float* abuf = direct ? nullptr : slot.a;   // kc x min(round_up(m1 - m0, mr), mc_step)
      // The B block packed after this one: the next depth block, else the next column block's first one.
      const bool more_k = pc + kc < k1, more_n = jc + nc < n1;
      const int64_t nk = more_k ? std::min(kc_step, k1 - pc - kc) : std::min(kc_step, k1 - k0);
      const gemm::PrefetchRegion next_b = more_k   ? b_region(P, pc + kc, nk, jc, nc)
                                          : more_n ? b_region(P, k0, nk, jc + nc, std::min(nc_step, n1 - jc - nc))
                                                   : gemm::PrefetchRegion{};
      for (int64_t ic = m0; ic < m1; ic += mc_step) {
        const int64_t mc = std::min(mc_step, m1 - ic);
        // Likewise for A: the next row block, else the first row block of the next depth (or column) block.
        const bool last_m = ic + mc >= m1;
        const int64_t fm = std::min(mc_step, m1 - m0);
        const gemm::PrefetchRegion next[2] = {
            !last_m ? next_a(ic + mc, std::min(mc_step, m1 - ic - mc), pc, kc)
            : (more_k || more_n) ? next_a(m0, fm, more_k ? pc + kc : k0, nk) : gemm::PrefetchRegion{},
            last_m ? next_b : gemm::PrefetchRegion{}};
        const float* a = direct ? P.a_at(ic, pc) : pre ? P.packed_a + pc * m_pad + ic * kc : abuf;
        const int64_t a_step = direct ? P.lda : kc;  // floats from row r to r+1
        if (!direct && !pre) {
          const PackAArgs pa{P.a_at(ic, pc), P.lda, mc, kc, P.ta, abuf};
          cfg.pack_a(&pa);
        }
        float* c = P.C + ic * P.ldc + jc;
        int64_t done = 0;
        if (ic == m0) {
          // First pass over this B block: pack a group of panels right before the first strip uses them, so
          // the copy overlaps with compute and the panels are still in cache for those tiles.
          done = std::min<int64_t>(cfg.mr, mc);
          const int64_t group = cfg.nr * kPackGroup;
          for (int64_t jr = 0; jr < nc; jr += group) {
            const int64_t w = std::min<int64_t>(group, nc - jr);
            const PackBArgs pb{P.b_at(pc, jc + jr), P.ldb, kc, w, P.tb, bbuf + jr * kc};
            cfg.pack_b(&pb);
            const MacroArgs ma{a, bbuf + jr * kc, c + jr, P.ldc, done, w, kc, P.alpha, beta_k, nullptr, 0, lda};
            cfg.macro(&ma);
          }
        }
        if (done < mc) {  // the bulk of the block: the next blocks' sources are prefetched between its tiles
          const MacroArgs ma{a + done * a_step, bbuf, c + done * P.ldc, P.ldc, mc - done, nc, kc, P.alpha, beta_k,
                             next, 2, lda};
          cfg.macro(&ma);
        }
      }
    }
  }
}

// Below this many multiply-adds (~160^3) a second thread costs more (wake-up, duplicate packing) than it saves.
constexpr int64_t kParallelMinWork = int64_t(1) << 22;
// From here (~1300^3) two tasks per thread: dynamic balancing against other jobs on the shared cores is worth
// the extra packing; below, one task per thread keeps the duplicate packing of A or B to a minimum.
constexpr int64_t kBalanceMinWork = int64_t(1) << 31;
// K split: C of at most this many register tiles and K of at least kKSplitMinK depth blocks, sliced into
// min(kKSplitMaxParts, K / (kKSplitMinStep * kc)) slices. All fixed, so the summation order is the problem's.
constexpr int64_t kKSplitMaxTiles = 16;
constexpr int64_t kKSplitMinK = 4;
constexpr int64_t kKSplitMinStep = 2;
constexpr int64_t kKSplitMaxParts = 16;

int64_t floats16(int64_t n) { return round_up(n, 16); }  // every buffer starts on a cache line

// Bounds on the buffers run_region packs into for an m x n x k region, whichever path it takes there (even_step
// never exceeds its cap or the length). Monotone in m, n and k, so a schedule's largest region bounds them all.
struct SlotSize {
  int64_t a = 0, b = 0;
};
SlotSize region_size(const Config& cfg, int64_t m, int64_t n, int64_t k) {
  const int64_t kc = std::min(k, cfg.kc);
  SlotSize s{floats16(kc * std::min(round_up(m, cfg.mr), round_up(cfg.mc, cfg.mr))),
             floats16(kc * std::min(round_up(n, cfg.nr), round_up(cfg.nc, cfg.nr)))};
  if (cfg.short_fn) {  // C or C^T of at most kShortMaxM rows: packed A slices and the edge block
    const int64_t ks = std::min(k, kShortKc), rows = std::min(std::max(m, n), gemm::kShortMaxM);
    s.a = std::max(s.a, floats16(ks * round_up(rows, cfg.vec)));
    s.b = std::max(s.b, floats16(ks * 24));
  }
  return s;
}

// How one product is split: one region, K slices (C too small to share out but K long: each slice reduces into
// its own copy of C, added up in slice order), or a tm x tn grid of regions. Scratch: [k-split partials][one pack
// slot per task; a k split has min(slices, threads) slots, each running a fixed contiguous run of slices].
struct Schedule {
  enum class Kind { none, single, k_split, grid } kind = Kind::none;
  int64_t tasks = 0, slots = 0, tm = 1, tn = 1, kstep = 0, partial_floats = 0;
  SlotSize slot;
  int64_t floats() const { return partial_floats + slots * (slot.a + slot.b); }
  Slot at(float* scratch, int64_t t) const {
    float* base = scratch + partial_floats + t * (slot.a + slot.b);
    return {base, base + slot.a};
  }
};

// Each grid region packs its own copy of the A rows and B columns it needs, so splitting M costs an extra pass
// over B (K*N) and splitting N an extra pass over A (M*K): the grid with the least duplicate packing for the
// wanted task count.
Schedule schedule(const Config& cfg, int threads, int64_t M, int64_t N, int64_t K) {
  Schedule s;
  if (M <= 0 || N <= 0 || K <= 0) return s;
  const int64_t work = M * N * K, mt = cdiv(M, cfg.mr), nt = cdiv(N, cfg.nr);
  // Tiny products stay one region; the K split below is decided and sliced from the shape and the tile alone,
  // never the thread count, so a tiny-output long-K product sums in the same order on any number of threads.
  if (work >= kParallelMinWork && mt * nt <= kKSplitMaxTiles && K >= kKSplitMinK * cfg.kc) {
    s.kind = Schedule::Kind::k_split;
    const int64_t parts = std::min(kKSplitMaxParts, K / (kKSplitMinStep * cfg.kc));
    s.kstep = round_up(cdiv(K, parts), 16);
    s.tasks = cdiv(K, s.kstep);
    s.slots = std::max<int64_t>(1, std::min<int64_t>(threads, s.tasks));
    s.partial_floats = floats16(M * N * (s.tasks - 1));
    s.slot = region_size(cfg, M, N, s.kstep);
    return s;
  }
  if (threads <= 1 || work < kParallelMinWork) {
    s.kind = Schedule::Kind::single;
    s.tasks = s.slots = 1;
    s.slot = region_size(cfg, M, N, K);
    return s;
  }
  const int64_t want = std::min(int64_t(threads) * (work >= kBalanceMinWork ? 2 : 1), mt * nt);
  int64_t best_tm = 1, best_tn = want;
  double best_cost = -1;
  for (int64_t tm = 1; tm <= std::min(want, mt); ++tm) {
    const int64_t tn = cdiv(want, tm);
    if (tn > nt) continue;
    const double cost = double(tm) * N + double(tn) * M;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best_tm = tm, best_tn = tn;
  }
  s.kind = Schedule::Kind::grid;
  s.tm = best_tm;
  s.tn = best_tn;
  s.tasks = s.slots = best_tm * best_tn;
  s.slot = region_size(cfg, std::min(M, cdiv(mt, best_tm) * cfg.mr), std::min(N, cdiv(nt, best_tn) * cfg.nr), K);
  return s;
}

void run_grid(const Problem& P, const Config& cfg, const Schedule& S, float* scratch) {
  const int64_t mt = cdiv(P.M, cfg.mr), nt = cdiv(P.N, cfg.nr), tm = S.tm, tn = S.tn;
  parallel_for(tm * tn, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t im = t / tn, in = t % tn;
      const int64_t m0 = std::min(P.M, mt * im / tm * cfg.mr), m1 = std::min(P.M, mt * (im + 1) / tm * cfg.mr);
      const int64_t n0 = std::min(P.N, nt * in / tn * cfg.nr), n1 = std::min(P.N, nt * (in + 1) / tn * cfg.nr);
      if (m0 < m1 && n0 < n1) run_region(P, cfg, S.at(scratch, t), m0, m1, n0, n1, 0, P.K, P.beta);
    }
  });
}

void run_k_split(const Problem& P, const Config& cfg, const Schedule& S, float* scratch) {
  const int64_t mn = P.M * P.N, kstep = S.kstep, parts = S.tasks, slots = S.slots;
  float* partial = scratch;
  // Slot s runs slices [s*parts/slots, (s+1)*parts/slots) in order with its pack buffers; each slice writes its
  // own partial (slice 0 C itself), so which slot runs a slice does not change the result.
  parallel_for(slots, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s)
      for (int64_t t = parts * s / slots; t < parts * (s + 1) / slots; ++t) {
        const int64_t k0 = t * kstep, k1 = std::min(P.K, k0 + kstep);
        if (t == 0) {
          run_region(P, cfg, S.at(scratch, s), 0, P.M, 0, P.N, k0, k1, P.beta);
        } else {
          Problem Q = P;
          Q.C = partial + (t - 1) * mn;
          Q.ldc = P.N;
          run_region(Q, cfg, S.at(scratch, s), 0, P.M, 0, P.N, k0, k1, 0.f);
        }
      }
  });
  for (int64_t t = 1; t < parts; ++t)
    for (int64_t i = 0; i < P.M; ++i) {
      const float* s = partial + (t - 1) * mn + i * P.N;
      float* c = P.C + i * P.ldc;
      for (int64_t j = 0; j < P.N; ++j) c[j] += s[j];
    }
}

// A caller that sized its scratch for another context or shape: stop before writing past it.
void check_scratch(const Config* cfg, const float* scratch, size_t need, size_t have) {
  const bool aligned = reinterpret_cast<uintptr_t>(scratch) % 64 == 0;  // the packers store whole lines
  if (cfg && need <= have && aligned) return;
  std::fprintf(stderr, "fastconv: internal error: sgemm %s (needs %zu bytes of scratch, was given %zu at %p)\n",
               !cfg ? "called without a GemmConfig" : !aligned ? "scratch not 64-byte aligned" : "scratch too small",
               need, have, static_cast<const void*>(scratch));
  std::abort();
}

void sgemm_impl(const Problem& P, const Config* cfg, int threads, float* scratch, size_t bytes) {
  if (P.M <= 0 || P.N <= 0) return;
  if (P.K <= 0 || P.alpha == 0.f) return scale_c(P.beta, P.C, P.ldc, P.M, P.N);
  if (!cfg) check_scratch(cfg, scratch, 0, 0);
  const Schedule S = schedule(*cfg, threads, P.M, P.N, P.K);
  check_scratch(cfg, scratch, size_t(S.floats()) * sizeof(float), bytes);
  switch (S.kind) {
    case Schedule::Kind::single: return run_region(P, *cfg, S.at(scratch, 0), 0, P.M, 0, P.N, 0, P.K, P.beta);
    case Schedule::Kind::k_split: return run_k_split(P, *cfg, S, scratch);
    case Schedule::Kind::grid: return run_grid(P, *cfg, S, scratch);
    case Schedule::Kind::none: return;
  }
}

// Whole products per task avoid duplicate packing and per-product fork-joins; only a batch too short to keep
// every thread busy is better served by splitting each product. Per product: min(batch, threads) tasks take the
// products from a shared counter, each task with one slot.
struct BatchedSchedule {
  bool per_product;
  int64_t slots;
  Schedule one;  // of a single product, with 1 thread when per_product
  int64_t floats() const { return slots * one.floats(); }
};
BatchedSchedule batched_schedule(const Config& cfg, int threads, int64_t batch, int64_t M, int64_t N, int64_t K) {
  const bool per_product = batch >= 2 * threads || (batch >= threads && M * N * K < 16 * kParallelMinWork);
  if (per_product) return {true, std::max<int64_t>(1, std::min<int64_t>(batch, threads)), schedule(cfg, 1, M, N, K)};
  return {false, 1, schedule(cfg, threads, M, N, K)};
}

}  // namespace

const GemmConfig* gemm_config(Isa isa) {
  switch (isa) {
    case Isa::avx512: return &kAvx512;
    case Isa::avx2: return &kAvx2;
    default: return &kScalar;
  }
}

SgemmKernels sgemm_kernels(const GemmConfig* c) { return {c->mr, c->nr, c->vec, c->pack_a, c->pack_b, c->macro}; }

size_t sgemm_scratch_bytes(const GemmContext& g, bool, bool, int64_t M, int64_t N, int64_t K) {
  return size_t(schedule(*g.cfg, g.threads, M, N, K).floats()) * sizeof(float);
}

size_t sgemm_batched_scratch_bytes(const GemmContext& g, int64_t batch, bool, bool, int64_t M, int64_t N, int64_t K) {
  if (batch <= 0) return 0;
  return size_t(batched_schedule(*g.cfg, g.threads, batch, M, N, K).floats()) * sizeof(float);
}

void sgemm(const GemmContext& g, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_impl(Problem{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc}, g.cfg, g.threads, g.scratch,
             g.scratch_bytes);
}

int64_t sgemm_packed_a_floats(const GemmContext& g, int64_t M, int64_t K) {
  return round_up(std::max<int64_t>(M, 0), g.cfg->mr) * std::max<int64_t>(K, 0);
}

void sgemm_pack_a(const GemmContext& g, int64_t M, int64_t K, const float* A, int64_t lda, float* dst) {
  if (M <= 0 || K <= 0) return;
  const int64_t kc_step = even_step(K, g.cfg->kc, 1), m_pad = round_up(M, g.cfg->mr);
  for (int64_t pc = 0; pc < K; pc += kc_step) {
    const int64_t kc = std::min(kc_step, K - pc);
    const PackAArgs pa{A + pc, lda, M, kc, false, dst + pc * m_pad};
    g.cfg->pack_a(&pa);
  }
}

void sgemm_prepacked_a(const GemmContext& g, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                       const float* packed_a, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  Problem P{false, false, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc};
  P.packed_a = packed_a;
  sgemm_impl(P, g.cfg, g.threads, g.scratch, g.scratch_bytes);
}

void sgemm_batched(const GemmContext& g, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                   int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c) {
  if (batch <= 0) return;
  check_scratch(g.cfg, nullptr, 0, 0);
  const BatchedSchedule S = batched_schedule(*g.cfg, g.threads, batch, M, N, K);
  const size_t slot_bytes = size_t(S.one.floats()) * sizeof(float);
  check_scratch(g.cfg, g.scratch, size_t(S.floats()) * sizeof(float), g.scratch_bytes);
  auto one = [&](int64_t i, int th, float* scratch) {
    sgemm_impl(Problem{trans_a, trans_b, M, N, K, alpha, A + i * stride_a, lda, B + i * stride_b, ldb, beta,
                       C + i * stride_c, ldc},
               g.cfg, th, scratch, slot_bytes);
  };
  if (!S.per_product) {
    for (int64_t i = 0; i < batch; ++i) one(i, g.threads, g.scratch);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_for(S.slots, 1, [&](int64_t b, int64_t e) {
    for (int64_t s = b; s < e; ++s)
      for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < batch;)
        one(i, 1, g.scratch + s * S.one.floats());
  });
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  const GemmContext g = gemm_context(active_isa(), get_num_threads());
  const size_t bytes = sgemm_scratch_bytes(g, trans_a, trans_b, M, N, K);
  // The calling thread keeps its scratch (grown, never shrunk) so that repeated calls pack into pages that are
  // already mapped and cached, as the kernels' planned workspace is; an allocation per call cost a small product
  // (256^3) a measurable share of its time.
  thread_local struct Scratch {
    void* p = nullptr;
    size_t n = 0;
    ~Scratch() { aligned_free64(p); }
  } scratch;
  if (scratch.n < bytes) {
    aligned_free64(scratch.p);
    scratch.p = nullptr;
    scratch.n = 0;
    scratch.p = aligned_alloc64(bytes);
    scratch.n = bytes;
  }
  sgemm(with_scratch(g, scratch.p, bytes), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fastconv::cpu
