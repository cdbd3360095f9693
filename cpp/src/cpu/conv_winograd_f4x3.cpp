// Winograd F(4x4, 3x3) driver: every 4x4 output tile is computed from a 6x6 input tile as
//   Y = A^T [ sum_c (G g_kc G^T) .* (B^T d_c B) ] A,
// so the channel sum becomes 36 independent GEMMs in the transform domain, 2.25 multiplies per output instead of 9.
//
// Flow of one call:
//   1. filter transform  w -> U[36][Cin][Cout]                              (parallel over input channels)
//   2. pack the input into 16-channel blocks with the padding applied (xb)  (parallel over image x block)
//      so that tiles at the border need no special cases and every tile load is 16 contiguous channels.
//   3. per block of tiles: input transform -> V[36][tiles][Cp], 36 GEMMs M_e = V_e * U_e through
//      sgemm_batched, output transform (+ bias) straight into NCHW y.
// Few channels: small blocks whose V and M stay in L2, each slot running whole blocks in its own workspace
// (no synchronisation). Many channels: large blocks run one after the other, each phase parallel inside, so the
// GEMMs re-pack U rarely. The plan (conv_winograd_f4x3_plan.cpp) makes these choices at prepare time.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "cpu/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/parallel.h"

namespace fastconv::cpu {
namespace {

using namespace winograd;

void fill_bias(const Geometry& g, const float* bias, float* y) {
  const int64_t plane = g.out_h * g.out_w;
  parallel_for(g.N * g.Cout, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::fill(y + i * plane, y + (i + 1) * plane, bias ? bias[i % g.Cout] : 0.f);
  });
}

// xb from NCHW x: every (image, 16-channel block) plane with the padding applied, in parallel.
void pack_input(const WinogradPlan& P, const float* x, float* xb) {
  const Geometry& g = P.g;
  parallel_for(g.N * g.CB, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / g.CB, cb = i % g.CB;
      const PackArgs a{x + (n * g.Cin + cb * kLanes) * g.H * g.W, xb + i * g.Hp * g.Wp * kLanes,
                       std::min<int64_t>(kLanes, g.Cin - cb * kLanes), g.H, g.W, g.Hp, g.Wp, g.pad_h, g.pad_w};
      P.pack(&a);
    }
  });
}

// V rows of the nt tiles from t0 (one block), in parallel over (tile, channel block).
void transform_inputs(const WinogradPlan& P, const float* xb, float* V, int64_t t0, int64_t nt, int64_t sv) {
  const Geometry& g = P.g;
  parallel_for(nt * g.CB, 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e;) {  // runs of whole channel-block ranges within one tile
      const int64_t t = i / g.CB, cb0 = i % g.CB, cb1 = std::min(g.CB, cb0 + (e - i));
      const InputArgs ia{&g, xb, V, t0, t0 + t, t0 + t + 1, cb0, cb1, sv};
      P.input(&ia);
      i += cb1 - cb0;
    }
  });
}

