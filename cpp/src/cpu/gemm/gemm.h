// The one SGEMM every matrix-shaped kernel calls. Row-major.
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
// op(A) = A (stored M x K, row stride lda) or, with trans_a, A^T (A stored K x M, row stride lda); same for B.
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
//
// Kernels never allocate and never read global state, so a product's plan is fixed when its op is prepared: a
// GemmContext names the instruction set's tile and blocking and the thread count the work is split for, and
// carries the scratch (pack buffers, k-split partials) that the caller took from its planned workspace, sized by
// sgemm_scratch_bytes for the same context and shape. The work is split into tasks whose count depends only on
// the context's thread count, each with its own slice of the scratch, so the result and the memory used do not
// depend on how many pool threads exist when it runs (more just idle; fewer take several tasks each).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/gemm/microkernel.h"
#include "fastconv/cpu_features.h"

namespace fastconv::cpu {

struct GemmConfig;  // one ISA level's register tile, packers and cache blocking (gemm.cpp)
const GemmConfig* gemm_config(Isa isa);

struct GemmContext {
  const GemmConfig* cfg = nullptr;
  int threads = 1;           // tasks are planned for this many threads; 1 inside a caller's parallel region
  float* scratch = nullptr;  // 64-byte aligned
  size_t scratch_bytes = 0;
};
inline GemmContext gemm_context(Isa isa, int threads) { return {gemm_config(isa), threads < 1 ? 1 : threads}; }
inline GemmContext with_scratch(GemmContext g, void* p, size_t bytes) {
  g.scratch = static_cast<float*>(p);
  g.scratch_bytes = bytes;
  return g;
}

// Scratch one call of that shape needs with this context (its own scratch is ignored); a multiple of 64.
size_t sgemm_scratch_bytes(const GemmContext& g, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K);
size_t sgemm_batched_scratch_bytes(const GemmContext& g, int64_t batch, bool trans_a, bool trans_b, int64_t M,
                                   int64_t N, int64_t K);

// A call whose scratch is smaller than sgemm_scratch_bytes asks for is a bug in the caller: it aborts with a
// message rather than writing past the buffer.
void sgemm(const GemmContext& g, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// A weight packed once for many products (inference: the packed copy is cached by weight version, ops/
// conv_weight_cache.h): sgemm_pack_a lays out A [M,K] (row stride lda) in the register tile's strips, one block
// per depth block of the driver, so the products read it straight and never pack A (at batch 1 packing a
// 2048x1024 weight for 49 columns cost about as much as the product). The layout depends on the context's ISA
// only, not on its thread count. sgemm_prepacked_a computes C = A B + beta C (no transposes, alpha 1) like sgemm
// from the same scratch; `A` must still be the unpacked weight (a k-split product reads it instead).
int64_t sgemm_packed_a_floats(const GemmContext& g, int64_t M, int64_t K);
void sgemm_pack_a(const GemmContext& g, int64_t M, int64_t K, const float* A, int64_t lda, float* dst);
void sgemm_prepacked_a(const GemmContext& g, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                       const float* packed_a, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// `batch` independent GEMMs with fixed element strides between consecutive A, B and C matrices
// (Winograd transform-domain products, grouped convolution).
void sgemm_batched(const GemmContext& g, int64_t batch, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   float alpha, const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                   int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c);

// Convenience for the bindings, benchmarks and tests, never for kernels: plans for the active ISA level and
// thread count, with scratch the calling thread keeps for its next call (grown to the largest product it ran).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// A context's register tile with its packers and macro-kernel, for callers that drive the blocking loops
// themselves because they produce B in packed form (Winograd fuses its filter transform into B's packing).
// Layouts as in microkernel.h; B panels are [kc][round_up(width, vec)], width <= nr.
struct SgemmKernels {
  int mr, nr, vec;
  gemm::PackAFn pack_a;
  gemm::PackBFn pack_b;
  gemm::MacroFn macro;
};
SgemmKernels sgemm_kernels(const GemmConfig* cfg);

}  // namespace fastconv::cpu
