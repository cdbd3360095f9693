// The CUDA execution model on the CPU: every thread of a block is a fiber (Boost.Context), so __syncthreads() and
// the warp collectives are real rendezvous, and misuse a GPU punishes with a hang or garbage is reported instead,
// naming the kernel and block. Blocks run in parallel on the engine's thread pool, each block's fibers on one OS
// thread (so static __shared__ can be thread_local). Fiber stacks are pooled per OS thread: allocating them per
// block dominated the cost of a launch.
#include <sys/mman.h>

#include <boost/context/detail/fcontext.hpp>
#include <atomic>
#include <cstdarg>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_runtime.h"
#include "emu_internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define FC_EMU_ASAN 1
#else
#define FC_EMU_ASAN 0
#endif

namespace ctx = boost::context::detail;

namespace fc_emu {
namespace {

#if FC_EMU_ASAN
constexpr size_t kStackBytes = size_t(1) << 20;  // ASan's redzones make frames several times larger
#else
constexpr size_t kStackBytes = size_t(256) << 10;
#endif

struct Stack {
  void* base = nullptr;  // lowest address, a guard page below the usable part
  size_t size = 0;
};

// Stacks of one OS thread, reused by every block it runs; unmapped when the thread ends.
struct StackPool {
  std::vector<Stack> stacks;
  ~StackPool() {
    for (Stack& s : stacks) munmap(s.base, s.size);
  }
  Stack& get(size_t i) {
    while (stacks.size() <= i) {
      const size_t bytes = kStackBytes + 4096;
      void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      mprotect(p, 4096, PROT_NONE);  // an overflowing fiber faults instead of writing into its neighbour
      stacks.push_back({p, bytes});
    }
    return stacks[i];
  }
};
thread_local StackPool t_stacks;

enum class State { ready, at_barrier, at_warp, exited };

struct Site {
  const char* file = nullptr;
  int line = 0;
  bool operator==(const Site& o) const { return line == o.line && (file == o.file || std::strcmp(file, o.file) == 0); }
};

struct Fiber {
  uint3 tid;
  unsigned linear = 0;
  State state = State::ready;
  Site site;            // where it waits
  unsigned mask = 0;    // the mask of the warp collective it waits in
  ctx::fcontext_t ctx = nullptr;
  void* fake_stack = nullptr;
  int vote = 0;
  unsigned char slot[32];  // this lane's value in a warp collective (shuffle, exchange)
};

struct Block {
  const LaunchInfo* launch = nullptr;
  BlockInfo info;
  std::vector<Fiber> fibers;
  std::deque<unsigned> ready;
  unsigned at_barrier = 0, exited = 0;
  Site barrier_site;
  std::vector<unsigned> warp_arrived;  // lanes waiting in a warp collective, per warp
  std::string error;
};

thread_local Block* t_block = nullptr;
thread_local Fiber* t_fiber = nullptr;
thread_local ctx::fcontext_t t_scheduler = nullptr;
#if FC_EMU_ASAN
thread_local const void* t_sched_stack = nullptr;
thread_local size_t t_sched_stack_size = 0;
#endif

std::string tid_str(const uint3& t) {
  return "(" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}
std::string site_str(const Site& s) {
  const char* base = std::strrchr(s.file, '/');
  return std::string(base ? base + 1 : s.file) + ":" + std::to_string(s.line);
}

// Back to the scheduler; returns when the scheduler resumes this fiber.
void suspend() {
  [[maybe_unused]] Fiber* f = t_fiber;
#if FC_EMU_ASAN
  __sanitizer_start_switch_fiber(f->state == State::exited ? nullptr : &f->fake_stack, t_sched_stack,
                                 t_sched_stack_size);
#endif
  ctx::transfer_t t = ctx::jump_fcontext(t_scheduler, nullptr);
  t_scheduler = t.fctx;
#if FC_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &t_sched_stack, &t_sched_stack_size);
#endif
}

// A misuse found inside the kernel: the block stops. The faulting fiber unwinds its own stack (so the message's
// temporaries are freed) up to fiber_main; the others are abandoned where they wait and their stacks reused.
struct Abort {};
[[noreturn]] void fault(const std::string& what) {
  Block* b = t_block;
  if (b->error.empty()) b->error = what;
  throw Abort{};
}

std::string where() {
  return "thread " + tid_str(t_fiber->tid) + " of block " + tid_str(t_block->info.idx);
}

void release_barrier(Block& b) {
  for (Fiber& f : b.fibers)
    if (f.state == State::at_barrier) {
      f.state = State::ready;
      b.ready.push_back(f.linear);
    }
  b.at_barrier = 0;
}

// Every thread still running waits at the barrier while some have exited: on a GPU, undefined (a hang or a
// barrier that does not wait).
void check_barrier_complete(Block& b) {
  const unsigned n = unsigned(b.fibers.size());
  if (b.at_barrier == 0 || b.at_barrier + b.exited < n) return;
  if (b.exited > 0) {
    for (const Fiber& f : b.fibers)
      if (f.state == State::exited) {
        if (b.error.empty())
          b.error = "barrier divergence: thread " + tid_str(f.tid) + " of block " + tid_str(b.info.idx) +
                    " exited while " + std::to_string(b.at_barrier) + " threads wait at __syncthreads() (" +
                    site_str(b.barrier_site) + ")";
        return;
      }
  }
  release_barrier(b);
}

unsigned lanes_in_warp(const Block& b, unsigned warp) {
  const unsigned n = unsigned(b.fibers.size()), first = warp * 32;
  return n - first >= 32 ? 0xffffffffu : (1u << (n - first)) - 1u;
}

// Wait until every lane named in mask has reached a warp collective with the same mask.
void warp_rendezvous(unsigned mask, Site site) {
  Block& b = *t_block;
  Fiber& f = *t_fiber;
  const unsigned lane = f.linear % 32, warp = f.linear / 32, exists = lanes_in_warp(b, warp);
  if (!(mask >> lane & 1u))
    fault("warp collective at " + site_str(site) + ": " + where() + " (lane " + std::to_string(lane) +
          ") calls it with mask 0x" + to_hex(mask) + ", which does not name the calling lane");
  if (mask & ~exists)
    fault("warp collective at " + site_str(site) + ": " + where() + " names lanes 0x" + to_hex(mask & ~exists) +
          " that do not exist in its warp (the block has " + std::to_string(b.fibers.size()) + " threads)");
  for (unsigned l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && b.fibers[warp * 32 + l].state == State::exited)
      fault("warp collective at " + site_str(site) + ": " + where() + " waits for lane " + std::to_string(l) +
            " (mask 0x" + to_hex(mask) + "), which has exited");
  f.state = State::at_warp;
  f.mask = mask;
  f.site = site;
  unsigned& arrived = b.warp_arrived[warp];
  arrived |= 1u << lane;
  if ((arrived & mask) == mask) {
    for (unsigned l = 0; l < 32; ++l) {
      if (!(mask >> l & 1u)) continue;
      Fiber& g = b.fibers[warp * 32 + l];
      if (g.mask != mask)
        fault("warp collective at " + site_str(site) + ": lanes of warp " + std::to_string(warp) + " of block " +
              tid_str(b.info.idx) + " wait with different masks (0x" + to_hex(mask) + " and 0x" + to_hex(g.mask) +
              " at " + site_str(g.site) + ")");
      g.state = State::ready;
      if (&g != &f) b.ready.push_back(g.linear);
    }
    arrived &= ~mask;
    return;  // the last to arrive goes on without switching
  }
  suspend();
}

void fiber_main(ctx::transfer_t t) {
  t_scheduler = t.fctx;
#if FC_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &t_sched_stack, &t_sched_stack_size);
#endif
  Block& b = *t_block;
  try {
    b.launch->thunk(b.launch->closure);
  } catch (const Abort&) {
    t_fiber->state = State::exited;
    suspend();
    std::abort();  // never resumed: the scheduler stops the block
  }
  Fiber& f = *t_fiber;
  f.state = State::exited;
  ++b.exited;
  // A collective still waiting for this lane can never complete.
  const unsigned warp = f.linear / 32, lane = f.linear % 32;
  for (unsigned l = 0; l < 32 && warp * 32 + l < b.fibers.size(); ++l) {
    const Fiber& g = b.fibers[warp * 32 + l];
    if (g.state == State::at_warp && (g.mask >> lane & 1u) && b.error.empty())
      b.error = "warp collective at " + site_str(g.site) + ": thread " + tid_str(g.tid) + " of block " +
                tid_str(b.info.idx) + " waits for lane " + std::to_string(lane) + " (mask 0x" + to_hex(g.mask) +
                "), which exited";
  }
  check_barrier_complete(b);
  suspend();
  std::abort();  // an exited fiber is never resumed
}

std::string describe_deadlock(const Block& b) {
  std::string s = "deadlock: no thread of block " + tid_str(b.info.idx) + " can go on;";
  int shown = 0;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::exited || f.state == State::ready) continue;
    if (shown++ == 4) {
      s += " ...";
      break;
    }
    s += " thread " + tid_str(f.tid) + (f.state == State::at_barrier ? " waits at __syncthreads() (" :
                                        " waits in a warp collective with mask 0x" + to_hex(f.mask) + " (") +
         site_str(f.site) + ")";
    s += ";";
  }
  return s;
}

}  // namespace