// M[e][:, co0:co0+w] = V_e x U_e[:, co0:co0+w] for every 32-channel panel: V is packed once per (e, depth
// block); per panel, each slot transforms the filters of its output channels straight into packed B panels
// (36 x kc x 32 floats, L2-resident) and runs the macro-kernel on them, depth blocks accumulating with beta = 1.
void run_fused(const WinogradPlan& P, const float* w, bool transposed, const float* V, int64_t sv, int64_t nt,
               float* M, int64_t sm, float* scratch) {
  const Geometry& g = P.g;
  const SgemmKernels gk = sgemm_kernels(P.gemm);
  const int64_t kc = fused_kc(g.Cin), nkb = cdiv(g.Cin, kc), mp = round_up(nt, gk.mr);
  float* apk = scratch;  // [36][Cin] blocks of packed A: (e, depth block at c0) at (e * Cin + c0) * mp
  float* panels = scratch + round_up(kPoints * round_up(nt, kMaxMr) * g.Cin, 16);
  const int64_t panel_floats = round_up(kPoints * kc * kMaxNr, 16);
  parallel_for(kPoints * nkb, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t pt = i / nkb, c0 = i % nkb * kc, kcb = std::min(kc, g.Cin - c0);
      const gemm::PackAArgs pa{V + pt * sv + c0, g.Cp, nt, kcb, false, apk + (pt * g.Cin + c0) * mp};
      gk.pack_a(&pa);
    }
  });
  const int64_t npanels = cdiv(g.Cout, int64_t(gk.nr));
  const int64_t slots = std::min<int64_t>(npanels, P.threads);  // the plan has a panel buffer per thread
  parallel_for(slots, 1, [&](int64_t sb, int64_t se) {
    for (int64_t s = sb; s < se; ++s) {
      float* bp = panels + s * panel_floats;
      for (int64_t p = s; p < npanels; p += slots) {
        const int64_t co0 = p * gk.nr, width = std::min<int64_t>(gk.nr, g.Cout - co0);
        const int64_t row = round_up(width, gk.vec);
        if (row != width) std::fill(bp, bp + kPoints * kc * row, 0.f);  // the padded lanes of the last panel
        for (int64_t c0 = 0; c0 < g.Cin; c0 += kc) {
          const int64_t kcb = std::min(kc, g.Cin - c0);
          const FilterArgs fa{w, bp, g.Cin, g.Cout, c0, c0 + kcb, transposed, co0, co0 + width, c0, row, kcb * row};
          P.filter(&fa);
          for (int64_t pt = 0; pt < kPoints; ++pt) {
            const gemm::MacroArgs ma{apk + (pt * g.Cin + c0) * mp, bp + pt * kcb * row, M + pt * sm + co0, g.Kp, nt,
                                     width, kcb, 1.f, c0 == 0 ? 0.f : 1.f};
            gk.macro(&ma);
          }
        }
      }
    }
  });
}

void run(const WinogradPlan& P, const float* x, const float* w, bool transposed, const float* bias, float* y,
         void* workspace) {
  const Geometry& g = P.g;
  if (g.N <= 0 || g.Cout <= 0 || g.out_h <= 0 || g.out_w <= 0) return;
  if (g.Cin <= 0) return fill_bias(g, bias, y);
  float* U = static_cast<float*>(workspace);
  float* xb = U + P.u_floats;
  float* slots = xb + P.xb_floats;

  // Ranges of input channels: each task then writes whole rows of the 36 planes (sequential streams).
  if (!P.fused)
    parallel_for(g.Cin, std::max<int64_t>(1, 4096 / g.Cout), [&](int64_t b, int64_t e) {
      const FilterArgs a{w, U, g.Cin, g.Cout, b, e, transposed, 0, g.Cout, 0, g.Cout, g.Cin * g.Cout};
      P.filter(&a);
    });
  pack_input(P, x, xb);

  const int64_t sv = P.block * g.Cp, sm = P.block * g.Kp;  // per-element strides of V and M
  const size_t gemm_bytes = size_t(P.gemm_floats) * sizeof(float);
  // A slot: V [36][block][Cp], M [36][block][Kp], then the GEMMs' scratch.
  auto gemm = [&](float* V, float* M, int64_t nt, int threads) {
    const GemmContext gc{P.gemm, threads, M + kPoints * sm, gemm_bytes};
    sgemm_batched(gc, kPoints, false, false, nt, g.Cout, g.Cin, 1.f, V, g.Cp, sv, U, g.Cout, g.Cin * g.Cout, 0.f, M,
                  g.Kp, sm);
  };
  if (P.whole_blocks) {
    std::atomic<int64_t> next{0};
    parallel_for(P.slots, 1, [&](int64_t sb, int64_t se) {
      for (int64_t s = sb; s < se; ++s) {
        float* V = slots + s * P.slot_floats;
        float* M = V + kPoints * sv;
        for (int64_t blk; (blk = next.fetch_add(1, std::memory_order_relaxed)) < P.nblocks;) {
          const int64_t t0 = blk * P.block, t1 = std::min(P.tiles, t0 + P.block);
          const InputArgs ia{&g, xb, V, t0, t0, t1, 0, g.CB, sv};
          P.input(&ia);
          gemm(V, M, t1 - t0, 1);
          const OutputArgs oa{&g, M, bias, y, t0, t0, t1, 0, g.KB, sm};
          P.output(&oa);
        }
      }
    });
    return;
  }
  float* V = slots;
  float* M = V + kPoints * sv;
  for (int64_t t0 = 0; t0 < P.tiles; t0 += P.block) {
    const int64_t t1 = std::min(P.tiles, t0 + P.block), nt = t1 - t0;
    transform_inputs(P, xb, V, t0, nt, sv);
    if (P.fused)
      run_fused(P, w, transposed, V, sv, nt, M, sm, U);
    else
      gemm(V, M, nt, P.threads);
    parallel_for(nt * g.KB, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e;) {
        const int64_t t = i / g.KB, kb0 = i % g.KB, kb1 = std::min(g.KB, kb0 + (e - i));
        const OutputArgs oa{&g, M, bias, y, t0, t0 + t, t0 + t + 1, kb0, kb1, sm};
        P.output(&oa);
        i += kb1 - kb0;
      }
    });
  }
}

