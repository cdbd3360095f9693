// Model::Impl: the graphs a Model was made from and its compiled programs, one per input shape (LRU, at most
// kMaxPrograms of each kind). Shared by model.cpp (running) and model_load.cpp (files).
#pragma once
#include <list>
#include <map>
#include <memory>
#include <mutex>

#include "api/model_impl.h"

namespace fastconv {

struct Model::Impl {
  static constexpr size_t kMaxPrograms = 8;  // as Python's Compiled.max_programs

  ModelGraphs g;
  ModelOptions options;
  // Device copies of parameters, buffers and constants by host data pointer (empty on the CPU).
  std::map<const void*, Tensor> device_tensors;

  struct Program {
    Shape x_shape, y_shape;
    std::shared_ptr<Executable> exe;
    ValueId x = kNoValue, y = kNoValue, loss = kNoValue;
    std::vector<ValueId> outputs;
  };
  mutable std::mutex predict_mu;
  mutable std::list<Program> predict_cache;  // most recently used first
  std::mutex train_mu;                       // held for a whole train step: steps run in call order
  std::list<Program> train_cache;

  // A copy (it holds the executable): another thread may evict the cache entry while this one runs it.
  Program predict_program(const Shape& x_shape) const;
  Program& train_program(const Shape& x_shape, const Shape& y_shape);
  CompileOptions compile_options() const;
};

}  // namespace fastconv