std::string to_hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

const uint3& thread_idx() { return t_fiber->tid; }
const BlockInfo& block() { return t_block->info; }
unsigned lane_id() { return t_fiber->linear % 32; }

void syncthreads(const char* file, int line) {
  Block& b = *t_block;
  Fiber& f = *t_fiber;
  const Site site{file, line};
  if (b.at_barrier == 0) {
    b.barrier_site = site;
  } else if (!(b.barrier_site == site)) {
    fault("barrier divergence: " + where() + " waits at __syncthreads() (" + site_str(site) + ") while " +
          std::to_string(b.at_barrier) + " threads wait at another one (" + site_str(b.barrier_site) + ")");
  }
  f.state = State::at_barrier;
  f.site = site;
  ++b.at_barrier;
  check_barrier_complete(b);
  suspend();
}

int syncthreads_count(int pred, const char* file, int line) {
  Block& b = *t_block;
  t_fiber->vote = pred != 0;
  syncthreads(file, line);
  int n = 0;
  for (const Fiber& f : b.fibers) n += f.vote;
  syncthreads(file, line);  // nobody overwrites its vote before every thread has counted
  return n;
}

void syncwarp(unsigned mask, const char* file, int line) { warp_rendezvous(mask, {file, line}); }

void shfl(unsigned mask, const void* in, void* out, size_t n, int mode, int arg, int width, const char* file,
          int line) {
  const Site site{file, line};
  if (width < 1 || width > 32 || (width & (width - 1)))
    fault("__shfl*_sync at " + site_str(site) + ": width " + std::to_string(width) +
          " is not a power of two in [1, 32]");
  Fiber& f = *t_fiber;
  std::memcpy(f.slot, in, n);
  warp_rendezvous(mask, site);
  const int lane = int(f.linear % 32), seg = lane & ~(width - 1);
  int src = lane;
  switch (mode) {
    case 0: src = seg + (arg & (width - 1)); break;
    case 1: src = lane - arg >= seg ? lane - arg : lane; break;
    case 2: src = lane + arg < seg + width ? lane + arg : lane; break;
    default: src = (lane ^ arg) < seg + width ? lane ^ arg : lane; break;
  }
  if (!(mask >> src & 1u))
    fault("__shfl*_sync at " + site_str(site) + ": " + where() + " reads lane " + std::to_string(src) +
          ", which is not in the mask 0x" + to_hex(mask) + " (its value is undefined on a GPU)");
  std::memcpy(out, t_block->fibers[f.linear / 32 * 32 + unsigned(src)].slot, n);
  warp_rendezvous(mask, site);  // no lane overwrites its slot before every lane has read
}

