// A training step allocates nothing on the heap: every kernel's scratch (GEMM packs, k-split partials, reduction
// partials, Winograd tiles, im2col columns) comes from the workspace the planner reserved. The allocator counters
// of the Python tests (fc.max_memory_allocated) only see the engine's own allocator; this binary replaces the
// global operator new/delete (and, on glibc without sanitizers, malloc and friends), so a std::vector, a `new[]`
// or an aligned_alloc inside a kernel fails here. It is its own executable so the replacement touches no other test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include "fastconv/graph.h"
#include "fastconv/parallel.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
inline void note() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

// ---- the replacements: count while g_counting, then defer to the C allocator ---------------------------------
void* operator new(std::size_t n) {
  note();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  note();
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t a) {
  note();
  const std::size_t al = std::max(sizeof(void*), std::size_t(a));
  void* p = nullptr;
  if (posix_memalign(&p, al, n ? n : 1) == 0) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define FC_NO_MALLOC_HOOK 1
#endif
#endif
#ifndef FC_NO_MALLOC_HOOK
// glibc's own entry points, so C allocations (malloc, aligned_alloc, ...) made by the engine library are counted
// too; the sanitizers bring their own malloc, so the hook stays out of those builds.
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
void* malloc(size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  note();
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* aligned_alloc(size_t al, size_t n) {
  note();
  return __libc_memalign(al, n);
}
void* memalign(size_t al, size_t n) {
  note();
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, size_t al, size_t n) {
  note();
  void* p = __libc_memalign(al, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
}
#define FC_COUNTS_MALLOC 1
#endif
#endif

namespace fastconv {
namespace {

// Allocations made while f runs (f itself must not allocate: no gtest assertions inside).
template <class F>
long allocations_during(F&& f) {
  g_allocs.store(0);
  g_counting.store(true);
  f();
  g_counting.store(false);
  return g_allocs.load();
}

TEST(CountingHook, SeesHeapAllocations) {
  // The hook itself: a vector growing, and (where hooked) a C allocation, are counted (operator new over a hooked
  // malloc counts twice).
  const long v = allocations_during([] {
    std::vector<float>* p = new std::vector<float>(1000);
    delete p;
  });
  EXPECT_GE(v, 2);
#ifdef FC_COUNTS_MALLOC
  const long m = allocations_during([] {
    void* volatile p = std::aligned_alloc(64, 4096);
    std::free(p);
  });
  EXPECT_GE(m, 1);
#endif
}

Tensor filled(const Shape& s, float scale, uint32_t seed) {
  Tensor t = Tensor::empty(s);
  float* d = t.data<float>();
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x = x * 1664525u + 1013904223u;
    d[i] = scale * (float((x >> 8) & 0xffff) / 65536.f - 0.5f);
  }
  return t;
}

// conv 3x3 -> relu -> conv 1x1 -> depthwise 3x3 -> sum, with the gradients of every parameter and of the input.
struct ConvNet {
  std::shared_ptr<Graph> g = std::make_shared<Graph>();
  ValueId x, loss;
  std::vector<ValueId> outs;
  ConvNet() {
    x = g->input("x", {{4, 8, 20, 20}});
    const ValueId w1 = g->param("w1", filled({16, 8, 3, 3}, 0.3f, 1)), b1 = g->param("b1", filled({16}, 0.1f, 2));
    const ValueId w2 = g->param("w2", filled({16, 16, 1, 1}, 0.3f, 3));
    const ValueId w3 = g->param("w3", filled({16, 1, 3, 3}, 0.3f, 4));
    ValueId h = g->add1("relu", {g->add1("conv2d", {x, w1, b1}, {{"padding", int64_t(1)}})});
    h = g->add1("conv2d", {h, w2});
    h = g->add1("conv2d", {h, w3}, {{"padding", int64_t(1)}, {"groups", int64_t(16)}});
    loss = g->add1("sum", {h});
    const auto grads = append_backward(*g, loss, {x, w1, b1, w2, w3});
    outs = {loss};
    outs.insert(outs.end(), grads.begin(), grads.end());
  }
};

// Builds the executable (with `algo` forced where it applies), runs a warm-up step, then counts a step's
// allocations. The schedule must show the algorithm, so a forced one that silently did not apply fails too.
long step_allocations(const std::shared_ptr<Graph>& g, ValueId x, const Tensor& xt, const std::vector<ValueId>& outs,
                      const std::map<std::string, std::string>& algo, std::string* schedule) {
  CompileOptions o;
  o.algo = algo;
  o.fixed_io = 1;
  Executable exe(g, outs, o);
  *schedule = exe.schedule_str();
  exe.set_input(x, xt);
  exe.run();  // warm-up: the pool's threads start on the first parallel_for
  exe.set_input(x, xt);
  return allocations_during([&] { exe.run(); });
}

class ConvStep : public ::testing::TestWithParam<std::string> {};

TEST_P(ConvStep, AllocatesNothing) {
  const int saved = get_num_threads();
  set_num_threads(2);  // the threaded paths: per-task GEMM packs, slots, weight-gradient groups
  ConvNet net;
  std::string sched;
  const std::map<std::string, std::string> algo =
      GetParam() == "rules" ? std::map<std::string, std::string>{} : std::map<std::string, std::string>{{"conv", GetParam()}};
  const long n = step_allocations(net.g, net.x, filled({4, 8, 20, 20}, 1.f, 9), net.outs, algo, &sched);
  set_num_threads(saved);
  if (GetParam() != "rules") EXPECT_NE(sched.find(GetParam()), std::string::npos) << sched;
  EXPECT_EQ(n, 0) << "heap allocations during one step with conv=" << GetParam() << "\n" << sched;
}

INSTANTIATE_TEST_SUITE_P(Algos, ConvStep,
                         ::testing::Values("rules", "im2col_gemm", "gemm_1x1", "winograd_f4x3", "depthwise_direct", "ref"));

// A linear layer whose forward product is tiny (4 x 16) with a long reduction (K = 65536): the GEMM splits K
// across threads and sums partial products, which now live in the node's workspace.
TEST(LinearStep, KSplitAllocatesNothing) {
  const int saved = get_num_threads();
  set_num_threads(2);
  auto g = std::make_shared<Graph>();
  const int64_t M = 4, N = 16, K = 65536;
  const ValueId x = g->input("x", {{M, K}});
  const ValueId w = g->param("w", filled({N, K}, 0.01f, 5)), b = g->param("b", filled({N}, 0.1f, 6));
  const ValueId loss = g->add1("sum", {g->add1("linear", {x, w, b})});
  const auto grads = append_backward(*g, loss, {x, w, b});
  std::vector<ValueId> outs{loss};
  outs.insert(outs.end(), grads.begin(), grads.end());
  std::string sched;
  const long n = step_allocations(g, x, filled({M, K}, 1.f, 7), outs, {}, &sched);
  set_num_threads(saved);
  EXPECT_EQ(n, 0) << sched;
}

}  // namespace
}  // namespace fastconv
