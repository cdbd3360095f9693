#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "fastconv/attrs.h"
#include "fastconv/cpu_features.h"
#include "fastconv/error.h"
#include "fastconv/parallel.h"
#include "fastconv/tensor.h"

using namespace fastconv;

TEST(Tensor, EmptyHasContiguousStridesAndAlignedData) {
  Tensor t = Tensor::empty({2, 3, 4});
  EXPECT_EQ(t.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, 0u);
}

TEST(Tensor, ZerosAndFill) {
  Tensor t = Tensor::zeros({5});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
  t.fill_(2.5f);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.data<float>()[i], 2.5f);
}

TEST(Tensor, ReshapeSharesStorageAndInfersMinusOne) {
  Tensor t = Tensor::full({2, 6}, 1.f);
  Tensor r = t.reshape({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 4}));
  EXPECT_EQ(r.data_ptr(), t.data_ptr());
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
}

TEST(Tensor, NonContiguousCopyAndDtypeConversion) {
  Tensor t = Tensor::empty({2, 3});
  for (int i = 0; i < 6; ++i) t.data<float>()[i] = float(i);
  // Transposed view: shape [3, 2], strides [1, 3].
  Tensor tt(t.storage(), 0, {3, 2}, {1, 3}, DType::f32);
  EXPECT_FALSE(tt.is_contiguous());
  Tensor c = tt.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  const float expect[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.data<float>()[i], expect[i]);
  Tensor i64 = c.to(DType::i64);
  EXPECT_EQ(i64.dtype(), DType::i64);
  EXPECT_EQ(i64.data<int64_t>()[1], 3);
}

TEST(Tensor, NegativeShapeIsAValueError) {
  try {
    Tensor::empty({2, -3});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(std::string(e.what()).find("[2, -3]"), std::string::npos) << e.what();
  }
}

TEST(Tensor, FromBlobKeepsOwnerAliveUntilLastView) {
  static int released = 0;
  released = 0;
  float buf[4] = {1, 2, 3, 4};
  {
    std::shared_ptr<void> owner(buf, [](void*) { ++released; });
    Tensor t = Tensor::from_blob(buf, {4}, {1}, DType::f32, Device{}, owner);
    owner.reset();
    EXPECT_EQ(released, 0);
    EXPECT_EQ(t.data<float>()[2], 3.f);
  }
  EXPECT_EQ(released, 1);
}

// Large freed blocks come back for the next request of their size class (no new pages to fault in); other sizes,
// small blocks and blocks still in use do not; release_cached_memory hands everything back.
TEST(Allocator, LargeFreedBlocksAreReusedBySizeClass) {
  release_cached_memory();
  const size_t big = size_t(3) << 20;
  void* a = cached_alloc64(big);
  void* b = cached_alloc64(big);
  ASSERT_NE(a, b);
  static_cast<char*>(a)[big - 1] = 1;  // writable to the end
  cached_free64(a, big);
  EXPECT_EQ(cached_memory_bytes(), big);
  void* c = cached_alloc64(big - 100);  // same 64 KiB class
  EXPECT_EQ(c, a);
  EXPECT_EQ(cached_memory_bytes(), 0u);
  cached_free64(c, big - 100);
  void* d = cached_alloc64(big * 2);  // another class: a new block
  EXPECT_NE(d, a);
  EXPECT_NE(d, b);
  void* small = cached_alloc64(1000);
  cached_free64(small, 1000);  // below 1 MiB: not kept
  EXPECT_EQ(cached_memory_bytes(), big);
  cached_free64(b, big);
  cached_free64(d, big * 2);
  EXPECT_EQ(release_cached_memory(), 4 * big);
  EXPECT_EQ(cached_memory_bytes(), 0u);
  {  // Storage goes through the cache too
    Tensor t = Tensor::empty({1 << 20});
    void* p = t.data_ptr();
    t = Tensor();
    Tensor u = Tensor::empty({1 << 20});
    EXPECT_EQ(u.data_ptr(), p);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(u.data_ptr()) % 64, 0u);
  }
  release_cached_memory();
}

TEST(CpuFeatures, BestLevelIsConsistentWithFlags) {
  const CpuFeatures& f = cpu_features();
  if (f.best == Isa::avx512) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma);
  }
  if (f.best >= Isa::avx2) {
    EXPECT_TRUE(f.avx2 && f.fma);
  }
}

TEST(CpuFeatures, ForcingALevelTheCpuLacksThrowsAndLowerLevelsWork) {
  const Isa best = cpu_features().best;
  set_isa(Isa::scalar);
  EXPECT_EQ(active_isa(), Isa::scalar);
  EXPECT_EQ((pick_isa<int>(1, 2, 3)), 1);
  if (best >= Isa::avx2) {
    set_isa(Isa::avx2);
    EXPECT_EQ((pick_isa<int>(1, 2, 3)), 2);
  }
  if (best < Isa::avx512) EXPECT_THROW(set_isa(Isa::avx512), Error);
  set_isa(best);
  EXPECT_THROW(parse_isa("sse9"), Error);
}

TEST(Parallel, CoversEveryIndexExactlyOnceForAnyThreadCount) {
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, 16, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "n=" << n << " i=" << i;
    }
  }
  EXPECT_THROW(set_num_threads(0), Error);
}

TEST(Attrs, ReaderAcceptsIntOrTupleAndNamesTheOpInErrors) {
  Attrs a{{"stride", int64_t(2)}, {"padding", std::vector<int64_t>{1, 0}}, {"mode", std::string("same")}};
  AttrReader r("conv2d", a);
  EXPECT_EQ(r.get_ints("stride", 2), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(r.get_ints("padding", 2), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(r.get_ints("dilation", 2, 1), (std::vector<int64_t>{1, 1}));
  try {
    r.get_ints("padding", 3);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
    EXPECT_NE(m.find("padding"), std::string::npos) << m;
    EXPECT_NE(m.find("(1, 0)"), std::string::npos) << m;
  }
}
