// cuda/mma.cuh, one warp per instruction, against host references built from the PTX ISA's fragment tables, which
// are written out again here, as the ISA states them (lane, register -> row, column), independently of the
// emulator's inverse mapping (row, column -> lane, register). Matrices hold distinct small integers, so a value in
// a wrong place is an exact mismatch; random full-mantissa operands check the rounding (tf32: low 13 bits ignored;
// bf16: exact products) and that the result is NOT what unrounded FP32 operands give. The planted-bug tests (a lane
// missing from a warp-wide instruction) run only under the emulator: on a GPU that is undefined behaviour.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "device_buffer.cuh"
#include "fastconv/error.h"
#include "launch.cuh"
#include "mma.cuh"

namespace {

using fastconv::cuda::launch;
using fc_test::DeviceBuffer;
namespace mma = fastconv::cuda::mma;

struct RC {
  int r, c;
};
// The ISA's tables. g = groupID = lane >> 2, t = threadID_in_group = lane % 4.
RC tf32_a(int lane, int i) { return {lane / 4 + (i % 2 ? 8 : 0), lane % 4 + (i >= 2 ? 4 : 0)}; }  // a0..a3
RC tf32_b(int lane, int i) { return {lane % 4 + (i ? 4 : 0), lane / 4}; }                         // b0, b1
RC bf16_a(int lane, int i) {  // a0..a7, two per register
  return {lane / 4 + ((i < 2 || (i >= 4 && i < 6)) ? 0 : 8), (lane % 4) * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
}
RC bf16_b(int lane, int i) { return {(lane % 4) * 2 + (i & 1) + (i >= 2 ? 8 : 0), lane / 4}; }  // b0..b3
RC acc(int lane, int i) { return {lane / 4 + (i >= 2 ? 8 : 0), (lane % 4) * 2 + (i & 1)}; }     // c0..c3

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint16_t bf16_bits_exact(float f) {  // f must be a bf16 value
  EXPECT_EQ(bits(f) & 0xffffu, 0u) << f;
  return uint16_t(bits(f) >> 16);
}

enum class Op { tf32, bf16 };

__global__ void mma_kernel(Op op, const uint32_t* a, const uint32_t* b, const float* c, float* d) {
  const int lane = int(threadIdx.x);
  uint32_t ra[4], rb[2];
  float rc[4], rd[4];
  for (int i = 0; i < 4; ++i) ra[i] = a[lane * 4 + i], rc[i] = c[lane * 4 + i];
  for (int i = 0; i < 2; ++i) rb[i] = b[lane * 2 + i];
  if (op == Op::tf32) mma::mma_m16n8k8_tf32(rd, ra, rb, rc);
  else mma::mma_m16n8k16_bf16(rd, ra, rb, rc);
  for (int i = 0; i < 4; ++i) d[lane * 4 + i] = rd[i];
}

// A (16 x K), B (K x 8), C (16 x 8) row-major; returns D (16 x 8) as the lanes hand it back, placed by acc().
std::vector<float> run_mma(Op op, const std::vector<float>& A, const std::vector<float>& B,
                           const std::vector<float>& C) {
  const int K = op == Op::tf32 ? 8 : 16;
  std::vector<uint32_t> a(128), b(64);
  std::vector<float> c(128);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const RC p = acc(lane, i);
      c[lane * 4 + i] = C[p.r * 8 + p.c];
    }
    if (op == Op::tf32) {
      for (int i = 0; i < 4; ++i) a[lane * 4 + i] = bits(A[tf32_a(lane, i).r * K + tf32_a(lane, i).c]);
      for (int i = 0; i < 2; ++i) b[lane * 2 + i] = bits(B[tf32_b(lane, i).r * 8 + tf32_b(lane, i).c]);
    } else {
      for (int i = 0; i < 8; ++i) {  // element i in half i % 2 of register i / 2: the lower index in the low half
        const RC p = bf16_a(lane, i);
        a[lane * 4 + i / 2] |= uint32_t(bf16_bits_exact(A[p.r * K + p.c])) << (16 * (i % 2));
      }
      for (int i = 0; i < 4; ++i) {
        const RC p = bf16_b(lane, i);
        b[lane * 2 + i / 2] |= uint32_t(bf16_bits_exact(B[p.r * 8 + p.c])) << (16 * (i % 2));
      }
    }
  }
  DeviceBuffer<uint32_t> da(a), db(b);
  DeviceBuffer<float> dc(c), dd(128);
  launch("mma_kernel", mma_kernel, dim3(1), dim3(32), 0, nullptr, op, da.p, db.p, dc.p, dd.p);
  const std::vector<float> d = dd.download();
  std::vector<float> D(128, std::numeric_limits<float>::quiet_NaN());
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) D[acc(lane, i).r * 8 + acc(lane, i).c] = d[lane * 4 + i];
  return D;
}