// Every lane in mask deposits n bytes; each gets all of them (lane l's at out + l * n; lanes outside the mask
// are left as they were). The warp-wide instructions of mma.cuh (mma.sync, ldmatrix) are built on this.
void exchange(unsigned mask, const void* in, size_t n, void* out, const char* file, int line) {
  const Site site{file, line};
  if (n > sizeof(Fiber::slot))
    fault("warp exchange at " + site_str(site) + ": " + std::to_string(n) + " bytes a lane (at most " +
          std::to_string(sizeof(Fiber::slot)) + ")");
  Fiber& f = *t_fiber;
  std::memcpy(f.slot, in, n);
  warp_rendezvous(mask, site);
  const unsigned base = f.linear / 32 * 32;
  for (unsigned l = 0; l < 32; ++l)
    if (mask >> l & 1u) std::memcpy(static_cast<unsigned char*>(out) + l * n, t_block->fibers[base + l].slot, n);
  warp_rendezvous(mask, site);  // no lane overwrites its slot before every lane has read
}

unsigned vote(unsigned mask, int pred, int mode, const char* file, int line) {
  Fiber& f = *t_fiber;
  f.vote = pred != 0;
  warp_rendezvous(mask, {file, line});
  unsigned ballot = 0;
  const unsigned base = f.linear / 32 * 32;
  for (unsigned l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && t_block->fibers[base + l].vote) ballot |= 1u << l;
  warp_rendezvous(mask, {file, line});
  return mode == 0 ? ballot : mode == 1 ? unsigned(ballot != 0) : unsigned(ballot == mask);
}

