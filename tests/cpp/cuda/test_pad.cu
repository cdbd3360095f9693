// The pad kernels (cuda/pad.cu) against ref::pad / ref::pad_backward for every mode, 1 to 3 padded dims and none,
// positive, negative (cropping) and mixed pads, replicate pads wider than the dim, reflect pads up to size - 1,
// circular pads up to the kept size, size-1 dims, empty planes and outputs, and sizes past the grid cap. Both
// directions must be bit-identical to the reference (the backward adds in the reference's order).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/ref/pad_ref.h"
#include "launch.cuh"
#include "pad.cuh"

namespace {

using fastconv::ref::PadMode;
using fastconv::ref::PadParams;
using Shape = std::vector<int64_t>;

template <class T>
struct DeviceBuffer {
  T* p = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    fastconv::cuda::check(cudaMalloc(&p, (n ? n : 1) * sizeof(T)), "cudaMalloc");
    fastconv::cuda::check(cudaMemset(p, 0x7f, (n ? n : 1) * sizeof(T)), "cudaMemset");  // garbage to overwrite
  }
  explicit DeviceBuffer(const std::vector<T>& h) : DeviceBuffer(h.size()) {
    if (n) fastconv::cuda::check(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  ~DeviceBuffer() { cudaFree(p); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    if (n) fastconv::cuda::check(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
};

struct Case {
  PadMode mode;
  Shape in;
  std::vector<int64_t> pad;  // torch order: (before, after) of the last dim first
  float value;
};

// As ops/pad.cpp's pad_cfg (the shape rules are the test author's to respect).
PadParams params(const Case& c, int64_t* planes) {
  PadParams p;
  p.mode = c.mode;
  p.value = c.value;
  const int64_t rank = int64_t(c.in.size()), m = int64_t(c.pad.size() / 2);
  p.nd = int(m);
  for (int64_t i = 0; i < m; ++i) {
    const int j = int(m - 1 - i);
    const int64_t n = c.in[size_t(rank - 1 - i)];
    p.in[j] = n;
    p.before[j] = c.pad[size_t(2 * i)];
    p.after[j] = c.pad[size_t(2 * i + 1)];
    p.out[j] = n + p.before[j] + p.after[j];
  }
  *planes = 1;
  for (int64_t d = 0; d < rank - m; ++d) *planes *= c.in[size_t(d)];
  return p;
}

std::string str(const Case& c) {
  static const char* names[] = {"constant", "reflect", "replicate", "circular"};
  std::string r = std::string(names[int(c.mode)]) + " in [";
  for (size_t i = 0; i < c.in.size(); ++i) r += (i ? "," : "") + std::to_string(c.in[i]);
  r += "] pad (";
  for (size_t i = 0; i < c.pad.size(); ++i) r += (i ? "," : "") + std::to_string(c.pad[i]);
  return r + ")";
}

std::vector<float> values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

::testing::AssertionResult identical(const std::vector<float>& got, const std::vector<float>& want) {
  for (size_t i = 0; i < want.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "at " << i << ": got " << got[i] << ", want " << want[i];
  return ::testing::AssertionSuccess();
}

void check(const Case& c) {
  SCOPED_TRACE(str(c));
  int64_t planes = 0;
  const PadParams p = params(c, &planes);
  const int64_t ni = planes * p.in_plane(), no = planes * p.out_plane();
  const std::vector<float> x = values(ni, 1u + uint32_t(ni)), gy = values(no, 2u + uint32_t(no));
  std::vector<float> y(static_cast<size_t>(no)), gx(static_cast<size_t>(ni));
  fastconv::ref::pad(p, x.data(), y.data(), 0, planes);
  fastconv::ref::pad_backward(p, gy.data(), gx.data(), 0, planes);
  DeviceBuffer<float> dx(x), dgy(gy), dy(static_cast<size_t>(no)), dgx(static_cast<size_t>(ni));
  fastconv::cuda::pad_forward__cuda(p, planes, dx.p, dy.p, nullptr);
  fastconv::cuda::pad_backward__cuda(p, planes, dgy.p, dgx.p, nullptr);
  fastconv::cuda::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  EXPECT_TRUE(identical(dy.download(), y)) << "forward";
  EXPECT_TRUE(identical(dgx.download(), gx)) << "backward";
}

const PadMode C = PadMode::constant, RF = PadMode::reflect, RP = PadMode::replicate, CI = PadMode::circular;

TEST(CudaPad, ConstantMatchesReference) {
  for (const Case& c : std::vector<Case>{
           {C, {2, 3, 5}, {1, 2}, 0.f},
           {C, {2, 3, 5}, {2, 0, 1, 3}, 1.5f},
           {C, {2, 4, 5, 6}, {1, 1, 2, 2, 3, 3}, -2.f},
           {C, {3, 7}, {-2, 1}, 0.5f},        // crop left, pad right
           {C, {3, 7}, {-3, -4}, 0.f},        // crop to nothing
           {C, {2, 6, 5}, {-1, -1, 2, -3}, 0.f},
           {C, {4, 5}, {}, 0.f},              // nothing padded: a copy
           {C, {0, 5}, {1, 1}, 0.f},          // no planes
           {C, {1}, {3, 4}, 9.f},
       })
    check(c);
}

TEST(CudaPad, ReflectMatchesReference) {
  for (const Case& c : std::vector<Case>{
           {RF, {2, 3, 5}, {1, 2}, 0.f},
           {RF, {2, 3, 5}, {4, 4}, 0.f},               // pads of size - 1
           {RF, {1, 2, 4, 5}, {2, 3, 1, 3}, 0.f},
           {RF, {2, 3, 4, 5}, {1, 2, 2, 1, 1, 1}, 0.f},
           {RF, {3, 7}, {-2, 3}, 0.f},                 // crop one side, pad the other
           {RF, {2, 2}, {1, 1}, 0.f},
           {RF, {3, 6, 7}, {3, -2, -1, 5}, 0.f},
       })
    check(c);
}

TEST(CudaPad, ReplicateMatchesReference) {
  for (const Case& c : std::vector<Case>{
           {RP, {2, 3, 5}, {1, 2}, 0.f},
           {RP, {2, 3, 5}, {7, 9}, 0.f},               // wider than the dim
           {RP, {2, 1, 1}, {3, 2, 1, 4}, 0.f},         // size-1 dims: one element everywhere
           {RP, {1, 3, 4, 5}, {2, 1, 3, 2, 1, 1}, 0.f},
           {RP, {3, 7}, {-3, 4}, 0.f},
           {RP, {3, 8}, {2, -5}, 0.f},
       })
    check(c);
}

TEST(CudaPad, CircularMatchesReference) {
  for (const Case& c : std::vector<Case>{
           {CI, {2, 3, 5}, {1, 2}, 0.f},
           {CI, {2, 3, 5}, {5, 5}, 0.f},               // a whole period each side
           {CI, {1, 2, 4, 5}, {3, 2, 4, 1}, 0.f},
           {CI, {2, 3, 4, 5}, {1, 2, 3, 0, 1, 1}, 0.f},
           {CI, {3, 7}, {-2, 3}, 0.f},                 // crop first, then wrap around the kept 5
           {CI, {3, 9}, {4, -3}, 0.f},
           {CI, {2, 6}, {-2, -1}, 0.f},
           {CI, {2, 1}, {1, 1}, 0.f},
       })
    check(c);
}

// More elements than 4096 blocks of 256 threads both ways.
TEST(CudaPad, PastTheGridCap) {
  check({RP, {1030, 1030}, {1, 2, 2, 1}, 0.f});
}

}  // namespace