// D = C + A B in double, operands passed through `operand` first.
std::vector<double> reference(int K, const std::vector<float>& A, const std::vector<float>& B,
                              const std::vector<float>& C, const std::function<double(float)>& operand) {
  std::vector<double> D(128);
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      double s = C[r * 8 + n];
      for (int k = 0; k < K; ++k) s += operand(A[r * K + k]) * operand(B[k * 8 + n]);
      D[r * 8 + n] = s;
    }
  return D;
}

double identity(float x) { return x; }
double tf32_truncated(float x) { return from_bits(bits(x) & 0xffffe000u); }  // the 13 low bits are not used

// Distinct small integers: every sum is exact, so any misplaced element is an exact mismatch.
TEST(CudaMma, FragmentLayoutsAreTheIsas) {
  for (Op op : {Op::tf32, Op::bf16}) {
    SCOPED_TRACE(op == Op::tf32 ? "m16n8k8 tf32" : "m16n8k16 bf16");
    const int K = op == Op::tf32 ? 8 : 16;
    std::vector<float> A(size_t(16 * K)), B(size_t(K * 8)), C(128);
    // distinct values (37 is odd, so i -> 37 i mod 16 K is a permutation), within bf16's 8 significant bits
    for (int i = 0; i < 16 * K; ++i) A[size_t(i)] = float((37 * i) % (16 * K) - 8 * K);
    for (int i = 0; i < K * 8; ++i) B[size_t(i)] = float((i * 7) % 17 - 8);
    for (int i = 0; i < 128; ++i) C[size_t(i)] = float(4096 * i);
    const std::vector<float> D = run_mma(op, A, B, C);
    const std::vector<double> want = reference(K, A, B, C, identity);
    for (int i = 0; i < 128; ++i)
      ASSERT_EQ(double(D[size_t(i)]), want[size_t(i)]) << "D(" << i / 8 << ", " << i % 8 << ")";
  }
}

// One-hot A and B: each output element picks out exactly one (row, k) of A and one (k, col) of B.
TEST(CudaMma, EveryOperandElementReachesItsProducts) {
  for (Op op : {Op::tf32, Op::bf16}) {
    const int K = op == Op::tf32 ? 8 : 16;
    for (int k = 0; k < K; ++k) {
      SCOPED_TRACE((op == Op::tf32 ? "tf32 k=" : "bf16 k=") + std::to_string(k));
      std::vector<float> A(size_t(16 * K), 0.f), B(size_t(K * 8), 0.f), C(128, 0.f);
      for (int r = 0; r < 16; ++r) A[size_t(r * K + k)] = float(r + 1);
      for (int n = 0; n < 8; ++n) B[size_t(k * 8 + n)] = float(32 * (n + 1));
      const std::vector<float> D = run_mma(op, A, B, C);
      for (int r = 0; r < 16; ++r)
        for (int n = 0; n < 8; ++n) ASSERT_EQ(D[size_t(r * 8 + n)], float((r + 1) * 32 * (n + 1))) << r << "," << n;
    }
  }
}

// Full-mantissa operands: tf32 uses the truncated operands (checked to a float accumulation's error), and the
// result is far from what FP32 operands give, so a missing rounding fails the test.
TEST(CudaMma, Tf32IgnoresTheLow13BitsAndBf16ProductsAreExact) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (Op op : {Op::tf32, Op::bf16}) {
    SCOPED_TRACE(op == Op::tf32 ? "tf32" : "bf16");
    const int K = op == Op::tf32 ? 8 : 16;
    std::vector<float> A(size_t(16 * K)), B(size_t(K * 8)), C(128);
    const bool bf16 = op == Op::bf16;
    // bf16 inputs must be bf16 values: the top half of the float
    for (float& x : A) x = bf16 ? from_bits(bits(u(rng)) & 0xffff0000u) : u(rng);
    for (float& x : B) x = bf16 ? from_bits(bits(u(rng)) & 0xffff0000u) : u(rng);
    for (float& x : C) x = u(rng);
    for (float x : A) ASSERT_TRUE(!bf16 || (bits(x) & 0xffffu) == 0u) << x;
    const std::vector<float> D = run_mma(op, A, B, C);
    const std::vector<double> want = reference(K, A, B, C, op == Op::tf32 ? tf32_truncated : identity);
    const std::vector<double> fp32 = reference(K, A, B, C, identity);
    double far_from_fp32 = 0;
    for (int i = 0; i < 128; ++i) {
      // |C| + sum |a b| <= 1 + K; one float rounding of the sum is 2^-24 of it, a few for any summation order.
      const double tol = (1 + K) * 8 * std::ldexp(1.0, -24);
      ASSERT_NEAR(D[size_t(i)], want[size_t(i)], tol) << i;
      far_from_fp32 = std::max(far_from_fp32, std::fabs(D[size_t(i)] - fp32[size_t(i)]));
    }
    if (op == Op::tf32) EXPECT_GT(far_from_fp32, 1e-5) << "the tf32 operands were not truncated";
  }
}