unsigned active_mask() {
  const Block& b = *t_block;
  const unsigned warp = t_fiber->linear / 32;
  unsigned m = 0;
  for (unsigned l = 0; l < 32 && warp * 32 + l < b.fibers.size(); ++l)
    if (b.fibers[warp * 32 + l].state != State::exited) m |= 1u << l;
  return m;
}

void trap(const char* what, const char* file, int line) {
  fault(std::string(what) + " at " + site_str({file, line}) + " in " + where());
}

// Runs one block to its end; returns "" or what went wrong (without the kernel's name).
std::string run_block(const LaunchInfo& L, uint3 idx, unsigned char* dynamic_smem) {
  Block b;
  b.launch = &L;
  b.info = {idx, L.block, L.grid, dynamic_smem};
  const unsigned n = L.block.x * L.block.y * L.block.z;
  b.fibers.resize(n);
  b.warp_arrived.assign((n + 31) / 32, 0u);
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = b.fibers[i];
    f.linear = i;
    f.tid = {i % L.block.x, i / L.block.x % L.block.y, i / (L.block.x * L.block.y)};
    Stack& s = t_stacks.get(i);
#if FC_EMU_ASAN
    __asan_unpoison_memory_region(static_cast<char*>(s.base) + 4096, s.size - 4096);  // frames left by a fault
#endif
    f.ctx = ctx::make_fcontext(static_cast<char*>(s.base) + s.size, s.size - 4096, fiber_main);
    b.ready.push_back(i);
  }
  Block* outer_block = t_block;
  Fiber* outer_fiber = t_fiber;
  t_block = &b;
  while (b.error.empty()) {
    if (b.ready.empty()) {
      if (b.exited < n) b.error = describe_deadlock(b);
      break;
    }
    Fiber& f = b.fibers[b.ready.front()];
    b.ready.pop_front();
    t_fiber = &f;
#if FC_EMU_ASAN
    void* fake = nullptr;
    Stack& s = t_stacks.get(f.linear);
    __sanitizer_start_switch_fiber(&fake, static_cast<char*>(s.base) + 4096, s.size - 4096);
#endif
    ctx::transfer_t t = ctx::jump_fcontext(f.ctx, nullptr);
    f.ctx = t.fctx;
#if FC_EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  }
  t_block = outer_block;
  t_fiber = outer_fiber;
  return b.error;
}

}  // namespace fc_emu
