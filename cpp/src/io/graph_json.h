// Graphs as the GRAPH JSON of docs/model_format.md, and back. Writing names each Param/Const's tensor (by data
// pointer, from a table the caller fills with state_dict names) and invents reserved "fastconv.*" names for the
// others; reading rebuilds the graph node by node through Graph::add, so every shape rule and attribute schema
// checks the file, and binds tensors by name through the caller.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fastconv/graph.h"
#include "io/json.h"

namespace fastconv::io {

constexpr int64_t kMaxGraphValues = int64_t(1) << 20;  // values, and nodes, of one GRAPH
constexpr int kMaxGraphRank = 64;

struct TensorNames {
  std::map<const void*, std::string> by_ptr;  // data pointer -> tensor name in the file
  std::vector<std::pair<std::string, Tensor>> invented;  // reserved names made here, with their tensors
  int next_const = 0;
  // Device copies -> their host tensors (Python's params_to_device cache): a graph compiled for a device holds the
  // copies, the file names and stores the host tensor.
  std::map<const void*, Tensor> host_of;
  // The name for t: the table's, else a new "fastconv.<kind>.<n>" (kind "const" or "param"), remembered.
  std::string name_of(const Tensor& t, const char* kind);
};

struct GraphJson {
  json::Value graph;
  std::vector<ValueId> ids;  // graph value id -> JSON id (kNoValue: not written)
};

// The first `num_nodes` nodes (-1: all) of g and the values they use, plus every Input value and `keep`.
GraphJson graph_to_json(const Graph& g, int num_nodes, const std::vector<ValueId>& keep, TensorNames& names);

// Finds the tensor a Param/Const names: checks it against the recorded desc; errors name `where`.
using TensorBinder = std::function<Tensor(const std::string& tensor, const TensorDesc& desc, const std::string& where)>;

struct GraphRead {
  std::shared_ptr<Graph> graph;
  std::vector<ValueId> ids;  // JSON id -> graph value id
  ValueId at(int64_t json_id, const std::string& where) const;  // ValueError when out of range
};

// `what` names the graph in errors ("fastconv.graph: predict.graph").
GraphRead graph_from_json(const json::Value& v, const std::string& what, const TensorBinder& bind);

json::Value attrs_to_json(const Attrs& a);
Attrs attrs_from_json(const json::Value& v, const std::string& where);
json::Value shape_to_json(const Shape& s);
Shape shape_from_json(const json::Value& v, const std::string& where);
DType dtype_from_json(const json::Value& v, const std::string& where);

}  // namespace fastconv::io