// Lanes of the filter adjoint (winograd::filter_adjoint__*) run over output channels k, which are contiguous in
// Macc[e][c][k], so its 36 loads per lane are 36 sequential streams; reading one (c, k) at a time instead strides by
// C*K floats per load (39 ms of a 42 ms 512-channel weight gradient went there).
constexpr int64_t kAdjLanes = kLanes;

// dw for output channels [co0, co0 + kn) from their Macc block [36][Cin][kn].
void adjoint_block(const WinogradPlan& P, const float* Macc, int64_t co0, int64_t kn, float* dw) {
  const Geometry& g = P.g;
  const int64_t plane = g.Cin * kn, kblocks = cdiv(kn, kAdjLanes);
  parallel_for(g.Cin * kblocks, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t c = i / kblocks, k0 = i % kblocks * kAdjLanes;
      const AdjointArgs aa{Macc + c * kn + k0, plane, std::min(kAdjLanes, kn - k0), dw + ((co0 + k0) * g.Cin + c) * 9,
                           g.Cin * 9};
      P.adjoint(&aa);
    }
  });
}

// dw from V [36][nt][Cp] and Wt [36][nt][Kp] of a single tile block: V_e^T and Wt_e are packed once; then per
// (48 input channels, 32-channel output panel) block, the 36 products go into a slot's buffer [36][48][row]
// (L2-resident) and are reduced to dw by the adjoint right away.
void fused_weight(const WinogradPlan& P, const float* V, int64_t sv, const float* Wt, int64_t sw, int64_t nt,
                  float* dw, float* scratch) {
  const Geometry& g = P.g;
  const SgemmKernels gk = sgemm_kernels(P.gemm);
  const int64_t ma = round_up(g.Cin, int64_t(gk.mr)), nb = round_up(g.Cout, int64_t(gk.nr));
  float* apk = scratch;  // per e: ma x nt as MR-row strips
  float* bpk = apk + round_up(kPoints * round_up(g.Cin, kMaxMr) * nt, 16);  // per e: panels of NR x nt
  float* bufs = bpk + round_up(kPoints * round_up(g.Cout, kMaxNr) * nt, 16);
  const int64_t buf_floats = round_up(kPoints * kFusedWRows * kMaxNr, 16);
  parallel_for(kPoints, 1, [&](int64_t b, int64_t e) {
    for (int64_t pt = b; pt < e; ++pt) {
      const gemm::PackAArgs pa{V + pt * sv, g.Cp, g.Cin, nt, true, apk + pt * ma * nt};
      gk.pack_a(&pa);
      const gemm::PackBArgs pb{Wt + pt * sw, g.Kp, nt, g.Cout, false, bpk + pt * nb * nt};
      gk.pack_b(&pb);
    }
  });
  const int64_t cblocks = cdiv(g.Cin, kFusedWRows), npanels = cdiv(g.Cout, int64_t(gk.nr));
  const int64_t units = cblocks * npanels;
  const int64_t slots = std::min<int64_t>(units, P.threads);  // the plan has a buffer per thread
  parallel_for(slots, 1, [&](int64_t sb, int64_t se) {
    for (int64_t s = sb; s < se; ++s) {
      float* buf = bufs + s * buf_floats;
      for (int64_t u = s; u < units; u += slots) {
        const int64_t c0 = u / npanels * kFusedWRows, co0 = u % npanels * gk.nr;
        const int64_t rows = std::min(kFusedWRows, g.Cin - c0), width = std::min<int64_t>(gk.nr, g.Cout - co0);
        const int64_t plane = kFusedWRows * gk.nr;
        for (int64_t pt = 0; pt < kPoints; ++pt) {
          const gemm::MacroArgs m{apk + pt * ma * nt + c0 * nt, bpk + pt * nb * nt + co0 * nt, buf + pt * plane, gk.nr,
                                  rows, width, nt, 1.f, 0.f};
          gk.macro(&m);
        }
        for (int64_t c = 0; c < rows; ++c)
          for (int64_t k0 = 0; k0 < width; k0 += kAdjLanes) {
            const AdjointArgs aa{buf + c * gk.nr + k0, plane, std::min(kAdjLanes, width - k0),
                                 dw + ((co0 + k0) * g.Cin + c0 + c) * 9, g.Cin * 9};
            P.adjoint(&aa);
          }
      }
    }
  });
}

}  // namespace

