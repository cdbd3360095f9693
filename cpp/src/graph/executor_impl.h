// The parts of Executable that only executor.cpp (building) and context.cpp (running) see.
#pragma once
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
