// The arch-specific warp instructions of the tensor-core kernels (sm_80+), in one place, with an emulated path:
//   mma_m16n8k8_tf32   mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
//   mma_m16n8k16_bf16  mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
//   ldmatrix_x{1,2,4}[_trans]   ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16
//   cp_async_{ca,cg}16, cp_async_ca4, cp_async_commit, cp_async_wait<N>   cp.async (+ commit_group / wait_group)
//   cvt_tf32           cvt.rna.tf32.f32;  pack_bf16x2: cvt.rn.bf16x2.f32 (element 0 in the low half)
// Fragments are the PTX ISA's ("Matrix Fragments for mma.m16n8k8" / "mma.m16n8k16 with floating point type"):
// with g = lane / 4 and t = lane % 4,
//   tf32 A (16x8, 4 regs): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4);  B (8x8): b0 (t, g), b1 (t+4, g)
//   bf16 A (16x16, 4 regs of 2): a0,a1 (g, 2t..2t+1), a2,a3 (g+8, 2t..), a4,a5 (g, 2t+8..), a6,a7 (g+8, 2t+8..);
//        B (16x8, 2 regs of 2): b0,b1 (2t..2t+1, g), b2,b3 (2t+8.., g)
//   C/D (16x8, 4 floats): c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..2t+1)
// ldmatrix: lane l gives the address of row l % 8 of matrix l / 8 (x1: lanes 0-7 count, x2: 0-15, x4: all);
// register i of lane l gets row l / 4, 16-bit columns 2 (l % 4) and +1 of matrix i (.trans: the transposed matrix).
// Every lane of the warp must execute each mma/ldmatrix (.aligned): the emulator reports one that does not.
//
// Under FASTCONV_CUDA_EMU each lane hands its registers to the warp through fc_emu::exchange (the rendezvous the
// shuffles use) and computes its own accumulator elements from the fragments of all 32 lanes, so a lane-layout
// mistake in a kernel gives wrong numbers, as on a GPU. Operands are rounded as the tensor cores do (tf32: the low
// 13 mantissa bits are ignored; bf16 x bf16 products are exact), each mma's K products plus C are summed in double
// and rounded once to float (the hardware's internal accumulation order is not specified bit for bit, so results
// may differ from a GPU's in the last bit of the float). cp.async is a synchronous copy; commit/wait do nothing.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#ifdef FASTCONV_CUDA_EMU
#include <cuda_bf16.h>

#include <cstring>
#define FC_MMA_SITE const char *file = __builtin_FILE(), int line = __builtin_LINE()
#endif