__global__ void cvt_kernel(const float* in, uint32_t* out, int n) {
  for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) out[i] = mma::cvt_tf32(in[i]);
}

// cvt.rna.tf32.f32: nearest of 11 significant bits (10 stored), ties away from zero; below 2^-125 the quantum
// stays 2^-136 (the format's fixed exponent range); Inf and NaN stay what they are.
double rna_tf32(float x) {
  int e = 0;
  std::frexp(double(x), &e);
  const double q = std::ldexp(1.0, std::max(e, -125) - 11);
  const double r = std::round(double(x) / q) * q;  // std::round: halfway cases away from zero
  return r > std::numeric_limits<float>::max() ? INFINITY : r < -std::numeric_limits<float>::max() ? -INFINITY : r;
}

TEST(CudaMma, CvtTf32RoundsToNearestTiesAway) {
  std::vector<float> in = {1.f + std::ldexp(1.f, -11), -(1.f + std::ldexp(1.f, -11)),    // ties: away
                           1.f + std::ldexp(1.f, -11) - std::ldexp(1.f, -23), 1.f + 3 * std::ldexp(1.f, -11),
                           0.f, -0.f, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
                           std::ldexp(1.f, -130) * 1.37f, 3.f * std::ldexp(1.f, -137)};
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-100.f, 100.f);
  for (int i = 0; i < 200; ++i) in.push_back(u(rng));
  const size_t specials = 2;
  in.push_back(INFINITY);
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  DeviceBuffer<float> din(in);
  DeviceBuffer<uint32_t> dout(in.size());
  launch("cvt_kernel", cvt_kernel, dim3(1), dim3(64), 0, nullptr, din.p, dout.p, int(in.size()));
  const std::vector<uint32_t> got = dout.download();
  for (size_t i = 0; i + specials < in.size(); ++i) {
    EXPECT_EQ(got[i] & 0x1fffu, 0u) << in[i];
    EXPECT_EQ(double(from_bits(got[i])), rna_tf32(in[i])) << "cvt of " << in[i];
  }
  EXPECT_TRUE(std::isinf(from_bits(got[in.size() - 2])));
  EXPECT_TRUE(std::isnan(from_bits(got[in.size() - 1])));
  EXPECT_EQ(from_bits(got[0]), 1.f + std::ldexp(1.f, -10));
  EXPECT_EQ(from_bits(got[2]), 1.f);
}

// Four 8x8 matrices of 16-bit values; row r of matrix m sits in 16-byte slot (5 (8 m + r) + 3) % 32 of shared memory,
// so the row addresses, not a layout, decide what each lane gets.
int slot(int m, int r) { return (5 * (8 * m + r) + 3) % 32; }  // a permutation of the 32 slots

__global__ void ldmatrix_kernel(const uint16_t* src, int variant, uint32_t* out) {
  __shared__ uint4 raw[32];
  const int lane = int(threadIdx.x);
  for (int i = 0; i < 8; ++i) reinterpret_cast<uint16_t*>(raw)[lane * 8 + i] = src[lane * 8 + i];
  __syncwarp();
  // slot(lane / 8, lane % 8): lane l gives row l % 8 of matrix l / 8
  const uint16_t* row = reinterpret_cast<const uint16_t*>(raw) + 8 * ((5 * lane + 3) % 32);
  uint32_t r[4] = {0, 0, 0, 0};
  switch (variant) {
    case 0: mma::ldmatrix_x1(r, row); break;
    case 1: mma::ldmatrix_x2(r, row); break;
    case 2: mma::ldmatrix_x4(r, row); break;
    case 3: mma::ldmatrix_x1_trans(r, row); break;
    case 4: mma::ldmatrix_x2_trans(r, row); break;
    default: mma::ldmatrix_x4_trans(r, row); break;
  }
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = r[i];
}

