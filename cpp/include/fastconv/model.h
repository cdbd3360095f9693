// A trained network as one object: load it from a model file (written by Python's fastconv.save, by `fastconv
// train`, or by Model::save), run inference on it, train it further, save it again. Built in C++ from layers
// with fastconv/nn.h. Thread-safe as the Executable is: predict() from several threads at once; train_step()
// calls run one at a time, in call order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/attrs.h"
#include "fastconv/export.h"
#include "fastconv/tensor.h"

namespace fastconv {

struct ModelOptions {
  Device device;    // where it runs: cpu (default) or cuda:N
  int threads = 0;  // > 0: the engine's thread count (set_num_threads); 0 leaves it as it is
};

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class FASTCONV_API Model {
 public:
  // Every problem with the file (missing, truncated, corrupt bytes, checksum mismatch, malformed or adversarial
  // graph, unknown op, unsupported op-set version) is a fastconv::Error naming the file and the field.
  static Model load(const std::string& path, const ModelOptions& options = {});
  // Writes weights, the graphs (and, for a trainable model, the training program and optimizer state) to one
  // safetensors file that Python's fastconv.load reads back.
  void save(const std::string& path) const;

  // Inference in eval mode (batch norm uses running statistics, dropout is off). The batch size may differ from
  // the one the model was traced with (each new input shape is compiled once and kept). Outputs are the model's
  // outputs in order; predict() returns the first.
  Tensor predict(const Tensor& x) const;
  // The same on a caller-owned contiguous float32 buffer of `shape` (borrowed for the call, not copied on the CPU).
  Tensor predict(const float* data, const Shape& shape) const;
  NamedTensors predict_named(const Tensor& x) const;
  std::vector<std::string> output_names() const;
  Shape input_shape() const;  // the shape the model was traced with (batch dimension included)

  // Training: one optimizer step on (x, y) in train mode; returns the loss. Needs a training program (a file saved
  // from a model compiled with a loss and an optimizer, or a Model made by nn::compile): else a ValueError.
  bool trainable() const;
  float train_step(const Tensor& x, const Tensor& y);
  int64_t steps() const;                         // optimizer steps taken (kept across save/load)
  double lr(size_t group = 0) const;
  void set_lr(double lr, size_t group = 0);      // between steps (learning-rate schedules)

  // Parameters and buffers by their state_dict names (Python's), in state_dict order; the tensors are the
  // model's own (writing into them changes the model).
  NamedTensors state_dict() const;
  Tensor parameter(const std::string& name) const;  // ValueError naming close names when absent
  // Call after writing into state_dict()/parameter() tensors through their raw data pointers: constants the
  // programs fold from them (batch-norm folding) are recomputed at the next call. Writes through Tensor::copy_from
  // or fill_, nn::Module::load_state_dict and train_step are seen without it (docs/inference.md).
  void weights_changed() const;

  struct Impl;
  explicit Model(std::shared_ptr<Impl> impl);

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fastconv
