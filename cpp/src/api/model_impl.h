// What a Model is made of, for the code that makes one: the loader (api/model_load.cpp) and the C++ layer
// builder (api/nn.cpp). Graphs are traced at one input shape; the Model re-traces them (replay) for others.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/graph.h"
#include "fastconv/model.h"
#include "fastconv/train.h"

namespace fastconv {

struct ModelGraphs {
  // Inference: the forward pass in eval mode. Param values hold the model's tensors (Value::name = the
  // state_dict name), shared with the train graph.
  std::shared_ptr<Graph> predict;
  ValueId predict_x = kNoValue;
  std::vector<std::pair<std::string, ValueId>> predict_outputs;  // names: "output" (one) or "output0".. (several)

  // Training (optional, null when inference only): the forward pass in train mode and the loss, without the
  // backward pass (build_training appends it when the Model compiles a step), plus what build_training needs.
  std::shared_ptr<Graph> train;
  ValueId train_x = kNoValue, train_y = kNoValue;
  TrainSpec spec;                          // spec.loss: a value of `train`; params are values of `train`
  std::shared_ptr<OptimizerState> state;   // steps, learning rates, slots by the groups' keys

  // Parameters and buffers in state_dict order (names as Python's state_dict), the tensors the graphs hold.
  // (Named state_dict, not state: `state` above is the optimizer's.)
  NamedTensors state_dict;
  // The Python architecture description (io.py's "architecture" metadata), kept so a file saved from C++ still
  // rebuilds as a Python Module; empty when there is none.
  std::string architecture;
  std::map<std::string, std::string> extra_metadata;  // other metadata of a loaded file, written back by save()
};

Model make_model(ModelGraphs graphs, const ModelOptions& options);

}  // namespace fastconv
