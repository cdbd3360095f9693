// Model files: the graph document written from a Model's graphs, and a Model rebuilt from a file (graphs replayed
// through Graph::add, tensors bound by name with their shapes checked, the optimizer's state restored).
#include <set>

#include "api/model_file.h"
#include "api/model_state.h"
#include "api/replay.h"
#include "fastconv/error.h"
#include "fastconv/fastconv.h"
#include "io/graph_json.h"

namespace fastconv {

namespace {

const char* kNoGraph =
    " has no traced graph: save it from Python with fastconv.save(compiled_model, path) or "
    "fastconv.save(model, path, input_shape=...)";

json::Value id_json(ValueId v) { return json::Value(int64_t(v)); }

}  // namespace

GraphDoc write_graph_doc(const ModelGraphs& g, int train_nodes, const std::map<const void*, Tensor>& host_of) {
  FC_CHECK(g.predict != nullptr, Value, "save: the model has no predict graph");
  io::TensorNames names;
  names.host_of = host_of;
  for (const auto& [name, t] : g.state_dict) names.by_ptr.emplace(t.data_ptr(), name);
  if (g.state) names.by_ptr[g.state->step().data_ptr()] = kStepTensor;
  json::Value doc = json::Value::object();
  doc.set("format", json::Value("fastconv.graph"));
  doc.set("opset", json::Value(kModelOpset));

  std::vector<ValueId> keep{g.predict_x};
  for (const auto& [n, v] : g.predict_outputs) keep.push_back(v);
  io::GraphJson p = io::graph_to_json(*g.predict, -1, keep, names);
  json::Value pred = json::Value::object(), outs = json::Value::array();
  pred.set("graph", std::move(p.graph));
  pred.set("input", id_json(p.ids[size_t(g.predict_x)]));
  for (const auto& [n, v] : g.predict_outputs) {
    json::Value e = json::Value::array();
    e.push(json::Value(n));
    e.push(id_json(p.ids[size_t(v)]));
    outs.push(std::move(e));
  }
  pred.set("outputs", std::move(outs));
  doc.set("predict", std::move(pred));

  GraphDoc out;
  if (g.train != nullptr) {
    FC_CHECK(g.state != nullptr, Value, "save: the train graph has no optimizer state");
    keep = {g.train_x, g.train_y, g.spec.loss};
    for (const ParamGroupSpec& grp : g.spec.groups)
      for (const auto& [v, key] : grp.params) keep.push_back(v);
    io::GraphJson t = io::graph_to_json(*g.train, train_nodes, keep, names);
    json::Value tr = json::Value::object(), groups = json::Value::array(), lrs = json::Value::array();
    tr.set("graph", std::move(t.graph));
    tr.set("x", id_json(t.ids[size_t(g.train_x)]));
    tr.set("y", id_json(t.ids[size_t(g.train_y)]));
    tr.set("loss", id_json(t.ids[size_t(g.spec.loss)]));
    tr.set("optimizer", json::Value(g.spec.optimizer));
    std::set<std::string> keys;
    for (size_t gi = 0; gi < g.spec.groups.size(); ++gi) {
      const ParamGroupSpec& grp = g.spec.groups[gi];
      json::Value o = json::Value::object(), ps = json::Value::array();
      for (const auto& [v, key] : grp.params) {
        json::Value e = json::Value::array();
        e.push(id_json(t.ids[size_t(v)]));
        e.push(json::Value(key));
        ps.push(std::move(e));
        keys.insert(key);
      }
      o.set("params", std::move(ps));
      o.set("hyper", io::attrs_to_json(grp.hyper));
      groups.push(std::move(o));
      lrs.push(json::Value(gi < g.state->num_groups() ? g.state->lr(gi).to(Device{}).data<double>()[0] : 0.0));
    }
    tr.set("groups", std::move(groups));
    tr.set("clip_grad_norm", json::Value(g.spec.clip_grad_norm));
    tr.set("clip_norm_type", json::Value(g.spec.clip_norm_type));
    json::Value st = json::Value::object(), slots = json::Value::array();
    st.set("steps", json::Value(int64_t(g.state->steps())));
    st.set("lr", std::move(lrs));
    for (const auto& [key, by_slot] : g.state->slots()) {
      if (!keys.count(key)) continue;  // a parameter this program does not train
      for (const auto& [slot, tensor] : by_slot) {
        const std::string name = "fastconv.optim." + key + "." + slot;
        json::Value e = json::Value::array();
        e.push(json::Value(key));
        e.push(json::Value(slot));
        e.push(json::Value(name));
        slots.push(std::move(e));
        out.tensors.emplace_back(name, tensor);
      }
    }
    st.set("slots", std::move(slots));
    tr.set("state", std::move(st));
    doc.set("train", std::move(tr));
  }
  for (auto& nt : names.invented) out.tensors.push_back(nt);
  out.json = json::dump(doc);
  return out;
}

ModelGraphs read_graph_doc(const io::SafetensorsFile& file, const std::string& source) {
  auto meta = file.metadata.find("fastconv.graph");
  FC_CHECK(meta != file.metadata.end(), Value, "fastconv.load: ", source, kNoGraph);
  const std::string w = "fastconv.load: " + source + ": fastconv.graph";
  const json::Value doc = json::parse(meta->second, w, 64);
  const std::string& format = doc.at("format", w).as_string(w + ".format");
  FC_CHECK(format == "fastconv.graph", Value, w, ".format: expected \"fastconv.graph\", got \"", format, "\"");
  const int64_t opset = doc.at("opset", w).as_int(w + ".opset");
  FC_CHECK(opset <= kModelOpset, Value, w, ".opset: the file's op-set is ", opset, ", newer than this reader's (",
           kModelOpset, "): load it with a newer fastconv");
  FC_CHECK(opset >= 1, Value, w, ".opset: expected 1..", kModelOpset, ", got ", opset);

  std::map<std::string, Tensor> tensors;
  ModelGraphs g;
  for (const auto& [name, view] : file.tensors) {
    // The file's tensors view one read buffer at the file's (unaligned) offsets: the model gets tensors of its
    // own, 64-byte aligned as the kernels' parameters are everywhere else, and the buffer is freed.
    const Tensor t = view.clone();
    tensors[name] = t;
    if (name.rfind("fastconv.", 0) != 0) g.state_dict.emplace_back(name, t);
  }
  const json::Value* train = doc.find("train");
  g.state = std::make_shared<OptimizerState>();
  auto find_tensor = [&](const std::string& name, const TensorDesc& desc, const std::string& where) -> Tensor {
    Tensor t;
    if (name == kStepTensor) {
      t = g.state->step();
    } else {
      auto it = tensors.find(name);
      FC_CHECK(it != tensors.end(), Value, where, ".tensor: the file has no tensor '", name, "'");
      t = it->second;
    }
    FC_CHECK(t.shape() == desc.shape && t.dtype() == desc.dtype, Value, where, ": tensor '", name, "' is ",
             desc_str({t.shape(), t.dtype()}), " in the file but the graph records ", desc_str(desc));
    return t;
  };

  const std::string wp = w + ".predict";
  const json::Value& pred = doc.at("predict", w);
  io::GraphRead p = io::graph_from_json(pred.at("graph", wp), wp + ".graph", find_tensor);
  g.predict = p.graph;
  g.predict_x = p.at(pred.at("input", wp).as_int(wp + ".input"), wp + ".input");
  FC_CHECK(g.predict->value(g.predict_x).kind == ValueKind::Input, Value, wp, ".input: value is not an input");
  for (const json::Value& e : pred.at("outputs", wp).items(wp + ".outputs")) {
    const auto& kv = e.items(wp + ".outputs[]");
    FC_CHECK(kv.size() == 2, Value, wp, ".outputs: entries are [name, value id], got ", kv.size(), " elements");
    g.predict_outputs.emplace_back(kv[0].as_string(wp + ".outputs[].name"),
                                   p.at(kv[1].as_int(wp + ".outputs[].id"), wp + ".outputs"));
  }
  FC_CHECK(!g.predict_outputs.empty(), Value, wp, ".outputs: the model has no outputs");

  if (train != nullptr) {
    const std::string wt = w + ".train";
    io::GraphRead t = io::graph_from_json(train->at("graph", wt), wt + ".graph", find_tensor);
    g.train = t.graph;
    auto input = [&](const char* key) {
      const ValueId v = t.at(train->at(key, wt).as_int(wt + "." + key), wt + "." + key);
      FC_CHECK(g.train->value(v).kind == ValueKind::Input, Value, wt, ".", key, ": value is not an input");
      return v;
    };
    g.train_x = input("x");
    g.train_y = input("y");
    g.spec.loss = t.at(train->at("loss", wt).as_int(wt + ".loss"), wt + ".loss");
    g.spec.optimizer = train->at("optimizer", wt).as_string(wt + ".optimizer");
    std::set<std::string> keys;
    std::map<std::string, TensorDesc> key_desc;
    const auto& groups = train->at("groups", wt).items(wt + ".groups");
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const std::string wg = wt + ".groups[" + std::to_string(gi) + "]";
      ParamGroupSpec grp;
      for (const json::Value& e : groups[gi].at("params", wg).items(wg + ".params")) {
        const auto& kv = e.items(wg + ".params[]");
        FC_CHECK(kv.size() == 2, Value, wg, ".params: entries are [value id, key], got ", kv.size(), " elements");
        const int64_t jid = kv[0].as_int(wg + ".params[].id");
        const ValueId v = t.at(jid, wg + ".params");
        const Value& val = g.train->value(v);
        FC_CHECK(val.kind == ValueKind::Param, Value, wg, ".params: value ", jid, " is not a parameter of the train "
                 "graph (an ", val.kind == ValueKind::Input ? "input" : val.kind == ValueKind::Const ? "constant"
                 : "computed value", ")");
        const std::string& key = kv[1].as_string(wg + ".params[].key");
        FC_CHECK(keys.insert(key).second, Value, wg, ".params: key '", key, "' appears twice");
        key_desc[key] = val.desc;
        grp.params.emplace_back(v, key);
      }
      if (const json::Value* h = groups[gi].find("hyper")) grp.hyper = io::attrs_from_json(*h, wg + ".hyper");
      g.spec.groups.push_back(std::move(grp));
    }
    if (const json::Value* c = train->find("clip_grad_norm")) g.spec.clip_grad_norm = c->as_float(wt + ".clip_grad_norm");
    if (const json::Value* c = train->find("clip_norm_type")) g.spec.clip_norm_type = c->as_float(wt + ".clip_norm_type");
    // A trial build on a copy checks the optimizer, its hyper-parameters and the loss now, not at the first step;
    // its scratch state says which slots the optimizer keeps.
    OptimizerState trial;
    try {
      const std::map<const void*, Tensor> counter{{g.state->step().data_ptr(), trial.step()}};
      ReplayOptions ro;
      ro.tensors = &counter;
      Replayed copy = replay_graph(*g.train, ro);
      TrainSpec spec = g.spec;
      spec.loss = copy.at(spec.loss, "loss");
      for (ParamGroupSpec& grp : spec.groups)
        for (auto& [v, key] : grp.params) v = copy.at(v, "parameter");
      build_training(*copy.graph, spec, &trial);
    } catch (const Error& e) {
      throw Error(ErrorKind::Value, wt + ": " + e.what());
    }
    const auto trial_slots = trial.slots();
    const json::Value& st = train->at("state", wt);
    const std::string ws = wt + ".state";
    g.state->set_steps(st.at("steps", ws).as_int(ws + ".steps"));
    const auto& lrs = st.at("lr", ws).items(ws + ".lr");
    FC_CHECK(lrs.size() == g.spec.groups.size(), Value, ws, ".lr: ", lrs.size(), " learning rates for ",
             g.spec.groups.size(), " param groups");
    for (size_t i = 0; i < lrs.size(); ++i) {
      const double lr = lrs[i].as_float(ws + ".lr[]");
      FC_CHECK(lr >= 0, Value, ws, ".lr[", i, "]: expected a learning rate >= 0, got ", lr);
      g.state->set_lr(i, lr);
    }
    for (const json::Value& e : st.at("slots", ws).items(ws + ".slots")) {
      const auto& kv = e.items(ws + ".slots[]");
      FC_CHECK(kv.size() == 3, Value, ws, ".slots: entries are [key, slot, tensor], got ", kv.size(), " elements");
      const std::string& key = kv[0].as_string(ws + ".slots[].key");
      const std::string& slot = kv[1].as_string(ws + ".slots[].slot");
      const std::string& name = kv[2].as_string(ws + ".slots[].tensor");
      auto ks = trial_slots.find(key);
      FC_CHECK(ks != trial_slots.end() && ks->second.count(slot), Value, ws, ".slots: '", key, "' '", slot,
               "' is not a slot optimizer '", g.spec.optimizer, "' keeps for a trained parameter");
      const Tensor src = find_tensor(name, key_desc.at(key), ws + ".slots[" + key + "." + slot + "]");
      g.state->slot(key, slot, key_desc.at(key)).copy_from(src);
    }
  }
  return g;
}