namespace fastconv::cuda::mma {

#ifndef FASTCONV_CUDA_EMU
// ---- nvcc: inline PTX (sm_80 and later; the kernels that use these are compiled only for such targets) --------
// Compiled for an older target, every instruction traps instead of failing the build of the whole library.
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define FC_PTX(...) asm volatile(__VA_ARGS__)
#else
#define FC_PTX(...) __trap()
#endif

__device__ __forceinline__ uint32_t cvt_tf32(float x) {
  uint32_t r = 0;
  FC_PTX("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  uint32_t r = 0;
  FC_PTX("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));  // d = {a -> high half, b -> low half}
  return r;
}

__device__ __forceinline__ void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                 const float c[4]) {
  FC_PTX("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
                 "f"(c[3]));
}
__device__ __forceinline__ void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2],
                                                  const float c[4]) {
  FC_PTX("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
               "{%10,%11,%12,%13};"
               : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
                 "f"(c[3]));
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void ldmatrix_x1(uint32_t r[1], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2(uint32_t r[2], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x1_trans(uint32_t r[1], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(uint32_t r[2], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* row) {
  FC_PTX("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(row)));
}

// src_bytes < 16 (or < 4) copies that many bytes and zero-fills the rest; 0 reads nothing (src must still be a
// valid address). The 16-byte forms need 16-byte aligned addresses, the 4-byte form 4-byte aligned ones.
__device__ __forceinline__ void cp_async_cg16(void* dst, const void* src, int src_bytes = 16) {
  FC_PTX("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_ca16(void* dst, const void* src, int src_bytes = 16) {
  FC_PTX("cp.async.ca.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_ca4(void* dst, const void* src, int src_bytes = 4) {
  FC_PTX("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { FC_PTX("cp.async.commit_group;" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  FC_PTX("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

#undef FC_PTX
#else
// ---- the emulator ------------------------------------------------------------------------------------------
namespace emu {
inline float f32(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
inline double tf32_operand(uint32_t b) { return f32(b & 0xffffe000u); }  // the tensor core ignores the low 13 bits
inline double bf16_operand(uint32_t reg, int half) { return f32(half ? reg & 0xffff0000u : reg << 16); }
struct Frags {
  uint32_t a[4], b[2];
};
// Every lane's A and B registers, in lane order.
inline void gather(Frags* all, const uint32_t a[4], const uint32_t b[2], const char* file, int line) {
  Frags mine;
  std::memcpy(mine.a, a, sizeof mine.a);
  std::memcpy(mine.b, b, sizeof mine.b);
  fc_emu::exchange(0xffffffffu, &mine, sizeof mine, all, file, line);
}
}  // namespace emu

inline uint32_t cvt_tf32(float x) {
  const uint32_t b = emu::bits(x);
  if ((b & 0x7f800000u) == 0x7f800000u) return b;  // Inf and NaN pass through
  return (b + 0x1000u) & 0xffffe000u;               // nearest, ties away from zero (on the magnitude's bits)
}
inline uint32_t pack_bf16x2(float lo, float hi) {
  return uint32_t(__float2bfloat16_rn(lo).bits) | uint32_t(__float2bfloat16_rn(hi).bits) << 16;
}

inline void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], FC_MMA_SITE) {
  emu::Frags all[32];
  emu::gather(all, a, b, file, line);
  const unsigned lane = fc_emu::lane_id(), g = lane / 4, t = lane % 4;
  // Where element (row, k) of A and (k, col) of B live: A(r, k) in lane 4 (r % 8) + k % 4, register
  // (r >= 8) + 2 (k >= 4); B(k, n) in lane 4 n + k % 4, register k >= 4.
  auto A = [&](unsigned r, unsigned k) {
    return emu::tf32_operand(all[4 * (r % 8) + k % 4].a[(r >= 8) + 2 * (k >= 4)]);
  };
  auto B = [&](unsigned k, unsigned n) { return emu::tf32_operand(all[4 * n + k % 4].b[k >= 4]); };
  float out[4];
  for (int i = 0; i < 4; ++i) {
    const unsigned row = g + 8 * (i >= 2), col = 2 * t + (i & 1);
    double s = c[i];
    for (unsigned k = 0; k < 8; ++k) s += A(row, k) * B(k, col);
    out[i] = float(s);
  }
  std::memcpy(d, out, sizeof out);  // d may alias c
}

inline void mma_m16n8k16_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], FC_MMA_SITE) {
  emu::Frags all[32];
  emu::gather(all, a, b, file, line);
  const unsigned lane = fc_emu::lane_id(), g = lane / 4, t = lane % 4;
  // A(r, k): lane 4 (r % 8) + (k % 8) / 2, register (r >= 8) + 2 (k >= 8), half k % 2.
  // B(k, n): lane 4 n + (k % 8) / 2, register k >= 8, half k % 2.
  auto A = [&](unsigned r, unsigned k) {
    return emu::bf16_operand(all[4 * (r % 8) + (k % 8) / 2].a[(r >= 8) + 2 * (k >= 8)], k % 2);
  };
  auto B = [&](unsigned k, unsigned n) { return emu::bf16_operand(all[4 * n + (k % 8) / 2].b[k >= 8], k % 2); };
  float out[4];
  for (int i = 0; i < 4; ++i) {
    const unsigned row = g + 8 * (i >= 2), col = 2 * t + (i & 1);
    double s = c[i];
    for (unsigned k = 0; k < 16; ++k) s += A(row, k) * B(k, col);
    out[i] = float(s);
  }
  std::memcpy(d, out, sizeof out);
}

namespace emu {
template <int X, bool Trans>
void ldmatrix(uint32_t* r, const void* row, const char* file, int line) {
  if (reinterpret_cast<uintptr_t>(row) % 16 != 0 && fc_emu::lane_id() < 8u * X)
    fc_emu::trap("ldmatrix: a row address that is not 16-byte aligned", file, line);
  const unsigned char* rows[32];
  fc_emu::exchange(0xffffffffu, &row, sizeof row, rows, file, line);
  const unsigned lane = fc_emu::lane_id();
  for (int i = 0; i < X; ++i) {
    uint16_t h[2];
    for (int j = 0; j < 2; ++j) {
      const unsigned rr = Trans ? 2 * (lane % 4) + j : lane / 4, cc = Trans ? lane / 4 : 2 * (lane % 4) + j;
      std::memcpy(&h[j], rows[8 * i + rr] + 2 * cc, 2);
    }
    r[i] = uint32_t(h[0]) | uint32_t(h[1]) << 16;
  }
}
}  // namespace emu
inline void ldmatrix_x1(uint32_t r[1], const void* row, FC_MMA_SITE) { emu::ldmatrix<1, false>(r, row, file, line); }
inline void ldmatrix_x2(uint32_t r[2], const void* row, FC_MMA_SITE) { emu::ldmatrix<2, false>(r, row, file, line); }
inline void ldmatrix_x4(uint32_t r[4], const void* row, FC_MMA_SITE) { emu::ldmatrix<4, false>(r, row, file, line); }
inline void ldmatrix_x1_trans(uint32_t r[1], const void* row, FC_MMA_SITE) {
  emu::ldmatrix<1, true>(r, row, file, line);
}
inline void ldmatrix_x2_trans(uint32_t r[2], const void* row, FC_MMA_SITE) {
  emu::ldmatrix<2, true>(r, row, file, line);
}
inline void ldmatrix_x4_trans(uint32_t r[4], const void* row, FC_MMA_SITE) {
  emu::ldmatrix<4, true>(r, row, file, line);
}

namespace emu {
template <int Bytes>
void cp_async(void* dst, const void* src, int src_bytes, const char* file, int line) {
  if (reinterpret_cast<uintptr_t>(dst) % Bytes || reinterpret_cast<uintptr_t>(src) % Bytes)
    fc_emu::trap("cp.async: a misaligned address", file, line);
  if (src_bytes < 0 || src_bytes > Bytes) fc_emu::trap("cp.async: src-size outside [0, cp-size]", file, line);
  std::memcpy(dst, src, size_t(src_bytes));
  std::memset(static_cast<unsigned char*>(dst) + src_bytes, 0, size_t(Bytes - src_bytes));
}
}  // namespace emu
inline void cp_async_cg16(void* dst, const void* src, int src_bytes = 16, FC_MMA_SITE) {
  emu::cp_async<16>(dst, src, src_bytes, file, line);
}
inline void cp_async_ca16(void* dst, const void* src, int src_bytes = 16, FC_MMA_SITE) {
  emu::cp_async<16>(dst, src, src_bytes, file, line);
}
inline void cp_async_ca4(void* dst, const void* src, int src_bytes = 4, FC_MMA_SITE) {
  emu::cp_async<4>(dst, src, src_bytes, file, line);
}
inline void cp_async_commit() {}
template <int N>
inline void cp_async_wait() {}
#undef FC_MMA_SITE
#endif

}  // namespace fastconv::cuda::mma
