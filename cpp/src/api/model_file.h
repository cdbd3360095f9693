// The model file's graph document (docs/model_format.md, `fastconv.graph`): written from ModelGraphs, read back
// into ModelGraphs against the file's tensors. Used by Model::save/load and by Python's fastconv.save (bindings).
#pragma once
#include <string>

#include "api/model_impl.h"
#include "io/safetensors.h"

namespace fastconv {

constexpr int64_t kModelOpset = 1;  // the op-set (and document) version this reader and writer speak
// The optimizer's step counter: graphs name it, the reader binds it to its OptimizerState (no file tensor).
constexpr const char* kStepTensor = "fastconv.optim.step";

struct GraphDoc {
  std::string json;     // the fastconv.graph text
  NamedTensors tensors;  // reserved tensors the graphs name besides state_dict ones: constants, slots
};

// train_nodes: how many of g.train's nodes are the forward pass and loss (Python's train graph holds what
// build_training appended after them); -1: all (a C++ Model's train graph holds only the prefix).
// host_of: device copies the graphs hold -> their host tensors (what the file stores).
GraphDoc write_graph_doc(const ModelGraphs& g, int train_nodes = -1,
                         const std::map<const void*, Tensor>& host_of = {});

// The graphs of a file (its tensors already read); every error names `source` and the field.
ModelGraphs read_graph_doc(const io::SafetensorsFile& file, const std::string& source);

Model model_from_file(const io::SafetensorsFile& file, const std::string& source, const ModelOptions& options);
// For the fuzzer: a model file's bytes.
Model load_model_bytes(const void* data, size_t n, const std::string& source, const ModelOptions& options);

}  // namespace fastconv
