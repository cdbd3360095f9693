// Rebuilding a graph node by node through Graph::add (so every shape rule runs again): for a new input shape (the
// Model's batch sizes) and for the prefix of a graph (a train graph without what build_training appended).
#pragma once
#include <map>
#include <memory>
#include <vector>

#include "fastconv/graph.h"

namespace fastconv {

struct ReplayOptions {
  int num_nodes = -1;                      // replay nodes [0, num_nodes) only; -1: all
  std::map<ValueId, TensorDesc> inputs;    // new descs of Input values (others keep theirs)
  int64_t old_batch = -1, new_batch = -1;  // the reshape rule of docs/model_format.md (both >= 0 to apply)
  // Param/Const tensors swapped on the way (by data pointer): a Model on another device holds device copies.
  const std::map<const void*, Tensor>* tensors = nullptr;
  std::string what = "graph";              // for errors: "predict graph", "train graph"
};

struct Replayed {
  std::shared_ptr<Graph> graph;
  std::vector<ValueId> map;  // old value id -> new id (kNoValue: not part of the replayed prefix)
  ValueId at(ValueId old, const char* role) const;  // ValueError naming `role` when the value is not there
};

// Values that are not computed come first (in id order), then the nodes in order; memo entries whose value was
// replayed are kept. Errors name the graph, node index, op and scope.
Replayed replay_graph(const Graph& src, const ReplayOptions& opt);

}  // namespace fastconv
