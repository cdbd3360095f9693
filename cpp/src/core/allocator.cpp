// CPU memory: 64-byte aligned blocks, and a cache of large freed blocks for Storage.
//
// Why a cache: a block of a megabyte or more comes from mmap, and each of its pages is faulted in (and zeroed by
// the kernel) on first touch. Under a hypervisor a fault costs microseconds, so a 25 MiB gradient that a kernel
// writes into fresh memory paid ~6,000 faults, several milliseconds, on every value_and_grad call (more than the
// GEMM that computed it). Freed large blocks are therefore kept, up to a cap, and handed out again for requests of
// the same size class; empty_cache() / release_cached_memory() returns them to the system.
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "fastconv/error.h"
#include "fastconv/tensor.h"

namespace fastconv {
namespace {

constexpr size_t kCacheMinBytes = size_t(1) << 20;  // smaller blocks: malloc's free lists already reuse them
constexpr size_t kSizeClass = size_t(64) << 10;     // large requests round up to this (<= 6% waste from 1 MiB)

// aligned_alloc needs a multiple of 64, and kernels may read a full last vector.
size_t line_rounded(size_t nbytes) { return nbytes == 0 ? 64 : (nbytes + 63) / 64 * 64; }

// What the cache allocates and files a block under: large requests go up to their size class.
size_t rounded(size_t nbytes) {
  const size_t n = line_rounded(nbytes);
  return n >= kCacheMinBytes ? (n + kSizeClass - 1) / kSizeClass * kSizeClass : n;
}

size_t cap_from_env() {
  const char* e = std::getenv("FASTCONV_CACHE_MB");
  if (!e || !*e) return size_t(256) << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(e, &end, 10);
  FC_CHECK(end && *end == '\0' && mb >= 0, Value, "FASTCONV_CACHE_MB must be a non-negative integer (MiB), got '",
           e, "'");
  return size_t(mb) << 20;
}

struct Cache {
  std::mutex mu;
  std::vector<std::pair<size_t, void*>> blocks;  // (rounded size, block), most recently freed last
  size_t bytes = 0;
  size_t cap = cap_from_env();
};
// Never destroyed: tensors held by Python objects may be freed after static destructors have run.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

// n bytes (a multiple of 64) for a request of nbytes; the error names the request.
void* system_alloc(size_t n, size_t nbytes) {
  void* p = std::aligned_alloc(64, n);
  if (!p) {  // the cache may be holding what the system lacks
    release_cached_memory();
    p = std::aligned_alloc(64, n);
  }
  FC_CHECK(p != nullptr, Runtime, "out of memory: could not allocate ", nbytes, " bytes");
  return p;
}

}  // namespace

void* aligned_alloc64(size_t nbytes) { return system_alloc(line_rounded(nbytes), nbytes); }

void aligned_free64(void* p) { std::free(p); }

namespace {
// Bytes held by tensors right now and the most since the last reset (torch.cuda.memory_allocated's meaning, for the
// CPU): what tests compare with a compiled program's peak_bytes.
std::atomic<size_t> g_live{0}, g_max{0};

void count_alloc(size_t nbytes) {
  const size_t now = g_live.fetch_add(nbytes) + nbytes;
  size_t seen = g_max.load();
  while (now > seen && !g_max.compare_exchange_weak(seen, now)) {
  }
}
}  // namespace

void* cached_alloc64(size_t nbytes) {
  count_alloc(nbytes);
  const size_t n = rounded(nbytes);
  if (n >= kCacheMinBytes) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    for (size_t i = c.blocks.size(); i-- > 0;)
      if (c.blocks[i].first == n) {
        void* p = c.blocks[i].second;
        c.blocks.erase(c.blocks.begin() + std::ptrdiff_t(i));
        c.bytes -= n;
        return p;
      }
  }
  return system_alloc(n, nbytes);
}

void cached_free64(void* p, size_t nbytes) {
  if (!p) return;
  g_live.fetch_sub(nbytes);
  const size_t n = rounded(nbytes);
  Cache& c = cache();
  if (n >= kCacheMinBytes && n <= c.cap) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(c.mu);
      size_t drop = 0;  // oldest first
      while (c.bytes + n > c.cap && drop < c.blocks.size()) {
        c.bytes -= c.blocks[drop].first;
        evicted.push_back(c.blocks[drop++].second);
      }
      c.blocks.erase(c.blocks.begin(), c.blocks.begin() + std::ptrdiff_t(drop));
      c.blocks.emplace_back(n, p);
      c.bytes += n;
    }
    for (void* e : evicted) std::free(e);
    return;
  }
  std::free(p);
}

size_t release_cached_memory() {
  Cache& c = cache();
  std::vector<std::pair<size_t, void*>> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    blocks.swap(c.blocks);
    c.bytes = 0;
  }
  size_t freed = 0;
  for (auto& [n, p] : blocks) {
    freed += n;
    std::free(p);
  }
  return freed;
}

size_t allocated_bytes() { return g_live.load(); }
size_t max_allocated_bytes() { return g_max.load(); }
void reset_max_allocated_bytes() { g_max.store(g_live.load()); }

size_t cached_memory_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

}  // namespace fastconv