Model model_from_file(const io::SafetensorsFile& file, const std::string& source, const ModelOptions& options) {
  ModelGraphs g = read_graph_doc(file, source);
  for (const auto& [k, v] : file.metadata) {
    if (k == "architecture") g.architecture = v;
    else if (k != "format" && k != "fastconv_version" && k != "fastconv.graph" && k != "fastconv.checksum")
      g.extra_metadata[k] = v;
  }
  try {
    return make_model(std::move(g), options);
  } catch (const Error& e) {
    throw Error(e.kind(), "fastconv.load: " + source + ": " + e.what());
  }
}

Model load_model_bytes(const void* data, size_t n, const std::string& source, const ModelOptions& options) {
  return model_from_file(io::parse_safetensors(data, n, source), source, options);
}

Model Model::load(const std::string& path, const ModelOptions& options) {
  return model_from_file(io::read_safetensors(path), path, options);
}

void Model::save(const std::string& path) const {
  const ModelGraphs& g = impl_->g;
  GraphDoc doc = write_graph_doc(g);
  std::map<std::string, std::string> meta = g.extra_metadata;
  meta["format"] = "fastconv";
  meta["fastconv_version"] = version();
  if (!g.architecture.empty()) meta["architecture"] = g.architecture;
  meta["fastconv.graph"] = doc.json;
  NamedTensors tensors;
  for (const auto& [name, t] : g.state_dict) {
    // On a device the device copy is the one training updates.
    auto it = impl_->device_tensors.find(t.data_ptr());
    tensors.emplace_back(name, it == impl_->device_tensors.end() ? t : it->second);
  }
  for (auto& nt : doc.tensors) tensors.push_back(nt);
  io::write_safetensors(path, tensors, meta);
}

}  // namespace fastconv
