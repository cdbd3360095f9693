// A small fork-join pool. Workers spin briefly after a job and then sleep on a condition variable, so an idle
// pool costs no CPU: important when fastconv and PyTorch run side by side in one benchmark process.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "fastconv/error.h"
#include "fastconv/parallel.h"

namespace fastconv {
namespace {

thread_local bool t_in_parallel = false;

class Pool {
 public:
  explicit Pool(int n) : nthreads_(n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return nthreads_; }

  void run(int64_t n, int64_t chunk, RangeFn fn, void* ctx) {
    std::lock_guard<std::mutex> run_lock(run_mu_);  // one job at a time; callers from other threads queue here
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    chunk_ = chunk;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++generation_;
    }
    cv_.notify_all();
    work();
    // Wait for workers to leave the job before its ctx goes out of scope.
    for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins)
      if (spins > 1000) std::this_thread::yield();
  }

 private:
  void work() {
    t_in_parallel = true;
    for (;;) {
      int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
      if (b >= n_) break;
      fn_(ctx_, b, std::min(n_, b + chunk_));
    }
    t_in_parallel = false;
  }
  void worker() {
    uint64_t seen = 0;
    for (;;) {
      // Spin a little: back-to-back kernels then start without a wake-up.
      for (int i = 0; i < 20000 && generation_.load(std::memory_order_acquire) == seen; ++i)
        if ((i & 63) == 63) std::this_thread::yield();
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_.load() != seen; });
        seen = generation_.load();
        if (stop_) return;
      }
      work();
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  bool stop_ = false;
  RangeFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunk_ = 1;
  std::atomic<int64_t> next_{0};
  std::atomic<int> pending_{0};
};

int default_threads() {
  for (const char* var : {"FASTCONV_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n >= 1) return n;
    }
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

std::mutex g_pool_mu;
int g_requested = 0;  // 0 = not set yet
Pool* g_pool = nullptr;

Pool& pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_requested == 0) g_requested = default_threads();
  if (!g_pool || g_pool->size() != g_requested) {
    delete g_pool;
    g_pool = new Pool(g_requested);
  }
  return *g_pool;
}

}  // namespace

int get_num_threads() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_requested == 0) g_requested = default_threads();
  return g_requested;
}

void set_num_threads(int n) {
  FC_CHECK(n >= 1 && n <= 1024, Value, "set_num_threads: n must be between 1 and 1024, got ", n);
  std::lock_guard<std::mutex> lk(g_pool_mu);
  g_requested = n;
}

void parallel_for_raw(int64_t n, int64_t grain, RangeFn fn, void* ctx) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (t_in_parallel || n <= grain) {
    fn(ctx, 0, n);
    return;
  }
  Pool& p = pool();
  if (p.size() == 1) {
    fn(ctx, 0, n);
    return;
  }
  // A few chunks per thread balances uneven work without much scheduling overhead.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(p.size()) * 4);
  int64_t chunk = (n + chunks - 1) / chunks;
  p.run(n, chunk, fn, ctx);
}

}  // namespace fastconv