// Tiles go in blocks (bounded V and Wt) accumulated into one Macc[36][C][K] with beta = 1; each phase is
// parallel inside (the GEMMs over the 36 elements and their rows).
void winograd_f4x3_backward_weight(const WinogradPlan& P, const float* x, const float* dy, float* dw,
                                   void* workspace) {
  const Geometry& g = P.g;
  if (g.Cout <= 0 || g.Cin <= 0) return;
  if (P.tiles <= 0) {
    std::fill(dw, dw + g.Cout * g.Cin * 9, 0.f);
    return;
  }
  float* xb = static_cast<float*>(workspace);
  float* V = xb + P.xb_floats;
  float* Wt = V + P.v_floats;
  float* Macc = Wt + P.w_floats;
  const GemmContext gc{P.gemm, P.threads, Macc + P.m_floats, size_t(P.gemm_floats) * sizeof(float)};
  pack_input(P, x, xb);
  const int64_t sv = P.block * g.Cp, sw = P.block * g.Kp;
  for (int64_t t0 = 0; t0 < P.tiles; t0 += P.block) {
    const int64_t t1 = std::min(P.tiles, t0 + P.block), nt = t1 - t0;
    transform_inputs(P, xb, V, t0, nt, sv);
    parallel_for(nt * g.KB, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e;) {
        const int64_t t = i / g.KB, kb0 = i % g.KB, kb1 = std::min(g.KB, kb0 + (e - i));
        const GradOutArgs ga{&g, dy, Wt, t0, t0 + t, t0 + t + 1, kb0, kb1, sw};
        P.gradout(&ga);
        i += kb1 - kb0;
      }
    });
    if (P.fused) return fused_weight(P, V, sv, Wt, sw, nt, dw, Macc);
    // Output channels [co0, co0 + kn) of Macc[36][Cin][kn], then (once complete) their dw.
    for (int64_t co0 = 0; co0 < g.Cout; co0 += P.kblock) {
      const int64_t kn = std::min(P.kblock, g.Cout - co0);
      sgemm_batched(gc, kPoints, true, false, g.Cin, kn, nt, 1.f, V, g.Cp, sv, Wt + co0, g.Kp, sw,
                    t0 == 0 ? 0.f : 1.f, Macc, kn, g.Cin * kn);
      if (t1 == P.tiles) adjoint_block(P, Macc, co0, kn, dw);
    }
  }
}

void winograd_f4x3_forward(const WinogradPlan& plan, const float* x, const float* w, const float* bias, float* y,
                           void* workspace) {
  run(plan, x, w, false, bias, y, workspace);
}

void winograd_f4x3_backward_data(const WinogradPlan& plan, const float* dy, const float* w, float* dx,
                                 void* workspace) {
  run(plan, dy, w, true, nullptr, dx, workspace);
}

}  // namespace fastconv::cpu