TEST(CudaMma, LdmatrixThreadToRowMapping) {
  std::vector<uint16_t> smem(256);
  auto value = [](int m, int r, int c) { return uint16_t(1000 * m + 10 * r + c + 1); };
  for (int m = 0; m < 4; ++m)
    for (int r = 0; r < 8; ++r)
      for (int c = 0; c < 8; ++c) smem[size_t(slot(m, r) * 8 + c)] = value(m, r, c);
  DeviceBuffer<uint16_t> dsrc(smem);
  for (int variant = 0; variant < 6; ++variant) {
    const int count = 1 << (variant % 3);
    const bool trans = variant >= 3;
    SCOPED_TRACE("x" + std::to_string(count) + (trans ? ".trans" : ""));
    DeviceBuffer<uint32_t> dout(128);
    launch("ldmatrix_kernel", ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, dsrc.p, variant, dout.p);
    const std::vector<uint32_t> got = dout.download();
    for (int lane = 0; lane < 32; ++lane)
      for (int m = 0; m < 4; ++m) {
        const uint32_t reg = got[size_t(lane * 4 + m)];
        if (m >= count) {
          EXPECT_EQ(reg, 0u);  // untouched
          continue;
        }
        // The ISA: lane l holds row l / 4, elements 2 (l % 4) and 2 (l % 4) + 1 of matrix m (of its transpose).
        const int row = lane / 4, col = 2 * (lane % 4);
        const uint16_t lo = trans ? value(m, col, row) : value(m, row, col);
        const uint16_t hi = trans ? value(m, col + 1, row) : value(m, row, col + 1);
        EXPECT_EQ(reg, uint32_t(lo) | uint32_t(hi) << 16) << "lane " << lane << " matrix " << m;
      }
  }
}

__global__ void cp_async_kernel(const float* src, float* out) {
  __shared__ float4 buf[4];
  float* s = reinterpret_cast<float*>(buf);
  for (int i = 0; i < 16; ++i) s[i] = -1.f;
  mma::cp_async_cg16(s, src);
  mma::cp_async_ca16(s + 4, src + 4, 8);  // two floats copied, two zero-filled
  mma::cp_async_commit();
  mma::cp_async_ca4(s + 8, src + 8);
  mma::cp_async_ca4(s + 9, src + 9, 0);  // nothing read, zero written
  mma::cp_async_commit();
  mma::cp_async_wait<0>();
  for (int i = 0; i < 16; ++i) out[i] = s[i];
}

TEST(CudaMma, CpAsyncCopiesAndZeroFills) {
  std::vector<float> src(16);
  for (int i = 0; i < 16; ++i) src[size_t(i)] = float(i + 1);
  DeviceBuffer<float> dsrc(src), dout(16);
  launch("cp_async_kernel", cp_async_kernel, dim3(1), dim3(1), 0, nullptr, dsrc.p, dout.p);
  const std::vector<float> got = dout.download();
  const float want[16] = {1, 2, 3, 4, 5, 6, 0, 0, 9, 0, -1, -1, -1, -1, -1, -1};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(got[size_t(i)], want[i]) << i;
}

#ifdef FASTCONV_CUDA_EMU
std::string launch_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const fastconv::Error& e) {
    return e.what();
  }
  return "";
}

__global__ void missing_lane_kernel(int which, float* d) {
  const int lane = int(threadIdx.x);
  if (lane == 5) return;  // divergent: lane 5 never reaches the warp-wide instruction
  uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0}, r[4];
  float c[4] = {0, 0, 0, 0};
  __shared__ uint4 rows[32];
  if (which == 0) mma::mma_m16n8k8_tf32(c, a, b, c);
  else if (which == 1) mma::mma_m16n8k16_bf16(c, a, b, c);
  else mma::ldmatrix_x4(r, &rows[lane]);
  d[lane] = c[0];
}

TEST(CudaMma, PlantedMissingLaneIsReported) {
  for (int which = 0; which < 3; ++which) {
    DeviceBuffer<float> d(32);
    const std::string err = launch_error(
        [&] { launch("missing_lane_kernel", missing_lane_kernel, dim3(1), dim3(32), 0, nullptr, which, d.p); });
    EXPECT_NE(err.find("missing_lane_kernel"), std::string::npos) << err;
    EXPECT_NE(err.find("lane 5"), std::string::npos) << err;
    EXPECT_NE(err.find("exited"), std::string::npos) << err;
    EXPECT_NE(err.find("test_mma.cu"), std::string::npos) << err;  // the call site, not mma.cuh
  }
  // A block of 16 threads has no full warp for an mma.
  DeviceBuffer<uint32_t> a(128), b(64);
  DeviceBuffer<float> c(128), dd(128);
  const std::string err = launch_error(
      [&] { launch("mma_kernel", mma_kernel, dim3(1), dim3(16), 0, nullptr, Op::tf32, a.p, b.p, c.p, dd.p); });
  EXPECT_NE(err.find("do not exist"), std::string::npos) << err;
}
#endif

}  // namespace
