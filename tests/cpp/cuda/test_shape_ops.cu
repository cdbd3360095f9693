// The byte movers (cuda/shape_ops.cu) against host references: cat / slice / slice_backward as
// cpp/src/ops/shape_ops.cpp copies rows, permute by its definition (output axis i is input axis dims[i]) for ranks
// 0..8 and element sizes 1..16, channel_shuffle and pixel_(un)shuffle against cpu/ref/shuffle_ref.h. Element sizes,
// odd inner sizes and misaligned pointers make every copy unit (1..16 bytes) run. Results compared byte for byte.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/ref/shuffle_ref.h"
#include "launch.cuh"
#include "shape_ops.cuh"

namespace {

using Shape = std::vector<int64_t>;
using Bytes = std::vector<uint8_t>;
namespace fc = fastconv::cuda;

// Device bytes with a leading pad of `shift` bytes, so that p can be misaligned on purpose.
struct DeviceBytes {
  uint8_t* base = nullptr;
  uint8_t* p = nullptr;
  size_t n = 0;
  DeviceBytes(size_t count, size_t shift = 0) : n(count) {
    fc::check(cudaMalloc(&base, n + shift + 1), "cudaMalloc");
    p = base + shift;
    fc::check(cudaMemset(base, 0xAB, n + shift + 1), "cudaMemset");  // garbage: every output byte must be written
  }
  DeviceBytes(const Bytes& h, size_t shift = 0) : DeviceBytes(h.size(), shift) {
    if (n) fc::check(cudaMemcpy(p, h.data(), n, cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  ~DeviceBytes() { cudaFree(base); }
  Bytes download() const {
    Bytes h(n);
    if (n) fc::check(cudaMemcpy(h.data(), p, n, cudaMemcpyDeviceToHost), "cudaMemcpy");
    return h;
  }
};

void sync() { fc::check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (uint8_t& v : b) v = uint8_t(rng());
  return b;
}

struct Rows {
  int64_t outer, inner;
};

TEST(CudaShapeOps, CatMatchesRowCopies) {
  struct Case {
    Rows r;
    std::vector<int64_t> sizes;
    int64_t esize;
    size_t shift;
  };
  const Case cases[] = {
      {{2, 12}, {3, 1, 4}, 4, 0},   {{1, 1}, {5}, 4, 0},        {{3, 7}, {2, 0, 5}, 4, 4}, {{4, 5}, {1, 2}, 2, 0},
      {{5, 3}, {3, 3, 3}, 1, 1},    {{2, 257}, {1, 3}, 8, 0},   {{0, 4}, {1, 2}, 4, 0},    {{7, 1}, {1, 1, 1, 1}, 16, 0},
      {{3, 2}, {4100, 1}, 4, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("outer " + std::to_string(c.r.outer) + " inner " + std::to_string(c.r.inner) + " esize " +
                 std::to_string(c.esize) + " shift " + std::to_string(c.shift));
    const int64_t ib = c.r.inner * c.esize;
    const int64_t total = std::accumulate(c.sizes.begin(), c.sizes.end(), int64_t(0));
    std::vector<Bytes> xs;
    std::vector<DeviceBytes*> dxs;
    std::vector<const void*> ptrs;
    for (size_t i = 0; i < c.sizes.size(); ++i) {
      xs.push_back(random_bytes(size_t(c.r.outer * c.sizes[i] * ib), 3u + uint32_t(i)));
      dxs.push_back(new DeviceBytes(xs.back(), c.shift));
      ptrs.push_back(dxs.back()->p);
    }
    Bytes want(size_t(c.r.outer * total * ib));
    for (int64_t o = 0, at = 0; o < c.r.outer; ++o)
      for (size_t i = 0; i < xs.size(); ++i) {
        const size_t row = size_t(c.sizes[i] * ib);
        if (row) std::memcpy(want.data() + at, xs[i].data() + size_t(o) * row, row);
        at += int64_t(row);
      }
    DeviceBytes dy(want.size(), c.shift);
    fc::cat__cuda(c.r.outer, ib, int(c.sizes.size()), ptrs.data(), c.sizes.data(), dy.p, nullptr);
    sync();
    EXPECT_TRUE(dy.download() == want);
    for (DeviceBytes* d : dxs) delete d;
  }
}

TEST(CudaShapeOps, SliceAndSliceBackward) {
  struct Case {
    fc::SliceParams p;
    int64_t esize;
    size_t shift;
  };
  // p.inner_bytes holds the inner element count here; multiplied by esize below.
  const Case cases[] = {
      {{2, 10, 3, 4, 6}, 4, 0},  {{1, 5, 0, 5, 1}, 4, 0},  {{3, 7, 6, 1, 5}, 2, 2}, {{4, 9, 2, 0, 3}, 4, 0},
      {{2, 6, 1, 3, 7}, 1, 3},   {{5, 4, 1, 2, 1}, 8, 0},  {{0, 4, 1, 2, 3}, 4, 0}, {{1, 5000, 7, 4100, 1}, 4, 4},
      {{3, 8, 4, 4, 16}, 4, 0},
  };
  for (const Case& c : cases) {
    fc::SliceParams p = c.p;
    p.inner_bytes *= c.esize;
    SCOPED_TRACE("outer " + std::to_string(p.outer) + " n " + std::to_string(p.n) + " start " +
                 std::to_string(p.start) + " length " + std::to_string(p.length) + " inner bytes " +
                 std::to_string(p.inner_bytes) + " shift " + std::to_string(c.shift));
    const size_t ib = size_t(p.inner_bytes), big = size_t(p.outer * p.n) * ib, small = size_t(p.outer * p.length) * ib;
    const Bytes x = random_bytes(big, 5u), g = random_bytes(small, 6u);
    Bytes want_y(small), want_gx(big, 0);
    for (int64_t o = 0; o < p.outer; ++o) {
      const size_t row = size_t(p.length) * ib;
      if (!row) continue;
      std::memcpy(want_y.data() + size_t(o) * row, x.data() + (size_t(o * p.n + p.start)) * ib, row);
      std::memcpy(want_gx.data() + (size_t(o * p.n + p.start)) * ib, g.data() + size_t(o) * row, row);
    }
    DeviceBytes dx(x, c.shift), dg(g, c.shift), dy(small, c.shift), dgx(big, c.shift);
    fc::slice__cuda(p, dx.p, dy.p, nullptr);
    fc::slice_backward__cuda(p, dg.p, dgx.p, nullptr);
    sync();
    EXPECT_TRUE(dy.download() == want_y) << "slice";
    EXPECT_TRUE(dgx.download() == want_gx) << "slice_backward";
  }
}

// y[j] = x[i] where j's multi-index over the output axes is i's with axes reordered by dims.
Bytes permute_ref(const Shape& shape, const std::vector<int64_t>& dims, size_t es, const Bytes& x) {
  const size_t r = shape.size();
  Shape cs(r), os(r);
  for (int64_t i = int64_t(r) - 1, s = 1; i >= 0; --i) cs[size_t(i)] = s, s *= shape[size_t(i)];
  for (size_t i = 0; i < r; ++i) os[i] = shape[size_t(dims[i])];
  const int64_t n = numel(shape);
  Bytes y(x.size());
  for (int64_t j = 0; j < n; ++j) {
    int64_t rem = j, off = 0;
    for (int64_t a = int64_t(r) - 1; a >= 0; --a) {
      off += (rem % os[size_t(a)]) * cs[size_t(dims[size_t(a)])];
      rem /= os[size_t(a)];
    }
    std::memcpy(y.data() + size_t(j) * es, x.data() + size_t(off) * es, es);
  }
  return y;
}

TEST(CudaShapeOps, PermuteMatchesDefinition) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {
      {{}, {}},
      {{7}, {0}},
      {{3, 5}, {1, 0}},
      {{2, 3, 4, 5}, {0, 2, 3, 1}},  // NCHW -> NHWC
      {{2, 4, 5, 3}, {0, 3, 1, 2}},  // NHWC -> NCHW
      {{2, 3, 4, 5}, {0, 1, 3, 2}},
      {{2, 3, 4, 5}, {1, 0, 2, 3}},  // inner run contiguous
      {{1, 3, 1, 5}, {2, 3, 0, 1}},
      {{2, 1, 3, 2, 1, 3, 2, 2}, {7, 5, 3, 1, 0, 2, 4, 6}},  // rank 8
      {{2, 2, 2, 2, 2, 2, 2, 2}, {1, 0, 3, 2, 5, 4, 7, 6}},
      {{3, 0, 2}, {2, 0, 1}},
      {{33, 65}, {1, 0}},            // tiled, partial tiles both ways
      {{64, 96}, {1, 0}},            // tiled, whole tiles
      {{3, 40, 2, 35}, {2, 3, 0, 1}},  // tiled with two outer axes
      {{5, 70, 3}, {0, 2, 1}},
  };
  for (const Case& c : cases) {
    for (size_t es : {size_t(1), size_t(2), size_t(4), size_t(8), size_t(16)}) {
      for (size_t shift : {size_t(0), size_t(1)}) {
        SCOPED_TRACE(str(c.shape) + " dims " + str(c.dims) + " esize " + std::to_string(es) + " shift " +
                     std::to_string(shift));
        const Bytes x = random_bytes(size_t(numel(c.shape)) * es, 9u);
        const Bytes want = permute_ref(c.shape, c.dims, es, x);
        DeviceBytes dx(x, shift), dy(x.size(), shift);
        fc::permute__cuda(int(c.shape.size()), c.shape.data(), c.dims.data(), es, dx.p, dy.p, nullptr);
        sync();
        EXPECT_TRUE(dy.download() == want);
      }
    }
  }
}

// Past the 4096-block grid: more elements than 4096 x 256 (untiled: the inner run stays contiguous), and more
// tiles than 4096 (tiled transpose of 2 x 3 tiles, each one partial).
TEST(CudaShapeOps, PermutePastTheGridCap) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  for (const Case& c : {Case{{1025, 2, 513}, {1, 0, 2}}, Case{{4097, 2, 3}, {0, 2, 1}}}) {
    SCOPED_TRACE(str(c.shape) + " dims " + str(c.dims));
    const Bytes x = random_bytes(size_t(numel(c.shape)) * 4, 10u);
    DeviceBytes dx(x), dy(x.size());
    fc::permute__cuda(int(c.shape.size()), c.shape.data(), c.dims.data(), 4, dx.p, dy.p, nullptr);
    sync();
    EXPECT_TRUE(dy.download() == permute_ref(c.shape, c.dims, 4, x));
  }
}

std::vector<float> floats(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& f : v) f = u(rng);
  return v;
}

Bytes as_bytes(const std::vector<float>& v) {
  Bytes b(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(CudaShapeOps, ChannelShuffleMatchesReference) {
  const fastconv::ref::ChannelShuffleParams cases[] = {
      {2, 3, 4, 5}, {1, 2, 2, 1}, {3, 1, 6, 7}, {2, 6, 1, 3}, {0, 2, 2, 2}, {1, 4, 8, 9}, {2, 3, 5, 0}};
  for (const auto& p : cases) {
    SCOPED_TRACE("outer " + std::to_string(p.outer) + " g " + std::to_string(p.groups) + " k " +
                 std::to_string(p.per_group) + " inner " + std::to_string(p.inner));
    const int64_t n = p.outer * p.groups * p.per_group * p.inner;
    const std::vector<float> x = floats(n, 12u);
    std::vector<float> want(static_cast<size_t>(n));
    if (n) fastconv::ref::channel_shuffle(p, x.data(), want.data(), 0, p.outer);  // (memcpy from null when empty)
    DeviceBytes dx(as_bytes(x)), dy(size_t(n) * sizeof(float));
    fc::channel_shuffle__cuda(p, reinterpret_cast<const float*>(dx.p), reinterpret_cast<float*>(dy.p), nullptr);
    sync();
    EXPECT_TRUE(dy.download() == as_bytes(want));
  }
}

TEST(CudaShapeOps, PixelShuffleMatchesReference) {
  const fastconv::ref::PixelShuffleParams cases[] = {
      {2, 3, 4, 5, 2}, {1, 1, 1, 1, 3}, {1, 2, 3, 3, 1}, {3, 2, 5, 7, 3}, {0, 2, 2, 2, 2}, {1, 4, 6, 2, 2}};
  for (const auto& p : cases) {
    for (bool inverse : {false, true}) {
      SCOPED_TRACE("outer " + std::to_string(p.outer) + " C " + std::to_string(p.C) + " H " + std::to_string(p.H) +
                   " W " + std::to_string(p.W) + " r " + std::to_string(p.r) + (inverse ? " inverse" : ""));
      const int64_t n = p.outer * p.C * p.r * p.r * p.H * p.W;
      const std::vector<float> x = floats(n, 13u);
      std::vector<float> want(static_cast<size_t>(n));
      if (n) fastconv::ref::pixel_shuffle(p, x.data(), want.data(), inverse, 0, p.outer);
      DeviceBytes dx(as_bytes(x)), dy(size_t(n) * sizeof(float));
      fc::pixel_shuffle__cuda(p, reinterpret_cast<const float*>(dx.p), reinterpret_cast<float*>(dy.p), inverse,
                              nullptr);
      sync();
      EXPECT_TRUE(dy.download() == as_bytes(want));
    }
  }
}

}  // namespace
