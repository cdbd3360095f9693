// The parts of Executable that only executor.cpp (building) and context.cpp (running) see.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "backend/backend.h"
#include "backend/kernel.h"
#include "fastconv/graph.h"
#include "ops/op.h"

namespace fastconv {

struct Executable::Step {
  int node;
  Prepared prepared;
  std::vector<ValueId> in, out;
  size_t ws_offset = 0;
  bool folded = false;  // runs in the fold prologue (FoldCache), not in the step loop
  uint32_t stable_in = 0;  // RunContext::stable_inputs of this step
  double prof_ms = 0;  // written only while profiling, when calls run one at a time
  uint64_t prof_calls = 0;
};

struct Executable::IndexCheck {
  ValueId value;  // a graph input
  std::string op;
  IndexInput range;
};

struct Executable::Binding {
  ValueId value;
  struct Use {
    size_t step;
    bool output;
    size_t slot;
  };
  std::vector<Use> uses;
};

// Folded constants: steps whose inputs are parameters, constants or other folded steps' outputs, run only when a
// version they depend on moved. Their outputs live in buffers of the executable (not of a context, not in the
// arena), which every context's argument lists point at. A readers/writer gate: a call counts as a reader from
// the version check to the end of its steps; a recomputation waits until there are no readers and holds new
// callers back until it is done, so no run sees half-recomputed constants.
struct Executable::FoldCache {
  std::vector<size_t> steps;                   // schedule positions, in order
  std::vector<std::shared_ptr<Storage>> deps;  // the parameters' and constants' storages they read
  std::vector<uint64_t> seen;                  // deps' versions read before the last recomputation
  bool valid = false;
  std::vector<Tensor> buffers;                 // per value: its persistent buffer (undefined unless folded)
  std::shared_ptr<Storage> scratch;            // the largest folded step's workspace
  size_t scratch_bytes = 0;
  std::mutex mu;
  std::condition_variable cv;
  int readers = 0;
  bool writing = false;
  std::atomic<uint64_t> runs{0};
};

// Everything one call needs besides the program: its arena, where every value lives, and each step's argument
// lists, built once so that a run only reads them.
struct Executable::Context {
  std::unique_ptr<StepQueue> queue;            // the backend's: runs (and, on CUDA, replays) the steps
  uint64_t version = 0;                        // bumped whenever an argument address changes (rebind)
  std::shared_ptr<Storage> arena;
  std::vector<Tensor> views;                   // per value
  std::vector<std::vector<Tensor>> in, out;    // per step: the kernel's arguments
  std::vector<Tensor> slots;                   // per binding: the input slot (fixed I/O) or the output buffer
  std::vector<char> handed_out;                // per binding: output() gave the buffer away since the last run
  std::vector<Tensor> next;                    // per binding: the buffer that replaces a handed-out one next run
  std::vector<char> bound;                     // per binding: an input was set since the context was made
};

}  // namespace fastconv
